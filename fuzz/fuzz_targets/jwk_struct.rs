#![no_main]
//! Structure-aware: JWK JSON with plausible members and arbitrary values.

use arbitrary::Arbitrary;
use base64ct::{Base64UrlUnpadded, Encoding};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
enum Kty {
    Rsa,
    Ec,
    Okp,
    Oct,
    Other(String),
}

#[derive(Arbitrary, Debug)]
struct Member {
    name: u8,
    bytes: Vec<u8>,
    as_text: Option<String>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    kty: Kty,
    crv: u8,
    members: Vec<Member>,
    kid: Option<String>,
    alg: Option<u8>,
    in_set: bool,
}

const NAMES: [&str; 16] = [
    "n", "e", "d", "p", "q", "dp", "dq", "qi", "x", "y", "k", "x5c", "x5t", "x5t#S256", "use", "key_ops",
];
const CURVES: [&str; 9] = ["P-256", "P-384", "P-521", "secp256k1", "Ed25519", "Ed448", "X25519", "X448", "P-192"];
const ALGS: [&str; 8] = ["RS256", "ES256", "ES512", "EdDSA", "HS256", "A128KW", "RSA", "dir"];

fuzz_target!(|input: Input| {
    let mut obj = serde_json_lite(&input);
    if input.in_set {
        obj = format!("{{\"keys\":[{obj}]}}");
    }
    let _ = jwk_core::import(obj.as_bytes(), &jwk_core::ImportOptions::default());
});

fn quote(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn serde_json_lite(input: &Input) -> String {
    let kty = match &input.kty {
        Kty::Rsa => "RSA".to_owned(),
        Kty::Ec => "EC".to_owned(),
        Kty::Okp => "OKP".to_owned(),
        Kty::Oct => "oct".to_owned(),
        Kty::Other(s) => s.clone(),
    };
    let mut parts = vec![format!("\"kty\":{}", quote(&kty))];
    parts.push(format!("\"crv\":{}", quote(CURVES[input.crv as usize % CURVES.len()])));
    for m in input.members.iter().take(12) {
        let name = NAMES[m.name as usize % NAMES.len()];
        let value = match &m.as_text {
            Some(t) => quote(t),
            None if name == "x5c" => format!("[{}]", quote(&base64ct::Base64::encode_string(&m.bytes))),
            None if name == "key_ops" => "[\"sign\",\"verify\"]".to_owned(),
            None => quote(&Base64UrlUnpadded::encode_string(&m.bytes)),
        };
        parts.push(format!("{}:{value}", quote(name)));
    }
    if let Some(kid) = &input.kid {
        parts.push(format!("\"kid\":{}", quote(kid)));
    }
    if let Some(a) = input.alg {
        parts.push(format!("\"alg\":{}", quote(ALGS[a as usize % ALGS.len()])));
    }
    format!("{{{}}}", parts.join(","))
}
