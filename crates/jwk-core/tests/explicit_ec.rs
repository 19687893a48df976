//! EC keys and certificates whose curve is given by explicit parameters (`specifiedCurve`)
//! instead of a named-curve OID, made at test time with the `openssl` CLI
//! (`-pkeyopt ec_param_enc:explicit`, `openssl ec -param_enc explicit`). Each is imported as the
//! named curve: the same JWK, so the same thumbprint, as the named-curve form of the same key.

use std::path::Path;

use jwk_core::{Error, ImportOptions, ThumbprintHash, import};
use jwk_testkit::{b64std, b64url, openssl, read, temp_dir};

/// The DER of the X9.62 prime-field OID: present only in explicit parameters.
const PRIME_FIELD: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x01, 0x01];

const CURVES: [(&str, &str); 4] = [
    ("P-256", "P-256"),
    ("P-384", "P-384"),
    ("P-521", "P-521"),
    ("secp256k1", "secp256k1"),
];

fn import_json(input: &[u8]) -> Result<String, Error> {
    import(input, &ImportOptions::default()).map(|j| j.to_json())
}

fn import_file(dir: &Path, name: &str) -> String {
    assert!(has_explicit_parameters(dir, name), "{name}");
    import_json(&read(dir, name)).unwrap_or_else(|e| panic!("{name}: {}: {e}", e.code()))
}

/// Whether the file (PEM: its first block) holds explicit parameters: the prime-field OID.
fn has_explicit_parameters(dir: &Path, name: &str) -> bool {
    let mut args = vec!["asn1parse", "-in", name];
    if name.ends_with(".der") {
        args.extend_from_slice(&["-inform", "DER"]);
    }
    String::from_utf8(openssl(dir, &args))
        .expect("utf8")
        .contains("prime-field")
}

