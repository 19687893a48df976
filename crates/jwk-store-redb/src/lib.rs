//! The registry [`Store`] over redb 4: an embedded store with a stable file format.
//!
//! Each commit is one redb write transaction (durable when it returns); values are stored in
//! our own versioned record format.

use std::path::Path;

use jwk_store::{
    Commit, Op, Revision, Store, StoreError, Txn, Versioned, decode_record, encode_record,
    first_failed_compare,
};
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

const DATA: TableDefinition<&[u8], &[u8]> = TableDefinition::new("data");
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");

/// A redb database used as a [`Store`].
pub struct RedbStore {
    db: Database,
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::from_display(e)
}

impl RedbStore {
    /// Opens (or creates) the database file at `path`.
    pub fn open(path: &Path) -> Result<RedbStore, StoreError> {
        let db = Database::create(path).map_err(err)?;
        let tx = db.begin_write().map_err(err)?;
        tx.open_table(DATA).map_err(err)?;
        tx.open_table(META).map_err(err)?;
        tx.commit().map_err(err)?;
        Ok(RedbStore { db })
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
        let tx = self.db.begin_read().map_err(err)?;
        let table = tx.open_table(DATA).map_err(err)?;
        let mut out = Vec::new();
        for item in table.range(prefix..).map_err(err)? {
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
}
