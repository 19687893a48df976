//! Builds PKCS#12 structures from RFC 7292's ASN.1, for what OpenSSL does not write: nested
//! SafeContents, a MAC made with OpenSSL's absent password, segmented encrypted content,
//! other integrity modes, and hostile keystores of many bags.

use der::Encode;
use der::asn1::ObjectIdentifier;
use hmac::{KeyInit, Mac, SimpleHmac};
use sha2::Sha256;

/// Content types and the PBMAC1 OID the tests name.
pub const DATA: &str = "1.2.840.113549.1.7.1";
pub const SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
pub const ENVELOPED_DATA: &str = "1.2.840.113549.1.7.3";
const ENCRYPTED_DATA: &str = "1.2.840.113549.1.7.6";
const KEY_BAG: &str = "1.2.840.113549.1.12.10.1.1";
const CERT_BAG: &str = "1.2.840.113549.1.12.10.1.3";
const SAFE_CONTENTS_BAG: &str = "1.2.840.113549.1.12.10.1.6";
const X509: &str = "1.2.840.113549.1.9.22.1";
const FRIENDLY_NAME: &str = "1.2.840.113549.1.9.20";
const LOCAL_KEY_ID: &str = "1.2.840.113549.1.9.21";
const SHA256: &str = "2.16.840.1.101.3.4.2.1";
pub const PBMAC1: &str = "1.2.840.113549.1.5.14";

/// One DER TLV (short or long length form).
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let first = bytes.iter().position(|b| *b != 0).unwrap();
        out.push(0x80 | (bytes.len() - first) as u8);
        out.extend_from_slice(&bytes[first..]);
    }
    out.extend_from_slice(content);
    out
}

/// A SEQUENCE of already-encoded parts.
pub fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(0x30, &parts.concat())
}

/// An OBJECT IDENTIFIER from its dotted form.
pub fn oid(dotted: &str) -> Vec<u8> {
    ObjectIdentifier::new(dotted).unwrap().to_der().unwrap()
}

fn explicit0(inner: &[u8]) -> Vec<u8> {
    tlv(0xA0, inner)
}

fn octets(bytes: &[u8]) -> Vec<u8> {
    tlv(0x04, bytes)
}

fn attribute(id: &str, value: &[u8]) -> Vec<u8> {
    seq(&[&oid(id), &tlv(0x31, value)])
}

/// A key bag (an unencrypted PKCS#8 key) with a friendlyName and a localKeyId.
pub fn key_bag(pkcs8: &[u8], alias: &str, id: &[u8]) -> Vec<u8> {
    let name: Vec<u8> = alias.encode_utf16().flat_map(u16::to_be_bytes).collect();
    let attrs = [
        attribute(FRIENDLY_NAME, &tlv(0x1E, &name)),
        attribute(LOCAL_KEY_ID, &octets(id)),
    ]
    .concat();
    seq(&[&oid(KEY_BAG), &explicit0(pkcs8), &tlv(0x31, &attrs)])
}

/// An X.509 certificate bag with a localKeyId.
pub fn cert_bag(cert: &[u8], id: &[u8]) -> Vec<u8> {
    let value = seq(&[&oid(X509), &explicit0(&octets(cert))]);
    let attrs = attribute(LOCAL_KEY_ID, &octets(id));
    seq(&[&oid(CERT_BAG), &explicit0(&value), &tlv(0x31, &attrs)])
}

/// A safeContentsBag holding `bags`.
pub fn nested(bags: &[&[u8]]) -> Vec<u8> {
    seq(&[&oid(SAFE_CONTENTS_BAG), &explicit0(&seq(bags))])
}

/// A PFX whose AuthenticatedSafe is one unencrypted SafeContents of `bags`, with a
/// SHA-256 MAC keyed by `mac_password` (the PKCS#12 KDF's bytes) when given.
pub fn pfx(bags: &[&[u8]], mac_password: Option<&[u8]>) -> Vec<u8> {
    let safe_contents = seq(bags);
    let auth_safe = seq(&[&seq(&[&oid(DATA), &explicit0(&octets(&safe_contents))])]);
    with_auth_safe(
        DATA,
        &octets(&auth_safe),
        mac_password.map(|p| mac(p, &auth_safe)),
    )
}

/// A PFX without a MAC whose AuthenticatedSafe holds `plain` unencrypted and `secret`
/// encrypted with PBES2 (PBKDF2-SHA-256, AES-256-CBC) under `password`; with `segmented`
/// the ciphertext is in the constructed form (two OCTET STRING segments).
pub fn pfx_encrypted(
    plain: &[&[u8]],
    secret: &[&[u8]],
    password: &str,
    segmented: bool,
) -> Vec<u8> {
    let params =
        pkcs5::pbes2::Parameters::generate_pbkdf2_sha256_aes256cbc(2048, &[3; 16], [4; 16])
            .unwrap();
    let ciphertext = params.encrypt(password, &seq(secret)).unwrap();
    let algorithm = seq(&[&oid("1.2.840.113549.1.5.13"), &params.to_der().unwrap()]);
    let content = if segmented {
        let (a, b) = ciphertext.split_at(ciphertext.len() / 2);
        tlv(0xA0, &[octets(a), octets(b)].concat())
    } else {
        tlv(0x80, &ciphertext)
    };
    let encrypted_data = seq(&[&[2, 1, 0], &seq(&[&oid(DATA), &algorithm, &content])]);
    let auth_safe = seq(&[
        &seq(&[&oid(DATA), &explicit0(&octets(&seq(plain)))]),
        &seq(&[&oid(ENCRYPTED_DATA), &explicit0(&encrypted_data)]),
    ]);
    with_auth_safe(DATA, &octets(&auth_safe), None)
}

/// A PFX from its parts: the authSafe's content type and `[0]` content, and MacData.
pub fn with_auth_safe(content_type: &str, content: &[u8], mac: Option<Vec<u8>>) -> Vec<u8> {
    let info = seq(&[&oid(content_type), &explicit0(content)]);
    seq(&[&[2, 1, 3], &info, &mac.unwrap_or_default()])
}

/// MacData: HMAC-SHA-256 over `data` with the PKCS#12 KDF's key (2048 rounds).
pub fn mac(password: &[u8], data: &[u8]) -> Vec<u8> {
    let salt = [7u8; 8];
    let key = pkcs12::kdf::derive_key::<Sha256>(
        password,
        &salt,
        pkcs12::kdf::Pkcs12KeyType::Mac,
        2048,
        32,
    );
    let mut hmac = <SimpleHmac<Sha256> as KeyInit>::new_from_slice(&key).unwrap();
    hmac.update(data);
    let digest = hmac.finalize().into_bytes();
    mac_data(&oid(SHA256), &digest, &salt)
}

/// MacData with the given digest AlgorithmIdentifier's OID encoding.
pub fn mac_data(algorithm_oid: &[u8], digest: &[u8], salt: &[u8]) -> Vec<u8> {
    let algorithm = seq(&[algorithm_oid, &[5, 0]]);
    seq(&[
        &seq(&[&algorithm, &octets(digest)]),
        &octets(salt),
        &[2, 2, 8, 0],
    ])
}
