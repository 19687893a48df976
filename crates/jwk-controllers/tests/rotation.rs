//! Scheduled rotation of a credential slot, with an injectable clock: the next JWK is
//! published ahead, promoted only once every environment's receipt shows it served (a target
//! that withholds its receipt holds the promotion back), the replaced JWK retired for the
//! overlap and then deleted; several nodes and a restart.

use jwk_testkit::registry::{Fixture, T0, rotation_policy};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use jwk_controllers::Rotation;
use jwk_core::{EcCurve, KeySpec, Usage};
use jwk_registry::deploy::{BoxFuture, DeployError, EnvironmentSnapshot, Receipt};
use jwk_registry::store::Store;
use jwk_registry::{
    Command, DeployTarget, KeyState, Outcome, Registry, RegistryError, RotationPolicy,
    RotationView, RotationWait, Slot,
};

const P: &str = "p";

/// A gateway that, while held, refuses deployments (so it gives no receipt).
#[derive(Default)]
struct Gateway {
    held: AtomicBool,
    serves: Mutex<Vec<String>>,
}

impl DeployTarget for Gateway {
    fn deploy<'a>(
        &'a self,
        snapshot: &'a EnvironmentSnapshot,
    ) -> BoxFuture<'a, Result<Receipt, DeployError>> {
        Box::pin(async move {
            if self.held.load(Ordering::SeqCst) {
                return Err(DeployError("gateway is reloading".to_owned()));
            }
            *self.serves.lock().unwrap() = snapshot.thumbprints();
            Ok(Receipt::of(snapshot))
        })
    }
}

struct Node {
    reg: Arc<Registry>,
    gateway: Arc<Gateway>,
    rotation: Arc<Rotation>,
}

/// A node: a registry of its own over the fixture's store, its gateway `edge`, and its
/// rotation controller.
fn node_of(reg: Arc<Registry>, gateway: Arc<Gateway>) -> Node {
    reg.register_target("edge", gateway.clone());
    let rotation = Arc::new(Rotation::new(reg.clone()));
    Node {
        reg,
        gateway,
        rotation,
    }
}

/// Another node of the fixture's registry.
fn node(f: &Fixture) -> Node {
    node_of(f.node(), Arc::new(Gateway::default()))
}

/// The shared fixture, and its registry as node `a`.
struct F {
    fixture: Fixture,
    a: Node,
}

impl std::ops::Deref for F {
    type Target = Fixture;

    fn deref(&self) -> &Fixture {
        &self.fixture
    }
}

impl F {
    fn run(&self, command: Command) -> Result<Outcome, RegistryError> {
        self.rt.block_on(self.a.reg.apply(&self.admin, command))
    }

    /// Moves the clock to `T0 + dt` and runs what the controllers run then on `node`: the
    /// deployment of validity bounds, the reconcile and the rotations.
    fn at(&self, node: &Node, dt: i64) {
        self.clock.set_ms((T0 + dt) * 1000);
        self.rt.block_on(node.reg.refresh_local()).unwrap();
        self.rt.block_on(node.reg.reconcile()).unwrap();
        self.rt.block_on(node.rotation.run_once()).unwrap();
    }

    fn rotation(&self) -> RotationView {
        self.a
            .reg
            .slot_rotation(&self.admin, P, "u", Slot::Validation)
            .unwrap()
            .unwrap()
    }

    fn current(&self) -> Option<String> {
        self.a
            .reg
            .get_credential(&self.admin, P, "u")
            .unwrap()
            .validation
            .map(|s| s.name)
    }

    /// Every JWK of the project: (name, state, exp).
    fn jwks(&self) -> Vec<(String, KeyState, Option<i64>)> {
        self.a
            .reg
            .list_jwks(&self.admin, P, false)
            .unwrap()
            .into_iter()
            .map(|v| (v.name, v.state, v.validity_window.expires))
            .collect()
    }

    fn thumbprint(&self, name: &str) -> String {
        self.a
            .reg
            .get_jwk(&self.admin, P, name, false)
            .unwrap()
            .thumbprint
            .unwrap()
    }
}

fn fixture() -> F {
    let gateway = Arc::new(Gateway::default());
    let fixture = Fixture::setup()
        .at_secs(T0)
        .project(P)
        .memory("prod")
        .target("edge", gateway.clone())
        .credential(P, "u")
        .build();
    let a = node_of(fixture.reg.clone(), gateway);
    let f = F { fixture, a };
    f.run(Command::SetSlotRotation {
        project: P.into(),
        username: "u".into(),
        slot: Slot::Validation,
        policy: Some(rotation_policy()),
    })
    .unwrap();
    f
}

