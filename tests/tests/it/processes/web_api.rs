//! host-proxy's web API and WebSocket feed against the full process topology with
//! anvil (a real round, the page's static files, relays without an enclave); the
//! in-process half, and the helpers both use, are `in_process::web_api`.

use std::time::Duration;

use abi::{
    api::{FeedMessage, FeedNotice},
    state::StateChange,
};
use futures_util::StreamExt;
use serde_json::Value;
use tests::stack::{self};
use tokio_tungstenite::tungstenite::Message;

use crate::in_process::web_api::{OpenApi, connect, next};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_real_round_reaches_the_feed_and_the_rest_api() {
    use alloy::providers::ext::AnvilApi;
    let chain = tests::Chain::start_with(&["--block-time", "1"]).await;
    let lottery = chain.deploy_with_operator(500).await;
    let ports = stack::Ports::free();
    let mut host = stack::host_proxy(ports, &chain.endpoint(), &[]);
    let _enclave = stack::enclave_app(
        &chain,
        ports,
        "http://chain.invalid:8545",
        *lottery.address(),
        Some(1),
        &[],
    );
    let web = ports.web;
    // Wait for the enclave's state to reach host-proxy; then the feed opens with it.
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while stack::host_snapshot(web)
        .await
        .is_none_or(|s| s.config.is_none())
    {
        assert!(std::time::Instant::now() < deadline, "no state within 60 s");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut ws = connect(web).await;
    let FeedMessage::Notice(FeedNotice::Snapshot { data, .. }) = next(&mut ws).await else {
        panic!("the feed did not open with a snapshot")
    };
    assert!(data.config.is_some());
    let api = OpenApi::fetch(web).await;

    tests::ok(
        lottery
            .placeBet()
            .from(chain.player(0))
            .value(tests::milli(10)),
    )
    .await;
    tests::ok(
        lottery
            .placeBet()
            .from(chain.player(1))
            .value(tests::milli(30)),
    )
    .await;
    // Both bets arrive on the feed as stake updates: one player, the pot and the
    // count, a few hundred bytes (not the list) ...
    loop {
        if let FeedMessage::Event(event) = next(&mut ws).await
            && let StateChange::StakeUpdate(delta) = &event.change
            && delta.participant_count == 2
        {
            assert_eq!(delta.player, chain.player(1));
            assert_eq!(delta.stake, tests::milli(30));
            assert_eq!(delta.total_pot, tests::milli(40));
            let bytes = serde_json::to_string(&event).unwrap().len();
            assert!(bytes < 512, "a stake update of {bytes} bytes");
            break;
        }
    }
    // ... and on REST, as documented.
    let list = api
        .get(
            web,
            "/api/round/participants",
            "/api/round/participants",
            200,
        )
        .await;
    assert_eq!(list.as_array().unwrap().len(), 2);
    // Paged: the second player alone, an empty page past the end, bad bounds refused.
    let page = api
        .get(
            web,
            "/api/round/participants",
            "/api/round/participants?offset=1&limit=1",
            200,
        )
        .await;
    assert_eq!(page.as_array().unwrap().len(), 1);
    assert_eq!(page[0], list[1]);
    let past = api
        .get(
            web,
            "/api/round/participants",
            "/api/round/participants?offset=2",
            200,
        )
        .await;
    assert_eq!(past, Value::Array(vec![]));
    for bad in ["limit=0", "limit=1001", "offset=-1", "offset=many"] {
        api.get(
            web,
            "/api/round/participants",
            &format!("/api/round/participants?{bad}"),
            400,
        )
        .await;
    }
    let me = api
        .get(
            web,
            "/api/round/player/{address}",
            &format!("/api/round/player/{}", chain.player(1)),
            200,
        )
        .await;
    assert_eq!(me["amount"], tests::milli(30).to_string());
    assert!((me["winChance"].as_f64().unwrap() - 0.75).abs() < 1e-9);
    let round = api.get(web, "/api/round", "/api/round", 200).await;
    assert_eq!(round["state"], "BETTING");
    api.get(web, "/api/contract/config", "/api/contract/config", 200)
        .await;
    let operator = api.get(web, "/api/operator", "/api/operator", 200).await;
    assert_eq!(operator["address"], chain.operator().to_checksum(None));
    api.get(web, "/api/activities", "/api/activities?limit=3", 200)
        .await;

    // The draw: a history update on the feed, and the round in /api/history.
    let min_draw_time = round["minDrawTime"].as_u64().unwrap();
    let now = chain.now().await;
    chain
        .provider
        .anvil_increase_time(min_draw_time - now)
        .await
        .unwrap();
    loop {
        if let FeedMessage::Event(event) = next(&mut ws).await
            && let StateChange::HistoryUpdate(entry) = event.change
        {
            assert_eq!(entry.round_id, 1);
            break;
        }
    }
    let history = api.get(web, "/api/history", "/api/history", 200).await;
    assert_eq!(history[0]["roundId"], 1);
    assert_eq!(history[0]["outcome"], "completed");
    api.get(web, "/api/status", "/api/status", 200).await;
    api.get(web, "/api/health", "/api/health", 200).await;
    let (_, _, metrics) = stack::http(web, "GET", "/metrics", None).await;
    let metrics = String::from_utf8(metrics.to_vec()).unwrap();
    for metric in [
        "egress_bytes_total",
        "operator_actions_total{action=\"draw\"}",
        "ws_clients 1",
    ] {
        assert!(
            metrics.contains(metric),
            "{metric} missing from:\n{metrics}"
        );
    }

    // Shutdown closes the feed with "going away", not a reset.
    let exit = host.terminate();
    assert!(exit.success(), "{exit}");
    let frame = loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => break frame,
            Ok(Some(Ok(_))) => {}
            other => panic!("no close frame: {other:?}"),
        }
    };
    assert_eq!(
        frame.map(|f| u16::from(f.code)),
        Some(1001),
        "not a going-away close"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_is_served_with_cache_headers_and_an_spa_fallback() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("assets")).unwrap();
    std::fs::write(
        dir.path().join("index.html"),
        "<!doctype html><p>lottery</p>",
    )
    .unwrap();
    std::fs::write(dir.path().join("assets/app-1234.js"), "console.log(1)").unwrap();
    let ports = stack::Ports::free();
    let _host = stack::host_proxy(
        ports,
        "http://127.0.0.1:1",
        &[
            "--frontend-dir",
            dir.path().to_str().unwrap(),
            "--explorer-url",
            "https://explorer.example/",
            "--public-rpc-url",
            "http://127.0.0.1:8545",
            "--chain-name",
            "Anvil (local)",
        ],
    );
    let web = ports.web;
    let mut tries = 0;
    let (status, headers, body) = loop {
        if let Ok(answer) = stack::try_get_json_raw(web, "/").await {
            break answer;
        }
        tries += 1;
        assert!(tries < 100, "host-proxy never listened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("lottery"));
    assert_eq!(headers[hyper::header::CACHE_CONTROL], "no-cache");
    // The page's policy: its connections may go to the public RPC's origin.
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("connect-src 'self' http://127.0.0.1:8545;")
            && csp.contains("'wasm-unsafe-eval'"),
        "{csp}"
    );
    assert_eq!(headers["x-frame-options"], "DENY");
    let (status, headers, _) = stack::http(web, "GET", "/assets/app-1234.js", None).await;
    assert_eq!(status, 200);
    assert!(
        headers[hyper::header::CACHE_CONTROL]
            .to_str()
            .unwrap()
            .contains("immutable")
    );
    // A page route the browser asks for directly: the page, which routes it.
    let (status, _, body) = stack::http(web, "GET", "/round/7", None).await;
    assert_eq!(status, 200);
    assert!(String::from_utf8_lossy(&body).contains("lottery"));
    // API paths never fall back to the page.
    let (status, _, body) = stack::http(web, "GET", "/api/unknown/thing", None).await;
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("\"error\""));
    let (status, _, _) = stack::http(web, "GET", "/assets/missing.js", None).await;
    assert_eq!(status, 404);

    // The page's settings, from the flags (trailing slash trimmed), without an
    // enclave, as documented.
    let api = OpenApi::fetch(web).await;
    let page = api
        .get(web, "/api/page-config", "/api/page-config", 200)
        .await;
    assert_eq!(
        page,
        serde_json::json!({
            "explorerUrl": "https://explorer.example",
            "publicRpcUrl": "http://127.0.0.1:8545",
            "chainName": "Anvil (local)",
        })
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_enclave_relays_say_so_and_cors_is_opt_in() {
    let ports = stack::Ports::free();
    let _host = stack::host_proxy(
        ports,
        "http://127.0.0.1:1",
        &["--cors-origin", "https://lottery.example"],
    );
    let web = ports.web;
    let mut tries = 0;
    while stack::try_get_json_raw(web, "/api/health").await.is_err() {
        tries += 1;
        assert!(tries < 100, "host-proxy never listened");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let api = OpenApi::fetch(web).await;
    let health = api.get(web, "/api/health", "/api/health", 503).await;
    assert_eq!(health["status"], "unavailable");
    assert!(!health["reasons"].as_array().unwrap().is_empty());
    let body = api
        .get(web, "/api/attestation", "/api/attestation?nonce=00ff", 503)
        .await;
    assert!(
        body["error"].as_str().unwrap().contains("not connected"),
        "{body}"
    );
    api.get(web, "/api/status", "/api/status", 503).await;
    let (status, _, body) = stack::http(
        web,
        "POST",
        "/api/operator-key",
        Some(("application/json", br#"{"sealedKey": "AAAA"}"#.to_vec())),
    )
    .await;
    assert_eq!(status, 503, "{}", String::from_utf8_lossy(&body));

    // CORS: the configured origin may call the API; another gets no grant.
    let preflight = |origin: &'static str| async move {
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build_http::<http_body_util::Empty<bytes::Bytes>>();
        let request = hyper::Request::builder()
            .method("OPTIONS")
            .uri(format!("http://127.0.0.1:{web}/api/status"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .body(http_body_util::Empty::new())
            .unwrap();
        client.request(request).await.unwrap()
    };
    let granted = preflight("https://lottery.example").await;
    assert_eq!(
        granted.headers()["access-control-allow-origin"],
        "https://lottery.example"
    );
    let other = preflight("https://evil.example").await;
    assert!(other.headers().get("access-control-allow-origin").is_none());
}
