//! The verifier: from COSE bytes to a [`VerifiedDocument`], or the first reason not to.
//!
//! Order matters and is fixed: bound the input; decode COSE_Sign1 (tagged or not);
//! require ES384 and a 96-byte signature; decode the payload's *structure* only to
//! find the leaf certificate; verify the ES384 signature over the Sig_structure with
//! the leaf's key — only then are payload fields looked at: AWS's field rules,
//! freshness against the caller's clock (nonce and/or maximum age), the chain to
//! the pinned root (byte-equal `cabundle[0]`, each issuer's signature, CA
//! constraints, every certificate valid at the document's timestamp *and* at the
//! verifier's time), debug mode, PCRs, `user_data`.
//!
//! Why both times: leaf certificates live about three hours. Checking only the
//! verifier's clock would make archived documents unverifiable, so archived
//! documents are checked "as of" an explicit time ([`Freshness::archived`]);
//! checking only the document's time would accept a replayed document forever,
//! so the verifier's time (plus a nonce or a maximum age) bounds replays.

use std::{collections::BTreeMap, time::Duration};

use coset::{CborSerializable, CoseSign1, TaggedCborSerializable, iana};
use p384::ecdsa::{Signature, signature::Verifier};

use crate::{
    document::{AttestationDoc, FieldError, UserData, check_certificate_size},
    error::{CertPosition, TimeReference, VerifyError},
    root::TrustAnchor,
    x509::ChainCert,
};

/// Largest COSE document accepted, in bytes. The spec caps the payload at 16 KiB
/// (`bstr .size (1..16384)`); the NSM driver's response buffer is 12 KiB; 17 KiB
/// leaves room for the COSE framing around a maximal payload and nothing more.
pub const MAX_DOCUMENT_SIZE: usize = 17 * 1024;
/// Length of an ES384 signature in COSE: r || s, 48 bytes each (RFC 8152 8.1).
const ES384_SIGNATURE_LEN: usize = 96;
/// How far a document's timestamp may be ahead of the verifier's clock before it
/// is called "from the future": NSM and client clocks are NTP-disciplined but a
/// browser's may be off by a minute or two; more than this is a wrong clock or a
/// forged time, and either way the age check would be meaningless.
pub const MAX_CLOCK_SKEW: Duration = Duration::from_secs(120);

/// A point in time, as milliseconds since the Unix epoch (UTC). The verifier never
/// reads a clock: callers pass one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixTime(u64);

impl UnixTime {
    /// From milliseconds since the epoch.
    pub const fn from_millis(millis: u64) -> Self {
        Self(millis)
    }

    /// From seconds since the epoch (saturating).
    pub const fn from_secs(secs: u64) -> Self {
        Self(secs.saturating_mul(1000))
    }

    /// From a `SystemTime` the caller read (`None` before the epoch or beyond u64 ms).
    pub fn from_system_time(time: std::time::SystemTime) -> Option<Self> {
        let since = time.duration_since(std::time::UNIX_EPOCH).ok()?;
        u64::try_from(since.as_millis()).ok().map(Self)
    }

    /// Milliseconds since the epoch.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// As a duration since the epoch.
    pub const fn as_duration(self) -> Duration {
        Duration::from_millis(self.0)
    }
}

/// How the verifier knows a document is fresh, not replayed. At least one of a
/// nonce (the one the caller sent) and a maximum age is always required; live
/// checks should use both ([`Freshness::live`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Freshness {
    now: UnixTime,
    nonce: Option<Vec<u8>>,
    max_age: Option<Duration>,
}

impl Freshness {
    /// Live check: the document echoes `nonce` and is at most `max_age` old at `now`.
    pub fn live(now: UnixTime, nonce: impl Into<Vec<u8>>, max_age: Duration) -> Self {
        Self {
            now,
            nonce: Some(nonce.into()),
            max_age: Some(max_age),
        }
    }

    /// The document echoes `nonce` (which the caller chose fresh and uses once);
    /// its age is not checked, but its certificates must be valid at `now`.
    pub fn nonce_only(now: UnixTime, nonce: impl Into<Vec<u8>>) -> Self {
        Self {
            now,
            nonce: Some(nonce.into()),
            max_age: None,
        }
    }

