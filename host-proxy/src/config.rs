//! Configuration: command-line flags with `HOST_PROXY_*` environment fallbacks (for
//! a systemd `EnvironmentFile`), checked and turned into typed values before anything
//! starts. The egress routes come from `--rpc-url` (one route) or an allowlist file.

use std::{
    net::{IpAddr, SocketAddr},
    num::NonZeroU32,
    path::PathBuf,
    time::Duration,
};

use net::{
    CID_ANY, DEFAULT_CONTROL_PORT, DEFAULT_EGRESS_PORT, DEFAULT_ENCLAVE_CID, Endpoint, RpcUrl,
};

use clap::{Parser, ValueEnum};
use ipnet::IpNet;
use runner::logging::{self, LogFormat, LoggingError};

use abi::api::PageConfigView;

use crate::{
    egress::{self, EgressAllowlist, EgressRoute, EgressSettings},
    web::{
        WebSettings,
        feed::FeedSettings,
        headers::SecurityHeaders,
        limits::{self, LimitSettings},
    },
};

/// Where host-proxy runs, which decides the default endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// Local development: loopback TCP stands in for vsock.
    Sim,
    /// On a Nitro parent instance: vsock to the enclave.
    Nitro,
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Sim => "sim",
            Self::Nitro => "nitro",
        })
    }
}

/// Default for `--listen`: every interface, as a web server on the parent instance
/// is reached from outside (put a TLS-terminating load balancer in front).
pub const DEFAULT_LISTEN: &str = "0.0.0.0:6080";

/// host-proxy: the parent instance's side of the enclave lottery. It forwards the
/// enclave's RPC connections to allowlisted upstreams, follows the enclave's state
/// over the control channel, and serves it to browsers.
#[derive(Debug, Parser)]
#[command(name = "host-proxy", version, after_help = AFTER_HELP)]
pub struct Cli {
    /// Where host-proxy runs: `sim` (loopback TCP instead of vsock) or `nitro`.
    #[arg(long, env = "HOST_PROXY_MODE", value_enum)]
    pub mode: Mode,

