//! A JWK made ready to verify: its public key parsed once (RSA modulus parameters, curve
//! points, a keyed HMAC state), and the algorithms it may verify pinned from its `alg`, or
//! from its type and curve when it has none.

use std::sync::Arc;

use hmac::{Hmac, KeyInit, Mac};
use jwk_core::{EcCurve, Jwk, Key, KeyUse, OkpCurve, PssHash, ThumbprintHash};
use sha2::{Sha256, Sha384, Sha512};

use crate::alg::{Algorithm, AlgorithmSet};
use crate::error::VerifyError;

/// Largest RSA modulus verified, in bits: bounds the work a key can ask for (the core
/// imports up to this size too).
pub const MAX_RSA_BITS: usize = 16384;

/// A JWK ready to verify signatures with. Made once per key (lookups cache it): the public
/// key is parsed and checked here, never per token.
pub struct VerificationKey {
    jwk: Arc<Jwk>,
    thumbprint: String,
    label: String,
    allowed: AlgorithmSet,
    unusable: Option<String>,
    inner: Inner,
}

enum Inner {
    Rsa {
        key: rsa::PublicKey,
        bits: usize,
    },
    P256(p256::ecdsa::VerifyingKey),
    P384(p384::ecdsa::VerifyingKey),
    P521(Box<p521::ecdsa::VerifyingKey>),
    K256(k256::ecdsa::VerifyingKey),
    Ed25519(ed25519_dalek::VerifyingKey),
    #[cfg(feature = "ed448")]
    Ed448(Box<ed448_goldilocks::VerifyingKey>),
    Hmac(Box<HmacKeys>),
    Unusable,
}

/// The keyed HMAC states for the algorithms the key is long enough for.
struct HmacKeys {
    h256: Option<Hmac<Sha256>>,
    h384: Option<Hmac<Sha384>>,
    h512: Option<Hmac<Sha512>>,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey")
            .field("key", &self.label)
            .field("thumbprint", &self.thumbprint)
            .field("allowed", &self.allowed.to_string())
            .field("unusable", &self.unusable)
            .finish_non_exhaustive()
    }
}

impl VerificationKey {
    /// Prepares `jwk`, computing its RFC 7638 SHA-256 thumbprint.
    pub fn new(jwk: Arc<Jwk>) -> VerificationKey {
        let thumbprint = jwk.thumbprint(ThumbprintHash::Sha256);
        VerificationKey::with_thumbprint(jwk, thumbprint)
    }

    /// Prepares `jwk` whose RFC 7638 SHA-256 thumbprint is already known.
    pub fn with_thumbprint(jwk: Arc<Jwk>, thumbprint: String) -> VerificationKey {
        let label = match &jwk.params().kid {
            Some(kid) => format!("kid {:?}", kid.chars().take(128).collect::<String>()),
            None => format!("{} key {thumbprint}", jwk.key().key_type().as_str()),
        };
        let (inner, by_type) = match prepare(jwk.key()) {
            Ok(prepared) => prepared,
            Err(reason) => {
                return VerificationKey {
                    jwk,
                    thumbprint,
                    label,
                    allowed: AlgorithmSet::EMPTY,
                    unusable: Some(reason),
                    inner: Inner::Unusable,
                };
            }
        };
        let (allowed, unusable) = match pin(&jwk, by_type) {
            Ok(allowed) => (allowed, None),
            Err(reason) => (AlgorithmSet::EMPTY, Some(reason)),
        };
        VerificationKey {
            jwk,
            thumbprint,
            label,
            allowed,
            unusable,
            inner,
        }
    }

    /// The JWK.
    pub fn jwk(&self) -> &Arc<Jwk> {
        &self.jwk
    }

    /// Its RFC 7638 SHA-256 thumbprint (base64url).
    pub fn thumbprint(&self) -> &str {
        &self.thumbprint
    }

    /// The algorithms it verifies: its `alg` alone, or the ones its type and curve allow
    /// (RSA: RS* and PS*; P-256: ES256; Ed25519: EdDSA and Ed25519; oct: the HS* its length
    /// allows). Empty when it cannot verify.
    pub fn algorithms(&self) -> AlgorithmSet {
        self.allowed
    }

    /// Why it cannot verify signatures at all, if it cannot.
    pub fn unusable_reason(&self) -> Option<&str> {
        self.unusable.as_deref()
    }

