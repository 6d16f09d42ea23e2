//! Benchmarks host-proxy's egress forwarder against `socat` doing the same
//! forwarding, in the same run, and prints Markdown tables for `BENCHMARKS.md`:
//!
//! 1. added latency of a JSON-RPC `eth_blockNumber` call over a kept-alive HTTP/1.1
//!    connection to anvil: direct vs through the forwarder vs through socat (p50/p99);
//! 2. throughput on loopback: pushing bytes to a discarding sink, and an echo round
//!    trip (MB/s, 10^6 bytes);
//! 3. memory per open idle connection: the forwarder child's VmRSS with 0 vs 1,000
//!    connections open, and socat's (its main process plus the child it forks per
//!    connection), with PSS beside RSS since socat's children share their pages.
//!
//! The forwarder runs in a child process (this binary re-executed with the hidden
//! `serve-forwarder` subcommand, which runs `host_proxy::egress` directly), so its
//! memory is measured alone. Every loop is bounded.
//!
//! Usage: `scripts/bench-egress` (builds in release, installs socat if missing), or
//! `cargo run --release -p tests --bin egress-bench [-- --quick]`.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::{
    io::{BufRead, BufReader, Read},
    process::{Child, ChildStdin, Command, Stdio},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use eyre::{WrapErr, bail, ensure, eyre};
use host_proxy::egress::{EgressAllowlist, EgressForwarder, EgressRoute, EgressSettings};
use http_body_util::{BodyExt, Full};
use hyper::{Method, Request, body::Bytes, client::conn::http1::SendRequest, header};
use hyper_util::rt::TokioIo;
use net::Endpoint;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use tokio_util::sync::CancellationToken;

/// Copy buffer of the harness's own servers and clients (the forwarder's is 64 KiB).
const IO_BUFFER: usize = 64 * 1024;
/// Open connections in the memory phase.
const MEMORY_CONNECTIONS: usize = 1000;
/// The forwarder child's cap in the memory phase (its default, 512, is below
/// [`MEMORY_CONNECTIONS`]).
const MEMORY_MAX_CONNECTIONS: usize = 2 * MEMORY_CONNECTIONS;
/// Attempts (every [`POLL`]) to see a server come up or connections settle.
const READY_ATTEMPTS: usize = 500;
/// Between readiness checks.
const POLL: Duration = Duration::from_millis(20);
/// Bound on any single network operation of the harness.
const IO_TIMEOUT: Duration = Duration::from_secs(120);
/// Times each throughput figure is measured; the median is reported.
const THROUGHPUT_RUNS: usize = 3;

/// Sizes of one run.
#[derive(Debug, Clone, Copy)]
struct Plan {
    warmup_calls: usize,
    rounds: usize,
    calls_per_round: usize,
    push_bytes: u64,
    echo_bytes: u64,
    memory_connections: usize,
}

impl Plan {
    const FULL: Self = Self {
        warmup_calls: 300,
        rounds: 4,
        calls_per_round: 500,
        push_bytes: 1 << 30,
        echo_bytes: 512 << 20,
        memory_connections: MEMORY_CONNECTIONS,
    };
    const QUICK: Self = Self {
        warmup_calls: 50,
        rounds: 2,
        calls_per_round: 100,
        push_bytes: 64 << 20,
        echo_bytes: 32 << 20,
        memory_connections: 100,
    };
}

fn log(msg: &str) {
    eprintln!("[egress-bench] {msg}");
}

// ---------------------------------------------------------------------------------
// The forwarder child
// ---------------------------------------------------------------------------------

