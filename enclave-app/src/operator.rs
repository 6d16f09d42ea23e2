//! The passive operator: reacts to the mirrored state and chain time, never decides
//! *whether* a round should happen.
//!
//! Policy ([`decide`], a pure function so every rule is unit-tested):
//! - a WAITING round without a commitment we can open (we hold no seed for it) gets a
//!   fresh seed committed at once, so players can bet;
//! - a BETTING round with bets whose seed we lost (a restart) is refunded at once
//!   rather than leaving players waiting for `maxDrawTime`;
//! - a round we hold the seed for is drawn so that the transaction lands in the first
//!   block whose timestamp is at least `minDrawTime`: it is simulated against that
//!   block's expected timestamp and sent before the block exists;
//! - after `maxDrawTime` the round is refunded.
//!
//! Time is chain time: the latest block's timestamp and the chain's block interval.
//! The wall clock only ever delays a reveal (`--clock-margin-secs`).
//!
//! Before anything is signed, the facts the decision rests on are read again, pinned to
//! the head block, from every RPC upstream, and the decision is taken again on the
//! facts a quorum reports ([`crate::quorum`]); disagreement means waiting. A seed is
//! revealed (the draw, and its simulation) only once a quorum-confirmed block is past
//! the round's end of betting and the local clock is past it by the margin, so no
//! upstream can make the enclave publish a seed while bets are still accepted.
//!
//! At most one transaction is in flight; it is replaced with a fee bump when stuck,
//! and sent again unchanged once the bumps run out (a dropped transaction must not
//! stall the operator for good). Nothing is sent that the simulation says would
//! revert, and an action that reverted (in simulation or on chain) is not sent again
//! until the facts it was decided on change: no revert loop pays gas, or publishes a
//! seed, every block. A seed is kept until its commit is known to have failed, and
//! never replaced while its commitment may be live.

use std::collections::HashMap;

use abi::{
    contract::{Lottery, RoundState},
    draw::{self, Seed},
    state::{ChainHead, OperatorStatus},
    views::{ConfigView, RoundView},
};
use alloy::{
    primitives::{Address, Bytes, U256},
    sol_types::SolCall,
};
use tokio_util::sync::CancellationToken;
use tracing::{error, info, warn};

use crate::{
    chain::{BlockClock, ChainError, Facts, PendingTx, TxSender},
    entropy::Entropy,
    quorum::{Disagreement, Quorum},
    signer::OperatorKey,
    store::Store,
};

/// Seeds kept per round: one per commit that may be on chain (a commitment can be
/// replaced while its round has no bets). More would mean a bug; the oldest go first.
const SEEDS_PER_ROUND: usize = 4;

/// Whether a seed may be revealed now: a confirmed block past the round's end of
/// betting (no bet can land any more), and the local clock (Unix seconds, `now`) past
/// the end by `margin` when one is set. `Err` holds the wall-clock second to decide
/// again at, when only the clock is missing.
pub fn may_reveal(
    round: &RoundView,
    head: &ChainHead,
    now: u64,
    margin: Option<u64>,
) -> Result<(), Option<u64>> {
    if head.timestamp <= round.end_time {
        return Err(None);
    }
    match margin {
        Some(margin) if now < round.end_time.saturating_add(margin) => {
            Err(Some(round.end_time.saturating_add(margin)))
        }
        _ => Ok(()),
    }
}

/// What an action was decided on: a revert holds the action until this changes.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Basis {
    round_id: u64,
    action: &'static str,
    round: (RoundState, u64, Option<alloy::primitives::B256>, U256, u64),
    operator: Option<Address>,
    /// Where chain time stands against the round's times: end passed, window open,
    /// window closed.
    phase: (bool, bool, bool),
}

impl Basis {
    fn of(facts: &Facts, action: &'static str) -> Self {
        let r = &facts.round;
        let now = facts.head.timestamp;
        Self {
            round_id: r.round_id,
            action,
            round: (
                r.state,
                r.end_time,
                r.seed_commitment,
                r.total_pot,
                r.participant_count,
            ),
            operator: facts.config.operator,
            phase: (
                now > r.end_time,
                now >= r.min_draw_time,
                now > r.max_draw_time,
            ),
        }
    }
}

