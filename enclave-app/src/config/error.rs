//! [`ConfigError`]: why the configuration was refused, one variant per problem. Each
//! message names where the bad value came from (`--flag`, `ENCLAVE_VAR`, or `key in
//! FILE`) and never contains key material or an RPC URL's path.

use std::path::{Path, PathBuf};

use super::{
    cli,
    defaults::{MAX_CONFIG_FILE_BYTES, MAX_RPC_URLS, OPERATOR_KEY_ENV},
};
use runner::logging::LoggingError;

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
        /// Why it could not be read.
        #[source]
        source: runner::files::FileError,
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
        cli::flag_name(key),
        cli::env_name(key)
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
    /// An `http://` or `ws://` RPC URL in nitro mode.
    #[error(
        "--mode nitro needs https:// or wss:// RPC URLs, but {origin} gives {url}: over plaintext the host could read and rewrite every answer (block times, the round, a draw's simulation)"
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

/// The file and, when known, the line and column of a problem in it.
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
