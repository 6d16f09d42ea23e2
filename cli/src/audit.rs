//! Checking a settled round from the chain alone: what `lottery verify-round` (and
//! the page's "check this draw") establishes about each draw or refund.
//!
//! Two halves, kept apart so the checks can be fed any facts (a test feeds forged
//! ones): [`RoundFacts`] is everything the chain says about one round (its view, its
//! logs in order, who sent the settling transaction, the operator history), gathered
//! by [`Auditor`] through any provider; [`check_round`] is pure and turns the facts
//! into [`Check`]s, each a sentence that names the values it compared.
//!
//! Nothing here trusts host-proxy or the enclave: every fact is a view call, a log
//! or a receipt from the RPC endpoint the auditor chose.

use std::collections::BTreeMap;

use alloy::{
    eips::BlockNumberOrTag,
    primitives::{Address, B256, TxHash, U256},
    providers::Provider,
    rpc::types::{Filter, Log},
    sol_types::SolEventInterface,
};
use futures_util::{StreamExt, TryStreamExt, stream};
use serde::Serialize;

use abi::{
    contract::{Lottery, RefundReason, RoundState, UnknownEnumValue},
    draw,
    views::{self, RoundView},
};

/// Basis points in a whole (the contract's `BPS_DENOMINATOR`).
const BPS_DENOMINATOR: u64 = 10_000;

/// `minParticipants` of a freshly deployed contract (its storage initialiser); every
/// later value comes from `MinParticipantsUpdated` logs.
const INITIAL_MIN_PARTICIPANTS: u64 = 2;

/// Rounds gathered at once: each costs two or three requests, so this many keeps a
/// remote node busy without tripping its rate limits.
const ROUNDS_IN_FLIGHT: usize = 8;

/// Where a log sits in the chain: block, then position in the block. Orders logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LogPosition {
    /// Block number.
    pub block: u64,
    /// Index of the log in its block.
    pub log_index: u64,
}

impl std::fmt::Display for LogPosition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "block {} (log {})", self.block, self.log_index)
    }
}

/// One `BetPlaced`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BetFact {
    /// The player.
    pub player: Address,
    /// This bet, in wei.
    pub amount: U256,
    /// Where it was logged.
    pub position: LogPosition,
}

/// One `SeedCommitted`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommitFact {
    /// The commitment published.
    pub commitment: B256,
    /// Where it was logged.
    pub position: LogPosition,
}

/// How the round ended, from its settling log and transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettlementFact {
    /// `RoundCompleted`.
    Completed {
        /// The winner the contract paid.
        winner: Address,
        /// The pot it reports.
        total_pot: U256,
        /// Prize paid.
        prize: U256,
        /// Commission credited.
        commission: U256,
        /// The revealed seed.
        seed: B256,
    },
    /// `RoundRefunded`.
    Refunded {
        /// The total it reports refunded.
        total: U256,
        /// Why.
        reason: RefundReason,
    },
}

/// An operator taking effect (`OperatorUpdated`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OperatorFact {
    /// The operator from then on.
    pub operator: Address,
    /// Its record (announcement) in the contract.
    pub record_id: u64,
    /// Where it took effect.
    pub position: LogPosition,
}

/// Everything the chain says about one settled round.
#[derive(Debug, Clone)]
pub struct RoundFacts {
    /// The chain.
    pub chain_id: u64,
    /// The contract.
    pub contract: Address,
    /// `getRoundById`.
    pub round: RoundView,
    /// The contract's commission (immutable).
    pub commission_bps: u64,
    /// `minParticipants` in effect when the round settled.
    pub min_participants: u64,
    /// Its bets, in placement order.
    pub bets: Vec<BetFact>,
    /// Its seed commitments, in order.
    pub commits: Vec<CommitFact>,
    /// Its settlement.
    pub settlement: SettlementFact,
    /// Where the settlement was logged.
    pub settled_at: LogPosition,
    /// Chain time of the settling block.
    pub settled_time: u64,
    /// The settling transaction and its sender.
    pub settled_tx: TxHash,
    /// Who sent it.
    pub settled_by: Address,
    /// The operator in effect at the settlement, if any.
    pub operator: Option<OperatorFact>,
    /// PCR0 recorded for that operator (hex), if any.
    pub operator_pcr0: Option<String>,
    /// For a refund: per player, the stake and what is withdrawable now plus what
    /// the player withdrew after the refund.
    pub refunds: Vec<RefundFact>,
}

