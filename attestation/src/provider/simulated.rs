//! The simulated provider and its development CA.
//!
//! Documents have exactly the NSM's structure (untagged COSE_Sign1, ES384 over the
//! CBOR payload, 16 PCRs of 48 bytes, the leaf in `certificate`, `[root,
//! intermediate]` in `cabundle`), but they chain to a development root whose
//! subject says, in every field, that it is simulated and not AWS's. A verifier
//! accepts them only when handed that root explicitly, and then reports them as
//! simulated.
//!
//! The CA is a root and one intermediate (P-384). The root's key signs the
//! intermediate and is then dropped, so a saved CA can issue leaves but never a
//! second intermediate. Leaves live three hours, like AWS's, and are reissued as
//! they near expiry.

use std::{
    collections::BTreeMap,
    fs,
    io::{Read, Write},
    path::{Path, PathBuf},
    str::FromStr,
    sync::Mutex,
    time::{Duration, SystemTime},
};

use coset::{CborSerializable, CoseSign1Builder, HeaderBuilder, iana};
use p384::{
    ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey, signature::Signer},
    pkcs8::{DecodePrivateKey, EncodePrivateKey, LineEnding},
};
use sha2::{Digest, Sha384};
use x509_cert::{
    builder::{Builder, CertificateBuilder, profile::BuilderProfile},
    certificate::TbsCertificate,
    der::{DateTime, Encode, asn1::OctetString},
    ext::{
        Extension, ToExtension,
        pkix::{
            AuthorityKeyIdentifier, BasicConstraints, KeyUsage, KeyUsages, SubjectKeyIdentifier,
        },
    },
    name::Name,
    serial_number::SerialNumber,
    spki::{SubjectPublicKeyInfoOwned, SubjectPublicKeyInfoRef},
    time::{Time, Validity},
};
use zeroize::Zeroizing;

use super::{AttestationProvider, AttestationRequest, ProviderError, ProviderKind};
use crate::{
    AttestationDoc, RootError, TrustAnchor, UnixTime, error::CertPosition, x509::ChainCert,
};

/// Common name of the simulated root: it can never be mistaken for AWS's
/// (`aws.nitro-enclaves`).
pub const SIMULATED_ROOT_CN: &str = "enclave-lottery SIMULATED Nitro root - not AWS";
/// Common name of the simulated intermediate.
const SIMULATED_INTERMEDIATE_CN: &str = "enclave-lottery SIMULATED Nitro intermediate - not AWS";
/// Common name of simulated leaves.
const SIMULATED_LEAF_CN: &str = "enclave-lottery SIMULATED enclave - not AWS";
/// Organisation and unit of every simulated certificate.
const SIMULATED_ORG: &str = "O=enclave-lottery,OU=SIMULATED - not AWS Nitro";
/// How long a simulated leaf lives: three hours, like AWS's leaves, so the same
/// expiry behaviour is exercised in development.
pub const SIMULATED_LEAF_LIFETIME: Duration = Duration::from_secs(3 * 3600);
/// A leaf with less than this left is replaced before signing, so a document
/// stays verifiable for at least this long after it is made.
const LEAF_RENEW_MARGIN: Duration = Duration::from_secs(3600);
/// Lifetime of the development root and intermediate: ten years, long enough that
/// a saved CA outlives any development setup.
const CA_LIFETIME: Duration = Duration::from_secs(10 * 365 * 86_400);
/// Certificates start this much before "now", for verifiers whose clocks lag.
const BACKDATE: Duration = Duration::from_secs(300);
/// Number of PCRs in a document, as the NSM reports them (0..=15).
const SIMULATED_PCR_COUNT: u8 = 16;
/// PCR length for the SHA-384 bank.
const PCR_LEN: usize = 48;
/// Attempts at drawing a valid P-384 scalar from 48 random bytes (each fails with
/// probability about 2^-190; a second failure means the entropy source is broken).
const KEY_ATTEMPTS: usize = 4;
/// Largest development CA file accepted: three PEM blocks are under 3 KiB.
const CA_FILE_MAX: u64 = 16 * 1024;
/// Read buffer for hashing the binary that becomes PCR0.
const HASH_CHUNK: usize = 64 * 1024;

