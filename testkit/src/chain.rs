//! THE anvil fixture of the workspace's tests: [`Chain`] spawns the pinned anvil
//! (`$ANVIL_BIN`, else the workspace's `.tools/bin/anvil` from
//! `scripts/install-tools`) on a free loopback port for each test, killed when it
//! drops; deploys the `Lottery` contract; drives chain time with anvil's time calls
//! instead of sleeping. [`ok`], [`try_send`] and [`revert`] send a contract call and
//! decode how it ended.

use std::path::PathBuf;

use abi::{
    contract::{Lottery, LotteryErrors, RevertReason},
    draw::{self, Seed},
};
use alloy::{
    contract::{CallBuilder, CallDecoder},
    network::EthereumWallet,
    node_bindings::{Anvil, AnvilInstance},
    primitives::{Address, B256, U256},
    providers::{DynProvider, Provider, ProviderBuilder, ext::AnvilApi},
    rpc::types::TransactionReceipt,
    signers::local::PrivateKeySigner,
};

/// Anvil's chain id.
pub const CHAIN_ID: u64 = 31337;

/// Accounts anvil funds at start (its default mnemonic).
pub const ACCOUNTS: u32 = 20;

/// The operator delay test contracts are deployed with: short, and passed with
/// anvil's clock ([`Chain::pass_operator_delay`]).
pub const OPERATOR_DELAY: u64 = 5;

/// The enclave measurement recorded for operators set by hand in tests (any
/// non-zero PCR0; enclave-app's simulated PCR0 is the SHA-384 of its binary).
pub const TEST_PCR0: [u8; 48] = [0x5a; 48];

