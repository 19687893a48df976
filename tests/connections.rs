//! Connections are bounded: a client that sends no request head, or only part of one, is
//! closed after the header timeout; idle keep-alive connections too; at most
//! --max-connections are open at once, and the server keeps answering behind them.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Stdio;
use std::time::Duration;

use common::{Server, bootstrap};

fn connect(s: &Server) -> TcpStream {
    let addr = s.base.strip_prefix("http://").unwrap();
    let stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    stream
}

/// Reads until the server closes the connection; what it sent.
fn until_closed(mut stream: TcpStream) -> String {
    let mut out = Vec::new();
    let mut buf = [0u8; 1024];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the server did not close the connection: {e}"),
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn silent_slow_and_idle_connections_are_closed_and_others_are_served() {
    let dir = jwk_testkit::temp_dir();
    let admin = bootstrap(dir.path());
    let s = Server::start_with(
        dir.path(),
        &["--header-timeout-secs", "1", "--max-connections", "8"],
        Stdio::null(),
    );
    // Fill every slot: four silent connections, four that send half a request head.
    let silent: Vec<TcpStream> = (0..4).map(|_| connect(&s)).collect();
    let slow: Vec<TcpStream> = (0..4)
        .map(|_| {
            let mut c = connect(&s);
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                .unwrap();
            c
        })
        .collect();
    // A ninth client waits in the backlog until the timeout frees a slot, then is served.
    let (status, _) = s.call("GET", "/healthz", None, None);
    assert_eq!(status, 200);
    let (status, _) = s.call("GET", "/apiops/projects/admin/jwks/", Some(&admin), None);
    assert_eq!(status, 200);
    // Each of the eight was closed by the server, the slow ones with a 408 at most.
    for c in silent {
        assert_eq!(until_closed(c), "");
    }
    for c in slow {
        let answer = until_closed(c);
        assert!(
            answer.is_empty() || answer.starts_with("HTTP/1.1 408"),
            "{answer}"
        );
    }
    // A keep-alive connection that sends nothing more is closed too.
    let mut kept = connect(&s);
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let answer = until_closed(kept);
    assert!(answer.starts_with("HTTP/1.1 200 OK"), "{answer}");
    assert!(answer.ends_with(r#"{"status":"ok"}"#), "{answer}");
}

/// Sends `head` (a whole request head) on a new connection; the server's whole answer.
fn raw(s: &Server, head: &str) -> String {
    let mut c = connect(s);
    c.write_all(head.as_bytes()).unwrap();
    until_closed(c)
}

/// The status line and the body of an answer.
fn status_and_body(answer: &str) -> (&str, &str) {
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((answer, ""));
    (head.lines().next().unwrap_or_default(), body)
}

#[test]
fn oversized_request_heads_are_refused_in_the_product_shape() {
    let dir = jwk_testkit::temp_dir();
    bootstrap(dir.path());
    let s = Server::start_with(dir.path(), &[], Stdio::null());
    let long_path = format!("/apiops/projects/{}/jwks/", "p".repeat(8 * 1024));
    assert_eq!(
        status_and_body(&raw(
            &s,
            &format!("GET {long_path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        )),
        (
            "HTTP/1.1 414 URI Too Long",
            r#"{"error":"uri_too_long","error_description":"The request target is longer than 8192 bytes!"}"#
        )
    );
    let too_large = (
        "HTTP/1.1 431 Request Header Fields Too Large",
        r#"{"error":"request_header_fields_too_large","error_description":"The request headers are larger than 16384 bytes or more than 100 fields!"}"#,
    );
    let many: String = (0..120).map(|i| format!("X-Field-{i}: {i}\r\n")).collect();
    assert_eq!(
        status_and_body(&raw(
            &s,
            &format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{many}Connection: close\r\n\r\n")
        )),
        too_large
    );
    let big = format!("X-Big: {}\r\n", "b".repeat(20 * 1024));
    assert_eq!(
        status_and_body(&raw(
            &s,
            &format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{big}Connection: close\r\n\r\n")
        )),
        too_large
    );
    // Just under every bound is served.
    let path = format!("/healthz?{}", "q".repeat(8 * 1024 - 9));
    let answer = raw(
        &s,
        &format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
    );
    assert_eq!(
        status_and_body(&answer),
        ("HTTP/1.1 200 OK", r#"{"status":"ok"}"#)
    );
    // A head beyond what a connection buffers is cut off by the HTTP layer itself.
    let huge = format!("X-Huge: {}\r\n", "h".repeat(100 * 1024));
    let answer = raw(
        &s,
        &format!("GET /healthz HTTP/1.1\r\nHost: x\r\n{huge}\r\n"),
    );
    assert!(
        answer.starts_with("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
        "{answer}"
    );
    // The server keeps answering.
    assert_eq!(s.call("GET", "/healthz", None, None).0, 200);
}