    /// The Ethereum JSON-RPC endpoint the enclave uses (http://, https://, ws:// or
    /// wss://): one egress route is made to its host and port (80 or 443 by default).
    /// The route forwards raw bytes, so a WebSocket works as HTTP does. Give this or
    /// --egress-allowlist.
    #[arg(
        long,
        env = "HOST_PROXY_RPC_URL",
        value_name = "URL",
        hide_env_values = true
    )]
    pub rpc_url: Option<String>,

    /// TOML file of egress routes (listen endpoint -> upstream host:port); see
    /// host-proxy/egress-allowlist.example.toml. Give this or --rpc-url.
    #[arg(long, env = "HOST_PROXY_EGRESS_ALLOWLIST", value_name = "PATH")]
    pub egress_allowlist: Option<PathBuf>,

    /// Where the --rpc-url route listens for the enclave. Default: tcp://127.0.0.1:7101
    /// (sim), vsock://any:7101 (nitro).
    #[arg(long, env = "HOST_PROXY_EGRESS_LISTEN", value_name = "ENDPOINT", value_parser = Endpoint::parse)]
    pub egress_listen: Option<Endpoint>,

    /// Egress streams open at once, over all routes; more are closed at once.
    #[arg(long, env = "HOST_PROXY_EGRESS_MAX_CONNECTIONS", value_name = "N",
          default_value_t = egress::DEFAULT_MAX_CONNECTIONS as u64,
          value_parser = clap::value_parser!(u64).range(1..=65_536))]
    pub egress_max_connections: u64,

    /// Seconds an egress stream may stay silent both ways before it is closed.
    #[arg(long, env = "HOST_PROXY_EGRESS_IDLE_TIMEOUT_SECS", value_name = "SECS",
          default_value_t = egress::DEFAULT_IDLE_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub egress_idle_timeout_secs: u64,

    /// The enclave's control channel. Default: tcp://127.0.0.1:7100 (sim),
    /// vsock://16:7100 (nitro; the CID given to `nitro-cli run-enclave`).
    #[arg(long, env = "HOST_PROXY_CONTROL", value_name = "ENDPOINT", value_parser = Endpoint::parse)]
    pub control: Option<Endpoint>,

    /// Address of the web API.
    #[arg(long, env = "HOST_PROXY_LISTEN", value_name = "ADDR", default_value = DEFAULT_LISTEN)]
    pub listen: SocketAddr,

    /// The built web page to serve (when the folder exists).
    #[arg(
        long,
        env = "HOST_PROXY_FRONTEND_DIR",
        value_name = "PATH",
        default_value = "frontend/dist"
    )]
    pub frontend_dir: PathBuf,

    /// An origin allowed to call the API from another site, e.g.
    /// https://lottery.example.org (repeat for several; none: same origin only).
    #[arg(
        long = "cors-origin",
        env = "HOST_PROXY_CORS_ORIGINS",
        value_name = "ORIGIN",
        value_delimiter = ','
    )]
    pub cors_origins: Vec<String>,

    /// A block explorer for the page's transaction and address links, e.g.
    /// https://etherscan.io (none: the page shows hashes without links).
    #[arg(long, env = "HOST_PROXY_EXPLORER_URL", value_name = "URL")]
    pub explorer_url: Option<String>,

    /// A public JSON-RPC URL of the chain, offered to wallets that do not know the
    /// chain yet. It is shown to every visitor: never a URL with an API key, and not
    /// the enclave's --rpc-url.
    #[arg(long, env = "HOST_PROXY_PUBLIC_RPC_URL", value_name = "URL")]
    pub public_rpc_url: Option<String>,

    /// The chain's name, offered to wallets with --public-rpc-url.
    #[arg(long, env = "HOST_PROXY_CHAIN_NAME", value_name = "NAME")]
    pub chain_name: Option<String>,

    /// Open WebSocket feed connections at most.
    #[arg(long, env = "HOST_PROXY_MAX_WS_CLIENTS", value_name = "N",
          default_value_t = crate::web::feed::DEFAULT_MAX_CLIENTS as u64,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_ws_clients: u64,

    /// Per-client limits: `on`, or `off` for benchmarks and trusted networks (the
    /// token buckets and the WebSocket connections per client; the caps on
    /// WebSocket clients and enclave requests in flight stay).
    #[arg(long, env = "HOST_PROXY_RATE_LIMITS", value_enum, default_value_t = Switch::On)]
    pub rate_limits: Switch,

    /// Requests a minute each client may make to /api/attestation, and separately
    /// to POST /api/operator-key (the token bucket's refill); over it, 429 with
    /// Retry-After.
    #[arg(long, env = "HOST_PROXY_ENCLAVE_REQUESTS_PER_MINUTE", value_name = "N",
          default_value_t = limits::DEFAULT_ENCLAVE_REQUESTS_PER_MINUTE,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_REQUESTS_PER_MINUTE)))]
    pub enclave_requests_per_minute: u32,

    /// Requests a client may make to each of those routes at once before the
    /// per-minute rate applies (the token bucket's size).
    #[arg(long, env = "HOST_PROXY_ENCLAVE_REQUESTS_BURST", value_name = "N",
          default_value_t = limits::DEFAULT_ENCLAVE_BURST,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_REQUESTS_PER_MINUTE)))]
    pub enclave_requests_burst: u32,

    /// Open WebSocket feed connections per client; more get 429.
    #[arg(long, env = "HOST_PROXY_MAX_WS_PER_CLIENT", value_name = "N",
          default_value_t = limits::DEFAULT_MAX_WS_PER_CLIENT as u64,
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_ws_per_client: u64,

    /// Requests relayed to the enclave at once, over all clients; more get 503 at
    /// once (never queued).
    #[arg(long, env = "HOST_PROXY_MAX_ENCLAVE_IN_FLIGHT", value_name = "N",
          default_value_t = limits::DEFAULT_MAX_ENCLAVE_IN_FLIGHT as u64,
          value_parser = clap::value_parser!(u64).range(1..=MAX_ENCLAVE_IN_FLIGHT))]
    pub max_enclave_in_flight: u64,

    /// A proxy (address or CIDR range, e.g. 10.0.0.0/8) whose X-Forwarded-For header
    /// names the client for the per-client limits; repeat or comma-separate. From
    /// any other peer the header is ignored.
    #[arg(long = "trusted-proxy", env = "HOST_PROXY_TRUSTED_PROXY", value_name = "CIDR",
          value_delimiter = ',', value_parser = parse_cidr)]
    pub trusted_proxies: Vec<IpNet>,

    /// Log line format on stderr.
    #[arg(long, env = "HOST_PROXY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,

    /// Log filter, RUST_LOG syntax (e.g. `info,host_proxy=debug`).
    #[arg(
        long,
        env = "HOST_PROXY_LOG_FILTER",
        value_name = "FILTER",
        default_value = "info"
    )]
    pub log_filter: String,
}

