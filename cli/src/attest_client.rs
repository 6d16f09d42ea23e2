//! Talking to an enclave through host-proxy's web API: fetching a fresh attestation
//! document, verifying it, and injecting an operator key sealed to it.
//!
//! One implementation shared by the `attest` CLI and `lottery set-operator
//! --from-attestation`, so "verified" means the same thing in both. Verification
//! itself is the `attestation` crate's; this module adds what a client needs
//! around it: a fresh random nonce per request, the trusted root (AWS's, or a
//! simulated root from a file), the expectations given on the command line, and
//! a clear message when a simulated document meets the AWS root.
//!
//! It must not print anything, and never holds key material longer than a call to
//! [`seal_key`] (whose caller owns and zeroizes the plaintext).

use std::{path::Path, path::PathBuf, str::FromStr, time::Duration};

use alloy::primitives::Address;
use attestation::{
    Freshness, PCR_INDEX_LIMIT, Policy, TrustAnchor, UnixTime, VerifiedDocument, VerifyError,
    sealed::SealError,
};
use base64::Engine;
use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::{Method, Request, StatusCode, Uri, header};
use hyper_util::{client::legacy::Client, rt::TokioExecutor};

use abi::api::{AttestationView, ErrorBody, OperatorKeyRequest, OperatorKeyResponse};
use net::RpcUrl;
use rpc_transport::{self as transport, TcpConnector, TransportSetupError};

/// Length of the random nonce sent with every request: 256 bits makes a repeat
/// (and so a replayed document passing the nonce check) impossible in practice,
/// and stays under enclave-app's 64-byte attestation nonce bound.
pub const NONCE_LEN: usize = 32;

/// Default maximum age of a document fetched live: generous for a slow relay or a
/// client clock a little off, far below a leaf certificate's three hours.
pub const DEFAULT_MAX_AGE: Duration = Duration::from_secs(300);

/// Largest web API response read: a document is at most 17 KiB (23 KiB as base64)
/// and its hex summary about as much again; anything larger is not host-proxy.
pub const MAX_API_RESPONSE_BYTES: usize = 64 * 1024;

/// Largest root certificate file read: a PEM certificate is about 1 KiB, the
/// simulated CA file (root, intermediate, key) about 3 KiB.
pub const MAX_ROOT_FILE_BYTES: u64 = 64 * 1024;

/// How long one request to the web API may take, connection included: an
/// attestation is a round trip to the enclave and one P-384 signature.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Length of a Nitro PCR value: SHA-384.
pub const PCR_LEN: usize = 48;

/// Why a document could not be fetched, verified or used.
#[derive(Debug, thiserror::Error)]
pub enum AttestClientError {
    /// The `--root-cert` file cannot be read.
    #[error("cannot use the root certificate {}", .0.path().display())]
    RootCertUnreadable(#[source] runner::files::FileError),
    /// The `--root-cert` file holds no usable certificate.
    #[error("cannot use the root certificate {path}: {reason}")]
    RootCert {
        /// The file.
        path: PathBuf,
        /// Why.
        reason: String,
    },
    /// The embedded AWS root failed its own check (a build problem).
    #[error("the embedded AWS root is unusable: {0}")]
    AwsRoot(#[from] attestation::RootError),
    /// The HTTP client could not be set up.
    #[error("HTTP client setup failed: {0}")]
    Setup(#[from] TransportSetupError),
    /// The operating system's random source failed (no nonce can be made).
    #[error("the OS random source failed: {0}")]
    Entropy(#[source] rand::rand_core::OsError),
    /// The system clock reads before 1970.
    #[error("the system clock is unusable (before the Unix epoch)")]
    Clock,
    /// The web API could not be reached.
    #[error("cannot reach {url}: {reason}")]
    Unreachable {
        /// The API's URL, redacted to scheme, host and port.
        url: String,
        /// Why.
        reason: String,
    },
    /// The web API answered with an error.
    #[error("{url} refused the request ({status}): {message}")]
    Refused {
        /// The API's URL, redacted.
        url: String,
        /// HTTP status.
        status: u16,
        /// The API's error message.
        message: String,
    },
    /// The web API's answer is not what it documents.
    #[error("{url} answered something unexpected: {reason}")]
    BadResponse {
        /// The API's URL, redacted.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A simulated enclave's document, checked against the AWS root.
    #[error(
        "the document is SIMULATED: it chains to {root:?}, not to AWS's root, and proves nothing about hardware (pass --allow-simulated --root-cert PATH to accept a simulated enclave for development)"
    )]
    Simulated {
        /// Subject of the document's root.
        root: String,
    },
    /// The document failed verification. (Not a `#[source]`: the message already
    /// carries the verifier's, and error chains would print it twice.)
    #[error("verification failed: {0}")]
    Verify(VerifyError),
    /// The document names no X25519 key to seal to.
    #[error("the document carries no public key to seal the operator key to")]
    NoPublicKey,
    /// Sealing failed.
    #[error("sealing failed: {0}")]
    Seal(#[from] SealError),
    /// Neither the chain nor the command line says which image the enclave must run.
    #[error(
        "no PCR0 to check the enclave against: {0}; pass --expected-pcr 0=<96 hex digits>, the value published for the release"
    )]
    NoExpectedPcr0(&'static str),
    /// The command line and the chain disagree on the image.
    #[error(
        "--expected-pcr 0={explicit} differs from the PCR0 the contract records ({on_chain}); refusing"
    )]
    Pcr0Conflict {
        /// The `--expected-pcr 0=` value, hex.
        explicit: String,
        /// The contract's recorded value, hex.
        on_chain: String,
    },
}

impl AttestClientError {
    /// Whether this is a verdict on the document (verification, a simulated
    /// document refused), as opposed to a setup, network or API problem.
    pub fn is_verification_failure(&self) -> bool {
        matches!(self, Self::Verify(_) | Self::Simulated { .. })
    }
}

/// A `--expected-pcr N=HEX` argument.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PcrExpectation {
    /// PCR index (0..32).
    pub index: u8,
    /// Expected value (48 bytes).
    pub value: Vec<u8>,
}

