//! Every interface that crosses a process or chain boundary, defined once, and
//! nothing else: no sockets, no TLS, no CLI, no policy.
//!
//! - [`api`]: the web API's responses, requests and WebSocket feed messages.
//! - [`contract`]: the `Lottery` contract's alloy bindings, generated from the committed
//!   compiler artifact (`artifacts/Lottery.json`), plus its typed round states and
//!   human-readable revert reasons.
//! - [`control`]: the control channel's messages and length-prefixed CBOR framing.
//! - [`draw`]: the fair-randomness rules shared with the contract: seed commitments and
//!   the stake-weighted winner, recomputable by anyone from a revealed seed.
//! - [`keys`]: what a hex private key may look like (parsing without ever echoing it),
//!   shared by the `lottery` CLI and enclave-app's simulated mode.
//! - [`views`]: the JSON shapes served to browsers and printed by the CLI (camelCase,
//!   wei as decimal strings, checksummed addresses, timestamps in seconds).
//! - [`wire`]: the serde adapters and the ETH formatting both the bindings and the
//!   views use.
//! - [`state`]: the mirrored lottery state (snapshot plus sequence-numbered events) that
//!   enclave-app keeps, the control channel streams and the web API serves.
//!
//! Where these travel is other crates' business: `net` (tcp:// and vsock://
//! endpoints), `rpc-transport` (JSON-RPC over HTTPS), `host-proxy` (the web API).
//! When to draw and how to retry is enclave-app's.

pub mod api;
pub mod contract;
pub mod control;
pub mod draw;
pub mod keys;
pub mod stakes;
pub mod state;
pub mod views;
pub mod wire;