    /// The document is at most `max_age` old at `now`, whatever its nonce.
    pub fn max_age_only(now: UnixTime, max_age: Duration) -> Self {
        Self {
            now,
            nonce: None,
            max_age: Some(max_age),
        }
    }

    /// An archived document, checked as of the explicit time `at` (for example the
    /// time it was recorded, or its own timestamp) instead of the wall clock: it
    /// must be at most `max_age` older than `at`, and its certificates valid at
    /// `at`. This is how documents whose three-hour leaf has long expired are
    /// verified.
    pub fn archived(at: UnixTime, max_age: Duration) -> Self {
        Self::max_age_only(at, max_age)
    }

    /// The verifier's clock (or the explicit archive time).
    pub fn now(&self) -> UnixTime {
        self.now
    }
}

/// What a document must satisfy, beyond being authentic.
#[derive(Clone, Debug)]
pub struct Policy {
    root: TrustAnchor,
    freshness: Freshness,
    allow_debug: bool,
    pcrs: BTreeMap<u8, Vec<u8>>,
    chain_id: Option<u64>,
    contract: Option<[u8; 20]>,
    operator: Option<[u8; 20]>,
}

impl Policy {
    /// A policy trusting exactly `root` (use [`TrustAnchor::aws_nitro_root_g1`] for
    /// real enclaves; any other root makes accepted documents *simulated*), with
    /// the given freshness, debug documents refused and no further expectations.
    pub fn new(root: TrustAnchor, freshness: Freshness) -> Self {
        Self {
            root,
            freshness,
            allow_debug: false,
            pcrs: BTreeMap::new(),
            chain_id: None,
            contract: None,
            operator: None,
        }
    }

    /// Accept debug-mode documents (PCR0, PCR1 and PCR2 all zero). Their enclave's
    /// memory is readable by the host: never for production.
    pub fn allow_debug(mut self, allow: bool) -> Self {
        self.allow_debug = allow;
        self
    }

    /// Require PCR `index` to equal `value` (any subset of indexes may be given).
    pub fn expect_pcr(mut self, index: u8, value: impl Into<Vec<u8>>) -> Self {
        self.pcrs.insert(index, value.into());
        self
    }

    /// Require `user_data` to name this chain id.
    pub fn expect_chain_id(mut self, chain_id: u64) -> Self {
        self.chain_id = Some(chain_id);
        self
    }

    /// Require `user_data` to name this contract address.
    pub fn expect_contract(mut self, contract: [u8; 20]) -> Self {
        self.contract = Some(contract);
        self
    }

    /// Require `user_data` to name this operator address.
    pub fn expect_operator(mut self, operator: [u8; 20]) -> Self {
        self.operator = Some(operator);
        self
    }

    /// The trusted root.
    pub fn root(&self) -> &TrustAnchor {
        &self.root
    }

    fn expects_user_data(&self) -> bool {
        self.chain_id.is_some() || self.contract.is_some() || self.operator.is_some()
    }
}

/// A document that passed every check of a [`Policy`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedDocument {
    /// The document's fields (module id, timestamp, PCRs, certificates, optional
    /// fields as they were).
    pub document: AttestationDoc,
    /// `user_data` decoded as [`UserData`], when it is one (`None` when absent or
    /// when it is something else and the policy had no expectations about it).
    pub user_data: Option<UserData>,
    /// True when the document chains to a root other than AWS's: produced by the
    /// simulated provider, proves nothing about hardware.
    pub simulated: bool,
    /// True when PCR0, PCR1 and PCR2 are all zero (only possible with
    /// [`Policy::allow_debug`]).
    pub debug_mode: bool,
    /// SHA-256 of the root the chain ended in.
    pub root_fingerprint: [u8; 32],
}

impl VerifiedDocument {
    /// The document's creation time.
    pub fn timestamp(&self) -> UnixTime {
        UnixTime::from_millis(self.document.timestamp_ms)
    }

    /// PCR `index`, if present.
    pub fn pcr(&self, index: u8) -> Option<&[u8]> {
        self.document.pcr(index)
    }
}