/// Why a `--expected-pcr` argument is malformed.
#[derive(Debug, thiserror::Error)]
pub enum PcrArgError {
    /// No `=`.
    #[error("expected N=HEX, for example 0=<96 hex digits>")]
    Shape,
    /// The index is not a number below 32.
    #[error("PCR index {0:?} is not a number below {PCR_INDEX_LIMIT}")]
    Index(String),
    /// The value is not 48 bytes of hex.
    #[error("PCR value must be {} hex digits (SHA-384)", PCR_LEN * 2)]
    Value,
}

impl FromStr for PcrExpectation {
    type Err = PcrArgError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (index, value) = s.split_once('=').ok_or(PcrArgError::Shape)?;
        let index = index
            .trim()
            .parse::<u8>()
            .ok()
            .filter(|i| *i < PCR_INDEX_LIMIT)
            .ok_or_else(|| PcrArgError::Index(index.to_owned()))?;
        let value = alloy::hex::decode(value.trim()).map_err(|_| PcrArgError::Value)?;
        if value.len() != PCR_LEN {
            return Err(PcrArgError::Value);
        }
        Ok(Self { index, value })
    }
}

/// The PCR expectations for a document whose operator is (or is to be) `operator`
/// on a contract whose configuration is `config`: the explicit ones, with PCR0 taken
/// from the chain when the command line names none. The chain's PCR0 is the pending
/// operator's when `operator` is the announced one, else the current operator's.
/// With `config` (the chain was asked) and an explicit PCR0, both must agree.
///
/// # Errors
/// [`AttestClientError::NoExpectedPcr0`] when neither gives a PCR0,
/// [`AttestClientError::Pcr0Conflict`] when they disagree.
pub fn with_chain_pcr0(
    explicit: &[PcrExpectation],
    config: Option<&abi::views::ConfigView>,
    operator: Option<Address>,
) -> Result<Vec<PcrExpectation>, AttestClientError> {
    let on_chain = config.and_then(|c| match &c.pending_operator {
        Some(p) if operator == Some(p.operator) => p.pcr0.clone(),
        _ => c.operator_pcr0.clone(),
    });
    let mut pcrs = explicit.to_vec();
    match (explicit.iter().find(|p| p.index == 0), on_chain) {
        (Some(mine), Some(chain)) => {
            let mine = alloy::hex::encode(&mine.value);
            if mine != chain {
                return Err(AttestClientError::Pcr0Conflict {
                    explicit: mine,
                    on_chain: chain,
                });
            }
        }
        (Some(_), None) => {}
        (None, Some(chain)) => pcrs.push(PcrExpectation {
            index: 0,
            value: alloy::hex::decode(&chain).map_err(|_| {
                AttestClientError::NoExpectedPcr0("the contract's recorded PCR0 is not hex")
            })?,
        }),
        (None, None) if config.is_some() => {
            return Err(AttestClientError::NoExpectedPcr0(
                "the contract records none for its operator",
            ));
        }
        (None, None) => {
            return Err(AttestClientError::NoExpectedPcr0(
                "no --contract/--rpc-url to read it from",
            ));
        }
    }
    Ok(pcrs)
}

