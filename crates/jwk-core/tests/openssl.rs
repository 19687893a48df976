//! Keys and certificates made at test time with the `openssl` CLI, in every format the
//! importer reads, each compared with a JWK built independently from `openssl pkey -text`.

use std::path::Path;

use jwk_core::{Error, ImportOptions, KdfLimits, Usage, import, valid_algorithms};
use jwk_testkit::{b64std, b64url, field, openssl, openssl_key_fields, read, temp_dir};

const PASS: &str = "correct horse";

fn opts(password: Option<&str>) -> ImportOptions<'_> {
    ImportOptions {
        password,
        ..ImportOptions::default()
    }
}

fn import_file(dir: &Path, name: &str, password: Option<&str>) -> Result<String, Error> {
    import(&read(dir, name), &opts(password)).map(|j| j.to_json())
}

fn import_ok(dir: &Path, name: &str, password: Option<&str>) -> String {
    import_file(dir, name, password).unwrap_or_else(|e| panic!("{name}: {}: {e}", e.code()))
}

/// The key as `openssl pkey -text` prints it, written as our canonical JWK (private, public).
fn expected_jwk(dir: &Path, kty: &str, crv: &str) -> (String, String) {
    let text = String::from_utf8(openssl(dir, &["pkey", "-in", "k.pem", "-text", "-noout"]))
        .expect("utf8");
    let f = openssl_key_fields(&text);
    let g = |name: &str| b64url(&field(&f, name, true));
    match kty {
        "RSA" => {
            let public = format!(
                r#"{{"kty":"RSA","n":"{}","e":"{}"}}"#,
                g("modulus"),
                g("publicExponent")
            );
            let private = format!(
                r#"{{"kty":"RSA","n":"{}","e":"{}","d":"{}","p":"{}","q":"{}","dp":"{}","dq":"{}","qi":"{}"}}"#,
                g("modulus"),
                g("publicExponent"),
                g("privateExponent"),
                g("prime1"),
                g("prime2"),
                g("exponent1"),
                g("exponent2"),
                g("coefficient")
            );
            (private, public)
        }
        "EC" => {
            let point = field(&f, "pub", false);
            assert_eq!(point[0], 4, "openssl prints the uncompressed point");
            let len = (point.len() - 1) / 2;
            let (x, y) = (b64url(&point[1..1 + len]), b64url(&point[1 + len..]));
            let priv_raw = field(&f, "priv", true);
            let mut d = vec![0u8; len - priv_raw.len()];
            d.extend_from_slice(&priv_raw);
            (
                format!(
                    r#"{{"kty":"EC","crv":"{crv}","x":"{x}","y":"{y}","d":"{}"}}"#,
                    b64url(&d)
                ),
                format!(r#"{{"kty":"EC","crv":"{crv}","x":"{x}","y":"{y}"}}"#),
            )
        }
        _ => {
            let x = b64url(&field(&f, "pub", false));
            let d = b64url(&field(&f, "priv", false));
            (
                format!(r#"{{"kty":"OKP","crv":"{crv}","x":"{x}","d":"{d}"}}"#),
                format!(r#"{{"kty":"OKP","crv":"{crv}","x":"{x}"}}"#),
            )
        }
    }
}

/// Writes k.pem with `genpkey`, then every derived format, and checks each import.
fn check_every_format(kty: &str, crv: &str, genpkey: &[&str]) {
    let dir = temp_dir();
    let d = dir.path();
    let mut args = vec!["genpkey"];
    args.extend_from_slice(genpkey);
    args.extend_from_slice(&["-out", "k.pem"]);
    openssl(d, &args);
    let (private, public) = expected_jwk(d, kty, crv);

    // Unencrypted private key: PKCS#8 PEM and DER, and the traditional forms.
    assert_eq!(import_ok(d, "k.pem", None), private, "PKCS#8 PEM");
    openssl(
        d,
        &["pkey", "-in", "k.pem", "-outform", "DER", "-out", "k.der"],
    );
    assert_eq!(import_ok(d, "k.der", None), private, "PKCS#8 DER");
    let traditional: &[&str] = match kty {
        "RSA" => &["rsa", "-traditional"],
        "EC" => &["ec"],
        _ => &[],
    };
    if !traditional.is_empty() {
        for (form, out) in [("PEM", "t.pem"), ("DER", "t.der")] {
            let mut a = traditional.to_vec();
            a.extend_from_slice(&["-in", "k.pem", "-outform", form, "-out", out]);
            openssl(d, &a);
            assert_eq!(import_ok(d, out, None), private, "traditional {form}");
        }
        // OpenSSL's traditional encrypted PEM (Proc-Type / DEK-Info).
        let pass = format!("pass:{PASS}");
        for cipher in ["-aes128", "-aes192", "-aes256", "-des3", "-des"] {
            let mut a = traditional.to_vec();
            a.extend_from_slice(&["-in", "k.pem", cipher, "-passout", &pass, "-out", "te.pem"]);
            if cipher == "-des" {
                a.extend_from_slice(&["-provider", "legacy", "-provider", "default"]);
            }
            openssl(d, &a);
            assert!(String::from_utf8_lossy(&read(d, "te.pem")).contains("DEK-Info"));
            assert_eq!(
                import_ok(d, "te.pem", Some(PASS)),
                private,
                "traditional {cipher}"
            );
            assert_eq!(
                import_file(d, "te.pem", Some("nope")).unwrap_err(),
                Error::BadPassword,
                "traditional {cipher} wrong password"
            );
            assert_eq!(
                import_file(d, "te.pem", None).unwrap_err(),
                Error::PasswordRequired
            );
        }
    }

    // Encrypted PKCS#8: PBES2 (PBKDF2 with SHA-1 / SHA-256, AES and 3DES; scrypt) and PBES1.
    let schemes: &[&[&str]] = &[
        &["-v2", "aes-128-cbc", "-v2prf", "hmacWithSHA1"],
        &["-v2", "aes-192-cbc", "-v2prf", "hmacWithSHA256"],
        &["-v2", "aes-256-cbc"],
        &["-v2", "des3", "-v2prf", "hmacWithSHA1"],
        &["-v2", "aes-256-cbc", "-v2prf", "hmacWithSHA512"],
        &["-scrypt"],
        &["-v1", "PBE-SHA1-3DES"],
        &["-v1", "PBE-SHA1-2DES"],
        &[
            "-v1",
            "PBE-MD5-DES",
            "-provider",
            "legacy",
            "-provider",
            "default",
        ],
        &[
            "-v1",
            "PBE-SHA1-DES",
            "-provider",
            "legacy",
            "-provider",
            "default",
        ],
        &[
            "-v1",
            "PBE-MD5-RC2-64",
            "-provider",
            "legacy",
            "-provider",
            "default",
        ],
        &[
            "-v1",
            "PBE-SHA1-RC2-64",
            "-provider",
            "legacy",
            "-provider",
            "default",
        ],
        &[
            "-v1",
            "PBE-SHA1-RC2-128",
            "-provider",
            "legacy",
            "-provider",
            "default",
        ],
        &[
            "-v1",
            "PBE-SHA1-RC2-40",
            "-provider",
            "legacy",
            "-provider",
            "default",
        ],
        &[
            "-v1",
            "PBE-SHA1-RC4-128",
            "-provider",
            "legacy",
            "-provider",
            "default",
        ],
        &[
            "-v1",
            "PBE-SHA1-RC4-40",
            "-provider",
            "legacy",
            "-provider",
            "default",
        ],
    ];
    for scheme in schemes {
        let mut a = vec!["pkcs8", "-topk8", "-in", "k.pem", "-passout"];
        let pass = format!("pass:{PASS}");
        a.push(&pass);
        a.extend_from_slice(scheme);
        a.extend_from_slice(&["-out", "e.pem"]);
        openssl(d, &a);
        assert_eq!(import_ok(d, "e.pem", Some(PASS)), private, "{scheme:?}");
        let wrong = import_file(d, "e.pem", Some("wrong password"));
        assert_eq!(
            wrong.unwrap_err(),
            Error::BadPassword,
            "{scheme:?} wrong password"
        );
    }
    openssl(
        d,
        &[
            "pkcs8",
            "-topk8",
            "-in",
            "k.pem",
            "-passout",
            &format!("pass:{PASS}"),
            "-outform",
            "DER",
            "-out",
            "e.der",
        ],
    );
    assert_eq!(
        import_ok(d, "e.der", Some(PASS)),
        private,
        "encrypted PKCS#8 DER"
    );
    assert_eq!(
        import_file(d, "e.der", None).unwrap_err(),
        Error::PasswordRequired
    );

    // Public keys: SubjectPublicKeyInfo PEM/DER, PKCS#1 for RSA, compressed points for EC.
    openssl(d, &["pkey", "-in", "k.pem", "-pubout", "-out", "p.pem"]);
    openssl(
        d,
        &[
            "pkey", "-in", "k.pem", "-pubout", "-outform", "DER", "-out", "p.der",
        ],
    );
    assert_eq!(import_ok(d, "p.pem", None), public, "SPKI PEM");
    assert_eq!(import_ok(d, "p.der", None), public, "SPKI DER");
    if kty == "RSA" && !genpkey.contains(&"RSA-PSS") {
        openssl(
            d,
            &["rsa", "-in", "k.pem", "-RSAPublicKey_out", "-out", "p1.pem"],
        );
        openssl(
            d,
            &[
                "rsa",
                "-in",
                "k.pem",
                "-RSAPublicKey_out",
                "-outform",
                "DER",
                "-out",
                "p1.der",
            ],
        );
        assert_eq!(import_ok(d, "p1.pem", None), public, "PKCS#1 public PEM");
        assert_eq!(import_ok(d, "p1.der", None), public, "PKCS#1 public DER");
    }
    if kty == "EC" {
        openssl(
            d,
            &[
                "ec",
                "-in",
                "k.pem",
                "-pubout",
                "-conv_form",
                "compressed",
                "-out",
                "pc.pem",
            ],
        );
        assert_eq!(import_ok(d, "pc.pem", None), public, "compressed EC point");
    }

    // Certificates (not for X25519/X448, which cannot sign).
    if !matches!(crv, "X25519" | "X448") {
        openssl(
            d,
            &[
                "req",
                "-x509",
                "-new",
                "-key",
                "k.pem",
                "-subj",
                "/CN=jwk-test",
                "-days",
                "2",
                "-out",
                "c.pem",
            ],
        );
        openssl(
            d,
            &["x509", "-in", "c.pem", "-outform", "DER", "-out", "c.der"],
        );
        let cert = read(d, "c.der");
        let digest = openssl(d, &["dgst", "-sha256", "-binary", "c.der"]);
        let with_cert = format!(
            r#"{},"x5c":["{}"],"x5t#S256":"{}"}}"#,
            public.strip_suffix('}').expect("object"),
            b64std(&cert),
            b64url(&digest)
        );
        assert_eq!(import_ok(d, "c.pem", None), with_cert, "certificate PEM");
        assert_eq!(import_ok(d, "c.der", None), with_cert, "certificate DER");
        // A bundle with text, a parameters block and the key after the certificate: the
        // first block that holds a key or certificate wins.
        let mut bundle = b"subject=CN=jwk-test\n-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n".to_vec();
        bundle.extend_from_slice(&read(d, "c.pem"));
        bundle.extend_from_slice(&read(d, "k.pem"));
        let jwk = import(&bundle, &opts(None)).expect("bundle");
        assert_eq!(jwk.to_json(), with_cert, "bundle");
    }
}

#[test]
fn rsa_2048_every_format() {
    check_every_format(
        "RSA",
        "",
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
    );
}

#[test]
fn rsa_3072_exponent_3_every_format() {
    check_every_format(
        "RSA",
        "",
        &[
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:3072",
            "-pkeyopt",
            "rsa_keygen_pubexp:3",
        ],
    );
}

#[test]
fn ec_p256_every_format() {
    check_every_format(
        "EC",
        "P-256",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
}

#[test]
fn ec_p384_every_format() {
    check_every_format(
        "EC",
        "P-384",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
    );
}

#[test]
fn ec_p521_every_format() {
    check_every_format(
        "EC",
        "P-521",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-521"],
    );
}

#[test]
fn ec_secp256k1_every_format() {
    check_every_format(
        "EC",
        "secp256k1",
        &[
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:secp256k1",
        ],
    );
}

#[test]
fn ed25519_every_format() {
    check_every_format("OKP", "Ed25519", &["-algorithm", "ED25519"]);
}

#[test]
fn x25519_every_format() {
    check_every_format("OKP", "X25519", &["-algorithm", "X25519"]);
}

#[test]
fn ed448_every_format() {
    check_every_format("OKP", "Ed448", &["-algorithm", "ED448"]);
}

#[test]
fn x448_every_format() {
    check_every_format("OKP", "X448", &["-algorithm", "X448"]);
}

#[test]
fn rsa_pss_without_parameters_is_rsa_for_ps_algorithms_only() {
    check_every_format(
        "RSA",
        "",
        &["-algorithm", "RSA-PSS", "-pkeyopt", "rsa_keygen_bits:2048"],
    );
    let dir = temp_dir();
    openssl(
        dir.path(),
        &[
            "genpkey",
            "-algorithm",
            "RSA-PSS",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-out",
            "k.pem",
        ],
    );
    let jwk = import(&read(dir.path(), "k.pem"), &opts(None)).expect("import");
    assert_eq!(
        valid_algorithms(jwk.key(), Usage::Signature),
        ["PS256", "PS384", "PS512"]
    );
    assert!(valid_algorithms(jwk.key(), Usage::Encryption).is_empty());
    let err = jwk_core::check_algorithm(jwk.key(), Usage::Signature, "RS256").unwrap_err();
    assert_eq!(err.code(), "policy.algorithm_mismatch");
    assert_eq!(
        err.to_string(),
        "algorithm RS256 cannot be used with a 2048-bit RSASSA-PSS key for SIGNATURE: an RSASSA-PSS key is for PS256, PS384 or PS512 signatures only; valid are PS256, PS384, PS512"
    );
}

#[test]
fn rsa_pss_with_sha384_parameters_allows_ps384_only() {
    check_every_format(
        "RSA",
        "",
        &[
            "-algorithm",
            "RSA-PSS",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-pkeyopt",
            "rsa_pss_keygen_md:sha384",
            "-pkeyopt",
            "rsa_pss_keygen_saltlen:48",
        ],
    );
    let dir = temp_dir();
    openssl(
        dir.path(),
        &[
            "genpkey",
            "-algorithm",
            "RSA-PSS",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
            "-pkeyopt",
            "rsa_pss_keygen_md:sha384",
            "-out",
            "k.pem",
        ],
    );
    openssl(
        dir.path(),
        &["pkey", "-in", "k.pem", "-pubout", "-out", "p.pem"],
    );
    for name in ["k.pem", "p.pem"] {
        let jwk = import(&read(dir.path(), name), &opts(None)).expect("import");
        assert_eq!(
            valid_algorithms(jwk.key(), Usage::Signature),
            ["PS384"],
            "{name}"
        );
    }
}

#[test]
fn kdf_costs_above_the_caps_are_refused_before_deriving() {
    let dir = temp_dir();
    let d = dir.path();
    openssl(
        d,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-out",
            "k.pem",
        ],
    );
    let pass = format!("pass:{PASS}");
    openssl(
        d,
        &[
            "pkcs8",
            "-topk8",
            "-in",
            "k.pem",
            "-passout",
            &pass,
            "-iter",
            "5000",
            "-out",
            "pbkdf2.pem",
        ],
    );
    openssl(
        d,
        &[
            "pkcs8",
            "-topk8",
            "-in",
            "k.pem",
            "-passout",
            &pass,
            "-scrypt",
            "-scrypt_N",
            "16384",
            "-scrypt_r",
            "8",
            "-scrypt_p",
            "1",
            "-out",
            "scrypt.pem",
        ],
    );
    openssl(
        d,
        &[
            "pkcs8",
            "-topk8",
            "-in",
            "k.pem",
            "-passout",
            &pass,
            "-v1",
            "PBE-SHA1-3DES",
            "-iter",
            "5000",
            "-out",
            "pbes1.pem",
        ],
    );
    let limits = KdfLimits {
        max_iterations: 4999,
        max_scrypt_work: 16384 * 8 - 1,
        max_scrypt_memory: 64 << 20,
    };
    let capped = |name: &str| {
        import(
            &read(d, name),
            &ImportOptions {
                password: Some(PASS),
                kdf_limits: limits,
                ..ImportOptions::default()
            },
        )
        .unwrap_err()
    };
    let e = capped("pbkdf2.pem");
    assert_eq!(e.code(), "pkcs8.kdf_limit");
    assert_eq!(
        e.to_string(),
        "refused to derive the decryption key: the key asks for 5000 iterations, above the cap of 4999 (raise KdfLimits::max_iterations if you trust the file)"
    );
    assert_eq!(capped("pbes1.pem").code(), "pkcs8.kdf_limit");
    let e = capped("scrypt.pem");
    assert_eq!(
        e.to_string(),
        "refused to derive the decryption key: the key asks for scrypt N=16384, r=8, p=1 (work N·r·p = 131072, memory 16777216 bytes), above the caps of 131071 work and 67108864 bytes (see KdfLimits)"
    );
    // The default caps let all three through.
    for name in ["pbkdf2.pem", "scrypt.pem", "pbes1.pem"] {
        import_ok(d, name, Some(PASS));
    }
}
