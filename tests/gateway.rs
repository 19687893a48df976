//! examples/gateway.rs as a user runs it: a loopback identity provider's JWKS, a loopback
//! upstream, the gateway in between. Built by `cargo test` with the other examples.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use jwk_core::{EcCurve, GenerateOptions, Key, KeySpec, KidType, Usage};
use jwk_testkit::{HttpStub, respond};
use serde_json::json;

struct Gateway {
    child: Child,
    base: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn example_binary() -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir = exe.parent().unwrap().parent().unwrap();
    let path = dir
        .join("examples")
        .join(format!("gateway{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: `cargo test` builds it (or `cargo build --example gateway`)",
        path.display()
    );
    path
}

fn start(args: &[&str]) -> Gateway {
    let mut child = Command::new(example_binary())
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let base = loop {
        let line = lines.next().expect("the gateway exited").unwrap();
        if let Some(addr) = line.strip_prefix("gateway listening on ") {
            break format!("http://{addr}");
        }
    };
    // Keep draining its log so it never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Gateway { child, base }
}

/// A signing key with this kid: its public JWK text and a function signing claims (ES256).
fn signer(kid: &str) -> (String, impl Fn(serde_json::Value) -> String) {
    let jwk = jwk_core::generate(&GenerateOptions {
        spec: KeySpec::Ec(EcCurve::P256),
        usage: Usage::Signature,
        alg: "ES256".into(),
        kid: KidType::Explicit(kid.into()),
    })
    .unwrap();
    let Key::Ec(ec) = jwk.key() else {
        unreachable!()
    };
    let key = p256::ecdsa::SigningKey::from_slice(ec.d().unwrap().expose()).unwrap();
    let kid = kid.to_owned();
    let sign = move |claims: serde_json::Value| {
        use p256::ecdsa::signature::Signer;
        let b64 = jwk_testkit::b64url;
        let header = json!({"alg": "ES256", "kid": kid, "typ": "JWT"}).to_string();
        let input = format!(
            "{}.{}",
            b64(header.as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let sig: p256::ecdsa::Signature = key.sign(input.as_bytes());
        format!("{input}.{}", b64(&sig.to_bytes()))
    };
    (jwk.to_public_json().unwrap(), sign)
}

fn get(url: &str, headers: &[(&str, &str)]) -> (u16, Option<String>, String) {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = agent.get(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut response = request.call().unwrap();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    (
        response.status().as_u16(),
        challenge,
        response.body_mut().read_to_string().unwrap(),
    )
}

#[test]
fn the_example_gateway_lets_through_only_valid_tokens_and_follows_the_providers_keys() {
    let (public1, sign1) = signer("idp-1");
    let (public2, sign2) = signer("idp-2");
    let jwks = Arc::new(Mutex::new(format!("{{\"keys\":[{public1}]}}")));
    let served = jwks.clone();
    let idp = HttpStub::start(move |_, stream| {
        let body = served.lock().unwrap().clone();
        respond(
            stream,
            "200 OK",
            &[
                "Content-Type: application/json",
                "Cache-Control: max-age=3600",
            ],
            body.as_bytes(),
        );
    });
    let upstream = HttpStub::start(|_, stream| {
        respond(
            stream,
            "200 OK",
            &["Content-Type: text/plain"],
            b"upstream says hi",
        )
    });
    let gateway = start(&[
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &upstream.url(""),
        "--jwks-url",
        &idp.url("/jwks.json"),
        "--allow-private-networks",
        "--issuer",
        "https://idp.example",
        "--audience",
        "api",
    ]);
    let url = format!("{}/orders?id=7", gateway.base);
    let claims = json!({"sub": "alice", "iss": "https://idp.example", "aud": "api", "exp": 4_000_000_000_i64});

    // No token; a token for another audience.
    assert_eq!(
        get(&url, &[]),
        (401, Some("Bearer".to_owned()), String::new())
    );
    let mut other = claims.clone();
    other["aud"] = json!("billing");
    let (status, challenge, _) = get(
        &url,
        &[("Authorization", &format!("Bearer {}", sign1(other)))],
    );
    assert_eq!(
        (status, challenge.unwrap()),
        (401, "Bearer error=\"invalid_token\", error_description=\"the token's audience (aud) names none of the accepted audiences\"".to_owned())
    );
    assert_eq!(upstream.requests().len(), 0);

    // A valid token: upstream gets the request with the identity headers, not the token
    // nor the client's own X-Jwt-Sub.
    let token = sign1(claims.clone());
    let answer = get(
        &url,
        &[
            ("Authorization", &format!("Bearer {token}")),
            ("X-Jwt-Sub", "root"),
        ],
    );
    assert_eq!(answer, (200, None, "upstream says hi".to_owned()));
    let seen = upstream.requests();
    assert_eq!(seen.len(), 1);
    let head = seen[0].to_ascii_lowercase();
    assert!(head.starts_with("get /orders?id=7 http/1.1"), "{head}");
    assert!(head.contains("x-jwt-sub: alice\r\n"), "{head}");
    assert!(!head.contains("x-jwt-sub: root"), "{head}");
    assert!(head.contains("x-jwt-thumbprint: "), "{head}");
    assert!(!head.contains("authorization"), "{head}");

    // The provider rotates: a token under the new kid is verified after one refetch.
    *jwks.lock().unwrap() = format!("{{\"keys\":[{public1},{public2}]}}");
    let fetched = idp.requests().len();
    let answer = get(
        &url,
        &[("Authorization", &format!("Bearer {}", sign2(claims)))],
    );
    assert_eq!(answer, (200, None, "upstream says hi".to_owned()));
    assert_eq!(idp.requests().len(), fetched + 1);
}

#[test]
fn the_example_gateway_uses_the_keys_of_a_jwkd_data_dir() {
    use jwk_engine::registry::TargetConfig;
    use jwk_engine::registry::{Command, NewJwk, RegistryConfig, Source};
    let (public, sign) = signer("signing-1");
    let dir = jwk_testkit::temp_dir();
    {
        // What jwkd would hold: a project, a memory environment, a pasted public key.
        let registry = std::sync::Arc::new(
            jwk_engine::open_registry(
                jwk_engine::StoreKind::Sled,
                dir.path(),
                RegistryConfig::default(),
            )
            .unwrap(),
        );
        let admin = registry
            .authenticate(&registry.bootstrap().unwrap())
            .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let jwk = NewJwk::new(
            "signing",
            Source::Paste {
                jwk: public,
                kid: None,
            },
        );
        for command in [
            Command::CreateProject {
                name: "MyProject".into(),
            },
            Command::CreateEnvironment {
                name: "production".into(),
                target: TargetConfig::Memory,
            },
            Command::CreateJwk {
                project: "MyProject".into(),
                jwk,
            },
        ] {
            rt.block_on(registry.apply(&admin, command)).unwrap();
        }
    }
    let upstream = HttpStub::start(|_, stream| respond(stream, "200 OK", &[], b"ok"));
    let data_dir = dir.path().to_str().unwrap();
    let gateway = start(&[
        "--listen",
        "127.0.0.1:0",
        "--upstream",
        &upstream.url(""),
        "--data-dir",
        data_dir,
        "--environment",
        "production",
        "--project",
        "MyProject",
    ]);
    let token = sign(json!({"sub": "bob", "exp": 4_000_000_000_i64}));
    let url = format!("{}/", gateway.base);
    // The in-process resolver fills once the registry's follower has deployed.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let answer = get(&url, &[("Authorization", &format!("Bearer {token}"))]);
        if answer.0 == 200 {
            assert_eq!(answer, (200, None, "ok".to_owned()));
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{answer:?}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let (_, other) = signer("signing-1");
    let (status, challenge, _) = get(
        &url,
        &[(
            "Authorization",
            &format!(
                "Bearer {}",
                other(json!({"sub": "eve", "exp": 4_000_000_000_i64}))
            ),
        )],
    );
    assert_eq!(
        (status, challenge.unwrap()),
        (401, "Bearer error=\"invalid_token\", error_description=\"the token's signature does not verify\"".to_owned())
    );
}
