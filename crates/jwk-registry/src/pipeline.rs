//! The one pipeline every change goes through, a person's or the engine's:
//!
//! 1. **authorize**: a system actor may apply its role's commands only; the command's handler
//!    checks the actor's permissions (in the product's order) and does the expensive part
//!    once (fetches, key generation, imports);
//! 2. **plan** the change from fresh reads ([`Plan`]);
//! 3. **mirror approval**: a person's change of a served record (a JWK, a credential) reaches
//!    its approved copy, which environments serve, only when the person holds the deploy
//!    permission there; a system actor's plan already changed each copy alike, only in the
//!    fields its work owns;
//! 4. **audit**: every entry in the log (and in the history of the JWKs it names);
//! 5. **commit** in one transaction, planning again from fresh reads when another writer got
//!    there first (at most [`ATTEMPTS`] times);
//! 6. **deploy** what changed to every environment (or say why it is skipped).

use std::collections::HashMap;
use std::sync::Arc;

use crate::actor::{Actor, SystemRole};
use crate::command::{ApprovedEdit, Command, Outcome};
use crate::deploy::{Change, DeploymentResult};
use crate::error::{RegistryError, Result};
use crate::handlers;
use crate::perm::{Area, Level, Permission};
use crate::plan::{Answer, Audit, Ctx, Deploy, Effect, Work, has};
use crate::records::{
    ATTEMPTS, AuditRec, CredentialRec, FORMAT, JwkRec, decode, encode, is_served, kept_changing,
    keys, pending_against,
};
use crate::registry::{Registry, random};
use crate::store::{Commit, Op, Txn};
use crate::types::ADMIN_USER;

/// The most audit entries a JWK's history keeps (the global audit log keeps every one).
pub const MAX_JWK_HISTORY: usize = 200;

/// What the blocking part of a command did, and what is left to deploy.
struct Committed {
    revision: Option<u64>,
    deploy: Option<Change>,
    reconcile: bool,
    answer: Answer,
    approved: Vec<ApprovedEdit>,
}

impl Registry {
    /// The context handlers plan from, for `actor`.
    pub(crate) fn ctx<'a>(&'a self, actor: &'a Actor) -> Ctx<'a> {
        Ctx {
            store: &*self.store,
            key: &self.key,
            config: &self.config,
            layout: &self.layout,
            fetches: &self.fetches,
            tally: &self.tally,
            deployer: &self.deployer,
            actor,
        }
    }

    /// Applies `command` for `actor` through the pipeline (see the module's documentation)
    /// and says what happened. The store work runs off the async workers
    /// ([`Registry::run_blocking`]).
    pub async fn apply(self: &Arc<Self>, actor: &Actor, command: Command) -> Result<Outcome> {
        let (me, who) = (self.clone(), actor.clone());
        let done = self.run_blocking(move || me.commit(&who, command)).await?;
        // 6. deploy
        let deployment = match (&done.deploy, done.reconcile) {
            (_, true) => Some(self.deployer.reconcile().await?),
            (Some(change), false) => Some(self.deployer.deploy(change).await?),
            (None, false) => None,
        }
        .map(|d| d.shown_to(actor));
        if let Some(e) = done.answer.failed {
            return Err(e);
        }
        Ok(Outcome {
            revision: done.revision,
            deployment,
            resync: done.answer.resync,
            token: done.answer.token,
            rotated: done.answer.rotated,
            detached: done.answer.detached,
            approved: done.approved,
            refreshed: done.answer.refreshed,
            retired: done.answer.retired,
        })
    }

    /// Redeploys every environment that is pending or behind the store's revision, as the
    /// system's reconcile ([`Command::Redeploy`]).
    pub async fn reconcile(self: &Arc<Self>) -> Result<DeploymentResult> {
        let outcome = self
            .apply(&Actor::system(SystemRole::Reconcile), Command::Redeploy)
            .await?;
        outcome
            .deployment
            .ok_or_else(|| RegistryError::internal("a redeploy deployed nothing"))
    }

    /// Steps 1 to 5, on a blocking thread.
    fn commit(&self, actor: &Actor, command: Command) -> Result<Committed> {
        // 1. authorize
        if let Some(role) = actor.system_role()
            && !handlers::allowed(role, &command)
        {
            return Err(RegistryError::forbidden(format!(
                "The system actor ({}) may not apply this command!",
                actor.username()
            )));
        }
        let ctx = self.ctx(actor);
        let work = handlers::prepare(&ctx, command)?;
        self.commit_work(&ctx, work)
    }

