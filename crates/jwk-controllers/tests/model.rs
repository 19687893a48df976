//! A model of approval, checked against the registry over random sequences of steps:
//! commands by a deployer and by a member without the deploy permissions (create, state,
//! validity, rename, delete, re-sync and deploy JWKs; set and deploy a credential's
//! encryption slot), interleaved with the controllers' steps (an upstream rotation of a
//! followed JWK and its refresh, clock advances and the validity redeploys they bring, a
//! credential's validation slot rotated on its schedule). After each step every environment
//! (the in-process resolver and a host's target) must serve exactly what a deployer approved
//! plus the controllers' own changes, and each JWK must show as pending exactly when the
//! model says a person's edit awaits approval.
//!
//! The model keeps, per JWK, a saved and an approved copy of the fields people and the
//! controllers change; a deployer's change (or Deploy) copies saved to approved, a member's
//! changes the saved copy only, and a controller's step changes the fields it owns on both.
//! The rotated slot is the controllers' alone: its keys are checked for being served as the
//! credential's saved slot says, and for never showing as pending.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, OnceLock};

use jwk_controllers::{Refresh, Rotation, Validity};
use jwk_core::{EcCurve, KeySpec, Usage};
use jwk_registry::deploy::{BoxFuture, DeployError, EnvironmentSnapshot, Receipt};
use jwk_registry::perm::{
    IDENTITY_DEPLOY, IDENTITY_MANAGE, IDENTITY_VIEW, SECRETS_DEPLOY, SECRETS_MANAGE, SECRETS_VIEW,
};
use jwk_registry::{
    Actor, Command, DeployTarget, JwkUpdate, KeyState, NewJwk, RegistryConfig, RotationPolicy,
    Slot, Source, UrlOptions, Validity as KeyValidity,
};
use jwk_testkit::registry::{Fixture, T0};
use proptest::prelude::*;

mod support;
use support::{Jwks, P, ec_key, quick};

/// The JWK names people use (the followed JWK is `f`).
const NAMES: [&str; 3] = ["a", "b", "c"];
/// The pasted keys (kids k0…k3) and the keys the upstream of `f` serves in turn (kid f).
const PASTED: usize = 4;
const UPSTREAM: usize = 3;

/// Keys as (public JSON, thumbprint).
type Keys = Vec<(String, String)>;

/// The keys, made once per test run: the pasted ones, and those the upstream serves.
fn keys() -> &'static (Keys, Keys) {
    static KEYS: OnceLock<(Keys, Keys)> = OnceLock::new();
    KEYS.get_or_init(|| {
        // Without `use` or `alg`: a key for either slot.
        let made = |kid: String| {
            let jwk = ec_key(&kid);
            let mut public: serde_json::Value =
                serde_json::from_str(&jwk.to_public_json().unwrap()).unwrap();
            let members = public.as_object_mut().unwrap();
            members.remove("use");
            members.remove("alg");
            (public.to_string(), jwk_registry::deploy::thumbprint(&jwk))
        };
        (
            (0..PASTED).map(|i| made(format!("k{i}"))).collect(),
            (0..UPSTREAM).map(|_| made("f".to_owned())).collect(),
        )
    })
}

/// A host's target that keeps what it was last given: (name, thumbprint, state) per JWK of
/// the project, and the credential's encryption slot.
#[derive(Default)]
struct Edge {
    last: Mutex<Option<Served>>,
}

impl DeployTarget for Edge {
    fn deploy<'a>(
        &'a self,
        snapshot: &'a EnvironmentSnapshot,
    ) -> BoxFuture<'a, Result<Receipt, DeployError>> {
        Box::pin(async move {
            let project = snapshot.projects.iter().find(|p| p.name == P);
            let jwks = project
                .map(|p| {
                    p.jwks
                        .iter()
                        .map(|j| (j.name.to_string(), (j.thumbprint.to_string(), j.state)))
                        .collect()
                })
                .unwrap_or_default();
            let encryption = project
                .and_then(|p| p.credentials.iter().find(|c| &*c.username == "c1"))
                .and_then(|c| c.encryption.as_ref())
                .filter(|j| j.state == KeyState::Active)
                .map(|j| j.thumbprint.to_string());
            *self.last.lock().unwrap() = Some(Served { jwks, encryption });
            Ok(Receipt::of(snapshot))
        })
    }
}

