//! Deployment: the `DeployTarget` trait, environment snapshots, the product's result shape,
//! and the built-in targets (in-process resolver, atomic JWKS file, HTTP webhook).

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use arc_swap::ArcSwap;
use base64ct::Encoding;
use jwk_core::{Jwk, ThumbprintHash};
use jwk_verify::{KeySelector, KeySource, VerificationKey, VerifyError};
use serde::Serialize;

/// A boxed future, so `DeployTarget` can be used as `dyn`.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One JWK of a project, as deployed.
#[derive(Debug, Clone)]
pub struct DeployedJwk {
    /// Its name.
    pub name: String,
    /// The full key (private members included: gateways decrypt and sign with them).
    pub jwk: Arc<Jwk>,
    /// Its SHA-256 thumbprint.
    pub thumbprint: String,
    /// Its state: pending, active or retired (disabled JWKs are never deployed).
    pub state: KeyState,
    /// When it may be used (its `nbf` / `exp` and its `x5c` certificate's validity). A
    /// snapshot holds only JWKs valid at the time it was made.
    pub validity: Validity,
}

/// When a key may be used, in Unix seconds (JWT `NumericDate`): from `not_before` on,
/// until (not including) `expires`. `None`: no bound on that side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Validity {
    /// The first second the key may be used (`nbf`).
    #[serde(rename = "nbf", default, skip_serializing_if = "Option::is_none")]
    pub not_before: Option<i64>,
    /// The first second the key may no longer be used (`exp`).
    #[serde(rename = "exp", default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<i64>,
}

/// Where a key stands in its [`Validity`] at some time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
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
    fn bounds(&self) -> impl Iterator<Item = i64> {
        self.not_before.into_iter().chain(self.expires)
    }
}

/// The validity bounds of a set of keys seen from `now`: the last one passed (0 when none)
/// and the next one to come.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ValidityBounds {
    pub(crate) last: i64,
    pub(crate) next: Option<i64>,
}

impl ValidityBounds {
    pub(crate) fn add(&mut self, v: &Validity, now: i64) {
        for b in v.bounds() {
            if b <= now {
                self.last = self.last.max(b);
            } else {
                self.next = Some(self.next.map_or(b, |n| n.min(b)));
            }
        }
    }
}

/// A JWK's state. Every state but `Disabled` is published (in the resolver's lookups by kid,
/// thumbprint and name, and in the public JWKS), so tokens can be verified with the key;
/// only an `Active` key is for signing and encrypting ([`Resolver::active`], a credential's
/// encryption slot).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, serde::Serialize, serde::Deserialize,
)]
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

/// A credential and the JWKs its slots point at, as deployed.
#[derive(Debug, Clone)]
pub struct DeployedCredential {
    /// The username.
    pub username: String,
    /// Validation / signing JWK.
    pub validation: Option<DeployedJwk>,
    /// Decryption / encryption JWK.
    pub encryption: Option<DeployedJwk>,
    /// The validation slot's next JWK (published ahead of its promotion).
    pub validation_next: Option<DeployedJwk>,
    /// The encryption slot's next JWK.
    pub encryption_next: Option<DeployedJwk>,
}

/// Everything of one project that an environment serves.
#[derive(Debug, Clone, Default)]
pub struct ProjectSnapshot {
    /// The project name.
    pub name: String,
    /// Its JWKs.
    pub jwks: Vec<DeployedJwk>,
    /// Its credentials.
    pub credentials: Vec<DeployedCredential>,
    /// The keys its remote JWK Sets serve (public keys; each entry's `name` is the set's).
    pub remote_keys: Vec<DeployedJwk>,
}

impl ProjectSnapshot {
    /// Every key the project serves: its JWKs, then its remote sets' keys.
    pub fn all_keys(&self) -> impl Iterator<Item = &DeployedJwk> {
        self.jwks.iter().chain(&self.remote_keys)
    }
}

