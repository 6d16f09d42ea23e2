//! Test-only fixtures shared by every integration test and benchmark harness of the
//! workspace (never a dependency of a shipped crate):
//!
//! - [`chain`]: the one anvil fixture, [`chain::Chain`]: the pinned anvil
//!   (`$ANVIL_BIN`) on a free loopback port, its funded accounts and keys, the
//!   `Lottery` contract deployed and handed to an operator, chain time moved with
//!   anvil's calls, and the helpers that send a call and decode its revert.
//! - [`process`]: child processes: a workspace binary found in cargo's target
//!   directory, spawned with a clean environment plus the given variables; SIGTERM by
//!   pid; waiting for a matching line of a child's output with a timeout; a free
//!   loopback port.

pub mod chain;
pub mod process;
