//! The Nitro CLI's blobs: what nitro-cli installs under
//! `/usr/share/nitro_enclaves/blobs/` (from aws-nitro-enclaves-sdk-bootstrap) and
//! every EIF boots with. PCR0 and PCR1 depend on them; PCR2 does not.

use crate::Error;
use std::fs;
use std::path::{Path, PathBuf};

/// Where nitro-cli's package installs the blobs (the default of `--blobs`).
pub const DEFAULT_BLOBS_DIR: &str = "/usr/share/nitro_enclaves/blobs";

/// The kernel image's file name (x86_64; aarch64 blobs ship `Image`, which this
/// builder does not target).
pub const KERNEL: &str = "bzImage";
/// The kernel's build configuration, read only for the metadata section's OS and
/// kernel version (not measured).
pub const KERNEL_CONFIG: &str = "bzImage.config";
/// The kernel command line, measured as the EIF's cmdline section.
pub const CMDLINE: &str = "cmdline";
/// The enclave's PID 1 (boot ramdisk).
pub const INIT: &str = "init";
/// The Nitro Secure Module driver (boot ramdisk).
pub const NSM_KO: &str = "nsm.ko";

/// One blob read into memory, with where it came from.
#[derive(Clone, Debug)]
pub struct Blob {
    /// The file it was read from.
    pub path: PathBuf,
    /// Its bytes.
    pub bytes: Vec<u8>,
}

impl Blob {
    /// Reads `path`; `what` names it in the error.
    pub fn read(path: &Path, what: &'static str) -> Result<Self, Error> {
        let bytes = fs::read(path).map_err(|source| Error::ReadInput {
            what,
            path: path.to_owned(),
            source,
        })?;
        Ok(Self {
            path: path.to_owned(),
            bytes,
        })
    }

    /// The lower-case hex SHA-256 of the bytes.
    pub fn sha256(&self) -> String {
        crate::sha256_hex(&self.bytes)
    }
}

/// The blobs an EIF is built from. All are read up front, so a missing or unreadable
/// one is reported before anything is written.
#[derive(Clone, Debug)]
pub struct NitroBlobs {
    /// The directory they were read from.
    pub dir: PathBuf,
    /// `bzImage`.
    pub kernel: Blob,
    /// `bzImage.config`, when present.
    pub kernel_config: Option<Blob>,
    /// `cmdline`, as text (verbatim, as nitro-cli reads it).
    pub cmdline: String,
    /// The `cmdline` blob's bytes and path.
    pub cmdline_blob: Blob,
    /// `init`.
    pub init: Blob,
    /// `nsm.ko`.
    pub nsm_ko: Blob,
}

impl NitroBlobs {
    /// Reads the blobs from `dir`.
    pub fn read(dir: &Path) -> Result<Self, Error> {
        let kernel = Blob::read(&dir.join(KERNEL), "the kernel (bzImage)")?;
        let config_path = dir.join(KERNEL_CONFIG);
        let kernel_config = if config_path.exists() {
            Some(Blob::read(
                &config_path,
                "the kernel configuration (bzImage.config)",
            )?)
        } else {
            None
        };
        let cmdline_blob = Blob::read(&dir.join(CMDLINE), "the kernel command line (cmdline)")?;
        let cmdline =
            String::from_utf8(cmdline_blob.bytes.clone()).map_err(|_| Error::BadKernelCmdline {
                path: cmdline_blob.path.clone(),
                problem: "is not UTF-8",
            })?;
        // The image-format crate stores it through a CString (and panics on a NUL).
        if cmdline.contains('\0') {
            return Err(Error::BadKernelCmdline {
                path: cmdline_blob.path,
                problem: "contains a NUL byte",
            });
        }
        let init = Blob::read(&dir.join(INIT), "the enclave init (init)")?;
        let nsm_ko = Blob::read(&dir.join(NSM_KO), "the NSM driver (nsm.ko)")?;
        Ok(Self {
            dir: dir.to_owned(),
            kernel,
            kernel_config,
            cmdline,
            cmdline_blob,
            init,
            nsm_ko,
        })
    }

    /// The OS and kernel version for the metadata section, read the way AWS's
    /// `generate_build_info` reads them: the config's third line, `# Linux/x86_64
    /// 4.14.177-104.253.amzn2.x86_64 Kernel Configuration`. "Unknown" without it.
    pub fn os_and_kernel_version(&self) -> (String, String) {
        const UNKNOWN: &str = "Unknown";
        let line = self.kernel_config.as_ref().and_then(|c| {
            String::from_utf8_lossy(&c.bytes)
                .lines()
                .nth(2)
                .map(str::to_owned)
        });
        let Some(line) = line else {
            return (UNKNOWN.into(), UNKNOWN.into());
        };
        let words: Vec<&str> = line.split([' ', '/', '-']).collect();
        let word = |i: usize| {
            words
                .get(i)
                .copied()
                .filter(|w| !w.is_empty())
                .unwrap_or(UNKNOWN)
                .to_owned()
        };
        (word(1), word(3))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_blob_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let err = NitroBlobs::read(dir.path()).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("the kernel (bzImage)") && text.contains("bzImage"),
            "{text}"
        );
    }

    #[test]
    fn kernel_version_comes_from_the_third_config_line() {
        let dir = tempfile::tempdir().unwrap();
        for name in [KERNEL, CMDLINE, INIT, NSM_KO] {
            fs::write(dir.path().join(name), name).unwrap();
        }
        let blobs = NitroBlobs::read(dir.path()).unwrap();
        assert_eq!(
            blobs.os_and_kernel_version(),
            ("Unknown".into(), "Unknown".into())
        );
        fs::write(
            dir.path().join(KERNEL_CONFIG),
            "#\n# Automatically generated file; DO NOT EDIT.\n# Linux/x86_64 4.14.256-209.484.amzn2.x86_64 Kernel Configuration\n",
        )
        .unwrap();
        let blobs = NitroBlobs::read(dir.path()).unwrap();
        assert_eq!(
            blobs.os_and_kernel_version(),
            ("Linux".into(), "4.14.256".into())
        );
    }

    #[test]
    fn a_nul_in_the_cmdline_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        for name in [KERNEL, INIT, NSM_KO] {
            fs::write(dir.path().join(name), name).unwrap();
        }
        fs::write(dir.path().join(CMDLINE), "console=ttyS0\0").unwrap();
        assert!(matches!(
            NitroBlobs::read(dir.path()),
            Err(Error::BadKernelCmdline { .. })
        ));
    }
}
