#![no_main]
//! PKCS#12 keystores with a fixed password.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    jwk_core::__fuzz::pkcs12(data);
});
