//! The web API (a first slice: health and the mirrored state; the full REST, WebSocket
//! and static-file surface builds on it). Routers are built in a function so tests
//! drive them in-process.

use std::sync::Arc;

use abi::state::Snapshot;
use axum::{
    Json, Router,
    http::StatusCode,
    response::{IntoResponse, Response},
    routing::get,
};
use serde::Serialize;

use crate::{control::ControlHandle, state::HostState};

/// What the handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The mirrored state.
    pub host: HostState,
    /// Relays requests to the enclave.
    pub control: ControlHandle,
}

/// The API's routes.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/health", get(health))
        .route("/api/status", get(status))
        .with_state(state)
}

/// `/api/health`'s body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Health {
    status: &'static str,
    control_channel: &'static str,
    seq: Option<u64>,
}

async fn health(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    let status = state.host.status();
    let ready = status.connected && status.seq.is_some();
    let body = Health {
        status: if ready { "ok" } else { "unavailable" },
        control_channel: if status.connected {
            "connected"
        } else {
            "disconnected"
        },
        seq: status.seq,
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (code, Json(body)).into_response()
}

/// `/api/status`'s body.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Status {
    connected: bool,
    enclave_version: Option<String>,
    snapshot: Option<Arc<Snapshot>>,
}

async fn status(axum::extract::State(state): axum::extract::State<AppState>) -> Json<Status> {
    let channel = state.host.status();
    Json(Status {
        connected: channel.connected,
        enclave_version: channel.enclave_version,
        snapshot: state.host.snapshot(),
    })
}