    /// Steps 2 to 5 of authorized work.
    fn commit_work(&self, ctx: &Ctx<'_>, mut work: Work<'_>) -> Result<Committed> {
        for _ in 0..ATTEMPTS {
            // 2. plan
            let mut plan = (work.plan)(ctx)?;
            let approved = if plan.txn.ops.is_empty() {
                Vec::new()
            } else {
                // 3. mirror approval (and the indexes the records' writes imply)
                let (txn, approved) = mirror(ctx, std::mem::take(&mut plan.txn))?;
                let txn = crate::records::index::derive(ctx.store, txn)?;
                // 4. audit
                plan.txn = audited(ctx, txn, &plan.audit, !plan.bookkeeping)?;
                approved
            };
            // 5. commit
            let revision = if plan.txn.ops.is_empty() {
                None
            } else {
                match self.commit_txn(std::mem::take(&mut plan.txn))? {
                    Commit::Applied(revision) => Some(revision),
                    Commit::Conflict(_) => continue,
                }
            };
            // The revision of a change of content (bookkeeping alone is not one).
            let content = revision.filter(|_| !plan.audit.is_empty() && !plan.bookkeeping);
            if let Some(content) = content {
                self.changed.send_replace(content);
            }
            for effect in &plan.effects {
                match effect {
                    Effect::ForgetResolver(env) => self.deployer.forget(env),
                }
            }
            return Ok(Committed {
                deploy: self.change_of(ctx, &plan.deploy, content)?,
                reconcile: plan.deploy == Deploy::Reconcile,
                revision,
                answer: plan.answer,
                approved,
            });
        }
        Err(kept_changing(&work.what))
    }

    /// Creates the admin user and the admin project; the admin's token, shown once. Fails
    /// (changing nothing) on a registry that is already bootstrapped.
    pub fn bootstrap(&self) -> Result<String> {
        let admin = Actor::authenticated(ADMIN_USER.to_owned(), true);
        let done = self.commit_work(&self.ctx(&admin), handlers::bootstrap_work()?)?;
        done.answer
            .token
            .ok_or_else(|| RegistryError::internal("the bootstrap made no token"))
    }

    /// Replaces the admin user's token and returns the new one (the old one stops working):
    /// the host's recovery, on the machine that holds the data dir.
    pub fn reset_admin_token(&self) -> Result<String> {
        let admin = Actor::authenticated(ADMIN_USER.to_owned(), true);
        let done = self.commit_work(&self.ctx(&admin), handlers::reset_admin_token_work()?)?;
        done.answer
            .token
            .ok_or_else(|| RegistryError::internal("the reset made no token"))
    }

    /// The checks a change that creates `record` in `project` makes before it reads the rest
    /// of its input, in the product's order: the actor's permission (SECRETS+MANAGE), the
    /// project, then the name (empty, too long, taken, …) and for a secret its environment.
    /// A front end that cannot read the rest of a request (an unknown source type, a use type
    /// that is not SIGNATURE or ENCRYPTION) calls this first, so that its answer is the one
    /// the registry would have given first.
    pub fn check_new(
        &self,
        actor: &Actor,
        project: &str,
        record: &crate::command::NewRecord,
    ) -> Result<()> {
        handlers::check_new(&self.ctx(actor), project, record)
    }

    /// The deployment a committed plan asks for: skipped (saved, pending) when a person
    /// without the deploy permission made it.
    fn change_of(
        &self,
        ctx: &Ctx<'_>,
        deploy: &Deploy,
        revision: Option<u64>,
    ) -> Result<Option<Change>> {
        let Deploy::Change { project, area } = deploy else {
            return Ok(None);
        };
        let revision = match revision {
            Some(revision) => revision,
            // Nothing written: the content as it stands.
            None => self.content_revision().unwrap_or(u64::MAX),
        };
        let needed = Permission::new(*area, Level::DeployUndeploy);
        let skipped = (!ctx.actor.is_system() && !has(&ctx.access(project)?, needed)).then(|| {
            format!(
                "Deployment skipped: user does not have {needed} permission; the change is saved and pending"
            )
        });
        Ok(Some(Change { skipped, revision }))
    }
}

