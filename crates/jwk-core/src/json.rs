//! JWK and JWK Set JSON: strict member parsing, `kid` selection.
//!
//! Members are read as borrowed raw JSON (`RawValue`), so a large input costs about its own
//! size in memory; unknown members are kept as compact JSON text.

use serde::de::{Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use std::fmt;
use zeroize::Zeroizing;

use crate::b64;
use crate::error::{Error, Result};
use crate::jwk::{Jwk, KeyUse, Parameters};
use crate::key::{CrtInput, EcCurve, EcKey, Key, OctKey, OkpCurve, OkpKey, RsaKey};
use crate::secret::Secret;

/// The members of one JSON object, in document order, duplicates refused.
struct Members<'a>(Vec<(String, &'a RawValue)>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for Members<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Members<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut out: Vec<(String, &'a RawValue)> = Vec::new();
                while let Some((k, v)) = map.next_entry::<String, &'de RawValue>()? {
                    if out.iter().any(|(name, _)| *name == k) {
                        return Err(serde::de::Error::custom(DuplicateMarker(k)));
                    }
                    out.push((k, v));
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(V(std::marker::PhantomData))
    }
}

/// Carries a duplicate member name out of serde's error type.
struct DuplicateMarker(String);

impl fmt::Display for DuplicateMarker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\u{0}duplicate\u{0}{}", self.0)
    }
}

fn json_error(e: serde_json::Error) -> Error {
    let text = e.to_string();
    if let Some(rest) = text.strip_prefix("\u{0}duplicate\u{0}") {
        let name = rest.rsplit_once(" at line ").map_or(rest, |(n, _)| n);
        return Error::DuplicateMember {
            member: name.to_owned(),
        };
    }
    Error::InvalidJson { detail: text }
}

fn parse_members(raw: &RawValue) -> Result<Members<'_>> {
    serde_json::from_str::<Members<'_>>(raw.get()).map_err(|e| match json_error(e) {
        Error::InvalidJson { .. } if !raw.get().trim_start().starts_with('{') => Error::NotAJwk {
            detail: "a JWK must be a JSON object".to_owned(),
        },
        other => other,
    })
}

/// Minifies valid JSON text (removes white space outside strings).
///
/// Written by hand: serde_json has no minifier for `RawValue`, and re-parsing into a `Value`
/// would cost many times the input's size.
fn minify(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let (mut in_string, mut escaped) = (false, false);
    for c in raw.chars() {
        if in_string {
            out.push(c);
            if escaped {
                escaped = false;
            } else if c == '\\' {
                escaped = true;
            } else if c == '"' {
                in_string = false;
            }
        } else if !c.is_ascii_whitespace() {
            if c == '"' {
                in_string = true;
            }
            out.push(c);
        }
    }
    out
}

fn string_member(name: &str, raw: &RawValue) -> Result<String> {
    serde_json::from_str::<String>(raw.get())
        .map_err(|_| Error::member(name, "it must be a JSON string"))
}

/// The members registered for each key type (RFC 7518 §6, RFC 8037 §2).
const RSA_MEMBERS: &[&str] = &["n", "e", "d", "p", "q", "dp", "dq", "qi", "oth"];
const EC_MEMBERS: &[&str] = &["crv", "x", "y", "d"];
const OKP_MEMBERS: &[&str] = &["crv", "x", "d"];
const OCT_MEMBERS: &[&str] = &["k"];

/// Looks members up by name; remembers which ones were consumed.
struct Fields<'a> {
    kty: String,
    members: Vec<(String, &'a RawValue)>,
}

