//! Scheduled rotation of a credential slot's JWK, promoted only once every environment's
//! deployment receipt shows the new key served.
//!
//! A policy (key spec, period, lead time, overlap, and the longest token lifetime and the
//! consumers' cache time it must cover) is a record per slot. [`Registry::rotate_due`] moves
//! each slot on by steps that are each idempotent: publish a generated next JWK `lead`
//! before the promotion is due, note when every environment first reports serving it, promote
//! it once it is due and that was at least the consumers' cache time ago, and delete replaced
//! JWKs after the overlap. The record's compare-and-put decides which node records a step,
//! and a generated JWK's name is derived from its due time, so nodes that act at once (or a
//! node that stopped between two changes) converge on the same key instead of making two.

use serde::{Deserialize, Serialize};

use super::{Actor, Change, Command, Registry};
use crate::deploy::{KeyState, Slot};
use crate::error::{RegistryError, Result};
use crate::model::{CredentialRec, EnvironmentRec, FORMAT, JwkRef, encode, keys, load, load_all};
use crate::perm::{
    IDENTITY_DEPLOY, IDENTITY_MANAGE, IDENTITY_VIEW, SECRETS_DEPLOY, SECRETS_MANAGE,
};
use crate::store::Txn;
use jwk_core::{EcCurve, KeySpec, OkpCurve, Usage};

/// The longest period, lead, overlap, token lifetime or cache time: ten years.
pub const MAX_ROTATION_SECS: u64 = 10 * 365 * 24 * 3600;
/// The shortest period: one minute.
pub const MIN_ROTATION_PERIOD_SECS: u64 = 60;

/// The actor rotations act as, as the audit log names it.
pub const ROTATION_ACTOR: &str = "system:rotation";

/// How a slot's JWK is rotated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationPolicy {
    /// The key generated each time.
    pub spec: KeySpec,
    /// Its `use`.
    pub usage: Usage,
    /// Its `alg`.
    pub algorithm: String,
    /// Seconds from one promotion to the next.
    pub period_secs: u64,
    /// Seconds the next JWK is published before it is due to be promoted.
    pub lead_secs: u64,
    /// Seconds the replaced JWK stays published (retired) after a promotion.
    pub overlap_secs: u64,
    /// The longest lifetime of a token signed (or encrypted) with the slot's JWK, seconds.
    pub max_token_lifetime_secs: u64,
    /// How long consumers cache the published keys, seconds.
    pub consumer_cache_secs: u64,
}

impl RotationPolicy {
    /// Refuses a policy that could break tokens, saying by how much.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(RegistryError::bad_request(m));
        for (what, value) in [
            ("Period", self.period_secs),
            ("Lead time", self.lead_secs),
            ("Overlap", self.overlap_secs),
            ("Longest token lifetime", self.max_token_lifetime_secs),
            ("Consumers' cache time", self.consumer_cache_secs),
        ] {
            if value > MAX_ROTATION_SECS {
                return bad(format!(
                    "{what} ({value} s) is too long: at most {MAX_ROTATION_SECS} s (10 years)!"
                ));
            }
        }
        if spec_parts(self.spec).0 == "unknown" {
            return bad("This key type cannot be rotated!".to_owned());
        }
        if matches!(self.spec, KeySpec::Oct { .. }) {
            return bad(
                "Key type (oct) cannot be rotated: deployment receipts never name symmetric keys, so that every environment serves the next one cannot be confirmed!".to_owned(),
            );
        }
        if self.period_secs < MIN_ROTATION_PERIOD_SECS {
            return bad(format!(
                "Period ({} s) is too short: at least {MIN_ROTATION_PERIOD_SECS} s!",
                self.period_secs
            ));
        }
        if self.lead_secs >= self.period_secs {
            return bad(format!(
                "Lead time ({} s) must be shorter than the period ({} s)!",
                self.lead_secs, self.period_secs
            ));
        }
        if self.lead_secs < self.consumer_cache_secs {
            return bad(format!(
                "Lead time ({} s) is {} s short: the next JWK must be published for at least the consumers' cache time ({} s) before it is used!",
                self.lead_secs,
                self.consumer_cache_secs - self.lead_secs,
                self.consumer_cache_secs
            ));
        }
        let needed = self.max_token_lifetime_secs + self.consumer_cache_secs;
        if self.overlap_secs < needed {
            return bad(format!(
                "Overlap ({} s) is {} s short: it must cover the longest token lifetime ({} s) plus the consumers' cache time ({} s), {needed} s!",
                self.overlap_secs,
                needed - self.overlap_secs,
                self.max_token_lifetime_secs,
                self.consumer_cache_secs
            ));
        }
        jwk_core::check_generate_options(&self.generate_options())?;
        Ok(())
    }

    fn generate_options(&self) -> jwk_core::GenerateOptions {
        jwk_core::GenerateOptions {
            spec: self.spec,
            usage: self.usage,
            alg: self.algorithm.clone(),
            kid: jwk_core::KidType::Thumbprint,
        }
    }
}

