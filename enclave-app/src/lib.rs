//! enclave-app: the lottery operator that runs inside an AWS Nitro Enclave (or, in
//! `sim` mode, as a local process with the same code).
//!
//! It owns the enclave's side of the system: its configuration ([`config`]), the operator key
//! ([`signer`]), the chain client ([`chain`]), the mirrored lottery state ([`store`], [`mirror`]) and the passive operator
//! ([`operator`]) that draws or refunds rounds as chain state requires. The mirror
//! polls an `http(s)://` upstream; a `ws(s)://` one pushes heads and the contract's
//! logs (`eth_subscribe`, [`mirror::PushSource`]), with polling as the fallback.
//!
//! What it must not do: decide *whether* a round is drawn (it only reacts to chain
//! state, so the attested code is the whole policy); let the operator key, or anything
//! derived from it but the address and signatures, leave the process through an API,
//! log line, error or `Debug` print; print anything on stdout; let the wall clock
//! advance a chain decision (chain time comes from blocks; the clock only ever delays a
//! seed's reveal); sign on facts fewer than `--rpc-quorum` upstreams confirm; or keep
//! state across restarts (it is rebuilt from the chain).

pub mod attest;
pub mod chain;
pub mod config;
pub mod control;
pub mod entropy;
#[cfg(test)]
mod fixtures;
pub mod mirror;
pub mod operator;
pub mod participants;
pub mod quorum;
pub mod signer;
pub mod store;

use std::sync::Arc;

use abi::state::StateLimits;

use net::EndpointError;

