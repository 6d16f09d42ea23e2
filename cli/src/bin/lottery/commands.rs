//! One function per command. Each validates its input, talks to the chain through
//! the bindings, decodes reverts into sentences, and prints its result.

use std::time::Duration;

use abi::{
    contract::{Lottery, RevertReason, RoundState},
    draw::{self, Seed},
    views::{ConfigView, ParticipantView, RoundView},
};
use alloy::{
    contract::{CallBuilder, CallDecoder},
    network::EthereumWallet,
    network::TransactionBuilder,
    primitives::{Address, B256, TxHash, U256, utils::parse_ether},
    providers::{DynProvider, Provider, ProviderBuilder},
    rpc::types::{TransactionReceipt, TransactionRequest},
    sol_types::SolEvent,
};
use eyre::{Result, WrapErr, bail, eyre};
use lottery_cli::attest_client::{self, EnclaveApi, Expectations};
use net::RpcUrl;
use rpc_transport as transport;
use serde::Serialize;

use crate::{
    cli::{Cli, Command, FromAttestation, KeySource},
    keys,
    output::{emit, eth, relative},
};

/// Shared by every command: where the chain is and how to print.
struct Ctx {
    rpc: RpcUrl,
    json: bool,
    timeout: Duration,
}

impl Ctx {
    fn client(&self) -> Result<alloy::rpc::client::RpcClient> {
        transport::connect_tcp(self.rpc.clone()).wrap_err("cannot set up the RPC client")
    }

    fn reader(&self) -> Result<DynProvider> {
        Ok(ProviderBuilder::new()
            .connect_client(self.client()?)
            .erased())
    }

    fn signer(&self, key: &KeySource) -> Result<(DynProvider, Address)> {
        let signer = keys::load(key)?;
        let from = signer.address();
        let provider = ProviderBuilder::new()
            .wallet(EthereumWallet::from(signer))
            .connect_client(self.client()?)
            .erased();
        Ok((provider, from))
    }

    fn lottery(
        &self,
        provider: DynProvider,
        address: Address,
    ) -> Lottery::LotteryInstance<DynProvider> {
        Lottery::new(address, provider)
    }

    /// Sends a call, waits for its receipt, and fails on a revert with a readable reason.
    async fn confirm<D: CallDecoder>(
        &self,
        call: CallBuilder<&DynProvider, D>,
    ) -> Result<TransactionReceipt> {
        let provider = call.provider.clone();
        let pending = call.send().await.map_err(|e| describe(&e))?;
        let hash = *pending.tx_hash();
        let receipt = wait_for_receipt(&provider, hash, self.timeout).await?;
        if !receipt.status() {
            bail!("transaction {hash} reverted on chain");
        }
        Ok(receipt)
    }
}

/// Consecutive failed receipt queries tolerated before giving up (a flaky RPC should
/// not make us report a sent transaction as failed).
const RECEIPT_QUERY_RETRIES: u32 = 3;

/// Polls `eth_getTransactionReceipt` until the receipt exists or `timeout` passes.
///
/// alloy's `get_receipt` spawns a block poller that outlives the call; a CLI that
/// exits right after would cut it off mid-request (and it logs an error doing so).
async fn wait_for_receipt(
    provider: &DynProvider,
    hash: TxHash,
    timeout: Duration,
) -> Result<TransactionReceipt> {
    let deadline = tokio::time::Instant::now() + timeout;
    let interval = provider.client().poll_interval();
    let mut failures = 0;
    loop {
        match provider.get_transaction_receipt(hash).await {
            Ok(Some(receipt)) => return Ok(receipt),
            Ok(None) => failures = 0,
            Err(e) => {
                failures += 1;
                if failures > RECEIPT_QUERY_RETRIES {
                    bail!(
                        "transaction {hash} was sent, but its receipt cannot be fetched: {}",
                        runner::error_chain(&e)
                    );
                }
            }
        }
        if tokio::time::Instant::now() >= deadline {
            bail!(
                "transaction {hash} was sent but not mined within {} s",
                timeout.as_secs()
            );
        }
        tokio::time::sleep(interval).await;
    }
}

/// A contract error as a sentence: the decoded revert when there is one, otherwise
/// the transport error with its whole cause chain.
fn describe(err: &alloy::contract::Error) -> eyre::Report {
    match RevertReason::from_error(err) {
        Some(reason) => eyre!("{reason}"),
        None => eyre!("{}", runner::error_chain(err)),
    }
}

