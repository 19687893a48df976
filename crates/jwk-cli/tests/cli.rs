//! The `jwk` command's contract: one JSON object or one thumbprint on stdout and exit 0;
//! `error: <code>: <message>` on stderr and exit 2.

use std::io::Write;
use std::process::{Command, Stdio};

use jwk_testkit::{openssl, temp_dir};

const ED25519_PUBLIC: &str =
    r#"{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
const ED25519_PRIVATE: &str = r#"{"kty":"OKP","crv":"Ed25519","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn jwk(args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_jwk"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run jwk");
    // A command that fails before reading its input closes the pipe: that is fine.
    let _ = child.stdin.take().unwrap().write_all(stdin.as_bytes());
    let out = child.wait_with_output().unwrap();
    Run {
        code: out.status.code().expect("exit code"),
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
    }
}

#[test]
fn import_prints_one_canonical_jwk() {
    let r = jwk(&["import", "-"], ED25519_PRIVATE);
    assert_eq!((r.code, r.stderr.as_str()), (0, ""));
    assert_eq!(
        r.stdout,
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\",\"d\":\"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A\"}\n"
    );
}

#[test]
fn import_public_kid_use_alg() {
    let r = jwk(
        &[
            "import", "-", "--public", "--kid", "k1", "--use", "sig", "--alg", "EdDSA",
        ],
        ED25519_PRIVATE,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\",\"kid\":\"k1\",\"use\":\"sig\",\"alg\":\"EdDSA\"}\n"
    );
}

#[test]
fn import_refuses_an_algorithm_the_policy_refuses() {
    let r = jwk(
        &["import", "-", "--use", "enc", "--alg", "EdDSA"],
        ED25519_PUBLIC,
    );
    assert_eq!(r.code, 2);
    assert_eq!(r.stdout, "");
    assert_eq!(
        r.stderr,
        "error: policy.algorithm_mismatch: algorithm EdDSA cannot be used with an OKP Ed25519 key for ENCRYPTION: EdDSA is a signature algorithm; valid are none\n"
    );
    let r = jwk(&["import", "-", "--alg", "RSA"], ED25519_PUBLIC);
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "error: policy.key_type_as_algorithm: algorithm must be a valid algorithm name, not a key type\n"
    );
}

#[test]
fn thumbprint_with_every_hash() {
    let r = jwk(&["thumbprint", "-"], ED25519_PUBLIC);
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k\n")
    );
    let input =
        r#"{"crv":"Ed25519","kty":"OKP","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;
    let dir = temp_dir();
    std::fs::write(dir.path().join("t"), input).unwrap();
    for hash in ["sha1", "sha256", "sha384", "sha512"] {
        let digest = openssl(dir.path(), &["dgst", &format!("-{hash}"), "-binary", "t"]);
        let r = jwk(&["thumbprint", "-", "--hash", hash], ED25519_PRIVATE);
        assert_eq!(r.code, 0);
        assert_eq!(
            r.stdout,
            format!("{}\n", jwk_testkit::b64url(&digest)),
            "{hash}"
        );
    }
    let r = jwk(&["thumbprint", "-", "--hash", "md5"], ED25519_PUBLIC);
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "error: input.invalid_option: --hash must be sha256, sha1, sha384 or sha512, not \"md5\"\n"
    );
}

