//! The security headers on every response. The page drives the player's wallet, so
//! it must not run anyone else's script, be framed (clickjacking a "confirm"), or
//! leak its URLs to other sites:
//!
//! - `Content-Security-Policy` on HTML (the page): scripts, styles, images and fonts
//!   from this origin only (`data:` images too: the favicon and wallets' EIP-6963
//!   icons); `'wasm-unsafe-eval'` so the page can compile its attestation verifier
//!   (WebAssembly), and nothing else evaluated; connections to this origin (the API
//!   and the WebSocket feed) and to `--public-rpc-url`'s origin; no plugins, no
//!   `<base>`, no form posts, and `frame-ancestors 'none'`. Everything else (JSON,
//!   scripts, styles, the wasm module) gets `default-src 'none'; frame-ancestors
//!   'none'`: a policy only documents and workers obey, so the short one says all
//!   there is to say and keeps the API's answers small.
//! - `X-Frame-Options: DENY` on HTML, for browsers without `frame-ancestors`.
//! - `X-Content-Type-Options: nosniff`: a JSON answer is never run as script.
//! - `Referrer-Policy: no-referrer`: explorer links do not tell the explorer who
//!   sent the player.

use axum::{
    http::{HeaderMap, HeaderValue, header},
    response::Response,
};

/// The policy of everything that is not HTML.
pub const NON_DOCUMENT_POLICY: &str = "default-src 'none'; frame-ancestors 'none'";

/// The headers, built once from the configuration.
#[derive(Debug, Clone)]
pub struct SecurityHeaders {
    csp: HeaderValue,
}

impl Default for SecurityHeaders {
    fn default() -> Self {
        Self::new(None)
    }
}

impl SecurityHeaders {
    /// The headers for a page that may also reach `rpc_origin` (an origin such as
    /// `https://rpc.example:8545`, already checked by the configuration: scheme, host
    /// and port only, nothing a policy would read as a separator).
    pub fn new(rpc_origin: Option<&str>) -> Self {
        let connect = rpc_origin.map_or_else(|| "'self'".to_owned(), |o| format!("'self' {o}"));
        let policy = format!(
            "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; \
             img-src 'self' data:; font-src 'self'; connect-src {connect}; object-src 'none'; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        );
        Self {
            // The origin was checked to be printable ASCII without quotes or `;`.
            csp: HeaderValue::from_str(&policy)
                .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'")),
        }
    }

    /// The `Content-Security-Policy` value.
    pub const fn content_security_policy(&self) -> &HeaderValue {
        &self.csp
    }

    /// Sets the headers on `response` (the page's policy on HTML, the short one on
    /// the rest).
    pub fn apply(&self, mut response: Response) -> Response {
        let headers: &mut HeaderMap = response.headers_mut();
        let html = headers
            .get(header::CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
        if html {
            headers.insert(header::CONTENT_SECURITY_POLICY, self.csp.clone());
            headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        } else {
            headers.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(NON_DOCUMENT_POLICY),
            );
        }
        headers.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        response
    }
}
