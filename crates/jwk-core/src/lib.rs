//! jwk-core: every common key format in, canonical JSON Web Key out.
//!
//! Pure conversion: no I/O, no async, no global state. [`import`] takes the bytes of a PEM
//! file, a DER blob or a JWK / JWK Set and returns a checked [`Jwk`]; [`Jwk::to_json`] writes
//! its canonical JSON and [`Jwk::thumbprint`] its RFC 7638 thumbprint.
//!
//! ```
//! use jwk_core::{import, ImportOptions, ThumbprintHash};
//!
//! let pem = b"-----BEGIN PUBLIC KEY-----
//! MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=
//! -----END PUBLIC KEY-----";
//! let jwk = import(pem, &ImportOptions::default()).unwrap();
//! assert_eq!(
//!     jwk.to_json(),
//!     r#"{"kty":"OKP","crv":"Ed25519","x":"Gb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE"}"#
//! );
//! assert_eq!(jwk.thumbprint(ThumbprintHash::Sha256), "3YZxBJ12jO3n_mXt_q-j_Z-TFP1vt-NiI3OCf-fEnHQ");
//! ```

mod b64;
mod ber;
mod der;
mod detect;
mod ecparams;
mod encrypted;
mod error;
mod generate;
mod jks;
mod json;
mod jwk;
mod key;
mod keystore;
mod pem;
mod pkcs12;
mod policy;
mod secret;
mod x5c;

pub use encrypted::KdfLimits;
pub use error::{Error, Result};
pub use generate::{GenerateOptions, KeySpec, KidType, check_generate_options, generate};
pub use json::{JwkSet, MAX_SET_KEYS, SetEntry};
pub use jwk::{Jwk, KeyUse, Parameters, ThumbprintHash};
pub use key::{
    EcCurve, EcKey, Key, KeyType, OctKey, OkpCurve, OkpKey, PssHash, RsaKey, RsaPrivate,
};
pub use keystore::KeystoreEntry;
pub use policy::{Usage, check_algorithm, valid_algorithms};
pub use secret::Secret;
pub use x5c::CertificateInfo;

use detect::DerKind;
use zeroize::Zeroizing;

/// Options for [`import`]. `Default` gives no password, no alias, no kid and the default
/// [`KdfLimits`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ImportOptions<'a> {
    /// Password of an encrypted private key (or PKCS#12 keystore).
    pub password: Option<&'a str>,
    /// Alias (friendlyName) of the key in a PKCS#12 keystore.
    pub alias: Option<&'a str>,
    /// For a JWK Set, or a JWK that has a kid: the kid of the key to select. For any other
    /// input (a JWK without kid, PEM, DER): the kid to set.
    pub kid: Option<&'a str>,
    /// Caps on what an encrypted key may make the KDF do.
    pub kdf_limits: KdfLimits,
}

/// Turns a PEM document, a DER blob or a JWK / JWK Set into one checked JWK.
///
/// PEM: the first block that holds a key or certificate wins; blocks with other labels and
/// blocks whose base64 or DER is broken are skipped. A wrong or missing password is an
/// error at once. JSON: a JWK, a JWK Set or an array of JWKs, selected by `kid`.
pub fn import(input: &[u8], opts: &ImportOptions<'_>) -> Result<Jwk> {
    let input = input.strip_prefix(b"\xef\xbb\xbf").unwrap_or(input);
    let start = input
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .ok_or(Error::EmptyInput)?;
    let trimmed = &input[start..];
    if matches!(trimmed[0], b'{' | b'[') {
        let selected = std::str::from_utf8(trimmed)
            .map_err(|e| Error::InvalidJson {
                detail: format!("the text is not UTF-8 ({e})"),
            })
            .and_then(|text| json::select_from_text(text, opts.kid));
        return match selected {
            // Not JSON after all, but text around a PEM block (`[ req ]`, `{comment}` …):
            // read the PEM. When it holds no key either, the JSON error (with its position)
            // is the one that helps.
            Err(json_error @ Error::InvalidJson { .. }) if pem::looks_like_pem(trimmed) => {
                match import_pem(trimmed, opts) {
                    Err(Error::PemNoKey { .. }) => Err(json_error),
                    Ok(jwk) => Ok(with_kid(jwk, opts.kid)),
                    Err(pem_error) => Err(pem_error),
                }
            }
            other => other,
        };
    }
    let jwk = if pem::looks_like_pem(trimmed) {
        import_pem(trimmed, opts)?
    } else if let Some(kind) = detect::classify(input) {
        import_der(kind, input, opts)?
    } else if let Some(der) = bare_base64(trimmed) {
        match detect::classify(&der) {
            Some(kind) => import_der(kind, &der, opts)?,
            None => return Err(Error::UnrecognizedInput),
        }
    } else {
        return Err(Error::UnrecognizedInput);
    };
    Ok(with_kid(jwk, opts.kid))
}

