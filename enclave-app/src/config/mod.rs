//! Configuration: command-line flags, `ENCLAVE_*` environment variables and an optional
//! TOML file, merged with precedence flags > environment > file > defaults, then
//! checked and turned into typed values before anything starts.
//!
//! Clap parses the flags and reads the variables itself (`cli`, `#[arg(env = …)]`),
//! and its `ValueSource` says which of the two gave each value; the file (`file`)
//! then fills only what is still at its default or absent. [`Config::from_process`]
//! is the only reader of the real environment; [`Config::load`] parses flags (and a
//! file) alone, for tests.
//!
//! Secrets: the plaintext operator key is read from `ENCLAVE_OPERATOR_KEY` only (a
//! flag would show in the process list), held in a [`Secret`] that redacts itself and
//! is zeroized on drop, and refused in `nitro` mode. RPC URLs often carry API keys in
//! their path, so the URL is parsed after clap (no clap error echoes it) and only its
//! redacted form ([`RpcUrl`]'s `Display`) is ever printed.
//!
//! The parts, re-exported here: `defaults` (every default and bound), `cli` (the flags
//! and variables), `file` (the TOML layer), `error` ([`ConfigError`]), `secret`
//! ([`Secret`]), `egress` ([`Egress`]); this module merges them into [`Config`].

mod cli;
mod defaults;
mod egress;
mod error;
mod file;
mod secret;

use std::{
    env::VarError,
    ffi::OsString,
    fmt,
    ops::RangeInclusive,
    path::{Path, PathBuf},
    time::Duration,
};

use alloy::primitives::Address;
use clap::ValueEnum;
use net::{Endpoint, RpcUrl};
use serde::Deserialize;

use self::{
    cli::Environment,
    file::{FileConfig, OneOrMany},
};
pub use self::{
    defaults::{
        ACTIVITY_LIMIT_RANGE, CLOCK_MARGIN_SECS_RANGE, DEFAULT_ACTIVITY_LIMIT,
        DEFAULT_HISTORY_LIMIT, DEFAULT_LOG_CHUNK_BLOCKS, DEFAULT_LOG_FILTER,
        DEFAULT_LOOKBACK_BLOCKS, DEFAULT_NITRO_CLOCK_MARGIN_SECS, DEFAULT_POLL_INTERVAL_MS,
        DEFAULT_RECEIPT_TIMEOUT_SECS, DEFAULT_RECONCILE_INTERVAL_SECS,
        DEFAULT_REPLACE_AFTER_BLOCKS, ENV_PREFIX, HISTORY_LIMIT_RANGE, LOG_CHUNK_BLOCKS_RANGE,
        LOOKBACK_BLOCKS_RANGE, MAX_CONFIG_FILE_BYTES, MAX_RPC_URLS, OPERATOR_KEY_ENV,
        POLL_INTERVAL_MS_RANGE, RECEIPT_TIMEOUT_SECS_RANGE, RECONCILE_INTERVAL_SECS_RANGE,
        REPLACE_AFTER_BLOCKS_RANGE, RUST_LOG_ENV, default_control_listen,
    },
    egress::Egress,
    error::ConfigError,
    secret::Secret,
};
use runner::logging::{self, LogFormat};

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
    /// `--check-config` was given: print the configuration and exit instead of
    /// running. Not a setting (no variable, no file key, not in `Display`).
    pub check_config: bool,
}

impl Config {
    /// The configuration of this process: its arguments, the `ENCLAVE_*` variables
    /// (read by clap), `ENCLAVE_OPERATOR_KEY` and `RUST_LOG`, and the file named by
    /// `--config` / `ENCLAVE_CONFIG`.
    ///
    /// # Errors
    /// [`ConfigError`]; for [`ConfigError::Cli`] call [`clap::Error::exit`], which also
    /// handles `--help` and `--version`.
    pub fn from_process() -> Result<Self, ConfigError> {
        let env = EnvOnly::from_process()?;
        let args: Vec<OsString> = std::env::args_os().collect();
        let parsed = cli::parse(&args, Environment::Process)?;
        let file = Self::read_file(&parsed)?;
        Layers { parsed }.resolve(file, env)
    }

    /// Parses `args` (program name first) as flags only: no environment variable is
    /// read, so tests do not depend on the one they run in. The TOML file named by
    /// `--config` is read.
    ///
    /// # Errors
    /// [`ConfigError`], one variant per problem.
    pub fn load<I, T>(args: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let parsed = cli::parse(&args, Environment::Ignored)?;
        let file = Self::read_file(&parsed)?;
        Layers { parsed }.resolve(file, EnvOnly::default())
    }

