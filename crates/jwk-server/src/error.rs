//! The product's error shape: `{"error":…,"error_description":…}` with the HTTP status of the
//! failure's class, and a finer stable `code` when the failure has one.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use jwk_registry::{ErrorKind, RegistryError};

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
pub(crate) fn status_of(kind: ErrorKind) -> StatusCode {
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
pub(crate) struct ErrorBody<'a> {
    error: &'a str,
    error_description: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'a str>,
}

pub(crate) fn error_body_text(error: &str, description: &str, code: Option<&str>) -> String {
    serde_json::to_string(&ErrorBody {
        error,
        error_description: description,
        code,
    })
    .unwrap_or_default()
}

pub(crate) fn json_response(status: StatusCode, body: String) -> Response {
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

pub(crate) fn error_json(status: StatusCode, code: &str, description: &str) -> Response {
    json_response(status, error_body_text(code, description, None))
}

#[cfg(test)]
mod tests {
    use super::*;

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
