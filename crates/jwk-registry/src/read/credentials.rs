//! Credential reads: a credential's slots by JWK name, kid and thumbprint.

use serde::Serialize;

use super::page::{Cursor, DEFAULT_PAGE, Page, all_pages, check_limit, walk};
use crate::actor::Actor;
use crate::error::{RegistryError, Result};
use crate::perm::IDENTITY_VIEW;
use crate::records::{CredentialRec, JwkRec, JwkRef, decode, keys, load};
use crate::registry::Registry;
use crate::types::Pending;

/// A credential as the API shows it: the names of the JWKs in its slots.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct CredentialView {
    /// Username.
    pub username: String,
    /// Validation JWK as `project/name`, if any.
    pub validation_jwk: Option<String>,
    /// Encryption JWK as `project/name`, if any.
    pub encryption_jwk: Option<String>,
    /// The validation slot's JWK.
    pub validation: Option<SlotView>,
    /// The encryption slot's JWK.
    pub encryption: Option<SlotView>,
    /// The validation slot's next JWK, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub validation_next: Option<SlotView>,
    /// The encryption slot's next JWK, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub encryption_next: Option<SlotView>,
    /// Whether the environments serve the credential as saved (`false` until a user holding
    /// IDENTITY+DEPLOY_UNDEPLOY approves a change by one who does not).
    pub deployed: bool,
    /// What is saved and not deployed, when not `deployed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
}

/// The JWK in a credential's slot.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SlotView {
    /// The project holding the JWK (the credential's own or the admin project).
    pub project: String,
    /// The JWK's name.
    pub name: String,
    /// Its kid.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// Its thumbprint (none for a symmetric key).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbprint: Option<String>,
}

impl Registry {
    /// A credential's slots, by JWK `project/name`. Needs IDENTITY+VIEW; 404 when missing.
    pub fn get_credential(
        &self,
        actor: &Actor,
        project: &str,
        username: &str,
    ) -> Result<CredentialView> {
        self.require(actor, project, IDENTITY_VIEW)?;
        let key = keys::credential(project, username);
        // A read of what does not exist is a 404 (the product's changes answer 400).
        let (cred, _) = load::<CredentialRec>(&**self.store(), &key)?.ok_or_else(|| {
            RegistryError::not_found(format!("Credential (username: {username}) was not found!"))
        })?;
        self.credential_view(&key, &cred)
    }

    /// The credentials of a project with their slots, in the order of their usernames: every
    /// page of [`Registry::list_credentials_page`]. Needs IDENTITY+VIEW.
    pub fn list_credentials(&self, actor: &Actor, project: &str) -> Result<Vec<CredentialView>> {
        all_pages(|after| {
            let query = CredentialQuery {
                after,
                ..CredentialQuery::default()
            };
            self.list_credentials_page(actor, project, &query)
        })
    }

    /// One page of a project's credentials: those after `query.after` in the order of their
    /// usernames (the store's order: bytes, with `/` written `%2F` and `%` written `%25`),
    /// whose usernames start with `query.username_prefix`, at most `query.limit` (1 to
    /// [`MAX_PAGE`](super::MAX_PAGE)), and where the next page begins. Needs IDENTITY+VIEW.
    pub fn list_credentials_page(
        &self,
        actor: &Actor,
        project: &str,
        query: &CredentialQuery,
    ) -> Result<Page<CredentialView>> {
        self.require(actor, project, IDENTITY_VIEW)?;
        let limit = check_limit(query.limit)?;
        let base = keys::credentials(project);
        walk(
            &**self.store(),
            (&base, Cursor::Name),
            query.username_prefix.as_deref(),
            query.after.as_deref(),
            limit,
            |_, value| {
                let cred = decode::<CredentialRec>(&base, value)?;
                let key = keys::credential(project, &cred.username);
                self.credential_view(&key, &cred).map(Some)
            },
        )
    }

    fn credential_view(&self, key: &str, cred: &CredentialRec) -> Result<CredentialView> {
        let slot = |r: &Option<JwkRef>| -> Result<Option<SlotView>> {
            let Some(r) = r else { return Ok(None) };
            let Some((jwk, _)) = load::<JwkRec>(&**self.store(), &keys::jwk(&r.project, &r.id))?
            else {
                return Ok(None);
            };
            let opened = jwk.open(&self.key)?;
            Ok(Some(SlotView {
                project: r.project.clone(),
                name: jwk.name,
                kid: opened.params().kid.clone(),
                thumbprint: crate::deploy::shown_thumbprint(&opened),
            }))
        };
        let validation = slot(&cred.validation)?;
        let encryption = slot(&cred.encryption)?;
        let validation_next = slot(&cred.validation_next)?;
        let encryption_next = slot(&cred.encryption_next)?;
        let qualified =
            |s: &Option<SlotView>| s.as_ref().map(|s| format!("{}/{}", s.project, s.name));
        let pending = self.pending(key, cred)?;
        Ok(CredentialView {
            username: cred.username.clone(),
            validation_jwk: qualified(&validation),
            encryption_jwk: qualified(&encryption),
            validation,
            encryption,
            validation_next,
            encryption_next,
            deployed: pending.is_none(),
            pending,
        })
    }
}

/// Which credentials a page lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CredentialQuery {
    /// Only usernames that start with this.
    pub username_prefix: Option<String>,
    /// The cursor: the page begins after this username (a `next` of the page before).
    pub after: Option<String>,
    /// The most credentials on the page, 1 to [`MAX_PAGE`](super::MAX_PAGE).
    pub limit: usize,
}

impl Default for CredentialQuery {
    fn default() -> CredentialQuery {
        CredentialQuery {
            username_prefix: None,
            after: None,
            limit: DEFAULT_PAGE,
        }
    }
}
