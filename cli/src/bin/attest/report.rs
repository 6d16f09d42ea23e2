//! What a verified document says, for people (text) and for programs (`--json`).

use std::collections::BTreeMap;

use alloy::{hex, primitives::Address};
use attestation::{KeyOrigin, VerifiedDocument};
use serde::Serialize;

use crate::time::format_rfc3339;

/// A verified document's fields and the checks that passed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Report {
    /// Always true: failures print no report.
    pub(crate) verified: bool,
    pub(crate) simulated: bool,
    pub(crate) debug: bool,
    pub(crate) module_id: String,
    pub(crate) timestamp: String,
    pub(crate) timestamp_ms: u64,
    pub(crate) digest: String,
    /// SHA-256 of the root the chain ended in, hex.
    pub(crate) root_fingerprint: String,
    /// Every PCR, index to hex.
    pub(crate) pcrs: BTreeMap<String, String>,
    pub(crate) nonce: Option<String>,
    pub(crate) public_key: Option<String>,
    pub(crate) user_data: Option<UserDataReport>,
    pub(crate) checks: Vec<String>,
    /// `seal-key`: the operator address the enclave now uses.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) injected_operator: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct UserDataReport {
    pub(crate) app: String,
    pub(crate) version: String,
    pub(crate) chain_id: u64,
    pub(crate) contract: String,
    pub(crate) operator: String,
    pub(crate) key_origin: KeyOrigin,
    pub(crate) key_injection: bool,
    pub(crate) rpc_hosts: Vec<String>,
    pub(crate) rpc_quorum: u8,
}

impl Report {
    pub(crate) fn new(verified: &VerifiedDocument, checks: Vec<String>) -> Self {
        let doc = &verified.document;
        Self {
            verified: true,
            simulated: verified.simulated,
            debug: verified.debug_mode,
            module_id: doc.module_id.clone(),
            timestamp: format_rfc3339(verified.timestamp()),
            timestamp_ms: doc.timestamp_ms,
            digest: doc.digest.clone(),
            root_fingerprint: hex::encode(verified.root_fingerprint),
            pcrs: doc
                .pcrs
                .iter()
                .map(|(i, v)| (i.to_string(), hex::encode(v)))
                .collect(),
            nonce: doc.nonce.as_ref().map(hex::encode),
            public_key: doc.public_key.as_ref().map(hex::encode),
            user_data: verified.user_data.as_ref().map(|u| UserDataReport {
                app: u.app.clone(),
                version: u.version.clone(),
                chain_id: u.chain_id,
                contract: Address::from(u.contract).to_checksum(None),
                operator: Address::from(u.operator).to_checksum(None),
                key_origin: u.key_origin,
                key_injection: u.key_injection,
                rpc_hosts: u.rpc_hosts.clone(),
                rpc_quorum: u.rpc_quorum,
            }),
            checks,
            injected_operator: None,
        }
    }

    /// The readable form.
    pub(crate) fn text(&self) -> String {
        let mut lines = Vec::new();
        lines.push(if self.simulated {
            "VERIFIED AS SIMULATED: signed by a development root, not AWS; proves nothing about hardware".to_owned()
        } else {
            "verified: a genuine AWS Nitro Enclaves attestation document".to_owned()
        });
        if self.debug {
            lines.push(
                "DEBUG MODE: PCR0/1/2 are zero and the host can read the enclave's memory"
                    .to_owned(),
            );
        }
        let mut field = |name: &str, value: &str| lines.push(format!("{name:<12} {value}"));
        field("module", &self.module_id);
        field("timestamp", &self.timestamp);
        field("root", &format!("sha256 {}", self.root_fingerprint));
        for i in 0..3 {
            let value = self
                .pcrs
                .get(&i.to_string())
                .map_or("(absent)", String::as_str);
            field(&format!("PCR{i}"), value);
        }
        if let Some(u) = &self.user_data {
            field("app", &format!("{} {}", u.app, u.version));
            field("chain id", &u.chain_id.to_string());
            field("contract", &u.contract);
            field("operator", &u.operator);
            field("key origin", &key_origin(u.key_origin));
            field(
                "injection",
                if u.key_injection {
                    "accepts one sealed key, for its pinned operator address"
                } else {
                    "off: no key can be injected"
                },
            );
            field(
                "rpc",
                &if u.rpc_hosts.is_empty() {
                    "(not named by this build)".to_owned()
                } else {
                    format!(
                        "{} of {} must agree: {}",
                        u.rpc_quorum,
                        u.rpc_hosts.len(),
                        u.rpc_hosts.join(", ")
                    )
                },
            );
        } else {
            field("user data", "(none from this app)");
        }
        field("checks", &self.checks.join(", "));
        if let Some(op) = &self.injected_operator {
            field(
                "injected",
                &format!("operator key accepted; the enclave now operates as {op}"),
            );
        }
        lines.join("\n")
    }
}

fn key_origin(origin: KeyOrigin) -> String {
    match origin {
        KeyOrigin::Generated => "generated inside the enclave",
        KeyOrigin::Injected => "injected sealed",
        KeyOrigin::File => "key file (SIMULATED mode only)",
        KeyOrigin::Environment => "environment variable (SIMULATED mode only)",
    }
    .to_owned()
}
