//! Credentials and their two JWK slots (validation/signing, decryption/encryption).

use serde::Serialize;

use super::{ADMIN_PROJECT, Actor, Change, Registry, name_in};
use crate::deploy::Slot;
use crate::error::{RegistryError, Result};
use crate::model::{CredentialRec, FORMAT, JwkRec, JwkRef, encode, keys, load};
use crate::perm::{IDENTITY_DEPLOY, IDENTITY_MANAGE, IDENTITY_VIEW};
use crate::store::Txn;

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
    /// Whether the environments serve the credential as saved (`false` until a user holding
    /// IDENTITY+DEPLOY_UNDEPLOY approves a change by one who does not).
    pub deployed: bool,
    /// What is saved and not deployed, when not `deployed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<super::Pending>,
}

fn missing(username: &str) -> String {
    format!("Credential (username: {username}) was not found!")
}

/// The product's 400 for a change that names a missing credential.
pub(super) fn not_found(username: &str) -> RegistryError {
    RegistryError::bad_request(missing(username))
}

impl Registry {
    /// Creates a credential.
    pub(super) fn create_credential(
        &self,
        actor: &Actor,
        project: &str,
        username: &str,
    ) -> Result<Change> {
        let perms = self.require(actor, project, IDENTITY_MANAGE)?;
        let username = name_in("Credential", username)?
            .ok_or_else(|| RegistryError::bad_request("Credential username can not be empty!"))?;
        let rec = CredentialRec {
            v: FORMAT,
            username: username.to_owned(),
            validation: None,
            encryption: None,
        };
        let key = keys::credential(project, username);
        let txn = Txn::new().absent(key.clone()).put(key, encode(&rec));
        let txn = self.approved_if(txn, &perms, IDENTITY_DEPLOY)?;
        let txn = self.audit(txn, actor, "credential.create", Some(project), username)?;
        let committed = self.commit(txn, || {
            RegistryError::bad_request(format!(
                "Credential (username: {username}) is already exist!"
            ))
        })?;
        Ok(self.change_to_deploy(&perms, IDENTITY_DEPLOY, Some(committed)))
    }

    /// The JWK named `name` in `project`, else in the admin project (names are case-sensitive).
    fn resolve_jwk_for(&self, project: &str, name: &str) -> Result<(String, JwkRec, u64)> {
        for p in [project, ADMIN_PROJECT] {
            if let Some((rec, rev, _)) = self.find_jwk(p, name)? {
                return Ok((p.to_owned(), rec, rev));
            }
        }
        Err(RegistryError::bad_request(format!(
            "JWK (name: {name}) is not found!"
        )))
    }

    /// Assigns a JWK to a slot, replacing what was there; with `None` empties the slot.
    /// A compare-and-put on the credential: when two requests race, the slot ends with
    /// exactly one of the two JWKs.
    pub(super) fn set_credential_jwk(
        &self,
        actor: &Actor,
        project: &str,
        username: &str,
        slot: Slot,
        jwk_name: Option<&str>,
    ) -> Result<Change> {
        let perms = self.require(actor, project, IDENTITY_MANAGE)?;
        let key = keys::credential(project, username);
        let committed =
            self.commit_retrying(&format!("Credential (username: {username})"), || {
                let (mut cred, rev) = load::<CredentialRec>(&**self.store(), &key)?
                    .ok_or_else(|| not_found(username))?;
                let mut txn = Txn::new().at(key.clone(), rev);
                let target = match jwk_name {
                    Some(name) => {
                        let (jwk_project, rec, jwk_rev) = self.resolve_jwk_for(project, name)?;
                        // The JWK must still exist, unchanged, when the slot points at it.
                        txn = txn.at(keys::jwk(&jwk_project, &rec.id), jwk_rev);
                        Some(JwkRef {
                            project: jwk_project,
                            id: rec.id,
                        })
                    }
                    None => None,
                };
                match slot {
                    Slot::Validation => cred.validation = target,
                    Slot::Encryption => cred.encryption = target,
                }
                let action = match (slot, jwk_name.is_some()) {
                    (Slot::Validation, true) => "credential.validation.set",
                    (Slot::Validation, false) => "credential.validation.remove",
                    (Slot::Encryption, true) => "credential.encryption.set",
                    (Slot::Encryption, false) => "credential.encryption.remove",
                };
                let txn = txn.put(key.clone(), encode(&cred));
                let txn = self.approved_if(txn, &perms, IDENTITY_DEPLOY)?;
                self.audit(txn, actor, action, Some(project), username)
                    .map(Some)
            })?;
        Ok(self.change_to_deploy(&perms, IDENTITY_DEPLOY, committed))
    }

    /// A credential's slots, by JWK `project/name`.
    pub fn get_credential(
        &self,
        actor: &Actor,
        project: &str,
        username: &str,
    ) -> Result<CredentialView> {
        self.require(actor, project, IDENTITY_VIEW)?;
        let key = keys::credential(project, username);
        // A read of what does not exist is a 404 (the product's changes answer 400).
        let (cred, _) = load::<CredentialRec>(&**self.store(), &key)?
            .ok_or_else(|| RegistryError::not_found(missing(username)))?;
        let name_of = |r: &Option<JwkRef>| -> Result<Option<String>> {
            Ok(match r {
                Some(r) => load::<JwkRec>(&**self.store(), &keys::jwk(&r.project, &r.id))?
                    .map(|(j, _)| format!("{}/{}", r.project, j.name)),
                None => None,
            })
        };
        let pending = self.pending(&key, &cred)?;
        Ok(CredentialView {
            username: cred.username.clone(),
            validation_jwk: name_of(&cred.validation)?,
            encryption_jwk: name_of(&cred.encryption)?,
            deployed: pending.is_none(),
            pending,
        })
    }
}
