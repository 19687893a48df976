//! Remote JWK Sets and followed URL JWKs: create, update and delete a set (fetched at once),
//! refresh one on a user's request, and record what a fetch gave ([`record_plan`], shared by
//! the user's refresh and the refresh controller's `Command::RecordFetch`).
//!
//! A set's keys are content (a change is audited and deployed) and are the provider's: they
//! are deployed as it publishes them. A followed JWK's key material and withdrawal are the
//! refresh's own fields, changed on the saved record and its approved copy alike, so a
//! person's pending edit of the JWK stays pending.

use super::name_in;
use crate::command::{FetchOutcome, Refreshed};
use crate::coord::Lease;
use crate::error::{RegistryError, Result};
use crate::perm::{Area, SECRETS_DEPLOY, SECRETS_MANAGE};
use crate::plan::{Audit, Ctx, Plan, Work};
use crate::records::{
    FORMAT, JwkRec, JwkSetRec, LeaseRec, SetKeysRec, SetStatusRec, SyncRec, encode, keys,
};
use crate::rules::bounded;
use crate::rules::remote::{
    checked_policy, interval_seconds, keys_of, merged, pruned, refreshed_interval,
};
use crate::store::Txn;
use crate::types::{FetchPlan, Followed, JwkSetSpec, ResyncReport};

fn not_found(name: &str) -> RegistryError {
    RegistryError::bad_request(format!("JWK Set (name: {name}) is not found!"))
}

/// The checked record of a set to create or update.
fn set_record(ctx: &Ctx<'_>, name: &str, spec: &JwkSetSpec) -> Result<JwkSetRec> {
    let url = super::non_blank(&spec.url)
        .ok_or_else(|| RegistryError::bad_request("URL is required for a JWK Set!"))?;
    jwk_fetch::check_url(url)?;
    let max_ms = ctx.config.max_fetch_timeout_ms;
    let o = &spec.options;
    let options = (
        bounded(
            "urlOptionConnectTimeout",
            o.connect_timeout_ms,
            jwk_fetch::DEFAULT_CONNECT_TIMEOUT_MS,
            max_ms,
            "milliseconds",
        )?,
        bounded(
            "urlOptionReadTimeout",
            o.read_timeout_ms,
            jwk_fetch::DEFAULT_READ_TIMEOUT_MS,
            max_ms,
            "milliseconds",
        )?,
        bounded(
            "urlOptionSizeLimit",
            o.size_limit,
            jwk_fetch::DEFAULT_SIZE_LIMIT,
            ctx.config.max_fetch_size,
            "bytes",
        )?,
    );
    Ok(JwkSetRec {
        v: FORMAT,
        name: name.to_owned(),
        url: url.to_owned(),
        url_options: options,
        policy: checked_policy(&spec.policy)?,
        created_at: ctx.now_rfc3339(),
    })
}

/// Fetches `url` with a source's options (conditionally with `validators`), counting the
/// result of a remote set's fetch for metrics.
pub(crate) fn fetch(ctx: &Ctx<'_>, plan: &FetchPlan) -> FetchOutcome {
    let (if_none_match, if_modified_since) = plan.validators.clone();
    let options = jwk_fetch::FetchOptions {
        if_none_match,
        if_modified_since,
        ..ctx.config.fetch_options(plan.options)
    };
    let fetched = ctx.fetch(&plan.url, &options);
    if let Followed::Set { project, name } = &plan.source {
        let result = match &fetched {
            Ok(f) if f.not_modified => "not_modified",
            Ok(f) => match keys_of(f) {
                Ok(_) => "ok",
                Err(e) => e.code(),
            },
            Err(e) => e.code(),
        };
        ctx.tally.fetched(project, name, result);
    }
    fetched
}

