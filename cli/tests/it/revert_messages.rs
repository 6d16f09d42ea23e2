//! How the `lottery` CLI reports contract reverts: they come back as sentences, and
//! nothing is mined.

use alloy::primitives::B256;

use crate::{CliChain, OPERATOR, OPERATOR_DELAY, PUBLISHER, TEST_PCR0};

#[test]
fn reverts_are_decoded() {
    let chain = CliChain::start();
    let contract = chain.deploy_with_operator();
    let a = contract.to_checksum(None);
    let block = chain.block_number();

    // A bet before the operator committed a seed.
    let err = chain
        .cli_as(2, &["bet", "--contract", &a, "--amount", "0.01"])
        .failure(1);
    assert_eq!(
        err,
        "error: bet failed: round 1 has no seed commitment yet: the operator must commit before betting opens\n"
    );

    // A commit by someone other than the operator (here: the publisher).
    let err = chain
        .cli_as(PUBLISHER, &["commit", "--contract", &a])
        .failure(1);
    assert_eq!(
        err,
        format!(
            "error: commit failed: {} is not the operator of this contract\n",
            chain.cs(PUBLISHER)
        )
    );

    // set-operator by someone other than the publisher.
    let err = chain
        .cli_as(
            3,
            &[
                "set-operator",
                "--contract",
                &a,
                "--operator",
                &chain.cs(3),
                "--pcr0",
                TEST_PCR0,
            ],
        )
        .failure(1);
    assert_eq!(err, not_the_publisher(&chain, 3));

    // set-operator to the publisher itself.
    let err = chain
        .cli_as(
            PUBLISHER,
            &[
                "set-operator",
                "--contract",
                &a,
                "--operator",
                &chain.cs(PUBLISHER),
                "--pcr0",
                TEST_PCR0,
            ],
        )
        .failure(1);
    assert_eq!(
        err,
        format!(
            "error: set-operator failed: {} cannot be the operator (zero address or the publisher)\n",
            chain.cs(PUBLISHER)
        )
    );
    assert_eq!(chain.block_number(), block, "no reverted call was mined");

    // Betting opens.
    let (seed, round) = chain.commit(contract);
    assert_eq!(round, 1);
    chain.bet(contract, 2, "0.01");
    chain.bet(contract, 3, "0.03");
    let status = chain.status(contract);
    let min_draw = status["round"]["minDrawTime"].as_u64().unwrap();
    let block = chain.block_number();

    // A bet below the minimum.
    let err = chain
        .cli_as(4, &["bet", "--contract", &a, "--amount", "0.0001"])
        .failure(1);
    assert!(
        err.starts_with("error: bet failed: bet of 0.0001")
            && err.contains("is below the minimum bet of 0.001"),
        "{err}"
    );

    // A draw before the draw window.
    let err = chain
        .cli_as(
            OPERATOR,
            &["draw", "--contract", &a, "--seed", &seed.to_string()],
        )
        .failure(1);
    let prefix =
        format!("error: draw failed: round 1 cannot be drawn before {min_draw} (block time ");
    assert!(err.starts_with(&prefix) && err.ends_with(")\n"), "{err}");
    let at: u64 = err[prefix.len()..err.len() - 2]
        .parse()
        .expect("block time");
    assert!(at < min_draw, "{err}");

    assert_eq!(chain.block_number(), block, "no reverted call was mined");

    // set-operator while betting is only an announcement: the announced key cannot
    // touch the round that takes bets, even with the right seed.
    chain
        .cli_as(
            PUBLISHER,
            &[
                "set-operator",
                "--contract",
                &a,
                "--operator",
                &chain.cs(5),
                "--pcr0",
                TEST_PCR0,
            ],
        )
        .success();
    let block = chain.block_number();
    let err = chain
        .cli_as(5, &["draw", "--contract", &a, "--seed", &seed.to_string()])
        .failure(1);
    assert!(
        err.starts_with(&format!(
            "error: draw failed: {} is announced as the next operator but cannot act before ",
            chain.cs(5)
        )),
        "{err}"
    );
    assert_eq!(chain.block_number(), block, "no reverted call was mined");

    // Inside the window, a wrong seed.
    chain.increase_time(200);
    let block = chain.block_number();
    let wrong = B256::repeat_byte(0x11);
    assert_ne!(wrong, seed);
    let err = chain
        .cli_as(
            OPERATOR,
            &["draw", "--contract", &a, "--seed", &wrong.to_string()],
        )
        .failure(1);
    assert_eq!(
        err,
        "error: draw failed: the seed does not match the commitment of round 1\n"
    );
    // Only the operator draws, even with the right seed.
    let err = chain
        .cli_as(
            PUBLISHER,
            &["draw", "--contract", &a, "--seed", &seed.to_string()],
        )
        .failure(1);
    assert_eq!(
        err,
        format!(
            "error: draw failed: {} is not the operator of this contract\n",
            chain.cs(PUBLISHER)
        )
    );
    assert_eq!(chain.block_number(), block, "no reverted call was mined");
    let status = chain.status(contract);
    assert_eq!(status["round"]["state"], "BETTING");
    assert_eq!(status["round"]["totalPot"], "40000000000000000");

    // The right seed still draws.
    let drawn = chain.draw(&a, seed);
    assert_eq!(drawn["outcome"], "completed");
}

#[test]
fn malformed_seed_is_a_usage_error() {
    let chain = CliChain::start();
    let a = chain.deploy_with_operator().to_checksum(None);
    let err = chain
        .cli_as(OPERATOR, &["draw", "--contract", &a, "--seed", "0x1234"])
        .failure(2);
    assert!(
        err.starts_with("error: invalid value '0x1234' for '--seed <SEED>'"),
        "{err}"
    );
}

