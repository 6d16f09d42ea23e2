//! JSON-RPC over HTTP(S) for alloy, on hyper-util with a connector of our choosing.
//!
//! alloy's own `hyper` transport feature pulls OpenSSL through hyper-tls, and its
//! reqwest transport hides the connector. This one is a plain
//! `tower::Service<RequestPacket>` (which is all an alloy transport is) over a
//! hyper-util client generic over its connector, so the enclave can route every
//! connection through its vsock egress while the CLI and tests use TCP. TLS is
//! rustls with the `ring` provider; `https://` terminates in this process.

use std::{
    io::Read,
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
    client::legacy::{Client, connect::Connect},
    rt::{TokioExecutor, TokioIo},
};
/// A DER certificate, as [`read_ca_file`] returns and the connectors take.
pub use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

use crate::endpoint::{self, Endpoint, EndpointError, Stream};

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
    #[error("invalid RPC URL {url:?}: {reason}")]
    InvalidUrl {
        /// What was given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The TLS configuration could not be built.
    #[error("TLS setup failed: {0}")]
    Tls(#[from] rustls::Error),
    /// A CA file could not be used.
    #[error("cannot use the CA file {path}: {reason}")]
    CaFile {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
}

/// A validated `http://` or `https://` JSON-RPC endpoint.
#[derive(Clone, PartialEq, Eq)]
pub struct RpcUrl {
    uri: Uri,
}

impl RpcUrl {
    /// Parses and checks an RPC URL: scheme `http` or `https`, a host, no user info.
    ///
    /// # Errors
    /// [`TransportSetupError::InvalidUrl`] naming what is wrong.
    pub fn parse(text: &str) -> Result<Self, TransportSetupError> {
        let invalid = |reason: &str| TransportSetupError::InvalidUrl {
            url: redact_url(text),
            reason: reason.to_owned(),
        };
        let uri: Uri = text.trim().parse().map_err(|_| invalid("not a URL"))?;
        match uri.scheme_str() {
            Some("http" | "https") => {}
            Some(_) => return Err(invalid("the scheme must be http:// or https://")),
            None => return Err(invalid("missing scheme (http:// or https://)")),
        }
        let Some(authority) = uri.authority() else {
            return Err(invalid("missing host"));
        };
        if authority.as_str().contains('@') {
            return Err(invalid("credentials in the URL are not supported"));
        }
        if authority.host().is_empty() {
            return Err(invalid("missing host"));
        }
        Ok(Self { uri })
    }

    /// Whether TLS is used.
    pub fn is_https(&self) -> bool {
        self.uri.scheme_str() == Some("https")
    }

    /// Whether the host is on this machine (alloy then polls faster).
    pub fn is_local(&self) -> bool {
        matches!(
            self.uri.host(),
            Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
        )
    }

    /// `host:port` (the scheme's default port when none is given): what the URL
    /// reveals about the upstream without its path, which often holds an API key.
    pub fn host_port(&self) -> String {
        let host = self.uri.host().unwrap_or_default();
        let port = self
            .uri
            .port_u16()
            .unwrap_or(if self.is_https() { 443 } else { 80 });
        format!("{host}:{port}")
    }

    /// The URI.
    pub const fn uri(&self) -> &Uri {
        &self.uri
    }
}

impl std::str::FromStr for RpcUrl {
    type Err = TransportSetupError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// RPC URLs often carry API keys in their path or query (`/v2/<key>`): only scheme,
/// host and port are ever shown.
impl std::fmt::Display for RpcUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_url(&self.uri.to_string()))
    }
}

impl std::fmt::Debug for RpcUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RpcUrl({self})")
    }
}

/// `scheme://host[:port]` plus `/…` when a path or query was hidden.
pub fn redact_url(text: &str) -> String {
    let Ok(uri) = text.trim().parse::<Uri>() else {
        return "<invalid URL>".to_owned();
    };
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return "<invalid URL>".to_owned();
    };
    let host_port = authority.as_str().rsplit('@').next().unwrap_or_default();
    let hidden = uri
        .path_and_query()
        .is_some_and(|pq| pq.as_str() != "/" && !pq.as_str().is_empty());
    format!("{scheme}://{host_port}{}", if hidden { "/…" } else { "" })
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
            .map_err(|e| TransportErrorKind::custom_str(&error_chain(&e)))?;
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

