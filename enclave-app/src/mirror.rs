//! The event manager: keeps the [`Store`] a faithful mirror of the contract.
//!
//! One loop driven by new blocks. At start it back-fills the contract's logs from a
//! configurable look-back and reads the views. Then each tick costs one HTTP request
//! (the latest block and the new logs in one JSON-RPC batch, with the views added
//! when the slow reconciliation is due); the views are read at the new block (one
//! more batched request) only when logs arrived. The cost per block does not grow
//! with the number of players: the participant list is built from `BetPlaced` logs
//! ([`crate::participants`]), each bet reaching the store as one O(1) delta, and is
//! only checked against the round's totals; the full list is read (page by page,
//! each page's gas bounded) only when the two disagree, and a failure of that read
//! never stops the mirror.
//!
//! With a WebSocket upstream the same steps run on pushed heads and logs instead of a
//! poll ([`Mirror::run_push`], [`PushSource`]): a bet is applied the moment its log
//! arrives, an idle block costs nothing, and polling is the fallback while the
//! subscriptions are down (see the `push` module's docs).
//!
//! Reorgs: the hashes of the blocks the mirror processed are remembered. A new head
//! whose parent is not the block we saw at that height, a head at or below the last
//! one with another hash, or a log whose block hash differs from the one we saw, all
//! mean a reorg: the mirror finds the fork point, rolls the store back to it and
//! re-reads logs and views from there.

use std::{
    collections::BTreeMap,
    time::{Duration, Instant},
};

use abi::{
    contract::{Lottery, RefundReason},
    state::{Activity, ActivityKind, HistoryEntry, Settlement},
};
use alloy::{
    eips::BlockNumberOrTag, primitives::B256, rpc::types::Log, sol_types::SolEventInterface,
};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use crate::{
    chain::{BlockRef, ChainClient, ChainError, ContractState, Polled},
    participants::Participants,
    store::Store,
};

mod push;
pub use push::{PushSource, RESUBSCRIBE_FIRST, RESUBSCRIBE_MAX, RESUBSCRIBE_REFUSED, STALL_AFTER};

/// How many recent block hashes are remembered for reorg detection. Deeper reorgs
/// than this do not happen on chains with finality (Ethereum finalises in about 64
/// blocks); past it the mirror re-reads from the oldest hash it knows.
const TRACKED_BLOCKS: usize = 128;

/// Settings of the event manager.
#[derive(Debug, Clone)]
pub struct MirrorSettings {
    /// How often to ask for a new block.
    pub poll_interval: Duration,
    /// How many blocks of logs to back-fill at start.
    pub lookback_blocks: u64,
    /// The largest block range of one `eth_getLogs`.
    pub log_chunk_blocks: u64,
    /// How often to re-read the views even when no log says anything changed.
    pub reconcile_interval: Duration,
}

/// What one tick found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tick {
    /// No new block.
    Idle,
    /// New blocks were processed.
    Advanced {
        /// Contract logs applied.
        logs: usize,
    },
    /// A reorg was handled; blocks from `from_block` on were re-read.
    Reorged {
        /// The first block that was replaced.
        from_block: u64,
    },
}

/// The event manager.
pub struct Mirror {
    chain: ChainClient,
    store: Store,
    settings: MirrorSettings,
    /// Hashes of processed blocks, by number (bounded by [`TRACKED_BLOCKS`]).
    seen: BTreeMap<u64, B256>,
    last: Option<BlockRef>,
    last_views: Instant,
    /// The current round's participants, from `BetPlaced` logs.
    participants: Participants,
    /// The views were read since the list was last checked against them.
    check_participants: bool,
    /// When a full read of the list last failed: retried once a reconciliation
    /// interval, not at every bet.
    full_read_failed: Option<Instant>,
}

impl Mirror {
    /// A mirror of `chain`'s contract into `store`.
    pub fn new(chain: ChainClient, store: Store, settings: MirrorSettings) -> Self {
        Self {
            chain,
            store,
            settings,
            seen: BTreeMap::new(),
            last: None,
            last_views: Instant::now(),
            participants: Participants::default(),
            check_participants: false,
            full_read_failed: None,
        }
    }

    /// The last block processed.
    pub const fn last(&self) -> Option<BlockRef> {
        self.last
    }