#[test]
fn encrypted_keys_take_a_password_or_a_password_file() {
    let dir = temp_dir();
    let d = dir.path();
    openssl(
        d,
        &[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            "ec_paramgen_curve:P-384",
            "-out",
            "k.pem",
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
            "pass:s3cret",
            "-out",
            "e.pem",
        ],
    );
    std::fs::write(d.join("pw"), "s3cret\n").unwrap();
    let path = |n: &str| d.join(n).to_string_lossy().into_owned();
    let plain = jwk(&["import", &path("k.pem")], "");
    assert_eq!(plain.code, 0);
    let with_password = jwk(&["import", &path("e.pem"), "--password", "s3cret"], "");
    assert_eq!(with_password.stdout, plain.stdout);
    let with_file = jwk(
        &["import", &path("e.pem"), "--password-file", &path("pw")],
        "",
    );
    assert_eq!(with_file.stdout, plain.stdout);
    let missing = jwk(&["import", &path("e.pem")], "");
    assert_eq!(missing.code, 2);
    assert_eq!(
        missing.stderr,
        "error: pkcs8.password_required: the private key is encrypted: give its password\n"
    );
    let wrong = jwk(&["import", &path("e.pem"), "--password", "guess"], "");
    assert_eq!(wrong.code, 2);
    assert_eq!(
        wrong.stderr,
        "error: pkcs8.bad_password: the password is wrong (or the encrypted key is corrupt): decryption failed\n"
    );
}

#[test]
fn io_errors_have_codes_too() {
    let r = jwk(&["import", "/nonexistent/key.pem"], "");
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "error: io.open: cannot open /nonexistent/key.pem: No such file or directory (os error 2)\n"
    );
    let r = jwk(&["import", "-"], "");
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "error: input.empty: the input is empty: give a PEM, DER, PKCS#12 or JSON (JWK / JWK Set) document\n"
    );
}

