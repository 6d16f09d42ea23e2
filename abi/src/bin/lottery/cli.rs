//! Command-line shape: global options, the key source, and one struct per command.

use std::path::PathBuf;

use alloy::primitives::{Address, B256, U256};
use clap::{Args, Parser, Subcommand};

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

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Deploy a new Lottery contract; the signer becomes its publisher. Prints the address.
    Deploy {
        /// Publisher's commission on each completed round, in basis points (0..=1000).
        #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u16).range(0..=1000))]
        commission_bps: u16,
        #[command(flatten)]
        key: KeySource,
    },
    /// Hand the operator role to an address (publisher only; the round must be WAITING).
    SetOperator {
        #[command(flatten)]
        contract: ContractArg,
        /// The new operator (in production: the enclave's attested address).
        #[arg(long)]
        operator: Address,
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
