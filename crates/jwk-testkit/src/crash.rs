//! The kill -9 test: a child process writes and acknowledges commits, the parent kills it at
//! a random moment, reopens the store and checks that every acknowledged write is there and
//! no record is torn.
//!
//! The child is the test binary itself, re-run with [`CHILD_ENV`] set on one ignored test.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jwk_registry::store::{Commit, Store, Txn};

/// Set in the child's environment to the store directory.
pub const CHILD_ENV: &str = "JWK_CRASH_CHILD_DIR";

/// The value written for key number `i`: its size and bytes depend on `i`, so a torn or
/// mixed-up record shows.
pub fn value_for(i: u64) -> Vec<u8> {
    let len = 200 + (i * 7919 % 3800) as usize;
    (0..len).map(|j| (i as usize * 31 + j) as u8).collect()
}

/// The child: opens the store and writes `crash/<n>` keys, printing `ack <n>` after each
/// commit returns, until it is killed (or 100,000 writes). Does nothing without [`CHILD_ENV`].
pub fn child(open: impl Fn(&Path) -> Arc<dyn Store>) {
    let Ok(dir) = std::env::var(CHILD_ENV) else {
        return;
    };
    let store = open(Path::new(&dir));
    let start = store.scan(b"crash/").expect("scan").len() as u64;
    for i in start..start + 100_000 {
        let key = format!("crash/{i:010}");
        // Two keys per commit: a torn transaction would show one without the other.
        let txn = Txn::new()
            .absent(key.clone())
            .put(key.clone(), value_for(i))
            .put(format!("pair/{i:010}"), i.to_string());
        match store.commit(txn).expect("commit") {
            Commit::Applied(_) => println!("ack {i}"),
            Commit::Conflict(_) => panic!("key {i} already there"),
        }
    }
}

/// The parent: `cycles` rounds of start child, kill -9 after a random delay, reopen and check.
/// `test_name` is the ignored test that calls [`child`].
pub fn run(dir: &Path, test_name: &str, cycles: usize, open: impl Fn(&Path) -> Arc<dyn Store>) {
    let mut seed = std::process::id() as u64 ^ 0x2545_f491_4f6c_dd1d;
    let mut acked_total = 0u64;
    for cycle in 0..cycles {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let delay = Duration::from_millis(30 + seed % 400);
        let mut child = Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                test_name,
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD_ENV, dir)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the writer");
        let stdout = child.stdout.take().expect("stdout");
        let reader = std::thread::spawn(move || {
            let mut acked = Vec::new();
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(n) = line.strip_prefix("ack ") {
                    acked.push(n.trim().parse::<u64>().expect("ack number"));
                }
            }
            acked
        });
        let started = Instant::now();
        while started.elapsed() < delay {
            if child.try_wait().expect("wait").is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().expect("kill -9");
        child.wait().expect("reap");
        let acked = reader.join().expect("reader");
        acked_total += acked.len() as u64;

        let store = open(dir);
        let rows = store.scan(b"crash/").expect("scan after kill");
        let pairs = store.scan(b"pair/").expect("scan pairs");
        assert_eq!(
            rows.len(),
            pairs.len(),
            "cycle {cycle}: a transaction was torn"
        );
        for (n, (key, v)) in rows.iter().enumerate() {
            let i: u64 = std::str::from_utf8(&key[6..]).unwrap().parse().unwrap();
            assert_eq!(i, n as u64, "cycle {cycle}: a gap before key {i}");
            assert_eq!(v.value, value_for(i), "cycle {cycle}: record {i} is torn");
        }
        for i in &acked {
            assert!(
                (*i as usize) < rows.len(),
                "cycle {cycle}: acknowledged write {i} lost ({} rows)",
                rows.len()
            );
        }
        drop(store);
    }
    assert!(acked_total > 0, "the writer never acknowledged anything");
}

/// Kill cycles of a run: `JWK_CRASH_CYCLES`, default 5.
pub fn cycles() -> usize {
    std::env::var("JWK_CRASH_CYCLES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5)
}

/// Declares the kill -9 test of a store and its child writer (run ignored, by the parent):
/// `crash_tests!(open, "db")` where `open(&Path) -> Arc<dyn Store>` opens the store at a
/// path (`"db"`) inside a temporary directory.
#[macro_export]
macro_rules! crash_tests {
    ($open:path, $file:expr) => {
        #[test]
        #[ignore = "the child writer of kill_9_loses_no_acknowledged_write"]
        fn crash_child_writer() {
            $crate::crash::child($open);
        }

        #[test]
        fn kill_9_loses_no_acknowledged_write() {
            let dir = $crate::temp_dir();
            $crate::crash::run(
                &dir.path().join($file),
                "crash_child_writer",
                $crate::crash::cycles(),
                $open,
            );
        }
    };
}