/// The development CA could not be created, loaded, saved or used.
#[derive(Debug, thiserror::Error)]
pub enum DevCaError {
    /// The OS entropy source failed.
    #[error("OS entropy unavailable: {0}")]
    Entropy(String),
    /// Building or encoding a certificate failed.
    #[error("building a certificate: {0}")]
    Build(String),
    /// A time is outside what X.509 can encode.
    #[error("time not encodable in a certificate: {0}")]
    Time(String),
    /// Reading or writing the CA file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The CA file is larger than any valid one.
    #[error("{path}: {len} bytes; a development CA file is at most {CA_FILE_MAX}")]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size.
        len: u64,
    },
    /// The CA PEM is malformed or lacks a block.
    #[error("development CA PEM: {0}")]
    Pem(String),
    /// The intermediate key does not belong to the intermediate certificate, or the
    /// intermediate was not issued by the root.
    #[error("development CA is inconsistent: {0}")]
    Inconsistent(String),
}

fn entropy(buf: &mut [u8]) -> Result<(), DevCaError> {
    getrandom::fill(buf).map_err(|e| DevCaError::Entropy(e.to_string()))
}

fn generate_key() -> Result<SigningKey, DevCaError> {
    for _ in 0..KEY_ATTEMPTS {
        let mut scalar = Zeroizing::new([0u8; 48]);
        entropy(scalar.as_mut_slice())?;
        if let Ok(key) = SigningKey::from_slice(scalar.as_slice()) {
            return Ok(key);
        }
    }
    Err(DevCaError::Entropy(
        "no valid P-384 scalar in several draws".into(),
    ))
}

fn random_serial() -> Result<SerialNumber, DevCaError> {
    let mut bytes = [0u8; 16];
    entropy(&mut bytes)?;
    // Positive and without a leading zero octet: exactly 16 content bytes.
    bytes[0] = (bytes[0] & 0x7f) | 0x40;
    SerialNumber::new(&bytes).map_err(|e| DevCaError::Build(e.to_string()))
}

fn x509_time(at: Duration) -> Result<Time, DevCaError> {
    DateTime::from_unix_duration(at)
        .map(Time::from)
        .map_err(|e| DevCaError::Time(e.to_string()))
}

fn validity(from: UnixTime, lifetime: Duration) -> Result<Validity, DevCaError> {
    let start = from.as_duration().saturating_sub(BACKDATE);
    Ok(Validity::new(
        x509_time(start)?,
        x509_time(start + lifetime)?,
    ))
}

fn name(common_name: &str) -> Result<Name, DevCaError> {
    Name::from_str(&format!("CN={common_name},{SIMULATED_ORG}"))
        .map_err(|e| DevCaError::Build(e.to_string()))
}

/// What a certificate of the development chain is for.
#[derive(Clone, Copy)]
enum Role {
    /// Self-signed; one CA may follow it.
    Root,
    /// Issues leaves only.
    Intermediate,
    /// Signs documents.
    Leaf,
}

/// A certificate profile with exactly the extensions the verifier checks.
struct DevProfile {
    subject: Name,
    issuer: Name,
    role: Role,
}

impl BuilderProfile for DevProfile {
    fn get_issuer(&self, _subject: &Name) -> Name {
        self.issuer.clone()
    }

    fn get_subject(&self) -> Name {
        self.subject.clone()
    }

