//! Remote JWK Sets and followed URL JWKs against a loopback JWKS server that rotates its
//! keys, refreshed by the refresh controller on a manual clock: refresh ahead of max-age,
//! refetch on an unknown kid without amplification, conditional requests, grace, outages and
//! the stale limit. Loopback only; every server stops with its test.

mod support;

use support::{F, Jwks, P, public_key, quick, signer};

use jwk_controllers::{LookupError, MissStats};
use jwk_registry::{Command, JwkSetSpec, RefreshPolicy, UrlOptions};

#[test]
fn a_new_kid_is_found_after_exactly_one_refetch_and_random_kids_do_not_amplify() {
    let f = F::new();
    let (k1, k2) = (public_key("k1"), public_key("k2"));
    let server = Jwks::start(&[&k1], &["Cache-Control: max-age=3600"]);
    let created = f.create("idp", server.stub.url("/jwks"), quick());
    assert_eq!(created.resync.unwrap().added, ["k1"]);
    assert!(created.deployment.unwrap().success);
    f.follow();
    let live = f.refresh.live_keys("prod");
    assert_eq!(live.get(P, "k1").unwrap().to_public_json().unwrap(), k1);
    let before = server.requests();

    // The provider rotates: the new kid is served after one refetch.
    server.serve(&[&k1, &k2], &["Cache-Control: max-age=3600"]);
    let found = f.rt.block_on(live.find(P, "k2")).unwrap();
    assert_eq!(found.to_public_json().unwrap(), k2);
    assert_eq!(server.requests(), before + 1);
    assert_eq!(f.refresh.miss_stats().refetches, 1);

    // 10 000 lookups of random kids within the cooldown fetch nothing more.
    let misses = f.rt.block_on(async {
        let mut tasks = Vec::new();
        for i in 0..10_000 {
            let live = live.clone();
            tasks.push(tokio::spawn(async move {
                live.find(P, &format!("random-{i}")).await
            }));
        }
        let mut misses = 0;
        for t in tasks {
            match t.await.unwrap() {
                Err(LookupError::UnknownKid {
                    refetched: false, ..
                }) => misses += 1,
                other => panic!("unexpected {other:?}"),
            }
        }
        misses
    });
    assert_eq!(misses, 10_000);
    assert_eq!(server.requests(), before + 1);
    assert_eq!(f.refresh.miss_stats().suppressed, 10_000);
    // A kid of no project's set is unknown at once.
    let err = f.rt.block_on(live.find("other", "k1")).unwrap_err();
    assert_eq!(err.code(), "lookup.unknown_kid");
    assert_eq!(err.to_string(), "no key of project other has the kid k1");
}

#[test]
fn concurrent_misses_outside_the_cooldown_cause_one_request() {
    let f = F::new();
    let server = Jwks::start(&[&public_key("k1")], &["Cache-Control: max-age=3600"]);
    f.create("idp", server.stub.url("/jwks"), quick());
    f.follow();
    let before = server.requests();
    let live = f.refresh.live_keys("prod");
    let results = f.rt.block_on(async {
        let tasks: Vec<_> = (0..10_000)
            .map(|i| {
                let live = live.clone();
                tokio::spawn(async move { live.find(P, &format!("unknown-{i}")).await })
            })
            .collect();
        let mut out = Vec::new();
        for t in tasks {
            out.push(t.await.unwrap().unwrap_err());
        }
        out
    });
    assert_eq!(server.requests(), before + 1, "one refetch for all of them");
    assert_eq!(results.len(), 10_000);
    assert!(results.iter().all(|e| e.code() == "lookup.unknown_kid"));
    let stats = f.refresh.miss_stats();
    assert_eq!(stats.refetches, 1);
}

