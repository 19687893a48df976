//! The Store conformance suite: every backend runs it (memory, sled, redb, PostgreSQL).

use std::collections::BTreeMap;
use std::sync::Arc;

use jwk_registry::store::{Commit, Compare, Feed, Op, Store, Txn, Versioned};

/// How the suite opens a backend's stores.
pub struct Backend {
    /// A new empty store.
    pub open: Box<dyn Fn() -> Arc<dyn Store>>,
    /// Reopens the store last opened (None for memory).
    pub reopen: Option<Box<dyn Fn() -> Arc<dyn Store>>>,
    /// A new empty store whose change feed keeps [`SMALL_FEED`] revisions.
    pub open_small_feed: Box<dyn Fn() -> Arc<dyn Store>>,
}

/// The feed length of [`Backend::open_small_feed`].
pub const SMALL_FEED: u64 = 4;

fn applied(c: Commit) -> u64 {
    match c {
        Commit::Applied(r) => r,
        Commit::Conflict(i) => panic!("expected Applied, got Conflict({i})"),
    }
}

/// Runs every check of the suite.
pub fn run(backend: &Backend) {
    basics(&*(backend.open)());
    compares(&*(backend.open)());
    atomic_multi_key(&*(backend.open)());
    scans(&*(backend.open)());
    pages(&*(backend.open)());
    feed(&*(backend.open)());
    feed_keeps_what_it_promises(&*(backend.open_small_feed)());
    model(&*(backend.open)());
    racing_creates((backend.open)());
    if let Some(reopen) = &backend.reopen {
        reopened(backend, reopen);
    }
}

fn basics(s: &dyn Store) {
    assert_eq!(s.revision().unwrap(), 0);
    assert_eq!(s.get(b"a").unwrap(), None);
    assert!(s.scan(b"").unwrap().is_empty());
    let r1 = applied(s.commit(Txn::new().put("a", "1")).unwrap());
    assert_eq!(r1, 1);
    let got = s.get(b"a").unwrap().unwrap();
    assert_eq!((got.value.as_slice(), got.revision), (&b"1"[..], 1));
    let r2 = applied(s.commit(Txn::new().put("a", "2").put("b", "x")).unwrap());
    assert_eq!(r2, 2);
    assert_eq!(s.get(b"a").unwrap().unwrap().revision, 2);
    assert_eq!(s.get(b"b").unwrap().unwrap().revision, 2);
    let r3 = applied(
        s.commit(Txn::new().delete("a").delete("never-there"))
            .unwrap(),
    );
    assert_eq!(r3, 3);
    assert_eq!(s.get(b"a").unwrap(), None);
    assert_eq!(s.revision().unwrap(), 3);
    // An empty value is a value.
    applied(s.commit(Txn::new().put("empty", "")).unwrap());
    assert_eq!(s.get(b"empty").unwrap().unwrap().value, b"");
}

fn compares(s: &dyn Store) {
    let r = applied(s.commit(Txn::new().absent("k").put("k", "v1")).unwrap());
    assert_eq!(
        s.commit(Txn::new().absent("k").put("k", "v2")).unwrap(),
        Commit::Conflict(0)
    );
    assert_eq!(s.get(b"k").unwrap().unwrap().value, b"v1");
    assert_eq!(
        s.commit(Txn::new().at("k", r + 1).put("k", "v2")).unwrap(),
        Commit::Conflict(0)
    );
    let r2 = applied(s.commit(Txn::new().at("k", r).put("k", "v2")).unwrap());
    assert_eq!(
        s.commit(Txn::new().at("k", r).put("k", "v3")).unwrap(),
        Commit::Conflict(0),
        "stale revision"
    );
    assert_eq!(
        s.commit(Txn::new().at("missing", 1)).unwrap(),
        Commit::Conflict(0)
    );
    assert_eq!(
        s.commit(Txn::new().absent("other").at("k", r2).absent("k"))
            .unwrap(),
        Commit::Conflict(2),
        "the index of the first failing compare"
    );
    assert_eq!(
        s.revision().unwrap(),
        r2,
        "a conflict does not advance the revision"
    );
}

