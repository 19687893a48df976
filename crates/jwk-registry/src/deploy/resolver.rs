//! The in-process resolver: the target gateways linked in-process look keys up in.

use std::sync::{Arc, OnceLock};

use arc_swap::ArcSwap;
use base64ct::Encoding;
use imbl::OrdMap;
use jwk_core::Jwk;
use jwk_verify::{KeySelector, KeySource, VerificationKey, VerifyError};

use super::{
    BoxFuture, DeployError, DeployTarget, DeployedCredential, DeployedJwk, EnvironmentDelta,
    EnvironmentSnapshot, KeyState, Receipt, Slot, lock,
};

/// A credential's (validation, encryption) JWKs.
#[derive(Debug, Default)]
struct CredentialSlots {
    /// Per slot (validation, encryption): the current JWK and its state.
    current: [Option<(Arc<Jwk>, KeyState)>; 2],
    /// Per slot: the next JWK.
    next: [Option<Arc<Jwk>>; 2],
}

impl CredentialSlots {
    fn of(c: &DeployedCredential) -> CredentialSlots {
        let current = |d: &Option<DeployedJwk>| d.as_ref().map(|d| (d.jwk.clone(), d.state));
        let next = |d: &Option<DeployedJwk>| d.as_ref().map(|d| d.jwk.clone());
        CredentialSlots {
            current: [current(&c.validation), current(&c.encryption)],
            next: [next(&c.validation_next), next(&c.encryption_next)],
        }
    }
}

/// A served key: the JWK, its thumbprint, and what is made from it on first use (once per
/// key, then shared lock-free by every lookup and every later version that still serves it):
/// its verification key and its public JSON.
#[derive(Debug)]
struct Served {
    jwk: Arc<Jwk>,
    thumbprint: Text,
    /// A JWK's name and state (a remote set's key: the set's name, active).
    name: Text,
    state: KeyState,
    verify: OnceLock<Arc<VerificationKey>>,
    /// The public JSON and its SHA-256 as four words (`None`: an `oct` key, never published).
    public: OnceLock<Option<(Arc<str>, [u64; 4])>>,
}

impl Served {
    fn new(j: &DeployedJwk) -> Arc<Served> {
        Arc::new(Served {
            jwk: j.jwk.clone(),
            thumbprint: j.thumbprint.clone(),
            name: j.name.clone(),
            state: j.state,
            verify: OnceLock::new(),
            public: OnceLock::new(),
        })
    }

    fn verification_key(&self) -> Arc<VerificationKey> {
        self.verify
            .get_or_init(|| {
                Arc::new(VerificationKey::with_thumbprint(
                    self.jwk.clone(),
                    self.thumbprint.to_string(),
                ))
            })
            .clone()
    }

    fn public(&self) -> Option<&(Arc<str>, [u64; 4])> {
        self.public
            .get_or_init(|| {
                use sha2::Digest;
                let json = self.jwk.to_public_json()?;
                let hash = sha2::Sha256::digest(json.as_bytes());
                let mut words = [0u64; 4];
                for (w, chunk) in words.iter_mut().zip(hash.chunks_exact(8)) {
                    let mut b = [0u8; 8];
                    b.copy_from_slice(chunk);
                    *w = u64::from_be_bytes(b);
                }
                Some((Arc::from(json), words))
            })
            .as_ref()
    }
}

/// Who serves a key: a JWK (kind 0, its id) or a remote set's key (kind 1, the set's name
/// and the key's place in it). Ordered by project, then JWKs before remote keys: when
/// several keys share a kid, the first in this order is the one a lookup by kid alone gives.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Owner {
    project: Arc<str>,
    kind: u8,
    name: Arc<str>,
    index: usize,
}

/// Texts shared by every version and every table (`Arc<str>`, looked up by `&str`).
type Text = Arc<str>;

/// The keys listed under one kid, `x5t#S256` or thumbprint, in owner order.
type Listed = Arc<Vec<(Owner, Arc<Served>)>>;

