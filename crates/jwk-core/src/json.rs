//! JWK and JWK Set JSON: strict member parsing, `kid` selection.
//!
//! Members are read as borrowed raw JSON (`RawValue`), so a large input costs about its own
//! size in memory; unknown members are kept as compact JSON text.

use serde::Deserialize;
use serde::de::{Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;
use zeroize::Zeroizing;

use crate::b64;
use crate::error::{Error, Result};
use crate::jwk::{Jwk, KeyUse, Parameters};
use crate::key::{CrtInput, EcCurve, EcKey, Key, OctKey, OkpCurve, OkpKey, RsaKey};
use crate::secret::Secret;

/// A member name, borrowed from the input unless it holds escapes. (serde's own `Cow<str>`
/// always copies.)
struct Name<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Name<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Name<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Name<'a>, E> {
                Ok(Name(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Name<'a>, E> {
                Ok(Name(Cow::Owned(v.to_owned())))
            }
        }
        d.deserialize_str(V(PhantomData))
    }
}

/// The value of one member, read as the member's name says: the members a JWK defines as
/// strings are read as strings on the way (no raw capture, which costs more than the string),
/// every other member as raw JSON.
enum Member<'a> {
    /// A string without escapes: its text in the input.
    Str(&'a str),
    /// A string with escapes, unescaped (zeroized on drop: it may be a private member).
    Escaped(Zeroizing<String>),
    /// A member defined as a string whose value is another JSON type.
    NotString,
    /// Any other member, as raw JSON.
    Raw(&'a RawValue),
}

/// Whether RFC 7517 / 7518 / 8037 define the member as a string.
fn is_string_member(name: &str) -> bool {
    matches!(
        name,
        "kty"
            | "kid"
            | "use"
            | "alg"
            | "x5u"
            | "x5t"
            | "x5t#S256"
            | "crv"
            | "x"
            | "y"
            | "d"
            | "n"
            | "e"
            | "p"
            | "q"
            | "dp"
            | "dq"
            | "qi"
            | "k"
    )
}

/// A string member's value, or [`Member::NotString`] for any other JSON value.
struct StrValue<'a>(Member<'a>);

impl<'de: 'a, 'a> Deserialize<'de> for StrValue<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = StrValue<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> std::result::Result<Self::Value, E> {
                Ok(StrValue(Member::NotString))
            }
            fn visit_i64<E>(self, _: i64) -> std::result::Result<Self::Value, E> {
                Ok(StrValue(Member::NotString))
            }
            fn visit_u64<E>(self, _: u64) -> std::result::Result<Self::Value, E> {
                Ok(StrValue(Member::NotString))
            }
            fn visit_f64<E>(self, _: f64) -> std::result::Result<Self::Value, E> {
                Ok(StrValue(Member::NotString))
            }
            fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
                Ok(StrValue(Member::NotString))
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> std::result::Result<Self::Value, E> {
                Ok(StrValue(Member::Str(v)))
            }
            fn visit_str<E>(self, v: &str) -> std::result::Result<Self::Value, E> {
                Ok(StrValue(Member::Escaped(Zeroizing::new(v.to_owned()))))
            }
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                seq: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                skip_seq(seq).map(|()| StrValue(Member::NotString))
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                skip_map(map).map(|()| StrValue(Member::NotString))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// Reads the value of the member `name` (see [`Member`]).
fn member_value<'de, A: MapAccess<'de>>(
    map: &mut A,
    name: &str,
) -> std::result::Result<Member<'de>, A::Error> {
    if is_string_member(name) {
        map.next_value::<StrValue<'de>>().map(|v| v.0)
    } else {
        map.next_value::<&'de RawValue>().map(Member::Raw)
    }
}

/// The members of one JSON object in document order. Duplicates are kept here and refused
/// when the object is read as a JWK ([`parse_members`]), so that a set entry that is not
/// chosen is never checked.
type MemberList<'a> = Vec<(Cow<'a, str>, Member<'a>)>;

/// One JSON value where a JWK is expected, read in the single pass over the input.
enum RawEntry<'a> {
    /// An object: its members.
    Object(MemberList<'a>),
    /// Any other JSON value.
    NotObject,
}