/// Whether the address holds code (so we fail early with a clear message). Also the
/// first call of most commands, so it names the endpoint when it is unreachable.
async fn require_contract(ctx: &Ctx, provider: &DynProvider, address: Address) -> Result<()> {
    let code = provider
        .get_code_at(address)
        .await
        .map_err(|e| eyre!("cannot query {}: {}", ctx.rpc, runner::error_chain(&e)))?;
    if code.is_empty() {
        bail!("no contract at {address} on this chain (wrong --contract or --rpc-url?)");
    }
    Ok(())
}

fn event<E: SolEvent>(receipt: &TransactionReceipt) -> Option<E> {
    receipt
        .inner
        .logs()
        .iter()
        .find_map(|log| log.log_decode::<E>().ok().map(|l| l.inner.data))
}

/// Entry point: dispatches to the command.
pub(crate) async fn run(cli: Cli) -> Result<()> {
    let ctx = Ctx {
        rpc: RpcUrl::parse(&cli.global.rpc_url).wrap_err("invalid --rpc-url / LOTTERY_RPC_URL")?,
        json: cli.global.json,
        timeout: Duration::from_secs(cli.global.timeout),
    };
    match cli.command {
        Command::Deploy {
            commission_bps,
            operator_delay,
            key,
        } => deploy(&ctx, commission_bps, operator_delay, &key).await,
        Command::SetOperator {
            contract,
            operator,
            pcr0,
            attestation,
            fund,
            key,
        } => {
            let fund = fund.as_deref().map(parse_amount).transpose()?;
            let manual = operator.zip(pcr0.map(|p| p.0));
            set_operator(&ctx, contract.contract, manual, &attestation, fund, &key).await
        }
        Command::CancelOperator { contract, key } => {
            cancel_operator(&ctx, contract.contract, &key).await
        }
        Command::Config {
            contract,
            min_bet,
            betting_duration,
            min_participants,
            key,
        } => {
            config(
                &ctx,
                contract.contract,
                min_bet,
                betting_duration,
                min_participants,
                &key,
            )
            .await
        }
        Command::Commit {
            contract,
            seed,
            key,
        } => commit(&ctx, contract.contract, seed, &key).await,
        Command::Draw {
            contract,
            seed,
            key,
        } => draw_round(&ctx, contract.contract, seed, &key).await,
        Command::Refund {
            contract,
            expired,
            round,
            key,
        } => refund(&ctx, contract.contract, expired, round, &key).await,
        Command::Bet {
            contract,
            amount,
            key,
        } => bet(&ctx, contract.contract, &amount, &key).await,
        Command::Status { contract } => status(&ctx, contract.contract).await,
        Command::VerifyRound {
            contract,
            round,
            all,
            from,
            to,
            from_block,
            log_chunk,
        } => {
            let range = match (round, from) {
                (Some(n), _) => crate::verify::Rounds::One(n),
                (None, Some(from)) => crate::verify::Rounds::Range { from, to },
                (None, None) => {
                    debug_assert!(all);
                    crate::verify::Rounds::All
                }
            };
            let provider = ctx.reader()?;
            require_contract(&ctx, &provider, contract.contract).await?;
            crate::verify::run(
                provider,
                contract.contract,
                range,
                from_block,
                log_chunk,
                ctx.json,
            )
            .await
        }
        Command::Withdraw { contract, key } => withdraw(&ctx, contract.contract, &key).await,
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Deployed {
    #[serde(with = "abi::wire::checksummed")]
    address: Address,
    transaction_hash: TxHash,
    block_number: Option<u64>,
    #[serde(with = "abi::wire::checksummed")]
    publisher: Address,
    commission_bps: u16,
    operator_delay: u64,
}

async fn deploy(
    ctx: &Ctx,
    commission_bps: u16,
    operator_delay: u64,
    key: &KeySource,
) -> Result<()> {
    let (provider, from) = ctx.signer(key)?;
    let builder = Lottery::deploy_builder(
        &provider,
        U256::from(commission_bps),
        U256::from(operator_delay),
    );
    let receipt = ctx.confirm(builder).await.wrap_err("deployment failed")?;
    let address = receipt
        .contract_address
        .ok_or_else(|| eyre!("the receipt names no contract address"))?;
    let out = Deployed {
        address,
        transaction_hash: receipt.transaction_hash,
        block_number: receipt.block_number,
        publisher: from,
        commission_bps,
        operator_delay,
    };
    emit(ctx.json, &out, || address.to_checksum(None))
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Sent {
    transaction_hash: TxHash,
    #[serde(flatten)]
    detail: serde_json::Value,
}

async fn set_operator(
    ctx: &Ctx,
    contract: Address,
    manual: Option<(Address, Vec<u8>)>,
    attestation: &FromAttestation,
    fund: Option<U256>,
    key: &KeySource,
) -> Result<()> {
    let (provider, _) = ctx.signer(key)?;
    require_contract(ctx, &provider, contract).await?;
    let lottery = ctx.lottery(provider.clone(), contract);
    let (operator, pcr0, attested) = match manual {
        Some((operator, pcr0)) => (operator, pcr0, None),
        None => {
            let attested = attested_operator(ctx, &provider, contract, attestation).await?;
            (attested.operator, attested.pcr0.clone(), Some(attested))
        }
    };
    let pcrs = alloy::primitives::Bytes::from(pcr0.clone());
    if let Some(value) = fund {
        // Nothing is sent unless the announcement would succeed (publisher, measurement).
        lottery
            .setOperator(operator, pcrs.clone())
            .call()
            .await
            .map_err(|e| describe(&e))
            .wrap_err("set-operator failed")?;
        // Before the role: an operator without gas would fail its first commit.
        let transfer = TransactionRequest::default()
            .with_to(operator)
            .with_value(value);
        let pending = provider
            .send_transaction(transfer)
            .await
            .map_err(|e| eyre!("{}", runner::error_chain(&e)))
            .wrap_err_with(|| format!("funding the operator {operator} failed"))?;
        let receipt = wait_for_receipt(&provider, *pending.tx_hash(), ctx.timeout).await?;
        if !receipt.status() {
            bail!(
                "funding the operator {operator} failed: transaction {} reverted",
                receipt.transaction_hash
            );
        }
    }
    let receipt = ctx
        .confirm(lottery.setOperator(operator, pcrs))
        .await
        .wrap_err("set-operator failed")?;
    let announced = event::<Lottery::OperatorChangeAnnounced>(&receipt)
        .ok_or_else(|| eyre!("the transaction emitted no OperatorChangeAnnounced event"))?;
    let effective_at: u64 = announced.effectiveAt.saturating_to();
    let mut detail = serde_json::json!({
        "operator": operator.to_checksum(None),
        "pcr0": alloy::hex::encode(&pcr0),
        "recordId": announced.recordId.saturating_to::<u64>(),
        "effectiveAt": effective_at,
    });
    if let Some(value) = fund {
        detail["funded"] = serde_json::json!(value.to_string());
    }
    if let Some(a) = &attested {
        detail["attestation"] = serde_json::json!({
            "url": a.url,
            "simulated": a.simulated,
            "debug": a.debug,
            "keyOrigin": a.key_origin,
            "checks": a.checks,
        });
    }
    let out = Sent {
        transaction_hash: receipt.transaction_hash,
        detail,
    };
    emit(ctx.json, &out, || {
        let source = attested.as_ref().map_or_else(String::new, |a| {
            format!(
                ", attested by {}{}{}",
                a.url,
                if a.simulated {
                    " (SIMULATED enclave)"
                } else {
                    ""
                },
                if a.debug { " (DEBUG MODE enclave)" } else { "" }
            )
        });
        let funded = fund.map_or_else(String::new, |v| format!(", funded with {}", eth(v)));
        format!(
            "operator {operator} announced with PCR0 {}{source}{funded}; it takes effect at {effective_at} (chain time), once no round takes bets (tx {})",
            alloy::hex::encode(&pcr0),
            receipt.transaction_hash
        )
    })
}

async fn cancel_operator(ctx: &Ctx, contract: Address, key: &KeySource) -> Result<()> {
    let (provider, _) = ctx.signer(key)?;
    require_contract(ctx, &provider, contract).await?;
    let lottery = ctx.lottery(provider.clone(), contract);
    let receipt = ctx
        .confirm(lottery.cancelOperatorChange())
        .await
        .wrap_err("cancel-operator failed")?;
    let cancelled = event::<Lottery::OperatorChangeCancelled>(&receipt)
        .ok_or_else(|| eyre!("the transaction emitted no OperatorChangeCancelled event"))?;
    let out = Sent {
        transaction_hash: receipt.transaction_hash,
        detail: serde_json::json!({
            "operator": cancelled.operator.to_checksum(None),
            "recordId": cancelled.recordId.saturating_to::<u64>(),
        }),
    };
    emit(ctx.json, &out, || {
        format!(
            "the announcement of operator {} was withdrawn (tx {})",
            cancelled.operator, receipt.transaction_hash
        )
    })
}

/// The operator address from a verified attestation document.
struct AttestedOperator {
    operator: Address,
    /// The document's PCR0, checked against the expectation.
    pcr0: Vec<u8>,
    url: String,
    simulated: bool,
    debug: bool,
    key_origin: Option<attestation::KeyOrigin>,
    checks: Vec<String>,
}

/// Fetches a fresh document from `--from-attestation`, verifies it (including that
/// `user_data` names this chain and contract) and returns the attested operator.
async fn attested_operator(
    ctx: &Ctx,
    provider: &DynProvider,
    contract: Address,
    args: &FromAttestation,
) -> Result<AttestedOperator> {
    let Some(url) = &args.from_attestation else {
        bail!("pass --operator ADDRESS or --from-attestation URL");
    };
    let url = RpcUrl::parse(url).wrap_err("invalid --from-attestation URL")?;
    let root = attest_client::trust_anchor(args.root_cert.as_deref())?;
    let chain_id = provider
        .get_chain_id()
        .await
        .map_err(|e| eyre!("cannot query {}: {}", ctx.rpc, runner::error_chain(&e)))?;
    // The image the operator must run: --expected-pcr 0=..., else the PCR0 the
    // contract records for its current operator (a new key for the same image).
    let config = ConfigView::from(
        Lottery::new(contract, provider.clone())
            .getConfig()
            .call()
            .await
            .map_err(|e| describe(&e))
            .wrap_err("cannot read the contract's recorded PCR0")?,
    );
    // An explicit PCR0 names a new image: it replaces the chain's, it need not equal it.
    let explicit = args.expected_pcr.iter().any(|p| p.index == 0);
    let pcrs = attest_client::with_chain_pcr0(
        &args.expected_pcr,
        (!explicit).then_some(&config),
        config.operator,
    )
    .wrap_err("refusing to set the operator")?;
    let expectations = Expectations {
        allow_debug: args.allow_debug,
        pcrs,
        chain_id: Some(chain_id),
        contract: Some(contract),
        operator: None,
    };
    let api = EnclaveApi::new(url.clone())?;
    let attested = api
        .fetch_verified(&root, &expectations, attest_client::DEFAULT_MAX_AGE)
        .await
        .wrap_err("refusing to set the operator: the enclave's attestation was not verified")?;
    let operator = attested
        .operator()
        .ok_or_else(|| eyre!("the attestation document names no operator (no user_data)"))?;
    let pcr0 = attested
        .verified
        .pcr(0)
        .ok_or_else(|| eyre!("the attestation document has no PCR0"))?
        .to_vec();
    Ok(AttestedOperator {
        operator,
        pcr0,
        url: url.to_string(),
        simulated: attested.verified.simulated,
        debug: attested.verified.debug_mode,
        key_origin: attested.verified.user_data.as_ref().map(|u| u.key_origin),
        checks: attested.checks,
    })
}

async fn config(
    ctx: &Ctx,
    contract: Address,
    min_bet: Option<U256>,
    betting_duration: Option<u64>,
    min_participants: Option<u64>,
    key: &KeySource,
) -> Result<()> {
    let changes = min_bet.is_some() || betting_duration.is_some() || min_participants.is_some();
    let (provider, from) = if changes {
        ctx.signer(key)?
    } else {
        (ctx.reader()?, Address::ZERO)
    };
    require_contract(ctx, &provider, contract).await?;
    let lottery = ctx.lottery(provider.clone(), contract);
    // Simulate every change before sending any, so one bad value changes nothing.
    if let Some(v) = min_bet {
        let call = lottery.setMinBetAmount(v).from(from);
        call.call()
            .await
            .map_err(|e| describe(&e))
            .wrap_err("--min-bet rejected")?;
    }
    if let Some(v) = betting_duration {
        let call = lottery.setBettingDuration(U256::from(v)).from(from);
        call.call()
            .await
            .map_err(|e| describe(&e))
            .wrap_err("--betting-duration rejected")?;
    }
    if let Some(v) = min_participants {
        let call = lottery.setMinParticipants(U256::from(v)).from(from);
        call.call()
            .await
            .map_err(|e| describe(&e))
            .wrap_err("--min-participants rejected")?;
    }
    if let Some(v) = min_bet {
        ctx.confirm(lottery.setMinBetAmount(v))
            .await
            .wrap_err("setting the minimum bet failed")?;
    }
    if let Some(v) = betting_duration {
        let call = lottery.setBettingDuration(U256::from(v));
        ctx.confirm(call)
            .await
            .wrap_err("setting the betting duration failed")?;
    }
    if let Some(v) = min_participants {
        let call = lottery.setMinParticipants(U256::from(v));
        ctx.confirm(call)
            .await
            .wrap_err("setting the minimum participants failed")?;
    }
    let view = ConfigView::from(lottery.getConfig().call().await.map_err(|e| describe(&e))?);
    emit(ctx.json, &view, || config_text(&view))
}

fn config_text(c: &ConfigView) -> String {
    let operator = c
        .operator
        .map_or_else(|| "(not set)".to_owned(), |a| a.to_checksum(None));
    format!(
        "publisher          {}\noperator           {operator}\ncommission         {} bps\nminimum bet        {}\nbetting duration   {} s\ndraw window        {}..{} s after the end of betting\nminimum extension  {} s\nmin participants   {}",
        c.publisher.to_checksum(None),
        c.commission_bps,
        eth(c.min_bet_amount),
        c.betting_duration,
        c.min_draw_delay_after_end,
        c.max_draw_delay_after_end,
        c.min_end_time_extension,
        c.min_participants
    ) + &operator_text(c)
}

/// The operator's measurement, the delay and a pending change, for `config_text`.
fn operator_text(c: &ConfigView) -> String {
    let mut text = format!(
        "\noperator PCR0      {}\noperator delay     {} s",
        c.operator_pcr0.as_deref().unwrap_or("(none)"),
        c.operator_delay
    );
    if let Some(p) = &c.pending_operator {
        text.push_str(&format!(
            "\npending operator   {} (PCR0 {}), takes effect at {} once no round takes bets",
            p.operator.to_checksum(None),
            p.pcr0.as_deref().unwrap_or("(none)"),
            p.effective_at
        ));
    }
    text
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Committed {
    round_id: u64,
    seed: B256,
    commitment: B256,
    transaction_hash: TxHash,
}

async fn commit(ctx: &Ctx, contract: Address, seed: Option<B256>, key: &KeySource) -> Result<()> {
    let (provider, _) = ctx.signer(key)?;
    require_contract(ctx, &provider, contract).await?;
    let lottery = ctx.lottery(provider.clone(), contract);
    let seed = match seed {
        Some(s) => Seed::from_bytes(s),
        None => Seed::random().map_err(|e| eyre!("the OS random source failed: {e}"))?,
    };
    let round_id = lottery
        .currentRoundId()
        .call()
        .await
        .map_err(|e| describe(&e))?;
    let chain_id = provider
        .get_chain_id()
        .await
        .map_err(|e| eyre!("{}", runner::error_chain(&e)))?;
    let commitment = draw::commitment(chain_id, contract, round_id, &seed);
    let receipt = ctx
        .confirm(lottery.commitSeed(round_id, commitment))
        .await
        .wrap_err("commit failed")?;
    let out = Committed {
        round_id: round_id.saturating_to(),
        seed: seed.reveal(),
        commitment,
        transaction_hash: receipt.transaction_hash,
    };
    emit(ctx.json, &out, || {
        format!(
            "committed round {round_id} (commitment {commitment})\nseed: {}\nkeep the seed secret; reveal it inside the draw window with:\n  lottery draw --contract {contract} --seed {}",
            out.seed, out.seed
        )
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Drawn {
    round_id: u64,
    outcome: &'static str,
    #[serde(with = "abi::wire::checksummed::option")]
    winner: Option<Address>,
    #[serde(with = "abi::wire::wei")]
    prize: U256,
    #[serde(with = "abi::wire::wei")]
    commission: U256,
    transaction_hash: TxHash,
}

async fn draw_round(ctx: &Ctx, contract: Address, seed: B256, key: &KeySource) -> Result<()> {
    let (provider, _) = ctx.signer(key)?;
    require_contract(ctx, &provider, contract).await?;
    let lottery = ctx.lottery(provider.clone(), contract);
    let receipt = ctx
        .confirm(lottery.drawWinner(seed))
        .await
        .wrap_err("draw failed")?;
    let out = if let Some(done) = event::<Lottery::RoundCompleted>(&receipt) {
        Drawn {
            round_id: done.roundId.saturating_to(),
            outcome: "completed",
            winner: Some(done.winner),
            prize: done.prize,
            commission: done.commission,
            transaction_hash: receipt.transaction_hash,
        }
    } else if let Some(refunded) = event::<Lottery::RoundRefunded>(&receipt) {
        Drawn {
            round_id: refunded.roundId.saturating_to(),
            outcome: "refunded",
            winner: None,
            prize: U256::ZERO,
            commission: U256::ZERO,
            transaction_hash: receipt.transaction_hash,
        }
    } else {
        bail!(
            "the draw transaction {} emitted neither RoundCompleted nor RoundRefunded",
            receipt.transaction_hash
        );
    };
    emit(ctx.json, &out, || match out.winner {
        Some(w) => format!(
            "round {} won by {w}: prize {}, commission {}",
            out.round_id,
            eth(out.prize),
            eth(out.commission)
        ),
        None => format!("round {} refunded: too few participants", out.round_id),
    })
}

async fn refund(
    ctx: &Ctx,
    contract: Address,
    expired: bool,
    round: Option<u64>,
    key: &KeySource,
) -> Result<()> {
    let (provider, _) = ctx.signer(key)?;
    require_contract(ctx, &provider, contract).await?;
    let lottery = ctx.lottery(provider.clone(), contract);
    let receipt = if expired {
        ctx.confirm(lottery.refundExpiredRound()).await
    } else {
        let round = match round {
            Some(id) => U256::from(id),
            None => lottery
                .currentRoundId()
                .call()
                .await
                .map_err(|e| describe(&e))
                .wrap_err("cannot read the current round")?,
        };
        ctx.confirm(lottery.refundRound(round)).await
    }
    .wrap_err("refund failed")?;
    let refunded = event::<Lottery::RoundRefunded>(&receipt)
        .ok_or_else(|| eyre!("the refund emitted no RoundRefunded event"))?;
    let out = Sent {
        transaction_hash: receipt.transaction_hash,
        detail: serde_json::json!({
            "roundId": refunded.roundId.saturating_to::<u64>(),
            "totalRefunded": refunded.totalRefunded.to_string(),
            "participantCount": refunded.participantCount.saturating_to::<u64>(),
        }),
    };
    emit(ctx.json, &out, || {
        format!(
            "round {} refunded: {} to {} participants (each withdraws their stake)",
            refunded.roundId,
            eth(refunded.totalRefunded),
            refunded.participantCount
        )
    })
}

/// Parses a positive ETH amount such as `0.01`.
fn parse_amount(text: &str) -> Result<U256> {
    let text = text.trim();
    if text.starts_with(['-', '+']) {
        bail!(
            "invalid amount {text:?}: expected a positive ETH amount such as 0.01, without a sign"
        );
    }
    let wei = parse_ether(text).map_err(|_| {
        eyre!("invalid amount {text:?}: expected ETH as a decimal, for example 0.01")
    })?;
    if wei.is_zero() {
        bail!("the amount must be greater than zero");
    }
    Ok(wei)
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct BetOut {
    round_id: u64,
    #[serde(with = "abi::wire::checksummed")]
    player: Address,
    #[serde(with = "abi::wire::wei")]
    amount: U256,
    #[serde(with = "abi::wire::wei")]
    new_total: U256,
    transaction_hash: TxHash,
}

async fn bet(ctx: &Ctx, contract: Address, amount: &str, key: &KeySource) -> Result<()> {
    let value = parse_amount(amount)?;
    let (provider, from) = ctx.signer(key)?;
    require_contract(ctx, &provider, contract).await?;
    let lottery = ctx.lottery(provider.clone(), contract);
    let receipt = ctx
        .confirm(lottery.placeBet().value(value))
        .await
        .wrap_err("bet failed")?;
    let placed = event::<Lottery::BetPlaced>(&receipt)
        .ok_or_else(|| eyre!("the bet emitted no BetPlaced event"))?;
    let out = BetOut {
        round_id: placed.roundId.saturating_to(),
        player: from,
        amount: placed.amount,
        new_total: placed.newTotal,
        transaction_hash: receipt.transaction_hash,
    };
    emit(ctx.json, &out, || {
        format!(
            "bet {} on round {} (your stake: {})",
            eth(out.amount),
            out.round_id,
            eth(out.new_total)
        )
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    #[serde(with = "abi::wire::checksummed")]
    contract: Address,
    chain_id: u64,
    block_number: u64,
    block_timestamp: u64,
    config: ConfigView,
    round: RoundView,
    participants: Vec<ParticipantView>,
}

async fn status(ctx: &Ctx, contract: Address) -> Result<()> {
    let provider = ctx.reader()?;
    require_contract(ctx, &provider, contract).await?;
    let lottery = ctx.lottery(provider.clone(), contract);
    let rpc = |e: alloy::transports::TransportError| eyre!("{}", runner::error_chain(&e));
    let (config, round, participants, chain_id, block) = tokio::try_join!(
        async { lottery.getConfig().call().await.map_err(|e| describe(&e)) },
        async { lottery.getRound().call().await.map_err(|e| describe(&e)) },
        async {
            lottery
                .getParticipants()
                .call()
                .await
                .map_err(|e| describe(&e))
        },
        async { provider.get_chain_id().await.map_err(rpc) },
        async {
            provider
                .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
                .await
                .map_err(rpc)
        },
    )?;
    let block = block.ok_or_else(|| eyre!("the node has no latest block"))?;
    let out = Status {
        contract,
        chain_id,
        block_number: block.header.number,
        block_timestamp: block.header.timestamp,
        config: config.into(),
        round: RoundView::try_from(round)?,
        participants: ParticipantView::list(&participants),
    };
    emit(ctx.json, &out, || status_text(&out))
}

fn status_text(s: &Status) -> String {
    let r = &s.round;
    let now = s.block_timestamp;
    let mut text = format!(
        "contract {} on chain {} (block {}, time {now})\n{}\n\nround {}: {}",
        s.contract.to_checksum(None),
        s.chain_id,
        s.block_number,
        config_text(&s.config),
        r.round_id,
        r.state
    );
    match r.state {
        RoundState::Waiting => text.push_str(if r.seed_commitment.is_some() {
            " (seed committed; the first bet opens betting)"
        } else {
            " (waiting for the operator's seed commitment)"
        }),
        _ => text.push_str(&format!(
            "\n  pot {} from {} participants\n  betting ends {} ({})\n  draw window {}..{} ({} .. {})",
            eth(r.total_pot),
            r.participant_count,
            r.end_time,
            relative(r.end_time, now),
            r.min_draw_time,
            r.max_draw_time,
            relative(r.min_draw_time, now),
            relative(r.max_draw_time, now)
        )),
    }
    for p in &s.participants {
        text.push_str(&format!(
            "\n  {}  {:>14}  {:5.1}%",
            p.address.to_checksum(None),
            eth(p.amount),
            p.win_chance * 100.0
        ));
    }
    text
}

async fn withdraw(ctx: &Ctx, contract: Address, key: &KeySource) -> Result<()> {
    let (provider, from) = ctx.signer(key)?;
    require_contract(ctx, &provider, contract).await?;
    let lottery = ctx.lottery(provider.clone(), contract);
    let receipt = ctx
        .confirm(lottery.withdraw())
        .await
        .wrap_err("withdraw failed")?;
    let done = event::<Lottery::Withdrawn>(&receipt)
        .ok_or_else(|| eyre!("the withdrawal emitted no Withdrawn event"))?;
    let out = Sent {
        transaction_hash: receipt.transaction_hash,
        detail: serde_json::json!({ "account": from.to_checksum(None), "amount": done.amount.to_string() }),
    };
    emit(ctx.json, &out, || {
        format!("withdrew {} to {from}", eth(done.amount))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts() {
        assert_eq!(
            parse_amount("0.01").unwrap(),
            U256::from(10_000_000_000_000_000u64)
        );
        assert_eq!(
            parse_amount(" 1 ").unwrap(),
            U256::from(1_000_000_000_000_000_000u64)
        );
        for bad in [
            "",
            "0",
            "-1",
            "+1",
            "abc",
            "1e18",
            "0.0000000000000000001",
            "1,5",
        ] {
            assert!(parse_amount(bad).is_err(), "{bad:?} must be rejected");
        }
    }
}
