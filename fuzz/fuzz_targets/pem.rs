#![no_main]
//! PEM documents (any text, any blocks), with a password for encrypted ones.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let opts = jwk_core::ImportOptions {
        password: Some("password"),
        kdf_limits: jwk_core::KdfLimits {
            max_iterations: 64,
            max_scrypt_work: 1 << 10,
            max_scrypt_memory: 1 << 20,
        },
        ..jwk_core::ImportOptions::default()
    };
    let mut text = b"-----BEGIN PRIVATE KEY-----\n".to_vec();
    text.extend_from_slice(data);
    let _ = jwk_core::import(data, &opts);
    let _ = jwk_core::import(&text, &opts);
});
