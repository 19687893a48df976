//! The registry: every rule of the product, once, over a [`Store`].

mod access;
mod admin;
mod approval;
mod command;
mod credentials;
mod deployment;
mod jwks;
mod live;
mod observe;
mod remote;
mod resync;
mod rotation;
mod secrets;
mod sources;
mod usage;
mod users;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub(crate) use access::has;
pub use admin::{DeploymentState, EnvironmentView, ProjectAccess, TargetView};
pub use approval::Pending;
pub use command::{
    Command, JwkUpdate, KeyKind, NewCertificate, NewJwk, NewKey, NewKeystore, NewRecord, Outcome,
    Source, UrlOptions,
};
pub use credentials::{CredentialView, MAX_OVERLAP_SECS, SlotView};
pub use jwks::{JwkView, SourceView, SyncView, UrlOptionsView};
pub use live::{
    DEFAULT_MISS_WAIT, LiveKeys, LiveProjectKeys, LookupError, MAX_REFETCH_KID_LEN, MissStats,
};
pub use observe::{DeploymentCount, EnvironmentGauge, FetchCount, KeyExpiry, Observed, SetGauge};
pub use remote::{
    DEFAULT_REFRESH, JwkSetSpec, JwkSetStatus, JwkSetView, RefreshPolicy, SkippedKey,
};
pub use resync::ResyncReport;
pub use rotation::{
    MAX_ROTATION_SECS, MIN_ROTATION_PERIOD_SECS, ROTATION_ACTOR, Removal, RotationPolicy,
    RotationView, RotationWait,
};
pub use secrets::{
    CertificateView, KeystoreEntryView, RotatedJwk, SecretClass, SecretKind, SecretName, SecretView,
};
pub use usage::{
    CredentialUse, DEFAULT_HISTORY_PAGE, HistoryEntry, HistoryPage, JwkUsage, MAX_HISTORY_PAGE,
};

use crate::crypto::MasterKey;
use crate::deploy::{DeployTarget, Resolver};
use crate::error::{RegistryError, Result};
use crate::model::{AuditRec, EnvironmentRec, FORMAT, TargetConfig, encode, keys, load};
use crate::perm::Permission;
use crate::store::{Commit, Store, Txn};

/// The name of the admin project, whose JWKs every project's credentials may use.
pub const ADMIN_PROJECT: &str = "admin";
/// Most attempts of one change whose compares keep failing because other writers got there
/// first ([`Registry::commit_retrying`]).
pub const ATTEMPTS: usize = 16;

/// The error when every attempt of a change lost to other writers: try again shortly.
pub(crate) fn kept_changing(what: &str) -> RegistryError {
    RegistryError::busy(format!(
        "{what} kept changing while this request changed it: try again in a few seconds!"
    ))
}

/// The name of the admin user created by [`Registry::bootstrap`].
pub const ADMIN_USER: &str = "admin";
/// Longest name (in characters) accepted for projects, JWKs, users, environments and secrets.
pub const MAX_NAME: usize = 256;

/// Who is acting: an authenticated user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The username.
    pub username: String,
    /// The admin user may do everything everywhere.
    pub admin: bool,
}

/// Settings of a registry.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Let URL sources reach loopback and private addresses.
    pub allow_private_networks: bool,
    /// The largest `urlOptionConnectTimeout` and `urlOptionReadTimeout` a caller may ask for,
    /// in milliseconds (default [`DEFAULT_MAX_FETCH_TIMEOUT_MS`]).
    pub max_fetch_timeout_ms: u64,
    /// The largest `urlOptionSizeLimit` a caller may ask for, in bytes (default
    /// [`DEFAULT_MAX_FETCH_SIZE`]).
    pub max_fetch_size: u64,
    /// The directory `file` environments write under (`None`: file environments are refused).
    pub file_target_dir: Option<std::path::PathBuf>,
    /// Most URL fetches in progress at once (default [`DEFAULT_MAX_CONCURRENT_FETCHES`]); a
    /// fetch beyond them is refused at once (`temporarily_unavailable`, 503), so slow key
    /// servers never hold more threads than this.
    pub max_concurrent_fetches: usize,
    /// The clock that key validity is judged by (default [`crate::SystemClock`]; tests use
    /// a [`crate::ManualClock`]).
    pub clock: Arc<dyn crate::Clock>,
}

