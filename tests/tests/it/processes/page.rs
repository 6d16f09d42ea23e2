//! The players' web page end to end, in a real browser: anvil, enclave-app (sim)
//! and host-proxy serving `frontend/dist`, driven by `frontend/e2e/page.mjs`
//! (playwright-core and Debian's headless Chromium, with an injected EIP-1193 wallet
//! forwarding to anvil's unlocked accounts). The script connects, bets from two
//! accounts, watches the countdown, lives through a host-proxy restart, sees the
//! operator draw, and withdraws a refund; this test restarts host-proxy when asked
//! and checks the outcome on chain. Screenshots: `target/e2e-artifacts/`.

use std::{
    io::{BufRead, BufReader, Write},
    path::{Path, PathBuf},
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use abi::contract::RoundState;
use alloy::{
    primitives::{B256, U256},
    providers::Provider,
};
use tests::{
    Chain, milli, ok,
    stack::{self, Ports, Service},
};

/// An RPC URL only host-proxy's forwarder can serve (`.invalid` never resolves).
const UNREACHABLE_RPC: &str = "http://chain.invalid:8545";

/// The explorer host-proxy tells the page about (links only; never fetched).
const EXPLORER: &str = "https://explorer.invalid";

/// The whole browser run, with margin: it takes well under a minute when idle.
const PAGE_TIMEOUT: Duration = Duration::from_secs(150);

/// The Chromium the script drives (Debian's package, not Playwright's download).
const CHROMIUM: &str = "/usr/bin/chromium";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the workspace")
        .to_path_buf()
}

/// Fails early, saying what to run, when something the browser test needs is missing.
fn preflight(repo: &Path) {
    let frontend = repo.join("frontend");
    let needs = [
        (
            frontend.join("dist/index.html"),
            "the built page: run scripts/build-frontend (scripts/test does)",
        ),
        (
            frontend.join("dist/attestation.wasm"),
            "the verifier in the built page: run scripts/build-frontend (scripts/test does)",
        ),
        (
            frontend.join("node_modules/playwright-core/package.json"),
            "the page's npm packages: run scripts/build-frontend (scripts/test does)",
        ),
        (
            PathBuf::from(CHROMIUM),
            "Debian's chromium: run scripts/test (it installs it) or apt-get install chromium",
        ),
    ];
    for (path, what) in needs {
        assert!(path.exists(), "{} is missing; {what}", path.display());
    }
}

/// The node process, killed (with its browser, which exits when its pipe closes) if
/// the test fails first.
struct Script(Child);

