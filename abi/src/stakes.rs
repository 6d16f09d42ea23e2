//! The current round's participant list as the mirrored state holds it, and the
//! O(1) change a bet makes to it.
//!
//! A bet changes one player's stake, the pot and maybe the count, so on every wire it
//! travels as a [`StakeDelta`] (a few hundred bytes whatever the round's size), and
//! folding it is a hash lookup: [`ParticipantList`] keeps an index by address beside the
//! list in first-bet order. Win chances are not stored (every bet would change all of
//! them); they are computed from the pot when a view is served
//! ([`ParticipantList::view`]).

use std::collections::HashMap;

use alloy::primitives::{Address, U256};
use serde::{Deserialize, Serialize};

use crate::{
    views::{ParticipantView, chance},
    wire::{checksummed, wei},
};

/// One player's accumulated stake in the round.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct Stake {
    /// The player.
    #[serde(with = "checksummed")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub address: Address,
    /// Their stake, in wei.
    #[serde(with = "wei")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub amount: U256,
}

/// A bet, as the change it makes to the participant list: `player`'s stake in round
/// `round_id` is now `stake`, which makes the pot `total_pot` over `participant_count`
/// players.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub struct StakeDelta {
    /// The round.
    pub round_id: u64,
    /// The player.
    #[serde(with = "checksummed")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub player: Address,
    /// The player's stake after the bet, in wei.
    #[serde(with = "wei")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub stake: U256,
    /// The sum of all stakes after it, in wei.
    #[serde(with = "wei")]
    #[cfg_attr(feature = "schema", schemars(with = "String"))]
    pub total_pot: U256,
    /// Distinct players after it.
    pub participant_count: u64,
}

/// The participants of one round, in the order of their first bet, with an index by
/// address and the running total. Serialized as `{roundId, stakes}`; the index and
/// the total are rebuilt when it is read (a list naming a player twice is refused).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(
    rename_all = "camelCase",
    try_from = "ParticipantListWire",
    into = "ParticipantListWire"
)]
pub struct ParticipantList {
    round_id: u64,
    stakes: Vec<Stake>,
    index: HashMap<Address, usize>,
    total: U256,
}

impl PartialEq for ParticipantList {
    fn eq(&self, other: &Self) -> bool {
        self.round_id == other.round_id && self.stakes == other.stakes
    }
}

/// [`ParticipantList`] on the wire.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ParticipantListWire {
    round_id: u64,
    stakes: Vec<Stake>,
}

/// A participant list that names a player twice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the participant list names {0} twice")]
pub struct DuplicateParticipant(pub Address);

impl TryFrom<ParticipantListWire> for ParticipantList {
    type Error = DuplicateParticipant;

    fn try_from(wire: ParticipantListWire) -> Result<Self, Self::Error> {
        Self::new(wire.round_id, wire.stakes)
    }
}

impl From<ParticipantList> for ParticipantListWire {
    fn from(list: ParticipantList) -> Self {
        Self {
            round_id: list.round_id,
            stakes: list.stakes,
        }
    }
}

impl ParticipantList {
    /// An empty list for `round_id`.
    pub fn empty(round_id: u64) -> Self {
        Self {
            round_id,
            ..Self::default()
        }
    }

    /// The list of `round_id` from stakes in first-bet order.
    ///
    /// # Errors
    /// [`DuplicateParticipant`] when a player appears twice.
    pub fn new(round_id: u64, stakes: Vec<Stake>) -> Result<Self, DuplicateParticipant> {
        let mut index = HashMap::with_capacity(stakes.len());
        let mut total = U256::ZERO;
        for (i, s) in stakes.iter().enumerate() {
            if index.insert(s.address, i).is_some() {
                return Err(DuplicateParticipant(s.address));
            }
            total = total.saturating_add(s.amount);
        }
        Ok(Self {
            round_id,
            stakes,
            index,
            total,
        })
    }

    /// The round the list belongs to.
    pub const fn round_id(&self) -> u64 {
        self.round_id
    }

    /// Distinct players.
    pub fn len(&self) -> usize {
        self.stakes.len()
    }

    /// Whether nobody has bet.
    pub fn is_empty(&self) -> bool {
        self.stakes.is_empty()
    }

    /// The sum of all stakes.
    pub const fn total(&self) -> U256 {
        self.total
    }

    /// The stakes in first-bet order.
    pub fn stakes(&self) -> &[Stake] {
        &self.stakes
    }

    /// `player`'s stake (zero when they have not bet in this round).
    pub fn stake_of(&self, player: &Address) -> U256 {
        self.index
            .get(player)
            .map_or(U256::ZERO, |&i| self.stakes[i].amount)
    }

    /// Records a bet of `round_id`: `player`'s stake is now `stake`. A bet of another
    /// round starts that round's list. Returns the delta, or `None` when nothing
    /// changed (the same bet seen twice).
    pub fn bet(&mut self, round_id: u64, player: Address, stake: U256) -> Option<StakeDelta> {
        if round_id != self.round_id {
            *self = Self::empty(round_id);
        }
        let old = match self.index.get(&player) {
            Some(&i) => {
                let old = self.stakes[i].amount;
                if old == stake {
                    return None;
                }
                self.stakes[i].amount = stake;
                old
            }
            None => {
                self.index.insert(player, self.stakes.len());
                self.stakes.push(Stake {
                    address: player,
                    amount: stake,
                });
                U256::ZERO
            }
        };
        self.total = self.total.saturating_sub(old).saturating_add(stake);
        Some(self.delta_for(player, stake))
    }

