//! No single player can block a draw or a refund: a winner that rejects ETH, burns
//! all the gas it is sent, or tries to re-enter the lottery still lets the round
//! settle, and its prize or refund waits for it in `pendingWithdrawal`.

use abi::{
    contract::{Lottery, LotteryErrors},
    draw::{self, Seed},
};
use alloy::{
    primitives::{Address, B256, U256, keccak256},
    providers::DynProvider,
};
use tests::{
    Chain, events,
    hostile::HostilePlayer::{self, HostilePlayerInstance},
    milli, ok, revert,
};

const ACCEPT: u8 = 0;
const REJECT: u8 = 1;
const BURN_GAS: u8 = 2;
const REENTER: u8 = 3;

type Instance = Lottery::LotteryInstance<DynProvider>;

async fn hostile(
    chain: &Chain,
    lottery: &Instance,
    mode: u8,
) -> HostilePlayerInstance<DynProvider> {
    let address = HostilePlayer::deploy_builder(chain.provider.clone(), *lottery.address(), mode)
        .from(chain.player(5))
        .deploy()
        .await
        .expect("deploy HostilePlayer");
    HostilePlayer::new(address, chain.provider.clone())
}

/// A seed under which `target` wins, given the round's bets in order: the search is
/// off-chain, with the same rule the contract uses.
fn seed_where_wins(bets: &[(Address, U256)], target: Address) -> Seed {
    (0u64..)
        .map(|i| Seed::from_bytes(keccak256(i.to_be_bytes())))
        .find(|s| draw::winner(bets, s.reveal()) == Some(target))
        .expect("some seed lets the target win")
}

/// Sets up a round where the hostile contract (mode `mode`) bets against an honest
/// player and is the winner; returns the lottery, the hostile player and the draw's
/// receipt.
async fn hostile_wins(
    chain: &Chain,
    mode: u8,
) -> (
    Instance,
    HostilePlayerInstance<DynProvider>,
    alloy::rpc::types::TransactionReceipt,
) {
    let lottery = chain.deploy_with_operator(500).await;
    let player = hostile(chain, &lottery, mode).await;
    let bets = [(*player.address(), milli(5)), (chain.player(0), milli(1))];
    let seed = seed_where_wins(&bets, *player.address());
    chain.commit(&lottery, &seed).await;
    ok(player.bet().value(milli(5)).from(chain.player(5))).await;
    ok(lottery.placeBet().value(milli(1)).from(chain.player(0))).await;
    let round = lottery.getRound().call().await.unwrap();
    chain.next_block_at(round.minDrawTime).await;
    let receipt = ok(lottery.drawWinner(seed.reveal()).from(chain.operator())).await;
    (lottery, player, receipt)
}

#[tokio::test]
async fn a_winner_that_rejects_eth_cannot_block_the_draw() {
    let chain = Chain::start().await;
    let (lottery, player, receipt) = hostile_wins(&chain, REJECT).await;
    let done = events::<Lottery::RoundCompleted>(&receipt)
        .pop()
        .expect("the round completed");
    assert_eq!(done.winner, *player.address());
    let deferred = events::<Lottery::PrizeDeferred>(&receipt)
        .pop()
        .expect("PrizeDeferred");
    assert_eq!(
        (deferred.winner, deferred.amount),
        (*player.address(), done.prize)
    );
    assert_eq!(
        lottery
            .pendingWithdrawal(*player.address())
            .call()
            .await
            .unwrap(),
        done.prize
    );
    assert_eq!(chain.balance(*player.address()).await, U256::ZERO);

    // While it still rejects, its withdrawal fails and nothing is lost.
    let failed = tests::try_send(player.withdrawFromLottery().from(chain.player(5))).await;
    assert!(
        failed.is_err(),
        "withdrawal to a rejecting contract must revert"
    );
    assert_eq!(
        lottery
            .pendingWithdrawal(*player.address())
            .call()
            .await
            .unwrap(),
        done.prize
    );

    // Once it accepts ETH, it collects the prize.
    ok(player.setMode(ACCEPT).from(chain.player(5))).await;
    ok(player.withdrawFromLottery().from(chain.player(5))).await;
    assert_eq!(chain.balance(*player.address()).await, done.prize);
    assert_eq!(
        lottery
            .pendingWithdrawal(*player.address())
            .call()
            .await
            .unwrap(),
        U256::ZERO
    );
    // The next round is open regardless.
    assert_eq!(
        lottery.currentRoundId().call().await.unwrap(),
        U256::from(2)
    );
}

