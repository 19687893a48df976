//! Deployment approval: what environments serve is the version of each served record (a JWK,
//! a credential's slots) that a user holding the deploy permission approved.
//!
//! A change by such a user writes the record and its approved copy (`approved/<key>`) in one
//! transaction. A change by a user without the permission writes the record only: it is saved,
//! shown as not deployed, and served nowhere (no reconcile, no other user's deployment ships
//! it) until a permitted user deploys it ([`Registry::deploy_jwk`],
//! [`Registry::deploy_credential`]) or changes it again. Snapshots read the approved copies.

use std::sync::atomic::Ordering;

use super::{Actor, Change, Registry, has};
use crate::error::{RegistryError, Result};
use crate::model::{CredentialRec, JwkRec, encode, keys, load, load_all};
use crate::perm::{IDENTITY_DEPLOY, Permission, SECRETS_DEPLOY};
use crate::store::{Op, Txn};

/// What of a served record is not deployed yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pending {
    /// Saved, never approved: served nowhere.
    Created,
    /// Approved once; the saved version differs from the served one.
    Changed,
}

/// Whether a served record's key is one whose writes are mirrored into approved copies.
fn is_served(key: &[u8]) -> bool {
    key.starts_with(keys::ALL_JWKS.as_bytes()) || key.starts_with(keys::ALL_CREDENTIALS.as_bytes())
}

/// The transaction with every write to a served record repeated on its approved copy.
fn mirrored(mut txn: Txn) -> Txn {
    let copies: Vec<Op> = txn
        .ops
        .iter()
        .filter_map(|op| match op {
            Op::Put(key, value) if is_served(key) => Some(Op::Put(
                [keys::APPROVED.as_bytes(), key].concat(),
                value.clone(),
            )),
            Op::Delete(key) if is_served(key) => {
                Some(Op::Delete([keys::APPROVED.as_bytes(), key].concat()))
            }
            _ => None,
        })
        .collect();
    txn.ops.extend(copies);
    txn
}

impl Registry {
    /// A change's transaction, approved (its served records' copies written too) when the
    /// actor holds `deploy` in the project; as it is otherwise.
    pub(crate) fn approved_if(
        &self,
        txn: Txn,
        perms: &[Permission],
        deploy: Permission,
    ) -> Result<Txn> {
        self.ensure_approval_layout()?;
        Ok(if has(perms, deploy) {
            mirrored(txn)
        } else {
            txn
        })
    }

    /// Makes the approved copies on first use: a registry from before approval served every
    /// record it held, so each is copied as approved, once (guarded by
    /// [`keys::APPROVAL_LAYOUT`], so racing nodes copy once between them).
    pub(crate) fn ensure_approval_layout(&self) -> Result<()> {
        if self.approval_layout.load(Ordering::Acquire) {
            return Ok(());
        }
        let layout = self.commit_retrying("The approved copies", || {
            if self
                .store()
                .get(keys::APPROVAL_LAYOUT.as_bytes())?
                .is_some()
            {
                return Ok(None);
            }
            let mut txn = Txn::new().absent(keys::APPROVAL_LAYOUT);
            for prefix in [keys::ALL_JWKS, keys::ALL_CREDENTIALS] {
                for (key, value) in self.store().scan(prefix.as_bytes())? {
                    txn = txn
                        .at(key.clone(), value.revision)
                        .put([keys::APPROVED.as_bytes(), &key].concat(), value.value);
                }
            }
            Ok(Some(txn.put(keys::APPROVAL_LAYOUT, "1")))
        });
        layout.map(|_| self.approval_layout.store(true, Ordering::Release))
    }

    /// How the saved record at `key` stands against its approved copy: `None` when they are
    /// the same (deployed).
    pub(crate) fn pending<T: serde::de::DeserializeOwned + PartialEq>(
        &self,
        key: &str,
        saved: &T,
    ) -> Result<Option<Pending>> {
        self.ensure_approval_layout()?;
        let approved = load::<T>(&**self.store(), &keys::approved(key))?;
        Ok(pending_against(approved.as_ref().map(|(a, _)| a), saved))
    }

