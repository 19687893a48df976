//! Scheduled rotation of credential slots and generated JWKs, as the system's rotation actor:
//! publish a generated next JWK `lead` before the promotion is due, note when every
//! environment's receipt first shows it, promote it once it is due and that was at least the
//! consumers' cache time ago, and delete replaced JWKs after the overlap. Each step is one
//! command through the registry's pipeline; progress is recorded by a compare on the
//! rotation's revision, and a generated JWK's name is derived from its due time, so nodes
//! that act at once (or a node that stopped between two steps) converge on the same key.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use jwk_registry::rules::rotation::{Gate, promotion_gate, retired_name, rotated_name};
use jwk_registry::{
    Actor, Command, ErrorKind, KeyState, NewJwk, Registry, RegistryError, Removal, RotationHolder,
    RotationProgress, RotationState, Source, SystemRole,
};

use crate::runner::{BoxFuture, Controller, Pace};

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

fn secs(s: u64) -> i64 {
    i64::try_from(s).unwrap_or(i64::MAX)
}

/// The rotation controller.
pub struct Rotation {
    registry: Arc<Registry>,
    actor: Actor,
    /// When a rotation publishes a next JWK next (`i64::MAX`: none known).
    next_publication: AtomicI64,
}

impl Rotation {
    /// The controller of `registry`'s rotations.
    pub fn new(registry: Arc<Registry>) -> Rotation {
        Rotation {
            registry,
            actor: Actor::system(SystemRole::Rotation),
            next_publication: AtomicI64::new(i64::MAX),
        }
    }

    /// Moves every slot's and JWK's rotation on as far as it can now (by the registry's
    /// clock): generate and publish the next JWK, note it served, promote it, delete replaced
    /// JWKs. Returns when something is next due (Unix seconds), if anything is. Safe to run on
    /// every node at once and after any stop: each step is idempotent and recorded by a
    /// compare on the rotation's revision.
    pub async fn run_once(&self) -> Result<Option<i64>, RegistryError> {
        let reg = self.registry.clone();
        let rotations = self.registry.run_blocking(move || reg.rotations()).await?;
        let mut next: Option<i64> = None;
        let mut publication = i64::MAX;
        for rotation in rotations {
            let mut state = Some(rotation);
            // A few steps per rotation per pass: one that was down for a while catches up.
            for _ in 0..4 {
                let Some(current) = state.take() else { break };
                let (project, holder) = (current.project.clone(), current.holder.clone());
                match self.step(current).await {
                    Ok(Step::Moved) => {
                        let reg = self.registry.clone();
                        state = self
                            .registry
                            .run_blocking(move || reg.rotation(&project, &holder))
                            .await?;
                    }
                    Ok(Step::Until(t)) => {
                        next = Some(next.map_or(t, |n| n.min(t)));
                    }
                    Ok(Step::Publishes(t)) => {
                        next = Some(next.map_or(t, |n| n.min(t)));
                        publication = publication.min(t);
                    }
                    Err(e) => {
                        tracing::warn!(project, holder = ?holder, error = %e, "rotation step failed");
                    }
                }
            }
        }
        self.next_publication.store(publication, Ordering::Release);
        Ok(next)
    }

    /// When a rotation publishes its next JWK next (Unix seconds), as the last pass saw: a
    /// scheduled change of the public JWKS, which its `max-age` shortens ahead of.
    pub fn next_scheduled_publication(&self) -> Option<i64> {
        let t = self.next_publication.load(Ordering::Acquire);
        (t != i64::MAX).then_some(t)
    }

    async fn apply(&self, command: Command) -> Result<jwk_registry::Outcome, RegistryError> {
        self.registry.apply(&self.actor, command).await
    }

    /// Records `progress` at the revision the rotation was read at; false when another node
    /// moved it first (or it was removed).
    async fn record(
        &self,
        state: &RotationState,
        progress: RotationProgress,
    ) -> Result<bool, RegistryError> {
        let outcome = self
            .apply(Command::RecordRotation {
                project: state.project.clone(),
                holder: state.holder.clone(),
                revision: state.revision,
                progress,
            })
            .await?;
        Ok(outcome.revision.is_some())
    }

