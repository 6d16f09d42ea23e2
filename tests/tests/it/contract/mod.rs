//! The `Lottery` contract alone, against a real anvil: no enclave-app or host-proxy
//! code, no child process but anvil.

mod gas;
mod hostile;
mod lifecycle;
mod operator_change;
mod reverts;
