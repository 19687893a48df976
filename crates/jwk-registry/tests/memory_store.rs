//! The in-memory store passes the conformance suite.

use std::sync::Arc;

use jwk_registry::store::MemoryStore;
use jwk_testkit::conformance::{Backend, SMALL_FEED, run};

#[test]
fn memory_store_conformance() {
    run(&Backend {
        open: Box::new(|| Arc::new(MemoryStore::new())),
        reopen: None,
        open_small_feed: Box::new(|| Arc::new(MemoryStore::with_feed(SMALL_FEED))),
    });
}