    /// Reads with the rotation actor, off the async workers.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Registry, &Actor) -> Result<T, RegistryError> + Send + 'static,
    ) -> Result<T, RegistryError> {
        let (reg, actor) = (self.registry.clone(), self.actor.clone());
        self.registry.run_blocking(move || read(&reg, &actor)).await
    }

    /// The thumbprint of the JWK `name` of `project`, if it exists.
    async fn thumbprint(&self, project: &str, name: &str) -> Result<Option<String>, RegistryError> {
        let (project, name) = (project.to_owned(), name.to_owned());
        self.read(
            move |reg, actor| match reg.get_jwk(actor, &project, &name, false) {
                Ok(view) => Ok(Some(view.thumbprint.unwrap_or_default())),
                Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                Err(e) => Err(e),
            },
        )
        .await
    }

    /// Whether the slot's current JWK is the JWK `name` of `project`.
    async fn slot_holds(
        &self,
        project: &str,
        holder: &RotationHolder,
        name: &str,
    ) -> Result<bool, RegistryError> {
        let RotationHolder::Slot { username, slot } = holder.clone() else {
            return Ok(false);
        };
        let (project, name) = (project.to_owned(), name.to_owned());
        self.read(move |reg, actor| {
            let cred = match reg.get_credential(actor, &project, &username) {
                Ok(cred) => cred,
                Err(e) if e.kind() == ErrorKind::NotFound => return Ok(false),
                Err(e) => return Err(e),
            };
            let held = match slot {
                jwk_registry::Slot::Validation => cred.validation,
                jwk_registry::Slot::Encryption => cred.encryption,
            };
            Ok(held.is_some_and(|s| s.project == project && s.name == name))
        })
        .await
    }

    /// Generates the JWK `name`, created in `state`, unless it exists (made by another node,
    /// or before a stop): an existing one is left as it is, since another node may have
    /// promoted it meanwhile.
    async fn generate(
        &self,
        state: &RotationState,
        name: &str,
        key_state: KeyState,
    ) -> Result<(), RegistryError> {
        if self.thumbprint(&state.project, name).await?.is_some() {
            return Ok(());
        }
        let policy = &state.policy;
        let jwk = NewJwk::new(
            name,
            Source::Generate {
                spec: policy.spec,
                kid: None,
            },
        )
        .usage(policy.usage, policy.algorithm.clone())
        .state(key_state);
        let created = self
            .apply(Command::CreateJwk {
                project: state.project.clone(),
                jwk,
            })
            .await;
        match created {
            Err(e) if self.thumbprint(&state.project, name).await?.is_none() => Err(e),
            _ => Ok(()),
        }
    }

    async fn step(&self, state: RotationState) -> Result<Step, RegistryError> {
        let now = self.registry.now_secs();
        let policy = state.policy.clone();
        let project = state.project.clone();
        let mut progress = state.progress.clone();

        // Replaced JWKs whose overlap is over.
        if let Some(i) = progress.removals.iter().position(|r| r.at <= now) {
            let name = progress.removals[i].name.clone();
            let deleted = self
                .apply(Command::DeleteJwk {
                    project: project.clone(),
                    name: name.clone(),
                })
                .await;
            match deleted {
                Ok(_) => {}
                // Gone already (another node, a user), or a user put it in a slot: leave it.
                Err(e) if e.kind() == ErrorKind::BadRequest => {
                    tracing::info!(jwk = %name, reason = %e, "a replaced JWK is not deleted");
                }
                Err(e) => return Err(e),
            }
            progress.removals.remove(i);
            self.record(&state, progress).await?;
            return Ok(Step::Moved);
        }

        let name = rotated_name(&state.holder, progress.due);
        match &state.holder {
            RotationHolder::Slot { username, slot } => {
                let (p, u, s) = (project.clone(), username.clone(), *slot);
                let current = self
                    .read(move |reg, actor| match reg.get_credential(actor, &p, &u) {
                        Ok(cred) => Ok(Some(match s {
                            jwk_registry::Slot::Validation => cred.validation.is_some(),
                            jwk_registry::Slot::Encryption => cred.encryption.is_some(),
                        })),
                        Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
                        Err(e) => Err(e),
                    })
                    .await?;
                let Some(filled) = current else {
                    return Ok(Step::Until(i64::MAX));
                };
                // An empty slot gets its first JWK at once.
                if !filled {
                    self.generate(&state, &name, KeyState::Active).await?;
                    self.apply(Command::SetCredentialJwk {
                        project: project.clone(),
                        username: username.clone(),
                        slot: *slot,
                        jwk: Some(name),
                    })
                    .await?;
                    progress.last_promotion = Some(now);
                    progress.due = now.saturating_add(secs(policy.period_secs));
                    self.record(&state, progress).await?;
                    return Ok(Step::Moved);
                }
            }
            RotationHolder::Jwk { name: jwk } => {
                if self.thumbprint(&project, jwk).await?.is_none() {
                    return Ok(Step::Until(i64::MAX)); // deleted: its rotation goes with it
                }
            }
        }

        let publish_at = progress.due.saturating_sub(secs(policy.lead_secs));
        let Some(next) = progress.next_jwk.clone() else {
            if now < publish_at {
                return Ok(Step::Publishes(publish_at));
            }
            self.generate(&state, &name, KeyState::Pending).await?;
            if let RotationHolder::Slot { username, slot } = &state.holder {
                let set_next = Command::SetCredentialNextJwk {
                    project: project.clone(),
                    username: username.clone(),
                    slot: *slot,
                    jwk: Some(name.clone()),
                };
                // Another node promoted it between our reads: the record says so next time.
                if let Err(e) = self.apply(set_next).await
                    && !self.slot_holds(&project, &state.holder, &name).await?
                {
                    return Err(e);
                }
            }
            progress.next_jwk = Some(name);
            progress.served_since = None;
            progress.waiting = None;
            self.record(&state, progress).await?;
            return Ok(Step::Moved);
        };

        if self.thumbprint(&project, &next).await?.is_none() {
            return Err(RegistryError::internal(format!(
                "the rotation's next JWK ({next}) is gone"
            )));
        }
        let reg = self.registry.clone();
        let (p, n) = (project.clone(), next.clone());
        let missing = self
            .registry
            .run_blocking(move || reg.environments_without(&p, &n))
            .await?;
        match promotion_gate(&progress, &policy, &next, &missing, now) {
            Gate::Served(at) => {
                progress.served_since = Some(at);
                progress.waiting = None;
                self.record(&state, progress).await?;
                return Ok(Step::Moved);
            }
            Gate::Wait { until, waiting } => {
                if progress.waiting != waiting {
                    progress.waiting = waiting;
                    self.record(&state, progress).await?;
                }
                return Ok(Step::Until(until));
            }
            Gate::Promote => {}
        }

        // Due, served, cached: promote. The node whose promotion replaced a JWK records its
        // removal; one that finds it promoted by another node leaves that to it.
        let replaced = match &state.holder {
            RotationHolder::Slot { username, slot } => {
                let promote = Command::PromoteCredentialJwk {
                    project: project.clone(),
                    username: username.clone(),
                    slot: *slot,
                    overlap_secs: policy.overlap_secs,
                };
                match self.apply(promote).await {
                    Ok(outcome) => outcome.retired,
                    Err(e) => {
                        if !self.slot_holds(&project, &state.holder, &next).await? {
                            return Err(e);
                        }
                        None
                    }
                }
            }
            RotationHolder::Jwk { name: jwk } => {
                let retired = retired_name(jwk, progress.last_promotion.unwrap_or(progress.due));
                let promote = Command::PromoteJwk {
                    project: project.clone(),
                    name: jwk.clone(),
                    next: next.clone(),
                    retired: retired.clone(),
                    overlap_secs: policy.overlap_secs,
                };
                self.apply(promote).await?.revision.map(|_| retired)
            }
        };
        let mut state = state;
        loop {
            let mut progress = state.progress.clone();
            if progress.next_jwk.as_deref() == Some(next.as_str()) {
                progress.next_jwk = None;
                progress.served_since = None;
                progress.waiting = None;
                progress.last_promotion = Some(now);
                progress.due = now.saturating_add(secs(policy.period_secs));
            } else if replaced.is_none() {
                return Ok(Step::Moved); // recorded by the node that promoted
            }
            if let Some(old) = &replaced
                && !progress.removals.iter().any(|r| r.name == *old)
            {
                progress.removals.push(Removal {
                    name: old.clone(),
                    at: now.saturating_add(secs(policy.overlap_secs)),
                });
            }
            if self.record(&state, progress).await? {
                return Ok(Step::Moved);
            }
            let (reg, p, h) = (self.registry.clone(), project.clone(), state.holder.clone());
            match self
                .registry
                .run_blocking(move || reg.rotation(&p, &h))
                .await?
            {
                Some(fresh) => state = fresh,
                None => return Ok(Step::Moved),
            }
        }
    }
}

impl Controller for Rotation {
    fn name(&self) -> &'static str {
        "rotation"
    }

    /// When something is due, when a change is made here or on another node (a policy set),
    /// at least every 30 s, at most once a second.
    fn pace(&self) -> Pace {
        Pace {
            max_wait: Duration::from_secs(30),
            min_gap: Duration::from_secs(1),
            local_changes: true,
            remote_changes: true,
        }
    }

    fn pass(self: Arc<Self>) -> BoxFuture<'static, Result<Duration, RegistryError>> {
        Box::pin(async move {
            let wait = match self.run_once().await? {
                Some(t) => t.saturating_sub(self.registry.now_secs()).clamp(1, 30),
                None => 30,
            };
            Ok(Duration::from_secs(wait.unsigned_abs()))
        })
    }
}
