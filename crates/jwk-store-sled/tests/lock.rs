//! sled's file lock: an open waits for a lock that is about to be released (sled frees it in
//! a background thread after the last handle drops) and names a lock that stays held.

use std::time::{Duration, Instant};

use jwk_store_sled::{LOCK_WAIT, SledStore};

#[test]
fn a_held_lock_is_waited_for_then_named() {
    let dir = jwk_testkit::temp_dir();
    let first = SledStore::open(dir.path()).unwrap();
    let started = Instant::now();
    let e = SledStore::open(dir.path()).err().expect("the lock is held");
    assert!(started.elapsed() >= LOCK_WAIT);
    assert_eq!(
        e.0,
        format!(
            "the sled store in {} is in use (its lock is held, by another process or a handle \
             not yet closed)",
            dir.path().display()
        )
    );
    // Released while the second open waits: it then succeeds.
    let closer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        drop(first);
    });
    SledStore::open(dir.path()).expect("opened once the first handle closed");
    closer.join().unwrap();
}
