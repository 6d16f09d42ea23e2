//! JSON-RPC over a WebSocket (`ws://`, `wss://`) for alloy: alloy's own pubsub
//! service (`alloy::pubsub`: request/response matching, subscription aliasing,
//! broadcast channels per subscription) on a backend of ours, a tokio-tungstenite
//! socket over the same streams as HTTP: an [`Endpoint`] (the enclave's egress, or a
//! direct TCP connection to the URL's host) with TLS by [`crate::tls_config`] for
//! `wss://`, ending in this process.
//!
//! # Reconnection is the owner's, and visible
//!
//! alloy's pubsub service reconnects a dropped backend by itself and re-issues the
//! subscriptions, silently: a subscriber would never learn that the socket was down
//! while blocks went by, and `eth_subscribe` only pushes what happens after it, so
//! every log of the gap would be lost. Here one service lives exactly as long as one
//! socket ([`WsConnect::try_reconnect`] refuses, non-retryably): when the socket
//! drops (close frame, reset, EOF, or no frame for [`DEAD_AFTER`]), every
//! [`Subscription`] of it ends and every request in flight fails. The next request
//! through [`WsTransport`] dials a new socket; subscriptions are made again by
//! whoever holds them (enclave-app's mirror fills the gap from the last block it
//! processed before it trusts a new subscription).
//!
//! What it must not do: hand-write JSON-RPC (alloy's types serialize every request
//! and parse every answer), open a TLS or TCP stack of its own (tokio-tungstenite runs
//! with `handshake` only), or log a URL's path (API keys).

use std::{
    sync::Arc,
    task::{Context, Poll, Waker},
    time::Duration,
};

use alloy::{
    pubsub::{ConnectionHandle, ConnectionInterface, PubSubConnect, PubSubFrontend},
    rpc::{
        client::RpcClient,
        json_rpc::{PubSubItem, RequestPacket, ResponsePacket},
    },
    transports::{TransportError, TransportErrorKind, TransportFut, TransportResult},
};
use futures_util::{SinkExt, StreamExt};
use net::{Endpoint, RpcUrl, Stream};
use rustls::pki_types::ServerName;
use tokio::time::Instant;
use tokio_tungstenite::{
    WebSocketStream,
    tungstenite::{self, Message, protocol::WebSocketConfig},
};
use tokio_util::either::Either;
use tracing::{debug, info, warn};

use crate::{CertificateDer, MAX_RESPONSE_BYTES, TransportSetupError, tls_config};

/// The time allowed for the TLS and WebSocket handshakes once the stream is open
/// (connecting has its own bound, [`net::CONNECT_TIMEOUT`]).
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A ping goes out when nothing arrived for this long. Chains push a head every 2 to
/// 12 s, so a live subscription rarely needs one; an idle socket behind a load
/// balancer (which often cuts after 60 s of silence) gets one well before that.
pub const PING_AFTER: Duration = Duration::from_secs(20);

/// A socket with no frame at all (not even the answer to a ping) for this long is
/// dead: a host or a middlebox that drops packets without a reset would otherwise
/// hold the subscriptions silent forever.
pub const DEAD_AFTER: Duration = Duration::from_secs(60);

/// Notifications buffered per subscription before the slowest reader misses some
/// (alloy's default is 16). A burst of a busy block's logs while the reader is in a
/// view call must fit: 4,096 logs of about 1 KB each is a few MB at most, and a reader
/// that still falls behind sees `Lagged` and re-reads from the chain.
pub const SUBSCRIPTION_BUFFER: usize = 4096;

/// How a [`WsTransport`] opens its socket: where the bytes go and whether TLS runs on
/// top. A [`PubSubConnect`], so alloy's pubsub service runs on it.
#[derive(Clone)]
pub struct WsConnect {
    url: RpcUrl,
    endpoint: Endpoint,
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl std::fmt::Debug for WsConnect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsConnect")
            .field("url", &self.url)
            .field("endpoint", &self.endpoint)
            .field("tls", &self.tls.is_some())
            .finish()
    }
}

/// The socket's byte stream: plain for `ws://`, TLS for `wss://`.
type WsIo = Either<tokio_rustls::client::TlsStream<Stream>, Stream>;