#[test]
fn conditional_refreshes_grace_for_vanished_keys_and_the_status() {
    let f = F::new();
    let (k1, k2) = (public_key("k1"), public_key("k2"));
    let server = Jwks::start(&[&k1], &["ETag: \"v1\"", "Cache-Control: max-age=120"]);
    f.create(
        "idp",
        server.stub.url("/jwks"),
        RefreshPolicy {
            grace_seconds: Some(1),
            ..quick()
        },
    );
    // Nothing new: 304 to the stored ETag.
    let report = f.refresh("idp").unwrap().resync.unwrap();
    assert!(report.not_modified);
    let last = server.stub.requests().pop().unwrap();
    assert!(last.contains("if-none-match: \"v1\"\r\n"), "{last}");

    // k1 leaves the set: still served for the grace period, then gone.
    server.serve(&[&k2], &["ETag: \"v2\""]);
    let outcome = f.refresh("idp").unwrap();
    let report = outcome.resync.unwrap();
    assert_eq!(
        (report.added, report.removed),
        (vec!["k2".to_owned()], vec!["k1".to_owned()])
    );
    assert!(outcome.deployment.unwrap().success);
    assert!(f.served("k1") && f.served("k2"));
    let view = f.reg.get_jwk_set(&f.admin, P, "idp").unwrap();
    assert_eq!(view.status.kids, ["k2", "k1"]);
    assert_eq!(view.status.grace_kids, ["k1"]);
    assert_eq!(view.status.etag.as_deref(), Some("\"v2\""));
    // No max-age: the policy's default interval.
    assert_eq!(view.status.interval_seconds, 300);
    f.clock.advance_ms(1100);
    let report = f.refresh("idp").unwrap().resync.unwrap();
    assert!(report.not_modified);
    assert!(!f.served("k1") && f.served("k2"));
    let view = f.reg.get_jwk_set(&f.admin, P, "idp").unwrap();
    assert_eq!(view.status.kids, ["k2"]);
    assert!(view.status.grace_kids.is_empty());
}

