//! How the registry's costs grow with its size: `scripts/scale.sh N` runs this for 0 and N
//! JWKs (and as many credentials) on sled, redb and PostgreSQL and prints the table the
//! README shows.
//!
//! ```text
//! scale build   --data-dir D [--postgres URL] [--store sled|redb] --n N
//! scale measure --data-dir D [--postgres URL] [--store sled|redb] [--seconds S]
//!               [--concurrency C] [--peer]
//! ```
//!
//! `build` makes a registry of N generated P-256 JWKs in project `scale`, and N credentials
//! whose validation slot holds one each, with one memory environment `edge`. It applies
//! every command through the registry's pipeline on an in-memory store (fast: no fsync per
//! change), then copies the records into the chosen store in large transactions; the
//! master key stays in the data dir, as for `jwkd`.
//!
//! `measure` opens that registry as a restarted node would and prints one JSON line:
//! - `restartSeconds`: from opening the store to the edge environment's public JWKS served
//!   (every approved JWK read, opened and published);
//! - `rssBytes`: the process's resident memory then (`VmRSS`);
//! - `create`, `update`, `delete`: S seconds each of Create JWK (a new P-256 key), Update JWK
//!   (a description, on existing JWKs) and Delete JWK (of those created), from C concurrent
//!   tasks: changes per second and latency percentiles of one change (commit and
//!   deployment to the memory environment, as a request waits for them);
//! - `jwks304PerSecond`: conditional requests of the public JWKS answered per second
//!   (the registry's side of a 304: the version's tag, compared);
//! - with `--peer` (PostgreSQL): a second node on the same database, its controllers keeping
//!   its resolver current, and the latency from a change applied on this node to the peer's
//!   resolver serving it (500 changes).

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use jwk_engine::Usage;
use jwk_engine::core::{EcCurve, KeySpec};
use jwk_engine::registry::store::{MemoryStore, Store, Txn};
use jwk_engine::registry::{
    Actor, Command, JwkUpdate, NewJwk, Registry, RegistryConfig, Slot, Source, TargetConfig,
};

const PROJECT: &str = "scale";
const ENV: &str = "edge";

struct Args {
    command: String,
    data_dir: PathBuf,
    postgres: Option<String>,
    store: String,
    n: usize,
    seconds: f64,
    concurrency: usize,
    peer: bool,
}

fn args() -> Args {
    let mut it = std::env::args().skip(1);
    let mut a = Args {
        command: it.next().unwrap_or_default(),
        data_dir: PathBuf::new(),
        postgres: None,
        store: "sled".into(),
        n: 0,
        seconds: 5.0,
        concurrency: 16,
        peer: false,
    };
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .unwrap_or_else(|| usage(&format!("{flag} needs a value")))
        };
        match flag.as_str() {
            "--data-dir" => a.data_dir = value().into(),
            "--postgres" => a.postgres = Some(value()),
            "--store" => a.store = value(),
            "--n" => a.n = value().parse().unwrap_or_else(|_| usage("--n: a number")),
            "--seconds" => {
                a.seconds = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--seconds: a number"))
            }
            "--concurrency" => {
                a.concurrency = value()
                    .parse()
                    .unwrap_or_else(|_| usage("--concurrency: a number"))
            }
            "--peer" => a.peer = true,
            other => usage(&format!("unknown argument {other}")),
        }
    }
    if a.data_dir.as_os_str().is_empty() {
        usage("--data-dir is required");
    }
    a
}

fn usage(why: &str) -> ! {
    eprintln!(
        "scale: {why}\nusage: scale build|measure --data-dir D [--postgres URL] [--store sled|redb] [--n N] [--seconds S] [--concurrency C] [--peer]"
    );
    std::process::exit(2)
}