#[test]
fn a_whole_cycle_waits_for_every_receipt_then_promotes_retires_and_removes() {
    let f = fixture();
    let (k0, k1) = (
        "u-validation-20300101T000000Z",
        "u-validation-20300101T001640Z",
    );
    // The empty slot gets its first JWK at once; the first promotion is due a period later.
    f.at(&f.a, 0);
    assert_eq!(f.current().as_deref(), Some(k0));
    assert_eq!(f.jwks(), [(k0.to_owned(), KeyState::Active, None)]);
    assert_eq!(
        (f.rotation().due, f.rotation().last_promotion),
        (T0 + 1000, Some(T0))
    );
    // The public JWKS's max-age shortens ahead of the next publication.
    assert_eq!(f.a.rotation.next_scheduled_publication(), Some(T0 + 800));

    // Nothing before the lead time.
    f.at(&f.a, 799);
    assert_eq!(f.rotation().next_jwk, None);

    // The gateway starts withholding its receipts; the next JWK is published `lead` ahead.
    f.a.gateway.held.store(true, Ordering::SeqCst);
    f.at(&f.a, 800);
    assert_eq!(f.rotation().next_jwk.as_deref(), Some(k1));
    assert_eq!(f.a.rotation.next_scheduled_publication(), None);
    let (t0, t1) = (f.thumbprint(k0), f.thumbprint(k1));
    assert_eq!(
        f.jwks(),
        [
            (k0.to_owned(), KeyState::Active, None),
            (k1.to_owned(), KeyState::Pending, None)
        ]
    );
    let prod = f.a.reg.resolver("prod");
    assert!(prod.by_thumbprint(&t1).is_some(), "published ahead");
    assert_eq!(f.rotation().served_since, None);

    // Due, but edge has not reported serving it: no promotion, and the rotation says why.
    f.at(&f.a, 1000);
    assert_eq!(f.current().as_deref(), Some(k0));
    assert_eq!(
        f.rotation().waiting,
        Some(RotationWait {
            code: "rotation.waiting_for_receipts".into(),
            message: format!(
                "Waiting for environments (edge) to report serving JWK (name: {k1}) before promoting it!"
            ),
        })
    );
    f.at(&f.a, 1099);
    assert_eq!(f.current().as_deref(), Some(k0));

    // The gateway comes back: reconciled, it reports both keys; consumers' caches get 100 s.
    f.a.gateway.held.store(false, Ordering::SeqCst);
    f.at(&f.a, 1100);
    assert_eq!(*f.a.gateway.serves.lock().unwrap(), {
        let mut both = vec![t0.clone(), t1.clone()];
        both.sort();
        both
    });
    let r = f.rotation();
    assert_eq!(r.served_since, Some(T0 + 1100));
    assert_eq!(r.waiting.unwrap().code, "rotation.waiting_for_caches");
    assert_eq!(f.current().as_deref(), Some(k0));

    // Promoted: k1 active, k0 retired until the overlap's end.
    f.at(&f.a, 1200);
    assert_eq!(f.current().as_deref(), Some(k1));
    assert_eq!(
        f.jwks(),
        [
            (k0.to_owned(), KeyState::Retired, Some(T0 + 1600)),
            (k1.to_owned(), KeyState::Active, None)
        ]
    );
    let r = f.rotation();
    assert_eq!(
        (r.due, r.next_jwk, r.waiting, r.removals.len()),
        (T0 + 2200, None, None, 1)
    );
    assert!(
        prod.by_thumbprint(&t0).is_some(),
        "verifies during the overlap"
    );

    // After the overlap: served nowhere, then deleted.
    f.at(&f.a, 1600);
    assert!(prod.by_thumbprint(&t0).is_none());
    assert_eq!(*f.a.gateway.serves.lock().unwrap(), vec![t1.clone()]);
    assert_eq!(f.jwks(), [(k1.to_owned(), KeyState::Active, None)]);
    assert!(f.rotation().removals.is_empty());

    // Every step is in the audit log, by the rotation.
    let actions: Vec<(String, String)> = f
        .store
        .scan(b"audit/")
        .unwrap()
        .into_iter()
        .map(|(_, v)| {
            let e: serde_json::Value = serde_json::from_slice(&v.value).unwrap();
            (
                e["actor"].as_str().unwrap().to_owned(),
                e["action"].as_str().unwrap().to_owned(),
            )
        })
        .filter(|(actor, _)| actor == "system:rotation")
        .collect();
    let names: Vec<&str> = actions.iter().map(|(_, a)| a.as_str()).collect();
    // Its own progress too: the first key, the next one published, every environment
    // serving it, waiting for the receipts and then for the caches, the promotion, the
    // removal.
    let progress = "credential.validation.rotation.progress";
    assert_eq!(
        names,
        [
            "jwk.generate",
            "credential.validation.set",
            progress,
            "jwk.generate",
            "credential.validation.next.set",
            progress,
            progress,
            progress,
            progress,
            "credential.validation.promote",
            progress,
            "jwk.delete",
            progress,
        ]
    );
}

