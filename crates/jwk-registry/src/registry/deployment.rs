//! Deployment fan-out: every change goes to every environment; failures stay pending and are
//! retried by `reconcile`.

use super::{Change, Registry};
use crate::deploy::{
    DeployedCredential, DeployedJwk, DeploymentResult, EnvironmentResult, EnvironmentSnapshot,
    ProjectSnapshot,
};
use crate::error::{RegistryError, Result};
use crate::model::{
    CredentialRec, DeployRec, EnvironmentRec, FORMAT, ProjectRec, encode, keys, load, load_all,
};
use crate::store::{LockGuard, Txn};
use std::collections::HashMap;

/// Longest wait for another node's deployment of the same environment.
const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// The product's messages.
pub const DEPLOYED: &str = "Deployed successfully";
/// The product's messages.
pub const COMPLETED: &str = "Deployment completed successfully";

impl Registry {
    /// Everything the environments serve, read at the store's current revision: the
    /// approved version of every JWK and credential (`approval.rs`).
    pub fn snapshot(&self) -> Result<EnvironmentSnapshot> {
        self.ensure_approval_layout()?;
        let store = &**self.store();
        let revision = self.content_revision()?;
        let now = self.now_secs();
        let mut bounds = crate::deploy::ValidityBounds::default();
        let mut by_ref: HashMap<(String, String), DeployedJwk> = HashMap::new();
        let mut projects = Vec::new();
        let mut seen = std::collections::HashSet::new();
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
                if opened.deployed.state == crate::deploy::KeyState::Disabled {
                    continue; // served nowhere; a credential's slot that holds it is empty
                }
                bounds.add(&opened.deployed.validity, now);
                if opened.deployed.validity.status(now) != crate::deploy::ValidityStatus::Valid {
                    continue; // not yet or no longer: served from its nbf, until its exp
                }
                by_ref.insert((p.name.clone(), opened.id), opened.deployed.clone());
                snap.jwks.push(opened.deployed);
            }
            snap.remote_keys = self.remote_keys(&p.name)?;
            projects.push(snap);
        }
        // Deleted JWKs leave the cache.
        self.opened
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|k, _| seen.contains(k));
        for snap in &mut projects {
            let prefix = keys::approved(&keys::credentials(&snap.name));
            for (_, c, _) in load_all::<CredentialRec>(store, &prefix)? {
                let find = |r: &Option<crate::model::JwkRef>| {
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

    /// Records an environment's state, unless a newer deployment (another node's, or a
    /// crossing one) is already recorded.
    fn record_deployment(&self, env: &str, rec: DeployRec) -> Result<()> {
        let key = keys::deploy(env);
        self.commit_retrying(&format!("The deployment record of {env}"), || {
            let txn = match load::<DeployRec>(&**self.store(), &key)? {
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
        })?;
        Ok(())
    }

    /// The lock that makes one node at a time deploy an environment (free at once on a
    /// single-process store).
    async fn environment_lock(&self, env: &str) -> Result<LockGuard> {
        let store = self.store().clone();
        let name = format!("deploy/{env}");
        tokio::task::spawn_blocking(move || store.lock(&name, LOCK_WAIT))
            .await
            .map_err(|e| RegistryError::internal(format!("lock task: {e}")))?
            .map_err(Into::into)
    }

    /// Deploys to every environment and reports per environment. A failed environment does
    /// not undo the change: it stays pending until [`Registry::reconcile`] succeeds.
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
    pub async fn reconcile(&self) -> Result<DeploymentResult> {
        let _one_at_a_time = self.deploying.lock().await;
        // One snapshot says which environments are behind it and is what they get.
        let snapshot = self.snapshot()?;
        let (revision, epoch) = (snapshot.revision, snapshot.validity_epoch);
        let behind: Vec<String> = load_all::<EnvironmentRec>(&**self.store(), keys::ENVIRONMENTS)?
            .into_iter()
            .filter(|(_, env, _)| {
                match load::<DeployRec>(&**self.store(), &keys::deploy(&env.name)) {
                    Ok(Some((d, _))) => {
                        d.pending || d.revision < revision || d.validity_epoch < epoch
                    }
                    _ => true,
                }
            })
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
        for (_, env, _) in load_all::<EnvironmentRec>(&**self.store(), keys::ENVIRONMENTS)? {
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
                        match load::<DeployRec>(&**self.store(), &keys::deploy(&env.name))? {
                            Some((d, _))
                                if !d.pending
                                    && d.revision >= snapshot.revision
                                    && d.validity_epoch >= snapshot.validity_epoch =>
                            {
                                Some(Ok(crate::deploy::Receipt {
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
                    let previous = load::<DeployRec>(&**self.store(), &keys::deploy(&env.name))?
                        .map(|(r, _)| r)
                        .unwrap_or_default();
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
            self.live.tally.deployed(&env.name, success);
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

    /// The public JWKS that this process's resolver serves for a `memory` environment, and
    /// its revision.
    pub fn served_jwks(&self, environment: &str) -> Result<(std::sync::Arc<str>, u64)> {
        match load::<EnvironmentRec>(&**self.store(), &keys::environment(environment))? {
            None => Err(RegistryError::not_found(format!(
                "Environment (name: {environment}) is not found!"
            ))),
            Some((env, _)) if env.target != crate::model::TargetConfig::Memory => {
                Err(RegistryError::bad_request(format!(
                    "Environment (name: {environment}) is not served in process: its target is not memory!"
                )))
            }
            Some(_) => Ok(self.resolver(environment).public_jwks()),
        }
    }

    /// What an environment reported serving at its last deployment.
    pub fn deployment_state(&self, environment: &str) -> Result<Option<DeployRec>> {
        Ok(load::<DeployRec>(&**self.store(), &keys::deploy(environment))?.map(|(r, _)| r))
    }
}