    /// How errors name the key: `kid "…"`, or its type and thumbprint.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// RSA modulus size in bits (`None` for other key types).
    pub fn rsa_bits(&self) -> Option<usize> {
        match &self.inner {
            Inner::Rsa { bits, .. } => Some(*bits),
            _ => None,
        }
    }

    /// Checks that `alg` may be used with this key (and the key at all), then verifies
    /// `signature` over `message`.
    pub fn verify(
        &self,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
        min_rsa_bits: usize,
    ) -> Result<(), VerifyError> {
        self.check(alg, min_rsa_bits)?;
        self.verify_signature(alg, message, signature)
    }

    /// Whether `alg` may be used with this key.
    pub(crate) fn check(&self, alg: Algorithm, min_rsa_bits: usize) -> Result<(), VerifyError> {
        if let Some(reason) = &self.unusable {
            return Err(VerifyError::KeyUnusable {
                key: self.label.clone(),
                reason: reason.clone(),
            });
        }
        if !self.allowed.contains(alg) {
            return Err(VerifyError::AlgorithmMismatch {
                alg: alg.as_str().to_owned(),
                key: self.label.clone(),
                allowed: self.allowed.to_string(),
            });
        }
        if let Inner::Rsa { bits, .. } = &self.inner
            && *bits < min_rsa_bits
        {
            return Err(VerifyError::WeakKey {
                key: self.label.clone(),
                bits: *bits,
                min: min_rsa_bits,
            });
        }
        Ok(())
    }

    fn verify_signature(
        &self,
        alg: Algorithm,
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), VerifyError> {
        use signature_traits::Verifier;
        let bad = |_| VerifyError::BadSignature;
        match (&self.inner, alg) {
            (Inner::Rsa { key, .. }, _) => verify_rsa(key, alg, message, signature),
            (Inner::P256(key), Algorithm::Es256) => {
                let sig = p256::ecdsa::Signature::from_slice(signature).map_err(bad)?;
                key.verify(message, &sig).map_err(bad)
            }
            (Inner::P384(key), Algorithm::Es384) => {
                let sig = p384::ecdsa::Signature::from_slice(signature).map_err(bad)?;
                key.verify(message, &sig).map_err(bad)
            }
            (Inner::P521(key), Algorithm::Es512) => {
                let sig = p521::ecdsa::Signature::from_slice(signature).map_err(bad)?;
                key.verify(message, &sig).map_err(bad)
            }
            (Inner::K256(key), Algorithm::Es256k) => {
                // JWS does not require low-S (RFC 8812); k256 verifies the normalized form,
                // which is valid exactly when the original is.
                let sig = k256::ecdsa::Signature::from_slice(signature).map_err(bad)?;
                key.verify(message, &sig.normalize_s()).map_err(bad)
            }
            (Inner::Ed25519(key), Algorithm::EdDsa | Algorithm::Ed25519) => {
                // RFC 8032 verification (S < L and R compared as encoded). Weak (small-order)
                // public keys are refused once, when the key is prepared.
                let sig = ed25519_dalek::Signature::from_slice(signature).map_err(bad)?;
                key.verify(message, &sig).map_err(bad)
            }
            #[cfg(feature = "ed448")]
            (Inner::Ed448(key), Algorithm::EdDsa | Algorithm::Ed448) => {
                // RFC 8032 §5.2.2: bits 448 to 454 of R's encoding are zero. The pre-release
                // ed448-goldilocks ignores them (Wycheproof ed448 tcId 63), so they are
                // checked here.
                if signature.len() != 114 || signature[56] & 0x7f != 0 {
                    return Err(VerifyError::BadSignature);
                }
                let sig = ed448_goldilocks::Signature::from_slice(signature).map_err(bad)?;
                key.verify_raw(&sig, message).map_err(bad)
            }
            (Inner::Hmac(keys), _) => verify_hmac(keys, alg, message, signature),
            _ => Err(VerifyError::BadSignature),
        }
    }
}

/// The `signature` crate's traits, as the curve crates re-export them.
mod signature_traits {
    pub use p256::ecdsa::signature::Verifier;
}

