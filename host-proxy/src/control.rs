//! The control client: host-proxy's end of the control channel.
//!
//! It connects to enclave-app (retrying with capped exponential backoff for as long as
//! it runs), exchanges `Hello`s, takes the snapshot, and folds every numbered event
//! into the [`HostState`]. An event that does not follow, or a heartbeat announcing
//! another sequence number than the one held, means the two have lost step: the
//! client asks for a new snapshot and ignores events until it arrives. Requests from
//! the web API are relayed with ids through [`ControlHandle`] and time out after
//! [`REQUEST_TIMEOUT`].
//!
//! Either side may restart at any time: the client reconnects and the state
//! converges from the next snapshot.

use std::{collections::HashMap, time::Duration};

use abi::control::{
    EnclaveMessage, HANDSHAKE_TIMEOUT, HEARTBEAT_INTERVAL, HostCodec, HostMessage, PEER_TIMEOUT,
    PROTOCOL_VERSION, Request, RequestError, Response, SessionEnd, send_message,
};

use futures_util::StreamExt;
use net::{Endpoint, Stream};
use tokio::{
    sync::{mpsc, oneshot},
    time::Instant,
};
use tokio_util::{codec::Framed, sync::CancellationToken};
use tracing::{debug, info, warn};

use crate::state::HostState;

/// First pause after a failed connection attempt.
pub const BACKOFF_INITIAL: Duration = Duration::from_millis(100);

/// Longest pause between attempts: a restarted enclave is found within seconds,
/// while a missing one costs one connect attempt per interval.
pub const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// How long a relayed request waits for its answer. Attestation takes milliseconds
/// on the NSM; this bounds a web request when the enclave hangs.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// Relayed requests queued for the connection task. Web handlers that find it full
/// are told the enclave is busy rather than queued without bound.
pub const REQUEST_QUEUE: usize = 64;

/// Why a relayed request got no answer from the enclave.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RelayError {
    /// The request failed the size checks; not relayed.
    #[error("{0}")]
    Invalid(RequestError),
    /// The control channel is down.
    #[error("the enclave is not connected")]
    Unavailable,
    /// Too many requests are queued.
    #[error("too many requests in flight; try again")]
    Busy,
    /// The channel went down before the answer came.
    #[error("the connection to the enclave closed before it answered")]
    Disconnected,
    /// No answer within [`REQUEST_TIMEOUT`].
    #[error("the enclave did not answer within {} s", REQUEST_TIMEOUT.as_secs())]
    Timeout,
    /// The enclave answered with an error.
    #[error("{0}")]
    Enclave(RequestError),
}

struct Relay {
    request: Request,
    reply: oneshot::Sender<Result<Response, RelayError>>,
}

/// Relays requests to the enclave; cheap to clone.
#[derive(Debug, Clone)]
pub struct ControlHandle {
    requests: mpsc::Sender<Relay>,
    state: HostState,
}

impl std::fmt::Debug for Relay {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Relay({})", self.request.name())
    }
}

impl ControlHandle {
    /// Sends `request` to the enclave and waits for its answer.
    ///
    /// # Errors
    /// [`RelayError`]: invalid, the channel down or busy, or the enclave's refusal.
    pub async fn request(&self, request: Request) -> Result<Response, RelayError> {
        request.validate().map_err(RelayError::Invalid)?;
        if !self.state.status().connected {
            return Err(RelayError::Unavailable);
        }
        let (reply, answer) = oneshot::channel();
        self.requests
            .try_send(Relay { request, reply })
            .map_err(|e| match e {
                mpsc::error::TrySendError::Full(_) => RelayError::Busy,
                mpsc::error::TrySendError::Closed(_) => RelayError::Unavailable,
            })?;
        match tokio::time::timeout(REQUEST_TIMEOUT, answer).await {
            Ok(Ok(result)) => result,
            Ok(Err(_)) => Err(RelayError::Disconnected),
            Err(_) => Err(RelayError::Timeout),
        }
    }
}

/// The client task's configuration and inputs; [`ControlClient::run`] drives it.
#[derive(Debug)]
pub struct ControlClient {
    endpoint: Endpoint,
    state: HostState,
    requests: mpsc::Receiver<Relay>,
}

/// A client for the enclave at `endpoint` feeding `state`, and the handle that relays
/// requests through it.
pub fn client(endpoint: Endpoint, state: HostState) -> (ControlClient, ControlHandle) {
    let (tx, rx) = mpsc::channel(REQUEST_QUEUE);
    (
        ControlClient {
            endpoint,
            state: state.clone(),
            requests: rx,
        },
        ControlHandle {
            requests: tx,
            state,
        },
    )
}

