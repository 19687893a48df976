//! What only the admin does: projects, environments (their targets, checked when given) and
//! project members.

use super::{Actor, Registry, name_in};
use crate::error::{RegistryError, Result};
use crate::model::{
    EnvironmentRec, FORMAT, MemberRec, ProjectRec, TargetConfig, UserRec, encode, keys, load,
};
use crate::perm::Permission;
use crate::store::Txn;

impl Registry {
    /// Creates a project. Admin only.
    pub(super) fn create_project(&self, actor: &Actor, name: &str) -> Result<u64> {
        Self::require_admin(actor, "create projects")?;
        let name = name_in("Project", name)?
            .ok_or_else(|| RegistryError::bad_request("Project name can not be empty!"))?;
        let rec = ProjectRec {
            v: FORMAT,
            name: name.to_owned(),
        };
        let txn = Txn::new()
            .absent(keys::project(name))
            .put(keys::project(name), encode(&rec));
        let txn = self.audit(txn, actor, "project.create", Some(name), name)?;
        self.commit(txn, || {
            RegistryError::bad_request(format!("Project (name: {name}) is already exist!"))
        })
    }

    /// Creates an environment. Admin only.
    pub(super) fn create_environment(
        &self,
        actor: &Actor,
        name: &str,
        target: TargetConfig,
    ) -> Result<u64> {
        Self::require_admin(actor, "create environments")?;
        let name = name_in("Environment", name)?
            .ok_or_else(|| RegistryError::bad_request("Environment name can not be empty!"))?;
        self.check_target(name, &target)?;
        let rec = EnvironmentRec {
            v: FORMAT,
            name: name.to_owned(),
            target,
        };
        let txn = Txn::new()
            .absent(keys::environment(name))
            .put(keys::environment(name), encode(&rec));
        let txn = self.audit(txn, actor, "environment.create", None, name)?;
        self.commit(txn, || {
            RegistryError::bad_request(format!("Environment (name: {name}) is already exist!"))
        })
    }

    /// Checks an environment's target before it is stored.
    fn check_target(&self, name: &str, target: &TargetConfig) -> Result<()> {
        match target {
            TargetConfig::File { path } => {
                let root = self.config.file_target_dir.as_deref().ok_or_else(|| {
                    RegistryError::bad_request(format!(
                        "Environment (name: {name}) is a file target, but no directory is given \
                         for file targets (jwkd --file-target-dir DIR)!"
                    ))
                })?;
                crate::deploy::FileTarget::new(root, path).map_err(|e| {
                    RegistryError::bad_request(format!(
                        "Environment (name: {name}) has a file path that is not valid: {e}"
                    ))
                })?;
            }
            TargetConfig::Webhook { url } => {
                jwk_fetch::check_url(url).map_err(|e| {
                    RegistryError::bad_request(format!(
                        "Environment (name: {name}) has a webhook URL that is not valid: {e}"
                    ))
                })?;
            }
            TargetConfig::Custom if !self.lock_targets().contains_key(name) => {
                return Err(RegistryError::bad_request(format!(
                    "Environment (name: {name}) has a custom target, but the host registered none for it!"
                )));
            }
            TargetConfig::Memory | TargetConfig::Custom => {}
        }
        Ok(())
    }

    /// The stored environment `name` and its revision, or the product's 404.
    pub(crate) fn environment_at(&self, name: &str) -> Result<(EnvironmentRec, u64)> {
        load::<EnvironmentRec>(&*self.store, &keys::environment(name))?.ok_or_else(|| {
            RegistryError::not_found(format!("Environment (name: {name}) is not found!"))
        })
    }

    /// Replaces an environment's target. Admin only. The environment is then pending: its
    /// next deployment ([`Registry::reconcile`]) writes every key to the new target.
    pub(super) fn update_environment(
        &self,
        actor: &Actor,
        name: &str,
        target: TargetConfig,
    ) -> Result<u64> {
        Self::require_admin(actor, "update environments")?;
        self.environment_at(name)?;
        self.check_target(name, &target)?;
        self.change_environment(actor, "environment.update", name, |txn, old| {
            let rec = EnvironmentRec {
                target: target.clone(),
                ..old
            };
            txn.put(keys::environment(name), encode(&rec))
        })
    }

