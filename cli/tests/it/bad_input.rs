//! Bad input: a clear error, a non-zero exit, and nothing sent to the chain.

use crate::{CliChain, PUBLISHER, run, run_args};

/// Anvil's first default key, for commands that never reach a chain.
const KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

/// A deployed, committed contract a valid bet would start; returns it checksummed.
fn ready(chain: &CliChain) -> String {
    let contract = chain.deploy_with_operator();
    chain.commit(contract);
    contract.to_checksum(None)
}

#[test]
fn bad_contract_addresses() {
    let chain = CliChain::start();
    let a = ready(&chain);
    let block = chain.block_number();

    for args in [
        vec!["status", "--contract", "0x1234"],
        vec!["config", "--contract", "0x1234"],
    ] {
        let err = chain.cli(&args).failure(2);
        assert!(
            err.starts_with(
                "error: invalid value '0x1234' for '--contract <CONTRACT>': invalid string length\n"
            ),
            "{args:?}: {err}"
        );
    }
    let err = chain
        .cli_as(2, &["bet", "--contract", "0x1234", "--amount", "0.01"])
        .failure(2);
    assert!(
        err.contains("invalid value '0x1234' for '--contract <CONTRACT>'"),
        "{err}"
    );

    // A well-formed address without code: an account, and an empty address.
    for empty in [
        chain.cs(2),
        "0x00000000000000000000000000000000000000aa".to_owned(),
    ] {
        let checksummed = empty.parse::<alloy::primitives::Address>().unwrap();
        let expected = format!(
            "error: no contract at {} on this chain (wrong --contract or --rpc-url?)\n",
            checksummed.to_checksum(None)
        );
        assert_eq!(
            chain.cli(&["status", "--contract", &empty]).failure(1),
            expected
        );
        assert_eq!(
            chain
                .cli_as(3, &["bet", "--contract", &empty, "--amount", "0.01"])
                .failure(1),
            expected
        );
        assert_eq!(
            chain
                .cli_as(PUBLISHER, &["withdraw", "--contract", &empty])
                .failure(1),
            expected
        );
    }
    assert_eq!(chain.block_number(), block, "nothing was sent");
    assert_eq!(
        chain.status(a.parse().unwrap())["round"]["state"],
        "WAITING"
    );
}

#[test]
fn bad_amounts() {
    let chain = CliChain::start();
    let a = ready(&chain);
    let block = chain.block_number();
    let bet = |amount: &str| {
        chain
            .cli_as(2, &["bet", "--contract", &a, "--amount", amount])
            .failure(1)
    };
    assert_eq!(
        bet("abc"),
        "error: invalid amount \"abc\": expected ETH as a decimal, for example 0.01\n"
    );
    assert_eq!(
        bet("1,5"),
        "error: invalid amount \"1,5\": expected ETH as a decimal, for example 0.01\n"
    );
    assert_eq!(bet("0"), "error: the amount must be greater than zero\n");
    assert_eq!(
        bet("0.000"),
        "error: the amount must be greater than zero\n"
    );

    // `--amount -1` reads as an unknown flag to clap: still a usage error naming it.
    let err = chain
        .cli_as(2, &["bet", "--contract", &a, "--amount", "-1"])
        .failure(2);
    assert!(err.contains("'-1'"), "{err}");

    assert_eq!(chain.block_number(), block, "nothing was sent");
    let status = chain.status(a.parse().unwrap());
    assert_eq!(status["round"]["state"], "WAITING");
    assert_eq!(status["round"]["totalPot"], "0");
}

/// `--amount=-1` reaches the amount parser, which must reject it rather than wrap it
/// around to 2^256 - 10^18 wei and send that.
#[test]
fn negative_amount_is_rejected_before_sending() {
    let chain = CliChain::start();
    let a = ready(&chain);
    let block = chain.block_number();
    for amount in ["-1", "-0.01"] {
        let err = chain
            .cli_as(2, &["bet", "--contract", &a, &format!("--amount={amount}")])
            .failure(1);
        assert_eq!(
            err,
            format!(
                "error: invalid amount \"{amount}\": expected a positive ETH amount such as 0.01, without a sign\n"
            )
        );
    }
    assert_eq!(chain.block_number(), block, "nothing was sent");
}