/// The default of [`RegistryConfig::max_concurrent_fetches`].
pub const DEFAULT_MAX_CONCURRENT_FETCHES: usize = 16;

/// The default of [`RegistryConfig::max_fetch_timeout_ms`]: 30 s.
pub const DEFAULT_MAX_FETCH_TIMEOUT_MS: u64 = 30_000;
/// The default of [`RegistryConfig::max_fetch_size`]: 10 MiB.
pub const DEFAULT_MAX_FETCH_SIZE: u64 = 10 * 1024 * 1024;

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            allow_private_networks: false,
            max_fetch_timeout_ms: DEFAULT_MAX_FETCH_TIMEOUT_MS,
            max_fetch_size: DEFAULT_MAX_FETCH_SIZE,
            file_target_dir: None,
            max_concurrent_fetches: DEFAULT_MAX_CONCURRENT_FETCHES,
            clock: Arc::new(crate::SystemClock),
        }
    }
}

/// The validity of a JWK's `x5c` leaf certificate (unbounded without one).
pub(crate) fn certificate_validity(jwk: &jwk_core::Jwk) -> crate::deploy::Validity {
    let leaf = jwk.params().x5c.as_ref().and_then(|chain| chain.first());
    match leaf.map(|der| jwk_core::CertificateInfo::from_der(der)) {
        Some(Ok(info)) => crate::deploy::Validity {
            not_before: Some(info.not_before_unix),
            // notAfter is the last second the certificate is valid.
            expires: Some(info.not_after_unix.saturating_add(1)),
        },
        // None: no certificate; an unreadable one was refused when the key was imported.
        _ => crate::deploy::Validity::default(),
    }
}

/// A JWK record as a deployment uses it: read at `revision`, with its stable id.
#[derive(Clone)]
pub(crate) struct OpenedJwk {
    pub(crate) revision: u64,
    pub(crate) id: String,
    pub(crate) deployed: crate::deploy::DeployedJwk,
}

/// A committed change of what environments serve, to be deployed with
/// [`Registry::deploy`] (by [`Registry::apply`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Change {
    /// Why the automatic deployment is skipped (a missing DEPLOY_UNDEPLOY permission).
    pub(crate) skipped: Option<String>,
    /// The content revision that holds the change: a deployment of this revision or a
    /// later one serves it.
    pub(crate) revision: u64,
    /// The revision of the change's own commit (`None`: it wrote nothing).
    pub(crate) committed: Option<u64>,
}

/// The registry of projects, JWKs, secrets, credentials, users and environments.
pub struct Registry {
    store: Arc<dyn Store>,
    key: MasterKey,
    config: RegistryConfig,
    targets: Mutex<HashMap<String, Arc<dyn DeployTarget>>>,
    resolvers: Mutex<HashMap<String, Arc<Resolver>>>,
    /// Deployed JWKs by store key, with the record revision they were read at and the JWK's
    /// id: a deployment reads, opens (decrypts, parses, validates) and hashes only the records
    /// whose revision changed since the last one.
    opened: Mutex<HashMap<String, OpenedJwk>>,
    /// One deployment at a time; the last one's revision and result, so changes that a
    /// deployment already covered (concurrent requests) share it instead of redeploying.
    deploying: tokio::sync::Mutex<Option<(u64, crate::deploy::DeploymentResult)>>,
    /// The next validity bound of what they serve (`i64::MAX`: none): they are refreshed
    /// again then, at the same revision.
    refreshed_next: std::sync::atomic::AtomicI64,
    /// Wakes [`Registry::follow`] when `refreshed_next` moved.
    validity_moved: tokio::sync::Notify,
    /// The (content revision, validity epoch) of the newest snapshot this process's
    /// node-local targets were noted serving: a refresh that read an older snapshot and
    /// finished later (the resolvers ignore it) must not move `refreshed_next` back to that
    /// snapshot's bound.
    refreshed_at: Mutex<(u64, i64)>,
    /// Wakes [`Registry::follow_rotations`] when a policy was set.
    pub(crate) rotation_set: tokio::sync::Notify,
    /// When a rotation publishes a next JWK next (`i64::MAX`: none known).
    pub(crate) next_publication: std::sync::atomic::AtomicI64,
    /// One refresh of the node-local targets at a time.
    refreshing: tokio::sync::Mutex<()>,
    /// URL fetches in progress (at most `config.max_concurrent_fetches`).
    fetching: std::sync::atomic::AtomicUsize,
    /// Whether the store holds the approved copies (`approval.rs`).
    approval_layout: std::sync::atomic::AtomicBool,
    /// The remote JWK Sets followed in this process (`live.rs`).
    live: live::Live,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Registry").finish_non_exhaustive()
    }
}

