//! The fan-out of changes: every committed change of what environments serve goes to every
//! environment; a failed environment stays pending and is retried by a redeploy. The
//! [`Deployer`] owns all deployment state: targets, resolvers, the in-memory [`Model`] of
//! what is served (brought up to date from the store's change feed) and its journal, the
//! last deployment, what this process's node-local targets serve.
//!
//! A target that served the previous deployment gets only what changed since
//! ([`DeployTarget::deploy_delta`]); one seen for the first time, after a failure, or
//! that takes no deltas gets the whole snapshot. Changes that land while a deployment runs
//! are deployed together by the next one.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use super::model::{Journal, Model, Pair, SlotRefs, Touched};
use super::{
    DeployTarget, DeployedJwk, DeploymentResult, EnvironmentResult, EnvironmentSnapshot,
    PublishedJwks, Receipt, Resolver, lock,
};
use crate::clock::Clock;
use crate::crypto::MasterKey;
use crate::error::{RegistryError, Result};
use crate::records::{
    ApprovalLayout, CredentialRec, DeployRec, EnvironmentRec, FORMAT, JwkRec, JwkRef, SetKeysRec,
    decode, encode, keys, load, load_all, name_of, retry,
};
use crate::store::{Feed, LockGuard, Store, Txn};
use crate::types::{KeyState, TargetConfig, Validity};

/// Longest wait for another node's deployment of the same environment.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// The most keys read from the change feed at once: further behind, the model is read again
/// whole (cheaper than replaying that many changes one by one).
const FEED_MAX: usize = 50_000;

/// Records read at once when the model is read whole.
const BUILD_PAGE: usize = 1000;

/// The most entries the journal keeps (a target further behind gets a whole snapshot).
const JOURNAL_MAX: usize = 100_000;

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

/// What a target serves: the (content revision, validity epoch) of its last deployment.
type Mark = (u64, i64);

/// The model, its journal, and the store revision read through.
#[derive(Default)]
struct ModelState {
    model: Model,
    journal: Journal,
    /// The store revision the model has read the feed through (`None`: not read yet).
    seen: Option<u64>,
}

/// A built-in target made for an environment, and the config it was made from.
type Built = (TargetConfig, Arc<dyn DeployTarget>);

/// Every piece of deployment state of one registry in one process.
pub(crate) struct Deployer {
    store: Arc<dyn Store>,
    key: Arc<MasterKey>,
    clock: Arc<dyn Clock>,
    config: DeployConfig,
    layout: Arc<ApprovalLayout>,
    targets: Mutex<HashMap<String, Arc<dyn DeployTarget>>>,
    /// The built-in file and webhook targets made for each environment, with the config
    /// they were made from: kept, so that what one delivered is known to the next.
    built: Mutex<HashMap<String, Built>>,
    resolvers: Mutex<HashMap<String, Arc<Resolver>>>,
    /// What is served, kept current from the change feed.
    state: Mutex<ModelState>,
    /// One deployment at a time; the last one's revision and result, so changes that a
    /// deployment already covered (concurrent requests) share it instead of redeploying.
    deploying: tokio::sync::Mutex<Option<(u64, DeploymentResult)>>,
    /// One update of the node-local targets at a time (a change's deployment or a refresh),
    /// and what each serves: its environment, the target (by address: a target registered
    /// again starts afresh) and its mark.
    local: tokio::sync::Mutex<HashMap<String, (usize, Mark)>>,
    /// The (content revision, validity epoch) of the newest snapshot this process's
    /// node-local targets were noted serving: a refresh that read an older snapshot and
    /// finished later must not move the next validity bound back to that snapshot's.
    refreshed_at: Mutex<(u64, i64)>,
    /// The next validity bound (Unix seconds; `i64::MAX`: none) of what the node-local
    /// targets serve: they are refreshed again then, at the same revision.
    next_bound: tokio::sync::watch::Sender<i64>,
    /// Deployments by (environment, success), for metrics.
    deployments: Mutex<HashMap<(String, bool), u64>>,
}

/// A target's identity for its mark: its address.
fn address(target: &Arc<dyn DeployTarget>) -> usize {
    Arc::as_ptr(target).cast::<()>() as usize
}

