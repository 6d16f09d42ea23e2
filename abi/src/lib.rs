//! Every interface that crosses a process or chain boundary, defined once.
//!
//! - [`api`]: the web API's responses, requests and WebSocket feed messages.
//! - `attest_client` (feature `cli`): fetching, verifying and sealing to an enclave's
//!   attestation document through host-proxy, for `attest` and `lottery`.
//! - [`contract`]: the `Lottery` contract's alloy bindings, generated from the committed
//!   compiler artifact (`artifacts/Lottery.json`), plus its typed round states and
//!   human-readable revert reasons.
//! - [`control`]: the control channel's messages and length-prefixed CBOR framing.
//! - [`endpoint`]: `tcp://` and `vsock://` endpoints with listen and connect, and the
//!   stream type everything above the socket is generic over.
//! - [`draw`]: the fair-randomness rules shared with the contract: seed commitments and
//!   the stake-weighted winner, recomputable by anyone from a revealed seed.
//! - [`keys`]: reading hex private keys (strings and key files) without ever echoing
//!   them, shared by the `lottery` CLI and enclave-app's simulated mode.
//! - `logging` (feature `logging`): the services' stderr logging, text or JSON, with
//!   strict `RUST_LOG`-style filters.
//! - `service` (feature `service`): the services' runtime, signals and grace period.
//! - [`views`]: the JSON shapes served to browsers and printed by the CLI (camelCase,
//!   wei as decimal strings, checksummed addresses, timestamps in seconds).
//! - [`state`]: the mirrored lottery state (snapshot plus sequence-numbered events) that
//!   enclave-app keeps, the control channel streams and the web API serves.
//! - [`transport`]: the JSON-RPC-over-HTTP transport on hyper-util + rustls (ring) with
//!   a swappable connector, handed to alloy's `RpcClient`.
//!
//! This crate must not hold policy (when to draw, how to retry): that is enclave-app's.
//! The `lottery` admin binary lives here behind the default `cli` feature.

pub mod api;
#[cfg(feature = "cli")]
pub mod attest_client;
pub mod audit;
#[cfg(feature = "cli")]
pub mod cli;
pub mod contract;
pub mod control;
pub mod draw;
pub mod endpoint;
pub mod keys;
#[cfg(feature = "logging")]
pub mod logging;
#[cfg(feature = "service")]
pub mod service;
pub mod state;
pub mod transport;
pub mod views;
