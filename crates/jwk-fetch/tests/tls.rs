//! HTTPS on loopback: a rustls server with a certificate for `localhost` from a CA made at
//! test time. Trusted only when the CA is given as an extra root.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;

use jwk_fetch::{FetchOptions, fetch_jwk};
use jwk_testkit::{read, temp_dir};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject};

const JWK: &str = r#"{"kty":"oct","kid":"tls","k":"GawgguFyGrWKav7AX4VKUg"}"#;

/// Serves `connections` TLS connections with one JWK, then stops.
fn tls_server(cert_pem: &[u8], key_pem: &[u8], connections: usize) -> u16 {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_slice(key_pem).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(connections) {
            let Ok(mut tcp) = stream else { continue };
            let Ok(conn) = rustls::ServerConnection::new(config.clone()) else {
                continue;
            };
            let mut tls = rustls::StreamOwned::new(conn, &mut tcp);
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && head.len() < 16384 {
                match tls.read(&mut byte) {
                    Ok(1) => head.push(byte[0]),
                    _ => break,
                }
            }
            let response = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{JWK}",
                JWK.len()
            );
            let _ = tls.write_all(response.as_bytes());
            let _ = tls.flush();
            tls.conn.send_close_notify();
            let _ = tls.flush();
        }
    });
    port
}

#[test]
fn https_with_an_extra_root_and_refused_without_it() {
    let dir = temp_dir();
    let d = dir.path();
    jwk_testkit::openssl_ca_and_server(d, "DNS:localhost");
    let port = tls_server(&read(d, "srv.pem"), &read(d, "srv.key"), 2);
    let url = format!("https://localhost:{port}/jwks");

    let trusted = FetchOptions {
        allow_private_networks: true,
        extra_root_certs: vec![read(d, "ca.der")],
        ..FetchOptions::default()
    };
    let (jwk, _) = fetch_jwk(&url, None, &trusted).unwrap();
    assert_eq!(jwk.params().kid.as_deref(), Some("tls"));

    let untrusted = FetchOptions {
        allow_private_networks: true,
        ..FetchOptions::default()
    };
    let e = fetch_jwk(&url, None, &untrusted).unwrap_err();
    assert_eq!(e.code(), "fetch.connection");
    assert!(e.to_string().contains("UnknownIssuer"), "{e}");
}
