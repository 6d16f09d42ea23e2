//! Benchmarks enclave-app against a real anvil and prints the figures, then a Markdown
//! summary for `BENCHMARKS.md`:
//!
//! 1. JSON-RPC load of the real binary (through a counting proxy) while idle and while
//!    8 players bet every block;
//! 2. event latency of the in-process core (a bet's receipt to the store's
//!    `Activity::Bet`);
//! 3. draw inclusion delay of the real binary over several rounds, and its reverted
//!    transactions;
//! 4. memory (VmRSS / VmHWM) of the real binary.
//!
//! Usage: `cargo build --release -p enclave-app && cargo run --release -p tests --bin
//! enclave-bench [-- [--quick] [--upstreams N]]`. The full run takes about 5 minutes;
//! `--quick` is a short smoke run whose figures are not meant for `BENCHMARKS.md`.
//! `--upstreams N` (1 to 4, default 1) gives enclave-app N JSON-RPC upstreams (each a
//! counting proxy in front of the same anvil) with quorum N, and reports the load on
//! each.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::{
    collections::BTreeMap,
    io::Write,
    os::unix::fs::PermissionsExt,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

use abi::{
    contract::{Lottery, RoundState},
    state::{ActivityKind, StateChange},
};
use alloy::{
    primitives::{Address, B256, TxHash, U256},
    providers::{DynProvider, Provider, ext::AnvilApi},
    rpc::types::Filter,
    sol_types::SolEvent,
};
use eyre::{WrapErr, bail, eyre};
use tests::{
    Chain, milli, ok, sent_by,
    upstream::{Counts, HostileUpstream},
};

type Instance = Lottery::LotteryInstance<DynProvider>;

/// Players betting every block in the busy phase.
const BUSY_PLAYERS: usize = 8;
/// The enclave-app poll interval for the process phases (its default).
const APP_POLL_MS: u64 = 1000;
/// The in-process core's poll interval for the latency phase.
const CORE_POLL: Duration = Duration::from_millis(250);
/// How far before `minDrawTime` the draw phase jumps chain time.
const JUMP_BEFORE_DRAW_SECS: u64 = 8;

/// Durations and sizes of one run.
#[derive(Debug, Clone, Copy)]
struct Plan {
    /// JSON-RPC upstreams (each a counting proxy), all of which must agree.
    upstreams: usize,
    warmup: Duration,
    idle: Duration,
    busy: Duration,
    latency_bets: usize,
    draw_rounds: u64,
}

impl Plan {
    const FULL: Self = Self {
        upstreams: 1,
        warmup: Duration::from_secs(10),
        idle: Duration::from_secs(60),
        busy: Duration::from_secs(60),
        latency_bets: 50,
        draw_rounds: 10,
    };
    const QUICK: Self = Self {
        upstreams: 1,
        warmup: Duration::from_secs(3),
        idle: Duration::from_secs(15),
        busy: Duration::from_secs(15),
        latency_bets: 10,
        draw_rounds: 2,
    };
}

fn log(msg: &str) {
    eprintln!("[enclave-bench] {msg}");
}

// ---------------------------------------------------------------------------------
// The enclave-app process
// ---------------------------------------------------------------------------------

/// A running enclave-app (simulated mode, operator key in a 0600 file); killed on drop.
struct App {
    child: Child,
    _key: tempfile::TempPath,
}

impl App {
    /// enclave-app with `rpc_urls` as its upstreams (quorum: all of them).
    fn start(chain: &Chain, rpc_urls: &[String], contract: Address) -> eyre::Result<Self> {
        let mut key = tempfile::NamedTempFile::new()?;
        writeln!(key, "{}", alloy::hex::encode(chain.keys[1].to_bytes()))?;
        std::fs::set_permissions(key.path(), std::fs::Permissions::from_mode(0o600))?;
        let key = key.into_temp_path();
        let child = Command::new(tests::enclave_app_binary())
            .args(["--mode", "sim"])
            .args(rpc_urls.iter().flat_map(|url| ["--rpc-url", url]))
            .arg("--contract")
            .arg(contract.to_string())
            .arg("--operator-key-file")
            .arg(&key)
            .args(["--poll-interval-ms", &APP_POLL_MS.to_string()])
            .args(["--log-filter", "warn"])
            // Through the benchmark's counting proxy, not host-proxy.
            .args([
                "--egress",
                "direct",
                "--control-listen",
                "tcp://127.0.0.1:0",
            ])
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .wrap_err("spawn enclave-app")?;
        Ok(Self { child, _key: key })
    }

