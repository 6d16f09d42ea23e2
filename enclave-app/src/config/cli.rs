//! The clap surface: every flag with its `ENCLAVE_*` variable, read by clap itself from
//! the process environment ([`Environment::Process`]) or not at all
//! ([`Environment::Ignored`], for [`super::Config::load`]). [`Parsed::given_by`] tells,
//! from clap's [`ValueSource`], whether a flag or a variable set a value, so errors can
//! name it and the file layer knows what it may fill.
//!
//! Two variables are not clap's: `ENCLAVE_OPERATOR_KEY` has no flag on purpose, and
//! `RUST_LOG` is a fallback for `ENCLAVE_LOG_FILTER`, which clap cannot express; the
//! parent module reads both. `--operator-key` is refused before clap sees the
//! arguments, since clap's error would echo the key. RPC URLs stay strings here (clap
//! would echo a rejected one) and are parsed, and printed only redacted, afterwards.

use std::{ffi::OsString, path::PathBuf};

use alloy::primitives::Address;
use clap::{
    Arg, ArgMatches, Command, CommandFactory, FromArgMatches, Parser,
    error::{ContextKind, ContextValue, ErrorKind},
    parser::ValueSource,
};
use net::Endpoint;

use super::{
    ConfigError, Egress, Mode,
    defaults::{
        DEFAULT_ACTIVITY_LIMIT, DEFAULT_HISTORY_LIMIT, DEFAULT_LOG_CHUNK_BLOCKS,
        DEFAULT_LOG_FILTER, DEFAULT_LOOKBACK_BLOCKS, DEFAULT_POLL_INTERVAL_MS,
        DEFAULT_RECEIPT_TIMEOUT_SECS, DEFAULT_RECONCILE_INTERVAL_SECS,
        DEFAULT_REPLACE_AFTER_BLOCKS, ENV_PREFIX,
    },
};
use runner::logging::LogFormat;

/// Whether clap reads the `ENCLAVE_*` variables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Environment {
    /// From this process's environment, as the binary runs.
    Process,
    /// Not at all: flags (and the file) only, so tests never depend on the
    /// environment they happen to run in.
    Ignored,
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
pub(super) struct Cli {
    /// TOML file with any of the settings below (keys as in enclave-app.example.toml).
    /// Flags and environment variables override it.
    #[arg(long, env = "ENCLAVE_CONFIG", value_name = "PATH")]
    pub(super) config: Option<PathBuf>,

    /// Check the configuration, print it (redacted, on one line) to stdout and exit 0;
    /// or print the error and exit 2. Nothing is started (like `nginx -t`).
    #[arg(long)]
    pub(super) check_config: bool,

    /// Where enclave-app runs, which decides where the operator key may come from.
    /// Required.
    #[arg(long, env = "ENCLAVE_MODE", value_enum)]
    pub(super) mode: Option<Mode>,

