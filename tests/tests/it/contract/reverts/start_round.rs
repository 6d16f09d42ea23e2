//! `startRound`: caller, commitment and state checks.

use super::*;

#[tokio::test]
async fn start_round_rejects_wrong_caller_missing_commitment_and_wrong_state() {
    let chain = Chain::start().await;
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
