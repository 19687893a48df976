//! The JWK: a checked key plus its common parameters, and its canonical JSON form.

use sha1::Sha1;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::b64;
use crate::key::Key;

/// The `use` member (RFC 7517 §4.2).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum KeyUse {
    /// `"sig"`: signatures.
    Sig,
    /// `"enc"`: encryption.
    Enc,
    /// Any other value (RFC 7517 allows them); kept as written.
    Other(String),
}

impl KeyUse {
    /// Parses the member value.
    pub fn parse(value: &str) -> KeyUse {
        match value {
            "sig" => KeyUse::Sig,
            "enc" => KeyUse::Enc,
            other => KeyUse::Other(other.to_owned()),
        }
    }

    /// The member value.
    pub fn as_str(&self) -> &str {
        match self {
            KeyUse::Sig => "sig",
            KeyUse::Enc => "enc",
            KeyUse::Other(s) => s,
        }
    }
}

/// The common JWK parameters (RFC 7517 §4) and any members this engine does not know.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parameters {
    /// `kid`.
    pub kid: Option<String>,
    /// `use`.
    pub key_use: Option<KeyUse>,
    /// `key_ops`.
    pub key_ops: Option<Vec<String>>,
    /// `alg`.
    pub alg: Option<String>,
    /// `x5u`.
    pub x5u: Option<String>,
    /// `x5c`: the DER of each certificate, leaf first.
    pub x5c: Option<Vec<Vec<u8>>>,
    /// `x5t`: SHA-1 of the leaf certificate's DER.
    pub x5t: Option<Vec<u8>>,
    /// `x5t#S256`: SHA-256 of the leaf certificate's DER.
    pub x5t_s256: Option<Vec<u8>>,
    /// Members not defined above, as (name, compact JSON text), sorted by name.
    pub other: Vec<(String, String)>,
}

/// A JSON Web Key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    key: Key,
    params: Parameters,
}

/// The hash of an RFC 7638 thumbprint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ThumbprintHash {
    /// SHA-1 (legacy interop only).
    Sha1,
    /// SHA-256: the default, and what RFC 7638 examples use.
    #[default]
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl ThumbprintHash {
    /// Parses "sha256", "sha1", "sha384", "sha512" (also with a dash, any case).
    pub fn from_name(name: &str) -> Option<Self> {
        match name.to_ascii_lowercase().replace('-', "").as_str() {
            "sha1" => Some(ThumbprintHash::Sha1),
            "sha256" => Some(ThumbprintHash::Sha256),
            "sha384" => Some(ThumbprintHash::Sha384),
            "sha512" => Some(ThumbprintHash::Sha512),
            _ => None,
        }
    }
}

impl Jwk {
    /// A JWK from a checked key and parameters.
    pub fn new(key: Key, params: Parameters) -> Jwk {
        Jwk { key, params }
    }

    /// The key material.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// The common parameters.
    pub fn params(&self) -> &Parameters {
        &self.params
    }

    /// The common parameters, to set `kid`, `use`, `alg`, ...
    pub fn params_mut(&mut self) -> &mut Parameters {
        &mut self.params
    }

    /// True when the JWK holds private or symmetric material.
    pub fn is_private(&self) -> bool {
        self.key.is_private()
    }

    /// The public key: private members dropped, parameters kept. `None` for an `oct` key,
    /// which has no public form (all of it is secret).
    pub fn to_public(&self) -> Option<Jwk> {
        let key = match &self.key {
            Key::Rsa(k) => Key::Rsa(k.to_public()),
            Key::Ec(k) => Key::Ec(k.to_public()),
            Key::Okp(k) => Key::Okp(k.to_public()),
            Key::Oct(_) => return None,
        };
        Some(Jwk {
            key,
            params: self.params.clone(),
        })
    }

