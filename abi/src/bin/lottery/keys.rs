//! Loading the signing key. No key material ever reaches an error message or a log.

use std::path::Path;

use alloy::signers::local::PrivateKeySigner;
use eyre::{Result, WrapErr, bail, eyre};
use zeroize::Zeroizing;

use crate::cli::KeySource;

/// A key file larger than this is not a hex private key.
const MAX_KEY_FILE_BYTES: u64 = 4096;

/// The signer from `--private-key`, `--key-file` or their environment variables.
pub(crate) fn load(source: &KeySource) -> Result<PrivateKeySigner> {
    match (&source.private_key, &source.key_file) {
        (Some(hex), _) => parse(hex).wrap_err("invalid --private-key / LOTTERY_PRIVATE_KEY"),
        (None, Some(path)) => from_file(path),
        (None, None) => bail!(
            "this command signs a transaction: pass --key-file PATH, --private-key HEX, or set LOTTERY_KEY_FILE / LOTTERY_PRIVATE_KEY"
        ),
    }
}

fn from_file(path: &Path) -> Result<PrivateKeySigner> {
    let meta = std::fs::metadata(path)
        .wrap_err_with(|| format!("cannot read key file {}", path.display()))?;
    if !meta.is_file() || meta.len() > MAX_KEY_FILE_BYTES {
        bail!(
            "key file {} is not a small file holding one hex private key",
            path.display()
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if meta.permissions().mode() & 0o077 != 0 {
            tracing::warn!(path = %path.display(), "key file is readable by other users; chmod 600 it");
        }
    }
    let text = Zeroizing::new(
        std::fs::read_to_string(path)
            .wrap_err_with(|| format!("cannot read key file {}", path.display()))?,
    );
    parse(&text).wrap_err_with(|| format!("invalid key in {}", path.display()))
}

/// Parses 64 hex digits (optionally `0x`-prefixed). The error never echoes the input.
pub(crate) fn parse(text: &str) -> Result<PrivateKeySigner> {
    let trimmed = text.trim();
    let digits = trimmed.strip_prefix("0x").unwrap_or(trimmed);
    if digits.len() != 64 || !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(eyre!(
            "expected a private key of 64 hex digits (32 bytes), optionally 0x-prefixed"
        ));
    }
    let mut bytes = Zeroizing::new([0u8; 32]);
    alloy::hex::decode_to_slice(digits, bytes.as_mut_slice())
        .map_err(|_| eyre!("expected a private key of 64 hex digits"))?;
    PrivateKeySigner::from_slice(bytes.as_slice())
        .map_err(|_| eyre!("not a valid secp256k1 private key (zero or above the curve order)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";

    #[test]
    fn parses_with_and_without_prefix() {
        let a = parse(KEY).unwrap();
        let b = parse(&format!("  0x{KEY}\n")).unwrap();
        assert_eq!(a.address(), b.address());
        assert_eq!(
            a.address().to_string(),
            "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266"
        );
    }

    #[test]
    fn errors_never_echo_the_input() {
        for bad in [
            &KEY[..63],
            &format!("{KEY}00"),
            &"zz".repeat(32),
            &"0".repeat(64),
            &"f".repeat(64),
        ] {
            let err = format!("{:#}", parse(bad).unwrap_err());
            assert!(!err.contains(&bad[..16]), "error echoed the key: {err}");
        }
    }
}
