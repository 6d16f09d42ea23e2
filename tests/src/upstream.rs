//! A JSON-RPC upstream for tests and benchmarks: an HTTP proxy on loopback in front of
//! a real anvil that forwards every request, counts what passes, and can be told to
//! lie the way a hostile RPC provider (or a host relaying plain `http://`) would:
//!
//! - move every block's `timestamp` forward ([`Hostility::timestamp_shift_secs`]);
//! - rewrite chosen `eth_call` results ([`Hostility::rewrite_call`]);
//! - answer simulations of chosen functions with success, without asking anvil
//!   ([`Hostility::succeed_calls_with_selectors`]);
//! - hold (capture) raw transactions instead of forwarding them, answering with their
//!   hash as a node would ([`Hostility::hold_raw_transactions`]);
//! - fail every request with HTTP 502 ([`HostileUpstream::set_down`]), or stop
//!   listening and come back on the same port ([`HostileUpstream::stop`],
//!   [`HostileUpstream::restart`]).
//!
//! It records every `eth_call` and raw transaction it answers, with the wall-clock
//! time it saw it, so a test can assert what reached it and when. A batch (a JSON
//! array body) is treated element by element and answered in the order it came, ids
//! kept. Behaviour changes at runtime through `&self`.
//!
//! Honest (the default), it relays anvil's bytes and status unchanged, so it doubles
//! as the counting proxy of `enclave-bench`. It must not be used outside tests: it
//! trusts its target and its clients, and buffers whole bodies (up to [`MAX_BODY`]).

use std::{
    collections::BTreeMap,
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::{Duration, SystemTime},
};

use alloy::{
    consensus::{Transaction, TxEnvelope},
    eips::Decodable2718,
    primitives::{Address, B256, Bytes, keccak256},
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
use tokio::{
    net::{TcpListener, TcpSocket},
    sync::Semaphore,
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

/// Largest request or response body relayed: far above anything anvil answers in a
/// test or benchmark run (full blocks, logs over a whole run), small enough that a
/// runaway body fails with a 502 instead of filling memory.
pub const MAX_BODY: usize = 32 * 1024 * 1024;

/// Connections served at once: a benchmark has one enclave-app and a few harness
/// clients; a client that leaks connections waits instead of exhausting descriptors.
const MAX_CONNECTIONS: usize = 256;

/// Pause after a failed `accept` (descriptors exhausted, a reset during the
/// handshake) before accepting again, so the loop does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(10);

/// Backlog of the listening socket (the kernel caps it anyway).
const LISTEN_BACKLOG: u32 = 1024;

/// The body of every HTTP message this proxy sends or answers (buffered whole).
type Body = Full<hyper::body::Bytes>;

/// The HTTP client towards the target.
type TargetClient = Client<HttpConnector, Body>;

/// Rewrites an `eth_call` result: given the call's calldata and anvil's result bytes,
/// the bytes to answer instead, or `None` to leave anvil's answer.
pub type RewriteCall = Arc<dyn Fn(&[u8], &[u8]) -> Option<Vec<u8>> + Send + Sync>;

/// How the upstream lies; [`Hostility::default`] is honest.
///
/// Requests are forwarded as they came: in particular an `eth_call`'s block
/// overrides (a `time` the client took from a shifted block, say) reach anvil
/// unchanged, so a simulation "at the lied time" does run at the lied time.
#[derive(Clone, Default)]
pub struct Hostility {
    /// Added to the `timestamp` (a hex quantity) of every block in
    /// `eth_getBlockByNumber` and `eth_getBlockByHash` results. Nothing else in the
    /// block changes, so its `hash` no longer matches its header: a client that checks
    /// hashes catches the lie, one that trusts the upstream does not.
    pub timestamp_shift_secs: u64,
    /// Replaces chosen `eth_call` results (only results: an error from anvil, such as
    /// a revert, is relayed as it is).
    pub rewrite_call: Option<RewriteCall>,
    /// An `eth_call` whose calldata (`input`, else `data`) starts with one of these
    /// selectors is answered `0x` (success) without asking anvil: a simulation that
    /// lies. It takes precedence over [`Self::rewrite_call`].
    pub succeed_calls_with_selectors: Vec<[u8; 4]>,
    /// Hold `eth_sendRawTransaction`s instead of forwarding them: the transaction is
    /// recorded ([`SeenTx::held`]) and answered with its hash, as a node that accepted
    /// it into a pool it never gossips from would.
    pub hold_raw_transactions: bool,
    /// With [`Self::hold_raw_transactions`]: hold only this many, counted from the
    /// [`HostileUpstream::set_hostility`] that set it, then forward again (`None`:
    /// hold all).
    pub hold_first: Option<usize>,
}

impl Hostility {
    /// Whether anvil's answers pass through unchanged (nothing to patch in them).
    fn relays_answers(&self) -> bool {
        self.timestamp_shift_secs == 0 && self.rewrite_call.is_none()
    }
}

impl std::fmt::Debug for Hostility {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Hostility")
            .field("timestamp_shift_secs", &self.timestamp_shift_secs)
            .field("rewrite_call", &self.rewrite_call.as_ref().map(|_| ".."))
            .field(
                "succeed_calls_with_selectors",
                &self.succeed_calls_with_selectors,
            )
            .field("hold_raw_transactions", &self.hold_raw_transactions)
            .field("hold_first", &self.hold_first)
            .finish()
    }
}

/// An `eth_sendRawTransaction` the upstream answered (held or forwarded).
#[derive(Debug, Clone)]
pub struct SeenTx {
    /// The signed transaction as sent (EIP-2718 bytes).
    pub raw: Bytes,
    /// Its hash: keccak256 of [`Self::raw`].
    pub hash: B256,
    /// Its calldata (empty when the bytes do not decode as a transaction).
    pub input: Bytes,
    /// The signer recovered from its signature (`None` when it does not decode or
    /// recover).
    pub from: Option<Address>,
    /// When it arrived (wall clock).
    pub at: SystemTime,
    /// Whether it was held (answered here, never forwarded to anvil).
    pub held: bool,
}

/// An `eth_call` the upstream answered (forwarded or not).
#[derive(Debug, Clone)]
pub struct SeenCall {
    /// Its calldata (`input`, else `data`; empty when neither is valid hex).
    pub input: Bytes,
    /// When it arrived (wall clock).
    pub at: SystemTime,
}

/// HTTP requests and JSON-RPC calls the upstream received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    /// HTTP requests (refused ones too, while [down](HostileUpstream::set_down)).
    pub http: u64,
    /// JSON-RPC calls: each element of a batch counts; a body that is not JSON-RPC
    /// counts as one call of method `<unparsable>`.
    pub calls: u64,
    /// Calls by method.
    pub methods: BTreeMap<String, u64>,
}

