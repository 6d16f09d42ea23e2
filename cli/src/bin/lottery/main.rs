//! `lottery`: the publisher's and developer's admin CLI for the `Lottery` contract.
//!
//! Deploys the contract, hands the operator role over, configures rounds, places
//! bets, shows status and, for testing and emergencies, performs the operator's
//! commit and draw by hand. Every command prints JSON with `--json`.

// A CLI's output is its interface.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cli;
mod commands;
mod keys;
mod output;
mod verify;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    runner::tool::run(
        commands::run(cli),
        |e| {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        },
        std::process::ExitCode::FAILURE,
    )
}
