//! Re-sync of a URL-sourced JWK: fetched again with its stored options, kid and ETag, and
//! reported by kid (added, removed, changed).

use jwk_core::Usage;
use serde::Serialize;

use super::sources::public_view;
use super::{Actor, Change, Registry};
use crate::error::{RegistryError, Result};
use crate::model::{encode, keys};
use crate::perm::{SECRETS_DEPLOY, SECRETS_MANAGE};
use crate::store::Txn;

/// What a re-sync of a URL source found, by kid.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ResyncReport {
    /// Kids in the new set and not in the old.
    pub added: Vec<String>,
    /// Kids in the old set and not in the new.
    pub removed: Vec<String>,
    /// Kids in both whose key changed.
    pub changed: Vec<String>,
    /// True when the server said 304 Not Modified.
    pub not_modified: bool,
}

/// The sync record of a fetch that succeeded now.
pub(super) fn fetched_now() -> crate::model::SyncRec {
    crate::model::SyncRec {
        v: crate::model::FORMAT,
        at: super::now_rfc3339(),
        result: "fetched".to_owned(),
    }
}

impl Registry {
    /// Records how the last fetch of the JWK `id` went (no audit entry, no content change:
    /// nothing served changes).
    fn record_sync(&self, project: &str, id: &str, result: &str) -> Result<()> {
        let rec = crate::model::SyncRec {
            v: crate::model::FORMAT,
            at: super::now_rfc3339(),
            result: result.to_owned(),
        };
        self.commit_txn(Txn::new().put(keys::sync(project, id), encode(&rec)))?;
        Ok(())
    }

    /// Re-fetches a URL-sourced JWK (with its stored options, kid and ETag) and reports which
    /// kids of the set were added, removed or changed.
    pub(super) fn resync_jwk(
        &self,
        actor: &Actor,
        project: &str,
        name: &str,
    ) -> Result<(ResyncReport, Change)> {
        let perms = self.require(actor, project, SECRETS_MANAGE)?;
        let (mut rec, rev, _) = self.find_jwk(project, name)?.ok_or_else(|| {
            RegistryError::bad_request(format!("JWK (name: {name}) is not found!"))
        })?;
        let Some(mut source) = rec.source.clone().filter(|s| s.source_type == "URL") else {
            return Err(RegistryError::bad_request(format!(
                "JWK (name: {name}) has no URL source to re-sync!"
            )));
        };
        let url = source.url.clone().unwrap_or_default();
        // Options stored before the server's maxima were lowered are held to them too.
        let (connect, read, size) = source.url_options.unwrap_or((
            jwk_fetch::DEFAULT_CONNECT_TIMEOUT_MS,
            jwk_fetch::DEFAULT_READ_TIMEOUT_MS,
            jwk_fetch::DEFAULT_SIZE_LIMIT,
        ));
        let max_ms = self.config.max_fetch_timeout_ms;
        let options = (
            connect.min(max_ms),
            read.min(max_ms),
            size.min(self.config.max_fetch_size),
        );
        let old = self.open_jwk(&rec)?;
        let fetched = self.fetch_url(
            &url,
            options,
            source.kid.as_deref(),
            (source.etag.clone(), None),
        );
        let fetched = match fetched {
            Ok(fetched) => fetched,
            Err(e) => {
                // The failure is what the JWK's view shows as its last sync.
                if let Err(not_recorded) =
                    self.record_sync(project, &rec.id, &format!("failed: {e}"))
                {
                    tracing::warn!(error = %not_recorded, "a failed re-sync was not recorded");
                }
                return Err(e);
            }
        };
        let etag = fetched.etag;
        let Some((mut jwk, kids)) = fetched.fresh else {
            self.record_sync(project, &rec.id, "not modified")?;
            let report = ResyncReport {
                not_modified: true,
                ..ResyncReport::default()
            };
            return Ok((report, self.change_to_deploy(&perms, SECRETS_DEPLOY, None)));
        };
        let mut report = ResyncReport::default();
        for (kid, t) in &kids {
            match source.set_kids.iter().find(|(k, _)| k == kid) {
                None => report.added.push(kid.clone()),
                Some((_, old_t)) if old_t != t => report.changed.push(kid.clone()),
                Some(_) => {}
            }
        }
        for (kid, _) in &source.set_kids {
            if !kids.iter().any(|(k, _)| k == kid) {
                report.removed.push(kid.clone());
            }
        }
        // The usage chosen at creation survives the refresh.
        if let (Some(u), Some(a)) = (&old.params().key_use, &old.params().alg)
            && let Some(usage) = Usage::parse(u.as_str())
        {
            jwk.set_usage(usage, a)?;
        }
        source.set_kids = kids;
        source.etag = etag;
        rec.source = Some(source);
        rec.public_jwk = public_view(&jwk);
        rec.sealed_jwk = self.key().seal(jwk.to_json().as_bytes())?;
        rec.private = jwk.is_private();
        let txn = Txn::new()
            .at(keys::jwk(project, &rec.id), rev)
            .put(keys::jwk(project, &rec.id), encode(&rec))
            .put(keys::sync(project, &rec.id), encode(&fetched_now()));
        let txn = self.approved_if(txn, &perms, SECRETS_DEPLOY)?;
        let txn = self.audit_jwk(txn, actor, "jwk.resync", project, name, &[&rec.id])?;
        let committed = self.commit(txn, || {
            RegistryError::bad_request(format!(
                "JWK (name: {name}) changed during the re-sync; try again!"
            ))
        })?;
        Ok((
            report,
            self.change_to_deploy(&perms, SECRETS_DEPLOY, Some(committed)),
        ))
    }
}
