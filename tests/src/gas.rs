//! Gas of each settlement path as rounds grow: the figures behind `BENCHMARKS.md`
//! and the 5,000,000-gas ceiling test; and [`crowd`], a round filled with thousands
//! of players the same way (the page's 10,000-player browser test).
//!
//! Players are impersonated fresh addresses (anvil's auto-impersonation plus
//! `anvil_setBalance`), so any number of them costs no key generation. The three
//! settlements are measured on three identically filled rounds.

use abi::draw::Seed;
use alloy::{
    primitives::{Address, B256, U256},
    providers::ext::AnvilApi,
};
use futures_util::StreamExt;

use crate::{Chain, milli, ok};

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

/// Deploys three fresh lotteries on `chain`, fills one round of each with the same
/// `participants` players and settles each a different way.
///
/// Three rounds rather than one round and `evm_snapshot`/`evm_revert`: anvil's
/// revert was seen (once, under load in CI) to leave a settled round in place, and a
/// measurement must not depend on it.
///
/// # Panics
/// When any step fails: the measurement is meaningless then.
pub async fn measure(chain: &Chain, participants: usize) -> SettlementGas {
    assert!(participants >= 2, "a draw needs at least two players");
    let seed = Seed::from_bytes(B256::repeat_byte(0x5e));
    let mut lotteries = Vec::with_capacity(3);
    for _ in 0..3 {
        let lottery = chain.deploy_with_operator(500).await;
        // A long betting window: filling 1,000 players must never race the clock.
        ok(lottery
            .setBettingDuration(U256::from(3600))
            .from(chain.operator()))
        .await;
        chain.commit(&lottery, &seed).await;
        lotteries.push(lottery);
    }
    let [to_draw, to_refund, to_expire] = &lotteries[..] else {
        unreachable!("three lotteries were deployed")
    };

    chain
        .raw
        .anvil_auto_impersonate_account(true)
        .await
        .expect("auto-impersonate");
    // The two measured bets are mined one per block; the rest are sent with
    // automine off and mined in full blocks, which is many times faster.
    let first_bet = bet(chain, to_draw, 0).await;
    let later_bet = bet(chain, to_draw, 1).await;
    chain
        .raw
        .anvil_set_auto_mine(false)
        .await
        .expect("anvil_setAutomine");
    // Distinct senders, so order does not matter: keep a few sends in flight.
    let bulk = lotteries.iter().enumerate().flat_map(|(k, lottery)| {
        let skip = if k == 0 { 2 } else { 0 };
        (skip..participants).map(move |i| (lottery, i))
    });
    futures_util::stream::iter(bulk)
        .map(|(lottery, i)| send_bet(chain, lottery, i))
        .buffer_unordered(16)
        // Mined below, block by block.
        .for_each(|_pending| async {})
        .await;
    let mut rounds = Vec::with_capacity(3);
    for lottery in &lotteries {
        let mut blocks = 0;
        let round = loop {
            let round = lottery.getRound().call().await.expect("getRound");
            if round.participantCount >= U256::from(participants) {
                break round;
            }
            // Each block holds a couple of hundred bets; far more blocks than
            // that means bets are being dropped.
            assert!(
                blocks < 50 + participants,
                "bets are not being mined: {} of {participants} after {blocks} blocks",
                round.participantCount
            );
            chain.raw.evm_mine(None).await.expect("evm_mine");
            blocks += 1;
        };
        assert_eq!(
            round.participantCount,
            U256::from(participants),
            "every bet must have landed exactly once"
        );
        rounds.push(round);
    }
    chain
        .raw
        .anvil_set_auto_mine(true)
        .await
        .expect("anvil_setAutomine");

    // Chain time only moves forward: refund now, draw in the window, expire last.
    let refund = ok(to_refund.refundRound(U256::from(1)).from(chain.operator())).await;
    chain.next_block_at(rounds[0].minDrawTime).await;
    let draw = ok(to_draw.drawWinner(seed.reveal()).from(chain.operator())).await;
    assert_eq!(
        crate::events::<abi::contract::Lottery::RoundCompleted>(&draw).len(),
        1,
        "the draw must complete"
    );
    chain.next_block_at(rounds[2].maxDrawTime + 1).await;
    let expired = ok(to_expire.refundExpiredRound().from(chain.publisher())).await;

    SettlementGas {
        participants,
        first_bet,
        later_bet,
        draw_winner: draw.gas_used,
        refund_round: refund.gas_used,
        refund_expired_round: expired.gas_used,
    }
}

/// Player `i`'s first bet in `lottery`, sent and left to the miner.
async fn send_bet(
    chain: &Chain,
    lottery: &abi::contract::Lottery::LotteryInstance<alloy::providers::DynProvider>,
    i: usize,
) -> alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum> {
    send_nth_bet(chain, lottery, i, 0).await
}

