//! `tcp://` and `vsock://` endpoints, and the one stream type over both.

use std::{
    fmt, io,
    pin::Pin,
    str::FromStr,
    task::{Context, Poll},
    time::Duration,
};

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    net::{TcpListener, TcpStream},
};
use tokio_vsock::{VMADDR_CID_ANY, VsockAddr, VsockListener, VsockStream};

/// How long a connect may take before it fails: the peer is on the same machine (or
/// the same hypervisor), so anything slower is a peer that is not answering; for
/// upstreams across the internet a TCP handshake still fits well within it.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// The control channel's port, on which enclave-app listens (TCP on loopback in
/// simulated mode, vsock in an enclave).
pub const DEFAULT_CONTROL_PORT: u16 = 7100;

/// The egress forwarder's port, on which host-proxy listens for the enclave's RPC
/// connections.
pub const DEFAULT_EGRESS_PORT: u16 = 7101;

/// The parent instance's vsock CID, as seen from inside a Nitro Enclave: always 3 on
/// Nitro (not Linux's generic `VMADDR_CID_HOST`, which is 2).
pub const PARENT_CID: u32 = 3;

/// The enclave CID that `scripts/run-enclave` asks for (any value from 4 up works;
/// host-proxy must be told the same one).
pub const DEFAULT_ENCLAVE_CID: u32 = 16;

/// The CID written `any` in endpoints: listen on every CID (what a vsock server on
/// the parent or inside the enclave binds to).
pub const CID_ANY: u32 = VMADDR_CID_ANY;

/// An address to listen on or connect to.
#[derive(Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// TCP: a host name or IP address (IPv6 in brackets in the text form) and a port.
    Tcp {
        /// Name or address, without brackets.
        host: String,
        /// Port; 0 asks the system for a free one when listening.
        port: u16,
    },
    /// vsock: a context id (the enclave's CID, 3 for the parent, or [`CID_ANY`] to
    /// listen) and a port.
    Vsock {
        /// Context id.
        cid: u32,
        /// Port.
        port: u32,
    },
}

/// Why an endpoint could not be parsed, bound or reached.
#[derive(Debug, thiserror::Error)]
pub enum EndpointError {
    /// The text is not an endpoint.
    #[error("invalid endpoint {text:?}: {reason} (expected tcp://HOST:PORT or vsock://CID:PORT)")]
    Invalid {
        /// What was given.
        text: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// Binding a listener failed.
    #[error("cannot listen on {endpoint}: {source}")]
    Listen {
        /// The endpoint.
        endpoint: Endpoint,
        /// The system's reason.
        source: io::Error,
    },
    /// Connecting failed or timed out.
    #[error("cannot connect to {endpoint}: {source}")]
    Connect {
        /// The endpoint.
        endpoint: Endpoint,
        /// The system's reason.
        source: io::Error,
    },
}

impl Endpoint {
    /// `tcp://127.0.0.1:PORT`: the simulated-mode default for both channels.
    pub fn loopback(port: u16) -> Self {
        Self::Tcp {
            host: "127.0.0.1".to_owned(),
            port,
        }
    }

    /// Parses `tcp://HOST:PORT` or `vsock://CID:PORT` (`CID` a number or `any`).
    ///
    /// # Errors
    /// [`EndpointError::Invalid`] saying what is wrong.
    pub fn parse(text: &str) -> Result<Self, EndpointError> {
        let invalid = |reason| EndpointError::Invalid {
            text: text.to_owned(),
            reason,
        };
        let (scheme, rest) = text.split_once("://").ok_or(invalid("missing scheme"))?;
        let (host, port) = rest.rsplit_once(':').ok_or(invalid("missing :PORT"))?;
        if host.is_empty() {
            return Err(invalid("missing host"));
        }
        match scheme {
            "tcp" => {
                let port = port
                    .parse()
                    .map_err(|_| invalid("the port must be 0..=65535"))?;
                let host = match host.strip_prefix('[') {
                    Some(inner) => inner
                        .strip_suffix(']')
                        .ok_or(invalid("unclosed [ in an IPv6 address"))?,
                    None if host.contains(':') => {
                        return Err(invalid("IPv6 addresses go in brackets"));
                    }
                    None => host,
                };
                if host.is_empty() || host.contains(['/', '@', ' ', '[', ']']) {
                    return Err(invalid("not a host name or IP address"));
                }
                Ok(Self::Tcp {
                    host: host.to_owned(),
                    port,
                })
            }
            "vsock" => {
                let cid = if host == "any" {
                    CID_ANY
                } else {
                    host.parse()
                        .map_err(|_| invalid("the CID must be a number or `any`"))?
                };
                let port = port
                    .parse()
                    .map_err(|_| invalid("the port must be a 32-bit number"))?;
                Ok(Self::Vsock { cid, port })
            }
            _ => Err(invalid("the scheme must be tcp:// or vsock://")),
        }
    }

