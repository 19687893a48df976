//! What the web console shows on a JWK's page besides the JWK: its history (the audit
//! entries about it, which follow it through renames) and the credentials that use it.

use serde::Serialize;

use super::page::{Cursor, Page, check_limit, walk};
use crate::actor::Actor;
use crate::error::{RegistryError, Result};
use crate::perm::{IDENTITY_VIEW, SECRETS_VIEW};
use crate::plan::has;
use crate::records::{AuditRec, decode, keys, load_all};
use crate::registry::Registry;

/// The most entries one history page holds.
pub const MAX_HISTORY_PAGE: usize = 100;
/// The entries a history page holds when the caller does not say.
pub const DEFAULT_HISTORY_PAGE: usize = 20;

/// One audit entry of a JWK's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// The entry's place in the history (give it as `after` for the entries older than it).
    pub id: String,
    /// When (RFC 3339 UTC).
    pub at: String,
    /// Who: a username, or `system` for the automatic refreshes and rotations.
    pub actor: String,
    /// What, e.g. `jwk.create.COPY_PASTE`, `jwk.update`, `jwk.state.retired`.
    pub action: String,
    /// The JWK's name at the time (a rename shows the new name).
    pub name: String,
}

/// A page of a JWK's history, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryPage {
    /// The entries, newest first.
    pub entries: Vec<HistoryEntry>,
    /// Whether older entries are kept than this page holds.
    pub more: bool,
    /// When `more`: the `after` of the next page (the last entry's id).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// One entry of the registry's audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    /// Its place in the log (give it as `after` for the entries after it).
    pub id: String,
    /// When (RFC 3339 UTC).
    pub at: String,
    /// Who: a username, or a system actor (`system:refresh`, `system:rotation`, …).
    pub actor: String,
    /// What, e.g. `jwk.create.COPY_PASTE`, `credential.update`.
    pub action: String,
    /// The project, when the change was in one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project: Option<String>,
    /// What it was done to, e.g. a JWK's name.
    pub target: String,
}

/// A credential that uses a JWK, and the slots that hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CredentialUse {
    /// The credential's project.
    pub project: String,
    /// The credential's username.
    pub username: String,
    /// `validation`, `encryption`, `validation.next`, `encryption.next`: the slots holding
    /// the JWK, in that order.
    pub slots: Vec<String>,
}

/// The credentials that use a JWK.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JwkUsage {
    /// Those in projects where the caller holds IDENTITY+VIEW, by project then username.
    pub credentials: Vec<CredentialUse>,
    /// How many more use it in projects where the caller does not (an admin-project JWK is
    /// usable from every project): counted, not named.
    pub hidden: usize,
}

impl Registry {
    /// A JWK's history from the audit log, newest first, at most `limit` entries (1 to
    /// [`MAX_HISTORY_PAGE`]). Needs SECRETS+VIEW. A JWK keeps its last
    /// [`super::MAX_JWK_HISTORY`] entries; JWKs saved before histories were kept start
    /// with the first change after.
    pub fn jwk_history(
        &self,
        actor: &Actor,
        project: &str,
        name: &str,
        limit: usize,
    ) -> Result<HistoryPage> {
        self.jwk_history_after(actor, project, name, None, limit)
    }

    /// The page of a JWK's history older than the entry `after` (an entry's `id`, a page's
    /// `next`), newest first; [`Registry::jwk_history`] from the newest.
    pub fn jwk_history_after(
        &self,
        actor: &Actor,
        project: &str,
        name: &str,
        after: Option<&str>,
        limit: usize,
    ) -> Result<HistoryPage> {
        self.require(actor, project, SECRETS_VIEW)?;
        if !(1..=MAX_HISTORY_PAGE).contains(&limit) {
            return Err(RegistryError::bad_request(format!(
                "limit must be between 1 and {MAX_HISTORY_PAGE}!"
            )));
        }
        let id = self.jwk_to_read(project, name)?.id;
        let prefix = keys::jwk_history(project, &id);
        // At most MAX_JWK_HISTORY entries: read whole, newest first.
        let mut older: Vec<(String, AuditRec)> = load_all::<AuditRec>(&**self.store(), &prefix)?
            .into_iter()
            .rev()
            .map(|(key, a, _)| (key[prefix.len()..].to_owned(), a))
            .filter(|(id, _)| after.is_none_or(|after| id.as_str() < after))
            .collect();
        let more = older.len() > limit;
        older.truncate(limit);
        let entries: Vec<HistoryEntry> = older
            .into_iter()
            .map(|(id, a)| HistoryEntry {
                id,
                at: a.at,
                actor: a.actor,
                action: a.action,
                name: a.target,
            })
            .collect();
        let next = more.then(|| entries.last().map(|e| e.id.clone())).flatten();
        Ok(HistoryPage {
            entries,
            more,
            next,
        })
    }

    /// A page of the registry's audit log, oldest first: the entries after `after` (an
    /// entry's `id`, a page's `next`), at most `limit` (1 to [`MAX_PAGE`](super::MAX_PAGE)).
    /// Only the admin user reads it.
    pub fn audit_log(
        &self,
        actor: &Actor,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Page<AuditEntry>> {
        if !actor.is_admin() {
            return Err(RegistryError::forbidden(
                "Only the admin user can read the audit log!",
            ));
        }
        let limit = check_limit(limit)?;
        walk(
            &**self.store(),
            (keys::AUDIT, Cursor::Key),
            None,
            after,
            limit,
            |id, value| {
                let a = decode::<AuditRec>(keys::AUDIT, value)?;
                Ok(Some(AuditEntry {
                    id: id.to_owned(),
                    at: a.at,
                    actor: a.actor,
                    action: a.action,
                    project: a.project,
                    target: a.target,
                }))
            },
        )
    }

    /// The credentials (of any project) whose slots hold the JWK, current or next. Needs
    /// SECRETS+VIEW; credentials are named only in projects where the caller holds
    /// IDENTITY+VIEW.
    pub fn jwk_usage(&self, actor: &Actor, project: &str, name: &str) -> Result<JwkUsage> {
        self.require(actor, project, SECRETS_VIEW)?;
        let id = self.jwk_to_read(project, name)?.id;
        self.layout.ensure(&**self.store())?;
        let (users, _) = crate::records::index::users(&**self.store(), project, &id)?;
        let mut credentials = Vec::new();
        let mut hidden = 0;
        let mut visible = std::collections::HashMap::<String, bool>::new();
        for (cred_project, username, slots) in users {
            let seen = match visible.get(&cred_project) {
                Some(v) => *v,
                None => {
                    let v = match self.access(actor, &cred_project) {
                        Ok(perms) => has(&perms, IDENTITY_VIEW),
                        Err(e) if e.kind() == crate::ErrorKind::NotFound => false,
                        Err(e) => return Err(e),
                    };
                    visible.insert(cred_project.clone(), v);
                    v
                }
            };
            if seen {
                credentials.push(CredentialUse {
                    project: cred_project,
                    username,
                    slots,
                });
            } else {
                hidden += 1;
            }
        }
        credentials.sort_by(|a, b| (&a.project, &a.username).cmp(&(&b.project, &b.username)));
        Ok(JwkUsage {
            credentials,
            hidden,
        })
    }
}