#[test]
fn malformed_and_symmetric_keys_are_skipped_and_reported() {
    let f = F::new();
    let good = public_key("good");
    let server = Jwks::start(
        &[
            r#"{"kty":"EC","kid":"broken","crv":"P-256","x":"AAAA","y":"AAAA"}"#,
            r#"{"kty":"oct","kid":"secret","k":"GawgguFyGrWKav7AX4VKUg"}"#,
            &good,
            &good,
        ],
        &[],
    );
    f.create("idp", server.stub.url("/jwks"), quick());
    assert!(f.served("good") && !f.served("broken") && !f.served("secret"));
    let view = f.reg.get_jwk_set(&f.admin, P, "idp").unwrap();
    let skipped: Vec<(usize, Option<&str>, &str)> = view
        .status
        .skipped
        .iter()
        .map(|s| (s.index, s.kid.as_deref(), s.code.as_str()))
        .collect();
    assert_eq!(skipped.len(), 3, "{:?}", view.status.skipped);
    assert_eq!(skipped[1], (1, Some("secret"), "jwk_set.symmetric_key"));
    assert_eq!(skipped[2], (3, Some("good"), "jwk_set.duplicate_kid"));
    assert_eq!(skipped[0].0, 0);
    assert_eq!(skipped[0].1, Some("broken"));
    // A set with nothing usable is refused and nothing is saved.
    let only_bad = Jwks::start(&[r#"{"kty":"oct","k":"GawgguFyGrWKav7AX4VKUg"}"#], &[]);
    let err = f
        .run(Command::CreateJwkSet {
            project: P.into(),
            name: "bad".into(),
            spec: JwkSetSpec::new(only_bad.stub.url("/jwks")),
        })
        .unwrap_err();
    assert_eq!(err.code(), "jwk_set.no_usable_key");
    assert_eq!(
        err.to_string(),
        "JWK could not be fetched from the URL: the JWK Set holds no usable public key (1 entries skipped)"
    );
    assert_eq!(
        f.reg.get_jwk_set(&f.admin, P, "bad").unwrap_err().message(),
        "JWK Set (name: bad) is not found!"
    );
}

#[test]
fn an_outage_keeps_the_last_good_set_until_the_stale_limit_then_withdraws_it() {
    let f = F::new();
    let server = Jwks::start(&[&public_key("k1")], &[]);
    let url = server.stub.url("/jwks");
    f.create(
        "idp",
        url.clone(),
        RefreshPolicy {
            stale_limit_seconds: 1,
            ..quick()
        },
    );
    // A second set of the same server, with the default stale limit (a day).
    let other = Jwks::start(&[&public_key("k7")], &[]);
    f.create("lenient", other.stub.url("/jwks"), quick());
    server.answer_with("503 Service Unavailable", &[], "down");
    let err = f.refresh("idp").unwrap_err();
    assert_eq!(
        (err.code(), err.to_string().as_str()),
        (
            "fetch.http_status",
            "JWK could not be fetched from the URL: the server answered HTTP 503"
        )
    );
    assert!(f.served("k1"), "the last good set is still served");
    let view = f.reg.get_jwk_set(&f.admin, P, "idp").unwrap();
    assert_eq!(view.status.consecutive_failures, 1);
    assert_eq!(view.status.error_code.as_deref(), Some("fetch.http_status"));
    assert!(view.status.stale_since.is_some() && !view.status.withdrawn);

    // The servers go away entirely; past the stale limit the keys are withdrawn, within it
    // the last good set is served.
    drop(server);
    drop(other);
    f.clock.advance_ms(1100);
    let err = f.refresh("lenient").unwrap_err();
    assert_eq!(err.code(), "fetch.connection", "{err}");
    assert!(
        f.served("k7"),
        "an unreachable server leaves the last good set served"
    );
    let lenient = f.reg.get_jwk_set(&f.admin, P, "lenient").unwrap();
    assert_eq!(lenient.status.kids, ["k7"]);
    assert!(!lenient.status.withdrawn);
    let err = f.refresh("idp").unwrap_err();
    assert_eq!(err.code(), "fetch.connection", "{err}");
    assert!(!f.served("k1"), "withdrawn past the stale limit");
    let view = f.reg.get_jwk_set(&f.admin, P, "idp").unwrap();
    assert!(view.status.withdrawn);
    assert!(view.status.kids.is_empty());
    assert_eq!(view.status.consecutive_failures, 2);
}

#[test]
fn sets_are_checked_named_uniquely_updated_and_deleted() {
    let f = F::new();
    let server = Jwks::start(&[&public_key("k1")], &[]);
    let url = server.stub.url("/jwks");
    f.create("idp", url.clone(), quick());
    let again = f
        .run(Command::CreateJwkSet {
            project: P.into(),
            name: "idp".into(),
            spec: JwkSetSpec::new(url.clone()),
        })
        .unwrap_err();
    assert_eq!(again.message(), "JWK Set (name: idp) is already exist!");
    let bad_option = f
        .run(Command::CreateJwkSet {
            project: P.into(),
            name: "other".into(),
            spec: JwkSetSpec {
                options: UrlOptions {
                    read_timeout_ms: Some(0),
                    ..UrlOptions::default()
                },
                ..JwkSetSpec::new(url.clone())
            },
        })
        .unwrap_err();
    assert_eq!(
        bad_option.message(),
        "urlOptionReadTimeout (0) is not valid! It must be between 1 and 30000 milliseconds."
    );
    // Another URL: its keys replace the set's at once.
    let other = Jwks::start(&[&public_key("k9")], &[]);
    let report = f
        .run(Command::UpdateJwkSet {
            project: P.into(),
            name: "idp".into(),
            spec: JwkSetSpec::new(other.stub.url("/jwks")),
        })
        .unwrap()
        .resync
        .unwrap();
    assert_eq!(
        (report.added, report.removed),
        (vec!["k9".to_owned()], vec!["k1".to_owned()])
    );
    assert!(f.served("k9") && !f.served("k1"));
    let listed = f.reg.list_jwk_sets(&f.admin, P).unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].url, other.stub.url("/jwks"));
    assert_eq!(listed[0].refresh, RefreshPolicy::default());
    f.run(Command::DeleteJwkSet {
        project: P.into(),
        name: "idp".into(),
    })
    .unwrap();
    assert!(!f.served("k9"));
    assert!(f.reg.list_jwk_sets(&f.admin, P).unwrap().is_empty());
    assert_eq!(
        f.refresh("idp").unwrap_err().message(),
        "JWK Set (name: idp) is not found!"
    );
}

