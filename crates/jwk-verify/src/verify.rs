//! Compact JWS / JWT verification: form and sizes, header (`alg`, `crit`, `b64`, `typ`), key
//! selection, the algorithm pinned by the key, the signature, then the claims.

use std::sync::Arc;
use std::time::Duration;

use crate::clock::{Clock, SystemClock};

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, Visitor};
use serde_json::{Map, Value};

use crate::alg::{ALL, Algorithm, AlgorithmSet};
use crate::error::VerifyError;
use crate::key::VerificationKey;
use crate::source::{KeySelector, KeySource};

/// Default largest token, in bytes (the whole compact string).
pub const DEFAULT_MAX_TOKEN_BYTES: usize = 16 * 1024;
/// The most [`Verifier::max_token_bytes`] can be set to.
pub const MAX_TOKEN_BYTES: usize = 1024 * 1024;
/// Largest decoded header, in bytes.
pub const DEFAULT_MAX_HEADER_BYTES: usize = 4 * 1024;
/// Default clock leeway for `exp`, `nbf` and `iat`.
pub const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);
/// The most [`Verifier::leeway`] can be set to.
pub const MAX_LEEWAY: Duration = Duration::from_secs(3600);
/// Default smallest RSA modulus accepted for signatures, in bits.
pub const DEFAULT_MIN_RSA_BITS: usize = 2048;
/// The least [`Verifier::min_rsa_bits`] can be set to.
pub const MIN_RSA_BITS_FLOOR: usize = 1024;

/// Header parameters registered by RFC 7515 §4.1: `crit` may not list them.
const REGISTERED: [&str; 11] = [
    "alg", "jku", "jwk", "kid", "x5u", "x5c", "x5t", "x5t#S256", "typ", "cty", "crit",
];

/// How tokens are checked. Built once, shared by every request (`Clone` is cheap enough,
/// `&Verifier` is `Sync`).
///
/// Defaults: every algorithm the key allows, RSA keys of at least 2048 bits, a 60 s leeway,
/// `exp` required, no issuer or audience check — and a token that carries `aud` is refused
/// unless [`Verifier::audience`] names one of its audiences or [`Verifier::any_audience`] is
/// set (RFC 7519 §4.1.3), tokens up to 16 KiB with headers up to 4 KiB.
#[derive(Debug, Clone)]
pub struct Verifier {
    accepted: AlgorithmSet,
    min_rsa_bits: usize,
    leeway: u64,
    issuers: Vec<String>,
    audiences: Vec<String>,
    any_audience: bool,
    required: Vec<String>,
    typ: Option<String>,
    crit: Vec<String>,
    max_token: usize,
    max_header: usize,
    now: Option<i64>,
    clock: Option<Arc<dyn Clock>>,
}

impl Default for Verifier {
    fn default() -> Verifier {
        Verifier::new()
    }
}

/// A verified JWS: its header, its payload, the key that verified it.
#[derive(Debug, Clone)]
pub struct VerifiedJws {
    /// The protected header.
    pub header: Header,
    /// The payload, decoded.
    pub payload: Vec<u8>,
    /// The key that verified the signature.
    pub key: Arc<VerificationKey>,
}

/// A verified JWT: its header, its claims, the key that verified it.
#[derive(Debug, Clone)]
pub struct VerifiedJwt {
    /// The protected header.
    pub header: Header,
    /// The claims (a JSON object).
    pub claims: Map<String, Value>,
    /// The key that verified the signature.
    pub key: Arc<VerificationKey>,
}

impl VerifiedJwt {
    /// The RFC 7638 SHA-256 thumbprint of the key that verified the token.
    pub fn thumbprint(&self) -> &str {
        self.key.thumbprint()
    }

    /// A string claim (`sub`, `iss`, `scope`...).
    pub fn claim_str(&self, name: &str) -> Option<&str> {
        self.claims.get(name)?.as_str()
    }
}

/// A token's protected header.
#[derive(Debug, Clone, PartialEq)]
pub struct Header {
    /// `alg`.
    pub alg: Algorithm,
    /// `kid`.
    pub kid: Option<String>,
    /// `typ`.
    pub typ: Option<String>,
    /// `cty`.
    pub cty: Option<String>,
    /// `x5t#S256`.
    pub x5t_s256: Option<String>,
    /// `jkt`.
    pub jkt: Option<String>,
    /// `crit` (empty when absent).
    pub crit: Vec<String>,
    /// The header's JSON text, as decoded.
    raw: Vec<u8>,
}

