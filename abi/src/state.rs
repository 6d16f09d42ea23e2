//! The mirrored lottery state and its change events: what enclave-app's store holds,
//! what the control channel streams to host-proxy, and what the web API and the
//! WebSocket feed serve. Defined once, here.
//!
//! A subscriber first takes a [`Snapshot`] (which carries the sequence number it is
//! current as of), then applies [`StateEvent`]s with strictly increasing `seq`; a gap
//! means it missed something and must take a new snapshot.

use alloy::primitives::{Address, B256, TxHash, U256};
use serde::{Deserialize, Serialize};

pub use crate::stakes::{DuplicateParticipant, ParticipantList, Stake, StakeDelta};
use crate::{
    contract::RefundReason,
    views::{ConfigView, RoundView},
    wire::{checksummed, hash, wei},
};

/// The latest block the mirror has processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ChainHead {
    /// Block number.
    pub number: u64,
    /// Block hash.
    #[serde(with = "hash")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub hash: B256,
    /// Block timestamp (chain time, seconds).
    pub timestamp: u64,
}

/// How a settled round ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "outcome"
)]
pub enum Settlement {
    /// A winner was drawn.
    Completed {
        /// The winner.
        #[serde(with = "checksummed")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        winner: Address,
        /// Paid to the winner, in wei.
        #[serde(with = "wei")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        prize: U256,
        /// Credited to the publisher, in wei.
        #[serde(with = "wei")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        commission: U256,
        /// The revealed seed: anyone can recompute the winner from it.
        #[serde(with = "hash")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        seed: B256,
    },
    /// Every stake was returned (withdrawable).
    Refunded {
        /// Why.
        reason: RefundReason,
    },
}

/// One settled round in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// The round.
    pub round_id: u64,
    /// Sum of all stakes, in wei.
    #[serde(with = "wei")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub total_pot: U256,
    /// Distinct players.
    pub participant_count: u64,
    /// Winner and amounts, or the refund reason.
    #[serde(flatten)]
    pub settlement: Settlement,
    /// Chain time of the settling block.
    pub settled_at: u64,
    /// The settling block.
    pub block_number: u64,
    /// The settling transaction.
    #[serde(with = "hash")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub transaction_hash: TxHash,
}

/// What happened, for the activity feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "kind"
)]
pub enum ActivityKind {
    /// A round opened for commitments.
    RoundCreated,
    /// The operator committed the round's seed.
    SeedCommitted,
    /// Betting opened.
    BettingStarted,
    /// A bet.
    Bet {
        /// The player.
        #[serde(with = "checksummed")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        player: Address,
        /// This bet, in wei.
        #[serde(with = "wei")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        amount: U256,
        /// The player's stake in the round after it, in wei.
        #[serde(with = "wei")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        new_total: U256,
    },
    /// Betting was extended.
    EndTimeExtended {
        /// The new end of betting.
        new_end_time: u64,
    },
    /// The round was drawn.
    RoundCompleted {
        /// The winner.
        #[serde(with = "checksummed")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        winner: Address,
        /// Paid to the winner, in wei.
        #[serde(with = "wei")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        prize: U256,
    },
    /// The round was refunded.
    RoundRefunded {
        /// Why.
        reason: RefundReason,
    },
    /// A payout or refund was withdrawn.
    Withdrawn {
        /// Who withdrew.
        #[serde(with = "checksummed")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        account: Address,
        /// How much, in wei.
        #[serde(with = "wei")]
        #[cfg_attr(feature = "schema", schemars(with = "String"))]
        amount: U256,
    },
    /// A setting changed (minimum bet, betting duration, minimum participants, operator).
    ConfigChanged {
        /// Which setting, as the contract's event names it.
        setting: String,
    },
}

/// One entry of the activity feed: one contract event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Activity {
    /// The round it belongs to (0 for round-less events such as withdrawals).
    pub round_id: u64,
    /// What happened.
    #[serde(flatten)]
    pub kind: ActivityKind,
    /// Chain time of its block.
    pub timestamp: u64,
    /// Its block.
    pub block_number: u64,
    /// Its transaction.
    #[serde(with = "hash")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub transaction_hash: TxHash,
    /// Its position in the block, for ordering and de-duplication.
    pub log_index: u64,
}