impl<'a> Fields<'a> {
    fn raw(&self, name: &str) -> Option<&'a RawValue> {
        self.members
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| *v)
    }

    fn opt_str(&self, name: &str) -> Result<Option<String>> {
        self.raw(name).map(|r| string_member(name, r)).transpose()
    }

    fn req_str(&self, name: &str) -> Result<String> {
        self.opt_str(name)?.ok_or_else(|| Error::MissingMember {
            kty: self.kty.clone(),
            member: name.to_owned(),
        })
    }

    fn opt_bytes(&self, name: &str) -> Result<Option<Vec<u8>>> {
        match self.opt_str(name)? {
            Some(s) => b64::decode_url(name, &s).map(Some),
            None => Ok(None),
        }
    }

    fn req_bytes(&self, name: &str) -> Result<Vec<u8>> {
        let s = self.req_str(name)?;
        b64::decode_url(name, &s)
    }

    fn opt_secret(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
        match self.raw(name) {
            Some(raw) => {
                let s = Zeroizing::new(string_member(name, raw)?);
                b64::decode_url_secret(name, &s).map(Some)
            }
            None => Ok(None),
        }
    }
}

/// Parses one JWK object.
pub(crate) fn parse_jwk(raw: &RawValue) -> Result<Jwk> {
    let Members(members) = parse_members(raw)?;
    let kty = match members.iter().find(|(n, _)| n == "kty") {
        Some((_, r)) => string_member("kty", r)?,
        None => {
            return Err(Error::NotAJwk {
                detail: "the JSON object has no \"kty\" member, so it is not a JWK".to_owned(),
            });
        }
    };
    let fields = Fields { kty, members };
    let (key, own) = match fields.kty.as_str() {
        "RSA" => (parse_rsa(&fields)?, RSA_MEMBERS),
        "EC" => (parse_ec(&fields)?, EC_MEMBERS),
        "OKP" => (parse_okp(&fields)?, OKP_MEMBERS),
        "oct" => (
            Key::Oct(OctKey::new(Secret::new(
                fields.opt_secret("k")?.map(|k| k.to_vec()).ok_or_else(|| {
                    Error::MissingMember {
                        kty: "oct".to_owned(),
                        member: "k".to_owned(),
                    }
                })?,
            ))?),
            OCT_MEMBERS,
        ),
        other => {
            return Err(Error::UnsupportedKty {
                kty: other.to_owned(),
            });
        }
    };
    let params = parse_params(&fields, own)?;
    let jwk = Jwk::new(key, params);
    crate::x5c::check_jwk_chain(&jwk)?;
    if let Some(alg) = &jwk.params().alg {
        crate::policy::check_alg_fits_key(jwk.key(), alg)?;
    }
    Ok(jwk)
}

fn parse_rsa(f: &Fields<'_>) -> Result<Key> {
    let n = f.req_bytes("n")?;
    let e = f.req_bytes("e")?;
    if f.raw("oth").is_some() {
        return Err(Error::member(
            "oth",
            "multi-prime RSA keys (more than two primes) are not supported",
        ));
    }
    let d = f.opt_secret("d")?;
    let (p, q) = (f.opt_secret("p")?, f.opt_secret("q")?);
    let (dp, dq, qi) = (
        f.opt_secret("dp")?,
        f.opt_secret("dq")?,
        f.opt_secret("qi")?,
    );
    let Some(d) = d else {
        for name in ["p", "q", "dp", "dq", "qi"] {
            if f.raw(name).is_some() {
                return Err(Error::member(
                    name,
                    "a private RSA member is present but \"d\" is missing",
                ));
            }
        }
        return RsaKey::from_public(&n, &e).map(Key::Rsa);
    };
    let crt = match (&p, &q) {
        (Some(p), Some(q)) => Some(CrtInput {
            p,
            q,
            dp: dp.as_deref().map(Vec::as_slice),
            dq: dq.as_deref().map(Vec::as_slice),
            qi: qi.as_deref().map(Vec::as_slice),
        }),
        (None, None) if dp.is_none() && dq.is_none() && qi.is_none() => None,
        _ => {
            return Err(Error::member(
                "p",
                "RSA CRT members must be given together: p, q, dp, dq and qi (or none of them)",
            ));
        }
    };
    RsaKey::from_private(&n, &e, &d, crt).map(Key::Rsa)
}

