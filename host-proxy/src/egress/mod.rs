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
//! pick a target (a WebSocket's upgrade and frames are bytes like any other). So the
//! host is not an open proxy for whatever runs in the enclave,
//! and a compromised enclave can reach only the upstreams the operator configured.
//! Conversely the host learns nothing it should not: for `https://` and `wss://` RPC
//! URLs TLS is end-to-end between the enclave and the upstream (it terminates *inside* the
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

//!
//! # Modules
//!
//! - [`allowlist`]: the routes (listen endpoint -> upstream) and the allowlist file.
//! - [`forwarder`]: the accept loops, the connection cap and the byte copying.
//! - [`metered`]: the stream wrapper that counts bytes and notices idleness.

use std::time::Duration;

pub mod allowlist;
pub mod forwarder;
mod metered;

pub use allowlist::{AllowlistError, EgressAllowlist, EgressRoute, UpstreamProblem};
pub use forwarder::{EgressError, EgressForwarder, EgressSettings, describe_metrics};

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
pub const DEFAULT_CONNECT_TIMEOUT: Duration = net::CONNECT_TIMEOUT;

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
