//! The egress forwarder over real loopback sockets: forwarding, half-close, the
//! connection cap, upstream failures, idle timeout, shutdown, and allowlist errors.
//! Every wait is bounded by [`WAIT`].

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use host_proxy::egress::{
    AllowlistError, EgressAllowlist, EgressError, EgressForwarder, EgressRoute, EgressSettings,
};
use net::Endpoint;
use rand::{RngCore, SeedableRng, rngs::StdRng};
use testkit::process::free_port;
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    task::JoinHandle,
};
use tokio_util::sync::CancellationToken;

/// Upper bound on any single wait in these tests (a hang is a failure, not a stall).
const WAIT: Duration = Duration::from_secs(20);

/// Bounds a future by [`WAIT`].
async fn bounded<F: Future>(what: &str, future: F) -> F::Output {
    tokio::time::timeout(WAIT, future)
        .await
        .unwrap_or_else(|_| panic!("timed out: {what}"))
}

fn tcp(text: &str) -> Endpoint {
    Endpoint::parse(text).unwrap()
}

/// Serves `listener`: each connection's bytes are echoed back, and its EOF
/// answered with EOF.
fn serve_echo(listener: TcpListener) -> JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let (mut read, mut write) = stream.split();
                let _ = tokio::io::copy(&mut read, &mut write).await;
                let _ = write.shutdown().await;
            });
        }
    })
}

/// An echo server on a free loopback port.
async fn echo_server() -> (u16, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    (port, serve_echo(listener))
}

/// A running forwarder.
struct Forwarder {
    locals: Vec<Endpoint>,
    shutdown: CancellationToken,
    task: JoinHandle<()>,
}

impl Forwarder {
    async fn start(routes: &[(&str, &str)], settings: EgressSettings) -> Self {
        let routes = routes
            .iter()
            .map(|(listen, upstream)| EgressRoute::new(tcp(listen), tcp(upstream)).unwrap())
            .collect();
        let allowlist = EgressAllowlist::new(routes).unwrap();
        let forwarder = EgressForwarder::bind(&allowlist, settings).await.unwrap();
        let locals = forwarder.local_endpoints();
        let shutdown = CancellationToken::new();
        let task = tokio::spawn(forwarder.run(shutdown.clone()));
        Self {
            locals,
            shutdown,
            task,
        }
    }

    /// One route to `upstream_port` on loopback.
    async fn to_port(upstream_port: u16, settings: EgressSettings) -> Self {
        Self::start(
            &[(
                "tcp://127.0.0.1:0",
                &format!("tcp://127.0.0.1:{upstream_port}"),
            )],
            settings,
        )
        .await
    }

    async fn connect(&self) -> TcpStream {
        let port = self.locals[0].port();
        bounded(
            "connect",
            TcpStream::connect(("127.0.0.1", u16::try_from(port).unwrap())),
        )
        .await
        .unwrap()
    }

    async fn stop(self) {
        self.shutdown.cancel();
        bounded("forwarder stop", self.task).await.unwrap();
    }
}

/// Sends `message` and expects it echoed back.
async fn ping(stream: &mut TcpStream, message: &[u8]) {
    stream.write_all(message).await.unwrap();
    let mut got = vec![0; message.len()];
    bounded("echo", stream.read_exact(&mut got)).await.unwrap();
    assert_eq!(got, message);
}

/// Whether the forwarder closed this stream: EOF or a reset, within [`WAIT`].
async fn closed_by_peer(stream: &mut TcpStream) -> bool {
    let mut byte = [0; 1];
    match tokio::time::timeout(WAIT, stream.read(&mut byte)).await {
        Ok(Ok(0) | Err(_)) => true,
        Ok(Ok(_)) | Err(_) => false,
    }
}