/// Keys by kid (several may share one: the token's alg chooses), by `x5t#S256` and by
/// thumbprint.
#[derive(Debug, Clone, Default)]
struct KeyIndex {
    kids: OrdMap<Text, Listed>,
    x5t: OrdMap<Text, Listed>,
    thumbprints: OrdMap<Text, Listed>,
}

/// Adds or removes `owner`'s key in the list under `key` (in place: a list, or a map node,
/// that this version shares with an older one is copied first).
fn relist(
    map: &mut OrdMap<Text, Listed>,
    key: &str,
    shared: impl FnOnce() -> Text,
    owner: &Owner,
    add: Option<&Arc<Served>>,
) {
    let Some(listed) = map.get_mut(key) else {
        if let Some(served) = add {
            map.insert(shared(), Arc::new(vec![(owner.clone(), served.clone())]));
        }
        return;
    };
    let list = Arc::make_mut(listed);
    list.retain(|(o, _)| o != owner);
    if let Some(served) = add {
        let at = list.partition_point(|(o, _)| o < owner);
        list.insert(at, (owner.clone(), served.clone()));
    }
    if list.is_empty() {
        map.remove(key);
    }
}

impl KeyIndex {
    fn set(&mut self, owner: &Owner, served: &Arc<Served>, add: bool) {
        let add = add.then_some(served);
        if let Some(kid) = &served.jwk.params().kid {
            // A generated key's kid is its thumbprint: one copy of the text.
            let text = || {
                if **kid == *served.thumbprint {
                    served.thumbprint.clone()
                } else {
                    Arc::from(kid.as_str())
                }
            };
            relist(&mut self.kids, kid, text, owner, add);
        }
        if let Some(x5t) = jwk_verify::x5t_s256(&served.jwk) {
            relist(&mut self.x5t, &x5t, || Arc::from(x5t.as_str()), owner, add);
        }
        let thumbprint = || served.thumbprint.clone();
        relist(
            &mut self.thumbprints,
            &served.thumbprint,
            thumbprint,
            owner,
            add,
        );
    }

    fn first_by_kid(&self, kid: &str, project: Option<&str>) -> Option<Arc<Jwk>> {
        Some(listed(self.kids.get(kid), project).next()?.jwk.clone())
    }

    /// The key a token's header names (among `project`'s keys when given): by `kid` (the
    /// one that verifies its `alg` when several share it), else `x5t#S256`, else `jkt`.
    fn select(
        &self,
        selector: &KeySelector<'_>,
        project: Option<&str>,
    ) -> Result<Arc<VerificationKey>, VerifyError> {
        selector.require_some()?;
        let first = |list| Some(listed(list, project).next()?.verification_key());
        let found = match (selector.kid, selector.x5t_s256, selector.jkt) {
            (Some(kid), _, _) => jwk_verify::pick(
                listed(self.kids.get(kid), project).map(|s| s.verification_key()),
                selector.alg,
            ),
            (None, Some(x5t), _) => first(self.x5t.get(x5t)),
            (None, None, Some(jkt)) => first(self.thumbprints.get(jkt)),
            (None, None, None) => None,
        };
        found.ok_or_else(|| selector.unknown())
    }
}

/// The keys of a list, in owner order: all of them, or `project`'s.
fn listed<'a>(
    list: Option<&'a Listed>,
    project: Option<&'a str>,
) -> impl Iterator<Item = &'a Arc<Served>> {
    list.into_iter()
        .flat_map(|l| l.iter())
        .filter(move |(o, _)| project.is_none_or(|p| *o.project == *p))
        .map(|(_, s)| s)
}

/// The keys a remote set serves.
type SetKeys = Arc<Vec<Arc<Served>>>;

/// The ids sharing a name, sorted (almost always one).
type NameIds = Arc<Vec<Text>>;

