//! The fan-out of changes: every committed change of what environments serve goes to every
//! environment; a failed environment stays pending and is retried by a redeploy. The
//! [`Deployer`] owns all deployment state (targets, resolvers, the cache of opened JWKs, the
//! last deployment, what this process's node-local targets serve).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use super::{
    DeployTarget, DeployedCredential, DeployedJwk, DeploymentResult, EnvironmentResult,
    EnvironmentSnapshot, ProjectSnapshot, PublishedJwks, Receipt, Resolver, ValidityBounds,
};
use crate::clock::Clock;
use crate::crypto::MasterKey;
use crate::error::{RegistryError, Result};
use crate::records::{
    ApprovalLayout, CredentialRec, DeployRec, EnvironmentRec, FORMAT, JwkRec, JwkRef, ProjectRec,
    SetKeysRec, encode, keys, load, load_all, name_of, retry,
};
use crate::store::{LockGuard, Store, Txn};
use crate::types::{KeyState, TargetConfig, Validity, ValidityStatus};

/// Longest wait for another node's deployment of the same environment.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// The product's messages.
pub const DEPLOYED: &str = "Deployed successfully";
/// The product's messages.
pub const COMPLETED: &str = "Deployment completed successfully";

/// A committed change of what environments serve, to deploy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    /// Why the automatic deployment is skipped (a missing DEPLOY_UNDEPLOY permission).
    pub(crate) skipped: Option<String>,
    /// The content revision that holds the change: a deployment of this revision or a
    /// later one serves it.
    pub(crate) revision: u64,
}

/// What the deployer takes from the registry's settings.
#[derive(Debug, Clone)]
pub(crate) struct DeployConfig {
    pub(crate) file_target_dir: Option<std::path::PathBuf>,
    pub(crate) allow_private_networks: bool,
}

/// A JWK record as a deployment uses it: read at `revision`, with its stable id.
#[derive(Clone)]
struct OpenedJwk {
    revision: u64,
    id: String,
    deployed: DeployedJwk,
}