/// Captures the log lines of the current thread (use with a current-thread runtime,
/// so the forwarder's tasks log on it too).
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn install(&self) -> tracing::subscriber::DefaultGuard {
        let logs = self.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_max_level(tracing::Level::DEBUG)
            .with_writer(move || logs.clone())
            .finish();
        tracing::subscriber::set_default(subscriber)
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwards_a_large_payload_byte_exact_both_ways() {
    let (port, _echo) = echo_server().await;
    let forwarder = Forwarder::to_port(port, EgressSettings::default()).await;
    let mut payload = vec![0; 8 * 1024 * 1024 + 17];
    StdRng::from_os_rng().fill_bytes(&mut payload);
    let stream = forwarder.connect().await;
    let (mut read, mut write) = stream.into_split();
    let sent = payload.clone();
    let writer = tokio::spawn(async move {
        write.write_all(&sent).await.unwrap();
        write.shutdown().await.unwrap();
    });
    let mut echoed = Vec::with_capacity(payload.len());
    bounded("echo of 8 MB", read.read_to_end(&mut echoed))
        .await
        .unwrap();
    bounded("writer", writer).await.unwrap();
    assert_eq!(echoed.len(), payload.len());
    assert!(echoed == payload, "the echo differs from what was sent");
    forwarder.stop().await;
}

#[tokio::test]
async fn half_close_still_delivers_the_reply() {
    // The upstream reads until EOF, then answers with what it counted and closes.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let _upstream = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        let mut request = Vec::new();
        stream.read_to_end(&mut request).await.unwrap();
        let reply = format!("got {} bytes", request.len());
        stream.write_all(reply.as_bytes()).await.unwrap();
        stream.shutdown().await.unwrap();
    });
    let forwarder = Forwarder::to_port(port, EgressSettings::default()).await;
    let mut stream = forwarder.connect().await;
    stream.write_all(&[7; 100_000]).await.unwrap();
    stream.shutdown().await.unwrap();
    let mut reply = String::new();
    bounded("reply after half-close", stream.read_to_string(&mut reply))
        .await
        .unwrap();
    assert_eq!(reply, "got 100000 bytes");
    forwarder.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serves_many_concurrent_connections() {
    const CONNECTIONS: usize = 200;
    let (port, _echo) = echo_server().await;
    let forwarder = Forwarder::to_port(port, EgressSettings::default()).await;
    let target = u16::try_from(forwarder.locals[0].port()).unwrap();
    let clients: Vec<_> = (0..CONNECTIONS)
        .map(|i| {
            tokio::spawn(async move {
                let mut stream = TcpStream::connect(("127.0.0.1", target)).await.unwrap();
                let message = vec![u8::try_from(i % 251).unwrap(); 64 * 1024];
                ping(&mut stream, &message).await;
                ping(&mut stream, b"second round trip").await;
            })
        })
        .collect();
    for client in clients {
        bounded("concurrent client", client).await.unwrap();
    }
    forwarder.stop().await;
}