/// `serve-forwarder [--max-connections N] (--listen L --upstream U)...`: runs the
/// forwarder, prints each bound endpoint on a line, then `ready`, and stops when
/// stdin closes.
fn serve_forwarder(args: &[String]) -> eyre::Result<()> {
    let mut routes = Vec::new();
    let mut settings = EgressSettings::default();
    let mut listen = None;
    let mut args = args.iter();
    while let Some(flag) = args.next() {
        let value = args.next().ok_or_else(|| eyre!("{flag} needs a value"))?;
        match flag.as_str() {
            "--listen" => listen = Some(Endpoint::parse(value)?),
            "--upstream" => {
                let listen = listen
                    .take()
                    .ok_or_else(|| eyre!("--upstream before --listen"))?;
                routes.push(EgressRoute::new(listen, Endpoint::parse(value)?)?);
            }
            "--max-connections" => settings.max_connections = value.parse()?,
            other => bail!("unknown serve-forwarder flag {other:?}"),
        }
    }
    let allowlist = EgressAllowlist::new(routes)?;
    // The runtime host-proxy's `main` builds: multi-threaded, one worker per core.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let forwarder = EgressForwarder::bind(&allowlist, settings).await?;
        for local in forwarder.local_endpoints() {
            println!("{local}");
        }
        println!("ready");
        let shutdown = CancellationToken::new();
        let stop = shutdown.clone();
        std::thread::spawn(move || {
            // EOF (the parent closed our stdin or died) ends the child.
            let _ = std::io::stdin().read_to_end(&mut Vec::new());
            stop.cancel();
        });
        forwarder.run(shutdown).await;
        Ok(())
    })
}

/// A forwarder child process, killed on drop.
struct ForwarderChild {
    child: Child,
    _stdin: ChildStdin,
    locals: Vec<u16>,
}

