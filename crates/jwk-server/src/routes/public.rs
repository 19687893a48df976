//! Routes without the API's token: health, readiness, the OpenAPI document, the public
//! JWKS of each memory environment, and the metrics (the admin's token unless public).

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jwk_registry::RegistryError;
use std::sync::Arc;

use crate::AppState;
use crate::answer::*;
use crate::error::*;

/// This area's rows of the route table.
pub(crate) fn table() -> Vec<crate::Route> {
    vec![
        ("GET", "/apiops/openapi.json", get(openapi)),
        ("GET", "/healthz", get(healthz)),
        ("GET", "/readyz", get(readyz)),
        ("GET", PUBLIC_JWKS_ROUTE, get(public_jwks)),
        ("GET", "/metrics", get(metrics_text)),
    ]
}

pub(crate) async fn healthz() -> Response {
    json_response(StatusCode::OK, r#"{"status":"ok"}"#.to_owned())
}

/// The metrics ([`metrics::render`]): the admin user's token is asked for unless the
/// server was started with public metrics.
pub(crate) async fn metrics_text(State(s): State<AppState>, headers: HeaderMap) -> ApiResult {
    if !s.public_metrics {
        let caller = crate::auth::actor(&s, &headers).await?;
        if !caller.is_admin() {
            return Err(ApiError(RegistryError::forbidden(format!(
                "User (username: {}) may not read the metrics: only the admin user may!",
                caller.username()
            ))));
        }
    }
    let observed = crate::answer::read(&s, |reg| reg.observe()).await?;
    let misses = s
        .controllers
        .as_ref()
        .map(|c| c.miss_stats())
        .unwrap_or_default();
    let text = crate::metrics::render(&s.http_metrics, &observed, misses)
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

/// Whether an `If-None-Match` value names `etag` (weak comparison, as RFC 9110 asks for
/// this header; `*` names any).
pub(crate) fn none_match(value: &str, etag: &str) -> bool {
    value
        .split(',')
        .map(str::trim)
        .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
}

/// The max-age of a public JWKS: the configured one, shortened so that caches come back when
/// a key's `nbf` or `exp` changes the set next, never below `floor`.
pub(crate) fn public_max_age(max_age: u64, floor: u64, next_change: Option<i64>, now: i64) -> u64 {
    let Some(next) = next_change else {
        return max_age;
    };
    let until = u64::try_from(next.saturating_sub(now)).unwrap_or(0);
    max_age.min(until.max(floor))
}

/// The public JWKS's row in the route table (the default path; the router serves it under
/// the configured prefix).
pub(crate) const PUBLIC_JWKS_ROUTE: &str = "/.well-known/jwks/{file}";

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

/// The first path segments of the server's own routes.
const OWN_SEGMENTS: [&str; 5] = ["apiops", "console", "healthz", "readyz", "metrics"];

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
        // The server's own first segments: a template under one would shadow its routes or
        // clash with them when the router is made.
        let first = head.split('/').nth(1).unwrap_or_default();
        if head.is_empty() || OWN_SEGMENTS.contains(&first) || head.starts_with("/apiops") {
            return refuse(
                "must have a first segment of its own, not /, /apiops, /console, /healthz, \
                 /readyz or /metrics",
            );
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

    /// Up to and including the `/` before the environment's segment: what the router serves
    /// the public JWKS under.
    pub(crate) fn prefix(&self) -> &str {
        &self.prefix
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
pub(crate) async fn public_jwks(
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
                s.controllers
                    .as_ref()
                    .and_then(|c| c.next_scheduled_publication())
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
        axum::body::Body::from(bytes::Bytes::from_owner(SharedText(published.body()))),
    )
        .into_response()
}

/// Shared text as a body's bytes.
pub(crate) struct SharedText(Arc<str>);

impl AsRef<[u8]> for SharedText {
    fn as_ref(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

/// Ready once every remote JWK Set was loaded once or failed its first attempt
/// ([`Registry::jwk_sets_ready`]); 503 until then.
pub(crate) async fn readyz(State(s): State<AppState>) -> Response {
    if s.controllers.as_ref().is_some_and(|c| c.jwk_sets_ready()) {
        json_response(StatusCode::OK, r#"{"status":"ready"}"#.to_owned())
    } else {
        error_json(
            StatusCode::SERVICE_UNAVAILABLE,
            "temporarily_unavailable",
            "The remote JWK Sets are being loaded: not ready yet!",
        )
    }
}

pub(crate) async fn openapi() -> Response {
    json_response(StatusCode::OK, crate::OPENAPI.to_owned())
}

pub(crate) async fn not_found() -> Response {
    error_json(StatusCode::NOT_FOUND, "not_found", "No such route!")
}

#[cfg(test)]
mod tests {
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
                "must have a first segment of its own, not /, /apiops, /console, /healthz, /readyz or /metrics",
            ),
            (
                "/apiops/{environment}.json",
                "must have a first segment of its own, not /, /apiops, /console, /healthz, /readyz or /metrics",
            ),
            (
                "/console/{environment}.json",
                "must have a first segment of its own, not /, /apiops, /console, /healthz, /readyz or /metrics",
            ),
            (
                "/metrics/{environment}",
                "must have a first segment of its own, not /, /apiops, /console, /healthz, /readyz or /metrics",
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
}
