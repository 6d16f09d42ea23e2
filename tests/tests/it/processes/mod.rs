//! Real child processes: enclave-app, host-proxy, `lottery` and `attest` spawned from
//! cargo's target directory (`cargo build --workspace --bins` first), schemathesis and
//! a headless browser. [`limits`] and [`web_api`] also hold tests against the
//! in-process stack (`tests::stack::InProcess`) beside their multi-process ones.

mod attest_cli;
mod attestation_flow;
mod enclave_process;
mod limits;
mod openapi_conformance;
mod page;
mod topology;
mod verify_round;
mod web_api;
