//! Why a document was rejected, and where: the verifier's error type and the two
//! small types its messages name (which certificate, checked at which time).
//!
//! Its own module so that the document checks (`verify`) and the certificate-chain
//! checks (`x509`) both use it without importing each other.

use std::fmt;

use crate::document::{DocumentError, FieldError};

/// Which time a certificate's validity was checked at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeReference {
    /// The document's own timestamp.
    DocumentTime,
    /// The verifier's clock (or the explicit archive time) from [`Freshness`].
    VerifierTime,
}

impl fmt::Display for TimeReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::DocumentTime => "document's time",
            Self::VerifierTime => "verifier's time",
        })
    }
}

/// Where a certificate sits in a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CertPosition {
    /// The `certificate` field (the leaf that signed the document).
    Leaf,
    /// `cabundle[i]` (0 is the root).
    Bundle(usize),
}

impl fmt::Display for CertPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Leaf => f.write_str("certificate (leaf)"),
            Self::Bundle(0) => f.write_str("cabundle[0] (root)"),
            Self::Bundle(i) => write!(f, "cabundle[{i}]"),
        }
    }
}

/// Why a document was rejected. One variant per failure a caller can act on.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The input is larger than any genuine document.
    #[error("document is {len} bytes; the limit is {max}")]
    DocumentTooLarge {
        /// Input size.
        len: usize,
        /// [`MAX_DOCUMENT_SIZE`].
        max: usize,
    },
    /// Not a COSE_Sign1 structure (tagged or untagged).
    #[error("not a COSE_Sign1 document: {0}")]
    MalformedCose(#[source] coset::CoseError),
    /// The protected header does not say ES384.
    #[error("COSE algorithm is {0}; only ES384 is accepted")]
    UnsupportedAlgorithm(String),
    /// The COSE_Sign1 carries no payload.
    #[error("COSE_Sign1 has no payload")]
    MissingPayload,
    /// The signature is not 96 bytes (r || s for P-384).
    #[error("COSE signature is {0} bytes; ES384 needs 96")]
    SignatureLength(usize),
    /// The payload is not an attestation document.
    #[error("payload: {0}")]
    MalformedPayload(#[source] DocumentError),
    /// A certificate does not parse.
    #[error("{position}: malformed certificate: {reason}")]
    MalformedCertificate {
        /// Which certificate.
        position: CertPosition,
        /// What is wrong.
        reason: String,
    },
    /// A certificate's key is not ECDSA P-384.
    #[error("{position}: key algorithm {algorithm} is not ECDSA P-384")]
    UnsupportedKey {
        /// Which certificate.
        position: CertPosition,
        /// The key's algorithm and curve OIDs.
        algorithm: String,
    },
    /// The ES384 signature does not verify under the leaf certificate's key.
    #[error("document signature does not verify with the leaf certificate's key")]
    SignatureInvalid,
    /// A field breaks AWS's specification.
    #[error("field rule: {0}")]
    Field(#[from] FieldError),
    /// `cabundle[0]` is not the pinned root.
    #[error(
        "document chains to root {found:?}, not the trusted root {trusted:?}; \
         a root carried in a document is never trusted (pass that root explicitly to accept simulated documents)"
    )]
    UntrustedRoot {
        /// Subject of the document's `cabundle[0]` (or why it does not parse).
        found: String,
        /// Subject of the trusted root.
        trusted: String,
    },
    /// A certificate's issuer name is not its parent's subject.
    #[error(
        "{position}: issuer {issuer:?} is not the subject of the certificate above it ({expected:?})"
    )]
    IssuerMismatch {
        /// Which certificate.
        position: CertPosition,
        /// Its issuer name.
        issuer: String,
        /// The parent's subject.
        expected: String,
    },
    /// A certificate is signed with something other than ECDSA P-384/SHA-384.
    #[error("{position}: signature algorithm {algorithm} is not ecdsa-with-SHA384")]
    UnsupportedCertificateSignature {
        /// Which certificate.
        position: CertPosition,
        /// The signature algorithm OID.
        algorithm: String,
    },
    /// A certificate's signature does not verify under its issuer's key.
    #[error("{position}: signature does not verify with the issuer's key")]
    CertificateSignatureInvalid {
        /// Which certificate.
        position: CertPosition,
    },
    /// A certificate is not valid at the document's timestamp or at the
    /// verifier's time.
    #[error(
        "{position} ({subject}) is valid {not_before} .. {not_after}, not at the {reference} ({at_ms} ms)"
    )]
    CertificateNotValid {
        /// Which certificate.
        position: CertPosition,
        /// Its subject.
        subject: String,
        /// Start of validity.
        not_before: String,
        /// End of validity.
        not_after: String,
        /// Which time was checked.
        reference: TimeReference,
        /// The time checked, ms since the epoch.
        at_ms: u64,
    },
    /// A certificate has a critical extension this verifier does not process.
    #[error("{position}: unknown critical extension {oid}")]
    UnknownCriticalExtension {
        /// Which certificate.
        position: CertPosition,
        /// The extension's OID.
        oid: String,
    },
    /// An issuing certificate is not a CA (basicConstraints CA missing or false).
    #[error("{position} issues certificates but is not a CA")]
    NotACa {
        /// Which certificate.
        position: CertPosition,
    },
    /// An issuing certificate's keyUsage lacks keyCertSign.
    #[error("{position} issues certificates but its keyUsage lacks keyCertSign")]
    MissingKeyCertSign {
        /// Which certificate.
        position: CertPosition,
    },
    /// More CA certificates follow an issuer than its pathLenConstraint allows.
    #[error("{position} allows {limit} CA certificates below it; the chain has {actual}")]
    PathLengthExceeded {
        /// Which certificate.
        position: CertPosition,
        /// Its pathLenConstraint.
        limit: u8,
        /// CA certificates below it.
        actual: usize,
    },
    /// The leaf certificate is a CA.
    #[error("the leaf certificate is a CA")]
    LeafIsCa,
    /// The leaf certificate's keyUsage does not allow digital signatures.
    #[error("the leaf certificate's keyUsage lacks digitalSignature")]
    LeafKeyUsage,
    /// A nonce was expected but the document has none.
    #[error("document has no nonce; expected {expected}")]
    NonceMissing {
        /// Hex of the expected nonce.
        expected: String,
    },
    /// The document's nonce is not the one the caller sent.
    #[error("document nonce {actual} differs from the expected {expected}")]
    NonceMismatch {
        /// Hex of the expected nonce.
        expected: String,
        /// Hex of the document's nonce.
        actual: String,
    },
    /// The document is older than the caller's maximum age.
    #[error("document is {age_ms} ms old; the maximum is {max_ms} ms")]
    DocumentTooOld {
        /// Its age at the verifier's time.
        age_ms: u64,
        /// The maximum.
        max_ms: u64,
    },
    /// The document's timestamp is ahead of the verifier's clock by more than
    /// [`MAX_CLOCK_SKEW`].
    #[error("document timestamp is {ahead_ms} ms ahead of the verifier's clock")]
    DocumentFromFuture {
        /// How far ahead.
        ahead_ms: u64,
    },
    /// A debug-mode document and the policy does not allow them.
    #[error("document comes from a debug-mode enclave (PCR0, PCR1 and PCR2 are zero)")]
    DebugMode,
    /// An expected PCR is absent.
    #[error("PCR{index} is expected but absent")]
    PcrMissing {
        /// The index.
        index: u8,
    },
    /// A PCR differs from its expected value.
    #[error("PCR{index} is {actual}, expected {expected}")]
    PcrMismatch {
        /// The index.
        index: u8,
        /// Hex of the expected value.
        expected: String,
        /// Hex of the document's value.
        actual: String,
    },
    /// `user_data` expectations were given but the document has no `user_data`.
    #[error("document has no user_data")]
    UserDataMissing,
    /// `user_data` is not a [`UserData`] map.
    #[error("user_data: {0}")]
    MalformedUserData(#[source] DocumentError),
    /// `user_data` names another chain.
    #[error("user_data chain id is {actual}, expected {expected}")]
    ChainIdMismatch {
        /// Expected chain id.
        expected: u64,
        /// Attested chain id.
        actual: u64,
    },
    /// `user_data` names another contract.
    #[error("user_data contract is 0x{actual}, expected 0x{expected}")]
    ContractMismatch {
        /// Hex of the expected address.
        expected: String,
        /// Hex of the attested address.
        actual: String,
    },
    /// `user_data` names another operator.
    #[error("user_data operator is 0x{actual}, expected 0x{expected}")]
    OperatorMismatch {
        /// Hex of the expected address.
        expected: String,
        /// Hex of the attested address.
        actual: String,
    },
}
