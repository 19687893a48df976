//! Reads of remote JWK Sets and followed URL JWKs: their views and status, and what the
//! refresh controller asks: what is followed, what a fetch is to be, and the fetch itself.

use serde::Serialize;

use crate::actor::{Actor, SystemRole};
use crate::command::FetchOutcome;
use crate::error::{RegistryError, Result};
use crate::perm::SECRETS_VIEW;
use crate::plan::rfc3339_ms;
use crate::records::{
    JwkSetRec, SetKeyRec, SetKeysRec, SetStatusRec, keys, load, load_all, name_of,
};
use crate::registry::Registry;
use crate::store::Store;
use crate::types::{FetchPlan, Followed, RefreshPolicy, SkippedKey};

/// A remote JWK Set as Get and List show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JwkSetView {
    /// The set's name.
    pub name: String,
    /// The JWKS URL.
    pub url: String,
    /// Connect timeout, milliseconds.
    pub url_option_connect_timeout: u64,
    /// Read timeout, milliseconds.
    pub url_option_read_timeout: u64,
    /// Size limit, bytes.
    pub url_option_size_limit: u64,
    /// The refresh policy.
    pub refresh: RefreshPolicy,
    /// How its fetches go.
    pub status: JwkSetStatus,
}

/// The status of a remote JWK Set (times in RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JwkSetStatus {
    /// The kids (or, for a key without one, "(no kid) " and its thumbprint) served now,
    /// in the set's order; keys in their grace period last.
    pub kids: Vec<String>,
    /// Of those, the ones gone from the set and served until their grace period ends.
    pub grace_kids: Vec<String>,
    /// When a fetch was last tried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_attempt: Option<String>,
    /// When a fetch last succeeded (or was answered 304 Not Modified).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success: Option<String>,
    /// When the set is next fetched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_refresh: Option<String>,
    /// The refresh interval in force, seconds (max-age within the policy's bounds).
    pub interval_seconds: u64,
    /// The ETag sent back on the next fetch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The Last-Modified sent back on the next fetch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// Failed fetches since the last success.
    pub consecutive_failures: u32,
    /// The last failure's stable code, while failing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The last failure's message, while failing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Since when fetches fail (the last good set is served until the stale limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_since: Option<String>,
    /// True once the stale limit passed: the set serves no key until a fetch succeeds.
    pub withdrawn: bool,
    /// Entries of the last fetched set that are not served, and why.
    pub skipped: Vec<SkippedKey>,
}

/// The status as views show it, with the kids served.
fn status_view(
    status: SetStatusRec,
    kids: Vec<String>,
    grace_kids: Vec<String>,
    withdrawn: bool,
) -> JwkSetStatus {
    let ms = |t: Option<i64>| t.and_then(rfc3339_ms);
    JwkSetStatus {
        kids,
        grace_kids,
        last_attempt: ms(status.last_attempt),
        last_success: ms(status.last_success),
        next_refresh: ms(Some(status.next_refresh).filter(|t| *t > 0)),
        interval_seconds: status.interval_seconds,
        etag: status.etag,
        last_modified: status.last_modified,
        consecutive_failures: status.failures,
        error_code: status.error_code,
        error_message: status.error_message,
        stale_since: ms(status.stale_since),
        withdrawn,
        skipped: status.skipped,
    }
}

/// The follow status of a followed JWK, as its view shows it.
pub(crate) fn follow_status(
    store: &dyn Store,
    project: &str,
    id: &str,
    kid: Option<String>,
) -> Result<JwkSetStatus> {
    let status = load::<SetStatusRec>(store, &keys::jwk_follow(project, id))?
        .map(|(s, _)| s)
        .unwrap_or_default();
    let withdrawn = status.withdrawn;
    let kids = if withdrawn {
        Vec::new()
    } else {
        kid.into_iter().collect()
    };
    Ok(status_view(status, kids, Vec::new(), withdrawn))
}

