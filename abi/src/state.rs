//! The mirrored lottery state and its change events: what enclave-app's store holds,
//! what the control channel streams to host-proxy, and what the web API and the
//! WebSocket feed serve. Defined once, here.
//!
//! A subscriber first takes a [`Snapshot`] (which carries the sequence number it is
//! current as of), then applies [`StateEvent`]s with strictly increasing `seq`; a gap
//! means it missed something and must take a new snapshot.

use alloy::primitives::{Address, B256, TxHash, U256};
use serde::{Deserialize, Serialize};

use crate::{
    contract::RefundReason,
    views::{ConfigView, ParticipantView, RoundView, checksummed, wei},
};

/// The latest block the mirror has processed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChainHead {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// Block timestamp (chain time, seconds).
    pub timestamp: u64,
}

/// How a settled round ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        winner: Address,
        /// Paid to the winner, in wei.
        #[serde(with = "wei")]
        prize: U256,
        /// Credited to the publisher, in wei.
        #[serde(with = "wei")]
        commission: U256,
        /// The revealed seed: anyone can recompute the winner from it.
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
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// The round.
    pub round_id: u64,
    /// Sum of all stakes, in wei.
    #[serde(with = "wei")]
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
    pub transaction_hash: TxHash,
}

/// What happened, for the activity feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        player: Address,
        /// This bet, in wei.
        #[serde(with = "wei")]
        amount: U256,
        /// The player's stake in the round after it, in wei.
        #[serde(with = "wei")]
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
        winner: Address,
        /// Paid to the winner, in wei.
        #[serde(with = "wei")]
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
        account: Address,
        /// How much, in wei.
        #[serde(with = "wei")]
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
    pub transaction_hash: TxHash,
    /// Its position in the block, for ordering and de-duplication.
    pub log_index: u64,
}

/// What the passive operator is doing, for people and for `/api/operator`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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
        key_address: Option<Address>,
        /// The contract's operator, if set.
        #[serde(with = "checksummed::option")]
        contract_operator: Option<Address>,
    },
    /// Nothing to do until the chain moves.
    Idle,
    /// Committing the seed of a new round.
    Committing {
        /// The round.
        round_id: u64,
        /// The transaction, once sent.
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
        transaction_hash: Option<TxHash>,
    },
    /// Refunding the round.
    Refunding {
        /// The round.
        round_id: u64,
        /// Why, in a sentence (for example: the seed was lost in a restart).
        reason: String,
        /// The transaction, once sent.
        transaction_hash: Option<TxHash>,
    },
    /// Something failed; the operator keeps retrying while that can still help.
    Error {
        /// What failed, in a sentence.
        reason: String,
    },
}

/// The whole mirrored state at one sequence number.
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
    pub participants: Vec<ParticipantView>,
    /// Settled rounds, newest first (bounded).
    pub history: Vec<HistoryEntry>,
    /// Recent contract events, newest first (bounded).
    pub activities: Vec<Activity>,
    /// What the operator is doing.
    pub operator: OperatorStatus,
}

/// One change to the state.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(
    rename_all = "snake_case",
    rename_all_fields = "camelCase",
    tag = "type",
    content = "data"
)]
pub enum StateChange {
    /// The current round changed (a new round, a bet, a state change, new times).
    RoundUpdate(RoundView),
    /// The current round's participants changed.
    ParticipantsUpdate(Vec<ParticipantView>),
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
#[serde(rename_all = "camelCase")]
pub struct StateEvent {
    /// Strictly increasing by one per event, from 1.
    pub seq: u64,
    /// What changed.
    #[serde(flatten)]
    pub change: StateChange,
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
