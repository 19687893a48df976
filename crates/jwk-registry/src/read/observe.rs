//! What a metrics scrape shows of the registry ([`Registry::observe`]): remote JWK Sets'
//! freshness and fetch counts, deployments by environment and result, the
//! environments still pending, and how long each served certificate has until it expires.
//! Plain values: the server renders them (jwk-server's `/metrics`).

use crate::error::Result;
use crate::records::{
    DeployRec, EnvironmentRec, JwkSetRec, SetKeysRec, SetStatusRec, keys, load, load_all,
};
use crate::registry::Registry;

/// A remote JWK Set's state.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SetGauge {
    /// The project.
    pub project: String,
    /// The set.
    pub name: String,
    /// Seconds since its last successful fetch (`None`: never).
    pub age_seconds: Option<f64>,
    /// Keys it serves.
    pub keys: usize,
    /// True once its keys were withdrawn (stale limit passed).
    pub withdrawn: bool,
    /// Failed fetches since the last success.
    pub consecutive_failures: u32,
}

/// Fetches of a set by result, in this process.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct FetchCount {
    /// The project.
    pub project: String,
    /// The set.
    pub set: String,
    /// `ok`, `not_modified` or the failure's stable code.
    pub result: String,
    /// How many.
    pub count: u64,
}

/// Deployments to an environment by result, in this process.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeploymentCount {
    /// The environment.
    pub environment: String,
    /// Whether they succeeded.
    pub success: bool,
    /// How many.
    pub count: u64,
}

/// An environment's deployment state.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct EnvironmentGauge {
    /// The environment.
    pub name: String,
    /// True when its last deployment failed (the change waits for reconcile), or it was
    /// never deployed.
    pub pending: bool,
}

/// When a served key's certificate (its `x5c` leaf) expires.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct KeyExpiry {
    /// The project.
    pub project: String,
    /// The JWK's name, or the remote set's.
    pub name: String,
    /// The key's kid, when it has one.
    pub kid: Option<String>,
    /// Seconds until the certificate's notAfter (negative once expired).
    pub seconds: f64,
}

/// The registry as a metrics scrape shows it.
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct Observed {
    /// Every remote JWK Set.
    pub jwk_sets: Vec<SetGauge>,
    /// Their fetches by result.
    pub fetches: Vec<FetchCount>,
    /// Deployments by environment and result.
    pub deployments: Vec<DeploymentCount>,
    /// Every environment.
    pub environments: Vec<EnvironmentGauge>,
    /// Every served key with a certificate.
    pub expiries: Vec<KeyExpiry>,
    /// Per served JWK with an `exp` (its own, or its certificate's `notAfter` + 1 s): the
    /// seconds until it is served no more.
    pub key_expiries: Vec<KeyExpiry>,
}

impl Registry {
    /// Reads what a metrics scrape shows (store reads: call it off the async workers).
    pub fn observe(&self) -> Result<Observed> {
        let store = &**self.store();
        let now = self.config.clock.now_ms();
        let mut jwk_sets = Vec::new();
        let mut ids = Vec::new();
        for (key, rec, _) in load_all::<JwkSetRec>(store, keys::ALL_JWK_SETS)? {
            let Some((project, name)) = keys::jwk_set_of(&key) else {
                continue;
            };
            let status = load::<SetStatusRec>(store, &keys::jwk_set_status(&project, &name))?
                .map(|(s, _)| s)
                .unwrap_or_default();
            let served = load::<SetKeysRec>(store, &keys::jwk_set_keys(&project, &name))?
                .map(|(k, _)| k)
                .unwrap_or_default();
            jwk_sets.push(SetGauge {
                age_seconds: status
                    .last_success
                    .map(|t| now.saturating_sub(t).max(0) as f64 / 1000.0),
                keys: served.keys.len(),
                withdrawn: served.withdrawn,
                consecutive_failures: status.failures,
                project: project.clone(),
                name: rec.name,
            });
            ids.push((project, name));
        }
        let mut environments = Vec::new();
        let mut names = Vec::new();
        for (_, env, _) in load_all::<EnvironmentRec>(store, keys::ENVIRONMENTS)? {
            let pending = match load::<DeployRec>(store, &keys::deploy(&env.name))? {
                Some((d, _)) => d.pending,
                None => true,
            };
            names.push(env.name.clone());
            environments.push(EnvironmentGauge {
                name: env.name,
                pending,
            });
        }
        let mut expiries = Vec::new();
        let mut key_expiries = Vec::new();
        for project in self.snapshot()?.projects {
            for key in project.all_keys() {
                if let Some(exp) = key.validity.expires {
                    key_expiries.push(KeyExpiry {
                        project: project.name.clone(),
                        name: key.name.to_string(),
                        kid: key.jwk.params().kid.clone(),
                        seconds: exp as f64 - now as f64 / 1000.0,
                    });
                }
                let params = key.jwk.params();
                let Some(leaf) = params.x5c.as_ref().and_then(|chain| chain.first()) else {
                    continue;
                };
                let Ok(info) = jwk_core::CertificateInfo::from_der(leaf) else {
                    continue; // checked when the key was imported
                };
                expiries.push(KeyExpiry {
                    project: project.name.clone(),
                    name: key.name.to_string(),
                    kid: params.kid.clone(),
                    seconds: info.not_after_unix as f64 - now as f64 / 1000.0,
                });
            }
        }
        Ok(Observed {
            jwk_sets,
            fetches: self
                .tally
                .counts(&ids)
                .into_iter()
                .map(|(project, set, result, count)| FetchCount {
                    project,
                    set,
                    result,
                    count,
                })
                .collect(),
            deployments: self
                .deployer
                .deployment_counts(&names)
                .into_iter()
                .map(|(environment, success, count)| DeploymentCount {
                    environment,
                    success,
                    count,
                })
                .collect(),
            environments,
            expiries,
            key_expiries,
        })
    }
}
