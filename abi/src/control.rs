//! The control channel between enclave-app (server, inside the enclave) and
//! host-proxy (client, on the parent): its messages and their framing, defined once.
//!
//! A frame is a big-endian `u32` length followed by that many bytes of CBOR (one
//! message). Each direction has its limit ([`FrameLimit`]): the host's messages are
//! small ([`MAX_HOST_FRAME_BYTES`]), the enclave's snapshot carries the whole
//! participant list ([`MAX_ENCLAVE_FRAME_BYTES`]). A frame over the receiver's limit
//! is refused from the length prefix alone, before anything is buffered. Both sides send a `Hello` with [`PROTOCOL_VERSION`]
//! first and close on a mismatch. Then the enclave sends a [`Snapshot`] followed by
//! sequence-numbered [`StateEvent`]s; the host folds them with
//! [`crate::state::apply`] and asks for a new snapshot ([`HostMessage::Resync`]) when
//! it sees a gap. Both sides send heartbeats and drop a peer that stays silent for
//! [`PEER_TIMEOUT`]. Requests (attestation, sealed key injection) carry an id that the
//! response echoes.
//!
//! Anything malformed (bad CBOR, an unknown message, an oversized length, a frame cut
//! short) is a [`FrameError`]; the receiver closes that connection and logs why.

use std::{marker::PhantomData, time::Duration};

use alloy::primitives::Address;
use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize, de::DeserializeOwned};
use serde_bytes::ByteBuf;
use tokio_util::codec::{Decoder, Encoder, LengthDelimitedCodec};

use crate::state::{Snapshot, StateEvent, StateLimits};

/// The protocol spoken; bumped on any incompatible change to the messages below.
pub const PROTOCOL_VERSION: u32 = 1;

/// Largest frame the enclave accepts from the host: requests are a nonce and an
/// origin, or a sealed key of at most [`MAX_SEALED_KEY_BYTES`]; 64 KiB is ample, and
/// a hostile host cannot make the enclave buffer more.
pub const MAX_HOST_FRAME_BYTES: usize = 64 * 1024;

/// Largest frame the host accepts from the enclave. The biggest message is a
/// snapshot, which carries the round's whole participant list (about 80 bytes of CBOR
/// a player) besides 1,000 history entries and 10,000 activities (the configurable
/// maxima, about 2.5 MB): 64 MiB holds a round of some 750,000 players. Every other
/// message, a bet's stake update included, is a few hundred bytes.
pub const MAX_ENCLAVE_FRAME_BYTES: usize = 64 * 1024 * 1024;

/// How large a frame carrying one message of this type may be.
pub trait FrameLimit {
    /// The limit, in bytes of payload.
    const MAX_FRAME_BYTES: usize;
}

impl FrameLimit for HostMessage {
    const MAX_FRAME_BYTES: usize = MAX_HOST_FRAME_BYTES;
}

impl FrameLimit for EnclaveMessage {
    const MAX_FRAME_BYTES: usize = MAX_ENCLAVE_FRAME_BYTES;
}

/// Tests and the fuzz target decode or encode one direction only: the other side's
/// type is `()`.
impl FrameLimit for () {
    const MAX_FRAME_BYTES: usize = 0;
}

/// Between heartbeats. Short enough that a dead peer is noticed within seconds,
/// long enough to cost nothing (one tiny frame).
pub const HEARTBEAT_INTERVAL: Duration = Duration::from_secs(5);

/// A peer silent for this long (three missed heartbeats) is dropped.
pub const PEER_TIMEOUT: Duration = Duration::from_secs(15);

/// How long a new connection may take to send its `Hello`.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(5);

/// Attestation nonces: at least one byte, at most 64 (the document's nonce field
/// allows 512; 64 is ample for any freshness scheme and keeps requests small).
pub const NONCE_BYTES: std::ops::RangeInclusive<usize> = 1..=64;

/// Largest sealed operator key accepted: an HPKE encapsulated key plus a 32-byte
/// secret and its tag are well under 1 KiB; 4 KiB leaves room for framing changes.
pub const MAX_SEALED_KEY_BYTES: usize = 4096;

