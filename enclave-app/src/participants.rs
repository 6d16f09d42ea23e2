//! The current round's participants, built from `BetPlaced` logs.
//!
//! Reading the list from the contract costs gas in proportion to the players, about
//! 5,500 a player. Public RPC nodes cap `eth_call` gas, so from about 9,000 players a
//! per-bet read would fail and stop the mirror: a Sybil attack that costs only
//! refundable stakes. So each bet updates the list from its log (the player and its
//! new total) and becomes one O(1) [`StakeDelta`] for the store, and the contract is
//! only asked for the round's totals (pot and participant count, O(1)) to check the
//! list against. The full list is read again (page by page, each page's gas bounded)
//! only when the two disagree: at start, when the round began before the look-back,
//! and after a reorg.

use abi::{
    state::{ParticipantList, StakeDelta, StateChange},
    views::RoundView,
};

/// What the store must hear of a change to the list.
#[derive(Debug, Clone, PartialEq)]
pub enum ParticipantChange {
    /// One bet.
    Stake(StakeDelta),
    /// The whole list replaced.
    Reset(ParticipantList),
}

impl From<ParticipantChange> for StateChange {
    fn from(change: ParticipantChange) -> Self {
        match change {
            ParticipantChange::Stake(delta) => Self::StakeUpdate(delta),
            ParticipantChange::Reset(list) => Self::ParticipantsReset(list),
        }
    }
}
use alloy::primitives::{Address, U256};

/// The participants of one round, and whether the store's copy follows them.
#[derive(Debug, Clone)]
pub struct Participants {
    list: ParticipantList,
    /// The store holds this list, so each bet can go to it as a delta. False after a
    /// reorg until the list is read again: the store keeps showing the last good list
    /// rather than a half-rebuilt one.
    published: bool,
}

impl Default for Participants {
    fn default() -> Self {
        Self {
            list: ParticipantList::empty(0),
            published: true,
        }
    }
}

impl Participants {
    /// Applies a bet of `round_id`: `player`'s stake is now `new_total`. A bet of
    /// another round than the one held starts that round's list. Returns the change
    /// for the store: a [`StakeDelta`], or the whole (new, one-entry) list when the
    /// round changed; nothing when the bet was seen before or the list is not
    /// published.
    pub fn bet(
        &mut self,
        round_id: u64,
        player: Address,
        new_total: U256,
    ) -> Option<ParticipantChange> {
        let new_round = round_id != self.list.round_id();
        let delta = self.list.bet(round_id, player, new_total)?;
        if !self.published {
            return None;
        }
        Some(if new_round {
            ParticipantChange::Reset(self.list.clone())
        } else {
            ParticipantChange::Stake(delta)
        })
    }

    /// Whether the list agrees with the round's totals from the contract. A round
    /// without bets agrees with an empty list of any round (and resets to it); the
    /// reset, when the store must hear of it, is returned too.
    pub fn check(&mut self, round: &RoundView) -> (bool, Option<ParticipantChange>) {
        if round.total_pot.is_zero() && round.participant_count == 0 {
            if round.round_id != self.list.round_id() || !self.list.is_empty() || !self.published {
                self.list = ParticipantList::empty(round.round_id);
                self.published = true;
                return (true, Some(ParticipantChange::Reset(self.list.clone())));
            }
            return (true, None);
        }
        let agrees = round.round_id == self.list.round_id()
            && round.total_pot == self.list.total()
            && round.participant_count == self.list.len() as u64;
        if agrees && !self.published {
            // Rebuilt from logs after a reorg, and right: publish it.
            self.published = true;
            return (true, Some(ParticipantChange::Reset(self.list.clone())));
        }
        (agrees, None)
    }

    /// Replaces the list with a full read; returns the reset for the store (or nothing
    /// when the store already holds exactly this list).
    pub fn replace(&mut self, list: ParticipantList) -> Option<ParticipantChange> {
        let unchanged = self.published && self.list == list;
        self.list = list;
        self.published = true;
        (!unchanged).then(|| ParticipantChange::Reset(self.list.clone()))
    }

    /// Forgets everything (after a reorg): the next check asks for a full read, and
    /// nothing reaches the store until then.
    pub fn invalidate(&mut self) {
        self.list = ParticipantList::empty(u64::MAX);
        self.published = false;
    }

    /// The list held.
    pub const fn list(&self) -> &ParticipantList {
        &self.list
    }
}

#[cfg(test)]
mod tests {
    use abi::{contract::RoundState, state::Stake};

    use super::*;

    fn round(id: u64, pot: u64, count: u64) -> RoundView {
        crate::fixtures::round(id, RoundState::Betting, 2000, pot, count)
    }

    #[test]
    fn bets_become_deltas_and_the_list_is_checked_against_the_round() {
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let mut p = Participants::default();
        // The first bet of round 1 starts its list: a (small) reset.
        assert!(matches!(
            p.bet(1, a, U256::from(10)),
            Some(ParticipantChange::Reset(l)) if l.len() == 1
        ));
        let Some(ParticipantChange::Stake(d)) = p.bet(1, b, U256::from(10)) else {
            panic!("a delta")
        };
        assert_eq!((d.total_pot, d.participant_count), (U256::from(20), 2));
        let Some(ParticipantChange::Stake(d)) = p.bet(1, a, U256::from(30)) else {
            panic!("a delta")
        };
        assert_eq!(
            (d.player, d.stake, d.total_pot),
            (a, U256::from(30), U256::from(40))
        );
        assert_eq!(p.bet(1, a, U256::from(30)), None, "the same log twice");
        assert_eq!(p.check(&round(1, 40, 2)), (true, None));
        assert!(!p.check(&round(1, 50, 2)).0, "a missed bet shows");
        // A new round without bets empties it, once.
        assert!(
            matches!(p.check(&round(3, 0, 0)), (true, Some(ParticipantChange::Reset(l))) if l.is_empty())
        );
        assert_eq!(p.check(&round(3, 0, 0)), (true, None));
        // After a reorg nothing reaches the store until the list is right again.
        p.bet(3, a, U256::from(5));
        p.invalidate();
        assert_eq!(p.bet(3, a, U256::from(5)), None);
        assert!(!p.check(&round(3, 9, 2)).0);
        let full = ParticipantList::new(
            3,
            vec![
                Stake {
                    address: a,
                    amount: U256::from(5),
                },
                Stake {
                    address: b,
                    amount: U256::from(4),
                },
            ],
        )
        .unwrap();
        assert!(matches!(p.replace(full.clone()), Some(ParticipantChange::Reset(l)) if l == full));
        assert_eq!(p.replace(full), None, "the store holds it already");
        assert_eq!(p.check(&round(3, 9, 2)), (true, None));
        assert!(matches!(
            p.bet(3, b, U256::from(6)),
            Some(ParticipantChange::Stake(_))
        ));
    }

    #[test]
    fn a_list_rebuilt_from_logs_after_a_reorg_is_published_once_it_agrees() {
        let a = Address::repeat_byte(1);
        let mut p = Participants::default();
        p.invalidate();
        assert_eq!(p.bet(2, a, U256::from(7)), None);
        assert!(
            matches!(p.check(&round(2, 7, 1)), (true, Some(ParticipantChange::Reset(l))) if l.len() == 1)
        );
        assert!(matches!(
            p.bet(2, a, U256::from(8)),
            Some(ParticipantChange::Stake(_))
        ));
    }
}
