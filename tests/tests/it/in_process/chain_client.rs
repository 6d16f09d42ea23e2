//! enclave-app's chain client against a real anvil: consistent batched views, chunked
//! logs, and the operator's transaction sender (simulation before sending, sending a
//! draw before its first eligible block exists, fee-bump replacement with the same
//! nonce, and nonce resynchronisation).

use abi::{
    contract::{Lottery, LotteryErrors, RevertReason, RoundState},
    draw::Seed,
};
use alloy::{
    network::EthereumWallet,
    primitives::{B256, Bytes, U256},
    providers::{Provider, ext::AnvilApi},
    sol_types::SolCall,
};
use enclave_app::chain::{ChainClient, ChainError, REPLACEMENT_BUMP_PERCENT, TxSender};
use tests::{Chain, milli, ok};

fn client(chain: &Chain, contract: alloy::primitives::Address) -> ChainClient {
    ChainClient::connect_tcp(net::RpcUrl::parse(&chain.endpoint()).unwrap(), contract).unwrap()
}

/// The receipt of `pending`, waiting up to 10 s for it (a loaded machine may need a
/// moment even with automine).
async fn mined(
    tx: &TxSender,
    pending: &enclave_app::chain::PendingTx,
) -> alloy::rpc::types::TransactionReceipt {
    for _ in 0..200 {
        if let Some(receipt) = tx.receipt(pending).await.unwrap() {
            return receipt;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{} not mined within 10 s", pending.hash)
}

async fn sender(chain: &Chain, client: &ChainClient) -> TxSender {
    let wallet = EthereumWallet::from(chain.keys[1].clone());
    TxSender::new(
        client.clone(),
        wallet,
        chain.operator(),
        chain.chain_id().await,
    )
}

#[tokio::test]
async fn views_are_read_together_at_one_block() {
    let chain = Chain::start().await;
    let lottery = chain.deploy_with_operator(500).await;
    let seed = Seed::from_bytes(B256::repeat_byte(1));
    chain.commit(&lottery, &seed).await;
    let before = chain.provider.get_block_number().await.unwrap();
    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    ok(lottery.placeBet().from(chain.player(1)).value(milli(30))).await;
    let c = client(&chain, *lottery.address());

    let now = c.head().await.unwrap();
    let state = c.contract_state(now.number).await.unwrap();
    assert_eq!(state.round.state, RoundState::Betting);
    assert_eq!(state.round.total_pot, milli(40));
    let participants = state.participants.expect("a full read has the list");
    assert_eq!(participants.len(), 2);
    assert_eq!(participants.round_id(), state.round.round_id);
    let second = participants.view(&participants.stakes()[1]);
    assert_eq!(second.address, chain.player(1));
    assert!((second.win_chance - 0.75).abs() < 1e-9);
    assert_eq!(state.config.operator, Some(chain.operator()));

    // Pinned to an older block, the same call shows the older state.
    let old = c.contract_state(before).await.unwrap();
    assert_eq!(old.round.state, RoundState::Waiting);
    assert!(
        old.participants
            .expect("a full read has the list")
            .is_empty()
    );
    // The O(1) read has the same round, and no list.
    let light = c.round_state(now.number).await.unwrap();
    assert_eq!((light.round, light.participants), (state.round, None));
}

#[tokio::test]
async fn logs_are_the_same_whatever_the_chunk_size() {
    let chain = Chain::start().await;
    let lottery = chain.deploy_with_operator(500).await;
    chain
        .commit(&lottery, &Seed::from_bytes(B256::repeat_byte(2)))
        .await;
    for i in 0..4 {
        ok(lottery.placeBet().from(chain.player(i)).value(milli(1))).await;
    }
    let c = client(&chain, *lottery.address());
    let head = c.head().await.unwrap().number;
    let whole = c.logs(0, head, 10_000).await.unwrap();
    let chunked = c.logs(0, head, 1).await.unwrap();
    assert_eq!(whole, chunked);
    let bets = whole
        .iter()
        .filter(|l| l.log_decode::<Lottery::BetPlaced>().is_ok())
        .count();
    assert_eq!(bets, 4);
}

#[tokio::test]
async fn a_transaction_that_would_revert_is_never_sent() {
    let chain = Chain::start().await;
    let lottery = chain.deploy_with_operator(500).await;
    let c = client(&chain, *lottery.address());
    let mut tx = sender(&chain, &c).await;
    let nonce_before = tx.mined_nonce().await.unwrap();
    let head = c.head().await.unwrap().number;
    // No bets, no window: the contract would reject a draw.
    let input = Bytes::from(Lottery::drawWinnerCall { seed: B256::ZERO }.abi_encode());
    let err = tx.send(input, 300_000, None, head).await.unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::Revert(RevertReason::Lottery(LotteryErrors::WrongRoundState(_)))
        ),
        "{err:?}"
    );
    assert_eq!(
        tx.mined_nonce().await.unwrap(),
        nonce_before,
        "nothing was sent"
    );
}

