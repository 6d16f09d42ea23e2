//! Refunds: by the operator while betting, by anyone after the draw window; and a
//! draw with too few players.

use serde_json::json;

use crate::{CliChain, OPERATOR, tx_hash};

#[test]
fn operator_refund_and_expired_refund() {
    let chain = CliChain::start();
    let contract = chain.deploy_with_operator();
    let a = contract.to_checksum(None);

    // Round 1: the operator refunds while betting.
    chain.commit(contract);
    chain.bet(contract, 2, "0.01");
    let refunded = chain
        .cli_as(OPERATOR, &["--json", "refund", "--contract", &a])
        .json();
    assert_eq!(
        refunded,
        json!({
            "transactionHash": tx_hash(&refunded),
            "roundId": 1,
            "totalRefunded": "10000000000000000",
            "participantCount": 1,
        })
    );
    let round = &chain.status(contract)["round"];
    assert_eq!(round["roundId"], 2);
    assert_eq!(round["state"], "WAITING");

    // Round 2: a refund --expired before the window closed is refused.
    let (_, round) = chain.commit(contract);
    assert_eq!(round, 2);
    chain.bet(contract, 3, "0.02");
    let max_draw = chain.status(contract)["round"]["maxDrawTime"]
        .as_u64()
        .unwrap();
    let block = chain.block_number();
    let err = chain
        .cli_as(3, &["refund", "--contract", &a, "--expired"])
        .failure(1);
    let prefix = format!(
        "error: refund failed: round 2 can be refunded by anyone only after {max_draw} (block time "
    );
    assert!(err.starts_with(&prefix) && err.ends_with(")\n"), "{err}");
    // Without --expired, only the operator.
    let err = chain.cli_as(3, &["refund", "--contract", &a]).failure(1);
    assert_eq!(
        err,
        format!(
            "error: refund failed: {} is not the operator of this contract\n",
            chain.cs(3)
        )
    );
    assert_eq!(chain.block_number(), block, "nothing was mined");

    // After maxDrawTime, a player refunds.
    chain.increase_time(400);
    let refunded = chain
        .cli_as(3, &["--json", "refund", "--contract", &a, "--expired"])
        .json();
    assert_eq!(
        refunded,
        json!({
            "transactionHash": tx_hash(&refunded),
            "roundId": 2,
            "totalRefunded": "20000000000000000",
            "participantCount": 1,
        })
    );
    let round = &chain.status(contract)["round"];
    assert_eq!(round["roundId"], 3);
    assert_eq!(round["state"], "WAITING");

    // Both players withdraw their stakes.
    for (player, wei, eth) in [
        (2, "10000000000000000", "0.01"),
        (3, "20000000000000000", "0.02"),
    ] {
        if player == 2 {
            let out = chain
                .cli_as(player, &["--json", "withdraw", "--contract", &a])
                .json();
            assert_eq!(
                out,
                json!({
                    "transactionHash": tx_hash(&out),
                    "account": chain.cs(player),
                    "amount": wei,
                })
            );
        } else {
            let out = chain
                .cli_as(player, &["withdraw", "--contract", &a])
                .success();
            assert_eq!(out, format!("withdrew {eth} ETH to {}\n", chain.cs(player)));
        }
    }

    // Nothing left to refund.
    let err = chain
        .cli_as(OPERATOR, &["refund", "--contract", &a])
        .failure(1);
    assert_eq!(
        err,
        "error: refund failed: round 3 is WAITING, but this needs it BETTING\n"
    );
}

#[test]
fn draw_with_too_few_players_refunds() {
    let chain = CliChain::start();
    let contract = chain.deploy_with_operator();
    let a = contract.to_checksum(None);
    let (seed, _) = chain.commit(contract);
    chain.bet(contract, 2, "0.01");
    chain.bet(contract, 2, "0.02");
    let status = chain.status(contract);
    assert_eq!(
        status["participants"],
        json!([{ "address": chain.cs(2), "amount": "30000000000000000", "winChance": 1.0 }])
    );
    chain.increase_time(200);
    let drawn = chain.draw(&a, seed);
    assert_eq!(
        drawn,
        json!({
            "roundId": 1,
            "outcome": "refunded",
            "winner": null,
            "prize": "0",
            "commission": "0",
            "transactionHash": tx_hash(&drawn),
        })
    );
    let out = chain.cli_as(2, &["withdraw", "--contract", &a]).success();
    assert_eq!(out, format!("withdrew 0.03 ETH to {}\n", chain.cs(2)));
}
