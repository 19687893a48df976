//! Generated keys of every kind, re-imported and checked (sizes, curves, kid, policy).

use jwk_core::{
    EcCurve, GenerateOptions, ImportOptions, Jwk, Key, KeySpec, KidType, OkpCurve, ThumbprintHash,
    Usage, generate, import,
};
use jwk_testkit::{openssl, temp_dir};

fn make(spec: KeySpec, usage: Usage, alg: &str, kid: KidType) -> Jwk {
    generate(&GenerateOptions {
        spec,
        usage,
        alg: alg.to_owned(),
        kid,
    })
    .unwrap_or_else(|e| panic!("{spec:?} {alg}: {}: {e}", e.code()))
}

/// Re-imports the canonical JSON and checks use, alg and the thumbprint kid.
fn reimported(jwk: &Jwk, usage: &str, alg: &str) -> Jwk {
    let json = jwk.to_json();
    let back = import(json.as_bytes(), &ImportOptions::default()).expect("re-import");
    assert_eq!(&back, jwk);
    assert!(
        json.contains(&format!(r#""use":"{usage}","alg":"{alg}""#)),
        "{json}"
    );
    assert_eq!(
        back.params().kid.as_deref(),
        Some(back.thumbprint(ThumbprintHash::Sha256).as_str())
    );
    back
}

#[test]
fn rsa_keys_of_every_size_are_valid_for_openssl_too() {
    for (bits, usage, alg, u) in [
        (2048, Usage::Signature, "RS256", "sig"),
        (3072, Usage::Signature, "PS256", "sig"),
        (4096, Usage::Encryption, "RSA-OAEP-256", "enc"),
    ] {
        let jwk = reimported(
            &make(KeySpec::Rsa { bits }, usage, alg, KidType::Thumbprint),
            u,
            alg,
        );
        let Key::Rsa(k) = jwk.key() else {
            panic!("not RSA")
        };
        assert_eq!(k.bits(), bits);
        assert_eq!(k.e(), [1, 0, 1]);
        assert!(k.is_private());
    }
    // OpenSSL's own check of a generated key, through its PKCS#8 form.
    let jwk = make(
        KeySpec::Rsa { bits: 2048 },
        Usage::Signature,
        "RS256",
        KidType::None,
    );
    let Key::Rsa(k) = jwk.key() else {
        panic!("not RSA")
    };
    let p = k.private().unwrap();
    let dir = temp_dir();
    let conf = format!(
        "asn1=SEQUENCE:k\n[k]\nv=INTEGER:0\nn=INTEGER:0x{}\ne=INTEGER:0x{}\nd=INTEGER:0x{}\np=INTEGER:0x{}\nq=INTEGER:0x{}\ndp=INTEGER:0x{}\ndq=INTEGER:0x{}\nqi=INTEGER:0x{}\n",
        hex(k.n()),
        hex(k.e()),
        hex(p.d.expose()),
        hex(p.p.expose()),
        hex(p.q.expose()),
        hex(p.dp.expose()),
        hex(p.dq.expose()),
        hex(p.qi.expose())
    );
    std::fs::write(dir.path().join("k.conf"), conf).unwrap();
    openssl(
        dir.path(),
        &["asn1parse", "-genconf", "k.conf", "-out", "k.der", "-noout"],
    );
    let out = openssl(
        dir.path(),
        &["rsa", "-inform", "DER", "-in", "k.der", "-check", "-noout"],
    );
    assert_eq!(String::from_utf8_lossy(&out).trim(), "RSA key ok");
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02X}")).collect()
}

#[test]
fn ec_keys_on_every_curve() {
    for (curve, alg) in [
        (EcCurve::P256, "ES256"),
        (EcCurve::P384, "ES384"),
        (EcCurve::P521, "ES512"),
        (EcCurve::Secp256k1, "ES256K"),
    ] {
        let jwk = reimported(
            &make(
                KeySpec::Ec(curve),
                Usage::Signature,
                alg,
                KidType::Thumbprint,
            ),
            "sig",
            alg,
        );
        let Key::Ec(k) = jwk.key() else {
            panic!("not EC")
        };
        assert_eq!(k.curve(), curve);
        assert_eq!(k.d().unwrap().len(), curve.field_len());
        assert_eq!(k.x().len(), curve.field_len());
    }
    make(
        KeySpec::Ec(EcCurve::P256),
        Usage::Encryption,
        "ECDH-ES+A256KW",
        KidType::None,
    );
}

#[test]
fn okp_keys_on_every_curve() {
    for (curve, usage, alg, u) in [
        (OkpCurve::Ed25519, Usage::Signature, "EdDSA", "sig"),
        (OkpCurve::Ed448, Usage::Signature, "EdDSA", "sig"),
        (OkpCurve::X25519, Usage::Encryption, "ECDH-ES", "enc"),
        (OkpCurve::X448, Usage::Encryption, "ECDH-ES+A128KW", "enc"),
    ] {
        let jwk = reimported(
            &make(KeySpec::Okp(curve), usage, alg, KidType::Thumbprint),
            u,
            alg,
        );
        let Key::Okp(k) = jwk.key() else {
            panic!("not OKP")
        };
        assert_eq!(k.curve(), curve);
        assert_eq!(k.x().len(), curve.public_len());
    }
}

#[test]
fn oct_keys_of_every_size() {
    for (bits, usage, alg, u) in [
        (128, Usage::Encryption, "A128KW", "enc"),
        (192, Usage::Encryption, "A192GCMKW", "enc"),
        (256, Usage::Signature, "HS256", "sig"),
        (384, Usage::Signature, "HS384", "sig"),
        (512, Usage::Signature, "HS512", "sig"),
    ] {
        let jwk = reimported(
            &make(KeySpec::Oct { bits }, usage, alg, KidType::Thumbprint),
            u,
            alg,
        );
        let Key::Oct(k) = jwk.key() else {
            panic!("not oct")
        };
        assert_eq!(k.k().len() * 8, bits);
    }
}

#[test]
fn kid_types() {
    let spec = KeySpec::Ec(EcCurve::P256);
    let uuid = make(spec, Usage::Signature, "ES256", KidType::Uuid);
    let kid = uuid.params().kid.clone().unwrap();
    assert_eq!(kid.len(), 36);
    assert_eq!(kid.matches('-').count(), 4);
    let ts = make(spec, Usage::Signature, "ES256", KidType::Timestamp);
    let kid = ts.params().kid.clone().unwrap();
    assert_eq!(kid.len(), "2026-11-23T12:45:01Z".len(), "{kid}");
    assert!(kid.ends_with('Z') && kid.as_bytes()[10] == b'T', "{kid}");
    let explicit = make(
        spec,
        Usage::Signature,
        "ES256",
        KidType::Explicit("k-1".into()),
    );
    assert_eq!(explicit.params().kid.as_deref(), Some("k-1"));
    let none = make(spec, Usage::Signature, "ES256", KidType::None);
    assert_eq!(none.params().kid, None);
    let a = make(spec, Usage::Signature, "ES256", KidType::None);
    assert_ne!(a.to_json(), none.to_json(), "two keys differ");
}

#[test]
fn policy_and_sizes_are_checked_before_generating() {
    let err = |spec, usage, alg: &str| {
        generate(&GenerateOptions {
            spec,
            usage,
            alg: alg.to_owned(),
            kid: KidType::None,
        })
        .map(|_| ())
        .unwrap_err()
        .to_string()
    };
    assert_eq!(
        err(KeySpec::Rsa { bits: 4096 }, Usage::Signature, "RSA-OAEP"),
        "algorithm RSA-OAEP cannot be used with a 4096-bit RSA key for SIGNATURE: RSA-OAEP is an encryption algorithm; valid are RS256, RS384, RS512, PS256, PS384, PS512"
    );
    assert_eq!(
        err(KeySpec::Rsa { bits: 1024 }, Usage::Signature, "RS256"),
        "RSA keys are generated with 2048, 3072 or 4096 bits, not 1024"
    );
    assert_eq!(
        err(KeySpec::Oct { bits: 100 }, Usage::Signature, "HS256"),
        "oct keys are generated with 128, 192, 256, 384 or 512 bits, not 100"
    );
    assert_eq!(
        err(KeySpec::Oct { bits: 256 }, Usage::Signature, "HS512"),
        "algorithm HS512 cannot be used with a 256-bit oct key for SIGNATURE: HS512 needs an oct key of at least 512 bits, this key has 256; valid are HS256"
    );
    assert_eq!(
        err(KeySpec::Ec(EcCurve::P384), Usage::Signature, "EC"),
        "algorithm must be a valid algorithm name, not a key type"
    );
}
