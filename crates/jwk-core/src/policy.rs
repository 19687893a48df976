//! The product's algorithm policy: which `alg` fits which key for which use.

use crate::error::{Error, Result};
use crate::jwk::{Jwk, KeyUse};
use crate::key::{EcCurve, Key, OkpCurve, PssHash};

/// What a key is for: the product's `useType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Usage {
    /// `SIGNATURE` (JWK `use: "sig"`).
    Signature,
    /// `ENCRYPTION` (JWK `use: "enc"`).
    Encryption,
}

impl Usage {
    /// Parses `SIGNATURE` / `ENCRYPTION` (the product's words) or `sig` / `enc` (JWK words).
    pub fn parse(value: &str) -> Option<Usage> {
        match value {
            "SIGNATURE" | "sig" => Some(Usage::Signature),
            "ENCRYPTION" | "enc" => Some(Usage::Encryption),
            _ => None,
        }
    }

    /// The product's word: `SIGNATURE` or `ENCRYPTION`.
    pub fn as_str(self) -> &'static str {
        match self {
            Usage::Signature => "SIGNATURE",
            Usage::Encryption => "ENCRYPTION",
        }
    }

    /// The JWK `use` value.
    pub fn key_use(self) -> KeyUse {
        match self {
            Usage::Signature => KeyUse::Sig,
            Usage::Encryption => KeyUse::Enc,
        }
    }
}

const RSA_SIG: &[&str] = &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"];
const RSA_ENC: &[&str] = &[
    "RSA1_5",
    "RSA-OAEP",
    "RSA-OAEP-256",
    "RSA-OAEP-384",
    "RSA-OAEP-512",
];
const EC_SIG: &[&str] = &["ES256", "ES384", "ES512", "ES256K"];
const ECDH: &[&str] = &[
    "ECDH-ES",
    "ECDH-ES+A128KW",
    "ECDH-ES+A192KW",
    "ECDH-ES+A256KW",
    "ECDH-1PU",
    "ECDH-1PU+A128KW",
    "ECDH-1PU+A192KW",
    "ECDH-1PU+A256KW",
];
const OCT_SIG: &[&str] = &["HS256", "HS384", "HS512"];
const OCT_ENC: &[&str] = &[
    "A128KW",
    "A192KW",
    "A256KW",
    "A128GCMKW",
    "A192GCMKW",
    "A256GCMKW",
    "DIR",
    "PBES2-HS256+A128KW",
    "PBES2-HS384+A192KW",
    "PBES2-HS512+A256KW",
];
const OKP_SIG: &[&str] = &["EdDSA"];
const KEY_TYPES: &[&str] = &["RSA", "EC", "OCT", "OKP"];

/// The JOSE spelling `dir` is accepted for the product's `DIR`.
fn normalize(alg: &str) -> &str {
    if alg == "dir" { "DIR" } else { alg }
}

fn is_known(alg: &str) -> bool {
    [RSA_SIG, RSA_ENC, EC_SIG, ECDH, OCT_SIG, OCT_ENC, OKP_SIG]
        .iter()
        .any(|list| list.contains(&alg))
}

/// Smallest (HMAC) or exact (AES key wrap) oct key size an algorithm needs, in bytes.
fn oct_size(alg: &str) -> Option<(usize, bool)> {
    Some(match alg {
        "HS256" => (32, false),
        "HS384" => (48, false),
        "HS512" => (64, false),
        "A128KW" | "A128GCMKW" => (16, true),
        "A192KW" | "A192GCMKW" => (24, true),
        "A256KW" | "A256GCMKW" => (32, true),
        _ => return None,
    })
}

/// The algorithms the policy allows for this key and use, in the product's order.
///
/// Beyond the product's table by key type, an algorithm also binds the curve (ES256 needs
/// P-256, EdDSA needs Ed25519/Ed448, OKP encryption needs X25519/X448), an RSASSA-PSS key
/// only allows PS* (the one its parameters pin, if any), and oct keys need the size the
/// algorithm needs (RFC 7518 §3.2, §4.4, §4.7).
pub fn valid_algorithms(key: &Key, usage: Usage) -> Vec<&'static str> {
    valid(key, usage, true)
}

