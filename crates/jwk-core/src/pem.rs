//! A lenient PEM scanner: any number of blocks, any text around them, RFC 1421 headers.
//!
//! Written here because the crates do not fit: pem-rfc7468 is strict (no text around blocks,
//! no headers) and x509-parser's scanner drops encapsulated headers, which the traditional
//! OpenSSL encryption (`Proc-Type` / `DEK-Info`) needs, and truncates labels at '-'.

use base64ct::{Base64, Base64Unpadded, Encoding};
use zeroize::Zeroizing;

/// One `-----BEGIN X-----` … `-----END X-----` block.
pub(crate) struct PemBlock<'a> {
    /// The label (`CERTIFICATE`, `PRIVATE KEY`, …).
    pub label: &'a str,
    /// Encapsulated headers (`Proc-Type`, `DEK-Info`), in order.
    pub headers: Vec<(&'a str, &'a str)>,
    /// The decoded body, or why it could not be decoded.
    pub body: Result<Zeroizing<Vec<u8>>, String>,
}

impl PemBlock<'_> {
    /// The value of a header, by case-insensitive name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// True when the bytes contain a PEM begin line.
pub(crate) fn looks_like_pem(input: &[u8]) -> bool {
    input.windows(11).any(|w| w == b"-----BEGIN ")
}

fn begin_label(line: &str) -> Option<&str> {
    line.strip_prefix("-----BEGIN ")?.strip_suffix("-----")
}

fn end_label(line: &str) -> Option<&str> {
    line.strip_prefix("-----END ")?.strip_suffix("-----")
}

/// Scans every block. Lines that are not valid UTF-8 outside blocks are skipped.
pub(crate) fn blocks(input: &[u8]) -> Vec<PemBlock<'_>> {
    let mut out = Vec::new();
    let mut lines = input
        .split(|&b| b == b'\n')
        .map(|l| std::str::from_utf8(l).map(str::trim));
    while let Some(line) = lines.next() {
        let Some(label) = line.ok().and_then(begin_label) else {
            continue;
        };
        let mut headers = Vec::new();
        let mut b64 = Zeroizing::new(String::new());
        let mut error = None;
        let mut ended = false;
        let mut in_headers = true;
        for line in lines.by_ref() {
            let Ok(line) = line else {
                error.get_or_insert_with(|| "a line is not valid text".to_owned());
                continue;
            };
            if let Some(end) = end_label(line) {
                if end != label {
                    error.get_or_insert_with(|| format!("it ends with \"-----END {end}-----\""));
                }
                ended = true;
                break;
            }
            if in_headers {
                if let Some((name, value)) = line.split_once(':') {
                    headers.push((name.trim(), value.trim()));
                    continue;
                }
                in_headers = false;
                if line.is_empty() {
                    continue;
                }
            }
            b64.extend(line.chars().filter(|c| !c.is_whitespace()));
        }
        let body = match (error, ended) {
            (_, false) => Err(format!("no \"-----END {label}-----\" line")),
            (Some(e), true) => Err(e),
            (None, true) => Base64::decode_vec(&b64)
                .or_else(|_| Base64Unpadded::decode_vec(&b64))
                .map(Zeroizing::new)
                .map_err(|_| "its body is not valid base64".to_owned()),
        };
        out.push(PemBlock {
            label,
            headers,
            body,
        });
    }
    // Most inputs hold one block: do not keep room for four while the key is built.
    out.shrink_to_fit();
    out
}
