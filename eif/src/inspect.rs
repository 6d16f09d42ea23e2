//! Reading an EIF back: the auditor's "recompute this image's PCRs".
//!
//! AWS's `EifReader` trusts the file: it allocates each section's declared size
//! before reading it and indexes the header without bounds, so a garbage or
//! truncated file can abort the process. [`inspect`] therefore walks the structure
//! itself first (header, magic, every section header inside the file, the header's
//! section table agreeing with what is there) and only then hands the file to
//! `EifReader`, whose PCRs are the result. A CRC mismatch is an error too.

use crate::measurements::Measurements;
use crate::{EifFormatError, Error};
use aws_nitro_enclaves_image_format::defs::{
    EIF_MAGIC, EifHeader, EifSectionHeader, EifSectionType, MAX_NUM_SECTIONS,
};
use aws_nitro_enclaves_image_format::utils::eif_reader::EifReader;
use serde::Serialize;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// One section as found in the file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Section {
    /// `kernel`, `cmdline`, `ramdisk`, `signature` or `metadata`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Where its 12-byte section header starts (what the EIF header's table holds).
    pub offset: u64,
    /// Its data's size.
    pub size: u64,
}

impl Section {
    /// Where its data starts.
    pub fn data_offset(&self) -> u64 {
        self.offset + EifSectionHeader::size() as u64
    }
}

/// What [`inspect`] found.
#[derive(Clone, Debug, Serialize)]
pub struct Inspection {
    /// The PCRs, as AWS's `EifReader` computes them.
    pub measurements: Measurements,
    /// The EIF format version in the header.
    pub version: u16,
    /// The sections in file order.
    pub sections: Vec<Section>,
    /// The metadata section's JSON, when there is one (not measured).
    pub metadata: Option<serde_json::Value>,
}

fn kind_name(kind: EifSectionType) -> &'static str {
    match kind {
        EifSectionType::EifSectionInvalid => "invalid",
        EifSectionType::EifSectionKernel => "kernel",
        EifSectionType::EifSectionCmdline => "cmdline",
        EifSectionType::EifSectionRamdisk => "ramdisk",
        EifSectionType::EifSectionSignature => "signature",
        EifSectionType::EifSectionMetadata => "metadata",
    }
}

/// Checks `path`'s structure, then computes its PCRs with AWS's `EifReader`.
pub fn inspect(path: &Path) -> Result<Inspection, Error> {
    let read_err = |source| Error::ReadEif {
        path: path.to_owned(),
        source,
    };
    let not_eif = |reason| Error::NotAnEif {
        path: path.to_owned(),
        reason,
    };
    let mut file = File::open(path).map_err(read_err)?;
    let len = file.metadata().map_err(read_err)?.len();

    let header_size = EifHeader::size();
    if len < header_size as u64 {
        return Err(not_eif(EifFormatError::ShorterThanHeader {
            len,
            header: header_size,
        }));
    }
    let mut header_bytes = vec![0u8; header_size];
    file.read_exact(&mut header_bytes).map_err(read_err)?;
    let mut magic = [0u8; 4];
    magic.copy_from_slice(&header_bytes[..4]);
    if magic != EIF_MAGIC {
        return Err(not_eif(EifFormatError::BadMagic { found: magic }));
    }
    let header = EifHeader::from_be_bytes(&header_bytes).map_err(|message| Error::EifReader {
        path: path.to_owned(),
        message,
    })?;
    let declared = header.num_sections;
    if declared == 0 || usize::from(declared) > MAX_NUM_SECTIONS {
        return Err(not_eif(EifFormatError::SectionCount {
            count: declared,
            max: MAX_NUM_SECTIONS,
        }));
    }

    let section_header_size = EifSectionHeader::size() as u64;
    let mut sections = Vec::new();
    let mut offset = header_size as u64;
    while offset < len {
        let index = sections.len();
        if index >= usize::from(declared) {
            return Err(not_eif(EifFormatError::TooManySections { declared }));
        }
        if len - offset < section_header_size {
            return Err(not_eif(EifFormatError::SectionHeaderTruncated {
                index,
                offset,
                len,
            }));
        }
        let mut raw = [0u8; 12];
        file.seek(SeekFrom::Start(offset)).map_err(read_err)?;
        file.read_exact(&mut raw).map_err(read_err)?;
        let section_type = u16::from_be_bytes([raw[0], raw[1]]);
        let parsed = EifSectionHeader::from_be_bytes(&raw)
            .ok()
            .filter(|h| h.section_type != EifSectionType::EifSectionInvalid)
            .ok_or_else(|| {
                not_eif(EifFormatError::UnknownSectionType {
                    index,
                    offset,
                    section_type,
                })
            })?;
        let kind = kind_name(parsed.section_type);
        let size = parsed.section_size;
        if size > len - offset - section_header_size {
            return Err(not_eif(EifFormatError::SectionOverruns {
                index,
                kind,
                offset,
                size,
                len,
            }));
        }
        let (table_offset, table_size) =
            (header.section_offsets[index], header.section_sizes[index]);
        if (table_offset, table_size) != (offset, size) {
            return Err(not_eif(EifFormatError::SectionTableMismatch {
                index,
                found_offset: offset,
                found_size: size,
                header_offset: table_offset,
                header_size: table_size,
            }));
        }
        sections.push(Section { kind, offset, size });
        offset += section_header_size + size;
    }
    if sections.len() < usize::from(declared) {
        return Err(not_eif(EifFormatError::MissingSections {
            declared,
            found: sections.len(),
        }));
    }
    if !sections.iter().any(|s| s.kind == "kernel") {
        return Err(not_eif(EifFormatError::NoKernel));
    }
    drop(file);

    // Now the file is known to be well-formed, AWS's reader measures it.
    let path_text = path.to_str().ok_or_else(|| Error::EifReader {
        path: path.to_owned(),
        message: "the path is not UTF-8 (EifReader takes a String)".into(),
    })?;
    let mut reader =
        EifReader::from_eif(path_text.to_owned()).map_err(|message| Error::EifReader {
            path: path.to_owned(),
            message,
        })?;
    if !reader.check_crc() {
        return Err(not_eif(EifFormatError::CrcMismatch {
            header: reader.header.eif_crc32,
            computed: reader.eif_crc,
        }));
    }
    let measurements = reader
        .get_measurements()
        .map(Measurements::from_crate)
        .map_err(|message| Error::EifReader {
            path: path.to_owned(),
            message,
        })?;
    let metadata = reader
        .get_metadata()
        .and_then(|m| serde_json::to_value(m).ok());
    Ok(Inspection {
        measurements,
        version: header.version,
        sections,
        metadata,
    })
}
