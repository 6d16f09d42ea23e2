//! Integration tests of the attestation crate: the real AWS documents, the
//! simulated provider end to end, HPKE sealing and the NSM provider off-enclave.

// Helpers here unwrap too: a panic in a test is a failed assertion, not a crash.
#![allow(clippy::unwrap_used)]

#[cfg(feature = "providers")]
mod nsm;
#[cfg(all(feature = "providers", feature = "sealing"))]
mod sealed;
#[cfg(feature = "providers")]
mod simulated;
mod vectors;
