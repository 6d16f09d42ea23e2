//! The real `enclave-app` binary (simulated mode) against anvil with 1 s blocks:
//! killed and restarted mid-round, down past the draw window, and settling a
//! one-player round. State is read from the contract itself; chain time jumps with
//! `anvil_increaseTime`. Across every scenario no operator transaction reverts.

use std::{
    io::Write,
    os::unix::fs::PermissionsExt,
    process::{Child, Command, Stdio},
};

use abi::contract::{Lottery, RefundReason, RoundState};
use alloy::{
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider, ext::AnvilApi},
    sol_types::SolEvent,
};
use tests::{Chain, enclave_app_binary, milli, ok, sent_by};

type Instance = Lottery::LotteryInstance<DynProvider>;

/// A running enclave-app; killed (SIGKILL, like a crash) when dropped.
struct App {
    child: Child,
    _key: tempfile::TempPath,
}

impl App {
    fn start(chain: &Chain, contract: Address) -> Self {
        let mut key = tempfile::NamedTempFile::new().unwrap();
        writeln!(key, "{}", alloy::hex::encode(chain.keys[1].to_bytes())).unwrap();
        std::fs::set_permissions(key.path(), std::fs::Permissions::from_mode(0o600)).unwrap();
        let key = key.into_temp_path();
        let child = testkit::process::command(enclave_app_binary(), &[])
            .args([
                "--mode",
                "sim",
                "--rpc-url",
                &chain.endpoint(),
                "--contract",
                &contract.to_string(),
            ])
            .arg("--operator-key-file")
            .arg(&key)
            .args(["--poll-interval-ms", "200", "--log-filter", "warn"])
            // Straight to anvil, no host-proxy; any free control port.
            .args([
                "--egress",
                "direct",
                "--control-listen",
                "tcp://127.0.0.1:0",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn enclave-app");
        Self { child, _key: key }
    }

    /// SIGTERM and wait: a clean stop.
    fn stop(mut self) {
        testkit::process::terminate(self.child.id()).unwrap();
        let exit = self.child.wait().unwrap();
        assert!(
            exit.success(),
            "enclave-app exited with {exit} after SIGTERM"
        );
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

async fn round_of(lottery: &Instance, id: u64) -> Lottery::RoundInfo {
    lottery.getRoundById(U256::from(id)).call().await.unwrap()
}

/// Waits (polling the contract) until `check` holds for round `id`.
async fn until(
    lottery: &Instance,
    id: u64,
    secs: u64,
    what: &str,
    check: impl Fn(&Lottery::RoundInfo) -> bool,
) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    loop {
        let round = round_of(lottery, id).await;
        if check(&round) {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "timed out after {secs} s waiting for {what}: {round:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

/// Waits for the operator's commitment to round `id`.
async fn committed(lottery: &Instance, id: u64) {
    until(lottery, id, 15, "the round's commitment", |r| {
        r.seedCommitment != B256::ZERO
    })
    .await;
}

/// Players 0 and 1 bet `a` and `b` milli-ether.
async fn two_bets(chain: &Chain, lottery: &Instance, a: u64, b: u64) {
    ok(lottery.placeBet().from(chain.player(0)).value(milli(a))).await;
    ok(lottery.placeBet().from(chain.player(1)).value(milli(b))).await;
}

/// Jumps to just before round `id`'s draw window and waits until the operator has
/// settled it into `settled`.
async fn settles(chain: &Chain, lottery: &Instance, id: u64, settled: RoundState) {
    let round = round_of(lottery, id).await;
    jump_to(chain, round.minDrawTime, 4).await;
    until(lottery, id, 30, "the round settled", |r| {
        state(r) == settled
    })
    .await;
}

fn state(r: &Lottery::RoundInfo) -> RoundState {
    RoundState::try_from(r.state).unwrap()
}

/// Jumps chain time to `secs_before` seconds before `at`.
async fn jump_to(chain: &Chain, at: u64, secs_before: u64) {
    let now = chain.now().await;
    if at > now + secs_before {
        chain
            .provider
            .anvil_increase_time(at - now - secs_before)
            .await
            .unwrap();
    }
}

async fn refund_reason(chain: &Chain, lottery: &Instance, id: u64) -> RefundReason {
    let filter = alloy::rpc::types::Filter::new()
        .address(*lottery.address())
        .event_signature(Lottery::RoundRefunded::SIGNATURE_HASH)
        .topic1(B256::from(U256::from(id)))
        .from_block(0);
    let logs = chain.provider.get_logs(&filter).await.unwrap();
    let event = logs[0]
        .log_decode::<Lottery::RoundRefunded>()
        .unwrap()
        .inner
        .data;
    RefundReason::try_from(event.reason).unwrap()
}

async fn assert_no_reverts(chain: &Chain) {
    let sent = sent_by(chain, chain.operator()).await;
    assert!(!sent.is_empty());
    assert!(
        sent.iter().all(|(_, ok)| *ok),
        "reverted operator transactions: {sent:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_mid_round_refunds_the_round_whose_seed_was_lost() {
    let chain = Chain::start_with(&["--block-time", "1"]).await;
    let lottery = chain.deploy_with_operator(500).await;
    let app = App::start(&chain, *lottery.address());
    committed(&lottery, 1).await;
    two_bets(&chain, &lottery, 10, 20).await;

    drop(app); // SIGKILL: the seed is gone with the process.
    let app = App::start(&chain, *lottery.address());
    until(&lottery, 1, 15, "round 1 refunded", |r| {
        state(r) == RoundState::Refunded
    })
    .await;
    assert_eq!(
        refund_reason(&chain, &lottery, 1).await,
        RefundReason::Operator
    );
    assert_eq!(
        lottery
            .pendingWithdrawal(chain.player(0))
            .call()
            .await
            .unwrap(),
        milli(10)
    );
    // Refunded at once, not at maxDrawTime.
    assert!(chain.now().await < round_of(&lottery, 1).await.maxDrawTime);

    // The next round runs normally under the new process.
    committed(&lottery, 2).await;
    two_bets(&chain, &lottery, 10, 20).await;
    settles(&chain, &lottery, 2, RoundState::Completed).await;
    app.stop();
    assert_no_reverts(&chain).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_a_committed_waiting_round_recommits_and_draws() {
    let chain = Chain::start_with(&["--block-time", "1"]).await;
    let lottery = chain.deploy_with_operator(500).await;
    let app = App::start(&chain, *lottery.address());
    committed(&lottery, 1).await;
    let first = round_of(&lottery, 1).await.seedCommitment;
    drop(app);

    let app = App::start(&chain, *lottery.address());
    until(&lottery, 1, 15, "a new commitment", |r| {
        r.seedCommitment != first && r.seedCommitment != B256::ZERO
    })
    .await;
    two_bets(&chain, &lottery, 10, 30).await;
    settles(&chain, &lottery, 1, RoundState::Completed).await;
    app.stop();
    assert_no_reverts(&chain).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_operator_down_past_the_window_refunds_when_back() {
    let chain = Chain::start_with(&["--block-time", "1"]).await;
    let lottery = chain.deploy_with_operator(500).await;
    let app = App::start(&chain, *lottery.address());
    committed(&lottery, 1).await;
    two_bets(&chain, &lottery, 10, 20).await;
    app.stop();

    let r1 = round_of(&lottery, 1).await;
    jump_to(&chain, r1.maxDrawTime + 10, 0).await;
    chain.provider.evm_mine(None).await.unwrap();
    assert!(chain.now().await > r1.maxDrawTime);
    let app = App::start(&chain, *lottery.address());
    until(&lottery, 1, 15, "round 1 refunded", |r| {
        state(r) == RoundState::Refunded
    })
    .await;
    app.stop();
    assert_no_reverts(&chain).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_single_player_round_is_refunded_through_the_draw() {
    let chain = Chain::start_with(&["--block-time", "1"]).await;
    let lottery = chain.deploy_with_operator(500).await;
    let app = App::start(&chain, *lottery.address());
    committed(&lottery, 1).await;
    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    ok(lottery.placeBet().from(chain.player(0)).value(milli(5))).await;
    settles(&chain, &lottery, 1, RoundState::Refunded).await;
    assert_eq!(
        refund_reason(&chain, &lottery, 1).await,
        RefundReason::NotEnoughParticipants
    );
    // The draw revealed the seed even though it refunded.
    assert_ne!(round_of(&lottery, 1).await.revealedSeed, B256::ZERO);
    assert_eq!(
        lottery
            .pendingWithdrawal(chain.player(0))
            .call()
            .await
            .unwrap(),
        milli(15)
    );
    app.stop();
    assert_no_reverts(&chain).await;
}

/// `--mode nitro` refuses plain-HTTP RPC URLs (over HTTP the host could rewrite every
/// answer): exit 2 with the rule, before anything starts, and without the URL's path.
#[test]
fn nitro_mode_refuses_an_http_rpc_url_with_exit_2() {
    let out = Command::new(enclave_app_binary())
        .args([
            "--mode",
            "nitro",
            "--rpc-url",
            "https://rpc1.example/v2/KEY1",
            "--rpc-url",
            "http://rpc2.example/v2/SECRETKEY",
            "--contract",
            "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        ])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--mode nitro needs https:// or wss:// RPC URLs")
            && stderr.contains("http://rpc2.example"),
        "{stderr}"
    );
    assert!(!stderr.contains("SECRETKEY"), "{stderr}");
    assert!(out.stdout.is_empty());
}
