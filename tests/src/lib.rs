//! Test harness shared by the cross-process tests and the benchmark binaries: the
//! contract's test-only bindings, the simulated topology ([`stack`]), the enclave
//! core run in-process ([`enclave_core`]), the hostile JSON-RPC upstream
//! ([`upstream`]) and its WebSocket relay ([`ws_upstream`]), gas measurements and round helpers. The anvil fixture and the
//! process helpers are `testkit`'s ([`testkit::chain`], [`testkit::process`]),
//! re-exported here where the tests have always found them.

pub mod bench;
pub mod enclave_core;
pub mod gas;
pub mod rounds;
pub mod stack;
pub mod tls;
pub mod upstream;
pub mod ws_upstream;

use std::path::PathBuf;

use abi::contract::Lottery;
use alloy::{
    primitives::{Address, U256},
    providers::{DynProvider, Provider, ext::AnvilApi},
};
pub use testkit::chain::{
    ACCOUNTS, Chain, OPERATOR_DELAY, TEST_PCR0, anvil_binary, ether, events, milli, ok, revert,
    try_send,
};

/// The `HostilePlayer` test contract (rejects, burns gas or re-enters on receive).
pub mod hostile {
    alloy::sol!(
        #[allow(missing_docs)]
        #[sol(rpc)]
        #[derive(Debug)]
        HostilePlayer,
        "../abi/artifacts/test/HostilePlayer.json"
    );
}

/// Polls `check` every 50 ms until it returns `Some`.
///
/// # Panics
/// After `secs` seconds, naming `what`.
pub async fn eventually<T>(secs: u64, what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// Round 1 played out against a running operator: players 0 and 1 bet 10 and 20
/// milli-ETH, chain time jumps to the draw window, and this waits up to `secs` for
/// the operator to draw it.
///
/// # Panics
/// When a bet fails or the round is not drawn in time.
pub async fn play_first_round(
    chain: &Chain,
    lottery: &Lottery::LotteryInstance<DynProvider>,
    secs: u64,
) {
    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    ok(lottery.placeBet().from(chain.player(1)).value(milli(20))).await;
    let round = lottery.getRound().call().await.expect("getRound");
    let now = chain.now().await;
    chain
        .provider
        .anvil_increase_time(round.minDrawTime.saturating_sub(now))
        .await
        .expect("anvil_increase_time");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let settled = lottery
            .getRoundById(U256::from(1))
            .call()
            .await
            .expect("getRoundById");
        if settled.state == abi::contract::RoundState::Completed as u8 {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "round 1 was not drawn within {secs} s"
        );
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}

/// Every transaction `from` sent on `chain`, as `(block, succeeded)`.
///
/// # Panics
/// On RPC failure.
pub async fn sent_by(chain: &Chain, from: Address) -> Vec<(u64, bool)> {
    let head = chain
        .provider
        .get_block_number()
        .await
        .expect("block number");
    let mut out = Vec::new();
    for n in 0..=head {
        let block = chain
            .provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Number(n))
            .full()
            .await
            .expect("block")
            .expect("block exists");
        for tx in block.transactions.txns() {
            if tx.inner.signer() == from {
                let receipt = chain
                    .provider
                    .get_transaction_receipt(*tx.inner.tx_hash())
                    .await
                    .expect("receipt")
                    .expect("mined");
                out.push((n, receipt.status()));
            }
        }
    }
    out
}

/// The `enclave-app` binary built beside the running test executable
/// (`target/<profile>/enclave-app`; `cargo test --workspace` and nextest build it).
///
/// # Panics
/// When it has not been built, with the command that builds it.
pub fn enclave_app_binary() -> PathBuf {
    testkit::process::workspace_binary("enclave-app")
}
