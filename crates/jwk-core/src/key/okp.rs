//! OKP keys (RFC 8037): Ed25519, Ed448, X25519, X448.

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secret::Secret;

/// The curves of `kty: "OKP"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum OkpCurve {
    /// Ed25519 signatures.
    Ed25519,
    /// Ed448 signatures.
    Ed448,
    /// X25519 key agreement.
    X25519,
    /// X448 key agreement.
    X448,
}

impl OkpCurve {
    /// The JWK `crv` name.
    pub fn name(self) -> &'static str {
        match self {
            OkpCurve::Ed25519 => "Ed25519",
            OkpCurve::Ed448 => "Ed448",
            OkpCurve::X25519 => "X25519",
            OkpCurve::X448 => "X448",
        }
    }

    /// Parses a JWK `crv` name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "Ed25519" => OkpCurve::Ed25519,
            "Ed448" => OkpCurve::Ed448,
            "X25519" => OkpCurve::X25519,
            "X448" => OkpCurve::X448,
            _ => return None,
        })
    }

    /// Length in bytes of the public key `x`.
    pub fn public_len(self) -> usize {
        match self {
            OkpCurve::Ed25519 | OkpCurve::X25519 => 32,
            OkpCurve::Ed448 => 57,
            OkpCurve::X448 => 56,
        }
    }

    /// Length in bytes of the private key `d`.
    pub fn private_len(self) -> usize {
        match self {
            OkpCurve::Ed25519 | OkpCurve::X25519 => 32,
            OkpCurve::Ed448 => 57,
            OkpCurve::X448 => 56,
        }
    }

    /// True for the signature curves (Ed25519, Ed448).
    pub fn is_signature(self) -> bool {
        matches!(self, OkpCurve::Ed25519 | OkpCurve::Ed448)
    }
}

fn bad_length(curve: OkpCurve, member: &str, expected: usize, actual: usize) -> Error {
    Error::BadLength {
        member: member.to_owned(),
        curve: curve.name().to_owned(),
        expected,
        actual,
    }
}

#[cfg(not(feature = "ed448"))]
fn ed448_disabled() -> Error {
    Error::FeatureDisabled {
        what: "Ed448 / X448",
        feature: "ed448",
    }
}

/// Checks that `x` is a valid public key of the curve (exact length is checked before).
fn check_public(curve: OkpCurve, x: &[u8]) -> Result<()> {
    let valid = match curve {
        OkpCurve::Ed25519 => {
            let bytes: [u8; 32] = x.try_into().expect("length checked");
            ed25519_dalek::VerifyingKey::from_bytes(&bytes).is_ok()
        }
        // Every 32- and 56-byte string is a valid Montgomery u-coordinate (RFC 7748 §5).
        OkpCurve::X25519 | OkpCurve::X448 => true,
        #[cfg(feature = "ed448")]
        OkpCurve::Ed448 => {
            let bytes: [u8; 57] = x.try_into().expect("length checked");
            ed448_goldilocks::VerifyingKey::from_bytes(&bytes).is_ok()
        }
        #[cfg(not(feature = "ed448"))]
        OkpCurve::Ed448 => return Err(ed448_disabled()),
    };
    #[cfg(not(feature = "ed448"))]
    if curve == OkpCurve::X448 {
        return Err(ed448_disabled());
    }
    if valid {
        Ok(())
    } else {
        Err(Error::PointNotOnCurve {
            curve: curve.name().to_owned(),
        })
    }
}

/// Derives the public key from the private key (exact length is checked before).
fn derive_public(curve: OkpCurve, d: &[u8]) -> Result<Vec<u8>> {
    Ok(match curve {
        OkpCurve::Ed25519 => {
            let bytes = Zeroizing::new(<[u8; 32]>::try_from(d).expect("length checked"));
            ed25519_dalek::SigningKey::from_bytes(&bytes)
                .verifying_key()
                .to_bytes()
                .to_vec()
        }
        OkpCurve::X25519 => {
            let secret =
                x25519_dalek::StaticSecret::from(<[u8; 32]>::try_from(d).expect("length checked"));
            x25519_dalek::PublicKey::from(&secret).to_bytes().to_vec()
        }
        #[cfg(feature = "ed448")]
        OkpCurve::Ed448 => {
            let signing = ed448_goldilocks::SigningKey::try_from(d).map_err(|_| {
                Error::InvalidPrivateScalar {
                    curve: curve.name().to_owned(),
                }
            })?;
            signing.verifying_key().to_bytes().to_vec()
        }
        #[cfg(feature = "ed448")]
        OkpCurve::X448 => {
            let secret = x448::StaticSecret::from(<[u8; 56]>::try_from(d).expect("length checked"));
            x448::PublicKey::from(&secret).as_bytes().to_vec()
        }
        #[cfg(not(feature = "ed448"))]
        OkpCurve::Ed448 | OkpCurve::X448 => return Err(ed448_disabled()),
    })
}

/// An OKP public key, optionally with its private key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OkpKey {
    curve: OkpCurve,
    x: Vec<u8>,
    d: Option<Secret>,
}

impl OkpKey {
    /// A public key from its raw bytes.
    pub fn from_public(curve: OkpCurve, x: &[u8]) -> Result<Self> {
        if x.len() != curve.public_len() {
            return Err(bad_length(curve, "x", curve.public_len(), x.len()));
        }
        check_public(curve, x)?;
        Ok(OkpKey {
            curve,
            x: x.to_vec(),
            d: None,
        })
    }

    /// A private key from its raw bytes; `x`, when given, must be its public key.
    pub fn from_private(curve: OkpCurve, d: &[u8], x: Option<&[u8]>) -> Result<Self> {
        if d.len() != curve.private_len() {
            return Err(bad_length(curve, "d", curve.private_len(), d.len()));
        }
        let derived = derive_public(curve, d)?;
        if let Some(x) = x {
            if x.len() != curve.public_len() {
                return Err(bad_length(curve, "x", curve.public_len(), x.len()));
            }
            if x != derived.as_slice() {
                return Err(Error::KeyMismatch {
                    detail: format!("\"x\" is not the {} public key of \"d\"", curve.name()),
                });
            }
        }
        Ok(OkpKey {
            curve,
            x: derived,
            d: Some(Secret::from_slice(d)),
        })
    }

    /// A key from JWK members this library wrote and sealed (authenticated encryption):
    /// lengths checked; `x` is not derived from `d` again, its import did.
    pub(crate) fn from_sealed(curve: OkpCurve, x: &[u8], d: Option<&[u8]>) -> Result<Self> {
        if x.len() != curve.public_len() {
            return Err(bad_length(curve, "x", curve.public_len(), x.len()));
        }
        if let Some(d) = d
            && d.len() != curve.private_len()
        {
            return Err(bad_length(curve, "d", curve.private_len(), d.len()));
        }
        Ok(OkpKey {
            curve,
            x: x.to_vec(),
            d: d.map(Secret::from_slice),
        })
    }

    /// The curve.
    pub fn curve(&self) -> OkpCurve {
        self.curve
    }

    /// The public key bytes.
    pub fn x(&self) -> &[u8] {
        &self.x
    }

    /// The private key bytes, if any.
    pub fn d(&self) -> Option<&Secret> {
        self.d.as_ref()
    }

    /// True when the private key is present.
    pub fn is_private(&self) -> bool {
        self.d.is_some()
    }

    /// The same key without its private part.
    pub fn to_public(&self) -> OkpKey {
        OkpKey {
            curve: self.curve,
            x: self.x.clone(),
            d: None,
        }
    }
}