/// Create JWK Set (`existing: false`) or Update JWK Set: the set is fetched at once (a set
/// that cannot be fetched, or holds no usable key, is refused and nothing is saved), and its
/// keys replace what it served. SECRETS+MANAGE and SECRETS+DEPLOY_UNDEPLOY: following a set
/// deploys whatever its provider publishes.
pub(super) fn put<'a>(
    ctx: &Ctx<'a>,
    project: String,
    name: String,
    spec: JwkSetSpec,
    existing: bool,
) -> Result<Work<'a>> {
    ctx.require(&project, SECRETS_MANAGE)?;
    ctx.require(&project, SECRETS_DEPLOY)?;
    let name = name_in("JWK Set", &name)?
        .ok_or_else(|| RegistryError::bad_request("JWK Set name can not be empty!"))?
        .to_owned();
    let set_key = keys::jwk_set(&project, &name);
    let current = ctx.load::<JwkSetRec>(&set_key)?;
    check_existing(&name, current.is_some(), existing)?;
    let mut rec = set_record(ctx, &name, &spec)?;
    if let Some((old, _)) = &current {
        rec.created_at = old.created_at.clone();
    }
    let plan = FetchPlan {
        source: Followed::Set {
            project: project.clone(),
            name: name.clone(),
        },
        url: rec.url.clone(),
        options: rec.url_options,
        kid: None,
        validators: (None, None),
        revision: 0,
        next_refresh_ms: 0,
        policy: rec.policy,
    };
    let fetched = fetch(ctx, &plan)?;
    if fetched.not_modified {
        return Err(RegistryError::bad_request(
            "The URL answered 304 Not Modified to a first fetch!",
        ));
    }
    let (fresh, skipped) = keys_of(&fetched)?;
    Ok(Work::new(format!("JWK Set (name: {name})"), move |ctx| {
        let current = ctx.load::<JwkSetRec>(&set_key)?;
        check_existing(&name, current.is_some(), existing)?;
        let now = ctx.now_ms();
        let keys_key = keys::jwk_set_keys(&project, &name);
        let old_keys = ctx
            .load::<SetKeysRec>(&keys_key)?
            .map(|(k, _)| k.keys)
            .unwrap_or_default();
        // A new URL or policy starts afresh: no grace for what the set served before.
        let (_, report) = merged(&old_keys, fresh.clone(), now, 0);
        let interval = interval_seconds(&rec.policy, fetched.max_age);
        let mut status = SetStatusRec {
            v: FORMAT,
            skipped: skipped.clone(),
            ..SetStatusRec::default()
        };
        status.succeeded(
            now,
            interval,
            (fetched.etag.clone(), fetched.last_modified.clone()),
            false,
        );
        let served = SetKeysRec {
            v: FORMAT,
            keys: fresh.clone(),
            withdrawn: false,
        };
        let txn = match &current {
            Some((_, rev)) => Txn::new().at(set_key.as_str(), *rev),
            None => Txn::new().absent(set_key.as_str()),
        }
        .put(set_key.as_str(), encode(&rec))
        .put(keys_key, encode(&served))
        .put(keys::jwk_set_status(&project, &name), encode(&status));
        let action = if existing {
            "jwkset.update"
        } else {
            "jwkset.create"
        };
        let mut plan = Plan::new(txn, Audit::of(action, Some(&project), &name))
            .deploys(&project, Area::Secrets);
        plan.answer.resync = Some(report);
        Ok(plan)
    }))
}

fn check_existing(name: &str, found: bool, existing: bool) -> Result<()> {
    match (found, existing) {
        (true, false) => Err(RegistryError::bad_request(format!(
            "JWK Set (name: {name}) is already exist!"
        ))),
        (false, true) => Err(not_found(name)),
        _ => Ok(()),
    }
}

/// Delete JWK Set: its keys are no longer served.
pub(super) fn delete<'a>(ctx: &Ctx<'a>, project: String, name: String) -> Result<Work<'a>> {
    ctx.require(&project, SECRETS_MANAGE)?;
    ctx.require(&project, SECRETS_DEPLOY)?;
    Ok(Work::new(format!("JWK Set (name: {name})"), move |ctx| {
        let set_key = keys::jwk_set(&project, &name);
        let Some((_, rev)) = ctx.load::<JwkSetRec>(&set_key)? else {
            return Err(not_found(&name));
        };
        let txn = Txn::new()
            .at(set_key.as_str(), rev)
            .delete(set_key.as_str())
            .delete(keys::jwk_set_keys(&project, &name))
            .delete(keys::jwk_set_status(&project, &name));
        Ok(
            Plan::new(txn, Audit::of("jwkset.delete", Some(&project), &name))
                .deploys(&project, Area::Secrets),
        )
    }))
}

