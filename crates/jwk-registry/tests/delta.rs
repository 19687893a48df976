//! Deployment by delta: a resolver kept current by deltas serves exactly what a resolver
//! given the whole snapshot serves, after every step of random sequences of changes
//! (creates, renames, deletions, states, validity windows, slots current and next, keys
//! sharing a kid, time passing bounds), and deltas are what it is given.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use proptest::prelude::*;

use jwk_core::{EcCurve, GenerateOptions, Jwk, KeySpec, KidType, ThumbprintHash, Usage};
use jwk_registry::deploy::{
    BoxFuture, DeployError, DeployTarget, EnvironmentDelta, EnvironmentSnapshot, Receipt, Resolver,
};
use jwk_registry::{Command, JwkUpdate, KeyState, NewJwk, Slot, Source, Validity};
use jwk_testkit::registry::{Fixture, T0};

const P: &str = "p";
const JWKS: u8 = 5;
const USERS: u8 = 3;
const KIDS: [&str; 4] = ["k0", "k1", "k2", "shared"];

/// A node-local host target: a resolver inside, and how it was deployed.
#[derive(Default)]
struct Counting {
    resolver: Arc<Resolver>,
    deltas: AtomicUsize,
    snapshots: AtomicUsize,
}

impl DeployTarget for Counting {
    fn deploy<'a>(
        &'a self,
        snapshot: &'a EnvironmentSnapshot,
    ) -> BoxFuture<'a, Result<Receipt, DeployError>> {
        self.snapshots.fetch_add(1, Ordering::SeqCst);
        self.resolver.deploy(snapshot)
    }

    fn deploy_delta<'a>(
        &'a self,
        delta: &'a EnvironmentDelta,
    ) -> Option<BoxFuture<'a, Result<Receipt, DeployError>>> {
        let applied = self.resolver.deploy_delta(delta)?;
        self.deltas.fetch_add(1, Ordering::SeqCst);
        Some(applied)
    }

    fn node_local(&self) -> bool {
        true
    }
}

#[derive(Debug, Clone)]
enum Step {
    Create {
        jwk: u8,
        key: u8,
    },
    Delete {
        jwk: u8,
    },
    Rename {
        from: u8,
        to: u8,
    },
    State {
        jwk: u8,
        state: KeyState,
    },
    Window {
        jwk: u8,
        nbf: Option<i64>,
        exp: Option<i64>,
    },
    Slot {
        user: u8,
        slot: Slot,
        jwk: Option<u8>,
        next: bool,
    },
    Tick {
        secs: i64,
    },
}

fn step() -> impl Strategy<Value = Step> {
    let jwk = 0..JWKS;
    let state = prop_oneof![
        Just(KeyState::Active),
        Just(KeyState::Pending),
        Just(KeyState::Retired),
        Just(KeyState::Disabled),
    ];
    let offset = prop::option::of(-30i64..90);
    let slot = prop_oneof![Just(Slot::Validation), Just(Slot::Encryption)];
    prop_oneof![
        3 => (jwk.clone(), 0..6u8).prop_map(|(jwk, key)| Step::Create { jwk, key }),
        1 => jwk.clone().prop_map(|jwk| Step::Delete { jwk }),
        1 => (jwk.clone(), jwk.clone()).prop_map(|(from, to)| Step::Rename { from, to }),
        2 => (jwk.clone(), state).prop_map(|(jwk, state)| Step::State { jwk, state }),
        2 => (jwk.clone(), offset.clone(), offset)
            .prop_map(|(jwk, nbf, exp)| Step::Window { jwk, nbf, exp }),
        3 => (0..USERS, slot, prop::option::of(jwk), any::<bool>())
            .prop_map(|(user, slot, jwk, next)| Step::Slot { user, slot, jwk, next }),
        2 => (1i64..40).prop_map(|secs| Step::Tick { secs }),
    ]
}

/// The keys the steps paste: six EC keys, two of which share the kid `shared`.
fn keys() -> Vec<Jwk> {
    ["k0", "k1", "k2", "shared", "shared", "k0"]
        .iter()
        .map(|kid| {
            jwk_core::generate(&GenerateOptions {
                spec: KeySpec::Ec(EcCurve::P256),
                usage: Usage::Signature,
                alg: "ES256".into(),
                kid: KidType::Explicit((*kid).into()),
            })
            .unwrap()
        })
        .collect()
}

fn name(jwk: u8) -> String {
    format!("j{jwk}")
}

fn user(user: u8) -> String {
    format!("u{user}")
}

