//! `refundRound` and `refundExpiredRound`: who may refund which round, and when.

use super::*;

#[tokio::test]
async fn refund_round_rejects_wrong_caller_wrong_state_and_empty_pot() {
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