impl Header {
    /// What the header says about its key.
    pub fn selector(&self) -> KeySelector<'_> {
        KeySelector {
            kid: self.kid.as_deref(),
            x5t_s256: self.x5t_s256.as_deref(),
            jkt: self.jkt.as_deref(),
            alg: Some(self.alg),
        }
    }

    /// Every member, as sent (parsed on each call: the verifier reads only the registered
    /// ones).
    pub fn members(&self) -> Map<String, Value> {
        serde_json::from_slice(&self.raw).unwrap_or_default()
    }

    /// The header's JSON text, as decoded.
    pub fn raw(&self) -> &[u8] {
        &self.raw
    }
}

/// A token split and its header checked; the signature not yet verified.
struct Parsed<'t> {
    header: Header,
    signing_input: &'t str,
    payload: &'t str,
    signature: Vec<u8>,
}

impl Verifier {
    /// A verifier with the defaults (see the type's documentation).
    pub fn new() -> Verifier {
        Verifier {
            accepted: AlgorithmSet::of(&ALL),
            min_rsa_bits: DEFAULT_MIN_RSA_BITS,
            leeway: DEFAULT_LEEWAY.as_secs(),
            issuers: Vec::new(),
            audiences: Vec::new(),
            any_audience: false,
            required: vec!["exp".to_owned()],
            typ: None,
            crit: Vec::new(),
            max_token: DEFAULT_MAX_TOKEN_BYTES,
            max_header: DEFAULT_MAX_HEADER_BYTES,
            now: None,
            clock: None,
        }
    }

    /// Accepts only these algorithms (the key still pins its own among them).
    pub fn algorithms(mut self, algorithms: &[Algorithm]) -> Verifier {
        self.accepted = AlgorithmSet::of(algorithms);
        self
    }

    /// The smallest RSA modulus accepted, in bits (default 2048, never below 1024).
    pub fn min_rsa_bits(mut self, bits: usize) -> Verifier {
        self.min_rsa_bits = bits.max(MIN_RSA_BITS_FLOOR);
        self
    }

    /// Clock leeway for `exp`, `nbf` and `iat` (default 60 s, at most [`MAX_LEEWAY`]).
    pub fn leeway(mut self, leeway: Duration) -> Verifier {
        self.leeway = leeway.min(MAX_LEEWAY).as_secs();
        self
    }

