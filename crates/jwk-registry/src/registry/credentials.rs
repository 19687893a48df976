//! Credentials and their two JWK slots (validation/signing, decryption/encryption).

use serde::Serialize;

use super::{ADMIN_PROJECT, Actor, Change, Registry, name_in};
use crate::deploy::{KeyState, Slot};
use crate::error::{RegistryError, Result};
use crate::model::{CredentialRec, FORMAT, JwkRec, JwkRef, encode, keys, load};
use crate::perm::{
    IDENTITY_DEPLOY, IDENTITY_MANAGE, IDENTITY_VIEW, SECRETS_DEPLOY, SECRETS_MANAGE,
};
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
    pub pending: Option<super::Pending>,
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
            validation_next: None,
            encryption_next: None,
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
        self.assign_slot(actor, project, username, (slot, false), jwk_name)
    }

    /// Sets a slot's next JWK (with `None`, removes it): published (by kid, thumbprint and
    /// name, and [`crate::Resolver::credential_next`]) so that consumers hold it before
    /// [`Registry::promote_credential_jwk`] makes it the slot's JWK. It must suit the slot,
    /// be `pending` or `active`, and differ from the slot's current JWK. IDENTITY+MANAGE;
    /// deployed with IDENTITY+DEPLOY_UNDEPLOY.
    pub(super) fn set_credential_next_jwk(
        &self,
        actor: &Actor,
        project: &str,
        username: &str,
        slot: Slot,
        jwk_name: Option<&str>,
    ) -> Result<Change> {
        self.assign_slot(actor, project, username, (slot, true), jwk_name)
    }

    /// Points a slot's current JWK (`next` false) or its next JWK (`next` true) at the JWK
    /// `jwk_name`, or empties it: one compare-and-put on the credential and the JWK.
    fn assign_slot(
        &self,
        actor: &Actor,
        project: &str,
        username: &str,
        (slot, next): (Slot, bool),
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
                        slot_takes(slot, name, &self.open_jwk(&rec)?)?;
                        if next && !matches!(rec.state, KeyState::Pending | KeyState::Active) {
                            return Err(RegistryError::bad_request(format!(
                                "JWK (name: {name}) is {}: a slot's next JWK must be pending or active!",
                                rec.state.as_str()
                            )));
                        }
                        let target = JwkRef {
                            project: jwk_project,
                            id: rec.id,
                        };
                        if next && cred.current(slot).as_ref() == Some(&target) {
                            return Err(RegistryError::bad_request(format!(
                                "JWK (name: {name}) is already the {} JWK of credential (username: {username})!",
                                slot.as_str()
                            )));
                        }
                        // The JWK must still exist, unchanged, when the slot points at it.
                        txn = txn.at(keys::jwk(&target.project, &target.id), jwk_rev);
                        Some(target)
                    }
                    None => None,
                };
                if next {
                    if *cred.next(slot) == target {
                        return Ok(None);
                    }
                    *cred.next(slot) = target;
                } else {
                    if cred.next(slot).as_ref() == target.as_ref() {
                        *cred.next(slot) = None; // the next JWK is now the current one
                    }
                    *cred.current(slot) = target;
                }
                let action = format!(
                    "credential.{}{}.{}",
                    slot.as_str(),
                    if next { ".next" } else { "" },
                    if jwk_name.is_some() { "set" } else { "remove" }
                );
                let txn = txn.put(key.clone(), encode(&cred));
                let txn = self.approved_if(txn, &perms, IDENTITY_DEPLOY)?;
                self.audit(txn, actor, &action, Some(project), username)
                    .map(Some)
            })?;
        Ok(self.change_to_deploy(&perms, IDENTITY_DEPLOY, committed))
    }

    /// Promotes a slot's next JWK in one transaction: it becomes the slot's JWK and `active`;
    /// the JWK it replaces becomes `retired` (published for verification only) with its
    /// `exp` brought forward to now + `overlap_secs` (when it expires sooner, that stays),
    /// unless another slot (of any credential) still holds it as its JWK: then its state and
    /// validity stay as they are. Of racing promotions one wins; the others find no next JWK.
    /// Needs IDENTITY+MANAGE and IDENTITY+DEPLOY_UNDEPLOY in the project and SECRETS+MANAGE and
    /// SECRETS+DEPLOY_UNDEPLOY in the projects of the JWKs it changes, so that it is deployed
    /// at once, whole.
    pub(super) fn promote_credential_jwk(
        &self,
        actor: &Actor,
        project: &str,
        username: &str,
        slot: Slot,
        overlap_secs: u64,
    ) -> Result<Change> {
        self.promote_slot(actor, project, username, slot, overlap_secs)
            .map(|(change, _)| change)
    }

    /// [`Registry::promote_credential_jwk`], with the name of the JWK it retired (none when
    /// the slot was empty or another slot still holds the replaced JWK).
    pub(super) fn promote_slot(
        &self,
        actor: &Actor,
        project: &str,
        username: &str,
        slot: Slot,
        overlap_secs: u64,
    ) -> Result<(Change, Option<String>)> {
        self.require(actor, project, IDENTITY_MANAGE)?;
        let perms = self.require(actor, project, IDENTITY_DEPLOY)?;
        let overlap = i64::try_from(overlap_secs)
            .ok()
            .filter(|o| *o <= MAX_OVERLAP_SECS)
            .ok_or_else(|| {
                RegistryError::bad_request(format!(
                    "Overlap ({overlap_secs} seconds) is too long: at most {MAX_OVERLAP_SECS} (365 days)!"
                ))
            })?;
        let key = keys::credential(project, username);
        let mut retired = None;
        let committed =
            self.commit_retrying(&format!("Credential (username: {username})"), || {
                retired = None;
                let (mut cred, rev) = load::<CredentialRec>(&**self.store(), &key)?
                    .ok_or_else(|| not_found(username))?;
                let Some(next) = cred.next(slot).clone() else {
                    return Err(RegistryError::bad_request(format!(
                        "Credential (username: {username}) has no next JWK in its {} slot: set one before promoting!",
                        slot.as_str()
                    )));
                };
                let mut txn = Txn::new().at(key.clone(), rev);
                let (next_key, mut next_rec, next_rev) = self.slot_jwk(actor, &next)?;
                next_rec.state = KeyState::Active;
                txn = txn
                    .at(next_key.clone(), next_rev)
                    .put(next_key, encode(&next_rec));
                if let Some(old) = cred.current(slot).clone().filter(|old| *old != next) {
                    let (held_elsewhere, checked) = self.held_as_current(&key, slot, &old)?;
                    for (k, r) in checked {
                        txn = txn.at(k, r); // no slot starts holding it meanwhile
                    }
                    if !held_elsewhere {
                        let (old_key, mut old_rec, old_rev) = self.slot_jwk(actor, &old)?;
                        old_rec.state = KeyState::Retired;
                        let until = self.now_secs().saturating_add(overlap);
                        old_rec.validity.expires =
                            Some(old_rec.validity.expires.map_or(until, |e| e.min(until)));
                        retired = Some(old_rec.name.clone());
                        txn = txn
                            .at(old_key.clone(), old_rev)
                            .put(old_key, encode(&old_rec));
                    }
                }
                *cred.current(slot) = Some(next);
                *cred.next(slot) = None;
                let txn = txn.put(key.clone(), encode(&cred));
                let txn = self.approved_if(txn, &perms, IDENTITY_DEPLOY)?;
                let action = format!("credential.{}.promote", slot.as_str());
                self.audit(txn, actor, &action, Some(project), username)
                    .map(Some)
            })?;
        Ok((
            self.change_to_deploy(&perms, IDENTITY_DEPLOY, committed),
            retired,
        ))
    }

    /// The record of a JWK a slot refers to, for a change to it: its key, record and
    /// revision. The actor must hold SECRETS+MANAGE and SECRETS+DEPLOY_UNDEPLOY in its project.
    fn slot_jwk(&self, actor: &Actor, r: &JwkRef) -> Result<(String, JwkRec, u64)> {
        self.require(actor, &r.project, SECRETS_MANAGE)?;
        self.require(actor, &r.project, SECRETS_DEPLOY)?;
        let key = keys::jwk(&r.project, &r.id);
        let (rec, rev) = load::<JwkRec>(&**self.store(), &key)?.ok_or_else(|| {
            RegistryError::internal(format!("a credential refers to a missing JWK ({key})"))
        })?;
        Ok((key, rec, rev))
    }

    /// Whether a slot other than `slot` of the credential at `cred_key` holds `jwk` as its
    /// current JWK, and the credential records read (with their revisions) to say so.
    fn held_as_current(
        &self,
        cred_key: &str,
        slot: Slot,
        jwk: &JwkRef,
    ) -> Result<(bool, Vec<Read>)> {
        let CredentialScan { user, read } = self.credential_using(|k, c| {
            [Slot::Validation, Slot::Encryption]
                .into_iter()
                .any(|s| (k, s) != (cred_key, slot) && c.current(s).as_ref() == Some(jwk))
        })?;
        let others = read.into_iter().filter(|(k, _)| k != cred_key).collect();
        Ok((user.is_some(), others))
    }

    /// Reads every credential (of any project): the first one `uses` (given its store key)
    /// picks, as (username, project), and the store key and revision of every credential
    /// read, for a transaction that requires none changed meanwhile (so none started
    /// referring to a JWK).
    pub(super) fn credential_using(
        &self,
        uses: impl Fn(&str, &mut CredentialRec) -> bool,
    ) -> Result<CredentialScan> {
        let mut first = None;
        let mut read = Vec::new();
        for (k, mut c, r) in
            crate::model::load_all::<CredentialRec>(&**self.store(), keys::ALL_CREDENTIALS)?
        {
            if first.is_none() && uses(&k, &mut c) {
                first = Some((c.username, keys::credential_project(&k).unwrap_or_default()));
            }
            read.push((k, r));
        }
        Ok(CredentialScan { user: first, read })
    }

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
        let (cred, _) = load::<CredentialRec>(&**self.store(), &key)?
            .ok_or_else(|| RegistryError::not_found(missing(username)))?;
        self.credential_view(&key, &cred)
    }

    /// The credentials of a project, by username, with their slots. Needs IDENTITY+VIEW.
    pub fn list_credentials(&self, actor: &Actor, project: &str) -> Result<Vec<CredentialView>> {
        self.require(actor, project, IDENTITY_VIEW)?;
        let mut out =
            crate::model::load_all::<CredentialRec>(&**self.store(), &keys::credentials(project))?
                .into_iter()
                .map(|(key, cred, _)| self.credential_view(&key, &cred))
                .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| a.username.cmp(&b.username));
        Ok(out)
    }

    fn credential_view(&self, key: &str, cred: &CredentialRec) -> Result<CredentialView> {
        let slot = |r: &Option<JwkRef>| -> Result<Option<SlotView>> {
            let Some(r) = r else { return Ok(None) };
            let Some((jwk, _)) = load::<JwkRec>(&**self.store(), &keys::jwk(&r.project, &r.id))?
            else {
                return Ok(None);
            };
            let opened = self.open_jwk(&jwk)?;
            Ok(Some(SlotView {
                project: r.project.clone(),
                name: jwk.name,
                kid: opened.params().kid.clone(),
                thumbprint: super::secrets::shown_thumbprint(&opened),
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

/// A record's store key and the revision it was read at.
type Read = (String, u64);

/// What [`Registry::credential_using`] found.
pub(super) struct CredentialScan {
    /// The first credential picked: (username, project).
    pub(super) user: Option<(String, String)>,
    /// Every credential read.
    pub(super) read: Vec<Read>,
}

/// The longest overlap a promotion takes: 365 days.
pub const MAX_OVERLAP_SECS: i64 = 365 * 24 * 3600;

/// The slot rule: the encryption slot takes no JWK whose `use` is `sig`, the validation slot
/// none whose `use` is `enc`; a JWK without `use` goes in either.
fn slot_takes(slot: Slot, name: &str, jwk: &jwk_core::Jwk) -> Result<()> {
    let key_use = jwk.params().key_use.as_ref().map(|u| u.as_str().to_owned());
    let refused = match (slot, key_use.as_deref()) {
        (Slot::Encryption, Some("sig")) => Some(("encryption", "sig", "signatures", "enc")),
        (Slot::Validation, Some("enc")) => Some(("validation", "enc", "encryption", "sig")),
        _ => None,
    };
    match refused {
        Some((slot, key_use, purpose, wanted)) => Err(RegistryError::bad_request(format!(
            "JWK (name: {name}) is for {purpose} (use: {key_use}): the {slot} slot takes a JWK whose use is {wanted} or not set!"
        ))),
        None => Ok(()),
    }
}
