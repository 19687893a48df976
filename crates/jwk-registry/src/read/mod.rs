//! Reads: the views the API shows and the queries hosts and controllers make. Every read
//! checks the actor's permissions as the product does (a project the actor cannot see is a
//! 404); records are turned into views here and never leave as records.

mod admin;
mod credentials;
mod jwks;
mod observe;
mod page;
mod rotation;
mod secrets;
mod sets;
mod usage;

pub use admin::{DeploymentState, EnvironmentView, ProjectAccess, TargetView};
pub use credentials::{CredentialQuery, CredentialView, SlotView};
pub use jwks::{JwkQuery, JwkView, SourceView, SyncView, UrlOptionsView};
pub use observe::{DeploymentCount, EnvironmentGauge, FetchCount, KeyExpiry, Observed, SetGauge};
pub use page::{DEFAULT_PAGE, MAX_PAGE, PAGE_SCAN, Page};
pub use rotation::{RotationState, RotationView};
pub use secrets::{CertificateView, KeystoreEntryView, SecretQuery, SecretView};
pub use sets::{JwkSetStatus, JwkSetView};
pub use usage::{
    AuditEntry, CredentialUse, DEFAULT_HISTORY_PAGE, HistoryEntry, HistoryPage, JwkUsage,
    MAX_HISTORY_PAGE,
};

use crate::actor::Actor;
use crate::error::{RegistryError, Result};
use crate::perm::Permission;
use crate::plan::{access, has};
use crate::records::{keys, load, pending_against};
use crate::registry::Registry;
use crate::types::Pending;

impl Registry {
    /// The actor's permissions in a project; the product's 404 when the project does not
    /// exist or the actor has no access to it.
    pub(crate) fn access(&self, actor: &Actor, project: &str) -> Result<Vec<Permission>> {
        access(&**self.store(), actor, project)
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
                actor.username()
            )))
        }
    }

    /// How the saved record at `key` stands against its approved copy: `None` when they are
    /// the same (deployed).
    pub(crate) fn pending<T: serde::de::DeserializeOwned + PartialEq>(
        &self,
        key: &str,
        saved: &T,
    ) -> Result<Option<Pending>> {
        self.layout.ensure(&**self.store())?;
        let approved = load::<T>(&**self.store(), &keys::approved(key))?;
        Ok(pending_against(approved.as_ref().map(|(a, _)| a), saved))
    }
}
