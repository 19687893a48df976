//! JWK validity: `nbf` / `exp` of a JWK and of its certificate decide when the resolver, the
//! public JWKS and every environment serve it, judged by an injectable clock.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use jwk_core::Usage;

use jwk_registry::{
    Command, NewCertificate, NewJwk, Outcome, RegistryError, Source, Validity, ValidityStatus,
};
use jwk_testkit::registry::{Fixture, Recording};

const P: &str = "p";
const EC: &str = r#"{"kty":"EC","crv":"P-256","kid":"ec1","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}"#;
const EC_THUMBPRINT: &str = "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s";
/// 2030-01-01T00:00:00Z.
const T0: i64 = 1_893_456_000;

/// The shared fixture, and the host target `edge` it deploys to.
struct F {
    fixture: Fixture,
    edge: Arc<Recording>,
}

impl std::ops::Deref for F {
    type Target = Fixture;

    fn deref(&self) -> &Fixture {
        &self.fixture
    }
}

impl F {
    fn run(&self, command: Command) -> Result<Outcome, RegistryError> {
        self.rt.block_on(self.reg.apply(&self.admin, command))
    }

    fn create(&self, jwk: NewJwk) -> Result<Outcome, RegistryError> {
        self.run(Command::CreateJwk {
            project: P.into(),
            jwk,
        })
    }

    fn view(&self, name: &str) -> (Validity, ValidityStatus) {
        let v = self.reg.get_jwk(&self.admin, P, name, false).unwrap();
        (v.validity_window, v.validity)
    }

    /// Moves the clock to `at` and does what the validity controller does when a bound comes.
    fn at(&self, at: i64) {
        self.clock.set_ms(at * 1000);
        self.rt.block_on(self.reg.refresh_local()).unwrap();
        let result = self.rt.block_on(self.reg.reconcile()).unwrap();
        assert!(result.success, "{result:?}");
    }

    /// (served by kid in prod, in prod's public JWKS, what edge was last given)
    fn served(&self) -> (bool, bool, Vec<String>) {
        let r = self.reg.resolver("prod");
        (
            r.by_kid("ec1").is_some(),
            r.public_jwks().0.contains("ec1"),
            self.edge.last.lock().unwrap().clone(),
        )
    }
}

fn paste() -> NewJwk {
    NewJwk::new(
        "k",
        Source::Paste {
            jwk: EC.into(),
            kid: None,
        },
    )
}

/// The clock at `secs`; the memory environment `prod` and the host target `edge`.
fn fixture_at(secs: i64) -> F {
    let edge = Arc::new(Recording::default());
    let fixture = Fixture::setup()
        .at_secs(secs)
        .project(P)
        .memory("prod")
        .target("edge", edge.clone())
        .build();
    F { fixture, edge }
}

fn fixture() -> F {
    fixture_at(T0)
}

#[test]
fn a_jwk_is_served_from_its_nbf_until_its_exp_everywhere() {
    let f = fixture();
    let (nbf, exp) = (T0 + 100, T0 + 200);
    let outcome = f.create(paste().validity(Some(nbf), Some(exp))).unwrap();
    assert!(outcome.deployment.unwrap().success);
    let window = Validity {
        not_before: Some(nbf),
        expires: Some(exp),
    };
    assert_eq!(f.view("k"), (window, ValidityStatus::NotYetValid));
    assert_eq!(f.served(), (false, false, vec![]));
    let snapshot = f.reg.snapshot().unwrap();
    assert_eq!(
        (snapshot.validity_epoch, snapshot.next_validity_change),
        (0, Some(nbf))
    );
    assert_eq!(f.reg.resolver("prod").published().next_change, Some(nbf));
    let deployments = f.edge.deployments.load(Ordering::SeqCst);

    // A second before nbf nothing changes, and nothing is deployed again.
    f.at(nbf - 1);
    assert_eq!(f.served(), (false, false, vec![]));
    assert_eq!(f.edge.deployments.load(Ordering::SeqCst), deployments);

    f.at(nbf);
    assert_eq!(f.view("k"), (window, ValidityStatus::Valid));
    assert_eq!(f.served(), (true, true, vec![EC_THUMBPRINT.to_owned()]));
    assert_eq!(f.edge.deployments.load(Ordering::SeqCst), deployments + 1);
    assert_eq!(f.reg.deployment_state("edge").unwrap().unwrap().keys, 1);
    assert_eq!(f.reg.resolver("prod").published().next_change, Some(exp));
    // The same bound is deployed once.
    f.at(nbf + 1);
    assert_eq!(f.edge.deployments.load(Ordering::SeqCst), deployments + 1);

    f.at(exp);
    assert_eq!(f.view("k"), (window, ValidityStatus::Expired));
    assert_eq!(f.served(), (false, false, vec![]));
    assert_eq!(f.edge.deployments.load(Ordering::SeqCst), deployments + 2);
    assert_eq!(f.reg.deployment_state("edge").unwrap().unwrap().keys, 0);
    assert_eq!(f.reg.resolver("prod").published().next_change, None);
    let snapshot = f.reg.snapshot().unwrap();
    assert_eq!(
        (snapshot.validity_epoch, snapshot.next_validity_change),
        (exp, None)
    );
}

