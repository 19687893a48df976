//! The registry's domain types: key states and validity, credential slots, environment
//! targets, refresh and rotation policies, and the small reports answers carry. A leaf: it
//! imports nothing of the registry but its error type.

use jwk_core::{EcCurve, KeySpec, OkpCurve, Usage};
use serde::{Deserialize, Serialize};

use crate::error::{RegistryError, Result};

/// The name of the admin project, whose JWKs every project's credentials may use.
pub const ADMIN_PROJECT: &str = "admin";
/// The name of the admin user created by `Registry::bootstrap`.
pub const ADMIN_USER: &str = "admin";
/// Longest name (in characters) accepted for projects, JWKs, users, environments and secrets.
pub const MAX_NAME: usize = 256;
/// The names under `…/jwks/` that are routes of their own (`POST …/jwks/generate/`): a JWK
/// of that name could not be read, updated or deleted by name, so none is given it.
pub const ROUTE_NAMES: &[&str] = &["generate", "from-certificate"];
/// The latest `nbf` / `exp` accepted: 9999-12-31T23:59:59Z.
pub const MAX_NUMERIC_DATE: i64 = 253_402_300_799;
/// The longest overlap a promotion takes: 365 days.
pub const MAX_OVERLAP_SECS: i64 = 365 * 24 * 3600;

/// When a key may be used, in Unix seconds (JWT `NumericDate`): from `not_before` on,
/// until (not including) `expires`. `None`: no bound on that side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Validity {
    /// The first second the key may be used (`nbf`).
    #[serde(rename = "nbf", default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
    /// The first second the key may no longer be used (`exp`).
    #[serde(rename = "exp", default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
}

/// Where a key stands in its [`Validity`] at some time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ValidityStatus {
    /// Before its `nbf`: not served yet.
    NotYetValid,
    /// Served.
    Valid,
    /// At or past its `exp`: served no more.
    Expired,
}

impl Validity {
    /// Where the key stands at `now` (Unix seconds).
    pub fn status(&self, now: i64) -> ValidityStatus {
        match (self.not_before, self.expires) {
            (_, Some(exp)) if now >= exp => ValidityStatus::Expired,
            (Some(nbf), _) if now < nbf => ValidityStatus::NotYetValid,
            _ => ValidityStatus::Valid,
        }
    }

    /// The narrower of two validities: the later start, the earlier end.
    pub fn intersect(self, other: Validity) -> Validity {
        let later = |a: Option<i64>, b: Option<i64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let earlier = |a: Option<i64>, b: Option<i64>| match (a, b) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        Validity {
            not_before: later(self.not_before, other.not_before),
            expires: earlier(self.expires, other.expires),
        }
    }

    /// True when neither side is bounded (records leave it out).
    pub fn is_unbounded(&self) -> bool {
        self.not_before.is_none() && self.expires.is_none()
    }

    /// Its bounds (start, end) that exist.
    pub(crate) fn bounds(&self) -> impl Iterator<Item = i64> {
        self.not_before.into_iter().chain(self.expires)
    }
}

/// A JWK's state. Every state but `Disabled` is published (in the resolver's lookups by kid,
/// thumbprint and name, and in the public JWKS), so tokens can be verified with the key;
/// only an `Active` key is for signing and encrypting (`Resolver::active`, a credential's
/// encryption slot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum KeyState {
    /// Published for verification; not to be used for signing or encryption yet.
    Pending,
    /// In use (the default).
    #[default]
    Active,
    /// Published for verification only (tokens it signed still verify).
    Retired,
    /// Served nowhere.
    Disabled,
}

impl KeyState {
    /// `pending`, `active`, `retired` or `disabled`.
    pub fn as_str(self) -> &'static str {
        match self {
            KeyState::Pending => "pending",
            KeyState::Active => "active",
            KeyState::Retired => "retired",
            KeyState::Disabled => "disabled",
        }
    }

    /// The state of that name.
    pub fn parse(name: &str) -> Option<KeyState> {
        [
            KeyState::Pending,
            KeyState::Active,
            KeyState::Retired,
            KeyState::Disabled,
        ]
        .into_iter()
        .find(|s| s.as_str() == name)
    }

    /// True for the default, `Active` (records leave it out).
    pub fn is_active(&self) -> bool {
        *self == KeyState::Active
    }
}

/// Which slot of a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    /// Validation / signing.
    Validation,
    /// Decryption / encryption.
    Encryption,
}

impl Slot {
    /// `validation` or `encryption`.
    pub fn as_str(self) -> &'static str {
        match self {
            Slot::Validation => "validation",
            Slot::Encryption => "encryption",
        }
    }

    /// The slot of that name.
    pub fn parse(name: &str) -> Option<Slot> {
        [Slot::Validation, Slot::Encryption]
            .into_iter()
            .find(|s| s.as_str() == name)
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Slot::Validation => 0,
            Slot::Encryption => 1,
        }
    }
}

