//! Permissions per user and project: SECRETS and IDENTITY, each VIEW, MANAGE, DEPLOY_UNDEPLOY.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What a permission is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Area {
    /// JWKs, certificates, keys, keystores.
    #[serde(rename = "SECRETS")]
    Secrets,
    /// Credentials.
    #[serde(rename = "IDENTITY")]
    Identity,
}

/// What a permission allows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
pub enum Level {
    /// Read.
    #[serde(rename = "VIEW")]
    View,
    /// Create, change, delete.
    #[serde(rename = "MANAGE")]
    Manage,
    /// Deploy changes to the environments.
    #[serde(rename = "DEPLOY_UNDEPLOY")]
    DeployUndeploy,
}

/// One permission, written `SECRETS+MANAGE`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Permission {
    /// The area.
    pub area: Area,
    /// The level.
    pub level: Level,
}

impl Permission {
    /// `area+level`.
    pub const fn new(area: Area, level: Level) -> Self {
        Permission { area, level }
    }

    /// Parses `SECRETS+MANAGE` and the like.
    pub fn parse(text: &str) -> Option<Permission> {
        let (a, l) = text.split_once('+')?;
        let area = match a {
            "SECRETS" => Area::Secrets,
            "IDENTITY" => Area::Identity,
            _ => return None,
        };
        let level = match l {
            "VIEW" => Level::View,
            "MANAGE" => Level::Manage,
            "DEPLOY_UNDEPLOY" => Level::DeployUndeploy,
            _ => return None,
        };
        Some(Permission { area, level })
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let a = match self.area {
            Area::Secrets => "SECRETS",
            Area::Identity => "IDENTITY",
        };
        let l = match self.level {
            Level::View => "VIEW",
            Level::Manage => "MANAGE",
            Level::DeployUndeploy => "DEPLOY_UNDEPLOY",
        };
        write!(f, "{a}+{l}")
    }
}

impl Serialize for Permission {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Permission {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Permission::parse(&s).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "\"{s}\" is not a permission: use SECRETS or IDENTITY + VIEW, MANAGE or DEPLOY_UNDEPLOY"
            ))
        })
    }
}

/// SECRETS+VIEW.
pub const SECRETS_VIEW: Permission = Permission::new(Area::Secrets, Level::View);
/// SECRETS+MANAGE.
pub const SECRETS_MANAGE: Permission = Permission::new(Area::Secrets, Level::Manage);
/// SECRETS+DEPLOY_UNDEPLOY.
pub const SECRETS_DEPLOY: Permission = Permission::new(Area::Secrets, Level::DeployUndeploy);
/// IDENTITY+VIEW.
pub const IDENTITY_VIEW: Permission = Permission::new(Area::Identity, Level::View);
/// IDENTITY+MANAGE.
pub const IDENTITY_MANAGE: Permission = Permission::new(Area::Identity, Level::Manage);
/// IDENTITY+DEPLOY_UNDEPLOY.
pub const IDENTITY_DEPLOY: Permission = Permission::new(Area::Identity, Level::DeployUndeploy);
