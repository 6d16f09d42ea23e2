//! One error type for the builder and the inspector: one variant per failure a
//! caller (or an operator reading the message) can act on, the I/O cause kept.

use std::io;
use std::path::PathBuf;

/// What went wrong while building or inspecting an enclave image.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `SOURCE_DATE_EPOCH` is not set and no `--source-date-epoch` was given.
    #[error(
        "SOURCE_DATE_EPOCH is not set: give the Unix time every file in the image gets \
         (scripts/build-eif uses the commit time, `git log -1 --format=%ct`), in the \
         environment or with --source-date-epoch"
    )]
    MissingSourceDateEpoch,
    /// `SOURCE_DATE_EPOCH` is not a decimal number of seconds that fits a cpio header.
    #[error(
        "SOURCE_DATE_EPOCH={value:?} is not a Unix time: it must be decimal seconds from 0 to \
         4294967295 (a newc cpio header holds 32 bits)"
    )]
    InvalidSourceDateEpoch {
        /// The value as given.
        value: String,
    },
    /// An input file (a blob, the app binary) could not be read.
    #[error("cannot read {what} at {}", path.display())]
    ReadInput {
        /// Which input it is ("the kernel (bzImage)", "the app binary", ...).
        what: &'static str,
        /// Where it was looked for.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// An input is larger than a `newc` member can be (4 GiB - 1).
    #[error("{} is {size} bytes: a newc cpio member holds at most 4294967295", path.display())]
    InputTooLarge {
        /// The input.
        path: PathBuf,
        /// Its size.
        size: u64,
    },
    /// The kernel command line blob is not text the EIF can carry.
    #[error("the kernel command line in {} {problem}", path.display())]
    BadKernelCmdline {
        /// The `cmdline` blob.
        path: PathBuf,
        /// "is not UTF-8" or "contains a NUL byte".
        problem: &'static str,
    },
    /// The enclave's command (`/cmd`) is empty.
    #[error(
        "the enclave's command is empty: give at least the program, e.g. `-- /enclave-app --mode nitro`"
    )]
    EmptyCommand,
    /// A `/cmd` or `/env` line contains a newline or NUL, which the enclave's init
    /// would split or cut.
    #[error("{what} {value:?} contains a newline or NUL byte (init reads one entry per line)")]
    BadConfigLine {
        /// "the command argument" or "the environment entry".
        what: &'static str,
        /// The offending value.
        value: String,
    },
    /// An `--env` or `--build-arg` value is not `KEY=VALUE` with a non-empty key.
    #[error("{what} {value:?} is not KEY=VALUE with a non-empty KEY")]
    NotKeyValue {
        /// "the environment entry" or "the build argument".
        what: &'static str,
        /// The value as given.
        value: String,
    },
    /// Two ramdisk members have the same path, or a member's parent directory is not
    /// in the archive (the kernel's initramfs unpacker creates no parents).
    #[error("ramdisk layout: {0}")]
    RamdiskLayout(String),
    /// Writing an output (a ramdisk, the EIF, pcrs.json) failed.
    #[error("cannot write {}", path.display())]
    WriteOutput {
        /// The output.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A JSON output (pcrs.json, `pcrs --json`) could not be serialized.
    #[error("cannot serialize {what} as JSON")]
    Serialize {
        /// Which output.
        what: &'static str,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// The EIF to inspect could not be opened or read.
    #[error("cannot read the enclave image {}", path.display())]
    ReadEif {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The file is not a well-formed EIF.
    #[error("{} is not a valid enclave image file", path.display())]
    NotAnEif {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        #[source]
        reason: EifFormatError,
    },
    /// AWS's `EifReader` refused a file our own structure check accepted (its errors
    /// are strings, so the message is all there is).
    #[error("the image-format crate could not read {}: {message}", path.display())]
    EifReader {
        /// The file.
        path: PathBuf,
        /// The crate's message.
        message: String,
    },
}

/// What is wrong with a file that claims to be an EIF. Offsets are byte positions
/// in the file.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EifFormatError {
    /// Shorter than the fixed 548-byte header.
    #[error("it is {len} bytes long, shorter than the {header}-byte EIF header (truncated?)")]
    ShorterThanHeader {
        /// The file's length.
        len: u64,
        /// The header's size.
        header: usize,
    },
    /// The first four bytes are not `.eif`.
    #[error("it does not start with the EIF magic \".eif\" (found {found:02x?})")]
    BadMagic {
        /// The first four bytes.
        found: [u8; 4],
    },
    /// The header's section count is zero or above the format's maximum.
    #[error("its header declares {count} sections (the format allows 1 to {max})")]
    SectionCount {
        /// The declared count.
        count: u16,
        /// `MAX_NUM_SECTIONS`.
        max: usize,
    },
    /// The file ends inside a section header.
    #[error(
        "section {index}'s header at offset {offset} is cut off (the file ends at {len}: truncated?)"
    )]
    SectionHeaderTruncated {
        /// The section's position (from 0).
        index: usize,
        /// Where its header starts.
        offset: u64,
        /// The file's length.
        len: u64,
    },
    /// A section header names no known section type.
    #[error("section {index} at offset {offset} has the unknown type {section_type}")]
    UnknownSectionType {
        /// The section's position.
        index: usize,
        /// Where its header starts.
        offset: u64,
        /// The raw type.
        section_type: u16,
    },
    /// A section's data runs past the end of the file.
    #[error(
        "section {index} ({kind}) at offset {offset} declares {size} bytes, past the end of the file at {len} (truncated?)"
    )]
    SectionOverruns {
        /// The section's position.
        index: usize,
        /// Its type.
        kind: &'static str,
        /// Where its header starts.
        offset: u64,
        /// Its declared size.
        size: u64,
        /// The file's length.
        len: u64,
    },
    /// More sections follow than the header declares (or the format allows).
    #[error("the file holds more sections than the {declared} its header declares")]
    TooManySections {
        /// The declared count.
        declared: u16,
    },
    /// The sections found disagree with the header's table of offsets and sizes.
    #[error(
        "section {index} is at offset {found_offset} with {found_size} bytes, but the header says offset {header_offset} with {header_size} bytes"
    )]
    SectionTableMismatch {
        /// The section's position.
        index: usize,
        /// Where it was found.
        found_offset: u64,
        /// Its size as found.
        found_size: u64,
        /// Where the header says it is.
        header_offset: u64,
        /// Its size per the header.
        header_size: u64,
    },
    /// Fewer sections than the header declares.
    #[error("the header declares {declared} sections, the file holds {found}")]
    MissingSections {
        /// The declared count.
        declared: u16,
        /// How many were found.
        found: usize,
    },
    /// No kernel section: nothing to measure or boot.
    #[error("it has no kernel section")]
    NoKernel,
    /// The CRC32 in the header does not match the content.
    #[error("its CRC32 is {header:08x} but the content's is {computed:08x} (the file is corrupt)")]
    CrcMismatch {
        /// The header's value.
        header: u32,
        /// The value computed over the file.
        computed: u32,
    },
}
