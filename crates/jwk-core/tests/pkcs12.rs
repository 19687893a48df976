//! PKCS#12 keystores: OpenSSL 3 default and legacy files made at test time, Java keytool
//! files from testdata/keystores, aliases, chains, passwords and KDF caps.

use std::path::Path;

use jwk_core::{Error, ImportOptions, Jwk, KdfLimits, KeystoreEntry, import, keystore_entries};
use jwk_testkit::{b64std, openssl, read, temp_dir, workspace_root};

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
        assert_eq!(material(&jwk.to_public()), material(&from_cert), "{alias}");
        assert_eq!(jwk.params().x5c.as_ref().unwrap()[0], cert, "{alias}");
        assert_eq!(jwk.is_private(), alias != "trusted-ca", "{alias}");
    }
    let entries = keystore_entries(&p12, "changeit", &KdfLimits::default()).unwrap();
    let listed: Vec<(Option<&str>, &str, bool, usize)> = entries
        .iter()
        .map(|e: &KeystoreEntry| {
            (
                e.alias.as_deref(),
                e.key_type.as_str(),
                e.private,
                e.certificates,
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            (Some("rsa-signing"), "RSA 2048", true, 1),
            (Some("ec-p256"), "EC P-256", true, 1),
            (Some("trusted-ca"), "OKP Ed25519", false, 1),
        ]
    );
}

#[test]
fn keytool_legacy_keystore() {
    let dir = workspace_root().join("testdata/keystores");
    let p12 = std::fs::read(dir.join("keytool-legacy.p12")).unwrap();
    let jwk = open(&p12, Some("changeit"), None).unwrap();
    let cert = std::fs::read(dir.join("legacy-rsa.crt.der")).unwrap();
    let from_cert = import(&cert, &ImportOptions::default()).unwrap();
    assert_eq!(material(&jwk.to_public()), material(&from_cert));
    assert_eq!(open(&p12, None, None).unwrap_err(), Error::PasswordRequired);
    assert_eq!(
        open(&p12, Some("nope"), None).unwrap_err().code(),
        "pkcs12.bad_password"
    );
}

#[test]
fn keystore_kdf_costs_are_capped() {
    let dir = temp_dir();
    let d = dir.path();
    make_chain(
        d,
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    openssl(
        d,
        &[
            "pkcs12", "-export", "-inkey", "leaf.key", "-in", "leaf.pem", "-passout", "pass:pw",
            "-iter", "3000", "-maciter", "-out", "k.p12",
        ],
    );
    let p12 = read(d, "k.p12");
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
    make_chain(
        d,
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    openssl(
        d,
        &[
            "pkcs12", "-export", "-inkey", "leaf.key", "-in", "leaf.pem", "-passout", "pass:pw",
            "-out", "k.p12",
        ],
    );
    let p12 = read(d, "k.p12");
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
