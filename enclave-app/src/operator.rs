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
//! Time is chain time: the latest block's timestamp and the chain's block interval,
//! never the wall clock. At most one transaction is in flight; it is replaced with a
//! fee bump when stuck, and nothing is sent that the simulation says would revert.

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
    chain::{BlockClock, ChainError, PendingTx, TxSender},
    signer::OperatorKey,
    store::Store,
};

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
/// so 8 reach about 2.6x the first price. Past that the operator keeps waiting and
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
}

/// Settings of the operator.
#[derive(Debug, Clone, Copy)]
pub struct OperatorSettings {
    /// A pending transaction not mined after this many blocks is replaced.
    pub replace_after_blocks: u64,
    /// A transaction not mined after this long is reported as an error (while the
    /// operator keeps waiting for it and replacing it, up to [`MAX_REPLACEMENTS`]).
    pub receipt_timeout: std::time::Duration,
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
    /// Seeds by round: only in memory, gone with the process.
    seeds: HashMap<u64, Seed>,
    in_flight: Option<InFlight>,
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

    /// An operator sending through `sender`.
    pub fn new(
        store: Store,
        sender: TxSender,
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
            seeds: HashMap::new(),
            in_flight: None,
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
                tokio::select! {
                    () = shutdown.cancelled() => return,
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

    /// One decision against the current mirrored state.
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
        let holds_seed = self.holds_seed(&round);
        match decide(&round, &head, holds_seed, self.clock.interval()) {
            Decision::Wait(status) => self.store.set_operator(status),
            Decision::Commit { round_id } => {
                let seed = Seed::random()
                    .map_err(|e| ChainError::Sign(format!("no entropy for a seed: {e}")))?;
                let commitment =
                    draw::commitment(self.chain_id, self.contract, U256::from(round_id), &seed);
                let input = Lottery::commitSeedCall {
                    roundId: U256::from(round_id),
                    commitment,
                }
                .abi_encode();
                self.seeds.insert(round_id, seed);
                self.seeds.retain(|r, _| *r >= round_id);
                self.send(round_id, Action::Commit, input, COMMIT_GAS, None, &head)
                    .await?;
            }
            Decision::Draw { round_id, at_time } => {
                let Some(seed) = self.seeds.get(&round_id).copied() else {
                    return Ok(());
                };
                let input = Lottery::drawWinnerCall {
                    seed: seed.reveal(),
                }
                .abi_encode();
                self.send(
                    round_id,
                    Action::Draw,
                    input,
                    DRAW_GAS,
                    Some(at_time),
                    &head,
                )
                .await?;
            }
            Decision::Refund { round_id, reason } => {
                info!(target: "operator", round_id, reason, "refunding");
                let input = Lottery::refundRoundCall {
                    roundId: U256::from(round_id),
                }
                .abi_encode();
                self.send(
                    round_id,
                    Action::Refund(reason),
                    input,
                    REFUND_GAS,
                    None,
                    &head,
                )
                .await?;
            }
            Decision::CloseExpired { round_id } => {
                let input = Lottery::refundExpiredRoundCall {}.abi_encode();
                self.send(
                    round_id,
                    Action::CloseExpired,
                    input,
                    REFUND_GAS,
                    None,
                    &head,
                )
                .await?;
            }
        }
        Ok(())
    }

    /// Whether we hold the seed behind the round's current commitment.
    fn holds_seed(&self, round: &RoundView) -> bool {
        let (Some(commitment), Some(seed)) =
            (round.seed_commitment, self.seeds.get(&round.round_id))
        else {
            return false;
        };
        draw::commitment(
            self.chain_id,
            self.contract,
            U256::from(round.round_id),
            seed,
        ) == commitment
    }

    async fn send(
        &mut self,
        round_id: u64,
        action: Action,
        input: Vec<u8>,
        gas: u64,
        at_time: Option<u64>,
        head: &ChainHead,
    ) -> Result<(), ChainError> {
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
                });
                Ok(())
            }
            // The simulation says the contract would reject it: the mirror is behind
            // or the window is not open yet; the next head decides again.
            Err(ChainError::Revert(reason)) => {
                warn!(target: "operator", round_id, action = action.name(), %reason, "not sent: the contract would reject it");
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
        if let Some(receipt) = self.sender.receipt(&flight.pending).await? {
            if receipt.status() {
                info!(target: "operator", round_id = flight.round_id, action = flight.action.name(), tx = %receipt.transaction_hash, block = ?receipt.block_number, "mined");
            } else {
                error!(target: "operator", round_id = flight.round_id, action = flight.action.name(), tx = %receipt.transaction_hash, "REVERTED on chain: this is a bug");
                self.sender.resync_nonce();
            }
            self.in_flight = None;
            self.mined_in = receipt.block_number;
            return Ok(false);
        }
        // Mined by another of our hashes, or dropped: the mined nonce tells.
        if self.sender.mined_nonce().await? > flight.pending.nonce {
            warn!(target: "operator", nonce = flight.pending.nonce, "nonce used without a receipt we know of; resynchronising");
            self.sender.resync_nonce();
            self.in_flight = None;
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
        if head.number >= flight.pending.sent_at_block + self.settings.replace_after_blocks
            && flight.replacements < MAX_REPLACEMENTS
        {
            let mut pending = flight.pending.clone();
            self.sender.replace(&mut pending, head.number).await?;
            if let Some(flight) = self.in_flight.as_mut() {
                flight.pending = pending;
                flight.replacements += 1;
            }
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::B256;

    fn round(state: RoundState, pot: u64) -> RoundView {
        RoundView {
            round_id: 4,
            state,
            start_time: 1000,
            end_time: 1180,
            min_draw_time: 1185,
            max_draw_time: 1360,
            total_pot: U256::from(pot),
            participant_count: u64::from(pot > 0) * 2,
            winner: None,
            prize: U256::ZERO,
            commission: U256::ZERO,
            seed_commitment: Some(B256::repeat_byte(1)),
            revealed_seed: None,
        }
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
        let config = |op: Option<Address>| ConfigView {
            publisher: Address::repeat_byte(9),
            operator: op,
            commission_bps: 0,
            min_bet_amount: U256::from(1),
            betting_duration: 180,
            min_draw_delay_after_end: 5,
            max_draw_delay_after_end: 180,
            min_end_time_extension: 60,
            min_participants: 2,
            operator_delay: 60,
            operator_pcr0: Some("11".repeat(48)),
            pending_operator: None,
        };
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