/// The draw is simulated at the timestamp of the block it aims for and sent before
/// that block exists, so it lands in the first eligible block.
#[tokio::test]
async fn a_draw_is_sent_ahead_of_its_first_eligible_block() {
    let chain = Chain::start().await;
    let lottery = chain.deploy_with_operator(500).await;
    let seed = Seed::from_bytes(B256::repeat_byte(3));
    chain.commit(&lottery, &seed).await;
    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    ok(lottery.placeBet().from(chain.player(1)).value(milli(30))).await;
    let round = lottery.getRound().call().await.unwrap();
    let c = client(&chain, *lottery.address());
    let mut tx = sender(&chain, &c).await;
    let input = Bytes::from(
        Lottery::drawWinnerCall {
            seed: seed.reveal(),
        }
        .abi_encode(),
    );

    // Against the latest block the draw is too early...
    let early = tx.simulate(&input, None).await.unwrap_err();
    assert!(
        matches!(
            early,
            ChainError::Revert(RevertReason::Lottery(LotteryErrors::DrawTooEarly(_)))
        ),
        "{early:?}"
    );
    // ...but at minDrawTime it passes, so it can be sent now and mined then.
    chain.provider.anvil_set_auto_mine(false).await.unwrap();
    let head = c.head().await.unwrap().number;
    let pending = tx
        .send(input, 300_000, Some(round.minDrawTime), head)
        .await
        .unwrap();
    assert!(
        tx.receipt(&pending).await.unwrap().is_none(),
        "not mined yet"
    );
    chain.mine_at(round.minDrawTime).await;
    let receipt = tx
        .receipt(&pending)
        .await
        .unwrap()
        .expect("mined in the first eligible block");
    assert!(receipt.status());
    let block = c
        .header(receipt.block_number.unwrap().into())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(block.timestamp, round.minDrawTime);
}

#[tokio::test]
async fn a_stuck_transaction_is_replaced_with_the_same_nonce_and_higher_fees() {
    let chain = Chain::start().await;
    let lottery = chain.deploy_with_operator(500).await;
    let c = client(&chain, *lottery.address());
    let mut tx = sender(&chain, &c).await;
    chain.provider.anvil_set_auto_mine(false).await.unwrap();

    let round = U256::from(1);
    let commitment = B256::repeat_byte(9);
    let input = Bytes::from(
        Lottery::commitSeedCall {
            roundId: round,
            commitment,
        }
        .abi_encode(),
    );
    let head = c.head().await.unwrap().number;
    let mut pending = tx.send(input, 100_000, None, head).await.unwrap();
    let first = pending.clone();
    tx.replace(&mut pending, head).await.unwrap();

    assert_eq!(pending.nonce, first.nonce);
    assert_ne!(pending.hash, first.hash);
    assert_eq!(pending.hashes, vec![first.hash, pending.hash]);
    for (new, old) in [
        (pending.max_fee_per_gas, first.max_fee_per_gas),
        (
            pending.max_priority_fee_per_gas,
            first.max_priority_fee_per_gas,
        ),
    ] {
        assert!(
            new * 100 >= old * REPLACEMENT_BUMP_PERCENT,
            "bump {old} -> {new} is below 12.5%"
        );
    }
    chain.provider.evm_mine(None).await.unwrap();
    let receipt = tx
        .receipt(&pending)
        .await
        .unwrap()
        .expect("the replacement was mined");
    assert_eq!(receipt.transaction_hash, pending.hash);
    assert!(receipt.status());
    assert!(
        chain
            .provider
            .get_transaction_receipt(first.hash)
            .await
            .unwrap()
            .is_none(),
        "the replaced transaction must not be mined"
    );
    assert_eq!(
        lottery.getRound().call().await.unwrap().seedCommitment,
        commitment
    );
    assert_eq!(tx.mined_nonce().await.unwrap(), first.nonce + 1);
}

#[tokio::test]
async fn the_nonce_resynchronises_after_an_outside_transaction() {
    let chain = Chain::start().await;
    let lottery = chain.deploy_with_operator(500).await;
    let c = client(&chain, *lottery.address());
    let mut tx = sender(&chain, &c).await;
    let commit = |byte: u8| {
        Bytes::from(
            Lottery::commitSeedCall {
                roundId: U256::from(1),
                commitment: B256::repeat_byte(byte),
            }
            .abi_encode(),
        )
    };
    let head = c.head().await.unwrap().number;
    let sent = tx.send(commit(1), 100_000, None, head).await.unwrap();
    assert!(mined(&tx, &sent).await.status());

    // The same key sends behind the sender's back (a restarted twin, a manual fix):
    // the cached nonce is now stale, the send fails once, and the next one succeeds.
    ok(lottery
        .commitSeed(U256::from(1), B256::repeat_byte(2))
        .from(chain.operator()))
    .await;
    let stale = tx.send(commit(3), 100_000, None, head).await;
    assert!(stale.is_err(), "a stale nonce must be refused");
    let fresh = tx.send(commit(4), 100_000, None, head).await.unwrap();
    assert!(mined(&tx, &fresh).await.status());
    assert_eq!(
        lottery.getRound().call().await.unwrap().seedCommitment,
        B256::repeat_byte(4)
    );
}
