//! The REST handlers (their limits are public for documentation): views of the state mirrored from the enclave, and the two
//! relays (attestation, sealed operator key).

use std::{collections::BTreeMap, time::Duration};

use abi::{
    api::{
        AttestationSummary, AttestationView, ContractAddressView, HealthView, OperatorKeyRequest,
        OperatorKeyResponse, OperatorView, PageConfigView, PlayerView, StatusView,
    },
    control::{MAX_SEALED_KEY_BYTES, NONCE_BYTES, Request, Response},
    state::{Activity, HistoryEntry, Snapshot},
    views::{ConfigView, ParticipantView, RoundView, chance},
};
use aide::{
    OperationOutput,
    generate::GenContext,
    openapi::{Operation, Response as DocResponse},
};
use alloy::primitives::Address;
use axum::{Extension, Json, extract::State, http::StatusCode, response::IntoResponse};
use base64::Engine;
use schemars::JsonSchema;
use serde::Deserialize;
use serde_bytes::ByteBuf;

use super::{
    AppState,
    error::ApiError,
    extract::{ApiJson, ApiPath, ApiQuery},
    limits::{Client, ClientKey, EnclaveRoute},
};
use crate::control::RelayError;

/// Entries a list endpoint returns when no `limit` is given.
pub const DEFAULT_LIST_LIMIT: usize = 50;

/// Most entries a list endpoint returns at once: bounds the response (about 300 KB
/// of activities) whatever the caller asks for.
pub const MAX_LIST_LIMIT: usize = 1000;

/// A head older than this makes host-proxy unready: the enclave (or its RPC) has
/// stopped following the chain. Ten minutes covers slow chains and quiet local ones.
pub const MAX_HEAD_AGE: Duration = Duration::from_secs(600);

fn snapshot(state: &AppState) -> Result<std::sync::Arc<Snapshot>, ApiError> {
    state.host.snapshot().ok_or_else(|| {
        ApiError::unavailable("no state from the enclave yet: its control channel is not up")
    })
}

/// `/api/health`: 200 when ready, 503 with the reasons otherwise.
#[derive(Debug)]
pub struct Health(StatusCode, HealthView);

impl IntoResponse for Health {
    fn into_response(self) -> axum::response::Response {
        (self.0, Json(self.1)).into_response()
    }
}

impl OperationOutput for Health {
    type Inner = HealthView;

    fn operation_response(ctx: &mut GenContext, operation: &mut Operation) -> Option<DocResponse> {
        Json::<HealthView>::operation_response(ctx, operation)
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<u16>, DocResponse)> {
        Self::operation_response(ctx, operation)
            .map(|r| vec![(Some(200), r.clone()), (Some(503), r)])
            .unwrap_or_default()
    }
}

pub(super) async fn health(State(state): State<AppState>) -> Health {
    let status = state.host.status();
    let snapshot = state.host.snapshot();
    let head_age = state.host.head_age();
    let mut reasons = Vec::new();
    if !status.connected {
        reasons.push("the control channel to the enclave is down".to_owned());
    }
    match (&snapshot, head_age) {
        (None, _) => reasons.push("no state from the enclave yet".to_owned()),
        (Some(s), _) if s.head.is_none() => {
            reasons.push("the enclave has not reached the chain yet".to_owned());
        }
        (_, Some(age)) if age > MAX_HEAD_AGE => reasons.push(format!(
            "the chain head has not advanced for {} s",
            age.as_secs()
        )),
        _ => {}
    }
    let ready = reasons.is_empty();
    let view = HealthView {
        status: if ready { "ok" } else { "unavailable" }.to_owned(),
        control_channel_connected: status.connected,
        head_age_secs: head_age.map(|a| a.as_secs()),
        head: snapshot.as_ref().and_then(|s| s.head),
        operator: snapshot.as_ref().map(|s| s.operator.clone()),
        reasons,
    };
    let code = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    Health(code, view)
}

pub(super) async fn status(State(state): State<AppState>) -> Result<Json<StatusView>, ApiError> {
    let s = snapshot(&state)?;
    let channel = state.host.status();
    Ok(Json(StatusView {
        connected: channel.connected,
        enclave_version: channel.enclave_version,
        contract: s.contract,
        chain_id: s.chain_id,
        head: s.head,
        round: s.round.clone(),
        participant_count: s.participants.len() as u64,
        config: s.config.clone(),
        operator: s.operator.clone(),
        history_count: s.history.len() as u64,
        seq: s.seq,
    }))
}

