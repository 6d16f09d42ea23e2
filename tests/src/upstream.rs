//! A JSON-RPC upstream for tests and benchmarks: an HTTP proxy on loopback in front of
//! a real anvil that forwards every request, counts what passes, and can be told to
//! lie the way a hostile RPC provider (or the host, over `http://`) would:
//!
//! - move every block's `timestamp` forward ([`Hostility::timestamp_shift_secs`]);
//! - rewrite chosen `eth_call` results ([`Hostility::rewrite_call`]);
//! - answer simulations of chosen functions with success, without asking anvil
//!   ([`Hostility::succeed_calls_with_selectors`]);
//! - hold (capture) raw transactions instead of forwarding them, answering with their
//!   hash as a node would ([`Hostility::hold_raw_transactions`]);
//! - fail every request ([`HostileUpstream::set_down`]).
//!
//! It records every `eth_call` and every raw transaction it sees, with the wall-clock
//! time it saw it, so a test can assert what reached it and when. Batches are handled
//! element by element. Behaviour changes at runtime through `&self`.

use std::{
    collections::{BTreeMap, HashMap},
    convert::Infallible,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, SystemTime},
};

use alloy::{
    consensus::{Transaction, TxEnvelope},
    eips::Decodable2718,
    primitives::{B256, Bytes, keccak256},
};
use eyre::WrapErr;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{
    Method, Request, Response, StatusCode, Uri, body::Incoming, header, server::conn::http1,
    service::service_fn,
};
use hyper_util::{
    client::legacy::{Client, connect::HttpConnector},
    rt::{TokioExecutor, TokioIo},
};
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

/// Largest request or response body relayed.
const MAX_BODY: usize = 32 * 1024 * 1024;

/// Rewrites an `eth_call` result: `(calldata, anvil's result)` to the result to
/// answer instead, or `None` to leave it.
pub type RewriteCall = Arc<dyn Fn(&[u8], &[u8]) -> Option<Vec<u8>> + Send + Sync>;

/// How the upstream lies; the default is honest.
#[derive(Clone, Default)]
pub struct Hostility {
    /// Added to the `timestamp` of every block in `eth_getBlockByNumber` and
    /// `eth_getBlockByHash` results (hashes untouched).
    pub timestamp_shift_secs: u64,
    /// Replaces chosen `eth_call` results.
    pub rewrite_call: Option<RewriteCall>,
    /// An `eth_call` whose calldata starts with one of these selectors is answered
    /// `0x` (success) without asking anvil.
    pub succeed_calls_with_selectors: Vec<[u8; 4]>,
    /// Hold raw transactions instead of forwarding them.
    pub hold_raw_transactions: bool,
    /// With [`Self::hold_raw_transactions`]: hold only this many, then forward again
    /// (`None`: hold all).
    pub hold_first: Option<usize>,
}

impl std::fmt::Debug for Hostility {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hostility")
            .field("timestamp_shift_secs", &self.timestamp_shift_secs)
            .field("rewrite_call", &self.rewrite_call.is_some())
            .field(
                "succeed_calls_with_selectors",
                &self.succeed_calls_with_selectors,
            )
            .field("hold_raw_transactions", &self.hold_raw_transactions)
            .field("hold_first", &self.hold_first)
            .finish()
    }
}

/// A raw transaction the upstream saw.
#[derive(Debug, Clone)]
pub struct SeenTx {
    /// The signed bytes.
    pub raw: Bytes,
    /// Its hash.
    pub hash: B256,
    /// Its calldata.
    pub input: Bytes,
    /// When it arrived.
    pub at: SystemTime,
    /// Whether it was held (not forwarded).
    pub held: bool,
}

/// An `eth_call` the upstream saw.
#[derive(Debug, Clone)]
pub struct SeenCall {
    /// Its calldata.
    pub input: Bytes,
    /// When it arrived.
    pub at: SystemTime,
}

/// HTTP requests and JSON-RPC calls seen.
#[derive(Debug, Clone, Default)]
pub struct Counts {
    /// HTTP requests.
    pub http: u64,
    /// JSON-RPC calls (a batch counts each element).
    pub calls: u64,
    /// Calls by method.
    pub methods: BTreeMap<String, u64>,
}

impl Counts {
    fn record(&mut self, calls: &[Value]) {
        self.http += 1;
        for call in calls {
            let method = call
                .get("method")
                .and_then(Value::as_str)
                .unwrap_or("<unparsable>");
            self.calls += 1;
            *self.methods.entry(method.to_owned()).or_default() += 1;
        }
    }

    /// What happened between `earlier` and `self`.
    #[must_use]
    pub fn since(&self, earlier: &Self) -> Self {
        let methods = self
            .methods
            .iter()
            .map(|(m, n)| (m.clone(), n - earlier.methods.get(m).copied().unwrap_or(0)))
            .filter(|(_, n)| *n > 0)
            .collect();
        Self {
            http: self.http - earlier.http,
            calls: self.calls - earlier.calls,
            methods,
        }
    }
}