/// What a target is asked to serve: the whole registry state at one store revision.
#[derive(Debug, Clone, Default)]
pub struct EnvironmentSnapshot {
    /// The environment's name.
    pub environment: String,
    /// The store revision this snapshot was read at.
    pub revision: u64,
    /// Every project.
    pub projects: Vec<ProjectSnapshot>,
    /// The latest validity bound (a JWK's `nbf` or `exp`, Unix seconds) that had passed when
    /// the snapshot was made (0: none). With `revision`, what the snapshot reflects: a key
    /// that expires makes a new snapshot at the same revision.
    pub validity_epoch: i64,
    /// The next validity bound to come: the environments are deployed again then.
    pub next_validity_change: Option<i64>,
}

impl EnvironmentSnapshot {
    /// The public JWKS of every JWK with a public part (oct keys are never published),
    /// one entry per thumbprint.
    pub fn public_jwks(&self) -> (String, Vec<String>) {
        let mut seen = std::collections::BTreeSet::new();
        let mut keys = Vec::new();
        for p in &self.projects {
            for j in p.all_keys() {
                let Some(public) = j.jwk.to_public_json() else {
                    continue; // oct
                };
                if seen.insert(j.thumbprint.clone()) {
                    keys.push(public);
                }
            }
        }
        (
            format!("{{\"keys\":[{}]}}", keys.join(",")),
            seen.into_iter().collect(),
        )
    }

    /// The thumbprint of every public-key JWK in the snapshot, sorted, once each. Symmetric
    /// (`oct`) keys are left out: their thumbprint is an unsalted hash of the secret.
    pub fn thumbprints(&self) -> Vec<String> {
        let mut all: Vec<String> = self
            .projects
            .iter()
            .flat_map(ProjectSnapshot::all_keys)
            .filter(|j| !is_symmetric(&j.jwk))
            .map(|j| j.thumbprint.clone())
            .collect();
        all.sort();
        all.dedup();
        all
    }
}

/// What a target reports after a successful deployment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Receipt {
    /// The thumbprints of the public keys the target now serves, sorted. Never those of
    /// symmetric (`oct`) keys, which are hashes of the secret: receipts are stored.
    pub thumbprints: Vec<String>,
}

/// Why a deployment to one environment failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DeployError(pub String);

/// Somewhere an environment's keys go. Hosts implement it to plug in their own gateways.
pub trait DeployTarget: Send + Sync + 'static {
    /// Makes the target serve `snapshot`; the receipt lists what it now serves.
    fn deploy<'a>(
        &'a self,
        snapshot: &'a EnvironmentSnapshot,
    ) -> BoxFuture<'a, Result<Receipt, DeployError>>;

    /// True for a target that lives inside this process (the in-process [`Resolver`], or a
    /// host's own in-memory table): when several nodes share a registry, every node keeps
    /// its own copy current as changes arrive. False (the default) for a target outside the
    /// process (a file, a webhook, a gateway's admin API): it is deployed once per change,
    /// by one node, under a lock.
    fn node_local(&self) -> bool {
        false
    }
}

/// The product's per-environment result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EnvironmentResult {
    /// The environment.
    pub environment_name: String,
    /// Whether it serves the change.
    pub success: bool,
    /// "Deployed successfully" or why not.
    pub message: String,
}

/// The product's `deploymentResult`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeploymentResult {
    /// True when every environment serves the change.
    pub success: bool,
    /// "Deployment completed successfully" or a summary of what failed.
    pub message: String,
    /// One entry per environment.
    pub environment_results: Vec<EnvironmentResult>,
}

/// A credential's (validation, encryption) JWKs.
#[derive(Debug, Default)]
struct CredentialSlots {
    /// Per slot (validation, encryption): the current JWK and its state.
    current: [Option<(Arc<Jwk>, KeyState)>; 2],
    /// Per slot: the next JWK.
    next: [Option<Arc<Jwk>>; 2],
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

    fn index(self) -> usize {
        match self {
            Slot::Validation => 0,
            Slot::Encryption => 1,
        }
    }
}

