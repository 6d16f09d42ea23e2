//! `drawWinner`: caller and state checks, the draw window to the second, an empty pot,
//! seeds that do not match.

use super::*;

#[tokio::test]
async fn draw_winner_rejects_wrong_caller_and_wrong_state() {
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