/// What an environment serves of the project: JWKs by name, and the key credential c1's
/// encryption slot encrypts with.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct Served {
    jwks: BTreeMap<String, (String, KeyState)>,
    encryption: Option<String>,
}

/// What the model says an environment serves.
#[derive(Debug)]
struct Expected {
    jwks: BTreeMap<String, Vec<(String, KeyState)>>,
    encryption: Option<String>,
}

impl Expected {
    /// Whether `served` is what is expected.
    fn matches(&self, served: &Served) -> bool {
        served.encryption == self.encryption
            && served.jwks.len() == self.jwks.len()
            && served
                .jwks
                .iter()
                .all(|(name, key)| self.jwks.get(name).is_some_and(|keys| keys.contains(key)))
    }
}

/// The fields of a JWK people and the controllers change.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Fields {
    name: String,
    /// The key's thumbprint.
    key: String,
    state: KeyState,
    exp: Option<i64>,
    /// An update detached it from its source (for `f`: it is followed no more).
    detached: bool,
}

/// One JWK: its saved and approved copies (`None`: none).
#[derive(Debug, Clone, Default)]
struct Copies {
    saved: Option<Fields>,
    approved: Option<Fields>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    Deployer,
    Member,
}

#[derive(Debug, Clone)]
enum Step {
    Create(Who, usize, usize),
    State(Who, usize, KeyState),
    Expire(Who, usize, Option<i64>),
    Rename(Who, usize, usize),
    Delete(Who, usize),
    Resync(Who),
    DeployJwk(usize),
    SetEncryption(Who, Option<usize>),
    DeployCredential,
    /// The upstream of `f` serves its key number i; the refresh runs a second later.
    Upstream(usize),
    Advance(i64),
    Rotate,
}

/// JWK names: `a`, `b`, `c`, and `f` (index 3).
fn name(i: usize) -> &'static str {
    NAMES.get(i).copied().unwrap_or("f")
}

fn step() -> impl Strategy<Value = Step> {
    let who = prop_oneof![Just(Who::Deployer), Just(Who::Member)];
    let any_name = 0usize..4;
    let state = prop_oneof![
        Just(KeyState::Active),
        Just(KeyState::Retired),
        Just(KeyState::Disabled),
        Just(KeyState::Pending),
    ];
    prop_oneof![
        3 => (who.clone(), 0usize..3, 0..PASTED).prop_map(|(w, n, k)| Step::Create(w, n, k)),
        3 => (who.clone(), any_name.clone(), state).prop_map(|(w, n, s)| Step::State(w, n, s)),
        2 => (who.clone(), any_name.clone(), prop::option::of(10i64..400))
            .prop_map(|(w, n, e)| Step::Expire(w, n, e)),
        1 => (who.clone(), any_name.clone(), 0usize..4).prop_map(|(w, n, m)| Step::Rename(w, n, m)),
        1 => (who.clone(), any_name.clone()).prop_map(|(w, n)| Step::Delete(w, n)),
        1 => who.clone().prop_map(Step::Resync),
        2 => any_name.prop_map(Step::DeployJwk),
        2 => (who, prop::option::of(0usize..4)).prop_map(|(w, n)| Step::SetEncryption(w, n)),
        1 => Just(Step::DeployCredential),
        2 => (0..UPSTREAM).prop_map(Step::Upstream),
        2 => prop_oneof![Just(1i64), Just(30), Just(90)].prop_map(Step::Advance),
        2 => Just(Step::Rotate),
    ]
}

/// The world under test.
struct World {
    f: Fixture,
    edge: Arc<Edge>,
    upstream: Jwks,
    refresh: Arc<Refresh>,
    rotation: Rotation,
    validity: Validity,
    deployer: Actor,
    member: Actor,
}