/// A served key: the JWK, its thumbprint, and the verification key made from it on first use
/// (once per key and snapshot, then shared lock-free by every token it verifies).
#[derive(Debug)]
struct Served {
    jwk: Arc<Jwk>,
    thumbprint: String,
    verify: std::sync::OnceLock<Arc<VerificationKey>>,
}

impl Served {
    fn verification_key(&self) -> Arc<VerificationKey> {
        self.verify
            .get_or_init(|| {
                Arc::new(VerificationKey::with_thumbprint(
                    self.jwk.clone(),
                    self.thumbprint.clone(),
                ))
            })
            .clone()
    }
}

/// Keys by kid (several may share one: the token's alg chooses), by `x5t#S256` and by
/// thumbprint.
#[derive(Debug, Default)]
struct KeyIndex {
    kids: HashMap<String, Vec<Arc<Served>>>,
    x5t: HashMap<String, Arc<Served>>,
    thumbprints: HashMap<String, Arc<Served>>,
}

impl KeyIndex {
    fn insert(&mut self, served: &Arc<Served>) {
        if let Some(kid) = &served.jwk.params().kid {
            let list = self.kids.entry(kid.clone()).or_default();
            if !list.iter().any(|s| s.thumbprint == served.thumbprint) {
                list.push(served.clone());
            }
        }
        if let Some(x5t) = jwk_verify::x5t_s256(&served.jwk) {
            self.x5t.entry(x5t).or_insert_with(|| served.clone());
        }
        self.thumbprints
            .entry(served.thumbprint.clone())
            .or_insert_with(|| served.clone());
    }

    fn first_by_kid(&self, kid: &str) -> Option<Arc<Jwk>> {
        Some(self.kids.get(kid)?.first()?.jwk.clone())
    }

    /// The key a token's header names: by `kid` (the one that verifies its `alg` when
    /// several share it), else `x5t#S256`, else `jkt`.
    fn select(&self, selector: &KeySelector<'_>) -> Result<Arc<VerificationKey>, VerifyError> {
        selector.require_some()?;
        let found = match (selector.kid, selector.x5t_s256, selector.jkt) {
            (Some(kid), _, _) => self.kids.get(kid).and_then(|list| {
                jwk_verify::pick(list.iter().map(|s| s.verification_key()), selector.alg)
            }),
            (None, Some(x5t), _) => self.x5t.get(x5t).map(|s| s.verification_key()),
            (None, None, Some(jkt)) => self.thumbprints.get(jkt).map(|s| s.verification_key()),
            (None, None, None) => None,
        };
        found.ok_or_else(|| selector.unknown())
    }
}

/// The lookup tables of one snapshot, swapped whole on each deployment.
#[derive(Debug, Default)]
struct ResolverTables {
    by_name: HashMap<String, HashMap<String, (Arc<Jwk>, KeyState)>>,
    /// Every served key (JWKs first, then remote sets' keys, in snapshot order).
    all: KeyIndex,
    /// Per project: its JWKs first, then its remote sets' keys.
    projects: HashMap<String, KeyIndex>,
    credentials: HashMap<String, HashMap<String, CredentialSlots>>,
    revision: u64,
    /// The snapshot's validity epoch and next validity change.
    validity_epoch: i64,
    next_change: Option<i64>,
    /// The public JWKS, made on first request.
    public: std::sync::OnceLock<Arc<str>>,
    /// Its strong ETag, made with it.
    etag: std::sync::OnceLock<Arc<str>>,
}

/// The public JWKS a resolver serves, as a client fetches it without a token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedJwks {
    /// `{"keys":[…]}`: the public keys (never an `oct` key), sorted by thumbprint.
    pub body: Arc<str>,
    /// A strong ETag, quoted: base64url of the SHA-256 of the body (the same keys give the
    /// same tag on every node and across restarts).
    pub etag: Arc<str>,
    /// The store revision the resolver serves.
    pub revision: u64,
    /// When a key's `nbf` or `exp` changes it next (Unix seconds): caches should come back
    /// by then.
    pub next_change: Option<i64>,
}