    /// Deletes an environment and its deployment state. Admin only. What its target served
    /// stays where it is (a file, a gateway); the in-process resolver of a `memory`
    /// environment is dropped.
    pub(super) fn delete_environment(&self, actor: &Actor, name: &str) -> Result<u64> {
        Self::require_admin(actor, "delete environments")?;
        self.change_environment(actor, "environment.delete", name, |txn, _| {
            txn.delete(keys::environment(name))
        })
    }

    /// Commits `change` of the stored environment `name` (read afresh for each attempt) with
    /// its deployment state dropped and an audit entry, then drops its in-process resolver:
    /// the next use starts afresh.
    fn change_environment(
        &self,
        actor: &Actor,
        action: &str,
        name: &str,
        change: impl Fn(Txn, EnvironmentRec) -> Txn,
    ) -> Result<u64> {
        let revision = self.commit_always(&format!("Environment (name: {name})"), || {
            let (old, revision) = self.environment_at(name)?;
            let txn = Txn::new()
                .at(keys::environment(name), revision)
                .delete(keys::deploy(name));
            self.audit(change(txn, old), actor, action, None, name)
        })?;
        self.resolvers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(name);
        Ok(revision)
    }

    /// Sets a user's permissions in a project. Admin only.
    pub(super) fn set_member(
        &self,
        actor: &Actor,
        project: &str,
        username: &str,
        permissions: Vec<Permission>,
    ) -> Result<u64> {
        Self::require_admin(actor, "set project members")?;
        if load::<ProjectRec>(&*self.store, &keys::project(project))?.is_none() {
            return Err(RegistryError::project_not_found(project));
        }
        if load::<UserRec>(&*self.store, &keys::user(username))?.is_none() {
            return Err(RegistryError::bad_request(format!(
                "User (username: {username}) was not found!"
            )));
        }
        let mut permissions = permissions;
        permissions.sort();
        permissions.dedup();
        let rec = MemberRec {
            v: FORMAT,
            permissions,
        };
        let txn = Txn::new().put(keys::member(project, username), encode(&rec));
        let txn = self.audit(txn, actor, "member.set", Some(project), username)?;
        self.commit_always("Member", || Ok(txn.clone()))
    }
}

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
    /// The thumbprints the target reported serving (public keys only), sorted.
    pub thumbprints: Vec<String>,
}

impl Registry {
    /// The projects `actor` can see, by name, each with the actor's permissions (a member
    /// without permissions sees nothing of the project, as everywhere else).
    pub fn list_projects(&self, actor: &Actor) -> Result<Vec<ProjectAccess>> {
        let mut out = Vec::new();
        for (_, project, _) in
            crate::model::load_all::<ProjectRec>(&**self.store(), keys::PROJECTS)?
        {
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
        for (_, env, _) in
            crate::model::load_all::<EnvironmentRec>(&**self.store(), keys::ENVIRONMENTS)?
        {
            let (kind, path, url) = match env.target {
                TargetConfig::Memory => ("memory", None, None),
                TargetConfig::File { path } => ("file", Some(path), None),
                TargetConfig::Webhook { url } => ("webhook", None, Some(url)),
                TargetConfig::Custom => ("custom", None, None),
            };
            let deployment = self.deployment_state(&env.name)?.map(|d| {
                let mut thumbprints = d.thumbprints;
                thumbprints.sort();
                DeploymentState {
                    revision: d.revision,
                    pending: d.pending,
                    error: d.error,
                    thumbprints,
                }
            });
            out.push(EnvironmentView {
                name: env.name,
                target: TargetView {
                    kind,
                    path: path.filter(|_| actor.admin),
                    url: url.filter(|_| actor.admin),
                },
                deployment,
            });
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}
