//! The registry [`Store`] over sled 0.34, the embedded default.
//!
//! sled has had no release since 2021 and has open reports of corruption after an abrupt
//! stop, so this adapter is careful: every acknowledged commit is flushed to disk before
//! `commit` returns, values are stored in our own versioned record format (never sled's
//! types), and the revision counter lives in the same transaction as the data.
//!
//! The change feed is kept as one entry per revision, `c/<revision>` → the keys the commit
//! wrote, written in each commit's own transaction; the feed's floor (`m/feed-floor`, the oldest revision a reader may ask
//! after) is raised before old entries are removed, so a reader never misses one. Commits
//! run one at a time (a mutex: every sled transaction here writes the revision counter, so
//! they could not run side by side anyway), and the revision they reached is published only
//! once sled finished the transaction: a reader of the feed, which reads outside sled's
//! transactions, reads only whole commits.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use jwk_store::{
    Commit, Compare, FEED_REVISIONS, Feed, Op, Revision, Store, StoreError, Txn, Versioned,
    decode_feed_entry, decode_record, encode_feed_entry, encode_record, feed_floor, page_start,
    written_keys,
};
use sled::transaction::{ConflictableTransactionError, TransactionError};

const DATA: &[u8] = b"d/";
/// The change feed: `c/<revision>` (8 bytes, big-endian) → the keys its commit wrote.
const FEED: &[u8] = b"c/";
/// The feed of the first release that kept one (`f/<revision><key>`): removed at open.
const OLD_FEED: &[u8] = b"f/";
const REVISION: &[u8] = b"m/revision";
const FEED_FLOOR: &[u8] = b"m/feed-floor";

/// sled's page cache (its default is 1 GiB, which a registry of 100,000 JWKs fills: the
/// process then holds several times the registry's size). The registry keeps what it serves
/// in its own memory; the store is read for changes and requests.
pub const CACHE_BYTES: u64 = 64 * 1024 * 1024;

/// Longest wait for sled's file lock when opening (see [`SledStore::open`]).
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// A sled database used as a [`Store`].
pub struct SledStore {
    db: sled::Db,
    /// Serialises commits.
    committing: Mutex<()>,
    /// The revision of the last commit sled has finished.
    committed: AtomicU64,
    /// Revisions of the change feed kept.
    keep: u64,
}

fn prefixed(prefix: &[u8], key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + key.len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(key);
    k
}

fn data_key(key: &[u8]) -> Vec<u8> {
    prefixed(DATA, key)
}

/// The feed key of `revision`.
fn feed_start(revision: Revision) -> Vec<u8> {
    prefixed(FEED, &revision.to_be_bytes())
}

fn revision_of(bytes: Option<sled::IVec>) -> Result<Revision, StoreError> {
    match bytes {
        None => Ok(0),
        Some(b) => <[u8; 8]>::try_from(b.as_ref())
            .map(u64::from_be_bytes)
            .map_err(|_| StoreError("the revision counter is corrupt".to_owned())),
    }
}

impl SledStore {
    /// Opens (or creates) the database in `dir`.
    ///
    /// sled releases its file lock in a background thread after the last handle drops, so
    /// reopening right after a close in the same process can find the lock still held: a
    /// held lock is waited for (up to [`LOCK_WAIT`]); then the error says the store is in use.
    pub fn open(dir: &Path) -> Result<SledStore, StoreError> {
        SledStore::open_with_feed(dir, FEED_REVISIONS)
    }

    /// Opens the database in `dir`, its change feed keeping `keep` revisions.
    pub fn open_with_feed(dir: &Path, keep: u64) -> Result<SledStore, StoreError> {
        let db = SledStore::open_db(dir)?;
        let revision = revision_of(db.get(REVISION).map_err(StoreError::from_display)?)?;
        let store = SledStore {
            db,
            committing: Mutex::new(()),
            committed: AtomicU64::new(revision),
            keep,
        };
        let old_feed = store.drop_old_feed()?;
        if old_feed
            || store
                .db
                .get(FEED_FLOOR)
                .map_err(StoreError::from_display)?
                .is_none()
        {
            // A store written before this feed: it has no history before now.
            store
                .db
                .insert(FEED_FLOOR, &revision.to_be_bytes())
                .map_err(StoreError::from_display)?;
        }
        // Entries a crash left between a commit and its pruning.
        store.prune(revision)?;
        store.db.flush().map_err(StoreError::from_display)?;
        Ok(store)
    }

    fn open_db(dir: &Path) -> Result<sled::Db, StoreError> {
        let config = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::HighThroughput)
            .cache_capacity(CACHE_BYTES);
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            match config.open() {
                Ok(db) => return Ok(db),
                // sled 0.34.7 reports a held lock as ErrorKind::Other with this text.
                Err(sled::Error::Io(e)) if e.to_string().starts_with("could not acquire lock") => {
                    if std::time::Instant::now() >= deadline {
                        return Err(StoreError(format!(
                            "the sled store in {} is in use (its lock is held, by another \
                             process or a handle not yet closed)",
                            dir.display()
                        )));
                    }
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => return Err(StoreError::from_display(e)),
            }
        }
    }
}

impl SledStore {
    /// Removes the feed of the first release that kept one; whether there was one.
    fn drop_old_feed(&self) -> Result<bool, StoreError> {
        let mut found = false;
        loop {
            let batch: Vec<sled::IVec> = self
                .db
                .scan_prefix(OLD_FEED)
                .keys()
                .take(10_000)
                .collect::<Result<_, _>>()
                .map_err(StoreError::from_display)?;
            if batch.is_empty() {
                return Ok(found);
            }
            found = true;
            for key in batch {
                self.db.remove(key).map_err(StoreError::from_display)?;
            }
        }
    }

