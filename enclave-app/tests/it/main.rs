//! The `enclave-app` binary as an operator runs it: `--help` and `--version`,
//! configuration errors (exit 2, clear, never echoing a secret), start-up logs in text
//! and JSON, and a clean exit on SIGTERM. [`config_env`]: the configuration the binary
//! reads from its environment, through `--check-config`.

mod config_env;

use std::{
    process::{Child, Command, Output, Stdio},
    thread,
    time::{Duration, Instant},
};

use testkit::process::Lines;

/// Anvil's first account: a well-known development key and its address.
const KEY: &str = "ac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80";
const ADDRESS: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const CONTRACT: &str = "0x5FbDB2315678afecb367f032d93F642f64180aa3";
/// An RPC URL whose path carries an API key, as hosted providers' URLs do.
const SECRET_URL: &str = "https://eth.example.org/v2/SECRETAPIKEY";

/// How long the binary gets to start (log its operator) or to stop after SIGTERM.
const PATIENCE: Duration = Duration::from_secs(10);

/// The binary with a clean environment (none of this process's `ENCLAVE_*` or
/// `RUST_LOG` variables).
fn enclave_app(args: &[&str]) -> Command {
    let mut cmd = testkit::process::command(env!("CARGO_BIN_EXE_enclave-app"), &[]);
    cmd.args(args).stdin(Stdio::null());
    cmd
}

/// The required settings for a simulated run.
fn sim_args() -> Vec<&'static str> {
    vec![
        "--mode",
        "sim",
        "--rpc-url",
        "http://127.0.0.1:8545",
        "--contract",
        CONTRACT,
        // Tests run in parallel: no fixed port.
        "--control-listen",
        "tcp://127.0.0.1:0",
    ]
}

/// Runs to completion (configuration errors exit at once).
fn output(cmd: &mut Command) -> (Option<i32>, String, String) {
    let Output {
        status,
        stdout,
        stderr,
    } = cmd.output().expect("run enclave-app");
    (
        status.code(),
        String::from_utf8(stdout).expect("UTF-8 stdout"),
        String::from_utf8(stderr).expect("UTF-8 stderr"),
    )
}

/// Asserts a configuration error: exit 2, nothing on stdout; returns stderr.
#[track_caller]
fn config_error(cmd: &mut Command) -> String {
    let (code, stdout, stderr) = output(cmd);
    assert_eq!(code, Some(2), "stderr: {stderr}");
    assert_eq!(stdout, "");
    stderr
}

/// A running enclave-app whose stderr lines are read as they come.
struct Running {
    child: Child,
    lines: Lines,
}

impl Running {
    fn start(cmd: &mut Command) -> Self {
        let mut child = cmd
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn enclave-app");
        let lines = Lines::read(child.stderr.take().expect("piped stderr"));
        Self { child, lines }
    }

    /// Waits for a stderr line containing `needle`.
    #[track_caller]
    fn wait_for(&mut self, needle: &str) -> String {
        self.lines
            .wait_for(PATIENCE, |line| line.contains(needle))
            .unwrap_or_else(|| {
                panic!(
                    "no line with {needle:?} within {PATIENCE:?}: {:#?}",
                    self.lines.seen()
                )
            })
    }

