//! A tower layer for gateways: takes the bearer token, verifies it, hands the verified
//! claims to the inner service in the request's extensions, and answers 401 otherwise.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{AUTHORIZATION, HeaderValue, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};

use crate::error::VerifyError;
use crate::source::{BoxFuture, KeySource};
use crate::verify::{VerifiedJwt, Verifier};

/// Wraps a service so that only requests with a valid bearer token reach it.
///
/// - The token comes from `Authorization: Bearer …` (RFC 6750 §2.1).
/// - It is verified with [`Verifier::verify_async`] against the key source, so a source
///   that refetches on an unknown `kid` (the registry's `LiveKeys`) does so here.
/// - The [`VerifiedJwt`] goes into the request's extensions (axum: `Extension<VerifiedJwt>`).
/// - No token: `401` with `WWW-Authenticate: Bearer` (RFC 6750 §3.1: no error code).
///   A token refused: `401` with `WWW-Authenticate: Bearer error="invalid_token",
///   error_description="…"` (the refusal's message). Keys being refetched past the lookup's
///   deadline: `503` with `Retry-After: 1`.
pub struct VerifyLayer<S> {
    verifier: Arc<Verifier>,
    source: Arc<S>,
}

impl<S> Clone for VerifyLayer<S> {
    fn clone(&self) -> VerifyLayer<S> {
        VerifyLayer {
            verifier: self.verifier.clone(),
            source: self.source.clone(),
        }
    }
}

impl<S> std::fmt::Debug for VerifyLayer<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyLayer")
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

impl<S: KeySource + 'static> VerifyLayer<S> {
    /// A layer verifying with `verifier` against `source`.
    pub fn new(verifier: Verifier, source: S) -> VerifyLayer<S> {
        VerifyLayer {
            verifier: Arc::new(verifier),
            source: Arc::new(source),
        }
    }
}

impl<I, S> tower_layer::Layer<I> for VerifyLayer<S> {
    type Service = VerifyService<I, S>;

    fn layer(&self, inner: I) -> VerifyService<I, S> {
        VerifyService {
            inner,
            verifier: self.verifier.clone(),
            source: self.source.clone(),
        }
    }
}

/// The service [`VerifyLayer`] makes.
pub struct VerifyService<I, S> {
    inner: I,
    verifier: Arc<Verifier>,
    source: Arc<S>,
}

impl<I: Clone, S> Clone for VerifyService<I, S> {
    fn clone(&self) -> VerifyService<I, S> {
        VerifyService {
            inner: self.inner.clone(),
            verifier: self.verifier.clone(),
            source: self.source.clone(),
        }
    }
}

impl<I, S> std::fmt::Debug for VerifyService<I, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifyService").finish_non_exhaustive()
    }
}

impl<I, S, ReqBody, ResBody> tower_service::Service<Request<ReqBody>> for VerifyService<I, S>
where
    I: tower_service::Service<Request<ReqBody>, Response = Response<ResBody>>
        + Clone
        + Send
        + 'static,
    I::Future: Send,
    S: KeySource + 'static,
    ReqBody: Send + 'static,
    ResBody: Default,
{
    type Response = Response<ResBody>;
    type Error = I::Error;
    type Future = BoxFuture<'static, Result<Response<ResBody>, I::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), I::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<ReqBody>) -> Self::Future {
        // The clone that was polled ready serves this request (tower's usual swap).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let verifier = self.verifier.clone();
        let source = self.source.clone();
        let token = bearer(&request);
        Box::pin(async move {
            let Some(token) = token else {
                return Ok(refusal(None));
            };
            match verifier.verify_async(&token, &*source).await {
                Ok(jwt) => {
                    request.extensions_mut().insert::<VerifiedJwt>(jwt);
                    inner.call(request).await
                }
                Err(e) => Ok(refusal(Some(&e))),
            }
        })
    }
}

/// The bearer token of `Authorization: Bearer <token>` (one header, scheme case-insensitive).
fn bearer<B>(request: &Request<B>) -> Option<String> {
    let mut values = request.headers().get_all(AUTHORIZATION).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return None;
    };
    let value = value.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let token = token.trim_start_matches(' ');
    (!token.is_empty()).then(|| token.to_owned())
}

/// The answer to a request without a (valid) token.
pub(crate) fn refusal<B: Default>(error: Option<&VerifyError>) -> Response<B> {
    let mut response = Response::new(B::default());
    let challenge = match error {
        None => HeaderValue::from_static("Bearer"),
        Some(e) => {
            if matches!(e, VerifyError::LookupTimeout) {
                *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                response
                    .headers_mut()
                    .insert(RETRY_AFTER, HeaderValue::from_static("1"));
            }
            let text = format!(
                "Bearer error=\"invalid_token\", error_description=\"{}\"",
                description(&e.to_string())
            );
            HeaderValue::from_str(&text)
                .unwrap_or(HeaderValue::from_static("Bearer error=\"invalid_token\""))
        }
    };
    if response.status() == StatusCode::OK {
        *response.status_mut() = StatusCode::UNAUTHORIZED;
    }
    response.headers_mut().insert(WWW_AUTHENTICATE, challenge);
    response
}

/// RFC 6750 §3: `error_description` holds %x20-21 / %x23-5B / %x5D-7E only.
fn description(message: &str) -> String {
    message
        .chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            ' '..='~' => c,
            _ => '?',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bearer_token_is_read_from_one_authorization_header() {
        let with = |values: &[&str]| {
            let mut r = Request::new(());
            for v in values {
                r.headers_mut()
                    .append(AUTHORIZATION, HeaderValue::from_str(v).unwrap());
            }
            bearer(&r)
        };
        assert_eq!(with(&["Bearer abc"]), Some("abc".to_owned()));
        assert_eq!(with(&["bearer  abc"]), Some("abc".to_owned()));
        assert_eq!(with(&["Basic abc"]), None);
        assert_eq!(with(&["Bearer "]), None);
        assert_eq!(with(&["Bearer"]), None);
        assert_eq!(with(&["Bearer a", "Bearer b"]), None);
        assert_eq!(with(&[]), None);
    }

    #[test]
    fn descriptions_keep_to_the_characters_rfc_6750_allows() {
        assert_eq!(
            description("no key has the token's kid \"é\\\""),
            "no key has the token's kid '?''"
        );
    }
}
