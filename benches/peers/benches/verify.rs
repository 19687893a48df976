//! Token verification: jwk-verify against jsonwebtoken 12 (rust_crypto), on the same tokens
//! (signed by jsonwebtoken with keys jwk-core generated) and the same checks: signature,
//! `exp` with a 60 s leeway, claims decoded to a JSON map.
//!
//! - `engine`: a `Verifier` over a `KeySet` (the key selected by kid; its verification key
//!   made once, as the resolver does per snapshot).
//! - `engine_cold`: the same with the verification key made for every token (what a caller
//!   pays who builds a `VerificationKey` per request).
//! - `jsonwebtoken`: `decode::<Value>` with a `DecodingKey` made once from the JWK (it parses
//!   the public key on every call, by design).

use std::hint::black_box;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm as JAlg, Header};
use jwk_core::{EcCurve, Jwk, KeySpec, OkpCurve};
use jwk_verify::{KeySet, VerificationKey, Verifier};
use serde_json::{Value, json};

#[path = "../../../crates/jwk-verify/tests/support/peer_keys.rs"]
mod peer_keys;
use peer_keys::{decoding_key, encoding_key, public};

fn generate(spec: KeySpec, alg: &str) -> Jwk {
    peer_keys::generate(spec, alg, "k")
}

fn benches(c: &mut Criterion) {
    let claims = json!({
        "iss": "https://idp.example", "sub": "user-1234567890", "aud": "api",
        "iat": 1_700_000_000_i64, "exp": 4_000_000_000_i64,
        "scope": "orders:read orders:write", "jti": "b7c4f3a2-8d1e-4e5f-9a6b-0c1d2e3f4a5b"
    });
    let rsa = generate(KeySpec::Rsa { bits: 2048 }, "RS256");
    let cases = [
        ("RS256", JAlg::RS256, rsa.clone()),
        ("PS256", JAlg::PS256, rsa),
        ("ES256", JAlg::ES256, generate(KeySpec::Ec(EcCurve::P256), "ES256")),
        ("ES384", JAlg::ES384, generate(KeySpec::Ec(EcCurve::P384), "ES384")),
        ("EdDSA", JAlg::EdDSA, generate(KeySpec::Okp(OkpCurve::Ed25519), "EdDSA")),
        ("HS256", JAlg::HS256, generate(KeySpec::Oct { bits: 256 }, "HS256")),
    ];
    let mut g = c.benchmark_group("verify");
    for (name, alg, jwk) in cases {
        let mut header = Header::new(alg);
        header.kid = Some("k".to_owned());
        let token = jsonwebtoken::encode(&header, &claims, &encoding_key(&jwk)).unwrap();

        let keys = KeySet::new([public(&jwk)]);
        let verifier = Verifier::new().audience("api");
        assert_eq!(Value::Object(verifier.verify(&token, &keys).unwrap().claims), claims);
        g.bench_function(format!("{name}/engine"), |b| {
            b.iter(|| verifier.verify(black_box(&token), &keys).unwrap())
        });
        let public_jwk = Arc::new(public(&jwk));
        g.bench_function(format!("{name}/engine_cold"), |b| {
            b.iter(|| {
                let key = Arc::new(VerificationKey::new(public_jwk.clone()));
                verifier.verify_with_key(black_box(&token), &key).unwrap()
            })
        });

        let decoding = decoding_key(&jwk);
        let mut validation = jsonwebtoken::Validation::new(alg);
        validation.set_audience(&["api"]);
        assert!(jsonwebtoken::decode::<Value>(&token, &decoding, &validation).is_ok());
        g.bench_function(format!("{name}/jsonwebtoken"), |b| {
            b.iter(|| jsonwebtoken::decode::<Value>(black_box(&token), &decoding, &validation).unwrap())
        });
    }
    g.finish();
}

criterion_group!(verify, benches);
criterion_main!(verify);
