//! Push against polling on 12 s blocks, in one run: two full stacks (host-proxy and
//! enclave-app in sim mode, real processes, the enclave's RPC through host-proxy's
//! egress) side by side on one anvil, each operating its own Lottery:
//!
//! - **poll**: enclave-app's default, an `http://` upstream polled every 1,000 ms,
//!   through a counting HTTP proxy ([`tests::upstream::HostileUpstream`], honest);
//! - **push**: a `ws://` upstream (`eth_subscribe` newHeads and logs), through the
//!   counting WebSocket relay ([`tests::ws_upstream::WsUpstream`]).
//!
//! It measures the JSON-RPC requests each enclave-app sends while the chain is idle,
//! per minute, then the latency of a bet to a WebSocket client of each host-proxy's
//! `/ws` feed. Latency starts when anvil announces the bet mined to the harness: the
//! earlier of its `newHeads` notification for the bet's block and its `logs`
//! notification for the bet, on a WebSocket subscription of the harness's own straight
//! to anvil, beside the stacks (within a millisecond of the block's existence). It
//! ends when the feed's `activity` message for the bet's transaction arrives at the
//! harness's feed client. The bets of both contracts go in the same blocks.
//!
//! anvil automines while the contracts are set up; then the harness mines a block
//! every 12 s on average (`evm_mine` after 11.5 s plus an offset that walks through
//! the second, so blocks fall at every phase of the 1 s poll, as on a real chain;
//! anvil's own `--block-time 12` would put every block at the same phase of the poll
//! and make the polling figure an artifact of that phase).
//!
//! Usage: `cargo build -p enclave-app -p host-proxy && cargo run -p tests --bin
//! push-bench [-- [--quick] [--idle-secs N] [--bets N]]` (release builds for the
//! figures in `BENCHMARKS.md`: `cargo build --release ...` and `--release` here).
//! Defaults: 180 s idle, 20 bets (about 8 minutes); `--quick`: 60 s, 5 bets.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use abi::contract::Lottery;
use alloy::{
    primitives::{Address, TxHash},
    providers::{DynProvider, Provider, ext::AnvilApi},
};
use eyre::{WrapErr, bail, eyre};
use futures_util::StreamExt;
use testkit::process::workspace_command;
use tests::{
    Chain, TEST_PCR0, milli, ok,
    stack::{Ports, Service, host_until, write_key_file},
    upstream::HostileUpstream,
    ws_upstream::WsUpstream,
};

type Instance = Lottery::LotteryInstance<DynProvider>;

/// anvil's block interval for the measurement.
const BLOCK_SECS: u64 = 12;
/// The operator account of the push stack's contract (the poll stack's is account 1).
const PUSH_OPERATOR: usize = 19;
/// Players per contract betting in turn in the latency phase.
const PLAYERS: usize = 8;

fn log(msg: &str) {
    eprintln!("[push-bench] {msg}");
}

/// One stack: host-proxy, enclave-app and what they follow.
struct Stack {
    name: &'static str,
    ports: Ports,
    _host: Service,
    enclave: Service,
}

impl Stack {
    /// host-proxy forwarding its egress to `upstream`, and enclave-app (operator key:
    /// account `key`) following `rpc_url` through it, with every other setting at its
    /// default (polling every 1,000 ms for `http://`).
    fn start(
        name: &'static str,
        chain: &Chain,
        contract: Address,
        key: usize,
        upstream: &str,
    ) -> eyre::Result<Self> {
        let ports = Ports::free();
        let mut host = workspace_command("host-proxy", &[]);
        host.args(["--mode", "sim", "--rpc-url", upstream])
            .arg(format!("--egress-listen=tcp://127.0.0.1:{}", ports.egress))
            .arg(format!("--control=tcp://127.0.0.1:{}", ports.control))
            .arg(format!("--listen=127.0.0.1:{}", ports.web))
            .args(["--log-filter", "warn"]);
        let host = Service::spawn("host-proxy", &mut host, Vec::new());
        let key_file = tempfile::NamedTempFile::new()?.into_temp_path();
        write_key_file(&key_file, chain, key);
        let mut enclave = workspace_command("enclave-app", &[]);
        enclave
            .args(["--mode", "sim", "--rpc-url", upstream])
            .arg(format!("--contract={contract}"))
            .arg(format!("--egress=tcp://127.0.0.1:{}", ports.egress))
            .arg(format!(
                "--control-listen=tcp://127.0.0.1:{}",
                ports.control
            ))
            .arg("--operator-key-file")
            .arg(&key_file)
            .args(["--log-filter", "warn,mirror::push=info,enclave_app=info"]);
        let enclave = Service::spawn("enclave-app", &mut enclave, vec![key_file]);
        Ok(Self {
            name,
            ports,
            _host: host,
            enclave,
        })
    }
}