    /// Back-fills logs from the look-back and reads the views at the current head.
    ///
    /// # Errors
    /// On RPC failure (after the client's retries).
    pub async fn start(&mut self) -> Result<BlockRef, ChainError> {
        let head = self.chain.head().await?;
        let from = head.number.saturating_sub(self.settings.lookback_blocks);
        let logs = self
            .chain
            .logs(from, head.number, self.settings.log_chunk_blocks)
            .await?;
        info!(target: "mirror", from, to = head.number, logs = logs.len(), "back-filled");
        self.apply_logs(&logs, head.timestamp);
        self.read_views(head.number).await?;
        self.sync_participants(head.number).await;
        self.advance_to(head);
        Ok(head)
    }

    /// Processes whatever happened since the last tick.
    ///
    /// # Errors
    /// On RPC failure (after the client's retries); the next tick starts over from
    /// the last processed block, so nothing is missed.
    pub async fn tick(&mut self) -> Result<Tick, ChainError> {
        let Some(last) = self.last else {
            self.start().await?;
            return Ok(Tick::Advanced { logs: 0 });
        };
        // Logs from the last processed block on (inclusive): their block hashes tell
        // whether that block is still canonical. A due reconciliation rides along.
        let reconcile = self.reconcile_due();
        let Polled { head, logs, views } = self.chain.poll(last.number, reconcile).await?;
        if head.hash == last.hash {
            if let Some(views) = views {
                self.set_views(views);
                self.sync_participants(head.number).await;
            }
            return Ok(Tick::Idle);
        }
        let logs = match logs {
            Some(logs) => logs,
            // The node refused the range: too wide after a long gap (fetch it in
            // bounded chunks), or above its head (the chain went back: a reorg).
            None if head.number > last.number => {
                self.chain
                    .logs(last.number, head.number, self.settings.log_chunk_blocks)
                    .await?
            }
            None => return self.recover_from_reorg(head).await,
        };
        if self.reorged(&head, &logs) {
            return self.recover_from_reorg(head).await;
        }
        let new: Vec<Log> = logs
            .into_iter()
            .filter(|l| l.block_number.is_some_and(|n| n > last.number))
            .collect();
        self.apply_logs(&new, head.timestamp);
        if !new.is_empty() || self.operator_change_due(head.timestamp) {
            self.read_views(head.number).await?;
        } else if let Some(views) = views {
            self.set_views(views);
        }
        self.sync_participants(head.number).await;
        self.advance_to(head);
        Ok(Tick::Advanced { logs: new.len() })
    }