/// An action held after a revert, and why.
#[derive(Debug, Clone)]
struct HeldAction {
    basis: Basis,
    reason: String,
}

/// Gas limits per action: fixed rather than estimated, because a draw is sent before
/// the block where it becomes valid exists, when `eth_estimateGas` would revert.
/// Measured costs are in BENCHMARKS.md (a draw with 1,000 players uses ~155k, plus at
/// most 50k forwarded to the winner); each limit leaves ample headroom.
/// A commit may also apply a due operator change (the contract stores it lazily).
const COMMIT_GAS: u64 = 200_000;
/// See [`COMMIT_GAS`].
const DRAW_GAS: u64 = 400_000;
/// See [`COMMIT_GAS`].
const REFUND_GAS: u64 = 150_000;

/// What the operator should do now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing to send; show this status.
    Wait(OperatorStatus),
    /// Commit a fresh seed for the round.
    Commit {
        /// The round.
        round_id: u64,
    },
    /// Reveal the seed; simulate at `at_time`, the expected timestamp of the block it
    /// aims for.
    Draw {
        /// The round.
        round_id: u64,
        /// Chain time of the target block.
        at_time: u64,
    },
    /// `refundRound` (the operator's refund).
    Refund {
        /// The round.
        round_id: u64,
        /// Why, in a sentence.
        reason: &'static str,
    },
    /// `refundExpiredRound` (a started round with no bets after its window).
    CloseExpired {
        /// The round.
        round_id: u64,
    },
}

/// The operator's policy for `round` at chain time `head`, given whether we hold the
/// seed of the round's commitment and the chain's block interval (seconds; 0 when
/// unknown or irregular).
pub fn decide(
    round: &RoundView,
    head: &ChainHead,
    holds_seed: bool,
    block_interval: u64,
) -> Decision {
    let id = round.round_id;
    let now = head.timestamp;
    match round.state {
        RoundState::Waiting if holds_seed => Decision::Wait(OperatorStatus::Idle),
        // No commitment yet, or one whose seed we lost in a restart (replaceable while
        // the round has no bets).
        RoundState::Waiting => Decision::Commit { round_id: id },
        RoundState::Betting if round.total_pot.is_zero() => {
            if now > round.max_draw_time {
                Decision::CloseExpired { round_id: id }
            } else if holds_seed {
                Decision::Wait(OperatorStatus::WaitingForDrawWindow {
                    round_id: id,
                    min_draw_time: round.min_draw_time,
                })
            } else {
                Decision::Commit { round_id: id }
            }
        }
        RoundState::Betting if !holds_seed => Decision::Refund {
            round_id: id,
            reason: "the seed of this round was lost in a restart; refunding so players need not wait for the draw window to close",
        },
        RoundState::Betting if now > round.max_draw_time => Decision::Refund {
            round_id: id,
            reason: "the draw window closed before the round could be drawn",
        },
        RoundState::Betting => {
            // The block after `head` is expected at `now + interval`; with an unknown
            // interval we only draw against a block that already qualifies.
            let target = if block_interval == 0 {
                now
            } else {
                now + block_interval
            };
            if now >= round.min_draw_time {
                Decision::Draw {
                    round_id: id,
                    at_time: now.max(target).min(round.max_draw_time),
                }
            } else if target >= round.min_draw_time && target <= round.max_draw_time {
                Decision::Draw {
                    round_id: id,
                    at_time: target,
                }
            } else {
                Decision::Wait(OperatorStatus::WaitingForDrawWindow {
                    round_id: id,
                    min_draw_time: round.min_draw_time,
                })
            }
        }
        RoundState::Drawing | RoundState::Completed | RoundState::Refunded => {
            Decision::Wait(OperatorStatus::Idle)
        }
    }
}

/// Replacements of one stuck transaction, at most: each raises both fees by 12.5%,
/// so 8 reach about 2.6x the first price. Past that the operator sends the last one
/// again unchanged every `replace_after_blocks` (a node may have dropped it) and
/// reports the stuck transaction rather than bidding without limit.
const MAX_REPLACEMENTS: u32 = 8;

