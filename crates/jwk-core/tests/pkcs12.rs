//! PKCS#12 keystores: OpenSSL 3 default and legacy files made at test time, Java keytool
//! files from testdata/keystores, aliases, chains, passwords and KDF caps.

use std::path::Path;

use jwk_core::{Error, ImportOptions, Jwk, KdfLimits, import, keystore_entries};
use jwk_testkit::{b64std, openssl, pkcs12_build, read, temp_dir, workspace_root};

fn open(der: &[u8], password: Option<&str>, alias: Option<&str>) -> Result<Jwk, Error> {
    import(
        der,
        &ImportOptions {
            password,
            alias,
            ..ImportOptions::default()
        },
    )
}

/// The key material of a JWK, parameters dropped.
fn material(jwk: &Jwk) -> String {
    let mut bare = jwk.clone();
    *bare.params_mut() = Default::default();
    bare.to_json()
}

/// A CA and a leaf signed by it, the leaf's key in `leaf.key`.
fn make_chain(d: &Path, algorithm: &[&str]) {
    let mut args = vec!["genpkey"];
    args.extend_from_slice(algorithm);
    openssl(d, &[&args[..], &["-out", "ca.key"]].concat());
    openssl(d, &[&args[..], &["-out", "leaf.key"]].concat());
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "ca.key",
            "-subj",
            "/CN=test-ca",
            "-days",
            "2",
            "-out",
            "ca.pem",
        ],
    );
    openssl(
        d,
        &[
            "req", "-new", "-key", "leaf.key", "-subj", "/CN=leaf", "-out", "leaf.csr",
        ],
    );
    openssl(
        d,
        &[
            "x509",
            "-req",
            "-in",
            "leaf.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            "leaf.pem",
        ],
    );
    openssl(
        d,
        &[
            "x509", "-in", "leaf.pem", "-outform", "DER", "-out", "leaf.der",
        ],
    );
    openssl(
        d,
        &["x509", "-in", "ca.pem", "-outform", "DER", "-out", "ca.der"],
    );
}

