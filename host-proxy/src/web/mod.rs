//! The web API: REST views of the state mirrored from the enclave, the WebSocket
//! feed, the attestation and key-injection relays, `/metrics`, the OpenAPI document
//! (generated from the handlers' own types, so it cannot drift from the responses),
//! and the web page's static files.
//!
//! The router is built in a function ([`router`]) so tests drive it in-process.

mod docs;
mod error;
mod extract;
pub mod feed;
pub mod headers;
pub mod limits;
pub mod metrics;
pub mod rest;

use std::{path::PathBuf, sync::Arc, time::Duration};

use aide::{
    axum::{
        ApiRouter,
        routing::{get, get_with, post_with},
    },
    openapi::{Info, OpenApi},
};
use axum::{
    Extension, Json, Router,
    extract::{DefaultBodyLimit, State},
    http::{HeaderValue, Method, StatusCode, header},
    response::{Html, IntoResponse},
};
use tower_http::{
    cors::{AllowOrigin, CorsLayer},
    services::{ServeDir, ServeFile},
    set_header::SetResponseHeaderLayer,
    timeout::TimeoutLayer,
    trace::TraceLayer,
};

pub use error::ApiError;

use crate::{control::ControlHandle, state::HostState};
use docs::errors;
use extract::ApiUpgrade;
use feed::Feed;
use limits::{Client, ClientLimits};

/// Largest request body: a sealed key is under 5.5 KB as base64 JSON; nothing else
/// takes a body.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Longest a REST request may take (relayed requests wait at most 10 s for the
/// enclave); the WebSocket upgrade is exempt once upgraded.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The mirrored state.
    pub host: HostState,
    /// Relays requests to the enclave.
    pub control: ControlHandle,
    /// The WebSocket feed.
    pub feed: Feed,
    /// The per-client limits and the enclave's in-flight cap.
    pub limits: Arc<ClientLimits>,
}

/// Web settings.
#[derive(Debug, Clone, Default)]
pub struct WebSettings {
    /// The built web page (`frontend/dist`), served when the folder exists.
    pub frontend_dir: Option<PathBuf>,
    /// Origins allowed to call the API from other sites (none: same origin only).
    pub cors_origins: Vec<HeaderValue>,
    /// What `/api/page-config` tells the page (explorer, public RPC, chain name).
    pub page: abi::api::PageConfigView,
    /// The security headers every response carries.
    pub headers: headers::SecurityHeaders,
}