/// One player of a refunded round: is the stake still owed or paid out?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefundFact {
    /// The player.
    pub player: Address,
    /// Their stake in the round.
    pub stake: U256,
    /// `pendingWithdrawal` now plus their `Withdrawn` amounts since the refund.
    pub owed_or_paid: U256,
}

/// One check and its verdict, in a sentence naming the values compared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Short name (`commitment`, `winner`, ...).
    pub name: &'static str,
    /// Whether it holds.
    pub ok: bool,
    /// What was compared.
    pub detail: String,
}

fn check(name: &'static str, ok: bool, detail: String) -> Check {
    Check { name, ok, detail }
}

/// The checks for one settled round. Pure: the verdict depends on `facts` only.
pub fn check_round(facts: &RoundFacts) -> Vec<Check> {
    let mut checks = vec![pot_check(facts), commit_order_check(facts)];
    match &facts.settlement {
        SettlementFact::Completed {
            winner,
            total_pot,
            prize,
            commission,
            seed,
        } => {
            checks.push(seed_check(facts, *seed));
            checks.push(winner_check(facts, *seed, *winner));
            checks.push(check(
                "payout",
                *prize + *commission == *total_pot && *total_pot == facts.round.total_pot,
                format!(
                    "prize {} + commission {} = {} wei, the pot is {} wei",
                    prize,
                    commission,
                    *prize + *commission,
                    facts.round.total_pot
                ),
            ));
            let expected =
                *total_pot * U256::from(facts.commission_bps) / U256::from(BPS_DENOMINATOR);
            checks.push(check(
                "commission",
                *commission == expected,
                format!(
                    "commission {commission} wei; {} bps of {total_pot} wei is {expected} wei",
                    facts.commission_bps
                ),
            ));
            checks.push(operator_check(facts, "drawn by the operator"));
        }
        SettlementFact::Refunded { total, reason } => {
            checks.push(refund_reason_check(facts, *reason));
            checks.push(check(
                "refunded total",
                *total == facts.round.total_pot,
                format!(
                    "{total} wei refunded, the pot is {} wei",
                    facts.round.total_pot
                ),
            ));
            checks.push(stakes_check(facts));
        }
    }
    checks
}

/// The bets add up to the round's pot and player count.
fn pot_check(facts: &RoundFacts) -> Check {
    let sum = facts
        .bets
        .iter()
        .fold(U256::ZERO, |acc, bet| acc + bet.amount);
    let players = facts
        .bets
        .iter()
        .map(|b| b.player)
        .collect::<std::collections::BTreeSet<_>>()
        .len() as u64;
    check(
        "bets",
        sum == facts.round.total_pot && players == facts.round.participant_count,
        format!(
            "{} bets from {players} players add up to {sum} wei; the round reports {} wei from {} players",
            facts.bets.len(),
            facts.round.total_pot,
            facts.round.participant_count
        ),
    )
}

/// Every commitment of the round was published before its first bet.
fn commit_order_check(facts: &RoundFacts) -> Check {
    let Some(last) = facts.commits.last() else {
        return check(
            "committed first",
            false,
            "no SeedCommitted log for this round".to_owned(),
        );
    };
    match facts.bets.first() {
        None => check(
            "committed first",
            true,
            format!("committed in {}; the round had no bets", last.position),
        ),
        Some(first) => check(
            "committed first",
            facts.commits.iter().all(|c| c.position < first.position),
            format!(
                "seed committed in {}, first bet in {}",
                last.position, first.position
            ),
        ),
    }
}

/// The revealed seed opens the published commitment.
fn seed_check(facts: &RoundFacts, seed: B256) -> Check {
    let opened = draw::commitment(
        facts.chain_id,
        facts.contract,
        U256::from(facts.round.round_id),
        &draw::Seed::from_bytes(seed),
    );
    let published = facts.commits.last().map(|c| c.commitment);
    let ok = published == Some(opened) && facts.round.seed_commitment == Some(opened);
    let detail = match published {
        Some(p) if ok => format!("keccak256(chainId, contract, round, seed) = {p}, the commitment"),
        Some(p) => format!(
            "keccak256(chainId, contract, round, seed {seed}) = {opened}, but the commitment is {p}"
        ),
        None => format!("seed {seed} revealed, but no commitment was published"),
    };
    check("commitment", ok, detail)
}

