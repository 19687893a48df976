#![no_main]
//! Encrypted PKCS#8 (PBES2, PBES1, PKCS#12 PBE) and DEK-Info PEM bodies.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    jwk_core::__fuzz::encrypted(data);
});
