//! How a process of ours runs, from its first line to its exit code: the process edge
//! shared by the two services (enclave-app, host-proxy) and the two tools (`lottery`,
//! `attest`).
//!
//! - [`logging`]: `tracing` events on stderr, text or JSON, with strict
//!   `RUST_LOG`-style filters.
//! - [`service`]: the services' runtime, SIGTERM/SIGINT and grace period.
//! - [`tool`]: the tools' small runtime and the mapping of a result to an exit code.
//! - [`exit`]: the exit codes every binary shares.
//! - [`files`]: reading a file a person pointed us at (config, key, CA, allowlist,
//!   document) with a size cap, so a wrong path to a device or a huge file fails
//!   with a clear error instead of filling memory.
//! - [`error_chain`]: an error and its causes on one line, for logs and stderr.
//!
//! Nothing here knows about the lottery: no contract, no wire type.

pub mod exit;
pub mod files;
pub mod logging;
pub mod service;
pub mod tool;

/// An error and all its sources on one line: hyper's client errors say only
/// `client error (Connect)` at the top and hide the cause below.
pub fn error_chain(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let s = cause.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        source = cause.source();
    }
    text
}
