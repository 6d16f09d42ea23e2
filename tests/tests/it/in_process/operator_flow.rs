//! The enclave core in-process against anvil with 1 s blocks: the event manager
//! mirrors the contract into the store and the passive operator commits, draws in the
//! first eligible block, and opens the next round, with no reverted transaction.
//! Chain time jumps with `evm_increaseTime`; nothing waits out a real round.

use std::time::Duration;

use abi::{
    contract::RoundState,
    state::{ActivityKind, OperatorStatus, Settlement},
};
use alloy::{
    primitives::{Address, U256},
    providers::{Provider, ext::AnvilApi},
};
use tests::{
    Chain,
    enclave_core::{self, Core},
    eventually, milli, ok, sent_by,
};

/// The core with the operator's key, polling every 100 ms.
async fn start_core(chain: &Chain, contract: Address) -> Core {
    enclave_core::start(chain, contract, 1, Duration::from_millis(100)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_operator_runs_a_full_round_on_time() {
    let chain = Chain::start_with(&["--block-time", "1"]).await;
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
    let mut balances = Vec::new();
    for i in 0..3 {
        balances.push(chain.balance(chain.player(i)).await);
    }
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
    // The winner was paid the prize; the others' balances did not move.
    for (i, before) in balances.iter().enumerate() {
        let expected = if chain.player(i) == winner {
            *before + prize
        } else {
            *before
        };
        assert_eq!(chain.balance(chain.player(i)).await, expected, "player {i}");
    }

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

/// The state rebuilt from the chain alone (a restart) equals the live mirror's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_mirror_rebuilds_the_same_state() {
    let chain = Chain::start_with(&["--block-time", "1"]).await;
    let lottery = chain.deploy_with_operator(500).await;
    let core = start_core(&chain, *lottery.address()).await;
    let store = core.store.clone();
    eventually(10, "round 1's commitment", || {
        store.round().filter(|r| r.seed_commitment.is_some())
    })
    .await;
    for i in 0..3 {
        ok(lottery
            .placeBet()
            .from(chain.player(i))
            .value(milli(10 + i as u64)))
        .await;
    }
    let round = eventually(10, "three bets", || {
        store.round().filter(|r| r.participant_count == 3)
    })
    .await;
    chain
        .provider
        .anvil_increase_time(round.min_draw_time - chain.now().await - 6)
        .await
        .unwrap();
    eventually(30, "round 2 committed", || {
        store
            .round()
            .filter(|r| r.round_id == 2 && r.seed_commitment.is_some())
    })
    .await;
    ok(lottery.placeBet().from(chain.player(0)).value(milli(7))).await;
    eventually(10, "round 2's bet", || {
        store.round().filter(|r| r.participant_count == 1)
    })
    .await;
    drop(core);

    let live = store.snapshot();
    let fresh = enclave_core::rebuilt(&chain, *lottery.address()).await;
    assert_eq!(fresh.config, live.config);
    assert_eq!(fresh.round, live.round);
    assert_eq!(fresh.participants, live.participants);
    assert_eq!(fresh.history, live.history);
    assert_eq!(fresh.activities, live.activities);
    assert_eq!(fresh.history.len(), 1);
}

/// A key that is not the contract's operator runs read-only and says why, with both
/// addresses; it sends nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_that_is_not_the_operator_runs_read_only() {
    let chain = Chain::start_with(&["--block-time", "1"]).await;
    let lottery = chain.deploy_with_operator(500).await;
    let core = enclave_core::start(&chain, *lottery.address(), 5, Duration::from_millis(100)).await;
    let store = core.store.clone();
    let status = eventually(10, "a read-only status", || match store.operator() {
        s @ OperatorStatus::ReadOnly { .. } => Some(s),
        _ => None,
    })
    .await;
    let OperatorStatus::ReadOnly {
        key_address,
        contract_operator,
        reason,
    } = status
    else {
        unreachable!()
    };
    assert_eq!(key_address, Some(chain.accounts[5]));
    assert_eq!(contract_operator, Some(chain.operator()));
    assert!(reason.contains("not the contract's operator"), "{reason}");
    // A few blocks later it still has sent nothing.
    let head = chain.provider.get_block_number().await.unwrap();
    eventually(10, "three more blocks", || {
        store.head().filter(|h| h.number >= head + 3)
    })
    .await;
    assert!(sent_by(&chain, chain.accounts[5]).await.is_empty());
    assert_eq!(store.round().unwrap().seed_commitment, None);
}

/// An enclave whose key is only announced stays read-only and says when it takes
/// over; when the delay has passed (an empty block: no log marks the moment, the
/// contract applies a due change lazily) the mirror notices, and the key replaces the
/// old operator's commitment on the waiting round with its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announced_key_takes_over_when_the_delay_has_passed() {
    let chain = Chain::start().await; // automine: blocks only when asked
    let lottery = chain.deploy_with_operator(500).await;
    let old = chain
        .commit(
            &lottery,
            &abi::draw::Seed::from_bytes(alloy::primitives::B256::repeat_byte(4)),
        )
        .await;
    // The publisher announces the enclave's key (account 5).
    let next = chain.accounts[5];
    ok(lottery
        .setOperator(
            next,
            alloy::primitives::Bytes::from(tests::TEST_PCR0.to_vec()),
        )
        .from(chain.publisher()))
    .await;
    let core = enclave_core::start(&chain, *lottery.address(), 5, Duration::from_millis(100)).await;
    let store = core.store.clone();
    let reason = eventually(10, "read-only, announced", || match store.operator() {
        OperatorStatus::ReadOnly { reason, .. } if reason.contains("announced") => Some(reason),
        _ => None,
    })
    .await;
    assert!(reason.contains("once no round takes bets"), "{reason}");
    assert_eq!(
        store.config().unwrap().pending_operator.unwrap().operator,
        next
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        sent_by(&chain, next).await.is_empty(),
        "acted before the delay"
    );

    chain.pass_operator_delay().await;
    let round = eventually(15, "round 1 committed by the new key", || {
        store
            .round()
            .filter(|r| r.seed_commitment.is_some_and(|c| c != old))
    })
    .await;
    assert_eq!(round.round_id, 1);
    let config = store.config().unwrap();
    assert_eq!(config.operator, Some(next));
    assert_eq!(config.pending_operator, None);
    let sent = sent_by(&chain, next).await;
    assert_eq!(sent.len(), 1, "exactly one commit: {sent:?}");
    assert!(sent.iter().all(|(_, ok)| *ok), "{sent:?}");
}

