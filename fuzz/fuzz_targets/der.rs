#![no_main]
//! Every DER decoder: certificates, SPKI, PKCS#8, PKCS#1, SEC1, and the classifier.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    jwk_core::__fuzz::der_decoders(data);
    let _ = jwk_core::import(data, &jwk_core::ImportOptions::default());
});
