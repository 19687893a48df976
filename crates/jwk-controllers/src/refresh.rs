//! Keeps every remote JWK Set and followed URL JWK fresh, as the system's refresh actor:
//! each is refreshed once at start, then each time its interval (the server's max-age within
//! the source's bounds, with jitter) is nearly up, so no lookup waits for a scheduled
//! refresh; failed fetches are retried with backoff. One refresh per source at a time in a
//! process (single flight), and one fetch per interval among the nodes sharing a store (a
//! lease). A refresh reads the fetch plan, fetches, and applies `Command::RecordFetch`: the
//! registry merges, records and deploys.
//!
//! Lookups of unknown kids ([`crate::LiveKeys`]) ask this controller for a refetch, within
//! each source's cooldown, memory of misses and hourly budget, so random kids cannot turn a
//! gateway into an amplifier. Every time is the registry's clock's.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use jwk_registry::{Actor, Command, Followed, RefreshPolicy, Registry, RegistryError, SystemRole};

use crate::runner::{BoxFuture, Controller, Pace};

/// Most unknown kids remembered per set (beyond it, the cooldown alone suppresses misses).
pub(crate) const MAX_REMEMBERED_MISSES: usize = 4096;
/// The controller looks for due sources and new or deleted ones at least this often.
const TICK_MS: i64 = 1000;

/// Why a source is refreshed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Why {
    /// Its interval is up (skipped when another node already refreshed it).
    Scheduled,
    /// A lookup asked for a kid it does not serve.
    Miss,
}

/// One source's in-process state.
pub(crate) struct SourceState {
    pub(crate) inner: Mutex<SourceInner>,
    /// The number of refreshes finished, announced to waiters.
    pub(crate) done: tokio::sync::watch::Sender<u64>,
}

pub(crate) struct SourceInner {
    pub(crate) policy: RefreshPolicy,
    pub(crate) running: bool,
    pub(crate) finished: u64,
    /// When the controller next looks at the source (Unix ms).
    due_ms: i64,
    /// The last refetch a miss caused (Unix ms).
    last_miss_fetch: Option<i64>,
    /// Kids looked up and not served, with when (Unix ms).
    pub(crate) misses: HashMap<String, i64>,
    /// The hour the budget counts in (its start, Unix ms), and the refetches misses caused
    /// in it.
    budget_window: i64,
    budget_used: u64,
}

pub(crate) fn lock_inner(state: &SourceState) -> std::sync::MutexGuard<'_, SourceInner> {
    state.inner.lock().unwrap_or_else(|p| p.into_inner())
}

/// What a miss may do about one source.
pub(crate) enum MissAction {
    /// Wait for the refresh that ends as the `n`-th (`true`: this miss started it).
    Wait(u64, bool),
    /// Nothing (cooldown, a remembered miss, or the budget spent).
    Suppressed,
}

/// Refreshes started, each as (its source, the number of the refresh to wait for).
type Started = Vec<(Arc<SourceState>, u64)>;

/// Counts of what lookups of unknown kids did, in this process.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct MissStats {
    /// Misses that made a set be fetched.
    pub refetches: u64,
    /// Misses that did not (cooldown, a remembered miss, the budget spent).
    pub suppressed: u64,
}

/// The refresh controller.
pub struct Refresh {
    pub(crate) registry: Arc<Registry>,
    actor: Actor,
    sources: Mutex<HashMap<Followed, Arc<SourceState>>>,
    /// The content revision the source list was read at.
    seen_revision: Mutex<Option<u64>>,
    /// The refreshes the first pass started, until they all finished.
    first_pass: Mutex<Option<Started>>,
    /// True once every source was refreshed (or failed) once since the controller started.
    ready: AtomicBool,
    pub(crate) miss_refetches: AtomicU64,
    pub(crate) miss_suppressed: AtomicU64,
    /// Where refreshes run (the controllers' runtime, so that a refetch a lookup asks for
    /// never takes the threads serving the host's requests); `None`: the caller's runtime.
    runtime: Option<tokio::runtime::Handle>,
}

impl Refresh {
    /// The controller of `registry`'s remote sets and followed JWKs.
    pub fn new(registry: Arc<Registry>) -> Refresh {
        Refresh {
            registry,
            actor: Actor::system(SystemRole::Refresh),
            sources: Mutex::new(HashMap::new()),
            seen_revision: Mutex::new(None),
            first_pass: Mutex::new(None),
            ready: AtomicBool::new(false),
            miss_refetches: AtomicU64::new(0),
            miss_suppressed: AtomicU64::new(0),
            runtime: None,
        }
    }

    /// Refreshes run on `runtime`.
    pub(crate) fn on(mut self, runtime: tokio::runtime::Handle) -> Refresh {
        self.runtime = Some(runtime);
        self
    }

