//! How both services (enclave-app, host-proxy) run: a multi-threaded runtime, one
//! cancellation token that SIGTERM and SIGINT cancel, and a bounded grace period for
//! the service to stop after the signal.

use std::{future::Future, time::Duration};

use tokio::signal::unix::{SignalKind, signal};
use tokio_util::sync::CancellationToken;

/// Time left to tasks still running when the runtime is dropped (blocking file
/// reads, say), so a stuck one cannot hold the process open.
pub const RUNTIME_DROP_GRACE: Duration = Duration::from_secs(1);

/// Why a service stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError<E: std::error::Error + 'static> {
    /// The runtime could not start.
    #[error("cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// A signal handler could not be installed.
    #[error("cannot install the {0} handler")]
    Signal(&'static str, #[source] std::io::Error),
    /// The service failed.
    #[error("{name} stopped")]
    Run {
        /// The service.
        name: &'static str,
        /// Why.
        #[source]
        source: E,
    },
    /// The service did not stop within its grace period after the signal.
    #[error("{name} did not stop within {grace:?} of the shutdown signal")]
    Timeout {
        /// The service.
        name: &'static str,
        /// The grace period.
        grace: Duration,
    },
}

/// Runs `run(shutdown)` until it returns; SIGTERM or SIGINT cancel `shutdown`, after
/// which `run` has `grace` to return.
///
/// # Errors
/// [`ServiceError`]: no runtime or signal handler, `run`'s own error, or the grace
/// period ran out.
pub fn run_until_signalled<F, Fut, E>(
    name: &'static str,
    grace: Duration,
    run: F,
) -> Result<(), ServiceError<E>>
where
    F: FnOnce(CancellationToken) -> Fut,
    Fut: Future<Output = Result<(), E>>,
    E: std::error::Error + 'static,
{
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(ServiceError::Runtime)?;
    let result = runtime.block_on(async {
        let shutdown = CancellationToken::new();
        // Installed before `run` starts, so no early signal is lost.
        let mut terminate =
            signal(SignalKind::terminate()).map_err(|e| ServiceError::Signal("SIGTERM", e))?;
        let mut interrupt =
            signal(SignalKind::interrupt()).map_err(|e| ServiceError::Signal("SIGINT", e))?;
        let on_signal = shutdown.clone();
        tokio::spawn(async move {
            let signal = tokio::select! {
                _ = terminate.recv() => "SIGTERM",
                _ = interrupt.recv() => "SIGINT",
            };
            tracing::info!(target: "service", service = name, signal, "shutdown signal received");
            on_signal.cancel();
        });
        let deadline = {
            let shutdown = shutdown.clone();
            async move {
                shutdown.cancelled().await;
                tokio::time::sleep(grace).await;
            }
        };
        tokio::select! {
            result = run(shutdown) => result.map_err(|source| ServiceError::Run { name, source }),
            () = deadline => Err(ServiceError::Timeout { name, grace }),
        }
    });
    runtime.shutdown_timeout(RUNTIME_DROP_GRACE);
    result
}
