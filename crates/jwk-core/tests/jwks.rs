//! jwkStr: a JWK or a JWK Set, and choosing one key by kid.

use jwk_core::{ImportOptions, JwkSet, import};

const RSA_N: &str = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";

fn ec_key(kid: &str) -> String {
    format!(
        r#"{{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","use":"enc","kid":"{kid}"}}"#
    )
}

fn rsa_key(kid: &str) -> String {
    format!(r#"{{"kty":"RSA","n":"{RSA_N}","e":"AQAB","alg":"RS256","kid":"{kid}"}}"#)
}

fn select(text: &str, kid: Option<&str>) -> Result<String, (String, String)> {
    import(
        text.as_bytes(),
        &ImportOptions {
            kid,
            ..ImportOptions::default()
        },
    )
    .map(|j| j.to_json())
    .map_err(|e| (e.code().to_owned(), e.to_string()))
}

#[test]
fn one_key_needs_no_kid() {
    let set = format!(r#"{{"keys":[{}]}}"#, ec_key("1"));
    assert_eq!(
        select(&set, None).unwrap(),
        r#"{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","kid":"1","use":"enc"}"#
    );
    assert_eq!(
        select(&ec_key("1"), None).unwrap(),
        select(&set, None).unwrap()
    );
}

#[test]
fn kid_selects_from_a_set_and_from_a_bare_array() {
    let set = format!(r#"{{"keys":[{},{}]}}"#, ec_key("a"), rsa_key("b"));
    let chosen = select(&set, Some("b")).unwrap();
    assert!(chosen.starts_with(r#"{"kty":"RSA","n":"0vx7"#), "{chosen}");
    assert!(
        chosen.ends_with(r#""e":"AQAB","kid":"b","alg":"RS256"}"#),
        "{chosen}"
    );
    let array = format!("[{},{}]", ec_key("a"), rsa_key("b"));
    assert_eq!(select(&array, Some("b")).unwrap(), chosen);
}

#[test]
fn several_keys_without_kid_name_the_kids() {
    let set = format!(r#"{{"keys":[{},{}]}}"#, ec_key("a"), rsa_key("b"));
    assert_eq!(
        select(&set, None).unwrap_err(),
        (
            "jwks.kid_required".to_owned(),
            r#"the JWK Set holds 2 keys: give a kid to choose one (kids: "a", "b")"#.to_owned()
        )
    );
}

#[test]
fn unknown_kid_names_the_kids_that_exist() {
    let set = format!(r#"{{"keys":[{},{}]}}"#, ec_key("a"), rsa_key("b"));
    assert_eq!(
        select(&set, Some("c")).unwrap_err(),
        (
            "jwks.kid_not_found".to_owned(),
            r#"no key with kid "c" in the JWK Set (kids: "a", "b")"#.to_owned()
        )
    );
    // A single JWK is a set of one: its kid must match too.
    assert_eq!(
        select(&ec_key("a"), Some("z")).unwrap_err().0,
        "jwks.kid_not_found"
    );
}

#[test]
fn shared_kid_is_ambiguous() {
    let set = format!(
        r#"{{"keys":[{},{},{}]}}"#,
        ec_key("a"),
        rsa_key("a"),
        rsa_key("b")
    );
    assert_eq!(
        select(&set, Some("a")).unwrap_err(),
        (
            "jwks.kid_ambiguous".to_owned(),
            r#"2 keys in the JWK Set share kid "a": the kid does not identify one key (kids: "a", "a", "b")"#.to_owned()
        )
    );
    assert!(select(&set, Some("b")).is_ok());
}

#[test]
fn a_malformed_key_does_not_stop_selecting_a_good_one() {
    let set = format!(
        r#"{{"keys":[{{"kty":"EC","crv":"P-256","x":"AA","y":"AA","kid":"broken"}},{{"kty":"AKP","alg":"ML-DSA-44","pub":"AA","kid":"pq"}},"not an object",{}]}}"#,
        rsa_key("good")
    );
    assert!(select(&set, Some("good")).is_ok());
    assert_eq!(
        select(&set, Some("broken")).unwrap_err(),
        (
            "jwk.bad_length".to_owned(),
            r#"key #0 of the JWK Set (kid "broken"): JWK member "x" must be 32 bytes for P-256, got 1"#.to_owned()
        )
    );
    assert_eq!(
        select(&set, Some("pq")).unwrap_err().1,
        r#"key #1 of the JWK Set (kid "pq"): unsupported kty "AKP": supported are RSA, EC, OKP and oct"#
    );
    let parsed = JwkSet::parse(&set).unwrap();
    assert_eq!(parsed.entries().len(), 4);
    assert_eq!(parsed.keys().count(), 1);
    let kids: Vec<_> = parsed.entries().iter().map(|e| e.kid.clone()).collect();
    assert_eq!(
        kids,
        [
            Some("broken".into()),
            Some("pq".into()),
            None,
            Some("good".into())
        ]
    );
}

#[test]
fn unknown_members_are_kept_and_canonicalised() {
    let text = r#"{ "zeta" : [1, {"b" : true}], "kty":"oct", "k":"AAAA", "alpha":"x y" }"#;
    let out = select(text, None).unwrap();
    assert_eq!(
        out,
        r#"{"kty":"oct","k":"AAAA","alpha":"x y","zeta":[1,{"b":true}]}"#
    );
    assert_eq!(select(&out, None).unwrap(), out);
}

#[test]
fn rsa_leading_zeros_are_dropped_and_missing_crt_values_recovered() {
    // RFC 7517 A.2 RSA key with a zero byte prefixed to n and without p, q, dp, dq, qi.
    let vectors = jwk_testkit::vectors("rfc-vectors.json");
    let private = vectors
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["section"] == "A.2" && v["jwk"]["kty"] == "RSA")
        .unwrap()["jwk"]
        .clone();
    let full = select(&private.to_string(), None).unwrap();
    let mut bare = private.clone();
    for m in ["p", "q", "dp", "dq", "qi"] {
        bare.as_object_mut().unwrap().remove(m);
    }
    assert_eq!(select(&bare.to_string(), None).unwrap(), full);
    let n = jwk_testkit::b64url(
        &[
            &[0u8][..],
            &base64ct::Base64UrlUnpadded::decode_vec(private["n"].as_str().unwrap()).unwrap(),
        ]
        .concat(),
    );
    let mut padded = private.clone();
    padded["n"] = serde_json::Value::String(n);
    assert_eq!(select(&padded.to_string(), None).unwrap(), full);
}

use base64ct::Encoding;

#[test]
fn only_the_chosen_entry_is_checked_whatever_the_others_hold() {
    // Entries not chosen: duplicate members, a nested object naming a kid, an escaped kid,
    // a kid that is not a string, a repeated kid member, an array.
    let set = format!(
        r#"{{"keys":[{{"kty":"EC","kty":"EC","kid":"dup-member"}},{{"kty":"oct","ext":{{"kid":"good"}},"kid":"nested"}},{{"kty":"oct","k\u0069d":"escaped","k":"AAAA"}},{{"kty":"oct","kid":7}},{{"kid":"twice","kid":"twice"}},["kid","good"],{}]}}"#,
        ec_key("good")
    );
    assert_eq!(
        select(&set, Some("good")).unwrap(),
        r#"{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","kid":"good","use":"enc"}"#
    );
    assert_eq!(
        select(&set, Some("dup-member")).unwrap_err(),
        (
            "jwk.duplicate_member".to_owned(),
            r#"key #0 of the JWK Set (kid "dup-member"): JWK member "kty" appears more than once"#
                .to_owned()
        )
    );
    assert_eq!(
        select(&set, Some("escaped")).unwrap(),
        r#"{"kty":"oct","k":"AAAA","kid":"escaped"}"#
    );
    assert_eq!(
        select(&set, Some("twice")).unwrap_err().1,
        r#"no key with kid "twice" in the JWK Set (kids: "dup-member", "nested", "escaped", "good")"#
    );
    let parsed = JwkSet::parse(&set).unwrap();
    let kids: Vec<_> = parsed.entries().iter().map(|e| e.kid.clone()).collect();
    assert_eq!(
        kids,
        [
            Some("dup-member".into()),
            Some("nested".into()),
            Some("escaped".into()),
            None,
            None,
            None,
            Some("good".into())
        ]
    );
}

#[test]
fn an_object_of_very_many_members_is_read_in_linear_time() {
    // 200,000 distinct members, then one repeated: a quadratic duplicate check would take
    // minutes; the error names the repeated member.
    let mut text = String::from(r#"{"kty":"oct""#);
    for i in 0..200_000 {
        text.push_str(&format!(r#","m{i}":0"#));
    }
    text.push_str(r#","m7":1}"#);
    assert_eq!(
        select(&text, None).unwrap_err(),
        (
            "jwk.duplicate_member".to_owned(),
            r#"JWK member "m7" appears more than once"#.to_owned()
        )
    );
}

#[test]
fn lone_surrogates_are_refused_in_kept_members() {
    let with =
        |member: &str| ec_key("n").replace(r#""use":"enc""#, &format!(r#""use":"enc",{member}"#));
    for (member, escape) in [
        (r#""ext":"\ud800""#, r"\ud800"),
        (r#""ext":"a\uDC00b""#, r"\uDC00"),
        (r#""ext":"\ud800\u0041""#, r"\ud800"),
        (r#""ext":"\ud800\ud800\udc00""#, r"\ud800"),
        (r#""ext":{"\udbff":1}"#, r"\udbff"),
        (r#""ext":["ok","x\ud83d"]"#, r"\ud83d"),
        (r#""ext":"\\\ud800""#, r"\ud800"),
    ] {
        assert_eq!(
            select(&with(member), None).unwrap_err(),
            (
                "jwk.invalid_member".to_owned(),
                format!(
                    "JWK member \"ext\" is invalid: it holds the lone UTF-16 surrogate {escape}, \
                     which is not Unicode text (strict JSON parsers refuse the whole JWK Set: \
                     RFC 8259 §8.2, RFC 7493)"
                )
            ),
            "{member}"
        );
    }
    // Pairs, escaped backslashes before a `u`, and other escapes are text.
    for member in [
        r#""ext":"\ud83d\ude00""#,
        r#""ext":"\\ud800""#,
        r#""ext":{"\uD83D\uDE00":"\n\"\u00e9"}"#,
    ] {
        let kept = select(&with(member), None).unwrap();
        assert!(kept.contains(&member[6..]), "{member} in {kept}");
    }
}

#[test]
fn numbers_parsers_disagree_on_are_refused_in_kept_members() {
    let with =
        |member: &str| ec_key("n").replace(r#""use":"enc""#, &format!(r#""use":"enc",{member}"#));
    for (member, number) in [
        (r#""exp":1e999999"#, "1e999999"),
        (r#""ext":{"a":[1,"-1e400",-1e400]}"#, "-1e400"),
    ] {
        assert_eq!(
            select(&with(member), None).unwrap_err(),
            (
                "jwk.invalid_member".to_owned(),
                format!(
                    "JWK member \"{}\" is invalid: it holds the number {number}, which is not a \
                     finite 64-bit floating point value (JSON parsers do not agree on it)",
                    &member[1..4]
                )
            ),
            "{member}"
        );
    }
    let long = format!(r#""exp":{}"#, "9".repeat(400));
    assert_eq!(
        select(&with(&long), None).unwrap_err().1,
        format!(
            "JWK member \"exp\" is invalid: it holds the number {}…, which is not a finite 64-bit \
             floating point value (JSON parsers do not agree on it)",
            "9".repeat(40)
        )
    );
    let fine = select(
        &with(r#""exp":1e308,"big":123456789012345678901234567890"#),
        None,
    )
    .unwrap();
    assert!(
        fine.ends_with(r#","big":123456789012345678901234567890,"exp":1e308}"#),
        "{fine}"
    );
    // In a key that is not chosen, it does not stop the choice.
    let set = format!(
        r#"{{"keys":[{},{}]}}"#,
        with(r#""exp":1e999999"#).replace(r#""kid":"n""#, r#""kid":"bad""#),
        ec_key("good")
    );
    assert!(select(&set, Some("good")).is_ok());
}
