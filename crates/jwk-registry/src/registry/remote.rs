//! Remote JWK Sets: a project follows an identity provider's JWKS URL. Every key of the set
//! is checked by the core (a malformed or symmetric key is skipped and reported, never failing
//! the set), served under the set's name and deployed like JWKs. Refreshes honour
//! `Cache-Control: max-age` within the set's bounds, send `If-None-Match` /
//! `If-Modified-Since`, diff the set per kid, keep a vanished key for a grace period, back off
//! on failure and keep serving the last good set up to a stale limit, past which its keys are
//! withdrawn (fail closed).
//!
//! Three records per set: its definition (`jwkset/…`, written by users), the keys it serves
//! (`jwksetkeys/…`, content: a change deploys) and its status (`jwksetstatus/…`: last
//! attempt, validators, next refresh, errors, and the lease of the node fetching it, so that
//! nodes sharing a store fetch each set once per interval).

use serde::{Deserialize, Serialize};

use super::command::UrlOptions;
use super::resync::ResyncReport;
use super::sources::bounded;
use super::{Actor, Change, Registry, name_in, now_rfc3339, random};
use crate::error::{RegistryError, Result};
use crate::model::{FORMAT, JwkRec, encode, keys, load, load_all};
use crate::perm::{SECRETS_DEPLOY, SECRETS_MANAGE, SECRETS_VIEW};
use crate::store::{Commit, Txn};

/// How a remote JWK Set is refreshed, in seconds. `Default` gives the documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshPolicy {
    /// The interval when the server sends no `Cache-Control: max-age` (default 300).
    pub default_interval_seconds: u64,
    /// The shortest interval, whatever max-age says (default 60).
    pub min_interval_seconds: u64,
    /// The longest interval, whatever max-age says (default 3600).
    pub max_interval_seconds: u64,
    /// How long a key whose kid vanished from the set stays served (`None`: the refresh
    /// interval), so tokens signed just before a rotation still verify.
    pub grace_seconds: Option<u64>,
    /// How long the last good set keeps being served while fetches fail (default 86400);
    /// past it the set's keys are withdrawn.
    pub stale_limit_seconds: u64,
    /// After a lookup of an unknown kid made the set be fetched, how long further misses do
    /// not fetch (default 30).
    pub miss_cooldown_seconds: u64,
    /// Most fetches unknown kids may cause per hour (default 60).
    pub miss_budget_per_hour: u64,
}

/// The defaults of [`RefreshPolicy`].
pub const DEFAULT_REFRESH: RefreshPolicy = RefreshPolicy {
    default_interval_seconds: 300,
    min_interval_seconds: 60,
    max_interval_seconds: 3600,
    grace_seconds: None,
    stale_limit_seconds: 86_400,
    miss_cooldown_seconds: 30,
    miss_budget_per_hour: 60,
};

impl Default for RefreshPolicy {
    fn default() -> Self {
        DEFAULT_REFRESH
    }
}

/// The longest interval, grace or cooldown a policy may ask for: 7 days.
const MAX_INTERVAL_SECONDS: u64 = 7 * 86_400;
/// The longest stale limit: 30 days.
const MAX_STALE_SECONDS: u64 = 30 * 86_400;
/// The largest miss budget per hour.
const MAX_MISS_BUDGET: u64 = 3600;
/// Retries after a failed fetch wait 1 s, 2 s, 4 s … up to this (before jitter).
const MAX_BACKOFF_MS: i64 = 60_000;

/// A remote JWK Set to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwkSetSpec {
    /// The JWKS URL (http or https).
    pub url: String,
    /// The fetch options (the URL source's, with the same bounds).
    pub options: UrlOptions,
    /// The refresh policy.
    pub policy: RefreshPolicy,
}

impl JwkSetSpec {
    /// A set at `url` with the default options and policy.
    pub fn new(url: impl Into<String>) -> JwkSetSpec {
        JwkSetSpec {
            url: url.into(),
            options: UrlOptions::default(),
            policy: RefreshPolicy::default(),
        }
    }
}

/// A stored remote JWK Set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JwkSetRec {
    pub(crate) v: u32,
    pub(crate) name: String,
    pub(crate) url: String,
    /// (connect ms, read ms, size bytes).
    pub(crate) url_options: (u64, u64, u64),
    pub(crate) policy: RefreshPolicy,
    pub(crate) created_at: String,
}

/// The keys a set serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SetKeysRec {
    pub(crate) v: u32,
    pub(crate) keys: Vec<SetKeyRec>,
    /// True once the stale limit passed and the keys were withdrawn.
    pub(crate) withdrawn: bool,
}

/// One served key: its public JSON, and since when it is gone from the set (served until
/// the grace period ends).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SetKeyRec {
    pub(crate) kid: Option<String>,
    pub(crate) thumbprint: String,
    pub(crate) jwk: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) removed_at: Option<i64>,
}