/// Refresh JWK Set on a user's request (SECRETS+MANAGE): fetched now (conditionally),
/// whatever its schedule, unless a refresh holds the set's lease (busy). A failed fetch is
/// recorded in the set's status and is the answer, once the change it made (keys withdrawn
/// past the stale limit) is deployed. Written as the refresh records its fetches, by the
/// user, against the status as read (a refresh recorded meanwhile: planned again on top).
pub(super) fn refresh<'a>(ctx: &Ctx<'a>, project: String, name: String) -> Result<Work<'a>> {
    ctx.require(&project, SECRETS_MANAGE)?;
    let source = Followed::Set {
        project: project.clone(),
        name: name.clone(),
    };
    let plan = fetch_plan(ctx, &source)?.ok_or_else(|| not_found(&name))?;
    let held = ctx
        .load::<LeaseRec>(&keys::lease(&source.lease_name()))?
        .is_some_and(|(lease, _)| lease.until_ms > ctx.now_ms());
    if held {
        return Err(RegistryError::busy(format!(
            "JWK Set (name: {name}) is being refreshed by another request: try again in a few seconds!"
        )));
    }
    let outcome = fetch(ctx, &plan);
    Ok(Work::new(format!("JWK Set (name: {name})"), move |ctx| {
        let mut recorded = record_plan(ctx, &plan, None, outcome.clone())?;
        let refreshed = recorded.answer.refreshed.take().unwrap_or_default();
        match (refreshed.error, refreshed.report) {
            (Some(e), _) => recorded.answer.failed = Some(e),
            (None, Some(report)) => recorded.answer.resync = Some(report),
            (None, None) => {
                recorded.answer.failed = Some(RegistryError::bad_request(format!(
                    "JWK Set (name: {name}) changed while it was refreshed; try again!"
                )));
            }
        }
        if recorded.deploy == crate::plan::Deploy::Nothing {
            recorded = recorded.deploys(&project, Area::Secrets);
        }
        Ok(recorded)
    }))
}

/// Record Fetch (the refresh controller's): what a fetch gave, under its lease.
pub(super) fn record<'a>(
    _ctx: &Ctx<'a>,
    plan: FetchPlan,
    lease: Lease,
    outcome: FetchOutcome,
) -> Result<Work<'a>> {
    let what = match &plan.source {
        Followed::Set { name, .. } => format!("JWK Set (name: {name})"),
        Followed::Jwk { id, .. } => format!("JWK (id: {id})"),
    };
    Ok(Work::new(what, move |ctx| {
        record_plan(ctx, &plan, Some(&lease), outcome.clone())
    }))
}

/// What a fetch of `source` is to be, as its definition stands; `None` when it is no longer
/// followed (deleted, detached).
pub(crate) fn fetch_plan(ctx: &Ctx<'_>, source: &Followed) -> Result<Option<FetchPlan>> {
    match source {
        Followed::Set { project, name } => {
            let Some((rec, revision)) = ctx.load::<JwkSetRec>(&keys::jwk_set(project, name))?
            else {
                return Ok(None);
            };
            let status = ctx
                .load::<SetStatusRec>(&keys::jwk_set_status(project, name))?
                .map(|(s, _)| s)
                .unwrap_or_default();
            let served = ctx
                .load::<SetKeysRec>(&keys::jwk_set_keys(project, name))?
                .map(|(k, _)| k)
                .unwrap_or_default();
            let validators = if !served.withdrawn && !served.keys.is_empty() {
                (status.etag.clone(), status.last_modified.clone())
            } else {
                (None, None)
            };
            Ok(Some(FetchPlan {
                source: source.clone(),
                url: rec.url,
                options: rec.url_options,
                kid: None,
                validators,
                revision,
                next_refresh_ms: status.next_refresh,
                policy: rec.policy,
            }))
        }
        Followed::Jwk { project, id } => {
            let Some((rec, revision)) = ctx.load::<JwkRec>(&keys::jwk(project, id))? else {
                return Ok(None);
            };
            let Some(source_rec) = rec.source.filter(|s| s.source_type == "URL") else {
                return Ok(None);
            };
            let Some(policy) = source_rec.follow else {
                return Ok(None);
            };
            let status = ctx
                .load::<SetStatusRec>(&keys::jwk_follow(project, id))?
                .map(|(s, _)| s)
                .unwrap_or_default();
            let sync = ctx
                .load::<SyncRec>(&keys::sync(project, id))?
                .map(|(s, _)| s);
            let validators = if status.withdrawn {
                (None, None)
            } else {
                let (_, etag) = SyncRec::set_of(sync.as_ref(), &source_rec);
                (
                    status.etag.clone().or(etag.cloned()),
                    status.last_modified.clone(),
                )
            };
            Ok(Some(FetchPlan {
                source: source.clone(),
                url: source_rec.url.unwrap_or_default(),
                options: source_rec.url_options.unwrap_or((
                    jwk_fetch::DEFAULT_CONNECT_TIMEOUT_MS,
                    jwk_fetch::DEFAULT_READ_TIMEOUT_MS,
                    jwk_fetch::DEFAULT_SIZE_LIMIT,
                )),
                kid: source_rec.kid,
                validators,
                revision,
                next_refresh_ms: status.next_refresh,
                policy,
            }))
        }
    }
}

