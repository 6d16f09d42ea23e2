//! Operator changes are announced with the enclave's measurement and delayed: the
//! publisher's attacks on the operator role, played against a real anvil.
//!
//! The attack this stops: a publisher watching the mempool sends `setOperator(own
//! EOA)` and `commitSeed(a seed it knows)` ahead of a player's first bet, the bet
//! opens the rigged round, and the publisher bets last to win. Each test below plays
//! one variant and asserts that the publisher's key never gets to act early.

use abi::{
    contract::{Lottery, LotteryErrors, RevertReason, RoundState},
    draw::{self, Seed},
};
use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::DynProvider,
};
use tests::{Chain, OPERATOR_DELAY, TEST_PCR0, events, milli, ok, revert};

type Instance = Lottery::LotteryInstance<DynProvider>;

/// A second measurement, for the next enclave image.
const NEXT_PCR0: [u8; 48] = [0xa5; 48];

fn u(n: u64) -> U256 {
    U256::from(n)
}

fn pcrs(pcr0: &[u8]) -> Bytes {
    Bytes::copy_from_slice(pcr0)
}

async fn state(lottery: &Instance) -> RoundState {
    let raw = lottery.getRound().call().await.unwrap().state;
    RoundState::try_from(raw).unwrap()
}

async fn round_id(lottery: &Instance) -> u64 {
    lottery.currentRoundId().call().await.unwrap().to::<u64>()
}

async fn commitment(chain: &Chain, lottery: &Instance, seed: &Seed) -> (U256, B256) {
    let round = lottery.currentRoundId().call().await.unwrap();
    let c = draw::commitment(chain.chain_id().await, *lottery.address(), round, seed);
    (round, c)
}

fn not_yet(caller: Address, effective_at: u64) -> LotteryErrors {
    LotteryErrors::OperatorNotYetEffective(Lottery::OperatorNotYetEffective {
        caller,
        effectiveAt: u(effective_at),
    })
}

fn not_operator(caller: Address) -> LotteryErrors {
    LotteryErrors::NotOperator(Lottery::NotOperator { caller })
}

/// Announces `operator` and returns the announcement's `effectiveAt`.
async fn announce(chain: &Chain, lottery: &Instance, operator: Address, pcr0: &[u8]) -> u64 {
    let receipt = ok(lottery
        .setOperator(operator, pcrs(pcr0))
        .from(chain.publisher()))
    .await;
    let announced = events::<Lottery::OperatorChangeAnnounced>(&receipt);
    assert_eq!(announced.len(), 1, "one announcement");
    assert_eq!(announced[0].operator, operator);
    assert_eq!(announced[0].pcrs, pcrs(pcr0));
    announced[0].effectiveAt.to::<u64>()
}

#[tokio::test]
async fn the_operator_delay_is_fixed_at_deployment_within_its_bounds() {
    let chain = Chain::start().await;
    for bad in [0, 30 * 24 * 3600 + 1] {
        let err = Lottery::deploy_builder(chain.provider.clone(), u(500), u(bad))
            .from(chain.publisher())
            .deploy()
            .await
            .expect_err("an out-of-bounds delay must not deploy");
        assert_eq!(
            RevertReason::from_error(&err),
            Some(RevertReason::Lottery(LotteryErrors::InvalidOperatorDelay(
                Lottery::InvalidOperatorDelay {
                    delay: u(bad),
                    min: u(1),
                    max: u(30 * 24 * 3600),
                }
            ))),
            "{err}"
        );
    }
    let lottery = chain.deploy(500).await;
    let config = lottery.getConfig().call().await.unwrap();
    assert_eq!(config.operatorDelay, u(OPERATOR_DELAY));
    assert_eq!(config.operator, Address::ZERO);
    assert!(config.operatorPcrs.is_empty());
    assert_eq!(config.pendingOperator, Address::ZERO);
    assert_eq!(lottery.operatorRecordCount().call().await.unwrap(), u(0));
}

