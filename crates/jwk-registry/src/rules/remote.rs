//! Remote JWK Sets and followed URL JWKs: which keys of a fetched set are served, how a
//! fetch is merged with what was served (a vanished key stays for its grace period), how
//! the refresh interval follows the server's max-age within the policy's bounds, and how
//! failures back off until the stale limit withdraws the keys. Times are Unix milliseconds.

use super::{bounded, jitter};
use crate::error::{RegistryError, Result};
use crate::records::{SetKeyRec, SetStatusRec};
use crate::types::{RefreshPolicy, ResyncReport, SkippedKey};

/// The longest interval, grace or cooldown a policy may ask for: 7 days.
pub const MAX_INTERVAL_SECONDS: u64 = 7 * 86_400;
/// The longest stale limit: 30 days.
pub const MAX_STALE_SECONDS: u64 = 30 * 86_400;
/// The largest miss budget per hour.
pub const MAX_MISS_BUDGET: u64 = 3600;
/// Retries after a failed fetch wait 1 s, 2 s, 4 s … up to this (before jitter).
pub const MAX_BACKOFF_MS: i64 = 60_000;

/// The wait after the `failures`-th failure in a row: 1 s doubling to 1 min, with jitter
/// (half to all of it).
pub fn backoff_ms(failures: u32) -> i64 {
    let base = 1000i64
        .checked_shl(failures.saturating_sub(1).min(16))
        .unwrap_or(MAX_BACKOFF_MS)
        .min(MAX_BACKOFF_MS);
    (base as f64 * jitter(0.5, 1.0)) as i64
}

/// The refresh interval for a server's max-age: the policy's default without one, always
/// within its bounds.
pub fn interval_seconds(policy: &RefreshPolicy, max_age: Option<u64>) -> u64 {
    max_age
        .unwrap_or(policy.default_interval_seconds)
        .clamp(policy.min_interval_seconds, policy.max_interval_seconds)
}

/// The interval after a successful fetch: from its `max-age`; a 304 without one keeps the
/// interval in force (`previous`, when there is one), as the set it confirms was served with.
pub fn refreshed_interval(
    policy: &RefreshPolicy,
    max_age: Option<u64>,
    not_modified: bool,
    previous: u64,
) -> u64 {
    match (max_age, not_modified) {
        (None, true) if previous > 0 => {
            previous.clamp(policy.min_interval_seconds, policy.max_interval_seconds)
        }
        _ => interval_seconds(policy, max_age),
    }
}

/// When the next refresh is due after a success at `now`: ahead of the interval (at 80 to
/// 90 % of it), so that no lookup waits for a scheduled refresh.
pub fn next_refresh_ms(now: i64, interval_seconds: u64) -> i64 {
    now.saturating_add((interval_seconds as f64 * 1000.0 * jitter(0.8, 0.9)) as i64)
}

/// Checks a policy against its bounds.
pub fn checked_policy(p: &RefreshPolicy) -> Result<RefreshPolicy> {
    let seconds = |field: &str, value: u64, max: u64| {
        bounded(field, Some(value), value, max, "seconds").map(|_| ())
    };
    seconds(
        "refresh.minIntervalSeconds",
        p.min_interval_seconds,
        MAX_INTERVAL_SECONDS,
    )?;
    seconds(
        "refresh.maxIntervalSeconds",
        p.max_interval_seconds,
        MAX_INTERVAL_SECONDS,
    )?;
    seconds(
        "refresh.defaultIntervalSeconds",
        p.default_interval_seconds,
        MAX_INTERVAL_SECONDS,
    )?;
    if p.min_interval_seconds > p.max_interval_seconds {
        return Err(RegistryError::bad_request(format!(
            "refresh.minIntervalSeconds ({}) is larger than refresh.maxIntervalSeconds ({})!",
            p.min_interval_seconds, p.max_interval_seconds
        )));
    }
    if let Some(grace) = p.grace_seconds
        && grace > MAX_INTERVAL_SECONDS
    {
        return Err(RegistryError::bad_request(format!(
            "refresh.graceSeconds ({grace}) is not valid! It must be between 0 and {MAX_INTERVAL_SECONDS} seconds."
        )));
    }
    seconds(
        "refresh.staleLimitSeconds",
        p.stale_limit_seconds,
        MAX_STALE_SECONDS,
    )?;
    seconds(
        "refresh.missCooldownSeconds",
        p.miss_cooldown_seconds,
        MAX_INTERVAL_SECONDS,
    )?;
    bounded(
        "refresh.missBudgetPerHour",
        Some(p.miss_budget_per_hour),
        0,
        MAX_MISS_BUDGET,
        "fetches",
    )?;
    Ok(*p)
}

