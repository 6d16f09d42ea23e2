//! A round of 10,000 players against the real binaries, and what each bet costs.
//!
//! anvil (`--block-time 1`) with the contract; enclave-app and host-proxy (sim mode,
//! the release binaries beside this one) as in `stack`: enclave-app reaches anvil
//! through host-proxy's egress and a counting JSON-RPC proxy ([`HostileUpstream`],
//! honest here); 1,000 WebSocket clients on host-proxy's `/ws` count every byte they
//! read. Players are fresh impersonated addresses, one bet each, sent in waves of a
//! block's worth (`tests::gas::crowd_in_waves`). For every 2,000 players
//! it prints, per bet: the feed bytes one client read (heartbeats, head and round
//! updates included, so an upper bound of what a bet costs), the enclave's JSON-RPC
//! requests, calls and `eth_call`s, the gas of every view it called (estimated at
//! that round size, beside `getParticipants` for comparison), and host-proxy's CPU
//! time (utime + stime from `/proc`) at 1,000 clients. Then the snapshot a new client
//! gets, the largest feed message, the draw (blocks after the first eligible one)
//! and both processes' memory.
//!
//! Usage: `cargo build --release -p enclave-app -p host-proxy -p tests --bin scale-bench
//! --bin enclave-app --bin host-proxy && target/release/scale-bench [--players N]
//! [--clients N] [--quick]` (`--quick`: 1,000 players, 100 clients). Every wait is
//! bounded.

#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::{
    collections::BTreeMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use abi::contract::{Lottery, RoundState};
use alloy::{
    primitives::{Address, B256, Bytes, U256},
    providers::{Provider, ext::AnvilApi},
    rpc::types::TransactionRequest,
    sol_types::SolCall,
};
use eyre::{WrapErr, bail, ensure, eyre};
use futures_util::StreamExt;
use tests::{
    Chain,
    bench::{machine, proc_kib},
    ok,
    stack::{self, Ports},
    upstream::HostileUpstream,
};

/// Players per reporting group.
const GROUP: u64 = 2_000;
/// How far before `minDrawTime` the draw phase jumps chain time.
const JUMP_BEFORE_DRAW_SECS: u64 = 8;

fn log(msg: &str) {
    eprintln!("[scale-bench] {msg}");
}

#[derive(Debug, Clone, Copy)]
struct Plan {
    players: u64,
    clients: usize,
}

/// What the feed clients read, summed over all of them.
#[derive(Debug, Default)]
struct FeedCounters {
    bytes: AtomicU64,
    messages: AtomicU64,
    largest: AtomicU64,
    connected: AtomicU64,
    closed: AtomicU64,
}

