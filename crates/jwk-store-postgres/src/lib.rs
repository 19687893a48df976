//! The registry [`Store`] over PostgreSQL, so several gateway nodes share one registry.
//!
//! # Transactions: one row lock, not SERIALIZABLE
//! Every commit first runs `UPDATE jwk_meta SET revision = revision + 1 RETURNING revision`.
//! That row lock serialises writers across every node: a second writer waits for the first
//! to commit or roll back, and under READ COMMITTED its next statements then see everything
//! committed before it. So the compares of a [`Txn`] read the latest state, the writes apply
//! atomically, and revisions are handed out gap-free **in commit order** — which the watch
//! below relies on ("revision R is visible" implies every revision before R is). SERIALIZABLE
//! would let writers overlap but needs retry loops, and revisions from a sequence would not
//! follow commit order. A registry changes at human (or CI) speed; one writer at a time,
//! a few loopback round trips each, is not its bottleneck. Reads take no lock.
//!
//! # Change propagation
//! A commit sends `NOTIFY jwk_changes, '<revision>'` inside its transaction, so PostgreSQL
//! delivers it at commit, in commit order. A dedicated connection LISTENs and publishes the
//! newest revision on a [`tokio::sync::watch`] channel ([`Store::watch`]); after every
//! (re)connect it reads the current revision first, so a node that was down, or lost its
//! connection, catches up at once.
//!
//! # Change feed
//! Each commit also inserts the keys it writes into `jwk_changes (rev, k)` and deletes the
//! rows older than the feed keeps, raising `jwk_meta.feed_floor` in the same transaction; a
//! reader reads the revision, the floor and the rows in one REPEATABLE READ snapshot.
//!
//! # Schema
//! Created and migrated by [`PgStore::connect`] under a transaction-scoped advisory lock (two
//! nodes starting together migrate once). `jwk_schema.version` records the version; a database
//! migrated by a newer release is refused rather than misread.
//!
//! # Runtime
//! The [`Store`] trait is synchronous (the registry runs it from blocking threads). This store
//! owns a small tokio runtime for tokio-postgres and deadpool-postgres and waits on a plain
//! channel, so it may be called from any thread, inside another runtime or not.
//!
//! # TLS
//! A connection string with `sslmode=require` connects over TLS (rustls) and always verifies
//! the server: its chain against [`PgOptions::tls_roots`] (the CA of a private database, e.g.
//! from [`read_ca_file`]) or, without them, the Mozilla roots, and its host name (libpq's
//! `verify-full`). SCRAM then binds to the channel (`tls-server-end-point`) when the server
//! offers it. Without `sslmode=require` (libpq's default is `prefer`) no TLS is attempted:
//! loopback, a Unix socket or a private network; CA certificates given without
//! `sslmode=require` are refused rather than silently unused.

use std::future::Future;
use std::str::FromStr;
use std::sync::mpsc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use jwk_store::{
    Commit, Compare, FEED_REVISIONS, Feed, LockGuard, Op, Revision, Store, StoreError, Txn,
    Versioned, feed_floor, first_failed_compare, page_start,
};
use tokio::sync::watch;
use tokio_postgres::config::SslMode;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};
use tokio_postgres::{NoTls, Socket};

mod tls;
use tls::MakeRustls;
pub use tls::read_ca_file;

/// The schema version this release writes and reads.
pub const SCHEMA_VERSION: i32 = 2;

/// The NOTIFY channel commits announce their revision on.
pub const CHANNEL: &str = "jwk_changes";

/// An arbitrary constant: the advisory lock key migrations hold.
const MIGRATION_LOCK: i64 = 0x6a77_6b5f_7363_6801;

/// Each migration, in order: migration `i` takes the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    "
    CREATE TABLE jwk_meta (
        id smallint PRIMARY KEY CHECK (id = 1),
        revision bigint NOT NULL CHECK (revision >= 0)
    );
    INSERT INTO jwk_meta (id, revision) VALUES (1, 0);
    CREATE TABLE jwk_kv (
        k bytea PRIMARY KEY,
        v bytea NOT NULL,
        rev bigint NOT NULL
    );
