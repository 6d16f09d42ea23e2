//! The documented flow: deploy, set the operator, commit, bet, status, draw, withdraw.

use abi::draw;
use alloy::primitives::U256;
use serde_json::json;

use crate::{CHAIN_ID, CliChain, OPERATOR, PUBLISHER, address, b256, default_config, tx_hash};

const POT: &str = "40000000000000000";
const COMMISSION: &str = "2000000000000000";
const PRIZE: &str = "38000000000000000";

#[test]
fn happy_path_with_json() {
    let chain = CliChain::start();
    let (p2, p3) = (2, 3);

    // deploy
    let deployed = chain.cli_as(PUBLISHER, &["--json", "deploy"]).json();
    let contract = address(&deployed, "address");
    assert_eq!(contract, chain.account(PUBLISHER).create(0));
    assert_eq!(address(&deployed, "publisher"), chain.account(PUBLISHER));
    assert_eq!(deployed["commissionBps"], 500);
    assert_eq!(deployed["blockNumber"], 1);
    assert_eq!(
        deployed["operatorDelay"], 86_400,
        "the default delay is a day"
    );
    tx_hash(&deployed);
    assert_eq!(deployed.as_object().unwrap().len(), 6, "{deployed}");
    let a = contract.to_checksum(None);

    // set-operator
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
                crate::TEST_PCR0,
            ],
        )
        .json();
    assert_eq!(address(&set, "operator"), chain.account(OPERATOR));
    assert_eq!(set["pcr0"], crate::TEST_PCR0);
    assert_eq!(set["recordId"], 1);
    let effective_at = set["effectiveAt"].as_u64().expect("effectiveAt");
    assert_eq!(effective_at, chain.timestamp() + 86_400);
    tx_hash(&set);
    assert_eq!(set.as_object().unwrap().len(), 5, "{set}");
    // The operator acts once the delay has passed.
    chain.increase_time(86_400);

    // commit
    let committed = chain
        .cli_as(OPERATOR, &["--json", "commit", "--contract", &a])
        .json();
    let seed = b256(&committed, "seed");
    let commitment = draw::commitment(
        CHAIN_ID,
        contract,
        U256::from(1),
        &draw::Seed::from_bytes(seed),
    );
    assert_eq!(
        committed,
        json!({
            "roundId": 1,
            "seed": seed.to_string(),
            "commitment": commitment.to_string(),
            "transactionHash": tx_hash(&committed),
        })
    );

    // bets
    let before_bets = chain.timestamp();
    for (player, amount, wei) in [
        (p2, "0.01", "10000000000000000"),
        (p3, "0.03", "30000000000000000"),
    ] {
        let bet = chain
            .cli_as(
                player,
                &["--json", "bet", "--contract", &a, "--amount", amount],
            )
            .json();
        assert_eq!(
            bet,
            json!({
                "roundId": 1,
                "player": chain.cs(player),
                "amount": wei,
                "newTotal": wei,
                "transactionHash": tx_hash(&bet),
            })
        );
    }

    // status
    let mut config = default_config(chain.account(PUBLISHER), Some(chain.account(OPERATOR)));
    config["operatorDelay"] = json!(86_400);
    let status = chain.status(contract);
    let start = status["round"]["startTime"].as_u64().expect("startTime");
    let now = chain.timestamp();
    assert!(
        (before_bets..=now).contains(&start),
        "betting started at {start}, outside {before_bets}..={now}"
    );
    assert_eq!(
        status,
        json!({
            "contract": a,
            "chainId": CHAIN_ID,
            "blockNumber": chain.block_number(),
            "blockTimestamp": now,
            "config": config,
            "round": {
                "roundId": 1,
                "state": "BETTING",
                "startTime": start,
                "endTime": start + 180,
                "minDrawTime": start + 185,
                "maxDrawTime": start + 360,
                "totalPot": POT,
                "participantCount": 2,
                "winner": null,
                "prize": "0",
                "commission": "0",
                "seedCommitment": commitment.to_string(),
                "revealedSeed": null,
            },
            "participants": [
                { "address": chain.cs(p2), "amount": "10000000000000000", "winChance": 0.25 },
                { "address": chain.cs(p3), "amount": "30000000000000000", "winChance": 0.75 },
            ],
        })
    );

    // The same status as text.
    let text = chain.cli(&["status", "--contract", &a]).success();
    for line in [
        format!("contract {a} on chain {CHAIN_ID} (block "),
        "round 1: BETTING".to_owned(),
        "  pot 0.04 ETH from 2 participants".to_owned(),
        format!("  {}        0.01 ETH   25.0%", chain.cs(p2)),
        format!("  {}        0.03 ETH   75.0%", chain.cs(p3)),
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(&line)),
            "no line {line:?} in:\n{text}"
        );
    }

    // draw, past minDrawTime
    chain.increase_time(200);
    let drawn = chain.draw(&a, seed);
    let wei = |s: &str| U256::from_str_radix(s, 10).unwrap();
    let winner = draw::winner(
        &[
            (chain.account(p2), wei("10000000000000000")),
            (chain.account(p3), wei("30000000000000000")),
        ],
        seed,
    )
    .unwrap();
    assert!(winner == chain.account(p2) || winner == chain.account(p3));
    assert_eq!(
        drawn,
        json!({
            "roundId": 1,
            "outcome": "completed",
            "winner": winner.to_checksum(None),
            "prize": PRIZE,
            "commission": COMMISSION,
            "transactionHash": tx_hash(&drawn),
        })
    );
    assert_eq!(wei(PRIZE) + wei(COMMISSION), wei(POT));
    let after = chain.status(contract);
    assert_eq!(after["round"]["roundId"], 2);
    assert_eq!(after["round"]["state"], "WAITING");
    assert_eq!(after["participants"], json!([]));

    // withdraw the commission, once
    let withdrawn = chain
        .cli_as(PUBLISHER, &["--json", "withdraw", "--contract", &a])
        .json();
    assert_eq!(
        withdrawn,
        json!({
            "transactionHash": tx_hash(&withdrawn),
            "account": chain.cs(PUBLISHER),
            "amount": COMMISSION,
        })
    );
    let block = chain.block_number();
    let err = chain
        .cli_as(PUBLISHER, &["--json", "withdraw", "--contract", &a])
        .failure(1);
    assert_eq!(
        err,
        format!(
            "error: withdraw failed: {} has nothing to withdraw\n",
            chain.cs(PUBLISHER)
        )
    );
    assert!(err.contains("nothing to withdraw"));
    assert_eq!(
        chain.block_number(),
        block,
        "a failed withdraw mined nothing"
    );
}

