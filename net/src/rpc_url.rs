//! JSON-RPC endpoint URLs (`http://`, `https://`, and the WebSocket `ws://`, `wss://`),
//! checked once and printed only redacted: RPC URLs often carry API keys in their path or query (`/v2/<key>`), so
//! only scheme, host and port ever reach a log, an error or a page.

use http::Uri;

/// Why a text is not a usable RPC URL. The URL is shown redacted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid RPC URL {url:?}: {reason}")]
pub struct UrlError {
    /// What was given, redacted ([`redact_url`]).
    pub url: String,
    /// Why it was rejected.
    pub reason: String,
}

/// A validated JSON-RPC endpoint: `http://` or `https://` (one request per POST), or,
/// from [`RpcUrl::parse_with_websocket`], `ws://` or `wss://` (a WebSocket carrying
/// requests and `eth_subscribe` notifications). Which transport a scheme gets is the caller's choice
/// ([`RpcUrl::is_websocket`]); TLS is used for `https://` and `wss://`
/// ([`RpcUrl::is_tls`]).
#[derive(Clone, PartialEq, Eq)]
pub struct RpcUrl {
    uri: Uri,
}

impl RpcUrl {
    /// Parses and checks an HTTP RPC URL: scheme `http` or `https`, a host, no user
    /// info. For the clients that speak HTTP only (the CLIs, a web API's URL);
    /// [`RpcUrl::parse_with_websocket`] also takes `ws://` and `wss://`.
    ///
    /// # Errors
    /// [`UrlError`] naming what is wrong (the URL redacted).
    pub fn parse(text: &str) -> Result<Self, UrlError> {
        Self::parse_schemes(text, &["http", "https"], "http:// or https://")
    }

    /// Parses and checks a JSON-RPC URL that may be a WebSocket: scheme `http`,
    /// `https`, `ws` or `wss`, a host, no user info.
    ///
    /// # Errors
    /// [`UrlError`] naming what is wrong (the URL redacted).
    pub fn parse_with_websocket(text: &str) -> Result<Self, UrlError> {
        Self::parse_schemes(
            text,
            &["http", "https", "ws", "wss"],
            "http://, https://, ws:// or wss://",
        )
    }

    fn parse_schemes(text: &str, schemes: &[&str], named: &str) -> Result<Self, UrlError> {
        let invalid = |reason: String| UrlError {
            url: redact_url(text),
            reason,
        };
        let uri: Uri = text
            .trim()
            .parse()
            .map_err(|_| invalid("not a URL".to_owned()))?;
        match uri.scheme_str() {
            Some(scheme) if schemes.contains(&scheme) => {}
            Some(_) => return Err(invalid(format!("the scheme must be {named}"))),
            None => return Err(invalid(format!("missing scheme ({named})"))),
        }
        let Some(authority) = uri.authority() else {
            return Err(invalid("missing host".to_owned()));
        };
        if authority.as_str().contains('@') {
            return Err(invalid(
                "credentials in the URL are not supported".to_owned(),
            ));
        }
        if authority.host().is_empty() {
            return Err(invalid("missing host".to_owned()));
        }
        Ok(Self { uri })
    }

    /// Whether the scheme is `https`.
    pub fn is_https(&self) -> bool {
        self.uri.scheme_str() == Some("https")
    }

    /// Whether TLS is used: `https://` or `wss://`.
    pub fn is_tls(&self) -> bool {
        matches!(self.uri.scheme_str(), Some("https" | "wss"))
    }

    /// Whether the endpoint is a WebSocket (`ws://` or `wss://`): JSON-RPC over one
    /// long-lived connection, with `eth_subscribe` push.
    pub fn is_websocket(&self) -> bool {
        matches!(self.uri.scheme_str(), Some("ws" | "wss"))
    }

    /// Whether the host is on this machine (alloy then polls faster).
    pub fn is_local(&self) -> bool {
        matches!(
            self.uri.host(),
            Some("localhost" | "127.0.0.1" | "[::1]" | "::1")
        )
    }

