//! The attestation document (the COSE_Sign1 payload) and the enclave's `user_data`.
//!
//! Decoding here is structural only (CBOR types, no unknown fields); AWS's field
//! rules are [`AttestationDoc::check_fields`]; whether any of it is *true* is the
//! verifier's business.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_bytes::{ByteArray, ByteBuf};

/// Largest `certificate` and `cabundle` entry, in bytes (AWS spec: `bytes .size (1..1024)`).
pub const CERTIFICATE_MAX: usize = 1024;
/// Largest `cabundle` entry, in bytes (AWS spec, same bound as the certificate).
pub const CABUNDLE_ENTRY_MAX: usize = 1024;
/// Largest `public_key`, in bytes (AWS spec, syntactical validation: `[1, 1024]`).
pub const PUBLIC_KEY_MAX: usize = 1024;
/// Largest `user_data`, in bytes (AWS spec, syntactical validation: `[0, 512]`).
pub const USER_DATA_MAX: usize = 512;
/// Largest `nonce`, in bytes (AWS spec, syntactical validation: `[0, 512]`).
pub const NONCE_MAX: usize = 512;
/// Most PCR entries a document may carry (AWS spec: `$size ∈ [1, 32]`).
pub const PCR_COUNT_MAX: usize = 32;
/// PCR indexes are below this (AWS spec: `index = 0..31`).
pub const PCR_INDEX_LIMIT: u8 = 32;
/// The PCR lengths AWS allows (SHA-256, SHA-384, SHA-512 sized registers).
const PCR_LENGTHS: [usize; 3] = [32, 48, 64];
/// The only digest AWS documents use.
const DIGEST_SHA384: &str = "SHA384";

/// A parsed Nitro attestation document: the COSE_Sign1 payload, field by field.
///
/// Obtained from [`crate::verify`] (inside a [`crate::VerifiedDocument`]) it has been
/// checked; obtained from [`crate::decode_unverified`] or [`AttestationDoc::from_cbor`]
/// it has not, and nothing in it may be believed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttestationDoc {
    /// Issuing Nitro hypervisor module id (`i-…-enc…`).
    pub module_id: String,
    /// Digest used for the PCRs; always `"SHA384"` in valid documents.
    pub digest: String,
    /// Creation time, milliseconds since the Unix epoch (UTC).
    pub timestamp_ms: u64,
    /// Locked PCRs at the time of the document, by index.
    pub pcrs: BTreeMap<u8, Vec<u8>>,
    /// DER of the certificate whose key signed the document (the leaf).
    pub certificate: Vec<u8>,
    /// DER certificates from the root (`[0]`) down to the leaf's issuer.
    pub cabundle: Vec<Vec<u8>>,
    /// Optional public key the enclave asked to include (here: its HPKE key).
    pub public_key: Option<Vec<u8>>,
    /// Optional application data (here: CBOR [`UserData`]).
    pub user_data: Option<Vec<u8>>,
    /// Optional nonce chosen by the party asking for the document.
    pub nonce: Option<Vec<u8>>,
}

/// The payload as CBOR sees it: text keys in AWS's order, byte strings for bytes.
/// Absent optional fields are encoded as `null`, as the NSM does.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireDocument {
    module_id: String,
    digest: String,
    timestamp: u64,
    pcrs: BTreeMap<u8, ByteBuf>,
    certificate: ByteBuf,
    cabundle: Vec<ByteBuf>,
    #[serde(default)]
    public_key: Option<ByteBuf>,
    #[serde(default)]
    user_data: Option<ByteBuf>,
    #[serde(default)]
    nonce: Option<ByteBuf>,
}