pub(super) async fn round(State(state): State<AppState>) -> Result<Json<RoundView>, ApiError> {
    snapshot(&state)?
        .round
        .clone()
        .map(Json)
        .ok_or_else(|| ApiError::not_found("no round has been read from the contract yet"))
}

/// A page of the participant list: `offset` and `limit`.
#[derive(Debug, Deserialize, JsonSchema)]
pub(super) struct PageQuery {
    /// How many participants to skip, in the order of their first bet; 0 when omitted.
    #[serde(default)]
    offset: Option<u64>,
    /// How many to return: 1 to 1000, 1000 when omitted (a round with more players is
    /// read page by page, until a page comes back shorter than `limit`).
    #[serde(default)]
    #[schemars(with = "u64", range(min = 1, max = MAX_LIST_LIMIT))]
    limit: Option<u64>,
}

pub(super) async fn participants(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<PageQuery>,
) -> Result<Json<Vec<ParticipantView>>, ApiError> {
    let limit = match query.limit {
        None => MAX_LIST_LIMIT,
        Some(n) if (1..=MAX_LIST_LIMIT as u64).contains(&n) => {
            usize::try_from(n).unwrap_or(MAX_LIST_LIMIT)
        }
        Some(n) => {
            return Err(ApiError::bad_request(format!(
                "limit must be 1 to {MAX_LIST_LIMIT}, not {n}"
            )));
        }
    };
    let offset = usize::try_from(query.offset.unwrap_or(0)).unwrap_or(usize::MAX);
    let s = snapshot(&state)?;
    Ok(Json(s.participants.page(offset, limit)))
}

/// What `/api/round/player/{address}` accepts (besides mixed case with a valid
/// EIP-55 checksum, which a pattern cannot check): 0x and 40 hex digits of one case.
pub const ADDRESS_PATTERN: &str = "^0x([0-9a-f]{40}|[0-9A-F]{40})$";

/// An address's length in the path: 0x and 40 hex digits.
pub const ADDRESS_CHARS: usize = 42;

/// `/api/round/player/{address}`'s path.
#[derive(Debug, Deserialize, JsonSchema)]
pub(super) struct PlayerPath {
    /// A 0x-prefixed Ethereum address: 40 hex digits, all lower or all upper case,
    /// or mixed case with a valid EIP-55 checksum.
    #[schemars(regex(pattern = ADDRESS_PATTERN), length(min = ADDRESS_CHARS, max = ADDRESS_CHARS))]
    address: String,
}

pub(super) async fn player(
    State(state): State<AppState>,
    ApiPath(PlayerPath { address }): ApiPath<PlayerPath>,
) -> Result<Json<PlayerView>, ApiError> {
    let parsed = parse_address(&address)?;
    let s = snapshot(&state)?;
    Ok(Json(player_view(&s, parsed)))
}

/// `player`'s stake in the mirrored round: an O(1) lookup.
pub(super) fn player_view(s: &Snapshot, player: Address) -> PlayerView {
    let amount = s.participants.stake_of(&player);
    PlayerView {
        address: player,
        round_id: s.round.as_ref().map(|r| r.round_id),
        amount,
        win_chance: chance(amount, s.participants.total()),
    }
}

/// An address from a path: 0x and 40 hex digits; a mixed-case one must carry a valid
/// EIP-55 checksum (a typo in a checksummed address is caught, not looked up).
pub(super) fn parse_address(text: &str) -> Result<Address, ApiError> {
    let invalid = |why: &str| {
        ApiError::bad_request(format!(
            "{:?} is not an Ethereum address: {why}",
            text.chars().take(64).collect::<String>()
        ))
    };
    let hex = text
        .strip_prefix("0x")
        .ok_or_else(|| invalid("it must start with 0x"))?;
    if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid("it must be 0x and 40 hex digits"));
    }
    let mixed =
        hex.bytes().any(|b| b.is_ascii_lowercase()) && hex.bytes().any(|b| b.is_ascii_uppercase());
    if mixed {
        Address::parse_checksummed(text, None).map_err(|_| invalid("its checksum is wrong"))
    } else {
        text.parse().map_err(|_| invalid("it does not parse"))
    }
}

/// `limit` for the list endpoints.
#[derive(Debug, Deserialize, JsonSchema)]
pub(super) struct ListQuery {
    /// How many entries, newest first: 1 to 1000, 50 when omitted.
    #[serde(default)]
    #[schemars(with = "u64", range(min = 1, max = MAX_LIST_LIMIT))]
    limit: Option<u64>,
}

