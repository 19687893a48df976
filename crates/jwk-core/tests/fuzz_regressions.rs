//! Inputs the fuzzers once crashed on (testdata/fuzz-regressions): each now fails cleanly.

use jwk_core::{ImportOptions, import};

fn regression(name: &str) -> Vec<u8> {
    std::fs::read(
        jwk_testkit::workspace_root()
            .join("testdata/fuzz-regressions")
            .join(name),
    )
    .unwrap()
}

#[test]
fn scrypt_with_n_zero_is_an_error_not_a_panic() {
    let der = regression("encrypted-pkcs8-scrypt-n0.der");
    let e = import(
        &der,
        &ImportOptions {
            password: Some("password"),
            ..ImportOptions::default()
        },
    )
    .unwrap_err();
    assert_eq!(e.code(), "der.malformed");
    assert_eq!(
        e.to_string(),
        "scrypt parameters is malformed DER: N=0, r=1, p=1: N must be a power of two above 1, r and p at least 1"
    );
}

#[test]
fn rsa_private_jwk_with_d_zero_is_an_error_not_a_panic() {
    // RFC 7517 A.1's modulus, e = 65537, d = 0 and no primes: rsa's prime recovery panicked.
    let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    for d in ["AA", "AAAA", "", n] {
        let jwk = format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB","d":"{d}"}}"#);
        let e = import(jwk.as_bytes(), &ImportOptions::default()).unwrap_err();
        assert_eq!(e.code(), "key.invalid_rsa", "d = {d}");
        assert_eq!(
            e.to_string(),
            "invalid RSA key: the exponents are inconsistent (e must be odd; d must satisfy d·e ≡ 1 mod λ(n) and d < n)"
        );
    }
}

#[test]
fn rsa_private_jwk_with_a_short_d_is_an_error_not_a_panic() {
    // rsa 0.10's prime recovery sizes its arithmetic by d's precision and truncates n to it
    // (it underflowed on the jwk_struct input below, d empty); short d values of every size
    // and a large e go through it.
    let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    for (e, d) in [
        ("AQAB", "sQA"),
        ("AQAB", "BQ"),
        ("AQAB", "AQ"),
        ("AQAAAQ", "sQA"),
        ("AQAB", "AQIDBAUGBwgJCgsMDQ4PEA"),
        ("AHV1dXV1dXV1dXV1dXV1dXV1dXV1dQ", "sQA"),
    ] {
        let jwk = format!(r#"{{"kty":"RSA","n":"{n}","e":"{e}","d":"{d}"}}"#);
        let err = import(jwk.as_bytes(), &ImportOptions::default()).unwrap_err();
        assert_eq!(err.code(), "key.invalid_rsa", "e = {e}, d = {d}");
        assert_eq!(
            err.to_string(),
            "invalid RSA key: the prime factors could not be recovered from d; give p, q, dp, dq and qi",
            "e = {e}, d = {d}"
        );
    }
}

#[test]
fn the_jwk_struct_crash_input_is_an_error() {
    // Verbatim from fuzz/artifacts/jwk_struct/crash-465cdf6f… (2026-11-23): a 544-bit n, a
    // 23-byte e and an empty d.
    let jwk = r#"{"kty":"RSA","crv":"secp256k1","n":"FXV1dXV1dXV1dXV1dXV1VXX__3V1dXV1dfJ1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXV1dXX3sfv7-_tP_w","e":"AHV1dXV1dXV1dXV1dXV1dXV1dXV1dQ","d":"","x5c":""}"#;
    let err = import(jwk.as_bytes(), &ImportOptions::default()).unwrap_err();
    assert_eq!(err.code(), "key.invalid_rsa");
    assert_eq!(
        err.to_string(),
        "invalid RSA key: the exponents are inconsistent (e must be odd; d must satisfy d·e ≡ 1 mod λ(n) and d < n)"
    );
}

#[test]
fn an_empty_or_zero_rsa_modulus_has_zero_bits_not_a_wrapped_count() {
    // Found by a 5-second jwk_struct run: the bit count subtracted 8 from 0 bytes (a panic
    // with overflow checks, 18446744073709551608 bits in release).
    for n in ["", "AA", "AAAA"] {
        let jwk = format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB"}}"#);
        let e = import(jwk.as_bytes(), &ImportOptions::default()).unwrap_err();
        assert_eq!(
            (e.code(), e.to_string().as_str()),
            (
                "key.invalid_rsa",
                "invalid RSA key: the modulus has 0 bits; at least 512 are required"
            ),
            "n = {n:?}"
        );
    }
    let e = import(
        br#"{"kty":"RSA","n":"AQ","e":"AQAB"}"#,
        &ImportOptions::default(),
    )
    .unwrap_err();
    assert_eq!(
        e.to_string(),
        "invalid RSA key: the modulus has 1 bits; at least 512 are required"
    );
}
