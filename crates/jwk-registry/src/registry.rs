//! The registry: the store, the master key, the settings and the deployment state. Changes go
//! through [`Registry::apply`] (`pipeline.rs`), reads through `read/`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::clock::Clock;
use crate::config::RegistryConfig;
use crate::crypto::MasterKey;
use crate::deploy::{DeployConfig, DeployTarget, Deployer, PublishedJwks, Resolver};
use crate::error::{RegistryError, Result};
use crate::fetching::{FetchGate, FetchTally};
use crate::records::{ApprovalLayout, keys, retry};
use crate::store::{Commit, Store, Txn};

/// The registry of projects, JWKs, secrets, credentials, users and environments.
pub struct Registry {
    pub(crate) store: Arc<dyn Store>,
    pub(crate) key: Arc<MasterKey>,
    pub(crate) config: RegistryConfig,
    /// Whether the store holds the approved copies (made once, on first use).
    pub(crate) layout: Arc<ApprovalLayout>,
    /// Targets, resolvers and what this process's node-local targets serve.
    pub(crate) deployer: Arc<Deployer>,
    /// URL fetches in progress (at most `config.max_concurrent_fetches`).
    pub(crate) fetches: FetchGate,
    /// Fetches of remote sets by result, for metrics.
    pub(crate) tally: FetchTally,
    /// This process's name in leases.
    pub(crate) node: String,
    /// The content revision of the last change committed here, announced to whoever waits
    /// for changes (the controllers).
    pub(crate) changed: tokio::sync::watch::Sender<u64>,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

thread_local! {
    /// Set by [`run_abandonable`] for the registry calls of one request on this thread.
    static ABANDONED: std::cell::RefCell<Option<Arc<AtomicBool>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f`, whose registry calls happen on this thread, so that once `abandoned` is set
/// (the caller gave up: a server's request timeout) no change is committed any more: the
/// commit fails with "abandoned" and is logged. A commit already being written completes.
pub fn run_abandonable<T>(abandoned: Arc<AtomicBool>, f: impl FnOnce() -> T) -> T {
    struct Restore(Option<Arc<AtomicBool>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            ABANDONED.with(|a| *a.borrow_mut() = previous);
        }
    }
    let _restore = Restore(ABANDONED.with(|a| a.borrow_mut().replace(abandoned)));
    f()
}

/// `N` bytes from the operating system's random source (its failure is an error).
pub(crate) fn random<const N: usize>() -> Result<[u8; N]> {
    let mut raw = [0u8; N];
    getrandom::fill(&mut raw).map_err(|e| RegistryError::internal(format!("random: {e}")))?;
    Ok(raw)
}

/// Lower-case hex.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Registry {
    /// A registry over `store`, sealing private material with `key`.
    pub fn new(store: Arc<dyn Store>, key: MasterKey, config: RegistryConfig) -> Registry {
        let key = Arc::new(key);
        let layout = Arc::new(ApprovalLayout::default());
        let deployer = Arc::new(Deployer::new(
            store.clone(),
            key.clone(),
            config.clock.clone(),
            DeployConfig {
                file_target_dir: config.file_target_dir.clone(),
                allow_private_networks: config.allow_private_networks,
            },
            layout.clone(),
        ));
        let node =
            random::<8>().map_or_else(|_| format!("node-{}", std::process::id()), |r| hex(&r));
        Registry {
            fetches: FetchGate::new(config.max_concurrent_fetches),
            store,
            key,
            config,
            layout,
            deployer,
            tally: FetchTally::default(),
            node,
            changed: tokio::sync::watch::channel(0).0,
        }
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// The registry's clock ([`RegistryConfig::clock`]): give it to a verifier
    /// (`jwk_verify::Verifier::clock`) so that token times and key validity are judged alike.
    pub fn clock(&self) -> Arc<dyn Clock> {
        self.config.clock.clone()
    }

    /// Now, in Unix seconds, by the registry's clock.
    pub fn now_secs(&self) -> i64 {
        self.config.clock.now_secs()
    }

    /// The registry's settings.
    pub fn config(&self) -> &RegistryConfig {
        &self.config
    }

    /// This process's name in leases.
    pub fn node_id(&self) -> &str {
        &self.node
    }

    /// The revision of the last change of content (deployment bookkeeping does not count).
    pub fn content_revision(&self) -> Result<u64> {
        self.deployer.content_revision()
    }

    /// A watch of the content revision of changes committed in this process: it changes
    /// with each one (changes of other nodes sharing the store arrive through
    /// [`Store::watch`]).
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.changed.subscribe()
    }

    /// Runs blocking registry work (store I/O, URL fetches, key generation) on tokio's
    /// blocking threads: the one boundary between the store and async code. When the future
    /// is dropped before the work is done (a server's request timeout), the work is told so
    /// ([`run_abandonable`]) and commits nothing from then on.
    pub async fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T> + Send + 'static,
    ) -> Result<T> {
        /// Sets the flag when dropped before the work's answer arrived.
        struct AbandonOnDrop(Option<Arc<AtomicBool>>);
        impl Drop for AbandonOnDrop {
            fn drop(&mut self) {
                if let Some(flag) = self.0.take() {
                    flag.store(true, Ordering::Release);
                }
            }
        }
        let flag = Arc::new(AtomicBool::new(false));
        let mut guard = AbandonOnDrop(Some(flag.clone()));
        let answer = tokio::task::spawn_blocking(move || run_abandonable(flag, work)).await;
        guard.0 = None;
        answer.map_err(|e| {
            // A panic's text stays in the log: it may quote stored or fetched data.
            tracing::error!(error = %e, "a registry worker failed");
            RegistryError::internal("the request failed inside the server (see its log)")
        })?
    }

    /// Commits a change unless the request it belongs to was abandoned ([`run_abandonable`]).
    pub(crate) fn commit_txn(&self, txn: Txn) -> Result<Commit> {
        let abandoned = ABANDONED.with(|a| {
            a.borrow()
                .as_ref()
                .is_some_and(|f| f.load(Ordering::Acquire))
        });
        if abandoned {
            tracing::warn!("a request that was abandoned (timed out) did not commit its change");
            return Err(RegistryError::busy(
                "The request took too long and was abandoned: nothing was saved!".to_owned(),
            ));
        }
        Ok(self.store.commit(txn)?)
    }

    /// Checks that this process's master key is the registry's: the first call on a new
    /// registry records a value sealed with it; later calls (other nodes, restarts) must
    /// open that value. Nodes sharing a registry must share its `master.key`.
    pub fn verify_master_key(&self) -> Result<()> {
        const PLAIN: &[u8] = b"jwk-engine master key check v1";
        let refused = || {
            RegistryError::internal(
                "this node's master key does not open this registry's secrets: every node \
                      of a shared registry must use the same master.key"
                    .to_owned(),
            )
        };
        let sealed = self.recorded(keys::MASTER_KEY_CHECK, || {
            Ok(self.key.seal(PLAIN)?.into_bytes())
        })?;
        let sealed = std::str::from_utf8(&sealed).map_err(|_| refused())?;
        let plain = self.key.open(sealed).map_err(|_| refused())?;
        if plain.as_slice() == PLAIN {
            Ok(())
        } else {
            Err(refused())
        }
    }

    /// The registry's identity: 16 random bytes in hex, recorded in the store by the first
    /// caller. A data dir records it (with the store's kind) so that it is never opened on
    /// another registry by mistake.
    pub fn id(&self) -> Result<String> {
        let id = self.recorded(keys::REGISTRY_ID, || Ok(hex(&random::<16>()?).into_bytes()))?;
        String::from_utf8(id).map_err(|_| {
            RegistryError::internal(format!("the store's {} is not text", keys::REGISTRY_ID))
        })
    }

    /// The value at `key`; when absent, `make()`'s value recorded there first. Of racing
    /// first callers (nodes starting at once) one records its value and the others read it.
    fn recorded(&self, key: &str, make: impl Fn() -> Result<Vec<u8>>) -> Result<Vec<u8>> {
        // A failed "absent" compare means another caller recorded the value: the next read
        // finds it.
        let mut value = Vec::new();
        let attempt = || {
            if let Some(v) = self.store.get(key.as_bytes())? {
                value = v.value;
                return Ok(None);
            }
            value = make()?;
            Ok(Some(Txn::new().absent(key).put(key, value.clone())))
        };
        retry(key, attempt, |txn| self.commit_txn(txn))?;
        Ok(value)
    }

    /// Plugs in the host's own target for an environment (used by `TargetConfig::Custom`
    /// environments, and in place of a built-in target for any environment).
    pub fn register_target(&self, environment: &str, target: Arc<dyn DeployTarget>) {
        self.deployer.register_target(environment, target);
    }

    /// The in-process resolver of a `memory` environment (created on first use).
    pub fn resolver(&self, environment: &str) -> Arc<Resolver> {
        self.deployer.resolver(environment)
    }

    /// What a `memory` environment's in-process resolver publishes (its public JWKS, made
    /// once per deployed snapshot, and its strong ETag); `None` for an environment this
    /// process serves no resolver of (unknown, not memory, deleted) or has not deployed yet.
    /// Never creates a resolver, so unknown names cost nothing.
    pub fn published_jwks(&self, environment: &str) -> Option<PublishedJwks> {
        self.deployer.published_jwks(environment)
    }

    /// Everything the environments serve, read at the store's current revision: the
    /// approved version of every JWK and credential, and the remote sets' keys.
    pub fn snapshot(&self) -> Result<crate::deploy::EnvironmentSnapshot> {
        self.deployer.snapshot()
    }

    /// Deploys the current snapshot to this process's node-local targets (memory
    /// environments' resolvers, host targets that say [`DeployTarget::node_local`]) when
    /// they are behind the content revision or a validity bound passed: what a node does on
    /// start and when another node announces a change. Records nothing in the store.
    pub async fn refresh_local(&self) -> Result<()> {
        self.deployer.refresh_local().await
    }

    /// The next validity bound (a JWK's `nbf` or `exp`, Unix seconds; `i64::MAX`: none) of
    /// what this process's node-local targets serve, as a watch that changes when it moves:
    /// every environment is redeployed then.
    pub fn next_validity_bound(&self) -> tokio::sync::watch::Receiver<i64> {
        self.deployer.next_bound()
    }
}