    fn build_extensions(
        &self,
        spk: SubjectPublicKeyInfoRef<'_>,
        issuer_spk: SubjectPublicKeyInfoRef<'_>,
        tbs: &TbsCertificate,
    ) -> x509_cert::builder::Result<Vec<Extension>> {
        let (ca, path_len, usage) = match self.role {
            Role::Root => (true, Some(1), KeyUsages::KeyCertSign | KeyUsages::CRLSign),
            Role::Intermediate => (true, Some(0), KeyUsages::KeyCertSign | KeyUsages::CRLSign),
            Role::Leaf => (false, None, KeyUsages::DigitalSignature.into()),
        };
        let mut extensions = Vec::new();
        let basic = BasicConstraints {
            ca,
            path_len_constraint: path_len,
        };
        extensions.push(basic.to_extension(tbs.subject(), &extensions)?);
        extensions.push(KeyUsage(usage).to_extension(tbs.subject(), &extensions)?);
        if ca {
            let ski = SubjectKeyIdentifier::try_from(spk)?;
            extensions.push(ski.to_extension(tbs.subject(), &extensions)?);
        }
        let authority: OctetString = SubjectKeyIdentifier::try_from(issuer_spk)?.0;
        let aki = AuthorityKeyIdentifier {
            key_identifier: Some(authority),
            ..Default::default()
        };
        extensions.push(aki.to_extension(tbs.subject(), &extensions)?);
        Ok(extensions)
    }
}

fn issue(
    profile: DevProfile,
    validity: Validity,
    subject_key: &VerifyingKey,
    issuer_key: &SigningKey,
) -> Result<Vec<u8>, DevCaError> {
    let build = |e: String| DevCaError::Build(e);
    let spki =
        SubjectPublicKeyInfoOwned::from_key(subject_key).map_err(|e| build(e.to_string()))?;
    let builder = CertificateBuilder::new(profile, random_serial()?, validity, spki)
        .map_err(|e| build(e.to_string()))?;
    let cert = builder
        .build::<_, DerSignature>(issuer_key)
        .map_err(|e| build(e.to_string()))?;
    cert.to_der().map_err(|e| build(e.to_string()))
}

/// The development CA: a simulated root certificate, and an intermediate with its
/// key. `Debug` shows the root's fingerprint only.
pub struct SimulatedCa {
    root_der: Vec<u8>,
    intermediate_der: Vec<u8>,
    intermediate_key: SigningKey,
}

impl SimulatedCa {
    /// Creates a new root and intermediate, valid from shortly before `now` for
    /// ten years. The root's key is dropped once the intermediate is signed.
    pub fn generate(now: UnixTime) -> Result<Self, DevCaError> {
        let root_key = generate_key()?;
        let root_name = name(SIMULATED_ROOT_CN)?;
        let root_der = issue(
            DevProfile {
                subject: root_name.clone(),
                issuer: root_name.clone(),
                role: Role::Root,
            },
            validity(now, CA_LIFETIME)?,
            root_key.verifying_key(),
            &root_key,
        )?;
        let intermediate_key = generate_key()?;
        let intermediate_der = issue(
            DevProfile {
                subject: name(SIMULATED_INTERMEDIATE_CN)?,
                issuer: root_name,
                role: Role::Intermediate,
            },
            validity(now, CA_LIFETIME)?,
            intermediate_key.verifying_key(),
            &root_key,
        )?;
        Ok(Self {
            root_der,
            intermediate_der,
            intermediate_key,
        })
    }

    /// Parses the on-disk form (see [`SimulatedCa::to_pem`]) and checks that the
    /// intermediate was issued by the root and that the key is the intermediate's.
    pub fn from_pem(pem: &str) -> Result<Self, DevCaError> {
        let mut certificates = Vec::new();
        let mut key = None;
        for (label, der) in pem_blocks(pem)? {
            match label.as_str() {
                "CERTIFICATE" => certificates.push(der.to_vec()),
                "PRIVATE KEY" if key.is_none() => key = Some(der),
                other => return Err(DevCaError::Pem(format!("unexpected block {other:?}"))),
            }
        }
        let [root_der, intermediate_der]: [Vec<u8>; 2] =
            certificates.try_into().map_err(|found: Vec<_>| {
                DevCaError::Pem(format!("expected 2 certificates, found {}", found.len()))
            })?;
        let key = key.ok_or_else(|| DevCaError::Pem("no PRIVATE KEY block".into()))?;
        let intermediate_key = SigningKey::from_pkcs8_der(&key)
            .map_err(|e| DevCaError::Pem(format!("intermediate key: {e}")))?;
        let inconsistent = |e: String| DevCaError::Inconsistent(e);
        let root = ChainCert::parse(&root_der, CertPosition::Bundle(0))
            .map_err(|e| inconsistent(e.to_string()))?;
        let intermediate = ChainCert::parse(&intermediate_der, CertPosition::Bundle(1))
            .map_err(|e| inconsistent(e.to_string()))?;
        intermediate
            .check_issued_by(&root)
            .map_err(|e| inconsistent(e.to_string()))?;
        let cert_key = intermediate
            .p384_key()
            .map_err(|e| inconsistent(e.to_string()))?;
        if &cert_key != intermediate_key.verifying_key() {
            return Err(inconsistent(
                "the private key does not belong to the intermediate certificate".into(),
            ));
        }
        Ok(Self {
            root_der,
            intermediate_der,
            intermediate_key,
        })
    }

