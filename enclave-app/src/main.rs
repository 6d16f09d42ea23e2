//! `enclave-app`: the lottery operator inside the enclave.
//!
//! Thin on purpose: parse the configuration, set up logging and the runtime, turn
//! SIGTERM and SIGINT into one cancellation, and call [`enclave_app::run`]. Exit codes:
//! 0 after a clean shutdown, 1 when `run` fails, 2 for a configuration error.

// The binary's edge: configuration errors are reported on stderr before logging exists.
#![allow(clippy::print_stderr)]

use std::{process::ExitCode, time::Duration};

use enclave_app::{
    config::{Config, ConfigError},
    logging,
};
use eyre::{WrapErr, eyre};
use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// Time `run` gets to stop after SIGTERM or SIGINT before the process exits anyway:
/// long enough to finish an in-flight RPC request, short enough to stay inside the
/// grace period of systemd (90 s) and Docker (10 s, raised with `stop_grace_period`).
const SHUTDOWN_GRACE: Duration = Duration::from_secs(8);

/// Time left to tasks still running when the runtime is dropped (blocking file reads,
/// say), so a stuck one cannot hold the process open.
const RUNTIME_DROP_GRACE: Duration = Duration::from_secs(1);

/// Exit code for a configuration error, the same as clap's for usage errors.
const EXIT_CONFIG: u8 = 2;

fn main() -> ExitCode {
    let config = match Config::from_process() {
        Ok(config) => config,
        // Usage errors (exit 2), and `--help` / `--version` (stdout, exit 0).
        Err(ConfigError::Cli(e)) => e.exit(),
        Err(e) => {
            eprintln!("error: {}", abi::transport::error_chain(&e));
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    if let Err(e) = logging::init(config.log_format, &config.log_filter) {
        eprintln!("error: {}", abi::transport::error_chain(&e));
        return ExitCode::FAILURE;
    }
    match serve(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(target: "enclave_app", error = %format!("{e:#}"), "enclave-app failed");
            ExitCode::FAILURE
        }
    }
}

/// Builds the runtime and runs [`enclave_app::run`] until a signal stops it.
fn serve(config: Config) -> eyre::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .wrap_err("cannot start the async runtime")?;
    let result = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        // Installed before `run` starts, so no early signal is lost.
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
            tracing::info!(target: "enclave_app", signal = name, "shutdown signal received");
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
            result = enclave_app::run(config, shutdown) => result.wrap_err("enclave-app stopped"),
            () = deadline => Err(eyre!("did not stop within {SHUTDOWN_GRACE:?} of the shutdown signal")),
        }
    });
    runtime.shutdown_timeout(RUNTIME_DROP_GRACE);
    result
}