fn atomic_multi_key(s: &dyn Store) {
    applied(s.commit(Txn::new().put("x", "1")).unwrap());
    let before = s.revision().unwrap();
    let c = s
        .commit(
            Txn::new()
                .absent("y")
                .absent("x")
                .put("y", "1")
                .put("z", "1")
                .delete("x"),
        )
        .unwrap();
    assert_eq!(c, Commit::Conflict(1));
    assert_eq!(s.get(b"y").unwrap(), None);
    assert_eq!(s.get(b"z").unwrap(), None);
    assert!(s.get(b"x").unwrap().is_some());
    assert_eq!(s.revision().unwrap(), before);
}

fn scans(s: &dyn Store) {
    for k in ["p/b", "p/a", "p/c/d", "q/a", "p", "o/z", "p\u{ff}"] {
        applied(s.commit(Txn::new().put(k, k)).unwrap());
    }
    let keys: Vec<String> = s
        .scan(b"p/")
        .unwrap()
        .into_iter()
        .map(|(k, _)| String::from_utf8(k).unwrap())
        .collect();
    assert_eq!(keys, ["p/a", "p/b", "p/c/d"]);
    for prefix in [&b"p/"[..], b"", b"p", b"nothing/"] {
        let full: Vec<(Vec<u8>, u64)> = s
            .scan(prefix)
            .unwrap()
            .into_iter()
            .map(|(k, v)| (k, v.revision))
            .collect();
        assert_eq!(s.scan_revisions(prefix).unwrap(), full, "{prefix:?}");
    }
    assert_eq!(s.scan(b"").unwrap().len(), 7);
    assert!(s.scan(b"nothing/").unwrap().is_empty());
}

fn keys_of(page: Vec<(Vec<u8>, Versioned)>) -> Vec<String> {
    page.into_iter()
        .map(|(k, _)| String::from_utf8(k).unwrap())
        .collect()
}

/// Pages of a prefix: a cursor after any key (listed or not, inside the prefix or before
/// it), limits, and a key written between two pages.
fn pages(s: &dyn Store) {
    for k in ["p/b", "p/a", "p/c/d", "q/a", "p", "o/z", "p\u{ff}", "p/e"] {
        applied(s.commit(Txn::new().put(k, k)).unwrap());
    }
    let page = |after: Option<&str>, limit| {
        keys_of(s.scan_page(b"p/", after.map(str::as_bytes), limit).unwrap())
    };
    assert_eq!(page(None, 2), ["p/a", "p/b"]);
    assert_eq!(page(Some("p/b"), 2), ["p/c/d", "p/e"]);
    assert_eq!(page(Some("p/e"), 2), Vec::<String>::new());
    assert_eq!(
        page(Some("p/bb"), 10),
        ["p/c/d", "p/e"],
        "a cursor that is no key"
    );
    assert_eq!(page(Some("o"), 1), ["p/a"], "a cursor before the prefix");
    assert_eq!(
        page(Some("z"), 10),
        Vec::<String>::new(),
        "a cursor past it"
    );
    assert_eq!(page(None, 0), Vec::<String>::new());
    assert_eq!(page(None, usize::MAX), ["p/a", "p/b", "p/c/d", "p/e"]);
    // Written between two pages: listed when it sorts after the cursor.
    let first = page(None, 2);
    applied(
        s.commit(Txn::new().put("p/aa", "x").put("p/d", "x"))
            .unwrap(),
    );
    assert_eq!(first, ["p/a", "p/b"]);
    assert_eq!(page(Some("p/b"), 10), ["p/c/d", "p/d", "p/e"]);
    let full = s.scan_page(b"", None, usize::MAX).unwrap();
    assert_eq!(full, s.scan(b"").unwrap());
    assert_eq!(
        s.scan_page(b"p/", Some(b"p/a"), 1).unwrap()[0].1.value,
        b"x"
    );
}

fn changes(s: &dyn Store, after: u64, max: usize) -> (u64, Vec<(u64, String)>) {
    match s.changes(after, max).unwrap() {
        Feed::Changes { through, keys } => (
            through,
            keys.into_iter()
                .map(|(r, k)| (r, String::from_utf8(k).unwrap()))
                .collect(),
        ),
        Feed::Gone => panic!("the feed after {after} (at most {max}) is gone"),
    }
}