impl SetKeyRec {
    /// What the set's diff calls the key: its kid, or its thumbprint when it has none.
    fn identity(&self) -> String {
        self.kid
            .clone()
            .unwrap_or_else(|| format!("(no kid) {}", self.thumbprint))
    }
}

/// An entry of a fetched set that is not served, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SkippedKey {
    /// Its position in the set (from 0).
    pub index: usize,
    /// Its kid, when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// A stable code (jwk-core's, or `jwk_set.symmetric_key`, `jwk_set.duplicate_kid`).
    pub code: String,
    /// Why.
    pub message: String,
}

/// How a set's fetches go (times in Unix milliseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SetStatusRec {
    pub(crate) v: u32,
    pub(crate) last_attempt: Option<i64>,
    pub(crate) last_success: Option<i64>,
    pub(crate) etag: Option<String>,
    pub(crate) last_modified: Option<String>,
    /// When the set is next due (0: now).
    pub(crate) next_refresh: i64,
    /// The interval in force (max-age within the policy's bounds), in seconds.
    pub(crate) interval_seconds: u64,
    pub(crate) failures: u32,
    pub(crate) error_code: Option<String>,
    pub(crate) error_message: Option<String>,
    /// Since when fetches fail (the first failure after the last success).
    pub(crate) stale_since: Option<i64>,
    #[serde(default)]
    pub(crate) skipped: Vec<SkippedKey>,
    /// A node fetching the set holds it until this time.
    #[serde(default)]
    pub(crate) lease_until: i64,
    #[serde(default)]
    pub(crate) lease_holder: String,
    /// A followed JWK: withdrawn (served nowhere) past the stale limit.
    #[serde(default)]
    pub(crate) withdrawn: bool,
}

impl SetStatusRec {
    /// Records a successful fetch (a 304 keeps the validators it does not repeat) and
    /// schedules the next one ahead of `interval`.
    fn succeeded(
        &mut self,
        now: i64,
        interval: u64,
        (etag, last_modified): (Option<String>, Option<String>),
        not_modified: bool,
    ) {
        self.last_success = Some(now);
        self.failures = 0;
        self.error_code = None;
        self.error_message = None;
        self.stale_since = None;
        self.etag = etag.or(self.etag.take().filter(|_| not_modified));
        self.last_modified = last_modified.or(self.last_modified.take().filter(|_| not_modified));
        self.interval_seconds = interval;
        self.next_refresh = now + (interval as f64 * 1000.0 * jitter(0.8, 0.9)) as i64;
    }

    /// Records a failed fetch and schedules a retry with backoff; true once the last success
    /// is older than the policy's stale limit.
    fn failed(&mut self, now: i64, e: &RegistryError, policy: &RefreshPolicy) -> bool {
        self.failures = self.failures.saturating_add(1);
        self.error_code = Some(e.code().to_owned());
        self.error_message = Some(e.message());
        let since = *self.stale_since.get_or_insert(now);
        self.next_refresh = now.saturating_add(backoff_ms(self.failures));
        let limit_ms = (policy.stale_limit_seconds as i64).saturating_mul(1000);
        now >= self.last_success.unwrap_or(since).saturating_add(limit_ms)
    }

    /// The status as views show it, with the kids served.
    fn view(self, kids: Vec<String>, grace_kids: Vec<String>, withdrawn: bool) -> JwkSetStatus {
        let ms = |t: Option<i64>| t.and_then(rfc3339_ms);
        JwkSetStatus {
            kids,
            grace_kids,
            last_attempt: ms(self.last_attempt),
            last_success: ms(self.last_success),
            next_refresh: ms(Some(self.next_refresh).filter(|t| *t > 0)),
            interval_seconds: self.interval_seconds,
            etag: self.etag,
            last_modified: self.last_modified,
            consecutive_failures: self.failures,
            error_code: self.error_code,
            error_message: self.error_message,
            stale_since: ms(self.stale_since),
            withdrawn,
            skipped: self.skipped,
        }
    }
}

/// A remote JWK Set as Get and List show it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JwkSetView {
    /// The set's name.
    pub name: String,
    /// The JWKS URL.
    pub url: String,
    /// Connect timeout, milliseconds.
    pub url_option_connect_timeout: u64,
    /// Read timeout, milliseconds.
    pub url_option_read_timeout: u64,
    /// Size limit, bytes.
    pub url_option_size_limit: u64,
    /// The refresh policy.
    pub refresh: RefreshPolicy,
    /// How its fetches go.
    pub status: JwkSetStatus,
}

