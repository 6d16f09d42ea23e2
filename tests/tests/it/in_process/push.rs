//! The enclave core in-process following a WebSocket upstream by push (`eth_subscribe`
//! newHeads and the contract's logs) through the tests' relay ([`WsUpstream`]) in
//! front of anvil: idle blocks cost no request, an upstream without subscriptions is
//! polled instead, and a reorg announced by pushed logs is undone. anvil automines
//! (or mines on `evm_mine`); nothing waits out a block time.

use std::time::Duration;

use abi::state::ActivityKind;
use alloy::providers::{Provider, ext::AnvilApi};
use tests::{
    Chain,
    enclave_core::{self, Core, CoreOptions},
    eventually, milli, ok,
    ws_upstream::WsUpstream,
};

/// anvil's WebSocket URL (it serves WebSocket on its HTTP port).
fn ws_endpoint(chain: &Chain) -> String {
    chain.endpoint().replacen("http://", "ws://", 1)
}

/// The core with the operator's key, following `relay` (its only upstream); the
/// fallback polls every 100 ms.
async fn start_core(
    chain: &Chain,
    contract: alloy::primitives::Address,
    relay: &WsUpstream,
) -> Core {
    enclave_core::start_with(
        chain,
        contract,
        1,
        Duration::from_millis(100),
        CoreOptions {
            upstreams: vec![relay.url()],
            ..CoreOptions::default()
        },
    )
    .await
}

fn bets(snapshot: &abi::state::Snapshot) -> usize {
    snapshot
        .activities
        .iter()
        .filter(|a| matches!(a.kind, ActivityKind::Bet { .. }))
        .count()
}

/// Ten empty blocks (anvil's `evm_mine`) reach the store with no JSON-RPC request at
/// all: the heads are pushed, and with no log since the last head the views are not
/// read (the reconciliation, every 30 s, does not fall in the test). A bet is then
/// in the store from its pushed log, with one views read for its block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_blocks_cost_no_request_with_a_websocket_upstream() {
    let chain = Chain::start().await;
    let lottery = chain.deploy_with_operator(500).await;
    let relay = WsUpstream::start(&ws_endpoint(&chain)).await.unwrap();
    let core = start_core(&chain, *lottery.address(), &relay).await;
    let store = core.store.clone();
    eventually(15, "round 1's commitment", || {
        store.round().filter(|r| r.seed_commitment.is_some())
    })
    .await;
    eventually(10, "both subscriptions", || {
        (relay.counts().of("eth_subscribe") >= 2).then_some(())
    })
    .await;
    let head = chain.block_number().await;
    eventually(10, "the store at the chain's head", || {
        store.head().filter(|h| h.number == head)
    })
    .await;
    // Let the commitment's receipt polling and any late read settle.
    tokio::time::sleep(Duration::from_millis(500)).await;

    let before = relay.counts();
    for n in 1..=10 {
        chain.provider.evm_mine(None).await.unwrap();
        eventually(10, "the mined block in the store", || {
            store.head().filter(|h| h.number == head + n)
        })
        .await;
    }
    let idle = relay.counts().since(&before);
    assert_eq!(
        idle.calls, 0,
        "ten idle blocks must cost no request, got {idle:?}"
    );

    let before = relay.counts();
    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    eventually(10, "the pushed bet", || {
        store.round().filter(|r| r.participant_count == 1)
    })
    .await;
    assert_eq!(bets(&store.snapshot()), 1);
    let bet = relay.counts().since(&before);
    assert_eq!(bet.of("eth_getLogs"), 0, "the bet came by push: {bet:?}");
    assert!(
        bet.of("eth_call") <= 2,
        "one views read (getConfig, getRound) for the bet's block: {bet:?}"
    );
    drop(core);
}

/// An upstream that answers `eth_subscribe` with "method not found": the mirror polls
/// over the same socket instead and still mirrors every bet.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_without_subscriptions_is_polled() {
    let chain = Chain::start().await;
    let lottery = chain.deploy_with_operator(500).await;
    let relay = WsUpstream::start(&ws_endpoint(&chain)).await.unwrap();
    relay.refuse_subscriptions(true);
    let core = start_core(&chain, *lottery.address(), &relay).await;
    let store = core.store.clone();
    eventually(15, "round 1's commitment", || {
        store.round().filter(|r| r.seed_commitment.is_some())
    })
    .await;
    for (i, amount) in [(0, 10), (1, 20), (2, 30)] {
        ok(lottery
            .placeBet()
            .from(chain.player(i))
            .value(milli(amount)))
        .await;
    }
    let round = eventually(10, "three bets by polling", || {
        store.round().filter(|r| r.participant_count == 3)
    })
    .await;
    assert_eq!(round.total_pot, milli(60));
    assert_eq!(bets(&store.snapshot()), 3);
    assert_eq!(store.snapshot().participants.len(), 3);
    let counts = relay.counts();
    assert!(counts.of("eth_subscribe") >= 1, "it asked: {counts:?}");
    assert!(
        counts.of("eth_getLogs") >= 3,
        "it polled for logs instead: {counts:?}"
    );
    // Refused, it asks again only after minutes, not at every poll.
    assert!(counts.of("eth_subscribe") <= 2, "{counts:?}");
    drop(core);
}

