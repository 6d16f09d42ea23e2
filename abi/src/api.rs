//! The web API's own shapes (host-proxy serves them, the web page reads them): the
//! REST responses built around the [`crate::views`] and [`crate::state`] types, the
//! WebSocket feed's messages, and the error body. Browser JSON rules apply
//! (camelCase, wei as decimal strings, checksummed addresses, seconds).

use alloy::primitives::{Address, U256};
use serde::{Deserialize, Serialize};

use crate::{
    state::{
        Activity, ChainHead, HistoryEntry, OperatorStatus, ParticipantList, Snapshot, StateEvent,
    },
    views::{ConfigView, ParticipantView, RoundView},
    wire::{checksummed, wei},
};

/// Top players (by stake) a feed snapshot or participant reset carries. The whole
/// list is `/api/round/participants`, page by page.
pub const FEED_TOP_PLAYERS: usize = 20;

/// Activities a feed snapshot carries, newest first (the page shows a few dozen; the
/// rest is `/api/activities`).
pub const FEED_SNAPSHOT_ACTIVITIES: usize = 100;

/// Every error response: `{"error": "..."}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
pub struct ErrorBody {
    /// What went wrong, in a sentence.
    pub error: String,
}

/// `/api/health`: liveness (any answer) and readiness (200 only when ready).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct HealthView {
    /// `ok` when ready, `unavailable` otherwise.
    pub status: String,
    /// Whether the control channel to the enclave is up.
    pub control_channel_connected: bool,
    /// Seconds since the chain head last advanced, as host-proxy saw it.
    pub head_age_secs: Option<u64>,
    /// The latest block the enclave processed.
    pub head: Option<ChainHead>,
    /// What the operator is doing.
    pub operator: Option<OperatorStatus>,
    /// Why it is not ready, when it is not.
    pub reasons: Vec<String>,
}

/// `/api/status`: everything a page needs at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct StatusView {
    /// Whether the control channel to the enclave is up (the data below is the last
    /// the enclave sent; stale while this is false).
    pub connected: bool,
    /// enclave-app's version, from its last `Hello`.
    pub enclave_version: Option<String>,
    /// The contract.
    #[serde(with = "checksummed")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub contract: Address,
    /// Its chain.
    pub chain_id: u64,
    /// The latest processed block.
    pub head: Option<ChainHead>,
    /// The current round.
    pub round: Option<RoundView>,
    /// Distinct players in the current round.
    pub participant_count: u64,
    /// The contract's configuration.
    pub config: Option<ConfigView>,
    /// What the operator is doing.
    pub operator: OperatorStatus,
    /// Settled rounds held (see `/api/history`).
    pub history_count: u64,
    /// The sequence number of the state served.
    pub seq: u64,
}

/// `/api/round/player/{address}`: one player's stake in the current round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PlayerView {
    /// The player.
    #[serde(with = "checksummed")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub address: Address,
    /// The round.
    pub round_id: Option<u64>,
    /// Their stake, in wei (0 when they have not bet).
    #[serde(with = "wei")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub amount: U256,
    /// Their chance to win, 0..=1.
    pub win_chance: f64,
}

/// `/api/contract/address`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ContractAddressView {
    /// The contract.
    #[serde(with = "checksummed")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub address: Address,
    /// Its chain.
    pub chain_id: u64,
}

/// `/api/operator`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct OperatorView {
    /// The contract's operator, once set.
    #[serde(with = "checksummed::option")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub address: Option<Address>,
    /// What it is doing.
    pub status: OperatorStatus,
}

/// `/api/page-config`: what the web page needs besides the state, as host-proxy's
/// operator configured it (the chain id and contract come with the state).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PageConfigView {
    /// A block explorer's base URL, without a trailing slash: the page links
    /// `{explorerUrl}/tx/{hash}` and `{explorerUrl}/address/{address}`.
    pub explorer_url: Option<String>,
    /// A public JSON-RPC URL of the chain, for a wallet that does not know it yet
    /// (`wallet_addEthereumChain`). Never the enclave's own (`--rpc-url`), which may
    /// carry an API key.
    pub public_rpc_url: Option<String>,
    /// The chain's name, for that same wallet prompt.
    pub chain_name: Option<String>,
}

/// `/api/attestation`: a fresh document and what it says (unverified: check it with
/// the verifier, in the page or with `attest verify`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct AttestationView {
    /// The COSE_Sign1 document, base64 (standard alphabet, padded).
    pub document: String,
    /// The decoded payload, for display only.
    pub summary: AttestationSummary,
}

/// The decoded (not verified) fields of an attestation document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct AttestationSummary {
    /// The enclave's module id.
    pub module_id: String,
    /// When the NSM signed it, milliseconds since the epoch.
    pub timestamp_ms: u64,
    /// PCR index to hex value (PCR0: the image, PCR1: the kernel, PCR2: the app).
    pub pcrs: std::collections::BTreeMap<String, String>,
    /// The echoed nonce, hex.
    pub nonce: Option<String>,
    /// The enclave's public key for sealed key injection, hex.
    pub public_key: Option<String>,
    /// `user_data`, hex.
    pub user_data: Option<String>,
}

/// What `sealedKey` accepts: standard base64 with canonical padding (and zero
/// trailing bits) of 1 to [`crate::control::MAX_SEALED_KEY_BYTES`] (4096) bytes:
/// up to 1,364 groups of four, then a last group, or a group of four and a one-byte
/// group (4,096 = 3 × 1,365 + 1).
pub const SEALED_KEY_PATTERN: &str = "^(?:[A-Za-z0-9+/]{4}){0,1364}(?:[A-Za-z0-9+/]{4}|[A-Za-z0-9+/][AQgw]==|[A-Za-z0-9+/]{2}[AEIMQUYcgkosw048]=|[A-Za-z0-9+/]{4}[A-Za-z0-9+/][AQgw]==)$";

