//! Stored records (our own versioned JSON format) and their store keys.

use serde::{Deserialize, Serialize, de::DeserializeOwned};

use crate::error::{RegistryError, Result};
use crate::perm::Permission;
use crate::store::{Store, Versioned};

/// Escapes a name for use as one component of a store key ('/' and '%' are encoded).
pub fn component(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '/' => out.push_str("%2F"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
    out
}

/// The name one component of a store key encodes (the inverse of [`component`]).
pub fn name_of(component: &str) -> String {
    let mut out = String::with_capacity(component.len());
    let mut rest = component;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let escape = &rest[i..];
        rest = if let Some(after) = escape.strip_prefix("%2F") {
            out.push('/');
            after
        } else if let Some(after) = escape.strip_prefix("%25") {
            out.push('%');
            after
        } else {
            // Not written by `component`: kept as it is.
            out.push('%');
            &escape[1..]
        };
    }
    out.push_str(rest);
    out
}

/// Store keys.
pub mod keys {
    use super::component as c;

    /// Every project: `project/`.
    pub const PROJECTS: &str = "project/";
    /// Every environment: `env/`.
    pub const ENVIRONMENTS: &str = "env/";
    /// Every project membership: `member/`.
    pub const MEMBERS: &str = "member/";
    /// Every JWK of every project: `jwk/`.
    pub const ALL_JWKS: &str = "jwk/";
    /// Every credential of every project: `cred/`.
    pub const ALL_CREDENTIALS: &str = "cred/";

    /// The project of a credential's key (`cred/<p>/<u>`).
    pub fn credential_project(key: &str) -> Option<String> {
        let (project, _) = key.strip_prefix(ALL_CREDENTIALS)?.split_once('/')?;
        Some(super::name_of(project))
    }