",
    "
    CREATE TABLE jwk_changes (
        rev bigint NOT NULL,
        k bytea NOT NULL,
        PRIMARY KEY (rev, k)
    );
    ALTER TABLE jwk_meta ADD COLUMN feed_floor bigint NOT NULL DEFAULT 0;
    UPDATE jwk_meta SET feed_floor = revision;
",
];

/// Settings of a [`PgStore`].
#[derive(Debug, Clone)]
pub struct PgOptions {
    /// Most pooled connections (the LISTEN connection is extra).
    pub pool_size: usize,
    /// Longest wait for a connection (from the pool or a new one).
    pub connect_timeout: Duration,
    /// Longest time one store operation may take before it fails.
    pub operation_timeout: Duration,
    /// CA certificates (DER) the server's chain must lead to, instead of the Mozilla roots,
    /// when the connection string says `sslmode=require`.
    pub tls_roots: Vec<Vec<u8>>,
    /// Revisions of the change feed kept (every node sharing the database should agree; the
    /// floor in the database keeps readers correct when they do not).
    pub feed_revisions: u64,
}

impl Default for PgOptions {
    fn default() -> PgOptions {
        PgOptions {
            pool_size: 8,
            connect_timeout: Duration::from_secs(10),
            operation_timeout: Duration::from_secs(30),
            tls_roots: Vec::new(),
            feed_revisions: FEED_REVISIONS,
        }
    }
}

/// A PostgreSQL database used as a [`Store`].
pub struct PgStore {
    runtime: Option<tokio::runtime::Runtime>,
    pool: Pool,
    options: PgOptions,
    changes: watch::Receiver<Revision>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the URL: it may carry a password.
        f.debug_struct("PgStore").finish_non_exhaustive()
    }
}

/// A store error with the error's causes (tokio-postgres' "error performing TLS handshake"
/// alone would hide the certificate problem behind it); a cause already quoted is not repeated.
fn pg_error(what: &str, e: impl std::error::Error) -> StoreError {
    let mut message = format!("PostgreSQL {what}: {e}");
    let mut cause = e.source();
    while let Some(c) = cause {
        let text = c.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        cause = c.source();
    }
    StoreError(message)
}

fn to_rev(v: i64) -> Result<Revision, StoreError> {
    Revision::try_from(v).map_err(|_| StoreError(format!("a stored revision is negative: {v}")))
}

/// The first key after every key that starts with `prefix` (None: no upper bound).
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

/// Parses a URL or key=value connection string and applies our settings; with
/// `sslmode=require`, also returns the TLS connector.
fn pg_config(
    url: &str,
    options: &PgOptions,
) -> Result<(tokio_postgres::Config, Option<MakeRustls>), StoreError> {
    let mut config = tokio_postgres::Config::from_str(url).map_err(|e| {
        // The error text never echoes the string (it may hold a password).
        StoreError(format!(
            "the PostgreSQL connection string is not valid: {e}"
        ))
    })?;
    let tls = match config.get_ssl_mode() {
        SslMode::Require => Some(MakeRustls(tls::client_config(&options.tls_roots)?)),
        _ if !options.tls_roots.is_empty() => {
            return Err(StoreError(
                "PostgreSQL CA certificates were given but the connection string does not ask \
                 for TLS: add sslmode=require"
                    .to_owned(),
            ));
        }
        _ => {
            // `prefer` (the default): TLS here is verified TLS or none, so none.
            config.ssl_mode(SslMode::Disable);
            None
        }
    };
    config
        .connect_timeout(options.connect_timeout)
        .keepalives_idle(Duration::from_secs(30));
    if config.get_application_name().is_none() {
        config.application_name("jwk-engine");
    }
    Ok((config, tls))
}