/// The change feed lists every key each commit wrote (puts and deletes, once per commit),
/// in revision then key order; a conflict adds nothing; more than asked is `Gone`, and so
/// is a revision the store has not reached.
fn feed(s: &dyn Store) {
    assert_eq!(changes(s, 0, 10), (0, vec![]));
    applied(s.commit(Txn::new().put("b", "1").put("a", "1")).unwrap());
    applied(
        s.commit(Txn::new().put("a", "2").delete("a").put("a", "3"))
            .unwrap(),
    );
    applied(
        s.commit(Txn::new().delete("b").delete("never-there"))
            .unwrap(),
    );
    assert_eq!(
        s.commit(Txn::new().absent("a").put("c", "1")).unwrap(),
        Commit::Conflict(0)
    );
    let all = vec![
        (1, "a".to_owned()),
        (1, "b".to_owned()),
        (2, "a".to_owned()),
        (3, "b".to_owned()),
        (3, "never-there".to_owned()),
    ];
    assert_eq!(changes(s, 0, 10), (3, all.clone()));
    assert_eq!(changes(s, 0, 5), (3, all.clone()));
    assert_eq!(changes(s, 2, 10), (3, all[3..].to_vec()));
    assert_eq!(changes(s, 3, 10), (3, vec![]));
    assert_eq!(changes(s, 3, 0), (3, vec![]));
    assert_eq!(s.changes(0, 4).unwrap(), Feed::Gone, "more than asked");
    assert_eq!(s.changes(4, 10).unwrap(), Feed::Gone, "ahead of the store");
    // A commit with no writes has a revision and lists nothing.
    let r = applied(s.commit(Txn::new().at("a", 2)).unwrap());
    assert_eq!(changes(s, 3, 10), (r, vec![]));
}

/// A feed keeping [`SMALL_FEED`] revisions answers for the last ones and says `Gone`
/// before them, never a partial list.
fn feed_keeps_what_it_promises(s: &dyn Store) {
    for i in 0..10u64 {
        applied(s.commit(Txn::new().put(format!("k{i}"), "v")).unwrap());
    }
    let floor = 10 - SMALL_FEED;
    let (through, keys) = changes(s, floor, 100);
    assert_eq!(through, 10);
    assert_eq!(
        keys,
        (floor + 1..=10)
            .map(|r| (r, format!("k{}", r - 1)))
            .collect::<Vec<_>>()
    );
    assert_eq!(s.changes(floor - 1, 100).unwrap(), Feed::Gone);
    assert_eq!(s.changes(0, 100).unwrap(), Feed::Gone);
}

/// The `Store` contract written out on its own (not `MemoryStore`, which is itself checked
/// against it): compares in order, the first that fails is the conflict and nothing is
/// written; otherwise the revision goes up by one and the writes apply in order, each put
/// stamped with the new revision.
#[derive(Default)]
struct Model {
    entries: BTreeMap<Vec<u8>, (Vec<u8>, u64)>,
    revision: u64,
}

impl Model {
    fn commit(&mut self, txn: Txn) -> Commit {
        for (i, compare) in txn.compares.iter().enumerate() {
            let holds = match compare {
                Compare::Absent(key) => !self.entries.contains_key(key),
                Compare::At(key, at) => self.entries.get(key).is_some_and(|(_, r)| r == at),
            };
            if !holds {
                return Commit::Conflict(i);
            }
        }
        self.revision += 1;
        for op in txn.ops {
            match op {
                Op::Put(key, value) => {
                    self.entries.insert(key, (value, self.revision));
                }
                Op::Delete(key) => {
                    self.entries.remove(&key);
                }
            }
        }
        Commit::Applied(self.revision)
    }

    fn revision_of(&self, key: &[u8]) -> Option<u64> {
        self.entries.get(key).map(|(_, r)| *r)
    }