#[test]
fn two_nodes_make_one_key_and_a_schedule_missed_while_down_runs_at_start() {
    let f = fixture();
    let b = node(&f);
    // Both nodes act at every step: one key per step. The gateway answers at once, so the
    // promotion is due at 1000 (served since 800, cached by 900).
    for dt in [0, 800, 1000] {
        f.clock.set_ms((T0 + dt) * 1000);
        f.rt.block_on(async {
            let (x, y) = tokio::join!(f.a.rotation.run_once(), b.rotation.run_once());
            x.unwrap();
            y.unwrap();
        });
        f.rt.block_on(f.a.reg.reconcile()).unwrap();
        f.rt.block_on(b.reg.reconcile()).unwrap();
        f.rt.block_on(f.a.rotation.run_once()).unwrap();
    }
    let names: Vec<String> = f.jwks().into_iter().map(|j| j.0).collect();
    assert_eq!(
        names,
        [
            "u-validation-20300101T000000Z",
            "u-validation-20300101T001640Z"
        ]
    );
    assert_eq!(
        f.current().as_deref(),
        Some("u-validation-20300101T001640Z")
    );
    let due = f.rotation().due;
    assert_eq!(due, T0 + 2000);

    // Every node stops; one starts again long after the next key was due to be published
    // and promoted: the next key is published at once, and promoted once consumers' caches
    // had their time.
    drop(b);
    let c = node(&f);
    f.clock.set_ms((due + 5000) * 1000);
    f.rt.block_on(c.reg.refresh_local()).unwrap();
    assert_eq!(
        f.rt.block_on(c.rotation.run_once()).unwrap(),
        Some(due + 5100)
    );
    let r = f.rotation();
    assert_eq!(
        (r.next_jwk.as_deref(), r.served_since),
        (Some("u-validation-20300101T003320Z"), Some(due + 5000))
    );
    f.clock.set_ms((due + 5100) * 1000);
    f.rt.block_on(c.rotation.run_once()).unwrap();
    assert_eq!(f.rotation().last_promotion, Some(due + 5100));
    assert_eq!(
        f.current().as_deref(),
        Some("u-validation-20300101T003320Z")
    );
}

#[test]
fn unsafe_policies_are_refused_saying_by_how_much() {
    let f = fixture();
    let refused = |p: RotationPolicy| {
        f.run(Command::SetSlotRotation {
            project: P.into(),
            username: "u".into(),
            slot: Slot::Validation,
            policy: Some(p),
        })
        .unwrap_err()
        .message()
    };
    assert_eq!(
        refused(RotationPolicy {
            overlap_secs: 350,
            ..rotation_policy()
        }),
        "Overlap (350 s) is 50 s short: it must cover the longest token lifetime (300 s) plus the consumers' cache time (100 s), 400 s!"
    );
    assert_eq!(
        refused(RotationPolicy {
            lead_secs: 30,
            ..rotation_policy()
        }),
        "Lead time (30 s) is 70 s short: the next JWK must be published for at least the consumers' cache time (100 s) before it is used!"
    );
    assert_eq!(
        refused(RotationPolicy {
            lead_secs: 1000,
            ..rotation_policy()
        }),
        "Lead time (1000 s) must be shorter than the period (1000 s)!"
    );
    assert_eq!(
        refused(RotationPolicy {
            period_secs: 59,
            ..rotation_policy()
        }),
        "Period (59 s) is too short: at least 60 s!"
    );
    assert_eq!(
        refused(RotationPolicy {
            max_token_lifetime_secs: u64::MAX,
            ..rotation_policy()
        }),
        "Longest token lifetime (18446744073709551615 s) is too long: at most 315360000 s (10 years)!"
    );
    assert_eq!(
        refused(RotationPolicy {
            spec: KeySpec::Oct { bits: 256 },
            ..rotation_policy()
        }),
        "Key type (oct) cannot be rotated: deployment receipts never name symmetric keys, so that every environment serves the next one cannot be confirmed!"
    );
    assert_eq!(
        refused(RotationPolicy {
            algorithm: "ES384".into(),
            ..rotation_policy()
        }),
        "algorithm ES384 cannot be used with an EC P-256 key for SIGNATURE: ES384 needs an EC P-384 key; valid are ES256"
    );
    assert_eq!(
        f.run(Command::SetSlotRotation {
            project: P.into(),
            username: "nobody".into(),
            slot: Slot::Validation,
            policy: Some(rotation_policy()),
        })
        .unwrap_err()
        .message(),
        "Credential (username: nobody) was not found!"
    );
    // Removed: nothing rotates any more.
    f.run(Command::SetSlotRotation {
        project: P.into(),
        username: "u".into(),
        slot: Slot::Validation,
        policy: None,
    })
    .unwrap();
    assert_eq!(
        f.a.reg
            .slot_rotation(&f.admin, P, "u", Slot::Validation)
            .unwrap(),
        None
    );
    f.at(&f.a, 0);
    assert_eq!(f.current(), None);
}

