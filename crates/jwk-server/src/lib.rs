//! jwk-server: the API Ops HTTP API over a [`Registry`], with the product's JSON shapes.
//!
//! Every route is under `/apiops` with `Authorization: Bearer <token>`; errors are
//! `{"error":…,"error_description":…}`; mutating routes answer
//! `{"success":true,"deploymentResult":{…}}` after deploying to every environment.

mod body;
pub mod console;
pub mod metrics;
pub mod serve;
pub mod tls;
pub mod wire;

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get, post, put};
use jwk_registry::model::TargetConfig;
use jwk_registry::perm::Permission;
use jwk_registry::{
    Actor, Command, ErrorKind, NewRecord, Outcome, Registry, RegistryError, SecretClass,
    SecretName, Slot,
};
use serde::Deserialize;
use wire::Placed;

pub use body::{JsonBody, MAX_BODY};

/// The OpenAPI document served at `/apiops/openapi.json`.
pub const OPENAPI: &str = include_str!("openapi.json");

/// Shared state of the handlers.
#[derive(Clone)]
pub struct AppState {
    /// The registry.
    pub registry: Arc<Registry>,
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
    /// The state of a server over `registry`: `/metrics` for the admin user only.
    pub fn new(registry: Arc<Registry>) -> AppState {
        AppState {
            registry,
            http_metrics: metrics::HttpMetrics::default(),
            public_metrics: false,
            public_jwks_max_age: DEFAULT_PUBLIC_JWKS_MAX_AGE,
            public_jwks_min_max_age: DEFAULT_PUBLIC_JWKS_MIN_MAX_AGE,
            public_jwks_path: PublicJwksPath::default(),
        }
    }
}

/// A handler's failure, rendered in the product's error shape.
pub struct ApiError(pub RegistryError);

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let kind = self.0.kind();
        let status = status_of(kind);
        let code = self.0.code();
        let mut response = json_response(
            status,
            error_body_text(
                kind.code(),
                &self.0.to_string(),
                (code != kind.code()).then_some(code),
            ),
        );
        if status == StatusCode::SERVICE_UNAVAILABLE {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, header::HeaderValue::from_static("5"));
        }
        response
    }
}

/// The HTTP status of a class of registry failure.
fn status_of(kind: ErrorKind) -> StatusCode {
    match kind {
        ErrorKind::BadRequest => StatusCode::BAD_REQUEST,
        ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
        ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        ErrorKind::NotFound => StatusCode::NOT_FOUND,
        ErrorKind::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// The product's error body, `{"error":…,"error_description":…}`, with `code` when the
/// failure has a finer stable code than `error` (jwk-core's `jwks.kid_required`, a fetch's
/// `fetch.too_large`, …).
#[derive(serde::Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
}

fn error_body_text(error: &str, description: &str, code: Option<&str>) -> String {
    serde_json::to_string(&ErrorBody {
        error,
        error_description: description,
        code,
    })
    .unwrap_or_default()
}

fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

type ApiResult = Result<Response, ApiError>;

/// The authenticated caller, as an extractor: it runs before the body is read (handlers
/// take it before `JsonBody`), so an unauthenticated caller learns nothing from a 400.
pub struct Caller(pub Actor);

impl axum::extract::FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> Result<Self, ApiError> {
        actor(state, &parts.headers).await.map(Caller)
    }
}

/// The actor of a request: `Authorization: Bearer <token>`, else the product's 401.
async fn actor(state: &AppState, headers: &HeaderMap) -> Result<Actor, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| ApiError(RegistryError::invalid_token()))?;
    let reg = state.registry.clone();
    Ok(state
        .registry
        .run_blocking(move || reg.authenticate(&token))
        .await?)
}

/// The token of an `Authorization` value with the Bearer scheme, whose name is compared
/// without regard to case (RFC 7235 §2.1).
fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("Bearer")
        .then_some(token.trim())
}

/// Longest request target (path and query) answered: longer ones get 414.
pub const MAX_URI: usize = 8 * 1024;
/// Largest header section (names, values and their separators) answered: larger gets 431.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;
/// Most header fields in a request answered: more get 431.
pub const MAX_HEADER_FIELDS: usize = 100;

/// Refuses a request whose head is over [`MAX_URI`], [`MAX_HEADER_BYTES`] or
/// [`MAX_HEADER_FIELDS`] with 414 or 431 in the product's error shape, before any route or
/// authentication runs. (The connection loop's own, larger buffer bound cuts off heads far
/// beyond these: hyper answers those with a bodyless 431 and closes the connection.)
async fn bound_head(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let uri = request
        .uri()
        .path_and_query()
        .map_or(0, |p| p.as_str().len());
    if uri > MAX_URI {
        return error_json(
            StatusCode::URI_TOO_LONG,
            "uri_too_long",
            &format!("The request target is longer than {MAX_URI} bytes!"),
        );
    }
    let headers = request.headers();
    let bytes = headers.iter().fold(0usize, |n, (name, value)| {
        n.saturating_add(name.as_str().len() + value.len() + 4)
    });
    if headers.len() > MAX_HEADER_FIELDS || bytes > MAX_HEADER_BYTES {
        return error_json(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            "request_header_fields_too_large",
            &format!(
                "The request headers are larger than {MAX_HEADER_BYTES} bytes or more than \
                 {MAX_HEADER_FIELDS} fields!"
            ),
        );
    }
    next.run(request).await
}

fn error_json(status: StatusCode, code: &str, description: &str) -> Response {
    json_response(status, error_body_text(code, description, None))
}

/// Headers every answer carries: `Cache-Control: no-store` (answers may hold private members
/// and tokens, and none is meant for a cache), and on a 401 the scheme to authenticate with
/// (`WWW-Authenticate: Bearer`, RFC 6750 §3).
async fn answer_headers(response: Response) -> Response {
    let mut response = error_body(response).await;
    let headers = response.headers_mut();
    // Answers are private and current, except those that say otherwise (the public JWKS).
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
    }
    if response.status() == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer"),
        );
    }
    response
}

