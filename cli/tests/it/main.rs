//! CLI tests: the `lottery` binary against a real anvil (one per test, on a free
//! port). Chain time moves with `evm_increaseTime`; nothing sleeps through a round.

mod attest;
mod bad_input;
mod config;
mod happy_path;
mod help;
mod keys;
mod refund;
mod reverts;
mod verify_round;

use std::{path::PathBuf, process::Command};

use alloy::{
    node_bindings::{Anvil, AnvilInstance},
    primitives::{Address, B256},
    providers::{DynProvider, Provider, ProviderBuilder},
    signers::local::PrivateKeySigner,
};
use serde_json::Value;

/// Anvil's chain id.
pub(crate) const CHAIN_ID: u64 = 31337;

/// Accounts, by index into anvil's funded accounts.
pub(crate) const PUBLISHER: usize = 0;
/// The operator delay the tests deploy with: short, and passed with anvil's clock.
pub(crate) const OPERATOR_DELAY: u64 = 5;
/// The enclave measurement recorded for hand-set operators (any non-zero PCR0).
pub(crate) const TEST_PCR0: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
pub(crate) const OPERATOR: usize = 1;

/// The error for every malformed (not 64 hex digits) private key.
pub(crate) const BAD_KEY: &str =
    "expected a private key of 64 hex digits (32 bytes), optionally 0x-prefixed";

/// The pinned anvil: `$ANVIL_BIN`, else the workspace's `.tools/bin/anvil`.
fn anvil_binary() -> PathBuf {
    std::env::var_os("ANVIL_BIN").map_or_else(
        || PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.tools/bin/anvil")),
        PathBuf::from,
    )
}