#[test]
fn the_follower_refreshes_ahead_of_the_servers_max_age() {
    let f = F::new();
    let (k1, k2) = (public_key("k1"), public_key("k2"));
    let server = Jwks::start(&[&k1], &["Cache-Control: max-age=1"]);
    f.create("idp", server.stub.url("/jwks"), quick());
    f.follow();
    let before = server.requests();
    server.serve(&[&k2], &["Cache-Control: max-age=1"]);
    // Refreshed within the second max-age allows (at 80–90 % of it), with no lookup asking:
    // not before 80 %, by 90 %.
    f.tick(790);
    assert!(!f.served("k2"));
    assert_eq!(server.requests(), before, "not due before 80 % of max-age");
    f.tick(110);
    assert!(f.served("k2"));
    assert_eq!(server.requests(), before + 1);
    let view = f.reg.get_jwk_set(&f.admin, P, "idp").unwrap();
    assert_eq!(view.status.interval_seconds, 1);
    assert_eq!(view.status.kids, ["k2", "k1"], "k1 in its grace period");
    assert_eq!(f.refresh.miss_stats(), MissStats::default());
}

/// Ticks the clock a second at a time (at most `seconds` times) until `check` holds.
fn until(f: &F, what: &str, seconds: u64, check: impl Fn() -> bool) {
    for _ in 0..seconds {
        if check() {
            return;
        }
        f.tick(1000);
    }
    assert!(check(), "{what}: not within {seconds} s of the clock");
}

#[test]
fn a_followed_url_jwk_takes_its_new_key_and_is_withdrawn_past_the_stale_limit() {
    let f = F::new();
    let (a, b) = (public_key("k1"), public_key("k1"));
    let server = Jwks::start(&[&a], &["Cache-Control: max-age=1"]);
    let policy = RefreshPolicy {
        stale_limit_seconds: 2,
        ..quick()
    };
    f.run(Command::CreateJwk {
        project: P.into(),
        jwk: jwk_registry::NewJwk::new(
            "followed",
            jwk_registry::Source::Url {
                url: server.stub.url("/jwks"),
                options: UrlOptions::default(),
                kid: Some("k1".into()),
                follow: Some(policy),
            },
        ),
    })
    .unwrap();
    f.follow();
    let served = || {
        f.reg
            .resolver("prod")
            .by_name(P, "followed")
            .map(|k| k.to_public_json().unwrap())
    };
    assert_eq!(served().as_deref(), Some(a.as_str()));

    // The provider replaces the key behind the kid: the JWK follows within an interval.
    server.serve(&[&b], &["Cache-Control: max-age=1"]);
    until(&f, "the new key", 4, || {
        served().as_deref() == Some(b.as_str())
    });
    let view = f.reg.get_jwk(&f.admin, P, "followed", false).unwrap();
    let source = view.source.unwrap();
    assert_eq!(source.follow, Some(policy));
    let status = source.follow_status.unwrap();
    assert_eq!(status.kids, ["k1"]);
    assert_eq!((status.consecutive_failures, status.withdrawn), (0, false));
    assert_eq!(status.interval_seconds, 1);

    // An outage: served until the stale limit, then withdrawn, then back once it recovers.
    server.answer_with("500 Internal Server Error", &[], "");
    until(&f, "withdrawn", 8, || served().is_none());
    let view = f.reg.get_jwk(&f.admin, P, "followed", false).unwrap();
    // Withdrawn on the saved record and its approved copy alike: nothing waits for approval.
    assert!(view.deployed);
    let status = view.source.unwrap().follow_status.unwrap();
    assert!(status.withdrawn && status.kids.is_empty());
    assert_eq!(status.error_code.as_deref(), Some("fetch.http_status"));
    server.serve(&[&b], &["Cache-Control: max-age=1"]);
    until(&f, "served again", 8, || {
        served().as_deref() == Some(b.as_str())
    });
    assert!(
        f.reg
            .get_jwk(&f.admin, P, "followed", false)
            .unwrap()
            .deployed
    );

    // An update detaches it: no longer followed.
    f.run(Command::UpdateJwk {
        project: P.into(),
        name: "followed".into(),
        update: jwk_registry::JwkUpdate {
            description: Some("pinned".into()),
            ..jwk_registry::JwkUpdate::default()
        },
    })
    .unwrap();
    let before = server.requests();
    for _ in 0..3 {
        f.tick(1000);
    }
    assert_eq!(server.requests(), before, "a detached JWK is not fetched");
}