impl ResolverTables {
    /// What these tables serve, as a [`Receipt`]: public keys only.
    fn receipt(&self) -> Receipt {
        let mut thumbprints: Vec<String> = self
            .all
            .thumbprints
            .iter()
            .filter(|(_, s)| !is_symmetric(&s.jwk))
            .map(|(t, _)| t.clone())
            .collect();
        thumbprints.sort();
        Receipt { thumbprints }
    }
}

fn is_symmetric(jwk: &Jwk) -> bool {
    matches!(jwk.key(), jwk_core::Key::Oct(_))
}

/// The in-process resolver target: gateways linked in-process look keys up here.
///
/// Reads are lock-free (an `ArcSwap` load) and allocate nothing; a deployment builds new
/// tables and swaps them in whole, so a reader sees one snapshot or the next, never a mix.
#[derive(Debug, Default)]
pub struct Resolver {
    tables: ArcSwap<ResolverTables>,
    /// Serialises installs, so a slower older snapshot never replaces a newer one.
    installing: std::sync::Mutex<()>,
}

/// Which slot of a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Slot {
    /// Validation / signing.
    Validation,
    /// Decryption / encryption.
    Encryption,
}

impl Resolver {
    /// An empty resolver.
    pub fn new() -> Resolver {
        Resolver::default()
    }

    /// The JWK `name` of `project`.
    pub fn by_name(&self, project: &str, name: &str) -> Option<Arc<Jwk>> {
        Some(
            self.tables
                .load()
                .by_name
                .get(project)?
                .get(name)?
                .0
                .clone(),
        )
    }

    /// The JWK `name` of `project` when it is `Active`: the key to sign or encrypt with.
    pub fn active(&self, project: &str, name: &str) -> Option<Arc<Jwk>> {
        let tables = self.tables.load();
        let (jwk, state) = tables.by_name.get(project)?.get(name)?;
        (*state == KeyState::Active).then(|| jwk.clone())
    }

    /// The state of the JWK `name` of `project` (`None`: not served).
    pub fn state(&self, project: &str, name: &str) -> Option<KeyState> {
        Some(self.tables.load().by_name.get(project)?.get(name)?.1)
    }

    /// The JWK with this kid (the first deployed when several share it).
    pub fn by_kid(&self, kid: &str) -> Option<Arc<Jwk>> {
        self.tables.load().all.first_by_kid(kid)
    }

    /// The key with this kid that `project` serves: one of its JWKs, else a key of one of
    /// its remote JWK Sets. Lock-free; for a lookup that refetches a project's remote sets
    /// on a miss, see [`crate::LiveKeys`].
    pub fn by_project_kid(&self, project: &str, kid: &str) -> Option<Arc<Jwk>> {
        self.tables.load().projects.get(project)?.first_by_kid(kid)
    }

    /// The JWK with this SHA-256 thumbprint (also a symmetric key's: the resolver lives in
    /// the process that holds the secrets; its receipts never list those).
    pub fn by_thumbprint(&self, thumbprint: &str) -> Option<Arc<Jwk>> {
        Some(
            self.tables
                .load()
                .all
                .thumbprints
                .get(thumbprint)?
                .jwk
                .clone(),
        )
    }

    /// The verification key a token's header names, among every key served (`kid`, else
    /// `x5t#S256`, else `jkt`). Made once per key and snapshot; see also
    /// [`Resolver::project_keys`] and the [`jwk_verify::KeySource`] impl.
    pub fn verification_key(
        &self,
        selector: &KeySelector<'_>,
    ) -> Result<Arc<VerificationKey>, VerifyError> {
        self.tables.load().all.select(selector)
    }

    /// The verification key a token's header names among the keys of `project` (its JWKs,
    /// then its remote sets' keys).
    pub fn project_verification_key(
        &self,
        project: &str,
        selector: &KeySelector<'_>,
    ) -> Result<Arc<VerificationKey>, VerifyError> {
        match self.tables.load().projects.get(project) {
            Some(index) => index.select(selector),
            None => {
                selector.require_some()?;
                Err(selector.unknown())
            }
        }
    }

