//! The real AWS Nitro documents in `shared/vectors/attestation`.

use std::{path::PathBuf, time::Duration};

use attestation::{
    CertPosition, Freshness, Policy, TimeReference, TrustAnchor, UnixTime, VerifyError,
    decode_unverified, verify,
};

fn vector_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/vectors/attestation")
}

fn debug_doc() -> Vec<u8> {
    let text =
        std::fs::read_to_string(vector_dir().join("evervault-ga-debug-2023-09-18.b64")).unwrap();
    base64_decode(text.trim())
}

fn prod_doc() -> Vec<u8> {
    std::fs::read(vector_dir().join("evervault-beta-prod-pcr8-2022-10-13.cbor")).unwrap()
}

fn base64_decode(text: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in text
        .bytes()
        .filter(|c| !c.is_ascii_whitespace() && *c != b'=')
    {
        let v = ALPHABET.iter().position(|a| *a == c).expect("base64 digit");
        acc = ((acc << 6) | u32::try_from(v).unwrap()) & 0xffff;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).unwrap());
        }
    }
    out
}

fn aws() -> TrustAnchor {
    TrustAnchor::aws_nitro_root_g1().unwrap()
}

/// A policy checked at the document's own time, with a five-minute maximum age.
fn at_own_time(doc: &[u8]) -> Policy {
    let ts = decode_unverified(doc).unwrap().timestamp_ms;
    Policy::new(
        aws(),
        Freshness::archived(UnixTime::from_millis(ts), Duration::from_secs(300)),
    )
}

#[test]
fn prod_document_verifies_at_its_own_time() {
    let doc = prod_doc();
    let verified = verify(&doc, &at_own_time(&doc)).unwrap();
    assert!(!verified.simulated);
    assert!(!verified.debug_mode);
    assert_eq!(
        verified.document.module_id,
        "i-020b6af9246d90e92-enc0183d09086c24190"
    );
    assert_eq!(verified.document.pcrs.len(), 16);
    assert_eq!(verified.document.nonce.as_ref().map(Vec::len), Some(256));
    assert_eq!(verified.user_data, None);
}

#[test]
fn debug_document_verifies_only_when_debug_is_allowed() {
    let doc = debug_doc();
    let err = verify(&doc, &at_own_time(&doc)).unwrap_err();
    assert!(matches!(err, VerifyError::DebugMode), "{err}");
    let verified = verify(&doc, &at_own_time(&doc).allow_debug(true)).unwrap();
    assert!(verified.debug_mode);
    assert!(!verified.simulated);
    assert_eq!(verified.pcr(0), Some(&[0u8; 48][..]));
    // Its user_data is a P-256 SPKI, not our map: reported as absent, not an error.
    assert!(verified.document.user_data.is_some());
    assert_eq!(verified.user_data, None);
}

#[test]
fn nonce_and_age_are_checked() {
    let doc = prod_doc();
    let decoded = decode_unverified(&doc).unwrap();
    let nonce = decoded.nonce.clone().unwrap();
    let ts = UnixTime::from_millis(decoded.timestamp_ms);
    let live = |freshness| Policy::new(aws(), freshness);

    verify(&doc, &live(Freshness::nonce_only(ts, nonce.clone()))).unwrap();
    verify(
        &doc,
        &live(Freshness::live(ts, nonce.clone(), Duration::from_secs(60))),
    )
    .unwrap();

    let mut other = nonce.clone();
    other[0] ^= 1;
    let err = verify(&doc, &live(Freshness::nonce_only(ts, other))).unwrap_err();
    assert!(matches!(err, VerifyError::NonceMismatch { .. }), "{err}");

    let later = UnixTime::from_millis(decoded.timestamp_ms + 61_000);
    let err = verify(
        &doc,
        &live(Freshness::live(later, nonce, Duration::from_secs(60))),
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::DocumentTooOld { .. }), "{err}");

    let earlier = UnixTime::from_millis(decoded.timestamp_ms - 600_000);
    let err = verify(
        &doc,
        &live(Freshness::max_age_only(earlier, Duration::from_secs(60))),
    )
    .unwrap_err();
    assert!(
        matches!(err, VerifyError::DocumentFromFuture { .. }),
        "{err}"
    );
}

#[test]
fn pcr_expectations_are_checked() {
    let doc = prod_doc();
    let decoded = decode_unverified(&doc).unwrap();
    let pcr0 = decoded.pcrs[&0].clone();
    let pcr8 = decoded.pcrs[&8].clone();
    verify(
        &doc,
        &at_own_time(&doc)
            .expect_pcr(0, pcr0.clone())
            .expect_pcr(8, pcr8),
    )
    .unwrap();

    let mut wrong = pcr0;
    wrong[47] ^= 0x80;
    let err = verify(&doc, &at_own_time(&doc).expect_pcr(0, wrong)).unwrap_err();
    assert!(
        matches!(err, VerifyError::PcrMismatch { index: 0, .. }),
        "{err}"
    );

    let err = verify(&doc, &at_own_time(&doc).expect_pcr(3, vec![0; 48])).unwrap_err();
    assert!(
        matches!(err, VerifyError::PcrMismatch { index: 3, .. }),
        "{err}"
    );
}

#[test]
fn user_data_expectations_fail_on_foreign_user_data() {
    let doc = debug_doc();
    let err = verify(
        &doc,
        &at_own_time(&doc).allow_debug(true).expect_chain_id(1),
    )
    .unwrap_err();
    assert!(matches!(err, VerifyError::MalformedUserData(_)), "{err}");
    let doc = prod_doc();
    let err = verify(&doc, &at_own_time(&doc).expect_operator([0; 20])).unwrap_err();
    assert!(matches!(err, VerifyError::UserDataMissing), "{err}");
}