/// Whether a record under `lease` may still be written: the lease is held as taken.
fn lease_held(ctx: &Ctx<'_>, lease: &Lease) -> Result<bool> {
    Ok(ctx
        .store
        .get(lease.key().as_bytes())?
        .is_some_and(|v| v.revision == lease.revision))
}

/// A plan that records nothing but the lease's release: the source moved on (deleted,
/// redefined, detached) while it was fetched; its own change stands.
fn dropped(ctx: &Ctx<'_>, lease: Option<&Lease>) -> Plan {
    let mut plan = Plan {
        txn: released(lease, Txn::new()),
        ..Plan::default()
    };
    plan.answer.refreshed = Some(Refreshed {
        report: None,
        next_due_ms: ctx.now_ms(),
        error: None,
    });
    plan
}

/// `txn` with the requirement that `lease` (if any) is still held as taken, and its release.
fn released(lease: Option<&Lease>, txn: Txn) -> Txn {
    match lease {
        Some(lease) => lease.held_and_released(txn),
        None => txn,
    }
}

/// The status record at `key` and a compare that it is unchanged when the record is written.
fn status_at(ctx: &Ctx<'_>, key: &str, txn: Txn) -> Result<(SetStatusRec, Txn)> {
    Ok(match ctx.load::<SetStatusRec>(key)? {
        Some((status, rev)) => (status, txn.at(key, rev)),
        None => (SetStatusRec::default(), txn.absent(key)),
    })
}

/// The record of what a fetch gave, under `lease` (the refresh's; a user's refresh has
/// none): for a set, the keys it serves (merged
/// with what it served: grace, withdrawal past the stale limit) and its status; for a
/// followed JWK, its key material (its use and alg kept) and withdrawal on both copies, and
/// its status. A content change is audited and deployed.
pub(crate) fn record_plan(
    ctx: &Ctx<'_>,
    plan: &FetchPlan,
    lease: Option<&Lease>,
    outcome: FetchOutcome,
) -> Result<Plan> {
    if let Some(lease) = lease
        && !lease_held(ctx, lease)?
    {
        return Ok(dropped(ctx, None));
    }
    match &plan.source {
        Followed::Set { project, name } => record_set(ctx, plan, lease, outcome, (project, name)),
        Followed::Jwk { project, id } => record_jwk(ctx, plan, lease, outcome, (project, id)),
    }
}

