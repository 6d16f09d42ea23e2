//! Per-client limits: what keeps one internet client from starving the others
//! (DESIGN.md, "Threat model": internet clients must not starve other clients).
//!
//! - **Who a client is** ([`ClientKey`]): the peer's IP address (an IPv6 client by
//!   its /64, the block one subscriber gets, so a client cannot take a fresh key per
//!   request). `X-Forwarded-For` is believed only from a `--trusted-proxy` peer.
//! - **Token buckets** on the two routes that reach the enclave (`/api/attestation`,
//!   `POST /api/operator-key`), one bucket per route per client: governor's GCRA,
//!   sharded map, no lock on the hot path. A request spends a token only when it
//!   would reach the enclave (well formed, channel up): a malformed one costs nothing
//!   but cannot reach the enclave either. Refused with 429 and `Retry-After`.
//! - **WebSocket connections per client**, counted while open; refused with 429.
//! - **Enclave requests in flight**, over all clients: a semaphore tried, never
//!   waited on, so a flood gets 503 at once instead of a queue that delays everyone.
//!
//! Every refusal is counted in `http_rejected_total{route, reason}`.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    num::NonZeroU32,
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use aide::OperationInput;
use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{HeaderMap, StatusCode, request::Parts},
};
use governor::{
    Quota, RateLimiter,
    clock::{Clock, DefaultClock},
    state::keyed::DefaultKeyedStateStore,
};
use ipnet::IpNet;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;

use super::{AppState, error::ApiError};

/// Default refill of each enclave route's bucket: a person verifying by hand (a
/// page load, an `attest verify`, a seal-key) uses a few a minute; a flood is held to
/// one every six seconds.
pub const DEFAULT_ENCLAVE_REQUESTS_PER_MINUTE: u32 = 10;

/// Default bucket size: the page's verify button pressed a few times in a row, or a
/// seal-key run (verify, then fetch, then seal) goes through without waiting.
pub const DEFAULT_ENCLAVE_BURST: u32 = 5;

/// Default open WebSocket connections per client: several tabs and devices behind
/// one NAT, far below the global cap (16,384), so one address cannot take the feed.
pub const DEFAULT_MAX_WS_PER_CLIENT: usize = 32;

/// Default enclave requests in flight over all clients: the enclave-app serves 8 per
/// control connection (`enclave_app::control::MAX_PENDING_REQUESTS`); more would only
/// queue inside it.
pub const DEFAULT_MAX_ENCLAVE_IN_FLIGHT: usize = 8;

/// How often idle clients' buckets are dropped from the map (a full bucket holds no
/// information), so the map holds only clients seen in the last refill period.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// Most `X-Forwarded-For` entries read from a trusted proxy, right to left: a chain
/// of proxies is a few hops; more is a client stuffing the header.
pub const MAX_FORWARDED_HOPS: usize = 16;

/// The limits, from the flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitSettings {
    /// Whether the per-client limits (token buckets, WebSocket connections per
    /// client) apply: `--rate-limits off` is for benchmarks and trusted networks.
    /// The global caps (in-flight enclave requests, WebSocket clients) always do.
    pub per_client: bool,
    /// Each enclave route's bucket refill, per client.
    pub enclave_per_minute: NonZeroU32,
    /// Each enclave route's bucket size, per client.
    pub enclave_burst: NonZeroU32,
    /// Open WebSocket connections per client.
    pub max_ws_per_client: usize,
    /// Enclave requests in flight over all clients.
    pub max_enclave_in_flight: usize,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpNet>,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            per_client: true,
            enclave_per_minute: NonZeroU32::new(DEFAULT_ENCLAVE_REQUESTS_PER_MINUTE)
                .unwrap_or(NonZeroU32::MIN),
            enclave_burst: NonZeroU32::new(DEFAULT_ENCLAVE_BURST).unwrap_or(NonZeroU32::MIN),
            max_ws_per_client: DEFAULT_MAX_WS_PER_CLIENT,
            max_enclave_in_flight: DEFAULT_MAX_ENCLAVE_IN_FLIGHT,
            trusted_proxies: Vec::new(),
        }
    }
}