/// Step 3: a person's writes of served records repeated on their approved copies where the
/// person holds the deploy permission (SECRETS for JWKs, IDENTITY for credentials, in the
/// record's project); the records that held a pending edit this approves, named. A system
/// actor's plan is taken as it is: its handler changed each copy alike
/// ([`Ctx::change_served`]).
fn mirror(ctx: &Ctx<'_>, mut txn: Txn) -> Result<(Txn, Vec<ApprovedEdit>)> {
    ctx.layout.ensure(ctx.store)?;
    if ctx.actor.is_system() {
        return Ok((txn, Vec::new()));
    }
    let mut perms: HashMap<String, Vec<Permission>> = HashMap::new();
    let mut copies = Vec::new();
    let mut writes = Vec::new();
    let mut approved = Vec::new();
    for op in &txn.ops {
        let (key, value) = match op {
            Op::Put(key, value) => (key, Some(value)),
            Op::Delete(key) => (key, None),
        };
        if !is_served(key) {
            continue;
        }
        let key = String::from_utf8_lossy(key).into_owned();
        let Some((kind, project, area)) = served_record(&key) else {
            continue;
        };
        let held = match perms.get(&project) {
            Some(held) => held,
            None => {
                let held = match ctx.access(&project) {
                    Ok(held) => held,
                    Err(e) if e.kind() == crate::ErrorKind::NotFound => Vec::new(),
                    Err(e) => return Err(e),
                };
                perms.entry(project.clone()).or_insert(held)
            }
        };
        if !has(held, Permission::new(area, Level::DeployUndeploy)) {
            continue;
        }
        let approved_key = keys::approved(&key);
        // The approved copy as this change finds it: what it replaces must still be that.
        let before = ctx.store.get(approved_key.as_bytes())?;
        if let Some(edit) = pending_edit(
            ctx,
            &key,
            kind,
            &project,
            before.as_ref().map(|v| &v.value[..]),
        )? {
            approved.push(edit);
        }
        copies.push(match &before {
            Some(v) => (approved_key.clone(), Some(v.revision)),
            None => (approved_key.clone(), None),
        });
        writes.push(match value {
            Some(value) => Op::Put(approved_key.into_bytes(), value.clone()),
            None => Op::Delete(approved_key.into_bytes()),
        });
    }
    txn.ops.extend(writes);
    for (key, revision) in copies {
        txn = match revision {
            Some(revision) => txn.at(key, revision),
            None => txn.absent(key),
        };
    }
    approved.dedup();
    Ok((txn, approved))
}

/// The kind (`JWK`, `CREDENTIAL`), project and permission area of a served record's key.
fn served_record(key: &str) -> Option<(&'static str, String, Area)> {
    if let Some(rest) = key.strip_prefix(keys::ALL_JWKS) {
        let (project, _) = rest.split_once('/')?;
        return Some(("JWK", crate::records::name_of(project), Area::Secrets));
    }
    let project = keys::credential_project(key)?;
    Some(("CREDENTIAL", project, Area::Identity))
}

/// The pending edit the saved record at `key` holds against its approved copy `approved`
/// (before this change), as the answer names it.
fn pending_edit(
    ctx: &Ctx<'_>,
    key: &str,
    kind: &'static str,
    project: &str,
    approved: Option<&[u8]>,
) -> Result<Option<ApprovedEdit>> {
    let Some(saved) = ctx.store.get(key.as_bytes())? else {
        return Ok(None); // a new record: nothing was pending
    };
    let (name, pending) = if kind == "JWK" {
        let saved: JwkRec = decode(key, &saved.value)?;
        let approved = approved.map(|a| decode::<JwkRec>(key, a)).transpose()?;
        (
            saved.name.clone(),
            pending_against(approved.as_ref(), &saved),
        )
    } else {
        let saved: CredentialRec = decode(key, &saved.value)?;
        let approved = approved
            .map(|a| decode::<CredentialRec>(key, a))
            .transpose()?;
        (
            saved.username.clone(),
            pending_against(approved.as_ref(), &saved),
        )
    };
    Ok(pending.map(|pending| ApprovedEdit {
        kind,
        project: project.to_owned(),
        name,
        pending,
    }))
}