impl Counts {
    /// Counts one HTTP request carrying `body`.
    fn record(&mut self, body: &Value) {
        self.http += 1;
        let calls: Vec<&Value> = match body {
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        for call in calls {
            let method = call
                .get("method")
                .and_then(Value::as_str)
                .unwrap_or("<unparsable>");
            self.calls += 1;
            *self.methods.entry(method.to_owned()).or_default() += 1;
        }
    }

    /// What happened between `earlier` (a snapshot of the same upstream) and `self`.
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

/// What the handlers share with the [`HostileUpstream`] handle (one lock, held only
/// to decide and record, never across I/O).
#[derive(Default)]
struct State {
    hostility: Hostility,
    down: bool,
    /// Transactions held since the last `set_hostility` (for `hold_first`).
    held: usize,
    counts: Counts,
    transactions: Vec<SeenTx>,
    calls: Vec<SeenCall>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Everything a connection handler needs.
struct Relay {
    target: Uri,
    client: TargetClient,
    state: Mutex<State>,
}

/// One listening period, between a start and a stop.
struct Listening {
    stop: CancellationToken,
    accept: JoinHandle<()>,
}

/// The proxy: honest until told otherwise; stops when dropped.
pub struct HostileUpstream {
    addr: SocketAddr,
    relay: Arc<Relay>,
    /// Parent of every listening period's token; cancelled on drop.
    shutdown: CancellationToken,
    listening: Mutex<Option<Listening>>,
}

impl std::fmt::Debug for HostileUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostileUpstream")
            .field("addr", &self.addr)
            .field("target", &self.relay.target)
            .finish_non_exhaustive()
    }
}

impl Drop for HostileUpstream {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl HostileUpstream {
    /// Starts an honest proxy on a free loopback port in front of `target` (anvil's
    /// HTTP URL, such as `http://127.0.0.1:8545`).
    ///
    /// # Errors
    /// When `target` is not a URL or no port can be bound.
    pub async fn start(target: &str) -> eyre::Result<Self> {
        let target: Uri = target.parse().wrap_err("upstream target URL")?;
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = listener.local_addr()?;
        let relay = Arc::new(Relay {
            target,
            client: Client::builder(TokioExecutor::new()).build_http(),
            state: Mutex::new(State::default()),
        });
        let shutdown = CancellationToken::new();
        let listening = listen(listener, relay.clone(), shutdown.child_token());
        Ok(Self {
            addr,
            relay,
            shutdown,
            listening: Mutex::new(Some(listening)),
        })
    }