impl ControlClient {
    /// Connects, follows the state, and reconnects after every failure, until
    /// `shutdown`.
    pub async fn run(mut self, shutdown: CancellationToken) {
        let mut backoff = BACKOFF_INITIAL;
        let mut attempts_failed = 0u64;
        loop {
            let connected = tokio::select! {
                () = shutdown.cancelled() => return,
                connected = self.endpoint.connect() => connected,
            };
            match connected {
                Ok(stream) => {
                    attempts_failed = 0;
                    let started = Instant::now();
                    let end = self.session(stream, &shutdown).await;
                    self.state.disconnected();
                    if matches!(end, SessionEnd::Shutdown) {
                        return;
                    }
                    warn!(
                        target: "host_proxy::control",
                        enclave = %self.endpoint,
                        reason = %end,
                        "control channel down; reconnecting"
                    );
                    // A session that got going earns a quick reconnect; one that
                    // failed at once backs off like a refused connect.
                    if started.elapsed() > PEER_TIMEOUT {
                        backoff = BACKOFF_INITIAL;
                    }
                }
                Err(e) => {
                    attempts_failed += 1;
                    // The first failure and then every tenth, so a missing enclave
                    // does not flood the log.
                    if attempts_failed % 10 == 1 {
                        warn!(
                            target: "host_proxy::control",
                            error = %e,
                            attempts = attempts_failed,
                            "cannot reach the enclave's control channel; retrying"
                        );
                    }
                }
            }
            if !self.pause(backoff, &shutdown).await {
                return;
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    /// Waits `duration`, refusing relayed requests meanwhile. `false` on shutdown.
    async fn pause(&mut self, duration: Duration, shutdown: &CancellationToken) -> bool {
        let deadline = tokio::time::sleep(duration);
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return false,
                () = &mut deadline => return true,
                Some(relay) = self.requests.recv() => {
                    let _ = relay.reply.send(Err(RelayError::Unavailable));
                }
            }
        }
    }

    /// One connection, from `Hello` to close.
    async fn session(&mut self, stream: Stream, shutdown: &CancellationToken) -> SessionEnd {
        let mut conn = Framed::new(stream, HostCodec::default());
        let hello = HostMessage::Hello {
            protocol_version: PROTOCOL_VERSION,
        };
        if let Err(end) = send_message(&mut conn, hello).await {
            return end;
        }
        let hello = tokio::select! {
            () = shutdown.cancelled() => return SessionEnd::Shutdown,
            first = tokio::time::timeout(HANDSHAKE_TIMEOUT, conn.next()) => match first {
                Err(_) => return SessionEnd::NoHello,
                Ok(None) => return SessionEnd::Closed,
                Ok(Some(Err(e))) => return e.into(),
                Ok(Some(Ok(EnclaveMessage::Hello(hello)))) => hello,
                Ok(Some(Ok(_))) => return SessionEnd::NotHello,
            },
        };
        if hello.protocol_version != PROTOCOL_VERSION {
            return SessionEnd::Version(hello.protocol_version);
        }
        info!(
            target: "host_proxy::control",
            enclave = %self.endpoint,
            version = %hello.app_version,
            "control channel up"
        );
        self.state.connected(&hello);

        let mut next_id: u64 = 0;
        let mut pending: HashMap<u64, oneshot::Sender<Result<Response, RelayError>>> =
            HashMap::new();
        // Events are ignored until a snapshot arrives (the first one comes unasked).
        let mut awaiting_snapshot = true;
        let mut heartbeat = tokio::time::interval(HEARTBEAT_INTERVAL);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_heard = Instant::now();
        loop {
            let outgoing = tokio::select! {
                () = shutdown.cancelled() => return SessionEnd::Shutdown,
                frame = conn.next() => {
                    last_heard = Instant::now();
                    let message = match frame {
                        None => return SessionEnd::Closed,
                        Some(Err(e)) => return e.into(),
                        Some(Ok(message)) => message,
                    };
                    match message {
                        EnclaveMessage::Hello(_) => return SessionEnd::SecondHello,
                        EnclaveMessage::Snapshot(snapshot) => {
                            debug!(target: "host_proxy::control", seq = snapshot.seq, "snapshot");
                            self.state.replace(*snapshot);
                            awaiting_snapshot = false;
                            continue;
                        }
                        EnclaveMessage::Event(event) => {
                            if awaiting_snapshot {
                                continue;
                            }
                            let seq = event.seq;
                            match self.state.apply(event) {
                                Ok(()) => continue,
                                Err(gap) => {
                                    warn!(target: "host_proxy::control", error = %gap, seq, "state events out of step; asking for a snapshot");
                                    awaiting_snapshot = true;
                                    HostMessage::Resync
                                }
                            }
                        }
                        EnclaveMessage::Heartbeat { seq } => {
                            let held = self.state.status().seq;
                            if awaiting_snapshot || held == Some(seq) {
                                continue;
                            }
                            warn!(target: "host_proxy::control", enclave_seq = seq, held_seq = ?held, "heartbeat announces another state; asking for a snapshot");
                            awaiting_snapshot = true;
                            HostMessage::Resync
                        }
                        EnclaveMessage::Response { id, result } => {
                            match pending.remove(&id) {
                                Some(reply) => {
                                    let _ = reply.send(result.map_err(RelayError::Enclave));
                                }
                                None => debug!(target: "host_proxy::control", id, "answer to a request nobody waits for"),
                            }
                            continue;
                        }
                    }
                }
                Some(relay) = self.requests.recv() => {
                    next_id = next_id.wrapping_add(1);
                    // Requests whose caller gave up are dropped here, so the map
                    // cannot grow with timed-out requests.
                    pending.retain(|_, reply| !reply.is_closed());
                    pending.insert(next_id, relay.reply);
                    HostMessage::Request { id: next_id, request: relay.request }
                }
                _ = heartbeat.tick() => {
                    if last_heard.elapsed() > PEER_TIMEOUT {
                        return SessionEnd::Silent;
                    }
                    HostMessage::Heartbeat
                }
            };
            if let Err(end) = send_message(&mut conn, outgoing).await {
                return end;
            }
        }
    }
}