/// Consumes the rest of a sequence whose content does not matter.
fn skip_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> std::result::Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Consumes the rest of a map whose content does not matter.
fn skip_map<'de, A: MapAccess<'de>>(mut map: A) -> std::result::Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// The visitor methods of a value that is not what is wanted: every scalar, and arrays
/// (consumed), give `$not`.
macro_rules! other_values {
    ($not:expr) => {
        fn visit_bool<E>(self, _: bool) -> std::result::Result<Self::Value, E> {
            Ok($not)
        }
        fn visit_i64<E>(self, _: i64) -> std::result::Result<Self::Value, E> {
            Ok($not)
        }
        fn visit_u64<E>(self, _: u64) -> std::result::Result<Self::Value, E> {
            Ok($not)
        }
        fn visit_f64<E>(self, _: f64) -> std::result::Result<Self::Value, E> {
            Ok($not)
        }
        fn visit_str<E>(self, _: &str) -> std::result::Result<Self::Value, E> {
            Ok($not)
        }
        fn visit_unit<E>(self) -> std::result::Result<Self::Value, E> {
            Ok($not)
        }
    };
}

fn collect_members<'de, A: MapAccess<'de>>(
    mut map: A,
) -> std::result::Result<MemberList<'de>, A::Error> {
    let mut out = MemberList::new();
    while let Some(Name(name)) = map.next_key::<Name<'de>>()? {
        if out.is_empty() {
            // Room for a typical JWK's members at once (kty, kid, use, alg and 2 to 4 more).
            out.reserve(8);
        }
        let value = member_value(&mut map, &name)?;
        out.push((name, value));
    }
    Ok(out)
}

impl<'de: 'a, 'a> Deserialize<'de> for RawEntry<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = RawEntry<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            other_values!(RawEntry::NotObject);
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                seq: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                skip_seq(seq).map(|()| RawEntry::NotObject)
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                collect_members(map).map(RawEntry::Object)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// Marks the error of a set past [`MAX_SET_KEYS`] inside serde's error type.
const TOO_MANY: &str = "\u{0}too many keys\u{0}";

fn json_error(e: serde_json::Error) -> Error {
    let text = e.to_string();
    if text.starts_with(TOO_MANY) {
        return Error::NotAJwk {
            detail: format!("the JWK Set holds more than {MAX_SET_KEYS} keys"),
        };
    }
    Error::InvalidJson { detail: text }
}

/// Refuses a member that appears twice (the first repeat in document order is named).
fn check_duplicates<'n>(names: impl ExactSizeIterator<Item = &'n str> + Clone) -> Result<()> {
    let duplicate = |name: &str| Error::DuplicateMember {
        member: name.to_owned(),
    };
    // Quadratic for the handful of members a JWK has; a hash set past that, so an object of
    // many thousands of members costs linear time.
    if names.len() <= 32 {
        for (i, name) in names.clone().enumerate() {
            if names.clone().take(i).any(|n| n == name) {
                return Err(duplicate(name));
            }
        }
        return Ok(());
    }
    let mut seen = std::collections::HashSet::with_capacity(names.len());
    for name in names {
        if !seen.insert(name) {
            return Err(duplicate(name));
        }
    }
    Ok(())
}