/// Reads a fetched body as the keys a set serves: every usable asymmetric key's public part,
/// once per kid; everything else skipped with its reason.
pub(crate) fn keys_of(body: &jwk_fetch::Fetched) -> Result<(Vec<SetKeyRec>, Vec<SkippedKey>)> {
    let set = jwk_fetch::parse_set(body)?;
    let mut keys: Vec<SetKeyRec> = Vec::new();
    let mut skipped = Vec::new();
    for (index, entry) in set.entries().iter().enumerate() {
        let skip = |code: &str, message: String| SkippedKey {
            index,
            kid: entry.kid.clone(),
            code: code.to_owned(),
            message,
        };
        let jwk = match &entry.key {
            Ok(jwk) => jwk,
            Err(e) => {
                skipped.push(skip(e.code(), e.to_string()));
                continue;
            }
        };
        let Some(public) = jwk.to_public() else {
            skipped.push(skip(
                "jwk_set.symmetric_key",
                "a symmetric (oct) key is never taken from a remote JWK Set".to_owned(),
            ));
            continue;
        };
        let kid = public.params().kid.clone();
        if kid.is_some() && keys.iter().any(|k| k.kid == kid) {
            skipped.push(skip(
                "jwk_set.duplicate_kid",
                "an earlier key of the set has the same kid".to_owned(),
            ));
            continue;
        }
        keys.push(SetKeyRec {
            kid,
            thumbprint: crate::deploy::thumbprint(&public),
            jwk: public.to_json(),
            removed_at: None,
        });
    }
    if keys.is_empty() {
        return Err(RegistryError::Fetch {
            code: "jwk_set.no_usable_key",
            message: format!(
                "the JWK Set holds no usable public key ({} entries skipped)",
                skipped.len()
            ),
        });
    }
    Ok((keys, skipped))
}

/// The keys to serve after a fetch: the fetched ones, then the earlier ones gone from the set
/// while their grace period lasts; and the diff against the earlier live keys. At most
/// [`jwk_core::MAX_SET_KEYS`] are served: past it, the keys that left the set longest ago go
/// first (an upstream that keeps publishing new keys cannot grow what is served through the
/// grace period). Linear in the keys (sets of identities and thumbprints, not a search per
/// key).
pub(crate) fn merged(
    old: &[SetKeyRec],
    fresh: Vec<SetKeyRec>,
    now: i64,
    grace_ms: i64,
) -> (Vec<SetKeyRec>, ResyncReport) {
    use std::collections::{HashMap, HashSet};
    let mut report = ResyncReport::default();
    let mut live_old: HashMap<String, &SetKeyRec> = HashMap::new();
    for k in old.iter().filter(|k| k.removed_at.is_none()) {
        live_old.entry(k.identity()).or_insert(k);
    }
    let mut identities: HashSet<String> = HashSet::with_capacity(fresh.len());
    let mut thumbprints: HashSet<String> = HashSet::with_capacity(fresh.len());
    for k in &fresh {
        let identity = k.identity();
        match live_old.get(&identity) {
            None => report.added.push(identity.clone()),
            Some(o) if o.thumbprint != k.thumbprint => report.changed.push(identity.clone()),
            Some(_) => {}
        }
        identities.insert(identity);
        thumbprints.insert(k.thumbprint.clone());
    }
    for o in old.iter().filter(|k| k.removed_at.is_none()) {
        let identity = o.identity();
        if !identities.contains(&identity) {
            report.removed.push(identity);
        }
    }
    let mut keys = fresh;
    let served = keys.len();
    for o in old {
        let identity = o.identity();
        let gone = !identities.contains(&identity) && !thumbprints.contains(&o.thumbprint);
        let since = o.removed_at.unwrap_or(now);
        if gone && now < since.saturating_add(grace_ms) {
            identities.insert(identity);
            thumbprints.insert(o.thumbprint.clone());
            keys.push(SetKeyRec {
                removed_at: Some(since),
                ..o.clone()
            });
        }
    }
    if keys.len() > jwk_core::MAX_SET_KEYS {
        let mut grace = keys.split_off(served);
        // Newest departures first (a stable sort keeps the set's order among equals).
        grace.sort_by_key(|k| std::cmp::Reverse(k.removed_at));
        grace.truncate(jwk_core::MAX_SET_KEYS.saturating_sub(served));
        keys.extend(grace);
    }
    (keys, report)
}

