//! The `attest` CLI on the real AWS documents in `shared/vectors/attestation`, and
//! the usage errors of `attest` and `lottery set-operator --from-attestation`. (Live
//! documents from a running enclave: the `tests` crate's `attest_cli`.)

use std::{path::PathBuf, process::Command};

use crate::{Out, run, run_args};

/// The production document (PCR0/1/2/3/4/8 set), raw CBOR.
const PROD: &str = "evervault-beta-prod-pcr8-2022-10-13.cbor";
/// Its own timestamp: its leaf certificate lived about three hours after it.
const PROD_AT: &str = "2022-10-13T08:58:02.136Z";
/// The debug-mode document (PCR0/1/2 zero), base64.
const DEBUG: &str = "evervault-ga-debug-2023-09-18.b64";
const DEBUG_AT: &str = "2023-09-18T15:03:30.860Z";
const PROD_PCR0: &str = "f4d48b81a460c9916d1e685119074bf24660afd3e34fae9fca0a0d28d9d5599936332687e6f66fc890ac8cf150142d8b";

fn vector(name: &str) -> PathBuf {
    PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../shared/vectors/attestation/"
    ))
    .join(name)
}

/// The attest CLI with a clean environment.
fn attest() -> Command {
    testkit::process::command(env!("CARGO_BIN_EXE_attest"), &[("NO_COLOR", "1")])
}

fn run_attest(args: &[&str]) -> Out {
    run(attest().args(args))
}

fn path(name: &str) -> String {
    vector(name).to_str().expect("UTF-8 path").to_owned()
}

/// A temporary file holding `bytes`.
fn temp_file(bytes: &[u8]) -> tempfile::NamedTempFile {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), bytes).expect("write temp file");
    file
}

#[test]
fn the_production_document_verifies_at_its_own_time() {
    let out = run_attest(&["verify", "--file", &path(PROD), "--at", PROD_AT]).success();
    assert_eq!(
        out,
        format!(
            "verified: a genuine AWS Nitro Enclaves attestation document
module       i-020b6af9246d90e92-enc0183d09086c24190
timestamp    2022-10-13T08:58:02.136Z
root         sha256 641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b
PCR0         {PROD_PCR0}
PCR1         bcdf05fefccaa8e55bf2c8d6dee9e79bbff31e34bf28a99aa19e6b29c37ee80b214a414b7607236edf26fcb78654e63f
PCR2         d8f114da658de5481f8d9ec73907feb553560787522f705c92d7d96beed8e15e2aa611984e098c576832c292e8dc469a
user data    (none from this app)
checks       signature, certificate chain to CN=aws.nitro-enclaves,OU=AWS,O=Amazon,C=US, max age 300 s at --at, not debug mode
"
        )
    );
    // The same instant as Unix seconds (rounded down: within the leaf's validity)
    // and with the right PCR0 expected.
    let pcr = format!("0={PROD_PCR0}");
    let out = run_attest(&[
        "verify",
        "--file",
        &path(PROD),
        "--at",
        "1665651482",
        "--expected-pcr",
        &pcr,
    ])
    .success();
    assert!(out.contains("checks       signature, certificate chain to CN=aws.nitro-enclaves,OU=AWS,O=Amazon,C=US, max age 300 s at --at, not debug mode, PCR0\n"), "{out}");
}

#[test]
fn the_production_document_is_expired_now() {
    let err = run_attest(&["verify", "--file", &path(PROD)]).failure(1);
    assert!(
        err.starts_with("error: verification failed: document is ")
            && err.ends_with(" ms old; the maximum is 300000 ms\n"),
        "{err}"
    );
    // A maximum age long enough for its age: the expired leaf certificate still fails.
    let err = run_attest(&["verify", "--file", &path(PROD), "--max-age", "86400"]).failure(1);
    assert!(err.starts_with("error: verification failed: "), "{err}");
}

#[test]
fn the_debug_document_needs_allow_debug() {
    let err = run_attest(&["verify", "--file", &path(DEBUG), "--at", DEBUG_AT]).failure(1);
    assert_eq!(
        err,
        "error: verification failed: document comes from a debug-mode enclave (PCR0, PCR1 and PCR2 are zero)\n"
    );
    let out = run_attest(&[
        "verify",
        "--file",
        &path(DEBUG),
        "--at",
        DEBUG_AT,
        "--allow-debug",
    ])
    .success();
    assert!(
        out.starts_with("verified: a genuine AWS Nitro Enclaves attestation document\nDEBUG MODE: PCR0/1/2 are zero and the host can read the enclave's memory\n"),
        "{out}"
    );
}