    /// `project/<p>`.
    pub fn project(p: &str) -> String {
        format!("{PROJECTS}{}", c(p))
    }
    /// `env/<e>`.
    pub fn environment(e: &str) -> String {
        format!("{ENVIRONMENTS}{}", c(e))
    }
    /// `user/<u>`.
    pub fn user(u: &str) -> String {
        format!("user/{}", c(u))
    }
    /// `token/<sha256 hex>`.
    pub fn token(hash: &str) -> String {
        format!("token/{hash}")
    }
    /// `member/<p>/<u>`.
    pub fn member(p: &str, u: &str) -> String {
        format!("{MEMBERS}{}/{}", c(p), c(u))
    }
    /// `jwk/<p>/<id>`: the record.
    pub fn jwk(p: &str, id: &str) -> String {
        format!("{ALL_JWKS}{}/{id}", c(p))
    }
    /// `jwk/<p>/`: every JWK of a project.
    pub fn jwks(p: &str) -> String {
        format!("{ALL_JWKS}{}/", c(p))
    }
    /// `jwkname/<p>/<name>`: name → id, the uniqueness index.
    pub fn jwk_name(p: &str, name: &str) -> String {
        format!("jwkname/{}/{}", c(p), c(name))
    }
    /// `cred/<p>/`: every credential of a project.
    pub fn credentials(p: &str) -> String {
        format!("{ALL_CREDENTIALS}{}/", c(p))
    }
    /// `cred/<p>/<username>`.
    pub fn credential(p: &str, u: &str) -> String {
        format!("{ALL_CREDENTIALS}{}/{}", c(p), c(u))
    }
    /// `secret/<p>/`: every secret of a project.
    pub fn secrets(p: &str) -> String {
        format!("secret/{}/", c(p))
    }
    /// `secret/<p>/<kind>/<env>/<name>`.
    pub fn secret(p: &str, kind: &str, env: &str, name: &str) -> String {
        format!("secret/{}/{kind}/{}/{}", c(p), c(env), c(name))
    }
    /// `sync/<p>/<id>`: when a URL-sourced JWK was last fetched, and how that went (kept apart
    /// from the JWK's record, which approval compares).
    pub fn sync(p: &str, id: &str) -> String {
        format!("sync/{}/{id}", c(p))
    }
    /// `sync/<p>/`: the sync records of a project.
    pub fn syncs(p: &str) -> String {
        format!("sync/{}/", c(p))
    }
    /// Every remote JWK Set of every project: `jwkset/`.
    pub const ALL_JWK_SETS: &str = "jwkset/";
    /// `jwkset/<p>/<name>`: a remote JWK Set (where and how it is followed).
    pub fn jwk_set(p: &str, name: &str) -> String {
        format!("{ALL_JWK_SETS}{}/{}", c(p), c(name))
    }
    /// `jwkset/<p>/`: the remote JWK Sets of a project.
    pub fn jwk_sets(p: &str) -> String {
        format!("{ALL_JWK_SETS}{}/", c(p))
    }
    /// The (project, name) of a remote JWK Set's key (`jwkset/<p>/<name>`).
    pub fn jwk_set_of(key: &str) -> Option<(String, String)> {
        let (project, name) = key.strip_prefix(ALL_JWK_SETS)?.split_once('/')?;
        Some((super::name_of(project), super::name_of(name)))
    }
    /// `jwksetkeys/<p>/<name>`: the keys a remote JWK Set serves (content: deployed).
    pub fn jwk_set_keys(p: &str, name: &str) -> String {
        format!("jwksetkeys/{}/{}", c(p), c(name))
    }
    /// `jwksetkeys/<p>/`: the served keys of every remote set of a project.
    pub fn jwk_set_keys_of(p: &str) -> String {
        format!("jwksetkeys/{}/", c(p))
    }
    /// `jwksetstatus/<p>/<name>`: how a remote JWK Set's fetches go, and the lease of the node
    /// fetching it (not content: writing it deploys nothing).
    pub fn jwk_set_status(p: &str, name: &str) -> String {
        format!("jwksetstatus/{}/{}", c(p), c(name))
    }
    /// `jwkfollow/<p>/<id>`: how the fetches of a followed URL-sourced JWK go, and the lease
    /// of the node fetching it (not content).
    pub fn jwk_follow(p: &str, id: &str) -> String {
        format!("jwkfollow/{}/{id}", c(p))
    }
    /// `deploy/<env>`: what an environment serves.
    pub fn deploy(e: &str) -> String {
        format!("deploy/{}", c(e))
    }
    /// `approved/<key>`: the version of a served record (`jwk/…`, `cred/…`) that a user
    /// holding the deploy permission approved; deployments ship these copies only.
    pub fn approved(key: &str) -> String {
        format!("{APPROVED}{key}")
    }
    /// The prefix of approved copies.
    pub const APPROVED: &str = "approved/";
    /// Present once the approved copies exist (written with the first copy of every record
    /// stored before approval existed, all of which were served).
    pub const APPROVAL_LAYOUT: &str = "meta/approval-layout";
    /// Rewritten by every change of content: its revision is the content revision that
    /// deployments are compared with.
    pub const CONTENT: &str = "meta/content";
    /// A value sealed with the master key: a node with another key refuses to start.
    pub const MASTER_KEY_CHECK: &str = "meta/master-key-check";
    /// The registry's identity (`Registry::id`), which a data dir records.
    pub const REGISTRY_ID: &str = "meta/registry-id";
    /// `audit/<unix nanos>-<random>` (the suffix from [`audit_suffix`]).
    pub fn audit(suffix: &str) -> String {
        format!("audit/{suffix}")
    }
    /// `<unix nanos>-<random>`: the part of an audit key that orders entries by time.
    pub fn audit_suffix(nanos: u128, salt: u32) -> String {
        format!("{nanos:032}-{salt:08x}")
    }
    /// `jwkhist/<p>/<id>/`: the audit entries of one JWK (a copy of each, written in the
    /// same transaction as the global entry), which follow the JWK through renames.
    pub fn jwk_history(p: &str, id: &str) -> String {
        format!("jwkhist/{}/{id}/", c(p))
    }
}

/// Record format version written in every record.
pub const FORMAT: u32 = 1;

/// A project.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct ProjectRec {
    /// Format version.
    pub v: u32,
    /// The name.
    pub name: String,
}

/// Where an environment deploys to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum TargetConfig {
    /// The in-process resolver (`Registry::resolver`).
    Memory,
    /// An atomically replaced JWKS file of public keys.
    File {
        /// The file path.
        path: String,
    },
    /// An HTTP POST of the public keys.
    Webhook {
        /// The URL.
        url: String,
    },
    /// A target the host registered with `Registry::register_target`.
    Custom,
}