    /// Like [`Config::load`], with `file_text` as the config file's content instead of
    /// reading the file `--config` names (a `--config` path then only labels errors).
    ///
    /// # Errors
    /// [`ConfigError`], one variant per problem.
    pub fn load_with_file<I, T>(args: I, file_text: &str) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<OsString>,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        let parsed = cli::parse(&args, Environment::Ignored)?;
        let file = file::parse(file_text, parsed.cli.config.as_deref())?;
        Layers { parsed }.resolve(file, EnvOnly::default())
    }

    /// The file `--config` / `ENCLAVE_CONFIG` names, parsed; empty without one.
    fn read_file(parsed: &cli::Parsed) -> Result<FileConfig, ConfigError> {
        match &parsed.cli.config {
            Some(path) => file::parse(&file::read(path)?, Some(path)),
            None => Ok(FileConfig::default()),
        }
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

/// The variables clap does not read: the key has no flag on purpose, and `RUST_LOG` is
/// a fallback clap cannot express. Empty counts as unset, as for clap's variables.
#[derive(Default)]
struct EnvOnly {
    /// `ENCLAVE_OPERATOR_KEY`.
    operator_key: Option<Secret>,
    /// `RUST_LOG`: the log filter when neither `--log-filter` nor
    /// `ENCLAVE_LOG_FILTER` gives one.
    rust_log: Option<String>,
}

impl EnvOnly {
    /// Reads both, after refusing any `ENCLAVE_*` (or `RUST_LOG`) value that is not
    /// UTF-8: clap would take a non-UTF-8 path as it is, or name only the flag.
    fn from_process() -> Result<Self, ConfigError> {
        for (name, value) in std::env::vars_os() {
            let Some(name) = name.to_str() else { continue };
            if (name.starts_with(ENV_PREFIX) || name == RUST_LOG_ENV) && value.to_str().is_none() {
                return Err(ConfigError::EnvNotUnicode {
                    var: name.to_owned(),
                });
            }
        }
        let read = |var: &str| match std::env::var(var) {
            Ok(value) if value.is_empty() => Ok(None),
            Ok(value) => Ok(Some(value)),
            Err(VarError::NotPresent) => Ok(None),
            Err(VarError::NotUnicode(_)) => Err(ConfigError::EnvNotUnicode {
                var: var.to_owned(),
            }),
        };
        Ok(Self {
            // Moved, not copied: the only copy outside the environment is zeroized.
            operator_key: read(OPERATOR_KEY_ENV)?.map(Secret::new),
            rust_log: read(RUST_LOG_ENV)?,
        })
    }
}

/// The flags and variables (clap's matches) with the file beneath them.
struct Layers {
    parsed: cli::Parsed,
}

impl Layers {
    /// The origin of a value the file supplied.
    fn file_origin(&self, id: &str) -> String {
        match &self.parsed.cli.config {
            Some(path) => format!("{id} in {}", path.display()),
            None => format!("{id} in the config file"),
        }
    }

    /// A setting with a default: the file fills it when neither a flag nor a variable
    /// gave it (clap's value is then its default).
    fn defaulted<T>(&self, id: &str, given: T, file: Option<T>) -> (T, String) {
        if let Some(origin) = self.parsed.given_by(id) {
            return (given, origin);
        }
        match file {
            Some(value) => (value, self.file_origin(id)),
            None => (given, format!("the default {id}")),
        }
    }

    /// An optional setting: the file fills it when neither a flag nor a variable gave it.
    fn optional<T>(&self, id: &str, given: Option<T>, file: Option<T>) -> Option<(T, String)> {
        match (given, self.parsed.given_by(id)) {
            (Some(value), Some(origin)) => Some((value, origin)),
            _ => file.map(|value| (value, self.file_origin(id))),
        }
    }

    /// Merges the file, checks every value and builds the [`Config`].
    fn resolve(self, file: FileConfig, env: EnvOnly) -> Result<Config, ConfigError> {
        let cli = &self.parsed.cli;
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
        let key = env.operator_key;
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
                RpcUrl::parse_with_websocket(url.trim()).map_err(|source| ConfigError::RpcUrl {
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
            if let Some(url) = rpc_urls.iter().find(|url| !url.is_tls()) {
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
        // RUST_LOG stands in for ENCLAVE_LOG_FILTER: below a flag or that variable,
        // above the file.
        let (log_filter, filter_origin) = match (self.parsed.given_by("log_filter"), env.rust_log) {
            (None, Some(rust_log)) => (rust_log, RUST_LOG_ENV.to_owned()),
            _ => self.defaulted("log_filter", cli.log_filter.clone(), file.log_filter),
        };
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
            config_file: cli.config.clone(),
            check_config: cli.check_config,
        })
    }
}

/// Arguments shared by the unit tests of this module and its parts.
#[cfg(test)]
mod test_args {
    /// Anvil's first development key.
    pub(super) const KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    pub(super) const CONTRACT: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
    /// An RPC URL whose path carries an API key.
    pub(super) const SECRET_URL: &str = "https://eth.example.org/v2/SECRETAPIKEY";

    /// The required settings, as flags.
    pub(super) fn base() -> Vec<&'static str> {
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

    /// [`base`] and `extra`.
    pub(super) fn with(extra: &[&'static str]) -> Vec<&'static str> {
        let mut args = base();
        args.extend_from_slice(extra);
        args
    }
}

#[cfg(test)]
mod tests {
    //! What depends on the real environment (precedence over the file, the variable
    //! named in an error, `RUST_LOG`, the key from `ENCLAVE_OPERATOR_KEY`) is tested
    //! against the binary, in `tests/it/config_env.rs`.

    use std::io::Write;

    use super::{
        cli::{env_name, flag_name},
        test_args::{CONTRACT, KEY, SECRET_URL, base, with},
        *,
    };

    #[test]
    fn defaults_apply_when_nothing_else_is_given() {
        let config = Config::load(base()).unwrap();
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
    fn flag_beats_file_beats_default() {
        // With the environment between them:
        // config_env::flag_beats_env_beats_file_beats_default.
        let file = "poll_interval_ms = 300\nlog_chunk_blocks = 3\n";
        let args = with(&["--poll-interval-ms", "100"]);
        let config = Config::load_with_file(args, file).unwrap();
        assert_eq!(config.poll_interval_ms, 100, "flag beats file");
        assert_eq!(config.log_chunk_blocks, 3, "file beats default");
        assert_eq!(config.history_limit, 50, "default");
    }

    #[test]
    fn a_flag_equal_to_the_default_still_beats_the_file() {
        let config =
            Config::load_with_file(with(&["--poll-interval-ms=1000"]), "poll_interval_ms = 300")
                .unwrap();
        assert_eq!(config.poll_interval_ms, 1000);
    }

    #[test]
    fn config_file_is_read_from_the_flag() {
        // From ENCLAVE_CONFIG: config_env::config_file_is_read_from_env.
        let mut file = tempfile::NamedTempFile::new().unwrap();
        write!(
            file,
            "mode = \"sim\"\nrpc_url = \"http://127.0.0.1:8545\"\ncontract = \"{CONTRACT}\"\n\
             history_limit = 7\nlog_format = \"json\"\n"
        )
        .unwrap();
        let path = file.path().to_str().unwrap();
        let config = Config::load(["enclave-app", "--config", path]).unwrap();
        assert_eq!(config.history_limit, 7);
        assert_eq!(config.log_format, LogFormat::Json);
        assert_eq!(config.config_file.as_deref(), Some(file.path()));
    }

    #[test]
    fn the_example_file_loads_and_documents_every_key() {
        let text = include_str!("../../enclave-app.example.toml");
        // As shipped: the required keys are set, the rest commented out at their defaults.
        let config = Config::load_with_file(["enclave-app"], text).unwrap();
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
        let file = file::parse(&uncommented, None).unwrap();
        let debug = format!("{file:?}");
        assert!(
            !debug.contains("None"),
            "a key is missing from the example: {debug}"
        );
        let all = Config::load_with_file(["enclave-app"], &uncommented).unwrap();
        let defaults = Config::load(base()).unwrap();
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
            let err = Config::load(args).unwrap_err();
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
            let err = Config::load(with(&[flag, bad])).unwrap_err();
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
        // From a variable: config_env::out_of_range_and_malformed_variables_are_named.
        let err = Config::load(with(&["--history-limit", "0"])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "--history-limit is 0, outside the allowed range 1..=1000"
        );
        let err = Config::load_with_file(base(), "activity_limit = 0").unwrap_err();
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
            let err = Config::load(args).unwrap_err();
            assert!(matches!(err, ConfigError::Cli(_)), "{extra:?}: {err}");
        }
        // The same value as a flag: clap's error, which names the flag. From a variable
        // it names the variable: config_env::out_of_range_and_malformed_variables_are_named.
        let err = Config::load(with(&["--lookback-blocks", "many"])).unwrap_err();
        assert!(matches!(err, ConfigError::Cli(_)), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("--lookback-blocks") && text.contains("invalid digit"),
            "{text}"
        );
        // The URL, the log filter.
        let err = Config::load([
            "enclave-app",
            "--mode",
            "sim",
            "--contract",
            CONTRACT,
            "--rpc-url",
            "ftp://h/SECRETAPIKEY",
        ])
        .unwrap_err();
        assert!(matches!(err, ConfigError::RpcUrl { .. }), "{err}");
        let chain = runner::error_chain(&err);
        assert!(
            chain.contains("scheme") && !chain.contains("SECRET"),
            "{chain}"
        );
        let err = Config::load(with(&["--log-filter", "info,x=loud"])).unwrap_err();
        assert!(matches!(err, ConfigError::LogFilter { .. }), "{err}");
    }

    #[test]
    fn the_key_is_never_a_flag() {
        for args in [
            with(&["--operator-key", KEY]),
            with(&["--operator-key=0xabc"]),
        ] {
            let err = Config::load(args).unwrap_err();
            assert!(matches!(err, ConfigError::KeyOnCommandLine), "{err}");
            assert!(!err.to_string().contains("abc"));
        }
        // Clap names an unknown `--flag=value` without its value (which may be a
        // secret given to the wrong flag).
        let err = Config::load(with(&["--privkey=SECRETVALUE"])).unwrap_err();
        assert!(matches!(err, ConfigError::Cli(_)), "{err}");
        assert!(!err.to_string().contains("SECRETVALUE"), "{err}");
    }

    #[test]
    fn a_key_file_from_the_flag_or_the_file() {
        // With ENCLAVE_OPERATOR_KEY too: config_env::at_most_one_key_source.
        let config = Config::load(with(&["--operator-key-file", "/k"])).unwrap();
        assert_eq!(config.operator_key_file.as_deref(), Some(Path::new("/k")));
        assert!(
            config.operator_key.is_none(),
            "Config::load reads no variable"
        );
        let config = Config::load_with_file(base(), "operator_key_file = \"/k\"").unwrap();
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
        // From ENCLAVE_OPERATOR_KEY (the binary):
        // it::nitro_mode_refuses_a_plaintext_key_without_echoing_it.
        let mut args = nitro.to_vec();
        args.extend(["--operator-key-file", "/k"]);
        let err = Config::load(args).unwrap_err();
        assert!(
            matches!(&err, ConfigError::PlaintextKeyInNitro { origin } if origin == "--operator-key-file"),
            "{err}"
        );
        let err = Config::load_with_file(nitro, "operator_key_file = \"/k\"").unwrap_err();
        assert!(
            matches!(&err, ConfigError::PlaintextKeyInNitro { origin } if origin == "operator_key_file in the config file"),
            "{err}"
        );
        // Without a plaintext key nitro mode is fine (the key is generated).
        assert_eq!(Config::load(nitro).unwrap().mode, Mode::Nitro);
    }

    #[test]
    fn several_rpc_urls_come_with_a_quorum() {
        let two = with(&["--rpc-url", "http://127.0.0.1:2"]);
        let config = Config::load(two.clone()).unwrap();
        assert_eq!(config.rpc_urls.len(), 2);
        assert_eq!(config.rpc_quorum, 2, "the default quorum is all of them");
        assert_eq!(
            config.clock_margin_secs, None,
            "no clock margin in sim mode"
        );
        let mut one_of_two = two.clone();
        one_of_two.extend(["--rpc-quorum", "1", "--clock-margin-secs", "3"]);
        let config = Config::load(one_of_two).unwrap();
        assert_eq!((config.rpc_quorum, config.clock_margin_secs), (1, Some(3)));
        let line = config.redacted();
        assert!(
            line.contains(
                "rpc_url=http://127.0.0.1:8545,http://127.0.0.1:2 rpc_quorum=1 clock_margin_secs=3"
            ),
            "{line}"
        );
        // A comma-separated list (the form ENCLAVE_RPC_URL takes, see
        // config_env::rpc_urls_from_env_are_a_comma_separated_list); the file takes a
        // string or a list.
        let args = ["enclave-app", "--mode", "sim", "--contract", CONTRACT];
        let mut listed = args.to_vec();
        listed.extend(["--rpc-url", "http://127.0.0.1:1, http://127.0.0.1:2"]);
        let from_list = Config::load(listed).unwrap();
        assert_eq!(from_list.rpc_urls.len(), 2);
        let from_file = Config::load_with_file(
            args,
            "rpc_url = [\"http://127.0.0.1:1\", \"http://127.0.0.1:2\", \"http://127.0.0.1:3\"]",
        )
        .unwrap();
        assert_eq!((from_file.rpc_urls.len(), from_file.rpc_quorum), (3, 3));
        // A quorum larger than the URLs (or zero) is refused, naming the bound.
        for bad in ["0", "3"] {
            let mut args = two.clone();
            args.extend(["--rpc-quorum", bad]);
            let err = Config::load(args).unwrap_err();
            assert_eq!(
                err.to_string(),
                format!("--rpc-quorum is {bad}, outside the allowed range 1..=2")
            );
        }
        let err = Config::load(with(&["--clock-margin-secs", "3601"])).unwrap_err();
        assert!(matches!(err, ConfigError::OutOfRange { .. }), "{err}");
        // URL N goes to the egress port + N.
        let egress = Egress::parse("tcp://127.0.0.1:7101").unwrap();
        assert_eq!(
            egress.for_upstream(1).unwrap().to_string(),
            "tcp://127.0.0.1:7102"
        );
        let mut crowded = two;
        crowded.extend(["--egress", "tcp://127.0.0.1:65535"]);
        let err = Config::load(crowded).unwrap_err();
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
        let config = Config::load(nitro).unwrap();
        assert_eq!(
            config.clock_margin_secs,
            Some(DEFAULT_NITRO_CLOCK_MARGIN_SECS)
        );
        let mut plain = nitro.to_vec();
        plain.extend(["--rpc-url", "http://b.example/v2/SECRETAPIKEY"]);
        let err = Config::load(plain).unwrap_err();
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
        // WebSocket upstreams: wss:// (TLS inside the enclave) is fine, ws:// is not.
        let mut wss = nitro.to_vec();
        wss.extend(["--rpc-url", "wss://b.example/ws/KEY"]);
        let config = Config::load(wss).unwrap();
        assert!(config.rpc_urls[1].is_websocket() && config.rpc_urls[1].is_tls());
        let mut ws = nitro.to_vec();
        ws.extend(["--rpc-url", "ws://b.example/ws/SECRETAPIKEY"]);
        let err = Config::load(ws).unwrap_err();
        assert!(
            matches!(&err, ConfigError::PlaintextRpcInNitro { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("ws://b.example/…"), "{err}");
        // Sim mode takes both.
        for url in ["ws://127.0.0.1:8545", "wss://h.example/"] {
            let config = Config::load(with(&["--rpc-url", url])).unwrap();
            assert!(config.rpc_urls[1].is_websocket(), "{url}");
        }
    }

    #[test]
    fn endpoints_default_by_mode_and_nitro_accepts_only_vsock() {
        let sim = Config::load(base()).unwrap();
        assert_eq!(sim.egress.to_string(), "tcp://127.0.0.1:7101");
        assert_eq!(sim.control_listen.to_string(), "tcp://127.0.0.1:7100");
        let mut direct = base();
        direct.extend(["--egress", "direct"]);
        assert_eq!(Config::load(direct).unwrap().egress, Egress::Direct);

        let nitro = [
            "enclave-app",
            "--mode",
            "nitro",
            "--rpc-url",
            "https://h/",
            "--contract",
            CONTRACT,
        ];
        let config = Config::load(nitro).unwrap();
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
            let err = Config::load(args).unwrap_err();
            assert!(
                matches!(&err, ConfigError::NitroNeedsVsock { origin: o, .. } if o == origin),
                "{err}"
            );
            assert!(err.to_string().contains("vsock"), "{err}");
        }
        let err = Config::load_with_file(nitro, "egress = \"direct\"").unwrap_err();
        assert!(err.to_string().contains("egress in"), "{err}");

        let mut bad = base();
        bad.extend(["--egress", "udp://x:1"]);
        let err = Config::load(bad).unwrap_err().to_string();
        assert!(err.contains("tcp:// or vsock://"), "{err}");
        // From ENCLAVE_CONTROL_LISTEN, named:
        // config_env::out_of_range_and_malformed_variables_are_named.
        let err = Config::load(with(&["--control-listen", "tcp://h"]))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("--control-listen") && err.contains(":PORT"),
            "{err}"
        );
    }

    #[test]
    fn redacted_output_hides_the_key_and_the_url_path() {
        // The key can only come from ENCLAVE_OPERATOR_KEY, which `load` does not read;
        // the binary's --check-config with both from the environment:
        // config_env::check_config_prints_the_redacted_configuration.
        let mut config = Config::load([
            "enclave-app",
            "--mode",
            "sim",
            "--contract",
            CONTRACT,
            "--rpc-url",
            SECRET_URL,
        ])
        .unwrap();
        config.operator_key = Some(Secret::new(KEY.to_owned()));
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
}
