//! The operator key: where it comes from, and the only handle to it.
//!
//! By default the key is generated at start from the operating system's entropy and
//! never leaves the process (in an enclave the OS entropy is seeded by the NSM). In
//! `sim` mode it may instead come from a key file or `ENCLAVE_OPERATOR_KEY`, for
//! development; [`crate::config`] refuses those in `nitro` mode and
//! [`OperatorKey::from_config`] checks again.
//!
//! Nothing here prints, logs or returns key material: `Debug` shows the address and
//! the source only, errors name paths and variables but never contents, and key bytes
//! are zeroized after use (the signer zeroizes its scalar on drop).

use std::{fmt, path::Path};

use abi::keys::{KeyParseError, MAX_KEY_FILE_BYTES, parse_private_key};
use alloy::{network::EthereumWallet, primitives::Address, signers::local::PrivateKeySigner};
use serde::Serialize;

use crate::{
    config::{Config, Mode, OPERATOR_KEY_ENV},
    entropy::{Entropy, EntropyError},
};

/// Draws of 32 random bytes before giving up on finding a valid secp256k1 scalar. A
/// uniform draw is invalid (zero or not below the group order) with probability about
/// 2^-128, so a second draw never happens in practice; the cap turns a broken entropy
/// source that returns all zeros into an error instead of an endless loop.
const MAX_GENERATE_ATTEMPTS: u32 = 8;

/// How the operator key came to be. Serialized in lowercase (`generated`, `file`,
/// `environment`), as it will appear in attestation `user_data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum KeySource {
    /// Generated in this process at start; never exported.
    Generated,
    /// Read from a key file (sim mode only).
    File,
    /// Read from `ENCLAVE_OPERATOR_KEY` (sim mode only).
    Environment,
    /// Injected sealed to the enclave's attested key (HPKE), through the control
    /// channel; the host relayed only ciphertext.
    Injected,
}

impl fmt::Display for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Generated => "generated",
            Self::File => "file",
            Self::Environment => "environment",
            Self::Injected => "injected",
        })
    }
}

