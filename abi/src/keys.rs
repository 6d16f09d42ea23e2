//! secp256k1 private keys given as hex, for the `lottery` CLI and enclave-app's
//! simulated mode: one definition of what a key file or key string may hold (the
//! files themselves are read with `runner::files::read_secret_text`).
//!
//! No error here ever contains key material: a malformed key is described by what is
//! wrong with its shape, never by echoing it, and key text read from a file is
//! zeroized when dropped.

use alloy::signers::local::PrivateKeySigner;
use zeroize::Zeroizing;

/// A key file larger than this is not a hex private key (64 hex digits, an optional
/// `0x` and a newline are under 70 bytes); readers cap their reads here, so a wrong
/// path (a log, a device) is never read into memory.
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

#[cfg(test)]
mod tests {
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
}