/// Why a rotation waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationWait {
    /// `rotation.waiting_for_receipts` or `rotation.waiting_for_caches`.
    pub code: String,
    /// What it waits for, naming the environments and the key.
    pub message: String,
}

/// A replaced JWK and when it is deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Removal {
    /// The JWK's name.
    pub name: String,
    /// When (Unix seconds).
    pub at: i64,
}

/// A slot's rotation: its policy and where it stands. Stored per slot.
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

/// The record: the view and its format version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RotationRec {
    v: u32,
    #[serde(flatten)]
    view: RotationView,
}

fn spec_parts(spec: KeySpec) -> (String, Option<String>, Option<usize>) {
    match spec {
        KeySpec::Rsa { bits } => ("RSA".into(), None, Some(bits)),
        KeySpec::Ec(c) => ("EC".into(), Some(c.name().into()), None),
        KeySpec::Okp(c) => ("OKP".into(), Some(c.name().into()), None),
        KeySpec::Oct { bits } => ("oct".into(), None, Some(bits)),
        // Refused by `RotationPolicy::check` before a record is written.
        _ => ("unknown".into(), None, None),
    }
}

impl RotationView {
    /// The policy it holds (records are checked when written: a record that does not read
    /// back is an internal error).
    fn policy(&self) -> Result<RotationPolicy> {
        let broken = || {
            RegistryError::internal(format!(
                "the rotation record of credential {} ({}) holds an unknown key type",
                self.username
                    .as_deref()
                    .or(self.jwk.as_deref())
                    .unwrap_or_default(),
                self.slot.as_deref().unwrap_or("jwk")
            ))
        };
        let spec = match (self.key_type.as_str(), &self.curve, self.key_size) {
            ("RSA", _, Some(bits)) => KeySpec::Rsa { bits },
            ("oct", _, Some(bits)) => KeySpec::Oct { bits },
            ("EC", Some(c), _) => KeySpec::Ec(EcCurve::from_name(c).ok_or_else(broken)?),
            ("OKP", Some(c), _) => KeySpec::Okp(OkpCurve::from_name(c).ok_or_else(broken)?),
            _ => return Err(broken()),
        };
        Ok(RotationPolicy {
            spec,
            usage: Usage::parse(&self.use_type).ok_or_else(broken)?,
            algorithm: self.algorithm.clone(),
            period_secs: self.period_seconds,
            lead_secs: self.lead_seconds,
            overlap_secs: self.overlap_seconds,
            max_token_lifetime_secs: self.max_token_lifetime_seconds,
            consumer_cache_secs: self.consumer_cache_seconds,
        })
    }

    fn slot(&self) -> Slot {
        self.slot
            .as_deref()
            .and_then(Slot::parse)
            .unwrap_or(Slot::Validation)
    }
}

impl Holder {
    /// `rotation/slot/<p>/<username>/<slot>` or `rotation/jwk/<p>/<name>`.
    fn key(&self, project: &str) -> String {
        match self {
            Holder::Slot(username, slot) => format!(
                "{ROTATIONS}slot/{}/{}",
                keys::credential(project, username)
                    .strip_prefix(keys::ALL_CREDENTIALS)
                    .unwrap_or_default(),
                slot.as_str()
            ),
            Holder::Jwk(name) => format!(
                "{ROTATIONS}jwk/{}",
                keys::jwk_name(project, name)
                    .strip_prefix("jwkname/")
                    .unwrap_or_default()
            ),
        }
    }
}