/// An error answer made by a layer or by axum itself (405, 408, a path or query that does not
/// parse, …) in the product's error shape, like every other error: the status's code, and
/// axum's own text as the description when it gave one.
async fn error_body(response: Response) -> Response {
    let status = response.status();
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"application/json"));
    if !(status.is_client_error() || status.is_server_error()) || is_json {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // axum's rejection texts are short; anything longer is not shown.
    let text = axum::body::to_bytes(body, 1024)
        .await
        .ok()
        .and_then(|b| String::from_utf8(b.to_vec()).ok())
        .unwrap_or_default();
    let (code, fallback) = match status {
        StatusCode::METHOD_NOT_ALLOWED => ("method_not_allowed", "Method not allowed!"),
        StatusCode::REQUEST_TIMEOUT => (
            "request_timeout",
            "The request took too long and was abandoned: nothing more it does is saved (a \
             change it was already writing, or deploying, may be)!",
        ),
        StatusCode::PAYLOAD_TOO_LARGE => ("bad_request", "Request body is too large!"),
        StatusCode::UNAUTHORIZED => ("unauthorized_client", "Invalid token"),
        StatusCode::FORBIDDEN => ("access_denied", "Access denied!"),
        StatusCode::NOT_FOUND => ("not_found", "No such route!"),
        s if s.is_server_error() => ("server_error", "The server failed!"),
        _ => ("bad_request", "Bad request!"),
    };
    let description = if text.trim().is_empty() {
        fallback.to_owned()
    } else {
        text.trim().to_owned()
    };
    let body = error_body_text(code, &description, None);
    parts.headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body))
}

/// The span of one request: method and path, never the query (a caller may put a token
/// there) nor headers (the token) nor the body (key material).
fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path()
    )
}

/// Applies `command` for `actor` through the registry's one pipeline.
async fn apply(state: &AppState, actor: &Actor, command: Command) -> Result<Outcome, ApiError> {
    Ok(state.registry.apply(actor, command).await?)
}

/// The product's success body for a change: `{"success":true}`, with its
/// `deploymentResult` when environments serve what changed (and a re-sync's
/// `resyncResult`).
fn changed(outcome: &Outcome) -> ApiResult {
    ok_json(&Success {
        resync_result: outcome.resync.as_ref(),
        deployment_result: outcome.deployment.as_ref(),
        ..Success::default()
    })
}

/// `{"success":true}` with what a change has to say: a re-sync's `resyncResult`, a replaced
/// secret's `rotatedJwks`, a deleted one's `detachedJwks`, and the `deploymentResult`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Success<'a> {
    success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    resync_result: Option<&'a jwk_registry::ResyncReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    rotated_jwks: Option<&'a [jwk_registry::RotatedJwk]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    detached_jwks: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    deployment_result: Option<&'a jwk_registry::DeploymentResult>,
}

impl Default for Success<'_> {
    fn default() -> Self {
        Success {
            success: true,
            resync_result: None,
            rotated_jwks: None,
            detached_jwks: None,
            deployment_result: None,
        }
    }
}

/// Applies `command` and answers the product's success body.
async fn apply_and_answer(state: &AppState, actor: &Actor, command: Command) -> ApiResult {
    changed(&apply(state, actor, command).await?)
}

/// A body read into a command's part, or, when it does not read, the answer the registry's
/// first checks of `record` in `project` give (permission, project, name), else why it does
/// not read: the product's order of answers.
async fn read_body<T>(
    state: &AppState,
    actor: &Actor,
    project: &str,
    record: NewRecord,
    read: Result<T, RegistryError>,
) -> Result<T, ApiError> {
    let unread = match read {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    let (reg, who, project) = (state.registry.clone(), actor.clone(), project.to_owned());
    state
        .registry
        .run_blocking(move || reg.check_new(&who, &project, &record))
        .await?;
    Err(ApiError(unread))
}

/// A 200 with `value` written straight to JSON text: never through `serde_json::Value`,
/// whose map would reorder a JWK's members (answers carry JWKs in canonical order).
fn ok_json(value: &impl serde::Serialize) -> ApiResult {
    let body = serde_json::to_string(value).map_err(|e| {
        ApiError(RegistryError::internal(format!(
            "the answer does not write as JSON: {e}"
        )))
    })?;
    Ok(json_response(StatusCode::OK, body))
}

/// `{"success":true,"resultItem":…}`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultItem<T> {
    success: bool,
    result_item: T,
}

/// `{"success":true,"resultList":[…]}`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ResultList<T> {
    success: bool,
    result_list: Vec<T>,
}

async fn create_jwk(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<wire::CreateJwkBody>,
) -> ApiResult {
    let record = NewRecord::Jwk(body.name().to_owned());
    let jwk = read_body(&s, &a, &project, record, body.into_new_jwk()).await?;
    apply_and_answer(&s, &a, Command::CreateJwk { project, jwk }).await
}

async fn create_from_certificate(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<wire::CreateJwkBody>,
) -> ApiResult {
    let record = NewRecord::Jwk(body.name().to_owned());
    let read = body.into_new_jwk_from_certificate();
    let jwk = read_body(&s, &a, &project, record, read).await?;
    apply_and_answer(&s, &a, Command::CreateJwk { project, jwk }).await
}

async fn generate_jwk(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<wire::GenerateJwkBody>,
) -> ApiResult {
    let record = NewRecord::Jwk(body.name().to_owned());
    let jwk = read_body(&s, &a, &project, record, body.into_new_jwk()).await?;
    apply_and_answer(&s, &a, Command::CreateJwk { project, jwk }).await
}

#[derive(Deserialize, Default)]
struct PrivateQuery {
    private: Option<bool>,
}

async fn list_jwks(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(project): Path<String>,
    Query(q): Query<PrivateQuery>,
) -> ApiResult {
    let reg = s.registry.clone();
    let jwks = s
        .registry
        .run_blocking(move || reg.list_jwks(&a, &project, q.private.unwrap_or(false)))
        .await?;
    ok_json(&ResultList {
        success: true,
        result_list: jwks,
    })
}

async fn get_jwk(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, name)): Path<(String, String)>,
    Query(q): Query<PrivateQuery>,
) -> ApiResult {
    let reg = s.registry.clone();
    let jwk = s
        .registry
        .run_blocking(move || reg.get_jwk(&a, &project, &name, q.private.unwrap_or(false)))
        .await?;
    ok_json(&ResultItem {
        success: true,
        result_item: jwk,
    })
}

#[derive(Deserialize, Default)]
struct HistoryQuery {
    limit: Option<usize>,
}

