//! Bindings for the `Lottery` contract and the types derived from them.
//!
//! The bindings come from the committed artifact that `scripts/build-contract`
//! writes, so the Rust side always matches the bytecode we deploy (CI fails when the
//! artifact is stale).

use std::fmt;

use alloy::{
    contract::Error as ContractError,
    primitives::{Bytes, U256},
    sol_types::{Revert, SolError},
};

alloy::sol!(
    /// The `Lottery` contract: typed calls, events, custom errors and deployment.
    #[allow(missing_docs)]
    #[sol(rpc)]
    #[derive(Debug, PartialEq, Eq)]
    Lottery,
    "artifacts/Lottery.json"
);

pub use Lottery::{LotteryErrors, LotteryEvents, LotteryInstance};

/// The life cycle of a round, as the contract's `RoundState` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RoundState {
    /// Open for a seed commitment; the first bet starts betting.
    Waiting,
    /// Taking bets until `endTime`, then drawable inside the draw window.
    Betting,
    /// Transient, inside `drawWinner` only.
    Drawing,
    /// Drawn: a winner was paid.
    Completed,
    /// Refunded: every stake is withdrawable.
    Refunded,
}

impl RoundState {
    /// Whether the round is settled (completed or refunded).
    pub const fn is_settled(self) -> bool {
        matches!(self, Self::Completed | Self::Refunded)
    }

    /// The name the contract uses (`WAITING`, `BETTING`, ...).
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Waiting => "WAITING",
            Self::Betting => "BETTING",
            Self::Drawing => "DRAWING",
            Self::Completed => "COMPLETED",
            Self::Refunded => "REFUNDED",
        }
    }
}

impl TryFrom<u8> for RoundState {
    type Error = UnknownEnumValue;

    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Ok(match value {
            0 => Self::Waiting,
            1 => Self::Betting,
            2 => Self::Drawing,
            3 => Self::Completed,
            4 => Self::Refunded,
            _ => {
                return Err(UnknownEnumValue {
                    kind: "RoundState",
                    value,
                });
            }
        })
    }
}

impl fmt::Display for RoundState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a round was refunded, as the contract's `RefundReason` enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RefundReason {
    /// The operator called `refundRound`.
    Operator,
    /// `drawWinner` found fewer participants than `minParticipants`.
    NotEnoughParticipants,
    /// Anyone called `refundExpiredRound` after the draw window.
    DrawWindowExpired,
}

impl TryFrom<u8> for RefundReason {
    type Error = UnknownEnumValue;

    fn try_from(value: u8) -> Result<Self, Self::Error> {
        Ok(match value {
            0 => Self::Operator,
            1 => Self::NotEnoughParticipants,
            2 => Self::DrawWindowExpired,
            _ => {
                return Err(UnknownEnumValue {
                    kind: "RefundReason",
                    value,
                });
            }
        })
    }
}

/// A contract enum value this build does not know (a newer contract?).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} value {value} (is the contract newer than this build?)")]
pub struct UnknownEnumValue {
    /// The enum's name.
    pub kind: &'static str,
    /// The raw value.
    pub value: u8,
}

/// Why a call reverted, decoded from its revert data when possible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RevertReason {
    /// One of the contract's custom errors.
    Lottery(LotteryErrors),
    /// A plain `revert("...")` / `require(.., "...")` message.
    Message(String),
    /// Revert data we cannot decode.
    Raw(Bytes),
}

impl RevertReason {
    /// Decodes revert data returned by a node.
    pub fn decode(data: &[u8]) -> Self {
        use alloy::sol_types::SolInterface;
        if let Ok(err) = LotteryErrors::abi_decode(data) {
            return Self::Lottery(err);
        }
        if let Ok(revert) = Revert::abi_decode(data) {
            return Self::Message(revert.reason);
        }
        Self::Raw(Bytes::copy_from_slice(data))
    }

    /// The revert reason carried by a contract call's error, if it is a revert.
    pub fn from_error(err: &ContractError) -> Option<Self> {
        err.as_revert_data().map(|data| Self::decode(&data))
    }
}

impl fmt::Display for RevertReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Lottery(err) => f.write_str(&explain(err)),
            Self::Message(msg) => write!(f, "reverted: {msg}"),
            Self::Raw(data) if data.is_empty() => f.write_str("reverted without a reason"),
            Self::Raw(data) => write!(f, "reverted with undecodable data {data}"),
        }
    }
}

