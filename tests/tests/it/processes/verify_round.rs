//! `lottery verify-round` and the draw rule, against rounds played on anvil: honest
//! rounds of every ending pass; a forged bet list fails the winner check with both
//! values; and for random bets and seeds the contract, the Rust rule and the page's
//! TypeScript rule pick the same winner.

use std::process::Command;

use abi::draw::{self, Seed};
use alloy::primitives::{Address, B256, U256};
use lottery_cli::audit::{self, Auditor};
use rand::{Rng, SeedableRng};
use tests::{
    Chain, milli, ok,
    rounds::{Ending, play_round, winner_of},
};

/// `lottery verify-round ARGS` against `chain`: (exit code, stdout, stderr).
fn verify_round(chain: &Chain, contract: Address, args: &[&str]) -> (i32, String, String) {
    let out = testkit::process::workspace_command("lottery", &[])
        .args(["--rpc-url", &chain.endpoint(), "verify-round", "--contract"])
        .arg(contract.to_string())
        .args(args)
        .output()
        .expect("run lottery");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

/// Rounds 1-4: drawn, refunded for too few players, refunded by the operator (one
/// player withdraws), refunded after the window.
async fn four_rounds(
    chain: &Chain,
) -> abi::contract::Lottery::LotteryInstance<alloy::providers::DynProvider> {
    let lottery = chain.deploy_with_operator(500).await;
    let seed = |i: u8| Seed::from_bytes(B256::repeat_byte(i));
    let bets = [
        (2, milli(10)),
        (3, milli(20)),
        (2, milli(5)),
        (4, milli(30)),
    ];
    assert_eq!(
        play_round(chain, &lottery, &seed(1), &bets, Ending::Draw).await,
        1
    );
    play_round(chain, &lottery, &seed(2), &[(5, milli(7))], Ending::Draw).await;
    play_round(
        chain,
        &lottery,
        &seed(3),
        &bets[..2],
        Ending::OperatorRefund,
    )
    .await;
    ok(lottery.withdraw().from(chain.accounts[3])).await;
    play_round(
        chain,
        &lottery,
        &seed(4),
        &[(6, milli(9)), (7, milli(1))],
        Ending::Expire,
    )
    .await;
    lottery
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn honest_rounds_of_every_ending_pass() {
    let chain = Chain::start().await;
    let lottery = four_rounds(&chain).await;
    let contract = *lottery.address();

    let (code, out, err) = verify_round(&chain, contract, &["--all", "--json"]);
    assert_eq!(code, 0, "{out}\n{err}");
    let report: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(report["passed"], 4, "{report:#}");
    assert_eq!(report["failed"], 0);
    let outcomes: Vec<_> = report["rounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes, ["completed", "refunded", "refunded", "refunded"]);
    let names = |i: usize| -> Vec<String> {
        report["rounds"][i]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        names(0),
        [
            "bets",
            "committed first",
            "commitment",
            "winner",
            "payout",
            "commission",
            "drawn by the operator"
        ]
    );
    assert_eq!(
        names(2),
        [
            "bets",
            "committed first",
            "refund reason",
            "refunded total",
            "stakes returned"
        ]
    );

    // One round in text: every check printed, with the values it compared.
    let (code, out, _) = verify_round(&chain, contract, &["1"]);
    assert_eq!(code, 0, "{out}");
    let winner = winner_of(&lottery, 1).await;
    assert!(out.starts_with("round 1: completed, PASS\n"), "{out}");
    assert!(
        out.contains(&format!("falls to {winner}, the contract's winner")),
        "{out}"
    );
    assert!(out.contains(&format!("PCR0 {}", "5a".repeat(48))), "{out}");
    assert!(out.ends_with("1 of 1 rounds passed every check\n"), "{out}");
    let (_, out, _) = verify_round(&chain, contract, &["--from", "2", "--to", "3"]);
    assert!(out.contains("too few players: 1 of at least 2"), "{out}");
    assert!(out.contains("refunded by the operator: "), "{out}");

    // A round that is not settled yet: exit 1, saying so.
    let (code, out, err) = verify_round(&chain, contract, &["5"]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert_eq!(
        err,
        "error: round 5 is WAITING, not settled: nothing to check yet\n"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bet_list_with_one_bet_removed_fails_the_winner_check_with_both_values() {
    let chain = Chain::start().await;
    let lottery = four_rounds(&chain).await;
    let (auditor, _) = Auditor::load(
        chain.provider.clone(),
        *lottery.address(),
        0,
        1000,
        |_, _| {},
    )
    .await
    .unwrap();
    let honest = auditor.facts(1).await.unwrap();
    assert!(audit::check_round(&honest).iter().all(|c| c.ok));
    let paid = winner_of(&lottery, 1).await;
    // Remove one bet that changes who the ticket falls to.
    let seed = B256::repeat_byte(1);
    let forged = (0..honest.bets.len())
        .map(|skip| {
            let mut facts = honest.clone();
            facts.bets.remove(skip);
            facts
        })
        .find(|facts| {
            let pairs: Vec<_> = facts.bets.iter().map(|b| (b.player, b.amount)).collect();
            draw::winner(&pairs, seed) != Some(paid)
        })
        .expect("some removal changes the winner");
    let pairs: Vec<_> = forged.bets.iter().map(|b| (b.player, b.amount)).collect();
    let recomputed = draw::winner(&pairs, seed).unwrap();
    let checks = audit::check_round(&forged);
    let winner = checks.iter().find(|c| c.name == "winner").unwrap();
    assert!(!winner.ok);
    assert!(
        winner.detail.ends_with(&format!(
            "falls to {recomputed}, but the contract paid {paid}"
        )),
        "{}",
        winner.detail
    );
    let bets = checks.iter().find(|c| c.name == "bets").unwrap();
    assert!(
        !bets.ok,
        "the pot no longer adds up either: {}",
        bets.detail
    );
}

/// For random bet lists and seeds: the contract (via anvil), the Rust rule and the
/// page's TypeScript rule pick the same winner.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_contract_the_rust_rule_and_the_typescript_rule_agree() {
    const CASES: usize = 24;
    let chain = Chain::start().await;
    let lottery = chain.deploy_with_operator(0).await;
    let contract = *lottery.address();
    let chain_id = chain.chain_id().await;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x1077e4);
    let mut cases = Vec::new();
    for _ in 0..CASES {
        let seed = Seed::from_bytes(B256::from(rng.random::<[u8; 32]>()));
        let n = rng.random_range(2..=7);
        let bets: Vec<(usize, U256)> = (0..n)
            .map(|_| {
                // Repeat players too: stakes accumulate, the ticket line does not merge.
                let account = rng.random_range(2..9);
                (
                    account,
                    U256::from(rng.random_range(1_000_000_000_000_000u64..50_000_000_000_000_000)),
                )
            })
            .collect();
        let id = play_round(&chain, &lottery, &seed, &bets, Ending::Draw).await;
        let on_chain = winner_of(&lottery, id).await;
        let pairs: Vec<(Address, U256)> =
            bets.iter().map(|(a, v)| (chain.accounts[*a], *v)).collect();
        assert_eq!(
            draw::winner(&pairs, seed.reveal()),
            Some(on_chain),
            "round {id}"
        );
        cases.push(serde_json::json!({
            "seed": seed.reveal(),
            "bets": pairs.iter().map(|(p, v)| serde_json::json!({"player": p, "amount": v.to_string()})).collect::<Vec<_>>(),
            "winner": on_chain,
            "chainId": chain_id.to_string(),
            "contract": contract,
            "roundId": id.to_string(),
            "commitment": draw::commitment(chain_id, contract, U256::from(id), &seed),
        }));
    }
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("draw-cases.json");
    std::fs::write(&file, serde_json::to_vec(&cases).unwrap()).unwrap();
    let frontend = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../frontend");
    assert!(
        frontend.join("node_modules/vitest").exists(),
        "the page's npm packages are missing: run scripts/build-frontend (scripts/test does)"
    );
    let out = Command::new("npx")
        .args(["--no-install", "vitest", "run", "src/draw/rule.test.ts"])
        .current_dir(&frontend)
        .env("DRAW_CASES_FILE", &file)
        .env("CI", "1")
        .output()
        .expect("run vitest (Node.js 20+)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the TypeScript rule disagrees:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("DRAW_CASES_CHECKED {CASES}")),
        "vitest did not check the cases:\n{stdout}"
    );
}
