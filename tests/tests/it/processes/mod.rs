//! Real child processes: enclave-app, host-proxy, `lottery` and `attest` spawned from
//! cargo's target directory (`cargo build --workspace --bins` first), schemathesis and
//! a headless browser. Their in-process halves are under `in_process` (`limits`,
//! `web_api`, whose helpers `web_api` here shares).

mod attest_cli;
mod attestation_flow;
mod enclave_process;
mod limits;
mod openapi_conformance;
mod page;
mod push;
mod topology;
mod verify_round;
mod web_api;