fn curve_name(f: &Fields<'_>) -> Result<String> {
    f.req_str("crv")
}

fn parse_ec(f: &Fields<'_>) -> Result<Key> {
    let crv = curve_name(f)?;
    let curve = EcCurve::from_name(&crv).ok_or_else(|| Error::UnsupportedJwkCurve {
        kty: "EC".to_owned(),
        crv: crv.clone(),
        supported: "P-256, P-384, P-521 and secp256k1",
    })?;
    let x = f.req_bytes("x")?;
    let y = f.req_bytes("y")?;
    match f.opt_secret("d")? {
        Some(d) => EcKey::from_jwk_private(curve, &x, &y, &d),
        None => EcKey::from_coordinates(curve, &x, &y),
    }
    .map(Key::Ec)
}

fn parse_okp(f: &Fields<'_>) -> Result<Key> {
    let crv = curve_name(f)?;
    let curve = OkpCurve::from_name(&crv).ok_or_else(|| Error::UnsupportedJwkCurve {
        kty: "OKP".to_owned(),
        crv: crv.clone(),
        supported: "Ed25519, Ed448, X25519 and X448",
    })?;
    let x = f.req_bytes("x")?;
    match f.opt_secret("d")? {
        Some(d) => OkpKey::from_private(curve, &d, Some(&x)),
        None => OkpKey::from_public(curve, &x),
    }
    .map(Key::Okp)
}

const COMMON: &[&str] = &[
    "kty", "kid", "use", "key_ops", "alg", "x5u", "x5c", "x5t", "x5t#S256",
];
const ALL_KEY_MEMBERS: &[&str] = &[
    "n", "e", "d", "p", "q", "dp", "dq", "qi", "oth", "crv", "x", "y", "k",
];

fn parse_params(f: &Fields<'_>, own: &[&str]) -> Result<Parameters> {
    let mut p = Parameters {
        kid: f.opt_str("kid")?,
        key_use: f.opt_str("use")?.map(|u| KeyUse::parse(&u)),
        alg: f.opt_str("alg")?,
        x5u: f.opt_str("x5u")?,
        ..Parameters::default()
    };
    if let Some(raw) = f.raw("key_ops") {
        let ops: Vec<String> = serde_json::from_str(raw.get())
            .map_err(|_| Error::member("key_ops", "it must be an array of strings"))?;
        for (i, op) in ops.iter().enumerate() {
            if ops[..i].contains(op) {
                return Err(Error::member(
                    "key_ops",
                    format!("the operation \"{op}\" is listed twice"),
                ));
            }
        }
        p.key_ops = Some(ops);
    }
    if let Some(raw) = f.raw("x5c") {
        let certs: Vec<String> = serde_json::from_str(raw.get())
            .map_err(|_| Error::member("x5c", "it must be an array of strings"))?;
        if certs.is_empty() {
            return Err(Error::BadX5c {
                detail: "the array is empty".to_owned(),
            });
        }
        let mut chain = Vec::with_capacity(certs.len());
        for (i, c) in certs.iter().enumerate() {
            chain.push(b64::decode_std(c).ok_or_else(|| Error::BadX5c {
                detail: format!(
                    "certificate #{i} is not standard base64 (RFC 7517 §4.7: base64 with padding, not base64url)"
                ),
            })?);
        }
        p.x5c = Some(chain);
    }
    for (name, len) in [("x5t", 20usize), ("x5t#S256", 32)] {
        if let Some(v) = f.opt_bytes(name)? {
            if v.len() != len {
                return Err(Error::member(
                    name,
                    format!("it must be a {len}-byte digest, got {} bytes", v.len()),
                ));
            }
            if name == "x5t" {
                p.x5t = Some(v);
            } else {
                p.x5t_s256 = Some(v);
            }
        }
    }
    let mut other = Vec::new();
    for (name, raw) in &f.members {
        if COMMON.contains(&name.as_str()) || own.contains(&name.as_str()) {
            continue;
        }
        if ALL_KEY_MEMBERS.contains(&name.as_str()) {
            return Err(Error::member(
                name,
                format!("it does not belong to a key of kty \"{}\"", f.kty),
            ));
        }
        other.push((name.clone(), minify(raw.get())));
    }
    other.sort_by(|a, b| a.0.cmp(&b.0));
    p.other = other;
    Ok(p)
}