fn command(step: &Step, keys: &[Jwk], now: i64) -> Option<Command> {
    let p = || P.to_owned();
    Some(match step {
        Step::Create { jwk, key } => Command::CreateJwk {
            project: p(),
            jwk: NewJwk::new(
                name(*jwk),
                Source::Paste {
                    jwk: keys[usize::from(*key)].to_json(),
                    kid: None,
                },
            ),
        },
        Step::Delete { jwk } => Command::DeleteJwk {
            project: p(),
            name: name(*jwk),
        },
        Step::Rename { from, to } => Command::UpdateJwk {
            project: p(),
            name: name(*from),
            update: JwkUpdate {
                name: Some(name(*to)),
                description: None,
            },
        },
        Step::State { jwk, state } => Command::SetJwkState {
            project: p(),
            name: name(*jwk),
            state: *state,
        },
        Step::Window { jwk, nbf, exp } => Command::SetJwkValidity {
            project: p(),
            name: name(*jwk),
            validity: Validity {
                not_before: nbf.map(|o| now + o),
                expires: exp.map(|o| now + o),
            },
        },
        Step::Slot {
            user: u,
            slot,
            jwk,
            next: false,
        } => Command::SetCredentialJwk {
            project: p(),
            username: user(*u),
            slot: *slot,
            jwk: jwk.map(name),
        },
        Step::Slot {
            user: u,
            slot,
            jwk,
            next: true,
        } => Command::SetCredentialNextJwk {
            project: p(),
            username: user(*u),
            slot: *slot,
            jwk: jwk.map(name),
        },
        Step::Tick { .. } => return None,
    })
}

/// Everything a gateway can ask a resolver, as text.
fn served(r: &Resolver, keys: &[Jwk]) -> Vec<String> {
    let json = |j: Option<Arc<Jwk>>| j.map(|j| j.to_json());
    let mut out = vec![
        format!("{:?}", r.published()),
        r.public_key_count().to_string(),
    ];
    for jwk in 0..JWKS {
        let n = name(jwk);
        out.push(format!(
            "{n}: {:?} {:?} {:?}",
            json(r.by_name(P, &n)),
            r.state(P, &n),
            json(r.active(P, &n))
        ));
    }
    for kid in KIDS {
        out.push(format!(
            "{kid}: {:?} {:?}",
            json(r.by_kid(kid)),
            json(r.by_project_kid(P, kid))
        ));
    }
    for key in keys {
        let t = key.thumbprint(ThumbprintHash::Sha256);
        out.push(format!("{t}: {:?}", json(r.by_thumbprint(&t))));
    }
    for u in 0..USERS {
        for slot in [Slot::Validation, Slot::Encryption] {
            out.push(format!(
                "{} {slot:?}: {:?} {:?}",
                user(u),
                json(r.credential(P, &user(u), slot)),
                json(r.credential_next(P, &user(u), slot))
            ));
        }
    }
    out
}

fn run(steps: &[Step], keys: &[Jwk]) -> Result<(), TestCaseError> {
    let counting = Arc::new(Counting::default());
    let mut setup = Fixture::setup()
        .at_secs(T0)
        .project(P)
        .memory("prod")
        .target("host", counting.clone());
    for u in 0..USERS {
        setup = setup.credential(P, &user(u));
    }
    let f = setup.build();
    let mut now = T0;
    for (i, step) in steps.iter().enumerate() {
        match command(step, keys, now) {
            // Refusals (a name taken, a JWK in use, …) change nothing: also checked.
            Some(command) => drop(f.admin(command)),
            None => {
                if let Step::Tick { secs } = step {
                    now += secs;
                    f.clock.set_ms(now * 1000);
                }
                f.rt.block_on(f.reg.refresh_local()).unwrap();
            }
        }
        let whole = Resolver::new();
        f.rt.block_on(whole.deploy(&f.reg.snapshot().unwrap()))
            .unwrap();
        let expected = served(&whole, keys);
        prop_assert_eq!(
            &served(&f.reg.resolver("prod"), keys),
            &expected,
            "step {} ({:?}) of {:?}",
            i,
            step,
            steps
        );
        prop_assert_eq!(
            &served(&counting.resolver, keys),
            &expected,
            "the host's target, step {}",
            i
        );
    }
    // One whole snapshot, when the target was first deployed; deltas afterwards.
    prop_assert_eq!(counting.snapshots.load(Ordering::SeqCst), 1);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("JWK_DELTA_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(32),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn deltas_serve_what_whole_snapshots_serve(steps in prop::collection::vec(step(), 1..40)) {
        run(&steps, &keys())?;
    }
}

/// A delta from a base the resolver does not serve is refused (`None`): the deployer then
/// sends the whole snapshot.
#[test]
fn a_delta_from_another_base_is_refused() {
    let r = Resolver::new();
    let delta = EnvironmentDelta {
        base_revision: 3,
        revision: 4,
        ..EnvironmentDelta::default()
    };
    assert!(r.deploy_delta(&delta).is_none(), "nothing served yet");
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let snapshot = EnvironmentSnapshot {
        revision: 5,
        ..EnvironmentSnapshot::default()
    };
    rt.block_on(r.deploy(&snapshot)).unwrap();
    assert!(r.deploy_delta(&delta).is_none(), "serves 5, not 3");
    let from_five = EnvironmentDelta {
        base_revision: 5,
        revision: 6,
        ..EnvironmentDelta::default()
    };
    let receipt = rt.block_on(r.deploy_delta(&from_five).unwrap()).unwrap();
    assert_eq!((receipt.public_keys, r.revision()), (0, 6));
}