/// The winner recomputed from the seed and the bets in order is the contract's.
fn winner_check(facts: &RoundFacts, seed: B256, paid: Address) -> Check {
    let bets: Vec<(Address, U256)> = facts.bets.iter().map(|b| (b.player, b.amount)).collect();
    let pot = bets.iter().fold(U256::ZERO, |acc, (_, a)| acc + a);
    let recomputed = draw::winner(&bets, seed);
    let ticket = draw::winning_ticket(seed, pot);
    let ok = recomputed == Some(paid) && facts.round.winner == Some(paid);
    let detail = match (recomputed, ticket) {
        (Some(w), Some(t)) if ok => {
            format!("ticket keccak256(seed) mod {pot} = {t} falls to {w}, the contract's winner")
        }
        (Some(w), Some(t)) => format!(
            "ticket keccak256(seed) mod {pot} = {t} falls to {w}, but the contract paid {paid}"
        ),
        _ => format!("no bets to draw from, but the contract paid {paid}"),
    };
    check("winner", ok, detail)
}

/// The settling transaction came from the operator in effect at that point.
fn operator_check(facts: &RoundFacts, name: &'static str) -> Check {
    match &facts.operator {
        Some(op) if op.operator == facts.settled_by => check(
            name,
            true,
            format!(
                "{} sent by {}, the operator since {} (record {}, PCR0 {})",
                facts.settled_tx,
                op.operator,
                op.position,
                op.record_id,
                facts.operator_pcr0.as_deref().unwrap_or("not recorded")
            ),
        ),
        Some(op) => check(
            name,
            false,
            format!(
                "{} sent by {}, but the operator then was {}",
                facts.settled_tx, facts.settled_by, op.operator
            ),
        ),
        None => check(
            name,
            false,
            format!(
                "{} sent by {}, but no operator had taken effect by then",
                facts.settled_tx, facts.settled_by
            ),
        ),
    }
}

/// The refund's reason fits the round.
fn refund_reason_check(facts: &RoundFacts, reason: RefundReason) -> Check {
    let round = &facts.round;
    match reason {
        RefundReason::DrawWindowExpired => check(
            "refund reason",
            facts.settled_time > round.max_draw_time,
            format!(
                "draw window expired: refunded at {}, the window closed at {}",
                facts.settled_time, round.max_draw_time
            ),
        ),
        RefundReason::NotEnoughParticipants => {
            let too_few = round.participant_count < facts.min_participants;
            let revealed = round.revealed_seed.is_some_and(|seed| {
                Some(draw::commitment(
                    facts.chain_id,
                    facts.contract,
                    U256::from(round.round_id),
                    &draw::Seed::from_bytes(seed),
                )) == round.seed_commitment
            });
            let by_operator = operator_check(facts, "refund reason").ok;
            check(
                "refund reason",
                too_few && revealed && by_operator,
                format!(
                    "too few players: {} of at least {}; seed {}; drawn by {}",
                    round.participant_count,
                    facts.min_participants,
                    if revealed {
                        "revealed and matches the commitment"
                    } else {
                        "NOT matching the commitment"
                    },
                    if by_operator {
                        "the operator"
                    } else {
                        "someone who was not the operator"
                    }
                ),
            )
        }
        RefundReason::Operator => {
            let by = operator_check(facts, "refund reason");
            check(
                "refund reason",
                by.ok,
                format!("refunded by the operator: {}", by.detail),
            )
        }
    }
}