    /// The keys of `project`, as a [`jwk_verify::KeySource`] for a verifier.
    pub fn project_keys(self: &Arc<Self>, project: &str) -> ProjectKeys {
        ProjectKeys {
            resolver: self.clone(),
            project: project.to_owned(),
        }
    }

    /// The JWK in a credential's slot: the validation slot's in every published state (it
    /// verifies), the encryption slot's only while `Active` (it encrypts).
    pub fn credential(&self, project: &str, username: &str, slot: Slot) -> Option<Arc<Jwk>> {
        let tables = self.tables.load();
        let slots = tables.credentials.get(project)?.get(username)?;
        let (jwk, state) = slots.current[slot.index()].as_ref()?;
        match slot {
            Slot::Validation => Some(jwk.clone()),
            Slot::Encryption => (*state == KeyState::Active).then(|| jwk.clone()),
        }
    }

    /// The next JWK of a credential's slot: published, to be promoted
    /// (`Command::PromoteCredentialJwk`).
    pub fn credential_next(&self, project: &str, username: &str, slot: Slot) -> Option<Arc<Jwk>> {
        let tables = self.tables.load();
        let slots = tables.credentials.get(project)?.get(username)?;
        slots.next[slot.index()].clone()
    }

    /// The store revision the resolver serves.
    pub fn revision(&self) -> u64 {
        self.tables.load().revision
    }

    /// The public JWKS `{"keys":[…]}` of what the resolver serves (oct keys never), sorted
    /// by thumbprint, and the revision it belongs to.
    pub fn public_jwks(&self) -> (Arc<str>, u64) {
        let tables = self.tables.load();
        (public_of(&tables), tables.revision)
    }

    /// The public JWKS with its strong ETag, both made once per deployed snapshot.
    pub fn published(&self) -> PublishedJwks {
        let tables = self.tables.load();
        let (body, revision) = (public_of(&tables), tables.revision);
        let etag = tables
            .etag
            .get_or_init(|| {
                use sha2::Digest;
                let hash = sha2::Sha256::digest(body.as_bytes());
                let tag = base64ct::Base64UrlUnpadded::encode_string(&hash);
                Arc::from(format!("\"{tag}\""))
            })
            .clone();
        PublishedJwks {
            body,
            etag,
            revision,
            next_change: tables.next_change,
        }
    }

    fn install(&self, snapshot: &EnvironmentSnapshot) -> Receipt {
        let _one = self.installing.lock().unwrap_or_else(|p| p.into_inner());
        let current = self.tables.load();
        if (snapshot.revision, snapshot.validity_epoch) < (current.revision, current.validity_epoch)
        {
            // Two deployments crossed (a node's own and the one a NOTIFY started): keep the
            // newer tables.
            return current.receipt();
        }
        let mut t = ResolverTables {
            revision: snapshot.revision,
            validity_epoch: snapshot.validity_epoch,
            next_change: snapshot.next_validity_change,
            ..ResolverTables::default()
        };
        let mut served: HashMap<String, Arc<Served>> = HashMap::new();
        let mut entry = |j: &DeployedJwk| {
            served
                .entry(j.thumbprint.clone())
                .or_insert_with(|| {
                    Arc::new(Served {
                        jwk: j.jwk.clone(),
                        thumbprint: j.thumbprint.clone(),
                        verify: std::sync::OnceLock::new(),
                    })
                })
                .clone()
        };
        for p in &snapshot.projects {
            let names = t.by_name.entry(p.name.clone()).or_default();
            for j in &p.jwks {
                names.insert(j.name.clone(), (j.jwk.clone(), j.state));
            }
            let index = t.projects.entry(p.name.clone()).or_default();
            for j in p.all_keys() {
                let s = entry(j);
                index.insert(&s);
                t.all.insert(&s);
            }
            let creds = t.credentials.entry(p.name.clone()).or_default();
            for c in &p.credentials {
                let current =
                    |d: &Option<DeployedJwk>| d.as_ref().map(|d| (d.jwk.clone(), d.state));
                let next = |d: &Option<DeployedJwk>| d.as_ref().map(|d| d.jwk.clone());
                creds.insert(
                    c.username.clone(),
                    CredentialSlots {
                        current: [current(&c.validation), current(&c.encryption)],
                        next: [next(&c.validation_next), next(&c.encryption_next)],
                    },
                );
            }
        }
        let receipt = t.receipt();
        self.tables.store(Arc::new(t));
        receipt
    }
}