/// Every form OpenSSL writes with explicit parameters, for one curve.
fn check_curve(openssl_curve: &str, crv: &str) {
    let dir = temp_dir();
    let d = dir.path();
    let curve_opt = format!("ec_paramgen_curve:{openssl_curve}");
    openssl(
        d,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            &curve_opt,
            "-pkeyopt",
            "ec_param_enc:explicit",
            "-out",
            "k.pem",
        ],
    );
    // The same key with a named curve, read by the path every other test checks.
    openssl(
        d,
        &[
            "ec",
            "-in",
            "k.pem",
            "-param_enc",
            "named_curve",
            "-out",
            "named.pem",
        ],
    );
    let named = import(&read(d, "named.pem"), &ImportOptions::default()).expect("named");
    let private = named.to_json();
    let public = named.to_public_json().expect("EC has a public form");
    assert!(
        private.starts_with(&format!(r#"{{"kty":"EC","crv":"{crv}","x":""#)),
        "{private}"
    );

    let cases: &[(&str, &[&str], &str)] = &[
        ("PKCS#8 DER", &["pkey", "-outform", "DER"], "k8.der"),
        ("SEC1 PEM", &["ec", "-param_enc", "explicit"], "sec1.pem"),
        (
            "SEC1 DER",
            &["ec", "-param_enc", "explicit", "-outform", "DER"],
            "sec1.der",
        ),
        (
            "SEC1 PEM, compressed generator and point",
            &["ec", "-param_enc", "explicit", "-conv_form", "compressed"],
            "sec1c.pem",
        ),
        (
            "SEC1 PEM without the public key, compressed generator",
            &[
                "ec",
                "-param_enc",
                "explicit",
                "-conv_form",
                "compressed",
                "-no_public",
            ],
            "sec1np.pem",
        ),
        (
            "SPKI PEM",
            &["ec", "-param_enc", "explicit", "-pubout"],
            "p.pem",
        ),
        (
            "SPKI DER",
            &["ec", "-param_enc", "explicit", "-pubout", "-outform", "DER"],
            "p.der",
        ),
        (
            "SPKI PEM, compressed generator and point",
            &[
                "ec",
                "-param_enc",
                "explicit",
                "-pubout",
                "-conv_form",
                "compressed",
            ],
            "pc.pem",
        ),
    ];
    assert_eq!(import_file(d, "k.pem"), private, "{crv}: PKCS#8 PEM");
    for (what, args, out) in cases {
        let mut a = args.to_vec();
        a.extend_from_slice(&["-in", "k.pem", "-out", out]);
        openssl(d, &a);
        let expected = if out.starts_with('p') {
            &public
        } else {
            &private
        };
        assert_eq!(&import_file(d, out), expected, "{crv}: {what}");
    }

    // SEC1 with its own explicit parameters, wrapped in PKCS#8 whose parameters are explicit.
    openssl(
        d,
        &[
            "pkcs8",
            "-topk8",
            "-nocrypt",
            "-in",
            "sec1c.pem",
            "-out",
            "k8c.pem",
        ],
    );
    assert_eq!(import_file(d, "k8c.pem"), private, "{crv}: PKCS#8 of SEC1");

    // `openssl ecparam -genkey -param_enc explicit`: an EC PARAMETERS block, then the key.
    openssl(
        d,
        &[
            "ecparam",
            "-name",
            openssl_curve,
            "-genkey",
            "-param_enc",
            "explicit",
            "-out",
            "g.pem",
        ],
    );
    assert!(String::from_utf8_lossy(&read(d, "g.pem")).contains("BEGIN EC PARAMETERS"));
    openssl(
        d,
        &[
            "ec",
            "-in",
            "g.pem",
            "-param_enc",
            "named_curve",
            "-out",
            "gn.pem",
        ],
    );
    assert_eq!(
        import_file(d, "g.pem"),
        import_json(&read(d, "gn.pem")).expect("named"),
        "{crv}: ecparam -genkey"
    );

    // A certificate signed over the key, its SubjectPublicKeyInfo with explicit parameters.
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "sec1.pem",
            "-subj",
            "/CN=explicit",
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
    assert_eq!(import_file(d, "c.pem"), with_cert, "{crv}: certificate PEM");
    assert_eq!(import_file(d, "c.der"), with_cert, "{crv}: certificate DER");

    // The thumbprint is the named curve's.
    let explicit = import(&read(d, "p.der"), &ImportOptions::default()).expect("SPKI");
    assert_eq!(
        explicit.thumbprint_bytes(ThumbprintHash::Sha256),
        named.thumbprint_bytes(ThumbprintHash::Sha256)
    );
}

#[test]
fn explicit_parameters_of_every_supported_curve_are_that_curve() {
    for (openssl_curve, crv) in CURVES {
        check_curve(openssl_curve, crv);
    }
}

fn unhex(text: &str) -> Vec<u8> {
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).expect("hex"))
        .collect()
}

/// `input` with the last byte of the first occurrence of `needle` replaced by `f(byte)`.
fn alter(input: &[u8], needle: &[u8], f: impl Fn(u8) -> u8) -> Vec<u8> {
    let at = input
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle present")
        + needle.len()
        - 1;
    let mut out = input.to_vec();
    out[at] = f(out[at]);
    out
}

fn refused(input: &[u8]) -> (String, String) {
    let e = import(input, &ImportOptions::default()).expect_err("refused");
    (e.code().to_owned(), e.to_string())
}

fn no_match(reason: &str) -> (String, String) {
    (
        "key.unsupported_curve".to_owned(),
        format!(
            "unsupported elliptic curve given by explicit parameters that match no supported \
             curve ({reason}): supported are P-256, P-384, P-521 and secp256k1"
        ),
    )
}

const P256_P: &str = "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff";
const P256_A: &str = "ffffffff00000001000000000000000000000000fffffffffffffffffffffffc";
const P256_B: &str = "5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b";
const P256_GX: &str = "6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296";
const P256_N: &str = "ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551";

