//! Who acts: a person (an authenticated user, the admin among them) or the engine itself in
//! one of its system roles. A system actor may apply only its role's commands, changes only
//! the fields its work owns, and never approves a person's pending edit.

/// The background work of the engine, each a system actor with its own commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SystemRole {
    /// Refreshes remote JWK Sets and followed URL JWKs: records what a fetch gave.
    Refresh,
    /// Rotates credential slots and generated JWKs on their policies: generates, publishes,
    /// promotes and deletes their keys, and records the rotation's progress.
    Rotation,
    /// Redeploys environments that are behind (failed deployments, validity bounds).
    Reconcile,
}

impl SystemRole {
    /// The actor's name, as the audit log and histories show it: `system:refresh`,
    /// `system:rotation` or `system:reconcile`.
    pub fn username(self) -> &'static str {
        match self {
            SystemRole::Refresh => "system:refresh",
            SystemRole::Rotation => "system:rotation",
            SystemRole::Reconcile => "system:reconcile",
        }
    }
}

/// The prefix of system actors' names: no user may be named with it.
pub const SYSTEM_PREFIX: &str = "system:";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    User { admin: bool },
    System(SystemRole),
}

/// Who is acting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    username: String,
    kind: Kind,
}

impl Actor {
    /// A user (not the admin) named `username`: what `Registry::authenticate` gives for a
    /// user's token, for hosts that authenticate their users themselves.
    pub fn user(username: impl Into<String>) -> Actor {
        Actor {
            username: username.into(),
            kind: Kind::User { admin: false },
        }
    }

    /// An authenticated user, the admin when `admin`.
    pub(crate) fn authenticated(username: String, admin: bool) -> Actor {
        Actor {
            username,
            kind: Kind::User { admin },
        }
    }

    /// The engine acting in `role`.
    pub fn system(role: SystemRole) -> Actor {
        Actor {
            username: role.username().to_owned(),
            kind: Kind::System(role),
        }
    }

    /// The name the audit log records.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// True for the admin user, who may do everything everywhere.
    pub fn is_admin(&self) -> bool {
        self.kind == Kind::User { admin: true }
    }

    /// The role of a system actor; `None` for a person.
    pub fn system_role(&self) -> Option<SystemRole> {
        match self.kind {
            Kind::System(role) => Some(role),
            Kind::User { .. } => None,
        }
    }

    /// True for a system actor.
    pub fn is_system(&self) -> bool {
        self.system_role().is_some()
    }
}