/// Longest request origin ([`Request::Attestation`]'s `origin`): an IPv6 /64 in text
/// is 24 characters; 64 leaves room for another scheme of naming clients.
pub const MAX_ORIGIN_BYTES: usize = 64;

/// What enclave-app sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EnclaveMessage {
    /// First message on every connection.
    Hello(EnclaveHello),
    /// The whole state; sent after `Hello`, after a `Resync` request, and whenever
    /// the enclave dropped events for this connection.
    Snapshot(Box<Snapshot>),
    /// One change, numbered one past the previous event or snapshot.
    Event(StateEvent),
    /// Sent every [`HEARTBEAT_INTERVAL`], with the sequence number of the last state
    /// sent on this connection: a host holding another one has lost track (a bug, or
    /// tampering in transit) and asks for a snapshot.
    Heartbeat {
        /// The sequence number of the last snapshot or event sent.
        seq: u64,
    },
    /// The answer to [`HostMessage::Request`] with the same `id`.
    Response {
        /// The request's id.
        id: u64,
        /// What happened.
        result: Result<Response, RequestError>,
    },
}

/// enclave-app's greeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnclaveHello {
    /// [`PROTOCOL_VERSION`] of the sender.
    pub protocol_version: u32,
    /// enclave-app's version (its `Cargo.toml` version).
    pub app_version: String,
    /// The bounds of the history and activity lists, which a subscriber needs to fold
    /// events into the same lists.
    pub limits: StateLimits,
}

/// What host-proxy sends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostMessage {
    /// First message on every connection.
    Hello {
        /// [`PROTOCOL_VERSION`] of the sender.
        protocol_version: u32,
    },
    /// The host saw a gap: send a fresh snapshot.
    Resync,
    /// Sent every [`HEARTBEAT_INTERVAL`].
    Heartbeat,
    /// A request relayed from the web API.
    Request {
        /// Chosen by the host; echoed in the response.
        id: u64,
        /// What is asked.
        request: Request,
    },
}

/// Requests the host relays to the enclave.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Request {
    /// A fresh attestation document binding `nonce`.
    Attestation {
        /// The caller's nonce, [`NONCE_BYTES`] long.
        nonce: ByteBuf,
        /// Who asked, as the host names its clients (host-proxy: the client's
        /// address), at most [`MAX_ORIGIN_BYTES`]. The enclave remembers nonces per
        /// origin, so one client's flood cannot push out another's; a host that
        /// lies here can only mix up its own clients. Absent from older hosts.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        origin: Option<String>,
    },
    /// An operator key sealed to the enclave's public key (the host cannot read it).
    InjectKey {
        /// The sealed key, at most [`MAX_SEALED_KEY_BYTES`].
        sealed: ByteBuf,
    },
}

impl Request {
    /// Checks sizes before the request is relayed or acted on.
    ///
    /// # Errors
    /// A [`RequestError`] of kind [`RequestErrorKind::Invalid`] saying what is wrong.
    pub fn validate(&self) -> Result<(), RequestError> {
        match self {
            Self::Attestation { nonce, .. } if !NONCE_BYTES.contains(&nonce.len()) => {
                Err(RequestError::invalid(format!(
                    "the nonce must be {} to {} bytes, not {}",
                    NONCE_BYTES.start(),
                    NONCE_BYTES.end(),
                    nonce.len()
                )))
            }
            Self::Attestation {
                origin: Some(origin),
                ..
            } if origin.len() > MAX_ORIGIN_BYTES => Err(RequestError::invalid(format!(
                "the origin is {} bytes; at most {MAX_ORIGIN_BYTES} are accepted",
                origin.len()
            ))),
            Self::InjectKey { sealed } if sealed.is_empty() => {
                Err(RequestError::invalid("the sealed key is empty"))
            }
            Self::InjectKey { sealed } if sealed.len() > MAX_SEALED_KEY_BYTES => {
                Err(RequestError::invalid(format!(
                    "the sealed key is {} bytes; at most {MAX_SEALED_KEY_BYTES} are accepted",
                    sealed.len()
                )))
            }
            _ => Ok(()),
        }
    }

