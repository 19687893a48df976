//! Shared test helpers: the `openssl` CLI, temporary directories and the shared test vectors.
//!
//! Test-only code: functions panic with a clear message when the environment is broken
//! (no `openssl`, unreadable vectors), because a test cannot go on without them.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64ct::{Base64, Base64UrlUnpadded, Encoding};

pub use tempfile::TempDir;

/// The workspace root (where the top-level Cargo.toml is).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("jwk-testkit lives in crates/jwk-testkit")
        .to_path_buf()
}

/// `../shared/testdata` next to the workspace (the public test vectors).
pub fn shared_testdata() -> PathBuf {
    workspace_root().join("../shared/testdata")
}

/// Loads a JSON file of `../shared/testdata`.
pub fn shared_vectors(name: &str) -> serde_json::Value {
    let path = shared_testdata().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
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

/// Standard base64 with padding.
pub fn b64std(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
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
