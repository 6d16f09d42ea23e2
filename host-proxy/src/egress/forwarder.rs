//! The forwarder: one accept loop per route, one tracked task per connection under
//! a shared cap, bytes copied both ways until both directions are done.

use std::{
    fmt, io,
    sync::{Arc, atomic::Ordering},
    time::{Duration, Instant},
};

use net::{Endpoint, EndpointError, Listener, Stream};
use tokio::sync::Semaphore;
use tokio_util::{sync::CancellationToken, task::TaskTracker};
use tracing::{debug, info, warn};

use super::{
    ACCEPT_BACKOFF, COPY_BUFFER_BYTES, DEFAULT_CONNECT_TIMEOUT, DEFAULT_IDLE_TIMEOUT,
    DEFAULT_MAX_CONNECTIONS,
    allowlist::EgressAllowlist,
    metered::{Metered, Side, Traffic, millis},
};

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

#[cfg(test)]
mod tests {
    use std::io;

    use net::{Endpoint, EndpointError};

    use super::*;

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
