//! Choosing the signing key from the command line. Parsing and key files are
//! `abi::keys` (shared with enclave-app), so no key material ever reaches an error
//! message or a log.

use abi::keys::{parse_private_key, read_private_key_file};
use alloy::signers::local::PrivateKeySigner;
use eyre::{Result, WrapErr, bail};

use crate::cli::KeySource;

/// The signer from `--private-key`, `--key-file` or their environment variables.
pub(crate) fn load(source: &KeySource) -> Result<PrivateKeySigner> {
    match (&source.private_key, &source.key_file) {
        (Some(hex), _) => {
            parse_private_key(hex).wrap_err("invalid --private-key / LOTTERY_PRIVATE_KEY")
        }
        (None, Some(path)) => Ok(read_private_key_file(path)?),
        (None, None) => bail!(
            "this command signs a transaction: pass --key-file PATH, --private-key HEX, or set LOTTERY_KEY_FILE / LOTTERY_PRIVATE_KEY"
        ),
    }
}
