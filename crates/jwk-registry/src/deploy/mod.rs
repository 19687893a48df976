//! Deployment: the `DeployTarget` trait, environment snapshots, the product's result shape,
//! the built-in targets (in-process resolver, atomic JWKS file, HTTP webhook) and the
//! fan-out of every change to every environment ([`Deployer`]).

mod fanout;
mod model;
mod resolver;
mod targets;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use jwk_core::{Jwk, ThumbprintHash};
use serde::Serialize;

pub use crate::types::{KeyState, Slot, Validity, ValidityStatus};
pub use fanout::{COMPLETED, DEPLOYED};
pub(crate) use fanout::{Change, DeployConfig, Deployer};
pub use resolver::{ProjectKeys, PublishedJwks, Resolver};
pub use targets::{FileTarget, WebhookTarget};

/// A boxed future, so `DeployTarget` can be used as `dyn`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One JWK of a project, as deployed. Its texts are shared (`Arc<str>`): every version of
/// what is served, and every target in the process, holds the same bytes.
#[derive(Debug, Clone)]
pub struct DeployedJwk {
    /// Its stable id (a rename keeps it; empty for a remote set's key).
    pub id: Arc<str>,
    /// Its name (a remote set's key: the set's).
    pub name: Arc<str>,
    /// The full key (private members included: gateways decrypt and sign with them).
    pub jwk: Arc<Jwk>,
    /// Its SHA-256 thumbprint.
    pub thumbprint: Arc<str>,
    /// Its state: pending, active or retired (disabled JWKs are never deployed).
    pub state: KeyState,
    /// When it may be used (its `nbf` / `exp` and its `x5c` certificate's validity). A
    /// snapshot holds only JWKs valid at the time it was made.
    pub validity: Validity,
}

/// The validity bounds of a set of keys seen from `now`: the last one passed (0 when none)
/// and the next one to come ([`model::Model::validity`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ValidityBounds {
    pub(crate) last: i64,
    pub(crate) next: Option<i64>,
}

/// A credential and the JWKs its slots point at, as deployed.
#[derive(Debug, Clone)]
pub struct DeployedCredential {
    /// The username.
    pub username: Arc<str>,
    /// Validation / signing JWK.
    pub validation: Option<DeployedJwk>,
    /// Decryption / encryption JWK.
    pub encryption: Option<DeployedJwk>,
    /// The validation slot's next JWK (published ahead of its promotion).
    pub validation_next: Option<DeployedJwk>,
    /// The encryption slot's next JWK.
    pub encryption_next: Option<DeployedJwk>,
}

/// Everything of one project that an environment serves.
#[derive(Debug, Clone, Default)]
pub struct ProjectSnapshot {
    /// The project name.
    pub name: String,
    /// Its JWKs.
    pub jwks: Vec<DeployedJwk>,
    /// Its credentials.
    pub credentials: Vec<DeployedCredential>,
    /// The keys its remote JWK Sets serve (public keys; each entry's `name` is the set's).
    pub remote_keys: Vec<DeployedJwk>,
}

impl ProjectSnapshot {
    /// Every key the project serves: its JWKs, then its remote sets' keys.
    pub fn all_keys(&self) -> impl Iterator<Item = &DeployedJwk> {
        self.jwks.iter().chain(&self.remote_keys)
    }
}

/// What a target is asked to serve: the whole registry state at one store revision.
#[derive(Debug, Clone, Default)]
pub struct EnvironmentSnapshot {
    /// The environment's name.
    pub environment: String,
    /// The store revision this snapshot was read at.
    pub revision: u64,
    /// Every project.
    pub projects: Vec<ProjectSnapshot>,
    /// The latest validity bound (a JWK's `nbf` or `exp`, Unix seconds) that had passed when
    /// the snapshot was made (0: none). With `revision`, what the snapshot reflects: a key
    /// that expires makes a new snapshot at the same revision.
    pub validity_epoch: i64,
    /// The next validity bound to come: the environments are deployed again then.
    pub next_validity_change: Option<i64>,
}