/// The keys still served `now`: those in their grace period drop out when it ends.
pub(crate) fn pruned(old: &[SetKeyRec], now: i64, grace_ms: i64) -> Vec<SetKeyRec> {
    old.iter()
        .filter(|k| {
            k.removed_at
                .is_none_or(|at| now < at.saturating_add(grace_ms))
        })
        .cloned()
        .collect()
}

impl SetStatusRec {
    /// Records a successful fetch (a 304 keeps the validators it does not repeat) and
    /// schedules the next one ahead of `interval`.
    pub(crate) fn succeeded(
        &mut self,
        now: i64,
        interval: u64,
        (etag, last_modified): (Option<String>, Option<String>),
        not_modified: bool,
    ) {
        self.last_attempt = Some(now);
        self.last_success = Some(now);
        self.failures = 0;
        self.error_code = None;
        self.error_message = None;
        self.stale_since = None;
        self.etag = etag.or(self.etag.take().filter(|_| not_modified));
        self.last_modified = last_modified.or(self.last_modified.take().filter(|_| not_modified));
        self.interval_seconds = interval;
        self.next_refresh = next_refresh_ms(now, interval);
    }

    /// Records a failed fetch and schedules a retry with backoff; true once the last success
    /// is older than the policy's stale limit.
    pub(crate) fn failed(&mut self, now: i64, e: &RegistryError, policy: &RefreshPolicy) -> bool {
        self.last_attempt = Some(now);
        self.failures = self.failures.saturating_add(1);
        self.error_code = Some(e.code().to_owned());
        self.error_message = Some(e.message());
        let since = *self.stale_since.get_or_insert(now);
        let limit_ms = (policy.stale_limit_seconds as i64).saturating_mul(1000);
        let stale_at = self.last_success.unwrap_or(since).saturating_add(limit_ms);
        // The next attempt comes at the stale limit at the latest, so that a set still failing
        // then is withdrawn at its limit, not up to a backoff later.
        let retry = now.saturating_add(backoff_ms(self.failures));
        self.next_refresh = if now < stale_at {
            retry.min(stale_at)
        } else {
            retry
        };
        now >= stale_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn key(kid: &str, t: &str, removed_at: Option<i64>) -> SetKeyRec {
        SetKeyRec {
            kid: Some(kid.to_owned()),
            thumbprint: t.to_owned(),
            jwk: String::new(),
            removed_at,
        }
    }

    #[test]
    fn a_fetched_set_is_diffed_per_kid_and_vanished_keys_stay_for_the_grace_period() {
        let old = vec![
            key("a", "ta", None),
            key("b", "tb", None),
            key("c", "tc", None),
        ];
        let fresh = vec![
            key("a", "ta", None),
            key("b", "tb2", None),
            key("d", "td", None),
        ];
        let (keys, report) = merged(&old, fresh, 1_000, 500);
        assert_eq!(report.added, ["d"]);
        assert_eq!(report.changed, ["b"]);
        assert_eq!(report.removed, ["c"]);
        assert_eq!(
            keys,
            [
                key("a", "ta", None),
                key("b", "tb2", None),
                key("d", "td", None),
                key("c", "tc", Some(1_000)),
            ]
        );
        // Still gone later: served until 1 000 + 500, then dropped.
        let again = vec![key("a", "ta", None)];
        let (kept, report) = merged(&keys, again.clone(), 1_499, 500);
        assert_eq!(report.removed, ["b", "d"]);
        assert!(kept.contains(&key("c", "tc", Some(1_000))));
        let (kept, _) = merged(&keys, again, 1_500, 500);
        assert!(!kept.iter().any(|k| k.kid.as_deref() == Some("c")));
        // A key that comes back is live again.
        let (back, report) = merged(&keys, vec![key("c", "tc", None)], 1_200, 500);
        assert_eq!(report.added, ["c"]);
        assert_eq!(back[0], key("c", "tc", None));
        assert_eq!(pruned(&keys, 1_500, 500).len(), 3);
    }

    #[test]
    fn the_cap_holds_after_the_merge_and_the_oldest_departures_go_first() {
        let max = jwk_core::MAX_SET_KEYS;
        // 9,000 keys in their grace (left at 0..9,000 ms), 2,000 new ones fetched.
        let old: Vec<SetKeyRec> = (0..9_000)
            .map(|i| key(&format!("old{i}"), &format!("t-old{i}"), Some(i)))
            .collect();
        let fresh: Vec<SetKeyRec> = (0..2_000)
            .map(|i| key(&format!("new{i}"), &format!("t-new{i}"), None))
            .collect();
        let (keys, report) = merged(&old, fresh.clone(), 9_000, 60_000);
        assert_eq!(keys.len(), max);
        assert_eq!(keys[..2_000], fresh[..]);
        // The 8,000 kept are those that left last, newest first.
        let kept: Vec<i64> = keys[2_000..]
            .iter()
            .map(|k| k.removed_at.unwrap())
            .collect();
        assert_eq!(kept, (1_000..9_000).rev().collect::<Vec<i64>>());
        assert_eq!(report.added.len(), 2_000);
        assert!(report.removed.is_empty(), "none of them was live");
        // Under the cap, the order is the set's.
        let (small, _) = merged(&old[..10], fresh[..5].to_vec(), 10, 60_000);
        assert_eq!(small.len(), 15);
        assert_eq!(small[5..], old[..10]);
    }

    #[test]
    fn a_failing_set_is_retried_at_its_stale_limit_at_the_latest() {
        let policy = RefreshPolicy {
            stale_limit_seconds: 100,
            ..RefreshPolicy::default()
        };
        let e = RegistryError::bad_request("down");
        let mut status = SetStatusRec {
            last_success: Some(0),
            failures: 10,
            ..SetStatusRec::default()
        };
        // Half a second before the limit, a backoff of 30 to 60 s would pass it.
        assert!(!status.failed(99_500, &e, &policy));
        assert_eq!(status.next_refresh, 100_000);
        // At the limit: stale (the keys are withdrawn), then retried with backoff.
        assert!(status.failed(100_000, &e, &policy));
        assert!(
            status.next_refresh >= 100_000 + 30_000,
            "{}",
            status.next_refresh
        );
        // Far from the limit, the backoff alone.
        let mut early = SetStatusRec {
            last_success: Some(0),
            ..SetStatusRec::default()
        };
        assert!(!early.failed(1_000, &e, &policy));
        assert!(
            (1_500..=2_000).contains(&early.next_refresh),
            "{}",
            early.next_refresh
        );
    }

    #[test]
    fn a_304_without_max_age_keeps_the_interval_in_force() {
        let p = RefreshPolicy::default();
        assert_eq!(refreshed_interval(&p, None, true, 900), 900);
        assert_eq!(refreshed_interval(&p, None, true, 0), 300);
        assert_eq!(refreshed_interval(&p, None, false, 900), 300);
        assert_eq!(refreshed_interval(&p, Some(120), true, 900), 120);
        // Still within the policy's bounds (a policy changed since).
        assert_eq!(refreshed_interval(&p, None, true, 86_400), 3_600);
    }

    #[test]
    fn the_interval_follows_max_age_within_the_bounds_and_failures_back_off() {
        let p = RefreshPolicy::default();
        assert_eq!(interval_seconds(&p, None), 300);
        assert_eq!(interval_seconds(&p, Some(0)), 60);
        assert_eq!(interval_seconds(&p, Some(900)), 900);
        assert_eq!(interval_seconds(&p, Some(u64::MAX)), 3600);
        for (failures, max) in [(1, 1000), (2, 2000), (3, 4000), (7, 60_000), (40, 60_000)] {
            let b = backoff_ms(failures);
            assert!(b >= max / 2 && b <= max, "{failures}: {b}");
        }
    }

    #[test]
    fn a_policy_out_of_bounds_is_refused_with_the_field_named() {
        let bad = |f: fn(&mut RefreshPolicy)| {
            let mut p = RefreshPolicy::default();
            f(&mut p);
            checked_policy(&p).unwrap_err().message()
        };
        assert_eq!(
            bad(|p| p.min_interval_seconds = 0),
            "refresh.minIntervalSeconds (0) is not valid! It must be between 1 and 604800 seconds."
        );
        assert_eq!(
            bad(|p| p.min_interval_seconds = 4000),
            "refresh.minIntervalSeconds (4000) is larger than refresh.maxIntervalSeconds (3600)!"
        );
        assert_eq!(
            bad(|p| p.grace_seconds = Some(604_801)),
            "refresh.graceSeconds (604801) is not valid! It must be between 0 and 604800 seconds."
        );
        assert_eq!(
            bad(|p| p.miss_budget_per_hour = 0),
            "refresh.missBudgetPerHour (0) is not valid! It must be between 1 and 3600 fetches."
        );
        assert_eq!(
            checked_policy(&crate::types::DEFAULT_REFRESH),
            Ok(crate::types::DEFAULT_REFRESH)
        );
    }

    /// A small set of keys: kids from a few letters (some absent), thumbprints from a few.
    fn keys_strategy() -> impl Strategy<Value = Vec<SetKeyRec>> {
        prop::collection::vec(
            (
                prop::option::of("[a-d]"),
                "[p-s]",
                prop::option::of(0i64..2_000),
            ),
            0..6,
        )
        .prop_map(|v| {
            v.into_iter()
                .map(|(kid, t, removed_at)| SetKeyRec {
                    kid,
                    thumbprint: t,
                    jwk: String::new(),
                    removed_at,
                })
                .collect()
        })
    }

    proptest! {
        /// Whatever was served and fetched: every fetched key is served as fetched, first
        /// and live; a key kept from before is one gone from the fetch and still in its
        /// grace; the report names each fetched identity once at most.
        #[test]
        fn a_merge_serves_the_fetch_and_keeps_only_what_is_in_its_grace(
            old in keys_strategy(),
            fresh in keys_strategy(),
            now in 0i64..3_000,
            grace in 0i64..1_500,
        ) {
            let (served, report) = merged(&old, fresh.clone(), now, grace);
            prop_assert_eq!(&served[..fresh.len()], &fresh[..]);
            for kept in &served[fresh.len()..] {
                let since = kept.removed_at.expect("a kept key is in its grace");
                prop_assert!(now < since.saturating_add(grace));
                prop_assert!(!fresh.iter().any(|k| k.identity() == kept.identity()
                    || k.thumbprint == kept.thumbprint));
                prop_assert!(old.iter().any(|o| o.identity() == kept.identity()));
            }
            for id in report.added.iter().chain(&report.changed) {
                prop_assert!(fresh.iter().any(|k| &k.identity() == id));
            }
            for id in &report.removed {
                prop_assert!(!fresh.iter().any(|k| &k.identity() == id));
            }
            // Pruning what was served keeps exactly the keys still in their grace.
            let later = now.saturating_add(grace);
            for k in pruned(&served, later, grace) {
                prop_assert!(k.removed_at.is_none_or(|at| later < at + grace));
            }
        }

        /// The interval always lies within the policy's bounds, and backoff within 0.5 s to
        /// 60 s.
        #[test]
        fn intervals_and_backoff_stay_in_their_bounds(
            min in 1u64..1000, span in 0u64..1000, default in 1u64..5000,
            max_age in prop::option::of(any::<u64>()), failures in any::<u32>(),
        ) {
            let policy = RefreshPolicy {
                min_interval_seconds: min,
                max_interval_seconds: min + span,
                default_interval_seconds: default,
                ..RefreshPolicy::default()
            };
            let i = interval_seconds(&policy, max_age);
            prop_assert!(i >= min && i <= min + span);
            let b = backoff_ms(failures);
            prop_assert!((0..=MAX_BACKOFF_MS).contains(&b));
        }

        /// Failures mark the status stale from the first one on, and withdraw exactly when
        /// the last success is older than the stale limit.
        #[test]
        fn a_failure_withdraws_exactly_past_the_stale_limit(
            last_success in prop::option::of(0i64..1_000_000),
            now in 0i64..2_000_000,
            limit in 1u64..1_000,
        ) {
            let policy = RefreshPolicy { stale_limit_seconds: limit, ..RefreshPolicy::default() };
            let mut status = SetStatusRec { last_success, ..SetStatusRec::default() };
            let e = RegistryError::busy("down");
            let past = status.failed(now, &e, &policy);
            let since = last_success.unwrap_or(now);
            prop_assert_eq!(past, now >= since + limit as i64 * 1000);
            prop_assert_eq!(status.failures, 1);
            prop_assert_eq!(status.stale_since, Some(now));
            prop_assert!(status.next_refresh > now);
        }
    }
}
