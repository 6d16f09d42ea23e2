//! The benchmark's WebSocket clients: connected with tungstenite's blocking client,
//! then all read by one thread over level-triggered epoll.
//!
//! On the 2-core machine the clients share the cores with host-proxy, so every
//! microsecond they spend on a message is one host-proxy cannot spend sending, and
//! the measured delays would be as much the clients' as the server's. A tokio task per
//! client costs about 5.5 µs per message (a task wake-up, a poll through the async
//! adapters, the runtime's workers waking each other); here a message costs one
//! `recvmsg` and a frame parse, with no thread woken per socket.
//!
//! Each read also carries the kernel's receive timestamp (`SO_TIMESTAMPNS`): when the
//! message reached the client's socket, which is host-proxy's delivery without the
//! clients' own reading in it. Both times are recorded.

use std::{
    io::{self, IoSliceMut, Read, Write},
    net::{SocketAddr, TcpStream},
    os::fd::AsRawFd,
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    thread::JoinHandle,
    time::{Duration, Instant, SystemTime, UNIX_EPOCH},
};

use eyre::{WrapErr, bail, ensure, eyre};
use nix::sys::{
    epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout},
    socket::{ControlMessageOwned, MsgFlags, recvmsg, setsockopt, sockopt},
    time::TimeSpec,
};
use serde::Deserialize;
use tokio_tungstenite::tungstenite::{
    self, Message, Utf8Bytes, WebSocket, protocol::WebSocketConfig,
};

/// Read buffer of each client. tungstenite zero-fills it before every read, so the
/// default 128 KiB would make the clients, not host-proxy, the bottleneck. An event is
/// under 200 bytes; the snapshot is read in several chunks.
const READ_BUFFER: usize = 256;
/// Bound on one read or write while a client connects and reads its snapshot.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long the reader waits for readiness before checking whether it was stopped.
const WAIT_MS: u16 = 20;
/// Readiness events taken per `epoll_wait`.
const EVENTS_PER_WAIT: usize = 1024;

/// The part of a feed message the clients look at.
#[derive(Deserialize)]
struct Kind {
    #[serde(rename = "type")]
    kind: String,
}

/// How a client's run ended.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum End {
    /// Released by the harness after its events (or at the delivery deadline).
    Released,
    /// host-proxy closed the socket (close frame reason, or "eof").
    ServerClosed(String),
    /// A read failed.
    Error(String),
}

/// One `head_update` as a client received it; its JSON is parsed after the run.
#[derive(Debug)]
pub(crate) struct Head {
    /// When the client read it.
    pub(crate) read_at: Instant,
    /// When its last bytes reached the client's socket (the kernel's receive
    /// timestamp; `None` if the kernel gave none).
    pub(crate) arrived: Option<SystemTime>,
    pub(crate) text: Utf8Bytes,
}

/// What one client saw.
#[derive(Debug)]
pub(crate) struct Outcome {
    pub(crate) heads: Vec<Head>,
    /// Snapshots received after the first (host-proxy resending the state).
    pub(crate) resyncs: usize,
    pub(crate) end: End,
}

/// A client's TCP stream, read with `recvmsg` for the receive timestamp.
///
/// Once the reader owns it (`live`), a read that returns less than was asked for has
/// emptied the socket, so the next read says `WouldBlock` without a system call:
/// tungstenite asks once more after every message, and level-triggered epoll reports
/// the socket again if more arrives.
#[derive(Debug)]
pub(crate) struct Socket {
    stream: TcpStream,
    live: bool,
    drained: bool,
    /// The receive timestamp of the last read.
    arrived: Option<SystemTime>,
}