/// What a document must show beyond being authentic and fresh.
#[derive(Clone, Debug, Default)]
pub struct Expectations {
    /// Accept debug-mode enclaves (PCR0/1/2 all zero).
    pub allow_debug: bool,
    /// PCR values.
    pub pcrs: Vec<PcrExpectation>,
    /// `user_data`'s chain id.
    pub chain_id: Option<u64>,
    /// `user_data`'s contract.
    pub contract: Option<Address>,
    /// `user_data`'s operator.
    pub operator: Option<Address>,
}

impl Expectations {
    /// The verifier's policy for these expectations.
    pub fn policy(&self, root: TrustAnchor, freshness: Freshness) -> Policy {
        let mut policy = Policy::new(root, freshness).allow_debug(self.allow_debug);
        for pcr in &self.pcrs {
            policy = policy.expect_pcr(pcr.index, pcr.value.clone());
        }
        if let Some(chain_id) = self.chain_id {
            policy = policy.expect_chain_id(chain_id);
        }
        if let Some(contract) = self.contract {
            policy = policy.expect_contract(contract.into_array());
        }
        if let Some(operator) = self.operator {
            policy = policy.expect_operator(operator.into_array());
        }
        policy
    }

    /// The checks these expectations add, named for output.
    pub fn checks(&self) -> Vec<String> {
        let mut checks = vec![if self.allow_debug {
            "debug mode allowed".to_owned()
        } else {
            "not debug mode".to_owned()
        }];
        checks.extend(self.pcrs.iter().map(|p| format!("PCR{}", p.index)));
        if self.chain_id.is_some() {
            checks.push("chain id".to_owned());
        }
        if self.contract.is_some() {
            checks.push("contract".to_owned());
        }
        if self.operator.is_some() {
            checks.push("operator".to_owned());
        }
        checks
    }
}

/// The trusted root: AWS Nitro Root G1, or the first certificate of `root_cert`
/// (simulated mode).
///
/// # Errors
/// When the file cannot be read or holds no usable certificate.
pub fn trust_anchor(root_cert: Option<&Path>) -> Result<TrustAnchor, AttestClientError> {
    match root_cert {
        None => Ok(TrustAnchor::aws_nitro_root_g1()?),
        Some(path) => read_root_cert(path),
    }
}

/// The first `CERTIFICATE` block of a PEM file (enclave-app's `--sim-ca-file`
/// holds the root first, then the intermediate and its key: only the root is read).
///
/// # Errors
/// [`AttestClientError::RootCertUnreadable`] or [`AttestClientError::RootCert`],
/// naming the file and the problem.
pub fn read_root_cert(path: &Path) -> Result<TrustAnchor, AttestClientError> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let failed = |reason: String| AttestClientError::RootCert {
        path: path.to_owned(),
        reason,
    };
    let text = runner::files::read_text(path, MAX_ROOT_FILE_BYTES)
        .map_err(AttestClientError::RootCertUnreadable)?;
    let start = text
        .find(BEGIN)
        .ok_or_else(|| failed("no CERTIFICATE block found".to_owned()))?;
    let end = text[start..]
        .find(END)
        .map(|i| start + i + END.len())
        .ok_or_else(|| failed("unterminated CERTIFICATE block".to_owned()))?;
    TrustAnchor::from_pem(&text[start..end]).map_err(|e| failed(e.to_string()))
}

/// The verifier's clock.
///
/// # Errors
/// When the system clock reads before 1970.
pub fn now() -> Result<UnixTime, AttestClientError> {
    UnixTime::from_system_time(std::time::SystemTime::now()).ok_or(AttestClientError::Clock)
}

/// Verifies `document` against `root`, `expectations` and `freshness`, turning a
/// simulated document refused by the AWS root into [`AttestClientError::Simulated`].
///
/// # Errors
/// The verifier's first failure.
pub fn verify_document(
    document: &[u8],
    root: &TrustAnchor,
    expectations: &Expectations,
    freshness: Freshness,
) -> Result<VerifiedDocument, AttestClientError> {
    let policy = expectations.policy(root.clone(), freshness);
    attestation::verify(document, &policy).map_err(|e| match e {
        VerifyError::UntrustedRoot { found, .. }
            if root.is_aws() && found.contains("SIMULATED") =>
        {
            AttestClientError::Simulated { root: found }
        }
        other => AttestClientError::Verify(other),
    })
}

