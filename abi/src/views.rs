//! JSON views of contract state: what the web API serves, the WebSocket feed streams
//! and `lottery status --json` prints.
//!
//! Wire rules (DESIGN.md, "Wire shapes"): camelCase fields, wei amounts as decimal
//! strings (JavaScript numbers lose precision above 2^53), checksummed addresses,
//! timestamps in seconds.

use alloy::primitives::{Address, B256, U256};
use serde::{Deserialize, Serialize};

use crate::{
    contract::{Lottery, RoundState, UnknownEnumValue},
    wire::{checksummed, hash, wei},
};

/// A round: the current one, or a settled one in the history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct RoundView {
    /// Round number, from 1.
    pub round_id: u64,
    /// Life-cycle state.
    pub state: RoundState,
    /// When betting opened (0 while WAITING).
    pub start_time: u64,
    /// When betting closes.
    pub end_time: u64,
    /// The draw window opens.
    pub min_draw_time: u64,
    /// The draw window closes; after it anyone may refund.
    pub max_draw_time: u64,
    /// Sum of all stakes, in wei.
    #[serde(with = "wei")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub total_pot: U256,
    /// Distinct players.
    pub participant_count: u64,
    /// The winner of a completed round.
    #[serde(with = "checksummed::option")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub winner: Option<Address>,
    /// Paid to the winner of a completed round, in wei.
    #[serde(with = "wei")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub prize: U256,
    /// Credited to the publisher for a completed round, in wei.
    #[serde(with = "wei")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub commission: U256,
    /// The operator's seed commitment, once made.
    #[serde(with = "hash::option")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub seed_commitment: Option<B256>,
    /// The seed revealed by the draw.
    #[serde(with = "hash::option")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub revealed_seed: Option<B256>,
}

impl TryFrom<Lottery::RoundInfo> for RoundView {
    type Error = UnknownEnumValue;

    fn try_from(r: Lottery::RoundInfo) -> Result<Self, Self::Error> {
        Ok(Self {
            round_id: r.roundId.saturating_to(),
            state: RoundState::try_from(r.state)?,
            start_time: r.startTime,
            end_time: r.endTime,
            min_draw_time: r.minDrawTime,
            max_draw_time: r.maxDrawTime,
            total_pot: r.totalPot,
            participant_count: r.participantCount.saturating_to(),
            winner: (!r.winner.is_zero()).then_some(r.winner),
            prize: r.prize,
            commission: r.commission,
            seed_commitment: (!r.seedCommitment.is_zero()).then_some(r.seedCommitment),
            revealed_seed: (!r.revealedSeed.is_zero()).then_some(r.revealedSeed),
        })
    }
}

/// One participant of the current round.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ParticipantView {
    /// The player's address.
    #[serde(with = "checksummed")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub address: Address,
    /// Their accumulated stake, in wei.
    #[serde(with = "wei")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub amount: U256,
    /// Their probability of winning, `amount / totalPot`, in `[0, 1]`.
    pub win_chance: f64,
}

impl ParticipantView {
    /// Builds the list with win chances from `(player, stake)` pairs.
    pub fn list(participants: &[Lottery::Participant]) -> Vec<Self> {
        let total = participants
            .iter()
            .fold(U256::ZERO, |acc, p| acc + p.amount);
        participants
            .iter()
            .map(|p| Self {
                address: p.player,
                amount: p.amount,
                win_chance: chance(p.amount, total),
            })
            .collect()
    }
}

/// `part / total` as a float with parts-per-billion precision (exact enough for
/// display; the contract's arithmetic is the exact one).
pub fn chance(part: U256, total: U256) -> f64 {
    if total.is_zero() {
        return 0.0;
    }
    const SCALE: u64 = 1_000_000_000;
    let ppb: u64 = (part.saturating_mul(U256::from(SCALE)) / total).saturating_to();
    #[allow(clippy::cast_precision_loss)] // ppb <= 1e9, exact in an f64
    let ratio = ppb as f64 / SCALE as f64;
    ratio
}

/// The contract's configuration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct ConfigView {
    /// The deployer; receives the commission.
    #[serde(with = "checksummed")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub publisher: Address,
    /// The operator key, once set.
    #[serde(with = "checksummed::option")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub operator: Option<Address>,
    /// Commission in basis points.
    pub commission_bps: u64,
    /// Smallest accepted bet, in wei.
    #[serde(with = "wei")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub min_bet_amount: U256,
    /// Seconds of betting after the first bet.
    pub betting_duration: u64,
    /// Seconds after the end of betting before a draw is allowed.
    pub min_draw_delay_after_end: u64,
    /// Seconds after the end of betting until the draw window closes.
    pub max_draw_delay_after_end: u64,
    /// Shortest allowed extension of betting, in seconds.
    pub min_end_time_extension: u64,
    /// Fewer players than this and the draw refunds.
    pub min_participants: u64,
    /// Seconds between an operator's announcement and the earliest time it may act
    /// (fixed at deployment).
    pub operator_delay: u64,
    /// The enclave image measurement (PCR0, 96 hex digits) recorded on chain for the
    /// operator, once one is set.
    pub operator_pcr0: Option<String>,
    /// An announced operator change that has not taken effect yet.
    pub pending_operator: Option<PendingOperatorView>,
}

