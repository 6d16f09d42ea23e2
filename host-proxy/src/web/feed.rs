//! The WebSocket feed (`/ws`): the full snapshot on connect, then every change.
//!
//! One hub task turns the mirrored state's updates into JSON once, so 10,000 clients
//! cost one serialization per event, not 10,000. Writing that text to every socket
//! is then the whole cost, so it is done by a few shard tasks (one per runtime
//! worker), each looping over its share of the clients and handing the message to
//! each socket in place: no task is woken, and no socket's read side polled, per
//! client per message. A client's own task sends its snapshot, reads (pings, close),
//! and finishes the writes its socket could not take at once; it is woken only for
//! those.
//!
//! Each client has a bounded queue ([`CLIENT_BACKLOG`] messages): a client that falls
//! further behind, or whose socket takes nothing for [`SEND_TIMEOUT`], is dropped with
//! a close frame and never slows the others. Connections are capped
//! ([`FeedSettings::max_clients`]); on shutdown every client gets a "going away"
//! close frame.

use std::{
    collections::VecDeque,
    pin::Pin,
    sync::{
        Arc, Mutex, MutexGuard, PoisonError,
        atomic::{AtomicUsize, Ordering},
    },
    task::{Context, Poll, Wake, Waker},
    time::{Duration, Instant},
};

use abi::{
    api::{FeedNotice, FeedSnapshot, ParticipantsSummary},
    state::{StateChange, StateEvent},
};
use alloy::primitives::Address;
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket, close_code};
use futures_util::{Sink, SinkExt, Stream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, broadcast};
use tokio_util::sync::CancellationToken;
use tracing::{debug, warn};

use crate::state::{HostState, Update};

/// Messages a client may fall behind before it is dropped: minutes of a busy
/// lottery. The shards' broadcast ring has the same length.
pub const CLIENT_BACKLOG: usize = 1024;

/// How long a client's socket may take no message while messages wait for it before
/// the client is considered stuck and dropped.
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

/// Clients a shard serves between two yields to the runtime, so a fan-out to
/// thousands of clients does not hold a worker from other tasks for its whole length.
const CLIENTS_PER_YIELD: usize = 256;

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
    /// Where new clients wait for their shard to take them in.
    shards: Arc<[Shard]>,
    /// Round-robin over the shards.
    next_shard: Arc<AtomicUsize>,
    /// The last snapshot serialized for a new client, by sequence number, so a burst
    /// of connections serializes it once.
    cached: Arc<Mutex<Option<(u64, Utf8Bytes)>>>,
    /// `ws_messages_sent_total`, looked up once.
    sent: metrics::Counter,
    shutdown: CancellationToken,
}

/// A shard's door: clients that connected since its last message.
#[derive(Debug, Default)]
struct Shard {
    joining: Mutex<Vec<Arc<Client>>>,
}

/// One connected client, shared by its own task and its shard.
#[derive(Debug)]
struct Client {
    conn: Mutex<Conn>,
    /// Notifies the client's task. Every poll of the socket, by the task or by the
    /// shard, is made with this waker, so the socket's readiness and the shard's
    /// requests all wake the one task that acts on them.
    waker: Waker,
    wakeup: Arc<Wakeup>,
}

#[derive(Debug, Default)]
struct Wakeup(Notify);

impl Wake for Wakeup {
    fn wake(self: Arc<Self>) {
        self.0.notify_one();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.notify_one();
    }
}

/// A client's socket and what is owed to it.
#[derive(Debug)]
struct Conn {
    /// Taken by the client's task when it leaves.
    ws: Option<WebSocket>,
    /// Sequence number of the last event or snapshot queued.
    last: u64,
    /// Messages the socket has not taken yet, oldest first.
    queue: VecDeque<Utf8Bytes>,
    /// A message was handed to the socket and not yet flushed.
    unflushed: bool,
    /// Since when the socket has refused more.
    blocked_since: Option<Instant>,
    /// Why the client must go (the metrics label), once it must.
    end: Option<&'static str>,
}

/// How one attempt to write went.
#[derive(Debug, Default)]
struct Written {
    /// Messages handed to the socket.
    sent: u64,
    /// The socket started refusing in this attempt: its task must time it.
    newly_blocked: bool,
}

impl Conn {
    fn new(ws: WebSocket) -> Self {
        Self {
            ws: Some(ws),
            last: 0,
            queue: VecDeque::new(),
            unflushed: false,
            blocked_since: None,
            end: None,
        }
    }

