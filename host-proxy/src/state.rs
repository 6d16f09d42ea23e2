//! The state host-proxy serves: the enclave's snapshot, kept current by folding the
//! control channel's events with the same function the enclave's store uses
//! ([`abi::state::apply`]), plus whether the channel is up.
//!
//! Subscribers (the WebSocket feed) take the snapshot and a receiver of [`Update`]s in
//! one step, so none falls between the two.

use std::{
    sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard},
    time::Instant,
};

use abi::{
    control::EnclaveHello,
    state::{OperatorStatus, OutOfSequence, Snapshot, StateChange, StateEvent, StateLimits, apply},
};
use tokio::sync::broadcast;

/// Updates buffered per subscriber. A subscriber further behind gets
/// `RecvError::Lagged` and takes a new snapshot. 1,024 events is minutes of a busy
/// lottery, and each is small.
pub const UPDATE_CAPACITY: usize = 1024;

/// A change subscribers hear about.
#[derive(Debug, Clone, PartialEq)]
// Events are the common case; boxing each would cost an allocation per event.
#[allow(clippy::large_enum_variant)]
pub enum Update {
    /// The whole state was replaced (a new connection or a resync).
    Snapshot(Arc<Snapshot>),
    /// One event, already applied.
    Event(StateEvent),
    /// The control channel went up (`true`) or down (`false`).
    Connection(bool),
}

/// The control channel as the web API reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelStatus {
    /// Whether the channel is up and the snapshot current.
    pub connected: bool,
    /// The enclave's app version, from its last `Hello`.
    pub enclave_version: Option<String>,
    /// The sequence number of the state held, if any.
    pub seq: Option<u64>,
    /// When the channel last went down (`None` while up or before the first
    /// connection).
    pub down_since: Option<Instant>,
    /// Connections established since start.
    pub connections: u64,
}

#[derive(Debug)]
struct Inner {
    snapshot: Option<Arc<Snapshot>>,
    limits: StateLimits,
    connected: bool,
    enclave_version: Option<String>,
    down_since: Option<Instant>,
    connections: u64,
    /// When the head last changed, by this host's clock.
    head_seen: Option<Instant>,
}

/// The mirrored state; cheap to clone (shared).
#[derive(Debug, Clone)]
pub struct HostState {
    inner: Arc<RwLock<Inner>>,
    updates: broadcast::Sender<Update>,
}

impl Default for HostState {
    fn default() -> Self {
        Self::new()
    }
}

impl HostState {
    /// Empty: no snapshot until the enclave sends one.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(RwLock::new(Inner {
                snapshot: None,
                limits: StateLimits::default(),
                connected: false,
                enclave_version: None,
                down_since: None,
                connections: 0,
                head_seen: None,
            })),
            updates: broadcast::channel(UPDATE_CAPACITY).0,
        }
    }

    // A panic while holding the lock leaves plain data behind, still consistent at
    // every write boundary: keep serving it.
    fn read(&self) -> RwLockReadGuard<'_, Inner> {
        self.inner.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> RwLockWriteGuard<'_, Inner> {
        self.inner.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The latest snapshot, if one has arrived. It stays available (marked stale by
    /// [`ChannelStatus::connected`]) while the channel is down.
    pub fn snapshot(&self) -> Option<Arc<Snapshot>> {
        self.read().snapshot.clone()
    }

    /// The channel's status.
    pub fn status(&self) -> ChannelStatus {
        let inner = self.read();
        ChannelStatus {
            connected: inner.connected,
            enclave_version: inner.enclave_version.clone(),
            seq: inner.snapshot.as_ref().map(|s| s.seq),
            down_since: inner.down_since,
            connections: inner.connections,
        }
    }

    /// Time since the chain head last advanced, as this host saw it (`None` before the
    /// first head).
    pub fn head_age(&self) -> Option<std::time::Duration> {
        self.read().head_seen.map(|t| t.elapsed())
    }

    /// The current snapshot and a receiver of every later update, atomically.
    pub fn subscribe(&self) -> (Option<Arc<Snapshot>>, broadcast::Receiver<Update>) {
        let inner = self.read();
        (inner.snapshot.clone(), self.updates.subscribe())
    }

    /// A connection completed its handshake.
    pub(crate) fn connected(&self, hello: &EnclaveHello) {
        let mut inner = self.write();
        inner.connected = true;
        inner.limits = hello.limits;
        inner.enclave_version = Some(hello.app_version.clone());
        inner.down_since = None;
        inner.connections += 1;
        metrics::counter!("control_channel_connections_total").increment(1);
        let _ = self.updates.send(Update::Connection(true));
    }

    /// The connection ended.
    pub(crate) fn disconnected(&self) {
        let mut inner = self.write();
        if inner.connected {
            inner.connected = false;
            inner.down_since = Some(Instant::now());
            let _ = self.updates.send(Update::Connection(false));
        }
    }

    /// A snapshot replaces the state.
    pub(crate) fn replace(&self, snapshot: Snapshot) {
        let snapshot = Arc::new(snapshot);
        let mut inner = self.write();
        let old_head = inner.snapshot.as_ref().and_then(|s| s.head);
        if snapshot.head.is_some() && snapshot.head != old_head {
            inner.head_seen = Some(Instant::now());
        }
        inner.snapshot = Some(Arc::clone(&snapshot));
        let _ = self.updates.send(Update::Snapshot(snapshot));
    }

    /// Folds one event into the state.
    ///
    /// # Errors
    /// [`OutOfSequence`] when the event does not directly follow the state held (or
    /// there is none): the caller asks for a snapshot. The state is unchanged then.
    pub(crate) fn apply(&self, event: StateEvent) -> Result<(), OutOfSequence> {
        let mut inner = self.write();
        let limits = inner.limits;
        let Some(snapshot) = inner.snapshot.as_mut() else {
            return Err(OutOfSequence {
                snapshot_seq: 0,
                event_seq: event.seq,
            });
        };
        apply(Arc::make_mut(snapshot), &event, &limits)?;
        match &event.change {
            StateChange::HeadUpdate(_) => inner.head_seen = Some(Instant::now()),
            // A transaction the operator sent: counted once, when its hash appears.
            StateChange::OperatorUpdate(
                status @ (OperatorStatus::Committing {
                    transaction_hash: Some(_),
                    ..
                }
                | OperatorStatus::Drawing {
                    transaction_hash: Some(_),
                    ..
                }
                | OperatorStatus::Refunding {
                    transaction_hash: Some(_),
                    ..
                }),
            ) => {
                let action = match status {
                    OperatorStatus::Committing { .. } => "commit",
                    OperatorStatus::Drawing { .. } => "draw",
                    _ => "refund",
                };
                metrics::counter!("operator_actions_total", "action" => action).increment(1);
            }
            _ => {}
        }
        let _ = self.updates.send(Update::Event(event));
        Ok(())
    }
}