/// Failure to decode or encode a CBOR structure of this crate.
#[derive(Debug, thiserror::Error)]
pub enum DocumentError {
    /// The bytes are not the expected CBOR structure (wrong types, missing or
    /// unknown fields, trailing garbage).
    #[error("malformed {what}: {reason}")]
    Malformed {
        /// Which structure.
        what: &'static str,
        /// What the CBOR decoder said.
        reason: String,
    },
    /// Encoding failed (only on a writer error, which a `Vec` never gives).
    #[error("cannot encode {what}: {reason}")]
    Encode {
        /// Which structure.
        what: &'static str,
        /// What the CBOR encoder said.
        reason: String,
    },
    /// The encoded `user_data` would exceed what a document may carry.
    #[error("user_data is {len} bytes encoded; a document carries at most {max}")]
    UserDataTooLarge {
        /// Encoded size.
        len: usize,
        /// [`USER_DATA_MAX`].
        max: usize,
    },
}

/// A violation of the field rules of AWS's attestation document specification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FieldError {
    /// `module_id` is empty.
    #[error("module_id is empty")]
    ModuleIdEmpty,
    /// `digest` is not `SHA384`.
    #[error("digest is {0:?}; only \"SHA384\" is allowed")]
    UnsupportedDigest(String),
    /// `timestamp` is zero.
    #[error("timestamp is 0")]
    TimestampZero,
    /// `pcrs` has no entry or more than 32.
    #[error("pcrs has {count} entries; allowed 1..={PCR_COUNT_MAX}")]
    PcrCount {
        /// Number of entries.
        count: usize,
    },
    /// A PCR index is 32 or more.
    #[error("PCR index {index} is out of range 0..{PCR_INDEX_LIMIT}")]
    PcrIndex {
        /// The index.
        index: u8,
    },
    /// A PCR value is not 32, 48 or 64 bytes long.
    #[error("PCR{index} is {len} bytes; allowed 32, 48 or 64")]
    PcrLength {
        /// The index.
        index: u8,
        /// Its length.
        len: usize,
    },
    /// `certificate` is empty or longer than 1024 bytes.
    #[error("certificate is {len} bytes; allowed 1..={CERTIFICATE_MAX}")]
    CertificateSize {
        /// Its length.
        len: usize,
    },
    /// `cabundle` has no entry.
    #[error("cabundle is empty")]
    CabundleEmpty,
    /// A `cabundle` entry is empty or longer than 1024 bytes.
    #[error("cabundle[{index}] is {len} bytes; allowed 1..={CABUNDLE_ENTRY_MAX}")]
    CabundleEntrySize {
        /// Position in the bundle.
        index: usize,
        /// Its length.
        len: usize,
    },
    /// `public_key` is present but empty or longer than 1024 bytes.
    #[error("public_key is {len} bytes; allowed 1..={PUBLIC_KEY_MAX}")]
    PublicKeySize {
        /// Its length.
        len: usize,
    },
    /// `user_data` is longer than 512 bytes.
    #[error("user_data is {len} bytes; allowed at most {USER_DATA_MAX}")]
    UserDataSize {
        /// Its length.
        len: usize,
    },
    /// `nonce` is longer than 512 bytes.
    #[error("nonce is {len} bytes; allowed at most {NONCE_MAX}")]
    NonceSize {
        /// Its length.
        len: usize,
    },
}

impl AttestationDoc {
    /// Decodes the CBOR payload of a COSE_Sign1 attestation document (structure only;
    /// see [`AttestationDoc::check_fields`] for AWS's field rules).
    pub fn from_cbor(payload: &[u8]) -> Result<Self, DocumentError> {
        let wire: WireDocument =
            ciborium::de::from_reader(payload).map_err(|e| DocumentError::Malformed {
                what: "attestation document",
                reason: e.to_string(),
            })?;
        Ok(Self {
            module_id: wire.module_id,
            digest: wire.digest,
            timestamp_ms: wire.timestamp,
            pcrs: wire
                .pcrs
                .into_iter()
                .map(|(index, value)| (index, value.into_vec()))
                .collect(),
            certificate: wire.certificate.into_vec(),
            cabundle: wire.cabundle.into_iter().map(ByteBuf::into_vec).collect(),
            public_key: wire.public_key.map(ByteBuf::into_vec),
            user_data: wire.user_data.map(ByteBuf::into_vec),
            nonce: wire.nonce.map(ByteBuf::into_vec),
        })
    }

