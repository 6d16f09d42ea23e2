//! A WebSocket JSON-RPC upstream for tests and benchmarks: a relay on loopback in
//! front of a real anvil's WebSocket endpoint that forwards every message both ways
//! and can be told to misbehave as an RPC provider might:
//!
//! - cut: every open connection is dropped and new ones are refused, as when the
//!   provider's socket dies ([`WsUpstream::cut`]); [`WsUpstream::restore`] listens again
//!   on the same port;
//! - no subscriptions: `eth_subscribe` is answered with JSON-RPC error -32601 ("method
//!   not found") without reaching anvil ([`WsUpstream::refuse_subscriptions`]), as
//!   from an upstream that serves WebSocket requests but no push.
//!
//! It counts the JSON-RPC requests the client sends (each element of a batch; the
//! server's `eth_subscription` notifications and the answers are not requests) by
//! method, so a test can assert what a mirror asks for. Tests only: it trusts both
//! ends.

use std::{
    collections::BTreeMap,
    net::SocketAddr,
    sync::{Arc, Mutex, MutexGuard, PoisonError},
    time::Duration,
};

use eyre::WrapErr;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::{TcpListener, TcpSocket};
use tokio_tungstenite::tungstenite::Message;
use tokio_util::sync::CancellationToken;

/// Pause after a failed `accept` before accepting again, so the loop does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(10);

/// JSON-RPC requests the relay received from its clients.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WsCounts {
    /// WebSocket text messages from clients (a batch is one).
    pub messages: u64,
    /// JSON-RPC requests: each element of a batch counts.
    pub calls: u64,
    /// Requests by method.
    pub methods: BTreeMap<String, u64>,
    /// Connections accepted.
    pub connections: u64,
}

impl WsCounts {
    /// What happened between `earlier` (a snapshot of the same relay) and `self`.
    #[must_use]
    pub fn since(&self, earlier: &Self) -> Self {
        let methods = self
            .methods
            .iter()
            .map(|(m, n)| (m.clone(), n - earlier.methods.get(m).copied().unwrap_or(0)))
            .filter(|(_, n)| *n > 0)
            .collect();
        Self {
            messages: self.messages - earlier.messages,
            calls: self.calls - earlier.calls,
            methods,
            connections: self.connections - earlier.connections,
        }
    }

    /// Requests of `method`.
    pub fn of(&self, method: &str) -> u64 {
        self.methods.get(method).copied().unwrap_or(0)
    }
}

#[derive(Default)]
struct State {
    counts: WsCounts,
    refuse_subscriptions: bool,
}

struct Relay {
    target: String,
    state: Mutex<State>,
}

fn lock(state: &Mutex<State>) -> MutexGuard<'_, State> {
    state.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The relay: honest until told otherwise; stops when dropped.
pub struct WsUpstream {
    addr: SocketAddr,
    relay: Arc<Relay>,
    shutdown: CancellationToken,
    /// The current listening period's token (cancelled by [`Self::cut`]).
    listening: Mutex<Option<(CancellationToken, tokio::task::JoinHandle<()>)>>,
}

impl std::fmt::Debug for WsUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsUpstream")
            .field("addr", &self.addr)
            .field("target", &self.relay.target)
            .finish_non_exhaustive()
    }
}

impl Drop for WsUpstream {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl WsUpstream {
    /// Starts a relay on a free loopback port in front of `target`, anvil's WebSocket
    /// URL (`ws://127.0.0.1:PORT`: anvil serves WebSocket on its HTTP port).
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn start(target: &str) -> eyre::Result<Self> {
        let listener = bind(SocketAddr::from(([127, 0, 0, 1], 0)))?;
        let addr = listener.local_addr()?;
        let relay = Arc::new(Relay {
            target: target.to_owned(),
            state: Mutex::new(State::default()),
        });
        let shutdown = CancellationToken::new();
        let this = Self {
            addr,
            relay,
            shutdown,
            listening: Mutex::new(None),
        };
        this.listen(listener);
        Ok(this)
    }

