//! The egress forwarder: the enclave's only way out to the network.
//!
//! The enclave has no network interface. For each RPC connection it opens a stream
//! to one of the host's egress endpoints (vsock in production, TCP in simulated
//! mode); the forwarder connects that stream to the **one** upstream configured for
//! that endpoint in the allowlist and copies bytes both ways until both directions
//! are done. This is AWS's `vsock-proxy` idea, with its rough edges fixed: a sane
//! connection cap, idle timeouts, half-close, byte counts, and an upstream that is
//! down costing one closed stream rather than a crash.
//!
//! # Security property
//!
//! The enclave cannot choose where its bytes go: a route is fixed by the host's
//! allowlist (listen endpoint -> `host:port`), and nothing in the stream is read to
//! pick a target. So the host is not an open proxy for whatever runs in the enclave,
//! and a compromised enclave can reach only the upstreams the operator configured.
//! Conversely the host learns nothing it should not: for `https://` RPC URLs TLS is
//! end-to-end between the enclave and the upstream (it terminates *inside* the
//! enclave), so the forwarder only ever sees ciphertext and cannot forge chain data.
//!
//! # Concurrency
//!
//! One accept loop per route; one task per connection, tracked so that
//! [`EgressForwarder::run`] returns only once every stream is closed. A semaphore
//! shared by all routes caps open connections ([`EgressSettings::max_connections`]):
//! a stream over the cap is closed at once and counted, the others are unaffected.
//! Cancelling the shutdown token stops the accept loops and closes every open stream.
//!
//! # Observability
//!
//! Logs use the target `host_proxy::egress`; every connection ends with one line
//! carrying `route`, `peer`, `bytes_to_upstream`, `bytes_from_upstream`,
//! `duration_ms` and `reason`. Metrics (through the `metrics` facade; see
//! [`describe_metrics`]) are labelled by `route`, the listen endpoint's text, so
//! their cardinality is bounded by the allowlist.

use std::{
    collections::HashMap,
    fmt, io,
    io::Read,
    path::{Path, PathBuf},
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    task::{Context, Poll},
    time::{Duration, Instant},
};

use metrics::Counter;
use net::{self as endpoint, Endpoint, EndpointError, Listener, RpcUrl, Stream};
use serde::Deserialize;
use tokio::{
    io::{AsyncRead, AsyncWrite, ReadBuf},
    sync::Semaphore,
};
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{debug, info, warn};

/// Default cap on open egress connections, across all routes. AWS's vsock-proxy
/// defaults to 4, which a single HTTP client pool exhausts (alloy's pool, a
/// WebSocket subscription and a retry are already 3); the enclave keeps a handful
/// of kept-alive connections, so 512 is two orders of magnitude of headroom while
/// still bounding the file descriptors (two per connection) and the memory
/// (2 x [`COPY_BUFFER_BYTES`] of buffers per connection, about 37 MiB measured at
/// the cap) a misbehaving enclave can make the host hold.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// Default idle timeout: a connection with no byte in either direction for this
/// long is closed. HTTP clients keep idle connections for 90 s or less and RPC
/// providers close theirs within minutes, so 5 minutes only reaps streams both
/// ends have forgotten, while a quiet `eth_subscribe` WebSocket (a block every
/// 12 s) never comes near it.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);

/// Default time allowed to connect an upstream (name resolution included): the
/// same bound as [`net::CONNECT_TIMEOUT`], which also caps it.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = endpoint::CONNECT_TIMEOUT;

/// Copy buffer per direction per connection. 64 KiB lets a bulk transfer (a large
/// `eth_getLogs` answer) move in few system calls: `egress-bench` measured about
/// twice the loopback throughput of 16 KiB buffers, for ~74 KiB instead of ~24 KiB
/// of memory per open connection (about 37 MiB at [`DEFAULT_MAX_CONNECTIONS`]).
pub const COPY_BUFFER_BYTES: usize = 64 * 1024;

/// Largest allowlist file read. A route is one short table (~100 bytes with its
/// comment); 64 KiB holds hundreds, so anything bigger is not an allowlist and is
/// refused before it is parsed.
pub const MAX_ALLOWLIST_BYTES: u64 = 64 * 1024;

/// Most routes in one allowlist. Each is a listening socket and an accept loop; a
/// deployment needs one per RPC upstream (a handful), so 256 is generous.
pub const MAX_ROUTES: usize = 256;

/// Pause after a failed `accept` (e.g. EMFILE, the file table full) before trying
/// again: long enough not to spin on a persistent error, short enough that service
/// resumes at once when descriptors free up.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// One route: where the host listens for the enclave, and the one upstream that
/// streams accepted there are forwarded to.
///
/// Built only through [`EgressRoute::new`] (or the allowlist / RPC URL
/// constructors), so the upstream is always a TCP `host:port` with a non-zero port.
#[derive(Clone, PartialEq, Eq)]
pub struct EgressRoute {
    listen: Endpoint,
    upstream: Endpoint,
}

