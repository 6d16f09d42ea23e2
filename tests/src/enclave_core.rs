//! The enclave core (chain client, store, mirror, operator) run in-process against a
//! [`Chain`], for tests and benchmarks that need to watch the store directly.

use std::time::Duration;

use abi::state::{Snapshot, StateLimits};
use alloy::{network::EthereumWallet, primitives::Address};
use enclave_app::{
    chain::{ChainClient, TxSender},
    mirror::{Mirror, MirrorSettings, PushSource},
    operator::{Operator, OperatorSettings},
    quorum::{Quorum, Upstream},
    store::Store,
};
use rpc_transport::ws::{WsConnect, WsTransport};
use tokio_util::sync::CancellationToken;

use crate::Chain;

/// A running core; stopped when dropped.
pub struct Core {
    /// Its store.
    pub store: Store,
    shutdown: CancellationToken,
}

impl Core {
    /// The token that stops the core (cancelled when it drops), for tasks that
    /// should stop with it.
    pub fn shutdown(&self) -> CancellationToken {
        self.shutdown.clone()
    }
}

impl Drop for Core {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// Mirror settings for tests: a fast poll, the defaults otherwise.
pub fn settings(poll: Duration) -> MirrorSettings {
    MirrorSettings {
        poll_interval: poll,
        lookback_blocks: 10_000,
        log_chunk_blocks: 2_000,
        reconcile_interval: Duration::from_secs(30),
    }
}

fn client(chain: &Chain, contract: Address) -> ChainClient {
    let url = net::RpcUrl::parse(&chain.endpoint()).expect("anvil URL");
    ChainClient::connect_tcp(url, contract).expect("chain client")
}

/// How a core reaches the chain and when it may reveal a seed.
#[derive(Debug, Clone, Default)]
pub struct CoreOptions {
    /// The JSON-RPC upstreams, the followed one first; empty: anvil alone. A `ws://`
    /// one first is followed by push, as in enclave-app.
    pub upstreams: Vec<String>,
    /// How many must agree; 0: all of them.
    pub quorum: usize,
    /// `--clock-margin-secs`.
    pub clock_margin_secs: Option<u64>,
    /// `--replace-after-blocks`; 0: 3, the default.
    pub replace_after_blocks: u64,
}

/// Starts the core for `contract` with anvil account `key` as its operator key,
/// polling every `poll`. The mirror has back-filled before this returns.
///
/// # Panics
/// When the mirror cannot start.
pub async fn start(chain: &Chain, contract: Address, key: usize, poll: Duration) -> Core {
    start_with(chain, contract, key, poll, CoreOptions::default()).await
}

/// [`start`] through the upstreams and with the settings of `options`.
///
/// # Panics
/// When the mirror cannot start or an upstream URL is invalid.
pub async fn start_with(
    chain: &Chain,
    contract: Address,
    key: usize,
    poll: Duration,
    options: CoreOptions,
) -> Core {
    let urls = if options.upstreams.is_empty() {
        vec![chain.endpoint()]
    } else {
        options.upstreams.clone()
    };
    let mut push = None;
    let upstreams: Vec<Upstream> = urls
        .iter()
        .enumerate()
        .map(|(i, url)| {
            let url = net::RpcUrl::parse_with_websocket(url).expect("upstream URL");
            let name = url.host_port();
            let client = if url.is_websocket() {
                // As enclave-app does: requests and subscriptions on one socket.
                let ws = WsTransport::new(WsConnect::direct(url, &[]).expect("ws connector"));
                if i == 0 {
                    push = Some(PushSource::new(ws.clone(), contract));
                }
                ChainClient::new(ws.into_client(), contract)
            } else {
                ChainClient::connect_tcp(url, contract).expect("chain client")
            };
            Upstream { name, client }
        })
        .collect();
    let client = upstreams[0].client.clone();
    let others = upstreams[1..].iter().map(|u| u.client.clone()).collect();
    let quorum = match options.quorum {
        0 => upstreams.len(),
        k => k,
    };
    let quorum = Quorum::new(upstreams, quorum);
    let chain_id = chain.chain_id().await;
    let store = Store::new(contract, chain_id, StateLimits::default());
    let mut mirror = Mirror::new(client.clone(), store.clone(), settings(poll));
    mirror.start().await.expect("mirror start");
    let wallet = EthereumWallet::from(chain.keys[key].clone());
    let sender =
        TxSender::new(client, wallet, chain.accounts[key], chain_id).with_broadcast_to(others);
    let settings = OperatorSettings {
        replace_after_blocks: match options.replace_after_blocks {
            0 => 3,
            n => n,
        },
        receipt_timeout: Duration::from_secs(60),
        clock_margin_secs: options.clock_margin_secs,
    };
    let operator = Operator::new(store.clone(), sender, quorum, chain_id, contract, settings);
    let shutdown = CancellationToken::new();
    match push {
        Some(push) => tokio::spawn(mirror.run_push(push, shutdown.clone())),
        None => tokio::spawn(mirror.run(shutdown.clone())),
    };
    tokio::spawn(operator.run(shutdown.clone()));
    Core { store, shutdown }
}

/// The state a freshly started mirror rebuilds from the chain alone (a restart).
///
/// # Panics
/// When the mirror cannot start.
pub async fn rebuilt(chain: &Chain, contract: Address) -> Snapshot {
    let store = Store::new(contract, chain.chain_id().await, StateLimits::default());
    let mut mirror = Mirror::new(
        client(chain, contract),
        store.clone(),
        settings(Duration::from_millis(100)),
    );
    mirror.start().await.expect("mirror start");
    store.snapshot()
}
