//! The fair-randomness rules, mirrored from `Lottery.sol` so anyone can check a draw
//! off-chain.
//!
//! - The operator commits to `keccak256(abi.encode(chainId, contract, roundId, seed))`
//!   before the round takes bets ([`commitment`]).
//! - `drawWinner(seed)` reveals the seed; the winning ticket is
//!   `uint256(keccak256(abi.encode(seed))) % totalPot` ([`winning_ticket`]), and the
//!   winner is the player whose bet covers that ticket when bets are laid end to end
//!   in the order they were placed ([`winner`]). Nothing else enters the draw.

use alloy::{
    primitives::{Address, B256, U256, keccak256},
    sol_types::SolValue,
};
use rand::TryRngCore;

/// A round's secret seed. Its `Debug` hides the value: a seed leaked before the draw
/// lets anyone predict the winner.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Seed(B256);

impl Seed {
    /// A fresh seed from the operating system's random source.
    ///
    /// # Errors
    /// When the OS random source fails; never fall back to a weaker source.
    pub fn random() -> Result<Self, rand::rand_core::OsError> {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.try_fill_bytes(&mut bytes)?;
        Ok(Self(B256::from(bytes)))
    }

    /// Wraps a known seed (for example one revealed on chain, or typed by an admin).
    pub const fn from_bytes(bytes: B256) -> Self {
        Self(bytes)
    }

    /// The seed's value, for revealing it in `drawWinner`.
    pub const fn reveal(&self) -> B256 {
        self.0
    }
}

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seed(<redacted>)")
    }
}

/// The commitment `commitSeed` expects for `seed` in `round_id` of `contract`.
pub fn commitment(chain_id: u64, contract: Address, round_id: U256, seed: &Seed) -> B256 {
    keccak256((U256::from(chain_id), contract, round_id, seed.0).abi_encode())
}

/// The winning ticket in `[0, total_pot)` for a revealed seed. `None` for an empty pot.
pub fn winning_ticket(seed: B256, total_pot: U256) -> Option<U256> {
    if total_pot.is_zero() {
        return None;
    }
    Some(U256::from_be_bytes(keccak256(seed.abi_encode()).0) % total_pot)
}

/// The winner of a round from its bets in placement order (`(player, amount)`, as the
/// `BetPlaced` events list them) and the revealed seed. `None` when there are no bets.
pub fn winner(bets: &[(Address, U256)], seed: B256) -> Option<Address> {
    let total = bets
        .iter()
        .fold(U256::ZERO, |acc, (_, amount)| acc + amount);
    let ticket = winning_ticket(seed, total)?;
    let mut cumulative = U256::ZERO;
    bets.iter().find_map(|(player, amount)| {
        cumulative += amount;
        (cumulative > ticket).then_some(*player)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seed_debug_is_redacted() {
        let seed = Seed::from_bytes(B256::repeat_byte(0xab));
        assert_eq!(format!("{seed:?}"), "Seed(<redacted>)");
        assert!(!format!("{seed:?}").contains("ab"));
    }

    #[test]
    fn random_seeds_differ() {
        let (a, b) = (Seed::random().unwrap(), Seed::random().unwrap());
        assert_ne!(a.reveal(), b.reveal());
    }

    #[test]
    fn commitment_binds_every_input() {
        let seed = Seed::from_bytes(B256::repeat_byte(1));
        let contract = Address::repeat_byte(2);
        let base = commitment(1, contract, U256::from(1), &seed);
        assert_ne!(base, commitment(2, contract, U256::from(1), &seed));
        assert_ne!(
            base,
            commitment(1, Address::repeat_byte(3), U256::from(1), &seed)
        );
        assert_ne!(base, commitment(1, contract, U256::from(2), &seed));
        assert_ne!(
            base,
            commitment(1, contract, U256::from(1), &Seed::from_bytes(B256::ZERO))
        );
    }

    #[test]
    fn winner_walks_cumulative_stakes() {
        let (a, b) = (Address::repeat_byte(0xa), Address::repeat_byte(0xb));
        // Find seeds landing on each side of the boundary at ticket 10 of 30.
        let bets = [(a, U256::from(10)), (b, U256::from(20))];
        let mut seen = (false, false);
        for i in 0u8..=255 {
            let seed = B256::repeat_byte(i);
            let ticket = winning_ticket(seed, U256::from(30)).unwrap();
            let expected = if ticket < U256::from(10) { a } else { b };
            assert_eq!(winner(&bets, seed), Some(expected));
            if expected == a {
                seen.0 = true
            } else {
                seen.1 = true
            }
        }
        assert!(seen.0 && seen.1, "both players should win for some seed");
    }

    #[test]
    fn no_bets_no_winner() {
        assert_eq!(winner(&[], B256::ZERO), None);
        assert_eq!(winning_ticket(B256::ZERO, U256::ZERO), None);
    }
}
