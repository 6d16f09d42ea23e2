//! The control server: where host-proxy connects to follow the mirrored state and to
//! relay requests (attestation documents, sealed operator keys).
//!
//! Per connection: both sides say `Hello` (a different protocol version closes the
//! connection), then the host gets a snapshot and every later state event, numbered;
//! when this connection falls behind the store's event buffer, or the host asks
//! (`Resync`), it gets a fresh snapshot instead. Heartbeats flow both ways; a host
//! silent for [`PEER_TIMEOUT`] or not reading for as long is dropped. Requests are
//! answered concurrently (at most [`MAX_PENDING_REQUESTS`] per connection) by a
//! [`RequestHandler`], and the answers carry the request's id.
//!
//! Nothing a peer sends can stop the server: malformed frames close that connection
//! with a logged reason, and connections beyond [`MAX_CONNECTIONS`] are closed at once.

use std::{future::Future, pin::Pin, sync::Arc, time::Instant};

use abi::control::{
    EnclaveCodec, EnclaveHello, EnclaveMessage, HANDSHAKE_TIMEOUT, HEARTBEAT_INTERVAL, HostMessage,
    PEER_TIMEOUT, PROTOCOL_VERSION, Request, RequestError, Response, SessionEnd, send_message,
};

use futures_util::{StreamExt, stream::FuturesUnordered};
use net::{Endpoint, EndpointError, Listener, Stream};
use tokio::sync::{Semaphore, broadcast::error::RecvError};
use tokio_util::{codec::Framed, sync::CancellationToken, task::TaskTracker};
use tracing::{debug, info, warn};

use crate::store::Store;

/// Control connections served at once. One host-proxy needs one; a few more allow a
/// restarted host-proxy to connect before the old connection has timed out, and a
/// debugging client beside it. Each costs a snapshot clone and a task.
pub const MAX_CONNECTIONS: usize = 4;

/// Requests in flight per connection. Attestation takes milliseconds; more than a
/// handful at once from one host is a misbehaving host, answered with a refusal.
pub const MAX_PENDING_REQUESTS: usize = 8;

/// Answers the requests the host relays. Attestation and key injection plug in here.
pub trait RequestHandler: Send + Sync + 'static {
    /// Answers one request (already size-checked with [`Request::validate`]).
    fn handle(
        &self,
        request: Request,
    ) -> Pin<Box<dyn Future<Output = Result<Response, RequestError>> + Send + '_>>;
}

/// The handler of a build without attestation: every request is answered, with a
/// clear "unsupported" error.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoAttestation;

impl RequestHandler for NoAttestation {
    fn handle(
        &self,
        request: Request,
    ) -> Pin<Box<dyn Future<Output = Result<Response, RequestError>> + Send + '_>> {
        Box::pin(async move {
            Err(RequestError::unsupported(format!(
                "{} requests are not served by this enclave-app build",
                request.name()
            )))
        })
    }
}

/// The bound control server.
pub struct ControlServer {
    listener: Listener,
    store: Store,
    handler: Arc<dyn RequestHandler>,
    limit: Arc<Semaphore>,
}

impl std::fmt::Debug for ControlServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlServer")
            .field("listen", self.listener.local())
            .finish_non_exhaustive()
    }
}

impl ControlServer {
    /// A server on `listener` (from [`Endpoint::listen`]) publishing `store`.
    pub fn new(listener: Listener, store: Store, handler: Arc<dyn RequestHandler>) -> Self {
        Self {
            listener,
            store,
            handler,
            limit: Arc::new(Semaphore::new(MAX_CONNECTIONS)),
        }
    }

    /// Binds `endpoint`.
    ///
    /// # Errors
    /// [`EndpointError::Listen`] when it cannot be bound.
    pub async fn bind(
        endpoint: &Endpoint,
        store: Store,
        handler: Arc<dyn RequestHandler>,
    ) -> Result<Self, EndpointError> {
        Ok(Self::new(endpoint.listen().await?, store, handler))
    }

    /// Where it listens (the real port when port 0 was asked for).
    pub const fn local(&self) -> &Endpoint {
        self.listener.local()
    }

    /// Serves connections until `shutdown`; open connections are closed then too.
    pub async fn run(self, shutdown: CancellationToken) {
        info!(target: "enclave_app::control", listen = %self.local(), "control channel listening");
        let connections = TaskTracker::new();
        loop {
            let accepted = tokio::select! {
                () = shutdown.cancelled() => break,
                accepted = self.listener.accept() => accepted,
            };
            let (stream, peer) = match accepted {
                Ok(connection) => connection,
                Err(e) => {
                    // Transient (a reset before accept, a full file table): keep going
                    // after a pause, so a burst cannot spin the loop.
                    warn!(target: "enclave_app::control", error = %e, "accept failed");
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                    continue;
                }
            };
            let Ok(permit) = Arc::clone(&self.limit).try_acquire_owned() else {
                warn!(
                    target: "enclave_app::control",
                    %peer,
                    max = MAX_CONNECTIONS,
                    "control connection refused: too many connections"
                );
                drop(stream);
                continue;
            };
            let store = self.store.clone();
            let handler = Arc::clone(&self.handler);
            let shutdown = shutdown.clone();
            connections.spawn(async move {
                info!(target: "enclave_app::control", %peer, "host connected");
                let end = serve(stream, &store, handler, &shutdown).await;
                match end {
                    SessionEnd::Shutdown | SessionEnd::Closed => {
                        info!(target: "enclave_app::control", %peer, reason = %end, "control connection closed");
                    }
                    _ => {
                        warn!(target: "enclave_app::control", %peer, reason = %end, "control connection closed");
                    }
                }
                drop(permit);
            });
        }
        connections.close();
        connections.wait().await;
    }
}

