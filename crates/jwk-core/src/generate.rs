//! New keys from the operating system's CSPRNG (the product's Generate JWK).
//!
//! EC, OKP and oct keys are drawn as bytes with `getrandom::fill` and go through the same
//! checked constructors as imported keys (an EC scalar outside [1, n) is drawn again); this
//! keeps an RNG failure an error instead of the panic the curve crates' `random()` would give.
//! RSA keys come from the `rsa` crate over `getrandom::SysRng` and are re-checked (n = p·q,
//! d·e ≡ 1, CRT values) before they are returned.

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::jwk::{Jwk, Parameters, ThumbprintHash};
use crate::key::{EcCurve, EcKey, Key, OctKey, OkpCurve, OkpKey, RsaKey};
use crate::policy::{self, Usage};
use crate::secret::Secret;

/// The key to generate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeySpec {
    /// RSA with a 2048, 3072 or 4096-bit modulus (e = 65537).
    Rsa {
        /// Modulus size in bits.
        bits: usize,
    },
    /// EC on a curve.
    Ec(EcCurve),
    /// OKP on a curve.
    Okp(OkpCurve),
    /// A symmetric key of 128, 192, 256, 384 or 512 bits.
    Oct {
        /// Key size in bits.
        bits: usize,
    },
}

/// How the new key's `kid` is chosen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum KidType {
    /// The RFC 7638 SHA-256 thumbprint (the default).
    #[default]
    Thumbprint,
    /// A random (version 4) UUID.
    Uuid,
    /// The UTC time of generation, RFC 3339 (`2026-11-23T12:45:01Z`).
    Timestamp,
    /// This value.
    Explicit(String),
    /// No kid.
    None,
}

/// What [`generate`] makes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenerateOptions {
    /// Key type and size or curve.
    pub spec: KeySpec,
    /// SIGNATURE or ENCRYPTION (the JWK `use`).
    pub usage: Usage,
    /// The algorithm, checked against the policy for the key and use.
    pub alg: String,
    /// How the kid is chosen.
    pub kid: KidType,
}

const RSA_SIZES: [usize; 3] = [2048, 3072, 4096];
const OCT_SIZES: [usize; 5] = [128, 192, 256, 384, 512];

fn random(len: usize) -> Result<Zeroizing<Vec<u8>>> {
    let mut buf = Zeroizing::new(vec![0u8; len]);
    getrandom::fill(&mut buf).map_err(|e| Error::Random {
        detail: e.to_string(),
    })?;
    Ok(buf)
}

fn random_ec(curve: EcCurve) -> Result<EcKey> {
    for _ in 0..64 {
        let mut d = random(curve.field_len())?;
        if curve == EcCurve::P521 {
            // The P-521 order is just below 2^521: keep only the 9 low bits of the top byte.
            d[0] &= 0x01;
        }
        match EcKey::from_private(curve, &d, None) {
            Ok(key) => return Ok(key),
            Err(Error::InvalidPrivateScalar { .. }) => continue,
            Err(e) => return Err(e),
        }
    }
    Err(Error::Random {
        detail: "64 draws in a row were not valid scalars".to_owned(),
    })
}

fn random_rsa(bits: usize) -> Result<RsaKey> {
    use rsa::traits::{PrivateKeyParts, PublicKeyParts};
    let mut rng = getrandom::SysRng;
    let key = rsa::PrivateKey::new(&mut rng, bits).map_err(|e| Error::Random {
        detail: format!("RSA key generation failed: {e}"),
    })?;
    let bytes = |v: &rsa::BoxedUint| Zeroizing::new(v.to_be_bytes());
    let primes = key.primes();
    let (n, e, d) = (key.n_bytes(), key.e_bytes(), bytes(key.d()));
    let (p, q) = (bytes(&primes[0]), bytes(&primes[1]));
    // Rebuilt through the import path: the same consistency checks as any imported key.
    RsaKey::from_private(
        &n,
        &e,
        &d,
        Some(crate::key::CrtInput {
            p: &p,
            q: &q,
            dp: None,
            dq: None,
            qi: None,
        }),
    )
}