    /// Runs ticks every poll interval until `shutdown`. Errors are logged and the loop
    /// goes on: a node that is down is retried on the next tick.
    ///
    /// The poll interval sets the cost: one HTTP request per tick when idle. On chains
    /// with slow blocks, set it near the block time; pacing polls by the observed
    /// block interval was tried and removed, because on-demand chains (automine) look
    /// regular by timestamp and the pacing then delayed events by most of a block.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut interval = tokio::time::interval(self.settings.poll_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut failing = false;
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = interval.tick() => {}
            }
            match self.tick().await {
                Ok(outcome) => {
                    if failing {
                        info!(target: "mirror", "chain reachable again");
                        failing = false;
                    }
                    if let Tick::Reorged { from_block } = outcome {
                        warn!(target: "mirror", from_block, "reorg handled");
                    }
                }
                Err(e) if !failing => {
                    warn!(target: "mirror", error = %e, "tick failed; retrying every poll interval");
                    failing = true;
                }
                Err(e) => debug!(target: "mirror", error = %e, "tick failed again"),
            }
        }
    }

    /// Whether an announced operator change may have taken effect by chain time `now`.
    /// No log marks that moment (the contract applies a due change lazily, and its
    /// views show it at once), so the mirror re-reads the views when it comes.
    fn operator_change_due(&self, now: u64) -> bool {
        self.store
            .config()
            .and_then(|c| c.pending_operator)
            .is_some_and(|p| now >= p.effective_at)
            && self
                .store
                .round()
                .is_some_and(|r| r.state != abi::contract::RoundState::Betting)
    }

    fn reconcile_due(&self) -> bool {
        self.last_views.elapsed() >= self.settings.reconcile_interval
    }

    /// Whether `head` and the logs of the last processed block contradict what we saw.
    fn reorged(&self, head: &BlockRef, logs: &[Log]) -> bool {
        let Some(last) = self.last else { return false };
        if head.number <= last.number {
            return true;
        }
        if self
            .seen
            .get(&(head.number - 1))
            .is_some_and(|seen| *seen != head.parent_hash)
        {
            return true;
        }
        logs.iter().any(|l| match (l.block_number, l.block_hash) {
            (Some(n), Some(h)) => self.seen.get(&n).is_some_and(|seen| *seen != h),
            _ => false,
        })
    }

    /// Walks back to the newest block we saw that is still canonical, rolls the store
    /// back past it and re-reads everything after it.
    async fn recover_from_reorg(&mut self, head: BlockRef) -> Result<Tick, ChainError> {
        let mut fork = None;
        let heights: Vec<(u64, B256)> = self.seen.iter().rev().map(|(n, h)| (*n, *h)).collect();
        for (number, hash) in heights {
            if number > head.number {
                continue;
            }
            let canonical = self.chain.header(BlockNumberOrTag::Number(number)).await?;
            if canonical.is_some_and(|b| b.hash == hash) {
                fork = Some(number);
                break;
            }
        }
        // Nothing we saw survived: start over from the look-back.
        let from_block = fork.map_or_else(
            || head.number.saturating_sub(self.settings.lookback_blocks),
            |n| n + 1,
        );
        warn!(target: "mirror", from_block, head = head.number, "reorg: re-reading from the fork point");
        self.seen.retain(|n, _| *n < from_block);
        self.store.rollback(from_block);
        // Bets past the fork may be gone: the list is read in full again.
        self.participants.invalidate();
        let logs = self
            .chain
            .logs(from_block, head.number, self.settings.log_chunk_blocks)
            .await?;
        self.apply_logs(&logs, head.timestamp);
        self.read_views(head.number).await?;
        self.sync_participants(head.number).await;
        self.advance_to(head);
        Ok(Tick::Reorged { from_block })
    }

    fn advance_to(&mut self, head: BlockRef) {
        self.seen.insert(head.number, head.hash);
        while self.seen.len() > TRACKED_BLOCKS {
            self.seen.pop_first();
        }
        self.last = Some(head);
        self.store.set_head(head.head());
    }

    /// The O(1) views (configuration and round) at `block`.
    async fn read_views(&mut self, block: u64) -> Result<(), ChainError> {
        let state = self.chain.round_state(block).await?;
        self.set_views(state);
        Ok(())
    }

    fn set_views(&mut self, state: ContractState) {
        if let Some(list) = state.participants
            && let Some(change) = self.participants.replace(list)
        {
            self.store.update_participants(change);
        }
        self.store.set_config(state.config);
        self.store.set_round(state.round);
        self.check_participants = true;
        self.last_views = Instant::now();
    }

    /// Checks the log-built participant list against the round's totals just read;
    /// when they disagree (the round began before the look-back, a reorg, a missed
    /// log) reads the full list at `block`, page by page (each page's gas bounded). A
    /// failed read leaves the list as it is and is retried at the next
    /// reconciliation, not at every bet. Each bet already reached the store as a
    /// delta ([`Self::apply_logs`]); only a reset of the list is published here.
    async fn sync_participants(&mut self, block: u64) {
        let retry_due = self
            .full_read_failed
            .is_none_or(|at| at.elapsed() >= self.settings.reconcile_interval);
        if !std::mem::take(&mut self.check_participants) {
            return;
        }
        let Some(round) = self.store.round() else {
            return;
        };
        let (agrees, reset) = self.participants.check(&round);
        if let Some(change) = reset {
            self.store.update_participants(change);
        }
        if agrees || !retry_due {
            return;
        }
        match self.chain.contract_state(block).await {
            Ok(full) => {
                self.full_read_failed = None;
                info!(target: "mirror", round_id = full.round.round_id, participants = full.round.participant_count, block, "participant list read in full");
                if let Some(change) = full.participants.and_then(|l| self.participants.replace(l)) {
                    self.store.update_participants(change);
                }
            }
            Err(e) => {
                self.full_read_failed = Some(Instant::now());
                warn!(target: "mirror", round_id = round.round_id, block, error = %e, "the full participant list could not be read; keeping the one built from logs");
            }
        }
    }

    fn apply_logs(&mut self, logs: &[Log], fallback_time: u64) {
        for log in logs {
            if log.removed {
                continue;
            }
            let (Some(block_number), Some(tx), Some(log_index)) =
                (log.block_number, log.transaction_hash, log.log_index)
            else {
                continue;
            };
            let timestamp = log.block_timestamp.unwrap_or(fallback_time);
            let event = match Lottery::LotteryEvents::decode_log(&log.inner) {
                Ok(e) => e.data,
                Err(e) => {
                    warn!(target: "mirror", %tx, log_index, error = %e, "undecodable contract log");
                    continue;
                }
            };
            if let Lottery::LotteryEvents::BetPlaced(bet) = &event
                && let Some(change) =
                    self.participants
                        .bet(bet.roundId.saturating_to(), bet.player, bet.newTotal)
            {
                // At once, as the log arrives: one O(1) event per bet.
                self.store.update_participants(change);
            }
            let Some((round_id, kind)) = activity_of(&event) else {
                continue;
            };
            if let Some(entry) = history_of(&event, timestamp, block_number, tx) {
                self.store.push_history(entry);
            }
            self.store.push_activity(Activity {
                round_id,
                kind,
                timestamp,
                block_number,
                transaction_hash: tx,
                log_index,
            });
        }
    }
}

