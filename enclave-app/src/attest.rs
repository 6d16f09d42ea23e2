//! Attestation: the documents enclave-app hands out over the control channel.
//!
//! Every document carries the caller's nonce, this enclave's identity in `user_data`
//! (app and version, chain, contract, operator address and how the key came to be)
//! and the public key for sealed key injection (HPKE, X25519), whose private half
//! never leaves this process. In `nitro` mode the NSM signs the documents; in `sim`
//! mode a simulated provider with a development CA does, with the same structure
//! and a root no verifier accepts unless told to.
//!
//! Sealed key injection: a key sealed (HPKE) to the public key of a document this
//! process issued, bound to that document's nonce, is opened here and handed to the
//! operator, once. A nonce this process did not issue, or issued and already saw
//! used, is refused (no replays), as is a key for another address than
//! `--operator-address` and any second injection. Injection is off unless
//! `--operator-address` is set (documents then say `key_injection: false`), and a key is
//! never injected while the enclave's own key is the contract's operator: anyone can
//! fetch a document and seal a key to it, so only the pinned address decides whose key
//! may operate. The host only relays ciphertext.

use std::{
    collections::{HashMap, VecDeque},
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    time::{Duration, Instant},
};

use abi::control::{Request, RequestError, Response};
use alloy::primitives::Address;
use attestation::{
    KeyOrigin, UnixTime, UserData,
    provider::{
        AttestationProvider, AttestationRequest, NsmProvider, Pcr0Source, SimulatedCa,
        SimulatedProvider,
    },
    sealed::{KEY_OPENER_IKM_LEN, KeyOpener, SealedKey},
};
use serde_bytes::ByteBuf;
use tokio::sync::mpsc;
use tracing::{info, warn};
use zeroize::Zeroizing;

use crate::{
    config::{Config, Mode},
    control::RequestHandler,
    signer::{KeySource, OperatorKey},
    store::Store,
};

/// Nonces remembered per request origin (the host's name for the client that asked,
/// [`Request::Attestation`]'s `origin`). An origin asking for more pushes out only its
/// own oldest: a person sealing a key fetches two or three documents, a flood from one
/// client evicts nobody else's.
pub const NONCES_PER_ORIGIN: usize = 16;

/// Origins remembered at once. A live origin (a nonce younger than
/// [`INJECTION_WINDOW`]) is never evicted: when this many are live, a document for a
/// new origin is still issued, but its nonce is not remembered (a sealed key bound to
/// it is refused) until older origins expire. With the host's per-client limits that
/// takes this many distinct clients within ten minutes. At most 1,024 × 16 nonces of
/// up to 64 bytes: about 2 MiB.
pub const ORIGINS: usize = 1024;

/// How long a document's nonce stays good for sealing a key to it: long enough to
/// type a passphrase, short enough that a leaked document soon stops mattering.
pub const INJECTION_WINDOW: Duration = Duration::from_secs(600);

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

/// Answers the control channel's requests: attestation documents, and sealed key
/// injection.
pub struct Attester {
    provider: Arc<dyn AttestationProvider>,
    opener: KeyOpener,
    identity: Mutex<Identity>,
    injection: Option<Injection>,
    /// The RPC upstreams' `host:port` and the quorum, for `user_data`.
    rpc_trust: (Vec<String>, u8),
    /// Nonces of documents issued, by origin.
    issued: Mutex<IssuedNonces>,
}

/// The nonces of documents issued in the last [`INJECTION_WINDOW`], per origin
/// (oldest first), bounded by [`NONCES_PER_ORIGIN`] and [`ORIGINS`].
#[derive(Debug, Default)]
pub struct IssuedNonces {
    by_origin: HashMap<String, VecDeque<(Vec<u8>, Instant)>>,
}

impl IssuedNonces {
    /// Remembers `nonce`, issued `now` for `origin`; `false` when it could not be
    /// (every origin slot holds a live one).
    pub fn remember(&mut self, origin: &str, nonce: &[u8], now: Instant) -> bool {
        if !self.by_origin.contains_key(origin) && self.by_origin.len() >= ORIGINS {
            self.forget_expired(now);
            if self.by_origin.len() >= ORIGINS {
                return false;
            }
        }
        let nonces = self.by_origin.entry(origin.to_owned()).or_default();
        if nonces.len() == NONCES_PER_ORIGIN {
            nonces.pop_front();
        }
        nonces.push_back((nonce.to_vec(), now));
        true
    }

