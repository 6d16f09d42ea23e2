//! The `host-proxy` binary's edges: help, configuration errors (exit 2, a clear
//! message, never the RPC URL's secret path), and a clean stop on SIGTERM.

use std::{
    process::{Command, Stdio},
    time::Duration,
};

use testkit::process::Lines;

/// The binary with a clean environment (none of this process's `HOST_PROXY_*` or
/// `RUST_LOG`).
fn host_proxy(args: &[&str]) -> Command {
    let mut command = testkit::process::command(env!("CARGO_BIN_EXE_host-proxy"), &[]);
    command.args(args).stdin(Stdio::null());
    command
}

#[test]
fn help_lists_every_setting_with_its_variable() {
    let out = host_proxy(&["--help"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let help = String::from_utf8(out.stdout).unwrap();
    for flag in [
        "--mode",
        "--rpc-url",
        "--egress-allowlist",
        "--egress-listen",
        "--egress-max-connections",
        "--egress-idle-timeout-secs",
        "--control",
        "--listen",
        "--frontend-dir",
        "--cors-origin",
        "--max-ws-clients",
        "--explorer-url",
        "--public-rpc-url",
        "--chain-name",
        "--log-format",
        "--log-filter",
        "HOST_PROXY_RPC_URL",
        "--rate-limits",
        "HOST_PROXY_RATE_LIMITS",
        "--enclave-requests-per-minute",
        "HOST_PROXY_ENCLAVE_REQUESTS_PER_MINUTE",
        "--enclave-requests-burst",
        "HOST_PROXY_ENCLAVE_REQUESTS_BURST",
        "--max-ws-per-client",
        "HOST_PROXY_MAX_WS_PER_CLIENT",
        "--max-enclave-in-flight",
        "HOST_PROXY_MAX_ENCLAVE_IN_FLIGHT",
        "--trusted-proxy",
        "HOST_PROXY_TRUSTED_PROXY",
    ] {
        assert!(help.contains(flag), "{flag} missing from --help:\n{help}");
    }
}

#[test]
fn configuration_errors_exit_2_with_a_reason() {
    for (args, reason) in [
        (
            vec!["--mode", "sim"],
            "exactly one of --rpc-url and --egress-allowlist",
        ),
        (
            vec!["--mode", "sim", "--rpc-url", "ftp://rpc.example/SECRETKEY"],
            "not a usable RPC URL",
        ),
        (
            vec![
                "--mode",
                "nitro",
                "--rpc-url",
                "https://h",
                "--control",
                "tcp://127.0.0.1:1",
            ],
            "needs vsock endpoints",
        ),
        (
            vec![
                "--mode",
                "sim",
                "--egress-allowlist",
                "/nonexistent/allowlist.toml",
            ],
            "allowlist",
        ),
        (
            vec![
                "--mode",
                "sim",
                "--rpc-url",
                "http://h:1",
                "--control",
                "udp://x:1",
            ],
            "tcp:// or vsock://",
        ),
        (
            vec![
                "--mode",
                "sim",
                "--rpc-url",
                "http://h:1",
                "--explorer-url",
                "javascript:alert(1)",
            ],
            "--explorer-url \"javascript:alert(1)\" is not an http:// or https:// URL",
        ),
        (
            vec![
                "--mode",
                "sim",
                "--rpc-url",
                "http://h:1",
                "--trusted-proxy",
                "10.0.0.0/33",
            ],
            "\"10.0.0.0/33\" is not an IP address or CIDR range",
        ),
        (
            vec![
                "--mode",
                "sim",
                "--rpc-url",
                "http://h:1",
                "--enclave-requests-per-minute",
                "0",
            ],
            "--enclave-requests-per-minute",
        ),
        (
            vec![
                "--mode",
                "sim",
                "--rpc-url",
                "http://h:1",
                "--public-rpc-url",
                "https://user@rpc.example",
            ],
            "--public-rpc-url",
        ),
    ] {
        let out = host_proxy(&args).output().unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(reason), "{args:?}: {stderr}");
        assert!(!stderr.contains("SECRETKEY"), "{stderr}");
    }
}

#[test]
fn a_port_in_use_fails_at_start_and_sigterm_stops_cleanly() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let out = host_proxy(&[
        "--mode",
        "sim",
        "--rpc-url",
        "http://127.0.0.1:1",
        "--egress-listen",
        "tcp://127.0.0.1:0",
        "--control",
        "tcp://127.0.0.1:1",
        "--listen",
        &format!("127.0.0.1:{port}"),
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains(&format!("cannot listen on 127.0.0.1:{port}")),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    drop(taken);

    let mut child = host_proxy(&[
        "--mode",
        "sim",
        "--rpc-url",
        "http://127.0.0.1:1",
        "--egress-listen",
        "tcp://127.0.0.1:0",
        "--control",
        "tcp://127.0.0.1:1",
        "--listen",
        "127.0.0.1:0",
    ])
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let mut lines = Lines::read(child.stderr.take().unwrap());
    lines
        .wait_for(Duration::from_secs(20), |line| {
            line.contains("host-proxy running")
        })
        .unwrap_or_else(|| panic!("host-proxy never started: {:#?}", lines.seen()));
    testkit::process::terminate(child.id()).unwrap();
    let exit = child.wait().unwrap();
    assert!(
        exit.success(),
        "host-proxy exited with {exit} after SIGTERM"
    );
}
