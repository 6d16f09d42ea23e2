//! The TOML layer: the file named by `--config` / `ENCLAVE_CONFIG`, read with a size
//! cap and parsed into [`FileConfig`], whose values fill only the settings neither a
//! flag nor a variable gave (see `Sources` in the parent module).
//!
//! Errors carry the parser's message and the line and column only, never the parser's
//! rendering, which quotes the offending line (it might hold a secret).

use std::path::{Path, PathBuf};

use alloy::primitives::Address;
use net::Endpoint;
use serde::Deserialize;

use super::{ConfigError, Egress, Mode, defaults::MAX_CONFIG_FILE_BYTES};
use runner::logging::LogFormat;

/// The config file: every setting except the key itself, all optional. Unknown keys
/// are errors, so a typo cannot silently leave a default in place.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileConfig {
    pub(super) mode: Option<Mode>,
    pub(super) rpc_url: Option<OneOrMany>,
    pub(super) rpc_quorum: Option<u64>,
    pub(super) clock_margin_secs: Option<u64>,
    pub(super) contract: Option<Address>,
    pub(super) egress: Option<Egress>,
    pub(super) rpc_ca_file: Option<PathBuf>,
    pub(super) control_listen: Option<Endpoint>,
    pub(super) operator_address: Option<Address>,
    pub(super) sim_ca_file: Option<PathBuf>,
    pub(super) operator_key_file: Option<PathBuf>,
    pub(super) poll_interval_ms: Option<u64>,
    pub(super) lookback_blocks: Option<u64>,
    pub(super) log_chunk_blocks: Option<u64>,
    pub(super) reconcile_interval_secs: Option<u64>,
    pub(super) history_limit: Option<u64>,
    pub(super) activity_limit: Option<u64>,
    pub(super) receipt_timeout_secs: Option<u64>,
    pub(super) replace_after_blocks: Option<u64>,
    pub(super) log_format: Option<LogFormat>,
    pub(super) log_filter: Option<String>,
}

/// A file value that may be one string or a list of them (`rpc_url`).
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl OneOrMany {
    pub(super) fn into_vec(self) -> Vec<String> {
        match self {
            Self::One(one) => vec![one],
            Self::Many(many) => many,
        }
    }
}

/// Reads the config file, refusing anything over [`MAX_CONFIG_FILE_BYTES`].
pub(super) fn read(path: &Path) -> Result<String, ConfigError> {
    runner::files::read_text(path, MAX_CONFIG_FILE_BYTES).map_err(|source| match source {
        runner::files::FileError::TooLarge { .. } => ConfigError::FileTooLarge {
            path: path.to_owned(),
        },
        source => ConfigError::FileUnreadable {
            path: path.to_owned(),
            source,
        },
    })
}

/// Parses the config file; `path` only labels errors. Errors carry the parser's
/// message and position only: its rendering would quote the offending line, which
/// might hold a secret.
pub(super) fn parse(text: &str, path: Option<&Path>) -> Result<FileConfig, ConfigError> {
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

#[cfg(test)]
mod tests {
    use super::super::{
        Config,
        test_args::{KEY, base},
    };
    use super::*;

    #[test]
    fn unknown_file_keys_are_rejected_without_quoting_the_line() {
        let text = format!("mode = \"sim\"\noperator_key = \"{KEY}\"\n");
        let err = Config::load_with_file(base(), &text).unwrap_err();
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
            let err = Config::load_with_file(base(), bad).unwrap_err();
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
        let err = Config::load(["enclave-app", "--config", missing.to_str().unwrap()]).unwrap_err();
        assert!(matches!(err, ConfigError::FileUnreadable { .. }), "{err}");
        let big = dir.path().join("big.toml");
        let size = usize::try_from(MAX_CONFIG_FILE_BYTES).unwrap() + 1;
        std::fs::write(&big, "#".repeat(size)).unwrap();
        let err = Config::load(["enclave-app", "--config", big.to_str().unwrap()]).unwrap_err();
        assert!(matches!(err, ConfigError::FileTooLarge { .. }), "{err}");
    }
}
