//! sled passes the conformance suite, reopen included.

use std::sync::Arc;

use jwk_store_sled::SledStore;

#[test]
fn sled_store_conformance() {
    jwk_testkit::conformance::run_on_disk(|path, feed| {
        Arc::new(SledStore::open_with_feed(path, feed).unwrap())
    });
}

/// A store whose feed was kept a key per written key (the first release with a feed) loses
/// those keys at open and starts its feed there: a reader from before is told to read whole.
#[test]
fn the_first_releases_feed_is_dropped_at_open() {
    use jwk_store::{Feed, Store, Txn};
    let dir = jwk_testkit::temp_dir();
    {
        let store = SledStore::open(dir.path()).unwrap();
        store.commit(Txn::new().put("a", "1")).unwrap();
        store.commit(Txn::new().put("b", "2")).unwrap();
    }
    {
        let db = sled::open(dir.path()).unwrap();
        let mut key = b"f/".to_vec();
        key.extend_from_slice(&1u64.to_be_bytes());
        key.extend_from_slice(b"a");
        db.insert(key, &[][..]).unwrap();
        db.insert(b"m/feed-floor", &0u64.to_be_bytes()[..]).unwrap();
        db.flush().unwrap();
    }
    let store = SledStore::open(dir.path()).unwrap();
    assert_eq!(store.changes(0, 100).unwrap(), Feed::Gone);
    store.commit(Txn::new().put("c", "3")).unwrap();
    assert_eq!(
        store.changes(2, 100).unwrap(),
        Feed::Changes {
            through: 3,
            keys: vec![(3, b"c".to_vec())]
        }
    );
    drop(store);
    let db = sled::open(dir.path()).unwrap();
    assert_eq!(db.scan_prefix(b"f/").count(), 0, "the old feed is gone");
}
