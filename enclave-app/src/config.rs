//! Configuration: command-line flags, `ENCLAVE_*` environment variables and an optional
//! TOML file, merged with precedence flags > environment > file > defaults, then
//! checked and turned into typed values before anything starts.
//!
//! The environment is passed in as a map ([`Config::load`]) rather than read by clap,
//! so tests never touch the process environment; only [`Config::from_process`] reads
//! the real one. Each `ENCLAVE_*` variable becomes the matching `--flag=value` for
//! options the command line did not give, so clap parses every source the same way;
//! the file then fills whatever is still at its default.
//!
//! Secrets: the plaintext operator key is read from `ENCLAVE_OPERATOR_KEY` only (a
//! flag would show in the process list), held in a [`Secret`] that redacts itself and
//! is zeroized on drop, and refused in `nitro` mode. RPC URLs often carry API keys in
//! their path, so the URL is parsed after clap (no clap error echoes it) and only its
//! redacted form ([`RpcUrl`]'s `Display`) is ever printed.

use std::{
    collections::HashMap,
    ffi::OsString,
    fmt,
    io::Read,
    ops::RangeInclusive,
    path::{Path, PathBuf},
    time::Duration,
};

use net::{
    CID_ANY, DEFAULT_CONTROL_PORT, DEFAULT_EGRESS_PORT, Endpoint, EndpointError, PARENT_CID, RpcUrl,
};

use alloy::primitives::Address;
use clap::{
    ArgMatches, CommandFactory, FromArgMatches, Parser, ValueEnum, error::ErrorKind,
    parser::ValueSource,
};
use serde::Deserialize;
use zeroize::{Zeroize, Zeroizing};

use runner::logging::{self, LogFormat, LoggingError};

/// Prefix of every environment variable enclave-app reads (besides `RUST_LOG`).
pub const ENV_PREFIX: &str = "ENCLAVE_";

/// The plaintext operator key (64 hex digits), simulated mode only. Environment only:
/// never a flag, so it cannot leak through the process list.
pub const OPERATOR_KEY_ENV: &str = "ENCLAVE_OPERATOR_KEY";

/// Fallback for the log filter when `ENCLAVE_LOG_FILTER` is unset, as every Rust
/// service reads it.
pub const RUST_LOG_ENV: &str = "RUST_LOG";

/// Largest config file read. The documented example is about 3 KiB; anything this
/// large is the wrong file, and the cap keeps a wrong path (a log, a device) from being
/// read into memory.
pub const MAX_CONFIG_FILE_BYTES: u64 = 64 * 1024;

/// Default `poll_interval_ms`: one new-head poll a second matches the fastest common
/// block times (1-2 s L2s) while costing 60 requests a minute idle.
pub const DEFAULT_POLL_INTERVAL_MS: u64 = 1000;
/// `poll_interval_ms` bounds: below 50 ms the loop would hammer even a local node;
/// above a minute it could sleep through a short draw window.
pub const POLL_INTERVAL_MS_RANGE: RangeInclusive<u64> = 50..=60_000;

/// Default `lookback_blocks`: about 33 hours of mainnet, enough to cover a round's
/// whole life with the usual betting durations.
pub const DEFAULT_LOOKBACK_BLOCKS: u64 = 10_000;
/// `lookback_blocks` bounds: 0 starts from the head; a million blocks (about 4.6 months
/// of mainnet) is already 500 log requests at the default chunk size at start.
pub const LOOKBACK_BLOCKS_RANGE: RangeInclusive<u64> = 0..=1_000_000;

/// Default `log_chunk_blocks`: inside the 2,000-10,000 block `eth_getLogs` range
/// limit most hosted RPC providers enforce.
pub const DEFAULT_LOG_CHUNK_BLOCKS: u64 = 2000;
/// `log_chunk_blocks` bounds: at least one block; above 100,000 every provider refuses
/// the range or the response outgrows `rpc_transport::MAX_RESPONSE_BYTES`.
pub const LOG_CHUNK_BLOCKS_RANGE: RangeInclusive<u64> = 1..=100_000;

/// Default `reconcile_interval_secs`: a full view read every 30 s bounds how long a
/// missed log can leave the mirror wrong, at 2 batched requests a minute.
pub const DEFAULT_RECONCILE_INTERVAL_SECS: u64 = 30;
/// `reconcile_interval_secs` bounds: from every second to hourly.
pub const RECONCILE_INTERVAL_SECS_RANGE: RangeInclusive<u64> = 1..=3600;

/// Default `history_limit`: finished rounds kept for the web page's history.
pub const DEFAULT_HISTORY_LIMIT: u64 = 50;
/// `history_limit` bounds: each round is a few hundred bytes; 1,000 caps memory
/// inside the enclave.
pub const HISTORY_LIMIT_RANGE: RangeInclusive<u64> = 1..=1000;

/// Default `activity_limit`: activity-feed entries kept in memory.
pub const DEFAULT_ACTIVITY_LIMIT: u64 = 500;
/// `activity_limit` bounds: 10,000 small entries cap memory inside the enclave.
pub const ACTIVITY_LIMIT_RANGE: RangeInclusive<u64> = 1..=10_000;

/// Default `receipt_timeout_secs`: five mainnet slots, or many L2 blocks.
pub const DEFAULT_RECEIPT_TIMEOUT_SECS: u64 = 60;
/// `receipt_timeout_secs` bounds: at least a second; beyond an hour the operator
/// would wait past any draw window.
pub const RECEIPT_TIMEOUT_SECS_RANGE: RangeInclusive<u64> = 1..=3600;

/// Default `replace_after_blocks`: three blocks without inclusion means the fee was
/// too low for the current market, not a transient gap.
pub const DEFAULT_REPLACE_AFTER_BLOCKS: u64 = 3;
/// `replace_after_blocks` bounds: at least one block; past 100 blocks a stuck draw
/// would outlive the draw window.
pub const REPLACE_AFTER_BLOCKS_RANGE: RangeInclusive<u64> = 1..=100;

/// Most RPC endpoints enclave-app takes: each one is a TLS connection pool inside
/// the enclave and an egress route on the host.
pub const MAX_RPC_URLS: usize = 8;

/// Default `clock_margin_secs` in nitro mode: the enclave's clock comes from the
/// hypervisor (kvm-clock), which the host cannot set; 2 s covers its drift against
/// the chain's block producers.
pub const DEFAULT_NITRO_CLOCK_MARGIN_SECS: u64 = 2;
/// `clock_margin_secs` bounds: up to an hour (longer would outlast draw windows).
pub const CLOCK_MARGIN_SECS_RANGE: RangeInclusive<u64> = 0..=3600;

/// Default `log_filter`.
pub const DEFAULT_LOG_FILTER: &str = "info";

/// Where enclave-app runs, which decides what the operator key may come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    /// Local development: TCP instead of vsock, a simulated NSM, and plaintext keys
    /// from a file or the environment allowed.
    Sim,
    /// Inside an AWS Nitro Enclave: the key is generated inside (or injected sealed);
    /// plaintext keys are refused.
    Nitro,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Sim => "sim",
            Self::Nitro => "nitro",
        })
    }
}

/// A secret string: `Debug` prints `<redacted>`, there is no `Display`, and the
/// memory is zeroized on drop.
#[derive(Clone)]
pub struct Secret(Zeroizing<String>);

impl Secret {
    /// Wraps `text`, which is zeroized when the secret is dropped.
    pub fn new(text: String) -> Self {
        Self(Zeroizing::new(text))
    }

