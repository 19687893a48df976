//! JWK reads: Get and List (public parts unless private material is asked for and allowed),
//! with each JWK's source, validity, approval and follow status.

use serde::Serialize;

use super::page::{Cursor, DEFAULT_PAGE, PAGE_SCAN, Page, all_pages, check_limit, order, walk};
use super::sets::follow_status;
use crate::actor::Actor;
use crate::error::{RegistryError, Result};
use crate::perm::{Permission, SECRETS_MANAGE, SECRETS_VIEW};
use crate::plan::has;
use crate::records::{JwkRec, SyncRec, index, keys, load};
use crate::registry::Registry;
use crate::types::{KeyState, Pending, RefreshPolicy, Validity, ValidityStatus};

pub use super::sets::JwkSetStatus;

/// A JWK as Get and List show it.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JwkView {
    /// Name.
    pub name: String,
    /// Description.
    pub description: String,
    /// The key as canonical JSON (members in the canonical order, as the JWKS writes them):
    /// public members only, unless private material was asked for and allowed.
    pub jwk: Box<serde_json::value::RawValue>,
    /// SHA-256 thumbprint; none for an `oct` key, whose thumbprint is a hash of its secret
    /// (a weak secret could be found from it offline).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbprint: Option<String>,
    /// The source type, while attached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
    /// `SIGNATURE` or `ENCRYPTION`: the JWK's `use`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub use_type: Option<String>,
    /// The JWK's `alg`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub algorithm: Option<String>,
    /// Where the key comes from, while attached.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<SourceView>,
    /// True once an update (or the deletion of its secret) detached the JWK from its source.
    pub detached: bool,
    /// When it was detached (RFC 3339; unknown for JWKs detached before this was recorded).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detached_at: Option<String>,
    /// `pending`, `active`, `retired` or `disabled` (as saved).
    pub state: KeyState,
    /// When it is served (`nbf`, `exp`: Unix seconds; its own, narrowed by its `x5c`
    /// certificate's validity).
    #[serde(flatten)]
    pub validity_window: Validity,
    /// `valid`, `not_yet_valid` (before its `nbf`: served from then on) or `expired` (at or
    /// past its `exp`: served nowhere any more).
    pub validity: ValidityStatus,
    /// Whether the environments serve the JWK as saved (`false` until a user holding
    /// SECRETS+DEPLOY_UNDEPLOY approves a change by one who does not).
    pub deployed: bool,
    /// What is saved and not deployed, when not `deployed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
}

/// A JWK's source as Get and List show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceView {
    /// URL, COPY_PASTE, CERTIFICATE, PUBLIC_KEY, PRIVATE_KEY, KEYSTORE or GENERATE.
    #[serde(rename = "type")]
    pub source_type: String,
    /// URL: where it is fetched from.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// URL: the fetch options in force.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url_options: Option<UrlOptionsView>,
    /// URL and COPY_PASTE: the kid chosen from a set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// URL: the last fetch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_sync: Option<SyncView>,
    /// CERTIFICATE, PUBLIC_KEY, PRIVATE_KEY, KEYSTORE: the secret's name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The secret's environment.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub environment_name: Option<String>,
    /// KEYSTORE: the entry's alias.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias_name: Option<String>,
    /// URL: the refresh policy it is followed with, when followed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow: Option<RefreshPolicy>,
    /// URL, when followed: how its fetches go (`kids` is the kid served; empty once
    /// withdrawn past the stale limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_status: Option<JwkSetStatus>,
}

/// The fetch options of a URL source.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UrlOptionsView {
    /// Connect timeout, ms.
    pub connect_timeout: u64,
    /// Read timeout, ms.
    pub read_timeout: u64,
    /// Size limit, bytes.
    pub size_limit: u64,
}

/// The last fetch of a URL source.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncView {
    /// When (RFC 3339).
    pub at: String,
    /// "fetched", "not modified" or "failed: <why>".
    pub result: String,
}

impl JwkView {
    /// [`JwkView::jwk`] parsed, to read its members.
    pub fn jwk_value(&self) -> serde_json::Value {
        // The text was checked as JSON when the view was made.
        serde_json::from_str(self.jwk.get()).unwrap_or(serde_json::Value::Null)
    }
}

