//! EC keys on P-256, P-384, P-521 and secp256k1, checked with the RustCrypto curve crates.

use zeroize::Zeroizing;

use crate::error::{Error, Result};
use crate::secret::Secret;

/// The elliptic curves of `kty: "EC"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EcCurve {
    /// NIST P-256 (secp256r1).
    P256,
    /// NIST P-384 (secp384r1).
    P384,
    /// NIST P-521 (secp521r1).
    P521,
    /// secp256k1 (RFC 8812).
    Secp256k1,
}

impl EcCurve {
    /// The JWK `crv` name.
    pub fn name(self) -> &'static str {
        match self {
            EcCurve::P256 => "P-256",
            EcCurve::P384 => "P-384",
            EcCurve::P521 => "P-521",
            EcCurve::Secp256k1 => "secp256k1",
        }
    }

    /// Parses a JWK `crv` name.
    pub fn from_name(name: &str) -> Option<Self> {
        Some(match name {
            "P-256" => EcCurve::P256,
            "P-384" => EcCurve::P384,
            "P-521" => EcCurve::P521,
            "secp256k1" => EcCurve::Secp256k1,
            _ => return None,
        })
    }

    /// Length in bytes of a coordinate and of the private scalar (P-521: 66).
    pub fn field_len(self) -> usize {
        match self {
            EcCurve::P256 | EcCurve::Secp256k1 => 32,
            EcCurve::P384 => 48,
            EcCurve::P521 => 66,
        }
    }
}

/// Validates SEC1 point bytes and returns the uncompressed encoding (`04 || x || y`).
fn sec1_uncompressed(curve: EcCurve, sec1: &[u8]) -> Option<Box<[u8]>> {
    macro_rules! point {
        ($krate:ident) => {{
            use $krate::elliptic_curve::sec1::ToSec1Point;
            let pk = $krate::PublicKey::from_sec1_bytes(sec1).ok()?;
            Some(pk.to_sec1_point(false).to_bytes())
        }};
    }
    match curve {
        EcCurve::P256 => point!(p256),
        EcCurve::P384 => point!(p384),
        EcCurve::P521 => point!(p521),
        EcCurve::Secp256k1 => point!(k256),
    }
}

/// Derives the uncompressed public point from a private scalar of exactly `field_len` bytes.
fn public_from_scalar(curve: EcCurve, d: &[u8]) -> Option<Box<[u8]>> {
    macro_rules! derive {
        ($krate:ident) => {{
            use $krate::elliptic_curve::sec1::ToSec1Point;
            let sk = $krate::SecretKey::from_slice(d).ok()?;
            Some(sk.public_key().to_sec1_point(false).to_bytes())
        }};
    }
    match curve {
        EcCurve::P256 => derive!(p256),
        EcCurve::P384 => derive!(p384),
        EcCurve::P521 => derive!(p521),
        EcCurve::Secp256k1 => derive!(k256),
    }
}

/// An EC public key, optionally with its private scalar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcKey {
    curve: EcCurve,
    x: Vec<u8>,
    y: Vec<u8>,
    d: Option<Secret>,
}

impl EcKey {
    /// A public key from SEC1 point bytes (compressed or uncompressed).
    pub fn from_sec1(curve: EcCurve, sec1: &[u8]) -> Result<Self> {
        let point = sec1_uncompressed(curve, sec1).ok_or_else(|| Error::PointNotOnCurve {
            curve: curve.name().to_owned(),
        })?;
        Ok(Self::from_uncompressed(curve, &point, None))
    }

    /// A public key from its affine coordinates, each exactly `field_len` bytes.
    pub fn from_coordinates(curve: EcCurve, x: &[u8], y: &[u8]) -> Result<Self> {
        let len = curve.field_len();
        for (member, value) in [("x", x), ("y", y)] {
            if value.len() != len {
                return Err(Error::BadLength {
                    member: member.to_owned(),
                    curve: curve.name().to_owned(),
                    expected: len,
                    actual: value.len(),
                });
            }
        }
        let mut sec1 = Vec::with_capacity(1 + 2 * len);
        sec1.push(4);
        sec1.extend_from_slice(x);
        sec1.extend_from_slice(y);
        Self::from_sec1(curve, &sec1)
    }

