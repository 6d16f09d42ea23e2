//! `--help` documents the options.

use crate::run_args;

#[test]
fn help_documents_the_options() {
    let top = run_args(&["--help"]).success();
    assert!(
        top.contains("\nUsage: lottery [OPTIONS] <COMMAND>\n"),
        "{top}"
    );
    for needle in ["--rpc-url", "--json", "--timeout", "LOTTERY_RPC_URL"] {
        assert!(
            top.contains(needle),
            "lottery --help lacks {needle}:\n{top}"
        );
    }
    for command in [
        "deploy",
        "set-operator",
        "config",
        "commit",
        "draw",
        "refund",
        "bet",
        "status",
        "withdraw",
    ] {
        assert!(
            top.lines()
                .any(|l| l.trim_start().starts_with(&format!("{command} "))),
            "lottery --help lacks {command}:\n{top}"
        );
    }

    let status = run_args(&["status", "--help"]).success();
    assert!(
        status.contains("Usage: lottery status [OPTIONS] --contract <CONTRACT>\n"),
        "{status}"
    );
    for needle in ["--rpc-url", "--json", "--contract", "--timeout"] {
        assert!(
            status.contains(needle),
            "lottery status --help lacks {needle}:\n{status}"
        );
    }

    // Key options are documented where keys are used, without any value.
    let bet = run(
        &["bet", "--help"],
        "LOTTERY_PRIVATE_KEY",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    );
    for needle in [
        "--private-key",
        "--key-file",
        "LOTTERY_PRIVATE_KEY",
        "LOTTERY_KEY_FILE",
        "--amount",
    ] {
        assert!(
            bet.contains(needle),
            "lottery bet --help lacks {needle}:\n{bet}"
        );
    }
    assert!(
        !bet.contains("0123456789abcdef"),
        "help shows the key:\n{bet}"
    );
}

/// `lottery --help` with an environment variable set.
fn run(args: &[&str], var: &str, value: &str) -> String {
    crate::run(crate::lottery().args(args).env(var, value)).success()
}

/// The help's summary describes the CLI (its doc comment), not the `abi` library
/// crate it ships in.
#[test]
fn help_describes_the_cli() {
    let top = run_args(&["--help"]).success();
    let summary = top.lines().next().unwrap_or_default();
    assert!(
        summary.contains("CLI") && summary.contains("Lottery"),
        "lottery --help opens with {summary:?}"
    );
    assert!(
        !top.contains("Every interface that crosses a boundary"),
        "lottery --help shows the abi crate's description:\n{top}"
    );
}
