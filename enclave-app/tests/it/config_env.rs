//! The configuration as the binary reads it from its real environment, checked with
//! `--check-config` (exit 0 and the configuration on stdout, or exit 2 and the error
//! on stderr): what flags-only unit tests cannot see — the environment's place
//! between flags and the file, the variable an error names, `RUST_LOG` as the
//! fallback filter, the key taken only from `ENCLAVE_OPERATOR_KEY`, and variables that
//! are empty or not UTF-8. Every run starts from an empty environment (`env_clear`)
//! plus the variables given, so the one these tests run in cannot leak in.

use std::{
    ffi::OsStr,
    io::Write,
    os::unix::ffi::OsStrExt,
    process::{Command, Stdio},
};

use enclave_app::config::{Config, Secret};

use super::{CONTRACT, KEY, SECRET_URL, config_error, output};

/// `enclave-app --check-config ARGS` with exactly the variables `vars`.
fn check(args: &[&str], vars: &[(&str, &str)]) -> Command {
    let mut cmd = testkit::process::command(env!("CARGO_BIN_EXE_enclave-app"), vars);
    cmd.arg("--check-config").args(args).stdin(Stdio::null());
    cmd
}

/// Asserts a valid configuration: exit 0, nothing on stderr, one line on stdout;
/// returns that line.
#[track_caller]
fn checked(cmd: &mut Command) -> String {
    let (code, stdout, stderr) = output(cmd);
    assert_eq!(code, Some(0), "stderr: {stderr}");
    assert_eq!(stderr, "");
    let line = stdout.strip_suffix('\n').expect("a line on stdout");
    assert!(!line.contains('\n'), "{stdout}");
    line.to_owned()
}

/// A config file holding `text`.
fn file(text: &str) -> tempfile::NamedTempFile {
    let mut file = tempfile::NamedTempFile::new().expect("temp file");
    file.write_all(text.as_bytes()).expect("write config file");
    file
}

/// The required settings but the RPC URL, as flags.
const MODE_AND_CONTRACT: [&str; 4] = ["--mode", "sim", "--contract", CONTRACT];

#[test]
fn check_config_prints_the_redacted_configuration() {
    let line = checked(&mut check(
        &MODE_AND_CONTRACT,
        &[
            ("ENCLAVE_OPERATOR_KEY", KEY),
            ("ENCLAVE_RPC_URL", SECRET_URL),
        ],
    ));
    assert_eq!(
        line,
        format!(
            "mode=sim rpc_url=https://eth.example.org/… rpc_quorum=1 clock_margin_secs=<none> \
             contract={CONTRACT} egress=tcp://127.0.0.1:7101 rpc_ca_file=<none> \
             control_listen=tcp://127.0.0.1:7100 operator_address=<none> sim_ca_file=<none> \
             operator_key=<redacted> operator_key_file=<none> poll_interval_ms=1000 \
             lookback_blocks=10000 log_chunk_blocks=2000 reconcile_interval_secs=30 \
             history_limit=50 activity_limit=500 receipt_timeout_secs=60 \
             replace_after_blocks=3 log_format=text log_filter=\"info\" config_file=<none>"
        )
    );
    // The same text as `Config`'s `Display`.
    let mut config = Config::load([
        "enclave-app",
        "--mode",
        "sim",
        "--contract",
        CONTRACT,
        "--rpc-url",
        SECRET_URL,
    ])
    .unwrap();
    config.operator_key = Some(Secret::new(KEY.to_owned()));
    assert_eq!(line, config.to_string());
    assert!(!line.contains(&KEY[..16]) && !line.contains("SECRETAPIKEY") && !line.contains("/v2"));
}