fn check_keystore(algorithm: &[&str], export: &[&str]) {
    let dir = temp_dir();
    let d = dir.path();
    make_chain(d, algorithm);
    let mut args = vec![
        "pkcs12",
        "-export",
        "-inkey",
        "leaf.key",
        "-in",
        "leaf.pem",
        "-certfile",
        "ca.pem",
        "-name",
        "my-alias",
        "-passout",
        "pass:store-pw",
        "-out",
        "k.p12",
    ];
    args.extend_from_slice(export);
    openssl(d, &args);
    let p12 = read(d, "k.p12");
    let expected = import(&read(d, "leaf.key"), &ImportOptions::default()).unwrap();

    for alias in [None, Some("my-alias")] {
        let jwk = open(&p12, Some("store-pw"), alias).unwrap_or_else(|e| panic!("{export:?}: {e}"));
        assert_eq!(material(&jwk), material(&expected), "{export:?}");
        let x5c = jwk.params().x5c.as_ref().expect("x5c");
        assert_eq!(
            x5c,
            &[read(d, "leaf.der"), read(d, "ca.der")],
            "chain, leaf first"
        );
        let digest = openssl(d, &["dgst", "-sha256", "-binary", "leaf.der"]);
        assert_eq!(jwk.params().x5t_s256.as_deref(), Some(&digest[..]));
        assert!(
            jwk.to_json()
                .contains(&format!(r#""x5c":["{}","#, b64std(&x5c[0])))
        );
    }
    assert_eq!(
        open(&p12, Some("wrong"), None).unwrap_err(),
        Error::KeystoreBadPassword,
        "{export:?}"
    );
    let e = open(&p12, Some("store-pw"), Some("other")).unwrap_err();
    assert_eq!(e.code(), "pkcs12.alias_not_found");
    assert_eq!(
        e.to_string(),
        r#"no entry with alias "other" in the keystore (aliases: "my-alias")"#
    );
}

#[test]
fn openssl3_default_keystore_rsa() {
    check_keystore(
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        &[],
    );
}

#[test]
fn openssl3_default_keystore_ec() {
    check_keystore(
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-384"],
        &[],
    );
}

#[test]
fn openssl_legacy_keystore_rsa_and_ec() {
    let legacy = ["-legacy"];
    check_keystore(
        &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
        &legacy,
    );
    check_keystore(
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        &legacy,
    );
}

#[test]
fn keystore_without_mac() {
    check_keystore(
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        &["-nomac"],
    );
}

#[test]
fn keystore_with_ed25519() {
    check_keystore(&["-algorithm", "ED25519"], &[]);
}

#[test]
fn keytool_keystore_with_several_entries() {
    let dir = workspace_root().join("testdata/keystores");
    let p12 = std::fs::read(dir.join("keytool-multi.p12")).unwrap();
    let e = open(&p12, Some("changeit"), None).unwrap_err();
    assert_eq!(e.code(), "pkcs12.alias_required");
    assert_eq!(
        e.to_string(),
        r#"the keystore holds several entries: give an alias to choose one (aliases: "rsa-signing", "ec-p256", "trusted-ca")"#
    );
    for alias in ["rsa-signing", "ec-p256", "trusted-ca"] {
        let jwk = open(&p12, Some("changeit"), Some(alias)).unwrap();
        let cert = std::fs::read(dir.join(format!("{alias}.crt.der"))).unwrap();
        let from_cert = import(&cert, &ImportOptions::default()).unwrap();
        assert_eq!(
            material(&jwk.to_public().unwrap()),
            material(&from_cert),
            "{alias}"
        );
        assert_eq!(jwk.params().x5c.as_ref().unwrap()[0], cert, "{alias}");
        assert_eq!(jwk.is_private(), alias != "trusted-ca", "{alias}");
    }
    let entries = keystore_entries(&p12, Some("changeit"), &KdfLimits::default()).unwrap();
    let listed: Vec<String> = entries.iter().map(ToString::to_string).collect();
    assert_eq!(
        listed,
        [
            "rsa-signing\tRSA 2048\tprivate-key\t1 certificate",
            "ec-p256\tEC P-256\tprivate-key\t1 certificate",
            "trusted-ca\tOKP Ed25519\tcertificate\t1 certificate",
        ]
    );
}

#[test]
fn keystore_listing_reads_base64_and_names_what_is_missing_or_wrong() {
    let dir = workspace_root().join("testdata/keystores");
    let p12 = std::fs::read(dir.join("keytool-multi.p12")).unwrap();
    let limits = KdfLimits::default();
    let from_base64 = keystore_entries(b64std(&p12).as_bytes(), Some("changeit"), &limits);
    assert_eq!(from_base64.unwrap().len(), 3);
    let e = keystore_entries(&p12, None, &limits).unwrap_err();
    assert_eq!(
        (e.code(), e.to_string().as_str()),
        (
            "pkcs12.password_required",
            "the keystore is protected by a password: give it"
        )
    );
    let e = keystore_entries(&p12, Some("guess"), &limits).unwrap_err();
    assert_eq!(e.code(), "pkcs12.bad_password");
    let e = open(&p12, None, None).unwrap_err();
    assert_eq!(e.code(), "pkcs12.password_required");
    let jks = std::fs::read(dir.join("keytool.jks")).unwrap();
    let e = keystore_entries(&jks, None, &limits).unwrap_err();
    assert_eq!(e.code(), "pkcs12.password_required");

    let pem = b"[ req ]\n-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=\n-----END PUBLIC KEY-----\n";
    let cases: [(&[u8], &str); 5] = [
        (
            pem,
            "the input is not a keystore (PKCS#12 or JKS) but a PEM file with the blocks PUBLIC KEY: import it as a key, certificate or JWK instead",
        ),
        (
            &std::fs::read(dir.join("trusted-ca.crt.der")).unwrap(),
            "the input is not a keystore (PKCS#12 or JKS) but a DER X.509 certificate: import it as a key, certificate or JWK instead",
        ),
        (
            b"MCowBQYDK2VwAyEAGb9ECWmEzf6FQbrBZ9w7lshQhqowtrbLDFw4rXAxZuE=",
            "the input is not a keystore (PKCS#12 or JKS) but base64 of a DER public key (SubjectPublicKeyInfo): import it as a key, certificate or JWK instead",
        ),
        (
            b" [1, 2] ",
            "the input is not a keystore (PKCS#12 or JKS) but JSON: import it as a key, certificate or JWK instead",
        ),
        (
            b"  \n",
            "the input is not a keystore (PKCS#12 or JKS) but data that is empty",
        ),
    ];
    for (input, message) in cases {
        let e = keystore_entries(input, Some("changeit"), &limits).unwrap_err();
        assert_eq!(
            (e.code(), e.to_string().as_str()),
            ("pkcs12.not_a_keystore", message)
        );
    }
}

#[test]
fn keytool_legacy_keystore() {
    let dir = workspace_root().join("testdata/keystores");
    let p12 = std::fs::read(dir.join("keytool-legacy.p12")).unwrap();
    let jwk = open(&p12, Some("changeit"), None).unwrap();
    let cert = std::fs::read(dir.join("legacy-rsa.crt.der")).unwrap();
    let from_cert = import(&cert, &ImportOptions::default()).unwrap();
    assert_eq!(material(&jwk.to_public().unwrap()), material(&from_cert));
    assert_eq!(
        open(&p12, None, None).unwrap_err(),
        Error::KeystorePasswordRequired
    );
    assert_eq!(
        open(&p12, Some("nope"), None).unwrap_err().code(),
        "pkcs12.bad_password"
    );
}

#[test]
fn keystore_kdf_costs_are_capped() {
    let dir = temp_dir();
    let d = dir.path();
    one_key(d);
    let p12 = export(
        d,
        "k.p12",
        &["-passout", "pass:pw", "-iter", "3000", "-maciter"],
    );
    let capped = |max: u64| {
        import(
            &p12,
            &ImportOptions {
                password: Some("pw"),
                kdf_limits: KdfLimits {
                    max_iterations: max,
                    ..KdfLimits::default()
                },
                ..ImportOptions::default()
            },
        )
    };
    let e = capped(2999).unwrap_err();
    assert_eq!(e.code(), "pkcs8.kdf_limit");
    assert!(e.to_string().contains("asks for 3000 iterations"), "{e}");
    assert!(capped(3000).is_ok());
}

#[test]
fn corrupt_keystores_are_malformed_not_a_panic() {
    let dir = temp_dir();
    let d = dir.path();
    one_key(d);
    let p12 = export(d, "k.p12", &["-passout", "pass:pw"]);
    for cut in (10..p12.len()).step_by(97) {
        let e = open(&p12[..cut], Some("pw"), None).unwrap_err();
        assert!(
            ["input.unrecognized", "pkcs12.malformed", "der.malformed"].contains(&e.code()),
            "cut {cut}: {} {e}",
            e.code()
        );
    }
    let mut flipped = p12.clone();
    let middle = flipped.len() / 2;
    flipped[middle] ^= 0x55;
    let e = open(&flipped, Some("pw"), None).unwrap_err();
    assert!(
        ["pkcs12.bad_password", "pkcs12.malformed"].contains(&e.code()),
        "{} {e}",
        e.code()
    );
}

/// An EC P-256 key (`k.key`, PEM) and its self-signed certificate (`k.crt`) in `d`.
fn one_key(d: &Path) {
    jwk_testkit::openssl_key_pair(
        d,
        "k",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    jwk_testkit::openssl_self_signed(d, "k", "/CN=k");
}

/// Exports `k.key` and `k.crt` as `out` with the extra `pkcs12 -export` arguments.
fn export(d: &Path, out: &str, extra: &[&str]) -> Vec<u8> {
    let args = [
        &[
            "pkcs12", "-export", "-inkey", "k.key", "-in", "k.crt", "-out", out,
        ][..],
        extra,
    ]
    .concat();
    openssl(d, &args);
    read(d, out)
}

#[test]
fn keystore_with_an_empty_password() {
    let dir = temp_dir();
    let d = dir.path();
    one_key(d);
    let expected = material(&import(&read(d, "k.key"), &ImportOptions::default()).unwrap());
    for extra in [
        &["-passout", "pass:"][..],
        &["-passout", "pass:", "-legacy"],
    ] {
        let p12 = export(d, "empty.p12", extra);
        for password in [None, Some("")] {
            let jwk = open(&p12, password, None).unwrap();
            assert_eq!(material(&jwk), expected, "{extra:?} {password:?}");
        }
        assert_eq!(
            open(&p12, Some("x"), None).unwrap_err(),
            Error::KeystoreBadPassword
        );
    }
}

#[test]
fn passwords_outside_the_bmp_and_non_ascii_aliases() {
    let dir = temp_dir();
    let d = dir.path();
    one_key(d);
    let expected = material(&import(&read(d, "k.key"), &ImportOptions::default()).unwrap());
    let password = "🔑пароль";
    let pass = format!("pass:{password}");
    for extra in [&["-legacy"][..], &[]] {
        let args = [&["-passout", pass.as_str(), "-name", "ключ"][..], extra].concat();
        let p12 = export(d, "k.p12", &args);
        let jwk = open(&p12, Some(password), Some("ключ")).unwrap();
        assert_eq!(material(&jwk), expected, "{extra:?}");
        assert_eq!(
            open(&p12, Some("🔑"), None).unwrap_err(),
            Error::KeystoreBadPassword
        );
        let entries = keystore_entries(&p12, Some(password), &KdfLimits::default()).unwrap();
        assert_eq!(entries[0].alias.as_deref(), Some("ключ"));
    }
}

#[test]
fn unencrypted_keystores_and_other_mac_digests() {
    let dir = temp_dir();
    let d = dir.path();
    one_key(d);
    let expected = material(&import(&read(d, "k.key"), &ImportOptions::default()).unwrap());
    let plain = ["-keypbe", "NONE", "-certpbe", "NONE", "-passout", "pass:pw"];
    for (extra, password) in [
        (&plain[..], Some("pw")),
        (&[&plain[..], &["-nomac"]].concat(), None),
        (&["-passout", "pass:pw", "-macalg", "sha512"], Some("pw")),
        (&["-passout", "pass:pw", "-macalg", "sha384"], Some("pw")),
        (&["-passout", "pass:pw", "-macalg", "sha1"], Some("pw")),
    ] {
        let p12 = export(d, "k.p12", extra);
        let jwk = open(&p12, password, None).unwrap_or_else(|e| panic!("{extra:?}: {e}"));
        assert_eq!(material(&jwk), expected, "{extra:?}");
        assert_eq!(
            jwk.params().x5c.as_deref(),
            Some(&[pem_body(&read(d, "k.crt"))][..]),
            "{extra:?}"
        );
        if password.is_some() {
            assert_eq!(
                open(&p12, Some("wrong"), None).unwrap_err(),
                Error::KeystoreBadPassword,
                "{extra:?}"
            );
        }
    }
}

/// The DER inside a one-block PEM file.
fn pem_body(pem: &[u8]) -> Vec<u8> {
    use base64ct::{Base64, Encoding};
    let text = std::str::from_utf8(pem).unwrap();
    let body: String = text.lines().filter(|l| !l.starts_with("-----")).collect();
    Base64::decode_vec(&body).unwrap()
}

/// `k.key` as PKCS#8 DER and `k.crt` as DER.
fn key_and_cert_der(d: &Path) -> (Vec<u8>, Vec<u8>) {
    openssl(
        d,
        &[
            "pkcs8", "-topk8", "-nocrypt", "-in", "k.key", "-outform", "DER", "-out", "k.der",
        ],
    );
    (read(d, "k.der"), pem_body(&read(d, "k.crt")))
}

#[test]
fn nested_safe_contents_and_the_absent_password() {
    let dir = temp_dir();
    let d = dir.path();
    one_key(d);
    let (pkcs8, cert) = key_and_cert_der(d);
    let expected = material(&import(&pkcs8, &ImportOptions::default()).unwrap());
    let key = pkcs12_build::key_bag(&pkcs8, "nested", &[1]);
    let cert_bag = pkcs12_build::cert_bag(&cert, &[1]);
    let inner = pkcs12_build::nested(&[&key, &cert_bag]);
    let outer = pkcs12_build::nested(&[&inner]);
    // OpenSSL's absent password MACs with no bytes at all; the empty one with a terminator.
    for mac_password in [&[][..], &[0, 0]] {
        let p12 = pkcs12_build::pfx(&[&outer], Some(mac_password));
        for password in [None, Some("")] {
            let jwk = open(&p12, password, Some("nested")).unwrap();
            assert_eq!(material(&jwk), expected);
            assert_eq!(jwk.params().x5c.as_deref(), Some(&[cert.clone()][..]));
        }
        assert_eq!(
            open(&p12, Some("pw"), None).unwrap_err(),
            Error::KeystoreBadPassword
        );
    }
    let mut deep = pkcs12_build::nested(&[&key]);
    for _ in 0..8 {
        deep = pkcs12_build::nested(&[&deep]);
    }
    let e = open(&pkcs12_build::pfx(&[&deep], None), None, None).unwrap_err();
    assert_eq!(e.code(), "pkcs12.malformed");
    assert_eq!(
        e.to_string(),
        "the keystore is malformed: PKCS#12 SafeContents: nested more than 8 deep"
    );
}

#[test]
fn encrypted_safe_contents_in_either_form() {
    let dir = temp_dir();
    let d = dir.path();
    one_key(d);
    let (pkcs8, cert) = key_and_cert_der(d);
    let expected = material(&import(&pkcs8, &ImportOptions::default()).unwrap());
    let key = pkcs12_build::key_bag(&pkcs8, "k", &[9]);
    let cert_bag = pkcs12_build::cert_bag(&cert, &[9]);
    for segmented in [false, true] {
        let p12 = pkcs12_build::pfx_encrypted(&[&key], &[&cert_bag], "pw", segmented);
        let jwk = open(&p12, Some("pw"), None).unwrap();
        assert_eq!(material(&jwk), expected);
        assert_eq!(jwk.params().x5c.as_deref(), Some(&[cert.clone()][..]));
        assert_eq!(
            open(&p12, Some("wrong"), None).unwrap_err(),
            Error::KeystoreBadPassword
        );
    }
}

#[test]
fn other_integrity_and_privacy_modes_are_refused_by_name() {
    let signed =
        pkcs12_build::with_auth_safe(pkcs12_build::SIGNED_DATA, &pkcs12_build::seq(&[]), None);
    let e = open(&signed, Some("pw"), None).unwrap_err();
    assert_eq!(e.code(), "pkcs8.unsupported_encryption");
    assert_eq!(
        e.to_string(),
        "unsupported key encryption: PKCS#12 public-key integrity mode (a signedData authSafe)"
    );

    let enveloped = pkcs12_build::seq(&[&pkcs12_build::seq(&[
        &pkcs12_build::oid(pkcs12_build::ENVELOPED_DATA),
        &pkcs12_build::tlv(0xA0, &pkcs12_build::seq(&[])),
    ])]);
    let p12 = pkcs12_build::with_auth_safe(
        pkcs12_build::DATA,
        &pkcs12_build::tlv(0x04, &enveloped),
        None,
    );
    assert_eq!(
        open(&p12, Some("pw"), None).unwrap_err().to_string(),
        "unsupported key encryption: PKCS#12 public-key privacy mode (envelopedData)"
    );

    let auth_safe = pkcs12_build::seq(&[]);
    let pbmac1 =
        pkcs12_build::mac_data(&pkcs12_build::oid(pkcs12_build::PBMAC1), &[0; 32], &[1; 8]);
    let p12 = pkcs12_build::with_auth_safe(
        pkcs12_build::DATA,
        &pkcs12_build::tlv(0x04, &auth_safe),
        Some(pbmac1),
    );
    assert_eq!(
        open(&p12, Some("pw"), None).unwrap_err().to_string(),
        "unsupported key encryption: PKCS#12 MAC PBMAC1 (RFC 9579; re-export with an HMAC-SHA-256 MAC)"
    );
}

#[test]
fn long_chains_are_cut_at_16_certificates() {
    let dir = temp_dir();
    let d = dir.path();
    one_key(d);
    // c0 is self-signed; c1 … c19 each signed by the one before (all with the one key).
    openssl(
        d,
        &[
            "req", "-x509", "-new", "-key", "k.key", "-subj", "/CN=c0", "-days", "2", "-out",
            "c0.pem",
        ],
    );
    let mut all = read(d, "c0.pem");
    for i in 1..20 {
        let (csr, pem, prev) = (
            format!("c{i}.csr"),
            format!("c{i}.pem"),
            format!("c{}.pem", i - 1),
        );
        let subject = format!("/CN=c{i}");
        openssl(
            d,
            &[
                "req", "-new", "-key", "k.key", "-subj", &subject, "-out", &csr,
            ],
        );
        let serial = i.to_string();
        openssl(
            d,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                &prev,
                "-CAkey",
                "k.key",
                "-set_serial",
                &serial,
                "-days",
                "2",
                "-out",
                &pem,
            ],
        );
        all.extend(read(d, &pem));
    }
    std::fs::write(d.join("all.pem"), &all).unwrap();
    let p12 = export(
        d,
        "chain.p12",
        &[
            "-in",
            "c19.pem",
            "-certfile",
            "all.pem",
            "-passout",
            "pass:pw",
        ],
    );
    let jwk = open(&p12, Some("pw"), None).unwrap();
    let x5c = jwk.params().x5c.as_ref().unwrap();
    let expected: Vec<Vec<u8>> = (4..20)
        .rev()
        .map(|i| pem_body(&read(d, &format!("c{i}.pem"))))
        .collect();
    assert_eq!(x5c, &expected, "c19 (the leaf) down to c4");
}

/// Java SecretKeyEntries (`keytool -genseckey`, `-importpass`) come out as `oct` JWKs whose
/// `k` is the key Java itself reads back (testdata/keystores/keytool-secret.keys.txt).
#[test]
fn keytool_secret_keys_are_oct_jwks() {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let dir = workspace_root().join("testdata/keystores");
    let p12 = std::fs::read(dir.join("keytool-secret.p12")).unwrap();
    let expected = std::fs::read_to_string(dir.join("keytool-secret.keys.txt")).unwrap();
    let mut seen = 0;
    for line in expected.lines() {
        let [alias, _, hex] = line.split(' ').collect::<Vec<_>>()[..] else {
            panic!("{line}")
        };
        let bytes: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap())
            .collect();
        let jwk = open(&p12, Some("changeit"), Some(alias)).unwrap();
        assert_eq!(
            jwk.to_json(),
            format!(
                r#"{{"kty":"oct","k":"{}"}}"#,
                Base64UrlUnpadded::encode_string(&bytes)
            ),
            "{alias}"
        );
        seen += 1;
    }
    assert_eq!(seen, 3);
    let jwk = open(&p12, Some("changeit"), Some("ec-p256")).unwrap();
    let cert = std::fs::read(dir.join("secret-store-ec-p256.crt.der")).unwrap();
    assert_eq!(jwk.params().x5c.as_deref(), Some(&[cert][..]));
    let e = open(&p12, Some("changeit"), None).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"the keystore holds several entries: give an alias to choose one (aliases: "hmac-sha256", "aes-128", "ec-p256", "stored-password")"#
    );
    assert_eq!(
        open(&p12, Some("wrong"), Some("aes-128")).unwrap_err(),
        Error::KeystoreBadPassword
    );
    let entries = keystore_entries(&p12, Some("changeit"), &KdfLimits::default()).unwrap();
    let listed: Vec<String> = entries.iter().map(ToString::to_string).collect();
    assert_eq!(
        listed,
        [
            "hmac-sha256\toct 256\tsecret-key\t0 certificates",
            "aes-128\toct 128\tsecret-key\t0 certificates",
            "ec-p256\tEC P-256\tprivate-key\t1 certificate",
            "stored-password\toct 104\tsecret-key\t0 certificates",
        ]
    );
    assert!(entries[0].secret && entries[0].private && !entries[2].secret);
}

