//! What the controllers' tests share: a loopback JWKS server whose answer the test changes,
//! EC keys to serve, and a fixture with a refresh controller the test steps on a manual
//! clock. Loopback only; every server stops with its test.

#![allow(dead_code)]

use std::sync::{Arc, Mutex};

use jwk_controllers::Refresh;
use jwk_core::{EcCurve, KeySpec, KidType, Usage};
use jwk_registry::{Command, JwkSetSpec, Outcome, RefreshPolicy, RegistryConfig, RegistryError};
use jwk_testkit::registry::Fixture;
use jwk_testkit::{HttpStub, respond};

/// The project of the tests.
pub const P: &str = "gateway";

/// A new private P-256 signing key (ES256) with this kid.
pub fn ec_key(kid: &str) -> jwk_core::Jwk {
    jwk_core::generate(&jwk_core::GenerateOptions {
        spec: KeySpec::Ec(EcCurve::P256),
        usage: Usage::Signature,
        alg: "ES256".into(),
        kid: KidType::Explicit(kid.into()),
    })
    .unwrap()
}

/// A public EC key with this kid, as JWK JSON.
pub fn public_key(kid: &str) -> String {
    ec_key(kid).to_public_json().unwrap()
}

/// A private EC key with this kid, and a token it signs (ES256) for these claims.
pub fn signer(kid: &str) -> (jwk_core::Jwk, impl Fn(&serde_json::Value) -> String) {
    let jwk = ec_key(kid);
    let jwk_core::Key::Ec(ec) = jwk.key() else {
        unreachable!()
    };
    let key = p256::ecdsa::SigningKey::from_slice(ec.d().unwrap().expose()).unwrap();
    let kid = kid.to_owned();
    let sign = move |claims: &serde_json::Value| {
        use p256::ecdsa::signature::Signer;
        let header = serde_json::json!({"alg": "ES256", "kid": kid}).to_string();
        let input = format!(
            "{}.{}",
            jwk_testkit::b64url(header.as_bytes()),
            jwk_testkit::b64url(claims.to_string().as_bytes())
        );
        let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
        format!("{input}.{}", jwk_testkit::b64url(&sig.to_bytes()))
    };
    (jwk, sign)
}

/// What the JWKS server answers: status, extra headers, body.
pub type Answer = (String, Vec<String>, String);

/// A JWKS server whose answer the test changes; 304 when the request's If-None-Match is the
/// answer's ETag.
pub struct Jwks {
    pub stub: HttpStub,
    answer: Arc<Mutex<Answer>>,
}

impl Jwks {
    pub fn start(keys: &[&str], headers: &[&str]) -> Jwks {
        let answer: Arc<Mutex<Answer>> = Arc::default();
        let shared = answer.clone();
        let stub = HttpStub::start(move |req, stream| {
            let (status, headers, body) = shared.lock().unwrap().clone();
            let etag = headers
                .iter()
                .find_map(|h| h.strip_prefix("ETag: "))
                .map(str::to_owned);
            let matches = etag.is_some_and(|e| {
                req.head
                    .lines()
                    .any(|l| l.eq_ignore_ascii_case(&format!("if-none-match: {e}")))
            });
            let headers: Vec<&str> = headers.iter().map(String::as_str).collect();
            if matches {
                respond(stream, "304 Not Modified", &headers, b"");
            } else {
                respond(stream, &status, &headers, body.as_bytes());
            }
        });
        let jwks = Jwks { stub, answer };
        jwks.serve(keys, headers);
        jwks
    }

    pub fn serve(&self, keys: &[&str], headers: &[&str]) {
        self.answer_with(
            "200 OK",
            headers,
            &format!("{{\"keys\":[{}]}}", keys.join(",")),
        );
    }

    pub fn answer_with(&self, status: &str, headers: &[&str], body: &str) {
        *self.answer.lock().unwrap() = (
            status.to_owned(),
            headers.iter().map(|h| (*h).to_owned()).collect(),
            body.to_owned(),
        );
    }

    pub fn requests(&self) -> usize {
        self.stub.requests().len()
    }
}

/// The shared fixture (loopback URLs allowed, the project `P`, the memory environment
/// `prod`) and a refresh controller the test steps.
pub struct F {
    pub fixture: Fixture,
    pub refresh: Arc<Refresh>,
}

impl std::ops::Deref for F {
    type Target = Fixture;

    fn deref(&self) -> &Fixture {
        &self.fixture
    }
}

impl F {
    pub fn new() -> F {
        let fixture = Fixture::setup()
            .config(RegistryConfig {
                allow_private_networks: true,
                ..RegistryConfig::default()
            })
            .project(P)
            .memory("prod")
            .build();
        let refresh = Arc::new(Refresh::new(fixture.reg.clone()));
        F { fixture, refresh }
    }

    pub fn run(&self, command: Command) -> Result<Outcome, RegistryError> {
        self.admin(command)
    }

    pub fn create(&self, name: &str, url: String, policy: RefreshPolicy) -> Outcome {
        self.run(Command::CreateJwkSet {
            project: P.into(),
            name: name.into(),
            spec: JwkSetSpec {
                policy,
                ..JwkSetSpec::new(url)
            },
        })
        .unwrap()
    }

    pub fn refresh(&self, name: &str) -> Result<Outcome, RegistryError> {
        self.run(Command::RefreshJwkSet {
            project: P.into(),
            name: name.into(),
        })
    }

    /// The refresh controller's first pass (every source loaded once), and the next, which
    /// finds them all loaded: ready.
    pub fn follow(&self) {
        assert!(!self.refresh.ready());
        for _ in 0..2 {
            self.rt.block_on(self.refresh.run_once_and_wait()).unwrap();
        }
        assert!(
            self.refresh.ready(),
            "ready once every source was loaded once"
        );
    }

    /// Moves the clock on by `ms` and runs a pass of the refresh controller, waiting for the
    /// refreshes it starts.
    pub fn tick(&self, ms: i64) {
        self.clock.advance_ms(ms);
        self.rt.block_on(self.refresh.run_once_and_wait()).unwrap();
    }

    pub fn served(&self, kid: &str) -> bool {
        self.reg.resolver("prod").by_project_kid(P, kid).is_some()
    }
}

/// A policy for tests: short bounds, a long max-age honoured.
pub fn quick() -> RefreshPolicy {
    RefreshPolicy {
        min_interval_seconds: 1,
        ..RefreshPolicy::default()
    }
}
