//! Sealed key transfer end to end: the enclave's HPKE key in a verified document,
//! a key sealed to it and bound to the document's nonce, opened by the enclave.

use std::time::Duration;

use attestation::{
    Freshness, Policy, UnixTime,
    provider::{AttestationRequest, Pcr0Source, SimulatedCa, SimulatedProvider},
    sealed::{KeyOpener, SealError, SealedKey, seal},
    verify,
};

const OPERATOR_KEY: [u8; 32] = [0x42; 32];

#[test]
fn a_key_sealed_to_an_attested_public_key_opens_in_the_enclave() {
    // Enclave side: HPKE key from (here OS, in production NSM) entropy.
    let opener = KeyOpener::generate().unwrap();
    let t = UnixTime::from_system_time(std::time::SystemTime::now()).unwrap();
    let provider = SimulatedProvider::new(
        SimulatedCa::generate(t).unwrap(),
        &Pcr0Source::Value([1; 48]),
    )
    .unwrap();
    let nonce = b"fresh client nonce";
    let request = AttestationRequest::new(nonce)
        .unwrap()
        .with_public_key(opener.public_key().to_vec())
        .unwrap();
    let doc = provider.attest_at(&request, t).unwrap();

    // Client side: verify, then seal to the attested key, bound to the nonce.
    let policy = Policy::new(
        provider.ca().trust_anchor().unwrap(),
        Freshness::live(t, nonce.to_vec(), Duration::from_secs(60)),
    );
    let verified = verify(&doc, &policy).unwrap();
    let public_key = verified.document.public_key.unwrap();
    let sealed = seal(&public_key, nonce, &OPERATOR_KEY).unwrap();
    let wire = sealed.to_cbor().unwrap();
    assert!(wire.len() < 200, "{}", wire.len());
    assert!(!wire.windows(32).any(|w| w == OPERATOR_KEY));

    // Host relays `wire`; enclave side opens it.
    let received = SealedKey::from_cbor(&wire).unwrap();
    assert_eq!(received.nonce(), nonce);
    assert_eq!(opener.open(&received).unwrap().as_slice(), &OPERATOR_KEY);
}

#[test]
fn the_wrong_key_cannot_open() {
    let opener = KeyOpener::generate().unwrap();
    let other = KeyOpener::generate().unwrap();
    let sealed = seal(&opener.public_key(), b"n", &OPERATOR_KEY).unwrap();
    assert_eq!(other.open(&sealed).unwrap_err(), SealError::Open);
}

#[test]
fn tampering_with_ciphertext_nonce_or_encapsulated_key_fails() {
    let opener = KeyOpener::from_entropy(&[9; 32]).unwrap();
    let sealed = seal(&opener.public_key(), b"nonce-1", &OPERATOR_KEY).unwrap();
    let wire = sealed.to_cbor().unwrap();
    // Flip each byte of the last 48 (the ciphertext and tag) in turn.
    for offset in wire.len() - 48..wire.len() {
        let mut bad = wire.clone();
        bad[offset] ^= 0x01;
        let opened = SealedKey::from_cbor(&bad).and_then(|s| opener.open(&s));
        assert_eq!(opened.unwrap_err(), SealError::Open, "offset {offset}");
    }
    // Rebinding to another nonce (same length, so the CBOR stays valid).
    let position = wire.windows(7).position(|w| w == b"nonce-1").unwrap();
    let mut bad = wire;
    bad[position + 6] = b'2';
    let rebound = SealedKey::from_cbor(&bad).unwrap();
    assert_eq!(rebound.nonce(), b"nonce-2");
    assert_eq!(opener.open(&rebound).unwrap_err(), SealError::Open);
}

#[test]
fn seal_inputs_are_bounded() {
    let opener = KeyOpener::generate().unwrap();
    let pk = opener.public_key();
    assert_eq!(
        seal(&pk[..31], b"n", b"k").unwrap_err(),
        SealError::InvalidPublicKey { len: 31 }
    );
    assert_eq!(
        seal(&pk, b"", b"k").unwrap_err(),
        SealError::NonceSize { len: 0 }
    );
    assert_eq!(
        seal(&pk, &[0; 65], b"k").unwrap_err(),
        SealError::NonceSize { len: 65 }
    );
    assert_eq!(
        seal(&pk, b"n", b"").unwrap_err(),
        SealError::PlaintextSize { len: 0 }
    );
    assert_eq!(
        seal(&pk, b"n", &[0; 257]).unwrap_err(),
        SealError::PlaintextSize { len: 257 }
    );
    assert!(matches!(
        SealedKey::from_cbor(b"garbage"),
        Err(SealError::Malformed(_))
    ));
}
