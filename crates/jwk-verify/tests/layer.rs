//! The tower layer in front of an axum router: the verified claims reach the handler, every
//! other request is answered 401 with the RFC 6750 challenge.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::routing::get;
use axum::{Extension, Router};
use hmac::{KeyInit, Mac};
use http::{Request, StatusCode};
use jwk_verify::{
    BoxFuture, KeySelector, KeySet, KeySource, VerificationKey, VerifiedJwt, Verifier, VerifyError,
    VerifyLayer,
};
use serde_json::json;
use tower::ServiceExt;

const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

fn token(kid: &str, claims: serde_json::Value) -> String {
    let b64 = jwk_testkit::b64url;
    let header = json!({"alg": "HS256", "kid": kid}).to_string();
    let input = format!(
        "{}.{}",
        b64(header.as_bytes()),
        b64(claims.to_string().as_bytes())
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(SECRET).unwrap();
    mac.update(input.as_bytes());
    format!("{input}.{}", b64(&mac.finalize().into_bytes()))
}

fn keys() -> KeySet {
    let jwk = json!({"kty": "oct", "kid": "k", "k": jwk_testkit::b64url(SECRET)});
    KeySet::new([jwk_core::select_from_json(&jwk.to_string(), None).unwrap()])
}

async fn whoami(Extension(jwt): Extension<VerifiedJwt>) -> String {
    format!("hello {}", jwt.claim_str("sub").unwrap_or("?"))
}

fn app<S: KeySource + 'static>(source: S) -> Router {
    Router::new()
        .route("/whoami", get(whoami))
        .layer(VerifyLayer::new(Verifier::new(), source))
}

async fn call(
    app: Router,
    authorization: Option<&str>,
) -> (StatusCode, Option<String>, Option<String>, String) {
    let mut request = Request::get("/whoami");
    if let Some(value) = authorization {
        request = request.header("Authorization", value);
    }
    let response = app
        .oneshot(request.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let (challenge, retry) = (header("www-authenticate"), header("retry-after"));
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    (
        status,
        challenge,
        retry,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn valid_tokens_reach_the_handler_and_others_get_the_bearer_challenge() {
    let good = token("k", json!({"sub": "alice", "exp": 4_000_000_000_i64}));
    assert_eq!(
        call(app(keys()), Some(&format!("Bearer {good}"))).await,
        (StatusCode::OK, None, None, "hello alice".to_owned())
    );
    assert_eq!(
        call(app(keys()), None).await,
        (
            StatusCode::UNAUTHORIZED,
            Some("Bearer".to_owned()),
            None,
            String::new()
        )
    );
    assert_eq!(
        call(app(keys()), Some("Basic YWxpY2U6c2VjcmV0")).await,
        (
            StatusCode::UNAUTHORIZED,
            Some("Bearer".to_owned()),
            None,
            String::new()
        )
    );
    let expired = token("k", json!({"sub": "alice", "exp": 1_000_000_000}));
    let (status, challenge, _, _) = call(app(keys()), Some(&format!("Bearer {expired}"))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let challenge = challenge.unwrap();
    assert!(
        challenge.starts_with("Bearer error=\"invalid_token\", error_description=\"the token expired at 1000000000 (now "),
        "{challenge}"
    );
    let unknown = token(
        "nobody's \"kid\"",
        json!({"sub": "alice", "exp": 4_000_000_000_i64}),
    );
    assert_eq!(
        call(app(keys()), Some(&format!("Bearer {unknown}")))
            .await
            .1
            .unwrap(),
        "Bearer error=\"invalid_token\", error_description=\"no key has the token's kid 'nobody's ''kid'''\""
    );
    assert_eq!(
        call(app(keys()), Some("Bearer not.a.token"))
            .await
            .1
            .unwrap(),
        "Bearer error=\"invalid_token\", error_description=\"the token is malformed: the header is not base64url (unpadded)\""
    );
}

/// A source whose lookups time out, and which counts `find` calls.
struct Slow(AtomicUsize);

impl KeySource for Slow {
    fn key(&self, selector: &KeySelector<'_>) -> Result<Arc<VerificationKey>, VerifyError> {
        Err(selector.unknown())
    }

    fn find<'a>(
        &'a self,
        _: &'a KeySelector<'a>,
    ) -> BoxFuture<'a, Result<Arc<VerificationKey>, VerifyError>> {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Err(VerifyError::LookupTimeout) })
    }
}

#[tokio::test]
async fn the_layer_uses_the_async_lookup_and_a_timeout_is_a_503() {
    let slow = Arc::new(Slow(AtomicUsize::new(0)));
    let good = token("k", json!({"sub": "alice", "exp": 4_000_000_000_i64}));
    let (status, challenge, retry, _) =
        call(app(slow.clone()), Some(&format!("Bearer {good}"))).await;
    assert_eq!(
        (status, challenge.unwrap(), retry),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "Bearer error=\"invalid_token\", error_description=\"the keys were being refetched for the token's kid and did not arrive in time\"".to_owned(),
            Some("1".to_owned())
        )
    );
    assert_eq!(slow.0.load(Ordering::SeqCst), 1);
}
