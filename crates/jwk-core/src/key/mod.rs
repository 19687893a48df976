//! Typed key material: every value here has been checked (on the curve, consistent, sane).

mod ec;
mod okp;
mod rsa;

pub use ec::{EcCurve, EcKey};
pub use okp::{OkpCurve, OkpKey};
pub(crate) use rsa::CrtInput;
pub use rsa::{PssHash, RsaKey, RsaPrivate};

use crate::error::{Error, Result};
use crate::secret::Secret;

/// The key-type specific part of a JWK.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Key {
    /// `kty: "RSA"`.
    Rsa(RsaKey),
    /// `kty: "EC"`.
    Ec(EcKey),
    /// `kty: "OKP"` (RFC 8037).
    Okp(OkpKey),
    /// `kty: "oct"`.
    Oct(OctKey),
}

/// The four JWK key types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyType {
    /// RSA.
    Rsa,
    /// Elliptic curve (NIST curves, secp256k1).
    Ec,
    /// Octet key pair (Edwards / Montgomery curves).
    Okp,
    /// Symmetric key.
    Oct,
}

impl KeyType {
    /// The `kty` value.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyType::Rsa => "RSA",
            KeyType::Ec => "EC",
            KeyType::Okp => "OKP",
            KeyType::Oct => "oct",
        }
    }
}

impl Key {
    /// The key type.
    pub fn key_type(&self) -> KeyType {
        match self {
            Key::Rsa(_) => KeyType::Rsa,
            Key::Ec(_) => KeyType::Ec,
            Key::Okp(_) => KeyType::Okp,
            Key::Oct(_) => KeyType::Oct,
        }
    }

    /// True when the key holds private (or symmetric) material.
    pub fn is_private(&self) -> bool {
        match self {
            Key::Rsa(k) => k.is_private(),
            Key::Ec(k) => k.is_private(),
            Key::Okp(k) => k.is_private(),
            Key::Oct(_) => true,
        }
    }

    /// Type and size or curve, as listings show it: "RSA 2048", "EC P-256", "OKP Ed25519",
    /// "oct 256" (bits).
    pub fn summary(&self) -> String {
        crate::keystore::key_type(self)
    }

    /// A short description for messages, e.g. "an EC P-256 key".
    pub fn describe(&self) -> String {
        match self {
            Key::Rsa(k) if k.pss().is_some() => "an RSASSA-PSS key".to_owned(),
            Key::Rsa(_) => "an RSA key".to_owned(),
            Key::Ec(k) => format!("an EC {} key", k.curve().name()),
            Key::Okp(k) => format!("an OKP {} key", k.curve().name()),
            Key::Oct(_) => "an oct key".to_owned(),
        }
    }
}

/// A symmetric key (`kty: "oct"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OctKey {
    k: Secret,
}

impl OctKey {
    /// Wraps symmetric key bytes; they must not be empty.
    pub fn new(k: Secret) -> Result<Self> {
        if k.is_empty() {
            return Err(Error::EmptyOctKey);
        }
        Ok(OctKey { k })
    }

    /// The key bytes.
    pub fn k(&self) -> &Secret {
        &self.k
    }
}

/// Strips leading zero bytes (RSA integers are written without them), keeping one byte.
pub(crate) fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let first = bytes
        .iter()
        .position(|&b| b != 0)
        .unwrap_or(bytes.len().saturating_sub(1));
    &bytes[first..]
}
