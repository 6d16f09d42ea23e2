//! Command-line shape: global options, the key source, and one struct per command.

use std::path::PathBuf;

use alloy::primitives::{Address, B256, U256};
use clap::{Args, Parser, Subcommand};
use lottery_cli::attest_client::PcrExpectation;

/// Admin CLI for the enclave lottery's `Lottery` contract.
#[derive(Debug, Parser)]
#[command(name = "lottery", version)]
pub(crate) struct Cli {
    #[command(flatten)]
    pub(crate) global: Global,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// Options every command takes.
#[derive(Debug, Args)]
pub(crate) struct Global {
    /// JSON-RPC endpoint (http:// or https://). Only scheme, host and port are ever
    /// printed: the URL is validated after argument parsing, so no error echoes it.
    #[arg(
        long,
        global = true,
        env = "LOTTERY_RPC_URL",
        default_value = "http://127.0.0.1:8545",
        hide_env_values = true
    )]
    pub(crate) rpc_url: String,
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    /// Seconds to wait for a transaction's receipt before giving up.
    #[arg(long, global = true, default_value_t = 120, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub(crate) timeout: u64,
}

/// Where the signing key comes from. Values are never printed or logged.
#[derive(Debug, Args, Default)]
pub(crate) struct KeySource {
    /// Private key as 64 hex digits (prefer --key-file or the environment: command
    /// lines are visible to other users of the machine).
    #[arg(
        long,
        env = "LOTTERY_PRIVATE_KEY",
        hide_env_values = true,
        conflicts_with = "key_file"
    )]
    pub(crate) private_key: Option<String>,
    /// File holding the private key as hex (surrounding whitespace ignored).
    #[arg(long, env = "LOTTERY_KEY_FILE")]
    pub(crate) key_file: Option<PathBuf>,
}

/// The contract to act on.
#[derive(Debug, Args)]
pub(crate) struct ContractArg {
    /// Address of the deployed Lottery contract.
    #[arg(long, env = "LOTTERY_CONTRACT")]
    pub(crate) contract: Address,
}