    /// Ethereum JSON-RPC endpoint: http://, https://, ws:// or wss:// (https:// or wss://
    /// only in nitro mode: TLS ends in the enclave). Required; repeat it (or give a
    /// comma-separated list) for several independent providers, which must agree before
    /// the operator signs. The first one is followed for events: over http(s):// by
    /// polling (one batched request per --poll-interval-ms, the default); over ws(s)://
    /// by push (`eth_subscribe` to new heads and the contract's logs: a bet reaches the
    /// store without a request, and an idle block costs none), falling back to polling
    /// while the upstream has no subscriptions or the socket is down, and filling the
    /// gap from the last processed block when it resubscribes. Only scheme, host and
    /// port are ever printed: paths and queries often carry API keys.
    #[arg(
        long,
        env = "ENCLAVE_RPC_URL",
        value_name = "URL",
        hide_env_values = true,
        value_delimiter = ',',
        action = clap::ArgAction::Append
    )]
    pub(super) rpc_url: Vec<String>,

    /// How many of the RPC endpoints must report the same facts (head block, round,
    /// operator) before the operator signs a transaction [1..=number of URLs].
    /// Default: all of them.
    #[arg(long, env = "ENCLAVE_RPC_QUORUM", value_name = "K")]
    pub(super) rpc_quorum: Option<u64>,

    /// Seconds enclave-app's own clock must be past a round's end of betting before
    /// its seed is revealed, whatever the chain's blocks say [0..=3600]. Default: 2 in
    /// nitro mode (the hypervisor's clock, which the host cannot set); off in sim mode,
    /// where tests move chain time ahead of the wall clock. It only ever delays a
    /// reveal.
    #[arg(long, env = "ENCLAVE_CLOCK_MARGIN_SECS", value_name = "SECS")]
    pub(super) clock_margin_secs: Option<u64>,

    /// Address of the Lottery contract to operate. Required.
    #[arg(long, env = "ENCLAVE_CONTRACT", value_name = "ADDRESS")]
    pub(super) contract: Option<Address>,

    /// Where RPC connections go: the host's egress forwarder as vsock://CID:PORT (nitro)
    /// or tcp://HOST:PORT (sim), or `direct` to the RPC URL's host (sim only). Default:
    /// tcp://127.0.0.1:7101 in sim mode, vsock://3:7101 in nitro mode. The Nth RPC URL
    /// (from 0) goes to PORT+N, so host-proxy's allowlist has one route per URL.
    #[arg(long, env = "ENCLAVE_EGRESS", value_name = "ENDPOINT|direct", value_parser = Egress::parse)]
    pub(super) egress: Option<Egress>,

    /// PEM file of CA certificates to trust for an https:// RPC URL besides the
    /// built-in web PKI roots (a private CA or a self-signed node).
    #[arg(long, env = "ENCLAVE_RPC_CA_FILE", value_name = "PATH")]
    pub(super) rpc_ca_file: Option<PathBuf>,

    /// Where the control channel listens for host-proxy. Default: tcp://127.0.0.1:7100
    /// in sim mode, vsock://any:7100 in nitro mode.
    #[arg(long, env = "ENCLAVE_CONTROL_LISTEN", value_name = "ENDPOINT", value_parser = Endpoint::parse)]
    pub(super) control_listen: Option<Endpoint>,

    /// Accept one sealed operator key injected later (POST /api/operator-key), and only
    /// a key for this address. Unset: injection is refused (the generated key is used).
    /// In nitro mode this is baked into the image, so PCR0 measures it.
    #[arg(long, env = "ENCLAVE_OPERATOR_ADDRESS", value_name = "ADDRESS")]
    pub(super) operator_address: Option<Address>,

    /// PEM file of the simulated attestation CA (sim mode only): loaded when it exists,
    /// else created there (mode 0600). Its first certificate is the root that
    /// verifiers must be given (`--root-cert`). Unset: a fresh CA in memory per start.
    #[arg(long, env = "ENCLAVE_SIM_CA_FILE", value_name = "PATH")]
    pub(super) sim_ca_file: Option<PathBuf>,

    /// File holding the operator's private key as 64 hex digits (sim mode only). With
    /// neither this nor ENCLAVE_OPERATOR_KEY, a fresh key is generated at start.
    #[arg(long, env = "ENCLAVE_OPERATOR_KEY_FILE", value_name = "PATH")]
    pub(super) operator_key_file: Option<PathBuf>,

    /// Milliseconds between polls for a new block [50..=60000]. Each poll is one HTTP
    /// request while idle; on chains with slow blocks set it near the block time. With a
    /// ws(s):// RPC URL it only paces the fallback polling while no subscription is up.
    #[arg(long, env = "ENCLAVE_POLL_INTERVAL_MS", value_name = "MS", default_value_t = DEFAULT_POLL_INTERVAL_MS)]
    pub(super) poll_interval_ms: u64,

    /// Blocks of contract logs read back from the head at start to rebuild the state
    /// [0..=1000000].
    #[arg(long, env = "ENCLAVE_LOOKBACK_BLOCKS", value_name = "BLOCKS", default_value_t = DEFAULT_LOOKBACK_BLOCKS)]
    pub(super) lookback_blocks: u64,

    /// Largest block range asked for in one eth_getLogs request [1..=100000].
    #[arg(long, env = "ENCLAVE_LOG_CHUNK_BLOCKS", value_name = "BLOCKS", default_value_t = DEFAULT_LOG_CHUNK_BLOCKS)]
    pub(super) log_chunk_blocks: u64,

    /// Seconds between full re-reads of the contract's views, which correct anything
    /// the logs missed [1..=3600].
    #[arg(long, env = "ENCLAVE_RECONCILE_INTERVAL_SECS", value_name = "SECS", default_value_t = DEFAULT_RECONCILE_INTERVAL_SECS)]
    pub(super) reconcile_interval_secs: u64,

    /// Finished rounds kept in memory for the history view [1..=1000].
    #[arg(long, env = "ENCLAVE_HISTORY_LIMIT", value_name = "ROUNDS", default_value_t = DEFAULT_HISTORY_LIMIT)]
    pub(super) history_limit: u64,

    /// Activity-feed entries kept in memory [1..=10000].
    #[arg(long, env = "ENCLAVE_ACTIVITY_LIMIT", value_name = "ENTRIES", default_value_t = DEFAULT_ACTIVITY_LIMIT)]
    pub(super) activity_limit: u64,

    /// Seconds to wait for an operator transaction's receipt before giving up on it
    /// [1..=3600].
    #[arg(long, env = "ENCLAVE_RECEIPT_TIMEOUT_SECS", value_name = "SECS", default_value_t = DEFAULT_RECEIPT_TIMEOUT_SECS)]
    pub(super) receipt_timeout_secs: u64,

    /// Blocks a pending operator transaction may stay unmined before it is replaced
    /// with a fee bump [1..=100].
    #[arg(long, env = "ENCLAVE_REPLACE_AFTER_BLOCKS", value_name = "BLOCKS", default_value_t = DEFAULT_REPLACE_AFTER_BLOCKS)]
    pub(super) replace_after_blocks: u64,

    /// Log line format on stderr.
    #[arg(long, env = "ENCLAVE_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub(super) log_format: LogFormat,

    /// Log filter, RUST_LOG syntax (e.g. `info,enclave_app=debug`); RUST_LOG is read
    /// when ENCLAVE_LOG_FILTER is unset.
    #[arg(long, env = "ENCLAVE_LOG_FILTER", value_name = "FILTER", default_value = DEFAULT_LOG_FILTER)]
    pub(super) log_filter: String,
}

