//! jwk-controllers: the registry's background work, as clients of its public API.
//!
//! Each controller reads through the registry's reads and changes through
//! `Registry::apply` as a system actor (`Actor::system(role)`, named in the audit log), so
//! it changes only the fields its work owns and never approves a person's pending edit. It
//! never sees a record or the store.
//!
//! - [`Refresh`]: remote JWK Sets and followed URL JWKs, refreshed ahead of their interval,
//!   one fetch per interval among nodes (a lease); [`LiveKeys`] refetches on unknown kids.
//! - [`Rotation`]: scheduled rotation of credential slots and generated JWKs.
//! - [`Validity`]: node-local targets kept current, and a redeploy at each key's `nbf`/`exp`.
//! - [`Reconcile`]: a redeploy of environments behind, at an interval.
//!
//! One call starts them all for any host ([`start`]); `jwkd` uses it.

mod live;
mod reconcile;
mod refresh;
mod rotation;
mod runner;
mod validity;

use std::sync::Arc;
use std::time::Duration;

pub use live::{DEFAULT_MISS_WAIT, LiveKeys, LiveProjectKeys, LookupError, MAX_REFETCH_KID_LEN};
pub use reconcile::Reconcile;
pub use refresh::{MissStats, Refresh};
pub use rotation::Rotation;
pub use runner::{BoxFuture, Controller, Pace};
pub use validity::Validity;

use jwk_registry::Registry;

/// How the controllers run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Settings {
    /// How often environments behind are redeployed (default 30 s).
    pub reconcile_interval: Duration,
}

/// The default reconcile interval.
pub const DEFAULT_RECONCILE_INTERVAL: Duration = Duration::from_secs(30);

impl Default for Settings {
    fn default() -> Self {
        Settings {
            reconcile_interval: DEFAULT_RECONCILE_INTERVAL,
        }
    }
}

impl Settings {
    /// With this reconcile interval (at least 1 s).
    pub fn reconcile_interval(mut self, interval: Duration) -> Settings {
        self.reconcile_interval = interval.max(Duration::from_secs(1));
        self
    }
}

/// The running controllers of one registry; they stop when this is dropped.
pub struct Controllers {
    refresh: Arc<Refresh>,
    rotation: Arc<Rotation>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

impl std::fmt::Debug for Controllers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Controllers")
            .field("tasks", &self.tasks.len())
            .finish_non_exhaustive()
    }
}

/// Starts every controller of `registry` on `runtime` (give a host its own runtime for them:
/// their fetches and store work then use its blocking threads, never those serving the
/// host's requests). Loads the node-local targets at once; a rotation missed while the
/// process was down runs at once.
pub fn start(
    registry: Arc<Registry>,
    runtime: &tokio::runtime::Handle,
    settings: Settings,
) -> Controllers {
    let refresh = Arc::new(Refresh::new(registry.clone()).on(runtime.clone()));
    let rotation = Arc::new(Rotation::new(registry.clone()));
    let all: [Arc<dyn Controller>; 4] = [
        Arc::new(Validity::new(registry.clone())),
        refresh.clone(),
        rotation.clone(),
        Arc::new(Reconcile::new(
            registry.clone(),
            settings.reconcile_interval,
        )),
    ];
    let tasks = all
        .into_iter()
        .map(|c| runtime.spawn(runner::run(c, registry.clone())))
        .collect();
    Controllers {
        refresh,
        rotation,
        tasks,
    }
}

impl Controllers {
    /// The lookup of keys a `memory` environment serves, with refetch on an unknown kid.
    pub fn live_keys(&self, environment: &str) -> LiveKeys {
        self.refresh.live_keys(environment)
    }

    /// True once every remote JWK Set and followed JWK was refreshed once (or its first
    /// attempt failed): what `jwkd`'s `/readyz` waits for.
    pub fn jwk_sets_ready(&self) -> bool {
        self.refresh.ready()
    }

    /// What lookups of unknown kids did in this process.
    pub fn miss_stats(&self) -> MissStats {
        self.refresh.miss_stats()
    }

    /// When a rotation publishes its next JWK next (Unix seconds), as the rotation
    /// controller last saw.
    pub fn next_scheduled_publication(&self) -> Option<i64> {
        self.rotation.next_scheduled_publication()
    }

    /// The refresh controller (tests step it with [`Refresh::run_once`]).
    pub fn refresh(&self) -> &Arc<Refresh> {
        &self.refresh
    }

    /// The rotation controller.
    pub fn rotation(&self) -> &Arc<Rotation> {
        &self.rotation
    }
}

impl Drop for Controllers {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}