/// Player `i`'s bet number `nonce` (0 first) in `lottery`, sent and left to the
/// miner; the first one funds the player.
async fn send_nth_bet(
    chain: &Chain,
    lottery: &abi::contract::Lottery::LotteryInstance<alloy::providers::DynProvider>,
    i: usize,
    nonce: u64,
) -> alloy::providers::PendingTransactionBuilder<alloy::network::Ethereum> {
    let player = player_address(*lottery.address(), i);
    if nonce == 0 {
        chain
            .raw
            .anvil_set_balance(player, milli(1000))
            .await
            .expect("anvil_setBalance");
    }
    let raw = abi::contract::Lottery::new(*lottery.address(), chain.raw.clone());
    // A fresh address, explicit gas, fees and nonce: no estimate, fee or nonce
    // round trips. Full blocks raise the base fee 12.5% a block, so the fee cap
    // leaves room for the few dozen blocks a large round takes.
    raw.placeBet()
        .from(player)
        .value(milli(1) + U256::from(i))
        .gas(400_000)
        .max_fee_per_gas(100_000_000_000)
        .max_priority_fee_per_gas(1)
        .nonce(nonce)
        .send()
        .await
        .expect("placeBet")
}

/// Player `i`'s bet in `lottery`, mined; its gas.
async fn bet(
    chain: &Chain,
    lottery: &abi::contract::Lottery::LotteryInstance<alloy::providers::DynProvider>,
    i: usize,
) -> u64 {
    let receipt = send_bet(chain, lottery, i)
        .await
        .get_receipt()
        .await
        .expect("bet receipt");
    assert!(receipt.status(), "bet {i} reverted");
    receipt.gas_used
}

/// Fills the current round of `lottery` with `players` more players, the
/// impersonated fresh addresses [`player_address`] names (`0..players`), each
/// betting 0.001 ETH plus its index in wei (so stakes differ and the top list is
/// well defined). Sent with automine off and mined in full blocks, as [`measure`]
/// does; automine is back on when it returns. Returns the blocks it mined.
///
/// The round must take bets (its seed committed) and its betting window must
/// outlast the fill: the first of these bets opens it.
///
/// # Panics
/// When a step fails or bets stop being mined.
pub async fn crowd(
    chain: &Chain,
    lottery: &abi::contract::Lottery::LotteryInstance<alloy::providers::DynProvider>,
    players: usize,
) -> usize {
    chain
        .raw
        .anvil_auto_impersonate_account(true)
        .await
        .expect("auto-impersonate");
    let before = lottery
        .getRound()
        .call()
        .await
        .expect("getRound")
        .participantCount;
    chain
        .raw
        .anvil_set_auto_mine(false)
        .await
        .expect("anvil_setAutomine");
    futures_util::stream::iter(0..players)
        .map(|i| send_bet(chain, lottery, i))
        .buffer_unordered(16)
        .for_each(|_pending| async {})
        .await;
    let want = before + U256::from(players);
    let mut blocks = 0;
    loop {
        let round = lottery.getRound().call().await.expect("getRound");
        if round.participantCount >= want {
            assert_eq!(
                round.participantCount, want,
                "every bet must have landed exactly once"
            );
            break;
        }
        // A couple of hundred bets a block: far more blocks means bets are dropped.
        assert!(
            blocks < 50 + players,
            "bets are not being mined: {} of {want} after {blocks} blocks",
            round.participantCount
        );
        chain.raw.evm_mine(None).await.expect("evm_mine");
        blocks += 1;
    }
    chain
        .raw
        .anvil_set_auto_mine(true)
        .await
        .expect("anvil_setAutomine");
    blocks
}

/// Players one wave of [`crowd_in_waves`] sends: about what a 30M-gas block holds
/// (about 117k gas a bet).
pub const WAVE: usize = 250;

/// Fills the current round of `lottery` with players `players` (the addresses
/// [`player_address`] names, each betting 0.001 ETH plus its index in wei, and every
/// `top_up_every`-th betting that again), on a chain that mines by itself
/// (`--block-time`), in waves of [`WAVE`]: each wave is mined before the next is
/// sent, because anvil's interval miner was seen to drop part of a pool several
/// blocks deep. The round must take bets and outlast the fill.
///
/// # Panics
/// When a step fails or a wave is not mined within 60 s.
pub async fn crowd_in_waves(
    chain: &Chain,
    lottery: &abi::contract::Lottery::LotteryInstance<alloy::providers::DynProvider>,
    players: std::ops::Range<usize>,
    top_up_every: Option<usize>,
) {
    chain
        .raw
        .anvil_auto_impersonate_account(true)
        .await
        .expect("auto-impersonate");
    let bets = |i: usize| {
        if top_up_every.is_some_and(|n| i.is_multiple_of(n)) {
            2
        } else {
            1
        }
    };
    let start = lottery.getRound().call().await.expect("getRound");
    let (mut count, mut pot) = (start.participantCount, start.totalPot);
    let mut from = players.start;
    while from < players.end {
        let wave = from..(from + WAVE).min(players.end);
        for i in wave.clone() {
            count += U256::from(1);
            pot += (milli(1) + U256::from(i)) * U256::from(bets(i));
        }
        futures_util::stream::iter(wave.clone())
            .map(|i| async move {
                // A player's bets in nonce order: the node would give two quick
                // sends from one account the same nonce.
                for nonce in 0..bets(i) {
                    let _pending = send_nth_bet(chain, lottery, i, nonce as u64).await;
                }
            })
            .buffer_unordered(16)
            .for_each(|()| async {})
            .await;
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            let round = lottery.getRound().call().await.expect("getRound");
            if round.participantCount == count && round.totalPot == pot {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "only {} of {count} players ({} of {pot} wei) mined",
                round.participantCount,
                round.totalPot
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        from = wave.end;
    }
}
