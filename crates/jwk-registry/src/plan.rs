//! What a handler sees and what it gives back: a [`Ctx`] to read from (the store, the master
//! key, the clock, the settings, the actor and its permissions) and a [`Plan`] of the change
//! (compares and writes, audit entries, what to deploy, what to answer). Handlers never write
//! and never see the registry: the pipeline (`pipeline.rs`) approves, audits, commits and
//! deploys their plans.

use jwk_core::Jwk;
use serde::{Serialize, de::DeserializeOwned};

use crate::actor::Actor;
use crate::config::RegistryConfig;
use crate::crypto::MasterKey;
use crate::deploy::Deployer;
use crate::error::{RegistryError, Result};
use crate::fetching::{FetchGate, FetchTally};
use crate::perm::{Area, Level, Permission};
use crate::records::{self, ApprovalLayout, JwkRec, encode, keys};
use crate::store::{Store, Txn};
use crate::types::ResyncReport;

/// What handlers read from, for one actor.
pub(crate) struct Ctx<'a> {
    pub(crate) store: &'a dyn Store,
    pub(crate) key: &'a MasterKey,
    pub(crate) config: &'a RegistryConfig,
    pub(crate) layout: &'a ApprovalLayout,
    pub(crate) fetches: &'a FetchGate,
    pub(crate) tally: &'a FetchTally,
    pub(crate) deployer: &'a Deployer,
    pub(crate) actor: &'a Actor,
}

/// Every permission: what the admin and the system actors hold in every project (system
/// actors are held to their role's commands by the pipeline).
const ALL: [Permission; 6] = [
    crate::perm::SECRETS_VIEW,
    crate::perm::SECRETS_MANAGE,
    crate::perm::SECRETS_DEPLOY,
    crate::perm::IDENTITY_VIEW,
    crate::perm::IDENTITY_MANAGE,
    crate::perm::IDENTITY_DEPLOY,
];

/// Whether `perms` grant `needed` (MANAGE implies VIEW).
pub(crate) fn has(perms: &[Permission], needed: Permission) -> bool {
    perms.contains(&needed)
        || (needed.level == Level::View
            && perms.contains(&Permission::new(needed.area, Level::Manage)))
}

