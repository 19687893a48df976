//! Tokens signed by other implementations: jsonwebtoken (a dev-dependency, signing with keys
//! the engine generated) and jose for Node.js (testdata/jws/jose-node.json, made by
//! scripts/jose-vectors.mjs). The engine verifies each and refuses each once tampered; for
//! jsonwebtoken's tokens, both libraries agree on every variant.

use std::sync::Arc;

use jsonwebtoken::{Algorithm as JAlg, Header};
use jwk_core::{EcCurve, Jwk, KeySpec, OkpCurve};
use jwk_verify::{KeySet, VerificationKey, Verifier, VerifyError};
use serde_json::{Value, json};

#[path = "support/peer_keys.rs"]
mod peer_keys;
use peer_keys::{decoding_key, encoding_key};

const NOW: i64 = 1_800_000_100;

fn generate(spec: KeySpec, alg: &str) -> Jwk {
    peer_keys::generate(spec, alg, &format!("k-{alg}"))
}

fn cases() -> Vec<(JAlg, Jwk)> {
    let rsa = generate(KeySpec::Rsa { bits: 2048 }, "RS256");
    let hmac = generate(KeySpec::Oct { bits: 512 }, "HS512");
    vec![
        (JAlg::HS256, hmac.clone()),
        (JAlg::HS384, hmac.clone()),
        (JAlg::HS512, hmac),
        (JAlg::RS256, rsa.clone()),
        (JAlg::RS384, rsa.clone()),
        (JAlg::RS512, rsa.clone()),
        (JAlg::PS256, rsa.clone()),
        (JAlg::PS384, rsa.clone()),
        (JAlg::PS512, rsa),
        (JAlg::ES256, generate(KeySpec::Ec(EcCurve::P256), "ES256")),
        (JAlg::ES384, generate(KeySpec::Ec(EcCurve::P384), "ES384")),
        (
            JAlg::EdDSA,
            generate(KeySpec::Okp(OkpCurve::Ed25519), "EdDSA"),
        ),
    ]
}

fn claims() -> Value {
    json!({"sub": "alice", "aud": "engine", "iat": NOW - 100, "exp": NOW + 500, "scope": "read write"})
}

#[test]
fn tokens_signed_by_jsonwebtoken_verify_and_both_refuse_the_same_tampering() {
    let mut checked = Vec::new();
    for (alg, jwk) in cases() {
        let mut header = Header::new(alg);
        header.kid = jwk.params().kid.clone();
        let token = jsonwebtoken::encode(&header, &claims(), &encoding_key(&jwk)).unwrap();
        let keys = KeySet::new([peer_keys::public(&jwk)]);
        let ours = Verifier::new().at(NOW).audience("engine");
        let jwt = ours
            .verify(&token, &keys)
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(Value::Object(jwt.claims), claims(), "{alg:?}");

        let mut validation = jsonwebtoken::Validation::new(alg);
        validation.set_audience(&["engine"]);
        validation.validate_exp = false; // its clock is the real one; ours is fixed
        let theirs =
            |t: &str| jsonwebtoken::decode::<Value>(t, &decoding_key(&jwk), &validation).is_ok();
        assert!(theirs(&token), "{alg:?}");

        // Tampered: another payload under the same signature, a flipped signature byte,
        // the signature of another token.
        let (input, sig) = token.rsplit_once('.').unwrap();
        let (head, _) = input.split_once('.').unwrap();
        let other_payload = jwk_testkit::b64url(
            json!({"sub": "mallory", "aud": "engine", "exp": NOW + 500})
                .to_string()
                .as_bytes(),
        );
        let mut flipped = jwk_testkit::b64url_decode(sig);
        let last = flipped.len() - 1;
        flipped[last] ^= 0x01;
        let other = jsonwebtoken::encode(
            &header,
            &json!({"sub": "bob", "aud": "engine", "exp": NOW + 500}),
            &encoding_key(&jwk),
        )
        .unwrap();
        for bad in [
            format!("{head}.{other_payload}.{sig}"),
            format!("{input}.{}", jwk_testkit::b64url(&flipped)),
            format!("{input}.{}", other.rsplit_once('.').unwrap().1),
        ] {
            assert_eq!(
                ours.verify(&bad, &keys).unwrap_err(),
                VerifyError::BadSignature,
                "{alg:?}"
            );
            assert!(!theirs(&bad), "{alg:?}");
        }
        checked.push(format!("{alg:?}"));
    }
    assert_eq!(checked.len(), 12);
}

#[test]
fn tokens_signed_by_node_jose_verify() {
    let path = jwk_testkit::testdata().join("jws").join("jose-node.json");
    let file: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let tokens = file["tokens"].as_array().unwrap();
    let keys = KeySet::new(
        tokens
            .iter()
            .map(|t| jwk_core::select_from_json(&t["jwk"].to_string(), None).unwrap()),
    );
    let verifier = Verifier::new()
        .at(NOW)
        .issuer("https://jose.example")
        .audience("engine");
    let mut algs = Vec::new();
    for t in tokens {
        let token = t["token"].as_str().unwrap();
        let jwt = verifier
            .verify(token, &keys)
            .unwrap_or_else(|e| panic!("{}: {e}", t["alg"]));
        assert_eq!(Value::Object(jwt.claims.clone()), t["claims"]);
        assert_eq!(jwt.header.alg.as_str(), t["alg"].as_str().unwrap());
        let key = Arc::new(VerificationKey::new(Arc::new(
            jwk_core::select_from_json(&t["jwk"].to_string(), None).unwrap(),
        )));
        assert_eq!(jwt.thumbprint(), key.thumbprint());
        let (input, sig) = token.rsplit_once('.').unwrap();
        let mut sig = jwk_testkit::b64url_decode(sig);
        sig[0] ^= 0x80;
        let tampered = format!("{input}.{}", jwk_testkit::b64url(&sig));
        assert_eq!(
            verifier.verify(&tampered, &keys).unwrap_err(),
            VerifyError::BadSignature,
            "{}",
            t["alg"]
        );
        algs.push(t["alg"].as_str().unwrap().to_owned());
    }
    assert_eq!(
        algs,
        [
            "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512",
            "EdDSA", "Ed25519", "HS256", "HS384", "HS512"
        ]
    );
    assert_eq!(file["jose"], "6.2.18");
}
