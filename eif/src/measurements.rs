//! PCRs as the image-format crate reports them (and nitro-cli prints them in
//! `build-enclave` and `describe-eif`'s `Measurements`).
//!
//! AWS's definitions, as the crate computes them: each PCR is a TPM-style extend of
//! 48 zero bytes by the SHA-384 of the measured bytes,
//! `SHA-384(0^48 || SHA-384(sections))`, where the sections are the section *data*
//! (no section headers) in file order:
//!
//! - PCR0: kernel, cmdline, every ramdisk;
//! - PCR1: kernel, cmdline, the first (boot) ramdisk;
//! - PCR2: every ramdisk after the first (the app);
//! - PCR8: the signing certificate, for signed EIFs only.
//!
//! The metadata section is not measured.

use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt;

/// The PCRs of one EIF: `HashAlgorithm`, `PCR0`, `PCR1`, `PCR2` (and `PCR8` when
/// signed), hex, in the crate's own map so that pcrs.json keeps nitro-cli's keys.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(transparent)]
pub struct Measurements(BTreeMap<String, String>);

impl Measurements {
    /// Wraps the image-format crate's map.
    pub fn from_crate(map: BTreeMap<String, String>) -> Self {
        Self(map)
    }

    /// One PCR's hex value (`index` 0, 1, 2 or 8).
    pub fn pcr(&self, index: u8) -> Option<&str> {
        self.0.get(&format!("PCR{index}")).map(String::as_str)
    }

    /// The hash algorithm's name as the crate prints it (`Sha384 { ... }`).
    pub fn hash_algorithm(&self) -> Option<&str> {
        self.0.get("HashAlgorithm").map(String::as_str)
    }

    /// The PCRs present, in index order.
    pub fn pcrs(&self) -> impl Iterator<Item = (u8, &str)> {
        [0u8, 1, 2, 8]
            .into_iter()
            .filter_map(|i| self.pcr(i).map(|v| (i, v)))
    }
}

impl fmt::Display for Measurements {
    /// One `PCRn <hex>` line per PCR.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, value) in self.pcrs() {
            writeln!(f, "PCR{index} {value}")?;
        }
        Ok(())
    }
}
