//! Credential slots with a next JWK: published ahead, promoted in one transaction (the old
//! JWK retired for an overlap), racing promotions.

use jwk_testkit::registry::Fixture;
use std::sync::Arc;

use jwk_core::{EcCurve, KeySpec, Usage};
use jwk_registry::perm::{IDENTITY_DEPLOY, IDENTITY_MANAGE};
use jwk_registry::{
    Actor, Command, KeyState, NewJwk, Outcome, RegistryError, Slot, Source, Validity,
    ValidityStatus,
};

const P: &str = "p";
const T0: i64 = 1_893_456_000;

/// The shared fixture, and the slots of credential `u`.
struct F(Fixture);

impl std::ops::Deref for F {
    type Target = Fixture;

    fn deref(&self) -> &Fixture {
        &self.0
    }
}

impl F {
    fn run(&self, command: Command) -> Result<Outcome, RegistryError> {
        self.rt.block_on(self.reg.apply(&self.admin, command))
    }

    fn generate(&self, name: &str, usage: Usage) {
        let jwk = NewJwk::new(
            name,
            Source::Generate {
                spec: KeySpec::Ec(EcCurve::P256),
                kid: None,
            },
        )
        .usage(
            usage,
            if usage == Usage::Signature {
                "ES256"
            } else {
                "ECDH-ES"
            },
        );
        self.run(Command::CreateJwk {
            project: P.into(),
            jwk,
        })
        .unwrap();
    }

    fn set(&self, slot: Slot, name: &str) -> Result<Outcome, RegistryError> {
        self.run(Command::SetCredentialJwk {
            project: P.into(),
            username: "u".into(),
            slot,
            jwk: Some(name.into()),
        })
    }

    fn next(&self, slot: Slot, name: Option<&str>) -> Result<Outcome, RegistryError> {
        self.run(Command::SetCredentialNextJwk {
            project: P.into(),
            username: "u".into(),
            slot,
            jwk: name.map(str::to_owned),
        })
    }

    fn promote(&self, actor: &Actor, slot: Slot, overlap: u64) -> Result<Outcome, RegistryError> {
        self.rt.block_on(self.reg.apply(
            actor,
            Command::PromoteCredentialJwk {
                project: P.into(),
                username: "u".into(),
                slot,
                overlap_secs: overlap,
            },
        ))
    }

    /// (state, exp) of a JWK.
    fn jwk(&self, name: &str) -> (KeyState, Option<i64>) {
        let v = self.reg.get_jwk(&self.admin, P, name, false).unwrap();
        (v.state, v.validity_window.expires)
    }

    /// The names in the slot: (current, next).
    fn slot(&self, slot: Slot) -> (Option<String>, Option<String>) {
        let c = self.reg.get_credential(&self.admin, P, "u").unwrap();
        let (current, next) = match slot {
            Slot::Validation => (c.validation, c.validation_next),
            Slot::Encryption => (c.encryption, c.encryption_next),
        };
        (current.map(|s| s.name), next.map(|s| s.name))
    }

    fn thumbprint(&self, name: &str) -> String {
        self.reg
            .get_jwk(&self.admin, P, name, false)
            .unwrap()
            .thumbprint
            .unwrap()
    }
}

fn fixture() -> F {
    F(Fixture::setup()
        .at_secs(T0)
        .project(P)
        .memory("prod")
        .credential(P, "u")
        .build())
}