/// What a transaction does; it names the transaction in logs and sets the status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Action {
    Commit,
    Draw,
    /// `refundRound`, with the sentence saying why.
    Refund(&'static str),
    /// `refundExpiredRound` on a started round that never had bets.
    CloseExpired,
}

impl Action {
    const fn name(self) -> &'static str {
        match self {
            Self::Commit => "commit",
            Self::Draw => "draw",
            Self::Refund(_) => "refund",
            Self::CloseExpired => "close-expired",
        }
    }

    /// The status while this action's transaction is in flight.
    fn status(
        self,
        round_id: u64,
        transaction_hash: Option<alloy::primitives::TxHash>,
    ) -> OperatorStatus {
        match self {
            Self::Commit => OperatorStatus::Committing {
                round_id,
                transaction_hash,
            },
            Self::Draw => OperatorStatus::Drawing {
                round_id,
                transaction_hash,
            },
            Self::Refund(reason) => OperatorStatus::Refunding {
                round_id,
                reason: reason.to_owned(),
                transaction_hash,
            },
            Self::CloseExpired => OperatorStatus::Refunding {
                round_id,
                reason: "the round started without bets and its draw window closed".to_owned(),
                transaction_hash,
            },
        }
    }
}

/// A transaction in flight and what it is for.
#[derive(Debug)]
struct InFlight {
    round_id: u64,
    action: Action,
    pending: PendingTx,
    sent: std::time::Instant,
    replacements: u32,
    /// The facts it was decided on.
    basis: Basis,
    /// A commit's seed: kept once the commit is mined (or its fate is unknown),
    /// dropped when it reverted.
    seed: Option<Seed>,
}

/// Settings of the operator.
#[derive(Debug, Clone, Copy)]
pub struct OperatorSettings {
    /// A pending transaction not mined after this many blocks is replaced.
    pub replace_after_blocks: u64,
    /// A transaction not mined after this long is reported as an error (while the
    /// operator keeps waiting for it and replacing it, up to [`MAX_REPLACEMENTS`]).
    pub receipt_timeout: std::time::Duration,
    /// Seconds the local clock must be past a round's end before its seed is
    /// revealed; `None`: chain time alone decides.
    pub clock_margin_secs: Option<u64>,
}

/// The operator: holds seeds in memory only and at most one transaction in flight.
pub struct Operator {
    store: Store,
    sender: TxSender,
    /// Keys injected through the control channel (at most one is ever accepted).
    keys: Option<tokio::sync::mpsc::Receiver<OperatorKey>>,
    chain_id: u64,
    contract: Address,
    settings: OperatorSettings,
    /// The upstreams whose agreement every signature needs.
    quorum: Quorum,
    /// Where seeds come from.
    entropy: Entropy,
    /// Seeds by round, of every commit that may be on chain: only in memory, gone
    /// with the process.
    seeds: HashMap<u64, Vec<Seed>>,
    in_flight: Option<InFlight>,
    /// An action that reverted, held until its facts change.
    held: Option<HeldAction>,
    /// The last disagreement logged (each new one is logged once).
    disagreement: Option<Disagreement>,
    /// When the local clock will allow a reveal the chain already allows.
    wake_at: Option<u64>,
    /// The block our last transaction was mined in: until the mirror has caught up
    /// with it, the mirrored round may predate it (a commit not yet seen would look
    /// like a missing commitment and be sent again, replacing the live seed).
    mined_in: Option<u64>,
    clock: BlockClock,
}

impl Operator {
    /// Accepts keys injected later (see [`crate::attest`]): the operator switches to
    /// each key it receives.
    #[must_use]
    pub fn with_injected_keys(mut self, keys: tokio::sync::mpsc::Receiver<OperatorKey>) -> Self {
        self.keys = Some(keys);
        self
    }

    /// Draws seeds from `entropy` (the OS's and the NSM's randomness) instead of the
    /// OS's alone.
    #[must_use]
    pub fn with_entropy(mut self, entropy: Entropy) -> Self {
        self.entropy = entropy;
        self
    }