#[test]
fn generate_prints_a_private_jwk_with_use_alg_and_kid() {
    let r = jwk(
        &[
            "generate", "--kty", "EC", "--crv", "P-384", "--use", "sig", "--alg", "ES384",
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let line = r.stdout.trim_end();
    assert!(
        line.starts_with(r#"{"kty":"EC","crv":"P-384","x":""#),
        "{line}"
    );
    assert!(line.contains(r#","d":""#));
    // The kid is the thumbprint the thumbprint command computes.
    let t = jwk(&["thumbprint", "-"], line);
    assert!(
        line.ends_with(&format!(
            r#""kid":"{}","use":"sig","alg":"ES384"}}"#,
            t.stdout.trim()
        )),
        "{line}"
    );
    let r = jwk(
        &[
            "generate", "--kty", "RSA", "--size", "3072", "--use", "sig", "--alg", "PS256",
            "--public", "--kid", "r1",
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stdout.contains(r#""d":"#));
    assert!(
        r.stdout
            .trim_end()
            .ends_with(r#""e":"AQAB","kid":"r1","use":"sig","alg":"PS256"}"#),
        "{}",
        r.stdout
    );
    let r = jwk(
        &[
            "generate", "--kty", "oct", "--size", "128", "--use", "sig", "--alg", "HS256",
        ],
        "",
    );
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "error: policy.algorithm_mismatch: algorithm HS256 cannot be used with a 128-bit oct key for SIGNATURE: HS256 needs an oct key of at least 256 bits, this key has 128; valid are none\n"
    );
    let r = jwk(
        &["generate", "--kty", "DSA", "--use", "sig", "--alg", "RS256"],
        "",
    );
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "error: input.invalid_option: --kty must be RSA, EC, OKP or oct, not \"DSA\"\n"
    );
}

#[test]
fn public_output_of_a_secret_key_is_refused() {
    let r = jwk(
        &["import", "-", "--public"],
        r#"{"kty":"oct","k":"GawgguFyGrWKav7AX4VKUg"}"#,
    );
    assert_eq!((r.code, r.stdout.as_str()), (2, ""));
    assert_eq!(
        r.stderr,
        "error: input.invalid_option: --public: a symmetric (oct) key has no public form; all of it is secret\n"
    );
    let r = jwk(
        &[
            "generate", "--kty", "oct", "--size", "256", "--use", "sig", "--alg", "HS256",
            "--public",
        ],
        "",
    );
    assert_eq!((r.code, r.stdout.as_str()), (2, ""));
}

#[test]
fn keystore_list_says_when_a_password_is_needed_or_the_file_is_no_keystore() {
    let root = jwk_testkit::workspace_root();
    let p12 = root.join("testdata/keystores/keytool-multi.p12");
    let r = jwk(&["keystore", "list", p12.to_str().unwrap()], "");
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "error: pkcs12.password_required: the keystore is protected by a password: give it\n"
    );
    let r = jwk(&["import", p12.to_str().unwrap()], "");
    assert_eq!(
        r.stderr,
        "error: pkcs12.password_required: the keystore is protected by a password: give it\n"
    );
    let pem = root.join("testdata/samples/p256-cert.pem");
    let r = jwk(&["keystore", "list", pem.to_str().unwrap()], "");
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "error: pkcs12.not_a_keystore: the input is not a keystore (PKCS#12 or JKS) but a PEM file with the blocks CERTIFICATE: import it as a key, certificate or JWK instead\n"
    );
    let cert_der = root.join("testdata/keystores/trusted-ca.crt.der");
    let r = jwk(&["keystore", "list", cert_der.to_str().unwrap()], "");
    assert_eq!(
        r.stderr,
        "error: pkcs12.not_a_keystore: the input is not a keystore (PKCS#12 or JKS) but a DER X.509 certificate: import it as a key, certificate or JWK instead\n"
    );
    let r = jwk(&["keystore", "list", "-"], r#"{"kty":"oct","k":"AAEC"}"#);
    assert_eq!(
        r.stderr,
        "error: pkcs12.not_a_keystore: the input is not a keystore (PKCS#12 or JKS) but JSON: import it as a key, certificate or JWK instead\n"
    );
    let r = jwk(&["keystore", "list", "-"], "hello, world");
    assert_eq!(
        r.stderr,
        "error: pkcs12.not_a_keystore: the input is not a keystore (PKCS#12 or JKS) but data that is neither DER, base64 nor PEM\n"
    );
}

#[test]
fn keystore_list_prints_one_alias_per_line() {
    let p12 = jwk_testkit::workspace_root().join("testdata/keystores/keytool-multi.p12");
    let r = jwk(
        &[
            "keystore",
            "list",
            p12.to_str().unwrap(),
            "--password",
            "changeit",
        ],
        "",
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "rsa-signing\tRSA 2048\tprivate-key\t1 certificate\nec-p256\tEC P-256\tprivate-key\t1 certificate\ntrusted-ca\tOKP Ed25519\tcertificate\t1 certificate\n"
    );
    let r = jwk(
        &[
            "import",
            p12.to_str().unwrap(),
            "--password",
            "changeit",
            "--alias",
            "nope",
        ],
        "",
    );
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "error: pkcs12.alias_not_found: no entry with alias \"nope\" in the keystore (aliases: \"rsa-signing\", \"ec-p256\", \"trusted-ca\")\n"
    );
    let secrets = jwk_testkit::workspace_root().join("testdata/keystores/keytool-secret.p12");
    let secrets = secrets.to_str().unwrap();
    let r = jwk(&["keystore", "list", secrets, "--password", "changeit"], "");
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(
        r.stdout,
        "hmac-sha256\toct 256\tsecret-key\t0 certificates\naes-128\toct 128\tsecret-key\t0 certificates\nec-p256\tEC P-256\tprivate-key\t1 certificate\nstored-password\toct 104\tsecret-key\t0 certificates\n"
    );
    let r = jwk(
        &[
            "import",
            secrets,
            "--password",
            "changeit",
            "--alias",
            "aes-128",
        ],
        "",
    );
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "{\"kty\":\"oct\",\"k\":\"bFF0ZDrjUcY_OVPqZEflow\"}\n"),
        "{}",
        r.stderr
    );
    let jks = jwk_testkit::workspace_root().join("testdata/keystores/keytool.jks");
    let r = jwk(
        &[
            "keystore",
            "list",
            jks.to_str().unwrap(),
            "--password",
            "changeit",
        ],
        "",
    );
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (
            0,
            "ec-p384\tEC P-384\tprivate-key\t1 certificate\nrsa-signing\tRSA 2048\tprivate-key\t1 certificate\ntrusted\tOKP Ed25519\tcertificate\t1 certificate\n"
        ),
        "{}",
        r.stderr
    );
}

#[test]
fn fetch_selects_from_a_loopback_jwks() {
    let stub = jwk_testkit::HttpStub::start(|_, s| {
        jwk_testkit::respond(s, "200 OK", &[], br#"{"keys":[{"kty":"oct","kid":"a","k":"AAAA"},{"kty":"EC","kid":"bad"},{"kty":"oct","kid":"b","k":"AQID"}]}"#)
    });
    let url = stub.url("/jwks");
    let r = jwk(
        &["fetch", &url, "--kid", "b", "--allow-private-networks"],
        "",
    );
    assert_eq!(
        (r.code, r.stdout.as_str()),
        (0, "{\"kty\":\"oct\",\"k\":\"AQID\",\"kid\":\"b\"}\n"),
        "{}",
        r.stderr
    );
    let r = jwk(&["fetch", &url, "--set", "--allow-private-networks"], "");
    assert_eq!(r.code, 0);
    assert_eq!(
        r.stdout,
        "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\",\"kid\":\"a\"},{\"kty\":\"oct\",\"k\":\"AQID\",\"kid\":\"b\"}]}\n"
    );
    assert_eq!(
        r.stderr,
        "warning: key #1 (kid \"bad\") skipped: jwk.missing_member: JWK of kty \"EC\" is missing the required member \"crv\"\n"
    );
    let r = jwk(&["fetch", &url], "");
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr,
        "error: fetch.blocked_address: refused to connect to 127.0.0.1 (it resolves to a loopback address): URL sources and webhooks may only reach public addresses unless private networks are allowed (--allow-private-networks in jwk and jwkd, FetchOptions::allow_private_networks in the library)\n"
    );
    let r = jwk(
        &[
            "fetch",
            &url,
            "--allow-private-networks",
            "--size-limit",
            "10",
        ],
        "",
    );
    assert_eq!(
        r.stderr,
        "error: fetch.too_large: the response is larger than the size limit of 10 bytes\n"
    );
}

/// RFC 7515 A.1: an HS256 JWT (exp 1300819380) and its key; RFC 7520 4.4 with its kid.
const A1_KEY: &str = r#"{"kty":"oct","k":"AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow"}"#;
const A1_TOKEN: &str = "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ.dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const RFC7520_HMAC: &str = r#"{"kty":"oct","kid":"018c0ae5-4d9b-471b-bfd6-eef314bc7037","use":"sig","alg":"HS256","k":"hJtXIZ2uSN5kbQfbtTNWbpdmhkV8FJG-Onbc6mxCcYg"}"#;
const RFC7520_4_4: &str = "eyJhbGciOiJIUzI1NiIsImtpZCI6IjAxOGMwYWU1LTRkOWItNDcxYi1iZmQ2LWVlZjMxNGJjNzAzNyJ9.SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4.s0h6KThzkfBBBkLspW1h84VsJZFTsPPqMDA7g1Md7p0";

#[test]
fn verify_prints_header_claims_and_thumbprint_or_the_refusal() {
    let dir = temp_dir();
    let key = dir.path().join("a1.json");
    std::fs::write(&key, A1_KEY).unwrap();
    let key = key.to_str().unwrap();
    let thumbprint = jwk(&["thumbprint", key], "").stdout;
    let ok = jwk(
        &["verify", A1_TOKEN, "--keys", key, "--at", "1300819000"],
        "",
    );
    assert_eq!(
        (ok.code, ok.stdout, ok.stderr),
        (
            0,
            format!(
                "{{\"claims\":{{\"exp\":1300819380,\"http://example.com/is_root\":true,\"iss\":\"joe\"}},\"header\":{{\"alg\":\"HS256\",\"typ\":\"JWT\"}},\"thumbprint\":\"{}\"}}\n",
                thumbprint.trim()
            ),
            String::new()
        )
    );
    // From standard input, checked now: long expired.
    let late = jwk(&["verify", "-", "--keys", key], A1_TOKEN);
    assert_eq!(late.code, 2);
    assert!(
        late.stderr
            .starts_with("error: jwt.expired: the token expired at 1300819380 (now "),
        "{}",
        late.stderr
    );
    let wrong_iss = jwk(
        &[
            "verify",
            A1_TOKEN,
            "--keys",
            key,
            "--at",
            "1300819000",
            "--iss",
            "ann",
        ],
        "",
    );
    assert_eq!(
        (wrong_iss.code, wrong_iss.stderr.as_str()),
        (
            2,
            "error: jwt.issuer: the token's issuer \"joe\" is not accepted\n"
        )
    );
    let only_es = jwk(&["verify", A1_TOKEN, "--keys", key, "--alg", "ES256"], "");
    assert_eq!(
        (only_es.code, only_es.stderr.as_str()),
        (
            2,
            "error: jws.algorithm_not_accepted: the token's algorithm HS256 is not accepted here (accepted: ES256)\n"
        )
    );
    let bad_alg = jwk(&["verify", A1_TOKEN, "--keys", key, "--alg", "none"], "");
    assert_eq!(
        (bad_alg.code, bad_alg.stderr.as_str()),
        (
            2,
            "error: input.invalid_option: --alg none is not a JWS algorithm this tool verifies\n"
        )
    );
}

#[test]
fn verify_finds_the_key_in_a_set_by_kid_and_prints_a_plain_payload() {
    let dir = temp_dir();
    let set = dir.path().join("set.json");
    std::fs::write(&set, format!("{{\"keys\":[{A1_KEY},{RFC7520_HMAC}]}}")).unwrap();
    let set = set.to_str().unwrap();
    let run = jwk(&["verify", RFC7520_4_4, "--keys", set, "--jws"], "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let out: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    assert_eq!(out["header"]["kid"], "018c0ae5-4d9b-471b-bfd6-eef314bc7037");
    assert!(
        out["payload"]
            .as_str()
            .unwrap()
            .starts_with("It\u{2019}s a dangerous business, Frodo")
    );
    // A JSON array of JWKs is a set too.
    let array = dir.path().join("array.json");
    std::fs::write(&array, format!("[{A1_KEY},{RFC7520_HMAC}]")).unwrap();
    let run = jwk(
        &[
            "verify",
            RFC7520_4_4,
            "--keys",
            array.to_str().unwrap(),
            "--jws",
        ],
        "",
    );
    assert_eq!((run.code, run.stderr.as_str()), (0, ""));
    // A1 names no kid: a set cannot choose for it.
    let no_kid = jwk(&["verify", A1_TOKEN, "--keys", set], "");
    assert_eq!(
        (no_kid.code, no_kid.stderr.as_str()),
        (
            2,
            "error: jws.no_key_id: the token's header names no key (kid, x5t#S256 or jkt)\n"
        )
    );
    // The payload of 4.4 is not a JWT.
    let as_jwt = jwk(&["verify", RFC7520_4_4, "--keys", set], "");
    assert_eq!(as_jwt.code, 2);
    assert!(
        as_jwt.stderr.starts_with("error: jwt.claims: "),
        "{}",
        as_jwt.stderr
    );
}

#[test]
fn verify_fetches_a_loopback_jwks() {
    let set = format!("{{\"keys\":[{RFC7520_HMAC}]}}");
    let stub = jwk_testkit::HttpStub::start(move |_, stream| {
        jwk_testkit::respond(
            stream,
            "200 OK",
            &["Content-Type: application/json"],
            set.as_bytes(),
        )
    });
    let url = stub.url("/jwks.json");
    let refused = jwk(&["verify", RFC7520_4_4, "--jwks-url", &url, "--jws"], "");
    assert_eq!(refused.code, 2);
    assert!(
        refused.stderr.starts_with("error: fetch."),
        "{}",
        refused.stderr
    );
    let run = jwk(
        &[
            "verify",
            RFC7520_4_4,
            "--jwks-url",
            &url,
            "--allow-private-networks",
            "--jws",
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
}
