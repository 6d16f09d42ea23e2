//! host-proxy's per-client limits against a client that floods, with a bystander on
//! another loopback address (127.0.0.1 and 127.0.0.2 are both this machine): the
//! flooder gets 429s and at most its WebSocket cap, whatever `X-Forwarded-For` it
//! claims; the bystander is served throughout, and its sealed key, bound to a
//! document it fetched before the flood, is accepted during the flood. Behind the
//! limits, the enclave's nonce memory keeps the bystander's nonce even when a flood
//! does reach it; and requests past the in-flight cap are refused at once, not
//! queued.

use std::{
    net::Ipv4Addr,
    time::{Duration, Instant},
};

use attestation::{Freshness, Policy, TrustAnchor, UnixTime, VerifiedDocument};
use base64::Engine;
use futures_util::StreamExt;
use host_proxy::web::limits::{DEFAULT_ENCLAVE_BURST, DEFAULT_MAX_WS_PER_CLIENT};
use serde_json::Value;
use tests::{
    Chain,
    stack::{AttestingStack, LoopbackClient},
};
use tokio_tungstenite::tungstenite;
use tokio_util::sync::CancellationToken;

const FLOODER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 1);
const BYSTANDER: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 2);

/// Longest the flood may last: it stops when the bystander is done, well before.
const MAX_FLOOD: Duration = Duration::from_secs(60);

/// Requests the flooder keeps in flight.
const FLOOD_CONCURRENCY: usize = 16;

fn now() -> UnixTime {
    UnixTime::from_system_time(std::time::SystemTime::now()).unwrap()
}

fn body_json(bytes: &[u8]) -> Value {
    serde_json::from_slice(bytes).unwrap_or(Value::Null)
}

/// A fresh document fetched by `client`, verified against `root`.
async fn fresh_document(client: &LoopbackClient, root: &TrustAnchor) -> VerifiedDocument {
    let nonce: [u8; 32] = rand::random();
    let (status, _, body) = client
        .get(&format!(
            "/api/attestation?nonce={}",
            alloy::hex::encode(nonce)
        ))
        .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let document = base64::engine::general_purpose::STANDARD
        .decode(body_json(&body)["document"].as_str().unwrap())
        .unwrap();
    let policy = Policy::new(
        root.clone(),
        Freshness::live(now(), nonce, Duration::from_secs(600)),
    );
    attestation::verify(&document, &policy).unwrap()
}

/// Seals `secret` to `document` and posts it from `client`: status and body.
async fn inject(
    client: &LoopbackClient,
    document: &VerifiedDocument,
    secret: &[u8],
) -> (u16, Value) {
    let sealed = attestation::sealed::seal(
        document.document.public_key.as_deref().unwrap(),
        document.document.nonce.as_deref().unwrap(),
        secret,
    )
    .unwrap();
    let body = serde_json::json!({
        "sealedKey": base64::engine::general_purpose::STANDARD.encode(sealed.to_cbor().unwrap()),
    });
    let (status, _, bytes) = client
        .request(
            "POST",
            "/api/operator-key",
            &[],
            Some(("application/json", serde_json::to_vec(&body).unwrap())),
        )
        .await;
    (status, body_json(&bytes))
}

/// What the flooder got.
#[derive(Debug, Default)]
struct FloodOutcome {
    documents: usize,
    limited: usize,
    keys_relayed: usize,
    keys_limited: usize,
}

