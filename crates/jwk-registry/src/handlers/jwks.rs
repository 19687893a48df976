//! JWK changes: create (every sourceType, built by `sources.rs`), generate, update (rename,
//! detach), state, validity, delete, approve (Deploy JWK) and re-sync of URL sources. Checks
//! run in the product's order, with its messages.

use jwk_core::Usage;

use super::{name_in, new_id};
use crate::command::{JwkUpdate, NewJwk, Source};
use crate::error::{RegistryError, Result};
use crate::perm::{Area, SECRETS_DEPLOY, SECRETS_MANAGE};
use crate::plan::{Audit, Ctx, Plan, Work};
use crate::records::{FORMAT, JwkRec, JwkRef, SyncRec, encode, keys};
use crate::store::Txn;
use crate::types::{KeyState, MAX_NUMERIC_DATE, ROUTE_NAMES, ResyncReport, Validity};

fn not_a_route(name: &str) -> Result<()> {
    if ROUTE_NAMES.contains(&name) {
        return Err(RegistryError::bad_request(format!(
            "JWK name ({name}) is reserved: …/jwks/{name}/ is a route of the API!"
        )));
    }
    Ok(())
}

fn already_exists_create(name: &str) -> RegistryError {
    RegistryError::bad_request(format!(
        "JWK (name: {name}) is already exist! Try update operation if want to change its value."
    ))
}

fn not_found_try_create(name: &str) -> RegistryError {
    RegistryError::bad_request(format!(
        "JWK (name: {name}) is not found! Try create operation."
    ))
}

fn not_found(name: &str) -> RegistryError {
    RegistryError::bad_request(format!("JWK (name: {name}) is not found!"))
}

fn what(name: &str) -> String {
    format!("JWK (name: {name})")
}

/// A validity a user gave: each bound a time from 1970 to 9999, `nbf` before `exp`.
pub(crate) fn checked_validity(v: Validity) -> Result<Validity> {
    for (member, value) in [("nbf", v.not_before), ("exp", v.expires)] {
        if let Some(value) = value
            && !(0..=MAX_NUMERIC_DATE).contains(&value)
        {
            return Err(RegistryError::bad_request(format!(
                "JWK {member} ({value}) is out of range: give Unix seconds from 0 to {MAX_NUMERIC_DATE} (9999-12-31T23:59:59Z)!"
            )));
        }
    }
    if let (Some(nbf), Some(exp)) = (v.not_before, v.expires)
        && nbf >= exp
    {
        return Err(RegistryError::bad_request(format!(
            "JWK nbf ({nbf}) must be before its exp ({exp})!"
        )));
    }
    Ok(v)
}

/// Checks name emptiness, length and uniqueness, in the product's order.
pub(crate) fn check_new_name(ctx: &Ctx<'_>, project: &str, name: &str) -> Result<String> {
    let name = name_in("JWK", name)?
        .ok_or_else(|| RegistryError::bad_request("JWK name can not be empty!"))?;
    not_a_route(name)?;
    if ctx.find_jwk(project, name)?.is_some() {
        return Err(already_exists_create(name));
    }
    Ok(name.to_owned())
}

/// The sync record of a fetch that succeeded now: what it learnt of the set (the kids and
/// thumbprints of its keys, its ETag).
pub(crate) fn fetched_now(
    ctx: &Ctx<'_>,
    set_kids: Vec<(String, String)>,
    etag: Option<String>,
) -> SyncRec {
    SyncRec {
        v: FORMAT,
        at: ctx.now_rfc3339(),
        result: "fetched".to_owned(),
        set_kids,
        etag,
    }
}