impl EnvironmentSnapshot {
    /// The public JWKS of every JWK with a public part (oct keys are never published),
    /// one entry per thumbprint.
    pub fn public_jwks(&self) -> (String, Vec<String>) {
        let mut seen = std::collections::BTreeSet::new();
        let mut keys = Vec::new();
        for p in &self.projects {
            for j in p.all_keys() {
                let Some(public) = j.jwk.to_public_json() else {
                    continue; // oct
                };
                if seen.insert(j.thumbprint.to_string()) {
                    keys.push(public);
                }
            }
        }
        (
            format!("{{\"keys\":[{}]}}", keys.join(",")),
            seen.into_iter().collect(),
        )
    }

    /// The thumbprint of every public-key JWK in the snapshot, sorted, once each. Symmetric
    /// (`oct`) keys are left out: their thumbprint is an unsalted hash of the secret.
    pub fn thumbprints(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .projects
            .iter()
            .flat_map(ProjectSnapshot::all_keys)
            .filter(|j| !is_symmetric(&j.jwk))
            .map(|j| j.thumbprint.to_string())
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

/// What changed in what an environment serves since a deployment the target acknowledged
/// (its `base_revision` and `base_validity_epoch`): each JWK, credential and remote set
/// whose served form may have moved, as it is served now. Applying it to what the target
/// served at the base gives exactly the whole snapshot at `revision`.
#[derive(Debug, Clone, Default)]
pub struct EnvironmentDelta {
    /// The environment's name.
    pub environment: String,
    /// The revision of the deployment the delta starts from.
    pub base_revision: u64,
    /// The validity epoch of that deployment.
    pub base_validity_epoch: i64,
    /// The revision the target serves once the delta is applied.
    pub revision: u64,
    /// The validity epoch it serves then (see [`EnvironmentSnapshot::validity_epoch`]).
    pub validity_epoch: i64,
    /// The next validity bound to come.
    pub next_validity_change: Option<i64>,
    /// JWKs, in (project, id) order.
    pub jwks: Vec<JwkChange>,
    /// Credentials, in (project, username) order (a JWK's change comes with every credential
    /// whose slots hold it).
    pub credentials: Vec<CredentialChange>,
    /// Remote sets, in (project, name) order.
    pub remote_sets: Vec<RemoteSetChange>,
}

impl EnvironmentDelta {
    /// How many entries the delta holds.
    pub fn len(&self) -> usize {
        self.jwks.len() + self.credentials.len() + self.remote_sets.len()
    }

    /// True when nothing changed but the revision (or the validity epoch).
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A JWK of a delta: its stable id, and how it is served now (`None`: no longer served:
/// deleted, disabled, withdrawn or outside its validity).
#[derive(Debug, Clone)]
pub struct JwkChange {
    /// The project holding it.
    pub project: Arc<str>,
    /// Its stable id (a rename keeps it).
    pub id: Arc<str>,
    /// How it is served now.
    pub jwk: Option<DeployedJwk>,
}

/// A credential of a delta (`None`: no longer served).
#[derive(Debug, Clone)]
pub struct CredentialChange {
    /// Its project.
    pub project: Arc<str>,
    /// Its username.
    pub username: Arc<str>,
    /// How it is served now.
    pub credential: Option<DeployedCredential>,
}

/// A remote JWK Set of a delta: every key it serves now (none: deleted or withdrawn).
#[derive(Debug, Clone)]
pub struct RemoteSetChange {
    /// Its project.
    pub project: Arc<str>,
    /// Its name.
    pub name: Arc<str>,
    /// Its keys.
    pub keys: Vec<DeployedJwk>,
}

/// What a target reports after a successful deployment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Receipt {
    /// How many public keys the target now serves (symmetric `oct` keys are never counted:
    /// they are never published).
    pub public_keys: usize,
}

impl Receipt {
    /// The receipt of a target that serves `snapshot`'s public keys.
    pub fn of(snapshot: &EnvironmentSnapshot) -> Receipt {
        Receipt {
            public_keys: snapshot.thumbprints().len(),
        }
    }
}

/// Why a deployment to one environment failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeployError(pub String);

/// Somewhere an environment's keys go. Hosts implement it to plug in their own gateways.
pub trait DeployTarget: Send + Sync + 'static {
    /// Makes the target serve `snapshot`, the whole state: the first time the target is
    /// deployed in this process, after a failed deployment, at a reconcile, and at every
    /// change for a target that takes no deltas.
    fn deploy<'a>(
        &'a self,
        snapshot: &'a EnvironmentSnapshot,
    ) -> BoxFuture<'a, Result<Receipt, DeployError>>;

    /// Makes the target serve what `delta` changes on top of what it served at the delta's
    /// base (the last deployment it acknowledged): a change costs what it changes. A target
    /// that takes deltas returns `Some`; the default, `None`, says it takes whole snapshots
    /// (then [`DeployTarget::deploy`] is called instead).
    fn deploy_delta<'a>(
        &'a self,
        delta: &'a EnvironmentDelta,
    ) -> Option<BoxFuture<'a, Result<Receipt, DeployError>>> {
        let _ = delta;
        None
    }

    /// True for a target that lives inside this process (the in-process [`Resolver`], or a
    /// host's own in-memory table): when several nodes share a registry, every node keeps
    /// its own copy current as changes arrive. False (the default) for a target outside the
    /// process (a file, a webhook, a gateway's admin API): it is deployed once per change,
    /// by one node, under a lock.
    fn node_local(&self) -> bool {
        false
    }
}