fn record_set(
    ctx: &Ctx<'_>,
    plan: &FetchPlan,
    lease: Option<&Lease>,
    outcome: FetchOutcome,
    (project, name): (&str, &str),
) -> Result<Plan> {
    let set_key = keys::jwk_set(project, name);
    let Some((rec, set_rev)) = ctx.load::<JwkSetRec>(&set_key)? else {
        return Ok(dropped(ctx, lease));
    };
    if set_rev != plan.revision {
        return Ok(dropped(ctx, lease));
    }
    let status_key = keys::jwk_set_status(project, name);
    let (mut status, txn) = status_at(ctx, &status_key, released(lease, Txn::new()))?;
    status.v = FORMAT;
    let keys_key = keys::jwk_set_keys(project, name);
    let (served, keys_rev) = match ctx.load::<SetKeysRec>(&keys_key)? {
        Some((k, rev)) => (k, Some(rev)),
        None => (SetKeysRec::default(), None),
    };
    let now = ctx.now_ms();
    let mut keys = served.keys.clone();
    let mut withdrawn = served.withdrawn;
    let mut report = ResyncReport::default();
    let mut error = None;
    let read = outcome.and_then(|f| {
        let fresh = if f.not_modified {
            None
        } else {
            Some(keys_of(&f)?)
        };
        Ok((f, fresh))
    });
    match read {
        Ok((fetched, fresh)) => {
            let interval = refreshed_interval(
                &rec.policy,
                fetched.max_age,
                fetched.not_modified,
                status.interval_seconds,
            );
            let grace_ms = rec.policy.grace_seconds.unwrap_or(interval) as i64 * 1000;
            match fresh {
                Some((fresh, skipped)) => {
                    (keys, report) = merged(&served.keys, fresh, now, grace_ms);
                    status.skipped = skipped;
                }
                None => {
                    report.not_modified = true;
                    keys = pruned(&served.keys, now, grace_ms);
                }
            }
            withdrawn = false;
            let not_modified = report.not_modified;
            status.succeeded(
                now,
                interval,
                (fetched.etag, fetched.last_modified),
                not_modified,
            );
        }
        Err(e) => {
            if status.failed(now, &e, &rec.policy) && !withdrawn {
                tracing::warn!(
                    project,
                    set = name,
                    "a remote JWK Set passed its stale limit: its keys are withdrawn"
                );
                keys.clear();
                withdrawn = true;
            } else {
                let grace = rec.policy.grace_seconds.unwrap_or(status.interval_seconds);
                keys = pruned(&keys, now, grace as i64 * 1000);
            }
            tracing::warn!(project, set = name, code = e.code(), error = %e, "fetching a remote JWK Set failed");
            error = Some(e);
        }
    }
    let content_changed = keys != served.keys || withdrawn != served.withdrawn;
    let mut txn = txn
        .at(set_key.as_str(), set_rev)
        .put(status_key.as_str(), encode(&status));
    let mut audit = Vec::new();
    if content_changed {
        txn = match keys_rev {
            Some(rev) => txn.at(keys_key.as_str(), rev),
            None => txn.absent(keys_key.as_str()),
        }
        .put(
            keys_key.as_str(),
            encode(&SetKeysRec {
                v: FORMAT,
                keys,
                withdrawn,
            }),
        );
        audit.push(Audit::of("jwkset.refresh", Some(project), name));
    }
    let mut plan = Plan {
        txn,
        audit,
        ..Plan::default()
    };
    if content_changed {
        plan = plan.deploys(project, Area::Secrets);
    }
    plan.answer.refreshed = Some(Refreshed {
        report: Some(report),
        next_due_ms: status.next_refresh,
        error,
    });
    Ok(plan)
}