    /// The secret text, for the one place that needs it (key parsing).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Why the configuration was refused. Messages name the setting and where it came
/// from (flag, variable or file); they never contain key material or an RPC URL's
/// path.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A command-line error from clap, or `--help` / `--version` (for which
    /// [`clap::Error::exit`] prints to stdout and exits 0).
    #[error(transparent)]
    Cli(#[from] clap::Error),
    /// `--operator-key` was given: the key is taken from the environment only.
    #[error(
        "the operator key is never taken from the command line (other users can read it): set {OPERATOR_KEY_ENV} or use --operator-key-file"
    )]
    KeyOnCommandLine,
    /// An `ENCLAVE_*` variable does not parse as its setting's type.
    #[error("invalid {var}: {reason}")]
    InvalidEnv {
        /// The variable.
        var: String,
        /// What clap objected to.
        reason: String,
    },
    /// An `ENCLAVE_*` variable (or `RUST_LOG`) is not valid UTF-8.
    #[error("environment variable {var} is not valid UTF-8")]
    EnvNotUnicode {
        /// The variable.
        var: String,
    },
    /// The config file could not be read.
    #[error("cannot read config file {}", path.display())]
    FileUnreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The config file is larger than [`MAX_CONFIG_FILE_BYTES`].
    #[error("config file {} is larger than {MAX_CONFIG_FILE_BYTES} bytes", path.display())]
    FileTooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The config file is not valid TOML, has an unknown key, or a value of the wrong
    /// type. Only the parser's message and position are shown, never the line itself.
    #[error("invalid config file {}: {message}", describe_file_position(path.as_deref(), *line, *column))]
    FileInvalid {
        /// The file, when it was read from disk.
        path: Option<PathBuf>,
        /// 1-based line of the problem, when known.
        line: Option<usize>,
        /// 1-based column of the problem, when known.
        column: Option<usize>,
        /// The parser's message.
        message: String,
    },
    /// A required setting was given nowhere.
    #[error(
        "missing required setting --{}: pass it, set {}, or set `{key}` in the config file",
        flag_name(key),
        env_name(key)
    )]
    Missing {
        /// The setting's key (as in the config file).
        key: &'static str,
    },
    /// The RPC URL does not parse (the message shows it redacted).
    #[error("{origin} is not a usable RPC URL")]
    RpcUrl {
        /// Where the value came from.
        origin: String,
        /// Why it was rejected.
        #[source]
        source: net::UrlError,
    },
    /// A number outside its allowed range.
    #[error("{origin} is {value}, outside the allowed range {min}..={max}")]
    OutOfRange {
        /// Where the value came from.
        origin: String,
        /// The value.
        value: u64,
        /// Smallest allowed value.
        min: u64,
        /// Largest allowed value.
        max: u64,
    },
    /// The log filter does not parse.
    #[error("{origin} is not a valid log filter")]
    LogFilter {
        /// Where the value came from.
        origin: String,
        /// Why it was rejected.
        #[source]
        source: LoggingError,
    },
    /// Both a key file and `ENCLAVE_OPERATOR_KEY` were given.
    #[error("both {OPERATOR_KEY_ENV} and {file_origin} give an operator key: set at most one")]
    ConflictingKeySources {
        /// Where the key file setting came from.
        file_origin: String,
    },
    /// A TCP endpoint (or `direct`) in nitro mode.
    #[error(
        "--mode nitro needs vsock endpoints, but {origin} is {value}: an enclave has no network besides vsock to its parent"
    )]
    NitroNeedsVsock {
        /// Where the value came from.
        origin: String,
        /// The value.
        value: String,
    },
    /// A simulated attestation CA in nitro mode.
    #[error("--mode nitro attests with the NSM only; {origin} names a simulated CA")]
    SimulatedCaInNitro {
        /// Where the setting came from.
        origin: String,
    },
    /// An `http://` RPC URL in nitro mode.
    #[error(
        "--mode nitro needs https:// RPC URLs, but {origin} gives {url}: over plain HTTP the host could read and rewrite every answer (block times, the round, a draw's simulation)"
    )]
    PlaintextRpcInNitro {
        /// Where the URLs came from.
        origin: String,
        /// The offending URL, redacted.
        url: String,
    },
    /// The egress endpoint's port leaves no room for one port per RPC URL.
    #[error(
        "{origin} leaves no port for each of the {urls} RPC URLs (URL N uses the egress port + N)"
    )]
    EgressPortsExhausted {
        /// Where the egress came from.
        origin: String,
        /// How many URLs were given.
        urls: usize,
    },
    /// More RPC URLs than [`MAX_RPC_URLS`].
    #[error("{origin} gives {count} RPC URLs; at most {MAX_RPC_URLS} are supported")]
    TooManyRpcUrls {
        /// Where the URLs came from.
        origin: String,
        /// How many were given.
        count: usize,
    },
    /// A plaintext key (file or environment) in nitro mode.
    #[error(
        "--mode nitro refuses plaintext operator keys (given by {origin}): inside an enclave the key is generated at boot or injected sealed"
    )]
    PlaintextKeyInNitro {
        /// Where the key came from.
        origin: String,
    },
}

/// `--flag` spelling of a setting key.
fn flag_name(key: &str) -> String {
    key.replace('_', "-")
}

/// `ENCLAVE_*` variable of a setting key.
fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

fn describe_file_position(
    path: Option<&Path>,
    line: Option<usize>,
    column: Option<usize>,
) -> String {
    let mut text = path.map_or_else(|| "(given as text)".to_owned(), |p| p.display().to_string());
    if let Some(line) = line {
        text.push_str(&format!(" line {line}"));
        if let Some(column) = column {
            text.push_str(&format!(", column {column}"));
        }
    }
    text
}

/// enclave-app: the lottery operator that runs inside an AWS Nitro Enclave (or, in
/// `sim` mode, as a local process).
#[derive(Debug, Parser)]
#[command(
    name = "enclave-app",
    version,
    override_usage = "enclave-app --mode <MODE> --rpc-url <URL> --contract <ADDRESS> [OPTIONS]",
    after_help = AFTER_HELP
)]
struct Cli {
    /// TOML file with any of the settings below (keys as in enclave-app.example.toml).
    /// Flags and environment variables override it.
    #[arg(long, env = "ENCLAVE_CONFIG", value_name = "PATH")]
    config: Option<PathBuf>,

    /// Where enclave-app runs, which decides where the operator key may come from.
    /// Required.
    #[arg(long, env = "ENCLAVE_MODE", value_enum)]
    mode: Option<Mode>,

    /// Ethereum JSON-RPC endpoint, http:// or https:// (https:// only in nitro mode).
    /// Required; repeat it (or give a comma-separated list) for several independent
    /// providers, which must agree before the operator signs. The first one is followed
    /// for events. Only scheme, host and port are ever printed: paths and queries often
    /// carry API keys.
    #[arg(
        long,
        env = "ENCLAVE_RPC_URL",
        value_name = "URL",
        hide_env_values = true,
        value_delimiter = ',',
        action = clap::ArgAction::Append
    )]
    rpc_url: Vec<String>,

    /// How many of the RPC endpoints must report the same facts (head block, round,
    /// operator) before the operator signs a transaction [1..=number of URLs].
    /// Default: all of them.
    #[arg(long, env = "ENCLAVE_RPC_QUORUM", value_name = "K")]
    rpc_quorum: Option<u64>,

    /// Seconds enclave-app's own clock must be past a round's end of betting before
    /// its seed is revealed, whatever the chain's blocks say [0..=3600]. Default: 2 in
    /// nitro mode (the hypervisor's clock, which the host cannot set); off in sim mode,
    /// where tests move chain time ahead of the wall clock. It only ever delays a
    /// reveal.
    #[arg(long, env = "ENCLAVE_CLOCK_MARGIN_SECS", value_name = "SECS")]
    clock_margin_secs: Option<u64>,

    /// Address of the Lottery contract to operate. Required.
    #[arg(long, env = "ENCLAVE_CONTRACT", value_name = "ADDRESS")]
    contract: Option<Address>,

    /// Where RPC connections go: the host's egress forwarder as vsock://CID:PORT (nitro)
    /// or tcp://HOST:PORT (sim), or `direct` to the RPC URL's host (sim only). Default:
    /// tcp://127.0.0.1:7101 in sim mode, vsock://3:7101 in nitro mode. The Nth RPC URL
    /// (from 0) goes to PORT+N, so host-proxy's allowlist has one route per URL.
    #[arg(long, env = "ENCLAVE_EGRESS", value_name = "ENDPOINT|direct", value_parser = Egress::parse)]
    egress: Option<Egress>,

    /// PEM file of CA certificates to trust for an https:// RPC URL besides the
    /// built-in web PKI roots (a private CA or a self-signed node).
    #[arg(long, env = "ENCLAVE_RPC_CA_FILE", value_name = "PATH")]
    rpc_ca_file: Option<PathBuf>,

    /// Where the control channel listens for host-proxy. Default: tcp://127.0.0.1:7100
    /// in sim mode, vsock://any:7100 in nitro mode.
    #[arg(long, env = "ENCLAVE_CONTROL_LISTEN", value_name = "ENDPOINT", value_parser = Endpoint::parse)]
    control_listen: Option<Endpoint>,

    /// Accept one sealed operator key injected later (POST /api/operator-key), and only
    /// a key for this address. Unset: injection is refused (the generated key is used).
    /// In nitro mode this is baked into the image, so PCR0 measures it.
    #[arg(long, env = "ENCLAVE_OPERATOR_ADDRESS", value_name = "ADDRESS")]
    operator_address: Option<Address>,

    /// PEM file of the simulated attestation CA (sim mode only): loaded when it exists,
    /// else created there (mode 0600). Its first certificate is the root that
    /// verifiers must be given (`--root-cert`). Unset: a fresh CA in memory per start.
    #[arg(long, env = "ENCLAVE_SIM_CA_FILE", value_name = "PATH")]
    sim_ca_file: Option<PathBuf>,

    /// File holding the operator's private key as 64 hex digits (sim mode only). With
    /// neither this nor ENCLAVE_OPERATOR_KEY, a fresh key is generated at start.
    #[arg(long, env = "ENCLAVE_OPERATOR_KEY_FILE", value_name = "PATH")]
    operator_key_file: Option<PathBuf>,

    /// Milliseconds between polls for a new block [50..=60000]. Each poll is one HTTP
    /// request while idle; on chains with slow blocks set it near the block time.
    #[arg(long, env = "ENCLAVE_POLL_INTERVAL_MS", value_name = "MS", default_value_t = DEFAULT_POLL_INTERVAL_MS)]
    poll_interval_ms: u64,

    /// Blocks of contract logs read back from the head at start to rebuild the state
    /// [0..=1000000].
    #[arg(long, env = "ENCLAVE_LOOKBACK_BLOCKS", value_name = "BLOCKS", default_value_t = DEFAULT_LOOKBACK_BLOCKS)]
    lookback_blocks: u64,

    /// Largest block range asked for in one eth_getLogs request [1..=100000].
    #[arg(long, env = "ENCLAVE_LOG_CHUNK_BLOCKS", value_name = "BLOCKS", default_value_t = DEFAULT_LOG_CHUNK_BLOCKS)]
    log_chunk_blocks: u64,

    /// Seconds between full re-reads of the contract's views, which correct anything
    /// the logs missed [1..=3600].
    #[arg(long, env = "ENCLAVE_RECONCILE_INTERVAL_SECS", value_name = "SECS", default_value_t = DEFAULT_RECONCILE_INTERVAL_SECS)]
    reconcile_interval_secs: u64,

    /// Finished rounds kept in memory for the history view [1..=1000].
    #[arg(long, env = "ENCLAVE_HISTORY_LIMIT", value_name = "ROUNDS", default_value_t = DEFAULT_HISTORY_LIMIT)]
    history_limit: u64,

    /// Activity-feed entries kept in memory [1..=10000].
    #[arg(long, env = "ENCLAVE_ACTIVITY_LIMIT", value_name = "ENTRIES", default_value_t = DEFAULT_ACTIVITY_LIMIT)]
    activity_limit: u64,

    /// Seconds to wait for an operator transaction's receipt before giving up on it
    /// [1..=3600].
    #[arg(long, env = "ENCLAVE_RECEIPT_TIMEOUT_SECS", value_name = "SECS", default_value_t = DEFAULT_RECEIPT_TIMEOUT_SECS)]
    receipt_timeout_secs: u64,

    /// Blocks a pending operator transaction may stay unmined before it is replaced
    /// with a fee bump [1..=100].
    #[arg(long, env = "ENCLAVE_REPLACE_AFTER_BLOCKS", value_name = "BLOCKS", default_value_t = DEFAULT_REPLACE_AFTER_BLOCKS)]
    replace_after_blocks: u64,

    /// Log line format on stderr.
    #[arg(long, env = "ENCLAVE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,

    /// Log filter, RUST_LOG syntax (e.g. `info,enclave_app=debug`); RUST_LOG is read
    /// when ENCLAVE_LOG_FILTER is unset.
    #[arg(long, env = "ENCLAVE_LOG_FILTER", value_name = "FILTER", default_value = DEFAULT_LOG_FILTER)]
    log_filter: String,
}

