//! The NSM provider outside an enclave.

use attestation::provider::{NSM_DEVICE, NsmProvider, ProviderError};

#[test]
fn nsm_provider_fails_clearly_without_dev_nsm() {
    if std::path::Path::new(NSM_DEVICE).exists() {
        return; // inside a Nitro Enclave: the failure cannot be shown here
    }
    let err = NsmProvider::open().unwrap_err();
    let ProviderError::NsmUnavailable { path, source } = &err else {
        panic!("unexpected error: {err}");
    };
    assert_eq!(*path, "/dev/nsm");
    assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
    assert!(
        err.to_string().contains("not inside a Nitro Enclave"),
        "{err}"
    );
}