fn state_name(raw: u8) -> String {
    RoundState::try_from(raw).map_or_else(|e| e.to_string(), |s| s.as_str().to_owned())
}

fn eth(wei: U256) -> String {
    crate::wire::format_eth(wei)
}

/// A sentence a user can act on for each of the contract's custom errors.
pub fn explain(err: &LotteryErrors) -> String {
    use LotteryErrors as E;
    match err {
        E::CommissionTooHigh(e) => format!(
            "commission of {} bps is above the maximum of {} bps",
            e.commissionBps, e.maxCommissionBps
        ),
        E::NotPublisher(e) => format!(
            "{} is not the publisher (deployer) of this contract",
            e.caller
        ),
        E::NotOperator(e) => format!("{} is not the operator of this contract", e.caller),
        E::InvalidOperator(e) => {
            format!(
                "{} cannot be the operator (zero address or the publisher)",
                e.operator
            )
        }
        E::InvalidOperatorDelay(e) => format!(
            "an operator delay of {} s is outside {}..={} s",
            e.delay, e.min, e.max
        ),
        E::InvalidMeasurement(e) => format!(
            "the enclave measurement must be PCR0 (and optionally more PCRs), 48 bytes each with a non-zero PCR0; got {} bytes",
            e.length
        ),
        E::OperatorNotYetEffective(e) => format!(
            "{} is announced as the next operator but cannot act before {} (and not while a round takes bets)",
            e.caller, e.effectiveAt
        ),
        E::NoPendingOperatorChange(_) => "no operator change is pending".to_owned(),
        E::WrongRoundState(e) => format!(
            "round {} is {}, but this needs it {}",
            e.roundId,
            state_name(e.actual),
            state_name(e.expected)
        ),
        E::NotCurrentRound(e) => {
            format!(
                "round {} is not the current round ({})",
                e.roundId, e.currentRoundId
            )
        }
        E::ZeroCommitment(_) => "the seed commitment must not be zero".to_owned(),
        E::CommitmentLocked(e) => format!(
            "round {} already has bets: its seed commitment can no longer change",
            e.roundId
        ),
        E::NoSeedCommitment(e) => format!(
            "round {} has no seed commitment yet: the operator must commit before betting opens",
            e.roundId
        ),
        E::SeedMismatch(e) => {
            format!(
                "the seed does not match the commitment of round {}",
                e.roundId
            )
        }
        E::BetTooSmall(e) => format!(
            "bet of {} is below the minimum bet of {}",
            eth(e.amount),
            eth(e.minBetAmount)
        ),
        E::BettingClosed(e) => format!(
            "betting on round {} closed at {} (block time {})",
            e.roundId, e.endTime, e.timestamp
        ),
        E::PotTooLarge(e) => format!(
            "the pot would exceed the contract's limit ({})",
            eth(e.totalPot)
        ),
        E::ExtensionNotAllowed(e) => format!(
            "betting on round {} can only be extended before it ends at {} (block time {})",
            e.roundId, e.endTime, e.timestamp
        ),
        E::InvalidEndTime(e) => format!(
            "new end time {} must be between {} and {}",
            e.newEndTime, e.earliest, e.latest
        ),
        E::DrawTooEarly(e) => format!(
            "round {} cannot be drawn before {} (block time {})",
            e.roundId, e.minDrawTime, e.timestamp
        ),
        E::DrawWindowClosed(e) => format!(
            "the draw window of round {} closed at {} (block time {}); it can only be refunded",
            e.roundId, e.maxDrawTime, e.timestamp
        ),
        E::EmptyPot(e) => format!("round {} has no bets", e.roundId),
        E::RoundNotExpired(e) => format!(
            "round {} can be refunded by anyone only after {} (block time {})",
            e.roundId, e.maxDrawTime, e.timestamp
        ),
        E::InvalidMinBetAmount(e) => format!("invalid minimum bet {} wei", e.amount),
        E::InvalidBettingDuration(e) => format!(
            "betting duration {} s is outside {}..={} s",
            e.duration, e.min, e.max
        ),
        E::InvalidMinParticipants(e) => format!(
            "minimum participants {} is outside {}..={}",
            e.minParticipants, e.min, e.max
        ),
        E::NothingToWithdraw(e) => format!("{} has nothing to withdraw", e.account),
        E::WithdrawFailed(e) => {
            format!("{} rejected the withdrawal of {}", e.account, eth(e.amount))
        }
        E::Reentrancy(_) => "re-entrant call rejected".to_owned(),
    }
}