/// Shown after the options in `--help`.
const AFTER_HELP: &str = "\
Settings are taken from, in order of precedence: flags, ENCLAVE_* environment
variables, the TOML file given by --config, and the defaults shown above.

Environment only:
  ENCLAVE_OPERATOR_KEY  The operator's private key as 64 hex digits (sim mode only;
                        never a flag, so it cannot show in the process list). At most
                        one of it and --operator-key-file.";

/// The config file: every setting except the key itself, all optional. Unknown keys
/// are errors, so a typo cannot silently leave a default in place.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    mode: Option<Mode>,
    rpc_url: Option<OneOrMany>,
    rpc_quorum: Option<u64>,
    clock_margin_secs: Option<u64>,
    contract: Option<Address>,
    egress: Option<Egress>,
    rpc_ca_file: Option<PathBuf>,
    control_listen: Option<Endpoint>,
    operator_address: Option<Address>,
    sim_ca_file: Option<PathBuf>,
    operator_key_file: Option<PathBuf>,
    poll_interval_ms: Option<u64>,
    lookback_blocks: Option<u64>,
    log_chunk_blocks: Option<u64>,
    reconcile_interval_secs: Option<u64>,
    history_limit: Option<u64>,
    activity_limit: Option<u64>,
    receipt_timeout_secs: Option<u64>,
    replace_after_blocks: Option<u64>,
    log_format: Option<LogFormat>,
    log_filter: Option<String>,
}

/// A file value that may be one string or a list of them (`rpc_url`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(one) => vec![one],
            Self::Many(many) => many,
        }
    }
}

/// The validated configuration.
///
/// `Debug` is safe to print: the key is a [`Secret`] and the URL an [`RpcUrl`], both of
/// which redact themselves. `Display` prints every setting on one line, redacted.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where enclave-app runs.
    pub mode: Mode,
    /// The JSON-RPC endpoints, at least one; the first is followed for events.
    pub rpc_urls: Vec<RpcUrl>,
    /// How many of [`Self::rpc_urls`] must agree before the operator signs.
    pub rpc_quorum: usize,
    /// How far the local clock must be past a round's end before its seed is revealed.
    pub clock_margin_secs: Option<u64>,
    /// The Lottery contract.
    pub contract: Address,
    /// Where RPC connections go.
    pub egress: Egress,
    /// Extra CA certificates for an `https://` RPC URL.
    pub rpc_ca_file: Option<PathBuf>,
    /// Where the control channel listens.
    pub control_listen: Endpoint,
    /// The address an injected operator key must have.
    pub operator_address: Option<Address>,
    /// The simulated attestation CA's file (sim mode only).
    pub sim_ca_file: Option<PathBuf>,
    /// A file holding the operator key (sim mode only).
    pub operator_key_file: Option<PathBuf>,
    /// The operator key from `ENCLAVE_OPERATOR_KEY` (sim mode only).
    pub operator_key: Option<Secret>,
    /// Milliseconds between new-block polls; see [`Config::poll_interval`].
    pub poll_interval_ms: u64,
    /// Blocks of logs read back at start.
    pub lookback_blocks: u64,
    /// Largest block range per `eth_getLogs`.
    pub log_chunk_blocks: u64,
    /// Seconds between full view re-reads; see [`Config::reconcile_interval`].
    pub reconcile_interval_secs: u64,
    /// Finished rounds kept in memory.
    pub history_limit: usize,
    /// Activity entries kept in memory.
    pub activity_limit: usize,
    /// Seconds to wait for a receipt; see [`Config::receipt_timeout`].
    pub receipt_timeout_secs: u64,
    /// Blocks before a pending transaction is replaced with a fee bump.
    pub replace_after_blocks: u64,
    /// Log line format.
    pub log_format: LogFormat,
    /// Log filter (`RUST_LOG` syntax), already checked to parse.
    pub log_filter: String,
    /// The config file that was read, if any.
    pub config_file: Option<PathBuf>,
}

