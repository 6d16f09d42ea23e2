//! The real provider: the Nitro Security Module behind `/dev/nsm`.

use std::{
    fs::OpenOptions,
    os::fd::{AsRawFd, OwnedFd},
};

use aws_nitro_enclaves_nsm_api::{
    api::{Request, Response},
    driver::nsm_process_request,
};
use serde_bytes::ByteBuf;

use super::{AttestationProvider, AttestationRequest, ProviderError, ProviderKind};

/// The NSM device inside a Nitro Enclave.
pub const NSM_DEVICE: &str = "/dev/nsm";

/// Attestation and entropy from the Nitro Security Module.
///
/// Opening fails with [`ProviderError::NsmUnavailable`] outside an enclave. The
/// device stays open for the provider's lifetime and is closed on drop.
pub struct NsmProvider {
    device: OwnedFd,
}

impl NsmProvider {
    /// Opens [`NSM_DEVICE`].
    pub fn open() -> Result<Self, ProviderError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .open(NSM_DEVICE)
            .map_err(|source| ProviderError::NsmUnavailable {
                path: NSM_DEVICE,
                source,
            })?;
        Ok(Self {
            device: OwnedFd::from(file),
        })
    }

    fn request(&self, request: Request) -> Response {
        nsm_process_request(self.device.as_raw_fd(), request)
    }
}

impl std::fmt::Debug for NsmProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NsmProvider")
            .field("device", &NSM_DEVICE)
            .finish()
    }
}

/// Names an NSM response for error messages without its (possibly large) body.
fn response_name(response: &Response) -> String {
    match response {
        Response::Attestation { .. } => "Attestation".into(),
        Response::GetRandom { .. } => "GetRandom".into(),
        Response::Error(code) => format!("Error({code:?})"),
        other => {
            let text = format!("{other:?}");
            text.split([' ', '{', '('])
                .next()
                .unwrap_or("?")
                .to_string()
        }
    }
}

impl AttestationProvider for NsmProvider {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Nitro
    }

    fn attest(&self, request: &AttestationRequest) -> Result<Vec<u8>, ProviderError> {
        let response = self.request(Request::Attestation {
            user_data: request.user_data().map(|d| ByteBuf::from(d.to_vec())),
            nonce: Some(ByteBuf::from(request.nonce().to_vec())),
            public_key: request.public_key().map(|k| ByteBuf::from(k.to_vec())),
        });
        match response {
            Response::Attestation { document } => Ok(document),
            Response::Error(code) => Err(ProviderError::Nsm(format!("{code:?}"))),
            other => Err(ProviderError::UnexpectedNsmResponse(
                response_name(&other),
                "Attestation",
            )),
        }
    }

    fn fill_random(&self, buf: &mut [u8]) -> Result<(), ProviderError> {
        let mut filled = 0;
        while filled < buf.len() {
            match self.request(Request::GetRandom) {
                // Each answer carries up to a few hundred bytes; an empty one would
                // loop forever, so it is an error.
                Response::GetRandom { random } if !random.is_empty() => {
                    let n = random.len().min(buf.len() - filled);
                    buf[filled..filled + n].copy_from_slice(&random[..n]);
                    filled += n;
                }
                Response::Error(code) => return Err(ProviderError::Nsm(format!("{code:?}"))),
                other => {
                    return Err(ProviderError::UnexpectedNsmResponse(
                        response_name(&other),
                        "GetRandom",
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opening_outside_an_enclave_fails_clearly() {
        if std::path::Path::new(NSM_DEVICE).exists() {
            return; // inside an enclave: nothing to show here
        }
        let err = NsmProvider::open().unwrap_err();
        assert!(matches!(err, ProviderError::NsmUnavailable { .. }), "{err}");
        let message = err.to_string();
        assert!(message.contains("/dev/nsm"), "{message}");
        assert!(message.contains("Nitro Enclave"), "{message}");
    }
}