/// The members of a value read as one JWK: an object without duplicate members.
fn parse_members(entry: RawEntry<'_>) -> Result<MemberList<'_>> {
    match entry {
        RawEntry::Object(members) => {
            check_duplicates(members.iter().map(|(n, _)| n.as_ref()))?;
            Ok(members)
        }
        RawEntry::NotObject => Err(Error::NotAJwk {
            detail: "a JWK must be a JSON object".to_owned(),
        }),
    }
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

/// A member's string value (borrowed), or why it is not one.
fn member_str<'m>(name: &str, value: &'m Member<'_>) -> Result<Cow<'m, str>> {
    match value {
        Member::Str(text) => Some(Cow::Borrowed(*text)),
        Member::Escaped(text) => Some(Cow::Borrowed(text.as_str())),
        // Not reached for the members a JWK defines as strings, which are read as strings.
        Member::Raw(raw) => serde_json::from_str::<String>(raw.get())
            .ok()
            .map(Cow::Owned),
        Member::NotString => None,
    }
    .ok_or_else(|| Error::member(name, "it must be a JSON string"))
}

/// A member that is not a string, as the type it must have.
fn member_json<T: serde::de::DeserializeOwned>(value: &Member<'_>) -> Option<T> {
    match value {
        Member::Raw(raw) => serde_json::from_str(raw.get()).ok(),
        _ => None,
    }
}

/// A member kept as it is (not defined by the JWK RFCs), as compact JSON text. Its numbers
/// must be finite 64-bit floating point values: RFC 8259 §6 warns that parsers disagree past
/// that range (`1e999999` is infinity to some and an error to others, serde_json included).
fn member_text(name: &str, value: &Member<'_>) -> Result<String> {
    match value {
        Member::Raw(raw) => {
            if let Some(number) = infinite_number(raw.get()) {
                let shown: String = number.chars().take(40).collect();
                let more = if shown.len() < number.len() {
                    "…"
                } else {
                    ""
                };
                return Err(Error::member(
                    name,
                    format!(
                        "it holds the number {shown}{more}, which is not a finite 64-bit \
                         floating point value (JSON parsers do not agree on it)"
                    ),
                ));
            }
            if let Some(escape) = lone_surrogate(raw.get()) {
                return Err(Error::member(
                    name,
                    format!(
                        "it holds the lone UTF-16 surrogate {escape}, which is not Unicode text \
                         (strict JSON parsers refuse the whole JWK Set: RFC 8259 §8.2, RFC 7493)"
                    ),
                ));
            }
            Ok(minify(raw.get()))
        }
        // Not reached: the members read as strings are all defined ones.
        Member::Str(text) => Ok(serde_json::to_string(text).unwrap_or_default()),
        Member::Escaped(text) => Ok(serde_json::to_string(text.as_str()).unwrap_or_default()),
        Member::NotString => Ok(String::new()),
    }
}

/// The first number token of valid JSON text that is not a finite `f64`.
///
/// A scan rather than serde: serde_json looks at numbers only when it builds values, which
/// recurses (and stops at 128 levels), while a kept member may nest deeper. The text has been
/// read by serde_json already, so every token is well formed: outside strings, a number is a
/// run of `-+.0-9eE`.
fn infinite_number(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        match byte {
            b'"' => {
                // To the closing quote, stepping over escapes.
                i += 1;
                loop {
                    i += memchr::memchr2(b'"', b'\\', bytes.get(i..)?)?;
                    if bytes.get(i) == Some(&b'"') {
                        break;
                    }
                    i += 2;
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let len = bytes[i..]
                    .iter()
                    .position(|b| !matches!(b, b'-' | b'+' | b'.' | b'0'..=b'9' | b'e' | b'E'))
                    .unwrap_or(bytes.len() - i);
                let token = text.get(i..i + len)?;
                if !token.parse::<f64>().is_ok_and(f64::is_finite) {
                    return Some(token);
                }
                i += len;
            }
            _ => i += 1,
        }
    }
    None
}

/// The first `\uXXXX` escape of valid JSON text that is half of a surrogate pair without its
/// other half (a lead not followed at once by a trail escape, or a trail without a lead).
///
/// A scan rather than serde: a member kept as raw JSON text is never decoded, and serde_json
/// checks only the four hex digits of an escape it skips. Strings (member names included) are
/// walked escape by escape; the text has been read by serde_json already, so every escape is
/// well formed.
fn lone_surrogate(text: &str) -> Option<&str> {
    let bytes = text.as_bytes();
    let mut i = 0;
    let mut in_string = false;
    // Where the last escape was a lead surrogate still waiting for its trail.
    let mut lead: Option<usize> = None;
    while let Some(&byte) = bytes.get(i) {
        if !in_string {
            in_string = byte == b'"';
            i += 1;
            continue;
        }
        match byte {
            b'\\' if bytes.get(i + 1) == Some(&b'u') => {
                let escape = text.get(i..i + 6)?;
                let unit = u16::from_str_radix(&escape[2..], 16).ok()?;
                match (lead, unit) {
                    (Some(_), 0xDC00..=0xDFFF) => lead = None,
                    (Some(at), _) => return text.get(at..at + 6),
                    (None, 0xD800..=0xDBFF) => lead = Some(i),
                    (None, 0xDC00..=0xDFFF) => return Some(escape),
                    (None, _) => {}
                }
                i += 6;
            }
            _ => {
                if let Some(at) = lead {
                    return text.get(at..at + 6);
                }
                match byte {
                    b'\\' => i += 2,
                    b'"' => {
                        in_string = false;
                        i += 1;
                    }
                    _ => i += 1,
                }
            }
        }
    }
    lead.and_then(|at| text.get(at..at + 6))
}

/// The members registered for each key type (RFC 7518 §6, RFC 8037 §2).
const RSA_MEMBERS: &[&str] = &["n", "e", "d", "p", "q", "dp", "dq", "qi", "oth"];
const EC_MEMBERS: &[&str] = &["crv", "x", "y", "d"];
const OKP_MEMBERS: &[&str] = &["crv", "x", "d"];
const OCT_MEMBERS: &[&str] = &["k"];

/// Looks members up by name; remembers which ones were consumed.
struct Fields<'a> {
    kty: String,
    members: MemberList<'a>,
}

impl<'a> Fields<'a> {
    fn get(&self, name: &str) -> Option<&Member<'a>> {
        self.members.iter().find(|(n, _)| n == name).map(|(_, v)| v)
    }

    fn opt_str(&self, name: &str) -> Result<Option<String>> {
        self.get(name)
            .map(|v| member_str(name, v).map(Cow::into_owned))
            .transpose()
    }

    fn req_str(&self, name: &str) -> Result<String> {
        self.opt_str(name)?.ok_or_else(|| self.missing(name))
    }

    fn missing(&self, name: &str) -> Error {
        Error::MissingMember {
            kty: self.kty.clone(),
            member: name.to_owned(),
        }
    }

    fn opt_bytes(&self, name: &str) -> Result<Option<Vec<u8>>> {
        match self.get(name) {
            Some(value) => b64::decode_url(name, &member_str(name, value)?).map(Some),
            None => Ok(None),
        }
    }

    fn req_bytes(&self, name: &str) -> Result<Vec<u8>> {
        let value = self.get(name).ok_or_else(|| self.missing(name))?;
        b64::decode_url(name, &member_str(name, value)?)
    }

    fn opt_secret(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
        match self.get(name) {
            Some(value) => b64::decode_url_secret(name, &member_str(name, value)?).map(Some),
            None => Ok(None),
        }
    }
}

