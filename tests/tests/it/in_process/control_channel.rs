//! The control channel in-process over real loopback sockets: enclave-app's
//! `ControlServer` on a store, host-proxy's client, and hand-driven peers for what a
//! well-behaved peer never does (gaps, foreign sequence numbers).

use std::{future::Future, pin::Pin, sync::Arc, time::Duration};

use abi::{
    control::{
        EnclaveCodec, EnclaveHello, EnclaveMessage, HostMessage, PROTOCOL_VERSION, Request,
        RequestError, RequestErrorKind, Response,
    },
    state::{ChainHead, OperatorStatus, StateChange, StateEvent, StateLimits},
};

use alloy::primitives::{Address, B256};
use enclave_app::{
    control::{ControlServer, MAX_CONNECTIONS, NoAttestation, RequestHandler},
    store::Store,
};
use futures_util::{SinkExt, StreamExt};
use host_proxy::{
    control::{self, ControlHandle, RelayError},
    state::HostState,
};
use net::Endpoint;
use serde_bytes::ByteBuf;
use tests::eventually;
use tokio::io::AsyncReadExt;
use tokio_util::{codec::Framed, sync::CancellationToken};

/// Answers attestation requests with the nonce reversed, after a delay that makes
/// answers arrive out of order.
struct Echo;

impl RequestHandler for Echo {
    fn handle(
        &self,
        request: Request,
    ) -> Pin<Box<dyn Future<Output = Result<Response, RequestError>> + Send + '_>> {
        Box::pin(async move {
            let Request::Attestation { nonce, .. } = request else {
                return Err(RequestError::refused("only attestation here"));
            };
            tokio::time::sleep(Duration::from_millis(u64::from(50 - nonce[0]))).await;
            let mut document = nonce.into_vec();
            document.reverse();
            Ok(Response::Attestation {
                document: ByteBuf::from(document),
            })
        })
    }
}

struct Pair {
    store: Store,
    host: HostState,
    handle: ControlHandle,
    endpoint: Endpoint,
    shutdown: CancellationToken,
}

