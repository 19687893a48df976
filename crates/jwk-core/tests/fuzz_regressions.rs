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
    for d in ["AA", "AAAA", n] {
        let jwk = format!(r#"{{"kty":"RSA","n":"{n}","e":"AQAB","d":"{d}"}}"#);
        let e = import(jwk.as_bytes(), &ImportOptions::default()).unwrap_err();
        assert_eq!(e.code(), "key.invalid_rsa", "d = {d}");
        assert_eq!(
            e.to_string(),
            "invalid RSA key: the exponents are inconsistent (e must be odd; d must satisfy d·e ≡ 1 mod λ(n) and d < n)"
        );
    }
}