/// The product's per-environment result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentResult {
    /// The environment.
    pub environment_name: String,
    /// Whether it serves the change.
    pub success: bool,
    /// "Deployed successfully" or why not.
    pub message: String,
}

/// The product's `deploymentResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentResult {
    /// True when every environment serves the change.
    pub success: bool,
    /// "Deployment completed successfully" or a summary of what failed.
    pub message: String,
    /// One entry per environment.
    pub environment_results: Vec<EnvironmentResult>,
}

/// A mutex's guard, also after a panic elsewhere poisoned it (what each lock of this module
/// guards stays whole across a panic: a value replaced at once).
fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// What a user who is not the admin reads instead of why an environment failed: the reason
/// names the target (a webhook's host and whether it answers, a file's path), which only the
/// admin user sees.
pub const FAILURE_SHOWN_TO_MEMBERS: &str = "Deployment failed (the admin user sees why)";

impl DeploymentResult {
    /// The result as `actor` may read it: a user who is not the admin gets
    /// [`FAILURE_SHOWN_TO_MEMBERS`] for each failed environment; the admin and the engine's own
    /// actors get the reason.
    pub(crate) fn shown_to(mut self, actor: &crate::actor::Actor) -> DeploymentResult {
        if actor.is_admin() || actor.system_role().is_some() {
            return self;
        }
        for result in &mut self.environment_results {
            if !result.success {
                result.message = FAILURE_SHOWN_TO_MEMBERS.to_owned();
            }
        }
        self
    }
}

/// The thumbprint a view may show: none for a symmetric key, whose thumbprint is a hash of
/// its secret.
pub(crate) fn shown_thumbprint(jwk: &Jwk) -> Option<String> {
    (!is_symmetric(jwk)).then(|| thumbprint(jwk))
}

/// The SHA-256 thumbprint used throughout deployment.
pub fn thumbprint(jwk: &Jwk) -> String {
    jwk.thumbprint(ThumbprintHash::Sha256)
}

pub(crate) fn is_symmetric(jwk: &Jwk) -> bool {
    matches!(jwk.key(), jwk_core::Key::Oct(_))
}