#[tokio::test]
async fn set_operator_only_by_the_publisher_with_a_valid_address_and_measurement() {
    let chain = Chain::start().await;
    let lottery = chain.deploy(500).await;
    for caller in [chain.operator(), chain.player(0)] {
        assert_eq!(
            revert(
                lottery
                    .setOperator(chain.operator(), pcrs(&TEST_PCR0))
                    .from(caller)
            )
            .await,
            LotteryErrors::NotPublisher(Lottery::NotPublisher { caller })
        );
        assert_eq!(
            revert(lottery.cancelOperatorChange().from(caller)).await,
            LotteryErrors::NotPublisher(Lottery::NotPublisher { caller })
        );
    }
    for bad in [Address::ZERO, chain.publisher()] {
        assert_eq!(
            revert(
                lottery
                    .setOperator(bad, pcrs(&TEST_PCR0))
                    .from(chain.publisher())
            )
            .await,
            LotteryErrors::InvalidOperator(Lottery::InvalidOperator { operator: bad })
        );
    }
    // No measurement, a partial PCR, a zero PCR0 (debug mode), more than 32 PCRs.
    let mut long = TEST_PCR0.repeat(33);
    long[0] = 1;
    for bad in [
        Vec::new(),
        TEST_PCR0[..47].to_vec(),
        [0u8; 48].to_vec(),
        [[0u8; 48], TEST_PCR0].concat(),
        long,
    ] {
        assert_eq!(
            revert(
                lottery
                    .setOperator(chain.operator(), pcrs(&bad))
                    .from(chain.publisher())
            )
            .await,
            LotteryErrors::InvalidMeasurement(Lottery::InvalidMeasurement {
                length: u(bad.len() as u64)
            })
        );
    }
    assert_eq!(
        revert(lottery.cancelOperatorChange().from(chain.publisher())).await,
        LotteryErrors::NoPendingOperatorChange(Lottery::NoPendingOperatorChange {})
    );
    // PCR0 with PCR1 and PCR2 is a valid record too: the format grows without a new
    // contract.
    let three = [TEST_PCR0, NEXT_PCR0, TEST_PCR0].concat();
    announce(&chain, &lottery, chain.operator(), &three).await;
    let record = lottery.getOperatorRecord(u(1)).call().await.unwrap();
    assert_eq!(record.operator, chain.operator());
    assert_eq!(record.pcrs, pcrs(&three));
    assert_eq!(record.effectiveAt - record.announcedAt, OPERATOR_DELAY);
}

#[tokio::test]
async fn the_first_operator_cannot_commit_or_open_a_round_before_the_delay() {
    let chain = Chain::start().await;
    let lottery = chain.deploy(500).await;
    // The publisher front-runs the first player on a fresh contract: announce its own
    // key and commit a seed it knows, in the same breath.
    let publisher_key = chain.player(9);
    let effective_at = announce(&chain, &lottery, publisher_key, &TEST_PCR0).await;
    let known = Seed::from_bytes(B256::repeat_byte(3));
    let (round, c) = commitment(&chain, &lottery, &known).await;
    assert_eq!(
        revert(lottery.commitSeed(round, c).from(publisher_key)).await,
        not_yet(publisher_key, effective_at)
    );
    assert_eq!(
        revert(lottery.startRound().from(publisher_key)).await,
        not_yet(publisher_key, effective_at)
    );
    // Nobody can bet: no commitment exists.
    assert_eq!(
        revert(lottery.placeBet().from(chain.player(0)).value(milli(10))).await,
        LotteryErrors::NoSeedCommitment(Lottery::NoSeedCommitment { roundId: u(1) })
    );
    // The views show the announcement, not an operator.
    let config = lottery.getConfig().call().await.unwrap();
    assert_eq!(config.operator, Address::ZERO);
    assert_eq!(config.pendingOperator, publisher_key);
    assert_eq!(config.pendingPcrs, pcrs(&TEST_PCR0));
    assert_eq!(config.pendingEffectiveAt, u(effective_at));
    assert_eq!(lottery.operator().call().await.unwrap(), Address::ZERO);

    // One second before: still refused. At `effectiveAt`: it operates.
    chain.next_block_at(effective_at - 1).await;
    assert_eq!(
        revert(lottery.commitSeed(round, c).from(publisher_key)).await,
        not_yet(publisher_key, effective_at)
    );
    chain.mine_at(effective_at).await;
    let config = lottery.getConfig().call().await.unwrap();
    assert_eq!(
        config.operator, publisher_key,
        "due: the views show it at once"
    );
    assert_eq!(config.operatorPcrs, pcrs(&TEST_PCR0));
    assert_eq!(config.pendingOperator, Address::ZERO);
    let receipt = ok(lottery.commitSeed(round, c).from(publisher_key)).await;
    assert_eq!(
        events::<Lottery::OperatorUpdated>(&receipt),
        vec![Lottery::OperatorUpdated {
            oldOperator: Address::ZERO,
            newOperator: publisher_key,
            recordId: u(1),
        }]
    );
}

