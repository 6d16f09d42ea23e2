//! Reading secp256k1 private keys given as hex, for the `lottery` CLI and enclave-app's
//! simulated mode: one definition of what a key file or key string may hold.
//!
//! No error here ever contains key material: a malformed key is described by what is
//! wrong with its shape, never by echoing it, and key text read from a file is
//! zeroized when dropped.

use std::path::{Path, PathBuf};

use alloy::signers::local::PrivateKeySigner;
use zeroize::Zeroizing;

/// A key file larger than this is not a hex private key (64 hex digits, an optional
/// `0x` and a newline are under 70 bytes); the cap keeps a wrong path (a log, a
/// device) from being read into memory.
pub const MAX_KEY_FILE_BYTES: u64 = 4096;

/// Why a string is not a private key. The text of the key is never included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyParseError {
    /// Not 64 hex digits after trimming whitespace and an optional `0x`.
    #[error("expected a private key of 64 hex digits (32 bytes), optionally 0x-prefixed")]
    Malformed,
    /// 32 bytes, but zero or not below the secp256k1 group order.
    #[error("not a valid secp256k1 private key (zero or above the curve order)")]
    NotAScalar,
}

/// Why a key file could not be loaded. Paths are named; contents never are.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileError {
    /// The file could not be inspected or read.
    #[error("cannot read key file {}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A directory, a device, or a file larger than [`MAX_KEY_FILE_BYTES`].
    #[error("key file {} is not a small file holding one hex private key", path.display())]
    NotAKeyFile {
        /// The file.
        path: PathBuf,
    },
    /// The file was read, but what it holds is not a private key.
    #[error("invalid key in {}", path.display())]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with its content.
        #[source]
        source: KeyParseError,
    },
}

/// Parses 64 hex digits, optionally `0x`-prefixed and surrounded by whitespace.
///
/// # Errors
/// [`KeyParseError`], which never echoes the input.
pub fn parse_private_key(text: &str) -> Result<PrivateKeySigner, KeyParseError> {
    let trimmed = text.trim();
    let digits = trimmed.strip_prefix("0x").unwrap_or(trimmed);
    if digits.len() != 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(KeyParseError::Malformed);
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    alloy::hex::decode_to_slice(digits, bytes.as_mut_slice())
        .map_err(|_| KeyParseError::Malformed)?;
    PrivateKeySigner::from_slice(bytes.as_slice()).map_err(|_| KeyParseError::NotAScalar)
}

/// Reads a file holding one hex private key (surrounding whitespace ignored).
///
/// Warns through `tracing` when the file is readable by its group or by others: the
/// key still loads (this is for development), but it should be `chmod 600`.
///
/// # Errors
/// [`KeyFileError`], naming the path and never the content.
pub fn read_private_key_file(path: &Path) -> Result<PrivateKeySigner, KeyFileError> {
    let unreadable = |source| KeyFileError::Unreadable {
        path: path.to_owned(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(unreadable)?;
    if !meta.is_file() || meta.len() > MAX_KEY_FILE_BYTES {
        return Err(KeyFileError::NotAKeyFile {
            path: path.to_owned(),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "key file is readable by other users; chmod 600 it");
        }
    }
    let text = Zeroizing::new(std::fs::read_to_string(path).map_err(unreadable)?);
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
    fn parses_with_and_without_prefix() {
        let a = parse_private_key(KEY).unwrap();
        let b = parse_private_key(&format!("  0x{KEY}\n")).unwrap();
        assert_eq!(a.address(), b.address());
        assert_eq!(
            a.address().to_string(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
    }

    #[test]
    fn errors_never_echo_the_input() {
        for (bad, expected) in [
            (&KEY[..63], KeyParseError::Malformed),
            (&format!("{KEY}00"), KeyParseError::Malformed),
            (&"zz".repeat(32), KeyParseError::Malformed),
            (&"0".repeat(64), KeyParseError::NotAScalar),
            (&"f".repeat(64), KeyParseError::NotAScalar),
        ] {
            let err = parse_private_key(bad).unwrap_err();
            assert_eq!(err, expected, "{bad:?}");
            for text in [err.to_string(), format!("{err:?}")] {
                assert!(!text.contains(&bad[..16]), "error echoed the key: {text}");
            }
        }
    }

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
