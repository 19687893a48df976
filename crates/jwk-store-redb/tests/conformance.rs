//! redb passes the conformance suite, reopen included.

use std::sync::Arc;

use jwk_store_redb::RedbStore;

#[test]
fn redb_store_conformance() {
    jwk_testkit::conformance::run_on_disk(|path, feed| {
        Arc::new(RedbStore::open_with_feed(path, feed).unwrap())
    });
}

/// A store whose feed was kept a key per written key (the first release with a feed) drops
/// that table at open and starts its feed there: a reader from before is told to read whole.
#[test]
fn the_first_releases_feed_is_dropped_at_open() {
    use jwk_store::{Feed, Store, Txn};
    use redb::{ReadableDatabase, TableDefinition};
    let dir = jwk_testkit::temp_dir();
    let path = dir.path().join("db.redb");
    {
        let store = RedbStore::open(&path).unwrap();
        store.commit(Txn::new().put("a", "1")).unwrap();
        store.commit(Txn::new().put("b", "2")).unwrap();
    }
    let old: TableDefinition<&[u8], ()> = TableDefinition::new("feed");
    let meta: TableDefinition<&str, u64> = TableDefinition::new("meta");
    {
        let db = redb::Database::open(&path).unwrap();
        let tx = db.begin_write().unwrap();
        {
            let mut feed = tx.open_table(old).unwrap();
            let mut key = 1u64.to_be_bytes().to_vec();
            key.extend_from_slice(b"a");
            feed.insert(key.as_slice(), ()).unwrap();
            tx.open_table(meta)
                .unwrap()
                .insert("feed-floor", 0)
                .unwrap();
        }
        tx.commit().unwrap();
    }
    let store = RedbStore::open(&path).unwrap();
    assert_eq!(store.changes(0, 100).unwrap(), Feed::Gone);
    assert_eq!(
        store.changes(2, 100).unwrap(),
        Feed::Changes {
            through: 2,
            keys: vec![]
        }
    );
    store.commit(Txn::new().put("c", "3")).unwrap();
    assert_eq!(
        store.changes(2, 100).unwrap(),
        Feed::Changes {
            through: 3,
            keys: vec![(3, b"c".to_vec())]
        }
    );
    drop(store);
    let db = redb::Database::open(&path).unwrap();
    let tx = db.begin_read().unwrap();
    assert!(tx.open_table(old).is_err(), "the old feed table is gone");
}