/// The lookup tables of one version. Persistent maps: the next version shares every
/// untouched node with this one, so applying a delta costs what it changes.
#[derive(Debug, Clone, Default)]
struct ResolverTables {
    /// Per project, its JWKs by id.
    jwks: OrdMap<Text, OrdMap<Text, Arc<Served>>>,
    /// Per project, the ids of each JWK name, sorted (two approved JWKs share a name while
    /// a deletion or a rename waits for approval: a lookup by name gives the greatest id).
    names: OrdMap<Text, OrdMap<Text, NameIds>>,
    /// Per project, the keys of each remote set.
    remote: OrdMap<Text, OrdMap<Text, SetKeys>>,
    credentials: OrdMap<Text, OrdMap<Text, Arc<CredentialSlots>>>,
    /// Every served key (a project's lookups take its own from the lists).
    all: KeyIndex,
    /// The sum (word by word, wrapping) of the SHA-256 of every published key's public JSON:
    /// a digest of the public JWKS kept as keys come and go.
    digest: [u64; 4],
    /// How many keys the public JWKS lists.
    public_keys: usize,
    revision: u64,
    /// The version's validity epoch and next validity change.
    validity_epoch: i64,
    next_change: Option<i64>,
    /// The public JWKS, made on first request (per version).
    public: Arc<OnceLock<Arc<str>>>,
    /// Its strong ETag.
    etag: Arc<OnceLock<Arc<str>>>,
}

/// The public JWKS a resolver serves, as a client fetches it without a token: one
/// version's tag, and its body made on first use ([`PublishedJwks::body`]), so a conditional
/// request that matches the tag costs no body.
#[derive(Clone)]
pub struct PublishedJwks {
    tables: Arc<ResolverTables>,
    /// A strong ETag, quoted: base64url of a SHA-256 over the digest of the listed keys
    /// (the same keys give the same tag on every node and across restarts; kept up to date
    /// as keys come and go, so a conditional request is answered without making the body).
    pub etag: Arc<str>,
    /// The store revision the resolver serves.
    pub revision: u64,
    /// When a key's `nbf` or `exp` changes it next (Unix seconds): caches should come back
    /// by then.
    pub next_change: Option<i64>,
}

impl PublishedJwks {
    /// `{"keys":[…]}`: the public keys (never an `oct` key), sorted by thumbprint; made once
    /// per version.
    pub fn body(&self) -> Arc<str> {
        public_of(&self.tables)
    }
}

impl std::fmt::Debug for PublishedJwks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PublishedJwks")
            .field("body", &self.body())
            .field("etag", &self.etag)
            .field("revision", &self.revision)
            .field("next_change", &self.next_change)
            .finish()
    }
}

impl PartialEq for PublishedJwks {
    fn eq(&self, other: &PublishedJwks) -> bool {
        (&self.etag, self.revision, self.next_change, self.body())
            == (&other.etag, other.revision, other.next_change, other.body())
    }
}

impl Eq for PublishedJwks {}

/// Applies `f` to the inner map of `outer` under `key` (made when missing, dropped when
/// left empty), in place.
fn nested<V: Clone, T>(
    outer: &mut OrdMap<Text, OrdMap<Text, V>>,
    key: &Text,
    f: impl FnOnce(&mut OrdMap<Text, V>) -> T,
) -> T {
    let Some(inner) = outer.get_mut(&**key) else {
        let mut inner = OrdMap::new();
        let out = f(&mut inner);
        if !inner.is_empty() {
            outer.insert(key.clone(), inner);
        }
        return out;
    };
    let out = f(inner);
    if inner.is_empty() {
        outer.remove(&**key);
    }
    out
}

impl ResolverTables {
    /// Lists or delists a key everywhere (the per-project index, every key, the digest).
    fn index(&mut self, owner: &Owner, served: &Arc<Served>, add: bool) {
        let winner = |t: &ResolverTables| {
            t.all
                .thumbprints
                .get(&served.thumbprint)
                .and_then(|l| l.first().map(|(_, s)| s.clone()))
        };
        let before = winner(self);
        self.all.set(owner, served, add);
        let after = winner(self);
        let moved = match (&before, &after) {
            (Some(a), Some(b)) => !Arc::ptr_eq(a, b),
            (None, None) => false,
            _ => true,
        };
        if moved {
            if let Some((_, words)) = before.as_deref().and_then(Served::public) {
                for (d, w) in self.digest.iter_mut().zip(words) {
                    *d = d.wrapping_sub(*w);
                }
                self.public_keys -= 1;
            }
            if let Some((_, words)) = after.as_deref().and_then(Served::public) {
                for (d, w) in self.digest.iter_mut().zip(words) {
                    *d = d.wrapping_add(*w);
                }
                self.public_keys += 1;
            }
        }
    }

