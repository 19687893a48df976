//! `from_sealed_json`: what a registry reads back of the keys it checked and sealed gives
//! the same key as the full parse, for every kind of key; lengths and sizes are still
//! checked, and what it skips is exactly the consistency proof.

use jwk_core::{
    EcCurve, GenerateOptions, Jwk, KeySpec, KidType, OkpCurve, Usage, from_sealed_json, generate,
    import, select_from_json,
};

fn generated(spec: KeySpec, alg: &str, usage: Usage) -> Jwk {
    generate(&GenerateOptions {
        spec,
        usage,
        alg: alg.into(),
        kid: KidType::Explicit("k".into()),
    })
    .unwrap()
}

#[test]
fn sealed_keys_read_back_as_the_full_parse_reads_them() {
    let mut keys = vec![
        generated(KeySpec::Rsa { bits: 2048 }, "RS256", Usage::Signature),
        generated(KeySpec::Ec(EcCurve::P256), "ES256", Usage::Signature),
        generated(KeySpec::Ec(EcCurve::P384), "ES384", Usage::Signature),
        generated(KeySpec::Ec(EcCurve::P521), "ES512", Usage::Signature),
        generated(KeySpec::Ec(EcCurve::Secp256k1), "ES256K", Usage::Signature),
        generated(KeySpec::Okp(OkpCurve::Ed25519), "EdDSA", Usage::Signature),
        generated(KeySpec::Okp(OkpCurve::Ed448), "EdDSA", Usage::Signature),
        generated(KeySpec::Okp(OkpCurve::X25519), "ECDH-ES", Usage::Encryption),
        generated(KeySpec::Oct { bits: 256 }, "HS256", Usage::Signature),
    ];
    // Public halves, and a certificate's key with its x5c.
    let public: Vec<Jwk> = keys.iter().filter_map(Jwk::to_public).collect();
    keys.extend(public);
    let pem = std::fs::read("../../testdata/samples/p256-cert.pem").unwrap();
    keys.push(import(&pem, &jwk_core::ImportOptions::default()).unwrap());
    for key in keys {
        let json = key.to_json();
        let full = select_from_json(&json, None).unwrap();
        assert_eq!(from_sealed_json(&json).unwrap(), full, "{json}");
    }
}

#[test]
fn sealed_keys_still_have_their_lengths_and_sizes_checked() {
    let ec = generated(KeySpec::Ec(EcCurve::P256), "ES256", Usage::Signature);
    let mut value: serde_json::Value = serde_json::from_str(&ec.to_json()).unwrap();
    value["x"] = "AAAA".into();
    assert_eq!(
        from_sealed_json(&value.to_string())
            .unwrap_err()
            .to_string(),
        select_from_json(&value.to_string(), None)
            .unwrap_err()
            .to_string(),
        "a short coordinate is refused alike"
    );
    for (text, message) in [
        (r#"{"keys":[]}"#, "a sealed JWK is one JWK, not a set"),
        (
            r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#,
            "invalid RSA key: the modulus has 17 bits; at least 512 are required",
        ),
    ] {
        assert_eq!(from_sealed_json(text).unwrap_err().to_string(), message);
    }
}

/// What the sealed read skips: the proof that `d` and the public key belong together. A
/// key whose halves do not match is refused by the full parse only (the seal is what keeps
/// such a key out of a registry's store).
#[test]
fn the_sealed_read_skips_the_consistency_proof_only() {
    let a = generated(KeySpec::Ec(EcCurve::P256), "ES256", Usage::Signature);
    let b = generated(KeySpec::Ec(EcCurve::P256), "ES256", Usage::Signature);
    let mut mixed: serde_json::Value = serde_json::from_str(&a.to_json()).unwrap();
    let other: serde_json::Value = serde_json::from_str(&b.to_json()).unwrap();
    mixed["d"] = other["d"].clone();
    let text = mixed.to_string();
    assert_eq!(
        select_from_json(&text, None).unwrap_err().to_string(),
        "the private key does not match the public key: the public point is not d·G"
    );
    assert!(from_sealed_json(&text).is_ok());
}
