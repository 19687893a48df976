//! Rotation policies of credential slots and generated JWKs, and the rotation's own commands:
//! record where a rotation stands, and promote a rotated JWK under its name. The steps
//! themselves (generate, publish, wait for receipts, promote, delete) are the rotation
//! controller's, through the same commands a person uses.

use crate::error::{RegistryError, Result};
use crate::perm::{Area, IDENTITY_DEPLOY, IDENTITY_MANAGE, SECRETS_DEPLOY, SECRETS_MANAGE};
use crate::plan::{Audit, Ctx, Plan, Work};
use crate::records::{CredentialRec, FORMAT, JwkRef, RotationRec, encode, keys};
use crate::store::Txn;
use crate::types::{KeyState, RotationHolder, RotationPolicy, RotationProgress, Slot};

/// The store key of a rotation's record.
pub(crate) fn rotation_key(project: &str, holder: &RotationHolder) -> String {
    match holder {
        RotationHolder::Slot { username, slot } => {
            keys::slot_rotation(project, username, slot.as_str())
        }
        RotationHolder::Jwk { name } => keys::jwk_rotation(project, name),
    }
}

fn secs(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX)
}

/// Sets (with `None`, removes) a slot's rotation policy. IDENTITY+MANAGE and
/// IDENTITY+DEPLOY_UNDEPLOY, SECRETS+MANAGE and SECRETS+DEPLOY_UNDEPLOY: the rotation makes,
/// deploys and deletes JWKs in the project. An empty slot gets its first JWK at the next
/// step of the rotation; otherwise the first promotion is due a period from now.
pub(super) fn set_slot<'a>(
    ctx: &Ctx<'a>,
    project: String,
    username: String,
    slot: Slot,
    policy: Option<RotationPolicy>,
) -> Result<Work<'a>> {
    for p in [IDENTITY_MANAGE, IDENTITY_DEPLOY] {
        ctx.require(&project, p)?;
    }
    set(
        ctx,
        project,
        RotationHolder::Slot { username, slot },
        policy,
    )
}

/// Sets (with `None`, removes) a generated JWK's rotation policy: its name always names the
/// active key; at each promotion the JWK that had the name is renamed
/// `{name}-retired-{time}` and retired for the overlap. The JWK must be generated and in no
/// credential slot (rotate the slot instead). SECRETS+MANAGE and SECRETS+DEPLOY_UNDEPLOY.
pub(super) fn set_jwk<'a>(
    ctx: &Ctx<'a>,
    project: String,
    name: String,
    policy: Option<RotationPolicy>,
) -> Result<Work<'a>> {
    set(ctx, project, RotationHolder::Jwk { name }, policy)
}

fn set<'a>(
    ctx: &Ctx<'a>,
    project: String,
    holder: RotationHolder,
    policy: Option<RotationPolicy>,
) -> Result<Work<'a>> {
    ctx.require(&project, SECRETS_MANAGE)?;
    ctx.require(&project, SECRETS_DEPLOY)?;
    if let Some(policy) = &policy {
        policy.check()?;
    }
    let key = rotation_key(&project, &holder);
    let (what, target, action) = match &holder {
        RotationHolder::Slot { username, slot } => (
            format!("Credential (username: {username})"),
            username.clone(),
            format!("credential.{}.rotation", slot.as_str()),
        ),
        RotationHolder::Jwk { name } => (
            format!("JWK (name: {name})"),
            name.clone(),
            "jwk.rotation".to_owned(),
        ),
    };
    Ok(Work::new(what, move |ctx| {
        // What the rotation acts on must exist, unchanged, when the policy is written.
        let (txn, empty) = rotation_holder(ctx, &project, &holder)?;
        let existing = ctx.load::<RotationRec>(&key)?;
        let (txn, verb) = match (&policy, existing) {
            (None, None) => return Ok(Plan::unchanged(&project, Area::Secrets)),
            (None, Some((_, rev))) => (txn.at(key.clone(), rev).delete(key.clone()), "remove"),
            (Some(policy), existing) => {
                let now = ctx.now_secs();
                let kept = existing.as_ref().map(|(r, _)| r.clone());
                let due = match &kept {
                    Some(k) => k
                        .last_promotion
                        .map_or(k.due, |t| t.saturating_add(secs(policy.period_secs))),
                    None if empty => now,
                    None => now.saturating_add(secs(policy.period_secs)),
                };
                let progress = RotationProgress {
                    due,
                    next_jwk: kept.as_ref().and_then(|k| k.next_jwk.clone()),
                    served_since: kept.as_ref().and_then(|k| k.served_since),
                    waiting: None,
                    last_promotion: kept.as_ref().and_then(|k| k.last_promotion),
                    removals: kept.map(|k| k.removals).unwrap_or_default(),
                };
                let rec = record_of(&project, &holder, policy, progress)?;
                let txn = match existing {
                    Some((_, rev)) => txn.at(key.clone(), rev),
                    None => txn.absent(key.clone()),
                };
                (txn.put(key.clone(), encode(&rec)), "set")
            }
        };
        Ok(Plan::new(
            txn,
            Audit::of(format!("{action}.{verb}"), Some(&project), &target),
        )
        .deploys(&project, Area::Secrets))
    }))
}

