//! Private-key PEM -> JWK JSON: jwk-engine against josekit (OpenSSL 3), on the same inputs.
//! josekit has no public-key PEM or encrypted PKCS#8 import, so only private keys compare.

use std::hint::black_box;
use std::process::Command;

use criterion::{Criterion, criterion_group, criterion_main};
use josekit::jwk::KeyPair;
use josekit::jws::{EdDSA, ES256, RS256};

fn genpkey(dir: &std::path::Path, name: &str, args: &[&str]) -> Vec<u8> {
    let out = dir.join(name);
    let status = Command::new("openssl")
        .arg("genpkey")
        .args(args)
        .arg("-out")
        .arg(&out)
        .status()
        .expect("the openssl command");
    assert!(status.success());
    std::fs::read(out).unwrap()
}

fn engine(pem: &[u8]) -> String {
    jwk_core::import(pem, &jwk_core::ImportOptions::default()).unwrap().to_json()
}

fn benches(c: &mut Criterion) {
    let dir = std::env::temp_dir().join(format!("jwk-peers-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let rsa = genpkey(&dir, "rsa.pem", &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"]);
    let p256 = genpkey(&dir, "p256.pem", &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"]);
    let ed = genpkey(&dir, "ed.pem", &["-algorithm", "ED25519"]);
    let _ = std::fs::remove_dir_all(&dir);

    let mut g = c.benchmark_group("peers");
    g.bench_function("pkcs8_private_rsa2048/engine", |b| b.iter(|| engine(black_box(&rsa))));
    g.bench_function("pkcs8_private_rsa2048/josekit", |b| {
        b.iter(|| {
            RS256
                .key_pair_from_pem(black_box(&rsa))
                .unwrap()
                .to_jwk_private_key()
                .to_string()
        })
    });
    g.bench_function("pkcs8_private_p256/engine", |b| b.iter(|| engine(black_box(&p256))));
    g.bench_function("pkcs8_private_p256/josekit", |b| {
        b.iter(|| {
            ES256
                .key_pair_from_pem(black_box(&p256))
                .unwrap()
                .to_jwk_private_key()
                .to_string()
        })
    });
    g.bench_function("pkcs8_private_ed25519/engine", |b| b.iter(|| engine(black_box(&ed))));
    g.bench_function("pkcs8_private_ed25519/josekit", |b| {
        b.iter(|| {
            EdDSA
                .key_pair_from_pem(black_box(&ed))
                .unwrap()
                .to_jwk_private_key()
                .to_string()
        })
    });
    g.finish();
}

criterion_group!(peers, benches);
criterion_main!(peers);