    /// VmRSS and VmHWM in KiB.
    fn memory(&self) -> eyre::Result<Memory> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))?;
        let field = |name: &str| -> eyre::Result<u64> {
            let line = status
                .lines()
                .find(|l| l.starts_with(name))
                .ok_or_else(|| eyre!("{name} missing from /proc/<pid>/status"))?;
            let kib = line
                .split_whitespace()
                .nth(1)
                .ok_or_else(|| eyre!("bad line {line:?}"))?;
            Ok(kib.parse()?)
        };
        Ok(Memory {
            rss_kib: field("VmRSS:")?,
            hwm_kib: field("VmHWM:")?,
        })
    }
}

impl Drop for App {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[derive(Debug, Clone, Copy)]
struct Memory {
    rss_kib: u64,
    hwm_kib: u64,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

// ---------------------------------------------------------------------------------
// Chain helpers
// ---------------------------------------------------------------------------------

async fn round_info(lottery: &Instance, id: u64) -> eyre::Result<Lottery::RoundInfo> {
    Ok(lottery.getRoundById(U256::from(id)).call().await?)
}

/// Polls round `id` every 100 ms until `check` holds; an error after `secs`.
async fn until_round(
    lottery: &Instance,
    id: u64,
    secs: u64,
    what: &str,
    check: impl Fn(&Lottery::RoundInfo) -> bool,
) -> eyre::Result<Lottery::RoundInfo> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let round = round_info(lottery, id).await?;
        if check(&round) {
            return Ok(round);
        }
        if Instant::now() >= deadline {
            bail!("timed out after {secs} s waiting for {what}: {round:?}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn state(r: &Lottery::RoundInfo) -> Option<RoundState> {
    RoundState::try_from(r.state).ok()
}

async fn head(chain: &Chain) -> eyre::Result<u64> {
    Ok(chain.provider.get_block_number().await?)
}

async fn timestamp(chain: &Chain, block: u64) -> eyre::Result<u64> {
    Ok(chain
        .provider
        .get_block_by_number(block.into())
        .await?
        .ok_or_else(|| eyre!("block {block} missing"))?
        .header
        .timestamp)
}

/// Sets the betting duration to the contract's maximum (the round must be WAITING and
/// nothing else may be sending from the operator account).
async fn max_betting_duration(chain: &Chain, lottery: &Instance) -> eyre::Result<()> {
    let max = lottery.MAX_BETTING_DURATION().call().await?;
    ok(lottery.setBettingDuration(max).from(chain.operator())).await;
    Ok(())
}

/// Reverted and total transactions sent by the operator account on `chain`.
async fn operator_reverts(chain: &Chain) -> (usize, usize) {
    let sent = sent_by(chain, chain.operator()).await;
    (sent.iter().filter(|(_, ok)| !*ok).count(), sent.len())
}

// ---------------------------------------------------------------------------------
// 1 + 4: RPC load and memory
// ---------------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct Load {
    secs: f64,
    /// The window covers blocks `first_block..=last_block`.
    first_block: u64,
    last_block: u64,
    blocks: u64,
    counts: Counts,
}

impl Load {
    fn per_min(&self, n: u64) -> f64 {
        n as f64 * 60.0 / self.secs
    }
    fn per_block(&self) -> f64 {
        if self.blocks == 0 {
            f64::NAN
        } else {
            self.counts.http as f64 / self.blocks as f64
        }
    }
}

struct LoadResult {
    /// Per upstream, the followed one first.
    idle: Vec<Load>,
    busy: Vec<Load>,
    bets: u64,
    failed_bets: u64,
    mem_idle: Memory,
    mem_busy: Memory,
    reverted: (usize, usize),
}

/// The load on each of `proxies` during `window`.
async fn measure_window(
    chain: &Chain,
    proxies: &[HostileUpstream],
    window: impl Future<Output = ()>,
) -> eyre::Result<Vec<Load>> {
    let before: Vec<Counts> = proxies.iter().map(HostileUpstream::counts).collect();
    let (b0, t0) = (head(chain).await?, Instant::now());
    window.await;
    let (b1, secs) = (head(chain).await?, t0.elapsed().as_secs_f64());
    Ok(proxies
        .iter()
        .zip(&before)
        .map(|(proxy, c0)| Load {
            secs,
            first_block: b0 + 1,
            last_block: b1,
            blocks: b1 - b0,
            counts: proxy.counts().since(c0),
        })
        .collect())
}

/// `n` counting proxies in front of `chain`'s anvil.
async fn proxies(chain: &Chain, n: usize) -> eyre::Result<Vec<HostileUpstream>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        out.push(HostileUpstream::start(&chain.endpoint()).await?);
    }
    Ok(out)
}

