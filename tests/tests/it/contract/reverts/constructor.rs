//! The constructor: the commission bound.

use super::*;

#[tokio::test]
async fn constructor_rejects_commission_above_1000_bps_and_accepts_exactly_1000() {
    let chain = Chain::start().await;

    let err = Lottery::deploy_builder(
        chain.provider.clone(),
        U256::from(1001),
        U256::from(tests::OPERATOR_DELAY),
    )
    .from(chain.publisher())
    .deploy()
    .await
    .expect_err("a 1001 bps commission must not deploy");
    assert_eq!(
        RevertReason::from_error(&err),
        Some(RevertReason::Lottery(LotteryErrors::CommissionTooHigh(
            Lottery::CommissionTooHigh {
                commissionBps: u(1001),
                maxCommissionBps: u(1000),
            }
        ))),
        "{err}"
    );

    let lottery = chain.deploy(1000).await;
    assert_eq!(lottery.commissionBps().call().await.unwrap(), u(1000));
    let config = lottery.getConfig().call().await.unwrap();
    assert_eq!(config.commissionBps, u(1000));
    assert_eq!(config.publisher, chain.publisher());
    assert_eq!(config.operator, Address::ZERO);
    assert_eq!(round_id(&lottery).await, 1);
    assert_eq!(state(&lottery).await, RoundState::Waiting);

    // Zero commission is valid too.
    let free = chain.deploy(0).await;
    assert_eq!(free.commissionBps().call().await.unwrap(), U256::ZERO);
}