/// What the passive operator is doing, for people and for `/api/operator`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    tag = "status"
)]
pub enum OperatorStatus {
    /// Starting up: the mirror has not caught up with the chain yet.
    Starting,
    /// Cannot act: no key, or the key is not the contract's operator.
    ReadOnly {
        /// Why, in a sentence.
        reason: String,
        /// The operator key this process holds, if any.
        #[serde(with = "checksummed::option")]
        #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
        key_address: Option<Address>,
        /// The contract's operator, if set.
        #[serde(with = "checksummed::option")]
        #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
        contract_operator: Option<Address>,
    },
    /// Nothing to do until the chain moves.
    Idle,
    /// Committing the seed of a new round.
    Committing {
        /// The round.
        round_id: u64,
        /// The transaction, once sent.
        #[serde(with = "hash::option")]
        #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
        transaction_hash: Option<TxHash>,
    },
    /// Betting is open or the draw window has not opened yet.
    WaitingForDrawWindow {
        /// The round.
        round_id: u64,
        /// Chain time when the draw window opens.
        min_draw_time: u64,
    },
    /// Drawing the round.
    Drawing {
        /// The round.
        round_id: u64,
        /// The transaction, once sent.
        #[serde(with = "hash::option")]
        #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
        transaction_hash: Option<TxHash>,
    },
    /// Refunding the round.
    Refunding {
        /// The round.
        round_id: u64,
        /// Why, in a sentence (for example: the seed was lost in a restart).
        reason: String,
        /// The transaction, once sent.
        #[serde(with = "hash::option")]
        #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
        transaction_hash: Option<TxHash>,
    },
    /// An action is due, but the RPC upstreams do not report the same facts (head
    /// block, round, operator); nothing is signed until a quorum agrees.
    AwaitingAgreement {
        /// The round.
        round_id: u64,
        /// The upstream that disagrees or did not answer (host and port).
        upstream: String,
        /// The fact it reports differently (`head.timestamp`, `round.endTime`, …).
        fact: String,
        /// The whole finding, in a sentence.
        reason: String,
    },
    /// The last transaction for this action reverted (or its simulation did): it is not
    /// sent again until the chain state it was decided on changes.
    Held {
        /// The round.
        round_id: u64,
        /// The action held (`commit`, `draw`, `refund`, `close-expired`).
        action: String,
        /// Why, in a sentence.
        reason: String,
    },
    /// Something failed; the operator keeps retrying while that can still help.
    Error {
        /// What failed, in a sentence.
        reason: String,
    },
}

/// The whole mirrored state at one sequence number: what the control channel carries
/// to host-proxy. Browsers get a bounded view of it ([`crate::api::FeedSnapshot`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Snapshot {
    /// The sequence number of the last event folded into this snapshot (0 = none).
    pub seq: u64,
    /// The contract mirrored.
    #[serde(with = "checksummed")]
    pub contract: Address,
    /// Its chain.
    pub chain_id: u64,
    /// The latest processed block, once known.
    pub head: Option<ChainHead>,
    /// The contract's configuration, once read.
    pub config: Option<ConfigView>,
    /// The current round, once read.
    pub round: Option<RoundView>,
    /// Participants of the current round, in order of their first bet.
    pub participants: ParticipantList,
    /// Settled rounds, newest first (bounded).
    pub history: Vec<HistoryEntry>,
    /// Recent contract events, newest first (bounded).
    pub activities: Vec<Activity>,
    /// What the operator is doing.
    pub operator: OperatorStatus,
}

