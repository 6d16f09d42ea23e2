//! enclave-app following a `ws://` upstream by push, as real processes: its only way
//! to the chain is host-proxy's egress forwarder (raw bytes: the WebSocket upgrade and
//! frames pass unchanged), in front of the tests' WebSocket relay ([`WsUpstream`]) in
//! front of anvil (1 s blocks). The relay is cut mid-round and restored.

use std::time::Duration;

use abi::state::{ActivityKind, Settlement};
use alloy::{primitives::TxHash, providers::ext::AnvilApi};
use tests::{
    Chain, milli, ok,
    stack::{self, Ports, host_until},
    ws_upstream::WsUpstream,
};

/// An RPC URL only the forwarder can serve: `.invalid` never resolves (RFC 2606).
const UNREACHABLE_WS_RPC: &str = "ws://chain.invalid:8545";

fn bet_hashes(snapshot: &abi::api::FeedSnapshot) -> Vec<TxHash> {
    snapshot
        .activities
        .iter()
        .filter(|a| a.round_id == 1 && matches!(a.kind, ActivityKind::Bet { .. }))
        .map(|a| a.transaction_hash)
        .collect()
}

/// A round with four bets, one of them pushed before the cut, two placed while the
/// upstream's WebSocket is down (the subscription drops; the mirror polls, and fails
/// to), one after it is back: every bet reaches host-proxy's feed, the round is drawn,
/// and the feed's activity equals a mirror rebuilt from the chain afterwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscription_dropped_mid_round_misses_no_bet_and_no_draw() {
    let chain = Chain::start_with(&["--block-time", "1"]).await;
    let lottery = chain.deploy_with_operator(500).await;
    let contract = *lottery.address();
    let relay = WsUpstream::start(&chain.endpoint().replacen("http://", "ws://", 1))
        .await
        .unwrap();
    let ports = Ports::free();
    let _host = stack::host_proxy(ports, &relay.url(), &[]);
    let enclave = stack::enclave_app(&chain, ports, UNREACHABLE_WS_RPC, contract, Some(1), &[]);
    enclave
        .wait_for_log(&["following by push"], Duration::from_secs(30))
        .await;
    host_until(ports.web, 30, "round 1 committed", |s| {
        s.round
            .as_ref()
            .is_some_and(|r| r.seed_commitment.is_some())
    })
    .await;

    let mut placed = Vec::new();
    let receipt = ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    placed.push(receipt.transaction_hash);
    host_until(ports.web, 10, "the first bet", |s| {
        s.participants.participant_count == 1
    })
    .await;

    relay.cut().await;
    enclave
        .wait_for_log(&["subscription dropped"], Duration::from_secs(10))
        .await;
    for (i, amount) in [(1, 20), (2, 30)] {
        let receipt = ok(lottery
            .placeBet()
            .from(chain.player(i))
            .value(milli(amount)))
        .await;
        placed.push(receipt.transaction_hash);
    }
    // A few blocks go by with the upstream down.
    tokio::time::sleep(Duration::from_secs(3)).await;
    relay.restore().await.unwrap();
    enclave
        .wait_for_log(
            &["following by push", "resubscribed=true"],
            Duration::from_secs(30),
        )
        .await;
    host_until(ports.web, 10, "the bets placed during the cut", |s| {
        s.participants.participant_count == 3
            && s.round.as_ref().is_some_and(|r| r.total_pot == milli(60))
    })
    .await;
    let receipt = ok(lottery.placeBet().from(chain.player(3)).value(milli(40))).await;
    placed.push(receipt.transaction_hash);
    // The participants come from the pushed log at once; the round's pot from the
    // views read at the bet's block.
    let snapshot = host_until(ports.web, 10, "the bet after the cut", |s| {
        s.participants.participant_count == 4
            && s.round.as_ref().is_some_and(|r| r.total_pot == milli(100))
    })
    .await;
    let round = snapshot.round.clone().unwrap();
    let mut seen = bet_hashes(&snapshot);
    seen.sort();
    placed.sort();
    assert_eq!(seen, placed, "every bet exactly once in the feed");

    // The draw, by push.
    let now = chain.now().await;
    chain
        .provider
        .anvil_increase_time(round.min_draw_time.saturating_sub(now))
        .await
        .unwrap();
    let snapshot = host_until(ports.web, 30, "round 1 in the history", |s| {
        s.history.first().is_some_and(|h| h.round_id == 1)
    })
    .await;
    let Settlement::Completed { winner, .. } = &snapshot.history[0].settlement else {
        panic!("round 1 was not drawn: {:?}", snapshot.history[0]);
    };
    assert!((0..4).any(|i| chain.player(i) == *winner));
    // Nothing missed or doubled: the same activity as a mirror built from the chain.
    let fresh = tests::enclave_core::rebuilt(&chain, contract).await;
    let settled = host_until(ports.web, 10, "the feed caught up with the chain", |s| {
        s.activities.len() >= fresh.activities.len()
    })
    .await;
    let upto = |a: &&abi::state::Activity| a.block_number <= fresh.head.map_or(0, |h| h.number);
    let held: Vec<_> = settled.activities.iter().filter(upto).cloned().collect();
    let rebuilt: Vec<_> = fresh.activities.iter().filter(upto).cloned().collect();
    assert_eq!(held, rebuilt);
    let counts = relay.counts();
    assert!(counts.connections >= 2, "it reconnected: {counts:?}");
}
