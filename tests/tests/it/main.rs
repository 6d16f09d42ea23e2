//! Cross-process tests against a real anvil (one per test, on a free port).
//!
//! Contract tests drive chain time with anvil's time calls; nothing sleeps through a
//! real round.

mod gas;
mod hostile;
mod lifecycle;
mod reverts;