impl ForwarderChild {
    fn spawn(upstreams: &[u16], max_connections: Option<usize>) -> eyre::Result<Self> {
        let mut command = Command::new(std::env::current_exe()?);
        command.arg("serve-forwarder");
        if let Some(max) = max_connections {
            command.args(["--max-connections", &max.to_string()]);
        }
        for port in upstreams {
            command.args([
                "--listen",
                "tcp://127.0.0.1:0",
                "--upstream",
                &format!("tcp://127.0.0.1:{port}"),
            ]);
        }
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .wrap_err("spawn the forwarder child")?;
        let stdin = child.stdin.take().ok_or_else(|| eyre!("no stdin"))?;
        let stdout = child.stdout.take().ok_or_else(|| eyre!("no stdout"))?;
        let mut locals = Vec::new();
        // Bounded: one line per route plus `ready`; EOF ends it early.
        for line in BufReader::new(stdout).lines().take(upstreams.len() + 1) {
            let line = line?;
            if line == "ready" {
                break;
            }
            let port = Endpoint::parse(&line)?.port();
            locals.push(u16::try_from(port)?);
        }
        ensure!(
            locals.len() == upstreams.len(),
            "the forwarder child did not start"
        );
        Ok(Self {
            child,
            _stdin: stdin,
            locals,
        })
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for ForwarderChild {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------
// socat
// ---------------------------------------------------------------------------------

/// `socat TCP-LISTEN:PORT,fork,reuseaddr,bind=127.0.0.1 TCP:127.0.0.1:UPSTREAM`, killed
/// (with its children) on drop.
struct Socat {
    child: Child,
    port: u16,
}

impl Socat {
    async fn spawn(upstream: u16) -> eyre::Result<Self> {
        let port = testkit::process::free_port();
        // `nodelay` on both sides, as the forwarder does: a fair reference.
        let child = Command::new("socat")
            .arg(format!(
                "TCP-LISTEN:{port},fork,reuseaddr,bind=127.0.0.1,nodelay"
            ))
            .arg(format!("TCP:127.0.0.1:{upstream},nodelay"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .wrap_err("spawn socat (install it: apt-get install socat)")?;
        let socat = Self { child, port };
        // Probing would fork a child per attempt: wait for the listening socket in
        // /proc/net/tcp instead.
        for _ in 0..READY_ATTEMPTS {
            if listening(port)? {
                return Ok(socat);
            }
            tokio::time::sleep(POLL).await;
        }
        bail!("socat did not start listening on {port}")
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Socat {
    fn drop(&mut self) {
        // Its forked children exit when their connections close or on SIGTERM from
        // the group; kill them explicitly too.
        for pid in children_of(self.pid()) {
            let _ = testkit::process::terminate(pid);
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Whether a loopback TCP socket is listening on `port` (from `/proc/net/tcp`).
fn listening(port: u16) -> eyre::Result<bool> {
    let table = std::fs::read_to_string("/proc/net/tcp")?;
    let local = format!("0100007F:{port:04X}");
    Ok(table.lines().skip(1).any(|line| {
        let mut fields = line.split_whitespace();
        fields.nth(1) == Some(local.as_str()) && fields.nth(1) == Some("0A")
    }))
}

// ---------------------------------------------------------------------------------
// Local servers: a discarding sink and an echo
// ---------------------------------------------------------------------------------

/// Reads every connection to EOF and discards it, then closes; counts accepts.
async fn sink_server() -> eyre::Result<(u16, Arc<AtomicUsize>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                let mut buffer = vec![0; IO_BUFFER];
                while let Ok(n) = stream.read(&mut buffer).await {
                    if n == 0 {
                        break;
                    }
                }
                let _ = stream.shutdown().await;
            });
        }
    });
    Ok((port, accepted))
}

/// Echoes every connection; answers EOF with EOF; counts accepts.
async fn echo_server() -> eyre::Result<(u16, Arc<AtomicUsize>)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = Arc::clone(&accepted);
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            count.fetch_add(1, Ordering::Relaxed);
            tokio::spawn(async move {
                let _ = stream.set_nodelay(true);
                let (mut read, mut write) = stream.split();
                let mut buffer = vec![0; IO_BUFFER];
                while let Ok(n) = read.read(&mut buffer).await {
                    if n == 0 || write.write_all(&buffer[..n]).await.is_err() {
                        break;
                    }
                }
                let _ = write.shutdown().await;
            });
        }
    });
    Ok((port, accepted))
}

async fn connect(port: u16) -> eyre::Result<TcpStream> {
    let stream = tokio::time::timeout(IO_TIMEOUT, TcpStream::connect(("127.0.0.1", port)))
        .await
        .map_err(|_| eyre!("connect to {port} timed out"))??;
    stream.set_nodelay(true)?;
    Ok(stream)
}

// ---------------------------------------------------------------------------------
// (a) Latency of a JSON-RPC call
// ---------------------------------------------------------------------------------

/// A kept-alive HTTP/1.1 connection to anvil's JSON-RPC.
struct RpcConnection {
    sender: SendRequest<Full<Bytes>>,
    next_id: u64,
}

impl RpcConnection {
    async fn open(port: u16) -> eyre::Result<Self> {
        let stream = connect(port).await?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .wrap_err("HTTP handshake")?;
        tokio::spawn(connection);
        Ok(Self { sender, next_id: 1 })
    }

    /// One `eth_blockNumber` call; returns its duration.
    async fn call(&mut self) -> eyre::Result<Duration> {
        let body = serde_json::to_vec(&serde_json::json!({
            "jsonrpc": "2.0",
            "id": self.next_id,
            "method": "eth_blockNumber",
            "params": [],
        }))?;
        self.next_id += 1;
        let request = Request::builder()
            .method(Method::POST)
            .uri("/")
            .header(header::HOST, "127.0.0.1")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body)))?;
        let started = Instant::now();
        let response = tokio::time::timeout(IO_TIMEOUT, async {
            self.sender.ready().await?;
            let response = self.sender.send_request(request).await?;
            let status = response.status();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, eyre::Report>((status, body))
        })
        .await
        .map_err(|_| eyre!("JSON-RPC call timed out"))??;
        let elapsed = started.elapsed();
        let (status, body) = response;
        ensure!(status.is_success(), "HTTP {status}");
        let reply: serde_json::Value = serde_json::from_slice(&body)?;
        ensure!(reply.get("result").is_some(), "no result in {reply}");
        Ok(elapsed)
    }
}