/// A key read from PEM or DER, with the kid the caller gave.
fn with_kid(mut jwk: Jwk, kid: Option<&str>) -> Jwk {
    if let Some(kid) = kid {
        jwk.params_mut().kid = Some(kid.to_owned());
    }
    jwk
}

/// Lists the entries of a keystore (PKCS#12, in DER or BER, or Java JKS; DER or its bare
/// base64): private and secret keys first, then certificates without a key. Without a
/// password the keystore is tried with the empty one (as keytool and OpenSSL write them);
/// when that fails the error is [`Error::KeystorePasswordRequired`]. Input that is not a keystore is
/// [`Error::NotAKeystore`], saying what it looks like.
pub fn keystore_entries(
    keystore: &[u8],
    password: Option<&str>,
    limits: &KdfLimits,
) -> Result<Vec<KeystoreEntry>> {
    let trimmed = keystore.trim_ascii();
    let decoded;
    let (kind, der, encoding) = match detect::classify(keystore) {
        Some(kind) => (kind, keystore, ""),
        None => {
            let unknown = || not_a_keystore(what_it_looks_like(trimmed));
            decoded = bare_base64(trimmed).ok_or_else(unknown)?;
            (
                detect::classify(&decoded).ok_or_else(unknown)?,
                &decoded[..],
                "base64 of ",
            )
        }
    };
    if !matches!(kind, DerKind::Pkcs12 | DerKind::Jks) {
        return Err(not_a_keystore(format!("{encoding}{}", der_kind_name(kind))));
    }
    let tried = password.unwrap_or("");
    let result = if kind == DerKind::Jks {
        jks::keystore_entries(der, tried)
    } else {
        pkcs12::keystore_entries(der, tried, limits)
    };
    result.map_err(|e| password_needed(e, password))
}

/// A keystore tried with the empty password because none was given: its failure means a
/// password is needed, not that a wrong one was given.
fn password_needed(e: Error, given: Option<&str>) -> Error {
    match (e, given) {
        (Error::KeystoreBadPassword, None) => Error::KeystorePasswordRequired,
        (e, _) => e,
    }
}

fn not_a_keystore(found: impl Into<String>) -> Error {
    Error::NotAKeystore {
        found: found.into(),
    }
}

fn der_kind_name(kind: DerKind) -> &'static str {
    match kind {
        DerKind::Certificate => "a DER X.509 certificate",
        DerKind::Spki => "a DER public key (SubjectPublicKeyInfo)",
        DerKind::Pkcs8 => "a DER private key (PKCS#8)",
        DerKind::EncryptedPkcs8 => "a DER encrypted private key (PKCS#8)",
        DerKind::Pkcs1Private => "a DER RSA private key (PKCS#1)",
        DerKind::Pkcs1Public => "a DER RSA public key (PKCS#1)",
        DerKind::Sec1 => "a DER EC private key (SEC1)",
        DerKind::Pkcs12 | DerKind::Jks => "a keystore",
    }
}

/// What non-DER input looks like, for [`Error::NotAKeystore`].
fn what_it_looks_like(trimmed: &[u8]) -> String {
    if pem::looks_like_pem(trimmed) {
        let labels: Vec<&str> = pem::blocks(trimmed).iter().map(|b| b.label).collect();
        return if labels.is_empty() {
            "a PEM file with no complete block".to_owned()
        } else {
            format!("a PEM file with the blocks {}", labels.join(", "))
        };
    }
    if matches!(trimmed.first(), Some(b'{' | b'[')) {
        return "JSON".to_owned();
    }
    if trimmed.is_empty() {
        return "data that is empty".to_owned();
    }
    "data that is neither DER, base64 nor PEM".to_owned()
}

/// Selects one key from JSON text (a JWK, a JWK Set or an array of JWKs) by kid, parsing only
/// the chosen entry fully; the same rules as [`import`] for JSON input.
pub fn select_from_json(text: &str, kid: Option<&str>) -> Result<Jwk> {
    json::select_from_text(text, kid)
}

