//! A throwaway CA and a TLS front for anvil, for the tests of `https://` and `wss://`
//! RPC endpoints checked against a configured CA.

/// A CA named `ca_name`, and a certificate for `localhost` it issued: (CA PEM, server
/// cert DER, key DER).
///
/// # Panics
/// When rcgen fails.
pub fn issue_localhost_cert(
    ca_name: &str,
) -> (
    String,
    rustls::pki_types::CertificateDer<'static>,
    rustls::pki_types::PrivateKeyDer<'static>,
) {
    let ca_key = rcgen::KeyPair::generate().expect("test TLS setup");
    let mut ca_params =
        rcgen::CertificateParams::new(Vec::<String>::new()).expect("test TLS setup");
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, ca_name);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).expect("test TLS setup");
    let server_key = rcgen::KeyPair::generate().expect("test TLS setup");
    let server = rcgen::CertificateParams::new(vec!["localhost".to_owned()])
        .expect("test TLS setup")
        .signed_by(&server_key, &ca)
        .expect("test TLS setup");
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(server_key.serialize_der().into());
    (ca.pem(), server.der().clone(), key)
}

/// A TLS JSON-RPC endpoint on a free port: terminates TLS with `cert` and passes the
/// plaintext to anvil (HTTP and WebSocket alike: anvil serves both on its port, so
/// this is `https://localhost:PORT` and `wss://localhost:PORT`). Runs until the test
/// ends.
///
/// # Panics
/// When the server configuration is refused or no port can be bound.
pub async fn tls_rpc_endpoint(
    cert: rustls::pki_types::CertificateDer<'static>,
    key: rustls::pki_types::PrivateKeyDer<'static>,
    anvil: String,
) -> u16 {
    let config = rustls::ServerConfig::builder_with_provider(rpc_transport::crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("test TLS setup")
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .expect("test TLS setup");
    let acceptor = tokio_rustls::TlsAcceptor::from(std::sync::Arc::new(config));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("test TLS setup");
    let port = listener.local_addr().expect("test TLS setup").port();
    let upstream = anvil.trim_start_matches("http://").to_owned();
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            let upstream = upstream.clone();
            tokio::spawn(async move {
                // A client that rejects the certificate ends the handshake: fine.
                let Ok(mut tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut node) = tokio::net::TcpStream::connect(upstream).await else {
                    return;
                };
                let _ = tokio::io::copy_bidirectional(&mut tls, &mut node).await;
            });
        }
    });
    port
}