/// Where an environment deploys to.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum TargetConfig {
    /// The in-process resolver (`Registry::resolver`).
    Memory,
    /// An atomically replaced JWKS file of public keys.
    File {
        /// The file path.
        path: String,
    },
    /// An HTTP POST of the public keys.
    Webhook {
        /// The URL.
        url: String,
    },
    /// A target the host registered with `Registry::register_target`.
    Custom,
}

/// What of a served record (a JWK, a credential's slots) is not deployed yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Pending {
    /// Saved, never approved: served nowhere.
    Created,
    /// Approved once; the saved version differs from the served one.
    Changed,
}

/// Fetch options of a URL source; `None` takes the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct UrlOptions {
    /// Connect timeout in ms (default 5000).
    pub connect_timeout_ms: Option<u64>,
    /// Read timeout in ms (default 10000).
    pub read_timeout_ms: Option<u64>,
    /// Largest body in bytes (default 1 MiB).
    pub size_limit: Option<u64>,
}

/// How a remote JWK Set (or a followed URL JWK) is refreshed, in seconds. `Default` gives the
/// documented defaults.
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

/// What a fetch of a URL source or a remote JWK Set found, by kid.
#[derive(Debug, Clone, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "camelCase")]
pub struct ResyncReport {
    /// Kids in the new set and not in the old.
    pub added: Vec<String>,
    /// Kids in the old set and not in the new.
    pub removed: Vec<String>,
    /// Kids in both whose key changed.
    pub changed: Vec<String>,
    /// True when the server said 304 Not Modified.
    pub not_modified: bool,
}

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

/// What is followed: a remote JWK Set, or a URL JWK created with `follow` (by its stable id,
/// which a rename keeps).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Followed {
    /// A remote JWK Set.
    Set {
        /// Its project.
        project: String,
        /// Its name.
        name: String,
    },
    /// A followed URL JWK.
    Jwk {
        /// Its project.
        project: String,
        /// Its id.
        id: String,
    },
}

impl Followed {
    /// Its project.
    pub fn project(&self) -> &str {
        match self {
            Followed::Set { project, .. } | Followed::Jwk { project, .. } => project,
        }
    }

    /// The name of the lease a fetch of it is made under.
    pub fn lease_name(&self) -> String {
        match self {
            Followed::Set { project, name } => format!("refresh/set/{project}/{name}"),
            Followed::Jwk { project, id } => format!("refresh/jwk/{project}/{id}"),
        }
    }
}

/// What a fetch of a followed source is to be: where, with which options and validators,
/// as its definition stood when it was read ([`crate::Registry::fetch_plan`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchPlan {
    /// What is fetched.
    pub source: Followed,
    /// The URL.
    pub url: String,
    /// (connect ms, read ms, size bytes), held to the server's maxima when fetched.
    pub options: (u64, u64, u64),
    /// A followed JWK: the kid it selects from the set.
    pub kid: Option<String>,
    /// The `ETag` and `Last-Modified` to send back (none after a withdrawal).
    pub validators: (Option<String>, Option<String>),
    /// The revision of the definition read (a remote set's record): a record of a fetch
    /// planned from an older definition is dropped.
    pub revision: u64,
    /// When the source is next due (Unix ms; 0: now).
    pub next_refresh_ms: i64,
    /// Its refresh policy.
    pub policy: RefreshPolicy,
}

impl FetchPlan {
    /// How long a lease for this fetch is taken: its timeouts and 10 s (then anyone may take
    /// it again: a node that died holds it no longer).
    pub fn lease_ms(&self) -> i64 {
        let (connect, read, _) = self.options;
        i64::try_from(connect.saturating_add(read))
            .unwrap_or(i64::MAX)
            .saturating_add(10_000)
    }
}

/// What a secret is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SecretKind {
    /// An X.509 certificate.
    Certificate,
    /// A public key.
    PublicKey,
    /// A private key (stored sealed).
    PrivateKey,
    /// A PKCS#12 or JKS keystore (stored sealed).
    Keystore,
}

impl SecretKind {
    const ALL: [SecretKind; 4] = [
        SecretKind::Certificate,
        SecretKind::PublicKey,
        SecretKind::PrivateKey,
        SecretKind::Keystore,
    ];