    /// Sets (or removes) the JWK `id` of `project`.
    fn set_jwk(&mut self, project: &Text, id: &Text, jwk: Option<&DeployedJwk>) {
        let owner = Owner {
            project: project.clone(),
            kind: 0,
            name: id.clone(),
            index: 0,
        };
        let old = self
            .jwks
            .get(&**project)
            .and_then(|m| m.get(&**id))
            .cloned();
        if let Some(old) = &old {
            self.index(&owner, old, false);
            nested(&mut self.names, project, |names| {
                let emptied = names.get_mut(&*old.name).is_some_and(|ids| {
                    Arc::make_mut(ids).retain(|i| i != id);
                    ids.is_empty()
                });
                if emptied {
                    names.remove(&*old.name);
                }
            });
        }
        match jwk {
            Some(j) => {
                // The same key, name and state as before keep what was made from it.
                let served = match &old {
                    Some(o)
                        if Arc::ptr_eq(&o.jwk, &j.jwk)
                            && o.name == j.name
                            && o.state == j.state =>
                    {
                        o.clone()
                    }
                    _ => Served::new(j),
                };
                self.index(&owner, &served, true);
                nested(&mut self.names, project, |names| {
                    let ids = Arc::make_mut(names.entry(j.name.clone()).or_default());
                    if let Err(at) = ids.binary_search(id) {
                        ids.insert(at, id.clone());
                    }
                });
                nested(&mut self.jwks, project, |jwks| {
                    jwks.insert(id.clone(), served);
                });
            }
            None => nested(&mut self.jwks, project, |jwks| {
                jwks.remove(&**id);
            }),
        }
    }

    /// Sets the keys of the remote set `name` of `project` (none: gone).
    fn set_remote(&mut self, project: &Text, name: &Text, keys: &[DeployedJwk]) {
        let owner = |index| Owner {
            project: project.clone(),
            kind: 1,
            name: name.clone(),
            index,
        };
        let old = self
            .remote
            .get(&**project)
            .and_then(|m| m.get(&**name))
            .cloned();
        for (i, served) in old.iter().flat_map(|o| o.iter()).enumerate() {
            self.index(&owner(i), served, false);
        }
        let served: Vec<Arc<Served>> = keys.iter().map(Served::new).collect();
        for (i, s) in served.iter().enumerate() {
            self.index(&owner(i), s, true);
        }
        nested(&mut self.remote, project, |sets| {
            if served.is_empty() {
                sets.remove(&**name);
            } else {
                sets.insert(name.clone(), Arc::new(served));
            }
        });
    }

    /// Sets (or removes) the credential `username` of `project`.
    fn set_credential(&mut self, project: &Text, username: &Text, c: Option<&DeployedCredential>) {
        nested(&mut self.credentials, project, |creds| match c {
            Some(c) => {
                creds.insert(username.clone(), Arc::new(CredentialSlots::of(c)));
            }
            None => {
                creds.remove(&**username);
            }
        });
    }

    /// The next version's tables: these, with the public JWKS and its tag to be made again.
    fn next(&self) -> ResolverTables {
        ResolverTables {
            public: Arc::default(),
            etag: Arc::default(),
            ..self.clone()
        }
    }

    fn receipt(&self) -> Receipt {
        Receipt {
            public_keys: self.public_keys,
        }
    }
}