    fn scan(&self, prefix: &[u8]) -> Vec<(Vec<u8>, Versioned)> {
        self.entries
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, (value, revision))| {
                (
                    k.clone(),
                    Versioned {
                        value: value.clone(),
                        revision: *revision,
                    },
                )
            })
            .collect()
    }
}

/// A long random sequence of transactions applied to the store and to the model: every
/// result and the final contents must agree.
fn model(s: &dyn Store) {
    let mut model = Model::default();
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for _ in 0..400 {
        let mut txn = Txn::new();
        for _ in 0..next(3) {
            let key = format!("m/{}", next(8));
            txn = if next(2) == 0 {
                txn.absent(key)
            } else {
                let rev = model.revision_of(key.as_bytes()).unwrap_or(next(5));
                txn.at(key, rev)
            };
        }
        for _ in 0..1 + next(3) {
            let key = format!("m/{}", next(8));
            txn = if next(4) == 0 {
                txn.delete(key)
            } else {
                txn.put(key, format!("{}", next(1000)))
            };
        }
        assert_eq!(s.commit(txn.clone()).unwrap(), model.commit(txn));
    }
    assert_eq!(s.scan(b"m/").unwrap(), model.scan(b"m/"));
    assert_eq!(s.revision().unwrap(), model.revision);
}

/// Eight threads create the same key at once: exactly one wins.
fn racing_creates(s: Arc<dyn Store>) {
    for round in 0..20 {
        let key = format!("race/{round}");
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let s = s.clone();
                let key = key.clone();
                std::thread::spawn(move || {
                    s.commit(Txn::new().absent(key.clone()).put(key, format!("{t}")))
                        .unwrap()
                })
            })
            .collect();
        let wins = handles
            .into_iter()
            .map(|h| h.join().unwrap())
            .filter(|c| matches!(c, Commit::Applied(_)))
            .count();
        assert_eq!(wins, 1, "round {round}");
    }
}

fn reopened(backend: &Backend, reopen: &dyn Fn() -> Arc<dyn Store>) {
    {
        let s = (backend.open)();
        applied(s.commit(Txn::new().put("keep/1", "one")).unwrap());
        applied(
            s.commit(Txn::new().put("keep/2", "two").delete("keep/1"))
                .unwrap(),
        );
    }
    let s = reopen();
    assert_eq!(s.revision().unwrap(), 2);
    assert_eq!(
        changes(&*s, 0, 10),
        (
            2,
            vec![
                (1, "keep/1".to_owned()),
                (2, "keep/1".to_owned()),
                (2, "keep/2".to_owned())
            ]
        ),
        "the feed survives a reopen"
    );
    assert_eq!(s.get(b"keep/1").unwrap(), None);
    let two = s.get(b"keep/2").unwrap().unwrap();
    assert_eq!((two.value.as_slice(), two.revision), (&b"two"[..], 2));
    assert_eq!(
        applied(s.commit(Txn::new().put("keep/3", "three")).unwrap()),
        3
    );
}

/// Runs the suite on a disk-backed store: `open(path, feed)` opens (or creates) the store at
/// a path inside a temporary directory, its change feed keeping `feed` revisions; each fresh
/// store gets its own path, and reopening uses the path of the last one.
pub fn run_on_disk(open: impl Fn(&std::path::Path, u64) -> Arc<dyn Store> + 'static) {
    use std::cell::RefCell;
    use std::rc::Rc;
    let root = crate::temp_dir();
    let base = root.path().to_path_buf();
    let open = Rc::new(open);
    let current = Rc::new(RefCell::new((0usize, base.clone())));
    let fresh = {
        let (current, open) = (current.clone(), open.clone());
        move |feed: u64| {
            let mut cur = current.borrow_mut();
            cur.0 += 1;
            cur.1 = base.join(format!("store{}", cur.0));
            open(&cur.1, feed)
        }
    };
    let fresh = Rc::new(fresh);
    let small = fresh.clone();
    run(&Backend {
        open: Box::new(move || fresh(jwk_registry::store::FEED_REVISIONS)),
        reopen: Some(Box::new(move || {
            open(&current.borrow().1, jwk_registry::store::FEED_REVISIONS)
        })),
        open_small_feed: Box::new(move || small(SMALL_FEED)),
    });
}
