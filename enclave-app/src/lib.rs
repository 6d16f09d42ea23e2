//! enclave-app: the lottery operator that runs inside an AWS Nitro Enclave (or, in
//! `sim` mode, as a local process with the same code).
//!
//! It owns the enclave's side of the system: its configuration ([`config`]), its logs
//! ([`logging`]), the operator key ([`signer`]), the chain client ([`chain`]), the
//! mirrored lottery state ([`store`], [`mirror`]) and the passive operator
//! ([`operator`]) that draws or refunds rounds as chain state requires.
//!
//! What it must not do: decide *whether* a round is drawn (it only reacts to chain
//! state, so the attested code is the whole policy); let the operator key, or anything
//! derived from it but the address and signatures, leave the process through an API,
//! log line, error or `Debug` print; print anything on stdout; read the wall clock for
//! chain decisions (chain time comes from blocks); or keep state across restarts (it is
//! rebuilt from the chain).

pub mod chain;
pub mod config;
pub mod logging;
pub mod mirror;
pub mod operator;
pub mod signer;
pub mod store;

use tokio_util::sync::CancellationToken;
use tracing::info;

use crate::{
    config::Config,
    signer::{OperatorKey, SignerError},
};

/// Why [`run`] stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The operator key could not be set up.
    #[error("cannot set up the operator key")]
    OperatorKey(#[from] SignerError),
}

/// Runs enclave-app until `shutdown` is cancelled.
///
/// For now: logs the redacted configuration and the operator's address, then waits.
/// The chain-facing parts (mirror, operator) start here and stop through the same
/// token.
///
/// # Errors
/// [`RunError`] when a part cannot start.
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), RunError> {
    info!(target: "enclave_app", config = %config.redacted(), "starting");
    let key = OperatorKey::from_config(&config)?;
    info!(
        target: "enclave_app",
        operator = %key.address(),
        key_source = %key.source(),
        "operator key ready"
    );
    shutdown.cancelled_owned().await;
    info!(target: "enclave_app", "shutdown requested; stopped");
    Ok(())
}