/// When anvil announced each block (`newHeads`) and each bet's log (`logs`) to the
/// harness, straight from anvil on one socket: the earlier of the two is the moment
/// the bet was mined, as near as the harness can see it.
#[derive(Default)]
struct Mined {
    heads: HashMap<u64, Instant>,
    logs: HashMap<TxHash, Instant>,
}

async fn watch_mined(
    ws_url: String,
    contracts: [Address; 2],
    mined: Arc<Mutex<Mined>>,
) -> eyre::Result<()> {
    let ws = rpc_transport::ws::WsTransport::new(rpc_transport::ws::WsConnect::direct(
        net::RpcUrl::parse_with_websocket(&ws_url)?,
        &[],
    )?);
    let provider =
        alloy::providers::RootProvider::<alloy::network::Ethereum>::new(ws.pubsub_client().await?);
    let mut heads = provider.subscribe_blocks().await?;
    let mut logs = provider
        .subscribe_logs(&alloy::rpc::types::Filter::new().address(contracts.to_vec()))
        .await?;
    tokio::spawn(async move {
        // The socket lives as long as its last handle.
        let _socket = (ws, provider);
        loop {
            tokio::select! {
                head = heads.recv() => {
                    let Ok(head) = head else { return };
                    let at = Instant::now();
                    mined.lock().expect("mined").heads.entry(head.inner.number).or_insert(at);
                }
                log = logs.recv() => {
                    let Ok(log) = log else { return };
                    let at = Instant::now();
                    if let Some(tx) = log.transaction_hash {
                        mined.lock().expect("mined").logs.entry(tx).or_insert(at);
                    }
                }
            }
        }
    });
    Ok(())
}

/// Mines a block every [`BLOCK_SECS`] on average: 0.5 s less plus an offset that
/// walks through the whole second (a golden-ratio sequence), so the blocks fall at
/// every phase of a 1 s poll, as on a real chain, instead of always at the same one.
fn mine_blocks(provider: DynProvider, stop: tokio_util::sync::CancellationToken) {
    tokio::spawn(async move {
        for i in 0u64.. {
            let offset_ms = (i * 618) % 1000;
            let wait = Duration::from_millis(BLOCK_SECS * 1000 - 500 + offset_ms);
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(wait) => {}
            }
            if let Err(e) = provider.evm_mine(None).await {
                log(&format!("evm_mine failed: {e}"));
            }
        }
    });
}

/// The instant each bet's `activity` message reached a client of a feed.
type FeedTimes = Arc<Mutex<HashMap<TxHash, Instant>>>;

async fn watch_feed(web: u16, times: FeedTimes) -> eyre::Result<()> {
    let (mut socket, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{web}/ws"))
        .await
        .wrap_err("connect to the feed")?;
    tokio::spawn(async move {
        while let Some(Ok(message)) = socket.next().await {
            let at = Instant::now();
            let Ok(text) = message.into_text() else {
                continue;
            };
            // Only activity messages; the others are not parsed at all.
            if !text.contains("\"activity\"") {
                continue;
            }
            let Ok(value) = serde_json::from_str::<serde_json::Value>(&text) else {
                continue;
            };
            if value["type"] != "activity" {
                continue;
            }
            if let Some(hash) = value["data"]["transactionHash"]
                .as_str()
                .and_then(|h| h.parse::<TxHash>().ok())
            {
                times.lock().expect("feed times").entry(hash).or_insert(at);
            }
        }
    });
    Ok(())
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: usize) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank - 1]
}

struct Idle {
    secs: f64,
    blocks: u64,
    /// HTTP requests (poll) or WebSocket messages (push).
    requests: u64,
    calls: u64,
    methods: Vec<(String, u64)>,
}

impl Idle {
    fn per_min(&self, n: u64) -> f64 {
        n as f64 * 60.0 / self.secs
    }
}

