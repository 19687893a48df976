//! Records of JWKs (with their source), credentials and the secrets store.

use serde::{Deserialize, Serialize};

/// Where a JWK came from, until an update detaches it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SourceRec {
    /// URL, COPY_PASTE, CERTIFICATE, PUBLIC_KEY, PRIVATE_KEY, KEYSTORE or GENERATE.
    pub(crate) source_type: String,
    /// Certificate, key or keystore name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) name: Option<String>,
    /// Environment of the certificate, key or keystore.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) environment_name: Option<String>,
    /// Keystore alias.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) alias_name: Option<String>,
    /// URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) url: Option<String>,
    /// URL fetch options (ms, ms, bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) url_options: Option<(u64, u64, u64)>,
    /// The kid asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) kid: Option<String>,
    /// For URL sources in records from before the sync record kept them: (kid, thumbprint)
    /// of every usable key of the set last fetched (now [`SyncRec::set_kids`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) set_kids: Vec<(String, String)>,
    /// For URL sources in records from before the sync record kept it: the ETag of the last
    /// fetch (now [`SyncRec::etag`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) etag: Option<String>,
    /// URL: followed with this refresh policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) follow: Option<crate::types::RefreshPolicy>,
}

impl SourceRec {
    /// A source of this type with nothing else recorded yet.
    pub(crate) fn of_type(source_type: &str) -> SourceRec {
        SourceRec {
            source_type: source_type.to_owned(),
            name: None,
            environment_name: None,
            alias_name: None,
            url: None,
            url_options: None,
            kid: None,
            set_kids: Vec::new(),
            etag: None,
            follow: None,
        }
    }
}

/// The last fetch of a URL-sourced JWK: kept apart from the JWK's record, which approval
/// compares, so that what a fetch learns of the set changes nothing that waits for approval.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct SyncRec {
    /// Format version.
    pub(crate) v: u32,
    /// When (RFC 3339).
    pub(crate) at: String,
    /// "fetched", "not modified" or "failed: <why>".
    pub(crate) result: String,
    /// (kid, thumbprint) of every usable key of the set last fetched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub(crate) set_kids: Vec<(String, String)>,
    /// The ETag of the last fetch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) etag: Option<String>,
}

impl SyncRec {
    /// What the last fetch learnt of the set: the sync record's, else (records from before)
    /// the source's.
    pub(crate) fn set_of<'a>(
        sync: Option<&'a SyncRec>,
        source: &'a SourceRec,
    ) -> (&'a [(String, String)], Option<&'a String>) {
        match sync {
            Some(s) if !s.set_kids.is_empty() || s.etag.is_some() => (&s.set_kids, s.etag.as_ref()),
            _ => (&source.set_kids, source.etag.as_ref()),
        }
    }
}

/// A JWK of a project.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JwkRec {
    /// Format version.
    pub(crate) v: u32,
    /// Stable id (credentials refer to it, so a rename keeps references).
    pub(crate) id: String,
    /// The name (unique in the project, case-sensitive).
    pub(crate) name: String,
    /// The description.
    pub(crate) description: String,
    /// The public JSON view (for oct keys: without `k`).
    pub(crate) public_jwk: String,
    /// The full canonical JSON, sealed with the master key.
    pub(crate) sealed_jwk: String,
    /// Whether the key holds private or symmetric material.
    pub(crate) private: bool,
    /// The source, until an update (or the deletion of its secret) detaches it.
    pub(crate) source: Option<SourceRec>,
    /// When the JWK was detached from its source (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) detached_at: Option<String>,
    /// Its state (left out when `active`).
    #[serde(default, skip_serializing_if = "crate::types::KeyState::is_active")]
    pub(crate) state: crate::types::KeyState,
    /// Its own `nbf` / `exp` as set by a user (left out when unbounded); a certificate's
    /// validity narrows it when the JWK is opened.
    #[serde(default, skip_serializing_if = "crate::types::Validity::is_unbounded")]
    pub(crate) validity: crate::types::Validity,
    /// A followed URL JWK past its stale limit: served nowhere until a fetch succeeds again
    /// (set and cleared by the refresh, on the saved record and its approved copy alike).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) withdrawn: bool,
}

/// A reference from a credential slot to a JWK.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct JwkRef {
    /// The project holding the JWK (the credential's own or the admin project).
    pub(crate) project: String,
    /// The JWK's id.
    pub(crate) id: String,
}

