//! Property tests: JWK -> canonical JSON -> JWK is the identity, and a private key's public
//! part is consistent with the key.

use jwk_core::{
    EcCurve, EcKey, ImportOptions, Jwk, Key, KeyUse, OctKey, OkpCurve, OkpKey, Parameters, Secret,
    ThumbprintHash, import,
};
use proptest::prelude::*;

const EC_CURVES: [EcCurve; 4] = [
    EcCurve::P256,
    EcCurve::P384,
    EcCurve::P521,
    EcCurve::Secp256k1,
];
const OKP_CURVES: [OkpCurve; 4] = [
    OkpCurve::Ed25519,
    OkpCurve::Ed448,
    OkpCurve::X25519,
    OkpCurve::X448,
];

fn params() -> impl Strategy<Value = Parameters> {
    let text = "[ -~é\u{1F511}]{0,16}";
    (
        proptest::option::of(text),
        proptest::option::of(prop_oneof![
            Just(KeyUse::Sig),
            Just(KeyUse::Enc),
            "[a-z]{1,5}".prop_map(KeyUse::Other)
        ]),
        proptest::option::of(proptest::collection::btree_set("[a-zA-Z]{1,8}", 0..4)),
        proptest::option::of(text),
        proptest::collection::btree_map(
            "ext_[a-z0-9_]{0,6}",
            (any::<i32>(), text, any::<bool>()),
            0..3,
        ),
    )
        .prop_map(|(kid, key_use, ops, x5u, other)| Parameters {
            kid,
            key_use,
            key_ops: ops.map(|s| s.into_iter().collect()),
            alg: None,
            x5u,
            other: other
                .into_iter()
                .map(|(name, (n, s, b))| {
                    (
                        name,
                        serde_json::json!({"n": n, "s": s, "b": [b, null]}).to_string(),
                    )
                })
                .collect(),
            ..Parameters::default()
        })
}

fn reimport(text: &str) -> Result<Jwk, TestCaseError> {
    import(text.as_bytes(), &ImportOptions::default())
        .map_err(|e| TestCaseError::fail(format!("{}: {e}\n{text}", e.code())))
}

/// The two properties, for any key. A failure is returned, not panicked, so that a failing
/// property prints one message (the shrunk case), not a panic line per shrinking step.
fn check(jwk: &Jwk) -> Result<(), TestCaseError> {
    let json = jwk.to_json();
    let back = reimport(&json)?;
    prop_assert_eq!(&back, jwk);
    prop_assert_eq!(back.to_json(), json, "canonical JSON is a fixed point");
    let disclosable = jwk.to_disclosable_json();
    prop_assert!(!disclosable.contains(r#""d":"#) && !disclosable.contains(r#""k":"#));
    let Some(public_json) = jwk.to_public_json() else {
        // An oct key has no public form; what may be shown of it is kty and the parameters.
        prop_assert!(matches!(jwk.key(), Key::Oct(_)));
        prop_assert!(
            disclosable.starts_with(r#"{"kty":"oct""#),
            "{}",
            disclosable
        );
        return Ok(());
    };
    prop_assert_eq!(&disclosable, &public_json);
    let public = reimport(&public_json)?;
    prop_assert_eq!(public.to_json(), public_json.as_str());
    prop_assert!(!public.is_private());
    for hash in [
        ThumbprintHash::Sha1,
        ThumbprintHash::Sha256,
        ThumbprintHash::Sha384,
        ThumbprintHash::Sha512,
    ] {
        prop_assert_eq!(public.thumbprint(hash), jwk.thumbprint(hash));
    }
    Ok(())
}

/// 96 cases each; no `*.proptest-regressions` file is written into the tree: a failure prints
/// its minimal case, which becomes an explicit regression test.
fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn ec_keys_round_trip(curve in 0..4usize, seed in proptest::collection::vec(any::<u8>(), 66), params in params()) {
        let curve = EC_CURVES[curve];
        let key = EcKey::from_private(curve, &seed[..curve.field_len()], None);
        prop_assume!(key.is_ok());
        check(&Jwk::new(Key::Ec(key.unwrap()), params))?;
    }

    #[test]
    fn okp_keys_round_trip(curve in 0..4usize, seed in proptest::collection::vec(any::<u8>(), 57), params in params()) {
        let curve = OKP_CURVES[curve];
        let key = OkpKey::from_private(curve, &seed[..curve.private_len()], None)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        check(&Jwk::new(Key::Okp(key), params))?;
    }

    #[test]
    fn oct_keys_round_trip(k in proptest::collection::vec(any::<u8>(), 1..80), params in params()) {
        let key = OctKey::new(Secret::new(k)).map_err(|e| TestCaseError::fail(e.to_string()))?;
        check(&Jwk::new(Key::Oct(key), params))?;
    }

    #[test]
    fn rsa_keys_round_trip(index in 0..131usize, params in params()) {
        let vectors = rsa_private_keys()?;
        prop_assert_eq!(vectors.len(), 131, "the RSA private keys of wycheproof-keys.json");
        let mut jwk = reimport(&vectors[index])?;
        *jwk.params_mut() = params;
        check(&jwk)?;
    }
}

/// The 131 RSA private keys of wycheproof-keys.json, read once (an unreadable file is one
/// error, reported by every case without a panic).
fn rsa_private_keys() -> Result<&'static [String], TestCaseError> {
    static KEYS: std::sync::OnceLock<Result<Vec<String>, String>> = std::sync::OnceLock::new();
    let keys = KEYS.get_or_init(|| {
        let vectors = jwk_testkit::try_vectors("wycheproof-keys.json")?;
        let all = vectors
            .as_array()
            .ok_or("wycheproof-keys.json is not an array")?;
        Ok(all
            .iter()
            .filter(|v| v["kty"] == "RSA" && v["private"] == true)
            .map(|v| v["jwk"].to_string())
            .collect())
    });
    keys.as_deref().map_err(|e| TestCaseError::fail(e.as_str()))
}