    /// Its URL (`http://127.0.0.1:PORT`), the same across [`Self::restart`]s.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// From now on, lie as `hostility` says; the count of held transactions for
    /// [`Hostility::hold_first`] starts over.
    pub fn set_hostility(&self, hostility: Hostility) {
        let mut state = lock(&self.relay.state);
        state.hostility = hostility;
        state.held = 0;
    }

    /// How it lies now.
    pub fn hostility(&self) -> Hostility {
        lock(&self.relay.state).hostility.clone()
    }

    /// While `down`, answers every request with HTTP 502 without forwarding it (an
    /// outage of the provider): the requests are counted ([`Self::counts`]) but not
    /// recorded as calls or transactions.
    pub fn set_down(&self, down: bool) {
        lock(&self.relay.state).down = down;
    }

    /// Stops listening and closes every open connection (requests in flight get no
    /// answer); [`Self::restart`] comes back on the same port. Does nothing when
    /// already stopped.
    pub async fn stop(&self) {
        let listening = lock_listening(&self.listening).take();
        if let Some(listening) = listening {
            listening.stop.cancel();
            // The listener is dropped when the accept task ends: wait for it, so the
            // port is free for a restart.
            let _ = listening.accept.await;
        }
    }

    /// Stops (when running) and listens again on the same port, keeping its
    /// hostility, counts and records.
    ///
    /// # Errors
    /// When the port cannot be bound again (another process took it meanwhile).
    pub async fn restart(&self) -> eyre::Result<()> {
        self.stop().await;
        let listener = bind(self.addr).wrap_err_with(|| format!("bind {} again", self.addr))?;
        let listening = listen(listener, self.relay.clone(), self.shutdown.child_token());
        let previous = lock_listening(&self.listening).replace(listening);
        if let Some(previous) = previous {
            // A concurrent restart won the race; keep the newest.
            previous.stop.cancel();
        }
        Ok(())
    }

    /// What it has received so far.
    pub fn counts(&self) -> Counts {
        lock(&self.relay.state).counts.clone()
    }

    /// Every `eth_sendRawTransaction` answered, in arrival order.
    pub fn transactions(&self) -> Vec<SeenTx> {
        lock(&self.relay.state).transactions.clone()
    }

    /// Every `eth_call` answered, in arrival order.
    pub fn calls(&self) -> Vec<SeenCall> {
        lock(&self.relay.state).calls.clone()
    }
}

fn lock_listening(m: &Mutex<Option<Listening>>) -> MutexGuard<'_, Option<Listening>> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A listener on `addr` with `SO_REUSEADDR`, so a restart can take the port back
/// while closed connections linger in `TIME_WAIT`.
fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves `listener` until `stop`: one task accepting, one per connection.
fn listen(listener: TcpListener, relay: Arc<Relay>, stop: CancellationToken) -> Listening {
    let token = stop.clone();
    let accept = tokio::spawn(async move {
        let permits = Arc::new(Semaphore::new(MAX_CONNECTIONS));
        loop {
            let permit = tokio::select! {
                () = stop.cancelled() => return,
                permit = permits.clone().acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => return,
                },
            };
            let stream = tokio::select! {
                () = stop.cancelled() => return,
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => stream,
                    Err(_) => {
                        tokio::time::sleep(ACCEPT_RETRY).await;
                        continue;
                    }
                },
            };
            let relay = relay.clone();
            let service = service_fn(move |req| {
                let relay = relay.clone();
                async move { Ok::<_, Infallible>(relay.serve(req).await) }
            });
            let stop = stop.clone();
            tokio::spawn(async move {
                let _permit = permit;
                let conn = http1::Builder::new().serve_connection(TokioIo::new(stream), service);
                tokio::select! {
                    _ = conn => {}
                    () = stop.cancelled() => {}
                }
            });
        }
    });
    Listening {
        stop: token,
        accept,
    }
}

/// A JSON response: a JSON-RPC answer, or anvil's answer relayed with its status.
fn reply(status: StatusCode, body: impl Into<hyper::body::Bytes>) -> Response<Body> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    response
}

