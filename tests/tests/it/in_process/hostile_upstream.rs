//! The enclave core (mirror and operator, in-process) against JSON-RPC upstreams that
//! lie: block times moved forward, a forged round, dropped transactions. The attacker
//! wins if a seed reaches it (in a simulation or a transaction) while bets are still
//! accepted, or if the operator pays gas in a loop; each test plays one attack and
//! asserts it gets nothing, and that honest upstreams still get the first eligible
//! block.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use abi::{
    contract::{Lottery, RoundState},
    state::OperatorStatus,
};
use alloy::{
    primitives::{Address, U256},
    providers::{DynProvider, Provider, ext::AnvilApi},
    sol_types::{SolCall, SolValue},
};
use tests::{
    Chain,
    enclave_core::{self, CoreOptions},
    milli, ok,
    upstream::{HostileUpstream, Hostility},
};

type Instance = Lottery::LotteryInstance<DynProvider>;

/// The shift of the attack: block times 70 s ahead of the chain's.
const SHIFT: u64 = 70;

const POLL: Duration = Duration::from_millis(100);

fn draw_selector() -> [u8; 4] {
    Lottery::drawWinnerCall::SELECTOR
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A chain with 1 s blocks and a lottery whose operator is account 1, betting for
/// the shortest duration the contract allows (60 s).
async fn chain_and_lottery() -> (Chain, Instance) {
    let chain = Chain::start_with(&["--block-time", "1"]).await;
    let lottery = chain.deploy_with_operator(500).await;
    ok(lottery
        .setBettingDuration(U256::from(60))
        .from(chain.operator()))
    .await;
    (chain, lottery)
}

async fn round(lottery: &Instance, id: u64) -> Lottery::RoundInfo {
    lottery.getRoundById(U256::from(id)).call().await.unwrap()
}

/// The in-process core for `lottery`, with account 1's key, reaching the chain
/// through `upstreams` (the followed one first) with `options` for the rest.
async fn core_through(
    chain: &Chain,
    lottery: &Instance,
    upstreams: &[&HostileUpstream],
    options: CoreOptions,
) -> enclave_core::Core {
    let upstreams = upstreams.iter().map(|u| u.url()).collect();
    enclave_core::start_with(
        chain,
        *lottery.address(),
        1,
        POLL,
        CoreOptions {
            upstreams,
            ..options
        },
    )
    .await
}

/// Waits until round `id` has a seed commitment from the operator.
async fn until_committed(lottery: &Instance, id: u64, secs: u64) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while round(lottery, id).await.seedCommitment.is_zero() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "round {id} not committed within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits until `check` holds for the store's operator status.
async fn until_status(
    core: &enclave_core::Core,
    secs: u64,
    what: &str,
    check: impl Fn(&OperatorStatus) -> bool,
) -> OperatorStatus {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let status = core.store.operator();
        if check(&status) {
            return status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what} within {secs} s; status: {status:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Every `drawWinner` transaction `from` sent that the chain holds, as
/// `(block timestamp, succeeded)`.
async fn draws_on_chain(chain: &Chain, from: Address) -> Vec<(u64, bool)> {
    let head = chain.provider.get_block_number().await.unwrap();
    let mut out = Vec::new();
    for n in 0..=head {
        let block = chain
            .provider
            .get_block_by_number(n.into())
            .full()
            .await
            .unwrap()
            .unwrap();
        for tx in block.transactions.txns() {
            use alloy::consensus::Transaction;
            if tx.inner.signer() == from && tx.inner.input().starts_with(&draw_selector()) {
                let receipt = chain
                    .provider
                    .get_transaction_receipt(*tx.inner.tx_hash())
                    .await
                    .unwrap()
                    .unwrap();
                out.push((block.header.timestamp, receipt.status()));
            }
        }
    }
    out
}

/// Two bets, so round 1 has a pot worth stealing.
async fn bet_twice(chain: &Chain, lottery: &Instance) {
    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    ok(lottery.placeBet().from(chain.player(1)).value(milli(20))).await;
}

/// Asserts no seed-carrying request (a `drawWinner` simulation or transaction) reached
/// `upstream` before wall-clock second `not_before`.
fn assert_no_early_seed(upstream: &HostileUpstream, not_before: u64) {
    let at = |t: SystemTime| t.duration_since(UNIX_EPOCH).unwrap().as_secs();
    for call in upstream.calls() {
        assert!(
            !call.input.starts_with(&draw_selector()) || at(call.at) >= not_before,
            "a drawWinner simulation reached the hostile upstream at {} (end of betting {not_before})",
            at(call.at)
        );
    }
    for tx in upstream.transactions() {
        assert!(
            !tx.input.starts_with(&draw_selector()) || at(tx.at) >= not_before,
            "a drawWinner transaction reached the hostile upstream at {} (end of betting {not_before})",
            at(tx.at)
        );
    }
}

/// Attack 2 with a second, honest upstream and quorum 2: the liar's block times (and
/// then its forged `endTime`) never agree with the honest upstream's, so nothing is
/// signed; the status names the upstream and the fact. Once it stops lying, the round
/// is drawn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_upstreams_one_lying_about_time_get_no_seed_while_betting_is_open() {
    let (chain, lottery) = chain_and_lottery().await;
    let hostile = HostileUpstream::start(&chain.endpoint()).await.unwrap();
    let honest = HostileUpstream::start(&chain.endpoint()).await.unwrap();
    let core = core_through(
        &chain,
        &lottery,
        &[&hostile, &honest],
        CoreOptions {
            quorum: 2,
            ..CoreOptions::default()
        },
    )
    .await;
    // Honest while the round is committed and bets come in.
    until_committed(&lottery, 1, 20).await;
    bet_twice(&chain, &lottery).await;
    let end = round(&lottery, 1).await.endTime;

    // Now it moves block times 70 s ahead: in its view betting closed long ago.
    hostile.set_hostility(Hostility {
        timestamp_shift_secs: SHIFT,
        ..Hostility::default()
    });
    let status = until_status(&core, 15, "the disagreement shows", |s| {
        matches!(s, OperatorStatus::AwaitingAgreement { .. })
    })
    .await;
    let OperatorStatus::AwaitingAgreement {
        round_id,
        upstream,
        fact,
        reason,
    } = status
    else {
        unreachable!()
    };
    assert_eq!(round_id, 1);
    assert_eq!(fact, "head.timestamp", "{reason}");
    assert!(
        [hostile.url(), honest.url()]
            .iter()
            .any(|u| u.ends_with(&upstream)),
        "{upstream}"
    );
    assert!(reason.contains("head.timestamp"), "{reason}");
    // A few more blocks of betting time: still nothing.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(chain.now().await <= end, "the test must run inside betting");

    // Then it forges the round's end instead (honest clock): still no agreement.
    let forged_end = chain.now().await.saturating_sub(10);
    hostile.set_hostility(Hostility {
        rewrite_call: Some(std::sync::Arc::new(move |input: &[u8], result: &[u8]| {
            if !input.starts_with(&Lottery::getRoundCall::SELECTOR) {
                return None;
            }
            let mut info = Lottery::getRoundCall::abi_decode_returns(result).ok()?;
            info.endTime = forged_end;
            info.minDrawTime = forged_end + 5;
            Some(info.abi_encode())
        })),
        ..Hostility::default()
    });
    // A third bet makes the mirror read the (forged) round again.
    ok(lottery.placeBet().from(chain.player(2)).value(milli(10))).await;
    until_status(
        &core,
        15,
        "the forged end shows",
        |s| matches!(s, OperatorStatus::AwaitingAgreement { fact, .. } if fact == "round.endTime"),
    )
    .await;
    assert!(chain.now().await <= end, "the test must run inside betting");
    assert_no_early_seed(&hostile, u64::MAX);
    assert_no_early_seed(&honest, u64::MAX);
    assert!(draws_on_chain(&chain, chain.operator()).await.is_empty());

    // Honest again, past the real end: drawn, once, inside the window.
    hostile.set_hostility(Hostility::default());
    let now = chain.now().await;
    chain
        .provider
        .anvil_increase_time(end + 1 - now.min(end + 1))
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while round(&lottery, 1).await.state != RoundState::Completed as u8 {
        assert!(tokio::time::Instant::now() < deadline, "round 1 not drawn");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let draws = draws_on_chain(&chain, chain.operator()).await;
    assert_eq!(draws.len(), 1, "{draws:?}");
    assert!(draws[0].1 && draws[0].0 > end, "{draws:?}");
}

/// Attack 2 with one upstream only: it moves block times 70 s ahead, so the chain it
/// shows is past the end of betting at once. `--clock-margin-secs 2` holds the seed
/// until the enclave's own clock is past the end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_lying_upstream_is_held_back_by_the_clock_margin() {
    let (chain, lottery) = chain_and_lottery().await;
    // anvil's clock must not be behind the wall clock here (the operator delay put it
    // a few seconds ahead; no other time jumps in this test): the margin is measured
    // against the chain's end of betting.
    let (chain_now, wall) = (chain.now().await, unix_now());
    assert!(
        chain_now + 1 >= wall,
        "anvil's clock is behind: {chain_now} < {wall}"
    );
    let hostile = HostileUpstream::start(&chain.endpoint()).await.unwrap();
    hostile.set_hostility(Hostility {
        timestamp_shift_secs: SHIFT,
        ..Hostility::default()
    });
    let _core = core_through(
        &chain,
        &lottery,
        &[&hostile],
        CoreOptions {
            clock_margin_secs: Some(2),
            ..CoreOptions::default()
        },
    )
    .await;
    until_committed(&lottery, 1, 20).await;
    bet_twice(&chain, &lottery).await;
    let end = round(&lottery, 1).await.endTime;
    // Through the whole betting period (about a minute), then a little past it.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(80);
    loop {
        assert_no_early_seed(&hostile, end + 1);
        if unix_now() > end + 4 || tokio::time::Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_no_early_seed(&hostile, end + 1);
    // Past the margin the operator does reveal (the lie only delayed it).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while !hostile
        .calls()
        .iter()
        .any(|c| c.input.starts_with(&draw_selector()))
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no draw simulated after the margin"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    for (at, _) in draws_on_chain(&chain, chain.operator()).await {
        assert!(at > end, "a draw mined at {at}, before the end {end}");
    }
}

/// Two honest upstreams and quorum 2 change nothing for players: the draw lands in
/// the first block whose timestamp reaches `minDrawTime`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_honest_upstreams_draw_in_the_first_eligible_block() {
    let (chain, lottery) = chain_and_lottery().await;
    let a = HostileUpstream::start(&chain.endpoint()).await.unwrap();
    let b = HostileUpstream::start(&chain.endpoint()).await.unwrap();
    let _core = core_through(
        &chain,
        &lottery,
        &[&a, &b],
        CoreOptions {
            quorum: 2,
            ..CoreOptions::default()
        },
    )
    .await;
    until_committed(&lottery, 1, 20).await;
    bet_twice(&chain, &lottery).await;
    let info = round(&lottery, 1).await;
    // Jump to 5 s before the end of betting; blocks then come every second, so the
    // operator has seen regular gaps again by the time the draw is due.
    let now = chain.now().await;
    chain
        .provider
        .anvil_increase_time(info.endTime - 5 - now)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while round(&lottery, 1).await.state != RoundState::Completed as u8 {
        assert!(tokio::time::Instant::now() < deadline, "round 1 not drawn");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let draws = draws_on_chain(&chain, chain.operator()).await;
    assert_eq!(draws.len(), 1, "{draws:?}");
    let (mined_at, succeeded) = draws[0];
    assert!(succeeded);
    assert_eq!(
        mined_at, info.minDrawTime,
        "the draw must land in the first eligible block"
    );
    // The other upstream was asked too (the quorum read), and got the transaction.
    assert!(b.counts().calls > 0);
    assert!(
        b.transactions()
            .iter()
            .any(|t| t.input.starts_with(&draw_selector()))
    );
}

/// Attack 3: one upstream moves block times ahead and there is no margin (sim mode's
/// default), so the draw is sent early and reverts on chain. It is sent once; the
/// operator holds it and says so instead of paying gas every block.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_draw_that_reverts_on_chain_is_sent_once() {
    let (chain, lottery) = chain_and_lottery().await;
    let hostile = HostileUpstream::start(&chain.endpoint()).await.unwrap();
    hostile.set_hostility(Hostility {
        timestamp_shift_secs: SHIFT,
        ..Hostility::default()
    });
    let core = core_through(&chain, &lottery, &[&hostile], CoreOptions::default()).await;
    until_committed(&lottery, 1, 20).await;
    // One bet: every later state change (a second bet, say) would rightly let the
    // operator decide again.
    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    let status = until_status(&core, 20, "the reverted draw is held", |s| {
        matches!(s, OperatorStatus::Held { .. })
    })
    .await;
    let OperatorStatus::Held {
        round_id,
        action,
        reason,
    } = status
    else {
        unreachable!()
    };
    assert_eq!((round_id, action.as_str()), (1, "draw"), "{reason}");
    assert!(reason.contains("reverted on chain"), "{reason}");
    // Ten more blocks: still one draw transaction, the reverted one.
    let head = chain.provider.get_block_number().await.unwrap();
    while chain.provider.get_block_number().await.unwrap() < head + 10 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let draws = draws_on_chain(&chain, chain.operator()).await;
    assert_eq!(draws.len(), 1, "one draw, not one a block: {draws:?}");
    assert!(!draws[0].1, "{draws:?}");
    let sent_draws = hostile
        .transactions()
        .iter()
        .filter(|t| t.input.starts_with(&draw_selector()))
        .count();
    assert_eq!(sent_draws, 1);
}

/// Attack 4: an upstream drops (holds) every transaction until the fee bumps run out;
/// the operator then sends the last one again, unchanged, and the commit lands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_transaction_is_sent_again_after_the_bumps_run_out() {
    let (chain, lottery) = chain_and_lottery().await;
    let hostile = HostileUpstream::start(&chain.endpoint()).await.unwrap();
    // The first send and its 8 replacements are dropped.
    hostile.set_hostility(Hostility {
        hold_raw_transactions: true,
        hold_first: Some(9),
        ..Hostility::default()
    });
    let _core = core_through(
        &chain,
        &lottery,
        &[&hostile],
        CoreOptions {
            replace_after_blocks: 1,
            ..CoreOptions::default()
        },
    )
    .await;
    until_committed(&lottery, 1, 40).await;
    let sent = hostile.transactions();
    assert!(sent.len() >= 10, "{} sends", sent.len());
    assert!(sent[..9].iter().all(|t| t.held));
    assert!(!sent[9].held);
    // The send that landed is the last replacement, sent again unchanged.
    assert_eq!(sent[9].hash, sent[8].hash);
    let hashes: std::collections::HashSet<_> = sent[..9].iter().map(|t| t.hash).collect();
    assert_eq!(hashes.len(), 9, "each replacement is a new transaction");
}