#[test]
fn set_operator_funds_the_new_operator_only_when_the_hand_over_would_succeed() {
    let chain = CliChain::start();
    let contract = chain.deploy();
    let a = contract.to_checksum(None);
    let fresh = alloy::primitives::Address::repeat_byte(0x42);
    let f = fresh.to_checksum(None);
    let block = chain.block_number();

    // A malformed amount: a usage error before anything is sent.
    let err = chain
        .cli_as(
            PUBLISHER,
            &[
                "set-operator",
                "--contract",
                &a,
                "--operator",
                &f,
                "--pcr0",
                TEST_PCR0,
                "--fund",
                "1.2.3",
            ],
        )
        .failure(1);
    assert!(err.contains("invalid amount \"1.2.3\""), "{err}");

    // Not the publisher: the hand-over would revert, so no ETH leaves either.
    let err = chain
        .cli_as(
            3,
            &[
                "set-operator",
                "--contract",
                &a,
                "--operator",
                &f,
                "--pcr0",
                TEST_PCR0,
                "--fund",
                "1",
            ],
        )
        .failure(1);
    assert_eq!(err, not_the_publisher(&chain, 3));
    assert_eq!(chain.block_number(), block, "nothing was mined");
    assert!(chain.balance(fresh).is_zero());

    // The publisher: funded first, then the role.
    let set = chain
        .cli_as(
            PUBLISHER,
            &[
                "--json",
                "set-operator",
                "--contract",
                &a,
                "--operator",
                &f,
                "--pcr0",
                TEST_PCR0,
                "--fund",
                "1.5",
            ],
        )
        .json();
    assert_eq!(set["operator"], f);
    assert_eq!(set["funded"], "1500000000000000000");
    assert_eq!(
        chain.balance(fresh),
        alloy::primitives::U256::from(1_500_000_000_000_000_000u64)
    );
    // Announced, not yet the operator: it takes effect after the delay.
    let config = &chain.status(contract)["config"];
    assert_eq!(config["operator"], serde_json::Value::Null);
    assert_eq!(config["pendingOperator"]["operator"], f);
    assert_eq!(config["pendingOperator"]["pcr0"], TEST_PCR0);
    chain.increase_time(OPERATOR_DELAY);
    assert_eq!(chain.status(contract)["config"]["operator"], f);
}

#[test]
fn set_operator_by_hand_needs_a_valid_pcr0() {
    let chain = CliChain::start();
    let a = chain.deploy().to_checksum(None);
    let f = alloy::primitives::Address::repeat_byte(0x42).to_checksum(None);
    let block = chain.block_number();
    let base = ["set-operator", "--contract", &a, "--operator", &f];
    let err = chain.cli_as(PUBLISHER, &base).failure(2);
    assert!(
        err.starts_with(
            "error: the following required arguments were not provided:\n  --pcr0 <HEX>"
        ),
        "{err}"
    );
    for (pcr0, why) in [
        ("abcd", "expected 96 hex digits (SHA-384), got 2 bytes"),
        (
            &"00".repeat(48),
            "PCR0 is zero: that is a debug-mode enclave, which the contract refuses",
        ),
        ("zz", "expected 96 hex digits (SHA-384)"),
    ] {
        let mut args = base.to_vec();
        args.extend(["--pcr0", pcr0]);
        let err = chain.cli_as(PUBLISHER, &args).failure(2);
        assert_eq!(
            err.lines().next().unwrap(),
            format!("error: invalid value '{pcr0}' for '--pcr0 <HEX>': {why}"),
        );
    }
    assert_eq!(chain.block_number(), block, "nothing was mined");
}

#[test]
fn an_announced_operator_is_told_when_it_may_act() {
    let chain = CliChain::start();
    let a = chain.deploy().to_checksum(None);
    let set = chain
        .cli_as(
            PUBLISHER,
            &[
                "--json",
                "set-operator",
                "--contract",
                &a,
                "--operator",
                &chain.cs(OPERATOR),
                "--pcr0",
                TEST_PCR0,
            ],
        )
        .json();
    let at = set["effectiveAt"].as_u64().unwrap();
    let err = chain
        .cli_as(OPERATOR, &["commit", "--contract", &a])
        .failure(1);
    assert_eq!(
        err,
        format!(
            "error: commit failed: {} is announced as the next operator but cannot act before {at} (and not while a round takes bets)\n",
            chain.cs(OPERATOR)
        )
    );
    // The publisher withdraws the announcement: then it is not the operator at all.
    let out = chain
        .cli_as(PUBLISHER, &["cancel-operator", "--contract", &a])
        .success();
    assert!(
        out.starts_with(&format!(
            "the announcement of operator {} was withdrawn (tx 0x",
            chain.cs(OPERATOR)
        )),
        "{out}"
    );
    let err = chain
        .cli_as(PUBLISHER, &["cancel-operator", "--contract", &a])
        .failure(1);
    assert_eq!(
        err,
        "error: cancel-operator failed: no operator change is pending\n"
    );
    chain.increase_time(OPERATOR_DELAY);
    let err = chain
        .cli_as(OPERATOR, &["commit", "--contract", &a])
        .failure(1);
    assert_eq!(
        err,
        format!(
            "error: commit failed: {} is not the operator of this contract\n",
            chain.cs(OPERATOR)
        )
    );
}

/// What set-operator says when account `i` is not the publisher.
fn not_the_publisher(chain: &CliChain, i: usize) -> String {
    format!(
        "error: set-operator failed: {} is not the publisher (deployer) of this contract\n",
        chain.cs(i)
    )
}
