//! Whole rounds through the contract: commission and prize arithmetic, seed
//! commitments matching the off-chain rules, winners recomputed off-chain from the
//! revealed seed and the `BetPlaced` logs, stake-weighted fairness measured over
//! many draws, and every refund path returning every stake.

use std::collections::HashMap;

use abi::{
    contract::{Lottery, RefundReason, RoundState},
    draw::{self, Seed},
};
use alloy::{
    primitives::{Address, B256, U256, keccak256},
    providers::{DynProvider, Provider},
    rpc::types::Filter,
    sol_types::SolEvent,
};
use tests::{Chain, events, milli, ok};

type Instance = Lottery::LotteryInstance<DynProvider>;

/// The round's times, read back from the contract.
async fn round(lottery: &Instance) -> Lottery::RoundInfo {
    lottery.getRound().call().await.expect("getRound")
}

/// Bets in placement order for `round_id`, from the chain's logs only.
async fn bets_from_logs(chain: &Chain, lottery: &Instance, round_id: U256) -> Vec<(Address, U256)> {
    let filter = Filter::new()
        .address(*lottery.address())
        .event_signature(Lottery::BetPlaced::SIGNATURE_HASH)
        .topic1(B256::from(round_id))
        .from_block(0);
    let logs = chain.provider.get_logs(&filter).await.expect("get_logs");
    logs.iter()
        .map(|log| {
            let bet = log
                .log_decode::<Lottery::BetPlaced>()
                .expect("decode BetPlaced")
                .inner
                .data;
            (bet.player, bet.amount)
        })
        .collect()
}

/// Draws the current round at the opening of its draw window.
async fn draw_now(
    chain: &Chain,
    lottery: &Instance,
    seed: &Seed,
) -> alloy::rpc::types::TransactionReceipt {
    let r = round(lottery).await;
    chain.next_block_at(r.minDrawTime).await;
    ok(lottery.drawWinner(seed.reveal()).from(chain.operator())).await
}

#[tokio::test]
async fn onchain_commitment_matches_the_offchain_rule() {
    let chain = Chain::start().await;
    let lottery = chain.deploy_with_operator(0).await;
    let seed = Seed::from_bytes(B256::repeat_byte(0x42));
    for round_id in [1u64, 2, 1_000_000] {
        let onchain = lottery
            .computeCommitment(U256::from(round_id), seed.reveal())
            .call()
            .await
            .unwrap();
        let offchain = draw::commitment(
            chain.chain_id().await,
            *lottery.address(),
            U256::from(round_id),
            &seed,
        );
        assert_eq!(onchain, offchain, "round {round_id}");
    }
    // Another deployment gets another commitment for the same seed and round.
    let other = chain.deploy_with_operator(0).await;
    let a = lottery
        .computeCommitment(U256::from(1), seed.reveal())
        .call()
        .await
        .unwrap();
    let b = other
        .computeCommitment(U256::from(1), seed.reveal())
        .call()
        .await
        .unwrap();
    assert_ne!(a, b);
}

