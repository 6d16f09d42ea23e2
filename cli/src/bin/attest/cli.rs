//! Command-line shape: the two commands and the trust options they share.

use std::path::PathBuf;

use alloy::primitives::Address;
use attestation::UnixTime;
use clap::{Args, Parser, Subcommand};
use lottery_cli::attest_client::PcrExpectation;

/// Verify an enclave-lottery enclave's AWS Nitro attestation, and inject an operator
/// key sealed to it. Exit codes: 0 verified, 1 verification failed or refused, 2
/// usage or configuration error.
#[derive(Debug, Parser)]
#[command(name = "attest", version)]
pub(crate) struct Cli {
    /// Print one JSON object instead of text.
    #[arg(long, global = true)]
    pub(crate) json: bool,
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Verify a live document (--url) or a saved one (--file).
    Verify(VerifyArgs),
    /// Verify a fresh document, then inject an operator key sealed to it (HPKE to the
    /// document's public key, bound to its nonce). The key is never printed.
    SealKey(SealKeyArgs),
}

/// What makes a document acceptable, shared by both commands.
#[derive(Debug, Args)]
pub(crate) struct TrustArgs {
    /// Accept a SIMULATED enclave (development only): documents signed by the root in
    /// --root-cert instead of AWS's. They prove nothing about hardware.
    #[arg(long, requires = "root_cert")]
    pub(crate) allow_simulated: bool,
    /// The simulated root: a PEM file whose first CERTIFICATE is used (enclave-app's
    /// --sim-ca-file).
    #[arg(long, value_name = "PATH", requires = "allow_simulated")]
    pub(crate) root_cert: Option<PathBuf>,
    /// Accept a debug-mode enclave (PCR0/1/2 all zero; its memory is readable by the
    /// host: never in production).
    #[arg(long)]
    pub(crate) allow_debug: bool,
    /// Require PCR N to equal HEX (96 hex digits, SHA-384). Repeat for several PCRs.
    /// With --contract, PCR0 defaults to the one the contract records for its
    /// operator (both must agree when both are given); `seal-key` and a verification
    /// against a contract refuse when neither gives a PCR0.
    #[arg(long, value_name = "N=HEX")]
    pub(crate) expected_pcr: Vec<PcrExpectation>,
    /// Maximum age of the document, in seconds (live: against now; --file with --at:
    /// against that time).
    #[arg(long, value_name = "SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub(crate) max_age: u64,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// host-proxy's web API (http:// or https://): a document is requested for a fresh
    /// random nonce, which it must echo.
    #[arg(
        long,
        value_name = "URL",
        required_unless_present = "file",
        conflicts_with = "file"
    )]
    pub(crate) url: Option<String>,
    /// A saved document: raw COSE_Sign1 CBOR, base64 or hex (detected).
    #[arg(long, value_name = "PATH")]
    pub(crate) file: Option<PathBuf>,
    /// With --file: verify as of TIME (RFC 3339, for example 2022-10-13T08:58:02Z, or
    /// Unix seconds) instead of now. Archived documents need it: their leaf
    /// certificates live about three hours.
    // `conflicts_with = "url"` says "only with --file": clap does not enforce
    // `requires` of an argument that conflicts with a present one.
    #[arg(long, value_name = "TIME", conflicts_with = "url", value_parser = crate::time::parse_time)]
    pub(crate) at: Option<UnixTime>,
    /// With --url and --rpc-url: the Lottery contract. `user_data` must name it and
    /// this chain, its on-chain operator must be the attested operator, and the
    /// document's PCR0 the one the contract records for that operator.
    #[arg(
        long,
        value_name = "ADDRESS",
        requires = "rpc_url",
        conflicts_with = "file"
    )]
    pub(crate) contract: Option<Address>,
    /// JSON-RPC endpoint of the contract's chain (only scheme, host and port are ever
    /// printed).
    #[arg(long, value_name = "URL", requires = "contract")]
    pub(crate) rpc_url: Option<String>,
    /// Require `user_data` to name this operator address.
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) expected_operator: Option<Address>,
    #[command(flatten)]
    pub(crate) trust: TrustArgs,
}

#[derive(Debug, Args)]
pub(crate) struct SealKeyArgs {
    /// host-proxy's web API (http:// or https://).
    #[arg(long, value_name = "URL")]
    pub(crate) url: String,
    /// File holding the operator's private key as hex. Without it the key is read at
    /// a hidden terminal prompt (refused when stdin is not a terminal).
    #[arg(long, value_name = "PATH")]
    pub(crate) key_file: Option<PathBuf>,
    /// Refuse, before anything is sent, unless the key's address is this one.
    #[arg(long, value_name = "ADDRESS")]
    pub(crate) expected_operator: Option<Address>,
    /// With --rpc-url: the Lottery contract. `user_data` must name it and this chain,
    /// and the document's PCR0 must be the one the contract records for the key's
    /// address (announced or current operator).
    #[arg(long, value_name = "ADDRESS", requires = "rpc_url")]
    pub(crate) contract: Option<Address>,
    /// JSON-RPC endpoint of the contract's chain (only scheme, host and port are ever
    /// printed).
    #[arg(long, value_name = "URL", requires = "contract")]
    pub(crate) rpc_url: Option<String>,
    #[command(flatten)]
    pub(crate) trust: TrustArgs,
}