impl PartialEq for JwkView {
    fn eq(&self, other: &JwkView) -> bool {
        (
            &self.name,
            &self.description,
            self.jwk.get(),
            &self.thumbprint,
            &self.source_type,
            (&self.use_type, &self.algorithm, &self.source),
            (self.detached, &self.detached_at, self.state),
            (self.validity_window, self.validity),
            self.deployed,
            self.pending,
        ) == (
            &other.name,
            &other.description,
            other.jwk.get(),
            &other.thumbprint,
            &other.source_type,
            (&other.use_type, &other.algorithm, &other.source),
            (other.detached, &other.detached_at, other.state),
            (other.validity_window, other.validity),
            other.deployed,
            other.pending,
        )
    }
}

impl Eq for JwkView {}

impl Registry {
    fn view(
        &self,
        project: &str,
        rec: &JwkRec,
        private: bool,
        pending: Option<Pending>,
        sync: Option<SyncRec>,
    ) -> Result<JwkView> {
        let jwk = rec.open(&self.key)?;
        let window = rec.validity.intersect(Validity::of_certificate(&jwk));
        let follow_status = match rec.source.as_ref().and_then(|s| s.follow) {
            Some(_) => Some(follow_status(
                &**self.store(),
                project,
                &rec.id,
                jwk.params().kid.clone(),
            )?),
            None => None,
        };
        let params = jwk.params();
        let use_type = params
            .key_use
            .as_ref()
            .and_then(|u| jwk_core::Usage::parse(u.as_str()))
            .map(|u| u.as_str().to_owned());
        let algorithm = params.alg.clone();
        // Written from the key itself, so every answer is canonical (records from before
        // the canonical public view included).
        let text = if private {
            jwk.to_json()
        } else {
            jwk.to_disclosable_json()
        };
        Ok(JwkView {
            name: rec.name.clone(),
            description: rec.description.clone(),
            jwk: serde_json::value::RawValue::from_string(text).map_err(|e| {
                RegistryError::internal(format!(
                    "JWK (name: {}) has a stored public JWK that is not JSON: {e}",
                    rec.name
                ))
            })?,
            thumbprint: crate::deploy::shown_thumbprint(&jwk),
            source_type: rec.source.as_ref().map(|s| s.source_type.clone()),
            use_type,
            algorithm,
            source: rec.source.as_ref().map(|s| SourceView {
                source_type: s.source_type.clone(),
                url: s.url.clone(),
                url_options: s.url_options.map(|(connect, read, size)| UrlOptionsView {
                    connect_timeout: connect,
                    read_timeout: read,
                    size_limit: size,
                }),
                kid: s.kid.clone(),
                follow: s.follow,
                follow_status: follow_status.clone(),
                last_sync: sync.map(|s| SyncView {
                    at: s.at,
                    result: s.result,
                }),
                name: s.name.clone(),
                environment_name: s.environment_name.clone(),
                alias_name: s.alias_name.clone(),
            }),
            detached: rec.source.is_none(),
            detached_at: rec.detached_at.clone(),
            state: rec.state,
            validity_window: window,
            validity: window.status(self.now_secs()),
            deployed: pending.is_none(),
            pending,
        })
    }

    /// The JWK `name` of `project` for a read: a read of what does not exist is a 404 (the
    /// product's changes answer 400).
    pub(crate) fn jwk_to_read(&self, project: &str, name: &str) -> Result<JwkRec> {
        crate::plan::find_jwk(&**self.store(), project, name)?
            .map(|(rec, _, _)| rec)
            .ok_or_else(|| RegistryError::not_found(format!("JWK (name: {name}) is not found!")))
    }

    /// Get JWK: public parts unless `private` is asked for and the actor holds MANAGE.
    pub fn get_jwk(
        &self,
        actor: &Actor,
        project: &str,
        name: &str,
        private: bool,
    ) -> Result<JwkView> {
        let perms = self.require(actor, project, SECRETS_VIEW)?;
        let private = private_allowed(&perms, private)?;
        let rec = self.jwk_to_read(project, name)?;
        let key = keys::jwk(project, &rec.id);
        let pending = self.pending(&key, &rec)?;
        let sync = load::<SyncRec>(&**self.store(), &keys::sync(project, &rec.id))?.map(|(s, _)| s);
        self.view(project, &rec, private, pending, sync)
    }

    /// List JWKs, in the order of their names (see [`JwkQuery`]): every page of
    /// [`Registry::list_jwks_page`].
    pub fn list_jwks(&self, actor: &Actor, project: &str, private: bool) -> Result<Vec<JwkView>> {
        all_pages(|after| {
            let query = JwkQuery {
                after,
                ..JwkQuery::default()
            };
            self.list_jwks_page(actor, project, private, &query)
        })
    }

