//! Credential changes: create, put a JWK in a slot (its current or next JWK), promote a
//! slot's next JWK, approve (Deploy credential).

use super::name_in;
use crate::error::{RegistryError, Result};
use crate::perm::{Area, IDENTITY_DEPLOY, IDENTITY_MANAGE, SECRETS_DEPLOY, SECRETS_MANAGE};
use crate::plan::{Audit, Ctx, Plan, Work};
use crate::records::{CredentialRec, FORMAT, JwkRec, JwkRef, decode, keys};
use crate::store::Txn;
use crate::types::{ADMIN_PROJECT, KeyState, MAX_OVERLAP_SECS, Slot};

/// The product's 400 for a change that names a missing credential.
pub(crate) fn not_found(username: &str) -> RegistryError {
    RegistryError::bad_request(format!("Credential (username: {username}) was not found!"))
}

fn what(username: &str) -> String {
    format!("Credential (username: {username})")
}

/// Creates a credential.
pub(super) fn create<'a>(ctx: &Ctx<'a>, project: String, username: String) -> Result<Work<'a>> {
    ctx.require(&project, IDENTITY_MANAGE)?;
    let username = name_in("Credential", &username)?
        .ok_or_else(|| RegistryError::bad_request("Credential username can not be empty!"))?
        .to_owned();
    Ok(Work::new(what(&username), move |ctx| {
        let key = keys::credential(&project, &username);
        if ctx.store.get(key.as_bytes())?.is_some() {
            return Err(RegistryError::bad_request(format!(
                "Credential (username: {username}) is already exist!"
            )));
        }
        let rec = CredentialRec {
            v: FORMAT,
            username: username.clone(),
            validation: None,
            encryption: None,
            validation_next: None,
            encryption_next: None,
        };
        let txn = ctx.create_served(Txn::new(), &key, &rec);
        Ok(Plan::new(
            txn,
            Audit::of("credential.create", Some(&project), &username),
        )
        .deploys(&project, Area::Identity))
    }))
}

/// The JWK named `name` in `project`, else in the admin project (names are case-sensitive).
fn resolve_jwk_for(ctx: &Ctx<'_>, project: &str, name: &str) -> Result<(String, JwkRec, u64)> {
    for p in [project, ADMIN_PROJECT] {
        if let Some((rec, rev, _)) = ctx.find_jwk(p, name)? {
            return Ok((p.to_owned(), rec, rev));
        }
    }
    Err(RegistryError::bad_request(format!(
        "JWK (name: {name}) is not found!"
    )))
}

/// Points a slot's current JWK (`next` false) or its next JWK (`next` true) at the JWK
/// `jwk_name`, or empties it: one compare-and-put on the credential and the JWK, so that of
/// two requests racing the slot ends with exactly one of the two JWKs. A next JWK must suit
/// the slot, be `pending` or `active`, and differ from the slot's current JWK.
/// IDENTITY+MANAGE; deployed with IDENTITY+DEPLOY_UNDEPLOY.
pub(super) fn assign<'a>(
    ctx: &Ctx<'a>,
    project: String,
    username: String,
    (slot, next): (Slot, bool),
    jwk_name: Option<String>,
) -> Result<Work<'a>> {
    ctx.require(&project, IDENTITY_MANAGE)?;
    let key = keys::credential(&project, &username);
    Ok(Work::new(what(&username), move |ctx| {
        let (cred, rev) = ctx
            .load::<CredentialRec>(&key)?
            .ok_or_else(|| not_found(&username))?;
        let mut txn = Txn::new();
        let target = match &jwk_name {
            Some(name) => {
                let (jwk_project, rec, jwk_rev) = resolve_jwk_for(ctx, &project, name)?;
                slot_takes(slot, name, &ctx.open(&rec)?)?;
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
                if next && cred.held(slot) == Some(&target) {
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
        if next && cred.held_next(slot) == target.as_ref() {
            return Ok(Plan::unchanged(&project, Area::Identity));
        }
        let (txn, _) = ctx.change_served(txn, &key, (cred, rev), |c| {
            if next {
                *c.next(slot) = target.clone();
            } else {
                if c.next(slot).as_ref() == target.as_ref() {
                    *c.next(slot) = None; // the next JWK is now the current one
                }
                *c.current(slot) = target.clone();
            }
            Ok(())
        })?;
        let action = format!(
            "credential.{}{}.{}",
            slot.as_str(),
            if next { ".next" } else { "" },
            if jwk_name.is_some() { "set" } else { "remove" }
        );
        Ok(Plan::new(txn, Audit::of(action, Some(&project), &username))
            .deploys(&project, Area::Identity))
    }))
}

/// Promotes a slot's next JWK in one transaction: it becomes the slot's JWK and `active`; the
/// JWK it replaces becomes `retired` (published for verification only) with its `exp` brought
/// forward to now + `overlap_secs` (when it expires sooner, that stays), unless another slot
/// (of any credential) still holds it as its JWK: then its state and validity stay as they
/// are. Of racing promotions one wins; the others find no next JWK. Needs IDENTITY+MANAGE and
/// IDENTITY+DEPLOY_UNDEPLOY in the project and SECRETS+MANAGE and SECRETS+DEPLOY_UNDEPLOY in
/// the projects of the JWKs it changes, so that it is deployed at once, whole.
pub(super) fn promote<'a>(
    ctx: &Ctx<'a>,
    project: String,
    username: String,
    slot: Slot,
    overlap_secs: u64,
) -> Result<Work<'a>> {
    ctx.require(&project, IDENTITY_MANAGE)?;
    ctx.require(&project, IDENTITY_DEPLOY)?;
    let overlap = i64::try_from(overlap_secs)
        .ok()
        .filter(|o| *o <= MAX_OVERLAP_SECS)
        .ok_or_else(|| {
            RegistryError::bad_request(format!(
                "Overlap ({overlap_secs} seconds) is too long: at most {MAX_OVERLAP_SECS} (365 days)!"
            ))
        })?;
    let key = keys::credential(&project, &username);
    Ok(Work::new(what(&username), move |ctx| {
        let (cred, rev) = ctx
            .load::<CredentialRec>(&key)?
            .ok_or_else(|| not_found(&username))?;
        let Some(next) = cred.held_next(slot).cloned() else {
            return Err(RegistryError::bad_request(format!(
                "Credential (username: {username}) has no next JWK in its {} slot: set one before promoting!",
                slot.as_str()
            )));
        };
        let mut txn = Txn::new();
        let (next_key, next_rec, next_rev) = slot_jwk(ctx, &next)?;
        (txn, _) = ctx.change_served(txn, &next_key, (next_rec, next_rev), |r| {
            r.state = KeyState::Active;
            Ok(())
        })?;
        let mut retired = None;
        if let Some(old) = cred.held(slot).filter(|old| **old != next).cloned() {
            let (held_elsewhere, guard) = held_as_current(ctx, &key, slot, &old)?;
            txn.compares.extend(guard.compares); // no slot starts holding it meanwhile
            if !held_elsewhere {
                let (old_key, old_rec, old_rev) = slot_jwk(ctx, &old)?;
                let until = ctx.now_secs().saturating_add(overlap);
                retired = Some(old_rec.name.clone());
                (txn, _) = ctx.change_served(txn, &old_key, (old_rec, old_rev), |r| {
                    r.state = KeyState::Retired;
                    r.validity.expires = Some(r.validity.expires.map_or(until, |e| e.min(until)));
                    Ok(())
                })?;
            }
        }
        let (txn, _) = ctx.change_served(txn, &key, (cred, rev), |c| {
            *c.current(slot) = Some(next.clone());
            *c.next(slot) = None;
            Ok(())
        })?;
        let action = format!("credential.{}.promote", slot.as_str());
        let mut plan = Plan::new(txn, Audit::of(action, Some(&project), &username))
            .deploys(&project, Area::Identity);
        plan.answer.retired = retired;
        Ok(plan)
    }))
}