/// The in-process resolver target: gateways linked in-process look keys up here.
///
/// Reads are lock-free (an `ArcSwap` load) and allocate nothing; a deployment makes the next
/// tables from the current ones (persistent maps: only what changed is new) and swaps them
/// in whole, so a reader sees one version or the next, never a mix.
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

    /// The JWK `name` of `project`, with its state.
    fn named(&self, project: &str, name: &str) -> Option<(Arc<Jwk>, KeyState)> {
        let tables = self.tables.load();
        let id = tables.names.get(project)?.get(name)?.last()?;
        let served = tables.jwks.get(project)?.get(&**id)?;
        Some((served.jwk.clone(), served.state))
    }

    /// The JWK `name` of `project`.
    pub fn by_name(&self, project: &str, name: &str) -> Option<Arc<Jwk>> {
        Some(self.named(project, name)?.0)
    }

    /// The JWK `name` of `project` when it is `Active`: the key to sign or encrypt with.
    pub fn active(&self, project: &str, name: &str) -> Option<Arc<Jwk>> {
        let (jwk, state) = self.named(project, name)?;
        (state == KeyState::Active).then_some(jwk)
    }

    /// The state of the JWK `name` of `project` (`None`: not served).
    pub fn state(&self, project: &str, name: &str) -> Option<KeyState> {
        Some(self.named(project, name)?.1)
    }

    /// The JWK with this kid (the first deployed when several share it).
    pub fn by_kid(&self, kid: &str) -> Option<Arc<Jwk>> {
        self.tables.load().all.first_by_kid(kid, None)
    }

    /// The key with this kid that `project` serves: one of its JWKs, else a key of one of
    /// its remote JWK Sets. Lock-free; for a lookup that refetches a project's remote sets
    /// on a miss, see [`crate::LiveKeys`].
    pub fn by_project_kid(&self, project: &str, kid: &str) -> Option<Arc<Jwk>> {
        self.tables.load().all.first_by_kid(kid, Some(project))
    }

    /// The JWK with this SHA-256 thumbprint (also a symmetric key's: the resolver lives in
    /// the process that holds the secrets; its receipts never count those).
    pub fn by_thumbprint(&self, thumbprint: &str) -> Option<Arc<Jwk>> {
        let tables = self.tables.load();
        Some(
            tables
                .all
                .thumbprints
                .get(thumbprint)?
                .first()?
                .1
                .jwk
                .clone(),
        )
    }

    /// The verification key a token's header names, among every key served (`kid`, else
    /// `x5t#S256`, else `jkt`). Made once per key; see also [`Resolver::project_keys`] and
    /// the [`jwk_verify::KeySource`] impl.
    pub fn verification_key(
        &self,
        selector: &KeySelector<'_>,
    ) -> Result<Arc<VerificationKey>, VerifyError> {
        self.tables.load().all.select(selector, None)
    }

    /// The verification key a token's header names among the keys of `project` (its JWKs,
    /// then its remote sets' keys).
    pub fn project_verification_key(
        &self,
        project: &str,
        selector: &KeySelector<'_>,
    ) -> Result<Arc<VerificationKey>, VerifyError> {
        self.tables.load().all.select(selector, Some(project))
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

    /// How many keys the public JWKS lists.
    pub fn public_key_count(&self) -> usize {
        self.tables.load().public_keys
    }

    /// The public JWKS `{"keys":[…]}` of what the resolver serves (oct keys never), sorted
    /// by thumbprint, and the revision it belongs to.
    pub fn public_jwks(&self) -> (Arc<str>, u64) {
        let tables = self.tables.load();
        (public_of(&tables), tables.revision)
    }

    /// The public JWKS with its strong ETag. The tag is kept as keys come and go; the body
    /// is made once per version, when first asked for.
    pub fn published(&self) -> PublishedJwks {
        let tables = self.tables.load_full();
        PublishedJwks {
            etag: etag_of(&tables),
            revision: tables.revision,
            next_change: tables.next_change,
            tables,
        }
    }

    fn install(&self, snapshot: &EnvironmentSnapshot) -> Receipt {
        let _one = lock(&self.installing);
        let current = self.tables.load();
        if (snapshot.revision, snapshot.validity_epoch) < (current.revision, current.validity_epoch)
        {
            // Two deployments crossed: keep the newer tables.
            return current.receipt();
        }
        let mut t = ResolverTables {
            revision: snapshot.revision,
            validity_epoch: snapshot.validity_epoch,
            next_change: snapshot.next_validity_change,
            ..ResolverTables::default()
        };
        for p in &snapshot.projects {
            let project: Text = Arc::from(p.name.as_str());
            for j in &p.jwks {
                t.set_jwk(&project, &j.id, Some(j));
            }
            let mut sets: Vec<(Text, Vec<DeployedJwk>)> = Vec::new();
            for k in &p.remote_keys {
                match sets.last_mut() {
                    Some((name, keys)) if *name == k.name => keys.push(k.clone()),
                    _ => sets.push((k.name.clone(), vec![k.clone()])),
                }
            }
            for (name, keys) in sets {
                t.set_remote(&project, &name, &keys);
            }
            for c in &p.credentials {
                t.set_credential(&project, &c.username, Some(c));
            }
        }
        let receipt = t.receipt();
        self.tables.store(Arc::new(t));
        receipt
    }

    /// Applies `delta` when the resolver serves exactly its base; `None` otherwise.
    fn apply(&self, delta: &EnvironmentDelta) -> Option<Receipt> {
        let _one = lock(&self.installing);
        let current = self.tables.load();
        if (current.revision, current.validity_epoch)
            != (delta.base_revision, delta.base_validity_epoch)
            || current.revision == 0
        {
            return None;
        }
        let mut t = current.next();
        for c in &delta.jwks {
            t.set_jwk(&c.project, &c.id, c.jwk.as_ref());
        }
        for c in &delta.remote_sets {
            t.set_remote(&c.project, &c.name, &c.keys);
        }
        for c in &delta.credentials {
            t.set_credential(&c.project, &c.username, c.credential.as_ref());
        }
        t.revision = delta.revision;
        t.validity_epoch = delta.validity_epoch;
        t.next_change = delta.next_validity_change;
        let receipt = t.receipt();
        self.tables.store(Arc::new(t));
        Some(receipt)
    }
}