#[test]
fn flag_beats_env_beats_file_beats_default() {
    let config = file("poll_interval_ms = 300\nlookback_blocks = 30\nlog_chunk_blocks = 3\n");
    let path = config.path().to_str().unwrap();
    let line = checked(&mut check(
        &[
            "--mode",
            "sim",
            "--rpc-url",
            "http://127.0.0.1:8545",
            "--contract",
            CONTRACT,
            "--config",
            path,
            "--poll-interval-ms",
            "100",
        ],
        &[
            ("ENCLAVE_POLL_INTERVAL_MS", "200"),
            ("ENCLAVE_LOOKBACK_BLOCKS", "20"),
        ],
    ));
    for (setting, why) in [
        ("poll_interval_ms=100 ", "flag beats env and file"),
        ("lookback_blocks=20 ", "env beats file"),
        ("log_chunk_blocks=3 ", "file beats default"),
        ("history_limit=50 ", "default"),
    ] {
        assert!(line.contains(setting), "{why}: {line}");
    }
}

#[test]
fn required_settings_can_come_from_env_or_file() {
    let config = file(&format!("contract = \"{CONTRACT}\"\nmode = \"nitro\"\n"));
    let line = checked(&mut check(
        &["--config", config.path().to_str().unwrap()],
        &[
            ("ENCLAVE_MODE", "sim"),
            ("ENCLAVE_RPC_URL", "http://localhost:8545"),
        ],
    ));
    assert!(line.starts_with("mode=sim "), "env beats file: {line}");
    assert!(line.contains(" rpc_url=http://localhost:8545 "), "{line}");
    assert!(line.contains(&format!(" contract={CONTRACT} ")), "{line}");
}

#[test]
fn config_file_is_read_from_env() {
    let config = file(&format!(
        "mode = \"sim\"\nrpc_url = \"http://127.0.0.1:8545\"\ncontract = \"{CONTRACT}\"\n\
         history_limit = 7\nlog_format = \"json\"\n"
    ));
    let path = config.path().to_str().unwrap();
    let line = checked(&mut check(&[], &[("ENCLAVE_CONFIG", path)]));
    assert!(line.contains(" history_limit=7 "), "{line}");
    assert!(line.contains(" log_format=json "), "{line}");
    assert!(line.ends_with(&format!(" config_file={path:?}")), "{line}");
}

#[test]
fn rust_log_is_the_fallback_filter() {
    let args = [
        "--mode",
        "sim",
        "--rpc-url",
        "http://127.0.0.1:8545",
        "--contract",
        CONTRACT,
    ];
    let filter = |extra: &[&str], vars: &[(&str, &str)]| {
        let mut all = args.to_vec();
        all.extend_from_slice(extra);
        let line = checked(&mut check(&all, vars));
        let start = line.find(" log_filter=").expect("a log_filter") + " log_filter=".len();
        line[start..].split(' ').next().unwrap().to_owned()
    };
    assert_eq!(filter(&[], &[("RUST_LOG", "warn")]), "\"warn\"");
    let both = [("RUST_LOG", "warn"), ("ENCLAVE_LOG_FILTER", "debug")];
    assert_eq!(filter(&[], &both), "\"debug\"");
    assert_eq!(filter(&["--log-filter", "error"], &both), "\"error\"");
    // Like a variable, RUST_LOG beats the file.
    let config = file("log_filter = \"trace\"\n");
    let path = config.path().to_str().unwrap();
    assert_eq!(
        filter(&["--config", path], &[("RUST_LOG", "warn")]),
        "\"warn\""
    );
    assert_eq!(filter(&["--config", path], &[]), "\"trace\"");
    // A bad one is named.
    let stderr = config_error(&mut check(&args, &[("RUST_LOG", "info,x=loud")]));
    assert!(
        stderr.starts_with("error: RUST_LOG is not a valid log filter"),
        "{stderr}"
    );
}