/// Decodes a COSE_Sign1 attestation document **without verifying anything**: for
/// display and diagnostics only. Nothing in the result may be believed.
pub fn decode_unverified(document: &[u8]) -> Result<AttestationDoc, VerifyError> {
    let sign1 = decode_cose(document)?;
    let payload = sign1
        .payload
        .as_deref()
        .ok_or(VerifyError::MissingPayload)?;
    AttestationDoc::from_cbor(payload).map_err(VerifyError::MalformedPayload)
}

fn decode_cose(document: &[u8]) -> Result<CoseSign1, VerifyError> {
    if document.len() > MAX_DOCUMENT_SIZE {
        return Err(VerifyError::DocumentTooLarge {
            len: document.len(),
            max: MAX_DOCUMENT_SIZE,
        });
    }
    // Tagged (CBOR tag 18) or untagged; the NSM emits untagged.
    CoseSign1::from_tagged_slice(document)
        .or_else(|_| CoseSign1::from_slice(document))
        .map_err(VerifyError::MalformedCose)
}

/// Verifies a COSE_Sign1 Nitro attestation document against `policy`.
///
/// Every check is made; the first failure is returned. See the module
/// documentation for the order.
pub fn verify(document: &[u8], policy: &Policy) -> Result<VerifiedDocument, VerifyError> {
    let sign1 = decode_cose(document)?;
    let es384 = coset::Algorithm::Assigned(iana::Algorithm::ES384);
    match &sign1.protected.header.alg {
        Some(alg) if *alg == es384 => {}
        other => return Err(VerifyError::UnsupportedAlgorithm(format!("{other:?}"))),
    }
    if sign1.signature.len() != ES384_SIGNATURE_LEN {
        return Err(VerifyError::SignatureLength(sign1.signature.len()));
    }
    let payload = sign1
        .payload
        .as_deref()
        .ok_or(VerifyError::MissingPayload)?;
    // Structure only: the leaf certificate is needed to check the signature.
    let doc = AttestationDoc::from_cbor(payload).map_err(VerifyError::MalformedPayload)?;
    check_certificate_size(&doc.certificate)?;
    let leaf = ChainCert::parse(&doc.certificate, CertPosition::Leaf)?;
    let leaf_key = leaf.p384_key()?;
    let signature =
        Signature::from_slice(&sign1.signature).map_err(|_| VerifyError::SignatureInvalid)?;
    // Sig_structure over the original protected-header bytes and the payload,
    // with empty external AAD (RFC 8152 section 4.4), as the NSM signs it.
    sign1.verify_signature(b"", |_, sig_structure| {
        leaf_key
            .verify(sig_structure, &signature)
            .map_err(|_| VerifyError::SignatureInvalid)
    })?;

    // Authentic (if the chain holds); now the fields may be looked at.
    doc.check_fields()?;
    // Freshness before the chain: a replayed document is reported as stale rather
    // than as "leaf expired", which would be true but less useful.
    check_freshness(&doc, &policy.freshness)?;
    check_chain(&doc, &leaf, policy.root(), policy.freshness.now)?;
    let debug_mode = doc.is_debug_mode();
    if debug_mode && !policy.allow_debug {
        return Err(VerifyError::DebugMode);
    }
    for (&index, expected) in &policy.pcrs {
        let actual = doc.pcr(index).ok_or(VerifyError::PcrMissing { index })?;
        if actual != expected.as_slice() {
            return Err(VerifyError::PcrMismatch {
                index,
                expected: crate::hex(expected),
                actual: crate::hex(actual),
            });
        }
    }
    let user_data = check_user_data(&doc, policy)?;
    Ok(VerifiedDocument {
        user_data,
        simulated: !policy.root().is_aws(),
        debug_mode,
        root_fingerprint: policy.root().fingerprint(),
        document: doc,
    })
}