async fn migrate(pool: &Pool) -> Result<(), StoreError> {
    let mut client = pool.get().await.map_err(|e| pg_error("connect", e))?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| pg_error("begin", e))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(|e| pg_error("migration lock", e))?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS jwk_schema (version integer NOT NULL)")
        .await
        .map_err(|e| pg_error("schema table", e))?;
    let version: i32 = tx
        .query_opt("SELECT version FROM jwk_schema", &[])
        .await
        .map_err(|e| pg_error("schema version", e))?
        .map_or(0, |row| row.get(0));
    if version > SCHEMA_VERSION {
        return Err(StoreError(format!(
            "the database's registry schema is version {version}, newer than this release \
             reads ({SCHEMA_VERSION}): upgrade this node"
        )));
    }
    if version < 0 {
        return Err(StoreError(format!(
            "the database's registry schema version is {version}: not written by jwk-engine"
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize) {
        tx.batch_execute(sql)
            .await
            .map_err(|e| pg_error(&format!("migration to version {}", i + 1), e))?;
    }
    if version < SCHEMA_VERSION {
        tx.execute("DELETE FROM jwk_schema", &[])
            .await
            .map_err(|e| pg_error("schema version", e))?;
        tx.execute(
            "INSERT INTO jwk_schema (version) VALUES ($1)",
            &[&SCHEMA_VERSION],
        )
        .await
        .map_err(|e| pg_error("schema version", e))?;
        tracing::info!(
            from = version,
            to = SCHEMA_VERSION,
            "registry schema migrated"
        );
    }
    tx.commit().await.map_err(|e| pg_error("commit", e))
}

/// Keeps a LISTEN connection open and publishes the newest committed revision; reconnects
/// with backoff and reads the current revision after each connect (catch-up).
async fn listen<T>(config: tokio_postgres::Config, tls: T, tx: watch::Sender<Revision>)
where
    T: MakeTlsConnect<Socket> + Clone + Send + 'static,
    T::Stream: Send + 'static,
    T::TlsConnect: Send,
    <T::TlsConnect as TlsConnect<Socket>>::Future: Send,
{
    let mut backoff = Duration::from_millis(100);
    loop {
        match config.connect(tls.clone()).await {
            Ok((client, mut connection)) => {
                let (ntx, mut nrx) = tokio::sync::mpsc::unbounded_channel::<String>();
                let driver = tokio::spawn(async move {
                    while let Some(message) =
                        std::future::poll_fn(|cx| connection.poll_message(cx)).await
                    {
                        match message {
                            Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                                if ntx.send(n.payload().to_owned()).is_err() {
                                    return;
                                }
                            }
                            Ok(_) => {}
                            Err(e) => {
                                tracing::warn!(error = %e, "PostgreSQL LISTEN connection lost");
                                return;
                            }
                        }
                    }
                });
                let ready = async {
                    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
                    let row = client
                        .query_one("SELECT revision FROM jwk_meta WHERE id = 1", &[])
                        .await?;
                    Ok::<i64, tokio_postgres::Error>(row.get(0))
                };
                match ready.await {
                    Ok(current) => {
                        backoff = Duration::from_millis(100);
                        publish(&tx, u64::try_from(current).unwrap_or(0));
                        while let Some(payload) = nrx.recv().await {
                            match payload.parse::<Revision>() {
                                Ok(rev) => publish(&tx, rev),
                                Err(_) => tracing::warn!(%payload, "ignored a foreign NOTIFY"),
                            }
                        }
                    }
                    // A store that was dropped closes its connection: nothing to report.
                    Err(_) if tx.is_closed() => {}
                    Err(e) => tracing::warn!(error = %e, "PostgreSQL LISTEN failed"),
                }
                driver.abort();
            }
            Err(_) if tx.is_closed() => {}
            Err(e) => tracing::warn!(error = %e, "PostgreSQL LISTEN connection failed"),
        }
        if tx.is_closed() {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(5));
    }
}

/// Raises the published revision (never lowers it).
fn publish(tx: &watch::Sender<Revision>, rev: Revision) {
    tx.send_if_modified(|current| {
        if rev > *current {
            *current = rev;
            true
        } else {
            false
        }
    });
}

impl PgStore {
    /// Connects with default options, creates or migrates the schema, and starts listening
    /// for changes.
    pub fn connect(url: &str) -> Result<PgStore, StoreError> {
        PgStore::connect_with(url, PgOptions::default())
    }

    /// [`PgStore::connect`] with explicit options.
    pub fn connect_with(url: &str, options: PgOptions) -> Result<PgStore, StoreError> {
        let (config, tls) = pg_config(url, &options)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("jwk-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError(format!("cannot start the PostgreSQL runtime: {e}")))?;
        let manager_config = ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        };
        let manager = match &tls {
            Some(tls) => Manager::from_config(config.clone(), tls.clone(), manager_config),
            None => Manager::from_config(config.clone(), NoTls, manager_config),
        };
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.connect_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|e| pg_error("pool", e))?;
        let (tx, changes) = watch::channel(0);
        let store = PgStore {
            runtime: Some(runtime),
            pool,
            options,
            changes,
        };
        let pool = store.pool.clone();
        store.run(async move { migrate(&pool).await })?;
        let rev = store.revision()?;
        publish(&tx, rev);
        match tls {
            Some(tls) => store.handle().spawn(listen(config, tls, tx)),
            None => store.handle().spawn(listen(config, NoTls, tx)),
        };
        Ok(store)
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        // The runtime is only taken in Drop.
        self.runtime
            .as_ref()
            .map(tokio::runtime::Runtime::handle)
            .expect("the runtime lives as long as the store")
    }

    /// Runs a future on the store's runtime and waits for it from any thread (a plain
    /// channel, so calling from inside another runtime does not panic), bounded by the
    /// operation timeout.
    fn run<T: Send + 'static>(
        &self,
        f: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        self.run_for(self.options.operation_timeout, f)
    }

    fn run_for<T: Send + 'static>(
        &self,
        limit: Duration,
        f: impl Future<Output = Result<T, StoreError>> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (tx, rx) = mpsc::sync_channel(1);
        self.handle().spawn(async move {
            let outcome = match tokio::time::timeout(limit, f).await {
                Ok(r) => r,
                Err(_) => Err(StoreError(format!(
                    "PostgreSQL did not answer within {} s",
                    limit.as_secs()
                ))),
            };
            let _ = tx.send(outcome);
        });
        rx.recv()
            .map_err(|_| StoreError("the PostgreSQL task stopped".to_owned()))?
    }

    /// Deletes every registry table (tests and `jwkd` never call it on their own).
    pub fn drop_schema(&self) -> Result<(), StoreError> {
        let pool = self.pool.clone();
        self.run(async move {
            let client = pool.get().await.map_err(|e| pg_error("connect", e))?;
            client
                .batch_execute(
                    "DROP TABLE IF EXISTS jwk_kv; DROP TABLE IF EXISTS jwk_meta; \
                     DROP TABLE IF EXISTS jwk_changes; DROP TABLE IF EXISTS jwk_schema;",
                )
                .await
                .map_err(|e| pg_error("drop", e))
        })
    }
}

