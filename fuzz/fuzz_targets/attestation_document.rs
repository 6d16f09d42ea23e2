//! Arbitrary bytes into the attestation document parser and verifier, as the attest
//! CLI, `lottery set-operator --from-attestation` and the web page receive them from
//! an untrusted host. Neither may panic, whatever the input; a document that decodes
//! must also pass or fail verification without panicking.

#![no_main]

use attestation::{Freshness, Policy, TrustAnchor, UnixTime};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(document) = attestation::decode_unverified(data) else {
        return;
    };
    let _ = document.check_fields();
    let Ok(root) = TrustAnchor::aws_nitro_root_g1() else {
        return;
    };
    // At the document's own time, like an archived check, so the chain and signature
    // code runs instead of stopping at an expired certificate.
    let at = UnixTime::from_millis(document.timestamp_ms);
    let policy = Policy::new(
        root,
        Freshness::archived(at, std::time::Duration::from_secs(300)),
    )
    .allow_debug(true);
    let _ = attestation::verify(data, &policy);
});