impl EgressRoute {
    /// A route from `listen` (vsock or TCP) to `upstream` (TCP only).
    ///
    /// # Errors
    /// [`AllowlistError::InvalidUpstream`] when `upstream` is vsock or has port 0.
    pub fn new(listen: Endpoint, upstream: Endpoint) -> Result<Self, AllowlistError> {
        let invalid = |reason| AllowlistError::InvalidUpstream {
            route: 1,
            listen: listen.clone(),
            reason,
        };
        match &upstream {
            Endpoint::Vsock { .. } => Err(invalid(UpstreamProblem::Vsock)),
            Endpoint::Tcp { port: 0, .. } => Err(invalid(UpstreamProblem::PortZero)),
            Endpoint::Tcp { .. } => Ok(Self { listen, upstream }),
        }
    }

    /// The default route for `host-proxy --rpc-url URL`: streams accepted on
    /// `listen` go to the URL's host and port (80 for `http://`, 443 for `https://`
    /// when the URL names none). The path and query (which often hold an API key)
    /// are not used here: they travel inside the enclave's HTTP requests.
    ///
    /// # Errors
    /// [`AllowlistError::InvalidUpstream`] when the URL's port is 0.
    pub fn from_rpc_url(listen: Endpoint, url: &RpcUrl) -> Result<Self, AllowlistError> {
        let uri = url.uri();
        let host = uri.host().unwrap_or_default();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let port = uri
            .port_u16()
            .unwrap_or(if url.is_https() { 443 } else { 80 });
        Self::new(
            listen,
            Endpoint::Tcp {
                host: host.to_owned(),
                port,
            },
        )
    }

    /// Where the host listens for the enclave.
    pub const fn listen(&self) -> &Endpoint {
        &self.listen
    }

    /// Where accepted streams are forwarded (always [`Endpoint::Tcp`]).
    pub const fn upstream(&self) -> &Endpoint {
        &self.upstream
    }
}

impl fmt::Debug for EgressRoute {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EgressRoute({} -> {})", self.listen, self.upstream)
    }
}

/// The validated set of routes: non-empty, at most [`MAX_ROUTES`], no listen
/// endpoint twice.
///
/// The file form (TOML):
///
/// ```toml
/// [[route]]
/// listen = "vsock://any:7101"      # tcp://127.0.0.1:7101 in simulated mode
/// upstream = "rpc.example.org:443" # host:port; names re-resolved at each connection
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressAllowlist {
    routes: Vec<EgressRoute>,
}