impl Drop for PgStore {
    fn drop(&mut self) {
        // Allowed inside another runtime, unlike dropping a Runtime.
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

async fn commit_txn(pool: Pool, txn: Txn, keep: u64) -> Result<Commit, StoreError> {
    let mut client = pool.get().await.map_err(|e| pg_error("connect", e))?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| pg_error("begin", e))?;
    // The row lock that serialises writers (see the module docs).
    let next = tx
        .prepare_cached(
            "UPDATE jwk_meta SET revision = revision + 1 WHERE id = 1 RETURNING revision",
        )
        .await
        .map_err(|e| pg_error("prepare", e))?;
    let revision: i64 = tx
        .query_one(&next, &[])
        .await
        .map_err(|e| pg_error("revision", e))?
        .get(0);
    if !txn.compares.is_empty() {
        let keys: Vec<&[u8]> = txn
            .compares
            .iter()
            .map(|c| match c {
                Compare::Absent(k) | Compare::At(k, _) => k.as_slice(),
            })
            .collect();
        let stmt = tx
            .prepare_cached("SELECT k, rev FROM jwk_kv WHERE k = ANY($1)")
            .await
            .map_err(|e| pg_error("prepare", e))?;
        let mut current = std::collections::HashMap::new();
        for row in tx
            .query(&stmt, &[&keys])
            .await
            .map_err(|e| pg_error("compare", e))?
        {
            current.insert(row.get::<_, Vec<u8>>(0), to_rev(row.get(1))?);
        }
        if let Some(i) = first_failed_compare(&txn, |k| Ok(current.get(k).copied()))? {
            tx.rollback().await.map_err(|e| pg_error("rollback", e))?;
            return Ok(Commit::Conflict(i));
        }
    }
    // The last write of a key wins, as if the ops ran one after another.
    let mut last = std::collections::BTreeMap::new();
    for op in txn.ops {
        match op {
            Op::Put(k, v) => last.insert(k, Some(v)),
            Op::Delete(k) => last.insert(k, None),
        };
    }
    let (mut put_k, mut put_v, mut del) = (Vec::new(), Vec::new(), Vec::new());
    let written: Vec<Vec<u8>> = last.keys().cloned().collect();
    for (k, v) in last {
        match v {
            Some(v) => {
                put_k.push(k);
                put_v.push(v);
            }
            None => del.push(k),
        }
    }
    if !put_k.is_empty() {
        let stmt = tx
            .prepare_cached(
                "INSERT INTO jwk_kv (k, v, rev) \
                 SELECT k, v, $3 FROM unnest($1::bytea[], $2::bytea[]) AS t(k, v) \
                 ON CONFLICT (k) DO UPDATE SET v = EXCLUDED.v, rev = EXCLUDED.rev",
            )
            .await
            .map_err(|e| pg_error("prepare", e))?;
        tx.execute(&stmt, &[&put_k, &put_v, &revision])
            .await
            .map_err(|e| pg_error("write", e))?;
    }
    if !del.is_empty() {
        let stmt = tx
            .prepare_cached("DELETE FROM jwk_kv WHERE k = ANY($1)")
            .await
            .map_err(|e| pg_error("prepare", e))?;
        tx.execute(&stmt, &[&del])
            .await
            .map_err(|e| pg_error("delete", e))?;
    }
    if !written.is_empty() {
        let stmt = tx
            .prepare_cached(
                "INSERT INTO jwk_changes (rev, k) SELECT $1, k FROM unnest($2::bytea[]) AS t(k)",
            )
            .await
            .map_err(|e| pg_error("prepare", e))?;
        tx.execute(&stmt, &[&revision, &written])
            .await
            .map_err(|e| pg_error("change feed", e))?;
    }
    let floor = i64::try_from(feed_floor(to_rev(revision)?, keep)).unwrap_or(i64::MAX);
    if floor > 0 {
        let raise = tx
            .prepare_cached("UPDATE jwk_meta SET feed_floor = $1 WHERE id = 1 AND feed_floor < $1")
            .await
            .map_err(|e| pg_error("prepare", e))?;
        if tx
            .execute(&raise, &[&floor])
            .await
            .map_err(|e| pg_error("change feed", e))?
            > 0
        {
            let prune = tx
                .prepare_cached("DELETE FROM jwk_changes WHERE rev <= $1")
                .await
                .map_err(|e| pg_error("prepare", e))?;
            tx.execute(&prune, &[&floor])
                .await
                .map_err(|e| pg_error("change feed", e))?;
        }
    }
    let notify = tx
        .prepare_cached("SELECT pg_notify($1, $2)")
        .await
        .map_err(|e| pg_error("prepare", e))?;
    tx.execute(&notify, &[&CHANNEL, &revision.to_string()])
        .await
        .map_err(|e| pg_error("notify", e))?;
    tx.commit().await.map_err(|e| pg_error("commit", e))?;
    Ok(Commit::Applied(to_rev(revision)?))
}

/// The rows (`columns`) of at most `limit` keys starting with `prefix` that sort after
/// `after` (from the first when `None`), in key order.
async fn prefix_rows(
    pool: Pool,
    columns: &'static str,
    prefix: Vec<u8>,
    after: Option<Vec<u8>>,
    limit: usize,
) -> Result<Vec<tokio_postgres::Row>, StoreError> {
    let client = pool.get().await.map_err(|e| pg_error("connect", e))?;
    let end = prefix_end(&prefix);
    let (op, start) = match page_start(&prefix, after.as_deref()) {
        std::ops::Bound::Excluded(k) => (">", k.to_vec()),
        std::ops::Bound::Included(k) => (">=", k.to_vec()),
        std::ops::Bound::Unbounded => (">=", Vec::new()),
    };
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let sql = match end {
        Some(_) => {
            format!("SELECT {columns} FROM jwk_kv WHERE k {op} $1 AND k < $3 ORDER BY k LIMIT $2")
        }
        None => format!("SELECT {columns} FROM jwk_kv WHERE k {op} $1 ORDER BY k LIMIT $2"),
    };
    let stmt = client
        .prepare_cached(&sql)
        .await
        .map_err(|e| pg_error("prepare", e))?;
    match &end {
        Some(end) => client.query(&stmt, &[&start, &limit, end]).await,
        None => client.query(&stmt, &[&start, &limit]).await,
    }
    .map_err(|e| pg_error("scan", e))
}

/// The keys the commits after `after` wrote, read in one snapshot with the revision and the
/// feed's floor.
async fn feed_rows(pool: Pool, after: Revision, max: usize) -> Result<Feed, StoreError> {
    let mut client = pool.get().await.map_err(|e| pg_error("connect", e))?;
    let tx = client
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await
        .map_err(|e| pg_error("begin", e))?;
    let meta = tx
        .prepare_cached("SELECT revision, feed_floor FROM jwk_meta WHERE id = 1")
        .await
        .map_err(|e| pg_error("prepare", e))?;
    let row = tx
        .query_one(&meta, &[])
        .await
        .map_err(|e| pg_error("read", e))?;
    let (through, floor) = (to_rev(row.get(0))?, to_rev(row.get(1))?);
    if after > through || after < floor {
        return Ok(Feed::Gone);
    }
    let stmt = tx
        .prepare_cached(
            "SELECT rev, k FROM jwk_changes WHERE rev > $1 AND rev <= $2 ORDER BY rev, k LIMIT $3",
        )
        .await
        .map_err(|e| pg_error("prepare", e))?;
    let bound = |r: Revision| i64::try_from(r).unwrap_or(i64::MAX);
    let limit = i64::try_from(max.saturating_add(1)).unwrap_or(i64::MAX);
    let rows = tx
        .query(&stmt, &[&bound(after), &bound(through), &limit])
        .await
        .map_err(|e| pg_error("change feed", e))?;
    if rows.len() > max {
        return Ok(Feed::Gone);
    }
    let keys = rows
        .into_iter()
        .map(|row| Ok((to_rev(row.get(0))?, row.get(1))))
        .collect::<Result<_, StoreError>>()?;
    Ok(Feed::Changes { through, keys })
}

impl Store for PgStore {
    fn get(&self, key: &[u8]) -> Result<Option<Versioned>, StoreError> {
        let pool = self.pool.clone();
        let key = key.to_vec();
        self.run(async move {
            let client = pool.get().await.map_err(|e| pg_error("connect", e))?;
            let stmt = client
                .prepare_cached("SELECT v, rev FROM jwk_kv WHERE k = $1")
                .await
                .map_err(|e| pg_error("prepare", e))?;
            match client
                .query_opt(&stmt, &[&key])
                .await
                .map_err(|e| pg_error("read", e))?
            {
                Some(row) => Ok(Some(Versioned {
                    value: row.get(0),
                    revision: to_rev(row.get(1))?,
                })),
                None => Ok(None),
            }
        })
    }

