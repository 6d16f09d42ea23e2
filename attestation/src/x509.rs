//! The X.509 part of verification: parsing, the issuer's signature, validity and
//! CA constraints. Only ECDSA P-384 with SHA-384 is accepted: it is what the AWS
//! Nitro PKI uses at every level (root, regional, zonal, instance and leaf), and
//! what the simulated CA issues.

use std::time::Duration;

use der::{Decode, Encode, asn1::ObjectIdentifier};
use p384::ecdsa::{DerSignature, VerifyingKey, signature::Verifier};
use x509_cert::{
    Certificate, der,
    ext::pkix::{BasicConstraints, KeyUsage, KeyUsages},
};

use crate::error::{CertPosition, TimeReference, VerifyError};

/// ecdsa-with-SHA384 (RFC 5758).
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
/// id-ecPublicKey (RFC 5480).
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// secp384r1 (RFC 5480).
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
/// basicConstraints (RFC 5280 4.2.1.9).
const ID_CE_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
/// keyUsage (RFC 5280 4.2.1.3).
const ID_CE_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");

/// A certificate with where it sits in the document.
pub(crate) struct ChainCert {
    pub(crate) cert: Certificate,
    pub(crate) position: CertPosition,
}

impl ChainCert {
    /// Parses DER, insisting that it re-encodes to the same bytes (so the TBS part
    /// we verify is exactly the one that was signed).
    pub(crate) fn parse(der: &[u8], position: CertPosition) -> Result<Self, VerifyError> {
        let malformed = |reason: String| VerifyError::MalformedCertificate { position, reason };
        let cert = Certificate::from_der(der).map_err(|e| malformed(e.to_string()))?;
        let reencoded = cert.to_der().map_err(|e| malformed(e.to_string()))?;
        if reencoded != der {
            return Err(malformed("not in canonical DER".into()));
        }
        Ok(Self { cert, position })
    }

    /// The subject, RFC 4514 style, for messages.
    pub(crate) fn subject(&self) -> String {
        self.cert.tbs_certificate().subject().to_string()
    }

