//! RSA keys: checked with the `rsa` crate, kept as big-endian bytes for the JWK.

use rsa::traits::{PrivateKeyParts, PublicKeyParts};
use rsa::{BoxedUint, PrivateKey as RsaPrivateKey, PublicKey as RsaPublicKey};
use zeroize::Zeroizing;

use super::strip_leading_zeros;
use crate::error::{Error, Result};
use crate::secret::Secret;

/// Smallest modulus accepted at import, in bits. Smaller keys are broken, not merely weak.
pub const MIN_RSA_BITS: usize = 512;
/// Largest modulus accepted at import, in bits (bounds the cost of validation).
pub const MAX_RSA_BITS: usize = 16384;

/// The hash an RSASSA-PSS key is bound to by its parameters, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PssHash {
    /// SHA-256 (PS256).
    Sha256,
    /// SHA-384 (PS384).
    Sha384,
    /// SHA-512 (PS512).
    Sha512,
    /// A hash JOSE has no PS algorithm for (SHA-1, SHA-224, ...).
    Other,
}

/// An RSA public key, optionally with its private part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaKey {
    n: Vec<u8>,
    e: Vec<u8>,
    private: Option<RsaPrivate>,
    /// `Some` for an id-RSASSA-PSS key: usable only with PS* algorithms;
    /// the inner `Some(hash)` when its parameters pin the hash.
    pss: Option<Option<PssHash>>,
}

/// The private members of an RSA JWK (RFC 7518 §6.3.2), all present.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RsaPrivate {
    /// Private exponent.
    pub d: Secret,
    /// First prime factor.
    pub p: Secret,
    /// Second prime factor.
    pub q: Secret,
    /// First factor CRT exponent.
    pub dp: Secret,
    /// Second factor CRT exponent.
    pub dq: Secret,
    /// First CRT coefficient.
    pub qi: Secret,
}

/// The optional CRT members of a private RSA key as they were given.
pub(crate) struct CrtInput<'a> {
    pub p: &'a [u8],
    pub q: &'a [u8],
    pub dp: Option<&'a [u8]>,
    pub dq: Option<&'a [u8]>,
    pub qi: Option<&'a [u8]>,
}

fn uint(bytes: &[u8]) -> BoxedUint {
    BoxedUint::from_be_slice_vartime(strip_leading_zeros(bytes))
}

fn secret_uint(value: &BoxedUint) -> Secret {
    let bytes = Zeroizing::new(value.to_be_bytes());
    Secret::from_slice(strip_leading_zeros(&bytes))
}

fn rsa_err(e: rsa::Error) -> Error {
    let detail = match e {
        rsa::Error::InvalidModulus => "the modulus is not a valid RSA modulus (odd, larger than e, product of the primes)".to_owned(),
        rsa::Error::InvalidExponent => "the exponents are inconsistent (e must be odd; d must satisfy d·e ≡ 1 mod λ(n) and d < n)".to_owned(),
        rsa::Error::InvalidPrime => "a prime factor is invalid".to_owned(),
        rsa::Error::PublicExponentTooSmall => "the public exponent is below 3".to_owned(),
        rsa::Error::PublicExponentTooLarge => "the public exponent is above 2^33".to_owned(),
        rsa::Error::ModulusTooSmall => format!("the modulus is below {MIN_RSA_BITS} bits"),
        rsa::Error::ModulusTooLarge => format!("the modulus is above {MAX_RSA_BITS} bits"),
        rsa::Error::NprimesTooSmall => "at least two prime factors are needed".to_owned(),
        other => other.to_string(),
    };
    Error::rsa(detail)
}

/// The checks `rsa::PublicKey::new_with_size_limits` makes (n odd, e odd, 2 ≤ e ≤ 2^33 − 1,
/// e < n), done on the bytes: the same verdicts without building Montgomery parameters, which
/// cost more time and memory than the whole rest of an import.
fn check_public(n: &[u8], e: &[u8]) -> Result<()> {
    if n.last().is_none_or(|b| b & 1 == 0) {
        return Err(rsa_err(rsa::Error::InvalidModulus));
    }
    if e.len() > 5 {
        return Err(rsa_err(rsa::Error::PublicExponentTooLarge));
    }
    let value = e.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b));
    if value < RsaPublicKey::MIN_PUB_EXPONENT {
        return Err(rsa_err(rsa::Error::PublicExponentTooSmall));
    }
    if value > RsaPublicKey::MAX_PUB_EXPONENT {
        return Err(rsa_err(rsa::Error::PublicExponentTooLarge));
    }
    if value & 1 == 0 {
        return Err(rsa_err(rsa::Error::InvalidExponent));
    }
    // e < n holds: n has at least MIN_RSA_BITS bits, e at most 33.
    Ok(())
}

