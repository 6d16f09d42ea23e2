//! The chain client: everything enclave-app asks of the Ethereum node.
//!
//! - Reads: the chain head, block hashes (for reorg detection), contract logs in
//!   bounded chunks, and the contract's views, read together in one JSON-RPC batch
//!   pinned to one block so they are consistent with each other.
//! - Writes, through [`TxSender`]: the operator owns its nonce (alloy's cached nonce
//!   manager does not resynchronise after a failed send or a reorg), simulates every
//!   transaction with `eth_call` first (with the block time it will be mined at, so a
//!   draw can be sent before the first eligible block exists), and replaces a stuck
//!   transaction with the same nonce and a fee bump every major client accepts.
//!
//! Transport errors are retried a bounded number of times with backoff; JSON-RPC
//! errors (a revert, a bad parameter) are not, since repeating them cannot help.

use std::{future::Future, time::Duration};

use abi::{
    contract::{Lottery, RevertReason},
    state::{ChainHead, ParticipantList, Stake},
    views::{ConfigView, RoundView},
};

use net::RpcUrl;

use alloy::{
    consensus::{SignableTransaction, TxEip1559, TxEnvelope},
    eips::{BlockId, BlockNumberOrTag, Encodable2718},
    network::{EthereumWallet, TxSigner},
    primitives::{Address, B256, Bytes, TxHash, TxKind, U256},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::{
        client::{BatchRequest, RpcClient, Waiter},
        types::{BlockOverrides, Filter, Log, TransactionReceipt, TransactionRequest},
    },
    signers::Signature,
    sol_types::SolCall,
    transports::{RpcError, TransportError, TransportErrorKind},
};
use rpc_transport as transport;
use tracing::{debug, warn};

/// Attempts for a read that fails at the transport level (connection refused, reset,
/// timeout). A few seconds in all: the event loop retries on its next tick anyway.
const READ_ATTEMPTS: u32 = 3;

/// First backoff between read attempts; doubles each time.
const READ_BACKOFF: Duration = Duration::from_millis(200);

/// Fee bump for a replacement, in percent of both fee fields. Geth, Nethermind,
/// Erigon and Besu require at least 10%; 12.5% clears every client's threshold with
/// rounding to spare.
pub const REPLACEMENT_BUMP_PERCENT: u128 = 125;