    /// Whether this is a vsock endpoint.
    pub const fn is_vsock(&self) -> bool {
        matches!(self, Self::Vsock { .. })
    }

    /// The port.
    pub fn port(&self) -> u32 {
        match self {
            Self::Tcp { port, .. } => u32::from(*port),
            Self::Vsock { port, .. } => *port,
        }
    }

    /// Binds a listener. TCP port 0 picks a free port: [`Listener::local`] tells which.
    ///
    /// # Errors
    /// [`EndpointError::Listen`].
    pub async fn listen(&self) -> Result<Listener, EndpointError> {
        let failed = |source| EndpointError::Listen {
            endpoint: self.clone(),
            source,
        };
        let (inner, local) = match self {
            Self::Tcp { host, port } => {
                let listener = TcpListener::bind((host.as_str(), *port))
                    .await
                    .map_err(failed)?;
                let bound = listener.local_addr().map_err(failed)?;
                let local = Self::Tcp {
                    host: host.clone(),
                    port: bound.port(),
                };
                (ListenerKind::Tcp(listener), local)
            }
            Self::Vsock { cid, port } => {
                let listener = VsockListener::bind(VsockAddr::new(*cid, *port)).map_err(failed)?;
                (ListenerKind::Vsock(listener), self.clone())
            }
        };
        Ok(Listener { inner, local })
    }

    /// Connects, within [`CONNECT_TIMEOUT`]. TCP host names are resolved at every
    /// call (by the system resolver, which caches answers for their TTL), so a
    /// long-running process never uses an expired DNS answer.
    ///
    /// # Errors
    /// [`EndpointError::Connect`].
    pub async fn connect(&self) -> Result<Stream, EndpointError> {
        let failed = |source| EndpointError::Connect {
            endpoint: self.clone(),
            source,
        };
        let connecting = async {
            match self {
                Self::Tcp { host, port } => {
                    let stream = TcpStream::connect((host.as_str(), *port)).await?;
                    // Requests are small and latency-bound: send them at once.
                    stream.set_nodelay(true)?;
                    Ok(Stream::Tcp(stream))
                }
                Self::Vsock { cid, port } => VsockStream::connect(VsockAddr::new(*cid, *port))
                    .await
                    .map(Stream::Vsock),
            }
        };
        match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Ok(result) => result.map_err(failed),
            Err(_) => Err(failed(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("no answer within {} s", CONNECT_TIMEOUT.as_secs()),
            ))),
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Tcp { host, port } if host.contains(':') => write!(f, "tcp://[{host}]:{port}"),
            Self::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            Self::Vsock { cid, port } if *cid == CID_ANY => write!(f, "vsock://any:{port}"),
            Self::Vsock { cid, port } => write!(f, "vsock://{cid}:{port}"),
        }
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Endpoint({self})")
    }
}

impl FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl Serialize for Endpoint {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Endpoint {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

enum ListenerKind {
    Tcp(TcpListener),
    Vsock(VsockListener),
}

/// A bound listener of either kind.
pub struct Listener {
    inner: ListenerKind,
    local: Endpoint,
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Listener({})", self.local)
    }
}

impl Listener {
    /// Where it listens, with the real port when port 0 was asked for.
    pub const fn local(&self) -> &Endpoint {
        &self.local
    }

    /// Waits for the next connection; returns it with the peer's address as text
    /// (`tcp://IP:PORT` or `vsock://CID:PORT`) for logs.
    ///
    /// # Errors
    /// The system's error; most are transient (a peer that reset before the accept,
    /// a full file table), so servers log them and keep accepting.
    pub async fn accept(&self) -> io::Result<(Stream, String)> {
        match &self.inner {
            ListenerKind::Tcp(listener) => {
                let (stream, peer) = listener.accept().await?;
                stream.set_nodelay(true)?;
                Ok((Stream::Tcp(stream), format!("tcp://{peer}")))
            }
            ListenerKind::Vsock(listener) => {
                let (stream, peer) = listener.accept().await?;
                Ok((
                    Stream::Vsock(stream),
                    format!("vsock://{}:{}", peer.cid(), peer.port()),
                ))
            }
        }
    }
}

/// A connected stream of either kind: `AsyncRead + AsyncWrite`, and a hyper
/// connection (through `hyper_util::rt::TokioIo`) for the RPC client.
#[derive(Debug)]
pub enum Stream {
    /// TCP.
    Tcp(TcpStream),
    /// vsock.
    Vsock(VsockStream),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_read(cx, buf),
            Self::Vsock(s) => Pin::new(s).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_write(cx, buf),
            Self::Vsock(s) => Pin::new(s).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_flush(cx),
            Self::Vsock(s) => Pin::new(s).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_shutdown(cx),
            Self::Vsock(s) => Pin::new(s).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Self::Tcp(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Self::Vsock(s) => Pin::new(s).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Self::Tcp(s) => s.is_write_vectored(),
            Self::Vsock(s) => s.is_write_vectored(),
        }
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    use super::*;

