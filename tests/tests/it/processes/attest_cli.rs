//! The `attest` and `lottery` binaries against the whole local stack (anvil,
//! host-proxy, enclave-app in sim mode with a simulated CA file): verifying live
//! documents, setting the operator from a verified attestation, and injecting a
//! sealed operator key with `attest seal-key`.

use std::{
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use abi::views::ConfigView;
use alloy::{primitives::Address, providers::Provider};
use tests::{
    Chain,
    stack::{self, AttestingStack},
};

/// What one run of a CLI did.
#[derive(Debug)]
struct Out {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    #[track_caller]
    fn success(self) -> String {
        assert_eq!(self.code, Some(0), "expected success: {self:#?}");
        self.stdout
    }

    #[track_caller]
    fn failure(self, code: i32) -> String {
        assert_eq!(self.code, Some(code), "expected exit {code}: {self:#?}");
        assert_eq!(
            self.stdout, "",
            "a failure prints nothing on stdout: {self:#?}"
        );
        self.stderr
    }
}

/// Runs a workspace binary off the async runtime's threads.
async fn cli(binary: &str, args: Vec<String>) -> Out {
    let path = testkit::process::workspace_binary(binary);
    tokio::task::spawn_blocking(move || {
        let out = testkit::process::command(path, &[])
            .args(&args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run the CLI");
        Out {
            code: out.status.code(),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    })
    .await
    .unwrap()
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

/// A key file (mode 0600) holding anvil account `i`'s key.
fn key_file(dir: &Path, chain: &Chain, i: usize) -> PathBuf {
    let path = dir.join(format!("key-{i}"));
    stack::write_key_file(&path, chain, i);
    path
}

fn pcr0_of_enclave_app() -> String {
    alloy::hex::encode(stack::sim_pcr0())
}

async fn operator_on_chain(chain: &Chain, contract: Address) -> Option<Address> {
    let lottery = abi::contract::Lottery::new(contract, chain.provider.clone());
    ConfigView::from(lottery.getConfig().call().await.unwrap()).operator
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attest_verify_and_set_operator_from_attestation() {
    let chain = Chain::start_with(&["--block-time", "1"]).await;
    // No operator yet: the attested one is to be set.
    let contract = *chain.deploy(500).await.address();
    let stack = AttestingStack::start(&chain, contract, chain.operator()).await;
    let root = stack.root_pem.to_str().unwrap();
    let url = &stack.url();
    let pcr0 = format!("0={}", pcr0_of_enclave_app());
    let wrong_pcr0 = format!("0={}", "00".repeat(48));
    let sim = ["--allow-simulated", "--root-cert", root];

    // (a) A simulated document is refused by default, saying so.
    let err = cli("attest", args(&["verify", "--url", url]))
        .await
        .failure(1);
    assert!(
        err.starts_with("error: the document is SIMULATED: it chains to ")
            && err.contains("pass --allow-simulated --root-cert PATH"),
        "{err}"
    );
    // Accepted with the simulated root and the right PCR0.
    let mut verify = args(&["verify", "--url", url, "--expected-pcr", &pcr0]);
    verify.extend(args(&sim));
    let out = cli("attest", verify.clone()).await.success();
    assert!(
        out.starts_with("VERIFIED AS SIMULATED: signed by a development root, not AWS"),
        "{out}"
    );
    assert!(
        out.contains("key origin   generated inside the enclave\n"),
        "{out}"
    );
    let mut json = vec!["--json".to_owned()];
    json.extend(verify.clone());
    let report: serde_json::Value =
        serde_json::from_str(&cli("attest", json).await.success()).unwrap();
    assert_eq!(report["simulated"], true);
    assert_eq!(report["debug"], false);
    assert_eq!(report["pcrs"]["0"], pcr0[2..]);
    assert_eq!(report["userData"]["keyOrigin"], "generated");
    assert_eq!(report["userData"]["chainId"], 31337);
    assert_eq!(report["userData"]["contract"], contract.to_checksum(None));
    let generated: Address = report["userData"]["operator"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_ne!(generated, chain.operator());
    for check in [
        "signature",
        "nonce",
        "max age 300 s",
        "not debug mode",
        "PCR0",
    ] {
        assert!(
            report["checks"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == check),
            "{report}"
        );
    }
    // A wrong PCR0: refused.
    let mut wrong = args(&["verify", "--url", url, "--expected-pcr", &wrong_pcr0]);
    wrong.extend(args(&sim));
    let err = cli("attest", wrong).await.failure(1);
    assert!(
        err.starts_with("error: verification failed: PCR0 "),
        "{err}"
    );
    // The contract check: no operator on chain yet.
    let mut with_contract = verify.clone();
    with_contract.extend(args(&[
        "--contract",
        &contract.to_string(),
        "--rpc-url",
        &chain.endpoint(),
    ]));
    let err = cli("attest", with_contract.clone()).await.failure(1);
    assert_eq!(
        err,
        format!(
            "error: the contract has no operator; the attested operator is {generated} (lottery set-operator --from-attestation sets it)\n"
        )
    );
    // Against a contract, without --expected-pcr and with no PCR0 on chain: refused
    // before any document is asked for.
    let mut chain_only = args(&[
        "verify",
        "--url",
        url,
        "--contract",
        &contract.to_string(),
        "--rpc-url",
        &chain.endpoint(),
    ]);
    chain_only.extend(args(&sim));
    let err = cli("attest", chain_only.clone()).await.failure(2);
    assert_eq!(
        err,
        "error: no PCR0 to check the enclave against: the contract records none for its operator; pass --expected-pcr 0=<96 hex digits>, the value published for the release\n"
    );

    // (b) set-operator --from-attestation: a wrong PCR refuses and sends nothing.
    let publisher_key = key_file(stack.dir.path(), &chain, 0);
    let set_operator = |pcr: &str| {
        let mut list = args(&[
            "--rpc-url",
            &chain.endpoint(),
            "set-operator",
            "--contract",
            &contract.to_string(),
            "--from-attestation",
            url,
            "--expected-pcr",
            pcr,
            "--key-file",
            publisher_key.to_str().unwrap(),
        ]);
        list.extend(args(&sim));
        list
    };
    let block = chain.provider.get_block_number().await.unwrap();
    let err = cli("lottery", set_operator(&wrong_pcr0)).await.failure(1);
    assert!(
        err.starts_with("error: refusing to set the operator: the enclave's attestation was not verified: verification failed: PCR0 "),
        "{err}"
    );
    assert_eq!(operator_on_chain(&chain, contract).await, None);
    assert!(
        tests::sent_by(&chain, chain.publisher())
            .await
            .iter()
            .all(|(n, _)| *n <= block),
        "set-operator sent a transaction although verification failed"
    );
    // Neither --expected-pcr nor a PCR0 on chain: refused, nothing sent.
    let mut no_pcr = set_operator(&pcr0);
    let at = no_pcr.iter().position(|a| a == "--expected-pcr").unwrap();
    no_pcr.drain(at..at + 2);
    let err = cli("lottery", no_pcr.clone()).await.failure(1);
    assert_eq!(
        err,
        "error: refusing to set the operator: no PCR0 to check the enclave against: the contract records none for its operator; pass --expected-pcr 0=<96 hex digits>, the value published for the release\n"
    );
    assert!(
        tests::sent_by(&chain, chain.publisher())
            .await
            .iter()
            .all(|(n, _)| *n <= block),
        "set-operator sent a transaction without a PCR0 to check"
    );
    // Without the simulated root: refused too.
    let mut aws_only = set_operator(&pcr0);
    aws_only.truncate(aws_only.len() - sim.len());
    let err = cli("lottery", aws_only).await.failure(1);
    assert!(err.contains("the document is SIMULATED"), "{err}");
    assert_eq!(operator_on_chain(&chain, contract).await, None);

    // The right PCR: the enclave's generated (attested) address is announced with the
    // document's PCR0, and becomes the operator after the delay.
    let out = cli("lottery", set_operator(&pcr0)).await.success();
    assert!(
        out.starts_with(&format!(
            "operator {generated} announced with PCR0 {}, attested by {url} (SIMULATED enclave); it takes effect at ",
            &pcr0[2..]
        )),
        "{out}"
    );
    assert_eq!(operator_on_chain(&chain, contract).await, None);
    let err = cli("attest", with_contract.clone()).await.failure(1);
    assert!(
        err.starts_with(&format!(
            "error: the attested operator {generated} is announced but not yet the contract's operator: it takes effect at "
        )),
        "{err}"
    );
    chain.pass_operator_delay().await;
    assert_eq!(operator_on_chain(&chain, contract).await, Some(generated));
    // `attest verify --contract` now agrees with the chain, PCR0 taken from it.
    let out = cli("attest", with_contract).await.success();
    assert!(out.contains("on-chain operator"), "{out}");
    let out = cli("attest", chain_only.clone()).await.success();
    assert!(out.contains("PCR0 recorded on chain"), "{out}");
    // An explicit PCR0 that contradicts the chain's record: refused.
    let mut conflict = chain_only.clone();
    conflict.extend(args(&["--expected-pcr", &format!("0={}", "22".repeat(48))]));
    let err = cli("attest", conflict).await.failure(1);
    assert_eq!(
        err,
        format!(
            "error: --expected-pcr 0={} differs from the PCR0 the contract records ({}); refusing\n",
            "22".repeat(48),
            &pcr0[2..]
        )
    );

    // (c) The chain records another image for the same key (the publisher re-announces
    // it with a different PCR0): the document no longer matches the chain.
    let other = "11".repeat(48);
    let lottery = abi::contract::Lottery::new(contract, chain.provider.clone());
    chain
        .set_operator(&lottery, generated, &alloy::hex::decode(&other).unwrap())
        .await;
    let err = cli("attest", chain_only).await.failure(1);
    assert!(
        err.starts_with("error: verification failed: PCR0 "),
        "{err}"
    );
    // set-operator --from-attestation without --expected-pcr checks against that
    // record too, and sends nothing.
    let block = chain.provider.get_block_number().await.unwrap();
    let err = cli("lottery", no_pcr).await.failure(1);
    assert!(
        err.starts_with("error: refusing to set the operator: the enclave's attestation was not verified: verification failed: PCR0 "),
        "{err}"
    );
    assert!(
        tests::sent_by(&chain, chain.publisher())
            .await
            .iter()
            .all(|(n, _)| *n <= block),
        "set-operator sent a transaction although PCR0 differs from the chain's"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attest_seal_key_injects_once_and_the_operator_draws() {
    let chain = Chain::start_with(&["--block-time", "1"]).await;
    let lottery = chain.deploy(500).await;
    let contract = *lottery.address();
    let operator = chain.operator();
    let stack = AttestingStack::start(&chain, contract, operator).await;
    let url = &stack.url();
    let root = stack.root_pem.to_str().unwrap();
    let pcr0 = format!("0={}", pcr0_of_enclave_app());
    let seal = |key: &Path| {
        args(&[
            "seal-key",
            "--url",
            url,
            "--key-file",
            key.to_str().unwrap(),
            "--expected-pcr",
            &pcr0,
            "--allow-simulated",
            "--root-cert",
            root,
        ])
    };
    let right = key_file(stack.dir.path(), &chain, 1);
    let wrong = key_file(stack.dir.path(), &chain, 2);

    // No PCR0 to seal against (no --expected-pcr, no --contract): refused, nothing sent.
    let mut unpinned = seal(&right);
    let at = unpinned.iter().position(|a| a == "--expected-pcr").unwrap();
    unpinned.drain(at..at + 2);
    let err = cli("attest", unpinned.clone()).await.failure(2);
    assert_eq!(
        err,
        "error: no PCR0 to check the enclave against: no --contract/--rpc-url to read it from; pass --expected-pcr 0=<96 hex digits>, the value published for the release\n"
    );
    // With the contract, which records no PCR0 yet: refused as well.
    let mut chain_pinned = unpinned.clone();
    chain_pinned.extend(args(&[
        "--contract",
        &contract.to_string(),
        "--rpc-url",
        &chain.endpoint(),
    ]));
    let err = cli("attest", chain_pinned).await.failure(2);
    assert!(
        err.contains("the contract records none for its operator"),
        "{err}"
    );

    // A key for another address than the enclave's --operator-address: refused.
    let err = cli("attest", seal(&wrong)).await.failure(1);
    assert!(
        err.starts_with(&format!(
            "error: the enclave did not accept the key: {url} refused the request (409): "
        )) && err.contains(&format!(
            "the key's address {} is not the pinned operator address {operator} (--operator-address)",
            chain.player(0)
        )),
        "{err}"
    );
    // The client refuses before sending when --expected-operator disagrees.
    let mut expect = seal(&wrong);
    expect.extend(args(&["--expected-operator", &operator.to_string()]));
    let err = cli("attest", expect).await.failure(2);
    assert!(err.contains("nothing was sent"), "{err}");

    // The right key: accepted, and the enclave reports its address. Never printed.
    let mut first = vec!["--json".to_owned()];
    first.extend(seal(&right));
    let out = cli("attest", first).await.success();
    let secret = alloy::hex::encode(chain.keys[1].to_bytes());
    assert!(!out.contains(&secret), "the key was printed");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["injectedOperator"], operator.to_checksum(None));
    assert_eq!(report["simulated"], true);
    // Once only.
    let err = cli("attest", seal(&right)).await.failure(1);
    assert!(err.contains("already injected"), "{err}");
    assert!(!err.contains(&secret));

    // The publisher hands the role to the injected key's address.
    let publisher_key = key_file(stack.dir.path(), &chain, 0);
    cli(
        "lottery",
        args(&[
            "--rpc-url",
            &chain.endpoint(),
            "set-operator",
            "--contract",
            &contract.to_string(),
            "--operator",
            &operator.to_string(),
            "--pcr0",
            &pcr0[2..],
            "--key-file",
            publisher_key.to_str().unwrap(),
        ]),
    )
    .await
    .success();
    chain.pass_operator_delay().await;
    // The enclave commits a seed for round 1 as the injected operator.
    let deadline = Instant::now() + Duration::from_secs(20);
    while lottery
        .getRound()
        .call()
        .await
        .unwrap()
        .seedCommitment
        .is_zero()
    {
        assert!(Instant::now() < deadline, "no seed commitment within 20 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tests::play_first_round(&chain, &lottery, 30).await;
    let sent = tests::sent_by(&chain, operator).await;
    assert!(
        sent.len() >= 2,
        "commit and draw from the injected key: {sent:?}"
    );
    assert!(
        sent.iter().all(|(_, ok)| *ok),
        "a transaction reverted: {sent:?}"
    );
}
