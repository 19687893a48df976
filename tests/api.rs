//! The real `jwkd` binary on a loopback port with a temporary data dir, driven over HTTP
//! through the product's flows, comparing whole JSON bodies.

mod common;

use std::process::Stdio;

use common::{Server, bootstrap, deployed, jwkd};
use serde_json::{Value, json};

fn bad(message: &str) -> (u16, Value) {
    (
        400,
        json!({"error": "bad_request", "error_description": message}),
    )
}

/// A 400 with the finer stable code of the core or the fetch.
fn bad_coded(code: &str, message: &str) -> (u16, Value) {
    (
        400,
        json!({"error": "bad_request", "error_description": message, "code": code}),
    )
}

const OCT: &str = r#"{"kty":"oct","kid":"k1","k":"GawgguFyGrWKav7AX4VKUg"}"#;

fn setup(s: &Server, admin: &str) {
    let memory = |name: &str| json!({"name": name, "target": {"type": "memory"}});
    common::setup(
        s,
        admin,
        &[memory("production"), memory("staging")],
        "MyProject",
    );
}

/// A bootstrapped jwkd with the two environments and MyProject: its data dir (removed when
/// dropped, after the server), the server and the admin token.
fn serving() -> (jwk_testkit::TempDir, Server, String) {
    let dir = jwk_testkit::temp_dir();
    let admin = bootstrap(dir.path());
    let s = Server::start(dir.path());
    setup(&s, &admin);
    (dir, s, admin)
}

fn paste(name: &str) -> String {
    json!({"name": name, "description": "JWK from JSON string", "sourceType": "COPY_PASTE", "jwkStr": OCT}).to_string()
}

