//! The engine and jsonwebtoken each verifying the same token N times, for
//! `valgrind --tool=callgrind` (instruction counts do not move with the machine's load,
//! unlike the criterion timings): `count <RS256|PS256|ES256|ES384|EdDSA|HS256> <N>`. Used by
//! benches/verify-count.sh, which reads the inclusive cost of `Verifier::verify` and of
//! `jsonwebtoken::decode` in one run (the same token for both: ECDSA signatures are
//! randomized, and their verification cost varies with the signature).

use std::hint::black_box;

use jsonwebtoken::{Algorithm as JAlg, Header};
use jwk_core::{EcCurve, Jwk, Key};
use jwk_verify::{KeySet, Verifier};
use serde_json::{Value, json};

// `generate` is not used here: the keys are fixed.
#[allow(dead_code)]
#[path = "../../../crates/jwk-verify/tests/support/peer_keys.rs"]
mod peer_keys;
use peer_keys::{decoding_key, encoding_key, public};

/// Fixed keys (so that the runs with N and with 0 tokens do the same setup): the RFC 7520
/// RSA key, the RFC 7517 P-256 key, a fixed P-384 scalar, the RFC 8037 Ed25519 key.
fn key(alg: &str) -> Jwk {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../testdata/vectors/rfc-vectors.json");
    let all: Vec<Value> = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let rfc = |rfc: &str, section: &str, kty: &str| {
        let mut jwk = all
            .iter()
            .find(|e| e["rfc"] == rfc && e["section"] == section && e["jwk"]["kty"] == kty)
            .unwrap()["jwk"]
            .clone();
        let o = jwk.as_object_mut().unwrap();
        o.remove("use");
        o.insert("kid".into(), json!("k"));
        jwk_core::select_from_json(&jwk.to_string(), None).unwrap()
    };
    match alg {
        "RS256" | "PS256" => rfc("RFC 7520", "3.4", "RSA"),
        "ES256" => rfc("RFC 7517", "A.2", "EC"),
        "ES384" => {
            let ec = jwk_core::EcKey::from_private(EcCurve::P384, &[7u8; 48], None).unwrap();
            let mut params = jwk_core::Parameters::default();
            params.kid = Some("k".into());
            Jwk::new(Key::Ec(ec), params)
        }
        "EdDSA" => rfc("RFC 8037", "A.1", "OKP"),
        "HS256" => {
            let k = json!({"kty": "oct", "kid": "k", "k": "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"});
            jwk_core::select_from_json(&k.to_string(), None).unwrap()
        }
        other => panic!("{other}"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (alg, n) = (args[1].as_str(), args[2].parse::<usize>().unwrap());
    let jalg = match alg {
        "RS256" => JAlg::RS256,
        "PS256" => JAlg::PS256,
        "ES256" => JAlg::ES256,
        "ES384" => JAlg::ES384,
        "EdDSA" => JAlg::EdDSA,
        "HS256" => JAlg::HS256,
        other => panic!("{other}"),
    };
    let jwk = key(alg);
    let claims = json!({
        "iss": "https://idp.example", "sub": "user-1234567890", "aud": "api",
        "iat": 1_700_000_000_i64, "exp": 4_000_000_000_i64,
        "scope": "orders:read orders:write", "jti": "b7c4f3a2-8d1e-4e5f-9a6b-0c1d2e3f4a5b"
    });
    let mut header = Header::new(jalg);
    header.kid = Some("k".to_owned());
    let token = jsonwebtoken::encode(&header, &claims, &encoding_key(&jwk)).unwrap();
    let keys = KeySet::new([public(&jwk)]);
    let verifier = Verifier::new().audience("api");
    // Warm-up outside both counted functions: the curve crates build their base-point
    // tables on first use, which would be charged to whichever library ran first.
    verifier.verify_jws(&token, &keys).unwrap();
    for _ in 0..=n {
        black_box(verifier.verify(black_box(&token), &keys).unwrap());
    }
    let decoding = decoding_key(&jwk);
    let mut validation = jsonwebtoken::Validation::new(jalg);
    validation.set_audience(&["api"]);
    for _ in 0..=n {
        black_box(jsonwebtoken::decode::<Value>(black_box(&token), &decoding, &validation).unwrap());
    }
}