    /// The kind as store keys write it.
    pub(crate) fn stored(self) -> &'static str {
        match self {
            SecretKind::Certificate => "certificate",
            SecretKind::PublicKey => "public-key",
            SecretKind::PrivateKey => "private-key",
            SecretKind::Keystore => "keystore",
        }
    }

    pub(crate) fn from_stored(kind: &str) -> Option<SecretKind> {
        SecretKind::ALL.into_iter().find(|k| k.stored() == kind)
    }

    /// The product's word in messages: "Certificate", "Key" or "Keystore".
    pub fn what(self) -> &'static str {
        self.class().what()
    }

    /// The class whose names are unique per project and environment.
    pub fn class(self) -> SecretClass {
        match self {
            SecretKind::Certificate => SecretClass::Certificate,
            SecretKind::PublicKey | SecretKind::PrivateKey => SecretClass::Key,
            SecretKind::Keystore => SecretClass::Keystore,
        }
    }

    /// The JWK source type that reads this kind (`CERTIFICATE`, `PUBLIC_KEY`, …).
    pub fn source_type(self) -> &'static str {
        match self {
            SecretKind::Certificate => "CERTIFICATE",
            SecretKind::PublicKey => "PUBLIC_KEY",
            SecretKind::PrivateKey => "PRIVATE_KEY",
            SecretKind::Keystore => "KEYSTORE",
        }
    }

    pub(crate) fn sealed(self) -> bool {
        matches!(self, SecretKind::PrivateKey | SecretKind::Keystore)
    }
}

/// Certificates, keys (public and private share their names) and keystores: names are
/// unique per class, project and environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretClass {
    /// Certificates.
    Certificate,
    /// Public and private keys.
    Key,
    /// Keystores.
    Keystore,
}

impl SecretClass {
    /// The product's word: "Certificate", "Key" or "Keystore".
    pub fn what(self) -> &'static str {
        match self {
            SecretClass::Certificate => "Certificate",
            SecretClass::Key => "Key",
            SecretClass::Keystore => "Keystore",
        }
    }

    pub(crate) fn kinds(self) -> &'static [SecretKind] {
        match self {
            SecretClass::Certificate => &[SecretKind::Certificate],
            SecretClass::Key => &[SecretKind::PublicKey, SecretKind::PrivateKey],
            SecretClass::Keystore => &[SecretKind::Keystore],
        }
    }
}

/// A secret named by its class, environment and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretName {
    /// Certificate, key or keystore.
    pub class: SecretClass,
    /// The environment.
    pub environment: String,
    /// The name.
    pub name: String,
}

/// The longest period, lead, overlap, token lifetime or cache time: ten years.
pub const MAX_ROTATION_SECS: u64 = 10 * 365 * 24 * 3600;
/// The shortest period: one minute.
pub const MIN_ROTATION_PERIOD_SECS: u64 = 60;

/// How a slot's (or a generated JWK's) key is rotated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RotationPolicy {
    /// The key generated each time.
    pub spec: KeySpec,
    /// Its `use`.
    pub usage: Usage,
    /// Its `alg`.
    pub algorithm: String,
    /// Seconds from one promotion to the next.
    pub period_secs: u64,
    /// Seconds the next JWK is published before it is due to be promoted.
    pub lead_secs: u64,
    /// Seconds the replaced JWK stays published (retired) after a promotion.
    pub overlap_secs: u64,
    /// The longest lifetime of a token signed (or encrypted) with the slot's JWK, seconds.
    pub max_token_lifetime_secs: u64,
    /// How long consumers cache the published keys, seconds.
    pub consumer_cache_secs: u64,
}

impl RotationPolicy {
    /// Refuses a policy that could break tokens, saying by how much.
    pub fn check(&self) -> Result<()> {
        let bad = |m: String| Err(RegistryError::bad_request(m));
        for (what, value) in [
            ("Period", self.period_secs),
            ("Lead time", self.lead_secs),
            ("Overlap", self.overlap_secs),
            ("Longest token lifetime", self.max_token_lifetime_secs),
            ("Consumers' cache time", self.consumer_cache_secs),
        ] {
            if value > MAX_ROTATION_SECS {
                return bad(format!(
                    "{what} ({value} s) is too long: at most {MAX_ROTATION_SECS} s (10 years)!"
                ));
            }
        }
        if self.spec_parts().is_none() {
            return bad("This key type cannot be rotated!".to_owned());
        }
        if matches!(self.spec, KeySpec::Oct { .. }) {
            return bad(
                "Key type (oct) cannot be rotated: deployment receipts never name symmetric keys, so that every environment serves the next one cannot be confirmed!".to_owned(),
            );
        }
        if self.period_secs < MIN_ROTATION_PERIOD_SECS {
            return bad(format!(
                "Period ({} s) is too short: at least {MIN_ROTATION_PERIOD_SECS} s!",
                self.period_secs
            ));
        }
        if self.lead_secs >= self.period_secs {
            return bad(format!(
                "Lead time ({} s) must be shorter than the period ({} s)!",
                self.lead_secs, self.period_secs
            ));
        }
        if self.lead_secs < self.consumer_cache_secs {
            return bad(format!(
                "Lead time ({} s) is {} s short: the next JWK must be published for at least the consumers' cache time ({} s) before it is used!",
                self.lead_secs,
                self.consumer_cache_secs - self.lead_secs,
                self.consumer_cache_secs
            ));
        }
        let needed = self.max_token_lifetime_secs + self.consumer_cache_secs;
        if self.overlap_secs < needed {
            return bad(format!(
                "Overlap ({} s) is {} s short: it must cover the longest token lifetime ({} s) plus the consumers' cache time ({} s), {needed} s!",
                self.overlap_secs,
                needed - self.overlap_secs,
                self.max_token_lifetime_secs,
                self.consumer_cache_secs
            ));
        }
        jwk_core::check_generate_options(&self.generate_options())?;
        Ok(())
    }

