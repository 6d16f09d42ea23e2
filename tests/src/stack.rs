//! The whole simulated topology as real processes: enclave-app and host-proxy
//! spawned from their built binaries, talking over loopback TCP (vsock's stand-in),
//! with their logs captured so tests can wait for and assert on them.

use std::{
    io::{BufRead, BufReader, Write},
    os::unix::fs::PermissionsExt,
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use abi::{api::FeedSnapshot, state::Snapshot};

use alloy::primitives::Address;
use host_proxy::{control, state::HostState};
use net::Endpoint;
use tokio_util::sync::CancellationToken;

use testkit::process::{workspace_binary, workspace_command};

use crate::Chain;

/// A spawned service with its stderr captured line by line (and echoed to the test's
/// stderr, which the runner shows for failing tests). Killed with SIGKILL on drop.
pub struct Service {
    name: &'static str,
    child: Child,
    lines: Arc<Mutex<Vec<String>>>,
    _files: Vec<tempfile::TempPath>,
}

impl Service {
    /// Spawns `command` as the service `name`, keeping `files` (a key file, an
    /// allowlist) as long as it runs. Build `command` with
    /// [`testkit::process::workspace_command`], so none of the test's environment
    /// (`ENCLAVE_*`, `HOST_PROXY_*`, `RUST_LOG`) reaches the service.
    ///
    /// # Panics
    /// When it cannot be spawned.
    pub fn spawn(
        name: &'static str,
        command: &mut Command,
        files: Vec<tempfile::TempPath>,
    ) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {name}: {e}"));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                // The runner shows a test's stderr when it fails: the services' logs
                // explain most failures.
                #[allow(clippy::print_stderr)]
                {
                    eprintln!("[{name}] {line}");
                }
                sink.lock().expect("log lines").push(line);
            }
        });
        Self {
            name,
            child,
            lines,
            _files: files,
        }
    }

    /// Its process id (for `/proc` readings).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Every log line so far.
    ///
    /// # Panics
    /// Never in practice (the lock is only poisoned by a panicking reader).
    pub fn logs(&self) -> Vec<String> {
        self.lines.lock().expect("log lines").clone()
    }

    /// Whether a log line so far contains every one of `needles`.
    pub fn logged(&self, needles: &[&str]) -> bool {
        self.logs()
            .iter()
            .any(|line| needles.iter().all(|n| line.contains(n)))
    }

    /// Waits until a log line contains every one of `needles`; returns it.
    ///
    /// # Panics
    /// After `timeout`, with the log so far.
    pub async fn wait_for_log(&self, needles: &[&str], timeout: Duration) -> String {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(line) = self
                .logs()
                .into_iter()
                .find(|line| needles.iter().all(|n| line.contains(n)))
            {
                return line;
            }
            assert!(
                Instant::now() < deadline,
                "{} never logged {needles:?} within {timeout:?}; log:\n{}",
                self.name,
                self.logs().join("\n")
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Whether the process is still running.
    ///
    /// # Panics
    /// When its status cannot be read.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("process status").is_none()
    }

    /// SIGKILL, like a crash or `kill -9`, and reap it.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// SIGTERM and wait: the exit status.
    ///
    /// # Panics
    /// When the signal cannot be sent.
    pub fn terminate(&mut self) -> std::process::ExitStatus {
        testkit::process::terminate(self.child.id()).expect("kill -TERM");
        self.child.wait().expect("wait")
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Ports of one simulated topology.
#[derive(Debug, Clone, Copy)]
pub struct Ports {
    /// enclave-app's control channel.
    pub control: u16,
    /// host-proxy's egress route.
    pub egress: u16,
    /// host-proxy's web API.
    pub web: u16,
}

impl Ports {
    /// Three distinct free ports: all three are held bound until each is known, so
    /// the system cannot hand the same port out twice (it did, under load).
    ///
    /// # Panics
    /// When no port can be bound.
    pub fn free() -> Self {
        let bind = || std::net::TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let held = [bind(), bind(), bind()];
        let [control, egress, web] = held.map(|l| l.local_addr().expect("local address").port());
        Self {
            control,
            egress,
            web,
        }
    }

    /// The control endpoint.
    pub fn control_endpoint(&self) -> Endpoint {
        Endpoint::loopback(self.control)
    }
}

/// Starts host-proxy in sim mode, forwarding its egress port to `upstream_url`.
pub fn host_proxy(ports: Ports, upstream_url: &str, extra: &[&str]) -> Service {
    let mut command = workspace_command("host-proxy", &[]);
    command
        .args(["--mode", "sim", "--rpc-url", upstream_url])
        .arg(format!("--egress-listen=tcp://127.0.0.1:{}", ports.egress))
        .arg(format!("--control=tcp://127.0.0.1:{}", ports.control))
        .arg(format!("--listen=127.0.0.1:{}", ports.web))
        .args(["--log-filter", "info"])
        .args(extra);
    Service::spawn("host-proxy", &mut command, Vec::new())
}

/// Starts enclave-app in sim mode with anvil account `key` as its operator key (a
/// generated one for `None`), reaching the chain at `rpc_url` through host-proxy's
/// egress port (its only route: give an `rpc_url` whose host does not resolve to
/// prove it).
pub fn enclave_app(
    chain: &Chain,
    ports: Ports,
    rpc_url: &str,
    contract: Address,
    key: Option<usize>,
    extra: &[&str],
) -> Service {
    let mut command = workspace_command("enclave-app", &[]);
    command
        .args(["--mode", "sim", "--rpc-url", rpc_url])
        .arg(format!("--contract={contract}"))
        .arg(format!("--egress=tcp://127.0.0.1:{}", ports.egress))
        .arg(format!(
            "--control-listen=tcp://127.0.0.1:{}",
            ports.control
        ))
        .args(["--poll-interval-ms", "100", "--log-filter", "info"])
        .args(extra);
    let mut files = Vec::new();
    if let Some(key) = key {
        let key_file = tempfile::NamedTempFile::new()
            .expect("key file")
            .into_temp_path();
        write_key_file(&key_file, chain, key);
        command.arg("--operator-key-file").arg(&key_file);
        files.push(key_file);
    }
    Service::spawn("enclave-app", &mut command, files)
}

/// PCR0 of a simulated enclave-app: the SHA-384 of the workspace's binary.
///
/// # Panics
/// When the binary cannot be read.
pub fn sim_pcr0() -> Vec<u8> {
    use sha2::Digest;
    let binary = std::fs::read(workspace_binary("enclave-app")).expect("read enclave-app");
    sha2::Sha384::digest(&binary).to_vec()
}

/// Writes anvil account `i`'s private key to `path` (hex, mode 0600), as key files
/// are kept.
///
/// # Panics
/// When the file cannot be written.
pub fn write_key_file(path: &std::path::Path, chain: &Chain, i: usize) {
    let mut file = std::fs::File::create(path).expect("create key file");
    writeln!(file, "{}", alloy::hex::encode(chain.keys[i].to_bytes())).expect("write key");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).expect("chmod key file");
}

/// The root certificate of a simulated CA file written by enclave-app
/// (`--sim-ca-file`): its first PEM block. The intermediate and its key follow;
/// a verifier never needs them.
///
/// # Panics
/// When the file is not such a CA file.
pub fn sim_root_pem(ca_file: &std::path::Path) -> String {
    let pem = std::fs::read_to_string(ca_file).expect("read the CA file");
    let end = "-----END CERTIFICATE-----";
    let cut = pem.find(end).expect("a certificate in the CA file") + end.len();
    format!("{}\n", &pem[..cut])
}

/// host-proxy flags for tests of attestation itself, which fetch dozens of documents
/// a minute from 127.0.0.1 (more than a person would: the defaults would refuse
/// them). The limits' own tests (`it/processes/limits.rs`) run with the defaults.
pub const ATTESTATION_TEST_LIMITS: [&str; 4] = [
    "--enclave-requests-per-minute",
    "6000",
    "--enclave-requests-burst",
    "1000",
];

/// host-proxy and enclave-app in sim mode attesting with a simulated CA: enclave-app
/// generates its key (it is not the contract's operator) and accepts one injected
/// key for `operator_address` (none without it). Ready when an attestation comes back through
/// host-proxy.
pub struct AttestingStack {
    /// host-proxy.
    pub host: Service,
    /// enclave-app.
    pub enclave: Service,
    /// Their ports.
    pub ports: Ports,
    /// The simulated root, as a PEM file in [`Self::dir`].
    pub root_pem: std::path::PathBuf,
    /// A directory that lives as long as the stack (the CA file, key files).
    pub dir: tempfile::TempDir,
}

impl AttestingStack {
    /// Starts both and waits until they attest.
    ///
    /// # Panics
    /// When either does not come up within 30 s.
    pub async fn start(chain: &Chain, contract: Address, operator_address: Address) -> Self {
        Self::start_with(
            chain,
            contract,
            Some(operator_address),
            &ATTESTATION_TEST_LIMITS,
        )
        .await
    }

    /// [`Self::start`] with `host_flags` for host-proxy instead of
    /// [`ATTESTATION_TEST_LIMITS`] (`&[]`: the default limits).
    ///
    /// # Panics
    /// When either does not come up within 30 s.
    pub async fn start_with(
        chain: &Chain,
        contract: Address,
        operator_address: Option<Address>,
        host_flags: &[&str],
    ) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let ca_file = dir.path().join("sim-ca.pem");
        let ports = Ports::free();
        let host = host_proxy(ports, &chain.endpoint(), host_flags);
        let mut flags = vec![
            "--sim-ca-file".to_owned(),
            ca_file.to_str().expect("UTF-8 path").to_owned(),
        ];
        if let Some(address) = operator_address {
            flags.extend(["--operator-address".to_owned(), address.to_string()]);
        }
        let flags: Vec<&str> = flags.iter().map(String::as_str).collect();
        let enclave = enclave_app(
            chain,
            ports,
            "http://chain.invalid:8545",
            contract,
            None,
            &flags,
        );
        enclave
            .wait_for_log(&["mirroring the contract"], Duration::from_secs(30))
            .await;
        let deadline = Instant::now() + Duration::from_secs(30);
        while try_get_json_raw(ports.web, "/api/attestation?nonce=00")
            .await
            .map_or(true, |(status, _, _)| status != 200)
        {
            assert!(Instant::now() < deadline, "no attestation within 30 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let root_pem = dir.path().join("sim-root.pem");
        std::fs::write(&root_pem, sim_root_pem(&ca_file)).expect("write the root");
        Self {
            host,
            enclave,
            ports,
            root_pem,
            dir,
        }
    }

    /// host-proxy's base URL.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.ports.web)
    }
}

/// The enclave's state as a second control client sees it (the enclave serves a few
/// at once): connects, takes the snapshot, disconnects.
///
/// # Panics
/// When no snapshot arrives within `timeout`.
pub async fn enclave_snapshot(control: Endpoint, timeout: Duration) -> Snapshot {
    let state = HostState::new();
    let (client, _handle) = control::client(control, state.clone());
    let shutdown = CancellationToken::new();
    let task = tokio::spawn(client.run(shutdown.clone()));
    let deadline = Instant::now() + timeout;
    let snapshot = loop {
        if let Some(snapshot) = state.snapshot() {
            break snapshot;
        }
        assert!(Instant::now() < deadline, "no snapshot within {timeout:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    shutdown.cancel();
    let _ = task.await;
    Snapshot::clone(&snapshot)
}

/// GETs `path` from host-proxy's web API: status code and JSON body.
///
/// # Panics
/// When the request fails or the body is not JSON.
pub async fn get_json(web_port: u16, path: &str) -> (u16, serde_json::Value) {
    try_get_json(web_port, path)
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"))
}

/// Like [`get_json`], but a refused connection (host-proxy not up yet, or down) is
/// an `Err`.
///
/// # Panics
/// When the body is not JSON.
pub async fn try_get_json(
    web_port: u16,
    path: &str,
) -> Result<(u16, serde_json::Value), hyper_util::client::legacy::Error> {
    use http_body_util::{BodyExt, Empty};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Empty<bytes::Bytes>>();
    let uri: hyper::Uri = format!("http://127.0.0.1:{web_port}{path}")
        .parse()
        .expect("URI");
    let response = client.get(uri).await?;
    let status = response.status().as_u16();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    Ok((status, serde_json::from_slice(&body).expect("a JSON body")))
}

/// host-proxy's mirrored snapshot: the first message of its WebSocket feed (`None`
/// before the enclave's first snapshot, or while host-proxy is not listening).
///
/// # Panics
/// When the feed's first message is neither a snapshot nor a heartbeat.
pub async fn host_snapshot(web_port: u16) -> Option<FeedSnapshot> {
    host_feed_snapshot(web_port).await.map(|(_, s)| s)
}

/// The same with the sequence number the feed sent it at.
///
/// # Panics
/// When the feed's first message is neither a snapshot nor a heartbeat.
pub async fn host_feed_snapshot(web_port: u16) -> Option<(u64, FeedSnapshot)> {
    use futures_util::StreamExt;
    let (mut ws, _) = tokio_tungstenite::connect_async(format!("ws://127.0.0.1:{web_port}/ws"))
        .await
        .ok()?;
    let first = tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .ok()??
        .ok()?;
    let text = first.into_text().expect("a text message");
    match serde_json::from_str::<abi::api::FeedNotice>(&text).expect("a feed notice") {
        abi::api::FeedNotice::Snapshot { seq, data, .. } => Some((seq, *data)),
        abi::api::FeedNotice::Heartbeat { .. } => None,
        other => panic!("the feed's first message is {other:?}"),
    }
}

/// Waits until host-proxy's snapshot (from its feed) satisfies `check`; returns it.
///
/// # Panics
/// After `secs` seconds, naming `what`.
pub async fn host_until(
    web: u16,
    secs: u64,
    what: &str,
    check: impl Fn(&FeedSnapshot) -> bool,
) -> FeedSnapshot {
    let deadline = Instant::now() + Duration::from_secs(secs);
    loop {
        if let Some(snapshot) = host_snapshot(web).await
            && check(&snapshot)
        {
            return snapshot;
        }
        assert!(
            Instant::now() < deadline,
            "host-proxy never showed {what} within {secs} s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// enclave-app's store and control server with host-proxy, all in this process on
/// loopback ports: the web API and feed driven by store changes made by the test
/// (no chain). Stopped when dropped.
pub struct InProcess {
    /// The enclave side's state: change it to make events.
    pub store: enclave_app::store::Store,
    /// host-proxy's web port.
    pub web: u16,
    /// host-proxy's mirrored state.
    pub host: HostState,
    shutdown: CancellationToken,
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

impl InProcess {
    /// Starts both halves with `handler` answering relayed requests and at most
    /// `max_ws_clients` feed clients, all of which may come from 127.0.0.1 (the feed
    /// tests' crowds share that address); returns once host-proxy holds the first
    /// snapshot.
    ///
    /// # Panics
    /// When a part cannot start.
    pub async fn start(
        handler: std::sync::Arc<dyn enclave_app::control::RequestHandler>,
        max_ws_clients: usize,
    ) -> Self {
        let limits = host_proxy::web::limits::LimitSettings {
            max_ws_per_client: max_ws_clients,
            ..Default::default()
        };
        Self::start_with_limits(handler, max_ws_clients, limits).await
    }

    /// [`Self::start`] with `limits` instead of the default limits.
    ///
    /// # Panics
    /// When a part cannot start.
    pub async fn start_with_limits(
        handler: std::sync::Arc<dyn enclave_app::control::RequestHandler>,
        max_ws_clients: usize,
        limits: host_proxy::web::limits::LimitSettings,
    ) -> Self {
        use enclave_app::{control::ControlServer, store::Store};
        use host_proxy::{
            config::{Config, Mode},
            egress::{EgressAllowlist, EgressRoute, EgressSettings},
            web::{WebSettings, feed::FeedSettings},
        };
        let shutdown = CancellationToken::new();
        let store = Store::new(
            Address::repeat_byte(0x11),
            31337,
            abi::state::StateLimits::default(),
        );
        let server = ControlServer::bind(&Endpoint::loopback(0), store.clone(), handler)
            .await
            .expect("control server");
        let control = server.local().clone();
        tokio::spawn(server.run(shutdown.clone()));
        let route = EgressRoute::new(Endpoint::loopback(0), Endpoint::loopback(1)).expect("route");
        let config = Config {
            mode: Mode::Sim,
            routes: EgressAllowlist::new(vec![route]).expect("allowlist"),
            egress: EgressSettings::default(),
            control,
            listen: "127.0.0.1:0".parse().expect("address"),
            web: WebSettings::default(),
            feed: FeedSettings {
                max_clients: max_ws_clients,
            },
            limits,
            log_format: runner::logging::LogFormat::Text,
            log_filter: "info".to_owned(),
        };
        let running = host_proxy::start(config, shutdown.clone())
            .await
            .expect("host-proxy");
        let host = running.state.clone();
        let web = running.web.port();
        tokio::spawn(running.wait());
        let deadline = Instant::now() + Duration::from_secs(10);
        while host.snapshot().is_none() {
            assert!(Instant::now() < deadline, "no snapshot within 10 s");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        Self {
            store,
            web,
            host,
            shutdown,
        }
    }
}

/// A GET whose failure to connect is an `Err` (the server may not listen yet).
///
/// # Errors
/// When the connection fails.
pub async fn try_get_json_raw(
    web_port: u16,
    path: &str,
) -> Result<(u16, hyper::HeaderMap, bytes::Bytes), std::io::Error> {
    tokio::net::TcpStream::connect(("127.0.0.1", web_port)).await?;
    Ok(http(web_port, "GET", path, None).await)
}

/// One HTTP request to host-proxy's web API: status, headers and body.
///
/// # Panics
/// When the request cannot be sent.
pub async fn http(
    web_port: u16,
    method: &str,
    path: &str,
    body: Option<(&str, Vec<u8>)>,
) -> (u16, hyper::HeaderMap, bytes::Bytes) {
    use http_body_util::{BodyExt, Full};
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<Full<bytes::Bytes>>();
    let mut request = hyper::Request::builder()
        .method(method)
        .uri(format!("http://127.0.0.1:{web_port}{path}"));
    let payload = match body {
        Some((content_type, bytes)) => {
            request = request.header(hyper::header::CONTENT_TYPE, content_type);
            bytes::Bytes::from(bytes)
        }
        None => bytes::Bytes::new(),
    };
    let response = client
        .request(request.body(Full::new(payload)).expect("request"))
        .await
        .expect("HTTP request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    (status, headers, body)
}

/// A WebSocket client of host-proxy's feed.
pub type FeedSocket = tokio_tungstenite::WebSocketStream<tokio::net::TcpStream>;

/// A client of host-proxy's web API from one loopback source address (all of
/// 127.0.0.0/8 is this machine), so one test can be several clients at once: a
/// flooder and a bystander, as host-proxy's per-client limits tell them apart.
#[derive(Debug, Clone, Copy)]
pub struct LoopbackClient {
    /// The source address its connections are bound to.
    pub source: std::net::Ipv4Addr,
    /// host-proxy's web port (on 127.0.0.1).
    pub web: u16,
}

impl LoopbackClient {
    /// A client at `source` (e.g. `127.0.0.2`) of host-proxy on `web`.
    pub const fn new(source: std::net::Ipv4Addr, web: u16) -> Self {
        Self { source, web }
    }

    /// One request, with extra `headers`: status, headers and body.
    ///
    /// # Panics
    /// When the request cannot be sent.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> (u16, hyper::HeaderMap, bytes::Bytes) {
        use http_body_util::{BodyExt, Full};
        let mut connector = hyper_util::client::legacy::connect::HttpConnector::new();
        connector.set_local_address(Some(self.source.into()));
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build::<_, Full<bytes::Bytes>>(connector);
        let mut request = hyper::Request::builder()
            .method(method)
            .uri(format!("http://127.0.0.1:{}{path}", self.web));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let payload = match body {
            Some((content_type, bytes)) => {
                request = request.header(hyper::header::CONTENT_TYPE, content_type);
                bytes::Bytes::from(bytes)
            }
            None => bytes::Bytes::new(),
        };
        let response = client
            .request(request.body(Full::new(payload)).expect("request"))
            .await
            .unwrap_or_else(|e| panic!("{method} {path} from {}: {e}", self.source));
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .into_body()
            .collect()
            .await
            .expect("body")
            .to_bytes();
        (status, headers, body)
    }

    /// A GET: status, headers and body.
    ///
    /// # Panics
    /// When the request cannot be sent.
    pub async fn get(&self, path: &str) -> (u16, hyper::HeaderMap, bytes::Bytes) {
        self.request("GET", path, &[], None).await
    }

    /// Opens the WebSocket feed; the refusal (an HTTP status) is the `Err`.
    ///
    /// # Panics
    /// When the TCP connection cannot be made.
    pub async fn websocket(&self) -> Result<FeedSocket, tokio_tungstenite::tungstenite::Error> {
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket
            .bind((self.source, 0).into())
            .expect("bind the source address");
        let stream = socket
            .connect(([127, 0, 0, 1], self.web).into())
            .await
            .expect("connect to host-proxy");
        tokio_tungstenite::client_async(format!("ws://127.0.0.1:{}/ws", self.web), stream)
            .await
            .map(|(ws, _)| ws)
    }
}
