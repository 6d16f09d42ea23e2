//! JSON-RPC over HTTP(S) and WebSocket for alloy, on connectors of our choosing: the
//! one TLS client in the workspace, used by enclave-app, the CLIs and the tests
//! (host-proxy forwards bytes and links none of it).
//!
//! alloy's own `hyper` transport feature pulls OpenSSL through hyper-tls, and its
//! reqwest transport hides the connector. This one is a plain
//! `tower::Service<RequestPacket>` (which is all an alloy transport is) over a
//! hyper-util client generic over its connector, so the enclave can route every
//! connection through its vsock egress while the CLI and tests use TCP. TLS is
//! rustls with the `ring` provider; `https://` terminates in this process.
//!
//! [`ws`] is the same for `ws://` and `wss://`: alloy's pubsub service (requests and
//! `eth_subscribe` notifications on one socket) over tokio-tungstenite, on the same
//! streams and the same TLS configuration. Its socket's drop ends its subscriptions
//! (no silent reconnect), so a subscriber always learns of a gap.

use std::{
    io,
    path::{Path, PathBuf},
    pin::Pin,
    sync::Arc,
    time::Duration,
};

use alloy::{
    rpc::{
        client::RpcClient,
        json_rpc::{RequestPacket, ResponsePacket},
    },
    transports::{TransportError, TransportErrorKind, TransportFut},
};
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, Uri, header};
use hyper_util::{
    client::legacy::{
        Client,
        connect::{Connect, Connected, Connection},
    },
    rt::{TokioExecutor, TokioIo},
};
/// A DER certificate, as [`read_ca_file`] returns and the connectors take.
pub use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use net::{CONNECT_TIMEOUT, Endpoint, EndpointError, RpcUrl, Stream};
use runner::files::FileError;

pub mod ws;

/// Largest JSON-RPC response body we accept. Log and participant queries are the big
/// ones; the event manager chunks log ranges well below this.
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// Idle connections kept per host. Each new connection in the enclave costs a vsock
/// stream, a TCP connect on the host and a TLS handshake, so we keep a few warm; a
/// handful covers the concurrent reads of one block's batch.
pub const MAX_IDLE_PER_HOST: usize = 4;

/// How long an idle connection stays pooled: below the usual 60 s keep-alive of RPC
/// providers' load balancers, so we close first rather than race a server close.
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(50);

/// Receipt/filter polling against a node on this machine (anvil mines instantly).
pub const LOCAL_POLL_INTERVAL: Duration = Duration::from_millis(20);

/// Receipt/filter polling against a remote node: well under a 2 s L2 block or a 12 s
/// mainnet slot, without flooding a rate-limited provider.
pub const REMOTE_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// Why an RPC endpoint could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum TransportSetupError {
    /// The URL does not parse.
    #[error(transparent)]
    InvalidUrl(#[from] net::UrlError),
    /// The TLS configuration could not be built.
    #[error("TLS setup failed: {0}")]
    Tls(#[from] rustls::Error),
    /// A WebSocket transport was asked for an `http(s)://` URL, or an HTTP one for a
    /// `ws(s)://` URL.
    #[error("{0} needs the other transport (HTTP for http(s)://, WebSocket for ws(s)://)")]
    WrongScheme(RpcUrl),
    /// A CA file could not be read.
    #[error("cannot use the CA file {}", .0.path().display())]
    CaFileUnreadable(#[source] FileError),
    /// A CA file was read but holds no usable CA certificate.
    #[error("cannot use the CA file {}: {problem}", path.display())]
    CaFileInvalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with its content.
        problem: CaFileProblem,
    },
}

/// What is wrong with a CA file's content.
#[derive(Debug, thiserror::Error)]
pub enum CaFileProblem {
    /// Its PEM does not parse.
    #[error("not PEM certificates: {0}")]
    NotPem(rustls::pki_types::pem::Error),
    /// No `CERTIFICATE` block at all.
    #[error("no CERTIFICATE block found")]
    Empty,
    /// A certificate that rustls cannot use as a trust anchor.
    #[error("not a usable CA certificate: {0}")]
    NotACa(rustls::Error),
}

/// The alloy transport: one POST per request packet over a pooled hyper client.
#[derive(Clone)]
pub struct HttpTransport<C> {
    client: Client<C, Full<Bytes>>,
    url: RpcUrl,
}

impl<C> std::fmt::Debug for HttpTransport<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpTransport")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl<C> HttpTransport<C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    /// A transport for `url` whose connections come from `connector`.
    pub fn new(connector: C, url: RpcUrl) -> Self {
        let client = Client::builder(TokioExecutor::new())
            .pool_max_idle_per_host(MAX_IDLE_PER_HOST)
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build(connector);
        Self { client, url }
    }

    /// Wraps the transport in an alloy [`RpcClient`], with its polling interval (used
    /// for receipts and filters) set deliberately: alloy's default for non-local
    /// endpoints is 7 s, longer than a block on most chains.
    pub fn into_client(self) -> RpcClient {
        let local = self.url.is_local();
        let interval = if local {
            LOCAL_POLL_INTERVAL
        } else {
            REMOTE_POLL_INTERVAL
        };
        RpcClient::new(self, local).with_poll_interval(interval)
    }

    async fn send(self, packet: RequestPacket) -> Result<ResponsePacket, TransportError> {
        let body = packet.serialize().map_err(TransportError::ser_err)?;
        let request = Request::builder()
            .method(Method::POST)
            .uri(self.url.uri().clone())
            .header(header::CONTENT_TYPE, "application/json")
            .body(Full::new(Bytes::from(body.get().to_owned())))
            .map_err(TransportErrorKind::custom)?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(TransportErrorKind::custom)?;
        let status = response.status();
        let body = Limited::new(response.into_body(), MAX_RESPONSE_BYTES)
            .collect()
            .await
            .map_err(|e| TransportErrorKind::custom_str(&format!("reading the response: {e}")))?
            .to_bytes();
        if !status.is_success() {
            let text = String::from_utf8_lossy(&body[..body.len().min(512)]).into_owned();
            return Err(TransportErrorKind::http_error(status.as_u16(), text));
        }
        serde_json::from_slice(&body)
            .map_err(|e| TransportError::deser_err(e, String::from_utf8_lossy(&body)))
    }
}

