//! Secrets-store reads: List and Get of certificates, keys and keystores (never private
//! material or a password), with the JWKs attached to each.

use jwk_core::ImportOptions;
use serde::{Deserialize, Serialize};

use super::page::{Cursor, DEFAULT_PAGE, Page, all_pages, check_limit, walk};
use crate::actor::Actor;
use crate::error::{RegistryError, Result};
use crate::handlers::{
    attached_jwks, find_secret, secret_content, secret_not_found, secret_password,
};
use crate::perm::SECRETS_VIEW;
use crate::records::{SecretRec, decode, index, keys};
use crate::registry::Registry;
use crate::rules::secrets::{SecretFacts, facts_of};
use crate::types::{SecretKind, SecretName};

/// A secret as List and Get show it: never private material or a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretView {
    /// The name.
    pub name: String,
    /// CERTIFICATE, PUBLIC_KEY, PRIVATE_KEY or KEYSTORE.
    #[serde(rename = "type")]
    pub kind: SecretKind,
    /// The environment.
    pub environment_name: String,
    /// SHA-256, lower-case hex: of the DER certificate, of the keystore file, or for a key the
    /// RFC 7638 thumbprint of its public key (base64url).
    pub fingerprint: String,
    /// What a certificate says about itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateView>,
    /// A key's (or a certificate's) type and size or curve: "RSA 2048", "EC P-256", …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    /// A keystore's entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<Vec<KeystoreEntryView>>,
    /// The JWKs created from this secret and still attached to it, sorted.
    pub attached_jwks: Vec<String>,
    /// Get only: the PEM of a certificate or a public key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pem: Option<String>,
}

/// Subject, issuer and validity of a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateView {
    /// RFC 4514 subject.
    pub subject: String,
    /// RFC 4514 issuer.
    pub issuer: String,
    /// RFC 3339.
    pub not_before: String,
    /// RFC 3339.
    pub not_after: String,
    /// Lower-case hex.
    pub serial: String,
}

/// One entry of a keystore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeystoreEntryView {
    /// Its alias (none for an entry without one).
    pub alias: Option<String>,
    /// PRIVATE_KEY, SECRET_KEY or CERTIFICATE.
    pub entry_type: String,
    /// "RSA 2048", "EC P-256", "oct 256", …
    pub key_type: String,
}

impl Registry {
    /// The secrets of a project (of one environment, when given): every page of
    /// [`Registry::list_secrets_page`]. Needs SECRETS+VIEW.
    pub fn list_secrets(
        &self,
        actor: &Actor,
        project: &str,
        environment: Option<&str>,
    ) -> Result<Vec<SecretView>> {
        all_pages(|after| {
            let query = SecretQuery {
                environment: environment.map(str::to_owned),
                after,
                ..SecretQuery::default()
            };
            self.list_secrets_page(actor, project, &query)
        })
    }

    /// One page of a project's secrets, in the store's order: by type (`certificate`,
    /// `keystore`, `private-key`, `public-key`), environment and name. The cursor is the
    /// secret's place as `<type>/<environment>/<name>` (`/` in a name written `%2F`, `%`
    /// written `%25`): give a page's `next` as `after`. Needs SECRETS+VIEW.
    pub fn list_secrets_page(
        &self,
        actor: &Actor,
        project: &str,
        query: &SecretQuery,
    ) -> Result<Page<SecretView>> {
        self.require(actor, project, SECRETS_VIEW)?;
        let limit = check_limit(query.limit)?;
        let store = &**self.store();
        self.layout.ensure(store)?;
        let base = keys::secrets(project);
        walk(
            store,
            (&base, Cursor::Key),
            None,
            query.after.as_deref(),
            limit,
            |_, value| {
                let rec = decode::<SecretRec>(&base, value)?;
                if query
                    .environment
                    .as_ref()
                    .is_some_and(|e| *e != rec.environment)
                {
                    return Ok(None);
                }
                let kind = stored_kind(&rec)?;
                let place = (
                    kind.source_type(),
                    rec.environment.as_str(),
                    rec.name.as_str(),
                );
                let mut names: Vec<String> = index::attached_named(store, project, place)?
                    .into_iter()
                    .map(|(_, name)| name)
                    .collect();
                names.sort();
                self.secret_view(kind, &rec, names, false).map(Some)
            },
        )
    }