impl ListQuery {
    fn limit(&self) -> Result<usize, ApiError> {
        match self.limit {
            None => Ok(DEFAULT_LIST_LIMIT),
            Some(n) if (1..=MAX_LIST_LIMIT as u64).contains(&n) => {
                Ok(usize::try_from(n).unwrap_or(MAX_LIST_LIMIT))
            }
            Some(n) => Err(ApiError::bad_request(format!(
                "limit must be 1 to {MAX_LIST_LIMIT}, not {n}"
            ))),
        }
    }
}

pub(super) async fn history(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Vec<HistoryEntry>>, ApiError> {
    let limit = query.limit()?;
    let s = snapshot(&state)?;
    Ok(Json(s.history.iter().take(limit).cloned().collect()))
}

pub(super) async fn activities(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<ListQuery>,
) -> Result<Json<Vec<Activity>>, ApiError> {
    let limit = query.limit()?;
    let s = snapshot(&state)?;
    Ok(Json(s.activities.iter().take(limit).cloned().collect()))
}

pub(super) async fn contract_config(
    State(state): State<AppState>,
) -> Result<Json<ConfigView>, ApiError> {
    snapshot(&state)?
        .config
        .clone()
        .map(Json)
        .ok_or_else(|| ApiError::unavailable("the contract's configuration has not been read yet"))
}

pub(super) async fn contract_address(
    State(state): State<AppState>,
) -> Result<Json<ContractAddressView>, ApiError> {
    let s = snapshot(&state)?;
    Ok(Json(ContractAddressView {
        address: s.contract,
        chain_id: s.chain_id,
    }))
}

pub(super) async fn operator(
    State(state): State<AppState>,
) -> Result<Json<OperatorView>, ApiError> {
    let s = snapshot(&state)?;
    Ok(Json(OperatorView {
        address: s.config.as_ref().and_then(|c| c.operator),
        status: s.operator.clone(),
    }))
}

/// What `/api/attestation`'s nonce accepts: hex, an even number of digits (1 to 64
/// bytes), with or without 0x.
pub const NONCE_PATTERN: &str = "^(0x)?([0-9a-fA-F]{2}){1,64}$";

/// Shortest nonce text: one byte, two hex digits.
pub const MIN_NONCE_CHARS: usize = 2 * *NONCE_BYTES.start();

/// Longest nonce text: 0x and two hex digits per byte of the largest nonce.
pub const MAX_NONCE_CHARS: usize = 2 + 2 * *NONCE_BYTES.end();

/// `/api/attestation`'s query.
#[derive(Debug, Deserialize, JsonSchema)]
pub(super) struct AttestationQuery {
    /// A fresh random nonce, hex (with or without 0x), 1 to 64 bytes.
    #[schemars(regex(pattern = NONCE_PATTERN), length(min = MIN_NONCE_CHARS, max = MAX_NONCE_CHARS))]
    nonce: String,
}

/// Relays `request` to the enclave for `client` on `route`: only when the channel is
/// up (a refusal then costs the client nothing), after the per-client limit and the
/// in-flight cap.
async fn relay(
    state: &AppState,
    route: EnclaveRoute,
    client: ClientKey,
    request: Request,
) -> Result<Response, ApiError> {
    request.validate().map_err(RelayError::Invalid)?;
    if !state.host.status().connected {
        return Err(RelayError::Unavailable.into());
    }
    let _in_flight = state.limits.enclave(route, client)?;
    Ok(state.control.request(request).await?)
}

pub(super) async fn attestation(
    State(state): State<AppState>,
    Client(client): Client,
    ApiQuery(query): ApiQuery<AttestationQuery>,
) -> Result<Json<AttestationView>, ApiError> {
    let text = query.nonce.strip_prefix("0x").unwrap_or(&query.nonce);
    // Strictly NONCE_PATTERN (alloy's decoder would take a second 0x).
    let nonce = (text.len() % 2 == 0 && text.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| alloy::hex::decode(text).ok())
        .flatten()
        .ok_or_else(|| ApiError::bad_request("the nonce must be hex digits (an even number)"))?;
    if !NONCE_BYTES.contains(&nonce.len()) {
        return Err(ApiError::bad_request(format!(
            "the nonce must be {} to {} bytes, not {}",
            NONCE_BYTES.start(),
            NONCE_BYTES.end(),
            nonce.len()
        )));
    }
    let response = relay(
        &state,
        EnclaveRoute::Attestation,
        client,
        Request::Attestation {
            nonce: ByteBuf::from(nonce),
            origin: Some(client.to_string()),
        },
    )
    .await?;
    let Response::Attestation { document } = response else {
        return Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "the enclave answered with something other than a document",
        ));
    };
    let decoded = attestation::decode_unverified(&document).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_GATEWAY,
            format!("the enclave's document does not decode: {e}"),
        )
    })?;
    let hex = |bytes: &[u8]| alloy::hex::encode(bytes);
    Ok(Json(AttestationView {
        document: base64::engine::general_purpose::STANDARD.encode(&document),
        summary: AttestationSummary {
            module_id: decoded.module_id.clone(),
            timestamp_ms: decoded.timestamp_ms,
            pcrs: decoded
                .pcrs
                .iter()
                .map(|(i, v)| (i.to_string(), hex(v)))
                .collect::<BTreeMap<_, _>>(),
            nonce: decoded.nonce.as_deref().map(hex),
            public_key: decoded.public_key.as_deref().map(hex),
            user_data: decoded.user_data.as_deref().map(hex),
        },
    }))
}

