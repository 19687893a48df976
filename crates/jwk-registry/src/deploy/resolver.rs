//! The in-process resolver: the target gateways linked in-process look keys up in.

use std::collections::HashMap;
use std::sync::Arc;

use arc_swap::ArcSwap;
use base64ct::Encoding;
use jwk_core::Jwk;
use jwk_verify::{KeySelector, KeySource, VerificationKey, VerifyError};

use super::{
    BoxFuture, DeployError, DeployTarget, DeployedJwk, EnvironmentSnapshot, KeyState, Receipt,
    Slot, is_symmetric,
};

/// A credential's (validation, encryption) JWKs.
#[derive(Debug, Default)]
struct CredentialSlots {
    /// Per slot (validation, encryption): the current JWK and its state.
    current: [Option<(Arc<Jwk>, KeyState)>; 2],
    /// Per slot: the next JWK.
    next: [Option<Arc<Jwk>>; 2],
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