/// The record of a rotation of `holder` with `policy`, at `progress`.
fn record_of(
    project: &str,
    holder: &RotationHolder,
    policy: &RotationPolicy,
    progress: RotationProgress,
) -> Result<RotationRec> {
    let (kty, crv, size) = policy
        .spec_parts()
        .ok_or_else(|| RegistryError::bad_request("This key type cannot be rotated!"))?;
    let (username, slot, jwk) = match holder {
        RotationHolder::Slot { username, slot } => {
            (Some(username.clone()), Some(slot.as_str().to_owned()), None)
        }
        RotationHolder::Jwk { name } => (None, None, Some(name.clone())),
    };
    Ok(RotationRec {
        v: FORMAT,
        project: project.to_owned(),
        username,
        slot,
        jwk,
        key_type: kty.to_owned(),
        curve: crv,
        key_size: size,
        use_type: policy.usage.as_str().to_owned(),
        algorithm: policy.algorithm.clone(),
        period_seconds: policy.period_secs,
        lead_seconds: policy.lead_secs,
        overlap_seconds: policy.overlap_secs,
        max_token_lifetime_seconds: policy.max_token_lifetime_secs,
        consumer_cache_seconds: policy.consumer_cache_secs,
        due: progress.due,
        next_jwk: progress.next_jwk,
        served_since: progress.served_since,
        waiting: progress.waiting,
        last_promotion: progress.last_promotion,
        removals: progress.removals,
    })
}

/// The record a rotation acts on, checked, as a transaction that requires it unchanged, and
/// whether it is empty (a slot without a JWK: the rotation gives it one at once).
fn rotation_holder(ctx: &Ctx<'_>, project: &str, holder: &RotationHolder) -> Result<(Txn, bool)> {
    match holder {
        RotationHolder::Slot { username, slot } => {
            let cred_key = keys::credential(project, username);
            let (cred, rev) = ctx
                .load::<CredentialRec>(&cred_key)?
                .ok_or_else(|| super::credentials::not_found(username))?;
            Ok((Txn::new().at(cred_key, rev), cred.held(*slot).is_none()))
        }
        RotationHolder::Jwk { name } => {
            let (rec, rev, _) = ctx.find_jwk(project, name)?.ok_or_else(|| {
                RegistryError::bad_request(format!("JWK (name: {name}) is not found!"))
            })?;
            if rec.source.as_ref().map(|s| s.source_type.as_str()) != Some("GENERATE") {
                return Err(RegistryError::bad_request(format!(
                    "JWK (name: {name}) is not generated: only a generated JWK can be rotated!"
                )));
            }
            let jwk = JwkRef {
                project: project.to_owned(),
                id: rec.id.clone(),
            };
            let scan = super::credentials::credential_using(ctx, &jwk, |_, _| true)?;
            if let Some((username, _)) = scan.user {
                return Err(RegistryError::bad_request(format!(
                    "JWK (name: {name}) is in a slot of credential (username: {username}): rotate that slot instead!"
                )));
            }
            let mut txn = Txn::new().at(keys::jwk(project, &rec.id), rev);
            txn.compares.extend(scan.guard.compares);
            Ok((txn, false))
        }
    }
}

