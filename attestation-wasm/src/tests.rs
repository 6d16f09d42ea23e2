//! The verdicts on real AWS documents (`shared/vectors/attestation`), on a fresh
//! simulated document, and on corrupt input (always `ok: false`, never a panic).

#![allow(clippy::unwrap_used)]

use std::path::PathBuf;

use attestation::{
    AWS_NITRO_ROOT_G1_SHA256, KeyOrigin, UnixTime, UserData,
    provider::{AttestationRequest, Pcr0Source, SimulatedCa, SimulatedProvider},
};
use base64::Engine;
use serde_json::{Value, json};

use super::{MAX_REQUEST_BYTES, hex, verify_json};

fn vector(name: &str) -> Vec<u8> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../shared/vectors/attestation")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The production document (raw CBOR).
fn prod() -> Vec<u8> {
    vector("evervault-beta-prod-pcr8-2022-10-13.cbor")
}

/// The debug-mode document (base64 in the file).
fn debug() -> Vec<u8> {
    let text = String::from_utf8(vector("evervault-ga-debug-2023-09-18.b64")).unwrap();
    base64::engine::general_purpose::STANDARD
        .decode(text.trim())
        .unwrap()
}

/// A request checked at the document's own time (its leaf lives three hours),
/// with the nonce it carries.
fn request_at_own_time(document: &[u8]) -> Value {
    let decoded = attestation::decode_unverified(document).unwrap();
    json!({
        "document": b64(document),
        "nonce": hex(decoded.nonce.as_deref().unwrap()),
        "nowSecs": decoded.timestamp_ms.div_ceil(1000),
        "maxAgeSecs": 300,
        "allowSimulated": false,
    })
}

