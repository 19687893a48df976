//! Records of remote JWK Sets: the definition (written by users), the keys a set serves
//! (content: a change deploys) and how its fetches go (not content). The status record is
//! also the fetch status of a followed URL JWK.

use serde::{Deserialize, Serialize};

use crate::types::{RefreshPolicy, SkippedKey};

/// A remote JWK Set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JwkSetRec {
    pub(crate) v: u32,
    pub(crate) name: String,
    pub(crate) url: String,
    /// (connect ms, read ms, size bytes).
    pub(crate) url_options: (u64, u64, u64),
    pub(crate) policy: RefreshPolicy,
    pub(crate) created_at: String,
}

/// The keys a set serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SetKeysRec {
    pub(crate) v: u32,
    pub(crate) keys: Vec<SetKeyRec>,
    /// True once the stale limit passed and the keys were withdrawn.
    pub(crate) withdrawn: bool,
}

/// One served key: its public JSON, and since when it is gone from the set (served until
/// the grace period ends).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SetKeyRec {
    pub(crate) kid: Option<String>,
    pub(crate) thumbprint: String,
    pub(crate) jwk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) removed_at: Option<i64>,
}

impl SetKeyRec {
    /// What the set's diff calls the key: its kid, or its thumbprint when it has none.
    pub(crate) fn identity(&self) -> String {
        self.kid
            .clone()
            .unwrap_or_else(|| format!("(no kid) {}", self.thumbprint))
    }
}

/// How a set's (or a followed JWK's) fetches go (times in Unix milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SetStatusRec {
    pub(crate) v: u32,
    pub(crate) last_attempt: Option<i64>,
    pub(crate) last_success: Option<i64>,
    pub(crate) etag: Option<String>,
    pub(crate) last_modified: Option<String>,
    /// When the set is next due (0: now).
    pub(crate) next_refresh: i64,
    /// The interval in force (max-age within the policy's bounds), in seconds.
    pub(crate) interval_seconds: u64,
    pub(crate) failures: u32,
    pub(crate) error_code: Option<String>,
    pub(crate) error_message: Option<String>,
    /// Since when fetches fail (the first failure after the last success).
    pub(crate) stale_since: Option<i64>,
    #[serde(default)]
    pub(crate) skipped: Vec<SkippedKey>,
    /// A followed JWK: withdrawn (served nowhere) past the stale limit.
    #[serde(default)]
    pub(crate) withdrawn: bool,
}