    /// The options a rotation generates its keys with (kid: the thumbprint).
    pub fn generate_options(&self) -> jwk_core::GenerateOptions {
        jwk_core::GenerateOptions {
            spec: self.spec,
            usage: self.usage,
            alg: self.algorithm.clone(),
            kid: jwk_core::KidType::Thumbprint,
        }
    }

    /// The key type, curve and size of its spec as records and views write them; `None` for
    /// a spec that cannot be rotated.
    pub(crate) fn spec_parts(&self) -> Option<(&'static str, Option<String>, Option<usize>)> {
        Some(match self.spec {
            KeySpec::Rsa { bits } => ("RSA", None, Some(bits)),
            KeySpec::Ec(c) => ("EC", Some(c.name().into()), None),
            KeySpec::Okp(c) => ("OKP", Some(c.name().into()), None),
            KeySpec::Oct { bits } => ("oct", None, Some(bits)),
            _ => return None,
        })
    }

    /// The spec that key type, curve and size name (the inverse of `spec_parts`).
    pub(crate) fn spec_of(
        key_type: &str,
        curve: Option<&str>,
        size: Option<usize>,
    ) -> Option<KeySpec> {
        Some(match (key_type, curve, size) {
            ("RSA", _, Some(bits)) => KeySpec::Rsa { bits },
            ("oct", _, Some(bits)) => KeySpec::Oct { bits },
            ("EC", Some(c), _) => KeySpec::Ec(EcCurve::from_name(c)?),
            ("OKP", Some(c), _) => KeySpec::Okp(OkpCurve::from_name(c)?),
            _ => return None,
        })
    }
}

/// Why a rotation waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RotationWait {
    /// `rotation.waiting_for_receipts` or `rotation.waiting_for_caches`.
    pub code: String,
    /// What it waits for, naming the environments and the key.
    pub message: String,
}

/// A replaced JWK and when it is deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Removal {
    /// The JWK's name.
    pub name: String,
    /// When (Unix seconds).
    pub at: i64,
}

/// What a rotation rotates.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RotationHolder {
    /// A credential's slot.
    Slot {
        /// The credential's username.
        username: String,
        /// The slot.
        slot: Slot,
    },
    /// A generated JWK, by name: the name always names the active key.
    Jwk {
        /// The JWK's name.
        name: String,
    },
}

/// Where a rotation stands: the part of its record the rotation itself moves on.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RotationProgress {
    /// When the next promotion is due (Unix seconds).
    pub due: i64,
    /// The published next JWK, once generated.
    pub next_jwk: Option<String>,
    /// When every environment first reported serving it.
    pub served_since: Option<i64>,
    /// Why the promotion waits, past its due time.
    pub waiting: Option<RotationWait>,
    /// When the slot's JWK was last promoted (or first set) by the rotation.
    pub last_promotion: Option<i64>,
    /// Replaced JWKs still to delete, after their overlap.
    pub removals: Vec<Removal>,
}

impl Validity {
    /// The validity of a JWK's `x5c` leaf certificate (unbounded without one).
    pub fn of_certificate(jwk: &jwk_core::Jwk) -> Validity {
        let leaf = jwk.params().x5c.as_ref().and_then(|chain| chain.first());
        match leaf.map(|der| jwk_core::CertificateInfo::from_der(der)) {
            Some(Ok(info)) => Validity {
                not_before: Some(info.not_before_unix),
                // notAfter is the last second the certificate is valid.
                expires: Some(info.not_after_unix.saturating_add(1)),
            },
            // None: no certificate; an unreadable one was refused when the key was imported.
            _ => Validity::default(),
        }
    }
}
