//! Key-conversion throughput: `cargo bench --bench convert`.
//!
//! Each `floor/…` case does the same work straight on the RustCrypto crates (decode with the
//! same validation, write the JWK members) so the ratio to our `engine/…` case is the cost of
//! the engine itself. Inputs are made with the `openssl` CLI when the bench starts.

use std::future::Future;
use std::hint::black_box;

use base64ct::{Base64UrlUnpadded, Encoding};
use criterion::{Criterion, criterion_group, criterion_main};
use jwk_engine::core::{
    EcCurve, GenerateOptions, ImportOptions, KeySpec, KidType, OkpCurve, ThumbprintHash, Usage,
    generate, import, select_from_json,
};
use jwk_testkit::{openssl, openssl_key_pair, openssl_self_signed, read, temp_dir};

fn opts() -> ImportOptions<'static> {
    ImportOptions::default()
}

fn engine_json(input: &[u8]) -> String {
    import(input, &opts())
        .expect("bench input imports")
        .to_json()
}

fn rsa_json(key: &rsa::PublicKey) -> String {
    use rsa::traits::PublicKeyParts;
    format!(
        r#"{{"kty":"RSA","n":"{}","e":"{}"}}"#,
        Base64UrlUnpadded::encode_string(&key.n_bytes()),
        Base64UrlUnpadded::encode_string(&key.e_bytes())
    )
}

fn floor_rsa_spki(pem: &str) -> String {
    use rsa::pkcs8::DecodePublicKey;
    rsa_json(&rsa::PublicKey::from_public_key_pem(pem).unwrap())
}

fn p256_json(key: &p256::PublicKey) -> String {
    use p256::elliptic_curve::sec1::ToSec1Point;
    let point = key.to_sec1_point(false);
    let b = point.as_bytes();
    format!(
        r#"{{"kty":"EC","crv":"P-256","x":"{}","y":"{}"}}"#,
        Base64UrlUnpadded::encode_string(&b[1..33]),
        Base64UrlUnpadded::encode_string(&b[33..])
    )
}

fn floor_p256_spki(pem: &str) -> String {
    use p256::pkcs8::DecodePublicKey;
    p256_json(&p256::PublicKey::from_public_key_pem(pem).unwrap())
}

/// P-384 and P-521 SPKI floors, like `floor_p256_spki`.
macro_rules! floor_ec_spki {
    ($name:ident, $krate:ident, $crv:literal) => {
        fn $name(pem: &str) -> String {
            use $krate::elliptic_curve::sec1::ToSec1Point;
            use $krate::pkcs8::DecodePublicKey;
            let key = $krate::PublicKey::from_public_key_pem(pem).unwrap();
            let point = key.to_sec1_point(false);
            let b = &point.as_bytes()[1..];
            let half = b.len() / 2;
            format!(
                r#"{{"kty":"EC","crv":"{}","x":"{}","y":"{}"}}"#,
                $crv,
                Base64UrlUnpadded::encode_string(&b[..half]),
                Base64UrlUnpadded::encode_string(&b[half..])
            )
        }
    };
}
floor_ec_spki!(floor_p384_spki, p384, "P-384");
floor_ec_spki!(floor_p521_spki, p521, "P-521");

fn floor_ed25519_private(pem: &str) -> String {
    use ed25519_dalek::pkcs8::DecodePrivateKey;
    let key = ed25519_dalek::SigningKey::from_pkcs8_pem(pem).unwrap();
    format!(
        r#"{{"kty":"OKP","crv":"Ed25519","x":"{}","d":"{}"}}"#,
        Base64UrlUnpadded::encode_string(key.verifying_key().as_bytes()),
        Base64UrlUnpadded::encode_string(&key.to_bytes())
    )
}

fn floor_ed25519_spki(pem: &str) -> String {
    use ed25519_dalek::pkcs8::DecodePublicKey;
    let key = ed25519_dalek::VerifyingKey::from_public_key_pem(pem).unwrap();
    format!(
        r#"{{"kty":"OKP","crv":"Ed25519","x":"{}"}}"#,
        Base64UrlUnpadded::encode_string(key.as_bytes())
    )
}

