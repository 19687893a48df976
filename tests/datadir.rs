//! A data dir belongs to one registry: another store is refused, the admin token file is
//! never overwritten, a lost admin token is reset from the data dir, and a taken listen
//! address writes nothing.

mod common;

use std::path::Path;
use std::process::Output;

use common::{Server, jwkd};

fn token_in(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap().trim().to_owned()
}

fn stderr_of(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).trim().to_owned()
}

/// `jwkd --data-dir DIR serve --listen 127.0.0.1:0 ARGS…` (global options such as `--store`
/// are accepted after the subcommand too), expected to stop at once.
fn serve_refused(dir: &Path, args: &[&str]) -> Output {
    let out = jwkd(dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr_of(&out));
    out
}

fn projects_status(s: &Server, token: &str) -> u16 {
    s.call("GET", "/apiops/projects/admin/jwks/", Some(token), None)
        .0
}

#[test]
fn another_store_on_a_sled_data_dir_is_refused_and_the_admin_keeps_access() {
    let dir = jwk_testkit::temp_dir();
    let data = dir.path().join("jwk-data");
    let s = Server::start(&data);
    let token = token_in(&data.join("admin-token"));
    assert!(s.sigterm().success());

    let out = serve_refused(&data, &["--store", "redb"]);
    assert_eq!(
        stderr_of(&out),
        format!(
            "error: the data dir {} holds a sled registry, not a redb one: open it with the sled \
             store (jwkd: --store sled, the default), or choose another data dir for a new \
             registry",
            data.display()
        )
    );
    assert!(!data.join("registry.redb").exists(), "no redb file created");
    assert_eq!(token_in(&data.join("admin-token")), token);
    assert!(!data.join("admin-token.1").exists());

    let s = Server::start(&data);
    assert_eq!(projects_status(&s, &token), 200);
}

#[test]
fn the_default_store_on_a_redb_data_dir_is_refused() {
    let dir = jwk_testkit::temp_dir();
    let s = Server::start_with(
        dir.path(),
        &["--store", "redb"],
        std::process::Stdio::null(),
    );
    let token = token_in(&dir.path().join("admin-token"));
    assert!(s.sigterm().success());

    let out = serve_refused(dir.path(), &[]);
    assert_eq!(
        stderr_of(&out),
        format!(
            "error: the data dir {} holds a redb registry, not a sled one: open it with the redb \
             store (jwkd: --store redb), or choose another data dir for a new registry",
            dir.path().display()
        )
    );
    assert!(!dir.path().join("sled").exists(), "no sled store created");
    // `bootstrap` is refused the same way, before it bootstraps anything.
    let out = jwkd(dir.path()).arg("bootstrap").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());

    let s = Server::start_with(
        dir.path(),
        &["--store", "redb"],
        std::process::Stdio::null(),
    );
    assert_eq!(projects_status(&s, &token), 200);
}

#[test]
fn a_data_dir_from_before_the_record_is_recognised_by_its_store_files() {
    let dir = jwk_testkit::temp_dir();
    let s = Server::start(dir.path());
    let token = token_in(&dir.path().join("admin-token"));
    assert!(s.sigterm().success());
    // What data dirs looked like before registry.json.
    std::fs::remove_file(dir.path().join("registry.json")).unwrap();

    let out = serve_refused(dir.path(), &["--store", "redb"]);
    assert!(
        stderr_of(&out).contains("holds a sled registry, not a redb one"),
        "{}",
        stderr_of(&out)
    );
    let s = Server::start(dir.path());
    assert_eq!(projects_status(&s, &token), 200);
    assert!(dir.path().join("registry.json").exists(), "recorded now");
}

#[test]
fn an_existing_admin_token_file_is_never_overwritten() {
    let dir = jwk_testkit::temp_dir();
    std::fs::write(dir.path().join("admin-token"), "a token kept by hand\n").unwrap();
    let s = Server::start(dir.path());
    assert_eq!(
        std::fs::read_to_string(dir.path().join("admin-token")).unwrap(),
        "a token kept by hand\n"
    );
    let token = token_in(&dir.path().join("admin-token.1"));
    assert_eq!(projects_status(&s, &token), 200);
}

#[test]
fn admin_token_reset_replaces_a_lost_token() {
    let dir = jwk_testkit::temp_dir();
    // Nothing to reset before the registry is bootstrapped.
    let out = jwkd(dir.path())
        .args(["admin-token", "--reset"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr_of(&out),
        "error: The registry is not bootstrapped: there is no admin token to reset!"
    );

    let s = Server::start(dir.path());
    let old = token_in(&dir.path().join("admin-token"));
    assert!(s.sigterm().success());
    std::fs::remove_file(dir.path().join("admin-token")).unwrap();

    let out = jwkd(dir.path())
        .args(["admin-token", "--reset"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr_of(&out));
    let new = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    assert!(new.starts_with("jwk_") && new != old, "{new}");
    assert_eq!(
        stderr_of(&out),
        format!(
            "the admin token is replaced (the old one no longer works); the new one is also in {}",
            dir.path().join("admin-token").display()
        )
    );
    assert_eq!(token_in(&dir.path().join("admin-token")), new);

    let s = Server::start(dir.path());
    assert_eq!(projects_status(&s, &old), 401);
    assert_eq!(projects_status(&s, &new), 200);
}

#[test]
fn a_taken_listen_address_stops_the_start_before_anything_is_written() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let dir = jwk_testkit::temp_dir();
    let data = dir.path().join("jwk-data");
    // The global options also work after the subcommand.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jwkd"))
        .args(["serve", "--data-dir"])
        .arg(&data)
        .args(["--listen", &addr])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        stderr_of(&out),
        format!("error: cannot listen on {addr}: Address already in use (os error 98)")
    );
    assert!(!data.exists(), "nothing created in the data dir");
}

#[test]
fn help_shows_environment_variables_without_values() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jwkd"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("[env: JWKD_POSTGRES_CA]"), "{help}");
    assert!(help.contains("[env: JWKD_POSTGRES_URL]"), "{help}");
    assert!(!help.contains("=]"), "{help}");
}

#[test]
fn a_file_target_directory_must_exist_and_may_not_hold_the_data_dir() {
    let dir = jwk_testkit::temp_dir();
    let data = dir.path().join("jwk-data");
    let root = std::fs::canonicalize(dir.path()).unwrap();
    let out = serve_refused(&data, &["--file-target-dir", dir.path().to_str().unwrap()]);
    assert_eq!(
        stderr_of(&out),
        format!(
            "error: the file target directory {} holds the data dir {}: give a directory of its own",
            root.display(),
            root.join("jwk-data").display()
        )
    );
    assert!(!data.exists(), "nothing was created");
    let missing = dir.path().join("missing");
    let out = serve_refused(&data, &["--file-target-dir", missing.to_str().unwrap()]);
    assert_eq!(
        stderr_of(&out),
        format!(
            "error: the file target directory {} cannot be used: No such file or directory (os error 2)",
            missing.display()
        )
    );
    assert!(!data.exists(), "nothing was created");
}
