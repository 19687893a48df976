#![no_main]
//! The URL fetch response parser: a body as a JWK / JWK Set, selection by kid.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let fetched = jwk_fetch::Fetched {
        body: data.to_vec(),
        etag: None,
        last_modified: None,
        not_modified: false,
    };
    let _ = jwk_fetch::select(&fetched, None);
    let _ = jwk_fetch::select(&fetched, Some("a"));
    let _ = jwk_fetch::parse_set(&fetched);
});