    /// A private key from its scalar; `public` (SEC1 bytes), when given, must match it.
    ///
    /// `d` shorter than the field is left-padded (some encoders drop leading zeros); longer
    /// is an error.
    pub fn from_private(curve: EcCurve, d: &[u8], public: Option<&[u8]>) -> Result<Self> {
        let len = curve.field_len();
        if d.len() > len {
            return Err(Error::BadLength {
                member: "d".to_owned(),
                curve: curve.name().to_owned(),
                expected: len,
                actual: d.len(),
            });
        }
        let mut scalar = Zeroizing::new(vec![0u8; len]);
        scalar[len - d.len()..].copy_from_slice(d);
        let derived =
            public_from_scalar(curve, &scalar).ok_or_else(|| Error::InvalidPrivateScalar {
                curve: curve.name().to_owned(),
            })?;
        if let Some(public) = public {
            let given = sec1_uncompressed(curve, public).ok_or_else(|| Error::PointNotOnCurve {
                curve: curve.name().to_owned(),
            })?;
            if given != derived {
                return Err(Error::KeyMismatch {
                    detail: "the public point is not d·G".to_owned(),
                });
            }
        }
        Ok(Self::from_uncompressed(
            curve,
            &derived,
            Some(Secret::from_slice(&scalar)),
        ))
    }

    /// A private key from JWK members: `x`, `y` and `d` all exactly `field_len` bytes.
    pub(crate) fn from_jwk_private(curve: EcCurve, x: &[u8], y: &[u8], d: &[u8]) -> Result<Self> {
        let public = Self::from_coordinates(curve, x, y)?;
        if d.len() != curve.field_len() {
            return Err(Error::BadLength {
                member: "d".to_owned(),
                curve: curve.name().to_owned(),
                expected: curve.field_len(),
                actual: d.len(),
            });
        }
        let mut sec1 = Vec::with_capacity(1 + x.len() + y.len());
        sec1.push(4);
        sec1.extend_from_slice(&public.x);
        sec1.extend_from_slice(&public.y);
        Self::from_private(curve, d, Some(&sec1))
    }

    /// A key from JWK members this library wrote and sealed (authenticated encryption):
    /// lengths checked; the point and `d·G` not, its import checked them.
    pub(crate) fn from_sealed(
        curve: EcCurve,
        x: &[u8],
        y: &[u8],
        d: Option<&[u8]>,
    ) -> Result<Self> {
        let len = curve.field_len();
        for (member, value) in [("x", Some(x)), ("y", Some(y)), ("d", d)] {
            if let Some(value) = value
                && value.len() != len
            {
                return Err(Error::BadLength {
                    member: member.to_owned(),
                    curve: curve.name().to_owned(),
                    expected: len,
                    actual: value.len(),
                });
            }
        }
        Ok(EcKey {
            curve,
            x: x.to_vec(),
            y: y.to_vec(),
            d: d.map(Secret::from_slice),
        })
    }

    fn from_uncompressed(curve: EcCurve, point: &[u8], d: Option<Secret>) -> Self {
        let len = curve.field_len();
        EcKey {
            curve,
            x: point[1..1 + len].to_vec(),
            y: point[1 + len..].to_vec(),
            d,
        }
    }

    /// The curve.
    pub fn curve(&self) -> EcCurve {
        self.curve
    }

    /// The x coordinate (`field_len` bytes).
    pub fn x(&self) -> &[u8] {
        &self.x
    }

    /// The y coordinate (`field_len` bytes).
    pub fn y(&self) -> &[u8] {
        &self.y
    }

    /// The private scalar, if any.
    pub fn d(&self) -> Option<&Secret> {
        self.d.as_ref()
    }

    /// True when the private scalar is present.
    pub fn is_private(&self) -> bool {
        self.d.is_some()
    }

    /// The same key without its private scalar.
    pub fn to_public(&self) -> EcKey {
        EcKey {
            curve: self.curve,
            x: self.x.clone(),
            y: self.y.clone(),
            d: None,
        }
    }
}
