//! `commitSeed`: caller, round and zero checks; replacing a commitment while waiting;
//! locked after the first bet.

use super::*;

#[tokio::test]
async fn commit_seed_rejects_wrong_caller_round_and_zero() {
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
