//! URL fetches in progress: a bound on how many run at once, and counts of how they went.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::error::{RegistryError, Result};

/// At most `max` URL fetches at once; one beyond is refused at once.
#[derive(Debug)]
pub(crate) struct FetchGate {
    max: usize,
    running: AtomicUsize,
}

/// One URL fetch in progress ([`FetchGate::slot`]); released on drop.
pub(crate) struct FetchSlot<'a>(&'a AtomicUsize);

impl Drop for FetchSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

impl FetchGate {
    pub(crate) fn new(max: usize) -> FetchGate {
        FetchGate {
            max,
            running: AtomicUsize::new(0),
        }
    }

    /// A slot for one fetch, held until dropped; `temporarily_unavailable` when `max` are in
    /// progress.
    pub(crate) fn slot(&self) -> Result<FetchSlot<'_>> {
        let max = self.max;
        self.running
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .map_err(|_| {
                RegistryError::busy(format!(
                    "Too many URL fetches are in progress ({max}): try again in a few seconds!"
                ))
            })?;
        Ok(FetchSlot(&self.running))
    }
}

/// Fetches of remote JWK Sets by (project, set, result), for metrics. Entries of deleted
/// sets are dropped, so the count of entries is bounded by what the registry holds.
#[derive(Debug, Default)]
pub(crate) struct FetchTally(Mutex<HashMap<(String, String, String), u64>>);

impl FetchTally {
    pub(crate) fn fetched(&self, project: &str, set: &str, result: &str) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry((project.to_owned(), set.to_owned(), result.to_owned()))
            .or_default() += 1;
    }

    /// The fetch counts of the sets in `sets` (others are forgotten).
    pub(crate) fn counts(&self, sets: &[(String, String)]) -> Vec<(String, String, String, u64)> {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|(p, s, _), _| sets.iter().any(|(sp, ss)| sp == p && ss == s));
        let mut out: Vec<_> = map
            .iter()
            .map(|((p, s, r), n)| (p.clone(), s.clone(), r.clone(), *n))
            .collect();
        out.sort();
        out
    }
}
