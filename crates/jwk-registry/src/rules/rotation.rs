//! Rotation rules: the names a rotation gives its keys (the same on every node, so nodes that
//! act at once make one key) and when a published next JWK may be promoted (every
//! environment's receipt shows it, for at least the consumers' cache time, and it is due).
//! Times are Unix seconds.

use crate::types::{MAX_NAME, RotationHolder, RotationPolicy, RotationProgress, RotationWait};

/// The name of the JWK a rotation generates for the promotion due at `due`: the holder's
/// name (a credential's username with its slot, or the JWK's name) and the due time,
/// `{username}-{slot}-{yyyymmddThhmmssZ}` or `{name}-{yyyymmddThhmmssZ}`, cut to the longest
/// name.
pub fn rotated_name(holder: &RotationHolder, due: i64) -> String {
    let stamp = stamp(due);
    let (base, tail) = match holder {
        RotationHolder::Slot { username, slot } => {
            (username.as_str(), format!("-{}-{stamp}", slot.as_str()))
        }
        RotationHolder::Jwk { name } => (name.as_str(), format!("-{stamp}")),
    };
    named(base, &tail)
}

/// The name a rotated JWK's replaced key takes at a promotion made for `at`:
/// `{name}-retired-{yyyymmddThhmmssZ}`.
pub fn retired_name(name: &str, at: i64) -> String {
    named(&format!("{name}-retired"), &format!("-{}", stamp(at)))
}

fn stamp(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .map(|t| {
            format!(
                "{:04}{:02}{:02}T{:02}{:02}{:02}Z",
                t.year(),
                u8::from(t.month()),
                t.day(),
                t.hour(),
                t.minute(),
                t.second()
            )
        })
        .unwrap_or_else(|_| t.to_string())
}

/// `base` cut so that with `tail` the name fits [`MAX_NAME`] characters.
fn named(base: &str, tail: &str) -> String {
    let room = MAX_NAME.saturating_sub(tail.chars().count());
    let base: String = base.chars().take(room).collect();
    format!("{base}{tail}")
}

/// What may happen to a published next JWK now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gate {
    /// Every environment now serves it: note since when (`now`).
    Served(i64),
    /// Promote it.
    Promote,
    /// Nothing before `until`; `waiting` says why, once the promotion is past due.
    Wait {
        /// When to look again.
        until: i64,
        /// Why the promotion waits (`None` before it is due).
        waiting: Option<RotationWait>,
    },
}

/// Whether the published next JWK `next` may be promoted at `now`: `missing` names the
/// environments whose receipt does not show it yet.
pub fn promotion_gate(
    progress: &RotationProgress,
    policy: &RotationPolicy,
    next: &str,
    missing: &[String],
    now: i64,
) -> Gate {
    let due = progress.due;
    let Some(served_since) = progress.served_since else {
        if missing.is_empty() {
            return Gate::Served(now);
        }
        if now < due {
            return Gate::Wait {
                until: now.saturating_add(5).min(due),
                waiting: None,
            };
        }
        return Gate::Wait {
            until: now.saturating_add(5),
            waiting: Some(RotationWait {
                code: "rotation.waiting_for_receipts".to_owned(),
                message: format!(
                    "Waiting for environments ({}) to report serving JWK (name: {next}) before promoting it!",
                    missing.join(", ")
                ),
            }),
        };
    };
    let cache = i64::try_from(policy.consumer_cache_secs).unwrap_or(i64::MAX);
    let ready = served_since.saturating_add(cache).max(due);
    if now >= ready {
        return Gate::Promote;
    }
    let waiting = (now >= due).then(|| RotationWait {
        code: "rotation.waiting_for_caches".to_owned(),
        message: format!(
            "Every environment serves JWK (name: {next}) since {served_since}: promoting it at {ready}, when consumers' caches ({} s) hold it!",
            policy.consumer_cache_secs
        ),
    });
    Gate::Wait {
        until: ready,
        waiting,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use jwk_core::{EcCurve, KeySpec, Usage};
    use proptest::prelude::*;

    fn policy(cache: u64) -> RotationPolicy {
        RotationPolicy {
            spec: KeySpec::Ec(EcCurve::P256),
            usage: Usage::Signature,
            algorithm: "ES256".into(),
            period_secs: 1000,
            lead_secs: 200,
            overlap_secs: 400,
            max_token_lifetime_secs: 300,
            consumer_cache_secs: cache,
        }
    }

    #[test]
    fn names_carry_the_due_time_and_fit_the_longest_name() {
        let slot = RotationHolder::Slot {
            username: "u".into(),
            slot: crate::types::Slot::Validation,
        };
        assert_eq!(
            rotated_name(&slot, 1_893_456_000),
            "u-validation-20300101T000000Z"
        );
        assert_eq!(
            retired_name("k", 1_893_456_000),
            "k-retired-20300101T000000Z"
        );
        let long = RotationHolder::Jwk {
            name: "x".repeat(300),
        };
        let name = rotated_name(&long, 0);
        assert_eq!(name.chars().count(), MAX_NAME);
        assert!(name.ends_with("-19700101T000000Z"));
    }

    proptest! {
        /// Never promoted before it is due, before every environment serves it, or before
        /// the consumers' cache time has passed since they all do; always once all three
        /// hold. A wait always looks again later than now, and says why once past due.
        #[test]
        fn a_promotion_waits_for_receipts_caches_and_its_due_time(
            due in 0i64..10_000,
            served_since in prop::option::of(0i64..10_000),
            missing in prop::collection::vec("[a-c]", 0..3),
            cache in 0u64..2_000,
            now in 0i64..15_000,
        ) {
            let progress = RotationProgress { due, served_since, ..RotationProgress::default() };
            let gate = promotion_gate(&progress, &policy(cache), "next", &missing, now);
            match gate {
                Gate::Promote => {
                    let since = served_since.expect("promoted only once served");
                    prop_assert!(now >= due && now >= since + cache as i64);
                }
                Gate::Served(at) => {
                    prop_assert!(served_since.is_none() && missing.is_empty());
                    prop_assert_eq!(at, now);
                }
                Gate::Wait { until, waiting } => {
                    prop_assert!(until > now);
                    prop_assert_eq!(waiting.is_some(), now >= due);
                    if served_since.is_none() {
                        prop_assert!(!missing.is_empty());
                    }
                }
            }
        }
    }
}