    /// Its URL (`ws://127.0.0.1:PORT`), the same across cuts.
    pub fn url(&self) -> String {
        format!("ws://{}", self.addr)
    }

    /// Drops every open connection and refuses new ones (the port is closed) until
    /// [`Self::restore`]. Returns once the port is closed.
    pub async fn cut(&self) {
        let listening = self
            .listening
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some((stop, accept)) = listening {
            stop.cancel();
            let _ = accept.await;
        }
    }

    /// Listens again on the same port (after a [`Self::cut`]).
    ///
    /// # Errors
    /// When the port cannot be bound again.
    pub async fn restore(&self) -> eyre::Result<()> {
        self.cut().await;
        let listener = bind(self.addr).wrap_err_with(|| format!("bind {} again", self.addr))?;
        self.listen(listener);
        Ok(())
    }

    /// While `refuse`, `eth_subscribe` gets "method not found" instead of reaching
    /// anvil.
    pub fn refuse_subscriptions(&self, refuse: bool) {
        lock(&self.relay.state).refuse_subscriptions = refuse;
    }

    /// What it has received so far.
    pub fn counts(&self) -> WsCounts {
        lock(&self.relay.state).counts.clone()
    }

    fn listen(&self, listener: TcpListener) {
        let stop = self.shutdown.child_token();
        let relay = self.relay.clone();
        let token = stop.clone();
        let accept = tokio::spawn(async move {
            loop {
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
                let stop = stop.clone();
                tokio::spawn(async move {
                    tokio::select! {
                        _ = relay.serve(stream) => {}
                        () = stop.cancelled() => {}
                    }
                });
            }
        });
        *self
            .listening
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some((token, accept));
    }
}

/// A listener on `addr` with `SO_REUSEADDR`, so a restore can take the port back.
fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(1024)
}

impl Relay {
    /// Relays one client connection to a new connection to the target.
    async fn serve(&self, stream: tokio::net::TcpStream) -> eyre::Result<()> {
        let client = tokio_tungstenite::accept_async(stream).await?;
        let (server, _) = tokio_tungstenite::connect_async(self.target.as_str()).await?;
        lock(&self.state).counts.connections += 1;
        let (mut to_client, mut from_client) = client.split();
        let (mut to_server, mut from_server) = server.split();
        loop {
            tokio::select! {
                message = from_client.next() => {
                    let Some(message) = message else { return Ok(()) };
                    let message = message?;
                    if let Message::Text(text) = &message
                        && let Some(answer) = self.record(text.as_str())
                    {
                        to_client.send(Message::text(answer.to_string())).await?;
                        continue;
                    }
                    if message.is_close() {
                        return Ok(());
                    }
                    to_server.send(message).await?;
                }
                message = from_server.next() => {
                    let Some(message) = message else { return Ok(()) };
                    let message = message?;
                    if message.is_close() {
                        return Ok(());
                    }
                    to_client.send(message).await?;
                }
            }
        }
    }

    /// Counts a client's message; the answer to send instead of forwarding it, if any
    /// (a refused `eth_subscribe`).
    fn record(&self, text: &str) -> Option<Value> {
        let body: Value = serde_json::from_str(text).unwrap_or(Value::Null);
        let mut state = lock(&self.state);
        state.counts.messages += 1;
        let calls: Vec<&Value> = match &body {
            Value::Array(items) => items.iter().collect(),
            single => vec![single],
        };
        for call in &calls {
            let method = call
                .get("method")
                .and_then(Value::as_str)
                .unwrap_or("<unparsable>");
            state.counts.calls += 1;
            *state.counts.methods.entry(method.to_owned()).or_default() += 1;
        }
        let refused = state.refuse_subscriptions
            && body.get("method").and_then(Value::as_str) == Some("eth_subscribe");
        refused.then(|| {
            json!({
                "jsonrpc": "2.0",
                "id": body.get("id").cloned().unwrap_or(Value::Null),
                "error": {"code": -32601, "message": "the method eth_subscribe does not exist/is not available"},
            })
        })
    }
}