    /// The certificate's P-384 public key.
    pub(crate) fn p384_key(&self) -> Result<VerifyingKey, VerifyError> {
        let spki = self.cert.tbs_certificate().subject_public_key_info();
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|params| params.decode_as::<ObjectIdentifier>().ok());
        if spki.algorithm.oid != ID_EC_PUBLIC_KEY || curve != Some(SECP384R1) {
            return Err(VerifyError::UnsupportedKey {
                position: self.position,
                algorithm: format!(
                    "{} / {}",
                    spki.algorithm.oid,
                    curve.map_or_else(|| "no curve".to_string(), |c| c.to_string())
                ),
            });
        }
        VerifyingKey::from_sec1_bytes(spki.subject_public_key.raw_bytes()).map_err(|_| {
            VerifyError::MalformedCertificate {
                position: self.position,
                reason: "public key is not a valid P-384 point".into(),
            }
        })
    }

    /// Checks that `issuer` issued this certificate: names chain and the ECDSA
    /// P-384/SHA-384 signature over the TBS certificate verifies under its key.
    pub(crate) fn check_issued_by(&self, issuer: &ChainCert) -> Result<(), VerifyError> {
        let tbs = self.cert.tbs_certificate();
        if tbs.issuer() != issuer.cert.tbs_certificate().subject() {
            return Err(VerifyError::IssuerMismatch {
                position: self.position,
                issuer: tbs.issuer().to_string(),
                expected: issuer.subject(),
            });
        }
        let algorithm = self.cert.signature_algorithm();
        if algorithm.oid != ECDSA_WITH_SHA384 || tbs.signature().oid != ECDSA_WITH_SHA384 {
            return Err(VerifyError::UnsupportedCertificateSignature {
                position: self.position,
                algorithm: algorithm.oid.to_string(),
            });
        }
        let key = issuer.p384_key()?;
        let invalid = || VerifyError::CertificateSignatureInvalid {
            position: self.position,
        };
        let signature = self
            .cert
            .signature()
            .as_bytes()
            .and_then(|bytes| DerSignature::from_bytes(bytes).ok())
            .ok_or_else(invalid)?;
        let tbs_der = tbs
            .to_der()
            .map_err(|e| VerifyError::MalformedCertificate {
                position: self.position,
                reason: e.to_string(),
            })?;
        key.verify(&tbs_der, &signature).map_err(|_| invalid())
    }

    /// Checks that `at` lies within the certificate's validity period.
    pub(crate) fn check_valid_at(
        &self,
        at: Duration,
        reference: TimeReference,
    ) -> Result<(), VerifyError> {
        let validity = self.cert.tbs_certificate().validity();
        let not_before = validity.not_before.to_unix_duration();
        let not_after = validity.not_after.to_unix_duration();
        if at < not_before || at > not_after {
            return Err(VerifyError::CertificateNotValid {
                position: self.position,
                subject: self.subject(),
                not_before: validity.not_before.to_string(),
                not_after: validity.not_after.to_string(),
                reference,
                at_ms: u64::try_from(at.as_millis()).unwrap_or(u64::MAX),
            });
        }
        Ok(())
    }

    /// Rejects critical extensions this verifier does not process (RFC 5280 4.2).
    pub(crate) fn check_critical_extensions(&self) -> Result<(), VerifyError> {
        for ext in self
            .cert
            .tbs_certificate()
            .extensions()
            .into_iter()
            .flatten()
        {
            if ext.critical
                && ext.extn_id != ID_CE_BASIC_CONSTRAINTS
                && ext.extn_id != ID_CE_KEY_USAGE
            {
                return Err(VerifyError::UnknownCriticalExtension {
                    position: self.position,
                    oid: ext.extn_id.to_string(),
                });
            }
        }
        Ok(())
    }

    fn basic_constraints(&self) -> Result<Option<BasicConstraints>, VerifyError> {
        self.cert
            .tbs_certificate()
            .get_extension::<BasicConstraints>()
            .map(|found| found.map(|(_, bc)| bc))
            .map_err(|e| VerifyError::MalformedCertificate {
                position: self.position,
                reason: format!("basicConstraints: {e}"),
            })
    }

    fn key_usage(&self) -> Result<Option<KeyUsage>, VerifyError> {
        self.cert
            .tbs_certificate()
            .get_extension::<KeyUsage>()
            .map(|found| found.map(|(_, ku)| ku))
            .map_err(|e| VerifyError::MalformedCertificate {
                position: self.position,
                reason: format!("keyUsage: {e}"),
            })
    }

    /// Checks an issuing certificate: basicConstraints CA=true, keyUsage with
    /// keyCertSign, and a path length constraint (if any) that allows the
    /// `cas_below` CA certificates that follow it in the path.
    pub(crate) fn check_ca(&self, cas_below: usize) -> Result<(), VerifyError> {
        let position = self.position;
        match self.basic_constraints()? {
            Some(bc) if bc.ca => {
                if let Some(limit) = bc.path_len_constraint
                    && cas_below > usize::from(limit)
                {
                    return Err(VerifyError::PathLengthExceeded {
                        position,
                        limit,
                        actual: cas_below,
                    });
                }
            }
            _ => return Err(VerifyError::NotACa { position }),
        }
        match self.key_usage()? {
            Some(ku) if ku.0.contains(KeyUsages::KeyCertSign) => Ok(()),
            _ => Err(VerifyError::MissingKeyCertSign { position }),
        }
    }

    /// Checks the leaf: not a CA, and allowed to make digital signatures when it
    /// restricts its key usage at all.
    pub(crate) fn check_leaf(&self) -> Result<(), VerifyError> {
        if self.basic_constraints()?.is_some_and(|bc| bc.ca) {
            return Err(VerifyError::LeafIsCa);
        }
        if let Some(ku) = self.key_usage()?
            && !ku.0.contains(KeyUsages::DigitalSignature)
        {
            return Err(VerifyError::LeafKeyUsage);
        }
        Ok(())
    }
}
