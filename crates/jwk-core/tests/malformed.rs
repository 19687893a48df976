//! Bad input: every case gets its own stable code and a message a person can act on.

use jwk_core::{ImportOptions, import};
use jwk_testkit::{openssl, read, temp_dir};

// RFC 7517 Appendix A.2.
const EC_X: &str = "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4";
const EC_Y: &str = "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM";
const EC_D: &str = "870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE";

fn err(input: &[u8]) -> (String, String) {
    match import(input, &ImportOptions::default()) {
        Ok(jwk) => panic!("expected an error, got a {:?} key", jwk.key().key_type()),
        Err(e) => (e.code().to_owned(), e.to_string()),
    }
}

fn ec(members: &str) -> String {
    format!(r#"{{"kty":"EC","crv":"P-256",{members}}}"#)
}

#[test]
fn malformed_inputs_have_exact_codes_and_messages() {
    let cases: Vec<(String, &str, &str)> = vec![
        (
            "".into(),
            "input.empty",
            "the input is empty: give a PEM, DER, PKCS#12 or JSON (JWK / JWK Set) document",
        ),
        (
            "  \n\t".into(),
            "input.empty",
            "the input is empty: give a PEM, DER, PKCS#12 or JSON (JWK / JWK Set) document",
        ),
        (
            "hello world".into(),
            "input.unrecognized",
            "the input is not PEM, DER or JSON: expected a certificate, a public or private key, or a JWK / JWK Set",
        ),
        (
            "-----BEGIN CERTIFICATE REQUEST-----\nMAA=\n-----END CERTIFICATE REQUEST-----\n".into(),
            "pem.no_key",
            "no key or certificate found in the PEM input (blocks seen: CERTIFICATE REQUEST)",
        ),
        (
            "text -----BEGIN but no block".into(),
            "pem.no_key",
            "no key or certificate found in the PEM input (no PEM blocks at all)",
        ),
        (
            "-----BEGIN PUBLIC KEY-----\n!!!!\n-----END PUBLIC KEY-----\n".into(),
            "pem.malformed",
            "PEM block \"PUBLIC KEY\" is malformed: its body is not valid base64",
        ),
        (
            "-----BEGIN PUBLIC KEY-----\nMAA=\n".into(),
            "pem.malformed",
            "PEM block \"PUBLIC KEY\" is malformed: no \"-----END PUBLIC KEY-----\" line",
        ),
        (
            "-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PRIVATE KEY-----\n".into(),
            "pem.malformed",
            "PEM block \"PUBLIC KEY\" is malformed: it ends with \"-----END PRIVATE KEY-----\"",
        ),
        (
            "-----BEGIN PUBLIC KEY-----\nMAA=\n-----END PUBLIC KEY-----\n".into(),
            "der.malformed",
            "SubjectPublicKeyInfo is malformed DER: ASN.1 DER message is incomplete: expected 3, actual 2 at DER byte 2",
        ),
        (
            "{".into(),
            "json.invalid",
            "invalid JSON: EOF while parsing an object at line 1 column 1",
        ),
        (
            "{}".into(),
            "jwk.not_a_jwk",
            "the JSON object has no \"kty\" member, so it is not a JWK",
        ),
        ("[]".into(), "jwks.empty", "the JWK Set has no keys"),
        (
            r#"{"keys":{}}"#.into(),
            "jwk.not_a_jwk",
            "the \"keys\" member of a JWK Set must be an array",
        ),
        (
            r#"{"kty":"RSA","kty":"EC"}"#.into(),
            "jwk.duplicate_member",
            "JWK member \"kty\" appears more than once",
        ),
        (
            r#"{"kty":"DSA"}"#.into(),
            "jwk.unsupported_kty",
            "unsupported kty \"DSA\": supported are RSA, EC, OKP and oct",
        ),
        (
            r#"{"kty":7}"#.into(),
            "jwk.invalid_member",
            "JWK member \"kty\" is invalid: it must be a JSON string",
        ),
        (
            r#"{"kty":"EC","crv":"P-192","x":"AA","y":"AA"}"#.into(),
            "jwk.unsupported_crv",
            "unsupported crv \"P-192\" for kty \"EC\": supported are P-256, P-384, P-521 and secp256k1",
        ),
        (
            r#"{"kty":"OKP","crv":"Ed25519"}"#.into(),
            "jwk.missing_member",
            "JWK of kty \"OKP\" is missing the required member \"x\"",
        ),
        (
            ec(&format!(r#""x":"{EC_X}=","y":"{EC_Y}""#)),
            "jwk.bad_base64url",
            "JWK member \"x\" is not valid base64url (RFC 4648 §5, no padding): it ends with '=' padding, which base64url in JWKs must not have",
        ),
        (
            ec(&format!(r#""x":"+{}","y":"{EC_Y}""#, &EC_X[1..])),
            "jwk.bad_base64url",
            "JWK member \"x\" is not valid base64url (RFC 4648 §5, no padding): it contains '+' or '/', which belong to standard base64, not base64url",
        ),
        (
            ec(&format!(r#""x":"{}","y":"{EC_Y}""#, &EC_X[..40])),
            "jwk.bad_length",
            "JWK member \"x\" must be 32 bytes for P-256, got 30",
        ),
        (
            ec(&format!(r#""x":"{}","y":"{EC_Y}""#, EC_Y)),
            "key.point_not_on_curve",
            "the public key is not a valid point on P-256",
        ),
        (
            ec(&format!(
                r#""x":"{EC_X}","y":"{EC_Y}","d":"{}""#,
                "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
            )),
            "key.invalid_private_scalar",
            "the private key is not a valid scalar for P-256",
        ),
        (
            ec(&format!(
                r#""x":"{EC_X}","y":"{EC_Y}","d":"{}""#,
                EC_D.replace('8', "9")
            )),
            "key.private_public_mismatch",
            "the private key does not match the public key: the public point is not d·G",
        ),
        (
            r#"{"kty":"oct","k":""}"#.into(),
            "jwk.empty_oct_key",
            "oct JWK has an empty \"k\": a symmetric key needs at least one byte",
        ),
        (
            r#"{"kty":"oct","k":"AAAA","d":"AAAA"}"#.into(),
            "jwk.invalid_member",
            "JWK member \"d\" is invalid: it does not belong to a key of kty \"oct\"",
        ),
        (
            r#"{"kty":"oct","k":"AAAA","alg":"RSA"}"#.into(),
            "policy.key_type_as_algorithm",
            "algorithm must be a valid algorithm name, not a key type",
        ),
        (
            r#"{"kty":"oct","k":"AAAA","alg":"ES256"}"#.into(),
            "jwk.invalid_member",
            "JWK member \"alg\" is invalid: ES256 cannot be used with a 24-bit oct key: ES256 needs an EC P-256 key; valid are HS256, HS384, HS512, A128KW, A192KW, A256KW, A128GCMKW, A192GCMKW, A256GCMKW, DIR, PBES2-HS256+A128KW, PBES2-HS384+A192KW, PBES2-HS512+A256KW",
        ),
        (
            r#"{"kty":"oct","k":"AAAA","key_ops":["sign","sign"]}"#.into(),
            "jwk.invalid_member",
            "JWK member \"key_ops\" is invalid: the operation \"sign\" is listed twice",
        ),
        (
            r#"{"kty":"oct","k":"AAAA","x5c":["not base64!"]}"#.into(),
            "jwk.bad_x5c",
            "x5c is invalid: certificate #0 is not standard base64 (RFC 7517 §4.7: base64 with padding, not base64url)",
        ),
        (
            r#"{"kty":"oct","k":"AAAA","x5t#S256":"AAAA"}"#.into(),
            "jwk.invalid_member",
            "JWK member \"x5t#S256\" is invalid: it must be a 32-byte digest, got 3 bytes",
        ),
        (
            r#"{"kty":"RSA","n":"AQAB","e":"AQAB"}"#.into(),
            "key.invalid_rsa",
            "invalid RSA key: the modulus has 17 bits; at least 512 are required",
        ),
        (
            r#"{"kty":"OKP","crv":"Ed25519","x":"AAAA"}"#.into(),
            "jwk.bad_length",
            "JWK member \"x\" must be 32 bytes for Ed25519, got 3",
        ),
        (
            r#"{"kty":"OKP","crv":"Ed448","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#
                .into(),
            "jwk.bad_length",
            "JWK member \"x\" must be 57 bytes for Ed448, got 32",
        ),
        (
            "\x30\x03\x02\x01".into(),
            "input.unrecognized",
            "the input is not PEM, DER or JSON: expected a certificate, a public or private key, or a JWK / JWK Set",
        ),
    ];
    for (input, code, message) in cases {
        let (c, m) = err(input.as_bytes());
        assert_eq!(
            (c.as_str(), m.as_str()),
            (code, message),
            "input: {input:?}"
        );
    }
}

#[test]
fn rsa_jwk_private_members_must_come_together() {
    let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    let (code, msg) = err(format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB","p":"AQAB"}}"#).as_bytes());
    assert_eq!(code, "jwk.invalid_member");
    assert_eq!(
        msg,
        "JWK member \"p\" is invalid: a private RSA member is present but \"d\" is missing"
    );
    let (code, msg) = err(format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB","oth":[]}}"#).as_bytes());
    assert_eq!(code, "jwk.invalid_member");
    assert_eq!(
        msg,
        "JWK member \"oth\" is invalid: multi-prime RSA keys (more than two primes) are not supported"
    );
}

#[test]
fn truncated_der_is_malformed_not_a_panic() {
    let dir = temp_dir();
    openssl(
        dir.path(),
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-outform",
            "DER",
            "-out",
            "k.der",
        ],
    );
    let der = read(dir.path(), "k.der");
    for cut in 1..der.len() {
        // Every prefix fails cleanly with a stable code.
        let e = import(&der[..cut], &ImportOptions::default()).unwrap_err();
        assert!(
            ["input.unrecognized", "der.malformed", "input.empty"].contains(&e.code()),
            "prefix {cut}: {} {e}",
            e.code()
        );
    }
    let (code, msg) = err(&der[..der.len() - 1]);
    assert_eq!(code, "input.unrecognized");
    assert!(!msg.is_empty());
}

#[test]
fn deep_json_nesting_is_an_error_not_a_stack_overflow() {
    let open = "[".repeat(100_000);
    let (code, msg) = err(open.as_bytes());
    assert_eq!(code, "json.invalid");
    assert_eq!(
        msg,
        "invalid JSON: EOF while parsing a list at line 1 column 100000"
    );
    let closed = format!("{open}{}", "]".repeat(100_000));
    let (code, msg) = err(closed.as_bytes());
    assert_eq!(code, "jwk.not_a_jwk");
    assert_eq!(msg, "key #0 of the JWK Set: a JWK must be a JSON object");
    // Unknown members are kept as text, never walked recursively: deep nesting is kept.
    let nested = format!("{}1{}", r#"{"a":"#.repeat(50_000), "}".repeat(50_000));
    let objects = format!(r#"{{"kty":"oct","k":"AAAA","meta":{nested}}}"#);
    let jwk = import(objects.as_bytes(), &ImportOptions::default()).expect("deep unknown member");
    assert_eq!(jwk.params().other, [("meta".to_owned(), nested)]);
}

#[test]
fn errors_never_contain_private_material() {
    let input = ec(&format!(r#""x":"{EC_X}","y":"{EC_Y}","d":"{}=""#, EC_D));
    let e = import(input.as_bytes(), &ImportOptions::default()).unwrap_err();
    assert!(!e.to_string().contains(EC_D));
    assert!(!format!("{e:?}").contains(EC_D));
    let ok = ec(&format!(r#""x":"{EC_X}","y":"{EC_Y}","d":"{EC_D}""#));
    let jwk = import(ok.as_bytes(), &ImportOptions::default()).unwrap();
    let debug = format!("{jwk:?}");
    assert!(!debug.contains(EC_D), "{debug}");
    assert!(debug.contains("[redacted]"));
}

/// Text that begins like JSON but holds a PEM block is read as PEM; input that is neither
/// keeps the JSON error with its position.
#[test]
fn a_pem_block_after_json_looking_text_is_read() {
    const SPKI: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";
    let expected =
        r#"{"kty":"OKP","crv":"Ed25519","x":"Gb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE"}"#;
    for before in [
        "[ req ]\ndistinguished_name = dn\n",
        "{comment}\n",
        "  [1] the key:\n",
    ] {
        let input = format!("{before}{SPKI}");
        let jwk = import(input.as_bytes(), &ImportOptions::default()).unwrap();
        assert_eq!(jwk.to_json(), expected, "{before:?}");
    }
    let with_kid = import(
        format!("[ req ]\n{SPKI}").as_bytes(),
        &ImportOptions {
            kid: Some("ed"),
            ..ImportOptions::default()
        },
    )
    .unwrap();
    assert_eq!(with_kid.params().kid.as_deref(), Some("ed"));
    // A PEM block without a key: the JSON error, which says where the JSON broke.
    let no_key =
        "[ req ]\n-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n";
    assert_eq!(
        err(no_key.as_bytes()),
        (
            "json.invalid".to_owned(),
            "invalid JSON: expected value at line 1 column 3".to_owned()
        )
    );
    // A PEM key that fails keeps its own error.
    let broken = "{x}\n-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n";
    assert_eq!(err(broken.as_bytes()).0, "der.malformed");
    // Valid JSON is never re-read as PEM.
    let e = err(br#"{"kty":"oct","k":"","x":"-----BEGIN PUBLIC KEY-----"}"#);
    assert_eq!(e.0, "jwk.empty_oct_key");
}
