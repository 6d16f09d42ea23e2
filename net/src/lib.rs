//! The network edge's addresses and sockets: where the enclave and the host meet,
//! `vsock://CID:PORT` inside AWS Nitro and `tcp://HOST:PORT` in simulated mode.
//! Parsed in one place; listening, accepting and connecting work the same for both,
//! so everything above the socket (the egress forwarder, the RPC connector, the
//! control channel) is one code path over [`Stream`].
//!
//! Only the socket calls differ between the two kinds. vsock exists only on Linux
//! and only where a hypervisor provides it (an enclave and its parent); anywhere
//! else binding or connecting fails with an [`EndpointError`] naming the endpoint.
//!
//! - [`endpoint`]: `tcp://` / `vsock://` endpoints, [`Listener`] and [`Stream`].
//! - [`rpc_url`]: JSON-RPC URLs, checked once and only ever printed redacted.
//!
//! TLS and HTTP live above this crate (`rpc-transport`), so host-proxy, which only
//! forwards bytes, links no TLS client.

pub mod endpoint;
pub mod rpc_url;

pub use endpoint::{
    CID_ANY, CONNECT_TIMEOUT, DEFAULT_CONTROL_PORT, DEFAULT_EGRESS_PORT, DEFAULT_ENCLAVE_CID,
    Endpoint, EndpointError, Listener, PARENT_CID, Stream,
};
pub use rpc_url::{RpcUrl, UrlError, redact_url};
