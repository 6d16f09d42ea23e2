//! Attestation: the documents enclave-app hands out over the control channel.
//!
//! Every document carries the caller's nonce, this enclave's identity in `user_data`
//! (app and version, chain, contract, operator address and how the key came to be)
//! and the public key for sealed key injection (HPKE, X25519), whose private half
//! never leaves this process. In `nitro` mode the NSM signs the documents; in `sim`
//! mode a simulated provider with a development CA does, with the same structure
//! and a root no verifier accepts unless told to.

use std::{future::Future, pin::Pin, sync::Arc};

use abi::control::{Request, RequestError, Response};
use alloy::primitives::Address;
use attestation::{
    KeyOrigin, UnixTime, UserData,
    provider::{
        AttestationProvider, AttestationRequest, NsmProvider, Pcr0Source, SimulatedCa,
        SimulatedProvider,
    },
    sealed::{KEY_OPENER_IKM_LEN, KeyOpener},
};
use serde_bytes::ByteBuf;
use tracing::info;
use zeroize::Zeroizing;

use crate::{
    config::{Config, Mode},
    control::RequestHandler,
    signer::KeySource,
};

/// The app name in `user_data`.
pub const APP_NAME: &str = "enclave-lottery";

/// Why attestation could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum AttestError {
    /// The provider (NSM or simulated) failed to start.
    #[error("cannot start the attestation provider")]
    Provider(#[from] attestation::provider::ProviderError),
    /// The simulated CA file is unusable.
    #[error("cannot use the simulated attestation CA")]
    DevCa(#[from] attestation::provider::DevCaError),
    /// The HPKE key could not be made.
    #[error("cannot create the key-injection key")]
    Sealing(#[from] attestation::sealed::SealError),
}

/// What the documents say about this enclave.
#[derive(Debug, Clone, Copy)]
pub struct Identity {
    /// The chain served.
    pub chain_id: u64,
    /// The contract operated.
    pub contract: Address,
    /// The operator key's address.
    pub operator: Address,
    /// How the key came to be.
    pub key_source: KeySource,
}

/// Answers the control channel's requests with attestation documents.
pub struct Attester {
    provider: Arc<dyn AttestationProvider>,
    opener: KeyOpener,
    identity: Identity,
}

impl std::fmt::Debug for Attester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attester")
            .field("provider", &self.provider.kind())
            .field("identity", &self.identity)
            .finish_non_exhaustive()
    }
}

/// The provider `config` calls for: the NSM in `nitro` mode, the simulated one in
/// `sim` mode (its CA from `--sim-ca-file`, or fresh).
///
/// # Errors
/// [`AttestError`] when the NSM is missing or the CA file is unusable.
pub fn provider(config: &Config) -> Result<Arc<dyn AttestationProvider>, AttestError> {
    match config.mode {
        Mode::Nitro => Ok(Arc::new(NsmProvider::open()?)),
        Mode::Sim => {
            let now = UnixTime::from_system_time(std::time::SystemTime::now())
                .ok_or(attestation::provider::ProviderError::Clock)?;
            let ca = match &config.sim_ca_file {
                Some(path) => SimulatedCa::load_or_generate(path, now)?,
                None => SimulatedCa::generate(now)?,
            };
            info!(
                target: "enclave_app::attest",
                ca_file = ?config.sim_ca_file,
                "simulated attestation (development CA; documents prove nothing about hardware)"
            );
            Ok(Arc::new(SimulatedProvider::new(
                ca,
                &Pcr0Source::CurrentExe,
            )?))
        }
    }
}

impl Attester {
    /// An attester over `provider`, with a fresh key-injection key drawn from the
    /// provider's entropy (the NSM's in an enclave).
    ///
    /// # Errors
    /// [`AttestError`] when entropy or the key fails.
    pub fn new(
        provider: Arc<dyn AttestationProvider>,
        identity: Identity,
    ) -> Result<Self, AttestError> {
        let mut ikm = Zeroizing::new([0u8; KEY_OPENER_IKM_LEN]);
        provider.fill_random(ikm.as_mut_slice())?;
        let opener = KeyOpener::from_entropy(ikm.as_slice())?;
        Ok(Self {
            provider,
            opener,
            identity,
        })
    }

    fn user_data(&self) -> UserData {
        UserData {
            app: APP_NAME.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            chain_id: self.identity.chain_id,
            contract: self.identity.contract.into_array(),
            operator: self.identity.operator.into_array(),
            key_origin: match self.identity.key_source {
                KeySource::Generated => KeyOrigin::Generated,
                KeySource::File => KeyOrigin::File,
                KeySource::Environment => KeyOrigin::Environment,
            },
        }
    }

    async fn document(&self, nonce: &[u8]) -> Result<Vec<u8>, RequestError> {
        let user_data = self
            .user_data()
            .to_cbor()
            .map_err(|e| RequestError::internal(format!("encoding user_data: {e}")))?;
        let request = AttestationRequest::new(nonce)
            .and_then(|r| r.with_user_data(user_data))
            .and_then(|r| r.with_public_key(self.opener.public_key().to_vec()))
            .map_err(|e| RequestError::invalid(e.to_string()))?;
        let provider = Arc::clone(&self.provider);
        // An ioctl to the NSM, or an ECDSA signature: off the async threads.
        tokio::task::spawn_blocking(move || provider.attest(&request))
            .await
            .map_err(|e| RequestError::internal(format!("attestation task failed: {e}")))?
            .map_err(|e| RequestError::internal(format!("attestation failed: {e}")))
    }
}

impl RequestHandler for Attester {
    fn handle(
        &self,
        request: Request,
    ) -> Pin<Box<dyn Future<Output = Result<Response, RequestError>> + Send + '_>> {
        Box::pin(async move {
            match request {
                Request::Attestation { nonce } => Ok(Response::Attestation {
                    document: ByteBuf::from(self.document(&nonce).await?),
                }),
                Request::InjectKey { .. } => Err(RequestError::unsupported(
                    "sealed key injection is not served by this enclave-app build yet",
                )),
            }
        })
    }
}