/// Create JWK from every source (generated keys included). Needs SECRETS+MANAGE; deploys
/// with SECRETS+DEPLOY_UNDEPLOY.
pub(super) fn create<'a>(ctx: &Ctx<'a>, project: String, new: NewJwk) -> Result<Work<'a>> {
    ctx.require(&project, SECRETS_MANAGE)?;
    if matches!(
        new.source,
        Source::Url {
            follow: Some(_),
            ..
        }
    ) {
        // A followed key is deployed as its URL publishes it.
        ctx.require(&project, SECRETS_DEPLOY)?;
    }
    let name = check_new_name(ctx, &project, &new.name)?;
    let (jwk, mut source) = ctx.build_from_source(&project, &new)?;
    // What the fetch learnt of the set goes in the sync record, outside what approval compares.
    let (set_kids, etag) = (std::mem::take(&mut source.set_kids), source.etag.take());
    let validity = checked_validity(new.validity)?;
    let action = match new.source {
        Source::Generate { .. } => "jwk.generate",
        _ => "jwk.create",
    };
    let id = new_id()?;
    let rec = JwkRec {
        v: FORMAT,
        id: id.clone(),
        name: name.clone(),
        description: new.description.clone().unwrap_or_default(),
        public_jwk: jwk.to_disclosable_json(),
        sealed_jwk: ctx.key.seal(jwk.to_json().as_bytes())?,
        private: jwk.is_private(),
        source: Some(source),
        detached_at: None,
        state: new.state,
        validity,
        withdrawn: false,
    };
    let url = rec.source.as_ref().is_some_and(|s| s.source_type == "URL");
    Ok(Work::new(what(&name), move |ctx| {
        if ctx.find_jwk(&project, &name)?.is_some() {
            return Err(already_exists_create(&name));
        }
        let index = keys::jwk_name(&project, &name);
        let txn = Txn::new().absent(index.as_str()).put(index, id.clone());
        let mut txn = ctx.create_served(txn, &keys::jwk(&project, &id), &rec);
        if url {
            let sync = fetched_now(ctx, set_kids.clone(), etag.clone());
            txn = txn.put(keys::sync(&project, &id), encode(&sync));
        }
        Ok(Plan::new(txn, Audit::jwk(action, &project, &name, &[&id]))
            .deploys(&project, Area::Secrets))
    }))
}

/// Changes one field group of a JWK (state, validity): SECRETS+MANAGE; approved and deployed
/// with SECRETS+DEPLOY_UNDEPLOY. Its source stays attached.
fn change<'a, T: PartialEq + Clone + 'a>(
    ctx: &Ctx<'a>,
    project: String,
    name: String,
    value: T,
    field: fn(&mut JwkRec) -> &mut T,
    action: String,
) -> Result<Work<'a>> {
    ctx.require(&project, SECRETS_MANAGE)?;
    Ok(Work::new(what(&name), move |ctx| {
        let (rec, rev, _) = ctx
            .find_jwk(&project, &name)?
            .ok_or_else(|| not_found_try_create(&name))?;
        let mut probe = rec.clone();
        if *field(&mut probe) == value {
            return Ok(Plan::unchanged(&project, Area::Secrets));
        }
        let id = rec.id.clone();
        let (txn, _) =
            ctx.change_served(Txn::new(), &keys::jwk(&project, &id), (rec, rev), |r| {
                *field(r) = value.clone();
                Ok(())
            })?;
        Ok(
            Plan::new(txn, Audit::jwk(action.clone(), &project, &name, &[&id]))
                .deploys(&project, Area::Secrets),
        )
    }))
}

/// Set JWK state.
pub(super) fn set_state<'a>(
    ctx: &Ctx<'a>,
    project: String,
    name: String,
    state: KeyState,
) -> Result<Work<'a>> {
    let action = format!("jwk.state.{}", state.as_str());
    change(ctx, project, name, state, |r| &mut r.state, action)
}

/// Set JWK validity: its own `nbf` / `exp`.
pub(super) fn set_validity<'a>(
    ctx: &Ctx<'a>,
    project: String,
    name: String,
    validity: Validity,
) -> Result<Work<'a>> {
    ctx.require(&project, SECRETS_MANAGE)?;
    let validity = checked_validity(validity)?;
    change(
        ctx,
        project,
        name,
        validity,
        |r| &mut r.validity,
        "jwk.validity".to_owned(),
    )
}