/// One version of what is served, with what its deployment needs.
struct Version {
    model: Model,
    now: i64,
    /// The whole snapshot, made once when a target needs it.
    snapshot: std::sync::OnceLock<EnvironmentSnapshot>,
}

impl Version {
    fn new(model: Model, now: i64) -> Version {
        Version {
            model,
            now,
            snapshot: std::sync::OnceLock::new(),
        }
    }

    fn mark(&self) -> Mark {
        (self.model.revision, self.model.validity(self.now).last)
    }

    fn snapshot(&self) -> &EnvironmentSnapshot {
        self.snapshot.get_or_init(|| self.model.snapshot(self.now))
    }
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
            built: Mutex::new(HashMap::new()),
            resolvers: Mutex::new(HashMap::new()),
            state: Mutex::new(ModelState::default()),
            deploying: tokio::sync::Mutex::new(None),
            local: tokio::sync::Mutex::new(HashMap::new()),
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

    /// Forgets the resolver (and built target) of an environment that changed or went.
    pub(crate) fn forget(&self, environment: &str) {
        lock(&self.resolvers).remove(environment);
        lock(&self.built).remove(environment);
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
        if let TargetConfig::Memory = env.target {
            return Ok(self.resolver(&env.name));
        }
        if let Some((config, t)) = lock(&self.built).get(&env.name)
            && *config == env.target
        {
            return Ok(t.clone());
        }
        let made: Arc<dyn DeployTarget> = match &env.target {
            TargetConfig::Memory => self.resolver(&env.name),
            TargetConfig::File { path } => {
                let root = self.config.file_target_dir.as_deref().ok_or_else(|| {
                    "no directory is given for file targets in this process".to_owned()
                })?;
                Arc::new(super::FileTarget::new(root, path)?)
            }
            TargetConfig::Webhook { url } => Arc::new(super::WebhookTarget::new(
                url.clone(),
                super::WebhookTarget::options(self.config.allow_private_networks),
            )),
            TargetConfig::Custom => {
                return Err("no custom target is registered in this process".to_owned());
            }
        };
        lock(&self.built).insert(env.name.clone(), (env.target.clone(), made.clone()));
        Ok(made)
    }

    /// A JWK record as deployments use it.
    fn deployed_jwk(&self, id: Arc<str>, rec: JwkRec) -> Result<DeployedJwk> {
        let jwk = Arc::new(rec.open(&self.key)?);
        Ok(DeployedJwk {
            id,
            name: Arc::from(rec.name),
            thumbprint: Arc::from(super::thumbprint(&jwk)),
            validity: rec.validity.intersect(Validity::of_certificate(&jwk)),
            jwk,
            // A followed JWK past its stale limit is served nowhere, as a disabled one.
            state: if rec.withdrawn {
                KeyState::Disabled
            } else {
                rec.state
            },
        })
    }

    /// The keys a remote set serves, as deployments use them.
    fn remote_keys(key: &str, served: SetKeysRec, name: &Arc<str>) -> Result<Vec<DeployedJwk>> {
        let no_id: Arc<str> = Arc::from("");
        served
            .keys
            .into_iter()
            .map(|k| {
                let jwk = jwk_core::Jwk::from_json(&k.jwk).map_err(|e| {
                    RegistryError::internal(format!("the stored key of {key} is unreadable: {e}"))
                })?;
                Ok(DeployedJwk {
                    id: no_id.clone(),
                    name: name.clone(),
                    thumbprint: Arc::from(k.thumbprint),
                    jwk: Arc::new(jwk),
                    state: KeyState::Active,
                    validity: Validity::default(),
                })
            })
            .collect()
    }

    /// Reads one record the model holds (the store key `key`, as it is now) into `model`;
    /// what it touched, if the model holds that kind of record.
    fn reload(&self, model: &mut Model, key: &str) -> Result<Option<Touched>> {
        let value = self.store.get(key.as_bytes())?;
        self.apply(model, key, value.as_ref().map(|v| v.value.as_slice()))
    }