    /// Encodes the document as the NSM does: a CBOR map with text keys in AWS's
    /// order, byte strings for bytes and `null` for absent optional fields.
    pub fn to_cbor(&self) -> Result<Vec<u8>, DocumentError> {
        let wire = WireDocument {
            module_id: self.module_id.clone(),
            digest: self.digest.clone(),
            timestamp: self.timestamp_ms,
            pcrs: self
                .pcrs
                .iter()
                .map(|(index, value)| (*index, ByteBuf::from(value.clone())))
                .collect(),
            certificate: ByteBuf::from(self.certificate.clone()),
            cabundle: self.cabundle.iter().cloned().map(ByteBuf::from).collect(),
            public_key: self.public_key.clone().map(ByteBuf::from),
            user_data: self.user_data.clone().map(ByteBuf::from),
            nonce: self.nonce.clone().map(ByteBuf::from),
        };
        let mut out = Vec::new();
        ciborium::ser::into_writer(&wire, &mut out).map_err(|e| DocumentError::Encode {
            what: "attestation document",
            reason: e.to_string(),
        })?;
        Ok(out)
    }

    /// Checks the field rules of AWS's specification ("syntactical validation"):
    /// non-empty module id, `SHA384` digest, non-zero timestamp, 1 to 32 PCRs with
    /// index below 32 and length 32/48/64, certificate and every bundle entry 1 to
    /// 1024 bytes, a non-empty bundle, and the size limits of the optional fields.
    pub fn check_fields(&self) -> Result<(), FieldError> {
        if self.module_id.is_empty() {
            return Err(FieldError::ModuleIdEmpty);
        }
        if self.digest != DIGEST_SHA384 {
            return Err(FieldError::UnsupportedDigest(self.digest.clone()));
        }
        if self.timestamp_ms == 0 {
            return Err(FieldError::TimestampZero);
        }
        if self.pcrs.is_empty() || self.pcrs.len() > PCR_COUNT_MAX {
            return Err(FieldError::PcrCount {
                count: self.pcrs.len(),
            });
        }
        for (&index, value) in &self.pcrs {
            if index >= PCR_INDEX_LIMIT {
                return Err(FieldError::PcrIndex { index });
            }
            if !PCR_LENGTHS.contains(&value.len()) {
                return Err(FieldError::PcrLength {
                    index,
                    len: value.len(),
                });
            }
        }
        check_certificate_size(&self.certificate)?;
        if self.cabundle.is_empty() {
            return Err(FieldError::CabundleEmpty);
        }
        for (index, entry) in self.cabundle.iter().enumerate() {
            if entry.is_empty() || entry.len() > CABUNDLE_ENTRY_MAX {
                return Err(FieldError::CabundleEntrySize {
                    index,
                    len: entry.len(),
                });
            }
        }
        if let Some(key) = &self.public_key
            && (key.is_empty() || key.len() > PUBLIC_KEY_MAX)
        {
            return Err(FieldError::PublicKeySize { len: key.len() });
        }
        if let Some(data) = &self.user_data
            && data.len() > USER_DATA_MAX
        {
            return Err(FieldError::UserDataSize { len: data.len() });
        }
        if let Some(nonce) = &self.nonce
            && nonce.len() > NONCE_MAX
        {
            return Err(FieldError::NonceSize { len: nonce.len() });
        }
        Ok(())
    }

    /// The value of PCR `index`, if the document carries it.
    pub fn pcr(&self, index: u8) -> Option<&[u8]> {
        self.pcrs.get(&index).map(Vec::as_slice)
    }

    /// True when PCR0, PCR1 and PCR2 are all present and all zero: the enclave runs
    /// in debug mode (its memory is readable by the parent instance).
    pub fn is_debug_mode(&self) -> bool {
        [0u8, 1, 2].iter().all(|index| {
            self.pcr(*index)
                .is_some_and(|value| value.iter().all(|byte| *byte == 0))
        })
    }
}

