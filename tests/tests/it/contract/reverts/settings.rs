//! The operator's settings (`setMinBetAmount`, `setBettingDuration`,
//! `setMinParticipants`, …): who, when and their bounds.

use super::*;

#[tokio::test]
async fn settings_only_by_the_operator() {
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
