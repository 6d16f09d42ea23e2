//! The attestation verifier, compiled to WebAssembly for the web page.
//!
//! This crate owns one thing: turning a JSON request (a base64 document, the nonce
//! the page sent, the page's clock) into a JSON verdict with [`attestation::verify`],
//! the same verifier the `attest` CLI uses, so "verified" means the same in a browser
//! and on a command line. The page loads the module with `WebAssembly.instantiate`
//! and no imports; the exported C ABI (`alloc`, `dealloc`, `verify`) lives in
//! [`abi`] (wasm32 only) and is the only `unsafe` code.
//!
//! The request, camelCase JSON:
//! `{document: base64, nonce: hex, nowSecs, maxAgeSecs, allowSimulated}`. Freshness
//! is both the nonce and the maximum age at `nowSecs`; debug-mode documents are
//! refused. The document must chain to the pinned AWS Nitro root. Only with
//! `allowSimulated`, a document that does not is checked against its *own*
//! `cabundle[0]` instead, which proves nothing about hardware: the verdict then says
//! `simulated: true`, and the page labels it "simulated (development only)" and never
//! shows it as verified.
//!
//! The verdict: `{ok: true, simulated, pcr0, moduleId, timestampMs, rootSha256,
//! userData: {app, version, chainId, contract, operator, keySource} | null}` or
//! `{ok: false, error}` with the verifier's message. Comparing the attested
//! operator with the contract's is the page's job (it reads the contract).
//!
//! It must not: read a clock, entropy or files (the page passes its clock), trust
//! a document's root unless the caller asked for simulated documents, or panic on
//! any input (a panic aborts the module; corrupt input gets `ok: false`).

#[cfg(target_arch = "wasm32")]
pub mod abi;

use std::time::Duration;

use attestation::{
    Freshness, KeyOrigin, Policy, TrustAnchor, UnixTime, VerifiedDocument, VerifyError,
};
use base64::Engine;
use serde::{Deserialize, Serialize};

/// Largest request accepted, in bytes: the largest document the verifier takes
/// ([`attestation::MAX_DOCUMENT_SIZE`], 17 KiB) is about 23 KiB as base64; a
/// nonce and the numbers fit in the rest.
pub const MAX_REQUEST_BYTES: usize = 32 * 1024;

/// What the page asks.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Request {
    /// The COSE_Sign1 document, base64 (standard alphabet, padded).
    document: String,
    /// The nonce the page sent with its request, hex (with or without `0x`).
    nonce: String,
    /// The page's clock, seconds since the epoch.
    now_secs: u64,
    /// How old the document may be at `now_secs`.
    max_age_secs: u64,
    /// Whether a document that does not chain to AWS's root may be reported as
    /// simulated instead of refused.
    #[serde(default)]
    allow_simulated: bool,
}

