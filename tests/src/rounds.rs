//! Settled rounds played by hand (the operator's key through the test provider): the
//! material for the draw-verification tests, the property test of the winner rule and
//! `verify-bench`. Chain time jumps with anvil's time calls; nothing waits.

use abi::{contract::Lottery, draw::Seed};
use alloy::{
    primitives::{Address, U256},
    providers::DynProvider,
};

use crate::{Chain, ok};

/// How a round played by [`play_round`] ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ending {
    /// `drawWinner` in the first second of the draw window (a refund when too few
    /// players).
    Draw,
    /// `refundRound` by the operator while betting.
    OperatorRefund,
    /// `refundExpiredRound` by a player after the draw window.
    Expire,
}

/// Commits `seed` for the current round, places `bets` (`(account index, wei)`, in
/// order) and ends the round as `ending` says. Returns the round's id.
///
/// # Panics
/// When a step fails.
pub async fn play_round(
    chain: &Chain,
    lottery: &Lottery::LotteryInstance<DynProvider>,
    seed: &Seed,
    bets: &[(usize, U256)],
    ending: Ending,
) -> u64 {
    let id = lottery
        .currentRoundId()
        .call()
        .await
        .expect("currentRoundId");
    chain.commit(lottery, seed).await;
    for (account, amount) in bets {
        ok(lottery
            .placeBet()
            .from(chain.accounts[*account])
            .value(*amount))
        .await;
    }
    let round = lottery.getRound().call().await.expect("getRound");
    match ending {
        Ending::Draw => {
            chain.next_block_at(round.minDrawTime).await;
            ok(lottery.drawWinner(seed.reveal()).from(chain.operator())).await;
        }
        Ending::OperatorRefund => {
            ok(lottery.refundRound(id).from(chain.operator())).await;
        }
        Ending::Expire => {
            chain.next_block_at(round.maxDrawTime + 1).await;
            ok(lottery.refundExpiredRound().from(chain.player(0))).await;
        }
    }
    id.to()
}

/// The winner the contract recorded for round `id`.
///
/// # Panics
/// On RPC failure.
pub async fn winner_of(lottery: &Lottery::LotteryInstance<DynProvider>, id: u64) -> Address {
    lottery
        .getRoundById(U256::from(id))
        .call()
        .await
        .expect("getRoundById")
        .winner
}
