//! Keeps this process's node-local targets (memory environments' resolvers, host targets
//! that say `node_local`) serving the registry: loaded at start, refreshed when another node
//! announces a change, and when a served JWK's `nbf` or `exp` comes (its own or its
//! certificate's) every environment is redeployed (the node-local targets here, the others
//! once, by a `Redeploy` as the system's reconcile actor).

use std::sync::Arc;
use std::time::Duration;

use jwk_registry::{Actor, Command, Registry, RegistryError, SystemRole};

use crate::runner::{BoxFuture, Controller, Pace};

/// The validity controller.
pub struct Validity {
    registry: Arc<Registry>,
    bound: tokio::sync::Mutex<tokio::sync::watch::Receiver<i64>>,
}

impl Validity {
    /// The controller of `registry`.
    pub fn new(registry: Arc<Registry>) -> Validity {
        let bound = tokio::sync::Mutex::new(registry.next_validity_bound());
        Validity { registry, bound }
    }

    /// One pass: the node-local targets brought up to date; when a validity bound has come,
    /// every environment redeployed. How long until the next bound (at most an hour, so a
    /// clock that jumps is noticed).
    pub async fn run_once(&self) -> Result<Duration, RegistryError> {
        // Whether a bound of what is served has come (read before the refresh, which moves
        // it on): what is served changes at the same revision, everywhere.
        let bound_came = self.until_bound().is_zero();
        self.registry.refresh_local().await?;
        if bound_came {
            let reconcile = Actor::system(SystemRole::Reconcile);
            self.registry.apply(&reconcile, Command::Redeploy).await?;
        }
        Ok(self.until_bound())
    }

    fn until_bound(&self) -> Duration {
        let next = *self.registry.next_validity_bound().borrow();
        let ms = next
            .saturating_mul(1000)
            .saturating_sub(self.registry.clock().now_ms())
            .clamp(0, 3_600_000);
        Duration::from_millis(u64::try_from(ms).unwrap_or(0))
    }
}

impl Controller for Validity {
    fn name(&self) -> &'static str {
        "validity"
    }

    /// Woken by other nodes' changes (this node's own are deployed as they are made) and by
    /// a moved bound; else at the next bound, at most an hour away.
    fn pace(&self) -> Pace {
        Pace {
            max_wait: Duration::from_secs(3600),
            min_gap: Duration::ZERO,
            local_changes: false,
            remote_changes: true,
        }
    }

    fn pass(self: Arc<Self>) -> BoxFuture<'static, Result<Duration, RegistryError>> {
        Box::pin(async move { self.run_once().await })
    }

    fn woken(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            let mut bound = self.bound.lock().await;
            if bound.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        })
    }
}