/// A reorg that drops two bets is undone in the store: the bets leave the round, the
/// participants and the activity feed, and subscribers are told.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_that_drops_bets_is_undone_in_the_store() {
    let chain = Chain::start().await; // automine: one block per transaction
    let lottery = chain.deploy_with_operator(500).await;
    let core = start_core(&chain, *lottery.address()).await;
    let store = core.store.clone();
    eventually(10, "round 1's commitment", || {
        store.round().filter(|r| r.seed_commitment.is_some())
    })
    .await;
    let (_, mut events) = store.subscribe();
    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    ok(lottery.placeBet().from(chain.player(1)).value(milli(20))).await;
    eventually(10, "two participants", || {
        store.round().filter(|r| r.participant_count == 2)
    })
    .await;
    let bets = |s: &abi::state::Snapshot| {
        s.activities
            .iter()
            .filter(|a| matches!(a.kind, ActivityKind::Bet { .. }))
            .count()
    };
    assert_eq!(bets(&store.snapshot()), 2);

    // Replace the two bet blocks with two empty ones.
    chain
        .provider
        .anvil_reorg(alloy::rpc::types::anvil::ReorgOptions {
            depth: 2,
            tx_block_pairs: vec![],
        })
        .await
        .unwrap();
    let round = eventually(10, "the bets undone", || {
        store.round().filter(|r| r.participant_count == 0)
    })
    .await;
    assert_eq!(round.state, RoundState::Waiting);
    assert!(store.snapshot().participants.is_empty());
    assert_eq!(bets(&store.snapshot()), 0);
    let mut told = false;
    while let Ok(event) = events.try_recv() {
        told |= matches!(event.change, abi::state::StateChange::Reorged { .. });
    }
    assert!(told, "subscribers must hear of the reorg");
    // The rebuilt state agrees.
    let fresh = enclave_core::rebuilt(&chain, *lottery.address()).await;
    assert_eq!(fresh.activities, store.snapshot().activities);
    assert_eq!(fresh.round, store.round());
}