/// The store key of a JWK's rotation record.
pub(crate) fn jwk_rotation_key(project: &str, name: &str) -> String {
    Holder::Jwk(name.to_owned()).key(project)
}

/// Every rotation record: `rotation/`.
pub(crate) const ROTATIONS: &str = "rotation/";

fn secs(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX)
}

/// What a rotation rotates.
enum Holder {
    /// A credential's slot (username, slot).
    Slot(String, Slot),
    /// A generated JWK, by name: the name always names the active key.
    Jwk(String),
}

/// What one step did.
enum Step {
    /// Something changed: look again.
    Moved,
    /// Nothing to do before this time (Unix seconds).
    Until(i64),
    /// Nothing to do before this time, when the next JWK is published (a change of the
    /// public JWKS that caches should come back for).
    Publishes(i64),
}

impl Registry {
    fn rotation_actor() -> Actor {
        Actor {
            username: ROTATION_ACTOR.to_owned(),
            admin: true,
        }
    }

    /// Sets (with `None`, removes) a slot's rotation policy. IDENTITY+MANAGE and
    /// IDENTITY+DEPLOY_UNDEPLOY, SECRETS+MANAGE and SECRETS+DEPLOY_UNDEPLOY: the rotation
    /// makes, deploys and deletes JWKs in the project. An empty slot gets its first JWK at
    /// the next [`Registry::rotate_due`]; otherwise the first promotion is due a period from
    /// now.
    pub(super) fn set_slot_rotation(
        &self,
        actor: &Actor,
        project: &str,
        username: &str,
        slot: Slot,
        policy: Option<&RotationPolicy>,
    ) -> Result<Change> {
        for p in [IDENTITY_MANAGE, IDENTITY_DEPLOY] {
            self.require(actor, project, p)?;
        }
        self.set_rotation(
            actor,
            project,
            &Holder::Slot(username.to_owned(), slot),
            policy,
        )
    }

    /// Sets (with `None`, removes) a generated JWK's rotation policy: its name always names
    /// the active key; at each promotion the JWK that had the name is renamed
    /// `{name}-retired-{time}` and retired for the overlap. The JWK must be generated and in no
    /// credential slot (rotate the slot instead). SECRETS+MANAGE and SECRETS+DEPLOY_UNDEPLOY.
    pub(super) fn set_jwk_rotation(
        &self,
        actor: &Actor,
        project: &str,
        name: &str,
        policy: Option<&RotationPolicy>,
    ) -> Result<Change> {
        self.set_rotation(actor, project, &Holder::Jwk(name.to_owned()), policy)
    }

