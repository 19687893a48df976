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
