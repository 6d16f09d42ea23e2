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
    Chain,
    stack::{self, AttestingStack, Ports},
};

fn now() -> UnixTime {
    UnixTime::from_system_time(std::time::SystemTime::now()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_simulated_document_verifies_against_the_simulated_root_only() {
    let chain = Chain::start_with(&["--block-time", "1"]).await;
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
        Some(1),
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
    let root = TrustAnchor::from_pem(&stack::sim_root_pem(&ca_file)).unwrap();
    let binary = std::fs::read(testkit::process::workspace_binary("enclave-app")).unwrap();
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

/// A fresh document from host-proxy, verified against `root`: its nonce and public key.
async fn fresh_document(web: u16, root: &TrustAnchor) -> attestation::VerifiedDocument {
    let nonce: [u8; 32] = rand::random();
    let path = format!("/api/attestation?nonce={}", alloy::hex::encode(nonce));
    let (status, _, body) = stack::http(web, "GET", &path, None).await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let document = base64::engine::general_purpose::STANDARD
        .decode(body["document"].as_str().unwrap())
        .unwrap();
    let policy = Policy::new(
        root.clone(),
        Freshness::live(now(), nonce, Duration::from_secs(60)),
    );
    attestation::verify(&document, &policy).unwrap()
}

/// Seals `secret` to `document` and posts it: the status and body.
async fn inject(
    web: u16,
    document: &attestation::VerifiedDocument,
    nonce: Option<&[u8]>,
    secret: &[u8],
) -> (u16, serde_json::Value) {
    let key = document.document.public_key.as_deref().unwrap();
    let nonce = nonce.unwrap_or_else(|| document.document.nonce.as_deref().unwrap());
    let sealed = attestation::sealed::seal(key, nonce, secret).unwrap();
    let body = serde_json::json!({
        "sealedKey": base64::engine::general_purpose::STANDARD.encode(sealed.to_cbor().unwrap()),
    });
    let (status, _, bytes) = stack::http(
        web,
        "POST",
        "/api/operator-key",
        Some(("application/json", serde_json::to_vec(&body).unwrap())),
    )
    .await;
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sealed_key_is_injected_once_and_the_operator_draws_with_it() {
    let chain = Chain::start_with(&["--block-time", "1"]).await;
    let lottery = chain.deploy_with_operator(500).await;
    let contract = *lottery.address();
    let operator = chain.operator();
    // enclave-app generates its key, which is not the contract's operator.
    let stack = AttestingStack::start(&chain, contract, operator).await;
    let web = stack.ports.web;
    let root = TrustAnchor::from_pem(&std::fs::read_to_string(&stack.root_pem).unwrap()).unwrap();
    let before = fresh_document(web, &root).await;
    assert_eq!(
        before.user_data.as_ref().unwrap().key_origin,
        KeyOrigin::Generated
    );
    assert_ne!(
        before.user_data.as_ref().unwrap().operator,
        operator.into_array()
    );
    let (_, status) = stack::get_json(web, "/api/operator").await;
    assert_eq!(status["status"]["status"], "readOnly", "{status}");

    let right_key = chain.keys[1].to_bytes();
    let wrong_key = chain.keys[2].to_bytes();
    // A key for another address than --operator-address: refused.
    let (status, body) = inject(web, &fresh_document(web, &root).await, None, &wrong_key[..]).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("is not the pinned operator address"),
        "{body}"
    );
    // Sealed to a nonce the enclave never attested: refused.
    let document = fresh_document(web, &root).await;
    let (status, body) = inject(web, &document, Some(&[7u8; 32]), &right_key[..]).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("fetch a fresh attestation"),
        "{body}"
    );
    // Garbage inside a good envelope: not a key.
    let (status, body) = inject(web, &fresh_document(web, &root).await, None, &[0u8; 32]).await;
    assert_eq!(status, 400, "{body}");
    // Not a sealed key at all.
    let (status, _, bytes) = stack::http(
        web,
        "POST",
        "/api/operator-key",
        Some(("application/json", br#"{"sealedKey": "AAECAwQF"}"#.to_vec())),
    )
    .await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&bytes));

    // The right key, sealed to a fresh document: accepted.
    let document = fresh_document(web, &root).await;
    let (status, body) = inject(web, &document, None, &right_key[..]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["operator"], operator.to_checksum(None));
    // Once only: a second injection, and a replay of the first, are refused.
    let (status, body) = inject(web, &fresh_document(web, &root).await, None, &right_key[..]).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("already injected"),
        "{body}"
    );
    let (status, _) = inject(web, &document, None, &right_key[..]).await;
    assert_eq!(status, 409);
    // Documents now name the injected operator.
    let after = fresh_document(web, &root).await;
    let user_data = after.user_data.unwrap();
    assert_eq!(user_data.key_origin, KeyOrigin::Injected);
    assert_eq!(user_data.operator, operator.into_array());

    // And the operator works with it: commit, then a draw signed by the injected key.
    tests::play_first_round(&chain, &lottery, 40).await;
    let sent = tests::sent_by(&chain, operator).await;
    assert!(
        sent.len() >= 2,
        "commit and draw from the injected key: {sent:?}"
    );
    assert!(
        sent.iter().all(|(_, ok)| *ok),
        "a transaction reverted: {sent:?}"
    );
    assert!(!stack.enclave.logged(&["ERROR"]));
}

/// Funds the enclave's generated key `generated`, makes it the contract's operator
/// (announced, the delay passed) and waits until it operates.
async fn operate_with(
    chain: &Chain,
    lottery: &abi::contract::Lottery::LotteryInstance<alloy::providers::DynProvider>,
    generated: alloy::primitives::Address,
    web: u16,
) {
    use alloy::providers::ext::AnvilApi;
    chain
        .provider
        .anvil_set_balance(generated, tests::ether(1))
        .await
        .unwrap();
    chain
        .set_operator(lottery, generated, &stack::sim_pcr0())
        .await;
    until_operating(web).await;
}

/// Waits until enclave-app reports a status other than `readOnly`: its key operates.
async fn until_operating(web: u16) {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let (_, status) = stack::get_json(web, "/api/operator").await;
        if status["status"]["status"] != "readOnly" && status["status"]["status"] != "starting" {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the generated key never started operating: {status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The attack of issue 17: with the enclave's generated key operating, an anonymous
/// web client seals its own key to a public document. Without `--operator-address`
/// injection is off, the documents say so, and the generated key keeps drawing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_strangers_sealed_key_is_refused_and_the_generated_key_keeps_drawing() {
    let chain = Chain::start_with(&["--block-time", "1"]).await;
    let lottery = chain.deploy(500).await;
    let contract = *lottery.address();
    let stack =
        AttestingStack::start_with(&chain, contract, None, &stack::ATTESTATION_TEST_LIMITS).await;
    let web = stack.ports.web;
    let root = TrustAnchor::from_pem(&std::fs::read_to_string(&stack.root_pem).unwrap()).unwrap();
    let document = fresh_document(web, &root).await;
    let user_data = document.user_data.clone().unwrap();
    assert!(
        !user_data.key_injection,
        "the document must say injection is off"
    );
    assert_eq!(user_data.rpc_hosts, ["chain.invalid:8545"]);
    assert_eq!(user_data.rpc_quorum, 1);
    let generated = alloy::primitives::Address::from(user_data.operator);
    operate_with(&chain, &lottery, generated, web).await;

    // The stranger's key (any address), sealed to the public document: refused.
    let attacker = chain.keys[7].to_bytes();
    let (status, body) = inject(web, &fresh_document(web, &root).await, None, &attacker[..]).await;
    assert_eq!(status, 501, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("does not accept injected keys"),
        "{body}"
    );
    // Nothing changed: the documents still name the generated key.
    let after = fresh_document(web, &root).await.user_data.unwrap();
    assert_eq!(
        (after.operator, after.key_origin),
        (generated.into_array(), KeyOrigin::Generated)
    );
    // And the generated key draws the round.
    tests::play_first_round(&chain, &lottery, 40).await;
    let sent = tests::sent_by(&chain, generated).await;
    assert!(sent.len() >= 2, "commit and draw: {sent:?}");
    assert!(sent.iter().all(|(_, ok)| *ok), "{sent:?}");
    assert!(tests::sent_by(&chain, chain.accounts[7]).await.is_empty());
}

/// With injection on (`--operator-address`), a key is still never injected over the
/// generated key once that is the contract's operator.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_key_is_injected_over_an_operating_generated_key() {
    let chain = Chain::start_with(&["--block-time", "1"]).await;
    let lottery = chain.deploy(500).await;
    let pinned = chain.operator();
    let stack = AttestingStack::start(&chain, *lottery.address(), pinned).await;
    let web = stack.ports.web;
    let root = TrustAnchor::from_pem(&std::fs::read_to_string(&stack.root_pem).unwrap()).unwrap();
    let user_data = fresh_document(web, &root).await.user_data.unwrap();
    assert!(user_data.key_injection);
    let generated = alloy::primitives::Address::from(user_data.operator);
    operate_with(&chain, &lottery, generated, web).await;
    // Even the pinned address's own key is refused now.
    let right_key = chain.keys[1].to_bytes();
    let (status, body) = inject(web, &fresh_document(web, &root).await, None, &right_key[..]).await;
    assert_eq!(status, 409, "{body}");
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("is the contract's operator"),
        "{body}"
    );
    let after = fresh_document(web, &root).await.user_data.unwrap();
    assert_eq!(after.key_origin, KeyOrigin::Generated);
}