/// The pinned anvil binary: `$ANVIL_BIN`, else `.tools/bin/anvil` in the workspace.
///
/// # Panics
/// When neither exists, with the command that installs it.
pub fn anvil_binary() -> PathBuf {
    if let Some(path) = std::env::var_os("ANVIL_BIN") {
        return PathBuf::from(path);
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.tools/bin/anvil");
    assert!(
        path.exists(),
        "anvil not found at {}: run scripts/install-tools (or set ANVIL_BIN)",
        path.display()
    );
    path
}

/// A running anvil with a provider that can sign for every funded account.
pub struct Chain {
    /// The anvil process (killed on drop).
    pub anvil: AnvilInstance,
    /// Signs for all of anvil's accounts; pick one with `.from(..)`.
    pub provider: DynProvider,
    /// No wallet: sends through `eth_sendTransaction` (for impersonated accounts).
    pub raw: DynProvider,
    /// Funded accounts: `[0]` publisher, `[1]` operator, the rest players.
    pub accounts: Vec<Address>,
    /// Their keys, in the same order.
    pub keys: Vec<PrivateKeySigner>,
    /// The extra arguments anvil was started with (for restarts).
    args: Vec<String>,
}

fn spawn_anvil(port: Option<u16>, args: &[&str]) -> AnvilInstance {
    let mut anvil = Anvil::at(anvil_binary());
    if let Some(port) = port {
        anvil = anvil.port(port);
    }
    let anvil = anvil
        .arg("--accounts")
        .arg(ACCOUNTS.to_string())
        .arg("--host")
        .arg("127.0.0.1")
        .args(args.iter().copied())
        .try_spawn()
        .expect("spawn anvil (set ANVIL_BIN or run scripts/install-tools)");
    assert_eq!(anvil.chain_id(), CHAIN_ID);
    anvil
}

impl Chain {
    /// Starts anvil on a free loopback port.
    ///
    /// # Panics
    /// When anvil cannot start.
    pub async fn start() -> Self {
        Self::start_with(&[]).await
    }

    /// Starts anvil with extra command-line arguments.
    ///
    /// # Panics
    /// When anvil cannot start.
    pub async fn start_with(args: &[&str]) -> Self {
        let anvil = spawn_anvil(None, args);
        let keys: Vec<PrivateKeySigner> = anvil
            .keys()
            .iter()
            .map(|k| PrivateKeySigner::from_signing_key(k.into()))
            .collect();
        let accounts = keys.iter().map(PrivateKeySigner::address).collect();
        let mut wallet = EthereumWallet::from(keys[0].clone());
        for key in &keys[1..] {
            wallet.register_signer(key.clone());
        }
        let url = net::RpcUrl::parse(&anvil.endpoint()).expect("anvil URL");
        let client = || rpc_transport::connect_tcp(url.clone()).expect("RPC client");
        // Simple nonce management (ask the node every time): tests roll the chain back
        // with snapshots, and alloy's cached nonces would not follow.
        let provider = ProviderBuilder::new()
            .with_simple_nonce_management()
            .wallet(wallet)
            .connect_client(client())
            .erased();
        let raw = ProviderBuilder::new()
            .with_simple_nonce_management()
            .connect_client(client())
            .erased();
        let args = args.iter().map(|a| (*a).to_owned()).collect();
        Self {
            anvil,
            provider,
            raw,
            accounts,
            keys,
            args,
        }
    }

    /// Stops anvil gracefully (SIGTERM, so a `--state` file is written), waits
    /// `downtime`, and starts it again on the same port with the same arguments.
    ///
    /// # Panics
    /// When anvil cannot be stopped or started.
    pub async fn restart_anvil(&mut self, downtime: std::time::Duration) {
        let port = self.anvil.port();
        crate::process::terminate(self.anvil.child().id()).expect("cannot signal anvil");
        let _ = self.anvil.child_mut().wait();
        tokio::time::sleep(downtime).await;
        let args: Vec<&str> = self.args.iter().map(String::as_str).collect();
        self.anvil = spawn_anvil(Some(port), &args);
    }

    /// The HTTP endpoint.
    pub fn endpoint(&self) -> String {
        self.anvil.endpoint()
    }

    /// The publisher (deployer) account.
    pub fn publisher(&self) -> Address {
        self.accounts[0]
    }

    /// The operator account.
    pub fn operator(&self) -> Address {
        self.accounts[1]
    }

    /// Account `i`'s address (by index into anvil's funded accounts).
    pub fn account(&self, i: usize) -> Address {
        self.accounts[i]
    }

    /// Account `i`'s address, checksummed (as the CLIs print it).
    pub fn checksummed(&self, i: usize) -> String {
        self.accounts[i].to_checksum(None)
    }

    /// Account `i`'s private key as 64 hex digits (no `0x`), as key files and
    /// `--private-key` take it.
    pub fn key_hex(&self, i: usize) -> String {
        alloy::hex::encode(self.keys[i].to_bytes())
    }

    /// Player `i` (0-based), distinct from the publisher and operator.
    pub fn player(&self, i: usize) -> Address {
        self.accounts[2 + i]
    }

    /// Deploys a `Lottery` from the publisher, with an operator delay of
    /// [`OPERATOR_DELAY`] seconds.
    ///
    /// # Panics
    /// When the deployment fails.
    pub async fn deploy(&self, commission_bps: u64) -> Lottery::LotteryInstance<DynProvider> {
        let address = Lottery::deploy_builder(
            self.provider.clone(),
            U256::from(commission_bps),
            U256::from(OPERATOR_DELAY),
        )
        .from(self.publisher())
        .deploy()
        .await
        .expect("deploy Lottery");
        Lottery::new(address, self.provider.clone())
    }

    /// Deploys and hands the operator role to [`Self::operator`] (announced with
    /// [`TEST_PCR0`], the delay passed on anvil's clock).
    ///
    /// # Panics
    /// When a step fails.
    pub async fn deploy_with_operator(
        &self,
        commission_bps: u64,
    ) -> Lottery::LotteryInstance<DynProvider> {
        let lottery = self.deploy(commission_bps).await;
        self.set_operator(&lottery, self.operator(), &TEST_PCR0)
            .await;
        lottery
    }

    /// Announces `operator` with `pcr0` as the publisher, then mines a block past the
    /// operator delay, so the change is due (it takes effect at the next operator
    /// action or first bet, or at once in the views).
    ///
    /// # Panics
    /// When a step fails.
    pub async fn set_operator(
        &self,
        lottery: &Lottery::LotteryInstance<DynProvider>,
        operator: Address,
        pcr0: &[u8],
    ) {
        ok(lottery
            .setOperator(operator, alloy::primitives::Bytes::copy_from_slice(pcr0))
            .from(self.publisher()))
        .await;
        self.pass_operator_delay().await;
    }

    /// Mines a block [`OPERATOR_DELAY`] seconds after the latest one.
    ///
    /// # Panics
    /// On RPC failure.
    pub async fn pass_operator_delay(&self) {
        let now = self.now().await;
        self.mine_at(now + OPERATOR_DELAY).await;
    }

    /// The latest block's timestamp.
    ///
    /// # Panics
    /// On RPC failure.
    pub async fn now(&self) -> u64 {
        self.provider
            .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
            .await
            .expect("latest block")
            .expect("a latest block")
            .header
            .timestamp
    }

    /// Makes the next block's timestamp `at` (the next transaction then runs at `at`).
    ///
    /// # Panics
    /// On RPC failure.
    pub async fn next_block_at(&self, at: u64) {
        self.provider
            .anvil_set_next_block_timestamp(at)
            .await
            .expect("evm_setNextBlockTimestamp");
    }

    /// Mines an empty block at `at`.
    ///
    /// # Panics
    /// On RPC failure.
    pub async fn mine_at(&self, at: u64) {
        self.next_block_at(at).await;
        self.provider.evm_mine(None).await.expect("evm_mine");
    }

    /// Moves chain time forward by `seconds` (`evm_increaseTime`) and mines a block
    /// there.
    ///
    /// # Panics
    /// On RPC failure.
    pub async fn increase_time(&self, seconds: u64) {
        self.provider
            .anvil_increase_time(seconds)
            .await
            .expect("evm_increaseTime");
        self.provider.evm_mine(None).await.expect("evm_mine");
    }

    /// The latest block's number.
    ///
    /// # Panics
    /// On RPC failure.
    pub async fn block_number(&self) -> u64 {
        self.provider
            .get_block_number()
            .await
            .expect("block number")
    }

    /// Chain id.
    ///
    /// # Panics
    /// On RPC failure.
    pub async fn chain_id(&self) -> u64 {
        self.provider.get_chain_id().await.expect("chain id")
    }

    /// ETH balance of `who`.
    ///
    /// # Panics
    /// On RPC failure.
    pub async fn balance(&self, who: Address) -> U256 {
        self.provider.get_balance(who).await.expect("balance")
    }

    /// Commits `seed` for the current round as the operator.
    ///
    /// # Panics
    /// When the commit fails.
    pub async fn commit(
        &self,
        lottery: &Lottery::LotteryInstance<DynProvider>,
        seed: &Seed,
    ) -> B256 {
        let round = lottery
            .currentRoundId()
            .call()
            .await
            .expect("currentRoundId");
        let commitment = draw::commitment(self.chain_id().await, *lottery.address(), round, seed);
        ok(lottery.commitSeed(round, commitment).from(self.operator())).await;
        commitment
    }
}

/// Sends a call and waits for a successful receipt.
///
/// # Panics
/// When the call reverts or the transaction fails, with the decoded reason.
pub async fn ok<P: Provider, D: CallDecoder>(call: CallBuilder<P, D>) -> TransactionReceipt {
    match try_send(call).await {
        Ok(receipt) => receipt,
        Err(reason) => panic!("transaction failed: {reason}"),
    }
}

/// Sends a call; `Err` carries the decoded revert reason.
///
/// # Panics
/// On transport errors (anything but a revert).
pub async fn try_send<P: Provider, D: CallDecoder>(
    call: CallBuilder<P, D>,
) -> Result<TransactionReceipt, RevertReason> {
    let pending = match call.send().await {
        Ok(p) => p,
        Err(e) => {
            return Err(RevertReason::from_error(&e).unwrap_or_else(|| panic!("not a revert: {e}")));
        }
    };
    let receipt = pending.get_receipt().await.expect("receipt");
    assert!(
        receipt.status(),
        "transaction {} reverted on chain",
        receipt.transaction_hash
    );
    Ok(receipt)
}

/// Sends a call that must revert with one of the contract's custom errors.
///
/// # Panics
/// When it succeeds, or reverts with anything else.
pub async fn revert<P: Provider, D: CallDecoder>(call: CallBuilder<P, D>) -> LotteryErrors {
    match try_send(call).await {
        Ok(r) => panic!("expected a revert, but {} succeeded", r.transaction_hash),
        Err(RevertReason::Lottery(e)) => e,
        Err(other) => panic!("expected a Lottery custom error, got: {other}"),
    }
}

/// Decodes every `E` event in a receipt.
pub fn events<E: alloy::sol_types::SolEvent>(receipt: &TransactionReceipt) -> Vec<E> {
    receipt
        .inner
        .logs()
        .iter()
        .filter_map(|log| log.log_decode::<E>().ok().map(|l| l.inner.data))
        .collect()
}

/// One ether in wei.
pub fn ether(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(18))
}

/// `n / 1000` ether in wei.
pub fn milli(n: u64) -> U256 {
    U256::from(n) * U256::from(10u64).pow(U256::from(15))
}
