//! Times `lottery verify-round --all` over a long history: plays N settled rounds on
//! anvil (default 200: three bets each, every tenth refunded by the operator), then
//! runs the CLI binary from the target directory against them, three times, and
//! prints the wall time of each run and the rounds per second.
//! Usage: `cargo run --release -p tests --bin verify-bench [ROUNDS]` (build the
//! `lottery` binary first, in the same profile: `cargo build --release -p abi --bin
//! lottery`).

#![allow(clippy::print_stdout)]

use std::time::Instant;

use abi::draw::Seed;
use alloy::primitives::B256;
use tests::{
    Chain, milli,
    rounds::{Ending, play_round},
};

/// Runs of the CLI measured (the first warms the node's caches too).
const RUNS: usize = 3;

#[tokio::main]
async fn main() -> eyre::Result<()> {
    let rounds: u64 = std::env::args().nth(1).map_or(Ok(200), |a| a.parse())?;
    eyre::ensure!(rounds >= 1, "ROUNDS must be at least 1");
    let chain = Chain::start().await;
    let lottery = chain.deploy_with_operator(500).await;
    let started = Instant::now();
    for i in 0..rounds {
        let seed = Seed::from_bytes(B256::from(alloy::primitives::U256::from(i + 1)));
        let bets = [(2, milli(10)), (3, milli(20)), (4, milli(5))];
        let ending = if i % 10 == 9 {
            Ending::OperatorRefund
        } else {
            Ending::Draw
        };
        play_round(&chain, &lottery, &seed, &bets, ending).await;
    }
    println!(
        "played {rounds} rounds in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let lottery_bin = testkit::process::workspace_binary("lottery");
    println!("lottery binary: {}", lottery_bin.display());
    for run in 1..=RUNS {
        let t = Instant::now();
        let out = std::process::Command::new(&lottery_bin)
            .args([
                "--rpc-url",
                &chain.endpoint(),
                "--json",
                "verify-round",
                "--all",
            ])
            .arg("--contract")
            .arg(lottery.address().to_string())
            .output()?;
        let secs = t.elapsed().as_secs_f64();
        eyre::ensure!(
            out.status.success(),
            "verify-round failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let report: serde_json::Value = serde_json::from_slice(&out.stdout)?;
        #[allow(clippy::cast_precision_loss)]
        let rate = rounds as f64 / secs;
        println!(
            "run {run}: verify-round --all checked {} rounds ({} passed) in {secs:.2} s ({rate:.0} rounds/s)",
            report["rounds"].as_array().map_or(0, Vec::len),
            report["passed"],
        );
    }
    Ok(())
}
