//! Benchmarks host-proxy's WebSocket fan-out and its `/api/status` endpoint, and
//! prints a Markdown table for `BENCHMARKS.md`:
//!
//! 1. for 1,000, 5,000 and 10,000 clients on `/ws`: the delay from a state change in
//!    the enclave's store (`Store::set_head`, just before which the harness takes the
//!    time) to each client reading the matching `head_update`, and to its arrival at
//!    the client's socket (the kernel's receive timestamp), over every (client, event)
//!    pair, with p50/p99/max, the count delivered, and host-proxy's VmRSS idle and
//!    with the clients connected;
//! 2. `/api/status` requests per second and latency with `wrk --latency`, against the
//!    last host-proxy once its WebSocket clients have left.
//!
//! host-proxy runs as its own process (the release binary beside this one), so its
//! memory is measured alone, and a fresh one serves each client count. The enclave
//! half (store and control server) runs in this process, so each event's start time
//! is taken where the event is made. The clients ([`clients`]) are read by one thread
//! of this process: on a 2-core machine they share the cores with host-proxy, so the
//! read delays include the clients' own reading; the arrival times do not. Every loop
//! and every wait is bounded.
//!
//! Usage: `scripts/bench-ws` (builds in release, installs wrk if missing), or
//! `cargo build --release -p host-proxy -p tests --bin ws-bench --bin host-proxy &&
//! target/release/ws-bench [--quick] [--clients N,N,...] [--events N]`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

mod clients;