#[test]
fn out_of_range_and_malformed_variables_are_named() {
    let base = [
        "--mode",
        "sim",
        "--rpc-url",
        "http://127.0.0.1:8545",
        "--contract",
        CONTRACT,
    ];
    let stderr = config_error(&mut check(&base, &[("ENCLAVE_HISTORY_LIMIT", "0")]));
    assert_eq!(
        stderr,
        "error: ENCLAVE_HISTORY_LIMIT is 0, outside the allowed range 1..=1000\n"
    );
    let stderr = config_error(&mut check(&base, &[("ENCLAVE_LOOKBACK_BLOCKS", "many")]));
    assert!(
        stderr.starts_with("error: invalid ENCLAVE_LOOKBACK_BLOCKS: "),
        "{stderr}"
    );
    assert!(stderr.contains("invalid digit"), "{stderr}");
    let stderr = config_error(&mut check(&base, &[("ENCLAVE_CONTROL_LISTEN", "tcp://h")]));
    assert!(
        stderr.contains("ENCLAVE_CONTROL_LISTEN") && stderr.contains(":PORT"),
        "{stderr}"
    );
    // A bad flag is blamed on the flag, even with a bad variable beside it.
    let mut args = base.to_vec();
    args.extend(["--lookback-blocks", "soon"]);
    let stderr = config_error(&mut check(&args, &[("ENCLAVE_CONTROL_LISTEN", "tcp://h")]));
    assert!(
        stderr.starts_with("error: invalid value 'soon' for '--lookback-blocks <BLOCKS>'"),
        "{stderr}"
    );
}

#[test]
fn at_most_one_key_source() {
    let mut args = MODE_AND_CONTRACT.to_vec();
    args.extend(["--rpc-url", "http://127.0.0.1:8545"]);
    let key = [("ENCLAVE_OPERATOR_KEY", KEY)];
    let mut with_file = args.clone();
    with_file.extend(["--operator-key-file", "/k"]);
    let stderr = config_error(&mut check(&with_file, &key));
    assert_eq!(
        stderr,
        "error: both ENCLAVE_OPERATOR_KEY and --operator-key-file give an operator key: set at most one\n"
    );
    let stderr = config_error(&mut check(
        &args,
        &[
            ("ENCLAVE_OPERATOR_KEY", KEY),
            ("ENCLAVE_OPERATOR_KEY_FILE", "/k"),
        ],
    ));
    assert!(
        stderr.starts_with("error: both ENCLAVE_OPERATOR_KEY and ENCLAVE_OPERATOR_KEY_FILE"),
        "{stderr}"
    );
    assert!(!stderr.contains(&KEY[..16]), "{stderr}");
    // Alone, the key is taken (which key: `starts_logs_the_operator_and_stops_on_sigterm`
    // logs its address).
    let line = checked(&mut check(&args, &key));
    assert!(
        line.contains(" operator_key=<redacted> operator_key_file=<none> "),
        "{line}"
    );
    assert!(!line.contains(&KEY[..16]), "{line}");
}

#[test]
fn rpc_urls_from_env_are_a_comma_separated_list() {
    let line = checked(&mut check(
        &MODE_AND_CONTRACT,
        &[("ENCLAVE_RPC_URL", "http://127.0.0.1:1, http://127.0.0.1:2")],
    ));
    assert!(
        line.contains(" rpc_url=http://127.0.0.1:1,http://127.0.0.1:2 rpc_quorum=2 "),
        "{line}"
    );
}

#[test]
fn empty_variables_count_as_unset() {
    let mut args = MODE_AND_CONTRACT.to_vec();
    args.extend(["--rpc-url", "http://127.0.0.1:8545"]);
    let line = checked(&mut check(
        &args,
        &[
            ("ENCLAVE_POLL_INTERVAL_MS", ""),
            ("ENCLAVE_OPERATOR_KEY", ""),
            ("ENCLAVE_LOG_FILTER", ""),
            ("RUST_LOG", ""),
        ],
    ));
    assert!(line.contains(" poll_interval_ms=1000 "), "{line}");
    assert!(line.contains(" operator_key=<none> "), "{line}");
    assert!(line.contains(" log_filter=\"info\" "), "{line}");
}

#[test]
fn variables_that_are_not_utf8_are_refused() {
    let mut args = MODE_AND_CONTRACT.to_vec();
    args.extend(["--rpc-url", "http://127.0.0.1:8545"]);
    for var in ["ENCLAVE_LOG_FORMAT", "ENCLAVE_CONFIG", "RUST_LOG"] {
        let mut cmd = check(&args, &[]);
        cmd.env(var, OsStr::from_bytes(b"\xffoo"));
        let stderr = config_error(&mut cmd);
        assert_eq!(
            stderr,
            format!("error: environment variable {var} is not valid UTF-8\n")
        );
    }
}
