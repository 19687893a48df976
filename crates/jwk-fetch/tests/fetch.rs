//! URL fetch against loopback stub servers only. Every other address range is tested as a
//! pure classification function (see src/guard.rs); no test connects anywhere else.

use std::io::Write;
use std::time::{Duration, Instant};

use jwk_fetch::{FetchError, FetchOptions, fetch, fetch_jwk, parse_set};
use jwk_testkit::{HttpStub, respond};

const SET: &str = r#"{"keys":[
 {"kty":"oct","kid":"a","k":"GawgguFyGrWKav7AX4VKUg"},
 {"kty":"oct","kid":"b","k":"AAECAwQFBgcICQoLDA0ODw"}]}"#;

fn open() -> FetchOptions {
    FetchOptions {
        allow_private_networks: true,
        ..FetchOptions::default()
    }
}

fn jwks_stub() -> HttpStub {
    HttpStub::start(|req, s| match req.path.as_str() {
        "/jwks"
            if req
                .head
                .to_ascii_lowercase()
                .contains("if-none-match: \"v1\"") =>
        {
            respond(s, "304 Not Modified", &["ETag: \"v1\""], b"");
        }
        "/jwks" => respond(
            s,
            "200 OK",
            &[
                "Content-Type: application/jwk-set+json",
                "ETag: \"v1\"",
                "Last-Modified: Mon, 23 Nov 2026 10:00:00 GMT",
            ],
            SET.as_bytes(),
        ),
        "/moved" => respond(s, "302 Found", &["Location: /jwks"], b""),
        "/loop" => respond(s, "302 Found", &["Location: /loop"], b""),
        "/html" => respond(
            s,
            "200 OK",
            &["Content-Type: text/html"],
            b"<html>hello</html>",
        ),
        _ => respond(s, "500 Internal Server Error", &[], b"oops"),
    })
}

#[test]
fn fetches_a_set_selects_by_kid_and_keeps_validators() {
    let stub = jwks_stub();
    let (jwk, fetched) = fetch_jwk(&stub.url("/jwks"), Some("b"), &open()).unwrap();
    assert_eq!(
        jwk.to_json(),
        r#"{"kty":"oct","k":"AAECAwQFBgcICQoLDA0ODw","kid":"b"}"#
    );
    assert_eq!(fetched.etag.as_deref(), Some("\"v1\""));
    assert_eq!(
        fetched.last_modified.as_deref(),
        Some("Mon, 23 Nov 2026 10:00:00 GMT")
    );
    assert_eq!(parse_set(&fetched).unwrap().keys().count(), 2);
    let e = fetch_jwk(&stub.url("/jwks"), None, &open()).unwrap_err();
    assert_eq!(e.code(), "jwks.kid_required");
    // Compression is not asked for.
    let head = stub.requests()[0].to_ascii_lowercase();
    assert!(!head.contains("accept-encoding"), "{head}");
}

#[test]
fn a_conditional_refresh_reports_not_modified() {
    let stub = jwks_stub();
    let opts = FetchOptions {
        if_none_match: Some("\"v1\"".to_owned()),
        ..open()
    };
    let fetched = fetch(&stub.url("/jwks"), &opts).unwrap();
    assert!(fetched.not_modified);
    assert!(fetched.body.is_empty());
}

#[test]
fn redirects_are_followed_and_capped() {
    let stub = jwks_stub();
    let (jwk, _) = fetch_jwk(&stub.url("/moved"), Some("a"), &open()).unwrap();
    assert_eq!(jwk.params().kid.as_deref(), Some("a"));
    let e = fetch(&stub.url("/loop"), &open()).unwrap_err();
    assert_eq!(e.code(), "fetch.too_many_redirects");
    assert_eq!(e.to_string(), "more than 5 redirects");
    assert!(stub.requests().len() <= 1 + 1 + 6, "bounded");
}

#[test]
fn status_and_content_errors() {
    let stub = jwks_stub();
    let e = fetch(&stub.url("/missing"), &open()).unwrap_err();
    assert_eq!(
        (e.code(), e.to_string()),
        (
            "fetch.http_status",
            "the server answered HTTP 500".to_owned()
        )
    );
    let e = fetch_jwk(&stub.url("/html"), None, &open()).unwrap_err();
    assert_eq!(e.code(), "fetch.not_a_jwk");
    assert_eq!(
        e.to_string(),
        "the response is not a JWK or JWK Set: invalid JSON: expected value at line 1 column 1"
    );
    let e = fetch("ftp://127.0.0.1/x", &open()).unwrap_err();
    assert_eq!(
        (e.code(), e.to_string()),
        (
            "fetch.bad_url",
            "invalid URL: the scheme must be http or https, not ftp".to_owned()
        )
    );
}

#[test]
fn content_length_over_the_limit_fails_before_the_body() {
    let stub = HttpStub::start(|_, s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2000000\r\n\r\n{\"keys\":[");
        std::thread::sleep(Duration::from_millis(300));
    });
    let started = Instant::now();
    let e = fetch(&stub.url("/"), &open()).unwrap_err();
    assert_eq!(
        (e.code(), e.to_string()),
        (
            "fetch.too_large",
            "the response is larger than the size limit of 1048576 bytes".to_owned()
        )
    );
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "did not wait for the body"
    );
}

