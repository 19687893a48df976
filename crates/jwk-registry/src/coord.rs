//! Leases over the store: which node does a piece of background work (a fetch of a remote
//! set, say) when several share one registry. A lease is a compare-and-put record
//! (`lease/<name>`: holder, until) that anyone may take once it has run out, so a node that
//! died holds nothing for long. Leases are coordination, not registry content: they are not
//! audited and deploy nothing, and a command made under a lease (`Command::RecordFetch`)
//! requires it still held, unchanged, and releases it in its own transaction.

use crate::error::Result;
use crate::records::{FORMAT, LeaseRec, encode, keys, load};
use crate::registry::Registry;
use crate::store::{Commit, Store, Txn};

/// A lease held by this process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// What it is for.
    pub name: String,
    /// The revision of its record, which a command made under it compares.
    pub revision: u64,
    /// Until when it is held (Unix ms, by the registry's clock).
    pub until_ms: i64,
}

impl Lease {
    /// The store key of its record.
    pub(crate) fn key(&self) -> String {
        keys::lease(&self.name)
    }

    /// Adds to `txn` the requirement that the lease is still held as taken, and its release.
    pub(crate) fn held_and_released(&self, txn: Txn) -> Txn {
        let key = self.key();
        txn.at(key.as_str(), self.revision).delete(key)
    }
}

/// Takes the lease `name` for `holder` at `now` (Unix ms) for `ttl_ms`, unless it is held
/// and has not run out.
fn take(
    store: &dyn Store,
    holder: &str,
    now: i64,
    name: &str,
    ttl_ms: i64,
) -> Result<Option<Lease>> {
    let key = keys::lease(name);
    let current = load::<LeaseRec>(store, &key)?;
    if let Some((held, _)) = &current
        && held.until_ms > now
    {
        return Ok(None);
    }
    let until_ms = now.saturating_add(ttl_ms.max(0));
    let rec = LeaseRec {
        v: FORMAT,
        holder: holder.to_owned(),
        until_ms,
    };
    let txn = match current {
        Some((_, rev)) => Txn::new().at(key.as_str(), rev),
        None => Txn::new().absent(key.as_str()),
    }
    .put(key.as_str(), encode(&rec));
    Ok(match store.commit(txn)? {
        Commit::Applied(revision) => Some(Lease {
            name: name.to_owned(),
            revision,
            until_ms,
        }),
        // Another node took it between our read and our write.
        Commit::Conflict(_) => None,
    })
}

impl Registry {
    /// Takes the lease `name` for `ttl_ms` milliseconds, unless another node holds it and it
    /// has not run out; `None` then. This process's own unexpired lease is not taken again
    /// either: one holder, one piece of work.
    pub fn try_lease(&self, name: &str, ttl_ms: i64) -> Result<Option<Lease>> {
        take(
            &**self.store(),
            self.node_id(),
            self.clock().now_ms(),
            name,
            ttl_ms,
        )
    }

    /// Gives a lease back (nothing happens when it was taken over meanwhile).
    pub fn release_lease(&self, lease: &Lease) -> Result<()> {
        self.store().commit(lease.held_and_released(Txn::new()))?;
        Ok(())
    }

    /// Who holds the lease `name` and until when (Unix ms), if anyone took it.
    pub fn lease_holder(&self, name: &str) -> Result<Option<(String, i64)>> {
        Ok(load::<LeaseRec>(&**self.store(), &keys::lease(name))?
            .map(|(l, _)| (l.holder, l.until_ms)))
    }
}
