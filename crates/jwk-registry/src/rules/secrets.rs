//! What a secret's listing shows, worked out from its content once, when it is stored
//! (listing never opens a sealed key or runs a keystore's key derivation).

use jwk_core::{ImportOptions, KdfLimits};
use serde::{Deserialize, Serialize};

use crate::types::SecretKind;

/// Subject, issuer and validity of a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CertificateFacts {
    /// RFC 4514 subject.
    pub(crate) subject: String,
    /// RFC 4514 issuer.
    pub(crate) issuer: String,
    /// RFC 3339.
    pub(crate) not_before: String,
    /// RFC 3339.
    pub(crate) not_after: String,
    /// Lower-case hex.
    pub(crate) serial: String,
}

/// One entry of a keystore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct EntryFacts {
    /// Its alias (none for an entry without one).
    pub(crate) alias: Option<String>,
    /// PRIVATE_KEY, SECRET_KEY or CERTIFICATE.
    pub(crate) entry_type: String,
    /// "RSA 2048", "EC P-256", "oct 256", …
    pub(crate) key_type: String,
}

/// What listings show of a secret, worked out once when it is stored (listing never opens a
/// sealed key or runs a keystore's key derivation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct SecretFacts {
    /// SHA-256, lower-case hex: of the DER certificate, of the keystore file, or for a key
    /// the RFC 7638 thumbprint of its public key (base64url).
    pub(crate) fingerprint: String,
    /// A key's (or a certificate's) type and size or curve: "RSA 2048", "EC P-256", …
    pub(crate) key_type: Option<String>,
    /// What a certificate says about itself.
    pub(crate) certificate: Option<CertificateFacts>,
    /// A keystore's entries.
    pub(crate) entries: Option<Vec<EntryFacts>>,
}

/// The facts of a keystore from its file and its entries.
pub(crate) fn keystore_facts(content: &[u8], entries: Vec<jwk_core::KeystoreEntry>) -> SecretFacts {
    SecretFacts {
        fingerprint: sha256_hex(content),
        key_type: None,
        certificate: None,
        entries: Some(
            entries
                .into_iter()
                .map(|e| EntryFacts {
                    alias: e.alias,
                    entry_type: match (e.secret, e.private) {
                        (true, _) => "SECRET_KEY",
                        (false, true) => "PRIVATE_KEY",
                        (false, false) => "CERTIFICATE",
                    }
                    .to_owned(),
                    key_type: e.key_type,
                })
                .collect(),
        ),
    }
}

/// The facts of a certificate or key from the JWK it imports as.
pub(crate) fn key_facts(
    kind: SecretKind,
    jwk: &jwk_core::Jwk,
) -> std::result::Result<SecretFacts, jwk_core::Error> {
    let certificate = match jwk.params().x5c.as_ref().and_then(|c| c.first()) {
        Some(der) if kind == SecretKind::Certificate => {
            Some(jwk_core::CertificateInfo::from_der(der)?)
        }
        _ => None,
    };
    Ok(SecretFacts {
        fingerprint: match &certificate {
            Some(info) => info.sha256_fingerprint.clone(),
            None => crate::deploy::thumbprint(jwk),
        },
        key_type: Some(jwk.key().summary()),
        certificate: certificate.map(|info| CertificateFacts {
            subject: info.subject,
            issuer: info.issuer,
            not_before: info.not_before,
            not_after: info.not_after,
            serial: info.serial,
        }),
        entries: None,
    })
}

/// The facts of stored content (records from before the facts were stored with it).
pub(crate) fn facts_of(
    kind: SecretKind,
    content: &[u8],
    password: Option<&str>,
) -> std::result::Result<SecretFacts, jwk_core::Error> {
    if kind == SecretKind::Keystore {
        let entries = jwk_core::keystore_entries(content, password, &KdfLimits::default())?;
        return Ok(keystore_facts(content, entries));
    }
    let jwk = jwk_core::import(
        content,
        &ImportOptions {
            password,
            ..ImportOptions::default()
        },
    )?;
    key_facts(kind, &jwk)
}

pub(crate) fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
