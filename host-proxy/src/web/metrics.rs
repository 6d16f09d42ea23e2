//! `/metrics`: Prometheus text from the `metrics` facade (egress, control channel,
//! WebSocket feed counters recorded where they happen) plus gauges read from the
//! mirrored state at scrape time (chain head, head age, operator status).

use std::sync::OnceLock;

use abi::state::OperatorStatus;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};

use crate::state::HostState;

static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();

/// Installs the process-wide Prometheus recorder once; `None` when another recorder
/// was installed first (then `/metrics` reports only the scrape-time gauges).
pub fn handle() -> Option<&'static PrometheusHandle> {
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            metrics::set_global_recorder(recorder).ok().map(|()| {
                describe();
                handle
            })
        })
        .as_ref()
}

fn describe() {
    metrics::describe_gauge!("chain_head_number", "Latest block the enclave processed.");
    metrics::describe_gauge!(
        "chain_head_age_seconds",
        "Seconds since the chain head last advanced, by host-proxy's clock."
    );
    metrics::describe_gauge!(
        "control_channel_connected",
        "1 while the control channel is up."
    );
    metrics::describe_counter!(
        "control_channel_connections_total",
        "Control-channel connections established (reconnects after the first)."
    );
    metrics::describe_gauge!("ws_clients", "Open WebSocket feed connections.");
    metrics::describe_counter!(
        "ws_messages_sent_total",
        "Messages sent to WebSocket clients."
    );
    metrics::describe_counter!(
        "ws_disconnects_total",
        "WebSocket clients gone, by reason (closed, slow, stuck, shutdown, protocol_error)."
    );
    metrics::describe_counter!(
        "ws_rejected_total",
        "WebSocket upgrades refused at the connection cap."
    );
    metrics::describe_counter!(
        "http_rejected_total",
        "Requests refused by a limit, by route (/api/attestation, /api/operator-key, /ws) and reason (rate_limited, enclave_busy, ws_per_client, ws_capacity)."
    );
    metrics::describe_gauge!(
        "operator_status",
        "1 for the operator's current status (label status), 0 for the others."
    );
    metrics::describe_counter!(
        "operator_actions_total",
        "Operator actions started (commit, draw, refund), as the enclave reported them."
    );
    crate::egress::describe_metrics();
}

/// Every status name, for the `operator_status` gauge.
const STATUSES: [&str; 10] = [
    "starting",
    "readOnly",
    "idle",
    "committing",
    "waitingForDrawWindow",
    "drawing",
    "refunding",
    "error",
    "awaitingAgreement",
    "held",
];

/// The status's name as the JSON views spell it.
pub fn status_name(status: &OperatorStatus) -> &'static str {
    match status {
        OperatorStatus::Starting => STATUSES[0],
        OperatorStatus::ReadOnly { .. } => STATUSES[1],
        OperatorStatus::Idle => STATUSES[2],
        OperatorStatus::Committing { .. } => STATUSES[3],
        OperatorStatus::WaitingForDrawWindow { .. } => STATUSES[4],
        OperatorStatus::Drawing { .. } => STATUSES[5],
        OperatorStatus::Refunding { .. } => STATUSES[6],
        OperatorStatus::Error { .. } => STATUSES[7],
        OperatorStatus::AwaitingAgreement { .. } => STATUSES[8],
        OperatorStatus::Held { .. } => STATUSES[9],
    }
}

/// The Prometheus text: recorded metrics plus the state's gauges, set now.
pub fn render(host: &HostState) -> String {
    let status = host.status();
    metrics::gauge!("control_channel_connected").set(if status.connected { 1.0 } else { 0.0 });
    if let Some(snapshot) = host.snapshot() {
        if let Some(head) = snapshot.head {
            #[allow(clippy::cast_precision_loss)] // block numbers stay far below 2^53
            metrics::gauge!("chain_head_number").set(head.number as f64);
        }
        let current = status_name(&snapshot.operator);
        for name in STATUSES {
            metrics::gauge!("operator_status", "status" => name).set(if name == current {
                1.0
            } else {
                0.0
            });
        }
    }
    if let Some(age) = host.head_age() {
        metrics::gauge!("chain_head_age_seconds").set(age.as_secs_f64());
    }
    handle().map(PrometheusHandle::render).unwrap_or_default()
}
