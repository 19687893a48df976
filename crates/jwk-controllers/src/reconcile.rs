//! Redeploys, at an interval, every environment whose last deployment failed or is behind:
//! a failed environment does not undo a change, it stays pending until this succeeds.

use std::sync::Arc;
use std::time::Duration;

use jwk_registry::{Actor, Command, Registry, RegistryError, SystemRole};

use crate::runner::{BoxFuture, Controller, Pace};

/// The reconcile controller.
pub struct Reconcile {
    registry: Arc<Registry>,
    interval: Duration,
    /// The first pass is one interval after the start (the start itself deploys).
    started: tokio::time::Instant,
    last: tokio::sync::Mutex<Option<tokio::time::Instant>>,
}

impl Reconcile {
    /// Redeploys `registry`'s environments behind, every `interval`.
    pub fn new(registry: Arc<Registry>, interval: Duration) -> Reconcile {
        Reconcile {
            registry,
            interval: interval.max(Duration::from_secs(1)),
            started: tokio::time::Instant::now(),
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// Redeploys every environment behind now.
    pub async fn run_once(&self) -> Result<(), RegistryError> {
        let reconcile = Actor::system(SystemRole::Reconcile);
        self.registry.apply(&reconcile, Command::Redeploy).await?;
        Ok(())
    }
}

impl Controller for Reconcile {
    fn name(&self) -> &'static str {
        "reconcile"
    }

    /// At its interval, whatever changes.
    fn pace(&self) -> Pace {
        Pace {
            max_wait: self.interval,
            min_gap: Duration::ZERO,
            local_changes: false,
            remote_changes: false,
        }
    }

    fn pass(self: Arc<Self>) -> BoxFuture<'static, Result<Duration, RegistryError>> {
        Box::pin(async move {
            let now = tokio::time::Instant::now();
            let mut last = self.last.lock().await;
            let due = last.unwrap_or(self.started) + self.interval;
            if now < due {
                return Ok(due - now);
            }
            *last = Some(now);
            drop(last);
            self.run_once().await?;
            Ok(self.interval)
        })
    }
}
