//! Shared test helpers: the `openssl` CLI, temporary directories and the public test vectors.
//!
//! Test-only code: functions panic with a clear message when the environment is broken
//! (no `openssl`, unreadable vectors), because a test cannot go on without them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64ct::{Base64, Base64UrlUnpadded, Encoding};

pub mod conformance;
pub mod crash;
pub mod pkcs12_build;
pub mod postgres;
pub mod registry;

pub use tempfile::TempDir;

/// The workspace root (where the top-level Cargo.toml is).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("jwk-testkit lives in crates/jwk-testkit")
        .to_path_buf()
}

/// The repository's `testdata` directory (fixtures and public test vectors, with provenance).
pub fn testdata() -> PathBuf {
    workspace_root().join("testdata")
}

/// Loads a JSON file of `testdata/vectors` (RFC examples and Wycheproof keys).
pub fn vectors(name: &str) -> serde_json::Value {
    try_vectors(name).unwrap_or_else(|e| panic!("{e}"))
}

/// [`vectors`] as a result, for callers that must not panic (property tests, which would
/// print a panic per shrinking step).
pub fn try_vectors(name: &str) -> Result<serde_json::Value, String> {
    let path = testdata().join("vectors").join(name);
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

/// A fresh temporary directory, removed on drop.
pub fn temp_dir() -> TempDir {
    tempfile::tempdir().expect("cannot create a temporary directory")
}

/// Runs `openssl` with `args` in `dir`; panics with its stderr when it fails.
pub fn openssl(dir: &Path, args: &[&str]) -> Vec<u8> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .expect("the openssl command is needed by this test (apt-get install openssl)");
    assert!(
        out.status.success(),
        "openssl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Makes `NAME.key` with `openssl genpkey GENPKEY_ARGS` and its SubjectPublicKeyInfo
/// `NAME.pub` in `dir`.
pub fn openssl_key_pair(dir: &Path, name: &str, genpkey_args: &[&str]) {
    let key = format!("{name}.key");
    openssl(
        dir,
        &[&["genpkey"][..], genpkey_args, &["-out", &key]].concat(),
    );
    openssl(
        dir,
        &[
            "pkey",
            "-in",
            &key,
            "-pubout",
            "-out",
            &format!("{name}.pub"),
        ],
    );
}

/// Makes `NAME.crt`, a self-signed certificate for `NAME.key` with subject `subject`, valid
/// two days.
pub fn openssl_self_signed(dir: &Path, name: &str, subject: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            &format!("{name}.key"),
            "-subj",
            subject,
            "-days",
            "2",
            "-out",
            &format!("{name}.crt"),
        ],
    );
}

/// Makes a throw-away CA (`ca.key`, `ca.pem`, `ca.der`) and a server certificate it signs
/// (`srv.key`, `srv.pem`) for the subjectAltName `san` (e.g. `DNS:localhost`,
/// `IP:127.0.0.1`), valid two days.
pub fn openssl_ca_and_server(dir: &Path, san: &str) {
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            "ca.key",
            "-subj",
            "/CN=jwk test CA",
            "-days",
            "2",
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        dir,
        &["x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der"],
    );
    openssl_server_cert(dir, "srv", san);
}

/// Makes `NAME.key` and `NAME.pem`, a server certificate for the subjectAltName `san` signed
/// by the CA of [`openssl_ca_and_server`] in `dir`, valid two days.
pub fn openssl_server_cert(dir: &Path, name: &str, san: &str) {
    let (key, csr, ext, pem) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.ext"),
        format!("{name}.pem"),
    );
    openssl(
        dir,
        &[
            "req",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-subj",
            &format!("/CN={name}"),
            "-out",
            &csr,
        ],
    );
    std::fs::write(
        dir.join(&ext),
        format!("subjectAltName={san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"),
    )
    .expect("write the extensions file");
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-extfile",
            &ext,
            "-out",
            &pem,
        ],
    );
}