/// A 502 saying in plain text why (an outage, or anvil out of reach).
fn bad_gateway(why: String) -> Response<Body> {
    let mut response = Response::new(Full::new(why.into()));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// What to do with one JSON-RPC call of a request.
enum Plan {
    /// Answer with this result, without asking anvil.
    Answer(Value),
    /// Ask anvil.
    Forward,
}

impl Relay {
    /// Answers one HTTP request: decides and records under the lock, then forwards
    /// what must be forwarded and patches anvil's answers without it.
    async fn serve(&self, req: Request<Incoming>) -> Response<Body> {
        let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => return bad_gateway(format!("request body: {e}")),
        };
        let parsed: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        let (batch, calls) = match &parsed {
            Value::Array(items) => (true, items.as_slice()),
            single @ Value::Object(_) => (false, std::slice::from_ref(single)),
            // Not JSON-RPC: relayed as it is (anvil says what is wrong with it).
            _ => (false, &[][..]),
        };
        let (plans, hostility) = {
            let mut state = lock(&self.state);
            state.counts.record(&parsed);
            if state.down {
                return bad_gateway("the upstream is down".to_owned());
            }
            let plans: Vec<Plan> = calls.iter().map(|c| state.plan(c)).collect();
            (plans, state.hostility.clone())
        };
        let forwarded = plans.iter().filter(|p| matches!(p, Plan::Forward)).count();
        if calls.is_empty() || (forwarded == plans.len() && hostility.relays_answers()) {
            // Not JSON-RPC, or nothing to answer here or to patch: anvil's bytes,
            // unchanged.
            return match self.forward(body).await {
                Ok((status, bytes)) => reply(status, bytes),
                Err(response) => response,
            };
        }
        let mut answers: Vec<Value> = Vec::new();
        if forwarded > 0 {
            let out = if forwarded == plans.len() {
                body
            } else {
                // A batch with some calls answered here: forward the others, as a
                // batch still (anvil answers a batch of one with an array of one).
                let rest: Vec<&Value> = calls
                    .iter()
                    .zip(&plans)
                    .filter(|(_, p)| matches!(p, Plan::Forward))
                    .map(|(c, _)| c)
                    .collect();
                match serde_json::to_vec(&rest) {
                    Ok(out) => out.into(),
                    Err(e) => return bad_gateway(format!("request: {e}")),
                }
            };
            let (status, bytes) = match self.forward(out).await {
                Ok(answer) => answer,
                Err(response) => return response,
            };
            // An HTTP error or a body that is not JSON: nothing to patch, relayed.
            if !status.is_success() {
                return reply(status, bytes);
            }
            let Ok(value) = serde_json::from_slice::<Value>(&bytes) else {
                return reply(status, bytes);
            };
            answers = match value {
                Value::Array(items) => items,
                single => vec![single],
            };
        }
        let out = if batch {
            Value::Array(assemble(calls, plans, answers, &hostility))
        } else if let (Some(call), Some(plan)) = (calls.first(), plans.into_iter().next()) {
            // A single call: anvil's answer is its answer, whatever its id says.
            match plan {
                Plan::Answer(result) => local_answer(call, result),
                Plan::Forward => {
                    let mut answer = answers.into_iter().next().unwrap_or(Value::Null);
                    doctor(call, &mut answer, &hostility);
                    answer
                }
            }
        } else {
            Value::Null
        };
        match serde_json::to_vec(&out) {
            Ok(bytes) => reply(StatusCode::OK, bytes),
            Err(e) => bad_gateway(format!("response: {e}")),
        }
    }

    /// POSTs `body` to the target; a 502 to answer when that fails.
    async fn forward(
        &self,
        body: hyper::body::Bytes,
    ) -> Result<(StatusCode, hyper::body::Bytes), Response<Body>> {
        let request = Request::builder()
            .method(Method::POST)
            .uri(self.target.clone())
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(body))
            .map_err(|e| bad_gateway(format!("request: {e}")))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| bad_gateway(format!("anvil: {e}")))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_BODY)
            .collect()
            .await
            .map_err(|e| bad_gateway(format!("response body: {e}")))?
            .to_bytes();
        Ok((status, body))
    }
}