    /// Puts the record `key` (its stored bytes, `None` when deleted) into `model`.
    fn apply(&self, model: &mut Model, key: &str, value: Option<&[u8]>) -> Result<Option<Touched>> {
        let split = |rest: &str| -> Option<(String, String)> {
            let (a, b) = rest.split_once('/')?;
            Some((name_of(a), b.to_owned()))
        };
        if let Some(rest) = key.strip_prefix(keys::APPROVED_JWKS) {
            let Some((project, id)) = split(rest) else {
                return Ok(None);
            };
            let id: Pair = (model.project(&project), Arc::from(id));
            let jwk = match value {
                Some(v) => Some(self.deployed_jwk(id.1.clone(), decode::<JwkRec>(key, v)?)?),
                None => None,
            };
            model.set_jwk(&id, jwk);
            Ok(Some(Touched::Jwk(id)))
        } else if let Some(rest) = key.strip_prefix(keys::APPROVED_CREDENTIALS) {
            let Some((project, username)) = split(rest) else {
                return Ok(None);
            };
            let c: Pair = (model.project(&project), Arc::from(name_of(&username)));
            let slots = match value {
                Some(v) => Some(slot_refs(model, &decode::<CredentialRec>(key, v)?)),
                None => None,
            };
            model.set_credential(&c, slots);
            Ok(Some(Touched::Credential(c)))
        } else if let Some(rest) = key.strip_prefix(keys::ALL_SET_KEYS) {
            let Some((project, name)) = split(rest) else {
                return Ok(None);
            };
            let set: Pair = (model.project(&project), Arc::from(name_of(&name)));
            let keys = match value {
                Some(v) => Some(Self::remote_keys(
                    key,
                    decode::<SetKeysRec>(key, v)?,
                    &set.1,
                )?),
                None => None,
            };
            model.set_remote(&set, keys);
            Ok(Some(Touched::RemoteSet(set)))
        } else if let Some(rest) = key.strip_prefix(keys::PROJECTS) {
            model.set_project(&name_of(rest), value.is_some());
            Ok(None)
        } else {
            Ok(None)
        }
    }

    /// Reads the whole model: every project, approved JWK and credential, and remote set.
    fn build(&self) -> Result<(Model, u64)> {
        self.layout.ensure(self.store())?;
        // Read first: whatever the scans then find is at least this new.
        let seen = self.store.revision()?;
        let mut model = Model::default();
        model.revision = self.content_revision()?;
        for prefix in [
            keys::PROJECTS,
            keys::ALL_SET_KEYS,
            keys::APPROVED_CREDENTIALS,
            keys::APPROVED_JWKS,
        ] {
            // By pages: the records are read once and never all held at once.
            let mut after: Option<Vec<u8>> = None;
            loop {
                let page = self
                    .store
                    .scan_page(prefix.as_bytes(), after.as_deref(), BUILD_PAGE)?;
                for (key, value) in &page {
                    let key = String::from_utf8_lossy(key);
                    self.apply(&mut model, &key, Some(&value.value))?;
                }
                match page.into_iter().last() {
                    Some((last, _)) => after = Some(last),
                    None => break,
                }
            }
        }
        let (jwks, credentials, sets) = model.sizes();
        tracing::debug!(jwks, credentials, sets, "deployment model read whole");
        Ok((model, seen))
    }

    /// What is served now: the model brought up to date from the change feed (read whole
    /// the first time, and when the feed no longer reaches back to what the model read).
    fn current(&self) -> Result<Model> {
        let mut state = lock(&self.state);
        let state = &mut *state;
        let feed = match state.seen {
            Some(seen) => self.store.changes(seen, FEED_MAX)?,
            None => Feed::Gone,
        };
        match feed {
            Feed::Changes { through, keys } => {
                for (revision, key) in keys {
                    let key = String::from_utf8_lossy(&key);
                    if key == keys::CONTENT {
                        state.model.revision = state.model.revision.max(revision);
                    } else if let Some(touched) = self.reload(&mut state.model, &key)? {
                        state.journal.note(revision, touched);
                    }
                }
                state.seen = Some(through);
            }
            Feed::Gone => {
                let (model, seen) = self.build()?;
                state.journal = Journal::new(model.revision, JOURNAL_MAX);
                state.model = model;
                state.seen = Some(seen);
            }
        }
        Ok(state.model.clone())
    }

    /// What changed after `base` for a target that served it, when the journal still
    /// holds it and `version` is not older than it.
    fn delta_since(&self, version: &Version, base: Mark) -> Option<super::EnvironmentDelta> {
        if base.0 > version.model.revision || base.1 > version.now {
            return None;
        }
        let touched = lock(&self.state).journal.since(base.0)?;
        Some(version.model.delta(touched, base, version.now))
    }

