//! The registry's rules as pure functions: how a remote set's fetch is merged (grace,
//! withdrawal, backoff), when a rotation may promote, what a secret's listing shows, and
//! the bounds of what callers ask for. No store, no clock: every time is an argument.

pub mod remote;
pub mod rotation;
pub(crate) mod secrets;

use crate::error::{RegistryError, Result};

/// A number as given (or its default), refused outside 1 ..= `max` (the server's bound,
/// whatever the request says).
pub(crate) fn bounded(
    field: &str,
    given: Option<u64>,
    default: u64,
    max: u64,
    unit: &str,
) -> Result<u64> {
    let value = given.unwrap_or(default.min(max));
    if value == 0 || value > max {
        return Err(RegistryError::bad_request(format!(
            "{field} ({value}) is not valid! It must be between 1 and {max} {unit}."
        )));
    }
    Ok(value)
}

/// A random factor in [lo, hi), for jitter.
pub fn jitter(lo: f64, hi: f64) -> f64 {
    let mut raw = [0u8; 4];
    let r = getrandom::fill(&mut raw).map_or(0, |()| u32::from_be_bytes(raw));
    lo + (hi - lo) * (f64::from(r) / (f64::from(u32::MAX) + 1.0))
}
