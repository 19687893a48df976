//! The validity controller: a key is withdrawn everywhere when its `exp` comes, with no change
//! in the store; on a manual clock, a pass after the bound redeploys every environment.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use jwk_controllers::{Settings, Validity};
use jwk_registry::deploy::{BoxFuture, DeployError, EnvironmentSnapshot, Receipt};
use jwk_registry::store::MemoryStore;
use jwk_registry::{
    Command, DeployTarget, ManualClock, MasterKey, NewJwk, Registry, RegistryConfig, Source,
    TargetConfig, ValidityStatus,
};

const P: &str = "p";
const EC: &str = r#"{"kty":"EC","crv":"P-256","kid":"ec1","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}"#;
const EC_THUMBPRINT: &str = "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s";
/// 2030-01-01T00:00:00Z.
const T0: i64 = 1_893_456_000;

/// Counts its deployments and keeps the thumbprints of the last one.
#[derive(Default)]
struct Recording {
    deployments: AtomicUsize,
    last: Mutex<Vec<String>>,
}

impl DeployTarget for Recording {
    fn deploy<'a>(
        &'a self,
        snapshot: &'a EnvironmentSnapshot,
    ) -> BoxFuture<'a, Result<Receipt, DeployError>> {
        Box::pin(async move {
            self.deployments.fetch_add(1, Ordering::SeqCst);
            let thumbprints = snapshot.thumbprints();
            *self.last.lock().unwrap() = thumbprints.clone();
            Ok(Receipt { thumbprints })
        })
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

/// A registry on `config` with a memory environment `prod` and a host target `edge`.
fn registry(
    rt: &tokio::runtime::Runtime,
    config: RegistryConfig,
) -> (Arc<Registry>, jwk_registry::Actor, Arc<Recording>) {
    let reg = Arc::new(Registry::new(
        Arc::new(MemoryStore::new()),
        MasterKey::generate().unwrap(),
        config,
    ));
    let admin = reg.authenticate(&reg.bootstrap().unwrap()).unwrap();
    let edge = Arc::new(Recording::default());
    reg.register_target("edge", edge.clone());
    let run = |c: Command| rt.block_on(reg.apply(&admin, c)).unwrap();
    run(Command::CreateProject { name: P.into() });
    for (name, target) in [
        ("prod", TargetConfig::Memory),
        ("edge", TargetConfig::Custom),
    ] {
        run(Command::CreateEnvironment {
            name: name.into(),
            target,
        });
    }
    (reg, admin, edge)
}

/// On a manual clock: a pass before the bound changes nothing and says when it comes; a pass
/// after it withdraws the key from the node-local resolver and from the host's target.
#[test]
fn a_pass_after_a_keys_exp_redeploys_every_environment() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let clock = Arc::new(ManualClock::at_secs(T0));
    let (reg, admin, edge) = registry(
        &rt,
        RegistryConfig {
            clock: clock.clone(),
            ..RegistryConfig::default()
        },
    );
    rt.block_on(reg.apply(
        &admin,
        Command::CreateJwk {
            project: P.into(),
            jwk: paste().validity(None, Some(T0 + 60)),
        },
    ))
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
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (reg, admin, edge) = registry(&rt, RegistryConfig::default());
    let run = |c: Command| rt.block_on(reg.apply(&admin, c)).unwrap();
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
        reg.get_jwk(&admin, P, "k", false).unwrap().validity,
        ValidityStatus::Expired
    );
}