    /// The text to send this client for `outgoing`, if any, keeping `last` current.
    fn text_for(&mut self, outgoing: &Outgoing, feed: &Feed) -> Option<Utf8Bytes> {
        match outgoing {
            Outgoing::Event { seq, text } => {
                if *seq <= self.last {
                    // In the snapshot it already has.
                    None
                } else if *seq != self.last + 1 && self.last != 0 {
                    // A gap cannot happen without a lag; resend the state.
                    let (seq, text) = feed.snapshot_text()?;
                    self.last = seq;
                    Some(text)
                } else {
                    self.last = *seq;
                    Some(text.clone())
                }
            }
            Outgoing::Snapshot { seq, text } => {
                self.last = *seq;
                Some(text.clone())
            }
            Outgoing::Heartbeat(text) => Some(text.clone()),
        }
    }

    /// Queues `text` and writes what the socket takes now.
    fn push(&mut self, text: Utf8Bytes, cx: &mut Context<'_>) -> Written {
        if self.queue.len() >= CLIENT_BACKLOG {
            self.end = Some("slow");
            return Written::default();
        }
        self.queue.push_back(text);
        self.write(cx)
    }

    /// Hands queued messages to the socket, one write each, until the queue is empty
    /// or the socket refuses (then `cx` is woken when it can take more).
    fn write(&mut self, cx: &mut Context<'_>) -> Written {
        let mut written = Written::default();
        let Some(ws) = self.ws.as_mut() else {
            return written;
        };
        let mut ws = Pin::new(ws);
        // Whether the socket took a whole message in this attempt.
        let mut progressed = false;
        let refused = loop {
            if self.unflushed {
                match ws.as_mut().poll_flush(cx) {
                    Poll::Ready(Ok(())) => {
                        self.unflushed = false;
                        progressed = true;
                    }
                    Poll::Ready(Err(_)) => break Err(()),
                    Poll::Pending => break Ok(true),
                }
            }
            let Some(text) = self.queue.pop_front() else {
                break Ok(false);
            };
            match ws.as_mut().poll_ready(cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(_)) => break Err(()),
                Poll::Pending => {
                    self.queue.push_front(text);
                    break Ok(true);
                }
            }
            if ws.as_mut().start_send(Message::Text(text)).is_err() {
                break Err(());
            }
            self.unflushed = true;
            written.sent += 1;
        };
        match refused {
            Ok(true) => {
                written.newly_blocked = self.blocked_since.is_none();
                if written.newly_blocked || progressed {
                    // The send timeout counts from the last message the socket took.
                    self.blocked_since = Some(Instant::now());
                }
            }
            Ok(false) => self.blocked_since = None,
            Err(()) => self.end = Some("stuck"),
        }
        written
    }

    /// Reads everything the client sent; pings are answered by the WebSocket layer,
    /// text and binary messages mean nothing here and are ignored.
    fn read(&mut self, cx: &mut Context<'_>) {
        let Some(ws) = self.ws.as_mut() else {
            return;
        };
        let mut ws = Pin::new(ws);
        loop {
            match ws.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(Message::Close(_))) | None) => {
                    self.end = Some("closed");
                    return;
                }
                Poll::Ready(Some(Ok(_))) => {}
                Poll::Ready(Some(Err(_))) => {
                    self.end = Some("protocol_error");
                    return;
                }
                Poll::Pending => return,
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Feed {
    /// Starts the hub task and one shard task per runtime worker, which run until
    /// `shutdown`. Call inside the runtime.
    pub fn start(host: HostState, settings: FeedSettings, shutdown: CancellationToken) -> Self {
        let (tx, _) = broadcast::channel(CLIENT_BACKLOG);
        let workers = tokio::runtime::Handle::current().metrics().num_workers();
        let feed = Self {
            host,
            tx,
            slots: Arc::new(Semaphore::new(settings.max_clients)),
            shards: (0..workers.max(1)).map(|_| Shard::default()).collect(),
            next_shard: Arc::new(AtomicUsize::new(0)),
            cached: Arc::new(Mutex::new(None)),
            sent: metrics::counter!("ws_messages_sent_total"),
            shutdown,
        };
        for index in 0..feed.shards.len() {
            let rx = feed.tx.subscribe();
            // Unconstrained: every socket write would otherwise spend the task's
            // cooperative budget, and after 128 the writes would report a full socket.
            // The shard yields on its own every `CLIENTS_PER_YIELD` clients.
            tokio::spawn(tokio::task::unconstrained(feed.clone().shard(index, rx)));
        }
        tokio::spawn(feed.clone().hub());
        feed
    }

    /// A slot for a new client, or `None` at the cap.
    pub fn admit(&self) -> Option<OwnedSemaphorePermit> {
        Arc::clone(&self.slots).try_acquire_owned().ok()
    }

    async fn hub(self) {
        let (_, mut updates) = self.host.subscribe();
        let mut heartbeat = tokio::time::interval(HEARTBEAT_INTERVAL);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let outgoing = tokio::select! {
                () = self.shutdown.cancelled() => return,
                update = updates.recv() => match update {
                    Ok(Update::Event(event)) => match event_text(&event) {
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

    /// Writes every message to this shard's clients, taking in new ones first.
    async fn shard(self, index: usize, mut rx: broadcast::Receiver<Outgoing>) {
        let mut clients: Vec<Arc<Client>> = Vec::new();
        loop {
            let outgoing = tokio::select! {
                () = self.shutdown.cancelled() => return,
                outgoing = rx.recv() => match outgoing {
                    Ok(outgoing) => outgoing,
                    Err(broadcast::error::RecvError::Lagged(_)) => {
                        // The shard fell a whole ring behind: its clients get the
                        // current state instead of what it missed.
                        match self.snapshot_text() {
                            Some((seq, text)) => Outgoing::Snapshot { seq, text },
                            None => continue,
                        }
                    }
                    Err(broadcast::error::RecvError::Closed) => return,
                },
            };
            clients.append(&mut lock(&self.shards[index].joining));
            let mut sent = 0;
            let mut i = 0;
            let mut since_yield = 0;
            while let Some(client) = clients.get(i) {
                if self.deliver(client, &outgoing, &mut sent) {
                    i += 1;
                } else {
                    // Gone: its task has left or is leaving. Order does not matter.
                    clients.swap_remove(i);
                }
                since_yield += 1;
                if since_yield == CLIENTS_PER_YIELD {
                    since_yield = 0;
                    tokio::task::yield_now().await;
                }
            }
            self.sent.increment(sent);
        }
    }

    /// Queues `outgoing` for one client and writes it if the socket takes it; false
    /// once the client is gone.
    fn deliver(&self, client: &Client, outgoing: &Outgoing, sent: &mut u64) -> bool {
        let mut conn = lock(&client.conn);
        if conn.end.is_some() || conn.ws.is_none() {
            return false;
        }
        let Some(text) = conn.text_for(outgoing, self) else {
            return true;
        };
        let written = conn.push(text, &mut Context::from_waker(&client.waker));
        *sent += written.sent;
        if written.newly_blocked || conn.end.is_some() {
            // Its task times the blocked socket, or closes it.
            client.waker.wake_by_ref();
        }
        conn.end.is_none()
    }

    /// The current snapshot as a feed message (cached by sequence number).
    fn snapshot_text(&self) -> Option<(u64, Utf8Bytes)> {
        let snapshot = self.host.snapshot()?;
        let connected = self.host.status().connected;
        let mut cached = lock(&self.cached);
        if let Some((seq, text)) = cached.as_ref()
            && *seq == snapshot.seq
            && connected
        {
            return Some((*seq, text.clone()));
        }
        let notice = FeedNotice::Snapshot {
            seq: snapshot.seq,
            connected,
            data: Box::new(FeedSnapshot::of(&snapshot)),
        };
        let text: Utf8Bytes = serde_json::to_string(&notice).ok()?.into();
        if connected {
            *cached = Some((snapshot.seq, text.clone()));
        }
        Some((snapshot.seq, text))
    }

    /// The first message of a new client: the snapshot, or, with no state yet, a
    /// heartbeat saying so (an empty snapshot would be a lie); the client then waits
    /// for the first snapshot.
    fn first_text(&self) -> Option<(u64, Utf8Bytes)> {
        self.snapshot_text().or_else(|| {
            serde_json::to_string(&FeedNotice::Heartbeat {
                seq: 0,
                connected: false,
            })
            .ok()
            .map(|t| (0, t.into()))
        })
    }

    /// `player`'s stake as a feed message, as of the state's current `seq`.
    fn player_text(&self, player: Address) -> Option<Utf8Bytes> {
        let snapshot = self.host.snapshot()?;
        let notice = FeedNotice::Player {
            seq: snapshot.seq,
            data: super::rest::player_view(&snapshot, player),
        };
        serde_json::to_string(&notice).ok().map(Into::into)
    }

    /// Serves one client until it leaves, falls behind, or shutdown. With `player`,
    /// that player's stake follows the first snapshot.
    pub async fn serve(
        self,
        socket: WebSocket,
        permit: OwnedSemaphorePermit,
        player: Option<Address>,
    ) {
        metrics::gauge!("ws_clients").increment(1.0);
        let reason = self.client(socket, player).await;
        metrics::gauge!("ws_clients").decrement(1.0);
        metrics::counter!("ws_disconnects_total", "reason" => reason).increment(1);
        debug!(target: "host_proxy::feed", reason, "WebSocket client left");
        drop(permit);
    }

    async fn client(&self, socket: WebSocket, player: Option<Address>) -> &'static str {
        let wakeup = Arc::new(Wakeup::default());
        let client = Arc::new(Client {
            conn: Mutex::new(Conn::new(socket)),
            waker: Waker::from(Arc::clone(&wakeup)),
            wakeup,
        });
        {
            // Join a shard, then read and queue the snapshot, under the client's lock:
            // the shard cannot write to it in between, and every event after the
            // snapshot reaches the shard after the client joined (the state changes
            // before the hub sends), while older ones are skipped by sequence number.
            let mut conn = lock(&client.conn);
            let shard = self.next_shard.fetch_add(1, Ordering::Relaxed) % self.shards.len();
            lock(&self.shards[shard].joining).push(Arc::clone(&client));
            let Some((seq, text)) = self.first_text() else {
                conn.end = Some("internal");
                return "internal";
            };
            conn.last = seq;
            let mut cx = Context::from_waker(&client.waker);
            let mut written = conn.push(text, &mut cx).sent;
            // Read under the same lock as the snapshot's seq: a bet after it arrives
            // as a stake update (the shard cannot write in between).
            if let Some(text) = player.and_then(|p| self.player_text(p)) {
                written += conn.push(text, &mut cx).sent;
            }
            self.sent.increment(written);
        }
        // Made once: a fresh `cancelled()` per wake-up would join and leave the
        // token's waiter list (a shared lock) every time.
        let shutdown = self.shutdown.cancelled();
        tokio::pin!(shutdown);
        loop {
            // Read what arrived and write what waits; both register the client's waker
            // with the socket for what comes next.
            let next = {
                let mut conn = lock(&client.conn);
                let mut cx = Context::from_waker(&client.waker);
                conn.read(&mut cx);
                if conn.end.is_none() {
                    self.sent.increment(conn.write(&mut cx).sent);
                }
                if conn.end.is_none()
                    && conn
                        .blocked_since
                        .is_some_and(|since| since.elapsed() >= SEND_TIMEOUT)
                {
                    conn.end = Some("stuck");
                }
                match conn.end {
                    Some(reason) => Err((reason, conn.ws.take())),
                    None => Ok(conn.blocked_since.map(|since| since + SEND_TIMEOUT)),
                }
            };
            let deadline = match next {
                Ok(deadline) => deadline,
                Err((reason, ws)) => return leave(reason, ws).await,
            };
            let timed_out = async {
                match deadline {
                    Some(at) => tokio::time::sleep_until(at.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                () = &mut shutdown => {
                    let ws = {
                        let mut conn = lock(&client.conn);
                        conn.end = Some("shutdown");
                        conn.ws.take()
                    };
                    return leave("shutdown", ws).await;
                }
                () = client.wakeup.0.notified() => {}
                () = timed_out => {}
            }
        }
    }
}

/// An event as the feed sends it: as it is, but a participant list replaced (whole on
/// the control channel) goes as its bounded summary, so no feed message grows with the
/// number of players.
fn event_text(event: &StateEvent) -> serde_json::Result<String> {
    match &event.change {
        StateChange::ParticipantsReset(list) => {
            serde_json::to_string(&FeedNotice::ParticipantsReset {
                seq: event.seq,
                data: ParticipantsSummary::of(list),
            })
        }
        _ => serde_json::to_string(event),
    }
}

/// Closes a departing client's socket as `reason` deserves: a close frame saying why
/// when it fell behind or on shutdown, the reply to its close frame when it closed.
async fn leave(reason: &'static str, ws: Option<WebSocket>) -> &'static str {
    let Some(mut ws) = ws else {
        return reason;
    };
    let close = |code, reason: &'static str| {
        Message::Close(Some(CloseFrame {
            code,
            reason: reason.into(),
        }))
    };
    let _ = match reason {
        "slow" => {
            tokio::time::timeout(
                SEND_TIMEOUT,
                ws.send(close(
                    close_code::POLICY,
                    "too slow: reconnect for a fresh snapshot",
                )),
            )
            .await
        }
        "shutdown" => {
            tokio::time::timeout(
                SEND_TIMEOUT,
                ws.send(close(close_code::AWAY, "server shutting down")),
            )
            .await
        }
        "closed" => tokio::time::timeout(SEND_TIMEOUT, ws.flush()).await,
        _ => Ok(Ok(())),
    };
    reason
}