/// The status of a remote JWK Set (times in RFC 3339).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JwkSetStatus {
    /// The kids (or, for a key without one, "(no kid) " and its thumbprint) served now,
    /// in the set's order; keys in their grace period last.
    pub kids: Vec<String>,
    /// Of those, the ones gone from the set and served until their grace period ends.
    pub grace_kids: Vec<String>,
    /// When a fetch was last tried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_attempt: Option<String>,
    /// When a fetch last succeeded (or was answered 304 Not Modified).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_success: Option<String>,
    /// When the set is next fetched.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_refresh: Option<String>,
    /// The refresh interval in force, seconds (max-age within the policy's bounds).
    pub interval_seconds: u64,
    /// The ETag sent back on the next fetch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The Last-Modified sent back on the next fetch.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// Failed fetches since the last success.
    pub consecutive_failures: u32,
    /// The last failure's stable code, while failing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The last failure's message, while failing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    /// Since when fetches fail (the last good set is served until the stale limit).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stale_since: Option<String>,
    /// True once the stale limit passed: the set serves no key until a fetch succeeds.
    pub withdrawn: bool,
    /// Entries of the last fetched set that are not served, and why.
    pub skipped: Vec<SkippedKey>,
}

/// Why a set is fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Why {
    /// Its interval is up (skipped when another node already fetched it).
    Scheduled,
    /// A lookup asked for a kid it does not serve.
    Miss,
    /// A user asked (`RefreshJwkSet`).
    Manual,
}

/// What one refresh did.
#[derive(Debug, Default)]
pub(crate) struct Refreshed {
    /// The diff, when the set was fetched.
    pub(crate) report: Option<ResyncReport>,
    /// The committed change of what the set serves, to deploy.
    pub(crate) change: Option<Change>,
    /// When the set is next due (Unix ms).
    pub(crate) next_due: i64,
    /// How the fetch failed (recorded in the status).
    pub(crate) error: Option<RegistryError>,
}

/// A fetched set: the keys to serve, the entries skipped, the validators and max-age.
struct FetchedSet {
    /// `None`: 304 Not Modified.
    keys: Option<Vec<SetKeyRec>>,
    skipped: Vec<SkippedKey>,
    etag: Option<String>,
    last_modified: Option<String>,
    max_age: Option<u64>,
}

