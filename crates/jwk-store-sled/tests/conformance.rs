//! sled passes the conformance suite, reopen included.

use std::cell::RefCell;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;

use jwk_store_sled::SledStore;
use jwk_testkit::conformance::{Backend, run};

#[test]
fn sled_store_conformance() {
    let root = jwk_testkit::temp_dir();
    let base = root.path().to_path_buf();
    let current: Rc<RefCell<(usize, PathBuf)>> = Rc::new(RefCell::new((0, base.clone())));
    let (c1, c2) = (current.clone(), current.clone());
    run(&Backend {
        open: Box::new(move || {
            let mut cur = c1.borrow_mut();
            cur.0 += 1;
            cur.1 = base.join(format!("db{}", cur.0));
            Arc::new(SledStore::open(&cur.1).unwrap())
        }),
        reopen: Some(Box::new(move || {
            Arc::new(SledStore::open(&c2.borrow().1).unwrap())
        })),
    });
}
