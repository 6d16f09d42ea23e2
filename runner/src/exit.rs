//! Exit codes, the same in every binary of the workspace, so a supervisor or script
//! can tell a configuration mistake (fix the unit file, do not restart in a loop) from
//! a failure at run time.

/// Success.
pub const OK: u8 = 0;
/// The process ran and failed (an unreachable chain, a lost socket), or `attest`
/// rejected a document.
pub const FAILED: u8 = 1;
/// The command line, environment or configuration file is wrong: nothing was started.
pub const CONFIG: u8 = 2;
