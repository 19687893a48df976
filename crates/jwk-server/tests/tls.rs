//! The HTTPS listener on loopback: handshakes do not wait for each other, renewed
//! certificate files are served without a restart, a key must match its certificate.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use jwk_server::tls::{TlsListener, load_certified_key, server_config_with};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Serves "ok" at `/` over TLS on a loopback port; returns the port.
async fn serve(config: Arc<rustls::ServerConfig>) -> u16 {
    let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = tcp.local_addr().unwrap().port();
    let app = axum::Router::new().route("/", axum::routing::get(|| async { "ok" }));
    let listener = TlsListener::new(tcp, config).unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

/// GET / over TLS trusting only `ca` (DER): the served leaf certificate and the body.
async fn get(port: u16, ca: &[u8]) -> (Vec<u8>, String) {
    let mut roots = rustls::RootCertStore::empty();
    roots.add(CertificateDer::from(ca.to_vec())).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let name = ServerName::try_from("127.0.0.1").unwrap();
    let mut tls = connector.connect(name, tcp).await.unwrap();
    let leaf = tls.get_ref().1.peer_certificates().unwrap()[0].to_vec();
    tls.write_all(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut response = String::new();
    tls.read_to_string(&mut response).await.unwrap();
    let body = response.rsplit("\r\n\r\n").next().unwrap().to_owned();
    (leaf, body)
}

fn der_of(pem: &Path) -> Vec<u8> {
    CertificateDer::from_pem_file(pem).unwrap().to_vec()
}

#[tokio::test]
async fn a_silent_client_delays_nobody() {
    let dir = jwk_testkit::temp_dir();
    let d = dir.path();
    jwk_testkit::openssl_ca_and_server(d, "IP:127.0.0.1");
    let config = server_config_with(&d.join("srv.pem"), &d.join("srv.key"), Duration::MAX).unwrap();
    let port = serve(config).await;
    // Connected, never says a word: its handshake waits in a task of its own.
    let _silent = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let ca = jwk_testkit::read(d, "ca.der");
    // Well inside the silent client's 10 s handshake allowance.
    let (_, body) = tokio::time::timeout(Duration::from_secs(5), get(port, &ca))
        .await
        .expect("served while another client is silent");
    assert_eq!(body, "ok");
}

#[tokio::test]
async fn renewed_certificate_files_are_served_without_a_restart() {
    let dir = jwk_testkit::temp_dir();
    let d = dir.path();
    jwk_testkit::openssl_ca_and_server(d, "IP:127.0.0.1");
    let (cert, key) = (d.join("srv.pem"), d.join("srv.key"));
    let config = server_config_with(&cert, &key, Duration::ZERO).unwrap();
    let port = serve(config).await;
    let ca = jwk_testkit::read(d, "ca.der");
    let first = der_of(&cert);
    assert_eq!(get(port, &ca).await, (first.clone(), "ok".to_owned()));

    jwk_testkit::openssl_server_cert(d, "renewed", "IP:127.0.0.1");
    std::fs::copy(d.join("renewed.key"), &key).unwrap();
    std::fs::copy(d.join("renewed.pem"), &cert).unwrap();
    let renewed = der_of(&cert);
    assert_ne!(renewed, first);
    assert_eq!(get(port, &ca).await.0, renewed);

    // A renewal caught half-written does not load: the last good pair stays in use.
    std::fs::write(&cert, "-----BEGIN CERTIFICATE-----\nMII").unwrap();
    assert_eq!(get(port, &ca).await.0, renewed);
}

#[test]
fn a_key_must_match_its_certificate() {
    let dir = jwk_testkit::temp_dir();
    let d = dir.path();
    jwk_testkit::openssl_ca_and_server(d, "IP:127.0.0.1");
    let cert = d.join("srv.pem");
    let other = d.join("ca.key");
    let e = load_certified_key(&cert, &other).unwrap_err();
    assert_eq!(
        e,
        format!(
            "the TLS key {} is not the key of the certificate {}",
            other.display(),
            cert.display()
        )
    );
    let missing = d.join("missing.pem");
    let e = load_certified_key(&missing, &other).unwrap_err();
    assert!(
        e.starts_with(&format!(
            "cannot read the TLS certificate {}: ",
            missing.display()
        )),
        "{e}"
    );
    let e = load_certified_key(&d.join("srv.ext"), &other).unwrap_err();
    assert_eq!(
        e,
        format!(
            "the TLS certificate file {} holds no CERTIFICATE block",
            d.join("srv.ext").display()
        )
    );
}
