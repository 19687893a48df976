//! `jwkd`: the API Ops HTTP server over the JWK registry.
//!
//! `jwkd --data-dir DIR bootstrap` creates the admin user and the admin project and prints the
//! admin token alone on stdout. `jwkd --data-dir DIR serve --listen ADDR` serves; on an empty
//! data dir it bootstraps itself first and writes the token to `DIR/admin-token` (0600; a new
//! file `admin-token.N` when that one exists). `jwkd --data-dir DIR admin-token --reset`
//! replaces a lost admin token (it needs the data dir's files, not the API).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use jwk_engine::registry::{Registry, RegistryConfig};
use jwk_engine::{StoreKind, open_registry};

#[derive(Parser)]
#[command(name = "jwkd", version, about = "The JWK Engine API Ops server")]
struct Cli {
    /// Where the registry lives (store files, master.key, admin-token, registry.json).
    #[arg(long, global = true, value_name = "DIR", default_value = "jwk-data")]
    data_dir: PathBuf,
    /// The embedded store: sled (default) or redb.
    #[arg(long, global = true)]
    store: Option<String>,
    /// Share the registry with other nodes in PostgreSQL instead (a postgres:// URL; every
    /// node needs the same master.key in its data dir).
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "JWKD_POSTGRES_URL",
        hide_env_values = true
    )]
    postgres: Option<String>,
    /// PEM file of the CA that PostgreSQL's TLS certificate must chain to (with
    /// sslmode=require in the URL; without this file, the Mozilla roots).
    #[arg(
        long,
        global = true,
        value_name = "FILE",
        env = "JWKD_POSTGRES_CA",
        hide_env_values = true
    )]
    postgres_ca: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create the admin user and the admin project; print the admin token.
    Bootstrap,
    /// Replace a lost admin token: the old one stops working.
    ///
    /// For the owner of the data dir (it opens the store and master.key; stop a jwkd that uses
    /// an embedded store first). Prints the new token on stdout and writes it to the first
    /// of admin-token, admin-token.1, … that does not exist.
    AdminToken {
        /// Required: says that the old token is to be revoked.
        #[arg(long, required = true)]
        reset: bool,
    },
    /// Serve the HTTP API.
    Serve {
        /// Address to listen on (port 0 picks a free port; the address is printed).
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// Let URL sources and webhooks reach loopback and private addresses.
        #[arg(long)]
        allow_private_networks: bool,
        /// The largest urlOptionConnectTimeout / urlOptionReadTimeout a request may ask for
        /// (milliseconds); above it a request is refused with a 400.
        #[arg(long, value_name = "MS", default_value_t = jwk_engine::registry::DEFAULT_MAX_FETCH_TIMEOUT_MS,
              value_parser = clap::value_parser!(u64).range(1..=600_000))]
        max_fetch_timeout_ms: u64,
        /// The largest urlOptionSizeLimit a request may ask for (bytes); above it a request is
        /// refused with a 400.
        #[arg(long, value_name = "BYTES", default_value_t = jwk_engine::registry::DEFAULT_MAX_FETCH_SIZE,
              value_parser = clap::value_parser!(u64).range(1..=1_073_741_824))]
        max_fetch_size: u64,
        /// Most URL fetches in progress at once; more are answered 503 with Retry-After at
        /// once, so slow key servers never hold the threads that authentication needs.
        #[arg(long, value_name = "N",
              default_value_t = u16::try_from(jwk_engine::registry::DEFAULT_MAX_CONCURRENT_FETCHES).unwrap_or(16),
              value_parser = clap::value_parser!(u16).range(1..=1024))]
        max_concurrent_fetches: u16,
        /// Most connections open at once; further ones wait in the kernel's backlog.
        #[arg(long, value_name = "N", default_value_t = 1024,
              value_parser = clap::value_parser!(u32).range(1..=65_536))]
        max_connections: u32,
        /// Seconds a connection has to send a request head, counted from when it starts
        /// waiting for one (also the idle time allowed between keep-alive requests).
        #[arg(long, value_name = "SECS", default_value_t = 10,
              value_parser = clap::value_parser!(u64).range(1..=3600))]
        header_timeout_secs: u64,
        /// The directory `file` environments write their JWKS under (paths are relative to
        /// it; `..` and symbolic links out of it are refused). Without it, file environments
        /// are refused. It may not hold the data dir.
        #[arg(long, value_name = "DIR")]
        file_target_dir: Option<PathBuf>,
        /// Seconds between redeployments of pending environments.
        #[arg(long, default_value_t = 30)]
        reconcile_interval_secs: u64,
        /// Serve HTTPS with this certificate chain (PEM, leaf first); needs --tls-key.
        /// Renewed files are picked up without a restart.
        #[arg(long, value_name = "FILE", requires = "tls_key")]
        tls_cert: Option<PathBuf>,
        /// The private key of --tls-cert (PEM: PKCS#8, PKCS#1 or SEC1).
        #[arg(long, value_name = "FILE", requires = "tls_cert")]
        tls_key: Option<PathBuf>,
        /// Serve GET /metrics without a token (for a scraper on a private network). Without
        /// it the admin user's token is asked for: the metrics name every project's remote
        /// JWK Sets and every environment.
        #[arg(long)]
        public_metrics: bool,
        /// `Cache-Control: max-age` of the public JWKS at /.well-known/jwks/{environment}.json.
        #[arg(long, value_name = "SECS", default_value_t = jwk_engine::server::DEFAULT_PUBLIC_JWKS_MAX_AGE,
              value_parser = clap::value_parser!(u64).range(0..=86_400))]
        public_jwks_max_age_secs: u64,
        /// The least max-age of the public JWKS when it is shortened so that caches come back
        /// by a key's next nbf or exp.
        #[arg(long, value_name = "SECS", default_value_t = jwk_engine::server::DEFAULT_PUBLIC_JWKS_MIN_MAX_AGE,
              value_parser = clap::value_parser!(u64).range(0..=86_400))]
        public_jwks_min_max_age_secs: u64,
        /// Where the public JWKS is served: a path holding {environment} once, starting a
        /// path segment (e.g. /keys/{environment}/jwks.json).
        #[arg(long, value_name = "TEMPLATE", default_value = jwk_engine::server::DEFAULT_PUBLIC_JWKS_PATH)]
        public_jwks_path: String,
    },
}