/// The certificate size rule alone (checked before the leaf is parsed).
pub(crate) fn check_certificate_size(certificate: &[u8]) -> Result<(), FieldError> {
    if certificate.is_empty() || certificate.len() > CERTIFICATE_MAX {
        return Err(FieldError::CertificateSize {
            len: certificate.len(),
        });
    }
    Ok(())
}

/// How the enclave's operator key came to be.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyOrigin {
    /// Generated inside the enclave from the NSM's entropy; never exported.
    Generated,
    /// Injected sealed (HPKE) to the enclave's attested public key.
    Injected,
    /// Read from a key file: simulated mode only (development), never in an enclave.
    File,
    /// Read from an environment variable: simulated mode only, never in an enclave.
    Environment,
}

/// The enclave's `user_data`: a CBOR map naming the app, its version, the chain,
/// the contract, the operator address and how the operator key came to be.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserData {
    /// Application name (e.g. `enclave-lottery`).
    pub app: String,
    /// Application version.
    pub version: String,
    /// EVM chain id the operator serves.
    pub chain_id: u64,
    /// Lottery contract address.
    pub contract: [u8; 20],
    /// Operator address (derived from the enclave's key).
    pub operator: [u8; 20],
    /// How the operator key came to be.
    pub key_origin: KeyOrigin,
    /// Whether the enclave accepts one sealed key injected later (only for the
    /// operator address it was started with).
    pub key_injection: bool,
    /// The JSON-RPC upstreams the enclave trusts for chain facts, as `host:port`
    /// (paths, which often hold API keys, are left out). Empty in documents of
    /// builds before this field.
    pub rpc_hosts: Vec<String>,
    /// How many of [`Self::rpc_hosts`] must agree before the operator signs (0 in
    /// documents of builds before this field).
    pub rpc_quorum: u8,
}

/// `UserData` on the wire: addresses as 20-byte CBOR byte strings.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireUserData {
    app: String,
    version: String,
    chain_id: u64,
    contract: ByteArray<20>,
    operator: ByteArray<20>,
    key_origin: KeyOrigin,
    #[serde(default)]
    key_injection: bool,
    #[serde(default)]
    rpc_hosts: Vec<String>,
    #[serde(default)]
    rpc_quorum: u8,
}

impl UserData {
    /// Encodes as the CBOR map carried in `user_data`; fails when it would not fit
    /// in a document ([`USER_DATA_MAX`]).
    pub fn to_cbor(&self) -> Result<Vec<u8>, DocumentError> {
        let wire = WireUserData {
            app: self.app.clone(),
            version: self.version.clone(),
            chain_id: self.chain_id,
            contract: ByteArray::new(self.contract),
            operator: ByteArray::new(self.operator),
            key_origin: self.key_origin,
            key_injection: self.key_injection,
            rpc_hosts: self.rpc_hosts.clone(),
            rpc_quorum: self.rpc_quorum,
        };
        let mut out = Vec::new();
        ciborium::ser::into_writer(&wire, &mut out).map_err(|e| DocumentError::Encode {
            what: "user_data",
            reason: e.to_string(),
        })?;
        if out.len() > USER_DATA_MAX {
            return Err(DocumentError::UserDataTooLarge {
                len: out.len(),
                max: USER_DATA_MAX,
            });
        }
        Ok(out)
    }