/// Parses one JWK object.
fn parse_jwk(entry: RawEntry<'_>) -> Result<Jwk> {
    parse_entry(entry, false)
}

/// Parses a JWK this library wrote and sealed (see [`crate::from_sealed_json`]).
pub(crate) fn from_sealed_text(text: &str) -> Result<Jwk> {
    match raw_entries(text)? {
        Entries::Lone(entry) => parse_entry(entry, true),
        Entries::Set(_) => Err(Error::NotAJwk {
            detail: "a sealed JWK is one JWK, not a set".to_owned(),
        }),
    }
}

/// Parses one JWK object; `sealed`: one this library wrote and sealed, whose consistency
/// checks (points, `d·G`, RSA primes, the certificate chain) its import already made.
fn parse_entry(entry: RawEntry<'_>, sealed: bool) -> Result<Jwk> {
    let members = parse_members(entry)?;
    let kty = match members.iter().find(|(n, _)| n == "kty") {
        Some((_, value)) => member_str("kty", value)?.into_owned(),
        None => {
            return Err(Error::NotAJwk {
                detail: "the JSON object has no \"kty\" member, so it is not a JWK".to_owned(),
            });
        }
    };
    let fields = Fields { kty, members };
    let (key, own) = match fields.kty.as_str() {
        "RSA" => (parse_rsa(&fields, sealed)?, RSA_MEMBERS),
        "EC" => (parse_ec(&fields, sealed)?, EC_MEMBERS),
        "OKP" => (parse_okp(&fields, sealed)?, OKP_MEMBERS),
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
    if !sealed {
        crate::x5c::check_jwk_chain(&jwk)?;
    }
    if let Some(alg) = &jwk.params().alg {
        crate::policy::check_alg_fits_key(jwk.key(), alg)?;
    }
    Ok(jwk)
}

fn parse_rsa(f: &Fields<'_>, sealed: bool) -> Result<Key> {
    let n = f.req_bytes("n")?;
    let e = f.req_bytes("e")?;
    if f.get("oth").is_some() {
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
            if f.get(name).is_some() {
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
    match crt {
        Some(crt) if sealed => RsaKey::from_sealed(&n, &e, &d, &crt),
        crt => RsaKey::from_private(&n, &e, &d, crt),
    }
    .map(Key::Rsa)
}

fn curve_name(f: &Fields<'_>) -> Result<String> {
    f.req_str("crv")
}

fn parse_ec(f: &Fields<'_>, sealed: bool) -> Result<Key> {
    let crv = curve_name(f)?;
    let curve = EcCurve::from_name(&crv).ok_or_else(|| Error::UnsupportedJwkCurve {
        kty: "EC".to_owned(),
        crv: crv.clone(),
        supported: "P-256, P-384, P-521 and secp256k1",
    })?;
    let x = f.req_bytes("x")?;
    let y = f.req_bytes("y")?;
    let d = f.opt_secret("d")?;
    if sealed {
        return EcKey::from_sealed(curve, &x, &y, d.as_deref().map(Vec::as_slice)).map(Key::Ec);
    }
    match d {
        Some(d) => EcKey::from_jwk_private(curve, &x, &y, &d),
        None => EcKey::from_coordinates(curve, &x, &y),
    }
    .map(Key::Ec)
}

fn parse_okp(f: &Fields<'_>, sealed: bool) -> Result<Key> {
    let crv = curve_name(f)?;
    let curve = OkpCurve::from_name(&crv).ok_or_else(|| Error::UnsupportedJwkCurve {
        kty: "OKP".to_owned(),
        crv: crv.clone(),
        supported: "Ed25519, Ed448, X25519 and X448",
    })?;
    let x = f.req_bytes("x")?;
    let d = f.opt_secret("d")?;
    if sealed {
        return OkpKey::from_sealed(curve, &x, d.as_deref().map(Vec::as_slice)).map(Key::Okp);
    }
    match d {
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
    if let Some(value) = f.get("key_ops") {
        let ops: Vec<String> = member_json(value)
            .ok_or_else(|| Error::member("key_ops", "it must be an array of strings"))?;
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
    if let Some(value) = f.get("x5c") {
        let certs: Vec<String> = member_json(value)
            .ok_or_else(|| Error::member("x5c", "it must be an array of strings"))?;
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
    for (name, value) in &f.members {
        if COMMON.contains(&name.as_ref()) || own.contains(&name.as_ref()) {
            continue;
        }
        if ALL_KEY_MEMBERS.contains(&name.as_ref()) {
            return Err(Error::member(
                name,
                format!("it does not belong to a key of kty \"{}\"", f.kty),
            ));
        }
        other.push((name.to_string(), member_text(name, value)?));
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

/// An entry's kid: its one `kid` member when that is a string.
fn entry_kid<'e>(entry: &'e RawEntry<'_>) -> Option<&'e str> {
    let RawEntry::Object(members) = entry else {
        return None;
    };
    let mut kids = members.iter().filter(|(name, _)| name == "kid");
    let (_, value) = kids.next()?;
    if kids.next().is_some() {
        return None;
    }
    match value {
        Member::Str(kid) => Some(kid),
        Member::Escaped(kid) => Some(kid.as_str()),
        Member::NotString | Member::Raw(_) => None,
    }
}

/// The kid of a JWK Set entry: its one `kid` member when that is a string (`None` when the
/// entry is not an object, has no kid, has two, or one that is not a string).
///
/// Reading every member of every entry through serde costs more than the rest of a selection,
/// and only the kid of the entries not chosen is needed, so the common shape is recognised by
/// hand: the text is a value serde_json has already read whole (valid JSON), and when it holds
/// no backslash and no nested object, no string in it holds a quote, so every `"kid"` in it is
/// a whole string token, and one followed by `:` is a member name of the entry itself.
/// Anything else is read by serde ([`kid_by_serde`]).
fn raw_kid(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    let bytes = text.as_bytes();
    let rest = bytes.strip_prefix(b"{")?;
    if memchr::memchr2(b'\\', b'{', rest).is_some() {
        return kid_by_serde(text);
    }
    static KID: std::sync::LazyLock<memchr::memmem::Finder<'static>> =
        std::sync::LazyLock::new(|| memchr::memmem::Finder::new(b"\"kid\""));
    let mut kid = None;
    for hit in KID.find_iter(bytes) {
        let colon = skip_space(bytes, hit + 5);
        if bytes.get(colon) != Some(&b':') {
            continue;
        }
        if kid.is_some() {
            return None;
        }
        let value = skip_space(bytes, colon + 1);
        kid = Some(match bytes.get(value) {
            Some(b'"') => {
                let start = value + 1;
                let end = start + memchr::memchr(b'"', bytes.get(start..)?)?;
                text.get(start..end).map(Cow::Borrowed)
            }
            _ => None,
        });
    }
    kid.flatten()
}

fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r')
}

/// The first position at or after `i` that is not JSON white space.
fn skip_space(bytes: &[u8], i: usize) -> usize {
    let rest = bytes.get(i..).unwrap_or_default();
    i + rest
        .iter()
        .position(|b| !is_space(*b))
        .unwrap_or(rest.len())
}

/// [`raw_kid`] for any entry: its members read by serde, only `kid` decoded.
fn kid_by_serde(text: &str) -> Option<Cow<'_, str>> {
    struct Kid<'a>(Option<Cow<'a, str>>);
    impl<'de: 'a, 'a> Deserialize<'de> for Kid<'a> {
        fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
            struct V<'a>(PhantomData<&'a ()>);
            impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
                type Value = Kid<'a>;
                fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                    f.write_str("a JSON object")
                }
                fn visit_map<A: MapAccess<'de>>(
                    self,
                    mut map: A,
                ) -> std::result::Result<Self::Value, A::Error> {
                    let mut kid: Option<Option<Cow<'a, str>>> = None;
                    let mut twice = false;
                    while let Some(Name(name)) = map.next_key::<Name<'de>>()? {
                        if name != "kid" {
                            map.next_value::<IgnoredAny>()?;
                            continue;
                        }
                        twice |= kid.is_some();
                        kid = Some(match map.next_value::<StrValue<'de>>()?.0 {
                            Member::Str(text) => Some(Cow::Borrowed(text)),
                            Member::Escaped(text) => Some(Cow::Owned(text.to_string())),
                            Member::NotString | Member::Raw(_) => None,
                        });
                    }
                    Ok(Kid(if twice { None } else { kid.flatten() }))
                }
            }
            d.deserialize_map(V(PhantomData))
        }
    }
    serde_json::from_str::<Kid<'_>>(text).ok()?.0
}