#[test]
fn the_product_flows_over_http() {
    let (dir, s, admin) = serving();
    let jwks = "/apiops/projects/MyProject/jwks/";

    // Create, duplicate, and the create checks.
    assert_eq!(
        s.call("POST", jwks, Some(&admin), Some(&paste("my-jwk"))),
        (200, deployed(&["production", "staging"]))
    );
    assert_eq!(
        s.call("POST", jwks, Some(&admin), Some(&paste("my-jwk"))),
        bad(
            "JWK (name: my-jwk) is already exist! Try update operation if want to change its value."
        )
    );
    assert_eq!(
        s.call("POST", jwks, Some(&admin), Some(r#"{"name":""}"#)),
        bad("JWK name can not be empty!")
    );
    assert_eq!(
        s.call("POST", jwks, Some(&admin), Some(r#"{"name":"x"}"#)),
        bad("Source type is required!")
    );
    assert_eq!(
        s.call(
            "POST",
            jwks,
            Some(&admin),
            Some(r#"{"name":"x","sourceType":"URL"}"#)
        ),
        bad("URL is required for URL source type!")
    );
    assert_eq!(
        s.call("POST", jwks, Some(&admin), Some(r#"{"name":"x","sourceType":"CERTIFICATE","certificateName":"my-certificate","environmentName":"production","useType":"SIGNATURE","algorithm":"RS256"}"#)),
        bad("Certificate (name: my-certificate) is not found!")
    );

    // URL source against a loopback JWKS (the server allows private networks).
    let stub = jwk_testkit::HttpStub::start(|_, st| {
        jwk_testkit::respond(st, "200 OK", &["Content-Type: application/json"], br#"{"keys":[{"kty":"oct","kid":"key-id-1","k":"AQID"},{"kty":"oct","kid":"b","k":"AAAA"}]}"#)
    });
    let url_body = json!({"name": "from-url", "sourceType": "URL", "url": stub.url("/.well-known/jwks.json"), "kid": "key-id-1", "urlOptionConnectTimeout": 5000, "urlOptionReadTimeout": 10000, "urlOptionSizeLimit": 1048576}).to_string();
    assert_eq!(
        s.call("POST", jwks, Some(&admin), Some(&url_body)),
        (200, deployed(&["production", "staging"]))
    );
    let no_kid = json!({"name": "no-kid", "sourceType": "URL", "url": stub.url("/")}).to_string();
    assert_eq!(
        s.call("POST", jwks, Some(&admin), Some(&no_kid)),
        bad_coded(
            "jwks.kid_required",
            "the JWK Set holds 2 keys: give a kid to choose one (kids: \"key-id-1\", \"b\")"
        )
    );

    // Certificate in the secrets store, then the from-certificate route.
    let d = jwk_testkit::temp_dir();
    jwk_testkit::openssl_key_pair(
        d.path(),
        "k",
        &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
    );
    jwk_testkit::openssl_self_signed(d.path(), "k", "/CN=api");
    let pem = String::from_utf8(jwk_testkit::read(d.path(), "k.crt")).unwrap();
    let cert =
        json!({"name": "my-certificate", "environmentName": "production", "pem": pem}).to_string();
    assert_eq!(
        s.call(
            "POST",
            "/apiops/projects/MyProject/certificates/",
            Some(&admin),
            Some(&cert)
        ),
        (200, json!({"success": true}))
    );
    let from_cert = r#"{"name":"from-cert","certificateName":"my-certificate","environmentName":"production","useType":"SIGNATURE","algorithm":"ES256"}"#;
    assert_eq!(
        s.call(
            "POST",
            "/apiops/projects/MyProject/jwks/from-certificate/",
            Some(&admin),
            Some(from_cert)
        ),
        (200, deployed(&["production", "staging"]))
    );
    let wrong_alg = r#"{"name":"x","certificateName":"my-certificate","environmentName":"production","useType":"SIGNATURE","algorithm":"RSA"}"#;
    assert_eq!(
        s.call(
            "POST",
            "/apiops/projects/MyProject/jwks/from-certificate/",
            Some(&admin),
            Some(wrong_alg)
        ),
        bad_coded(
            "policy.key_type_as_algorithm",
            "algorithm must be a valid algorithm name, not a key type"
        )
    );

    // Keys and a keystore in the secrets store, then a JWK from each.
    jwk_testkit::openssl(
        d.path(),
        &[
            "pkcs8", "-topk8", "-in", "k.key", "-passout", "pass:kpw", "-out", "ek.pem",
        ],
    );
    jwk_testkit::openssl(
        d.path(),
        &[
            "pkcs12",
            "-export",
            "-inkey",
            "k.key",
            "-in",
            "k.crt",
            "-name",
            "my-alias",
            "-passout",
            "pass:kspw",
            "-out",
            "ks.p12",
        ],
    );
    let text = |n: &str| String::from_utf8(jwk_testkit::read(d.path(), n)).unwrap();
    let keys = "/apiops/projects/MyProject/keys/";
    let public = json!({"name": "my-key", "environmentName": "production", "keyType": "PUBLIC", "pem": text("k.pub")}).to_string();
    let private = json!({"name": "my-private-key", "environmentName": "production", "keyType": "PRIVATE", "pem": text("ek.pem"), "password": "kpw"}).to_string();
    assert_eq!(
        s.call("POST", keys, Some(&admin), Some(&public)),
        (200, json!({"success": true}))
    );
    assert_eq!(
        s.call("POST", keys, Some(&admin), Some(&private)),
        (200, json!({"success": true}))
    );
    let content = <base64ct::Base64 as base64ct::Encoding>::encode_string(&jwk_testkit::read(
        d.path(),
        "ks.p12",
    ));
    let keystore = json!({"name": "my-keystore", "environmentName": "production", "contentBase64": content, "password": "kspw"}).to_string();
    assert_eq!(
        s.call(
            "POST",
            "/apiops/projects/MyProject/keystores/",
            Some(&admin),
            Some(&keystore)
        ),
        (200, json!({"success": true}))
    );
    for (name, body) in [
        (
            "from-public",
            json!({"sourceType": "PUBLIC_KEY", "keyName": "my-key"}),
        ),
        (
            "from-private",
            json!({"sourceType": "PRIVATE_KEY", "keyName": "my-private-key"}),
        ),
        (
            "from-keystore",
            json!({"sourceType": "KEYSTORE", "keyStoreName": "my-keystore", "aliasName": "my-alias"}),
        ),
        (
            "from-cert-source",
            json!({"sourceType": "CERTIFICATE", "certificateName": "my-certificate"}),
        ),
    ] {
        let mut body = body;
        body["name"] = json!(name);
        body["environmentName"] = json!("production");
        body["useType"] = json!("SIGNATURE");
        body["algorithm"] = json!("ES256");
        assert_eq!(
            s.call("POST", jwks, Some(&admin), Some(&body.to_string())),
            (200, deployed(&["production", "staging"])),
            "{name}"
        );
    }
    assert_eq!(
        s.call("POST", jwks, Some(&admin), Some(r#"{"name":"x","sourceType":"KEYSTORE","keyStoreName":"my-keystore","environmentName":"production","aliasName":"other","useType":"SIGNATURE","algorithm":"ES256"}"#)),
        bad("Alias (name: other) is not found in keystore (name: my-keystore)!")
    );
    let (_, private_view) = s.call(
        "GET",
        "/apiops/projects/MyProject/jwks/from-keystore/?private=true",
        Some(&admin),
        None,
    );
    assert!(private_view["resultItem"]["jwk"]["d"].is_string());
    for name in [
        "from-public",
        "from-private",
        "from-keystore",
        "from-cert-source",
    ] {
        s.call(
            "DELETE",
            &format!("/apiops/projects/MyProject/jwks/{name}/"),
            Some(&admin),
            None,
        );
    }

    // Get, list: public parts only.
    let (status, got) = s.call(
        "GET",
        "/apiops/projects/MyProject/jwks/from-cert/",
        Some(&admin),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(got["resultItem"]["jwk"]["alg"], "ES256");
    assert!(got["resultItem"]["jwk"].get("d").is_none());
    let (_, list) = s.call("GET", jwks, Some(&admin), None);
    let names: Vec<&str> = list["resultList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["from-cert", "from-url", "my-jwk"]);

    // Update: rename, conflicts, detach.
    let update = r#"{"name":"updated-jwk","description":"Updated JWK description"}"#;
    assert_eq!(
        s.call(
            "PUT",
            "/apiops/projects/MyProject/jwks/nope/",
            Some(&admin),
            Some(update)
        ),
        bad("JWK (name: nope) is not found! Try create operation.")
    );
    assert_eq!(
        s.call(
            "PUT",
            "/apiops/projects/MyProject/jwks/my-jwk/",
            Some(&admin),
            Some(r#"{"name":"from-url"}"#)
        ),
        bad("JWK (name: from-url) is already exist!")
    );
    assert_eq!(
        s.call(
            "PUT",
            "/apiops/projects/MyProject/jwks/from-url/",
            Some(&admin),
            Some(update)
        ),
        (200, deployed(&["production", "staging"]))
    );
    let (_, got) = s.call(
        "GET",
        "/apiops/projects/MyProject/jwks/updated-jwk/",
        Some(&admin),
        None,
    );
    assert_eq!(got["resultItem"]["description"], "Updated JWK description");
    assert!(
        got["resultItem"].get("sourceType").is_none(),
        "detached: {got}"
    );

    // Credentials: set and replace the encryption JWK from the project and the admin project.
    assert_eq!(
        s.call(
            "POST",
            "/apiops/projects/admin/jwks/",
            Some(&admin),
            Some(&paste("shared-jwk"))
        )
        .0,
        200
    );
    let set = |user: &str, jwk: &str| {
        s.call(
            "PUT",
            &format!("/apiops/projects/MyProject/credentials/{user}/jwk/encryption/{jwk}/"),
            Some(&admin),
            None,
        )
    };
    assert_eq!(
        set("api-user", "my-jwk"),
        bad("Credential (username: api-user) was not found!")
    );
    assert_eq!(
        s.call(
            "POST",
            "/apiops/projects/MyProject/credentials/",
            Some(&admin),
            Some(r#"{"username":"api-user"}"#)
        ),
        (200, deployed(&["production", "staging"]))
    );
    assert_eq!(
        set("api-user", "nope"),
        bad("JWK (name: nope) is not found!")
    );
    assert_eq!(
        set("api-user", "my-jwk"),
        (200, deployed(&["production", "staging"]))
    );
    assert_eq!(
        set("api-user", "shared-jwk"),
        (200, deployed(&["production", "staging"]))
    );
    let (_, cred) = s.call(
        "GET",
        "/apiops/projects/MyProject/credentials/api-user/",
        Some(&admin),
        None,
    );
    assert_eq!(
        cred["resultItem"],
        json!({"username": "api-user", "validationJwk": null, "encryptionJwk": "admin/shared-jwk", "validation": null, "encryption": {"project": "admin", "name": "shared-jwk", "kid": "k1"}, "deployed": true})
    );
    let (_, list) = s.call(
        "GET",
        "/apiops/projects/MyProject/credentials/",
        Some(&admin),
        None,
    );
    assert_eq!(list["resultList"], json!([cred["resultItem"]]));
    assert_eq!(
        s.call(
            "DELETE",
            "/apiops/projects/MyProject/credentials/api-user/jwk/encryption/",
            Some(&admin),
            None
        )
        .0,
        200
    );

    // 401 and 404, the product's bodies.
    let unauthorized = (
        401,
        json!({"error": "unauthorized_client", "error_description": "Invalid token"}),
    );
    assert_eq!(s.call("POST", jwks, None, Some(&paste("z"))), unauthorized);
    assert_eq!(
        s.call("POST", jwks, Some("not-a-token"), Some(&paste("z"))),
        unauthorized
    );
    let bob = common::new_user(&s, &admin, "bob");
    let not_found = (
        404,
        json!({"error": "not_found", "error_description": "Project(MyProject) was not found or user does not have privilege to access it!"}),
    );
    assert_eq!(
        s.call(
            "PUT",
            "/apiops/projects/MyProject/credentials/api-user/jwk/encryption/my-jwk/",
            Some(&bob),
            None
        ),
        not_found
    );
    assert_eq!(s.call("GET", jwks, Some(&bob), None), not_found);

    // Malformed input: the field is named; oversized bodies are refused.
    assert_eq!(
        s.call("POST", jwks, Some(&admin), Some(r#"{"name":5}"#)),
        bad(
            "Request body field \"name\" is invalid: invalid type: integer `5`, expected a string at line 1 column 9"
        )
    );
    assert_eq!(
        s.call("POST", jwks, Some(&admin), Some("{")),
        bad("Request body is not valid JSON: EOF while parsing an object at line 1 column 1")
    );
    for not_an_object in ["[null, null]", "null", "\"my-jwk\"", " 7"] {
        assert_eq!(
            s.call(
                "PUT",
                &format!("{jwks}my-jwk/"),
                Some(&admin),
                Some(not_an_object)
            ),
            bad("Request body is not a JSON object!"),
            "{not_an_object}"
        );
    }
    let huge = format!(r#"{{"name":"{}"}}"#, "a".repeat(1 << 20));
    let (status, body) = s.call("POST", jwks, Some(&admin), Some(&huge));
    assert_eq!(
        (status, body),
        (
            413,
            json!({"error": "bad_request", "error_description": "Request body is larger than 1048576 bytes!"})
        )
    );

    // The OpenAPI document lists exactly the router's routes.
    let (_, doc) = s.call("GET", "/apiops/openapi.json", None, None);
    let mut documented: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object().unwrap().keys().map(move |method| {
                (
                    method.to_ascii_uppercase(),
                    path.trim_end_matches('/').to_owned(),
                )
            })
        })
        .collect();
    let mut served: Vec<(String, String)> = jwk_engine::server::routes()
        .into_iter()
        .map(|(method, path)| (method.to_owned(), path.to_owned()))
        .collect();
    documented.sort();
    served.sort();
    assert_eq!(documented, served);
    assert_eq!(
        s.call("GET", "/healthz", None, None),
        (200, json!({"status": "ok"}))
    );

    // What this node's resolver serves for a memory environment: the public keys only.
    let env_jwks = "/apiops/environments/production/jwks/";
    let (status, headers, served) = s.call_with_headers("GET", env_jwks, Some(&admin), None);
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/jwk-set+json");
    let keys = served["keys"].as_array().unwrap();
    assert_eq!(
        keys.iter()
            .map(|k| k["kty"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["EC"],
        "oct keys are never published: {served}"
    );
    assert!(served["keys"][0].get("d").is_none());
    assert_eq!(
        s.call("GET", env_jwks, None, None),
        (
            401,
            json!({"error": "unauthorized_client", "error_description": "Invalid token"})
        )
    );
    assert_eq!(
        s.call(
            "GET",
            "/apiops/environments/nowhere/jwks/",
            Some(&admin),
            None
        ),
        (
            404,
            json!({"error": "not_found", "error_description": "Environment (name: nowhere) is not found!"})
        )
    );

    // Graceful stop, restart: everything is still there, and the in-process resolver serves
    // it again as soon as the server is up.
    assert!(s.sigterm().success());
    let s = Server::start(dir.path());
    let (_, list) = s.call("GET", jwks, Some(&admin), None);
    assert_eq!(list["resultList"].as_array().unwrap().len(), 3);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while s.call("GET", env_jwks, Some(&admin), None).1 != served {
        assert!(
            std::time::Instant::now() < deadline,
            "not served after restart"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

#[test]
fn first_serve_bootstraps_and_writes_the_admin_token() {
    let dir = jwk_testkit::temp_dir();
    let s = Server::start(dir.path());
    let token = std::fs::read_to_string(dir.path().join("admin-token")).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("admin-token"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    assert_eq!(
        s.call(
            "POST",
            "/apiops/projects/",
            Some(token.trim()),
            Some(r#"{"name":"P"}"#)
        ),
        (200, json!({"success": true}))
    );
    drop(s);
    let out = jwkd(dir.path()).arg("bootstrap").output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr).trim_end(),
        "error: The registry is already bootstrapped: the admin user exists!"
    );
}

#[test]
fn kill_9_during_writes_loses_no_acknowledged_change() {
    let (dir, s, admin) = serving();
    let mut acked = Vec::new();
    let writer = std::thread::scope(|scope| {
        let h = scope.spawn(|| {
            for i in 0..200 {
                let (status, _) = s.call(
                    "POST",
                    "/apiops/projects/MyProject/jwks/",
                    Some(&admin),
                    Some(&paste(&format!("k{i}"))),
                );
                if status != 200 {
                    break;
                }
                acked.push(i);
                if i == 25 {
                    return true;
                }
            }
            false
        });
        h.join().unwrap()
    });
    assert!(writer);
    let mut s = s;
    s.child.kill().unwrap();
    s.child.wait().unwrap();
    drop(s);
    let s = Server::start(dir.path());
    let (_, list) = s.call(
        "GET",
        "/apiops/projects/MyProject/jwks/",
        Some(&admin),
        None,
    );
    let names: Vec<String> = list["resultList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap().to_owned())
        .collect();
    for i in acked {
        assert!(
            names.contains(&format!("k{i}")),
            "k{i} was acknowledged and lost"
        );
    }
}

#[test]
fn logs_never_contain_tokens_or_key_material() {
    let dir = jwk_testkit::temp_dir();
    let admin = bootstrap(dir.path());
    let log_path = dir.path().join("jwkd.log");
    let log = std::fs::File::create(&log_path).unwrap();
    let s = Server::start_logging(dir.path(), Stdio::from(log));
    setup(&s, &admin);
    assert_eq!(
        s.call(
            "POST",
            "/apiops/projects/MyProject/jwks/",
            Some(&admin),
            Some(&paste("my-jwk"))
        )
        .0,
        200
    );
    assert_eq!(
        s.call(
            "GET",
            "/apiops/projects/MyProject/jwks/my-jwk/?private=true&access_token=query-token-value",
            Some(&admin),
            None
        )
        .0,
        200
    );
    assert_eq!(
        s.call(
            "POST",
            "/apiops/projects/MyProject/jwks/",
            Some("wrong-token-value"),
            Some("{}")
        )
        .0,
        401
    );
    assert!(s.sigterm().success());
    let logs = std::fs::read_to_string(&log_path).unwrap();
    assert!(
        logs.contains("path=/apiops/projects/MyProject/jwks/my-jwk"),
        "requests are logged by path: {logs}"
    );
    assert!(
        !logs.contains("private=true"),
        "queries are not logged: {logs}"
    );
    for secret in [
        admin.as_str(),
        "query-token-value",
        "wrong-token-value",
        "GawgguFyGrWKav7AX4VKUg",
    ] {
        assert!(!logs.contains(secret), "{secret} leaked into the logs");
    }
}

/// The README's walkthrough, to the letter: the example key (a public EC key) is served in the
/// environment's JWKS, and every answer that carries a JWK writes it in canonical order.
#[test]
fn the_readme_walkthrough_serves_its_key_and_answers_canonically() {
    let dir = jwk_testkit::temp_dir();
    let s = Server::start(dir.path());
    let admin = std::fs::read_to_string(dir.path().join("admin-token"))
        .unwrap()
        .trim()
        .to_owned();
    common::setup(
        &s,
        &admin,
        &[json!({"name": "production", "target": {"type": "memory"}})],
        "MyProject",
    );
    let body = r#"{"name":"my-jwk","sourceType":"COPY_PASTE","jwkStr":"{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4\",\"y\":\"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM\",\"use\":\"enc\",\"kid\":\"1\"}"}"#;
    let raw = |method: &str, path: &str, body: Option<&str>| -> String {
        let agent = common::agent(None);
        let url = format!("{}{path}", s.base);
        let auth = format!("Bearer {admin}");
        let response = match body {
            None if method == "GET" => agent.get(&url).header("Authorization", &auth).call(),
            Some(b) => agent
                .post(&url)
                .header("Authorization", &auth)
                .header("Content-Type", "application/json")
                .send(b),
            None => unreachable!(),
        };
        response.unwrap().body_mut().read_to_string().unwrap()
    };
    assert_eq!(
        raw("POST", "/apiops/projects/MyProject/jwks/", Some(body)),
        r#"{"success":true,"deploymentResult":{"success":true,"message":"Deployment completed successfully","environmentResults":[{"environmentName":"production","success":true,"message":"Deployed successfully"}]}}"#
    );
    let canonical = r#"{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","kid":"1","use":"enc"}"#;
    assert_eq!(
        raw("GET", "/apiops/environments/production/jwks/", None),
        format!(r#"{{"keys":[{canonical}]}}"#)
    );
    let item = format!(
        r#"{{"name":"my-jwk","description":"","jwk":{canonical},"thumbprint":"cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s","sourceType":"COPY_PASTE","useType":"ENCRYPTION","source":{{"type":"COPY_PASTE"}},"detached":false,"state":"active","validity":"valid","deployed":true}}"#
    );
    assert_eq!(
        raw("GET", "/apiops/projects/MyProject/jwks/my-jwk/", None),
        format!(r#"{{"success":true,"resultItem":{item}}}"#)
    );
    assert_eq!(
        raw("GET", "/apiops/projects/MyProject/jwks/", None),
        format!(r#"{{"success":true,"resultList":[{item}]}}"#)
    );
    // A secret key: its answer is canonical too, with `k` only when asked for.
    let oct = json!({"name": "hmac", "sourceType": "COPY_PASTE", "jwkStr": OCT}).to_string();
    raw("POST", "/apiops/projects/MyProject/jwks/", Some(&oct));
    let got = raw(
        "GET",
        "/apiops/projects/MyProject/jwks/hmac/?private=true",
        None,
    );
    assert!(
        got.contains(r#""jwk":{"kty":"oct","k":"GawgguFyGrWKav7AX4VKUg","kid":"k1"}"#),
        "{got}"
    );
    let got = raw("GET", "/apiops/projects/MyProject/jwks/hmac/", None);
    assert!(got.contains(r#""jwk":{"kty":"oct","kid":"k1"}"#), "{got}");
}

/// Every answer says it is not for caches; a 401 names the scheme; the scheme's name is
/// compared without regard to case.
#[test]
fn answers_are_not_cached_and_a_401_names_the_bearer_scheme() {
    let (_dir, s, admin) = serving();
    let jwks = "/apiops/projects/MyProject/jwks/";
    let (status, headers, _) = s.call_with_headers("POST", jwks, Some(&admin), Some(&paste("a")));
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "no-store");
    assert!(headers.get("www-authenticate").is_none());
    for (status, path) in [(401, jwks), (404, "/apiops/nowhere")] {
        let (got, headers, _) = s.call_with_headers("GET", path, None, None);
        assert_eq!(got, status, "{path}");
        assert_eq!(headers["cache-control"], "no-store", "{path}");
        assert_eq!(
            headers.get("www-authenticate").map(|v| v.to_str().unwrap()),
            (status == 401).then_some("Bearer"),
            "{path}"
        );
    }
    let agent = common::agent(None);
    for scheme in ["bearer", "BEARER", "Bearer"] {
        let mut response = agent
            .get(format!("{}{jwks}a", s.base))
            .header("Authorization", format!("{scheme} {admin}"))
            .call()
            .unwrap();
        assert_eq!(response.status().as_u16(), 200, "{scheme}");
        let body = response.body_mut().read_to_string().unwrap();
        assert!(body.contains(r#""success":true"#), "{body}");
    }
    let response = agent
        .get(format!("{}{jwks}a", s.base))
        .header("Authorization", format!("Basic {admin}"))
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
}

/// The admin replaces an environment's target (every key is then deployed to it) and deletes
/// an environment; others may not; a missing one is 404.
#[test]
fn environments_are_updated_and_deleted_by_the_admin() {
    let (_dir, s, admin) = serving();
    let ec = json!({"name": "ec", "sourceType": "COPY_PASTE", "jwkStr": r#"{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","kid":"ec1"}"#});
    assert_eq!(
        s.call(
            "POST",
            "/apiops/projects/MyProject/jwks/",
            Some(&admin),
            Some(&ec.to_string())
        )
        .0,
        200
    );
    let alice = common::new_user(&s, &admin, "alice");
    let memory = r#"{"target":{"type":"memory"}}"#;
    assert_eq!(
        s.call(
            "PUT",
            "/apiops/environments/staging/",
            Some(&alice),
            Some(memory)
        ),
        (
            403,
            json!({"error": "access_denied", "error_description": "Only the admin user can update environments!"})
        )
    );
    let (status, result) = s.call(
        "PUT",
        "/apiops/environments/staging/",
        Some(&admin),
        Some(memory),
    );
    assert_eq!(status, 200, "{result}");
    assert_eq!(result["success"], true, "{result}");
    assert!(
        result["deploymentResult"]["environmentResults"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["environmentName"] == "staging" && r["success"] == true),
        "{result}"
    );
    let (status, served) = s.call(
        "GET",
        "/apiops/environments/staging/jwks/",
        Some(&admin),
        None,
    );
    assert_eq!(status, 200);
    assert_eq!(served["keys"][0]["kid"], "ec1", "{served}");
    assert_eq!(
        s.call(
            "PUT",
            "/apiops/environments/staging/",
            Some(&admin),
            Some(r#"{"target":{"type":"webhook","url":"ftp://example.com/"}}"#)
        ),
        bad(
            "Environment (name: staging) has a webhook URL that is not valid: invalid URL: the scheme must be http or https, not ftp"
        )
    );
    assert_eq!(
        s.call(
            "DELETE",
            "/apiops/environments/staging/",
            Some(&alice),
            None
        ),
        (
            403,
            json!({"error": "access_denied", "error_description": "Only the admin user can delete environments!"})
        )
    );
    assert_eq!(
        s.call(
            "DELETE",
            "/apiops/environments/staging/",
            Some(&admin),
            None
        ),
        (200, json!({"success": true}))
    );
    let missing = (
        404,
        json!({"error": "not_found", "error_description": "Environment (name: staging) is not found!"}),
    );
    assert_eq!(
        s.call(
            "DELETE",
            "/apiops/environments/staging/",
            Some(&admin),
            None
        ),
        missing
    );
    assert_eq!(
        s.call(
            "PUT",
            "/apiops/environments/staging/",
            Some(&admin),
            Some(memory)
        ),
        missing
    );
}

/// The admin issues a user a new token (the old one stops working at once) and deletes a
/// user (its token stops working); others may not; the admin user cannot be deleted.
#[test]
fn users_get_new_tokens_and_are_deleted_by_the_admin() {
    let (_dir, s, admin) = serving();
    let old = common::new_member(&s, &admin, "MyProject", "alice", &["SECRETS+VIEW"]);
    let jwks = "/apiops/projects/MyProject/jwks/";
    assert_eq!(s.call("GET", jwks, Some(&old), None).0, 200);
    let denied = |what: &str| {
        (
            403,
            json!({"error": "access_denied", "error_description": format!("Only the admin user can {what}!")}),
        )
    };
    assert_eq!(
        s.call("POST", "/apiops/users/alice/token/", Some(&old), None),
        denied("issue tokens")
    );
    let (status, issued) = s.call("POST", "/apiops/users/alice/token/", Some(&admin), None);
    assert_eq!(status, 200, "{issued}");
    assert_eq!(issued["username"], "alice");
    let new = issued["token"].as_str().unwrap().to_owned();
    assert!(new.starts_with("jwk_") && new != old, "{new}");
    let invalid = (
        401,
        json!({"error": "unauthorized_client", "error_description": "Invalid token"}),
    );
    assert_eq!(s.call("GET", jwks, Some(&old), None), invalid);
    assert_eq!(s.call("GET", jwks, Some(&new), None).0, 200);

    assert_eq!(
        s.call("DELETE", "/apiops/users/alice/", Some(&new), None),
        denied("delete users")
    );
    assert_eq!(
        s.call("DELETE", "/apiops/users/admin/", Some(&admin), None),
        bad("The admin user can not be deleted!")
    );
    assert_eq!(
        s.call("DELETE", "/apiops/users/alice/", Some(&admin), None),
        (200, json!({"success": true}))
    );
    assert_eq!(s.call("GET", jwks, Some(&new), None), invalid);
    let missing = (
        404,
        json!({"error": "not_found", "error_description": "User (username: alice) is not found!"}),
    );
    assert_eq!(
        s.call("DELETE", "/apiops/users/alice/", Some(&admin), None),
        missing
    );
    assert_eq!(
        s.call("POST", "/apiops/users/alice/token/", Some(&admin), None),
        missing
    );
    // A new alice starts without the old memberships.
    let fresh = common::new_user(&s, &admin, "alice");
    assert_eq!(
        s.call("GET", jwks, Some(&fresh), None).0,
        404,
        "projects it is not in are hidden"
    );
}

/// Errors that axum or a layer makes (a method a route lacks, a query that does not parse)
/// have the product's error body too.
#[test]
fn errors_from_the_framework_have_the_product_shape() {
    let (_dir, s, admin) = serving();
    let (status, headers, body) =
        s.call_with_headers("DELETE", "/apiops/projects/", Some(&admin), None);
    assert_eq!(
        (status, body),
        (
            405,
            json!({"error": "method_not_allowed", "error_description": "Method not allowed!"})
        )
    );
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(headers["allow"], "POST,GET,HEAD");
    assert_eq!(
        s.call(
            "GET",
            "/apiops/projects/MyProject/jwks/?private=maybe",
            Some(&admin),
            None
        ),
        bad(
            "Failed to deserialize query string: private: provided string was not `true` or `false`"
        )
    );
}

/// A read of a JWK or credential that does not exist is a 404; changes that name one keep
/// the product's 400.
#[test]
fn reading_what_does_not_exist_is_a_404() {
    let (_dir, s, admin) = serving();
    assert_eq!(
        s.call(
            "GET",
            "/apiops/projects/MyProject/jwks/nope/",
            Some(&admin),
            None
        ),
        (
            404,
            json!({"error": "not_found", "error_description": "JWK (name: nope) is not found!"})
        )
    );
    assert_eq!(
        s.call(
            "GET",
            "/apiops/projects/MyProject/credentials/nobody/",
            Some(&admin),
            None
        ),
        (
            404,
            json!({"error": "not_found", "error_description": "Credential (username: nobody) was not found!"})
        )
    );
    assert_eq!(
        s.call(
            "DELETE",
            "/apiops/projects/MyProject/jwks/nope/",
            Some(&admin),
            None
        ),
        bad("JWK (name: nope) is not found!")
    );
    assert_eq!(
        s.call(
            "PUT",
            "/apiops/projects/MyProject/jwks/nope/",
            Some(&admin),
            Some("{}")
        ),
        bad("JWK (name: nope) is not found! Try create operation.")
    );
}

/// Authentication comes before the body is read: a caller without a valid token learns
/// nothing from a body that does not parse.
#[test]
fn bodies_are_read_only_for_authenticated_callers() {
    let (_dir, s, admin) = serving();
    let unauthorized = (
        401,
        json!({"error": "unauthorized_client", "error_description": "Invalid token"}),
    );
    for path in [
        "/apiops/projects/MyProject/jwks/",
        "/apiops/environments/",
        "/apiops/users/",
    ] {
        for token in [None, Some("wrong")] {
            assert_eq!(
                s.call("POST", path, token, Some("{not json")),
                unauthorized,
                "{path}"
            );
        }
        assert_eq!(
            s.call("POST", path, Some(&admin), Some("{not json")).0,
            400,
            "{path}"
        );
    }
}

/// A user who may manage but not deploy saves a JWK: it is served nowhere, not by the
/// periodic reconcile and not by another user's deployment, until a user who may deploy it
/// approves it.
#[test]
fn a_change_by_a_user_who_may_not_deploy_is_served_only_once_approved() {
    let dir = jwk_testkit::temp_dir();
    let admin = bootstrap(dir.path());
    let s = Server::start_with(
        dir.path(),
        &["--reconcile-interval-secs", "1"],
        Stdio::null(),
    );
    setup(&s, &admin);
    let bob = common::new_member(&s, &admin, "MyProject", "bob", &["SECRETS+MANAGE"]);
    let jwks = "/apiops/projects/MyProject/jwks/";
    let ec = |name: &str, x: &str, y: &str| {
        json!({"name": name, "sourceType": "COPY_PASTE", "jwkStr": json!({"kty": "EC", "crv": "P-256", "x": x, "y": y, "kid": name}).to_string()}).to_string()
    };
    let bobs = ec(
        "bobs",
        "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
        "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM",
    );
    assert_eq!(
        s.call("POST", jwks, Some(&bob), Some(&bobs)),
        (
            200,
            json!({"success": true, "deploymentResult": {"success": false, "message": "Deployment skipped: user does not have SECRETS+DEPLOY_UNDEPLOY permission; the change is saved and pending", "environmentResults": []}})
        )
    );
    // Another user's deployment in between, and several reconcile rounds.
    let admins = ec(
        "admins",
        "gI0GAILBdu7T53akrFmMyGcsF3n5dO7MmwNBHKW5SV0",
        "SLW_xSffzlPWrHEVI30DHM_4egVwt3NQqeUD7nMFpps",
    );
    assert_eq!(
        s.call("POST", jwks, Some(&admin), Some(&admins)),
        (200, deployed(&["production", "staging"]))
    );
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let served = || {
        let (_, set) = s.call(
            "GET",
            "/apiops/environments/production/jwks/",
            Some(&admin),
            None,
        );
        common::sorted_kids(&set)
    };
    assert_eq!(served(), ["admins"]);
    let (_, item) = s.call("GET", &format!("{jwks}bobs/"), Some(&bob), None);
    assert_eq!(
        (
            &item["resultItem"]["deployed"],
            &item["resultItem"]["pending"]
        ),
        (&json!(false), &json!("created"))
    );
    assert_eq!(
        s.call("POST", &format!("{jwks}bobs/deploy/"), Some(&bob), None),
        (
            403,
            json!({"error": "access_denied", "error_description": "User (username: bob) does not have SECRETS+DEPLOY_UNDEPLOY permission in project (MyProject)!"})
        )
    );
    // Approved by the admin: served at once.
    assert_eq!(
        s.call("POST", &format!("{jwks}bobs/deploy/"), Some(&admin), None),
        (200, deployed(&["production", "staging"]))
    );
    assert_eq!(served(), ["admins", "bobs"]);
    let (_, item) = s.call("GET", &format!("{jwks}bobs/"), Some(&bob), None);
    assert_eq!(item["resultItem"]["deployed"], json!(true));
    assert!(item["resultItem"].get("pending").is_none());

    // Bob retires it (pending); the admin's own change of the JWK approves that too, and the
    // answer names it.
    let retire = json!({"state": "retired"}).to_string();
    let (status, _) = s.call(
        "PUT",
        &format!("{jwks}bobs/state/"),
        Some(&bob),
        Some(&retire),
    );
    assert_eq!(status, 200);
    let describe = json!({"description": "reviewed"}).to_string();
    let (status, body) = s.call(
        "PUT",
        &format!("{jwks}bobs/"),
        Some(&admin),
        Some(&describe),
    );
    assert_eq!(status, 200);
    assert_eq!(
        body["approvedEdits"],
        json!([{"type": "JWK", "project": "MyProject", "name": "bobs", "pending": "changed"}])
    );
    assert_eq!(
        body["deploymentResult"],
        deployed(&["production", "staging"])["deploymentResult"]
    );
    let (_, item) = s.call("GET", &format!("{jwks}bobs/"), Some(&admin), None);
    assert_eq!(
        (
            &item["resultItem"]["state"],
            &item["resultItem"]["deployed"]
        ),
        (&json!("retired"), &json!(true))
    );
    // A change that approves nothing says nothing of it.
    let (_, body) = s.call(
        "PUT",
        &format!("{jwks}bobs/"),
        Some(&admin),
        Some(&describe),
    );
    assert!(body.get("approvedEdits").is_none(), "{body}");
}

/// JWK names that are routes under `…/jwks/` are refused at create and rename; names that
/// look like routes but are not (`deploy`, `resync`, `jwk`) work for every operation.
#[test]
fn names_that_collide_with_routes_are_refused_and_others_work_everywhere() {
    let (_dir, s, admin) = serving();
    let jwks = "/apiops/projects/MyProject/jwks/";
    for reserved in ["generate", "from-certificate"] {
        assert_eq!(
            s.call("POST", jwks, Some(&admin), Some(&paste(reserved))),
            bad(&format!(
                "JWK name ({reserved}) is reserved: …/jwks/{reserved}/ is a route of the API!"
            ))
        );
    }
    assert_eq!(
        s.call("POST", jwks, Some(&admin), Some(&paste(".."))),
        bad(r#"JWK name can not be "." or ".."!"#)
    );
    for name in ["deploy", "resync", "jwk"] {
        assert_eq!(
            s.call("POST", jwks, Some(&admin), Some(&paste(name))),
            (200, deployed(&["production", "staging"])),
            "{name}"
        );
        let (status, item) = s.call("GET", &format!("{jwks}{name}/"), Some(&admin), None);
        assert_eq!((status, &item["resultItem"]["name"]), (200, &json!(name)));
        assert_eq!(
            s.call("POST", &format!("{jwks}{name}/deploy/"), Some(&admin), None),
            (200, deployed(&["production", "staging"]))
        );
        assert_eq!(
            s.call(
                "PUT",
                &format!("{jwks}{name}/"),
                Some(&admin),
                Some(r#"{"name":"generate"}"#)
            ),
            bad("JWK name (generate) is reserved: …/jwks/generate/ is a route of the API!")
        );
        assert_eq!(
            s.call(
                "PUT",
                &format!("{jwks}{name}/"),
                Some(&admin),
                Some(r#"{"description":"kept"}"#)
            ),
            (200, deployed(&["production", "staging"]))
        );
        // A credential of the same name, with the JWK in its slot.
        assert_eq!(
            s.call(
                "POST",
                "/apiops/projects/MyProject/credentials/",
                Some(&admin),
                Some(&json!({"username": name}).to_string())
            )
            .0,
            200
        );
        assert_eq!(
            s.call(
                "PUT",
                &format!("/apiops/projects/MyProject/credentials/{name}/jwk/validation/{name}/"),
                Some(&admin),
                None
            ),
            (200, deployed(&["production", "staging"]))
        );
        let (status, cred) = s.call(
            "GET",
            &format!("/apiops/projects/MyProject/credentials/{name}/"),
            Some(&admin),
            None,
        );
        assert_eq!(
            (status, &cred["resultItem"]["validationJwk"]),
            (200, &json!(format!("MyProject/{name}")))
        );
        assert_eq!(
            s.call(
                "DELETE",
                &format!("/apiops/projects/MyProject/credentials/{name}/jwk/validation/"),
                Some(&admin),
                None
            ),
            (200, deployed(&["production", "staging"]))
        );
        assert_eq!(
            s.call("DELETE", &format!("{jwks}{name}/"), Some(&admin), None),
            (200, deployed(&["production", "staging"]))
        );
    }
}

/// A body that does not read into the registry's types (no or an unknown sourceType, a
/// useType or keyType that does not exist, base64 that does not decode) is answered only after
/// the registry's first checks, so the order of answers stays the product's: permission,
/// project, name, then the body.
#[test]
fn a_body_that_does_not_read_is_answered_after_the_first_checks() {
    let (_dir, s, admin) = serving();
    let jwks = "/apiops/projects/MyProject/jwks/";
    assert_eq!(
        s.call("POST", jwks, Some(&admin), Some(&paste("taken"))).0,
        200
    );
    let viewer = common::new_member(&s, &admin, "MyProject", "viewer", &["SECRETS+VIEW"]);
    let forbidden = (
        403,
        json!({"error": "access_denied", "error_description": "User (username: viewer) does not have SECRETS+MANAGE permission in project (MyProject)!"}),
    );
    for (path, body) in [
        (jwks, r#"{"name":"x"}"#),
        (jwks, r#"{"name":"x","sourceType":"FILE"}"#),
        (
            "/apiops/projects/MyProject/jwks/generate/",
            r#"{"name":"x","keyType":"DSA"}"#,
        ),
        (
            "/apiops/projects/MyProject/keys/",
            r#"{"name":"k","environmentName":"production","keyType":"SECRET"}"#,
        ),
    ] {
        assert_eq!(s.call("POST", path, Some(&viewer), Some(body)), forbidden);
    }
    assert_eq!(
        s.call(
            "POST",
            "/apiops/projects/Nope/jwks/",
            Some(&admin),
            Some(r#"{"name":"x"}"#)
        ),
        (
            404,
            json!({"error": "not_found", "error_description": "Project(Nope) was not found or user does not have privilege to access it!"})
        )
    );
    for (path, body, message) in [
        (jwks, r#"{"name":" "}"#, "JWK name can not be empty!"),
        (
            jwks,
            r#"{"name":"taken","useType":"SIGNING"}"#,
            "JWK (name: taken) is already exist! Try update operation if want to change its value.",
        ),
        (jwks, r#"{"name":"x"}"#, "Source type is required!"),
        (
            jwks,
            r#"{"name":"x","sourceType":"COPY_PASTE","jwkStr":"{}","useType":"SIGNING"}"#,
            "Use type (SIGNING) is not valid! Use SIGNATURE or ENCRYPTION.",
        ),
        (
            "/apiops/projects/MyProject/jwks/generate/",
            r#"{"name":"taken","keyType":"DSA"}"#,
            "JWK (name: taken) is already exist! Try update operation if want to change its value.",
        ),
        (
            "/apiops/projects/MyProject/keystores/",
            r#"{"name":"ks","contentBase64":"%%"}"#,
            "Environment name is required!",
        ),
        (
            "/apiops/projects/MyProject/keystores/",
            r#"{"name":"ks","environmentName":"production","contentBase64":"%%"}"#,
            "Keystore content is not valid base64!",
        ),
        (
            "/apiops/projects/MyProject/keys/",
            r#"{"name":"k","environmentName":"qa"}"#,
            "Environment (name: qa) is not found!",
        ),
        (
            "/apiops/projects/MyProject/keys/",
            r#"{"name":"k","environmentName":"production"}"#,
            "Key type is required!",
        ),
    ] {
        assert_eq!(
            s.call("POST", path, Some(&admin), Some(body)),
            bad(message),
            "{path} {body}"
        );
    }
}

/// The secrets store over HTTP: list, get (with the PEM), replace (the attached JWK follows
/// and is served at once) and delete (refused while attached, then with detach).
#[test]
fn the_secrets_store_is_listed_read_replaced_and_deleted_over_http() {
    let (_dir, s, admin) = serving();
    let d = jwk_testkit::temp_dir();
    for (name, subject) in [("a", "/CN=first"), ("b", "/CN=second")] {
        jwk_testkit::openssl_key_pair(
            d.path(),
            name,
            &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"],
        );
        jwk_testkit::openssl_self_signed(d.path(), name, subject);
    }
    let pem = |name: &str| {
        String::from_utf8(jwk_testkit::read(d.path(), &format!("{name}.crt"))).unwrap()
    };
    let project = "/apiops/projects/MyProject";
    let add = json!({"name": "edge", "environmentName": "production", "pem": pem("a")}).to_string();
    assert_eq!(
        s.call(
            "POST",
            &format!("{project}/certificates/"),
            Some(&admin),
            Some(&add)
        ),
        (200, json!({"success": true}))
    );
    let jwk = json!({"name": "edge-jwk", "certificateName": "edge", "environmentName": "production", "useType": "SIGNATURE", "algorithm": "ES256"}).to_string();
    assert_eq!(
        s.call(
            "POST",
            &format!("{project}/jwks/from-certificate/"),
            Some(&admin),
            Some(&jwk)
        )
        .0,
        200
    );
    let (status, list) = s.call(
        "GET",
        &format!("{project}/secrets/?environmentName=production"),
        Some(&admin),
        None,
    );
    assert_eq!(status, 200, "{list}");
    let item = &list["resultList"][0];
    assert_eq!(
        (
            &item["name"],
            &item["type"],
            &item["keyType"],
            &item["certificate"]["subject"],
            &item["attachedJwks"],
            item.get("pem")
        ),
        (
            &json!("edge"),
            &json!("CERTIFICATE"),
            &json!("EC P-256"),
            &json!("CN=first"),
            &json!(["edge-jwk"]),
            None
        )
    );
    let one = format!("{project}/certificates/production/edge/");
    let (status, got) = s.call("GET", &one, Some(&admin), None);
    assert_eq!(status, 200, "{got}");
    assert!(
        got["resultItem"]["pem"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----\n")
    );
    assert_eq!(
        s.call(
            "GET",
            &format!("{project}/keys/production/edge/"),
            Some(&admin),
            None
        ),
        (
            404,
            json!({"error": "not_found", "error_description": "Key (name: edge) is not found!"})
        )
    );

    // Replace: the JWK follows, with its old and new thumbprints.
    let served = || {
        let (_, jwks) = s.call(
            "GET",
            "/apiops/environments/production/jwks/",
            Some(&admin),
            None,
        );
        jwks["keys"][0]["x"].clone()
    };
    let before = served();
    let (_, view) = s.call(
        "GET",
        &format!("{project}/jwks/edge-jwk/"),
        Some(&admin),
        None,
    );
    let old = view["resultItem"]["thumbprint"].clone();
    let (status, replaced) = s.call(
        "PUT",
        &one,
        Some(&admin),
        Some(&json!({"pem": pem("b")}).to_string()),
    );
    assert_eq!(status, 200, "{replaced}");
    let (_, view) = s.call(
        "GET",
        &format!("{project}/jwks/edge-jwk/"),
        Some(&admin),
        None,
    );
    let new = view["resultItem"]["thumbprint"].clone();
    assert_ne!(old, new);
    assert_eq!(
        replaced["rotatedJwks"],
        json!([{"name": "edge-jwk", "oldThumbprint": old, "newThumbprint": new}])
    );
    assert_eq!(replaced["deploymentResult"]["success"], true);
    assert_ne!(served(), before);

    // Delete: refused while attached; with detach the JWK keeps its key.
    assert_eq!(
        s.call("DELETE", &one, Some(&admin), None),
        bad(
            "Certificate (name: edge) is used by JWK (edge-jwk): delete those JWKs, or delete the certificate with detach to keep them without their source!"
        )
    );
    assert_eq!(
        s.call("DELETE", &format!("{one}?detach=true"), Some(&admin), None),
        (200, json!({"success": true, "detachedJwks": ["edge-jwk"]}))
    );
    assert_eq!(s.call("GET", &one, Some(&admin), None).0, 404);
    let (_, view) = s.call(
        "GET",
        &format!("{project}/jwks/edge-jwk/"),
        Some(&admin),
        None,
    );
    assert_eq!(view["resultItem"]["thumbprint"], new);
}

/// The slot rule over HTTP: a JWK whose `use` is `sig` does not go in the encryption slot.
#[test]
fn a_slot_refuses_a_jwk_for_the_other_use() {
    let (_dir, s, admin) = serving();
    let project = "/apiops/projects/MyProject";
    let ec = r#"{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}"#;
    let signing = json!({"name": "signing", "sourceType": "COPY_PASTE", "jwkStr": ec, "useType": "SIGNATURE", "algorithm": "ES256"}).to_string();
    let (status, body) = s.call(
        "POST",
        &format!("{project}/jwks/"),
        Some(&admin),
        Some(&signing),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        s.call(
            "POST",
            &format!("{project}/credentials/"),
            Some(&admin),
            Some(r#"{"username":"api-user"}"#)
        )
        .0,
        200
    );
    assert_eq!(
        s.call(
            "PUT",
            &format!("{project}/credentials/api-user/jwk/encryption/signing/"),
            Some(&admin),
            None
        ),
        bad(
            "JWK (name: signing) is for signatures (use: sig): the encryption slot takes a JWK whose use is enc or not set!"
        )
    );
    assert_eq!(
        s.call(
            "PUT",
            &format!("{project}/credentials/api-user/jwk/validation/signing/"),
            Some(&admin),
            None
        )
        .0,
        200
    );
}

#[test]
fn remote_jwk_sets_are_followed_over_http_and_readyz_waits_for_them() {
    let (_dir, s, admin) = serving();
    // No set yet: ready as soon as the follower has looked.
    let mut ready = (0, Value::Null);
    for _ in 0..100 {
        ready = s.call("GET", "/readyz", None, None);
        if ready.0 == 200 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(ready, (200, json!({"status": "ready"})));

    let key = r#"{"kty":"EC","crv":"P-256","kid":"idp-1","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}"#;
    let body = format!(r#"{{"keys":[{key},{{"kty":"oct","kid":"s","k":"AQID"}}]}}"#);
    let stub = jwk_testkit::HttpStub::start(move |_, st| {
        jwk_testkit::respond(
            st,
            "200 OK",
            &["Cache-Control: max-age=600", "ETag: \"1\""],
            body.as_bytes(),
        )
    });
    let sets = "/apiops/projects/MyProject/jwk-sets/";
    let create =
        json!({"name": "idp", "url": stub.url("/jwks"), "refresh": {"minIntervalSeconds": 10}})
            .to_string();
    let mut created = deployed(&["production", "staging"]);
    created["resyncResult"] =
        json!({"added": ["idp-1"], "removed": [], "changed": [], "notModified": false});
    assert_eq!(
        s.call("POST", sets, Some(&admin), Some(&create)),
        (200, created)
    );
    assert_eq!(
        s.call("POST", sets, Some(&admin), Some(&create)),
        bad("JWK Set (name: idp) is already exist!")
    );
    let (status, jwks) = s.call(
        "GET",
        "/apiops/environments/production/jwks/",
        Some(&admin),
        None,
    );
    assert_eq!(
        (status, common::sorted_kids(&jwks)),
        (200, vec!["idp-1".to_owned()])
    );

    let (status, mut item) = s.call("GET", &format!("{sets}idp/"), Some(&admin), None);
    assert_eq!(status, 200);
    let view = &mut item["resultItem"];
    for time in ["lastAttempt", "lastSuccess", "nextRefresh"] {
        let t = view["status"][time].take();
        assert!(t.as_str().unwrap().ends_with('Z'), "{time}: {t}");
    }
    assert_eq!(
        *view,
        json!({
            "name": "idp", "url": stub.url("/jwks"),
            "urlOptionConnectTimeout": 5000, "urlOptionReadTimeout": 10000, "urlOptionSizeLimit": 1048576,
            "refresh": {"defaultIntervalSeconds": 300, "minIntervalSeconds": 10, "maxIntervalSeconds": 3600,
                        "graceSeconds": null, "staleLimitSeconds": 86400, "missCooldownSeconds": 30, "missBudgetPerHour": 60},
            "status": {"kids": ["idp-1"], "graceKids": [], "lastAttempt": null, "lastSuccess": null, "nextRefresh": null,
                       "intervalSeconds": 600, "etag": "\"1\"", "consecutiveFailures": 0, "withdrawn": false,
                       "skipped": [{"index": 1, "kid": "s", "code": "jwk_set.symmetric_key",
                                    "message": "a symmetric (oct) key is never taken from a remote JWK Set"}]}
        })
    );
    let (status, list) = s.call("GET", sets, Some(&admin), None);
    assert_eq!(
        (status, list["resultList"].as_array().unwrap().len()),
        (200, 1)
    );

    // A manual refresh sends the ETag back.
    let (status, refreshed) = s.call("POST", &format!("{sets}idp/refresh/"), Some(&admin), None);
    assert_eq!(status, 200, "{refreshed}");
    assert_eq!(
        refreshed["resyncResult"],
        json!({"added": [], "removed": [], "changed": [], "notModified": false})
    );
    assert!(
        stub.requests()
            .last()
            .unwrap()
            .contains("if-none-match: \"1\"")
    );

    // Bounds, permissions, deletion.
    assert_eq!(
        s.call(
            "PUT",
            &format!("{sets}idp/"),
            Some(&admin),
            Some(
                &json!({"url": stub.url("/jwks"), "refresh": {"minIntervalSeconds": 0}})
                    .to_string()
            )
        ),
        bad(
            "refresh.minIntervalSeconds (0) is not valid! It must be between 1 and 604800 seconds."
        )
    );
    let bob = common::new_member(&s, &admin, "MyProject", "bob", &["SECRETS+MANAGE"]);
    let other = json!({"name": "other", "url": stub.url("/jwks")}).to_string();
    assert_eq!(
        s.call("POST", sets, Some(&bob), Some(&other)),
        (
            403,
            json!({"error": "access_denied", "error_description": "User (username: bob) does not have SECRETS+DEPLOY_UNDEPLOY permission in project (MyProject)!"})
        )
    );
    assert_eq!(
        s.call("DELETE", &format!("{sets}idp/"), Some(&admin), None),
        (200, deployed(&["production", "staging"]))
    );
    assert_eq!(
        s.call("GET", &format!("{sets}idp/"), Some(&admin), None),
        (
            404,
            json!({"error": "not_found", "error_description": "JWK Set (name: idp) is not found!"})
        )
    );
    let (_, jwks) = s.call(
        "GET",
        "/apiops/environments/production/jwks/",
        Some(&admin),
        None,
    );
    assert_eq!(jwks, json!({"keys": []}));
}

/// The samples of an OpenMetrics / Prometheus text exposition, as "name{labels}" → value;
/// panics on a line that is not a comment, a sample or the final `# EOF`.
fn exposition(text: &str) -> std::collections::BTreeMap<String, f64> {
    let mut samples = std::collections::BTreeMap::new();
    let mut typed = std::collections::BTreeSet::new();
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(
        lines.last(),
        Some(&"# EOF"),
        "the exposition ends with # EOF"
    );
    for line in &lines[..lines.len() - 1] {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (family, kind) = rest.split_once(' ').unwrap();
            assert!(["counter", "gauge", "histogram"].contains(&kind), "{line}");
            typed.insert(family.to_owned());
            continue;
        }
        if line.starts_with("# HELP ") || line.starts_with("# UNIT ") {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("{line}"));
        let name = series.split('{').next().unwrap();
        assert!(
            typed.iter().any(|f| name.starts_with(f.as_str())),
            "a sample of an undeclared family: {line}"
        );
        if let Some(labels) = series.strip_prefix(name) {
            assert!(
                labels.is_empty() || (labels.starts_with('{') && labels.ends_with('}')),
                "{line}"
            );
        }
        let value: f64 = value.parse().unwrap_or_else(|_| panic!("{line}"));
        assert!(
            samples.insert(series.to_owned(), value).is_none(),
            "twice: {line}"
        );
    }
    samples
}

#[test]
fn metrics_are_served_in_the_exposition_format_to_the_admin() {
    let (_dir, s, admin) = serving();
    let key = r#"{"kty":"EC","crv":"P-256","kid":"idp-1","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}"#;
    let body = format!(r#"{{"keys":[{key}]}}"#);
    let stub = jwk_testkit::HttpStub::start(move |_, st| {
        jwk_testkit::respond(st, "200 OK", &[], body.as_bytes())
    });
    let sets = "/apiops/projects/MyProject/jwk-sets/";
    let create = json!({"name": "idp", "url": stub.url("/jwks")}).to_string();
    assert_eq!(s.call("POST", sets, Some(&admin), Some(&create)).0, 200);
    // A JWK whose certificate expires: its x5c leaf's notAfter.
    let pem = std::fs::read_to_string("testdata/samples/p256-cert.pem").unwrap();
    let cert =
        json!({"name": "my-certificate", "environmentName": "production", "pem": pem}).to_string();
    assert_eq!(
        s.call(
            "POST",
            "/apiops/projects/MyProject/certificates/",
            Some(&admin),
            Some(&cert)
        )
        .0,
        200
    );
    let from_cert = json!({"name": "signing", "sourceType": "CERTIFICATE", "certificateName": "my-certificate", "environmentName": "production", "useType": "SIGNATURE", "algorithm": "ES256"}).to_string();
    let (status, made) = s.call(
        "POST",
        "/apiops/projects/MyProject/jwks/",
        Some(&admin),
        Some(&from_cert),
    );
    assert_eq!(status, 200, "{made}");
    let (_, jwk) = s.call(
        "GET",
        "/apiops/projects/MyProject/jwks/signing/",
        Some(&admin),
        None,
    );
    let kid = jwk["resultItem"]["jwk"]["kid"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let der = jwk_testkit::b64std_decode(jwk["resultItem"]["jwk"]["x5c"][0].as_str().unwrap());
    let not_after = jwk_engine::core::CertificateInfo::from_der(&der)
        .unwrap()
        .not_after_unix;

    let bob = common::new_member(&s, &admin, "MyProject", "bob", &["SECRETS+VIEW"]);
    assert_eq!(
        s.call("GET", "/metrics", None, None),
        (
            401,
            json!({"error": "unauthorized_client", "error_description": "Invalid token"})
        )
    );
    assert_eq!(
        s.call("GET", "/metrics", Some(&bob), None),
        (
            403,
            json!({"error": "access_denied", "error_description": "User (username: bob) may not read the metrics: only the admin user may!"})
        )
    );
    let (status, headers, text) = s.call_with_headers("GET", "/metrics", Some(&admin), None);
    assert_eq!(status, 200);
    assert_eq!(
        headers["content-type"],
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    );
    let m = exposition(text.as_str().unwrap());
    let set = r#"project="MyProject",set="idp""#;
    assert_eq!(
        m[&format!("jwk_jwkset_fetches_total{{{set},result=\"ok\"}}")],
        1.0
    );
    assert_eq!(m[&format!("jwk_jwkset_keys{{{set}}}")], 1.0);
    assert_eq!(m[&format!("jwk_jwkset_withdrawn{{{set}}}")], 0.0);
    assert_eq!(m[&format!("jwk_jwkset_consecutive_failures{{{set}}}")], 0.0);
    let age = m[&format!("jwk_jwkset_age_seconds{{{set}}}")];
    assert!((0.0..60.0).contains(&age), "{age}");
    assert_eq!(m["jwk_kid_miss_refetches_total"], 0.0);
    assert_eq!(m["jwk_kid_miss_suppressed_total"], 0.0);
    // The set, the certificate JWK (and nothing failed).
    assert_eq!(
        m[r#"jwk_deployments_total{environment="production",result="success"}"#],
        2.0
    );
    assert!(!m.keys().any(|k| k.contains(r#"result="failure""#)));
    assert_eq!(m[r#"jwk_environment_pending{environment="staging"}"#], 0.0);
    assert_eq!(m["jwk_environments_pending"], 0.0);
    let expiry = m[&format!(
        "jwk_key_certificate_expiry_seconds{{project=\"MyProject\",name=\"signing\",kid=\"{kid}\"}}"
    )];
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs_f64();
    assert!((expiry - (not_after as f64 - now)).abs() < 60.0, "{expiry}");
    // The JWK takes the certificate's validity: served until a second after notAfter.
    let key_expiry = m[&format!(
        "jwk_key_expiry_seconds{{project=\"MyProject\",name=\"signing\",kid=\"{kid}\"}}"
    )];
    assert!(
        (key_expiry - (not_after as f64 + 1.0 - now)).abs() < 60.0,
        "{key_expiry}"
    );
    let route = r#"method="POST",route="/apiops/projects/{project}/jwk-sets""#;
    assert_eq!(
        m[&format!("jwk_http_requests_total{{{route},status=\"200\"}}")],
        1.0
    );
    assert_eq!(
        m[&format!("jwk_http_request_duration_seconds_count{{{route}}}")],
        1.0
    );
    assert_eq!(
        m[&format!("jwk_http_request_duration_seconds_bucket{{le=\"+Inf\",{route}}}")],
        1.0
    );
    assert_eq!(
        m[r#"jwk_http_requests_total{method="GET",route="/metrics",status="403"}"#],
        1.0
    );
}

#[test]
fn a_url_source_can_be_followed_over_http() {
    let (_dir, s, admin) = serving();
    let key = r#"{"kty":"EC","crv":"P-256","kid":"idp-1","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}"#;
    let body = format!(r#"{{"keys":[{key}]}}"#);
    let stub = jwk_testkit::HttpStub::start(move |_, st| {
        jwk_testkit::respond(
            st,
            "200 OK",
            &["Cache-Control: max-age=900"],
            body.as_bytes(),
        )
    });
    let jwks = "/apiops/projects/MyProject/jwks/";
    let followed = json!({"name": "followed", "sourceType": "URL", "url": stub.url("/jwks"), "kid": "idp-1", "follow": true, "refresh": {"staleLimitSeconds": 3600}}).to_string();
    assert_eq!(
        s.call("POST", jwks, Some(&admin), Some(&followed)),
        (200, deployed(&["production", "staging"]))
    );
    let (status, item) = s.call("GET", &format!("{jwks}followed/"), Some(&admin), None);
    assert_eq!(status, 200);
    let source = &item["resultItem"]["source"];
    assert_eq!(
        source["follow"],
        json!({"defaultIntervalSeconds": 300, "minIntervalSeconds": 60, "maxIntervalSeconds": 3600,
               "graceSeconds": null, "staleLimitSeconds": 3600, "missCooldownSeconds": 30, "missBudgetPerHour": 60})
    );
    assert_eq!(source["followStatus"]["kids"], json!(["idp-1"]));
    assert_eq!(source["followStatus"]["withdrawn"], json!(false));

    assert_eq!(
        s.call(
            "POST",
            jwks,
            Some(&admin),
            Some(
                &json!({"name": "x", "sourceType": "URL", "url": stub.url("/jwks"), "refresh": {}})
                    .to_string()
            )
        ),
        bad("refresh is only for a followed URL source: give \"follow\": true too!")
    );
    assert_eq!(
        s.call(
            "POST",
            jwks,
            Some(&admin),
            Some(
                &json!({"name": "x", "sourceType": "COPY_PASTE", "jwkStr": key, "follow": true})
                    .to_string()
            )
        ),
        bad("follow and refresh are only for URL source type, not COPY_PASTE!")
    );
    let bob = common::new_member(&s, &admin, "MyProject", "bob", &["SECRETS+MANAGE"]);
    let bobs =
        json!({"name": "bobs", "sourceType": "URL", "url": stub.url("/jwks"), "follow": true})
            .to_string();
    assert_eq!(
        s.call("POST", jwks, Some(&bob), Some(&bobs)),
        (
            403,
            json!({"error": "access_denied", "error_description": "User (username: bob) does not have SECRETS+DEPLOY_UNDEPLOY permission in project (MyProject)!"})
        )
    );
}

#[test]
fn each_memory_environment_publishes_its_jwks_without_a_token() {
    let (_dir, s, admin) = serving();
    let ec = json!({"name": "signing", "sourceType": "COPY_PASTE", "jwkStr": json!({"kty": "EC", "crv": "P-256", "kid": "1", "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4", "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}).to_string()}).to_string();
    let jwks = "/apiops/projects/MyProject/jwks/";
    assert_eq!(s.call("POST", jwks, Some(&admin), Some(&ec)).0, 200);
    assert_eq!(
        s.call("POST", jwks, Some(&admin), Some(&paste("secret"))).0,
        200
    );
    let agent = common::agent(None);
    let get = |path: &str, tag: Option<&str>| {
        let mut req = agent.get(format!("{}{path}", s.base));
        if let Some(tag) = tag {
            req = req.header("If-None-Match", tag);
        }
        let mut response = req.call().unwrap();
        let headers = response.headers().clone();
        let header = |name: &str| {
            headers
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        (
            response.status().as_u16(),
            header("etag"),
            header("cache-control"),
            header("content-type"),
            header("access-control-allow-origin"),
            response.body_mut().read_to_string().unwrap(),
        )
    };
    let (status, etag, cache, kind, cors, body) = get("/.well-known/jwks/production.json", None);
    // The public EC key only (the oct key is never published), no token needed.
    assert_eq!(
        (
            status,
            cache.as_str(),
            kind.as_str(),
            cors.as_str(),
            body.as_str()
        ),
        (
            200,
            "public, max-age=300",
            "application/jwk-set+json",
            "*",
            r#"{"keys":[{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","kid":"1"}]}"#
        )
    );
    // A strong tag, kept as keys come and go: the SHA-256 of the word-wise sum of the
    // listed keys' SHA-256 (four big-endian u64 words each) and their count, in base64url.
    use base64ct::Encoding;
    use sha2::Digest;
    let key = r#"{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","kid":"1"}"#;
    let mut digest = sha2::Sha256::new();
    digest.update(sha2::Sha256::digest(key.as_bytes())); // one key: the sum is its hash
    digest.update(1u64.to_be_bytes());
    let hash = base64ct::Base64UrlUnpadded::encode_string(&digest.finalize());
    assert_eq!(etag, format!("\"{hash}\""));
    // Unchanged: 304 for the same tag (also weak, or in a list), the same tag from staging.
    for tag in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"other\", {etag}"),
        "*".into(),
    ] {
        let (status, again, cache, _, _, body) =
            get("/.well-known/jwks/production.json", Some(&tag));
        assert_eq!(
            (status, again.as_str(), cache.as_str(), body.as_str()),
            (304, etag.as_str(), "public, max-age=300", ""),
            "{tag}"
        );
    }
    assert_eq!(get("/.well-known/jwks/staging.json", None).1, etag);
    assert_eq!(
        get("/.well-known/jwks/production.json", Some("\"other\"")).0,
        200
    );

    // A new key: a new tag.
    let ec2 = json!({"name": "signing-2", "sourceType": "COPY_PASTE", "jwkStr": json!({"kty": "EC", "crv": "P-256", "kid": "2", "x": "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU", "y": "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}).to_string()}).to_string();
    assert_eq!(s.call("POST", jwks, Some(&admin), Some(&ec2)).0, 200);
    let (status, newer, _, _, _, body) = get("/.well-known/jwks/production.json", Some(&etag));
    assert_eq!(status, 200);
    assert_ne!(newer, etag);
    assert_eq!(
        common::sorted_kids(&serde_json::from_str(&body).unwrap()),
        ["1", "2"]
    );

    // Unknown, misnamed or deleted environments: 404.
    let missing = r#"{"error":"not_found","error_description":"No such JWKS: /.well-known/jwks/{environment}.json names a memory environment this server serves!"}"#;
    for path in [
        "/.well-known/jwks/nowhere.json",
        "/.well-known/jwks/production",
    ] {
        let (status, _, cache, _, _, body) = get(path, None);
        assert_eq!(
            (status, cache.as_str(), body.as_str()),
            (404, "no-store", missing),
            "{path}"
        );
    }
    assert_eq!(
        s.call(
            "DELETE",
            "/apiops/environments/staging/",
            Some(&admin),
            None
        )
        .0,
        200
    );
    assert_eq!(get("/.well-known/jwks/staging.json", None).0, 404);
}

#[test]
fn a_jwk_state_is_set_over_http_and_the_public_jwks_follows_it() {
    let (_dir, s, admin) = serving();
    let ec = json!({"name": "signing", "sourceType": "COPY_PASTE", "jwkStr": json!({"kty": "EC", "crv": "P-256", "kid": "1", "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4", "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}).to_string()}).to_string();
    let jwks = "/apiops/projects/MyProject/jwks/";
    assert_eq!(s.call("POST", jwks, Some(&admin), Some(&ec)).0, 200);
    let state = "/apiops/projects/MyProject/jwks/signing/state/";
    let public = || {
        s.call("GET", "/.well-known/jwks/production.json", None, None)
            .1
    };
    let kids = || common::sorted_kids(&public());
    for (name, published) in [
        ("retired", true),
        ("disabled", false),
        ("pending", true),
        ("active", true),
    ] {
        assert_eq!(
            s.call(
                "PUT",
                state,
                Some(&admin),
                Some(&json!({ "state": name }).to_string())
            ),
            (200, deployed(&["production", "staging"])),
            "{name}"
        );
        let (_, item) = s.call(
            "GET",
            "/apiops/projects/MyProject/jwks/signing/",
            Some(&admin),
            None,
        );
        assert_eq!(item["resultItem"]["state"], name);
        assert_eq!(kids() == ["1"], published, "{name}");
    }
    assert_eq!(
        s.call("PUT", state, Some(&admin), Some(r#"{"state":"gone"}"#)),
        bad("State (gone) is not valid! Use pending, active, retired or disabled.")
    );
    assert_eq!(
        s.call("PUT", state, Some(&admin), Some("{}")),
        bad("State is required!")
    );
    assert_eq!(
        s.call(
            "PUT",
            "/apiops/projects/MyProject/jwks/nope/state/",
            Some(&admin),
            Some(r#"{"state":"retired"}"#)
        ),
        bad("JWK (name: nope) is not found! Try create operation.")
    );
}

#[test]
fn a_jwk_validity_is_set_over_http_and_shortens_the_public_jwks_max_age() {
    let (_dir, s, admin) = serving();
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let ec = json!({"name": "signing", "sourceType": "COPY_PASTE", "nbf": now + 3600, "exp": now + 7200, "jwkStr": json!({"kty": "EC", "crv": "P-256", "kid": "1", "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4", "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}).to_string()}).to_string();
    assert_eq!(
        s.call(
            "POST",
            "/apiops/projects/MyProject/jwks/",
            Some(&admin),
            Some(&ec)
        )
        .0,
        200
    );
    let agent = common::agent(None);
    // (kids published, max-age)
    let public = || {
        let mut response = agent
            .get(format!("{}/.well-known/jwks/production.json", s.base))
            .call()
            .unwrap();
        let cache = response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .to_owned();
        let age: u64 = cache
            .strip_prefix("public, max-age=")
            .unwrap()
            .parse()
            .unwrap();
        (
            common::sorted_kids(
                &serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap(),
            ),
            age,
        )
    };
    let view = || {
        s.call(
            "GET",
            "/apiops/projects/MyProject/jwks/signing/",
            Some(&admin),
            None,
        )
        .1["resultItem"]
            .clone()
    };
    let item = view();
    assert_eq!(
        (&item["nbf"], &item["exp"], &item["validity"]),
        (
            &json!(now + 3600),
            &json!(now + 7200),
            &json!("not_yet_valid")
        )
    );
    // Not served before its nbf; the next change is an hour away: the full max-age.
    assert_eq!(public(), (Vec::<String>::new(), 300));
    let validity = "/apiops/projects/MyProject/jwks/signing/validity/";
    let set = |body: Value| s.call("PUT", validity, Some(&admin), Some(&body.to_string()));
    assert_eq!(
        set(json!({"exp": now + 100})),
        (200, deployed(&["production", "staging"]))
    );
    let item = view();
    assert_eq!(
        (item.get("nbf"), &item["exp"], &item["validity"]),
        (None, &json!(now + 100), &json!("valid"))
    );
    // Served, and caches are asked back by its exp.
    let (kids, age) = public();
    assert_eq!(kids, ["1"]);
    assert!((90..=100).contains(&age), "{age}");
    // Never below the floor (10 s by default).
    set(json!({"exp": now + 3}));
    assert_eq!(public(), (vec!["1".to_owned()], 10));
    set(json!({"nbf": null, "exp": null}));
    assert_eq!(public(), (vec!["1".to_owned()], 300));
    assert_eq!(
        set(json!({"nbf": 5, "exp": 5})),
        bad("JWK nbf (5) must be before its exp (5)!")
    );
    assert_eq!(
        set(json!({"exp": -1})),
        bad(
            "JWK exp (-1) is out of range: give Unix seconds from 0 to 253402300799 (9999-12-31T23:59:59Z)!"
        )
    );
}

#[test]
fn a_credential_slot_gets_a_next_jwk_and_promotes_it_over_http() {
    let (_dir, s, admin) = serving();
    let jwks = "/apiops/projects/MyProject/jwks/";
    for (name, kid) in [("old", "1"), ("new", "2")] {
        let body = json!({"name": name, "keyType": "EC", "curve": "P-256", "useType": "SIGNATURE", "algorithm": "ES256", "kidType": "NONE", "kid": kid}).to_string();
        assert_eq!(
            s.call(
                "POST",
                &format!("{jwks}generate/"),
                Some(&admin),
                Some(&body)
            )
            .0,
            200,
            "{name}"
        );
    }
    let all = deployed(&["production", "staging"]);
    assert_eq!(
        s.call(
            "POST",
            "/apiops/projects/MyProject/credentials/",
            Some(&admin),
            Some(r#"{"username":"api-user"}"#)
        ),
        (200, all.clone())
    );
    let base = "/apiops/projects/MyProject/credentials/api-user";
    let call = |method: &str, path: &str, body: Option<&str>| {
        s.call(method, &format!("{base}{path}"), Some(&admin), body)
    };
    assert_eq!(
        call("PUT", "/jwk/validation/old/", None),
        (200, all.clone())
    );
    assert_eq!(
        call("POST", "/promote/validation/", None),
        bad(
            "Credential (username: api-user) has no next JWK in its validation slot: set one before promoting!"
        )
    );
    assert_eq!(
        call("PUT", "/next-jwk/validation/new/", None),
        (200, all.clone())
    );
    let slots = || {
        let item = call("GET", "/", None).1["resultItem"].clone();
        (
            item["validation"]["name"].clone(),
            item.get("validationNext").map(|n| n["name"].clone()),
        )
    };
    assert_eq!(slots(), (json!("old"), Some(json!("new"))));
    // Both published ahead of the promotion.
    let public = || {
        common::sorted_kids(
            &s.call("GET", "/.well-known/jwks/production.json", None, None)
                .1,
        )
    };
    assert_eq!(public(), ["1", "2"]);
    assert_eq!(
        call(
            "POST",
            "/promote/validation/",
            Some(r#"{"overlapSeconds":31536001}"#)
        ),
        bad("Overlap (31536001 seconds) is too long: at most 31536000 (365 days)!")
    );
    let before = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    assert_eq!(
        call(
            "POST",
            "/promote/validation/",
            Some(r#"{"overlapSeconds":600}"#)
        ),
        (200, all.clone())
    );
    assert_eq!(slots(), (json!("new"), None));
    let jwk = |name: &str| {
        s.call("GET", &format!("{jwks}{name}/"), Some(&admin), None)
            .1["resultItem"]
            .clone()
    };
    let old = jwk("old");
    assert_eq!(
        (&old["state"], &old["validity"]),
        (&json!("retired"), &json!("valid"))
    );
    let exp = old["exp"].as_i64().unwrap();
    assert!((before + 600..=before + 602).contains(&exp), "{exp}");
    assert_eq!(jwk("new")["state"], "active");
    // The retired key still verifies during the overlap.
    assert_eq!(public(), ["1", "2"]);
    assert_eq!(
        call("PUT", "/next-jwk/validation/old/", None).1["error_description"],
        "JWK (name: old) is retired: a slot's next JWK must be pending or active!"
    );
    assert_eq!(call("DELETE", "/next-jwk/validation/", None), (200, all));
    assert_eq!(
        call("POST", "/promote/sideways/", None),
        (
            404,
            json!({"error": "not_found", "error_description": "JWK slot (sideways) is not valid! Use encryption or validation."})
        )
    );
}

#[test]
fn a_slot_rotation_is_set_over_http_and_jwkd_gives_an_empty_slot_its_first_key() {
    let (_dir, s, admin) = serving();
    assert_eq!(
        s.call(
            "POST",
            "/apiops/projects/MyProject/credentials/",
            Some(&admin),
            Some(r#"{"username":"api-user"}"#)
        )
        .0,
        200
    );
    let rotation = "/apiops/projects/MyProject/credentials/api-user/rotation/validation/";
    let policy = json!({"keyType": "EC", "curve": "P-256", "useType": "SIGNATURE", "algorithm": "ES256", "periodSeconds": 86400, "leadSeconds": 3600, "overlapSeconds": 7200, "maxTokenLifetimeSeconds": 3600, "consumerCacheSeconds": 600});
    assert_eq!(
        s.call("GET", rotation, Some(&admin), None),
        (
            404,
            json!({"error": "not_found", "error_description": "Credential (username: api-user) has no rotation for its validation slot!"})
        )
    );
    let mut unsafe_policy = policy.clone();
    unsafe_policy["overlapSeconds"] = json!(4000);
    assert_eq!(
        s.call(
            "PUT",
            rotation,
            Some(&admin),
            Some(&unsafe_policy.to_string())
        ),
        bad(
            "Overlap (4000 s) is 200 s short: it must cover the longest token lifetime (3600 s) plus the consumers' cache time (600 s), 4200 s!"
        )
    );
    let mut missing = policy.clone();
    missing.as_object_mut().unwrap().remove("leadSeconds");
    assert_eq!(
        s.call("PUT", rotation, Some(&admin), Some(&missing.to_string())),
        bad("leadSeconds is required!")
    );
    assert_eq!(
        s.call("PUT", rotation, Some(&admin), Some(&policy.to_string())),
        (200, deployed(&["production", "staging"]))
    );
    // jwkd's rotation task fills the empty slot at once. It assigns the slot, then records
    // the promotion in the rotation: wait for the record, the later of the two writes.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let view = loop {
        let (status, view) = s.call("GET", rotation, Some(&admin), None);
        assert_eq!(status, 200);
        if view["resultItem"]["lastPromotion"].is_i64() {
            break view["resultItem"].clone();
        }
        assert!(std::time::Instant::now() < deadline, "no promotion: {view}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let credential = "/apiops/projects/MyProject/credentials/api-user/";
    let (_, item) = s.call("GET", credential, Some(&admin), None);
    let slot = item["resultItem"]["validation"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(slot.starts_with("api-user-validation-"), "{item}");
    let view = &view;
    assert_eq!(
        (
            &view["keyType"],
            &view["curve"],
            &view["periodSeconds"],
            view["due"].as_i64().unwrap() - view["lastPromotion"].as_i64().unwrap()
        ),
        (&json!("EC"), &json!("P-256"), &json!(86400), 86400)
    );
    let (_, jwk) = s.call(
        "GET",
        &format!("/apiops/projects/MyProject/jwks/{slot}/"),
        Some(&admin),
        None,
    );
    assert_eq!(
        (&jwk["resultItem"]["state"], &jwk["resultItem"]["algorithm"]),
        (&json!("active"), &json!("ES256"))
    );
    assert_eq!(
        s.call("DELETE", rotation, Some(&admin), None),
        (200, deployed(&["production", "staging"]))
    );
    assert_eq!(s.call("GET", rotation, Some(&admin), None).0, 404);

    // A generated JWK's own rotation.
    let signer = json!({"name": "signer", "keyType": "EC", "curve": "P-256", "useType": "SIGNATURE", "algorithm": "ES256"}).to_string();
    assert_eq!(
        s.call(
            "POST",
            "/apiops/projects/MyProject/jwks/generate/",
            Some(&admin),
            Some(&signer)
        )
        .0,
        200
    );
    let jwk_rotation = "/apiops/projects/MyProject/jwks/signer/rotation/";
    assert_eq!(
        s.call("GET", jwk_rotation, Some(&admin), None),
        (
            404,
            json!({"error": "not_found", "error_description": "JWK (name: signer) has no rotation!"})
        )
    );
    assert_eq!(
        s.call("PUT", jwk_rotation, Some(&admin), Some(&policy.to_string())),
        (200, deployed(&["production", "staging"]))
    );
    let (status, view) = s.call("GET", jwk_rotation, Some(&admin), None);
    assert_eq!(
        (
            status,
            &view["resultItem"]["jwk"],
            view["resultItem"].get("username")
        ),
        (200, &json!("signer"), None)
    );
    assert_eq!(
        s.call(
            "PUT",
            &format!("/apiops/projects/MyProject/jwks/{slot}/rotation/"),
            Some(&admin),
            Some(&policy.to_string())
        ),
        bad(&format!(
            "JWK (name: {slot}) is in a slot of credential (username: api-user): rotate that slot instead!"
        ))
    );
    assert_eq!(
        s.call("DELETE", jwk_rotation, Some(&admin), None),
        (200, deployed(&["production", "staging"]))
    );
    assert_eq!(s.call("GET", jwk_rotation, Some(&admin), None).0, 404);
}

#[test]
fn the_public_jwks_path_is_configurable() {
    let dir = jwk_testkit::temp_dir();
    let admin = bootstrap(dir.path());
    let s = Server::start_with(
        dir.path(),
        &["--public-jwks-path", "/keys/{environment}/jwks.json"],
        std::process::Stdio::null(),
    );
    setup(&s, &admin);
    let ec = json!({"name": "signing", "sourceType": "COPY_PASTE", "jwkStr": json!({"kty": "EC", "crv": "P-256", "kid": "1", "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4", "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}).to_string()}).to_string();
    assert_eq!(
        s.call(
            "POST",
            "/apiops/projects/MyProject/jwks/",
            Some(&admin),
            Some(&ec)
        )
        .0,
        200
    );
    let (status, jwks) = s.call("GET", "/keys/production/jwks.json", None, None);
    assert_eq!(
        (status, common::sorted_kids(&jwks)),
        (200, vec!["1".to_owned()])
    );
    assert_eq!(
        s.call("GET", "/keys/nope/jwks.json", None, None),
        (
            404,
            json!({"error": "not_found", "error_description": "No such JWKS: /keys/{environment}/jwks.json names a memory environment this server serves!"})
        )
    );
    // The default path is not served any more.
    assert_eq!(
        s.call("GET", "/.well-known/jwks/production.json", None, None)
            .0,
        404
    );
    drop(s);
    // Under a segment of the server's own (the console's included): refused before listening.
    for template in ["/apiops/{environment}.json", "/console/{environment}.json"] {
        let out = common::jwkd(dir.path())
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--public-jwks-path",
                template,
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        assert_eq!(
            String::from_utf8_lossy(&out.stderr).trim(),
            format!(
                "error: the public JWKS path ({template}) must have a first segment of its own, not /, /apiops, /console, /healthz, /readyz or /metrics: give one like /.well-known/jwks/{{environment}}.json"
            )
        );
        assert!(!String::from_utf8_lossy(&out.stdout).contains("listening"));
    }
}

#[test]
fn the_public_jwks_max_age_shortens_ahead_of_a_rotations_next_publication() {
    let (_dir, s, admin) = serving();
    assert_eq!(
        s.call(
            "POST",
            "/apiops/projects/MyProject/credentials/",
            Some(&admin),
            Some(r#"{"username":"api-user"}"#)
        )
        .0,
        200
    );
    // The next key is published 40 s after the first one is made.
    let policy = json!({"keyType": "EC", "useType": "SIGNATURE", "algorithm": "ES256", "periodSeconds": 60, "leadSeconds": 20, "overlapSeconds": 30, "maxTokenLifetimeSeconds": 10, "consumerCacheSeconds": 10});
    assert_eq!(
        s.call(
            "PUT",
            "/apiops/projects/MyProject/credentials/api-user/rotation/validation/",
            Some(&admin),
            Some(&policy.to_string())
        )
        .0,
        200
    );
    let agent = common::agent(None);
    let max_age = || -> u64 {
        let response = agent
            .get(format!("{}/.well-known/jwks/production.json", s.base))
            .call()
            .unwrap();
        response.headers()["cache-control"]
            .to_str()
            .unwrap()
            .strip_prefix("public, max-age=")
            .unwrap()
            .parse()
            .unwrap()
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut age = max_age();
    while age == 300 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(100));
        age = max_age();
    }
    assert!((25..=40).contains(&age), "{age}");
}

/// The listings a console starts from: the projects a caller can see with its permissions,
/// and every environment with what its last deployment reported.
#[test]
fn projects_and_environments_are_listed_as_the_caller_may_see_them() {
    let (_dir, s, admin) = serving();
    let all = json!([
        "SECRETS+VIEW",
        "SECRETS+MANAGE",
        "SECRETS+DEPLOY_UNDEPLOY",
        "IDENTITY+VIEW",
        "IDENTITY+MANAGE",
        "IDENTITY+DEPLOY_UNDEPLOY"
    ]);
    assert_eq!(
        s.call("GET", "/apiops/projects/", Some(&admin), None),
        (
            200,
            json!({"success": true, "resultList": [
                {"name": "MyProject", "permissions": all},
                {"name": "admin", "permissions": all}
            ]})
        )
    );
    let alice = common::new_member(&s, &admin, "MyProject", "alice", &["SECRETS+VIEW"]);
    assert_eq!(
        s.call("GET", "/apiops/projects/", Some(&alice), None),
        (
            200,
            json!({"success": true, "resultList": [{"name": "MyProject", "permissions": ["SECRETS+VIEW"]}]})
        )
    );
    assert_eq!(s.call("GET", "/apiops/projects/", None, None).0, 401);

    let ec = json!({"kty": "EC", "crv": "P-256", "kid": "1", "x": "MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4", "y": "4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"});
    let body = json!({"name": "signing", "sourceType": "COPY_PASTE", "jwkStr": ec.to_string()});
    assert_eq!(
        s.call(
            "POST",
            "/apiops/projects/MyProject/jwks/",
            Some(&admin),
            Some(&body.to_string())
        )
        .0,
        200
    );
    let (status, listed) = s.call("GET", "/apiops/environments/", Some(&alice), None);
    assert_eq!(status, 200);
    let environments = listed["resultList"].as_array().unwrap();
    assert_eq!(environments.len(), 2);
    for (env, name) in environments.iter().zip(["production", "staging"]) {
        let deployment = &env["deployment"];
        assert!(deployment["revision"].as_u64().unwrap() > 0, "{env}");
        assert_eq!(
            (
                &env["name"],
                &env["target"],
                &deployment["pending"],
                &deployment["error"],
                &deployment["keys"]
            ),
            (
                &json!(name),
                &json!({"type": "memory"}),
                &json!(false),
                &Value::Null,
                &json!(1)
            )
        );
    }
    assert_eq!(s.call("GET", "/apiops/environments/", None, None).0, 401);

    // A file target's path is the admin's to see.
    let files = jwk_testkit::temp_dir();
    let dir = jwk_testkit::temp_dir();
    let admin = bootstrap(dir.path());
    let s = Server::start_with(
        dir.path(),
        &["--file-target-dir", files.path().to_str().unwrap()],
        std::process::Stdio::null(),
    );
    let edge = json!({"name": "edge", "target": {"type": "file", "path": "edge/jwks.json"}});
    common::setup(&s, &admin, &[edge], "MyProject");
    let bob = common::new_member(&s, &admin, "MyProject", "bob", &["IDENTITY+VIEW"]);
    let target = |token: &str| {
        s.call("GET", "/apiops/environments/", Some(token), None).1["resultList"][0]["target"]
            .clone()
    };
    assert_eq!(
        (target(&admin), target(&bob)),
        (
            json!({"type": "file", "path": "edge/jwks.json"}),
            json!({"type": "file"})
        )
    );
}

/// A JWK's page in the console shows its history (which follows it through a rename) and the
/// credentials that use it, named only where the caller may see credentials.
#[test]
fn a_jwk_has_a_history_and_shows_the_credentials_using_it() {
    let (_dir, s, admin) = serving();
    let post = |path: &str, body: Value| {
        s.call("POST", path, Some(&admin), Some(&body.to_string()))
            .0
    };
    assert_eq!(
        post(
            "/apiops/projects/admin/jwks/",
            json!({"name": "shared", "sourceType": "COPY_PASTE", "jwkStr": OCT})
        ),
        200
    );
    let update = json!({"name": "renamed", "description": "moved"}).to_string();
    assert_eq!(
        s.call(
            "PUT",
            "/apiops/projects/admin/jwks/shared/",
            Some(&admin),
            Some(&update)
        )
        .0,
        200
    );
    let history = |query: &str, token: &str| {
        s.call(
            "GET",
            &format!("/apiops/projects/admin/jwks/renamed/history/{query}"),
            Some(token),
            None,
        )
    };
    let (status, page) = history("", &admin);
    assert_eq!(status, 200, "{page}");
    let entries = page["resultItem"]["entries"].as_array().unwrap();
    let seen: Vec<_> = entries
        .iter()
        .map(|e| (e["actor"].clone(), e["action"].clone(), e["name"].clone()))
        .collect();
    assert_eq!(
        seen,
        [
            (json!("admin"), json!("jwk.update"), json!("renamed")),
            (json!("admin"), json!("jwk.create"), json!("shared")),
        ]
    );
    assert!(entries[0]["at"].as_str().unwrap().ends_with('Z'));
    assert_eq!(page["resultItem"]["more"], json!(false));
    let (status, page) = history("?limit=1", &admin);
    assert_eq!(
        (
            status,
            page["resultItem"]["entries"].as_array().unwrap().len(),
            &page["resultItem"]["more"]
        ),
        (200, 1, &json!(true))
    );
    for limit in ["0", "101"] {
        assert_eq!(
            history(&format!("?limit={limit}"), &admin),
            bad("limit must be between 1 and 100!")
        );
    }
    assert_eq!(history("?limit=many", &admin).0, 400);
    assert_eq!(
        s.call(
            "GET",
            "/apiops/projects/admin/jwks/shared/history/",
            Some(&admin),
            None
        ),
        (
            404,
            json!({"error": "not_found", "error_description": "JWK (name: shared) is not found!"})
        )
    );

    // An admin-project JWK in a MyProject credential's validation slot.
    assert_eq!(
        post(
            "/apiops/projects/MyProject/credentials/",
            json!({"username": "api-user"})
        ),
        200
    );
    assert_eq!(
        s.call(
            "PUT",
            "/apiops/projects/MyProject/credentials/api-user/jwk/validation/renamed/",
            Some(&admin),
            None
        )
        .0,
        200
    );
    let usage = "/apiops/projects/admin/jwks/renamed/credentials/";
    assert_eq!(
        s.call("GET", usage, Some(&admin), None),
        (
            200,
            json!({"success": true, "resultItem": {"credentials": [
                {"project": "MyProject", "username": "api-user", "slots": ["validation"]}
            ], "hidden": 0}})
        )
    );
    // Alice sees the admin project's JWKs, not MyProject's credentials: counted, not named.
    let alice = common::new_member(&s, &admin, "admin", "alice", &["SECRETS+VIEW"]);
    assert_eq!(
        s.call("GET", usage, Some(&alice), None),
        (
            200,
            json!({"success": true, "resultItem": {"credentials": [], "hidden": 1}})
        )
    );
    assert_eq!(history("", &alice).0, 200);
    // Who a token belongs to (the console offers the admin's actions to the admin alone).
    for (token, username, is_admin) in [(&admin, "admin", true), (&alice, "alice", false)] {
        assert_eq!(
            s.call("GET", "/apiops/me/", Some(token), None),
            (
                200,
                json!({"success": true, "resultItem": {"username": username, "admin": is_admin}})
            )
        );
    }
    let bob = common::new_member(&s, &admin, "MyProject", "bob", &["SECRETS+VIEW"]);
    assert_eq!(history("", &bob).0, 404);
}

/// Lists come in pages (`limit`, `after`, `next`) that hold under changes, filtered by name
/// prefix, kid, thumbprint and state; without a page a list is whole, in the product's shape,
/// written page by page; the audit log is the admin's.
#[test]
fn lists_come_in_pages_and_whole_lists_are_streamed() {
    let (_dir, s, admin) = serving();
    let get = |path: &str| s.call("GET", path, Some(&admin), None);
    let post = |path: &str, body: Value| {
        let (status, answer) = s.call("POST", path, Some(&admin), Some(&body.to_string()));
        assert_eq!(status, 200, "{answer}");
    };
    let jwks = "/apiops/projects/MyProject/jwks/";
    for (i, (name, kid)) in [
        ("a1", "x"),
        ("a2", "y"),
        ("a3", "x"),
        ("b1", "y"),
        ("b2", "y"),
    ]
    .into_iter()
    .enumerate()
    {
        let k = format!("{}awgguFyGrWKav7AX4VKUg", ["A", "B", "C", "D", "E"][i]);
        let jwk = json!({"kty": "oct", "kid": kid, "k": k}).to_string();
        post(
            jwks,
            json!({"name": name, "sourceType": "COPY_PASTE", "jwkStr": jwk}),
        );
    }
    assert_eq!(
        s.call(
            "PUT",
            "/apiops/projects/MyProject/jwks/a2/state/",
            Some(&admin),
            Some(r#"{"state":"retired"}"#)
        )
        .0,
        200
    );
    let names = |answer: &Value| -> Vec<String> {
        answer["resultList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let paged = |query: &str| {
        let (status, answer) = get(&format!("{jwks}?{query}"));
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["success"], json!(true));
        (names(&answer), answer["next"].clone())
    };
    assert_eq!(
        paged("limit=2"),
        (vec!["a1".into(), "a2".into()], json!("a2"))
    );
    assert_eq!(
        paged("limit=2&after=a2"),
        (vec!["a3".into(), "b1".into()], json!("b1"))
    );
    assert_eq!(paged("limit=2&after=b1"), (vec!["b2".into()], Value::Null));
    assert_eq!(
        paged("kid=x&limit=10"),
        (vec!["a1".into(), "a3".into()], Value::Null)
    );
    assert_eq!(
        paged("state=retired&limit=10"),
        (vec!["a2".into()], Value::Null)
    );
    assert_eq!(
        paged("namePrefix=b&kid=y&state=active&limit=1"),
        (vec!["b1".into()], json!("b1"))
    );
    // Without a page: the whole list (filtered), with no `next`.
    let (status, whole) = get(&format!("{jwks}?namePrefix=a"));
    assert_eq!(status, 200);
    assert_eq!(
        whole.as_object().unwrap().keys().collect::<Vec<_>>(),
        ["resultList", "success"]
    );
    assert_eq!(names(&whole), ["a1", "a2", "a3"]);
    let (_, all) = get(jwks);
    let (_, first) = get(&format!("{jwks}?limit=3"));
    let (_, second) = get(&format!("{jwks}?after=a3"));
    let mut pages = first["resultList"].as_array().unwrap().clone();
    pages.extend(second["resultList"].as_array().unwrap().clone());
    assert_eq!(all["resultList"], Value::Array(pages));
    // A thumbprint finds nothing among symmetric keys (they have none).
    assert_eq!(paged("thumbprint=abc&limit=5"), (vec![], Value::Null));
    assert_eq!(
        get(&format!("{jwks}?limit=0")),
        bad("limit must be between 1 and 1000!")
    );
    assert_eq!(
        get(&format!("{jwks}?limit=1001")),
        bad("limit must be between 1 and 1000!")
    );
    assert_eq!(
        get(&format!("{jwks}?state=gone")),
        bad("State (gone) is not valid! Use pending, active, retired or disabled.")
    );
    assert_eq!(get(&format!("{jwks}?limit=many")).0, 400);

    // Credentials: more than one page of the streamed whole list (500 a page).
    let credentials = "/apiops/projects/MyProject/credentials/";
    let usernames: Vec<String> = (0..520).map(|i| format!("u{i:03}")).collect();
    for username in &usernames {
        post(credentials, json!({"username": username}));
    }
    let users = |answer: &Value| -> Vec<String> {
        answer["resultList"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["username"].as_str().unwrap().to_owned())
            .collect()
    };
    let (status, whole) = get(credentials);
    assert_eq!(status, 200);
    assert_eq!(users(&whole), usernames);
    assert_eq!(whole.get("next"), None);
    let (_, page) = get(&format!("{credentials}?limit=1000"));
    assert_eq!(
        (users(&page), &page["next"]),
        (usernames.clone(), &Value::Null)
    );
    let (_, page) = get(&format!(
        "{credentials}?usernamePrefix=u51&limit=4&after=u512"
    ));
    assert_eq!(
        (users(&page), &page["next"]),
        (
            vec!["u513".into(), "u514".into(), "u515".into(), "u516".into()],
            &json!("u516")
        )
    );

    // Secrets: an empty page.
    assert_eq!(
        get("/apiops/projects/MyProject/secrets/?limit=5"),
        (
            200,
            json!({"success": true, "resultList": [], "next": null})
        )
    );

    // The audit log, oldest first, from a cursor; the admin's alone.
    let (status, log) = get("/apiops/audit/?limit=2");
    assert_eq!(status, 200, "{log}");
    let entries = log["resultList"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    assert_eq!(log["next"], entries[1]["id"]);
    let (_, whole) = get("/apiops/audit/");
    let all = whole["resultList"].as_array().unwrap();
    assert_eq!(&all[..2], &entries[..]);
    let after = log["next"].as_str().unwrap();
    let (_, next) = get(&format!("/apiops/audit/?after={after}&limit=1"));
    assert_eq!(next["resultList"], json!([all[2].clone()]));
    let creations = all
        .iter()
        .filter(|e| e["action"] == json!("credential.create"))
        .count();
    assert_eq!(creations, 520);
    let alice = common::new_member(&s, &admin, "MyProject", "alice", &["SECRETS+VIEW"]);
    assert_eq!(
        s.call("GET", "/apiops/audit/", Some(&alice), None),
        (
            403,
            json!({"error": "access_denied", "error_description": "Only the admin user can read the audit log!"})
        )
    );
}