    /// Folds a delta: the same as [`Self::bet`] with its fields.
    pub fn apply(&mut self, delta: &StakeDelta) -> bool {
        self.bet(delta.round_id, delta.player, delta.stake)
            .is_some()
    }

    fn delta_for(&self, player: Address, stake: U256) -> StakeDelta {
        StakeDelta {
            round_id: self.round_id,
            player,
            stake,
            total_pot: self.total,
            participant_count: self.stakes.len() as u64,
        }
    }

    /// One participant with their win chance.
    pub fn view(&self, stake: &Stake) -> ParticipantView {
        ParticipantView {
            address: stake.address,
            amount: stake.amount,
            win_chance: chance(stake.amount, self.total),
        }
    }

    /// Participants `offset..offset + limit` in first-bet order, with win chances.
    pub fn page(&self, offset: usize, limit: usize) -> Vec<ParticipantView> {
        self.stakes
            .iter()
            .skip(offset)
            .take(limit)
            .map(|s| self.view(s))
            .collect()
    }

    /// The `n` largest stakes, largest first; equal stakes in first-bet order.
    /// O(players × log n).
    pub fn top(&self, n: usize) -> Vec<ParticipantView> {
        if n == 0 {
            return Vec::new();
        }
        // A min-heap of the best n so far, keyed (amount, earlier bet first).
        let mut heap = std::collections::BinaryHeap::with_capacity(n + 1);
        for (i, s) in self.stakes.iter().enumerate() {
            heap.push(std::cmp::Reverse((s.amount, std::cmp::Reverse(i))));
            if heap.len() > n {
                heap.pop();
            }
        }
        let mut best: Vec<(U256, usize)> = heap
            .into_iter()
            .map(|std::cmp::Reverse((amount, std::cmp::Reverse(i)))| (amount, i))
            .collect();
        best.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        best.into_iter()
            .map(|(_, i)| self.view(&self.stakes[i]))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(n: u8) -> Address {
        Address::repeat_byte(n)
    }

    #[test]
    fn bets_fold_in_first_bet_order_and_report_deltas() {
        let mut list = ParticipantList::empty(1);
        let d = list.bet(1, addr(1), U256::from(10)).unwrap();
        assert_eq!((d.total_pot, d.participant_count), (U256::from(10), 1));
        list.bet(1, addr(2), U256::from(30)).unwrap();
        let d = list.bet(1, addr(1), U256::from(50)).unwrap();
        assert_eq!(
            d,
            StakeDelta {
                round_id: 1,
                player: addr(1),
                stake: U256::from(50),
                total_pot: U256::from(80),
                participant_count: 2
            }
        );
        assert_eq!(list.bet(1, addr(1), U256::from(50)), None, "seen twice");
        assert_eq!(
            list.stakes().iter().map(|s| s.address).collect::<Vec<_>>(),
            [addr(1), addr(2)]
        );
        assert_eq!(list.stake_of(&addr(2)), U256::from(30));
        assert_eq!(list.stake_of(&addr(3)), U256::ZERO);
        // A bet of the next round starts its list.
        list.bet(2, addr(3), U256::from(5)).unwrap();
        assert_eq!(
            (list.round_id(), list.len(), list.total()),
            (2, 1, U256::from(5))
        );
    }

    #[test]
    fn top_players_are_the_largest_stakes_ties_by_first_bet() {
        let mut list = ParticipantList::empty(1);
        for (n, amount) in [(1, 5), (2, 9), (3, 7), (4, 9), (5, 1)] {
            list.bet(1, addr(n), U256::from(amount));
        }
        let top: Vec<_> = list.top(3).iter().map(|p| p.address).collect();
        assert_eq!(top, [addr(2), addr(4), addr(3)]);
        assert_eq!(list.top(10).len(), 5);
        assert!(list.top(0).is_empty());
        let first = &list.top(1)[0];
        assert!((first.win_chance - 9.0 / 31.0).abs() < 1e-6);
        assert_eq!(list.page(3, 10).len(), 2);
        assert!(list.page(9, 10).is_empty());
    }

    #[test]
    fn the_wire_form_rebuilds_the_index_and_refuses_duplicates() {
        let mut list = ParticipantList::empty(4);
        list.bet(4, addr(1), U256::from(3));
        list.bet(4, addr(2), U256::from(4));
        let json = serde_json::to_value(&list).unwrap();
        assert_eq!(json["roundId"], 4);
        assert_eq!(json["stakes"][1]["amount"], "4");
        let back: ParticipantList = serde_json::from_value(json.clone()).unwrap();
        assert_eq!(back, list);
        assert_eq!(back.total(), U256::from(7));
        assert_eq!(back.stake_of(&addr(2)), U256::from(4));
        let mut dup = json;
        dup["stakes"][1]["address"] = dup["stakes"][0]["address"].clone();
        let err = serde_json::from_value::<ParticipantList>(dup).unwrap_err();
        assert!(err.to_string().contains("twice"), "{err}");
    }
}