/// Big-endian bytes without leading zeros (Base64urlUInt, RFC 7518 §2).
fn trimmed(bytes: &[u8]) -> &[u8] {
    let start = bytes
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(bytes.len() - 1);
    &bytes[start..]
}

fn floor_rsa_private(pem: &str) -> String {
    use rsa::pkcs8::DecodePrivateKey;
    use rsa::traits::{PrivateKeyParts, PublicKeyParts};
    // Decoding checks the key (`validate`) and precomputes the CRT values, as we do.
    let key = rsa::PrivateKey::from_pkcs8_pem(pem).unwrap();
    let b64 = |b: &[u8]| Base64UrlUnpadded::encode_string(trimmed(b));
    let uint = |u: &rsa::BoxedUint| b64(&u.to_be_bytes());
    let primes = key.primes();
    format!(
        r#"{{"kty":"RSA","n":"{}","e":"{}","d":"{}","p":"{}","q":"{}","dp":"{}","dq":"{}","qi":"{}"}}"#,
        b64(&key.n_bytes()),
        b64(&key.e_bytes()),
        uint(key.d()),
        uint(&primes[0]),
        uint(&primes[1]),
        uint(key.dp().unwrap()),
        uint(key.dq().unwrap()),
        uint(&key.qinv().unwrap().retrieve()),
    )
}

fn floor_p256_private(pem: &str) -> String {
    use p256::elliptic_curve::sec1::ToSec1Point;
    use p256::pkcs8::DecodePrivateKey;
    // Decoding checks the scalar and (when the file carries it) the public point.
    let key = p256::SecretKey::from_pkcs8_pem(pem).unwrap();
    let point = key.public_key().to_sec1_point(false);
    let b = point.as_bytes();
    format!(
        r#"{{"kty":"EC","crv":"P-256","x":"{}","y":"{}","d":"{}"}}"#,
        Base64UrlUnpadded::encode_string(&b[1..33]),
        Base64UrlUnpadded::encode_string(&b[33..]),
        Base64UrlUnpadded::encode_string(&key.to_bytes())
    )
}

/// A certificate the RustCrypto way: PEM to DER, `x509_cert::Certificate` (a full decode),
/// the SubjectPublicKeyInfo to the key as the SPKI floors do, x5c and x5t#S256.
fn floor_certificate(pem: &str) -> String {
    use sha2::Digest;
    use x509_cert::der::{Decode, Encode};
    let (_, der) = x509_cert::der::pem::decode_vec(pem.as_bytes()).unwrap();
    let cert = x509_cert::Certificate::from_der(&der).unwrap();
    let spki = cert
        .tbs_certificate()
        .subject_public_key_info()
        .to_der()
        .unwrap();
    let key = if spki.len() > 200 {
        use rsa::pkcs8::DecodePublicKey;
        rsa_json(&rsa::PublicKey::from_public_key_der(&spki).unwrap())
    } else {
        use p256::pkcs8::DecodePublicKey;
        p256_json(&p256::PublicKey::from_public_key_der(&spki).unwrap())
    };
    format!(
        r#"{},"x5c":["{}"],"x5t#S256":"{}"}}"#,
        &key[..key.len() - 1],
        base64ct::Base64::encode_string(&der),
        Base64UrlUnpadded::encode_string(&sha2::Sha256::digest(&der))
    )
}

