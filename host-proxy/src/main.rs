//! `host-proxy`: the parent instance's service.
//!
//! Thin on purpose: parse the configuration, set up logging and the runtime, turn
//! SIGTERM and SIGINT into one cancellation, and call [`host_proxy::run`]. Exit codes:
//! 0 after a clean shutdown, 1 when `run` fails, 2 for a configuration error.

// The binary's edge: configuration errors are reported on stderr before logging exists.
#![allow(clippy::print_stderr)]

use std::{process::ExitCode, time::Duration};

use clap::Parser;
use host_proxy::config::{Cli, Config};

/// Time `run` gets to stop after SIGTERM or SIGINT: enough to close WebSockets and
/// streams, inside systemd's and Docker's grace periods.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// Exit code for a configuration error, the same as clap's for usage errors.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let config = match Config::from_cli(Cli::parse()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {}", abi::transport::error_chain(&e));
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Err(e) = abi::logging::init(config.log_format, &config.log_filter) {
        eprintln!("error: {}", abi::transport::error_chain(&e));
        return ExitCode::FAILURE;
    }
    match abi::service::run_until_signalled("host-proxy", SHUTDOWN_GRACE, |shutdown| {
        host_proxy::run(config, shutdown)
    }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(target: "host_proxy", error = %abi::transport::error_chain(&e), "host-proxy failed");
            ExitCode::FAILURE
        }
    }
}
