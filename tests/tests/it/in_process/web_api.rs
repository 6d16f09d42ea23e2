//! host-proxy's web API and WebSocket feed against the in-process enclave store (fast,
//! events on demand); the same against the full process topology with anvil is in
//! `processes::web_api`, which shares these helpers. Every REST response is validated
//! against the server's own `/api/openapi.json`.

use std::{sync::Arc, time::Duration};

use abi::{
    api::{FeedMessage, FeedNotice},
    state::{ChainHead, OperatorStatus, StateChange},
};
use alloy::primitives::B256;
use enclave_app::control::NoAttestation;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tests::stack::{self, InProcess};
use tokio_tungstenite::tungstenite::Message;

/// The server's OpenAPI document, and a validator for its responses.
pub(crate) struct OpenApi(Value);

impl OpenApi {
    pub(crate) async fn fetch(web: u16) -> Self {
        let (status, _, body) = stack::http(web, "GET", "/api/openapi.json", None).await;
        assert_eq!(status, 200);
        Self(serde_json::from_slice(&body).unwrap())
    }

    /// Checks that `body` is what the document promises for `method path` answering
    /// `status` (or its default response).
    pub(crate) fn check(&self, template: &str, method: &str, status: u16, body: &Value) {
        let responses = &self.0["paths"][template][method]["responses"];
        assert!(
            responses.is_object(),
            "{method} {template} is not in the OpenAPI document"
        );
        let code = if responses.get(status.to_string()).is_some() {
            status.to_string()
        } else {
            assert!(
                responses.get("default").is_some(),
                "{method} {template} documents neither {status} nor a default response"
            );
            "default".to_owned()
        };
        let escaped = template
            .replace('~', "~0")
            .replace('/', "~1")
            .replace('{', "%7B")
            .replace('}', "%7D");
        let mut schema = self.0.clone();
        schema["$ref"] = Value::String(format!(
            "#/paths/{escaped}/{method}/responses/{code}/content/application~1json/schema"
        ));
        let validator = jsonschema::options()
            .with_draft(jsonschema::Draft::Draft202012)
            .build(&schema)
            .unwrap();
        let errors: Vec<String> = validator.iter_errors(body).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "{method} {template} {status}: the body does not match the document: {errors:?}\n{body}"
        );
    }

    /// GET `path` (matching `template`), check the status, validate, return the body.
    pub(crate) async fn get(&self, web: u16, template: &str, path: &str, expected: u16) -> Value {
        let (status, headers, body) = stack::http(web, "GET", path, None).await;
        assert_eq!(
            status,
            expected,
            "GET {path}: {}",
            String::from_utf8_lossy(&body)
        );
        assert_eq!(
            headers[hyper::header::CONTENT_TYPE],
            "application/json",
            "GET {path}"
        );
        let body: Value = serde_json::from_slice(&body).unwrap();
        self.check(template, "get", status, &body);
        body
    }
}

pub(crate) type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub(crate) async fn connect(web: u16) -> Ws {
    tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{web}/ws"))
        .await
        .unwrap()
        .0
}

/// The next frame of `who`'s feed, within 10 s.
pub(crate) async fn next_frame(ws: &mut Ws, who: &str) -> Message {
    tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .unwrap_or_else(|_| panic!("{who}: no message within 10 s"))
        .unwrap_or_else(|| panic!("{who}: the feed closed"))
        .unwrap_or_else(|e| panic!("{who}: a malformed frame: {e}"))
}

/// The next feed message that is not a heartbeat.
pub(crate) async fn next(ws: &mut Ws) -> FeedMessage {
    loop {
        let Message::Text(text) = next_frame(ws, "a client").await else {
            continue;
        };
        let parsed: FeedMessage = serde_json::from_str(&text).expect("a feed message");
        if !matches!(parsed, FeedMessage::Notice(FeedNotice::Heartbeat { .. })) {
            return parsed;
        }
    }
}

