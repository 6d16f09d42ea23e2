//! Where the signing key comes from, and that a bad key is never echoed.

use std::io::Write;

use crate::{BAD_KEY, CliChain, PUBLISHER, run};

/// A temporary key file holding `text`.
fn key_file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(text.as_bytes()).expect("write key file");
    file.flush().expect("flush key file");
    file
}

/// What `deploy` prints when account `i` deploys its first contract.
fn first_deployment(chain: &CliChain, i: usize) -> String {
    format!("{}\n", chain.account(i).create(0).to_checksum(None))
}

#[test]
fn key_file_and_environment_sign() {
    let chain = CliChain::start();

    // --key-file: hex plus a trailing newline.
    let file = key_file(&format!("{}\n", chain.key(4)));
    let out = run(chain.cmd(&["deploy", "--key-file"]).arg(file.path())).success();
    assert_eq!(out, first_deployment(&chain, 4));

    // LOTTERY_PRIVATE_KEY.
    let out = run(chain
        .cmd(&["deploy"])
        .env("LOTTERY_PRIVATE_KEY", chain.key(5)))
    .success();
    assert_eq!(out, first_deployment(&chain, 5));

    // LOTTERY_KEY_FILE, 0x-prefixed and surrounded by whitespace.
    let file = key_file(&format!("  0x{}\n\n", chain.key(6)));
    let out = run(chain.cmd(&["deploy"]).env("LOTTERY_KEY_FILE", file.path())).success();
    assert_eq!(out, first_deployment(&chain, 6));

    // --private-key, 0x-prefixed.
    let out = chain
        .cli(&["deploy", "--private-key", &format!("0x{}", chain.key(7))])
        .success();
    assert_eq!(out, first_deployment(&chain, 7));

    // The deployer is the publisher.
    let contract = chain.account(4).create(0).to_checksum(None);
    let config = chain
        .cli(&["--json", "config", "--contract", &contract])
        .json();
    assert_eq!(config["publisher"], chain.cs(4));
}

#[test]
fn malformed_keys_are_rejected_without_echoing_them() {
    let chain = CliChain::start();
    let good = chain.key(PUBLISHER).to_owned();
    let bad_keys = [
        "1234abcd".to_owned(),                      // too short
        format!("zz{}", &good[2..]),                // 64 characters, not hex
        format!("{good}00"),                        // too long
        format!("0x{}", &good[..62]),               // prefixed, too short
        format!("{} {}", &good[..32], &good[32..]), // split in two
    ];
    let block = chain.block_number();
    for bad in &bad_keys {
        // The secret part that must never appear.
        let secret = bad.trim_start_matches("0x").split(' ').next().unwrap();

        let err = chain.cli(&["deploy", "--private-key", bad]).failure(1);
        assert_eq!(
            err,
            format!("error: invalid --private-key / LOTTERY_PRIVATE_KEY: {BAD_KEY}\n"),
            "--private-key {bad:?}"
        );
        assert!(!err.contains(secret), "echoed the key: {err}");

        let err = run(chain.cmd(&["deploy"]).env("LOTTERY_PRIVATE_KEY", bad)).failure(1);
        assert_eq!(
            err,
            format!("error: invalid --private-key / LOTTERY_PRIVATE_KEY: {BAD_KEY}\n"),
            "LOTTERY_PRIVATE_KEY={bad:?}"
        );

        let file = key_file(&format!("{bad}\n"));
        let err = run(chain.cmd(&["deploy", "--key-file"]).arg(file.path())).failure(1);
        assert_eq!(
            err,
            format!(
                "error: invalid key in {}: {BAD_KEY}\n",
                file.path().display()
            ),
            "key file holding {bad:?}"
        );
        assert!(!err.contains(secret), "echoed the key: {err}");
    }

    // 64 hex digits, but not a secp256k1 scalar.
    for bad in ["0".repeat(64), "f".repeat(64)] {
        let err = chain.cli(&["deploy", "--private-key", &bad]).failure(1);
        assert_eq!(
            err,
            "error: invalid --private-key / LOTTERY_PRIVATE_KEY: not a valid secp256k1 private key (zero or above the curve order)\n"
        );
    }
    assert_eq!(chain.block_number(), block, "nothing was sent");
}

#[test]
fn missing_key_file_is_named() {
    let chain = CliChain::start();
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("missing.key");
    let err = run(chain.cmd(&["deploy", "--key-file"]).arg(&missing)).failure(1);
    assert!(
        err.starts_with(&format!(
            "error: cannot read key file {}: ",
            missing.display()
        )),
        "{err}"
    );
    // A directory is not a key file.
    let err = run(chain.cmd(&["deploy", "--key-file"]).arg(dir.path())).failure(1);
    assert_eq!(
        err,
        format!(
            "error: key file {} is not a small file holding one hex private key\n",
            dir.path().display()
        )
    );
}

#[test]
fn signing_without_a_key_says_how_to_provide_one() {
    let chain = CliChain::start();
    let contract = chain.deploy().to_checksum(None);
    let block = chain.block_number();
    let expected = "error: this command signs a transaction: pass --key-file PATH, --private-key HEX, or set LOTTERY_KEY_FILE / LOTTERY_PRIVATE_KEY\n";
    for args in [
        vec!["deploy"],
        vec!["bet", "--contract", &contract, "--amount", "0.01"],
        vec!["withdraw", "--contract", &contract],
        vec!["config", "--contract", &contract, "--min-participants", "3"],
    ] {
        assert_eq!(chain.cli(&args).failure(1), expected, "{args:?}");
    }
    assert_eq!(chain.block_number(), block, "nothing was sent");
}

#[test]
fn private_key_and_key_file_conflict() {
    let chain = CliChain::start();
    let file = key_file(&format!("{}\n", chain.key(PUBLISHER)));
    let err = run(chain
        .cmd(&[
            "deploy",
            "--private-key",
            chain.key(PUBLISHER),
            "--key-file",
        ])
        .arg(file.path()))
    .failure(2);
    assert!(
        err.starts_with(
            "error: the argument '--private-key <PRIVATE_KEY>' cannot be used with '--key-file <KEY_FILE>'"
        ),
        "{err}"
    );
    assert!(!err.contains(chain.key(PUBLISHER)), "echoed the key: {err}");
    assert_eq!(chain.block_number(), 0, "nothing was deployed");
}