#[test]
fn validity_is_set_and_cleared_as_a_change_and_checked() {
    let f = fixture();
    f.create(paste()).unwrap();
    assert_eq!(f.view("k"), (Validity::default(), ValidityStatus::Valid));
    let set = |nbf: Option<i64>, exp: Option<i64>| {
        f.run(Command::SetJwkValidity {
            project: P.into(),
            name: "k".into(),
            validity: Validity {
                not_before: nbf,
                expires: exp,
            },
        })
    };
    let outcome = set(None, Some(T0)).unwrap();
    assert!(outcome.deployment.unwrap().success);
    assert_eq!(
        f.view("k"),
        (
            Validity {
                not_before: None,
                expires: Some(T0)
            },
            ValidityStatus::Expired
        )
    );
    assert_eq!(f.served(), (false, false, vec![]));
    set(None, None).unwrap();
    assert_eq!(f.served(), (true, true, vec![EC_THUMBPRINT.to_owned()]));
    let audit: Vec<String> = f
        .reg
        .store()
        .scan(b"audit/")
        .unwrap()
        .into_iter()
        .map(|(_, v)| {
            let entry: serde_json::Value = serde_json::from_slice(&v.value).unwrap();
            entry["action"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        audit[audit.len() - 3..],
        ["jwk.create", "jwk.validity", "jwk.validity"]
    );

    let message = |r: Result<Outcome, RegistryError>| r.unwrap_err().to_string();
    assert_eq!(
        message(set(Some(T0), Some(T0))),
        format!("JWK nbf ({T0}) must be before its exp ({T0})!")
    );
    assert_eq!(
        message(set(Some(-1), None)),
        "JWK nbf (-1) is out of range: give Unix seconds from 0 to 253402300799 (9999-12-31T23:59:59Z)!"
    );
    assert_eq!(
        message(f.create(NewJwk {
            name: "k2".into(),
            ..paste().validity(None, Some(253_402_300_800))
        })),
        "JWK exp (253402300800) is out of range: give Unix seconds from 0 to 253402300799 (9999-12-31T23:59:59Z)!"
    );
    assert_eq!(
        message(f.run(Command::SetJwkValidity {
            project: P.into(),
            name: "nope".into(),
            validity: Validity::default(),
        })),
        "JWK (name: nope) is not found! Try create operation."
    );
}

#[test]
fn a_jwk_from_a_certificate_takes_the_certificates_validity() {
    // p256-cert.pem: notBefore 2026-11-23T12:37:32Z, notAfter 2126-10-30T12:37:32Z.
    let (not_before, not_after) = (1_795_437_452, 4_949_037_452);
    let f = fixture_at(not_before - 10);
    let pem = std::fs::read_to_string(
        jwk_testkit::workspace_root().join("testdata/samples/p256-cert.pem"),
    )
    .unwrap();
    f.run(Command::AddCertificate {
        project: P.into(),
        certificate: NewCertificate {
            name: "c".into(),
            environment: "prod".into(),
            pem,
        },
    })
    .unwrap();
    let from_cert = |name: &str| {
        NewJwk::new(
            name,
            Source::Certificate {
                name: "c".into(),
                environment: "prod".into(),
            },
        )
        .usage(Usage::Signature, "ES256")
    };
    f.create(from_cert("c")).unwrap();
    let cert_window = Validity {
        not_before: Some(not_before),
        expires: Some(not_after + 1),
    };
    assert_eq!(f.view("c"), (cert_window, ValidityStatus::NotYetValid));
    // Its own exp narrows the certificate's validity; an nbf before the certificate's is
    // narrowed by it.
    f.create(from_cert("c2").validity(Some(not_before - 100), Some(not_before + 60)))
        .unwrap();
    assert_eq!(
        f.view("c2"),
        (
            Validity {
                not_before: Some(not_before),
                expires: Some(not_before + 60)
            },
            ValidityStatus::NotYetValid
        )
    );
    let served = |f: &F| f.reg.resolver("prod").by_name(P, "c").is_some();
    assert!(!served(&f));
    f.at(not_before);
    assert!(served(&f));
    assert_eq!(f.view("c").1, ValidityStatus::Valid);
    // Through the last second of notAfter, not after it.
    f.at(not_after);
    assert!(served(&f));
    f.at(not_after + 1);
    assert!(!served(&f));
    assert_eq!(f.view("c").1, ValidityStatus::Expired);
}