impl Config {
    /// The configuration of this process: its arguments and environment.
    ///
    /// # Errors
    /// [`ConfigError`]; for [`ConfigError::Cli`] call [`clap::Error::exit`], which also
    /// handles `--help` and `--version`.
    pub fn from_process() -> Result<Self, ConfigError> {
        let mut env = HashMap::new();
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str() else { continue };
            if !(name.starts_with(ENV_PREFIX) || name == RUST_LOG_ENV) {
                continue;
            }
            let value = value
                .into_string()
                .map_err(|_| ConfigError::EnvNotUnicode {
                    var: name.to_owned(),
                })?;
            env.insert(name.to_owned(), value);
        }
        let config = Self::load(std::env::args_os(), &env);
        if let Some(key) = env.get_mut(OPERATOR_KEY_ENV) {
            key.zeroize();
        }
        config
    }

    /// Parses `args` (program name first) with `env` standing in for the process
    /// environment, reading the TOML file named by `--config` / `ENCLAVE_CONFIG`.
    ///
    /// # Errors
    /// [`ConfigError`], one variant per problem.
    pub fn load<I, T>(args: I, env: &HashMap<String, String>) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let parsed = parse_command_line(&args, env)?;
        let file = match &parsed.cli.config {
            Some(path) => parse_file(&read_file(path)?, Some(path))?,
            None => FileConfig::default(),
        };
        parsed.resolve(file, env)
    }

    /// Like [`Config::load`], with `file_text` as the config file's content instead of
    /// reading the file `--config` names (a `--config` path then only labels errors).
    ///
    /// # Errors
    /// [`ConfigError`], one variant per problem.
    pub fn load_with_file<I, T>(
        args: I,
        env: &HashMap<String, String>,
        file_text: &str,
    ) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let parsed = parse_command_line(&args, env)?;
        let file = parse_file(file_text, parsed.cli.config.as_deref())?;
        parsed.resolve(file, env)
    }

    /// Every setting on one line, with the key shown as `<redacted>` and the RPC URL
    /// reduced to scheme, host and port: the same text as `Display`.
    pub fn redacted(&self) -> String {
        self.to_string()
    }

    /// Time between new-block polls.
    pub const fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    /// Time between full view re-reads.
    pub const fn reconcile_interval(&self) -> Duration {
        Duration::from_secs(self.reconcile_interval_secs)
    }

    /// How long to wait for a receipt.
    pub const fn receipt_timeout(&self) -> Duration {
        Duration::from_secs(self.receipt_timeout_secs)
    }
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        /// `None` for absent optional settings.
        struct Opt<'a>(Option<&'a Path>);
        impl fmt::Display for Opt<'_> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                match self.0 {
                    Some(path) => write!(f, "{:?}", path.display().to_string()),
                    None => f.write_str("<none>"),
                }
            }
        }
        write!(
            f,
            "mode={} rpc_url={} rpc_quorum={} clock_margin_secs={} contract={} egress={} rpc_ca_file={} control_listen={} operator_address={} sim_ca_file={} \
             operator_key={} operator_key_file={} \
             poll_interval_ms={} lookback_blocks={} log_chunk_blocks={} \
             reconcile_interval_secs={} history_limit={} activity_limit={} \
             receipt_timeout_secs={} replace_after_blocks={} log_format={} log_filter={:?} \
             config_file={}",
            self.mode,
            self.rpc_urls
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(","),
            self.rpc_quorum,
            self.clock_margin_secs
                .map_or_else(|| "<none>".to_owned(), |s| s.to_string()),
            self.contract,
            self.egress,
            Opt(self.rpc_ca_file.as_deref()),
            self.control_listen,
            self.operator_address
                .map_or_else(|| "<none>".to_owned(), |a| a.to_string()),
            Opt(self.sim_ca_file.as_deref()),
            if self.operator_key.is_some() {
                "<redacted>"
            } else {
                "<none>"
            },
            Opt(self.operator_key_file.as_deref()),
            self.poll_interval_ms,
            self.lookback_blocks,
            self.log_chunk_blocks,
            self.reconcile_interval_secs,
            self.history_limit,
            self.activity_limit,
            self.receipt_timeout_secs,
            self.replace_after_blocks,
            self.log_format,
            self.log_filter,
            Opt(self.config_file.as_deref()),
        )
    }
}

/// Where the chain client's connections go.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub enum Egress {
    /// Straight to the RPC URL's host (simulated mode without host-proxy).
    Direct,
    /// Every connection to this endpoint: host-proxy's egress forwarder, which sends
    /// it on to its configured upstream.
    Via(Endpoint),
}

impl Egress {
    /// Parses `direct` or an endpoint.
    ///
    /// # Errors
    /// When the text is neither.
    pub fn parse(text: &str) -> Result<Self, EndpointError> {
        if text == "direct" {
            Ok(Self::Direct)
        } else {
            Endpoint::parse(text).map(Self::Via)
        }
    }

    /// The route of RPC URL number `index` (from 0): the forwarder endpoint's port
    /// plus `index`, since host-proxy routes by listen endpoint (one upstream each);
    /// `None` when that port would overflow.
    pub fn for_upstream(&self, index: usize) -> Option<Self> {
        let offset = u32::try_from(index).ok()?;
        Some(match self {
            Self::Direct => Self::Direct,
            Self::Via(Endpoint::Tcp { host, port }) => Self::Via(Endpoint::Tcp {
                host: host.clone(),
                port: u16::try_from(u32::from(*port) + offset).ok()?,
            }),
            Self::Via(Endpoint::Vsock { cid, port }) => Self::Via(Endpoint::Vsock {
                cid: *cid,
                port: port.checked_add(offset)?,
            }),
        })
    }

    /// The default: host-proxy's forwarder on loopback (sim) or on the parent (nitro).
    pub fn default_for(mode: Mode) -> Self {
        match mode {
            Mode::Sim => Self::Via(Endpoint::loopback(DEFAULT_EGRESS_PORT)),
            Mode::Nitro => Self::Via(Endpoint::Vsock {
                cid: PARENT_CID,
                port: u32::from(DEFAULT_EGRESS_PORT),
            }),
        }
    }
}

impl TryFrom<String> for Egress {
    type Error = EndpointError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::parse(&text)
    }
}

impl fmt::Display for Egress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Direct => f.write_str("direct"),
            Self::Via(endpoint) => endpoint.fmt(f),
        }
    }
}

/// The default control-channel listener for `mode`.
pub fn default_control_listen(mode: Mode) -> Endpoint {
    match mode {
        Mode::Sim => Endpoint::loopback(DEFAULT_CONTROL_PORT),
        Mode::Nitro => Endpoint::Vsock {
            cid: CID_ANY,
            port: u32::from(DEFAULT_CONTROL_PORT),
        },
    }
}

/// The command line and environment, parsed; the file is merged in [`Self::resolve`].
struct Parsed {
    cli: Cli,
    /// Matches of the command line alone: tells flags from environment variables.
    flags: ArgMatches,
    /// Matches of the command line plus the environment: tells defaults apart.
    all: ArgMatches,
    /// Setting id → the variable that supplied it.
    from_env: HashMap<String, String>,
}