    /// Deploys `version` to `target`: what changed since `base` when the target takes
    /// deltas and `base` is known, else the whole snapshot.
    async fn send(
        &self,
        name: &str,
        target: &Arc<dyn DeployTarget>,
        version: &Version,
        base: Option<Mark>,
    ) -> Result<Receipt, String> {
        if let Some(mut delta) = base.and_then(|b| self.delta_since(version, b)) {
            delta.environment = name.to_owned();
            if let Some(applied) = target.deploy_delta(&delta) {
                return applied.await.map_err(|e| e.to_string());
            }
        }
        let mut snapshot = version.snapshot().clone();
        snapshot.environment = name.to_owned();
        target.deploy(&snapshot).await.map_err(|e| e.to_string())
    }

    /// Everything the environments serve now, as one snapshot.
    pub(crate) fn snapshot(&self) -> Result<EnvironmentSnapshot> {
        Ok(self.current()?.snapshot(self.clock.now_secs()))
    }

    /// The current version, read off the async workers.
    async fn version(self: &Arc<Self>) -> Result<Version> {
        let me = self.clone();
        tokio::task::spawn_blocking(move || {
            let model = me.current()?;
            Ok(Version::new(model, me.clock.now_secs()))
        })
        .await
        .map_err(|e| RegistryError::internal(format!("deployment model task: {e}")))?
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
    pub(crate) async fn deploy(self: &Arc<Self>, change: &Change) -> Result<DeploymentResult> {
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
        let version = self.version().await?;
        let result = self.deploy_environments(&version, |_| true).await?;
        *last = Some((version.model.revision, result.clone()));
        Ok(result)
    }

    /// Redeploys every environment that is pending or behind the store's revision.
    pub(crate) async fn reconcile(self: &Arc<Self>) -> Result<DeploymentResult> {
        let _one_at_a_time = self.deploying.lock().await;
        // One version says which environments are behind it and is what they get.
        let version = self.version().await?;
        let (revision, epoch) = version.mark();
        let me = self.clone();
        let behind = tokio::task::spawn_blocking(move || -> Result<Vec<String>> {
            Ok(load_all::<EnvironmentRec>(me.store(), keys::ENVIRONMENTS)?
                .into_iter()
                .filter(|(_, env, _)| {
                    match load::<DeployRec>(me.store(), &keys::deploy(&env.name)) {
                        Ok(Some((d, _))) => {
                            d.pending || d.revision < revision || d.validity_epoch < epoch
                        }
                        _ => true,
                    }
                })
                .map(|(_, env, _)| env.name)
                .collect())
        })
        .await
        .map_err(|e| RegistryError::internal(format!("reconcile task: {e}")))??;
        self.deploy_environments(&version, |name| behind.iter().any(|b| b == name))
            .await
    }

    /// Deploys `version` to the wanted environments.
    async fn deploy_environments(
        &self,
        version: &Version,
        wanted: impl Fn(&str) -> bool,
    ) -> Result<DeploymentResult> {
        let (revision, epoch) = version.mark();
        let mut results = Vec::new();
        // Whether every node-local target now serves this version.
        let mut locals_current = true;
        let mut local = self.local.lock().await;
        for (_, env, _) in load_all::<EnvironmentRec>(self.store(), keys::ENVIRONMENTS)? {
            let target = self.target_for(&env);
            let is_local = matches!(&target, Ok(t) if t.node_local());
            if !wanted(&env.name) {
                locals_current &= !is_local;
                continue;
            }
            let outcome = match target {
                Err(e) => Err(e),
                Ok(target) if is_local => {
                    let base = local
                        .get(&env.name)
                        .filter(|(at, _)| *at == address(&target))
                        .map(|(_, mark)| *mark);
                    let outcome = self.send(&env.name, &target, version, base).await;
                    match &outcome {
                        Ok(_) => {
                            local.insert(env.name.clone(), (address(&target), (revision, epoch)))
                        }
                        Err(_) => local.remove(&env.name),
                    };
                    outcome
                }
                // A target outside the process: one node at a time, and not again for a
                // version it already serves (another node deployed this change or a later
                // one); what it served last is the base of its delta.
                Ok(target) => match self.environment_lock(&env.name).await {
                    Err(e) => Err(e.message()),
                    Ok(_lock) => match self.deployment_state(&env.name)? {
                        Some(d)
                            if !d.pending
                                && (d.revision, d.validity_epoch) >= (revision, epoch) =>
                        {
                            Ok(Receipt {
                                public_keys: d.key_count(),
                            })
                        }
                        d => {
                            let base = d
                                .filter(|d| !d.pending)
                                .map(|d| (d.revision, d.validity_epoch));
                            self.send(&env.name, &target, version, base).await
                        }
                    },
                },
            };
            locals_current &= !is_local || outcome.is_ok();
            let (success, message, rec) = match outcome {
                Ok(receipt) => (
                    true,
                    DEPLOYED.to_owned(),
                    DeployRec {
                        v: FORMAT,
                        revision,
                        validity_epoch: epoch,
                        pending: false,
                        error: None,
                        keys: receipt.public_keys,
                        thumbprints: Vec::new(),
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
        drop(local);
        if locals_current {
            self.note_refreshed(version);
        }
        let failed = results.iter().filter(|r| !r.success).count();
        Ok(DeploymentResult {
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
        })
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

    /// Notes that every node-local target serves `version`.
    fn note_refreshed(&self, version: &Version) {
        let bounds = version.model.validity(version.now);
        self.note_served((version.model.revision, bounds.last), bounds.next);
    }

    /// Notes that every node-local target serves `at` = (revision, validity epoch), whose
    /// next validity bound is `next`.
    fn note_served(&self, at: Mark, next: Option<i64>) {
        let mut newest = lock(&self.refreshed_at);
        if at < *newest {
            // Overtaken by a newer deployment (which the targets kept): its validity bound
            // is the one to wait for, not this older version's.
            return;
        }
        *newest = at;
        let next = next.unwrap_or(i64::MAX);
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

    /// Deploys the current version to this process's node-local targets when they are
    /// behind the content revision or a validity bound passed. Records nothing in the store.
    pub(crate) async fn refresh_local(self: &Arc<Self>) -> Result<()> {
        let me = self.clone();
        type Work = Option<(Version, Vec<(String, Arc<dyn DeployTarget>)>)>;
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
            let model = me.current()?;
            Ok(Some((Version::new(model, me.clock.now_secs()), locals)))
        })
        .await
        .map_err(|e| RegistryError::internal(format!("refresh task: {e}")))??;
        let Some((version, locals)) = work else {
            return Ok(());
        };
        let mark = version.mark();
        let mut local = self.local.lock().await;
        let mut all_ok = true;
        for (name, target) in locals {
            let base = local
                .get(&name)
                .filter(|(at, _)| *at == address(&target))
                .map(|(_, mark)| *mark);
            if base.is_some_and(|b| b >= mark) {
                continue; // a deployment already brought it this far, or further
            }
            match self.send(&name, &target, &version, base).await {
                Ok(_) => {
                    local.insert(name, (address(&target), mark));
                }
                Err(e) => {
                    all_ok = false;
                    local.remove(&name);
                    tracing::warn!(environment = %name, error = %e, "in-process target refresh failed");
                }
            }
        }
        drop(local);
        if all_ok {
            self.note_refreshed(&version);
        }
        Ok(())
    }
}

/// A credential record's slot references.
fn slot_refs(model: &Model, c: &CredentialRec) -> SlotRefs {
    let r = |r: &Option<JwkRef>| {
        r.as_ref()
            .map(|r| (model.project(&r.project), Arc::<str>::from(r.id.as_str())))
    };
    [
        r(&c.validation),
        r(&c.encryption),
        r(&c.validation_next),
        r(&c.encryption_next),
    ]
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
        let bound = deployer.next_bound();
        deployer.note_served((7, 0), Some(1_900_000_000));
        deployer.note_served((6, 0), None);
        assert_eq!(*bound.borrow(), 1_900_000_000);
        assert_eq!(deployer.refreshed_revision(), 7);
        // The same revision once the key expired (a newer validity epoch): no bound left.
        deployer.note_served((7, 1_900_000_000), None);
        assert_eq!(*bound.borrow(), i64::MAX);
        // A later change with a new bound.
        deployer.note_served((8, 1_900_000_000), Some(1_950_000_000));
        assert_eq!(*bound.borrow(), 1_950_000_000);
    }
}