/// The activity-feed entry of a contract event, with its round (0 when it has none).
fn activity_of(event: &Lottery::LotteryEvents) -> Option<(u64, ActivityKind)> {
    use Lottery::LotteryEvents as E;
    let round = |id: alloy::primitives::U256| id.saturating_to::<u64>();
    let config = |setting: &str| {
        Some((
            0,
            ActivityKind::ConfigChanged {
                setting: setting.to_owned(),
            },
        ))
    };
    match event {
        E::RoundCreated(e) => Some((round(e.roundId), ActivityKind::RoundCreated)),
        E::SeedCommitted(e) => Some((round(e.roundId), ActivityKind::SeedCommitted)),
        // Only the opening of betting is news; DRAWING and the settled states come
        // with their own events.
        E::RoundStateChanged(e) if e.newState == 1 => {
            Some((round(e.roundId), ActivityKind::BettingStarted))
        }
        E::RoundStateChanged(_) | E::PrizeDeferred(_) => None,
        E::BetPlaced(e) => Some((
            round(e.roundId),
            ActivityKind::Bet {
                player: e.player,
                amount: e.amount,
                new_total: e.newTotal,
            },
        )),
        E::EndTimeExtended(e) => Some((
            round(e.roundId),
            ActivityKind::EndTimeExtended {
                new_end_time: e.newEndTime.saturating_to(),
            },
        )),
        E::RoundCompleted(e) => Some((
            round(e.roundId),
            ActivityKind::RoundCompleted {
                winner: e.winner,
                prize: e.prize,
            },
        )),
        E::RoundRefunded(e) => RefundReason::try_from(e.reason)
            .ok()
            .map(|reason| (round(e.roundId), ActivityKind::RoundRefunded { reason })),
        E::Withdrawn(e) => Some((
            0,
            ActivityKind::Withdrawn {
                account: e.account,
                amount: e.amount,
            },
        )),
        E::MinBetAmountUpdated(_) => config("minBetAmount"),
        E::BettingDurationUpdated(_) => config("bettingDuration"),
        E::MinParticipantsUpdated(_) => config("minParticipants"),
        E::OperatorUpdated(_) => config("operator"),
        E::OperatorChangeAnnounced(_) => config("operatorAnnounced"),
        E::OperatorChangeCancelled(_) => config("operatorCancelled"),
    }
}

/// The history entry of a settling event.
fn history_of(
    event: &Lottery::LotteryEvents,
    settled_at: u64,
    block_number: u64,
    transaction_hash: alloy::primitives::TxHash,
) -> Option<HistoryEntry> {
    use Lottery::LotteryEvents as E;
    let (round_id, total_pot, participant_count, settlement) = match event {
        E::RoundCompleted(e) => (
            e.roundId,
            e.totalPot,
            e.participantCount,
            Settlement::Completed {
                winner: e.winner,
                prize: e.prize,
                commission: e.commission,
                seed: e.seed,
            },
        ),
        E::RoundRefunded(e) => (
            e.roundId,
            e.totalRefunded,
            e.participantCount,
            Settlement::Refunded {
                reason: RefundReason::try_from(e.reason).ok()?,
            },
        ),
        _ => return None,
    };
    Some(HistoryEntry {
        round_id: round_id.saturating_to(),
        total_pot,
        participant_count: participant_count.saturating_to(),
        settlement,
        settled_at,
        block_number,
        transaction_hash,
    })
}