    /// The on-disk form: PEM blocks `CERTIFICATE` (root), `CERTIFICATE`
    /// (intermediate), `PRIVATE KEY` (the intermediate's, PKCS#8). It contains a
    /// private key: the returned string is zeroized on drop.
    pub fn to_pem(&self) -> Result<Zeroizing<String>, DevCaError> {
        let cert = |der: &[u8]| {
            pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, der)
                .map_err(|e| DevCaError::Pem(e.to_string()))
        };
        let key = self
            .intermediate_key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| DevCaError::Pem(e.to_string()))?;
        let mut out = Zeroizing::new(String::new());
        out.push_str(&cert(&self.root_der)?);
        out.push_str(&cert(&self.intermediate_der)?);
        out.push_str(&key);
        Ok(out)
    }

    /// Loads a CA saved with [`SimulatedCa::save`].
    pub fn load(path: &Path) -> Result<Self, DevCaError> {
        let io = |source| DevCaError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut file = fs::File::open(path).map_err(io)?;
        let len = file.metadata().map_err(io)?.len();
        if len > CA_FILE_MAX {
            return Err(DevCaError::FileTooLarge {
                path: path.to_path_buf(),
                len,
            });
        }
        let mut text = Zeroizing::new(String::new());
        file.read_to_string(&mut text).map_err(io)?;
        Self::from_pem(&text)
    }

    /// Saves the CA (with the intermediate's private key) to `path`, readable by
    /// the owner only.
    pub fn save(&self, path: &Path) -> Result<(), DevCaError> {
        use std::os::unix::fs::OpenOptionsExt;
        let io = |source| DevCaError::Io {
            path: path.to_path_buf(),
            source,
        };
        let pem = self.to_pem()?;
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .map_err(io)?;
        file.write_all(pem.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }

    /// Loads the CA at `path`, or creates one (valid from `now`) and saves it there.
    pub fn load_or_generate(path: &Path, now: UnixTime) -> Result<Self, DevCaError> {
        if path.exists() {
            return Self::load(path);
        }
        let ca = Self::generate(now)?;
        ca.save(path)?;
        Ok(ca)
    }

    /// The simulated root's DER: what a verifier must be handed to accept these
    /// documents.
    pub fn root_der(&self) -> &[u8] {
        &self.root_der
    }

    /// The simulated root as PEM (public; safe to publish).
    pub fn root_pem(&self) -> Result<String, DevCaError> {
        pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, &self.root_der)
            .map_err(|e| DevCaError::Pem(e.to_string()))
    }

    /// The simulated root as a verifier's trust anchor.
    pub fn trust_anchor(&self) -> Result<TrustAnchor, RootError> {
        TrustAnchor::from_der(&self.root_der)
    }

    fn issue_leaf(&self, now: UnixTime) -> Result<Leaf, DevCaError> {
        let intermediate = ChainCert::parse(&self.intermediate_der, CertPosition::Bundle(1))
            .map_err(|e| DevCaError::Inconsistent(e.to_string()))?;
        let key = generate_key()?;
        let validity = validity(now, SIMULATED_LEAF_LIFETIME)?;
        let not_before = UnixTime::from_millis(millis(validity.not_before.to_unix_duration()));
        let not_after = UnixTime::from_millis(millis(validity.not_after.to_unix_duration()));
        let der = issue(
            DevProfile {
                subject: name(SIMULATED_LEAF_CN)?,
                issuer: intermediate.cert.tbs_certificate().subject().clone(),
                role: Role::Leaf,
            },
            validity,
            key.verifying_key(),
            &self.intermediate_key,
        )?;
        Ok(Leaf {
            der,
            key,
            not_before,
            not_after,
        })
    }
}