/// Taking the operator address from the enclave's verified attestation document.
#[derive(Debug, Args)]
pub(crate) struct FromAttestation {
    /// host-proxy's web API (http:// or https://): a fresh attestation document is
    /// requested for a random nonce and verified (AWS root, nonce, age, PCRs, and
    /// `user_data` naming this chain and contract) before the attested operator
    /// address is set. Nothing is sent when verification fails.
    #[arg(long, value_name = "URL")]
    pub(crate) from_attestation: Option<String>,
    /// With --from-attestation: require PCR N to equal HEX (96 hex digits, SHA-384).
    /// Repeat for several PCRs. Without a PCR0 here, the document's PCR0 must equal
    /// the one the contract records for its current operator (a new key for the same
    /// image); with neither, nothing is sent.
    // `conflicts_with = "operator"` says "only with --from-attestation": clap does
    // not enforce `requires` of an argument that conflicts with a present one.
    #[arg(long, value_name = "N=HEX", conflicts_with = "operator")]
    pub(crate) expected_pcr: Vec<PcrExpectation>,
    /// With --from-attestation: accept a SIMULATED enclave (development only),
    /// signed by the root in --root-cert instead of AWS's.
    #[arg(long, requires = "root_cert", conflicts_with = "operator")]
    pub(crate) allow_simulated: bool,
    /// The simulated root: a PEM file whose first CERTIFICATE is used (enclave-app's
    /// --sim-ca-file).
    #[arg(long, value_name = "PATH", requires = "allow_simulated")]
    pub(crate) root_cert: Option<PathBuf>,
    /// With --from-attestation: accept a debug-mode enclave (PCR0/1/2 all zero; its
    /// memory is readable by the host: never in production).
    #[arg(long, conflicts_with = "operator")]
    pub(crate) allow_debug: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Deploy a new Lottery contract; the signer becomes its publisher. Prints the address.
    Deploy {
        /// Publisher's commission on each completed round, in basis points (0..=1000).
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u16).range(0..=1000))]
        commission_bps: u16,
        /// Seconds between an operator's announcement and the earliest time it may act
        /// (fixed for the contract's life; 1 s to 30 days). Players see it: a short
        /// delay lets the publisher swap the operator with little notice.
        #[arg(long, value_name = "SECS", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..=2_592_000))]
        operator_delay: u64,
        #[command(flatten)]
        key: KeySource,
    },
    /// Announce a new operator (publisher only), with the enclave measurement (PCR0) it
    /// is attested to: the enclave's attested address and PCR0 with --from-attestation,
    /// or --operator with --pcr0 by hand. It takes effect once the contract's operator
    /// delay has passed, at the first round boundary; --fund sends it gas money first.
    SetOperator {
        #[command(flatten)]
        contract: ContractArg,
        /// The new operator address.
        #[arg(
            long,
            required_unless_present = "from_attestation",
            conflicts_with = "from_attestation",
            requires = "pcr0"
        )]
        operator: Option<Address>,
        /// With --operator: the enclave image measurement to record (PCR0, 96 hex
        /// digits).
        #[arg(long, value_name = "HEX", requires = "operator", value_parser = parse_pcr0)]
        pcr0: Option<Pcr0>,
        #[command(flatten)]
        attestation: FromAttestation,
        /// Also send the new operator this much ETH for gas (a decimal, for example
        /// 1.5), before handing it the role.
        #[arg(long, value_name = "ETH")]
        fund: Option<String>,
        #[command(flatten)]
        key: KeySource,
    },
    /// Withdraw the pending operator announcement (publisher only).
    CancelOperator {
        #[command(flatten)]
        contract: ContractArg,
        #[command(flatten)]
        key: KeySource,
    },
    /// Show the configuration, or change it (operator only; the round must be WAITING).
    Config {
        #[command(flatten)]
        contract: ContractArg,
        /// New minimum bet, in wei.
        #[arg(long)]
        min_bet: Option<U256>,
        /// New betting duration, in seconds.
        #[arg(long)]
        betting_duration: Option<u64>,
        /// New minimum number of participants for a draw.
        #[arg(long)]
        min_participants: Option<u64>,
        #[command(flatten)]
        key: KeySource,
    },
    /// Commit a fresh secret seed for the current round (operator; manual mode).
    /// Prints the seed: keep it secret until `lottery draw`.
    Commit {
        #[command(flatten)]
        contract: ContractArg,
        /// Commit this seed instead of a random one (64 hex digits).
        #[arg(long)]
        seed: Option<B256>,
        #[command(flatten)]
        key: KeySource,
    },
    /// Reveal the seed and draw the current round (operator; inside the draw window).
    Draw {
        #[command(flatten)]
        contract: ContractArg,
        /// The seed committed for this round (64 hex digits).
        #[arg(long)]
        seed: B256,
        #[command(flatten)]
        key: KeySource,
    },
    /// Refund the current round: as the operator, or with --expired as anyone after
    /// the draw window.
    Refund {
        #[command(flatten)]
        contract: ContractArg,
        /// Use refundExpiredRound (anyone, after maxDrawTime).
        #[arg(long)]
        expired: bool,
        /// The round to refund (the operator's refund names it; default: the current
        /// round). Refused on chain unless it is the current round.
        #[arg(long, conflicts_with = "expired")]
        round: Option<u64>,
        #[command(flatten)]
        key: KeySource,
    },
    /// Bet on the current round.
    Bet {
        #[command(flatten)]
        contract: ContractArg,
        /// Amount in ETH, as a decimal (for example 0.01).
        #[arg(long)]
        amount: String,
        #[command(flatten)]
        key: KeySource,
    },
    /// Check settled rounds from the chain alone: the revealed seed opens the
    /// commitment published before the first bet, the winner recomputed from the seed
    /// and the bets in order is the contract's, prize + commission = pot, the
    /// commission follows commissionBps, the settlement came from the operator in
    /// effect then (with its recorded PCR0); refunds have a consistent reason and
    /// every stake is withdrawable or withdrawn. Exit 0 when every round passes, 1
    /// when any fails.
    VerifyRound {
        #[command(flatten)]
        contract: ContractArg,
        /// The round to check.
        #[arg(value_name = "ROUND", required_unless_present_any = ["all", "from"], conflicts_with_all = ["all", "from", "to"])]
        round: Option<u64>,
        /// Check every settled round.
        #[arg(long, conflicts_with_all = ["from", "to"])]
        all: bool,
        /// Check settled rounds from this one on (with --to: up to that one).
        #[arg(long, value_name = "N")]
        from: Option<u64>,
        /// With --from: the last round to check (default: the last settled one).
        #[arg(long, value_name = "M", requires = "from")]
        to: Option<u64>,
        /// First block whose logs are read (the contract's deployment block; 0 reads
        /// the whole chain).
        #[arg(long, value_name = "BLOCK", default_value_t = 0)]
        from_block: u64,
        /// Blocks per eth_getLogs request (public nodes cap the range).
        #[arg(long, value_name = "BLOCKS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
        log_chunk: u64,
    },
    /// Show the configuration, the current round and its participants.
    Status {
        #[command(flatten)]
        contract: ContractArg,
    },
    /// Withdraw everything the contract owes the signer (refunds, deferred prizes,
    /// commission).
    Withdraw {
        #[command(flatten)]
        contract: ContractArg,
        #[command(flatten)]
        key: KeySource,
    },
}

/// A PCR0 value: 48 bytes (SHA-384).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Pcr0(pub(crate) Vec<u8>);

fn parse_pcr0(text: &str) -> Result<Pcr0, String> {
    let hex = text.trim();
    let bytes = alloy::hex::decode(hex.strip_prefix("0x").unwrap_or(hex))
        .map_err(|_| "expected 96 hex digits (SHA-384)".to_owned())?;
    if bytes.len() != abi::views::PCR_LEN {
        return Err(format!(
            "expected 96 hex digits (SHA-384), got {} bytes",
            bytes.len()
        ));
    }
    if bytes.iter().all(|b| *b == 0) {
        return Err(
            "PCR0 is zero: that is a debug-mode enclave, which the contract refuses".to_owned(),
        );
    }
    Ok(Pcr0(bytes))
}