/// Who a client is for the limits: an IPv4 address, or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKey {
    /// An IPv4 client (IPv4-mapped IPv6 peers included).
    V4(Ipv4Addr),
    /// An IPv6 client's /64 (the upper 64 bits of its address).
    V6(u64),
}

impl ClientKey {
    /// The key of a client at `ip`.
    pub fn of(ip: IpAddr) -> Self {
        match ip.to_canonical() {
            IpAddr::V4(v4) => Self::V4(v4),
            IpAddr::V6(v6) => Self::V6((v6.to_bits() >> 64) as u64),
        }
    }

    /// The key of the client behind a request from `peer` with `headers`: the peer,
    /// or, when the peer is a trusted proxy, the rightmost `X-Forwarded-For` address
    /// that is not a trusted proxy itself (entries further left are the client's own
    /// claims). A header that does not parse counts as absent.
    pub fn from_request(peer: IpAddr, headers: &HeaderMap, trusted: &[IpNet]) -> Self {
        let is_trusted = |ip: &IpAddr| trusted.iter().any(|net| net.contains(&ip.to_canonical()));
        if !is_trusted(&peer) {
            return Self::of(peer);
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev().take(MAX_FORWARDED_HOPS) {
            let Ok(ip) = hop.trim().parse::<IpAddr>() else {
                break;
            };
            client = ip;
            if !is_trusted(&ip) {
                break;
            }
        }
        Self::of(client)
    }
}

impl std::fmt::Display for ClientKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::V4(ip) => write!(f, "{ip}"),
            Self::V6(prefix) => write!(f, "{}/64", Ipv6Addr::from_bits(u128::from(*prefix) << 64)),
        }
    }
}

/// The requesting client, for handlers: [`ClientKey::from_request`] over the peer
/// address (from `ConnectInfo`) and the trusted proxies.
#[derive(Debug, Clone, Copy)]
pub struct Client(pub ClientKey);

impl FromRequestParts<AppState> for Client {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let ConnectInfo(peer) = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .copied()
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the server does not know the client's address",
                )
            })?;
        Ok(Self(ClientKey::from_request(
            peer.ip(),
            &parts.headers,
            &state.limits.settings.trusted_proxies,
        )))
    }
}

// Nothing of the request is documented: the client is who connects.
impl OperationInput for Client {}

/// The two routes that reach the enclave, for the buckets and the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnclaveRoute {
    /// `GET /api/attestation`.
    Attestation,
    /// `POST /api/operator-key`.
    OperatorKey,
}

impl EnclaveRoute {
    /// The route as `http_rejected_total` labels it.
    pub const fn path(self) -> &'static str {
        match self {
            Self::Attestation => "/api/attestation",
            Self::OperatorKey => "/api/operator-key",
        }
    }
}

/// The `/ws` route's metric label.
pub const WS_ROUTE: &str = "/ws";

/// Counts one refusal.
pub fn rejected(route: &'static str, reason: &'static str) {
    ::metrics::counter!("http_rejected_total", "route" => route, "reason" => reason).increment(1);
}

type Buckets = RateLimiter<ClientKey, DefaultKeyedStateStore<ClientKey>, DefaultClock>;

/// The limits' state, shared by the handlers.
#[derive(Debug)]
pub struct ClientLimits {
    settings: LimitSettings,
    /// One bucket map per enclave route; `None` with `--rate-limits off`.
    buckets: Option<[Buckets; 2]>,
    clock: DefaultClock,
    ws: Mutex<HashMap<ClientKey, usize>>,
    in_flight: Arc<Semaphore>,
}

/// A WebSocket connection counted against its client until dropped.
#[derive(Debug)]
pub struct WsSlot {
    limits: Option<(Arc<ClientLimits>, ClientKey)>,
}

impl Drop for WsSlot {
    fn drop(&mut self) {
        if let Some((limits, key)) = self.limits.take() {
            let mut ws = limits.ws.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some(open) = ws.get_mut(&key) {
                *open -= 1;
                if *open == 0 {
                    ws.remove(&key);
                }
            }
        }
    }
}