    /// Accepts this issuer (`iss`); once one is named, `iss` is required and must be one.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Verifier {
        self.issuers.push(issuer.into());
        self
    }

    /// Accepts this audience; once one is named, `aud` is required and must name one.
    pub fn audience(mut self, audience: impl Into<String>) -> Verifier {
        self.audiences.push(audience.into());
        self
    }

    /// Accepts tokens whatever audience they name (only where something else scopes them).
    pub fn any_audience(mut self) -> Verifier {
        self.any_audience = true;
        self
    }

    /// The claims a token must carry (replaces the default, `exp`).
    pub fn required_claims(mut self, claims: &[&str]) -> Verifier {
        self.required = claims.iter().map(|c| (*c).to_owned()).collect();
        self
    }

    /// Requires this `typ` (compared as RFC 7515 §4.1.9 says: case-insensitive, an
    /// `application/` prefix optional), e.g. `at+jwt` (RFC 9068).
    pub fn typ(mut self, typ: impl Into<String>) -> Verifier {
        self.typ = Some(typ.into());
        self
    }

    /// A `crit` header parameter the caller understands (and checks itself in
    /// [`Header::members`]); a token whose `crit` lists any other is refused.
    pub fn understand_crit(mut self, name: impl Into<String>) -> Verifier {
        self.crit.push(name.into());
        self
    }

    /// The largest token accepted, in bytes (default 16 KiB, at most 1 MiB).
    pub fn max_token_bytes(mut self, bytes: usize) -> Verifier {
        self.max_token = bytes.min(MAX_TOKEN_BYTES);
        self
    }

    /// Checks times against `unix_seconds` instead of the system clock (tests, replays).
    pub fn at(mut self, unix_seconds: i64) -> Verifier {
        self.now = Some(unix_seconds);
        self
    }

    /// Checks times against `clock` instead of the system clock: the host's one clock (a
    /// registry's `Registry::clock`), which its tests move.
    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Verifier {
        self.clock = Some(clock);
        self
    }

    /// Verifies a JWT with keys from `source` (its lock-free lookup).
    pub fn verify(&self, token: &str, source: &impl KeySource) -> Result<VerifiedJwt, VerifyError> {
        let parsed = self.parse(token)?;
        let selector = parsed.header.selector();
        selector.require_some()?;
        let key = source.key(&selector)?;
        let jws = self.finish(parsed, key)?;
        self.claims(jws)
    }

    /// Verifies a JWT with keys from `source`, which may fetch a key it does not have yet.
    pub async fn verify_async<S: KeySource + ?Sized>(
        &self,
        token: &str,
        source: &S,
    ) -> Result<VerifiedJwt, VerifyError> {
        let parsed = self.parse(token)?;
        let key = {
            let selector = parsed.header.selector();
            selector.require_some()?;
            source.find(&selector).await?
        };
        let jws = self.finish(parsed, key)?;
        self.claims(jws)
    }

    /// Verifies a JWT with one given key (the header need not name it).
    pub fn verify_with_key(
        &self,
        token: &str,
        key: &Arc<VerificationKey>,
    ) -> Result<VerifiedJwt, VerifyError> {
        let jws = self.verify_jws_with_key(token, key)?;
        self.claims(jws)
    }

    /// Verifies a JWS of any payload with keys from `source` (no claim checks).
    pub fn verify_jws(
        &self,
        token: &str,
        source: &impl KeySource,
    ) -> Result<VerifiedJws, VerifyError> {
        let parsed = self.parse(token)?;
        let selector = parsed.header.selector();
        selector.require_some()?;
        let key = source.key(&selector)?;
        self.finish(parsed, key)
    }

    /// Verifies a JWS of any payload with one given key (no claim checks).
    pub fn verify_jws_with_key(
        &self,
        token: &str,
        key: &Arc<VerificationKey>,
    ) -> Result<VerifiedJws, VerifyError> {
        let parsed = self.parse(token)?;
        self.finish(parsed, key.clone())
    }

    fn now(&self) -> i64 {
        match (&self.now, &self.clock) {
            (Some(at), _) => *at,
            (None, Some(clock)) => clock.now_secs(),
            (None, None) => SystemClock.now_secs(),
        }
    }

    /// Splits the token and checks its header, before any key is looked up.
    fn parse<'t>(&self, token: &'t str) -> Result<Parsed<'t>, VerifyError> {
        if token.len() > self.max_token {
            return Err(VerifyError::TooLarge {
                part: "token",
                size: token.len(),
                limit: self.max_token,
            });
        }
        let mut dots = token.match_indices('.').map(|(i, _)| i);
        let (Some(first), Some(second), None) = (dots.next(), dots.next(), dots.next()) else {
            let parts = token.split('.').count();
            return Err(VerifyError::Malformed(if parts == 5 {
                "it has five parts: a JWE (an encrypted token), which is not verified here"
                    .to_owned()
            } else {
                format!("a compact JWS has three parts separated by dots; this has {parts}")
            }));
        };
        let (header_b64, payload) = (&token[..first], &token[first + 1..second]);
        let signature_b64 = &token[second + 1..];
        let decoded_len = header_b64.len() / 4 * 3 + (header_b64.len() % 4).saturating_sub(1);
        if decoded_len > self.max_header {
            return Err(VerifyError::TooLarge {
                part: "decoded header",
                size: decoded_len,
                limit: self.max_header,
            });
        }
        let header = self.header(decode("header", header_b64)?)?;
        if signature_b64.is_empty() {
            return Err(VerifyError::Malformed("the signature is empty".to_owned()));
        }
        let signature = decode("signature", signature_b64)?;
        Ok(Parsed {
            header,
            signing_input: &token[..second],
            payload,
            signature,
        })
    }

    fn header(&self, bytes: Vec<u8>) -> Result<Header, VerifyError> {
        let read = serde_json::from_slice::<RawHeader<'_>>(&bytes)
            .map_err(|e| VerifyError::Malformed(format!("the header is not a JSON object: {e}")))?;
        let alg = match &read.alg {
            None => return Err(VerifyError::Malformed("the header has no alg".to_owned())),
            Some(Value::String(alg)) => alg,
            Some(_) => {
                return Err(VerifyError::Malformed(
                    "the header's alg is not a string".to_owned(),
                ));
            }
        };
        if alg == "none" {
            return Err(VerifyError::AlgNone);
        }
        let Some(alg) = Algorithm::from_name(alg) else {
            return Err(VerifyError::UnsupportedAlgorithm(
                alg.chars().take(64).collect(),
            ));
        };
        if !self.accepted.contains(alg) {
            return Err(VerifyError::AlgorithmNotAccepted {
                alg: alg.as_str().to_owned(),
                accepted: self.accepted.to_string(),
            });
        }
        match read.b64 {
            None | Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => return Err(VerifyError::UnencodedPayload),
            Some(_) => {
                return Err(VerifyError::Malformed(
                    "the header's b64 is not a boolean".to_owned(),
                ));
            }
        }
        let crit = self.crit(read.crit.as_ref(), &read.names)?;
        let text = |name: &str, value: Option<Value>| -> Result<Option<String>, VerifyError> {
            match value {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s)),
                Some(_) => Err(VerifyError::Malformed(format!(
                    "the header's {name} is not a string"
                ))),
            }
        };
        let (kid, typ, cty) = (
            text("kid", read.kid)?,
            text("typ", read.typ)?,
            text("cty", read.cty)?,
        );
        let (x5t_s256, jkt) = (text("x5t#S256", read.x5t_s256)?, text("jkt", read.jkt)?);
        if let Some(expected) = &self.typ
            && !typ.as_deref().is_some_and(|t| same_typ(t, expected))
        {
            return Err(VerifyError::Type {
                expected: expected.clone(),
                found: typ
                    .as_deref()
                    .map_or_else(|| "none".to_owned(), |t| t.chars().take(64).collect()),
            });
        }
        drop(read.names);
        Ok(Header {
            alg,
            kid,
            typ,
            cty,
            x5t_s256,
            jkt,
            crit,
            raw: bytes,
        })
    }

    /// RFC 7515 §4.1.11: a non-empty list of names, none registered, all present, all
    /// understood.
    fn crit(&self, crit: Option<&Value>, present: &Names<'_>) -> Result<Vec<String>, VerifyError> {
        let Some(crit) = crit else {
            return Ok(Vec::new());
        };
        let Some(names) = crit.as_array().filter(|a| !a.is_empty()) else {
            return Err(VerifyError::Crit(
                "it must be a non-empty array of names".to_owned(),
            ));
        };
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            let Some(name) = name.as_str() else {
                return Err(VerifyError::Crit(
                    "it lists a value that is not a name".to_owned(),
                ));
            };
            let shown: String = name.chars().take(64).collect();
            if REGISTERED.contains(&name) {
                return Err(VerifyError::Crit(format!(
                    "it lists {shown:?}, a parameter every implementation understands"
                )));
            }
            if !present.contains(name) {
                return Err(VerifyError::Crit(format!(
                    "it lists {shown:?}, which the header does not have"
                )));
            }
            if !self.crit.iter().any(|c| c == name) {
                return Err(VerifyError::Crit(format!(
                    "it lists {shown:?}, which this verifier does not understand"
                )));
            }
            out.push(name.to_owned());
        }
        Ok(out)
    }

    /// Checks the key against the algorithm and verifies the signature.
    fn finish(
        &self,
        parsed: Parsed<'_>,
        key: Arc<VerificationKey>,
    ) -> Result<VerifiedJws, VerifyError> {
        key.verify(
            parsed.header.alg,
            parsed.signing_input.as_bytes(),
            &parsed.signature,
            self.min_rsa_bits,
        )?;
        let payload = decode("payload", parsed.payload)?;
        Ok(VerifiedJws {
            header: parsed.header,
            payload,
            key,
        })
    }

    /// Parses and checks the claims of a verified token.
    fn claims(&self, jws: VerifiedJws) -> Result<VerifiedJwt, VerifyError> {
        let claims = serde_json::from_slice::<UniqueMap>(&jws.payload)
            .map_err(|e| VerifyError::Claims(e.to_string()))?
            .0;
        for name in &self.required {
            if !claims.contains_key(name) {
                return Err(VerifyError::MissingClaim(name.clone()));
            }
        }
        let now = self.now();
        let leeway = self.leeway;
        let slack = i64::try_from(leeway).unwrap_or(i64::MAX);
        if let Some(exp) = numeric_date(&claims, "exp")?
            && now >= exp.saturating_add(slack)
        {
            return Err(VerifyError::Expired { exp, now, leeway });
        }
        if let Some(nbf) = numeric_date(&claims, "nbf")?
            && now.saturating_add(slack) < nbf
        {
            return Err(VerifyError::NotYetValid { nbf, now, leeway });
        }
        if let Some(iat) = numeric_date(&claims, "iat")?
            && iat > now.saturating_add(slack)
        {
            return Err(VerifyError::IssuedInFuture { iat, now, leeway });
        }
        self.check_issuer(&claims)?;
        self.check_audience(&claims)?;
        Ok(VerifiedJwt {
            header: jws.header,
            claims,
            key: jws.key,
        })
    }

    fn check_issuer(&self, claims: &Map<String, Value>) -> Result<(), VerifyError> {
        if self.issuers.is_empty() {
            return Ok(());
        }
        match claims.get("iss") {
            None => Err(VerifyError::MissingClaim("iss".to_owned())),
            Some(Value::String(iss)) if self.issuers.contains(iss) => Ok(()),
            Some(Value::String(iss)) => Err(VerifyError::Issuer(iss.chars().take(128).collect())),
            Some(_) => Err(VerifyError::InvalidClaim {
                claim: "iss".to_owned(),
                reason: "it is not a string".to_owned(),
            }),
        }
    }

    fn check_audience(&self, claims: &Map<String, Value>) -> Result<(), VerifyError> {
        let invalid = || VerifyError::InvalidClaim {
            claim: "aud".to_owned(),
            reason: "it is neither a string nor an array of strings".to_owned(),
        };
        let accepted = |a: &str| self.audiences.iter().any(|x| x == a);
        let matched = match claims.get("aud") {
            None if self.audiences.is_empty() => return Ok(()),
            None => return Err(VerifyError::MissingClaim("aud".to_owned())),
            Some(Value::String(a)) => accepted(a),
            Some(Value::Array(list)) => {
                let mut any = false;
                for v in list {
                    any |= accepted(v.as_str().ok_or_else(invalid)?);
                }
                any
            }
            Some(_) => return Err(invalid()),
        };
        if self.audiences.is_empty() {
            if self.any_audience {
                return Ok(());
            }
            return Err(VerifyError::Audience(
                "the token names an audience (aud) and this verifier accepts none: name the \
                 accepted audiences, or accept any"
                    .to_owned(),
            ));
        }
        if matched {
            return Ok(());
        }
        Err(VerifyError::Audience(
            "the token's audience (aud) names none of the accepted audiences".to_owned(),
        ))
    }
}