/// An environment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct EnvironmentRec {
    /// Format version.
    pub v: u32,
    /// The name.
    pub name: String,
    /// The target.
    pub target: TargetConfig,
}

/// A user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct UserRec {
    /// Format version.
    pub v: u32,
    /// The username.
    pub username: String,
    /// SHA-256 (hex) of the token; the token itself is never stored.
    pub token_sha256: String,
    /// The admin user can do everything everywhere.
    pub admin: bool,
}

/// A user's permissions in a project.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct MemberRec {
    /// Format version.
    pub v: u32,
    /// The permissions.
    pub permissions: Vec<Permission>,
}

/// Where a JWK came from, until an update detaches it.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SourceRec {
    /// URL, COPY_PASTE, CERTIFICATE, PUBLIC_KEY, PRIVATE_KEY, KEYSTORE or GENERATE.
    pub source_type: String,
    /// Certificate, key or keystore name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Environment of the certificate, key or keystore.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment_name: Option<String>,
    /// Keystore alias.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias_name: Option<String>,
    /// URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// URL fetch options (ms, ms, bytes).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_options: Option<(u64, u64, u64)>,
    /// The kid asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// For URL sources: (kid, thumbprint) of every usable key of the set last fetched.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub set_kids: Vec<(String, String)>,
    /// For URL sources: the ETag of the last fetch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// URL: followed with this refresh policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub follow: Option<crate::registry::RefreshPolicy>,
}

impl SourceRec {
    /// A source of this type with nothing else recorded yet.
    pub fn of_type(source_type: &str) -> SourceRec {
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

/// The last fetch of a URL-sourced JWK.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct SyncRec {
    /// Format version.
    pub v: u32,
    /// When (RFC 3339).
    pub at: String,
    /// "fetched", "not modified" or "failed: <why>".
    pub result: String,
}

/// A JWK of a project.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct JwkRec {
    /// Format version.
    pub v: u32,
    /// Stable id (credentials refer to it, so a rename keeps references).
    pub id: String,
    /// The name (unique in the project, case-sensitive).
    pub name: String,
    /// The description.
    pub description: String,
    /// The public JSON view (for oct keys: without `k`).
    pub public_jwk: String,
    /// The full canonical JSON, sealed with the master key.
    pub sealed_jwk: String,
    /// Whether the key holds private or symmetric material.
    pub private: bool,
    /// The source, until an update (or the deletion of its secret) detaches it.
    pub source: Option<SourceRec>,
    /// When the JWK was detached from its source (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detached_at: Option<String>,
    /// Its state (left out when `active`).
    #[serde(default, skip_serializing_if = "crate::deploy::KeyState::is_active")]
    pub state: crate::deploy::KeyState,
    /// Its own `nbf` / `exp` as set by a user (left out when unbounded); a certificate's
    /// validity narrows it when the JWK is opened.
    #[serde(default, skip_serializing_if = "crate::deploy::Validity::is_unbounded")]
    pub validity: crate::deploy::Validity,
}

/// A reference from a credential slot to a JWK.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct JwkRef {
    /// The project holding the JWK (the credential's own or the admin project).
    pub project: String,
    /// The JWK's id.
    pub id: String,
}

/// A credential and its two JWK slots.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct CredentialRec {
    /// Format version.
    pub v: u32,
    /// The username.
    pub username: String,
    /// Validation / signing.
    pub validation: Option<JwkRef>,
    /// Decryption / encryption.
    pub encryption: Option<JwkRef>,
    /// The validation slot's next JWK (published, promoted by
    /// `Command::PromoteCredentialJwk`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub validation_next: Option<JwkRef>,
    /// The encryption slot's next JWK.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_next: Option<JwkRef>,
}

impl CredentialRec {
    /// A slot's current JWK.
    pub fn current(&mut self, slot: crate::deploy::Slot) -> &mut Option<JwkRef> {
        match slot {
            crate::deploy::Slot::Validation => &mut self.validation,
            crate::deploy::Slot::Encryption => &mut self.encryption,
        }
    }

