//! The background work never approves a person's pending edit: each reproduction of the
//! security review (a member token's attacks on loopback) as a regression test. A system
//! actor changes only the fields its work owns, on the saved record and its approved copy
//! alike; what a user without the deploy permission saved stays pending, and is served only
//! once a deployer deploys it.

mod support;

use jwk_controllers::Rotation;
use jwk_core::{EcCurve, KeySpec, Usage};
use jwk_registry::perm::{IDENTITY_MANAGE, SECRETS_MANAGE};
use jwk_registry::{Command, KeyState, NewJwk, Pending, Slot, Source, UrlOptions, Validity};
use jwk_testkit::registry::{Fixture, T0, rotation_policy};
use support::{F, Jwks, P, ec_key, quick};

/// The answer a user without the deploy permission gets.
fn skipped(outcome: jwk_registry::Outcome) -> String {
    outcome.deployment.unwrap().message
}

const SKIPPED_SECRETS: &str = "Deployment skipped: user does not have SECRETS+DEPLOY_UNDEPLOY permission; the change is saved and pending";
const SKIPPED_IDENTITY: &str = "Deployment skipped: user does not have IDENTITY+DEPLOY_UNDEPLOY permission; the change is saved and pending";

/// A followed URL JWK `followed` (kid k1) created by the admin, its first key, and the server.
fn followed(f: &F) -> (Jwks, jwk_core::Jwk) {
    let first = ec_key("k1");
    let server = Jwks::start(
        &[&first.to_public_json().unwrap()],
        &["Cache-Control: max-age=1"],
    );
    f.run(Command::CreateJwk {
        project: P.into(),
        jwk: NewJwk::new(
            "followed",
            Source::Url {
                url: server.stub.url("/jwks"),
                options: UrlOptions::default(),
                kid: Some("k1".into()),
                follow: Some(quick()),
            },
        ),
    })
    .unwrap();
    f.follow();
    (server, first)
}

fn thumbprint(jwk: &jwk_core::Jwk) -> String {
    jwk_registry::deploy::thumbprint(jwk)
}

/// Review finding 1: the admin disabled a followed JWK; a member holding SECRETS+MANAGE only
/// set it active again (saved, pending); when the upstream rotated the key behind its kid,
/// the refresh copied the whole saved record into the approved copy and the key was served
/// again. Now the refresh takes the new key into both copies and nothing else: the JWK stays
/// disabled where it is served, and the member's edits stay pending until a deployer deploys
/// them.
#[test]
fn a_refresh_of_a_followed_jwk_does_not_approve_a_pending_state_or_validity() {
    let f = F::new();
    let (server, _) = followed(&f);
    let served = || f.reg.resolver("prod").by_name(P, "followed");
    assert!(served().is_some());
    f.run(Command::SetJwkState {
        project: P.into(),
        name: "followed".into(),
        state: KeyState::Disabled,
    })
    .unwrap();
    assert!(served().is_none());
    let member = f.user("member", P, &[SECRETS_MANAGE]);
    let as_member = |command: Command| f.fixture.run(&member, command).unwrap();
    let outcome = as_member(Command::SetJwkState {
        project: P.into(),
        name: "followed".into(),
        state: KeyState::Active,
    });
    assert_eq!(skipped(outcome), SKIPPED_SECRETS);
    let outcome = as_member(Command::SetJwkValidity {
        project: P.into(),
        name: "followed".into(),
        validity: Validity {
            not_before: None,
            expires: Some(4_000_000_000),
        },
    });
    assert_eq!(skipped(outcome), SKIPPED_SECRETS);

    // The upstream replaces the key behind k1; the refresh takes it.
    let rotated = ec_key("k1");
    server.serve(
        &[&rotated.to_public_json().unwrap()],
        &["Cache-Control: max-age=1"],
    );
    f.tick(1000);
    assert!(served().is_none(), "still disabled where it is served");
    let view = f.reg.get_jwk(&f.admin, P, "followed", false).unwrap();
    assert_eq!(
        view.thumbprint.as_deref(),
        Some(thumbprint(&rotated).as_str())
    );
    assert_eq!(
        (view.state, view.validity_window.expires),
        (KeyState::Active, Some(4_000_000_000)),
        "the member's edits are still saved"
    );
    assert_eq!(
        (view.deployed, view.pending),
        (false, Some(Pending::Changed))
    );
    let history = f.reg.jwk_history(&f.admin, P, "followed", 1).unwrap();
    let last = &history.entries[0];
    assert_eq!(
        (last.actor.as_str(), last.action.as_str()),
        ("system:refresh", "jwk.follow")
    );

    // A deployer deploys the member's edits: served, with the rotated key.
    f.run(Command::DeployJwk {
        project: P.into(),
        name: "followed".into(),
    })
    .unwrap();
    let now = served().expect("served once deployed");
    assert_eq!(thumbprint(&now), thumbprint(&rotated));
    assert!(
        f.reg
            .get_jwk(&f.admin, P, "followed", false)
            .unwrap()
            .deployed
    );
}