/// The file as written; checked into an [`EgressAllowlist`].
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AllowlistFile {
    #[serde(default)]
    route: Vec<RouteEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RouteEntry {
    listen: String,
    upstream: String,
}

impl EgressAllowlist {
    /// Checks a list of routes.
    ///
    /// # Errors
    /// [`AllowlistError::Empty`], [`AllowlistError::TooManyRoutes`] or
    /// [`AllowlistError::DuplicateListen`].
    pub fn new(routes: Vec<EgressRoute>) -> Result<Self, AllowlistError> {
        if routes.is_empty() {
            return Err(AllowlistError::Empty);
        }
        if routes.len() > MAX_ROUTES {
            return Err(AllowlistError::TooManyRoutes {
                count: routes.len(),
            });
        }
        // Port 0 asks the system for a fresh port at each bind, so it never clashes.
        let mut seen: HashMap<ListenKey, usize> = HashMap::new();
        for (index, route) in routes.iter().enumerate() {
            let Some(key) = ListenKey::of(&route.listen) else {
                continue;
            };
            if let Some(first) = seen.insert(key, index + 1) {
                return Err(AllowlistError::DuplicateListen {
                    route: index + 1,
                    listen: route.listen.clone(),
                    first,
                });
            }
        }
        Ok(Self { routes })
    }

    /// Parses the TOML text of an allowlist file.
    ///
    /// # Errors
    /// An [`AllowlistError`] naming the route (1-based) and what is wrong; syntax
    /// errors give the line and column, never the line's text.
    pub fn parse(text: &str) -> Result<Self, AllowlistError> {
        if text.len() as u64 > MAX_ALLOWLIST_BYTES {
            return Err(AllowlistError::TooLarge {
                bytes: text.len() as u64,
            });
        }
        let file: AllowlistFile = toml::from_str(text).map_err(|e| {
            let (line, column) = e
                .span()
                .map_or((0, 0), |span| line_and_column(text, span.start));
            AllowlistError::Syntax {
                line,
                column,
                message: e.message().trim_end().to_owned(),
            }
        })?;
        let mut routes = Vec::with_capacity(file.route.len());
        for (index, entry) in file.route.into_iter().enumerate() {
            let route = index + 1;
            let listen = Endpoint::parse(&entry.listen)
                .map_err(|source| AllowlistError::InvalidListen { route, source })?;
            let upstream = parse_upstream(&entry.upstream).map_err(|reason| {
                AllowlistError::InvalidUpstream {
                    route,
                    listen: listen.clone(),
                    reason,
                }
            })?;
            routes.push(EgressRoute::new(listen, upstream).map_err(|e| e.for_route(route))?);
        }
        Self::new(routes)
    }

    /// Reads and parses an allowlist file, refusing files over
    /// [`MAX_ALLOWLIST_BYTES`] before reading them whole.
    ///
    /// # Errors
    /// [`AllowlistError::Read`], [`AllowlistError::TooLarge`], or a parse error.
    pub fn load(path: &Path) -> Result<Self, AllowlistError> {
        let failed = |source| AllowlistError::Read {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(failed)?;
        let mut bytes = Vec::new();
        // One byte past the cap is enough to know the file is too large, even if
        // it grows while being read.
        file.take(MAX_ALLOWLIST_BYTES + 1)
            .read_to_end(&mut bytes)
            .map_err(failed)?;
        if bytes.len() as u64 > MAX_ALLOWLIST_BYTES {
            let bytes = std::fs::metadata(path).map_or(bytes.len() as u64, |m| m.len());
            return Err(AllowlistError::TooLarge { bytes });
        }
        let text = String::from_utf8(bytes).map_err(|_| AllowlistError::NotUtf8)?;
        Self::parse(&text)
    }

    /// The routes, in file order.
    pub fn routes(&self) -> &[EgressRoute] {
        &self.routes
    }
}

/// What makes two listen endpoints the same socket: vsock ports clash whatever the
/// CID (the host binds one CID), TCP ones only on the same host and port.
#[derive(PartialEq, Eq, Hash)]
enum ListenKey {
    Tcp(String, u16),
    Vsock(u32),
}

impl ListenKey {
    fn of(endpoint: &Endpoint) -> Option<Self> {
        match endpoint {
            Endpoint::Tcp { port: 0, .. } => None,
            Endpoint::Tcp { host, port } => Some(Self::Tcp(host.to_ascii_lowercase(), *port)),
            Endpoint::Vsock { port, .. } => Some(Self::Vsock(*port)),
        }
    }
}

/// `host:port` (or `tcp://host:port`) into a TCP endpoint.
fn parse_upstream(text: &str) -> Result<Endpoint, UpstreamProblem> {
    let endpoint = if text.starts_with("vsock://") {
        return Err(UpstreamProblem::Vsock);
    } else if text.starts_with("tcp://") {
        Endpoint::parse(text)
    } else if text.contains("://") {
        return Err(UpstreamProblem::Url);
    } else {
        Endpoint::parse(&format!("tcp://{text}"))
    };
    match endpoint {
        Ok(Endpoint::Tcp { port: 0, .. }) => Err(UpstreamProblem::PortZero),
        Ok(endpoint) => Ok(endpoint),
        Err(EndpointError::Invalid { reason, .. }) => Err(UpstreamProblem::NotHostPort(reason)),
        Err(_) => Err(UpstreamProblem::NotHostPort("not host:port")),
    }
}

/// 1-based line and column of a byte offset.
fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, column)
}

/// What is wrong with an upstream (the value itself is never quoted: a pasted RPC
/// URL may carry an API key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamProblem {
    /// Not `host:port`.
    #[error("the upstream must be host:port ({0})")]
    NotHostPort(&'static str),
    /// A URL was given.
    #[error("the upstream must be host:port, not a URL (the enclave's RPC URL keeps its path)")]
    Url,
    /// A vsock endpoint was given.
    #[error("the upstream must be a TCP host:port, not vsock (the host forwards to the network)")]
    Vsock,
    /// Port 0.
    #[error("the upstream port must not be 0")]
    PortZero,
}