#[test]
fn json_output_parses() {
    let out = run(attest().args([
        "--json",
        "verify",
        "--file",
        &path(DEBUG),
        "--at",
        DEBUG_AT,
        "--allow-debug",
    ]))
    .json();
    assert_eq!(out["verified"], true);
    assert_eq!(out["simulated"], false);
    assert_eq!(out["debug"], true);
    assert_eq!(out["moduleId"], "i-0918f6c55e3b61d89-enc018aa8b8e2285d13");
    assert_eq!(out["timestamp"], DEBUG_AT);
    assert_eq!(out["timestampMs"], 1_695_049_410_860_u64);
    assert_eq!(out["pcrs"]["0"], "0".repeat(96));
    assert_eq!(
        out["pcrs"]["3"],
        "4a9329d69c836267b18abbf9f4a38889124490453419e426818626348d21f989dc930b1562682a9082887454e53425aa"
    );
    assert_eq!(out["userData"], serde_json::Value::Null);
    assert_eq!(
        out["checks"],
        serde_json::json!([
            "signature",
            "certificate chain to CN=aws.nitro-enclaves,OU=AWS,O=Amazon,C=US",
            "max age 300 s at --at",
            "debug mode allowed"
        ])
    );

    let out =
        run(attest().args(["--json", "verify", "--file", &path(PROD), "--at", PROD_AT])).json();
    assert_eq!(out["pcrs"]["0"], PROD_PCR0);
    assert_eq!(out["debug"], false);
}

#[test]
fn hex_and_base64_files_are_detected() {
    let raw = std::fs::read(vector(PROD)).expect("read the vector");
    let hex = temp_file(format!("{}\n", alloy::hex::encode(&raw)).as_bytes());
    run_attest(&[
        "verify",
        "--file",
        hex.path().to_str().unwrap(),
        "--at",
        PROD_AT,
    ])
    .success();
    use base64::Engine;
    let b64 = temp_file(
        base64::engine::general_purpose::STANDARD
            .encode(&raw)
            .as_bytes(),
    );
    run_attest(&[
        "verify",
        "--file",
        b64.path().to_str().unwrap(),
        "--at",
        PROD_AT,
    ])
    .success();
}

#[test]
fn a_flipped_byte_fails() {
    let mut raw = std::fs::read(vector(PROD)).expect("read the vector");
    // The last byte is in the signature.
    let last = raw.len() - 1;
    raw[last] ^= 0x01;
    let file = temp_file(&raw);
    let err = run_attest(&[
        "verify",
        "--file",
        file.path().to_str().unwrap(),
        "--at",
        PROD_AT,
    ])
    .failure(1);
    assert_eq!(
        err,
        "error: verification failed: document signature does not verify with the leaf certificate's key\n"
    );
    // A byte of the payload (inside a PCR value in the middle of the document).
    let mut raw = std::fs::read(vector(PROD)).expect("read the vector");
    let at = raw
        .windows(8)
        .position(|w| w == [0xf4, 0xd4, 0x8b, 0x81, 0xa4, 0x60, 0xc9, 0x91])
        .expect("PCR0 in the payload");
    raw[at] ^= 0x01;
    let file = temp_file(&raw);
    let err = run_attest(&[
        "verify",
        "--file",
        file.path().to_str().unwrap(),
        "--at",
        PROD_AT,
    ])
    .failure(1);
    assert_eq!(
        err,
        "error: verification failed: document signature does not verify with the leaf certificate's key\n"
    );
}

#[test]
fn a_wrong_pcr_expectation_fails() {
    let wrong = format!("0={}", "00".repeat(48));
    let err = run_attest(&[
        "verify",
        "--file",
        &path(PROD),
        "--at",
        PROD_AT,
        "--expected-pcr",
        &wrong,
    ])
    .failure(1);
    assert!(
        err.starts_with("error: verification failed: PCR0 ") && err.contains(PROD_PCR0),
        "{err}"
    );
}