pub(crate) fn head(number: u64) -> ChainHead {
    ChainHead {
        number,
        hash: B256::with_last_byte(u8::try_from(number % 251).unwrap()),
        timestamp: 1_800_000_000 + number,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_answers_as_documented() {
    let stack = InProcess::start(Arc::new(NoAttestation), 100).await;
    let web = stack.web;
    let api = OpenApi::fetch(web).await;
    stack.store.set_head(head(7));

    // Before the contract's views are read: what exists is served, the rest says so.
    let health = api.get(web, "/api/health", "/api/health", 200).await;
    assert_eq!(health["status"], "ok");
    let status = api.get(web, "/api/status", "/api/status", 200).await;
    assert_eq!(status["chainId"], 31337);
    assert_eq!(status["connected"], true);
    api.get(web, "/api/round", "/api/round", 404).await;
    let error = api
        .get(web, "/api/contract/config", "/api/contract/config", 503)
        .await;
    assert!(error["error"].as_str().unwrap().contains("not been read"));
    let address = api
        .get(web, "/api/contract/address", "/api/contract/address", 200)
        .await;
    assert_eq!(
        address["address"],
        "0x1111111111111111111111111111111111111111"
    );
    api.get(web, "/api/operator", "/api/operator", 200).await;
    let list = api
        .get(
            web,
            "/api/round/participants",
            "/api/round/participants",
            200,
        )
        .await;
    assert_eq!(list, Value::Array(vec![]));
    let player = "/api/round/player/{address}";
    let body = api
        .get(
            web,
            player,
            "/api/round/player/0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
            200,
        )
        .await;
    assert_eq!(body["amount"], "0");
    api.get(web, "/api/history", "/api/history?limit=5", 200)
        .await;
    api.get(web, "/api/activities", "/api/activities", 200)
        .await;
    // No page settings given: every one is null (the page then links nothing and
    // offers wallets no RPC URL).
    let page = api
        .get(web, "/api/page-config", "/api/page-config", 200)
        .await;
    assert_eq!(
        page,
        serde_json::json!({"explorerUrl": null, "publicRpcUrl": null, "chainName": null})
    );

    // Bad input: each a clear 4xx with an error body, as documented.
    for (path, why) in [
        ("/api/round/player/0x1234", "40 hex digits"),
        (
            "/api/round/player/70997970C51812dc3A010C7d01b50e0d17dc79C8",
            "start with 0x",
        ),
        (
            "/api/round/player/0x70997970c51812dc3A010C7d01b50e0d17dc79C8",
            "checksum",
        ),
        (
            "/api/round/player/0xZZ997970C51812dc3A010C7d01b50e0d17dc79C8",
            "40 hex digits",
        ),
    ] {
        let body = api.get(web, player, path, 400).await;
        assert!(
            body["error"].as_str().unwrap().contains(why),
            "{path}: {body}"
        );
    }
    for (query, why) in [
        ("?limit=0", "1 to 1000"),
        ("?limit=1001", "1 to 1000"),
        ("?limit=abc", "invalid query"),
        ("?limit=-1", "invalid query"),
    ] {
        let body = api
            .get(web, "/api/history", &format!("/api/history{query}"), 400)
            .await;
        assert!(
            body["error"].as_str().unwrap().contains(why),
            "{query}: {body}"
        );
    }
    let attestation = "/api/attestation";
    for (query, why) in [
        ("", "invalid query"),
        ("?nonce=xyz", "hex"),
        ("?nonce=abc", "hex"),
        ("?nonce=", "1 to 64 bytes"),
        (&format!("?nonce={}", "ab".repeat(65)), "1 to 64 bytes"),
    ] {
        let body = api
            .get(web, attestation, &format!("/api/attestation{query}"), 400)
            .await;
        assert!(
            body["error"].as_str().unwrap().contains(why),
            "{query}: {body}"
        );
    }
    // A well-formed request is relayed; this enclave build cannot attest: 501.
    let body = api
        .get(
            web,
            attestation,
            &format!("/api/attestation?nonce=0x{}", "ab".repeat(32)),
            501,
        )
        .await;
    assert!(
        body["error"].as_str().unwrap().contains("not served"),
        "{body}"
    );

    // The key relay: validated before relaying, then the enclave's answer.
    let post = |body: Vec<u8>, content_type: &'static str| async move {
        let (status, _, bytes) =
            stack::http(web, "POST", "/api/operator-key", Some((content_type, body))).await;
        let body: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, body)
    };
    for (payload, expected, why) in [
        (br#"{"sealedKey": "!!!"}"#.to_vec(), 400, "base64"),
        (br#"{"sealedKey": ""}"#.to_vec(), 400, "1 to 4096 bytes"),
        (br#"{"sealed": "AAAA"}"#.to_vec(), 422, "sealedKey"),
        (b"{not json".to_vec(), 400, "JSON"),
        (br#"{"sealedKey": "AAAAAAAA"}"#.to_vec(), 501, "not served"),
    ] {
        let (status, body) = post(payload, "application/json").await;
        assert_eq!(status, expected, "{body}");
        assert!(body["error"].as_str().unwrap().contains(why), "{body}");
        api.check("/api/operator-key", "post", status, &body);
    }
    let (status, body) = post(br#"{"sealedKey": "AAAA"}"#.to_vec(), "text/plain").await;
    assert_eq!(status, 415, "{body}");
    let huge = format!(r#"{{"sealedKey": "{}"}}"#, "A".repeat(1 << 20)).into_bytes();
    let (status, body) = post(huge, "application/json").await;
    assert_eq!(status, 413, "{body}");

    // Unknown paths and wrong methods.
    let (status, _, body) = stack::http(web, "GET", "/api/nope", None).await;
    assert_eq!(status, 404);
    assert!(String::from_utf8_lossy(&body).contains("no such API path"));
    let (status, _, _) = stack::http(web, "POST", "/api/status", None).await;
    assert_eq!(status, 405);
    let (status, _, _) = stack::http(web, "DELETE", "/api/history", None).await;
    assert_eq!(status, 405);

    // /metrics speaks Prometheus, with the state's gauges.
    let (status, _, body) = stack::http(web, "GET", "/metrics", None).await;
    assert_eq!(status, 200);
    let text = String::from_utf8(body.to_vec()).unwrap();
    for metric in [
        "chain_head_number 7",
        "chain_head_age_seconds",
        "control_channel_connected 1",
        "control_channel_connections_total",
        "operator_status{status=\"starting\"} 1",
    ] {
        assert!(text.contains(metric), "{metric} missing from:\n{text}");
    }

    // The server is still healthy after all that.
    api.get(web, "/api/health", "/api/health", 200).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_document_lists_every_status_and_limit_and_every_answer_has_security_headers() {
    let stack = InProcess::start(Arc::new(NoAttestation), 100).await;
    let web = stack.web;
    let api = OpenApi::fetch(web).await;
    // No catch-all: every status a route answers with is listed.
    for (path, item) in api.0["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            assert!(
                operation["responses"].get("default").is_none(),
                "{method} {path} has a default response"
            );
        }
    }
    let ws = &api.0["paths"]["/ws"]["get"]["responses"];
    for code in ["101", "400", "429", "503"] {
        assert!(ws.get(code).is_some(), "/ws does not document {code}");
    }
    assert!(
        api.0["paths"]["/api/attestation"]["get"]["responses"]["429"]["headers"]
            .get("Retry-After")
            .is_some()
    );
    // The limits the handlers enforce, in the parameters' schemas.
    let parameter = |path: &str, name: &str| {
        api.0["paths"][path]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["schema"]
            .clone()
    };
    let limit = parameter("/api/history", "limit");
    assert_eq!(
        (&limit["minimum"], &limit["maximum"]),
        (&1.into(), &1000.into())
    );
    let nonce = parameter("/api/attestation", "nonce");
    assert_eq!(nonce["pattern"], "^(0x)?([0-9a-fA-F]{2}){1,64}$");
    let address = parameter("/api/round/player/{address}", "address");
    assert_eq!(address["pattern"], "^0x([0-9a-f]{40}|[0-9A-F]{40})$");
    let sealed = &api.0["components"]["schemas"]["OperatorKeyRequest"]["properties"]["sealedKey"];
    assert_eq!(
        (&sealed["minLength"], &sealed["maxLength"]),
        (&4.into(), &5464.into())
    );

    // A plain GET of the feed: a documented 400 with the error body.
    let body = api.get(web, "/ws", "/ws", 400).await;
    assert!(
        body["error"]
            .as_str()
            .unwrap()
            .contains("not a WebSocket upgrade"),
        "{body}"
    );

    // The security headers: the page's policy on HTML (the no-frontend page here; the
    // built page in the_page_is_served_with_cache_headers_and_an_spa_fallback and the
    // browser test), the short one on everything else; nosniff and no referrer on all.
    for (path, html) in [
        ("/", true),
        ("/round/7", true),
        ("/api/status", false),
        ("/api/nope", false),
        ("/ws", false),
        ("/metrics", false),
    ] {
        let (_, headers, _) = stack::http(web, "GET", path, None).await;
        let csp = headers["content-security-policy"].to_str().unwrap();
        if html {
            for directive in [
                "default-src 'self'",
                "script-src 'self' 'wasm-unsafe-eval'",
                "connect-src 'self'",
                "frame-ancestors 'none'",
                "object-src 'none'",
            ] {
                assert!(csp.contains(directive), "{path}: {csp}");
            }
            assert!(!csp.contains("unsafe-inline"), "{path}: {csp}");
            assert_eq!(headers["x-frame-options"], "DENY", "{path}");
        } else {
            assert_eq!(csp, "default-src 'none'; frame-ancestors 'none'", "{path}");
        }
        assert_eq!(headers["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(headers["referrer-policy"], "no-referrer", "{path}");
    }
}

/// The page's API types are generated from `frontend/openapi.json`
/// (openapi-typescript, `npm run api:types`; `scripts/build-frontend` checks they are
/// fresh): that file must be the document the server serves. `UPDATE_OPENAPI=1`
/// rewrites it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
pub(crate) async fn the_committed_openapi_document_is_the_servers() {
    let stack = InProcess::start(Arc::new(NoAttestation), 1).await;
    let served = OpenApi::fetch(stack.web).await.0;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../frontend/openapi.json");
    let text = format!("{}\n", serde_json::to_string_pretty(&served).unwrap());
    if std::env::var_os("UPDATE_OPENAPI").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == text,
        "{} is not the document host-proxy serves: run `UPDATE_OPENAPI=1 cargo nextest run -p tests --test it the_committed_openapi_document`, then `cd frontend && npm run api:types`",
        path.display()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_feed_sends_a_snapshot_then_every_change() {
    let stack = InProcess::start(Arc::new(NoAttestation), 100).await;
    let mut ws = connect(stack.web).await;
    let FeedMessage::Notice(FeedNotice::Snapshot {
        seq,
        connected,
        data,
    }) = next(&mut ws).await
    else {
        panic!("the first message is not a snapshot")
    };
    assert!(connected);
    let state = stack.store.snapshot();
    assert_eq!(state.seq, seq);
    assert_eq!(*data, abi::api::FeedSnapshot::of(&state));

    stack.store.set_head(head(1));
    stack.store.set_operator(OperatorStatus::Idle);
    let FeedMessage::Event(first) = next(&mut ws).await else {
        panic!("not an event")
    };
    assert_eq!(first.seq, seq + 1);
    assert_eq!(first.change, StateChange::HeadUpdate(head(1)));
    let FeedMessage::Event(second) = next(&mut ws).await else {
        panic!("not an event")
    };
    assert_eq!(second.seq, seq + 2);
    assert_eq!(
        second.change,
        StateChange::OperatorUpdate(OperatorStatus::Idle)
    );
    // The wire format names the type the way the page expects.
    let json = serde_json::to_value(&second).unwrap();
    assert_eq!(json["type"], "operator_update");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_clients_all_receive_a_broadcast() {
    const CLIENTS: usize = 1000;
    let stack = InProcess::start(Arc::new(NoAttestation), CLIENTS + 10).await;
    let web = stack.web;
    // Connect in batches (bounded concurrency), each reading its snapshot.
    let mut clients = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS / 100 {
        let batch = futures_util::future::join_all((0..100).map(|_| async move {
            let mut ws = connect(web).await;
            let FeedMessage::Notice(FeedNotice::Snapshot { seq, .. }) = next(&mut ws).await else {
                panic!("no snapshot first")
            };
            (ws, seq)
        }))
        .await;
        clients.extend(batch);
    }
    stack.store.set_head(head(42));
    let received =
        futures_util::future::join_all(clients.into_iter().map(|(mut ws, seq)| async move {
            match next(&mut ws).await {
                FeedMessage::Event(event) => {
                    event.seq == seq + 1 && event.change == StateChange::HeadUpdate(head(42))
                }
                FeedMessage::Notice(_) => false,
            }
        }))
        .await;
    assert_eq!(received.iter().filter(|ok| **ok).count(), CLIENTS);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_come_and_go_during_a_stream_of_events_each_see_it_whole() {
    /// Clients that join, follow a few events and leave, while events keep coming.
    const CHURNERS: usize = 300;
    /// Events each of them follows.
    const FOLLOW: u64 = 5;
    let stack = InProcess::start(Arc::new(NoAttestation), CHURNERS + 10).await;
    let web = stack.web;
    let mut steady = connect(web).await;
    let FeedMessage::Notice(FeedNotice::Snapshot { seq: first, .. }) = next(&mut steady).await
    else {
        panic!("no snapshot first")
    };
    let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    // The events: small and quick, until every churner has left (bounded).
    let pump = {
        let (store, done) = (stack.store.clone(), Arc::clone(&done));
        tokio::spawn(async move {
            let mut number = 1;
            while done.load(std::sync::atomic::Ordering::Relaxed) < CHURNERS && number < 100_000 {
                store.set_head(head(number));
                number += 1;
                tokio::time::sleep(Duration::from_micros(200)).await;
            }
        })
    };
    // Each joins at a different point of the stream: after its snapshot it must see
    // the events that follow it, each once, in order; then it leaves one of three ways.
    let churners = (0..CHURNERS).map(|i| {
        let done = Arc::clone(&done);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(u64::try_from(i).unwrap() % 100)).await;
            let mut ws = connect(web).await;
            let FeedMessage::Notice(FeedNotice::Snapshot { seq: joined, .. }) = next(&mut ws).await
            else {
                panic!("client {i}: no snapshot first")
            };
            let mut seq = joined;
            while seq < joined + FOLLOW {
                match next(&mut ws).await {
                    FeedMessage::Event(event) => {
                        assert_eq!(event.seq, seq + 1, "client {i} joined at {joined}");
                        seq = event.seq;
                    }
                    FeedMessage::Notice(notice) => panic!("client {i}: a resync: {notice:?}"),
                }
            }
            match i % 3 {
                0 => ws.close(None).await.unwrap(),
                1 => drop(ws),
                _ => {
                    ws.send(Message::Ping(vec![1, 2, 3].into())).await.unwrap();
                    drop(ws);
                }
            }
            done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        })
    });
    futures_util::future::try_join_all(churners).await.unwrap();
    pump.await.unwrap();
    // The steady client saw every event, each once, in order.
    let last = stack.store.seq();
    let mut seq = first;
    while seq < last {
        match next(&mut steady).await {
            FeedMessage::Event(event) => {
                assert_eq!(event.seq, seq + 1, "the steady client saw a gap");
                seq = event.seq;
            }
            FeedMessage::Notice(notice) => panic!("the steady client resynced: {notice:?}"),
        }
    }
    // Every churner's slot is free again: a full house can connect.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut again = Vec::new();
    for _ in 0..CHURNERS {
        let mut ws = connect(web).await;
        assert!(matches!(
            next(&mut ws).await,
            FeedMessage::Notice(FeedNotice::Snapshot { .. })
        ));
        again.push(ws);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_and_abusive_clients_are_dropped_without_hurting_the_others() {
    let stack = InProcess::start(Arc::new(NoAttestation), 4).await;
    let web = stack.web;
    let mut good = connect(web).await;
    let FeedMessage::Notice(FeedNotice::Snapshot { mut seq, .. }) = next(&mut good).await else {
        panic!("no snapshot first")
    };
    // A client that never reads.
    let mut idle = connect(web).await;
    // A client that sends a message far over the limit.
    let mut abusive = connect(web).await;
    abusive
        .send(Message::text("x".repeat(64 * 1024)))
        .await
        .unwrap();
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match abusive.next().await {
                None | Some(Err(_)) | Some(Ok(Message::Close(_))) => return,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the oversized message did not close the socket"
    );

    // A flood of events, far beyond one client's backlog and the socket buffers
    // (each ~6 KB): the good client reads them all, in order; the idle one falls
    // behind.
    let flood = 3 * host_proxy::web::feed::CLIENT_BACKLOG as u64;
    let pump = {
        let store = stack.store.clone();
        tokio::spawn(async move { pump_large_events(&store, flood, 6_000).await })
    };
    loop {
        match next(&mut good).await {
            FeedMessage::Event(event) => {
                assert_eq!(event.seq, seq + 1, "the good client saw a gap");
                seq = event.seq;
            }
            FeedMessage::Notice(FeedNotice::Snapshot { seq: s, .. }) => seq = s,
            FeedMessage::Notice(FeedNotice::Heartbeat { .. }) => {}
            FeedMessage::Notice(notice) => panic!("unexpected {notice:?}"),
        }
        if pump.is_finished() && seq == stack.store.seq() {
            break;
        }
    }
    // The idle client now reads: its backlog overflowed, so after what fit it gets a
    // close frame saying why, never a gap.
    let mut last = None;
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(message) = idle.next().await {
            match message {
                Ok(Message::Close(frame)) => return frame,
                Ok(Message::Text(text)) => last = Some(text),
                Ok(_) => {}
                Err(_) => return None,
            }
        }
        None
    })
    .await
    .expect("the idle client was dropped");
    if let Some(frame) = ended {
        assert!(frame.reason.contains("too slow"), "{frame:?}");
    }
    assert!(last.is_some());

    // The cap (4): with the good and idle clients gone or going, new clients get in;
    // beyond the cap the upgrade is refused with 503.
    drop(idle);
    drop(abusive);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(connect(web).await);
    }
    let refused = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{web}/ws")).await;
    match refused {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 503);
        }
        other => panic!("a fifth client was not refused: {other:?}"),
    }
    // The good client still follows.
    stack.store.set_operator(OperatorStatus::Idle);
    loop {
        if let FeedMessage::Event(event) = next(&mut good).await
            && event.change == StateChange::OperatorUpdate(OperatorStatus::Idle)
        {
            break;
        }
    }
}

/// `events` feed events of about `bytes` each: operator errors with long reasons (no
/// feed message about the participants grows with their number any more, so the
/// bulk has to come from somewhere else), each different from the last.
pub(crate) async fn pump_large_events(
    store: &enclave_app::store::Store,
    events: u64,
    bytes: usize,
) {
    for n in 1..=events {
        let mut reason = format!("error {n}: ");
        reason.extend(std::iter::repeat_n('x', bytes.saturating_sub(reason.len())));
        store.set_operator(OperatorStatus::Error { reason });
        if n % 16 == 0 {
            tokio::task::yield_now().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_pauses_gets_every_event_in_order_when_it_reads_again() {
    /// Clients that read along: more than host-proxy has shards here (one per worker).
    const WITNESSES: usize = 4;
    let stack = InProcess::start(Arc::new(NoAttestation), 1 + WITNESSES).await;
    // A receive buffer of a few KB: the events below (~6.5 MB) cannot all sit in the
    // socket buffers (about 3 MB here), so host-proxy's writes are refused and the rest
    // waits in the client's queue until the client reads again.
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket
        .connect(([127, 0, 0, 1], stack.web).into())
        .await
        .unwrap();
    let (mut paused, _) = tokio_tungstenite::client_async(
        format!("ws://127.0.0.1:{}/ws", stack.web),
        tokio_tungstenite::MaybeTlsStream::Plain(stream),
    )
    .await
    .unwrap();
    let FeedMessage::Notice(FeedNotice::Snapshot { mut seq, .. }) = next(&mut paused).await else {
        panic!("no snapshot first")
    };
    // Under one client's backlog.
    let events = host_proxy::web::feed::CLIENT_BACKLOG as u64 / 2;
    let last = seq + events;
    // Clients that joined after the paused one and read everything: once each has the
    // last event, so has every shard's loop, the paused client's included, and what
    // the paused client has not got is waiting in its queue.
    let mut witnesses = Vec::new();
    for _ in 0..WITNESSES {
        let mut ws = connect(stack.web).await;
        witnesses.push(tokio::spawn(async move {
            /// Only the sequence number: parsing every list would slow the test.
            #[derive(serde::Deserialize)]
            struct Seq {
                seq: u64,
            }
            loop {
                if let Message::Text(text) = next_frame(&mut ws, "a witness").await
                    && serde_json::from_str::<Seq>(&text).is_ok_and(|m| m.seq >= last)
                {
                    return ws;
                }
            }
        }));
    }
    pump_large_events(&stack.store, events, 16_500).await;
    assert_eq!(stack.store.seq(), last);
    let mut witnesses = futures_util::future::try_join_all(witnesses).await.unwrap();
    while seq < last {
        let message = next_frame(&mut paused, "the paused client").await;
        match message {
            Message::Text(text) => match serde_json::from_str(&text).unwrap() {
                FeedMessage::Event(event) => {
                    assert_eq!(event.seq, seq + 1, "a gap after the pause");
                    seq = event.seq;
                }
                FeedMessage::Notice(FeedNotice::Heartbeat { .. }) => {}
                FeedMessage::Notice(notice) => panic!("the pause cost a resync: {notice:?}"),
            },
            Message::Close(frame) => panic!("the paused client was dropped: {frame:?}"),
            _ => {}
        }
    }
    // And it stays live, as do the others.
    stack.store.set_operator(OperatorStatus::Idle);
    for ws in std::iter::once(&mut paused).chain(&mut witnesses) {
        assert!(matches!(
            next(ws).await,
            FeedMessage::Event(event) if event.seq == last + 1
        ));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_websocket_frames_close_only_that_socket() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let stack = InProcess::start(Arc::new(NoAttestation), 10).await;
    let web = stack.web;
    let mut good = connect(web).await;
    let FeedMessage::Notice(FeedNotice::Snapshot { .. }) = next(&mut good).await else {
        panic!("no snapshot first")
    };
    // Each bad frame goes after a real upgrade: unmasked (clients must mask), a
    // reserved opcode, a length prefix claiming 2^63 bytes, and plain garbage.
    let bad_frames: [&[u8]; 4] = [
        &[0x81, 0x05, b'h', b'e', b'l', b'l', b'o'],
        &[0x83, 0x80, 1, 2, 3, 4],
        &[
            0x81, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4,
        ],
        b"\xde\xad\xbe\xef not a frame at all",
    ];
    for frame in bad_frames {
        let mut tcp = tokio::net::TcpStream::connect(("127.0.0.1", web))
            .await
            .unwrap();
        tcp.write_all(
            b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
              Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
        )
        .await
        .unwrap();
        let mut response = vec![0u8; 512];
        let n = tcp.read(&mut response).await.unwrap();
        assert!(
            String::from_utf8_lossy(&response[..n]).starts_with("HTTP/1.1 101"),
            "no upgrade"
        );
        tcp.write_all(frame).await.unwrap();
        let closed = tokio::time::timeout(Duration::from_secs(5), async {
            let mut buffer = vec![0u8; 64 * 1024];
            loop {
                match tcp.read(&mut buffer).await {
                    Ok(0) | Err(_) => return,
                    Ok(_) => {}
                }
            }
        })
        .await;
        assert!(closed.is_ok(), "frame {frame:?} did not close the socket");
    }
    // The well-behaved client never noticed.
    stack.store.set_head(head(9));
    loop {
        if let FeedMessage::Event(event) = next(&mut good).await
            && event.change == StateChange::HeadUpdate(head(9))
        {
            break;
        }
    }
}
