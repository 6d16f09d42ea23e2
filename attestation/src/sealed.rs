//! Sealed key transfer: HPKE (RFC 9180) to the public key in an attestation document.
//!
//! Suite: DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / ChaCha20Poly1305, base mode.
//! The enclave holds a [`KeyOpener`] and puts its 32-byte X25519 public key (the
//! RFC 9180 serialization, not DER) in the document's `public_key`. A client that
//! has verified a fresh document [`seal`]s the operator key to it; the host relays
//! the [`SealedKey`] bytes and can read nothing.
//!
//! Binding:
//! - to the enclave's key: HPKE's KEM context includes the recipient public key;
//! - to this protocol: the HPKE `info` is [`HPKE_INFO`];
//! - to the attestation document the sender verified: the AEAD's associated data
//!   is that document's nonce, which travels in the clear in the [`SealedKey`] so
//!   the enclave can check it is one it attested recently (and only once).
//!
//! Base mode does not authenticate the sender: anyone can seal *a* key to the
//! enclave. The enclave must therefore check what the key is (its address equals
//! the configured operator) before accepting it.

use hpke::{
    Deserializable, Kem as _, OpModeR, OpModeS, Serializable, aead::ChaCha20Poly1305,
    kdf::HkdfSha256, kem::X25519HkdfSha256,
};
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use zeroize::Zeroizing;

type Kem = X25519HkdfSha256;
type Kdf = HkdfSha256;
type Aead = ChaCha20Poly1305;

/// HPKE `info`: separates this use of the enclave's key from any other.
pub const HPKE_INFO: &[u8] = b"enclave-lottery sealed operator key v1";
/// Version of the [`SealedKey`] wire format.
const SEALED_KEY_VERSION: u8 = 1;
/// Length of an X25519 public key and of its encapsulated key.
pub const X25519_KEY_LEN: usize = 32;
/// Largest plaintext that may be sealed: an operator key is 32 bytes; 256 leaves
/// room for an encoded form and nothing that is not a key.
pub const SEALED_PLAINTEXT_MAX: usize = 256;
/// ChaCha20Poly1305 tag length.
const AEAD_TAG_LEN: usize = 16;
/// Largest nonce a sealed key may be bound to: the attestation request bound
/// (64 bytes), since the nonce is the one the sender had attested.
pub const SEALED_NONCE_MAX: usize = 64;
/// Largest encoded [`SealedKey`]: version, a 64-byte nonce, a 32-byte encapsulated
/// key and a 272-byte ciphertext come to about 400 bytes of CBOR; 1 KiB bounds
/// what a receiver decodes before any cryptography.
pub const SEALED_KEY_MAX: usize = 1024;
/// Length of the input keying material for [`KeyOpener::from_entropy`]: 256 bits,
/// as RFC 9180 asks for X25519 (`Nsk`).
pub const KEY_OPENER_IKM_LEN: usize = 32;

/// A sealing or opening failure. Messages never include key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    /// The recipient public key is not a 32-byte X25519 key.
    #[error("recipient public key is not an X25519 key ({len} bytes)")]
    InvalidPublicKey {
        /// Its length.
        len: usize,
    },
    /// The nonce is empty or too long.
    #[error("nonce is {len} bytes; allowed 1..={SEALED_NONCE_MAX}")]
    NonceSize {
        /// Its length.
        len: usize,
    },
    /// The plaintext is empty or too long.
    #[error("plaintext is {len} bytes; allowed 1..={SEALED_PLAINTEXT_MAX}")]
    PlaintextSize {
        /// Its length.
        len: usize,
    },
    /// Not enough input keying material for a key pair.
    #[error("key derivation needs at least {KEY_OPENER_IKM_LEN} bytes of entropy, got {len}")]
    ShortEntropy {
        /// Bytes given.
        len: usize,
    },
    /// The sealed message is larger than any valid one.
    #[error("sealed key is {len} bytes; the limit is {SEALED_KEY_MAX}")]
    TooLarge {
        /// Its length.
        len: usize,
    },
    /// The sealed message is not the expected CBOR structure.
    #[error("malformed sealed key: {0}")]
    Malformed(String),
    /// The sealed message has a version this code does not know.
    #[error("sealed key version {0} is not supported (expected {SEALED_KEY_VERSION})")]
    UnsupportedVersion(u8),
    /// The encapsulated key or ciphertext has an impossible length.
    #[error("sealed key has an invalid {field} length {len}")]
    FieldLength {
        /// Which field.
        field: &'static str,
        /// Its length.
        len: usize,
    },
    /// HPKE sealing failed.
    #[error("HPKE seal failed: {0}")]
    Seal(String),
    /// Decryption failed: sealed to another key, bound to another nonce, or
    /// tampered with.
    #[error("cannot open the sealed key: wrong recipient key, wrong nonce, or tampered ciphertext")]
    Open,
}