impl Socket {
    fn new(stream: TcpStream) -> io::Result<Self> {
        setsockopt(&stream, sockopt::ReceiveTimestampns, &true)?;
        stream.set_read_timeout(Some(CONNECT_TIMEOUT))?;
        stream.set_write_timeout(Some(CONNECT_TIMEOUT))?;
        Ok(Self {
            stream,
            live: false,
            drained: false,
            arrived: None,
        })
    }
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if std::mem::take(&mut self.drained) {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        let want = buf.len();
        let mut control = nix::cmsg_space!(TimeSpec);
        let mut iov = [IoSliceMut::new(buf)];
        let msg = recvmsg::<()>(
            self.stream.as_raw_fd(),
            &mut iov,
            Some(&mut control),
            MsgFlags::empty(),
        )?;
        let stamp = msg.cmsgs().ok().and_then(|mut cmsgs| {
            cmsgs.find_map(|c| match c {
                ControlMessageOwned::ScmTimestampns(ts) => Some(ts),
                _ => None,
            })
        });
        if let Some(ts) = stamp {
            self.arrived = u64::try_from(ts.tv_sec()).ok().and_then(|secs| {
                let nanos = u32::try_from(ts.tv_nsec()).ok()?;
                UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
            });
        }
        let n = msg.bytes;
        self.drained = self.live && n > 0 && n < want;
        Ok(n)
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

/// A connected client that has read its snapshot.
pub(crate) type Client = WebSocket<Socket>;

/// Connects `count` clients to `url` (at `addr`) from `threads` threads, each reading
/// its snapshot. Blocking; stops at the first failure.
///
/// A few connections at a time stay far under host-proxy's accept backlog (128): a
/// burst of hundreds overflows it, and the dropped SYNs are retried only after 1 s.
pub(crate) fn connect(
    url: &str,
    addr: SocketAddr,
    count: usize,
    threads: usize,
) -> eyre::Result<Vec<Client>> {
    let threads = threads.clamp(1, count.max(1));
    let failed = AtomicBool::new(false);
    let mut shares: Vec<eyre::Result<Vec<(usize, Client)>>> = Vec::with_capacity(threads);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|t| {
                let failed = &failed;
                scope.spawn(move || {
                    let mut mine = Vec::with_capacity(count / threads + 1);
                    for i in (t..count).step_by(threads) {
                        if failed.load(Ordering::Relaxed) {
                            break;
                        }
                        match connect_one(url, addr) {
                            Ok(client) => mine.push((i, client)),
                            Err(e) => {
                                failed.store(true, Ordering::Relaxed);
                                return Err(e.wrap_err(format!("client {} of {count}", i + 1)));
                            }
                        }
                    }
                    Ok(mine)
                })
            })
            .collect();
        for worker in workers {
            shares.push(
                worker
                    .join()
                    .unwrap_or_else(|_| Err(eyre!("a connecting thread panicked"))),
            );
        }
    });
    let mut clients: Vec<Option<Client>> = (0..count).map(|_| None).collect();
    for share in shares {
        for (i, client) in share? {
            clients[i] = Some(client);
        }
    }
    clients
        .into_iter()
        .enumerate()
        .map(|(i, c)| c.ok_or_else(|| eyre!("client {} was never connected", i + 1)))
        .collect()
}

fn connect_one(url: &str, addr: SocketAddr) -> eyre::Result<Client> {
    let stream = TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT).wrap_err("connect")?;
    let socket = Socket::new(stream).wrap_err("set up the socket")?;
    let config = WebSocketConfig::default().read_buffer_size(READ_BUFFER);
    let (mut ws, _) = tungstenite::client::client_with_config(url, socket, Some(config))
        .map_err(|e| eyre!("WebSocket handshake: {e}"))?;
    let first = ws.read().wrap_err("read the snapshot")?;
    let text = first
        .into_text()
        .map_err(|e| eyre!("the first message is not text: {e}"))?;
    let kind: Kind = serde_json::from_str(&text).wrap_err("the first message")?;
    ensure!(
        kind.kind == "snapshot",
        "the first message is a {}, not a snapshot",
        kind.kind
    );
    Ok(ws)
}

/// One client while the reader owns it.
struct Reading {
    ws: Client,
    heads: Vec<Head>,
    resyncs: usize,
    end: Option<End>,
    counted: bool,
}

/// The reading thread: records every `head_update` of every client until stopped.
pub(crate) struct Reader {
    stop: Arc<AtomicBool>,
    complete: Arc<AtomicUsize>,
    thread: Option<JoinHandle<eyre::Result<Vec<Outcome>>>>,
}

