//! Every revert path of every state-changing `Lottery` function, against a real anvil.
//!
//! Each test asserts the exact custom error (variant and fields, compared as a whole
//! value) and, next to it, the call that succeeds right at the same boundary: the
//! last second of betting, the first and last second of the draw window, the first
//! second a round may be refunded by anyone, the smallest and largest valid setting.
//! Chain time moves with `next_block_at` / `mine_at`; nothing sleeps.

use abi::{
    contract::{Lottery, LotteryErrors, RevertReason, RoundState},
    draw::{self, Seed},
};
use alloy::{
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider, ext::AnvilApi},
    rpc::types::TransactionRequest,
};
use tests::{TestChain, ether, events, hostile::HostilePlayer, milli, ok, revert};

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
async fn committed(chain: &TestChain) -> Instance {
    let lottery = chain.deploy_with_operator(BPS).await;
    chain.commit(&lottery, &seed()).await;
    lottery
}

/// Deploys, commits `seed()` and places two bets (player 0: 10 milli-ETH, player 1:
/// 20 milli-ETH), the first at a pinned time, so round 1 is BETTING with known times.
async fn betting_round(chain: &TestChain) -> (Instance, Times) {
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
async fn empty_started_round(chain: &TestChain) -> (Instance, Times) {
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

// -------------------------------------------------------------------------------------
// Constructor
// -------------------------------------------------------------------------------------

#[tokio::test]
async fn constructor_rejects_commission_above_1000_bps_and_accepts_exactly_1000() {
    let chain = TestChain::start().await;

    let err = Lottery::deploy_builder(
        chain.provider.clone(),
        U256::from(1001),
        U256::from(tests::OPERATOR_DELAY),
    )
    .from(chain.publisher())
    .deploy()
    .await
    .expect_err("a 1001 bps commission must not deploy");
    assert_eq!(
        RevertReason::from_error(&err),
        Some(RevertReason::Lottery(LotteryErrors::CommissionTooHigh(
            Lottery::CommissionTooHigh {
                commissionBps: u(1001),
                maxCommissionBps: u(1000),
            }
        ))),
        "{err}"
    );

    let lottery = chain.deploy(1000).await;
    assert_eq!(lottery.commissionBps().call().await.unwrap(), u(1000));
    let config = lottery.getConfig().call().await.unwrap();
    assert_eq!(config.commissionBps, u(1000));
    assert_eq!(config.publisher, chain.publisher());
    assert_eq!(config.operator, Address::ZERO);
    assert_eq!(round_id(&lottery).await, 1);
    assert_eq!(state(&lottery).await, RoundState::Waiting);

    // Zero commission is valid too.
    let free = chain.deploy(0).await;
    assert_eq!(free.commissionBps().call().await.unwrap(), U256::ZERO);
}

// -------------------------------------------------------------------------------------
// setOperator / cancelOperatorChange: see operator_change.rs
// -------------------------------------------------------------------------------------

// -------------------------------------------------------------------------------------
// commitSeed
// -------------------------------------------------------------------------------------

#[tokio::test]
async fn commit_seed_rejects_wrong_caller_round_and_zero() {
    let chain = TestChain::start().await;
    let lottery = chain.deploy_with_operator(BPS).await;
    let c1 = draw::commitment(chain.chain_id().await, *lottery.address(), u(1), &seed());

    for caller in [chain.publisher(), chain.player(0)] {
        assert_eq!(
            revert(lottery.commitSeed(u(1), c1).from(caller)).await,
            not_operator(caller)
        );
    }
    for wrong in [0, 2, 7] {
        assert_eq!(
            revert(lottery.commitSeed(u(wrong), c1).from(chain.operator())).await,
            LotteryErrors::NotCurrentRound(Lottery::NotCurrentRound {
                roundId: u(wrong),
                currentRoundId: u(1),
            })
        );
    }
    assert_eq!(
        revert(lottery.commitSeed(u(1), B256::ZERO).from(chain.operator())).await,
        LotteryErrors::ZeroCommitment(Lottery::ZeroCommitment {})
    );
    assert_eq!(
        lottery.getRound().call().await.unwrap().seedCommitment,
        B256::ZERO
    );

    let receipt = ok(lottery.commitSeed(u(1), c1).from(chain.operator())).await;
    assert_eq!(
        events::<Lottery::SeedCommitted>(&receipt),
        vec![Lottery::SeedCommitted {
            roundId: u(1),
            commitment: c1
        }]
    );
    assert_eq!(lottery.getRound().call().await.unwrap().seedCommitment, c1);
}

#[tokio::test]
async fn commit_seed_can_be_replaced_while_waiting_and_the_last_one_wins() {
    let chain = TestChain::start().await;
    let lottery = chain.deploy_with_operator(BPS).await;
    let chain_id = chain.chain_id().await;
    let first = draw::commitment(chain_id, *lottery.address(), u(1), &seed());
    let second = draw::commitment(chain_id, *lottery.address(), u(1), &other_seed());

    let r1 = ok(lottery.commitSeed(u(1), first).from(chain.operator())).await;
    let r2 = ok(lottery.commitSeed(u(1), second).from(chain.operator())).await;
    assert_eq!(
        events::<Lottery::SeedCommitted>(&r1),
        vec![Lottery::SeedCommitted {
            roundId: u(1),
            commitment: first
        }]
    );
    assert_eq!(
        events::<Lottery::SeedCommitted>(&r2),
        vec![Lottery::SeedCommitted {
            roundId: u(1),
            commitment: second
        }]
    );
    assert_eq!(
        lottery.getRound().call().await.unwrap().seedCommitment,
        second
    );

    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    ok(lottery.placeBet().from(chain.player(1)).value(milli(20))).await;
    let t = times(&lottery).await;
    chain.next_block_at(t.min_draw).await;
    assert_eq!(
        revert(lottery.drawWinner(seed().reveal()).from(chain.operator())).await,
        seed_mismatch(1)
    );
    let receipt = ok(lottery
        .drawWinner(other_seed().reveal())
        .from(chain.operator()))
    .await;
    let completed = events::<Lottery::RoundCompleted>(&receipt);
    assert_eq!(completed.len(), 1);
    assert_eq!(completed[0].seed, other_seed().reveal());
    assert_eq!(completed[0].totalPot, milli(30));
    assert_eq!(
        lottery
            .getRoundById(u(1))
            .call()
            .await
            .unwrap()
            .revealedSeed,
        other_seed().reveal()
    );
}

#[tokio::test]
async fn commit_seed_is_locked_after_the_first_bet_but_not_by_an_empty_start() {
    let chain = TestChain::start().await;
    let (lottery, _) = empty_started_round(&chain).await;
    let replacement = draw::commitment(
        chain.chain_id().await,
        *lottery.address(),
        u(1),
        &other_seed(),
    );

    // BETTING without bets: the operator may still replace its commitment.
    ok(lottery.commitSeed(u(1), replacement).from(chain.operator())).await;
    assert_eq!(
        lottery.getRound().call().await.unwrap().seedCommitment,
        replacement
    );

    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    let original = draw::commitment(chain.chain_id().await, *lottery.address(), u(1), &seed());
    assert_eq!(
        revert(lottery.commitSeed(u(1), original).from(chain.operator())).await,
        LotteryErrors::CommitmentLocked(Lottery::CommitmentLocked { roundId: u(1) })
    );
    assert_eq!(
        lottery.getRound().call().await.unwrap().seedCommitment,
        replacement
    );

    // Once the round settles, committing to it again is a wrong-round error.
    ok(lottery
        .refundRound(current(&lottery).await)
        .from(chain.operator()))
    .await;
    assert_eq!(
        revert(lottery.commitSeed(u(1), original).from(chain.operator())).await,
        LotteryErrors::NotCurrentRound(Lottery::NotCurrentRound {
            roundId: u(1),
            currentRoundId: u(2)
        })
    );
}

// -------------------------------------------------------------------------------------
// startRound
// -------------------------------------------------------------------------------------

#[tokio::test]
async fn start_round_rejects_wrong_caller_missing_commitment_and_wrong_state() {
    let chain = TestChain::start().await;
    let lottery = chain.deploy_with_operator(BPS).await;

    for caller in [chain.publisher(), chain.player(0)] {
        assert_eq!(
            revert(lottery.startRound().from(caller)).await,
            not_operator(caller)
        );
    }
    assert_eq!(
        revert(lottery.startRound().from(chain.operator())).await,
        no_commitment(1)
    );

    chain.commit(&lottery, &seed()).await;
    // A non-default duration shows the end comes from the configuration.
    ok(lottery.setBettingDuration(u(600)).from(chain.operator())).await;
    let t0 = chain.now().await + 10;
    chain.next_block_at(t0).await;
    let receipt = ok(lottery.startRound().from(chain.operator())).await;
    assert_eq!(
        events::<Lottery::RoundStateChanged>(&receipt),
        vec![Lottery::RoundStateChanged {
            roundId: u(1),
            oldState: RoundState::Waiting as u8,
            newState: RoundState::Betting as u8,
        }]
    );
    let round = lottery.getRound().call().await.unwrap();
    assert_eq!(
        RoundState::try_from(round.state).unwrap(),
        RoundState::Betting
    );
    assert_eq!(round.startTime, t0);
    assert_eq!(round.endTime, t0 + 600);
    assert_eq!(round.minDrawTime, t0 + 600 + MIN_DRAW_DELAY);
    assert_eq!(round.maxDrawTime, t0 + 600 + MAX_DRAW_DELAY);
    assert_eq!(round.totalPot, U256::ZERO);
    assert_eq!(round.participantCount, U256::ZERO);

    assert_eq!(
        revert(lottery.startRound().from(chain.operator())).await,
        wrong_state(1, RoundState::Waiting, RoundState::Betting)
    );
    // A bet after an explicit start does not move the times.
    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    assert_eq!(times(&lottery).await.start, t0);
}

// -------------------------------------------------------------------------------------
// placeBet
// -------------------------------------------------------------------------------------

#[tokio::test]
async fn place_bet_rejects_bets_below_the_minimum_and_accepts_exactly_the_minimum() {
    let chain = TestChain::start().await;
    let lottery = committed(&chain).await;
    let min = milli(1);
    assert_eq!(lottery.minBetAmount().call().await.unwrap(), min);

    for value in [U256::ZERO, min - U256::from(1)] {
        assert_eq!(
            revert(lottery.placeBet().from(chain.player(0)).value(value)).await,
            LotteryErrors::BetTooSmall(Lottery::BetTooSmall {
                amount: value,
                minBetAmount: min
            })
        );
    }
    assert_eq!(state(&lottery).await, RoundState::Waiting);

    let receipt = ok(lottery.placeBet().from(chain.player(0)).value(min)).await;
    let bets = events::<Lottery::BetPlaced>(&receipt);
    assert_eq!(bets.len(), 1);
    assert_eq!(bets[0].amount, min);
    assert_eq!(
        lottery.getBetAmount(chain.player(0)).call().await.unwrap(),
        min
    );
    assert_eq!(state(&lottery).await, RoundState::Betting);

    // The minimum follows the configuration (set in the next WAITING round).
    ok(lottery
        .refundRound(current(&lottery).await)
        .from(chain.operator()))
    .await;
    ok(lottery.setMinBetAmount(milli(5)).from(chain.operator())).await;
    chain.commit(&lottery, &seed()).await;
    assert_eq!(
        revert(lottery.placeBet().from(chain.player(1)).value(milli(4))).await,
        LotteryErrors::BetTooSmall(Lottery::BetTooSmall {
            amount: milli(4),
            minBetAmount: milli(5)
        })
    );
    ok(lottery.placeBet().from(chain.player(1)).value(milli(5))).await;
}

#[tokio::test]
async fn place_bet_needs_a_seed_commitment() {
    let chain = TestChain::start().await;
    let lottery = chain.deploy_with_operator(BPS).await;
    assert_eq!(
        revert(lottery.placeBet().from(chain.player(0)).value(milli(10))).await,
        no_commitment(1)
    );
    // The bet-size check comes first.
    assert_eq!(
        revert(lottery.placeBet().from(chain.player(0)).value(U256::ZERO)).await,
        LotteryErrors::BetTooSmall(Lottery::BetTooSmall {
            amount: U256::ZERO,
            minBetAmount: milli(1)
        })
    );
    assert_eq!(chain.balance(*lottery.address()).await, U256::ZERO);
    assert_eq!(state(&lottery).await, RoundState::Waiting);
}

#[tokio::test]
async fn place_bet_is_open_through_end_time_and_closed_one_second_later() {
    let chain = TestChain::start().await;
    let (lottery, t) = betting_round(&chain).await;

    chain.next_block_at(t.end).await;
    let receipt = ok(lottery.placeBet().from(chain.player(2)).value(milli(5))).await;
    assert_eq!(
        events::<Lottery::BetPlaced>(&receipt)[0].timestamp,
        u(t.end)
    );

    let closed = LotteryErrors::BettingClosed(Lottery::BettingClosed {
        roundId: u(1),
        timestamp: u(t.end + 1),
        endTime: u(t.end),
    });
    chain.next_block_at(t.end + 1).await;
    assert_eq!(
        revert(lottery.placeBet().from(chain.player(3)).value(milli(5))).await,
        closed
    );
    // Also for a player topping up an existing stake.
    chain.next_block_at(t.end + 1).await;
    assert_eq!(
        revert(lottery.placeBet().from(chain.player(0)).value(milli(5))).await,
        closed
    );

    let round = lottery.getRound().call().await.unwrap();
    assert_eq!(round.totalPot, milli(35));
    assert_eq!(round.participantCount, u(3));
    assert_eq!(chain.balance(*lottery.address()).await, milli(35));
}

#[tokio::test]
async fn place_bet_repeated_bets_accumulate_per_player() {
    let chain = TestChain::start().await;
    let lottery = committed(&chain).await;
    let p = chain.player(0);

    let mut totals = Vec::new();
    for n in [1, 2, 3] {
        let receipt = ok(lottery.placeBet().from(p).value(milli(n))).await;
        let bets = events::<Lottery::BetPlaced>(&receipt);
        assert_eq!(bets.len(), 1);
        assert_eq!(
            (bets[0].roundId, bets[0].player, bets[0].amount),
            (u(1), p, milli(n))
        );
        totals.push(bets[0].newTotal);
    }
    assert_eq!(totals, vec![milli(1), milli(3), milli(6)]);
    assert_eq!(lottery.getBetAmount(p).call().await.unwrap(), milli(6));

    let round = lottery.getRound().call().await.unwrap();
    assert_eq!(round.participantCount, u(1));
    assert_eq!(round.totalPot, milli(6));
    let participants = lottery.getParticipants().call().await.unwrap();
    assert_eq!(participants.len(), 1);
    assert_eq!(
        (participants[0].player, participants[0].amount),
        (p, milli(6))
    );

    // A second player is a second participant.
    ok(lottery.placeBet().from(chain.player(1)).value(milli(1))).await;
    assert_eq!(
        lottery.getRound().call().await.unwrap().participantCount,
        u(2)
    );
    assert_eq!(lottery.getBetAmount(p).call().await.unwrap(), milli(6));
}

#[tokio::test]
async fn place_bet_rejects_a_pot_above_uint96() {
    let chain = TestChain::start().await;
    let lottery = committed(&chain).await;
    let (whale, other) = (chain.player(0), chain.player(1));
    chain
        .provider
        .anvil_set_balance(whale, u96_max() + ether(10))
        .await
        .unwrap();

    // Exactly the largest pot is fine...
    ok(lottery.placeBet().from(whale).value(u96_max() - milli(1))).await;
    ok(lottery.placeBet().from(other).value(milli(1))).await;
    assert_eq!(lottery.getRound().call().await.unwrap().totalPot, u96_max());
    // ...one more wei is not.
    let value = milli(1);
    assert_eq!(
        revert(lottery.placeBet().from(other).value(value)).await,
        LotteryErrors::PotTooLarge(Lottery::PotTooLarge {
            totalPot: u96_max() + value
        })
    );
    assert_eq!(lottery.getBetAmount(other).call().await.unwrap(), milli(1));
}

// -------------------------------------------------------------------------------------
// extendBettingTime
// -------------------------------------------------------------------------------------

#[tokio::test]
async fn extend_betting_time_rejects_wrong_caller_and_wrong_state() {
    let chain = TestChain::start().await;
    let lottery = committed(&chain).await;
    let far = chain.now().await + 1000;

    assert_eq!(
        revert(lottery.extendBettingTime(u(far)).from(chain.operator())).await,
        wrong_state(1, RoundState::Betting, RoundState::Waiting)
    );
    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    for caller in [chain.publisher(), chain.player(0)] {
        assert_eq!(
            revert(lottery.extendBettingTime(u(far)).from(caller)).await,
            not_operator(caller)
        );
    }
    ok(lottery.extendBettingTime(u(far)).from(chain.operator())).await;
    assert_eq!(times(&lottery).await.end, far);
}

#[tokio::test]
async fn extend_betting_time_is_not_allowed_at_or_after_end_time() {
    let chain = TestChain::start().await;
    let (lottery, t) = betting_round(&chain).await;

    for at in [t.end, t.end + 1] {
        chain.next_block_at(at).await;
        assert_eq!(
            revert(
                lottery
                    .extendBettingTime(u(at + 600))
                    .from(chain.operator())
            )
            .await,
            LotteryErrors::ExtensionNotAllowed(Lottery::ExtensionNotAllowed {
                roundId: u(1),
                timestamp: u(at),
                endTime: u(t.end),
            })
        );
    }
    // One second before the end it still works.
    chain.next_block_at(t.end - 1).await;
    ok(lottery
        .extendBettingTime(u(t.end - 1 + MIN_EXTENSION))
        .from(chain.operator()))
    .await;
    assert_eq!(times(&lottery).await.end, t.end - 1 + MIN_EXTENSION);
}

#[tokio::test]
async fn extend_betting_time_bounds_the_new_end_time() {
    let chain = TestChain::start().await;
    let (lottery, t) = betting_round(&chain).await;

    // Early in betting, `now + 60` is before the end: the floor is `endTime + 1`. The
    // ceiling is `startTime + MAX_BETTING_DURATION` whenever it is asked.
    let now = t.start + 10;
    let (earliest, latest) = (t.end + 1, t.start + MAX_DURATION);
    for bad in [t.end - 1, t.end, latest + 1] {
        chain.next_block_at(now).await;
        assert_eq!(
            revert(lottery.extendBettingTime(u(bad)).from(chain.operator())).await,
            invalid_end_time(bad, earliest, latest)
        );
    }
    chain.next_block_at(now).await;
    ok(lottery
        .extendBettingTime(u(earliest))
        .from(chain.operator()))
    .await;
    assert_eq!(times(&lottery).await.end, t.end + 1);
    let end = t.end + 1;

    // Near the end, the floor is `now + MIN_END_TIME_EXTENSION`.
    let now = end - 10;
    let (earliest, latest) = (now + MIN_EXTENSION, t.start + MAX_DURATION);
    assert!(earliest > end + 1);
    chain.next_block_at(now).await;
    assert_eq!(
        revert(
            lottery
                .extendBettingTime(u(earliest - 1))
                .from(chain.operator())
        )
        .await,
        invalid_end_time(earliest - 1, earliest, latest)
    );
    chain.next_block_at(now).await;
    let receipt = ok(lottery
        .extendBettingTime(u(earliest))
        .from(chain.operator()))
    .await;
    assert_eq!(
        events::<Lottery::EndTimeExtended>(&receipt),
        vec![Lottery::EndTimeExtended {
            roundId: u(1),
            oldEndTime: u(end),
            newEndTime: u(earliest),
            minDrawTime: u(earliest + MIN_DRAW_DELAY),
            maxDrawTime: u(earliest + MAX_DRAW_DELAY),
        }]
    );
    let end = earliest;

    // The ceiling is `startTime + MAX_BETTING_DURATION`, inclusive, however late the
    // extension is asked.
    let now = now + 1;
    let latest = t.start + MAX_DURATION;
    chain.next_block_at(now).await;
    assert_eq!(
        revert(
            lottery
                .extendBettingTime(u(latest + 1))
                .from(chain.operator())
        )
        .await,
        invalid_end_time(latest + 1, now + MIN_EXTENSION, latest)
    );
    chain.next_block_at(now).await;
    let receipt = ok(lottery.extendBettingTime(u(latest)).from(chain.operator())).await;
    assert_eq!(
        events::<Lottery::EndTimeExtended>(&receipt)[0].oldEndTime,
        u(end)
    );
    assert_eq!(
        times(&lottery).await,
        Times {
            start: t.start,
            end: latest,
            min_draw: latest + MIN_DRAW_DELAY,
            max_draw: latest + MAX_DRAW_DELAY,
        }
    );
}

#[tokio::test]
async fn extend_betting_time_repeatedly_never_passes_start_plus_max_betting_duration() {
    let chain = TestChain::start().await;
    let (lottery, t) = betting_round(&chain).await;
    let ceiling = t.start + MAX_DURATION;
    // An operator key in the wrong hands extends again and again, each time as far as
    // it may, just before the current end: the end reaches the ceiling and stays.
    let mut end = t.end;
    for _ in 0..4 {
        let now = end - 1;
        chain.next_block_at(now).await;
        let far = (now + MAX_DURATION).min(ceiling);
        ok(lottery.extendBettingTime(u(far)).from(chain.operator())).await;
        end = times(&lottery).await.end;
        assert!(end <= ceiling, "end {end} passed the ceiling {ceiling}");
        if end == ceiling {
            break;
        }
    }
    assert_eq!(end, ceiling);
    // At the ceiling no extension is possible any more: the earliest new end is past
    // the latest.
    let now = ceiling - 30;
    chain.next_block_at(now).await;
    assert_eq!(
        revert(
            lottery
                .extendBettingTime(u(ceiling + MIN_EXTENSION))
                .from(chain.operator())
        )
        .await,
        invalid_end_time(ceiling + MIN_EXTENSION, now + MIN_EXTENSION, ceiling)
    );
    // ... so anyone can refund at `ceiling + MAX_DRAW_DELAY + 1`.
    chain.next_block_at(ceiling + MAX_DRAW_DELAY + 1).await;
    ok(lottery.refundExpiredRound().from(chain.player(3))).await;
    assert_eq!(round_id(&lottery).await, 2);
}

#[tokio::test]
async fn extend_betting_time_moves_the_betting_and_draw_windows() {
    let chain = TestChain::start().await;
    let (lottery, t) = betting_round(&chain).await;
    let new_end = t.end + 1000;
    ok(lottery.extendBettingTime(u(new_end)).from(chain.operator())).await;

    // Betting is open past the old end...
    chain.next_block_at(t.end + 1).await;
    ok(lottery.placeBet().from(chain.player(2)).value(milli(5))).await;
    // ...the old draw window is now too early...
    chain.next_block_at(t.min_draw).await;
    assert_eq!(
        revert(lottery.drawWinner(seed().reveal()).from(chain.operator())).await,
        LotteryErrors::DrawTooEarly(Lottery::DrawTooEarly {
            roundId: u(1),
            timestamp: u(t.min_draw),
            minDrawTime: u(new_end + MIN_DRAW_DELAY),
        })
    );
    // ...and the round does not expire at the old deadline.
    chain.next_block_at(t.max_draw + 1).await;
    assert_eq!(
        revert(lottery.refundExpiredRound().from(chain.player(0))).await,
        LotteryErrors::RoundNotExpired(Lottery::RoundNotExpired {
            roundId: u(1),
            timestamp: u(t.max_draw + 1),
            maxDrawTime: u(new_end + MAX_DRAW_DELAY),
        })
    );
    chain.next_block_at(new_end + MIN_DRAW_DELAY).await;
    ok(lottery.drawWinner(seed().reveal()).from(chain.operator())).await;
    assert_eq!(round_id(&lottery).await, 2);
}

// -------------------------------------------------------------------------------------
// drawWinner
// -------------------------------------------------------------------------------------

#[tokio::test]
async fn draw_winner_rejects_wrong_caller_and_wrong_state() {
    let chain = TestChain::start().await;
    let lottery = committed(&chain).await;
    assert_eq!(
        revert(lottery.drawWinner(seed().reveal()).from(chain.operator())).await,
        wrong_state(1, RoundState::Betting, RoundState::Waiting)
    );

    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    ok(lottery.placeBet().from(chain.player(1)).value(milli(10))).await;
    let t = times(&lottery).await;
    chain.mine_at(t.min_draw).await;
    for caller in [chain.publisher(), chain.player(0)] {
        assert_eq!(
            revert(lottery.drawWinner(seed().reveal()).from(caller)).await,
            not_operator(caller)
        );
    }
    ok(lottery.drawWinner(seed().reveal()).from(chain.operator())).await;
    // The next round is WAITING: no second draw.
    assert_eq!(
        revert(lottery.drawWinner(seed().reveal()).from(chain.operator())).await,
        wrong_state(2, RoundState::Betting, RoundState::Waiting)
    );
}

#[tokio::test]
async fn draw_winner_window_opens_exactly_at_min_draw_time() {
    let chain = TestChain::start().await;
    let (lottery, t) = betting_round(&chain).await;

    for at in [t.end, t.min_draw - 1] {
        chain.next_block_at(at).await;
        assert_eq!(
            revert(lottery.drawWinner(seed().reveal()).from(chain.operator())).await,
            LotteryErrors::DrawTooEarly(Lottery::DrawTooEarly {
                roundId: u(1),
                timestamp: u(at),
                minDrawTime: u(t.min_draw),
            })
        );
    }
    // The time check comes before the seed check.
    chain.next_block_at(t.min_draw - 1).await;
    assert!(matches!(
        revert(
            lottery
                .drawWinner(other_seed().reveal())
                .from(chain.operator())
        )
        .await,
        LotteryErrors::DrawTooEarly(_)
    ));

    chain.next_block_at(t.min_draw).await;
    let receipt = ok(lottery.drawWinner(seed().reveal()).from(chain.operator())).await;
    let completed = events::<Lottery::RoundCompleted>(&receipt);
    assert_eq!(completed.len(), 1);
    assert_eq!(
        (completed[0].roundId, completed[0].totalPot),
        (u(1), milli(30))
    );
    let settled = lottery.getRoundById(u(1)).call().await.unwrap();
    assert_eq!(
        RoundState::try_from(settled.state).unwrap(),
        RoundState::Completed
    );
    assert_eq!(settled.revealedSeed, seed().reveal());
}

#[tokio::test]
async fn draw_winner_window_closes_after_max_draw_time() {
    let chain = TestChain::start().await;
    let (lottery, t) = betting_round(&chain).await;

    for at in [t.max_draw + 1, t.max_draw + 1000] {
        chain.next_block_at(at).await;
        assert_eq!(
            revert(lottery.drawWinner(seed().reveal()).from(chain.operator())).await,
            LotteryErrors::DrawWindowClosed(Lottery::DrawWindowClosed {
                roundId: u(1),
                timestamp: u(at),
                maxDrawTime: u(t.max_draw),
            })
        );
    }
    assert_eq!(state(&lottery).await, RoundState::Betting);
}

#[tokio::test]
async fn draw_winner_succeeds_exactly_at_max_draw_time() {
    let chain = TestChain::start().await;
    let (lottery, t) = betting_round(&chain).await;

    chain.next_block_at(t.max_draw).await;
    let receipt = ok(lottery.drawWinner(seed().reveal()).from(chain.operator())).await;
    assert_eq!(events::<Lottery::RoundCompleted>(&receipt).len(), 1);
    assert_eq!(
        RoundState::try_from(lottery.getRoundById(u(1)).call().await.unwrap().state).unwrap(),
        RoundState::Completed
    );
    assert_eq!(round_id(&lottery).await, 2);
}

#[tokio::test]
async fn draw_winner_rejects_an_empty_pot() {
    let chain = TestChain::start().await;
    let (lottery, t) = empty_started_round(&chain).await;

    chain.next_block_at(t.min_draw).await;
    assert_eq!(
        revert(lottery.drawWinner(seed().reveal()).from(chain.operator())).await,
        empty_pot(1)
    );
    chain.next_block_at(t.max_draw).await;
    assert_eq!(
        revert(lottery.drawWinner(seed().reveal()).from(chain.operator())).await,
        empty_pot(1)
    );
    assert_eq!(state(&lottery).await, RoundState::Betting);
}

#[tokio::test]
async fn draw_winner_rejects_a_seed_that_does_not_match_the_commitment() {
    let chain = TestChain::start().await;
    let (lottery, t) = betting_round(&chain).await;

    chain.next_block_at(t.min_draw).await;
    for wrong in [other_seed().reveal(), B256::ZERO] {
        assert_eq!(
            revert(lottery.drawWinner(wrong).from(chain.operator())).await,
            seed_mismatch(1)
        );
    }
    assert_eq!(
        lottery.getRound().call().await.unwrap().revealedSeed,
        B256::ZERO
    );
    ok(lottery.drawWinner(seed().reveal()).from(chain.operator())).await;
}

#[tokio::test]
async fn draw_winner_rejects_a_seed_committed_for_another_round() {
    let chain = TestChain::start().await;
    let lottery = chain.deploy_with_operator(BPS).await;
    let chain_id = chain.chain_id().await;

    // Round 1 carries a commitment computed for round 2: its seed cannot open round 1.
    let for_round_2 = draw::commitment(chain_id, *lottery.address(), u(2), &seed());
    ok(lottery.commitSeed(u(1), for_round_2).from(chain.operator())).await;
    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    ok(lottery.placeBet().from(chain.player(1)).value(milli(10))).await;
    let t = times(&lottery).await;
    chain.next_block_at(t.min_draw).await;
    assert_eq!(
        revert(lottery.drawWinner(seed().reveal()).from(chain.operator())).await,
        seed_mismatch(1)
    );
    ok(lottery
        .refundRound(current(&lottery).await)
        .from(chain.operator()))
    .await;

    // Round 2 commits and reveals `other_seed` properly, making both public.
    let good = chain.commit(&lottery, &other_seed()).await;
    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    ok(lottery.placeBet().from(chain.player(1)).value(milli(10))).await;
    let t = times(&lottery).await;
    chain.next_block_at(t.min_draw).await;
    ok(lottery
        .drawWinner(other_seed().reveal())
        .from(chain.operator()))
    .await;

    // Round 3 re-uses round 2's (now public) commitment and seed: rejected.
    ok(lottery.commitSeed(u(3), good).from(chain.operator())).await;
    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    ok(lottery.placeBet().from(chain.player(1)).value(milli(10))).await;
    let t = times(&lottery).await;
    chain.next_block_at(t.min_draw).await;
    assert_eq!(
        revert(
            lottery
                .drawWinner(other_seed().reveal())
                .from(chain.operator())
        )
        .await,
        seed_mismatch(3)
    );
}

// -------------------------------------------------------------------------------------
// refundRound / refundExpiredRound
// -------------------------------------------------------------------------------------

#[tokio::test]
async fn refund_round_rejects_wrong_caller_wrong_state_and_empty_pot() {
    let chain = TestChain::start().await;
    let lottery = committed(&chain).await;
    assert_eq!(
        revert(
            lottery
                .refundRound(current(&lottery).await)
                .from(chain.operator())
        )
        .await,
        wrong_state(1, RoundState::Betting, RoundState::Waiting)
    );

    ok(lottery.startRound().from(chain.operator())).await;
    assert_eq!(
        revert(
            lottery
                .refundRound(current(&lottery).await)
                .from(chain.operator())
        )
        .await,
        empty_pot(1)
    );

    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    ok(lottery.placeBet().from(chain.player(1)).value(milli(20))).await;
    for caller in [chain.publisher(), chain.player(0)] {
        assert_eq!(
            revert(lottery.refundRound(current(&lottery).await).from(caller)).await,
            not_operator(caller)
        );
    }
    let receipt = ok(lottery
        .refundRound(current(&lottery).await)
        .from(chain.operator()))
    .await;
    assert_eq!(
        events::<Lottery::RoundRefunded>(&receipt),
        vec![Lottery::RoundRefunded {
            roundId: u(1),
            totalRefunded: milli(30),
            participantCount: u(2),
            reason: 0, // OPERATOR
        }]
    );
    assert_eq!(round_id(&lottery).await, 2);
    assert_eq!(
        revert(
            lottery
                .refundRound(current(&lottery).await)
                .from(chain.operator())
        )
        .await,
        wrong_state(2, RoundState::Betting, RoundState::Waiting)
    );
}

#[tokio::test]
async fn refund_round_names_its_round_and_reverts_for_any_other() {
    let chain = TestChain::start().await;
    let (lottery, _) = betting_round(&chain).await;
    // A refund signed for round 1, kept and broadcast later, must not void round 2.
    let signed_for_round_1 = lottery.refundRound(u(1)).from(chain.operator());
    for other in [0, 2, 7] {
        assert_eq!(
            revert(lottery.refundRound(u(other)).from(chain.operator())).await,
            LotteryErrors::NotCurrentRound(Lottery::NotCurrentRound {
                roundId: u(other),
                currentRoundId: u(1),
            })
        );
    }
    assert_eq!(state(&lottery).await, RoundState::Betting);
    ok(signed_for_round_1).await;
    assert_eq!(round_id(&lottery).await, 2);
    // Round 2 opens and takes bets; the round-1 refund replayed now reverts.
    chain.commit(&lottery, &other_seed()).await;
    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    assert_eq!(
        revert(lottery.refundRound(u(1)).from(chain.operator())).await,
        LotteryErrors::NotCurrentRound(Lottery::NotCurrentRound {
            roundId: u(1),
            currentRoundId: u(2),
        })
    );
    assert_eq!(state(&lottery).await, RoundState::Betting);
}

#[tokio::test]
async fn refund_expired_round_only_after_max_draw_time_by_anyone() {
    let chain = TestChain::start().await;
    let fresh = committed(&chain).await;
    assert_eq!(
        revert(fresh.refundExpiredRound().from(chain.player(0))).await,
        wrong_state(1, RoundState::Betting, RoundState::Waiting)
    );

    let (lottery, t) = betting_round(&chain).await;
    for at in [t.end, t.min_draw, t.max_draw] {
        chain.next_block_at(at).await;
        assert_eq!(
            revert(lottery.refundExpiredRound().from(chain.player(5))).await,
            LotteryErrors::RoundNotExpired(Lottery::RoundNotExpired {
                roundId: u(1),
                timestamp: u(at),
                maxDrawTime: u(t.max_draw),
            })
        );
    }

    // A stranger (no role, no stake) can refund one second after the window.
    chain.next_block_at(t.max_draw + 1).await;
    let receipt = ok(lottery.refundExpiredRound().from(chain.player(5))).await;
    assert_eq!(
        events::<Lottery::RoundRefunded>(&receipt),
        vec![Lottery::RoundRefunded {
            roundId: u(1),
            totalRefunded: milli(30),
            participantCount: u(2),
            reason: 2, // DRAW_WINDOW_EXPIRED
        }]
    );
    assert_eq!(
        RoundState::try_from(lottery.getRoundById(u(1)).call().await.unwrap().state).unwrap(),
        RoundState::Refunded
    );
    assert_eq!(
        lottery
            .pendingWithdrawal(chain.player(1))
            .call()
            .await
            .unwrap(),
        milli(20)
    );
    assert_eq!(
        revert(lottery.refundExpiredRound().from(chain.player(5))).await,
        wrong_state(2, RoundState::Betting, RoundState::Waiting)
    );
}

#[tokio::test]
async fn refund_expired_round_closes_an_empty_started_round() {
    let chain = TestChain::start().await;
    let (lottery, t) = empty_started_round(&chain).await;

    chain.next_block_at(t.max_draw).await;
    assert!(matches!(
        revert(lottery.refundExpiredRound().from(chain.player(0))).await,
        LotteryErrors::RoundNotExpired(_)
    ));
    chain.next_block_at(t.max_draw + 1).await;
    let receipt = ok(lottery.refundExpiredRound().from(chain.player(0))).await;
    assert_eq!(
        events::<Lottery::RoundRefunded>(&receipt),
        vec![Lottery::RoundRefunded {
            roundId: u(1),
            totalRefunded: U256::ZERO,
            participantCount: U256::ZERO,
            reason: 2,
        }]
    );
    assert_eq!(round_id(&lottery).await, 2);
    assert_eq!(state(&lottery).await, RoundState::Waiting);
}

// -------------------------------------------------------------------------------------
// Operator settings
// -------------------------------------------------------------------------------------

#[tokio::test]
async fn settings_only_by_the_operator() {
    let chain = TestChain::start().await;
    let lottery = chain.deploy_with_operator(BPS).await;

    for caller in [chain.publisher(), chain.player(0)] {
        assert_eq!(
            revert(lottery.setMinBetAmount(milli(2)).from(caller)).await,
            not_operator(caller)
        );
        assert_eq!(
            revert(lottery.setBettingDuration(u(600)).from(caller)).await,
            not_operator(caller)
        );
        assert_eq!(
            revert(lottery.setMinParticipants(u(3)).from(caller)).await,
            not_operator(caller)
        );
    }
    let config = lottery.getConfig().call().await.unwrap();
    assert_eq!(config.minBetAmount, milli(1));
    assert_eq!(config.bettingDuration, u(BETTING_DURATION));
    assert_eq!(config.minParticipants, u(2));
}

#[tokio::test]
async fn settings_only_while_waiting() {
    let chain = TestChain::start().await;
    let (lottery, _) = betting_round(&chain).await;
    let busy = wrong_state(1, RoundState::Waiting, RoundState::Betting);

    assert_eq!(
        revert(lottery.setMinBetAmount(milli(2)).from(chain.operator())).await,
        busy
    );
    assert_eq!(
        revert(lottery.setBettingDuration(u(600)).from(chain.operator())).await,
        busy
    );
    assert_eq!(
        revert(lottery.setMinParticipants(u(3)).from(chain.operator())).await,
        busy
    );

    // After the round settles the next one is WAITING and settings apply again.
    ok(lottery
        .refundRound(current(&lottery).await)
        .from(chain.operator()))
    .await;
    ok(lottery.setMinBetAmount(milli(2)).from(chain.operator())).await;
    ok(lottery.setBettingDuration(u(600)).from(chain.operator())).await;
    ok(lottery.setMinParticipants(u(3)).from(chain.operator())).await;
    let config = lottery.getConfig().call().await.unwrap();
    assert_eq!(
        (
            config.minBetAmount,
            config.bettingDuration,
            config.minParticipants
        ),
        (milli(2), u(600), u(3))
    );
}

#[tokio::test]
async fn set_min_bet_amount_bounds() {
    let chain = TestChain::start().await;
    let lottery = chain.deploy_with_operator(BPS).await;
    let op = chain.operator();

    for bad in [U256::ZERO, u96_max() + U256::from(1)] {
        assert_eq!(
            revert(lottery.setMinBetAmount(bad).from(op)).await,
            LotteryErrors::InvalidMinBetAmount(Lottery::InvalidMinBetAmount { amount: bad })
        );
    }
    let mut old = milli(1);
    for good in [U256::from(1), u96_max(), milli(3)] {
        let receipt = ok(lottery.setMinBetAmount(good).from(op)).await;
        assert_eq!(
            events::<Lottery::MinBetAmountUpdated>(&receipt),
            vec![Lottery::MinBetAmountUpdated {
                oldAmount: old,
                newAmount: good
            }]
        );
        assert_eq!(lottery.getConfig().call().await.unwrap().minBetAmount, good);
        assert_eq!(lottery.minBetAmount().call().await.unwrap(), good);
        old = good;
    }
}

#[tokio::test]
async fn set_betting_duration_bounds() {
    let chain = TestChain::start().await;
    let lottery = chain.deploy_with_operator(BPS).await;
    let op = chain.operator();

    for bad in [0, MIN_DURATION - 1, MAX_DURATION + 1] {
        assert_eq!(
            revert(lottery.setBettingDuration(u(bad)).from(op)).await,
            invalid_duration(bad)
        );
    }
    let mut old = BETTING_DURATION;
    for good in [MIN_DURATION, MAX_DURATION, 600] {
        let receipt = ok(lottery.setBettingDuration(u(good)).from(op)).await;
        assert_eq!(
            events::<Lottery::BettingDurationUpdated>(&receipt),
            vec![Lottery::BettingDurationUpdated {
                oldDuration: u(old),
                newDuration: u(good)
            }]
        );
        assert_eq!(
            lottery.getConfig().call().await.unwrap().bettingDuration,
            u(good)
        );
        old = good;
    }
}

#[tokio::test]
async fn set_min_participants_bounds() {
    let chain = TestChain::start().await;
    let lottery = chain.deploy_with_operator(BPS).await;
    let op = chain.operator();

    for bad in [0, MIN_PARTICIPANTS_LOWER - 1, MIN_PARTICIPANTS_UPPER + 1] {
        assert_eq!(
            revert(lottery.setMinParticipants(u(bad)).from(op)).await,
            invalid_min_participants(bad)
        );
    }
    let mut old = 2;
    for good in [MIN_PARTICIPANTS_UPPER, MIN_PARTICIPANTS_LOWER, 3] {
        let receipt = ok(lottery.setMinParticipants(u(good)).from(op)).await;
        assert_eq!(
            events::<Lottery::MinParticipantsUpdated>(&receipt),
            vec![Lottery::MinParticipantsUpdated {
                oldMinParticipants: u(old),
                newMinParticipants: u(good)
            }]
        );
        assert_eq!(
            lottery.getConfig().call().await.unwrap().minParticipants,
            u(good)
        );
        old = good;
    }
}

// -------------------------------------------------------------------------------------
// withdraw and plain transfers
// -------------------------------------------------------------------------------------

#[tokio::test]
async fn withdraw_with_nothing_owed_reverts() {
    let chain = TestChain::start().await;
    // Zero commission, so the publisher is never owed anything here.
    let lottery = chain.deploy_with_operator(0).await;
    chain.commit(&lottery, &seed()).await;

    for account in [chain.publisher(), chain.operator(), chain.player(0)] {
        assert_eq!(
            revert(lottery.withdraw().from(account)).await,
            LotteryErrors::NothingToWithdraw(Lottery::NothingToWithdraw { account })
        );
    }

    // A stake in a round that is still open is not withdrawable...
    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    let nothing = LotteryErrors::NothingToWithdraw(Lottery::NothingToWithdraw {
        account: chain.player(0),
    });
    assert_eq!(
        revert(lottery.withdraw().from(chain.player(0))).await,
        nothing
    );
    // ...once refunded it is, exactly once.
    ok(lottery
        .refundRound(current(&lottery).await)
        .from(chain.operator()))
    .await;
    let receipt = ok(lottery.withdraw().from(chain.player(0))).await;
    assert_eq!(
        events::<Lottery::Withdrawn>(&receipt),
        vec![Lottery::Withdrawn {
            account: chain.player(0),
            amount: milli(10)
        }]
    );
    assert_eq!(
        revert(lottery.withdraw().from(chain.player(0))).await,
        nothing
    );
    assert_eq!(chain.balance(*lottery.address()).await, U256::ZERO);
}

#[tokio::test]
async fn withdraw_to_an_account_that_rejects_eth_reverts_and_keeps_the_credit() {
    let chain = TestChain::start().await;
    let lottery = committed(&chain).await;
    let owner = chain.player(0);
    let address = HostilePlayer::deploy_builder(chain.provider.clone(), *lottery.address(), 1) // REJECT
        .from(owner)
        .deploy()
        .await
        .unwrap();
    let hostile = HostilePlayer::new(address, chain.provider.clone());

    ok(hostile.bet().from(owner).value(milli(10))).await;
    ok(lottery
        .refundRound(current(&lottery).await)
        .from(chain.operator()))
    .await;
    assert_eq!(
        lottery.pendingWithdrawal(address).call().await.unwrap(),
        milli(10)
    );

    assert_eq!(
        revert(hostile.withdrawFromLottery().from(owner)).await,
        LotteryErrors::WithdrawFailed(Lottery::WithdrawFailed {
            account: address,
            amount: milli(10)
        })
    );
    assert_eq!(
        lottery.pendingWithdrawal(address).call().await.unwrap(),
        milli(10)
    );

    // Once it accepts ETH the same credit pays out.
    ok(hostile.setMode(0).from(owner)).await;
    ok(hostile.withdrawFromLottery().from(owner)).await;
    assert_eq!(chain.balance(address).await, milli(10));
    assert_eq!(
        lottery.pendingWithdrawal(address).call().await.unwrap(),
        U256::ZERO
    );
}

#[tokio::test]
async fn plain_eth_transfers_are_rejected() {
    let chain = TestChain::start().await;
    let lottery = committed(&chain).await;
    let contract = *lottery.address();
    let sender = chain.player(0);
    let before = chain.balance(sender).await;

    let tx = TransactionRequest::default()
        .from(sender)
        .to(contract)
        .value(milli(10));
    let result = chain.provider.send_transaction(tx).await;
    assert!(result.is_err(), "a plain transfer must be rejected");
    assert_eq!(chain.balance(contract).await, U256::ZERO);
    assert_eq!(chain.balance(sender).await, before);

    // Forced on chain past gas estimation, it reverts there: the value is not taken,
    // only the gas is paid.
    let tx = TransactionRequest::default()
        .from(sender)
        .to(contract)
        .value(milli(10))
        .gas_limit(100_000);
    let receipt = chain
        .provider
        .send_transaction(tx)
        .await
        .unwrap()
        .get_receipt()
        .await
        .unwrap();
    assert!(!receipt.status(), "the transfer must revert on chain");
    let gas_paid = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
    assert_eq!(chain.balance(contract).await, U256::ZERO);
    assert_eq!(chain.balance(sender).await, before - gas_paid);

    // No stake, no round started.
    assert_eq!(
        lottery.getBetAmount(sender).call().await.unwrap(),
        U256::ZERO
    );
    assert_eq!(state(&lottery).await, RoundState::Waiting);
}
