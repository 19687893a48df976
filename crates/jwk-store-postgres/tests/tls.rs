//! TLS to PostgreSQL on the throw-away server of scripts/pg.sh (ssl=on, a certificate for IP
//! 127.0.0.1 from a throw-away CA; the role jwk_scram must use SCRAM over TLS).

use std::path::Path;
use std::time::Duration;

use jwk_store::{Store, Txn};
use jwk_store_postgres::{PgOptions, PgStore, read_ca_file};
use jwk_testkit::postgres::{admin, admin_query, fresh_database, tls_ca_file};

fn with_ca(ca: &Path) -> PgOptions {
    PgOptions {
        tls_roots: read_ca_file(ca).unwrap(),
        connect_timeout: Duration::from_secs(5),
        ..PgOptions::default()
    }
}

/// `url` with extra query parameters.
fn with_params(url: &str, params: &str) -> String {
    format!("{url}?{params}")
}

fn put(store: &PgStore, key: &[u8], value: &[u8]) {
    store.commit(Txn::new().put(key, value)).unwrap();
}

#[test]
fn sslmode_require_encrypts_every_connection_and_verifies_the_server() {
    let Some(ca) = tls_ca_file() else { return };
    let url = fresh_database().unwrap();
    let app = format!("jwk_tls_{}", std::process::id());
    let tls = PgStore::connect_with(
        &with_params(&url, &format!("sslmode=require&application_name={app}")),
        with_ca(&ca),
    )
    .unwrap();
    let plain = PgStore::connect(&url).unwrap();
    let mut changes = tls.watch().expect("PostgreSQL has a watch");
    put(&plain, b"a", b"1");
    assert_eq!(tls.get(b"a").unwrap().map(|v| v.value), Some(b"1".to_vec()));
    // The LISTEN connection is over TLS too: the plain node's commit arrives.
    let target = plain.revision().unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), changes.wait_for(|r| *r >= target))
            .await
            .expect("the change arrives within 10 s")
            .unwrap();
    });
    let counts = admin_query(&format!(
        "SELECT count(*) FILTER (WHERE s.ssl)::text || ' ' || count(*) FILTER (WHERE NOT s.ssl)::text \
         FROM pg_stat_activity a JOIN pg_stat_ssl s USING (pid) WHERE a.application_name = '{app}'"
    ));
    let (encrypted, clear) = counts.split_once(' ').unwrap();
    assert!(encrypted.parse::<u32>().unwrap() >= 2, "{counts}");
    assert_eq!(clear, "0", "{counts}");
}

#[test]
fn scram_binds_to_the_tls_channel() {
    let Some(ca) = tls_ca_file() else { return };
    let url = fresh_database().unwrap();
    admin(
        "DO $$ BEGIN CREATE ROLE jwk_scram LOGIN SUPERUSER PASSWORD 'scram-pw'; \
         EXCEPTION WHEN duplicate_object THEN NULL; END $$",
    );
    let (base, db) = url.rsplit_once('/').unwrap();
    let host = base.rsplit_once('@').unwrap().1;
    let scram = format!("postgres://jwk_scram:scram-pw@{host}/{db}");
    let store = PgStore::connect_with(
        &with_params(&scram, "sslmode=require&channel_binding=require"),
        with_ca(&ca),
    )
    .unwrap();
    put(&store, b"k", b"v");
    let wrong = format!("postgres://jwk_scram:nope@{host}/{db}?sslmode=require");
    let e = PgStore::connect_with(&wrong, with_ca(&ca)).unwrap_err();
    assert!(e.0.starts_with("PostgreSQL connect: "), "{e}");
    assert!(!e.0.contains("nope"), "{e}");
    // Without TLS the server refuses the role (pg_hba: hostssl only).
    assert!(PgStore::connect_with(&scram, PgOptions::default()).is_err());
}

const UNKNOWN_ISSUER: &str = "PostgreSQL connect: Error occurred while creating a new object: \
     error performing TLS handshake: invalid peer certificate: UnknownIssuer";

#[test]
fn an_unverified_server_is_refused() {
    let Some(ca) = tls_ca_file() else { return };
    let url = fresh_database().unwrap();
    let require = with_params(&url, "sslmode=require");
    let quick = PgOptions {
        connect_timeout: Duration::from_secs(5),
        ..PgOptions::default()
    };
    // The Mozilla roots do not include the throw-away CA.
    let e = PgStore::connect_with(&require, quick.clone()).unwrap_err();
    assert_eq!(e.0, UNKNOWN_ISSUER);
    // Another CA.
    let dir = jwk_testkit::temp_dir();
    jwk_testkit::openssl_key_pair(
        dir.path(),
        "other",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    jwk_testkit::openssl_self_signed(dir.path(), "other", "/CN=other-ca");
    let other = PgOptions {
        tls_roots: read_ca_file(&dir.path().join("other.crt")).unwrap(),
        ..quick
    };
    let e = PgStore::connect_with(&require, other).unwrap_err();
    assert_eq!(e.0, UNKNOWN_ISSUER);
    // The right CA, the wrong name: the certificate is for 127.0.0.1 only.
    let by_name = require.replace("@127.0.0.1:", "@localhost:");
    let e = PgStore::connect_with(&by_name, with_ca(&ca)).unwrap_err();
    assert_eq!(
        e.0,
        "PostgreSQL connect: Error occurred while creating a new object: error performing TLS \
         handshake: invalid peer certificate: certificate not valid for name \"localhost\"; \
         certificate is only valid for IpAddress(127.0.0.1)"
    );
}

#[test]
fn ca_files_are_checked() {
    let dir = jwk_testkit::temp_dir();
    let missing = dir.path().join("missing.pem");
    let e = read_ca_file(&missing).unwrap_err();
    assert!(
        e.0.starts_with(&format!(
            "cannot read the PostgreSQL CA file {}: ",
            missing.display()
        )),
        "{e}"
    );
    let empty = dir.path().join("empty.pem");
    std::fs::write(&empty, "not a certificate\n").unwrap();
    assert_eq!(
        read_ca_file(&empty).unwrap_err().0,
        format!(
            "the PostgreSQL CA file {} holds no CERTIFICATE block",
            empty.display()
        )
    );
    let broken = dir.path().join("broken.pem");
    std::fs::write(
        &broken,
        "-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n",
    )
    .unwrap();
    assert!(read_ca_file(&broken).unwrap_err().0.starts_with(&format!(
        "the PostgreSQL CA file {} is not PEM: ",
        broken.display()
    )),);
}