/// Update JWK: rename and/or describe; detaches it from its source. Credentials refer to the
/// JWK's id, so they keep pointing at it after a rename.
pub(super) fn update<'a>(
    ctx: &Ctx<'a>,
    project: String,
    name: String,
    req: JwkUpdate,
) -> Result<Work<'a>> {
    ctx.require(&project, SECRETS_MANAGE)?;
    if ctx.find_jwk(&project, &name)?.is_none() {
        return Err(not_found_try_create(&name));
    }
    // A blank new name keeps the name.
    let new_name = name_in("JWK", req.name.as_deref().unwrap_or_default())?
        .unwrap_or(&name)
        .to_owned();
    let renamed = new_name != name;
    if renamed {
        not_a_route(&new_name)?;
    }
    Ok(Work::new(what(&name), move |ctx| {
        let (rec, rev, idx_rev) = ctx
            .find_jwk(&project, &name)?
            .ok_or_else(|| not_found_try_create(&name))?;
        let mut txn = Txn::new().at(keys::jwk_name(&project, &name), idx_rev);
        if renamed {
            if ctx
                .store
                .get(keys::jwk_rotation(&project, &name).as_bytes())?
                .is_some()
            {
                return Err(RegistryError::bad_request(format!(
                    "JWK (name: {name}) has a rotation policy, which follows its name: remove the policy before renaming it!"
                )));
            }
            if ctx.find_jwk(&project, &new_name)?.is_some() {
                return Err(RegistryError::bad_request(format!(
                    "JWK (name: {new_name}) is already exist!"
                )));
            }
            txn = txn
                .absent(keys::jwk_name(&project, &new_name))
                .delete(keys::jwk_name(&project, &name))
                .put(keys::jwk_name(&project, &new_name), rec.id.clone());
        }
        let id = rec.id.clone();
        let now = ctx.now_rfc3339();
        let (txn, _) = ctx.change_served(txn, &keys::jwk(&project, &id), (rec, rev), |r| {
            r.name = new_name.clone();
            if let Some(d) = &req.description {
                r.description = d.clone();
            }
            if r.source.take().is_some() {
                r.detached_at = Some(now.clone());
            }
            Ok(())
        })?;
        let txn = txn.delete(keys::jwk_follow(&project, &id));
        Ok(
            Plan::new(txn, Audit::jwk("jwk.update", &project, &new_name, &[&id]))
                .deploys(&project, Area::Secrets),
        )
    }))
}

/// Delete JWK: refused while a credential (of any project) uses it.
pub(super) fn delete<'a>(ctx: &Ctx<'a>, project: String, name: String) -> Result<Work<'a>> {
    ctx.require(&project, SECRETS_MANAGE)?;
    Ok(Work::new(what(&name), move |ctx| {
        let Some((rec, rev, idx_rev)) = ctx.find_jwk(&project, &name)? else {
            return Err(not_found(&name));
        };
        let mut txn = Txn::new().at(keys::jwk_name(&project, &name), idx_rev);
        let jwk = JwkRef {
            project: project.clone(),
            id: rec.id.clone(),
        };
        let scan = super::credentials::credential_using(ctx, &jwk, |_, _| true)?;
        if let Some((username, cred_project)) = scan.user {
            return Err(RegistryError::bad_request(format!(
                "JWK (name: {name}) is used by credential (username: {username}) in project ({cred_project})! Remove it from the credential first."
            )));
        }
        // No credential may start using the JWK while it is being deleted.
        txn.compares.extend(scan.guard.compares);
        let txn = ctx
            .delete_served(txn, &keys::jwk(&project, &rec.id), rev)
            .delete(keys::jwk_name(&project, &name))
            .delete(keys::sync(&project, &rec.id))
            .delete(keys::jwk_follow(&project, &rec.id))
            .delete(keys::jwk_rotation(&project, &name));
        // Its history goes with it (the global audit log keeps every entry).
        let history = keys::jwk_history(&project, &rec.id);
        let txn = ctx
            .store
            .scan_revisions(history.as_bytes())?
            .into_iter()
            .fold(txn, |txn, (key, _)| txn.delete(key));
        Ok(
            Plan::new(txn, Audit::of("jwk.delete", Some(&project), &name))
                .deploys(&project, Area::Secrets),
        )
    }))
}

