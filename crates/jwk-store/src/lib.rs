//! The `Store` trait: a transactional key-value store with per-key revisions (etcd-like),
//! and the in-memory implementation used by tests and by hosts that keep no state.
//!
//! Every rule of the registry (unique names, one JWK per credential slot, renames) is a
//! compare-and-put transaction over this trait, so it holds wherever the store is shared.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Mutex;

/// A store-wide revision: every committed transaction gets the next one.
pub type Revision = u64;

/// A value and the revision of the transaction that last wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Versioned {
    /// The stored bytes.
    pub value: Vec<u8>,
    /// The revision that wrote them.
    pub revision: Revision,
}

/// A condition a transaction checks before it applies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Compare {
    /// The key does not exist.
    Absent(Vec<u8>),
    /// The key exists and was last written at exactly this revision.
    At(Vec<u8>, Revision),
}

/// A write of a transaction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Sets the key to the value.
    Put(Vec<u8>, Vec<u8>),
    /// Removes the key (removing an absent key is not an error).
    Delete(Vec<u8>),
}

/// Compares and writes, applied atomically: all writes or none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Txn {
    /// Every one must hold for the writes to apply.
    pub compares: Vec<Compare>,
    /// The writes.
    pub ops: Vec<Op>,
}

impl Txn {
    /// An empty transaction.
    pub fn new() -> Txn {
        Txn::default()
    }

    /// Adds "key is absent".
    pub fn absent(mut self, key: impl Into<Vec<u8>>) -> Txn {
        self.compares.push(Compare::Absent(key.into()));
        self
    }

    /// Adds "key is at revision".
    pub fn at(mut self, key: impl Into<Vec<u8>>, revision: Revision) -> Txn {
        self.compares.push(Compare::At(key.into(), revision));
        self
    }

    /// Adds a put.
    pub fn put(mut self, key: impl Into<Vec<u8>>, value: impl Into<Vec<u8>>) -> Txn {
        self.ops.push(Op::Put(key.into(), value.into()));
        self
    }

    /// Adds a delete.
    pub fn delete(mut self, key: impl Into<Vec<u8>>) -> Txn {
        self.ops.push(Op::Delete(key.into()));
        self
    }
}

/// What a commit did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// Applied at this revision; durable when `commit` returns.
    Applied(Revision),
    /// Compare number `index` failed; nothing was written.
    Conflict(usize),
}

/// How many revisions of the change feed a store keeps unless told otherwise: a reader that
/// falls further behind reads the whole state again ([`Feed::Gone`]).
pub const FEED_REVISIONS: u64 = 10_000;

/// What [`Store::changes`] found after a revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Feed {
    /// Every key the commits after the revision asked wrote (put or deleted), up to and
    /// including `through`, as (revision, key) in revision order, then key order; a key
    /// written twice by one commit is listed once.
    Changes {
        /// The store's revision when read: nothing after it is listed.
        through: Revision,
        /// The keys written.
        keys: Vec<(Revision, Vec<u8>)>,
    },
    /// The feed no longer reaches back to that revision (or it is ahead of the store), or
    /// it holds more keys than asked: read the whole state again.
    Gone,
}

/// The keys a transaction writes, once each, in key order: what the change feed records.
pub fn written_keys(txn: &Txn) -> BTreeSet<&[u8]> {
    txn.ops
        .iter()
        .map(|op| match op {
            Op::Put(k, _) | Op::Delete(k) => k.as_slice(),
        })
        .collect()
}

/// The feed's entry of one commit, for backends that keep the feed as one record per
/// revision: each written key as its length (4 bytes, big-endian) then its bytes. One entry
/// per commit, whatever it wrote, so keeping and pruning the feed costs one write each.
pub fn encode_feed_entry<'a>(keys: impl IntoIterator<Item = &'a [u8]>) -> Vec<u8> {
    let mut out = Vec::new();
    for key in keys {
        // A key longer than 4 GiB cannot reach a store (bodies are far smaller).
        let length = u32::try_from(key.len()).unwrap_or(u32::MAX);
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(&key[..length as usize]);
    }
    out
}

