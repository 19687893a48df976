//! The validity controller: a key is withdrawn everywhere when its `exp` comes, with no change
//! in the store; on a manual clock, a pass after the bound redeploys every environment.

use jwk_testkit::registry::{Fixture, Recording, Setup, T0};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use jwk_controllers::{Settings, Validity};
use jwk_registry::{Command, NewJwk, Source, ValidityStatus};

const P: &str = "p";
const EC: &str = r#"{"kty":"EC","crv":"P-256","kid":"ec1","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}"#;
const EC_THUMBPRINT: &str = "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s";

fn paste() -> NewJwk {
    NewJwk::new(
        "k",
        Source::Paste {
            jwk: EC.into(),
            kid: None,
        },
    )
}

/// The project `P`, the memory environment `prod` and the host target `edge`.
fn fixture(setup: Setup) -> (Fixture, Arc<Recording>) {
    let edge = Arc::new(Recording::default());
    let f = setup
        .project(P)
        .memory("prod")
        .target("edge", edge.clone())
        .build();
    (f, edge)
}

/// On a manual clock: a pass before the bound changes nothing and says when it comes; a pass
/// after it withdraws the key from the node-local resolver and from the host's target.
#[test]
fn a_pass_after_a_keys_exp_redeploys_every_environment() {
    let (f, edge) = fixture(Fixture::setup().at_secs(T0));
    let (rt, reg, clock) = (&f.rt, &f.reg, &f.clock);
    f.admin(Command::CreateJwk {
        project: P.into(),
        jwk: paste().validity(None, Some(T0 + 60)),
    })
    .unwrap();
    let validity = Validity::new(reg.clone());
    let wait = rt.block_on(validity.run_once()).unwrap();
    assert_eq!(wait, std::time::Duration::from_secs(60));
    let deployed = edge.deployments.load(Ordering::SeqCst);
    assert_eq!(*edge.last.lock().unwrap(), vec![EC_THUMBPRINT.to_owned()]);
    clock.advance_secs(60);
    let wait = rt.block_on(validity.run_once()).unwrap();
    assert_eq!(
        wait,
        std::time::Duration::from_secs(3600),
        "no bound left: an hour"
    );
    assert!(reg.resolver("prod").by_kid("ec1").is_none());
    assert!(edge.last.lock().unwrap().is_empty());
    assert_eq!(edge.deployments.load(Ordering::SeqCst), deployed + 1);
}

/// The controllers, started as a host starts them, on the system clock: the validity
/// controller redeploys at a JWK's exp with no change in the store.
#[test]
fn the_validity_controller_withdraws_a_key_when_its_exp_comes() {
    // The registry on the system's clock: the controllers wait for it in real time.
    let (f, edge) = fixture(Fixture::setup().system_clock());
    let (rt, reg, admin) = (&f.rt, &f.reg, &f.admin);
    let run = |c: Command| f.admin(c).unwrap();
    let _controllers = jwk_controllers::start(reg.clone(), rt.handle(), Settings::default());
    let exp = reg.now_secs() + 2;
    run(Command::CreateJwk {
        project: P.into(),
        jwk: paste().validity(None, Some(exp)),
    });
    let r = reg.resolver("prod");
    assert!(r.by_kid("ec1").is_some());
    assert_eq!(*edge.last.lock().unwrap(), vec![EC_THUMBPRINT.to_owned()]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while (r.by_kid("ec1").is_some() || !edge.last.lock().unwrap().is_empty())
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(reg.now_secs() >= exp);
    assert!(r.by_kid("ec1").is_none());
    assert!(edge.last.lock().unwrap().is_empty());
    assert_eq!(
        reg.get_jwk(admin, P, "k", false).unwrap().validity,
        ValidityStatus::Expired
    );
}
