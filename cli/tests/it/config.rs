//! `config`: show the configuration, change it as the operator.

use serde_json::json;

use crate::{CliChain, OPERATOR, PUBLISHER, default_config};

#[test]
fn config_shows_and_updates() {
    let chain = CliChain::start();
    let contract = chain.deploy_with_operator();
    let a = contract.to_checksum(None);
    let publisher = chain.account(PUBLISHER);
    let operator = chain.account(OPERATOR);

    // Read-only: no key needed.
    let config = chain.cli(&["--json", "config", "--contract", &a]).json();
    assert_eq!(config, default_config(publisher, Some(operator)));
    assert_eq!(config["minBetAmount"], "1000000000000000");
    assert_eq!(config["bettingDuration"], 180);
    assert_eq!(config["minParticipants"], 2);

    let text = chain.cli(&["config", "--contract", &a]).success();
    assert_eq!(
        text,
        format!(
            "publisher          {}\noperator           {}\ncommission         500 bps\nminimum bet        0.001 ETH\nbetting duration   180 s\ndraw window        5..180 s after the end of betting\nminimum extension  60 s\nmin participants   2\noperator PCR0      {}\noperator delay     {} s\n",
            chain.cs(PUBLISHER),
            chain.cs(OPERATOR),
            crate::TEST_PCR0,
            crate::OPERATOR_DELAY
        )
    );

    // Update all three as the operator.
    let block = chain.block_number();
    let updated = chain
        .cli_as(
            OPERATOR,
            &[
                "--json",
                "config",
                "--contract",
                &a,
                "--min-bet",
                "2000000000000000",
                "--betting-duration",
                "300",
                "--min-participants",
                "3",
            ],
        )
        .json();
    let mut expected = default_config(publisher, Some(operator));
    expected["minBetAmount"] = json!("2000000000000000");
    expected["bettingDuration"] = json!(300);
    expected["minParticipants"] = json!(3);
    assert_eq!(updated, expected);
    assert_eq!(
        chain.block_number(),
        block + 3,
        "one transaction per change"
    );
    assert_eq!(
        chain.cli(&["--json", "config", "--contract", &a]).json(),
        expected,
        "the change is on chain"
    );

    // Out of the contract's bounds.
    let block = chain.block_number();
    let err = chain
        .cli_as(
            OPERATOR,
            &["config", "--contract", &a, "--betting-duration", "10"],
        )
        .failure(1);
    assert_eq!(
        err,
        "error: --betting-duration rejected: betting duration 10 s is outside 60..=604800 s\n"
    );
    assert!(err.contains("outside"));
    let err = chain
        .cli_as(
            OPERATOR,
            &["config", "--contract", &a, "--min-participants", "1"],
        )
        .failure(1);
    assert_eq!(
        err,
        "error: --min-participants rejected: minimum participants 1 is outside 2..=10000\n"
    );

    // Only the operator, and only with a key.
    let err = chain
        .cli_as(
            PUBLISHER,
            &["config", "--contract", &a, "--min-participants", "4"],
        )
        .failure(1);
    assert_eq!(
        err,
        format!(
            "error: --min-participants rejected: {} is not the operator of this contract\n",
            chain.cs(PUBLISHER)
        )
    );
    assert_eq!(chain.block_number(), block, "nothing was mined");
    assert_eq!(
        chain.cli(&["--json", "config", "--contract", &a]).json(),
        expected,
        "unchanged"
    );

    // The new duration applies to the next round.
    let (_, round) = chain.commit(contract);
    assert_eq!(round, 1);
    chain.bet(contract, 2, "0.002");
    let round = &chain.status(contract)["round"];
    assert_eq!(
        round["endTime"].as_u64().unwrap() - round["startTime"].as_u64().unwrap(),
        300
    );
}

/// A `config` call with one valid and one invalid change fails without applying the
/// valid one: the user sees an error and must be able to trust nothing changed.
#[test]
fn config_with_an_invalid_change_changes_nothing() {
    let chain = CliChain::start();
    let contract = chain.deploy_with_operator();
    let a = contract.to_checksum(None);
    let before = chain.cli(&["--json", "config", "--contract", &a]).json();
    let block = chain.block_number();
    let err = chain
        .cli_as(
            OPERATOR,
            &[
                "config",
                "--contract",
                &a,
                "--min-bet",
                "2000000000000000",
                "--betting-duration",
                "10",
            ],
        )
        .failure(1);
    assert!(err.contains("outside 60..=604800"), "{err}");
    assert_eq!(
        chain.cli(&["--json", "config", "--contract", &a]).json(),
        before,
        "the minimum bet was changed although the command failed"
    );
    assert_eq!(chain.block_number(), block, "nothing was mined");
}