fn verify_rsa(
    key: &rsa::PublicKey,
    alg: Algorithm,
    message: &[u8],
    signature: &[u8],
) -> Result<(), VerifyError> {
    use rsa::traits::PublicKeyParts;
    use sha2::Digest;
    // RFC 8017 §8.2.2 step 1: the signature is exactly as long as the modulus.
    if signature.len() != key.size() {
        return Err(VerifyError::BadSignature);
    }
    let result = match alg {
        Algorithm::Rs256 => key.verify(
            rsa::Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(message),
            signature,
        ),
        Algorithm::Rs384 => key.verify(
            rsa::Pkcs1v15Sign::new::<Sha384>(),
            &Sha384::digest(message),
            signature,
        ),
        Algorithm::Rs512 => key.verify(
            rsa::Pkcs1v15Sign::new::<Sha512>(),
            &Sha512::digest(message),
            signature,
        ),
        // RFC 7518 §3.5: MGF1 with the same hash, salt as long as the hash.
        Algorithm::Ps256 => key.verify(
            rsa::Pss::<Sha256>::new_with_salt(32),
            &Sha256::digest(message),
            signature,
        ),
        Algorithm::Ps384 => key.verify(
            rsa::Pss::<Sha384>::new_with_salt(48),
            &Sha384::digest(message),
            signature,
        ),
        Algorithm::Ps512 => key.verify(
            rsa::Pss::<Sha512>::new_with_salt(64),
            &Sha512::digest(message),
            signature,
        ),
        _ => return Err(VerifyError::BadSignature),
    };
    result.map_err(|_| VerifyError::BadSignature)
}

fn verify_hmac(
    keys: &HmacKeys,
    alg: Algorithm,
    message: &[u8],
    tag: &[u8],
) -> Result<(), VerifyError> {
    let ok = match alg {
        Algorithm::Hs256 => mac_matches(&keys.h256, message, tag),
        Algorithm::Hs384 => mac_matches(&keys.h384, message, tag),
        Algorithm::Hs512 => mac_matches(&keys.h512, message, tag),
        _ => false,
    };
    if ok {
        Ok(())
    } else {
        Err(VerifyError::BadSignature)
    }
}

/// Whether `tag` is the MAC of `message` under the keyed state (false without one: the key
/// is too short for that hash). `verify_slice` compares in constant time and refuses a tag
/// of another length.
fn mac_matches<M: Mac + Clone>(keyed: &Option<M>, message: &[u8], tag: &[u8]) -> bool {
    keyed.clone().is_some_and(|mut mac| {
        mac.update(message);
        mac.verify_slice(tag).is_ok()
    })
}