/// The file target directory, resolved: it must exist, and may not hold the data dir (a file
/// environment could otherwise replace master.key or the store).
fn file_target_root(dir: &std::path::Path, data_dir: &std::path::Path) -> Result<PathBuf, String> {
    let root = std::fs::canonicalize(dir).map_err(|e| {
        format!(
            "the file target directory {} cannot be used: {e}",
            dir.display()
        )
    })?;
    let data = std::fs::canonicalize(data_dir)
        .or_else(|_| std::path::absolute(data_dir))
        .map_err(|e| format!("the data dir {} cannot be used: {e}", data_dir.display()))?;
    if data.starts_with(&root) {
        return Err(format!(
            "the file target directory {} holds the data dir {}: give a directory of its own",
            root.display(),
            data.display()
        ));
    }
    Ok(root)
}

fn open(cli: &Cli, config: RegistryConfig) -> Result<Registry, String> {
    if let Some(url) = &cli.postgres {
        if cli.store.is_some() {
            return Err("--store and --postgres exclude each other: choose one store".to_owned());
        }
        let mut options = jwk_engine::postgres::PgOptions::default();
        if let Some(path) = &cli.postgres_ca {
            options.tls_roots = jwk_engine::postgres::read_ca_file(path).map_err(|e| e.0)?;
        }
        return jwk_engine::open_postgres_registry(url, options, &cli.data_dir, config)
            .map_err(|e| e.to_string());
    }
    if cli.postgres_ca.is_some() {
        return Err("--postgres-ca applies only with --postgres".to_owned());
    }
    let name = cli.store.as_deref().unwrap_or("sled");
    let kind = StoreKind::parse(name)
        .filter(|k| *k != StoreKind::Memory)
        .ok_or_else(|| format!("--store must be sled or redb, not \"{name}\""))?;
    open_registry(kind, &cli.data_dir, config).map_err(|e| e.to_string())
}