/// A sealed message: the nonce it is bound to, the HPKE encapsulated key and the
/// ciphertext. On the wire: a CBOR map `{version, nonce, enc, ciphertext}` with
/// byte strings, at most [`SEALED_KEY_MAX`] bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SealedKey {
    nonce: Vec<u8>,
    encapsulated_key: [u8; X25519_KEY_LEN],
    ciphertext: Vec<u8>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct WireSealedKey {
    version: u8,
    nonce: ByteBuf,
    enc: ByteBuf,
    ciphertext: ByteBuf,
}

fn check_nonce(nonce: &[u8]) -> Result<(), SealError> {
    if nonce.is_empty() || nonce.len() > SEALED_NONCE_MAX {
        return Err(SealError::NonceSize { len: nonce.len() });
    }
    Ok(())
}

impl SealedKey {
    /// The attestation nonce this message is bound to. The receiver checks that it
    /// attested this nonce (recently, and accepts it once) before opening.
    pub fn nonce(&self) -> &[u8] {
        &self.nonce
    }

    /// Encodes the wire form.
    pub fn to_cbor(&self) -> Result<Vec<u8>, SealError> {
        let wire = WireSealedKey {
            version: SEALED_KEY_VERSION,
            nonce: ByteBuf::from(self.nonce.clone()),
            enc: ByteBuf::from(self.encapsulated_key.to_vec()),
            ciphertext: ByteBuf::from(self.ciphertext.clone()),
        };
        let mut out = Vec::new();
        ciborium::ser::into_writer(&wire, &mut out)
            .map_err(|e| SealError::Malformed(e.to_string()))?;
        Ok(out)
    }

    /// Decodes and bounds-checks the wire form (no cryptography yet).
    pub fn from_cbor(bytes: &[u8]) -> Result<Self, SealError> {
        if bytes.len() > SEALED_KEY_MAX {
            return Err(SealError::TooLarge { len: bytes.len() });
        }
        let wire: WireSealedKey =
            ciborium::de::from_reader(bytes).map_err(|e| SealError::Malformed(e.to_string()))?;
        if wire.version != SEALED_KEY_VERSION {
            return Err(SealError::UnsupportedVersion(wire.version));
        }
        check_nonce(&wire.nonce)?;
        let encapsulated_key: [u8; X25519_KEY_LEN] =
            wire.enc
                .as_slice()
                .try_into()
                .map_err(|_| SealError::FieldLength {
                    field: "enc",
                    len: wire.enc.len(),
                })?;
        let ct_len = wire.ciphertext.len();
        if !(AEAD_TAG_LEN + 1..=AEAD_TAG_LEN + SEALED_PLAINTEXT_MAX).contains(&ct_len) {
            return Err(SealError::FieldLength {
                field: "ciphertext",
                len: ct_len,
            });
        }
        Ok(Self {
            nonce: wire.nonce.into_vec(),
            encapsulated_key,
            ciphertext: wire.ciphertext.into_vec(),
        })
    }
}

/// Seals `plaintext` to `recipient_public_key` (the 32-byte X25519 key from a
/// verified document's `public_key`), bound to that document's `attestation_nonce`.
///
/// Uses the operating system's entropy for the ephemeral key (HPKE panics if the
/// OS cannot provide any, in which case nothing could be sealed safely anyway).
pub fn seal(
    recipient_public_key: &[u8],
    attestation_nonce: &[u8],
    plaintext: &[u8],
) -> Result<SealedKey, SealError> {
    check_nonce(attestation_nonce)?;
    if plaintext.is_empty() || plaintext.len() > SEALED_PLAINTEXT_MAX {
        return Err(SealError::PlaintextSize {
            len: plaintext.len(),
        });
    }
    let invalid_key = || SealError::InvalidPublicKey {
        len: recipient_public_key.len(),
    };
    if recipient_public_key.len() != X25519_KEY_LEN {
        return Err(invalid_key());
    }
    let public = <Kem as hpke::Kem>::PublicKey::from_bytes(recipient_public_key)
        .map_err(|_| invalid_key())?;
    let (encapped, ciphertext) = hpke::single_shot_seal::<Aead, Kdf, Kem>(
        &OpModeS::Base,
        &public,
        HPKE_INFO,
        plaintext,
        attestation_nonce,
    )
    .map_err(|e| SealError::Seal(e.to_string()))?;
    let encapsulated_key: [u8; X25519_KEY_LEN] = encapped
        .to_bytes()
        .as_slice()
        .try_into()
        .map_err(|_| SealError::Seal("unexpected encapsulated key length".into()))?;
    Ok(SealedKey {
        nonce: attestation_nonce.to_vec(),
        encapsulated_key,
        ciphertext,
    })
}

