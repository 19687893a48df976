//! Keeping remote JWK Sets live in a process: the follower that refreshes each set ahead of
//! its interval ([`Registry::follow_jwk_sets`]), one refresh per set at a time (single
//! flight), and the lookup gateways use ([`LiveKeys`]) that refetches a project's sets when a
//! token names a kid they do not serve — within a cooldown, a memory of unknown kids and an
//! hourly budget per set, so random kids cannot turn the gateway into an amplifier.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jwk_core::Jwk;
use jwk_verify::{BoxFuture, KeySelector, KeySource, VerificationKey, VerifyError};

use super::Registry;
use super::remote::{JwkSetRec, RefreshPolicy, Why, now_ms};
use crate::deploy::Resolver;
use crate::error::Result;
use crate::model::{JwkRec, keys, load_all, name_of};

/// Most unknown kids remembered per set (beyond it, the cooldown alone suppresses misses).
const MAX_REMEMBERED_MISSES: usize = 4096;
/// Longest kid a miss may refetch for (and be remembered by): a token can carry a kid of
/// kilobytes, and no provider's kid is that long.
pub const MAX_REFETCH_KID_LEN: usize = 256;
/// How long [`LiveKeys::find`] waits for a refetch by default.
pub const DEFAULT_MISS_WAIT: Duration = Duration::from_secs(3);
/// The follower looks for due sets and new or deleted ones at least this often.
const TICK: Duration = Duration::from_secs(1);

/// What is followed: a remote JWK Set (project, name) or a followed URL-sourced JWK
/// (project, id).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) enum SetId {
    Set(String, String),
    Jwk(String, String),
}

/// One set's in-process state.
struct SetState {
    inner: Mutex<SetInner>,
    /// The number of refreshes finished, announced to waiters.
    done: tokio::sync::watch::Sender<u64>,
}

struct SetInner {
    policy: RefreshPolicy,
    running: bool,
    finished: u64,
    /// When the follower next looks at the set.
    due: Instant,
    /// The last refetch a miss caused.
    last_miss_fetch: Option<Instant>,
    /// Kids looked up and not served, with when.
    misses: HashMap<String, Instant>,
    /// The hour the budget counts in, and the refetches misses caused in it.
    budget_window: Instant,
    budget_used: u64,
}

/// What a miss may do about one set.
enum MissAction {
    /// Wait for the refresh that ends as the `n`-th (`true`: this miss started it).
    Wait(u64, bool),
    /// Nothing (cooldown, a remembered miss, or the budget spent).
    Suppressed,
}

/// Counters of the remote sets' live behaviour in this process.
#[derive(Debug, Default)]
pub(crate) struct Counters {
    pub(crate) miss_refetches: AtomicU64,
    pub(crate) miss_suppressed: AtomicU64,
}

/// Counts by label, for metrics: fetches by (project, set, result) and deployments by
/// (environment, success). Entries of deleted sets and environments are dropped, so the
/// count of entries is bounded by what the registry holds.
#[derive(Debug, Default)]
pub(crate) struct Tally {
    fetches: Mutex<HashMap<(String, String, String), u64>>,
    deployments: Mutex<HashMap<(String, bool), u64>>,
}

impl Tally {
    pub(crate) fn fetched(&self, project: &str, set: &str, result: &str) {
        let mut map = self.fetches.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry((project.to_owned(), set.to_owned(), result.to_owned()))
            .or_default() += 1;
    }

    pub(crate) fn deployed(&self, environment: &str, success: bool) {
        let mut map = self.deployments.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry((environment.to_owned(), success)).or_default() += 1;
    }