/// Every stake of a refunded round is still withdrawable or was withdrawn.
fn stakes_check(facts: &RoundFacts) -> Check {
    let short: Vec<&RefundFact> = facts
        .refunds
        .iter()
        .filter(|r| r.owed_or_paid < r.stake)
        .collect();
    match short.first() {
        None => check(
            "stakes returned",
            true,
            format!(
                "each of {} players can withdraw or has withdrawn their stake",
                facts.refunds.len()
            ),
        ),
        Some(r) => check(
            "stakes returned",
            false,
            format!(
                "{} staked {} wei, but only {} wei is withdrawable or was withdrawn ({} players short)",
                r.player,
                r.stake,
                r.owed_or_paid,
                short.len()
            ),
        ),
    }
}

/// Why facts could not be gathered.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    /// An RPC call failed.
    #[error("{what}: {source}")]
    Rpc {
        /// What was asked.
        what: String,
        /// The transport's or node's error.
        #[source]
        source: alloy::transports::TransportError,
    },
    /// A contract call failed.
    #[error("{what}: {source}")]
    Call {
        /// What was asked.
        what: String,
        /// The contract call's error (boxed: it is large, and errors are rare).
        #[source]
        source: Box<alloy::contract::Error>,
    },
    /// The chain reports a value this build cannot read.
    #[error("round {round}: {source}")]
    Enum {
        /// The round.
        round: u64,
        /// The unknown value.
        #[source]
        source: UnknownEnumValue,
    },
    /// The round is not settled (or does not exist yet).
    #[error("round {round} is {state}, not settled: nothing to check yet")]
    NotSettled {
        /// The round.
        round: u64,
        /// Its state.
        state: RoundState,
    },
    /// A settled round without its settling log (a node that pruned logs?).
    #[error(
        "round {0} is settled, but no RoundCompleted or RoundRefunded log was found (is --from-block after the round?)"
    )]
    NoSettlementLog(u64),
    /// A log without its position (a pending log?).
    #[error("a contract log carries no block number or transaction hash")]
    IncompleteLog,
}

/// The contract's logs, decoded and sorted, by what the checks need.
#[derive(Debug, Default)]
struct Ledger {
    bets: BTreeMap<u64, Vec<BetFact>>,
    commits: BTreeMap<u64, Vec<CommitFact>>,
    settlements: BTreeMap<u64, (SettlementFact, LogPosition, TxHash)>,
    operators: Vec<OperatorFact>,
    /// `(position, new value)` of every `MinParticipantsUpdated`, and the initial value.
    min_participants: Vec<(LogPosition, u64)>,
    initial_min_participants: Option<u64>,
    /// `Withdrawn` by account.
    withdrawals: BTreeMap<Address, Vec<(LogPosition, U256)>>,
}

impl Ledger {
    fn add(&mut self, log: &Log) -> Result<(), AuditError> {
        let (Some(block), Some(log_index), Some(tx)) =
            (log.block_number, log.log_index, log.transaction_hash)
        else {
            return Err(AuditError::IncompleteLog);
        };
        if log.removed {
            return Ok(());
        }
        let position = LogPosition { block, log_index };
        let Ok(event) = Lottery::LotteryEvents::decode_log(&log.inner) else {
            return Ok(()); // not one of ours (another contract at the address? never)
        };
        let round = |id: U256| id.saturating_to::<u64>();
        use Lottery::LotteryEvents as E;
        match event.data {
            E::BetPlaced(e) => self
                .bets
                .entry(round(e.roundId))
                .or_default()
                .push(BetFact {
                    player: e.player,
                    amount: e.amount,
                    position,
                }),
            E::SeedCommitted(e) => {
                self.commits
                    .entry(round(e.roundId))
                    .or_default()
                    .push(CommitFact {
                        commitment: e.commitment,
                        position,
                    });
            }
            E::RoundCompleted(e) => {
                self.settlements.insert(
                    round(e.roundId),
                    (
                        SettlementFact::Completed {
                            winner: e.winner,
                            total_pot: e.totalPot,
                            prize: e.prize,
                            commission: e.commission,
                            seed: e.seed,
                        },
                        position,
                        tx,
                    ),
                );
            }
            E::RoundRefunded(e) => {
                let reason =
                    RefundReason::try_from(e.reason).map_err(|source| AuditError::Enum {
                        round: round(e.roundId),
                        source,
                    })?;
                self.settlements.insert(
                    round(e.roundId),
                    (
                        SettlementFact::Refunded {
                            total: e.totalRefunded,
                            reason,
                        },
                        position,
                        tx,
                    ),
                );
            }
            E::OperatorUpdated(e) => self.operators.push(OperatorFact {
                operator: e.newOperator,
                record_id: e.recordId.saturating_to(),
                position,
            }),
            E::MinParticipantsUpdated(e) => {
                self.initial_min_participants
                    .get_or_insert(e.oldMinParticipants.saturating_to());
                self.min_participants
                    .push((position, e.newMinParticipants.saturating_to()));
            }
            E::Withdrawn(e) => self
                .withdrawals
                .entry(e.account)
                .or_default()
                .push((position, e.amount)),
            _ => {}
        }
        Ok(())
    }

