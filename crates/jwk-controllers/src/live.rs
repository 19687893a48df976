//! The lookup gateways use ([`LiveKeys`]): the resolver's lock-free lookup, and on an
//! unknown kid a refetch of the project's remote JWK Sets (by the refresh controller, within
//! each set's cooldown, memory of misses and hourly budget) that the lookup waits for up to a
//! deadline.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use jwk_core::Jwk;
use jwk_registry::Resolver;
use jwk_verify::{BoxFuture, KeySelector, KeySource, VerificationKey, VerifyError};

use crate::refresh::{MAX_REMEMBERED_MISSES, MissAction, Refresh, lock_inner};

/// Longest kid a miss may refetch for (and be remembered by): a token can carry a kid of
/// kilobytes, and no provider's kid is that long.
pub const MAX_REFETCH_KID_LEN: usize = 256;
/// How long [`LiveKeys::find`] waits for a refetch by default.
pub const DEFAULT_MISS_WAIT: Duration = Duration::from_secs(3);

/// Why [`LiveKeys::find`] has no key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LookupError {
    /// No key of the project has the kid, after its remote sets were refetched (or when a
    /// refetch was not allowed: within the cooldown, a kid already missed, the budget
    /// spent, or no remote set).
    #[error("no key of project {project} has the kid {kid}")]
    UnknownKid {
        /// The project.
        project: String,
        /// The kid.
        kid: String,
        /// Whether a refetch happened for this lookup.
        refetched: bool,
    },
    /// The refetch did not finish within the lookup's wait.
    #[error("the keys of project {project} were being refetched and did not arrive in time")]
    Timeout {
        /// The project.
        project: String,
    },
}

impl LookupError {
    /// A stable code: `lookup.unknown_kid` or `lookup.timeout`.
    pub fn code(&self) -> &'static str {
        match self {
            LookupError::UnknownKid { .. } => "lookup.unknown_kid",
            LookupError::Timeout { .. } => "lookup.timeout",
        }
    }
}

/// The keys an environment serves, for a gateway verifying tokens: [`LiveKeys::get`] is the
/// resolver's lock-free lookup; [`LiveKeys::find`] also refetches the project's remote JWK
/// Sets when the kid is unknown (once per set at a time, within each set's cooldown, memory
/// of misses and hourly budget) and waits for them up to a deadline.
#[derive(Clone)]
pub struct LiveKeys {
    pub(crate) refresh: Arc<Refresh>,
    pub(crate) resolver: Arc<Resolver>,
    pub(crate) wait: Duration,
}

impl std::fmt::Debug for LiveKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveKeys")
            .field("wait", &self.wait)
            .finish_non_exhaustive()
    }
}

impl LiveKeys {
    /// How long [`LiveKeys::find`] waits for a refetch (default [`DEFAULT_MISS_WAIT`]).
    pub fn wait(mut self, wait: Duration) -> LiveKeys {
        self.wait = wait;
        self
    }

    /// The key with this kid that `project` serves now (lock-free, allocation-free).
    pub fn get(&self, project: &str, kid: &str) -> Option<Arc<Jwk>> {
        self.resolver.by_project_kid(project, kid)
    }

    /// The key with this kid that `project` serves; on a miss, its remote sets are refetched
    /// (when allowed) and waited for. A kid longer than [`MAX_REFETCH_KID_LEN`] bytes never
    /// refetches.
    pub async fn find(
        &self,
        project: &str,
        kid: &str,
    ) -> std::result::Result<Arc<Jwk>, LookupError> {
        if let Some(hit) = self.get(project, kid) {
            return Ok(hit);
        }
        let refresh = &self.refresh;
        if kid.len() > MAX_REFETCH_KID_LEN {
            refresh.miss_suppressed.fetch_add(1, Ordering::Relaxed);
            return Err(LookupError::UnknownKid {
                project: project.to_owned(),
                kid: kid.chars().take(MAX_REFETCH_KID_LEN).collect(),
                refetched: false,
            });
        }
        let mut waits = Vec::new();
        for (id, state) in refresh.of_project(project) {
            match refresh.on_miss(&id, &state, kid) {
                MissAction::Wait(n, started) => {
                    if started {
                        refresh.miss_refetches.fetch_add(1, Ordering::Relaxed);
                    }
                    waits.push((state, n));
                }
                MissAction::Suppressed => {
                    refresh.miss_suppressed.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        let unknown = |refetched| LookupError::UnknownKid {
            project: project.to_owned(),
            kid: kid.to_owned(),
            refetched,
        };
        if waits.is_empty() {
            return Err(unknown(false));
        }
        let all = async {
            for (state, n) in &waits {
                let mut rx = state.done.subscribe();
                // The sender lives as long as the state; a closed channel ends the wait.
                let _ = rx.wait_for(|finished| finished >= n).await;
            }
        };
        if tokio::time::timeout(self.wait, all).await.is_err() {
            return Err(LookupError::Timeout {
                project: project.to_owned(),
            });
        }
        match self.get(project, kid) {
            Some(found) => Ok(found),
            None => {
                let now = refresh.registry.clock().now_ms();
                for (state, _) in &waits {
                    let mut inner = lock_inner(state);
                    if inner.misses.len() < MAX_REMEMBERED_MISSES {
                        inner.misses.insert(kid.to_owned(), now);
                    }
                }
                Err(unknown(true))
            }
        }
    }
}

/// The keys of one project for a verifier, refetching its remote JWK Sets when a token
/// names an unknown `kid` ([`LiveKeys::project_keys`]).
#[derive(Debug, Clone)]
pub struct LiveProjectKeys {
    live: LiveKeys,
    project: String,
}

impl LiveKeys {
    /// The keys of `project` as a [`jwk_verify::KeySource`]: [`KeySource::find`] refetches
    /// the project's remote sets on an unknown `kid` (within their cooldown, memory of
    /// misses and budget) and waits up to this lookup's wait.
    pub fn project_keys(&self, project: &str) -> LiveProjectKeys {
        LiveProjectKeys {
            live: self.clone(),
            project: project.to_owned(),
        }
    }
}

impl KeySource for LiveProjectKeys {
    fn key(
        &self,
        selector: &KeySelector<'_>,
    ) -> std::result::Result<Arc<VerificationKey>, VerifyError> {
        self.live
            .resolver
            .project_verification_key(&self.project, selector)
    }

    fn find<'a>(
        &'a self,
        selector: &'a KeySelector<'a>,
    ) -> BoxFuture<'a, std::result::Result<Arc<VerificationKey>, VerifyError>> {
        Box::pin(async move {
            let first = self.key(selector);
            let Err(VerifyError::UnknownKey { .. }) = &first else {
                return first;
            };
            // Only a kid is refetched for: a thumbprint or certificate hash names a key
            // whose set is known already.
            let Some(kid) = selector.kid else {
                return first;
            };
            match self.live.find(&self.project, kid).await {
                Ok(_) => self.key(selector),
                Err(LookupError::Timeout { .. }) => Err(VerifyError::LookupTimeout),
                Err(LookupError::UnknownKid { .. }) => first,
            }
        })
    }
}
