//! Access checks: which permissions an actor holds in a project, and the product's 404 and
//! 403 answers.

use super::{Actor, Registry};
use crate::error::{RegistryError, Result};
use crate::model::{MemberRec, ProjectRec, keys, load};
use crate::perm::{Level, Permission};

impl Registry {
    /// The actor's permissions in a project; the product's 404 when the project does not
    /// exist or the actor has no access to it (the same answer for both).
    pub(crate) fn access(&self, actor: &Actor, project: &str) -> Result<Vec<Permission>> {
        if load::<ProjectRec>(&*self.store, &keys::project(project))?.is_none() {
            return Err(RegistryError::project_not_found(project));
        }
        if actor.admin {
            use crate::perm::*;
            return Ok(vec![
                SECRETS_VIEW,
                SECRETS_MANAGE,
                SECRETS_DEPLOY,
                IDENTITY_VIEW,
                IDENTITY_MANAGE,
                IDENTITY_DEPLOY,
            ]);
        }
        match load::<MemberRec>(&*self.store, &keys::member(project, &actor.username))? {
            Some((m, _)) if !m.permissions.is_empty() => Ok(m.permissions),
            _ => Err(RegistryError::project_not_found(project)),
        }
    }

    /// Checks one permission (MANAGE implies VIEW); 404 / 403 as the product answers.
    pub(crate) fn require(
        &self,
        actor: &Actor,
        project: &str,
        needed: Permission,
    ) -> Result<Vec<Permission>> {
        let perms = self.access(actor, project)?;
        if has(&perms, needed) {
            Ok(perms)
        } else {
            Err(RegistryError::forbidden(format!(
                "User (username: {}) does not have {needed} permission in project ({project})!",
                actor.username
            )))
        }
    }
}

/// Whether `perms` grant `needed` (MANAGE implies VIEW).
pub(crate) fn has(perms: &[Permission], needed: Permission) -> bool {
    perms.contains(&needed)
        || (needed.level == Level::View
            && perms.contains(&Permission::new(needed.area, Level::Manage)))
}
