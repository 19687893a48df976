//! The one registry fixture of the tests: a registry over a memory store, on a manual clock,
//! bootstrapped, with a runtime to apply commands on, and the projects, environments, host
//! targets, credentials and users a test asks for.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use jwk_registry::deploy::{BoxFuture, DeployError, EnvironmentSnapshot, Receipt};
use jwk_registry::perm::Permission;
use jwk_registry::store::{MemoryStore, Store};
use jwk_registry::{
    Actor, Clock, Command, DeployTarget, ManualClock, MasterKey, Outcome, Registry, RegistryConfig,
    RegistryError, RotationPolicy, SystemClock, TargetConfig,
};

/// 2030-01-01T00:00:00Z: a start for tests that set the clock.
pub const T0: i64 = 1_893_456_000;

/// The master key of every fixture (nodes of one fixture share it).
const KEY: [u8; 32] = [7; 32];

/// A registry for a test.
pub struct Fixture {
    /// Where commands are applied (two workers: remote sets and controllers need them).
    pub rt: tokio::runtime::Runtime,
    /// The store.
    pub store: Arc<MemoryStore>,
    /// The registry's clock (unless set up with [`Setup::system_clock`]): it moves only when
    /// the test moves it.
    pub clock: Arc<ManualClock>,
    /// The registry.
    pub reg: Arc<Registry>,
    /// The admin user.
    pub admin: Actor,
}

enum Step {
    Project(String),
    Environment(String, TargetConfig),
    Target(String, Arc<dyn DeployTarget>),
    Credential(String, String),
}

/// What a fixture holds when it is built.
pub struct Setup {
    config: RegistryConfig,
    start_ms: i64,
    system_clock: bool,
    steps: Vec<Step>,
}

impl Fixture {
    /// A fixture to set up: nothing but the admin user and the admin project, the clock at
    /// the system's time now.
    pub fn setup() -> Setup {
        Setup {
            config: RegistryConfig::default(),
            start_ms: SystemClock.now_ms(),
            system_clock: false,
            steps: Vec::new(),
        }
    }

    /// Applies `command` for `actor`.
    pub fn run(&self, actor: &Actor, command: Command) -> Result<Outcome, RegistryError> {
        self.rt.block_on(self.reg.apply(actor, command))
    }

    /// Applies `command` for the admin user.
    pub fn admin(&self, command: Command) -> Result<Outcome, RegistryError> {
        self.run(&self.admin, command)
    }

    /// A new user holding `permissions` in `project`.
    pub fn user(&self, username: &str, project: &str, permissions: &[Permission]) -> Actor {
        let token = self
            .admin(Command::CreateUser {
                username: username.into(),
            })
            .unwrap()
            .token
            .unwrap();
        self.admin(Command::SetMember {
            project: project.into(),
            username: username.into(),
            permissions: permissions.to_vec(),
        })
        .unwrap();
        self.reg.authenticate(&token).unwrap()
    }

    /// Another node: a registry over the same store, master key and clock.
    pub fn node(&self) -> Arc<Registry> {
        Arc::new(Registry::new(
            self.store.clone() as Arc<dyn Store>,
            MasterKey::from_bytes(KEY),
            self.reg.config().clone(),
        ))
    }
}

impl Setup {
    /// With these settings (the fixture's clock replaces theirs).
    pub fn config(mut self, config: RegistryConfig) -> Setup {
        self.config = config;
        self
    }

    /// The clock starts at `secs` (Unix seconds).
    pub fn at_secs(mut self, secs: i64) -> Setup {
        self.start_ms = secs.saturating_mul(1000);
        self
    }

    /// On the system's clock (tests that make certificates as they go, valid from now).
    pub fn system_clock(mut self) -> Setup {
        self.system_clock = true;
        self
    }

    /// With a project.
    pub fn project(mut self, name: &str) -> Setup {
        self.steps.push(Step::Project(name.to_owned()));
        self
    }

    /// With an environment served by the in-process resolver.
    pub fn memory(self, name: &str) -> Setup {
        self.environment(name, TargetConfig::Memory)
    }

    /// With an environment.
    pub fn environment(mut self, name: &str, target: TargetConfig) -> Setup {
        self.steps.push(Step::Environment(name.to_owned(), target));
        self
    }

    /// With a host's own target, and a custom environment of that name deployed to it.
    pub fn target(mut self, name: &str, target: Arc<dyn DeployTarget>) -> Setup {
        self.steps.push(Step::Target(name.to_owned(), target));
        self.environment(name, TargetConfig::Custom)
    }

    /// With a credential.
    pub fn credential(mut self, project: &str, username: &str) -> Setup {
        self.steps
            .push(Step::Credential(project.to_owned(), username.to_owned()));
        self
    }

    /// The fixture: bootstrapped, then set up in the order asked.
    pub fn build(self) -> Fixture {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let store = Arc::new(MemoryStore::new());
        let clock = Arc::new(ManualClock::at_ms(self.start_ms));
        let registry_clock: Arc<dyn Clock> = if self.system_clock {
            Arc::new(SystemClock)
        } else {
            clock.clone()
        };
        let reg = Arc::new(Registry::new(
            store.clone() as Arc<dyn Store>,
            MasterKey::from_bytes(KEY),
            RegistryConfig {
                clock: registry_clock,
                ..self.config
            },
        ));
        let admin = reg.authenticate(&reg.bootstrap().unwrap()).unwrap();
        let f = Fixture {
            rt,
            store,
            clock,
            reg,
            admin,
        };
        for step in self.steps {
            let command = match step {
                Step::Project(name) => Command::CreateProject { name },
                Step::Environment(name, target) => Command::CreateEnvironment { name, target },
                Step::Target(name, target) => {
                    f.reg.register_target(&name, target);
                    continue;
                }
                Step::Credential(project, username) => {
                    Command::CreateCredential { project, username }
                }
            };
            f.admin(command).unwrap();
        }
        f
    }
}

/// A host's target that counts its deployments and keeps the thumbprints it was last given.
#[derive(Debug, Default)]
pub struct Recording {
    /// Deployments received.
    pub deployments: AtomicUsize,
    /// The thumbprints of the last one.
    pub last: Mutex<Vec<String>>,
}

impl DeployTarget for Recording {
    fn deploy<'a>(
        &'a self,
        snapshot: &'a EnvironmentSnapshot,
    ) -> BoxFuture<'a, Result<Receipt, DeployError>> {
        Box::pin(async move {
            self.deployments.fetch_add(1, Ordering::SeqCst);
            *self.last.lock().unwrap_or_else(|p| p.into_inner()) = snapshot.thumbprints();
            Ok(Receipt::of(snapshot))
        })
    }
}

/// The rotation policy of the tests: P-256 ES256 keys, a period of 1000 s, published 200 s
/// ahead, an overlap of 400 s covering tokens of 300 s and caches of 100 s.
pub fn rotation_policy() -> RotationPolicy {
    RotationPolicy {
        spec: jwk_core::KeySpec::Ec(jwk_core::EcCurve::P256),
        usage: jwk_core::Usage::Signature,
        algorithm: "ES256".into(),
        period_secs: 1000,
        lead_secs: 200,
        overlap_secs: 400,
        max_token_lifetime_secs: 300,
        consumer_cache_secs: 100,
    }
}
