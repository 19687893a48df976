//! Lists in pages: JWKs (filtered by name prefix, kid, thumbprint and state), credentials,
//! secrets, a JWK's history and the audit log take a limit and a cursor that holds under
//! concurrent changes; the unpaged lists are every page.

use jwk_testkit::registry::Fixture;

use jwk_core::{EcCurve, KeySpec, Usage};
use jwk_registry::perm::{IDENTITY_VIEW, SECRETS_MANAGE};
use jwk_registry::store::{Store, Txn};
use jwk_registry::{
    Command, CredentialQuery, ErrorKind, JwkQuery, JwkUpdate, KeyState, NewCertificate, NewJwk,
    RegistryError, SecretQuery, Source,
};

/// An error's kind and message.
fn said(e: RegistryError) -> (ErrorKind, String) {
    (e.kind(), e.message())
}

const P: &str = "p";
const CERT: &str = include_str!("../../../testdata/samples/p256-cert.pem");

fn paste(name: &str, kid: &str, x: u8) -> Command {
    // A distinct symmetric key per name (kid given): no thumbprint, a kid.
    let k = format!("{x:02x}").repeat(16);
    Command::CreateJwk {
        project: P.into(),
        jwk: NewJwk::new(
            name,
            Source::Paste {
                jwk: format!(r#"{{"kty":"oct","kid":"{kid}","k":"{k}"}}"#),
                kid: None,
            },
        ),
    }
}

fn generated(name: &str) -> Command {
    Command::CreateJwk {
        project: P.into(),
        jwk: NewJwk::new(
            name,
            Source::Generate {
                spec: KeySpec::Ec(EcCurve::P256),
                kid: None,
            },
        )
        .usage(Usage::Signature, "ES256"),
    }
}

fn names<T>(items: &[T], name: impl Fn(&T) -> &str) -> Vec<String> {
    items.iter().map(|i| name(i).to_owned()).collect()
}

fn page(f: &Fixture, query: &JwkQuery) -> (Vec<String>, Option<String>) {
    let page = f.reg.list_jwks_page(&f.admin, P, false, query).unwrap();
    (names(&page.items, |v| &v.name), page.next)
}

#[test]
fn jwks_come_in_pages_with_a_cursor_that_holds_under_changes() {
    let f = Fixture::setup().project(P).memory("prod").build();
    for i in 0..25 {
        f.admin(paste(&format!("k{i:02}"), &format!("kid-{}", i % 3), i))
            .unwrap();
    }
    let q = |after: Option<&str>, limit: usize| JwkQuery {
        after: after.map(str::to_owned),
        limit,
        ..JwkQuery::default()
    };
    let expected = |range: std::ops::Range<usize>| -> Vec<String> {
        range.map(|i| format!("k{i:02}")).collect()
    };
    assert_eq!(
        page(&f, &q(None, 10)),
        (expected(0..10), Some("k09".into()))
    );
    assert_eq!(
        page(&f, &q(Some("k09"), 10)),
        (expected(10..20), Some("k19".into()))
    );
    // A change between pages: one before the cursor deleted, one after it created, one
    // renamed past the cursor.
    f.admin(Command::DeleteJwk {
        project: P.into(),
        name: "k03".into(),
    })
    .unwrap();
    f.admin(paste("k22a", "other", 99)).unwrap();
    f.admin(Command::UpdateJwk {
        project: P.into(),
        name: "k05".into(),
        update: JwkUpdate {
            name: Some("k99".into()),
            description: None,
        },
    })
    .unwrap();
    let mut rest = expected(20..25);
    rest.insert(3, "k22a".into());
    rest.push("k99".into());
    assert_eq!(page(&f, &q(Some("k19"), 10)), (rest.clone(), None));
    // The last page exactly full: no next page.
    assert_eq!(page(&f, &q(Some("k19"), 7)), (rest, None));
    // A cursor that names no JWK still orders.
    assert_eq!(
        page(&f, &q(Some("k235"), 2)),
        (vec!["k24".to_owned(), "k99".to_owned()], None)
    );

    // The unpaged list is every page.
    let all = f.reg.list_jwks(&f.admin, P, false).unwrap();
    assert_eq!(all.len(), 25);
    assert_eq!(all.first().map(|v| v.name.as_str()), Some("k00"));

    // Limits out of range.
    for limit in [0, 1001] {
        let e = f
            .reg
            .list_jwks_page(&f.admin, P, false, &q(None, limit))
            .unwrap_err();
        assert_eq!(
            said(e),
            (
                ErrorKind::BadRequest,
                "limit must be between 1 and 1000!".to_owned()
            )
        );
    }
}

#[test]
fn jwks_are_found_by_name_prefix_kid_thumbprint_and_state() {
    let f = Fixture::setup().project(P).memory("prod").build();
    for i in 0..12 {
        f.admin(paste(&format!("a{i:02}"), &format!("kid-{}", i % 3), i))
            .unwrap();
    }
    f.admin(generated("b1")).unwrap();
    f.admin(generated("b2")).unwrap();
    f.admin(Command::SetJwkState {
        project: P.into(),
        name: "a04".into(),
        state: KeyState::Retired,
    })
    .unwrap();
    let by = |query: JwkQuery| page(&f, &query);

    let prefix = |p: &str, limit: usize| JwkQuery {
        name_prefix: Some(p.into()),
        limit,
        ..JwkQuery::default()
    };
    assert_eq!(
        by(prefix("a1", 500)),
        (vec!["a10".to_owned(), "a11".to_owned()], None)
    );
    assert_eq!(
        by(prefix("b", 1)),
        (vec!["b1".to_owned()], Some("b1".to_owned()))
    );
    assert_eq!(by(prefix("c", 500)), (vec![], None));

    let kid = |k: &str, after: Option<&str>, limit: usize| JwkQuery {
        kid: Some(k.into()),
        after: after.map(str::to_owned),
        limit,
        ..JwkQuery::default()
    };
    assert_eq!(
        by(kid("kid-1", None, 500)),
        (
            vec!["a01".to_owned(), "a04".into(), "a07".into(), "a10".into()],
            None
        )
    );
    assert_eq!(
        by(kid("kid-1", None, 2)),
        (vec!["a01".to_owned(), "a04".into()], Some("a04".into()))
    );
    assert_eq!(
        by(kid("kid-1", Some("a04"), 2)),
        (vec!["a07".to_owned(), "a10".into()], None)
    );
    assert_eq!(by(kid("nobody", None, 500)), (vec![], None));

    // A generated key's thumbprint finds it (and its kid, the same value).
    let b2 = f.reg.get_jwk(&f.admin, P, "b2", false).unwrap();
    let thumbprint = b2.thumbprint.clone().unwrap();
    let by_thumbprint = JwkQuery {
        thumbprint: Some(thumbprint.clone()),
        ..JwkQuery::default()
    };
    assert_eq!(by(by_thumbprint), (vec!["b2".to_owned()], None));
    // Both given: both must match.
    let both = JwkQuery {
        thumbprint: Some(thumbprint),
        kid: Some("kid-1".into()),
        ..JwkQuery::default()
    };
    assert_eq!(by(both), (vec![], None));

    let state = JwkQuery {
        state: Some(KeyState::Retired),
        ..JwkQuery::default()
    };
    assert_eq!(by(state), (vec!["a04".to_owned()], None));
    let active_with_kid = JwkQuery {
        state: Some(KeyState::Active),
        kid: Some("kid-1".into()),
        ..JwkQuery::default()
    };
    assert_eq!(
        by(active_with_kid),
        (vec!["a01".to_owned(), "a07".into(), "a10".into()], None)
    );

    // A key's new kid is found by it, the old one no longer.
    f.admin(Command::DeleteJwk {
        project: P.into(),
        name: "a07".into(),
    })
    .unwrap();
    assert_eq!(
        by(kid("kid-1", None, 500)),
        (vec!["a01".to_owned(), "a04".into(), "a10".into()], None)
    );

    // A reader without SECRETS+VIEW is refused as for the whole list.
    let stranger = f.user("stranger", P, &[IDENTITY_VIEW]);
    let e = f
        .reg
        .list_jwks_page(&stranger, P, false, &JwkQuery::default())
        .unwrap_err();
    let whole = f.reg.list_jwks(&stranger, P, false).unwrap_err();
    let whole = said(whole);
    assert_eq!(whole.0, ErrorKind::Forbidden);
    assert_eq!(said(e), whole);
}

#[test]
fn an_index_made_by_an_earlier_release_is_completed() {
    let f = Fixture::setup().project(P).memory("prod").build();
    f.admin(paste("old", "kid-old", 1)).unwrap();
    f.admin(Command::AddCertificate {
        project: P.into(),
        certificate: NewCertificate {
            name: "cert".into(),
            environment: "prod".into(),
            pem: CERT.into(),
        },
    })
    .unwrap();
    f.admin(Command::CreateJwk {
        project: P.into(),
        jwk: NewJwk::new(
            "from-cert",
            Source::Certificate {
                name: "cert".into(),
                environment: "prod".into(),
            },
        )
        .usage(Usage::Signature, "ES256"),
    })
    .unwrap();
    // What release 1 of the indexes held: none of the kid, thumbprint or attachment entries.
    let mut txn = Txn::new().put("meta/indexes", "1");
    for prefix in ["jwkbykid/", "jwkbythumb/", "jwkattached/"] {
        let held = f.store.scan(prefix.as_bytes()).unwrap();
        assert!(!held.is_empty(), "{prefix}");
        for (key, _) in held {
            txn = txn.delete(key);
        }
    }
    f.store.commit(txn).unwrap();
    // A registry started on that store completes them.
    let node = f.node();
    let kid = JwkQuery {
        kid: Some("kid-old".into()),
        ..JwkQuery::default()
    };
    let found = node.list_jwks_page(&f.admin, P, false, &kid).unwrap();
    assert_eq!(names(&found.items, |v| &v.name), ["old"]);
    let secrets = node.list_secrets(&f.admin, P, None).unwrap();
    assert_eq!(
        secrets
            .iter()
            .map(|s| (s.name.as_str(), s.attached_jwks.clone()))
            .collect::<Vec<_>>(),
        [("cert", vec!["from-cert".to_owned()])]
    );
    assert_eq!(
        f.store.get(b"meta/indexes").unwrap().unwrap().value,
        b"3".to_vec()
    );
}

#[test]
fn credentials_and_secrets_come_in_pages() {
    let f = Fixture::setup()
        .project(P)
        .memory("prod")
        .memory("test")
        .build();
    for u in ["alice", "bob", "bobby", "carol", "dave"] {
        f.admin(Command::CreateCredential {
            project: P.into(),
            username: u.into(),
        })
        .unwrap();
    }
    let q = |prefix: Option<&str>, after: Option<&str>, limit: usize| CredentialQuery {
        username_prefix: prefix.map(str::to_owned),
        after: after.map(str::to_owned),
        limit,
    };
    let seen = |query: CredentialQuery| {
        let page = f.reg.list_credentials_page(&f.admin, P, &query).unwrap();
        (names(&page.items, |c| &c.username), page.next)
    };
    assert_eq!(
        seen(q(None, None, 2)),
        (vec!["alice".to_owned(), "bob".into()], Some("bob".into()))
    );
    assert_eq!(
        seen(q(None, Some("bob"), 2)),
        (
            vec!["bobby".to_owned(), "carol".into()],
            Some("carol".into())
        )
    );
    assert_eq!(
        seen(q(None, Some("carol"), 2)),
        (vec!["dave".to_owned()], None)
    );
    assert_eq!(
        seen(q(Some("bob"), None, 500)),
        (vec!["bob".to_owned(), "bobby".into()], None)
    );
    assert_eq!(
        names(&f.reg.list_credentials(&f.admin, P).unwrap(), |c| &c
            .username),
        ["alice", "bob", "bobby", "carol", "dave"]
    );

    for (env, name) in [("test", "t1"), ("prod", "p2"), ("prod", "p1")] {
        f.admin(Command::AddCertificate {
            project: P.into(),
            certificate: NewCertificate {
                name: name.into(),
                environment: env.into(),
                pem: CERT.into(),
            },
        })
        .unwrap();
    }
    let secrets = |environment: Option<&str>, after: Option<&str>, limit: usize| {
        let query = SecretQuery {
            environment: environment.map(str::to_owned),
            after: after.map(str::to_owned),
            limit,
        };
        let page = f.reg.list_secrets_page(&f.admin, P, &query).unwrap();
        (names(&page.items, |s| &s.name), page.next)
    };
    assert_eq!(
        secrets(None, None, 2),
        (
            vec!["p1".to_owned(), "p2".into()],
            Some("certificate/prod/p2".into())
        )
    );
    assert_eq!(
        secrets(None, Some("certificate/prod/p2"), 2),
        (vec!["t1".to_owned()], None)
    );
    assert_eq!(
        secrets(Some("test"), None, 500),
        (vec!["t1".to_owned()], None)
    );
}

#[test]
fn a_history_and_the_audit_log_come_in_pages() {
    let f = Fixture::setup().project(P).memory("prod").build();
    f.admin(paste("k", "kid", 1)).unwrap();
    for state in [KeyState::Retired, KeyState::Active, KeyState::Retired] {
        f.admin(Command::SetJwkState {
            project: P.into(),
            name: "k".into(),
            state,
        })
        .unwrap();
    }
    let first = f.reg.jwk_history(&f.admin, P, "k", 2).unwrap();
    let actions = |entries: &[jwk_registry::HistoryEntry]| -> Vec<String> {
        entries.iter().map(|e| e.action.clone()).collect()
    };
    assert_eq!(
        actions(&first.entries),
        ["jwk.state.retired", "jwk.state.active"]
    );
    assert!(first.more);
    assert_eq!(first.next.as_deref(), Some(first.entries[1].id.as_str()));
    let second = f
        .reg
        .jwk_history_after(&f.admin, P, "k", first.next.as_deref(), 2)
        .unwrap();
    assert_eq!(
        (actions(&second.entries), second.more, second.next),
        (
            vec!["jwk.state.retired".to_owned(), "jwk.create".into()],
            false,
            None
        )
    );

    // The audit log, oldest first, from a cursor.
    let log = f.reg.audit_log(&f.admin, None, 1000).unwrap();
    assert_eq!(log.next, None);
    let ours: Vec<&str> = log
        .items
        .iter()
        .filter(|e| e.project.as_deref() == Some(P))
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(
        ours,
        [
            "project.create",
            "jwk.create",
            "jwk.state.retired",
            "jwk.state.active",
            "jwk.state.retired"
        ]
    );
    let n = log.items.len();
    let head = f.reg.audit_log(&f.admin, None, n - 2).unwrap();
    assert_eq!(head.next.as_deref(), Some(log.items[n - 3].id.as_str()));
    let tail = f
        .reg
        .audit_log(&f.admin, head.next.as_deref(), 1000)
        .unwrap();
    assert_eq!(tail.items, log.items[n - 2..]);
    let member = f.user("member", P, &[SECRETS_MANAGE]);
    let e = f.reg.audit_log(&member, None, 10).unwrap_err();
    assert_eq!(
        said(e),
        (
            ErrorKind::Forbidden,
            "Only the admin user can read the audit log!".to_owned()
        )
    );
}
