//! The store: the enclave's mirror of the lottery contract, and its change feed.
//!
//! One writer side (the event manager and the operator) and many readers (the
//! operator's cheap reads, the control server streaming to host-proxy). Every change
//! goes through one function, [`apply_change`](abi::state::apply_change), under one lock, and each change that
//! did something is published as a [`StateEvent`] with the next sequence number while
//! that lock is still held, so the order of events and their `seq` always agree with
//! the order in which the state changed.
//!
//! A reader that needs the state *and* what comes after it calls
//! [`Store::subscribe`]: the snapshot and the receiver are taken under the same lock,
//! so the first event received is exactly `snapshot.seq + 1`. Folding the events with
//! [`abi::state::apply`] reproduces the store's state; that is how host-proxy keeps its copy.
//!
//! What this module must not do: I/O, `await`, or holding its lock across either. The
//! lock is a `std::sync::Mutex` because every critical section is a short, synchronous
//! fold over bounded lists.

use std::{
    fmt,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
};

use abi::{
    state::{
        Activity, ChainHead, HistoryEntry, OperatorStatus, Snapshot, StateChange, StateEvent,
        StateLimits, apply_change,
    },
    views::{ConfigView, RoundView},
};

use crate::participants::ParticipantChange;
use alloy::primitives::Address;
use tokio::sync::broadcast;

/// How many events the change feed buffers for its slowest subscriber. The busiest
/// burst in normal operation is a back-fill or a reorg re-read of a whole activity
/// window ([`abi::state::DEFAULT_ACTIVITY_LIMIT`] activities plus their history, round and
/// participant updates); 1024 holds about two such windows, so a subscriber that is
/// merely behind by one burst catches up without a new snapshot. At a few hundred
/// bytes per event the worst case is well under a megabyte of enclave memory.
/// A subscriber that falls further behind gets `RecvError::Lagged` and must
/// resubscribe (see [`Store::subscribe`]).
pub const EVENT_CAPACITY: usize = 1024;

/// The mirrored state and its change feed. Cheap to clone: clones share one state.
#[derive(Clone)]
pub struct Store {
    shared: Arc<Shared>,
}

struct Shared {
    /// The state; its `seq` is the last event emitted.
    state: Mutex<Snapshot>,
    /// The change feed. Sent to only while `state` is locked.
    events: broadcast::Sender<StateEvent>,
    limits: StateLimits,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.lock();
        f.debug_struct("Store")
            .field("contract", &state.contract)
            .field("chain_id", &state.chain_id)
            .field("seq", &state.seq)
            .field("subscribers", &self.shared.events.receiver_count())
            .finish_non_exhaustive()
    }
}

impl Store {
    /// An empty mirror of `contract` on `chain_id`: no head, config or round yet,
    /// operator [`OperatorStatus::Starting`], `seq` 0. The feed buffers
    /// [`EVENT_CAPACITY`] events.
    pub fn new(contract: Address, chain_id: u64, limits: StateLimits) -> Self {
        Self::with_capacity(contract, chain_id, limits, EVENT_CAPACITY)
    }

