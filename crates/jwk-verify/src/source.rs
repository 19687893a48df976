//! Where the verifier finds keys: by the header's `kid`, `x5t#S256` or `jkt`, never by trying
//! every key.

use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use jwk_core::Jwk;

use crate::alg::Algorithm;
use crate::error::VerifyError;
use crate::key::VerificationKey;

/// A boxed future, as [`KeySource::find`] returns it.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// What the token's header says about its key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct KeySelector<'a> {
    /// `kid`.
    pub kid: Option<&'a str>,
    /// `x5t#S256`: base64url of the SHA-256 of the signing certificate's DER.
    pub x5t_s256: Option<&'a str>,
    /// `jkt`: the key's RFC 7638 SHA-256 thumbprint (base64url).
    pub jkt: Option<&'a str>,
    /// The token's `alg`: among keys sharing a `kid` (RFC 7520 gives its RSA and its EC key
    /// the same one), the one that verifies this algorithm.
    pub alg: Option<Algorithm>,
}

impl KeySelector<'_> {
    /// `NoKeyId` when the header names no key.
    pub fn require_some(&self) -> Result<(), VerifyError> {
        if self.kid.is_none() && self.x5t_s256.is_none() && self.jkt.is_none() {
            return Err(VerifyError::NoKeyId);
        }
        Ok(())
    }

    /// `UnknownKey` naming the first member present (`kid` first).
    pub fn unknown(&self) -> VerifyError {
        match (self.kid, self.x5t_s256, self.jkt) {
            (Some(kid), _, _) => VerifyError::unknown("kid", kid),
            (None, Some(x5t), _) => VerifyError::unknown("x5t#S256", x5t),
            (None, None, Some(jkt)) => VerifyError::unknown("jkt", jkt),
            (None, None, None) => VerifyError::NoKeyId,
        }
    }
}

/// Keys for the verifier. `key` is the lock-free lookup; `find` may also fetch (a remote
/// JWK Set refetched when the `kid` is unknown) and by default is `key`.
pub trait KeySource: Send + Sync {
    /// The key the header names, from what is at hand.
    fn key(&self, selector: &KeySelector<'_>) -> Result<Arc<VerificationKey>, VerifyError>;

    /// The key the header names, fetching what is missing where the source can.
    fn find<'a>(
        &'a self,
        selector: &'a KeySelector<'a>,
    ) -> BoxFuture<'a, Result<Arc<VerificationKey>, VerifyError>> {
        Box::pin(std::future::ready(self.key(selector)))
    }
}

impl<T: KeySource + ?Sized> KeySource for Arc<T> {
    fn key(&self, selector: &KeySelector<'_>) -> Result<Arc<VerificationKey>, VerifyError> {
        (**self).key(selector)
    }

    fn find<'a>(
        &'a self,
        selector: &'a KeySelector<'a>,
    ) -> BoxFuture<'a, Result<Arc<VerificationKey>, VerifyError>> {
        (**self).find(selector)
    }
}

/// A fixed set of keys (a JWK Set read once), indexed by `kid`, `x5t#S256` and thumbprint.
/// When several keys share a `kid`, the first that verifies the token's `alg` is chosen (and
/// only its signature check runs).
#[derive(Debug, Default, Clone)]
pub struct KeySet {
    by_kid: HashMap<String, Vec<Arc<VerificationKey>>>,
    by_x5t: HashMap<String, Arc<VerificationKey>>,
    by_thumbprint: HashMap<String, Arc<VerificationKey>>,
}

impl KeySet {
    /// The set of `jwks` (private members are never used: only the public key verifies).
    pub fn new(jwks: impl IntoIterator<Item = Jwk>) -> KeySet {
        let mut set = KeySet::default();
        for jwk in jwks {
            set.insert(Arc::new(VerificationKey::new(Arc::new(jwk))));
        }
        set
    }

    /// Adds a key.
    pub fn insert(&mut self, key: Arc<VerificationKey>) {
        if let Some(kid) = &key.jwk().params().kid {
            self.by_kid
                .entry(kid.clone())
                .or_default()
                .push(key.clone());
        }
        if let Some(x5t) = x5t_s256(key.jwk()) {
            self.by_x5t.entry(x5t).or_insert_with(|| key.clone());
        }
        self.by_thumbprint
            .entry(key.thumbprint().to_owned())
            .or_insert(key);
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.by_thumbprint.len()
    }

    /// True when the set has no key.
    pub fn is_empty(&self) -> bool {
        self.by_thumbprint.is_empty()
    }
}

impl KeySource for KeySet {
    fn key(&self, selector: &KeySelector<'_>) -> Result<Arc<VerificationKey>, VerifyError> {
        selector.require_some()?;
        let found = match (selector.kid, selector.x5t_s256, selector.jkt) {
            (Some(kid), _, _) => self
                .by_kid
                .get(kid)
                .and_then(|keys| pick(keys.iter().cloned(), selector.alg)),
            (None, Some(x5t), _) => self.by_x5t.get(x5t).cloned(),
            (None, None, Some(jkt)) => self.by_thumbprint.get(jkt).cloned(),
            (None, None, None) => None,
        };
        found.ok_or_else(|| selector.unknown())
    }
}

/// Among keys sharing a `kid`, the first that verifies `alg`, else the first (whose check
/// then says why it does not). One pass; nothing is collected.
pub fn pick(
    keys: impl IntoIterator<Item = Arc<VerificationKey>>,
    alg: Option<Algorithm>,
) -> Option<Arc<VerificationKey>> {
    let mut first = None;
    for key in keys {
        if alg.is_some_and(|alg| key.algorithms().contains(alg)) {
            return Some(key);
        }
        first.get_or_insert(key);
    }
    first
}

/// The base64url SHA-256 of a JWK's signing certificate: its `x5t#S256`, else computed from
/// the first `x5c` certificate.
pub fn x5t_s256(jwk: &Jwk) -> Option<String> {
    use base64ct::Encoding;
    use sha2::Digest;
    let params = jwk.params();
    if let Some(t) = &params.x5t_s256 {
        return Some(base64ct::Base64UrlUnpadded::encode_string(t));
    }
    let leaf = params.x5c.as_ref()?.first()?;
    Some(base64ct::Base64UrlUnpadded::encode_string(
        &sha2::Sha256::digest(leaf),
    ))
}