    /// The fetch counts of the sets in `sets` (others are forgotten).
    pub(crate) fn fetches(&self, sets: &[(String, String)]) -> Vec<(String, String, String, u64)> {
        let mut map = self.fetches.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|(p, s, _), _| sets.iter().any(|(sp, ss)| sp == p && ss == s));
        let mut out: Vec<_> = map
            .iter()
            .map(|((p, s, r), n)| (p.clone(), s.clone(), r.clone(), *n))
            .collect();
        out.sort();
        out
    }

    /// The deployment counts of the environments in `environments` (others are forgotten).
    pub(crate) fn deployments(&self, environments: &[String]) -> Vec<(String, bool, u64)> {
        let mut map = self.deployments.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|(e, _), _| environments.contains(e));
        let mut out: Vec<_> = map
            .iter()
            .map(|((e, ok), n)| (e.clone(), *ok, *n))
            .collect();
        out.sort();
        out
    }
}

/// Counts of what lookups of unknown kids did, in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MissStats {
    /// Misses that made a set be fetched.
    pub refetches: u64,
    /// Misses that did not (cooldown, a remembered miss, the budget spent).
    pub suppressed: u64,
}

/// The in-process state of every followed set.
pub(crate) struct Live {
    node: String,
    sets: Mutex<HashMap<SetId, Arc<SetState>>>,
    /// True once every set was refreshed (or failed) once since the follower started.
    ready: AtomicBool,
    pub(crate) counters: Counters,
    pub(crate) tally: Tally,
}

impl Live {
    pub(crate) fn new() -> Live {
        let node = super::random::<8>().map_or_else(
            |_| format!("node-{}", std::process::id()),
            |r| r.iter().map(|b| format!("{b:02x}")).collect(),
        );
        Live {
            node,
            sets: Mutex::new(HashMap::new()),
            ready: AtomicBool::new(false),
            counters: Counters::default(),
            tally: Tally::default(),
        }
    }

    /// This process's name in leases.
    pub(crate) fn node(&self) -> &str {
        &self.node
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<SetId, Arc<SetState>>> {
        self.sets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Brings the set list in line with the store's; new sets are due now.
    fn sync(&self, defs: Vec<(SetId, RefreshPolicy)>) {
        let mut sets = self.lock();
        sets.retain(|id, _| defs.iter().any(|(d, _)| d == id));
        let now = Instant::now();
        for (id, policy) in defs {
            let state = sets.entry(id).or_insert_with(|| {
                Arc::new(SetState {
                    inner: Mutex::new(SetInner {
                        policy,
                        running: false,
                        finished: 0,
                        due: now,
                        last_miss_fetch: None,
                        misses: HashMap::new(),
                        budget_window: now,
                        budget_used: 0,
                    }),
                    done: tokio::sync::watch::channel(0).0,
                })
            });
            lock_inner(state).policy = policy;
        }
    }

    /// The remote sets of `project` (a miss refetches sets, not followed JWKs, whose kid is
    /// fixed).
    fn of_project(&self, project: &str) -> Vec<(SetId, Arc<SetState>)> {
        self.lock()
            .iter()
            .filter(|(id, _)| matches!(id, SetId::Set(p, _) if p == project))
            .map(|(id, s)| (id.clone(), s.clone()))
            .collect()
    }
}

fn lock_inner(state: &SetState) -> std::sync::MutexGuard<'_, SetInner> {
    state.inner.lock().unwrap_or_else(|p| p.into_inner())
}

/// Unix ms as an [`Instant`] of this process (the past as now).
fn instant_of(ms: i64) -> Instant {
    let ahead = ms.saturating_sub(now_ms()).max(0);
    Instant::now() + Duration::from_millis(u64::try_from(ahead).unwrap_or(0))
}

impl Registry {
    /// Starts a refresh of `id` unless one runs; the number of the refresh to wait for.
    fn start_refresh(self: &Arc<Self>, id: &SetId, state: &Arc<SetState>, why: Why) -> u64 {
        let mut inner = lock_inner(state);
        let target = inner.finished + 1;
        if inner.running {
            return target;
        }
        inner.running = true;
        drop(inner);
        let (me, id, state) = (self.clone(), id.clone(), state.clone());
        tokio::spawn(async move {
            let (work, what) = (me.clone(), id.clone());
            let refreshed = me
                .run_blocking(move || match &what {
                    SetId::Set(project, name) => work.refresh_set(project, name, why),
                    SetId::Jwk(project, id) => work.refresh_followed(project, id, why),
                })
                .await;
            let next_due = match refreshed {
                Ok(r) => {
                    if let Some(change) = &r.change
                        && let Err(e) = me.deploy(change).await
                    {
                        tracing::warn!(error = %e, "deploying a remote JWK Set's new keys failed");
                    }
                    instant_of(r.next_due)
                }
                Err(e) => {
                    tracing::warn!(followed = ?id, error = %e, "refreshing a remote JWK Set or followed JWK failed");
                    Instant::now() + TICK
                }
            };
            let mut inner = lock_inner(&state);
            inner.running = false;
            inner.finished += 1;
            inner.due = next_due;
            let finished = inner.finished;
            drop(inner);
            state.done.send_replace(finished);
        });
        target
    }

