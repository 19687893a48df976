//! Secret bytes: zeroized on drop, redacted in `Debug`.

use std::fmt;
use zeroize::{Zeroize, Zeroizing};

/// Private key material (a JWK `d`, `p`, `k`, ...).
///
/// The bytes are wiped when the value is dropped and `Debug` prints `[redacted]`.
/// `Clone` is implemented on purpose (a `Jwk` is cloneable); each copy wipes itself too.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Zeroizing<Vec<u8>>);

impl Secret {
    /// Wraps bytes that are already secret.
    pub fn new(bytes: Vec<u8>) -> Self {
        Secret(Zeroizing::new(bytes))
    }

    /// Copies a slice into a new secret.
    pub fn from_slice(bytes: &[u8]) -> Self {
        Secret(Zeroizing::new(bytes.to_vec()))
    }

    /// The secret bytes. Handle with care: never log them.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// Number of bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when there are no bytes.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<Zeroizing<Vec<u8>>> for Secret {
    fn from(v: Zeroizing<Vec<u8>>) -> Self {
        Secret(v)
    }
}

impl Zeroize for Secret {
    fn zeroize(&mut self) {
        self.0.zeroize();
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}
