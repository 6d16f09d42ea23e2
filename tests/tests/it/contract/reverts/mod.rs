//! Every revert path of every state-changing `Lottery` function, against a real anvil.
//!
//! Each test asserts the exact custom error (variant and fields, compared as a whole
//! value) and, next to it, the call that succeeds right at the same boundary: the
//! last second of betting, the first and last second of the draw window, the first
//! second a round may be refunded by anyone, the smallest and largest valid setting.
//! Chain time moves with `next_block_at` / `mine_at`; nothing sleeps.

// setOperator / cancelOperatorChange: see `contract::operator_change`.

mod commit_seed;
mod constructor;
mod draw_winner;
mod extend_betting_time;
mod place_bet;
mod refund;
mod settings;
mod start_round;
mod withdraw;

use abi::{
    contract::{Lottery, LotteryErrors, RevertReason, RoundState},
    draw::{self, Seed},
};
use alloy::{
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider, ext::AnvilApi},
    rpc::types::TransactionRequest,
};
use tests::{Chain, ether, events, hostile::HostilePlayer, milli, ok, revert};

type Instance = Lottery::LotteryInstance<DynProvider>;

/// `bettingDuration` at deployment.
const BETTING_DURATION: u64 = 180;
/// `MIN_DRAW_DELAY_AFTER_END` / `MAX_DRAW_DELAY_AFTER_END`.
const MIN_DRAW_DELAY: u64 = 5;
const MAX_DRAW_DELAY: u64 = 180;
/// `MIN_END_TIME_EXTENSION`.
const MIN_EXTENSION: u64 = 60;
/// `MIN_BETTING_DURATION` / `MAX_BETTING_DURATION`.
const MIN_DURATION: u64 = 60;
const MAX_DURATION: u64 = 7 * 24 * 60 * 60;
/// `MIN_PARTICIPANTS_LOWER` / `MIN_PARTICIPANTS_UPPER`.
const MIN_PARTICIPANTS_LOWER: u64 = 2;
const MIN_PARTICIPANTS_UPPER: u64 = 10_000;
/// Commission used by the tests that do not care about it.
const BPS: u64 = 500;

/// The seed the helpers commit.
fn seed() -> Seed {
    Seed::from_bytes(B256::repeat_byte(7))
}

/// A seed that was never committed.
fn other_seed() -> Seed {
    Seed::from_bytes(B256::repeat_byte(8))
}

/// The largest value a `uint96` holds (the pot and every stake are `uint96`).
fn u96_max() -> U256 {
    (U256::from(1) << 96) - U256::from(1)
}

/// `n` as a `uint256` field value.
fn u(n: u64) -> U256 {
    U256::from(n)
}

/// The times of the current round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Times {
    start: u64,
    end: u64,
    min_draw: u64,
    max_draw: u64,
}

/// The current round's times.
async fn times(lottery: &Instance) -> Times {
    let r = lottery.getRound().call().await.expect("getRound");
    Times {
        start: r.startTime,
        end: r.endTime,
        min_draw: r.minDrawTime,
        max_draw: r.maxDrawTime,
    }
}

/// The current round's state.
async fn state(lottery: &Instance) -> RoundState {
    let raw = lottery.getRound().call().await.expect("getRound").state;
    RoundState::try_from(raw).expect("known RoundState")
}

/// The current round's id.
async fn round_id(lottery: &Instance) -> u64 {
    lottery
        .currentRoundId()
        .call()
        .await
        .expect("currentRoundId")
        .to::<u64>()
}

/// The current round's id as a call argument.
async fn current(lottery: &Instance) -> U256 {
    lottery
        .currentRoundId()
        .call()
        .await
        .expect("currentRoundId")
}

/// Deploys with the operator set and `seed()` committed for round 1 (still WAITING).
async fn committed(chain: &Chain) -> Instance {
    let lottery = chain.deploy_with_operator(BPS).await;
    chain.commit(&lottery, &seed()).await;
    lottery
}

/// Deploys, commits `seed()` and places two bets (player 0: 10 milli-ETH, player 1:
/// 20 milli-ETH), the first at a pinned time, so round 1 is BETTING with known times.
async fn betting_round(chain: &Chain) -> (Instance, Times) {
    let lottery = committed(chain).await;
    let t0 = chain.now().await + 10;
    chain.next_block_at(t0).await;
    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    ok(lottery.placeBet().from(chain.player(1)).value(milli(20))).await;
    let t = times(&lottery).await;
    assert_eq!(
        t,
        Times {
            start: t0,
            end: t0 + BETTING_DURATION,
            min_draw: t0 + BETTING_DURATION + MIN_DRAW_DELAY,
            max_draw: t0 + BETTING_DURATION + MAX_DRAW_DELAY,
        }
    );
    (lottery, t)
}

/// Commits `seed()`, opens betting with `startRound` and no bets at a pinned time.
async fn empty_started_round(chain: &Chain) -> (Instance, Times) {
    let lottery = committed(chain).await;
    let t0 = chain.now().await + 10;
    chain.next_block_at(t0).await;
    ok(lottery.startRound().from(chain.operator())).await;
    let t = times(&lottery).await;
    assert_eq!(t.start, t0);
    (lottery, t)
}

fn not_operator(caller: Address) -> LotteryErrors {
    LotteryErrors::NotOperator(Lottery::NotOperator { caller })
}

fn wrong_state(round: u64, expected: RoundState, actual: RoundState) -> LotteryErrors {
    LotteryErrors::WrongRoundState(Lottery::WrongRoundState {
        roundId: u(round),
        expected: expected as u8,
        actual: actual as u8,
    })
}

fn no_commitment(round: u64) -> LotteryErrors {
    LotteryErrors::NoSeedCommitment(Lottery::NoSeedCommitment { roundId: u(round) })
}

fn seed_mismatch(round: u64) -> LotteryErrors {
    LotteryErrors::SeedMismatch(Lottery::SeedMismatch { roundId: u(round) })
}

fn empty_pot(round: u64) -> LotteryErrors {
    LotteryErrors::EmptyPot(Lottery::EmptyPot { roundId: u(round) })
}

fn invalid_end_time(new_end: u64, earliest: u64, latest: u64) -> LotteryErrors {
    LotteryErrors::InvalidEndTime(Lottery::InvalidEndTime {
        newEndTime: u(new_end),
        earliest: u(earliest),
        latest: u(latest),
    })
}

fn invalid_duration(duration: u64) -> LotteryErrors {
    LotteryErrors::InvalidBettingDuration(Lottery::InvalidBettingDuration {
        duration: u(duration),
        min: u(MIN_DURATION),
        max: u(MAX_DURATION),
    })
}

fn invalid_min_participants(n: u64) -> LotteryErrors {
    LotteryErrors::InvalidMinParticipants(Lottery::InvalidMinParticipants {
        minParticipants: u(n),
        min: u(MIN_PARTICIPANTS_LOWER),
        max: u(MIN_PARTICIPANTS_UPPER),
    })
}