/// What one run of the CLI did.
#[derive(Debug)]
pub(crate) struct Out {
    pub(crate) code: Option<i32>,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Out {
    /// Asserts exit 0 with nothing on stderr; returns stdout.
    #[track_caller]
    pub(crate) fn success(self) -> String {
        assert_eq!(self.code, Some(0), "expected success: {self:#?}");
        assert_eq!(self.stderr, "", "expected a quiet stderr: {self:#?}");
        self.stdout
    }

    /// Asserts success and parses stdout as one JSON document.
    #[track_caller]
    pub(crate) fn json(self) -> Value {
        let stdout = self.success();
        assert!(
            stdout.ends_with("}\n"),
            "JSON must end with a newline: {stdout:?}"
        );
        serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
    }

    /// Asserts exit `code` with nothing on stdout; returns stderr.
    #[track_caller]
    pub(crate) fn failure(self, code: i32) -> String {
        assert_eq!(self.code, Some(code), "expected exit {code}: {self:#?}");
        assert_eq!(
            self.stdout, "",
            "a failure prints nothing on stdout: {self:#?}"
        );
        self.stderr
    }
}

/// The CLI with a clean environment: no `LOTTERY_*` variables, no log filter.
pub(crate) fn lottery() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_lottery"));
    for var in [
        "LOTTERY_RPC_URL",
        "LOTTERY_PRIVATE_KEY",
        "LOTTERY_KEY_FILE",
        "LOTTERY_CONTRACT",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("NO_COLOR", "1");
    cmd
}

/// Runs a prepared command.
pub(crate) fn run(cmd: &mut Command) -> Out {
    let out = cmd.output().expect("run the lottery binary");
    Out {
        code: out.status.code(),
        stdout: String::from_utf8(out.stdout).expect("UTF-8 stdout"),
        stderr: String::from_utf8(out.stderr).expect("UTF-8 stderr"),
    }
}

/// Runs the CLI with `args` and no RPC URL of the test's choosing.
pub(crate) fn run_args(args: &[&str]) -> Out {
    run(lottery().args(args))
}

/// A transaction hash as the CLI prints it.
#[track_caller]
pub(crate) fn tx_hash(value: &Value) -> Value {
    let hash = value["transactionHash"]
        .as_str()
        .unwrap_or_else(|| panic!("no transactionHash in {value}"));
    assert!(
        hash.len() == 66
            && hash.starts_with("0x")
            && hash[2..].bytes().all(|b| b.is_ascii_hexdigit()),
        "not a transaction hash: {hash}"
    );
    Value::from(hash)
}

/// A 32-byte hex value from a JSON field.
#[track_caller]
pub(crate) fn b256(value: &Value, field: &str) -> B256 {
    let text = value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {value}"));
    assert_eq!(text.len(), 66, "{field} is not 32 bytes: {text}");
    text.parse()
        .unwrap_or_else(|e| panic!("{field} {text}: {e}"))
}

/// An address from a JSON field (any case).
#[track_caller]
pub(crate) fn address(value: &Value, field: &str) -> Address {
    let text = value[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {value}"));
    text.parse()
        .unwrap_or_else(|e| panic!("{field} {text}: {e}"))
}

/// The configuration a fresh deployment has, as `config --json` prints it.
pub(crate) fn default_config(publisher: Address, operator: Option<Address>) -> Value {
    serde_json::json!({
        "publisher": publisher.to_checksum(None),
        "operator": operator.map(|a| a.to_checksum(None)),
        "commissionBps": 500,
        "minBetAmount": "1000000000000000",
        "bettingDuration": 180,
        "minDrawDelayAfterEnd": 5,
        "maxDrawDelayAfterEnd": 180,
        "minEndTimeExtension": 60,
        "minParticipants": 2,
        "operatorDelay": OPERATOR_DELAY,
        "operatorPcr0": operator.map(|_| TEST_PCR0),
        "pendingOperator": null
    })
}

/// A running anvil plus a provider for reading state and moving time.
pub(crate) struct Chain {
    provider: DynProvider,
    keys: Vec<String>,
    accounts: Vec<Address>,
    anvil: AnvilInstance,
    rt: tokio::runtime::Runtime,
}

impl Chain {
    /// Starts anvil on a free loopback port.
    pub(crate) fn start() -> Self {
        let anvil = Anvil::at(anvil_binary())
            .arg("--host")
            .arg("127.0.0.1")
            .try_spawn()
            .expect("spawn anvil (set ANVIL_BIN or run scripts/install-tools)");
        assert_eq!(anvil.chain_id(), CHAIN_ID);
        let keys = anvil
            .keys()
            .iter()
            .map(|k| alloy::hex::encode(PrivateKeySigner::from_signing_key(k.into()).to_bytes()))
            .collect();
        let accounts = anvil.addresses().to_vec();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let url = net::RpcUrl::parse(&anvil.endpoint()).expect("anvil URL");
        let provider = rt.block_on(async {
            ProviderBuilder::new()
                .connect_client(rpc_transport::connect_tcp(url).expect("RPC client"))
                .erased()
        });
        Self {
            provider,
            keys,
            accounts,
            anvil,
            rt,
        }
    }

    /// The HTTP endpoint.
    pub(crate) fn url(&self) -> String {
        self.anvil.endpoint()
    }

    /// Account `i`'s private key as 64 hex digits (no `0x`).
    pub(crate) fn key(&self, i: usize) -> &str {
        &self.keys[i]
    }

    /// Account `i`'s address.
    pub(crate) fn account(&self, i: usize) -> Address {
        self.accounts[i]
    }

    /// Account `i`'s address, checksummed.
    pub(crate) fn cs(&self, i: usize) -> String {
        self.accounts[i].to_checksum(None)
    }

    /// The CLI pointed at this chain.
    pub(crate) fn cmd(&self, args: &[&str]) -> Command {
        let mut cmd = lottery();
        cmd.arg("--rpc-url").arg(self.url()).args(args);
        cmd
    }

    /// Runs the CLI against this chain.
    pub(crate) fn cli(&self, args: &[&str]) -> Out {
        run(&mut self.cmd(args))
    }

    /// Runs the CLI against this chain signing as account `signer`.
    pub(crate) fn cli_as(&self, signer: usize, args: &[&str]) -> Out {
        let mut cmd = self.cmd(args);
        cmd.arg("--private-key").arg(self.key(signer));
        run(&mut cmd)
    }

    /// Moves chain time forward by `seconds` and mines a block there.
    pub(crate) fn increase_time(&self, seconds: u64) {
        self.rt.block_on(async {
            self.provider
                .raw_request::<_, Value>("evm_increaseTime".into(), (seconds,))
                .await
                .expect("evm_increaseTime");
            self.provider
                .raw_request::<_, Value>("evm_mine".into(), ())
                .await
                .expect("evm_mine");
        });
    }

    /// The ETH balance of `who`, in wei.
    pub(crate) fn balance(&self, who: Address) -> alloy::primitives::U256 {
        self.rt
            .block_on(async { self.provider.get_balance(who).await })
            .expect("balance")
    }

    /// The latest block's number.
    pub(crate) fn block_number(&self) -> u64 {
        self.rt
            .block_on(self.provider.get_block_number())
            .expect("block number")
    }

    /// The latest block's timestamp.
    pub(crate) fn timestamp(&self) -> u64 {
        self.rt
            .block_on(async {
                self.provider
                    .get_block_by_number(alloy::eips::BlockNumberOrTag::Latest)
                    .await
            })
            .expect("latest block")
            .expect("a latest block")
            .header
            .timestamp
    }

    /// Deploys with the publisher key (plain text), with an operator delay of
    /// [`OPERATOR_DELAY`] seconds, and returns the address.
    pub(crate) fn deploy(&self) -> Address {
        let delay = OPERATOR_DELAY.to_string();
        let out = self
            .cli_as(PUBLISHER, &["deploy", "--operator-delay", &delay])
            .success();
        out.trim_end().parse().expect("deploy prints an address")
    }

    /// Deploys, announces account 1 as the operator (with [`TEST_PCR0`]) and moves
    /// chain time past the operator delay, so it operates.
    pub(crate) fn deploy_with_operator(&self) -> Address {
        let contract = self.deploy();
        self.cli_as(
            PUBLISHER,
            &[
                "set-operator",
                "--contract",
                &contract.to_string(),
                "--operator",
                &self.cs(OPERATOR),
                "--pcr0",
                TEST_PCR0,
            ],
        )
        .success();
        self.increase_time(OPERATOR_DELAY);
        contract
    }

    /// Commits a random seed for the current round as the operator; returns the seed
    /// and the round id.
    pub(crate) fn commit(&self, contract: Address) -> (B256, u64) {
        let out = self
            .cli_as(
                OPERATOR,
                &["--json", "commit", "--contract", &contract.to_string()],
            )
            .json();
        (
            b256(&out, "seed"),
            out["roundId"].as_u64().expect("roundId"),
        )
    }

    /// Bets `amount` ETH from account `player`.
    pub(crate) fn bet(&self, contract: Address, player: usize, amount: &str) {
        self.cli_as(
            player,
            &[
                "bet",
                "--contract",
                &contract.to_string(),
                "--amount",
                amount,
            ],
        )
        .success();
    }

    /// `draw --json` with `seed` as the operator; must succeed.
    pub(crate) fn draw(&self, contract: &str, seed: B256) -> Value {
        self.cli_as(
            OPERATOR,
            &[
                "--json",
                "draw",
                "--contract",
                contract,
                "--seed",
                &seed.to_string(),
            ],
        )
        .json()
    }

    /// `status --json`.
    pub(crate) fn status(&self, contract: Address) -> Value {
        self.cli(&["--json", "status", "--contract", &contract.to_string()])
            .json()
    }
}