type Pending = FuturesUnordered<Pin<Box<dyn Future<Output = EnclaveMessage> + Send>>>;

/// One connection, from `Hello` to close.
async fn serve(
    stream: Stream,
    store: &Store,
    handler: Arc<dyn RequestHandler>,
    shutdown: &CancellationToken,
) -> SessionEnd {
    let mut conn = Framed::new(stream, EnclaveCodec::default());
    let hello = EnclaveMessage::Hello(EnclaveHello {
        protocol_version: PROTOCOL_VERSION,
        app_version: env!("CARGO_PKG_VERSION").to_owned(),
        limits: store.limits(),
    });
    if let Err(end) = send_message(&mut conn, hello).await {
        return end;
    }
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, conn.next()).await {
        Err(_) => return SessionEnd::NoHello,
        Ok(None) => return SessionEnd::Closed,
        Ok(Some(Err(e))) => return e.into(),
        Ok(Some(Ok(HostMessage::Hello { protocol_version }))) => {
            if protocol_version != PROTOCOL_VERSION {
                return SessionEnd::Version(protocol_version);
            }
        }
        Ok(Some(Ok(_))) => return SessionEnd::NotHello,
    }

    let (snapshot, mut events) = store.subscribe();
    // The sequence number of the last state sent on this connection: heartbeats
    // carry it, so the host can check that it holds exactly that state.
    let mut sent_seq = snapshot.seq;
    if let Err(end) = send_message(&mut conn, EnclaveMessage::Snapshot(Box::new(snapshot))).await {
        return end;
    }
    let mut pending: Pending = FuturesUnordered::new();
    let mut heartbeat = tokio::time::interval(HEARTBEAT_INTERVAL);
    heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_heard = Instant::now();
    loop {
        let outgoing = tokio::select! {
            () = shutdown.cancelled() => return SessionEnd::Shutdown,
            frame = conn.next() => {
                last_heard = Instant::now();
                match frame {
                    None => return SessionEnd::Closed,
                    Some(Err(e)) => return e.into(),
                    Some(Ok(HostMessage::Heartbeat)) => continue,
                    Some(Ok(HostMessage::Hello { .. })) => return SessionEnd::SecondHello,
                    Some(Ok(HostMessage::Resync)) => {
                        debug!(target: "enclave_app::control", "host asked for a snapshot");
                        let (snapshot, fresh) = store.subscribe();
                        events = fresh;
                        EnclaveMessage::Snapshot(Box::new(snapshot))
                    }
                    Some(Ok(HostMessage::Request { id, request })) => {
                        if let Err(e) = request.validate() {
                            EnclaveMessage::Response { id, result: Err(e) }
                        } else if pending.len() >= MAX_PENDING_REQUESTS {
                            EnclaveMessage::Response {
                                id,
                                result: Err(RequestError::refused(format!(
                                    "more than {MAX_PENDING_REQUESTS} requests in flight"
                                ))),
                            }
                        } else {
                            let handler = Arc::clone(&handler);
                            pending.push(Box::pin(async move {
                                let result = handler.handle(request).await;
                                EnclaveMessage::Response { id, result }
                            }));
                            continue;
                        }
                    }
                }
            }
            Some(response) = pending.next(), if !pending.is_empty() => response,
            event = events.recv() => match event {
                Ok(event) => EnclaveMessage::Event(event),
                Err(RecvError::Lagged(missed)) => {
                    // This host fell more than the buffer behind: a snapshot replaces
                    // the events it missed.
                    warn!(target: "enclave_app::control", missed, "host fell behind; sending a snapshot");
                    let (snapshot, fresh) = store.subscribe();
                    events = fresh;
                    EnclaveMessage::Snapshot(Box::new(snapshot))
                }
                Err(RecvError::Closed) => return SessionEnd::Shutdown,
            },
            _ = heartbeat.tick() => {
                if last_heard.elapsed() > PEER_TIMEOUT {
                    return SessionEnd::Silent;
                }
                EnclaveMessage::Heartbeat { seq: sent_seq }
            }
        };
        match &outgoing {
            EnclaveMessage::Snapshot(snapshot) => sent_seq = snapshot.seq,
            EnclaveMessage::Event(event) => sent_seq = event.seq,
            _ => {}
        }
        if let Err(end) = send_message(&mut conn, outgoing).await {
            return end;
        }
    }
}
