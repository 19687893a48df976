//! Every refusal the verifier makes, with its exact code and message.

use std::sync::Arc;
use std::time::Duration;

use hmac::{KeyInit, Mac};
use jwk_verify::{Algorithm, KeySet, VerificationKey, Verifier, VerifyError};
use serde_json::{Value, json};

const NOW: i64 = 1_800_000_000;
/// A 32-byte HMAC key.
const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn b64(bytes: &[u8]) -> String {
    jwk_testkit::b64url(bytes)
}

/// A token over these exact header and claims texts, HMAC-SHA-256 signed with `key`.
fn hs256_raw(header: &str, claims: &str, key: &[u8]) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64(&mac.finalize().into_bytes()))
}

fn hs256(header: Value, claims: Value) -> String {
    hs256_raw(&header.to_string(), &claims.to_string(), SECRET)
}

fn jwk(value: Value) -> jwk_core::Jwk {
    jwk_core::select_from_json(&value.to_string(), None).unwrap()
}

fn rfc_key(rfc: &str, section: &str) -> Value {
    let path = jwk_testkit::testdata()
        .join("vectors")
        .join("rfc-vectors.json");
    let all: Vec<Value> = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    all.into_iter()
        .find(|e| e["rfc"] == rfc && e["section"] == section)
        .unwrap()["jwk"]
        .clone()
}

/// The RFC 7517 A.2 P-256 key (its `use` dropped: the RFC marks it for encryption): signs
/// ES256 tokens in these tests.
fn p256_private() -> Value {
    let path = jwk_testkit::testdata()
        .join("vectors")
        .join("rfc-vectors.json");
    let all: Vec<Value> = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let mut key = all
        .into_iter()
        .find(|e| e["rfc"] == "RFC 7517" && e["section"] == "A.2" && e["jwk"]["kty"] == "EC")
        .unwrap()["jwk"]
        .clone();
    key.as_object_mut().unwrap().remove("use");
    key
}

fn es256_raw(header: &str, claims: &str) -> String {
    use p256::ecdsa::signature::Signer;
    let d = jwk_testkit::b64url_decode(p256_private()["d"].as_str().unwrap());
    let key = p256::ecdsa::SigningKey::from_slice(&d).unwrap();
    let input = format!("{}.{}", b64(header.as_bytes()), b64(claims.as_bytes()));
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    format!("{input}.{}", b64(&sig.to_bytes()))
}

/// The keys of these tests: an HMAC key (kid "hmac"), the P-256 key (kid "ec"), the RFC
/// 7520 RSA key (kid "rsa"), each with its own alg only where the test says.
fn keys() -> KeySet {
    let mut ec = p256_private();
    ec.as_object_mut().unwrap().remove("d");
    ec["kid"] = json!("ec");
    let mut rsa = rfc_key("RFC 7520", "3.3");
    rsa["kid"] = json!("rsa");
    KeySet::new([
        jwk(json!({"kty": "oct", "kid": "hmac", "k": b64(SECRET)})),
        jwk(ec),
        jwk(rsa),
    ])
}

fn claims() -> Value {
    json!({"sub": "alice", "exp": NOW + 600, "iat": NOW - 10})
}

fn refused(verifier: &Verifier, token: &str) -> (&'static str, String) {
    let err = verifier.verify(token, &keys()).unwrap_err();
    (err.code(), err.to_string())
}

fn v() -> Verifier {
    Verifier::new().at(NOW)
}

fn is(code: &'static str, message: &str) -> (&'static str, String) {
    (code, message.to_owned())
}