    /// One page of JWKs: those after `query.after` in the order of their names, at most
    /// `query.limit` (1 to [`MAX_PAGE`]), filtered, and where the next page begins. A page
    /// reads at most [`PAGE_SCAN`] index entries: a filter that matches little of a large
    /// project may answer fewer JWKs (even none) with a `next` to go on from. The order is
    /// the store's order of names: bytes, with `/` written `%2F` and `%` written `%25`.
    pub fn list_jwks_page(
        &self,
        actor: &Actor,
        project: &str,
        private: bool,
        query: &JwkQuery,
    ) -> Result<Page<JwkView>> {
        let perms = self.require(actor, project, SECRETS_VIEW)?;
        let private = private_allowed(&perms, private)?;
        let limit = query.checked_limit()?;
        let store = &**self.store();
        self.layout.ensure(store)?;
        let view = |id: &str| -> Result<Option<JwkView>> {
            let key = keys::jwk(project, id);
            let Some((rec, _)) = load::<JwkRec>(store, &key)? else {
                return Ok(None); // deleted since the index was read
            };
            if !query.matches(&rec) {
                return Ok(None);
            }
            let pending = self.pending(&key, &rec)?;
            let sync = load::<SyncRec>(store, &keys::sync(project, id))?.map(|(s, _)| s);
            self.view(project, &rec, private, pending, sync).map(Some)
        };
        // A kid or a thumbprint names few JWKs: read them through their index.
        let by = match (&query.kid, &query.thumbprint) {
            (Some(kid), _) => Some(index::by_kid(kid, Some(project))),
            (None, Some(t)) => Some(index::by_thumbprint(t, Some(project))),
            (None, None) => None,
        };
        if let Some(prefix) = by {
            let mut items = Vec::new();
            for id in index::found(store, &prefix, PAGE_SCAN)? {
                if let Some(v) = view(&id)?
                    && query
                        .after
                        .as_deref()
                        .is_none_or(|a| order(&v.name) > order(a))
                {
                    items.push(v);
                }
            }
            items.sort_by_cached_key(|v| order(&v.name));
            let next = (items.len() > limit).then(|| items[limit - 1].name.clone());
            items.truncate(limit);
            return Ok(Page { items, next });
        }
        let ids = |_: &str, id: &[u8]| view(&String::from_utf8_lossy(id));
        walk(
            store,
            (&keys::jwk_names(project), Cursor::Name),
            query.name_prefix.as_deref(),
            query.after.as_deref(),
            limit,
            ids,
        )
    }
}

fn private_allowed(perms: &[Permission], private: bool) -> Result<bool> {
    if private && !has(perms, SECRETS_MANAGE) {
        return Err(RegistryError::forbidden(
            "Private key material needs SECRETS+MANAGE permission!",
        ));
    }
    Ok(private)
}

/// Which JWKs a page lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwkQuery {
    /// Only names that start with this.
    pub name_prefix: Option<String>,
    /// Only JWKs with this kid.
    pub kid: Option<String>,
    /// Only JWKs with this SHA-256 thumbprint.
    pub thumbprint: Option<String>,
    /// Only JWKs in this state (as saved).
    pub state: Option<KeyState>,
    /// The cursor: the page begins after this name (a `next` of the page before).
    pub after: Option<String>,
    /// The most JWKs on the page, 1 to [`MAX_PAGE`].
    pub limit: usize,
}

impl Default for JwkQuery {
    fn default() -> JwkQuery {
        JwkQuery {
            name_prefix: None,
            kid: None,
            thumbprint: None,
            state: None,
            after: None,
            limit: DEFAULT_PAGE,
        }
    }
}

impl JwkQuery {
    fn checked_limit(&self) -> Result<usize> {
        check_limit(self.limit)
    }

    /// Whether a saved record passes the filters (the name prefix, the state, and both of
    /// kid and thumbprint when both are given).
    fn matches(&self, rec: &JwkRec) -> bool {
        if self
            .name_prefix
            .as_deref()
            .is_some_and(|p| !rec.name.starts_with(p))
            || self.state.is_some_and(|s| s != rec.state)
        {
            return false;
        }
        if self.kid.is_none() && self.thumbprint.is_none() {
            return true;
        }
        let (kid, thumbprint) = index::found_by(rec);
        let kid_ok = self.kid.is_none() || self.kid == kid;
        let thumbprint_ok = self.thumbprint.is_none() || self.thumbprint == thumbprint;
        kid_ok && thumbprint_ok
    }
}
