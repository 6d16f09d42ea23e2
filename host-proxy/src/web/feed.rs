//! The WebSocket feed (`/ws`): the full snapshot on connect, then every change.
//!
//! One hub task turns the mirrored state's updates into JSON once and broadcasts the
//! text to every client, so 10,000 clients cost one serialization per event, not
//! 10,000. Each client has its own task and a bounded place in the broadcast ring
//! ([`CLIENT_BACKLOG`] messages): a client that falls further behind, or does not
//! take a message within [`SEND_TIMEOUT`], is dropped with a close frame and never
//! slows the others. Connections are capped ([`FeedSettings::max_clients`]); on
//! shutdown every client gets a "going away" close frame.

use std::{
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use abi::api::FeedNotice;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, broadcast};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::state::{HostState, Update};

/// Messages a client may fall behind before it is dropped: minutes of a busy
/// lottery, while the ring stays a few hundred KB however many clients there are.
pub const CLIENT_BACKLOG: usize = 1024;

/// How long one message may take to hand to a client's socket before the client is
/// considered stuck and dropped.
pub const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// Between heartbeats on the feed: well under the 30-60 s idle timeouts of common
/// proxies, so connections through them stay open.
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(15);

/// Largest message accepted from a client. Clients only ever send close frames and
/// pings; anything large is abuse.
pub const MAX_CLIENT_MESSAGE_BYTES: usize = 4096;

/// Read buffer per client: a close frame or a ping fits; a larger message is read
/// in several chunks.
pub const CLIENT_READ_BUFFER_BYTES: usize = 256;

/// Default cap on open WebSocket connections: above the 10,000 the benchmark holds,
/// below what the file-descriptor limit of a default systemd unit (524,288) allows.
pub const DEFAULT_MAX_CLIENTS: usize = 16_384;

/// Feed limits.
#[derive(Debug, Clone, Copy)]
pub struct FeedSettings {
    /// Open WebSocket connections at most.
    pub max_clients: usize,
}

impl Default for FeedSettings {
    fn default() -> Self {
        Self {
            max_clients: DEFAULT_MAX_CLIENTS,
        }
    }
}

/// One broadcast message: its sequence number (for events; snapshots reset it) and
/// its JSON text.
#[derive(Debug, Clone)]
enum Outgoing {
    Event { seq: u64, text: Utf8Bytes },
    Snapshot { seq: u64, text: Utf8Bytes },
    Heartbeat(Utf8Bytes),
}

/// The feed: shared by the handlers.
#[derive(Debug, Clone)]
pub struct Feed {
    host: HostState,
    tx: broadcast::Sender<Outgoing>,
    slots: Arc<Semaphore>,
    /// The last snapshot serialized for a new client, by sequence number, so a burst
    /// of connections serializes it once.
    cached: Arc<Mutex<Option<(u64, Utf8Bytes)>>>,
    /// `ws_messages_sent_total`, looked up once: the macro's per-call registry lookup
    /// would run 10,000 times per event at 10,000 clients.
    sent: metrics::Counter,
    shutdown: CancellationToken,
}

impl Feed {
    /// Starts the hub task, which runs until `shutdown`.
    pub fn start(host: HostState, settings: FeedSettings, shutdown: CancellationToken) -> Self {
        let (tx, _) = broadcast::channel(CLIENT_BACKLOG);
        let feed = Self {
            host,
            tx,
            slots: Arc::new(Semaphore::new(settings.max_clients)),
            cached: Arc::new(Mutex::new(None)),
            sent: metrics::counter!("ws_messages_sent_total"),
            shutdown,
        };
        tokio::spawn(feed.clone().hub());
        feed
    }