/// base64url without padding, trailing bits zero (RFC 7515 §2, RFC 4648 §3.5). Token parts
/// are public, so the fast decoder serves (keys are decoded in constant time by the core).
fn decode(part: &'static str, text: &str) -> Result<Vec<u8>, VerifyError> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(text)
        .map_err(|_| VerifyError::Malformed(format!("the {part} is not base64url (unpadded)")))
}

/// RFC 7515 §4.1.9: media types are case-insensitive, `application/` may be left out.
fn same_typ(a: &str, b: &str) -> bool {
    fn strip(t: &str) -> &str {
        match t.get(..12) {
            Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &t[12..],
            _ => t,
        }
    }
    strip(a).eq_ignore_ascii_case(strip(b))
}

/// A NumericDate claim (RFC 7519 §2): a JSON number, fractions cut to whole seconds.
fn numeric_date(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, VerifyError> {
    let Some(value) = claims.get(name) else {
        return Ok(None);
    };
    let invalid = || VerifyError::InvalidClaim {
        claim: name.to_owned(),
        reason: "it is not a number of seconds since 1970 (NumericDate)".to_owned(),
    };
    let Value::Number(n) = value else {
        return Err(invalid());
    };
    if let Some(i) = n.as_i64() {
        return Ok(Some(i));
    }
    if n.as_u64().is_some() {
        return Ok(Some(i64::MAX));
    }
    match n.as_f64() {
        // `as` saturates at the i64 bounds.
        Some(f) if f.is_finite() => Ok(Some(f.floor() as i64)),
        _ => Err(invalid()),
    }
}

/// The header read in one pass: the registered members the verifier reads, and every
/// member's name (to refuse duplicates and check `crit`); other values are skipped.
struct RawHeader<'de> {
    alg: Option<Value>,
    kid: Option<Value>,
    typ: Option<Value>,
    cty: Option<Value>,
    x5t_s256: Option<Value>,
    jkt: Option<Value>,
    crit: Option<Value>,
    b64: Option<Value>,
    names: Names<'de>,
}