impl Ctx<'_> {
    /// Now, in Unix seconds, by the registry's clock.
    pub(crate) fn now_secs(&self) -> i64 {
        self.config.clock.now_secs()
    }

    /// Now, in Unix milliseconds, by the registry's clock.
    pub(crate) fn now_ms(&self) -> i64 {
        self.config.clock.now_ms()
    }

    /// Now as RFC 3339, by the registry's clock.
    pub(crate) fn now_rfc3339(&self) -> String {
        rfc3339_ms(self.now_ms()).unwrap_or_default()
    }

    /// Reads a record and its revision.
    pub(crate) fn load<T: DeserializeOwned>(&self, key: &str) -> Result<Option<(T, u64)>> {
        records::load(self.store, key)
    }

    /// The actor's permissions in a project; the product's 404 when the project does not
    /// exist or the actor has no access to it (the same answer for both).
    pub(crate) fn access(&self, project: &str) -> Result<Vec<Permission>> {
        access(self.store, self.actor, project)
    }

    /// Checks one permission (MANAGE implies VIEW); 404 / 403 as the product answers.
    pub(crate) fn require(&self, project: &str, needed: Permission) -> Result<Vec<Permission>> {
        let perms = self.access(project)?;
        if has(&perms, needed) {
            Ok(perms)
        } else {
            Err(RegistryError::forbidden(format!(
                "User (username: {}) does not have {needed} permission in project ({project})!",
                self.actor.username()
            )))
        }
    }

    /// The admin user only.
    pub(crate) fn require_admin(&self, what: &str) -> Result<()> {
        if self.actor.is_admin() {
            Ok(())
        } else {
            Err(RegistryError::forbidden(format!(
                "Only the admin user can {what}!"
            )))
        }
    }

    /// A JWK record by name: (record, record revision, name-index revision).
    pub(crate) fn find_jwk(&self, project: &str, name: &str) -> Result<Option<(JwkRec, u64, u64)>> {
        find_jwk(self.store, project, name)
    }

    /// Opens a record's sealed key.
    pub(crate) fn open(&self, rec: &JwkRec) -> Result<Jwk> {
        rec.open(self.key)
    }

    /// A new served record (a JWK, a credential): saved; a system actor's is approved too,
    /// since nothing of a person's is pending in what it creates.
    pub(crate) fn create_served<T: Serialize>(&self, txn: Txn, key: &str, rec: &T) -> Txn {
        let txn = txn.absent(key).put(key, encode(rec));
        if self.actor.is_system() {
            let approved = keys::approved(key);
            txn.absent(approved.as_str()).put(approved, encode(rec))
        } else {
            txn
        }
    }

    /// A change of the served record at `key` (saved at `rev`, read as `saved`): a person's
    /// edit changes the saved record (the pipeline's approval step decides about its approved
    /// copy); a system actor's change is applied to each copy that exists, so that it changes
    /// only the fields it owns and every pending edit of a person stays pending. The saved
    /// record after the change.
    pub(crate) fn change_served<T>(
        &self,
        txn: Txn,
        key: &str,
        (saved, rev): (T, u64),
        change: impl Fn(&mut T) -> Result<()>,
    ) -> Result<(Txn, T)>
    where
        T: Serialize + DeserializeOwned,
    {
        let mut saved = saved;
        change(&mut saved)?;
        let mut txn = txn.at(key, rev).put(key, encode(&saved));
        if self.actor.is_system() {
            let approved_key = keys::approved(key);
            txn = match self.load::<T>(&approved_key)? {
                Some((mut approved, approved_rev)) => {
                    change(&mut approved)?;
                    txn.at(approved_key.as_str(), approved_rev)
                        .put(approved_key.as_str(), encode(&approved))
                }
                None => txn.absent(approved_key),
            };
        }
        Ok((txn, saved))
    }

    /// The deletion of the served record at `key` (saved at `rev`): a person's deletes the
    /// saved record (approved with it by the pipeline when the person may deploy); a system
    /// actor's deletes both copies.
    pub(crate) fn delete_served(&self, txn: Txn, key: &str, rev: u64) -> Txn {
        let txn = txn.at(key, rev).delete(key);
        if self.actor.is_system() {
            txn.delete(keys::approved(key))
        } else {
            txn
        }
    }
}

/// The actor's permissions in a project (see [`Ctx::access`]).
pub(crate) fn access(store: &dyn Store, actor: &Actor, project: &str) -> Result<Vec<Permission>> {
    if records::load::<records::ProjectRec>(store, &keys::project(project))?.is_none() {
        return Err(RegistryError::project_not_found(project));
    }
    if actor.is_admin() || actor.is_system() {
        return Ok(ALL.to_vec());
    }
    match records::load::<records::MemberRec>(store, &keys::member(project, actor.username()))? {
        Some((m, _)) if !m.permissions.is_empty() => Ok(m.permissions),
        _ => Err(RegistryError::project_not_found(project)),
    }
}

/// A JWK record by name (see [`Ctx::find_jwk`]).
pub(crate) fn find_jwk(
    store: &dyn Store,
    project: &str,
    name: &str,
) -> Result<Option<(JwkRec, u64, u64)>> {
    let Some(idx) = store.get(keys::jwk_name(project, name).as_bytes())? else {
        return Ok(None);
    };
    let id = String::from_utf8_lossy(&idx.value).into_owned();
    Ok(records::load::<JwkRec>(store, &keys::jwk(project, &id))?
        .map(|(rec, rev)| (rec, rev, idx.revision)))
}

/// Unix milliseconds as RFC 3339.
pub(crate) fn rfc3339_ms(ms: i64) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// One audit entry of a change.
#[derive(Debug, Clone)]
pub(crate) struct Audit {
    /// What was done, e.g. `jwk.create`.
    pub(crate) action: String,
    /// The project, if any.
    pub(crate) project: Option<String>,
    /// The object, e.g. the JWK name.
    pub(crate) target: String,
    /// The JWKs (of `project`) whose history the entry is also in.
    pub(crate) jwks: Vec<String>,
}

impl Audit {
    /// An entry about `target`.
    pub(crate) fn of(action: impl Into<String>, project: Option<&str>, target: &str) -> Audit {
        Audit {
            action: action.into(),
            project: project.map(str::to_owned),
            target: target.to_owned(),
            jwks: Vec::new(),
        }
    }