    /// The RFC 7638 thumbprint input: the required members in lexicographic order, no
    /// white space. Written member by member, never through a map's iteration order.
    pub fn thumbprint_input(&self) -> String {
        let mut w = JsonWriter::with_capacity(256);
        match &self.key {
            Key::Rsa(k) => {
                w.b64("e", k.e());
                w.str("kty", "RSA");
                w.b64("n", k.n());
            }
            Key::Ec(k) => {
                w.str("crv", k.curve().name());
                w.str("kty", "EC");
                w.b64("x", k.x());
                w.b64("y", k.y());
            }
            Key::Okp(k) => {
                w.str("crv", k.curve().name());
                w.str("kty", "OKP");
                w.b64("x", k.x());
            }
            Key::Oct(k) => {
                w.b64("k", k.k().expose());
                w.str("kty", "oct");
            }
        }
        w.finish()
    }

    /// The RFC 7638 thumbprint (RFC 8037 for OKP) as raw digest bytes.
    pub fn thumbprint_bytes(&self, hash: ThumbprintHash) -> Vec<u8> {
        let input = self.thumbprint_input();
        match hash {
            ThumbprintHash::Sha1 => Sha1::digest(input.as_bytes()).to_vec(),
            ThumbprintHash::Sha256 => Sha256::digest(input.as_bytes()).to_vec(),
            ThumbprintHash::Sha384 => Sha384::digest(input.as_bytes()).to_vec(),
            ThumbprintHash::Sha512 => Sha512::digest(input.as_bytes()).to_vec(),
        }
    }

    /// The RFC 7638 thumbprint, base64url without padding.
    pub fn thumbprint(&self, hash: ThumbprintHash) -> String {
        b64::encode_url(&self.thumbprint_bytes(hash))
    }

    /// The canonical JSON of this JWK, private members included.
    ///
    /// Member order: `kty`, the key members (`crv`, `x`, `y`, `n`, `e`, then the private
    /// ones: `d`, `p`, `q`, `dp`, `dq`, `qi`, `k`), then `kid`, `use`, `key_ops`, `alg`,
    /// `x5u`, `x5c`, `x5t`, `x5t#S256`, then unknown members sorted by name. base64url without
    /// padding; EC coordinates and OKP keys at full length; RSA integers without leading
    /// zeros; no white space. Importing this text gives back a byte-identical text.
    pub fn to_json(&self) -> String {
        self.write_json(true)
    }

    /// What may be shown of the key without disclosing a secret, as canonical JSON: the
    /// public JWK of an asymmetric key; for an `oct` key, `kty` and the parameters only.
    pub fn to_disclosable_json(&self) -> String {
        match self.to_public() {
            Some(public) => public.to_json(),
            None => self.write_json(false),
        }
    }

    /// The canonical JSON; an `oct` key's `k` only when `with_secret_key`.
    fn write_json(&self, with_secret_key: bool) -> String {
        let mut w = JsonWriter::with_capacity(self.json_len_estimate());
        w.str("kty", self.key.key_type().as_str());
        match &self.key {
            Key::Rsa(k) => {
                w.b64("n", k.n());
                w.b64("e", k.e());
                if let Some(p) = k.private() {
                    w.b64("d", p.d.expose());
                    w.b64("p", p.p.expose());
                    w.b64("q", p.q.expose());
                    w.b64("dp", p.dp.expose());
                    w.b64("dq", p.dq.expose());
                    w.b64("qi", p.qi.expose());
                }
            }
            Key::Ec(k) => {
                w.str("crv", k.curve().name());
                w.b64("x", k.x());
                w.b64("y", k.y());
                if let Some(d) = k.d() {
                    w.b64("d", d.expose());
                }
            }
            Key::Okp(k) => {
                w.str("crv", k.curve().name());
                w.b64("x", k.x());
                if let Some(d) = k.d() {
                    w.b64("d", d.expose());
                }
            }
            Key::Oct(k) => {
                if with_secret_key {
                    w.b64("k", k.k().expose());
                }
            }
        }
        let p = &self.params;
        if let Some(kid) = &p.kid {
            w.str("kid", kid);
        }
        if let Some(u) = &p.key_use {
            w.str("use", u.as_str());
        }
        if let Some(ops) = &p.key_ops {
            w.raw_key("key_ops");
            w.out.push('[');
            for (i, op) in ops.iter().enumerate() {
                if i > 0 {
                    w.out.push(',');
                }
                push_json_string(&mut w.out, op);
            }
            w.out.push(']');
        }
        if let Some(alg) = &p.alg {
            w.str("alg", alg);
        }
        if let Some(x5u) = &p.x5u {
            w.str("x5u", x5u);
        }
        if let Some(chain) = &p.x5c {
            w.raw_key("x5c");
            w.out.push('[');
            for (i, cert) in chain.iter().enumerate() {
                if i > 0 {
                    w.out.push(',');
                }
                // Standard base64 needs no JSON escaping.
                w.out.push('"');
                b64::push_std(&mut w.out, cert);
                w.out.push('"');
            }
            w.out.push(']');
        }
        if let Some(t) = &p.x5t {
            w.b64("x5t", t);
        }
        if let Some(t) = &p.x5t_s256 {
            w.b64("x5t#S256", t);
        }
        for (name, value) in &p.other {
            w.raw_key(name);
            w.out.push_str(value);
        }
        w.finish()
    }

