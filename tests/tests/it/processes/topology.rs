//! The simulated topology as real processes: anvil, host-proxy (egress forwarder,
//! control client, web API) and enclave-app whose only route to the chain is the
//! forwarder (its RPC URL names a host that does not resolve, so a direct
//! connection is impossible). Chain time jumps with anvil's time calls.

use std::time::{Duration, Instant};

use abi::{
    contract::RoundState,
    state::{Settlement, Snapshot},
};
use alloy::providers::ext::AnvilApi;
use tests::{
    Chain, milli, ok,
    stack::{self, Ports, Service, host_until},
};

/// An RPC URL only the forwarder can serve: `.invalid` never resolves (RFC 2606).
const UNREACHABLE_RPC: &str = "http://chain.invalid:8545";

/// Waits until host-proxy holds exactly the enclave's state (same sequence number,
/// same content as its feed shows it), as the enclave serves it to a second control
/// client; returns the enclave's.
async fn converged(ports: Ports, secs: u64) -> Snapshot {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        let enclave =
            stack::enclave_snapshot(ports.control_endpoint(), Duration::from_secs(10)).await;
        if let Some((seq, host)) = stack::host_feed_snapshot(ports.web).await
            && seq == enclave.seq
            && host == abi::api::FeedSnapshot::of(&enclave)
        {
            return enclave;
        }
        assert!(
            Instant::now() < deadline,
            "host-proxy's snapshot never equalled enclave-app's within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// anvil with 1 s blocks, a Lottery with account 1 as operator, host-proxy and
/// enclave-app (operator key = account 1).
async fn topology() -> (Chain, alloy::primitives::Address, Ports, Service, Service) {
    let chain = Chain::start_with(&["--block-time", "1"]).await;
    let lottery = chain.deploy_with_operator(500).await;
    let contract = *lottery.address();
    let ports = Ports::free();
    let host = stack::host_proxy(ports, &chain.endpoint(), &[]);
    let enclave = stack::enclave_app(&chain, ports, UNREACHABLE_RPC, contract, Some(1), &[]);
    (chain, contract, ports, host, enclave)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_runs_end_to_end_through_the_forwarder() {
    let (chain, contract, ports, host, enclave) = topology().await;
    let lottery = abi::contract::Lottery::new(contract, chain.provider.clone());

    // The operator commits round 1 through the forwarder; host-proxy mirrors it.
    host_until(ports.web, 30, "round 1 committed", |s| {
        s.round
            .as_ref()
            .is_some_and(|r| r.seed_commitment.is_some())
    })
    .await;
    let (code, health) = stack::get_json(ports.web, "/api/health").await;
    assert_eq!(code, 200, "{health}");
    assert_eq!(health["controlChannelConnected"], true);

    for (i, amount) in [(0, 10), (1, 30)] {
        ok(lottery
            .placeBet()
            .from(chain.player(i))
            .value(milli(amount)))
        .await;
    }
    // A bet's stake update arrives before the round's re-read views: wait for both.
    let snapshot = host_until(ports.web, 10, "two participants", |s| {
        s.participants.participant_count == 2
            && s.round.as_ref().is_some_and(|r| r.participant_count == 2)
    })
    .await;
    let round = snapshot.round.unwrap();
    assert_eq!(round.state, RoundState::Betting);
    assert_eq!(round.total_pot, milli(40));

    // Into the draw window: the operator draws; the history reaches host-proxy.
    let now = chain.now().await;
    chain
        .provider
        .anvil_increase_time(round.min_draw_time - now)
        .await
        .unwrap();
    let snapshot = host_until(ports.web, 30, "round 1 in the history", |s| {
        s.history.first().is_some_and(|h| h.round_id == 1)
    })
    .await;
    let Settlement::Completed { winner, .. } = &snapshot.history[0].settlement else {
        panic!("round 1 was not drawn: {:?}", snapshot.history[0]);
    };
    assert!([chain.player(0), chain.player(1)].contains(winner));
    let on_chain = lottery
        .getRoundById(alloy::primitives::U256::from(1))
        .call()
        .await
        .unwrap();
    assert_eq!(on_chain.winner, *winner);

    // Round 2 is committed, and both sides hold the same state.
    host_until(ports.web, 20, "round 2 committed", |s| {
        s.round
            .as_ref()
            .is_some_and(|r| r.round_id == 2 && r.seed_commitment.is_some())
    })
    .await;
    let held = converged(ports, 20).await;
    assert_eq!(held.round.as_ref().unwrap().round_id, 2);
    assert_eq!(held.contract, contract);

    // Every RPC byte went through the forwarder, and it logged the streams it closed
    // only when they ended (at the SIGTERM below).
    drop(enclave);
    host.wait_for_log(&["egress connection closed"], Duration::from_secs(10))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_rpc_is_checked_inside_the_enclave_against_the_configured_ca() {
    let chain = Chain::start_with(&["--block-time", "1"]).await;
    let contract = *chain.deploy_with_operator(500).await.address();
    let (ca_pem, cert, key) = tests::tls::issue_localhost_cert("test RPC CA");
    let (other_ca, _, _) = tests::tls::issue_localhost_cert("another CA");
    let tls_port = tests::tls::tls_rpc_endpoint(cert, key, chain.endpoint()).await;
    let dir = tempfile::tempdir().unwrap();
    let ca_file = dir.path().join("rpc-ca.pem");
    let other_file = dir.path().join("other-ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    std::fs::write(&other_file, other_ca).unwrap();
    // The enclave names the TLS endpoint's host (checked against the certificate);
    // the forwarder, not the enclave, decides where the bytes go.
    let rpc_url = format!("https://localhost:{tls_port}");

    // With a CA the server's certificate does not chain to: refused, clearly, and the
    // enclave never starts mirroring.
    let ports = Ports::free();
    let _host = stack::host_proxy(ports, &rpc_url, &[]);
    let refused = stack::enclave_app(
        &chain,
        ports,
        &rpc_url,
        contract,
        Some(1),
        &["--rpc-ca-file", other_file.to_str().unwrap()],
    );
    let line = refused
        .wait_for_log(&["chain not reachable yet"], Duration::from_secs(20))
        .await;
    assert!(
        line.contains("invalid peer certificate") && line.contains("UnknownIssuer"),
        "{line}"
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(!refused.logged(&["mirroring the contract"]));
    drop(refused);

    // Without an extra CA (web PKI roots only): refused the same way.
    let ports = Ports::free();
    let _host = stack::host_proxy(ports, &rpc_url, &[]);
    let default_roots = stack::enclave_app(&chain, ports, &rpc_url, contract, Some(1), &[]);
    let line = default_roots
        .wait_for_log(&["chain not reachable yet"], Duration::from_secs(20))
        .await;
    assert!(line.contains("invalid peer certificate"), "{line}");
    drop(default_roots);

    // With the right CA: calls complete and the state reaches host-proxy.
    let ports = Ports::free();
    let _host = stack::host_proxy(ports, &rpc_url, &[]);
    let trusted = stack::enclave_app(
        &chain,
        ports,
        &rpc_url,
        contract,
        Some(1),
        &["--rpc-ca-file", ca_file.to_str().unwrap()],
    );
    trusted
        .wait_for_log(&["mirroring the contract"], Duration::from_secs(20))
        .await;
    let snapshot = host_until(ports.web, 20, "the contract's config", |s| {
        s.config.is_some()
    })
    .await;
    assert_eq!(snapshot.contract, contract);
    assert!(!trusted.logged(&["invalid peer certificate"]));

    // A CA file that is not PEM certificates stops enclave-app at start, naming it.
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let mut bad = stack::enclave_app(
        &chain,
        Ports::free(),
        &rpc_url,
        contract,
        Some(1),
        &["--rpc-ca-file", garbage.to_str().unwrap()],
    );
    bad.wait_for_log(&["garbage.pem", "no CERTIFICATE"], Duration::from_secs(10))
        .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!bad.is_running());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_proxy_restarts_mid_round_and_everything_converges() {
    let (chain, contract, ports, mut host, mut enclave) = topology().await;
    let lottery = abi::contract::Lottery::new(contract, chain.provider.clone());
    host_until(ports.web, 30, "round 1 committed", |s| {
        s.round
            .as_ref()
            .is_some_and(|r| r.seed_commitment.is_some())
    })
    .await;
    for (i, amount) in [(0, 10), (1, 20), (2, 30)] {
        ok(lottery
            .placeBet()
            .from(chain.player(i))
            .value(milli(amount)))
        .await;
    }
    let round = host_until(ports.web, 10, "three participants", |s| {
        s.participants.participant_count == 3
    })
    .await
    .round
    .unwrap();

    // host-proxy dies (SIGKILL) mid-round: the enclave loses its route to the chain
    // and its control connection, and keeps running.
    host.kill();
    enclave
        .wait_for_log(&["control connection closed"], Duration::from_secs(10))
        .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(enclave.is_running(), "enclave-app exited with host-proxy");

    // The draw window opens while the forwarder is still down; it comes back inside
    // the window, and the draw lands.
    let now = chain.now().await;
    chain
        .provider
        .anvil_increase_time(round.min_draw_time - now)
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(2)).await;
    host = stack::host_proxy(ports, &chain.endpoint(), &[]);
    let snapshot = host_until(ports.web, 40, "round 1 in the history", |s| {
        s.history.first().is_some_and(|h| h.round_id == 1)
    })
    .await;
    assert!(
        matches!(snapshot.history[0].settlement, Settlement::Completed { .. }),
        "{:?}",
        snapshot.history[0]
    );
    let on_chain = lottery
        .getRoundById(alloy::primitives::U256::from(1))
        .call()
        .await
        .unwrap();
    assert_eq!(on_chain.state, RoundState::Completed as u8);
    assert!(on_chain.endTime <= on_chain.maxDrawTime);

    // The new host-proxy holds exactly the enclave's state, and reports it healthy.
    converged(ports, 20).await;
    let (code, _) = stack::get_json(ports.web, "/api/health").await;
    assert_eq!(code, 200);
    assert!(enclave.is_running());
    assert!(host.is_running());

    // enclave-app restarts too: the control channel comes back and converges again.
    enclave.kill();
    let (code, health) = loop {
        let (code, health) = stack::get_json(ports.web, "/api/health").await;
        if code == 503 {
            break (code, health);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(code, 503);
    assert_eq!(health["controlChannelConnected"], false);
    let _enclave = stack::enclave_app(&chain, ports, UNREACHABLE_RPC, contract, Some(1), &[]);
    host_until(ports.web, 30, "round 1 in the rebuilt history", |s| {
        s.history.first().is_some_and(|h| h.round_id == 1)
    })
    .await;
    converged(ports, 20).await;
}

/// Sends `bytes` on a fresh connection to `port` (then half-closes when `finish`),
/// and waits until the other side closes it. Returns the connection's local port,
/// which the peer's log names.
async fn send_and_expect_close(port: u16, bytes: &[u8], finish: bool) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let local = stream.local_addr().unwrap().port();
    stream.write_all(bytes).await.unwrap();
    if finish {
        stream.shutdown().await.unwrap();
    }
    let closed = tokio::time::timeout(Duration::from_secs(15), async {
        let mut buffer = vec![0; 64 * 1024];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "port {port} kept the connection open");
    local
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_input_on_every_port_closes_only_that_connection() {
    use abi::control::{HostMessage, MAX_HOST_FRAME_BYTES, encode_frame};
    let (chain, contract, ports, host, mut enclave) = topology().await;
    host_until(ports.web, 30, "the first snapshot", |s| s.config.is_some()).await;

    // The enclave's control port: each bad stream is closed with its reason logged.
    let hello = encode_frame(HostMessage::Hello {
        protocol_version: 1,
    })
    .unwrap();
    let mut random = vec![0u8; 4096];
    rand::Rng::fill(
        &mut <rand::rngs::StdRng as rand::SeedableRng>::from_os_rng(),
        &mut random[..],
    );
    let mut oversized = u32::try_from(MAX_HOST_FRAME_BYTES + 1)
        .unwrap()
        .to_be_bytes()
        .to_vec();
    oversized.extend([0xa1; 32]);
    let cases: Vec<(Vec<u8>, bool, &str)> = vec![
        (random, false, "reason="),
        (oversized, false, "frame larger than"),
        (u32::MAX.to_be_bytes().to_vec(), false, "frame larger than"),
        (hello[..hello.len() / 2].to_vec(), true, "middle of a frame"),
        (
            encode_frame(HostMessage::Hello {
                protocol_version: 99,
            })
            .unwrap(),
            false,
            "protocol version 99",
        ),
        (
            encode_frame(HostMessage::Heartbeat).unwrap(),
            false,
            "not Hello",
        ),
        (
            [&hello[..], &[0, 0, 0, 3, 0xff, 0xff, 0xff]].concat(),
            false,
            "malformed message",
        ),
        (Vec::new(), false, "no Hello within"),
    ];
    // One at a time: the enclave serves only a few control connections at once (the
    // rest are closed at once, which is its own defence).
    for (bytes, finish, reason) in cases {
        let local = send_and_expect_close(ports.control, &bytes, finish).await;
        enclave
            .wait_for_log(
                &["control connection closed", &format!(":{local} "), reason],
                Duration::from_secs(10),
            )
            .await;
    }

    // host-proxy's web port: garbage is answered with 400 or a closed socket.
    send_and_expect_close(ports.web, b"\x16\x03\x01garbage\r\n\r\n", false).await;
    send_and_expect_close(
        ports.web,
        b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n",
        false,
    )
    .await;
    // Its egress port forwards bytes, whatever they are: the upstream (anvil)
    // rejects them and that one stream closes.
    send_and_expect_close(ports.egress, b"\x00\x01 not http at all\r\n\r\n", true).await;

    // Both processes are healthy and still in step.
    assert!(enclave.is_running());
    let (code, _) = stack::get_json(ports.web, "/api/health").await;
    assert_eq!(code, 200);
    let lottery = abi::contract::Lottery::new(contract, chain.provider.clone());
    ok(lottery.placeBet().from(chain.player(0)).value(milli(10))).await;
    host_until(ports.web, 10, "the bet", |s| {
        s.participants.participant_count == 1
    })
    .await;
    converged(ports, 20).await;
    drop(host);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn host_proxy_survives_a_misbehaving_enclave() {
    use abi::control::{EnclaveHello, EnclaveMessage, encode_frame};
    use tokio::io::AsyncWriteExt;
    let ports = Ports::free();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", ports.control))
        .await
        .unwrap();
    let host = stack::host_proxy(ports, "http://127.0.0.1:1", &[]);
    let wrong_version = encode_frame(EnclaveMessage::Hello(EnclaveHello {
        protocol_version: 42,
        app_version: "9.9.9".into(),
        limits: abi::state::StateLimits::default(),
    }))
    .unwrap();
    for (bytes, reason) in [
        (vec![0xde, 0xad, 0xbe, 0xef, 1, 2, 3], "frame larger than"),
        (vec![0, 0, 0, 2, 0xff, 0x00], "malformed message"),
        (wrong_version, "protocol version 42"),
    ] {
        let (mut stream, _) = tokio::time::timeout(Duration::from_secs(15), listener.accept())
            .await
            .expect("host-proxy reconnects")
            .unwrap();
        stream.write_all(&bytes).await.unwrap();
        host.wait_for_log(&["control channel down", reason], Duration::from_secs(10))
            .await;
        drop(stream);
    }
    let (code, health) = stack::get_json(ports.web, "/api/health").await;
    assert_eq!(code, 503, "{health}");
    assert_eq!(health["controlChannelConnected"], false);
}

/// Two RPC providers through host-proxy, as on a Nitro parent: enclave-app's RPC URL
/// number N (neither resolves) leaves through the egress port + N, host-proxy's
/// allowlist has one route per provider, and with quorum 2 both are asked before
/// anything is signed. A round is drawn end to end.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_upstreams_each_leave_through_their_own_egress_route() {
    use std::io::Write;

    use alloy::sol_types::SolCall;
    use tests::upstream::HostileUpstream;
    let chain = Chain::start_with(&["--block-time", "1"]).await;
    let lottery = chain.deploy_with_operator(500).await;
    let contract = *lottery.address();
    let first = HostileUpstream::start(&chain.endpoint()).await.unwrap();
    let second = HostileUpstream::start(&chain.endpoint()).await.unwrap();
    // An egress port whose successor is free too.
    let ports = loop {
        let ports = Ports::free();
        if ports.egress < u16::MAX
            && std::net::TcpListener::bind(("127.0.0.1", ports.egress + 1)).is_ok()
        {
            break ports;
        }
    };
    let host_port = |url: String| url.trim_start_matches("http://").to_owned();
    let mut allowlist = tempfile::NamedTempFile::new().unwrap();
    write!(
        allowlist,
        "[[route]]\nlisten = \"tcp://127.0.0.1:{}\"\nupstream = \"{}\"\n\n\
         [[route]]\nlisten = \"tcp://127.0.0.1:{}\"\nupstream = \"{}\"\n",
        ports.egress,
        host_port(first.url()),
        ports.egress + 1,
        host_port(second.url())
    )
    .unwrap();
    let allowlist = allowlist.into_temp_path();
    let mut command = testkit::process::workspace_command("host-proxy", &[]);
    command
        .args(["--mode", "sim", "--egress-allowlist"])
        .arg(&allowlist)
        .arg(format!("--control=tcp://127.0.0.1:{}", ports.control))
        .arg(format!("--listen=127.0.0.1:{}", ports.web))
        .args(["--log-filter", "info"]);
    let _host = Service::spawn("host-proxy", &mut command, vec![allowlist]);
    let _enclave = stack::enclave_app(
        &chain,
        ports,
        "http://rpc1.invalid:8545",
        contract,
        Some(1),
        &["--rpc-url", "http://rpc2.invalid:8545"],
    );
    host_until(ports.web, 30, "round 1 committed", |s| {
        s.round
            .as_ref()
            .is_some_and(|r| r.seed_commitment.is_some())
    })
    .await;
    tests::play_first_round(&chain, &lottery, 40).await;
    // The second provider was asked (the quorum reads) and got every transaction.
    assert!(second.counts().methods.contains_key("eth_call"));
    let draw = abi::contract::Lottery::drawWinnerCall::SELECTOR;
    assert!(
        second
            .transactions()
            .iter()
            .any(|t| t.input.starts_with(&draw))
    );
    assert!(first.counts().calls > second.counts().calls);
    let sent = tests::sent_by(&chain, chain.operator()).await;
    assert!(sent.iter().all(|(_, ok)| *ok), "{sent:?}");
}