#[test]
fn a_generated_jwk_rotates_under_its_name() {
    let f = fixture();
    let generate = |name: &str| {
        f.run(Command::CreateJwk {
            project: P.into(),
            jwk: jwk_registry::NewJwk::new(
                name,
                jwk_registry::Source::Generate {
                    spec: KeySpec::Ec(EcCurve::P256),
                    kid: None,
                },
            )
            .usage(Usage::Signature, "ES256"),
        })
        .unwrap()
    };
    generate("signer");
    let set = |name: &str, policy: Option<RotationPolicy>| {
        f.run(Command::SetJwkRotation {
            project: P.into(),
            name: name.into(),
            policy,
        })
    };
    set("signer", Some(rotation_policy())).unwrap();
    let r =
        f.a.reg
            .jwk_rotation(&f.admin, P, "signer")
            .unwrap()
            .unwrap();
    assert_eq!(
        (r.jwk.as_deref(), r.username, r.due),
        (Some("signer"), None, T0 + 1000)
    );
    let first = f.thumbprint("signer");
    f.at(&f.a, 800);
    let next = "signer-20300101T001640Z";
    assert_eq!(
        f.a.reg
            .jwk_rotation(&f.admin, P, "signer")
            .unwrap()
            .unwrap()
            .next_jwk
            .as_deref(),
        Some(next)
    );
    let second = f.thumbprint(next);
    let prod = f.a.reg.resolver("prod");
    assert_eq!(prod.state(P, next), Some(KeyState::Pending));
    // Served by every environment from 800, cached by 900: promoted when due.
    f.at(&f.a, 1000);
    let names = |f: &F| {
        f.jwks()
            .into_iter()
            .filter(|j| j.0.starts_with("signer"))
            .collect::<Vec<_>>()
    };
    let retired = "signer-retired-20300101T001640Z";
    assert_eq!(
        names(&f),
        [
            ("signer".to_owned(), KeyState::Active, None),
            (retired.to_owned(), KeyState::Retired, Some(T0 + 1400))
        ]
    );
    assert_eq!(f.thumbprint("signer"), second);
    assert_eq!(f.thumbprint(retired), first);
    let active = prod.active(P, "signer").unwrap();
    assert_eq!(jwk_registry::deploy::thumbprint(&active), second);
    // After the overlap the retired key is deleted.
    f.at(&f.a, 1400);
    assert_eq!(names(&f), [("signer".to_owned(), KeyState::Active, None)]);

    // A rotating JWK keeps its name; a JWK that is not generated, or is in a slot, is refused.
    assert_eq!(
        f.run(Command::UpdateJwk {
            project: P.into(),
            name: "signer".into(),
            update: jwk_registry::JwkUpdate {
                name: Some("other".into()),
                description: None,
            },
        })
        .unwrap_err()
        .message(),
        "JWK (name: signer) has a rotation policy, which follows its name: remove the policy before renaming it!"
    );
    f.run(Command::CreateJwk {
        project: P.into(),
        jwk: jwk_registry::NewJwk::new(
            "pasted",
            jwk_registry::Source::Paste {
                jwk: r#"{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}"#.into(),
                kid: None,
            },
        ),
    })
    .unwrap();
    assert_eq!(
        set("pasted", Some(rotation_policy()))
            .unwrap_err()
            .message(),
        "JWK (name: pasted) is not generated: only a generated JWK can be rotated!"
    );
    generate("held");
    f.run(Command::CreateCredential {
        project: P.into(),
        username: "v".into(),
    })
    .unwrap();
    f.run(Command::SetCredentialJwk {
        project: P.into(),
        username: "v".into(),
        slot: Slot::Validation,
        jwk: Some("held".into()),
    })
    .unwrap();
    assert_eq!(
        set("held", Some(rotation_policy())).unwrap_err().message(),
        "JWK (name: held) is in a slot of credential (username: v): rotate that slot instead!"
    );
    // Deleting a rotating JWK ends its rotation.
    f.run(Command::DeleteJwk {
        project: P.into(),
        name: "signer".into(),
    })
    .unwrap();
    generate("signer");
    assert_eq!(f.a.reg.jwk_rotation(&f.admin, P, "signer").unwrap(), None);
}