impl std::fmt::Debug for SimulatedCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatedCa")
            .field(
                "root_sha256",
                &crate::hex(&sha2::Sha256::digest(&self.root_der)),
            )
            .finish_non_exhaustive()
    }
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// One PEM block: its label and its DER (zeroized: it may be a private key).
type PemBlock = (String, Zeroizing<Vec<u8>>);

/// Splits PEM text into blocks, each decoded strictly.
fn pem_blocks(text: &str) -> Result<Vec<PemBlock>, DevCaError> {
    const BEGIN: &str = "-----BEGIN ";
    const END: &str = "-----END ";
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let block = &rest[start..];
        let end = block
            .find(END)
            .ok_or_else(|| DevCaError::Pem("unterminated block".into()))?;
        let line_end = block[end..].find('\n').map_or(block.len(), |i| end + i + 1);
        let (label, der) = pem_rfc7468::decode_vec(block[..line_end].trim_end().as_bytes())
            .map_err(|e| DevCaError::Pem(e.to_string()))?;
        blocks.push((label.to_string(), Zeroizing::new(der)));
        rest = &block[line_end..];
    }
    Ok(blocks)
}

/// Where the simulated PCR0 comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pcr0Source {
    /// SHA-384 of the running binary (`std::env::current_exe`), so PCR
    /// expectations can be exercised against a known build.
    CurrentExe,
    /// SHA-384 of the given file.
    File(PathBuf),
    /// A fixed value (tests; all zero together with PCR1/PCR2 means debug mode).
    Value([u8; PCR_LEN]),
}

impl Pcr0Source {
    fn resolve(&self) -> Result<[u8; PCR_LEN], ProviderError> {
        let path = match self {
            Self::Value(value) => return Ok(*value),
            Self::File(path) => path.clone(),
            Self::CurrentExe => std::env::current_exe().map_err(|source| ProviderError::Pcr0 {
                path: PathBuf::from("<current executable>"),
                source,
            })?,
        };
        let io = |source| ProviderError::Pcr0 {
            path: path.clone(),
            source,
        };
        let mut file = fs::File::open(&path).map_err(io)?;
        let mut hasher = Sha384::new();
        let mut chunk = vec![0u8; HASH_CHUNK];
        loop {
            let n = file.read(&mut chunk).map_err(io)?;
            if n == 0 {
                break;
            }
            hasher.update(&chunk[..n]);
        }
        Ok(hasher.finalize().into())
    }
}

/// The current leaf and its key.
struct Leaf {
    der: Vec<u8>,
    key: SigningKey,
    not_before: UnixTime,
    not_after: UnixTime,
}

impl Leaf {
    fn fits(&self, now: UnixTime) -> bool {
        let margin = millis(LEAF_RENEW_MARGIN);
        self.not_before <= now
            && now.as_millis().saturating_add(margin) <= self.not_after.as_millis()
    }
}

/// Documents with the NSM's exact structure, signed by a [`SimulatedCa`].
pub struct SimulatedProvider {
    ca: SimulatedCa,
    leaf: Mutex<Option<Leaf>>,
    pcrs: BTreeMap<u8, Vec<u8>>,
    module_id: String,
}

