//! `host-proxy`: the parent instance's service.
//!
//! Thin on purpose: parse the configuration, set up logging and the runtime, turn
//! SIGTERM and SIGINT into one cancellation, and call [`host_proxy::run`]. Exit codes:
//! 0 after a clean shutdown, 1 when `run` fails, 2 for a configuration error
//! (`runner::exit`).

// The binary's edge: configuration errors are reported on stderr before logging exists.
#![allow(clippy::print_stderr)]

use std::{process::ExitCode, time::Duration};

use clap::Parser;
use host_proxy::config::{Cli, Config};
use runner::exit;

/// Time `run` gets to stop after SIGTERM or SIGINT: enough to close WebSockets and
/// streams, inside systemd's and Docker's grace periods.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

fn main() -> ExitCode {
    let config = match Config::from_cli(Cli::parse()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {}", runner::error_chain(&e));
            return ExitCode::from(exit::CONFIG);
        }
    };
    if let Err(e) = runner::logging::init(config.log_format, &config.log_filter) {
        eprintln!("error: {}", runner::error_chain(&e));
        return ExitCode::from(exit::FAILED);
    }
    match runner::service::run_until_signalled("host-proxy", SHUTDOWN_GRACE, |shutdown| {
        host_proxy::run(config, shutdown)
    }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(target: "host_proxy", error = %runner::error_chain(&e), "host-proxy failed");
            ExitCode::from(exit::FAILED)
        }
    }
}