/// Shown after the options in `--help`.
const AFTER_HELP: &str = "\
Settings are taken from, in order of precedence: flags, ENCLAVE_* environment
variables (RUST_LOG when ENCLAVE_LOG_FILTER is unset; an empty variable counts as
unset), the TOML file given by --config, and the defaults shown above.

Environment only:
  ENCLAVE_OPERATOR_KEY  The operator's private key as 64 hex digits (sim mode only;
                        never a flag, so it cannot show in the process list). At most
                        one of it and --operator-key-file.

To check a configuration without starting: add --check-config (exit 0 and the
settings on stdout, or exit 2 and the error on stderr).";

/// The command line (and environment) as clap parsed it.
pub(super) struct Parsed {
    /// The typed values.
    pub(super) cli: Cli,
    /// Clap's matches, which know each value's source.
    matches: ArgMatches,
}

impl Parsed {
    /// Who gave setting `id`: `--flag` or the variable's name. `None` when it is at
    /// its default or absent, which is when the file may fill it.
    pub(super) fn given_by(&self, id: &str) -> Option<String> {
        match self.matches.value_source(id)? {
            ValueSource::CommandLine => Some(format!("--{}", flag_name(id))),
            ValueSource::EnvVariable => Some(env_name(id)),
            _ => None,
        }
    }
}

