//! Push: the mirror driven by `eth_subscribe` over a WebSocket upstream instead of a
//! poll per interval.
//!
//! With a `ws(s)://` URL first, [`Mirror::run_push`] subscribes to `newHeads` and to
//! the contract's `logs` on the upstream's socket (the same egress and TLS as every
//! other request). Then:
//!
//! - a pushed log is applied at once (a bet is in the store, and on its way to every
//!   feed client, without a request). A log with `removed: true`, or one whose block
//!   hash contradicts a block already processed, is a reorg: the mirror reads the head
//!   and recovers as the polling loop does. A log of a block already processed (its
//!   head came first) has the views re-read at that block;
//! - a pushed head is checked against the remembered hashes (its parent, the logs
//!   pushed for it); a reorg is recovered from, a skipped head is caught up by one
//!   poll. Otherwise the views are read only when logs came for it, an operator change
//!   may be due, or the reconciliation interval has passed; the participants are
//!   synced and the head processed. An idle block costs no request.
//!
//! The subscriptions end with their socket ([`rpc_transport::ws`] never renews them
//! silently). On a drop, a failed read, or an upstream that refuses `eth_subscribe`
//! (no subscriptions: "method not found"), the mirror says so once and polls
//! ([`Mirror::tick`] every poll interval), trying to subscribe again after
//! [`RESUBSCRIBE_FIRST`], doubling up to [`RESUBSCRIBE_MAX`] (a refusal waits
//! [`RESUBSCRIBE_REFUSED`]). After each new subscription one tick runs before any
//! pushed item is looked at, so everything since the last processed block (a gap of
//! any length) is read from the chain; items pushed meanwhile are buffered and
//! applied after it. Applying a log twice is harmless: the store keeps one activity
//! per (transaction, log index) and one history entry per round, and a bet sets the
//! player's stake to the log's `newTotal`.
//!
//! A subscription that stays silent for [`STALL_AFTER`] while the chain advances
//! (checked by one poll) is treated as dropped.
//!
//! Logs: target `mirror::push`, one line per subscription, drop, fallback and
//! resubscription, with the counts so far (`subscriptions`, `drops`).

use std::time::Duration;

use alloy::{
    network::Ethereum,
    primitives::Address,
    providers::{Provider, RootProvider},
    pubsub::Subscription,
    rpc::types::{Filter, Header, Log},
    transports::TransportError,
};
use rpc_transport::ws::WsTransport;
use tokio::{sync::broadcast::error::RecvError, time::Instant};
use tokio_util::sync::CancellationToken;
use tracing::{debug, info, warn};

use super::{Mirror, Tick};
use crate::chain::{BlockRef, ChainError};

/// First wait before subscribing again after a drop or a failed attempt: long enough
/// not to hammer an upstream that just closed on us, short enough that a blip costs
/// about one poll.
pub const RESUBSCRIBE_FIRST: Duration = Duration::from_secs(1);

/// Longest wait between attempts while the upstream keeps failing: a minute of
/// polling at most before push is back.
pub const RESUBSCRIBE_MAX: Duration = Duration::from_secs(60);

/// Wait after the upstream refused `eth_subscribe` (it has no subscriptions, or not
/// for us): it will hardly grow them soon, and each try costs a request.
pub const RESUBSCRIBE_REFUSED: Duration = Duration::from_secs(300);

/// A subscription that pushed no head for this long is checked with a poll: if the
/// chain advanced meanwhile, the subscription is stale (a provider can drop one
/// without closing the socket, which pings keep alive) and is made again. Five
/// 12 s slots; a chain that only mines on demand costs one request per idle minute.
pub const STALL_AFTER: Duration = Duration::from_secs(60);

/// Where the mirror's pushed heads and logs come from: the followed upstream's
/// WebSocket and the contract.
#[derive(Debug, Clone)]
pub struct PushSource {
    ws: WsTransport,
    contract: Address,
}