#[tokio::test]
async fn over_the_cap_a_stream_is_closed_and_the_others_keep_working() {
    let (port, _echo) = echo_server().await;
    let settings = EgressSettings {
        max_connections: 2,
        ..EgressSettings::default()
    };
    let forwarder = Forwarder::to_port(port, settings).await;
    let mut first = forwarder.connect().await;
    let mut second = forwarder.connect().await;
    ping(&mut first, b"one").await;
    ping(&mut second, b"two").await;

    let started = Instant::now();
    let mut third = forwarder.connect().await;
    assert!(
        closed_by_peer(&mut third).await,
        "the third stream stayed open"
    );
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "closed only after {:?}",
        started.elapsed()
    );
    ping(&mut first, b"still one").await;
    ping(&mut second, b"still two").await;

    // Closing one frees its slot (once the forwarder has seen both directions end).
    drop(first);
    let mut replaced = false;
    for _ in 0..100 {
        let mut next = forwarder.connect().await;
        next.write_all(b"x").await.unwrap();
        let mut byte = [0; 1];
        if let Ok(Ok(1)) = tokio::time::timeout(WAIT, next.read(&mut byte)).await {
            replaced = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(replaced, "a freed slot was never reused");
    ping(&mut second, b"two again").await;
    forwarder.stop().await;
}

#[tokio::test]
async fn an_upstream_that_is_down_closes_that_stream_only() {
    let logs = Logs::default();
    let _guard = logs.install();
    let port = free_port();
    let forwarder = Forwarder::to_port(port, EgressSettings::default()).await;

    let mut refused = forwarder.connect().await;
    assert!(closed_by_peer(&mut refused).await);

    // The upstream comes up on the same port: the same forwarder now serves.
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let _echo = serve_echo(listener);
    let mut stream = forwarder.connect().await;
    ping(&mut stream, b"up now").await;
    drop(stream);
    forwarder.stop().await;

    let text = logs.text();
    assert!(text.contains("upstream_unavailable"), "{text}");
    assert!(
        text.contains(&format!("cannot connect to tcp://127.0.0.1:{port}")),
        "{text}"
    );
    assert!(text.contains("route=tcp://127.0.0.1:"), "{text}");
    assert!(text.contains("peer=tcp://127.0.0.1:"), "{text}");
}

#[tokio::test]
async fn an_idle_connection_is_closed_and_its_bytes_are_logged() {
    let logs = Logs::default();
    let _guard = logs.install();
    let (port, _echo) = echo_server().await;
    let idle = Duration::from_millis(300);
    let settings = EgressSettings {
        idle_timeout: idle,
        ..EgressSettings::default()
    };
    let forwarder = Forwarder::to_port(port, settings).await;
    let mut stream = forwarder.connect().await;
    // Activity keeps it open past one idle period.
    for _ in 0..4 {
        tokio::time::sleep(idle / 3).await;
        ping(&mut stream, b"busy").await;
    }
    let silent_since = Instant::now();
    assert!(
        closed_by_peer(&mut stream).await,
        "the idle stream stayed open"
    );
    let waited = silent_since.elapsed();
    assert!(
        waited >= idle - Duration::from_millis(50),
        "closed after {waited:?}"
    );
    assert!(waited < idle * 5, "closed only after {waited:?}");
    forwarder.stop().await;

    let text = logs.text();
    assert!(text.contains("reason=\"idle_timeout\""), "{text}");
    assert!(text.contains("bytes_to_upstream=16"), "{text}");
    assert!(text.contains("bytes_from_upstream=16"), "{text}");
}

#[tokio::test]
async fn a_port_with_no_route_is_refused() {
    let (port, _echo) = echo_server().await;
    let forwarder = Forwarder::to_port(port, EgressSettings::default()).await;
    let unrouted = free_port();
    let err = TcpStream::connect(("127.0.0.1", unrouted))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::ConnectionRefused);
    forwarder.stop().await;
}

#[tokio::test]
async fn shutdown_closes_open_streams() {
    let (port, _echo) = echo_server().await;
    let forwarder = Forwarder::to_port(port, EgressSettings::default()).await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        let mut stream = forwarder.connect().await;
        ping(&mut stream, b"open").await;
        streams.push(stream);
    }
    let target = forwarder.locals[0].clone();
    let started = Instant::now();
    forwarder.stop().await;
    for stream in &mut streams {
        assert!(closed_by_peer(stream).await);
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    // And nothing listens any more.
    let port = u16::try_from(target.port()).unwrap();
    assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
}

#[tokio::test]
async fn routes_forward_to_their_own_upstream() {
    let (a, _echo_a) = echo_server().await;
    // Upstream B announces itself, so a mix-up would show.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b = listener.local_addr().unwrap().port();
    let _b = tokio::spawn(async move {
        let (mut stream, _) = listener.accept().await.unwrap();
        stream.write_all(b"this is B").await.unwrap();
    });
    let forwarder = Forwarder::start(
        &[
            ("tcp://127.0.0.1:0", &format!("tcp://127.0.0.1:{a}")),
            ("tcp://127.0.0.1:0", &format!("tcp://127.0.0.1:{b}")),
        ],
        EgressSettings::default(),
    )
    .await;
    assert_eq!(forwarder.locals.len(), 2);
    let mut to_a = forwarder.connect().await;
    ping(&mut to_a, b"this is A").await;
    let port_b = u16::try_from(forwarder.locals[1].port()).unwrap();
    let mut to_b = TcpStream::connect(("127.0.0.1", port_b)).await.unwrap();
    let mut greeting = String::new();
    bounded("B's greeting", to_b.read_to_string(&mut greeting))
        .await
        .unwrap();
    assert_eq!(greeting, "this is B");
    forwarder.stop().await;
}

