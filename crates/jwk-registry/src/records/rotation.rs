//! Records of rotations (a policy and where it stands, per slot or generated JWK) and of
//! leases (which node does a piece of background work).

use serde::{Deserialize, Serialize};

use crate::types::{Removal, RotationWait};

/// A rotation: its holder, its policy and its progress.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct RotationRec {
    pub(crate) v: u32,
    pub(crate) project: String,
    /// The credential, for a slot's rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) username: Option<String>,
    /// `validation` or `encryption`, for a slot's rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) slot: Option<String>,
    /// The rotated JWK's name, for a JWK's rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) jwk: Option<String>,
    pub(crate) key_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) curve: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) key_size: Option<usize>,
    pub(crate) use_type: String,
    pub(crate) algorithm: String,
    pub(crate) period_seconds: u64,
    pub(crate) lead_seconds: u64,
    pub(crate) overlap_seconds: u64,
    pub(crate) max_token_lifetime_seconds: u64,
    pub(crate) consumer_cache_seconds: u64,
    pub(crate) due: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) next_jwk: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) served_since: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) waiting: Option<RotationWait>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) last_promotion: Option<i64>,
    pub(crate) removals: Vec<Removal>,
}

/// A lease: the node holding it, until when (Unix ms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct LeaseRec {
    pub(crate) v: u32,
    pub(crate) holder: String,
    pub(crate) until_ms: i64,
}