/// Why an allowlist was refused. Messages name the route (1-based, in file order)
/// and never quote the file's lines.
#[derive(Debug, thiserror::Error)]
pub enum AllowlistError {
    /// The file could not be read.
    #[error("cannot read the egress allowlist {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The system's reason.
        source: io::Error,
    },
    /// The file is larger than [`MAX_ALLOWLIST_BYTES`].
    #[error("the egress allowlist is {bytes} bytes; at most {MAX_ALLOWLIST_BYTES} are accepted")]
    TooLarge {
        /// Its size.
        bytes: u64,
    },
    /// The file is not UTF-8 text.
    #[error("the egress allowlist is not UTF-8 text")]
    NotUtf8,
    /// Not TOML, an unknown key, or a value of the wrong type.
    #[error("the egress allowlist is invalid at line {line}, column {column}: {message}")]
    Syntax {
        /// 1-based line (0 when unknown).
        line: usize,
        /// 1-based column (0 when unknown).
        column: usize,
        /// The parser's message.
        message: String,
    },
    /// No `[[route]]`.
    #[error(
        "the egress allowlist has no routes: add at least one [[route]] with listen and upstream"
    )]
    Empty,
    /// More than [`MAX_ROUTES`] routes.
    #[error("the egress allowlist has {count} routes; at most {MAX_ROUTES} are accepted")]
    TooManyRoutes {
        /// How many were given.
        count: usize,
    },
    /// A listen endpoint that does not parse.
    #[error("egress route {route}: listen: {source}")]
    InvalidListen {
        /// 1-based route number.
        route: usize,
        /// Why.
        source: EndpointError,
    },
    /// An upstream that is not a TCP `host:port`.
    #[error("egress route {route} (listen {listen}): {reason}")]
    InvalidUpstream {
        /// 1-based route number.
        route: usize,
        /// The route's listen endpoint.
        listen: Endpoint,
        /// Why.
        reason: UpstreamProblem,
    },
    /// Two routes listen on the same endpoint.
    #[error("egress route {route}: listen endpoint {listen} is already used by route {first}")]
    DuplicateListen {
        /// 1-based route number of the second use.
        route: usize,
        /// The endpoint.
        listen: Endpoint,
        /// 1-based route number of the first use.
        first: usize,
    },
}

impl AllowlistError {
    fn for_route(self, route: usize) -> Self {
        match self {
            Self::InvalidUpstream { listen, reason, .. } => Self::InvalidUpstream {
                route,
                listen,
                reason,
            },
            other => other,
        }
    }
}

/// The forwarder's bounds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EgressSettings {
    /// Open connections across all routes; a stream over the cap is closed at once.
    /// Default [`DEFAULT_MAX_CONNECTIONS`].
    pub max_connections: usize,
    /// A connection silent in both directions for this long is closed. Default
    /// [`DEFAULT_IDLE_TIMEOUT`].
    pub idle_timeout: Duration,
    /// Time allowed to resolve and connect the upstream (at most
    /// [`net::CONNECT_TIMEOUT`], which `Endpoint::connect` enforces
    /// itself). Default [`DEFAULT_CONNECT_TIMEOUT`].
    pub connect_timeout: Duration,
}