#[derive(Default)]
struct Shared {
    hostility: Hostility,
    down: bool,
    held: usize,
    counts: Counts,
    transactions: Vec<SeenTx>,
    calls: Vec<SeenCall>,
}

fn lock(shared: &Mutex<Shared>) -> MutexGuard<'_, Shared> {
    shared.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The proxy; stops when dropped.
pub struct HostileUpstream {
    url: String,
    shared: Arc<Mutex<Shared>>,
    shutdown: CancellationToken,
}

impl Drop for HostileUpstream {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl HostileUpstream {
    /// Starts an honest proxy on a free loopback port in front of `target` (anvil's
    /// HTTP URL).
    ///
    /// # Errors
    /// When `target` is not a URL or no port can be bound.
    pub async fn start(target: &str) -> eyre::Result<Self> {
        let target: Uri = target.parse().wrap_err("upstream URL")?;
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let url = format!("http://{}", listener.local_addr()?);
        let shared = Arc::new(Mutex::new(Shared::default()));
        let client: Client<HttpConnector, Full<hyper::body::Bytes>> =
            Client::builder(TokioExecutor::new()).build_http();
        let shutdown = CancellationToken::new();
        let (task_shared, stop) = (shared.clone(), shutdown.clone());
        tokio::spawn(async move {
            loop {
                let stream = tokio::select! {
                    () = stop.cancelled() => return,
                    accepted = listener.accept() => match accepted {
                        Ok((stream, _)) => stream,
                        Err(_) => {
                            tokio::time::sleep(Duration::from_millis(10)).await;
                            continue;
                        }
                    },
                };
                let (client, target, shared) =
                    (client.clone(), target.clone(), task_shared.clone());
                let service = service_fn(move |req| {
                    serve(req, client.clone(), target.clone(), shared.clone())
                });
                let stop = stop.clone();
                tokio::spawn(async move {
                    let conn =
                        http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                    tokio::select! {
                        _ = conn => {}
                        () = stop.cancelled() => {}
                    }
                });
            }
        });
        Ok(Self {
            url,
            shared,
            shutdown,
        })
    }

    /// Its URL (`http://127.0.0.1:PORT`).
    pub fn url(&self) -> String {
        self.url.clone()
    }

    /// From now on, lie as `hostility` says (the held-transaction count starts over).
    pub fn set_hostility(&self, hostility: Hostility) {
        let mut shared = lock(&self.shared);
        shared.hostility = hostility;
        shared.held = 0;
    }

    /// Fails every request with HTTP 502 while `down` (an outage).
    pub fn set_down(&self, down: bool) {
        lock(&self.shared).down = down;
    }

    /// What it counted so far.
    pub fn counts(&self) -> Counts {
        lock(&self.shared).counts.clone()
    }

    /// Every raw transaction seen, in arrival order.
    pub fn transactions(&self) -> Vec<SeenTx> {
        lock(&self.shared).transactions.clone()
    }