/// What the model holds.
#[derive(Debug, Default)]
struct Model {
    /// JWKs by model id (the followed `f` is 0), in creation order.
    jwks: BTreeMap<usize, Copies>,
    next_id: usize,
    /// Credential c1's encryption slot: saved and approved (model ids).
    encryption: (Option<usize>, Option<usize>),
    /// The key the upstream of `f` serves.
    upstream: String,
    now: i64,
}

impl Model {
    /// The model id of the JWK saved under `name`.
    fn saved(&self, name: &str) -> Option<usize> {
        self.jwks
            .iter()
            .find(|(_, c)| c.saved.as_ref().is_some_and(|s| s.name == name))
            .map(|(id, _)| *id)
    }

    /// A person's change of JWK `id`: the saved copy, and the approved one for a deployer.
    fn edit(&mut self, who: Who, id: usize, change: impl Fn(&mut Fields)) {
        let copies = self.jwks.get_mut(&id).unwrap();
        if let Some(saved) = &mut copies.saved {
            change(saved);
        }
        if who == Who::Deployer {
            copies.approved = copies.saved.clone();
        }
    }

    /// What an environment should serve now: by name, each JWK served under it (more than
    /// one where a member's deletion of the name awaits approval and a deployer created the
    /// name again: a lookup by name then finds one of them).
    fn served(&self) -> Expected {
        let serves =
            |f: &Fields| f.state != KeyState::Disabled && f.exp.is_none_or(|exp| self.now < exp);
        let mut jwks: BTreeMap<String, Vec<(String, KeyState)>> = BTreeMap::new();
        for f in self.jwks.values().filter_map(|c| c.approved.as_ref()) {
            if serves(f) {
                jwks.entry(f.name.clone())
                    .or_default()
                    .push((f.key.clone(), f.state));
            }
        }
        let encryption = self
            .encryption
            .1
            .and_then(|id| self.jwks.get(&id)?.approved.as_ref())
            .filter(|f| serves(f) && f.state == KeyState::Active)
            .map(|f| f.key.clone());
        Expected { jwks, encryption }
    }

    /// Whether credential c1's saved slots refer to JWK `id` (its encryption slot: the
    /// rotated validation slot holds only the rotation's keys).
    fn in_slot(&self, id: usize) -> bool {
        self.encryption.0 == Some(id)
    }
}

fn world() -> (World, Model) {
    let edge = Arc::new(Edge::default());
    let f = Fixture::setup()
        .at_secs(T0)
        .config(RegistryConfig {
            allow_private_networks: true,
            ..RegistryConfig::default()
        })
        .project(P)
        .memory("prod")
        .target("edge", edge.clone())
        .credential(P, "c1")
        .build();
    let all = [
        SECRETS_VIEW,
        SECRETS_MANAGE,
        SECRETS_DEPLOY,
        IDENTITY_VIEW,
        IDENTITY_MANAGE,
        IDENTITY_DEPLOY,
    ];
    let deployer = f.user("deployer", P, &all);
    let member = f.user("member", P, &[SECRETS_MANAGE, IDENTITY_MANAGE]);
    let (_, upstream_keys) = keys();
    let upstream = Jwks::start(&[&upstream_keys[0].0], &["Cache-Control: max-age=1"]);
    f.admin(Command::CreateJwk {
        project: P.into(),
        jwk: NewJwk::new(
            "f",
            Source::Url {
                url: upstream.stub.url("/jwks"),
                options: UrlOptions::default(),
                kid: Some("f".into()),
                follow: Some(quick()),
            },
        ),
    })
    .unwrap();
    f.admin(Command::SetSlotRotation {
        project: P.into(),
        username: "c1".into(),
        slot: Slot::Validation,
        policy: Some(RotationPolicy {
            spec: KeySpec::Ec(EcCurve::P256),
            usage: Usage::Signature,
            algorithm: "ES256".into(),
            period_secs: 120,
            lead_secs: 30,
            overlap_secs: 40,
            max_token_lifetime_secs: 20,
            consumer_cache_secs: 10,
        }),
    })
    .unwrap();
    let refresh = Arc::new(Refresh::new(f.reg.clone()));
    f.rt.block_on(refresh.run_once_and_wait()).unwrap();
    let w = World {
        rotation: Rotation::new(f.reg.clone()),
        validity: Validity::new(f.reg.clone()),
        f,
        edge,
        upstream,
        refresh,
        deployer,
        member,
    };
    let first = Fields {
        name: "f".into(),
        key: upstream_keys[0].1.clone(),
        state: KeyState::Active,
        exp: None,
        detached: false,
    };
    let model = Model {
        jwks: BTreeMap::from([(
            0,
            Copies {
                saved: Some(first.clone()),
                approved: Some(first),
            },
        )]),
        next_id: 1,
        upstream: upstream_keys[0].1.clone(),
        now: T0,
        ..Model::default()
    };
    (w, model)
}

