#![no_main]
//! jwkStr: a JWK, a JWK Set or an array of JWKs, with and without kid selection; and the
//! same text read back as a sealed JWK (a registry's stored key), which never panics and,
//! for what the full parse accepts and writes, gives the same key.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for kid in [None, Some("a"), Some("")] {
        if let Ok(jwk) = jwk_core::select_from_json(text, kid) {
            // What imports must export canonically and import again to the same text.
            let json = jwk.to_json();
            let again = jwk_core::select_from_json(&json, None).expect("canonical JSON imports");
            assert_eq!(again.to_json(), json);
            let sealed = jwk_core::from_sealed_json(&json).expect("canonical JSON reads back");
            assert_eq!(sealed, again);
            let _ = jwk.thumbprint(jwk_core::ThumbprintHash::Sha256);
        }
    }
    if let Ok(sealed) = jwk_core::from_sealed_json(text) {
        let _ = sealed.to_json();
        let _ = sealed.thumbprint(jwk_core::ThumbprintHash::Sha256);
        let _ = sealed.to_public_json();
    }
    if let Ok(set) = jwk_core::JwkSet::parse(text) {
        let _ = set.keys().count();
    }
});