#[test]
fn commission_above_the_maximum() {
    let chain = CliChain::start();
    let err = chain
        .cli_as(PUBLISHER, &["deploy", "--commission-bps", "1001"])
        .failure(2);
    assert!(
        err.starts_with(
            "error: invalid value '1001' for '--commission-bps <COMMISSION_BPS>': 1001 is not in 0..=1000\n"
        ),
        "{err}"
    );
    assert_eq!(chain.block_number(), 0, "nothing was deployed");

    // The bounds themselves are accepted.
    let deployed = chain
        .cli_as(PUBLISHER, &["--json", "deploy", "--commission-bps", "1000"])
        .json();
    assert_eq!(deployed["commissionBps"], 1000);
    let config = chain
        .cli(&[
            "--json",
            "config",
            "--contract",
            &chain.account(PUBLISHER).create(0).to_string(),
        ])
        .json();
    assert_eq!(config["commissionBps"], 1000);
}

#[test]
fn unreachable_rpc() {
    let key = KEY;
    let contract = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    for args in [
        vec!["status", "--contract", contract],
        vec!["deploy", "--private-key", key],
        vec![
            "bet",
            "--contract",
            contract,
            "--amount",
            "0.01",
            "--private-key",
            key,
        ],
    ] {
        let mut full = vec!["--rpc-url", "http://127.0.0.1:1"];
        full.extend(&args);
        let err = run_args(&full).failure(1);
        assert!(err.starts_with("error: "), "{err}");
        assert!(
            err.to_lowercase().contains("connection refused"),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(!err.contains(key), "echoed the key: {err}");
    }
}

#[test]
fn rpc_url_scheme_must_be_http() {
    for url in [
        "ftp://127.0.0.1:8545",
        "ws://127.0.0.1:8545",
        "127.0.0.1:8545",
    ] {
        let err = run_args(&[
            "--rpc-url",
            url,
            "status",
            "--contract",
            "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        ])
        .failure(1);
        assert!(
            err.starts_with("error: invalid --rpc-url / LOTTERY_RPC_URL: invalid RPC URL"),
            "{err}"
        );
        assert!(err.contains("http:// or https://"), "{err}");
    }
}

/// RPC URLs carry API keys in their path: no error or log line may show them.
#[test]
fn rpc_url_secrets_are_not_printed() {
    let contract = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    for url in [
        "http://127.0.0.1:1/v2/SECRETKEY",
        "http://127.0.0.1:1/?apikey=SECRETKEY",
    ] {
        for args in [
            vec!["status", "--contract", contract],
            vec!["deploy", "--private-key", KEY],
        ] {
            let mut full = vec!["--rpc-url", url];
            full.extend(&args);
            let err = run_args(&full).failure(1);
            assert!(!err.contains("SECRETKEY"), "{url} leaked: {err}");
            assert!(err.to_lowercase().contains("connection refused"), "{err}");
            // Not in verbose logs either, nor when the URL comes from the environment.
            let err = run(crate::lottery()
                .args(&args)
                .env("LOTTERY_RPC_URL", url)
                .env("RUST_LOG", "trace"))
            .failure(1);
            assert!(!err.contains("SECRETKEY"), "{url} leaked: {err}");
            assert!(!err.contains(KEY), "the private key leaked: {err}");
        }
    }
}

/// An RPC URL the CLI rejects (wrong scheme: `wss://` is a common provider URL) is
/// still secret: the error may show scheme and host, never the path's API key.
#[test]
fn rejected_rpc_url_is_not_echoed() {
    let contract = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    for url in [
        "ftp://127.0.0.1/v2/SECRETKEY",
        "wss://eth.example.org/v2/SECRETKEY",
    ] {
        let err = run_args(&["--rpc-url", url, "status", "--contract", contract]).failure(1);
        assert!(err.contains("http:// or https://"), "{err}");
        assert!(!err.contains("SECRETKEY"), "--rpc-url {url} leaked: {err}");
        let err = run(crate::lottery()
            .args(["status", "--contract", contract])
            .env("LOTTERY_RPC_URL", url))
        .failure(1);
        assert!(
            !err.contains("SECRETKEY"),
            "LOTTERY_RPC_URL={url} leaked: {err}"
        );
    }
}
