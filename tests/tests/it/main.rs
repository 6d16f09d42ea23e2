//! The `tests` crate's integration tests, one binary (`it`) to keep link time down,
//! in folders by kind:
//!
//! - [`contract`]: the `Lottery` contract alone against a real anvil (one per test,
//!   on a free port): reverts, whole rounds, hostile players, operator changes, gas.
//! - [`in_process`]: enclave-app's and host-proxy's code (chain client, mirror and
//!   operator, control channel) and the hostile JSON-RPC upstream run inside the
//!   test process, against anvil or each other over loopback sockets.
//! - [`processes`]: real child processes: the workspace binaries (enclave-app,
//!   host-proxy, `lottery`, `attest`), schemathesis, a headless browser.
//!
//! Tests drive chain time with anvil's time calls; nothing sleeps through a real
//! round.

// A failed unwrap in a test helper is a failed test, with its location.
#![allow(clippy::unwrap_used)]

mod contract;
mod in_process;
mod processes;
