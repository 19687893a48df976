//! base64url (JWK members) and standard base64 (`x5c`) with errors that never echo the value.

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Encodes bytes as base64url without padding.
pub fn encode_url(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

/// Encodes bytes as standard base64 with padding (the `x5c` alphabet).
pub fn encode_std(bytes: &[u8]) -> String {
    Base64::encode_string(bytes)
}

/// Decodes a JWK member written in base64url without padding.
pub(crate) fn decode_url(member: &str, value: &str) -> Result<Vec<u8>> {
    Base64UrlUnpadded::decode_vec(value).map_err(|_| Error::BadBase64 {
        member: member.to_owned(),
        detail: describe(value),
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
fn describe(value: &str) -> String {
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