use alloy::{providers::Provider, rpc::client::RpcClient};
use rpc_transport::{
    self as transport,
    ws::{WsConnect, WsTransport},
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{info, warn};

use crate::{
    attest::{Attester, Identity},
    chain::{ChainClient, ChainError, TxSender},
    config::{Config, Egress},
    control::ControlServer,
    entropy::Entropy,
    mirror::{Mirror, MirrorSettings, PushSource},
    operator::{Operator, OperatorSettings},
    quorum::{Quorum, Upstream},
    signer::{OperatorKey, SignerError},
    store::Store,
};

/// Why [`run`] stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The operator key could not be set up.
    #[error("cannot set up the operator key")]
    OperatorKey(#[from] SignerError),
    /// The chain client could not be set up.
    #[error("cannot set up the chain client")]
    Chain(#[from] ChainError),
    /// Attestation could not be set up (no NSM in nitro mode, a bad CA file).
    #[error("cannot set up attestation")]
    Attest(#[from] attest::AttestError),
    /// The control channel's endpoint cannot be bound.
    #[error("cannot start the control channel")]
    Control(#[from] EndpointError),
    /// The configured contract address holds no code on this chain.
    #[error("no contract at {contract} on chain {chain_id}: check --contract and --rpc-url")]
    NoContract {
        /// The configured address.
        contract: alloy::primitives::Address,
        /// The chain the RPC endpoint serves.
        chain_id: u64,
    },
}

/// Runs enclave-app until `shutdown` is cancelled: waits for the chain, then mirrors
/// the contract into the store and runs the passive operator, all stopped through
/// the same token.
///
/// # Errors
/// [`RunError`] when a part cannot start (a bad key, no contract at the address).
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), RunError> {
    info!(target: "enclave_app", config = %config.redacted(), "starting");
    // The provider first: in nitro mode a missing NSM is the first thing to know, and
    // its randomness goes into the key and every seed.
    let provider = attest::provider(&config)?;
    let entropy = Entropy::with_provider(provider.clone());
    let key = OperatorKey::from_config(&config, &entropy)?;
    info!(
        target: "enclave_app",
        operator = %key.address(),
        key_source = %key.source(),
        "operator key ready"
    );
    // The extra CA roots are read once, for every upstream.
    let roots = match &config.rpc_ca_file {
        Some(path) => transport::read_ca_file(path).map_err(ChainError::from)?,
        None => Vec::new(),
    };
    let mut upstreams = Vec::with_capacity(config.rpc_urls.len());
    // With a ws(s):// URL first, the mirror follows it by push.
    let mut push = None;
    for (i, url) in config.rpc_urls.iter().enumerate() {
        let (client, ws) = rpc_client(&config, i, url, &roots)?;
        if i == 0 {
            push = ws.map(|ws| PushSource::new(ws, config.contract));
        }
        upstreams.push(Upstream {
            name: url.host_port(),
            client: ChainClient::new(client, config.contract),
        });
    }
    let client = upstreams[0].client.clone();
    let quorum = Quorum::new(upstreams, config.rpc_quorum);
    // Bound before the chain is reached, so a bad endpoint fails at once; connections
    // are served once the state exists.
    let control = config.control_listen.listen().await?;
    let Some(chain_id) = wait_for_chain(&client, &config, &shutdown).await? else {
        info!(target: "enclave_app", "shutdown requested before the chain was reachable; stopped");
        return Ok(());
    };

    let limits = StateLimits {
        history: config.history_limit,
        activities: config.activity_limit,
    };
    let store = Store::new(config.contract, chain_id, limits);
    let (injected_tx, injected_rx) = tokio::sync::mpsc::channel(1);
    let mut attester = Attester::new(
        provider,
        Identity {
            chain_id,
            contract: config.contract,
            operator: key.address(),
            key_source: key.source(),
        },
    )?
    .with_rpc_trust(
        quorum.upstreams().iter().map(|u| u.name.clone()).collect(),
        u8::try_from(quorum.needed()).unwrap_or(u8::MAX),
    );
    match config.operator_address {
        Some(expected) => {
            attester = attester.with_injection(injected_tx, expected, store.clone());
        }
        None => drop(injected_tx),
    }
    let control = ControlServer::new(control, store.clone(), Arc::new(attester));
    let mirror = Mirror::new(
        client.clone(),
        store.clone(),
        MirrorSettings {
            poll_interval: config.poll_interval(),
            lookback_blocks: config.lookback_blocks,
            log_chunk_blocks: config.log_chunk_blocks,
            reconcile_interval: config.reconcile_interval(),
        },
    );
    let sender = TxSender::new(client, key.wallet(), key.address(), chain_id).with_broadcast_to(
        quorum.upstreams()[1..]
            .iter()
            .map(|u| u.client.clone())
            .collect(),
    );
    let operator = Operator::new(
        store,
        sender,
        quorum,
        chain_id,
        config.contract,
        OperatorSettings {
            replace_after_blocks: config.replace_after_blocks,
            receipt_timeout: config.receipt_timeout(),
            clock_margin_secs: config.clock_margin_secs,
        },
    )
    .with_entropy(entropy)
    .with_injected_keys(injected_rx);
    let tasks = TaskTracker::new();
    tasks.spawn(control.run(shutdown.clone()));
    match push {
        Some(push) => tasks.spawn(mirror.run_push(push, shutdown.clone())),
        None => tasks.spawn(mirror.run(shutdown.clone())),
    };
    tasks.spawn(operator.run(shutdown.clone()));
    tasks.close();
    info!(target: "enclave_app", chain_id, contract = %config.contract, "mirroring the contract");

    shutdown.cancelled().await;
    tasks.wait().await;
    info!(target: "enclave_app", "shutdown requested; stopped");
    Ok(())
}

/// The JSON-RPC client of upstream `index`: through its egress route (the egress
/// endpoint's port + `index`), or direct (sim mode only). For `https://` and `wss://`
/// URLs TLS ends here either way, against the URL's host, trusting `roots` besides the
/// web PKI. A `ws(s)://` URL also gives its WebSocket transport, for subscriptions.
fn rpc_client(
    config: &Config,
    index: usize,
    url: &net::RpcUrl,
    roots: &[transport::CertificateDer<'static>],
) -> Result<(RpcClient, Option<WsTransport>), ChainError> {
    let url = url.clone();
    // Checked when the configuration was loaded.
    let egress = config
        .egress
        .for_upstream(index)
        .unwrap_or_else(|| config.egress.clone());
    if url.is_websocket() {
        let connect = match &egress {
            Egress::Direct => WsConnect::direct(url, roots)?,
            Egress::Via(endpoint) => WsConnect::via(endpoint.clone(), url, roots)?,
        };
        let ws = WsTransport::new(connect);
        return Ok((ws.clone().into_client(), Some(ws)));
    }
    Ok((
        match &egress {
            Egress::Direct => {
                transport::HttpTransport::new(transport::tcp_connector(roots)?, url).into_client()
            }
            Egress::Via(endpoint) => {
                let connector = transport::egress_connector(endpoint.clone(), roots)?;
                transport::HttpTransport::new(connector, url).into_client()
            }
        },
        None,
    ))
}

/// Waits until the RPC endpoint answers, then checks that the contract exists.
/// `None` when shutdown came first. A node that is down is not an error: in the
/// enclave the host's forwarder may simply not be up yet.
async fn wait_for_chain(
    client: &ChainClient,
    config: &Config,
    shutdown: &CancellationToken,
) -> Result<Option<u64>, RunError> {
    // Each new reason is logged once: a TLS rejection after "connection refused"
    // must not hide behind the first warning.
    let mut last_error = String::new();
    loop {
        let reached = async {
            let chain_id = client.chain_id().await?;
            let code = client
                .provider()
                .get_code_at(config.contract)
                .await
                .map_err(ChainError::from_rpc)?;
            Ok::<_, ChainError>((chain_id, code.is_empty()))
        };
        match reached.await {
            Ok((chain_id, true)) => {
                return Err(RunError::NoContract {
                    contract: config.contract,
                    chain_id,
                });
            }
            Ok((chain_id, false)) => return Ok(Some(chain_id)),
            Err(e) => {
                let error = e.to_string();
                if error != last_error {
                    let hint = e.is_certificate_rejected().then_some(
                        "the RPC host's TLS certificate was rejected: if a private CA issued it, pass its certificate with --rpc-ca-file",
                    );
                    warn!(
                        target: "enclave_app",
                        rpc = %config.rpc_urls[0],
                        egress = %config.egress,
                        error = %error,
                        hint,
                        "chain not reachable yet; retrying"
                    );
                    last_error = error;
                }
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(None),
            () = tokio::time::sleep(config.poll_interval()) => {}
        }
    }
}