    fn set_rotation(
        &self,
        actor: &Actor,
        project: &str,
        holder: &Holder,
        policy: Option<&RotationPolicy>,
    ) -> Result<Change> {
        self.require(actor, project, SECRETS_MANAGE)?;
        let perms = self.require(actor, project, SECRETS_DEPLOY)?;
        if let Some(policy) = policy {
            policy.check()?;
        }
        let key = holder.key(project);
        let (what, target, action) = match holder {
            Holder::Slot(username, slot) => (
                format!("Credential (username: {username})"),
                username.clone(),
                format!("credential.{}.rotation", slot.as_str()),
            ),
            Holder::Jwk(name) => (
                format!("JWK (name: {name})"),
                name.clone(),
                "jwk.rotation".to_owned(),
            ),
        };
        let committed = self.commit_retrying(&what, || {
            // What the rotation acts on must exist, unchanged, when the policy is written.
            let (txn, empty) = self.rotation_holder(project, holder)?;
            let existing = load::<RotationRec>(&**self.store(), &key)?;
            let (txn, verb) = match (policy, existing) {
                (None, None) => return Ok(None),
                (None, Some((_, rev))) => (txn.at(key.clone(), rev).delete(key.clone()), "remove"),
                (Some(policy), existing) => {
                    let now = self.now_secs();
                    let (kty, crv, size) = spec_parts(policy.spec);
                    let kept = existing.as_ref().map(|(r, _)| r.view.clone());
                    let due = match &kept {
                        Some(k) => k
                            .last_promotion
                            .map_or(k.due, |t| t.saturating_add(secs(policy.period_secs))),
                        None if empty => now,
                        None => now.saturating_add(secs(policy.period_secs)),
                    };
                    let (username, slot, jwk) = match holder {
                        Holder::Slot(u, s) => (Some(u.clone()), Some(s.as_str().to_owned()), None),
                        Holder::Jwk(n) => (None, None, Some(n.clone())),
                    };
                    let view = RotationView {
                        project: project.to_owned(),
                        username,
                        slot,
                        jwk,
                        key_type: kty,
                        curve: crv,
                        key_size: size,
                        use_type: policy.usage.as_str().to_owned(),
                        algorithm: policy.algorithm.clone(),
                        period_seconds: policy.period_secs,
                        lead_seconds: policy.lead_secs,
                        overlap_seconds: policy.overlap_secs,
                        max_token_lifetime_seconds: policy.max_token_lifetime_secs,
                        consumer_cache_seconds: policy.consumer_cache_secs,
                        due,
                        next_jwk: kept.as_ref().and_then(|k| k.next_jwk.clone()),
                        served_since: kept.as_ref().and_then(|k| k.served_since),
                        waiting: None,
                        last_promotion: kept.as_ref().and_then(|k| k.last_promotion),
                        removals: kept.map(|k| k.removals).unwrap_or_default(),
                    };
                    let rec = encode(&RotationRec { v: FORMAT, view });
                    let txn = match existing {
                        Some((_, rev)) => txn.at(key.clone(), rev),
                        None => txn.absent(key.clone()),
                    };
                    (txn.put(key.clone(), rec), "set")
                }
            };
            self.audit(
                txn,
                actor,
                &format!("{action}.{verb}"),
                Some(project),
                &target,
            )
            .map(Some)
        })?;
        self.rotation_set.notify_one();
        Ok(self.change_to_deploy(&perms, SECRETS_DEPLOY, committed))
    }