/// Parses one JWK that this library checked and wrote, then sealed with authenticated
/// encryption (a registry's stored keys, opened with its master key): members, lengths and
/// sizes are checked as for [`select_from_json`], but not what its import already proved and
/// the seal kept (an EC or OKP public key derived from `d`, a point on its curve, RSA's
/// primes and CRT values, an `x5c` chain). Opening 100,000 stored keys then costs
/// milliseconds per thousand, not seconds. Never use it on text from outside: a forged key
/// would not be caught.
pub fn from_sealed_json(text: &str) -> Result<Jwk> {
    json::from_sealed_text(text)
}

/// A certificate or key pasted as base64 without PEM armour.
fn bare_base64(text: &[u8]) -> Option<Zeroizing<Vec<u8>>> {
    use base64ct::{Base64, Encoding};
    let alphabet = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'=');
    if !text.iter().all(|b| alphabet(b) || b.is_ascii_whitespace()) {
        return None;
    }
    let mut compact = Zeroizing::new(Vec::with_capacity(text.len()));
    compact.extend(text.iter().copied().filter(|b| !b.is_ascii_whitespace()));
    if compact.len() < 16 {
        return None;
    }
    let s = std::str::from_utf8(&compact).ok()?;
    Base64::decode_vec(s).ok().map(Zeroizing::new)
}

fn import_der(kind: DerKind, input: &[u8], opts: &ImportOptions<'_>) -> Result<Jwk> {
    if opts.alias.is_some() && !matches!(kind, DerKind::Pkcs12 | DerKind::Jks) {
        return Err(alias_misplaced());
    }
    let key = match kind {
        DerKind::Certificate => return x5c::jwk_from_certificate(input, false),
        DerKind::Spki => der::spki_to_key(input)?,
        DerKind::Pkcs8 => der::pkcs8_to_key(input)?,
        DerKind::Pkcs1Public => Key::Rsa(der::pkcs1_public(input)?),
        DerKind::Pkcs1Private => Key::Rsa(der::pkcs1_private(input)?),
        DerKind::Sec1 => der::sec1_to_key(input, None)?,
        DerKind::EncryptedPkcs8 => {
            let password = opts.password.ok_or(Error::PasswordRequired)?;
            let plain = encrypted::decrypt_pkcs8(input, password, &opts.kdf_limits)?;
            decrypted(der::pkcs8_to_key(&plain))?
        }
        DerKind::Pkcs12 | DerKind::Jks => {
            // A keystore without a password is tried with the empty one, as keytool and
            // OpenSSL write them.
            let password = opts.password.unwrap_or("");
            let result = if kind == DerKind::Jks {
                jks::import_keystore(input, password, opts.alias)
            } else {
                pkcs12::import_keystore(input, password, opts.alias, &opts.kdf_limits)
            };
            return result.map_err(|e| password_needed(e, opts.password));
        }
    };
    Ok(Jwk::new(key, Parameters::default()))
}

/// After decryption, undecodable DER means the password was wrong (CBC padding passes by
/// chance about once in 256 tries).
fn decrypted(result: Result<Key>) -> Result<Key> {
    result.map_err(|e| match e {
        Error::DerMalformed { .. } => Error::BadPassword,
        other => other,
    })
}

/// Is this error about a block's encoding (skip the block), not about the key in it?
fn is_structural(e: &Error) -> bool {
    matches!(e, Error::DerMalformed { .. } | Error::PemMalformed { .. })
}

fn alias_misplaced() -> Error {
    Error::InvalidOption {
        detail: "an alias applies only to keystores (PKCS#12, JKS)".to_owned(),
    }
}

fn import_pem(input: &[u8], opts: &ImportOptions<'_>) -> Result<Jwk> {
    if opts.alias.is_some() {
        return Err(alias_misplaced());
    }
    let mut first_error = None;
    for mut block in pem::blocks(input) {
        let certificate = matches!(block.label, "CERTIFICATE" | "X509 CERTIFICATE");
        let result = match &mut block.body {
            Err(detail) => Err(Error::PemMalformed {
                label: block.label.to_owned(),
                detail: std::mem::take(detail),
            }),
            // The decoded certificate becomes the x5c entry as it is (public data).
            Ok(body) if certificate => {
                x5c::jwk_from_certificate_der(std::mem::take(&mut **body)).map(Some)
            }
            Ok(body) => {
                let body = std::mem::take(body);
                import_pem_block(&block, &body, opts)
            }
        };
        match result {
            Ok(Some(jwk)) => return Ok(jwk),
            Ok(None) => {}
            Err(e) if is_structural(&e) => {
                first_error.get_or_insert(e);
            }
            Err(e) => return Err(e),
        }
    }
    // The labels are gathered again only for this error (no allocation on success).
    Err(first_error.unwrap_or_else(|| Error::PemNoKey {
        labels: pem::blocks(input)
            .into_iter()
            .map(|b| b.label.to_owned())
            .collect(),
    }))
}