    /// The same with a feed buffering `capacity` events (at least one).
    pub fn with_capacity(
        contract: Address,
        chain_id: u64,
        limits: StateLimits,
        capacity: usize,
    ) -> Self {
        let (events, _) = broadcast::channel(capacity.max(1));
        let state = Snapshot {
            seq: 0,
            contract,
            chain_id,
            head: None,
            config: None,
            round: None,
            participants: abi::state::ParticipantList::default(),
            history: Vec::new(),
            activities: Vec::new(),
            operator: OperatorStatus::Starting,
        };
        Self {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                events,
                limits,
            }),
        }
    }

    /// The list bounds, which a subscriber passes to [`apply`].
    pub fn limits(&self) -> StateLimits {
        self.shared.limits
    }

    /// A copy of the whole state.
    pub fn snapshot(&self) -> Snapshot {
        self.lock().clone()
    }

    /// A copy of the whole state and a receiver of every later event, taken
    /// atomically: the first event received has `seq == snapshot.seq + 1`, and none is
    /// missed or duplicated in between.
    ///
    /// The receiver is bounded ([`EVENT_CAPACITY`]): a subscriber that falls that far
    /// behind gets `RecvError::Lagged` from tokio. The events it skipped are gone, so
    /// it must drop the receiver and call `subscribe` again for a fresh snapshot
    /// (continuing to receive after `Lagged` would fold a state with a gap in it;
    /// [`apply`] would refuse the next event). The receiver never sees `Closed` while
    /// any clone of the store is alive.
    pub fn subscribe(&self) -> (Snapshot, broadcast::Receiver<StateEvent>) {
        let state = self.lock();
        // Subscribing under the lock: no event can be sent between the copy and
        // the receiver's creation, since sending also needs the lock.
        let receiver = self.shared.events.subscribe();
        (state.clone(), receiver)
    }

    /// A new block was processed. Emits `HeadUpdate` when the head changed.
    pub fn set_head(&self, head: ChainHead) {
        self.commit(StateChange::HeadUpdate(head));
    }

    /// The contract's configuration. Emits `ConfigUpdate` only when it changed.
    pub fn set_config(&self, config: ConfigView) {
        self.commit(StateChange::ConfigUpdate(config));
    }

    /// The current round. Emits `RoundUpdate` only when it changed.
    pub fn set_round(&self, round: RoundView) {
        self.commit(StateChange::RoundUpdate(round));
    }

    /// A change to the current round's participants: one bet (`StakeUpdate`, O(1)
    /// bytes) or the whole list replaced (`ParticipantsReset`). Emits nothing when it
    /// changes nothing.
    pub fn update_participants(&self, change: ParticipantChange) {
        self.commit(change.into());
    }

    /// A settled round. Kept newest first by round id; an entry for a round already
    /// in the history replaces it; the oldest are dropped past the limit. Emits
    /// `HistoryUpdate` only when the history changed.
    pub fn push_history(&self, entry: HistoryEntry) {
        self.commit(StateChange::HistoryUpdate(entry));
    }

    /// A contract event for the feed. Kept newest first by `(block_number,
    /// log_index)` whatever order events arrive in (back-fill after live events);
    /// one entry per `(transaction_hash, log_index)`, the later one replacing the
    /// earlier; the oldest are dropped past the limit. Emits `Activity` only when the
    /// feed changed.
    pub fn push_activity(&self, activity: Activity) {
        self.commit(StateChange::Activity(activity));
    }

    /// What the operator is doing. Emits `OperatorUpdate` only when it changed.
    pub fn set_operator(&self, status: OperatorStatus) {
        self.commit(StateChange::OperatorUpdate(status));
    }

    /// A reorg undid blocks `>= from_block`: drops history and activity entries from
    /// those blocks and emits `Reorged { from_block }`, once, even if nothing was
    /// dropped. Head, round, config and participants stay as they are until the
    /// caller re-reads them (as ordinary events after this one).
    pub fn rollback(&self, from_block: u64) {
        self.commit(StateChange::Reorged { from_block });
    }

    /// The sequence number of the last event emitted (0 before the first).
    pub fn seq(&self) -> u64 {
        self.lock().seq
    }

    /// What the operator is doing now.
    pub fn operator(&self) -> OperatorStatus {
        self.lock().operator.clone()
    }

    /// The current round, once read.
    pub fn round(&self) -> Option<RoundView> {
        self.lock().round.clone()
    }

    /// The contract's configuration, once read.
    pub fn config(&self) -> Option<ConfigView> {
        self.lock().config.clone()
    }

    /// The latest processed block, once known.
    pub fn head(&self) -> Option<ChainHead> {
        self.lock().head
    }

    /// Folds `change` into the state and, if it changed anything, emits it with the
    /// next sequence number, both under the lock.
    fn commit(&self, change: StateChange) {
        let mut state = self.lock();
        if !apply_change(&mut state, &change, &self.shared.limits) {
            return;
        }
        state.seq += 1;
        let event = StateEvent {
            seq: state.seq,
            change,
        };
        // An error only means nobody is subscribed right now; whoever subscribes
        // later starts from a snapshot that already contains this change.
        let _ = self.shared.events.send(event);
    }

    fn lock(&self) -> MutexGuard<'_, Snapshot> {
        // Every critical section is a fold that leaves the state whole at each step,
        // so a panic elsewhere while holding the lock does not make it unusable (and
        // release builds abort on panic anyway).
        self.shared
            .state
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::{sync::Barrier, thread};

    use abi::{
        contract::{RefundReason, RoundState},
        state::{ActivityKind, Settlement},
    };
    use alloy::primitives::{B256, TxHash, U256};
    use tokio::sync::broadcast::error::TryRecvError;

    use super::*;
    use abi::state::{OutOfSequence, apply};

    const CONTRACT: Address = Address::repeat_byte(0xC0);

    fn store(limits: StateLimits) -> Store {
        Store::new(CONTRACT, 31337, limits)
    }

    fn tx(n: u64) -> TxHash {
        TxHash::from(U256::from(n))
    }

    fn activity(block_number: u64, log_index: u64, tx_n: u64) -> Activity {
        Activity {
            round_id: 1,
            kind: ActivityKind::Bet {
                player: Address::repeat_byte(7),
                amount: U256::from(10),
                new_total: U256::from(10),
            },
            timestamp: 1_000 + block_number,
            block_number,
            transaction_hash: tx(tx_n),
            log_index,
        }
    }

    fn entry(round_id: u64, block_number: u64) -> HistoryEntry {
        HistoryEntry {
            round_id,
            total_pot: U256::from(100),
            participant_count: 2,
            settlement: Settlement::Refunded {
                reason: RefundReason::DrawWindowExpired,
            },
            settled_at: 1_000 + block_number,
            block_number,
            transaction_hash: tx(round_id),
        }
    }

    fn round(round_id: u64, pot: u64) -> RoundView {
        RoundView {
            round_id,
            state: RoundState::Betting,
            start_time: 10,
            end_time: 70,
            min_draw_time: 80,
            max_draw_time: 200,
            total_pot: U256::from(pot),
            participant_count: 1,
            winner: None,
            prize: U256::ZERO,
            commission: U256::ZERO,
            seed_commitment: Some(B256::repeat_byte(1)),
            revealed_seed: None,
        }
    }

    fn head(number: u64) -> ChainHead {
        ChainHead {
            number,
            hash: B256::from(U256::from(number)),
            timestamp: 1_000 + number,
        }
    }

    fn config(min_participants: u64) -> ConfigView {
        ConfigView {
            publisher: Address::repeat_byte(1),
            operator: Some(Address::repeat_byte(2)),
            commission_bps: 500,
            min_bet_amount: U256::from(10),
            betting_duration: 60,
            min_draw_delay_after_end: 10,
            max_draw_delay_after_end: 130,
            min_end_time_extension: 30,
            min_participants,
            operator_delay: 60,
            operator_pcr0: Some("11".repeat(48)),
            pending_operator: None,
        }
    }

    fn participants(amounts: &[u64]) -> ParticipantChange {
        let stakes = amounts
            .iter()
            .zip(1u8..)
            .map(|(a, i)| abi::state::Stake {
                address: Address::repeat_byte(i),
                amount: U256::from(*a),
            })
            .collect();
        ParticipantChange::Reset(abi::state::ParticipantList::new(1, stakes).unwrap())
    }

    fn bet(player: u8, stake: u64) -> ParticipantChange {
        let mut list = abi::state::ParticipantList::empty(1);
        let delta = list
            .bet(1, Address::repeat_byte(player), U256::from(stake))
            .unwrap();
        ParticipantChange::Stake(delta)
    }

    fn drain(rx: &mut broadcast::Receiver<StateEvent>) -> Vec<StateEvent> {
        let mut events = Vec::new();
        loop {
            match rx.try_recv() {
                Ok(e) => events.push(e),
                Err(TryRecvError::Empty) => return events,
                Err(e) => panic!("unexpected {e:?}"),
            }
        }
    }

    fn activity_keys(s: &Snapshot) -> Vec<(u64, u64)> {
        s.activities
            .iter()
            .map(|a| (a.block_number, a.log_index))
            .collect()
    }

    fn history_rounds(s: &Snapshot) -> Vec<u64> {
        s.history.iter().map(|h| h.round_id).collect()
    }

    #[test]
    fn starts_empty_at_seq_zero() {
        let s = store(StateLimits::default());
        let snap = s.snapshot();
        assert_eq!(snap.seq, 0);
        assert_eq!(s.seq(), 0);
        assert_eq!(snap.contract, CONTRACT);
        assert_eq!(snap.chain_id, 31337);
        assert_eq!(s.operator(), OperatorStatus::Starting);
        assert_eq!(s.round(), None);
        assert_eq!(s.head(), None);
        assert_eq!(s.config(), None);
        assert!(snap.participants.is_empty() && snap.history.is_empty());
        assert!(snap.activities.is_empty());
        assert_eq!(s.limits(), StateLimits::default());
    }

    #[test]
    fn seq_counts_events_and_unchanged_values_emit_nothing() {
        let s = store(StateLimits::default());
        let (_, mut rx) = s.subscribe();

        s.set_head(head(1));
        s.set_head(head(1));
        s.set_config(config(2));
        s.set_config(config(2));
        s.set_round(round(1, 10));
        s.set_round(round(1, 10));
        s.update_participants(participants(&[10]));
        s.update_participants(participants(&[10]));
        s.set_operator(OperatorStatus::Idle);
        s.set_operator(OperatorStatus::Idle);
        s.push_history(entry(1, 5));
        s.push_history(entry(1, 5));
        s.push_activity(activity(5, 0, 1));
        s.push_activity(activity(5, 0, 1));
        // Starting is the initial status: setting it again is no change either.
        let fresh = store(StateLimits::default());
        fresh.set_operator(OperatorStatus::Starting);
        assert_eq!(fresh.seq(), 0);

        let events = drain(&mut rx);
        assert_eq!(
            events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            (1..=7).collect::<Vec<_>>()
        );
        assert_eq!(s.seq(), 7);
        assert_eq!(s.snapshot().seq, 7);

        // A real change emits again, with the next number.
        s.set_round(round(1, 20));
        s.update_participants(participants(&[10, 10]));
        let events = drain(&mut rx);
        assert_eq!(events.len(), 2);
        assert_eq!(events[0].seq, 8);
        assert_eq!(events[0].change, StateChange::RoundUpdate(round(1, 20)));
        assert_eq!(events[1].seq, 9);
        assert_eq!(s.round(), Some(round(1, 20)));
        assert_eq!(s.head(), Some(head(1)));
        assert_eq!(s.operator(), OperatorStatus::Idle);
    }

    #[test]
    fn subscribe_then_fold_reproduces_the_store() {
        let limits = StateLimits {
            history: 3,
            activities: 4,
        };
        let s = store(limits);
        s.set_config(config(2));
        s.set_head(head(5));
        s.push_activity(activity(5, 0, 1));
        s.push_history(entry(1, 5));

        let (mut mirror, mut rx) = s.subscribe();
        assert_eq!(mirror, s.snapshot());
        assert_eq!(mirror.seq, 4);

        s.set_round(round(2, 10));
        s.update_participants(participants(&[10]));
        s.update_participants(bet(2, 5)); // a new player: a delta
        s.update_participants(bet(1, 25)); // a top-up
        s.update_participants(bet(1, 25)); // the same bet again: no change
        s.set_round(round(2, 10)); // no change
        s.set_operator(OperatorStatus::WaitingForDrawWindow {
            round_id: 2,
            min_draw_time: 80,
        });
        for (block, log) in [(7, 1), (6, 0), (7, 0), (3, 2), (8, 0), (2, 0)] {
            s.push_activity(activity(block, log, block * 10 + log));
        }
        s.push_history(entry(3, 8));
        s.push_history(entry(2, 7));
        s.push_history(entry(0, 2)); // older than all: changes nothing once full
        s.set_head(head(8));
        s.rollback(8);
        s.set_head(head(7));
        s.set_config(config(3));

        let events = drain(&mut rx);
        for (i, event) in events.iter().enumerate() {
            assert_eq!(event.seq, mirror.seq + 1, "event {i} follows the last");
            apply(&mut mirror, event, &limits).unwrap();
        }
        assert_eq!(mirror, s.snapshot());
        assert_eq!(mirror.seq, s.seq());
    }

    #[test]
    fn apply_refuses_gaps_and_repeats() {
        let limits = StateLimits::default();
        let s = store(limits);
        let (mut mirror, mut rx) = s.subscribe();
        s.set_head(head(1));
        s.set_head(head(2));
        s.set_head(head(3));
        let events = drain(&mut rx);

        apply(&mut mirror, &events[0], &limits).unwrap();
        let before = mirror.clone();
        assert_eq!(
            apply(&mut mirror, &events[2], &limits),
            Err(OutOfSequence {
                snapshot_seq: 1,
                event_seq: 3
            })
        );
        assert_eq!(
            apply(&mut mirror, &events[0], &limits),
            Err(OutOfSequence {
                snapshot_seq: 1,
                event_seq: 1
            })
        );
        assert_eq!(mirror, before, "a refused event changes nothing");
    }

    #[test]
    fn activities_stay_sorted_bounded_and_deduplicated() {
        let s = store(StateLimits {
            history: 50,
            activities: 3,
        });
        // Live events first, then a back-fill of older ones, then one in between.
        s.push_activity(activity(10, 1, 1));
        s.push_activity(activity(10, 0, 2));
        s.push_activity(activity(4, 0, 3));
        assert_eq!(activity_keys(&s.snapshot()), [(10, 1), (10, 0), (4, 0)]);
        s.push_activity(activity(7, 3, 4));
        assert_eq!(activity_keys(&s.snapshot()), [(10, 1), (10, 0), (7, 3)]);

        // Older than everything kept in a full feed: dropped, and no event.
        let seq = s.seq();
        s.push_activity(activity(2, 0, 5));
        assert_eq!(s.seq(), seq);
        assert_eq!(s.snapshot().activities.len(), 3);

        // The same (tx, log index) with new content replaces, never adds.
        let mut updated = activity(10, 0, 2);
        updated.timestamp = 99;
        s.push_activity(updated.clone());
        assert_eq!(s.seq(), seq + 1);
        let snap = s.snapshot();
        assert_eq!(activity_keys(&snap), [(10, 1), (10, 0), (7, 3)]);
        assert_eq!(snap.activities[1], updated);

        // Newer than everything: the oldest falls off.
        s.push_activity(activity(11, 0, 6));
        assert_eq!(activity_keys(&s.snapshot()), [(11, 0), (10, 1), (10, 0)]);
    }

    #[test]
    fn history_stays_sorted_bounded_and_deduplicated() {
        let s = store(StateLimits {
            history: 3,
            activities: 500,
        });
        for id in [2, 5, 1, 4, 3] {
            s.push_history(entry(id, 10 + id));
        }
        assert_eq!(history_rounds(&s.snapshot()), [5, 4, 3]);

        let seq = s.seq();
        s.push_history(entry(1, 11)); // older than all in a full list
        assert_eq!(s.seq(), seq);

        // A round settled again (e.g. re-read after a reorg) replaces its entry.
        let mut again = entry(4, 20);
        again.settlement = Settlement::Completed {
            winner: Address::repeat_byte(9),
            prize: U256::from(95),
            commission: U256::from(5),
            seed: B256::repeat_byte(3),
        };
        s.push_history(again.clone());
        let snap = s.snapshot();
        assert_eq!(history_rounds(&snap), [5, 4, 3]);
        assert_eq!(snap.history[1], again);
        assert_eq!(s.seq(), seq + 1);
    }

    #[test]
    fn rollback_drops_reorged_entries_and_always_emits() {
        let s = store(StateLimits::default());
        s.push_activity(activity(10, 0, 1));
        s.push_activity(activity(11, 0, 2));
        s.push_activity(activity(12, 0, 3));
        s.push_history(entry(1, 10));
        s.push_history(entry(2, 12));
        s.set_round(round(3, 0));
        let (_, mut rx) = s.subscribe();

        s.rollback(11);
        let snap = s.snapshot();
        assert_eq!(activity_keys(&snap), [(10, 0)]);
        assert_eq!(history_rounds(&snap), [1]);
        assert_eq!(snap.round, Some(round(3, 0)), "re-read by the caller");

        // Nothing left to drop: still one event, so subscribers know to re-check.
        s.rollback(11);
        let events = drain(&mut rx);
        assert_eq!(events.len(), 2);
        for (event, seq) in events.iter().zip([7, 8]) {
            assert_eq!(event.seq, seq);
            assert_eq!(event.change, StateChange::Reorged { from_block: 11 });
        }

        // The re-read entries come back as ordinary events.
        s.push_activity(activity(11, 0, 4));
        assert_eq!(activity_keys(&s.snapshot()), [(11, 0), (10, 0)]);
    }

    #[test]
    fn a_lagging_subscriber_is_told_and_resubscribes() {
        let s = Store::with_capacity(CONTRACT, 1, StateLimits::default(), 2);
        let (_, mut slow) = s.subscribe();
        for n in 1..=5 {
            s.set_head(head(n));
        }
        assert_eq!(slow.try_recv(), Err(TryRecvError::Lagged(3)));

        let (snap, mut fresh) = s.subscribe();
        assert_eq!(snap.seq, 5);
        assert_eq!(snap.head, Some(head(5)));
        s.set_head(head(6));
        assert_eq!(fresh.try_recv().unwrap().seq, 6);
    }

    #[test]
    fn concurrent_writers_give_gapless_seq_and_atomic_subscriptions() {
        const WRITERS: u64 = 4;
        const PER_WRITER: u64 = 250;
        let limits = StateLimits {
            history: 50,
            activities: 10_000,
        };
        // Big enough that neither subscriber lags: this test is about ordering.
        let s = Store::with_capacity(CONTRACT, 1, limits, 4_096);
        let total = WRITERS * PER_WRITER;
        let (mut early, mut early_rx) = s.subscribe();
        let start = Barrier::new(usize::try_from(WRITERS).unwrap() + 1);

        let (late, late_events) = thread::scope(|scope| {
            for w in 0..WRITERS {
                let (s, start) = (s.clone(), &start);
                scope.spawn(move || {
                    start.wait();
                    for i in 0..PER_WRITER {
                        // Every write is a change: distinct activities, and rounds
                        // that differ from whatever round came before.
                        let n = w * PER_WRITER + i;
                        match i % 3 {
                            0 => s.push_activity(activity(n, w, n)),
                            1 => s.set_round(round(1, n + 1_000_000)),
                            _ => s.push_activity(activity(n, w + 100, n + total)),
                        }
                    }
                });
            }
            // A subscriber that joins while the writers are busy.
            let late = scope.spawn(|| {
                start.wait();
                thread::yield_now();
                let (snap, mut rx) = s.subscribe();
                let mut events = Vec::new();
                let mut seq = snap.seq;
                while seq < total {
                    let event = rx.blocking_recv().unwrap();
                    seq = event.seq;
                    events.push(event);
                }
                (snap, events)
            });
            late.join().unwrap()
        });

        assert_eq!(s.seq(), total);
        let final_state = s.snapshot();

        let early_events = drain(&mut early_rx);
        assert_eq!(
            early_events.iter().map(|e| e.seq).collect::<Vec<_>>(),
            (1..=total).collect::<Vec<_>>()
        );
        for event in &early_events {
            apply(&mut early, event, &limits).unwrap();
        }
        assert_eq!(early, final_state);

        let mut late_state = late;
        for event in &late_events {
            apply(&mut late_state, event, &limits).unwrap();
        }
        assert_eq!(late_state, final_state);
    }
}