/// Connects `n` clients that read until the socket ends, counting into `counters`.
async fn feed_clients(web: u16, n: usize, counters: Arc<FeedCounters>) -> eyre::Result<()> {
    for i in 0..n {
        let (ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{web}/ws"))
            .await
            .wrap_err_with(|| format!("feed client {i}"))?;
        let counters = Arc::clone(&counters);
        counters.connected.fetch_add(1, Ordering::Relaxed);
        tokio::spawn(async move {
            let (_, mut read) = ws.split();
            let mut first = true;
            while let Some(Ok(message)) = read.next().await {
                let len = message.len() as u64;
                // The snapshot on connect is not a bet's cost.
                if std::mem::take(&mut first) {
                    continue;
                }
                counters.bytes.fetch_add(len, Ordering::Relaxed);
                counters.messages.fetch_add(1, Ordering::Relaxed);
                counters.largest.fetch_max(len, Ordering::Relaxed);
            }
            counters.closed.fetch_add(1, Ordering::Relaxed);
        });
    }
    Ok(())
}

/// The first message a new client gets (the snapshot), in bytes.
async fn snapshot_bytes(web: u16) -> eyre::Result<usize> {
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{web}/ws")).await?;
    let first = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await?
        .ok_or_else(|| eyre!("the feed closed"))??;
    Ok(first.len())
}

/// CPU seconds (user + system) a process has used.
fn cpu_secs(pid: u32) -> eyre::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // Fields after the command name (which may hold spaces) in parentheses.
    let rest = stat
        .rsplit_once(')')
        .ok_or_else(|| eyre!("bad /proc stat"))?
        .1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line: 12 and 13 after ')'.
    let ticks: u64 = fields
        .get(11..13)
        .ok_or_else(|| eyre!("short /proc stat"))?
        .iter()
        .map(|f| f.parse::<u64>())
        .sum::<Result<u64, _>>()?;
    #[allow(clippy::cast_precision_loss)]
    Ok(ticks as f64 / clock_ticks()? as f64)
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`, 100 on Linux).
fn clock_ticks() -> eyre::Result<u64> {
    let out = std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .wrap_err("getconf CLK_TCK")?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().parse()?)
}

fn memory(pid: u32) -> (f64, f64) {
    let path = format!("/proc/{pid}/status");
    #[allow(clippy::cast_precision_loss)]
    let mib = |key| proc_kib(&path, key) as f64 / 1024.0;
    (mib("VmRSS:"), mib("VmHWM:"))
}

/// The gas `input` costs as an `eth_call` of the contract now (`None`: it cannot run
/// under the node's call gas cap).
async fn view_gas(chain: &Chain, contract: Address, input: &Bytes) -> Option<u64> {
    let tx = TransactionRequest::default()
        .to(contract)
        .input(input.clone().into());
    chain.provider.estimate_gas(tx).await.ok()
}

fn selector_name(input: &[u8]) -> String {
    let Some(selector) = input.get(..4) else {
        return "<short>".to_owned();
    };
    for (name, known) in [
        ("getConfig", Lottery::getConfigCall::SELECTOR),
        ("getRound", Lottery::getRoundCall::SELECTOR),
        ("getParticipants", Lottery::getParticipantsCall::SELECTOR),
        (
            "getParticipantsPage",
            Lottery::getParticipantsPageCall::SELECTOR,
        ),
        ("operator", Lottery::operatorCall::SELECTOR),
    ] {
        if selector == known {
            return name.to_owned();
        }
    }
    format!("0x{}", alloy::hex::encode(selector))
}

/// One reporting group's figures.
struct Group {
    players: u64,
    bets: u64,
    feed_bytes_per_bet: f64,
    requests_per_bet: f64,
    calls_per_bet: f64,
    eth_calls_per_bet: f64,
    view_gas: BTreeMap<String, Option<u64>>,
    list_gas: Option<u64>,
    cpu_ms_per_bet: f64,
}

#[allow(clippy::too_many_lines)]
async fn run(plan: Plan) -> eyre::Result<()> {
    log(&format!(
        "{} players, {} feed clients; {}",
        plan.players,
        plan.clients,
        machine()
    ));
    let chain = Chain::start_with(&["--block-time", "1"]).await;
    let lottery = chain.deploy_with_operator(500).await;
    // A week of betting: the bets must not outlast the round.
    ok(lottery
        .setBettingDuration(U256::from(7 * 24 * 3600))
        .from(chain.operator()))
    .await;
    let contract = *lottery.address();
    let upstream = HostileUpstream::start(&chain.endpoint()).await?;
    let ports = Ports::free();
    let max = format!("--max-ws-clients={}", plan.clients + 100);
    let per_client = format!("--max-ws-per-client={}", plan.clients + 100);
    let host = stack::host_proxy(ports, &upstream.url(), &[&max, &per_client]);
    let app = stack::enclave_app(
        &chain,
        ports,
        "http://chain.invalid:8545",
        contract,
        Some(1),
        &[],
    );
    let web = ports.web;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let committed = lottery.getRound().call().await?.seedCommitment != B256::ZERO;
        if committed
            && stack::host_snapshot(web)
                .await
                .is_some_and(|s| s.round.is_some())
        {
            break;
        }
        ensure!(
            Instant::now() < deadline,
            "the stack did not come up in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let counters = Arc::new(FeedCounters::default());
    feed_clients(web, plan.clients, Arc::clone(&counters)).await?;
    log(&format!("{} feed clients connected", plan.clients));

    let host_pid = host.pid();
    let app_pid = app.pid();
    let mut groups = Vec::new();
    let mut done = 0;
    let started = Instant::now();
    while done < plan.players {
        let group_end = (done + GROUP).min(plan.players);
        let before = (
            counters.bytes.load(Ordering::Relaxed),
            upstream.counts(),
            upstream.calls().len(),
            cpu_secs(host_pid)?,
        );
        tests::gas::crowd_in_waves(
            &chain,
            &lottery,
            usize::try_from(done)?..usize::try_from(group_end)?,
            None,
        )
        .await;
        // The last bets' events reach the clients.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let bets = group_end - done;
        let counts = upstream.counts().since(&before.1);
        let calls = upstream.calls();
        let new_calls = &calls[before.2..];
        let mut view_gas = BTreeMap::new();
        for call in new_calls {
            let name = selector_name(&call.input);
            if let std::collections::btree_map::Entry::Vacant(slot) = view_gas.entry(name) {
                slot.insert(self::view_gas(&chain, contract, &call.input).await);
            }
        }
        let list = Bytes::from(Lottery::getParticipantsCall {}.abi_encode());
        #[allow(clippy::cast_precision_loss)]
        let per_bet = |n: u64| n as f64 / bets as f64;
        #[allow(clippy::cast_precision_loss)]
        let group = Group {
            players: group_end,
            bets,
            feed_bytes_per_bet: (counters.bytes.load(Ordering::Relaxed) - before.0) as f64
                / plan.clients as f64
                / bets as f64,
            requests_per_bet: per_bet(counts.http),
            calls_per_bet: per_bet(counts.calls),
            eth_calls_per_bet: per_bet(new_calls.len() as u64),
            view_gas,
            list_gas: self::view_gas(&chain, contract, &list).await,
            cpu_ms_per_bet: (cpu_secs(host_pid)? - before.3) * 1000.0 / bets as f64,
        };
        log(&format!(
            "{group_end} players ({:.0} s): {:.0} feed bytes/bet/client, {:.3} requests/bet, {:.3} eth_calls/bet, views {:?}, getParticipants {:?}, host-proxy {:.3} ms CPU/bet",
            started.elapsed().as_secs_f64(),
            group.feed_bytes_per_bet,
            group.requests_per_bet,
            group.eth_calls_per_bet,
            group.view_gas,
            group.list_gas,
            group.cpu_ms_per_bet
        ));
        groups.push(group);
        done = group_end;
    }
    let snapshot = snapshot_bytes(web).await?;
    let largest = counters.largest.load(Ordering::Relaxed);
    let closed = counters.closed.load(Ordering::Relaxed);

    // The draw.
    let bets_done_at = chain.provider.get_block_number().await?;
    let round = lottery.getRound().call().await?;
    let now = chain.now().await;
    if round.minDrawTime > now + JUMP_BEFORE_DRAW_SECS {
        chain
            .provider
            .anvil_increase_time(round.minDrawTime - now - JUMP_BEFORE_DRAW_SECS)
            .await?;
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let settled = lottery.getRoundById(U256::from(1)).call().await?;
        if settled.state == RoundState::Completed as u8 {
            break;
        }
        ensure!(
            settled.state != RoundState::Refunded as u8,
            "round 1 was refunded"
        );
        ensure!(Instant::now() < deadline, "round 1 not drawn within 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The draw's block: the first at which round 1 reads COMPLETED (a binary search
    // over `eth_call`s pinned to blocks, from before the jump to now).
    let (mut lo, mut hi) = (bets_done_at, chain.provider.get_block_number().await?);
    while lo + 1 < hi {
        let mid = lo + (hi - lo) / 2;
        let state = lottery
            .getRoundById(U256::from(1))
            .call()
            .block(mid.into())
            .await?
            .state;
        if state == RoundState::Completed as u8 {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    let draw_block = hi;
    let min_draw_time = round.minDrawTime;
    let mut first = draw_block;
    for _ in 0..400 {
        let parent = chain
            .provider
            .get_block_by_number((first - 1).into())
            .await?
            .ok_or_else(|| eyre!("no block {}", first - 1))?;
        if parent.header.timestamp < min_draw_time {
            break;
        }
        first -= 1;
    }
    let blocks_late = draw_block - first;
    // Let the draw's events settle before reading memory.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let (host_rss, host_hwm) = memory(host_pid);
    let (app_rss, app_hwm) = memory(app_pid);
    if closed > 0 {
        bail!("{closed} feed clients were dropped during the run");
    }

    // The tables.
    println!();
    println!(
        "Round of {} players, {} WebSocket clients; {}",
        plan.players,
        plan.clients,
        machine()
    );
    println!();
    println!(
        "| players | bets | feed bytes per bet (per client) | RPC requests per bet | JSON-RPC calls per bet | eth_calls per bet | host-proxy CPU per bet |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    for g in &groups {
        println!(
            "| {} | {} | {:.0} | {:.3} | {:.3} | {:.3} | {:.3} ms |",
            g.players,
            g.bets,
            g.feed_bytes_per_bet,
            g.requests_per_bet,
            g.calls_per_bet,
            g.eth_calls_per_bet,
            g.cpu_ms_per_bet
        );
    }
    println!();
    let names: Vec<String> = groups
        .iter()
        .flat_map(|g| g.view_gas.keys().cloned())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    print!("| players |");
    for n in &names {
        print!(" `{n}` gas (enclave's calls) |");
    }
    println!(" `getParticipants` gas (not called) |");
    print!("|---:|");
    for _ in &names {
        print!("---:|");
    }
    println!("---:|");
    let gas = |g: Option<u64>| g.map_or_else(|| "over the call cap".to_owned(), |g| g.to_string());
    for g in &groups {
        print!("| {} |", g.players);
        for n in &names {
            print!(
                " {} |",
                g.view_gas
                    .get(n)
                    .map_or_else(|| "-".to_owned(), |v| gas(*v))
            );
        }
        println!(" {} |", gas(g.list_gas));
    }
    println!();
    println!(
        "- snapshot a new client gets at {} players: {snapshot} bytes",
        plan.players
    );
    println!("- largest feed message during the bets: {largest} bytes");
    println!("- the draw: {blocks_late} blocks after the first eligible one (block {draw_block})");
    println!(
        "- memory: host-proxy VmRSS {host_rss:.1} MiB (peak {host_hwm:.1}), enclave-app VmRSS {app_rss:.1} MiB (peak {app_hwm:.1})"
    );
    println!("- feed clients dropped: {closed}");
    drop((app, host));
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> eyre::Result<()> {
    let mut plan = Plan {
        players: 10_000,
        clients: 1_000,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> eyre::Result<u64> {
            args.next()
                .ok_or_else(|| eyre!("{name} needs a value"))?
                .parse()
                .wrap_err_with(|| format!("{name} takes a number"))
        };
        match arg.as_str() {
            "--players" => plan.players = value("--players")?,
            "--clients" => plan.clients = usize::try_from(value("--clients")?)?,
            "--quick" => {
                plan.players = 1_000;
                plan.clients = 100;
            }
            "-h" | "--help" => {
                println!(
                    "scale-bench [--players N] [--clients N] [--quick]: a round of N players (10,000) with N WebSocket clients (1,000); prints per-bet costs, the draw and memory"
                );
                return Ok(());
            }
            other => bail!("unknown argument {other:?} (try --help)"),
        }
    }
    ensure!(plan.players >= 2, "a draw needs at least two players");
    run(plan).await
}