/// The parsed key and the algorithms its type and curve allow.
fn prepare(key: &Key) -> Result<(Inner, AlgorithmSet), String> {
    use Algorithm::*;
    let point = |x: &[u8], y: &[u8]| {
        let mut sec1 = Vec::with_capacity(1 + x.len() + y.len());
        sec1.push(4u8);
        sec1.extend_from_slice(x);
        sec1.extend_from_slice(y);
        sec1
    };
    let invalid = |what: &str| format!("its {what} public key does not decode");
    Ok(match key {
        Key::Rsa(rsa_key) => {
            let n = rsa::BoxedUint::from_be_slice_vartime(rsa_key.n());
            let e = rsa::BoxedUint::from_be_slice_vartime(rsa_key.e());
            let bits = n.bit_width_vartime() as usize;
            let parsed = rsa::PublicKey::new_with_size_limits(n, e, 512..=MAX_RSA_BITS)
                .map_err(|_| invalid("RSA"))?;
            let all = AlgorithmSet::of(&[Rs256, Rs384, Rs512, Ps256, Ps384, Ps512]);
            let allowed = match rsa_key.pss() {
                None => all,
                Some(None) => AlgorithmSet::of(&[Ps256, Ps384, Ps512]),
                Some(Some(PssHash::Sha256)) => AlgorithmSet::of(&[Ps256]),
                Some(Some(PssHash::Sha384)) => AlgorithmSet::of(&[Ps384]),
                Some(Some(PssHash::Sha512)) => AlgorithmSet::of(&[Ps512]),
                Some(Some(_)) => {
                    return Err(
                        "it is an RSASSA-PSS key bound to a hash JOSE has no algorithm for"
                            .to_owned(),
                    );
                }
            };
            (Inner::Rsa { key: parsed, bits }, allowed)
        }
        Key::Ec(ec) => {
            let sec1 = point(ec.x(), ec.y());
            match ec.curve() {
                EcCurve::P256 => (
                    Inner::P256(
                        p256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                            .map_err(|_| invalid("P-256"))?,
                    ),
                    AlgorithmSet::of(&[Es256]),
                ),
                EcCurve::P384 => (
                    Inner::P384(
                        p384::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                            .map_err(|_| invalid("P-384"))?,
                    ),
                    AlgorithmSet::of(&[Es384]),
                ),
                EcCurve::P521 => (
                    Inner::P521(Box::new(
                        p521::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                            .map_err(|_| invalid("P-521"))?,
                    )),
                    AlgorithmSet::of(&[Es512]),
                ),
                EcCurve::Secp256k1 => (
                    Inner::K256(
                        k256::ecdsa::VerifyingKey::from_sec1_bytes(&sec1)
                            .map_err(|_| invalid("secp256k1"))?,
                    ),
                    AlgorithmSet::of(&[Es256k]),
                ),
                _ => {
                    return Err(format!(
                        "its curve {} signs nothing here",
                        ec.curve().name()
                    ));
                }
            }
        }
        Key::Okp(okp) => match okp.curve() {
            OkpCurve::Ed25519 => {
                let bytes: [u8; 32] = okp.x().try_into().map_err(|_| invalid("Ed25519"))?;
                let key = ed25519_dalek::VerifyingKey::from_bytes(&bytes)
                    .map_err(|_| invalid("Ed25519"))?;
                if key.is_weak() {
                    return Err("its Ed25519 public key is of small order (weak)".to_owned());
                }
                (Inner::Ed25519(key), AlgorithmSet::of(&[EdDsa, Ed25519]))
            }
            #[cfg(feature = "ed448")]
            OkpCurve::Ed448 => {
                let bytes: [u8; 57] = okp.x().try_into().map_err(|_| invalid("Ed448"))?;
                (
                    Inner::Ed448(Box::new(
                        ed448_goldilocks::VerifyingKey::from_bytes(&bytes)
                            .map_err(|_| invalid("Ed448"))?,
                    )),
                    AlgorithmSet::of(&[EdDsa, Ed448]),
                )
            }
            #[cfg(not(feature = "ed448"))]
            OkpCurve::Ed448 => {
                return Err("Ed448 needs the ed448 feature of jwk-verify".to_owned());
            }
            curve => {
                return Err(format!(
                    "an {} key is for key agreement, not signatures",
                    curve.name()
                ));
            }
        },
        Key::Oct(oct) => {
            let k = oct.k().expose();
            if k.len() < 32 {
                return Err(format!(
                    "an HMAC key needs at least 32 bytes (HS256); it has {}",
                    k.len()
                ));
            }
            let keys = HmacKeys {
                h256: Some(Hmac::<Sha256>::new_from_slice(k).map_err(|_| invalid("HMAC"))?),
                h384: (k.len() >= 48)
                    .then(|| Hmac::<Sha384>::new_from_slice(k).ok())
                    .flatten(),
                h512: (k.len() >= 64)
                    .then(|| Hmac::<Sha512>::new_from_slice(k).ok())
                    .flatten(),
            };
            let mut algs = vec![Hs256];
            if keys.h384.is_some() {
                algs.push(Hs384);
            }
            if keys.h512.is_some() {
                algs.push(Hs512);
            }
            (Inner::Hmac(Box::new(keys)), AlgorithmSet::of(&algs))
        }
        _ => return Err("its key type signs nothing here".to_owned()),
    })
}

/// The algorithms `jwk` may verify: its `use`, `key_ops` and `alg` narrow what its type
/// allows.
fn pin(jwk: &Jwk, by_type: AlgorithmSet) -> Result<AlgorithmSet, String> {
    let params = jwk.params();
    match &params.key_use {
        None | Some(KeyUse::Sig) => {}
        Some(KeyUse::Enc) => return Err("it is an encryption key (use enc)".to_owned()),
        Some(other) => return Err(format!("its use is {:?}, not sig", other.as_str())),
    }
    if let Some(ops) = &params.key_ops
        && !ops.iter().any(|op| op == "verify")
    {
        return Err("its key_ops do not include verify".to_owned());
    }
    let Some(alg) = &params.alg else {
        return Ok(by_type);
    };
    match Algorithm::from_name(alg) {
        Some(a) if by_type.contains(a) => Ok(AlgorithmSet::of(&[a])),
        Some(a) if a.is_hmac() && matches!(jwk.key(), Key::Oct(_)) => Err(format!(
            "its alg {a} needs a longer key (at least {} bytes)",
            match a {
                Algorithm::Hs384 => 48,
                _ => 64,
            }
        )),
        _ => Err(format!(
            "its alg {:?} is not a signature algorithm for its key (it would verify {by_type})",
            alg.chars().take(64).collect::<String>()
        )),
    }
}
