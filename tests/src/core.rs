//! The enclave core (chain client, store, mirror, operator) run in-process against a
//! [`TestChain`], for tests and benchmarks that need to watch the store directly.

use std::time::Duration;

use abi::state::{Snapshot, StateLimits};
use alloy::{network::EthereumWallet, primitives::Address};
use enclave_app::{
    chain::{ChainClient, TxSender},
    mirror::{Mirror, MirrorSettings},
    operator::{Operator, OperatorSettings},
    store::Store,
};
use tokio_util::sync::CancellationToken;

use crate::TestChain;

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

fn client(chain: &TestChain, contract: Address) -> ChainClient {
    let url = abi::transport::RpcUrl::parse(&chain.endpoint()).expect("anvil URL");
    ChainClient::connect_tcp(url, contract).expect("chain client")
}

/// Starts the core for `contract` with anvil account `key` as its operator key,
/// polling every `poll`. The mirror has back-filled before this returns.
///
/// # Panics
/// When the mirror cannot start.
pub async fn start(chain: &TestChain, contract: Address, key: usize, poll: Duration) -> Core {
    let client = client(chain, contract);
    let chain_id = chain.chain_id().await;
    let store = Store::new(contract, chain_id, StateLimits::default());
    let mut mirror = Mirror::new(client.clone(), store.clone(), settings(poll));
    mirror.start().await.expect("mirror start");
    let wallet = EthereumWallet::from(chain.keys[key].clone());
    let sender = TxSender::new(client, wallet, chain.accounts[key], chain_id);
    let settings = OperatorSettings {
        replace_after_blocks: 3,
        receipt_timeout: Duration::from_secs(60),
    };
    let operator = Operator::new(store.clone(), sender, chain_id, contract, settings);
    let shutdown = CancellationToken::new();
    tokio::spawn(mirror.run(shutdown.clone()));
    tokio::spawn(operator.run(shutdown.clone()));
    Core { store, shutdown }
}

/// The state a freshly started mirror rebuilds from the chain alone (a restart).
///
/// # Panics
/// When the mirror cannot start.
pub async fn rebuilt(chain: &TestChain, contract: Address) -> Snapshot {
    let store = Store::new(contract, chain.chain_id().await, StateLimits::default());
    let mut mirror = Mirror::new(
        client(chain, contract),
        store.clone(),
        settings(Duration::from_millis(100)),
    );
    mirror.start().await.expect("mirror start");
    store.snapshot()
}