    fn now_ms(&self) -> i64 {
        self.registry.clock().now_ms()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Followed, Arc<SourceState>>> {
        self.sources.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// True once every remote JWK Set and followed JWK was refreshed once (or its first
    /// attempt failed) since the controller started: what `jwkd`'s `/readyz` waits for.
    pub fn ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// What lookups of unknown kids did in this process.
    pub fn miss_stats(&self) -> MissStats {
        MissStats {
            refetches: self.miss_refetches.load(Ordering::Relaxed),
            suppressed: self.miss_suppressed.load(Ordering::Relaxed),
        }
    }

    /// Brings the source list in line with the store's; new sources are due now.
    fn sync(&self, defs: Vec<(Followed, RefreshPolicy)>) {
        let now = self.now_ms();
        let mut sources = self.lock();
        sources.retain(|id, _| defs.iter().any(|(d, _)| d == id));
        for (id, policy) in defs {
            let state = sources.entry(id).or_insert_with(|| {
                Arc::new(SourceState {
                    inner: Mutex::new(SourceInner {
                        policy,
                        running: false,
                        finished: 0,
                        due_ms: now,
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
    pub(crate) fn of_project(&self, project: &str) -> Vec<(Followed, Arc<SourceState>)> {
        self.lock()
            .iter()
            .filter(|(id, _)| matches!(id, Followed::Set { project: p, .. } if p == project))
            .map(|(id, s)| (id.clone(), s.clone()))
            .collect()
    }

    /// One refresh of `source`: its plan, its lease, the fetch, the record. When it is next
    /// due (Unix ms).
    async fn refresh_once(
        self: &Arc<Self>,
        source: &Followed,
        why: Why,
    ) -> Result<i64, RegistryError> {
        let (reg, what) = (self.registry.clone(), source.clone());
        let fetched = self
            .registry
            .run_blocking(move || {
                let now = reg.clock().now_ms();
                let Some(plan) = reg.fetch_plan(&what)? else {
                    return Ok(Err(now.saturating_add(TICK_MS))); // no longer followed
                };
                if why == Why::Scheduled && plan.next_refresh_ms > now {
                    return Ok(Err(plan.next_refresh_ms)); // another node refreshed it
                }
                let name = what.lease_name();
                let Some(lease) = reg.try_lease(&name, plan.lease_ms())? else {
                    // Another node (or another refresh here) is at it.
                    let until = reg.lease_holder(&name)?.map_or(now, |(_, until)| until);
                    return Ok(Err(until.max(now.saturating_add(TICK_MS))));
                };
                // Read again under the lease: the fetch is of the definition as it stands.
                let plan = match reg.fetch_plan(&what)? {
                    Some(plan) if why != Why::Scheduled || plan.next_refresh_ms <= now => plan,
                    other => {
                        reg.release_lease(&lease)?;
                        return Ok(Err(
                            other.map_or(now.saturating_add(TICK_MS), |p| p.next_refresh_ms)
                        ));
                    }
                };
                let outcome = reg.fetch_followed(&plan);
                Ok(Ok((plan, lease, outcome)))
            })
            .await?;
        let (plan, lease, outcome) = match fetched {
            Ok(fetched) => fetched,
            Err(next_due) => return Ok(next_due),
        };
        let recorded = self
            .registry
            .apply(
                &self.actor,
                Command::RecordFetch {
                    plan,
                    lease,
                    outcome,
                },
            )
            .await?;
        Ok(recorded
            .refreshed
            .map_or_else(|| self.now_ms(), |r| r.next_due_ms))
    }

    /// Starts a refresh of `id` unless one runs; the number of the refresh to wait for.
    pub(crate) fn start_refresh(
        self: &Arc<Self>,
        id: &Followed,
        state: &Arc<SourceState>,
        why: Why,
    ) -> u64 {
        let mut inner = lock_inner(state);
        let target = inner.finished + 1;
        if inner.running {
            return target;
        }
        inner.running = true;
        drop(inner);
        let (me, id, state) = (self.clone(), id.clone(), state.clone());
        let refresh = async move {
            let next_due = match me.refresh_once(&id, why).await {
                Ok(due) => due,
                Err(e) => {
                    tracing::warn!(followed = ?id, error = %e, "refreshing a remote JWK Set or followed JWK failed");
                    me.now_ms().saturating_add(TICK_MS)
                }
            };
            let mut inner = lock_inner(&state);
            inner.running = false;
            inner.finished += 1;
            inner.due_ms = next_due;
            let finished = inner.finished;
            drop(inner);
            state.done.send_replace(finished);
        };
        match &self.runtime {
            Some(runtime) => drop(runtime.spawn(refresh)),
            None => drop(tokio::spawn(refresh)),
        }
        target
    }

    /// One pass: the source list brought up to date when the content changed, every source
    /// due refreshed (in tasks of their own). How long until the next one is due.
    pub async fn run_once(self: &Arc<Self>) -> Result<Duration, RegistryError> {
        Ok(self.pass_started().await?.0)
    }

    /// [`Refresh::run_once`], then waits for the refreshes it started to finish (tests, and
    /// hosts that step the controller themselves).
    pub async fn run_once_and_wait(self: &Arc<Self>) -> Result<Duration, RegistryError> {
        let (next, started) = self.pass_started().await?;
        for (state, n) in started {
            let mut rx = state.done.subscribe();
            // The sender lives as long as the state; a closed channel ends the wait.
            let _ = rx.wait_for(|finished| *finished >= n).await;
        }
        Ok(next)
    }

    /// The lookup of keys a `memory` environment serves, with refetch on an unknown kid by
    /// this controller.
    pub fn live_keys(self: &Arc<Self>, environment: &str) -> crate::LiveKeys {
        crate::LiveKeys {
            refresh: self.clone(),
            resolver: self.registry.resolver(environment),
            wait: crate::DEFAULT_MISS_WAIT,
        }
    }

    /// One pass, and the refreshes it started.
    async fn pass_started(self: &Arc<Self>) -> Result<(Duration, Started), RegistryError> {
        let reg = self.registry.clone();
        let revision = self
            .registry
            .run_blocking(move || reg.content_revision())
            .await?;
        let seen = *self.seen_revision.lock().unwrap_or_else(|p| p.into_inner());
        if seen != Some(revision) {
            let reg = self.registry.clone();
            let defs = self.registry.run_blocking(move || reg.followed()).await?;
            self.sync(defs);
            *self.seen_revision.lock().unwrap_or_else(|p| p.into_inner()) = Some(revision);
        }
        let now = self.now_ms();
        let sources: Vec<(Followed, Arc<SourceState>)> = self
            .lock()
            .iter()
            .map(|(id, s)| (id.clone(), s.clone()))
            .collect();
        let mut started = Vec::new();
        let mut next = now.saturating_add(TICK_MS);
        for (id, state) in sources {
            let (due, running) = {
                let inner = lock_inner(&state);
                (inner.due_ms, inner.running)
            };
            if due <= now && !running {
                started.push((
                    state.clone(),
                    self.start_refresh(&id, &state, Why::Scheduled),
                ));
            } else {
                next = next.min(due.max(now.saturating_add(50)));
            }
        }
        let mut first = self.first_pass.lock().unwrap_or_else(|p| p.into_inner());
        if first.is_none() {
            *first = Some(started.clone());
        }
        if let Some(pending) = first.as_mut()
            && !self.ready.load(Ordering::Acquire)
        {
            pending.retain(|(state, n)| *state.done.borrow() < *n);
            if pending.is_empty() {
                self.ready.store(true, Ordering::Release);
            } else {
                next = next.min(now.saturating_add(50));
            }
        }
        drop(first);
        let wait = Duration::from_millis(u64::try_from(next.saturating_sub(now)).unwrap_or(0));
        Ok((wait, started))
    }

    /// What a miss of `kid` may do about one source.
    pub(crate) fn on_miss(
        self: &Arc<Self>,
        id: &Followed,
        state: &Arc<SourceState>,
        kid: &str,
    ) -> MissAction {
        let now = self.now_ms();
        let mut inner = lock_inner(state);
        if inner.running {
            return MissAction::Wait(inner.finished + 1, false);
        }
        let cooldown = i64::try_from(inner.policy.miss_cooldown_seconds)
            .unwrap_or(i64::MAX)
            .saturating_mul(1000);
        let recent = |at: i64| now.saturating_sub(at) < cooldown;
        let remembered = inner.misses.get(kid).is_some_and(|at| recent(*at));
        let cooling = inner.last_miss_fetch.is_some_and(recent);
        if now.saturating_sub(inner.budget_window) >= 3_600_000 {
            inner.budget_window = now;
            inner.budget_used = 0;
        }
        let spent = inner.budget_used >= inner.policy.miss_budget_per_hour;
        if remembered || cooling || spent {
            if inner.misses.len() >= MAX_REMEMBERED_MISSES {
                inner.misses.retain(|_, at| recent(*at));
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

impl Controller for Refresh {
    fn name(&self) -> &'static str {
        "refresh"
    }

    /// Each second at least, and when a source is due: new and deleted sources are picked
    /// up within a second (the content revision is read each pass), changes do not wake it.
    fn pace(&self) -> Pace {
        Pace {
            max_wait: Duration::from_millis(u64::try_from(TICK_MS).unwrap_or(1000)),
            min_gap: Duration::ZERO,
            local_changes: false,
            remote_changes: false,
        }
    }

    fn pass(self: Arc<Self>) -> BoxFuture<'static, Result<Duration, RegistryError>> {
        Box::pin(async move { self.run_once().await })
    }
}