/// Most keys accepted in one JWK Set (real sets hold a handful; this bounds memory).
pub const MAX_SET_KEYS: usize = 10_000;

/// The elements of a JSON array as raw values, refused past [`MAX_SET_KEYS`] while reading.
fn collect_entries<'de, A: SeqAccess<'de>>(
    mut seq: A,
) -> std::result::Result<Vec<&'de RawValue>, A::Error> {
    let mut out = Vec::new();
    while let Some(entry) = seq.next_element::<&'de RawValue>()? {
        if out.len() == MAX_SET_KEYS {
            return Err(serde::de::Error::custom(TOO_MANY));
        }
        out.push(entry);
    }
    Ok(out)
}

/// The `keys` member of an object: its entries when it is an array.
enum KeysMember<'a> {
    Entries(Vec<&'a RawValue>),
    NotArray,
}

impl<'de: 'a, 'a> Deserialize<'de> for KeysMember<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = KeysMember<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            other_values!(KeysMember::NotArray);
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                seq: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                collect_entries(seq).map(KeysMember::Entries)
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                skip_map(map).map(|()| KeysMember::NotArray)
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// JWK, JWK Set or array text, read in one pass: a set's entries are kept as raw values.
enum Document<'a> {
    /// A JSON array of entries.
    Array(Vec<&'a RawValue>),
    /// A JSON object. Its first `keys` member is read as entries (`None` in `members` marks
    /// its place); the others as members of a JWK.
    Object {
        members: Vec<(Cow<'a, str>, Option<Member<'a>>)>,
        keys: Option<KeysMember<'a>>,
    },
    /// Any other JSON value.
    Other,
}