#[test]
fn a_next_jwk_is_published_then_promoted_and_the_old_one_retired_for_the_overlap() {
    let f = fixture();
    f.generate("k1", Usage::Encryption);
    f.generate("k2", Usage::Encryption);
    f.set(Slot::Encryption, "k1").unwrap();
    let outcome = f.next(Slot::Encryption, Some("k2")).unwrap();
    assert!(outcome.deployment.unwrap().success);
    assert_eq!(
        f.slot(Slot::Encryption),
        (Some("k1".to_owned()), Some("k2".to_owned()))
    );
    let r = f.reg.resolver("prod");
    let thumbprint =
        |j: Option<Arc<jwk_core::Jwk>>| j.map(|j| jwk_registry::deploy::thumbprint(&j));
    let (t1, t2) = (f.thumbprint("k1"), f.thumbprint("k2"));
    // Published ahead: the next JWK is served before it is used.
    assert_eq!(
        thumbprint(r.credential(P, "u", Slot::Encryption)),
        Some(t1.clone())
    );
    assert_eq!(
        thumbprint(r.credential_next(P, "u", Slot::Encryption)),
        Some(t2.clone())
    );
    assert!(r.by_thumbprint(&t2).is_some());

    let outcome = f.promote(&f.admin.clone(), Slot::Encryption, 3600).unwrap();
    assert!(outcome.deployment.unwrap().success);
    assert_eq!(f.slot(Slot::Encryption), (Some("k2".to_owned()), None));
    assert_eq!(f.jwk("k2"), (KeyState::Active, None));
    assert_eq!(f.jwk("k1"), (KeyState::Retired, Some(T0 + 3600)));
    assert_eq!(
        thumbprint(r.credential(P, "u", Slot::Encryption)),
        Some(t2.clone())
    );
    assert_eq!(r.credential_next(P, "u", Slot::Encryption), None);
    // The old JWK verifies during the overlap, and is served nowhere after it.
    assert!(r.by_thumbprint(&t1).is_some());
    assert_eq!(r.state(P, "k1"), Some(KeyState::Retired));
    f.clock.set_ms((T0 + 3600) * 1000);
    f.rt.block_on(f.reg.refresh_local()).unwrap();
    assert!(r.by_thumbprint(&t1).is_none());
    assert_eq!(
        f.reg.get_jwk(&f.admin, P, "k1", false).unwrap().validity,
        ValidityStatus::Expired
    );
    assert!(r.by_thumbprint(&t2).is_some());
    // A JWK a slot refers to as its next one cannot be deleted.
    f.generate("k3", Usage::Encryption);
    f.next(Slot::Encryption, Some("k3")).unwrap();
    assert_eq!(
        f.run(Command::DeleteJwk {
            project: P.into(),
            name: "k3".into()
        })
        .unwrap_err()
        .message(),
        "JWK (name: k3) is used by credential (username: u) in project (p)! Remove it from the credential first."
    );
    // Removing the next JWK leaves the slot as it was.
    f.next(Slot::Encryption, None).unwrap();
    assert_eq!(f.slot(Slot::Encryption), (Some("k2".to_owned()), None));
}

#[test]
fn an_old_jwk_an_other_slot_still_holds_stays_active_and_an_earlier_exp_stays() {
    let f = fixture();
    f.generate("shared", Usage::Signature);
    f.generate("new", Usage::Signature);
    f.run(Command::CreateCredential {
        project: P.into(),
        username: "other".into(),
    })
    .unwrap();
    f.set(Slot::Validation, "shared").unwrap();
    f.run(Command::SetCredentialJwk {
        project: P.into(),
        username: "other".into(),
        slot: Slot::Validation,
        jwk: Some("shared".into()),
    })
    .unwrap();
    f.next(Slot::Validation, Some("new")).unwrap();
    f.promote(&f.admin.clone(), Slot::Validation, 600).unwrap();
    assert_eq!(f.slot(Slot::Validation), (Some("new".to_owned()), None));
    assert_eq!(f.jwk("shared"), (KeyState::Active, None));

    // Its own exp sooner than the overlap's end stays.
    f.generate("newer", Usage::Signature);
    f.run(Command::SetJwkValidity {
        project: P.into(),
        name: "new".into(),
        validity: Validity {
            not_before: None,
            expires: Some(T0 + 60),
        },
    })
    .unwrap();
    f.next(Slot::Validation, Some("newer")).unwrap();
    f.promote(&f.admin.clone(), Slot::Validation, 600).unwrap();
    assert_eq!(f.jwk("new"), (KeyState::Retired, Some(T0 + 60)));
}