/// A reorg that drops two pushed bets (their logs come again with `removed: true`,
/// and a new head replaces their blocks) is undone in the store, and the state
/// equals one rebuilt from the chain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_of_pushed_bets_is_undone() {
    let chain = Chain::start().await;
    let lottery = chain.deploy_with_operator(500).await;
    let relay = WsUpstream::start(&ws_endpoint(&chain)).await.unwrap();
    let core = start_core(&chain, *lottery.address(), &relay).await;
    let store = core.store.clone();
    eventually(15, "round 1's commitment", || {
        store.round().filter(|r| r.seed_commitment.is_some())
    })
    .await;
    eventually(10, "both subscriptions", || {
        (relay.counts().of("eth_subscribe") >= 2).then_some(())
    })
    .await;
    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    ok(lottery.placeBet().from(chain.player(1)).value(milli(20))).await;
    eventually(10, "two participants", || {
        store.round().filter(|r| r.participant_count == 2)
    })
    .await;
    assert_eq!(bets(&store.snapshot()), 2);

    chain
        .provider
        .anvil_reorg(alloy::rpc::types::anvil::ReorgOptions {
            depth: 2,
            tx_block_pairs: vec![],
        })
        .await
        .unwrap();
    // anvil pushes the new head only when a block is mined on the new branch.
    chain.provider.evm_mine(None).await.unwrap();
    eventually(10, "the bets undone", || {
        store.round().filter(|r| r.participant_count == 0)
    })
    .await;
    assert!(store.snapshot().participants.is_empty());
    assert_eq!(bets(&store.snapshot()), 0);
    let head = chain.provider.get_block_number().await.unwrap();
    eventually(10, "the store at the new head", || {
        store.head().filter(|h| h.number == head)
    })
    .await;
    let fresh = enclave_core::rebuilt(&chain, *lottery.address()).await;
    assert_eq!(fresh.activities, store.snapshot().activities);
    assert_eq!(fresh.round, store.round());
    drop(core);
}

/// `wss://`: TLS by the project's rustls configuration inside the client, checked
/// against the URL's host and the configured CA (as for `https://`). Through a TLS
/// front for anvil, a client trusting the CA that issued the certificate subscribes
/// and gets heads; one trusting another CA is refused by the handshake.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_is_checked_against_the_configured_ca() {
    use alloy::providers::RootProvider;
    use rpc_transport::ws::{WsConnect, WsTransport};
    let chain = Chain::start().await;
    let (ca_pem, cert, key) = tests::tls::issue_localhost_cert("test RPC CA");
    let (other_ca, _, _) = tests::tls::issue_localhost_cert("another CA");
    let port = tests::tls::tls_rpc_endpoint(cert, key, chain.endpoint()).await;
    let url = net::RpcUrl::parse_with_websocket(&format!("wss://localhost:{port}/")).unwrap();
    let der = |pem: &str| {
        use rustls::pki_types::{CertificateDer, pem::PemObject};
        CertificateDer::pem_slice_iter(pem.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    };

    let trusted = WsTransport::new(WsConnect::direct(url.clone(), &der(&ca_pem)).unwrap());
    let provider =
        RootProvider::<alloy::network::Ethereum>::new(trusted.pubsub_client().await.unwrap());
    let mut heads = provider.subscribe_blocks().await.unwrap();
    chain.provider.evm_mine(None).await.unwrap();
    let head = tokio::time::timeout(Duration::from_secs(10), heads.recv())
        .await
        .expect("a pushed head")
        .unwrap();
    assert_eq!(head.inner.number, chain.block_number().await);
    assert_eq!(
        provider.get_chain_id().await.unwrap(),
        chain.chain_id().await,
        "requests over the same socket"
    );

    let untrusted = WsTransport::new(WsConnect::direct(url, &der(&other_ca)).unwrap());
    let err = untrusted.pubsub_client().await.unwrap_err();
    assert!(
        rpc_transport::is_certificate_rejection(&err),
        "{}",
        runner::error_chain(&err)
    );
}
