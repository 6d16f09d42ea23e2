//! Cross-process tests against a real anvil (one per test, on a free port).
//!
//! Contract tests drive chain time with anvil's time calls; nothing sleeps through a
//! real round.

// A failed unwrap in a test helper is a failed test, with its location.
#![allow(clippy::unwrap_used)]

mod attest_cli;
mod attestation_flow;
mod chain_client;
mod control_channel;
mod enclave_process;
mod gas;
mod hostile;
mod hostile_upstream;
mod lifecycle;
mod limits;
mod openapi_conformance;
mod operator_change;
mod operator_flow;
mod page;
mod reverts;
mod topology;
mod upstream;
mod verify_round;
mod web_api;
