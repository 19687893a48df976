//! jwk-server: the API Ops HTTP API over a [`Registry`], with the product's JSON shapes.
//!
//! Every route is under `/apiops` with `Authorization: Bearer <token>`; errors are
//! `{"error":…,"error_description":…}`; mutating routes answer
//! `{"success":true,"deploymentResult":{…}}` after deploying to every environment.
//!
//! - `error`: the product's error shape; `auth`: the caller; `answer`: the success envelopes
//!   and the application of commands; `middleware`: what wraps every route;
//! - `routes/`: one file per area (JWKs, remote sets, credentials, secrets, admin, public);
//! - `wire`: request bodies into commands; `metrics`, `console`, `serve`, `tls`.

mod answer;
mod auth;
mod body;
pub mod console;
mod error;
pub mod metrics;
mod middleware;
mod routes;
pub mod serve;
pub mod tls;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::http::StatusCode;
use axum::routing::{MethodRouter, get};
use jwk_registry::Registry;

pub use auth::Caller;
pub use body::{JsonBody, MAX_BODY};
pub use error::ApiError;
pub use middleware::{MAX_HEADER_BYTES, MAX_HEADER_FIELDS, MAX_URI};
pub use routes::public::{DEFAULT_PUBLIC_JWKS_PATH, PublicJwksPath};

/// The OpenAPI document served at `/apiops/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The registry.
    pub registry: Arc<Registry>,
    /// The registry's background work (remote sets, rotations, …), when the host runs it:
    /// `/readyz` waits for its first refresh of every remote set, the public JWKS's max-age
    /// for its next scheduled publication, `/metrics` shows its lookups of unknown kids.
    pub controllers: Option<Arc<jwk_controllers::Controllers>>,
    /// The HTTP requests answered, for `/metrics`.
    pub http_metrics: metrics::HttpMetrics,
    /// Serve `/metrics` without a token (default: the admin user's token is asked for, as
    /// the metrics name every project's sets and environments).
    pub public_metrics: bool,
    /// `max-age` of the public JWKS (`/.well-known/jwks/{environment}.json`), seconds
    /// (default [`DEFAULT_PUBLIC_JWKS_MAX_AGE`]).
    pub public_jwks_max_age: u64,
    /// The least `max-age` of the public JWKS when it is shortened ahead of a key's `nbf` or
    /// `exp`, seconds (default [`DEFAULT_PUBLIC_JWKS_MIN_MAX_AGE`]).
    pub public_jwks_min_max_age: u64,
    /// Where the public JWKS is served (default [`DEFAULT_PUBLIC_JWKS_PATH`]).
    pub public_jwks_path: PublicJwksPath,
}

/// The default `Cache-Control: max-age` of the public JWKS: 5 minutes.
pub const DEFAULT_PUBLIC_JWKS_MAX_AGE: u64 = 300;
/// The default floor of the public JWKS's shortened `max-age`: 10 seconds.
pub const DEFAULT_PUBLIC_JWKS_MIN_MAX_AGE: u64 = 10;

impl AppState {
    /// The state of a server over `registry` (no controllers: set
    /// [`AppState::controllers`] to those the host started): `/metrics` for the admin user
    /// only.
    pub fn new(registry: Arc<Registry>) -> AppState {
        AppState {
            registry,
            controllers: None,
            http_metrics: metrics::HttpMetrics::default(),
            public_metrics: false,
            public_jwks_max_age: DEFAULT_PUBLIC_JWKS_MAX_AGE,
            public_jwks_min_max_age: DEFAULT_PUBLIC_JWKS_MIN_MAX_AGE,
            public_jwks_path: PublicJwksPath::default(),
        }
    }
}

/// One row of the route table: method, path (without the trailing slash, which the server
/// trims) and handler.
pub(crate) type Route = (&'static str, &'static str, MethodRouter<AppState>);

