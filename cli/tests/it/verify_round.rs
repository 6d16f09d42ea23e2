//! `verify-round` on rounds an operator ran by hand with `lottery commit` / `draw`.

use crate::{CliChain, OPERATOR};

#[test]
fn rounds_run_by_hand_pass_verify_round() {
    let chain = CliChain::start();
    let contract = chain.deploy_with_operator();
    let a = contract.to_string();
    // Round 1: committed, three bets from two players, drawn in the window.
    let (seed, round) = chain.commit(contract);
    assert_eq!(round, 1);
    chain.bet(contract, 2, "0.01");
    chain.bet(contract, 3, "0.03");
    chain.bet(contract, 2, "0.02");
    chain.increase_time(200);
    chain.draw(&a, seed);
    // Round 2: one player, refunded by the operator by hand.
    chain.commit(contract);
    chain.bet(contract, 4, "0.005");
    chain
        .cli_as(OPERATOR, &["refund", "--contract", &a])
        .success();

    let out = chain
        .cli(&["verify-round", "--contract", &a, "--all"])
        .success();
    assert!(out.starts_with("round 1: completed, PASS\n"), "{out}");
    assert!(out.contains("\nround 2: refunded, PASS\n"), "{out}");
    assert!(
        out.contains("ok   commitment: keccak256(chainId, contract, round, seed) = "),
        "{out}"
    );
    assert!(
        out.contains("ok   committed first: seed committed in block "),
        "{out}"
    );
    assert!(
        out.contains(
            "ok   stakes returned: each of 1 players can withdraw or has withdrawn their stake"
        ),
        "{out}"
    );
    assert!(out.ends_with("2 of 2 rounds passed every check\n"), "{out}");
    for line in out.lines().filter(|l| l.starts_with("  ")) {
        assert!(line.starts_with("  ok   "), "a check failed: {line}\n{out}");
    }

    let report = chain
        .cli(&["--json", "verify-round", "--contract", &a, "1"])
        .json();
    assert_eq!(report["passed"], 1);
    assert_eq!(report["rounds"][0]["roundId"], 1);
    assert_eq!(report["rounds"][0]["checks"].as_array().unwrap().len(), 7);

    // Usage: a round, --all or --from is required.
    let err = chain.cli(&["verify-round", "--contract", &a]).failure(2);
    assert!(
        err.starts_with("error: the following required arguments were not provided:"),
        "{err}"
    );
}
