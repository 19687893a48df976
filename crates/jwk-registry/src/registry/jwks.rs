//! JWK operations: create (every sourceType, built by `sources.rs`), generate, update
//! (rename, detach), get, list and delete (re-sync of URL sources: `resync.rs`). Checks run in the product's order, with its messages.

use jwk_core::Jwk;
use serde::Serialize;

use super::Pending;
use super::approval::pending_against;
use super::command::{JwkUpdate, NewJwk, Source};
use super::sources::public_view;
use super::{Actor, Change, Registry, name_in, new_id};
use crate::error::{RegistryError, Result};
use crate::model::{FORMAT, JwkRec, SourceRec, SyncRec, encode, keys, load, load_all};
use crate::perm::{SECRETS_DEPLOY, SECRETS_MANAGE, SECRETS_VIEW};
use crate::store::Txn;

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
    pub state: crate::deploy::KeyState,
    /// When it is served (`nbf`, `exp`: Unix seconds; its own, narrowed by its `x5c`
    /// certificate's validity).
    #[serde(flatten)]
    pub validity_window: crate::deploy::Validity,
    /// `valid`, `not_yet_valid` (before its `nbf`: served from then on) or `expired` (at or
    /// past its `exp`: served nowhere any more).
    pub validity: crate::deploy::ValidityStatus,
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
    pub follow: Option<super::RefreshPolicy>,
    /// URL, when followed: how its fetches go (`kids` is the kid served; empty once
    /// withdrawn past the stale limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follow_status: Option<super::JwkSetStatus>,
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
    /// Reads a JWK record by name: (record, record revision, name-index revision).
    pub(crate) fn find_jwk(&self, project: &str, name: &str) -> Result<Option<(JwkRec, u64, u64)>> {
        let Some(idx) = self.store().get(keys::jwk_name(project, name).as_bytes())? else {
            return Ok(None);
        };
        let id = String::from_utf8_lossy(&idx.value).into_owned();
        Ok(load::<JwkRec>(&**self.store(), &keys::jwk(project, &id))?
            .map(|(rec, rev)| (rec, rev, idx.revision)))
    }

    /// Opens a record's sealed key.
    pub(crate) fn open_jwk(&self, rec: &JwkRec) -> Result<Jwk> {
        let plain = self.key().open(&rec.sealed_jwk)?;
        let text = std::str::from_utf8(&plain).map_err(|_| {
            RegistryError::internal(format!("the stored JWK {} is not text", rec.name))
        })?;
        jwk_core::select_from_json(text, None).map_err(|e| {
            RegistryError::internal(format!("the stored JWK {} does not parse: {e}", rec.name))
        })
    }

    /// Checks name emptiness, length and uniqueness, in the product's order.
    pub(super) fn check_new_name(&self, project: &str, name: &str) -> Result<String> {
        let name = name_in("JWK", name)?
            .ok_or_else(|| RegistryError::bad_request("JWK name can not be empty!"))?;
        not_a_route(name)?;
        if self.find_jwk(project, name)?.is_some() {
            return Err(already_exists_create(name));
        }
        Ok(name.to_owned())
    }

    /// Stores a new JWK; the revision it was committed at.
    fn insert_jwk(&self, actor: &Actor, project: &str, new: JwkToStore<'_>) -> Result<u64> {
        let JwkToStore {
            perms,
            name,
            description,
            jwk,
            source,
            action,
            validity,
            state,
        } = new;
        let id = new_id()?;
        let rec = JwkRec {
            v: FORMAT,
            id: id.clone(),
            name: name.to_owned(),
            description: description.clone().unwrap_or_default(),
            public_jwk: public_view(jwk),
            sealed_jwk: self.key().seal(jwk.to_json().as_bytes())?,
            private: jwk.is_private(),
            source,
            detached_at: None,
            state,
            validity,
        };
        let mut txn = Txn::new()
            .absent(keys::jwk_name(project, name))
            .put(keys::jwk_name(project, name), id.clone())
            .put(keys::jwk(project, &id), encode(&rec));
        if rec.source.as_ref().is_some_and(|s| s.source_type == "URL") {
            txn = txn.put(
                keys::sync(project, &id),
                encode(&super::resync::fetched_now()),
            );
        }
        let txn = self.approved_if(txn, perms, SECRETS_DEPLOY)?;
        let txn = self.audit_jwk(txn, actor, action, project, name, &[&id])?;
        self.commit(txn, || already_exists_create(name))
    }

    /// Create JWK from every source (generated keys included). Needs SECRETS+MANAGE; deploys
    /// with SECRETS+DEPLOY_UNDEPLOY.
    pub(super) fn create_jwk(&self, actor: &Actor, project: &str, new: &NewJwk) -> Result<Change> {
        let perms = self.require(actor, project, SECRETS_MANAGE)?;
        if matches!(
            new.source,
            Source::Url {
                follow: Some(_),
                ..
            }
        ) {
            // A followed key is deployed as its URL publishes it.
            self.require(actor, project, SECRETS_DEPLOY)?;
        }
        let name = self.check_new_name(project, &new.name)?;
        let (jwk, source) = self.build_from_source(project, new)?;
        let committed = self.insert_jwk(
            actor,
            project,
            JwkToStore {
                perms: &perms,
                name: &name,
                description: &new.description,
                jwk: &jwk,
                source: Some(source),
                action: match new.source {
                    Source::Generate { .. } => "jwk.generate",
                    _ => "jwk.create",
                },
                validity: checked_validity(new.validity)?,
                state: new.state,
            },
        )?;
        Ok(self.change_to_deploy(&perms, SECRETS_DEPLOY, Some(committed)))
    }

    /// Set JWK state (SECRETS+MANAGE; deployed, approved, with SECRETS+DEPLOY_UNDEPLOY). Its
    /// source stays attached: a state is not a change of the key.
    pub(super) fn set_jwk_state(
        &self,
        actor: &Actor,
        project: &str,
        name: &str,
        state: crate::deploy::KeyState,
    ) -> Result<Change> {
        let perms = self.require(actor, project, SECRETS_MANAGE)?;
        let committed = self.commit_retrying(&format!("JWK (name: {name})"), || {
            let (mut rec, rev, _) = self.find_jwk(project, name)?.ok_or_else(|| {
                RegistryError::bad_request(format!(
                    "JWK (name: {name}) is not found! Try create operation."
                ))
            })?;
            if rec.state == state {
                return Ok(None);
            }
            rec.state = state;
            let txn = Txn::new()
                .at(keys::jwk(project, &rec.id), rev)
                .put(keys::jwk(project, &rec.id), encode(&rec));
            let txn = self.approved_if(txn, &perms, SECRETS_DEPLOY)?;
            self.audit_jwk(
                txn,
                actor,
                &format!("jwk.state.{}", state.as_str()),
                project,
                name,
                &[&rec.id],
            )
            .map(Some)
        })?;
        Ok(self.change_to_deploy(&perms, SECRETS_DEPLOY, committed))
    }

    /// Set JWK validity: its own `nbf` / `exp` (SECRETS+MANAGE; deployed, approved, with
    /// SECRETS+DEPLOY_UNDEPLOY). Its source stays attached.
    pub(super) fn set_jwk_validity(
        &self,
        actor: &Actor,
        project: &str,
        name: &str,
        validity: crate::deploy::Validity,
    ) -> Result<Change> {
        let perms = self.require(actor, project, SECRETS_MANAGE)?;
        let validity = checked_validity(validity)?;
        let committed = self.commit_retrying(&format!("JWK (name: {name})"), || {
            let (mut rec, rev, _) = self.find_jwk(project, name)?.ok_or_else(|| {
                RegistryError::bad_request(format!(
                    "JWK (name: {name}) is not found! Try create operation."
                ))
            })?;
            if rec.validity == validity {
                return Ok(None);
            }
            rec.validity = validity;
            let txn = Txn::new()
                .at(keys::jwk(project, &rec.id), rev)
                .put(keys::jwk(project, &rec.id), encode(&rec));
            let txn = self.approved_if(txn, &perms, SECRETS_DEPLOY)?;
            self.audit_jwk(txn, actor, "jwk.validity", project, name, &[&rec.id])
                .map(Some)
        })?;
        Ok(self.change_to_deploy(&perms, SECRETS_DEPLOY, committed))
    }

    /// Update JWK: rename and/or describe; detaches it from its source. Credentials refer to
    /// the JWK's id, so they keep pointing at it after a rename.
    pub(super) fn update_jwk(
        &self,
        actor: &Actor,
        project: &str,
        name: &str,
        req: &JwkUpdate,
    ) -> Result<Change> {
        let perms = self.require(actor, project, SECRETS_MANAGE)?;
        let missing = || {
            RegistryError::bad_request(format!(
                "JWK (name: {name}) is not found! Try create operation."
            ))
        };
        if self.find_jwk(project, name)?.is_none() {
            return Err(missing());
        }
        // A blank new name keeps the name.
        let new_name = name_in("JWK", req.name.as_deref().unwrap_or_default())?
            .unwrap_or(name)
            .to_owned();
        let renamed = new_name != name;
        if renamed {
            not_a_route(&new_name)?;
        }
        let committed = self.commit_retrying(&format!("JWK (name: {name})"), || {
            let (mut rec, rev, idx_rev) = self.find_jwk(project, name)?.ok_or_else(missing)?;
            let mut txn = Txn::new()
                .at(keys::jwk(project, &rec.id), rev)
                .at(keys::jwk_name(project, name), idx_rev);
            if renamed {
                let rotation = super::rotation::jwk_rotation_key(project, name);
                if self.store().get(rotation.as_bytes())?.is_some() {
                    return Err(RegistryError::bad_request(format!(
                        "JWK (name: {name}) has a rotation policy, which follows its name: remove the policy before renaming it!"
                    )));
                }
                if self.find_jwk(project, &new_name)?.is_some() {
                    return Err(RegistryError::bad_request(format!(
                        "JWK (name: {new_name}) is already exist!"
                    )));
                }
                txn = txn
                    .absent(keys::jwk_name(project, &new_name))
                    .delete(keys::jwk_name(project, name))
                    .put(keys::jwk_name(project, &new_name), rec.id.clone());
            }
            rec.name = new_name.clone();
            if let Some(d) = &req.description {
                rec.description = d.clone();
            }
            if rec.source.take().is_some() {
                rec.detached_at = Some(super::now_rfc3339());
            }
            let txn = txn
                .put(keys::jwk(project, &rec.id), encode(&rec))
                .delete(keys::jwk_follow(project, &rec.id));
            let txn = self.approved_if(txn, &perms, SECRETS_DEPLOY)?;
            self.audit_jwk(txn, actor, "jwk.update", project, &new_name, &[&rec.id])
                .map(Some)
        })?;
        Ok(self.change_to_deploy(&perms, SECRETS_DEPLOY, committed))
    }

    fn view(
        &self,
        project: &str,
        rec: &JwkRec,
        private: bool,
        pending: Option<Pending>,
        sync: Option<SyncRec>,
    ) -> Result<JwkView> {
        let jwk = self.open_jwk(rec)?;
        let window = rec.validity.intersect(super::certificate_validity(&jwk));
        let follow_status = match rec.source.as_ref().and_then(|s| s.follow) {
            Some(_) => Some(self.follow_status(project, &rec.id, jwk.params().kid.clone())?),
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
            thumbprint: (!matches!(jwk.key(), jwk_core::Key::Oct(_)))
                .then(|| crate::deploy::thumbprint(&jwk)),
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

    fn private_allowed(&self, perms: &[crate::perm::Permission], private: bool) -> Result<bool> {
        if private && !super::has(perms, SECRETS_MANAGE) {
            return Err(RegistryError::forbidden(
                "Private key material needs SECRETS+MANAGE permission!",
            ));
        }
        Ok(private)
    }

    /// The JWK `name` of `project` for a read: a read of what does not exist is a 404 (the
    /// product's changes answer 400).
    pub(super) fn jwk_to_read(&self, project: &str, name: &str) -> Result<JwkRec> {
        self.find_jwk(project, name)?
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
        let private = self.private_allowed(&perms, private)?;
        let rec = self.jwk_to_read(project, name)?;
        let pending = self.pending(&keys::jwk(project, &rec.id), &rec)?;
        let sync = load::<SyncRec>(&**self.store(), &keys::sync(project, &rec.id))?.map(|(s, _)| s);
        self.view(project, &rec, private, pending, sync)
    }

    /// List JWKs, sorted by name.
    pub fn list_jwks(&self, actor: &Actor, project: &str, private: bool) -> Result<Vec<JwkView>> {
        let perms = self.require(actor, project, SECRETS_VIEW)?;
        let private = self.private_allowed(&perms, private)?;
        // The approved copies in one scan, not one read per JWK.
        self.ensure_approval_layout()?;
        let approved: std::collections::HashMap<String, JwkRec> =
            load_all::<JwkRec>(&**self.store(), &keys::approved(&keys::jwks(project)))?
                .into_iter()
                .map(|(key, rec, _)| (key, rec))
                .collect();
        let mut syncs: std::collections::HashMap<String, SyncRec> =
            load_all::<SyncRec>(&**self.store(), &keys::syncs(project))?
                .into_iter()
                .map(|(key, rec, _)| (key, rec))
                .collect();
        let mut out = load_all::<JwkRec>(&**self.store(), &keys::jwks(project))?
            .into_iter()
            .map(|(key, rec, _)| {
                let pending = pending_against(approved.get(&keys::approved(&key)), &rec);
                let sync = syncs.remove(&keys::sync(project, &rec.id));
                self.view(project, &rec, private, pending, sync)
            })
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// Delete JWK: refused while a credential (of any project) uses it.
    pub(super) fn delete_jwk(&self, actor: &Actor, project: &str, name: &str) -> Result<Change> {
        let perms = self.require(actor, project, SECRETS_MANAGE)?;
        let committed = self.commit_retrying(&format!("JWK (name: {name})"), || {
            let Some((rec, rev, idx_rev)) = self.find_jwk(project, name)? else {
                return Err(RegistryError::bad_request(format!(
                    "JWK (name: {name}) is not found!"
                )));
            };
            let mut txn = Txn::new()
                .at(keys::jwk(project, &rec.id), rev)
                .at(keys::jwk_name(project, name), idx_rev);
            let super::credentials::CredentialScan { user, read } = self.credential_using(|_, cred| {
                cred.refs().any(|r| r.project == project && r.id == rec.id)
            })?;
            if let Some((username, cred_project)) = user {
                return Err(RegistryError::bad_request(format!(
                    "JWK (name: {name}) is used by credential (username: {username}) in project ({cred_project})! Remove it from the credential first."
                )));
            }
            // No credential may start using the JWK while it is being deleted.
            for (key, crev) in read {
                txn = txn.at(key, crev);
            }
            let txn = txn
                .delete(keys::jwk(project, &rec.id))
                .delete(keys::jwk_name(project, name))
                .delete(keys::sync(project, &rec.id))
                .delete(keys::jwk_follow(project, &rec.id))
                .delete(super::rotation::jwk_rotation_key(project, name));
            // Its history goes with it (the global audit log keeps every entry).
            let history = keys::jwk_history(project, &rec.id);
            let txn = self
                .store()
                .scan_revisions(history.as_bytes())?
                .into_iter()
                .fold(txn, |txn, (key, _)| txn.delete(key));
            let txn = self.approved_if(txn, &perms, SECRETS_DEPLOY)?;
            self.audit(txn, actor, "jwk.delete", Some(project), name)
                .map(Some)
        })?;
        Ok(self.change_to_deploy(&perms, SECRETS_DEPLOY, committed))
    }
}

/// The names under `…/jwks/` that are routes of their own (`POST …/jwks/generate/`): a JWK
/// of that name could not be read, updated or deleted by name, so none is given it.
pub const ROUTE_NAMES: &[&str] = &["generate", "from-certificate"];

fn not_a_route(name: &str) -> Result<()> {
    if ROUTE_NAMES.contains(&name) {
        return Err(RegistryError::bad_request(format!(
            "JWK name ({name}) is reserved: …/jwks/{name}/ is a route of the API!"
        )));
    }
    Ok(())
}

/// A JWK about to be stored.
struct JwkToStore<'a> {
    /// The actor's permissions in the project (a permitted actor's JWK is approved at once).
    perms: &'a [crate::perm::Permission],
    name: &'a str,
    description: &'a Option<String>,
    jwk: &'a Jwk,
    source: Option<SourceRec>,
    action: &'a str,
    /// Its own `nbf` / `exp`.
    validity: crate::deploy::Validity,
    /// Its state.
    state: crate::deploy::KeyState,
}

/// The latest `nbf` / `exp` accepted: 9999-12-31T23:59:59Z.
pub const MAX_NUMERIC_DATE: i64 = 253_402_300_799;

/// A validity a user gave: each bound a time from 1970 to 9999, `nbf` before `exp`.
pub(super) fn checked_validity(v: crate::deploy::Validity) -> Result<crate::deploy::Validity> {
    for (member, value) in [("nbf", v.not_before), ("exp", v.expires)] {
        if let Some(value) = value
            && !(0..=MAX_NUMERIC_DATE).contains(&value)
        {
            return Err(RegistryError::bad_request(format!(
                "JWK {member} ({value}) is out of range: give Unix seconds from 0 to {MAX_NUMERIC_DATE} (9999-12-31T23:59:59Z)!"
            )));
        }
    }
    if let (Some(nbf), Some(exp)) = (v.not_before, v.expires)
        && nbf >= exp
    {
        return Err(RegistryError::bad_request(format!(
            "JWK nbf ({nbf}) must be before its exp ({exp})!"
        )));
    }
    Ok(v)
}

fn already_exists_create(name: &str) -> RegistryError {
    RegistryError::bad_request(format!(
        "JWK (name: {name}) is already exist! Try update operation if want to change its value."
    ))
}