/// One change to the state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(
    rename_all = "snake_case",
    rename_all_fields = "camelCase",
    tag = "type",
    content = "data"
)]
pub enum StateChange {
    /// The current round changed (a new round, a bet, a state change, new times).
    RoundUpdate(RoundView),
    /// A bet: one player's new stake, the pot and the count (O(1) bytes whatever the
    /// round's size).
    StakeUpdate(StakeDelta),
    /// The participant list was replaced: a new round (empty), or a full re-read after
    /// a start, a reorg or a mismatch. Carried whole on the control channel only; the
    /// WebSocket feed sends a bounded summary in its place
    /// ([`crate::api::FeedNotice::ParticipantsReset`]).
    #[cfg_attr(feature = "schema", schemars(skip))]
    ParticipantsReset(ParticipantList),
    /// A round was settled.
    HistoryUpdate(HistoryEntry),
    /// The configuration changed.
    ConfigUpdate(ConfigView),
    /// A contract event for the feed.
    Activity(Activity),
    /// The operator's status changed.
    OperatorUpdate(OperatorStatus),
    /// A new block was processed.
    HeadUpdate(ChainHead),
    /// A reorganisation undid blocks from `fromBlock` on: history and activity entries
    /// from those blocks were removed. A subscriber that keeps lists takes a new
    /// snapshot; the re-read state follows as ordinary events.
    Reorged {
        /// The first block that is no longer canonical.
        from_block: u64,
    },
}

/// A change with its sequence number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct StateEvent {
    /// Strictly increasing by one per event, from 1.
    pub seq: u64,
    /// What changed.
    #[serde(flatten)]
    pub change: StateChange,
}

// -------------------------------------------------------------------------------------
// The fold: how an event changes the state. enclave-app's store changes its state
// with it, and a subscriber (host-proxy) folds the stream with it, so both always
// agree.
// -------------------------------------------------------------------------------------

/// Settled rounds kept in the history by default: the web page shows the recent
/// ones; older rounds are on chain for anyone who wants them.
pub const DEFAULT_HISTORY_LIMIT: usize = 50;

/// Contract events kept in the activity feed by default: several busy rounds of bets
/// (the page shows the latest few dozen), while a snapshot stays a few hundred KB.
pub const DEFAULT_ACTIVITY_LIMIT: usize = 500;

/// How many entries the bounded lists keep (the oldest are dropped first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct StateLimits {
    /// Settled rounds in [`Snapshot::history`].
    pub history: usize,
    /// Contract events in [`Snapshot::activities`].
    pub activities: usize,
}

impl Default for StateLimits {
    fn default() -> Self {
        Self {
            history: DEFAULT_HISTORY_LIMIT,
            activities: DEFAULT_ACTIVITY_LIMIT,
        }
    }
}

/// An event that does not directly follow the snapshot it is applied to: the
/// subscriber missed events (or got one twice) and must take a new snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("state event {event_seq} does not follow snapshot {snapshot_seq}: take a new snapshot")]
pub struct OutOfSequence {
    /// The snapshot's sequence number.
    pub snapshot_seq: u64,
    /// The event's sequence number (the next one would be `snapshot_seq + 1`).
    pub event_seq: u64,
}

/// Applies `event` to `snapshot`: the same fold the store uses, plus the sequence
/// check a subscriber needs. On error `snapshot` is left untouched.
///
/// `limits` must be the publisher's, or the bounded lists may differ from its own.
pub fn apply(
    snapshot: &mut Snapshot,
    event: &StateEvent,
    limits: &StateLimits,
) -> Result<(), OutOfSequence> {
    if event.seq != snapshot.seq.wrapping_add(1) {
        return Err(OutOfSequence {
            snapshot_seq: snapshot.seq,
            event_seq: event.seq,
        });
    }
    apply_change(snapshot, &event.change, limits);
    snapshot.seq = event.seq;
    Ok(())
}

