//! The enclave core in-process against anvil with 1 s blocks: the event manager
//! mirrors the contract into the store and the passive operator commits, draws in the
//! first eligible block, and opens the next round, with no reverted transaction.
//! Chain time jumps with `evm_increaseTime`; nothing waits out a real round.

use std::time::Duration;

use abi::{
    contract::RoundState,
    state::{ActivityKind, Settlement},
};
use alloy::{
    network::EthereumWallet,
    primitives::{Address, U256},
    providers::{Provider, ext::AnvilApi},
};
use enclave_app::{
    chain::{ChainClient, TxSender},
    mirror::{Mirror, MirrorSettings},
    operator::{Operator, OperatorSettings},
    store::Store,
};
use tests::{TestChain, eventually, milli, ok, sent_by};
use tokio_util::sync::CancellationToken;

struct Core {
    store: Store,
    shutdown: CancellationToken,
}

impl Drop for Core {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn start_core(chain: &TestChain, contract: Address) -> Core {
    let url = abi::transport::RpcUrl::parse(&chain.endpoint()).unwrap();
    let client = ChainClient::connect_tcp(url, contract).unwrap();
    let chain_id = chain.chain_id().await;
    let store = Store::new(contract, chain_id, abi::state::StateLimits::default());
    let settings = MirrorSettings {
        poll_interval: Duration::from_millis(100),
        lookback_blocks: 10_000,
        log_chunk_blocks: 2_000,
        reconcile_interval: Duration::from_secs(30),
    };
    let mut mirror = Mirror::new(client.clone(), store.clone(), settings);
    mirror.start().await.unwrap();
    let sender = TxSender::new(
        client,
        EthereumWallet::from(chain.keys[1].clone()),
        chain.operator(),
        chain_id,
    );
    let operator = Operator::new(
        store.clone(),
        sender,
        chain_id,
        contract,
        OperatorSettings {
            replace_after_blocks: 3,
        },
    );
    let shutdown = CancellationToken::new();
    tokio::spawn(mirror.run(shutdown.clone()));
    tokio::spawn(operator.run(shutdown.clone()));
    Core { store, shutdown }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_runs_a_full_round_on_time() {
    let chain = TestChain::start_with(&["--block-time", "1"]).await;
    let lottery = chain.deploy_with_operator(500).await;
    let opened = chain.provider.get_block_number().await.unwrap();
    let core = start_core(&chain, *lottery.address()).await;

    // The operator commits round 1 within 2 blocks of being able to.
    let store = core.store.clone();
    eventually(10, "round 1's commitment", || {
        store.round().filter(|r| r.seed_commitment.is_some())
    })
    .await;
    let committed = store
        .snapshot()
        .activities
        .iter()
        .find(|a| a.kind == ActivityKind::SeedCommitted)
        .unwrap()
        .block_number;
    assert!(
        committed <= opened + 2,
        "committed at block {committed}, opened at {opened}"
    );

    // Three players bet; the mirror shows them.
    for (i, amount) in [(0, 10), (1, 20), (2, 30)] {
        ok(lottery
            .placeBet()
            .from(chain.player(i))
            .value(milli(amount)))
        .await;
    }
    let round = eventually(10, "three participants", || {
        store.round().filter(|r| r.participant_count == 3)
    })
    .await;
    assert_eq!(round.state, RoundState::Betting);
    assert_eq!(store.snapshot().participants.len(), 3);

    // Jump to shortly before the draw window; the draw must land in the first block
    // whose timestamp reaches minDrawTime.
    let now = chain.now().await;
    chain
        .provider
        .anvil_increase_time(round.min_draw_time - now - 6)
        .await
        .unwrap();
    let entry = eventually(30, "the draw in the history", || {
        store.snapshot().history.first().cloned()
    })
    .await;
    assert_eq!(entry.round_id, 1);
    let Settlement::Completed { winner, prize, .. } = entry.settlement else {
        panic!("{entry:?}")
    };
    assert!((0..3).any(|i| chain.player(i) == winner));
    assert_eq!(
        prize,
        milli(60) - milli(60) * U256::from(500) / U256::from(10_000)
    );
    let draw_block = chain
        .provider
        .get_block_by_number(entry.block_number.into())
        .await
        .unwrap()
        .unwrap();
    let parent = chain
        .provider
        .get_block_by_number((entry.block_number - 1).into())
        .await
        .unwrap()
        .unwrap();
    assert!(draw_block.header.timestamp >= round.min_draw_time);
    assert!(
        parent.header.timestamp < round.min_draw_time,
        "the draw landed at {} but block {} at {} was already eligible (minDrawTime {})",
        draw_block.header.timestamp,
        entry.block_number - 1,
        parent.header.timestamp,
        round.min_draw_time
    );
    let completed = lottery.getRoundById(U256::from(1)).call().await.unwrap();
    assert_eq!(completed.winner, winner);

    // Round 2 opens in the draw's block and is committed within 2 blocks.
    let round2 = eventually(10, "round 2's commitment", || {
        store
            .round()
            .filter(|r| r.round_id == 2 && r.seed_commitment.is_some())
    })
    .await;
    assert_eq!(round2.state, RoundState::Waiting);
    let commit2 = store
        .snapshot()
        .activities
        .iter()
        .find(|a| a.round_id == 2 && a.kind == ActivityKind::SeedCommitted)
        .unwrap()
        .block_number;
    assert!(
        commit2 <= entry.block_number + 2,
        "round 2 committed at {commit2}, opened at {}",
        entry.block_number
    );
    // The activity feed has the bets and the result.
    let bets = store
        .snapshot()
        .activities
        .iter()
        .filter(|a| matches!(a.kind, ActivityKind::Bet { .. }))
        .count();
    assert_eq!(bets, 3);

    // No operator transaction reverted.
    let sent = sent_by(&chain, chain.operator()).await;
    assert_eq!(sent.len(), 3, "commit, draw, commit: {sent:?}");
    assert!(
        sent.iter().all(|(_, ok)| *ok),
        "reverted operator transactions: {sent:?}"
    );
    drop(core);
}