    /// What is followed in the store: every remote set and every followed URL-sourced JWK,
    /// with its policy.
    fn set_definitions(&self) -> Result<Vec<(SetId, RefreshPolicy)>> {
        let store = &**self.store();
        let sets = load_all::<JwkSetRec>(store, keys::ALL_JWK_SETS)?
            .into_iter()
            .filter_map(|(key, rec, _)| {
                let (project, name) = keys::jwk_set_of(&key)?;
                Some((SetId::Set(project, name), rec.policy))
            });
        let jwks = load_all::<JwkRec>(store, keys::ALL_JWKS)?
            .into_iter()
            .filter_map(|(key, rec, _)| {
                let policy = rec.source?.follow?;
                let (project, _) = key.strip_prefix(keys::ALL_JWKS)?.split_once('/')?;
                Some((SetId::Jwk(name_of(project), rec.id), policy))
            });
        Ok(sets.chain(jwks).collect())
    }

    /// Keeps every remote JWK Set of the registry fresh in this process: refreshes each once
    /// at start, then each time its interval (the server's max-age within the set's bounds,
    /// with jitter) is nearly up, so no lookup waits for a scheduled refresh; failed fetches
    /// are retried with backoff. Picks up new and deleted sets within a second. Of several
    /// nodes sharing a store, each set is fetched by one per interval (a lease in the set's
    /// status); the others serve the result through the store's change notification
    /// ([`Registry::follow`]). Runs until the task is dropped: spawn it once per process.
    pub async fn follow_jwk_sets(self: Arc<Self>) {
        let mut seen_revision = None;
        let mut first_pass: Option<Vec<(Arc<SetState>, u64)>> = None;
        loop {
            let me = self.clone();
            let revision = self.run_blocking(move || me.content_revision()).await;
            match revision {
                Ok(revision) if seen_revision != Some(revision) => {
                    let me = self.clone();
                    match self.run_blocking(move || me.set_definitions()).await {
                        Ok(defs) => {
                            self.live.sync(defs);
                            seen_revision = Some(revision);
                        }
                        Err(e) => tracing::warn!(error = %e, "reading the remote JWK Sets failed"),
                    }
                }
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "reading the store's revision failed"),
            }
            let now = Instant::now();
            let sets: Vec<(SetId, Arc<SetState>)> = self
                .live
                .lock()
                .iter()
                .map(|(id, s)| (id.clone(), s.clone()))
                .collect();
            let mut started = Vec::new();
            let mut next = now + TICK;
            for (id, state) in sets {
                let (due, running) = {
                    let inner = lock_inner(&state);
                    (inner.due, inner.running)
                };
                if due <= now && !running {
                    started.push((
                        state.clone(),
                        self.start_refresh(&id, &state, Why::Scheduled),
                    ));
                } else {
                    next = next.min(due.max(now + Duration::from_millis(50)));
                }
            }
            if first_pass.is_none() && seen_revision.is_some() {
                first_pass = Some(started);
            }
            if let Some(pending) = &mut first_pass
                && !self.live.ready.load(Ordering::Acquire)
            {
                pending.retain(|(state, n)| *state.done.borrow() < *n);
                if pending.is_empty() {
                    self.live.ready.store(true, Ordering::Release);
                } else {
                    next = next.min(now + Duration::from_millis(50));
                }
            }
            tokio::time::sleep_until(next.into()).await;
        }
    }

