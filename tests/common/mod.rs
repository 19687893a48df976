//! The real `jwkd` binary on a loopback port, driven over HTTP (shared by the test files).

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::{Value, json};

pub struct Server {
    pub child: Child,
    pub base: String,
}

/// An HTTP(S) client for the tests: statuses are answers, not errors; no proxy; trusting
/// the CA `ca` (DER) alone when given, else the Mozilla roots.
pub fn agent(ca: Option<&[u8]>) -> ureq::Agent {
    use ureq::tls::{Certificate, RootCerts, TlsConfig};
    let roots = match ca {
        Some(der) => RootCerts::Specific(std::sync::Arc::new(vec![
            Certificate::from_der(der).to_owned(),
        ])),
        None => RootCerts::WebPki,
    };
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .proxy(None)
        .tls_config(TlsConfig::builder().root_certs(roots).build())
        .build()
        .new_agent()
}

pub fn jwkd(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_jwkd"));
    c.arg("--data-dir").arg(data).env("RUST_LOG", "warn");
    c
}

pub fn bootstrap(data: &Path) -> String {
    let out = jwkd(data).arg("bootstrap").output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let token = String::from_utf8(out.stdout).unwrap();
    assert_eq!(token.lines().count(), 1, "the token alone on stdout");
    token.trim().to_owned()
}

impl Server {
    pub fn start(data: &Path) -> Server {
        Server::start_logging(data, Stdio::null())
    }

    pub fn start_logging(data: &Path, stderr: Stdio) -> Server {
        Server::start_with(data, &[], stderr)
    }

    /// Starts `jwkd --data-dir DATA serve --listen 127.0.0.1:0 --allow-private-networks ARGS…`.
    pub fn start_with(data: &Path, args: &[&str], stderr: Stdio) -> Server {
        let mut child = jwkd(data)
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--allow-private-networks",
            ])
            .args(args)
            .env("RUST_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(stderr)
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("listening on ")
            .expect("listening line")
            .to_owned();
        Server { child, base }
    }

    pub fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, Value) {
        let (status, _, value) = self.call_with_headers(method, path, token, body);
        (status, value)
    }

    /// [`Server::call`], with the response headers.
    pub fn call_with_headers(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
    ) -> (u16, ureq::http::HeaderMap, Value) {
        let agent = agent(None);
        let url = format!("{}{path}", self.base);
        let auth = token.map(|t| format!("Bearer {t}"));
        let response = match (method, body) {
            ("GET", _) => with_auth(agent.get(&url), &auth).call(),
            ("DELETE", _) => with_auth(agent.delete(&url), &auth).call(),
            ("POST", b) => with_auth(agent.post(&url), &auth)
                .header("Content-Type", "application/json")
                .send(b.unwrap_or("")),
            ("PUT", b) => with_auth(agent.put(&url), &auth)
                .header("Content-Type", "application/json")
                .send(b.unwrap_or("")),
            _ => unreachable!(),
        };
        let mut response = response.unwrap();
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.body_mut().read_to_string().unwrap();
        (
            status,
            headers,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub fn sigterm(mut self) -> std::process::ExitStatus {
        Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        self.child.wait().unwrap()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn with_auth<B>(req: ureq::RequestBuilder<B>, auth: &Option<String>) -> ureq::RequestBuilder<B> {
    match auth {
        Some(a) => req.header("Authorization", a),
        None => req,
    }
}

/// The product's success body when every listed environment was deployed.
pub fn deployed(envs: &[&str]) -> Value {
    json!({
        "success": true,
        "deploymentResult": {
            "success": true,
            "message": "Deployment completed successfully",
            "environmentResults": envs.iter().map(|e| json!({
                "environmentName": e, "success": true, "message": "Deployed successfully"
            })).collect::<Vec<_>>()
        }
    })
}

/// Creates the environments (each a `{"name","target"}` body) and the project, as admin.
pub fn setup(s: &Server, admin: &str, envs: &[Value], project: &str) {
    for env in envs {
        assert_eq!(
            s.call(
                "POST",
                "/apiops/environments/",
                Some(admin),
                Some(&env.to_string())
            ),
            (200, json!({"success": true}))
        );
    }
    assert_eq!(
        s.call(
            "POST",
            "/apiops/projects/",
            Some(admin),
            Some(&json!({ "name": project }).to_string())
        ),
        (200, json!({"success": true}))
    );
}

/// Creates the user `username` as admin; its token.
pub fn new_user(s: &Server, admin: &str, username: &str) -> String {
    let (status, user) = s.call(
        "POST",
        "/apiops/users/",
        Some(admin),
        Some(&json!({ "username": username }).to_string()),
    );
    assert_eq!(status, 200, "{user}");
    user["token"].as_str().unwrap().to_owned()
}

/// Creates the user `username` as admin, a member of `project` with `permissions`; its token.
pub fn new_member(
    s: &Server,
    admin: &str,
    project: &str,
    username: &str,
    permissions: &[&str],
) -> String {
    let token = new_user(s, admin, username);
    assert_eq!(
        s.call(
            "PUT",
            &format!("/apiops/projects/{project}/members/{username}/"),
            Some(admin),
            Some(&json!({ "permissions": permissions }).to_string())
        ),
        (200, json!({"success": true}))
    );
    token
}

/// The kids of a JWKS body, sorted.
pub fn sorted_kids(jwks: &Value) -> Vec<String> {
    let mut kids: Vec<String> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_owned())
        .collect();
    kids.sort();
    kids
}
