//! CLI tests: the `lottery` binary against a real anvil (one per test, on a free
//! port: `testkit`'s [`Chain`], driven through [`CliChain`]). Chain time moves with
//! `evm_increaseTime`; nothing sleeps through a round.

mod attest;
mod bad_input;
mod config;
mod happy_path;
mod help;
mod keys;
mod refund;
mod revert_messages;
mod verify_round;

use std::process::Command;

use alloy::primitives::{Address, B256};
use serde_json::Value;
use testkit::chain::Chain;
pub(crate) use testkit::chain::{CHAIN_ID, OPERATOR_DELAY};

/// Accounts, by index into anvil's funded accounts.
pub(crate) const PUBLISHER: usize = 0;
/// The enclave measurement recorded for hand-set operators
/// ([`testkit::chain::TEST_PCR0`] as `--pcr0` takes it: 96 hex digits).
pub(crate) const TEST_PCR0: &str = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";
pub(crate) const OPERATOR: usize = 1;

/// The error for every malformed (not 64 hex digits) private key.
pub(crate) const BAD_KEY: &str =
    "expected a private key of 64 hex digits (32 bytes), optionally 0x-prefixed";

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

/// The CLI with a clean environment (no `LOTTERY_*` variables, no log filter) but
/// `NO_COLOR`.
pub(crate) fn lottery() -> Command {
    testkit::process::command(env!("CARGO_BIN_EXE_lottery"), &[("NO_COLOR", "1")])
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

/// `testkit`'s anvil [`Chain`] driven from synchronous tests: the `lottery` CLI
/// pointed at it, and the chain's own calls run on a runtime of its own.
pub(crate) struct CliChain {
    chain: Chain,
    keys: Vec<String>,
    rt: tokio::runtime::Runtime,
}

impl CliChain {
    /// Starts anvil on a free loopback port.
    pub(crate) fn start() -> Self {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        let chain = rt.block_on(Chain::start());
        let keys = (0..chain.keys.len()).map(|i| chain.key_hex(i)).collect();
        Self { chain, keys, rt }
    }

    /// The HTTP endpoint.
    pub(crate) fn url(&self) -> String {
        self.chain.endpoint()
    }

    /// Account `i`'s private key as 64 hex digits (no `0x`).
    pub(crate) fn key(&self, i: usize) -> &str {
        &self.keys[i]
    }

    /// Account `i`'s address.
    pub(crate) fn account(&self, i: usize) -> Address {
        self.chain.account(i)
    }

    /// Account `i`'s address, checksummed.
    pub(crate) fn cs(&self, i: usize) -> String {
        self.chain.checksummed(i)
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
        self.rt.block_on(self.chain.increase_time(seconds));
    }

    /// The ETH balance of `who`, in wei.
    pub(crate) fn balance(&self, who: Address) -> alloy::primitives::U256 {
        self.rt.block_on(self.chain.balance(who))
    }

    /// The latest block's number.
    pub(crate) fn block_number(&self) -> u64 {
        self.rt.block_on(self.chain.block_number())
    }

    /// The latest block's timestamp.
    pub(crate) fn timestamp(&self) -> u64 {
        self.rt.block_on(self.chain.now())
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