/// Resolves on Ctrl-C or SIGTERM. The handlers are installed when this is called (before
/// "listening" is printed), so a signal sent as soon as that line is read stops jwkd gracefully.
fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    #[cfg(unix)]
    let term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let ctrl_c = tokio::signal::ctrl_c();
    async move {
        #[cfg(unix)]
        let term = async {
            match term {
                Some(mut s) => {
                    s.recv().await;
                }
                None => std::future::pending::<()>().await,
            }
        };
        #[cfg(not(unix))]
        let term = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {},
            () = term => {},
        }
        tracing::info!("shutting down: finishing in-flight requests");
    }
}

/// How `jwkd serve` listens.
struct Listen {
    /// Bound before the store is opened: a taken address stops the start before anything in
    /// the data dir is created or bootstrapped.
    listener: std::net::TcpListener,
    /// HTTPS, loaded from the certificate and key files.
    tls: Option<Arc<jwk_engine::server::tls::ServerConfig>>,
    /// GET /metrics without a token.
    public_metrics: bool,
    /// max-age of the public JWKS, and its floor ahead of a validity change.
    public_jwks_max_age: u64,
    public_jwks_min_max_age: u64,
    /// Where the public JWKS is served.
    public_jwks_path: jwk_engine::server::PublicJwksPath,
}

impl Listen {
    fn bind(
        addr: SocketAddr,
        tls: Option<Arc<jwk_engine::server::tls::ServerConfig>>,
    ) -> Result<Listen, String> {
        let listener = std::net::TcpListener::bind(addr)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|e| format!("cannot listen on {addr}: {e}"))?;
        Ok(Listen {
            listener,
            tls,
            public_metrics: false,
            public_jwks_max_age: jwk_engine::server::DEFAULT_PUBLIC_JWKS_MAX_AGE,
            public_jwks_min_max_age: jwk_engine::server::DEFAULT_PUBLIC_JWKS_MIN_MAX_AGE,
            public_jwks_path: jwk_engine::server::PublicJwksPath::default(),
        })
    }
}

