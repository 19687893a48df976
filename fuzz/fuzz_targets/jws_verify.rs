#![no_main]
//! Token verification. The first byte chooses the mode:
//! - even: the rest is a token, verified against a fixed set of keys (HMAC, P-256, RSA,
//!   Ed25519; shared and distinct kids) with the defaults and with every claim check on;
//! - odd: the rest is `header JSON \0 claims JSON`, signed here with the HMAC key under a
//!   valid signature, so the header and claims checks run past the signature.
//! A success must be repeatable, and must carry the key the header named.

use std::sync::{Arc, OnceLock};

use hmac::{KeyInit, Mac};
use jwk_verify::{KeySet, Verifier};
use libfuzzer_sys::fuzz_target;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn keys() -> &'static KeySet {
    static KEYS: OnceLock<KeySet> = OnceLock::new();
    KEYS.get_or_init(|| {
        let jwks = [
            r#"{"kty":"oct","kid":"h","k":"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY"}"#,
            r#"{"kty":"EC","kid":"e","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#,
            r#"{"kty":"EC","kid":"h","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#,
            r#"{"kty":"RSA","kid":"r","e":"AQAB","n":"n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw"}"#,
            r#"{"kty":"OKP","kid":"d","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#,
        ];
        KeySet::new(jwks.iter().map(|j| jwk_core::select_from_json(j, None).expect("a fixed key")))
    })
}

fn b64(bytes: &[u8]) -> String {
    use base64ct::Encoding;
    base64ct::Base64UrlUnpadded::encode_string(bytes)
}

fn check(token: &str) {
    let strict = Verifier::new()
        .at(1_800_000_000)
        .issuer("https://idp.example")
        .audience("api")
        .typ("at+jwt")
        .understand_crit("x")
        .required_claims(&["exp", "sub"]);
    for verifier in [Verifier::new().at(1_800_000_000), strict] {
        let first = verifier.verify(token, keys());
        let again = verifier.verify(token, keys());
        assert_eq!(first.is_ok(), again.is_ok());
        if let Ok(jwt) = first {
            assert!(Arc::ptr_eq(&jwt.key, &again.expect("repeatable").key));
            if let Some(kid) = &jwt.header.kid {
                assert_eq!(jwt.key.jwk().params().kid.as_deref(), Some(kid.as_str()));
            }
        } else if let Err(e) = first {
            let _ = (e.code(), e.to_string());
        }
        let _ = verifier.verify_jws(token, keys());
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        if let Ok(token) = std::str::from_utf8(rest) {
            check(token);
        }
        return;
    }
    let (header, claims) = match rest.iter().position(|b| *b == 0) {
        Some(i) => (&rest[..i], &rest[i + 1..]),
        None => (rest, &b"{}"[..]),
    };
    let input = format!("{}.{}", b64(header), b64(claims));
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET).expect("any key length");
    mac.update(input.as_bytes());
    check(&format!("{input}.{}", b64(&mac.finalize().into_bytes())));
});
