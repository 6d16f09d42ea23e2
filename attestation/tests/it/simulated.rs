//! The simulated provider end to end: provider → COSE bytes → verifier.

use std::{io::Read, time::Duration};

use attestation::{
    AttestationDoc, CertPosition, FieldError, Freshness, KeyOrigin, Policy, TimeReference,
    TrustAnchor, UnixTime, UserData, VerifyError, decode_unverified,
    provider::{
        AttestationProvider, AttestationRequest, Pcr0Source, ProviderKind, SIMULATED_ROOT_CN,
        SimulatedCa, SimulatedProvider,
    },
    verify,
};
use coset::{CborSerializable, CoseSign1, TaggedCborSerializable};
use sha2::{Digest, Sha384};

const NONCE: &[u8] = b"0123456789abcdef0123456789abcdef";
const CONTRACT: [u8; 20] = [0xc0; 20];
const OPERATOR: [u8; 20] = [0x0e; 20];
const CHAIN_ID: u64 = 31_337;
const MAX_AGE: Duration = Duration::from_secs(300);

fn now() -> UnixTime {
    UnixTime::from_system_time(std::time::SystemTime::now()).unwrap()
}

fn user_data() -> UserData {
    UserData {
        app: "enclave-lottery".into(),
        version: "0.1.0".into(),
        chain_id: CHAIN_ID,
        contract: CONTRACT,
        operator: OPERATOR,
        key_origin: KeyOrigin::Generated,
        key_injection: false,
        rpc_hosts: vec!["rpc.example.org:443".into()],
        rpc_quorum: 1,
    }
}

fn request() -> AttestationRequest {
    AttestationRequest::new(NONCE)
        .unwrap()
        .with_user_data(user_data().to_cbor().unwrap())
        .unwrap()
        .with_public_key(vec![0x55; 32])
        .unwrap()
}

fn provider(pcr0: &Pcr0Source) -> SimulatedProvider {
    SimulatedProvider::new(SimulatedCa::generate(now()).unwrap(), pcr0).unwrap()
}

fn simulated_policy(provider: &SimulatedProvider, at: UnixTime) -> Policy {
    Policy::new(
        provider.ca().trust_anchor().unwrap(),
        Freshness::live(at, NONCE, MAX_AGE),
    )
}

fn exe_sha384() -> Vec<u8> {
    let mut file = std::fs::File::open(std::env::current_exe().unwrap()).unwrap();
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).unwrap();
    Sha384::digest(&bytes).to_vec()
}

#[test]
fn simulated_documents_round_trip_with_the_simulated_root() {
    let provider = provider(&Pcr0Source::CurrentExe);
    assert_eq!(provider.kind(), ProviderKind::Simulated);
    let t = now();
    let doc = provider.attest_at(&request(), t).unwrap();
    let policy = simulated_policy(&provider, t)
        .expect_pcr(0, exe_sha384())
        .expect_chain_id(CHAIN_ID)
        .expect_contract(CONTRACT)
        .expect_operator(OPERATOR);
    let verified = verify(&doc, &policy).unwrap();
    assert!(verified.simulated);
    assert!(!verified.debug_mode);
    assert_eq!(verified.user_data, Some(user_data()));
    assert_eq!(verified.document.nonce.as_deref(), Some(NONCE));
    assert_eq!(
        verified.document.public_key.as_deref(),
        Some(&[0x55u8; 32][..])
    );
    assert_eq!(verified.timestamp(), t);
    assert_eq!(
        verified.root_fingerprint,
        provider.ca().trust_anchor().unwrap().fingerprint()
    );

    // Through the trait and the wall clock, too.
    let dynamic: &dyn AttestationProvider = &provider;
    let doc = dynamic.attest(&request()).unwrap();
    verify(&doc, &simulated_policy(&provider, now())).unwrap();
    let mut random = [0u8; 64];
    dynamic.fill_random(&mut random).unwrap();
    assert_ne!(random, [0u8; 64]);
}