/// The record of a JWK a slot refers to, for a change to it: its key, record and revision.
/// The actor must hold SECRETS+MANAGE and SECRETS+DEPLOY_UNDEPLOY in its project.
fn slot_jwk(ctx: &Ctx<'_>, r: &JwkRef) -> Result<(String, JwkRec, u64)> {
    ctx.require(&r.project, SECRETS_MANAGE)?;
    ctx.require(&r.project, SECRETS_DEPLOY)?;
    let key = keys::jwk(&r.project, &r.id);
    let (rec, rev) = ctx.load::<JwkRec>(&key)?.ok_or_else(|| {
        RegistryError::internal(format!("a credential refers to a missing JWK ({key})"))
    })?;
    Ok((key, rec, rev))
}

/// Whether a slot other than `slot` of the credential at `cred_key` holds `jwk` as its
/// current JWK, and the compare that keeps it so until the change commits.
fn held_as_current(ctx: &Ctx<'_>, cred_key: &str, slot: Slot, jwk: &JwkRef) -> Result<(bool, Txn)> {
    let CredentialScan { user, guard } = credential_using(ctx, jwk, |k, slots| {
        [Slot::Validation, Slot::Encryption]
            .into_iter()
            .any(|s| (k, s) != (cred_key, slot) && slots.iter().any(|h| h == s.as_str()))
    })?;
    Ok((user.is_some(), guard))
}

/// What [`credential_using`] found.
pub(crate) struct CredentialScan {
    /// The first credential picked: (username, project).
    pub(crate) user: Option<(String, String)>,
    /// The compare that fails when a credential starts (or stops) using the JWK before
    /// the change commits.
    pub(crate) guard: Txn,
}

/// The first credential (of any project, in (project, username) order) whose saved slots
/// hold `jwk` and that `uses` picks (given its store key and the slots holding the JWK),
/// as (username, project), from the index of JWKs' use ([`crate::records::index::users`]).
pub(crate) fn credential_using(
    ctx: &Ctx<'_>,
    jwk: &JwkRef,
    uses: impl Fn(&str, &[String]) -> bool,
) -> Result<CredentialScan> {
    let (users, guard) = crate::records::index::users(ctx.store, &jwk.project, &jwk.id)?;
    let user = users
        .into_iter()
        .find(|(cp, u, slots)| uses(&keys::credential(cp, u), slots))
        .map(|(cp, u, _)| (u, cp));
    Ok(CredentialScan { user, guard })
}

/// Deploy credential: approves the credential `username` of `project` (its slots) as it is
/// saved, or its deletion, then the pipeline ships it. Needs IDENTITY+DEPLOY_UNDEPLOY.
pub(super) fn approve<'a>(ctx: &Ctx<'a>, project: String, username: String) -> Result<Work<'a>> {
    ctx.require(&project, IDENTITY_DEPLOY)?;
    ctx.layout.ensure(ctx.store)?;
    let key = keys::credential(&project, &username);
    let approved_key = keys::approved(&key);
    Ok(Work::new(what(&username), move |ctx| {
        let saved = ctx.store.get(key.as_bytes())?;
        let approved = ctx.store.get(approved_key.as_bytes())?;
        let txn = match (&saved, &approved) {
            (None, None) => return Err(not_found(&username)),
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
            decode::<CredentialRec>(&key, &s.value)?;
        }
        Ok(Plan::new(
            txn,
            Audit::of("credential.deploy", Some(&project), &username),
        )
        .deploys(&project, Area::Identity))
    }))
}

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