/// A document fetched live and verified.
#[derive(Clone, Debug)]
pub struct Attested {
    /// The verified document.
    pub verified: VerifiedDocument,
    /// The nonce sent (and echoed by the document).
    pub nonce: Vec<u8>,
    /// The checks performed, named for output.
    pub checks: Vec<String>,
}

impl Attested {
    /// The attested operator address, when `user_data` names one.
    pub fn operator(&self) -> Option<Address> {
        self.verified
            .user_data
            .as_ref()
            .map(|u| Address::from(u.operator))
    }
}

/// host-proxy's web API at a base URL (`http://host:port`, optionally with a path
/// prefix when it sits behind a reverse proxy).
#[derive(Clone, Debug)]
pub struct EnclaveApi {
    url: RpcUrl,
    client: Client<TcpConnector, Full<Bytes>>,
}

impl EnclaveApi {
    /// A client for the web API at `url` (TLS for `https://`, web PKI roots).
    ///
    /// # Errors
    /// When the TLS configuration cannot be built.
    pub fn new(url: RpcUrl) -> Result<Self, AttestClientError> {
        let client = Client::builder(TokioExecutor::new()).build(transport::tcp_connector(&[])?);
        Ok(Self { url, client })
    }

    /// The base URL, redacted for messages.
    pub fn url(&self) -> &RpcUrl {
        &self.url
    }

    fn endpoint(&self, path_and_query: &str) -> Result<Uri, AttestClientError> {
        let mut base = self.url.uri().clone().into_parts();
        let prefix = base
            .path_and_query
            .as_ref()
            .map_or("", |pq| pq.path())
            .trim_end_matches('/');
        base.path_and_query = Some(format!("{prefix}{path_and_query}").parse().map_err(|_| {
            AttestClientError::BadResponse {
                url: self.url.to_string(),
                reason: "cannot form the request path".to_owned(),
            }
        })?);
        Uri::from_parts(base).map_err(|_| AttestClientError::BadResponse {
            url: self.url.to_string(),
            reason: "cannot form the request URL".to_owned(),
        })
    }

