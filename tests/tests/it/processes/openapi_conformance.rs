//! The web API against its own OpenAPI document, by schemathesis (pinned in
//! `scripts/tools/schemathesis-requirements.txt`, installed into `.tools/` by
//! `scripts/test`): every check on (`--checks all`: statuses, content types,
//! headers and bodies as documented, schema-valid input accepted, invalid input
//! rejected, no 5xx from bad input), a bounded number of examples per operation,
//! against host-proxy, enclave-app (sim, accepting an injected key) behind it, and
//! anvil. host-proxy's per-client limits are raised
//! ([`stack::ATTESTATION_TEST_LIMITS`]) so the generated requests reach the enclave
//! instead of its 429s (which `limits.rs` tests). Any failure fails the test, with
//! schemathesis's report; `tests/schemathesis.toml` says what it is told to expect.

use std::{path::PathBuf, process::Command, time::Duration};

use tests::{
    Chain,
    stack::{self, AttestingStack},
};

/// Examples generated per operation in the fuzzing phase: the coverage phase before
/// it walks every parameter's edges on its own; this bounds the run to under a
/// minute on two cores.
const MAX_EXAMPLES: &str = "100";

/// The seed, so a failure in CI reproduces here (`SCHEMATHESIS_SEED` to explore
/// others).
const DEFAULT_SEED: &str = "13";

/// Bound on the whole run (schemathesis's `--max-time` would instead fuzz until it
/// is spent).
const TIMEOUT: Duration = Duration::from_secs(400);

fn schemathesis() -> PathBuf {
    if let Some(path) = std::env::var_os("SCHEMATHESIS_BIN") {
        return PathBuf::from(path);
    }
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../.tools/schemathesis-venv/bin/schemathesis");
    assert!(
        path.exists(),
        "schemathesis not found at {}: run scripts/test, or `source scripts/lib.sh && ensure_schemathesis` (or set SCHEMATHESIS_BIN)",
        path.display()
    );
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn schemathesis_finds_nothing_the_document_does_not_say() {
    let bin = schemathesis();
    let chain = Chain::start_with(&["--block-time", "1"]).await;
    let lottery = chain.deploy_with_operator(500).await;
    let stack = AttestingStack::start_with(
        &chain,
        *lottery.address(),
        Some(chain.operator()),
        &stack::ATTESTATION_TEST_LIMITS,
    )
    .await;
    let url = format!("{}/api/openapi.json", stack.url());
    let config = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schemathesis.toml");
    let seed = std::env::var("SCHEMATHESIS_SEED").unwrap_or_else(|_| DEFAULT_SEED.to_owned());
    let workdir = tempfile::tempdir().unwrap();
    let cwd = workdir.path().to_owned();
    let out = tokio::task::spawn_blocking(move || {
        Command::new(bin)
            // Whatever schemathesis writes (reports, state) lands in a temporary
            // folder, not the repository.
            .current_dir(cwd)
            .arg("--no-color")
            .arg("--config-file")
            .arg(&config)
            .args(["run", &url, "--checks", "all", "--workers", "1"])
            .args(["--max-examples", MAX_EXAMPLES, "--seed", &seed])
            .args(["--request-timeout", "20"])
            .env("NO_COLOR", "1")
            .output()
            .expect("run schemathesis")
    });
    let out = tokio::time::timeout(TIMEOUT, out)
        .await
        .unwrap_or_else(|_| panic!("schemathesis did not finish within {TIMEOUT:?}"))
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    #[allow(clippy::print_stderr)]
    {
        eprintln!("{report}\n{}", String::from_utf8_lossy(&out.stderr));
    }
    assert!(
        out.status.success(),
        "schemathesis failed ({}):\n{report}",
        out.status
    );
    // Warnings are fine; failures and errors are not (schemathesis exits 1 on
    // them, and says so in its closing line).
    let closing = report
        .lines()
        .rev()
        .find(|line| line.starts_with('='))
        .unwrap_or_default();
    assert!(
        !closing.contains("failure") && !closing.contains("error"),
        "{closing}\n{report}"
    );
}
