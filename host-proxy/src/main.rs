//! `host-proxy`: the parent instance's service.
//!
//! Thin on purpose: parse the configuration, set up logging and the runtime, turn
//! SIGTERM and SIGINT into one cancellation, and call [`host_proxy::run`]. Exit codes:
//! 0 after a clean shutdown, 1 when `run` fails, 2 for a configuration error.

// The binary's edge: configuration errors are reported on stderr before logging exists.
#![allow(clippy::print_stderr)]

use std::{process::ExitCode, time::Duration};

use clap::Parser;
use eyre::{WrapErr, eyre};
use host_proxy::config::{Cli, Config};
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

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
    match serve(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(target: "host_proxy", error = %format!("{e:#}"), "host-proxy failed");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: Config) -> eyre::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        let mut terminate =
            signal(SignalKind::terminate()).wrap_err("cannot install the SIGTERM handler")?;
        let mut interrupt =
            signal(SignalKind::interrupt()).wrap_err("cannot install the SIGINT handler")?;
        let on_signal = shutdown.clone();
        tokio::spawn(async move {
            let name = tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = interrupt.recv() => "SIGINT",
            };
            tracing::info!(target: "host_proxy", signal = name, "shutdown signal received");
            on_signal.cancel();
        });
        let deadline = {
            let shutdown = shutdown.clone();
            async move {
                shutdown.cancelled().await;
                tokio::time::sleep(SHUTDOWN_GRACE).await;
            }
        };
        tokio::select! {
            result = host_proxy::run(config, shutdown) => result.wrap_err("host-proxy stopped"),
            () = deadline => Err(eyre!("did not stop within {SHUTDOWN_GRACE:?} of the shutdown signal")),
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    result
}
