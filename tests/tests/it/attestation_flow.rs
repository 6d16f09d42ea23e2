//! Attestation through the whole topology: a document fetched from host-proxy's
//! `/api/attestation` (relayed over the control channel from enclave-app's simulated
//! provider) verifies against the simulated root, with PCR0 equal to the SHA-384 of
//! the enclave-app binary and `user_data` naming the chain, contract and operator;
//! and it is refused by the default (AWS-pinned) policy.

use std::time::Duration;

use attestation::{Freshness, KeyOrigin, Policy, TrustAnchor, UnixTime, VerifyError};
use base64::Engine;
use sha2::Digest;
use tests::{
    TestChain,
    stack::{self, Ports},
};

fn now() -> UnixTime {
    UnixTime::from_system_time(std::time::SystemTime::now()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_document_verifies_against_the_simulated_root_only() {
    let chain = TestChain::start_with(&["--block-time", "1"]).await;
    let contract = *chain.deploy_with_operator(500).await.address();
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("sim-ca.pem");
    let ports = Ports::free();
    let _host = stack::host_proxy(ports, &chain.endpoint(), &[]);
    let enclave = stack::enclave_app(
        &chain,
        ports,
        "http://chain.invalid:8545",
        contract,
        1,
        &["--sim-ca-file", ca_file.to_str().unwrap()],
    );
    enclave
        .wait_for_log(&["control channel listening"], Duration::from_secs(30))
        .await;

    let nonce: [u8; 32] = rand::random();
    let path = format!("/api/attestation?nonce={}", alloy::hex::encode(nonce));
    let body = loop {
        let (status, _, body) = stack::http(ports.web, "GET", &path, None).await;
        if status == 200 {
            break serde_json::from_slice::<serde_json::Value>(&body).unwrap();
        }
        assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let document = base64::engine::general_purpose::STANDARD
        .decode(body["document"].as_str().unwrap())
        .unwrap();
    // The summary is the document's own fields.
    assert_eq!(body["summary"]["nonce"], alloy::hex::encode(nonce));

    // The CA file created by enclave-app starts with the root.
    let pem = std::fs::read_to_string(&ca_file).unwrap();
    let end = "-----END CERTIFICATE-----";
    let root_pem = &pem[..pem.find(end).unwrap() + end.len()];
    let root = TrustAnchor::from_pem(root_pem).unwrap();
    let binary = std::fs::read(stack::workspace_binary("enclave-app")).unwrap();
    let pcr0 = sha2::Sha384::digest(&binary).to_vec();

    let policy = |root: TrustAnchor| {
        Policy::new(root, Freshness::live(now(), nonce, Duration::from_secs(60)))
            .expect_pcr(0, pcr0.clone())
            .expect_chain_id(31337)
            .expect_contract(contract.into_array())
            .expect_operator(chain.operator().into_array())
    };
    let verified = attestation::verify(&document, &policy(root.clone())).unwrap();
    assert!(verified.simulated);
    assert!(!verified.debug_mode);
    let user_data = verified.user_data.unwrap();
    assert_eq!(user_data.app, "enclave-lottery");
    assert_eq!(user_data.key_origin, KeyOrigin::File);
    // The key-injection public key is in the document.
    assert_eq!(
        verified.document.public_key.as_ref().map(Vec::len),
        Some(32)
    );

    // The default policy pins AWS's root: a simulated document never passes it.
    let aws = TrustAnchor::aws_nitro_root_g1().unwrap();
    assert!(attestation::verify(&document, &policy(aws)).is_err());
    // Another nonce, another PCR0, another operator: each refused.
    let other_nonce = Policy::new(
        root.clone(),
        Freshness::live(now(), [0u8; 32], Duration::from_secs(60)),
    );
    assert!(attestation::verify(&document, &other_nonce).is_err());
    let wrong_pcr = policy(root.clone()).expect_pcr(0, vec![0u8; 48]);
    assert!(attestation::verify(&document, &wrong_pcr).is_err());
    let wrong_operator = policy(root).expect_operator([9; 20]);
    let err = attestation::verify(&document, &wrong_operator).unwrap_err();
    assert!(!matches!(err, VerifyError::UntrustedRoot { .. }), "{err}");
}