#[tokio::test]
async fn a_change_waits_for_the_delay_and_for_the_round_boundary() {
    let chain = Chain::start().await;
    let lottery = chain.deploy_with_operator(500).await;
    let old = chain.operator();
    let old_seed = Seed::from_bytes(B256::repeat_byte(1));
    chain.commit(&lottery, &old_seed).await;

    // The publisher announces its own key while round 1 waits for its first bet.
    let rigged = chain.player(9);
    let effective_at = announce(&chain, &lottery, rigged, &NEXT_PCR0).await;

    // A bet placed after the announcement lands in the round the old operator
    // committed, and the announced key cannot touch it.
    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    assert_eq!(state(&lottery).await, RoundState::Betting);
    let known = Seed::from_bytes(B256::repeat_byte(3));
    let (round, c) = commitment(&chain, &lottery, &known).await;
    assert_eq!(
        revert(lottery.commitSeed(round, c).from(rigged)).await,
        not_yet(rigged, effective_at)
    );

    // The delay passes while the round takes bets: still the old operator's round.
    let end = lottery.getRound().call().await.unwrap().endTime;
    assert!(effective_at < end, "the delay ends inside betting");
    chain.next_block_at(effective_at + 1).await;
    ok(lottery.placeBet().from(chain.player(1)).value(milli(20))).await;
    assert_eq!(lottery.operator().call().await.unwrap(), old);
    let config = lottery.getConfig().call().await.unwrap();
    assert_eq!(config.pendingOperator, rigged, "waits for the boundary");
    assert_eq!(config.operatorPcrs, pcrs(&TEST_PCR0));
    assert_eq!(
        revert(lottery.drawWinner(known.reveal()).from(rigged)).await,
        not_yet(rigged, effective_at),
        "the announced key must not draw a BETTING round"
    );
    assert_eq!(
        revert(lottery.refundRound(u(1)).from(rigged)).await,
        not_yet(rigged, effective_at),
        "the announced key must not refund a BETTING round"
    );

    // The old operator draws its round; the next round is WAITING and the change
    // takes effect: the old key can no longer commit, the new one can.
    let min_draw = lottery.getRound().call().await.unwrap().minDrawTime;
    chain.next_block_at(min_draw).await;
    ok(lottery.drawWinner(old_seed.reveal()).from(old)).await;
    assert_eq!(round_id(&lottery).await, 2);
    assert_eq!(lottery.operator().call().await.unwrap(), rigged);
    let (round, c2) = commitment(&chain, &lottery, &old_seed).await;
    assert_eq!(
        revert(lottery.commitSeed(round, c2).from(old)).await,
        not_operator(old)
    );
    let (round, c) = commitment(&chain, &lottery, &known).await;
    let receipt = ok(lottery.commitSeed(round, c).from(rigged)).await;
    assert_eq!(
        events::<Lottery::OperatorUpdated>(&receipt),
        vec![Lottery::OperatorUpdated {
            oldOperator: old,
            newOperator: rigged,
            recordId: u(2),
        }]
    );
    let config = lottery.getConfig().call().await.unwrap();
    assert_eq!(config.operatorPcrs, pcrs(&NEXT_PCR0));
}