fn valid(key: &Key, usage: Usage, check_sizes: bool) -> Vec<&'static str> {
    match (key, usage) {
        (Key::Rsa(k), Usage::Signature) => match k.pss() {
            None => RSA_SIG.to_vec(),
            Some(None) => vec!["PS256", "PS384", "PS512"],
            Some(Some(PssHash::Sha256)) => vec!["PS256"],
            Some(Some(PssHash::Sha384)) => vec!["PS384"],
            Some(Some(PssHash::Sha512)) => vec!["PS512"],
            Some(Some(PssHash::Other)) => Vec::new(),
        },
        (Key::Rsa(k), Usage::Encryption) => {
            if k.pss().is_some() {
                Vec::new()
            } else {
                RSA_ENC.to_vec()
            }
        }
        (Key::Ec(k), Usage::Signature) => vec![match k.curve() {
            EcCurve::P256 => "ES256",
            EcCurve::P384 => "ES384",
            EcCurve::P521 => "ES512",
            EcCurve::Secp256k1 => "ES256K",
        }],
        (Key::Ec(_), Usage::Encryption) => ECDH.to_vec(),
        (Key::Okp(k), Usage::Signature) => match k.curve() {
            OkpCurve::Ed25519 | OkpCurve::Ed448 => OKP_SIG.to_vec(),
            OkpCurve::X25519 | OkpCurve::X448 => Vec::new(),
        },
        (Key::Okp(k), Usage::Encryption) => match k.curve() {
            OkpCurve::X25519 | OkpCurve::X448 => ECDH.to_vec(),
            OkpCurve::Ed25519 | OkpCurve::Ed448 => Vec::new(),
        },
        (Key::Oct(k), usage) => {
            let list = if usage == Usage::Signature {
                OCT_SIG
            } else {
                OCT_ENC
            };
            let len = k.k().len();
            list.iter()
                .copied()
                .filter(|alg| match oct_size(alg) {
                    Some((size, exact)) if check_sizes => {
                        if exact {
                            len == size
                        } else {
                            len >= size
                        }
                    }
                    _ => true,
                })
                .collect()
        }
    }
}

fn key_with_size(key: &Key) -> String {
    match key {
        Key::Oct(k) => format!("a {}-bit oct key", k.k().len() * 8),
        Key::Rsa(k) if k.pss().is_some() => {
            format!("a {}-bit RSASSA-PSS key", k.bits())
        }
        other => other.describe(),
    }
}

fn join(list: &[&str]) -> String {
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(", ")
    }
}

/// The verdict on `alg` given the algorithms allowed for a key (described as `key`); `why`
/// says what the algorithm needs that the key does not have.
fn judge(
    alg: &str,
    allowed: &[&str],
    key: String,
    usage: Usage,
    why: impl FnOnce(&str) -> String,
) -> Result<()> {
    if KEY_TYPES.iter().any(|t| t.eq_ignore_ascii_case(alg)) {
        return Err(Error::AlgorithmIsKeyType);
    }
    let alg_n = normalize(alg);
    if allowed.contains(&alg_n) {
        return Ok(());
    }
    if is_known(alg_n) {
        let why = match usage_of(alg_n) {
            Some(other) if other != usage => format!(
                "{alg} is {} algorithm",
                if other == Usage::Signature {
                    "a signature"
                } else {
                    "an encryption"
                }
            ),
            _ => why(alg_n),
        };
        return Err(Error::AlgorithmMismatch {
            alg: alg.to_owned(),
            key,
            usage: usage.as_str(),
            why,
            valid: join(allowed),
        });
    }
    Err(Error::UnknownAlgorithm {
        alg: alg.to_owned(),
        hint: format!(
            "valid for {key} with {} are {}",
            usage.as_str(),
            join(allowed)
        ),
    })
}

/// Whether a known algorithm signs or encrypts.
fn usage_of(alg: &str) -> Option<Usage> {
    if [RSA_SIG, EC_SIG, OCT_SIG, OKP_SIG]
        .iter()
        .any(|l| l.contains(&alg))
    {
        Some(Usage::Signature)
    } else if [RSA_ENC, ECDH, OCT_ENC].iter().any(|l| l.contains(&alg)) {
        Some(Usage::Encryption)
    } else {
        None
    }
}