impl World {
    fn actor(&self, who: Who) -> &Actor {
        match who {
            Who::Deployer => &self.deployer,
            Who::Member => &self.member,
        }
    }

    fn apply(&self, who: Who, command: Command) -> Result<(), String> {
        self.f
            .run(self.actor(who), command)
            .map(|_| ())
            .map_err(|e| e.message())
    }

    /// Runs the validity controller's pass, as it runs after every change of time.
    fn settle(&self) {
        self.f.rt.block_on(self.validity.run_once()).unwrap();
    }

    /// What the resolver of `prod` serves of the project (the rotation's keys left out).
    fn served_by_resolver(&self, names: &BTreeSet<String>) -> Served {
        let r = self.f.reg.resolver("prod");
        let jwks = names
            .iter()
            .filter_map(|n| {
                let key = r.by_name(P, n)?;
                Some((
                    n.clone(),
                    (jwk_registry::deploy::thumbprint(&key), r.state(P, n)?),
                ))
            })
            .collect();
        let encryption = r
            .credential(P, "c1", Slot::Encryption)
            .map(|k| jwk_registry::deploy::thumbprint(&k));
        Served { jwks, encryption }
    }
}

/// Applies one step to the world and the model; the registry's refusals must be the model's.
fn apply(w: &World, m: &mut Model, step: &Step) {
    let (pasted, upstream) = keys();
    match step.clone() {
        Step::Create(who, n, k) => {
            let taken = m.saved(name(n)).is_some();
            let result = w.apply(
                who,
                Command::CreateJwk {
                    project: P.into(),
                    jwk: NewJwk::new(
                        name(n),
                        Source::Paste {
                            jwk: pasted[k].0.clone(),
                            kid: None,
                        },
                    ),
                },
            );
            assert_eq!(result.is_ok(), !taken, "{step:?}: {result:?}");
            if !taken {
                let fields = Fields {
                    name: name(n).into(),
                    key: pasted[k].1.clone(),
                    state: KeyState::Active,
                    exp: None,
                    detached: false,
                };
                let approved = (who == Who::Deployer).then(|| fields.clone());
                m.jwks.insert(
                    m.next_id,
                    Copies {
                        saved: Some(fields),
                        approved,
                    },
                );
                m.next_id += 1;
            }
        }
        Step::State(who, n, state) => {
            let id = m.saved(name(n));
            let result = w.apply(
                who,
                Command::SetJwkState {
                    project: P.into(),
                    name: name(n).into(),
                    state,
                },
            );
            assert_eq!(result.is_ok(), id.is_some(), "{step:?}: {result:?}");
            if let Some(id) = id {
                // A state already set writes nothing (and approves nothing).
                let same = m.jwks[&id].saved.as_ref().is_some_and(|s| s.state == state);
                if !same {
                    m.edit(who, id, |f| f.state = state);
                }
            }
        }
        Step::Expire(who, n, exp) => {
            let id = m.saved(name(n));
            let exp = exp.map(|e| m.now + e);
            let result = w.apply(
                who,
                Command::SetJwkValidity {
                    project: P.into(),
                    name: name(n).into(),
                    validity: KeyValidity {
                        not_before: None,
                        expires: exp,
                    },
                },
            );
            assert_eq!(result.is_ok(), id.is_some(), "{step:?}: {result:?}");
            if let Some(id) = id {
                let same = m.jwks[&id].saved.as_ref().is_some_and(|s| s.exp == exp);
                if !same {
                    m.edit(who, id, |f| f.exp = exp);
                }
            }
        }
        Step::Rename(who, n, to) => {
            let id = m.saved(name(n));
            let taken = to != n && m.saved(name(to)).is_some();
            let result = w.apply(
                who,
                Command::UpdateJwk {
                    project: P.into(),
                    name: name(n).into(),
                    update: JwkUpdate {
                        name: Some(name(to).into()),
                        description: None,
                    },
                },
            );
            assert_eq!(
                result.is_ok(),
                id.is_some() && !taken,
                "{step:?}: {result:?}"
            );
            if let (Some(id), false) = (id, taken) {
                m.edit(who, id, |f| {
                    f.name = name(to).into();
                    f.detached = true;
                });
            }
        }
        Step::Delete(who, n) => {
            let id = m.saved(name(n));
            let used = id.is_some_and(|id| m.in_slot(id));
            let result = w.apply(
                who,
                Command::DeleteJwk {
                    project: P.into(),
                    name: name(n).into(),
                },
            );
            assert_eq!(
                result.is_ok(),
                id.is_some() && !used,
                "{step:?}: {result:?}"
            );
            if let (Some(id), false) = (id, used) {
                let copies = m.jwks.get_mut(&id).unwrap();
                copies.saved = None;
                if who == Who::Deployer {
                    copies.approved = None;
                }
            }
        }
        Step::Resync(who) => {
            let id = m.saved("f");
            let url = id.is_some_and(|id| !m.jwks[&id].saved.as_ref().unwrap().detached);
            let result = w.apply(
                who,
                Command::ResyncJwk {
                    project: P.into(),
                    name: "f".into(),
                },
            );
            assert_eq!(result.is_ok(), url, "{step:?}: {result:?}");
            // A new key is a change of the JWK; the same key changes nothing (and so approves
            // nothing).
            if let (Some(id), true) = (id, url)
                && m.jwks[&id].saved.as_ref().unwrap().key != m.upstream
            {
                let key = m.upstream.clone();
                m.edit(who, id, |f| f.key = key.clone());
            }
        }
        Step::DeployJwk(n) => {
            let saved = m.saved(name(n));
            // Approved copies under this name that are no longer saved under it: deleted or
            // renamed since.
            let gone: Vec<usize> = m
                .jwks
                .iter()
                .filter(|(id, c)| {
                    Some(**id) != saved && c.approved.as_ref().is_some_and(|a| a.name == name(n))
                })
                .map(|(id, _)| *id)
                .collect();
            let result = w.apply(
                Who::Deployer,
                Command::DeployJwk {
                    project: P.into(),
                    name: name(n).into(),
                },
            );
            assert_eq!(
                result.is_ok(),
                saved.is_some() || !gone.is_empty(),
                "{step:?}: {result:?}"
            );
            for id in saved.into_iter().chain(gone) {
                let copies = m.jwks.get_mut(&id).unwrap();
                copies.approved = copies.saved.clone();
            }
        }
        Step::SetEncryption(who, n) => {
            let target = n.map(|n| m.saved(name(n)));
            let result = w.apply(
                who,
                Command::SetCredentialJwk {
                    project: P.into(),
                    username: "c1".into(),
                    slot: Slot::Encryption,
                    jwk: n.map(|n| name(n).to_owned()),
                },
            );
            let found = target.is_none_or(|t| t.is_some());
            assert_eq!(result.is_ok(), found, "{step:?}: {result:?}");
            if found {
                m.encryption.0 = target.flatten();
                if who == Who::Deployer {
                    m.encryption.1 = m.encryption.0;
                }
            }
        }
        Step::DeployCredential => {
            w.apply(
                Who::Deployer,
                Command::DeployCredential {
                    project: P.into(),
                    username: "c1".into(),
                },
            )
            .unwrap();
            m.encryption.1 = m.encryption.0;
        }
        Step::Upstream(k) => {
            w.upstream
                .serve(&[&upstream[k].0], &["Cache-Control: max-age=1"]);
            m.upstream = upstream[k].1.clone();
            w.f.clock.advance_secs(1);
            m.now += 1;
            w.f.rt.block_on(w.refresh.run_once_and_wait()).unwrap();
            // Followed while its saved record is attached: the key, on both copies.
            if let Some(copies) = m.jwks.get_mut(&0)
                && copies.saved.as_ref().is_some_and(|s| !s.detached)
            {
                let key = m.upstream.clone();
                for f in [&mut copies.saved, &mut copies.approved]
                    .into_iter()
                    .flatten()
                {
                    f.key = key.clone();
                }
            }
        }
        Step::Advance(secs) => {
            w.f.clock.advance_secs(secs);
            m.now += secs;
        }
        Step::Rotate => {
            w.f.rt.block_on(w.rotation.run_once()).unwrap();
        }
    }
    w.settle();
}