/// The bit length of a big-endian unsigned integer (0 for no bytes or all zeros). Written so
/// that no input length makes it subtract past zero.
fn bit_len(n: &[u8]) -> usize {
    let n = strip_leading_zeros(n);
    match n.first() {
        None => 0,
        Some(first) => (n.len() - 1) * 8 + (8 - first.leading_zeros() as usize),
    }
}

fn check_size(n: &[u8]) -> Result<()> {
    let bits = bit_len(n);
    if bits < MIN_RSA_BITS {
        return Err(Error::rsa(format!(
            "the modulus has {bits} bits; at least {MIN_RSA_BITS} are required"
        )));
    }
    if bits > MAX_RSA_BITS {
        return Err(Error::rsa(format!(
            "the modulus has {bits} bits; at most {MAX_RSA_BITS} are accepted"
        )));
    }
    Ok(())
}

impl RsaKey {
    /// A public key from its modulus and exponent (big-endian; leading zeros are dropped).
    pub fn from_public(n: &[u8], e: &[u8]) -> Result<Self> {
        check_size(n)?;
        check_public(strip_leading_zeros(n), strip_leading_zeros(e))?;
        Ok(RsaKey {
            n: strip_leading_zeros(n).to_vec(),
            e: strip_leading_zeros(e).to_vec(),
            private: None,
            pss: None,
        })
    }

    /// A private key from JWK members this library wrote and sealed (authenticated
    /// encryption), all of them: sizes and the public part checked as on import; the
    /// private values' consistency not (its import checked it: RSA's is the costliest check
    /// of all, and a registry opens every key it serves when it starts).
    pub(crate) fn from_sealed(n: &[u8], e: &[u8], d: &[u8], crt: &CrtInput<'_>) -> Result<Self> {
        check_size(n)?;
        check_public(strip_leading_zeros(n), strip_leading_zeros(e))?;
        let (Some(dp), Some(dq), Some(qi)) = (crt.dp, crt.dq, crt.qi) else {
            return Err(Error::member(
                "p",
                "RSA CRT members must be given together: p, q, dp, dq and qi (or none of them)",
            ));
        };
        let secret = |v: &[u8]| Secret::from_slice(strip_leading_zeros(v));
        Ok(RsaKey {
            n: strip_leading_zeros(n).to_vec(),
            e: strip_leading_zeros(e).to_vec(),
            private: Some(RsaPrivate {
                d: secret(d),
                p: secret(crt.p),
                q: secret(crt.q),
                dp: secret(dp),
                dq: secret(dq),
                qi: secret(qi),
            }),
            pss: None,
        })
    }