impl Drop for Script {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn host_proxy(chain: &Chain, ports: Ports, dist: &Path) -> Service {
    stack::host_proxy(
        ports,
        &chain.endpoint(),
        &[
            "--frontend-dir",
            dist.to_str().expect("UTF-8 path"),
            "--explorer-url",
            EXPLORER,
            "--public-rpc-url",
            &chain.endpoint(),
            "--chain-name",
            "Anvil (local)",
        ],
    )
}

/// Waits until host-proxy answers HTTP again.
async fn listening(web: u16) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while stack::try_get_json_raw(web, "/api/health").await.is_err() {
        assert!(Instant::now() < deadline, "host-proxy never listened again");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_plays_two_rounds_in_a_real_browser() {
    let repo = repo();
    preflight(&repo);
    let dist = repo.join("frontend/dist");
    let artifacts = repo.join("target/e2e-artifacts");
    let _ = std::fs::remove_dir_all(&artifacts);
    std::fs::create_dir_all(&artifacts).expect("create target/e2e-artifacts");

    let chain = Chain::start_with(&["--block-time", "1"]).await;
    // The operator is recorded with the simulated enclave's PCR0, so the page's
    // attestation panel can match the document against the chain.
    let lottery = chain.deploy(500).await;
    chain
        .set_operator(&lottery, chain.operator(), &stack::sim_pcr0())
        .await;
    let contract = *lottery.address();
    let ports = Ports::free();
    let mut host = host_proxy(&chain, ports, &dist);
    let _enclave = stack::enclave_app(&chain, ports, UNREACHABLE_RPC, contract, Some(1), &[]);
    stack::host_until(ports.web, 60, "round 1 committed", |s| {
        s.round
            .as_ref()
            .is_some_and(|r| r.seed_commitment.is_some())
    })
    .await;
    let (a, b, c) = (chain.player(0), chain.player(1), chain.player(2));

    let mut child = Command::new("node")
        .arg(repo.join("frontend/e2e/page.mjs"))
        .current_dir(repo.join("frontend"))
        .env("PAGE_URL", format!("http://127.0.0.1:{}/", ports.web))
        .env("RPC_URL", chain.endpoint())
        .env("CHAIN_ID", chain.chain_id().await.to_string())
        .env("CONTRACT", contract.to_checksum(None))
        .env("OPERATOR", chain.operator().to_checksum(None))
        .env("BETTOR_A", a.to_checksum(None))
        .env("BETTOR_B", b.to_checksum(None))
        .env("EXPLORER_URL", EXPLORER)
        .env("ARTIFACTS_DIR", &artifacts)
        .env("CHROMIUM", CHROMIUM)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn node (Node.js 20+ is needed)");
    let mut stdin = child.stdin.take().expect("piped stdin");
    let stdout = child.stdout.take().expect("piped stdout");
    let stderr = child.stderr.take().expect("piped stderr");
    let mut script = Script(child);
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            // The runner shows a failing test's stderr: the script's progress.
            #[allow(clippy::print_stderr)]
            {
                eprintln!("{line}");
            }
        }
    });
    let (tx, mut lines) = tokio::sync::mpsc::unbounded_channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });

    let deadline = tokio::time::Instant::now() + PAGE_TIMEOUT;
    let mut result = None;
    let mut restarts = 0;
    let mut announcements = 0;
    loop {
        let line = tokio::time::timeout_at(deadline, lines.recv())
            .await
            .unwrap_or_else(|_| panic!("the page test did not finish within {PAGE_TIMEOUT:?}"));
        let Some(line) = line else { break };
        if line == "RESTART_HOST_PROXY" {
            // host-proxy dies; while it is down a third player bets straight on
            // chain (the page must pick that up when it resyncs); then it comes back
            // on the same ports.
            host.kill();
            ok(lottery.placeBet().from(c).value(milli(3))).await;
            tokio::time::sleep(Duration::from_secs(1)).await;
            host = host_proxy(&chain, ports, &dist);
            listening(ports.web).await;
            writeln!(stdin, "RESTARTED").expect("write to the page script");
            restarts += 1;
        } else if line == "ANNOUNCE_OPERATOR" {
            // The publisher announces the same key and image again, while round 1
            // takes bets: the page must show the pending change; it takes effect at
            // the next round boundary and changes nothing the test relies on.
            ok(lottery
                .setOperator(
                    chain.operator(),
                    alloy::primitives::Bytes::from(stack::sim_pcr0()),
                )
                .from(chain.publisher()))
            .await;
            writeln!(stdin, "ANNOUNCED").expect("write to the page script");
            announcements += 1;
        } else if let Some(json) = line.strip_prefix("RESULT ") {
            result = Some(serde_json::from_str::<serde_json::Value>(json).expect("RESULT JSON"));
        }
    }
    let status = script.0.wait().expect("wait for node");
    assert!(
        status.success(),
        "the page test failed ({status}); its log is above, screenshots in {}",
        artifacts.display()
    );
    assert_eq!(restarts, 1, "host-proxy was not restarted exactly once");
    assert_eq!(announcements, 1, "no operator change was announced");
    let result = result.expect("the page script printed no RESULT");
    let hash = |key: &str| -> B256 {
        result[key]
            .as_str()
            .unwrap_or_else(|| panic!("RESULT has no {key}: {result}"))
            .parse()
            .expect("a transaction hash")
    };

    // On chain: both bets the page sent landed in round 1, from the accounts it used.
    let bets = lottery
        .BetPlaced_filter()
        .from_block(0)
        .query()
        .await
        .unwrap();
    let bet = |tx: B256| {
        bets.iter()
            .find(|(_, log)| log.transaction_hash == Some(tx))
            .map(|(event, _)| (event.roundId, event.player, event.amount))
            .unwrap_or_else(|| panic!("no BetPlaced in {tx}"))
    };
    assert_eq!(bet(hash("betA")), (U256::from(1), a, milli(10)));
    assert_eq!(bet(hash("betB")), (U256::from(1), b, milli(20)));
    assert_eq!(bet(hash("betB2")), (U256::from(2), b, milli(5)));

    // Round 1 (three players, one of them through the restart) was drawn by the
    // operator; round 2 (one player) was refunded at its draw.
    let round1 = lottery.getRoundById(U256::from(1)).call().await.unwrap();
    assert_eq!(round1.state, RoundState::Completed as u8);
    assert_eq!(round1.participantCount, U256::from(3));
    assert_eq!(round1.totalPot, milli(33));
    let completed = lottery
        .RoundCompleted_filter()
        .from_block(0)
        .query()
        .await
        .unwrap();
    let (_, draw_log) = completed
        .iter()
        .find(|(event, _)| event.roundId == U256::from(1))
        .expect("RoundCompleted for round 1");
    let draw = chain
        .provider
        .get_transaction_receipt(draw_log.transaction_hash.expect("a mined log"))
        .await
        .unwrap()
        .expect("the draw's receipt");
    assert_eq!(
        draw.from,
        chain.operator(),
        "round 1 was not drawn by the operator"
    );
    // The page's "check this draw" marked the ticket the Rust rule computes.
    let ticket = abi::draw::winning_ticket(round1.revealedSeed, round1.totalPot).unwrap();
    assert_eq!(
        result["drawTicket"].as_str(),
        Some(ticket.to_string().as_str()),
        "the page marked another winning ticket"
    );
    let round2 = lottery.getRoundById(U256::from(2)).call().await.unwrap();
    assert_eq!(round2.state, RoundState::Refunded as u8);

    // The withdrawal the page sent paid B's refund and emptied the pending balance.
    let withdrawn = lottery
        .Withdrawn_filter()
        .from_block(0)
        .query()
        .await
        .unwrap();
    let (event, _) = withdrawn
        .iter()
        .find(|(_, log)| log.transaction_hash == Some(hash("withdraw")))
        .expect("a Withdrawn event in the page's withdrawal");
    assert_eq!((event.account, event.amount), (b, milli(5)));
    let pending: U256 = lottery.pendingWithdrawal(b).call().await.unwrap();
    assert_eq!(pending, U256::ZERO);

    // Screenshots of every step at both widths.
    let shots = std::fs::read_dir(&artifacts)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect::<Vec<_>>();
    for width in ["desktop", "phone"] {
        let n = shots
            .iter()
            .filter(|f| f.ends_with(&format!("-{width}.png")))
            .count();
        assert!(n >= 10, "only {n} {width} screenshots: {shots:?}");
    }
}