/// Why a chain operation failed. Each variant keeps its cause as a typed source
/// (callers branch on them: [`ChainError::is_transient`],
/// [`ChainError::is_certificate_rejected`]); `Display` also spells the cause out, so
/// a log line with `%error` says why without walking the chain.
#[derive(Debug, thiserror::Error)]
pub enum ChainError {
    /// The RPC endpoint could not be set up.
    #[error(transparent)]
    Setup(#[from] transport::TransportSetupError),
    /// The node could not be reached or answered garbage, after retries.
    #[error("RPC transport error: {}", runner::error_chain(.0))]
    Transport(#[source] TransportError),
    /// The node answered with a JSON-RPC error.
    #[error("RPC error: {0}")]
    Rpc(alloy::rpc::json_rpc::ErrorPayload),
    /// The node answered `null` for its latest block.
    #[error("RPC error: the node has no latest block")]
    NoLatestBlock,
    /// The call would revert (or did), with the decoded reason.
    #[error("{0}")]
    Revert(RevertReason),
    /// The contract answered something this build cannot interpret.
    #[error("unexpected contract data: {0}")]
    Decode(#[source] DecodeError),
    /// Signing failed.
    #[error("signing failed: {0}")]
    Sign(#[source] alloy::signers::Error),
    /// No randomness for a seed.
    #[error("no entropy for a seed: {}", runner::error_chain(.0))]
    Entropy(#[source] crate::entropy::EntropyError),
}

/// What in the contract's answer could not be interpreted.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// The ABI encoding does not match the bindings.
    #[error("{0}")]
    Abi(#[from] alloy::sol_types::Error),
    /// An enum value (a round state, a refund reason) this build does not know.
    #[error("{0}")]
    Enum(#[from] abi::contract::UnknownEnumValue),
    /// The participant pages name a player twice.
    #[error("{0}")]
    DuplicateParticipant(#[from] abi::state::DuplicateParticipant),
    /// The participant pages hold another number of players than the contract counts.
    #[error("the participant pages hold {held} players, the contract counts {counted}")]
    ParticipantCount {
        /// Players in the pages.
        held: usize,
        /// The contract's count.
        counted: u64,
    },
}

impl From<alloy::sol_types::Error> for ChainError {
    fn from(e: alloy::sol_types::Error) -> Self {
        Self::Decode(e.into())
    }
}

impl From<abi::contract::UnknownEnumValue> for ChainError {
    fn from(e: abi::contract::UnknownEnumValue) -> Self {
        Self::Decode(e.into())
    }
}

impl ChainError {
    /// Sorts an RPC failure: a revert (with its decoded reason), the node's JSON-RPC
    /// error, or a transport failure.
    pub fn from_rpc(err: TransportError) -> Self {
        if let Some(data) = err.as_error_resp().and_then(|p| p.as_revert_data()) {
            return Self::Revert(RevertReason::decode(&data));
        }
        match err {
            RpcError::ErrorResp(payload) => Self::Rpc(payload),
            other => Self::Transport(other),
        }
    }

    /// Whether retrying the same request may succeed.
    pub const fn is_transient(&self) -> bool {
        matches!(self, Self::Transport(_))
    }

    /// Whether the RPC host's TLS certificate was rejected (an unknown issuer, a wrong
    /// name, expired): retrying will not help, a `--rpc-ca-file` might.
    pub fn is_certificate_rejected(&self) -> bool {
        matches!(self, Self::Transport(e) if transport::is_certificate_rejection(e))
    }
}

/// Runs `op` up to [`READ_ATTEMPTS`] times while it fails with a transient error.
async fn retry<T, F, Fut>(what: &str, mut op: F) -> Result<T, ChainError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, ChainError>>,
{
    let mut backoff = READ_BACKOFF;
    let mut attempt = 1;
    loop {
        match op().await {
            Err(e) if e.is_transient() && attempt < READ_ATTEMPTS => {
                debug!(target: "chain", what, attempt, error = %e, "retrying");
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// The chain's block interval from recent block timestamps: the common gap when the
/// last gaps agree, 0 when they do not (automining dev chains, irregular L2s).
#[derive(Debug, Default, Clone)]
pub struct BlockClock {
    last: Option<ChainHead>,
    gaps: std::collections::VecDeque<u64>,
}

/// Gaps remembered to judge whether block times are regular.
const CLOCK_SAMPLES: usize = 4;

impl BlockClock {
    /// Records a new head.
    pub fn observe(&mut self, head: &ChainHead) {
        if let Some(last) = self.last
            && head.number == last.number + 1
            && head.timestamp > last.timestamp
        {
            self.gaps.push_back(head.timestamp - last.timestamp);
            while self.gaps.len() > CLOCK_SAMPLES {
                self.gaps.pop_front();
            }
        }
        self.last = Some(*head);
    }

    /// The regular block interval, or 0 when unknown or irregular.
    pub fn interval(&self) -> u64 {
        match self.gaps.front() {
            Some(first) if self.gaps.len() >= 2 && self.gaps.iter().all(|g| g == first) => *first,
            _ => 0,
        }
    }
}

/// Participants one page read asks for: the contract's `MAX_PARTICIPANTS_PAGE`, about
/// 5.5 million gas, a tenth of the `eth_call` cap common nodes apply.
pub const PARTICIPANTS_PAGE: u64 = 1000;

/// The pending answers of the view calls in a batch: `getConfig`, `getRound`, and the
/// first `getParticipantsPage` on a full read only.
type ViewCalls = (Waiter<Bytes>, Waiter<Bytes>, Option<Waiter<Bytes>>);

/// Decodes the view answers of a batch into a [`ContractState`].
async fn finish_view_calls(
    (config, round, participants): ViewCalls,
    block: u64,
) -> Result<(ContractState, Option<Page>), ChainError> {
    let (config, round) = tokio::try_join!(config, round).map_err(ChainError::from_rpc)?;
    let config = Lottery::getConfigCall::abi_decode_returns(&config).map_err(ChainError::from)?;
    let round = Lottery::getRoundCall::abi_decode_returns(&round).map_err(ChainError::from)?;
    let first_page = match participants {
        Some(waiter) => Some(decode_page(&waiter.await.map_err(ChainError::from_rpc)?)?),
        None => None,
    };
    Ok((
        ContractState {
            block_number: block,
            config: config.into(),
            round: RoundView::try_from(round)?,
            participants: None,
        },
        first_page,
    ))
}

/// One page of participants and the round's count.
type Page = (Vec<Stake>, u64);

fn decode_page(bytes: &Bytes) -> Result<Page, ChainError> {
    let page = Lottery::getParticipantsPageCall::abi_decode_returns(bytes)?;
    let stakes = page
        .page
        .into_iter()
        .map(|p| Stake {
            address: p.player,
            amount: p.amount,
        })
        .collect();
    Ok((stakes, page.total.saturating_to()))
}

/// What one poll found.
#[derive(Debug, Clone)]
pub struct Polled {
    /// The latest block.
    pub head: BlockRef,
    /// The contract's logs from the requested block up to `head`; `None` when the
    /// node refused the range.
    pub logs: Option<Vec<Log>>,
    /// The views at the latest block, when asked for.
    pub views: Option<ContractState>,
}

/// A block as the mirror tracks it: its place, identity and parent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockRef {
    /// Block number.
    pub number: u64,
    /// Block hash.
    pub hash: B256,
    /// The parent's hash (a mismatch with what we saw at `number - 1` is a reorg).
    pub parent_hash: B256,
    /// Block timestamp (chain time).
    pub timestamp: u64,
}

impl BlockRef {
    /// The head as the store shows it.
    pub const fn head(&self) -> ChainHead {
        ChainHead {
            number: self.number,
            hash: self.hash,
            timestamp: self.timestamp,
        }
    }

    fn from_header(h: &alloy::rpc::types::Header) -> Self {
        Self {
            number: h.number,
            hash: h.hash,
            parent_hash: h.parent_hash,
            timestamp: h.timestamp,
        }
    }
}

/// The contract's views, read at one block.
#[derive(Debug, Clone, PartialEq)]
pub struct ContractState {
    /// The block they were read at.
    pub block_number: u64,
    /// `getConfig()`.
    pub config: ConfigView,
    /// `getRound()`.
    pub round: RoundView,
    /// The whole participant list, read page by page at the same block: on a full
    /// read only ([`ChainClient::contract_state`]); the mirror builds the list from
    /// `BetPlaced` logs instead.
    pub participants: Option<ParticipantList>,
}

/// What the operator acts on, read at one block: the block and the two O(1) views.
#[derive(Debug, Clone, PartialEq)]
pub struct Facts {
    /// The block (number, hash, timestamp).
    pub head: ChainHead,
    /// `getConfig()`.
    pub config: ConfigView,
    /// `getRound()`.
    pub round: RoundView,
}

/// Read access to the chain and the lottery contract.
#[derive(Clone)]
pub struct ChainClient {
    provider: DynProvider,
    client: RpcClient,
    contract: Address,
}

impl std::fmt::Debug for ChainClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChainClient")
            .field("contract", &self.contract)
            .finish_non_exhaustive()
    }
}

impl ChainClient {
    /// A client for `contract` over `client` (whose transport decides how bytes reach
    /// the node: direct TCP, or the enclave's egress).
    pub fn new(client: RpcClient, contract: Address) -> Self {
        // No fillers: reads need none, and the operator fills its own transactions.
        let provider = ProviderBuilder::new()
            .disable_recommended_fillers()
            .connect_client(client.clone())
            .erased();
        Self {
            provider,
            client,
            contract,
        }
    }

    /// A client over direct TCP (TLS for `https://`).
    ///
    /// # Errors
    /// When the TLS configuration cannot be built.
    pub fn connect_tcp(url: RpcUrl, contract: Address) -> Result<Self, ChainError> {
        Ok(Self::new(transport::connect_tcp(url)?, contract))
    }

    /// The contract address.
    pub const fn contract(&self) -> Address {
        self.contract
    }

    /// The underlying provider (no fillers).
    pub const fn provider(&self) -> &DynProvider {
        &self.provider
    }

    /// `eth_chainId`.
    ///
    /// # Errors
    /// On RPC failure after retries.
    pub async fn chain_id(&self) -> Result<u64, ChainError> {
        retry("eth_chainId", || async {
            self.provider
                .get_chain_id()
                .await
                .map_err(ChainError::from_rpc)
        })
        .await
    }

    /// The latest block.
    ///
    /// # Errors
    /// On RPC failure after retries.
    pub async fn head(&self) -> Result<BlockRef, ChainError> {
        self.header(BlockNumberOrTag::Latest)
            .await?
            .ok_or_else(|| ChainError::NoLatestBlock)
    }

    /// A block; `None` when the node does not have it.
    ///
    /// # Errors
    /// On RPC failure after retries.
    pub async fn header(&self, block: BlockNumberOrTag) -> Result<Option<BlockRef>, ChainError> {
        retry("eth_getBlockByNumber", || async {
            let block = self
                .provider
                .get_block_by_number(block)
                .await
                .map_err(ChainError::from_rpc)?;
            Ok(block.map(|b| BlockRef::from_header(&b.header)))
        })
        .await
    }

    /// The latest block and the contract's logs from `from` up to it, plus the views
    /// when `with_views`, all in one HTTP request (a JSON-RPC batch): the whole cost of
    /// an idle tick, reconciliation included. Logs above the returned head (mined
    /// between the calls) are dropped; the next tick gets them. Views ride along at
    /// `latest`, so in a rare race they may be one block newer than `head`; the logs
    /// of that block then trigger a pinned re-read on the next tick.
    ///
    /// # Errors
    /// On RPC failure after retries.
    pub async fn poll(&self, from: u64, with_views: bool) -> Result<Polled, ChainError> {
        retry("poll", || async {
            let mut batch = self.client.new_batch();
            let latest = (BlockNumberOrTag::Latest, false);
            let head = batch
                .add_call::<_, Option<alloy::rpc::types::Block>>("eth_getBlockByNumber", &latest)
                .map_err(ChainError::from_rpc)?;
            let filter = Filter::new()
                .address(self.contract)
                .from_block(from)
                .to_block(BlockNumberOrTag::Latest);
            let logs = batch
                .add_call::<_, Vec<Log>>("eth_getLogs", &(filter,))
                .map_err(ChainError::from_rpc)?;
            let views = if with_views {
                Some(self.add_view_calls(&mut batch, BlockId::latest(), false)?)
            } else {
                None
            };
            batch.send().await.map_err(ChainError::from_rpc)?;
            let head = head
                .await
                .map_err(ChainError::from_rpc)?
                .map(|b| BlockRef::from_header(&b.header))
                .ok_or_else(|| ChainError::NoLatestBlock)?;
            let logs = match logs.await {
                Ok(logs) => Some(
                    logs.into_iter()
                        .filter(|l| l.block_number.is_none_or(|n| n <= head.number))
                        .collect(),
                ),
                Err(e @ RpcError::ErrorResp(_)) => {
                    debug!(target: "chain", from, head = head.number, error = %e, "logs refused");
                    None
                }
                Err(e) => return Err(ChainError::from_rpc(e)),
            };
            let views = match views {
                Some(calls) => Some(finish_view_calls(calls, head.number).await?.0),
                None => None,
            };
            Ok(Polled { head, logs, views })
        })
        .await
    }

    /// The contract's logs in `[from, to]`, fetched in chunks of at most `chunk`
    /// blocks (providers cap the range of `eth_getLogs`), in chain order.
    ///
    /// # Errors
    /// On RPC failure after retries.
    pub async fn logs(&self, from: u64, to: u64, chunk: u64) -> Result<Vec<Log>, ChainError> {
        let mut out = Vec::new();
        let mut start = from;
        while start <= to {
            let end = to.min(start.saturating_add(chunk.max(1) - 1));
            let filter = Filter::new()
                .address(self.contract)
                .from_block(start)
                .to_block(end);
            let logs = retry("eth_getLogs", || async {
                self.provider
                    .get_logs(&filter)
                    .await
                    .map_err(ChainError::from_rpc)
            })
            .await?;
            out.extend(logs);
            start = end + 1;
        }
        Ok(out)
    }

    /// The facts the operator acts on at block `number`: the block itself and
    /// `getConfig` and `getRound` pinned to it, in one JSON-RPC batch (O(1) in the
    /// number of players). `None` when the node does not have that block yet.
    ///
    /// # Errors
    /// On RPC failure after retries, or contract data this build cannot decode.
    pub async fn facts(&self, number: u64) -> Result<Option<Facts>, ChainError> {
        retry("facts", || async {
            let mut batch = self.client.new_batch();
            let block = batch
                .add_call::<_, Option<alloy::rpc::types::Block>>(
                    "eth_getBlockByNumber",
                    &(BlockNumberOrTag::Number(number), false),
                )
                .map_err(ChainError::from_rpc)?;
            let mut add = |input: Vec<u8>| {
                let tx = TransactionRequest::default()
                    .to(self.contract)
                    .input(Bytes::from(input).into());
                batch
                    .add_call::<_, Bytes>("eth_call", &(tx, BlockId::number(number)))
                    .map_err(ChainError::from_rpc)
            };
            let config = add(Lottery::getConfigCall {}.abi_encode())?;
            let round = add(Lottery::getRoundCall {}.abi_encode())?;
            batch.send().await.map_err(ChainError::from_rpc)?;
            let Some(block) = block.await.map_err(ChainError::from_rpc)? else {
                return Ok(None);
            };
            let (config, round) = tokio::try_join!(config, round).map_err(ChainError::from_rpc)?;
            let config =
                Lottery::getConfigCall::abi_decode_returns(&config).map_err(ChainError::from)?;
            let round =
                Lottery::getRoundCall::abi_decode_returns(&round).map_err(ChainError::from)?;
            Ok(Some(Facts {
                head: BlockRef::from_header(&block.header).head(),
                config: config.into(),
                round: RoundView::try_from(round)?,
            }))
        })
        .await
    }

    /// Sends a signed transaction, counting "already known" as success.
    ///
    /// # Errors
    /// The node's refusal, or a transport failure.
    pub async fn send_raw(&self, raw: &[u8]) -> Result<(), ChainError> {
        match self.provider.send_raw_transaction(raw).await {
            Ok(_) => Ok(()),
            // A resend of a transaction the node already has is not a failure.
            Err(e) if is_known_transaction(&e) => Ok(()),
            Err(e) => Err(ChainError::from_rpc(e)),
        }
    }

    /// `getConfig`, `getRound` and the first `getParticipantsPage` in one JSON-RPC
    /// batch pinned to `block`, then the remaining pages (one batch, also pinned to
    /// `block`), so every answer describes the same state. Each page's gas is
    /// bounded ([`PARTICIPANTS_PAGE`] players, about 5.5 million), so a round of any
    /// size can be read; the number of calls grows with the players, so this full
    /// read is for a start, a reorg or a mismatch only, never per bet.
    ///
    /// # Errors
    /// On RPC failure after retries, contract data this build cannot decode, or a
    /// list that names a player twice.
    pub async fn contract_state(&self, block: u64) -> Result<ContractState, ChainError> {
        let (mut state, first) = self.views_at(block, true).await?;
        let Some((mut stakes, total)) = first else {
            return Ok(state);
        };
        let at = BlockId::number(block);
        let rest: Vec<u64> = (1..total.div_ceil(PARTICIPANTS_PAGE))
            .map(|i| i * PARTICIPANTS_PAGE)
            .collect();
        if !rest.is_empty() {
            let pages = retry("participant pages", || async {
                let mut batch = self.client.new_batch();
                let waiters = rest
                    .iter()
                    .map(|&offset| {
                        let input = Lottery::getParticipantsPageCall {
                            offset: U256::from(offset),
                            limit: U256::from(PARTICIPANTS_PAGE),
                        }
                        .abi_encode();
                        self.add_call(&mut batch, input, at)
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                batch.send().await.map_err(ChainError::from_rpc)?;
                let mut pages = Vec::with_capacity(waiters.len());
                for waiter in waiters {
                    pages.push(decode_page(&waiter.await.map_err(ChainError::from_rpc)?)?);
                }
                Ok(pages)
            })
            .await?;
            for (page, _) in pages {
                stakes.extend(page);
            }
        }
        if stakes.len() as u64 != total {
            return Err(ChainError::Decode(DecodeError::ParticipantCount {
                held: stakes.len(),
                counted: total,
            }));
        }
        let list = ParticipantList::new(state.round.round_id, stakes)
            .map_err(|e| ChainError::Decode(e.into()))?;
        state.participants = Some(list);
        Ok(state)
    }

    /// `getConfig` and `getRound` pinned to `block`: O(1) in the number of players.
    ///
    /// # Errors
    /// On RPC failure after retries, or contract data this build cannot decode.
    pub async fn round_state(&self, block: u64) -> Result<ContractState, ChainError> {
        Ok(self.views_at(block, false).await?.0)
    }

    async fn views_at(
        &self,
        block: u64,
        participants: bool,
    ) -> Result<(ContractState, Option<Page>), ChainError> {
        retry("contract views", || async {
            let mut batch = self.client.new_batch();
            let calls = self.add_view_calls(&mut batch, BlockId::number(block), participants)?;
            batch.send().await.map_err(ChainError::from_rpc)?;
            finish_view_calls(calls, block).await
        })
        .await
    }

    /// Adds `getConfig`, `getRound` and, when `participants`, the first
    /// `getParticipantsPage` at `at` to `batch`.
    fn add_view_calls(
        &self,
        batch: &mut BatchRequest<'_>,
        at: BlockId,
        participants: bool,
    ) -> Result<ViewCalls, ChainError> {
        Ok((
            self.add_call(batch, Lottery::getConfigCall {}.abi_encode(), at)?,
            self.add_call(batch, Lottery::getRoundCall {}.abi_encode(), at)?,
            if participants {
                let first = Lottery::getParticipantsPageCall {
                    offset: U256::ZERO,
                    limit: U256::from(PARTICIPANTS_PAGE),
                };
                Some(self.add_call(batch, first.abi_encode(), at)?)
            } else {
                None
            },
        ))
    }

    /// Adds an `eth_call` of the contract with `input` at `at` to `batch`.
    fn add_call(
        &self,
        batch: &mut BatchRequest<'_>,
        input: Vec<u8>,
        at: BlockId,
    ) -> Result<Waiter<Bytes>, ChainError> {
        let tx = TransactionRequest::default()
            .to(self.contract)
            .input(Bytes::from(input).into());
        batch
            .add_call::<_, Bytes>("eth_call", &(tx, at))
            .map_err(ChainError::from_rpc)
    }
}

/// A transaction the operator sent and has not seen mined yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingTx {
    /// The latest hash sent for this nonce (replacements change it).
    pub hash: TxHash,
    /// Every hash sent for this nonce, oldest first: any of them may be the one mined.
    pub hashes: Vec<TxHash>,
    /// The nonce.
    pub nonce: u64,
    /// The fees of the latest send.
    pub max_fee_per_gas: u128,
    /// The priority fee of the latest send.
    pub max_priority_fee_per_gas: u128,
    /// The gas limit.
    pub gas_limit: u64,
    /// The calldata.
    pub input: Bytes,
    /// The chain head's number when it was last (re)sent.
    pub sent_at_block: u64,
}

/// Sends the operator's transactions: own nonce, simulation first, replacement.
pub struct TxSender {
    chain: ChainClient,
    wallet: EthereumWallet,
    from: Address,
    chain_id: u64,
    /// The other upstreams: every signed transaction goes to them too, so one that
    /// drops or holds it cannot keep it off the chain.
    also: Vec<ChainClient>,
    /// The next nonce to use; `None` until read from the node (and after a failure
    /// that may have left it wrong).
    next_nonce: Option<u64>,
}

impl std::fmt::Debug for TxSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TxSender")
            .field("from", &self.from)
            .field("next_nonce", &self.next_nonce)
            .finish()
    }
}

impl TxSender {
    /// A sender signing with `wallet` for the address `from`.
    pub const fn new(
        chain: ChainClient,
        wallet: EthereumWallet,
        from: Address,
        chain_id: u64,
    ) -> Self {
        Self {
            chain,
            wallet,
            from,
            chain_id,
            also: Vec::new(),
            next_nonce: None,
        }
    }

    /// Also sends every signed transaction to `others`.
    #[must_use]
    pub fn with_broadcast_to(mut self, others: Vec<ChainClient>) -> Self {
        self.also = others;
        self
    }

    /// The operator address.
    pub const fn from(&self) -> Address {
        self.from
    }

    /// A sender on the same chain signing with another key (an injected one), its
    /// nonce read afresh.
    pub fn with_signer(&self, wallet: EthereumWallet, from: Address) -> Self {
        Self::new(self.chain.clone(), wallet, from, self.chain_id)
            .with_broadcast_to(self.also.clone())
    }

    /// Forgets the local nonce; the next send reads it from the node again. Call after
    /// a reorg or any send whose outcome is unknown.
    pub fn resync_nonce(&mut self) {
        self.next_nonce = None;
    }

    /// Simulates `input` against the contract with `eth_call` as the operator, in a
    /// block with timestamp `at_time` when given (the block the transaction aims
    /// for), and returns the decoded revert reason if it would fail.
    ///
    /// # Errors
    /// [`ChainError::Revert`] when the contract would reject it; transport errors.
    pub async fn simulate(&self, input: &Bytes, at_time: Option<u64>) -> Result<(), ChainError> {
        let tx = TransactionRequest::default()
            .from(self.from)
            .to(self.chain.contract)
            .input(input.clone().into());
        let overrides = at_time.map(|time| BlockOverrides {
            time: Some(time),
            ..Default::default()
        });
        retry("eth_call", || async {
            self.chain
                .provider
                .call(tx.clone())
                .block(BlockId::latest())
                .with_block_overrides_opt(overrides.clone())
                .await
                .map(|_| ())
                .map_err(ChainError::from_rpc)
        })
        .await
    }

    /// Simulates, then signs and sends `input` to the contract with a fresh nonce.
    ///
    /// # Errors
    /// A revert found by the simulation (nothing is sent), or a failed send.
    pub async fn send(
        &mut self,
        input: Bytes,
        gas_limit: u64,
        at_time: Option<u64>,
        head: u64,
    ) -> Result<PendingTx, ChainError> {
        self.simulate(&input, at_time).await?;
        let nonce = match self.next_nonce {
            Some(n) => n,
            None => self.pending_nonce().await?,
        };
        let fees = self.fees().await?;
        let mut pending = PendingTx {
            hash: TxHash::ZERO,
            hashes: Vec::new(),
            nonce,
            max_fee_per_gas: fees.0,
            max_priority_fee_per_gas: fees.1,
            gas_limit,
            input,
            sent_at_block: head,
        };
        match self.broadcast(&mut pending).await {
            Ok(()) => {
                self.next_nonce = Some(nonce + 1);
                Ok(pending)
            }
            Err(e) => {
                // The node may or may not have taken it: ask again next time.
                self.next_nonce = None;
                Err(e)
            }
        }
    }

    /// Re-sends `pending` with the same nonce and both fees raised by at least
    /// [`REPLACEMENT_BUMP_PERCENT`] (and at least the current market fees).
    ///
    /// # Errors
    /// When the replacement cannot be signed or sent.
    pub async fn replace(&mut self, pending: &mut PendingTx, head: u64) -> Result<(), ChainError> {
        let (market_fee, market_tip) = self.fees().await?;
        let bump = |old: u128| {
            old.saturating_mul(REPLACEMENT_BUMP_PERCENT)
                .div_ceil(100)
                .max(old + 1)
        };
        pending.max_priority_fee_per_gas = bump(pending.max_priority_fee_per_gas).max(market_tip);
        pending.max_fee_per_gas = bump(pending.max_fee_per_gas)
            .max(market_fee)
            .max(pending.max_priority_fee_per_gas);
        pending.sent_at_block = head;
        warn!(target: "operator::tx", nonce = pending.nonce, old = %pending.hash, max_fee = pending.max_fee_per_gas, "replacing a stuck transaction");
        self.broadcast(pending).await
    }

    /// Sends `pending` again unchanged (same nonce, same fees, so the same hash): for
    /// a transaction a node dropped after the replacements ran out.
    ///
    /// # Errors
    /// When it cannot be signed or sent.
    pub async fn resend(&mut self, pending: &mut PendingTx, head: u64) -> Result<(), ChainError> {
        pending.sent_at_block = head;
        self.broadcast(pending).await
    }

    /// The receipt of whichever of `pending`'s hashes was mined, if any.
    ///
    /// # Errors
    /// On RPC failure after retries.
    pub async fn receipt(
        &self,
        pending: &PendingTx,
    ) -> Result<Option<TransactionReceipt>, ChainError> {
        for hash in pending.hashes.iter().rev() {
            let receipt = retry("eth_getTransactionReceipt", || async {
                self.chain
                    .provider
                    .get_transaction_receipt(*hash)
                    .await
                    .map_err(ChainError::from_rpc)
            })
            .await?;
            if receipt.is_some() {
                return Ok(receipt);
            }
        }
        Ok(None)
    }

    /// The confirmed nonce of the operator (transactions mined so far).
    ///
    /// # Errors
    /// On RPC failure after retries.
    pub async fn mined_nonce(&self) -> Result<u64, ChainError> {
        retry("eth_getTransactionCount", || async {
            self.chain
                .provider
                .get_transaction_count(self.from)
                .block_id(BlockId::latest())
                .await
                .map_err(ChainError::from_rpc)
        })
        .await
    }

    async fn pending_nonce(&self) -> Result<u64, ChainError> {
        retry("eth_getTransactionCount", || async {
            self.chain
                .provider
                .get_transaction_count(self.from)
                .pending()
                .await
                .map_err(ChainError::from_rpc)
        })
        .await
    }

    /// `(max_fee_per_gas, max_priority_fee_per_gas)` from the node's fee history.
    async fn fees(&self) -> Result<(u128, u128), ChainError> {
        retry("eth_feeHistory", || async {
            let est = self
                .chain
                .provider
                .estimate_eip1559_fees()
                .await
                .map_err(ChainError::from_rpc)?;
            Ok((est.max_fee_per_gas, est.max_priority_fee_per_gas))
        })
        .await
    }

    async fn broadcast(&self, pending: &mut PendingTx) -> Result<(), ChainError> {
        let mut tx = TxEip1559 {
            chain_id: self.chain_id,
            nonce: pending.nonce,
            gas_limit: pending.gas_limit,
            max_fee_per_gas: pending.max_fee_per_gas,
            max_priority_fee_per_gas: pending.max_priority_fee_per_gas,
            to: TxKind::Call(self.chain.contract),
            value: U256::ZERO,
            access_list: Default::default(),
            input: pending.input.clone(),
        };
        let signer = self.wallet.default_signer();
        let signature: Signature = signer
            .sign_transaction(&mut tx)
            .await
            .map_err(ChainError::Sign)?;
        let envelope = TxEnvelope::from(tx.into_signed(signature));
        let hash = *envelope.tx_hash();
        let raw = envelope.encoded_2718();
        let (first, others) = tokio::join!(
            self.chain.send_raw(&raw),
            futures_util::future::join_all(self.also.iter().map(|c| c.send_raw(&raw)))
        );
        // Sent when any upstream took it; the followed one's error otherwise.
        if let Err(e) = first {
            if !others.iter().any(Result::is_ok) {
                return Err(e);
            }
            debug!(target: "operator::tx", %hash, error = %e, "the followed upstream refused it; another took it");
        }
        pending.hash = hash;
        if !pending.hashes.contains(&hash) {
            pending.hashes.push(hash);
        }
        debug!(target: "operator::tx", %hash, nonce = pending.nonce, "sent");
        Ok(())
    }
}

fn is_known_transaction(err: &RpcError<TransportErrorKind>) -> bool {
    err.as_error_resp().is_some_and(|p| {
        let m = p.message.to_lowercase();
        m.contains("already known") || m.contains("known transaction")
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy::primitives::B256;

    #[test]
    fn block_clock_needs_regular_gaps() {
        let mut clock = BlockClock::default();
        for (n, t) in [(1, 100), (2, 112), (3, 124), (4, 136)] {
            clock.observe(&ChainHead {
                number: n,
                hash: B256::ZERO,
                timestamp: t,
            });
        }
        assert_eq!(clock.interval(), 12);
        clock.observe(&ChainHead {
            number: 5,
            hash: B256::ZERO,
            timestamp: 137,
        });
        assert_eq!(clock.interval(), 0, "irregular gaps mean unknown");
    }
}
