//! What `VerifyLayer` adds to a bare verification: the same HS256 and ES256 tokens verified
//! by `Verifier::verify_async` and by a request through `VerifyService` in front of a
//! service that answers at once. Both run in one `block_on` per iteration of a
//! current-thread runtime, so the runtime's cost is in both. (Verification against
//! jsonwebtoken per algorithm is in benches/peers: `benches/compare.sh`.)

use std::convert::Infallible;
use std::hint::black_box;

use axum::body::Body;
use axum::http::{Request, Response};
use criterion::{Criterion, criterion_group, criterion_main};
use hmac::{KeyInit, Mac};
use jwk_engine::core::{EcCurve, GenerateOptions, Key, KeySpec, KidType, Usage};
use jwk_engine::verify::{KeySet, VerifiedJwt, Verifier, VerifyLayer};
use serde_json::json;
use tower::{Layer, Service, ServiceExt};

fn b64(bytes: &[u8]) -> String {
    use base64ct::Encoding;
    base64ct::Base64UrlUnpadded::encode_string(bytes)
}

fn claims() -> String {
    json!({"iss": "https://idp.example", "sub": "user-1234567890", "aud": "api",
           "iat": 1_700_000_000_i64, "exp": 4_000_000_000_i64, "scope": "orders:read"})
    .to_string()
}

fn hs256() -> (String, jwk_engine::Jwk) {
    let secret = b"0123456789abcdef0123456789abcdef";
    let input = format!(
        "{}.{}",
        b64(br#"{"alg":"HS256","kid":"k"}"#),
        b64(claims().as_bytes())
    );
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret).unwrap();
    mac.update(input.as_bytes());
    let token = format!("{input}.{}", b64(&mac.finalize().into_bytes()));
    let jwk = json!({"kty": "oct", "kid": "k", "k": b64(secret)}).to_string();
    (
        token,
        jwk_engine::core::select_from_json(&jwk, None).unwrap(),
    )
}

fn es256() -> (String, jwk_engine::Jwk) {
    use p256::ecdsa::signature::Signer;
    let jwk = jwk_engine::core::generate(&GenerateOptions {
        spec: KeySpec::Ec(EcCurve::P256),
        usage: Usage::Signature,
        alg: "ES256".into(),
        kid: KidType::Explicit("k".into()),
    })
    .unwrap();
    let Key::Ec(ec) = jwk.key() else {
        unreachable!()
    };
    let key = p256::ecdsa::SigningKey::from_slice(ec.d().unwrap().expose()).unwrap();
    let input = format!(
        "{}.{}",
        b64(br#"{"alg":"ES256","kid":"k"}"#),
        b64(claims().as_bytes())
    );
    let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
    (
        format!("{input}.{}", b64(&sig.to_bytes())),
        jwk.to_public().unwrap(),
    )
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let verifier = Verifier::new().audience("api");
    let mut g = c.benchmark_group("layer");
    for (name, (token, jwk)) in [("HS256", hs256()), ("ES256", es256())] {
        let keys = KeySet::new([jwk]);
        g.bench_function(format!("{name}/verify_async"), |b| {
            b.iter(|| {
                rt.block_on(verifier.verify_async(black_box(&token), &keys))
                    .unwrap()
            })
        });
        let inner = tower::service_fn(|request: Request<Body>| async move {
            let ok = request.extensions().get::<VerifiedJwt>().is_some();
            Ok::<_, Infallible>(Response::new(Body::from(if ok { "ok" } else { "no" })))
        });
        let mut service = VerifyLayer::new(verifier.clone(), keys).layer(inner);
        let bearer = format!("Bearer {token}");
        let request = || {
            Request::get("/orders")
                .header("Authorization", bearer.as_str())
                .body(Body::empty())
                .unwrap()
        };
        let answer = rt.block_on(async {
            service
                .ready()
                .await
                .unwrap()
                .call(request())
                .await
                .unwrap()
        });
        assert_eq!(answer.status(), 200);
        g.bench_function(format!("{name}/layer"), |b| {
            b.iter(|| {
                rt.block_on(async {
                    service
                        .ready()
                        .await
                        .unwrap()
                        .call(black_box(request()))
                        .await
                        .unwrap()
                })
            })
        });
    }
    g.finish();
}

criterion_group!(layer, benches);
criterion_main!(layer);