    fn floor(&self) -> Result<Revision, StoreError> {
        revision_of(self.db.get(FEED_FLOOR).map_err(StoreError::from_display)?)
    }

    /// Drops the feed entries a feed keeping `self.keep` revisions no longer holds at
    /// `revision`: the floor first, so a reader that finds an entry gone sees the floor moved.
    fn prune(&self, revision: Revision) -> Result<(), StoreError> {
        let floor = feed_floor(revision, self.keep);
        let old_floor = self.floor()?;
        if floor > old_floor {
            self.db
                .insert(FEED_FLOOR, &floor.to_be_bytes())
                .map_err(StoreError::from_display)?;
            if floor - old_floor <= 1024 {
                // After a commit: the revision that left the window, by its key (no walk
                // from the feed's start over what earlier prunings removed).
                for gone in old_floor.saturating_add(1)..=floor {
                    self.db
                        .remove(feed_start(gone))
                        .map_err(StoreError::from_display)?;
                }
                return Ok(());
            }
        }
        let old: Vec<sled::IVec> = self
            .db
            .range(feed_start(0)..feed_start(floor.saturating_add(1)))
            .keys()
            .collect::<Result<_, _>>()
            .map_err(StoreError::from_display)?;
        for key in old {
            self.db.remove(key).map_err(StoreError::from_display)?;
        }
        Ok(())
    }
}

impl Store for SledStore {
    fn get(&self, key: &[u8]) -> Result<Option<Versioned>, StoreError> {
        match self
            .db
            .get(data_key(key))
            .map_err(StoreError::from_display)?
        {
            Some(bytes) => decode_record(&bytes).map(Some),
            None => Ok(None),
        }
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
        let start = page_start(prefix, after).map(data_key);
        let full_prefix = data_key(prefix);
        let mut out = Vec::new();
        for item in self
            .db
            .range::<Vec<u8>, _>((start, std::ops::Bound::Unbounded))
        {
            if out.len() >= limit {
                break;
            }
            let (k, v) = item.map_err(StoreError::from_display)?;
            if !k.starts_with(&full_prefix) {
                break;
            }
            out.push((k[DATA.len()..].to_vec(), decode_record(&v)?));
        }
        Ok(out)
    }

    fn commit(&self, txn: Txn) -> Result<Commit, StoreError> {
        let one_at_a_time = self.committing.lock().unwrap_or_else(|p| p.into_inner());
        let entry = encode_feed_entry(written_keys(&txn));
        let result = self.db.transaction(|tx| {
            // The compares read through the transaction, so sled retries on a concurrent
            // write instead of deciding on a stale value.
            for (i, compare) in txn.compares.iter().enumerate() {
                let (key, expected) = match compare {
                    Compare::Absent(k) => (k, None),
                    Compare::At(k, rev) => (k, Some(*rev)),
                };
                let current = match tx.get(data_key(key))? {
                    Some(bytes) => Some(decode_record(&bytes).map_err(abort)?.revision),
                    None => None,
                };
                if current != expected {
                    return Ok(Commit::Conflict(i));
                }
            }
            let revision = revision_of(tx.get(REVISION)?).map_err(abort)? + 1;
            for op in &txn.ops {
                match op {
                    Op::Put(k, v) => {
                        tx.insert(data_key(k), encode_record(revision, v))?;
                    }
                    Op::Delete(k) => {
                        tx.remove(data_key(k))?;
                    }
                }
            }
            tx.insert(feed_start(revision), entry.as_slice())?;
            tx.insert(REVISION, &revision.to_be_bytes())?;
            Ok(Commit::Applied(revision))
        });
        let commit = match result {
            Ok(c) => c,
            Err(TransactionError::Abort(e)) => return Err(e),
            Err(TransactionError::Storage(e)) => return Err(StoreError::from_display(e)),
        };
        if let Commit::Applied(revision) = commit {
            self.committed.store(revision, Ordering::Release);
            // The commit is applied whatever pruning does: a failed pruning leaves old
            // entries, which the next commit's pruning (or the next open) removes.
            let _ = self.prune(revision);
            drop(one_at_a_time);
            // Acknowledged means on disk.
            self.db.flush().map_err(StoreError::from_display)?;
        }
        Ok(commit)
    }

    fn revision(&self) -> Result<Revision, StoreError> {
        Ok(self.committed.load(Ordering::Acquire))
    }

    fn changes(&self, after: Revision, max: usize) -> Result<Feed, StoreError> {
        let through = self.committed.load(Ordering::Acquire);
        if after > through || after < self.floor()? {
            return Ok(Feed::Gone);
        }
        let mut keys = Vec::new();
        let range = feed_start(after.saturating_add(1))..feed_start(through.saturating_add(1));
        for item in self.db.range(range) {
            let (key, entry) = item.map_err(StoreError::from_display)?;
            let revision = revision_of(Some(key.subslice(FEED.len(), key.len() - FEED.len())))?;
            decode_feed_entry(revision, &entry, &mut keys)?;
            if keys.len() > max {
                return Ok(Feed::Gone);
            }
        }
        // Pruned while read: the floor moved past `after` first.
        if after < self.floor()? {
            return Ok(Feed::Gone);
        }
        Ok(Feed::Changes { through, keys })
    }
}

fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}