/// Plain-text deploy prints the checksummed address and nothing else.
#[test]
fn deploy_prints_just_the_address() {
    let chain = CliChain::start();
    let out = chain.cli_as(PUBLISHER, &["deploy"]).success();
    let expected = chain.account(PUBLISHER).create(0).to_checksum(None);
    assert_eq!(out, format!("{expected}\n"));
    // The next deployment gets the next address.
    let out = chain.cli_as(PUBLISHER, &["deploy"]).success();
    let expected = chain.account(PUBLISHER).create(1).to_checksum(None);
    assert_eq!(out, format!("{expected}\n"));
}

/// DESIGN.md's wire rules: addresses in JSON are EIP-55 checksummed, as `status`,
/// `bet`, `draw` and `withdraw` print them.
#[test]
fn json_addresses_are_checksummed() {
    let chain = CliChain::start();
    let deployed = chain.cli_as(PUBLISHER, &["--json", "deploy"]).json();
    let contract = chain.account(PUBLISHER).create(0);
    assert_eq!(
        deployed,
        json!({
            "address": contract.to_checksum(None),
            "transactionHash": tx_hash(&deployed),
            "blockNumber": 1,
            "publisher": chain.cs(PUBLISHER),
            "commissionBps": 500,
            "operatorDelay": 86_400,
        }),
        "deploy --json"
    );
    let set = chain
        .cli_as(
            PUBLISHER,
            &[
                "--json",
                "set-operator",
                "--contract",
                &contract.to_checksum(None),
                "--operator",
                &chain.cs(OPERATOR),
                "--pcr0",
                crate::TEST_PCR0,
            ],
        )
        .json();
    assert_eq!(
        set,
        json!({
            "transactionHash": tx_hash(&set),
            "operator": chain.cs(OPERATOR),
            "pcr0": crate::TEST_PCR0,
            "recordId": 1,
            "effectiveAt": chain.timestamp() + 86_400,
        }),
        "set-operator --json"
    );
}