/// Deploy JWK: approves the JWK `name` of `project` as it is saved (or its deletion, or a
/// rename away from `name`), then the pipeline ships it. Needs SECRETS+DEPLOY_UNDEPLOY.
pub(super) fn approve<'a>(ctx: &Ctx<'a>, project: String, name: String) -> Result<Work<'a>> {
    ctx.require(&project, SECRETS_DEPLOY)?;
    ctx.layout.ensure(ctx.store)?;
    Ok(Work::new(what(&name), move |ctx| {
        let saved = ctx.find_jwk(&project, &name)?;
        let mut txn = Txn::new();
        if let Some((rec, rev, _)) = &saved {
            let key = keys::jwk(&project, &rec.id);
            txn = txn
                .at(key.clone(), *rev)
                .put(keys::approved(&key), encode(rec));
        }
        // Served copies under this name that are no longer what is saved under it: a
        // deletion (nothing saved under the id), or a rename (the id saved under a new
        // name, which is approved with it).
        let named = crate::records::index::named(&project, &name);
        for (entry, _) in ctx.store.scan_revisions(named.as_bytes())? {
            let id = String::from_utf8_lossy(&entry[named.len()..]).into_owned();
            let approved_key = keys::approved(&keys::jwk(&project, &id));
            let Some((approved, approved_rev)) = ctx.load::<JwkRec>(&approved_key)? else {
                continue; // the index follows the copies in their transactions
            };
            if approved.name != name || saved.as_ref().is_some_and(|s| s.0.id == approved.id) {
                continue;
            }
            let key = keys::jwk(&project, &approved.id);
            txn = txn.at(approved_key.clone(), approved_rev);
            txn = match ctx.load::<JwkRec>(&key)? {
                Some((renamed, rev)) => txn.at(key, rev).put(approved_key, encode(&renamed)),
                None => txn.absent(key).delete(approved_key),
            };
        }
        if txn.ops.is_empty() {
            return Err(not_found(&name));
        }
        let ids: Vec<&str> = saved.iter().map(|(rec, _, _)| rec.id.as_str()).collect();
        Ok(
            Plan::new(txn, Audit::jwk("jwk.deploy", &project, &name, &ids))
                .deploys(&project, Area::Secrets),
        )
    }))
}

