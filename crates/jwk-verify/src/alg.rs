//! The JWS algorithms this crate verifies (RFC 7518 §3, RFC 8037, RFC 8812, RFC 9864).

use std::fmt;

/// A JWS signature or MAC algorithm. `none` is not one: it is refused before any lookup.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Algorithm {
    /// HMAC with SHA-256.
    Hs256,
    /// HMAC with SHA-384.
    Hs384,
    /// HMAC with SHA-512.
    Hs512,
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256, MGF1 with SHA-256, 32-byte salt.
    Ps256,
    /// RSASSA-PSS with SHA-384, MGF1 with SHA-384, 48-byte salt.
    Ps384,
    /// RSASSA-PSS with SHA-512, MGF1 with SHA-512, 64-byte salt.
    Ps512,
    /// ECDSA on P-256 with SHA-256.
    Es256,
    /// ECDSA on P-384 with SHA-384.
    Es384,
    /// ECDSA on P-521 with SHA-512.
    Es512,
    /// ECDSA on secp256k1 with SHA-256 (RFC 8812).
    Es256k,
    /// EdDSA (RFC 8037): Ed25519 or Ed448, by the key's curve.
    EdDsa,
    /// Ed25519 by its fully specified name (RFC 9864).
    Ed25519,
    /// Ed448 by its fully specified name (RFC 9864).
    Ed448,
}

/// Every algorithm, in the order of [`Algorithm::bit`].
pub(crate) const ALL: [Algorithm; 16] = [
    Algorithm::Hs256,
    Algorithm::Hs384,
    Algorithm::Hs512,
    Algorithm::Rs256,
    Algorithm::Rs384,
    Algorithm::Rs512,
    Algorithm::Ps256,
    Algorithm::Ps384,
    Algorithm::Ps512,
    Algorithm::Es256,
    Algorithm::Es384,
    Algorithm::Es512,
    Algorithm::Es256k,
    Algorithm::EdDsa,
    Algorithm::Ed25519,
    Algorithm::Ed448,
];

impl Algorithm {
    /// The algorithm named `name` (its `alg` value, case-sensitive), if this crate knows it.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// The `alg` value.
    pub fn as_str(self) -> &'static str {
        match self {
            Algorithm::Hs256 => "HS256",
            Algorithm::Hs384 => "HS384",
            Algorithm::Hs512 => "HS512",
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::Es512 => "ES512",
            Algorithm::Es256k => "ES256K",
            Algorithm::EdDsa => "EdDSA",
            Algorithm::Ed25519 => "Ed25519",
            Algorithm::Ed448 => "Ed448",
        }
    }

    /// True for the HMAC algorithms (a shared secret, never a public key).
    pub fn is_hmac(self) -> bool {
        matches!(self, Algorithm::Hs256 | Algorithm::Hs384 | Algorithm::Hs512)
    }

    pub(crate) fn bit(self) -> u16 {
        1 << (ALL.iter().position(|a| *a == self).unwrap_or(0) as u16)
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of algorithms (a bit per algorithm).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct AlgorithmSet(u16);

impl AlgorithmSet {
    /// The empty set.
    pub const EMPTY: AlgorithmSet = AlgorithmSet(0);

    /// The set of `algorithms`.
    pub fn of(algorithms: &[Algorithm]) -> AlgorithmSet {
        AlgorithmSet(algorithms.iter().fold(0, |acc, a| acc | a.bit()))
    }

    /// Whether `alg` is in the set.
    pub fn contains(self, alg: Algorithm) -> bool {
        self.0 & alg.bit() != 0
    }

    /// The algorithms in both sets.
    pub fn intersect(self, other: AlgorithmSet) -> AlgorithmSet {
        AlgorithmSet(self.0 & other.0)
    }

    /// True when the set has no algorithm.
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    /// The algorithms, in a fixed order.
    pub fn iter(self) -> impl Iterator<Item = Algorithm> {
        ALL.into_iter().filter(move |a| self.contains(*a))
    }
}

impl fmt::Display for AlgorithmSet {
    /// `RS256, PS256`, or `none` for the empty set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            return f.write_str("none");
        }
        for (i, a) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(a.as_str())?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_sets_print_in_order() {
        for a in ALL {
            assert_eq!(Algorithm::from_name(a.as_str()), Some(a));
        }
        assert_eq!(Algorithm::from_name("none"), None);
        assert_eq!(Algorithm::from_name("hs256"), None);
        let set = AlgorithmSet::of(&[Algorithm::Ps256, Algorithm::Rs256]);
        assert_eq!(set.to_string(), "RS256, PS256");
        assert_eq!(AlgorithmSet::EMPTY.to_string(), "none");
    }
}