/// An announced operator change: who, with which measurement, and from when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct PendingOperatorView {
    /// The announced operator.
    #[serde(with = "checksummed")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub operator: Address,
    /// Its enclave image measurement (PCR0, 96 hex digits).
    pub pcr0: Option<String>,
    /// The earliest chain time it takes effect; it then waits for the current round
    /// to settle if one takes bets.
    pub effective_at: u64,
}

/// Length of one PCR (SHA-384) in the contract's measurement records.
pub const PCR_LEN: usize = 48;

/// PCR0 (the first 48 bytes) of a measurement record as lowercase hex, if present.
pub fn pcr0_hex(pcrs: &[u8]) -> Option<String> {
    pcrs.get(..PCR_LEN).map(alloy::hex::encode)
}

impl From<Lottery::Config> for ConfigView {
    fn from(c: Lottery::Config) -> Self {
        Self {
            publisher: c.publisher,
            operator: (!c.operator.is_zero()).then_some(c.operator),
            commission_bps: c.commissionBps.saturating_to(),
            min_bet_amount: c.minBetAmount,
            betting_duration: c.bettingDuration.saturating_to(),
            min_draw_delay_after_end: c.minDrawDelayAfterEnd.saturating_to(),
            max_draw_delay_after_end: c.maxDrawDelayAfterEnd.saturating_to(),
            min_end_time_extension: c.minEndTimeExtension.saturating_to(),
            min_participants: c.minParticipants.saturating_to(),
            operator_delay: c.operatorDelay.saturating_to(),
            operator_pcr0: pcr0_hex(&c.operatorPcrs),
            pending_operator: (!c.pendingOperator.is_zero()).then(|| PendingOperatorView {
                operator: c.pendingOperator,
                pcr0: pcr0_hex(&c.pendingPcrs),
                effective_at: c.pendingEffectiveAt.saturating_to(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::format_eth;

    #[test]
    fn wei_round_trips_as_decimal_string() {
        #[derive(Serialize, Deserialize, PartialEq, Debug)]
        struct W(#[serde(with = "wei")] U256);
        let big = U256::from(10).pow(U256::from(30)) + U256::from(7);
        let json = serde_json::to_string(&W(big)).unwrap();
        assert_eq!(json, "\"1000000000000000000000000000007\"");
        assert_eq!(serde_json::from_str::<W>(&json).unwrap(), W(big));
        for bad in ["\"0x10\"", "\"-1\"", "\"1e18\"", "\"\"", "12", "\"1 \""] {
            assert!(
                serde_json::from_str::<W>(bad).is_err(),
                "{bad} must be rejected"
            );
        }
    }

    #[test]
    fn eth_is_trimmed() {
        assert_eq!(
            format_eth(U256::from(10_000_000_000_000_000u64)),
            "0.01 ETH"
        );
        assert_eq!(
            format_eth(U256::from(2_000_000_000_000_000_000u64)),
            "2 ETH"
        );
        assert_eq!(format_eth(U256::ZERO), "0 ETH");
        assert_eq!(format_eth(U256::from(1)), "0.000000000000000001 ETH");
    }

    #[test]
    fn chances_sum_to_one_and_handle_empty_pot() {
        let ps = [
            Lottery::Participant {
                player: Address::repeat_byte(1),
                amount: U256::from(1),
            },
            Lottery::Participant {
                player: Address::repeat_byte(2),
                amount: U256::from(3),
            },
        ];
        let list = ParticipantView::list(&ps);
        assert!((list[0].win_chance - 0.25).abs() < 1e-9);
        assert!((list[1].win_chance - 0.75).abs() < 1e-9);
        assert!(chance(U256::ZERO, U256::ZERO).abs() < f64::EPSILON);
    }

    #[test]
    fn addresses_serialize_checksummed() {
        let addr: Address = "0x52908400098527886e0f7030069857d2e4169ee7"
            .parse()
            .unwrap();
        let view = ParticipantView {
            address: addr,
            amount: U256::from(5),
            win_chance: 1.0,
        };
        let json = serde_json::to_value(&view).unwrap();
        assert_eq!(
            json["address"],
            "0x52908400098527886E0F7030069857D2E4169EE7"
        );
        assert_eq!(json["amount"], "5");
        assert_eq!(
            serde_json::from_value::<ParticipantView>(json).unwrap(),
            view
        );
    }
}