#[test]
fn tokens_verify_with_live_keys_and_a_rotated_kid_is_refetched_once() {
    use jwk_registry::verify::{Verifier, VerifyError};
    let f = F::new();
    let (k1, sign1) = signer("k1");
    let (k2, sign2) = signer("k2");
    let public = |j: &jwk_core::Jwk| j.to_public_json().unwrap();
    let server = Jwks::start(&[&public(&k1)], &["Cache-Control: max-age=3600"]);
    f.create("idp", server.stub.url("/jwks"), quick());
    f.follow();
    let claims = serde_json::json!({"sub": "alice", "exp": 4_000_000_000_i64});
    let verifier = Verifier::new();
    let keys = f.reg.resolver("prod").project_keys(P);
    let jwt = verifier.verify(&sign1(&claims), &keys).unwrap();
    assert_eq!(jwt.claims["sub"], "alice");
    assert_eq!(
        jwt.thumbprint(),
        k1.thumbprint(jwk_core::ThumbprintHash::Sha256)
    );
    // The provider rotates: the lock-free lookup does not know k2 yet; the live one
    // refetches once and verifies.
    server.serve(
        &[&public(&k1), &public(&k2)],
        &["Cache-Control: max-age=3600"],
    );
    let token2 = sign2(&claims);
    assert_eq!(
        verifier.verify(&token2, &keys).unwrap_err().to_string(),
        "no key has the token's kid \"k2\""
    );
    let before = server.requests();
    let live = f.refresh.live_keys("prod").project_keys(P);
    let jwt =
        f.rt.block_on(verifier.verify_async(&token2, &live))
            .unwrap();
    assert_eq!(jwt.header.kid.as_deref(), Some("k2"));
    assert_eq!(server.requests(), before + 1);
    // A kid nobody serves: one more refetch at most, then the cooldown; the answer is the
    // verifier's unknown-key refusal.
    let (_, sign3) = signer("k3");
    let err =
        f.rt.block_on(verifier.verify_async(&sign3(&claims), &live))
            .unwrap_err();
    assert_eq!(
        (err.code(), err.to_string()),
        (
            "jws.unknown_key",
            "no key has the token's kid \"k3\"".to_owned()
        )
    );
    // A kid of kilobytes never refetches (nor is remembered).
    let requests = server.requests();
    let long_kid = "x".repeat(4000);
    let (_, long) = signer(&long_kid);
    let err =
        f.rt.block_on(verifier.verify_async(&long(&claims), &live))
            .unwrap_err();
    assert_eq!(err.code(), "jws.unknown_key");
    assert_eq!(server.requests(), requests);
    // Another project sees none of these keys.
    let other = f.reg.resolver("prod").project_keys("other");
    assert!(matches!(
        verifier.verify(&sign1(&claims), &other),
        Err(VerifyError::UnknownKey { .. })
    ));
}