#[test]
fn simulated_documents_have_the_nsm_structure() {
    let provider = provider(&Pcr0Source::Value([0xab; 48]));
    let doc = provider.attest(&request()).unwrap();
    // Untagged 4-array, protected header {1: -35}, empty unprotected header.
    assert_eq!(&doc[..6], &[0x84, 0x44, 0xa1, 0x01, 0x38, 0x22]);
    let sign1 = CoseSign1::from_slice(&doc).unwrap();
    assert!(sign1.unprotected.is_empty());
    assert_eq!(sign1.signature.len(), 96);
    let decoded = decode_unverified(&doc).unwrap();
    assert_eq!(decoded.digest, "SHA384");
    assert!(decoded.module_id.starts_with("i-simulated-enc"));
    assert_eq!(decoded.pcrs.len(), 16);
    assert!(decoded.pcrs.values().all(|v| v.len() == 48));
    assert_eq!(decoded.pcr(0), Some(&[0xab; 48][..]));
    assert_eq!(decoded.cabundle.len(), 2);
    decoded.check_fields().unwrap();
    // The root says what it is, in a way no one can mistake for AWS's.
    let root = TrustAnchor::from_der(&decoded.cabundle[0]).unwrap();
    assert!(!root.is_aws());
    assert!(
        root.subject().contains(SIMULATED_ROOT_CN),
        "{}",
        root.subject()
    );
    assert!(!root.subject().contains("aws.nitro-enclaves"));
}

#[test]
fn simulated_documents_are_rejected_without_the_simulated_root() {
    let provider = provider(&Pcr0Source::Value([1; 48]));
    let t = now();
    let doc = provider.attest_at(&request(), t).unwrap();
    let aws = Policy::new(
        TrustAnchor::aws_nitro_root_g1().unwrap(),
        Freshness::live(t, NONCE, MAX_AGE),
    );
    let err = verify(&doc, &aws).unwrap_err();
    let VerifyError::UntrustedRoot { found, .. } = &err else {
        panic!("unexpected error: {err}");
    };
    assert!(found.contains("SIMULATED"), "{found}");
    assert!(err.to_string().contains("simulated"), "{err}");

    // Another simulated CA's root is no better.
    let other = SimulatedCa::generate(t).unwrap();
    let policy = Policy::new(
        other.trust_anchor().unwrap(),
        Freshness::live(t, NONCE, MAX_AGE),
    );
    let err = verify(&doc, &policy).unwrap_err();
    assert!(matches!(err, VerifyError::UntrustedRoot { .. }), "{err}");
}

#[test]
fn tagged_simulated_documents_verify() {
    let provider = provider(&Pcr0Source::Value([1; 48]));
    let t = now();
    let doc = provider.attest_at(&request(), t).unwrap();
    let tagged = CoseSign1::from_slice(&doc)
        .unwrap()
        .to_tagged_vec()
        .unwrap();
    assert_eq!(tagged[0], 0xd2);
    verify(&tagged, &simulated_policy(&provider, t)).unwrap();
}

#[test]
fn debug_mode_pcr_and_user_data_expectations() {
    let debug = provider(&Pcr0Source::Value([0; 48]));
    let t = now();
    let doc = debug.attest_at(&request(), t).unwrap();
    let err = verify(&doc, &simulated_policy(&debug, t)).unwrap_err();
    assert!(matches!(err, VerifyError::DebugMode), "{err}");
    assert!(
        verify(&doc, &simulated_policy(&debug, t).allow_debug(true))
            .unwrap()
            .debug_mode
    );

    let provider = provider(&Pcr0Source::Value([2; 48])).with_pcr(8, [8; 48]);
    let doc = provider.attest_at(&request(), t).unwrap();
    let policy = || simulated_policy(&provider, t);
    verify(
        &doc,
        &policy().expect_pcr(0, [2; 48]).expect_pcr(8, [8; 48]),
    )
    .unwrap();
    let err = verify(&doc, &policy().expect_pcr(8, [9; 48])).unwrap_err();
    assert!(
        matches!(err, VerifyError::PcrMismatch { index: 8, .. }),
        "{err}"
    );
    let err = verify(&doc, &policy().expect_pcr(20, [0; 48])).unwrap_err();
    assert!(
        matches!(err, VerifyError::PcrMissing { index: 20 }),
        "{err}"
    );
    let err = verify(&doc, &policy().expect_chain_id(1)).unwrap_err();
    assert!(
        matches!(err, VerifyError::ChainIdMismatch { expected: 1, .. }),
        "{err}"
    );
    let err = verify(&doc, &policy().expect_contract([0; 20])).unwrap_err();
    assert!(matches!(err, VerifyError::ContractMismatch { .. }), "{err}");
    let err = verify(&doc, &policy().expect_operator([0; 20])).unwrap_err();
    assert!(matches!(err, VerifyError::OperatorMismatch { .. }), "{err}");

    let other_nonce = Policy::new(
        provider.ca().trust_anchor().unwrap(),
        Freshness::live(t, b"another nonce".to_vec(), MAX_AGE),
    );
    let err = verify(&doc, &other_nonce).unwrap_err();
    assert!(matches!(err, VerifyError::NonceMismatch { .. }), "{err}");

    let no_nonce_request = AttestationRequest::new(b"x").unwrap();
    let doc = provider
        .attest_with(&no_nonce_request, t, |doc| doc.nonce = None)
        .unwrap();
    let err = verify(&doc, &policy()).unwrap_err();
    assert!(matches!(err, VerifyError::NonceMissing { .. }), "{err}");
}

