//! axum's extractors with their rejections turned into [`ApiError`]s, so a malformed
//! query or body gets the same `{"error": ...}` body as every other failure.

use aide::{OperationInput, generate::GenContext, openapi::Operation};
use axum::{
    extract::{FromRequest, FromRequestParts, Path, Query, Request, ws::WebSocketUpgrade},
    http::request::Parts,
};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// A query string parsed into `T`; 400 with the parser's reason otherwise.
#[derive(Debug, Clone)]
pub(super) struct ApiQuery<T>(pub(super) T);

impl<T, S> FromRequestParts<S> for ApiQuery<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Query::<T>::from_request_parts(parts, state)
            .await
            .map(|Query(value)| Self(value))
            .map_err(|e| ApiError::bad_request(format!("invalid query: {}", e.body_text())))
    }
}

impl<T: schemars::JsonSchema> OperationInput for ApiQuery<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        Query::<T>::operation_input(ctx, operation);
    }
}

/// A JSON body parsed into `T`; 400 (or 413, 415) with the reason otherwise.
#[derive(Debug, Clone)]
pub(super) struct ApiJson<T>(pub(super) T);

impl<T, S> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        axum::Json::<T>::from_request(request, state)
            .await
            .map(|axum::Json(value)| Self(value))
            .map_err(|e| ApiError::new(e.status(), e.body_text()))
    }
}

impl<T: schemars::JsonSchema> OperationInput for ApiJson<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        axum::Json::<T>::operation_input(ctx, operation);
    }
}

/// Path parameters parsed into `T`; 400 with the reason otherwise (a segment whose
/// percent-encoding is not UTF-8, say).
#[derive(Debug, Clone)]
pub(super) struct ApiPath<T>(pub(super) T);

impl<T, S> FromRequestParts<S> for ApiPath<T>
where
    T: DeserializeOwned + Send,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        Path::<T>::from_request_parts(parts, state)
            .await
            .map(|Path(value)| Self(value))
            .map_err(|e| ApiError::bad_request(format!("invalid path: {}", e.body_text())))
    }
}

impl<T: schemars::JsonSchema> OperationInput for ApiPath<T> {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        Path::<T>::operation_input(ctx, operation);
    }
}

/// A WebSocket upgrade; a request that is not one gets a 400 with the JSON error body
/// (axum answers plain text, and 426 for a connection that cannot upgrade).
#[derive(Debug)]
pub(super) struct ApiUpgrade(pub(super) WebSocketUpgrade);

impl<S: Send + Sync> FromRequestParts<S> for ApiUpgrade {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        WebSocketUpgrade::from_request_parts(parts, state)
            .await
            .map(Self)
            .map_err(|e| {
                ApiError::bad_request(format!("not a WebSocket upgrade: {}", e.body_text()))
            })
    }
}

impl OperationInput for ApiUpgrade {
    fn operation_input(ctx: &mut GenContext, operation: &mut Operation) {
        WebSocketUpgrade::operation_input(ctx, operation);
    }
}