/// A credential and its two JWK slots.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct CredentialRec {
    /// Format version.
    pub(crate) v: u32,
    /// The username.
    pub(crate) username: String,
    /// Validation / signing.
    pub(crate) validation: Option<JwkRef>,
    /// Decryption / encryption.
    pub(crate) encryption: Option<JwkRef>,
    /// The validation slot's next JWK (published, promoted by
    /// `Command::PromoteCredentialJwk`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) validation_next: Option<JwkRef>,
    /// The encryption slot's next JWK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) encryption_next: Option<JwkRef>,
}

impl CredentialRec {
    /// A slot's current JWK.
    pub(crate) fn current(&mut self, slot: crate::types::Slot) -> &mut Option<JwkRef> {
        match slot {
            crate::types::Slot::Validation => &mut self.validation,
            crate::types::Slot::Encryption => &mut self.encryption,
        }
    }

    /// A slot's next JWK.
    pub(crate) fn next(&mut self, slot: crate::types::Slot) -> &mut Option<JwkRef> {
        match slot {
            crate::types::Slot::Validation => &mut self.validation_next,
            crate::types::Slot::Encryption => &mut self.encryption_next,
        }
    }

    /// A slot's current JWK, to read.
    pub(crate) fn held(&self, slot: crate::types::Slot) -> Option<&JwkRef> {
        match slot {
            crate::types::Slot::Validation => self.validation.as_ref(),
            crate::types::Slot::Encryption => self.encryption.as_ref(),
        }
    }

    /// A slot's next JWK, to read.
    pub(crate) fn held_next(&self, slot: crate::types::Slot) -> Option<&JwkRef> {
        match slot {
            crate::types::Slot::Validation => self.validation_next.as_ref(),
            crate::types::Slot::Encryption => self.encryption_next.as_ref(),
        }
    }

    /// Every JWK it refers to with the slot holding it: `validation`, `encryption`,
    /// `validation.next`, `encryption.next`, in that order.
    pub(crate) fn slot_refs(&self) -> impl Iterator<Item = (&'static str, &JwkRef)> {
        [
            ("validation", &self.validation),
            ("encryption", &self.encryption),
            ("validation.next", &self.validation_next),
            ("encryption.next", &self.encryption_next),
        ]
        .into_iter()
        .filter_map(|(slot, r)| r.as_ref().map(|r| (slot, r)))
    }
}

/// A certificate, key or keystore of the secrets store.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct SecretRec {
    /// Format version.
    pub(crate) v: u32,
    /// `certificate`, `public-key`, `private-key` or `keystore`.
    pub(crate) kind: String,
    /// The name.
    pub(crate) name: String,
    /// The environment.
    pub(crate) environment: String,
    /// The content (PEM text or keystore bytes), sealed for private kinds.
    pub(crate) content: String,
    /// Whether `content` is sealed.
    pub(crate) sealed: bool,
    /// The password, sealed.
    pub(crate) password: Option<String>,
    /// What listings show (fingerprint, certificate facts, key type, keystore entries) as
    /// JSON, worked out when the content was stored; absent in records from before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) facts: Option<String>,
}

impl JwkRec {
    /// The secret it is attached to: (source type, environment, name); `None` for a detached
    /// JWK or one from a URL, a paste or generation.
    pub(crate) fn attachment(&self) -> Option<(&str, &str, &str)> {
        let source = self.source.as_ref()?;
        Some((
            source.source_type.as_str(),
            source.environment_name.as_deref()?,
            source.name.as_deref()?,
        ))
    }

    /// The key its sealed JSON holds.
    pub(crate) fn open(
        &self,
        key: &crate::crypto::MasterKey,
    ) -> crate::error::Result<jwk_core::Jwk> {
        use crate::error::RegistryError;
        let plain = key.open(&self.sealed_jwk)?;
        let text = std::str::from_utf8(&plain).map_err(|_| {
            RegistryError::internal(format!("the stored JWK {} is not text", self.name))
        })?;
        // Sealed by this registry (authenticated): checked when it was imported.
        jwk_core::from_sealed_json(text).map_err(|e| {
            RegistryError::internal(format!("the stored JWK {} does not parse: {e}", self.name))
        })
    }
}