#[test]
fn one_altered_parameter_byte_is_refused_naming_the_field() {
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
            "-pkeyopt",
            "ec_param_enc:explicit",
            "-out",
            "k.pem",
        ],
    );
    for (args, out) in [
        (&["pkey", "-outform", "DER"][..], "k8.der"),
        (
            &["ec", "-param_enc", "explicit", "-outform", "DER"][..],
            "sec1.der",
        ),
        (
            &["ec", "-param_enc", "explicit", "-pubout", "-outform", "DER"][..],
            "p.der",
        ),
    ] {
        let mut a = args.to_vec();
        a.extend_from_slice(&["-in", "k.pem", "-out", out]);
        openssl(d, &a);
    }
    openssl(
        d,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "k.pem",
            "-subj",
            "/CN=explicit",
            "-days",
            "2",
            "-outform",
            "DER",
            "-out",
            "c.der",
        ],
    );
    let flip = |b: u8| b ^ 0x01;
    let prefixed = |prefix: &[u8], value: &str| [prefix, &unhex(value)].concat();
    for name in ["k8.der", "sec1.der", "p.der", "c.der"] {
        let good = read(d, name);
        assert!(import_json(&good).is_ok(), "{name}");
        let cases = [
            (
                prefixed(&[0x02, 0x21, 0x00], P256_P),
                "its field prime is no supported curve's",
            ),
            (
                prefixed(&[0x04, 0x20], P256_A),
                "its coefficient a differs from P-256's",
            ),
            (
                prefixed(&[0x04, 0x20], P256_B),
                "its coefficient b differs from P-256's",
            ),
            (
                prefixed(&[0x04, 0x41, 0x04], P256_GX),
                "its generator differs from P-256's",
            ),
            (
                prefixed(&[0x02, 0x21, 0x00], P256_N),
                "its order differs from P-256's",
            ),
            (
                [
                    prefixed(&[0x02, 0x21, 0x00], P256_N),
                    vec![0x02, 0x01, 0x01],
                ]
                .concat(),
                "its cofactor differs from P-256's",
            ),
        ];
        for (needle, reason) in cases {
            assert_eq!(
                refused(&alter(&good, &needle, flip)),
                no_match(reason),
                "{name}: {reason}"
            );
        }
        // The version, the field type and a malformed field.
        let version = [0x30, 0x81, 0xf7, 0x02, 0x01, 0x01];
        assert_eq!(
            refused(&alter(&good, &version, |_| 2)),
            no_match("the parameters have version 02, not 1"),
            "{name}"
        );
        assert_eq!(
            refused(&alter(&good, PRIME_FIELD, |_| 2)),
            no_match("its field is a binary field; supported curves have prime fields"),
            "{name}"
        );
        assert_eq!(
            refused(&alter(&good, PRIME_FIELD, |_| 9)),
            no_match("its field type 1.2.840.10045.1.9 is not a prime field"),
            "{name}"
        );
        let a_tag = [0x30, 0x5b, 0x04, 0x20];
        assert_eq!(
            refused(&alter(&good, &a_tag[..3], |_| 0x02)),
            no_match(
                "the parameters are malformed: unexpected ASN.1 DER tag: expected OCTET STRING, \
                 got INTEGER"
            ),
            "{name}"
        );
    }
}

#[test]
fn parameters_that_are_no_curve_at_all_are_refused() {
    // implicitCurve (NULL): the curve would come from the issuer's certificate.
    let spki_null = [
        0x30, 0x59, 0x30, 0x0b, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x05, 0x00,
    ];
    let mut input = spki_null.to_vec();
    input.extend_from_slice(&[0x03, 0x42, 0x00, 0x04]);
    input.extend_from_slice(&[0u8; 64]);
    input[1] = u8::try_from(input.len() - 2).expect("short");
    assert_eq!(
        refused(&input),
        (
            "key.unsupported_curve".to_owned(),
            "unsupported elliptic curve inherited from the issuer's certificate (implicitCurve): \
             supported are P-256, P-384, P-521 and secp256k1"
                .to_owned()
        )
    );
}