    /// An operator sending through `sender`.
    pub fn new(
        store: Store,
        sender: TxSender,
        quorum: Quorum,
        chain_id: u64,
        contract: Address,
        settings: OperatorSettings,
    ) -> Self {
        Self {
            store,
            sender,
            keys: None,
            chain_id,
            contract,
            settings,
            quorum,
            entropy: Entropy::os_only(),
            seeds: HashMap::new(),
            in_flight: None,
            held: None,
            disagreement: None,
            wake_at: None,
            mined_in: None,
            clock: BlockClock::default(),
        }
    }

    /// Whether the key may act on the contract; if not, the read-only status.
    pub fn authority(key: Option<Address>, config: &ConfigView) -> Result<(), OperatorStatus> {
        match (key, config.operator) {
            (Some(k), Some(op)) if k == op => Ok(()),
            (None, op) => Err(OperatorStatus::ReadOnly {
                reason: "no operator key".into(),
                key_address: None,
                contract_operator: op,
            }),
            (Some(k), op)
                if config
                    .pending_operator
                    .as_ref()
                    .is_some_and(|p| p.operator == k) =>
            {
                let at = config
                    .pending_operator
                    .as_ref()
                    .map_or(0, |p| p.effective_at);
                Err(OperatorStatus::ReadOnly {
                    reason: format!(
                        "this key ({k}) is announced as the next operator; it takes effect at {at} (chain time), once no round takes bets"
                    ),
                    key_address: Some(k),
                    contract_operator: op,
                })
            }
            (Some(k), op) => Err(OperatorStatus::ReadOnly {
                reason: format!(
                    "this key ({k}) is not the contract's operator ({}); the publisher must set it",
                    op.map_or_else(|| "not set".to_owned(), |a| a.to_string())
                ),
                key_address: Some(k),
                contract_operator: op,
            }),
        }
    }

    /// Runs until `shutdown`: decides once at start, then again on every new head and
    /// every change of the round or the configuration (a quiet chain may produce no
    /// new head for a long time, so heads alone are not enough).
    pub async fn run(mut self, shutdown: CancellationToken) {
        use abi::state::StateChange;
        use tokio::sync::broadcast::error::RecvError;
        let (_, mut events) = self.store.subscribe();
        let mut keys = self.keys.take();
        let mut first = true;
        loop {
            if !first {
                let wake = self.wake_at.map(|at| {
                    let now = unix_now();
                    tokio::time::Instant::now()
                        + std::time::Duration::from_secs(at.saturating_sub(now))
                });
                tokio::select! {
                    () = shutdown.cancelled() => return,
                    () = async {
                        match wake {
                            Some(at) => tokio::time::sleep_until(at).await,
                            None => std::future::pending().await,
                        }
                    } => { self.wake_at = None; }
                    Some(key) = async {
                        match keys.as_mut() {
                            Some(keys) => keys.recv().await,
                            None => std::future::pending().await,
                        }
                    } => {
                        info!(target: "operator", operator = %key.address(), "operating with the injected key");
                        self.sender = self.sender.with_signer(key.wallet(), key.address());
                        // Nothing the old key sent is this key's to watch.
                        self.in_flight = None;
                    }
                    event = events.recv() => match event {
                        Ok(e) if matches!(
                            e.change,
                            StateChange::HeadUpdate(_) | StateChange::RoundUpdate(_) | StateChange::ConfigUpdate(_)
                        ) => {}
                        Ok(_) => continue,
                        // Behind: the store's current state is all that matters.
                        Err(RecvError::Lagged(_)) => {}
                        Err(RecvError::Closed) => return,
                    },
                }
            }
            first = false;
            if let Err(e) = self.step().await {
                error!(target: "operator", error = %e, "operator step failed");
                self.store.set_operator(OperatorStatus::Error {
                    reason: e.to_string(),
                });
            }
        }
    }