    fn scan(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Versioned)>, StoreError> {
        self.scan_page(prefix, None, usize::MAX)
    }

    fn scan_page(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Versioned)>, StoreError> {
        let pool = self.pool.clone();
        let (prefix, after) = (prefix.to_vec(), after.map(<[u8]>::to_vec));
        self.run(async move {
            prefix_rows(pool, "k, v, rev", prefix, after, limit)
                .await?
                .into_iter()
                .map(|row| {
                    Ok((
                        row.get(0),
                        Versioned {
                            value: row.get(1),
                            revision: to_rev(row.get(2))?,
                        },
                    ))
                })
                .collect()
        })
    }

    fn scan_revisions(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Revision)>, StoreError> {
        let pool = self.pool.clone();
        let start = prefix.to_vec();
        self.run(async move {
            prefix_rows(pool, "k, rev", start, None, usize::MAX)
                .await?
                .into_iter()
                .map(|row| Ok((row.get(0), to_rev(row.get(1))?)))
                .collect()
        })
    }

    fn commit(&self, txn: Txn) -> Result<Commit, StoreError> {
        let pool = self.pool.clone();
        self.run(commit_txn(pool, txn, self.options.feed_revisions))
    }

    fn changes(&self, after: Revision, max: usize) -> Result<Feed, StoreError> {
        let pool = self.pool.clone();
        self.run(feed_rows(pool, after, max))
    }