fn run(request: &Value) -> Value {
    let out = verify_json(request.to_string().as_bytes());
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

fn error_of(verdict: &Value) -> &str {
    assert_eq!(verdict["ok"], false, "{verdict}");
    verdict["error"].as_str().unwrap()
}

#[test]
fn the_production_vector_verifies_against_the_aws_root() {
    let doc = prod();
    let verdict = run(&request_at_own_time(&doc));
    assert_eq!(verdict["ok"], true, "{verdict}");
    assert_eq!(verdict["simulated"], false);
    assert_eq!(
        verdict["moduleId"],
        "i-020b6af9246d90e92-enc0183d09086c24190"
    );
    let decoded = attestation::decode_unverified(&doc).unwrap();
    assert_eq!(verdict["pcr0"], hex(decoded.pcr(0).unwrap()));
    assert_eq!(verdict["timestampMs"], decoded.timestamp_ms);
    assert_eq!(verdict["rootSha256"], hex(&AWS_NITRO_ROOT_G1_SHA256));
    // Not the lottery's user_data: reported as absent, not as an error.
    assert_eq!(verdict["userData"], Value::Null);
    // allowSimulated changes nothing for a real document.
    let mut request = request_at_own_time(&doc);
    request["allowSimulated"] = json!(true);
    assert_eq!(run(&request)["simulated"], false);
}

#[test]
fn the_debug_vector_is_refused() {
    let verdict = run(&request_at_own_time(&debug()));
    assert!(error_of(&verdict).contains("debug-mode"), "{verdict}");
}

#[test]
fn freshness_is_the_nonce_and_the_age() {
    let doc = prod();
    let mut request = request_at_own_time(&doc);
    request["nonce"] = json!("00ff");
    assert!(error_of(&run(&request)).contains("nonce"));
    let mut request = request_at_own_time(&doc);
    request["nowSecs"] = json!(request["nowSecs"].as_u64().unwrap() + 301);
    assert!(error_of(&run(&request)).contains("old"));
    // Years later the document is stale whatever the age allowed: its leaf expired.
    let mut request = request_at_own_time(&doc);
    request["nowSecs"] = json!(1_900_000_000u64);
    request["maxAgeSecs"] = json!(u64::MAX / 1000);
    assert!(error_of(&run(&request)).contains("not at the verifier's time"));
}

struct Simulated {
    provider: SimulatedProvider,
    now: UnixTime,
    user_data: UserData,
}

fn simulated() -> Simulated {
    let now = UnixTime::from_secs(1_800_000_000);
    let ca = SimulatedCa::generate(now).unwrap();
    let provider = SimulatedProvider::new(ca, &Pcr0Source::Value([7; 48])).unwrap();
    let user_data = UserData {
        app: "enclave-lottery".into(),
        version: "0.1.0".into(),
        chain_id: 31337,
        contract: [0x11; 20],
        operator: [0xab; 20],
        key_origin: KeyOrigin::Generated,
        key_injection: false,
        rpc_hosts: vec!["rpc.example.org:443".into()],
        rpc_quorum: 1,
    };
    Simulated {
        provider,
        now,
        user_data,
    }
}

impl Simulated {
    fn document(&self, nonce: &[u8]) -> Vec<u8> {
        let request = AttestationRequest::new(nonce)
            .unwrap()
            .with_user_data(self.user_data.to_cbor().unwrap())
            .unwrap();
        self.provider.attest_at(&request, self.now).unwrap()
    }

    fn request(&self, document: &[u8], nonce: &[u8], allow_simulated: bool) -> Value {
        json!({
            "document": b64(document),
            "nonce": format!("0x{}", hex(nonce)),
            "nowSecs": self.now.as_millis() / 1000 + 5,
            "maxAgeSecs": 300,
            "allowSimulated": allow_simulated,
        })
    }
}

#[test]
fn a_simulated_document_is_only_ever_reported_as_simulated() {
    let sim = simulated();
    let nonce = [0x42; 32];
    let doc = sim.document(&nonce);
    let verdict = run(&sim.request(&doc, &nonce, true));
    assert_eq!(verdict["ok"], true, "{verdict}");
    assert_eq!(verdict["simulated"], true);
    assert_eq!(verdict["pcr0"], "07".repeat(48));
    assert_ne!(verdict["rootSha256"], hex(&AWS_NITRO_ROOT_G1_SHA256));
    assert_eq!(
        verdict["userData"],
        json!({
            "app": "enclave-lottery",
            "version": "0.1.0",
            "chainId": 31337,
            "contract": format!("0x{}", "11".repeat(20)),
            "operator": format!("0x{}", "ab".repeat(20)),
            "keySource": "generated",
            "keyInjection": false,
            "rpcHosts": ["rpc.example.org:443"],
            "rpcQuorum": 1,
        })
    );
    // Without allowSimulated: the verifier's own refusal.
    let error = error_of(&run(&sim.request(&doc, &nonce, false))).to_owned();
    assert!(error.contains("not the trusted root"), "{error}");
    // Simulated documents still get every other check.
    let error = error_of(&run(&sim.request(&doc, &[0x43; 32], true))).to_owned();
    assert!(error.contains("nonce"), "{error}");
}

#[test]
fn corrupt_input_is_refused_never_a_panic() {
    let sim = simulated();
    let nonce = [0x42; 32];
    let doc = sim.document(&nonce);
    let good = sim.request(&doc, &nonce, true);
    assert_eq!(run(&good)["ok"], true);

    // Malformed requests.
    for (input, why) in [
        (b"".to_vec(), "request is not valid"),
        (b"not json".to_vec(), "request is not valid"),
        (b"{\"document\": 1}".to_vec(), "request is not valid"),
        (vec![0xff; 64], "request is not valid"),
        (vec![b' '; MAX_REQUEST_BYTES + 1], "limit"),
    ] {
        let verdict: Value = serde_json::from_str(&verify_json(&input)).unwrap();
        assert!(error_of(&verdict).contains(why), "{verdict}");
    }
    let with = |key: &str, value: Value| {
        let mut request = good.clone();
        request[key] = value;
        run(&request)
    };
    assert!(error_of(&with("document", json!("!!!"))).contains("base64"));
    assert!(error_of(&with("document", json!(""))).contains("COSE"));
    assert!(error_of(&with("nonce", json!("abc"))).contains("hex"));
    assert!(error_of(&with("nonce", json!("zz"))).contains("hex"));
    assert!(error_of(&with("nonce", json!(""))).contains("empty"));
    assert!(error_of(&with("nowSecs", json!(-1))).contains("request is not valid"));
    assert!(error_of(&with("extra", json!(1))).contains("unknown field"));

    // Truncations and single-byte corruptions of an authentic document, spread
    // over all of it (every fifth byte keeps the debug-build test to seconds):
    // every one is refused (the signature covers everything but itself, and a
    // changed signature does not verify).
    for cut in (0..doc.len()).step_by(97) {
        let verdict = run(&sim.request(&doc[..cut], &nonce, true));
        assert_eq!(verdict["ok"], false, "truncated at {cut}: {verdict}");
    }
    for i in (0..doc.len()).step_by(5) {
        let mut bad = doc.clone();
        bad[i] ^= 0x01;
        let verdict = run(&sim.request(&bad, &nonce, true));
        assert_eq!(verdict["ok"], false, "byte {i} flipped: {verdict}");
    }
    // Trailing garbage.
    let mut long = doc;
    long.extend_from_slice(&[0; 8]);
    assert_eq!(run(&sim.request(&long, &nonce, true))["ok"], false);
}