/// Parses `args` (program name first), with clap reading the variables or not as
/// `environment` says.
pub(super) fn parse(args: &[OsString], environment: Environment) -> Result<Parsed, ConfigError> {
    reject_key_flag(args)?;
    let documented = Cli::command();
    let command = match environment {
        Environment::Process => documented.clone().mut_args(unset_if_empty),
        Environment::Ignored => without_env(documented.clone()),
    };
    let matches = match command.clone().try_get_matches_from(args) {
        Ok(matches) => matches,
        Err(e) if matches!(e.kind(), ErrorKind::DisplayHelp | ErrorKind::DisplayVersion) => {
            // Render help from the declared command, which lists every variable.
            return Err(documented
                .try_get_matches_from(args)
                .err()
                .unwrap_or(e)
                .into());
        }
        Err(e) => return Err(blame(e, &command, args)),
    };
    let cli = Cli::from_arg_matches(&matches)?;
    Ok(Parsed { cli, matches })
}

/// `command` with no option reading a variable.
fn without_env(command: Command) -> Command {
    command.mut_args(|arg| arg.env(None::<&'static str>))
}

/// An empty variable counts as unset (`ENCLAVE_X=` in an env file usually means "no
/// value"); clap would hand `""` to the value parser instead.
fn unset_if_empty(arg: Arg) -> Arg {
    let empty = arg
        .get_env()
        .and_then(std::env::var_os)
        .is_some_and(|value| value.is_empty());
    if empty {
        arg.env(None::<&'static str>)
    } else {
        arg
    }
}

/// Names the variable when clap refused a value that came from one: clap's own
/// message names only the flag, which the command line did not give.
fn blame(e: clap::Error, command: &Command, args: &[OsString]) -> ConfigError {
    if !matches!(
        e.kind(),
        ErrorKind::InvalidValue | ErrorKind::ValueValidation
    ) {
        return e.into();
    }
    let Some(ContextValue::String(invalid)) = e.get(ContextKind::InvalidArg) else {
        return e.into();
    };
    // An argument's `Display` (its spelling in errors) needs the built command.
    let mut built = command.clone();
    built.build();
    let Some(var) = built
        .get_arguments()
        .find(|arg| arg.to_string() == *invalid)
        .and_then(Arg::get_env)
        .map(|var| var.to_string_lossy().into_owned())
    else {
        return e.into();
    };
    // When the flags alone parse, the refused value is the variable's.
    if without_env(command.clone())
        .try_get_matches_from(args)
        .is_err()
    {
        return e.into();
    }
    ConfigError::InvalidEnv {
        var,
        reason: clap_reason(&e),
    }
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

/// `--flag` spelling of a setting key, without the dashes.
pub(super) fn flag_name(key: &str) -> String {
    key.replace('_', "-")
}

/// `ENCLAVE_*` variable of a setting key.
pub(super) fn env_name(key: &str) -> String {
    format!("{ENV_PREFIX}{}", key.to_ascii_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn variables_follow_the_naming_convention_and_load_ignores_them() {
        // Every variable is ENCLAVE_<KEY> and every flag --<key>, which error messages
        // (and `Parsed::given_by`) rely on; every setting has a variable.
        for arg in Cli::command().get_arguments() {
            let id = arg.get_id().as_str();
            if matches!(id, "check_config" | "help" | "version") {
                assert!(arg.get_env().is_none(), "{id}");
                continue;
            }
            let var = arg
                .get_env()
                .unwrap_or_else(|| panic!("{id} has no variable"));
            assert_eq!(var.to_str().unwrap(), env_name(id));
            assert_eq!(arg.get_long().unwrap(), flag_name(id));
        }
        // Flags-only parsing keeps no variable, whatever this process's environment.
        let command = without_env(Cli::command());
        assert!(command.get_arguments().all(|arg| arg.get_env().is_none()));
    }

    #[test]
    fn the_key_flag_is_refused_before_clap_sees_it() {
        for arg in ["--operator-key", "--operator-key=0xabc"] {
            let args = ["enclave-app", arg].map(OsString::from);
            let err = parse(&args, Environment::Ignored).err().unwrap();
            assert!(matches!(err, ConfigError::KeyOnCommandLine), "{err}");
        }
        // A value that merely starts like it is some other flag's business.
        let args = ["enclave-app", "--operator-key-file", "/k"].map(OsString::from);
        assert!(parse(&args, Environment::Ignored).is_ok());
    }
}