/// Longest `sealedKey`: 4,096 bytes in base64.
pub const MAX_SEALED_KEY_BASE64: usize = crate::control::MAX_SEALED_KEY_BYTES.div_ceil(3) * 4;

/// `POST /api/operator-key`'s body: an operator key sealed to the enclave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OperatorKeyRequest {
    /// The sealed key (from `attest seal-key`), base64.
    #[cfg_attr(
        feature = "schema",
        schemars(regex(pattern = SEALED_KEY_PATTERN), length(min = 4, max = MAX_SEALED_KEY_BASE64))
    )]
    pub sealed_key: String,
}

/// `POST /api/operator-key`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct OperatorKeyResponse {
    /// The injected key's address.
    #[serde(with = "checksummed")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub operator: Address,
}

/// A message of the WebSocket feed (`/ws`). The first is always a `snapshot` (bounded:
/// the top players, not the whole list); with `?player=ADDRESS` a `player` message
/// with that player's stake follows it. Then every state change as it happens
/// (`round_update`, `stake_update` (one bet: O(1) bytes whatever the round's size),
/// `history_update`, `config_update`, `activity`, `operator_update`, `head_update`,
/// `reorged`; each a [`StateEvent`], with `seq`), a `participants_reset` summary
/// when the participant list was replaced (a new round, a re-read), another
/// `snapshot` whenever the state was replaced, and a `heartbeat` every few seconds.
/// A client that sees a gap in `seq` reconnects.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
// Only describes the feed (the server sends pre-serialized text): size is moot.
#[allow(clippy::large_enum_variant)]
pub enum FeedMessage {
    /// The whole state, or a keep-alive.
    Notice(FeedNotice),
    /// One state change.
    Event(StateEvent),
}

/// The feed's own messages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum FeedNotice {
    /// The state, bounded.
    Snapshot {
        /// Its sequence number; the next event has `seq + 1`.
        seq: u64,
        /// Whether the enclave is connected (the state is live).
        connected: bool,
        /// The state.
        data: Box<FeedSnapshot>,
    },
    /// The participant list was replaced (event `seq`): its summary. A client that
    /// shows its own stake asks `/api/round/player/{address}` again.
    ParticipantsReset {
        /// The event's sequence number.
        seq: u64,
        /// The new list, summarised.
        data: ParticipantsSummary,
    },
    /// The stake of the player named in `?player=`, as of `seq` (sent once, after the
    /// first snapshot; later changes arrive as `stake_update`s naming the player).
    Player {
        /// The sequence number it is current as of.
        seq: u64,
        /// The player's stake and chance.
        data: PlayerView,
    },
    /// Keep-alive, with the sequence number of the state sent so far.
    Heartbeat {
        /// The last sequence number sent.
        seq: u64,
        /// Whether the enclave is connected.
        connected: bool,
    },
}

/// The current round's participants in brief: counts, pot and the top players.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ParticipantsSummary {
    /// The round the list belongs to.
    pub round_id: u64,
    /// Distinct players.
    pub participant_count: u64,
    /// The sum of all stakes, in wei.
    #[serde(with = "wei")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub total_pot: U256,
    /// The [`FEED_TOP_PLAYERS`] largest stakes, largest first, with win chances.
    pub top_players: Vec<ParticipantView>,
}

impl ParticipantsSummary {
    /// The summary of `list`: O(players × log [`FEED_TOP_PLAYERS`]).
    pub fn of(list: &ParticipantList) -> Self {
        Self {
            round_id: list.round_id(),
            participant_count: list.len() as u64,
            total_pot: list.total(),
            top_players: list.top(FEED_TOP_PLAYERS),
        }
    }
}

/// The feed's snapshot: the mirrored state with the participant list summarised and
/// the activities cut to the newest [`FEED_SNAPSHOT_ACTIVITIES`], so that its size is
/// bounded whatever the number of players.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct FeedSnapshot {
    /// The contract mirrored.
    #[serde(with = "checksummed")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub contract: Address,
    /// Its chain.
    pub chain_id: u64,
    /// The latest processed block, once known.
    pub head: Option<ChainHead>,
    /// The contract's configuration, once read.
    pub config: Option<ConfigView>,
    /// The current round, once read.
    pub round: Option<RoundView>,
    /// The current round's participants in brief.
    pub participants: ParticipantsSummary,
    /// Settled rounds, newest first (bounded).
    pub history: Vec<HistoryEntry>,
    /// Recent contract events, newest first.
    pub activities: Vec<Activity>,
    /// What the operator is doing.
    pub operator: OperatorStatus,
}

impl FeedSnapshot {
    /// The bounded view of `snapshot`.
    pub fn of(snapshot: &Snapshot) -> Self {
        Self {
            contract: snapshot.contract,
            chain_id: snapshot.chain_id,
            head: snapshot.head,
            config: snapshot.config.clone(),
            round: snapshot.round.clone(),
            participants: ParticipantsSummary::of(&snapshot.participants),
            history: snapshot.history.clone(),
            activities: snapshot
                .activities
                .iter()
                .take(FEED_SNAPSHOT_ACTIVITIES)
                .cloned()
                .collect(),
            operator: snapshot.operator.clone(),
        }
    }
}