/// BouncyCastle's "PKCS12" keystores are BER (indefinite lengths throughout), with
/// PBE-SHA1-3DES keys, RC2-40 certificates and a SHA-1 MAC.
#[test]
fn bouncycastle_ber_keystore() {
    let dir = workspace_root().join("testdata/keystores");
    let p12 = std::fs::read(dir.join("bc-ber.p12")).unwrap();
    assert_eq!(&p12[..2], &[0x30, 0x80], "the fixture is BER");
    let jwk = open(&p12, Some("changeit"), Some("bc-ec")).unwrap();
    let key = import(
        &std::fs::read(dir.join("bc-ber-ec.key.der")).unwrap(),
        &ImportOptions::default(),
    )
    .unwrap();
    assert_eq!(material(&jwk), material(&key));
    let cert = std::fs::read(dir.join("bc-ber-ec.crt.der")).unwrap();
    assert_eq!(jwk.params().x5c.as_deref(), Some(&[cert][..]));
    assert_eq!(
        open(&p12, Some("wrong"), None).unwrap_err(),
        Error::KeystoreBadPassword
    );
    let entries = keystore_entries(&p12, Some("changeit"), &KdfLimits::default()).unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].alias.as_deref(), Some("bc-ec"));
    // Cut short, it is an error that says so, not a panic.
    let e = open(&p12[..p12.len() - 40], Some("changeit"), None).unwrap_err();
    assert_eq!(e.code(), "pkcs12.malformed");
}