/// Member names seen, borrowed from the header where they have no escapes. Searched
/// linearly while few, through a set beyond (a 4 KiB header can hold hundreds).
#[derive(Default)]
struct Names<'de> {
    list: Vec<std::borrow::Cow<'de, str>>,
    set: std::collections::HashSet<std::borrow::Cow<'de, str>>,
}

impl<'de> Names<'de> {
    const LINEAR: usize = 16;

    fn contains(&self, name: &str) -> bool {
        if self.list.len() <= Self::LINEAR {
            self.list.iter().any(|n| n == name)
        } else {
            self.set.contains(name)
        }
    }

    /// False when the name was there already.
    fn insert(&mut self, name: std::borrow::Cow<'de, str>) -> bool {
        if self.contains(&name) {
            return false;
        }
        if self.list.len() == Self::LINEAR {
            self.set.extend(self.list.iter().cloned());
        }
        if self.list.len() >= Self::LINEAR {
            self.set.insert(name.clone());
        }
        self.list.push(name);
        true
    }
}

/// A member name, borrowed when it has no escapes.
struct Name<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Name<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a member name")
            }

            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Name<'de>, E> {
                Ok(Name(std::borrow::Cow::Borrowed(v)))
            }

            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Name<'de>, E> {
                Ok(Name(std::borrow::Cow::Owned(v.to_owned())))
            }
        }
        deserializer.deserialize_str(V)
    }
}

