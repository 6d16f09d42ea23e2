//! The pinned root a document's chain must end in.

use der::Decode;
use sha2::{Digest, Sha256};
use x509_cert::{Certificate, der};

/// SHA-256 of the DER of the AWS Nitro Enclaves Root G1 certificate, as AWS
/// publishes it. The embedded copy is checked against this every time it is loaded.
pub const AWS_NITRO_ROOT_G1_SHA256: [u8; 32] = [
    0x64, 0x1a, 0x03, 0x21, 0xa3, 0xe2, 0x44, 0xef, 0xe4, 0x56, 0x46, 0x31, 0x95, 0xd6, 0x06, 0x31,
    0x7e, 0xd7, 0xcd, 0xcc, 0x3c, 0x17, 0x56, 0xe0, 0x98, 0x93, 0xf3, 0xc6, 0x8f, 0x79, 0xbb, 0x5b,
];

/// The AWS Nitro Enclaves Root G1 certificate (commercial partitions), PEM.
const AWS_NITRO_ROOT_G1_PEM: &str = include_str!("../roots/aws-nitro-enclaves-root-g1.pem");

/// A root certificate could not be used as a trust anchor.
#[derive(Debug, thiserror::Error)]
pub enum RootError {
    /// The PEM text is not one `CERTIFICATE` block.
    #[error("root certificate PEM is malformed: {0}")]
    Pem(String),
    /// The DER is not an X.509 certificate.
    #[error("root certificate DER is malformed: {0}")]
    Der(#[source] x509_cert::der::Error),
    /// The embedded AWS root does not have AWS's published fingerprint (a build
    /// that ships a tampered root must not verify anything).
    #[error("embedded AWS Nitro root has SHA-256 {actual}, expected {expected}")]
    AwsFingerprint {
        /// Hex of the expected fingerprint.
        expected: String,
        /// Hex of the embedded certificate's fingerprint.
        actual: String,
    },
}

/// The one root certificate a verifier trusts: `cabundle[0]` of every accepted
/// document equals its DER byte for byte. Either AWS's (the default) or another
/// root the caller passed explicitly, which makes every document it accepts
/// *simulated*.
#[derive(Clone, PartialEq, Eq)]
pub struct TrustAnchor {
    der: Vec<u8>,
    fingerprint: [u8; 32],
    subject: String,
}

impl TrustAnchor {
    /// The embedded AWS Nitro Enclaves Root G1, after checking its SHA-256
    /// fingerprint against [`AWS_NITRO_ROOT_G1_SHA256`].
    pub fn aws_nitro_root_g1() -> Result<Self, RootError> {
        let anchor = Self::from_pem(AWS_NITRO_ROOT_G1_PEM)?;
        if anchor.fingerprint != AWS_NITRO_ROOT_G1_SHA256 {
            return Err(RootError::AwsFingerprint {
                expected: crate::hex(&AWS_NITRO_ROOT_G1_SHA256),
                actual: crate::hex(&anchor.fingerprint),
            });
        }
        Ok(anchor)
    }

    /// A root given as DER. Unless it is AWS's own root, documents chaining to it
    /// are reported as simulated.
    pub fn from_der(der: &[u8]) -> Result<Self, RootError> {
        let cert = Certificate::from_der(der).map_err(RootError::Der)?;
        Ok(Self {
            der: der.to_vec(),
            fingerprint: Sha256::digest(der).into(),
            subject: cert.tbs_certificate().subject().to_string(),
        })
    }

    /// A root given as one PEM `CERTIFICATE` block.
    pub fn from_pem(pem: &str) -> Result<Self, RootError> {
        let (label, der) = pem_rfc7468::decode_vec(pem.trim().as_bytes())
            .map_err(|e| RootError::Pem(e.to_string()))?;
        if label != "CERTIFICATE" {
            return Err(RootError::Pem(format!(
                "expected a CERTIFICATE block, found {label}"
            )));
        }
        Self::from_der(&der)
    }

    /// The root's DER.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// SHA-256 of the root's DER.
    pub fn fingerprint(&self) -> [u8; 32] {
        self.fingerprint
    }

    /// The root's subject, RFC 4514 style.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// True when this is AWS's Nitro Enclaves Root G1 (by fingerprint).
    pub fn is_aws(&self) -> bool {
        self.fingerprint == AWS_NITRO_ROOT_G1_SHA256
    }
}

impl std::fmt::Debug for TrustAnchor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustAnchor")
            .field("subject", &self.subject)
            .field("sha256", &crate::hex(&self.fingerprint))
            .field("aws", &self.is_aws())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_aws_root_has_the_published_fingerprint() {
        let root = TrustAnchor::aws_nitro_root_g1().unwrap();
        assert!(root.is_aws());
        assert!(
            root.subject().contains("aws.nitro-enclaves"),
            "{}",
            root.subject()
        );
    }

    #[test]
    fn garbage_is_not_a_root() {
        assert!(matches!(
            TrustAnchor::from_der(b"nope"),
            Err(RootError::Der(_))
        ));
        assert!(matches!(
            TrustAnchor::from_pem("nope"),
            Err(RootError::Pem(_))
        ));
    }
}
