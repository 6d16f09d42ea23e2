//! The OpenAPI document's error statuses: every route lists each status it can
//! answer with (no catch-all `default`), so a client generated from the document
//! knows them all, and schemathesis can hold the server to them.

use aide::{
    openapi::{
        Header, HeaderStyle, ParameterSchemaOrContent, ReferenceOr, Response, SchemaObject,
        StatusCode,
    },
    transform::TransformOperation,
};

/// Why each error status happens; the routes pick theirs.
pub(super) const BAD_REQUEST: (u16, &str) = (400, "The input is malformed; the message says how.");
/// A route's resource does not exist yet.
pub(super) const NOT_FOUND: (u16, &str) = (404, "Not there yet; the message says what.");
/// The enclave refused (a used nonce, a second key, another address).
pub(super) const CONFLICT: (u16, &str) = (409, "The enclave refused it; the message says why.");
/// The body is too large.
pub(super) const TOO_LARGE: (u16, &str) = (413, "The body is over 16 KiB.");
/// The body is not JSON.
pub(super) const UNSUPPORTED_MEDIA: (u16, &str) = (415, "The body is not `application/json`.");
/// The body's JSON has the wrong shape.
pub(super) const UNPROCESSABLE: (u16, &str) =
    (422, "The JSON does not have the documented fields.");
/// A per-client limit.
pub(super) const TOO_MANY: (u16, &str) = (
    429,
    "This client's limit for the route is reached; retry after `Retry-After` seconds.",
);
/// The enclave cannot do it.
pub(super) const NOT_IMPLEMENTED: (u16, &str) = (501, "This enclave does not serve the request.");
/// The enclave's answer was wrong.
pub(super) const BAD_GATEWAY: (u16, &str) = (502, "The enclave failed or answered wrongly.");
/// No state, no channel, or every enclave slot busy.
pub(super) const UNAVAILABLE: (u16, &str) = (
    503,
    "The enclave is not connected or its state not read yet, or (relays) it is answering as many requests as it may.",
);
/// The enclave did not answer in time.
pub(super) const GATEWAY_TIMEOUT: (u16, &str) = (504, "The enclave did not answer within 10 s.");

/// The statuses a relay to the enclave can answer with besides 200.
pub(super) const RELAY: [(u16, &str); 6] = [
    BAD_REQUEST,
    TOO_MANY,
    NOT_IMPLEMENTED,
    BAD_GATEWAY,
    UNAVAILABLE,
    GATEWAY_TIMEOUT,
];

/// Lists `statuses` on the operation, each with the error body (taken from the
/// `default` response [`super::ApiError`] documents, which is then removed), and
/// `Retry-After` on a 429.
pub(super) fn errors<'a>(
    mut op: TransformOperation<'a>,
    statuses: &[(u16, &str)],
) -> TransformOperation<'a> {
    let Some(responses) = op.inner_mut().responses.as_mut() else {
        return op;
    };
    let Some(ReferenceOr::Item(error)) = responses.default.take() else {
        return op;
    };
    for &(code, description) in statuses {
        let mut response = Response {
            description: description.to_owned(),
            ..error.clone()
        };
        if code == 429 {
            response.headers.insert(
                "Retry-After".to_owned(),
                ReferenceOr::Item(Header {
                    description: Some("Seconds until the client may try again.".to_owned()),
                    style: HeaderStyle::Simple,
                    required: true,
                    deprecated: None,
                    format: ParameterSchemaOrContent::Schema(SchemaObject {
                        json_schema: schemars::json_schema!({"type": "integer", "minimum": 1}),
                        external_docs: None,
                        example: None,
                    }),
                    example: None,
                    examples: Default::default(),
                    extensions: Default::default(),
                }),
            );
        }
        responses
            .responses
            .insert(StatusCode::Code(code), ReferenceOr::Item(response));
    }
    op
}
