//! jsonwebtoken's keys for JWKs the engine generated or read: the signing key from the
//! private members, the verifying key and the public JWK. Shared by tests/differential.rs
//! and the peer benchmarks (benches/peers), which include this file with `#[path]`.

use jsonwebtoken::{DecodingKey, EncodingKey};
use jwk_core::{EcCurve, GenerateOptions, Jwk, Key, KeySpec, KidType, Usage};

/// A signing key of `spec` with this kid and no `alg` (so that an RSA key serves every RS
/// and PS algorithm).
pub fn generate(spec: KeySpec, alg: &str, kid: &str) -> Jwk {
    let mut jwk = jwk_core::generate(&GenerateOptions {
        spec,
        usage: Usage::Signature,
        alg: alg.to_owned(),
        kid: KidType::Explicit(kid.to_owned()),
    })
    .unwrap();
    jwk.params_mut().alg = None;
    jwk
}

/// The key that verifies: an `oct` key whole, any other its public part.
pub fn public(jwk: &Jwk) -> Jwk {
    match jwk.key() {
        Key::Oct(_) => jwk.clone(),
        _ => jwk.to_public().unwrap(),
    }
}

/// jsonwebtoken's signing key for a private JWK (RSA as PKCS#1 DER, EC and Ed25519 as
/// PKCS#8 DER, `oct` as the secret).
pub fn encoding_key(jwk: &Jwk) -> EncodingKey {
    use ed25519_dalek::pkcs8::EncodePrivateKey as _;
    use rsa::pkcs1::EncodeRsaPrivateKey as _;
    match jwk.key() {
        Key::Rsa(k) => {
            let p = k.private().unwrap();
            let uint = |b: &[u8]| rsa::BoxedUint::from_be_slice_vartime(b);
            let private = rsa::PrivateKey::from_components(
                uint(k.n()),
                uint(k.e()),
                uint(p.d.expose()),
                vec![uint(p.p.expose()), uint(p.q.expose())],
            )
            .unwrap();
            EncodingKey::from_rsa_der(&private.to_pkcs1_der().unwrap().to_bytes())
        }
        Key::Ec(k) => {
            use p256::pkcs8::EncodePrivateKey as _;
            let d = k.d().unwrap().expose();
            let der = match k.curve() {
                EcCurve::P256 => p256::SecretKey::from_slice(d)
                    .unwrap()
                    .to_pkcs8_der()
                    .unwrap(),
                EcCurve::P384 => p384::SecretKey::from_slice(d)
                    .unwrap()
                    .to_pkcs8_der()
                    .unwrap(),
                other => panic!("jsonwebtoken signs no {other:?} key"),
            };
            EncodingKey::from_ec_der(der.as_bytes())
        }
        Key::Okp(k) => {
            let d: [u8; 32] = k.d().unwrap().expose().try_into().unwrap();
            let der = ed25519_dalek::SigningKey::from_bytes(&d)
                .to_pkcs8_der()
                .unwrap();
            EncodingKey::from_ed_der(der.as_bytes())
        }
        Key::Oct(k) => EncodingKey::from_secret(k.k().expose()).unwrap(),
        _ => panic!("unexpected key"),
    }
}

/// jsonwebtoken's verifying key for the same JWK, from its JSON (public members, or the
/// whole `oct` key).
pub fn decoding_key(jwk: &Jwk) -> DecodingKey {
    let text = match jwk.key() {
        Key::Oct(_) => jwk.to_json(),
        _ => jwk.to_public_json().unwrap(),
    };
    let their: jsonwebtoken::jwk::Jwk = serde_json::from_str(&text).unwrap();
    DecodingKey::from_jwk(&their).unwrap()
}