    /// One decision against the current mirrored state, confirmed by the upstreams'
    /// quorum before anything is signed.
    ///
    /// # Errors
    /// When talking to the chain fails; the next head retries.
    pub async fn step(&mut self) -> Result<(), ChainError> {
        let (Some(head), Some(round), Some(config)) =
            (self.store.head(), self.store.round(), self.store.config())
        else {
            return Ok(());
        };
        self.clock.observe(&head);
        if let Err(status) = Self::authority(Some(self.sender.from()), &config) {
            self.store.set_operator(status);
            return Ok(());
        }
        if self.watch_in_flight(&head).await? {
            return Ok(());
        }
        // The mirror sets the views of a block before its head, so once the head has
        // reached the block our transaction was mined in, the round reflects it.
        if let Some(block) = self.mined_in {
            if head.number < block {
                return Ok(());
            }
            self.mined_in = None;
        }
        // The mirror's view says whether anything is due; only then are the other
        // upstreams asked.
        let holds_seed = self.holds_seed(&round);
        if let Decision::Wait(status) = decide(&round, &head, holds_seed, self.clock.interval()) {
            self.store.set_operator(status);
            return Ok(());
        }
        let facts = match self.quorum.confirm(head.number).await {
            Ok(facts) => {
                self.disagreement = None;
                facts
            }
            Err(disagreement) => {
                if self.disagreement.as_ref() != Some(&disagreement) {
                    warn!(
                        target: "operator",
                        round_id = round.round_id,
                        upstream = %disagreement.upstream,
                        fact = disagreement.fact,
                        block = disagreement.block,
                        detail = %disagreement.detail,
                        needed = self.quorum.needed(),
                        "RPC upstreams disagree; nothing is signed until a quorum agrees"
                    );
                }
                self.store.set_operator(OperatorStatus::AwaitingAgreement {
                    round_id: round.round_id,
                    upstream: disagreement.upstream.clone(),
                    fact: disagreement.fact.to_owned(),
                    reason: disagreement.to_string(),
                });
                self.disagreement = Some(disagreement);
                return Ok(());
            }
        };
        if let Err(status) = Self::authority(Some(self.sender.from()), &facts.config) {
            self.store.set_operator(status);
            return Ok(());
        }
        // Decide again on the confirmed facts: they are what the signature rests on.
        let holds_seed = self.holds_seed(&facts.round);
        let decision = decide(&facts.round, &facts.head, holds_seed, self.clock.interval());
        let action = match &decision {
            Decision::Wait(status) => {
                self.store.set_operator(status.clone());
                return Ok(());
            }
            Decision::Commit { .. } => Action::Commit,
            Decision::Draw { .. } => Action::Draw,
            Decision::Refund { reason, .. } => Action::Refund(reason),
            Decision::CloseExpired { .. } => Action::CloseExpired,
        };
        let basis = Basis::of(&facts, action.name());
        if let Some(held) = &self.held {
            if held.basis == basis {
                self.store.set_operator(OperatorStatus::Held {
                    round_id: basis.round_id,
                    action: basis.action.to_owned(),
                    reason: held.reason.clone(),
                });
                return Ok(());
            }
            info!(target: "operator", round_id = basis.round_id, action = basis.action, "the facts changed since the revert; deciding again");
            self.held = None;
        }
        let head = facts.head;
        match decision {
            Decision::Wait(_) => {}
            Decision::Commit { round_id } => {
                let bytes = self.entropy.bytes32().map_err(ChainError::Entropy)?;
                let seed = Seed::from_bytes(alloy::primitives::B256::from(*bytes));
                let commitment =
                    draw::commitment(self.chain_id, self.contract, U256::from(round_id), &seed);
                let input = Lottery::commitSeedCall {
                    roundId: U256::from(round_id),
                    commitment,
                }
                .abi_encode();
                self.seeds.retain(|r, _| *r >= round_id);
                self.send(action, basis, input, COMMIT_GAS, None, &head, Some(seed))
                    .await?;
            }
            Decision::Draw { round_id, at_time } => {
                let Some(seed) = self.seed_of(&facts.round) else {
                    return Ok(());
                };
                // The draw and its simulation carry the seed: not before betting has
                // closed on a confirmed block and on the local clock.
                if let Err(wake) = may_reveal(
                    &facts.round,
                    &head,
                    unix_now(),
                    self.settings.clock_margin_secs,
                ) {
                    self.wake_at = wake;
                    self.store
                        .set_operator(OperatorStatus::WaitingForDrawWindow {
                            round_id,
                            min_draw_time: facts.round.min_draw_time,
                        });
                    return Ok(());
                }
                let input = Lottery::drawWinnerCall {
                    seed: seed.reveal(),
                }
                .abi_encode();
                self.send(action, basis, input, DRAW_GAS, Some(at_time), &head, None)
                    .await?;
            }
            Decision::Refund { round_id, reason } => {
                info!(target: "operator", round_id, reason, "refunding");
                let input = Lottery::refundRoundCall {
                    roundId: U256::from(round_id),
                }
                .abi_encode();
                self.send(action, basis, input, REFUND_GAS, None, &head, None)
                    .await?;
            }
            Decision::CloseExpired { .. } => {
                let input = Lottery::refundExpiredRoundCall {}.abi_encode();
                self.send(action, basis, input, REFUND_GAS, None, &head, None)
                    .await?;
            }
        }
        Ok(())
    }