impl SimulatedProvider {
    /// A provider signing with `ca`, PCR0 from `pcr0`, PCRs 1..=15 zero (like an
    /// enclave that extended nothing else).
    pub fn new(ca: SimulatedCa, pcr0: &Pcr0Source) -> Result<Self, ProviderError> {
        let mut pcrs: BTreeMap<u8, Vec<u8>> = (0..SIMULATED_PCR_COUNT)
            .map(|index| (index, vec![0; PCR_LEN]))
            .collect();
        pcrs.insert(0, pcr0.resolve()?.to_vec());
        let mut id = [0u8; 8];
        entropy(&mut id)?;
        Ok(Self {
            ca,
            leaf: Mutex::new(None),
            pcrs,
            module_id: format!("i-simulated-enc{}", crate::hex(&id)),
        })
    }

    /// Sets PCR `index` (below 16) to `value`, e.g. PCR1/PCR2 or PCR8.
    pub fn with_pcr(mut self, index: u8, value: [u8; PCR_LEN]) -> Self {
        if index < SIMULATED_PCR_COUNT {
            self.pcrs.insert(index, value.to_vec());
        }
        self
    }

    /// The PCR values this provider attests.
    pub fn pcrs(&self) -> &BTreeMap<u8, Vec<u8>> {
        &self.pcrs
    }

    /// The development CA (for its root).
    pub fn ca(&self) -> &SimulatedCa {
        &self.ca
    }

    /// A document as of `now` (the provider's clock, injectable for tests). A
    /// fresh leaf is issued when the current one does not cover `now` plus an hour.
    pub fn attest_at(
        &self,
        request: &AttestationRequest,
        now: UnixTime,
    ) -> Result<Vec<u8>, ProviderError> {
        self.attest_with(request, now, |_| {})
    }

    /// Like [`SimulatedProvider::attest_at`], but `edit` may change the document
    /// before it is signed: for testing verifiers against authentic documents
    /// that break AWS's rules. Never used to serve documents.
    pub fn attest_with(
        &self,
        request: &AttestationRequest,
        now: UnixTime,
        edit: impl FnOnce(&mut AttestationDoc),
    ) -> Result<Vec<u8>, ProviderError> {
        let mut guard = self
            .leaf
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !guard.as_ref().is_some_and(|leaf| leaf.fits(now)) {
            *guard = Some(self.ca.issue_leaf(now)?);
        }
        let Some(leaf) = guard.as_ref() else {
            return Err(DevCaError::Build("no leaf".into()).into());
        };
        let mut doc = AttestationDoc {
            module_id: self.module_id.clone(),
            digest: "SHA384".into(),
            timestamp_ms: now.as_millis(),
            pcrs: self.pcrs.clone(),
            certificate: leaf.der.clone(),
            cabundle: vec![self.ca.root_der.clone(), self.ca.intermediate_der.clone()],
            public_key: request.public_key().map(<[u8]>::to_vec),
            user_data: request.user_data().map(<[u8]>::to_vec),
            nonce: Some(request.nonce().to_vec()),
        };
        edit(&mut doc);
        let payload = doc.to_cbor()?;
        let sign1 = CoseSign1Builder::new()
            .protected(
                HeaderBuilder::new()
                    .algorithm(iana::Algorithm::ES384)
                    .build(),
            )
            .payload(payload)
            .create_signature(b"", |sig_structure| {
                let signature: Signature = leaf.key.sign(sig_structure);
                signature.to_bytes().to_vec()
            })
            .build();
        sign1.to_vec().map_err(|e| {
            ProviderError::Encode(crate::DocumentError::Encode {
                what: "COSE_Sign1",
                reason: e.to_string(),
            })
        })
    }
}

impl std::fmt::Debug for SimulatedProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimulatedProvider")
            .field("ca", &self.ca)
            .field("module_id", &self.module_id)
            .field("pcr0", &self.pcrs.get(&0).map(|v| crate::hex(v)))
            .finish_non_exhaustive()
    }
}