/// Commission is floor(pot * bps / 10000), the winner gets the rest, nothing is lost.
#[tokio::test]
async fn commission_and_prize_arithmetic() {
    let chain = Chain::start().await;
    for bps in [0u64, 1, 333, 1000] {
        let lottery = chain.deploy_with_operator(bps).await;
        let seed = Seed::from_bytes(keccak256(bps.to_be_bytes()));
        chain.commit(&lottery, &seed).await;
        // Odd amounts so the commission division actually rounds.
        let stakes = [milli(1) + U256::from(7), milli(3) + U256::from(1), milli(2)];
        for (i, stake) in stakes.iter().enumerate() {
            ok(lottery.placeBet().from(chain.player(i)).value(*stake)).await;
        }
        // A repeat bet accumulates onto the first player.
        ok(lottery.placeBet().from(chain.player(0)).value(milli(1))).await;
        let pot: U256 = stakes.iter().sum::<U256>() + milli(1);
        assert_eq!(round(&lottery).await.totalPot, pot);
        assert_eq!(
            lottery.getBetAmount(chain.player(0)).call().await.unwrap(),
            stakes[0] + milli(1)
        );

        let before: Vec<U256> = futures(&chain, 3).await;
        let receipt = draw_now(&chain, &lottery, &seed).await;
        let done = events::<Lottery::RoundCompleted>(&receipt)
            .pop()
            .expect("RoundCompleted");
        let commission = pot * U256::from(bps) / U256::from(10_000);
        assert_eq!(done.totalPot, pot);
        assert_eq!(done.commission, commission, "bps {bps}");
        assert_eq!(done.prize, pot - commission);
        assert_eq!(done.participantCount, U256::from(3));
        assert_eq!(done.seed, seed.reveal());

        // The winner received exactly the prize (players sent no transaction since).
        let after: Vec<U256> = futures(&chain, 3).await;
        let winner_index = (0..3)
            .find(|i| chain.player(*i) == done.winner)
            .expect("winner is a player");
        for i in 0..3 {
            let expected = if i == winner_index {
                before[i] + done.prize
            } else {
                before[i]
            };
            assert_eq!(after[i], expected, "player {i} balance");
        }
        // The commission waits for the publisher; the contract holds exactly that.
        assert_eq!(
            lottery
                .pendingWithdrawal(chain.publisher())
                .call()
                .await
                .unwrap(),
            commission
        );
        assert_eq!(chain.balance(*lottery.address()).await, commission);

        // The settled round is readable; the next one is open and uncommitted.
        let settled = lottery.getRoundById(U256::from(1)).call().await.unwrap();
        assert_eq!(
            RoundState::try_from(settled.state).unwrap(),
            RoundState::Completed
        );
        assert_eq!(
            (settled.winner, settled.prize, settled.commission),
            (done.winner, done.prize, commission)
        );
        assert_eq!(settled.revealedSeed, seed.reveal());
        let next = round(&lottery).await;
        assert_eq!(next.roundId, U256::from(2));
        assert_eq!(
            RoundState::try_from(next.state).unwrap(),
            RoundState::Waiting
        );
        assert_eq!(next.seedCommitment, B256::ZERO);
        assert!(lottery.getParticipants().call().await.unwrap().is_empty());
        assert_eq!(
            events::<Lottery::RoundCreated>(&receipt)[0].roundId,
            U256::from(2)
        );
        let states: Vec<(u8, u8)> = events::<Lottery::RoundStateChanged>(&receipt)
            .iter()
            .map(|e| (e.oldState, e.newState))
            .collect();
        assert_eq!(states, [(1, 2), (2, 3)], "BETTING -> DRAWING -> COMPLETED");

        if !commission.is_zero() {
            let before = chain.balance(chain.publisher()).await;
            let receipt = ok(lottery.withdraw().from(chain.publisher())).await;
            let fee = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
            assert_eq!(
                chain.balance(chain.publisher()).await,
                before + commission - fee
            );
            assert_eq!(events::<Lottery::Withdrawn>(&receipt)[0].amount, commission);
            assert_eq!(chain.balance(*lottery.address()).await, U256::ZERO);
        }
    }
}

async fn futures(chain: &Chain, n: usize) -> Vec<U256> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        out.push(chain.balance(chain.player(i)).await);
    }
    out
}

/// Over many rounds with stakes 1:2:3, each player wins in proportion to stake; every
/// winner is also what anyone computes off-chain from the seed and the logs.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn winners_are_stake_weighted_and_recomputable_offchain() {
    const ROUNDS: usize = 180;
    let chain = Chain::start().await;
    let lottery = chain.deploy_with_operator(500).await;
    let players = [chain.player(0), chain.player(1), chain.player(2)];
    let mut wins: HashMap<Address, usize> = HashMap::new();
    for n in 0..ROUNDS {
        // Deterministic seeds: the test is reproducible, never flaky.
        let seed = Seed::from_bytes(keccak256(format!("fairness-{n}")));
        let round_id = lottery.currentRoundId().call().await.unwrap();
        chain.commit(&lottery, &seed).await;
        // Stakes 1, 2, 3 (milli-ether); the order rotates and player 2 splits its
        // stake across two bets, so position and bet count cannot matter.
        for k in 0..3 {
            let i = (n + k) % 3;
            if i == 2 {
                ok(lottery.placeBet().from(players[2]).value(milli(1))).await;
                ok(lottery.placeBet().from(players[2]).value(milli(2))).await;
            } else {
                ok(lottery
                    .placeBet()
                    .from(players[i])
                    .value(milli(i as u64 + 1)))
                .await;
            }
        }
        let receipt = draw_now(&chain, &lottery, &seed).await;
        let done = events::<Lottery::RoundCompleted>(&receipt)
            .pop()
            .expect("RoundCompleted");
        let bets = bets_from_logs(&chain, &lottery, round_id).await;
        assert_eq!(bets.len(), 4);
        assert_eq!(
            draw::winner(&bets, done.seed),
            Some(done.winner),
            "round {round_id}: off-chain winner differs"
        );
        *wins.entry(done.winner).or_default() += 1;
    }
    // Pearson's chi-squared against expected shares 1/6, 2/6, 3/6 (2 degrees of
    // freedom; 13.82 is the 0.1% critical value).
    let chi2: f64 = players
        .iter()
        .zip([1.0, 2.0, 3.0])
        .map(|(p, weight)| {
            let expected = ROUNDS as f64 * weight / 6.0;
            let observed = *wins.get(p).unwrap_or(&0) as f64;
            (observed - expected).powi(2) / expected
        })
        .sum();
    assert!(
        chi2 < 13.82,
        "wins {wins:?} are not stake-weighted (chi2 = {chi2:.2})"
    );
    // And the weighting is visible: the largest stake wins most often.
    assert!(wins[&players[2]] > wins[&players[0]], "{wins:?}");
}