/// Reads an [`encode_feed_entry`] of `revision` into `keys` (as (revision, key)); an entry
/// that does not read whole is a storage failure.
pub fn decode_feed_entry(
    revision: Revision,
    mut bytes: &[u8],
    keys: &mut Vec<(Revision, Vec<u8>)>,
) -> Result<(), StoreError> {
    let broken = || {
        StoreError(format!(
            "the change feed entry of revision {revision} is cut short"
        ))
    };
    while !bytes.is_empty() {
        let (length, rest) = bytes.split_first_chunk::<4>().ok_or_else(broken)?;
        let length = u32::from_be_bytes(*length) as usize;
        let key = rest.get(..length).ok_or_else(broken)?;
        keys.push((revision, key.to_vec()));
        bytes = &rest[length..];
    }
    Ok(())
}

/// Where a page of `prefix` after the cursor `after` begins ([`Store::scan_page`]): just past
/// the cursor when it lies at or past the prefix's start, else at the prefix itself. One rule
/// for every backend.
pub fn page_start<'a>(prefix: &'a [u8], after: Option<&'a [u8]>) -> std::ops::Bound<&'a [u8]> {
    use std::ops::Bound;
    match after {
        Some(a) if a >= prefix => Bound::Excluded(a),
        _ => Bound::Included(prefix),
    }
}

/// The oldest revision a feed keeping `keep` revisions still reaches back to at `revision`
/// (a reader at or after it gets every change since).
pub fn feed_floor(revision: Revision, keep: u64) -> Revision {
    revision.saturating_sub(keep)
}

/// A failure of the storage itself (I/O, corruption), never a failed compare.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("storage failure: {0}")]
pub struct StoreError(pub String);

impl StoreError {
    /// Wraps any displayable error.
    pub fn from_display(e: impl std::fmt::Display) -> StoreError {
        StoreError(e.to_string())
    }
}

/// A transactional key-value store with per-key revisions.
///
/// Implementations must make an `Applied` commit durable before returning it, apply each
/// transaction atomically, and serialise transactions (a later commit sees every earlier one).
pub trait Store: Send + Sync + 'static {
    /// The value of a key.
    fn get(&self, key: &[u8]) -> Result<Option<Versioned>, StoreError>;

    /// Every key with this prefix, in byte order.
    fn scan(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Versioned)>, StoreError>;

    /// Every key with this prefix and its revision, in byte order, without the values: enough
    /// to tell what changed since a cached read (deployments re-read only those records).
    fn scan_revisions(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Revision)>, StoreError> {
        Ok(self
            .scan(prefix)?
            .into_iter()
            .map(|(k, v)| (k, v.revision))
            .collect())
    }

    /// At most `limit` keys with this prefix that sort after `after` (from the first when
    /// `None`), in byte order: a page of [`Store::scan`], and `after` is the cursor of the
    /// next page (stable under concurrent writes: a key written meanwhile is listed when
    /// it sorts after the cursor). Every backend of this workspace reads only the page; this
    /// default, for a store that cannot, reads the whole prefix.
    fn scan_page(
        &self,
        prefix: &[u8],
        after: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Versioned)>, StoreError> {
        Ok(self
            .scan(prefix)?
            .into_iter()
            .filter(|(k, _)| after.is_none_or(|a| k.as_slice() > a))
            .take(limit)
            .collect())
    }

    /// Checks the compares and, when all hold, applies the writes atomically.
    fn commit(&self, txn: Txn) -> Result<Commit, StoreError>;

    /// The change feed: the keys written by the commits after `after`, when the store still
    /// keeps them and they are at most `max` ([`Feed::Gone`] otherwise). Readers that keep a
    /// copy of some records (the registry's deployment state) catch up by reading only
    /// what changed. The default keeps no feed: readers read everything again.
    fn changes(&self, after: Revision, max: usize) -> Result<Feed, StoreError> {
        let _ = (after, max);
        Ok(Feed::Gone)
    }

    /// The revision of the last commit (0 for an empty store).
    fn revision(&self) -> Result<Revision, StoreError>;

    /// The newest revision committed by anyone, pushed as it happens, for stores that other
    /// processes write to (`None` when every commit goes through this handle).
    fn watch(&self) -> Option<tokio::sync::watch::Receiver<Revision>> {
        None
    }

    /// Takes the named lock, shared by every process on the store, waiting at most `wait`;
    /// dropping the guard releases it. A process that dies releases its locks (for a
    /// networked store: when its connection ends). The registry holds one per environment
    /// while deploying, so each environment is deployed once per change, not once per node.
    /// Single-process stores need no cross-process lock: the default grants it at once.
    fn lock(&self, name: &str, wait: std::time::Duration) -> Result<LockGuard, StoreError> {
        let _ = (name, wait);
        Ok(Box::new(()))
    }
}

