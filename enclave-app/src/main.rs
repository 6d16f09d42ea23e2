//! The enclave binary. Its content arrives with the enclave core issue.

fn main() {}
