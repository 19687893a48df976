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

fn reimport(text: &str) -> Jwk {
    import(text.as_bytes(), &ImportOptions::default())
        .unwrap_or_else(|e| panic!("{}: {e}\n{text}", e.code()))
}

/// The two properties, for any key.
fn check(jwk: &Jwk) {
    let json = jwk.to_json();
    let back = reimport(&json);
    assert_eq!(&back, jwk);
    assert_eq!(back.to_json(), json, "canonical JSON is a fixed point");
    let public_json = jwk.to_public_json();
    let public = reimport(&public_json);
    assert_eq!(public.to_json(), public_json);
    if !matches!(jwk.key(), Key::Oct(_)) {
        assert!(!public.is_private());
        assert!(!public_json.contains(r#""d":"#));
    }
    for hash in [
        ThumbprintHash::Sha1,
        ThumbprintHash::Sha256,
        ThumbprintHash::Sha384,
        ThumbprintHash::Sha512,
    ] {
        assert_eq!(public.thumbprint(hash), jwk.thumbprint(hash));
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn ec_keys_round_trip(curve in 0..4usize, seed in proptest::collection::vec(any::<u8>(), 66), params in params()) {
        let curve = EC_CURVES[curve];
        let key = EcKey::from_private(curve, &seed[..curve.field_len()], None);
        prop_assume!(key.is_ok());
        check(&Jwk::new(Key::Ec(key.unwrap()), params));
    }

    #[test]
    fn okp_keys_round_trip(curve in 0..4usize, seed in proptest::collection::vec(any::<u8>(), 57), params in params()) {
        let curve = OKP_CURVES[curve];
        let key = OkpKey::from_private(curve, &seed[..curve.private_len()], None).unwrap();
        check(&Jwk::new(Key::Okp(key), params));
    }

    #[test]
    fn oct_keys_round_trip(k in proptest::collection::vec(any::<u8>(), 1..80), params in params()) {
        check(&Jwk::new(Key::Oct(OctKey::new(Secret::new(k)).unwrap()), params));
    }

    #[test]
    fn rsa_keys_round_trip(index in 0..131usize, params in params()) {
        let vectors = rsa_private_keys();
        let mut jwk = reimport(&vectors[index]);
        *jwk.params_mut() = params;
        check(&jwk);
    }
}

fn rsa_private_keys() -> &'static [String] {
    static KEYS: std::sync::OnceLock<Vec<String>> = std::sync::OnceLock::new();
    KEYS.get_or_init(|| {
        jwk_testkit::shared_vectors("wycheproof-keys.json")
            .as_array()
            .expect("array")
            .iter()
            .filter(|v| v["kty"] == "RSA" && v["private"] == true)
            .map(|v| v["jwk"].to_string())
            .collect()
    })
}
