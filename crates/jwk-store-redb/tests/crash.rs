//! Every acknowledged redb commit survives kill -9 (cycles: JWK_CRASH_CYCLES, default 5).

use std::path::Path;
use std::sync::Arc;

use jwk_store::Store;
use jwk_store_redb::RedbStore;

fn open(dir: &Path) -> Arc<dyn Store> {
    Arc::new(RedbStore::open(dir).expect("open redb"))
}

jwk_testkit::crash_tests!(open, "db.redb");
