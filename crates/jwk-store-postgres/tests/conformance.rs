//! PostgreSQL passes the same Store conformance suite as sled and redb, reopen included,
//! on a real server (scripts/pg.sh).

use std::sync::{Arc, Mutex};

use jwk_store::{Store, Txn};
use jwk_store_postgres::{PgStore, SCHEMA_VERSION};
use jwk_testkit::conformance::{Backend, SMALL_FEED, run};
use jwk_testkit::postgres::fresh_database;

#[test]
fn postgres_store_conformance() {
    if fresh_database().is_none() {
        return;
    }
    let last = Arc::new(Mutex::new(String::new()));
    let (l1, l2) = (last.clone(), last);
    run(&Backend {
        open: Box::new(move || {
            let url = fresh_database().unwrap();
            *l1.lock().unwrap() = url.clone();
            Arc::new(PgStore::connect(&url).unwrap())
        }),
        reopen: Some(Box::new(move || {
            Arc::new(PgStore::connect(&l2.lock().unwrap()).unwrap())
        })),
        open_small_feed: Box::new(|| {
            let url = fresh_database().unwrap();
            let options = jwk_store_postgres::PgOptions {
                feed_revisions: SMALL_FEED,
                ..jwk_store_postgres::PgOptions::default()
            };
            Arc::new(PgStore::connect_with(&url, options).unwrap())
        }),
    });
}

/// Two handles on one database are two nodes: each sees the other's commits, compares hold
/// across them, and the watch of one reports the other's commits.
#[test]
fn two_handles_share_one_registry() {
    let Some(url) = fresh_database() else { return };
    let a = PgStore::connect(&url).unwrap();
    let b = PgStore::connect(&url).unwrap();
    let mut seen = b.watch().unwrap();
    assert_eq!(*seen.borrow(), 0);
    let rev = match a.commit(Txn::new().absent("k").put("k", "from a")).unwrap() {
        jwk_store::Commit::Applied(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(b.get(b"k").unwrap().unwrap().value, b"from a");
    assert_eq!(
        b.commit(Txn::new().absent("k").put("k", "from b")).unwrap(),
        jwk_store::Commit::Conflict(0)
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(
            std::time::Duration::from_secs(10),
            seen.wait_for(|r| *r >= rev),
        )
        .await
        .expect("the NOTIFY arrives")
        .unwrap();
    });
    assert_eq!(*seen.borrow(), rev);
}

/// A database migrated by a newer release is refused, with the versions named.
#[test]
fn newer_schema_is_refused() {
    let Some(url) = fresh_database() else { return };
    drop(PgStore::connect(&url).unwrap());
    let db = url.rsplit_once('/').unwrap().1.to_owned();
    jwk_testkit::postgres::admin_on(&db, "UPDATE jwk_schema SET version = 99");
    let e = PgStore::connect(&url).unwrap_err();
    assert_eq!(
        e.0,
        format!(
            "the database's registry schema is version 99, newer than this release reads \
             ({SCHEMA_VERSION}): upgrade this node"
        )
    );
}

/// Two nodes starting at once on an empty database migrate it once.
#[test]
fn concurrent_first_starts_migrate_once() {
    let Some(url) = fresh_database() else { return };
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let url = url.clone();
            std::thread::spawn(move || PgStore::connect(&url).map(|s| s.revision().unwrap()))
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap().unwrap(), 0);
    }
}

/// A store that cannot reach its server fails with a StoreError, not a hang or a panic.
#[test]
fn unreachable_server_is_an_error() {
    if fresh_database().is_none() {
        return;
    }
    // A loopback port nobody listens on.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let e = PgStore::connect(&format!("postgres://postgres@127.0.0.1:{port}/x")).unwrap_err();
    assert!(e.0.starts_with("PostgreSQL connect: "), "{e}");
}

/// The named lock is shared by the nodes: held on one, refused on the other until released,
/// and released when the holding node's store goes away (its connections close).
#[test]
fn locks_are_shared_and_die_with_their_holder() {
    use std::time::Duration;
    let Some(url) = fresh_database() else { return };
    let a = PgStore::connect(&url).unwrap();
    let b = PgStore::connect(&url).unwrap();
    let held = a.lock("deploy/prod", Duration::from_secs(1)).unwrap();
    let e = b
        .lock("deploy/prod", Duration::from_millis(100))
        .unwrap_err();
    assert_eq!(
        e.0,
        "the lock \"deploy/prod\" is still held by another node after 0 s"
    );
    // Other names are independent.
    drop(b.lock("deploy/test", Duration::from_millis(100)).unwrap());
    drop(held);
    let again = b.lock("deploy/prod", Duration::from_secs(5)).unwrap();
    drop(b);
    // `again`'s connection belonged to b, now gone: the lock died with it.
    drop(again);
    let _third = a.lock("deploy/prod", Duration::from_secs(5)).unwrap();
}
