//! Two real `jwkd` processes on one PostgreSQL database (the throw-away server of
//! scripts/test.sh): races between the nodes, propagation to the other node's in-process
//! resolver, deploy-once-per-change, catch-up after downtime, and kill -9 mid-write.

mod common;

use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{Server, deployed};
use jwk_testkit::TempDir;
use serde_json::{Value, json};

struct Cluster {
    url: String,
    dirs: Vec<TempDir>,
    admin: String,
}

impl Cluster {
    /// A fresh database and node A's data dir (A bootstraps the registry on first serve).
    fn new() -> Option<(Cluster, Server)> {
        let url = jwk_testkit::postgres::fresh_database()?;
        let a_dir = jwk_testkit::temp_dir();
        let a = node(a_dir.path(), &url);
        let admin = std::fs::read_to_string(a_dir.path().join("admin-token"))
            .unwrap()
            .trim()
            .to_owned();
        Some((
            Cluster {
                url,
                dirs: vec![a_dir],
                admin,
            },
            a,
        ))
    }

    /// Another node's data dir, with the first node's master key.
    fn add_dir(&mut self) -> usize {
        let dir = jwk_testkit::temp_dir();
        std::fs::copy(
            self.dirs[0].path().join("master.key"),
            dir.path().join("master.key"),
        )
        .unwrap();
        self.dirs.push(dir);
        self.dirs.len() - 1
    }

    fn start(&self, i: usize) -> Server {
        node(self.dirs[i].path(), &self.url)
    }
}

fn node(dir: &Path, url: &str) -> Server {
    Server::start_with(dir, &["--postgres", url], Stdio::null())
}

const JWKS: &str = "/apiops/projects/p/jwks/";
const GENERATE: &str = "/apiops/projects/p/jwks/generate/";

fn setup(s: &Server, admin: &str, envs: &[Value]) {
    common::setup(s, admin, envs, "p");
}

/// Nodes A and B on a fresh database, with the project `p` and the memory environment `edge`.
fn two_nodes_with_a_memory_environment() -> Option<(Cluster, Server, Server)> {
    let (mut c, a) = Cluster::new()?;
    let b_dir = c.add_dir();
    let b = c.start(b_dir);
    setup(
        &a,
        &c.admin,
        &[json!({"name": "edge", "target": {"type": "memory"}})],
    );
    Some((c, a, b))
}

fn generate(name: &str) -> String {
    json!({"name": name, "keyType": "EC", "curve": "P-256", "useType": "SIGNATURE", "algorithm": "ES256"}).to_string()
}

/// The kids a node's in-process resolver serves for `env`, and its revision (the ETag).
fn served(s: &Server, admin: &str, env: &str) -> (Vec<String>, u64) {
    let (status, headers, body) = s.call_with_headers(
        "GET",
        &format!("/apiops/environments/{env}/jwks"),
        Some(admin),
        None,
    );
    assert_eq!(status, 200, "{body}");
    let etag = headers["etag"]
        .to_str()
        .unwrap()
        .trim_matches('"')
        .to_owned();
    (common::sorted_kids(&body), etag.parse().unwrap())
}