impl State {
    /// Records `call` if it is an `eth_call` or a raw transaction, and says whether to
    /// answer it here.
    fn plan(&mut self, call: &Value) -> Plan {
        let at = SystemTime::now();
        match call.get("method").and_then(Value::as_str) {
            Some("eth_call") => {
                let input = call_input(call);
                let succeed = self
                    .hostility
                    .succeed_calls_with_selectors
                    .iter()
                    .any(|s| input.starts_with(s));
                self.calls.push(SeenCall { input, at });
                if succeed {
                    Plan::Answer(json!("0x"))
                } else {
                    Plan::Forward
                }
            }
            Some("eth_sendRawTransaction") => {
                let raw = call
                    .get("params")
                    .and_then(|p| p.get(0))
                    .and_then(Value::as_str)
                    .and_then(|h| alloy::hex::decode(h).ok())
                    .unwrap_or_default();
                let hash = keccak256(&raw);
                let (input, from) = decode_transaction(&raw);
                let hostility = &self.hostility;
                let held = hostility.hold_raw_transactions
                    && hostility.hold_first.is_none_or(|n| self.held < n);
                if held {
                    self.held += 1;
                }
                self.transactions.push(SeenTx {
                    raw: raw.into(),
                    hash,
                    input,
                    from,
                    at,
                    held,
                });
                if held {
                    Plan::Answer(json!(hash))
                } else {
                    Plan::Forward
                }
            }
            _ => Plan::Forward,
        }
    }
}

/// The answer to a call answered here, with the call's id.
fn local_answer(call: &Value, result: Value) -> Value {
    let id = call.get("id").cloned().unwrap_or(Value::Null);
    let mut answer = serde_json::Map::new();
    answer.insert("jsonrpc".to_owned(), json!("2.0"));
    answer.insert("id".to_owned(), id);
    answer.insert("result".to_owned(), result);
    Value::Object(answer)
}

/// A batch's answers in the batch's order: those made here in place, anvil's matched
/// to their calls by id (anvil's answers without a match, such as an error with a
/// null id, follow at the end).
fn assemble(
    calls: &[Value],
    plans: Vec<Plan>,
    mut answers: Vec<Value>,
    hostility: &Hostility,
) -> Vec<Value> {
    let mut out = Vec::with_capacity(calls.len());
    for (call, plan) in calls.iter().zip(plans) {
        match plan {
            Plan::Answer(result) => out.push(local_answer(call, result)),
            Plan::Forward => {
                // A call without an id is a notification: no answer to place.
                let Some(id) = call.get("id") else { continue };
                let Some(i) = answers.iter().position(|a| a.get("id") == Some(id)) else {
                    continue;
                };
                let mut answer = answers.remove(i);
                doctor(call, &mut answer, hostility);
                out.push(answer);
            }
        }
    }
    out.extend(answers);
    out
}

/// The calldata of an `eth_call` request (`input`, else `data`).
fn call_input(call: &Value) -> Bytes {
    let Some(tx) = call.get("params").and_then(|p| p.get(0)) else {
        return Bytes::new();
    };
    tx.get("input")
        .or_else(|| tx.get("data"))
        .and_then(Value::as_str)
        .and_then(|h| alloy::hex::decode(h).ok())
        .map(Bytes::from)
        .unwrap_or_default()
}

/// The calldata and signer of a signed transaction (empty and `None` when it does
/// not decode; `None` signer when the signature does not recover).
fn decode_transaction(raw: &[u8]) -> (Bytes, Option<Address>) {
    let Ok(tx) = TxEnvelope::decode_2718(&mut &raw[..]) else {
        return (Bytes::new(), None);
    };
    let from = tx
        .signature()
        .recover_address_from_prehash(&tx.signature_hash())
        .ok();
    (tx.input().clone(), from)
}

/// Moves a block object's timestamp forward by `shift` (a `null` block stays `null`).
fn shift_block(block: &mut Value, shift: u64) {
    let Some(ts) = block.get("timestamp").and_then(Value::as_str) else {
        return;
    };
    let Ok(ts) = u64::from_str_radix(ts.trim_start_matches("0x"), 16) else {
        return;
    };
    block["timestamp"] = json!(format!("{:#x}", ts.saturating_add(shift)));
}

/// Lies in anvil's `answer` to `call`, as `hostility` says.
fn doctor(call: &Value, answer: &mut Value, hostility: &Hostility) {
    let method = call.get("method").and_then(Value::as_str).unwrap_or("");
    let Some(result) = answer.get_mut("result") else {
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
            let Some(original) = result.as_str().and_then(|h| alloy::hex::decode(h).ok()) else {
                return;
            };
            if let Some(new) = rewrite(&call_input(call), &original) {
                *result = json!(format!("0x{}", alloy::hex::encode(new)));
            }
        }
        _ => {}
    }
}