/// Review finding 3: a re-sync by a member without SECRETS+DEPLOY_UNDEPLOY saved the
/// upstream's new key as a pending change; the refresh then compared the fetched key with
/// the saved record only, saw no difference and never deployed, while `followStatus` said
/// success. Now it compares each copy: the approved copy takes the key, which is deployed.
#[test]
fn a_refresh_deploys_the_key_a_pending_resync_saved() {
    let f = F::new();
    let (server, first) = followed(&f);
    let served = || thumbprint(&f.reg.resolver("prod").by_name(P, "followed").unwrap());
    assert_eq!(served(), thumbprint(&first));
    let rotated = ec_key("k1");
    server.serve(
        &[&rotated.to_public_json().unwrap()],
        &["Cache-Control: max-age=1"],
    );
    let member = f.user("member", P, &[SECRETS_MANAGE]);
    let resync = Command::ResyncJwk {
        project: P.into(),
        name: "followed".into(),
    };
    let outcome = f.fixture.run(&member, resync).unwrap();
    assert_eq!(outcome.resync.as_ref().unwrap().changed, ["k1"]);
    assert_eq!(skipped(outcome), SKIPPED_SECRETS);
    assert_eq!(served(), thumbprint(&first), "the re-sync is pending");

    f.tick(1000);
    assert_eq!(
        served(),
        thumbprint(&rotated),
        "the refresh deployed the new key"
    );
    let view = f.reg.get_jwk(&f.admin, P, "followed", false).unwrap();
    assert!(
        view.deployed,
        "both copies hold the same key: nothing is pending"
    );
    let status = view.source.unwrap().follow_status.unwrap();
    assert_eq!((status.consecutive_failures, status.withdrawn), (0, false));
}

/// A generated EC key of the project, for `usage`.
fn generate(f: &Fixture, name: &str, usage: Usage) {
    let alg = if usage == Usage::Signature {
        "ES256"
    } else {
        "ECDH-ES"
    };
    f.admin(Command::CreateJwk {
        project: P.into(),
        jwk: NewJwk::new(
            name,
            Source::Generate {
                spec: KeySpec::Ec(EcCurve::P256),
                kid: None,
            },
        )
        .usage(usage, alg),
    })
    .unwrap();
}

/// Moves the clock to `T0 + dt` and runs what the controllers run then.
fn at(f: &Fixture, rotation: &Rotation, dt: i64) {
    f.clock.set_ms((T0 + dt) * 1000);
    f.rt.block_on(f.reg.refresh_local()).unwrap();
    f.rt.block_on(f.reg.reconcile()).unwrap();
    f.rt.block_on(rotation.run_once()).unwrap();
}