    /// A slot for a new client, or `None` at the cap.
    pub fn admit(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.slots).try_acquire_owned().ok()
    }

    /// Clients connected now.
    pub fn clients(&self) -> usize {
        self.tx.receiver_count()
    }

    async fn hub(self) {
        let (_, mut updates) = self.host.subscribe();
        let mut heartbeat = tokio::time::interval(HEARTBEAT_INTERVAL);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let outgoing = tokio::select! {
                () = self.shutdown.cancelled() => return,
                update = updates.recv() => match update {
                    Ok(Update::Event(event)) => match serde_json::to_string(&event) {
                        Ok(text) => Outgoing::Event { seq: event.seq, text: text.into() },
                        Err(e) => {
                            warn!(target: "host_proxy::feed", error = %e, "cannot serialize an event");
                            continue;
                        }
                    },
                    Ok(Update::Snapshot(_) | Update::Connection(_)) => match self.snapshot_text() {
                        Some((seq, text)) => Outgoing::Snapshot { seq, text },
                        None => continue,
                    },
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // The hub itself fell behind the state: send everyone the
                        // current snapshot instead of the events it missed.
                        updates = updates.resubscribe();
                        match self.snapshot_text() {
                            Some((seq, text)) => Outgoing::Snapshot { seq, text },
                            None => continue,
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
                _ = heartbeat.tick() => {
                    let status = self.host.status();
                    let notice = FeedNotice::Heartbeat {
                        seq: status.seq.unwrap_or(0),
                        connected: status.connected,
                    };
                    match serde_json::to_string(&notice) {
                        Ok(text) => Outgoing::Heartbeat(text.into()),
                        Err(_) => continue,
                    }
                }
            };
            // No receivers is fine: nobody is connected.
            let _ = self.tx.send(outgoing);
        }
    }

    /// The current snapshot as a feed message (cached by sequence number).
    fn snapshot_text(&self) -> Option<(u64, Utf8Bytes)> {
        let snapshot = self.host.snapshot()?;
        let connected = self.host.status().connected;
        let mut cached = self.cached.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some((seq, text)) = cached.as_ref()
            && *seq == snapshot.seq
            && connected
        {
            return Some((*seq, text.clone()));
        }
        let notice = FeedNotice::Snapshot {
            seq: snapshot.seq,
            connected,
            data: Box::new(abi::state::Snapshot::clone(&snapshot)),
        };
        let text: Utf8Bytes = serde_json::to_string(&notice).ok()?.into();
        if connected {
            *cached = Some((snapshot.seq, text.clone()));
        }
        Some((snapshot.seq, text))
    }

    /// Serves one client until it leaves, falls behind, or shutdown.
    pub async fn serve(self, socket: WebSocket, permit: OwnedSemaphorePermit) {
        metrics::gauge!("ws_clients").increment(1.0);
        let reason = self.client(socket).await;
        metrics::gauge!("ws_clients").decrement(1.0);
        metrics::counter!("ws_disconnects_total", "reason" => reason).increment(1);
        debug!(target: "host_proxy::feed", reason, "WebSocket client left");
        drop(permit);
    }

    async fn client(&self, mut socket: WebSocket) -> &'static str {
        // One task owns the whole socket (no split halves sharing a lock): the
        // select's futures are dropped before a branch runs, so the branch may send.
        // Subscribe before reading the snapshot: every event after it is then in
        // `rx`, and older ones are skipped by their sequence number.
        let mut rx = self.tx.subscribe();
        let Some((mut last, text)) = self.snapshot_text().or_else(|| {
            // No state yet: an empty snapshot would be a lie; say so with a
            // heartbeat and wait for the first snapshot.
            serde_json::to_string(&FeedNotice::Heartbeat {
                seq: 0,
                connected: false,
            })
            .ok()
            .map(|t| (0, t.into()))
        }) else {
            return "internal";
        };
        if !self.send(&mut socket, text).await {
            return "stuck";
        }
        // Made once: a fresh `cancelled()` per message would join and leave the
        // token's waiter list (a shared lock) for every client on every event.
        let shutdown = self.shutdown.cancelled();
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                () = &mut shutdown => {
                    let _ = socket.send(Message::Close(Some(CloseFrame {
                        code: close_code::AWAY,
                        reason: "server shutting down".into(),
                    }))).await;
                    return "shutdown";
                }
                incoming = socket.recv() => match incoming {
                    // Pings are answered by the WebSocket layer; text and binary
                    // messages mean nothing here and are ignored.
                    Some(Ok(Message::Close(_))) | None => return "closed",
                    Some(Ok(_)) => {}
                    Some(Err(_)) => return "protocol_error",
                },
                outgoing = rx.recv() => {
                    let text = match outgoing {
                        Ok(Outgoing::Event { seq, text }) => {
                            if seq <= last {
                                continue;
                            }
                            if seq != last + 1 && last != 0 {
                                // A gap cannot happen without a lag; resend the state.
                                match self.snapshot_text() {
                                    Some((seq, text)) => { last = seq; text }
                                    None => continue,
                                }
                            } else {
                                last = seq;
                                text
                            }
                        }
                        Ok(Outgoing::Snapshot { seq, text }) => {
                            last = seq;
                            text
                        }
                        Ok(Outgoing::Heartbeat(text)) => text,
                        Err(broadcast::error::RecvError::Lagged(_)) => {
                            let _ = socket.send(Message::Close(Some(CloseFrame {
                                code: close_code::POLICY,
                                reason: "too slow: reconnect for a fresh snapshot".into(),
                            }))).await;
                            return "slow";
                        }
                        Err(broadcast::error::RecvError::Closed) => return "shutdown",
                    };
                    if !self.send(&mut socket, text).await {
                        return "stuck";
                    }
                }
            }
        }
    }

    async fn send(&self, socket: &mut WebSocket, text: Utf8Bytes) -> bool {
        match tokio::time::timeout(SEND_TIMEOUT, socket.send(Message::Text(text))).await {
            Ok(Ok(())) => {
                self.sent.increment(1);
                true
            }
            _ => false,
        }
    }
}
