//! The product's algorithm policy, table by table.

use jwk_core::{ImportOptions, Jwk, Usage, check_algorithm, import, valid_algorithms};

fn key(json: &str) -> Jwk {
    import(json.as_bytes(), &ImportOptions::default()).expect("test key")
}

const RSA: &str = r#"{"kty":"RSA","n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw","e":"AQAB"}"#;
const P256: &str = r#"{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}"#;
const ED25519: &str =
    r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
const X25519: &str =
    r#"{"kty":"OKP","crv":"X25519","x":"hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}"#;
// 64-, 32- and 16-byte symmetric keys.
const OCT512: &str = r#"{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}"#;
const OCT256: &str = r#"{"kty":"oct","k":"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"}"#;
const OCT128: &str = r#"{"kty":"oct","k":"GawgguFyGrWKav7AX4VKUg"}"#;

#[test]
fn the_product_table_by_key_type_and_use() {
    let cases: &[(&str, Usage, &[&str])] = &[
        (
            RSA,
            Usage::Signature,
            &["RS256", "RS384", "RS512", "PS256", "PS384", "PS512"],
        ),
        (
            RSA,
            Usage::Encryption,
            &[
                "RSA1_5",
                "RSA-OAEP",
                "RSA-OAEP-256",
                "RSA-OAEP-384",
                "RSA-OAEP-512",
            ],
        ),
        (P256, Usage::Signature, &["ES256"]),
        (
            P256,
            Usage::Encryption,
            &[
                "ECDH-ES",
                "ECDH-ES+A128KW",
                "ECDH-ES+A192KW",
                "ECDH-ES+A256KW",
                "ECDH-1PU",
                "ECDH-1PU+A128KW",
                "ECDH-1PU+A192KW",
                "ECDH-1PU+A256KW",
            ],
        ),
        (ED25519, Usage::Signature, &["EdDSA"]),
        (ED25519, Usage::Encryption, &[]),
        (X25519, Usage::Signature, &[]),
        (
            X25519,
            Usage::Encryption,
            &[
                "ECDH-ES",
                "ECDH-ES+A128KW",
                "ECDH-ES+A192KW",
                "ECDH-ES+A256KW",
                "ECDH-1PU",
                "ECDH-1PU+A128KW",
                "ECDH-1PU+A192KW",
                "ECDH-1PU+A256KW",
            ],
        ),
        (OCT512, Usage::Signature, &["HS256", "HS384", "HS512"]),
        (
            OCT512,
            Usage::Encryption,
            &[
                "DIR",
                "PBES2-HS256+A128KW",
                "PBES2-HS384+A192KW",
                "PBES2-HS512+A256KW",
            ],
        ),
        (OCT256, Usage::Signature, &["HS256"]),
        (OCT128, Usage::Signature, &[]),
        (
            OCT256,
            Usage::Encryption,
            &[
                "A256KW",
                "A256GCMKW",
                "DIR",
                "PBES2-HS256+A128KW",
                "PBES2-HS384+A192KW",
                "PBES2-HS512+A256KW",
            ],
        ),
        (
            OCT128,
            Usage::Encryption,
            &[
                "A128KW",
                "A128GCMKW",
                "DIR",
                "PBES2-HS256+A128KW",
                "PBES2-HS384+A192KW",
                "PBES2-HS512+A256KW",
            ],
        ),
    ];
    for (json, usage, expected) in cases {
        let jwk = key(json);
        assert_eq!(
            &valid_algorithms(jwk.key(), *usage),
            expected,
            "{json} {usage:?}"
        );
        for alg in *expected {
            check_algorithm(jwk.key(), *usage, alg).unwrap();
        }
    }
}

#[test]
fn a_key_type_as_algorithm_gets_the_products_message() {
    for alg in ["RSA", "EC", "OCT", "oct", "OKP"] {
        let e = check_algorithm(key(RSA).key(), Usage::Signature, alg).unwrap_err();
        assert_eq!(e.code(), "policy.key_type_as_algorithm");
        assert_eq!(
            e.to_string(),
            "algorithm must be a valid algorithm name, not a key type"
        );
    }
}