/// Parses the command line, then adds `--flag=value` for every `ENCLAVE_*` variable
/// whose option the command line did not give.
fn parse_command_line(
    args: &[OsString],
    env: &HashMap<String, String>,
) -> Result<Parsed, ConfigError> {
    reject_key_flag(args)?;
    let documented = Cli::command();
    // Each option's variable, as declared for `--help`.
    let env_options: Vec<(String, String, String)> = documented
        .get_arguments()
        .filter_map(|arg| {
            Some((
                arg.get_id().to_string(),
                arg.get_long()?.to_owned(),
                arg.get_env()?.to_str()?.to_owned(),
            ))
        })
        .collect();
    // Clap itself must not read the process environment: `env` is the environment.
    let command = documented
        .clone()
        .mut_args(|arg| arg.env(None::<&'static str>));

    let flags = match command.clone().try_get_matches_from(args) {
        Ok(matches) => matches,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            // Render help from the declared command, which lists each variable.
            return Err(documented
                .try_get_matches_from(args)
                .err()
                .unwrap_or(e)
                .into());
        }
        Err(e) => return Err(e.into()),
    };

    let program = args
        .first()
        .cloned()
        .unwrap_or_else(|| OsString::from("enclave-app"));
    let mut extra = Vec::new();
    let mut from_env = HashMap::new();
    for (id, long, var) in env_options {
        if flags.value_source(&id) == Some(ValueSource::CommandLine) {
            continue;
        }
        let fallback = (var == "ENCLAVE_LOG_FILTER").then_some(RUST_LOG_ENV);
        let Some((var, value)) = std::iter::once(var.as_str())
            .chain(fallback)
            .find_map(|name| Some((name, env.get(name).filter(|v| !v.is_empty())?)))
        else {
            continue;
        };
        let arg = OsString::from(format!("--{long}={value}"));
        // Parse each variable alone first, so an error names the variable at fault.
        if let Err(e) = command
            .clone()
            .try_get_matches_from([program.clone(), arg.clone()])
        {
            return Err(ConfigError::InvalidEnv {
                var: var.to_owned(),
                reason: clap_reason(&e),
            });
        }
        extra.push(arg);
        from_env.insert(id, var.to_owned());
    }
    let all = command.try_get_matches_from(args.iter().cloned().chain(extra))?;
    let cli = Cli::from_arg_matches(&all)?;
    Ok(Parsed {
        cli,
        flags,
        all,
        from_env,
    })
}

/// Refuses `--operator-key[=…]` before clap sees it: clap's error would echo the key.
fn reject_key_flag(args: &[OsString]) -> Result<(), ConfigError> {
    let given = args.iter().skip(1).any(|arg| {
        arg.to_str()
            .is_some_and(|a| a == "--operator-key" || a.starts_with("--operator-key="))
    });
    if given {
        return Err(ConfigError::KeyOnCommandLine);
    }
    Ok(())
}

/// A clap error's message on one line, without the `error:` prefix and the `--help`
/// hint.
fn clap_reason(e: &clap::Error) -> String {
    e.render()
        .to_string()
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("For more information"))
        .map(|line| line.strip_prefix("error: ").unwrap_or(line))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Reads the config file, refusing anything over [`MAX_CONFIG_FILE_BYTES`].
fn read_file(path: &Path) -> Result<String, ConfigError> {
    let unreadable = |source| ConfigError::FileUnreadable {
        path: path.to_owned(),
        source,
    };
    let file = std::fs::File::open(path).map_err(unreadable)?;
    let mut text = String::new();
    file.take(MAX_CONFIG_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(unreadable)?;
    if text.len() as u64 > MAX_CONFIG_FILE_BYTES {
        return Err(ConfigError::FileTooLarge {
            path: path.to_owned(),
        });
    }
    Ok(text)
}

/// Parses the config file. Errors carry the parser's message and position only: its
/// rendering would quote the offending line, which might hold a secret.
fn parse_file(text: &str, path: Option<&Path>) -> Result<FileConfig, ConfigError> {
    toml::from_str(text).map_err(|e| {
        let position = e.span().map(|span| {
            let before = &text[..span.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
            (line, column)
        });
        ConfigError::FileInvalid {
            path: path.map(Path::to_owned),
            line: position.map(|(line, _)| line),
            column: position.map(|(_, column)| column),
            message: e.message().trim().to_owned(),
        }
    })
}

impl Parsed {
    /// Where the setting `id` came from, for error messages, given that the file was
    /// not its source.
    fn origin(&self, id: &str) -> String {
        if self.flags.value_source(id) == Some(ValueSource::CommandLine) {
            format!("--{}", flag_name(id))
        } else if let Some(var) = self.from_env.get(id) {
            var.clone()
        } else {
            format!("the default {id}")
        }
    }

    /// The origin of a value the file supplied.
    fn file_origin(&self, id: &str) -> String {
        match &self.cli.config {
            Some(path) => format!("{id} in {}", path.display()),
            None => format!("{id} in the config file"),
        }
    }

    /// A setting with a default: the file fills it when neither a flag nor a variable
    /// gave it.
    fn defaulted<T>(&self, id: &str, given: T, file: Option<T>) -> (T, String) {
        match file {
            Some(value) if self.all.value_source(id) == Some(ValueSource::DefaultValue) => {
                (value, self.file_origin(id))
            }
            _ => (given, self.origin(id)),
        }
    }

    /// An optional setting: the file fills it when neither a flag nor a variable gave it.
    fn optional<T>(&self, id: &str, given: Option<T>, file: Option<T>) -> Option<(T, String)> {
        match given {
            Some(value) => Some((value, self.origin(id))),
            None => file.map(|value| (value, self.file_origin(id))),
        }
    }

    /// Merges the file, checks every value and builds the [`Config`].
    fn resolve(
        self,
        file: FileConfig,
        env: &HashMap<String, String>,
    ) -> Result<Config, ConfigError> {
        let cli = &self.cli;
        let (mode, _) = self
            .optional("mode", cli.mode, file.mode)
            .ok_or(ConfigError::Missing { key: "mode" })?;
        let given_urls = (!cli.rpc_url.is_empty()).then(|| cli.rpc_url.clone());
        let (rpc_url, rpc_origin) = self
            .optional("rpc_url", given_urls, file.rpc_url.map(OneOrMany::into_vec))
            .filter(|(urls, _)| !urls.is_empty())
            .ok_or(ConfigError::Missing { key: "rpc_url" })?;
        let (contract, _) = self
            .optional("contract", cli.contract, file.contract)
            .ok_or(ConfigError::Missing { key: "contract" })?;

        let key_file = self.optional(
            "operator_key_file",
            cli.operator_key_file.clone(),
            file.operator_key_file,
        );
        let key = env
            .get(OPERATOR_KEY_ENV)
            .filter(|v| !v.is_empty())
            .map(|v| Secret::new(v.clone()));
        if let (Some((_, file_origin)), Some(_)) = (&key_file, &key) {
            return Err(ConfigError::ConflictingKeySources {
                file_origin: file_origin.clone(),
            });
        }
        if mode == Mode::Nitro {
            let plaintext = match (&key_file, &key) {
                (Some((_, origin)), _) => Some(origin.clone()),
                (None, Some(_)) => Some(OPERATOR_KEY_ENV.to_owned()),
                (None, None) => None,
            };
            if let Some(origin) = plaintext {
                return Err(ConfigError::PlaintextKeyInNitro { origin });
            }
        }

        let rpc_urls = rpc_url
            .iter()
            .map(|url| {
                RpcUrl::parse(url.trim()).map_err(|source| ConfigError::RpcUrl {
                    origin: rpc_origin.clone(),
                    source,
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if rpc_urls.len() > MAX_RPC_URLS {
            return Err(ConfigError::TooManyRpcUrls {
                origin: rpc_origin,
                count: rpc_urls.len(),
            });
        }
        if mode == Mode::Nitro {
            // Over plain HTTP the host reads and rewrites every answer: block times,
            // the round, the simulation of a draw. Only TLS ends inside the enclave.
            if let Some(url) = rpc_urls.iter().find(|url| !url.is_https()) {
                return Err(ConfigError::PlaintextRpcInNitro {
                    origin: rpc_origin,
                    url: url.to_string(),
                });
            }
        }
        let urls = rpc_urls.len() as u64;
        let (rpc_quorum, quorum_origin) = self
            .optional("rpc_quorum", cli.rpc_quorum, file.rpc_quorum)
            .unwrap_or((urls, "the default rpc_quorum".to_owned()));
        if !(1..=urls).contains(&rpc_quorum) {
            return Err(ConfigError::OutOfRange {
                origin: quorum_origin,
                value: rpc_quorum,
                min: 1,
                max: urls,
            });
        }
        let clock_margin_secs = match self.optional(
            "clock_margin_secs",
            cli.clock_margin_secs,
            file.clock_margin_secs,
        ) {
            Some((secs, origin)) if !CLOCK_MARGIN_SECS_RANGE.contains(&secs) => {
                return Err(ConfigError::OutOfRange {
                    origin,
                    value: secs,
                    min: *CLOCK_MARGIN_SECS_RANGE.start(),
                    max: *CLOCK_MARGIN_SECS_RANGE.end(),
                });
            }
            Some((secs, _)) => Some(secs),
            None => (mode == Mode::Nitro).then_some(DEFAULT_NITRO_CLOCK_MARGIN_SECS),
        };

        let egress = self
            .optional("egress", cli.egress.clone(), file.egress)
            .unwrap_or_else(|| (Egress::default_for(mode), "the default egress".to_owned()));
        let control_listen = self
            .optional(
                "control_listen",
                cli.control_listen.clone(),
                file.control_listen,
            )
            .unwrap_or_else(|| {
                (
                    default_control_listen(mode),
                    "the default control_listen".to_owned(),
                )
            });
        if mode == Mode::Nitro {
            // Inside an enclave there is no network: vsock is the only way out, and a
            // TCP setting would fail at the first connection instead of at start.
            if !matches!(&egress.0, Egress::Via(e) if e.is_vsock()) {
                return Err(ConfigError::NitroNeedsVsock {
                    origin: egress.1,
                    value: egress.0.to_string(),
                });
            }
            if !control_listen.0.is_vsock() {
                return Err(ConfigError::NitroNeedsVsock {
                    origin: control_listen.1,
                    value: control_listen.0.to_string(),
                });
            }
        }
        if egress.0.for_upstream(rpc_urls.len() - 1).is_none() {
            return Err(ConfigError::EgressPortsExhausted {
                origin: egress.1,
                urls: rpc_urls.len(),
            });
        }
        let rpc_ca_file = self
            .optional("rpc_ca_file", cli.rpc_ca_file.clone(), file.rpc_ca_file)
            .map(|(path, _)| path);
        let sim_ca_file = self.optional("sim_ca_file", cli.sim_ca_file.clone(), file.sim_ca_file);
        if let (Mode::Nitro, Some((_, origin))) = (mode, &sim_ca_file) {
            // A simulated CA inside an enclave would let the host mint documents.
            return Err(ConfigError::SimulatedCaInNitro {
                origin: origin.clone(),
            });
        }
        let sim_ca_file = sim_ca_file.map(|(path, _)| path);
        let operator_address = self
            .optional(
                "operator_address",
                cli.operator_address,
                file.operator_address,
            )
            .map(|(address, _)| address);

        let ranged = |id: &str, given: u64, file: Option<u64>, range: &RangeInclusive<u64>| {
            let (value, origin) = self.defaulted(id, given, file);
            if range.contains(&value) {
                Ok(value)
            } else {
                Err(ConfigError::OutOfRange {
                    origin,
                    value,
                    min: *range.start(),
                    max: *range.end(),
                })
            }
        };
        let poll_interval_ms = ranged(
            "poll_interval_ms",
            cli.poll_interval_ms,
            file.poll_interval_ms,
            &POLL_INTERVAL_MS_RANGE,
        )?;
        let lookback_blocks = ranged(
            "lookback_blocks",
            cli.lookback_blocks,
            file.lookback_blocks,
            &LOOKBACK_BLOCKS_RANGE,
        )?;
        let log_chunk_blocks = ranged(
            "log_chunk_blocks",
            cli.log_chunk_blocks,
            file.log_chunk_blocks,
            &LOG_CHUNK_BLOCKS_RANGE,
        )?;
        let reconcile_interval_secs = ranged(
            "reconcile_interval_secs",
            cli.reconcile_interval_secs,
            file.reconcile_interval_secs,
            &RECONCILE_INTERVAL_SECS_RANGE,
        )?;
        let history_limit = ranged(
            "history_limit",
            cli.history_limit,
            file.history_limit,
            &HISTORY_LIMIT_RANGE,
        )?;
        let activity_limit = ranged(
            "activity_limit",
            cli.activity_limit,
            file.activity_limit,
            &ACTIVITY_LIMIT_RANGE,
        )?;
        let receipt_timeout_secs = ranged(
            "receipt_timeout_secs",
            cli.receipt_timeout_secs,
            file.receipt_timeout_secs,
            &RECEIPT_TIMEOUT_SECS_RANGE,
        )?;
        let replace_after_blocks = ranged(
            "replace_after_blocks",
            cli.replace_after_blocks,
            file.replace_after_blocks,
            &REPLACE_AFTER_BLOCKS_RANGE,
        )?;

        let (log_format, _) = self.defaulted("log_format", cli.log_format, file.log_format);
        let (log_filter, filter_origin) =
            self.defaulted("log_filter", cli.log_filter.clone(), file.log_filter);
        logging::parse_filter(&log_filter).map_err(|source| ConfigError::LogFilter {
            origin: filter_origin,
            source,
        })?;

        Ok(Config {
            mode,
            rpc_urls,
            // Lossless: at most MAX_RPC_URLS.
            rpc_quorum: usize::try_from(rpc_quorum).unwrap_or(usize::MAX),
            clock_margin_secs,
            contract,
            egress: egress.0,
            rpc_ca_file,
            control_listen: control_listen.0,
            operator_address,
            sim_ca_file,
            operator_key_file: key_file.map(|(path, _)| path),
            operator_key: key,
            poll_interval_ms,
            lookback_blocks,
            log_chunk_blocks,
            reconcile_interval_secs,
            // Lossless: both ranges end far below `u32::MAX`.
            history_limit: usize::try_from(history_limit).unwrap_or(usize::MAX),
            activity_limit: usize::try_from(activity_limit).unwrap_or(usize::MAX),
            receipt_timeout_secs,
            replace_after_blocks,
            log_format,
            log_filter,
            config_file: self.cli.config.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    const CONTRACT: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    const SECRET_URL: &str = "https://eth.example.org/v2/SECRETAPIKEY";

    /// The required settings, as flags.
    fn base() -> Vec<&'static str> {
        vec![
            "enclave-app",
            "--mode",
            "sim",
            "--rpc-url",
            "http://127.0.0.1:8545",
            "--contract",
            CONTRACT,
        ]
    }

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn with(extra: &[&'static str]) -> Vec<&'static str> {
        let mut args = base();
        args.extend_from_slice(extra);
        args
    }

    #[test]
    fn defaults_apply_when_nothing_else_is_given() {
        let config = Config::load(base(), &HashMap::new()).unwrap();
        assert_eq!(config.mode, Mode::Sim);
        assert_eq!(config.contract.to_string(), CONTRACT);
        assert_eq!(config.poll_interval_ms, DEFAULT_POLL_INTERVAL_MS);
        assert_eq!(config.poll_interval(), Duration::from_secs(1));
        assert_eq!(config.lookback_blocks, DEFAULT_LOOKBACK_BLOCKS);
        assert_eq!(config.log_chunk_blocks, DEFAULT_LOG_CHUNK_BLOCKS);
        assert_eq!(config.reconcile_interval(), Duration::from_secs(30));
        assert_eq!(config.history_limit, 50);
        assert_eq!(config.activity_limit, 500);
        assert_eq!(config.receipt_timeout(), Duration::from_secs(60));
        assert_eq!(config.replace_after_blocks, 3);
        assert_eq!(config.log_format, LogFormat::Text);
        assert_eq!(config.log_filter, "info");
        assert!(config.operator_key.is_none() && config.operator_key_file.is_none());
    }

    #[test]
    fn flag_beats_env_beats_file_beats_default() {
        let file = "poll_interval_ms = 300\nlookback_blocks = 30\nlog_chunk_blocks = 3\n";
        let env = env(&[
            ("ENCLAVE_POLL_INTERVAL_MS", "200"),
            ("ENCLAVE_LOOKBACK_BLOCKS", "20"),
        ]);
        let args = with(&["--poll-interval-ms", "100"]);
        let config = Config::load_with_file(args, &env, file).unwrap();
        assert_eq!(config.poll_interval_ms, 100, "flag beats env and file");
        assert_eq!(config.lookback_blocks, 20, "env beats file");
        assert_eq!(config.log_chunk_blocks, 3, "file beats default");
        assert_eq!(config.history_limit, 50, "default");
    }

    #[test]
    fn a_flag_equal_to_the_default_still_beats_the_file() {
        let config = Config::load_with_file(
            with(&["--poll-interval-ms=1000"]),
            &HashMap::new(),
            "poll_interval_ms = 300",
        )
        .unwrap();
        assert_eq!(config.poll_interval_ms, 1000);
    }

    #[test]
    fn required_settings_can_come_from_env_or_file() {
        let env = env(&[
            ("ENCLAVE_MODE", "sim"),
            ("ENCLAVE_RPC_URL", "http://localhost:8545"),
        ]);
        let file = format!("contract = \"{CONTRACT}\"\nmode = \"nitro\"\n");
        let config = Config::load_with_file(["enclave-app"], &env, &file).unwrap();
        assert_eq!(config.mode, Mode::Sim, "env beats file");
        assert!(config.rpc_urls[0].is_local());
        assert_eq!(config.contract.to_string(), CONTRACT);
    }

    #[test]
    fn config_file_is_read_from_flag_or_env() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(
            file,
            "mode = \"sim\"\nrpc_url = \"http://127.0.0.1:8545\"\ncontract = \"{CONTRACT}\"\n\
             history_limit = 7\nlog_format = \"json\"\n"
        )
        .unwrap();
        let path = file.path().to_str().unwrap();
        let config = Config::load(["enclave-app", "--config", path], &HashMap::new()).unwrap();
        assert_eq!(config.history_limit, 7);
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.config_file.as_deref(), Some(file.path()));
        let config = Config::load(["enclave-app"], &env(&[("ENCLAVE_CONFIG", path)])).unwrap();
        assert_eq!(config.history_limit, 7);
    }

    #[test]
    fn the_example_file_loads_and_documents_every_key() {
        let text = include_str!("../enclave-app.example.toml");
        // As shipped: the required keys are set, the rest commented out at their defaults.
        let config = Config::load_with_file(["enclave-app"], &HashMap::new(), text).unwrap();
        assert_eq!(config.poll_interval_ms, DEFAULT_POLL_INTERVAL_MS);
        // With every `# key = value` line uncommented, every key is present and the
        // documented defaults are the real ones.
        let uncommented: String = text
            .lines()
            .map(|line| match line.strip_prefix("# ") {
                Some(setting) if setting.contains(" = ") => format!("{setting}\n"),
                _ => format!("{line}\n"),
            })
            .collect();
        let file = parse_file(&uncommented, None).unwrap();
        let debug = format!("{file:?}");
        assert!(
            !debug.contains("None"),
            "a key is missing from the example: {debug}"
        );
        let all = Config::load_with_file(["enclave-app"], &HashMap::new(), &uncommented).unwrap();
        let defaults = Config::load(base(), &HashMap::new()).unwrap();
        assert_eq!(
            all.to_string()
                .replace(
                    "operator_key_file=\"/run/secrets/operator.key\"",
                    "operator_key_file=<none>"
                )
                .replace(
                    "rpc_ca_file=\"/etc/enclave-app/rpc-ca.pem\"",
                    "rpc_ca_file=<none>"
                )
                .replace(
                    "sim_ca_file=\"/var/lib/enclave-app/sim-ca.pem\"",
                    "sim_ca_file=<none>"
                )
                .replace(
                    "operator_address=0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
                    "operator_address=<none>"
                )
                .replace("clock_margin_secs=2", "clock_margin_secs=<none>"),
            defaults.to_string()
        );
    }

    #[test]
    fn rust_log_is_the_fallback_filter() {
        let config = Config::load(base(), &env(&[("RUST_LOG", "warn")])).unwrap();
        assert_eq!(config.log_filter, "warn");
        let env = env(&[("RUST_LOG", "warn"), ("ENCLAVE_LOG_FILTER", "debug")]);
        assert_eq!(Config::load(base(), &env).unwrap().log_filter, "debug");
        let config = Config::load(with(&["--log-filter", "error"]), &env).unwrap();
        assert_eq!(config.log_filter, "error");
    }

    #[test]
    fn the_process_environment_is_not_read() {
        // PATH is always set; were clap reading the process environment for ENCLAVE_*,
        // nothing here would tell, so check the mechanism: no argument keeps its env.
        let command = Cli::command().mut_args(|arg| arg.env(None::<&'static str>));
        assert!(command.get_arguments().all(|arg| arg.get_env().is_none()));
        // And every declared variable follows the ENCLAVE_<KEY> convention that error
        // messages rely on.
        for arg in Cli::command().get_arguments() {
            let id = arg.get_id().as_str();
            if let Some(var) = arg.get_env() {
                assert_eq!(var.to_str().unwrap(), env_name(id));
                assert_eq!(arg.get_long().unwrap(), flag_name(id));
            }
        }
    }

    #[test]
    fn missing_required_settings_are_named() {
        for (key, args) in [
            (
                "mode",
                vec![
                    "enclave-app",
                    "--rpc-url",
                    "http://h:1",
                    "--contract",
                    CONTRACT,
                ],
            ),
            (
                "rpc_url",
                vec!["enclave-app", "--mode", "sim", "--contract", CONTRACT],
            ),
            (
                "contract",
                vec!["enclave-app", "--mode", "sim", "--rpc-url", "http://h:1"],
            ),
        ] {
            let err = Config::load(args, &HashMap::new()).unwrap_err();
            assert!(
                matches!(err, ConfigError::Missing { key: k } if k == key),
                "{err}"
            );
            let text = err.to_string();
            assert!(text.contains(&format!("--{}", flag_name(key))), "{text}");
            assert!(text.contains(&env_name(key)), "{text}");
        }
    }

    #[test]
    fn out_of_range_values_are_refused_wherever_they_come_from() {
        for (flag, bad) in [
            ("--poll-interval-ms", "49"),
            ("--poll-interval-ms", "60001"),
            ("--lookback-blocks", "1000001"),
            ("--log-chunk-blocks", "0"),
            ("--log-chunk-blocks", "100001"),
            ("--reconcile-interval-secs", "0"),
            ("--history-limit", "0"),
            ("--history-limit", "1001"),
            ("--activity-limit", "0"),
            ("--activity-limit", "10001"),
            ("--receipt-timeout-secs", "0"),
            ("--replace-after-blocks", "0"),
            ("--replace-after-blocks", "101"),
        ] {
            let err = Config::load(with(&[flag, bad]), &HashMap::new()).unwrap_err();
            assert!(
                matches!(err, ConfigError::OutOfRange { .. }),
                "{flag} {bad}: {err}"
            );
            assert!(
                err.to_string()
                    .starts_with(&format!("{flag} is {bad}, outside")),
                "{err}"
            );
        }
        let err = Config::load(base(), &env(&[("ENCLAVE_HISTORY_LIMIT", "0")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "ENCLAVE_HISTORY_LIMIT is 0, outside the allowed range 1..=1000"
        );
        let err =
            Config::load_with_file(base(), &HashMap::new(), "activity_limit = 0").unwrap_err();
        assert_eq!(
            err.to_string(),
            "activity_limit in the config file is 0, outside the allowed range 1..=10000"
        );
    }

    #[test]
    fn malformed_values_are_refused() {
        // Flags: clap's own errors.
        for extra in [
            ["--mode", "cloud"],
            ["--contract", "0x1234"],
            ["--poll-interval-ms", "soon"],
            ["--log-format", "xml"],
        ] {
            let mut args = vec!["enclave-app", "--rpc-url", "http://h:1"];
            args.extend_from_slice(&extra);
            let err = Config::load(args, &HashMap::new()).unwrap_err();
            assert!(matches!(err, ConfigError::Cli(_)), "{extra:?}: {err}");
        }
        // Variables: named.
        let err = Config::load(base(), &env(&[("ENCLAVE_LOOKBACK_BLOCKS", "many")])).unwrap_err();
        assert!(
            matches!(&err, ConfigError::InvalidEnv { var, .. } if var == "ENCLAVE_LOOKBACK_BLOCKS"),
            "{err}"
        );
        assert!(err.to_string().contains("invalid digit"), "{err}");
        // The URL, the log filter.
        let err = Config::load(
            [
                "enclave-app",
                "--mode",
                "sim",
                "--contract",
                CONTRACT,
                "--rpc-url",
                "ftp://h/SECRETAPIKEY",
            ],
            &HashMap::new(),
        )
        .unwrap_err();
        assert!(matches!(err, ConfigError::RpcUrl { .. }), "{err}");
        let chain = runner::error_chain(&err);
        assert!(
            chain.contains("scheme") && !chain.contains("SECRET"),
            "{chain}"
        );
        let err =
            Config::load(with(&["--log-filter", "info,x=loud"]), &HashMap::new()).unwrap_err();
        assert!(matches!(err, ConfigError::LogFilter { .. }), "{err}");
    }

    #[test]
    fn the_key_is_never_a_flag() {
        for args in [
            with(&["--operator-key", KEY]),
            with(&["--operator-key=0xabc"]),
        ] {
            let err = Config::load(args, &HashMap::new()).unwrap_err();
            assert!(matches!(err, ConfigError::KeyOnCommandLine), "{err}");
            assert!(!err.to_string().contains("abc"));
        }
        // Clap names an unknown `--flag=value` without its value (which may be a
        // secret given to the wrong flag).
        let err = Config::load(with(&["--privkey=SECRETVALUE"]), &HashMap::new()).unwrap_err();
        assert!(matches!(err, ConfigError::Cli(_)), "{err}");
        assert!(!err.to_string().contains("SECRETVALUE"), "{err}");
    }

    #[test]
    fn at_most_one_key_source() {
        let env = env(&[(OPERATOR_KEY_ENV, KEY)]);
        let err = Config::load(with(&["--operator-key-file", "/k"]), &env).unwrap_err();
        assert!(
            matches!(err, ConfigError::ConflictingKeySources { .. }),
            "{err}"
        );
        assert!(!format!("{err} {err:?}").contains(KEY));
        let config = Config::load(base(), &env).unwrap();
        assert_eq!(config.operator_key.unwrap().expose(), KEY);
        let config = Config::load(with(&["--operator-key-file", "/k"]), &HashMap::new()).unwrap();
        assert_eq!(config.operator_key_file.as_deref(), Some(Path::new("/k")));
    }

    #[test]
    fn nitro_refuses_plaintext_keys() {
        let nitro = [
            "enclave-app",
            "--mode",
            "nitro",
            "--rpc-url",
            "https://h:1",
            "--contract",
            CONTRACT,
        ];
        let err = Config::load(nitro, &env(&[(OPERATOR_KEY_ENV, KEY)])).unwrap_err();
        assert!(
            matches!(&err, ConfigError::PlaintextKeyInNitro { origin } if origin == OPERATOR_KEY_ENV),
            "{err}"
        );
        assert!(!format!("{err} {err:?}").contains(KEY));
        let mut args = nitro.to_vec();
        args.extend(["--operator-key-file", "/k"]);
        let err = Config::load(args, &HashMap::new()).unwrap_err();
        assert!(
            matches!(err, ConfigError::PlaintextKeyInNitro { .. }),
            "{err}"
        );
        let err = Config::load_with_file(nitro, &HashMap::new(), "operator_key_file = \"/k\"")
            .unwrap_err();
        assert!(
            matches!(err, ConfigError::PlaintextKeyInNitro { .. }),
            "{err}"
        );
        // Without a plaintext key nitro mode is fine (the key is generated).
        assert_eq!(
            Config::load(nitro, &HashMap::new()).unwrap().mode,
            Mode::Nitro
        );
    }

    #[test]
    fn several_rpc_urls_come_with_a_quorum() {
        let two = with(&["--rpc-url", "http://127.0.0.1:2"]);
        let config = Config::load(two.clone(), &HashMap::new()).unwrap();
        assert_eq!(config.rpc_urls.len(), 2);
        assert_eq!(config.rpc_quorum, 2, "the default quorum is all of them");
        assert_eq!(
            config.clock_margin_secs, None,
            "no clock margin in sim mode"
        );
        let mut one_of_two = two.clone();
        one_of_two.extend(["--rpc-quorum", "1", "--clock-margin-secs", "3"]);
        let config = Config::load(one_of_two, &HashMap::new()).unwrap();
        assert_eq!((config.rpc_quorum, config.clock_margin_secs), (1, Some(3)));
        let line = config.redacted();
        assert!(
            line.contains(
                "rpc_url=http://127.0.0.1:8545,http://127.0.0.1:2 rpc_quorum=1 clock_margin_secs=3"
            ),
            "{line}"
        );
        // The environment takes a comma-separated list; the file a string or a list.
        let args = ["enclave-app", "--mode", "sim", "--contract", CONTRACT];
        let from_env = Config::load(
            args,
            &env(&[("ENCLAVE_RPC_URL", "http://127.0.0.1:1, http://127.0.0.1:2")]),
        )
        .unwrap();
        assert_eq!(from_env.rpc_urls.len(), 2);
        let from_file = Config::load_with_file(
            args,
            &HashMap::new(),
            "rpc_url = [\"http://127.0.0.1:1\", \"http://127.0.0.1:2\", \"http://127.0.0.1:3\"]",
        )
        .unwrap();
        assert_eq!((from_file.rpc_urls.len(), from_file.rpc_quorum), (3, 3));
        // A quorum larger than the URLs (or zero) is refused, naming the bound.
        for bad in ["0", "3"] {
            let mut args = two.clone();
            args.extend(["--rpc-quorum", bad]);
            let err = Config::load(args, &HashMap::new()).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("--rpc-quorum is {bad}, outside the allowed range 1..=2")
            );
        }
        let err =
            Config::load(with(&["--clock-margin-secs", "3601"]), &HashMap::new()).unwrap_err();
        assert!(matches!(err, ConfigError::OutOfRange { .. }), "{err}");
        // URL N goes to the egress port + N.
        let egress = Egress::parse("tcp://127.0.0.1:7101").unwrap();
        assert_eq!(
            egress.for_upstream(1).unwrap().to_string(),
            "tcp://127.0.0.1:7102"
        );
        let mut crowded = two;
        crowded.extend(["--egress", "tcp://127.0.0.1:65535"]);
        let err = Config::load(crowded, &HashMap::new()).unwrap_err();
        assert!(
            matches!(err, ConfigError::EgressPortsExhausted { .. }),
            "{err}"
        );
    }

    #[test]
    fn nitro_needs_tls_to_every_upstream_and_keeps_a_clock_margin() {
        let nitro = [
            "enclave-app",
            "--mode",
            "nitro",
            "--contract",
            CONTRACT,
            "--rpc-url",
            "https://a.example/",
        ];
        let config = Config::load(nitro, &HashMap::new()).unwrap();
        assert_eq!(
            config.clock_margin_secs,
            Some(DEFAULT_NITRO_CLOCK_MARGIN_SECS)
        );
        let mut plain = nitro.to_vec();
        plain.extend(["--rpc-url", "http://b.example/v2/SECRETAPIKEY"]);
        let err = Config::load(plain, &HashMap::new()).unwrap_err();
        assert!(
            matches!(&err, ConfigError::PlaintextRpcInNitro { origin, .. } if origin == "--rpc-url"),
            "{err}"
        );
        let text = err.to_string();
        assert!(
            text.contains("needs https://") && text.contains("http://b.example"),
            "{text}"
        );
        assert!(!format!("{err} {err:?}").contains("SECRET"), "{err:?}");
    }

    #[test]
    fn endpoints_default_by_mode_and_nitro_accepts_only_vsock() {
        let sim = Config::load(base(), &HashMap::new()).unwrap();
        assert_eq!(sim.egress.to_string(), "tcp://127.0.0.1:7101");
        assert_eq!(sim.control_listen.to_string(), "tcp://127.0.0.1:7100");
        let mut direct = base();
        direct.extend(["--egress", "direct"]);
        assert_eq!(
            Config::load(direct, &HashMap::new()).unwrap().egress,
            Egress::Direct
        );

        let nitro = [
            "enclave-app",
            "--mode",
            "nitro",
            "--rpc-url",
            "https://h/",
            "--contract",
            CONTRACT,
        ];
        let config = Config::load(nitro, &HashMap::new()).unwrap();
        assert_eq!(config.egress.to_string(), "vsock://3:7101");
        assert_eq!(config.control_listen.to_string(), "vsock://any:7100");

        for (extra, origin) in [
            (["--egress", "direct"], "--egress"),
            (["--egress", "tcp://127.0.0.1:7101"], "--egress"),
            (
                ["--control-listen", "tcp://0.0.0.0:7100"],
                "--control-listen",
            ),
        ] {
            let mut args = nitro.to_vec();
            args.extend(extra);
            let err = Config::load(args, &HashMap::new()).unwrap_err();
            assert!(
                matches!(&err, ConfigError::NitroNeedsVsock { origin: o, .. } if o == origin),
                "{err}"
            );
            assert!(err.to_string().contains("vsock"), "{err}");
        }
        let err =
            Config::load_with_file(nitro, &HashMap::new(), "egress = \"direct\"").unwrap_err();
        assert!(err.to_string().contains("egress in"), "{err}");

        let mut bad = base();
        bad.extend(["--egress", "udp://x:1"]);
        let err = Config::load(bad, &HashMap::new()).unwrap_err().to_string();
        assert!(err.contains("tcp:// or vsock://"), "{err}");
        let err = Config::load(base(), &env(&[("ENCLAVE_CONTROL_LISTEN", "tcp://h")]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("ENCLAVE_CONTROL_LISTEN") && err.contains(":PORT"),
            "{err}"
        );
    }

    #[test]
    fn unknown_file_keys_are_rejected_without_quoting_the_line() {
        let text = format!("mode = \"sim\"\noperator_key = \"{KEY}\"\n");
        let err = Config::load_with_file(base(), &HashMap::new(), &text).unwrap_err();
        let ConfigError::FileInvalid { line, message, .. } = &err else {
            panic!("{err}");
        };
        assert_eq!(*line, Some(2));
        assert!(
            message.contains("unknown field `operator_key`"),
            "{message}"
        );
        assert!(!format!("{err} {err:?}").contains(KEY), "{err}");
        for bad in [
            "poll_interval_ms = \"fast\"",
            "mode = \"cloud\"",
            "this is not toml",
            "[server]\nport = 1",
        ] {
            let err = Config::load_with_file(base(), &HashMap::new(), bad).unwrap_err();
            assert!(
                matches!(err, ConfigError::FileInvalid { .. }),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn unreadable_and_oversized_files_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.toml");
        let err = Config::load(
            ["enclave-app", "--config", missing.to_str().unwrap()],
            &HashMap::new(),
        )
        .unwrap_err();
        assert!(matches!(err, ConfigError::FileUnreadable { .. }), "{err}");
        let big = dir.path().join("big.toml");
        let size = usize::try_from(MAX_CONFIG_FILE_BYTES).unwrap() + 1;
        std::fs::write(&big, "#".repeat(size)).unwrap();
        let err = Config::load(
            ["enclave-app", "--config", big.to_str().unwrap()],
            &HashMap::new(),
        )
        .unwrap_err();
        assert!(matches!(err, ConfigError::FileTooLarge { .. }), "{err}");
    }

    #[test]
    fn redacted_output_hides_the_key_and_the_url_path() {
        let env = env(&[(OPERATOR_KEY_ENV, KEY), ("ENCLAVE_RPC_URL", SECRET_URL)]);
        let config = Config::load(
            ["enclave-app", "--mode", "sim", "--contract", CONTRACT],
            &env,
        )
        .unwrap();
        for text in [
            config.redacted(),
            config.to_string(),
            format!("{config:?}"),
            format!("{config:#?}"),
        ] {
            assert!(!text.contains(KEY), "{text}");
            assert!(!text.contains("SECRETAPIKEY"), "{text}");
            assert!(!text.contains("/v2"), "{text}");
        }
        let line = config.redacted();
        assert!(line.contains("operator_key=<redacted>"), "{line}");
        assert!(line.contains("rpc_url=https://eth.example.org/…"), "{line}");
        for key in [
            "mode=sim",
            "contract=",
            "operator_key_file=<none>",
            "poll_interval_ms=1000",
            "lookback_blocks=",
            "log_chunk_blocks=",
            "reconcile_interval_secs=",
            "history_limit=",
            "activity_limit=",
            "receipt_timeout_secs=",
            "replace_after_blocks=",
            "log_format=text",
            "log_filter=\"info\"",
            "config_file=<none>",
        ] {
            assert!(line.contains(key), "{key} missing: {line}");
        }
    }

    #[test]
    fn empty_variables_count_as_unset() {
        let env = env(&[("ENCLAVE_POLL_INTERVAL_MS", ""), (OPERATOR_KEY_ENV, "")]);
        let config = Config::load(base(), &env).unwrap();
        assert_eq!(config.poll_interval_ms, DEFAULT_POLL_INTERVAL_MS);
        assert!(config.operator_key.is_none());
    }
}