    /// Deploy JWK: approves the JWK `name` of `project` as it is saved (or its deletion, or
    /// a rename away from `name`), then [`Registry::deploy`] ships it. Needs
    /// SECRETS+DEPLOY_UNDEPLOY.
    pub(super) fn deploy_jwk(&self, actor: &Actor, project: &str, name: &str) -> Result<Change> {
        let perms = self.require(actor, project, SECRETS_DEPLOY)?;
        self.ensure_approval_layout()?;
        let committed = self.commit_retrying(&format!("JWK (name: {name})"), || {
            let saved = self.find_jwk(project, name)?;
            let mut txn = Txn::new();
            if let Some((rec, rev, _)) = &saved {
                let key = keys::jwk(project, &rec.id);
                txn = txn
                    .at(key.clone(), *rev)
                    .put(keys::approved(&key), encode(rec));
            }
            // Served copies under this name that are no longer what is saved under it: a
            // deletion (nothing saved under the id), or a rename (the id saved under a new
            // name, which is approved with it).
            let approved_prefix = keys::approved(&keys::jwks(project));
            for (approved_key, approved, approved_rev) in
                load_all::<JwkRec>(&**self.store(), &approved_prefix)?
            {
                if approved.name != name || saved.as_ref().is_some_and(|s| s.0.id == approved.id) {
                    continue;
                }
                let key = keys::jwk(project, &approved.id);
                txn = txn.at(approved_key.clone(), approved_rev);
                txn = match load::<JwkRec>(&**self.store(), &key)? {
                    Some((renamed, rev)) => txn.at(key, rev).put(approved_key, encode(&renamed)),
                    None => txn.absent(key).delete(approved_key),
                };
            }
            if txn.ops.is_empty() {
                return Err(RegistryError::bad_request(format!(
                    "JWK (name: {name}) is not found!"
                )));
            }
            let ids: Vec<&str> = saved.iter().map(|(rec, _, _)| rec.id.as_str()).collect();
            self.audit_jwk(txn, actor, "jwk.deploy", project, name, &ids)
                .map(Some)
        })?;
        Ok(self.change_to_deploy(&perms, SECRETS_DEPLOY, committed))
    }

    /// Deploy credential: approves the credential `username` of `project` (its slots) as it
    /// is saved, or its deletion, then [`Registry::deploy`] ships it. Needs
    /// IDENTITY+DEPLOY_UNDEPLOY.
    pub(super) fn deploy_credential(
        &self,
        actor: &Actor,
        project: &str,
        username: &str,
    ) -> Result<Change> {
        let perms = self.require(actor, project, IDENTITY_DEPLOY)?;
        self.ensure_approval_layout()?;
        let key = keys::credential(project, username);
        let approved_key = keys::approved(&key);
        let committed =
            self.commit_retrying(&format!("Credential (username: {username})"), || {
                let saved = self.store().get(key.as_bytes())?;
                let approved = self.store().get(approved_key.as_bytes())?;
                let txn = match (&saved, &approved) {
                    (None, None) => return Err(super::credentials::not_found(username)),
                    (Some(s), _) => Txn::new()
                        .at(key.as_str(), s.revision)
                        .put(approved_key.as_str(), s.value.clone()),
                    (None, Some(a)) => Txn::new()
                        .absent(key.as_str())
                        .at(approved_key.as_str(), a.revision)
                        .delete(approved_key.as_str()),
                };
                // Only records that decode are approved.
                if let Some(s) = &saved {
                    serde_json::from_slice::<CredentialRec>(&s.value).map_err(|e| {
                        RegistryError::internal(format!(
                            "the stored record {key} is unreadable: {e}"
                        ))
                    })?;
                }
                self.audit(txn, actor, "credential.deploy", Some(project), username)
                    .map(Some)
            })?;
        Ok(self.change_to_deploy(&perms, IDENTITY_DEPLOY, committed))
    }
}

/// How a saved record stands against its approved copy (`None`: never approved).
pub(crate) fn pending_against<T: PartialEq>(approved: Option<&T>, saved: &T) -> Option<Pending> {
    match approved {
        None => Some(Pending::Created),
        Some(approved) if approved != saved => Some(Pending::Changed),
        Some(_) => None,
    }
}
