//! `enclave-app`: the lottery operator inside the enclave.
//!
//! Thin on purpose: parse the configuration, set up logging and the runtime, turn
//! SIGTERM and SIGINT into one cancellation, and call [`enclave_app::run`]
//! (`runner::service` does the runtime and signals for both services). Exit codes:
//! 0 after a clean shutdown, 1 when `run` fails, 2 for a configuration error
//! (`runner::exit`). `--check-config` stops after the configuration: exit 0 with it
//! on stdout, or 2.

// The binary's edge: configuration errors are reported on stderr before logging exists,
// and `--check-config` prints the configuration on stdout.
#![allow(clippy::print_stderr, clippy::print_stdout)]

use std::{process::ExitCode, time::Duration};

use enclave_app::config::{Config, ConfigError};
use runner::{exit, logging};

/// Time `run` gets to stop after SIGTERM or SIGINT before the process exits anyway:
/// long enough to finish an in-flight RPC request, short enough to stay inside the
/// grace period of systemd (90 s) and Docker (10 s, raised with `stop_grace_period`).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

fn main() -> ExitCode {
    let config = match Config::from_process() {
        Ok(config) => config,
        // Usage errors (exit 2), and `--help` / `--version` (stdout, exit 0).
        Err(ConfigError::Cli(e)) => e.exit(),
        Err(e) => {
            eprintln!("error: {}", runner::error_chain(&e));
            return ExitCode::from(exit::CONFIG);
        }
    };
    if config.check_config {
        // `--check-config`: the configuration is valid; show it (redacted) and stop.
        println!("{config}");
        return ExitCode::SUCCESS;
    }
    if let Err(e) = logging::init(config.log_format, &config.log_filter) {
        eprintln!("error: {}", runner::error_chain(&e));
        return ExitCode::from(exit::FAILED);
    }
    match runner::service::run_until_signalled("enclave-app", SHUTDOWN_GRACE, |shutdown| {
        enclave_app::run(config, shutdown)
    }) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(target: "enclave_app", error = %runner::error_chain(&e), "enclave-app failed");
            ExitCode::from(exit::FAILED)
        }
    }
}