/// anvil stopped for 20 s and restarted with its state on the same port: the core
/// recovers, misses no event, and sends no duplicate transaction.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_core_recovers_from_a_node_outage_without_missing_or_repeating_anything() {
    let state = tempfile::tempdir().unwrap();
    let state_file = state.path().join("anvil-state.json");
    let state_arg = state_file.to_str().unwrap();
    let mut chain = Chain::start_with(&["--block-time", "1", "--state", state_arg]).await;
    let lottery = chain.deploy_with_operator(500).await;
    let core = start_core(&chain, *lottery.address()).await;
    let store = core.store.clone();
    eventually(10, "round 1's commitment", || {
        store.round().filter(|r| r.seed_commitment.is_some())
    })
    .await;
    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    ok(lottery.placeBet().from(chain.player(1)).value(milli(20))).await;
    let round = eventually(10, "two bets", || {
        store.round().filter(|r| r.participant_count == 2)
    })
    .await;

    chain.restart_anvil(Duration::from_secs(20)).await;
    assert_eq!(
        lottery.getRound().call().await.unwrap().participantCount,
        U256::from(2),
        "state survived the restart"
    );
    let now = chain.now().await;
    if round.min_draw_time > now + 6 {
        chain
            .provider
            .anvil_increase_time(round.min_draw_time - now - 6)
            .await
            .unwrap();
    }
    let entry = eventually(40, "the draw after the outage", || {
        store.snapshot().history.first().cloned()
    })
    .await;
    assert_eq!(entry.round_id, 1);
    eventually(10, "round 2 committed", || {
        store
            .round()
            .filter(|r| r.round_id == 2 && r.seed_commitment.is_some())
    })
    .await;
    ok(lottery.placeBet().from(chain.player(2)).value(milli(5))).await;
    eventually(10, "round 2's bet", || {
        store.round().filter(|r| r.participant_count == 1)
    })
    .await;

    // Nothing missed: the mirror's feed equals one rebuilt from the chain afterwards.
    let fresh = enclave_core::rebuilt(&chain, *lottery.address()).await;
    assert_eq!(fresh.activities, store.snapshot().activities);
    assert_eq!(fresh.history, store.snapshot().history);
    // Nothing repeated: commit, draw, commit; none reverted.
    let sent = sent_by(&chain, chain.operator()).await;
    assert_eq!(sent.len(), 3, "{sent:?}");
    assert!(sent.iter().all(|(_, ok)| *ok), "{sent:?}");
    drop(core);
}

/// Sybil players: a round of 2,000 fresh addresses (every tenth betting twice). The
/// mirror builds the participant list from the bets' logs and checks it against the
/// round's totals: it never reads the list from the contract (`getParticipants` or
/// its pages, whose gas grows with the players, about 5,500 a player, so a per-bet
/// read fails on capped nodes from about 9,000 players), yet it holds exactly the
/// contract's list, in order, and the round is drawn with the winner the published
/// rule picks from the bets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_of_2000_players_settles_from_logs_without_a_per_bet_list_read() {
    use alloy::sol_types::{SolCall, SolEvent};
    use tests::{enclave_core::CoreOptions, upstream::HostileUpstream};
    const PLAYERS: u64 = 2000;
    let chain = Chain::start_with(&["--block-time", "1"]).await;
    let lottery = chain.deploy_with_operator(500).await;
    ok(lottery
        .setBettingDuration(U256::from(3600))
        .from(chain.operator()))
    .await;
    let upstream = HostileUpstream::start(&chain.endpoint()).await.unwrap();
    let core = enclave_core::start_with(
        &chain,
        *lottery.address(),
        1,
        Duration::from_millis(100),
        CoreOptions {
            upstreams: vec![upstream.url()],
            ..CoreOptions::default()
        },
    )
    .await;
    let store = core.store.clone();
    eventually(10, "round 1's commitment", || {
        store.round().filter(|r| r.seed_commitment.is_some())
    })
    .await;
    // Every tenth player bets twice: a top-up changes a stake, not the order.
    tests::gas::crowd_in_waves(
        &chain,
        &lottery,
        0..usize::try_from(PLAYERS).unwrap(),
        Some(10),
    )
    .await;
    let held = eventually(60, "every player in the store", || {
        let list = store.snapshot().participants;
        (list.len() as u64 == PLAYERS
            && store
                .round()
                .is_some_and(|r| r.participant_count == PLAYERS))
        .then_some(list)
    })
    .await;
    let on_chain = lottery.getParticipants().call().await.unwrap();
    assert_eq!(
        held.stakes()
            .iter()
            .map(|p| (p.address, p.amount))
            .collect::<Vec<_>>(),
        on_chain
            .iter()
            .map(|p| (p.player, p.amount))
            .collect::<Vec<_>>()
    );
    let total: f64 = held.page(0, held.len()).iter().map(|p| p.win_chance).sum();
    // Each chance is truncated to parts per billion: the sum is short by at most
    // one ppb a player.
    #[allow(clippy::cast_precision_loss)]
    let slack = (PLAYERS + 1) as f64 * 1e-9;
    assert!((total - 1.0).abs() <= slack, "chances sum to {total}");
    let full_reads = upstream
        .calls()
        .iter()
        .filter(|c| {
            c.input
                .starts_with(&abi::contract::Lottery::getParticipantsCall::SELECTOR)
                || c.input
                    .starts_with(&abi::contract::Lottery::getParticipantsPageCall::SELECTOR)
        })
        .count();
    assert_eq!(full_reads, 0, "the mirror read the O(players) view");

    // The draw: in the window, with the winner the rule picks from the bets.
    let round = store.round().unwrap();
    let now = chain.now().await;
    chain
        .provider
        .anvil_increase_time(round.min_draw_time - now - 2)
        .await
        .unwrap();
    let entry = eventually(60, "the draw in the history", || {
        store.snapshot().history.first().cloned()
    })
    .await;
    let Settlement::Completed { winner, seed, .. } = entry.settlement else {
        panic!("{entry:?}")
    };
    assert_eq!((entry.round_id, entry.participant_count), (1, PLAYERS));
    let logs = chain
        .provider
        .get_logs(
            &alloy::rpc::types::Filter::new()
                .address(*lottery.address())
                .event_signature(abi::contract::Lottery::BetPlaced::SIGNATURE_HASH)
                .from_block(0),
        )
        .await
        .unwrap();
    let bets: Vec<(Address, U256)> = logs
        .iter()
        .map(|l| {
            let bet = abi::contract::Lottery::BetPlaced::decode_log(&l.inner).unwrap();
            (bet.player, bet.amount)
        })
        .collect();
    assert_eq!(bets.len() as u64, PLAYERS + PLAYERS / 10);
    assert_eq!(abi::draw::winner(&bets, seed), Some(winner));
    let settled = lottery.getRoundById(U256::from(1)).call().await.unwrap();
    assert_eq!(settled.winner, winner);
    // The next round opened empty, as a reset, not as 2,000 removals.
    eventually(30, "round 2 in the store", || {
        let s = store.snapshot();
        (s.participants.round_id() == 2 && s.participants.is_empty()).then_some(())
    })
    .await;
}