    /// An entry about JWKs of `project` (`target` names the JWK), also in each one's history.
    pub(crate) fn jwk(
        action: impl Into<String>,
        project: &str,
        target: &str,
        ids: &[&str],
    ) -> Audit {
        Audit {
            jwks: ids.iter().map(|id| (*id).to_owned()).collect(),
            ..Audit::of(action, Some(project), target)
        }
    }
}

/// What a change asks of the environments.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) enum Deploy {
    /// Nothing they serve changed.
    #[default]
    Nothing,
    /// A change of what they serve, made in `project`: deployed at once when the actor holds
    /// the deploy permission of `area` there (a system actor always), else skipped.
    Change { project: String, area: Area },
    /// An environment's target was replaced, or a redeploy was asked for: every environment
    /// behind is deployed.
    Reconcile,
}

/// What an answer says besides its deployment.
#[derive(Debug, Default)]
pub(crate) struct Answer {
    pub(crate) resync: Option<ResyncReport>,
    pub(crate) token: Option<String>,
    pub(crate) rotated: Vec<crate::command::RotatedJwk>,
    pub(crate) detached: Vec<String>,
    pub(crate) refreshed: Option<crate::command::Refreshed>,
    pub(crate) retired: Option<String>,
    /// The command's answer is this error, once what it committed is deployed (a fetch that
    /// failed: its status is recorded).
    pub(crate) failed: Option<RegistryError>,
}

/// What happens in this process once the change is committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Effect {
    /// The environment changed or went: its resolver here is dropped.
    ForgetResolver(String),
}

/// A change, as planned from one set of reads.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// The compares that must hold and the writes.
    pub(crate) txn: Txn,
    /// Its audit entries (a plan without writes needs none).
    pub(crate) audit: Vec<Audit>,
    /// What the environments are to be told.
    pub(crate) deploy: Deploy,
    /// What the answer says.
    pub(crate) answer: Answer,
    /// What happens in this process after the commit.
    pub(crate) effects: Vec<Effect>,
    /// Audited, but not a change of content: the content revision (which deployments are
    /// compared with) stays (a rotation's progress).
    pub(crate) bookkeeping: bool,
}

impl Plan {
    /// A plan of `txn` with one audit entry.
    pub(crate) fn new(txn: Txn, audit: Audit) -> Plan {
        Plan {
            txn,
            audit: vec![audit],
            ..Plan::default()
        }
    }

    /// Deployed as a change of `area` in `project`.
    pub(crate) fn deploys(mut self, project: &str, area: Area) -> Plan {
        self.deploy = Deploy::Change {
            project: project.to_owned(),
            area,
        };
        self
    }

    /// A plan that writes nothing and deploys as a change of `area` would (a change that was
    /// already made: its deployment is still reported).
    pub(crate) fn unchanged(project: &str, area: Area) -> Plan {
        Plan::default().deploys(project, area)
    }
}

/// Plans a change from fresh reads; called again when another writer got there first.
pub(crate) type Planner<'a> = Box<dyn FnMut(&Ctx<'_>) -> Result<Plan> + 'a>;

/// What a handler gives the pipeline once the command is authorized and its expensive part
/// (fetches, key generation, imports) is done.
pub(crate) struct Work<'a> {
    /// What the change is about, for the error when other writers kept winning.
    pub(crate) what: String,
    /// The planner.
    pub(crate) plan: Planner<'a>,
}

impl<'a> Work<'a> {
    /// Work about `what`, planned by `plan`.
    pub(crate) fn new(
        what: impl Into<String>,
        plan: impl FnMut(&Ctx<'_>) -> Result<Plan> + 'a,
    ) -> Work<'a> {
        Work {
            what: what.into(),
            plan: Box::new(plan),
        }
    }

    /// Work whose plan is already made (nothing to read again: it fails or always holds).
    pub(crate) fn done(what: impl Into<String>, plan: Plan) -> Work<'a> {
        let mut plan = Some(plan);
        Work::new(what, move |_| {
            plan.take()
                .ok_or_else(|| RegistryError::internal("a one-shot plan was planned twice"))
        })
    }
}