/// The public JWKS `{"keys":[…]}` of `tables` (oct keys never), sorted by thumbprint, made
/// once.
fn public_of(tables: &ResolverTables) -> Arc<str> {
    tables
        .public
        .get_or_init(|| {
            let mut all: Vec<(&String, String)> = tables
                .all
                .thumbprints
                .iter()
                .filter_map(|(t, s)| Some((t, s.jwk.to_public_json()?)))
                .collect();
            all.sort_by(|a, b| a.0.cmp(b.0));
            let keys: Vec<String> = all.into_iter().map(|(_, json)| json).collect();
            Arc::from(format!("{{\"keys\":[{}]}}", keys.join(",")))
        })
        .clone()
}

/// Every key the resolver serves, for a verifier: `kid`, else `x5t#S256`, else `jkt`.
impl KeySource for Resolver {
    fn key(&self, selector: &KeySelector<'_>) -> Result<Arc<VerificationKey>, VerifyError> {
        self.verification_key(selector)
    }
}

/// The keys of one project as the resolver serves them ([`Resolver::project_keys`]).
#[derive(Debug, Clone)]
pub struct ProjectKeys {
    resolver: Arc<Resolver>,
    project: String,
}

impl KeySource for ProjectKeys {
    fn key(&self, selector: &KeySelector<'_>) -> Result<Arc<VerificationKey>, VerifyError> {
        self.resolver
            .project_verification_key(&self.project, selector)
    }
}

impl DeployTarget for Resolver {
    fn deploy<'a>(
        &'a self,
        snapshot: &'a EnvironmentSnapshot,
    ) -> BoxFuture<'a, Result<Receipt, DeployError>> {
        Box::pin(async move { Ok(self.install(snapshot)) })
    }

    fn node_local(&self) -> bool {
        true
    }
}

/// Writes the environment's public JWKS to a file, atomically (temp file, fsync, rename),
/// only under a directory given for file targets.
#[derive(Debug, Clone)]
pub struct FileTarget {
    /// The directory file targets are confined to.
    pub root: std::path::PathBuf,
    /// The JWKS file, relative to `root` (checked by [`FileTarget::new`]).
    pub path: std::path::PathBuf,
}

impl FileTarget {
    /// A file target at `path` under `root`: `path` is relative to `root` (or an absolute path
    /// inside it), names a file, and has no `..`; otherwise why not.
    pub fn new(root: &std::path::Path, path: &str) -> Result<FileTarget, String> {
        use std::path::Component;
        let given = std::path::Path::new(path);
        let relative = if given.is_absolute() {
            given.strip_prefix(root).map_err(|_| {
                format!(
                    "the path {path} is outside the file target directory {}: give a path \
                     relative to it",
                    root.display()
                )
            })?
        } else {
            given
        };
        let mut clean = std::path::PathBuf::new();
        for component in relative.components() {
            match component {
                Component::Normal(part) => clean.push(part),
                Component::CurDir => {}
                Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                    return Err(format!(
                        "the path {path} may not leave the file target directory (no \"..\")"
                    ));
                }
            }
        }
        if clean.as_os_str().is_empty() {
            return Err("the path names no file".to_owned());
        }
        Ok(FileTarget {
            root: root.to_owned(),
            path: clean,
        })
    }

    fn write(&self, body: &str) -> Result<(), DeployError> {
        let full = self.root.join(&self.path);
        let fail = |why: String| DeployError(format!("cannot write {}: {why}", full.display()));
        // The directory the file goes in, with every symbolic link resolved, must still be
        // inside the root: a link placed in the root does not lead the write out of it.
        let root = std::fs::canonicalize(&self.root).map_err(|e| fail(e.to_string()))?;
        let parent = full.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(parent).map_err(|e| fail(e.to_string()))?;
        let real_parent = std::fs::canonicalize(parent).map_err(|e| fail(e.to_string()))?;
        if !real_parent.starts_with(&root) {
            return Err(fail(format!(
                "its directory leads out of the file target directory {} (a symbolic link)",
                root.display()
            )));
        }
        // World-readable: the JWKS holds public keys only, for gateways to read.
        crate::atomic::write_atomic(&full, body.as_bytes(), 0o644).map_err(|e| fail(e.to_string()))
    }
}