    fn revision(&self) -> Result<Revision, StoreError> {
        let pool = self.pool.clone();
        self.run(async move {
            let client = pool.get().await.map_err(|e| pg_error("connect", e))?;
            let stmt = client
                .prepare_cached("SELECT revision FROM jwk_meta WHERE id = 1")
                .await
                .map_err(|e| pg_error("prepare", e))?;
            let row = client
                .query_one(&stmt, &[])
                .await
                .map_err(|e| pg_error("read", e))?;
            to_rev(row.get(0))
        })
    }

    fn watch(&self) -> Option<watch::Receiver<Revision>> {
        Some(self.changes.clone())
    }

    /// A session-level advisory lock on a pooled connection: `pg_try_advisory_lock` polled
    /// every 20 ms (never a server-side wait that a timeout could leave behind, holding the
    /// lock on a pooled connection). PostgreSQL releases it when the holder's connection ends,
    /// so a node killed while deploying does not block the others.
    fn lock(&self, name: &str, wait: Duration) -> Result<LockGuard, StoreError> {
        let pool = self.pool.clone();
        let key = lock_key(name);
        let name = name.to_owned();
        let client = self.run_for(wait + self.options.connect_timeout, async move {
            let deadline = tokio::time::Instant::now() + wait;
            let client = pool.get().await.map_err(|e| pg_error("connect", e))?;
            let stmt = client
                .prepare_cached("SELECT pg_try_advisory_lock($1)")
                .await
                .map_err(|e| pg_error("prepare", e))?;
            loop {
                let got: bool = client
                    .query_one(&stmt, &[&key])
                    .await
                    .map_err(|e| pg_error("lock", e))?
                    .get(0);
                if got {
                    return Ok(client);
                }
                if tokio::time::Instant::now() >= deadline {
                    return Err(StoreError(format!(
                        "the lock \"{name}\" is still held by another node after {} s",
                        wait.as_secs()
                    )));
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })?;
        Ok(Box::new(PgLock {
            client: Some(client),
            key,
            handle: self.handle().clone(),
        }))
    }
}

/// FNV-1a: a stable 64-bit advisory lock key for a name (a collision only makes two names
/// share one lock).
fn lock_key(name: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in b"jwk-engine:".iter().chain(name.as_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// A held advisory lock: unlocked on drop, on the connection that holds it.
struct PgLock {
    client: Option<deadpool_postgres::Object>,
    key: i64,
    handle: tokio::runtime::Handle,
}

impl Drop for PgLock {
    fn drop(&mut self) {
        let Some(client) = self.client.take() else {
            return;
        };
        let key = self.key;
        self.handle.spawn(async move {
            if let Err(e) = client
                .execute("SELECT pg_advisory_unlock($1)", &[&key])
                .await
            {
                // Closing the connection releases the lock: never return it to the pool.
                tracing::warn!(error = %e, "advisory unlock failed; closing the connection");
                drop(deadpool_postgres::Object::take(client));
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_end_is_the_first_key_past_the_prefix() {
        assert_eq!(prefix_end(b"p/"), Some(b"p0".to_vec()));
        assert_eq!(prefix_end(b"a\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }

    #[test]
    fn connection_strings_are_checked_without_echoing_them() {
        let e = pg_config("postgres://u:hunter2@[::1", &PgOptions::default()).unwrap_err();
        assert!(
            e.0.starts_with("the PostgreSQL connection string is not valid: "),
            "{e}"
        );
        assert!(!e.0.contains("hunter2"));
        let with_ca = PgOptions {
            tls_roots: vec![b"not read before the mode is checked".to_vec()],
            ..PgOptions::default()
        };
        let e = pg_config("postgres://u:hunter2@127.0.0.1/db", &with_ca).unwrap_err();
        assert_eq!(
            e.0,
            "PostgreSQL CA certificates were given but the connection string does not ask \
             for TLS: add sslmode=require"
        );
        let (config, tls) = pg_config("postgres://127.0.0.1/db", &PgOptions::default()).unwrap();
        assert_eq!(config.get_ssl_mode(), SslMode::Disable);
        assert!(tls.is_none());
        let (_, tls) = pg_config(
            "postgres://127.0.0.1/db?sslmode=require",
            &PgOptions::default(),
        )
        .unwrap();
        assert!(tls.is_some());
        let e = pg_config("postgres://127.0.0.1/db?sslmode=require", &with_ca).unwrap_err();
        assert!(
            e.0.starts_with("PostgreSQL CA certificate #0 cannot be a trust anchor: "),
            "{e}"
        );
    }
}