impl Drop for Pair {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

async fn pair(store: Store, handler: Arc<dyn RequestHandler>) -> Pair {
    let shutdown = CancellationToken::new();
    let server = ControlServer::bind(&Endpoint::loopback(0), store.clone(), handler)
        .await
        .unwrap();
    let endpoint = server.local().clone();
    tokio::spawn(server.run(shutdown.clone()));
    let host = HostState::new();
    let (client, handle) = control::client(endpoint.clone(), host.clone());
    tokio::spawn(client.run(shutdown.clone()));
    eventually(10, "the first snapshot", || host.snapshot()).await;
    Pair {
        store,
        host,
        handle,
        endpoint,
        shutdown,
    }
}

fn store(capacity: usize) -> Store {
    Store::with_capacity(
        Address::repeat_byte(7),
        31337,
        StateLimits::default(),
        capacity,
    )
}

fn head(number: u64) -> ChainHead {
    ChainHead {
        number,
        hash: B256::with_last_byte(u8::try_from(number % 256).unwrap()),
        timestamp: 1_700_000_000 + number,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_follows_every_change_and_requests_get_their_own_answers() {
    let pair = pair(store(1024), Arc::new(Echo)).await;
    for n in 1..=50 {
        pair.store.set_head(head(n));
    }
    pair.store.set_operator(OperatorStatus::Idle);
    let expected = pair.store.snapshot();
    eventually(10, "the host to catch up", || {
        pair.host.snapshot().filter(|s| **s == expected)
    })
    .await;

    // Concurrent requests, answered out of order, each reach their own caller.
    let answers = futures_util::future::join_all((0u8..8).map(|i| {
        let handle = pair.handle.clone();
        async move {
            let nonce = vec![i * 5, 1, 2];
            (
                nonce.clone(),
                handle
                    .request(Request::Attestation {
                        nonce: ByteBuf::from(nonce),
                        origin: None,
                    })
                    .await,
            )
        }
    }))
    .await;
    for (mut nonce, answer) in answers {
        nonce.reverse();
        assert_eq!(
            answer.unwrap(),
            Response::Attestation {
                document: ByteBuf::from(nonce)
            }
        );
    }
    // The handler's refusal comes back as such; bad sizes never leave the host.
    let refused = pair
        .handle
        .request(Request::InjectKey {
            sealed: ByteBuf::from(vec![1; 64]),
        })
        .await
        .unwrap_err();
    assert!(
        matches!(&refused, RelayError::Enclave(e) if e.kind == RequestErrorKind::Refused),
        "{refused}"
    );
    let invalid = pair
        .handle
        .request(Request::Attestation {
            nonce: ByteBuf::from(vec![0; 65]),
            origin: None,
        })
        .await
        .unwrap_err();
    assert!(matches!(invalid, RelayError::Invalid(_)), "{invalid}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_answered_even_before_attestation_exists() {
    let pair = pair(store(1024), Arc::new(NoAttestation)).await;
    let answer = pair
        .handle
        .request(Request::Attestation {
            nonce: ByteBuf::from(vec![9; 32]),
            origin: None,
        })
        .await
        .unwrap_err();
    let RelayError::Enclave(error) = answer else {
        panic!("{answer}")
    };
    assert_eq!(error.kind, RequestErrorKind::Unsupported);
    assert!(error.message.contains("attestation"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_falls_behind_gets_a_snapshot_and_converges() {
    // A feed of 2 events: any burst overruns it.
    let pair = pair(store(2), Arc::new(NoAttestation)).await;
    for n in 1..=2_000 {
        pair.store.set_head(head(n));
        if n % 100 == 0 {
            pair.store.set_operator(OperatorStatus::Error {
                reason: format!("burst {n}"),
            });
        }
    }
    let expected = pair.store.snapshot();
    assert_eq!(expected.head.unwrap().number, 2_000);
    eventually(10, "the host to converge", || {
        pair.host.snapshot().filter(|s| **s == expected)
    })
    .await;
    assert!(pair.host.status().connected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_beyond_the_cap_are_closed_and_the_server_carries_on() {
    let pair = pair(store(1024), Arc::new(NoAttestation)).await;
    // The host holds one slot; fill the rest with connections that never say Hello.
    let mut idle = Vec::new();
    for _ in 1..MAX_CONNECTIONS {
        idle.push(pair.endpoint.connect().await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut extra = pair.endpoint.connect().await.unwrap();
    let mut buffer = [0u8; 64];
    let read = tokio::time::timeout(Duration::from_secs(2), extra.read(&mut buffer))
        .await
        .expect("the extra connection is closed at once");
    assert!(matches!(read, Ok(0) | Err(_)), "{read:?}");
    // The host's connection is unaffected, and slots free up again.
    pair.store.set_head(head(1));
    eventually(5, "the host to see the head", || {
        pair.host.snapshot().filter(|s| s.head == Some(head(1)))
    })
    .await;
    drop(idle);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut conn = Framed::new(
        pair.endpoint.connect().await.unwrap(),
        abi::control::HostCodec::default(),
    );
    let first = tokio::time::timeout(Duration::from_secs(2), conn.next())
        .await
        .unwrap()
        .unwrap()
        .unwrap();
    assert!(matches!(first, EnclaveMessage::Hello(_)), "{first:?}");
}

/// A hand-driven enclave: accepts host-proxy's client and speaks the protocol
/// through the test's hands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gaps_and_foreign_sequence_numbers_make_the_host_resync() {
    let listener = Endpoint::loopback(0).listen().await.unwrap();
    let host = HostState::new();
    let (client, _handle) = control::client(listener.local().clone(), host.clone());
    let shutdown = CancellationToken::new();
    tokio::spawn(client.run(shutdown.clone()));
    let (stream, _) = listener.accept().await.unwrap();
    let mut enclave = Framed::new(stream, EnclaveCodec::default());

    /// The next message that is not a heartbeat.
    async fn next(enclave: &mut Framed<net::Stream, EnclaveCodec>) -> HostMessage {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(10), enclave.next())
                .await
                .expect("a message from the host")
                .expect("an open connection")
                .expect("a well-formed message");
            if message != HostMessage::Heartbeat {
                return message;
            }
        }
    }

    assert_eq!(
        next(&mut enclave).await,
        HostMessage::Hello {
            protocol_version: PROTOCOL_VERSION
        }
    );
    enclave
        .send(EnclaveMessage::Hello(EnclaveHello {
            protocol_version: PROTOCOL_VERSION,
            app_version: "test".into(),
            limits: StateLimits::default(),
        }))
        .await
        .unwrap();
    let mut snapshot = store(16).snapshot();
    snapshot.seq = 5;
    enclave
        .send(EnclaveMessage::Snapshot(Box::new(snapshot.clone())))
        .await
        .unwrap();
    let event = |seq| StateEvent {
        seq,
        change: StateChange::HeadUpdate(head(seq)),
    };
    enclave.send(EnclaveMessage::Event(event(6))).await.unwrap();
    eventually(5, "seq 6", || (host.status().seq == Some(6)).then_some(())).await;

    // Event 8 after 6: a gap. The host asks for a snapshot and ignores events until it
    // comes.
    enclave.send(EnclaveMessage::Event(event(8))).await.unwrap();
    assert_eq!(next(&mut enclave).await, HostMessage::Resync);
    enclave.send(EnclaveMessage::Event(event(9))).await.unwrap();
    snapshot.seq = 9;
    snapshot.head = Some(head(9));
    enclave
        .send(EnclaveMessage::Snapshot(Box::new(snapshot.clone())))
        .await
        .unwrap();
    eventually(5, "the new snapshot", || {
        host.snapshot().filter(|s| **s == snapshot)
    })
    .await;

    // A heartbeat naming another sequence number than the one held: resync too.
    enclave
        .send(EnclaveMessage::Heartbeat { seq: 12 })
        .await
        .unwrap();
    assert_eq!(next(&mut enclave).await, HostMessage::Resync);
    // One naming the held number is quiet.
    snapshot.seq = 12;
    enclave
        .send(EnclaveMessage::Snapshot(Box::new(snapshot.clone())))
        .await
        .unwrap();
    enclave
        .send(EnclaveMessage::Heartbeat { seq: 12 })
        .await
        .unwrap();
    enclave
        .send(EnclaveMessage::Event(event(13)))
        .await
        .unwrap();
    eventually(5, "seq 13", || {
        (host.status().seq == Some(13)).then_some(())
    })
    .await;
    shutdown.cancel();
}
