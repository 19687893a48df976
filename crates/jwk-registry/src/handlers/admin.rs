//! What only the admin does: projects, environments (their targets, checked when given),
//! project members; and redeploys (the admin, and the system's reconcile).

use super::name_in;
use crate::actor::SystemRole;
use crate::error::{RegistryError, Result};
use crate::perm::Permission;
use crate::plan::{Audit, Ctx, Deploy, Effect, Plan, Work};
use crate::records::{EnvironmentRec, FORMAT, MemberRec, ProjectRec, UserRec, encode, keys};
use crate::store::Txn;
use crate::types::TargetConfig;

pub(super) fn create_project<'a>(ctx: &Ctx<'a>, name: String) -> Result<Work<'a>> {
    ctx.require_admin("create projects")?;
    let name = name_in("Project", &name)?
        .ok_or_else(|| RegistryError::bad_request("Project name can not be empty!"))?
        .to_owned();
    Ok(Work::new(format!("Project (name: {name})"), move |ctx| {
        if ctx.store.get(keys::project(&name).as_bytes())?.is_some() {
            return Err(RegistryError::bad_request(format!(
                "Project (name: {name}) is already exist!"
            )));
        }
        let rec = ProjectRec {
            v: FORMAT,
            name: name.clone(),
        };
        let txn = Txn::new()
            .absent(keys::project(&name))
            .put(keys::project(&name), encode(&rec));
        Ok(Plan::new(
            txn,
            Audit::of("project.create", Some(&name), &name),
        ))
    }))
}

fn check_target(ctx: &Ctx<'_>, name: &str, target: &TargetConfig) -> Result<()> {
    match target {
        TargetConfig::File { path } => {
            let root = ctx.config.file_target_dir.as_deref().ok_or_else(|| {
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
        TargetConfig::Custom if !ctx.deployer.has_target(name) => {
            return Err(RegistryError::bad_request(format!(
                "Environment (name: {name}) has a custom target, but the host registered none for it!"
            )));
        }
        TargetConfig::Memory | TargetConfig::Custom => {}
    }
    Ok(())
}

pub(super) fn create_environment<'a>(
    ctx: &Ctx<'a>,
    name: String,
    target: TargetConfig,
) -> Result<Work<'a>> {
    ctx.require_admin("create environments")?;
    let name = name_in("Environment", &name)?
        .ok_or_else(|| RegistryError::bad_request("Environment name can not be empty!"))?
        .to_owned();
    check_target(ctx, &name, &target)?;
    Ok(Work::new(
        format!("Environment (name: {name})"),
        move |ctx| {
            if ctx
                .store
                .get(keys::environment(&name).as_bytes())?
                .is_some()
            {
                return Err(RegistryError::bad_request(format!(
                    "Environment (name: {name}) is already exist!"
                )));
            }
            let rec = EnvironmentRec {
                v: FORMAT,
                name: name.clone(),
                target: target.clone(),
            };
            let txn = Txn::new()
                .absent(keys::environment(&name))
                .put(keys::environment(&name), encode(&rec));
            Ok(Plan::new(txn, Audit::of("environment.create", None, &name)))
        },
    ))
}

fn environment_not_found(name: &str) -> RegistryError {
    RegistryError::not_found(format!("Environment (name: {name}) is not found!"))
}

/// Replaces an environment's target, then every environment behind is deployed (this one
/// from scratch: its deployment state goes).
pub(super) fn update_environment<'a>(
    ctx: &Ctx<'a>,
    name: String,
    target: TargetConfig,
) -> Result<Work<'a>> {
    ctx.require_admin("update environments")?;
    if ctx
        .load::<EnvironmentRec>(&keys::environment(&name))?
        .is_none()
    {
        return Err(environment_not_found(&name));
    }
    check_target(ctx, &name, &target)?;
    change_environment("environment.update", name, move |txn, old, name| {
        let rec = EnvironmentRec {
            target: target.clone(),
            ..old
        };
        txn.put(keys::environment(name), encode(&rec))
    })
}

pub(super) fn delete_environment<'a>(ctx: &Ctx<'a>, name: String) -> Result<Work<'a>> {
    ctx.require_admin("delete environments")?;
    change_environment("environment.delete", name, |txn, _, name| {
        txn.delete(keys::environment(name))
    })
}

fn change_environment<'a>(
    action: &'static str,
    name: String,
    change: impl Fn(Txn, EnvironmentRec, &str) -> Txn + 'a,
) -> Result<Work<'a>> {
    Ok(Work::new(
        format!("Environment (name: {name})"),
        move |ctx| {
            let (old, revision) = ctx
                .load::<EnvironmentRec>(&keys::environment(&name))?
                .ok_or_else(|| environment_not_found(&name))?;
            let txn = Txn::new()
                .at(keys::environment(&name), revision)
                .delete(keys::deploy(&name));
            let mut plan = Plan::new(change(txn, old, &name), Audit::of(action, None, &name));
            plan.effects.push(Effect::ForgetResolver(name.clone()));
            if action == "environment.update" {
                plan.deploy = Deploy::Reconcile;
            }
            Ok(plan)
        },
    ))
}

pub(super) fn set_member<'a>(
    ctx: &Ctx<'a>,
    project: String,
    username: String,
    permissions: Vec<Permission>,
) -> Result<Work<'a>> {
    ctx.require_admin("set project members")?;
    if ctx.load::<ProjectRec>(&keys::project(&project))?.is_none() {
        return Err(RegistryError::project_not_found(&project));
    }
    if ctx.load::<UserRec>(&keys::user(&username))?.is_none() {
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
    let txn = Txn::new().put(keys::member(&project, &username), encode(&rec));
    Ok(Work::done(
        "Member",
        Plan::new(txn, Audit::of("member.set", Some(&project), &username)),
    ))
}

/// Whether `actor` may ask for a redeploy: the admin, or the system's reconcile.
fn redeploy_actor_allowed(ctx: &Ctx<'_>) -> bool {
    ctx.actor.is_admin() || ctx.actor.system_role() == Some(SystemRole::Reconcile)
}

/// Redeploy: every environment pending or behind is deployed again. Writes nothing itself.
pub(super) fn redeploy<'a>(ctx: &Ctx<'a>) -> Result<Work<'a>> {
    if !redeploy_actor_allowed(ctx) {
        return Err(RegistryError::forbidden(
            "Only the admin user can reconcile deployments!",
        ));
    }
    Ok(Work::done(
        "Redeploy",
        Plan {
            deploy: Deploy::Reconcile,
            ..Plan::default()
        },
    ))
}