/// The one definition of how a change alters the state (the sequence number aside).
/// Returns whether anything changed; the store emits an event only then.
///
/// - Head, config, round, the participant list (on a reset) and operator are replaced
///   when different; a stake update changes one player's entry (a stake update of
///   another round starts that round's list).
/// - History is kept newest first by round id, one entry per round (a new entry for
///   a round replaces the old one), at most `limits.history` entries.
/// - Activities are kept newest first by `(block_number, log_index)`, one entry per
///   `(transaction_hash, log_index)`, at most `limits.activities` entries.
/// - An entry older than every kept one in a full list is not added (no change).
/// - `Reorged { from_block }` drops history and activities from blocks
///   `>= from_block` and always counts as a change: subscribers must hear of it even
///   when nothing was dropped, because the re-read state follows.
pub fn apply_change(snapshot: &mut Snapshot, change: &StateChange, limits: &StateLimits) -> bool {
    match change {
        StateChange::HeadUpdate(head) => replace(&mut snapshot.head, Some(*head)),
        StateChange::ConfigUpdate(config) => replace_ref(&mut snapshot.config, config),
        StateChange::RoundUpdate(round) => replace_ref(&mut snapshot.round, round),
        StateChange::StakeUpdate(delta) => snapshot.participants.apply(delta),
        StateChange::ParticipantsReset(list) => {
            if snapshot.participants == *list {
                return false;
            }
            snapshot.participants.clone_from(list);
            true
        }
        StateChange::OperatorUpdate(status) => {
            if snapshot.operator == *status {
                return false;
            }
            snapshot.operator = status.clone();
            true
        }
        StateChange::HistoryUpdate(entry) => insert_newest_first(
            &mut snapshot.history,
            entry,
            limits.history,
            |a, b| a.round_id == b.round_id,
            |h| h.round_id,
        ),
        StateChange::Activity(activity) => insert_newest_first(
            &mut snapshot.activities,
            activity,
            limits.activities,
            |a, b| a.transaction_hash == b.transaction_hash && a.log_index == b.log_index,
            // The hash only breaks ties no canonical chain has, so that the order is
            // total and every fold of the same events gives the same list.
            |a| (a.block_number, a.log_index, a.transaction_hash),
        ),
        StateChange::Reorged { from_block } => {
            snapshot.history.retain(|h| h.block_number < *from_block);
            snapshot.activities.retain(|a| a.block_number < *from_block);
            true
        }
    }
}

fn replace<T: PartialEq>(slot: &mut Option<T>, value: Option<T>) -> bool {
    if *slot == value {
        return false;
    }
    *slot = value;
    true
}

fn replace_ref<T: PartialEq + Clone>(slot: &mut Option<T>, value: &T) -> bool {
    if slot.as_ref() == Some(value) {
        return false;
    }
    *slot = Some(value.clone());
    true
}

/// Inserts `item` into `list` (sorted by `key`, largest first), replacing the entry
/// `same` as it, and keeps at most `limit` entries. Returns whether `list` changed.
fn insert_newest_first<T: Clone + PartialEq, K: Ord>(
    list: &mut Vec<T>,
    item: &T,
    limit: usize,
    same: impl Fn(&T, &T) -> bool,
    key: impl Fn(&T) -> K,
) -> bool {
    let mut changed = false;
    if let Some(i) = list.iter().position(|x| same(x, item)) {
        if list[i] == *item {
            return false;
        }
        list.remove(i);
        changed = true;
    }
    let k = key(item);
    let at = list.partition_point(|x| key(x) > k);
    if at < limit {
        list.insert(at, item.clone());
        changed = true;
    }
    if list.len() > limit {
        list.truncate(limit);
        changed = true;
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialize_with_a_type_tag() {
        let event = StateEvent {
            seq: 7,
            change: StateChange::OperatorUpdate(OperatorStatus::WaitingForDrawWindow {
                round_id: 3,
                min_draw_time: 100,
            }),
        };
        let json = serde_json::to_value(&event).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"seq": 7, "type": "operator_update", "data": {"status": "waitingForDrawWindow", "roundId": 3, "minDrawTime": 100}})
        );
        assert_eq!(serde_json::from_value::<StateEvent>(json).unwrap(), event);
    }

    #[test]
    fn history_entries_flatten_the_settlement() {
        let entry = HistoryEntry {
            round_id: 1,
            total_pot: U256::from(40),
            participant_count: 2,
            settlement: Settlement::Refunded {
                reason: RefundReason::DrawWindowExpired,
            },
            settled_at: 5,
            block_number: 9,
            transaction_hash: TxHash::ZERO,
        };
        let json = serde_json::to_value(&entry).unwrap();
        assert_eq!(json["outcome"], "refunded");
        assert_eq!(json["reason"], "DRAW_WINDOW_EXPIRED");
        assert_eq!(json["totalPot"], "40");
        assert_eq!(serde_json::from_value::<HistoryEntry>(json).unwrap(), entry);
    }
}
