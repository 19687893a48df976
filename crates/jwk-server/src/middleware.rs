//! What wraps every route: bounds on the request head, the product's error shape for answers
//! made by layers, headers every answer carries, one log span per request, request metrics.

use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;

use crate::AppState;
use crate::error::{error_body_text, error_json};

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
pub(crate) async fn bound_head(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
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

/// Headers every answer carries: `Cache-Control: no-store` (answers may hold private members
/// and tokens, and none is meant for a cache), and on a 401 the scheme to authenticate with
/// (`WWW-Authenticate: Bearer`, RFC 6750 §3).
pub(crate) async fn answer_headers(response: Response) -> Response {
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
pub(crate) async fn error_body(response: Response) -> Response {
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
pub(crate) fn request_span<B>(request: &axum::http::Request<B>) -> tracing::Span {
    tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path()
    )
}

/// Counts a routed request for `/metrics`, under its route template.
pub(crate) async fn count_request(
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