/// A JWK Set the serde_json way: parse to a `Value`, find the kid, check the chosen P-256
/// key is on its curve, write it.
fn floor_set_select_p256(set: &str, kid: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(set).unwrap();
    let jwk = v["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid)
        .unwrap();
    let coord = |m: &str| Base64UrlUnpadded::decode_vec(jwk[m].as_str().unwrap()).unwrap();
    let mut sec1 = vec![4u8];
    sec1.extend_from_slice(&coord("x"));
    sec1.extend_from_slice(&coord("y"));
    let key = p256::PublicKey::from_sec1_bytes(&sec1).unwrap();
    let json = p256_json(&key);
    format!(r#"{},"kid":"{kid}"}}"#, &json[..json.len() - 1])
}

/// The typed floor of a selection from a JWK Set, as the engine's case does it (no JSON
/// written): serde into borrowed structs (duplicate members refused, as serde does), find the
/// kid, then decode and validate only that key (here a P-256 key: its point checked on the
/// curve). Returns the key and the chosen entry's kid, use and alg.
fn floor_typed_set_select_p256<'a>(
    set: &'a str,
    kid: &str,
) -> (p256::PublicKey, &'a str, &'a str, &'a str) {
    #[derive(serde::Deserialize)]
    struct Set<'a> {
        #[serde(borrow)]
        keys: Vec<Entry<'a>>,
    }
    #[derive(serde::Deserialize)]
    #[allow(dead_code)]
    struct Entry<'a> {
        kty: &'a str,
        kid: Option<&'a str>,
        crv: Option<&'a str>,
        x: Option<&'a str>,
        y: Option<&'a str>,
        n: Option<&'a str>,
        e: Option<&'a str>,
        #[serde(rename = "use")]
        key_use: Option<&'a str>,
        alg: Option<&'a str>,
    }
    let parsed: Set<'a> = serde_json::from_str(set).unwrap();
    let mut chosen = parsed.keys.into_iter().filter(|k| k.kid == Some(kid));
    let jwk = chosen.next().unwrap();
    assert!(chosen.next().is_none() && jwk.kty == "EC" && jwk.crv == Some("P-256"));
    let coord = |m: Option<&str>| Base64UrlUnpadded::decode_vec(m.unwrap()).unwrap();
    let mut sec1 = vec![4u8];
    sec1.extend_from_slice(&coord(jwk.x));
    sec1.extend_from_slice(&coord(jwk.y));
    let key = p256::PublicKey::from_sec1_bytes(&sec1).unwrap();
    (
        key,
        jwk.kid.unwrap(),
        jwk.key_use.unwrap(),
        jwk.alg.unwrap(),
    )
}

/// An RFC 7638 thumbprint from the coordinates, written with `format!` and hashed.
fn floor_thumbprint_p256(x: &[u8], y: &[u8]) -> String {
    use sha2::Digest;
    let input = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        Base64UrlUnpadded::encode_string(x),
        Base64UrlUnpadded::encode_string(y)
    );
    Base64UrlUnpadded::encode_string(&sha2::Sha256::digest(input.as_bytes()))
}