/// A JWK's history from the audit log, newest first (`?limit=`, 1 to 100, default 20).
async fn jwk_history(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, name)): Path<(String, String)>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult {
    let reg = s.registry.clone();
    let limit = q.limit.unwrap_or(jwk_registry::DEFAULT_HISTORY_PAGE);
    let page = s
        .registry
        .run_blocking(move || reg.jwk_history(&a, &project, &name, limit))
        .await?;
    ok_json(&ResultItem {
        success: true,
        result_item: page,
    })
}

/// The credentials whose slots hold a JWK.
async fn jwk_usage(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, name)): Path<(String, String)>,
) -> ApiResult {
    let reg = s.registry.clone();
    let usage = s
        .registry
        .run_blocking(move || reg.jwk_usage(&a, &project, &name))
        .await?;
    ok_json(&ResultItem {
        success: true,
        result_item: usage,
    })
}

async fn update_jwk(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<wire::UpdateJwkBody>,
) -> ApiResult {
    let update = body.into();
    apply_and_answer(
        &s,
        &a,
        Command::UpdateJwk {
            project,
            name,
            update,
        },
    )
    .await
}

/// A change named by the two path parameters after the project's (`…/jwks/{name}/deploy/`,
/// …): `make` builds the command from them.
async fn pair_change(
    s: AppState,
    a: Actor,
    (project, name): (String, String),
    make: fn(String, String) -> Command,
) -> ApiResult {
    apply_and_answer(&s, &a, make(project, name)).await
}

async fn set_jwk_state(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<wire::StateBody>,
) -> ApiResult {
    let state = body.state()?;
    let command = Command::SetJwkState {
        project,
        name,
        state,
    };
    apply_and_answer(&s, &a, command).await
}

async fn set_jwk_validity(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<wire::ValidityBody>,
) -> ApiResult {
    let command = Command::SetJwkValidity {
        project,
        name,
        validity: body.validity(),
    };
    apply_and_answer(&s, &a, command).await
}

async fn create_jwk_set(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<wire::JwkSetBody>,
) -> ApiResult {
    let name = body.name();
    let spec = body.into_spec();
    let command = Command::CreateJwkSet {
        project,
        name,
        spec,
    };
    apply_and_answer(&s, &a, command).await
}

async fn update_jwk_set(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<wire::JwkSetBody>,
) -> ApiResult {
    let spec = body.into_spec();
    let command = Command::UpdateJwkSet {
        project,
        name,
        spec,
    };
    apply_and_answer(&s, &a, command).await
}

async fn list_jwk_sets(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(project): Path<String>,
) -> ApiResult {
    let reg = s.registry.clone();
    let sets = s
        .registry
        .run_blocking(move || reg.list_jwk_sets(&a, &project))
        .await?;
    ok_json(&ResultList {
        success: true,
        result_list: sets,
    })
}

/// `GET /apiops/projects/`: the projects the caller can see, with its permissions.
async fn list_projects(State(s): State<AppState>, Caller(a): Caller) -> ApiResult {
    let reg = s.registry.clone();
    let projects = s
        .registry
        .run_blocking(move || reg.list_projects(&a))
        .await?;
    ok_json(&ResultList {
        success: true,
        result_list: projects,
    })
}

/// `GET /apiops/environments/`: every environment and its last deployment.
async fn list_environments(State(s): State<AppState>, Caller(a): Caller) -> ApiResult {
    let reg = s.registry.clone();
    let environments = s
        .registry
        .run_blocking(move || reg.list_environments(&a))
        .await?;
    ok_json(&ResultList {
        success: true,
        result_list: environments,
    })
}

async fn get_jwk_set(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, name)): Path<(String, String)>,
) -> ApiResult {
    let reg = s.registry.clone();
    let set = s
        .registry
        .run_blocking(move || reg.get_jwk_set(&a, &project, &name))
        .await?;
    ok_json(&ResultItem {
        success: true,
        result_item: set,
    })
}

/// `POST` of a [`pair_change`].
fn post_pair(make: fn(String, String) -> Command) -> MethodRouter<AppState> {
    post(
        move |State(s): State<AppState>, Caller(a): Caller, Path(pair): Path<(String, String)>| {
            pair_change(s, a, pair, make)
        },
    )
}

/// A PUT naming a credential slot and a JWK (`…/credentials/{username}/…/{slot}/{jwkName}`):
/// `make` builds the change from the project, username, slot and JWK name.
fn put_slot_jwk(make: fn(String, String, Slot, String) -> Command) -> MethodRouter<AppState> {
    put(
        move |State(s): State<AppState>,
              Caller(a): Caller,
              Path((project, username, slot_name, jwk)): Path<(String, String, String, String)>| async move {
            let slot = slot(&slot_name)?;
            apply_and_answer(&s, &a, make(project, username, slot, jwk)).await
        },
    )
}

/// A DELETE naming a credential slot (`…/credentials/{username}/…/{slot}`).
fn delete_slot(make: fn(String, String, Slot) -> Command) -> MethodRouter<AppState> {
    axum::routing::delete(
        move |State(s): State<AppState>,
              Caller(a): Caller,
              Path((project, username, slot_name)): Path<(String, String, String)>| async move {
            let slot = slot(&slot_name)?;
            apply_and_answer(&s, &a, make(project, username, slot)).await
        },
    )
}

/// A DELETE whose change is named by the two path parameters after the project's.
fn delete_pair(make: fn(String, String) -> Command) -> MethodRouter<AppState> {
    axum::routing::delete(
        move |State(s): State<AppState>, Caller(a): Caller, Path(pair): Path<(String, String)>| {
            pair_change(s, a, pair, make)
        },
    )
}

#[derive(Deserialize, Default)]
struct CredentialBody {
    username: Option<String>,
}

async fn create_credential(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<CredentialBody>,
) -> ApiResult {
    let username = body.username.unwrap_or_default();
    apply_and_answer(&s, &a, Command::CreateCredential { project, username }).await
}

async fn list_credentials(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(project): Path<String>,
) -> ApiResult {
    let reg = s.registry.clone();
    let credentials = s
        .registry
        .run_blocking(move || reg.list_credentials(&a, &project))
        .await?;
    ok_json(&ResultList {
        success: true,
        result_list: credentials,
    })
}

