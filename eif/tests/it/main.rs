//! eif-build's integration tests: the real binary (`CARGO_BIN_EXE_eif-build`) on
//! stand-in inputs (see `stand_ins`), checked against AWS's image-format crate, an
//! independent SHA-384 of the published PCR formula, and a cpio reader.
#![allow(clippy::unwrap_used, missing_docs, unreachable_pub)]

mod malformed;
mod parse_back;
mod pcr_formula;
mod ramdisk_layout;
mod reproducible;
mod stand_ins;
