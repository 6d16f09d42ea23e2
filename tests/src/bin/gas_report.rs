//! Prints the gas of each settlement at 10, 100 and 1,000 participants as a Markdown
//! table (the table in `BENCHMARKS.md`). Usage: `cargo run -p tests --bin gas-report
//! [--json] [N ...]`.

#![allow(clippy::print_stdout)]

use tests::{Chain, gas};

#[tokio::main]
async fn main() -> eyre::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let json = args.iter().any(|a| a == "--json");
    let mut sizes: Vec<usize> = args
        .iter()
        .filter(|a| *a != "--json")
        .map(|a| a.parse())
        .collect::<Result<_, _>>()?;
    if sizes.is_empty() {
        sizes = vec![10, 100, 1000];
    }
    let mut rows = Vec::new();
    for n in sizes {
        eyre::ensure!(n >= 2, "participants must be at least 2, got {n}");
        let chain = Chain::start_with(&["--gas-limit", "100000000"]).await;
        rows.push(gas::measure(&chain, n).await);
    }
    if json {
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    println!(
        "| participants | first bet | later bet | drawWinner | refundRound | refundExpiredRound |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for r in &rows {
        println!(
            "| {} | {} | {} | {} | {} | {} |",
            r.participants,
            r.first_bet,
            r.later_bet,
            r.draw_winner,
            r.refund_round,
            r.refund_expired_round
        );
    }
    Ok(())
}
