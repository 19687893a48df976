//! The registry's clock. Key validity (`nbf` / `exp`, certificates' validity) is judged by
//! it, so a host's tests can move time instead of waiting for it.

use std::sync::atomic::{AtomicI64, Ordering};

/// Wall time for the registry, in Unix milliseconds.
pub trait Clock: Send + Sync + std::fmt::Debug {
    /// Now, in milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// Now, in whole seconds since the Unix epoch (JWT `NumericDate`).
    fn now_secs(&self) -> i64 {
        self.now_ms().div_euclid(1000)
    }
}

/// The system's wall clock (the default).
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        let nanos = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
        i64::try_from(nanos).unwrap_or(i64::MAX)
    }
}

/// A clock that stands still until it is set or advanced: for tests of validity and
/// schedules.
#[derive(Debug)]
pub struct ManualClock {
    ms: AtomicI64,
}

impl ManualClock {
    /// A clock at `ms` (Unix milliseconds).
    pub fn at_ms(ms: i64) -> ManualClock {
        ManualClock {
            ms: AtomicI64::new(ms),
        }
    }

    /// A clock at `secs` (Unix seconds).
    pub fn at_secs(secs: i64) -> ManualClock {
        ManualClock::at_ms(secs.saturating_mul(1000))
    }

    /// Sets the time (Unix milliseconds).
    pub fn set_ms(&self, ms: i64) {
        self.ms.store(ms, Ordering::SeqCst);
    }

    /// Moves the time on by `secs` seconds.
    pub fn advance_secs(&self, secs: i64) {
        self.ms
            .fetch_add(secs.saturating_mul(1000), Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.ms.load(Ordering::SeqCst)
    }
}