impl DeployTarget for FileTarget {
    fn deploy<'a>(
        &'a self,
        snapshot: &'a EnvironmentSnapshot,
    ) -> BoxFuture<'a, Result<Receipt, DeployError>> {
        Box::pin(async move {
            let (body, thumbprints) = snapshot.public_jwks();
            let target = self.clone();
            tokio::task::spawn_blocking(move || target.write(&body))
                .await
                .map_err(|e| worker_failed("file writer", &e))??;
            Ok(Receipt { thumbprints })
        })
    }
}

/// POSTs `{"environment":…,"revision":…,"keys":[public JWKs]}` to a URL (5 s connect,
/// 10 s read, no redirects) through the SSRF guard of URL sources (unless `options` allow
/// private networks); any 2xx is success. Private keys are never sent.
#[derive(Debug, Clone)]
pub struct WebhookTarget {
    /// The URL.
    pub url: String,
    /// Timeouts and the guard ([`WebhookTarget::options`] gives the defaults).
    pub options: jwk_fetch::FetchOptions,
}

impl WebhookTarget {
    /// The webhook options: 5 s to connect, 10 s for the rest, no redirects, and the SSRF
    /// guard unless `allow_private_networks`.
    pub fn options(allow_private_networks: bool) -> jwk_fetch::FetchOptions {
        jwk_fetch::FetchOptions {
            max_redirects: 0,
            allow_private_networks,
            ..jwk_fetch::FetchOptions::default()
        }
    }
}

impl DeployTarget for WebhookTarget {
    fn deploy<'a>(
        &'a self,
        snapshot: &'a EnvironmentSnapshot,
    ) -> BoxFuture<'a, Result<Receipt, DeployError>> {
        Box::pin(async move {
            let (keys, thumbprints) = snapshot.public_jwks();
            let body = format!(
                "{{\"environment\":{},\"revision\":{},\"keys\":{}}}",
                serde_json::Value::String(snapshot.environment.clone()),
                snapshot.revision,
                &keys["{\"keys\":".len()..keys.len() - 1]
            );
            let url = self.url.clone();
            let options = self.options.clone();
            let status = tokio::task::spawn_blocking(move || {
                jwk_fetch::post_json(&url, body.as_bytes(), &options)
                    .map_err(|e| DeployError(format!("webhook call failed: {e}")))
            })
            .await
            .map_err(|e| worker_failed("webhook caller", &e))??;
            if (200..300).contains(&status) {
                Ok(Receipt { thumbprints })
            } else {
                Err(DeployError(format!("webhook answered HTTP {status}")))
            }
        })
    }
}

/// A deployment worker that panicked: the panic's text goes to the log only (it may quote
/// stored data), the result says where to look.
fn worker_failed(what: &str, e: &tokio::task::JoinError) -> DeployError {
    tracing::error!(error = %e, "the {what} failed");
    DeployError(format!("the {what} failed inside the server (see its log)"))
}

/// The SHA-256 thumbprint used throughout deployment.
pub fn thumbprint(jwk: &Jwk) -> String {
    jwk.thumbprint(ThumbprintHash::Sha256)
}