impl Default for EgressSettings {
    fn default() -> Self {
        Self {
            max_connections: DEFAULT_MAX_CONNECTIONS,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

impl EgressSettings {
    fn validate(&self) -> Result<(), EgressError> {
        if self.max_connections == 0 || self.max_connections > Semaphore::MAX_PERMITS {
            return Err(EgressError::Settings(
                "max_connections must be at least 1 (and below tokio's semaphore limit)",
            ));
        }
        if self.idle_timeout.is_zero() {
            return Err(EgressError::Settings("idle_timeout must not be zero"));
        }
        if self.connect_timeout.is_zero() {
            return Err(EgressError::Settings("connect_timeout must not be zero"));
        }
        Ok(())
    }
}

/// Why the forwarder could not start.
#[derive(Debug, thiserror::Error)]
pub enum EgressError {
    /// A route's listen endpoint could not be bound (in use, no vsock here, no
    /// permission); the message names the endpoint.
    #[error("egress forwarder: {source}")]
    Listen {
        /// The endpoint's error.
        source: EndpointError,
    },
    /// Settings out of range.
    #[error("invalid egress settings: {0}")]
    Settings(&'static str),
}

/// A route with its listener bound.
struct BoundRoute {
    listener: Listener,
    route: Arc<RouteState>,
}

/// What a connection task needs of its route.
struct RouteState {
    /// The metric label and log field: the bound listen endpoint's text.
    label: Arc<str>,
    upstream: Endpoint,
}

/// The forwarder with every route's listener bound; [`EgressForwarder::run`] serves
/// them.
pub struct EgressForwarder {
    routes: Vec<BoundRoute>,
    settings: EgressSettings,
}

impl fmt::Debug for EgressForwarder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut list = f.debug_list();
        for bound in &self.routes {
            list.entry(&format_args!(
                "{} -> {}",
                bound.route.label, bound.route.upstream
            ));
        }
        list.finish()
    }
}

impl EgressForwarder {
    /// Binds every route's listen endpoint now, so that a misconfiguration (a port
    /// in use, vsock where there is none) fails at start with the endpoint named,
    /// not at the enclave's first connection.
    ///
    /// # Errors
    /// [`EgressError::Listen`] for the first endpoint that cannot be bound (those
    /// bound before it are closed again), or [`EgressError::Settings`].
    pub async fn bind(
        allowlist: &EgressAllowlist,
        settings: EgressSettings,
    ) -> Result<Self, EgressError> {
        settings.validate()?;
        let mut routes = Vec::with_capacity(allowlist.routes().len());
        for route in allowlist.routes() {
            let listener = route
                .listen()
                .listen()
                .await
                .map_err(|source| EgressError::Listen { source })?;
            let label: Arc<str> = listener.local().to_string().into();
            info!(route = %label, upstream = %route.upstream(), "egress route listening");
            routes.push(BoundRoute {
                listener,
                route: Arc::new(RouteState {
                    label,
                    upstream: route.upstream().clone(),
                }),
            });
        }
        Ok(Self { routes, settings })
    }

    /// The bound listen endpoints, in allowlist order, with real ports where port 0
    /// was asked for.
    pub fn local_endpoints(&self) -> Vec<Endpoint> {
        self.routes
            .iter()
            .map(|bound| bound.listener.local().clone())
            .collect()
    }

    /// Serves every route until `shutdown` is cancelled, then stops accepting,
    /// closes every open stream, and returns once all connection tasks have ended.
    pub async fn run(self, shutdown: CancellationToken) {
        let tracker = TaskTracker::new();
        let limit = Arc::new(Semaphore::new(self.settings.max_connections));
        let settings = Arc::new(self.settings);
        for bound in self.routes {
            tracker.spawn(accept_loop(
                bound,
                Arc::clone(&limit),
                Arc::clone(&settings),
                tracker.clone(),
                shutdown.clone(),
            ));
        }
        tracker.close();
        tracker.wait().await;
        info!("egress forwarder stopped");
    }
}

/// Registers the egress metrics' descriptions with the installed recorder (call it
/// once, after installing the recorder, so `/metrics` shows their help text).
pub fn describe_metrics() {
    metrics::describe_counter!(
        "egress_connections_total",
        "Egress connections accepted and served (over the cap: see refused), by route."
    );
    metrics::describe_gauge!(
        "egress_connections_open",
        "Egress connections open now, by route."
    );
    metrics::describe_counter!(
        "egress_connections_refused_total",
        "Egress connections closed at accept, by route and reason."
    );
    metrics::describe_counter!(
        "egress_upstream_errors_total",
        "Egress connections whose upstream could not be connected, by route."
    );
    metrics::describe_counter!(
        "egress_bytes_total",
        metrics::Unit::Bytes,
        "Bytes forwarded, by route and direction (to_upstream, from_upstream)."
    );
}

async fn accept_loop(
    bound: BoundRoute,
    limit: Arc<Semaphore>,
    settings: Arc<EgressSettings>,
    tracker: TaskTracker,
    shutdown: CancellationToken,
) {
    let BoundRoute { listener, route } = bound;
    loop {
        let accepted = tokio::select! {
            () = shutdown.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            // A peer that reset before (or while) we took it: nothing to wait for.
            Err(error) if peer_gone(&error) => {
                debug!(route = %route.label, %error, "egress peer left before the accept");
                continue;
            }
            // Anything else (EMFILE, ENFILE, ENOBUFS...) may persist: back off briefly.
            Err(error) => {
                warn!(route = %route.label, %error, "egress accept failed; retrying shortly");
                tokio::select! {
                    () = shutdown.cancelled() => break,
                    () = tokio::time::sleep(ACCEPT_BACKOFF) => continue,
                }
            }
        };
        let Ok(permit) = Arc::clone(&limit).try_acquire_owned() else {
            warn!(
                route = %route.label,
                %peer,
                max_connections = settings.max_connections,
                "egress connection refused: connection limit reached"
            );
            metrics::counter!(
                "egress_connections_refused_total",
                "route" => Arc::clone(&route.label),
                "reason" => "connection_limit"
            )
            .increment(1);
            drop(stream);
            continue;
        };
        tracker.spawn(forward(
            Arc::clone(&route),
            stream,
            peer,
            Arc::clone(&settings),
            shutdown.clone(),
            permit,
        ));
    }
    debug!(route = %route.label, "egress accept loop stopped");
}

/// Accept errors that concern one peer only (it reset or left), not the listener.
fn peer_gone(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::NotConnected
            | io::ErrorKind::InvalidInput
    )
}

/// Decrements the open-connections gauge however the connection ends.
struct OpenGuard(metrics::Gauge);

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}