impl Registry {
    /// The remote JWK Sets of a project, sorted by name (SECRETS+VIEW).
    pub fn list_jwk_sets(&self, actor: &Actor, project: &str) -> Result<Vec<JwkSetView>> {
        self.require(actor, project, SECRETS_VIEW)?;
        load_all::<JwkSetRec>(&**self.store(), &keys::jwk_sets(project))?
            .into_iter()
            .map(|(_, rec, _)| self.set_view(project, rec))
            .collect()
    }

    /// One remote JWK Set (SECRETS+VIEW); 404 when there is none of that name.
    pub fn get_jwk_set(&self, actor: &Actor, project: &str, name: &str) -> Result<JwkSetView> {
        self.require(actor, project, SECRETS_VIEW)?;
        let (rec, _) = load::<JwkSetRec>(&**self.store(), &keys::jwk_set(project, name))?
            .ok_or_else(|| {
                RegistryError::not_found(format!("JWK Set (name: {name}) is not found!"))
            })?;
        self.set_view(project, rec)
    }

    fn set_view(&self, project: &str, rec: JwkSetRec) -> Result<JwkSetView> {
        let store = &**self.store();
        let served = load::<SetKeysRec>(store, &keys::jwk_set_keys(project, &rec.name))?
            .map(|(k, _)| k)
            .unwrap_or_default();
        let status = load::<SetStatusRec>(store, &keys::jwk_set_status(project, &rec.name))?
            .map(|(s, _)| s)
            .unwrap_or_default();
        let kids = served.keys.iter().map(SetKeyRec::identity).collect();
        let grace_kids = served
            .keys
            .iter()
            .filter(|k| k.removed_at.is_some())
            .map(SetKeyRec::identity)
            .collect();
        Ok(JwkSetView {
            url_option_connect_timeout: rec.url_options.0,
            url_option_read_timeout: rec.url_options.1,
            url_option_size_limit: rec.url_options.2,
            refresh: rec.policy,
            status: status_view(status, kids, grace_kids, served.withdrawn),
            name: rec.name,
            url: rec.url,
        })
    }

    /// What is followed in the store: every remote set and every followed URL JWK, with its
    /// refresh policy (for the refresh controller).
    pub fn followed(&self) -> Result<Vec<(Followed, RefreshPolicy)>> {
        let store = &**self.store();
        let sets = load_all::<JwkSetRec>(store, keys::ALL_JWK_SETS)?
            .into_iter()
            .filter_map(|(key, rec, _)| {
                let (project, name) = keys::jwk_set_of(&key)?;
                Some((Followed::Set { project, name }, rec.policy))
            });
        self.layout.ensure(store)?;
        let jwks = load_all::<RefreshPolicy>(store, crate::records::index::FOLLOWED)?
            .into_iter()
            .filter_map(|(key, policy, _)| {
                let (project, id) = key
                    .strip_prefix(crate::records::index::FOLLOWED)?
                    .split_once('/')?;
                Some((
                    Followed::Jwk {
                        project: name_of(project),
                        id: id.to_owned(),
                    },
                    policy,
                ))
            });
        Ok(sets.chain(jwks).collect())
    }

    /// What a fetch of `source` is to be, as its definition stands now; `None` when it is no
    /// longer followed (deleted, detached).
    pub fn fetch_plan(&self, source: &Followed) -> Result<Option<FetchPlan>> {
        let actor = Actor::system(SystemRole::Refresh);
        crate::handlers::fetch_plan(&self.ctx(&actor), source)
    }

    /// Fetches what `plan` says, in one of the registry's fetch slots (a fetch beyond
    /// `max_concurrent_fetches` fails at once), with the server's bounds and SSRF guard.
    /// Blocking: run it off the async workers.
    pub fn fetch_followed(&self, plan: &FetchPlan) -> FetchOutcome {
        let actor = Actor::system(SystemRole::Refresh);
        crate::handlers::fetch(&self.ctx(&actor), plan)
    }
}
