//! The registry [`Store`] over sled 0.34, the embedded default.
//!
//! sled has had no release since 2021 and has open reports of corruption after an abrupt
//! stop, so this adapter is careful: every acknowledged commit is flushed to disk before
//! `commit` returns, values are stored in our own versioned record format (never sled's
//! types), and the revision counter lives in the same transaction as the data.

use std::path::Path;

use jwk_store::{
    Commit, Compare, Op, Revision, Store, StoreError, Txn, Versioned, decode_record, encode_record,
};
use sled::transaction::{ConflictableTransactionError, TransactionError};

const DATA: &[u8] = b"d/";
const REVISION: &[u8] = b"m/revision";

/// Longest wait for sled's file lock when opening (see [`SledStore::open`]).
pub const LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// A sled database used as a [`Store`].
pub struct SledStore {
    db: sled::Db,
}

fn data_key(key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(DATA.len() + key.len());
    k.extend_from_slice(DATA);
    k.extend_from_slice(key);
    k
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
        let config = sled::Config::new()
            .path(dir)
            .mode(sled::Mode::HighThroughput);
        let deadline = std::time::Instant::now() + LOCK_WAIT;
        loop {
            match config.open() {
                Ok(db) => return Ok(SledStore { db }),
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
        let mut out = Vec::new();
        for item in self.db.scan_prefix(data_key(prefix)) {
            let (k, v) = item.map_err(StoreError::from_display)?;
            out.push((k[DATA.len()..].to_vec(), decode_record(&v)?));
        }
        Ok(out)
    }

    fn commit(&self, txn: Txn) -> Result<Commit, StoreError> {
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
            tx.insert(REVISION, &revision.to_be_bytes())?;
            Ok(Commit::Applied(revision))
        });
        let commit = match result {
            Ok(c) => c,
            Err(TransactionError::Abort(e)) => return Err(e),
            Err(TransactionError::Storage(e)) => return Err(StoreError::from_display(e)),
        };
        if let Commit::Applied(_) = commit {
            // Acknowledged means on disk.
            self.db.flush().map_err(StoreError::from_display)?;
        }
        Ok(commit)
    }

    fn revision(&self) -> Result<Revision, StoreError> {
        revision_of(self.db.get(REVISION).map_err(StoreError::from_display)?)
    }
}

fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}