/// Serves one accepted stream: connect its route's upstream, copy both ways, log
/// the close.
async fn forward(
    route: Arc<RouteState>,
    client: Stream,
    peer: String,
    settings: Arc<EgressSettings>,
    shutdown: CancellationToken,
    _permit: tokio::sync::OwnedSemaphorePermit,
) {
    let label = &route.label;
    metrics::counter!("egress_connections_total", "route" => Arc::clone(label)).increment(1);
    let open = metrics::gauge!("egress_connections_open", "route" => Arc::clone(label));
    open.increment(1.0);
    let _open = OpenGuard(open);
    let started = Instant::now();

    let connecting = tokio::time::timeout(settings.connect_timeout, route.upstream.connect());
    let upstream = tokio::select! {
        () = shutdown.cancelled() => return,
        connected = connecting => connected,
    };
    let upstream = match upstream {
        Ok(Ok(upstream)) => upstream,
        failed => {
            let error = match failed {
                Ok(Err(e)) => runner::error_chain(&e),
                _ => format!(
                    "cannot connect to {}: no answer within {} ms",
                    route.upstream,
                    settings.connect_timeout.as_millis()
                ),
            };
            metrics::counter!("egress_upstream_errors_total", "route" => Arc::clone(label))
                .increment(1);
            warn!(
                route = %label,
                %peer,
                upstream = %route.upstream,
                %error,
                bytes_to_upstream = 0u64,
                bytes_from_upstream = 0u64,
                duration_ms = millis(started.elapsed()),
                reason = "upstream_unavailable",
                "egress connection closed: upstream unavailable"
            );
            return;
        }
    };

    let traffic = Traffic::new(label);
    let mut client = Metered {
        inner: client,
        traffic: &traffic,
        side: Side::Client,
    };
    let mut upstream = Metered {
        inner: upstream,
        traffic: &traffic,
        side: Side::Upstream,
    };
    let (reason, error) = {
        let copy = tokio::io::copy_bidirectional_with_sizes(
            &mut client,
            &mut upstream,
            COPY_BUFFER_BYTES,
            COPY_BUFFER_BYTES,
        );
        tokio::pin!(copy);
        loop {
            let idle_deadline = traffic.idle_deadline(settings.idle_timeout);
            tokio::select! {
                copied = &mut copy => break match copied {
                    Ok(_) => ("completed", None),
                    Err(e) => ("io_error", Some(runner::error_chain(&e))),
                },
                () = shutdown.cancelled() => break ("shutdown", None),
                () = tokio::time::sleep_until(idle_deadline) => {
                    if traffic.idle_deadline(settings.idle_timeout) <= tokio::time::Instant::now() {
                        break ("idle_timeout", None);
                    }
                }
            }
        }
    };
    // The streams drop here (closing both sockets) before the line is logged.
    drop((client, upstream));
    info!(
        route = %label,
        %peer,
        upstream = %route.upstream,
        bytes_to_upstream = traffic.to_upstream.load(Ordering::Relaxed),
        bytes_from_upstream = traffic.from_upstream.load(Ordering::Relaxed),
        duration_ms = millis(started.elapsed()),
        reason,
        error,
        "egress connection closed"
    );
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// One connection's byte counts and last activity, shared by its two streams and
/// read after the copy ends however it ends (so counts survive an idle close).
struct Traffic {
    started: tokio::time::Instant,
    /// Milliseconds from `started` to the last byte read or written either way.
    last_active_ms: AtomicU64,
    to_upstream: AtomicU64,
    from_upstream: AtomicU64,
    to_upstream_metric: Counter,
    from_upstream_metric: Counter,
}

impl Traffic {
    fn new(label: &Arc<str>) -> Self {
        Self {
            started: tokio::time::Instant::now(),
            last_active_ms: AtomicU64::new(0),
            to_upstream: AtomicU64::new(0),
            from_upstream: AtomicU64::new(0),
            to_upstream_metric: metrics::counter!(
                "egress_bytes_total",
                "route" => Arc::clone(label),
                "direction" => "to_upstream"
            ),
            from_upstream_metric: metrics::counter!(
                "egress_bytes_total",
                "route" => Arc::clone(label),
                "direction" => "from_upstream"
            ),
        }
    }

    fn touch(&self) {
        self.last_active_ms
            .store(millis(self.started.elapsed()), Ordering::Relaxed);
    }

    fn idle_deadline(&self, idle_timeout: Duration) -> tokio::time::Instant {
        self.started
            + Duration::from_millis(self.last_active_ms.load(Ordering::Relaxed))
            + idle_timeout
    }
}

/// Which end of the connection a [`Metered`] stream is.
#[derive(Clone, Copy)]
enum Side {
    /// The enclave's stream: bytes written to it came from the upstream.
    Client,
    /// The upstream's stream: bytes written to it go to the upstream.
    Upstream,
}

/// A stream that records activity on every read and write and counts the bytes
/// written to it.
struct Metered<'a, S> {
    inner: S,
    traffic: &'a Traffic,
    side: Side,
}