use std::{
    collections::{BTreeMap, HashMap},
    net::{Ipv4Addr, SocketAddr},
    process::{Child, Command, Stdio},
    sync::Arc,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use abi::state::ChainHead;

use alloy::primitives::{Address, B256};
use clients::{End, Reader};
use enclave_app::{
    control::{ControlServer, NoAttestation},
    store::Store,
};
use eyre::{WrapErr, bail, ensure, eyre};
use net::Endpoint;
use serde::Deserialize;
use testkit::process::{free_port, workspace_binary};
use tests::stack::{http, try_get_json};
use tokio_util::sync::CancellationToken;

/// Threads connecting the clients, each one connection at a time: far under
/// host-proxy's accept backlog.
const CONNECT_THREADS: usize = 4;
/// Events sent per client count.
const EVENTS: usize = 20;
/// Between two events: longer than a delivery should take, so events rarely overlap.
const EVENT_SPACING: Duration = Duration::from_millis(200);
/// host-proxy's WebSocket cap for the run: above the largest client count.
const MAX_WS_CLIENTS: usize = 20_000;
/// Descriptors besides the clients' (runtime, listeners, wrk's children, stdio).
const FD_SLACK: u64 = 256;
/// How long after the last event every client must have its events.
const DELIVERY_TIMEOUT: Duration = Duration::from_secs(30);
/// Bound on host-proxy becoming healthy, or its clients leaving.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Between readiness checks.
const POLL: Duration = Duration::from_millis(20);
/// Bound on one HTTP request of the harness.
const HTTP_TIMEOUT: Duration = Duration::from_secs(10);
/// Before each RSS reading: lets freed buffers go back and the runtime go idle.
const SETTLE: Duration = Duration::from_millis(500);
/// The wrk run: two threads (one per core), 64 connections, 10 s.
const WRK_ARGS: [&str; 4] = ["-t2", "-c64", "-d10s", "--latency"];
/// Bound on the wrk process (its run is 10 s).
const WRK_TIMEOUT: Duration = Duration::from_secs(60);

fn log(msg: &str) {
    eprintln!("[ws-bench] {msg}");
}

// ---------------------------------------------------------------------------------
// The host-proxy process
// ---------------------------------------------------------------------------------

/// A running host-proxy; killed (SIGKILL) and reaped on drop, also on a panic.
struct HostProxy {
    child: Child,
    web: u16,
}

impl HostProxy {
    /// Spawns the release binary against the control server at `control`, with
    /// `extra` flags, and waits until `/api/health` answers 200 (the store must
    /// already have a head).
    async fn start(control: u16, extra: &[&str]) -> eyre::Result<Self> {
        // Every client connects from 127.0.0.1.
        let per_client = format!("--max-ws-per-client={MAX_WS_CLIENTS}");
        let mut args = vec![per_client.as_str()];
        args.extend(extra);
        Self::start_binary(&workspace_binary("host-proxy"), control, &args).await
    }

    /// [`Self::start`] for another build of host-proxy (`--limits-ab --baseline`),
    /// with only the flags every build has, and `extra`.
    async fn start_binary(
        binary: &std::path::Path,
        control: u16,
        extra: &[&str],
    ) -> eyre::Result<Self> {
        let web = free_port();
        let mut command = testkit::process::command(binary, &[]);
        command
            .args(["--mode", "sim", "--rpc-url", "http://127.0.0.1:1"])
            .args(["--egress-listen", "tcp://127.0.0.1:0"])
            .arg(format!("--control=tcp://127.0.0.1:{control}"))
            .arg(format!("--listen=127.0.0.1:{web}"))
            .arg(format!("--max-ws-clients={MAX_WS_CLIENTS}"))
            .args(["--log-filter", "warn"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit());
        let child = command.spawn().wrap_err("spawn host-proxy")?;
        let mut proxy = Self { child, web };
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Some(status) = proxy.child.try_wait()? {
                bail!("host-proxy exited during startup: {status}");
            }
            if let Ok(Ok((200, _))) =
                tokio::time::timeout(HTTP_TIMEOUT, try_get_json(web, "/api/health")).await
            {
                return Ok(proxy);
            }
            if Instant::now() >= deadline {
                bail!("host-proxy's /api/health did not answer 200 within {READY_TIMEOUT:?}");
            }
            tokio::time::sleep(POLL).await;
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn memory(&self) -> Memory {
        let status = format!("/proc/{}/status", self.pid());
        Memory {
            rss_kib: tests::bench::proc_kib(&status, "VmRSS:"),
            hwm_kib: tests::bench::proc_kib(&status, "VmHWM:"),
        }
    }

    /// User plus system CPU time so far (`/proc/<pid>/stat`, at `USER_HZ` = 100).
    fn cpu(&self) -> Duration {
        cpu_of(&format!("/proc/{}/stat", self.pid()))
    }

    /// The `ws_clients` gauge of `/metrics` (`None` when absent).
    async fn ws_clients(&self) -> Option<f64> {
        let (_, _, body) =
            tokio::time::timeout(HTTP_TIMEOUT, http(self.web, "GET", "/metrics", None))
                .await
                .ok()?;
        String::from_utf8_lossy(&body)
            .lines()
            .find(|l| l.starts_with("ws_clients "))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
    }
}

impl Drop for HostProxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// utime + stime of a `/proc/<pid>/stat` file (zero when unreadable). The fields
/// after the command name, which may hold spaces, are counted from its closing `)`.
fn cpu_of(path: &str) -> Duration {
    let ticks = std::fs::read_to_string(path).ok().and_then(|text| {
        let rest = text.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // After ")": state is field 3 of stat(5), utime 14 and stime 15.
        let utime: u64 = fields.get(11)?.parse().ok()?;
        let stime: u64 = fields.get(12)?.parse().ok()?;
        Some(utime + stime)
    });
    // USER_HZ is 100 on every Linux architecture this runs on.
    Duration::from_millis(ticks.unwrap_or(0) * 10)
}

#[derive(Debug, Clone, Copy, Default)]
struct Memory {
    rss_kib: u64,
    hwm_kib: u64,
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// The soft limit on open files of this process (host-proxy inherits it).
fn open_file_limit() -> eyre::Result<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits")?;
    let line = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .ok_or_else(|| eyre!("no 'Max open files' in /proc/self/limits"))?;
    let soft = line
        .split_whitespace()
        .nth(3)
        .ok_or_else(|| eyre!("bad line {line:?}"))?;
    Ok(if soft == "unlimited" {
        u64::MAX
    } else {
        soft.parse()?
    })
}

/// A `head_update` event's payload.
#[derive(Deserialize)]
struct HeadUpdate {
    data: HeadNumber,
}

#[derive(Deserialize)]
struct HeadNumber {
    number: u64,
}

// ---------------------------------------------------------------------------------
// One fan-out run
// ---------------------------------------------------------------------------------

/// The figures of one client count.
#[derive(Debug)]
struct FanOut {
    clients: usize,
    events: usize,
    connect_secs: f64,
    /// Delays to the client reading each message, in ms, sorted.
    delays_ms: Vec<f64>,
    /// Delays to each message reaching the client's socket (the kernel's receive
    /// timestamp), in ms, sorted.
    arrivals_ms: Vec<f64>,
    /// (client, event) pairs never delivered.
    missing: usize,
    /// How the clients ended (only the non-`Released` ones matter).
    ends: BTreeMap<End, usize>,
    resyncs: usize,
    idle: Memory,
    connected: Memory,
    after_events: Memory,
    /// host-proxy CPU time over the event phase, per event.
    cpu_per_event_ms: f64,
    /// This process's (the clients') CPU time over the event phase, per event.
    client_cpu_per_event_ms: f64,
}

impl FanOut {
    fn p(&self, pct: usize) -> f64 {
        percentile(&self.delays_ms, pct)
    }
    /// At the socket.
    fn socket_p(&self, pct: usize) -> f64 {
        percentile(&self.arrivals_ms, pct)
    }
    fn max(&self) -> f64 {
        self.delays_ms.last().copied().unwrap_or(f64::NAN)
    }
    fn delivered(&self) -> usize {
        self.delays_ms.len()
    }
    fn expected(&self) -> usize {
        self.clients * self.events
    }
}

/// Nearest-rank percentile of sorted values (NaN when empty).
fn percentile(sorted: &[f64], pct: usize) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (pct * sorted.len()).div_ceil(100).max(1);
    sorted[rank.min(sorted.len()) - 1]
}

/// The next head number and a distinct hash for it.
fn head(number: u64) -> ChainHead {
    let timestamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    ChainHead {
        number,
        hash: B256::left_padding_from(&number.to_be_bytes()),
        timestamp,
    }
}

/// Connects `clients` clients to a fresh host-proxy, sends `events` events, and
/// measures. Returns the host-proxy (with no clients left) for the next phase.
async fn fan_out(
    store: &Store,
    control: u16,
    next_head: &mut u64,
    clients: usize,
    events: usize,
) -> eyre::Result<(FanOut, HostProxy)> {
    let proxy = HostProxy::start(control, &[]).await?;
    log(&format!(
        "{clients} clients: host-proxy pid {} on port {}",
        proxy.pid(),
        proxy.web
    ));
    tokio::time::sleep(SETTLE).await;
    let idle = proxy.memory();

    let url = format!("ws://127.0.0.1:{}/ws", proxy.web);
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, proxy.web));
    let started = Instant::now();
    let connected_clients =
        tokio::task::spawn_blocking(move || clients::connect(&url, addr, clients, CONNECT_THREADS))
            .await??;
    let connect_secs = started.elapsed().as_secs_f64();
    log(&format!(
        "{clients} clients connected with their snapshots in {connect_secs:.1} s"
    ));
    // Stopped (and its thread joined) on every exit from here, also on an error.
    let reader = Reader::start(connected_clients, events)?;
    tokio::time::sleep(SETTLE).await;
    let connected = proxy.memory();

    let cpu_before = (proxy.cpu(), cpu_of("/proc/self/stat"));
    let mut sent = HashMap::with_capacity(events);
    let mut ticker = tokio::time::interval(EVENT_SPACING);
    for _ in 0..events {
        ticker.tick().await;
        let number = *next_head;
        *next_head += 1;
        sent.insert(number, (Instant::now(), SystemTime::now()));
        store.set_head(head(number));
    }
    let last_sent = Instant::now();
    let deadline = last_sent + DELIVERY_TIMEOUT;
    while reader.complete() < clients && Instant::now() < deadline {
        tokio::time::sleep(POLL).await;
    }
    let cpu_after = (proxy.cpu(), cpu_of("/proc/self/stat"));
    let complete = reader.complete();
    if complete < clients {
        log(&format!(
            "only {complete} of {clients} clients had every event {DELIVERY_TIMEOUT:?} after the last"
        ));
    }
    let after_events = proxy.memory();

    let outcomes = tokio::task::spawn_blocking(move || reader.finish()).await??;
    let mut delays_ms = Vec::with_capacity(clients * events);
    let mut arrivals_ms = Vec::with_capacity(clients * events);
    let mut ends = BTreeMap::new();
    let mut resyncs = 0;
    // Per event, the delay to the last client that read it.
    let mut last_read: BTreeMap<u64, f64> = BTreeMap::new();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    for outcome in outcomes {
        resyncs += outcome.resyncs;
        *ends.entry(outcome.end).or_insert(0) += 1;
        for received in outcome.heads {
            let head: HeadUpdate =
                serde_json::from_str(&received.text).wrap_err("a head_update a client received")?;
            // A head not sent in this run (there is none: only the harness sets heads).
            let Some((t0, wall0)) = sent.get(&head.data.number) else {
                continue;
            };
            let delay = ms(received.read_at.saturating_duration_since(*t0));
            let last = last_read.entry(head.data.number).or_insert(0.0_f64);
            *last = last.max(delay);
            delays_ms.push(delay);
            if let Some(arrived) = received.arrived {
                arrivals_ms.push(ms(arrived.duration_since(*wall0).unwrap_or_default()));
            }
        }
    }
    delays_ms.sort_by(f64::total_cmp);
    arrivals_ms.sort_by(f64::total_cmp);
    log(&format!(
        "per event, the last client read it after (ms): {}",
        last_read
            .values()
            .map(|v| format!("{v:.0}"))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    let per_event = |before: Duration, after: Duration| {
        after.saturating_sub(before).as_secs_f64() * 1000.0 / events as f64
    };
    let result = FanOut {
        clients,
        events,
        connect_secs,
        missing: (clients * events).saturating_sub(delays_ms.len()),
        delays_ms,
        arrivals_ms,
        ends,
        resyncs,
        idle,
        connected,
        after_events,
        cpu_per_event_ms: per_event(cpu_before.0, cpu_after.0),
        client_cpu_per_event_ms: per_event(cpu_before.1, cpu_after.1),
    };
    println!(
        "{clients} clients x {events} events: delivered {} of {}, read p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms; \
         at the socket p50 {:.1} ms, p99 {:.1} ms ({} stamped); host-proxy VmRSS idle {:.1} MiB, connected {:.1} MiB, after events {:.1} MiB (VmHWM {:.1} MiB); \
         CPU per event: host-proxy {:.1} ms, clients {:.1} ms; connect {:.1} s; resyncs {}; ends {:?}",
        result.delivered(),
        result.expected(),
        result.p(50),
        result.p(99),
        result.max(),
        result.socket_p(50),
        result.socket_p(99),
        result.arrivals_ms.len(),
        mib(idle.rss_kib),
        mib(connected.rss_kib),
        mib(after_events.rss_kib),
        mib(after_events.hwm_kib),
        result.cpu_per_event_ms,
        result.client_cpu_per_event_ms,
        connect_secs,
        resyncs,
        result.ends
    );
    Ok((result, proxy))
}

/// Waits until host-proxy's `ws_clients` gauge reads zero.
async fn until_no_clients(proxy: &HostProxy) -> eyre::Result<()> {
    let deadline = Instant::now() + READY_TIMEOUT;
    loop {
        let clients = proxy.ws_clients().await;
        if clients.is_some_and(|n| n < 0.5) {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("host-proxy still reports {clients:?} WebSocket clients after {READY_TIMEOUT:?}");
        }
        tokio::time::sleep(POLL).await;
    }
}

// ---------------------------------------------------------------------------------
// wrk
// ---------------------------------------------------------------------------------

#[derive(Debug)]
struct WrkResult {
    requests_per_sec: f64,
    p50_ms: f64,
    p99_ms: f64,
    requests: u64,
    /// Non-2xx responses and socket errors, as wrk prints them (empty when none).
    errors: Vec<String>,
    body_bytes: usize,
}

/// A wrk duration ("651.00us", "3.03ms", "1.20s") in ms.
fn wrk_ms(text: &str) -> Option<f64> {
    let (number, scale) = if let Some(v) = text.strip_suffix("us") {
        (v, 0.001)
    } else if let Some(v) = text.strip_suffix("ms") {
        (v, 1.0)
    } else if let Some(v) = text.strip_suffix('s') {
        (v, 1000.0)
    } else if let Some(v) = text.strip_suffix('m') {
        (v, 60_000.0)
    } else {
        return None;
    };
    number.parse::<f64>().ok().map(|v| v * scale)
}

/// A wrk process; killed and reaped on drop.
struct Wrk(Child);

impl Drop for Wrk {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs wrk against `url` (blocking), bounded by [`WRK_TIMEOUT`].
fn run_wrk(url: &str) -> eyre::Result<std::process::Output> {
    use std::io::Read;
    let mut wrk = Wrk(Command::new("wrk")
        .args(WRK_ARGS)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .wrap_err("run wrk (install it: apt-get install wrk; scripts/bench-ws does)")?);
    let deadline = Instant::now() + WRK_TIMEOUT;
    // wrk prints a few hundred bytes at the end, well within a pipe's buffer, so
    // waiting before reading cannot block it.
    let status = loop {
        if let Some(status) = wrk.0.try_wait()? {
            break status;
        }
        ensure!(
            Instant::now() < deadline,
            "wrk did not finish within {WRK_TIMEOUT:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    let (mut stdout, mut stderr) = (Vec::new(), Vec::new());
    if let Some(out) = wrk.0.stdout.as_mut() {
        out.read_to_end(&mut stdout)?;
    }
    if let Some(err) = wrk.0.stderr.as_mut() {
        err.read_to_end(&mut stderr)?;
    }
    Ok(std::process::Output {
        status,
        stdout,
        stderr,
    })
}

async fn wrk(proxy: &HostProxy) -> eyre::Result<WrkResult> {
    let (status, _, body) =
        tokio::time::timeout(HTTP_TIMEOUT, http(proxy.web, "GET", "/api/status", None))
            .await
            .map_err(|_| eyre!("GET /api/status timed out"))?;
    ensure!(status == 200, "GET /api/status answered {status}");
    let url = format!("http://127.0.0.1:{}/api/status", proxy.web);
    log(&format!("wrk {} {url}", WRK_ARGS.join(" ")));
    let output = tokio::task::spawn_blocking(move || run_wrk(&url)).await??;
    let stdout = String::from_utf8_lossy(&output.stdout);
    ensure!(
        output.status.success(),
        "wrk failed ({}): {stdout}{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    println!("{}", stdout.trim_end());
    let mut result = WrkResult {
        requests_per_sec: f64::NAN,
        p50_ms: f64::NAN,
        p99_ms: f64::NAN,
        requests: 0,
        errors: Vec::new(),
        body_bytes: body.len(),
    };
    for line in stdout.lines().map(str::trim) {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            ["Requests/sec:", v] => result.requests_per_sec = v.parse()?,
            ["50%", v] => result.p50_ms = wrk_ms(v).ok_or_else(|| eyre!("bad p50 {v}"))?,
            ["99%", v] => result.p99_ms = wrk_ms(v).ok_or_else(|| eyre!("bad p99 {v}"))?,
            [n, "requests", "in", ..] => result.requests = n.parse()?,
            _ if line.starts_with("Non-2xx") || line.starts_with("Socket errors") => {
                result.errors.push(line.to_owned());
            }
            _ => {}
        }
    }
    ensure!(
        result.requests_per_sec.is_finite() && result.p99_ms.is_finite(),
        "could not read wrk's output"
    );
    Ok(result)
}

// ---------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

fn report(quick: bool, runs: &[FanOut], wrk: &WrkResult) {
    println!();
    if quick {
        println!("<!-- --quick smoke run: not for BENCHMARKS.md -->");
    }
    println!("Machine: {}", tests::bench::machine());
    println!();
    println!(
        "WebSocket fan-out: per client count a fresh host-proxy, {} events {} ms apart; delay from `Store::set_head` to the client reading the `head_update` (p50, p99, max) and to its arrival at the client's socket (the kernel's receive timestamp, \"at socket\"), over every (client, event) pair:",
        runs.first().map_or(EVENTS, |r| r.events),
        EVENT_SPACING.as_millis()
    );
    println!();
    println!(
        "| clients | delivered | p50 | p99 | max | at socket p50 | at socket p99 | VmRSS idle | VmRSS connected | VmRSS after events | VmHWM | host-proxy CPU/event | connect all | target (p99 <= 100 ms, RSS <= 200 MiB) |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|");
    for r in runs {
        let rss = r.connected.rss_kib.max(r.after_events.rss_kib);
        let target = if r.clients >= 10_000 {
            format!(
                "p99 {}, RSS {}",
                verdict(r.p(99) <= 100.0),
                verdict(rss <= 200 * 1024)
            )
        } else {
            "(10k only)".to_owned()
        };
        println!(
            "| {} | {} of {} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} MiB | {:.1} ms | {:.1} s | {target} |",
            r.clients,
            r.delivered(),
            r.expected(),
            r.p(50),
            r.p(99),
            r.max(),
            r.socket_p(50),
            r.socket_p(99),
            mib(r.idle.rss_kib),
            mib(r.connected.rss_kib),
            mib(r.after_events.rss_kib),
            mib(r.after_events.hwm_kib),
            r.cpu_per_event_ms,
            r.connect_secs
        );
    }
    for r in runs {
        let dropped: usize = r
            .ends
            .iter()
            .filter(|(end, _)| **end != End::Released)
            .map(|(_, n)| n)
            .sum();
        if r.missing > 0 || dropped > 0 || r.resyncs > 0 {
            println!();
            println!(
                "{} clients: {} (client, event) pairs missing, {} clients not released by the harness ({:?}), {} snapshot resends.",
                r.clients, r.missing, dropped, r.ends, r.resyncs
            );
        }
    }
    println!();
    println!(
        "`/api/status` ({} bytes) with `wrk {}` on loopback, no WebSocket clients:",
        wrk.body_bytes,
        WRK_ARGS.join(" ")
    );
    println!();
    println!("| requests/s | p50 | p99 | requests | errors |");
    println!("|---:|---:|---:|---:|---|");
    println!(
        "| {:.0} | {:.2} ms | {:.2} ms | {} | {} |",
        wrk.requests_per_sec,
        wrk.p50_ms,
        wrk.p99_ms,
        wrk.requests,
        if wrk.errors.is_empty() {
            "none".to_owned()
        } else {
            wrk.errors.join("; ")
        }
    );
}

// ---------------------------------------------------------------------------------
// Main
// ---------------------------------------------------------------------------------

struct Args {
    quick: bool,
    clients: Vec<usize>,
    events: usize,
    /// `--limits-ab N`: only `/api/status`, N interleaved pairs of wrk runs against a
    /// host-proxy with the per-client limits on and one with them off.
    limits_ab: Option<usize>,
    /// `--baseline PATH`: with `--limits-ab`, a third host-proxy from another build
    /// (one from before the limits existed, say) in each round.
    baseline: Option<std::path::PathBuf>,
}

const USAGE: &str = "usage: ws-bench [--quick] [--clients N,N,...] [--events N] | ws-bench --limits-ab PAIRS [--baseline HOST_PROXY_BINARY]";

fn parse_args() -> eyre::Result<Args> {
    let mut args = Args {
        quick: false,
        clients: vec![1_000, 5_000, 10_000],
        events: EVENTS,
        limits_ab: None,
        baseline: None,
    };
    let mut given = std::env::args().skip(1);
    while let Some(arg) = given.next() {
        match arg.as_str() {
            "--quick" => {
                args.quick = true;
                args.clients = vec![100, 1_000];
                args.events = 5;
            }
            "--clients" => {
                let list = given.next().ok_or_else(|| eyre!("{USAGE}"))?;
                args.clients = list
                    .split(',')
                    .map(|n| n.trim().parse::<usize>())
                    .collect::<Result<_, _>>()
                    .wrap_err("--clients")?;
            }
            "--events" => {
                let n = given.next().ok_or_else(|| eyre!("{USAGE}"))?;
                args.events = n.parse().wrap_err("--events")?;
            }
            "--limits-ab" => {
                let n = given.next().ok_or_else(|| eyre!("{USAGE}"))?;
                let pairs: usize = n.parse().wrap_err("--limits-ab")?;
                ensure!(pairs > 0, "{USAGE}");
                args.limits_ab = Some(pairs);
            }
            "--baseline" => {
                let path = given.next().ok_or_else(|| eyre!("{USAGE}"))?;
                args.baseline = Some(path.into());
            }
            other => bail!("unknown argument {other:?} ({USAGE})"),
        }
    }
    ensure!(
        !args.clients.is_empty() && args.clients.iter().all(|&n| n > 0) && args.events > 0,
        "{USAGE}"
    );
    Ok(args)
}

/// `/api/status` with wrk against host-proxies running at once: one with the
/// per-client limits on (the defaults), one with `--rate-limits off`, and with
/// `baseline` one of that build; `pairs` interleaved rounds, each side first in turn,
/// so drift of the machine over the run falls on all. Prints each round and the
/// medians.
async fn limits_ab(pairs: usize, baseline: Option<&std::path::Path>) -> eyre::Result<()> {
    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    let store = Store::new(
        Address::repeat_byte(0x11),
        31337,
        abi::state::StateLimits::default(),
    );
    let server = ControlServer::bind(
        &Endpoint::loopback(0),
        store.clone(),
        Arc::new(NoAttestation),
    )
    .await
    .wrap_err("bind the control server")?;
    let control = u16::try_from(server.local().port())
        .wrap_err_with(|| format!("control endpoint {}", server.local()))?;
    tokio::spawn(server.run(shutdown.clone()));
    store.set_head(head(1));
    let mut sides = vec![
        ("limits on", HostProxy::start(control, &[]).await?),
        (
            "limits off",
            HostProxy::start(control, &["--rate-limits", "off"]).await?,
        ),
    ];
    if let Some(binary) = baseline {
        sides.push((
            "baseline",
            HostProxy::start_binary(binary, control, &[]).await?,
        ));
    }
    let mut results: Vec<Vec<WrkResult>> = sides.iter().map(|_| Vec::new()).collect();
    for round in 0..pairs {
        for k in 0..sides.len() {
            let side = (round + k) % sides.len();
            log(&format!("round {}: {}", round + 1, sides[side].0));
            results[side].push(wrk(&sides[side].1).await?);
        }
    }
    let median = |runs: &[WrkResult], value: fn(&WrkResult) -> f64| {
        let mut values: Vec<f64> = runs.iter().map(value).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    println!();
    println!("Machine: {}", tests::bench::machine());
    println!();
    println!(
        "`/api/status` with `wrk {}`: {}; {pairs} interleaved rounds (requests/s, p99):",
        WRK_ARGS.join(" "),
        sides
            .iter()
            .map(|(name, _)| *name)
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!();
    let names: Vec<&str> = sides.iter().map(|(name, _)| *name).collect();
    println!("| round | {} | errors |", names.join(" | "));
    println!("|---:|{}---|", "---:|".repeat(names.len()));
    for round in 0..pairs {
        let cells: Vec<String> = results
            .iter()
            .map(|runs| {
                format!(
                    "{:.0} ({:.1} ms)",
                    runs[round].requests_per_sec, runs[round].p99_ms
                )
            })
            .collect();
        let errors: Vec<String> = results
            .iter()
            .flat_map(|runs| runs[round].errors.clone())
            .collect();
        println!(
            "| {} | {} | {} |",
            round + 1,
            cells.join(" | "),
            if errors.is_empty() {
                "none".to_owned()
            } else {
                errors.join("; ")
            }
        );
    }
    let rps: Vec<f64> = results
        .iter()
        .map(|runs| median(runs, |r| r.requests_per_sec))
        .collect();
    let cells: Vec<String> = results
        .iter()
        .zip(&rps)
        .map(|(runs, rps)| format!("{rps:.0} ({:.1} ms)", median(runs, |r| r.p99_ms)))
        .collect();
    println!("| median | {} | |", cells.join(" | "));
    println!();
    println!(
        "Limits on against off: {:+.1}% requests/s (median).",
        (rps[0] - rps[1]) / rps[1] * 100.0
    );
    if let Some(base) = rps.get(2) {
        println!(
            "Limits on against the baseline build: {:+.1}% requests/s (median).",
            (rps[0] - base) / base * 100.0
        );
    }
    Ok(())
}

async fn bench(args: Args) -> eyre::Result<()> {
    if let Some(pairs) = args.limits_ab {
        return limits_ab(pairs, args.baseline.as_deref()).await;
    }
    let largest = args.clients.iter().copied().max().unwrap_or(0);
    let limit = open_file_limit()?;
    let needed = largest as u64 + FD_SLACK;
    ensure!(
        limit >= needed,
        "the open-file limit (ulimit -n) is {limit}, but {largest} clients need at least {needed} \
         descriptors in this process and as many in host-proxy: raise it (`ulimit -n {needed}`; \
         scripts/bench-ws raises it to the hard limit) or pass smaller --clients"
    );
    ensure!(
        largest <= MAX_WS_CLIENTS,
        "at most {MAX_WS_CLIENTS} clients (host-proxy's cap in this harness)"
    );
    log(&format!(
        "host-proxy: {}",
        workspace_binary("host-proxy").display()
    ));
    log(&format!("machine: {}", tests::bench::machine()));

    let shutdown = CancellationToken::new();
    let _stop = shutdown.clone().drop_guard();
    let store = Store::new(
        Address::repeat_byte(0x11),
        31337,
        abi::state::StateLimits::default(),
    );
    let server = ControlServer::bind(
        &Endpoint::loopback(0),
        store.clone(),
        Arc::new(NoAttestation),
    )
    .await
    .wrap_err("bind the control server")?;
    let control = u16::try_from(server.local().port())
        .wrap_err_with(|| format!("control endpoint {}", server.local()))?;
    tokio::spawn(server.run(shutdown.clone()));
    // host-proxy's /api/health needs a chain head.
    let mut next_head = 1;
    store.set_head(head(next_head));
    next_head += 1;

    let mut runs = Vec::with_capacity(args.clients.len());
    let mut last = None;
    for &clients in &args.clients {
        // The previous host-proxy is killed before the next starts.
        drop(last.take());
        let (run, proxy) = fan_out(&store, control, &mut next_head, clients, args.events).await?;
        runs.push(run);
        last = Some(proxy);
    }
    let proxy = last.ok_or_else(|| eyre!("no run"))?;
    until_no_clients(&proxy).await?;
    let wrk = wrk(&proxy).await?;
    drop(proxy);
    report(args.quick, &runs, &wrk);
    Ok(())
}

fn main() -> eyre::Result<()> {
    let args = parse_args()?;
    let started = Instant::now();
    // The clients' runtime: one worker per core, like host-proxy's own.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(bench(args))?;
    log(&format!("done in {:.0} s", started.elapsed().as_secs_f64()));
    Ok(())
}