pub(super) async fn operator_key(
    State(state): State<AppState>,
    Client(client): Client,
    ApiJson(body): ApiJson<OperatorKeyRequest>,
) -> Result<Json<OperatorKeyResponse>, ApiError> {
    let sealed = base64::engine::general_purpose::STANDARD
        .decode(&body.sealed_key)
        .map_err(|_| ApiError::bad_request("sealedKey must be base64 (standard alphabet)"))?;
    if sealed.is_empty() || sealed.len() > MAX_SEALED_KEY_BYTES {
        return Err(ApiError::bad_request(format!(
            "sealedKey must be 1 to {MAX_SEALED_KEY_BYTES} bytes, not {}",
            sealed.len()
        )));
    }
    match relay(
        &state,
        EnclaveRoute::OperatorKey,
        client,
        Request::InjectKey {
            sealed: ByteBuf::from(sealed),
        },
    )
    .await?
    {
        Response::KeyInjected { operator } => Ok(Json(OperatorKeyResponse { operator })),
        Response::Attestation { .. } => Err(ApiError::new(
            StatusCode::BAD_GATEWAY,
            "the enclave answered with a document instead of a key injection result",
        )),
    }
}

/// `/api/page-config`: the page's settings from host-proxy's flags. Always 200: it
/// needs no state from the enclave.
pub(super) async fn page_config(
    Extension(page): Extension<std::sync::Arc<PageConfigView>>,
) -> Json<PageConfigView> {
    Json(PageConfigView::clone(&page))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_patterns_say_what_the_handlers_check() {
        // The nonce's byte range, in the pattern's repetition.
        assert!(NONCE_PATTERN.contains(&format!(
            "{{{},{}}}",
            NONCE_BYTES.start(),
            NONCE_BYTES.end()
        )));
        // Every address the pattern admits parses; the handler also takes mixed
        // case with a valid checksum, and refuses a bad one.
        for good in [
            "0x70997970c51812dc3a010c7d01b50e0d17dc79c8",
            "0x70997970C51812DC3A010C7D01B50E0D17DC79C8",
            "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
        ] {
            assert!(parse_address(good).is_ok(), "{good}");
        }
        assert!(parse_address("0x70997970c51812dc3A010C7d01b50e0d17dc79C8").is_err());
        // 4,096 bytes: 1,365 groups of three and one byte, as the pattern spells it.
        let max = abi::control::MAX_SEALED_KEY_BYTES;
        assert_eq!(max, 3 * 1365 + 1);
        assert!(abi::api::SEALED_KEY_PATTERN.starts_with("^(?:[A-Za-z0-9+/]{4}){0,1364}"));
        assert_eq!(abi::api::MAX_SEALED_KEY_BASE64, 5464);
        let engine = base64::engine::general_purpose::STANDARD;
        assert_eq!(engine.encode(vec![0u8; max]).len(), 5464);
        // The zero-trailing-bits rule the pattern's last characters encode.
        assert!(engine.decode("AQ==").is_ok() && engine.decode("AB==").is_err());
        assert!(engine.decode("AAE=").is_ok() && engine.decode("AAF=").is_err());
    }
}