#[test]
fn slot_changes_are_checked_with_messages_a_person_can_act_on() {
    let f = fixture();
    f.generate("sig", Usage::Signature);
    f.generate("enc", Usage::Encryption);
    f.generate("old", Usage::Encryption);
    f.set(Slot::Encryption, "enc").unwrap();
    let message = |r: Result<Outcome, RegistryError>| r.unwrap_err().message();
    let admin = f.admin.clone();
    assert_eq!(
        message(f.promote(&admin, Slot::Encryption, 60)),
        "Credential (username: u) has no next JWK in its encryption slot: set one before promoting!"
    );
    assert_eq!(
        message(f.next(Slot::Encryption, Some("enc"))),
        "JWK (name: enc) is already the encryption JWK of credential (username: u)!"
    );
    assert_eq!(
        message(f.next(Slot::Encryption, Some("sig"))),
        "JWK (name: sig) is for signatures (use: sig): the encryption slot takes a JWK whose use is enc or not set!"
    );
    f.run(Command::SetJwkState {
        project: P.into(),
        name: "old".into(),
        state: KeyState::Retired,
    })
    .unwrap();
    assert_eq!(
        message(f.next(Slot::Encryption, Some("old"))),
        "JWK (name: old) is retired: a slot's next JWK must be pending or active!"
    );
    assert_eq!(
        message(f.next(Slot::Encryption, Some("nope"))),
        "JWK (name: nope) is not found!"
    );
    f.run(Command::SetJwkState {
        project: P.into(),
        name: "old".into(),
        state: KeyState::Pending,
    })
    .unwrap();
    f.next(Slot::Encryption, Some("old")).unwrap();
    assert_eq!(
        message(f.promote(&admin, Slot::Encryption, 365 * 24 * 3600 + 1)),
        "Overlap (31536001 seconds) is too long: at most 31536000 (365 days)!"
    );
    // Setting the next JWK as the slot's JWK makes it the current one, with no next.
    f.set(Slot::Encryption, "old").unwrap();
    assert_eq!(f.slot(Slot::Encryption), (Some("old".to_owned()), None));

    // A promotion changes JWKs: identity permissions alone are not enough.
    f.run(Command::CreateUser {
        username: "ops".into(),
    })
    .unwrap();
    f.run(Command::SetMember {
        project: P.into(),
        username: "ops".into(),
        permissions: vec![IDENTITY_MANAGE, IDENTITY_DEPLOY],
    })
    .unwrap();
    f.next(Slot::Encryption, Some("enc")).unwrap();
    let ops = Actor::user("ops");
    assert_eq!(
        message(f.promote(&ops, Slot::Encryption, 60)),
        "User (username: ops) does not have SECRETS+MANAGE permission in project (p)!"
    );
    assert_eq!(
        f.slot(Slot::Encryption),
        (Some("old".to_owned()), Some("enc".to_owned()))
    );
}

/// Two promotions of the same slot at once: one wins, the other finds no next JWK, and the
/// slot never holds two active JWKs.
#[test]
fn of_racing_promotions_one_wins() {
    let f = Arc::new(fixture());
    f.generate("k0", Usage::Signature);
    f.set(Slot::Validation, "k0").unwrap();
    for round in 1..=10 {
        let name = format!("k{round}");
        f.generate(&name, Usage::Signature);
        f.next(Slot::Validation, Some(&name)).unwrap();
        let barrier = Arc::new(std::sync::Barrier::new(2));
        let racers: Vec<_> = (0..2)
            .map(|_| {
                let (f, barrier) = (f.clone(), barrier.clone());
                std::thread::spawn(move || {
                    let admin = f.admin.clone();
                    let handle = f.rt.handle().clone();
                    barrier.wait();
                    handle.block_on(f.reg.apply(
                        &admin,
                        Command::PromoteCredentialJwk {
                            project: P.into(),
                            username: "u".into(),
                            slot: Slot::Validation,
                            overlap_secs: 60,
                        },
                    ))
                })
            })
            .collect();
        let results: Vec<_> = racers.into_iter().map(|t| t.join().unwrap()).collect();
        let won = results.iter().filter(|r| r.is_ok()).count();
        assert_eq!(won, 1, "round {round}: {results:?}");
        let lost = results.into_iter().find_map(Result::err).unwrap();
        assert_eq!(
            lost.message(),
            "Credential (username: u) has no next JWK in its validation slot: set one before promoting!"
        );
        assert_eq!(f.slot(Slot::Validation), (Some(name.clone()), None));
        let active: Vec<String> = (0..=round)
            .map(|i| format!("k{i}"))
            .filter(|n| f.jwk(n).0 == KeyState::Active)
            .collect();
        assert_eq!(active, [name], "round {round}");
    }
}
