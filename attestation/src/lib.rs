//! AWS Nitro Enclaves attestation for the enclave lottery.
//!
//! This crate owns:
//! - the attestation **document model** ([`AttestationDoc`]) and the typed
//!   `user_data` the enclave puts in it ([`UserData`]);
//! - the **verifier** ([`verify`]): COSE_Sign1/ES384, the certificate chain to a
//!   pinned root (AWS Nitro Enclaves Root G1 by default), AWS's field rules,
//!   freshness (nonce and/or maximum age against a clock the caller supplies), debug
//!   mode, PCR and `user_data` expectations. It is pure Rust and reads no clock, no
//!   file and no entropy, so it builds for `wasm32-unknown-unknown` with
//!   `--no-default-features`;
//! - with the `providers` feature, the **providers** that produce documents behind
//!   one trait ([`provider::AttestationProvider`]): the NSM (`/dev/nsm`) and a
//!   simulated provider signed by a development CA whose root can never be mistaken
//!   for AWS's;
//! - with the `sealing` feature, **HPKE sealed key transfer** ([`sealed`]) to the
//!   public key carried in a document.
//!
//! It must not: open network connections, read the wall clock inside the verifier,
//! trust a root carried inside a document, believe any payload field before the
//! document's signature is checked, or print, log or `Debug`-format key material.

mod document;
mod error;
mod root;
mod verify;
mod x509;

#[cfg(feature = "providers")]
pub mod provider;
#[cfg(feature = "sealing")]
pub mod sealed;

pub use document::{
    AttestationDoc, CABUNDLE_ENTRY_MAX, CERTIFICATE_MAX, DocumentError, FieldError, KeyOrigin,
    NONCE_MAX, PCR_COUNT_MAX, PCR_INDEX_LIMIT, PUBLIC_KEY_MAX, USER_DATA_MAX, UserData,
};
pub use error::{CertPosition, TimeReference, VerifyError};
pub use root::{AWS_NITRO_ROOT_G1_SHA256, RootError, TrustAnchor};
pub use verify::{
    Freshness, MAX_CLOCK_SKEW, MAX_DOCUMENT_SIZE, Policy, UnixTime, VerifiedDocument,
    decode_unverified, verify,
};

/// Lower-case hex, for error messages and summaries (no key material ever goes here).
pub(crate) fn hex(bytes: &[u8]) -> String {
    ::hex::encode(bytes)
}