/// A reorg with deltas: three bets, the last one's block replaced by another player's
/// bet. The store ends with exactly the chain's list, a subscriber folding the events
/// (stake updates and resets) ends with the store's state, and no event ever showed
/// a half-rebuilt list (the dropped bet and its replacement at once).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reorg_rolls_the_participant_deltas_back_for_every_subscriber() {
    use abi::state::{StateChange, apply};
    let chain = Chain::start().await; // automine: one block per transaction
    let lottery = chain.deploy_with_operator(500).await;
    let core = start_core(&chain, *lottery.address()).await;
    let store = core.store.clone();
    eventually(10, "round 1's commitment", || {
        store.round().filter(|r| r.seed_commitment.is_some())
    })
    .await;
    let (mut folded, mut events) = store.subscribe();
    for (i, amount) in [(0, 10), (1, 20), (2, 30)] {
        ok(lottery
            .placeBet()
            .from(chain.player(i))
            .value(milli(amount)))
        .await;
    }
    eventually(10, "three participants", || {
        (store.snapshot().participants.len() == 3).then_some(())
    })
    .await;
    // Drop the last bet's block, then a fourth player bets in the new chain.
    chain
        .provider
        .anvil_reorg(alloy::rpc::types::anvil::ReorgOptions {
            depth: 1,
            tx_block_pairs: vec![],
        })
        .await
        .unwrap();
    ok(lottery.placeBet().from(chain.player(3)).value(milli(40))).await;
    let expected: Vec<(Address, U256)> = vec![
        (chain.player(0), milli(10)),
        (chain.player(1), milli(20)),
        (chain.player(3), milli(40)),
    ];
    let stakes = |list: &abi::state::ParticipantList| {
        list.stakes()
            .iter()
            .map(|s| (s.address, s.amount))
            .collect::<Vec<_>>()
    };
    eventually(20, "the chain's list in the store", || {
        (stakes(&store.snapshot().participants) == expected).then_some(())
    })
    .await;
    let on_chain: Vec<(Address, U256)> = lottery
        .getParticipants()
        .call()
        .await
        .unwrap()
        .iter()
        .map(|p| (p.player, p.amount))
        .collect();
    assert_eq!(on_chain, expected);
    // Fold everything the store published since the subscription.
    let (mut deltas, mut resets, mut reorged) = (0, 0, false);
    while let Ok(event) = events.try_recv() {
        match &event.change {
            StateChange::StakeUpdate(_) => deltas += 1,
            StateChange::ParticipantsReset(_) => resets += 1,
            StateChange::Reorged { .. } => reorged = true,
            _ => {}
        }
        apply(&mut folded, &event, &store.limits()).unwrap();
        let held: Vec<Address> = folded
            .participants
            .stakes()
            .iter()
            .map(|s| s.address)
            .collect();
        assert!(
            !(held.contains(&chain.player(2)) && held.contains(&chain.player(3))),
            "event {} published a half-rebuilt list: {held:?}",
            event.seq
        );
    }
    assert!(reorged, "subscribers must hear of the reorg");
    assert!(deltas >= 2, "bets travel as deltas ({deltas})");
    assert!(
        resets >= 1,
        "the re-read list replaces the old one ({resets})"
    );
    assert_eq!(folded, store.snapshot(), "the fold and the store differ");
    assert_eq!(folded.participants.total(), milli(70));
}