/// One block: `Ok(None)` when its label holds no key or certificate.
fn import_pem_block(
    block: &pem::PemBlock<'_>,
    body: &[u8],
    opts: &ImportOptions<'_>,
) -> Result<Option<Jwk>> {
    let key = match block.label {
        "TRUSTED CERTIFICATE" => return x5c::jwk_from_certificate(body, true).map(Some),
        "PUBLIC KEY" => der::spki_to_key(body)?,
        "RSA PUBLIC KEY" => Key::Rsa(der::pkcs1_public(body)?),
        "ENCRYPTED PRIVATE KEY" => {
            let password = opts.password.ok_or(Error::PasswordRequired)?;
            let plain = encrypted::decrypt_pkcs8(body, password, &opts.kdf_limits)?;
            decrypted(der::pkcs8_to_key(&plain))?
        }
        "RSA PRIVATE KEY" | "RSA-PSS PRIVATE KEY" | "EC PRIVATE KEY" | "PRIVATE KEY" => {
            let parse = |der: &[u8]| match block.label {
                "RSA PRIVATE KEY" => der::pkcs1_private(der).map(Key::Rsa),
                // OpenSSL's traditional form of an RSASSA-PSS key: PKCS#1 without the
                // parameters, so only the PS* restriction survives.
                "RSA-PSS PRIVATE KEY" => {
                    der::pkcs1_private(der).map(|k| Key::Rsa(k.with_pss(None)))
                }
                "EC PRIVATE KEY" => der::sec1_to_key(der, None),
                _ => der::pkcs8_to_key(der),
            };
            let encrypted = block
                .header("Proc-Type")
                .is_some_and(|v| v.replace(' ', "").eq_ignore_ascii_case("4,ENCRYPTED"));
            if encrypted {
                let dek = block
                    .header("DEK-Info")
                    .ok_or_else(|| Error::PemMalformed {
                        label: block.label.to_owned(),
                        detail: "it is marked ENCRYPTED but has no DEK-Info header".to_owned(),
                    })?;
                let password = opts.password.ok_or(Error::PasswordRequired)?;
                let plain = encrypted::decrypt_legacy_pem(dek, password, body)?;
                decrypted(parse(&plain))?
            } else {
                parse(body)?
            }
        }
        _ => return Ok(None),
    };
    Ok(Some(Jwk::new(key, Parameters::default())))
}

/// Entry points for the fuzz targets (fuzz/): every decoder on arbitrary bytes. Not an API.
#[doc(hidden)]
pub mod __fuzz {
    use crate::{KdfLimits, der, encrypted, x5c};

    /// Small caps so a fuzzer spends its time in parsing, not in key derivation.
    const LIMITS: KdfLimits = KdfLimits {
        max_iterations: 64,
        max_scrypt_work: 1 << 10,
        max_scrypt_memory: 1 << 20,
    };

    /// Every DER decoder, whatever the bytes' shape.
    pub fn der_decoders(data: &[u8]) {
        let _ = crate::detect::classify(data);
        let _ = der::spki_to_key(data);
        let _ = der::pkcs8_to_key(data);
        let _ = der::pkcs1_public(data);
        let _ = der::pkcs1_private(data);
        let _ = der::sec1_to_key(data, None);
        let _ = x5c::jwk_from_certificate(data, true);
        if !crate::ber::is_der(data) {
            let _ = crate::ber::to_der(data);
        }
    }

    /// Encrypted PKCS#8 and OpenSSL's DEK-Info PEM encryption, with a fixed password.
    pub fn encrypted(data: &[u8]) {
        let _ = encrypted::decrypt_pkcs8(data, "password", &LIMITS);
        if let Some((dek, body)) = data.split_first() {
            let dek = match dek % 5 {
                0 => "AES-128-CBC,00112233445566778899AABBCCDDEEFF",
                1 => "AES-256-CBC,00112233445566778899AABBCCDDEEFF",
                2 => "DES-EDE3-CBC,0011223344556677",
                3 => "DES-CBC,0011223344556677",
                _ => "AES-192-CBC,0011",
            };
            let _ = encrypted::decrypt_legacy_pem(dek, "password", body);
        }
    }

    /// PKCS#12 with a fixed password.
    pub fn pkcs12(data: &[u8]) {
        let _ = crate::keystore_entries(data, Some("password"), &LIMITS);
        let _ = crate::jks::import_keystore(data, "password", Some("alias"));
        let _ = crate::pkcs12::import_keystore(data, "password", Some("alias"), &LIMITS);
    }
}