impl PushSource {
    /// Subscriptions over `ws` (the transport the mirror's chain client uses too, so
    /// requests and notifications share one socket) to heads and `contract`'s logs.
    pub const fn new(ws: WsTransport, contract: Address) -> Self {
        Self { ws, contract }
    }

    /// Subscribes to the contract's logs and to new heads on the live socket.
    async fn subscribe(&self) -> Result<Subscriptions, PushError> {
        let client = self
            .ws
            .pubsub_client()
            .await
            .map_err(PushError::Transport)?;
        let provider = RootProvider::<Ethereum>::new(client);
        let filter = Filter::new().address(self.contract);
        let logs = provider
            .subscribe_logs(&filter)
            .await
            .map_err(PushError::from_subscribe)?;
        let heads = provider
            .subscribe_blocks()
            .await
            .map_err(PushError::from_subscribe)?;
        Ok(Subscriptions { heads, logs })
    }
}

/// The two live subscriptions of one socket.
struct Subscriptions {
    heads: Subscription<Header>,
    logs: Subscription<Log>,
}

/// Why push is not running.
#[derive(Debug, thiserror::Error)]
enum PushError {
    /// The upstream answered `eth_subscribe` with an error: no subscriptions there.
    #[error("the upstream refused eth_subscribe: {0}")]
    Refused(alloy::rpc::json_rpc::ErrorPayload),
    /// No socket, or it failed during the subscription.
    #[error("RPC transport error: {}", runner::error_chain(.0))]
    Transport(#[source] TransportError),
    /// Subscribed, but reading what happened since the last processed block failed.
    #[error("catching up failed: {0}")]
    CatchUp(#[source] ChainError),
}

impl PushError {
    fn from_subscribe(err: TransportError) -> Self {
        match err {
            alloy::transports::RpcError::ErrorResp(payload) => Self::Refused(payload),
            other => Self::Transport(other),
        }
    }
}

/// How a push session ended.
enum Ended {
    Shutdown,
    Dropped(String),
}

impl Mirror {
    /// Runs the mirror on `source`'s subscriptions until `shutdown`, polling (as
    /// [`Mirror::run`] does) whenever they are not up; see the [module
    /// docs](self).
    pub async fn run_push(mut self, source: PushSource, shutdown: CancellationToken) {
        let rpc = source.ws.url().to_string();
        let (mut subscriptions, mut drops) = (0u64, 0u64);
        let mut backoff = RESUBSCRIBE_FIRST;
        // Whether the fallback to polling was already announced (once per outage).
        let mut polling = false;
        // Whether the fallback's polls fail (announced once per outage too).
        let mut failing = false;
        loop {
            let attempt = tokio::select! {
                () = shutdown.cancelled() => return,
                attempt = self.subscribe_and_catch_up(&source) => attempt,
            };
            let wait = match attempt {
                Ok(subs) => {
                    subscriptions += 1;
                    info!(
                        target: "mirror::push",
                        rpc,
                        head = self.last.map(|b| b.number),
                        subscriptions,
                        drops,
                        resubscribed = subscriptions > 1,
                        "subscribed to new heads and the contract's logs; following by push"
                    );
                    backoff = RESUBSCRIBE_FIRST;
                    match self.follow(subs, &shutdown).await {
                        Ended::Shutdown => return,
                        Ended::Dropped(reason) => {
                            drops += 1;
                            warn!(
                                target: "mirror::push",
                                rpc,
                                reason,
                                head = self.last.map(|b| b.number),
                                drops,
                                retry_in_ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX),
                                "subscription dropped; falling back to polling until it is back"
                            );
                            polling = true;
                            backoff
                        }
                    }
                }
                Err(e) => {
                    let wait = if matches!(e, PushError::Refused(_)) {
                        RESUBSCRIBE_REFUSED
                    } else {
                        let wait = backoff;
                        backoff = (backoff * 2).min(RESUBSCRIBE_MAX);
                        wait
                    };
                    let retry_in_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
                    if polling {
                        debug!(target: "mirror::push", rpc, error = %e, retry_in_ms, "still no subscription");
                    } else {
                        warn!(target: "mirror::push", rpc, error = %e, retry_in_ms, subscriptions, drops, "no subscription; falling back to polling");
                        polling = true;
                    }
                    wait
                }
            };
            if !self.poll_for(wait, &mut failing, &shutdown).await {
                return;
            }
        }
    }

    /// Subscribes, then processes everything up to the current head (the start's
    /// back-fill, or the gap since the last processed block) before any pushed item.
    async fn subscribe_and_catch_up(
        &mut self,
        source: &PushSource,
    ) -> Result<Subscriptions, PushError> {
        let subs = source.subscribe().await?;
        let outcome = self.tick().await.map_err(PushError::CatchUp)?;
        log_catch_up(outcome, "subscribed");
        Ok(subs)
    }

    /// Polls every poll interval (the first at once) for `wait`, or until a poll
    /// succeeds after failing ones (the upstream is back: subscribe now rather than at
    /// the end of the backoff); `false` on shutdown. `failing` says whether the last
    /// poll failed, across calls, so an outage is announced once.
    async fn poll_for(
        &mut self,
        wait: Duration,
        failing: &mut bool,
        shutdown: &CancellationToken,
    ) -> bool {
        let until = Instant::now() + wait;
        let mut interval = tokio::time::interval(self.settings.poll_interval);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return false,
                _ = interval.tick() => {}
            }
            if Instant::now() >= until {
                return true;
            }
            match self.tick().await {
                Ok(outcome) => {
                    log_catch_up(outcome, "polled");
                    if std::mem::take(failing) {
                        info!(target: "mirror::push", "chain reachable again; subscribing");
                        return true;
                    }
                }
                Err(e) if !*failing => {
                    warn!(target: "mirror::push", error = %e, "poll failed; retrying every poll interval");
                    *failing = true;
                }
                Err(e) => debug!(target: "mirror::push", error = %e, "poll failed again"),
            }
        }
    }

    /// Applies pushed items until the subscriptions end or `shutdown`.
    async fn follow(&mut self, mut subs: Subscriptions, shutdown: &CancellationToken) -> Ended {
        // Logs pushed for blocks past the last processed one, kept until their head.
        let mut pending: Vec<Log> = Vec::new();
        let mut stall = Box::pin(tokio::time::sleep(STALL_AFTER));
        loop {
            // Logs first: a head and its logs queued together are taken logs first,
            // so the head's views are read once, after them.
            let step = tokio::select! {
                biased;
                () = shutdown.cancelled() => return Ended::Shutdown,
                log = subs.logs.recv_result() => match log {
                    Ok(Ok(log)) => {
                        let mut batch = vec![log];
                        while let Ok(Ok(more)) = subs.logs.try_recv_result() {
                            batch.push(more);
                        }
                        self.on_logs(batch, &mut pending).await
                    }
                    Ok(Err(e)) => self.catch_up(&mut pending, &format!("an unreadable log ({e})")).await,
                    Err(RecvError::Lagged(n)) => self.catch_up(&mut pending, &format!("{n} logs missed")).await,
                    Err(RecvError::Closed) => return Ended::Dropped("the logs subscription ended".to_owned()),
                },
                head = subs.heads.recv_result() => match head {
                    Ok(Ok(header)) => {
                        stall.as_mut().reset(Instant::now() + STALL_AFTER);
                        self.on_head(block_ref(&header), &mut pending).await
                    }
                    Ok(Err(e)) => self.catch_up(&mut pending, &format!("an unreadable head ({e})")).await,
                    Err(RecvError::Lagged(n)) => self.catch_up(&mut pending, &format!("{n} heads missed")).await,
                    Err(RecvError::Closed) => return Ended::Dropped("the heads subscription ended".to_owned()),
                },
                () = &mut stall => {
                    stall.as_mut().reset(Instant::now() + STALL_AFTER);
                    let before = self.last;
                    match self.tick().await {
                        Ok(outcome) if self.last != before => {
                            log_catch_up(outcome, "stalled subscription");
                            return Ended::Dropped(format!(
                                "no head pushed for {} s while the chain advanced",
                                STALL_AFTER.as_secs()
                            ));
                        }
                        Ok(_) => Ok(()),
                        Err(e) => Err(e),
                    }
                }
            };
            if let Err(e) = step {
                return Ended::Dropped(format!("a read failed: {e}"));
            }
        }
    }

    /// Applies pushed logs at once; see the module docs.
    async fn on_logs(&mut self, logs: Vec<Log>, pending: &mut Vec<Log>) -> Result<(), ChainError> {
        let Some(last) = self.last else {
            return Ok(());
        };
        let contradicts = |l: &Log| match (l.block_number, l.block_hash) {
            (Some(n), Some(h)) => self.seen.get(&n).is_some_and(|seen| *seen != h),
            _ => false,
        };
        if logs.iter().any(|l| l.removed || contradicts(l)) {
            let head = self.chain.head().await?;
            warn!(target: "mirror::push", head = head.number, last = last.number, "a pushed log says the chain reorganised");
            // The newest processed block still canonical is the fork point; logs
            // applied past it (pushed, not yet processed) are rolled back with it.
            self.recover_from_reorg(head).await?;
            pending.clear();
            return Ok(());
        }
        self.apply_logs(&logs, last.timestamp);
        let late = logs
            .iter()
            .any(|l| l.block_number.is_some_and(|n| n <= last.number));
        pending.extend(
            logs.into_iter()
                .filter(|l| l.block_number.is_some_and(|n| n > last.number)),
        );
        if late {
            // Their head came first and is processed: its views are stale now.
            self.read_views(last.number).await?;
        }
        // Publishes the participants' change now, not at the next head (no request
        // unless the views just read disagree with the list).
        self.sync_participants(last.number).await;
        Ok(())
    }

    /// Processes a pushed head; see the module docs.
    async fn on_head(&mut self, head: BlockRef, pending: &mut Vec<Log>) -> Result<(), ChainError> {
        let Some(last) = self.last else {
            return Ok(());
        };
        if self.seen.get(&head.number) == Some(&head.hash) {
            // Already processed (by the catch-up tick).
            return Ok(());
        }
        let forked = pending.iter().any(|l| {
            l.block_number == Some(head.number) && l.block_hash.is_some_and(|h| h != head.hash)
        });
        if forked || self.reorged(&head, &[]) {
            let outcome = self.recover_from_reorg(head).await?;
            log_catch_up(outcome, "pushed head");
            pending.clear();
            return Ok(());
        }
        if head.number > last.number + 1 {
            return self.catch_up(pending, "heads skipped").await;
        }
        let logs_arrived = pending.iter().any(|l| l.block_number == Some(head.number));
        if logs_arrived || self.operator_change_due(head.timestamp) || self.reconcile_due() {
            self.read_views(head.number).await?;
        }
        self.sync_participants(head.number).await;
        self.advance_to(head);
        pending.retain(|l| l.block_number.is_some_and(|n| n > head.number));
        Ok(())
    }

    /// One poll: reads everything since the last processed block (what the
    /// subscriptions missed, or could not say).
    async fn catch_up(&mut self, pending: &mut Vec<Log>, why: &str) -> Result<(), ChainError> {
        debug!(target: "mirror::push", why, "catching up by a poll");
        let outcome = self.tick().await?;
        log_catch_up(outcome, why);
        let last = self.last.map_or(0, |b| b.number);
        pending.retain(|l| l.block_number.is_some_and(|n| n > last));
        Ok(())
    }
}

/// Logs a reorg found while catching up (the polling loop's own line).
fn log_catch_up(outcome: Tick, when: &str) {
    if let Tick::Reorged { from_block } = outcome {
        warn!(target: "mirror", from_block, when, "reorg handled");
    }
}

/// A pushed header as the mirror tracks blocks.
const fn block_ref(header: &Header) -> BlockRef {
    BlockRef {
        number: header.inner.number,
        hash: header.hash,
        parent_hash: header.inner.parent_hash,
        timestamp: header.inner.timestamp,
    }
}
