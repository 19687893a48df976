//! Every acknowledged sled commit survives kill -9 (cycles: JWK_CRASH_CYCLES, default 5).

use std::path::Path;
use std::sync::Arc;

use jwk_store::Store;
use jwk_store_sled::SledStore;

fn open(dir: &Path) -> Arc<dyn Store> {
    Arc::new(SledStore::open(dir).expect("open sled"))
}

jwk_testkit::crash_tests!(open, "db");
