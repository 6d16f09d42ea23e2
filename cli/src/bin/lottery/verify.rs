//! `lottery verify-round`: checks settled rounds from the chain alone
//! ([`lottery_cli::audit`]) and prints each check; exit 1 when any round fails.

use std::io::{IsTerminal, Write};

use alloy::{primitives::Address, providers::DynProvider};
use eyre::{Result, bail, eyre};
use futures_util::StreamExt;
use lottery_cli::audit::{self, Auditor, Check, SettlementFact};
use serde::Serialize;

/// Ranges at least this long report progress on stderr.
const PROGRESS_FROM_ROUNDS: usize = 20;

/// Which rounds to check.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Rounds {
    One(u64),
    All,
    Range { from: u64, to: Option<u64> },
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RoundReport {
    round_id: u64,
    outcome: &'static str,
    passed: bool,
    checks: Vec<Check>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Report {
    contract: String,
    rounds: Vec<RoundReport>,
    passed: usize,
    failed: usize,
}

pub(crate) async fn run(
    provider: DynProvider,
    contract: Address,
    rounds: Rounds,
    from_block: u64,
    log_chunk: u64,
    json: bool,
) -> Result<()> {
    let chatty = !json || std::io::stderr().is_terminal();
    let (auditor, scope) =
        Auditor::load(provider, contract, from_block, log_chunk, |done, total| {
            if chatty && total > log_chunk.saturating_mul(5) {
                eprintln!("reading logs: {done} of {total} blocks");
            }
        })
        .await
        .map_err(|e| eyre!(e))?;
    let last_settled = scope.current_round.saturating_sub(1);
    let ids: Vec<u64> = match rounds {
        Rounds::One(n) => vec![n],
        Rounds::All => (1..=last_settled).collect(),
        Rounds::Range { from, to } => (from.max(1)..=to.unwrap_or(last_settled)).collect(),
    };
    if ids.is_empty() {
        bail!(
            "no settled round to check (the current round is {})",
            scope.current_round
        );
    }
    let total = ids.len();
    let mut reports = Vec::with_capacity(total);
    let mut stream = auditor.facts_of(ids);
    while let Some((id, facts)) = stream.next().await {
        let facts = facts.map_err(|e| eyre!(e))?;
        let checks = audit::check_round(&facts);
        let outcome = match facts.settlement {
            SettlementFact::Completed { .. } => "completed",
            SettlementFact::Refunded { .. } => "refunded",
        };
        reports.push(RoundReport {
            round_id: id,
            outcome,
            passed: checks.iter().all(|c| c.ok),
            checks,
        });
        if chatty && total >= PROGRESS_FROM_ROUNDS && reports.len() % 10 == 0 {
            eprintln!("checked {} of {total} rounds", reports.len());
        }
    }
    let failed = reports.iter().filter(|r| !r.passed).count();
    let report = Report {
        contract: contract.to_checksum(None),
        passed: reports.len() - failed,
        failed,
        rounds: reports,
    };
    let mut out = std::io::stdout().lock();
    if json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        for round in &report.rounds {
            writeln!(
                out,
                "round {}: {}, {}",
                round.round_id,
                round.outcome,
                if round.passed { "PASS" } else { "FAIL" }
            )?;
            for c in &round.checks {
                writeln!(
                    out,
                    "  {} {}: {}",
                    if c.ok { "ok  " } else { "FAIL" },
                    c.name,
                    c.detail
                )?;
            }
        }
        writeln!(
            out,
            "{} of {} rounds passed every check",
            report.passed,
            report.rounds.len()
        )?;
    }
    drop(out);
    if failed > 0 {
        let first = report
            .rounds
            .iter()
            .find(|r| !r.passed)
            .and_then(|r| r.checks.iter().find(|c| !c.ok).map(|c| (r.round_id, c)));
        if let Some((id, c)) = first {
            bail!(
                "{failed} of {} rounds failed; round {id} failed the {} check: {}",
                report.rounds.len(),
                c.name,
                c.detail
            );
        }
    }
    Ok(())
}
