//! Process-wide logging: `tracing` events to stderr, as human-readable text or as one
//! JSON object per line, filtered by `RUST_LOG`-style directives.
//!
//! Shared by the two services (enclave-app, host-proxy) and the `lottery` CLI.
//! stdout is left alone (the services print nothing there), so
//! a supervisor can treat stderr as the log stream. No subsystem formats key material or full RPC URLs
//! into events; this module does not filter them out after the fact.

use std::io::IsTerminal;

use clap::ValueEnum;
use serde::Deserialize;
use tracing_subscriber::{EnvFilter, filter::ParseError};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event (colours only when stderr is a terminal).
    Text,
    /// One JSON object per line, event fields at the top level, for log pipelines.
    Json,
}

impl std::fmt::Display for LogFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Text => "text",
            Self::Json => "json",
        })
    }
}

/// Why logging could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// The filter does not parse as `RUST_LOG`-style directives.
    #[error("invalid log filter {filter:?}")]
    InvalidFilter {
        /// The filter as given (directives are not secret).
        filter: String,
        /// What the parser objected to.
        #[source]
        source: ParseError,
    },
    /// A global subscriber was already installed (logging initialised twice).
    #[error("a global tracing subscriber is already installed")]
    AlreadyInitialized,
}

/// Parses `RUST_LOG`-style directives (`info`, `enclave_app=debug,alloy=warn`).
///
/// Strict, unlike `EnvFilter::new`, which silently drops what it cannot parse: a typo
/// in a filter should fail at start, not hide the logs someone asked for.
///
/// # Errors
/// [`LoggingError::InvalidFilter`].
pub fn parse_filter(filter: &str) -> Result<EnvFilter, LoggingError> {
    EnvFilter::builder()
        .parse(filter)
        .map_err(|source| LoggingError::InvalidFilter {
            filter: filter.to_owned(),
            source,
        })
}

/// Installs the global subscriber: `format` lines on stderr, filtered by `filter`.
///
/// # Errors
/// [`LoggingError`] when the filter is invalid or a subscriber is already installed.
pub fn init(format: LogFormat, filter: &str) -> Result<(), LoggingError> {
    let filter = parse_filter(filter)?;
    let builder = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter);
    let installed = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    installed.map_err(|_| LoggingError::AlreadyInitialized)
}

/// The command-line tools' logging (`lottery`, `attest`): warnings and errors on
/// stderr, more with `RUST_LOG`. Their results go to stdout; this never does.
pub fn init_cli() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_env_filter(filter)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_strictly() {
        for ok in [
            "info",
            "warn,enclave_app=debug",
            "enclave_app::config=trace",
        ] {
            parse_filter(ok).unwrap();
        }
        for bad in ["info,enclave_app=loud", "=debug=x"] {
            let err = parse_filter(bad).unwrap_err();
            assert!(matches!(err, LoggingError::InvalidFilter { .. }), "{bad}");
        }
    }
}