/// Every refund path (operator, too few players, expired window) returns every stake,
/// through `withdraw`, also when the player bet again in a later round first.
#[tokio::test]
async fn refunds_return_every_stake() {
    let chain = Chain::start().await;
    let lottery = chain.deploy_with_operator(500).await;
    let stakes = [milli(2), milli(5)];

    // Round 1: the operator refunds.
    chain
        .commit(&lottery, &Seed::from_bytes(B256::repeat_byte(1)))
        .await;
    for (i, s) in stakes.iter().enumerate() {
        ok(lottery.placeBet().from(chain.player(i)).value(*s)).await;
    }
    let receipt = ok(lottery
        .refundRound(alloy::primitives::U256::from(1))
        .from(chain.operator()))
    .await;
    let refunded = events::<Lottery::RoundRefunded>(&receipt)
        .pop()
        .expect("RoundRefunded");
    assert_eq!(refunded.totalRefunded, stakes[0] + stakes[1]);
    assert_eq!(refunded.participantCount, U256::from(2));
    assert_eq!(
        RefundReason::try_from(refunded.reason).unwrap(),
        RefundReason::Operator
    );
    for (i, s) in stakes.iter().enumerate() {
        assert_eq!(
            lottery
                .pendingWithdrawal(chain.player(i))
                .call()
                .await
                .unwrap(),
            *s
        );
    }

    // Round 2: player 0 bets again before withdrawing (its round-1 stake must stay
    // owed); only one player, so the draw refunds for too few participants.
    let seed = Seed::from_bytes(B256::repeat_byte(2));
    chain.commit(&lottery, &seed).await;
    ok(lottery.placeBet().from(chain.player(0)).value(milli(3))).await;
    assert_eq!(
        lottery.getBetAmount(chain.player(0)).call().await.unwrap(),
        milli(3)
    );
    assert_eq!(
        lottery
            .pendingWithdrawal(chain.player(0))
            .call()
            .await
            .unwrap(),
        stakes[0]
    );
    let receipt = draw_now(&chain, &lottery, &seed).await;
    let refunded = events::<Lottery::RoundRefunded>(&receipt)
        .pop()
        .expect("RoundRefunded");
    assert_eq!(
        RefundReason::try_from(refunded.reason).unwrap(),
        RefundReason::NotEnoughParticipants
    );
    assert_eq!(refunded.participantCount, U256::from(1));
    assert_eq!(
        lottery
            .getRoundById(U256::from(2))
            .call()
            .await
            .unwrap()
            .revealedSeed,
        seed.reveal()
    );
    assert_eq!(
        lottery
            .pendingWithdrawal(chain.player(0))
            .call()
            .await
            .unwrap(),
        stakes[0] + milli(3)
    );

    // Round 3: nobody draws; after the window anyone (here player 1) refunds.
    chain
        .commit(&lottery, &Seed::from_bytes(B256::repeat_byte(3)))
        .await;
    ok(lottery.placeBet().from(chain.player(1)).value(milli(4))).await;
    ok(lottery.placeBet().from(chain.player(0)).value(milli(1))).await;
    let r = round(&lottery).await;
    chain.next_block_at(r.maxDrawTime + 1).await;
    let receipt = ok(lottery.refundExpiredRound().from(chain.player(1))).await;
    let refunded = events::<Lottery::RoundRefunded>(&receipt)
        .pop()
        .expect("RoundRefunded");
    assert_eq!(
        RefundReason::try_from(refunded.reason).unwrap(),
        RefundReason::DrawWindowExpired
    );

    // Everyone withdraws everything they are owed; the contract ends empty.
    let owed = [stakes[0] + milli(3) + milli(1), stakes[1] + milli(4)];
    for (i, amount) in owed.iter().enumerate() {
        let player = chain.player(i);
        assert_eq!(
            lottery.pendingWithdrawal(player).call().await.unwrap(),
            *amount,
            "player {i}"
        );
        let before = chain.balance(player).await;
        let receipt = ok(lottery.withdraw().from(player)).await;
        let fee = U256::from(receipt.gas_used) * U256::from(receipt.effective_gas_price);
        assert_eq!(
            chain.balance(player).await,
            before + amount - fee,
            "player {i}"
        );
        assert_eq!(
            lottery.pendingWithdrawal(player).call().await.unwrap(),
            U256::ZERO
        );
    }
    assert_eq!(chain.balance(*lottery.address()).await, U256::ZERO);
}
