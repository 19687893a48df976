//! sled passes the conformance suite, reopen included.

use std::sync::Arc;

use jwk_store_sled::SledStore;

#[test]
fn sled_store_conformance() {
    jwk_testkit::conformance::run_on_disk(|path, feed| {
        Arc::new(SledStore::open_with_feed(path, feed).unwrap())
    });
}