async fn get_credential(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, username)): Path<(String, String)>,
) -> ApiResult {
    let reg = s.registry.clone();
    let view = s
        .registry
        .run_blocking(move || reg.get_credential(&a, &project, &username))
        .await?;
    ok_json(&ResultItem {
        success: true,
        result_item: view,
    })
}

fn slot(name: &str) -> Result<Slot, ApiError> {
    Slot::parse(name).ok_or_else(|| {
        ApiError(RegistryError::not_found(format!(
            "JWK slot ({name}) is not valid! Use encryption or validation."
        )))
    })
}

async fn get_rotation(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, username, slot_name)): Path<(String, String, String)>,
) -> ApiResult {
    let slot = slot(&slot_name)?;
    let reg = s.registry.clone();
    let view = s
        .registry
        .run_blocking(move || {
            reg.slot_rotation(&a, &project, &username, slot)?
                .ok_or_else(|| {
                    RegistryError::not_found(format!(
                        "Credential (username: {username}) has no rotation for its {slot_name} slot!"
                    ))
                })
        })
        .await?;
    ok_json(&ResultItem {
        success: true,
        result_item: view,
    })
}

async fn set_rotation(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, username, slot_name)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<wire::RotationBody>,
) -> ApiResult {
    let slot = slot(&slot_name)?;
    let command = Command::SetSlotRotation {
        project,
        username,
        slot,
        policy: Some(body.policy()?),
    };
    apply_and_answer(&s, &a, command).await
}

async fn get_jwk_rotation(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, name)): Path<(String, String)>,
) -> ApiResult {
    let reg = s.registry.clone();
    let view = s
        .registry
        .run_blocking(move || {
            reg.jwk_rotation(&a, &project, &name)?.ok_or_else(|| {
                RegistryError::not_found(format!("JWK (name: {name}) has no rotation!"))
            })
        })
        .await?;
    ok_json(&ResultItem {
        success: true,
        result_item: view,
    })
}

async fn set_jwk_rotation(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<wire::RotationBody>,
) -> ApiResult {
    let command = Command::SetJwkRotation {
        project,
        name,
        policy: Some(body.policy()?),
    };
    apply_and_answer(&s, &a, command).await
}

async fn promote_slot(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, username, slot_name)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<wire::PromoteBody>,
) -> ApiResult {
    let slot = slot(&slot_name)?;
    let command = Command::PromoteCredentialJwk {
        project,
        username,
        slot,
        overlap_secs: body.overlap_secs(),
    };
    apply_and_answer(&s, &a, command).await
}

async fn add_certificate(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<wire::AddCertificateBody>,
) -> ApiResult {
    let certificate = body.into();
    apply_and_answer(
        &s,
        &a,
        Command::AddCertificate {
            project,
            certificate,
        },
    )
    .await
}

async fn add_key(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<wire::AddKeyBody>,
) -> ApiResult {
    let record = body.record();
    let key = read_body(&s, &a, &project, record, body.into_new_key()).await?;
    apply_and_answer(&s, &a, Command::AddKey { project, key }).await
}

async fn add_keystore(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<wire::AddKeystoreBody>,
) -> ApiResult {
    let record = body.record();
    let keystore = read_body(&s, &a, &project, record, body.into_new_keystore()).await?;
    apply_and_answer(&s, &a, Command::AddKeystore { project, keystore }).await
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct SecretsQuery {
    environment_name: Option<String>,
}

async fn list_secrets(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(project): Path<String>,
    Query(q): Query<SecretsQuery>,
) -> ApiResult {
    let reg = s.registry.clone();
    let secrets = s
        .registry
        .run_blocking(move || reg.list_secrets(&a, &project, q.environment_name.as_deref()))
        .await?;
    ok_json(&ResultList {
        success: true,
        result_list: secrets,
    })
}

/// The secret a path names.
fn secret_name(class: SecretClass, environment: String, name: String) -> SecretName {
    SecretName {
        class,
        environment,
        name,
    }
}

async fn get_secret(
    s: AppState,
    a: Actor,
    (project, environment, name): (String, String, String),
    class: SecretClass,
) -> ApiResult {
    let reg = s.registry.clone();
    let secret = secret_name(class, environment, name);
    let view = s
        .registry
        .run_blocking(move || reg.get_secret(&a, &project, &secret))
        .await?;
    ok_json(&ResultItem {
        success: true,
        result_item: view,
    })
}

#[derive(Deserialize, Default)]
struct DetachQuery {
    detach: Option<bool>,
}

async fn delete_secret(
    s: AppState,
    a: Actor,
    (project, environment, name): (String, String, String),
    class: SecretClass,
    detach: bool,
) -> ApiResult {
    let secret = secret_name(class, environment, name);
    let command = Command::DeleteSecret {
        project,
        secret,
        detach,
    };
    let outcome = apply(&s, &a, command).await?;
    ok_json(&Success {
        detached_jwks: Some(&outcome.detached),
        ..Success::default()
    })
}

/// A replaced secret's answer: the JWKs that followed it, and their deployment.
fn rotated(outcome: &Outcome) -> ApiResult {
    ok_json(&Success {
        rotated_jwks: Some(&outcome.rotated),
        deployment_result: outcome.deployment.as_ref(),
        ..Success::default()
    })
}

/// `GET …/{certificates|keys|keystores}/{environment}/{name}/` for one class of secret.
fn secret_get(class: SecretClass) -> MethodRouter<AppState> {
    get(
        move |State(s): State<AppState>,
              Caller(a): Caller,
              Path(place): Path<(String, String, String)>| get_secret(s, a, place, class),
    )
}

/// `DELETE …/{certificates|keys|keystores}/{environment}/{name}/[?detach=true]`.
fn secret_delete(class: SecretClass) -> MethodRouter<AppState> {
    axum::routing::delete(
        move |State(s): State<AppState>,
              Caller(a): Caller,
              Path(place): Path<(String, String, String)>,
              Query(q): Query<DetachQuery>| {
            delete_secret(s, a, place, class, q.detach.unwrap_or(false))
        },
    )
}

async fn replace_certificate(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, environment, name)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<wire::AddCertificateBody>,
) -> ApiResult {
    let certificate = body.placed(&environment, &name).into();
    rotated(
        &apply(
            &s,
            &a,
            Command::ReplaceCertificate {
                project,
                certificate,
            },
        )
        .await?,
    )
}