/// Step 4: the audit entries written with the change, each also in the history of the JWKs
/// it names (kept to their last [`MAX_JWK_HISTORY`] entries), and the content marker.
fn audited(ctx: &Ctx<'_>, mut txn: Txn, entries: &[Audit], content: bool) -> Result<Txn> {
    if entries.is_empty() {
        return Ok(txn);
    }
    for entry in entries {
        // The log's order is the wall clock's (nanoseconds, then a random salt), whatever
        // time the registry's clock says (`at`).
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        let salt = u32::from_be_bytes(random::<4>()?);
        let suffix = keys::audit_suffix(nanos, salt);
        let rec = encode(&AuditRec {
            v: FORMAT,
            at: ctx.now_rfc3339(),
            actor: ctx.actor.username().to_owned(),
            action: entry.action.clone(),
            project: entry.project.clone(),
            target: entry.target.clone(),
        });
        txn = txn.put(keys::audit(&suffix), rec.clone());
        let project = entry.project.as_deref().unwrap_or_default();
        for id in &entry.jwks {
            let prefix = keys::jwk_history(project, id);
            let held = ctx.store.scan_revisions(prefix.as_bytes())?;
            // The oldest go first, so that with the new one MAX_JWK_HISTORY stay. Two changes
            // racing may both delete the same old entry: a delete of what is gone is a no-op.
            let over = (held.len() + 1).saturating_sub(MAX_JWK_HISTORY);
            for (key, _) in held.into_iter().take(over) {
                txn = txn.delete(key);
            }
            txn = txn.put(format!("{prefix}{suffix}"), rec.clone());
        }
    }
    Ok(if content {
        txn.put(keys::CONTENT, "")
    } else {
        txn
    })
}

#[cfg(test)]
mod retry_tests {
    use super::*;
    use crate::crypto::MasterKey;
    use crate::store::MemoryStore;

    fn registry() -> Arc<Registry> {
        Arc::new(Registry::new(
            Arc::new(MemoryStore::new()),
            MasterKey::from_bytes([2; 32]),
            crate::RegistryConfig::default(),
        ))
    }

    /// Work abandoned while it runs (what a server's timeout does to a request) saves nothing
    /// it would commit afterwards.
    #[test]
    fn abandoned_work_commits_nothing() {
        use std::time::Duration;
        let registry = registry();
        let token = registry.bootstrap().unwrap();
        let admin = registry.authenticate(&token).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let create = |name: &str| Command::CreateProject { name: name.into() };
        let (reg, who, late) = (registry.clone(), admin.clone(), create("late"));
        let work = registry.run_blocking(move || {
            std::thread::sleep(Duration::from_millis(300));
            reg.commit(&who, late).map(|_| ())
        });
        let gave_up =
            rt.block_on(async { tokio::time::timeout(Duration::from_millis(50), work).await });
        assert!(gave_up.is_err(), "the work was abandoned");
        // Let the blocking work finish: its commit is refused.
        std::thread::sleep(Duration::from_millis(600));
        rt.block_on(registry.apply(&admin, create("late"))).unwrap();
        // Work that is not abandoned commits as usual.
        rt.block_on(registry.apply(&admin, create("on-time")))
            .unwrap();
        assert_eq!(
            rt.block_on(registry.apply(&admin, create("on-time")))
                .unwrap_err(),
            RegistryError::bad_request("Project (name: on-time) is already exist!")
        );
    }

    #[test]
    fn a_change_is_tried_a_bounded_number_of_times_then_answered_with_one_error() {
        let reg = registry();
        reg.store().commit(Txn::new().put("taken", "x")).unwrap();
        let mut attempts = 0;
        let err = crate::records::retry(
            "JWK (name: busy)",
            || {
                attempts += 1;
                // Another writer always got there first.
                Ok(Some(Txn::new().absent("taken").put("taken", "y")))
            },
            |txn| reg.commit_txn(txn),
        )
        .unwrap_err();
        assert_eq!(attempts, ATTEMPTS);
        assert_eq!(
            (err.kind(), err.message().as_str()),
            (
                crate::error::ErrorKind::Unavailable,
                "JWK (name: busy) kept changing while this request changed it: try again in a few seconds!"
            )
        );
    }
}