/// One entry of a JWK Set: its kid (when readable) and the key or why it is unusable.
#[derive(Debug, Clone)]
pub struct SetEntry {
    /// The entry's `kid`, when it has a string one.
    pub kid: Option<String>,
    /// The parsed key, or the reason it could not be used.
    pub key: Result<Jwk>,
}

/// A JWK Set (or a single JWK, or a bare array of JWKs), every entry parsed on its own so one
/// malformed key does not spoil the others.
#[derive(Debug, Clone)]
pub struct JwkSet {
    entries: Vec<SetEntry>,
    single: bool,
}

fn entry_kid(raw: &RawValue) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct KidOnly {
        kid: Option<String>,
    }
    serde_json::from_str::<KidOnly>(raw.get()).ok()?.kid
}

/// Most keys accepted in one JWK Set (real sets hold a handful; this bounds memory).
pub const MAX_SET_KEYS: usize = 10_000;

/// A JSON array of raw values, refused past [`MAX_SET_KEYS`] elements while reading.
struct BoundedItems<'a>(Vec<&'a RawValue>);

impl<'de: 'a, 'a> serde::Deserialize<'de> for BoundedItems<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<'a>(std::marker::PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = BoundedItems<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON array")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(item) = seq.next_element::<&'de RawValue>()? {
                    if out.len() == MAX_SET_KEYS {
                        return Err(serde::de::Error::custom(format!(
                            "the JWK Set holds more than {MAX_SET_KEYS} keys"
                        )));
                    }
                    out.push(item);
                }
                Ok(BoundedItems(out))
            }
        }
        d.deserialize_seq(V(std::marker::PhantomData))
    }
}

/// The raw entries of a JWK, a JWK Set or an array of JWKs; `true` for a lone JWK.
fn raw_entries(text: &str) -> Result<(Vec<&RawValue>, bool)> {
    let raw: &RawValue =
        serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(json_error)?;
    let body = raw.get().trim_start();
    fn items(raw: &RawValue) -> Result<Vec<&RawValue>> {
        serde_json::from_str::<BoundedItems<'_>>(raw.get())
            .map(|b| b.0)
            .map_err(|e| match json_error(e) {
                Error::InvalidJson { detail } if detail.contains("more than") => Error::NotAJwk {
                    detail: format!("the JWK Set holds more than {MAX_SET_KEYS} keys"),
                },
                other => other,
            })
    }
    if body.starts_with('[') {
        return Ok((items(raw)?, false));
    }
    if !body.starts_with('{') {
        return Err(Error::NotAJwk {
            detail: "expected a JWK object, a JWK Set ({\"keys\":[…]}) or an array of JWKs"
                .to_owned(),
        });
    }
    let Members(members) = parse_members(raw)?;
    let has_kty = members.iter().any(|(n, _)| n == "kty");
    match members.iter().find(|(n, _)| n == "keys") {
        Some((_, keys)) if !has_kty => {
            if !keys.get().trim_start().starts_with('[') {
                return Err(Error::NotAJwk {
                    detail: "the \"keys\" member of a JWK Set must be an array".to_owned(),
                });
            }
            Ok((items(keys)?, false))
        }
        _ => Ok((vec![raw], true)),
    }
}

fn list_kids(kids: &[Option<String>]) -> Vec<String> {
    kids.iter().flatten().cloned().collect()
}