#[tokio::test]
async fn a_due_change_clears_the_old_operators_commitment_before_any_bet() {
    let chain = Chain::start().await;
    let lottery = chain.deploy_with_operator(500).await;
    let old_seed = Seed::from_bytes(B256::repeat_byte(1));
    let old_commitment = chain.commit(&lottery, &old_seed).await;
    let next = chain.player(8);
    let effective_at = announce(&chain, &lottery, next, &NEXT_PCR0).await;
    chain.mine_at(effective_at).await;
    // The views already show the round without the old commitment...
    let round = lottery.getRound().call().await.unwrap();
    assert_eq!(round.seedCommitment, B256::ZERO);
    assert_ne!(old_commitment, B256::ZERO);
    // ...and a bet cannot open it: the old operator's seed no longer counts.
    assert_eq!(
        revert(lottery.placeBet().from(chain.player(0)).value(milli(10))).await,
        LotteryErrors::NoSeedCommitment(Lottery::NoSeedCommitment { roundId: u(1) })
    );
    assert_eq!(
        revert(lottery.startRound().from(chain.operator())).await,
        not_operator(chain.operator())
    );
    let new_seed = Seed::from_bytes(B256::repeat_byte(2));
    let (round, c) = commitment(&chain, &lottery, &new_seed).await;
    ok(lottery.commitSeed(round, c).from(next)).await;
    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    assert_eq!(lottery.getRound().call().await.unwrap().seedCommitment, c);
}

#[tokio::test]
async fn the_publisher_can_cancel_or_replace_a_pending_change() {
    let chain = Chain::start().await;
    let lottery = chain.deploy_with_operator(500).await;
    let first = chain.player(8);
    let effective_at = announce(&chain, &lottery, first, &NEXT_PCR0).await;
    let receipt = ok(lottery.cancelOperatorChange().from(chain.publisher())).await;
    assert_eq!(
        events::<Lottery::OperatorChangeCancelled>(&receipt),
        vec![Lottery::OperatorChangeCancelled {
            recordId: u(2),
            operator: first,
        }]
    );
    chain.mine_at(effective_at + 10).await;
    assert_eq!(lottery.operator().call().await.unwrap(), chain.operator());
    let (round, c) = commitment(&chain, &lottery, &Seed::from_bytes(B256::repeat_byte(4))).await;
    assert_eq!(
        revert(lottery.commitSeed(round, c).from(first)).await,
        not_operator(first)
    );
    ok(lottery.commitSeed(round, c).from(chain.operator())).await;

    // A newer announcement replaces a pending one and restarts the delay.
    let second = chain.player(7);
    announce(&chain, &lottery, first, &NEXT_PCR0).await;
    let now = chain.now().await;
    chain.next_block_at(now + OPERATOR_DELAY - 1).await;
    let receipt = ok(lottery
        .setOperator(second, pcrs(&NEXT_PCR0))
        .from(chain.publisher()))
    .await;
    assert_eq!(
        events::<Lottery::OperatorChangeCancelled>(&receipt)[0].operator,
        first
    );
    let second_at = events::<Lottery::OperatorChangeAnnounced>(&receipt)[0]
        .effectiveAt
        .to::<u64>();
    assert_eq!(second_at, now + OPERATOR_DELAY - 1 + OPERATOR_DELAY);
    chain.mine_at(now + OPERATOR_DELAY + 1).await;
    assert_eq!(
        lottery.operator().call().await.unwrap(),
        chain.operator(),
        "the replaced announcement never takes effect"
    );
    chain.mine_at(second_at).await;
    assert_eq!(lottery.operator().call().await.unwrap(), second);
    assert_eq!(lottery.operatorRecordCount().call().await.unwrap(), u(4));
}
