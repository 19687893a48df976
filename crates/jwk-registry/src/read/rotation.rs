//! Rotation reads: a slot's or a generated JWK's rotation as the API shows it, and every
//! rotation as the rotation controller works through them.

use serde::{Deserialize, Serialize};

use crate::actor::Actor;
use crate::error::{RegistryError, Result};
use crate::perm::{IDENTITY_VIEW, SECRETS_VIEW};
use crate::records::{
    CredentialRec, DeployRec, EnvironmentRec, JwkRec, RotationRec, keys, load, load_all,
};
use crate::registry::Registry;
use crate::types::{Removal, RotationHolder, RotationPolicy, RotationProgress, RotationWait, Slot};

/// A rotation as the API shows it: its policy and where it stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RotationView {
    /// The project.
    pub project: String,
    /// The credential, for a slot's rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `validation` or `encryption`, for a slot's rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
    /// The rotated JWK's name, for a JWK's rotation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwk: Option<String>,
    /// `EC`, `RSA`, `OKP` or `oct`.
    pub key_type: String,
    /// The curve of an EC or OKP key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub curve: Option<String>,
    /// The size of an RSA or oct key, bits.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_size: Option<usize>,
    /// `SIGNATURE` or `ENCRYPTION`.
    pub use_type: String,
    /// The `alg`.
    pub algorithm: String,
    /// The policy's durations, seconds.
    pub period_seconds: u64,
    /// Lead time.
    pub lead_seconds: u64,
    /// Overlap.
    pub overlap_seconds: u64,
    /// Longest token lifetime.
    pub max_token_lifetime_seconds: u64,
    /// Consumers' cache time.
    pub consumer_cache_seconds: u64,
    /// When the next promotion is due (Unix seconds); the next JWK is published
    /// `leadSeconds` before.
    pub due: i64,
    /// The published next JWK, once generated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_jwk: Option<String>,
    /// When every environment first reported serving it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub served_since: Option<i64>,
    /// Why the promotion waits, past its due time.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waiting: Option<RotationWait>,
    /// When the slot's JWK was last promoted (or first set) by the rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_promotion: Option<i64>,
    /// Replaced JWKs still to delete, after their overlap.
    pub removals: Vec<Removal>,
}

/// A rotation as the rotation controller works it: what it rotates, its policy, where it
/// stands, and the revision of its record (which `Command::RecordRotation` compares).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationState {
    /// The project.
    pub project: String,
    /// What it rotates.
    pub holder: RotationHolder,
    /// Its policy.
    pub policy: RotationPolicy,
    /// Where it stands.
    pub progress: RotationProgress,
    /// The revision of its record.
    pub revision: u64,
}

impl RotationRec {
    fn view(self) -> RotationView {
        RotationView {
            project: self.project,
            username: self.username,
            slot: self.slot,
            jwk: self.jwk,
            key_type: self.key_type,
            curve: self.curve,
            key_size: self.key_size,
            use_type: self.use_type,
            algorithm: self.algorithm,
            period_seconds: self.period_seconds,
            lead_seconds: self.lead_seconds,
            overlap_seconds: self.overlap_seconds,
            max_token_lifetime_seconds: self.max_token_lifetime_seconds,
            consumer_cache_seconds: self.consumer_cache_seconds,
            due: self.due,
            next_jwk: self.next_jwk,
            served_since: self.served_since,
            waiting: self.waiting,
            last_promotion: self.last_promotion,
            removals: self.removals,
        }
    }

    /// The state it records; records are checked when written, so one that does not read
    /// back is an internal error.
    fn state(self, revision: u64) -> Result<RotationState> {
        let broken = || {
            RegistryError::internal(format!(
                "the rotation record of {} ({}) in project {} holds an unknown key type",
                self.username
                    .as_deref()
                    .or(self.jwk.as_deref())
                    .unwrap_or_default(),
                self.slot.as_deref().unwrap_or("jwk"),
                self.project
            ))
        };
        let spec = RotationPolicy::spec_of(&self.key_type, self.curve.as_deref(), self.key_size)
            .ok_or_else(broken)?;
        let holder = match (&self.jwk, &self.username) {
            (Some(name), _) => RotationHolder::Jwk { name: name.clone() },
            (None, Some(username)) => RotationHolder::Slot {
                username: username.clone(),
                slot: self
                    .slot
                    .as_deref()
                    .and_then(Slot::parse)
                    .ok_or_else(broken)?,
            },
            (None, None) => return Err(broken()),
        };
        Ok(RotationState {
            policy: RotationPolicy {
                spec,
                usage: jwk_core::Usage::parse(&self.use_type).ok_or_else(broken)?,
                algorithm: self.algorithm,
                period_secs: self.period_seconds,
                lead_secs: self.lead_seconds,
                overlap_secs: self.overlap_seconds,
                max_token_lifetime_secs: self.max_token_lifetime_seconds,
                consumer_cache_secs: self.consumer_cache_seconds,
            },
            progress: RotationProgress {
                due: self.due,
                next_jwk: self.next_jwk,
                served_since: self.served_since,
                waiting: self.waiting,
                last_promotion: self.last_promotion,
                removals: self.removals,
            },
            project: self.project,
            holder,
            revision,
        })
    }
}