thread_local! {
    /// Set by [`run_abandonable`] for the registry calls of one request on this thread.
    static ABANDONED: std::cell::RefCell<Option<Arc<std::sync::atomic::AtomicBool>>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f`, whose registry calls happen on this thread, so that once `abandoned` is set
/// (the caller gave up: a server's request timeout) no change is committed any more: the
/// commit fails with "abandoned" and is logged. A commit already being written completes.
pub fn run_abandonable<T>(
    abandoned: Arc<std::sync::atomic::AtomicBool>,
    f: impl FnOnce() -> T,
) -> T {
    struct Restore(Option<Arc<std::sync::atomic::AtomicBool>>);
    impl Drop for Restore {
        fn drop(&mut self) {
            let previous = self.0.take();
            ABANDONED.with(|a| *a.borrow_mut() = previous);
        }
    }
    let _restore = Restore(ABANDONED.with(|a| a.borrow_mut().replace(abandoned)));
    f()
}

/// One URL fetch in progress ([`Registry::fetch_slot`]); released on drop.
pub(crate) struct FetchSlot<'a>(&'a std::sync::atomic::AtomicUsize);

impl Drop for FetchSlot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

pub(crate) fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// `N` bytes from the operating system's random source (its failure is an error).
pub(crate) fn random<const N: usize>() -> Result<[u8; N]> {
    let mut raw = [0u8; N];
    getrandom::fill(&mut raw).map_err(|e| RegistryError::internal(format!("random: {e}")))?;
    Ok(raw)
}

pub(crate) fn new_id() -> Result<String> {
    Ok(random::<12>()?.iter().map(|b| format!("{b:02x}")).collect())
}

/// A required text field: not blank (surrounding white space trimmed).
pub(crate) fn non_blank(value: &str) -> Option<&str> {
    Some(value.trim()).filter(|v| !v.is_empty())
}

/// A name as given: surrounding white space trimmed (but not control characters, which are
/// refused rather than trimmed away), `None` when nothing is left (the caller answers with the
/// product's "… can not be empty!"), else refused when the name as given is over [`MAX_NAME`]
/// characters or holds a control character. The same rule as the OpenAPI document's
/// `NameText`.
pub(crate) fn name_in<'a>(what: &str, raw: &'a str) -> Result<Option<&'a str>> {
    let name = raw.trim_matches(|c: char| c.is_whitespace() && !c.is_control());
    if name.is_empty() {
        return Ok(None);
    }
    // Names are path segments of the API, and clients resolve these two away.
    if name == "." || name == ".." {
        return Err(RegistryError::bad_request(format!(
            "{what} name can not be \".\" or \"..\"!"
        )));
    }
    if raw.chars().count() > MAX_NAME || raw.chars().any(char::is_control) {
        return Err(RegistryError::bad_request(format!(
            "{what} name must be at most {MAX_NAME} characters without control characters!"
        )));
    }
    Ok(Some(name))
}

impl Registry {
    /// A registry over `store`, sealing private material with `key`.
    pub fn new(store: Arc<dyn Store>, key: MasterKey, config: RegistryConfig) -> Registry {
        Registry {
            store,
            key,
            config,
            targets: Mutex::new(HashMap::new()),
            resolvers: Mutex::new(HashMap::new()),
            opened: Mutex::new(HashMap::new()),
            deploying: tokio::sync::Mutex::new(None),
            refreshed_next: std::sync::atomic::AtomicI64::new(i64::MAX),
            validity_moved: tokio::sync::Notify::new(),
            refreshed_at: Mutex::new((0, 0)),
            rotation_set: tokio::sync::Notify::new(),
            next_publication: std::sync::atomic::AtomicI64::new(i64::MAX),
            refreshing: tokio::sync::Mutex::new(()),
            fetching: std::sync::atomic::AtomicUsize::new(0),
            approval_layout: std::sync::atomic::AtomicBool::new(false),
            live: live::Live::new(),
        }
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
        struct AbandonOnDrop(Option<Arc<std::sync::atomic::AtomicBool>>);
        impl Drop for AbandonOnDrop {
            fn drop(&mut self) {
                if let Some(flag) = self.0.take() {
                    flag.store(true, std::sync::atomic::Ordering::Release);
                }
            }
        }
        let flag = Arc::new(std::sync::atomic::AtomicBool::new(false));
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
                .is_some_and(|f| f.load(std::sync::atomic::Ordering::Acquire))
        });
        if abandoned {
            tracing::warn!("a request that was abandoned (timed out) did not commit its change");
            return Err(RegistryError::busy(
                "The request took too long and was abandoned: nothing was saved!".to_owned(),
            ));
        }
        Ok(self.store.commit(txn)?)
    }

    /// The one compare-and-retry loop of the registry: commits the transaction `attempt`
    /// builds (from fresh reads each time) until its compares hold, at most [`ATTEMPTS`]
    /// times; then [`kept_changing`]. `attempt` returns `None` when, by what it read, there is
    /// nothing left to write (the answer is then `None`), and stops the loop with its error.
    pub(crate) fn commit_retrying(
        &self,
        what: &str,
        mut attempt: impl FnMut() -> Result<Option<Txn>>,
    ) -> Result<Option<u64>> {
        for _ in 0..ATTEMPTS {
            let Some(txn) = attempt()? else {
                return Ok(None);
            };
            if let Commit::Applied(revision) = self.commit_txn(txn)? {
                return Ok(Some(revision));
            }
        }
        Err(kept_changing(what))
    }

    /// [`Registry::commit_retrying`] for a change that always writes: the revision of its
    /// commit.
    pub(crate) fn commit_always(
        &self,
        what: &str,
        mut attempt: impl FnMut() -> Result<Txn>,
    ) -> Result<u64> {
        self.commit_retrying(what, || attempt().map(Some))?
            .ok_or_else(|| RegistryError::internal(format!("{what}: the change wrote nothing")))
    }

    /// A slot for one URL fetch, held until dropped; `temporarily_unavailable` when
    /// `max_concurrent_fetches` are in progress.
    pub(crate) fn fetch_slot(&self) -> Result<FetchSlot<'_>> {
        use std::sync::atomic::Ordering;
        let max = self.config.max_concurrent_fetches;
        self.fetching
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < max).then_some(n + 1)
            })
            .map_err(|_| {
                RegistryError::busy(format!(
                    "Too many URL fetches are in progress ({max}): try again in a few seconds!"
                ))
            })?;
        Ok(FetchSlot(&self.fetching))
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
        let id = self.recorded(keys::REGISTRY_ID, || {
            Ok(random::<16>()?
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
                .into_bytes())
        })?;
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
        self.commit_retrying(key, || {
            if let Some(v) = self.store.get(key.as_bytes())? {
                value = v.value;
                return Ok(None);
            }
            value = make()?;
            Ok(Some(Txn::new().absent(key).put(key, value.clone())))
        })?;
        Ok(value)
    }

    /// Keeps this process's node-local targets (memory environments' resolvers, host targets
    /// that say [`DeployTarget::node_local`]) serving the registry: loads them now (catch-up
    /// on start), then, on a store that other nodes write to, again on every change they
    /// announce ([`Store::watch`]), with no polling delay. When a JWK's `nbf` or `exp` comes
    /// (its own or its certificate's), every environment is deployed again: the node-local
    /// targets here, the others once ([`Registry::reconcile`], under the environments'
    /// locks). Runs until the task is dropped: spawn it once per process.
    pub async fn follow(self: Arc<Self>) {
        let mut changes = self.store.watch();
        loop {
            if let Err(e) = self.refresh_local().await {
                tracing::warn!(error = %e, "refreshing the in-process targets failed");
            }
            let wait = self.until_validity_change();
            let store_changed = async {
                match &mut changes {
                    Some(rx) => rx.changed().await.is_ok(),
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                announced = store_changed => {
                    if !announced {
                        changes = None; // the store stopped announcing: timers only
                    }
                }
                () = self.validity_moved.notified() => {}
                () = tokio::time::sleep(wait) => {
                    if self.until_validity_change().is_zero() {
                        if let Err(e) = self.refresh_local().await {
                            tracing::warn!(error = %e, "refreshing the in-process targets failed");
                        }
                        if let Err(e) = self.reconcile().await {
                            tracing::warn!(error = %e, "redeploying at a key's nbf or exp failed");
                        }
                    }
                }
            }
        }
    }

    /// How long until the next validity bound of what the node-local targets serve (at most
    /// an hour, so a clock that jumps is noticed; zero once it has come).
    fn until_validity_change(&self) -> std::time::Duration {
        let next = self
            .refreshed_next
            .load(std::sync::atomic::Ordering::Acquire);
        let ms = next
            .saturating_mul(1000)
            .saturating_sub(self.config.clock.now_ms())
            .clamp(0, 3_600_000);
        std::time::Duration::from_millis(u64::try_from(ms).unwrap_or(0))
    }

    /// Now, in Unix seconds, by the registry's clock ([`RegistryConfig::clock`]).
    pub fn now_secs(&self) -> i64 {
        self.config.clock.now_secs()
    }

    /// Deploys the current snapshot to this process's node-local targets when they are
    /// behind the content revision. Records nothing in the store.
    pub async fn refresh_local(self: &Arc<Self>) -> Result<()> {
        use std::sync::atomic::Ordering;
        let _one = self.refreshing.lock().await;
        let me = self.clone();
        type Work = Option<(
            crate::deploy::EnvironmentSnapshot,
            Vec<(String, Arc<dyn DeployTarget>)>,
        )>;
        let work = tokio::task::spawn_blocking(move || -> Result<Work> {
            let revision = me.content_revision()?;
            if revision <= me.refreshed_revision()
                && revision != 0
                && me.now_secs() < me.refreshed_next.load(Ordering::Acquire)
            {
                return Ok(None);
            }
            let envs = crate::model::load_all::<EnvironmentRec>(&*me.store, keys::ENVIRONMENTS)?;
            // Resolvers of environments deleted, or no longer memory, on another node go: they
            // would serve (and publish) keys of the past.
            me.resolvers
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .retain(|name, _| {
                    envs.iter()
                        .any(|(_, e, _)| e.name == *name && e.target == TargetConfig::Memory)
                });
            let locals: Vec<(String, Arc<dyn DeployTarget>)> = envs
                .into_iter()
                .filter_map(|(_, env, _)| {
                    me.target_for(&env)
                        .ok()
                        .filter(|t| t.node_local())
                        .map(|t| (env.name, t))
                })
                .collect();
            Ok(Some((me.snapshot()?, locals)))
        })
        .await
        .map_err(|e| RegistryError::internal(format!("refresh task: {e}")))??;
        let Some((mut snapshot, locals)) = work else {
            return Ok(());
        };
        let mut all_ok = true;
        for (name, target) in locals {
            snapshot.environment = name.clone();
            if let Err(e) = target.deploy(&snapshot).await {
                all_ok = false;
                tracing::warn!(environment = %name, error = %e, "in-process target refresh failed");
            }
        }
        if all_ok {
            self.note_refreshed(&snapshot);
        }
        Ok(())
    }

    /// The content revision this process's node-local targets serve.
    fn refreshed_revision(&self) -> u64 {
        self.refreshed_at
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .0
    }

    /// Notes that every node-local target serves `revision` (after a full deployment).
    pub(crate) fn note_refreshed(&self, snapshot: &crate::deploy::EnvironmentSnapshot) {
        use std::sync::atomic::Ordering;
        let mut newest = self.refreshed_at.lock().unwrap_or_else(|p| p.into_inner());
        let at = (snapshot.revision, snapshot.validity_epoch);
        if at < *newest {
            // Overtaken by a newer deployment (which the targets kept): its validity bound
            // is the one to wait for, not this older snapshot's.
            return;
        }
        *newest = at;
        let next = snapshot.next_validity_change.unwrap_or(i64::MAX);
        if self.refreshed_next.swap(next, Ordering::AcqRel) != next {
            self.validity_moved.notify_one();
        }
    }

    /// The revision of the last change of content (deployment bookkeeping does not count).
    pub fn content_revision(&self) -> Result<u64> {
        Ok(self
            .store
            .get(keys::CONTENT.as_bytes())?
            .map_or(0, |v| v.revision))
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    pub(crate) fn key(&self) -> &MasterKey {
        &self.key
    }

    pub(crate) fn fetch_options(&self) -> jwk_fetch::FetchOptions {
        jwk_fetch::FetchOptions {
            allow_private_networks: self.config.allow_private_networks,
            ..jwk_fetch::FetchOptions::default()
        }
    }

    /// Commits, mapping a conflict to `conflict()`.
    pub(crate) fn commit(&self, txn: Txn, conflict: impl FnOnce() -> RegistryError) -> Result<u64> {
        match self.commit_txn(txn)? {
            Commit::Applied(rev) => Ok(rev),
            Commit::Conflict(_) => Err(conflict()),
        }
    }

    /// An audit entry to add to a change's transaction.
    pub(crate) fn audit(
        &self,
        txn: Txn,
        actor: &Actor,
        action: &str,
        project: Option<&str>,
        target: &str,
    ) -> Result<Txn> {
        let (suffix, rec) = audit_entry(actor, action, project, target)?;
        Ok(txn.put(keys::audit(&suffix), rec).put(keys::CONTENT, ""))
    }

    /// An audit entry about JWKs of `project` (`target` names the JWK): in the global log
    /// and in the history of each JWK `ids` (kept to its last [`MAX_JWK_HISTORY`] entries).
    pub(crate) fn audit_jwk(
        &self,
        txn: Txn,
        actor: &Actor,
        action: &str,
        project: &str,
        target: &str,
        ids: &[&str],
    ) -> Result<Txn> {
        let (suffix, rec) = audit_entry(actor, action, Some(project), target)?;
        let mut txn = txn.put(keys::audit(&suffix), rec.clone());
        for id in ids {
            let prefix = keys::jwk_history(project, id);
            let held = self.store.scan_revisions(prefix.as_bytes())?;
            // The oldest go first, so that with the new one MAX_JWK_HISTORY stay. Two changes
            // racing may both delete the same old entry: a delete of what is gone is a no-op.
            let over = (held.len() + 1).saturating_sub(MAX_JWK_HISTORY);
            for (key, _) in held.into_iter().take(over) {
                txn = txn.delete(key);
            }
            txn = txn.put(format!("{prefix}{suffix}"), rec.clone());
        }
        Ok(txn.put(keys::CONTENT, ""))
    }

    /// The change to deploy after a mutation that needed `deploy` for its deployment and
    /// committed at `committed` (`None`: it wrote nothing, the current content stands).
    pub(crate) fn change_to_deploy(
        &self,
        perms: &[Permission],
        deploy: Permission,
        committed: Option<u64>,
    ) -> Change {
        Change {
            revision: committed.unwrap_or_else(|| self.content_revision().unwrap_or(u64::MAX)),
            committed,
            skipped: (!has(perms, deploy)).then(|| {
                format!(
                    "Deployment skipped: user does not have {deploy} permission; the change is saved and pending"
                )
            }),
        }
    }

    fn lock_targets(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<dyn DeployTarget>>> {
        self.targets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Plugs in the host's own target for an environment (used by `TargetConfig::Custom`
    /// environments, and in place of a built-in target for any environment).
    pub fn register_target(&self, environment: &str, target: Arc<dyn DeployTarget>) {
        self.lock_targets().insert(environment.to_owned(), target);
    }

    /// The JWK at `key` as a deployment uses it, from the cache when its record is still at
    /// `revision`; None when the record is gone.
    pub(crate) fn opened_jwk(&self, key: &str, revision: u64) -> Result<Option<OpenedJwk>> {
        let lock = || self.opened.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(o) = lock().get(key)
            && o.revision == revision
        {
            return Ok(Some(o.clone()));
        }
        let Some((rec, revision)) = load::<crate::model::JwkRec>(&*self.store, key)? else {
            return Ok(None);
        };
        let jwk = Arc::new(self.open_jwk(&rec)?);
        let opened = OpenedJwk {
            revision,
            id: rec.id,
            deployed: crate::deploy::DeployedJwk {
                name: rec.name,
                thumbprint: crate::deploy::thumbprint(&jwk),
                validity: rec.validity.intersect(certificate_validity(&jwk)),
                jwk,
                state: rec.state,
            },
        };
        lock().insert(key.to_owned(), opened.clone());
        Ok(Some(opened))
    }

    /// What a `memory` environment's in-process resolver publishes (its public JWKS, made
    /// once per deployed snapshot, and its strong ETag); `None` for an environment this
    /// process serves no resolver of (unknown, not memory, deleted) or has not deployed yet.
    /// Never creates a resolver, so unknown names cost nothing.
    pub fn published_jwks(&self, environment: &str) -> Option<crate::deploy::PublishedJwks> {
        let resolver = self
            .resolvers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(environment)?
            .clone();
        (resolver.revision() > 0).then(|| resolver.published())
    }

    /// The in-process resolver of a `memory` environment (created on first use).
    pub fn resolver(&self, environment: &str) -> Arc<Resolver> {
        self.resolvers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(environment.to_owned())
            .or_default()
            .clone()
    }

    pub(crate) fn target_for(&self, env: &EnvironmentRec) -> Result<Arc<dyn DeployTarget>, String> {
        if let Some(t) = self.lock_targets().get(&env.name) {
            return Ok(t.clone());
        }
        match &env.target {
            TargetConfig::Memory => Ok(self.resolver(&env.name)),
            TargetConfig::File { path } => {
                let root = self.config.file_target_dir.as_deref().ok_or_else(|| {
                    "no directory is given for file targets in this process".to_owned()
                })?;
                Ok(Arc::new(crate::deploy::FileTarget::new(root, path)?))
            }
            TargetConfig::Webhook { url } => Ok(Arc::new(crate::deploy::WebhookTarget {
                url: url.clone(),
                options: crate::deploy::WebhookTarget::options(self.config.allow_private_networks),
            })),
            TargetConfig::Custom => {
                Err("no custom target is registered in this process".to_owned())
            }
        }
    }
}

/// The most audit entries a JWK's history keeps (the global audit log keeps every one).
pub const MAX_JWK_HISTORY: usize = 200;

/// An audit entry: its time-ordered key suffix and the record.
fn audit_entry(
    actor: &Actor,
    action: &str,
    project: Option<&str>,
    target: &str,
) -> Result<(String, Vec<u8>)> {
    let nanos = time::OffsetDateTime::now_utc()
        .unix_timestamp_nanos()
        .max(0) as u128;
    let salt = random::<4>()?;
    let rec = AuditRec {
        v: FORMAT,
        at: now_rfc3339(),
        actor: actor.username.clone(),
        action: action.to_owned(),
        project: project.map(str::to_owned),
        target: target.to_owned(),
    };
    Ok((
        keys::audit_suffix(nanos, u32::from_be_bytes(salt)),
        encode(&rec),
    ))
}

#[cfg(test)]
mod name_tests {
    use super::name_in;

    #[test]
    fn names_are_trimmed_of_white_space_but_never_of_control_characters() {
        let refused = "JWK name must be at most 256 characters without control characters!";
        assert_eq!(name_in("JWK", "  my-jwk \u{a0}"), Ok(Some("my-jwk")));
        assert_eq!(name_in("JWK", " \u{3000} "), Ok(None));
        assert_eq!(name_in("JWK", ""), Ok(None));
        for dots in [".", " .. "] {
            assert_eq!(
                name_in("Project", dots).unwrap_err().message(),
                r#"Project name can not be "." or ".."!"#
            );
        }
        assert_eq!(name_in("JWK", "..."), Ok(Some("...")));
        for bad in ["f\r\r", "\t", "a\u{85}b", "a\u{7f}"] {
            assert_eq!(
                name_in("JWK", bad).unwrap_err().message(),
                refused,
                "{bad:?}"
            );
        }
        // 256 characters (of 4 bytes each) are a name; 257, or 256 with white space around
        // them, are not.
        let longest = "😀".repeat(256);
        assert_eq!(name_in("JWK", &longest), Ok(Some(longest.as_str())));
        for bad in [
            format!("{longest}a"),
            format!(" {longest}"),
            format!("{}a", " ".repeat(300)),
        ] {
            assert_eq!(name_in("JWK", &bad).unwrap_err().message(), refused);
        }
    }
}

#[cfg(test)]
mod retry_tests {
    use super::*;
    use crate::store::MemoryStore;

    /// Work abandoned while it runs (what a server's timeout does to a request) saves nothing
    /// it would commit afterwards.
    #[test]
    fn abandoned_work_commits_nothing() {
        use std::time::Duration;
        let registry = Arc::new(Registry::new(
            Arc::new(MemoryStore::new()),
            MasterKey::from_bytes([2; 32]),
            RegistryConfig::default(),
        ));
        let token = registry.bootstrap().unwrap();
        let admin = registry.authenticate(&token).unwrap();
        let rt = tokio::runtime::Runtime::new().unwrap();
        let (reg, who) = (registry.clone(), admin.clone());
        let late = registry.run_blocking(move || {
            std::thread::sleep(Duration::from_millis(300));
            reg.create_project(&who, "late")
        });
        let gave_up =
            rt.block_on(async { tokio::time::timeout(Duration::from_millis(50), late).await });
        assert!(gave_up.is_err(), "the work was abandoned");
        // Let the blocking work finish: its commit is refused.
        std::thread::sleep(Duration::from_millis(600));
        registry.create_project(&admin, "late").unwrap();
        // Work that is not abandoned commits as usual.
        let (reg, who) = (registry.clone(), admin.clone());
        rt.block_on(registry.run_blocking(move || reg.create_project(&who, "on-time")))
            .unwrap();
        assert_eq!(
            registry.create_project(&admin, "on-time").unwrap_err(),
            RegistryError::bad_request("Project (name: on-time) is already exist!")
        );
    }

    #[test]
    fn a_change_is_tried_a_bounded_number_of_times_then_answered_with_one_error() {
        let reg = Registry::new(
            Arc::new(MemoryStore::new()),
            MasterKey::from_bytes([1; 32]),
            RegistryConfig::default(),
        );
        reg.store().commit(Txn::new().put("taken", "x")).unwrap();
        let mut attempts = 0;
        let err = reg
            .commit_retrying("JWK (name: busy)", || {
                attempts += 1;
                // Another writer always got there first.
                Ok(Some(Txn::new().absent("taken").put("taken", "y")))
            })
            .unwrap_err();
        assert_eq!(attempts, ATTEMPTS);
        assert_eq!(
            (err.kind(), err.message().as_str()),
            (
                crate::error::ErrorKind::Unavailable,
                "JWK (name: busy) kept changing while this request changed it: try again in a few seconds!"
            )
        );
        // Nothing left to write: no commit, no revision.
        assert_eq!(reg.commit_retrying("x", || Ok(None)), Ok(None));
        // A commit that holds: its revision.
        let before = reg.content_revision().unwrap();
        let rev = reg
            .commit_retrying("x", || Ok(Some(Txn::new().put(keys::CONTENT, ""))))
            .unwrap()
            .unwrap();
        assert!(rev > before);
        assert_eq!(reg.content_revision().unwrap(), rev);
    }
}

#[cfg(test)]
mod refresh_tests {
    use super::*;
    use crate::deploy::EnvironmentSnapshot;
    use crate::store::MemoryStore;
    use std::sync::atomic::Ordering;

    /// A refresh that read its snapshot before a change and finished after the change was
    /// deployed (the resolvers keep the newer one) leaves the newer snapshot's next validity
    /// bound in place: `follow` still wakes at that key's `exp` (the flaky
    /// `follow_withdraws_a_key_when_its_exp_comes` of CI, made deterministic).
    #[test]
    fn an_older_snapshot_noted_late_keeps_the_newer_validity_bound() {
        let registry = Registry::new(
            Arc::new(MemoryStore::new()),
            MasterKey::from_bytes([4; 32]),
            RegistryConfig::default(),
        );
        let snapshot = |revision, validity_epoch, next| EnvironmentSnapshot {
            revision,
            validity_epoch,
            next_validity_change: next,
            ..EnvironmentSnapshot::default()
        };
        registry.note_refreshed(&snapshot(7, 0, Some(1_900_000_000)));
        registry.note_refreshed(&snapshot(6, 0, None));
        assert_eq!(
            registry.refreshed_next.load(Ordering::Acquire),
            1_900_000_000
        );
        assert_eq!(registry.refreshed_revision(), 7);
        // The same revision once the key expired (a newer validity epoch): no bound left.
        registry.note_refreshed(&snapshot(7, 1_900_000_000, None));
        assert_eq!(registry.refreshed_next.load(Ordering::Acquire), i64::MAX);
        // A later change with a new bound.
        registry.note_refreshed(&snapshot(8, 1_900_000_000, Some(1_950_000_000)));
        assert_eq!(
            registry.refreshed_next.load(Ordering::Acquire),
            1_950_000_000
        );
    }
}
