//! enclave-app: the enclave binary (chain client, event manager, store, operator).

pub mod chain;