/// Review finding 2: a member holding IDENTITY+MANAGE only pointed a credential's encryption
/// slot at another JWK (saved, pending); the rotation of the validation slot set its next
/// JWK and promoted it by approving the whole saved credential, so the member's slot change
/// went live. Now the rotation changes only the validation slot, on both copies: the
/// encryption slot keeps serving the approved JWK through the whole cycle.
#[test]
fn a_slot_rotation_does_not_approve_a_pending_change_of_another_slot() {
    let f = Fixture::setup()
        .at_secs(T0)
        .project(P)
        .memory("prod")
        .credential(P, "u")
        .build();
    let rotation = Rotation::new(f.reg.clone());
    generate(&f, "enc-1", Usage::Encryption);
    generate(&f, "enc-2", Usage::Encryption);
    f.admin(Command::SetCredentialJwk {
        project: P.into(),
        username: "u".into(),
        slot: Slot::Encryption,
        jwk: Some("enc-1".into()),
    })
    .unwrap();
    f.admin(Command::SetSlotRotation {
        project: P.into(),
        username: "u".into(),
        slot: Slot::Validation,
        policy: Some(rotation_policy()),
    })
    .unwrap();
    let member = f.user("member", P, &[IDENTITY_MANAGE]);
    let outcome = f
        .run(
            &member,
            Command::SetCredentialJwk {
                project: P.into(),
                username: "u".into(),
                slot: Slot::Encryption,
                jwk: Some("enc-2".into()),
            },
        )
        .unwrap();
    assert_eq!(skipped(outcome), SKIPPED_IDENTITY);
    let prod = f.reg.resolver("prod");
    let key_of = |name: &str| {
        f.reg
            .get_jwk(&f.admin, P, name, false)
            .unwrap()
            .thumbprint
            .unwrap()
    };
    let encryption = || thumbprint(&prod.credential(P, "u", Slot::Encryption).unwrap());
    let validation = || {
        prod.credential(P, "u", Slot::Validation)
            .map(|k| thumbprint(&k))
    };
    let (first, next) = (
        "u-validation-20300101T000000Z",
        "u-validation-20300101T001640Z",
    );
    // The first key (T0), the next one published (T0+800), promoted once served and cached.
    for (dt, expected) in [(0, first), (800, first), (1000, next)] {
        at(&f, &rotation, dt);
        assert_eq!(
            validation().as_deref(),
            Some(key_of(expected).as_str()),
            "at {dt}"
        );
        assert_eq!(
            encryption(),
            key_of("enc-1"),
            "at {dt}: the pending edit is not served"
        );
    }
    let view = f.reg.get_credential(&f.admin, P, "u").unwrap();
    assert_eq!(
        (view.deployed, view.pending),
        (false, Some(Pending::Changed))
    );
    assert_eq!(view.encryption.unwrap().name, "enc-2", "still saved");
    assert_eq!(view.validation.unwrap().name, next);
    // A deployer deploys the credential: the member's slot change is served.
    f.admin(Command::DeployCredential {
        project: P.into(),
        username: "u".into(),
    })
    .unwrap();
    assert_eq!(encryption(), key_of("enc-2"));
    assert_eq!(validation().as_deref(), Some(key_of(next).as_str()));
}

