//! Measures how long a change committed through one node takes to reach another node's
//! in-process resolver over PostgreSQL (commit → NOTIFY → LISTEN → refresh), over many
//! changes: `cargo run --release --example propagation -- URL [CHANGES]`, or
//! `scripts/pg-measure.sh`, which starts a throw-away server. URL is a database this program
//! may fill (a fresh one).
//!
//! Both nodes live in this process but share nothing but the database: each has its own
//! store (connection pool and LISTEN connection), registry and resolver, as two `jwkd`
//! processes would. The clock starts when node A is asked to apply a change (a new EC key:
//! generation, commit and A's own deployment are in the figure) and stops when node B's
//! resolver serves that revision (polled with a lock-free load, every ~20 µs).

use std::sync::Arc;
use std::time::{Duration, Instant};

use jwk_engine::Usage;
use jwk_engine::core::{EcCurve, KeySpec};
use jwk_engine::registry::TargetConfig;
use jwk_engine::registry::{Command, MasterKey, NewJwk, Registry, RegistryConfig, Source};

fn node(url: &str, key: [u8; 32]) -> Arc<Registry> {
    let store = Arc::new(jwk_engine::postgres::PgStore::connect(url).expect("connect"));
    Arc::new(Registry::new(
        store,
        MasterKey::from_bytes(key),
        RegistryConfig::default(),
    ))
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(url) = args.next() else {
        eprintln!("usage: propagation URL [CHANGES]   (or scripts/pg-measure.sh)");
        std::process::exit(2);
    };
    let changes: usize = args.next().map_or(1000, |n| n.parse().expect("CHANGES"));
    let mut key = [0u8; 32];
    getrandom::fill(&mut key).expect("random");
    let a = node(&url, key);
    let b = node(&url, key);
    let token = a.bootstrap().expect("an empty database");
    let admin = a.authenticate(&token).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let apply = |command: Command| rt.block_on(a.apply(&admin, command)).unwrap();
    apply(Command::CreateProject { name: "p".into() });
    apply(Command::CreateEnvironment {
        name: "edge".into(),
        target: TargetConfig::Memory,
    });
    // Each node's controllers keep its resolver current with the other's changes.
    let settings = jwk_engine::controllers::Settings::default();
    let _a = jwk_engine::controllers::start(a.clone(), rt.handle(), settings);
    let _b = jwk_engine::controllers::start(b.clone(), rt.handle(), settings);
    let resolver = b.resolver("edge");

    let mut latencies: Vec<Duration> = Vec::with_capacity(changes);
    let started = Instant::now();
    for i in 0..changes {
        let source = Source::Generate {
            spec: KeySpec::Ec(EcCurve::P256),
            kid: None,
        };
        let jwk = NewJwk::new(format!("k{i}"), source).usage(Usage::Signature, "ES256");
        let asked = Instant::now();
        let outcome = apply(Command::CreateJwk {
            project: "p".into(),
            jwk,
        });
        let revision = outcome.revision.expect("a new key is committed");
        let deadline = asked + Duration::from_secs(10);
        while resolver.revision() < revision {
            assert!(
                Instant::now() < deadline,
                "change {i} not visible on B after 10 s"
            );
            std::thread::sleep(Duration::from_micros(20));
        }
        latencies.push(asked.elapsed());
    }
    let total = started.elapsed();
    let tenth = (changes / 10).max(1);
    let median = |part: &[Duration]| {
        let mut v = part.to_vec();
        v.sort();
        percentile(&v, 0.5)
    };
    let (early, late) = (
        median(&latencies[..tenth]),
        median(&latencies[changes - tenth..]),
    );
    latencies.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{changes} changes applied on A, visible in B's resolver: p50 {:.2} ms, p90 {:.2} ms, \
         p99 {:.2} ms, max {:.2} ms ({:.1} s in all; the registry grew to {changes} JWKs)",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.9)),
        ms(percentile(&latencies, 0.99)),
        ms(*latencies.last().unwrap()),
        total.as_secs_f64()
    );
    println!(
        "median of the first {tenth} changes {:.2} ms, of the last {tenth} {:.2} ms (each \
         refresh lists every record's revision, so the cost grows with the registry)",
        ms(early),
        ms(late)
    );
}