/// An error and all its sources on one line: hyper's client errors say only
/// `client error (Connect)` at the top and hide the cause below.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let s = cause.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        source = cause.source();
    }
    text
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
/// [`TransportSetupError::CaFile`] when the file cannot be read, is too large, or
/// holds no valid certificate.
pub fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, TransportSetupError> {
    let failed = |reason: String| TransportSetupError::CaFile {
        path: path.to_owned(),
        reason,
    };
    let file = std::fs::File::open(path).map_err(|e| failed(e.to_string()))?;
    let mut pem = Vec::new();
    file.take(MAX_CA_FILE_BYTES + 1)
        .read_to_end(&mut pem)
        .map_err(|e| failed(e.to_string()))?;
    if pem.len() as u64 > MAX_CA_FILE_BYTES {
        return Err(failed(format!("larger than {MAX_CA_FILE_BYTES} bytes")));
    }
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| failed(format!("not PEM certificates: {e}")))?;
    if certs.is_empty() {
        return Err(failed("no CERTIFICATE block found".to_owned()));
    }
    // Each must be a usable trust anchor, or the error would surface only at the
    // first handshake.
    let mut roots = rustls::RootCertStore::empty();
    for cert in &certs {
        roots
            .add(cert.clone())
            .map_err(|e| failed(format!("not a usable CA certificate: {e}")))?;
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
    http.set_connect_timeout(Some(endpoint::CONNECT_TIMEOUT));
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls_config(extra_roots)?)
        .https_or_http()
        .enable_http1()
        .wrap_connector(http))
}

/// An alloy RPC client for `url` over direct TCP (TLS for `https://`, web PKI roots).
///
/// # Errors
/// When the TLS configuration cannot be built.
pub fn connect_tcp(url: RpcUrl) -> Result<RpcClient, TransportSetupError> {
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

impl tower::Service<Uri> for EndpointConnector {
    type Response = TokioIo<Stream>;
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
        Box::pin(async move { endpoint.connect().await.map(TokioIo::new) })
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

    #[test]
    fn parses_good_urls() {
        for ok in [
            "http://127.0.0.1:8545",
            "https://rpc.example.org/v2/abc",
            "http://localhost:8545/",
        ] {
            RpcUrl::parse(ok).unwrap();
        }
        assert!(RpcUrl::parse("https://x.org").unwrap().is_https());
        assert_eq!(
            RpcUrl::parse("https://x.org/v2/KEY").unwrap().host_port(),
            "x.org:443"
        );
        assert_eq!(
            RpcUrl::parse("http://127.0.0.1:8545").unwrap().host_port(),
            "127.0.0.1:8545"
        );
        assert!(RpcUrl::parse("http://127.0.0.1:1").unwrap().is_local());
    }

    #[test]
    fn rejects_bad_urls_with_reasons() {
        for (bad, why) in [
            ("", "not a URL"),
            ("127.0.0.1:8545", "scheme"),
            ("ws://127.0.0.1:8545", "scheme"),
            ("http://user:pw@host:1", "credentials"),
            ("not a url", "not a URL"),
        ] {
            let err = RpcUrl::parse(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad:?}: {err}");
        }
    }

    #[test]
    fn display_hides_paths_that_carry_api_keys() {
        let url = RpcUrl::parse("https://eth.example.org/v2/SECRETKEY?x=1").unwrap();
        assert_eq!(url.to_string(), "https://eth.example.org/…");
        assert!(!format!("{url:?}").contains("SECRET"));
        let err = RpcUrl::parse("ftp://h/SECRETKEY").unwrap_err().to_string();
        assert!(!err.contains("SECRET"), "{err}");
    }
}
