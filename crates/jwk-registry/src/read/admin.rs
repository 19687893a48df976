//! Reads of what the admin manages and every user sees of it: projects (with the caller's
//! permissions), environments (their targets and last deployments), users' tokens.

use crate::actor::Actor;
use crate::error::{RegistryError, Result};
use crate::perm::Permission;
use crate::records::{EnvironmentRec, ProjectRec, UserRec, keys, load, load_all};
use crate::registry::Registry;
use crate::types::{ADMIN_USER, TargetConfig};

/// A project the caller can see, with the permissions the caller holds in it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct ProjectAccess {
    /// The project's name.
    pub name: String,
    /// The caller's permissions there (the admin: all six).
    pub permissions: Vec<Permission>,
}

/// An environment as a caller lists it: its target (its path or URL for the admin only)
/// and what its last deployment reported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct EnvironmentView {
    /// The name.
    pub name: String,
    /// The target: `{"type": …}`, with `path` or `url` for the admin.
    pub target: TargetView,
    /// The last deployment, or `None` before the first.
    pub deployment: Option<DeploymentState>,
}

/// An environment's target as listed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct TargetView {
    /// `memory`, `file`, `webhook` or `custom`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// A file target's path (admin only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// A webhook target's URL (admin only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

/// What an environment's last deployment reported.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct DeploymentState {
    /// The store revision deployed last.
    pub revision: u64,
    /// True when the last attempt failed and is retried.
    pub pending: bool,
    /// Why it failed.
    pub error: Option<String>,
    /// How many public keys the target reported serving.
    pub keys: usize,
}

impl Registry {
    /// The projects `actor` can see, by name, each with the actor's permissions (a member
    /// without permissions sees nothing of the project, as everywhere else).
    pub fn list_projects(&self, actor: &Actor) -> Result<Vec<ProjectAccess>> {
        let mut out = Vec::new();
        for (_, project, _) in load_all::<ProjectRec>(&**self.store(), keys::PROJECTS)? {
            match self.access(actor, &project.name) {
                Ok(permissions) => out.push(ProjectAccess {
                    name: project.name,
                    permissions,
                }),
                Err(e) if e.kind() == crate::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Every environment, by name, with what its last deployment reported. Any
    /// authenticated user may list them (their names are in every deployment result); a
    /// file target's path and a webhook's URL are shown to the admin only.
    pub fn list_environments(&self, actor: &Actor) -> Result<Vec<EnvironmentView>> {
        let mut out = Vec::new();
        for (_, env, _) in load_all::<EnvironmentRec>(&**self.store(), keys::ENVIRONMENTS)? {
            let (kind, path, url) = match env.target {
                TargetConfig::Memory => ("memory", None, None),
                TargetConfig::File { path } => ("file", Some(path), None),
                TargetConfig::Webhook { url } => ("webhook", None, Some(url)),
                TargetConfig::Custom => ("custom", None, None),
            };
            let mut deployment = self.deployment_state(&env.name)?;
            // Why a deployment failed names the target: the admin's to read.
            if let Some(d) = deployment.as_mut()
                && d.error.is_some()
                && !actor.is_admin()
            {
                d.error = Some(crate::deploy::FAILURE_SHOWN_TO_MEMBERS.to_owned());
            }
            out.push(EnvironmentView {
                name: env.name,
                target: TargetView {
                    kind,
                    path: path.filter(|_| actor.is_admin()),
                    url: url.filter(|_| actor.is_admin()),
                },
                deployment,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

impl Registry {
    /// True once the admin user exists.
    pub fn is_bootstrapped(&self) -> Result<bool> {
        Ok(self
            .store()
            .get(keys::user(ADMIN_USER).as_bytes())?
            .is_some())
    }

    /// The user a bearer token belongs to, else the product's 401.
    pub fn authenticate(&self, token: &str) -> Result<Actor> {
        let hash = crate::handlers::token_hash(token);
        let Some(v) = self.store().get(keys::token(&hash).as_bytes())? else {
            return Err(RegistryError::invalid_token());
        };
        let username = String::from_utf8_lossy(&v.value).into_owned();
        match load::<UserRec>(&**self.store(), &keys::user(&username))? {
            Some((u, _)) if u.token_sha256 == hash => Ok(Actor::authenticated(u.username, u.admin)),
            _ => Err(RegistryError::invalid_token()),
        }
    }
    /// The public JWKS that this process's resolver serves for a `memory` environment, and
    /// its revision.
    pub fn served_jwks(&self, environment: &str) -> Result<(std::sync::Arc<str>, u64)> {
        match load::<EnvironmentRec>(&**self.store(), &keys::environment(environment))? {
            None => Err(RegistryError::not_found(format!(
                "Environment (name: {environment}) is not found!"
            ))),
            Some((env, _)) if env.target != TargetConfig::Memory => {
                Err(RegistryError::bad_request(format!(
                    "Environment (name: {environment}) is not served in process: its target is not memory!"
                )))
            }
            Some(_) => Ok(self.resolver(environment).public_jwks()),
        }
    }

    /// What an environment reported serving at its last deployment.
    pub fn deployment_state(&self, environment: &str) -> Result<Option<DeploymentState>> {
        Ok(self
            .deployer
            .deployment_state(environment)?
            .map(|d| DeploymentState {
                revision: d.revision,
                keys: d.key_count(),
                pending: d.pending,
                error: d.error,
            }))
    }
}
