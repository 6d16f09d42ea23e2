//! enclave-app's and host-proxy's code run inside the test process (and the tests'
//! own hostile JSON-RPC upstream), against anvil or over loopback sockets; no child
//! process but anvil.

mod chain_client;
mod control_channel;
mod hostile_upstream;
mod limits;
mod operator_flow;
mod push;
mod upstream;
pub(crate) mod web_api;
