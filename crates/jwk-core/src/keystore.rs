//! What a keystore holds, as `jwk keystore list` shows it: shared by the PKCS#12 and JKS
//! readers, which import neither each other nor this module's users.

use crate::key::Key;

/// One entry of a keystore, as `jwk keystore list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeystoreEntry {
    /// The alias (friendlyName), when the bag has one.
    pub alias: Option<String>,
    /// "RSA 2048", "EC P-256", "OKP Ed25519", "oct 256" (bits), …
    pub key_type: String,
    /// True for a private or secret key, false for a certificate without a key.
    pub private: bool,
    /// True for a symmetric secret key (Java's SecretKeyEntry), imported as an `oct` JWK.
    pub secret: bool,
    /// Number of certificates in the key's chain (1 for a certificate entry).
    pub certificates: usize,
}

/// One tab-separated line, as `jwk keystore list` prints it:
/// `alias<TAB>key type<TAB>private-key|secret-key|certificate<TAB>N certificates`.
impl std::fmt::Display for KeystoreEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match (self.secret, self.private) {
            (true, _) => "secret-key",
            (false, true) => "private-key",
            (false, false) => "certificate",
        };
        let plural = if self.certificates == 1 { "" } else { "s" };
        write!(
            f,
            "{}\t{}\t{kind}\t{} certificate{plural}",
            self.alias.as_deref().unwrap_or("(no alias)"),
            self.key_type,
            self.certificates
        )
    }
}

pub(crate) fn key_type(key: &Key) -> String {
    match key {
        Key::Rsa(k) => format!("RSA {}", k.bits()),
        Key::Ec(k) => format!("EC {}", k.curve().name()),
        Key::Okp(k) => format!("OKP {}", k.curve().name()),
        Key::Oct(k) => format!("oct {}", k.k().expose().len() * 8),
    }
}