    /// A private key from `n`, `e`, `d` and, when known, the primes and CRT values.
    ///
    /// Without primes they are recovered from `d` (NIST SP 800-56B C.2). Given CRT values
    /// must equal the ones computed from the primes.
    pub(crate) fn from_private(
        n: &[u8],
        e: &[u8],
        d: &[u8],
        crt: Option<CrtInput<'_>>,
    ) -> Result<Self> {
        check_size(n)?;
        // RFC 8017 §3.2: 0 < d < n. Checked here because rsa 0.10's prime recovery panics on
        // d = 0 (a subtraction underflow in recover_primes), found by the jwk_struct fuzzer.
        let (n_bytes, d_bytes) = (strip_leading_zeros(n), strip_leading_zeros(d));
        let d_below_n =
            d_bytes.len() < n_bytes.len() || (d_bytes.len() == n_bytes.len() && d_bytes < n_bytes);
        if d_bytes.iter().all(|b| *b == 0) || !d_below_n {
            return Err(rsa_err(rsa::Error::InvalidExponent));
        }
        // rsa 0.10's prime recovery sizes its arithmetic by d's precision and truncates n to
        // it (then underflows: found by jwk_struct with an empty d); d as wide as n avoids it.
        let n_uint = uint(n);
        let d_uint = |d: &[u8]| {
            BoxedUint::from_be_slice(strip_leading_zeros(d), n_uint.bits_precision())
                .unwrap_or_else(|_| uint(d))
        };
        let primes = match &crt {
            Some(c) => vec![uint(c.p), uint(c.q)],
            None => Vec::new(),
        };
        let key = RsaPrivateKey::from_components(n_uint.clone(), uint(e), d_uint(d), primes)
            .or_else(|err| {
                // Keys whose primes differ much in size are legal; they need the wide form.
                match &crt {
                    Some(c) => RsaPrivateKey::from_components_with_wide_primes(
                        n_uint.clone(),
                        uint(e),
                        d_uint(d),
                        vec![uint(c.p), uint(c.q)],
                    ),
                    None => Err(err),
                }
            })
            .map_err(|err| match (&crt, err) {
                (None, rsa::Error::InvalidArguments | rsa::Error::InvalidPrime) => Error::rsa(
                    "the prime factors could not be recovered from d; give p, q, dp, dq and qi",
                ),
                (_, err) => rsa_err(err),
            })?;
        let primes = key.primes();
        if primes.len() != 2 {
            return Err(Error::rsa("only two-prime RSA keys are supported"));
        }
        let (p, q) = (secret_uint(&primes[0]), secret_uint(&primes[1]));
        let dp = key
            .dp()
            .map(secret_uint)
            .ok_or_else(|| Error::rsa("CRT values are missing"))?;
        let dq = key
            .dq()
            .map(secret_uint)
            .ok_or_else(|| Error::rsa("CRT values are missing"))?;
        // The precomputed q^-1 mod p (`crt_coefficient()` would invert again: a constant-time
        // modular inversion, about 40% of the whole import).
        let qi = key
            .qinv()
            .map(|m| secret_uint(&Zeroizing::new(m.retrieve())))
            .ok_or_else(|| Error::rsa("q has no inverse modulo p"))?;
        if let Some(c) = &crt {
            for (name, given, computed) in [("dp", c.dp, &dp), ("dq", c.dq, &dq), ("qi", c.qi, &qi)]
            {
                if let Some(given) = given
                    && strip_leading_zeros(given) != computed.expose()
                {
                    return Err(Error::KeyMismatch {
                        detail: format!("\"{name}\" does not match the primes"),
                    });
                }
            }
        }
        let d = secret_uint(key.d());
        Ok(RsaKey {
            n: strip_leading_zeros(&key.n_bytes()).to_vec(),
            e: strip_leading_zeros(&key.e_bytes()).to_vec(),
            private: Some(RsaPrivate {
                d,
                p,
                q,
                dp,
                dq,
                qi,
            }),
            pss: None,
        })
    }

    /// Marks the key as an id-RSASSA-PSS key (only PS* algorithms; `hash` when pinned).
    pub(crate) fn with_pss(mut self, hash: Option<PssHash>) -> Self {
        self.pss = Some(hash);
        self
    }

    /// The modulus, big-endian, no leading zeros.
    pub fn n(&self) -> &[u8] {
        &self.n
    }

    /// The public exponent, big-endian, no leading zeros.
    pub fn e(&self) -> &[u8] {
        &self.e
    }

    /// The private members, if this is a private key.
    pub fn private(&self) -> Option<&RsaPrivate> {
        self.private.as_ref()
    }

    /// True when the private members are present.
    pub fn is_private(&self) -> bool {
        self.private.is_some()
    }

    /// `Some` for an RSASSA-PSS key, with the hash its parameters pin (if any).
    pub fn pss(&self) -> Option<Option<PssHash>> {
        self.pss
    }

    /// Size of the modulus in bits.
    pub fn bits(&self) -> usize {
        bit_len(&self.n)
    }

    /// The same key without its private members.
    pub fn to_public(&self) -> RsaKey {
        RsaKey {
            n: self.n.clone(),
            e: self.e.clone(),
            private: None,
            pss: self.pss,
        }
    }
}