async fn replace_key(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, environment, name)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<wire::AddKeyBody>,
) -> ApiResult {
    let body = body.placed(&environment, &name);
    let record = body.record();
    let key = read_body(&s, &a, &project, record, body.into_new_key()).await?;
    rotated(&apply(&s, &a, Command::ReplaceKey { project, key }).await?)
}

async fn replace_keystore(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, environment, name)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<wire::AddKeystoreBody>,
) -> ApiResult {
    let body = body.placed(&environment, &name);
    let record = body.record();
    let keystore = read_body(&s, &a, &project, record, body.into_new_keystore()).await?;
    rotated(&apply(&s, &a, Command::ReplaceKeystore { project, keystore }).await?)
}

#[derive(Deserialize, Default)]
struct NameBody {
    name: Option<String>,
}

async fn create_project(
    State(s): State<AppState>,
    Caller(a): Caller,
    JsonBody(body): JsonBody<NameBody>,
) -> ApiResult {
    let name = body.name.unwrap_or_default();
    apply_and_answer(&s, &a, Command::CreateProject { name }).await
}

#[derive(Deserialize)]
struct EnvironmentBody {
    name: Option<String>,
    target: TargetConfig,
}

async fn create_environment(
    State(s): State<AppState>,
    Caller(a): Caller,
    JsonBody(body): JsonBody<EnvironmentBody>,
) -> ApiResult {
    let command = Command::CreateEnvironment {
        name: body.name.unwrap_or_default(),
        target: body.target,
    };
    apply_and_answer(&s, &a, command).await
}

#[derive(Deserialize)]
struct TargetBody {
    target: TargetConfig,
}

/// Replaces an environment's target (admin), then deploys every key to it: the answer is the
/// deployment result.
async fn update_environment(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<TargetBody>,
) -> ApiResult {
    let target = body.target;
    apply_and_answer(&s, &a, Command::UpdateEnvironment { name, target }).await
}

async fn delete_environment(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(name): Path<String>,
) -> ApiResult {
    apply_and_answer(&s, &a, Command::DeleteEnvironment { name }).await
}

#[derive(Deserialize, Default)]
struct UserBody {
    username: Option<String>,
}

/// `{"username":…,"token":…}`: a user's new token, shown once.
fn user_token(username: &str, outcome: Outcome) -> ApiResult {
    ok_json(&serde_json::json!({ "username": username, "token": outcome.token }))
}

async fn create_user(
    State(s): State<AppState>,
    Caller(a): Caller,
    JsonBody(body): JsonBody<UserBody>,
) -> ApiResult {
    let username = body.username.unwrap_or_default();
    let shown = username.trim().to_owned();
    user_token(
        &shown,
        apply(&s, &a, Command::CreateUser { username }).await?,
    )
}

/// Issues a user a new token; the old one stops working (admin).
async fn reset_user_token(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(username): Path<String>,
) -> ApiResult {
    let shown = username.clone();
    user_token(
        &shown,
        apply(&s, &a, Command::ResetUserToken { username }).await?,
    )
}

async fn delete_user(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(username): Path<String>,
) -> ApiResult {
    apply_and_answer(&s, &a, Command::DeleteUser { username }).await
}

#[derive(Deserialize)]
struct MemberBody {
    permissions: Vec<Permission>,
}

async fn set_member(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, username)): Path<(String, String)>,
    JsonBody(body): JsonBody<MemberBody>,
) -> ApiResult {
    let permissions = body.permissions;
    let command = Command::SetMember {
        project,
        username,
        permissions,
    };
    apply_and_answer(&s, &a, command).await
}

/// Who the token belongs to, and whether it is the admin user's (the console offers the
/// admin's actions to the admin alone).
async fn me(Caller(a): Caller) -> ApiResult {
    ok_json(&ResultItem {
        success: true,
        result_item: serde_json::json!({"username": a.username, "admin": a.admin}),
    })
}

async fn reconcile(State(s): State<AppState>, Caller(a): Caller) -> ApiResult {
    if !a.admin {
        return Err(ApiError(RegistryError::forbidden(
            "Only the admin user can reconcile deployments!",
        )));
    }
    let deployment = s.registry.reconcile().await?;
    ok_json(&Success {
        deployment_result: Some(&deployment),
        ..Success::default()
    })
}

/// The public JWKS this node's in-process resolver serves for a `memory` environment; the
/// revision it belongs to is the ETag (any authenticated user: the keys are public).
async fn environment_jwks(
    State(s): State<AppState>,
    Caller(_): Caller,
    Path(environment): Path<String>,
) -> ApiResult {
    let reg = s.registry.clone();
    let (jwks, revision) = s
        .registry
        .run_blocking(move || reg.served_jwks(&environment))
        .await?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/jwk-set+json".to_owned()),
            (header::ETAG, format!("\"{revision}\"")),
        ],
        jwks.to_string(),
    )
        .into_response())
}

