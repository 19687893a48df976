//! Compact JWS / JWT verification: form and sizes, header (`alg`, `crit`, `b64`, `typ`), key
//! selection, the algorithm pinned by the key, the signature, then the claims.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64ct::{Base64UrlUnpadded, Encoding};
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
    /// Every member, as sent.
    pub members: Map<String, Value>,
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
        self.now.unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        })
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
        let header_bytes = decode("header", header_b64)?;
        let header = self.header(&header_bytes)?;
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

    fn header(&self, bytes: &[u8]) -> Result<Header, VerifyError> {
        let members = serde_json::from_slice::<UniqueMap>(bytes)
            .map_err(|e| VerifyError::Malformed(format!("the header is not a JSON object: {e}")))?
            .0;
        let alg = match members.get("alg") {
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
        match members.get("b64") {
            None | Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => return Err(VerifyError::UnencodedPayload),
            Some(_) => {
                return Err(VerifyError::Malformed(
                    "the header's b64 is not a boolean".to_owned(),
                ));
            }
        }
        let crit = self.crit(&members)?;
        let text = |name: &str| -> Result<Option<String>, VerifyError> {
            match members.get(name) {
                None => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(_) => Err(VerifyError::Malformed(format!(
                    "the header's {name} is not a string"
                ))),
            }
        };
        let header = Header {
            alg,
            kid: text("kid")?,
            typ: text("typ")?,
            cty: text("cty")?,
            x5t_s256: text("x5t#S256")?,
            jkt: text("jkt")?,
            crit,
            members: Map::new(),
        };
        if let Some(expected) = &self.typ
            && !header.typ.as_deref().is_some_and(|t| same_typ(t, expected))
        {
            return Err(VerifyError::Type {
                expected: expected.clone(),
                found: header
                    .typ
                    .as_deref()
                    .map_or_else(|| "none".to_owned(), |t| t.chars().take(64).collect()),
            });
        }
        Ok(Header { members, ..header })
    }

    /// RFC 7515 §4.1.11: a non-empty list of names, none registered, all present, all
    /// understood.
    fn crit(&self, members: &Map<String, Value>) -> Result<Vec<String>, VerifyError> {
        let Some(crit) = members.get("crit") else {
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
            if !members.contains_key(name) {
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
        let named: Vec<&str> = match claims.get("aud") {
            None if self.audiences.is_empty() => return Ok(()),
            None => return Err(VerifyError::MissingClaim("aud".to_owned())),
            Some(Value::String(a)) => vec![a.as_str()],
            Some(Value::Array(list)) => list
                .iter()
                .map(|v| v.as_str().ok_or_else(invalid))
                .collect::<Result<_, _>>()?,
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
        if named.iter().any(|a| self.audiences.iter().any(|x| x == a)) {
            return Ok(());
        }
        Err(VerifyError::Audience(
            "the token's audience (aud) names none of the accepted audiences".to_owned(),
        ))
    }
}

fn decode(part: &'static str, text: &str) -> Result<Vec<u8>, VerifyError> {
    Base64UrlUnpadded::decode_vec(text)
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
