//! The egress routes and the allowlist file that names them: each listen endpoint
//! goes to exactly one upstream `host:port`, fixed by the host's operator.

use std::{
    collections::HashMap,
    fmt, io,
    path::{Path, PathBuf},
};

use net::{Endpoint, EndpointError, RpcUrl};
use serde::Deserialize;

use super::{MAX_ALLOWLIST_BYTES, MAX_ROUTES};

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
    /// `listen` go to the URL's host and port (80 for `http://` and `ws://`, 443 for
    /// `https://` and `wss://` when the URL names none). The path and query (which
    /// often hold an API key) are not used here: they travel inside the enclave's
    /// HTTP requests (or its WebSocket upgrade).
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
            .unwrap_or(if url.is_tls() { 443 } else { 80 });
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
        // The cap is checked while reading, so a file growing meanwhile is refused too.
        let bytes =
            runner::files::read_bounded(path, MAX_ALLOWLIST_BYTES).map_err(|e| match e {
                runner::files::FileError::TooLarge { .. } => AllowlistError::TooLarge {
                    bytes: std::fs::metadata(path).map_or(MAX_ALLOWLIST_BYTES + 1, |m| m.len()),
                },
                runner::files::FileError::Unreadable { source, .. } => AllowlistError::Read {
                    path: path.to_owned(),
                    source,
                },
                other => AllowlistError::Read {
                    path: path.to_owned(),
                    source: io::Error::other(other),
                },
            })?;
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
        let text = include_str!("../../egress-allowlist.example.toml");
        let list = EgressAllowlist::parse(text).unwrap();
        assert!(!list.routes().is_empty());
    }

    /// The allowlist installed on the Nitro parent (deploy/, read by the systemd unit's
    /// environment file): it parses, and every route listens on vsock, as nitro mode
    /// requires.
    #[test]
    fn the_deployed_file_parses_with_vsock_routes() {
        let text = include_str!("../../../deploy/egress-allowlist.toml");
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
}