impl AttestationProvider for SimulatedProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Simulated
    }

    fn attest(&self, request: &AttestationRequest) -> Result<Vec<u8>, ProviderError> {
        let now = UnixTime::from_system_time(SystemTime::now()).ok_or(ProviderError::Clock)?;
        self.attest_at(request, now)
    }

    fn fill_random(&self, buf: &mut [u8]) -> Result<(), ProviderError> {
        getrandom::fill(buf).map_err(ProviderError::Entropy)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::VerifyError;

    const NOW: UnixTime = UnixTime::from_secs(1_750_000_000);

    #[test]
    fn issued_certificates_carry_the_roles_the_verifier_checks() {
        let ca = SimulatedCa::generate(NOW).unwrap();
        let root = ChainCert::parse(ca.root_der(), CertPosition::Bundle(0)).unwrap();
        let intermediate = ChainCert::parse(&ca.intermediate_der, CertPosition::Bundle(1)).unwrap();
        let leaf_der = ca.issue_leaf(NOW).unwrap().der;
        let leaf = ChainCert::parse(&leaf_der, CertPosition::Leaf).unwrap();
        assert!(leaf_der.len() <= crate::CERTIFICATE_MAX);
        root.check_ca(1).unwrap();
        intermediate.check_ca(0).unwrap();
        leaf.check_leaf().unwrap();
        // The constraints bite: a CA as leaf, a leaf as CA, too long a path.
        assert!(matches!(
            intermediate.check_leaf(),
            Err(VerifyError::LeafIsCa)
        ));
        assert!(matches!(leaf.check_ca(0), Err(VerifyError::NotACa { .. })));
        assert!(matches!(
            intermediate.check_ca(1),
            Err(VerifyError::PathLengthExceeded {
                limit: 0,
                actual: 1,
                ..
            })
        ));
        assert!(matches!(
            root.check_ca(2),
            Err(VerifyError::PathLengthExceeded {
                limit: 1,
                actual: 2,
                ..
            })
        ));
        // Signatures chain, and not across levels.
        root.check_issued_by(&root).unwrap();
        intermediate.check_issued_by(&root).unwrap();
        leaf.check_issued_by(&intermediate).unwrap();
        assert!(leaf.check_issued_by(&root).is_err());
        assert!(
            root.subject().contains(SIMULATED_ROOT_CN),
            "{}",
            root.subject()
        );
    }

    #[test]
    fn leaves_are_reissued_near_expiry() {
        let ca = SimulatedCa::generate(NOW).unwrap();
        let leaf = ca.issue_leaf(NOW).unwrap();
        assert!(leaf.fits(NOW));
        let later = UnixTime::from_millis(NOW.as_millis() + millis(SIMULATED_LEAF_LIFETIME));
        assert!(!leaf.fits(later));
    }

    #[test]
    fn pem_blocks_are_strict() {
        assert!(SimulatedCa::from_pem("").is_err());
        let ca = SimulatedCa::generate(NOW).unwrap();
        let pem = ca.to_pem().unwrap();
        let again = SimulatedCa::from_pem(&pem).unwrap();
        assert_eq!(again.root_der(), ca.root_der());
        // A key from another CA is refused.
        let other = SimulatedCa::generate(NOW).unwrap();
        let other_pem = other.to_pem().unwrap();
        let key_block = &other_pem[other_pem.find("-----BEGIN PRIVATE KEY").unwrap()..];
        let certs = &pem[..pem.find("-----BEGIN PRIVATE KEY").unwrap()];
        let mixed = format!("{certs}{key_block}");
        assert!(matches!(
            SimulatedCa::from_pem(&mixed),
            Err(DevCaError::Inconsistent(_))
        ));
        // So is an intermediate from another root.
        let root_block = &pem[..pem.find("-----END CERTIFICATE-----").unwrap() + 26];
        let rest = &other_pem[other_pem.find("-----END CERTIFICATE-----").unwrap() + 26..];
        let mixed = format!("{root_block}{rest}");
        assert!(matches!(
            SimulatedCa::from_pem(&mixed),
            Err(DevCaError::Inconsistent(_))
        ));
        let debug = format!("{ca:?}");
        assert!(!debug.contains("PRIVATE"), "{debug}");
    }
}