/// The kid of a JWK as the node reads it from the store.
fn kid(s: &Server, admin: &str, name: &str) -> String {
    let (status, body) = s.call("GET", &format!("{JWKS}{name}/"), Some(admin), None);
    assert_eq!(status, 200, "{body}");
    body["resultItem"]["jwk"]["kid"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Waits (bounded) until the node's resolver serves exactly `kids`.
fn wait_served(s: &Server, admin: &str, env: &str, kids: &[String]) {
    let mut want = kids.to_vec();
    want.sort();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (got, revision) = served(s, admin, env);
        if got == want {
            return;
        }
        let missing: Vec<_> = want.iter().filter(|k| !got.contains(k)).collect();
        let extra: Vec<_> = got.iter().filter(|k| !want.contains(k)).collect();
        assert!(
            Instant::now() < deadline,
            "{env}: serves {} kids at revision {revision}, want {}: missing {missing:?}, extra \
             {extra:?}",
            got.len(),
            want.len()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_change_on_one_node_reaches_the_other_and_deploys_once() {
    let Some((mut c, a)) = Cluster::new() else {
        return;
    };
    let down = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let hook_down = down.clone();
    let hook = jwk_testkit::HttpStub::start(move |_, s| {
        if hook_down.load(std::sync::atomic::Ordering::SeqCst) {
            jwk_testkit::respond(s, "503 Service Unavailable", &[], b"");
        } else {
            jwk_testkit::respond(s, "204 No Content", &[], b"");
        }
    });
    let b_dir = c.add_dir();
    let b = c.start(b_dir);
    setup(
        &a,
        &c.admin,
        &[
            json!({"name": "edge", "target": {"type": "memory"}}),
            json!({"name": "gateway", "target": {"type": "webhook", "url": hook.url("/deploy")}}),
        ],
    );
    let admin = c.admin.clone();

    // Created on A: B's store reads see it, and B's in-process resolver serves it.
    assert_eq!(
        a.call("POST", GENERATE, Some(&admin), Some(&generate("signing"))),
        (200, deployed(&["edge", "gateway"]))
    );
    let k1 = kid(&b, &admin, "signing");
    wait_served(&b, &admin, "edge", std::slice::from_ref(&k1));
    wait_served(&a, &admin, "edge", std::slice::from_ref(&k1));
    // The webhook environment was deployed once for the change, by A only.
    assert_eq!(hook.requests().len(), 1);

    // Renamed on A: B finds it under the new name only, and the credential that refers to
    // it follows the rename on B.
    assert_eq!(
        a.call(
            "POST",
            "/apiops/projects/p/credentials/",
            Some(&admin),
            Some(r#"{"username":"api-user"}"#)
        )
        .0,
        200
    );
    assert_eq!(
        b.call(
            "PUT",
            "/apiops/projects/p/credentials/api-user/jwk/validation/signing/",
            Some(&admin),
            None
        ),
        (200, deployed(&["edge", "gateway"]))
    );
    assert_eq!(
        a.call(
            "PUT",
            &format!("{JWKS}signing/"),
            Some(&admin),
            Some(r#"{"name":"signing-2026"}"#)
        ),
        (200, deployed(&["edge", "gateway"]))
    );
    assert_eq!(
        b.call("GET", &format!("{JWKS}signing/"), Some(&admin), None),
        (
            404,
            json!({"error": "not_found", "error_description": "JWK (name: signing) is not found!"})
        )
    );
    assert_eq!(kid(&b, &admin, "signing-2026"), k1);
    let (_, cred) = b.call(
        "GET",
        "/apiops/projects/p/credentials/api-user/",
        Some(&admin),
        None,
    );
    assert_eq!(
        cred["resultItem"],
        json!({"username": "api-user", "validationJwk": "p/signing-2026", "encryptionJwk": null, "validation": {"project": "p", "name": "signing-2026", "kid": k1, "thumbprint": k1}, "encryption": null, "deployed": true})
    );
    // Four changes (create, credential, slot, rename), at most one webhook deployment each —
    // not one per node — and none where the public set is the one the receiver acknowledged
    // from that node: A's create, then B's first deployment (B has acknowledged nothing yet);
    // the credential and the rename change nothing the set shows.
    assert_eq!(hook.requests().len(), 2);

    // Changes made on both nodes at once: every one acknowledged, both resolvers end on the
    // same keys, and the webhook got at most one deployment per change.
    let names: Vec<String> = (0..8).map(|i| format!("burst-{i}")).collect();
    std::thread::scope(|scope| {
        for (i, name) in names.iter().enumerate() {
            let (node, admin) = (if i % 2 == 0 { &a } else { &b }, &admin);
            scope.spawn(move || {
                assert_eq!(
                    node.call("POST", GENERATE, Some(admin), Some(&generate(name))),
                    (200, deployed(&["edge", "gateway"]))
                );
            });
        }
    });
    let mut all: Vec<String> = names.iter().map(|n| kid(&a, &admin, n)).collect();
    all.push(k1);
    wait_served(&a, &admin, "edge", &all);
    wait_served(&b, &admin, "edge", &all);
    assert_eq!(served(&a, &admin, "edge").1, served(&b, &admin, "edge").1);
    let calls = hook.requests().len();
    assert!(
        (3..=10).contains(&calls),
        "{calls} webhook calls for 8 changes"
    );

    // The webhook fails: the change is saved, the environment pending. Both nodes then
    // reconcile at once: the environment is redeployed once, by one of them.
    down.store(true, std::sync::atomic::Ordering::SeqCst);
    let (status, body) = b.call("POST", GENERATE, Some(&admin), Some(&generate("late")));
    assert_eq!(status, 200);
    assert_eq!(
        body["deploymentResult"]["environmentResults"][1],
        json!({"environmentName": "gateway", "success": false, "message": "Deployment failed: webhook answered HTTP 503"})
    );
    down.store(false, std::sync::atomic::Ordering::SeqCst);
    let before = hook.requests().len();
    std::thread::scope(|scope| {
        for node in [&a, &b] {
            let admin = &admin;
            scope.spawn(move || {
                // A node that starts after the other finished finds nothing behind.
                let got = node.call("POST", "/apiops/reconcile/", Some(admin), None);
                assert!(
                    got == (200, deployed(&["gateway"])) || got == (200, deployed(&[])),
                    "{got:?}"
                );
            });
        }
    });
    assert_eq!(
        hook.requests().len(),
        before + 1,
        "one redeployment, not one per node"
    );
}

#[test]
fn racing_creates_of_one_name_on_two_nodes_have_one_winner() {
    let Some((c, a, b)) = two_nodes_with_a_memory_environment() else {
        return;
    };
    let admin = c.admin.as_str();
    for round in 0..10 {
        let name = format!("contested-{round}");
        let outcomes = Mutex::new(Vec::new());
        std::thread::scope(|scope| {
            for i in 0..6 {
                let (node, name, outcomes) = (if i % 2 == 0 { &a } else { &b }, &name, &outcomes);
                scope.spawn(move || {
                    let r = node.call("POST", GENERATE, Some(admin), Some(&generate(name)));
                    outcomes.lock().unwrap().push(r);
                });
            }
        });
        let outcomes = outcomes.into_inner().unwrap();
        let wins = outcomes.iter().filter(|(s, _)| *s == 200).count();
        assert_eq!(wins, 1, "round {round}: {outcomes:?}");
        for (status, body) in outcomes.iter().filter(|(s, _)| *s != 200) {
            assert_eq!(
                (*status, body),
                (
                    400,
                    &json!({"error": "bad_request", "error_description": format!("JWK (name: {name}) is already exist! Try update operation if want to change its value.")})
                )
            );
        }
    }
    let (_, list) = b.call("GET", JWKS, Some(admin), None);
    assert_eq!(list["resultList"].as_array().unwrap().len(), 10);
}

#[test]
fn racing_slot_assignments_on_two_nodes_leave_one_jwk() {
    let Some((c, a, b)) = two_nodes_with_a_memory_environment() else {
        return;
    };
    let admin = c.admin.as_str();
    let names: Vec<String> = (0..6).map(|i| format!("k{i}")).collect();
    for n in &names {
        assert_eq!(
            a.call("POST", GENERATE, Some(admin), Some(&generate(n))).0,
            200
        );
    }
    assert_eq!(
        b.call(
            "POST",
            "/apiops/projects/p/credentials/",
            Some(admin),
            Some(r#"{"username":"u"}"#)
        )
        .0,
        200
    );
    for round in 0..5 {
        std::thread::scope(|scope| {
            for (i, name) in names.iter().enumerate() {
                let node = if i % 2 == 0 { &a } else { &b };
                scope.spawn(move || {
                    let path = format!("/apiops/projects/p/credentials/u/jwk/validation/{name}/");
                    let (status, body) = node.call("PUT", &path, Some(admin), None);
                    assert_eq!(status, 200, "round {round}: {body}");
                });
            }
        });
        let read = |s: &Server| {
            let (_, cred) = s.call(
                "GET",
                "/apiops/projects/p/credentials/u/",
                Some(admin),
                None,
            );
            cred["resultItem"]["validationJwk"]
                .as_str()
                .unwrap()
                .to_owned()
        };
        let on_a = read(&a);
        assert!(names.iter().any(|n| format!("p/{n}") == on_a), "{on_a}");
        assert_eq!(read(&b), on_a, "both nodes read the same slot");
    }
}

#[test]
fn a_node_killed_mid_write_loses_nothing_acknowledged_and_a_restarted_node_catches_up() {
    let Some((c, mut a, b)) = two_nodes_with_a_memory_environment() else {
        return;
    };
    let admin = c.admin.clone();

    // Writers on A; A is killed with -9 while they run.
    let acked = Arc::new(Mutex::new(Vec::new()));
    let stop = Instant::now() + Duration::from_millis(800);
    let (base, pid) = (a.base.clone(), a.child.id());
    std::thread::scope(|scope| {
        for w in 0..3 {
            let (base, admin, acked) = (&base, &admin, acked.clone());
            scope.spawn(move || {
                let agent = ureq::Agent::config_builder()
                    .http_status_as_error(false)
                    .timeout_global(Some(Duration::from_secs(10)))
                    .build()
                    .new_agent();
                for i in 0.. {
                    let name = format!("w{w}-{i}");
                    let r = agent
                        .post(format!("{base}{GENERATE}"))
                        .header("Authorization", format!("Bearer {admin}"))
                        .header("Content-Type", "application/json")
                        .send(generate(&name));
                    match r {
                        Ok(resp) if resp.status() == 200 => acked.lock().unwrap().push(name),
                        _ => return,
                    }
                }
            });
        }
        std::thread::sleep(stop - Instant::now());
        std::process::Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap();
    });
    a.child.wait().unwrap();
    let acked = acked.lock().unwrap().clone();
    assert!(
        acked.len() >= 3,
        "only {} writes before the kill",
        acked.len()
    );
    // Every acknowledged JWK is there, from B; whatever else is there is whole. A COMMIT that
    // A sent just before it died may still land in PostgreSQL after the kill: read the list
    // once it stopped changing.
    let list_names = || -> Vec<String> {
        let (_, list) = b.call("GET", JWKS, Some(&admin), None);
        list["resultList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let settle = Instant::now() + Duration::from_secs(5);
    let mut listed = list_names();
    loop {
        std::thread::sleep(Duration::from_millis(300));
        let again = list_names();
        if again == listed || Instant::now() > settle {
            break;
        }
        listed = again;
    }
    for name in &acked {
        assert!(listed.contains(name), "acknowledged {name} is missing");
    }
    assert!(listed.len() <= acked.len() + 3, "{} listed", listed.len());
    let kids: Vec<String> = listed.iter().map(|n| kid(&b, &admin, n)).collect();
    wait_served(&b, &admin, "edge", &kids);

    // B changes things while A is down; A comes back and serves them at once (catch-up).
    assert_eq!(
        b.call(
            "POST",
            GENERATE,
            Some(&admin),
            Some(&generate("while-a-was-down"))
        )
        .0,
        200
    );
    let mut kids = kids;
    kids.push(kid(&b, &admin, "while-a-was-down"));
    let a = c.start(0);
    wait_served(&a, &admin, "edge", &kids);
    assert_eq!(served(&a, &admin, "edge"), served(&b, &admin, "edge"));
}

#[test]
fn a_node_with_another_master_key_is_refused() {
    let Some((c, a)) = Cluster::new() else {
        return;
    };
    let other = jwk_testkit::temp_dir();
    let out = common::jwkd(other.path())
        .args(["--postgres", &c.url, "serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).lines().last(),
        Some(
            "error: this node's master key does not open this registry's secrets: every node of a shared registry must use the same master.key"
        )
    );
    drop(a);
}

/// A node's data dir records the registry it belongs to: pointed at another database (a new,
/// empty registry), it is refused instead of bootstrapping there beside its admin token.
#[test]
fn a_data_dir_refuses_another_database() {
    let Some((c, a)) = Cluster::new() else {
        return;
    };
    drop(a);
    let Some(other) = jwk_testkit::postgres::fresh_database() else {
        return;
    };
    let dir = c.dirs[0].path();
    let record: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("registry.json")).unwrap()).unwrap();
    assert_eq!(record["store"], "postgres");
    let out = common::jwkd(dir)
        .args(["--postgres", &other, "serve", "--listen", "127.0.0.1:0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let expected = format!(
        "error: the data dir {} belongs to registry {}, but this postgres store holds registry ",
        dir.display(),
        record["registry"].as_str().unwrap()
    );
    assert!(stderr.trim().starts_with(&expected), "{stderr}");
    assert!(
        stderr.trim().ends_with(
            ": open the store the data dir was made with, or choose another data dir for this registry"
        ),
        "{stderr}"
    );
    // The embedded stores are refused on it too.
    let out = common::jwkd(dir).arg("bootstrap").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        format!(
            "error: the data dir {} holds a postgres registry, not a sled one: open it with the \
             postgres store (jwkd: --postgres URL), or choose another data dir for a new registry",
            dir.display()
        )
    );
    // And the node still starts on its own database.
    let a = c.start(0);
    assert_eq!(
        a.call("GET", "/apiops/projects/admin/jwks/", Some(&c.admin), None)
            .0,
        200
    );
}

#[test]
fn store_and_postgres_options_exclude_each_other() {
    let dir = jwk_testkit::temp_dir();
    let out = common::jwkd(dir.path())
        .args([
            "--store",
            "redb",
            "--postgres",
            "postgres://127.0.0.1:1/x",
            "bootstrap",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim(),
        "error: --store and --postgres exclude each other: choose one store"
    );
}

/// A node may reach PostgreSQL over verified TLS (`sslmode=require` and `--postgres-ca`)
/// while another uses a plain connection: one registry, changes propagate both ways.
#[test]
fn a_node_over_tls_shares_the_registry() {
    let Some(ca) = jwk_testkit::postgres::tls_ca_file() else {
        return;
    };
    let Some((mut c, a)) = Cluster::new() else {
        return;
    };
    let b_dir = c.add_dir();
    let tls_url = format!("{}?sslmode=require", c.url);
    let b = Server::start_with(
        c.dirs[b_dir].path(),
        &[
            "--postgres",
            &tls_url,
            "--postgres-ca",
            ca.to_str().unwrap(),
        ],
        Stdio::null(),
    );
    setup(
        &a,
        &c.admin,
        &[json!({"name": "edge", "target": {"type": "memory"}})],
    );
    let (status, body) = a.call("POST", GENERATE, Some(&c.admin), Some(&generate("on-a")));
    assert_eq!(status, 200, "{body}");
    let (status, body) = b.call("POST", GENERATE, Some(&c.admin), Some(&generate("on-b")));
    assert_eq!(status, 200, "{body}");
    let kids = [kid(&a, &c.admin, "on-a"), kid(&a, &c.admin, "on-b")];
    wait_served(&a, &c.admin, "edge", &kids);
    wait_served(&b, &c.admin, "edge", &kids);
}

#[test]
fn postgres_ca_options_are_checked() {
    let dir = jwk_testkit::temp_dir();
    let run = |args: &[&str]| {
        let out = common::jwkd(dir.path()).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2));
        String::from_utf8_lossy(&out.stderr).trim().to_owned()
    };
    assert_eq!(
        run(&["--postgres-ca", "ca.pem", "bootstrap"]),
        "error: --postgres-ca applies only with --postgres"
    );
    let missing = dir.path().join("missing.pem");
    let message = run(&[
        "--postgres",
        "postgres://127.0.0.1:1/x?sslmode=require",
        "--postgres-ca",
        missing.to_str().unwrap(),
        "bootstrap",
    ]);
    assert!(
        message.starts_with(&format!(
            "error: cannot read the PostgreSQL CA file {}: ",
            missing.display()
        )),
        "{message}"
    );
}

/// A JWKS server on loopback that counts its requests (with when they came) and serves the
/// keys the test sets, with `Cache-Control: max-age=2`.
struct CountingJwks {
    stub: jwk_testkit::HttpStub,
    keys: Arc<Mutex<String>>,
    seen: Arc<Mutex<Vec<Instant>>>,
}

impl CountingJwks {
    fn start(keys: &str) -> CountingJwks {
        let shared = Arc::new(Mutex::new(keys.to_owned()));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (k, s) = (shared.clone(), seen.clone());
        let stub = jwk_testkit::HttpStub::start(move |_, st| {
            s.lock().unwrap().push(Instant::now());
            let body = format!("{{\"keys\":[{}]}}", k.lock().unwrap());
            jwk_testkit::respond(st, "200 OK", &["Cache-Control: max-age=2"], body.as_bytes());
        });
        CountingJwks {
            stub,
            keys: shared,
            seen,
        }
    }
}

#[test]
fn two_nodes_fetch_a_remote_set_once_per_interval_and_both_serve_its_new_key() {
    let Some((c, a, b)) = two_nodes_with_a_memory_environment() else {
        return;
    };
    let ec = |kid: &str, x: &str, y: &str| {
        json!({"kty": "EC", "crv": "P-256", "kid": kid, "x": x, "y": y}).to_string()
    };
    let k1 = ec(
        "k1",
        "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
        "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
    );
    let k2 = ec(
        "k2",
        "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
        "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0",
    );
    let server = CountingJwks::start(&k1);
    let create = json!({"name": "idp", "url": server.stub.url("/jwks"), "refresh": {"minIntervalSeconds": 1}}).to_string();
    let (status, body) = a.call(
        "POST",
        "/apiops/projects/p/jwk-sets/",
        Some(&c.admin),
        Some(&create),
    );
    assert_eq!(status, 200, "{body}");
    wait_served(&b, &c.admin, "edge", &["k1".to_owned()]);

    // Both followers run for 7 s: the set is fetched once per interval (2 s max-age,
    // refreshed at 80–90 % of it), never by both nodes.
    std::thread::sleep(Duration::from_secs(7));
    let seen = server.seen.lock().unwrap().clone();
    let gaps: Vec<Duration> = seen.windows(2).map(|w| w[1] - w[0]).collect();
    assert!(
        (4..=6).contains(&seen.len()),
        "{} requests in 7 s: {gaps:?}",
        seen.len()
    );
    assert!(
        gaps.iter().all(|g| *g >= Duration::from_millis(1400)),
        "two fetches within one interval: {gaps:?}"
    );

    // The provider rotates: both nodes serve the new key within an interval or two.
    *server.keys.lock().unwrap() = k2;
    let deadline = Instant::now() + Duration::from_secs(10);
    for node in [&a, &b] {
        loop {
            let (kids, _) = served(node, &c.admin, "edge");
            if kids.contains(&"k2".to_owned()) {
                break;
            }
            assert!(Instant::now() < deadline, "not served: {kids:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    for node in [&a, &b] {
        assert_eq!(node.call("GET", "/readyz", None, None).0, 200);
    }
}

/// A slot's rotation on two nodes that both run the rotations: one key per period, one
/// promotion, and both nodes serve what the promotion made.
#[test]
fn two_nodes_rotate_a_slot_once_and_both_serve_the_promoted_key() {
    let Some((c, a, b)) = two_nodes_with_a_memory_environment() else {
        return;
    };
    let admin = c.admin.clone();
    assert_eq!(
        a.call(
            "POST",
            "/apiops/projects/p/credentials/",
            Some(&admin),
            Some(r#"{"username":"u"}"#)
        )
        .0,
        200
    );
    // First key at once, the next published 40 s later, promoted when due at 60 s.
    let policy = json!({"keyType": "EC", "useType": "SIGNATURE", "algorithm": "ES256", "periodSeconds": 60, "leadSeconds": 20, "overlapSeconds": 30, "maxTokenLifetimeSeconds": 10, "consumerCacheSeconds": 10});
    let rotation = "/apiops/projects/p/credentials/u/rotation/validation/";
    assert_eq!(
        b.call("PUT", rotation, Some(&admin), Some(&policy.to_string()))
            .0,
        200
    );
    let slot = |s: &Server| {
        s.call(
            "GET",
            "/apiops/projects/p/credentials/u/",
            Some(&admin),
            None,
        )
        .1["resultItem"]["validation"]["name"]
            .as_str()
            .map(str::to_owned)
    };
    let rotated = |s: &Server| -> Vec<String> {
        let (_, list) = s.call("GET", JWKS, Some(&admin), None);
        let mut names: Vec<String> = list["resultList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["name"].as_str().unwrap().to_owned())
            .filter(|n| n.starts_with("u-validation-"))
            .collect();
        names.sort();
        names
    };
    let wait = |what: &str, secs: u64, done: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !done() {
            assert!(Instant::now() < deadline, "{what}");
            std::thread::sleep(Duration::from_millis(200));
        }
    };
    wait("the first key", 20, &|| slot(&a).is_some());
    let first = slot(&a).unwrap();
    assert_eq!(rotated(&b), std::slice::from_ref(&first));
    wait("the promotion", 90, &|| {
        slot(&a).as_deref() != Some(first.as_str())
    });
    let second = slot(&b).unwrap();
    // Both nodes acted; one key was made for the period and promoted once.
    assert_eq!(rotated(&a), {
        let mut both = vec![first.clone(), second.clone()];
        both.sort();
        both
    });
    let state = |name: &str| {
        a.call("GET", &format!("{JWKS}{name}/"), Some(&admin), None)
            .1["resultItem"]["state"]
            .clone()
    };
    assert_eq!(
        (state(&first), state(&second)),
        (json!("retired"), json!("active"))
    );
    let both = vec![kid(&a, &admin, &first), kid(&a, &admin, &second)];
    wait_served(&a, &admin, "edge", &both);
    wait_served(&b, &admin, "edge", &both);
    let view = a.call("GET", rotation, Some(&admin), None).1["resultItem"].clone();
    assert_eq!(view["removals"].as_array().map(Vec::len), Some(1));
}
