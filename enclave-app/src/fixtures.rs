//! Views for unit tests: one configuration and one round shape, varied by the few
//! fields a test is about.

use abi::{
    contract::RoundState,
    views::{ConfigView, RoundView},
};
use alloy::primitives::{Address, B256, U256};

/// A configuration with `operator` (a 180 s round, a 5-180 s draw window).
pub(crate) fn config(operator: Option<Address>) -> ConfigView {
    ConfigView {
        publisher: Address::repeat_byte(9),
        operator,
        commission_bps: 0,
        min_bet_amount: U256::from(1),
        betting_duration: 180,
        min_draw_delay_after_end: 5,
        max_draw_delay_after_end: 180,
        min_end_time_extension: 60,
        min_participants: 2,
        operator_delay: 60,
        operator_pcr0: Some("11".repeat(48)),
        pending_operator: None,
    }
}

/// Round `id` started at 1000 and ending at `end_time` (draw window `end_time + 5`
/// to `end_time + 180`), committed, with `pot` wei from `count` players.
pub(crate) fn round(id: u64, state: RoundState, end_time: u64, pot: u64, count: u64) -> RoundView {
    RoundView {
        round_id: id,
        state,
        start_time: 1000,
        end_time,
        min_draw_time: end_time + 5,
        max_draw_time: end_time + 180,
        total_pot: U256::from(pot),
        participant_count: count,
        winner: None,
        prize: U256::ZERO,
        commission: U256::ZERO,
        seed_commitment: Some(B256::repeat_byte(1)),
        revealed_seed: None,
    }
}
