//! Databases on the throw-away PostgreSQL that `scripts/test.sh` starts (`scripts/pg.sh`).
//!
//! `JWK_TEST_POSTGRES` is a superuser URL of that server. Without it the PostgreSQL tests
//! skip with a message, unless `JWK_REQUIRE_POSTGRES=1` (set by `scripts/test.sh`, so CI
//! can never pass by skipping them), which makes a missing server a failure.

use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT: AtomicUsize = AtomicUsize::new(0);

/// The server's superuser URL, or None (after saying why) when the tests should skip.
pub fn server_url() -> Option<String> {
    match std::env::var("JWK_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            assert!(
                std::env::var("JWK_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "JWK_REQUIRE_POSTGRES=1 but JWK_TEST_POSTGRES is not set: run ./scripts/test.sh"
            );
            eprintln!(
                "skipped: no PostgreSQL (run ./scripts/test.sh, or set JWK_TEST_POSTGRES to a \
                 superuser URL)"
            );
            None
        }
    }
}

/// Runs SQL statements on the server's maintenance database.
pub fn admin(sql: &str) {
    admin_on("postgres", sql);
}

/// Runs SQL statements on one database of the test server.
pub fn admin_on(database: &str, sql: &str) {
    let url = server_url().expect("JWK_TEST_POSTGRES is set");
    let url = format!(
        "{}/{database}",
        url.rsplit_once('/').expect("a URL ending in /<database>").0
    );
    on_client(&url, |client| async move {
        client
            .batch_execute(sql)
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
    });
}

/// Connects to `url` (no TLS) and runs `f` with the client on a runtime of its own.
fn on_client<T, F>(url: &str, f: impl FnOnce(std::sync::Arc<tokio_postgres::Client>) -> F) -> T
where
    F: std::future::Future<Output = T>,
{
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    rt.block_on(async {
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to the test PostgreSQL: {e}"));
        let driver = tokio::spawn(connection);
        let client = std::sync::Arc::new(client);
        let out = f(client.clone()).await;
        drop(client);
        let _ = driver.await;
        out
    })
}

/// A new empty database on the test server; its URL. None when the tests skip.
pub fn fresh_database() -> Option<String> {
    let url = server_url()?;
    let name = format!(
        "jwk_t_{}_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos())
    );
    admin(&format!("CREATE DATABASE {name}"));
    let (base, _) = url
        .rsplit_once('/')
        .expect("JWK_TEST_POSTGRES is a URL ending in /<database>");
    Some(format!("{base}/{name}"))
}

/// The PEM file of the CA of the test server's TLS certificate (for IP 127.0.0.1 only;
/// `scripts/pg.sh`), or None (after saying why) when the TLS tests should skip.
pub fn tls_ca_file() -> Option<std::path::PathBuf> {
    server_url()?;
    match std::env::var("JWK_TEST_POSTGRES_CA") {
        Ok(path) if !path.is_empty() => Some(path.into()),
        _ => {
            assert!(
                std::env::var("JWK_REQUIRE_POSTGRES").as_deref() != Ok("1"),
                "JWK_REQUIRE_POSTGRES=1 but JWK_TEST_POSTGRES_CA is not set: run ./scripts/test.sh"
            );
            eprintln!("skipped: the test PostgreSQL has no TLS CA (JWK_TEST_POSTGRES_CA)");
            None
        }
    }
}

/// Runs one query on the server's maintenance database and returns the first column of
/// the first row as text.
pub fn admin_query(sql: &str) -> String {
    let url = server_url().expect("JWK_TEST_POSTGRES is set");
    on_client(&url, |client| async move {
        let row = client
            .query_one(sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        row.get::<_, String>(0)
    })
}
