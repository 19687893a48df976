//! Who calls: the bearer token of `Authorization`, authenticated off the async workers.

use axum::http::{HeaderMap, header};
use jwk_registry::{Actor, RegistryError};

use crate::AppState;
use crate::error::ApiError;

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
pub(crate) async fn actor(state: &AppState, headers: &HeaderMap) -> Result<Actor, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(bearer_token)
        .filter(|t| !t.is_empty())
        .map(str::to_owned)
        .ok_or_else(|| ApiError(RegistryError::invalid_token()))?;
    crate::answer::read(state, move |reg| reg.authenticate(&token)).await
}

/// The token of an `Authorization` value with the Bearer scheme, whose name is compared
/// without regard to case (RFC 7235 §2.1).
pub(crate) fn bearer_token(value: &str) -> Option<&str> {
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("Bearer")
        .then_some(token.trim())
}