    /// Takes `nonce` if it was issued (to any origin) less than [`INJECTION_WINDOW`]
    /// before `now`: it binds a sealed key once.
    pub fn take(&mut self, nonce: &[u8], now: Instant) -> bool {
        for nonces in self.by_origin.values_mut() {
            let found = nonces.iter().position(|(issued, at)| {
                issued.as_slice() == nonce && now.saturating_duration_since(*at) < INJECTION_WINDOW
            });
            if let Some(position) = found {
                nonces.remove(position);
                return true;
            }
        }
        false
    }

    /// Drops nonces older than the window, and origins left with none.
    fn forget_expired(&mut self, now: Instant) {
        self.by_origin.retain(|_, nonces| {
            nonces.retain(|(_, at)| now.saturating_duration_since(*at) < INJECTION_WINDOW);
            !nonces.is_empty()
        });
    }

    /// Origins held.
    pub fn origins(&self) -> usize {
        self.by_origin.len()
    }
}

/// Where injected keys go, and what they must be.
struct Injection {
    operator: mpsc::Sender<OperatorKey>,
    /// The only address an injected key may have.
    expected: Address,
    /// The mirrored contract: while the enclave's own key is its operator, no key is
    /// injected.
    store: Store,
    done: Mutex<bool>,
}

impl std::fmt::Debug for Attester {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Attester")
            .field("provider", &self.provider.kind())
            .field("identity", &self.identity())
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
            identity: Mutex::new(identity),
            injection: None,
            rpc_trust: (Vec::new(), 0),
            issued: Mutex::new(IssuedNonces::default()),
        })
    }

    /// Accepts one sealed key for the address `expected`, sent to `operator`, and only
    /// while the enclave's own key is not the operator of the contract `store` mirrors.
    /// Without this call every injection is refused.
    #[must_use]
    pub fn with_injection(
        mut self,
        operator: mpsc::Sender<OperatorKey>,
        expected: Address,
        store: Store,
    ) -> Self {
        self.injection = Some(Injection {
            operator,
            expected,
            store,
            done: Mutex::new(false),
        });
        self
    }

    /// Names the JSON-RPC upstreams (`host:port`) and the quorum in every document's
    /// `user_data`, so a verifier sees whom the enclave trusts for chain facts.
    #[must_use]
    pub fn with_rpc_trust(mut self, hosts: Vec<String>, quorum: u8) -> Self {
        self.rpc_trust = (hosts, quorum);
        self
    }

    fn identity(&self) -> Identity {
        *self.identity.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn user_data(&self) -> UserData {
        let identity = self.identity();
        UserData {
            app: APP_NAME.to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            chain_id: identity.chain_id,
            contract: identity.contract.into_array(),
            operator: identity.operator.into_array(),
            key_origin: match identity.key_source {
                KeySource::Generated => KeyOrigin::Generated,
                KeySource::File => KeyOrigin::File,
                KeySource::Environment => KeyOrigin::Environment,
                KeySource::Injected => KeyOrigin::Injected,
            },
            key_injection: self.injection.is_some(),
            rpc_hosts: self.rpc_trust.0.clone(),
            rpc_quorum: self.rpc_trust.1,
        }
    }

    async fn document(&self, nonce: &[u8], origin: &str) -> Result<Vec<u8>, RequestError> {
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
        let document = tokio::task::spawn_blocking(move || provider.attest(&request))
            .await
            .map_err(|e| RequestError::internal(format!("attestation task failed: {e}")))?
            .map_err(|e| RequestError::internal(format!("attestation failed: {e}")))?;
        let remembered = self
            .issued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remember(origin, nonce, Instant::now());
        if !remembered {
            warn!(
                target: "enclave_app::attest",
                origins = ORIGINS,
                "nonce memory full of live origins: this document cannot bind a sealed key"
            );
        }
        Ok(document)
    }

    /// Opens a sealed key and hands it to the operator, once.
    async fn inject(&self, sealed: &[u8]) -> Result<Response, RequestError> {
        let Some(injection) = &self.injection else {
            return Err(RequestError::unsupported(
                "this enclave-app does not accept injected keys: it was started without --operator-address, which pins the one address an injected key may have",
            ));
        };
        if *injection
            .done
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
        {
            return Err(RequestError::refused(
                "an operator key was already injected; restart the enclave to inject another",
            ));
        }
        let own = self.identity().operator;
        if injection
            .store
            .config()
            .is_some_and(|c| c.operator == Some(own))
        {
            return Err(RequestError::refused(format!(
                "this enclave's own key ({own}) is the contract's operator: a key is never injected over an operating one"
            )));
        }
        let sealed = SealedKey::from_cbor(sealed)
            .map_err(|e| RequestError::invalid(format!("not a sealed key: {e}")))?;
        // The nonce must be one this process attested to recently, and unused: it
        // binds the key to a document the injector verified, and stops replays.
        let issued = self
            .issued
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take(sealed.nonce(), Instant::now());
        if !issued {
            return Err(RequestError::refused(
                "the key is not sealed to a document this enclave issued in the last 10 minutes (or it was used already): fetch a fresh attestation and seal again",
            ));
        }
        let secret = self.opener.open(&sealed).map_err(|_| {
            RequestError::invalid("the sealed key does not open with this enclave's key")
        })?;
        let key = OperatorKey::from_injected(&secret)
            .map_err(|e| RequestError::invalid(e.to_string()))?;
        drop(secret);
        if key.address() != injection.expected {
            return Err(RequestError::refused(format!(
                "the key's address {} is not the pinned operator address {} (--operator-address)",
                key.address(),
                injection.expected
            )));
        }
        let address = key.address();
        {
            let mut done = injection
                .done
                .lock()
                .unwrap_or_else(PoisonError::into_inner);
            if *done {
                return Err(RequestError::refused(
                    "an operator key was already injected; restart the enclave to inject another",
                ));
            }
            *done = true;
        }
        injection
            .operator
            .send(key)
            .await
            .map_err(|_| RequestError::internal("the operator is not running"))?;
        {
            let mut identity = self.identity.lock().unwrap_or_else(PoisonError::into_inner);
            identity.operator = address;
            identity.key_source = KeySource::Injected;
        }
        info!(target: "enclave_app::attest", operator = %address, "operator key injected");
        Ok(Response::KeyInjected { operator: address })
    }
}