/// Offsets of `needle` in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle present")
}

#[test]
fn flipped_signature_byte_is_rejected() {
    for (doc, debug) in [(prod_doc(), false), (debug_doc(), true)] {
        // The signature is the last 96 bytes of the untagged COSE array.
        for offset in [doc.len() - 96, doc.len() - 48, doc.len() - 1] {
            let mut bad = doc.clone();
            bad[offset] ^= 0x01;
            let err = verify(&bad, &at_own_time(&doc).allow_debug(debug)).unwrap_err();
            assert!(matches!(err, VerifyError::SignatureInvalid), "{err}");
        }
    }
}

#[test]
fn flipped_payload_byte_is_rejected() {
    for (doc, debug) in [(prod_doc(), false), (debug_doc(), true)] {
        let decoded = decode_unverified(&doc).unwrap();
        let targets = [
            find(&doc, decoded.module_id.as_bytes()) + 3,
            find(&doc, &decoded.pcrs[&4]) + 10,
            find(&doc, decoded.nonce.as_deref().unwrap()) + 100,
            find(&doc, &decoded.certificate) + 200,
            find(&doc, &decoded.cabundle[1]) + 300,
        ];
        for offset in targets {
            let mut bad = doc.clone();
            bad[offset] ^= 0x01;
            let err = verify(&bad, &at_own_time(&doc).allow_debug(debug)).unwrap_err();
            assert!(
                matches!(
                    err,
                    VerifyError::SignatureInvalid | VerifyError::MalformedCertificate { .. }
                ),
                "offset {offset}: {err}"
            );
        }
    }
}

#[test]
fn another_root_is_rejected() {
    let doc = prod_doc();
    let decoded = decode_unverified(&doc).unwrap();
    // Pinning any other root (here: one of the document's own intermediates).
    let other = TrustAnchor::from_der(&decoded.cabundle[1]).unwrap();
    assert!(!other.is_aws());
    let policy = Policy::new(
        other,
        Freshness::archived(
            UnixTime::from_millis(decoded.timestamp_ms),
            Duration::from_secs(300),
        ),
    );
    let err = verify(&doc, &policy).unwrap_err();
    assert!(matches!(err, VerifyError::UntrustedRoot { .. }), "{err}");
}

/// Leaf `notAfter` of each vector (from its `.txt`), ms since the epoch.
const PROD_LEAF_NOT_AFTER_MS: u64 = 1_665_662_282_000; // 2022-10-13T11:58:02Z
const DEBUG_LEAF_NOT_AFTER_MS: u64 = 1_695_058_632_000; // 2023-09-18T17:37:12Z

#[test]
fn time_after_a_certificates_validity_is_rejected() {
    for (doc, debug, not_after) in [
        (prod_doc(), false, PROD_LEAF_NOT_AFTER_MS),
        (debug_doc(), true, DEBUG_LEAF_NOT_AFTER_MS),
    ] {
        let generous = Duration::from_secs(4 * 3600);
        let policy = |at| {
            Policy::new(
                aws(),
                Freshness::archived(UnixTime::from_millis(at), generous),
            )
            .allow_debug(debug)
        };
        // The last second of the leaf's life is fine...
        verify(&doc, &policy(not_after)).unwrap();
        // ...one second later the leaf is no longer valid.
        let err = verify(&doc, &policy(not_after + 1000)).unwrap_err();
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
        // And years later, too, whatever the maximum age.
        let years = Policy::new(
            aws(),
            Freshness::max_age_only(
                UnixTime::from_millis(not_after + 400 * 86_400_000),
                Duration::MAX,
            ),
        )
        .allow_debug(debug);
        let err = verify(&doc, &years).unwrap_err();
        assert!(
            matches!(err, VerifyError::CertificateNotValid { .. }),
            "{err}"
        );
    }
}

#[test]
fn the_timestamp_is_covered_by_the_signature() {
    // Moving the document's own time (to outside its certificates' validity)
    // breaks the signature first.
    let doc = prod_doc();
    let decoded = decode_unverified(&doc).unwrap();
    let ts_bytes = decoded.timestamp_ms.to_be_bytes();
    let offset = find(&doc, &ts_bytes[2..]);
    let mut bad = doc.clone();
    bad[offset] ^= 0x40;
    let err = verify(&bad, &at_own_time(&doc)).unwrap_err();
    assert!(matches!(err, VerifyError::SignatureInvalid), "{err}");
}

#[test]
fn tagged_documents_are_accepted() {
    let doc = prod_doc();
    // CBOR tag 18 (0xd2) in front of the untagged array.
    let mut tagged = vec![0xd2];
    tagged.extend_from_slice(&doc);
    verify(&tagged, &at_own_time(&doc)).unwrap();
}

#[test]
fn truncated_and_oversized_inputs_are_errors_not_panics() {
    let doc = prod_doc();
    for len in [0, 1, 10, 100, doc.len() / 2, doc.len() - 1] {
        assert!(verify(&doc[..len], &at_own_time(&doc)).is_err());
    }
    let huge = vec![0u8; attestation::MAX_DOCUMENT_SIZE + 1];
    let err = verify(&huge, &at_own_time(&doc)).unwrap_err();
    assert!(matches!(err, VerifyError::DocumentTooLarge { .. }), "{err}");
}

#[test]
fn chain_positions_are_named() {
    assert_eq!(CertPosition::Bundle(0).to_string(), "cabundle[0] (root)");
    assert_eq!(CertPosition::Leaf.to_string(), "certificate (leaf)");
}