/// One enclave request in flight, until dropped.
#[derive(Debug)]
pub struct EnclavePermit(#[allow(dead_code)] OwnedSemaphorePermit);

impl ClientLimits {
    /// The limits' state for `settings`.
    pub fn new(settings: LimitSettings) -> Arc<Self> {
        let quota =
            Quota::per_minute(settings.enclave_per_minute).allow_burst(settings.enclave_burst);
        let buckets = settings
            .per_client
            .then(|| [RateLimiter::keyed(quota), RateLimiter::keyed(quota)]);
        Arc::new(Self {
            in_flight: Arc::new(Semaphore::new(settings.max_enclave_in_flight)),
            settings,
            buckets,
            clock: DefaultClock::default(),
            ws: Mutex::new(HashMap::new()),
        })
    }

    /// Drops idle clients' buckets every [`PRUNE_INTERVAL`] until `shutdown`.
    pub async fn prune(self: Arc<Self>, shutdown: CancellationToken) {
        let mut tick = tokio::time::interval(PRUNE_INTERVAL);
        loop {
            tokio::select! {
                () = shutdown.cancelled() => return,
                _ = tick.tick() => {
                    for buckets in self.buckets.iter().flatten() {
                        buckets.retain_recent();
                        buckets.shrink_to_fit();
                    }
                }
            }
        }
    }

    /// The settings in force.
    pub const fn settings(&self) -> &LimitSettings {
        &self.settings
    }

    /// Admits one request of `client` to the enclave on `route`: a token from its
    /// bucket (429 with `Retry-After` when empty), then a slot among the requests in
    /// flight (503 when none is free).
    ///
    /// # Errors
    /// The [`ApiError`] to answer with.
    pub fn enclave(
        &self,
        route: EnclaveRoute,
        client: ClientKey,
    ) -> Result<EnclavePermit, ApiError> {
        if let Some(buckets) = &self.buckets {
            let bucket = &buckets[route as usize];
            if let Err(not_until) = bucket.check_key(&client) {
                rejected(route.path(), "rate_limited");
                let wait = not_until.wait_time_from(self.clock.now());
                return Err(ApiError::too_many_requests(
                    format!(
                        "too many requests to {} from {client}: at most {} a minute (burst {}); retry later",
                        route.path(),
                        self.settings.enclave_per_minute,
                        self.settings.enclave_burst
                    ),
                    wait,
                ));
            }
        }
        Arc::clone(&self.in_flight)
            .try_acquire_owned()
            .map(EnclavePermit)
            .map_err(|_| {
                rejected(route.path(), "enclave_busy");
                ApiError::unavailable(format!(
                    "the enclave is answering {} requests already; try again shortly",
                    self.settings.max_enclave_in_flight
                ))
            })
    }

    /// Counts one WebSocket connection of `client`; 429 when it has
    /// [`LimitSettings::max_ws_per_client`] open already.
    ///
    /// # Errors
    /// The [`ApiError`] to answer with.
    pub fn websocket(self: &Arc<Self>, client: ClientKey) -> Result<WsSlot, ApiError> {
        if !self.settings.per_client {
            return Ok(WsSlot { limits: None });
        }
        let mut ws = self.ws.lock().unwrap_or_else(PoisonError::into_inner);
        let open = ws.entry(client).or_insert(0);
        if *open >= self.settings.max_ws_per_client {
            drop(ws);
            rejected(WS_ROUTE, "ws_per_client");
            return Err(ApiError::too_many_requests(
                format!(
                    "{client} has {} WebSocket connections open, the most one client may have",
                    self.settings.max_ws_per_client
                ),
                // A slot frees when one of the client's own connections closes.
                Duration::from_secs(1),
            ));
        }
        *open += 1;
        Ok(WsSlot {
            limits: Some((Arc::clone(self), client)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append("x-forwarded-for", value.parse().unwrap());
        }
        headers
    }

    #[test]
    fn forwarded_for_is_believed_only_from_trusted_proxies() {
        let trusted: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let spoof = headers(&["198.51.100.1"]);
        let direct: IpAddr = "203.0.113.9".parse().unwrap();
        assert_eq!(
            ClientKey::from_request(direct, &spoof, &trusted).to_string(),
            "203.0.113.9"
        );
        let proxy: IpAddr = "10.1.2.3".parse().unwrap();
        // The rightmost untrusted hop is the client; what it claims to its left is
        // not believed.
        let chain = headers(&["1.1.1.1, 198.51.100.7", "10.9.9.9"]);
        assert_eq!(
            ClientKey::from_request(proxy, &chain, &trusted).to_string(),
            "198.51.100.7"
        );
        // No header, or garbage: the proxy itself.
        assert_eq!(
            ClientKey::from_request(proxy, &HeaderMap::new(), &trusted).to_string(),
            "10.1.2.3"
        );
        assert_eq!(
            ClientKey::from_request(proxy, &headers(&["not an address"]), &trusted).to_string(),
            "10.1.2.3"
        );
        // Without trusted proxies, the header is never read.
        assert_eq!(
            ClientKey::from_request(proxy, &chain, &[]).to_string(),
            "10.1.2.3"
        );
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_and_mapped_ipv4_as_ipv4() {
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:ffff::9".parse().unwrap();
        assert_eq!(ClientKey::of(a), ClientKey::of(b));
        assert_eq!(ClientKey::of(a).to_string(), "2001:db8:1:2::/64");
        assert_ne!(
            ClientKey::of(a),
            ClientKey::of("2001:db8:1:3::1".parse().unwrap())
        );
        let mapped: IpAddr = "::ffff:192.0.2.1".parse().unwrap();
        assert_eq!(ClientKey::of(mapped).to_string(), "192.0.2.1");
    }

    #[test]
    fn buckets_are_per_client_and_per_route() {
        let limits = ClientLimits::new(LimitSettings {
            enclave_burst: NonZeroU32::new(2).unwrap(),
            ..LimitSettings::default()
        });
        let flood = ClientKey::of("192.0.2.1".parse().unwrap());
        let other = ClientKey::of("192.0.2.2".parse().unwrap());
        drop(limits.enclave(EnclaveRoute::Attestation, flood).unwrap());
        drop(limits.enclave(EnclaveRoute::Attestation, flood).unwrap());
        let refused = limits
            .enclave(EnclaveRoute::Attestation, flood)
            .unwrap_err();
        assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS);
        // 10 a minute: the next token in at most 6 s.
        assert!((1..=6).contains(&refused.retry_after_secs().unwrap()));
        assert!(limits.enclave(EnclaveRoute::OperatorKey, flood).is_ok());
        assert!(limits.enclave(EnclaveRoute::Attestation, other).is_ok());
    }

    #[test]
    fn in_flight_requests_are_capped_without_queueing() {
        let limits = ClientLimits::new(LimitSettings {
            max_enclave_in_flight: 2,
            per_client: false,
            ..LimitSettings::default()
        });
        let key = ClientKey::of("192.0.2.1".parse().unwrap());
        let held = [
            limits.enclave(EnclaveRoute::Attestation, key).unwrap(),
            limits.enclave(EnclaveRoute::Attestation, key).unwrap(),
        ];
        let busy = limits.enclave(EnclaveRoute::OperatorKey, key).unwrap_err();
        assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
        drop(held);
        assert!(limits.enclave(EnclaveRoute::OperatorKey, key).is_ok());
    }

    #[test]
    fn websocket_slots_are_counted_per_client_and_freed() {
        let limits = ClientLimits::new(LimitSettings {
            max_ws_per_client: 2,
            ..LimitSettings::default()
        });
        let a = ClientKey::of("192.0.2.1".parse().unwrap());
        let b = ClientKey::of("192.0.2.2".parse().unwrap());
        let first = limits.websocket(a).unwrap();
        let _second = limits.websocket(a).unwrap();
        assert_eq!(
            limits.websocket(a).unwrap_err().status(),
            StatusCode::TOO_MANY_REQUESTS
        );
        let _other = limits.websocket(b).unwrap();
        drop(first);
        let _again = limits.websocket(a).unwrap();
        let off = ClientLimits::new(LimitSettings {
            max_ws_per_client: 1,
            per_client: false,
            ..LimitSettings::default()
        });
        let _x = off.websocket(a).unwrap();
        let _y = off.websocket(a).unwrap();
    }
}
