//! `placeBet`: the minimum bet, the commitment it needs, the betting window to the
//! second, repeated bets, the uint96 pot.

use super::*;

#[tokio::test]
async fn place_bet_rejects_bets_below_the_minimum_and_accepts_exactly_the_minimum() {
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
