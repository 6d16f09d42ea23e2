//! host-proxy: the parent instance's side of the enclave lottery. It is untrusted by
//! design (DESIGN.md, "Threat model"): it moves bytes for the enclave and serves
//! what the enclave publishes, and can forge neither.
//!
//! - [`config`]: flags and `HOST_PROXY_*` variables, checked before anything starts.
//! - [`egress`]: forwards each stream the enclave opens to the one upstream
//!   configured for that listening port (the enclave cannot choose targets).
//! - [`control`]: the control-channel client, which follows the enclave's state and
//!   relays requests to it.
//! - [`state`]: the mirrored state the web API serves.
//! - [`web`]: the HTTP API.
//!
//! What it must not do: hold or see key material (sealed keys pass through as
//! ciphertext), terminate the enclave's TLS, or poll the chain itself (the state it
//! serves comes from the enclave over the control channel). It links no TLS client:
//! its sockets are `net`'s, and `rpc-transport` is not a dependency (CI checks).

pub mod config;
pub mod control;
pub mod egress;
pub mod state;
pub mod web;

use std::{net::SocketAddr, sync::Arc};

use net::Endpoint;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::info;

use crate::{
    config::Config,
    control::ControlHandle,
    egress::{EgressError, EgressForwarder},
    state::HostState,
    web::{AppState, feed::Feed, limits::ClientLimits},
};

/// Why host-proxy could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// An egress route could not be bound.
    #[error("cannot start the egress forwarder")]
    Egress(#[from] EgressError),
    /// The web API's address could not be bound.
    #[error("cannot listen on {addr} for the web API")]
    Web {
        /// The address.
        addr: SocketAddr,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// A started host-proxy: its bound addresses and state, for `main` and tests.
#[derive(Debug)]
pub struct Running {
    /// The egress routes' listen endpoints (real ports).
    pub egress: Vec<Endpoint>,
    /// The web API's address (real port).
    pub web: SocketAddr,
    /// The mirrored state.
    pub state: HostState,
    /// Relays requests to the enclave.
    pub control: ControlHandle,
    tasks: TaskTracker,
}

impl Running {
    /// Waits until every task has stopped (after the shutdown token was cancelled).
    pub async fn wait(self) {
        self.tasks.wait().await;
        info!(target: "host_proxy", "stopped");
    }
}

/// Binds every listener and starts the forwarder, the control client and the web
/// API; they run until `shutdown` is cancelled.
///
/// # Errors
/// [`RunError`] when a listener cannot be bound; nothing keeps running then.
pub async fn start(config: Config, shutdown: CancellationToken) -> Result<Running, RunError> {
    info!(target: "host_proxy", config = %config, "starting");
    let forwarder = EgressForwarder::bind(&config.routes, config.egress.clone()).await?;
    let egress = forwarder.local_endpoints();
    let web_listener = bind_web(config.listen).map_err(|source| RunError::Web {
        addr: config.listen,
        source,
    })?;
    let web = web_listener.local_addr().map_err(|source| RunError::Web {
        addr: config.listen,
        source,
    })?;

    let state = HostState::new();
    let (client, control) = control::client(config.control.clone(), state.clone());
    web::metrics::handle();
    let feed = Feed::start(state.clone(), config.feed, shutdown.clone());
    let limits = ClientLimits::new(config.limits.clone());
    let app = web::router(
        AppState {
            host: state.clone(),
            control: control.clone(),
            feed,
            limits: Arc::clone(&limits),
        },
        &config.web,
    );

    let tasks = TaskTracker::new();
    tasks.spawn(limits.prune(shutdown.clone()));
    tasks.spawn(forwarder.run(shutdown.clone()));
    tasks.spawn(client.run(shutdown.clone()));
    let web_shutdown = shutdown.clone();
    tasks.spawn(async move {
        // The peer's address is what the per-client limits key on.
        let served = axum::serve(
            web_listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async move { web_shutdown.cancelled().await })
        .await;
        if let Err(e) = served {
            tracing::error!(target: "host_proxy::web", error = %e, "web server failed");
        }
    });
    tasks.close();
    info!(target: "host_proxy", web = %web, control = %config.control, "host-proxy running");
    Ok(Running {
        egress,
        web,
        state,
        control,
        tasks,
    })
}

/// Pending connections the web listener queues. tokio's default (128) overflows when
/// thousands of WebSocket clients reconnect at once after a restart, and each
/// overflowed client waits a second before its SYN is retried; the kernel caps it
/// at `net.core.somaxconn` anyway.
pub const WEB_ACCEPT_BACKLOG: u32 = 4096;

fn bind_web(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let socket = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    socket.set_reuseaddr(true)?;
    socket.set_nodelay(true)?;
    socket.bind(addr)?;
    socket.listen(WEB_ACCEPT_BACKLOG)
}

/// [`start`], then wait for `shutdown`.
///
/// # Errors
/// As [`start`].
pub async fn run(config: Config, shutdown: CancellationToken) -> Result<(), RunError> {
    start(config, shutdown).await?.wait().await;
    Ok(())
}
