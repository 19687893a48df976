//! JWK states: what the resolver and the public JWKS serve in each, and how a state change
//! goes through permissions, approval and deployment.

use jwk_testkit::registry::Fixture;

use jwk_registry::perm::{SECRETS_MANAGE, SECRETS_VIEW};
use jwk_registry::{Actor, Command, KeyState, NewJwk, Outcome, RegistryError, Slot, Source};

const P: &str = "p";
const EC: &str = r#"{"kty":"EC","crv":"P-256","kid":"ec1","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}"#;

/// The shared fixture, and the state changes of the JWK `k`.
struct F(Fixture);

impl std::ops::Deref for F {
    type Target = Fixture;

    fn deref(&self) -> &Fixture {
        &self.0
    }
}

impl F {
    fn state(&self, actor: &Actor, state: KeyState) -> Result<Outcome, RegistryError> {
        self.run(
            actor,
            Command::SetJwkState {
                project: P.into(),
                name: "k".into(),
                state,
            },
        )
    }
}

/// The JWK `k` in the validation slot of credential `v` and the encryption slot of `e`.
fn fixture() -> F {
    let f = F(Fixture::setup().project(P).memory("prod").build());
    let a = f.admin.clone();
    f.run(
        &a,
        Command::CreateJwk {
            project: P.into(),
            jwk: NewJwk::new(
                "k",
                Source::Paste {
                    jwk: EC.into(),
                    kid: None,
                },
            ),
        },
    )
    .unwrap();
    for (slot, username) in [(Slot::Validation, "v"), (Slot::Encryption, "e")] {
        f.run(
            &a,
            Command::CreateCredential {
                project: P.into(),
                username: username.into(),
            },
        )
        .unwrap();
        f.run(
            &a,
            Command::SetCredentialJwk {
                project: P.into(),
                username: username.into(),
                slot,
                jwk: Some("k".into()),
            },
        )
        .unwrap();
    }
    f
}

#[test]
fn every_state_but_disabled_is_published_and_only_an_active_key_signs_and_encrypts() {
    let f = fixture();
    let r = f.reg.resolver("prod");
    // (published by kid, in the JWKS, active(), validation slot, encryption slot)
    let seen = || {
        (
            r.by_kid("ec1").is_some(),
            r.public_jwks().0.contains("ec1"),
            r.active(P, "k").is_some(),
            r.credential(P, "v", Slot::Validation).is_some(),
            r.credential(P, "e", Slot::Encryption).is_some(),
        )
    };
    assert_eq!(seen(), (true, true, true, true, true));
    assert_eq!(r.state(P, "k"), Some(KeyState::Active));
    for (state, expected) in [
        (KeyState::Pending, (true, true, false, true, false)),
        (KeyState::Retired, (true, true, false, true, false)),
        (KeyState::Disabled, (false, false, false, false, false)),
        (KeyState::Active, (true, true, true, true, true)),
    ] {
        let outcome = f.state(&f.admin.clone(), state).unwrap();
        assert!(outcome.deployment.unwrap().success, "{state:?}");
        assert_eq!(seen(), expected, "{state:?}");
        let view = f.reg.get_jwk(&f.admin, P, "k", false).unwrap();
        assert_eq!(view.state, state);
    }
    // The same state again changes nothing.
    assert_eq!(
        f.state(&f.admin.clone(), KeyState::Active)
            .unwrap()
            .revision,
        None
    );
}

#[test]
fn a_state_change_needs_manage_and_waits_for_approval_without_deploy() {
    let f = fixture();
    let a = f.admin.clone();
    for (name, perms) in [
        ("viewer", vec![SECRETS_VIEW]),
        ("manager", vec![SECRETS_MANAGE]),
    ] {
        f.run(
            &a,
            Command::CreateUser {
                username: name.into(),
            },
        )
        .unwrap();
        f.run(
            &a,
            Command::SetMember {
                project: P.into(),
                username: name.into(),
                permissions: perms,
            },
        )
        .unwrap();
    }
    let as_user = |name: &str| Actor::user(name);
    assert_eq!(
        f.state(&as_user("viewer"), KeyState::Disabled)
            .unwrap_err()
            .message(),
        "User (username: viewer) does not have SECRETS+MANAGE permission in project (p)!"
    );
    let outcome = f.state(&as_user("manager"), KeyState::Disabled).unwrap();
    assert_eq!(
        outcome.deployment.unwrap().message,
        "Deployment skipped: user does not have SECRETS+DEPLOY_UNDEPLOY permission; the change is saved and pending"
    );
    // Saved, not served: the key is still published until approved.
    assert!(f.reg.resolver("prod").by_kid("ec1").is_some());
    let view = f.reg.get_jwk(&f.admin, P, "k", false).unwrap();
    assert_eq!((view.state, view.deployed), (KeyState::Disabled, false));
    f.run(
        &a,
        Command::DeployJwk {
            project: P.into(),
            name: "k".into(),
        },
    )
    .unwrap();
    assert!(f.reg.resolver("prod").by_kid("ec1").is_none());
    assert_eq!(
        f.run(
            &a,
            Command::SetJwkState {
                project: P.into(),
                name: "nope".into(),
                state: KeyState::Retired,
            }
        )
        .unwrap_err()
        .message(),
        "JWK (name: nope) is not found! Try create operation."
    );
}