/// Runs `openssl` and says whether it succeeded (for features a build may lack).
pub fn openssl_ok(dir: &Path, args: &[&str]) -> bool {
    Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Reads a file of `dir`.
pub fn read(dir: &Path, name: &str) -> Vec<u8> {
    std::fs::read(dir.join(name)).unwrap_or_else(|e| panic!("cannot read {name}: {e}"))
}

/// base64url without padding.
pub fn b64url(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Decodes base64url without padding (panics on anything else: test input).
pub fn b64url_decode(text: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(text).expect("base64url")
}

/// Standard base64 with padding.
pub fn b64std(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
}

/// Decodes standard base64 with padding (panics on anything else: test input).
pub fn b64std_decode(text: &str) -> Vec<u8> {
    Base64::decode_vec(text).expect("standard base64")
}

/// The hex fields of `openssl pkey -text -noout` (`modulus`, `priv`, `pub`, ...), as bytes,
/// plus `publicExponent` as big-endian bytes. An independent view of a key's numbers.
pub fn openssl_key_fields(text: &str) -> Vec<(String, Vec<u8>)> {
    let mut fields: Vec<(String, Vec<u8>)> = Vec::new();
    let mut current: Option<(String, String)> = None;
    let flush = |cur: &mut Option<(String, String)>, fields: &mut Vec<(String, Vec<u8>)>| {
        if let Some((name, hex)) = cur.take() {
            let bytes = (0..hex.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
                .collect();
            fields.push((name, bytes));
        }
    };
    for line in text.lines() {
        let trimmed = line.trim();
        let is_hex =
            !trimmed.is_empty() && trimmed.chars().all(|c| c.is_ascii_hexdigit() || c == ':');
        if line.starts_with(' ') && is_hex && current.is_some() {
            if let Some((_, hex)) = current.as_mut() {
                hex.extend(trimmed.chars().filter(|c| *c != ':'));
            }
            continue;
        }
        flush(&mut current, &mut fields);
        if let Some(rest) = trimmed
            .strip_prefix("publicExponent:")
            .or_else(|| trimmed.strip_prefix("Exponent:"))
        {
            let value: u64 = rest
                .split_whitespace()
                .next()
                .and_then(|v| v.parse().ok())
                .expect("decimal exponent");
            let bytes = value.to_be_bytes();
            let first = bytes.iter().position(|b| *b != 0).unwrap_or(7);
            fields.push(("publicExponent".to_owned(), bytes[first..].to_vec()));
        } else if let Some(name) = trimmed.strip_suffix(':')
            && !name.contains(' ')
        {
            current = Some((name.to_owned(), String::new()));
        }
    }
    flush(&mut current, &mut fields);
    fields
}

/// One field of [`openssl_key_fields`] output, leading zero bytes removed when `strip`.
pub fn field(fields: &[(String, Vec<u8>)], name: &str, strip: bool) -> Vec<u8> {
    let bytes = fields
        .iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("openssl -text has no field {name}: {fields:?}"))
        .1
        .clone();
    if strip {
        let first = bytes
            .iter()
            .position(|b| *b != 0)
            .unwrap_or(bytes.len() - 1);
        bytes[first..].to_vec()
    } else {
        bytes
    }
}

/// A tiny HTTP/1.1 server on 127.0.0.1 for fetch tests: each connection is handed to the
/// handler with the request path and head; the handler writes the raw response. It stops
/// accepting when dropped. Loopback only; every test bounds its own traffic.
pub struct HttpStub {
    addr: std::net::SocketAddr,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    requests: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// What a stub handler gets: the path and the whole request head.
pub struct StubRequest {
    /// The request target, e.g. `/jwks`.
    pub path: String,
    /// The request head, lower-cased header names included as sent.
    pub head: String,
}

impl HttpStub {
    /// Starts a stub on 127.0.0.1 (or `bind`, e.g. "127.0.0.2:0") with `handler`.
    pub fn start_on<F>(bind: &str, handler: F) -> HttpStub
    where
        F: Fn(&StubRequest, &mut std::net::TcpStream) + Send + Sync + 'static,
    {
        use std::io::Read;
        use std::sync::atomic::Ordering;
        let listener = std::net::TcpListener::bind(bind).expect("bind a loopback port");
        let addr = listener.local_addr().expect("local address");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let requests = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let handler = std::sync::Arc::new(handler);
        let (stop2, requests2) = (stop.clone(), requests.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(mut stream) = stream else { continue };
                let handler = handler.clone();
                let requests = requests2.clone();
                std::thread::spawn(move || {
                    let _ = stream.set_read_timeout(Some(std::time::Duration::from_secs(5)));
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
                        match stream.read(&mut byte) {
                            Ok(1) => head.push(byte[0]),
                            _ => return,
                        }
                    }
                    let head = String::from_utf8_lossy(&head).into_owned();
                    let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
                    requests.lock().unwrap().push(head.clone());
                    handler(&StubRequest { path, head }, &mut stream);
                });
            }
        });
        HttpStub {
            addr,
            stop,
            requests,
        }
    }

    /// Starts a stub on 127.0.0.1 with an ephemeral port.
    pub fn start<F>(handler: F) -> HttpStub
    where
        F: Fn(&StubRequest, &mut std::net::TcpStream) + Send + Sync + 'static,
    {
        Self::start_on("127.0.0.1:0", handler)
    }

    /// `http://127.0.0.1:PORT` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// The port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The heads of the requests received so far.
    pub fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for HttpStub {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = std::net::TcpStream::connect(self.addr);
    }
}

/// Writes a complete response with a body and extra header lines.
pub fn respond(stream: &mut std::net::TcpStream, status: &str, headers: &[&str], body: &[u8]) {
    use std::io::Write;
    let mut head = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
}