    fn operator_at(&self, at: LogPosition) -> Option<OperatorFact> {
        self.operators
            .iter()
            .take_while(|o| o.position < at)
            .last()
            .cloned()
    }

    fn min_participants_at(&self, at: LogPosition) -> u64 {
        self.min_participants
            .iter()
            .take_while(|(p, _)| *p < at)
            .last()
            .map_or(
                self.initial_min_participants
                    .unwrap_or(INITIAL_MIN_PARTICIPANTS),
                |(_, v)| *v,
            )
    }
}

/// Gathers [`RoundFacts`] for settled rounds of one contract through `provider`.
pub struct Auditor<P> {
    lottery: Lottery::LotteryInstance<P>,
    provider: P,
    chain_id: u64,
    commission_bps: u64,
    ledger: Ledger,
    head: u64,
}

/// The rounds an audit covers and what the chain says about the contract.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditScope {
    /// The round taking bets now; every round below it is settled.
    pub current_round: u64,
    /// The block the logs were read up to.
    pub head: u64,
}

impl<P: Provider + Clone> Auditor<P> {
    /// Reads the contract's logs from `from_block` to the head in chunks of
    /// `chunk_blocks`, calling `progress(done_blocks, total_blocks)` after each.
    ///
    /// # Errors
    /// On RPC failure.
    pub async fn load(
        provider: P,
        contract: Address,
        from_block: u64,
        chunk_blocks: u64,
        mut progress: impl FnMut(u64, u64),
    ) -> Result<(Self, AuditScope), AuditError> {
        let rpc = |what: &str| {
            let what = what.to_owned();
            move |source| AuditError::Rpc { what, source }
        };
        let chain_id = provider.get_chain_id().await.map_err(rpc("eth_chainId"))?;
        let head = provider
            .get_block_number()
            .await
            .map_err(rpc("eth_blockNumber"))?;
        let lottery = Lottery::new(contract, provider.clone());
        let call = |what: &str| {
            let what = what.to_owned();
            move |source| AuditError::Call {
                what,
                source: Box::new(source),
            }
        };
        let config = lottery
            .getConfig()
            .call()
            .await
            .map_err(call("getConfig"))?;
        let current_round: u64 = lottery
            .currentRoundId()
            .call()
            .await
            .map_err(call("currentRoundId"))?
            .saturating_to();
        let mut ledger = Ledger::default();
        let chunk = chunk_blocks.max(1);
        let total = head.saturating_sub(from_block) + 1;
        let mut start = from_block;
        while start <= head {
            let end = head.min(start.saturating_add(chunk - 1));
            let filter = Filter::new()
                .address(contract)
                .from_block(start)
                .to_block(end);
            let logs = provider
                .get_logs(&filter)
                .await
                .map_err(rpc(&format!("eth_getLogs {start}..={end}")))?;
            for log in &logs {
                ledger.add(log)?;
            }
            progress(end - from_block + 1, total);
            start = end + 1;
        }
        for list in ledger.bets.values_mut() {
            list.sort_by_key(|b| b.position);
        }
        for list in ledger.commits.values_mut() {
            list.sort_by_key(|c| c.position);
        }
        ledger.operators.sort_by_key(|o| o.position);
        ledger.min_participants.sort_by_key(|(p, _)| *p);
        Ok((
            Self {
                lottery,
                provider,
                chain_id,
                commission_bps: config.commissionBps.saturating_to(),
                ledger,
                head,
            },
            AuditScope {
                current_round,
                head,
            },
        ))
    }