/// Record Rotation (system: rotation): where the rotation stands, if its record is still at
/// `revision`; nothing is written otherwise (another node moved it first, or it was
/// removed). Audited as bookkeeping: it changes nothing environments serve.
pub(super) fn record<'a>(
    _ctx: &Ctx<'a>,
    project: String,
    holder: RotationHolder,
    revision: u64,
    progress: RotationProgress,
) -> Result<Work<'a>> {
    let key = rotation_key(&project, &holder);
    Ok(Work::new(format!("The rotation {key}"), move |ctx| {
        let Some((mut rec, rev)) = ctx.load::<RotationRec>(&key)? else {
            return Ok(Plan::default());
        };
        if rev != revision {
            return Ok(Plan::default());
        }
        rec.due = progress.due;
        rec.next_jwk = progress.next_jwk.clone();
        rec.served_since = progress.served_since;
        rec.waiting = progress.waiting.clone();
        rec.last_promotion = progress.last_promotion;
        rec.removals = progress.removals.clone();
        let txn = Txn::new()
            .at(key.as_str(), rev)
            .put(key.as_str(), encode(&rec));
        let target = match &holder {
            RotationHolder::Slot { username, .. } => username.clone(),
            RotationHolder::Jwk { name } => name.clone(),
        };
        let action = match &holder {
            RotationHolder::Slot { slot, .. } => {
                format!("credential.{}.rotation.progress", slot.as_str())
            }
            RotationHolder::Jwk { .. } => "jwk.rotation.progress".to_owned(),
        };
        let mut plan = Plan::new(txn, Audit::of(action, Some(&project), &target));
        plan.bookkeeping = true;
        Ok(plan)
    }))
}

/// Promote JWK (system: rotation): in one transaction the next JWK takes the name `name` and
/// becomes `active`; the JWK that had the name is renamed `retired`, becomes `retired` and
/// expires after the overlap (an earlier `exp` stays). Each on both copies: a person's
/// pending edit of either stays pending. Nothing happens when `next` is gone.
pub(super) fn promote_jwk<'a>(
    _ctx: &Ctx<'a>,
    project: String,
    name: String,
    next: String,
    retired: String,
    overlap_secs: u64,
) -> Result<Work<'a>> {
    Ok(Work::new(format!("JWK (name: {name})"), move |ctx| {
        let Some((new, new_rev, new_idx)) = ctx.find_jwk(&project, &next)? else {
            return Ok(Plan::default());
        };
        let Some((old, old_rev, old_idx)) = ctx.find_jwk(&project, &name)? else {
            return Ok(Plan::default());
        };
        if ctx.find_jwk(&project, &retired)?.is_some() {
            return Err(RegistryError::bad_request(format!(
                "JWK (name: {retired}) is already exist!"
            )));
        }
        let until = ctx.now_secs().saturating_add(secs(overlap_secs));
        let (old_id, new_id) = (old.id.clone(), new.id.clone());
        let txn = Txn::new()
            .at(keys::jwk_name(&project, &name), old_idx)
            .at(keys::jwk_name(&project, &next), new_idx)
            .absent(keys::jwk_name(&project, &retired))
            .put(keys::jwk_name(&project, &name), new_id.clone())
            .delete(keys::jwk_name(&project, &next))
            .put(keys::jwk_name(&project, &retired), old_id.clone());
        let (txn, _) =
            ctx.change_served(txn, &keys::jwk(&project, &old_id), (old, old_rev), |r| {
                r.name = retired.clone();
                r.state = KeyState::Retired;
                r.validity.expires = Some(r.validity.expires.map_or(until, |e| e.min(until)));
                Ok(())
            })?;
        let (txn, _) =
            ctx.change_served(txn, &keys::jwk(&project, &new_id), (new, new_rev), |r| {
                r.name = name.clone();
                r.state = KeyState::Active;
                Ok(())
            })?;
        Ok(Plan::new(
            txn,
            Audit::jwk("jwk.rotate", &project, &name, &[&old_id, &new_id]),
        )
        .deploys(&project, Area::Secrets))
    }))
}