/// The chain: `cabundle[0]` is the pinned root byte for byte, each later entry and
/// then the leaf is signed by the one before, issuers are CAs with keyCertSign and
/// a sufficient path length, the leaf is not a CA, and every certificate is valid
/// both at the document's timestamp and at the verifier's time.
fn check_chain(
    doc: &AttestationDoc,
    leaf: &ChainCert,
    root: &TrustAnchor,
    now: UnixTime,
) -> Result<(), VerifyError> {
    let times = [
        (
            TimeReference::DocumentTime,
            Duration::from_millis(doc.timestamp_ms),
        ),
        (TimeReference::VerifierTime, now.as_duration()),
    ];
    let Some(first) = doc.cabundle.first() else {
        return Err(FieldError::CabundleEmpty.into());
    };
    if first.as_slice() != root.der() {
        let found = TrustAnchor::from_der(first)
            .map(|anchor| anchor.subject().to_string())
            .unwrap_or_else(|e| format!("<{e}>"));
        return Err(VerifyError::UntrustedRoot {
            found,
            trusted: root.subject().to_string(),
        });
    }
    let issuers = doc
        .cabundle
        .iter()
        .enumerate()
        .map(|(i, der)| ChainCert::parse(der, CertPosition::Bundle(i)))
        .collect::<Result<Vec<_>, _>>()?;
    let total = issuers.len();
    for (i, cert) in issuers.iter().enumerate() {
        cert.check_critical_extensions()?;
        // CA certificates below this one in the path: the later bundle entries.
        cert.check_ca(total - 1 - i)?;
        for (reference, at) in times {
            cert.check_valid_at(at, reference)?;
        }
        let parent = if i == 0 { cert } else { &issuers[i - 1] };
        cert.check_issued_by(parent)?;
    }
    leaf.check_critical_extensions()?;
    leaf.check_leaf()?;
    for (reference, at) in times {
        leaf.check_valid_at(at, reference)?;
    }
    let last = issuers.last().ok_or(FieldError::CabundleEmpty)?;
    leaf.check_issued_by(last)
}

fn check_freshness(doc: &AttestationDoc, freshness: &Freshness) -> Result<(), VerifyError> {
    if let Some(expected) = &freshness.nonce {
        match &doc.nonce {
            None => {
                return Err(VerifyError::NonceMissing {
                    expected: crate::hex(expected),
                });
            }
            Some(actual) if actual != expected => {
                return Err(VerifyError::NonceMismatch {
                    expected: crate::hex(expected),
                    actual: crate::hex(actual),
                });
            }
            Some(_) => {}
        }
    }
    if let Some(max_age) = freshness.max_age {
        let now = freshness.now.as_millis();
        let skew = u64::try_from(MAX_CLOCK_SKEW.as_millis()).unwrap_or(u64::MAX);
        if doc.timestamp_ms > now.saturating_add(skew) {
            return Err(VerifyError::DocumentFromFuture {
                ahead_ms: doc.timestamp_ms - now,
            });
        }
        let age_ms = now.saturating_sub(doc.timestamp_ms);
        let max_ms = u64::try_from(max_age.as_millis()).unwrap_or(u64::MAX);
        if age_ms > max_ms {
            return Err(VerifyError::DocumentTooOld { age_ms, max_ms });
        }
    }
    Ok(())
}

fn check_user_data(doc: &AttestationDoc, policy: &Policy) -> Result<Option<UserData>, VerifyError> {
    let decoded = doc.user_data.as_deref().map(UserData::from_cbor);
    if !policy.expects_user_data() {
        // Nothing to check: report it when it is ours, stay quiet when it is not.
        return Ok(decoded.and_then(Result::ok));
    }
    let user = decoded
        .ok_or(VerifyError::UserDataMissing)?
        .map_err(VerifyError::MalformedUserData)?;
    if let Some(expected) = policy.chain_id
        && user.chain_id != expected
    {
        return Err(VerifyError::ChainIdMismatch {
            expected,
            actual: user.chain_id,
        });
    }
    if let Some(expected) = policy.contract
        && user.contract != expected
    {
        return Err(VerifyError::ContractMismatch {
            expected: crate::hex(&expected),
            actual: crate::hex(&user.contract),
        });
    }
    if let Some(expected) = policy.operator
        && user.operator != expected
    {
        return Err(VerifyError::OperatorMismatch {
            expected: crate::hex(&expected),
            actual: crate::hex(&user.operator),
        });
    }
    Ok(Some(user))
}