/// The public JWKS `{"keys":[…]}` of `tables` (oct keys never), sorted by thumbprint, made
/// once per version from each key's public JSON (itself made once per key).
fn public_of(tables: &ResolverTables) -> Arc<str> {
    tables
        .public
        .get_or_init(|| {
            let listed: Vec<&Arc<str>> = tables
                .all
                .thumbprints
                .values()
                .filter_map(|l| Some(&l.first()?.1.public()?.0))
                .collect();
            let len = listed.iter().map(|j| j.len() + 1).sum::<usize>() + 10;
            let mut body = String::with_capacity(len);
            body.push_str("{\"keys\":[");
            for (i, json) in listed.into_iter().enumerate() {
                if i > 0 {
                    body.push(',');
                }
                body.push_str(json);
            }
            body.push_str("]}");
            Arc::from(body)
        })
        .clone()
}

/// The strong ETag of `tables`' public JWKS: from the digest of its keys and their count.
fn etag_of(tables: &ResolverTables) -> Arc<str> {
    tables
        .etag
        .get_or_init(|| {
            use sha2::Digest;
            let mut hash = sha2::Sha256::new();
            for w in tables.digest {
                hash.update(w.to_be_bytes());
            }
            hash.update((tables.public_keys as u64).to_be_bytes());
            let tag = base64ct::Base64UrlUnpadded::encode_string(&hash.finalize());
            Arc::from(format!("\"{tag}\""))
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

    fn deploy_delta<'a>(
        &'a self,
        delta: &'a EnvironmentDelta,
    ) -> Option<BoxFuture<'a, Result<Receipt, DeployError>>> {
        let receipt = self.apply(delta)?;
        Some(Box::pin(async move { Ok(receipt) }))
    }

    fn node_local(&self) -> bool {
        true
    }
}