    /// Decodes the CBOR map carried in `user_data`.
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, DocumentError> {
        if bytes.len() > USER_DATA_MAX {
            return Err(DocumentError::UserDataTooLarge {
                len: bytes.len(),
                max: USER_DATA_MAX,
            });
        }
        let wire: WireUserData =
            ciborium::de::from_reader(bytes).map_err(|e| DocumentError::Malformed {
                what: "user_data",
                reason: e.to_string(),
            })?;
        Ok(Self {
            app: wire.app,
            version: wire.version,
            chain_id: wire.chain_id,
            contract: wire.contract.into_array(),
            operator: wire.operator.into_array(),
            key_origin: wire.key_origin,
            key_injection: wire.key_injection,
            rpc_hosts: wire.rpc_hosts,
            rpc_quorum: wire.rpc_quorum,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> AttestationDoc {
        AttestationDoc {
            module_id: "i-0-enc0".into(),
            digest: "SHA384".into(),
            timestamp_ms: 1,
            pcrs: (0u8..16).map(|i| (i, vec![i; 48])).collect(),
            certificate: vec![1; 10],
            cabundle: vec![vec![2; 10]],
            public_key: None,
            user_data: Some(vec![3; 4]),
            nonce: Some(vec![4; 8]),
        }
    }

    #[test]
    fn document_round_trips_through_cbor() {
        let doc = sample();
        let bytes = doc.to_cbor().unwrap();
        assert_eq!(AttestationDoc::from_cbor(&bytes).unwrap(), doc);
        doc.check_fields().unwrap();
    }

    #[test]
    fn unknown_fields_and_wrong_types_are_malformed() {
        let value = ciborium::Value::Map(vec![(
            ciborium::Value::Text("module_id".into()),
            ciborium::Value::Integer(1.into()),
        )]);
        let mut bytes = Vec::new();
        ciborium::ser::into_writer(&value, &mut bytes).unwrap();
        assert!(matches!(
            AttestationDoc::from_cbor(&bytes),
            Err(DocumentError::Malformed { .. })
        ));
        assert!(AttestationDoc::from_cbor(&[]).is_err());
        assert!(AttestationDoc::from_cbor(&[0xff, 0x00]).is_err());
    }

    #[test]
    fn debug_mode_needs_pcr0_1_2_zero() {
        let mut doc = sample();
        assert!(!doc.is_debug_mode());
        for i in 0u8..3 {
            doc.pcrs.insert(i, vec![0; 48]);
        }
        assert!(doc.is_debug_mode());
        doc.pcrs.remove(&2);
        assert!(!doc.is_debug_mode());
    }

    #[test]
    fn user_data_round_trips_and_is_strict() {
        let user = UserData {
            app: "enclave-lottery".into(),
            version: "0.1.0".into(),
            chain_id: 31337,
            contract: [0x11; 20],
            operator: [0x22; 20],
            key_origin: KeyOrigin::Injected,
            key_injection: true,
            rpc_hosts: vec!["rpc1.example:443".into(), "rpc2.example:443".into()],
            rpc_quorum: 2,
        };
        let bytes = user.to_cbor().unwrap();
        assert_eq!(UserData::from_cbor(&bytes).unwrap(), user);
        // Documents of builds before the injection and upstream fields still decode.
        #[derive(Serialize)]
        struct Older {
            app: String,
            version: String,
            chain_id: u64,
            contract: ByteArray<20>,
            operator: ByteArray<20>,
            key_origin: KeyOrigin,
        }
        let mut older = Vec::new();
        ciborium::ser::into_writer(
            &Older {
                app: user.app.clone(),
                version: user.version.clone(),
                chain_id: 1,
                contract: ByteArray::new([0x11; 20]),
                operator: ByteArray::new([0x22; 20]),
                key_origin: KeyOrigin::Generated,
            },
            &mut older,
        )
        .unwrap();
        let decoded = UserData::from_cbor(&older).unwrap();
        assert_eq!(
            (
                decoded.key_injection,
                decoded.rpc_hosts.len(),
                decoded.rpc_quorum
            ),
            (false, 0, 0)
        );
        assert!(UserData::from_cbor(b"\x01").is_err());
        let too_big = UserData {
            app: "x".repeat(600),
            ..user
        };
        assert!(matches!(
            too_big.to_cbor(),
            Err(DocumentError::UserDataTooLarge { .. })
        ));
    }
}