    /// An upper estimate of the length of [`Jwk::to_json`], so the output is allocated once
    /// (growing by doubling would hold the old and the new buffer at once).
    fn json_len_estimate(&self) -> usize {
        let b64 = |n: usize| n.div_ceil(3) * 4 + 8;
        let key = match &self.key {
            Key::Rsa(k) => {
                b64(k.n().len())
                    + b64(k.e().len())
                    + k.private().map_or(0, |p| {
                        [&p.d, &p.p, &p.q, &p.dp, &p.dq, &p.qi]
                            .iter()
                            .map(|v| b64(v.expose().len()))
                            .sum()
                    })
            }
            Key::Ec(k) => {
                b64(k.x().len()) + b64(k.y().len()) + k.d().map_or(0, |d| b64(d.expose().len()))
            }
            Key::Okp(k) => b64(k.x().len()) + k.d().map_or(0, |d| b64(d.expose().len())),
            Key::Oct(k) => b64(k.k().expose().len()),
        };
        let p = &self.params;
        let text = |s: &Option<String>| s.as_ref().map_or(0, |s| s.len() * 6 + 12);
        key + 64
            + text(&p.kid)
            + text(&p.alg)
            + text(&p.x5u)
            + p.key_ops.as_ref().map_or(0, |ops| {
                ops.iter().map(|o| o.len() * 6 + 3).sum::<usize>() + 12
            })
            + p.x5c
                .as_ref()
                .map_or(0, |c| c.iter().map(|d| b64(d.len())).sum::<usize>() + 8)
            + p.x5t.as_ref().map_or(0, |t| b64(t.len()) + 8)
            + p.x5t_s256.as_ref().map_or(0, |t| b64(t.len()) + 12)
            + p.other
                .iter()
                .map(|(n, v)| n.len() * 6 + v.len() + 4)
                .sum::<usize>()
    }

    /// The canonical JSON of the public key (see [`Jwk::to_public`]); `None` for `oct`.
    pub fn to_public_json(&self) -> Option<String> {
        self.to_public().map(|p| p.to_json())
    }
}

/// Writes a JSON object member by member, in the order of the calls.
struct JsonWriter {
    out: String,
    first: bool,
}

impl JsonWriter {
    fn with_capacity(capacity: usize) -> Self {
        let mut out = String::with_capacity(capacity);
        out.push('{');
        JsonWriter { out, first: true }
    }

    fn raw_key(&mut self, name: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        push_json_string(&mut self.out, name);
        self.out.push(':');
    }

    fn str(&mut self, name: &str, value: &str) {
        self.raw_key(name);
        push_json_string(&mut self.out, value);
    }

    fn b64(&mut self, name: &str, bytes: &[u8]) {
        self.raw_key(name);
        self.out.push('"');
        b64::push_url(&mut self.out, bytes);
        self.out.push('"');
    }

    fn finish(mut self) -> String {
        self.out.push('}');
        self.out
    }
}

/// Appends `s` as a JSON string literal (RFC 8259 escaping).
pub(crate) fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    // Member names, curve names and most values need no escaping: copy them whole.
    if !s.bytes().any(|b| b < 0x20 || b == b'"' || b == b'\\') {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0c}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}