    /// One secret, with the PEM of a certificate or a public key. Needs SECRETS+VIEW; a
    /// secret that does not exist is 404.
    pub fn get_secret(
        &self,
        actor: &Actor,
        project: &str,
        secret: &SecretName,
    ) -> Result<SecretView> {
        self.require(actor, project, SECRETS_VIEW)?;
        self.layout.ensure(&**self.store())?;
        let ctx = self.ctx(actor);
        let (kind, rec, _, _) = find_secret(&ctx, project, secret)?
            .ok_or_else(|| RegistryError::not_found(secret_not_found(secret).to_string()))?;
        let attached = attached_jwks(&ctx, project, kind, &rec)?
            .into_iter()
            .map(|(_, j, _)| j.name)
            .collect();
        self.secret_view(kind, &rec, attached, true)
    }

    fn secret_view(
        &self,
        kind: SecretKind,
        rec: &SecretRec,
        attached_jwks: Vec<String>,
        with_pem: bool,
    ) -> Result<SecretView> {
        let unreadable = |e: jwk_core::Error| {
            RegistryError::internal(format!("the stored secret {} does not read: {e}", rec.name))
        };
        let stored = rec
            .facts
            .as_deref()
            .and_then(|f| serde_json::from_str::<SecretFacts>(f).ok());
        let facts = match stored {
            Some(facts) => facts,
            // Stored before facts were recorded: worked out now.
            None => {
                let content = secret_content(&self.key, rec)?;
                let password = secret_password(&self.key, rec)?;
                facts_of(kind, &content, password.as_deref().map(String::as_str))
                    .map_err(unreadable)?
            }
        };
        let pem = match kind {
            SecretKind::Certificate if with_pem => {
                let content = secret_content(&self.key, rec)?;
                let jwk =
                    jwk_core::import(&content, &ImportOptions::default()).map_err(unreadable)?;
                jwk.params()
                    .x5c
                    .as_ref()
                    .and_then(|c| c.first())
                    .map(|der| pem_block("CERTIFICATE", der))
            }
            SecretKind::PublicKey if with_pem => Some(
                String::from_utf8_lossy(&secret_content(&self.key, rec)?)
                    .trim()
                    .to_owned(),
            ),
            _ => None,
        };
        Ok(SecretView {
            name: rec.name.clone(),
            kind,
            environment_name: rec.environment.clone(),
            fingerprint: facts.fingerprint,
            certificate: facts.certificate.map(|c| CertificateView {
                subject: c.subject,
                issuer: c.issuer,
                not_before: c.not_before,
                not_after: c.not_after,
                serial: c.serial,
            }),
            key_type: facts.key_type,
            entries: facts.entries.map(|entries| {
                entries
                    .into_iter()
                    .map(|e| KeystoreEntryView {
                        alias: e.alias,
                        entry_type: e.entry_type,
                        key_type: e.key_type,
                    })
                    .collect()
            }),
            attached_jwks,
            pem,
        })
    }
}

/// The kind a stored secret says it is.
fn stored_kind(rec: &SecretRec) -> Result<SecretKind> {
    SecretKind::from_stored(&rec.kind).ok_or_else(|| {
        RegistryError::internal(format!("the stored secret {} has no known kind", rec.name))
    })
}

/// A PEM block of `der`, lines of 64 characters.
fn pem_block(label: &str, der: &[u8]) -> String {
    use base64ct::{Base64, Encoding};
    let body = Base64::encode_string(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}

/// Which secrets a page lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretQuery {
    /// Only the secrets of this environment.
    pub environment: Option<String>,
    /// The cursor: the page begins after this place (a `next` of the page before).
    pub after: Option<String>,
    /// The most secrets on the page, 1 to [`MAX_PAGE`](super::MAX_PAGE).
    pub limit: usize,
}

impl Default for SecretQuery {
    fn default() -> SecretQuery {
        SecretQuery {
            environment: None,
            after: None,
            limit: DEFAULT_PAGE,
        }
    }
}
