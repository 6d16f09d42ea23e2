//! Randomness for the operator key and the seeds: the operating system's and the
//! attestation provider's (the Nitro Security Module's `GetRandom` inside an
//! enclave), hashed together with SHA-256. Each source alone is enough: a key or a seed
//! is unpredictable as long as either source is, so a weak guest kernel pool at boot
//! (an enclave has no disk, no network and few interrupts) cannot make them guessable.
//!
//! Without a provider (in-process tests and benchmarks) the OS source is used alone.
//! Both sources must answer: a failing one is an error, never a silent fallback.

use std::sync::Arc;

use attestation::provider::{AttestationProvider, ProviderError};
use rand::{TryRngCore, rngs::OsRng};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

/// Separates these hashes from any other use of the same bytes.
const DOMAIN: &[u8] = b"enclave-lottery entropy v1";

/// Why no random bytes could be produced.
#[derive(Debug, thiserror::Error)]
pub enum EntropyError {
    /// The operating system's source failed.
    #[error("the OS entropy source failed")]
    Os(#[source] rand::rand_core::OsError),
    /// The attestation provider's source (the NSM) failed.
    #[error("the attestation provider's entropy source failed")]
    Provider(#[source] ProviderError),
}

/// The randomness source of keys and seeds.
#[derive(Clone)]
pub struct Entropy {
    provider: Option<Arc<dyn AttestationProvider>>,
}

impl std::fmt::Debug for Entropy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Entropy")
            .field("provider", &self.provider.as_ref().map(|p| p.kind()))
            .finish()
    }
}

impl Entropy {
    /// The OS source mixed with `provider`'s.
    pub fn with_provider(provider: Arc<dyn AttestationProvider>) -> Self {
        Self {
            provider: Some(provider),
        }
    }

    /// The OS source alone (tests and benchmarks, which have no provider).
    pub const fn os_only() -> Self {
        Self { provider: None }
    }

    /// 32 random bytes: `SHA-256(DOMAIN || os || provider)`.
    ///
    /// # Errors
    /// When either source fails.
    pub fn bytes32(&self) -> Result<Zeroizing<[u8; 32]>, EntropyError> {
        let mut os = Zeroizing::new([0u8; 32]);
        OsRng
            .try_fill_bytes(os.as_mut_slice())
            .map_err(EntropyError::Os)?;
        let mut hardware = Zeroizing::new([0u8; 32]);
        if let Some(provider) = &self.provider {
            provider
                .fill_random(hardware.as_mut_slice())
                .map_err(EntropyError::Provider)?;
        }
        let mut hash = Sha256::new();
        hash.update(DOMAIN);
        hash.update(os.as_slice());
        hash.update(hardware.as_slice());
        let mut out = Zeroizing::new([0u8; 32]);
        out.copy_from_slice(&hash.finalize());
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use attestation::provider::{AttestationRequest, ProviderKind};

    use super::*;

    /// A provider whose entropy is counted, and fails on demand.
    struct Counting {
        calls: AtomicUsize,
        fail: bool,
    }

    impl AttestationProvider for Counting {
        fn kind(&self) -> ProviderKind {
            ProviderKind::Simulated
        }
        fn attest(&self, _: &AttestationRequest) -> Result<Vec<u8>, ProviderError> {
            Err(ProviderError::Clock)
        }
        fn fill_random(&self, buf: &mut [u8]) -> Result<(), ProviderError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            if self.fail {
                return Err(ProviderError::Clock);
            }
            buf.fill(0x5a);
            Ok(())
        }
    }

    #[test]
    fn the_provider_is_asked_every_time_and_its_failure_is_an_error() {
        let provider = Arc::new(Counting {
            calls: AtomicUsize::new(0),
            fail: false,
        });
        let entropy = Entropy::with_provider(provider.clone());
        let (a, b) = (entropy.bytes32().unwrap(), entropy.bytes32().unwrap());
        assert_ne!(*a, *b, "the OS part differs each time");
        assert_eq!(provider.calls.load(Ordering::SeqCst), 2);
        let failing = Entropy::with_provider(Arc::new(Counting {
            calls: AtomicUsize::new(0),
            fail: true,
        }));
        assert!(matches!(failing.bytes32(), Err(EntropyError::Provider(_))));
        assert_ne!(*Entropy::os_only().bytes32().unwrap(), [0u8; 32]);
    }
}