/// The verdict.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum Verdict {
    Verified(Verified),
    Failed(Failed),
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Verified {
    /// Always true.
    ok: bool,
    /// True when the document chains to its own root, not AWS's.
    simulated: bool,
    /// PCR0 (the enclave image), hex.
    pcr0: String,
    module_id: String,
    timestamp_ms: u64,
    /// SHA-256 of the root the chain ended in, hex.
    root_sha256: String,
    /// The enclave's `user_data`, when it is the lottery's.
    user_data: Option<UserDataJson>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct UserDataJson {
    app: String,
    version: String,
    chain_id: u64,
    /// `0x` and 40 lower-case hex digits (the page checksums it).
    contract: String,
    operator: String,
    /// How the operator key came to be: `generated`, `injected`, `file`, `environment`.
    key_source: KeyOrigin,
    /// Whether one sealed key may be injected (for the pinned operator address only).
    key_injection: bool,
    /// The JSON-RPC upstreams the enclave trusts, as `host:port`.
    rpc_hosts: Vec<String>,
    /// How many of them must agree before the operator signs.
    rpc_quorum: u8,
}

#[derive(Debug, Serialize)]
struct Failed {
    /// Always false.
    ok: bool,
    /// Why, in a sentence (the verifier's own message for a verification failure).
    error: String,
}

/// Verifies the JSON request in `input` and returns the JSON verdict. Never panics.
pub fn verify_json(input: &[u8]) -> String {
    let verdict = match run(input) {
        Ok(verified) => Verdict::Verified(verified),
        Err(error) => Verdict::Failed(Failed { ok: false, error }),
    };
    // Serializing these plain structs cannot fail; the fallback keeps the promise
    // of JSON out whatever happens.
    serde_json::to_string(&verdict)
        .unwrap_or_else(|_| r#"{"ok":false,"error":"cannot encode the verdict"}"#.to_owned())
}

fn run(input: &[u8]) -> Result<Verified, String> {
    if input.len() > MAX_REQUEST_BYTES {
        return Err(format!(
            "request is {} bytes; the limit is {MAX_REQUEST_BYTES}",
            input.len()
        ));
    }
    let request: Request =
        serde_json::from_slice(input).map_err(|e| format!("request is not valid: {e}"))?;
    let document = base64::engine::general_purpose::STANDARD
        .decode(request.document.trim())
        .map_err(|e| format!("document is not base64: {e}"))?;
    let nonce = decode_hex(&request.nonce).ok_or("nonce is not hex")?;
    if nonce.is_empty() {
        return Err("nonce is empty: freshness needs one".to_owned());
    }
    let freshness = Freshness::live(
        UnixTime::from_secs(request.now_secs),
        nonce,
        Duration::from_secs(request.max_age_secs),
    );
    let aws = TrustAnchor::aws_nitro_root_g1().map_err(|e| e.to_string())?;
    let verified = match attestation::verify(&document, &Policy::new(aws, freshness.clone())) {
        Ok(verified) => verified,
        Err(VerifyError::UntrustedRoot { .. }) if request.allow_simulated => {
            verify_simulated(&document, freshness)?
        }
        Err(e) => return Err(e.to_string()),
    };
    Ok(summarize(&verified))
}

/// A document that does not chain to AWS, checked against its own `cabundle[0]`:
/// authentic with respect to *some* root, proving nothing about hardware. The
/// verifier marks it simulated because the root is not AWS's.
fn verify_simulated(document: &[u8], freshness: Freshness) -> Result<VerifiedDocument, String> {
    let decoded = attestation::decode_unverified(document).map_err(|e| e.to_string())?;
    let root = decoded
        .cabundle
        .first()
        .ok_or("document has an empty cabundle")?;
    let anchor = TrustAnchor::from_der(root).map_err(|e| e.to_string())?;
    let verified = attestation::verify(document, &Policy::new(anchor, freshness))
        .map_err(|e| e.to_string())?;
    // Belt and braces: a document whose own root were AWS's would have verified above.
    if !verified.simulated {
        return Err("document chains to AWS's root but did not verify against it".to_owned());
    }
    Ok(verified)
}

fn summarize(verified: &VerifiedDocument) -> Verified {
    let hex_address = |bytes: &[u8; 20]| format!("0x{}", hex(bytes));
    Verified {
        ok: true,
        simulated: verified.simulated,
        pcr0: verified.pcr(0).map(hex).unwrap_or_default(),
        module_id: verified.document.module_id.clone(),
        timestamp_ms: verified.document.timestamp_ms,
        root_sha256: hex(&verified.root_fingerprint),
        user_data: verified.user_data.as_ref().map(|u| UserDataJson {
            app: u.app.clone(),
            version: u.version.clone(),
            chain_id: u.chain_id,
            contract: hex_address(&u.contract),
            operator: hex_address(&u.operator),
            key_source: u.key_origin,
            key_injection: u.key_injection,
            rpc_hosts: u.rpc_hosts.clone(),
            rpc_quorum: u.rpc_quorum,
        }),
    }
}

fn hex(bytes: &[u8]) -> String {
    ::hex::encode(bytes)
}

fn decode_hex(text: &str) -> Option<Vec<u8>> {
    ::hex::decode(text.strip_prefix("0x").unwrap_or(text)).ok()
}

#[cfg(test)]
mod tests;
