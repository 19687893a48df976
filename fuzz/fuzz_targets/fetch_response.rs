#![no_main]
//! The URL fetch response parser: a body as a JWK / JWK Set, selection by kid; the same bytes
//! as a `Cache-Control` value.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let fetched = jwk_fetch::Fetched {
        body: data.to_vec(),
        etag: None,
        last_modified: None,
        not_modified: false,
        max_age: jwk_fetch::cache_max_age(&String::from_utf8_lossy(data)),
    };
    let _ = jwk_fetch::select(&fetched, None);
    let _ = jwk_fetch::select(&fetched, Some("a"));
    let _ = jwk_fetch::parse_set(&fetched);
});
