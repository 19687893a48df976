//! Java KeyStore (JKS) files from keytool (testdata/keystores/keytool.jks, provenance in its
//! README): keys checked against the same keys exported through PKCS#12 and OpenSSL.

use jwk_core::{Error, ImportOptions, Jwk, KdfLimits, import, keystore_entries};
use jwk_testkit::workspace_root;

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(workspace_root().join("testdata/keystores").join(name)).unwrap()
}

fn open(jks: &[u8], password: Option<&str>, alias: Option<&str>) -> Result<Jwk, Error> {
    import(
        jks,
        &ImportOptions {
            password,
            alias,
            ..ImportOptions::default()
        },
    )
}

#[test]
fn keytool_jks_entries() {
    let jks = fixture("keytool.jks");
    for alias in ["rsa-signing", "ec-p384", "EC-P384"] {
        let jwk = open(&jks, Some("changeit"), Some(alias)).unwrap();
        let name = alias.to_ascii_lowercase();
        let key = import(
            &fixture(&format!("jks-{name}.key.der")),
            &ImportOptions::default(),
        )
        .unwrap();
        assert_eq!(jwk.to_json(), {
            let mut expected = key.clone();
            *expected.params_mut() = jwk.params().clone();
            expected.to_json()
        });
        assert!(jwk.is_private());
        let cert = fixture(&format!("jks-{name}.crt.der"));
        assert_eq!(jwk.params().x5c.as_deref(), Some(&[cert][..]), "{alias}");
    }
    let trusted = open(&jks, Some("changeit"), Some("trusted")).unwrap();
    assert!(!trusted.is_private());
    assert_eq!(
        trusted.params().x5c.as_deref(),
        Some(&[fixture("jks-trusted.crt.der")][..])
    );

    let e = open(&jks, Some("changeit"), None).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"the keystore holds several entries: give an alias to choose one (aliases: "ec-p384", "rsa-signing", "trusted")"#
    );
    let e = open(&jks, Some("changeit"), Some("nope")).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"no entry with alias "nope" in the keystore (aliases: "ec-p384", "rsa-signing", "trusted")"#
    );
    assert_eq!(
        open(&jks, Some("wrong"), Some("ec-p384")).unwrap_err(),
        Error::KeystoreBadPassword
    );
    assert_eq!(
        open(&jks, None, Some("ec-p384")).unwrap_err(),
        Error::KeystorePasswordRequired
    );

    let entries = keystore_entries(&jks, Some("changeit"), &KdfLimits::default()).unwrap();
    let listed: Vec<String> = entries.iter().map(ToString::to_string).collect();
    assert_eq!(
        listed,
        [
            "ec-p384\tEC P-384\tprivate-key\t1 certificate",
            "rsa-signing\tRSA 2048\tprivate-key\t1 certificate",
            "trusted\tOKP Ed25519\tcertificate\t1 certificate",
        ]
    );
}

#[test]
fn damaged_jks_files_are_errors() {
    let jks = fixture("keytool.jks");
    // Any byte changed breaks the integrity digest.
    let mut flipped = jks.clone();
    flipped[40] ^= 1;
    assert_eq!(
        open(&flipped, Some("changeit"), None).unwrap_err(),
        Error::KeystoreBadPassword
    );
    for cut in [4, 11, 30, 200, jks.len() - 21] {
        let e = open(&jks[..cut], Some("changeit"), None).unwrap_err();
        assert_eq!(e.code(), "pkcs12.malformed", "cut at {cut}: {e}");
    }
    // 20 bytes of digest off the end: the entries stop inside the first alias.
    let e = open(&jks[..38], Some("changeit"), None).unwrap_err();
    assert_eq!(
        e.to_string(),
        "the keystore is malformed: JKS: the file ends inside an alias"
    );
    let mut jceks = jks.clone();
    jceks[..4].copy_from_slice(&[0xce; 4]);
    assert_eq!(
        open(&jceks, Some("changeit"), None)
            .unwrap_err()
            .to_string(),
        "unsupported key encryption: JCEKS keystores (convert with keytool -importkeystore -deststoretype PKCS12)"
    );
}

#[test]
fn an_alias_is_for_keystores_only() {
    let e = open(&fixture("jks-ec-p384.key.der"), None, Some("ec-p384")).unwrap_err();
    assert_eq!(e.code(), "input.invalid_option");
    assert_eq!(
        e.to_string(),
        "an alias applies only to keystores (PKCS#12, JKS)"
    );
}