fn urls(proxies: &[HostileUpstream]) -> Vec<String> {
    proxies.iter().map(HostileUpstream::url).collect()
}

/// Bets until `stop`, each as soon as the previous one is mined; the blocks of the
/// mined bets and the count of failed ones.
async fn bettor(lottery: Instance, player: Address, stop: tokio::time::Instant) -> (Vec<u64>, u64) {
    let (mut placed, mut failed) = (Vec::new(), 0);
    while tokio::time::Instant::now() < stop {
        let bet = async {
            let pending = lottery
                .placeBet()
                .from(player)
                .value(milli(1))
                .send()
                .await?;
            Ok::<_, eyre::Report>(pending.get_receipt().await?)
        };
        match tokio::time::timeout(Duration::from_secs(10), bet).await {
            Ok(Ok(receipt)) if receipt.status() => {
                placed.extend(receipt.block_number);
            }
            _ => {
                failed += 1;
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
    (placed, failed)
}

async fn rpc_load(plan: Plan) -> eyre::Result<LoadResult> {
    log(&format!(
        "RPC load: anvil --block-time 1, enclave-app behind {} counting proxies",
        plan.upstreams
    ));
    let chain = Chain::start_with(&["--block-time", "1"]).await;
    let lottery = chain.deploy_with_operator(500).await;
    max_betting_duration(&chain, &lottery).await?;
    // Honest: the upstreams only count what passes.
    let proxy = proxies(&chain, plan.upstreams).await?;
    let app = App::start(&chain, &urls(&proxy), *lottery.address())?;
    until_round(&lottery, 1, 30, "round 1's commitment", |r| {
        r.seedCommitment != B256::ZERO
    })
    .await?;
    log(&format!(
        "round 1 committed; warming up {} s",
        plan.warmup.as_secs()
    ));
    tokio::time::sleep(plan.warmup).await;

    log(&format!("idle window: {} s", plan.idle.as_secs()));
    let idle = measure_window(&chain, &proxy, tokio::time::sleep(plan.idle)).await?;
    let mem_idle = app.memory()?;
    print_loads("idle", &idle);

    log(&format!(
        "busy window: {BUSY_PLAYERS} players betting every block for {} s",
        plan.busy.as_secs()
    ));
    let stop = tokio::time::Instant::now() + plan.busy;
    let mut bettors = tokio::task::JoinSet::new();
    let busy = measure_window(&chain, &proxy, async {
        for i in 0..BUSY_PLAYERS {
            bettors.spawn(bettor(lottery.clone(), chain.player(i), stop));
        }
        tokio::time::sleep_until(stop).await;
    })
    .await?;
    let mem_busy = app.memory()?;
    let (mut bets, mut failed_bets) = (0, 0);
    while let Some(joined) = bettors.join_next().await {
        let (placed, failed) = joined?;
        bets += placed
            .iter()
            .filter(|b| (busy[0].first_block..=busy[0].last_block).contains(b))
            .count() as u64;
        failed_bets += failed;
    }
    print_loads("busy", &busy);
    println!(
        "busy: {bets} bets mined in the window's blocks ({:.2} per player per block), {failed_bets} failed",
        bets_per_player_block(bets, &busy[0])
    );
    for (name, m) in [("idle", mem_idle), ("end of busy", mem_busy)] {
        println!(
            "memory {name}: VmRSS {:.1} MiB, VmHWM {:.1} MiB",
            mib(m.rss_kib),
            mib(m.hwm_kib)
        );
    }
    drop(app);
    let reverted = operator_reverts(&chain).await;
    Ok(LoadResult {
        idle,
        busy,
        bets,
        failed_bets,
        mem_idle,
        mem_busy,
        reverted,
    })
}

fn bets_per_player_block(bets: u64, busy: &Load) -> f64 {
    bets as f64 / (busy.blocks.max(1) * BUSY_PLAYERS as u64) as f64
}

fn print_loads(phase: &str, loads: &[Load]) {
    for (i, l) in loads.iter().enumerate() {
        print_load(&format!("{phase} (upstream {})", i + 1), l);
    }
}

fn print_load(phase: &str, l: &Load) {
    println!(
        "{phase}: {:.1} s, {} blocks, {} HTTP requests = {:.1} requests/min, {} JSON-RPC calls = {:.1} calls/min, {:.3} requests/block",
        l.secs,
        l.blocks,
        l.counts.http,
        l.per_min(l.counts.http),
        l.counts.calls,
        l.per_min(l.counts.calls),
        l.per_block()
    );
    for (method, n) in &l.counts.methods {
        println!("{phase}:   {method}: {:.1} calls/min", l.per_min(*n));
    }
}

// ---------------------------------------------------------------------------------
// 2: event latency
// ---------------------------------------------------------------------------------

/// Signed milliseconds from `from` to `to`.
fn signed_ms(from: Instant, to: Instant) -> f64 {
    if to >= from {
        (to - from).as_secs_f64() * 1000.0
    } else {
        -(from - to).as_secs_f64() * 1000.0
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[f64], p: usize) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (sorted.len() * p).div_ceil(100).max(1);
    sorted[rank - 1]
}

struct Latency {
    sorted_ms: Vec<f64>,
}

impl Latency {
    fn p(&self, p: usize) -> f64 {
        percentile(&self.sorted_ms, p)
    }
    fn max(&self) -> f64 {
        self.sorted_ms.last().copied().unwrap_or(f64::NAN)
    }
}

async fn event_latency(plan: Plan) -> eyre::Result<Latency> {
    log(&format!(
        "event latency: in-process core, poll 250 ms, anvil automine, {} upstreams",
        plan.upstreams
    ));
    let chain = Chain::start().await;
    let lottery = chain.deploy_with_operator(500).await;
    max_betting_duration(&chain, &lottery).await?;
    // With one upstream, straight to anvil (as before); with more, through proxies.
    let proxy = if plan.upstreams > 1 {
        proxies(&chain, plan.upstreams).await?
    } else {
        Vec::new()
    };
    let core = tests::enclave_core::start_with(
        &chain,
        *lottery.address(),
        1,
        CORE_POLL,
        tests::enclave_core::CoreOptions {
            upstreams: urls(&proxy),
            ..tests::enclave_core::CoreOptions::default()
        },
    )
    .await;
    let store = core.store.clone();
    tests::eventually(15, "round 1's commitment", || {
        store.round().filter(|r| r.seed_commitment.is_some())
    })
    .await;

    // Records the instant each bet reaches a subscriber, in its own task so the
    // instant does not depend on when the main loop looks.
    let (_, mut events) = store.subscribe();
    let (tx, mut delivered) = tokio::sync::mpsc::unbounded_channel::<(TxHash, Instant)>();
    let stop = core.shutdown();
    tokio::spawn(async move {
        use tokio::sync::broadcast::error::RecvError;
        loop {
            let event = tokio::select! {
                () = stop.cancelled() => return,
                event = events.recv() => event,
            };
            match event {
                Ok(e) => {
                    if let StateChange::Activity(a) = &e.change
                        && matches!(a.kind, ActivityKind::Bet { .. })
                        && tx.send((a.transaction_hash, Instant::now())).is_err()
                    {
                        return;
                    }
                }
                Err(RecvError::Lagged(_)) => {}
                Err(RecvError::Closed) => return,
            }
        }
    });

    let mut samples = Vec::with_capacity(plan.latency_bets);
    for i in 0..plan.latency_bets {
        let receipt = ok(lottery
            .placeBet()
            .from(chain.player(i % BUSY_PLAYERS))
            .value(milli(1)))
        .await;
        let received = Instant::now();
        let hash = receipt.transaction_hash;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let seen = loop {
            match tokio::time::timeout_at(deadline, delivered.recv()).await {
                Ok(Some((h, at))) if h == hash => break at,
                Ok(Some(_)) => {}
                Ok(None) => bail!("the store's feed closed"),
                Err(_) => bail!("bet {hash} never reached the store's feed within 10 s"),
            }
        };
        samples.push(signed_ms(received, seen));
        // De-phase the next bet from the poll interval (0-246 ms, spread evenly).
        tokio::time::sleep(Duration::from_millis((i as u64 * 97) % 250)).await;
    }
    drop(core);
    samples.sort_by(f64::total_cmp);
    let latency = Latency { sorted_ms: samples };
    println!(
        "event latency over {} bets: min {:.1} ms, p50 {:.0} ms, p90 {:.0} ms, p99 {:.0} ms, max {:.0} ms",
        latency.sorted_ms.len(),
        latency.sorted_ms.first().copied().unwrap_or(f64::NAN),
        latency.p(50),
        latency.p(90),
        latency.p(99),
        latency.max()
    );
    Ok(latency)
}

// ---------------------------------------------------------------------------------
// 3: draw inclusion
// ---------------------------------------------------------------------------------

struct Draws {
    /// Blocks after the first eligible block, per round.
    delays: Vec<(u64, u64)>,
    reverted: (usize, usize),
    memory: Memory,
    /// HTTP requests and JSON-RPC calls each upstream served over the draw phase
    /// (empty with one upstream, which is anvil itself).
    per_upstream: Vec<Counts>,
}

impl Draws {
    fn distribution(&self) -> BTreeMap<u64, usize> {
        let mut d = BTreeMap::new();
        for (_, delay) in &self.delays {
            *d.entry(*delay).or_default() += 1;
        }
        d
    }
    fn share_at_zero(&self) -> f64 {
        let zero = self.delays.iter().filter(|(_, d)| *d == 0).count();
        100.0 * zero as f64 / self.delays.len().max(1) as f64
    }
}

async fn draw_inclusion(plan: Plan) -> eyre::Result<Draws> {
    log(&format!(
        "draw inclusion: enclave-app, anvil --block-time 1, {} rounds",
        plan.draw_rounds
    ));
    let chain = Chain::start_with(&["--block-time", "1"]).await;
    let lottery = chain.deploy_with_operator(500).await;
    // With one upstream, straight to anvil (as before); with more, through proxies.
    let proxy = if plan.upstreams > 1 {
        proxies(&chain, plan.upstreams).await?
    } else {
        Vec::new()
    };
    let rpc_urls = if proxy.is_empty() {
        vec![chain.endpoint()]
    } else {
        urls(&proxy)
    };
    let app = App::start(&chain, &rpc_urls, *lottery.address())?;
    let mut min_draw = BTreeMap::new();
    for id in 1..=plan.draw_rounds {
        until_round(&lottery, id, 30, "the round's commitment", |r| {
            r.seedCommitment != B256::ZERO
        })
        .await?;
        let (a, b) = tokio::join!(
            ok(lottery.placeBet().from(chain.player(0)).value(milli(10))),
            ok(lottery.placeBet().from(chain.player(1)).value(milli(20)))
        );
        drop((a, b));
        let round = round_info(&lottery, id).await?;
        let now = chain.now().await;
        if round.minDrawTime > now + JUMP_BEFORE_DRAW_SECS {
            chain
                .provider
                .anvil_increase_time(round.minDrawTime - now - JUMP_BEFORE_DRAW_SECS)
                .await?;
        }
        let settled = until_round(&lottery, id, 40, "the draw", |r| {
            state(r).is_some_and(RoundState::is_settled)
        })
        .await?;
        if state(&settled) != Some(RoundState::Completed) {
            bail!("round {id} was not drawn: {settled:?}");
        }
        min_draw.insert(id, round.minDrawTime);
        log(&format!("round {id} drawn"));
    }
    let memory = app.memory()?;
    drop(app);
    let per_upstream: Vec<Counts> = proxy.iter().map(HostileUpstream::counts).collect();
    for (i, c) in per_upstream.iter().enumerate() {
        println!(
            "draw phase, upstream {}: {} HTTP requests, {} JSON-RPC calls over {} rounds",
            i + 1,
            c.http,
            c.calls,
            plan.draw_rounds
        );
    }

    let filter = Filter::new()
        .address(*lottery.address())
        .event_signature(Lottery::RoundCompleted::SIGNATURE_HASH)
        .from_block(0);
    let mut drawn_in = BTreeMap::new();
    for l in chain.provider.get_logs(&filter).await? {
        let event = l.log_decode::<Lottery::RoundCompleted>()?.inner.data;
        let block = l.block_number.ok_or_else(|| eyre!("log without a block"))?;
        drawn_in.insert(event.roundId.saturating_to::<u64>(), block);
    }
    let mut delays = Vec::new();
    for (id, min_draw_time) in &min_draw {
        let draw = *drawn_in
            .get(id)
            .ok_or_else(|| eyre!("no RoundCompleted for round {id}"))?;
        // Walk back to the first block at or after minDrawTime (bounded: a round's
        // whole draw window is 175 blocks at 1 s).
        let mut first = draw;
        for _ in 0..400 {
            if first == 0 || timestamp(&chain, first - 1).await? < *min_draw_time {
                break;
            }
            first -= 1;
        }
        delays.push((*id, draw - first));
    }
    let reverted = operator_reverts(&chain).await;
    let draws = Draws {
        delays,
        reverted,
        memory,
        per_upstream,
    };
    println!(
        "draw inclusion over {} rounds: {:.0} % at 0 blocks; distribution {:?}; per round {:?}",
        draws.delays.len(),
        draws.share_at_zero(),
        draws.distribution(),
        draws.delays
    );
    println!(
        "operator transactions: {} sent, {} reverted",
        draws.reverted.1, draws.reverted.0
    );
    Ok(draws)
}

// ---------------------------------------------------------------------------------
// Summary
// ---------------------------------------------------------------------------------

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

fn summary(plan: Plan, quick: bool, load: &LoadResult, latency: &Latency, draws: &Draws) {
    let (idle, busy) = (&load.idle[0], &load.busy[0]);
    println!();
    if quick {
        println!("<!-- --quick smoke run: not for BENCHMARKS.md -->");
    }
    println!(
        "RPC load (enclave-app `--poll-interval-ms {APP_POLL_MS}`, anvil `--block-time 1`, {} upstream(s), quorum {}; idle {} s after {} s warm-up, busy {} s with {BUSY_PLAYERS} players betting every block):",
        plan.upstreams,
        plan.upstreams,
        plan.idle.as_secs(),
        plan.warmup.as_secs(),
        plan.busy.as_secs()
    );
    println!();
    println!(
        "| phase | upstream | window | blocks | HTTP requests/min | JSON-RPC calls/min | requests/block | target |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---|");
    for (i, l) in load.idle.iter().enumerate() {
        let target = if i == 0 {
            format!("<= 1 request/block: {}", verdict(l.per_block() <= 1.0))
        } else {
            "(quorum reads only)".to_owned()
        };
        println!(
            "| idle | {} | {:.0} s | {} | {:.1} | {:.1} | {:.3} | {target} |",
            i + 1,
            l.secs,
            l.blocks,
            l.per_min(l.counts.http),
            l.per_min(l.counts.calls),
            l.per_block(),
        );
    }
    for (i, l) in load.busy.iter().enumerate() {
        println!(
            "| busy | {} | {:.0} s | {} | {:.1} | {:.1} | {:.3} | (none) |",
            i + 1,
            l.secs,
            l.blocks,
            l.per_min(l.counts.http),
            l.per_min(l.counts.calls),
            l.per_block()
        );
    }
    println!();
    println!(
        "Busy phase: {} bets mined in the window's blocks ({:.2} per player per block), {} failed.",
        load.bets,
        bets_per_player_block(load.bets, busy),
        load.failed_bets
    );
    println!();
    println!("JSON-RPC calls per minute by method (upstream 1, the followed one):");
    println!();
    println!("| method | idle | busy |");
    println!("|---|---:|---:|");
    let mut methods: Vec<&String> = idle
        .counts
        .methods
        .keys()
        .chain(busy.counts.methods.keys())
        .collect();
    methods.sort();
    methods.dedup();
    for m in methods {
        let rate = |l: &Load| l.per_min(l.counts.methods.get(m).copied().unwrap_or(0));
        println!("| `{m}` | {:.1} | {:.1} |", rate(idle), rate(busy));
    }
    println!();
    println!(
        "Event latency (in-process core, poll {} ms, anvil automine; {} bets; bet receipt at the harness to `StateChange::Activity` `Bet` from the store):",
        CORE_POLL.as_millis(),
        latency.sorted_ms.len()
    );
    println!();
    println!("| p50 | p90 | p99 | max | target |");
    println!("|---:|---:|---:|---:|---|");
    println!(
        "| {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms | p50 <= 300 ms: {} |",
        latency.p(50),
        latency.p(90),
        latency.p(99),
        latency.max(),
        verdict(latency.p(50) <= 300.0)
    );
    println!();
    println!(
        "Draw inclusion (enclave-app `--poll-interval-ms {APP_POLL_MS}`, anvil `--block-time 1`, {} rounds of 2 players; blocks between the first block with timestamp >= minDrawTime and the draw):",
        draws.delays.len()
    );
    println!();
    println!("| blocks late | rounds |");
    println!("|---:|---:|");
    for (delay, n) in draws.distribution() {
        println!("| {delay} | {n} |");
    }
    println!();
    println!(
        "At 0: {:.0} % (target >= 90 %: {}). Operator transactions: {} sent, {} reverted (target 0: {}); RPC-load chain: {} sent from the operator account (with the harness's `setBettingDuration`), {} reverted.",
        draws.share_at_zero(),
        verdict(draws.share_at_zero() >= 90.0),
        draws.reverted.1,
        draws.reverted.0,
        verdict(draws.reverted.0 == 0),
        load.reverted.1,
        load.reverted.0
    );
    if !draws.per_upstream.is_empty() {
        println!();
        println!(
            "Load per upstream over the draw phase ({} rounds: a commit, two bets and a draw each; the quorum reads happen only when an action is due):",
            draws.delays.len()
        );
        println!();
        println!("| upstream | HTTP requests | per round | JSON-RPC calls | per round |");
        println!("|---|---:|---:|---:|---:|");
        let rounds = draws.delays.len().max(1) as f64;
        for (i, c) in draws.per_upstream.iter().enumerate() {
            println!(
                "| {} | {} | {:.1} | {} | {:.1} |",
                i + 1,
                c.http,
                c.http as f64 / rounds,
                c.calls,
                c.calls as f64 / rounds
            );
        }
    }
    println!();
    println!("Memory of the enclave-app process (`/proc/<pid>/status`):");
    println!();
    println!("| when | VmRSS | VmHWM | target < 32 MiB |");
    println!("|---|---:|---:|---|");
    for (when, m) in [
        ("after the idle window", load.mem_idle),
        ("end of the busy window", load.mem_busy),
        ("after the draw rounds (other process)", draws.memory),
    ] {
        println!(
            "| {when} | {:.1} MiB | {:.1} MiB | {} |",
            mib(m.rss_kib),
            mib(m.hwm_kib),
            verdict(m.hwm_kib < 32 * 1024)
        );
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> eyre::Result<()> {
    const USAGE: &str = "usage: enclave-bench [--quick] [--upstreams N (1..=4)]";
    let mut quick = false;
    let mut upstreams = 1;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--upstreams" => {
                upstreams = args
                    .next()
                    .and_then(|n| n.parse().ok())
                    .filter(|n| (1..=4).contains(n))
                    .ok_or_else(|| eyre!("--upstreams takes a number from 1 to 4 ({USAGE})"))?;
            }
            other => bail!("unknown argument {other:?} ({USAGE})"),
        }
    }
    let plan = Plan {
        upstreams,
        ..if quick { Plan::QUICK } else { Plan::FULL }
    };
    log(&format!(
        "enclave-app: {}",
        tests::enclave_app_binary().display()
    ));
    let started = Instant::now();
    let load = rpc_load(plan).await?;
    let latency = event_latency(plan).await?;
    let draws = draw_inclusion(plan).await?;
    summary(plan, quick, &load, &latency, &draws);
    log(&format!("done in {:.0} s", started.elapsed().as_secs_f64()));
    Ok(())
}
