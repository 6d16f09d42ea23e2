//! Gas of each settlement path as rounds grow: the figures behind `BENCHMARKS.md`
//! and the 5,000,000-gas ceiling test.
//!
//! Players are impersonated fresh addresses (anvil's auto-impersonation plus
//! `anvil_setBalance`), so any number of them costs no key generation. The three
//! settlements are measured on the same round through `evm_snapshot`/`evm_revert`.

use abi::draw::Seed;
use alloy::{
    primitives::{Address, B256, U256},
    providers::ext::AnvilApi,
};

use crate::{TestChain, milli, ok};

/// Gas used by each settlement of one round with `participants` players.
#[derive(Debug, Clone, Copy, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SettlementGas {
    /// Distinct players in the round.
    pub participants: usize,
    /// The first bet of the round (opens betting).
    pub first_bet: u64,
    /// A later player's first bet.
    pub later_bet: u64,
    /// `drawWinner` with a winner (no auto-refund).
    pub draw_winner: u64,
    /// `refundRound` by the operator.
    pub refund_round: u64,
    /// `refundExpiredRound` after the draw window.
    pub refund_expired_round: u64,
}

/// A never-used address for player `i` of the lottery at `lottery`: unique per
/// deployment, so measurements on one chain never reuse an address (or its nonce).
fn player_address(lottery: Address, i: usize) -> Address {
    let mut bytes = [0u8; 20];
    bytes[..12].copy_from_slice(&alloy::primitives::keccak256(lottery)[..12]);
    bytes[12..].copy_from_slice(&(i as u64 + 1).to_be_bytes());
    Address::from(bytes)
}

/// Deploys a fresh lottery on `chain`, fills one round with `participants` players
/// and measures every settlement of it.
///
/// # Panics
/// When any step fails: the measurement is meaningless then.
pub async fn measure(chain: &TestChain, participants: usize) -> SettlementGas {
    assert!(participants >= 2, "a draw needs at least two players");
    let lottery = chain.deploy_with_operator(500).await;
    // A long betting window: filling 1,000 players must never race the clock.
    ok(lottery
        .setBettingDuration(U256::from(3600))
        .from(chain.operator()))
    .await;
    let seed = Seed::from_bytes(B256::repeat_byte(0x5e));
    chain.commit(&lottery, &seed).await;

    chain
        .raw
        .anvil_auto_impersonate_account(true)
        .await
        .expect("auto-impersonate");
    let raw = abi::contract::Lottery::new(*lottery.address(), chain.raw.clone());
    let mut first_bet = 0;
    let mut later_bet = 0;
    for i in 0..participants {
        let player = player_address(*lottery.address(), i);
        chain
            .raw
            .anvil_set_balance(player, milli(1000))
            .await
            .expect("anvil_setBalance");
        // Explicit gas and nonce skip the estimate and nonce round trips.
        let pending = raw
            .placeBet()
            .from(player)
            .value(milli(1) + U256::from(i))
            .gas(400_000)
            .nonce(0)
            .send()
            .await
            .expect("placeBet");
        if i < 2 || i + 1 == participants {
            let receipt = pending.get_receipt().await.expect("bet receipt");
            assert!(receipt.status(), "bet {i} reverted");
            match i {
                0 => first_bet = receipt.gas_used,
                1 => later_bet = receipt.gas_used,
                _ => {}
            }
        }
    }
    let round = lottery.getRound().call().await.expect("getRound");
    assert_eq!(
        round.participantCount,
        U256::from(participants),
        "every bet must have landed"
    );

    let draw = in_snapshot(chain, async {
        chain.next_block_at(round.minDrawTime).await;
        let draw = ok(lottery.drawWinner(seed.reveal()).from(chain.operator())).await;
        assert_eq!(
            crate::events::<abi::contract::Lottery::RoundCompleted>(&draw).len(),
            1,
            "the draw must complete"
        );
        draw
    })
    .await;
    let refund = in_snapshot(chain, ok(lottery.refundRound().from(chain.operator()))).await;
    chain.next_block_at(round.maxDrawTime + 1).await;
    let expired = ok(lottery.refundExpiredRound().from(chain.publisher())).await;

    SettlementGas {
        participants,
        first_bet,
        later_bet,
        draw_winner: draw.gas_used,
        refund_round: refund.gas_used,
        refund_expired_round: expired.gas_used,
    }
}

/// Runs `step` and rolls the chain back to before it, so several settlements can be
/// measured on one round.
async fn in_snapshot<T>(chain: &TestChain, step: impl std::future::Future<Output = T>) -> T {
    let snapshot = chain.provider.anvil_snapshot().await.expect("evm_snapshot");
    let out = step.await;
    assert!(
        chain
            .provider
            .anvil_revert(snapshot)
            .await
            .expect("evm_revert"),
        "evm_revert refused"
    );
    out
}