impl RequestHandler for Attester {
    fn handle(
        &self,
        request: Request,
    ) -> Pin<Box<dyn Future<Output = Result<Response, RequestError>> + Send + '_>> {
        Box::pin(async move {
            match request {
                Request::Attestation { nonce, origin } => Ok(Response::Attestation {
                    document: ByteBuf::from(
                        self.document(&nonce, origin.as_deref().unwrap_or_default())
                            .await?,
                    ),
                }),
                Request::InjectKey { sealed } => self.inject(&sealed).await,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_from_one_origin_evicts_only_its_own_nonces() {
        let mut issued = IssuedNonces::default();
        let start = Instant::now();
        assert!(issued.remember("192.0.2.2", b"injector", start));
        for i in 0u32..10_000 {
            assert!(issued.remember("192.0.2.1", &i.to_be_bytes(), start));
        }
        assert_eq!(issued.origins(), 2);
        // The flood's own oldest went; its newest stay; the other's is there, once.
        assert!(!issued.take(&0u32.to_be_bytes(), start));
        assert!(issued.take(&9_999u32.to_be_bytes(), start));
        let later = start + Duration::from_secs(60);
        assert!(issued.take(b"injector", later));
        assert!(!issued.take(b"injector", later));
    }

    #[test]
    fn live_origins_are_never_evicted_and_expired_ones_make_room() {
        let mut issued = IssuedNonces::default();
        let start = Instant::now();
        for i in 0..ORIGINS {
            assert!(issued.remember(&format!("origin {i}"), &i.to_be_bytes(), start));
        }
        // Full of live origins: a new one is not remembered, no old one is lost.
        assert!(!issued.remember("newcomer", b"new", start + Duration::from_secs(1)));
        assert!(issued.take(&0usize.to_be_bytes(), start + Duration::from_secs(1)));
        // An origin already held still gets its nonces remembered.
        assert!(issued.remember("origin 5", b"again", start));
        // Once the window has passed, expired origins give way.
        let expired = start + INJECTION_WINDOW;
        assert!(!issued.take(&7usize.to_be_bytes(), expired));
        assert!(issued.remember("newcomer", b"new", expired));
        assert_eq!(issued.origins(), 1);
        assert!(issued.take(b"new", expired));
    }
}
