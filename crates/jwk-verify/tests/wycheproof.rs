//! Project Wycheproof signature and MAC vectors (testdata/wycheproof-signatures, with
//! provenance in its README) through the verifier's key: every `valid` vector verifies,
//! every `invalid` one is refused with `jws.bad_signature`; `acceptable` ones are counted.

use std::sync::Arc;

use jwk_verify::{Algorithm, VerificationKey, VerifyError};
use serde_json::Value;

fn hex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).unwrap())
        .collect()
}

fn load(name: &str) -> Value {
    let path = jwk_testkit::testdata()
        .join("wycheproof-signatures")
        .join(name);
    serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap()
}

fn key_of(jwk: &Value) -> Arc<VerificationKey> {
    // Wycheproof's JWKs carry "kid": "none"; the key's own alg (PS256...) is kept.
    let jwk = jwk_core::select_from_json(&jwk.to_string(), None).unwrap();
    Arc::new(VerificationKey::new(Arc::new(jwk)))
}

/// An EC group's key from its uncompressed point (groups whose point has no JWK form in
/// Wycheproof's own files: coordinates with leading zero bytes).
fn ec_jwk(public: &Value) -> Value {
    let point = hex(public["uncompressed"].as_str().unwrap());
    let half = (point.len() - 1) / 2;
    let crv = match public["curve"].as_str().unwrap() {
        "secp256r1" => "P-256",
        "secp384r1" => "P-384",
        "secp521r1" => "P-521",
        "secp256k1" => "secp256k1",
        other => panic!("{other}"),
    };
    serde_json::json!({
        "kty": "EC",
        "crv": crv,
        "x": jwk_testkit::b64url(&point[1..1 + half]),
        "y": jwk_testkit::b64url(&point[1 + half..]),
    })
}

#[derive(Debug, Default, PartialEq, Eq)]
struct Counts {
    valid: usize,
    invalid: usize,
    acceptable: usize,
}

/// Runs every test of `name` whose key the group gives as a JWK, with `alg`.
fn run(name: &str, alg: Algorithm, jwk_member: &str) -> Counts {
    let file = load(name);
    let mut counts = Counts::default();
    for group in file["testGroups"].as_array().unwrap() {
        let key = match &group[jwk_member] {
            Value::Null => key_of(&ec_jwk(&group["publicKey"])),
            jwk => key_of(jwk),
        };
        assert_eq!(key.unusable_reason(), None, "{name}");
        for test in group["tests"].as_array().unwrap() {
            let (msg, sig) = (
                hex(test["msg"].as_str().unwrap()),
                hex(test["sig"].as_str().unwrap()),
            );
            counts.record(name, test, key.verify(alg, &msg, &sig, 2048));
        }
    }
    counts
}

impl Counts {
    /// Checks a vector's outcome against its expected result (a `valid` vector verifies, an
    /// `invalid` one is refused with `jws.bad_signature`) and counts it.
    fn record(&mut self, file: &str, test: &Value, got: Result<(), VerifyError>) {
        let context = format!("{file} tcId {} {}", test["tcId"], test["comment"]);
        match test["result"].as_str().unwrap() {
            "valid" => {
                assert_eq!(got, Ok(()), "{context}");
                self.valid += 1;
            }
            "invalid" => {
                assert_eq!(got, Err(VerifyError::BadSignature), "{context}");
                self.invalid += 1;
            }
            _ => self.acceptable += 1,
        }
    }
}

fn counts(valid: usize, invalid: usize, acceptable: usize) -> Counts {
    Counts {
        valid,
        invalid,
        acceptable,
    }
}

#[test]
fn ecdsa_p1363_vectors() {
    assert_eq!(
        run(
            "ecdsa_secp256r1_sha256_p1363_test.json",
            Algorithm::Es256,
            "publicKeyJwk"
        ),
        counts(173, 89, 0)
    );
    assert_eq!(
        run(
            "ecdsa_secp384r1_sha384_p1363_test.json",
            Algorithm::Es384,
            "publicKeyJwk"
        ),
        counts(193, 87, 0)
    );
    assert_eq!(
        run(
            "ecdsa_secp521r1_sha512_p1363_test.json",
            Algorithm::Es512,
            "publicKeyJwk"
        ),
        counts(231, 87, 0)
    );
    assert_eq!(
        run(
            "ecdsa_secp256k1_sha256_p1363_test.json",
            Algorithm::Es256k,
            "publicKeyJwk"
        ),
        counts(167, 85, 0)
    );
}