/// Re-sync: fetches a URL-sourced JWK again (with its stored options, kid and ETag) and
/// reports which kids of the set were added, removed or changed. A new key is a change of the
/// JWK (approved and deployed as any); what the fetch learnt of the set is its sync record. A
/// failed fetch is recorded as the JWK's last sync and is the answer.
pub(super) fn resync<'a>(ctx: &Ctx<'a>, project: String, name: String) -> Result<Work<'a>> {
    ctx.require(&project, SECRETS_MANAGE)?;
    let (rec, _, _) = ctx
        .find_jwk(&project, &name)?
        .ok_or_else(|| not_found(&name))?;
    let Some(source) = rec.source.clone().filter(|s| s.source_type == "URL") else {
        return Err(RegistryError::bad_request(format!(
            "JWK (name: {name}) has no URL source to re-sync!"
        )));
    };
    let id = rec.id.clone();
    let sync = ctx
        .load::<SyncRec>(&keys::sync(&project, &id))?
        .map(|(s, _)| s);
    let (old_kids, old_etag) = SyncRec::set_of(sync.as_ref(), &source);
    let (old_kids, old_etag) = (old_kids.to_vec(), old_etag.cloned());
    let options = source.url_options.unwrap_or((
        jwk_fetch::DEFAULT_CONNECT_TIMEOUT_MS,
        jwk_fetch::DEFAULT_READ_TIMEOUT_MS,
        jwk_fetch::DEFAULT_SIZE_LIMIT,
    ));
    let url = source.url.clone().unwrap_or_default();
    let fetched = ctx.fetch_url(
        &url,
        options,
        source.kid.as_deref(),
        (old_etag.clone(), None),
    );
    let recorded = |ctx: &Ctx<'_>, result: String| SyncRec {
        v: FORMAT,
        at: ctx.now_rfc3339(),
        result,
        set_kids: old_kids.clone(),
        etag: old_etag.clone(),
    };
    let fetched = match fetched {
        Ok(fetched) => fetched,
        Err(e) => {
            // The failure is what the JWK's view shows as its last sync.
            let sync = recorded(ctx, format!("failed: {e}"));
            let mut plan = Plan {
                txn: Txn::new().put(keys::sync(&project, &id), encode(&sync)),
                ..Plan::default()
            };
            plan.answer.failed = Some(e);
            return Ok(Work::done(what(&name), plan));
        }
    };
    let Some((jwk, kids)) = fetched.fresh else {
        let sync = recorded(ctx, "not modified".to_owned());
        let mut plan = Plan {
            txn: Txn::new().put(keys::sync(&project, &id), encode(&sync)),
            ..Plan::unchanged(&project, Area::Secrets)
        };
        plan.answer.resync = Some(ResyncReport {
            not_modified: true,
            ..ResyncReport::default()
        });
        return Ok(Work::done(what(&name), plan));
    };
    let mut report = ResyncReport::default();
    for (kid, t) in &kids {
        match old_kids.iter().find(|(k, _)| k == kid) {
            None => report.added.push(kid.clone()),
            Some((_, old_t)) if old_t != t => report.changed.push(kid.clone()),
            Some(_) => {}
        }
    }
    for (kid, _) in &old_kids {
        if !kids.iter().any(|(k, _)| k == kid) {
            report.removed.push(kid.clone());
        }
    }
    let etag = fetched.etag;
    Ok(Work::new(what(&name), move |ctx| {
        let (rec, rev, _) = ctx
            .find_jwk(&project, &name)?
            .ok_or_else(|| not_found(&name))?;
        let old = ctx.open(&rec)?;
        let mut jwk = jwk.clone();
        // The usage chosen at creation survives the refresh.
        if let (Some(u), Some(a)) = (&old.params().key_use, &old.params().alg)
            && let Some(usage) = Usage::parse(u.as_str())
        {
            jwk.set_usage(usage, a)?;
        }
        let sync = fetched_now(ctx, kids.clone(), etag.clone());
        let txn = Txn::new().put(keys::sync(&project, &rec.id), encode(&sync));
        let mut plan = if jwk.to_json() == old.to_json() {
            // The same key: nothing of the JWK changes (and nothing waits for approval).
            Plan {
                txn,
                ..Plan::unchanged(&project, Area::Secrets)
            }
        } else {
            let sealed = ctx.key.seal(jwk.to_json().as_bytes())?;
            let id = rec.id.clone();
            let (txn, _) = ctx.change_served(txn, &keys::jwk(&project, &id), (rec, rev), |r| {
                r.public_jwk = jwk.to_disclosable_json();
                r.sealed_jwk = sealed.clone();
                r.private = jwk.is_private();
                Ok(())
            })?;
            Plan::new(txn, Audit::jwk("jwk.resync", &project, &name, &[&id]))
                .deploys(&project, Area::Secrets)
        };
        plan.answer.resync = Some(report.clone());
        Ok(plan)
    }))
}