/// The enclave's HPKE key pair. The private key is zeroized on drop (x25519-dalek's
/// `StaticSecret`) and never leaves this type; `Debug` shows the public key only.
pub struct KeyOpener {
    private: <Kem as hpke::Kem>::PrivateKey,
    public: [u8; X25519_KEY_LEN],
}

impl KeyOpener {
    /// Derives the key pair from at least 32 bytes of entropy (in an enclave: the
    /// NSM's, via `AttestationProvider::fill_random`), RFC 9180 `DeriveKeyPair`.
    pub fn from_entropy(ikm: &[u8]) -> Result<Self, SealError> {
        if ikm.len() < KEY_OPENER_IKM_LEN {
            return Err(SealError::ShortEntropy { len: ikm.len() });
        }
        let (private, public) = Kem::derive_keypair(ikm);
        let public: [u8; X25519_KEY_LEN] = public
            .to_bytes()
            .as_slice()
            .try_into()
            .map_err(|_| SealError::Seal("unexpected public key length".into()))?;
        Ok(Self { private, public })
    }

    /// A key pair from the operating system's entropy.
    pub fn generate() -> Result<Self, SealError> {
        let mut ikm = Zeroizing::new([0u8; KEY_OPENER_IKM_LEN]);
        getrandom::fill(ikm.as_mut_slice()).map_err(|e| SealError::Seal(e.to_string()))?;
        Self::from_entropy(ikm.as_slice())
    }

    /// The 32-byte X25519 public key to put in attestation documents.
    pub fn public_key(&self) -> [u8; X25519_KEY_LEN] {
        self.public
    }

    /// Opens a sealed key. The caller checks [`SealedKey::nonce`] against the
    /// nonces it attested before calling this; the nonce is authenticated here
    /// (it is the AEAD's associated data).
    pub fn open(&self, sealed: &SealedKey) -> Result<Zeroizing<Vec<u8>>, SealError> {
        let encapped = <Kem as hpke::Kem>::EncappedKey::from_bytes(&sealed.encapsulated_key)
            .map_err(|_| SealError::Open)?;
        hpke::single_shot_open::<Aead, Kdf, Kem>(
            &OpModeR::Base,
            &self.private,
            &encapped,
            HPKE_INFO,
            &sealed.ciphertext,
            &sealed.nonce,
        )
        .map(Zeroizing::new)
        .map_err(|_| SealError::Open)
    }
}

impl std::fmt::Debug for KeyOpener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyOpener")
            .field("public_key", &crate::hex(&self.public))
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derivation_is_deterministic_and_debug_hides_the_secret() {
        let a = KeyOpener::from_entropy(&[7; 32]).unwrap();
        let b = KeyOpener::from_entropy(&[7; 32]).unwrap();
        assert_eq!(a.public_key(), b.public_key());
        let debug = format!("{a:?}");
        assert!(debug.contains(&crate::hex(&a.public_key())), "{debug}");
        assert!(!debug.contains("private"), "{debug}");
        assert_eq!(
            KeyOpener::from_entropy(&[7; 31]).unwrap_err(),
            SealError::ShortEntropy { len: 31 }
        );
    }

    #[test]
    fn wire_bounds_are_enforced() {
        assert!(matches!(
            SealedKey::from_cbor(&vec![0; SEALED_KEY_MAX + 1]),
            Err(SealError::TooLarge { .. })
        ));
        assert!(matches!(
            SealedKey::from_cbor(b"\xa0"),
            Err(SealError::Malformed(_))
        ));
        let opener = KeyOpener::generate().unwrap();
        let sealed = seal(&opener.public_key(), b"nonce", &[1; 32]).unwrap();
        let mut wire: WireSealedKey =
            ciborium::de::from_reader(sealed.to_cbor().unwrap().as_slice()).unwrap();
        wire.version = 2;
        let mut bytes = Vec::new();
        ciborium::ser::into_writer(&wire, &mut bytes).unwrap();
        assert_eq!(
            SealedKey::from_cbor(&bytes),
            Err(SealError::UnsupportedVersion(2))
        );
        wire.version = 1;
        wire.enc = ByteBuf::from(vec![0; 31]);
        let mut bytes = Vec::new();
        ciborium::ser::into_writer(&wire, &mut bytes).unwrap();
        assert!(matches!(
            SealedKey::from_cbor(&bytes),
            Err(SealError::FieldLength { field: "enc", .. })
        ));
    }
}
