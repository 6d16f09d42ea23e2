//! `withdraw` and plain ETH transfers.

use super::*;

#[tokio::test]
async fn withdraw_with_nothing_owed_reverts() {
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
    let chain = Chain::start().await;
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