impl WsConnect {
    /// A connector for `url` whose streams go to `endpoint` (the egress), TLS inside
    /// this process for `wss://` against the URL's host, trusting the web PKI roots plus
    /// `extra_roots`.
    ///
    /// # Errors
    /// [`TransportSetupError::WrongScheme`] for an `http(s)://` URL; when the TLS
    /// configuration cannot be built.
    pub fn via(
        endpoint: Endpoint,
        url: RpcUrl,
        extra_roots: &[CertificateDer<'static>],
    ) -> Result<Self, TransportSetupError> {
        if !url.is_websocket() {
            return Err(TransportSetupError::WrongScheme(url));
        }
        let tls = if url.is_tls() {
            Some(Arc::new(tls_config(extra_roots)?))
        } else {
            None
        };
        Ok(Self { url, endpoint, tls })
    }

    /// A connector dialing the URL's own host and port directly (CLI, tests, sim mode
    /// without egress).
    ///
    /// # Errors
    /// As [`WsConnect::via`].
    pub fn direct(
        url: RpcUrl,
        extra_roots: &[CertificateDer<'static>],
    ) -> Result<Self, TransportSetupError> {
        let host = url.uri().host().unwrap_or_default();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .to_owned();
        let port = url
            .uri()
            .port_u16()
            .unwrap_or(if url.is_tls() { 443 } else { 80 });
        Self::via(Endpoint::Tcp { host, port }, url, extra_roots)
    }

    /// The URL.
    pub const fn url(&self) -> &RpcUrl {
        &self.url
    }

    /// Opens the stream, runs TLS for `wss://` and the WebSocket upgrade.
    async fn open(&self) -> Result<WebSocketStream<WsIo>, WsConnectError> {
        let stream = self.endpoint.connect().await?;
        let handshakes = async {
            let io: WsIo = match &self.tls {
                Some(config) => {
                    let host = self.url.uri().host().unwrap_or_default();
                    let host = host
                        .strip_prefix('[')
                        .and_then(|h| h.strip_suffix(']'))
                        .unwrap_or(host);
                    let name = ServerName::try_from(host.to_owned())
                        .map_err(|_| WsConnectError::ServerName)?;
                    let tls = tokio_rustls::TlsConnector::from(config.clone())
                        .connect(name, stream)
                        .await
                        .map_err(WsConnectError::Tls)?;
                    Either::Left(tls)
                }
                None => Either::Right(stream),
            };
            let config = WebSocketConfig::default()
                .max_message_size(Some(MAX_RESPONSE_BYTES))
                .max_frame_size(Some(MAX_RESPONSE_BYTES));
            // The full URL (path and query included: they may carry the provider's
            // API key) goes in the upgrade request, inside TLS for `wss://`.
            let (socket, _) = tokio_tungstenite::client_async_with_config(
                self.url.uri().to_string(),
                io,
                Some(config),
            )
            .await
            .map_err(WsConnectError::Handshake)?;
            Ok(socket)
        };
        tokio::time::timeout(HANDSHAKE_TIMEOUT, handshakes)
            .await
            .map_err(|_| WsConnectError::HandshakeTimeout)?
    }
}

/// Why a WebSocket could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum WsConnectError {
    /// The stream could not be opened (the egress, or the host directly).
    #[error(transparent)]
    Connect(#[from] net::EndpointError),
    /// The URL's host is not a TLS server name.
    #[error("the RPC URL's host is not a valid TLS server name")]
    ServerName,
    /// The TLS handshake failed (a rejected certificate among others).
    #[error("TLS handshake failed")]
    Tls(#[source] std::io::Error),
    /// The WebSocket upgrade failed (an HTTP error status, a bad answer).
    #[error("WebSocket handshake failed")]
    Handshake(#[source] tungstenite::Error),
    /// The handshakes took longer than [`HANDSHAKE_TIMEOUT`].
    #[error("no WebSocket handshake within {} s", HANDSHAKE_TIMEOUT.as_secs())]
    HandshakeTimeout,
}

impl PubSubConnect for WsConnect {
    fn is_local(&self) -> bool {
        self.url.is_local()
    }

    async fn connect(&self) -> TransportResult<ConnectionHandle> {
        let socket = self.open().await.map_err(TransportErrorKind::custom)?;
        let (handle, interface) = ConnectionHandle::new();
        tokio::spawn(run_socket(socket, interface, self.url.clone()));
        Ok(handle)
    }

    /// Refused: the service of a dropped socket ends with it, so its subscriptions
    /// end too and their owner learns of the gap (see the module docs).
    async fn try_reconnect(&self) -> TransportResult<ConnectionHandle> {
        Err(TransportErrorKind::non_retryable_str(
            "the WebSocket dropped; its owner reconnects",
        ))
    }
}

/// Why a socket's backend stopped.
#[derive(Debug)]
enum Closed {
    /// The frontend (every handle to the service) went away: a clean close.
    Frontend,
    /// The socket failed or was closed by the server.
    Dropped(String),
}

/// Moves frames between the socket and alloy's pubsub service until either ends.
async fn run_socket(
    socket: WebSocketStream<WsIo>,
    mut interface: ConnectionInterface,
    url: RpcUrl,
) {
    let (mut sink, mut frames) = socket.split();
    let mut last_frame = Instant::now();
    let mut keepalive = tokio::time::interval(PING_AFTER / 2);
    keepalive.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let closed = loop {
        tokio::select! {
            request = interface.recv_from_frontend() => {
                let Some(request) = request else { break Closed::Frontend };
                if let Err(e) = sink.send(Message::text(request.get())).await {
                    break Closed::Dropped(format!("sending: {e}"));
                }
            }
            frame = frames.next() => {
                last_frame = Instant::now();
                let text = match frame {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Binary(bytes))) => match String::from_utf8(bytes.to_vec()) {
                        Ok(text) => text.into(),
                        Err(_) => break Closed::Dropped("a binary frame that is not UTF-8".to_owned()),
                    },
                    // tungstenite answers pings itself (on the next write or read).
                    Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                    Some(Ok(Message::Close(frame))) => {
                        break Closed::Dropped(match frame {
                            Some(f) => format!("closed by the server ({}: {})", f.code, f.reason),
                            None => "closed by the server".to_owned(),
                        });
                    }
                    Some(Err(e)) => break Closed::Dropped(format!("receiving: {e}")),
                    None => break Closed::Dropped("the stream ended".to_owned()),
                };
                match serde_json::from_str::<PubSubItem>(&text) {
                    Ok(item) => {
                        if interface.send_to_frontend(item).is_err() {
                            break Closed::Frontend;
                        }
                    }
                    // Not JSON-RPC: say so and go on (a server's stray message must not
                    // cost the subscriptions).
                    Err(e) => warn!(target: "rpc_transport::ws", rpc = %url, error = %e, "ignoring a message that is not JSON-RPC"),
                }
            }
            _ = keepalive.tick() => {
                let silent = last_frame.elapsed();
                if silent >= DEAD_AFTER {
                    break Closed::Dropped(format!("no frame for {} s", silent.as_secs()));
                }
                if silent >= PING_AFTER && sink.send(Message::Ping(Default::default())).await.is_err() {
                    break Closed::Dropped("sending a ping failed".to_owned());
                }
            }
        }
    };
    match closed {
        Closed::Frontend => {
            debug!(target: "rpc_transport::ws", rpc = %url, "WebSocket closed: no more users");
            let _ = sink.close().await;
        }
        Closed::Dropped(reason) => {
            warn!(target: "rpc_transport::ws", rpc = %url, %reason, "WebSocket dropped");
            interface.close_with_transport_error(TransportErrorKind::non_retryable_str(&reason));
        }
    }
}

/// An alloy transport over a WebSocket that dials lazily and again after a drop: each
/// request goes over the live socket, or opens one first. Cloning shares the socket.
///
/// Requests made while no socket can be opened fail with a transport error (the
/// chain client retries those); subscriptions ([`WsTransport::pubsub_client`]) end
/// with their socket and are never silently renewed.
#[derive(Clone)]
pub struct WsTransport {
    connect: WsConnect,
    live: Arc<tokio::sync::Mutex<Option<PubSubFrontend>>>,
}

impl std::fmt::Debug for WsTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WsTransport")
            .field("url", &self.connect.url)
            .finish_non_exhaustive()
    }
}