    /// The facts of settled round `round_id`.
    ///
    /// # Errors
    /// On RPC failure, when the round is not settled, or when its settling log is
    /// missing from the logs read.
    pub async fn facts(&self, round_id: u64) -> Result<RoundFacts, AuditError> {
        let block = BlockNumberOrTag::Number(self.head);
        let info = self
            .lottery
            .getRoundById(U256::from(round_id))
            .block(block.into())
            .call()
            .await
            .map_err(|source| AuditError::Call {
                what: format!("getRoundById({round_id})"),
                source: Box::new(source),
            })?;
        let round = RoundView::try_from(info).map_err(|source| AuditError::Enum {
            round: round_id,
            source,
        })?;
        if !round.state.is_settled() {
            return Err(AuditError::NotSettled {
                round: round_id,
                state: round.state,
            });
        }
        let (settlement, settled_at, settled_tx) = self
            .ledger
            .settlements
            .get(&round_id)
            .cloned()
            .ok_or(AuditError::NoSettlementLog(round_id))?;
        let receipt_fut = self.provider.get_transaction_receipt(settled_tx);
        let block_fut = self
            .provider
            .get_block_by_number(BlockNumberOrTag::Number(settled_at.block))
            .into_future();
        let (receipt, settled_block) = futures_util::future::try_join(receipt_fut, block_fut)
            .await
            .map_err(|source| AuditError::Rpc {
                what: format!("the settling transaction {settled_tx} and its block"),
                source,
            })?;
        let settled_by = receipt
            .map(|r| r.from)
            .ok_or(AuditError::NoSettlementLog(round_id))?;
        let settled_time = settled_block
            .map(|b| b.header.timestamp)
            .ok_or(AuditError::NoSettlementLog(round_id))?;
        let operator = self.ledger.operator_at(settled_at);
        let operator_pcr0 = match &operator {
            Some(op) => self
                .lottery
                .getOperatorRecord(U256::from(op.record_id))
                .call()
                .await
                .ok()
                .and_then(|r| views::pcr0_hex(&r.pcrs)),
            None => None,
        };
        let bets = self.ledger.bets.get(&round_id).cloned().unwrap_or_default();
        let refunds = if matches!(settlement, SettlementFact::Refunded { .. }) {
            self.refunds(&bets, settled_at).await?
        } else {
            Vec::new()
        };
        Ok(RoundFacts {
            chain_id: self.chain_id,
            contract: *self.lottery.address(),
            round,
            commission_bps: self.commission_bps,
            min_participants: self.ledger.min_participants_at(settled_at),
            bets,
            commits: self
                .ledger
                .commits
                .get(&round_id)
                .cloned()
                .unwrap_or_default(),
            settlement,
            settled_at,
            settled_time,
            settled_tx,
            settled_by,
            operator,
            operator_pcr0,
            refunds,
        })
    }

    /// Per player of a refunded round: the stake, and what is withdrawable now plus
    /// what they withdrew after the refund.
    async fn refunds(
        &self,
        bets: &[BetFact],
        refunded_at: LogPosition,
    ) -> Result<Vec<RefundFact>, AuditError> {
        let mut stakes: BTreeMap<Address, U256> = BTreeMap::new();
        for bet in bets {
            *stakes.entry(bet.player).or_default() += bet.amount;
        }
        stream::iter(stakes)
            .map(|(player, stake)| async move {
                let pending = self
                    .lottery
                    .pendingWithdrawal(player)
                    .call()
                    .await
                    .map_err(|source| AuditError::Call {
                        what: format!("pendingWithdrawal({player})"),
                        source: Box::new(source),
                    })?;
                let withdrawn = self
                    .ledger
                    .withdrawals
                    .get(&player)
                    .into_iter()
                    .flatten()
                    .filter(|(p, _)| *p > refunded_at)
                    .fold(U256::ZERO, |acc, (_, a)| acc + a);
                Ok(RefundFact {
                    player,
                    stake,
                    owed_or_paid: pending + withdrawn,
                })
            })
            .buffered(ROUNDS_IN_FLIGHT)
            .try_collect()
            .await
    }