impl<C> tower::Service<RequestPacket> for HttpTransport<C>
where
    C: Connect + Clone + Send + Sync + 'static,
{
    type Response = ResponsePacket;
    type Error = TransportError;
    type Future = TransportFut<'static>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, packet: RequestPacket) -> Self::Future {
        Box::pin(self.clone().send(packet))
    }
}

/// Whether `err`, or any error under it, is rustls rejecting the server's
/// certificate. hyper wraps the TLS error in `io::Error`s, whose `source()` skips the
/// wrapped error itself, so each `io::Error` is also looked into.
pub fn is_certificate_rejection(err: &(dyn std::error::Error + 'static)) -> bool {
    let mut next = Some(err);
    while let Some(e) = next {
        let tls = e.downcast_ref::<rustls::Error>().or_else(|| {
            e.downcast_ref::<io::Error>()
                .and_then(io::Error::get_ref)
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
        });
        if matches!(
            tls,
            Some(rustls::Error::InvalidCertificate(_) | rustls::Error::NoCertificatesPresented)
        ) {
            return true;
        }
        next = e.source();
    }
    false
}

/// The process-wide rustls crypto provider (`ring`). Installed once; later calls
/// return the same provider.
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .unwrap_or_else(|| Arc::new(rustls::crypto::ring::default_provider()))
}

/// Largest CA file read: a few certificates are a few KB; a bundle of every public
/// root is about 250 KB.
pub const MAX_CA_FILE_BYTES: u64 = 1024 * 1024;

/// Reads the PEM certificates in `path`, to be trusted as extra roots for `https://`
/// RPC endpoints (a private CA, or a self-signed node).
///
/// # Errors
/// [`TransportSetupError::CaFileUnreadable`] when the file cannot be read or is too
/// large, [`TransportSetupError::CaFileInvalid`] when it holds no usable CA
/// certificate.
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, TransportSetupError> {
    let pem = runner::files::read_bounded(path, MAX_CA_FILE_BYTES)
        .map_err(TransportSetupError::CaFileUnreadable)?;
    let invalid = |problem| TransportSetupError::CaFileInvalid {
        path: path.to_owned(),
        problem,
    };
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(CaFileProblem::NotPem(e)))?;
    if certs.is_empty() {
        return Err(invalid(CaFileProblem::Empty));
    }
    // Each must be a usable trust anchor, or the error would surface only at the
    // first handshake.
    let mut roots = rustls::RootCertStore::empty();
    for cert in &certs {
        roots
            .add(cert.clone())
            .map_err(|e| invalid(CaFileProblem::NotACa(e)))?;
    }
    Ok(certs)
}