/// What a known algorithm needs of its key, e.g. "an EC P-384 key".
fn needs(alg: &str) -> String {
    let oct = |size: Option<(usize, bool)>| match size {
        Some((bytes, true)) => format!("an oct key of exactly {} bits", bytes * 8),
        Some((bytes, false)) => format!("an oct key of at least {} bits", bytes * 8),
        None => "an oct key".to_owned(),
    };
    match alg {
        "ES256" => "an EC P-256 key".to_owned(),
        "ES384" => "an EC P-384 key".to_owned(),
        "ES512" => "an EC P-521 key".to_owned(),
        "ES256K" => "an EC secp256k1 key".to_owned(),
        "EdDSA" => "an OKP Ed25519 or Ed448 key".to_owned(),
        a if ECDH.contains(&a) => "an EC key or an OKP X25519 or X448 key".to_owned(),
        a if RSA_SIG.contains(&a) || RSA_ENC.contains(&a) => "an RSA key".to_owned(),
        a => oct(oct_size(a)),
    }
}

/// Why `alg` (known, for the right use) does not fit `key`.
fn why_not(key: &Key, alg: &str) -> String {
    match key {
        Key::Rsa(k) if k.pss().is_some() && alg.starts_with("PS") => {
            "this RSASSA-PSS key's parameters pin another hash".to_owned()
        }
        Key::Rsa(k) if k.pss().is_some() => {
            "an RSASSA-PSS key is for PS256, PS384 or PS512 signatures only".to_owned()
        }
        Key::Oct(k) if oct_size(alg).is_some() => {
            format!(
                "{alg} needs {}, this key has {}",
                needs(alg),
                k.k().len() * 8
            )
        }
        _ => format!("{alg} needs {}", needs(alg)),
    }
}

/// Checks that `alg` may be used with `key` for `usage`.
pub fn check_algorithm(key: &Key, usage: Usage, alg: &str) -> Result<()> {
    judge(
        alg,
        &valid_algorithms(key, usage),
        key_with_size(key),
        usage,
        |alg| why_not(key, alg),
    )
}

/// Checks `alg` for an RSA key of `bits` before it exists (generation is costly).
pub(crate) fn check_rsa_algorithm(bits: usize, usage: Usage, alg: &str) -> Result<()> {
    let allowed = if usage == Usage::Signature {
        RSA_SIG
    } else {
        RSA_ENC
    };
    judge(
        alg,
        allowed,
        format!("a {bits}-bit RSA key"),
        usage,
        |alg| format!("{alg} needs {}", needs(alg)),
    )
}

/// Checks a JWK's own `alg` member against its key type and curve (either use; unknown
/// algorithm names are left alone, as RFC 7517 allows private ones).
pub(crate) fn check_alg_fits_key(key: &Key, alg: &str) -> Result<()> {
    if KEY_TYPES.iter().any(|t| t.eq_ignore_ascii_case(alg)) {
        return Err(Error::AlgorithmIsKeyType);
    }
    let alg_n = normalize(alg);
    if !is_known(alg_n) {
        return Ok(());
    }
    let mut allowed = valid(key, Usage::Signature, false);
    allowed.extend(valid(key, Usage::Encryption, false));
    if allowed.contains(&alg_n) {
        return Ok(());
    }
    Err(Error::member(
        "alg",
        format!(
            "{alg} cannot be used with {}: {}; valid are {}",
            key_with_size(key),
            why_not(key, alg_n),
            join(&allowed)
        ),
    ))
}

impl Jwk {
    /// Checks that `alg` fits this key for one of the two uses, then sets `alg` (not `use`).
    /// When it fits neither, the error is the one for SIGNATURE.
    pub fn set_algorithm(&mut self, alg: &str) -> Result<()> {
        let signature = check_algorithm(self.key(), Usage::Signature, alg);
        if signature.is_err() {
            check_algorithm(self.key(), Usage::Encryption, alg)
                .map_err(|_| signature.expect_err("checked just above"))?;
        }
        self.params_mut().alg = Some(alg.to_owned());
        Ok(())
    }

    /// Checks `alg` for `usage` against the policy, then sets `use` and `alg`.
    pub fn set_usage(&mut self, usage: Usage, alg: &str) -> Result<()> {
        check_algorithm(self.key(), usage, alg)?;
        let params = self.params_mut();
        params.key_use = Some(usage.key_use());
        params.alg = Some(alg.to_owned());
        Ok(())
    }
}
