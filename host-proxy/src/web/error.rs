//! The API's one error type: `{"error": "..."}` with the right status. 4xx say
//! precisely what was wrong with the input; 5xx say little and are logged once.

use abi::api::ErrorBody;
use aide::{
    OperationOutput,
    generate::GenContext,
    openapi::{Operation, Response as DocResponse},
};
use axum::{
    Json,
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};

use crate::control::RelayError;

/// An error answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    /// Seconds for a `Retry-After` header (429s).
    retry_after: Option<u64>,
}

impl ApiError {
    /// 400: the input is wrong, and the message says how.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 404.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 503: the enclave (or its state) is not available yet.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::SERVICE_UNAVAILABLE,
            message: message.into(),
            retry_after: None,
        }
    }

    /// Any status.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            retry_after: None,
        }
    }

    /// 429: this client sent too many; it may retry after `wait` (rounded up to
    /// whole seconds, at least 1, for `Retry-After`).
    pub fn too_many_requests(message: impl Into<String>, wait: std::time::Duration) -> Self {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Self {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: message.into(),
            retry_after: Some(secs.max(1)),
        }
    }

    /// The `Retry-After` seconds, if any.
    pub const fn retry_after_secs(&self) -> Option<u64> {
        self.retry_after
    }

    /// The status code.
    pub const fn status(&self) -> StatusCode {
        self.status
    }
}

impl From<RelayError> for ApiError {
    fn from(error: RelayError) -> Self {
        use abi::control::RequestErrorKind as Kind;
        let status = match &error {
            RelayError::Invalid(_) => StatusCode::BAD_REQUEST,
            RelayError::Unavailable | RelayError::Disconnected => StatusCode::SERVICE_UNAVAILABLE,
            RelayError::Busy => StatusCode::TOO_MANY_REQUESTS,
            RelayError::Timeout => StatusCode::GATEWAY_TIMEOUT,
            RelayError::Enclave(e) => match e.kind {
                Kind::Invalid => StatusCode::BAD_REQUEST,
                Kind::Refused => StatusCode::CONFLICT,
                Kind::Unsupported => StatusCode::NOT_IMPLEMENTED,
                Kind::Internal => StatusCode::BAD_GATEWAY,
            },
        };
        Self::new(status, error.to_string())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::warn!(target: "host_proxy::web", status = %self.status, error = %self.message, "request failed");
        }
        let mut response = (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response();
        if let Some(secs) = self.retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        response
    }
}

impl OperationOutput for ApiError {
    type Inner = ErrorBody;

    fn operation_response(ctx: &mut GenContext, operation: &mut Operation) -> Option<DocResponse> {
        Json::<ErrorBody>::operation_response(ctx, operation)
    }

    fn inferred_responses(
        ctx: &mut GenContext,
        operation: &mut Operation,
    ) -> Vec<(Option<u16>, DocResponse)> {
        // Every error, whatever its status, has this body: the "default" response.
        Self::operation_response(ctx, operation)
            .map(|response| vec![(None, response)])
            .unwrap_or_default()
    }
}