/// Chooses the position of one entry: with a kid, the one entry that has it; without, the
/// only entry.
fn choose(kids: &[Option<String>], kid: Option<&str>) -> Result<usize> {
    if kids.is_empty() {
        return Err(Error::JwksEmpty);
    }
    let Some(kid) = kid else {
        if kids.len() == 1 {
            return Ok(0);
        }
        return Err(Error::KidRequired {
            count: kids.len(),
            kids: list_kids(kids),
        });
    };
    let matches: Vec<usize> = (0..kids.len())
        .filter(|&i| kids[i].as_deref() == Some(kid))
        .collect();
    match matches.as_slice() {
        [] => Err(Error::KidNotFound {
            kid: kid.to_owned(),
            kids: list_kids(kids),
        }),
        [index] => Ok(*index),
        many => Err(Error::KidAmbiguous {
            kid: kid.to_owned(),
            count: many.len(),
            kids: list_kids(kids),
        }),
    }
}

fn in_set(index: usize, kid: Option<String>, single: bool, source: Error) -> Error {
    if single {
        source
    } else {
        Error::InSet {
            index,
            kid,
            source: Box::new(source),
        }
    }
}

/// Selects one key from JWK / JWK Set text, parsing only the chosen entry fully (the others
/// are read for their kid alone).
pub(crate) fn select_from_text(text: &str, kid: Option<&str>) -> Result<Jwk> {
    let (items, single) = raw_entries(text)?;
    let kids: Vec<Option<String>> = items.iter().map(|item| entry_kid(item)).collect();
    if single && kids[0].is_none() {
        // A lone JWK without a kid: the kid given is the one to set, not a selector.
        let mut jwk = parse_jwk(items[0])?;
        jwk.params_mut().kid = kid.map(str::to_owned);
        return Ok(jwk);
    }
    let index = choose(&kids, kid)?;
    parse_jwk(items[index]).map_err(|e| in_set(index, kids[index].clone(), single, e))
}

impl JwkSet {
    /// Parses a JWK (`{"kty":…}`), a JWK Set (`{"keys":[…]}`) or a JSON array of JWKs,
    /// at most [`MAX_SET_KEYS`] entries.
    pub fn parse(text: &str) -> Result<JwkSet> {
        let (items, single) = raw_entries(text)?;
        let entries = items
            .into_iter()
            .map(|item| SetEntry {
                kid: entry_kid(item),
                key: parse_jwk(item),
            })
            .collect();
        Ok(JwkSet { entries, single })
    }

    /// Every entry, usable or not, in document order.
    pub fn entries(&self) -> &[SetEntry] {
        &self.entries
    }

    /// The usable keys, in document order.
    pub fn keys(&self) -> impl Iterator<Item = &Jwk> {
        self.entries.iter().filter_map(|e| e.key.as_ref().ok())
    }

    /// Chooses one key: with a kid, the one key that has it; without, the only key.
    pub fn select(self, kid: Option<&str>) -> Result<Jwk> {
        let kids: Vec<Option<String>> = self.entries.iter().map(|e| e.kid.clone()).collect();
        let index = choose(&kids, kid)?;
        let entry = self.entries.into_iter().nth(index).expect("index in range");
        entry
            .key
            .map_err(|e| in_set(index, entry.kid, self.single, e))
    }
}

impl Jwk {
    /// Parses one JWK from JSON text (a JWK Set is refused; use [`JwkSet`]).
    pub fn from_json(text: &str) -> Result<Jwk> {
        let raw: &RawValue =
            serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(json_error)?;
        parse_jwk(raw)
    }
}

#[cfg(test)]
mod tests {
    use super::minify;

    #[test]
    fn minify_keeps_string_content_and_drops_outside_space() {
        assert_eq!(
            minify("{ \"a b\" : [ 1 , \"x \\\" y\" ] }"),
            "{\"a b\":[1,\"x \\\" y\"]}"
        );
    }
}
