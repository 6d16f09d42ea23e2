//! The Docker-free enclave image builder.
//!
//! What it owns: turning the enclave-app binary, its command line and environment,
//! and the Nitro CLI's blobs (kernel, kernel command line, `init`, `nsm.ko`) into an
//! enclave image file (EIF) whose bytes depend on those inputs and
//! `SOURCE_DATE_EPOCH` alone, and recomputing any EIF's PCRs for auditors.
//!
//! How: the two ramdisks are sorted, deterministic `newc` cpio archives
//! ([`ramdisk`]: owner 0:0, every mtime `SOURCE_DATE_EPOCH`, inode numbers by
//! position), and the EIF is written by AWS's own `aws-nitro-enclaves-image-format`
//! crate (its `EifBuilder`, as nitro-cli and the crate's `eif_build` example use it)
//! with a metadata section that names no wall-clock time, host or path ([`image`]).
//! [`inspect`] parses an EIF back with the same crate's `EifReader`, after checking
//! its structure itself so that a truncated or garbage file is an error, never a
//! panic or a huge allocation.
//!
//! What it must not do: read anything it was not given (no clock, no environment
//! besides what `main` passes, no absolute path into an output), or link into the
//! main workspace (the image-format crate links OpenSSL; this crate is its own
//! workspace for that reason).

pub mod blobs;
mod error;
pub mod image;
pub mod inspect;
pub mod measurements;
pub mod ramdisk;
pub mod record;

pub use error::{EifFormatError, Error};
pub use measurements::Measurements;

use std::fmt;

/// `SOURCE_DATE_EPOCH`: the one time that enters the image (every ramdisk member's
/// mtime and the metadata's build time). A `u32` because that is what a `newc`
/// header holds (until 2106).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SourceDateEpoch(u32);

impl SourceDateEpoch {
    /// Parses the decimal Unix time `SOURCE_DATE_EPOCH` holds (as
    /// reproducible-builds.org defines it); `None` (unset) is an error too, since a
    /// silent default would make two builds differ by when they ran.
    pub fn parse(value: Option<&str>) -> Result<Self, Error> {
        let value = value.ok_or(Error::MissingSourceDateEpoch)?;
        let trimmed = value.trim();
        if trimmed.is_empty() || !trimmed.bytes().all(|b| b.is_ascii_digit()) {
            return Err(Error::InvalidSourceDateEpoch {
                value: value.to_owned(),
            });
        }
        trimmed
            .parse::<u32>()
            .map(Self)
            .map_err(|_| Error::InvalidSourceDateEpoch {
                value: value.to_owned(),
            })
    }

    /// The seconds since the Unix epoch.
    pub fn seconds(self) -> u32 {
        self.0
    }

    /// RFC 3339 in UTC, the form nitro-cli writes its `BuildTime` in.
    pub fn rfc3339(self) -> String {
        chrono::DateTime::from_timestamp(i64::from(self.0), 0)
            .map(|t| t.to_rfc3339())
            // Every u32 of seconds is a valid chrono time; kept total anyway.
            .unwrap_or_else(|| format!("@{}", self.0))
    }
}

impl fmt::Display for SourceDateEpoch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// The lower-case hex SHA-256 of `bytes` (what pcrs.json records for every input).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_date_epoch_is_required_and_decimal() {
        assert!(matches!(
            SourceDateEpoch::parse(None),
            Err(Error::MissingSourceDateEpoch)
        ));
        for bad in ["", " ", "-1", "1.5", "0x10", "4294967296", "soon"] {
            assert!(
                matches!(
                    SourceDateEpoch::parse(Some(bad)),
                    Err(Error::InvalidSourceDateEpoch { .. })
                ),
                "{bad:?} was accepted"
            );
        }
        let epoch = SourceDateEpoch::parse(Some("1795000000")).unwrap();
        assert_eq!(epoch.seconds(), 1_795_000_000);
        assert_eq!(epoch.rfc3339(), "2026-11-18T11:06:40+00:00");
        assert_eq!(
            SourceDateEpoch::parse(Some("0")).unwrap().rfc3339(),
            "1970-01-01T00:00:00+00:00"
        );
    }
}