    /// A slot's next JWK.
    pub fn next(&mut self, slot: crate::deploy::Slot) -> &mut Option<JwkRef> {
        match slot {
            crate::deploy::Slot::Validation => &mut self.validation_next,
            crate::deploy::Slot::Encryption => &mut self.encryption_next,
        }
    }

    /// Every JWK it refers to: the slots' current and next JWKs.
    pub fn refs(&self) -> impl Iterator<Item = &JwkRef> {
        self.slot_refs().map(|(_, r)| r)
    }

    /// Every JWK it refers to with the slot holding it: `validation`, `encryption`,
    /// `validation.next`, `encryption.next`, in that order.
    pub fn slot_refs(&self) -> impl Iterator<Item = (&'static str, &JwkRef)> {
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
pub struct SecretRec {
    /// Format version.
    pub v: u32,
    /// `certificate`, `public-key`, `private-key` or `keystore`.
    pub kind: String,
    /// The name.
    pub name: String,
    /// The environment.
    pub environment: String,
    /// The content (PEM text or keystore bytes), sealed for private kinds.
    pub content: String,
    /// Whether `content` is sealed.
    pub sealed: bool,
    /// The password, sealed.
    pub password: Option<String>,
    /// What listings show (fingerprint, certificate facts, key type, keystore entries) as
    /// JSON, worked out when the content was stored; absent in records from before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub facts: Option<String>,
}

/// What an environment serves, as its last deployment reported.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub struct DeployRec {
    /// Format version.
    pub v: u32,
    /// The store revision deployed last.
    pub revision: u64,
    /// The snapshot's validity epoch deployed last
    /// ([`crate::deploy::EnvironmentSnapshot::validity_epoch`]).
    #[serde(default)]
    pub validity_epoch: i64,
    /// True when the last deployment to the environment failed (it is retried).
    pub pending: bool,
    /// Why the last attempt failed.
    pub error: Option<String>,
    /// The thumbprints the target reported serving.
    pub thumbprints: Vec<String>,
}

/// One audit log entry: who did what, when. Never key material.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct AuditRec {
    /// Format version.
    pub v: u32,
    /// RFC 3339 UTC time.
    pub at: String,
    /// The username.
    pub actor: String,
    /// What was done, e.g. `jwk.create`.
    pub action: String,
    /// The project, if any.
    pub project: Option<String>,
    /// The object, e.g. the JWK name.
    pub target: String,
}

/// Serialises a record.
pub fn encode<T: Serialize>(rec: &T) -> Vec<u8> {
    serde_json::to_vec(rec).expect("records serialise")
}

fn corrupt(key: &str, e: serde_json::Error) -> RegistryError {
    RegistryError::internal(format!("the stored record {key} is unreadable: {e}"))
}

/// Reads a record and its revision.
pub fn load<T: DeserializeOwned>(store: &dyn Store, key: &str) -> Result<Option<(T, u64)>> {
    match store.get(key.as_bytes())? {
        Some(Versioned { value, revision }) => serde_json::from_slice(&value)
            .map(|r| Some((r, revision)))
            .map_err(|e| corrupt(key, e)),
        None => Ok(None),
    }
}

/// Reads every record under a prefix, with its key and revision.
pub fn load_all<T: DeserializeOwned>(
    store: &dyn Store,
    prefix: &str,
) -> Result<Vec<(String, T, u64)>> {
    store
        .scan(prefix.as_bytes())?
        .into_iter()
        .map(|(k, v)| {
            let key = String::from_utf8_lossy(&k).into_owned();
            let rec = serde_json::from_slice(&v.value).map_err(|e| corrupt(&key, e))?;
            Ok((key, rec, v.revision))
        })
        .collect()
}

#[cfg(test)]
mod key_tests {
    use super::*;

    #[test]
    fn names_in_keys_come_back_as_they_were() {
        for name in ["plain", "a/b", "100%", "%2F", "a%252Fb", "/%/", ""] {
            assert_eq!(name_of(&component(name)), name);
        }
        assert_eq!(name_of("50%"), "50%");
        assert_eq!(name_of("%😀%2"), "%😀%2");
        assert_eq!(
            keys::credential_project(&keys::credential("my/project", "u")),
            Some("my/project".to_owned())
        );
        assert_eq!(keys::credential_project("jwk/p/id"), None);
    }
}