#[test]
fn wrong_and_unknown_algorithms_say_what_is_valid() {
    let e = check_algorithm(key(P256).key(), Usage::Signature, "ES384").unwrap_err();
    assert_eq!(e.code(), "policy.algorithm_mismatch");
    assert_eq!(
        e.to_string(),
        "algorithm ES384 cannot be used with an EC P-256 key for SIGNATURE: ES384 needs an EC P-384 key; valid are ES256"
    );
    let e = check_algorithm(key(RSA).key(), Usage::Encryption, "RS256").unwrap_err();
    assert_eq!(
        e.to_string(),
        "algorithm RS256 cannot be used with an RSA key for ENCRYPTION: RS256 is a signature algorithm; valid are RSA1_5, RSA-OAEP, RSA-OAEP-256, RSA-OAEP-384, RSA-OAEP-512"
    );
    let e = check_algorithm(key(OCT128).key(), Usage::Signature, "HS256").unwrap_err();
    assert_eq!(
        e.to_string(),
        "algorithm HS256 cannot be used with a 128-bit oct key for SIGNATURE: HS256 needs an oct key of at least 256 bits, this key has 128; valid are none"
    );
    let e = check_algorithm(key(ED25519).key(), Usage::Signature, "Ed25519").unwrap_err();
    assert_eq!(e.code(), "policy.unknown_algorithm");
    assert_eq!(
        e.to_string(),
        "unknown algorithm \"Ed25519\": valid for an OKP Ed25519 key with SIGNATURE are EdDSA"
    );
}

#[test]
fn set_usage_checks_then_sets_use_and_alg() {
    let mut jwk = key(P256);
    jwk.set_usage(Usage::Signature, "ES256").unwrap();
    assert!(jwk.to_json().ends_with(r#""use":"sig","alg":"ES256"}"#));
    let mut jwk = key(P256);
    assert!(jwk.set_usage(Usage::Encryption, "ES256").is_err());
    assert_eq!(jwk.params().alg, None);
    assert_eq!(Usage::parse("SIGNATURE"), Some(Usage::Signature));
    assert_eq!(Usage::parse("enc"), Some(Usage::Encryption));
    assert_eq!(Usage::parse("signature"), None);
}

#[test]
fn dir_is_accepted_in_both_spellings() {
    let jwk = key(OCT128);
    check_algorithm(jwk.key(), Usage::Encryption, "DIR").unwrap();
    check_algorithm(jwk.key(), Usage::Encryption, "dir").unwrap();
}

/// Every refusal of an algorithm says why and what would be valid for this key.
#[test]
fn refusals_say_why_and_what_is_valid() {
    let cases = [
        (
            P256,
            Usage::Signature,
            "ES384",
            "ES384 needs an EC P-384 key; valid are ES256",
        ),
        (
            P256,
            Usage::Signature,
            "RS256",
            "RS256 needs an RSA key; valid are ES256",
        ),
        (
            P256,
            Usage::Signature,
            "ECDH-ES",
            "ECDH-ES is an encryption algorithm; valid are ES256",
        ),
        (
            RSA,
            Usage::Encryption,
            "RS256",
            "RS256 is a signature algorithm; valid are RSA1_5, RSA-OAEP, RSA-OAEP-256, RSA-OAEP-384, RSA-OAEP-512",
        ),
        (
            ED25519,
            Usage::Signature,
            "ES256",
            "ES256 needs an EC P-256 key; valid are EdDSA",
        ),
        (
            X25519,
            Usage::Signature,
            "EdDSA",
            "EdDSA needs an OKP Ed25519 or Ed448 key; valid are none",
        ),
        (
            RSA,
            Usage::Encryption,
            "ECDH-ES",
            "ECDH-ES needs an EC key or an OKP X25519 or X448 key; valid are RSA1_5, RSA-OAEP, RSA-OAEP-256, RSA-OAEP-384, RSA-OAEP-512",
        ),
        (
            OCT128,
            Usage::Signature,
            "HS256",
            "HS256 needs an oct key of at least 256 bits, this key has 128; valid are none",
        ),
        (
            OCT256,
            Usage::Encryption,
            "A128KW",
            "A128KW needs an oct key of exactly 128 bits, this key has 256; valid are A256KW, A256GCMKW, DIR, PBES2-HS256+A128KW, PBES2-HS384+A192KW, PBES2-HS512+A256KW",
        ),
        (
            OCT512,
            Usage::Signature,
            "ES256",
            "ES256 needs an EC P-256 key; valid are HS256, HS384, HS512",
        ),
    ];
    for (jwk, usage, alg, why) in cases {
        let key = key(jwk);
        let err = check_algorithm(key.key(), usage, alg).unwrap_err();
        assert_eq!(err.code(), "policy.algorithm_mismatch");
        let message = err.to_string();
        let (_, reason) = message.split_once(": ").unwrap();
        assert_eq!(reason, why, "{alg} with {jwk}");
    }
}