/// The TLS client configuration for `https://` RPC endpoints: the web PKI roots
/// (Mozilla's, compiled in, so the enclave needs no file system) plus `extra_roots`.
/// The server name checked is always the RPC URL's host.
///
/// # Errors
/// When an extra root is not a usable trust anchor.
pub fn tls_config(
    extra_roots: &[CertificateDer<'static>],
) -> Result<rustls::ClientConfig, TransportSetupError> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    for cert in extra_roots {
        roots.add(cert.clone())?;
    }
    Ok(
        rustls::ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// A direct TCP connector with TLS for `https://`.
pub type TcpConnector =
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

/// The connector for direct connections (CLI, tests, simulated mode without egress),
/// trusting the web PKI roots plus `extra_roots`.
///
/// # Errors
/// When the TLS configuration cannot be built.
pub fn tcp_connector(
    extra_roots: &[CertificateDer<'static>],
) -> Result<TcpConnector, TransportSetupError> {
    let mut http = hyper_util::client::legacy::connect::HttpConnector::new();
    http.enforce_http(false);
    http.set_nodelay(true);
    http.set_connect_timeout(Some(CONNECT_TIMEOUT));
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config(extra_roots)?)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http))
}

/// An alloy RPC client for `url` over direct TCP (TLS for `https://` and `wss://`,
/// web PKI roots): HTTP for `http(s)://`, a [`ws::WsTransport`] (dialed at the first
/// request) for `ws(s)://`.
///
/// # Errors
/// When the TLS configuration cannot be built.
pub fn connect_tcp(url: RpcUrl) -> Result<RpcClient, TransportSetupError> {
    if url.is_websocket() {
        return Ok(ws::WsTransport::new(ws::WsConnect::direct(url, &[])?).into_client());
    }
    Ok(HttpTransport::new(tcp_connector(&[])?, url).into_client())
}

/// Opens every connection to one [`Endpoint`], whatever host the request URL names:
/// the enclave's egress. The URL still decides the `Host` header, and for `https://`
/// the TLS layer on top checks the certificate against the URL's host, so the host
/// forwarding the bytes can neither read nor forge them.
#[derive(Debug, Clone)]
pub struct EndpointConnector {
    endpoint: Endpoint,
}

impl EndpointConnector {
    /// A connector dialing `endpoint`.
    pub const fn new(endpoint: Endpoint) -> Self {
        Self { endpoint }
    }
}

/// A [`Stream`] as hyper's client wants it: a connection with nothing to report
/// (no proxy, no ALPN; TLS on top reports its own).
#[derive(Debug)]
pub struct EgressStream(Stream);

impl tokio::io::AsyncRead for EgressStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for EgressStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> std::task::Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.0.is_write_vectored()
    }
}

impl Connection for EgressStream {
    fn connected(&self) -> Connected {
        Connected::new()
    }
}

impl tower::Service<Uri> for EndpointConnector {
    type Response = TokioIo<EgressStream>;
    type Error = EndpointError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _uri: Uri) -> Self::Future {
        let endpoint = self.endpoint.clone();
        Box::pin(async move {
            endpoint
                .connect()
                .await
                .map(|stream| TokioIo::new(EgressStream(stream)))
        })
    }
}

/// The egress connector: [`EndpointConnector`] under rustls for `https://`.
pub type EgressConnector = hyper_rustls::HttpsConnector<EndpointConnector>;

/// A connector whose every connection goes to `endpoint` (TLS inside this process
/// for `https://` URLs, trusting the web PKI roots plus `extra_roots`).
///
/// # Errors
/// When the TLS configuration cannot be built.
pub fn egress_connector(
    endpoint: Endpoint,
    extra_roots: &[CertificateDer<'static>],
) -> Result<EgressConnector, TransportSetupError> {
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config(extra_roots)?)
        .https_or_http()
        .enable_http1()
        .wrap_connector(EndpointConnector::new(endpoint)))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An error with a cause, as hyper's client errors are.
    #[derive(Debug, thiserror::Error)]
    #[error("client error (Connect)")]
    struct Wrapper(#[source] Box<dyn std::error::Error + Send + Sync>);

    #[test]
    fn certificate_rejections_are_found_under_io_errors() {
        let rejected = rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer);
        let nested = Wrapper(Box::new(io::Error::new(
            io::ErrorKind::InvalidData,
            rejected,
        )));
        assert!(is_certificate_rejection(&nested));
        let refused = Wrapper(Box::new(io::Error::from(io::ErrorKind::ConnectionRefused)));
        assert!(!is_certificate_rejection(&refused));
        let other_tls = Wrapper(Box::new(io::Error::new(
            io::ErrorKind::InvalidData,
            rustls::Error::DecryptError,
        )));
        assert!(!is_certificate_rejection(&other_tls));
    }
}