    /// `host:port` (the scheme's default port when none is given): what the URL
    /// reveals about the upstream without its path, which often holds an API key.
    pub fn host_port(&self) -> String {
        let host = self.uri.host().unwrap_or_default();
        let port = self
            .uri
            .port_u16()
            .unwrap_or(if self.is_tls() { 443 } else { 80 });
        format!("{host}:{port}")
    }

    /// The URI.
    pub const fn uri(&self) -> &Uri {
        &self.uri
    }
}

impl std::str::FromStr for RpcUrl {
    type Err = UrlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

/// RPC URLs often carry API keys in their path or query (`/v2/<key>`): only scheme,
/// host and port are ever shown.
impl std::fmt::Display for RpcUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact_url(&self.uri.to_string()))
    }
}

impl std::fmt::Debug for RpcUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RpcUrl({self})")
    }
}

/// `scheme://host[:port]` plus `/…` when a path or query was hidden.
pub fn redact_url(text: &str) -> String {
    let Ok(uri) = text.trim().parse::<Uri>() else {
        return "<invalid URL>".to_owned();
    };
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return "<invalid URL>".to_owned();
    };
    let host_port = authority.as_str().rsplit('@').next().unwrap_or_default();
    let hidden = uri
        .path_and_query()
        .is_some_and(|pq| pq.as_str() != "/" && !pq.as_str().is_empty());
    format!("{scheme}://{host_port}{}", if hidden { "/…" } else { "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_good_urls() {
        for ok in [
            "http://127.0.0.1:8545",
            "https://rpc.example.org/v2/abc",
            "http://localhost:8545/",
        ] {
            RpcUrl::parse(ok).unwrap();
            RpcUrl::parse_with_websocket(ok).unwrap();
        }
        for ws in ["ws://127.0.0.1:8545", "wss://rpc.example.org/ws/v3/abc"] {
            RpcUrl::parse_with_websocket(ws).unwrap();
            let err = RpcUrl::parse(ws).unwrap_err().to_string();
            assert!(err.contains("http:// or https://"), "{err}");
        }
        let wss = RpcUrl::parse_with_websocket("wss://x.org/ws/KEY").unwrap();
        assert!(wss.is_tls() && wss.is_websocket() && !wss.is_https());
        assert_eq!(wss.host_port(), "x.org:443");
        assert_eq!(wss.to_string(), "wss://x.org/…");
        let ws = RpcUrl::parse_with_websocket("ws://127.0.0.1:8546").unwrap();
        assert!(!ws.is_tls() && ws.is_websocket() && ws.is_local());
        assert!(!RpcUrl::parse("https://x.org").unwrap().is_websocket());
        assert!(RpcUrl::parse("https://x.org").unwrap().is_https());
        assert_eq!(
            RpcUrl::parse("https://x.org/v2/KEY").unwrap().host_port(),
            "x.org:443"
        );
        assert_eq!(
            RpcUrl::parse("http://127.0.0.1:8545").unwrap().host_port(),
            "127.0.0.1:8545"
        );
        assert!(RpcUrl::parse("http://127.0.0.1:1").unwrap().is_local());
    }

    #[test]
    fn rejects_bad_urls_with_reasons() {
        for (bad, why) in [
            ("", "not a URL"),
            ("127.0.0.1:8545", "scheme"),
            ("ws://127.0.0.1:8545", "scheme"),
            ("tcp://127.0.0.1:8545", "scheme"),
            ("http://user:pw@host:1", "credentials"),
            ("not a url", "not a URL"),
        ] {
            let err = RpcUrl::parse(bad).unwrap_err().to_string();
            assert!(err.contains(why), "{bad:?}: {err}");
            if !bad.starts_with("ws:") {
                let err = RpcUrl::parse_with_websocket(bad).unwrap_err().to_string();
                assert!(err.contains(why), "{bad:?}: {err}");
            }
        }
    }

    #[test]
    fn display_hides_paths_that_carry_api_keys() {
        let url = RpcUrl::parse("https://eth.example.org/v2/SECRETKEY?x=1").unwrap();
        assert_eq!(url.to_string(), "https://eth.example.org/…");
        assert!(!format!("{url:?}").contains("SECRET"));
        let err = RpcUrl::parse("ftp://h/SECRETKEY").unwrap_err().to_string();
        assert!(!err.contains("SECRET"), "{err}");
    }
}