/// The same for a JWK's own rotation: a member's pending `exp` on the rotated JWK is not
/// approved by its promotion (the rotation sets the replaced key's name, state and `exp`
/// on each copy: the approved copy expires after the overlap, not at the member's time).
#[test]
fn a_jwk_rotation_does_not_approve_a_pending_validity() {
    let f = Fixture::setup()
        .at_secs(T0)
        .project(P)
        .memory("prod")
        .build();
    let rotation = Rotation::new(f.reg.clone());
    generate(&f, "signer", Usage::Signature);
    f.admin(Command::SetJwkRotation {
        project: P.into(),
        name: "signer".into(),
        policy: Some(rotation_policy()),
    })
    .unwrap();
    let first = f
        .reg
        .get_jwk(&f.admin, P, "signer", false)
        .unwrap()
        .thumbprint
        .unwrap();
    let member = f.user("member", P, &[SECRETS_MANAGE]);
    let outcome = f
        .run(
            &member,
            Command::SetJwkValidity {
                project: P.into(),
                name: "signer".into(),
                validity: Validity {
                    not_before: None,
                    expires: Some(T0 + 1001),
                },
            },
        )
        .unwrap();
    assert_eq!(skipped(outcome), SKIPPED_SECRETS);
    at(&f, &rotation, 800);
    at(&f, &rotation, 1000);
    let retired = "signer-retired-20300101T001640Z";
    let view = f.reg.get_jwk(&f.admin, P, retired, false).unwrap();
    assert_eq!(view.thumbprint.as_deref(), Some(first.as_str()));
    assert_eq!(
        (view.state, view.validity_window.expires),
        (KeyState::Retired, Some(T0 + 1001)),
        "the member's exp is saved"
    );
    assert_eq!(view.pending, Some(Pending::Changed));
    // Past the member's exp, within the overlap: the approved copy's exp is the overlap's.
    at(&f, &rotation, 1100);
    assert!(
        f.reg.resolver("prod").by_thumbprint(&first).is_some(),
        "served for the overlap (until T0+1400), not cut at the pending exp"
    );
    let history = f.reg.jwk_history(&f.admin, P, retired, 1).unwrap();
    assert_eq!(
        (
            history.entries[0].actor.as_str(),
            history.entries[0].action.as_str()
        ),
        ("system:rotation", "jwk.rotate")
    );
}

/// A deployer's own change to a record that holds another user's pending edit approves it
/// (the product's rule), and its answer names what it approved.
#[test]
fn a_deployers_change_approves_a_pending_edit_and_says_so() {
    let f = Fixture::setup().project(P).memory("prod").build();
    generate(&f, "k", Usage::Signature);
    let member = f.user("member", P, &[SECRETS_MANAGE]);
    f.run(
        &member,
        Command::SetJwkState {
            project: P.into(),
            name: "k".into(),
            state: KeyState::Retired,
        },
    )
    .unwrap();
    assert_eq!(f.reg.resolver("prod").state(P, "k"), Some(KeyState::Active));
    let outcome = f
        .admin(Command::UpdateJwk {
            project: P.into(),
            name: "k".into(),
            update: jwk_registry::JwkUpdate {
                name: None,
                description: Some("reviewed".into()),
            },
        })
        .unwrap();
    assert_eq!(
        outcome.approved,
        [jwk_registry::ApprovedEdit {
            kind: "JWK",
            project: P.into(),
            name: "k".into(),
            pending: Pending::Changed,
        }]
    );
    assert_eq!(
        f.reg.resolver("prod").state(P, "k"),
        Some(KeyState::Retired)
    );
    // Nothing pending: a change approves nothing else.
    let again = f
        .admin(Command::SetJwkState {
            project: P.into(),
            name: "k".into(),
            state: KeyState::Active,
        })
        .unwrap();
    assert!(again.approved.is_empty());
    // A system actor may apply only its role's commands, and a user none of the system's.
    let refused = f
        .run(
            &jwk_registry::Actor::system(jwk_registry::SystemRole::Refresh),
            Command::DeleteJwk {
                project: P.into(),
                name: "k".into(),
            },
        )
        .unwrap_err();
    assert_eq!(
        refused.message(),
        "The system actor (system:refresh) may not apply this command!"
    );
    let refused = f
        .admin(Command::RecordRotation {
            project: P.into(),
            holder: jwk_registry::RotationHolder::Jwk { name: "k".into() },
            revision: 1,
            progress: jwk_registry::RotationProgress::default(),
        })
        .unwrap_err();
    assert_eq!(
        refused.message(),
        "User (username: admin) may not apply this command: only the engine's own (system) actors do!"
    );
    let refused = f
        .admin(Command::CreateUser {
            username: "system:rotation".into(),
        })
        .unwrap_err();
    assert_eq!(
        refused.message(),
        "Username (system:rotation) is reserved: names starting with \"system:\" name the engine's own actors!"
    );
}