/// Every environment serves what the model says, each JWK shows as pending exactly as the
/// model says, and the rotated slot serves the keys the rotation saved.
fn check(w: &World, m: &Model, after: &Step) {
    let names: BTreeSet<String> = NAMES
        .iter()
        .map(|n| (*n).to_owned())
        .chain(["f".to_owned()])
        .collect();
    let expected = m.served();
    let prod = w.served_by_resolver(&names);
    assert!(
        expected.matches(&prod),
        "prod, after {after:?}: {prod:?}, expected {expected:?}"
    );
    let mut edge = w.edge.last.lock().unwrap().clone().unwrap_or_default();
    edge.jwks.retain(|n, _| names.contains(n));
    assert!(
        expected.matches(&edge),
        "edge, after {after:?}: {edge:?}, expected {expected:?}"
    );
    for copies in m.jwks.values() {
        let Some(saved) = &copies.saved else { continue };
        let view = w.f.reg.get_jwk(&w.f.admin, P, &saved.name, false).unwrap();
        assert_eq!(
            view.deployed,
            copies.approved.as_ref() == Some(saved),
            "{} pending? after {after:?}: {copies:?}",
            saved.name
        );
        assert_eq!(view.thumbprint.as_deref(), Some(saved.key.as_str()));
    }
    // The rotation's keys: never pending, and the slot serves the key it saved.
    let cred = w.f.reg.get_credential(&w.f.admin, P, "c1").unwrap();
    let resolver = w.f.reg.resolver("prod");
    for jwk in w.f.reg.list_jwks(&w.f.admin, P, false).unwrap() {
        if jwk.name.starts_with("c1-validation-") {
            assert!(jwk.deployed, "{} after {after:?}", jwk.name);
        }
    }
    if let Some(slot) = cred.validation {
        let saved = w.f.reg.get_jwk(&w.f.admin, P, &slot.name, false).unwrap();
        let served = resolver
            .credential(P, "c1", Slot::Validation)
            .map(|k| jwk_registry::deploy::thumbprint(&k));
        let expect = (saved.validity == jwk_registry::ValidityStatus::Valid
            && saved.state != KeyState::Disabled)
            .then_some(saved.thumbprint.unwrap());
        assert_eq!(served, expect, "c1's validation slot after {after:?}");
    }
}

fn cases() -> u32 {
    std::env::var("JWK_MODEL_CASES")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(48)
}

proptest! {
    // No failure file: the keys are made anew by every run, so a seed does not replay.
    #![proptest_config(ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn environments_serve_what_deployers_approved_and_the_controllers_changed(
        steps in prop::collection::vec(step(), 1..40)
    ) {
        let (w, mut m) = world();
        check(&w, &m, &Step::Advance(0));
        for step in &steps {
            apply(&w, &mut m, step);
            check(&w, &m, step);
        }
    }
}