#[test]
fn eddsa_vectors() {
    assert_eq!(
        run("ed25519_test.json", Algorithm::EdDsa, "publicKeyJwk"),
        counts(88, 63, 0)
    );
    assert_eq!(
        run("ed25519_test.json", Algorithm::Ed25519, "publicKeyJwk"),
        counts(88, 63, 0)
    );
    assert_eq!(
        run("ed448_test.json", Algorithm::Ed448, "publicKeyJwk"),
        counts(17, 70, 0)
    );
}

#[test]
fn rsa_pkcs1_vectors() {
    assert_eq!(
        run(
            "rsa_signature_2048_sha256_test.json",
            Algorithm::Rs256,
            "keyJwk"
        ),
        counts(9, 249, 1)
    );
    assert_eq!(
        run(
            "rsa_signature_3072_sha384_test.json",
            Algorithm::Rs384,
            "keyJwk"
        ),
        counts(7, 251, 1)
    );
    assert_eq!(
        run(
            "rsa_signature_4096_sha512_test.json",
            Algorithm::Rs512,
            "keyJwk"
        ),
        counts(7, 251, 1)
    );
}

#[test]
fn rsa_pss_vectors() {
    assert_eq!(
        run(
            "rsa_pss_2048_sha256_mgf1_32_test.json",
            Algorithm::Ps256,
            "publicKeyJwk"
        ),
        counts(63, 45, 0)
    );
    assert_eq!(
        run(
            "rsa_pss_3072_sha256_mgf1_32_test.json",
            Algorithm::Ps256,
            "publicKeyJwk"
        ),
        counts(63, 45, 0)
    );
    assert_eq!(
        run(
            "rsa_pss_4096_sha512_mgf1_64_test.json",
            Algorithm::Ps512,
            "publicKeyJwk"
        ),
        counts(132, 47, 0)
    );
}

/// HMAC groups with a full-length tag (JWS never truncates) and a key at least as long as
/// the hash (RFC 7518 §3.2); shorter keys are refused as unusable.
fn run_hmac(name: &str, alg: Algorithm, hash_bits: u64) -> (Counts, usize) {
    let file = load(name);
    let mut counts = Counts::default();
    let mut short_keys = 0;
    for group in file["testGroups"].as_array().unwrap() {
        if group["tagSize"].as_u64() != Some(hash_bits) {
            continue;
        }
        for test in group["tests"].as_array().unwrap() {
            let k = hex(test["key"].as_str().unwrap());
            let jwk = serde_json::json!({"kty": "oct", "k": jwk_testkit::b64url(&k)});
            let key = key_of(&jwk);
            let (msg, tag) = (
                hex(test["msg"].as_str().unwrap()),
                hex(test["tag"].as_str().unwrap()),
            );
            let got = key.verify(alg, &msg, &tag, 2048);
            if (k.len() as u64) * 8 < hash_bits {
                assert!(
                    matches!(
                        &got,
                        Err(VerifyError::KeyUnusable { .. })
                            | Err(VerifyError::AlgorithmMismatch { .. })
                    ),
                    "{name} tcId {}: {got:?}",
                    test["tcId"]
                );
                short_keys += 1;
                continue;
            }
            counts.record(name, test, got);
        }
    }
    (counts, short_keys)
}

#[test]
fn hmac_vectors() {
    assert_eq!(
        run_hmac("hmac_sha256_test.json", Algorithm::Hs256, 256),
        (counts(30, 54, 0), 3)
    );
    assert_eq!(
        run_hmac("hmac_sha384_test.json", Algorithm::Hs384, 384),
        (counts(30, 54, 0), 3)
    );
    assert_eq!(
        run_hmac("hmac_sha512_test.json", Algorithm::Hs512, 512),
        (counts(30, 54, 0), 3)
    );
}