    /// Sends SIGTERM and waits for the exit; returns the exit code and all of stderr.
    #[track_caller]
    fn terminate(mut self) -> (Option<i32>, Vec<String>) {
        let pid = self.child.id();
        testkit::process::terminate(pid).unwrap_or_else(|e| panic!("kill -TERM {pid} failed: {e}"));
        let deadline = Instant::now() + PATIENCE;
        let code = loop {
            if let Some(status) = self.child.try_wait().expect("wait for enclave-app") {
                break status.code();
            }
            assert!(
                Instant::now() < deadline,
                "still running {PATIENCE:?} after SIGTERM: {:#?}",
                self.lines.seen()
            );
            thread::sleep(Duration::from_millis(20));
        };
        // The reader thread ends at EOF, which the exit has caused.
        self.lines.drain(PATIENCE);
        (code, self.lines.take_seen())
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn help_documents_every_option() {
    let (code, help, stderr) = output(&mut enclave_app(&["--help"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr, "");
    for option in [
        "--config <PATH>",
        "--check-config",
        "--mode <MODE>",
        "--rpc-url <URL>",
        "--contract <ADDRESS>",
        "--operator-key-file <PATH>",
        "--poll-interval-ms <MS>",
        "--lookback-blocks <BLOCKS>",
        "--log-chunk-blocks <BLOCKS>",
        "--reconcile-interval-secs <SECS>",
        "--history-limit <ROUNDS>",
        "--activity-limit <ENTRIES>",
        "--receipt-timeout-secs <SECS>",
        "--replace-after-blocks <BLOCKS>",
        "--log-format <LOG_FORMAT>",
        "--log-filter <FILTER>",
    ] {
        assert!(
            help.contains(option),
            "{option} missing from --help:\n{help}"
        );
    }
    for var in [
        "ENCLAVE_CONFIG",
        "ENCLAVE_MODE",
        "ENCLAVE_RPC_URL",
        "ENCLAVE_CONTRACT",
        "ENCLAVE_OPERATOR_KEY_FILE",
        "ENCLAVE_POLL_INTERVAL_MS",
        "ENCLAVE_LOOKBACK_BLOCKS",
        "ENCLAVE_LOG_CHUNK_BLOCKS",
        "ENCLAVE_RECONCILE_INTERVAL_SECS",
        "ENCLAVE_HISTORY_LIMIT",
        "ENCLAVE_ACTIVITY_LIMIT",
        "ENCLAVE_RECEIPT_TIMEOUT_SECS",
        "ENCLAVE_REPLACE_AFTER_BLOCKS",
        "ENCLAVE_LOG_FORMAT",
        "ENCLAVE_LOG_FILTER",
        "ENCLAVE_OPERATOR_KEY",
        "RUST_LOG",
    ] {
        assert!(help.contains(var), "{var} missing from --help:\n{help}");
    }
    for detail in [
        "Usage: enclave-app --mode <MODE> --rpc-url <URL> --contract <ADDRESS> [OPTIONS]",
        "- sim:",
        "- nitro:",
        "[default: 1000]",
        "[default: info]",
        "[50..=60000]",
        "order of precedence",
        "nginx -t",
    ] {
        assert!(
            help.contains(detail),
            "{detail} missing from --help:\n{help}"
        );
    }
    assert!(
        !help.contains("--operator-key <"),
        "the key is never a flag"
    );
}

#[test]
fn version_prints_and_exits_0() {
    let (code, stdout, stderr) = output(&mut enclave_app(&["--version"]));
    assert_eq!(code, Some(0), "{stderr}");
    assert_eq!(stderr, "");
    assert_eq!(
        stdout,
        format!("enclave-app {}\n", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn missing_required_settings_exit_2_and_say_how_to_give_them() {
    let stderr = config_error(&mut enclave_app(&["--mode", "sim", "--contract", CONTRACT]));
    assert_eq!(
        stderr,
        "error: missing required setting --rpc-url: pass it, set ENCLAVE_RPC_URL, or set `rpc_url` in the config file\n"
    );
    let stderr = config_error(&mut enclave_app(&[
        "--mode",
        "sim",
        "--rpc-url",
        SECRET_URL,
    ]));
    assert_eq!(
        stderr,
        "error: missing required setting --contract: pass it, set ENCLAVE_CONTRACT, or set `contract` in the config file\n"
    );
}

#[test]
fn invalid_rpc_url_or_contract_exits_2_without_echoing_the_url() {
    let stderr = config_error(&mut enclave_app(&[
        "--mode",
        "sim",
        "--contract",
        CONTRACT,
        "--rpc-url",
        "ftp://eth.example.org/v2/SECRETAPIKEY",
    ]));
    assert_eq!(
        stderr,
        "error: --rpc-url is not a usable RPC URL: invalid RPC URL \"ftp://eth.example.org/…\": the scheme must be http://, https://, ws:// or wss://\n"
    );

    let stderr = config_error(
        enclave_app(&["--mode", "sim", "--contract", CONTRACT])
            .env("ENCLAVE_RPC_URL", "eth.example.org/v2/SECRETAPIKEY"),
    );
    assert!(
        stderr.starts_with("error: ENCLAVE_RPC_URL is not a usable RPC URL"),
        "{stderr}"
    );
    assert!(!stderr.contains("SECRETAPIKEY"), "{stderr}");

    let stderr = config_error(&mut enclave_app(&[
        "--mode",
        "sim",
        "--rpc-url",
        SECRET_URL,
        "--contract",
        "0x1234",
    ]));
    assert!(
        stderr.starts_with("error: invalid value '0x1234' for '--contract <ADDRESS>'"),
        "{stderr}"
    );
    assert!(!stderr.contains("SECRETAPIKEY"), "{stderr}");
}

#[test]
fn nitro_mode_refuses_a_plaintext_key_without_echoing_it() {
    let stderr = config_error(
        enclave_app(&[
            "--mode",
            "nitro",
            "--rpc-url",
            SECRET_URL,
            "--contract",
            CONTRACT,
        ])
        .env("ENCLAVE_OPERATOR_KEY", KEY),
    );
    assert!(
        stderr.contains(
            "--mode nitro refuses plaintext operator keys (given by ENCLAVE_OPERATOR_KEY)"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains(&KEY[..16]), "{stderr}");
    let stderr = config_error(&mut enclave_app(&["--operator-key", KEY]));
    assert!(
        stderr.contains("never taken from the command line"),
        "{stderr}"
    );
    assert!(!stderr.contains(&KEY[..16]), "{stderr}");
}

#[test]
fn starts_logs_the_operator_and_stops_on_sigterm() {
    let mut cmd = enclave_app(&["--mode", "sim", "--contract", CONTRACT]);
    cmd.env("ENCLAVE_RPC_URL", SECRET_URL)
        .env("ENCLAVE_OPERATOR_KEY", KEY);
    let mut app = Running::start(&mut cmd);
    let line = app.wait_for("operator key ready");
    assert!(line.contains(ADDRESS), "{line}");
    assert!(line.contains("key_source=environment"), "{line}");

    let started = Instant::now();
    let (code, lines) = app.terminate();
    assert_eq!(code, Some(0), "{lines:#?}");
    assert!(started.elapsed() < Duration::from_secs(5), "slow shutdown");
    let stderr = lines.join("\n");
    assert!(stderr.contains("SIGTERM"), "{stderr}");
    assert!(
        stderr.contains("rpc_url=https://eth.example.org/…"),
        "{stderr}"
    );
    assert!(stderr.contains("operator_key=<redacted>"), "{stderr}");
    assert!(!stderr.contains("SECRETAPIKEY"), "{stderr}");
    assert!(!stderr.contains(&KEY[..16]), "{stderr}");
}

#[test]
fn a_generated_key_is_logged_by_address() {
    let mut app = Running::start(&mut enclave_app(&sim_args()));
    let line = app.wait_for("operator key ready");
    assert!(line.contains("operator=0x"), "{line}");
    assert!(line.contains("key_source=generated"), "{line}");
    let (code, lines) = app.terminate();
    assert_eq!(code, Some(0), "{lines:#?}");
}

#[test]
fn json_log_format_writes_one_object_per_line() {
    let mut args = sim_args();
    args.extend(["--log-format", "json"]);
    let mut cmd = enclave_app(&args);
    cmd.env("ENCLAVE_OPERATOR_KEY", KEY);
    let mut app = Running::start(&mut cmd);
    app.wait_for("operator key ready");
    let (code, lines) = app.terminate();
    assert_eq!(code, Some(0), "{lines:#?}");
    assert!(lines.len() >= 3, "{lines:#?}");
    let events: Vec<serde_json::Value> = lines
        .iter()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect();
    let ready = events
        .iter()
        .find(|e| e["message"] == "operator key ready")
        .expect("the operator event");
    assert_eq!(ready["level"], "INFO");
    assert_eq!(ready["operator"], ADDRESS);
    assert_eq!(ready["key_source"], "environment");
    assert_eq!(ready["target"], "enclave_app");
    assert!(
        events.iter().any(|e| e["signal"] == "SIGTERM"),
        "{lines:#?}"
    );
}
