//! host-proxy's integration tests: real sockets, real processes.

#![allow(clippy::unwrap_used)]

mod binary;
mod egress;