async fn contracts(chain: &Chain) -> eyre::Result<(Instance, Instance)> {
    let poll = chain.deploy_with_operator(500).await;
    let push = chain.deploy(500).await;
    chain
        .set_operator(&push, chain.account(PUSH_OPERATOR), &TEST_PCR0)
        .await;
    // Rounds as long as the contract allows: none ends during the run.
    for (lottery, operator) in [
        (&poll, chain.operator()),
        (&push, chain.account(PUSH_OPERATOR)),
    ] {
        let max = lottery.MAX_BETTING_DURATION().call().await?;
        ok(lottery.setBettingDuration(max).from(operator)).await;
    }
    Ok((poll, push))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> eyre::Result<()> {
    const USAGE: &str = "usage: push-bench [--quick] [--idle-secs N] [--bets N]";
    let (mut idle_secs, mut bet_count, mut quick) = (180u64, 20usize, false);
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut number = |what: &str| {
            args.next()
                .and_then(|n| n.parse::<u64>().ok())
                .filter(|n| *n > 0)
                .ok_or_else(|| eyre!("{what} takes a positive number ({USAGE})"))
        };
        match arg.as_str() {
            "--quick" => {
                quick = true;
                (idle_secs, bet_count) = (60, 5);
            }
            "--idle-secs" => idle_secs = number("--idle-secs")?,
            "--bets" => bet_count = usize::try_from(number("--bets")?)?,
            other => bail!("unknown argument {other:?} ({USAGE})"),
        }
    }
    let started = Instant::now();
    let chain = Chain::start().await;
    let ws_anvil = chain.endpoint().replacen("http://", "ws://", 1);
    let (poll_lottery, push_lottery) = contracts(&chain).await?;
    let proxy = HostileUpstream::start(&chain.endpoint()).await?;
    let relay = WsUpstream::start(&ws_anvil).await?;
    chain.provider.anvil_set_auto_mine(false).await?;
    let mining = tokio_util::sync::CancellationToken::new();
    mine_blocks(chain.raw.clone(), mining.clone());
    let _mining = mining.drop_guard();
    log(&format!(
        "anvil now mines a block every {BLOCK_SECS} s on average"
    ));

    let poll = Stack::start("poll", &chain, *poll_lottery.address(), 1, &proxy.url())?;
    let push = Stack::start(
        "push",
        &chain,
        *push_lottery.address(),
        PUSH_OPERATOR,
        &relay.url(),
    )?;
    push.enclave
        .wait_for_log(&["following by push"], Duration::from_secs(60))
        .await;
    for stack in [&poll, &push] {
        host_until(stack.ports.web, 90, "round 1 committed", |s| {
            s.round
                .as_ref()
                .is_some_and(|r| r.seed_commitment.is_some())
        })
        .await;
        log(&format!("{}: round 1 committed", stack.name));
    }
    // The commitments' receipts and follow-up reads settle.
    tokio::time::sleep(Duration::from_secs(BLOCK_SECS + 3)).await;

    // --- Idle ---
    log(&format!("idle window: {idle_secs} s"));
    let (p0, r0, b0, t0) = (
        proxy.counts(),
        relay.counts(),
        chain.provider.get_block_number().await?,
        Instant::now(),
    );
    tokio::time::sleep(Duration::from_secs(idle_secs)).await;
    let (p1, r1, b1, secs) = (
        proxy.counts().since(&p0),
        relay.counts().since(&r0),
        chain.provider.get_block_number().await?,
        t0.elapsed().as_secs_f64(),
    );
    let idle_poll = Idle {
        secs,
        blocks: b1 - b0,
        requests: p1.http,
        calls: p1.calls,
        methods: p1.methods.into_iter().collect(),
    };
    let idle_push = Idle {
        secs,
        blocks: b1 - b0,
        requests: r1.messages,
        calls: r1.calls,
        methods: r1.methods.into_iter().collect(),
    };

    // --- Latency ---
    log(&format!(
        "latency: {bet_count} bets on each contract, one block each"
    ));
    let mined: Arc<Mutex<Mined>> = Arc::default();
    watch_mined(
        ws_anvil.clone(),
        [*poll_lottery.address(), *push_lottery.address()],
        mined.clone(),
    )
    .await?;
    let feeds: [FeedTimes; 2] = [Arc::default(), Arc::default()];
    watch_feed(poll.ports.web, feeds[0].clone()).await?;
    watch_feed(push.ports.web, feeds[1].clone()).await?;
    // Each contract has its own players (accounts 2-9 and 10-17), so the two bets of
    // a block never share a sender.
    let mut samples: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    for i in 0..bet_count {
        // Right after a block, so the bets wait in the pool for the next one.
        let seen = chain.provider.get_block_number().await?;
        let deadline = Instant::now() + Duration::from_secs(BLOCK_SECS * 3);
        while chain.provider.get_block_number().await? == seen {
            if Instant::now() > deadline {
                bail!("no block for {} s", BLOCK_SECS * 3);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let mut hashes = Vec::new();
        for (side, lottery) in [&poll_lottery, &push_lottery].into_iter().enumerate() {
            let pending = lottery
                .placeBet()
                .from(chain.player(side * PLAYERS + i % PLAYERS))
                .value(milli(1))
                .send()
                .await?;
            hashes.push(*pending.tx_hash());
        }
        for (side, hash) in hashes.iter().enumerate() {
            let deadline = Instant::now() + Duration::from_secs(BLOCK_SECS * 3);
            let receipt = loop {
                if let Some(r) = chain.provider.get_transaction_receipt(*hash).await? {
                    break r;
                }
                if Instant::now() > deadline {
                    bail!("bet {hash} not mined");
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            };
            if !receipt.status() {
                bail!("bet {hash} reverted");
            }
            let block = receipt.block_number.ok_or_else(|| eyre!("no block"))?;
            let delivered = loop {
                if let Some(at) = feeds[side].lock().expect("feed times").get(hash).copied() {
                    break at;
                }
                if Instant::now() > deadline {
                    bail!("bet {hash} never reached the feed");
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            };
            let mined = {
                let seen = mined.lock().expect("mined");
                match (seen.heads.get(&block), seen.logs.get(hash)) {
                    (Some(h), Some(l)) => *h.min(l),
                    (Some(at), None) | (None, Some(at)) => *at,
                    (None, None) => bail!("anvil announced neither block {block} nor bet {hash}"),
                }
            };
            let ms = if delivered >= mined {
                (delivered - mined).as_secs_f64() * 1000.0
            } else {
                -((mined - delivered).as_secs_f64() * 1000.0)
            };
            samples[side].push(ms);
        }
        log(&format!(
            "bet {}: poll {:.0} ms, push {:.1} ms",
            i + 1,
            samples[0].last().copied().unwrap_or(f64::NAN),
            samples[1].last().copied().unwrap_or(f64::NAN)
        ));
    }
    for s in &mut samples {
        s.sort_by(f64::total_cmp);
    }

    // --- Summary ---
    println!();
    if quick {
        println!("<!-- --quick run: not for BENCHMARKS.md -->");
    }
    println!(
        "Idle load (a block every {BLOCK_SECS} s on average, {:.0} s window, {} blocks; each enclave-app at its defaults but the URL: `http://` polled every 1,000 ms, or `ws://` by push; reconciliation every 30 s in both):",
        idle_poll.secs, idle_poll.blocks
    );
    println!();
    println!("| upstream | requests/min | JSON-RPC calls/min | calls/block | target |");
    println!("|---|---:|---:|---:|---|");
    for (name, idle, unit, target) in [
        (
            "http:// (poll, default)",
            &idle_poll,
            "HTTP requests",
            "(baseline)",
        ),
        (
            "ws:// (push)",
            &idle_push,
            "WebSocket messages",
            "<= 2 requests/min",
        ),
    ] {
        let met = if target.starts_with('<') {
            // The reconciliation's views read is one request: a batch over HTTP, two
            // messages (getConfig, getRound) over WebSocket.
            let reads = idle.per_min(idle.calls) / 2.0;
            if reads <= 2.0 {
                format!(" met ({reads:.1} views reads/min)")
            } else {
                format!(" **missed** ({reads:.1} views reads/min)")
            }
        } else {
            String::new()
        };
        println!(
            "| {name} | {:.1} {unit} | {:.1} | {:.2} | {target}{met} |",
            idle.per_min(idle.requests),
            idle.per_min(idle.calls),
            idle.calls as f64 / idle.blocks.max(1) as f64,
        );
    }
    println!();
    println!("Calls per minute by method while idle:");
    println!();
    println!("| method | poll | push |");
    println!("|---|---:|---:|");
    let mut methods: Vec<&String> = idle_poll
        .methods
        .iter()
        .chain(&idle_push.methods)
        .map(|(m, _)| m)
        .collect();
    methods.sort();
    methods.dedup();
    for m in methods {
        let rate = |idle: &Idle| {
            idle.per_min(
                idle.methods
                    .iter()
                    .find(|(n, _)| n == m)
                    .map_or(0, |(_, c)| *c),
            )
        };
        println!(
            "| `{m}` | {:.1} | {:.1} |",
            rate(&idle_poll),
            rate(&idle_push)
        );
    }
    println!();
    println!(
        "Bet -> WebSocket client latency ({} bets per stack, one block each, both stacks' bets in the same blocks; from anvil announcing the bet mined to the harness (the earlier of its own `newHeads` for the bet's block and `logs` for the bet, on a direct subscription) to the harness's `/ws` client receiving the bet's `activity` message):",
        samples[0].len()
    );
    println!();
    println!("| upstream | min | p50 | p90 | p99 | max | target |");
    println!("|---|---:|---:|---:|---:|---:|---|");
    for (name, s, target) in [
        (
            "http:// (poll every 1,000 ms)",
            &samples[0],
            "(baseline)".to_owned(),
        ),
        (
            "ws:// (push)",
            &samples[1],
            format!(
                "p50 <= 30 ms: {}",
                if percentile(&samples[1], 50) <= 30.0 {
                    "met"
                } else {
                    "**missed**"
                }
            ),
        ),
    ] {
        println!(
            "| {name} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {target} |",
            s.first().copied().unwrap_or(f64::NAN),
            percentile(s, 50),
            percentile(s, 90),
            percentile(s, 99),
            s.last().copied().unwrap_or(f64::NAN),
        );
    }
    log(&format!("done in {:.0} s", started.elapsed().as_secs_f64()));
    Ok(())
}