impl Registry {
    /// A slot's rotation, if it has one. IDENTITY+VIEW.
    pub fn slot_rotation(
        &self,
        actor: &Actor,
        project: &str,
        username: &str,
        slot: Slot,
    ) -> Result<Option<RotationView>> {
        self.require(actor, project, IDENTITY_VIEW)?;
        if load::<CredentialRec>(&**self.store(), &keys::credential(project, username))?.is_none() {
            return Err(RegistryError::not_found(format!(
                "Credential (username: {username}) was not found!"
            )));
        }
        let key = keys::slot_rotation(project, username, slot.as_str());
        Ok(load::<RotationRec>(&**self.store(), &key)?.map(|(r, _)| r.view()))
    }

    /// A generated JWK's rotation, if it has one. SECRETS+VIEW.
    pub fn jwk_rotation(
        &self,
        actor: &Actor,
        project: &str,
        name: &str,
    ) -> Result<Option<RotationView>> {
        self.require(actor, project, SECRETS_VIEW)?;
        self.jwk_to_read(project, name)?;
        let key = keys::jwk_rotation(project, name);
        Ok(load::<RotationRec>(&**self.store(), &key)?.map(|(r, _)| r.view()))
    }

    /// Every rotation, with the revision of its record (for the rotation controller).
    pub fn rotations(&self) -> Result<Vec<RotationState>> {
        load_all::<RotationRec>(&**self.store(), keys::ROTATIONS)?
            .into_iter()
            .map(|(_, rec, revision)| rec.state(revision))
            .collect()
    }

    /// One rotation, as it stands now.
    pub fn rotation(
        &self,
        project: &str,
        holder: &RotationHolder,
    ) -> Result<Option<RotationState>> {
        let key = crate::handlers::rotation_key(project, holder);
        load::<RotationRec>(&**self.store(), &key)?
            .map(|(rec, revision)| rec.state(revision))
            .transpose()
    }

    /// The environments that did not serve the approved JWK `name` of `project` at their
    /// last deployment (or whose last deployment failed), by name: every one when no
    /// approved JWK has that name. A deployment served it when it deployed the JWK's
    /// approved copy (its revision or a later one) while the JWK was within its validity
    /// and not disabled.
    pub fn environments_without(&self, project: &str, name: &str) -> Result<Vec<String>> {
        let store = &**self.store();
        let approved = match store.get(keys::jwk_name(project, name).as_bytes())? {
            Some(id) => {
                let id = String::from_utf8_lossy(&id.value);
                load::<JwkRec>(store, &keys::approved(&keys::jwk(project, &id)))?
                    .filter(|(rec, _)| rec.name == name)
            }
            None => None,
        };
        let mut missing = Vec::new();
        for (_, env, _) in load_all::<EnvironmentRec>(store, keys::ENVIRONMENTS)? {
            let served = approved.as_ref().is_some_and(|(rec, revision)| {
                matches!(
                    load::<DeployRec>(store, &keys::deploy(&env.name)),
                    Ok(Some((d, _))) if !d.pending
                        && d.revision >= *revision
                        && served_at(rec, d.validity_epoch)
                )
            });
            if !served {
                missing.push(env.name);
            }
        }
        Ok(missing)
    }
}

/// Whether a deployment whose validity epoch was `epoch` served the JWK `rec`: not
/// disabled nor withdrawn, its `nbf` passed and its `exp` not (the epoch is the last bound
/// passed when it deployed, so a bound after it had not passed).
fn served_at(rec: &JwkRec, epoch: i64) -> bool {
    rec.state != crate::types::KeyState::Disabled
        && !rec.withdrawn
        && rec.validity.not_before.is_none_or(|nbf| nbf <= epoch)
        && rec.validity.expires.is_none_or(|exp| exp > epoch)
}
