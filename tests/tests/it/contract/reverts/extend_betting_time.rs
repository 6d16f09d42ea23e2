//! `extendBettingTime`: caller and state checks, the bounds of the new end time, and
//! the windows it moves.

use super::*;

#[tokio::test]
async fn extend_betting_time_rejects_wrong_caller_and_wrong_state() {
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