impl<'de> Deserialize<'de> for RawHeader<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = RawHeader<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(
                self,
                mut access: A,
            ) -> Result<RawHeader<'de>, A::Error> {
                let mut h = RawHeader {
                    alg: None,
                    kid: None,
                    typ: None,
                    cty: None,
                    x5t_s256: None,
                    jkt: None,
                    crit: None,
                    b64: None,
                    names: Names::default(),
                };
                while let Some(Name(name)) = access.next_key::<Name<'de>>()? {
                    let slot = match name.as_ref() {
                        "alg" => Some(&mut h.alg),
                        "kid" => Some(&mut h.kid),
                        "typ" => Some(&mut h.typ),
                        "cty" => Some(&mut h.cty),
                        "x5t#S256" => Some(&mut h.x5t_s256),
                        "jkt" => Some(&mut h.jkt),
                        "crit" => Some(&mut h.crit),
                        "b64" => Some(&mut h.b64),
                        _ => None,
                    };
                    match slot {
                        Some(slot) => *slot = Some(access.next_value::<Value>()?),
                        None => {
                            access.next_value::<serde::de::IgnoredAny>()?;
                        }
                    }
                    let shown: String = name.chars().take(64).collect();
                    if !h.names.insert(name) {
                        return Err(A::Error::custom(format!(
                            "the member {shown:?} is repeated"
                        )));
                    }
                }
                Ok(h)
            }
        }
        deserializer.deserialize_map(V)
    }
}

/// A JSON object whose members are unique: RFC 7515 §5.2 lets a parser refuse duplicates,
/// and two `exp` (or two `alg`) read differently by two parsers is how tokens get through.
struct UniqueMap(Map<String, Value>);

impl<'de> Deserialize<'de> for UniqueMap {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = UniqueMap;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a JSON object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<UniqueMap, A::Error> {
                let mut map = Map::new();
                while let Some(name) = access.next_key::<String>()? {
                    let value: Value = access.next_value()?;
                    if map.contains_key(&name) {
                        let shown: String = name.chars().take(64).collect();
                        return Err(A::Error::custom(format!(
                            "the member {shown:?} is repeated"
                        )));
                    }
                    map.insert(name, value);
                }
                Ok(UniqueMap(map))
            }
        }
        deserializer.deserialize_map(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typ_comparison_follows_rfc_7515() {
        assert!(same_typ("JWT", "jwt"));
        assert!(same_typ("application/at+jwt", "at+JWT"));
        assert!(!same_typ("at+jwt", "jwt"));
        assert!(!same_typ("application/", "jwt"));
    }

    #[test]
    fn numeric_dates_accept_fractions_and_refuse_strings() {
        let claims: Map<String, Value> =
            serde_json::from_str(r#"{"a": 10.9, "b": "10", "c": 1e300, "d": -5}"#).unwrap();
        assert_eq!(numeric_date(&claims, "a"), Ok(Some(10)));
        assert_eq!(numeric_date(&claims, "c"), Ok(Some(i64::MAX)));
        assert_eq!(numeric_date(&claims, "d"), Ok(Some(-5)));
        assert_eq!(numeric_date(&claims, "x"), Ok(None));
        assert_eq!(
            numeric_date(&claims, "b").unwrap_err().to_string(),
            "the token's b claim is invalid: it is not a number of seconds since 1970 (NumericDate)"
        );
    }
}