    /// The seed behind the round's current commitment, if we hold it.
    fn seed_of(&self, round: &RoundView) -> Option<Seed> {
        let commitment = round.seed_commitment?;
        self.seeds
            .get(&round.round_id)?
            .iter()
            .copied()
            .find(|seed| {
                draw::commitment(
                    self.chain_id,
                    self.contract,
                    U256::from(round.round_id),
                    seed,
                ) == commitment
            })
    }

    /// Whether we hold the seed behind the round's current commitment.
    fn holds_seed(&self, round: &RoundView) -> bool {
        self.seed_of(round).is_some()
    }

    /// Keeps `seed` for `round_id` (its commit is on chain, or may be).
    fn keep_seed(&mut self, round_id: u64, seed: Seed) {
        let seeds = self.seeds.entry(round_id).or_default();
        if seeds.len() == SEEDS_PER_ROUND {
            seeds.remove(0);
        }
        seeds.push(seed);
    }

    /// Holds `basis`'s action until its facts change.
    fn hold(&mut self, basis: Basis, reason: String) {
        warn!(target: "operator", round_id = basis.round_id, action = basis.action, %reason, "held: not sent again until the facts it was decided on change");
        self.store.set_operator(OperatorStatus::Held {
            round_id: basis.round_id,
            action: basis.action.to_owned(),
            reason: reason.clone(),
        });
        self.held = Some(HeldAction { basis, reason });
    }

    #[allow(clippy::too_many_arguments)]
    async fn send(
        &mut self,
        action: Action,
        basis: Basis,
        input: Vec<u8>,
        gas: u64,
        at_time: Option<u64>,
        head: &ChainHead,
        seed: Option<Seed>,
    ) -> Result<(), ChainError> {
        let round_id = basis.round_id;
        match self
            .sender
            .send(Bytes::from(input), gas, at_time, head.number)
            .await
        {
            Ok(pending) => {
                info!(target: "operator", round_id, action = action.name(), tx = %pending.hash, nonce = pending.nonce, "sent");
                self.store
                    .set_operator(action.status(round_id, Some(pending.hash)));
                self.in_flight = Some(InFlight {
                    round_id,
                    action,
                    pending,
                    sent: std::time::Instant::now(),
                    replacements: 0,
                    basis,
                    seed,
                });
                Ok(())
            }
            // The simulation says the contract would reject it: nothing was sent (and
            // a commit's seed is dropped). Not tried again on these facts.
            Err(ChainError::Revert(reason)) => {
                self.hold(
                    basis,
                    format!("the contract would reject it ({reason}); not sent"),
                );
                Ok(())
            }
            Err(e) => Err(e),
        }
    }

