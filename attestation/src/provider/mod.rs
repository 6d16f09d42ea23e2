//! Producing attestation documents: the NSM in a real enclave, a simulated
//! provider everywhere else, both behind [`AttestationProvider`].
//!
//! Callers build an [`AttestationRequest`] (validated on construction: nonce of 1
//! to 64 bytes, `user_data` and `public_key` within AWS's limits) and get back the
//! COSE_Sign1 bytes, ready for [`crate::verify`].

mod nsm;
mod simulated;

pub use nsm::{NSM_DEVICE, NsmProvider};
pub use simulated::{
    DevCaError, Pcr0Source, SIMULATED_LEAF_LIFETIME, SIMULATED_ROOT_CN, SimulatedCa,
    SimulatedProvider,
};

use crate::document::{PUBLIC_KEY_MAX, USER_DATA_MAX};

/// Largest nonce a caller may ask to be attested, in bytes. 64 bytes (512 bits) is
/// far more than freshness needs, keeps the hex form in a query string short, and
/// stays well below AWS's 512-byte limit.
pub const REQUEST_NONCE_MAX: usize = 64;

/// What to put in a document: a nonce, and optionally `user_data` and a public key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttestationRequest {
    nonce: Vec<u8>,
    user_data: Option<Vec<u8>>,
    public_key: Option<Vec<u8>>,
}

/// An attestation request outside the allowed sizes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The nonce is empty or longer than [`REQUEST_NONCE_MAX`].
    #[error("nonce is {len} bytes; allowed 1..={REQUEST_NONCE_MAX}")]
    NonceSize {
        /// Its length.
        len: usize,
    },
    /// `user_data` is longer than AWS allows.
    #[error("user_data is {len} bytes; allowed at most {USER_DATA_MAX}")]
    UserDataSize {
        /// Its length.
        len: usize,
    },
    /// `public_key` is empty or longer than AWS allows.
    #[error("public_key is {len} bytes; allowed 1..={PUBLIC_KEY_MAX}")]
    PublicKeySize {
        /// Its length.
        len: usize,
    },
}

impl AttestationRequest {
    /// A request for a document echoing `nonce` (1 to [`REQUEST_NONCE_MAX`] bytes).
    pub fn new(nonce: &[u8]) -> Result<Self, RequestError> {
        if nonce.is_empty() || nonce.len() > REQUEST_NONCE_MAX {
            return Err(RequestError::NonceSize { len: nonce.len() });
        }
        Ok(Self {
            nonce: nonce.to_vec(),
            user_data: None,
            public_key: None,
        })
    }

    /// Adds `user_data` (at most 512 bytes).
    pub fn with_user_data(mut self, user_data: Vec<u8>) -> Result<Self, RequestError> {
        if user_data.len() > USER_DATA_MAX {
            return Err(RequestError::UserDataSize {
                len: user_data.len(),
            });
        }
        self.user_data = Some(user_data);
        Ok(self)
    }

    /// Adds a public key (1 to 1024 bytes).
    pub fn with_public_key(mut self, public_key: Vec<u8>) -> Result<Self, RequestError> {
        if public_key.is_empty() || public_key.len() > PUBLIC_KEY_MAX {
            return Err(RequestError::PublicKeySize {
                len: public_key.len(),
            });
        }
        self.public_key = Some(public_key);
        Ok(self)
    }

    /// The nonce.
    pub fn nonce(&self) -> &[u8] {
        &self.nonce
    }

    /// The `user_data`, if any.
    pub fn user_data(&self) -> Option<&[u8]> {
        self.user_data.as_deref()
    }

    /// The public key, if any.
    pub fn public_key(&self) -> Option<&[u8]> {
        self.public_key.as_deref()
    }
}

/// Which kind of provider produced a document.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProviderKind {
    /// The Nitro Security Module of a real enclave.
    Nitro,
    /// The simulated provider (development CA; proves nothing about hardware).
    Simulated,
}

/// A provider failed to produce a document or entropy.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// `/dev/nsm` could not be opened: not running inside a Nitro Enclave (or the
    /// NSM driver is missing).
    #[error(
        "cannot open the Nitro Security Module at {path}: {source} (not inside a Nitro Enclave?)"
    )]
    NsmUnavailable {
        /// The device path.
        path: &'static str,
        /// Why opening failed.
        #[source]
        source: std::io::Error,
    },
    /// The NSM answered with an error code.
    #[error("the NSM refused the request: {0}")]
    Nsm(String),
    /// The NSM answered with a response of the wrong kind.
    #[error("the NSM answered {0} to a request for {1}")]
    UnexpectedNsmResponse(String, &'static str),
    /// The operating system's entropy source failed.
    #[error("OS entropy unavailable: {0}")]
    Entropy(#[source] getrandom::Error),
    /// The file whose hash is the simulated PCR0 could not be read.
    #[error("reading {path} for PCR0: {source}")]
    Pcr0 {
        /// The file.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The system clock is before 1970 or unrepresentable.
    #[error("the system clock is not usable")]
    Clock,
    /// The development CA failed (issuing a leaf, encoding).
    #[error("simulated CA: {0}")]
    DevCa(#[from] DevCaError),
    /// The document could not be encoded.
    #[error("encoding the document: {0}")]
    Encode(#[from] crate::DocumentError),
}

/// Something that produces attestation documents and entropy.
///
/// Both calls block briefly (an ioctl to the NSM, or an ECDSA signature); async
/// callers run them on a blocking thread.
pub trait AttestationProvider: Send + Sync {
    /// Which kind of provider this is.
    fn kind(&self) -> ProviderKind;

    /// A COSE_Sign1 attestation document (untagged, as the NSM emits it) carrying
    /// the request's nonce, `user_data` and public key.
    fn attest(&self, request: &AttestationRequest) -> Result<Vec<u8>, ProviderError>;

    /// Fills `buf` with random bytes from the provider's entropy source (the NSM's
    /// in an enclave, the OS's otherwise).
    fn fill_random(&self, buf: &mut [u8]) -> Result<(), ProviderError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_sizes_are_validated() {
        assert_eq!(
            AttestationRequest::new(&[]),
            Err(RequestError::NonceSize { len: 0 })
        );
        assert_eq!(
            AttestationRequest::new(&[0; 65]),
            Err(RequestError::NonceSize { len: 65 })
        );
        let request = AttestationRequest::new(&[7; 64]).unwrap();
        assert!(request.clone().with_user_data(vec![0; 513]).is_err());
        assert!(request.clone().with_public_key(vec![]).is_err());
        assert!(request.clone().with_public_key(vec![0; 1025]).is_err());
        let full = request
            .with_user_data(vec![1; 512])
            .unwrap()
            .with_public_key(vec![2; 32])
            .unwrap();
        assert_eq!(full.nonce(), &[7; 64]);
        assert_eq!(full.user_data().map(<[u8]>::len), Some(512));
        assert_eq!(full.public_key(), Some(&[2u8; 32][..]));
    }
}