fn benches(c: &mut Criterion) {
    let dir = temp_dir();
    let d = dir.path();
    openssl_key_pair(
        d,
        "rsa2048",
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    );
    openssl_key_pair(
        d,
        "rsa4096",
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:4096"],
    );
    openssl_key_pair(
        d,
        "p256",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    openssl_key_pair(
        d,
        "p384",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    );
    openssl_key_pair(
        d,
        "p521",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
    );
    openssl_key_pair(d, "ed25519", &["-algorithm", "ED25519"]);
    for name in ["rsa2048", "p256"] {
        openssl_self_signed(d, name, "/CN=bench");
    }
    openssl(
        d,
        &[
            "pkcs8", "-topk8", "-in", "p256.key", "-passout", "pass:pw", "-out", "p256.enc",
        ],
    );
    openssl(
        d,
        &[
            "pkcs12", "-export", "-inkey", "p256.key", "-in", "p256.crt", "-passout", "pass:pw",
            "-out", "p256.p12",
        ],
    );

    let mut g = c.benchmark_group("convert");
    for name in ["rsa2048", "rsa4096", "p256", "p384", "p521", "ed25519"] {
        let pem = read(d, &format!("{name}.pub"));
        g.bench_function(format!("engine/spki_pem/{name}"), |b| {
            b.iter(|| engine_json(black_box(&pem)))
        });
    }
    let rsa_pem = String::from_utf8(read(d, "rsa2048.pub")).unwrap();
    let p256_pem = String::from_utf8(read(d, "p256.pub")).unwrap();
    let ed_pem = String::from_utf8(read(d, "ed25519.pub")).unwrap();
    type Floor = fn(&str) -> String;
    let more_floors: [(&str, Floor); 3] = [
        ("rsa4096", floor_rsa_spki),
        ("p384", floor_p384_spki),
        ("p521", floor_p521_spki),
    ];
    for (name, floor) in more_floors {
        let pem = String::from_utf8(read(d, &format!("{name}.pub"))).unwrap();
        assert_eq!(floor(&pem), engine_json(pem.as_bytes()), "{name}");
        g.bench_function(format!("floor/spki_pem/{name}"), |b| {
            b.iter(|| floor(black_box(&pem)))
        });
    }
    assert_eq!(floor_rsa_spki(&rsa_pem), engine_json(rsa_pem.as_bytes()));
    assert_eq!(floor_p256_spki(&p256_pem), engine_json(p256_pem.as_bytes()));
    assert_eq!(floor_ed25519_spki(&ed_pem), engine_json(ed_pem.as_bytes()));
    g.bench_function("floor/spki_pem/rsa2048", |b| {
        b.iter(|| floor_rsa_spki(black_box(&rsa_pem)))
    });
    g.bench_function("floor/spki_pem/p256", |b| {
        b.iter(|| floor_p256_spki(black_box(&p256_pem)))
    });
    g.bench_function("floor/spki_pem/ed25519", |b| {
        b.iter(|| floor_ed25519_spki(black_box(&ed_pem)))
    });

    let rsa_private = read(d, "rsa2048.key");
    g.bench_function("engine/pkcs8_private/rsa2048", |b| {
        b.iter(|| engine_json(black_box(&rsa_private)))
    });
    let rsa_private_pem = String::from_utf8(rsa_private.clone()).unwrap();
    let as_value = |s: &str| serde_json::from_str::<serde_json::Value>(s).unwrap();
    assert_eq!(
        as_value(&floor_rsa_private(&rsa_private_pem)),
        as_value(&engine_json(&rsa_private))
    );
    g.bench_function("floor/pkcs8_private/rsa2048", |b| {
        b.iter(|| floor_rsa_private(black_box(&rsa_private_pem)))
    });
    let p256_private = read(d, "p256.key");
    let p256_private_pem = String::from_utf8(p256_private.clone()).unwrap();
    assert_eq!(
        as_value(&floor_p256_private(&p256_private_pem)),
        as_value(&engine_json(&p256_private))
    );
    g.bench_function("engine/pkcs8_private/p256", |b| {
        b.iter(|| engine_json(black_box(&p256_private)))
    });
    g.bench_function("floor/pkcs8_private/p256", |b| {
        b.iter(|| floor_p256_private(black_box(&p256_private_pem)))
    });
    let ed_private = read(d, "ed25519.key");
    let ed_private_pem = String::from_utf8(ed_private.clone()).unwrap();
    assert_eq!(
        as_value(&floor_ed25519_private(&ed_private_pem)),
        as_value(&engine_json(&ed_private))
    );
    g.bench_function("engine/pkcs8_private/ed25519", |b| {
        b.iter(|| engine_json(black_box(&ed_private)))
    });
    g.bench_function("floor/pkcs8_private/ed25519", |b| {
        b.iter(|| floor_ed25519_private(black_box(&ed_private_pem)))
    });
    for name in ["rsa2048", "p256"] {
        let cert = read(d, &format!("{name}.crt"));
        g.bench_function(format!("engine/certificate/{name}"), |b| {
            b.iter(|| engine_json(black_box(&cert)))
        });
        let cert_pem = String::from_utf8(cert.clone()).unwrap();
        assert_eq!(
            as_value(&floor_certificate(&cert_pem)),
            as_value(&engine_json(&cert))
        );
        g.bench_function(format!("floor/certificate/{name}"), |b| {
            b.iter(|| floor_certificate(black_box(&cert_pem)))
        });
    }

    let set: Vec<String> = (0..16)
        .map(|i| {
            let mut jwk = import(&read(d, "p256.pub"), &opts()).unwrap();
            jwk.params_mut().kid = Some(format!("key-{i}"));
            jwk.to_json()
        })
        .collect();
    let set = format!("{{\"keys\":[{}]}}", set.join(","));
    g.bench_function("engine/jwks16_select_by_kid", |b| {
        b.iter(|| select_from_json(black_box(&set), Some("key-11")).unwrap())
    });
    assert_eq!(
        as_value(&floor_set_select_p256(&set, "key-11")),
        as_value(&select_from_json(&set, Some("key-11")).unwrap().to_json())
    );
    g.bench_function("floor/jwks16_select_by_kid", |b| {
        b.iter(|| floor_set_select_p256(black_box(&set), "key-11"))
    });

    // A mixed public set (4 RSA-2048, 4 P-256, 2 P-384, 2 P-521, 4 Ed25519), choosing P-256.
    let specs = [
        (KeySpec::Rsa { bits: 2048 }, "RS256"),
        (KeySpec::Ec(EcCurve::P256), "ES256"),
        (KeySpec::Ec(EcCurve::P384), "ES384"),
        (KeySpec::Ec(EcCurve::P521), "ES512"),
        (KeySpec::Okp(OkpCurve::Ed25519), "EdDSA"),
    ];
    let mixed: Vec<String> = [0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 3, 3, 4, 4, 4, 4]
        .iter()
        .enumerate()
        .map(|(i, &spec)| {
            let mut jwk = generate(&GenerateOptions {
                spec: specs[spec].0,
                usage: Usage::Signature,
                alg: specs[spec].1.to_owned(),
                kid: KidType::None,
            })
            .unwrap()
            .to_public()
            .unwrap();
            jwk.params_mut().kid = Some(format!("key-{i}"));
            jwk.to_json()
        })
        .collect();
    let mixed = format!("{{\"keys\":[{}]}}", mixed.join(","));
    let (key, kid, key_use, alg) = floor_typed_set_select_p256(&mixed, "key-6");
    let json = p256_json(&key);
    assert_eq!(
        as_value(&format!(
            r#"{},"kid":"{kid}","use":"{key_use}","alg":"{alg}"}}"#,
            &json[..json.len() - 1]
        )),
        as_value(&select_from_json(&mixed, Some("key-6")).unwrap().to_json())
    );
    g.bench_function("engine/jwks16_mixed_select_by_kid", |b| {
        b.iter(|| select_from_json(black_box(&mixed), Some("key-6")).unwrap())
    });
    g.bench_function("floor/jwks16_mixed_select_by_kid", |b| {
        b.iter(|| floor_typed_set_select_p256(black_box(&mixed), "key-6"))
    });

    let rsa_jwk = import(rsa_pem.as_bytes(), &opts()).unwrap();
    let p256_jwk = import(p256_pem.as_bytes(), &opts()).unwrap();
    g.bench_function("engine/thumbprint/rsa2048", |b| {
        b.iter(|| black_box(&rsa_jwk).thumbprint(ThumbprintHash::Sha256))
    });
    g.bench_function("engine/thumbprint/p256", |b| {
        b.iter(|| black_box(&p256_jwk).thumbprint(ThumbprintHash::Sha256))
    });
    let p256_members = as_value(&p256_jwk.to_json());
    let coordinate =
        |m: &str| Base64UrlUnpadded::decode_vec(p256_members[m].as_str().unwrap()).unwrap();
    let (x, y) = (coordinate("x"), coordinate("y"));
    assert_eq!(
        floor_thumbprint_p256(&x, &y),
        p256_jwk.thumbprint(ThumbprintHash::Sha256)
    );
    g.bench_function("floor/thumbprint/p256", |b| {
        b.iter(|| floor_thumbprint_p256(black_box(&x), black_box(&y)))
    });
    g.bench_function("engine/canonical_json/rsa2048", |b| {
        b.iter(|| black_box(&rsa_jwk).to_json())
    });
    g.finish();

    // The resolver's hot path: a lookup by kid among 100 deployed keys; and the gateway's
    // lookup (LiveKeys::find, which refetches remote sets on a miss) when the kid is served.
    let (registry, reg) = resolver_with_keys(&p256_jwk, 100);
    let live = std::sync::Arc::new(jwk_engine::controllers::Refresh::new(registry.clone()))
        .live_keys("bench");
    let mut r = c.benchmark_group("resolver");
    r.bench_function("by_kid", |b| {
        b.iter(|| reg.by_kid(black_box("key-57")).unwrap())
    });
    r.bench_function("by_name", |b| {
        b.iter(|| reg.by_name(black_box("P"), black_box("jwk-57")).unwrap())
    });
    r.bench_function("by_project_kid", |b| {
        b.iter(|| {
            reg.by_project_kid(black_box("P"), black_box("key-57"))
                .unwrap()
        })
    });
    r.bench_function("live_find_hit", |b| {
        // A hit answers at the first poll: polled once, with no runtime in the measurement.
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        b.iter(|| {
            let mut find = std::pin::pin!(live.find(black_box("P"), black_box("key-57")));
            match find.as_mut().poll(&mut cx) {
                std::task::Poll::Ready(found) => found.unwrap(),
                std::task::Poll::Pending => panic!("a hit is ready at once"),
            }
        })
    });
    r.finish();

    // Report apart: their cost is the key derivation's (PBKDF2, 2048 iterations by default).
    let mut k = c.benchmark_group("kdf");
    k.sample_size(20);
    let enc = read(d, "p256.enc");
    let p12 = read(d, "p256.p12");
    let with_pw = ImportOptions {
        password: Some("pw"),
        ..ImportOptions::default()
    };
    k.bench_function("engine/encrypted_pkcs8/p256", |b| {
        b.iter(|| import(black_box(&enc), &with_pw).unwrap())
    });
    k.bench_function("engine/pkcs12/p256", |b| {
        b.iter(|| import(black_box(&p12), &with_pw).unwrap())
    });
    k.finish();
}

/// A registry whose `bench` memory resolver serves `n` keys (project P, kids key-0…).
fn resolver_with_keys(
    template: &jwk_engine::Jwk,
    n: usize,
) -> (
    std::sync::Arc<jwk_engine::registry::Registry>,
    std::sync::Arc<jwk_engine::registry::Resolver>,
) {
    use jwk_engine::registry::deploy::{
        DeployTarget, DeployedJwk, EnvironmentSnapshot, ProjectSnapshot,
    };
    let jwks = (0..n)
        .map(|i| {
            let mut jwk = template.clone();
            jwk.params_mut().kid = Some(format!("key-{i}"));
            DeployedJwk {
                id: format!("id-{i}").into(),
                name: format!("jwk-{i}").into(),
                thumbprint: format!("t{i}").into(),
                jwk: std::sync::Arc::new(jwk),
                state: jwk_engine::registry::deploy::KeyState::Active,
                validity: jwk_engine::registry::deploy::Validity::default(),
            }
        })
        .collect();
    let snapshot = EnvironmentSnapshot {
        environment: "bench".into(),
        revision: 1,
        projects: vec![ProjectSnapshot {
            name: "P".into(),
            jwks,
            credentials: Vec::new(),
            remote_keys: Vec::new(),
        }],
        ..EnvironmentSnapshot::default()
    };
    let registry = std::sync::Arc::new(jwk_engine::registry::Registry::new(
        std::sync::Arc::new(jwk_engine::registry::store::MemoryStore::new()),
        jwk_engine::registry::MasterKey::from_bytes([7; 32]),
        jwk_engine::registry::RegistryConfig::default(),
    ));
    let resolver = registry.resolver("bench");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(resolver.deploy(&snapshot)).unwrap();
    (registry, resolver)
}

criterion_group!(convert, benches);
criterion_main!(convert);
