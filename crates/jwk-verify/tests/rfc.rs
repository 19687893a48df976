//! The JWS examples of RFC 7515 Appendix A, RFC 7520 section 4 and RFC 8037 Appendix A.4
//! (testdata/jws/rfc-jws.json, provenance in its README).

use std::sync::Arc;

use jwk_verify::{KeySet, VerificationKey, Verifier, VerifyError};
use serde_json::{Value, json};

fn vectors() -> Vec<Value> {
    let path = jwk_testkit::testdata().join("jws").join("rfc-jws.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn jwk(value: &Value) -> jwk_core::Jwk {
    jwk_core::select_from_json(&value.to_string(), None).unwrap()
}

fn vector(rfc: &str, section: &str) -> Value {
    vectors()
        .into_iter()
        .find(|v| v["rfc"] == rfc && v["section"] == section)
        .unwrap()
}

const FRODO: &str = "It\u{2019}s a dangerous business, Frodo, going out your door. You step onto the road, and if you don't keep your feet, there\u{2019}s no knowing where you might be swept off to.";

#[test]
fn every_signed_example_verifies_with_its_key_and_none_is_refused() {
    let mut verified = Vec::new();
    for v in vectors() {
        let token = v["token"].as_str().unwrap();
        let name = format!(
            "{} {}",
            v["rfc"].as_str().unwrap(),
            v["section"].as_str().unwrap()
        );
        if v["alg"] == "none" {
            let any = Arc::new(VerificationKey::new(Arc::new(jwk(&vector(
                "RFC 7520", "4.4",
            )["jwk"]))));
            let err = Verifier::new()
                .verify_jws_with_key(token, &any)
                .unwrap_err();
            assert_eq!(
                (err.code(), err.to_string().as_str()),
                (
                    "jws.alg_none",
                    "the token is unsecured (alg none) and is refused"
                )
            );
            verified.push(format!("{name} refused"));
            continue;
        }
        let key = Arc::new(VerificationKey::new(Arc::new(jwk(&v["jwk"]))));
        let jws = Verifier::new()
            .verify_jws_with_key(token, &key)
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(
            jws.header.alg.as_str(),
            v["alg"].as_str().unwrap(),
            "{name}"
        );
        // One changed signature byte fails.
        let (head, sig) = token.rsplit_once('.').unwrap();
        let mut bytes = jwk_testkit::b64url_decode(sig);
        bytes[0] ^= 1;
        let tampered = format!("{head}.{}", jwk_testkit::b64url(&bytes));
        assert_eq!(
            Verifier::new()
                .verify_jws_with_key(&tampered, &key)
                .unwrap_err(),
            VerifyError::BadSignature,
            "{name}"
        );
        verified.push(format!(
            "{name} {}",
            String::from_utf8_lossy(&jws.payload)
                .chars()
                .take(12)
                .collect::<String>()
        ));
    }
    assert_eq!(
        verified,
        [
            "RFC 7515 A.1 {\"iss\":\"joe\"",
            "RFC 7515 A.2 {\"iss\":\"joe\"",
            "RFC 7515 A.3 {\"iss\":\"joe\"",
            "RFC 7515 A.4 Payload",
            "RFC 7515 A.5 refused",
            "RFC 7520 4.1 It’s a dange",
            "RFC 7520 4.2 It’s a dange",
            "RFC 7520 4.3 It’s a dange",
            "RFC 7520 4.4 It’s a dange",
            "RFC 8037 A.4 Example of E",
        ]
    );
}

#[test]
fn rfc_7515_a1_is_a_jwt_valid_until_its_exp() {
    let v = vector("RFC 7515", "A.1");
    let key = Arc::new(VerificationKey::new(Arc::new(jwk(&v["jwk"]))));
    let token = v["token"].as_str().unwrap();
    let jwt = Verifier::new()
        .at(1_300_819_379)
        .verify_with_key(token, &key)
        .unwrap();
    assert_eq!(
        Value::Object(jwt.claims.clone()),
        json!({"iss": "joe", "exp": 1_300_819_380, "http://example.com/is_root": true})
    );
    assert_eq!(jwt.header.typ.as_deref(), Some("JWT"));
    assert_eq!(jwt.thumbprint(), key.thumbprint());
    // Within the default 60 s leeway, then past it.
    assert!(
        Verifier::new()
            .at(1_300_819_439)
            .verify_with_key(token, &key)
            .is_ok()
    );
    let err = Verifier::new()
        .at(1_300_819_440)
        .verify_with_key(token, &key)
        .unwrap_err();
    assert_eq!(
        (err.code(), err.to_string()),
        (
            "jwt.expired",
            "the token expired at 1300819380 (now 1300819440, leeway 60 s)".to_owned()
        )
    );
}

/// RFC 7520 gives its RSA and its P-521 key the same kid: the set picks the one that
/// verifies the token's algorithm, and checks one signature.
#[test]
fn rfc_7520_tokens_find_their_key_by_kid_in_one_set() {
    let keys = KeySet::new([
        jwk(&vector("RFC 7520", "4.1")["jwk"]),
        jwk(&vector("RFC 7520", "4.3")["jwk"]),
        jwk(&vector("RFC 7520", "4.4")["jwk"]),
    ]);
    assert_eq!(keys.len(), 3);
    for section in ["4.1", "4.2", "4.3", "4.4"] {
        let v = vector("RFC 7520", section);
        let jws = Verifier::new()
            .verify_jws(v["token"].as_str().unwrap(), &keys)
            .unwrap();
        assert_eq!(String::from_utf8(jws.payload).unwrap(), FRODO, "{section}");
        assert_eq!(
            jws.key.jwk().key().key_type().as_str(),
            match section {
                "4.3" => "EC",
                "4.4" => "oct",
                _ => "RSA",
            }
        );
    }
}
