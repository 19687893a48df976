//! The public test vectors in testdata/vectors: RFC examples and Wycheproof keys.

use base64ct::{Base64, Encoding};
use jwk_core::{ImportOptions, Jwk, ThumbprintHash, import};
use jwk_testkit::vectors;
use serde_json::Value;

/// The key-material members of a JWK (everything but kid/alg/use/...), as canonical JSON.
fn material(jwk: &Jwk) -> String {
    let mut bare = jwk.clone();
    *bare.params_mut() = Default::default();
    bare.to_json()
}

fn import_str(text: &str) -> Jwk {
    import(text.as_bytes(), &ImportOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e}\n{text}", e.code()))
}

#[test]
fn rfc_examples_have_their_exact_thumbprints() {
    let vectors = vectors("rfc-vectors.json");
    let vectors = vectors.as_array().expect("array");
    assert_eq!(vectors.len(), 16);
    for v in vectors {
        let text = v["jwk"].to_string();
        let jwk = import_str(&text);
        assert_eq!(
            jwk.thumbprint(ThumbprintHash::Sha256),
            v["thumbprint_sha256"].as_str().expect("thumbprint"),
            "{} {} {}",
            v["rfc"],
            v["section"],
            v["description"]
        );
    }
}

#[test]
fn rfc_examples_round_trip_through_canonical_json() {
    let vectors = vectors("rfc-vectors.json");
    for v in vectors.as_array().expect("array") {
        let jwk = import_str(&v["jwk"].to_string());
        let canonical = jwk.to_json();
        let again = import_str(&canonical);
        assert_eq!(again.to_json(), canonical, "{}", v["description"]);
        // Every member of the RFC text survives with its exact value.
        let parsed: Value = serde_json::from_str(&canonical).expect("canonical JSON parses");
        for (name, value) in v["jwk"].as_object().expect("object") {
            assert_eq!(&parsed[name], value, "{} member {name}", v["description"]);
        }
    }
}

#[test]
fn rfc_7638_published_thumbprint() {
    let jwk = import_str(
        r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#,
    );
    assert_eq!(
        jwk.thumbprint(ThumbprintHash::Sha256),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn rfc_8037_published_thumbprint() {
    let jwk = import_str(
        r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
    );
    assert_eq!(
        jwk.thumbprint(ThumbprintHash::Sha256),
        "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    );
}

#[test]
fn every_wycheproof_key_imports_from_pem_and_der_to_its_jwk() {
    let vectors = vectors("wycheproof-keys.json");
    let vectors = vectors.as_array().expect("array");
    assert_eq!(vectors.len(), 1321);
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for (i, v) in vectors.iter().enumerate() {
        let label = format!("#{i} {} {} {}", v["source_file"], v["kty"], v["crv"]);
        let expected = import_str(&v["jwk"].to_string());
        let pem = import_str(v["pem"].as_str().expect("pem"));
        let der = Base64::decode_vec(v["der_b64"].as_str().expect("der")).expect("base64");
        let der =
            import(&der, &ImportOptions::default()).unwrap_or_else(|e| panic!("{label} DER: {e}"));
        assert_eq!(material(&pem), material(&expected), "{label} PEM");
        assert_eq!(material(&der), material(&expected), "{label} DER");
        let t = expected.thumbprint(ThumbprintHash::Sha256);
        assert_eq!(pem.thumbprint(ThumbprintHash::Sha256), t, "{label}");
        assert_eq!(der.thumbprint(ThumbprintHash::Sha256), t, "{label}");
        let kind = format!(
            "{} {} {}",
            v["kty"].as_str().unwrap_or(""),
            v["crv"].as_str().unwrap_or(""),
            if v["private"].as_bool() == Some(true) {
                "private"
            } else {
                "public"
            }
        );
        *counts.entry(kind).or_default() += 1;
    }
    let summary: Vec<String> = counts.iter().map(|(k, n)| format!("{k}: {n}")).collect();
    assert_eq!(
        summary,
        [
            "EC P-256 public: 285",
            "EC P-384 public: 265",
            "EC P-521 public: 187",
            "EC secp256k1 public: 366",
            "OKP Ed25519 public: 52",
            "OKP Ed448 public: 9",
            "RSA  private: 131",
            "RSA  public: 26",
        ]
    );
}