async fn serve(
    registry: Registry,
    background: tokio::runtime::Handle,
    listen: Listen,
    interval: u64,
    data_dir: PathBuf,
    limits: jwk_engine::server::serve::ConnectionLimits,
) -> Result<(), String> {
    let tls = listen.tls;
    let (public_metrics, public_jwks_max_age, public_jwks_min_max_age) = (
        listen.public_metrics,
        listen.public_jwks_max_age,
        listen.public_jwks_min_max_age,
    );
    let public_jwks_path = listen.public_jwks_path;
    if !registry.is_bootstrapped().map_err(|e| e.to_string())? {
        match registry.bootstrap() {
            Ok(token) => {
                let path = jwk_engine::datadir::write_admin_token(&data_dir, &token)
                    .map_err(|e| e.to_string())?;
                tracing::info!(path = %path.display(), "bootstrapped: the admin token is in this file");
            }
            // Another node bootstrapped the shared registry at the same moment: its token file.
            Err(e) => tracing::info!(error = %e, "not bootstrapped here"),
        }
    }
    let registry = Arc::new(registry);
    let listener = tokio::net::TcpListener::from_std(listen.listener)
        .map_err(|e| format!("cannot listen: {e}"))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let shutdown = shutdown_signal();
    let scheme = if tls.is_some() { "https" } else { "http" };
    println!("listening on {scheme}://{addr}");
    tracing::info!(%addr, scheme, "listening");
    // The registry's background work, as a library host starts it: the in-process resolvers
    // loaded now and kept current with other nodes' changes and keys' nbf/exp, the remote
    // JWK Sets kept fresh (/readyz answers 200 once each was loaded once), rotations (a
    // schedule missed while down runs now), and a reconcile every `interval` seconds.
    let controllers = Arc::new(jwk_engine::controllers::start(
        registry.clone(),
        &background,
        jwk_engine::controllers::Settings::default()
            .reconcile_interval(Duration::from_secs(interval)),
    ));
    let app = jwk_engine::server::service(jwk_engine::server::AppState {
        controllers: Some(controllers),
        public_metrics,
        public_jwks_max_age,
        public_jwks_min_max_age,
        public_jwks_path,
        ..jwk_engine::server::AppState::new(registry)
    });
    match tls {
        Some(config) => {
            let listener = jwk_engine::server::tls::TlsListener::new(listener, config)
                .map_err(|e| e.to_string())?;
            jwk_engine::server::serve::serve(listener, app, limits, shutdown).await;
        }
        None => jwk_engine::server::serve::serve(listener, app, limits, shutdown).await,
    }
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let result = match &cli.command {
        Command::Bootstrap => open(&cli, RegistryConfig::default()).and_then(|reg| {
            let token = reg.bootstrap().map_err(|e| e.to_string())?;
            println!("{token}");
            Ok(())
        }),
        Command::AdminToken { reset: _ } => open(&cli, RegistryConfig::default()).and_then(|reg| {
            let token = reg.reset_admin_token().map_err(|e| e.to_string())?;
            let path = jwk_engine::datadir::write_admin_token(&cli.data_dir, &token)
                .map_err(|e| e.to_string())?;
            eprintln!(
                "the admin token is replaced (the old one no longer works); the new one is also in {}",
                path.display()
            );
            println!("{token}");
            Ok(())
        }),
        Command::Serve {
            listen,
            allow_private_networks,
            max_fetch_timeout_ms,
            max_fetch_size,
            max_concurrent_fetches,
            max_connections,
            header_timeout_secs,
            file_target_dir,
            reconcile_interval_secs,
            tls_cert,
            tls_key,
            public_metrics,
            public_jwks_max_age_secs,
            public_jwks_min_max_age_secs,
            public_jwks_path,
        } => {
            // A certificate that does not load, or a file target directory that cannot be
            // used, stops the start before the store is opened.
            let start = || -> Result<(Listen, RegistryConfig), String> {
                let tls = tls_cert
                    .as_deref()
                    .zip(tls_key.as_deref())
                    .map(|(cert, key)| jwk_engine::server::tls::server_config(cert, key))
                    .transpose()?;
                let file_target_dir = file_target_dir
                    .as_deref()
                    .map(|dir| file_target_root(dir, &cli.data_dir))
                    .transpose()?;
                let mut listen = Listen::bind(*listen, tls)?;
                listen.public_metrics = *public_metrics;
                listen.public_jwks_max_age = *public_jwks_max_age_secs;
                listen.public_jwks_min_max_age = *public_jwks_min_max_age_secs;
                listen.public_jwks_path =
                    jwk_engine::server::PublicJwksPath::parse(public_jwks_path)?;
                let config = RegistryConfig {
                    allow_private_networks: *allow_private_networks,
                    max_fetch_timeout_ms: *max_fetch_timeout_ms,
                    max_fetch_size: *max_fetch_size,
                    file_target_dir,
                    max_concurrent_fetches: usize::from(*max_concurrent_fetches),
                    ..RegistryConfig::default()
                };
                Ok((listen, config))
            };
            start().and_then(|(listen, config)| {
                let reg = open(&cli, config)?;
                // The controllers (deployments, remote sets, rotations, reconcile) run on a
                // runtime of their own: their fetches and store work use its blocking threads,
                // never those that serve requests (and authenticate them).
                let background = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(1)
                    .thread_name("jwkd-background")
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?;
                let served = tokio::runtime::Builder::new_multi_thread()
                    .enable_all()
                    .build()
                    .map_err(|e| e.to_string())?
                    .block_on(serve(
                        reg,
                        background.handle().clone(),
                        listen,
                        *reconcile_interval_secs,
                        cli.data_dir.clone(),
                        jwk_engine::server::serve::ConnectionLimits {
                            max_connections: usize::try_from(*max_connections).unwrap_or(1024),
                            header_timeout: Duration::from_secs(*header_timeout_secs),
                            ..jwk_engine::server::serve::DEFAULT_LIMITS
                        },
                    ));
                background.shutdown_timeout(Duration::from_secs(1));
                served
            })
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