    /// True once [`Registry::follow_jwk_sets`] has refreshed every remote JWK Set once (or
    /// seen its first attempt fail): what `jwkd`'s `/readyz` waits for.
    pub fn jwk_sets_ready(&self) -> bool {
        self.live.ready.load(Ordering::Acquire)
    }

    /// What lookups of unknown kids did in this process.
    pub fn miss_stats(&self) -> MissStats {
        MissStats {
            refetches: self.live.counters.miss_refetches.load(Ordering::Relaxed),
            suppressed: self.live.counters.miss_suppressed.load(Ordering::Relaxed),
        }
    }

    /// The lookup of keys a `memory` environment serves, with refetch on an unknown kid.
    pub fn live_keys(self: &Arc<Self>, environment: &str) -> LiveKeys {
        LiveKeys {
            registry: self.clone(),
            resolver: self.resolver(environment),
            wait: DEFAULT_MISS_WAIT,
        }
    }

    /// What a miss of `kid` may do about one set.
    fn on_miss(self: &Arc<Self>, id: &SetId, state: &Arc<SetState>, kid: &str) -> MissAction {
        let now = Instant::now();
        let mut inner = lock_inner(state);
        if inner.running {
            return MissAction::Wait(inner.finished + 1, false);
        }
        let cooldown = Duration::from_secs(inner.policy.miss_cooldown_seconds);
        let remembered = inner
            .misses
            .get(kid)
            .is_some_and(|at| now.duration_since(*at) < cooldown);
        let cooling = inner
            .last_miss_fetch
            .is_some_and(|at| now.duration_since(at) < cooldown);
        if now.duration_since(inner.budget_window) >= Duration::from_secs(3600) {
            inner.budget_window = now;
            inner.budget_used = 0;
        }
        let spent = inner.budget_used >= inner.policy.miss_budget_per_hour;
        if remembered || cooling || spent {
            if inner.misses.len() >= MAX_REMEMBERED_MISSES {
                inner
                    .misses
                    .retain(|_, at| now.duration_since(*at) < cooldown);
            }
            if inner.misses.len() < MAX_REMEMBERED_MISSES {
                inner.misses.insert(kid.to_owned(), now);
            }
            return MissAction::Suppressed;
        }
        inner.last_miss_fetch = Some(now);
        inner.budget_used += 1;
        drop(inner);
        MissAction::Wait(self.start_refresh(id, state, Why::Miss), true)
    }
}

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
    registry: Arc<Registry>,
    resolver: Arc<Resolver>,
    wait: Duration,
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
        let counters = &self.registry.live.counters;
        if kid.len() > MAX_REFETCH_KID_LEN {
            counters.miss_suppressed.fetch_add(1, Ordering::Relaxed);
            return Err(LookupError::UnknownKid {
                project: project.to_owned(),
                kid: kid.chars().take(MAX_REFETCH_KID_LEN).collect(),
                refetched: false,
            });
        }
        let mut waits = Vec::new();
        for (id, state) in self.registry.live.of_project(project) {
            match self.registry.on_miss(&id, &state, kid) {
                MissAction::Wait(n, started) => {
                    if started {
                        counters.miss_refetches.fetch_add(1, Ordering::Relaxed);
                    }
                    waits.push((state, n));
                }
                MissAction::Suppressed => {
                    counters.miss_suppressed.fetch_add(1, Ordering::Relaxed);
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
                let now = Instant::now();
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