    /// A short name for logs and metrics.
    pub const fn name(&self) -> &'static str {
        match self {
            Self::Attestation { .. } => "attestation",
            Self::InjectKey { .. } => "inject_key",
        }
    }
}

/// Successful answers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Response {
    /// The attestation document (COSE_Sign1 bytes).
    Attestation {
        /// The document.
        document: ByteBuf,
    },
    /// The sealed key was accepted; the operator now signs with it.
    KeyInjected {
        /// The key's address.
        #[serde(with = "crate::wire::checksummed")]
        operator: Address,
    },
}

/// Why a request failed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{kind}: {message}")]
pub struct RequestError {
    /// The class of failure, which the web API maps to a status code.
    pub kind: RequestErrorKind,
    /// A sentence for the caller; never holds key material.
    pub message: String,
}

impl RequestError {
    /// A request that is malformed.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            kind: RequestErrorKind::Invalid,
            message: message.into(),
        }
    }

    /// A well-formed request the enclave will not carry out.
    pub fn refused(message: impl Into<String>) -> Self {
        Self {
            kind: RequestErrorKind::Refused,
            message: message.into(),
        }
    }

    /// A request this build cannot serve.
    pub fn unsupported(message: impl Into<String>) -> Self {
        Self {
            kind: RequestErrorKind::Unsupported,
            message: message.into(),
        }
    }

    /// A failure inside the enclave.
    pub fn internal(message: impl Into<String>) -> Self {
        Self {
            kind: RequestErrorKind::Internal,
            message: message.into(),
        }
    }
}

/// Classes of request failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RequestErrorKind {
    /// Malformed input (HTTP 400).
    Invalid,
    /// Refused by policy, such as a second key injection (HTTP 409).
    Refused,
    /// Not available in this build or mode (HTTP 501).
    Unsupported,
    /// The enclave failed (HTTP 500).
    Internal,
}

impl std::fmt::Display for RequestErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Invalid => "invalid request",
            Self::Refused => "refused",
            Self::Unsupported => "unsupported",
            Self::Internal => "internal error",
        })
    }
}