    /// Follows the transaction in flight. `true` while it still blocks new actions.
    async fn watch_in_flight(&mut self, head: &ChainHead) -> Result<bool, ChainError> {
        let Some(flight) = self.in_flight.as_mut() else {
            return Ok(false);
        };
        let mut receipt = self.sender.receipt(&flight.pending).await?;
        // Mined by another of our hashes, or dropped: the mined nonce tells. A block
        // may land between the two reads, so a used nonce asks for the receipt again.
        let nonce_used =
            receipt.is_none() && self.sender.mined_nonce().await? > flight.pending.nonce;
        if nonce_used {
            receipt = self.sender.receipt(&flight.pending).await?;
        }
        if let Some(receipt) = receipt {
            let flight = self.in_flight.take().expect("checked above");
            self.mined_in = receipt.block_number;
            if receipt.status() {
                info!(target: "operator", round_id = flight.round_id, action = flight.action.name(), tx = %receipt.transaction_hash, block = ?receipt.block_number, "mined");
                if let Some(seed) = flight.seed {
                    self.keep_seed(flight.round_id, seed);
                }
            } else {
                // Known to have failed: a commit's seed never reached the chain.
                error!(target: "operator", round_id = flight.round_id, action = flight.action.name(), tx = %receipt.transaction_hash, "REVERTED on chain");
                self.sender.resync_nonce();
                self.hold(
                    flight.basis,
                    format!("transaction {} reverted on chain", receipt.transaction_hash),
                );
            }
            return Ok(false);
        }
        if nonce_used {
            warn!(target: "operator", nonce = flight.pending.nonce, "nonce used without a receipt we know of; resynchronising");
            self.sender.resync_nonce();
            let flight = self.in_flight.take().expect("checked above");
            // Its fate is unknown: the commitment may be live, so keep its seed.
            if let Some(seed) = flight.seed {
                self.keep_seed(flight.round_id, seed);
            }
            return Ok(false);
        }
        if flight.sent.elapsed() > self.settings.receipt_timeout {
            let reason = format!(
                "{} transaction {} for round {} not mined after {} s",
                flight.action.name(),
                flight.pending.hash,
                flight.round_id,
                flight.sent.elapsed().as_secs()
            );
            self.store.set_operator(OperatorStatus::Error { reason });
        }
        if head.number >= flight.pending.sent_at_block + self.settings.replace_after_blocks {
            let mut pending = flight.pending.clone();
            let replacements = flight.replacements;
            if replacements < MAX_REPLACEMENTS {
                self.sender.replace(&mut pending, head.number).await?;
            } else {
                // Out of bumps: the node may simply have dropped it. Send the same
                // transaction again rather than stall for good.
                warn!(target: "operator::tx", nonce = pending.nonce, tx = %pending.hash, "still not mined after every fee bump; sending it again");
                self.sender.resend(&mut pending, head.number).await?;
            }
            if let Some(flight) = self.in_flight.as_mut() {
                flight.pending = pending;
                flight.replacements = replacements.saturating_add(1);
            }
        }
        Ok(true)
    }
}