impl Reader {
    /// Starts reading `clients`; a client is complete once it has `events` heads.
    pub(crate) fn start(clients: Vec<Client>, events: usize) -> eyre::Result<Self> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC).wrap_err("epoll_create")?;
        let mut reading = Vec::with_capacity(clients.len());
        for (i, mut ws) in clients.into_iter().enumerate() {
            let socket = ws.get_mut();
            socket.stream.set_nonblocking(true)?;
            socket.live = true;
            let token = u64::try_from(i)?;
            epoll
                .add(&socket.stream, EpollEvent::new(EpollFlags::EPOLLIN, token))
                .wrap_err("epoll_ctl")?;
            reading.push(Reading {
                ws,
                heads: Vec::with_capacity(events),
                resyncs: 0,
                end: None,
                counted: false,
            });
        }
        let stop = Arc::new(AtomicBool::new(false));
        let complete = Arc::new(AtomicUsize::new(0));
        let thread = std::thread::Builder::new()
            .name("ws-bench-reader".into())
            .spawn({
                let (stop, complete) = (Arc::clone(&stop), Arc::clone(&complete));
                move || read_all(&epoll, reading, events, &stop, &complete)
            })?;
        Ok(Self {
            stop,
            complete,
            thread: Some(thread),
        })
    }

    /// Clients that have every event so far.
    pub(crate) fn complete(&self) -> usize {
        self.complete.load(Ordering::Relaxed)
    }

    /// Stops reading (within one wait) and returns what every client saw. Blocking.
    pub(crate) fn finish(mut self) -> eyre::Result<Vec<Outcome>> {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self
            .thread
            .take()
            .ok_or_else(|| eyre!("already finished"))?;
        thread
            .join()
            .map_err(|_| eyre!("the reading thread panicked"))?
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The reading loop; bounded by `stop`, which [`Reader`] sets when finished or dropped.
fn read_all(
    epoll: &Epoll,
    mut clients: Vec<Reading>,
    events: usize,
    stop: &AtomicBool,
    complete: &AtomicUsize,
) -> eyre::Result<Vec<Outcome>> {
    let mut ready = vec![EpollEvent::empty(); EVENTS_PER_WAIT];
    while !stop.load(Ordering::Relaxed) {
        let n = match epoll.wait(&mut ready, EpollTimeout::from(WAIT_MS)) {
            Ok(n) => n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => bail!("epoll_wait: {e}"),
        };
        for event in &ready[..n] {
            let client = usize::try_from(event.data())
                .ok()
                .and_then(|i| clients.get_mut(i))
                .ok_or_else(|| eyre!("epoll returned an unknown token {}", event.data()))?;
            if let Some(end) = drain(client) {
                // Level-triggered: an ended socket would be reported forever.
                let _ = epoll.delete(&client.ws.get_ref().stream);
                client.end = Some(end);
                continue;
            }
            if !client.counted && client.heads.len() >= events {
                client.counted = true;
                complete.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    Ok(clients
        .into_iter()
        .map(|c| Outcome {
            heads: c.heads,
            resyncs: c.resyncs,
            end: c.end.unwrap_or(End::Released),
        })
        .collect())
}

/// Reads every message a ready client has; `Some` when the client has ended.
fn drain(client: &mut Reading) -> Option<End> {
    if client.end.is_some() {
        return None;
    }
    loop {
        match client.ws.read() {
            Ok(Message::Text(text)) => {
                // Only a substring test while the events run: the JSON is parsed after
                // the run, off the cores host-proxy needs.
                if text.contains("\"head_update\"") {
                    client.heads.push(Head {
                        read_at: Instant::now(),
                        arrived: client.ws.get_ref().arrived,
                        text,
                    });
                } else if text.contains("\"snapshot\"") {
                    client.resyncs += 1;
                }
            }
            Ok(Message::Close(frame)) => {
                return Some(End::ServerClosed(
                    frame.map_or_else(|| "no reason".to_owned(), |f| f.reason.to_string()),
                ));
            }
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                return None;
            }
            Err(tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed) => {
                return Some(End::ServerClosed("closed".to_owned()));
            }
            Err(tungstenite::Error::Protocol(
                tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
            )) => return Some(End::ServerClosed("eof".to_owned())),
            Err(e) => return Some(End::Error(e.to_string())),
        }
    }
}