    /// The facts of several rounds, gathered [`ROUNDS_IN_FLIGHT`] at a time, in
    /// order; `progress(done)` after each.
    pub fn facts_of<'a>(
        &'a self,
        rounds: impl IntoIterator<Item = u64> + 'a,
    ) -> impl futures_util::Stream<Item = (u64, Result<RoundFacts, AuditError>)> + 'a {
        stream::iter(rounds)
            .map(move |id| async move { (id, self.facts(id).await) })
            .buffered(ROUNDS_IN_FLIGHT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pos(block: u64) -> LogPosition {
        LogPosition {
            block,
            log_index: 0,
        }
    }

    /// A completed round whose facts are consistent, drawn with `seed`.
    fn honest(seed: B256) -> RoundFacts {
        let (a, b, c) = (
            Address::repeat_byte(0xa),
            Address::repeat_byte(0xb),
            Address::repeat_byte(0xc),
        );
        let bets = vec![
            BetFact {
                player: a,
                amount: U256::from(10),
                position: pos(3),
            },
            BetFact {
                player: b,
                amount: U256::from(20),
                position: pos(4),
            },
            BetFact {
                player: c,
                amount: U256::from(30),
                position: pos(5),
            },
        ];
        let contract = Address::repeat_byte(0x42);
        let pairs: Vec<_> = bets.iter().map(|x| (x.player, x.amount)).collect();
        let winner = draw::winner(&pairs, seed).unwrap();
        let commitment =
            draw::commitment(1, contract, U256::from(7), &draw::Seed::from_bytes(seed));
        let pot = U256::from(60);
        let commission = pot * U256::from(500) / U256::from(10_000);
        let operator = Address::repeat_byte(0x0e);
        RoundFacts {
            chain_id: 1,
            contract,
            round: RoundView {
                round_id: 7,
                state: RoundState::Completed,
                start_time: 100,
                end_time: 280,
                min_draw_time: 285,
                max_draw_time: 460,
                total_pot: pot,
                participant_count: 3,
                winner: Some(winner),
                prize: pot - commission,
                commission,
                seed_commitment: Some(commitment),
                revealed_seed: Some(seed),
            },
            commission_bps: 500,
            min_participants: 2,
            bets,
            commits: vec![CommitFact {
                commitment,
                position: pos(2),
            }],
            settlement: SettlementFact::Completed {
                winner,
                total_pot: pot,
                prize: pot - commission,
                commission,
                seed,
            },
            settled_at: pos(9),
            settled_time: 290,
            settled_tx: TxHash::repeat_byte(9),
            settled_by: operator,
            operator: Some(OperatorFact {
                operator,
                record_id: 1,
                position: pos(1),
            }),
            operator_pcr0: Some("5a".repeat(48)),
            refunds: Vec::new(),
        }
    }

    fn failed(checks: &[Check]) -> Vec<&'static str> {
        checks.iter().filter(|c| !c.ok).map(|c| c.name).collect()
    }

    #[test]
    fn an_honest_draw_passes_every_check() {
        let checks = check_round(&honest(B256::repeat_byte(3)));
        assert_eq!(failed(&checks), Vec::<&str>::new(), "{checks:#?}");
        assert_eq!(checks.len(), 7);
    }

    #[test]
    fn each_forgery_fails_its_own_check() {
        let seed = B256::repeat_byte(3);
        // A commitment published after the first bet.
        let mut late = honest(seed);
        late.commits[0].position = pos(4);
        assert_eq!(failed(&check_round(&late)), ["committed first"]);
        // Another operator sent the draw.
        let mut usurped = honest(seed);
        usurped.settled_by = Address::repeat_byte(0x66);
        assert_eq!(failed(&check_round(&usurped)), ["drawn by the operator"]);
        // A commission above the contract's rate.
        let mut greedy = honest(seed);
        if let SettlementFact::Completed {
            prize, commission, ..
        } = &mut greedy.settlement
        {
            *commission += U256::from(1);
            *prize -= U256::from(1);
        }
        assert_eq!(failed(&check_round(&greedy)), ["commission"]);
        // A seed that does not open the commitment.
        let mut wrong_seed = honest(seed);
        wrong_seed.commits[0].commitment = B256::repeat_byte(0x77);
        assert!(failed(&check_round(&wrong_seed)).contains(&"commitment"));
    }
}
