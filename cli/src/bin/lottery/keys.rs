//! Choosing the signing key from the command line. Parsing is `abi::keys` (shared
//! with enclave-app) and key files `lottery_cli::keys`, so no key material ever
//! reaches an error message or a log.

use abi::keys::parse_private_key;
use alloy::signers::local::PrivateKeySigner;
use eyre::{Result, WrapErr, bail};
use lottery_cli::keys::read_private_key_file;

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