async fn healthz() -> Response {
    json_response(StatusCode::OK, r#"{"status":"ok"}"#.to_owned())
}

/// The metrics ([`metrics::render`]): the admin user's token is asked for unless the
/// server was started with public metrics.
async fn metrics_text(State(s): State<AppState>, headers: HeaderMap) -> ApiResult {
    if !s.public_metrics {
        let caller = actor(&s, &headers).await?;
        if !caller.admin {
            return Err(ApiError(RegistryError::forbidden(format!(
                "User (username: {}) may not read the metrics: only the admin user may!",
                caller.username
            ))));
        }
    }
    let reg = s.registry.clone();
    let observed = s.registry.run_blocking(move || reg.observe()).await?;
    let text = metrics::render(&s.http_metrics, &observed)
        .map_err(|e| ApiError(RegistryError::internal(format!("the metrics: {e}"))))?;
    Ok((
        StatusCode::OK,
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        text,
    )
        .into_response())
}

/// Counts a routed request for `/metrics`, under its route template.
async fn count_request(
    State(s): State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let route = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or("unmatched", axum::extract::MatchedPath::as_str)
        .to_owned();
    let method = request.method().clone();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    s.http_metrics.observe(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// Whether an `If-None-Match` value names `etag` (weak comparison, as RFC 9110 asks for
/// this header; `*` names any).
fn none_match(value: &str, etag: &str) -> bool {
    value
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// The max-age of a public JWKS: the configured one, shortened so that caches come back when
/// a key's `nbf` or `exp` changes the set next, never below `floor`.
fn public_max_age(max_age: u64, floor: u64, next_change: Option<i64>, now: i64) -> u64 {
    let Some(next) = next_change else {
        return max_age;
    };
    let until = u64::try_from(next.saturating_sub(now)).unwrap_or(0);
    max_age.min(until.max(floor))
}

/// The public JWKS's row in the route table (the default path; the router serves it under
/// the configured prefix).
const PUBLIC_JWKS_ROUTE: &str = "/.well-known/jwks/{file}";

/// The default path of the public JWKS.
pub const DEFAULT_PUBLIC_JWKS_PATH: &str = "/.well-known/jwks/{environment}.json";

/// Where the public JWKS is served: a path template holding `{environment}` once, as all or
/// part of one path segment after a fixed prefix (`/.well-known/jwks/{environment}.json`,
/// `/keys/{environment}/jwks.json`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicJwksPath {
    template: String,
    /// Up to and including the `/` before the environment's segment.
    prefix: String,
    /// What follows the environment's name in its segment, and any later segments.
    suffix: String,
}

impl PublicJwksPath {
    /// Reads a template; refuses one that could shadow the API or match nothing.
    pub fn parse(template: &str) -> Result<PublicJwksPath, String> {
        let refuse = |why: &str| {
            Err(format!(
                "the public JWKS path ({template}) {why}: give one like {DEFAULT_PUBLIC_JWKS_PATH}"
            ))
        };
        let Some((before, after)) = template.split_once("{environment}") else {
            return refuse("does not hold {environment}");
        };
        if after.contains("{environment}") {
            return refuse("holds {environment} more than once");
        }
        let Some(head) = before.strip_suffix('/') else {
            return refuse("must start with '/' and have {environment} start a path segment");
        };
        if head.is_empty() || head.starts_with("/apiops") {
            return refuse("must have a first segment of its own, not / or /apiops");
        }
        if !head.starts_with('/') {
            return refuse("must start with '/' and have {environment} start a path segment");
        }
        let special = |c: char| c.is_control() || c.is_whitespace() || "{}?#%".contains(c);
        if before.contains(special) || after.contains(special) || before.contains("//") {
            return refuse("may not hold spaces, braces, '?', '#', '%' or '//'");
        }
        if after.ends_with('/') || after.contains("//") {
            return refuse("may not end with '/'");
        }
        Ok(PublicJwksPath {
            template: template.to_owned(),
            prefix: before.to_owned(),
            suffix: after.to_owned(),
        })
    }

    /// The environment a request path under the prefix names, if it fits the template.
    fn environment<'a>(&self, rest: &'a str) -> Option<&'a str> {
        rest.strip_suffix(self.suffix.as_str())
            .filter(|e| !e.is_empty() && !e.contains('/'))
    }
}

impl Default for PublicJwksPath {
    fn default() -> Self {
        PublicJwksPath::parse(DEFAULT_PUBLIC_JWKS_PATH).unwrap_or_else(|_| PublicJwksPath {
            template: DEFAULT_PUBLIC_JWKS_PATH.to_owned(),
            prefix: "/.well-known/jwks/".to_owned(),
            suffix: ".json".to_owned(),
        })
    }
}

/// `GET /.well-known/jwks/{environment}.json` (or the `public_jwks_path` configured): the
/// public JWKS a `memory` environment's in-process resolver serves, without a token, from
/// bytes made once per deployment, with a strong ETag (304 on a matching `If-None-Match`) and
/// `Cache-Control: public, max-age`.
async fn public_jwks(
    State(s): State<AppState>,
    Path(rest): Path<String>,
    headers: HeaderMap,
) -> Response {
    let published = s
        .public_jwks_path
        .environment(&rest)
        .and_then(|environment| s.registry.published_jwks(environment));
    let Some(published) = published else {
        return error_json(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!(
                "No such JWKS: {} names a memory environment this server serves!",
                s.public_jwks_path.template
            ),
        );
    };
    let cache = format!(
        "public, max-age={}",
        public_max_age(
            s.public_jwks_max_age,
            s.public_jwks_min_max_age,
            // A key's nbf or exp, or a rotation's next publication: whichever comes first.
            match (
                published.next_change,
                s.registry.next_scheduled_publication()
            ) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            },
            s.registry.now_secs()
        )
    );
    let etag = published.etag.to_string();
    let matched = headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| none_match(v, &etag));
    let common = [
        (header::ETAG, etag),
        (header::CACHE_CONTROL, cache),
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*".to_owned()),
    ];
    if matched {
        return (StatusCode::NOT_MODIFIED, common).into_response();
    }
    (
        StatusCode::OK,
        common,
        [(header::CONTENT_TYPE, "application/jwk-set+json")],
        // The deployment's bytes themselves, not a copy.
        axum::body::Body::from(bytes::Bytes::from_owner(SharedText(published.body))),
    )
        .into_response()
}

/// Shared text as a body's bytes.
struct SharedText(Arc<str>);