    /// The record a rotation acts on, checked, as a transaction that requires it unchanged,
    /// and whether it is empty (a slot without a JWK: the rotation gives it one at once).
    fn rotation_holder(&self, project: &str, holder: &Holder) -> Result<(Txn, bool)> {
        match holder {
            Holder::Slot(username, slot) => {
                let cred_key = keys::credential(project, username);
                let (mut cred, rev) = load::<CredentialRec>(&**self.store(), &cred_key)?
                    .ok_or_else(|| super::credentials::not_found(username))?;
                Ok((Txn::new().at(cred_key, rev), cred.current(*slot).is_none()))
            }
            Holder::Jwk(name) => {
                let (rec, rev, _) = self.find_jwk(project, name)?.ok_or_else(|| {
                    RegistryError::bad_request(format!("JWK (name: {name}) is not found!"))
                })?;
                if rec.source.as_ref().map(|s| s.source_type.as_str()) != Some("GENERATE") {
                    return Err(RegistryError::bad_request(format!(
                        "JWK (name: {name}) is not generated: only a generated JWK can be rotated!"
                    )));
                }
                let super::credentials::CredentialScan { user, read } =
                    self.credential_using(|_, cred| {
                        cred.refs().any(|j| j.project == project && j.id == rec.id)
                    })?;
                if let Some((username, _)) = user {
                    return Err(RegistryError::bad_request(format!(
                        "JWK (name: {name}) is in a slot of credential (username: {username}): rotate that slot instead!"
                    )));
                }
                let mut txn = Txn::new().at(keys::jwk(project, &rec.id), rev);
                for (k, r) in read {
                    txn = txn.at(k, r);
                }
                Ok((txn, false))
            }
        }
    }

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
        let key = Holder::Slot(username.to_owned(), slot).key(project);
        Ok(load::<RotationRec>(&**self.store(), &key)?.map(|(r, _)| r.view))
    }

    /// A generated JWK's rotation, if it has one. SECRETS+VIEW.
    pub fn jwk_rotation(
        &self,
        actor: &Actor,
        project: &str,
        name: &str,
    ) -> Result<Option<RotationView>> {
        self.require(actor, project, crate::perm::SECRETS_VIEW)?;
        if self.find_jwk(project, name)?.is_none() {
            return Err(RegistryError::not_found(format!(
                "JWK (name: {name}) is not found!"
            )));
        }
        let key = Holder::Jwk(name.to_owned()).key(project);
        Ok(load::<RotationRec>(&**self.store(), &key)?.map(|(r, _)| r.view))
    }

    /// Moves every slot's and JWK's rotation on as far as it can now (by the registry's clock):
    /// generate and publish the next JWK, note it served, promote it, delete replaced JWKs.
    /// Returns when something is next due (Unix seconds), if anything is. Safe to run on
    /// every node at once and after any stop: each step is idempotent and recorded by a
    /// compare-and-put.
    pub async fn rotate_due(self: &std::sync::Arc<Self>) -> Result<Option<i64>> {
        let mut next: Option<i64> = None;
        let mut publication = i64::MAX;
        for (key, _) in self.store().scan(ROTATIONS.as_bytes())? {
            let key = String::from_utf8_lossy(&key).into_owned();
            // A few steps per slot per call: a slot that was down for a while catches up.
            for _ in 0..4 {
                match self.rotation_step(&key).await {
                    Ok(Step::Moved) => continue,
                    Ok(Step::Until(t)) => {
                        next = Some(next.map_or(t, |n| n.min(t)));
                        break;
                    }
                    Ok(Step::Publishes(t)) => {
                        next = Some(next.map_or(t, |n| n.min(t)));
                        publication = publication.min(t);
                        break;
                    }
                    Err(e) => {
                        tracing::warn!(rotation = %key, error = %e, "rotation step failed");
                        break;
                    }
                }
            }
        }
        self.next_publication
            .store(publication, std::sync::atomic::Ordering::Release);
        Ok(next)
    }

    /// When a rotation publishes its next JWK next (Unix seconds), as this process's
    /// [`Registry::rotate_due`] last saw: a scheduled change of the public JWKS, which its
    /// `max-age` shortens ahead of.
    pub fn next_scheduled_publication(&self) -> Option<i64> {
        let t = self
            .next_publication
            .load(std::sync::atomic::Ordering::Acquire);
        (t != i64::MAX).then_some(t)
    }

    /// Runs [`Registry::rotate_due`] whenever something is due, when a policy is set here, and
    /// at least every 30 s (so that a clock that jumps or another node's policy is noticed);
    /// a schedule missed while the process was down runs at once. Spawn it once per process.
    pub async fn follow_rotations(self: std::sync::Arc<Self>) {
        loop {
            let wait = match self.rotate_due().await {
                Ok(Some(t)) => t.saturating_sub(self.now_secs()).clamp(1, 30),
                Ok(None) => 30,
                Err(e) => {
                    tracing::warn!(error = %e, "rotations failed");
                    30
                }
            };
            tokio::select! {
                () = tokio::time::sleep(std::time::Duration::from_secs(wait.unsigned_abs())) => {}
                () = self.rotation_set.notified() => {}
            }
        }
    }

    /// Records `update`d view at the revision it was read at; false when another node moved
    /// it first (or it was removed).
    fn record_rotation(&self, key: &str, rev: u64, view: RotationView) -> Result<bool> {
        let txn = Txn::new()
            .at(key, rev)
            .put(key, encode(&RotationRec { v: FORMAT, view }));
        Ok(matches!(
            self.commit_txn(txn)?,
            crate::store::Commit::Applied(_)
        ))
    }

    async fn rotation_step(self: &std::sync::Arc<Self>, key: &str) -> Result<Step> {
        let Some((rec, rev)) = load::<RotationRec>(&**self.store(), key)? else {
            return Ok(Step::Until(i64::MAX));
        };
        let mut view = rec.view;
        let policy = view.policy()?;
        let project = view.project.clone();
        let actor = Self::rotation_actor();
        let now = self.now_secs();

        // Replaced JWKs whose overlap is over.
        if let Some(i) = view.removals.iter().position(|r| r.at <= now) {
            let name = view.removals[i].name.clone();
            match self
                .apply(
                    &actor,
                    Command::DeleteJwk {
                        project: project.clone(),
                        name: name.clone(),
                    },
                )
                .await
            {
                Ok(_) => {}
                // Gone already (another node, a user), or a user put it in a slot: leave it.
                Err(e) if e.kind() == crate::ErrorKind::BadRequest => {
                    tracing::info!(jwk = %name, reason = %e, "a replaced JWK is not deleted");
                }
                Err(e) => return Err(e),
            }
            view.removals.remove(i);
            self.record_rotation(key, rev, view)?;
            return Ok(Step::Moved);
        }

        let holder = match (&view.jwk, &view.username) {
            (Some(jwk), _) => Holder::Jwk(jwk.clone()),
            (None, Some(username)) => Holder::Slot(username.clone(), view.slot()),
            (None, None) => return Ok(Step::Until(i64::MAX)),
        };
        let name = self.rotation_jwk_name(&holder, view.due);
        match &holder {
            Holder::Slot(username, slot) => {
                let cred_key = keys::credential(&project, username);
                let Some((mut cred, _)) = load::<CredentialRec>(&**self.store(), &cred_key)? else {
                    return Ok(Step::Until(i64::MAX));
                };
                // An empty slot gets its first JWK at once.
                if cred.current(*slot).is_none() {
                    self.generate_for_rotation(&actor, &project, &name, &policy, KeyState::Active)
                        .await?;
                    let set = Command::SetCredentialJwk {
                        project: project.clone(),
                        username: username.clone(),
                        slot: *slot,
                        jwk: Some(name),
                    };
                    self.apply(&actor, set).await?;
                    view.last_promotion = Some(now);
                    view.due = now.saturating_add(secs(policy.period_secs));
                    self.record_rotation(key, rev, view)?;
                    return Ok(Step::Moved);
                }
            }
            Holder::Jwk(jwk) => {
                if self.find_jwk(&project, jwk)?.is_none() {
                    return Ok(Step::Until(i64::MAX)); // deleted: its rotation goes with it
                }
            }
        }

        let publish_at = view.due.saturating_sub(secs(policy.lead_secs));
        let Some(next) = view.next_jwk.clone() else {
            if now < publish_at {
                return Ok(Step::Publishes(publish_at));
            }
            self.generate_for_rotation(&actor, &project, &name, &policy, KeyState::Pending)
                .await?;
            if let Holder::Slot(username, slot) = &holder {
                let set_next = Command::SetCredentialNextJwk {
                    project: project.clone(),
                    username: username.clone(),
                    slot: *slot,
                    jwk: Some(name.clone()),
                };
                if let Err(e) = self.apply(&actor, set_next).await {
                    // Another node promoted it between our reads: the record says so next time.
                    let cred_key = keys::credential(&project, username);
                    if !self.slot_holds(&cred_key, *slot, &project, &name)? {
                        return Err(e);
                    }
                }
            }
            view.next_jwk = Some(name);
            view.served_since = None;
            view.waiting = None;
            self.record_rotation(key, rev, view)?;
            return Ok(Step::Moved);
        };

        if let Some(step) = self.promotion_gate(key, rev, &mut view, &policy, &next, now)? {
            return Ok(step);
        }

        // Due, served, cached: promote. The node whose promotion replaced a JWK records its
        // removal; one that finds it promoted by another node leaves that to it.
        let replaced = match &holder {
            Holder::Slot(username, slot) => {
                match self.promote_slot(&actor, &project, username, *slot, policy.overlap_secs) {
                    Ok((change, replaced)) => {
                        self.deploy(&change).await?;
                        replaced
                    }
                    Err(e) => {
                        let cred_key = keys::credential(&project, username);
                        if !self.slot_holds(&cred_key, *slot, &project, &next)? {
                            return Err(e);
                        }
                        None
                    }
                }
            }
            Holder::Jwk(jwk) => {
                let retired = self.rotation_jwk_name(
                    &Holder::Jwk(format!("{jwk}-retired")),
                    view.last_promotion.unwrap_or(view.due),
                );
                match self.promote_jwk(&project, jwk, &next, &retired, policy.overlap_secs)? {
                    Some(change) => {
                        self.deploy(&change).await?;
                        Some(retired)
                    }
                    None => None,
                }
            }
        };
        loop {
            let Some((rec, rev)) = load::<RotationRec>(&**self.store(), key)? else {
                return Ok(Step::Moved);
            };
            let mut view = rec.view;
            if view.next_jwk.as_deref() == Some(next.as_str()) {
                view.next_jwk = None;
                view.served_since = None;
                view.waiting = None;
                view.last_promotion = Some(now);
                view.due = now.saturating_add(secs(policy.period_secs));
            } else if replaced.is_none() {
                return Ok(Step::Moved); // recorded by the node that promoted
            }
            if let Some(old) = &replaced
                && !view.removals.iter().any(|r| r.name == *old)
            {
                view.removals.push(Removal {
                    name: old.clone(),
                    at: now.saturating_add(secs(policy.overlap_secs)),
                });
            }
            if self.record_rotation(key, rev, view)? {
                return Ok(Step::Moved);
            }
        }
    }

    /// Whether the published next JWK may be promoted now: every environment's receipt shows
    /// it, since at least the consumers' cache time, and the promotion is due. `Some(step)`
    /// (with the reason recorded) while it may not.
    fn promotion_gate(
        &self,
        key: &str,
        rev: u64,
        view: &mut RotationView,
        policy: &RotationPolicy,
        next: &str,
        now: i64,
    ) -> Result<Option<Step>> {
        let project = view.project.clone();
        let record = |view: &mut RotationView, waiting: Option<RotationWait>| {
            if view.waiting != waiting {
                view.waiting = waiting;
                self.record_rotation(key, rev, view.clone())?;
            }
            Ok::<_, RegistryError>(())
        };
        if view.served_since.is_none() {
            let missing = self.environments_not_serving(&project, next)?;
            if missing.is_empty() {
                view.served_since = Some(now);
                view.waiting = None;
                self.record_rotation(key, rev, view.clone())?;
                return Ok(Some(Step::Moved));
            }
            if now < view.due {
                return Ok(Some(Step::Until(now.saturating_add(5).min(view.due))));
            }
            let waiting = RotationWait {
                code: "rotation.waiting_for_receipts".to_owned(),
                message: format!(
                    "Waiting for environments ({}) to report serving JWK (name: {next}) before promoting it!",
                    missing.join(", ")
                ),
            };
            record(view, Some(waiting))?;
            return Ok(Some(Step::Until(now.saturating_add(5))));
        }
        let served_since = view.served_since.unwrap_or(now);
        let ready = served_since
            .saturating_add(secs(policy.consumer_cache_secs))
            .max(view.due);
        if now >= ready {
            return Ok(None);
        }
        if now >= view.due {
            let waiting = RotationWait {
                code: "rotation.waiting_for_caches".to_owned(),
                message: format!(
                    "Every environment serves JWK (name: {next}) since {served_since}: promoting it at {ready}, when consumers' caches ({} s) hold it!",
                    policy.consumer_cache_secs
                ),
            };
            record(view, Some(waiting))?;
        }
        Ok(Some(Step::Until(ready)))
    }

    /// Promotes a rotated JWK in one transaction: the next JWK takes the name `name` and
    /// becomes `active`; the JWK that had the name is renamed `retired`, becomes `retired`
    /// and expires after the overlap (an earlier `exp` stays). `None` when the next JWK is
    /// gone (another node promoted it).
    fn promote_jwk(
        &self,
        project: &str,
        name: &str,
        next: &str,
        retired: &str,
        overlap_secs: u64,
    ) -> Result<Option<Change>> {
        let actor = Self::rotation_actor();
        let perms = self.require(&actor, project, SECRETS_DEPLOY)?;
        let committed = self.commit_retrying(&format!("JWK (name: {name})"), || {
            let Some((mut new, new_rev, new_idx)) = self.find_jwk(project, next)? else {
                return Ok(None);
            };
            let Some((mut old, old_rev, old_idx)) = self.find_jwk(project, name)? else {
                return Ok(None);
            };
            if self.find_jwk(project, retired)?.is_some() {
                return Err(RegistryError::bad_request(format!(
                    "JWK (name: {retired}) is already exist!"
                )));
            }
            let until = self.now_secs().saturating_add(secs(overlap_secs));
            old.name = retired.to_owned();
            old.state = KeyState::Retired;
            old.validity.expires = Some(old.validity.expires.map_or(until, |e| e.min(until)));
            new.name = name.to_owned();
            new.state = KeyState::Active;
            let txn = Txn::new()
                .at(keys::jwk(project, &old.id), old_rev)
                .at(keys::jwk(project, &new.id), new_rev)
                .at(keys::jwk_name(project, name), old_idx)
                .at(keys::jwk_name(project, next), new_idx)
                .absent(keys::jwk_name(project, retired))
                .put(keys::jwk_name(project, name), new.id.clone())
                .delete(keys::jwk_name(project, next))
                .put(keys::jwk_name(project, retired), old.id.clone())
                .put(keys::jwk(project, &old.id), encode(&old))
                .put(keys::jwk(project, &new.id), encode(&new));
            let txn = self.approved_if(txn, &perms, SECRETS_DEPLOY)?;
            self.audit_jwk(
                txn,
                &actor,
                "jwk.rotate",
                project,
                name,
                &[&old.id, &new.id],
            )
            .map(Some)
        })?;
        Ok(committed.map(|c| self.change_to_deploy(&perms, SECRETS_DEPLOY, Some(c))))
    }

    /// The name of the JWK a rotation generates for the promotion due at `due`: the same on
    /// every node, so nodes that act at once make one key.
    fn rotation_jwk_name(&self, holder: &Holder, due: i64) -> String {
        let stamp = time::OffsetDateTime::from_unix_timestamp(due)
            .map(|t| {
                format!(
                    "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
                    t.year(),
                    u8::from(t.month()),
                    t.day(),
                    t.hour(),
                    t.minute(),
                    t.second()
                )
            })
            .unwrap_or_else(|_| due.to_string());
        let (base, tail) = match holder {
            Holder::Slot(username, slot) => {
                (username.as_str(), format!("-{}-{stamp}", slot.as_str()))
            }
            Holder::Jwk(name) => (name.as_str(), format!("-{stamp}")),
        };
        let room = super::MAX_NAME.saturating_sub(tail.chars().count());
        let base: String = base.chars().take(room).collect();
        format!("{base}{tail}")
    }

    /// Generates the JWK `name`, created in `state`, unless it exists (made by another node,
    /// or before a stop): an existing one is left as it is, since another node may have
    /// promoted it meanwhile.
    async fn generate_for_rotation(
        self: &std::sync::Arc<Self>,
        actor: &Actor,
        project: &str,
        name: &str,
        policy: &RotationPolicy,
        state: KeyState,
    ) -> Result<()> {
        if self.find_jwk(project, name)?.is_some() {
            return Ok(());
        }
        let jwk = super::NewJwk::new(
            name,
            super::Source::Generate {
                spec: policy.spec,
                kid: None,
            },
        )
        .usage(policy.usage, policy.algorithm.clone())
        .state(state);
        let created = self
            .apply(
                actor,
                Command::CreateJwk {
                    project: project.to_owned(),
                    jwk,
                },
            )
            .await;
        match created {
            Err(e) if self.find_jwk(project, name)?.is_none() => Err(e),
            _ => Ok(()),
        }
    }

    /// Whether the slot's current JWK is the JWK `name` of `project`.
    fn slot_holds(&self, cred_key: &str, slot: Slot, project: &str, name: &str) -> Result<bool> {
        let Some((mut cred, _)) = load::<CredentialRec>(&**self.store(), cred_key)? else {
            return Ok(false);
        };
        let Some((rec, _, _)) = self.find_jwk(project, name)? else {
            return Ok(false);
        };
        Ok(cred.current(slot).as_ref()
            == Some(&JwkRef {
                project: project.to_owned(),
                id: rec.id,
            }))
    }

    /// The environments whose last deployment receipt does not show the JWK `name`'s
    /// thumbprint (or whose last deployment failed).
    fn environments_not_serving(&self, project: &str, name: &str) -> Result<Vec<String>> {
        let Some((rec, _, _)) = self.find_jwk(project, name)? else {
            return Err(RegistryError::internal(format!(
                "the rotation's next JWK ({name}) is gone"
            )));
        };
        let thumbprint = crate::deploy::thumbprint(&self.open_jwk(&rec)?);
        let mut missing = Vec::new();
        for (_, env, _) in load_all::<EnvironmentRec>(&**self.store(), keys::ENVIRONMENTS)? {
            let serves = self
                .deployment_state(&env.name)?
                .is_some_and(|d| !d.pending && d.thumbprints.contains(&thumbprint));
            if !serves {
                missing.push(env.name);
            }
        }
        Ok(missing)
    }
}