    /// One request; the status and the (bounded) body.
    async fn request(
        &self,
        method: Method,
        path_and_query: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes), AttestClientError> {
        let url = self.url.to_string();
        let mut request = Request::builder()
            .method(method)
            .uri(self.endpoint(path_and_query)?)
            .header(header::ACCEPT, "application/json");
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(Full::new(Bytes::from(body.unwrap_or_default())))
            .map_err(|e| AttestClientError::BadResponse {
                url: url.clone(),
                reason: e.to_string(),
            })?;
        let unreachable = |reason: String| AttestClientError::Unreachable {
            url: url.clone(),
            reason,
        };
        let exchange = async {
            let response = self
                .client
                .request(request)
                .await
                .map_err(|e| unreachable(runner::error_chain(&e)))?;
            let status = response.status();
            let body = Limited::new(response.into_body(), MAX_API_RESPONSE_BYTES)
                .collect()
                .await
                .map_err(|e| unreachable(format!("reading the response: {e}")))?
                .to_bytes();
            Ok((status, body))
        };
        tokio::time::timeout(REQUEST_TIMEOUT, exchange)
            .await
            .map_err(|_| unreachable(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())))?
    }

    /// Turns a non-success answer into [`AttestClientError::Refused`] with the
    /// API's own message.
    fn refused(&self, status: StatusCode, body: &[u8]) -> AttestClientError {
        let message = serde_json::from_slice::<ErrorBody>(body).map_or_else(
            |_| String::from_utf8_lossy(&body[..body.len().min(256)]).into_owned(),
            |e| e.error,
        );
        AttestClientError::Refused {
            url: self.url.to_string(),
            status: status.as_u16(),
            message,
        }
    }

    fn bad_response(&self, reason: impl Into<String>) -> AttestClientError {
        AttestClientError::BadResponse {
            url: self.url.to_string(),
            reason: reason.into(),
        }
    }

    /// `GET /api/attestation?nonce=HEX`: the raw COSE document (not verified).
    ///
    /// # Errors
    /// When the API cannot be reached, refuses, or answers something else.
    pub async fn attestation(&self, nonce: &[u8]) -> Result<Vec<u8>, AttestClientError> {
        let path = format!("/api/attestation?nonce={}", alloy::hex::encode(nonce));
        let (status, body) = self.request(Method::GET, &path, None).await?;
        if !status.is_success() {
            return Err(self.refused(status, &body));
        }
        let view: AttestationView = serde_json::from_slice(&body)
            .map_err(|e| self.bad_response(format!("not an attestation view: {e}")))?;
        base64::engine::general_purpose::STANDARD
            .decode(view.document.as_bytes())
            .map_err(|e| self.bad_response(format!("the document is not base64: {e}")))
    }

    /// Fetches a document for a fresh random nonce and verifies it live: the nonce
    /// echoed, at most `max_age` old, every certificate valid now, and
    /// `expectations`.
    ///
    /// # Errors
    /// Fetching errors, or the verifier's first failure.
    pub async fn fetch_verified(
        &self,
        root: &TrustAnchor,
        expectations: &Expectations,
        max_age: Duration,
    ) -> Result<Attested, AttestClientError> {
        let mut nonce = [0u8; NONCE_LEN];
        rand::TryRngCore::try_fill_bytes(&mut rand::rngs::OsRng, &mut nonce)
            .map_err(AttestClientError::Entropy)?;
        let document = self.attestation(&nonce).await?;
        let freshness = Freshness::live(now()?, nonce, max_age);
        let verified = verify_document(&document, root, expectations, freshness)?;
        let mut checks = vec![
            "signature".to_owned(),
            format!("certificate chain to {}", root.subject()),
            "nonce".to_owned(),
            format!("max age {} s", max_age.as_secs()),
        ];
        checks.extend(expectations.checks());
        Ok(Attested {
            verified,
            nonce: nonce.to_vec(),
            checks,
        })
    }

    /// `POST /api/operator-key` with a sealed key; the operator address the
    /// enclave now uses.
    ///
    /// # Errors
    /// When the API cannot be reached, or the enclave refuses the key (its message
    /// says why: a second key, the wrong address, an unknown nonce).
    pub async fn inject_sealed_key(&self, sealed: &[u8]) -> Result<Address, AttestClientError> {
        let request = OperatorKeyRequest {
            sealed_key: base64::engine::general_purpose::STANDARD.encode(sealed),
        };
        let body = serde_json::to_vec(&request)
            .map_err(|e| self.bad_response(format!("cannot encode the request: {e}")))?;
        let (status, body) = self
            .request(Method::POST, "/api/operator-key", Some(body))
            .await?;
        if !status.is_success() {
            return Err(self.refused(status, &body));
        }
        let answer: OperatorKeyResponse = serde_json::from_slice(&body)
            .map_err(|e| self.bad_response(format!("not an operator-key answer: {e}")))?;
        Ok(answer.operator)
    }
}

/// Seals `plaintext` (an operator key) to `attested`'s public key, bound to its
/// nonce; the wire bytes for [`EnclaveApi::inject_sealed_key`]. The plaintext stays
/// the caller's to zeroize.
///
/// # Errors
/// When the document has no X25519 public key, or sealing fails.
pub fn seal_key(attested: &Attested, plaintext: &[u8]) -> Result<Vec<u8>, AttestClientError> {
    let public_key = attested
        .verified
        .document
        .public_key
        .as_deref()
        .ok_or(AttestClientError::NoPublicKey)?;
    let sealed = attestation::sealed::seal(public_key, &attested.nonce, plaintext)?;
    Ok(sealed.to_cbor()?)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn pcr_expectations() {
        let hex = "ab".repeat(48);
        let pcr: PcrExpectation = format!("3={hex}").parse().unwrap();
        assert_eq!(pcr.index, 3);
        assert_eq!(pcr.value, vec![0xab; 48]);
        let pcr: PcrExpectation = format!("0=0x{hex}").parse().unwrap();
        assert_eq!(pcr.index, 0);
        for bad in [
            hex.clone(),
            format!("32={hex}"),
            format!("x={hex}"),
            "0=abcd".to_owned(),
            format!("0={}", "zz".repeat(48)),
        ] {
            assert!(bad.parse::<PcrExpectation>().is_err(), "{bad}");
        }
    }

    #[test]
    fn request_paths_keep_a_prefix() {
        let api = EnclaveApi::new(RpcUrl::parse("http://127.0.0.1:8080").unwrap()).unwrap();
        assert_eq!(
            api.endpoint("/api/attestation?nonce=00")
                .unwrap()
                .to_string(),
            "http://127.0.0.1:8080/api/attestation?nonce=00"
        );
        let api = EnclaveApi::new(RpcUrl::parse("https://example.org/lottery/").unwrap()).unwrap();
        assert_eq!(
            api.endpoint("/api/operator-key").unwrap().to_string(),
            "https://example.org/lottery/api/operator-key"
        );
    }
}