/// Why a frame could not be read or written. Every variant but `Io` means the peer
/// sent something malformed: the connection is closed.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The socket failed.
    #[error("connection error: {0}")]
    Io(#[source] std::io::Error),
    /// The length prefix announced more than the receiver's limit ([`FrameLimit`]).
    #[error("frame larger than the {limit}-byte limit")]
    TooLarge {
        /// The limit.
        limit: usize,
    },
    /// The connection ended in the middle of a frame.
    #[error("connection closed in the middle of a frame")]
    Truncated,
    /// The payload is not a CBOR message of the expected kind.
    #[error("malformed message: {0}")]
    Malformed(#[source] ciborium::de::Error<std::io::Error>),
    /// A message could not be encoded (a bug, not bad input).
    #[error("cannot encode a message: {0}")]
    Encode(#[source] ciborium::ser::Error<std::io::Error>),
    /// An encoded message is larger than a frame may be (a bug, not bad input).
    #[error("a {len}-byte message exceeds the {limit}-byte frame limit")]
    MessageTooLarge {
        /// The encoded message's length.
        len: usize,
        /// The limit.
        limit: usize,
    },
}

impl From<std::io::Error> for FrameError {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

impl FrameError {
    /// A codec error on a stream whose frames may be `limit` bytes:
    /// `LengthDelimitedCodec` reports an oversized prefix as `InvalidData`.
    fn from_codec(e: std::io::Error, limit: usize) -> Self {
        if e.kind() == std::io::ErrorKind::InvalidData {
            Self::TooLarge { limit }
        } else {
            Self::Io(e)
        }
    }
}

/// Why a control connection ended: the reason both sides log.
#[derive(Debug, thiserror::Error)]
pub enum SessionEnd {
    /// A frame was malformed, or the socket failed.
    #[error("{0}")]
    Frame(#[from] FrameError),
    /// The peer closed the connection.
    #[error("closed by the peer")]
    Closed,
    /// The peer sent no `Hello` within [`HANDSHAKE_TIMEOUT`].
    #[error("no Hello within {} s", HANDSHAKE_TIMEOUT.as_secs())]
    NoHello,
    /// The peer's first message was something else.
    #[error("the first message was not Hello")]
    NotHello,
    /// The peer speaks another protocol version.
    #[error("the peer speaks protocol version {0}, not {PROTOCOL_VERSION}")]
    Version(u32),
    /// The peer said `Hello` twice.
    #[error("a second Hello")]
    SecondHello,
    /// The peer sent nothing, not even heartbeats, for [`PEER_TIMEOUT`].
    #[error("the peer sent nothing for {} s", PEER_TIMEOUT.as_secs())]
    Silent,
    /// The peer did not read what was sent for [`PEER_TIMEOUT`].
    #[error("the peer did not read for {} s", PEER_TIMEOUT.as_secs())]
    NotReading,
    /// This side is shutting down.
    #[error("shutting down")]
    Shutdown,
}

/// Sends one message, giving up on a peer that does not read for [`PEER_TIMEOUT`].
///
/// # Errors
/// [`SessionEnd::Frame`] or [`SessionEnd::NotReading`].
pub async fn send_message<S, In, Out>(
    conn: &mut tokio_util::codec::Framed<S, FrameCodec<In, Out>>,
    message: Out,
) -> Result<(), SessionEnd>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    Out: Serialize + FrameLimit,
{
    use futures_util::SinkExt;
    match tokio::time::timeout(PEER_TIMEOUT, conn.send(message)).await {
        Ok(result) => result.map_err(SessionEnd::from),
        Err(_) => Err(SessionEnd::NotReading),
    }
}

/// A tokio codec that reads `In` and writes `Out` as length-prefixed CBOR frames.
/// Use with `tokio_util::codec::Framed`.
#[derive(Debug)]
pub struct FrameCodec<In, Out> {
    /// Reads, with `In`'s limit.
    frames: LengthDelimitedCodec,
    /// Writes, with `Out`'s limit.
    writes: LengthDelimitedCodec,
    /// Whether the length prefix of a frame not yet complete has been consumed
    /// (`LengthDelimitedCodec` keeps that to itself), so that end of input there is
    /// reported as a cut-off frame.
    in_frame: bool,
    _types: PhantomData<fn(Out) -> In>,
}

/// The enclave's side: reads [`HostMessage`], writes [`EnclaveMessage`].
pub type EnclaveCodec = FrameCodec<HostMessage, EnclaveMessage>;

/// The host's side: reads [`EnclaveMessage`], writes [`HostMessage`].
pub type HostCodec = FrameCodec<EnclaveMessage, HostMessage>;

impl<In: FrameLimit, Out: FrameLimit> Default for FrameCodec<In, Out> {
    fn default() -> Self {
        let codec = |limit| {
            LengthDelimitedCodec::builder()
                .length_field_length(4)
                .big_endian()
                .max_frame_length(limit)
                .new_codec()
        };
        Self {
            frames: codec(In::MAX_FRAME_BYTES),
            writes: codec(Out::MAX_FRAME_BYTES),
            in_frame: false,
            _types: PhantomData,
        }
    }
}

impl<In: DeserializeOwned + FrameLimit, Out> Decoder for FrameCodec<In, Out> {
    type Item = In;
    type Error = FrameError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<In>, FrameError> {
        let before = src.len();
        let frame = self
            .frames
            .decode(src)
            .map_err(|e| FrameError::from_codec(e, In::MAX_FRAME_BYTES))?;
        match frame {
            Some(frame) => {
                self.in_frame = false;
                decode_message(&frame).map(Some)
            }
            None => {
                self.in_frame |= src.len() < before;
                Ok(None)
            }
        }
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<In>, FrameError> {
        match self.decode(src)? {
            Some(message) => Ok(Some(message)),
            None if src.is_empty() && !self.in_frame => Ok(None),
            None => Err(FrameError::Truncated),
        }
    }
}

impl<In, Out: Serialize + FrameLimit> Encoder<Out> for FrameCodec<In, Out> {
    type Error = FrameError;

    fn encode(&mut self, message: Out, dst: &mut BytesMut) -> Result<(), FrameError> {
        let mut payload = Vec::new();
        ciborium::into_writer(&message, &mut payload).map_err(FrameError::Encode)?;
        let limit = Out::MAX_FRAME_BYTES;
        if payload.len() > limit {
            return Err(FrameError::MessageTooLarge {
                len: payload.len(),
                limit,
            });
        }
        self.writes
            .encode(Bytes::from(payload), dst)
            .map_err(|e| FrameError::from_codec(e, limit))
    }
}

/// Decodes one frame's payload.
fn decode_message<T: DeserializeOwned>(payload: &[u8]) -> Result<T, FrameError> {
    ciborium::from_reader(payload).map_err(FrameError::Malformed)
}

/// Decodes every whole frame in `bytes` as messages of type `T`, as a receiver would:
/// the entry point of the frame fuzz target and the malformed-input tests. Stops at
/// the first error.
///
/// # Errors
/// The first [`FrameError`] met, including [`FrameError::Truncated`] when the input
/// ends inside a frame.
pub fn decode_stream<T: DeserializeOwned + FrameLimit>(bytes: &[u8]) -> Result<Vec<T>, FrameError> {
    let mut codec = FrameCodec::<T, ()>::default();
    let mut buffer = BytesMut::from(bytes);
    let mut out = Vec::new();
    while let Some(message) = codec.decode_eof(&mut buffer)? {
        out.push(message);
    }
    Ok(out)
}

/// Encodes `message` as one frame (length prefix included).
///
/// # Errors
/// [`FrameError::MessageTooLarge`] when the message is too large.
pub fn encode_frame<T: Serialize + FrameLimit>(message: T) -> Result<Vec<u8>, FrameError> {
    let mut codec = FrameCodec::<(), T>::default();
    let mut buffer = BytesMut::new();
    codec.encode(message, &mut buffer)?;
    Ok(buffer.to_vec())
}

#[cfg(test)]
mod tests {
    use alloy::primitives::{B256, U256, address};

    use super::*;
    use crate::{
        contract::RefundReason,
        state::{
            ChainHead, HistoryEntry, OperatorStatus, ParticipantList, Settlement, Stake,
            StateChange,
        },
    };

    fn snapshot() -> Snapshot {
        Snapshot {
            seq: 7,
            contract: address!("5FbDB2315678afecb367f032d93F642f64180aa3"),
            chain_id: 31337,
            head: Some(ChainHead {
                number: 12,
                hash: B256::repeat_byte(0xab),
                timestamp: 1_700_000_000,
            }),
            config: None,
            round: None,
            participants: ParticipantList::new(
                3,
                vec![Stake {
                    address: address!("70997970C51812dc3A010C7d01b50e0d17dc79C8"),
                    amount: U256::from(10u64).pow(U256::from(18u64)),
                }],
            )
            .unwrap(),
            history: vec![
                HistoryEntry {
                    round_id: 2,
                    total_pot: U256::from(5u64),
                    participant_count: 1,
                    settlement: Settlement::Refunded {
                        reason: RefundReason::NotEnoughParticipants,
                    },
                    settled_at: 1_700_000_000,
                    block_number: 11,
                    transaction_hash: B256::repeat_byte(1),
                },
                HistoryEntry {
                    round_id: 1,
                    total_pot: U256::from(9u64),
                    participant_count: 2,
                    settlement: Settlement::Completed {
                        winner: address!("70997970C51812dc3A010C7d01b50e0d17dc79C8"),
                        prize: U256::from(8u64),
                        commission: U256::from(1u64),
                        seed: B256::repeat_byte(9),
                    },
                    settled_at: 1_699_999_000,
                    block_number: 5,
                    transaction_hash: B256::repeat_byte(2),
                },
            ],
            activities: vec![],
            operator: OperatorStatus::Drawing {
                round_id: 3,
                transaction_hash: Some(B256::repeat_byte(3)),
            },
        }
    }

    fn round_trip<
        T: Serialize + DeserializeOwned + FrameLimit + PartialEq + std::fmt::Debug + Clone,
    >(
        message: T,
    ) {
        let frame = encode_frame(message.clone()).unwrap();
        let length = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(length, frame.len() - 4);
        assert_eq!(decode_stream::<T>(&frame).unwrap(), vec![message]);
    }

    #[test]
    fn every_message_round_trips() {
        round_trip(EnclaveMessage::Hello(EnclaveHello {
            protocol_version: PROTOCOL_VERSION,
            app_version: "0.1.0".into(),
            limits: StateLimits::default(),
        }));
        round_trip(EnclaveMessage::Snapshot(Box::new(snapshot())));
        round_trip(EnclaveMessage::Event(StateEvent {
            seq: 8,
            change: StateChange::OperatorUpdate(OperatorStatus::Idle),
        }));
        round_trip(EnclaveMessage::Event(StateEvent {
            seq: 9,
            change: StateChange::Reorged { from_block: 4 },
        }));
        round_trip(EnclaveMessage::Heartbeat { seq: 9 });
        round_trip(EnclaveMessage::Response {
            id: 3,
            result: Ok(Response::Attestation {
                document: ByteBuf::from(vec![1, 2, 3]),
            }),
        });
        round_trip(EnclaveMessage::Response {
            id: 4,
            result: Err(RequestError::refused("a key was already injected")),
        });
        round_trip(HostMessage::Hello {
            protocol_version: PROTOCOL_VERSION,
        });
        round_trip(HostMessage::Resync);
        round_trip(HostMessage::Heartbeat);
        round_trip(HostMessage::Request {
            id: 1,
            request: Request::InjectKey {
                sealed: ByteBuf::from(vec![0; 100]),
            },
        });
    }

    #[test]
    fn byte_fields_are_cbor_byte_strings() {
        // 64 bytes of nonce should cost ~64 bytes, not an array of 64 integers.
        let frame = encode_frame(HostMessage::Request {
            id: 1,
            request: Request::Attestation {
                nonce: ByteBuf::from(vec![0xff; 64]),
                origin: None,
            },
        })
        .unwrap();
        // As integers, 64 bytes of 0xff would take 128 bytes on their own.
        assert!(frame.len() < 120, "{} bytes", frame.len());
    }

    #[test]
    fn an_attestation_request_without_origin_still_decodes() {
        // What a host from before `origin` sends: the same map without the key.
        #[derive(Serialize)]
        #[serde(rename_all = "snake_case")]
        enum OldRequest {
            Attestation { nonce: ByteBuf },
        }
        let mut bytes = Vec::new();
        ciborium::into_writer(
            &OldRequest::Attestation {
                nonce: ByteBuf::from(vec![1, 2]),
            },
            &mut bytes,
        )
        .unwrap();
        let decoded: Request = ciborium::from_reader(bytes.as_slice()).unwrap();
        assert_eq!(
            decoded,
            Request::Attestation {
                nonce: ByteBuf::from(vec![1, 2]),
                origin: None
            }
        );
    }

    #[test]
    fn several_frames_in_one_buffer_decode_in_order() {
        let mut bytes = encode_frame(HostMessage::Heartbeat).unwrap();
        bytes.extend(encode_frame(HostMessage::Resync).unwrap());
        assert_eq!(
            decode_stream::<HostMessage>(&bytes).unwrap(),
            vec![HostMessage::Heartbeat, HostMessage::Resync]
        );
    }

    #[test]
    fn oversized_prefix_is_refused_before_buffering() {
        let mut bytes = u32::try_from(MAX_HOST_FRAME_BYTES + 1)
            .unwrap()
            .to_be_bytes()
            .to_vec();
        bytes.extend([0; 16]);
        assert!(matches!(
            decode_stream::<HostMessage>(&bytes),
            Err(FrameError::TooLarge {
                limit: MAX_HOST_FRAME_BYTES
            })
        ));
        let huge = u32::MAX.to_be_bytes();
        assert!(matches!(
            decode_stream::<HostMessage>(&huge),
            Err(FrameError::TooLarge { .. })
        ));
        // The enclave's direction allows a round's whole participant list.
        let mut big = u32::try_from(MAX_HOST_FRAME_BYTES + 1)
            .unwrap()
            .to_be_bytes()
            .to_vec();
        big.extend([0; 16]);
        assert!(matches!(
            decode_stream::<EnclaveMessage>(&big),
            Err(FrameError::Truncated)
        ));
        let mut over = u32::try_from(MAX_ENCLAVE_FRAME_BYTES + 1)
            .unwrap()
            .to_be_bytes()
            .to_vec();
        over.extend([0; 16]);
        assert!(matches!(
            decode_stream::<EnclaveMessage>(&over),
            Err(FrameError::TooLarge {
                limit: MAX_ENCLAVE_FRAME_BYTES
            })
        ));
    }

    #[test]
    fn truncated_frames_are_reported() {
        let frame = encode_frame(HostMessage::Heartbeat).unwrap();
        for cut in 1..frame.len() {
            let err = decode_stream::<HostMessage>(&frame[..cut]).unwrap_err();
            assert!(matches!(err, FrameError::Truncated), "{cut}: {err}");
        }
        assert!(decode_stream::<HostMessage>(&[]).unwrap().is_empty());
    }

    #[test]
    fn garbage_and_wrong_messages_are_malformed() {
        for payload in [vec![0xff, 0x00, 0x13], b"not cbor at all".to_vec(), vec![]] {
            let mut frame = u32::try_from(payload.len()).unwrap().to_be_bytes().to_vec();
            frame.extend(&payload);
            let err = decode_stream::<HostMessage>(&frame).unwrap_err();
            assert!(matches!(err, FrameError::Malformed(_)), "{err}");
        }
        // A valid enclave message is not a host message.
        let frame = encode_frame(EnclaveMessage::Snapshot(Box::new(snapshot()))).unwrap();
        assert!(matches!(
            decode_stream::<HostMessage>(&frame),
            Err(FrameError::Malformed(_))
        ));
        // Deep nesting is bounded by the decoder, not the stack.
        let mut payload = vec![0x81; 100_000];
        payload.push(0x00);
        let mut frame = u32::try_from(payload.len()).unwrap().to_be_bytes().to_vec();
        frame.extend(&payload);
        assert!(decode_stream::<HostMessage>(&frame).is_err());
    }

    #[test]
    fn requests_are_validated() {
        let nonce = |n| Request::Attestation {
            nonce: ByteBuf::from(vec![7; n]),
            origin: None,
        };
        assert!(nonce(1).validate().is_ok());
        assert!(nonce(64).validate().is_ok());
        for n in [0, 65, 512] {
            let err = nonce(n).validate().unwrap_err();
            assert_eq!(err.kind, RequestErrorKind::Invalid);
            assert!(err.message.contains("1 to 64 bytes"), "{err}");
        }
        let sealed = |n| Request::InjectKey {
            sealed: ByteBuf::from(vec![7; n]),
        };
        assert!(sealed(200).validate().is_ok());
        assert!(sealed(0).validate().is_err());
        assert!(sealed(MAX_SEALED_KEY_BYTES + 1).validate().is_err());
        let from = |origin: String| Request::Attestation {
            nonce: ByteBuf::from(vec![7; 8]),
            origin: Some(origin),
        };
        assert!(from("2001:db8:1:2::/64".to_owned()).validate().is_ok());
        assert!(from("x".repeat(MAX_ORIGIN_BYTES + 1)).validate().is_err());
    }
}