/// Why the operator key could not be set up. Never contains key material.
#[derive(Debug, thiserror::Error)]
pub enum SignerError {
    /// The operating system's entropy source failed.
    #[error("no entropy for a key")]
    Entropy(#[source] EntropyError),
    /// The entropy source kept returning invalid scalars (it is broken).
    #[error("the OS entropy source gave no valid secp256k1 key in {MAX_GENERATE_ATTEMPTS} draws")]
    NoValidScalar,
    /// The key file could not be read (or is not a small regular text file).
    #[error("cannot use key file {}", .0.path().display())]
    File(#[source] runner::files::FileError),
    /// The key file was read, but what it holds is not a private key.
    #[error("invalid key in {}", path.display())]
    InvalidFile {
        /// The file.
        path: std::path::PathBuf,
        /// What is wrong with its content.
        #[source]
        source: KeyParseError,
    },
    /// `ENCLAVE_OPERATOR_KEY` does not hold a private key.
    #[error("invalid {OPERATOR_KEY_ENV}")]
    Environment(#[source] KeyParseError),
    /// An injected key is not a valid secp256k1 private key.
    #[error("the injected key is not a valid secp256k1 private key")]
    InvalidInjected,
    /// A plaintext key was configured in nitro mode.
    #[error("nitro mode refuses plaintext operator keys (key file or {OPERATOR_KEY_ENV})")]
    PlaintextKeyInNitro,
}

/// The operator's signing key. `Debug` shows only its address and source.
pub struct OperatorKey {
    signer: PrivateKeySigner,
    source: KeySource,
}

impl OperatorKey {
    /// A fresh key from `entropy` (the OS's and the NSM's randomness, mixed).
    ///
    /// # Errors
    /// [`SignerError::Entropy`] or, with a broken source, [`SignerError::NoValidScalar`].
    pub fn generate(entropy: &Entropy) -> Result<Self, SignerError> {
        for _ in 0..MAX_GENERATE_ATTEMPTS {
            let bytes = entropy.bytes32().map_err(SignerError::Entropy)?;
            if let Ok(signer) = PrivateKeySigner::from_slice(bytes.as_slice()) {
                return Ok(Self {
                    signer,
                    source: KeySource::Generated,
                });
            }
        }
        Err(SignerError::NoValidScalar)
    }

    /// The key in `path` (64 hex digits, optionally `0x`-prefixed). Warns when the file
    /// is readable by its group or others; the text read is zeroized.
    ///
    /// # Errors
    /// [`SignerError::File`], naming the path only.
    pub fn from_file(path: &Path) -> Result<Self, SignerError> {
        let text =
            runner::files::read_secret_text(path, MAX_KEY_FILE_BYTES).map_err(SignerError::File)?;
        let signer = parse_private_key(&text).map_err(|source| SignerError::InvalidFile {
            path: path.to_owned(),
            source,
        })?;
        Ok(Self {
            signer,
            source: KeySource::File,
        })
    }

    /// The key in the value of `ENCLAVE_OPERATOR_KEY`.
    ///
    /// # Errors
    /// [`SignerError::Environment`], which never echoes the value.
    pub fn from_env_value(value: &str) -> Result<Self, SignerError> {
        Ok(Self {
            signer: parse_private_key(value).map_err(SignerError::Environment)?,
            source: KeySource::Environment,
        })
    }

    /// The key `config` asks for: its key file, else `ENCLAVE_OPERATOR_KEY`, else a
    /// generated one. Plaintext keys are refused in nitro mode (the config checks this
    /// too; this is the last line).
    ///
    /// # Errors
    /// [`SignerError`].
    pub fn from_config(config: &Config, entropy: &Entropy) -> Result<Self, SignerError> {
        let plaintext = config.operator_key_file.is_some() || config.operator_key.is_some();
        if config.mode == Mode::Nitro && plaintext {
            return Err(SignerError::PlaintextKeyInNitro);
        }
        match (&config.operator_key_file, &config.operator_key) {
            (Some(path), _) => Self::from_file(path),
            (None, Some(key)) => Self::from_env_value(key.expose()),
            (None, None) => Self::generate(entropy),
        }
    }

    /// A key opened from a sealed injection: 32 bytes of secp256k1 scalar.
    ///
    /// # Errors
    /// [`SignerError::InvalidInjected`] (the bytes are not echoed).
    pub fn from_injected(bytes: &[u8]) -> Result<Self, SignerError> {
        let signer =
            PrivateKeySigner::from_slice(bytes).map_err(|_| SignerError::InvalidInjected)?;
        Ok(Self {
            signer,
            source: KeySource::Injected,
        })
    }

    /// The operator's address.
    pub fn address(&self) -> Address {
        self.signer.address()
    }

    /// How the key came to be.
    pub const fn source(&self) -> KeySource {
        self.source
    }

    /// A wallet signing with this key, for transaction building. The wallet holds a
    /// copy of the signer; it stays in this process like the original.
    pub fn wallet(&self) -> EthereumWallet {
        EthereumWallet::from(self.signer.clone())
    }
}

impl fmt::Debug for OperatorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OperatorKey")
            // Checksummed, as everywhere else it is shown.
            .field("address", &format_args!("{}", self.address()))
            .field("source", &self.source)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use alloy::network::TxSigner;

    use super::*;
    use crate::config::Secret;

    const KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
    const ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

    /// A configuration in `mode` with `extra` flags, and `key` as if given by
    /// `ENCLAVE_OPERATOR_KEY` (which only the binary reads; see the config tests).
    fn config(mode: &str, key: Option<&str>, extra: &[&str]) -> Config {
        let mut args = vec![
            "enclave-app",
            "--mode",
            mode,
            "--rpc-url",
            "https://127.0.0.1:8545",
            "--contract",
            "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        ];
        args.extend_from_slice(extra);
        let mut config = Config::load(args).unwrap();
        config.operator_key = key.map(|key| Secret::new(key.to_owned()));
        config
    }

    #[test]
    fn generated_keys_differ() {
        let a = OperatorKey::generate(&Entropy::os_only()).unwrap();
        let b = OperatorKey::generate(&Entropy::os_only()).unwrap();
        assert_ne!(a.address(), b.address());
        assert_eq!(a.source(), KeySource::Generated);
    }

    #[test]
    fn env_and_file_give_anvils_first_address() {
        let key = OperatorKey::from_env_value(&format!("0x{KEY}")).unwrap();
        assert_eq!(key.address().to_string(), ADDRESS);
        assert_eq!(key.source(), KeySource::Environment);

        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "{KEY}").unwrap();
        let key = OperatorKey::from_file(file.path()).unwrap();
        assert_eq!(key.address().to_string(), ADDRESS);
        assert_eq!(key.source(), KeySource::File);
    }

    #[test]
    fn from_config_picks_file_then_env_then_generated() {
        let mut file = tempfile::NamedTempFile::new().unwrap();
        writeln!(file, "{KEY}").unwrap();
        let path = file.path().to_str().unwrap();
        let key = OperatorKey::from_config(
            &config("sim", None, &["--operator-key-file", path]),
            &Entropy::os_only(),
        )
        .unwrap();
        assert_eq!(
            (key.address().to_string().as_str(), key.source()),
            (ADDRESS, KeySource::File)
        );
        let key =
            OperatorKey::from_config(&config("sim", Some(KEY), &[]), &Entropy::os_only()).unwrap();
        assert_eq!(
            (key.address().to_string().as_str(), key.source()),
            (ADDRESS, KeySource::Environment)
        );
        let key =
            OperatorKey::from_config(&config("nitro", None, &[]), &Entropy::os_only()).unwrap();
        assert_eq!(key.source(), KeySource::Generated);

        // A config built by hand past the checks is still refused in nitro mode.
        let mut nitro = config("sim", Some(KEY), &[]);
        nitro.mode = Mode::Nitro;
        let err = OperatorKey::from_config(&nitro, &Entropy::os_only()).unwrap_err();
        assert!(matches!(err, SignerError::PlaintextKeyInNitro), "{err}");
    }

    #[test]
    fn debug_shows_the_address_not_the_key() {
        let key = OperatorKey::from_env_value(KEY).unwrap();
        let debug = format!("{key:?}");
        assert_eq!(
            debug,
            format!("OperatorKey {{ address: {ADDRESS}, source: Environment }}")
        );
        assert!(!debug.to_lowercase().contains(&KEY[..16]));
        assert!(!format!("{key:#?}").to_lowercase().contains(&KEY[..16]));
    }

    #[test]
    fn bad_keys_give_errors_without_the_input() {
        for bad in [
            KEY[..63].to_owned(),
            format!("{KEY}00"),
            format!("zz{}", &KEY[2..]),
            "0".repeat(64),
            "f".repeat(64),
        ] {
            let err = OperatorKey::from_env_value(&bad).unwrap_err();
            let text = format!("{err} {err:?} {}", runner::error_chain(&err));
            assert!(!text.contains(&bad[2..18]), "{text}");
            assert!(text.contains(OPERATOR_KEY_ENV), "{text}");

            let mut file = tempfile::NamedTempFile::new().unwrap();
            writeln!(file, "{bad}").unwrap();
            let err = OperatorKey::from_file(file.path()).unwrap_err();
            let text = format!("{err} {err:?} {}", runner::error_chain(&err));
            assert!(!text.contains(&bad[2..18]), "{text}");
        }
    }

    #[test]
    fn the_source_serializes_in_lowercase() {
        for (source, text) in [
            (KeySource::Generated, "\"generated\""),
            (KeySource::File, "\"file\""),
            (KeySource::Environment, "\"environment\""),
        ] {
            assert_eq!(serde_json::to_string(&source).unwrap(), text);
            assert_eq!(format!("\"{source}\""), text);
        }
    }

    #[test]
    fn the_wallet_signs_as_the_operator() {
        let key = OperatorKey::from_env_value(KEY).unwrap();
        let wallet = key.wallet();
        assert_eq!(wallet.default_signer().address(), key.address());
    }
}