impl AsRef<[u8]> for SharedText {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// Ready once every remote JWK Set was loaded once or failed its first attempt
/// ([`Registry::jwk_sets_ready`]); 503 until then.
async fn readyz(State(s): State<AppState>) -> Response {
    if s.registry.jwk_sets_ready() {
        json_response(StatusCode::OK, r#"{"status":"ready"}"#.to_owned())
    } else {
        error_json(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "The remote JWK Sets are being loaded: not ready yet!",
        )
    }
}

async fn openapi() -> Response {
    json_response(StatusCode::OK, OPENAPI.to_owned())
}

async fn not_found() -> Response {
    error_json(StatusCode::NOT_FOUND, "not_found", "No such route!")
}

/// Every route: method, path (without the trailing slash, which the server trims) and
/// handler. The router is made from this table, and a test checks the OpenAPI document
/// against it both ways, so the two cannot drift.
fn route_table() -> Vec<(&'static str, &'static str, MethodRouter<AppState>)> {
    use axum::routing::delete;
    vec![
        ("POST", "/apiops/projects/{project}/jwks", post(create_jwk)),
        ("GET", "/apiops/projects/{project}/jwks", get(list_jwks)),
        (
            "POST",
            "/apiops/projects/{project}/jwks/from-certificate",
            post(create_from_certificate),
        ),
        (
            "POST",
            "/apiops/projects/{project}/jwks/generate",
            post(generate_jwk),
        ),
        (
            "GET",
            "/apiops/projects/{project}/jwks/{name}",
            get(get_jwk),
        ),
        (
            "PUT",
            "/apiops/projects/{project}/jwks/{name}",
            put(update_jwk),
        ),
        (
            "DELETE",
            "/apiops/projects/{project}/jwks/{name}",
            axum::routing::delete(
                move |State(s): State<AppState>,
                      Caller(a): Caller,
                      Path(pair): Path<(String, String)>| {
                    pair_change(s, a, pair, |project, name| Command::DeleteJwk {
                        project,
                        name,
                    })
                },
            ),
        ),
        (
            "GET",
            "/apiops/projects/{project}/jwks/{name}/history",
            get(jwk_history),
        ),
        (
            "GET",
            "/apiops/projects/{project}/jwks/{name}/credentials",
            get(jwk_usage),
        ),
        (
            "PUT",
            "/apiops/projects/{project}/jwks/{name}/state",
            put(set_jwk_state),
        ),
        (
            "PUT",
            "/apiops/projects/{project}/jwks/{name}/validity",
            put(set_jwk_validity),
        ),
        (
            "GET",
            "/apiops/projects/{project}/jwks/{name}/rotation",
            get(get_jwk_rotation),
        ),
        (
            "PUT",
            "/apiops/projects/{project}/jwks/{name}/rotation",
            put(set_jwk_rotation),
        ),
        (
            "DELETE",
            "/apiops/projects/{project}/jwks/{name}/rotation",
            delete_pair(|project, name| Command::SetJwkRotation {
                project,
                name,
                policy: None,
            }),
        ),
        (
            "POST",
            "/apiops/projects/{project}/jwks/{name}/resync",
            post_pair(|project, name| Command::ResyncJwk { project, name }),
        ),
        (
            "POST",
            "/apiops/projects/{project}/jwks/{name}/deploy",
            post_pair(|project, name| Command::DeployJwk { project, name }),
        ),
        (
            "POST",
            "/apiops/projects/{project}/jwk-sets",
            post(create_jwk_set),
        ),
        (
            "GET",
            "/apiops/projects/{project}/jwk-sets",
            get(list_jwk_sets),
        ),
        (
            "GET",
            "/apiops/projects/{project}/jwk-sets/{name}",
            get(get_jwk_set),
        ),
        (
            "PUT",
            "/apiops/projects/{project}/jwk-sets/{name}",
            put(update_jwk_set),
        ),
        (
            "DELETE",
            "/apiops/projects/{project}/jwk-sets/{name}",
            delete(
                move |State(s): State<AppState>,
                      Caller(a): Caller,
                      Path(pair): Path<(String, String)>| {
                    pair_change(s, a, pair, |project, name| Command::DeleteJwkSet {
                        project,
                        name,
                    })
                },
            ),
        ),
        (
            "POST",
            "/apiops/projects/{project}/jwk-sets/{name}/refresh",
            post_pair(|project, name| Command::RefreshJwkSet { project, name }),
        ),
        (
            "POST",
            "/apiops/projects/{project}/credentials",
            post(create_credential),
        ),
        (
            "GET",
            "/apiops/projects/{project}/credentials",
            get(list_credentials),
        ),
        (
            "GET",
            "/apiops/projects/{project}/credentials/{username}",
            get(get_credential),
        ),
        (
            "POST",
            "/apiops/projects/{project}/credentials/{username}/deploy",
            post_pair(|project, username| Command::DeployCredential { project, username }),
        ),
        (
            "PUT",
            "/apiops/projects/{project}/credentials/{username}/jwk/{slot}/{jwkName}",
            put_slot_jwk(|project, username, slot, jwk| Command::SetCredentialJwk {
                project,
                username,
                slot,
                jwk: Some(jwk),
            }),
        ),
        (
            "DELETE",
            "/apiops/projects/{project}/credentials/{username}/jwk/{slot}",
            delete_slot(|project, username, slot| Command::SetCredentialJwk {
                project,
                username,
                slot,
                jwk: None,
            }),
        ),
        (
            "PUT",
            "/apiops/projects/{project}/credentials/{username}/next-jwk/{slot}/{jwkName}",
            put_slot_jwk(
                |project, username, slot, jwk| Command::SetCredentialNextJwk {
                    project,
                    username,
                    slot,
                    jwk: Some(jwk),
                },
            ),
        ),
        (
            "DELETE",
            "/apiops/projects/{project}/credentials/{username}/next-jwk/{slot}",
            delete_slot(|project, username, slot| Command::SetCredentialNextJwk {
                project,
                username,
                slot,
                jwk: None,
            }),
        ),
        (
            "POST",
            "/apiops/projects/{project}/credentials/{username}/promote/{slot}",
            post(promote_slot),
        ),
        (
            "GET",
            "/apiops/projects/{project}/credentials/{username}/rotation/{slot}",
            get(get_rotation),
        ),
        (
            "PUT",
            "/apiops/projects/{project}/credentials/{username}/rotation/{slot}",
            put(set_rotation),
        ),
        (
            "DELETE",
            "/apiops/projects/{project}/credentials/{username}/rotation/{slot}",
            delete_slot(|project, username, slot| Command::SetSlotRotation {
                project,
                username,
                slot,
                policy: None,
            }),
        ),
        (
            "POST",
            "/apiops/projects/{project}/certificates",
            post(add_certificate),
        ),
        ("POST", "/apiops/projects/{project}/keys", post(add_key)),
        (
            "GET",
            "/apiops/projects/{project}/secrets",
            get(list_secrets),
        ),
        (
            "GET",
            "/apiops/projects/{project}/certificates/{environment}/{name}",
            secret_get(SecretClass::Certificate),
        ),
        (
            "PUT",
            "/apiops/projects/{project}/certificates/{environment}/{name}",
            put(replace_certificate),
        ),
        (
            "DELETE",
            "/apiops/projects/{project}/certificates/{environment}/{name}",
            secret_delete(SecretClass::Certificate),
        ),
        (
            "GET",
            "/apiops/projects/{project}/keys/{environment}/{name}",
            secret_get(SecretClass::Key),
        ),
        (
            "PUT",
            "/apiops/projects/{project}/keys/{environment}/{name}",
            put(replace_key),
        ),
        (
            "DELETE",
            "/apiops/projects/{project}/keys/{environment}/{name}",
            secret_delete(SecretClass::Key),
        ),
        (
            "GET",
            "/apiops/projects/{project}/keystores/{environment}/{name}",
            secret_get(SecretClass::Keystore),
        ),
        (
            "PUT",
            "/apiops/projects/{project}/keystores/{environment}/{name}",
            put(replace_keystore),
        ),
        (
            "DELETE",
            "/apiops/projects/{project}/keystores/{environment}/{name}",
            secret_delete(SecretClass::Keystore),
        ),
        (
            "POST",
            "/apiops/projects/{project}/keystores",
            post(add_keystore),
        ),
        (
            "PUT",
            "/apiops/projects/{project}/members/{username}",
            put(set_member),
        ),
        ("POST", "/apiops/projects", post(create_project)),
        ("GET", "/apiops/projects", get(list_projects)),
        ("POST", "/apiops/environments", post(create_environment)),
        ("GET", "/apiops/environments", get(list_environments)),
        (
            "PUT",
            "/apiops/environments/{environment}",
            put(update_environment),
        ),
        (
            "DELETE",
            "/apiops/environments/{environment}",
            delete(delete_environment),
        ),
        (
            "GET",
            "/apiops/environments/{environment}/jwks",
            get(environment_jwks),
        ),
        ("POST", "/apiops/users", post(create_user)),
        ("DELETE", "/apiops/users/{username}", delete(delete_user)),
        (
            "POST",
            "/apiops/users/{username}/token",
            post(reset_user_token),
        ),
        ("POST", "/apiops/reconcile", post(reconcile)),
        ("GET", "/apiops/me", get(me)),
        ("GET", "/apiops/openapi.json", get(openapi)),
        ("GET", "/healthz", get(healthz)),
        ("GET", "/readyz", get(readyz)),
        ("GET", PUBLIC_JWKS_ROUTE, get(public_jwks)),
        ("GET", "/metrics", get(metrics_text)),
    ]
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
            if path == PUBLIC_JWKS_ROUTE {
                // Under the configured prefix, whatever it is.
                router.route(&format!("{}{{*rest}}", public.prefix), handler)
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
            count_request,
        ))
        .fallback(not_found)
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .layer(tower_http::timeout::TimeoutLayer::with_status_code(
            StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(60),
        ))
        .layer(axum::middleware::from_fn(bound_head))
        .layer(axum::middleware::map_response(answer_headers))
        // One span and one INFO line per request: method, path, status, latency (outside the
        // timeout, so a request that times out is logged with its 408).
        .layer(
            tower_http::trace::TraceLayer::new_for_http()
                .make_span_with(request_span)
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
mod answer_tests {
    use super::*;

    #[test]
    fn a_public_jwks_path_holds_the_environment_as_a_segment_or_its_start() {
        let default = PublicJwksPath::default();
        assert_eq!(
            (default.prefix.as_str(), default.suffix.as_str()),
            ("/.well-known/jwks/", ".json")
        );
        assert_eq!(default.environment("production.json"), Some("production"));
        for rest in [".json", "production", "a/b.json"] {
            assert_eq!(default.environment(rest), None, "{rest}");
        }
        let nested = PublicJwksPath::parse("/keys/{environment}/jwks.json").unwrap();
        assert_eq!(
            nested.environment("production/jwks.json"),
            Some("production")
        );
        assert_eq!(nested.environment("production/other.json"), None);
        let refused = |t: &str| PublicJwksPath::parse(t).unwrap_err();
        assert_eq!(
            refused("/keys/jwks.json"),
            "the public JWKS path (/keys/jwks.json) does not hold {environment}: give one like /.well-known/jwks/{environment}.json"
        );
        for (template, why) in [
            (
                "/{environment}.json",
                "must have a first segment of its own, not / or /apiops",
            ),
            (
                "/apiops/{environment}.json",
                "must have a first segment of its own, not / or /apiops",
            ),
            (
                "/keys/x{environment}.json",
                "must start with '/' and have {environment} start a path segment",
            ),
            (
                "keys/{environment}",
                "must start with '/' and have {environment} start a path segment",
            ),
            ("/keys/{environment}/", "may not end with '/'"),
            (
                "/keys/{environment}/{environment}",
                "holds {environment} more than once",
            ),
            (
                "/keys?/{environment}",
                "may not hold spaces, braces, '?', '#', '%' or '//'",
            ),
        ] {
            assert_eq!(
                refused(template),
                format!(
                    "the public JWKS path ({template}) {why}: give one like /.well-known/jwks/{{environment}}.json"
                )
            );
        }
    }

    #[test]
    fn the_public_max_age_shortens_ahead_of_a_validity_change_down_to_its_floor() {
        // (max-age, floor, next change, now) → max-age
        for (args, expected) in [
            ((300, 10, None, 1000), 300),
            ((300, 10, Some(2000), 1000), 300),
            ((300, 10, Some(1100), 1000), 100),
            ((300, 10, Some(1005), 1000), 10),
            ((300, 10, Some(900), 1000), 10),
            ((5, 10, Some(1100), 1000), 5),
            ((300, 0, Some(i64::MIN), i64::MAX), 0),
        ] {
            let (max_age, floor, next, now) = args;
            assert_eq!(
                public_max_age(max_age, floor, next, now),
                expected,
                "{args:?}"
            );
        }
    }

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
                    // No follower runs in this test.
                    (true, "/readyz") => StatusCode::SERVICE_UNAVAILABLE,
                    // Public; no environment is served in this test.
                    (true, "/.well-known/jwks/{file}") => StatusCode::NOT_FOUND,
                    (true, _) => StatusCode::UNAUTHORIZED,
                };
                assert_eq!(status, expected, "{method} {concrete}");
            }
        }
    }

    #[test]
    fn a_busy_answer_says_when_to_try_again() {
        let response = ApiError(RegistryError::busy(
            "Too many URL fetches are in progress (16): try again in a few seconds!".to_owned(),
        ))
        .into_response();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers()[header::RETRY_AFTER], "5");
        let forbidden = ApiError(RegistryError::forbidden("no")).into_response();
        assert!(forbidden.headers().get(header::RETRY_AFTER).is_none());
    }
}