    /// Every `eth_call` seen, in arrival order.
    pub fn calls(&self) -> Vec<SeenCall> {
        lock(&self.shared).calls.clone()
    }
}

fn reply(status: StatusCode, body: Vec<u8>) -> Response<Full<hyper::body::Bytes>> {
    let mut response = Response::new(Full::new(hyper::body::Bytes::from(body)));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

fn bad_gateway(why: &str) -> Response<Full<hyper::body::Bytes>> {
    reply(StatusCode::BAD_GATEWAY, why.as_bytes().to_vec())
}

/// The calldata of an `eth_call` request.
fn call_input(call: &Value) -> Option<Bytes> {
    let tx = call.get("params")?.get(0)?;
    let hex = tx.get("input").or_else(|| tx.get("data"))?.as_str()?;
    alloy::hex::decode(hex).ok().map(Bytes::from)
}

fn decoded_input(raw: &[u8]) -> Bytes {
    TxEnvelope::decode_2718(&mut &raw[..]).map_or_else(|_| Bytes::new(), |tx| tx.input().clone())
}

/// What to do with one call: answer here, or forward it.
fn answer_locally(call: &Value, shared: &mut Shared) -> Option<Value> {
    let now = SystemTime::now();
    match call.get("method").and_then(Value::as_str) {
        Some("eth_call") => {
            let input = call_input(call).unwrap_or_default();
            shared.calls.push(SeenCall {
                input: input.clone(),
                at: now,
            });
            let succeed = shared
                .hostility
                .succeed_calls_with_selectors
                .iter()
                .any(|s| input.starts_with(s));
            succeed.then(|| json!("0x"))
        }
        Some("eth_sendRawTransaction") => {
            let raw = call
                .get("params")
                .and_then(|p| p.get(0))
                .and_then(Value::as_str)
                .and_then(|h| alloy::hex::decode(h).ok())
                .unwrap_or_default();
            let hash = keccak256(&raw);
            let input = decoded_input(&raw);
            let hostility = &shared.hostility;
            let held = hostility.hold_raw_transactions
                && hostility.hold_first.is_none_or(|n| shared.held < n);
            if held {
                shared.held += 1;
            }
            shared.transactions.push(SeenTx {
                raw: Bytes::from(raw),
                hash,
                input,
                at: now,
                held,
            });
            held.then(|| json!(hash))
        }
        _ => None,
    }
}

/// Moves a block object's timestamp forward by `shift`.
fn shift_block(block: &mut Value, shift: u64) {
    let Some(ts) = block.get("timestamp").and_then(Value::as_str) else {
        return;
    };
    let Ok(ts) = u64::from_str_radix(ts.trim_start_matches("0x"), 16) else {
        return;
    };
    block["timestamp"] = json!(format!("{:#x}", ts + shift));
}

/// Lies in anvil's answer to `call`, as the hostility says.
fn doctor(call: &Value, response: &mut Value, hostility: &Hostility) {
    let method = call.get("method").and_then(Value::as_str).unwrap_or("");
    let Some(result) = response.get_mut("result") else {
        return;
    };
    match method {
        "eth_getBlockByNumber" | "eth_getBlockByHash" if hostility.timestamp_shift_secs > 0 => {
            shift_block(result, hostility.timestamp_shift_secs);
        }
        "eth_call" => {
            let Some(rewrite) = &hostility.rewrite_call else {
                return;
            };
            let input = call_input(call).unwrap_or_default();
            let Some(original) = result.as_str().and_then(|h| alloy::hex::decode(h).ok()) else {
                return;
            };
            if let Some(new) = rewrite(&input, &original) {
                *result = json!(format!("0x{}", alloy::hex::encode(new)));
            }
        }
        _ => {}
    }
}

async fn serve(
    req: Request<Incoming>,
    client: Client<HttpConnector, Full<hyper::body::Bytes>>,
    target: Uri,
    shared: Arc<Mutex<Shared>>,
) -> Result<Response<Full<hyper::body::Bytes>>, Infallible> {
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => return Ok(bad_gateway(&format!("request body: {e}"))),
    };
    let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let (batch, calls) = match parsed {
        Value::Array(items) => (true, items),
        Value::Null => (false, Vec::new()),
        single => (false, vec![single]),
    };
    // Decide under the lock, then forward without it.
    let (local, hostility) = {
        let mut shared = lock(&shared);
        shared.counts.record(&calls);
        if shared.down {
            return Ok(bad_gateway("the upstream is down"));
        }
        let local: Vec<Option<Value>> = calls
            .iter()
            .map(|c| answer_locally(c, &mut shared))
            .collect();
        (local, shared.hostility.clone())
    };
    if calls.is_empty() {
        // Not JSON-RPC we understand: relay as is.
        return Ok(match forward(&client, &target, body.to_vec()).await {
            Ok((status, bytes)) => reply(status, bytes),
            Err(e) => bad_gateway(&e),
        });
    }
    let forwarded: Vec<&Value> = calls
        .iter()
        .zip(&local)
        .filter(|(_, l)| l.is_none())
        .map(|(c, _)| c)
        .collect();
    let mut answers: HashMap<String, Value> = HashMap::new();
    if !forwarded.is_empty() {
        let out = if batch {
            serde_json::to_vec(&forwarded)
        } else {
            serde_json::to_vec(forwarded[0])
        }
        .unwrap_or_default();
        let (status, bytes) = match forward(&client, &target, out).await {
            Ok(answer) => answer,
            Err(e) => return Ok(bad_gateway(&e)),
        };
        let Ok(value) = serde_json::from_slice::<Value>(&bytes) else {
            return Ok(reply(status, bytes));
        };
        let responses = match value {
            Value::Array(items) => items,
            single => vec![single],
        };
        for response in responses {
            let id = response.get("id").map(Value::to_string).unwrap_or_default();
            answers.insert(id, response);
        }
    }
    let mut out = Vec::with_capacity(calls.len());
    for (call, local) in calls.iter().zip(local) {
        let id = call.get("id").cloned().unwrap_or(Value::Null);
        let response = match local {
            Some(result) => json!({ "jsonrpc": "2.0", "id": id, "result": result }),
            None => {
                let Some(mut response) = answers.remove(&id.to_string()) else {
                    continue;
                };
                doctor(call, &mut response, &hostility);
                response
            }
        };
        out.push(response);
    }
    let body = if batch {
        serde_json::to_vec(&out)
    } else {
        serde_json::to_vec(&out.into_iter().next().unwrap_or(Value::Null))
    }
    .unwrap_or_default();
    Ok(reply(StatusCode::OK, body))
}

async fn forward(
    client: &Client<HttpConnector, Full<hyper::body::Bytes>>,
    target: &Uri,
    body: Vec<u8>,
) -> Result<(StatusCode, Vec<u8>), String> {
    let request = Request::builder()
        .method(Method::POST)
        .uri(target.clone())
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(hyper::body::Bytes::from(body)))
        .map_err(|e| format!("request: {e}"))?;
    let response = client
        .request(request)
        .await
        .map_err(|e| format!("anvil: {e}"))?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| format!("response body: {e}"))?
        .to_bytes();
    Ok((status, body.to_vec()))
}
