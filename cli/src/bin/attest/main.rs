//! `attest`: verify an enclave-lottery enclave's AWS Nitro attestation, and inject
//! an operator key sealed to it.
//!
//! `attest verify` checks a live document (fresh nonce, maximum age, PCRs, and
//! optionally the contract's on-chain operator) or a saved one (`--file`, `--at`);
//! `attest seal-key` verifies a fresh document and sends it an operator key sealed
//! to the document's public key. The checks themselves are `lottery_cli::attest_client`'s,
//! shared with `lottery set-operator --from-attestation`.
//!
//! Exit codes: 0 verified (or injected), 1 verification failed or the enclave
//! refused, 2 usage or configuration errors.

// A CLI's output is its interface.
#![allow(clippy::print_stdout, clippy::print_stderr)]

mod cli;
mod commands;
mod report;
mod time;

use clap::Parser;

fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    runner::tool::run(
        commands::run(cli),
        |failure| {
            eprintln!("error: {:#}", failure.report());
            failure.exit_code().into()
        },
        commands::Failure::EXIT_USAGE.into(),
    )
}