/// Most `--enclave-requests-per-minute` and `--enclave-requests-burst`: a thousand a
/// second is beyond what an enclave attests anyway.
pub const MAX_REQUESTS_PER_MINUTE: u32 = 60_000;

/// Most `--max-enclave-in-flight`: the enclave queues what it cannot serve, so a
/// larger cap only moves the queue.
pub const MAX_ENCLAVE_IN_FLIGHT: u64 = 1024;

/// On or off.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    /// Enabled.
    On,
    /// Disabled.
    Off,
}

/// An address or a CIDR range.
fn parse_cidr(text: &str) -> Result<IpNet, String> {
    let text = text.trim();
    text.parse::<IpNet>()
        .or_else(|_| text.parse::<IpAddr>().map(IpNet::from))
        .map(|net| net.trunc())
        .map_err(|_| format!("{text:?} is not an IP address or CIDR range (e.g. 10.0.0.0/8)"))
}

const AFTER_HELP: &str = "\
Every flag can also be set by its HOST_PROXY_* environment variable (shown above).
In sim mode, `host-proxy --mode sim --rpc-url URL` works with `enclave-app --mode sim`
and no other flags: both default to the same loopback ports.";

/// Why the configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Neither or both of `--rpc-url` and `--egress-allowlist`.
    #[error("give exactly one of --rpc-url and --egress-allowlist")]
    RoutesSource,
    /// The RPC URL does not parse (shown redacted).
    #[error("--rpc-url is not a usable RPC URL")]
    RpcUrl(#[source] net::UrlError),
    /// The allowlist file is unusable.
    #[error(transparent)]
    Allowlist(#[from] egress::AllowlistError),
    /// A TCP endpoint in nitro mode.
    #[error("--mode nitro needs vsock endpoints, but {setting} is {value}")]
    NitroNeedsVsock {
        /// The setting.
        setting: &'static str,
        /// Its value.
        value: String,
    },
    /// A CORS origin is not a valid header value.
    #[error("--cors-origin {0:?} is not a valid origin (e.g. https://lottery.example.org)")]
    CorsOrigin(String),
    /// A URL for the page is not an absolute http(s) URL.
    #[error("{flag} {value:?} is not an http:// or https:// URL")]
    PageUrl {
        /// The flag.
        flag: &'static str,
        /// Its value.
        value: String,
    },
    /// The chain name is empty, too long or has control characters.
    #[error("--chain-name must be 1 to {MAX_CHAIN_NAME_CHARS} printable characters")]
    ChainName,
    /// The log filter does not parse.
    #[error("--log-filter is not a valid log filter")]
    LogFilter(#[source] LoggingError),
}

/// The validated configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where host-proxy runs.
    pub mode: Mode,
    /// Egress routes.
    pub routes: EgressAllowlist,
    /// Egress limits.
    pub egress: EgressSettings,
    /// The enclave's control channel.
    pub control: Endpoint,
    /// The web API's address.
    pub listen: SocketAddr,
    /// Static files and CORS.
    pub web: WebSettings,
    /// WebSocket feed limits.
    pub feed: FeedSettings,
    /// Per-client limits and the enclave's in-flight cap.
    pub limits: LimitSettings,
    /// Log line format.
    pub log_format: LogFormat,
    /// Log filter, checked to parse.
    pub log_filter: String,
}

impl Config {
    /// Checks `cli` and builds the configuration (reading the allowlist file).
    ///
    /// # Errors
    /// [`ConfigError`].
    pub fn from_cli(cli: Cli) -> Result<Self, ConfigError> {
        logging::parse_filter(&cli.log_filter).map_err(ConfigError::LogFilter)?;
        let routes = match (&cli.rpc_url, &cli.egress_allowlist) {
            (Some(url), None) => {
                let url = RpcUrl::parse_with_websocket(url).map_err(ConfigError::RpcUrl)?;
                let listen = cli.egress_listen.clone().unwrap_or(match cli.mode {
                    Mode::Sim => Endpoint::loopback(DEFAULT_EGRESS_PORT),
                    Mode::Nitro => Endpoint::Vsock {
                        cid: CID_ANY,
                        port: u32::from(DEFAULT_EGRESS_PORT),
                    },
                });
                EgressAllowlist::new(vec![EgressRoute::from_rpc_url(listen, &url)?])?
            }
            (None, Some(path)) => EgressAllowlist::load(path)?,
            _ => return Err(ConfigError::RoutesSource),
        };
        let control = cli.control.clone().unwrap_or(match cli.mode {
            Mode::Sim => Endpoint::loopback(DEFAULT_CONTROL_PORT),
            Mode::Nitro => Endpoint::Vsock {
                cid: DEFAULT_ENCLAVE_CID,
                port: u32::from(DEFAULT_CONTROL_PORT),
            },
        });
        if cli.mode == Mode::Nitro {
            if !control.is_vsock() {
                return Err(ConfigError::NitroNeedsVsock {
                    setting: "--control",
                    value: control.to_string(),
                });
            }
            if let Some(route) = routes.routes().iter().find(|r| !r.listen().is_vsock()) {
                return Err(ConfigError::NitroNeedsVsock {
                    setting: "an egress route's listen endpoint",
                    value: route.listen().to_string(),
                });
            }
        }
        let cors_origins = cli
            .cors_origins
            .iter()
            .map(|origin| {
                let valid = (origin.starts_with("http://") || origin.starts_with("https://"))
                    && !origin.ends_with('/');
                valid
                    .then(|| axum::http::HeaderValue::from_str(origin).ok())
                    .flatten()
                    .ok_or_else(|| ConfigError::CorsOrigin(origin.clone()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let page = PageConfigView {
            explorer_url: page_url("--explorer-url", cli.explorer_url.as_deref())?,
            public_rpc_url: page_url("--public-rpc-url", cli.public_rpc_url.as_deref())?,
            chain_name: cli
                .chain_name
                .as_deref()
                .map(|name| {
                    let name = name.trim();
                    let printable = !name.is_empty()
                        && name.chars().count() <= MAX_CHAIN_NAME_CHARS
                        && !name.chars().any(char::is_control);
                    printable
                        .then(|| name.to_owned())
                        .ok_or(ConfigError::ChainName)
                })
                .transpose()?,
        };
        let headers = SecurityHeaders::new(
            page.public_rpc_url
                .as_deref()
                .map(|url| page_origin("--public-rpc-url", url))
                .transpose()?
                .as_deref(),
        );
        Ok(Self {
            mode: cli.mode,
            web: WebSettings {
                frontend_dir: Some(cli.frontend_dir),
                cors_origins,
                page,
                headers,
            },
            limits: LimitSettings {
                per_client: cli.rate_limits == Switch::On,
                enclave_per_minute: NonZeroU32::new(cli.enclave_requests_per_minute)
                    .unwrap_or(NonZeroU32::MIN),
                enclave_burst: NonZeroU32::new(cli.enclave_requests_burst)
                    .unwrap_or(NonZeroU32::MIN),
                // Lossless: at most 1,000,000 and 1,024.
                max_ws_per_client: usize::try_from(cli.max_ws_per_client).unwrap_or(usize::MAX),
                max_enclave_in_flight: usize::try_from(cli.max_enclave_in_flight)
                    .unwrap_or(usize::MAX),
                trusted_proxies: cli.trusted_proxies,
            },
            feed: FeedSettings {
                // Lossless: at most 1,000,000.
                max_clients: usize::try_from(cli.max_ws_clients).unwrap_or(usize::MAX),
            },
            routes,
            egress: EgressSettings {
                // Lossless: at most 65,536.
                max_connections: usize::try_from(cli.egress_max_connections).unwrap_or(usize::MAX),
                idle_timeout: Duration::from_secs(cli.egress_idle_timeout_secs),
                ..EgressSettings::default()
            },
            control,
            listen: cli.listen,
            log_format: cli.log_format,
            log_filter: cli.log_filter,
        })
    }
}

/// Longest `--chain-name`: wallets show it in one line.
pub const MAX_CHAIN_NAME_CHARS: usize = 64;

/// Longest URL for the page (`--explorer-url`, `--public-rpc-url`).
pub const MAX_PAGE_URL_CHARS: usize = 512;

/// An absolute http(s) URL without whitespace, quotes or angle brackets (the page
/// puts it in links), trailing slashes trimmed so the page can append paths.
fn page_url(flag: &'static str, value: Option<&str>) -> Result<Option<String>, ConfigError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let invalid = || ConfigError::PageUrl {
        flag,
        value: value.chars().take(80).collect(),
    };
    let trimmed = value.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("https://")
        .or_else(|| trimmed.strip_prefix("http://"))
        .ok_or_else(invalid)?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let clean = !trimmed
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || matches!(c, '"' | '\'' | '<' | '>' | '`'));
    if host.is_empty() || !clean || trimmed.len() > MAX_PAGE_URL_CHARS {
        return Err(invalid());
    }
    Ok(Some(trimmed.to_owned()))
}

/// The origin (scheme, host, port) of a URL `page_url` accepted, for the page's
/// Content-Security-Policy: refused when the host has characters a policy or an
/// origin cannot hold (user info, `;`, `,`).
fn page_origin(flag: &'static str, url: &str) -> Result<String, ConfigError> {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let valid = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']'));
    if !valid {
        return Err(ConfigError::PageUrl {
            flag,
            value: url.chars().take(80).collect(),
        });
    }
    Ok(format!("{scheme}://{}", host.to_ascii_lowercase()))
}

impl std::fmt::Display for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "mode={} control={} listen={}",
            self.mode, self.control, self.listen
        )?;
        for route in self.routes.routes() {
            write!(f, " route={}->{}", route.listen(), route.upstream())?;
        }
        write!(
            f,
            " egress_max_connections={} egress_idle_timeout_secs={}",
            self.egress.max_connections,
            self.egress.idle_timeout.as_secs()
        )?;
        let limits = &self.limits;
        write!(
            f,
            " rate_limits={} enclave_requests_per_minute={} enclave_requests_burst={} max_ws_per_client={} max_enclave_in_flight={} trusted_proxies={}",
            if limits.per_client { "on" } else { "off" },
            limits.enclave_per_minute,
            limits.enclave_burst,
            limits.max_ws_per_client,
            limits.max_enclave_in_flight,
            limits.trusted_proxies.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(args: &[&str]) -> Result<Config, ConfigError> {
        let cli = Cli::try_parse_from(std::iter::once("host-proxy").chain(args.iter().copied()))
            .map_err(|e| ConfigError::CorsOrigin(e.to_string()))?;
        Config::from_cli(cli)
    }

    #[test]
    fn sim_defaults_meet_enclave_app_on_loopback() {
        let config = load(&[
            "--mode",
            "sim",
            "--rpc-url",
            "https://rpc.example.org/v2/KEY",
        ])
        .unwrap();
        assert_eq!(config.control.to_string(), "tcp://127.0.0.1:7100");
        let route = &config.routes.routes()[0];
        assert_eq!(route.listen().to_string(), "tcp://127.0.0.1:7101");
        assert_eq!(route.upstream().to_string(), "tcp://rpc.example.org:443");
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        // The API key in the URL's path goes nowhere near the host's config or logs.
        assert!(!config.to_string().contains("KEY"));
    }

    #[test]
    fn nitro_defaults_are_vsock_and_tcp_is_refused() {
        let config = load(&["--mode", "nitro", "--rpc-url", "https://rpc.example.org"]).unwrap();
        assert_eq!(config.control.to_string(), "vsock://16:7100");
        assert_eq!(
            config.routes.routes()[0].listen().to_string(),
            "vsock://any:7101"
        );
        let err = load(&[
            "--mode",
            "nitro",
            "--rpc-url",
            "https://h",
            "--control",
            "tcp://127.0.0.1:7100",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("--control"), "{err}");
        let err = load(&[
            "--mode",
            "nitro",
            "--rpc-url",
            "https://h",
            "--egress-listen",
            "tcp://0.0.0.0:7101",
        ])
        .unwrap_err();
        assert!(err.to_string().contains("egress"), "{err}");
    }

    #[test]
    fn routes_come_from_exactly_one_source() {
        assert!(matches!(
            load(&["--mode", "sim"]),
            Err(ConfigError::RoutesSource)
        ));
        assert!(matches!(
            load(&[
                "--mode",
                "sim",
                "--rpc-url",
                "http://h:1",
                "--egress-allowlist",
                "/x"
            ]),
            Err(ConfigError::RoutesSource)
        ));
        let err = load(&["--mode", "sim", "--rpc-url", "ftp://h/SECRET"]).unwrap_err();
        assert!(!runner::error_chain(&err).contains("SECRET"));
    }

    #[test]
    fn page_settings_are_checked_and_trimmed() {
        let config = load(&[
            "--mode",
            "sim",
            "--rpc-url",
            "http://h:1",
            "--explorer-url",
            "https://explorer.example/",
            "--public-rpc-url",
            "http://127.0.0.1:8545",
            "--chain-name",
            " Anvil (local) ",
        ])
        .unwrap();
        assert_eq!(
            config.web.page,
            PageConfigView {
                explorer_url: Some("https://explorer.example".to_owned()),
                public_rpc_url: Some("http://127.0.0.1:8545".to_owned()),
                chain_name: Some("Anvil (local)".to_owned()),
            }
        );
        let none = load(&["--mode", "sim", "--rpc-url", "http://h:1"]).unwrap();
        assert_eq!(none.web.page, PageConfigView::default());
        for (flag, bad) in [
            ("--explorer-url", "explorer.example"),
            ("--explorer-url", "javascript:alert(1)"),
            ("--explorer-url", "https://"),
            ("--explorer-url", "https://a.example/\"><script>"),
            ("--public-rpc-url", "ws://127.0.0.1:8545"),
            ("--public-rpc-url", "https://a b.example"),
        ] {
            let err = load(&["--mode", "sim", "--rpc-url", "http://h:1", flag, bad]).unwrap_err();
            assert!(
                matches!(err, ConfigError::PageUrl { flag: f, .. } if f == flag),
                "{flag} {bad}: {err}"
            );
        }
        for bad in ["", "  ", "a\nb", &"x".repeat(65)] {
            let err = load(&[
                "--mode",
                "sim",
                "--rpc-url",
                "http://h:1",
                "--chain-name",
                bad,
            ])
            .unwrap_err();
            assert!(matches!(err, ConfigError::ChainName), "{bad:?}: {err}");
        }
    }

    #[test]
    fn limits_default_on_and_are_read_from_flags() {
        let config = load(&["--mode", "sim", "--rpc-url", "http://h:1"]).unwrap();
        assert_eq!(config.limits, LimitSettings::default());
        assert!(config.limits.per_client);
        assert_eq!(config.limits.enclave_per_minute.get(), 10);
        assert_eq!(config.limits.enclave_burst.get(), 5);
        assert_eq!(config.limits.max_ws_per_client, 32);
        let config = load(&[
            "--mode",
            "sim",
            "--rpc-url",
            "http://h:1",
            "--rate-limits",
            "off",
            "--enclave-requests-per-minute",
            "100",
            "--enclave-requests-burst",
            "20",
            "--max-ws-per-client",
            "4",
            "--max-enclave-in-flight",
            "2",
            "--trusted-proxy",
            "10.0.0.0/8,192.0.2.7",
            "--trusted-proxy",
            "2001:db8::1/32",
        ])
        .unwrap();
        let limits = &config.limits;
        assert!(!limits.per_client);
        assert_eq!(
            (
                limits.enclave_per_minute.get(),
                limits.enclave_burst.get(),
                limits.max_ws_per_client,
                limits.max_enclave_in_flight
            ),
            (100, 20, 4, 2)
        );
        let proxies: Vec<String> = limits
            .trusted_proxies
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(proxies, ["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"]);
        assert!(config.to_string().contains("rate_limits=off"), "{config}");
    }

    #[test]
    fn the_content_security_policy_names_the_public_rpc_origin() {
        let config = load(&[
            "--mode",
            "sim",
            "--rpc-url",
            "http://h:1",
            "--public-rpc-url",
            "https://RPC.example:8545/v2/path?x=1",
        ])
        .unwrap();
        let csp = config
            .web
            .headers
            .content_security_policy()
            .to_str()
            .unwrap();
        assert!(
            csp.contains("connect-src 'self' https://rpc.example:8545;"),
            "{csp}"
        );
        assert!(csp.contains("'wasm-unsafe-eval'") && csp.contains("frame-ancestors 'none'"));
        for bad in [
            "https://user:pw@rpc.example",
            "https://rpc.example;script-src",
        ] {
            let err = load(&[
                "--mode",
                "sim",
                "--rpc-url",
                "http://h:1",
                "--public-rpc-url",
                bad,
            ])
            .unwrap_err();
            assert!(matches!(err, ConfigError::PageUrl { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn cors_origins_and_log_filters_are_checked() {
        let config = load(&[
            "--mode",
            "sim",
            "--rpc-url",
            "http://h:1",
            "--cors-origin",
            "https://a.example,http://localhost:5173",
        ])
        .unwrap();
        assert_eq!(config.web.cors_origins.len(), 2);
        for bad in ["a.example", "https://a.example/", "https://bad\norigin"] {
            let err = load(&[
                "--mode",
                "sim",
                "--rpc-url",
                "http://h:1",
                "--cors-origin",
                bad,
            ])
            .unwrap_err();
            assert!(err.to_string().contains("origin"), "{bad}: {err}");
        }
        let err = load(&[
            "--mode",
            "sim",
            "--rpc-url",
            "http://h:1",
            "--log-filter",
            "x=loud",
        ])
        .unwrap_err();
        assert!(matches!(err, ConfigError::LogFilter(_)), "{err}");
    }
}
