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