#[test]
fn certificate_validity_is_checked_at_both_times() {
    let provider = provider(&Pcr0Source::Value([3; 48]));
    let t = now();
    let doc = provider.attest_at(&request(), t).unwrap();
    let at = |millis: u64| {
        Policy::new(
            provider.ca().trust_anchor().unwrap(),
            Freshness::archived(
                UnixTime::from_millis(millis),
                Duration::from_secs(24 * 3600),
            ),
        )
    };
    // Two hours later the leaf (three hours) still holds; four hours later not.
    verify(&doc, &at(t.as_millis() + 2 * 3_600_000)).unwrap();
    let err = verify(&doc, &at(t.as_millis() + 4 * 3_600_000)).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::CertificateNotValid {
                position: CertPosition::Leaf,
                reference: TimeReference::VerifierTime,
                ..
            }
        ),
        "{err}"
    );

    // A document dated before the CA existed fails at its own time, at the root.
    let early = UnixTime::from_millis(t.as_millis() - 86_400_000);
    let doc = provider.attest_at(&request(), early).unwrap();
    let err = verify(&doc, &at(early.as_millis())).unwrap_err();
    assert!(
        matches!(
            err,
            VerifyError::CertificateNotValid {
                position: CertPosition::Bundle(0),
                reference: TimeReference::DocumentTime,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn tampering_is_rejected() {
    let provider = provider(&Pcr0Source::Value([4; 48]));
    let t = now();
    let doc = provider.attest_at(&request(), t).unwrap();
    let policy = simulated_policy(&provider, t);
    let mut bad = doc.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert!(matches!(
        verify(&bad, &policy),
        Err(VerifyError::SignatureInvalid)
    ));
    let mut bad = doc.clone();
    let offset = doc.windows(NONCE.len()).position(|w| w == NONCE).unwrap();
    bad[offset] ^= 1;
    assert!(matches!(
        verify(&bad, &policy),
        Err(VerifyError::SignatureInvalid)
    ));
}

#[test]
fn chain_shape_violations_are_rejected() {
    let provider = provider(&Pcr0Source::Value([5; 48]));
    let t = now();
    let policy = simulated_policy(&provider, t);
    let check = |edit: &dyn Fn(&mut AttestationDoc)| {
        let doc = provider
            .attest_with(&request(), t, |doc| edit(doc))
            .unwrap();
        verify(&doc, &policy).unwrap_err()
    };
    // Intermediate missing: the leaf's issuer is not the root.
    let err = check(&|doc| doc.cabundle.truncate(1));
    assert!(
        matches!(
            err,
            VerifyError::IssuerMismatch {
                position: CertPosition::Leaf,
                ..
            }
        ),
        "{err}"
    );
    // A third certificate in the bundle (the leaf, or the intermediate again):
    // more CAs below the root than its pathLenConstraint (1) allows. (NotACa and
    // the other constraints are unit-tested on certificates built for the purpose.)
    for extra in [
        |d: &AttestationDoc| d.certificate.clone(),
        |d: &AttestationDoc| d.cabundle[1].clone(),
    ] {
        let err = check(&|doc| {
            let cert = extra(doc);
            doc.cabundle.push(cert);
        });
        assert!(
            matches!(
                err,
                VerifyError::PathLengthExceeded {
                    position: CertPosition::Bundle(0),
                    limit: 1,
                    actual: 2
                }
            ),
            "{err}"
        );
    }
    // Root and intermediate swapped.
    let err = check(&|doc| doc.cabundle.swap(0, 1));
    assert!(matches!(err, VerifyError::UntrustedRoot { .. }), "{err}");
}

#[test]
fn field_rule_violations_each_have_their_own_error() {
    let provider = provider(&Pcr0Source::Value([6; 48]));
    let t = now();
    let policy = simulated_policy(&provider, t);
    let field_error = |edit: &dyn Fn(&mut AttestationDoc)| {
        let doc = provider
            .attest_with(&request(), t, |doc| edit(doc))
            .unwrap();
        match verify(&doc, &policy) {
            Err(VerifyError::Field(e)) => e,
            other => panic!("expected a field error, got {other:?}"),
        }
    };
    assert_eq!(
        field_error(&|d| d.module_id.clear()),
        FieldError::ModuleIdEmpty
    );
    assert_eq!(
        field_error(&|d| d.digest = "SHA256".into()),
        FieldError::UnsupportedDigest("SHA256".into())
    );
    assert_eq!(
        field_error(&|d| d.timestamp_ms = 0),
        FieldError::TimestampZero
    );
    assert_eq!(
        field_error(&|d| d.pcrs.clear()),
        FieldError::PcrCount { count: 0 }
    );
    assert_eq!(
        field_error(&|d| {
            for i in 16..33 {
                d.pcrs.insert(i, vec![0; 48]);
            }
        }),
        FieldError::PcrCount { count: 33 }
    );
    assert_eq!(
        field_error(&|d| {
            d.pcrs.insert(32, vec![0; 48]);
        }),
        FieldError::PcrIndex { index: 32 }
    );
    assert_eq!(
        field_error(&|d| {
            d.pcrs.insert(3, vec![0; 47]);
        }),
        FieldError::PcrLength { index: 3, len: 47 }
    );
    assert_eq!(
        field_error(&|d| d.cabundle.clear()),
        FieldError::CabundleEmpty
    );
    assert_eq!(
        field_error(&|d| d.cabundle.push(vec![0; 1025])),
        FieldError::CabundleEntrySize {
            index: 2,
            len: 1025
        }
    );
    assert_eq!(
        field_error(&|d| d.cabundle.push(Vec::new())),
        FieldError::CabundleEntrySize { index: 2, len: 0 }
    );
    assert_eq!(
        field_error(&|d| d.public_key = Some(Vec::new())),
        FieldError::PublicKeySize { len: 0 }
    );
    assert_eq!(
        field_error(&|d| d.public_key = Some(vec![0; 1025])),
        FieldError::PublicKeySize { len: 1025 }
    );
    assert_eq!(
        field_error(&|d| d.user_data = Some(vec![0; 513])),
        FieldError::UserDataSize { len: 513 }
    );
    assert_eq!(
        field_error(&|d| d.nonce = Some(vec![0; 513])),
        FieldError::NonceSize { len: 513 }
    );
    // The certificate size rule comes first of all (before the leaf is parsed).
    assert_eq!(
        field_error(&|d| d.certificate = vec![0x30; 1025]),
        FieldError::CertificateSize { len: 1025 }
    );
    assert_eq!(
        field_error(&|d| d.certificate.clear()),
        FieldError::CertificateSize { len: 0 }
    );
}

#[test]
fn development_ca_saves_and_loads() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dev-ca.pem");
    let t = now();
    let created = SimulatedCa::load_or_generate(&path, t).unwrap();
    let loaded = SimulatedCa::load_or_generate(&path, t).unwrap();
    assert_eq!(created.root_der(), loaded.root_der());
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let root_pem = created.root_pem().unwrap();
    let anchor = TrustAnchor::from_pem(&root_pem).unwrap();

    let provider = SimulatedProvider::new(loaded, &Pcr0Source::Value([7; 48])).unwrap();
    let doc = provider.attest_at(&request(), t).unwrap();
    let verified = verify(
        &doc,
        &Policy::new(anchor, Freshness::live(t, NONCE, MAX_AGE)),
    )
    .unwrap();
    assert!(verified.simulated);

    std::fs::write(&path, "not a CA").unwrap();
    assert!(SimulatedCa::load(&path).is_err());
    std::fs::write(&path, vec![b'A'; 20_000]).unwrap();
    assert!(SimulatedCa::load(&path).is_err());
}

#[test]
fn pcr0_source_reads_files() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("enclave-app");
    std::fs::write(&path, b"pretend binary").unwrap();
    let provider = provider(&Pcr0Source::File(path));
    assert_eq!(
        provider.pcrs()[&0],
        Sha384::digest(b"pretend binary").to_vec()
    );
    let missing = SimulatedProvider::new(
        SimulatedCa::generate(now()).unwrap(),
        &Pcr0Source::File(dir.path().join("missing")),
    );
    assert!(missing.is_err());
}
