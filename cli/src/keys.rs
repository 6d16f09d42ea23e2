//! The signing key a tool was pointed at: `--key-file PATH` read with the shared
//! bounded secret reader, parsed by `abi::keys`. Errors name the path, never the
//! content.

use std::path::Path;

use abi::keys::{KeyParseError, MAX_KEY_FILE_BYTES, parse_private_key};
use alloy::signers::local::PrivateKeySigner;
use runner::files::{FileError, read_secret_text};

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be read.
    #[error("cannot read key file {}", .0.path().display())]
    Unreadable(#[source] FileError),
    /// A directory, a device, a file larger than [`MAX_KEY_FILE_BYTES`], or not text
    /// (the message says all of it; no cause is chained).
    #[error("key file {} is not a small file holding one hex private key", path.display())]
    NotAKeyFile {
        /// The file.
        path: std::path::PathBuf,
    },
    /// The file was read, but what it holds is not a private key.
    #[error("invalid key in {}", path.display())]
    Invalid {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with its content.
        #[source]
        source: KeyParseError,
    },
}

/// Reads the key in `path` (64 hex digits, optionally `0x`-prefixed; warns when the
/// file is readable by others).
///
/// # Errors
/// [`KeyFileError`].
pub fn read_private_key_file(path: &Path) -> Result<PrivateKeySigner, KeyFileError> {
    let text = read_secret_text(path, MAX_KEY_FILE_BYTES).map_err(|e| match e {
        FileError::Unreadable { .. } => KeyFileError::Unreadable(e),
        _ => KeyFileError::NotAKeyFile {
            path: e.path().to_owned(),
        },
    })?;
    parse_private_key(&text).map_err(|source| KeyFileError::Invalid {
        path: path.to_owned(),
        source,
    })
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    #[test]
    fn key_files_are_read_and_errors_name_only_the_path() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "0x{KEY}").unwrap();
        let signer = read_private_key_file(file.path()).unwrap();
        assert_eq!(
            signer.address().to_string(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );

        let mut bad = tempfile::NamedTempFile::new().unwrap();
        writeln!(bad, "{}", &KEY[..60]).unwrap();
        let err = read_private_key_file(bad.path()).unwrap_err();
        assert!(matches!(err, KeyFileError::Invalid { .. }), "{err:?}");
        assert!(!format!("{err} {err:?}").contains(&KEY[..16]));

        let dir = tempfile::tempdir().unwrap();
        let err = read_private_key_file(dir.path()).unwrap_err();
        assert!(matches!(err, KeyFileError::NotAKeyFile { .. }), "{err:?}");
        let err = read_private_key_file(&dir.path().join("missing")).unwrap_err();
        assert!(matches!(err, KeyFileError::Unreadable { .. }), "{err:?}");
    }
}
