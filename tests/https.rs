//! `jwkd serve --tls-cert --tls-key`: the HTTP API over HTTPS with a certificate from a CA
//! made at test time.

mod common;

use std::process::Stdio;

use common::{Server, agent};

#[test]
fn jwkd_serves_the_api_over_https() {
    let certs = jwk_testkit::temp_dir();
    let d = certs.path();
    jwk_testkit::openssl_ca_and_server(d, "IP:127.0.0.1");
    let data = jwk_testkit::temp_dir();
    let (cert, key) = (d.join("srv.pem"), d.join("srv.key"));
    let s = Server::start_with(
        data.path(),
        &[
            "--tls-cert",
            cert.to_str().unwrap(),
            "--tls-key",
            key.to_str().unwrap(),
        ],
        Stdio::null(),
    );
    assert!(s.base.starts_with("https://127.0.0.1:"), "{}", s.base);
    let ca = jwk_testkit::read(d, "ca.der");
    let trusting = agent(Some(&ca));
    let mut health = trusting.get(format!("{}/healthz", s.base)).call().unwrap();
    assert_eq!(health.status().as_u16(), 200);
    assert_eq!(
        health.body_mut().read_to_string().unwrap(),
        r#"{"status":"ok"}"#
    );
    let admin = std::fs::read_to_string(data.path().join("admin-token")).unwrap();
    let response = trusting
        .get(format!("{}/apiops/projects/admin/jwks/", s.base))
        .header("Authorization", format!("Bearer {}", admin.trim()))
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);

    let e = agent(None)
        .get(format!("{}/healthz", s.base))
        .call()
        .unwrap_err();
    assert!(e.to_string().contains("UnknownIssuer"), "{e}");
    // Plain HTTP on the HTTPS port gets no HTTP answer.
    let plain = s.base.replacen("https://", "http://", 1);
    assert!(agent(None).get(format!("{plain}/healthz")).call().is_err());
}

#[test]
fn tls_options_are_checked() {
    let certs = jwk_testkit::temp_dir();
    let d = certs.path();
    jwk_testkit::openssl_ca_and_server(d, "IP:127.0.0.1");
    let data = jwk_testkit::temp_dir();
    let run = |args: &[&str]| {
        let out = common::jwkd(data.path())
            .args(["serve", "--listen", "127.0.0.1:0"])
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (cert, ca_key) = (d.join("srv.pem"), d.join("ca.key"));
    let (code, stderr) = run(&["--tls-cert", cert.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.starts_with(
            "error: the following required arguments were not provided:\n  --tls-key <FILE>"
        ),
        "{stderr}"
    );
    let (code, stderr) = run(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        ca_key.to_str().unwrap(),
    ]);
    assert_eq!(code, Some(2));
    assert_eq!(
        stderr.lines().last().unwrap(),
        format!(
            "error: the TLS key {} is not the key of the certificate {}",
            ca_key.display(),
            cert.display()
        )
    );
}