pub(crate) fn now_ms() -> i64 {
    (time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

fn rfc3339_ms(ms: i64) -> Option<String> {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()?
        .format(&time::format_description::well_known::Rfc3339)
        .ok()
}

/// A random factor in [lo, hi) for jitter.
fn jitter(lo: f64, hi: f64) -> f64 {
    let r = random::<4>().map_or(0, u32::from_be_bytes);
    lo + (hi - lo) * (f64::from(r) / (f64::from(u32::MAX) + 1.0))
}

/// The wait after the `failures`-th failure in a row: 1 s doubling to 1 min, with jitter.
pub(crate) fn backoff_ms(failures: u32) -> i64 {
    let base = 1000i64
        .checked_shl(failures.saturating_sub(1).min(16))
        .unwrap_or(MAX_BACKOFF_MS)
        .min(MAX_BACKOFF_MS);
    (base as f64 * jitter(0.5, 1.0)) as i64
}

/// The refresh interval for a server's max-age: the policy's default without one, always
/// within its bounds.
pub(crate) fn interval_seconds(policy: &RefreshPolicy, max_age: Option<u64>) -> u64 {
    max_age
        .unwrap_or(policy.default_interval_seconds)
        .clamp(policy.min_interval_seconds, policy.max_interval_seconds)
}

/// The system actor of automatic refreshes, as the audit log names it.
fn system() -> Actor {
    Actor {
        username: "jwk-engine (refresh)".to_owned(),
        admin: true,
    }
}

/// Checks a policy against its bounds.
pub(crate) fn checked_policy(p: &RefreshPolicy) -> Result<RefreshPolicy> {
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

/// Reads a fetched body as the keys a set serves: every usable asymmetric key's public
/// part, once per kid; everything else skipped with its reason.
fn keys_of(body: &jwk_fetch::Fetched) -> Result<(Vec<SetKeyRec>, Vec<SkippedKey>)> {
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
/// while their grace period lasts; and the diff against the earlier live keys.
fn merged(
    old: &[SetKeyRec],
    fresh: Vec<SetKeyRec>,
    now: i64,
    grace_ms: i64,
) -> (Vec<SetKeyRec>, ResyncReport) {
    let mut report = ResyncReport::default();
    let live_old: Vec<&SetKeyRec> = old.iter().filter(|k| k.removed_at.is_none()).collect();
    for k in &fresh {
        match live_old.iter().find(|o| o.identity() == k.identity()) {
            None => report.added.push(k.identity()),
            Some(o) if o.thumbprint != k.thumbprint => report.changed.push(k.identity()),
            Some(_) => {}
        }
    }
    for o in &live_old {
        if !fresh.iter().any(|k| k.identity() == o.identity()) {
            report.removed.push(o.identity());
        }
    }
    let mut keys = fresh;
    for o in old {
        let gone = !keys
            .iter()
            .any(|k| k.identity() == o.identity() || k.thumbprint == o.thumbprint);
        let since = o.removed_at.unwrap_or(now);
        if gone && now < since.saturating_add(grace_ms) {
            keys.push(SetKeyRec {
                removed_at: Some(since),
                ..o.clone()
            });
        }
    }
    (keys, report)
}

/// The keys still served `now`: those in their grace period drop out when it ends.
fn pruned(old: &[SetKeyRec], now: i64, grace_ms: i64) -> Vec<SetKeyRec> {
    old.iter()
        .filter(|k| {
            k.removed_at
                .is_none_or(|at| now < at.saturating_add(grace_ms))
        })
        .cloned()
        .collect()
}

impl Registry {
    /// The (connect, read, size) of a set's fetches, held to the server's maxima (stored
    /// options too, should the maxima have been lowered since).
    fn set_options(&self, (connect, read, size): (u64, u64, u64)) -> jwk_fetch::FetchOptions {
        let max_ms = self.config.max_fetch_timeout_ms;
        jwk_fetch::FetchOptions {
            connect_timeout: std::time::Duration::from_millis(connect.min(max_ms)),
            read_timeout: std::time::Duration::from_millis(read.min(max_ms)),
            size_limit: size.min(self.config.max_fetch_size),
            ..self.fetch_options()
        }
    }

    /// Fetches a set (conditionally with `validators`) and reads its keys.
    fn fetch_set(
        &self,
        project: &str,
        rec: &JwkSetRec,
        validators: Option<(Option<String>, Option<String>)>,
    ) -> Result<FetchedSet> {
        let fetched = self.fetch_set_uncounted(rec, validators);
        let result = match &fetched {
            Ok(set) if set.keys.is_none() => "not_modified",
            Ok(_) => "ok",
            Err(e) => e.code(),
        };
        self.live.tally.fetched(project, &rec.name, result);
        fetched
    }

    fn fetch_set_uncounted(
        &self,
        rec: &JwkSetRec,
        validators: Option<(Option<String>, Option<String>)>,
    ) -> Result<FetchedSet> {
        let _slot = self.fetch_slot()?;
        let (if_none_match, if_modified_since) = validators.unwrap_or_default();
        let opts = jwk_fetch::FetchOptions {
            if_none_match,
            if_modified_since,
            ..self.set_options(rec.url_options)
        };
        let fetched = jwk_fetch::fetch(&rec.url, &opts)?;
        let (keys, skipped) = if fetched.not_modified {
            (None, Vec::new())
        } else {
            let (keys, skipped) = keys_of(&fetched)?;
            (Some(keys), skipped)
        };
        Ok(FetchedSet {
            keys,
            skipped,
            etag: fetched.etag,
            last_modified: fetched.last_modified,
            max_age: fetched.max_age,
        })
    }

    /// The checked record of a set to create or update.
    fn set_record(&self, name: &str, spec: &JwkSetSpec) -> Result<JwkSetRec> {
        let url = super::non_blank(&spec.url)
            .ok_or_else(|| RegistryError::bad_request("URL is required for a JWK Set!"))?;
        jwk_fetch::check_url(url)?;
        let max_ms = self.config.max_fetch_timeout_ms;
        let o = &spec.options;
        let options = (
            bounded(
                "urlOptionConnectTimeout",
                o.connect_timeout_ms,
                jwk_fetch::DEFAULT_CONNECT_TIMEOUT_MS,
                max_ms,
                "milliseconds",
            )?,
            bounded(
                "urlOptionReadTimeout",
                o.read_timeout_ms,
                jwk_fetch::DEFAULT_READ_TIMEOUT_MS,
                max_ms,
                "milliseconds",
            )?,
            bounded(
                "urlOptionSizeLimit",
                o.size_limit,
                jwk_fetch::DEFAULT_SIZE_LIMIT,
                self.config.max_fetch_size,
                "bytes",
            )?,
        );
        Ok(JwkSetRec {
            v: FORMAT,
            name: name.to_owned(),
            url: url.to_owned(),
            url_options: options,
            policy: checked_policy(&spec.policy)?,
            created_at: now_rfc3339(),
        })
    }

    /// Create JWK Set (`existing: false`) or Update JWK Set: the set is fetched at once (a
    /// set that cannot be fetched, or holds no usable key, is refused and nothing is saved),
    /// and its keys replace what it served.
    pub(super) fn put_jwk_set(
        &self,
        actor: &Actor,
        project: &str,
        name: &str,
        spec: &JwkSetSpec,
        existing: bool,
    ) -> Result<(ResyncReport, Change)> {
        self.require(actor, project, SECRETS_MANAGE)?;
        // Following a set deploys whatever its provider publishes: only a user who may
        // deploy sets one up.
        let perms = self.require(actor, project, SECRETS_DEPLOY)?;
        let name = name_in("JWK Set", name)?
            .ok_or_else(|| RegistryError::bad_request("JWK Set name can not be empty!"))?;
        let set_key = keys::jwk_set(project, name);
        let current = load::<JwkSetRec>(&**self.store(), &set_key)?;
        match (&current, existing) {
            (Some(_), false) => {
                return Err(RegistryError::bad_request(format!(
                    "JWK Set (name: {name}) is already exist!"
                )));
            }
            (None, true) => {
                return Err(RegistryError::bad_request(format!(
                    "JWK Set (name: {name}) is not found!"
                )));
            }
            _ => {}
        }
        let mut rec = self.set_record(name, spec)?;
        if let Some((old, _)) = &current {
            rec.created_at = old.created_at.clone();
        }
        let fetched = self.fetch_set(project, &rec, None)?;
        let fresh = fetched.keys.ok_or_else(|| {
            RegistryError::bad_request("The URL answered 304 Not Modified to a first fetch!")
        })?;
        let now = now_ms();
        let keys_key = keys::jwk_set_keys(project, name);
        let old = load::<SetKeysRec>(&**self.store(), &keys_key)?;
        let old_keys = old
            .as_ref()
            .map(|(k, _)| k.keys.clone())
            .unwrap_or_default();
        // A new URL or policy starts afresh: no grace for what the set served before.
        let (_, report) = merged(&old_keys, fresh.clone(), now, 0);
        let interval = interval_seconds(&rec.policy, fetched.max_age);
        let status = SetStatusRec {
            v: FORMAT,
            last_attempt: Some(now),
            last_success: Some(now),
            etag: fetched.etag,
            last_modified: fetched.last_modified,
            next_refresh: now + (interval as f64 * 1000.0 * jitter(0.8, 0.9)) as i64,
            interval_seconds: interval,
            skipped: fetched.skipped,
            ..SetStatusRec::default()
        };
        let served = SetKeysRec {
            v: FORMAT,
            keys: fresh,
            withdrawn: false,
        };
        let status_key = keys::jwk_set_status(project, name);
        let txn = match &current {
            Some((_, rev)) => Txn::new().at(set_key.as_str(), *rev),
            None => Txn::new().absent(set_key.as_str()),
        };
        let txn = txn
            .put(set_key.as_str(), encode(&rec))
            .put(keys_key, encode(&served))
            .put(status_key, encode(&status));
        let action = if existing {
            "jwkset.update"
        } else {
            "jwkset.create"
        };
        let txn = self.audit(txn, actor, action, Some(project), name)?;
        let committed = self.commit(txn, || {
            RegistryError::bad_request(format!(
                "JWK Set (name: {name}) changed while this request changed it; try again!"
            ))
        })?;
        Ok((
            report,
            self.change_to_deploy(&perms, SECRETS_DEPLOY, Some(committed)),
        ))
    }

    /// Delete JWK Set: its keys are no longer served.
    pub(super) fn delete_jwk_set(
        &self,
        actor: &Actor,
        project: &str,
        name: &str,
    ) -> Result<Change> {
        self.require(actor, project, SECRETS_MANAGE)?;
        let perms = self.require(actor, project, SECRETS_DEPLOY)?;
        let committed = self.commit_always(&format!("JWK Set (name: {name})"), || {
            let set_key = keys::jwk_set(project, name);
            let Some((_, rev)) = load::<JwkSetRec>(&**self.store(), &set_key)? else {
                return Err(RegistryError::bad_request(format!(
                    "JWK Set (name: {name}) is not found!"
                )));
            };
            let txn = Txn::new()
                .at(set_key.as_str(), rev)
                .delete(set_key.as_str())
                .delete(keys::jwk_set_keys(project, name))
                .delete(keys::jwk_set_status(project, name));
            self.audit(txn, actor, "jwkset.delete", Some(project), name)
        })?;
        Ok(self.change_to_deploy(&perms, SECRETS_DEPLOY, Some(committed)))
    }

    /// Refresh JWK Set on a user's request: fetched now (conditionally), whatever its
    /// schedule. A failed fetch is recorded in the set's status and is the answer, once the
    /// change it made (keys withdrawn past the stale limit) is deployed.
    pub(super) fn refresh_jwk_set(
        &self,
        actor: &Actor,
        project: &str,
        name: &str,
    ) -> Result<(Result<ResyncReport>, Change)> {
        let perms = self.require(actor, project, SECRETS_MANAGE)?;
        let refreshed = self.refresh_set(project, name, Why::Manual)?;
        let change = match refreshed.change {
            Some(change) => change,
            None => self.change_to_deploy(&perms, SECRETS_DEPLOY, None),
        };
        let answer = match (refreshed.error, refreshed.report) {
            (Some(e), _) => Err(e),
            (None, Some(report)) => Ok(report),
            (None, None) => Err(RegistryError::busy(format!(
                "JWK Set (name: {name}) is being refreshed by another request: try again in a few seconds!"
            ))),
        };
        Ok((answer, change))
    }

    /// Takes the lease recorded at `status_key` for one fetch with these URL options: the
    /// status read and the revision of the claim, or (`Err`) when to look again — a scheduled
    /// refresh that is not due (another node did it) or a lease in force (this node's too: a
    /// manual refresh while a scheduled one runs).
    pub(crate) fn claim(
        &self,
        status_key: &str,
        why: Why,
        (connect, read, _): (u64, u64, u64),
    ) -> Result<std::result::Result<(SetStatusRec, u64), i64>> {
        let (mut status, status_rev) = match load::<SetStatusRec>(&**self.store(), status_key)? {
            Some((s, rev)) => (s, Some(rev)),
            None => (SetStatusRec::default(), None),
        };
        let now = now_ms();
        if (why == Why::Scheduled && status.next_refresh > now) || status.lease_until > now {
            return Ok(Err(status.next_refresh.max(status.lease_until)));
        }
        // Long enough for the fetch; then anyone may take it again (a node that died).
        let lease_ms = i64::try_from(connect.saturating_add(read))
            .unwrap_or(i64::MAX)
            .saturating_add(10_000);
        status.lease_until = now.saturating_add(lease_ms);
        status.lease_holder = self.live.node().to_owned();
        status.v = FORMAT;
        let claim = match status_rev {
            Some(rev) => Txn::new().at(status_key, rev),
            None => Txn::new().absent(status_key),
        }
        .put(status_key, encode(&status));
        Ok(match self.commit_txn(claim)? {
            Commit::Applied(rev) => {
                status.last_attempt = Some(now);
                status.lease_until = 0;
                status.lease_holder.clear();
                Ok((status, rev))
            }
            Commit::Conflict(_) => Err(now.saturating_add(1000)),
        })
    }

    /// Fetches a set and records the outcome: the keys it serves (a content change when they
    /// differ) and its status. Takes the set's lease first, so that of the nodes sharing the
    /// store one fetches; a scheduled refresh the set is not due for (another node did it) or
    /// a set leased by another node is left alone (`report: None`).
    pub(crate) fn refresh_set(&self, project: &str, name: &str, why: Why) -> Result<Refreshed> {
        let set_key = keys::jwk_set(project, name);
        let Some((rec, set_rev)) = load::<JwkSetRec>(&**self.store(), &set_key)? else {
            return Err(RegistryError::bad_request(format!(
                "JWK Set (name: {name}) is not found!"
            )));
        };
        let status_key = keys::jwk_set_status(project, name);
        let (mut status, claimed) = match self.claim(&status_key, why, rec.url_options)? {
            Ok(claimed) => claimed,
            Err(next_due) => {
                return Ok(Refreshed {
                    next_due,
                    ..Refreshed::default()
                });
            }
        };
        let keys_key = keys::jwk_set_keys(project, name);
        let (served, keys_rev) = match load::<SetKeysRec>(&**self.store(), &keys_key)? {
            Some((k, rev)) => (k, Some(rev)),
            None => (SetKeysRec::default(), None),
        };
        let validators = (!served.withdrawn && !served.keys.is_empty())
            .then(|| (status.etag.clone(), status.last_modified.clone()));
        let fetched = self.fetch_set(project, &rec, validators);
        let now = now_ms();
        status.last_attempt = Some(now);
        let mut keys = served.keys.clone();
        let mut withdrawn = served.withdrawn;
        let mut report = ResyncReport::default();
        let mut error = None;
        match fetched {
            Ok(set) => {
                let interval = interval_seconds(&rec.policy, set.max_age);
                let grace_ms = rec.policy.grace_seconds.unwrap_or(interval) as i64 * 1000;
                match set.keys {
                    Some(fresh) => {
                        (keys, report) = merged(&served.keys, fresh, now, grace_ms);
                        status.skipped = set.skipped;
                    }
                    None => {
                        report.not_modified = true;
                        keys = pruned(&served.keys, now, grace_ms);
                    }
                }
                withdrawn = false;
                let not_modified = report.not_modified;
                status.succeeded(now, interval, (set.etag, set.last_modified), not_modified);
            }
            Err(e) => {
                if status.failed(now, &e, &rec.policy) && !withdrawn {
                    tracing::warn!(
                        project,
                        set = name,
                        "a remote JWK Set passed its stale limit: its keys are withdrawn"
                    );
                    keys.clear();
                    withdrawn = true;
                } else {
                    let grace = rec.policy.grace_seconds.unwrap_or(status.interval_seconds);
                    keys = pruned(&keys, now, grace as i64 * 1000);
                }
                error = Some(e);
            }
        }
        let content_changed = keys != served.keys || withdrawn != served.withdrawn;
        // Only the lease holder writes, and only while the set is as it was read.
        let mut txn = Txn::new()
            .at(set_key.as_str(), set_rev)
            .at(status_key.as_str(), claimed)
            .put(status_key.as_str(), encode(&status));
        if content_changed {
            txn = match keys_rev {
                Some(rev) => txn.at(keys_key.as_str(), rev),
                None => txn.absent(keys_key.as_str()),
            }
            .put(
                keys_key.as_str(),
                encode(&SetKeysRec {
                    v: FORMAT,
                    keys,
                    withdrawn,
                }),
            );
            txn = self.audit(txn, &system(), "jwkset.refresh", Some(project), name)?;
        }
        let next_due = status.next_refresh;
        let change = match self.commit_txn(txn)? {
            Commit::Applied(rev) => content_changed.then_some(Change {
                skipped: None,
                revision: rev,
                committed: Some(rev),
            }),
            Commit::Conflict(_) => {
                // The set was changed or deleted meanwhile: its own write stands.
                tracing::info!(
                    project,
                    set = name,
                    "a remote JWK Set changed during its refresh; the refresh is dropped"
                );
                return Ok(Refreshed {
                    next_due: now,
                    ..Refreshed::default()
                });
            }
        };
        if let Some(e) = &error {
            tracing::warn!(project, set = name, code = e.code(), error = %e, "fetching a remote JWK Set failed");
        }
        Ok(Refreshed {
            report: Some(report),
            change,
            next_due,
            error,
        })
    }

    /// Fetches a followed URL-sourced JWK and records the outcome: a new key (its `use` and
    /// `alg` kept) replaces the JWK's and is deployed; past the stale limit the JWK is
    /// withdrawn (served nowhere: its approved copy is removed) until a fetch succeeds again.
    /// The same lease, schedule, backoff and status as a remote set's.
    pub(crate) fn refresh_followed(&self, project: &str, id: &str, why: Why) -> Result<Refreshed> {
        let key = keys::jwk(project, id);
        let not_followed =
            || RegistryError::bad_request(format!("JWK (id: {id}) is not a followed URL source!"));
        let (mut rec, rev) = load::<JwkRec>(&**self.store(), &key)?.ok_or_else(not_followed)?;
        let mut source = rec
            .source
            .clone()
            .filter(|s| s.source_type == "URL")
            .ok_or_else(not_followed)?;
        let policy = source.follow.ok_or_else(not_followed)?;
        let options = source.url_options.unwrap_or((
            jwk_fetch::DEFAULT_CONNECT_TIMEOUT_MS,
            jwk_fetch::DEFAULT_READ_TIMEOUT_MS,
            jwk_fetch::DEFAULT_SIZE_LIMIT,
        ));
        let status_key = keys::jwk_follow(project, id);
        let (mut status, claimed) = match self.claim(&status_key, why, options)? {
            Ok(claimed) => claimed,
            Err(next_due) => {
                return Ok(Refreshed {
                    next_due,
                    ..Refreshed::default()
                });
            }
        };
        let max_ms = self.config.max_fetch_timeout_ms;
        let bounded = (
            options.0.min(max_ms),
            options.1.min(max_ms),
            options.2.min(self.config.max_fetch_size),
        );
        let validators = if status.withdrawn {
            (None, None)
        } else {
            (
                status.etag.clone().or(source.etag.clone()),
                status.last_modified.clone(),
            )
        };
        let url = source.url.clone().unwrap_or_default();
        let fetched = self.fetch_url(&url, bounded, source.kid.as_deref(), validators);
        let now = now_ms();
        status.last_attempt = Some(now);
        let approved = keys::approved(&key);
        let label = source.kid.clone().unwrap_or_else(|| rec.name.clone());
        let mut report = ResyncReport::default();
        let mut txn = Txn::new().at(key.as_str(), rev);
        let mut content = false;
        let mut error = None;
        match fetched {
            Ok(fetched) => {
                let interval = interval_seconds(&policy, fetched.max_age);
                let not_modified = fetched.fresh.is_none();
                report.not_modified = not_modified;
                if let Some((mut jwk, kids)) = fetched.fresh {
                    let old = self.open_jwk(&rec)?;
                    // The use and algorithm chosen at creation survive the refresh.
                    if let (Some(u), Some(a)) = (&old.params().key_use, &old.params().alg)
                        && let Some(usage) = jwk_core::Usage::parse(u.as_str())
                    {
                        jwk.set_usage(usage, a)?;
                    }
                    if crate::deploy::thumbprint(&jwk) != crate::deploy::thumbprint(&old)
                        || jwk.to_json() != old.to_json()
                    {
                        report.changed.push(label.clone());
                        rec.public_jwk = super::sources::public_view(&jwk);
                        rec.sealed_jwk = self.key().seal(jwk.to_json().as_bytes())?;
                        rec.private = jwk.is_private();
                        content = true;
                    }
                    source.set_kids = kids;
                    source.etag = fetched.etag.clone();
                    rec.source = Some(source);
                }
                content |= status.withdrawn;
                status.withdrawn = false;
                status.succeeded(
                    now,
                    interval,
                    (fetched.etag, fetched.last_modified),
                    not_modified,
                );
                if content {
                    txn = txn
                        .put(key.as_str(), encode(&rec))
                        .put(approved.as_str(), encode(&rec));
                }
                txn = txn.put(
                    keys::sync(project, id),
                    encode(&super::resync::fetched_now()),
                );
            }
            Err(e) => {
                if status.failed(now, &e, &policy) && !status.withdrawn {
                    tracing::warn!(
                        project,
                        jwk = %rec.name,
                        "a followed JWK passed its stale limit: it is withdrawn"
                    );
                    status.withdrawn = true;
                    content = true;
                    txn = txn.delete(approved.as_str());
                }
                error = Some(e);
            }
        }
        let txn = txn
            .at(status_key.as_str(), claimed)
            .put(status_key.as_str(), encode(&status));
        let txn = if content {
            self.audit_jwk(txn, &system(), "jwk.follow", project, &rec.name, &[&rec.id])?
        } else {
            txn
        };
        let change = match self.commit_txn(txn)? {
            Commit::Applied(rev) => content.then_some(Change {
                skipped: None,
                revision: rev,
                committed: Some(rev),
            }),
            Commit::Conflict(_) => {
                // Changed (renamed, detached, deleted) meanwhile: its own write stands.
                return Ok(Refreshed {
                    next_due: now,
                    ..Refreshed::default()
                });
            }
        };
        if let Some(e) = &error {
            tracing::warn!(project, jwk = %rec.name, code = e.code(), error = %e, "fetching a followed JWK failed");
        }
        Ok(Refreshed {
            report: Some(report),
            change,
            next_due: status.next_refresh,
            error,
        })
    }

    /// The follow status of a followed JWK, as its view shows it.
    pub(crate) fn follow_status(
        &self,
        project: &str,
        id: &str,
        kid: Option<String>,
    ) -> Result<JwkSetStatus> {
        let status = load::<SetStatusRec>(&**self.store(), &keys::jwk_follow(project, id))?
            .map(|(s, _)| s)
            .unwrap_or_default();
        let withdrawn = status.withdrawn;
        let kids = if withdrawn {
            Vec::new()
        } else {
            kid.into_iter().collect()
        };
        Ok(status.view(kids, Vec::new(), withdrawn))
    }

    /// The remote JWK Sets of a project, sorted by name (SECRETS+VIEW).
    pub fn list_jwk_sets(&self, actor: &Actor, project: &str) -> Result<Vec<JwkSetView>> {
        self.require(actor, project, SECRETS_VIEW)?;
        load_all::<JwkSetRec>(&**self.store(), &keys::jwk_sets(project))?
            .into_iter()
            .map(|(_, rec, _)| self.set_view(project, rec))
            .collect()
    }

    /// One remote JWK Set (SECRETS+VIEW); 404 when there is none of that name.
    pub fn get_jwk_set(&self, actor: &Actor, project: &str, name: &str) -> Result<JwkSetView> {
        self.require(actor, project, SECRETS_VIEW)?;
        let (rec, _) = load::<JwkSetRec>(&**self.store(), &keys::jwk_set(project, name))?
            .ok_or_else(|| {
                RegistryError::not_found(format!("JWK Set (name: {name}) is not found!"))
            })?;
        self.set_view(project, rec)
    }

    fn set_view(&self, project: &str, rec: JwkSetRec) -> Result<JwkSetView> {
        let store = &**self.store();
        let served = load::<SetKeysRec>(store, &keys::jwk_set_keys(project, &rec.name))?
            .map(|(k, _)| k)
            .unwrap_or_default();
        let status = load::<SetStatusRec>(store, &keys::jwk_set_status(project, &rec.name))?
            .map(|(s, _)| s)
            .unwrap_or_default();
        let kids = served.keys.iter().map(SetKeyRec::identity).collect();
        let grace_kids = served
            .keys
            .iter()
            .filter(|k| k.removed_at.is_some())
            .map(SetKeyRec::identity)
            .collect();
        Ok(JwkSetView {
            url_option_connect_timeout: rec.url_options.0,
            url_option_read_timeout: rec.url_options.1,
            url_option_size_limit: rec.url_options.2,
            refresh: rec.policy,
            status: status.view(kids, grace_kids, served.withdrawn),
            name: rec.name,
            url: rec.url,
        })
    }

    /// The keys the remote sets of `project` serve, for a snapshot.
    pub(crate) fn remote_keys(&self, project: &str) -> Result<Vec<crate::deploy::DeployedJwk>> {
        let prefix = keys::jwk_set_keys_of(project);
        let mut out = Vec::new();
        for (key, served, _) in load_all::<SetKeysRec>(&**self.store(), &prefix)? {
            let name = key
                .strip_prefix(prefix.as_str())
                .map(crate::model::name_of)
                .unwrap_or_default();
            for k in served.keys {
                let jwk = jwk_core::Jwk::from_json(&k.jwk).map_err(|e| {
                    RegistryError::internal(format!("the stored key of {key} is unreadable: {e}"))
                })?;
                out.push(crate::deploy::DeployedJwk {
                    name: name.clone(),
                    thumbprint: k.thumbprint,
                    jwk: std::sync::Arc::new(jwk),
                    state: crate::deploy::KeyState::Active,
                    validity: crate::deploy::Validity::default(),
                });
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(checked_policy(&DEFAULT_REFRESH), Ok(DEFAULT_REFRESH));
    }
}