#[test]
fn a_body_without_length_is_cut_at_the_limit() {
    let stub = HttpStub::start(|_, s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        let chunk = format!("{:x}\r\n{}\r\n", 8192, " ".repeat(8192));
        // At most 4 MiB, then stop: the client must give up at 64 KiB.
        for _ in 0..512 {
            if s.write_all(chunk.as_bytes()).is_err() {
                return;
            }
        }
    });
    let opts = FetchOptions {
        size_limit: 64 * 1024,
        ..open()
    };
    let e = fetch(&stub.url("/"), &opts).unwrap_err();
    assert_eq!(
        (e.code(), e.to_string()),
        (
            "fetch.too_large",
            "the response is larger than the size limit of 65536 bytes".to_owned()
        )
    );
}

#[test]
fn a_slow_drip_fails_at_the_read_timeout() {
    let stub = HttpStub::start(|_, s| {
        let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n");
        for _ in 0..20 {
            if s.write_all(b" ").is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    });
    let opts = FetchOptions {
        read_timeout: Duration::from_millis(800),
        ..open()
    };
    let started = Instant::now();
    let e = fetch(&stub.url("/"), &opts).unwrap_err();
    assert_eq!(
        (e.code(), e.to_string()),
        (
            "fetch.read_timeout",
            "the response did not arrive within the read timeout of 800 ms".to_owned()
        )
    );
    assert!(
        started.elapsed() < Duration::from_millis(2500),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn a_gzip_bomb_is_never_inflated() {
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(&vec![b' '; 20 << 20]).unwrap();
    let bomb = gz.finish().unwrap();
    assert!(bomb.len() < 64 * 1024);
    let stub = HttpStub::start(move |_, s| {
        respond(
            s,
            "200 OK",
            &["Content-Encoding: gzip", "Content-Type: application/json"],
            &bomb,
        );
    });
    let e = fetch(&stub.url("/"), &open()).unwrap_err();
    assert_eq!(e.code(), "fetch.not_a_jwk");
    assert_eq!(
        e.to_string(),
        "the response is not a JWK or JWK Set: the server sent a \"gzip\"-encoded body although no compression was asked for"
    );
}

#[test]
fn the_guard_refuses_loopback_by_ip_by_name_and_ipv6() {
    let stub = jwks_stub();
    let port = stub.port();
    for (url, host, addr) in [
        (
            format!("http://127.0.0.1:{port}/jwks"),
            "127.0.0.1",
            "127.0.0.1",
        ),
        (
            format!("http://localhost:{port}/jwks"),
            "localhost",
            "127.0.0.1",
        ),
        (format!("http://[::1]:{port}/jwks"), "[::1]", "::1"),
    ] {
        let e = fetch(&url, &FetchOptions::default()).unwrap_err();
        assert_eq!(e.code(), "fetch.blocked_address", "{url}");
        let FetchError::BlockedAddress {
            host: h,
            addr: a,
            reason,
        } = &e
        else {
            panic!("{e}")
        };
        assert_eq!(
            h.trim_matches(['[', ']']),
            host.trim_matches(['[', ']']),
            "{url}"
        );
        if host != "localhost" {
            assert_eq!(a.to_string(), addr);
        }
        assert_eq!(*reason, "loopback");
        assert!(
            e.to_string().starts_with(&format!(
                "refused to connect to {h} (it resolves to a loopback address): "
            )),
            "{e}"
        );
        if host == "localhost" {
            assert!(
                !e.to_string().contains(addr),
                "the address is not echoed: {e}"
            );
        }
    }
    assert!(stub.requests().is_empty(), "nothing reached the server");
}

#[test]
fn the_guard_checks_every_redirect_hop() {
    // 127.0.0.1 is allowed explicitly; the redirect goes to 127.0.0.2 (loopback too), which is not.
    let target = HttpStub::start_on("127.0.0.2:0", |_, s| {
        respond(s, "200 OK", &[], SET.as_bytes())
    });
    let location = format!("Location: http://127.0.0.2:{}/jwks", target.port());
    let first = HttpStub::start(move |_, s| respond(s, "302 Found", &[location.as_str()], b""));
    let opts = FetchOptions {
        allowed_addresses: vec!["127.0.0.1".parse().unwrap()],
        ..FetchOptions::default()
    };
    let e = fetch(&first.url("/"), &opts).unwrap_err();
    assert_eq!(e.code(), "fetch.blocked_address");
    assert_eq!(
        e.to_string(),
        "refused to connect to 127.0.0.2 (it resolves to a loopback address): URL sources and webhooks may only reach public addresses unless private networks are allowed (--allow-private-networks in jwk and jwkd, FetchOptions::allow_private_networks in the library)"
    );
    assert_eq!(first.requests().len(), 1);
    assert!(
        target.requests().is_empty(),
        "the redirect target was never contacted"
    );
}
