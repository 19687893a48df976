//! The registry [`Store`] over redb 4: an embedded store with a stable file format.
//!
//! Each commit is one redb write transaction (durable when it returns); values are stored in
//! our own versioned record format. The change feed is a table of one entry per revision
//! (the keys the commit wrote), written and pruned in each commit's own transaction; a reader
//! reads it and the revision in one read transaction.

use std::path::Path;

use jwk_store::{
    Commit, FEED_REVISIONS, Feed, Op, Revision, Store, StoreError, Txn, Versioned,
    decode_feed_entry, decode_record, encode_feed_entry, encode_record, feed_floor,
    first_failed_compare, page_start, written_keys,
};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

const DATA: TableDefinition<&[u8], &[u8]> = TableDefinition::new("data");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// The change feed: revision → the keys its commit wrote ([`encode_feed_entry`]).
const CHANGES: TableDefinition<u64, &[u8]> = TableDefinition::new("changes");
/// The feed of the first release that kept one (a key per written key): dropped at open.
const OLD_FEED: TableDefinition<&[u8], ()> = TableDefinition::new("feed");

/// redb's page cache (its default is 1 GiB, which a registry of 100,000 JWKs fills: the
/// process then holds much more than what it serves). The registry keeps what it serves in
/// its own memory; the store is read for changes and requests.
pub const CACHE_BYTES: usize = 64 * 1024 * 1024;

/// The oldest revision a reader of the feed may ask after (in `META`).
const FEED_FLOOR: &str = "feed-floor";

/// A redb database used as a [`Store`].
pub struct RedbStore {
    db: Database,
    /// Revisions of the change feed kept.
    keep: u64,
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::from_display(e)
}

impl RedbStore {
    /// Opens (or creates) the database file at `path`.
    pub fn open(path: &Path) -> Result<RedbStore, StoreError> {
        RedbStore::open_with_feed(path, FEED_REVISIONS)
    }

    /// Opens (or creates) the database file at `path`, its change feed keeping `keep`
    /// revisions.
    pub fn open_with_feed(path: &Path, keep: u64) -> Result<RedbStore, StoreError> {
        let db = redb::Builder::new()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(err)?;
        let tx = db.begin_write().map_err(err)?;
        tx.open_table(DATA).map_err(err)?;
        tx.open_table(CHANGES).map_err(err)?;
        let old_feed = tx.delete_table(OLD_FEED).map_err(err)?;
        {
            let mut meta = tx.open_table(META).map_err(err)?;
            // A store written before this feed: it has no history before now.
            if old_feed || meta.get(FEED_FLOOR).map_err(err)?.is_none() {
                let revision = meta.get("revision").map_err(err)?.map_or(0, |v| v.value());
                meta.insert(FEED_FLOOR, revision).map_err(err)?;
            }
        }
        tx.commit().map_err(err)?;
        Ok(RedbStore { db, keep })
    }
}

impl Store for RedbStore {
    fn get(&self, key: &[u8]) -> Result<Option<Versioned>, StoreError> {
        let tx = self.db.begin_read().map_err(err)?;
        let table = tx.open_table(DATA).map_err(err)?;
        match table.get(key).map_err(err)? {
            Some(v) => decode_record(v.value()).map(Some),
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
        use std::ops::Bound;
        let tx = self.db.begin_read().map_err(err)?;
        let table = tx.open_table(DATA).map_err(err)?;
        let mut out = Vec::new();
        for item in table
            .range::<&[u8]>((page_start(prefix, after), Bound::Unbounded))
            .map_err(err)?
        {
            if out.len() >= limit {
                break;
            }
            let (k, v) = item.map_err(err)?;
            if !k.value().starts_with(prefix) {
                break;
            }
            out.push((k.value().to_vec(), decode_record(v.value())?));
        }
        Ok(out)
    }

    fn commit(&self, txn: Txn) -> Result<Commit, StoreError> {
        let tx = self.db.begin_write().map_err(err)?;
        let revision = {
            let mut data = tx.open_table(DATA).map_err(err)?;
            let failed = first_failed_compare(&txn, |k| match data.get(k).map_err(err)? {
                Some(v) => Ok(Some(decode_record(v.value())?.revision)),
                None => Ok(None),
            })?;
            if let Some(i) = failed {
                drop(data);
                tx.abort().map_err(err)?;
                return Ok(Commit::Conflict(i));
            }
            let mut meta = tx.open_table(META).map_err(err)?;
            let revision = meta.get("revision").map_err(err)?.map_or(0, |v| v.value()) + 1;
            for op in &txn.ops {
                match op {
                    Op::Put(k, v) => {
                        data.insert(k.as_slice(), encode_record(revision, v).as_slice())
                            .map_err(err)?;
                    }
                    Op::Delete(k) => {
                        data.remove(k.as_slice()).map_err(err)?;
                    }
                }
            }
            meta.insert("revision", revision).map_err(err)?;
            let mut feed = tx.open_table(CHANGES).map_err(err)?;
            let entry = encode_feed_entry(written_keys(&txn));
            feed.insert(revision, entry.as_slice()).map_err(err)?;
            let floor = feed_floor(revision, self.keep);
            let old_floor = meta.get(FEED_FLOOR).map_err(err)?.map_or(0, |v| v.value());
            if floor > old_floor {
                meta.insert(FEED_FLOOR, floor).map_err(err)?;
                // Usually the one revision that left the window.
                let mut gone = Vec::new();
                for item in feed.range(..=floor).map_err(err)? {
                    gone.push(item.map_err(err)?.0.value());
                }
                for revision in gone {
                    feed.remove(revision).map_err(err)?;
                }
            }
            revision
        };
        tx.commit().map_err(err)?;
        Ok(Commit::Applied(revision))
    }

    fn revision(&self) -> Result<Revision, StoreError> {
        let tx = self.db.begin_read().map_err(err)?;
        let meta = tx.open_table(META).map_err(err)?;
        Ok(meta.get("revision").map_err(err)?.map_or(0, |v| v.value()))
    }

    fn changes(&self, after: Revision, max: usize) -> Result<Feed, StoreError> {
        let tx = self.db.begin_read().map_err(err)?;
        let meta = tx.open_table(META).map_err(err)?;
        let through = meta.get("revision").map_err(err)?.map_or(0, |v| v.value());
        let floor = meta.get(FEED_FLOOR).map_err(err)?.map_or(0, |v| v.value());
        if after > through || after < floor {
            return Ok(Feed::Gone);
        }
        let feed = tx.open_table(CHANGES).map_err(err)?;
        let mut keys = Vec::new();
        for item in feed.range(after.saturating_add(1)..).map_err(err)? {
            let (revision, entry) = item.map_err(err)?;
            decode_feed_entry(revision.value(), entry.value(), &mut keys)?;
            if keys.len() > max {
                return Ok(Feed::Gone);
            }
        }
        Ok(Feed::Changes { through, keys })
    }
}
