//! A JWK's history: the audit entries about it, kept with it through renames, bounded, and
//! gone with it (the global audit log keeps them all).

use jwk_testkit::registry::Fixture;

use jwk_registry::store::{MemoryStore, Store};
use jwk_registry::{Command, JwkUpdate, KeyState, MAX_JWK_HISTORY, NewJwk, Source};

const P: &str = "p";
const EC: &str = r#"{"kty":"EC","crv":"P-256","kid":"ec1","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}"#;

fn count(store: &MemoryStore, prefix: &str) -> usize {
    store.scan_revisions(prefix.as_bytes()).unwrap().len()
}

#[test]
fn a_history_follows_renames_keeps_its_last_entries_and_goes_with_the_jwk() {
    let f = Fixture::setup().project(P).memory("prod").build();
    let (reg, admin, store) = (&f.reg, &f.admin, &f.store);
    let run = |command: Command| f.admin(command).unwrap();
    run(Command::CreateJwk {
        project: P.into(),
        jwk: NewJwk::new(
            "k",
            Source::Paste {
                jwk: EC.into(),
                kid: None,
            },
        ),
    });
    run(Command::UpdateJwk {
        project: P.into(),
        name: "k".into(),
        update: JwkUpdate {
            name: Some("renamed".into()),
            description: None,
        },
    });
    let seen = |limit: usize| {
        let page = reg.jwk_history(admin, P, "renamed", limit).unwrap();
        let entries: Vec<(String, String, String)> = page
            .entries
            .into_iter()
            .map(|e| (e.actor, e.action, e.name))
            .collect();
        (entries, page.more)
    };
    let entry = |action: &str, name: &str| ("admin".to_owned(), action.to_owned(), name.to_owned());
    assert_eq!(
        seen(20),
        (
            vec![entry("jwk.update", "renamed"), entry("jwk.create", "k")],
            false
        )
    );
    assert_eq!(seen(1), (vec![entry("jwk.update", "renamed")], true));

    // Past MAX_JWK_HISTORY entries, the oldest go.
    let changes = MAX_JWK_HISTORY + 5;
    for i in 0..changes {
        let state = if i % 2 == 0 {
            KeyState::Retired
        } else {
            KeyState::Active
        };
        run(Command::SetJwkState {
            project: P.into(),
            name: "renamed".into(),
            state,
        });
    }
    assert_eq!(count(store, "jwkhist/"), MAX_JWK_HISTORY);
    let (newest, more) = seen(100);
    assert_eq!((newest.len(), more), (100, true));
    // The last change (an even count of toggles ends retired → active … → retired here).
    assert_eq!(newest[0], entry("jwk.state.retired", "renamed"));
    assert!(!newest.contains(&entry("jwk.create", "k")));

    // Refused page sizes.
    for limit in [0, 101] {
        assert_eq!(
            reg.jwk_history(admin, P, "renamed", limit)
                .unwrap_err()
                .to_string(),
            "limit must be between 1 and 100!"
        );
    }

    // Deleted: its history goes; the global log keeps every entry.
    run(Command::DeleteJwk {
        project: P.into(),
        name: "renamed".into(),
    });
    assert_eq!(count(store, "jwkhist/"), 0);
    assert!(count(store, "audit/") >= changes + 3);
    assert_eq!(
        reg.jwk_history(admin, P, "renamed", 20)
            .unwrap_err()
            .to_string(),
        "JWK (name: renamed) is not found!"
    );
}

/// A secret's replacement and its detaching deletion change the JWKs attached to it: each is
/// in those JWKs' histories (named by the secret).
#[test]
fn a_secrets_replacement_and_detaching_deletion_are_in_its_jwks_histories() {
    use jwk_core::Usage;
    use jwk_registry::{NewCertificate, SecretClass, SecretName};
    let f = Fixture::setup().project(P).memory("prod").build();
    let run = |command: Command| f.admin(command).unwrap();
    let pem = include_str!("../../../testdata/samples/p256-cert.pem");
    let certificate = || NewCertificate {
        name: "cert".into(),
        environment: "prod".into(),
        pem: pem.into(),
    };
    run(Command::AddCertificate {
        project: P.into(),
        certificate: certificate(),
    });
    for name in ["a", "b"] {
        run(Command::CreateJwk {
            project: P.into(),
            jwk: NewJwk::new(
                name,
                Source::Certificate {
                    name: "cert".into(),
                    environment: "prod".into(),
                },
            )
            .usage(Usage::Signature, "ES256"),
        });
    }
    run(Command::ReplaceCertificate {
        project: P.into(),
        certificate: certificate(),
    });
    run(Command::DeleteSecret {
        project: P.into(),
        secret: SecretName {
            class: SecretClass::Certificate,
            environment: "prod".into(),
            name: "cert".into(),
        },
        detach: true,
    });
    for name in ["a", "b"] {
        let seen: Vec<(String, String)> = f
            .reg
            .jwk_history(&f.admin, P, name, 20)
            .unwrap()
            .entries
            .into_iter()
            .map(|e| (e.action, e.name))
            .collect();
        assert_eq!(
            seen,
            [
                ("certificate.delete".to_owned(), "cert".to_owned()),
                ("certificate.replace".into(), "cert".into()),
                ("jwk.create".into(), name.into()),
            ],
            "{name}"
        );
    }
}
