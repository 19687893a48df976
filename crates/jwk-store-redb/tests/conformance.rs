//! redb passes the conformance suite, reopen included.

use std::sync::Arc;

use jwk_store_redb::RedbStore;

#[test]
fn redb_store_conformance() {
    jwk_testkit::conformance::run_on_disk(|path, feed| {
        Arc::new(RedbStore::open_with_feed(path, feed).unwrap())
    });
}