/// Every route. The router is made from this table, and a test checks the OpenAPI document
/// against it both ways, so the two cannot drift.
fn route_table() -> Vec<Route> {
    [
        routes::jwks::table(),
        routes::sets::table(),
        routes::credentials::table(),
        routes::secrets::table(),
        routes::admin::table(),
        routes::public::table(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Every route as (method, path), the trailing slash trimmed: what the router serves.
pub fn routes() -> Vec<(&'static str, &'static str)> {
    route_table()
        .into_iter()
        .map(|(method, path, _)| (method, path))
        .collect()
}

/// The router. Wrap it with [`service`] to trim trailing slashes.
pub fn router(state: AppState) -> Router {
    let public = state.public_jwks_path.clone();
    route_table()
        .into_iter()
        .fold(Router::new(), |router, (_, path, handler)| {
            if path == routes::public::PUBLIC_JWKS_ROUTE {
                // Under the configured prefix, whatever it is.
                router.route(&format!("{}{{*rest}}", public.prefix()), handler)
            } else {
                router.route(path, handler)
            }
        })
        // The web console: not API routes (not in the table nor the OpenAPI document).
        .route("/console", get(console::index))
        .route("/console/{file}", get(console::asset))
        .route(
            "/",
            get(|| async { axum::response::Redirect::to("/console/") }),
        )
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware::count_request,
        ))
        .fallback(routes::public::not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .layer(axum::middleware::from_fn(middleware::bound_head))
        .layer(axum::middleware::map_response(middleware::answer_headers))
        // One span and one INFO line per request: method, path, status, latency (outside the
        // timeout, so a request that times out is logged with its 408).
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(middleware::request_span)
                .on_response(
                    tower_http::trace::DefaultOnResponse::new().level(tracing::Level::INFO),
                ),
        )
        .with_state(state)
}

/// The router with trailing slashes trimmed (the product's paths end with '/').
pub fn service(state: AppState) -> tower_http::normalize_path::NormalizePath<Router> {
    tower_http::normalize_path::NormalizePath::trim_trailing_slash(router(state))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each row of the route table is served with its method and no other: the table the
    /// OpenAPI document is checked against says what the router does.
    #[test]
    fn the_route_table_says_which_methods_each_path_has() {
        use jwk_registry::store::MemoryStore;
        use tower::ServiceExt;
        let registry = Arc::new(Registry::new(
            Arc::new(MemoryStore::new()),
            jwk_registry::MasterKey::from_bytes([3; 32]),
            jwk_registry::RegistryConfig::default(),
        ));
        let app = router(AppState::new(registry));
        let rt = tokio::runtime::Runtime::new().unwrap();
        let table = routes();
        for (_, path) in &table {
            let concrete: String = path
                .split('/')
                .map(|part| if part.starts_with('{') { "x" } else { part })
                .collect::<Vec<_>>()
                .join("/");
            for method in ["GET", "POST", "PUT", "DELETE", "PATCH"] {
                let listed = table.iter().any(|(m, p)| p == path && *m == method);
                let request = axum::http::Request::builder()
                    .method(method)
                    .uri(&concrete)
                    .body(axum::body::Body::empty())
                    .unwrap();
                let status = rt.block_on(app.clone().oneshot(request)).unwrap().status();
                // Routed: the token is asked for first (or the public routes answer).
                let expected = match (listed, *path) {
                    (false, _) => StatusCode::METHOD_NOT_ALLOWED,
                    (true, "/healthz" | "/apiops/openapi.json") => StatusCode::OK,
                    // No controller runs in this test.
                    (true, "/readyz") => StatusCode::SERVICE_UNAVAILABLE,
                    // Public; no environment is served in this test.
                    (true, "/.well-known/jwks/{file}") => StatusCode::NOT_FOUND,
                    (true, _) => StatusCode::UNAUTHORIZED,
                };
                assert_eq!(status, expected, "{method} {concrete}");
            }
        }
    }
}