impl WsTransport {
    /// A transport opening its sockets with `connect` (nothing is dialed yet).
    pub fn new(connect: WsConnect) -> Self {
        Self {
            connect,
            live: Arc::new(tokio::sync::Mutex::new(None)),
        }
    }

    /// The URL.
    pub const fn url(&self) -> &RpcUrl {
        &self.connect.url
    }

    /// Wraps the transport in an alloy [`RpcClient`] (polling interval for receipts as
    /// for HTTP, see [`crate::HttpTransport::into_client`]).
    pub fn into_client(self) -> RpcClient {
        let local = self.connect.url.is_local();
        let interval = if local {
            crate::LOCAL_POLL_INTERVAL
        } else {
            crate::REMOTE_POLL_INTERVAL
        };
        RpcClient::new(self, local).with_poll_interval(interval)
    }

    /// The live socket's pubsub service, dialing a new socket when there is none or
    /// the last one dropped.
    ///
    /// # Errors
    /// When no socket can be opened.
    pub async fn frontend(&self) -> TransportResult<PubSubFrontend> {
        let mut live = self.live.lock().await;
        if let Some(frontend) = live.as_ref().filter(|f| is_alive(f)) {
            return Ok(frontend.clone());
        }
        let frontend = self.connect.clone().into_service().await?;
        frontend.set_channel_size(SUBSCRIPTION_BUFFER);
        info!(target: "rpc_transport::ws", rpc = %self.connect.url, "WebSocket connected");
        *live = Some(frontend.clone());
        Ok(frontend)
    }

    /// An [`RpcClient`] bound to the live socket (dialing one if needed), on which
    /// alloy's subscriptions work (`Provider::subscribe_blocks`, `subscribe_logs`):
    /// they end when that socket drops, and this client then fails every request; ask
    /// for a new one.
    ///
    /// # Errors
    /// When no socket can be opened.
    pub async fn pubsub_client(&self) -> TransportResult<RpcClient> {
        let frontend = self.frontend().await?;
        Ok(RpcClient::new(frontend, self.connect.url.is_local()))
    }

    async fn send(self, packet: RequestPacket) -> Result<ResponsePacket, TransportError> {
        let frontend = self.frontend().await?;
        frontend.send_packet(packet).await
    }
}

/// Whether the service behind `frontend` still runs (it stops with its socket).
fn is_alive(frontend: &PubSubFrontend) -> bool {
    let mut cx = Context::from_waker(Waker::noop());
    matches!(
        tower::Service::poll_ready(&mut frontend.clone(), &mut cx),
        Poll::Ready(Ok(()))
    )
}

impl tower::Service<RequestPacket> for WsTransport {
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = TransportFut<'static>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, packet: RequestPacket) -> Self::Future {
        Box::pin(self.clone().send(packet))
    }
}
