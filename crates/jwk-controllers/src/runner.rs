//! The one runner of every controller: a pass, then a wait that ends at the pass's next due
//! time (at most the controller's longest wait, with jitter), on what the controller wakes
//! for (a change committed in this process, one another node announces, something of its
//! own), never sooner than its shortest gap after the last pass; after a failed pass, a
//! backoff with jitter.

use std::sync::Arc;
use std::time::Duration;

use jwk_registry::rules::{jitter, remote::backoff_ms};
use jwk_registry::{Registry, RegistryError};

/// A boxed future.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// When a controller's next pass comes, besides its own due time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pace {
    /// The longest wait between two passes (jitter takes up to a tenth off it).
    pub max_wait: Duration,
    /// The shortest gap between the starts of two passes, however often it is woken.
    pub min_gap: Duration,
    /// Woken by a change committed in this process.
    pub local_changes: bool,
    /// Woken by a change another node announces (a store shared by several nodes).
    pub remote_changes: bool,
}

/// One piece of background work, run in passes.
pub trait Controller: Send + Sync + 'static {
    /// Its name, for the log.
    fn name(&self) -> &'static str;

    /// How often it runs and what wakes it.
    fn pace(&self) -> Pace;

    /// One pass: what is due now; how long until something is due again.
    fn pass(self: Arc<Self>) -> BoxFuture<'static, Result<Duration, RegistryError>>;

    /// Woken early by something of its own (a moved validity bound).
    fn woken(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::pending())
    }
}

/// Until `rx` changes (false once its sender is gone); never without one.
async fn changed(rx: &mut Option<tokio::sync::watch::Receiver<u64>>) -> bool {
    match rx {
        Some(rx) => rx.changed().await.is_ok(),
        None => std::future::pending().await,
    }
}

/// Runs `controller` until the task is dropped.
pub(crate) async fn run(controller: Arc<dyn Controller>, registry: Arc<Registry>) {
    let pace = controller.pace();
    let mut local = pace.local_changes.then(|| registry.changes());
    let mut remote = if pace.remote_changes {
        registry.store().watch()
    } else {
        None
    };
    let mut failures = 0u32;
    loop {
        let started = tokio::time::Instant::now();
        let wait = match controller.clone().pass().await {
            Ok(next) => {
                failures = 0;
                next.min(pace.max_wait.mul_f64(jitter(0.9, 1.0)))
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::warn!(controller = controller.name(), error = %e, "a controller's pass failed");
                Duration::from_millis(u64::try_from(backoff_ms(failures)).unwrap_or(1000))
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            up = changed(&mut local) => {
                if !up {
                    local = None;
                }
            }
            up = changed(&mut remote) => {
                if !up {
                    remote = None; // the store stopped announcing: timers only
                }
            }
            () = controller.woken() => {}
        }
        tokio::time::sleep_until(started + pace.min_gap).await;
    }
}