/// The local clock in Unix seconds (0 if it is before 1970).
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::B256;

    fn round(state: RoundState, pot: u64) -> RoundView {
        crate::fixtures::round(4, state, 1180, pot, u64::from(pot > 0) * 2)
    }

    fn at(timestamp: u64) -> ChainHead {
        ChainHead {
            number: 10,
            hash: B256::ZERO,
            timestamp,
        }
    }

    #[test]
    fn waiting_rounds_get_a_commitment_unless_we_hold_the_seed() {
        let r = round(RoundState::Waiting, 0);
        assert_eq!(
            decide(&r, &at(900), false, 1),
            Decision::Commit { round_id: 4 }
        );
        assert_eq!(
            decide(&r, &at(900), true, 1),
            Decision::Wait(OperatorStatus::Idle)
        );
    }

    #[test]
    fn a_lost_seed_with_bets_is_refunded_at_once() {
        let d = decide(&round(RoundState::Betting, 5), &at(1001), false, 1);
        assert!(matches!(d, Decision::Refund { round_id: 4, .. }), "{d:?}");
    }

    #[test]
    fn a_lost_seed_without_bets_is_recommitted() {
        assert_eq!(
            decide(&round(RoundState::Betting, 0), &at(1001), false, 1),
            Decision::Commit { round_id: 4 }
        );
    }

    #[test]
    fn the_draw_aims_at_the_first_block_at_or_after_min_draw_time() {
        let r = round(RoundState::Betting, 5);
        // Two blocks before: wait.
        assert!(matches!(
            decide(&r, &at(1183), true, 1),
            Decision::Wait(OperatorStatus::WaitingForDrawWindow { .. })
        ));
        // One block before (1 s blocks): send now for the next block at 1185.
        assert_eq!(
            decide(&r, &at(1184), true, 1),
            Decision::Draw {
                round_id: 4,
                at_time: 1185
            }
        );
        // 12 s blocks: the block after 1180 lands at 1192, the first eligible one.
        assert_eq!(
            decide(&r, &at(1180), true, 12),
            Decision::Draw {
                round_id: 4,
                at_time: 1192
            }
        );
        // Unknown interval: only against a block that already qualifies.
        assert!(matches!(decide(&r, &at(1184), true, 0), Decision::Wait(_)));
        assert_eq!(
            decide(&r, &at(1185), true, 0),
            Decision::Draw {
                round_id: 4,
                at_time: 1185
            }
        );
        // Late but inside the window: draw.
        assert_eq!(
            decide(&r, &at(1300), true, 1),
            Decision::Draw {
                round_id: 4,
                at_time: 1301
            }
        );
        // Never aim past the window.
        assert_eq!(
            decide(&r, &at(1360), true, 1),
            Decision::Draw {
                round_id: 4,
                at_time: 1360
            }
        );
    }

    #[test]
    fn a_refund_status_says_why() {
        let Decision::Refund { reason, .. } =
            decide(&round(RoundState::Betting, 5), &at(1001), false, 1)
        else {
            panic!("must refund")
        };
        let OperatorStatus::Refunding {
            round_id,
            reason: shown,
            transaction_hash,
        } = Action::Refund(reason).status(4, None)
        else {
            panic!("must be refunding")
        };
        assert_eq!((round_id, transaction_hash), (4, None));
        assert!(shown.contains("seed of this round was lost"), "{shown}");
        assert_eq!(
            Action::Draw.status(4, None),
            OperatorStatus::Drawing {
                round_id: 4,
                transaction_hash: None
            }
        );
    }

    #[test]
    fn after_the_window_the_round_is_refunded_or_closed() {
        assert!(matches!(
            decide(&round(RoundState::Betting, 5), &at(1361), true, 1),
            Decision::Refund { .. }
        ));
        assert_eq!(
            decide(&round(RoundState::Betting, 0), &at(1361), true, 1),
            Decision::CloseExpired { round_id: 4 }
        );
    }

    #[test]
    fn authority_requires_the_contracts_operator() {
        let config = crate::fixtures::config;
        let me = Address::repeat_byte(1);
        assert!(Operator::authority(Some(me), &config(Some(me))).is_ok());
        let Err(OperatorStatus::ReadOnly {
            key_address,
            contract_operator,
            ..
        }) = Operator::authority(Some(me), &config(Some(Address::repeat_byte(2))))
        else {
            panic!("must be read-only")
        };
        assert_eq!(
            (key_address, contract_operator),
            (Some(me), Some(Address::repeat_byte(2)))
        );
        assert!(matches!(
            Operator::authority(None, &config(None)),
            Err(OperatorStatus::ReadOnly { .. })
        ));
        // Announced but not yet effective: read-only, and it says when it takes effect.
        let mut announced = config(Some(Address::repeat_byte(2)));
        announced.pending_operator = Some(abi::views::PendingOperatorView {
            operator: me,
            pcr0: None,
            effective_at: 4_242,
        });
        let Err(OperatorStatus::ReadOnly { reason, .. }) =
            Operator::authority(Some(me), &announced)
        else {
            panic!("an announced key must stay read-only")
        };
        assert!(
            reason.contains("announced as the next operator") && reason.contains("4242"),
            "{reason}"
        );
    }
}