/// The whole HTTP surface.
pub fn router(state: AppState, settings: &WebSettings) -> Router {
    let mut api = OpenApi {
        info: Info {
            title: "enclave-lottery host-proxy".to_owned(),
            version: env!("CARGO_PKG_VERSION").to_owned(),
            description: Some(
                "State mirrored from the enclave (checkable on chain), the WebSocket feed, and the attestation and key-injection relays.".to_owned(),
            ),
            ..Info::default()
        },
        ..OpenApi::default()
    };
    use docs::{
        BAD_REQUEST, CONFLICT, NOT_FOUND, RELAY, TOO_LARGE, TOO_MANY, UNAVAILABLE, UNPROCESSABLE,
        UNSUPPORTED_MEDIA,
    };
    let app = ApiRouter::new()
        .api_route("/api/health", get(rest::health))
        .api_route(
            "/api/status",
            get_with(rest::status, |op| errors(op, &[UNAVAILABLE])),
        )
        .api_route(
            "/api/round",
            get_with(rest::round, |op| errors(op, &[NOT_FOUND, UNAVAILABLE])),
        )
        .api_route(
            "/api/round/participants",
            get_with(rest::participants, |op| {
                errors(op, &[BAD_REQUEST, UNAVAILABLE])
            }),
        )
        .api_route(
            "/api/round/player/{address}",
            get_with(rest::player, |op| errors(op, &[BAD_REQUEST, UNAVAILABLE])),
        )
        .api_route(
            "/api/history",
            get_with(rest::history, |op| errors(op, &[BAD_REQUEST, UNAVAILABLE])),
        )
        .api_route(
            "/api/activities",
            get_with(rest::activities, |op| {
                errors(op, &[BAD_REQUEST, UNAVAILABLE])
            }),
        )
        .api_route(
            "/api/contract/config",
            get_with(rest::contract_config, |op| errors(op, &[UNAVAILABLE])),
        )
        .api_route(
            "/api/contract/address",
            get_with(rest::contract_address, |op| errors(op, &[UNAVAILABLE])),
        )
        .api_route(
            "/api/operator",
            get_with(rest::operator, |op| errors(op, &[UNAVAILABLE])),
        )
        .api_route(
            "/api/attestation",
            get_with(rest::attestation, |op| errors(op, &RELAY)),
        )
        .api_route(
            "/api/operator-key",
            post_with(rest::operator_key, |op| {
                let mut statuses = RELAY.to_vec();
                statuses.extend([CONFLICT, TOO_LARGE, UNSUPPORTED_MEDIA, UNPROCESSABLE]);
                statuses.sort_unstable_by_key(|(code, _)| *code);
                errors(op, &statuses)
            }),
        )
        .api_route("/api/page-config", get(rest::page_config))
        .api_route(
            "/ws",
            get_with(websocket, |op| {
                errors(
                    op.description(
                        "The live feed: a snapshot, then every change (see FeedMessage).",
                    ),
                    &[
                        (400, "Not a WebSocket upgrade request."),
                        TOO_MANY,
                        (
                            503,
                            "As many WebSocket clients as host-proxy serves are connected.",
                        ),
                    ],
                )
            }),
        )
        .route("/metrics", axum::routing::get(metrics_text))
        .route("/api/openapi.json", axum::routing::get(openapi_json))
        .route("/api/{*rest}", axum::routing::any(api_not_found))
        .with_state(state)
        .finish_api_with(&mut api, feed_messages);
    every_field_required(&mut api);
    let app = app
        .layer(Extension(Arc::new(api)))
        .layer(Extension(Arc::new(settings.page.clone())));
    let app = match settings.frontend_dir.as_ref().filter(|d| d.is_dir()) {
        Some(dir) => app.fallback_service(static_files(dir)),
        None => app.fallback(no_frontend),
    };
    let cors = if settings.cors_origins.is_empty() {
        CorsLayer::new()
    } else {
        CorsLayer::new()
            .allow_origin(AllowOrigin::list(settings.cors_origins.clone()))
            .allow_methods([Method::GET, Method::POST])
            .allow_headers([header::CONTENT_TYPE])
    };
    let headers = settings.headers.clone();
    app.layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(cors)
        .layer(TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            REQUEST_TIMEOUT,
        ))
        .layer(
            TraceLayer::new_for_http().make_span_with(|request: &axum::http::Request<_>| {
                tracing::debug_span!(target: "host_proxy::web", "request", method = %request.method(), path = %request.uri().path())
            }),
        )
        // Outermost, so every answer has them, a timeout's 408 too.
        .layer(tower::util::MapResponseLayer::new(
            move |response: axum::response::Response| headers.apply(response),
        ))
}

/// Puts the feed's messages in the document: OpenAPI has no place for what a
/// WebSocket sends, so `/ws` names their schema (`FeedMessage`, in the components)
/// in an `x-websocket-messages` extension, and clients generate its type from there.
fn feed_messages(
    mut api: aide::transform::TransformOpenApi<'_>,
) -> aide::transform::TransformOpenApi<'_> {
    let schema =
        aide::generate::in_context(|ctx| ctx.schema.subschema_for::<abi::api::FeedMessage>());
    let operation = api
        .inner_mut()
        .paths
        .as_mut()
        .and_then(|paths| paths.paths.get_mut("/ws"))
        .and_then(|path| match path {
            aide::openapi::ReferenceOr::Item(item) => item.get.as_mut(),
            aide::openapi::ReferenceOr::Reference { .. } => None,
        });
    if let (Some(operation), Ok(schema)) = (operation, serde_json::to_value(schema)) {
        operation
            .extensions
            .insert("x-websocket-messages".to_owned(), schema);
    }
    api
}

/// The request schemas, whose optional fields are optional indeed.
const INPUT_SCHEMAS: [&str; 4] = [
    "AttestationQuery",
    "ListQuery",
    "OperatorKeyRequest",
    "PlayerPath",
];