#[tokio::test]
async fn upstream_names_are_resolved_per_connection() {
    let logs = Logs::default();
    let _guard = logs.install();
    let (port, _echo) = echo_server().await;
    let settings = EgressSettings {
        connect_timeout: Duration::from_secs(5),
        ..EgressSettings::default()
    };
    let forwarder = Forwarder::start(
        &[
            ("tcp://127.0.0.1:0", &format!("tcp://localhost:{port}")),
            ("tcp://127.0.0.1:0", "tcp://nonexistent.invalid:1"),
        ],
        settings,
    )
    .await;
    for _ in 0..3 {
        let mut stream = forwarder.connect().await;
        ping(&mut stream, b"by name").await;
    }
    let unresolvable = u16::try_from(forwarder.locals[1].port()).unwrap();
    let mut stream = TcpStream::connect(("127.0.0.1", unresolvable))
        .await
        .unwrap();
    assert!(closed_by_peer(&mut stream).await);
    // The forwarder is still serving.
    let mut stream = forwarder.connect().await;
    ping(&mut stream, b"still here").await;
    drop(stream);
    forwarder.stop().await;
    let text = logs.text();
    assert!(
        text.contains("cannot connect to tcp://nonexistent.invalid:1"),
        "{text}"
    );
    assert!(text.contains("upstream_unavailable"), "{text}");
}

#[tokio::test]
async fn allowlist_files_give_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("egress.toml");
    for (text, why) in [
        ("", "no routes"),
        (
            "[[route]]\nlisten = \"tcp://127.0.0.1:1\"\nupstream = \"h:1\"\n[[route]]\nlisten = \"tcp://127.0.0.1:1\"\nupstream = \"h:2\"\n",
            "route 2: listen endpoint tcp://127.0.0.1:1 is already used by route 1",
        ),
        (
            "[[route]]\nlisten = \"tcp://127.0.0.1:1\"\nupstream = \"rpc.example.org\"\n",
            "route 1 (listen tcp://127.0.0.1:1): the upstream must be host:port",
        ),
        (
            "[[route]]\nlisten = \"tcp://127.0.0.1:1\"\nupstream = \"vsock://3:8545\"\n",
            "not vsock",
        ),
        (
            "[[route]]\nlisten = \"tcp://127.0.0.1:1\"\nupstream = \"h:1\"\ntimeout = 5\n",
            "line 4, column 1: unknown field `timeout`",
        ),
        (
            "[[route]]\nlisten = \"tcp://127.0.0.1:1\"\nupstream = 8545\n",
            "line 3",
        ),
    ] {
        std::fs::write(&path, text).unwrap();
        let message = EgressAllowlist::load(&path).unwrap_err().to_string();
        assert!(message.contains(why), "{text:?}: {message}");
        assert!(!message.contains('\n'), "{message}");
    }
    std::fs::write(&path, "#".repeat(100_000)).unwrap();
    assert!(matches!(
        EgressAllowlist::load(&path),
        Err(AllowlistError::TooLarge { .. })
    ));
}

#[tokio::test]
async fn a_listen_endpoint_in_use_fails_at_bind_naming_it() {
    let taken = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = taken.local_addr().unwrap().port();
    let allowlist = EgressAllowlist::new(vec![
        EgressRoute::new(tcp("tcp://127.0.0.1:0"), tcp("tcp://127.0.0.1:1")).unwrap(),
        EgressRoute::new(
            tcp(&format!("tcp://127.0.0.1:{port}")),
            tcp("tcp://127.0.0.1:1"),
        )
        .unwrap(),
    ])
    .unwrap();
    let err = EgressForwarder::bind(&allowlist, EgressSettings::default())
        .await
        .unwrap_err();
    assert!(matches!(err, EgressError::Listen { .. }), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("cannot listen on tcp://127.0.0.1:{port}")),
        "{err}"
    );
}
