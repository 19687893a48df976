//! base64url (JWK members) and standard base64 (`x5c`) with errors that never echo the value.

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Encodes bytes as base64url without padding.
pub fn encode_url(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Appends base64 of `bytes` to `out` without a temporary string: whole 3-byte groups go
/// through a stack buffer (no padding can occur inside), so a large `x5c` costs only its
/// own output.
pub(crate) fn push_encoded<E: Encoding>(out: &mut String, bytes: &[u8]) {
    const SMALL: usize = 96; // a multiple of 3: key members, digests
    const CHUNK: usize = 768; // a multiple of 3
    if bytes.len() <= SMALL {
        let mut buf = [0u8; SMALL / 3 * 4];
        match E::encode(bytes, &mut buf) {
            Ok(text) => out.push_str(text),
            Err(_) => out.push_str(&E::encode_string(bytes)),
        }
        return;
    }
    let mut buf = [0u8; CHUNK / 3 * 4];
    for chunk in bytes.chunks(CHUNK) {
        match E::encode(chunk, &mut buf) {
            Ok(text) => out.push_str(text),
            // Unreachable: the buffer fits a whole chunk; fall back to allocating.
            Err(_) => out.push_str(&E::encode_string(chunk)),
        }
    }
}

/// Appends base64url without padding (JWK members).
pub(crate) fn push_url(out: &mut String, bytes: &[u8]) {
    push_encoded::<Base64UrlUnpadded>(out, bytes);
}

/// Appends standard base64 with padding (`x5c`).
pub(crate) fn push_std(out: &mut String, bytes: &[u8]) {
    push_encoded::<Base64>(out, bytes);
}

/// Decodes a JWK member written in base64url without padding.
pub(crate) fn decode_url(member: &str, value: &str) -> Result<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(value).map_err(|_| Error::BadBase64 {
        member: member.to_owned(),
        detail: why_not_base64url(value),
    })
}

/// Like [`decode_url`], for secret members: the decoded bytes are wiped on drop.
pub(crate) fn decode_url_secret(member: &str, value: &str) -> Result<Zeroizing<Vec<u8>>> {
    decode_url(member, value).map(Zeroizing::new)
}

/// Decodes standard base64 (with padding), as used by `x5c`.
pub(crate) fn decode_std(value: &str) -> Option<Vec<u8>> {
    Base64::decode_vec(value).ok()
}

/// Says why a base64url text is wrong, without quoting it.
fn why_not_base64url(value: &str) -> String {
    if value.ends_with('=') {
        return "it ends with '=' padding, which base64url in JWKs must not have".to_owned();
    }
    if value.contains('+') || value.contains('/') {
        return "it contains '+' or '/', which belong to standard base64, not base64url".to_owned();
    }
    if value.chars().any(char::is_whitespace) {
        return "it contains white space".to_owned();
    }
    if let Some(pos) = value
        .chars()
        .position(|c| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
    {
        return format!("character {} is not in the base64url alphabet", pos + 1);
    }
    if value.len() % 4 == 1 {
        return format!("a length of {} characters is impossible", value.len());
    }
    "its last character has bits set that encode nothing (non-canonical encoding)".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streaming_encoders_match_the_one_shot_ones() {
        for len in [
            0, 1, 2, 3, 4, 95, 96, 97, 767, 768, 769, 1535, 1536, 1537, 5000,
        ] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 + 3) as u8).collect();
            let (mut url, mut std) = (String::new(), String::new());
            push_url(&mut url, &bytes);
            push_std(&mut std, &bytes);
            assert_eq!(url, encode_url(&bytes), "url, {len} bytes");
            assert_eq!(std, Base64::encode_string(&bytes), "std, {len} bytes");
        }
    }
}
