//! The one runner of every controller: a pass, then a wait that ends at the pass's next due
//! time (at most a tick, with jitter), on a change committed in this process or announced by
//! another node, or on the controller's own wake; after a failed pass, a backoff with jitter.

use std::sync::Arc;
use std::time::Duration;

use jwk_registry::rules::{jitter, remote::backoff_ms};
use jwk_registry::{Registry, RegistryError};

/// A boxed future.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

/// One piece of background work, run in passes.
pub trait Controller: Send + Sync + 'static {
    /// Its name, for the log.
    fn name(&self) -> &'static str;

    /// One pass: what is due now; how long until something is due again (the runner looks
    /// again within a tick anyway).
    fn pass(self: Arc<Self>) -> BoxFuture<'static, Result<Duration, RegistryError>>;

    /// Woken early by something of its own (a policy set here, a moved validity bound).
    fn woken(&self) -> BoxFuture<'_, ()> {
        Box::pin(std::future::pending())
    }
}

/// Runs `controller` until the task is dropped.
pub(crate) async fn run(controller: Arc<dyn Controller>, registry: Arc<Registry>, tick: Duration) {
    let mut local = registry.changes();
    let mut remote = registry.store().watch();
    let mut failures = 0u32;
    loop {
        let wait = match controller.clone().pass().await {
            Ok(next) => {
                failures = 0;
                let tick = tick.mul_f64(jitter(0.9, 1.0));
                next.min(tick)
            }
            Err(e) => {
                failures = failures.saturating_add(1);
                tracing::warn!(controller = controller.name(), error = %e, "a controller's pass failed");
                Duration::from_millis(u64::try_from(backoff_ms(failures)).unwrap_or(1000))
            }
        };
        let announced = async {
            match &mut remote {
                Some(rx) => rx.changed().await.is_ok(),
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = local.changed() => {}
            up = announced => {
                if !up {
                    remote = None; // the store stopped announcing: timers only
                }
            }
            () = controller.woken() => {}
        }
    }
}
