//! Records of projects, environments, users, memberships, deployments and the audit log.

use serde::{Deserialize, Serialize};

use crate::perm::Permission;
use crate::types::TargetConfig;

/// A project.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct ProjectRec {
    pub(crate) v: u32,
    pub(crate) name: String,
}

/// An environment.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct EnvironmentRec {
    pub(crate) v: u32,
    pub(crate) name: String,
    pub(crate) target: TargetConfig,
}

/// A user.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct UserRec {
    pub(crate) v: u32,
    pub(crate) username: String,
    /// SHA-256 (hex) of the token; the token itself is never stored.
    pub(crate) token_sha256: String,
    /// The admin user can do everything everywhere.
    pub(crate) admin: bool,
}

/// A user's permissions in a project.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct MemberRec {
    pub(crate) v: u32,
    pub(crate) permissions: Vec<Permission>,
}

/// What an environment serves, as its last deployment reported.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq, Default)]
pub(crate) struct DeployRec {
    pub(crate) v: u32,
    /// The store revision deployed last.
    pub(crate) revision: u64,
    /// The snapshot's validity epoch deployed last.
    #[serde(default)]
    pub(crate) validity_epoch: i64,
    /// True when the last deployment to the environment failed (it is retried).
    pub(crate) pending: bool,
    /// Why the last attempt failed.
    pub(crate) error: Option<String>,
    /// How many public keys the target reported serving.
    #[serde(default)]
    pub(crate) keys: usize,
    /// What records written before the count held: the thumbprints served (read, never
    /// written: a receipt's size does not grow with the registry).
    #[serde(default, skip_serializing)]
    pub(crate) thumbprints: Vec<String>,
}

impl DeployRec {
    /// How many public keys the environment served at its last deployment.
    pub(crate) fn key_count(&self) -> usize {
        self.keys.max(self.thumbprints.len())
    }
}

/// One audit log entry: who did what, when. Never key material.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub(crate) struct AuditRec {
    pub(crate) v: u32,
    /// RFC 3339 UTC time.
    pub(crate) at: String,
    /// The username (a system actor's name for the engine's own work).
    pub(crate) actor: String,
    /// What was done, e.g. `jwk.create`.
    pub(crate) action: String,
    /// The project, if any.
    pub(crate) project: Option<String>,
    /// The object, e.g. the JWK name.
    pub(crate) target: String,
}