impl<'de: 'a, 'a> Deserialize<'de> for Document<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Document<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            other_values!(Document::Other);
            fn visit_seq<A: SeqAccess<'de>>(
                self,
                seq: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                collect_entries(seq).map(Document::Array)
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Self::Value, A::Error> {
                let mut members = Vec::new();
                let mut keys = None;
                while let Some(Name(name)) = map.next_key::<Name<'de>>()? {
                    if name == "keys" && keys.is_none() {
                        keys = Some(map.next_value::<KeysMember<'de>>()?);
                        members.push((name, None));
                    } else {
                        let value = member_value(&mut map, &name)?;
                        members.push((name, Some(value)));
                    }
                }
                Ok(Document::Object { members, keys })
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// What JSON text holds: the entries of a JWK Set or array, or one JWK read member by member.
enum Entries<'a> {
    Set(Vec<&'a RawValue>),
    Lone(RawEntry<'a>),
}

/// Reads a JWK, a JWK Set or an array of JWKs.
fn raw_entries(text: &str) -> Result<Entries<'_>> {
    let text = text.trim_start_matches('\u{feff}');
    let document: Document<'_> = serde_json::from_str(text).map_err(json_error)?;
    let (members, keys) = match document {
        Document::Array(entries) => return Ok(Entries::Set(entries)),
        Document::Other => {
            return Err(Error::NotAJwk {
                detail: "expected a JWK object, a JWK Set ({\"keys\":[…]}) or an array of JWKs"
                    .to_owned(),
            });
        }
        Document::Object { members, keys } => (members, keys),
    };
    let has_kty = members.iter().any(|(n, _)| n == "kty");
    match keys {
        Some(keys) if !has_kty => {
            check_duplicates(members.iter().map(|(n, _)| n.as_ref()))?;
            match keys {
                KeysMember::Entries(entries) => Ok(Entries::Set(entries)),
                KeysMember::NotArray => Err(Error::NotAJwk {
                    detail: "the \"keys\" member of a JWK Set must be an array".to_owned(),
                }),
            }
        }
        // A lone JWK that has a `keys` member among its own: read again with every member
        // (rare, so the common paths keep their one pass).
        Some(_) => Ok(Entries::Lone(
            serde_json::from_str(text).map_err(json_error)?,
        )),
        None => {
            let members = members
                .into_iter()
                .filter_map(|(n, value)| value.map(|value| (n, value)))
                .collect();
            Ok(Entries::Lone(RawEntry::Object(members)))
        }
    }
}

/// Parses one raw entry of a set as a JWK.
fn parse_raw_jwk(raw: &RawValue) -> Result<Jwk> {
    parse_jwk(serde_json::from_str(raw.get()).map_err(json_error)?)
}

fn list_kids<S: AsRef<str>>(kids: &[Option<S>]) -> Vec<String> {
    kids.iter()
        .flatten()
        .map(|kid| kid.as_ref().to_owned())
        .collect()
}

/// Chooses the position of one entry: with a kid, the one entry that has it; without, the
/// only entry.
fn choose<S: AsRef<str>>(kids: &[Option<S>], kid: Option<&str>) -> Result<usize> {
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
    let mut matches = kids
        .iter()
        .enumerate()
        .filter(|(_, k)| k.as_ref().map(AsRef::as_ref) == Some(kid))
        .map(|(i, _)| i);
    match (matches.next(), matches.count()) {
        (None, _) => Err(Error::KidNotFound {
            kid: kid.to_owned(),
            kids: list_kids(kids),
        }),
        (Some(index), 0) => Ok(index),
        (Some(_), more) => Err(Error::KidAmbiguous {
            kid: kid.to_owned(),
            count: more + 1,
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

/// Selects one key from JWK / JWK Set text in one pass over the text: the entries are kept
/// raw, their kids found by [`raw_kid`], and only the chosen entry is decoded and validated.
pub(crate) fn select_from_text(text: &str, kid: Option<&str>) -> Result<Jwk> {
    let entries = match raw_entries(text)? {
        Entries::Lone(entry) => {
            let own = entry_kid(&entry).map(str::to_owned);
            return match own {
                // A lone JWK without a kid: the kid given is the one to set, not a selector.
                None => {
                    let mut jwk = parse_jwk(entry)?;
                    jwk.params_mut().kid = kid.map(str::to_owned);
                    Ok(jwk)
                }
                Some(own) => {
                    choose(&[Some(own.as_str())], kid)?;
                    parse_jwk(entry)
                }
            };
        }
        Entries::Set(entries) => entries,
    };
    let kids: Vec<Option<Cow<'_, str>>> = entries.iter().map(|raw| raw_kid(raw)).collect();
    let index = choose(&kids, kid)?;
    parse_raw_jwk(entries[index])
        .map_err(|e| in_set(index, kids[index].as_deref().map(str::to_owned), false, e))
}

impl JwkSet {
    /// Parses a JWK (`{"kty":…}`), a JWK Set (`{"keys":[…]}`) or a JSON array of JWKs,
    /// at most [`MAX_SET_KEYS`] entries.
    pub fn parse(text: &str) -> Result<JwkSet> {
        let (entries, single) = match raw_entries(text)? {
            Entries::Lone(entry) => (
                vec![SetEntry {
                    kid: entry_kid(&entry).map(str::to_owned),
                    key: parse_jwk(entry),
                }],
                true,
            ),
            Entries::Set(entries) => (
                entries
                    .into_iter()
                    .map(|raw| SetEntry {
                        kid: raw_kid(raw).map(Cow::into_owned),
                        key: parse_raw_jwk(raw),
                    })
                    .collect(),
                false,
            ),
        };
        Ok(JwkSet { entries, single })
    }

    /// True when the text was one JWK, not a JWK Set or an array of JWKs.
    pub fn is_single(&self) -> bool {
        self.single
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
    pub fn select(mut self, kid: Option<&str>) -> Result<Jwk> {
        let kids: Vec<Option<&str>> = self.entries.iter().map(|e| e.kid.as_deref()).collect();
        let index = choose(&kids, kid)?;
        let entry = self.entries.swap_remove(index);
        entry
            .key
            .map_err(|e| in_set(index, entry.kid, self.single, e))
    }
}

impl Jwk {
    /// Parses one JWK from JSON text (a JWK Set is refused; use [`JwkSet`]).
    pub fn from_json(text: &str) -> Result<Jwk> {
        let entry: RawEntry<'_> =
            serde_json::from_str(text.trim_start_matches('\u{feff}')).map_err(json_error)?;
        parse_jwk(entry)
    }
}

#[cfg(test)]
mod tests {
    use super::{kid_by_serde, minify, raw_kid};
    use proptest::prelude::*;
    use serde_json::value::RawValue;

    /// The kid as a plain serde struct reads it from an object (a repeated or non-string kid
    /// is no kid).
    fn reference_kid(text: &str) -> Option<String> {
        #[derive(serde::Deserialize)]
        struct KidOnly {
            kid: Option<String>,
        }
        if !text.trim_start().starts_with('{') {
            return None;
        }
        serde_json::from_str::<KidOnly>(text).ok()?.kid
    }

    fn kid_of(text: &str) -> Option<String> {
        let raw: &RawValue = serde_json::from_str(text).expect("valid JSON");
        raw_kid(raw).map(|k| k.into_owned())
    }

    #[test]
    fn the_kid_of_an_entry_is_its_own_one_string_kid() {
        let cases: &[(&str, Option<&str>)] = &[
            (r#"{"kty":"EC","kid":"a"}"#, Some("a")),
            (r#"{ "kid" : "a b" , "x":"kid"}"#, Some("a b")),
            (r#"{"x":"kid","kid":"kid"}"#, Some("kid")),
            (r#"{"kid":"a","kid":"b"}"#, None),
            (r#"{"kid":1}"#, None),
            (r#"{"kid":null,"kid":"b"}"#, None),
            (r#"{"kid":["a"]}"#, None),
            (r#"{"key_ops":["sign","kid"]}"#, None),
            (r#"{"x":"a,\"kid\":\"b"}"#, None),
            (r#"{"ext":{"kid":"inner"}}"#, None),
            (r#"{"ext":{"kid":"inner"},"kid":"outer"}"#, Some("outer")),
            (r#"{"k\u0069d":"escaped name"}"#, Some("escaped name")),
            (r#"{"kid":"a\/b"}"#, Some("a/b")),
            (r#"{"kid":"a","k\u0069d":"b"}"#, None),
            (r#"{"kid":"\u0061"}"#, Some("a")),
            (r#"["kid"]"#, None),
            (r#""kid""#, None),
            ("{\n\t\"kid\"\r\n:\n\"spaced\"}", Some("spaced")),
        ];
        for (text, expected) in cases {
            assert_eq!(kid_of(text).as_deref(), *expected, "{text}");
            assert_eq!(
                reference_kid(text).as_deref(),
                *expected,
                "reference: {text}"
            );
        }
    }

    fn member_name() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            r#""kid""#,
            r#""k\u0069d""#,
            r#""kty""#,
            r#""kidd""#,
            r#""\"kid\"""#,
            r#""x""#,
        ])
    }

    fn value() -> impl Strategy<Value = &'static str> {
        prop::sample::select(vec![
            r#""v1""#,
            r#""kid""#,
            r#""a\"kid\":\"b""#,
            r#""{\"kid\":\"s\"}""#,
            r#""\u006b""#,
            r#""a/b""#,
            "1",
            "null",
            "true",
            r#"["kid",{"kid":"inner"}]"#,
            r#"{"kid":"nested","a":[1,{"b":"}"}]}"#,
            r#"[",\"kid\":"]"#,
        ])
    }

    proptest! {
        #![proptest_config(ProptestConfig { failure_persistence: None, ..ProptestConfig::default() })]

        /// The scan agrees with serde on objects built from tricky names, values and spaces.
        #[test]
        fn the_kid_scan_agrees_with_serde(
            members in prop::collection::vec((member_name(), value(), 0usize..3), 0..6)
        ) {
            let space = ["", " ", "\n\t"];
            let body: Vec<String> = members
                .iter()
                .map(|(n, v, s)| format!("{}{n}{}:{}{v}", space[*s], space[*s], space[*s]))
                .collect();
            let text = format!("{{{}}}", body.join(","));
            prop_assert_eq!(kid_of(&text), reference_kid(&text), "{}", text);
            prop_assert_eq!(
                kid_by_serde(&text).map(|k| k.into_owned()),
                reference_kid(&text),
                "{}",
                text
            );
        }
    }

    #[test]
    fn only_numbers_outside_strings_are_checked() {
        let cases: &[(&str, Option<&str>)] = &[
            (r#"{"a":"x\"1e999\"","b":[1e2,-0.5,0]}"#, None),
            (r#"["\\",1e999]"#, Some("1e999")),
            (r#"{"a":"\\\"","b":-1E+400}"#, Some("-1E+400")),
            ("1.7976931348623157e308", None),
            ("1.7976931348623159e308", Some("1.7976931348623159e308")),
            ("123456789012345678901234567890", None),
        ];
        for (text, expected) in cases {
            assert_eq!(super::infinite_number(text), *expected, "{text}");
        }
    }

    #[test]
    fn minify_keeps_string_content_and_drops_outside_space() {
        assert_eq!(
            minify("{ \"a b\" : [ 1 , \"x \\\" y\" ] }"),
            "{\"a b\":[1,\"x \\\" y\"]}"
        );
    }
}