/// Every piece of deployment state of one registry in one process.
pub(crate) struct Deployer {
    store: Arc<dyn Store>,
    key: Arc<MasterKey>,
    clock: Arc<dyn Clock>,
    config: DeployConfig,
    layout: Arc<ApprovalLayout>,
    targets: Mutex<HashMap<String, Arc<dyn DeployTarget>>>,
    resolvers: Mutex<HashMap<String, Arc<Resolver>>>,
    /// Deployed JWKs by store key, with the record revision they were read at: a snapshot
    /// opens (decrypts, parses, validates) and hashes only the records whose revision changed.
    opened: Mutex<HashMap<String, OpenedJwk>>,
    /// One deployment at a time; the last one's revision and result, so changes that a
    /// deployment already covered (concurrent requests) share it instead of redeploying.
    deploying: tokio::sync::Mutex<Option<(u64, DeploymentResult)>>,
    /// One refresh of the node-local targets at a time.
    refreshing: tokio::sync::Mutex<()>,
    /// The (content revision, validity epoch) of the newest snapshot this process's
    /// node-local targets were noted serving: a refresh that read an older snapshot and
    /// finished later (the resolvers ignore it) must not move the next validity bound back
    /// to that snapshot's.
    refreshed_at: Mutex<(u64, i64)>,
    /// The next validity bound (Unix seconds; `i64::MAX`: none) of what the node-local
    /// targets serve: they are refreshed again then, at the same revision.
    next_bound: tokio::sync::watch::Sender<i64>,
    /// Deployments by (environment, success), for metrics.
    deployments: Mutex<HashMap<(String, bool), u64>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Deployer {
    pub(crate) fn new(
        store: Arc<dyn Store>,
        key: Arc<MasterKey>,
        clock: Arc<dyn Clock>,
        config: DeployConfig,
        layout: Arc<ApprovalLayout>,
    ) -> Deployer {
        Deployer {
            store,
            key,
            clock,
            config,
            layout,
            targets: Mutex::new(HashMap::new()),
            resolvers: Mutex::new(HashMap::new()),
            opened: Mutex::new(HashMap::new()),
            deploying: tokio::sync::Mutex::new(None),
            refreshing: tokio::sync::Mutex::new(()),
            refreshed_at: Mutex::new((0, 0)),
            next_bound: tokio::sync::watch::channel(i64::MAX).0,
            deployments: Mutex::new(HashMap::new()),
        }
    }

    fn store(&self) -> &dyn Store {
        &*self.store
    }

    /// The revision of the last change of content (deployment bookkeeping does not count).
    pub(crate) fn content_revision(&self) -> Result<u64> {
        Ok(self
            .store
            .get(keys::CONTENT.as_bytes())?
            .map_or(0, |v| v.revision))
    }

    /// Plugs in a host's own target for an environment.
    pub(crate) fn register_target(&self, environment: &str, target: Arc<dyn DeployTarget>) {
        lock(&self.targets).insert(environment.to_owned(), target);
    }

    /// True when the host registered a target for `environment`.
    pub(crate) fn has_target(&self, environment: &str) -> bool {
        lock(&self.targets).contains_key(environment)
    }

    /// The in-process resolver of a `memory` environment (created on first use).
    pub(crate) fn resolver(&self, environment: &str) -> Arc<Resolver> {
        lock(&self.resolvers)
            .entry(environment.to_owned())
            .or_default()
            .clone()
    }

    /// Forgets the resolver of an environment that changed or went.
    pub(crate) fn forget(&self, environment: &str) {
        lock(&self.resolvers).remove(environment);
    }

    /// What a `memory` environment's resolver publishes; never creates a resolver.
    pub(crate) fn published_jwks(&self, environment: &str) -> Option<PublishedJwks> {
        let resolver = lock(&self.resolvers).get(environment)?.clone();
        (resolver.revision() > 0).then(|| resolver.published())
    }

    fn target_for(&self, env: &EnvironmentRec) -> Result<Arc<dyn DeployTarget>, String> {
        if let Some(t) = lock(&self.targets).get(&env.name) {
            return Ok(t.clone());
        }
        match &env.target {
            TargetConfig::Memory => Ok(self.resolver(&env.name)),
            TargetConfig::File { path } => {
                let root = self.config.file_target_dir.as_deref().ok_or_else(|| {
                    "no directory is given for file targets in this process".to_owned()
                })?;
                Ok(Arc::new(super::FileTarget::new(root, path)?))
            }
            TargetConfig::Webhook { url } => Ok(Arc::new(super::WebhookTarget {
                url: url.clone(),
                options: super::WebhookTarget::options(self.config.allow_private_networks),
            })),
            TargetConfig::Custom => {
                Err("no custom target is registered in this process".to_owned())
            }
        }
    }

    /// The JWK at `key` as a deployment uses it, from the cache when its record is still at
    /// `revision`; None when the record is gone.
    fn opened_jwk(&self, key: &str, revision: u64) -> Result<Option<OpenedJwk>> {
        if let Some(o) = lock(&self.opened).get(key)
            && o.revision == revision
        {
            return Ok(Some(o.clone()));
        }
        let Some((rec, revision)) = load::<JwkRec>(self.store(), key)? else {
            return Ok(None);
        };
        let jwk = Arc::new(rec.open(&self.key)?);
        let opened = OpenedJwk {
            revision,
            id: rec.id,
            deployed: DeployedJwk {
                name: rec.name,
                thumbprint: super::thumbprint(&jwk),
                validity: rec.validity.intersect(Validity::of_certificate(&jwk)),
                jwk,
                // A followed JWK past its stale limit is served nowhere, as a disabled one.
                state: if rec.withdrawn {
                    KeyState::Disabled
                } else {
                    rec.state
                },
            },
        };
        lock(&self.opened).insert(key.to_owned(), opened.clone());
        Ok(Some(opened))
    }

    /// Everything the environments serve, read at the store's current revision: the
    /// approved version of every JWK and credential, and the remote sets' keys.
    pub(crate) fn snapshot(&self) -> Result<EnvironmentSnapshot> {
        self.layout.ensure(self.store())?;
        let store = self.store();
        let revision = self.content_revision()?;
        let now = self.clock.now_secs();
        let mut bounds = ValidityBounds::default();
        let mut by_ref: HashMap<(String, String), DeployedJwk> = HashMap::new();
        let mut projects = Vec::new();
        let mut seen = HashSet::new();
        for (_, p, _) in load_all::<ProjectRec>(store, keys::PROJECTS)? {
            let mut snap = ProjectSnapshot {
                name: p.name.clone(),
                ..ProjectSnapshot::default()
            };
            // Revisions only: records unchanged since the last deployment come from the cache.
            let approved = keys::approved(&keys::jwks(&p.name));
            for (key, rev) in store.scan_revisions(approved.as_bytes())? {
                let key = String::from_utf8_lossy(&key).into_owned();
                let Some(opened) = self.opened_jwk(&key, rev)? else {
                    continue; // deleted since the scan
                };
                seen.insert(key);
                if opened.deployed.state == KeyState::Disabled {
                    continue; // served nowhere; a credential's slot that holds it is empty
                }
                bounds.add(&opened.deployed.validity, now);
                if opened.deployed.validity.status(now) != ValidityStatus::Valid {
                    continue; // not yet or no longer: served from its nbf, until its exp
                }
                by_ref.insert((p.name.clone(), opened.id), opened.deployed.clone());
                snap.jwks.push(opened.deployed);
            }
            snap.remote_keys = self.remote_keys(&p.name)?;
            projects.push(snap);
        }
        // Deleted JWKs leave the cache.
        lock(&self.opened).retain(|k, _| seen.contains(k));
        for snap in &mut projects {
            let prefix = keys::approved(&keys::credentials(&snap.name));
            for (_, c, _) in load_all::<CredentialRec>(store, &prefix)? {
                let find = |r: &Option<JwkRef>| {
                    r.as_ref()
                        .and_then(|r| by_ref.get(&(r.project.clone(), r.id.clone())).cloned())
                };
                snap.credentials.push(DeployedCredential {
                    username: c.username.clone(),
                    validation: find(&c.validation),
                    encryption: find(&c.encryption),
                    validation_next: find(&c.validation_next),
                    encryption_next: find(&c.encryption_next),
                });
            }
        }
        Ok(EnvironmentSnapshot {
            environment: String::new(),
            revision,
            projects,
            validity_epoch: bounds.last,
            next_validity_change: bounds.next,
        })
    }

    /// The keys the remote sets of `project` serve, for a snapshot.
    fn remote_keys(&self, project: &str) -> Result<Vec<DeployedJwk>> {
        let prefix = keys::jwk_set_keys_of(project);
        let mut out = Vec::new();
        for (key, served, _) in load_all::<SetKeysRec>(self.store(), &prefix)? {
            let name = key
                .strip_prefix(prefix.as_str())
                .map(name_of)
                .unwrap_or_default();
            for k in served.keys {
                let jwk = jwk_core::Jwk::from_json(&k.jwk).map_err(|e| {
                    RegistryError::internal(format!("the stored key of {key} is unreadable: {e}"))
                })?;
                out.push(DeployedJwk {
                    name: name.clone(),
                    thumbprint: k.thumbprint,
                    jwk: Arc::new(jwk),
                    state: KeyState::Active,
                    validity: Validity::default(),
                });
            }
        }
        Ok(out)
    }

    /// Records an environment's state, unless a newer deployment (another node's, or a
    /// crossing one) is already recorded.
    fn record_deployment(&self, env: &str, rec: DeployRec) -> Result<()> {
        let key = keys::deploy(env);
        let attempt = || {
            let txn = match load::<DeployRec>(self.store(), &key)? {
                Some((current, _))
                    if (current.revision, current.validity_epoch)
                        > (rec.revision, rec.validity_epoch) =>
                {
                    return Ok(None);
                }
                Some((_, at)) => Txn::new().at(key.as_str(), at),
                None => Txn::new().absent(key.as_str()),
            };
            Ok(Some(txn.put(key.as_str(), encode(&rec))))
        };
        retry(&format!("The deployment record of {env}"), attempt, |txn| {
            Ok(self.store.commit(txn)?)
        })?;
        Ok(())
    }

    /// What an environment reported serving at its last deployment.
    pub(crate) fn deployment_state(&self, environment: &str) -> Result<Option<DeployRec>> {
        Ok(load::<DeployRec>(self.store(), &keys::deploy(environment))?.map(|(r, _)| r))
    }

    /// The lock that makes one node at a time deploy an environment (free at once on a
    /// single-process store).
    async fn environment_lock(&self, env: &str) -> Result<LockGuard> {
        let store = self.store.clone();
        let name = format!("deploy/{env}");
        tokio::task::spawn_blocking(move || store.lock(&name, LOCK_WAIT))
            .await
            .map_err(|e| RegistryError::internal(format!("lock task: {e}")))?
            .map_err(Into::into)
    }

    /// Deploys to every environment and reports per environment. A failed environment does
    /// not undo the change: it stays pending until a redeploy succeeds.
    pub(crate) async fn deploy(&self, change: &Change) -> Result<DeploymentResult> {
        if let Some(reason) = &change.skipped {
            // Saved, not approved: what the environments serve has not changed.
            return Ok(DeploymentResult {
                success: false,
                message: reason.clone(),
                environment_results: Vec::new(),
            });
        }
        let mut last = self.deploying.lock().await;
        if let Some((revision, result)) = &*last
            && *revision >= change.revision
        {
            return Ok(result.clone());
        }
        let (revision, result) = self.deploy_environments(self.snapshot()?, |_| true).await?;
        *last = Some((revision, result.clone()));
        Ok(result)
    }

    /// Redeploys every environment that is pending or behind the store's revision.
    pub(crate) async fn reconcile(&self) -> Result<DeploymentResult> {
        let _one_at_a_time = self.deploying.lock().await;
        // One snapshot says which environments are behind it and is what they get.
        let snapshot = self.snapshot()?;
        let (revision, epoch) = (snapshot.revision, snapshot.validity_epoch);
        let behind: Vec<String> = load_all::<EnvironmentRec>(self.store(), keys::ENVIRONMENTS)?
            .into_iter()
            .filter(
                |(_, env, _)| match load::<DeployRec>(self.store(), &keys::deploy(&env.name)) {
                    Ok(Some((d, _))) => {
                        d.pending || d.revision < revision || d.validity_epoch < epoch
                    }
                    _ => true,
                },
            )
            .map(|(_, env, _)| env.name)
            .collect();
        Ok(self
            .deploy_environments(snapshot, |name| behind.iter().any(|b| b == name))
            .await?
            .1)
    }

    /// Deploys `snapshot` to the wanted environments; returns its revision.
    async fn deploy_environments(
        &self,
        mut snapshot: EnvironmentSnapshot,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<(u64, DeploymentResult)> {
        let mut results = Vec::new();
        // Whether every node-local target now serves this snapshot.
        let mut locals_current = true;
        for (_, env, _) in load_all::<EnvironmentRec>(self.store(), keys::ENVIRONMENTS)? {
            let target = self.target_for(&env);
            let local = matches!(&target, Ok(t) if t.node_local());
            if !wanted(&env.name) {
                locals_current &= !local;
                continue;
            }
            snapshot.environment = env.name.clone();
            // A target outside the process: one node at a time, and not again for a snapshot
            // it already serves (another node deployed this change or a later one).
            let mut _lock = None;
            let outcome = if local {
                None
            } else {
                match self.environment_lock(&env.name).await {
                    Ok(lock) => {
                        _lock = Some(lock);
                        match self.deployment_state(&env.name)? {
                            Some(d)
                                if !d.pending
                                    && d.revision >= snapshot.revision
                                    && d.validity_epoch >= snapshot.validity_epoch =>
                            {
                                Some(Ok(Receipt {
                                    thumbprints: d.thumbprints,
                                }))
                            }
                            _ => None,
                        }
                    }
                    Err(e) => Some(Err(e.message())),
                }
            };
            let outcome = match outcome {
                Some(done) => done,
                None => match target {
                    Ok(target) => target.deploy(&snapshot).await.map_err(|e| e.to_string()),
                    Err(e) => Err(e),
                },
            };
            locals_current &= !local || outcome.is_ok();
            let (success, message, rec) = match outcome {
                Ok(receipt) => (
                    true,
                    DEPLOYED.to_owned(),
                    DeployRec {
                        v: FORMAT,
                        revision: snapshot.revision,
                        validity_epoch: snapshot.validity_epoch,
                        pending: false,
                        error: None,
                        thumbprints: receipt.thumbprints,
                    },
                ),
                Err(e) => {
                    let previous = self.deployment_state(&env.name)?.unwrap_or_default();
                    (
                        false,
                        format!("Deployment failed: {e}"),
                        DeployRec {
                            v: FORMAT,
                            pending: true,
                            error: Some(e),
                            ..previous
                        },
                    )
                }
            };
            self.record_deployment(&env.name, rec)?;
            *lock(&self.deployments)
                .entry((env.name.clone(), success))
                .or_default() += 1;
            results.push(EnvironmentResult {
                environment_name: env.name.clone(),
                success,
                message,
            });
        }
        if locals_current {
            self.note_refreshed(&snapshot);
        }
        let failed = results.iter().filter(|r| !r.success).count();
        let result = DeploymentResult {
            success: failed == 0,
            message: if failed == 0 {
                COMPLETED.to_owned()
            } else {
                format!(
                    "Deployment failed for {failed} of {} environments; the change is saved and will be redeployed",
                    results.len()
                )
            },
            environment_results: results,
        };
        Ok((snapshot.revision, result))
    }

    /// The deployment counts of the environments in `environments` (others are forgotten).
    pub(crate) fn deployment_counts(&self, environments: &[String]) -> Vec<(String, bool, u64)> {
        let mut map = lock(&self.deployments);
        map.retain(|(e, _), _| environments.contains(e));
        let mut out: Vec<_> = map
            .iter()
            .map(|((e, ok), n)| (e.clone(), *ok, *n))
            .collect();
        out.sort();
        out
    }

    /// The content revision this process's node-local targets serve.
    fn refreshed_revision(&self) -> u64 {
        lock(&self.refreshed_at).0
    }

    /// Notes that every node-local target serves `snapshot`.
    fn note_refreshed(&self, snapshot: &EnvironmentSnapshot) {
        let mut newest = lock(&self.refreshed_at);
        let at = (snapshot.revision, snapshot.validity_epoch);
        if at < *newest {
            // Overtaken by a newer deployment (which the targets kept): its validity bound
            // is the one to wait for, not this older snapshot's.
            return;
        }
        *newest = at;
        let next = snapshot.next_validity_change.unwrap_or(i64::MAX);
        self.next_bound.send_if_modified(|bound| {
            let moved = *bound != next;
            *bound = next;
            moved
        });
    }

    /// The next validity bound of what the node-local targets serve (`i64::MAX`: none), as
    /// a watch that changes when it moves.
    pub(crate) fn next_bound(&self) -> tokio::sync::watch::Receiver<i64> {
        self.next_bound.subscribe()
    }

    /// Deploys the current snapshot to this process's node-local targets when they are
    /// behind the content revision or a validity bound passed. Records nothing in the store.
    pub(crate) async fn refresh_local(self: &Arc<Self>) -> Result<()> {
        let _one = self.refreshing.lock().await;
        let me = self.clone();
        type Work = Option<(EnvironmentSnapshot, Vec<(String, Arc<dyn DeployTarget>)>)>;
        let work = tokio::task::spawn_blocking(move || -> Result<Work> {
            let revision = me.content_revision()?;
            if revision <= me.refreshed_revision()
                && revision != 0
                && me.clock.now_secs() < *me.next_bound.borrow()
            {
                return Ok(None);
            }
            let envs = load_all::<EnvironmentRec>(me.store(), keys::ENVIRONMENTS)?;
            // Resolvers of environments deleted, or no longer memory, on another node go: they
            // would serve (and publish) keys of the past.
            lock(&me.resolvers).retain(|name, _| {
                envs.iter()
                    .any(|(_, e, _)| e.name == *name && e.target == TargetConfig::Memory)
            });
            let locals: Vec<(String, Arc<dyn DeployTarget>)> = envs
                .into_iter()
                .filter_map(|(_, env, _)| {
                    me.target_for(&env)
                        .ok()
                        .filter(|t| t.node_local())
                        .map(|t| (env.name, t))
                })
                .collect();
            Ok(Some((me.snapshot()?, locals)))
        })
        .await
        .map_err(|e| RegistryError::internal(format!("refresh task: {e}")))??;
        let Some((mut snapshot, locals)) = work else {
            return Ok(());
        };
        let mut all_ok = true;
        for (name, target) in locals {
            snapshot.environment = name.clone();
            if let Err(e) = target.deploy(&snapshot).await {
                all_ok = false;
                tracing::warn!(environment = %name, error = %e, "in-process target refresh failed");
            }
        }
        if all_ok {
            self.note_refreshed(&snapshot);
        }
        Ok(())
    }
}

#[cfg(test)]
mod refresh_tests {
    use super::*;
    use crate::store::MemoryStore;

    /// A refresh that read its snapshot before a change and finished after the change was
    /// deployed (the resolvers keep the newer one) leaves the newer snapshot's next validity
    /// bound in place: the validity controller still wakes at that key's `exp` (CI's flaky
    /// `follow_withdraws_a_key_when_its_exp_comes`, made deterministic).
    #[test]
    fn an_older_snapshot_noted_late_keeps_the_newer_validity_bound() {
        let deployer = Deployer::new(
            Arc::new(MemoryStore::new()),
            Arc::new(MasterKey::from_bytes([4; 32])),
            Arc::new(crate::clock::SystemClock),
            DeployConfig {
                file_target_dir: None,
                allow_private_networks: false,
            },
            Arc::default(),
        );
        let snapshot = |revision, validity_epoch, next| EnvironmentSnapshot {
            revision,
            validity_epoch,
            next_validity_change: next,
            ..EnvironmentSnapshot::default()
        };
        let bound = deployer.next_bound();
        deployer.note_refreshed(&snapshot(7, 0, Some(1_900_000_000)));
        deployer.note_refreshed(&snapshot(6, 0, None));
        assert_eq!(*bound.borrow(), 1_900_000_000);
        assert_eq!(deployer.refreshed_revision(), 7);
        // The same revision once the key expired (a newer validity epoch): no bound left.
        deployer.note_refreshed(&snapshot(7, 1_900_000_000, None));
        assert_eq!(*bound.borrow(), i64::MAX);
        // A later change with a new bound.
        deployer.note_refreshed(&snapshot(8, 1_900_000_000, Some(1_950_000_000)));
        assert_eq!(*bound.borrow(), 1_950_000_000);
    }
}