#[test]
fn usage_errors_exit_2() {
    let prod = path(PROD);
    for (args, needle) in [
        (
            vec!["verify", "--url", "http://127.0.0.1:1", "--file", &prod],
            "error: the argument '--url <URL>' cannot be used with '--file <PATH>'",
        ),
        (
            vec!["verify"],
            "error: the following required arguments were not provided:\n  --url <URL>",
        ),
        (
            vec!["verify", "--url", "http://127.0.0.1:1", "--at", PROD_AT],
            "error: the argument '--url <URL>' cannot be used with '--at <TIME>'",
        ),
        (
            vec!["verify", "--url", "http://127.0.0.1:1", "--allow-simulated"],
            "error: the following required arguments were not provided:\n  --root-cert <PATH>",
        ),
        (
            vec![
                "verify",
                "--url",
                "http://127.0.0.1:1",
                "--root-cert",
                &prod,
            ],
            "error: the following required arguments were not provided:\n  --allow-simulated",
        ),
        (
            vec!["verify", "--file", &prod, "--at", "yesterday"],
            "error: invalid value 'yesterday' for '--at <TIME>': expected RFC 3339",
        ),
        (
            vec!["verify", "--file", &prod, "--expected-pcr", "0=abcd"],
            "error: invalid value '0=abcd' for '--expected-pcr <N=HEX>': PCR value must be 96 hex digits (SHA-384)",
        ),
        (
            vec!["verify", "--file", &prod, "--expected-pcr", "40=00"],
            "error: invalid value '40=00' for '--expected-pcr <N=HEX>': PCR index \"40\" is not a number below 32",
        ),
        (
            vec![
                "verify",
                "--url",
                "http://127.0.0.1:1",
                "--contract",
                "0x00000000000000000000000000000000000000aa",
            ],
            "error: the following required arguments were not provided:\n  --rpc-url <URL>",
        ),
        (
            vec!["seal-key"],
            "error: the following required arguments were not provided:\n  --url <URL>",
        ),
    ] {
        let err = run_attest(&args).failure(2);
        assert!(err.starts_with(needle), "{args:?}:\n{err}");
    }

    // Configuration errors found after parsing: also exit 2, and nothing fetched.
    let err = run_attest(&[
        "verify",
        "--url",
        "http://127.0.0.1:1",
        "--allow-simulated",
        "--root-cert",
        "/nonexistent/root.pem",
    ])
    .failure(2);
    assert!(
        err.starts_with("error: cannot use the root certificate /nonexistent/root.pem: "),
        "{err}"
    );
    let err = run_attest(&["verify", "--url", "ftp://example.org"]).failure(2);
    assert_eq!(
        err,
        "error: invalid --url: invalid RPC URL \"ftp://example.org\": the scheme must be http:// or https://\n"
    );
    let err = run_attest(&["verify", "--file", "/nonexistent/doc.cbor"]).failure(2);
    assert!(
        err.starts_with("error: cannot read /nonexistent/doc.cbor: "),
        "{err}"
    );
    // No key file and stdin not a terminal: no echoing prompt.
    let err = run(attest()
        .args(["seal-key", "--url", "http://127.0.0.1:1"])
        .stdin(std::process::Stdio::null()))
    .failure(2);
    assert_eq!(
        err,
        "error: no --key-file given and stdin is not a terminal: refusing to read a key where it could be echoed; pass --key-file PATH\n"
    );
    // An unreachable enclave is not a usage error.
    let err = run_attest(&["verify", "--url", "http://127.0.0.1:1"]).failure(1);
    assert!(
        err.starts_with("error: cannot reach http://127.0.0.1:1: "),
        "{err}"
    );
}

#[test]
fn set_operator_takes_one_source() {
    let contract = "0x00000000000000000000000000000000000000aa";
    let err = run_args(&[
        "set-operator",
        "--contract",
        contract,
        "--operator",
        contract,
        "--from-attestation",
        "http://127.0.0.1:1",
    ])
    .failure(2);
    assert!(
        err.starts_with(
            "error: the argument '--operator <OPERATOR>' cannot be used with '--from-attestation <URL>'"
        ),
        "{err}"
    );
    let err = run_args(&["set-operator", "--contract", contract]).failure(2);
    assert!(
        err.starts_with(
            "error: the following required arguments were not provided:\n  --operator <OPERATOR>"
        ),
        "{err}"
    );
    let pcr = format!("0={PROD_PCR0}");
    let err = run_args(&[
        "set-operator",
        "--contract",
        contract,
        "--operator",
        contract,
        "--expected-pcr",
        &pcr,
    ])
    .failure(2);
    assert!(
        err.starts_with("error: the argument '--operator <OPERATOR>' cannot be used with '--expected-pcr <N=HEX>'"),
        "{err}"
    );
    let help = run_args(&["set-operator", "--help"]).success();
    for needle in [
        "--from-attestation <URL>",
        "--expected-pcr <N=HEX>",
        "--allow-simulated",
        "--root-cert <PATH>",
        "--allow-debug",
    ] {
        assert!(
            help.contains(needle),
            "set-operator --help lacks {needle}:\n{help}"
        );
    }
}