fn open(a: &Args) -> Arc<Registry> {
    let config = RegistryConfig::default();
    let registry = match &a.postgres {
        Some(url) => jwk_engine::open_postgres_registry(
            url,
            jwk_engine::postgres::PgOptions::default(),
            &a.data_dir,
            config,
        ),
        None => {
            let kind = jwk_engine::StoreKind::parse(&a.store)
                .unwrap_or_else(|| usage("--store: sled or redb"));
            jwk_engine::open_registry(kind, &a.data_dir, config)
        }
    };
    Arc::new(registry.unwrap_or_else(|e| {
        eprintln!("scale: {e}");
        std::process::exit(1)
    }))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime")
}

fn generated(name: String) -> NewJwk {
    let source = Source::Generate {
        spec: KeySpec::Ec(EcCurve::P256),
        kid: None,
    };
    NewJwk::new(name, source).usage(Usage::Signature, "ES256")
}

/// Applies `commands` from `concurrency` tasks; panics on the first refusal.
fn apply_all(
    rt: &tokio::runtime::Runtime,
    reg: &Arc<Registry>,
    admin: &Actor,
    commands: Vec<Command>,
    concurrency: usize,
) {
    let commands = Arc::new(std::sync::Mutex::new(commands.into_iter()));
    rt.block_on(async {
        let tasks: Vec<_> = (0..concurrency)
            .map(|_| {
                let (reg, admin, commands) = (reg.clone(), admin.clone(), commands.clone());
                tokio::spawn(async move {
                    loop {
                        let next = commands.lock().unwrap().next();
                        let Some(command) = next else { break };
                        reg.apply(&admin, command).await.expect("a build command");
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.expect("a build task");
        }
    });
}

fn build(a: &Args) {
    let target = open(a);
    let token = target.bootstrap().expect("an empty registry");
    std::fs::write(a.data_dir.join("admin-token"), &token).expect("the admin token");
    let key = jwk_engine::registry::MasterKey::load_or_create(&a.data_dir.join("master.key"))
        .expect("the master key");
    // The records are made on a store in memory, then copied.
    let memory = Arc::new(MemoryStore::new());
    for (k, v) in target.store().scan(b"").expect("the new store") {
        let txn = Txn::new().put(k, v.value);
        memory.commit(txn).expect("memory");
    }
    let reg = Arc::new(Registry::new(
        memory.clone(),
        key,
        RegistryConfig::default(),
    ));
    let admin = reg.authenticate(&token).expect("the admin");
    let rt = runtime();
    let started = Instant::now();
    apply_all(
        &rt,
        &reg,
        &admin,
        vec![
            Command::CreateProject {
                name: PROJECT.into(),
            },
            Command::CreateEnvironment {
                name: ENV.into(),
                target: TargetConfig::Memory,
            },
        ],
        1,
    );
    let jwks = (0..a.n)
        .map(|i| Command::CreateJwk {
            project: PROJECT.into(),
            jwk: generated(format!("jwk-{i}")),
        })
        .collect();
    apply_all(&rt, &reg, &admin, jwks, a.concurrency);
    let credentials = (0..a.n)
        .flat_map(|i| {
            [
                Command::CreateCredential {
                    project: PROJECT.into(),
                    username: format!("consumer-{i}"),
                },
                Command::SetCredentialJwk {
                    project: PROJECT.into(),
                    username: format!("consumer-{i}"),
                    slot: Slot::Validation,
                    jwk: Some(format!("jwk-{i}")),
                },
            ]
        })
        .collect::<Vec<_>>();
    // In order per credential: one task per pair.
    let pairs: Vec<Command> = credentials;
    apply_all(&rt, &reg, &admin, pairs, 1);
    let made = started.elapsed();
    // Copy, in transactions of 2,000 records.
    let copy_started = Instant::now();
    let existing: std::collections::HashSet<Vec<u8>> = target
        .store()
        .scan(b"")
        .expect("the store")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    let mut txn = Txn::new();
    let mut records = 0usize;
    for (k, v) in memory.scan(b"").expect("memory") {
        if k.starts_with(b"deploy/") {
            continue; // what environments served, at the memory store's revisions
        }
        txn = if existing.contains(&k) {
            txn.put(k, v.value)
        } else {
            txn.absent(k.clone()).put(k, v.value)
        };
        records += 1;
        if txn.ops.len() >= 2000 {
            target
                .store()
                .commit(std::mem::take(&mut txn))
                .expect("a copy");
        }
    }
    if !txn.ops.is_empty() {
        target.store().commit(txn).expect("a copy");
    }
    println!(
        "{{\"built\":{},\"records\":{records},\"applySeconds\":{:.1},\"copySeconds\":{:.1}}}",
        a.n,
        made.as_secs_f64(),
        copy_started.elapsed().as_secs_f64()
    );
}

fn rss_bytes() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map_or(0, |kb| kb * 1024)
}

/// The latency at percentile `p` (0 to 1) of sorted `latencies`, in milliseconds.
fn percentile_ms(latencies: &[Duration], p: f64) -> f64 {
    if latencies.is_empty() {
        return 0.0;
    }
    let i = ((latencies.len() as f64 - 1.0) * p).round() as usize;
    latencies[i].as_secs_f64() * 1000.0
}

/// Latency figures, as JSON members: under load (`loaded`, from every task) and one change
/// at a time (`alone`).
fn figures(loaded: &mut [Duration], alone: &mut [Duration], seconds: f64) -> String {
    loaded.sort();
    alone.sort();
    format!(
        "{{\"perSecond\":{:.0},\"p50Ms\":{:.2},\"p99Ms\":{:.2},\"maxMs\":{:.2},\"aloneP50Ms\":{:.2},\"aloneP99Ms\":{:.2}}}",
        loaded.len() as f64 / seconds,
        percentile_ms(loaded, 0.5),
        percentile_ms(loaded, 0.99),
        percentile_ms(loaded, 1.0),
        percentile_ms(alone, 0.5),
        percentile_ms(alone, 0.99),
    )
}

/// What makes the next change of a kind (`None`: no more).
type Make = Arc<dyn Fn() -> Option<Command> + Send + Sync>;

/// Runs `make()` from `tasks` concurrent tasks for `seconds` (or until it gives nothing);
/// the latency of each change.
fn timed(
    rt: &tokio::runtime::Runtime,
    reg: &Arc<Registry>,
    admin: &Actor,
    tasks: usize,
    seconds: f64,
    make: Make,
) -> Vec<Duration> {
    let deadline = Instant::now() + Duration::from_secs_f64(seconds);
    rt.block_on(async {
        let tasks: Vec<_> = (0..tasks)
            .map(|_| {
                let (reg, admin, make) = (reg.clone(), admin.clone(), make.clone());
                tokio::spawn(async move {
                    let mut out = Vec::new();
                    while Instant::now() < deadline {
                        let Some(command) = make() else { break };
                        let asked = Instant::now();
                        reg.apply(&admin, command).await.expect("a measured change");
                        out.push(asked.elapsed());
                    }
                    out
                })
            })
            .collect();
        let mut all = Vec::new();
        for t in tasks {
            all.extend(t.await.expect("a task"));
        }
        all
    })
}

/// One kind of change: `seconds` from every task, then half as long one at a time.
fn kind(
    rt: &tokio::runtime::Runtime,
    reg: &Arc<Registry>,
    admin: &Actor,
    a: &Args,
    make: Make,
) -> String {
    let mut loaded = timed(rt, reg, admin, a.concurrency, a.seconds, make.clone());
    let mut alone = timed(rt, reg, admin, 1, a.seconds / 2.0, make);
    figures(&mut loaded, &mut alone, a.seconds)
}

fn measure(a: &Args) {
    let started = Instant::now();
    let reg = open(a);
    let rt = runtime();
    rt.block_on(reg.refresh_local())
        .expect("the first deployment");
    let published = reg
        .published_jwks(ENV)
        .expect("the edge environment is served");
    let keys = published.body().matches("\"kty\"").count();
    let restart = started.elapsed().as_secs_f64();
    let rss = rss_bytes();
    let token = std::fs::read_to_string(a.data_dir.join("admin-token")).expect("admin-token");
    let admin = reg.authenticate(token.trim()).expect("the admin");

    // Conditional requests: the tag of the version, compared.
    let tag = published.etag.to_string();
    let t = Instant::now();
    let mut answered = 0u64;
    while t.elapsed() < Duration::from_millis(500) {
        for _ in 0..1000 {
            let p = reg.published_jwks(ENV).expect("served");
            answered += u64::from(*p.etag == *tag);
        }
    }
    let per_304 = answered as f64 / t.elapsed().as_secs_f64();

    let run = std::process::id();
    let made = Arc::new(AtomicUsize::new(0));
    let m = made.clone();
    let create = kind(
        &rt,
        &reg,
        &admin,
        a,
        Arc::new(move || {
            Some(Command::CreateJwk {
                project: PROJECT.into(),
                jwk: generated(format!("new-{run}-{}", m.fetch_add(1, Ordering::Relaxed))),
            })
        }),
    );
    let created = made.load(Ordering::Relaxed);
    let updated = Arc::new(AtomicUsize::new(0));
    let update = kind(
        &rt,
        &reg,
        &admin,
        a,
        Arc::new(move || {
            let i = updated.fetch_add(1, Ordering::Relaxed);
            Some(Command::UpdateJwk {
                project: PROJECT.into(),
                name: if keys > 0 {
                    format!("jwk-{}", i % keys)
                } else {
                    format!("new-{run}-{}", i % created.max(1))
                },
                update: JwkUpdate {
                    name: None,
                    description: Some(format!("update {i}")),
                },
            })
        }),
    );
    let deleted = Arc::new(AtomicUsize::new(0));
    let delete = kind(
        &rt,
        &reg,
        &admin,
        a,
        Arc::new(move || {
            let i = deleted.fetch_add(1, Ordering::Relaxed);
            (i < created).then(|| Command::DeleteJwk {
                project: PROJECT.into(),
                name: format!("new-{run}-{i}"),
            })
        }),
    );
    let mut peer = String::new();
    if a.peer {
        peer = format!(",\"peer\":{}", propagation(a, &rt, &reg, &admin));
    }
    println!(
        "{{\"keys\":{keys},\"restartSeconds\":{restart:.2},\"rssBytes\":{rss},\"jwks304PerSecond\":{per_304:.0},\"create\":{create},\"update\":{update},\"delete\":{delete}{peer}}}"
    );
}

/// A second node on the same PostgreSQL database: how long a change applied here takes to
/// reach its resolver.
fn propagation(
    a: &Args,
    rt: &tokio::runtime::Runtime,
    reg: &Arc<Registry>,
    admin: &Actor,
) -> String {
    let peer = open(a);
    let settings = jwk_engine::controllers::Settings::default();
    let _peer = jwk_engine::controllers::start(peer.clone(), rt.handle(), settings);
    rt.block_on(peer.refresh_local())
        .expect("the peer's first deployment");
    let resolver = peer.resolver(ENV);
    let run = std::process::id();
    let mut latencies = Vec::new();
    for i in 0..500 {
        let asked = Instant::now();
        let outcome = rt
            .block_on(reg.apply(
                admin,
                Command::CreateJwk {
                    project: PROJECT.into(),
                    jwk: generated(format!("peer-{run}-{i}")),
                },
            ))
            .expect("a change");
        let revision = outcome.revision.expect("committed");
        let deadline = asked + Duration::from_secs(10);
        while resolver.revision() < revision {
            assert!(
                Instant::now() < deadline,
                "change {i} not on the peer after 10 s"
            );
            std::thread::sleep(Duration::from_micros(20));
        }
        latencies.push(asked.elapsed());
    }
    latencies.sort();
    format!(
        "{{\"p50Ms\":{:.2},\"p99Ms\":{:.2},\"maxMs\":{:.2}}}",
        percentile_ms(&latencies, 0.5),
        percentile_ms(&latencies, 0.99),
        percentile_ms(&latencies, 1.0)
    )
}

fn main() {
    let a = args();
    match a.command.as_str() {
        "build" => build(&a),
        "measure" => measure(&a),
        _ => usage("build or measure"),
    }
}
