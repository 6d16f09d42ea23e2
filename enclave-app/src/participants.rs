//! The current round's participants, built from `BetPlaced` logs.
//!
//! Reading the list from the contract (`getParticipants`) costs gas in proportion to
//! the players, about 5,500 a player. Public RPC nodes cap `eth_call` gas, so from
//! about 9,000 players a per-bet read would fail and stop the mirror: a Sybil attack
//! that costs only refundable stakes. So each bet updates the list from its log (the
//! player and its new total), and the contract is only asked for the round's totals
//! (pot and participant count, O(1)) to check the list against. The full list is
//! read again only when the two disagree: at start, when the round began before the
//! look-back, and after a reorg.

use std::collections::HashMap;

use abi::views::{ParticipantView, RoundView, chance};
use alloy::primitives::{Address, U256};

/// The participants of one round, in the order of their first bet.
#[derive(Debug, Default, Clone)]
pub struct Participants {
    round_id: u64,
    order: Vec<Address>,
    stakes: HashMap<Address, U256>,
    total: U256,
    /// Changed since the store last got the list.
    dirty: bool,
}

impl Participants {
    /// Applies a bet of `round_id`: `player`'s stake is now `new_total`. A bet of
    /// another round than the one held starts that round's list.
    pub fn bet(&mut self, round_id: u64, player: Address, new_total: U256) {
        if round_id != self.round_id {
            *self = Self {
                round_id,
                ..Self::default()
            };
        }
        let old = self.stakes.insert(player, new_total);
        if old.is_none() {
            self.order.push(player);
        }
        self.total = self
            .total
            .saturating_sub(old.unwrap_or_default())
            .saturating_add(new_total);
        self.dirty = true;
    }

    /// Whether the list agrees with the round's totals from the contract. A round
    /// without bets agrees with an empty list of any round (and resets to it).
    pub fn agrees_with(&mut self, round: &RoundView) -> bool {
        if round.total_pot.is_zero() && round.participant_count == 0 {
            if round.round_id != self.round_id || !self.order.is_empty() {
                *self = Self {
                    round_id: round.round_id,
                    dirty: true,
                    ..Self::default()
                };
            }
            return true;
        }
        round.round_id == self.round_id
            && round.total_pot == self.total
            && round.participant_count == self.order.len() as u64
    }

    /// Replaces the list with a full read of `round_id`'s participants.
    pub fn replace(&mut self, round_id: u64, list: &[ParticipantView]) {
        *self = Self {
            round_id,
            dirty: true,
            ..Self::default()
        };
        for p in list {
            self.bet(round_id, p.address, p.amount);
        }
    }

    /// Forgets everything (after a reorg): the next check asks for a full read.
    pub fn invalidate(&mut self) {
        *self = Self {
            round_id: u64::MAX,
            dirty: false,
            ..Self::default()
        };
    }

    /// The list with win chances, when it changed since the last call.
    pub fn take_update(&mut self) -> Option<Vec<ParticipantView>> {
        if !self.dirty {
            return None;
        }
        self.dirty = false;
        Some(
            self.order
                .iter()
                .map(|player| {
                    let amount = self.stakes.get(player).copied().unwrap_or_default();
                    ParticipantView {
                        address: *player,
                        amount,
                        win_chance: chance(amount, self.total),
                    }
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use abi::contract::RoundState;

    use super::*;

    fn round(id: u64, pot: u64, count: u64) -> RoundView {
        crate::fixtures::round(id, RoundState::Betting, 2000, pot, count)
    }

    #[test]
    fn bets_build_the_list_in_first_bet_order_with_chances() {
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let mut p = Participants::default();
        p.bet(1, a, U256::from(10));
        p.bet(1, b, U256::from(10));
        p.bet(1, a, U256::from(30)); // a tops up: new total 30
        assert!(p.agrees_with(&round(1, 40, 2)));
        assert!(!p.agrees_with(&round(1, 50, 2)), "a missed bet shows");
        let list = p.take_update().unwrap();
        assert_eq!(
            list.iter()
                .map(|v| (v.address, v.amount))
                .collect::<Vec<_>>(),
            [(a, U256::from(30)), (b, U256::from(10))]
        );
        assert!((list[0].win_chance - 0.75).abs() < 1e-9);
        assert!(p.take_update().is_none(), "nothing changed since");
        // A bet of the next round starts its list.
        p.bet(2, b, U256::from(5));
        assert!(p.agrees_with(&round(2, 5, 1)));
        // A new round without bets empties it.
        assert!(p.agrees_with(&round(3, 0, 0)));
        assert_eq!(p.take_update().unwrap(), []);
        // After a reorg nothing agrees until a full read replaces the list.
        p.invalidate();
        assert!(!p.agrees_with(&round(3, 5, 1)));
        p.replace(
            3,
            &[ParticipantView {
                address: a,
                amount: U256::from(5),
                win_chance: 1.0,
            }],
        );
        assert!(p.agrees_with(&round(3, 5, 1)));
    }
}