fn uuid_v4() -> Result<String> {
    let mut b = random(16)?;
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let hex: String = b.iter().map(|x| format!("{x:02x}")).collect();
    Ok(format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}

fn timestamp() -> String {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or_else(|_| time::OffsetDateTime::now_utc());
    now.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

/// Generates a private JWK with `use`, `alg` and `kid` set.
pub fn generate(opts: &GenerateOptions) -> Result<Jwk> {
    let key = match opts.spec {
        KeySpec::Rsa { bits } => {
            if !RSA_SIZES.contains(&bits) {
                return Err(Error::InvalidOption {
                    detail: format!(
                        "RSA keys are generated with 2048, 3072 or 4096 bits, not {bits}"
                    ),
                });
            }
            // Checked first: a refused algorithm should not cost a key generation.
            policy::check_rsa_algorithm(bits, opts.usage, &opts.alg)?;
            Key::Rsa(random_rsa(bits)?)
        }
        KeySpec::Ec(curve) => Key::Ec(random_ec(curve)?),
        KeySpec::Okp(curve) => Key::Okp(OkpKey::from_private(
            curve,
            &random(curve.private_len())?,
            None,
        )?),
        KeySpec::Oct { bits } => {
            if !OCT_SIZES.contains(&bits) {
                return Err(Error::InvalidOption {
                    detail: format!(
                        "oct keys are generated with 128, 192, 256, 384 or 512 bits, not {bits}"
                    ),
                });
            }
            Key::Oct(OctKey::new(Secret::from_slice(&random(bits / 8)?))?)
        }
    };
    let mut jwk = Jwk::new(key, Parameters::default());
    jwk.set_usage(opts.usage, &opts.alg)?;
    jwk.params_mut().kid = match &opts.kid {
        KidType::Thumbprint => Some(jwk.thumbprint(ThumbprintHash::Sha256)),
        KidType::Uuid => Some(uuid_v4()?),
        KidType::Timestamp => Some(timestamp()),
        KidType::Explicit(kid) => Some(kid.clone()),
        KidType::None => None,
    };
    Ok(jwk)
}

/// Checks `opts` as [`generate`] would, without the cost of an RSA key generation: for a
/// configuration that generates keys later (a rotation policy).
pub fn check_generate_options(opts: &GenerateOptions) -> Result<()> {
    match opts.spec {
        KeySpec::Rsa { bits } => {
            if !RSA_SIZES.contains(&bits) {
                return Err(Error::InvalidOption {
                    detail: format!(
                        "RSA keys are generated with 2048, 3072 or 4096 bits, not {bits}"
                    ),
                });
            }
            policy::check_rsa_algorithm(bits, opts.usage, &opts.alg)
        }
        // Generating these takes microseconds: the real checks, on a key thrown away.
        _ => generate(opts).map(drop),
    }
}

/// A digest helper kept here so the kid of a generated key matches `Jwk::thumbprint`.
#[cfg(test)]
fn sha256_b64(input: &str) -> String {
    use sha2::{Digest, Sha256};
    crate::b64::encode_url(&Sha256::digest(input.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbprint_kid_is_the_sha256_thumbprint() {
        let jwk = generate(&GenerateOptions {
            spec: KeySpec::Ec(EcCurve::P256),
            usage: Usage::Signature,
            alg: "ES256".to_owned(),
            kid: KidType::Thumbprint,
        })
        .unwrap();
        assert_eq!(
            jwk.params().kid.as_deref(),
            Some(sha256_b64(&jwk.thumbprint_input()).as_str())
        );
    }

    #[test]
    fn uuid_has_version_and_variant_bits() {
        let u = uuid_v4().unwrap();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(["8", "9", "a", "b"].contains(&&u[19..20]), "{u}");
    }
}
