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
        "error: policy.algorithm_mismatch: algorithm EdDSA cannot be used with an OKP Ed25519 key for ENCRYPTION: valid are none\n"
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