fn record_jwk(
    ctx: &Ctx<'_>,
    plan: &FetchPlan,
    lease: Option<&Lease>,
    outcome: FetchOutcome,
    (project, id): (&str, &str),
) -> Result<Plan> {
    let key = keys::jwk(project, id);
    let Some((rec, rev)) = ctx.load::<JwkRec>(&key)? else {
        return Ok(dropped(ctx, lease));
    };
    // Still followed from the same place: else a user changed (or detached) it meanwhile and
    // this fetch is of the past.
    let same = rec.source.as_ref().is_some_and(|s| {
        s.source_type == "URL"
            && s.follow.is_some()
            && s.url.as_deref() == Some(plan.url.as_str())
            && s.kid == plan.kid
    });
    if !same {
        return Ok(dropped(ctx, lease));
    }
    let sync = ctx
        .load::<SyncRec>(&keys::sync(project, id))?
        .map(|(s, _)| s);
    let (known_kids, known_etag) = match &rec.source {
        Some(source) => {
            let (kids, etag) = SyncRec::set_of(sync.as_ref(), source);
            (kids.to_vec(), etag.cloned())
        }
        None => (Vec::new(), None),
    };
    let status_key = keys::jwk_follow(project, id);
    let (mut status, txn) = status_at(ctx, &status_key, released(lease, Txn::new()))?;
    status.v = FORMAT;
    let now = ctx.now_ms();
    let label = plan.kid.clone().unwrap_or_else(|| rec.name.clone());
    let name = rec.name.clone();
    let mut report = ResyncReport::default();
    let mut error = None;
    let mut txn = txn;
    let mut content = false;
    let read = outcome.and_then(|f| {
        let parsed = super::sources::url_fetched(&f, plan.kid.as_deref())?;
        Ok((f, parsed))
    });
    match read {
        Ok((fetched, parsed)) => {
            let interval = refreshed_interval(
                &plan.policy,
                fetched.max_age,
                fetched.not_modified,
                status.interval_seconds,
            );
            report.not_modified = parsed.fresh.is_none();
            let was_withdrawn = status.withdrawn;
            let fresh = parsed.fresh;
            // Whether a copy's key changed, and the sealed form of each key (sealed once, or
            // taken from the copy that holds it already: copies of the same key must stay
            // equal, or the JWK would show as pending).
            let changed = std::cell::Cell::new(false);
            let mut known = vec![(ctx.open(&rec)?.to_json(), rec.sealed_jwk.clone())];
            if let Some((approved, _)) = ctx.load::<JwkRec>(&keys::approved(&key))? {
                known.push((ctx.open(&approved)?.to_json(), approved.sealed_jwk));
            }
            let sealed = std::cell::RefCell::new(known);
            let (patched, _) = ctx.change_served(Txn::new(), &key, (rec, rev), |r| {
                if let Some((jwk, _)) = &fresh {
                    let old = r.open(ctx.key)?;
                    let mut jwk = jwk.clone();
                    // The use and algorithm chosen at creation survive the refresh.
                    if let (Some(u), Some(a)) = (&old.params().key_use, &old.params().alg)
                        && let Some(usage) = jwk_core::Usage::parse(u.as_str())
                    {
                        jwk.set_usage(usage, a)?;
                    }
                    let json = jwk.to_json();
                    if json != old.to_json() {
                        let known = sealed
                            .borrow()
                            .iter()
                            .find(|(j, _)| *j == json)
                            .map(|(_, s)| s.clone());
                        let seal = match known {
                            Some(seal) => seal,
                            None => {
                                let seal = ctx.key.seal(json.as_bytes())?;
                                sealed.borrow_mut().push((json, seal.clone()));
                                seal
                            }
                        };
                        r.public_jwk = jwk.to_disclosable_json();
                        r.sealed_jwk = seal;
                        r.private = jwk.is_private();
                        changed.set(true);
                    }
                }
                r.withdrawn = false;
                Ok(())
            })?;
            if changed.get() {
                report.changed.push(label);
            }
            // A key changed on either copy (the approved copy may hold an older key than the
            // saved one: a person's pending re-sync), or the JWK comes back: content.
            content = changed.get() || was_withdrawn;
            if content {
                txn = merge(txn, patched);
            }
            status.withdrawn = false;
            status.succeeded(
                now,
                interval,
                (fetched.etag, fetched.last_modified),
                report.not_modified,
            );
            // What the fetch learnt of the set (a 304 keeps what was known).
            let sync = match fresh {
                Some((_, kids)) => super::jwks::fetched_now(ctx, kids, parsed.etag),
                None => super::jwks::fetched_now(ctx, known_kids.clone(), known_etag.clone()),
            };
            txn = txn.put(keys::sync(project, id), encode(&sync));
        }
        Err(e) => {
            if status.failed(now, &e, &plan.policy) && !status.withdrawn {
                tracing::warn!(
                    project,
                    jwk = %name,
                    "a followed JWK passed its stale limit: it is withdrawn"
                );
                status.withdrawn = true;
                content = true;
                let (patched, _) = ctx.change_served(Txn::new(), &key, (rec, rev), |r| {
                    r.withdrawn = true;
                    Ok(())
                })?;
                txn = merge(txn, patched);
            }
            tracing::warn!(project, jwk = %name, code = e.code(), error = %e, "fetching a followed JWK failed");
            error = Some(e);
        }
    }
    let txn = txn.put(status_key.as_str(), encode(&status));
    let mut plan = Plan {
        txn,
        ..Plan::default()
    };
    if content {
        plan.audit
            .push(Audit::jwk("jwk.follow", project, &name, &[id]));
        plan = plan.deploys(project, Area::Secrets);
    }
    plan.answer.refreshed = Some(Refreshed {
        report: Some(report),
        next_due_ms: status.next_refresh,
        error,
    });
    Ok(plan)
}

/// `b`'s compares and writes added to `a`.
fn merge(mut a: Txn, b: Txn) -> Txn {
    a.compares.extend(b.compares);
    a.ops.extend(b.ops);
    a
}
