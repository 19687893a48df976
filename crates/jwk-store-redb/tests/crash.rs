//! Every acknowledged redb commit survives kill -9 (cycles: JWK_CRASH_CYCLES, default 5).

use std::path::Path;
use std::sync::Arc;

use jwk_registry::store::Store;
use jwk_store_redb::RedbStore;

fn open(dir: &Path) -> Arc<dyn Store> {
    Arc::new(RedbStore::open(dir).expect("open redb"))
}

#[test]
#[ignore = "the child writer of kill_9_loses_no_acknowledged_write"]
fn crash_child_writer() {
    jwk_testkit::crash::child(open);
}

#[test]
fn kill_9_loses_no_acknowledged_write() {
    let cycles = std::env::var("JWK_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let dir = jwk_testkit::temp_dir();
    jwk_testkit::crash::run(
        &dir.path().join("db.redb"),
        "crash_child_writer",
        cycles,
        open,
    );
}