/// Nearest-rank percentile of sorted samples, in microseconds.
fn percentile(sorted: &[Duration], p: usize) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = (sorted.len() * p).div_ceil(100);
    sorted[rank.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e6
}

struct Latency {
    name: &'static str,
    p50_us: f64,
    p99_us: f64,
    calls: usize,
}

async fn latency(plan: Plan, targets: &[(&'static str, u16)]) -> eyre::Result<Vec<Latency>> {
    let mut connections = Vec::new();
    for (name, port) in targets {
        let mut connection = RpcConnection::open(*port).await?;
        for _ in 0..plan.warmup_calls {
            connection.call().await?;
        }
        log(&format!("latency: {name} warmed up"));
        connections.push(connection);
    }
    let mut samples: Vec<Vec<Duration>> = vec![Vec::new(); targets.len()];
    // Rounds rotate between the targets so a slow spell of the machine hits all.
    for _ in 0..plan.rounds {
        for (connection, samples) in connections.iter_mut().zip(&mut samples) {
            for _ in 0..plan.calls_per_round {
                samples.push(connection.call().await?);
            }
        }
    }
    Ok(targets
        .iter()
        .zip(samples)
        .map(|((name, _), mut samples)| {
            samples.sort_unstable();
            Latency {
                name,
                p50_us: percentile(&samples, 50),
                p99_us: percentile(&samples, 99),
                calls: samples.len(),
            }
        })
        .collect())
}

// ---------------------------------------------------------------------------------
// (b) Throughput
// ---------------------------------------------------------------------------------

/// Writes `bytes` bytes of `fill` in 1 MiB chunks, then shuts the write side down.
fn spawn_writer(
    mut write: tokio::net::tcp::OwnedWriteHalf,
    bytes: u64,
    fill: u8,
) -> tokio::task::JoinHandle<eyre::Result<()>> {
    tokio::spawn(async move {
        let chunk = vec![fill; 1 << 20];
        let mut left = bytes;
        while left > 0 {
            let n = usize::try_from(left.min(chunk.len() as u64))?;
            write.write_all(&chunk[..n]).await?;
            left -= n as u64;
        }
        write.shutdown().await?;
        Ok(())
    })
}

/// Writes `bytes` then shuts down its write side; returns when the peer's EOF comes
/// back (the sink has read everything). Megabytes (10^6) per second.
async fn push(port: u16, bytes: u64) -> eyre::Result<f64> {
    let stream = connect(port).await?;
    let (mut read, write) = stream.into_split();
    let started = Instant::now();
    let writer = spawn_writer(write, bytes, 0x5a);
    let mut rest = Vec::new();
    tokio::time::timeout(IO_TIMEOUT, read.read_to_end(&mut rest))
        .await
        .map_err(|_| eyre!("push timed out"))??;
    writer.await??;
    Ok(bytes as f64 / started.elapsed().as_secs_f64() / 1e6)
}

/// Writes `bytes` and reads them all back through an echo; MB/s of the payload.
async fn echo(port: u16, bytes: u64) -> eyre::Result<f64> {
    let stream = connect(port).await?;
    let (mut read, write) = stream.into_split();
    let started = Instant::now();
    let writer = spawn_writer(write, bytes, 0xa5);
    let received = tokio::time::timeout(IO_TIMEOUT, async {
        let mut buffer = vec![0; IO_BUFFER];
        let mut received = 0u64;
        loop {
            let n = read.read(&mut buffer).await?;
            if n == 0 {
                break;
            }
            received += n as u64;
        }
        Ok::<_, std::io::Error>(received)
    })
    .await
    .map_err(|_| eyre!("echo timed out"))??;
    let elapsed = started.elapsed();
    writer.await??;
    ensure!(received == bytes, "echoed {received} of {bytes} bytes");
    Ok(bytes as f64 / elapsed.as_secs_f64() / 1e6)
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values.get(values.len() / 2).copied().unwrap_or(f64::NAN)
}

struct Throughput {
    name: &'static str,
    push_mbps: f64,
    echo_mbps: f64,
}

async fn throughput(
    plan: Plan,
    targets: &[(&'static str, u16, u16)],
) -> eyre::Result<Vec<Throughput>> {
    let mut results = Vec::new();
    for (name, sink, echo_port) in targets {
        let mut pushes = Vec::new();
        let mut echoes = Vec::new();
        for _ in 0..THROUGHPUT_RUNS {
            pushes.push(push(*sink, plan.push_bytes).await?);
            echoes.push(echo(*echo_port, plan.echo_bytes).await?);
        }
        let result = Throughput {
            name,
            push_mbps: median(pushes),
            echo_mbps: median(echoes),
        };
        log(&format!(
            "throughput {name}: push {:.0} MB/s, echo {:.0} MB/s",
            result.push_mbps, result.echo_mbps
        ));
        results.push(result);
    }
    Ok(results)
}

// ---------------------------------------------------------------------------------
// (c) Memory per connection
// ---------------------------------------------------------------------------------

/// VmRSS and PSS of one process, in KiB.
fn memory_of(pid: u32) -> (u64, u64) {
    (
        tests::bench::proc_kib(&format!("/proc/{pid}/status"), "VmRSS:"),
        tests::bench::proc_kib(&format!("/proc/{pid}/smaps_rollup"), "Pss:"),
    )
}

/// The processes whose parent is `parent` (from `/proc/*/stat`).
fn children_of(parent: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .ok()
                .and_then(|stat| {
                    // `pid (comm) state ppid ...`; comm may hold spaces and parens.
                    let after = stat.rsplit_once(')')?.1;
                    after.split_whitespace().nth(1)?.parse::<u32>().ok()
                })
                == Some(parent)
        })
        .collect()
}

/// Memory of a process tree: the process itself plus its children.
fn tree_memory(pid: u32) -> (u64, u64, usize) {
    let (mut rss, mut pss) = memory_of(pid);
    let children = children_of(pid);
    for child in &children {
        let (r, p) = memory_of(*child);
        rss += r;
        pss += p;
    }
    (rss, pss, children.len())
}

struct Memory {
    name: &'static str,
    connections: usize,
    rss_idle_kib: u64,
    rss_open_kib: u64,
    pss_idle_kib: u64,
    pss_open_kib: u64,
}

impl Memory {
    fn rss_per_connection(&self) -> f64 {
        self.rss_open_kib.saturating_sub(self.rss_idle_kib) as f64 / self.connections as f64
    }

    fn pss_per_connection(&self) -> f64 {
        self.pss_open_kib.saturating_sub(self.pss_idle_kib) as f64 / self.connections as f64
    }
}

/// Opens `count` connections to `port`, each carrying one 128-byte echo (as a
/// kept-alive connection that has served a request), and keeps them open.
async fn open_idle(port: u16, count: usize) -> eyre::Result<Vec<TcpStream>> {
    let mut streams = Vec::with_capacity(count);
    let message = [0x42_u8; 128];
    for _ in 0..count {
        let mut stream = connect(port).await?;
        stream.write_all(&message).await?;
        let mut back = [0; 128];
        tokio::time::timeout(IO_TIMEOUT, stream.read_exact(&mut back))
            .await
            .map_err(|_| eyre!("idle connection echo timed out"))??;
        streams.push(stream);
    }
    Ok(streams)
}

/// Waits (bounded) until `condition` holds.
async fn settle(what: &str, mut condition: impl FnMut() -> bool) -> eyre::Result<()> {
    for _ in 0..READY_ATTEMPTS {
        if condition() {
            return Ok(());
        }
        tokio::time::sleep(POLL).await;
    }
    bail!("timed out waiting for {what}")
}

async fn memory(plan: Plan) -> eyre::Result<Vec<Memory>> {
    let count = plan.memory_connections;
    let (echo_port, accepted) = echo_server().await?;
    let mut results = Vec::new();

    // The forwarder: a fresh child, warmed by a few connections opened and closed.
    let child = ForwarderChild::spawn(&[echo_port], Some(MEMORY_MAX_CONNECTIONS))?;
    let port = child.locals[0];
    drop(open_idle(port, 10).await?);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss_idle_kib, pss_idle_kib) = memory_of(child.pid());
    let before = accepted.load(Ordering::Relaxed);
    let streams = open_idle(port, count).await?;
    settle("the forwarder's upstream connections", || {
        accepted.load(Ordering::Relaxed) >= before + count
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss_open_kib, pss_open_kib) = memory_of(child.pid());
    drop(streams);
    drop(child);
    results.push(Memory {
        name: "forwarder",
        connections: count,
        rss_idle_kib,
        rss_open_kib,
        pss_idle_kib,
        pss_open_kib,
    });

    // socat: its main process, plus one forked child per connection.
    let socat = Socat::spawn(echo_port).await?;
    let (rss_idle_kib, pss_idle_kib, _) = tree_memory(socat.pid());
    let streams = open_idle(socat.port, count).await?;
    settle("socat's children", || {
        children_of(socat.pid()).len() >= count
    })
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (rss_open_kib, pss_open_kib, children) = tree_memory(socat.pid());
    log(&format!("memory: socat has {children} children"));
    drop(streams);
    drop(socat);
    results.push(Memory {
        name: "socat",
        connections: count,
        rss_idle_kib,
        rss_open_kib,
        pss_idle_kib,
        pss_open_kib,
    });
    Ok(results)
}

// ---------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------

fn machine() -> String {
    let socat = Command::new("socat")
        .arg("-V")
        .output()
        .ok()
        .and_then(|out| {
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .find(|l| l.contains("socat version"))
                .map(|l| l.trim().to_owned())
        })
        .unwrap_or_else(|| "socat version unknown".to_owned());
    format!("{}, {socat}", tests::bench::machine())
}

fn report(
    plan: Plan,
    quick: bool,
    latency: &[Latency],
    throughput: &[Throughput],
    memory: &[Memory],
) {
    println!();
    println!(
        "## Egress forwarder vs socat{}",
        if quick {
            " (quick run: not for BENCHMARKS.md)"
        } else {
            ""
        }
    );
    println!();
    println!("Machine: {}.", machine());
    println!();
    let direct = latency.first();
    let calls = latency.first().map_or(0, |l| l.calls);
    println!(
        "JSON-RPC `eth_blockNumber` to anvil over one kept-alive HTTP/1.1 connection, {calls} calls per path after {} warm-up calls (rounds rotate between the paths):",
        plan.warmup_calls
    );
    println!();
    println!("| path | p50 | p99 | added p50 | added p99 |");
    println!("|---|---|---|---|---|");
    for l in latency {
        let (added50, added99) = direct.map_or((f64::NAN, f64::NAN), |d| {
            (l.p50_us - d.p50_us, l.p99_us - d.p99_us)
        });
        if l.name == "direct" {
            println!(
                "| {} | {:.0} µs | {:.0} µs | — | — |",
                l.name, l.p50_us, l.p99_us
            );
        } else {
            println!(
                "| {} | {:.0} µs | {:.0} µs | {:+.0} µs | {:+.0} µs |",
                l.name, l.p50_us, l.p99_us, added50, added99
            );
        }
    }
    println!();
    println!(
        "Throughput on loopback, one connection, median of {THROUGHPUT_RUNS} (MB = 10^6 bytes): push = {} MiB to a discarding sink; echo = {} MiB through an echo server and back:",
        plan.push_bytes >> 20,
        plan.echo_bytes >> 20
    );
    println!();
    println!("| path | push | echo |");
    println!("|---|---|---|");
    for t in throughput {
        println!(
            "| {} | {:.0} MB/s | {:.0} MB/s |",
            t.name, t.push_mbps, t.echo_mbps
        );
    }
    println!();
    println!(
        "Memory per open idle connection ({} connections, each having carried one 128-byte echo); socat counts its main process plus the child it forks per connection (RSS counts the children's shared pages once each, PSS shares them out):",
        memory.first().map_or(0, |m| m.connections)
    );
    println!();
    println!("| path | RSS idle | RSS open | RSS per conn | PSS idle | PSS open | PSS per conn |");
    println!("|---|---|---|---|---|---|---|");
    for m in memory {
        println!(
            "| {} | {:.1} MiB | {:.1} MiB | {:.1} KiB | {:.1} MiB | {:.1} MiB | {:.1} KiB |",
            m.name,
            m.rss_idle_kib as f64 / 1024.0,
            m.rss_open_kib as f64 / 1024.0,
            m.rss_per_connection(),
            m.pss_idle_kib as f64 / 1024.0,
            m.pss_open_kib as f64 / 1024.0,
            m.pss_per_connection(),
        );
    }
    println!();
    let forwarder = latency.iter().find(|l| l.name == "forwarder");
    let added = forwarder
        .zip(direct)
        .map_or(f64::NAN, |(f, d)| f.p50_us - d.p50_us);
    let ours = throughput.iter().find(|t| t.name == "forwarder");
    let socat = throughput.iter().find(|t| t.name == "socat");
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!(
        "Targets: added p50 latency < 100 µs: {} ({added:.0} µs); throughput >= socat's: {}.",
        verdict(added < 100.0),
        verdict(
            ours.zip(socat)
                .is_some_and(|(o, s)| { o.push_mbps >= s.push_mbps && o.echo_mbps >= s.echo_mbps })
        )
    );
}

async fn bench(plan: Plan, quick: bool) -> eyre::Result<()> {
    // The one anvil fixture; kept alive (and killed on drop) for the whole run.
    let chain = tests::Chain::start().await;
    let anvil_port = chain.anvil.port();
    let (sink_port, _) = sink_server().await?;
    let (echo_port, _) = echo_server().await?;
    log(&format!(
        "anvil on {anvil_port}, sink on {sink_port}, echo on {echo_port}"
    ));

    let forwarder = ForwarderChild::spawn(&[anvil_port, sink_port, echo_port], None)?;
    let [f_anvil, f_sink, f_echo] = forwarder.locals[..] else {
        bail!(
            "the forwarder child bound {} routes",
            forwarder.locals.len()
        );
    };
    let socat_anvil = Socat::spawn(anvil_port).await?;
    let socat_sink = Socat::spawn(sink_port).await?;
    let socat_echo = Socat::spawn(echo_port).await?;

    let latency = latency(
        plan,
        &[
            ("direct", anvil_port),
            ("forwarder", f_anvil),
            ("socat", socat_anvil.port),
        ],
    )
    .await?;
    let throughput = throughput(
        plan,
        &[
            ("direct", sink_port, echo_port),
            ("forwarder", f_sink, f_echo),
            ("socat", socat_sink.port, socat_echo.port),
        ],
    )
    .await?;
    drop((socat_anvil, socat_sink, socat_echo, forwarder));
    let memory = memory(plan).await?;
    report(plan, quick, &latency, &throughput, &memory);
    Ok(())
}

fn main() -> eyre::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("serve-forwarder") {
        return serve_forwarder(&args[1..]);
    }
    let mut quick = false;
    for arg in &args {
        match arg.as_str() {
            "--quick" => quick = true,
            other => bail!("unknown argument {other:?} (usage: egress-bench [--quick])"),
        }
    }
    let plan = if quick { Plan::QUICK } else { Plan::FULL };
    let started = Instant::now();
    // Two workers, like the forwarder child's runtime on this 2-core machine.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(bench(plan, quick))?;
    log(&format!("done in {:.0} s", started.elapsed().as_secs_f64()));
    Ok(())
}
