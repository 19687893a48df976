#![no_main]
//! Keystores (PKCS#12 in DER or BER, Java JKS) with a fixed password.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    jwk_core::__fuzz::pkcs12(data);
});
