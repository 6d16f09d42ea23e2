//! The people's side of the lottery: the `lottery` admin CLI (deploy, hand over the
//! operator role, bet, check a settled round) and `attest` (fetch, verify and seal
//! to an enclave's attestation document), plus what both share.
//!
//! - [`attest_client`]: fetching, verifying and sealing to an enclave's attestation
//!   document through host-proxy's web API.
//! - [`audit`]: checking a settled round from the chain alone (`lottery verify-round`).
//! - [`keys`]: reading the signing key a tool was pointed at.
//!
//! The binaries' own modules (argument surface, commands, output) are under
//! `src/bin/`. Runtime, logging and exit codes are `runner`'s; RPC is
//! `rpc-transport`'s.

pub mod attest_client;
pub mod audit;
pub mod keys;
