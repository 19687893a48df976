//! A small reverse proxy that lets through only requests with a valid bearer token.
//!
//! Keys come from a jwkd data dir (the registry opened in this process; stop jwkd first, the
//! store is single-process) or from a remote JWKS URL (followed: refreshed ahead of its
//! max-age, refetched when a token names an unknown kid):
//!
//! ```text
//! cargo run --release --example gateway -- --listen 127.0.0.1:8080 \
//!     --upstream http://127.0.0.1:9000 --jwks-url https://idp.example/jwks.json \
//!     --issuer https://idp.example --audience api
//! cargo run --release --example gateway -- --listen 127.0.0.1:8080 \
//!     --upstream http://127.0.0.1:9000 --data-dir ./jwk-data --environment production \
//!     --project MyProject
//! ```
//!
//! Verified requests go upstream without their `Authorization` header and with
//! `X-Jwt-Sub` (the token's `sub`) and `X-Jwt-Thumbprint` (the verifying key's RFC 7638
//! thumbprint); a client's own `X-Jwt-*` headers are dropped. Others get `401` with the
//! `WWW-Authenticate: Bearer` challenge from `VerifyLayer`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use clap::Parser;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use jwk_engine::registry::TargetConfig;
use jwk_engine::registry::{Command, JwkSetSpec, Registry, RegistryConfig};
use jwk_engine::verify::{VerifiedJwt, Verifier, VerifyLayer};

#[derive(Parser)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// The protected service (http://host:port).
    #[arg(long)]
    upstream: String,
    /// Follow this JWKS URL.
    #[arg(long, conflicts_with = "data_dir")]
    jwks_url: Option<String>,
    /// Let --jwks-url name a loopback or private address (tests, a local identity provider).
    #[arg(long)]
    allow_private_networks: bool,
    /// Use the keys of a jwkd data dir (sled store).
    #[arg(long, requires_all = ["environment", "project"])]
    data_dir: Option<PathBuf>,
    /// With --data-dir: the environment whose keys verify (a memory environment).
    #[arg(long)]
    environment: Option<String>,
    /// With --data-dir: the project whose keys verify.
    #[arg(long)]
    project: Option<String>,
    /// Accepted issuer (repeatable).
    #[arg(long)]
    issuer: Vec<String>,
    /// Accepted audience (repeatable).
    #[arg(long)]
    audience: Vec<String>,
}

/// The project and environment names of the in-memory registry that follows --jwks-url.
const GATEWAY: &str = "gateway";
/// Largest request body passed upstream.
const MAX_BODY: usize = 1024 * 1024;
/// How long the upstream has to answer.
const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(30);

struct Upstream {
    base: String,
    client: Client<HttpConnector, Body>,
}

fn main() {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .init();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    if let Err(e) = rt.block_on(run(args)) {
        eprintln!("gateway: {e}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), String> {
    let (registry, environment, project) = match (&args.jwks_url, &args.data_dir) {
        (Some(url), None) => (
            follow_url(url, args.allow_private_networks).await?,
            GATEWAY.to_owned(),
            GATEWAY.to_owned(),
        ),
        (None, Some(dir)) => {
            let registry = jwk_engine::open_registry(
                jwk_engine::StoreKind::Sled,
                dir,
                RegistryConfig::default(),
            )
            .map_err(|e| e.to_string())?;
            let (env, project) = (
                args.environment.clone().unwrap_or_default(),
                args.project.clone().unwrap_or_default(),
            );
            (Arc::new(registry), env, project)
        }
        _ => return Err("give --jwks-url or --data-dir".to_owned()),
    };
    // The registry's background work: remote sets refreshed, refetch on unknown kids,
    // node-local targets kept current. Stops when `controllers` is dropped (at exit).
    let controllers = jwk_engine::controllers::start(
        registry.clone(),
        &tokio::runtime::Handle::current(),
        jwk_engine::controllers::Settings::default(),
    );
    let keys = controllers.live_keys(&environment).project_keys(&project);
    // Token times judged by the registry's clock, as the keys' validity is.
    let mut verifier = Verifier::new().clock(registry.clock());
    for issuer in args.issuer {
        verifier = verifier.issuer(issuer);
    }
    for audience in args.audience {
        verifier = verifier.audience(audience);
    }
    let upstream = Arc::new(Upstream {
        base: args.upstream.trim_end_matches('/').to_owned(),
        client: Client::builder(TokioExecutor::new()).build_http(),
    });
    let app = Router::new()
        .fallback(proxy)
        .with_state(upstream)
        .layer(VerifyLayer::new(verifier, keys))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(MAX_BODY));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .map_err(|e| format!("cannot listen on {}: {e}", args.listen))?;
    let bound = listener.local_addr().map_err(|e| e.to_string())?;
    eprintln!("gateway listening on {bound}");
    axum::serve(listener, app).await.map_err(|e| e.to_string())
}

/// An in-memory registry that follows `url` as the remote JWK Set of the gateway project.
async fn follow_url(url: &str, allow_private_networks: bool) -> Result<Arc<Registry>, String> {
    let config = RegistryConfig {
        allow_private_networks,
        ..RegistryConfig::default()
    };
    let registry = Arc::new(Registry::new(
        Arc::new(jwk_engine::registry::store::MemoryStore::new()),
        jwk_engine::registry::MasterKey::generate().map_err(|e| e.to_string())?,
        config,
    ));
    let token = registry.bootstrap().map_err(|e| e.to_string())?;
    let admin = registry.authenticate(&token).map_err(|e| e.to_string())?;
    let commands = [
        Command::CreateProject {
            name: GATEWAY.into(),
        },
        Command::CreateEnvironment {
            name: GATEWAY.into(),
            target: TargetConfig::Memory,
        },
        Command::CreateJwkSet {
            project: GATEWAY.into(),
            name: "upstream-idp".into(),
            spec: JwkSetSpec::new(url),
        },
    ];
    for command in commands {
        registry
            .apply(&admin, command)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(registry)
}

/// Forwards a verified request upstream.
async fn proxy(State(upstream): State<Arc<Upstream>>, mut request: Request) -> Response {
    let Some(jwt) = request.extensions_mut().remove::<VerifiedJwt>() else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let path = request.uri().path_and_query().map_or("/", |p| p.as_str());
    let Ok(uri) = format!("{}{path}", upstream.base).parse::<Uri>() else {
        return StatusCode::BAD_REQUEST.into_response();
    };
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    // Hop-by-hop headers (RFC 9110 §7.6.1), the token, and identity headers a client made up.
    for name in [
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "authorization",
    ] {
        headers.remove(name);
    }
    let spoofed: Vec<HeaderName> = headers
        .keys()
        .filter(|k| k.as_str().starts_with("x-jwt-"))
        .cloned()
        .collect();
    for name in spoofed {
        headers.remove(name);
    }
    if let Some(Ok(sub)) = jwt.claim_str("sub").map(HeaderValue::from_str) {
        headers.insert("x-jwt-sub", sub);
    }
    if let Ok(thumbprint) = HeaderValue::from_str(jwt.thumbprint()) {
        headers.insert("x-jwt-thumbprint", thumbprint);
    }
    match tokio::time::timeout(UPSTREAM_TIMEOUT, upstream.client.request(request)).await {
        Ok(Ok(response)) => response.map(Body::new),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "the upstream did not answer");
            StatusCode::BAD_GATEWAY.into_response()
        }
        Err(_) => StatusCode::GATEWAY_TIMEOUT.into_response(),
    }
}