/// `client` asks for documents and posts junk keys, [`FLOOD_CONCURRENCY`] at a time,
/// each request claiming another `X-Forwarded-For`, until `stop` (at most
/// [`MAX_FLOOD`]). Every refusal is checked to be a 429 with `Retry-After` and
/// without a document.
async fn flood(client: LoopbackClient, stop: CancellationToken) -> FloodOutcome {
    let mut outcome = FloodOutcome::default();
    let started = Instant::now();
    let mut n = 0u32;
    while !stop.is_cancelled() {
        assert!(started.elapsed() < MAX_FLOOD, "the flood was never stopped");
        let batch = (0..FLOOD_CONCURRENCY).map(|i| {
            n += 1;
            let spoofed = format!("198.51.100.{}", n % 250);
            let nonce = alloy::hex::encode(n.to_be_bytes());
            async move {
                let (method, path, body) = if i % 4 == 3 {
                    let junk = br#"{"sealedKey": "AAAA"}"#.to_vec();
                    (
                        "POST",
                        "/api/operator-key".to_owned(),
                        Some(("application/json", junk)),
                    )
                } else {
                    ("GET", format!("/api/attestation?nonce={nonce}"), None)
                };
                let headers = [("x-forwarded-for", spoofed.as_str())];
                (method, client.request(method, &path, &headers, body).await)
            }
        });
        for (method, (status, headers, body)) in futures_util::future::join_all(batch).await {
            let text = String::from_utf8_lossy(&body);
            match (method, status) {
                ("GET", 200) => outcome.documents += 1,
                // A junk key that reached the enclave: "not a sealed key", or, once
                // the bystander's key is in, "already injected".
                ("POST", 400 | 409) => outcome.keys_relayed += 1,
                (_, 429) => {
                    let wait: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
                    assert!((1..=6).contains(&wait), "Retry-After {wait}");
                    assert!(text.contains("too many requests"), "{text}");
                    assert!(!text.contains("document"), "{text}");
                    if method == "GET" {
                        outcome.limited += 1;
                    } else {
                        outcome.keys_limited += 1;
                    }
                }
                _ => panic!("{method} from the flooder: {status} {text}"),
            }
        }
    }
    outcome
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_address_is_refused_while_another_is_served_and_injects_its_key() {
    let chain = Chain::start_with(&["--block-time", "1"]).await;
    let lottery = chain.deploy_with_operator(500).await;
    let operator = chain.operator();
    // The default limits: the stack's own readiness check is the flooder's first
    // document, so its bucket refills from here on.
    let bucket_since = Instant::now();
    let stack = AttestingStack::start_with(&chain, *lottery.address(), Some(operator), &[]).await;
    let web = stack.ports.web;
    let root = TrustAnchor::from_pem(&std::fs::read_to_string(&stack.root_pem).unwrap()).unwrap();
    let flooder = LoopbackClient::new(FLOODER, web);
    let bystander = LoopbackClient::new(BYSTANDER, web);

    // The bystander fetches its document before the flood starts.
    let document = fresh_document(&bystander, &root).await;

    // The flooder takes WebSocket connections until refused: exactly its cap.
    let mut held = Vec::new();
    let mut refused = 0;
    for _ in 0..DEFAULT_MAX_WS_PER_CLIENT + 8 {
        match flooder.websocket().await {
            Ok(ws) => held.push(ws),
            Err(tungstenite::Error::Http(response)) => {
                assert_eq!(response.status(), 429);
                refused += 1;
            }
            Err(e) => panic!("the flooder's WebSocket: {e}"),
        }
    }
    assert_eq!(held.len(), DEFAULT_MAX_WS_PER_CLIENT);
    assert_eq!(refused, 8);

    let stop = CancellationToken::new();
    let flooding = tokio::spawn(flood(flooder, stop.clone()));

    // Meanwhile the bystander is served normally: status, the feed, documents.
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..2 {
        let (status, _, body) = bystander.get("/api/status").await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        let mut ws = bystander.websocket().await.expect("the bystander's feed");
        let first = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .expect("a first message")
            .expect("open")
            .expect("a frame");
        assert!(first.to_text().unwrap().contains("\"snapshot\""), "{first}");
        fresh_document(&bystander, &root).await;
    }
    // And its key, sealed to the document it fetched before the flood, goes in.
    let (status, body) = inject(&bystander, &document, &chain.keys[1].to_bytes()[..]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["operator"], operator.to_checksum(None));
    if flooding.is_finished() {
        // Its panic, if it had one.
        flooding.await.unwrap();
        panic!("the flood ended before the bystander did");
    }
    stop.cancel();
    let outcome = flooding.await.unwrap();
    let elapsed = bucket_since.elapsed().as_secs();
    // The flooder got its burst (one already spent on the stack's readiness check)
    // and one document per six seconds since, however many addresses it claimed.
    let allowed = DEFAULT_ENCLAVE_BURST as usize + usize::try_from(elapsed / 6).unwrap();
    assert!(
        outcome.documents < allowed,
        "{outcome:?} in {elapsed} s (fewer than {allowed})"
    );
    assert!(outcome.limited > 20, "{outcome:?}");
    assert!(
        outcome.keys_relayed <= allowed && outcome.keys_limited > 5,
        "{outcome:?}"
    );

    // The refusals are counted by route and reason.
    let (_, _, metrics) = bystander.get("/metrics").await;
    let metrics = String::from_utf8_lossy(&metrics);
    for (route, reason) in [
        ("/api/attestation", "rate_limited"),
        ("/api/operator-key", "rate_limited"),
        ("/ws", "ws_per_client"),
    ] {
        assert!(
            metrics
                .lines()
                .any(|line| line.starts_with("http_rejected_total")
                    && line.contains(&format!("route=\"{route}\""))
                    && line.contains(&format!("reason=\"{reason}\""))),
            "no {route} {reason} in\n{metrics}"
        );
    }

    // Closed connections give the flooder its slots back.
    drop(held);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match flooder.websocket().await {
            Ok(_) => break,
            Err(e) => assert!(Instant::now() < deadline, "no slot freed: {e}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_that_reaches_the_enclave_cannot_push_out_another_clients_nonce() {
    let chain = Chain::start_with(&["--block-time", "1"]).await;
    let lottery = chain.deploy_with_operator(500).await;
    let operator = chain.operator();
    // Per-client limits off: the whole flood reaches the enclave.
    let stack = AttestingStack::start_with(
        &chain,
        *lottery.address(),
        Some(operator),
        &["--rate-limits", "off"],
    )
    .await;
    let web = stack.ports.web;
    let root = TrustAnchor::from_pem(&std::fs::read_to_string(&stack.root_pem).unwrap()).unwrap();
    let flooder = LoopbackClient::new(FLOODER, web);
    let bystander = LoopbackClient::new(BYSTANDER, web);
    let document = fresh_document(&bystander, &root).await;

    // More documents than the enclave remembered in all before it kept them per
    // origin (256), within the injection window; 503s (all in-flight slots busy)
    // are retried.
    let mut issued = 0;
    let mut n = 0u32;
    while issued < 300 {
        let batch = (0..8).map(|_| {
            n += 1;
            let path = format!(
                "/api/attestation?nonce={}",
                alloy::hex::encode(n.to_be_bytes())
            );
            async move { flooder.get(&path).await.0 }
        });
        for status in futures_util::future::join_all(batch).await {
            match status {
                200 => issued += 1,
                503 => {}
                other => panic!("the flooder's document: {other}"),
            }
        }
    }
    let (status, body) = inject(&bystander, &document, &chain.keys[1].to_bytes()[..]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["operator"], operator.to_checksum(None));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_limit() {
    let chain = Chain::start_with(&["--block-time", "1"]).await;
    let lottery = chain.deploy_with_operator(500).await;
    // 127.0.0.1 is the proxy; 127.0.0.2 is not, whatever it claims.
    let stack = AttestingStack::start_with(
        &chain,
        *lottery.address(),
        Some(chain.operator()),
        &["--trusted-proxy", "127.0.0.1/32"],
    )
    .await;
    let proxy = LoopbackClient::new(FLOODER, stack.ports.web);
    let direct = LoopbackClient::new(BYSTANDER, stack.ports.web);
    let burst = DEFAULT_ENCLAVE_BURST as usize;
    let started = Instant::now();
    // Tokens refilled since the test began: one per six seconds (10 a minute), so a
    // slow machine does not turn a refill into a failure.
    let refilled = move || usize::try_from(started.elapsed().as_secs() / 6).unwrap();
    // Documents granted to `client` claiming `forwarded`, out of `tries`.
    let granted = |client: LoopbackClient, forwarded: &'static str, tries: usize| async move {
        let mut ok = 0;
        for i in 0..tries {
            let path = format!("/api/attestation?nonce={i:02x}");
            let (status, _, _) = client
                .request("GET", &path, &[("x-forwarded-for", forwarded)], None)
                .await;
            match status {
                200 => ok += 1,
                429 => {}
                other => panic!("{other}"),
            }
        }
        ok
    };
    let within = |got: usize, expected: usize| (expected..=expected + refilled()).contains(&got);
    // Through the proxy, two clients: each gets its own burst (and the proxy's own
    // bucket, spent on the stack's readiness check, does not matter).
    let one = granted(proxy, "198.51.100.1", burst + 3).await;
    assert!(within(one, burst), "{one}");
    let two = granted(proxy, "198.51.100.2", burst + 3).await;
    assert!(within(two, burst), "{two}");
    // The rightmost untrusted hop is the client: a prefix the client wrote is not.
    let again = granted(proxy, "203.0.113.9, 198.51.100.1", 2).await;
    assert!(
        within(one + again, burst),
        "198.51.100.1 had spent its burst: {again}"
    );
    // Directly, the header is ignored: one burst for all the names it claims.
    let a = granted(direct, "198.51.100.3", burst + 3).await;
    let b = granted(direct, "198.51.100.4", 3).await;
    assert!(within(a + b, burst), "{a} + {b}");
    assert!(within(a, burst), "{a}");
}