/// Marks every property of every answer's schema required: the views serialize
/// every field (`null` for an empty option, never skipped), while schemars lists an
/// `Option` field as not required, which would let a client (and the page's
/// generated types) expect it to be missing.
fn every_field_required(api: &mut OpenApi) {
    fn require_all(map: &mut serde_json::Map<String, serde_json::Value>) {
        if let Some(serde_json::Value::Object(properties)) = map.get("properties") {
            let names = properties.keys().cloned().map(serde_json::Value::String);
            let names = serde_json::Value::Array(names.collect());
            map.insert("required".to_owned(), names);
        }
        map.values_mut().for_each(walk);
    }
    fn walk(value: &mut serde_json::Value) {
        match value {
            serde_json::Value::Object(map) => require_all(map),
            serde_json::Value::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    let Some(components) = api.components.as_mut() else {
        return;
    };
    for (name, schema) in &mut components.schemas {
        if !INPUT_SCHEMAS.contains(&name.as_str())
            && let Some(object) = schema.json_schema.as_object_mut()
        {
            require_all(object);
        }
    }
}

/// The page's files: hashed assets cached for a year, everything else (the HTML)
/// revalidated, and unknown paths answered with `index.html` (the page routes them).
fn static_files(dir: &std::path::Path) -> Router {
    let index = dir.join("index.html");
    let assets = Router::new()
        .fallback_service(ServeDir::new(dir.join("assets")))
        .layer(SetResponseHeaderLayer::overriding(
            header::CACHE_CONTROL,
            HeaderValue::from_static("public, max-age=31536000, immutable"),
        ));
    Router::new()
        .nest_service("/assets", assets)
        .fallback_service(
            Router::new()
                .fallback_service(ServeDir::new(dir).fallback(ServeFile::new(index)))
                .layer(SetResponseHeaderLayer::overriding(
                    header::CACHE_CONTROL,
                    HeaderValue::from_static("no-cache"),
                )),
        )
}

async fn no_frontend() -> impl IntoResponse {
    (
        StatusCode::NOT_FOUND,
        Html(
            "<!doctype html><title>enclave-lottery</title><p>The web page is not built \
             (frontend/dist). The API is at <a href=\"/api/status\">/api/status</a> and \
             <a href=\"/api/openapi.json\">/api/openapi.json</a>.</p>",
        ),
    )
}

async fn api_not_found(uri: axum::http::Uri) -> ApiError {
    ApiError::not_found(format!("no such API path: {}", uri.path()))
}

/// `/ws`'s query.
#[derive(Debug, serde::Deserialize, schemars::JsonSchema)]
struct FeedQuery {
    /// A player whose stake the feed sends after its first snapshot (a `player`
    /// message): 0x and 40 hex digits (a mixed-case address must carry a valid EIP-55
    /// checksum).
    #[serde(default)]
    #[schemars(regex(pattern = rest::ADDRESS_PATTERN), length(min = rest::ADDRESS_CHARS, max = rest::ADDRESS_CHARS))]
    player: Option<String>,
}

async fn websocket(
    State(state): State<AppState>,
    Client(client): Client,
    extract::ApiQuery(query): extract::ApiQuery<FeedQuery>,
    ApiUpgrade(upgrade): ApiUpgrade,
) -> Result<axum::response::Response, ApiError> {
    let player = query
        .player
        .as_deref()
        .map(rest::parse_address)
        .transpose()?;
    // A full server first (503), then this client's share of it (429).
    let Some(permit) = state.feed.admit() else {
        ::metrics::counter!("ws_rejected_total").increment(1);
        limits::rejected(limits::WS_ROUTE, "ws_capacity");
        return Err(ApiError::unavailable(
            "too many WebSocket clients; try again later",
        ));
    };
    let slot = state.limits.websocket(client)?;
    Ok(upgrade
        .max_message_size(feed::MAX_CLIENT_MESSAGE_BYTES)
        // tungstenite zero-fills its read buffer before every read attempt, and the
        // feed polls the socket once per message it sends: the default 128 KiB was
        // 1.3 GB and a fifth of the CPU at 10,000 clients, 4 KiB still 40 MB of
        // memset per event. Clients only send close frames and pings.
        .read_buffer_size(feed::CLIENT_READ_BUFFER_BYTES)
        .on_upgrade(move |socket| async move {
            state.feed.serve(socket, permit, player).await;
            drop(slot);
        })
        .into_response())
}

async fn metrics_text(State(state): State<AppState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        metrics::render(&state.host),
    )
}

async fn openapi_json(Extension(api): Extension<Arc<OpenApi>>) -> impl IntoResponse {
    Json(api.as_ref().clone())
}