#[test]
fn a_valid_token_verifies_and_carries_its_claims_header_and_key() {
    let token = hs256(
        json!({"alg": "HS256", "kid": "hmac", "typ": "JWT"}),
        claims(),
    );
    let jwt = v().verify(&token, &keys()).unwrap();
    assert_eq!(Value::Object(jwt.claims.clone()), claims());
    assert_eq!(
        (jwt.header.alg, jwt.header.kid.as_deref()),
        (Algorithm::Hs256, Some("hmac"))
    );
    assert_eq!(jwt.claim_str("sub"), Some("alice"));
    let expected =
        jwk(json!({"kty": "oct", "k": b64(SECRET)})).thumbprint(jwk_core::ThumbprintHash::Sha256);
    assert_eq!(jwt.thumbprint(), expected);
    let es = es256_raw(r#"{"alg":"ES256","kid":"ec"}"#, &claims().to_string());
    assert_eq!(
        v().verify(&es, &keys())
            .unwrap()
            .key
            .jwk()
            .params()
            .kid
            .as_deref(),
        Some("ec")
    );
}

#[test]
fn the_form_and_sizes_are_checked_first() {
    let ok = hs256(json!({"alg": "HS256", "kid": "hmac"}), claims());
    assert_eq!(
        refused(&v().max_token_bytes(100), &ok),
        is(
            "jws.too_large",
            &format!("the token is {} bytes; at most 100 are accepted", ok.len())
        )
    );
    let big_header = json!({"alg": "HS256", "kid": "hmac", "pad": "x".repeat(5000)});
    assert_eq!(
        refused(&v(), &hs256(big_header, claims())),
        is(
            "jws.too_large",
            "the decoded header is 5037 bytes; at most 4096 are accepted"
        )
    );
    assert_eq!(
        refused(&v(), "a.b"),
        is(
            "jws.malformed",
            "the token is malformed: a compact JWS has three parts separated by dots; this has 2"
        )
    );
    assert_eq!(
        refused(&v(), "a.b.c.d.e"),
        is(
            "jws.malformed",
            "the token is malformed: it has five parts: a JWE (an encrypted token), which is not verified here"
        )
    );
    assert_eq!(
        refused(&v(), "e30=.e30.AAAA"),
        is(
            "jws.malformed",
            "the token is malformed: the header is not base64url (unpadded)"
        )
    );
    let (header, rest) = ok.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    assert_eq!(
        refused(&v(), &format!("{header}.{}.", b64(b"{}"))),
        is(
            "jws.malformed",
            "the token is malformed: the signature is empty"
        )
    );
    assert_eq!(
        refused(&v(), &format!("{header}.{}.{sig}=", b64(b"{}"))),
        is(
            "jws.malformed",
            "the token is malformed: the signature is not base64url (unpadded)"
        )
    );
    assert_eq!(
        refused(&v(), &format!("{}.e30.AAAA", b64(b"[1]"))),
        is(
            "jws.malformed",
            "the token is malformed: the header is not a JSON object: invalid type: sequence, expected a JSON object at line 1 column 0"
        )
    );
    assert_eq!(
        refused(
            &v(),
            &format!("{}.e30.AAAA", b64(br#"{"alg":"HS256","alg":"none"}"#))
        ),
        is(
            "jws.malformed",
            "the token is malformed: the header is not a JSON object: the member \"alg\" is repeated at line 1 column 28"
        )
    );
    // Many members: duplicates are still found (past the first sixteen names).
    let mut many: String = (0..40).map(|i| format!("\"m{i}\":{i},")).collect();
    many.push_str(r#""m33":"again","alg":"HS256"}"#);
    assert_eq!(
        refused(
            &v(),
            &format!("{}.e30.AAAA", b64(format!("{{{many}").as_bytes()))
        ),
        is(
            "jws.malformed",
            "the token is malformed: the header is not a JSON object: the member \"m33\" is repeated at line 1 column 354"
        )
    );
    assert_eq!(
        refused(&v(), &format!("{}.e30.AAAA", b64(br#"{"kid":"hmac"}"#))),
        is(
            "jws.malformed",
            "the token is malformed: the header has no alg"
        )
    );
    assert_eq!(
        refused(&v(), &format!("{}.e30.AAAA", b64(br#"{"alg":256}"#))),
        is(
            "jws.malformed",
            "the token is malformed: the header's alg is not a string"
        )
    );
    assert_eq!(
        refused(
            &v(),
            &format!("{}.e30.AAAA", b64(br#"{"alg":"HS256","kid":7}"#))
        ),
        is(
            "jws.malformed",
            "the token is malformed: the header's kid is not a string"
        )
    );
}

#[test]
fn the_algorithm_is_pinned_by_the_key() {
    let none = format!(
        "{}.{}.",
        b64(br#"{"alg":"none","kid":"hmac"}"#),
        b64(claims().to_string().as_bytes())
    );
    assert_eq!(
        refused(&v(), &none),
        is(
            "jws.alg_none",
            "the token is unsecured (alg none) and is refused"
        )
    );
    let none_signed = format!("{none}AAAA");
    assert_eq!(refused(&v(), &none_signed).0, "jws.alg_none");
    assert_eq!(
        refused(
            &v(),
            &hs256(json!({"alg": "None", "kid": "hmac"}), claims())
        ),
        is(
            "jws.unsupported_algorithm",
            "the token's algorithm None is not supported"
        )
    );
    assert_eq!(
        refused(
            &v().algorithms(&[Algorithm::Es256, Algorithm::Rs256]),
            &hs256(json!({"alg": "HS256", "kid": "hmac"}), claims())
        ),
        is(
            "jws.algorithm_not_accepted",
            "the token's algorithm HS256 is not accepted here (accepted: RS256, ES256)"
        )
    );
    // Algorithm confusion: an HMAC over the RSA key's public text, under its kid.
    let rsa_public = keys_jwk_text("rsa");
    let confused = hs256_raw(
        r#"{"alg":"HS256","kid":"rsa"}"#,
        &claims().to_string(),
        rsa_public.as_bytes(),
    );
    assert_eq!(
        refused(&v(), &confused),
        is(
            "jws.algorithm_mismatch",
            "the token's algorithm HS256 does not match the key kid \"rsa\" (it verifies RS256, RS384, RS512, PS256, PS384, PS512)"
        )
    );
    // A P-256 key verifies ES256 only.
    let es384 = hs256(json!({"alg": "ES384", "kid": "ec"}), claims());
    assert_eq!(
        refused(&v(), &es384),
        is(
            "jws.algorithm_mismatch",
            "the token's algorithm ES384 does not match the key kid \"ec\" (it verifies ES256)"
        )
    );
    // A key's own alg pins it further.
    let mut rsa = rfc_key("RFC 7520", "3.3");
    rsa["alg"] = json!("RS256");
    let pinned = KeySet::new([jwk(rsa)]);
    let ps = hs256(
        json!({"alg": "PS256", "kid": "bilbo.baggins@hobbiton.example"}),
        claims(),
    );
    let err = v().verify(&ps, &pinned).unwrap_err();
    assert_eq!(
        err.to_string(),
        "the token's algorithm PS256 does not match the key kid \"bilbo.baggins@hobbiton.example\" (it verifies RS256)"
    );
}

fn keys_jwk_text(kid: &str) -> String {
    let set = keys();
    let key = jwk_verify::KeySource::key(
        &set,
        &jwk_verify::KeySelector {
            kid: Some(kid),
            ..Default::default()
        },
    )
    .unwrap();
    key.jwk().to_public_json().unwrap()
}

#[test]
fn crit_and_b64_are_refused_unless_understood() {
    let with = |header: Value| hs256(header, claims());
    assert_eq!(
        refused(
            &v(),
            &with(json!({"alg": "HS256", "kid": "hmac", "crit": ["exp"], "exp": 1}))
        ),
        is(
            "jws.crit",
            "the token's crit header is refused: it lists \"exp\", which this verifier does not understand"
        )
    );
    assert_eq!(
        refused(
            &v(),
            &with(json!({"alg": "HS256", "kid": "hmac", "crit": []}))
        ),
        is(
            "jws.crit",
            "the token's crit header is refused: it must be a non-empty array of names"
        )
    );
    assert_eq!(
        refused(
            &v(),
            &with(json!({"alg": "HS256", "kid": "hmac", "crit": ["kid"]}))
        ),
        is(
            "jws.crit",
            "the token's crit header is refused: it lists \"kid\", a parameter every implementation understands"
        )
    );
    assert_eq!(
        refused(
            &v(),
            &with(json!({"alg": "HS256", "kid": "hmac", "crit": ["x-bound"]}))
        ),
        is(
            "jws.crit",
            "the token's crit header is refused: it lists \"x-bound\", which the header does not have"
        )
    );
    let understood = v().understand_crit("x-bound");
    let token = with(json!({"alg": "HS256", "kid": "hmac", "crit": ["x-bound"], "x-bound": "yes"}));
    let jwt = understood.verify(&token, &keys()).unwrap();
    assert_eq!(
        (
            jwt.header.crit.clone(),
            jwt.header.members()["x-bound"].clone()
        ),
        (vec!["x-bound".to_owned()], json!("yes"))
    );
    assert_eq!(
        refused(
            &v(),
            &with(json!({"alg": "HS256", "kid": "hmac", "b64": false, "crit": ["b64"]}))
        ),
        is(
            "jws.b64",
            "the token has an unencoded payload (b64 false), which is refused"
        )
    );
    assert_eq!(
        refused(
            &v(),
            &with(json!({"alg": "HS256", "kid": "hmac", "b64": "no"}))
        ),
        is(
            "jws.malformed",
            "the token is malformed: the header's b64 is not a boolean"
        )
    );
    assert!(
        v().verify(
            &with(json!({"alg": "HS256", "kid": "hmac", "b64": true})),
            &keys()
        )
        .is_ok()
    );
}

#[test]
fn ecdsa_signatures_are_r_and_s_of_exactly_the_curve_length() {
    let token = es256_raw(r#"{"alg":"ES256","kid":"ec"}"#, &claims().to_string());
    let (input, sig) = token.rsplit_once('.').unwrap();
    let sig = jwk_testkit::b64url_decode(sig);
    assert!(v().verify(&token, &keys()).is_ok());
    let mut longer = sig.clone();
    longer.push(0);
    let mut der = vec![0x30, 0x44, 0x02, 0x20];
    der.extend_from_slice(&sig[..32]);
    der.extend_from_slice(&[0x02, 0x20]);
    der.extend_from_slice(&sig[32..]);
    for bad in [&sig[..63], &longer[..], &der[..], &[0u8; 64][..]] {
        assert_eq!(
            refused(&v(), &format!("{input}.{}", b64(bad))),
            is("jws.bad_signature", "the token's signature does not verify")
        );
    }
}

#[test]
fn small_rsa_keys_and_keys_that_cannot_verify_are_refused() {
    // 1024-bit modulus (odd, well formed): refused before its signature is looked at.
    let n = {
        let mut n = vec![0xc5u8; 128];
        n[127] = 0x03;
        n
    };
    let small = KeySet::new([jwk(
        json!({"kty": "RSA", "kid": "small", "n": b64(&n), "e": "AQAB"}),
    )]);
    let token = hs256(json!({"alg": "RS256", "kid": "small"}), claims());
    let err = v().verify(&token, &small).unwrap_err();
    assert_eq!(
        (err.code(), err.to_string()),
        is(
            "jws.weak_key",
            "the key kid \"small\" is a 1024-bit RSA key; signatures need at least 2048 bits"
        )
    );
    let err = v().min_rsa_bits(1024).verify(&token, &small).unwrap_err();
    assert_eq!(err, VerifyError::BadSignature);
    assert_eq!(
        v().min_rsa_bits(512).verify(&token, &small).unwrap_err(),
        VerifyError::BadSignature,
        "the floor is 1024"
    );

    let unusable = |key: Value, alg: &str| {
        let set = KeySet::new([jwk(key)]);
        let err = v()
            .verify(&hs256(json!({"alg": alg, "kid": "k"}), claims()), &set)
            .unwrap_err();
        (err.code(), err.to_string())
    };
    assert_eq!(
        unusable(
            json!({"kty": "oct", "kid": "k", "use": "enc", "k": b64(SECRET)}),
            "HS256"
        ),
        is(
            "jws.key_unusable",
            "the key kid \"k\" cannot verify this token: it is an encryption key (use enc)"
        )
    );
    assert_eq!(
        unusable(
            json!({"kty": "oct", "kid": "k", "key_ops": ["sign"], "k": b64(SECRET)}),
            "HS256"
        ),
        is(
            "jws.key_unusable",
            "the key kid \"k\" cannot verify this token: its key_ops do not include verify"
        )
    );
    assert_eq!(
        unusable(
            json!({"kty": "oct", "kid": "k", "k": b64(&SECRET[..31])}),
            "HS256"
        ),
        is(
            "jws.key_unusable",
            "the key kid \"k\" cannot verify this token: an HMAC key needs at least 32 bytes (HS256); it has 31"
        )
    );
    assert_eq!(
        unusable(
            json!({"kty": "oct", "kid": "k", "alg": "HS512", "k": b64(SECRET)}),
            "HS512"
        ),
        is(
            "jws.key_unusable",
            "the key kid \"k\" cannot verify this token: its alg HS512 needs a longer key (at least 64 bytes)"
        )
    );
    assert_eq!(
        unusable(
            json!({"kty": "oct", "kid": "k", "alg": "A256GCM", "k": b64(SECRET)}),
            "HS256"
        ),
        is(
            "jws.key_unusable",
            "the key kid \"k\" cannot verify this token: its alg \"A256GCM\" is not a signature algorithm for its key (it would verify HS256)"
        )
    );
    let mut identity = [0u8; 32];
    identity[0] = 1;
    assert_eq!(
        unusable(
            json!({"kty": "OKP", "crv": "Ed25519", "kid": "k", "x": b64(&identity)}),
            "EdDSA"
        ),
        is(
            "jws.key_unusable",
            "the key kid \"k\" cannot verify this token: its Ed25519 public key is of small order (weak)"
        )
    );
    assert_eq!(
        unusable(
            json!({"kty": "OKP", "crv": "X25519", "kid": "k", "x": "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo"}),
            "EdDSA"
        ),
        is(
            "jws.key_unusable",
            "the key kid \"k\" cannot verify this token: an X25519 key is for key agreement, not signatures"
        )
    );
}

#[test]
fn the_key_is_found_by_kid_x5t_or_jkt_never_by_trying() {
    assert_eq!(
        refused(&v(), &hs256(json!({"alg": "HS256"}), claims())),
        is(
            "jws.no_key_id",
            "the token's header names no key (kid, x5t#S256 or jkt)"
        )
    );
    assert_eq!(
        refused(
            &v(),
            &hs256(json!({"alg": "HS256", "kid": "other"}), claims())
        ),
        is("jws.unknown_key", "no key has the token's kid \"other\"")
    );
    let thumbprint =
        jwk(json!({"kty": "oct", "k": b64(SECRET)})).thumbprint(jwk_core::ThumbprintHash::Sha256);
    assert!(
        v().verify(
            &hs256(json!({"alg": "HS256", "jkt": thumbprint}), claims()),
            &keys()
        )
        .is_ok()
    );
    // By x5t#S256: a key that carries its certificate's SHA-256.
    let cert_hash = b64(&[7u8; 32]);
    let with_x5t = KeySet::new([jwk(
        json!({"kty": "oct", "k": b64(SECRET), "x5t#S256": cert_hash}),
    )]);
    let token = hs256(json!({"alg": "HS256", "x5t#S256": cert_hash}), claims());
    assert_eq!(
        v().verify(&token, &with_x5t).unwrap().claims["sub"],
        "alice"
    );
    assert_eq!(
        refused(
            &v(),
            &hs256(json!({"alg": "HS256", "x5t#S256": "abc"}), claims())
        ),
        is("jws.unknown_key", "no key has the token's x5t#S256 \"abc\"")
    );
    // A wrong key under the right kid: the signature fails, nothing else is tried.
    let other = hs256_raw(
        r#"{"alg":"HS256","kid":"hmac"}"#,
        &claims().to_string(),
        b"another key of thirty-two bytes!",
    );
    assert_eq!(
        refused(&v(), &other),
        is("jws.bad_signature", "the token's signature does not verify")
    );
}

#[test]
fn typ_is_checked_when_required() {
    let at = v().typ("at+jwt");
    assert!(
        at.verify(
            &hs256(
                json!({"alg": "HS256", "kid": "hmac", "typ": "application/AT+JWT"}),
                claims()
            ),
            &keys()
        )
        .is_ok()
    );
    assert_eq!(
        refused(
            &at,
            &hs256(
                json!({"alg": "HS256", "kid": "hmac", "typ": "JWT"}),
                claims()
            )
        ),
        is("jws.typ", "the token's typ is JWT; at+jwt is required")
    );
    assert_eq!(
        refused(
            &at,
            &hs256(json!({"alg": "HS256", "kid": "hmac"}), claims())
        ),
        is("jws.typ", "the token's typ is none; at+jwt is required")
    );
}

#[test]
fn claims_are_checked_after_the_signature() {
    let h = json!({"alg": "HS256", "kid": "hmac"});
    let with = |claims: Value| hs256(h.clone(), claims);
    let raw = |claims: &str| hs256_raw(&h.to_string(), claims, SECRET);
    assert_eq!(
        refused(&v(), &raw("[1]")),
        is(
            "jwt.claims",
            "the token's claims are not a JSON object: invalid type: sequence, expected a JSON object at line 1 column 0"
        )
    );
    assert_eq!(
        refused(&v(), &raw(r#"{"exp":1,"exp":9999999999}"#)),
        is(
            "jwt.claims",
            "the token's claims are not a JSON object: the member \"exp\" is repeated at line 1 column 26"
        )
    );
    assert_eq!(
        refused(&v(), &with(json!({"sub": "a"}))),
        is(
            "jwt.missing_claim",
            "the token has no exp claim, which is required"
        )
    );
    assert!(
        v().required_claims(&[])
            .verify(&with(json!({"sub": "a"})), &keys())
            .is_ok()
    );
    assert_eq!(
        refused(
            &v().required_claims(&["exp", "sub", "jti"]),
            &with(claims())
        ),
        is(
            "jwt.missing_claim",
            "the token has no jti claim, which is required"
        )
    );
    assert_eq!(
        refused(&v(), &with(json!({"exp": "tomorrow"}))),
        is(
            "jwt.invalid_claim",
            "the token's exp claim is invalid: it is not a number of seconds since 1970 (NumericDate)"
        )
    );
    assert_eq!(
        refused(&v(), &with(json!({"exp": NOW - 60}))),
        is(
            "jwt.expired",
            "the token expired at 1799999940 (now 1800000000, leeway 60 s)"
        )
    );
    assert!(v().verify(&with(json!({"exp": NOW - 59})), &keys()).is_ok());
    assert_eq!(
        refused(&v().leeway(Duration::ZERO), &with(json!({"exp": NOW}))),
        is(
            "jwt.expired",
            "the token expired at 1800000000 (now 1800000000, leeway 0 s)"
        )
    );
    assert_eq!(
        refused(&v(), &with(json!({"exp": NOW + 600, "nbf": NOW + 61}))),
        is(
            "jwt.not_yet_valid",
            "the token is not valid before 1800000061 (now 1800000000, leeway 60 s)"
        )
    );
    assert!(
        v().verify(&with(json!({"exp": NOW + 600, "nbf": NOW + 60})), &keys())
            .is_ok()
    );
    assert_eq!(
        refused(&v(), &with(json!({"exp": NOW + 600, "iat": NOW + 61}))),
        is(
            "jwt.iat_in_future",
            "the token was issued in the future, at 1800000061 (now 1800000000, leeway 60 s)"
        )
    );
    assert_eq!(
        refused(
            &v().leeway(Duration::from_secs(100_000)),
            &with(json!({"exp": NOW - 3601}))
        )
        .0,
        "jwt.expired",
        "the leeway is capped at an hour"
    );
}

/// A verifier given a clock judges token times by it, as it moves (the host's one clock:
/// a registry's, a test's manual one); `at` still wins over it.
#[test]
fn token_times_follow_the_clock_given() {
    use jwk_verify::{Clock, ManualClock};
    let clock = Arc::new(ManualClock::at_secs(NOW));
    let verifier = Verifier::new().clock(clock.clone());
    let token = hs256(
        json!({"alg": "HS256", "kid": "hmac"}),
        json!({"exp": NOW + 100}),
    );
    assert!(verifier.verify(&token, &keys()).is_ok());
    clock.advance_secs(160);
    assert_eq!(
        refused(&verifier, &token),
        is(
            "jwt.expired",
            "the token expired at 1800000100 (now 1800000160, leeway 60 s)"
        )
    );
    assert!(verifier.clone().at(NOW).verify(&token, &keys()).is_ok());
    assert_eq!(clock.now_secs(), NOW + 160);
}

#[test]
fn issuer_and_audience() {
    let h = json!({"alg": "HS256", "kid": "hmac"});
    let with = |extra: Value| {
        let mut c = claims();
        c.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        hs256(h.clone(), c)
    };
    let iss = v()
        .issuer("https://idp.example")
        .issuer("https://idp2.example");
    assert!(
        iss.verify(&with(json!({"iss": "https://idp2.example"})), &keys())
            .is_ok()
    );
    assert_eq!(
        refused(&iss, &with(json!({}))),
        is(
            "jwt.missing_claim",
            "the token has no iss claim, which is required"
        )
    );
    assert_eq!(
        refused(&iss, &with(json!({"iss": "https://evil.example"}))),
        is(
            "jwt.issuer",
            "the token's issuer \"https://evil.example\" is not accepted"
        )
    );
    assert_eq!(
        refused(&iss, &with(json!({"iss": ["https://idp.example"]}))),
        is(
            "jwt.invalid_claim",
            "the token's iss claim is invalid: it is not a string"
        )
    );
    let aud = v().audience("api");
    assert!(aud.verify(&with(json!({"aud": "api"})), &keys()).is_ok());
    assert!(
        aud.verify(&with(json!({"aud": ["web", "api"]})), &keys())
            .is_ok()
    );
    assert_eq!(
        refused(&aud, &with(json!({"aud": ["web"]}))),
        is(
            "jwt.audience",
            "the token's audience (aud) names none of the accepted audiences"
        )
    );
    assert_eq!(
        refused(&aud, &with(json!({}))),
        is(
            "jwt.missing_claim",
            "the token has no aud claim, which is required"
        )
    );
    assert_eq!(
        refused(&aud, &with(json!({"aud": ["api", 1]}))),
        is(
            "jwt.invalid_claim",
            "the token's aud claim is invalid: it is neither a string nor an array of strings"
        )
    );
    assert_eq!(
        refused(&v(), &with(json!({"aud": "api"}))),
        is(
            "jwt.audience",
            "the token names an audience (aud) and this verifier accepts none: name the accepted audiences, or accept any"
        )
    );
    assert!(
        v().any_audience()
            .verify(&with(json!({"aud": "api"})), &keys())
            .is_ok()
    );
}

#[test]
fn a_key_given_directly_needs_no_kid() {
    let key = Arc::new(VerificationKey::new(Arc::new(jwk(
        json!({"kty": "oct", "k": b64(SECRET)}),
    ))));
    let token = hs256(json!({"alg": "HS256"}), claims());
    assert_eq!(
        v().verify_with_key(&token, &key).unwrap().claims["sub"],
        "alice"
    );
}