    #[test]
    fn parses_and_prints_both_kinds() {
        for (text, expected) in [
            (
                "tcp://127.0.0.1:7100",
                Endpoint::Tcp {
                    host: "127.0.0.1".into(),
                    port: 7100,
                },
            ),
            (
                "tcp://localhost:0",
                Endpoint::Tcp {
                    host: "localhost".into(),
                    port: 0,
                },
            ),
            (
                "tcp://[::1]:80",
                Endpoint::Tcp {
                    host: "::1".into(),
                    port: 80,
                },
            ),
            (
                "vsock://16:7100",
                Endpoint::Vsock {
                    cid: 16,
                    port: 7100,
                },
            ),
            (
                "vsock://any:7101",
                Endpoint::Vsock {
                    cid: CID_ANY,
                    port: 7101,
                },
            ),
        ] {
            let parsed = Endpoint::parse(text).unwrap();
            assert_eq!(parsed, expected, "{text}");
            assert_eq!(parsed.to_string(), text);
        }
    }

    #[test]
    fn rejects_malformed_endpoints_with_reasons() {
        for (bad, why) in [
            ("127.0.0.1:80", "missing scheme"),
            ("udp://h:1", "scheme"),
            ("tcp://h", "missing :PORT"),
            ("tcp://:80", "missing host"),
            ("tcp://h:70000", "0..=65535"),
            ("tcp://h:x", "0..=65535"),
            ("tcp://::1:80", "brackets"),
            ("tcp://[::1:80", "unclosed"),
            ("tcp://a/b:1", "not a host"),
            ("vsock://x:1", "number or `any`"),
            ("vsock://3:-1", "32-bit"),
            ("", "missing scheme"),
        ] {
            let err = Endpoint::parse(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }

    #[test]
    fn serde_uses_the_text_form() {
        let endpoint = Endpoint::parse("vsock://3:7101").unwrap();
        let json = serde_json::to_string(&endpoint).unwrap();
        assert_eq!(json, r#""vsock://3:7101""#);
        assert_eq!(serde_json::from_str::<Endpoint>(&json).unwrap(), endpoint);
        assert!(serde_json::from_str::<Endpoint>(r#""tcp://x""#).is_err());
    }

    #[tokio::test]
    async fn tcp_listen_accept_connect_round_trip() {
        let listener = Endpoint::parse("tcp://127.0.0.1:0")
            .unwrap()
            .listen()
            .await
            .unwrap();
        assert_ne!(listener.local().port(), 0);
        let target = listener.local().clone();
        let client = tokio::spawn(async move {
            let mut stream = target.connect().await.unwrap();
            stream.write_all(b"ping").await.unwrap();
            stream.shutdown().await.unwrap();
        });
        let (mut stream, peer) = listener.accept().await.unwrap();
        assert!(peer.starts_with("tcp://127.0.0.1:"), "{peer}");
        let mut got = Vec::new();
        stream.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"ping");
        client.await.unwrap();
    }

    #[tokio::test]
    async fn connect_errors_name_the_endpoint() {
        // Bind then drop, so the port is (almost surely) closed.
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let endpoint = Endpoint::parse(&format!("tcp://127.0.0.1:{port}")).unwrap();
        let err = endpoint.connect().await.unwrap_err().to_string();
        assert!(err.contains(&endpoint.to_string()), "{err}");
    }

    /// vsock compiles and fails cleanly where there is no vsock loopback (this
    /// machine, CI): a clear error naming the endpoint, never a panic. Inside a VM with
    /// vsock the same calls succeed.
    #[tokio::test]
    async fn vsock_without_a_hypervisor_fails_cleanly() {
        let endpoint = Endpoint::parse("vsock://3:7101").unwrap();
        match endpoint.connect().await {
            Ok(_) => {} // a machine with a vsock peer on CID 3
            Err(e) => assert!(e.to_string().contains("vsock://3:7101"), "{e}"),
        }
        match Endpoint::parse("vsock://any:7199").unwrap().listen().await {
            Ok(listener) => assert_eq!(listener.local().port(), 7199),
            Err(e) => assert!(e.to_string().contains("vsock://any:7199"), "{e}"),
        }
    }
}