#[tokio::test]
async fn a_winner_that_burns_gas_costs_the_draw_a_bounded_amount() {
    let chain = Chain::start().await;
    let (lottery, player, receipt) = hostile_wins(&chain, BURN_GAS).await;
    let done = events::<Lottery::RoundCompleted>(&receipt)
        .pop()
        .expect("the round completed");
    assert_eq!(done.winner, *player.address());
    assert_eq!(events::<Lottery::PrizeDeferred>(&receipt).len(), 1);
    assert_eq!(
        lottery
            .pendingWithdrawal(*player.address())
            .call()
            .await
            .unwrap(),
        done.prize
    );
    // The push forwards at most 50,000 gas; the whole draw stays far below a block.
    assert!(
        receipt.gas_used < 250_000,
        "draw used {} gas",
        receipt.gas_used
    );
}

#[tokio::test]
async fn a_winner_cannot_reenter_during_the_payout() {
    let chain = Chain::start().await;
    let (lottery, player, receipt) = hostile_wins(&chain, REENTER).await;
    let done = events::<Lottery::RoundCompleted>(&receipt)
        .pop()
        .expect("the round completed");
    assert_eq!(done.winner, *player.address());
    // The re-entrant withdraw was refused by the lock, and the prize was paid once.
    assert!(
        player.reentryBlocked().call().await.unwrap(),
        "the re-entry attempt must have been refused"
    );
    assert!(events::<Lottery::PrizeDeferred>(&receipt).is_empty());
    assert_eq!(chain.balance(*player.address()).await, done.prize);
    assert_eq!(
        lottery
            .pendingWithdrawal(*player.address())
            .call()
            .await
            .unwrap(),
        U256::ZERO
    );
}

#[tokio::test]
async fn a_player_that_rejects_eth_cannot_block_a_refund() {
    let chain = Chain::start().await;
    let lottery = chain.deploy_with_operator(500).await;
    let player = hostile(&chain, &lottery, REJECT).await;
    chain
        .commit(&lottery, &Seed::from_bytes(B256::repeat_byte(9)))
        .await;
    ok(player.bet().value(milli(5)).from(chain.player(5))).await;
    ok(lottery.placeBet().value(milli(2)).from(chain.player(0))).await;

    let receipt = ok(lottery
        .refundRound(alloy::primitives::U256::from(1))
        .from(chain.operator()))
    .await;
    assert_eq!(events::<Lottery::RoundRefunded>(&receipt).len(), 1);
    // The honest player withdraws at once; the hostile one's stake stays owed.
    ok(lottery.withdraw().from(chain.player(0))).await;
    assert_eq!(
        lottery
            .pendingWithdrawal(*player.address())
            .call()
            .await
            .unwrap(),
        milli(5)
    );
    assert!(
        tests::try_send(player.withdrawFromLottery().from(chain.player(5)))
            .await
            .is_err()
    );
    ok(player.setMode(ACCEPT).from(chain.player(5))).await;
    ok(player.withdrawFromLottery().from(chain.player(5))).await;
    assert_eq!(chain.balance(*player.address()).await, milli(5));
    // Nothing left behind, and nothing to withdraw twice.
    assert_eq!(chain.balance(*lottery.address()).await, U256::ZERO);
    let err = revert(lottery.withdraw().from(chain.player(0))).await;
    assert!(
        matches!(err, LotteryErrors::NothingToWithdraw(_)),
        "{err:?}"
    );
}