/// Holds a [`Store::lock`] until dropped.
pub type LockGuard = Box<dyn std::any::Any + Send>;

/// Checks a transaction's compares against a lookup; the index of the first that fails.
pub fn first_failed_compare(
    txn: &Txn,
    mut lookup: impl FnMut(&[u8]) -> Result<Option<Revision>, StoreError>,
) -> Result<Option<usize>, StoreError> {
    for (i, c) in txn.compares.iter().enumerate() {
        let ok = match c {
            Compare::Absent(k) => lookup(k)?.is_none(),
            Compare::At(k, rev) => lookup(k)? == Some(*rev),
        };
        if !ok {
            return Ok(Some(i));
        }
    }
    Ok(None)
}

/// The stored record of a value: an 8-byte big-endian revision, then the value. Backends
/// that have no per-key version of their own store this (our format, not theirs).
pub fn encode_record(revision: Revision, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 + value.len());
    out.extend_from_slice(&revision.to_be_bytes());
    out.extend_from_slice(value);
    out
}

/// Reads [`encode_record`] bytes.
pub fn decode_record(bytes: &[u8]) -> Result<Versioned, StoreError> {
    if bytes.len() < 8 {
        return Err(StoreError(format!(
            "a stored record has {} bytes, fewer than its 8-byte header",
            bytes.len()
        )));
    }
    let mut rev = [0u8; 8];
    rev.copy_from_slice(&bytes[..8]);
    Ok(Versioned {
        revision: u64::from_be_bytes(rev),
        value: bytes[8..].to_vec(),
    })
}

/// The in-memory store: a `BTreeMap` behind a mutex. Nothing survives the process.
#[derive(Debug)]
pub struct MemoryStore {
    inner: Mutex<MemoryInner>,
    /// Revisions of the change feed kept.
    keep: u64,
}

#[derive(Debug, Default)]
struct MemoryInner {
    map: BTreeMap<Vec<u8>, Versioned>,
    revision: Revision,
    /// The change feed: (revision, key), oldest first.
    feed: VecDeque<(Revision, Vec<u8>)>,
}

impl Default for MemoryStore {
    fn default() -> MemoryStore {
        MemoryStore::with_feed(FEED_REVISIONS)
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore::default()
    }

    /// An empty store whose change feed keeps `keep` revisions.
    pub fn with_feed(keep: u64) -> MemoryStore {
        MemoryStore {
            inner: Mutex::default(),
            keep,
        }
    }

    fn inner(&self) -> std::sync::MutexGuard<'_, MemoryInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Store for MemoryStore {
    fn get(&self, key: &[u8]) -> Result<Option<Versioned>, StoreError> {
        Ok(self.inner().map.get(key).cloned())
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
        Ok(self
            .inner()
            .map
            .range::<[u8], _>((page_start(prefix, after), std::ops::Bound::Unbounded))
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn commit(&self, txn: Txn) -> Result<Commit, StoreError> {
        let mut guard = self.inner();
        let inner = &mut *guard;
        if let Some(i) = first_failed_compare(&txn, |k| Ok(inner.map.get(k).map(|v| v.revision)))? {
            return Ok(Commit::Conflict(i));
        }
        inner.revision += 1;
        let revision = inner.revision;
        for key in written_keys(&txn) {
            inner.feed.push_back((revision, key.to_vec()));
        }
        let floor = feed_floor(revision, self.keep);
        while inner.feed.front().is_some_and(|(r, _)| *r <= floor) {
            inner.feed.pop_front();
        }
        for op in txn.ops {
            match op {
                Op::Put(k, v) => {
                    inner.map.insert(k, Versioned { value: v, revision });
                }
                Op::Delete(k) => {
                    inner.map.remove(&k);
                }
            }
        }
        Ok(Commit::Applied(revision))
    }

    fn revision(&self) -> Result<Revision, StoreError> {
        Ok(self.inner().revision)
    }

    fn changes(&self, after: Revision, max: usize) -> Result<Feed, StoreError> {
        let inner = self.inner();
        let through = inner.revision;
        if after > through || after < feed_floor(through, self.keep) {
            return Ok(Feed::Gone);
        }
        let start = inner.feed.partition_point(|(r, _)| *r <= after);
        if inner.feed.len() - start > max {
            return Ok(Feed::Gone);
        }
        Ok(Feed::Changes {
            through,
            keys: inner.feed.range(start..).cloned().collect(),
        })
    }
}