impl<S> Metered<'_, S> {
    fn wrote(&self, n: usize) {
        if n == 0 {
            return;
        }
        let n = n as u64;
        let (count, metric) = match self.side {
            Side::Upstream => (&self.traffic.to_upstream, &self.traffic.to_upstream_metric),
            Side::Client => (
                &self.traffic.from_upstream,
                &self.traffic.from_upstream_metric,
            ),
        };
        count.fetch_add(n, Ordering::Relaxed);
        metric.increment(n);
        self.traffic.touch();
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Metered<'_, S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            this.traffic.touch();
        }
        polled
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Metered<'_, S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = polled {
            this.wrote(n);
        }
        polled
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(n)) = polled {
            this.wrote(n);
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(text: &str) -> String {
        EgressAllowlist::parse(text).unwrap_err().to_string()
    }

    #[test]
    fn parses_routes_in_order() {
        let list = EgressAllowlist::parse(
            r#"
            # comment
            [[route]]
            listen = "vsock://any:7101"
            upstream = "rpc.example.org:443"

            [[route]]
            listen = "tcp://127.0.0.1:7102"
            upstream = "tcp://[::1]:8545"
            "#,
        )
        .unwrap();
        let routes = list.routes();
        assert_eq!(routes.len(), 2);
        assert_eq!(routes[0].listen().to_string(), "vsock://any:7101");
        assert_eq!(
            routes[0].upstream().to_string(),
            "tcp://rpc.example.org:443"
        );
        assert_eq!(routes[1].listen().to_string(), "tcp://127.0.0.1:7102");
        assert_eq!(routes[1].upstream().to_string(), "tcp://[::1]:8545");
    }

    #[test]
    fn the_example_file_parses() {
        let text = include_str!("../egress-allowlist.example.toml");
        let list = EgressAllowlist::parse(text).unwrap();
        assert!(!list.routes().is_empty());
    }

    /// The allowlist installed on the Nitro parent (deploy/, read by the systemd unit's
    /// environment file): it parses, and every route listens on vsock, as nitro mode
    /// requires.
    #[test]
    fn the_deployed_file_parses_with_vsock_routes() {
        let text = include_str!("../../deploy/egress-allowlist.toml");
        let list = EgressAllowlist::parse(text).unwrap();
        assert!(!list.routes().is_empty());
        assert!(list.routes().iter().all(|r| r.listen().is_vsock()));
    }

    #[test]
    fn refuses_bad_allowlists_with_reasons() {
        for (text, why) in [
            ("", "no routes"),
            ("route = []", "no routes"),
            (
                "[[route]]\nlisten = \"tcp://127.0.0.1:1\"\nupstream = \"h:1\"\n[[route]]\nlisten = \"tcp://127.0.0.1:1\"\nupstream = \"h:2\"",
                "route 2: listen endpoint tcp://127.0.0.1:1 is already used by route 1",
            ),
            (
                "[[route]]\nlisten = \"vsock://any:7\"\nupstream = \"h:1\"\n[[route]]\nlisten = \"vsock://3:7\"\nupstream = \"h:2\"",
                "already used by route 1",
            ),
            (
                "[[route]]\nlisten = \"tcp://127.0.0.1:1\"\nupstream = \"h\"",
                "route 1 (listen tcp://127.0.0.1:1): the upstream must be host:port (missing :PORT)",
            ),
            (
                "[[route]]\nlisten = \"tcp://127.0.0.1:1\"\nupstream = \"h:99999\"",
                "host:port (the port must be 0..=65535)",
            ),
            (
                "[[route]]\nlisten = \"tcp://127.0.0.1:1\"\nupstream = \"h:0\"",
                "port must not be 0",
            ),
            (
                "[[route]]\nlisten = \"tcp://127.0.0.1:1\"\nupstream = \"vsock://3:1\"",
                "not vsock",
            ),
            (
                "[[route]]\nlisten = \"tcp://127.0.0.1:1\"\nupstream = \"https://secret.example/v2/KEY\"",
                "not a URL",
            ),
            (
                "[[route]]\nlisten = \"127.0.0.1:1\"\nupstream = \"h:1\"",
                "route 1: listen: invalid endpoint",
            ),
            (
                "[[route]]\nlisten = \"tcp://127.0.0.1:1\"\nupstream = \"h:1\"\nport = 3",
                "line 4, column 1: unknown field `port`",
            ),
            (
                "[[routes]]\nlisten = \"tcp://127.0.0.1:1\"",
                "unknown field `routes`",
            ),
            (
                "[[route]]\nlisten = \"tcp://127.0.0.1:1\"",
                "missing field `upstream`",
            ),
            ("[[route]\nsecret-looking-line", "line 1"),
        ] {
            let message = err(text);
            assert!(message.contains(why), "{text:?}: {message}");
        }
    }

    #[test]
    fn errors_never_quote_the_file() {
        for text in [
            "[[route]]\nlisten = \"tcp://127.0.0.1:1\"\nupstream = \"https://h/v2/SECRETKEY\"",
            "[[route]]\nlisten = \"tcp://127.0.0.1:1\"\nupstream = \"user:SECRETKEY@h:1\"",
            "[[route]]\nSECRETKEY = 1",
            "SECRETKEY",
            "[[route]]\nlisten = \"tcp://127.0.0.1:1\"\nupstream = \"h:1\" SECRETKEY",
        ] {
            let message = err(text);
            assert!(
                !message.contains("SECRETKEY") || message.contains("unknown field"),
                "{message}"
            );
            assert!(!message.contains('\n'), "{message}");
        }
    }

    #[test]
    fn too_many_routes_and_too_large_are_refused() {
        let mut text = String::new();
        for port in 1..=u16::try_from(MAX_ROUTES + 1).unwrap() {
            text.push_str(&format!(
                "[[route]]\nlisten=\"tcp://127.0.0.1:{port}\"\nupstream=\"h:1\"\n"
            ));
        }
        assert!(err(&text).contains("at most 256"), "{}", err(&text));
        let big = format!(
            "# {}\n",
            "x".repeat(usize::try_from(MAX_ALLOWLIST_BYTES).unwrap())
        );
        assert!(err(&big).contains("bytes; at most 65536"), "{}", err(&big));
    }

    #[test]
    fn load_reads_files_and_names_missing_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("egress.toml");
        std::fs::write(
            &path,
            "[[route]]\nlisten = \"tcp://127.0.0.1:0\"\nupstream = \"localhost:8545\"\n",
        )
        .unwrap();
        assert_eq!(EgressAllowlist::load(&path).unwrap().routes().len(), 1);
        std::fs::write(&path, vec![b'#'; 70_000]).unwrap();
        assert!(matches!(
            EgressAllowlist::load(&path),
            Err(AllowlistError::TooLarge { bytes: 70_000 })
        ));
        std::fs::write(&path, [0xff, 0xfe]).unwrap();
        assert!(matches!(
            EgressAllowlist::load(&path),
            Err(AllowlistError::NotUtf8)
        ));
        let missing = dir.path().join("nope.toml");
        let message = EgressAllowlist::load(&missing).unwrap_err().to_string();
        assert!(message.contains("nope.toml"), "{message}");
    }

    #[test]
    fn routes_from_rpc_urls_default_their_ports() {
        let listen = Endpoint::parse("tcp://127.0.0.1:7101").unwrap();
        for (url, upstream) in [
            (
                "https://eth.example.org/v2/key",
                "tcp://eth.example.org:443",
            ),
            ("http://eth.example.org", "tcp://eth.example.org:80"),
            ("http://127.0.0.1:8545", "tcp://127.0.0.1:8545"),
            ("https://[::1]:8443/", "tcp://[::1]:8443"),
        ] {
            let route =
                EgressRoute::from_rpc_url(listen.clone(), &RpcUrl::parse(url).unwrap()).unwrap();
            assert_eq!(route.upstream().to_string(), upstream, "{url}");
            assert_eq!(route.listen(), &listen);
        }
        assert!(
            EgressRoute::from_rpc_url(listen.clone(), &RpcUrl::parse("http://h:0").unwrap())
                .is_err()
        );
        let vsock = Endpoint::parse("vsock://3:1").unwrap();
        assert!(EgressRoute::new(listen, vsock).is_err());
    }

    #[test]
    fn error_chains_name_each_cause_once() {
        let endpoint = Endpoint::parse("tcp://h:1").unwrap();
        let error = EndpointError::Connect {
            endpoint,
            source: io::Error::new(io::ErrorKind::ConnectionRefused, "refused"),
        };
        assert_eq!(
            runner::error_chain(&error),
            "cannot connect to tcp://h:1: refused"
        );
    }

    #[test]
    fn settings_are_checked() {
        let zero = EgressSettings {
            max_connections: 0,
            ..EgressSettings::default()
        };
        assert!(zero.validate().is_err());
        assert!(EgressSettings::default().validate().is_ok());
        assert_eq!(EgressSettings::default().max_connections, 512);
    }
}
