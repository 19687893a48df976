//! The web console in a real browser: the real `jwkd` binary on loopback, Debian's headless
//! Chromium driven by chromedriver through the W3C WebDriver HTTP API (no other client
//! library). Screenshots of the main pages go to `target/console-screenshots/`.
//!
//! Without chromedriver the test says so and passes, unless `JWK_REQUIRE_BROWSER=1`
//! (scripts/test.sh sets it, after installing `chromium` and `chromium-driver`). The same
//! flow runs in Firefox where `firefox-esr` and geckodriver are installed
//! (`apt-get install firefox-esr`, `cargo install geckodriver`); the test command does not
//! install them.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{Server, bootstrap};
use serde_json::{Value, json};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";
const FIREFOX: &str = "/usr/bin/firefox-esr";

/// The browsers the flow runs in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Chromium,
    Firefox,
}

impl Kind {
    /// The WebDriver server and the browser, when both are installed.
    fn installed(self) -> Option<(PathBuf, PathBuf)> {
        let (driver, browser) = match self {
            Kind::Chromium => (Some(PathBuf::from(CHROMEDRIVER)), CHROMIUM),
            Kind::Firefox => (geckodriver(), FIREFOX),
        };
        let driver = driver.filter(|d| d.exists())?;
        Path::new(browser)
            .exists()
            .then(|| (driver, PathBuf::from(browser)))
    }
}

/// geckodriver on the PATH or where `cargo install` puts it.
fn geckodriver() -> Option<PathBuf> {
    let cargo_bin = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".cargo")))
        .map(|home| home.join("bin"));
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .chain(cargo_bin)
        .map(|dir| dir.join("geckodriver"))
        .find(|p| p.exists())
}
/// The W3C name of an element reference in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";
/// How long a page may take to show what a step waits for.
const WAIT: Duration = Duration::from_secs(15);

/// chromedriver on a loopback port, killed when dropped (with the browser it started).
struct Driver {
    kind: Kind,
    browser: PathBuf,
    child: Child,
    base: String,
    agent: ureq::Agent,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Driver {
    fn start(kind: Kind, driver: &Path, browser: PathBuf) -> Driver {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut command = Command::new(driver);
        match kind {
            Kind::Chromium => command.arg(format!("--port={port}")),
            Kind::Firefox => command.args(["--host", "127.0.0.1", "--port", &port.to_string()]),
        };
        let child = command
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let driver = Driver {
            kind,
            browser,
            child,
            base: format!("http://127.0.0.1:{port}"),
            agent: common::agent(None),
        };
        let started = Instant::now();
        loop {
            let ready = driver
                .agent
                .get(format!("{}/status", driver.base))
                .call()
                .ok()
                .and_then(|mut r| r.body_mut().read_to_string().ok())
                .and_then(|text| serde_json::from_str::<Value>(&text).ok())
                .is_some_and(|v| v["value"]["ready"] == json!(true));
            if ready {
                return driver;
            }
            assert!(started.elapsed() < WAIT, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn send(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.try_send(method, path, body)
            .unwrap_or_else(|(status, value)| panic!("{method} {path}: {status} {value}"))
    }

    /// The answer's value, or its status and body (a stale element, say).
    fn try_send(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, (u16, Value)> {
        let url = format!("{}{path}", self.base);
        let answer = match (method, body) {
            ("GET", _) => self.agent.get(&url).call(),
            ("DELETE", _) => self.agent.delete(&url).call(),
            (_, body) => self
                .agent
                .post(&url)
                .header("content-type", "application/json")
                .send(body.unwrap_or(json!({})).to_string()),
        };
        let mut answer = answer.unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = answer.status().as_u16();
        let value: Value =
            serde_json::from_str(&answer.body_mut().read_to_string().unwrap()).unwrap();
        match status {
            200 => Ok(value["value"].clone()),
            _ => Err((status, value)),
        }
    }

    /// A headless browser session with a fresh profile and no background traffic (this
    /// machine's network is closed; the flags and preferences keep it from trying).
    fn session(&self, profile: &Path) -> Browser<'_> {
        let binary = self.browser.to_str().unwrap();
        let capabilities = match self.kind {
            Kind::Chromium => {
                let args = [
                    "--headless",
                    "--no-sandbox",
                    "--disable-gpu",
                    "--disable-dev-shm-usage",
                    "--disable-quic",
                    "--no-first-run",
                    "--disable-background-networking",
                    "--disable-component-update",
                    "--disable-sync",
                    "--disable-extensions",
                    "--window-size=1440,1000",
                    &format!("--user-data-dir={}", profile.display()),
                ];
                json!({
                    "browserName": "chrome",
                    "goog:chromeOptions": {"binary": binary, "args": args},
                    "goog:loggingPrefs": {"browser": "ALL"}
                })
            }
            // geckodriver makes the profile itself; the preferences turn off what would
            // call out.
            Kind::Firefox => json!({
                "browserName": "firefox",
                "moz:firefoxOptions": {
                    "binary": binary,
                    "args": ["-headless", "-width=1440", "-height=1000"],
                    "prefs": {
                        "app.update.enabled": false,
                        "browser.safebrowsing.malware.enabled": false,
                        "browser.safebrowsing.phishing.enabled": false,
                        "browser.shell.checkDefaultBrowser": false,
                        "datareporting.policy.dataSubmissionEnabled": false,
                        "extensions.update.enabled": false,
                        "network.captive-portal-service.enabled": false,
                        "network.connectivity-service.enabled": false,
                        "toolkit.telemetry.enabled": false
                    }
                }
            }),
        };
        let created = self.send(
            "POST",
            "/session",
            Some(json!({"capabilities": {"alwaysMatch": capabilities}})),
        );
        Browser {
            driver: self,
            id: created["sessionId"].as_str().unwrap().to_owned(),
        }
    }
}

struct Browser<'a> {
    driver: &'a Driver,
    id: String,
}

impl Drop for Browser<'_> {
    fn drop(&mut self) {
        let _ = self
            .driver
            .agent
            .delete(format!("{}/session/{}", self.driver.base, self.id))
            .call();
    }
}

impl Browser<'_> {
    fn cmd(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        self.driver
            .send(method, &format!("/session/{}{path}", self.id), body)
    }

    fn open(&self, url: &str) {
        self.cmd("POST", "/url", Some(json!({ "url": url })));
    }

    /// The elements `css` selects now.
    fn all(&self, css: &str) -> Vec<String> {
        self.cmd(
            "POST",
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e[ELEMENT].as_str().unwrap().to_owned())
        .collect()
    }

    /// The first element `css` selects, waiting for it.
    fn find(&self, css: &str) -> String {
        self.until(css, |b, e| b.displayed(e))
    }

    /// Waits until an element `css` selects passes `ok`.
    fn until(&self, css: &str, ok: impl Fn(&Self, &str) -> bool) -> String {
        let started = Instant::now();
        loop {
            if let Some(e) = self.all(css).into_iter().find(|e| ok(self, e)) {
                return e;
            }
            if started.elapsed() > WAIT {
                self.screenshot("failure");
                panic!(
                    "nothing matched {css} in time; the page says:\n{}",
                    self.text_of("body")
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// The text of the first `css` element once it holds `wanted`.
    fn wait_text(&self, css: &str, wanted: &str) -> String {
        let e = self.until(css, |b, e| b.text(e).contains(wanted));
        self.text(&e)
    }

    /// Whether the element shows (false once the page replaced it).
    fn displayed(&self, element: &str) -> bool {
        self.driver
            .try_send(
                "GET",
                &format!("/session/{}/element/{element}/displayed", self.id),
                None,
            )
            .is_ok_and(|v| v == json!(true))
    }

    /// The element's text ("" once the page replaced it).
    fn text(&self, element: &str) -> String {
        self.driver
            .try_send(
                "GET",
                &format!("/session/{}/element/{element}/text", self.id),
                None,
            )
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    fn text_of(&self, css: &str) -> String {
        self.all(css)
            .first()
            .map(|e| self.text(e))
            .unwrap_or_default()
    }

    /// Clicks the element `css` selects, again if the page replaced it meanwhile.
    fn click(&self, css: &str) {
        let started = Instant::now();
        loop {
            let e = self.find(css);
            let path = format!("/session/{}/element/{e}/click", self.id);
            match self.driver.try_send("POST", &path, None) {
                Ok(_) => return,
                Err((_, v)) if v["value"]["error"] == json!("stale element reference") => {
                    assert!(started.elapsed() < WAIT, "{css} kept going stale");
                }
                Err((status, v)) => panic!("click {css}: {status} {v}"),
            }
        }
    }

    /// Replaces what a field holds with `text` (typed as a user would).
    fn fill(&self, css: &str, text: &str) {
        let e = self.find(css);
        self.cmd("POST", &format!("/element/{e}/clear"), None);
        self.cmd(
            "POST",
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        );
    }

    /// Chooses the option of the select `css` whose value is `value`.
    fn choose(&self, css: &str, value: &str) {
        self.click(&format!("{css} option[value=\"{value}\"]"));
    }

    fn run(&self, script: &str) -> Value {
        self.cmd(
            "POST",
            "/execute/sync",
            Some(json!({"script": script, "args": []})),
        )
    }

    /// The rows of the table `css`, each as its cells' text.
    fn rows(&self, css: &str) -> Vec<Vec<String>> {
        let rows = self.run(&format!(
            "return [...document.querySelectorAll('{css} tbody tr')].map(r => [...r.cells].map(c => c.innerText.trim()));"
        ));
        serde_json::from_value(rows).unwrap()
    }

    /// Saves a PNG of the window under target/console-screenshots/.
    fn screenshot(&self, name: &str) -> PathBuf {
        use base64ct::Encoding;
        let png = self.cmd("GET", "/screenshot", None);
        let bytes = base64ct::Base64::decode_vec(png.as_str().unwrap()).unwrap();
        let mut dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/console-screenshots");
        if self.driver.kind == Kind::Firefox {
            dir.push("firefox");
        }
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{name}.png"));
        std::fs::write(&path, bytes).unwrap();
        path
    }

    /// Fails on a script error or a policy violation in the browser's console since the
    /// last call (Chromium; geckodriver has no log endpoint).
    fn assert_no_script_errors(&self) {
        if self.driver.kind == Kind::Firefox {
            return;
        }
        let log: Vec<String> = self
            .cmd("POST", "/se/log", Some(json!({"type": "browser"})))
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["message"].as_str().unwrap_or_default().to_owned())
            .collect();
        assert!(
            !log.iter()
                .any(|m| m.contains("Content Security Policy") || m.contains("Uncaught")),
            "{log:?}"
        );
    }
}

/// The driver and browser of `kind`, or None (said on stderr) when they are not installed;
/// Chromium must be when `JWK_REQUIRE_BROWSER` is set.
fn browser(kind: Kind) -> Option<(PathBuf, PathBuf)> {
    let found = kind.installed();
    if found.is_none() {
        let (what, install) = match kind {
            Kind::Chromium => (
                "chromium and chromedriver",
                "apt-get install chromium chromium-driver; scripts/test.sh does",
            ),
            Kind::Firefox => (
                "firefox-esr and geckodriver",
                "apt-get install firefox-esr; cargo install geckodriver",
            ),
        };
        assert!(
            kind == Kind::Firefox || std::env::var_os("JWK_REQUIRE_BROWSER").is_none(),
            "JWK_REQUIRE_BROWSER is set and {what} are not installed"
        );
        eprintln!("skipped: no {what} ({install})");
    }
    found
}

const EC: &str = r#"{"kty":"EC","crv":"P-256","kid":"sig-1","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM"}"#;

#[test]
fn the_console_signs_in_creates_jwks_from_a_paste_and_a_keystore_and_signs_out() {
    console_flow(Kind::Chromium);
}

#[test]
fn the_console_works_the_same_in_firefox() {
    console_flow(Kind::Firefox);
}

fn console_flow(kind: Kind) {
    let Some((driver_path, browser_path)) = browser(kind) else {
        return;
    };
    let dir = jwk_testkit::temp_dir();
    let admin = bootstrap(dir.path());
    let s = Server::start(dir.path());
    let memory = |name: &str| json!({"name": name, "target": {"type": "memory"}});
    common::setup(
        &s,
        &admin,
        &[memory("production"), memory("staging")],
        "MyProject",
    );
    let console = format!("{}/console/", s.base);
    // The API called directly, beside the browser (a JWK of MyProject created as `token`).
    let post = |token: &str, route: &str, body: Value| {
        s.call(
            "POST",
            &format!("/apiops/projects/MyProject/jwks/{route}"),
            Some(token),
            Some(&body.to_string()),
        )
    };

    // The page's own answers: the policy, no sniffing, never framed.
    let mut page = common::agent(None).get(&console).call().unwrap();
    let headers = page.headers().clone();
    assert_eq!(
        headers["content-security-policy"],
        jwk_engine::server::console::CONTENT_SECURITY_POLICY
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert!(
        page.body_mut()
            .read_to_string()
            .unwrap()
            .contains("/console/app.js")
    );
    // The server's root leads to the console.
    let no_redirects = ureq::Agent::config_builder()
        .max_redirects(0)
        .http_status_as_error(false)
        .build()
        .new_agent();
    let root = no_redirects.get(format!("{}/", s.base)).call().unwrap();
    assert_eq!(
        (
            root.status().as_u16(),
            root.headers()["location"].to_str().unwrap()
        ),
        (303, "/console/")
    );

    let profile = jwk_testkit::temp_dir();
    let driver = Driver::start(kind, &driver_path, browser_path);
    let b = driver.session(profile.path());
    b.open(&console);

    // A wrong token: the API's message next to the field; nothing kept.
    b.find("#token");
    b.screenshot("sign-in");
    let (_, refused) = s.call("GET", "/apiops/me/", Some("jwk_wrong"), None);
    b.fill("#token", "jwk_wrong");
    b.click("#sign-in");
    assert_eq!(
        b.wait_text("#token-error", "token"),
        refused["error_description"].as_str().unwrap()
    );
    assert_eq!(
        b.run("return sessionStorage.getItem('jwkd.token');"),
        Value::Null
    );

    // Signed in: the projects, the token in this tab's session storage and nowhere in the URL.
    b.fill("#token", &admin);
    b.click("#sign-in");
    b.wait_text("#projects", "MyProject");
    assert_eq!(b.text_of("#who"), "Signed in as admin");
    assert_eq!(
        b.run("return [sessionStorage.getItem('jwkd.token'), localStorage.length, location.href];"),
        json!([admin, 0, format!("{console}#/")])
    );
    b.click("#projects a[href='#/p/MyProject']");
    b.wait_text("#jwk-table", "No JWK in this project yet.");

    // Create by pasting: the deployment's environments, then the JWK in the table.
    b.click("#new-jwk");
    b.fill("#name", "signing");
    b.fill("#description", "pasted in the console");
    b.fill("#jwkStr", EC);
    b.choose("#useType", "SIGNATURE");
    b.fill("#algorithm", "ES256");
    b.click("#create-jwk");
    b.wait_text("#flash", "JWK signing created.");
    assert_eq!(
        b.rows("#deployment"),
        [
            ["production", "deployed", "Deployed successfully"],
            ["staging", "deployed", "Deployed successfully"]
        ]
    );
    let (_, listed) = s.call(
        "GET",
        "/apiops/projects/MyProject/jwks/",
        Some(&admin),
        None,
    );
    let thumbprint = listed["resultList"][0]["thumbprint"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        b.rows("#jwk-table"),
        [[
            "signing",
            "sig-1",
            "EC P-256",
            "SIGNATURE",
            "ES256",
            "COPY_PASTE",
            &format!("{}…", &thumbprint[..16]),
            "",
            "active",
            "deployed"
        ]]
    );

    // The same name again: the product's message next to the name field.
    b.click("#new-jwk");
    b.fill("#name", "signing");
    b.fill("#jwkStr", EC);
    b.click("#create-jwk");
    assert_eq!(
        b.wait_text("#name-error", "already"),
        "JWK (name: signing) is already exist! Try update operation if want to change its value."
    );
    b.screenshot("duplicate-name");
    // A set of two keys without a kid chosen: the core's message under the kid field.
    let set = format!(r#"{{"keys":[{EC},{}]}}"#, EC.replace("sig-1", "sig-2"));
    b.fill("#name", "from-a-set");
    b.fill("#jwkStr", &set);
    b.click("#create-jwk");
    let (_, refused) = post(
        &admin,
        "",
        json!({"name": "from-a-set", "sourceType": "COPY_PASTE", "jwkStr": set}),
    );
    assert_eq!(refused["code"], json!("jwks.kid_required"));
    assert_eq!(
        b.wait_text("#kid-error", "kid"),
        refused["error_description"].as_str().unwrap()
    );

    // A keystore: uploaded, its aliases offered, one picked.
    b.choose("#sourceType", "KEYSTORE");
    b.fill("#name", "from-keystore");
    b.fill("#secretName", "gateway-keystore");
    b.choose("#secretEnvironment", "production");
    let keystore =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/keystores/keytool-multi.p12");
    let file = b.find("#keystoreFile");
    b.cmd(
        "POST",
        &format!("/element/{file}/value"),
        Some(json!({"text": keystore.to_str().unwrap()})),
    );
    b.fill("#secretPassword", "wrong");
    b.click("#upload-secret");
    let wrong = b.wait_text("#secretPassword-error", "password");
    assert!(wrong.contains("password"), "{wrong}");
    b.fill("#secretPassword", "changeit");
    b.click("#upload-secret");
    assert_eq!(
        b.wait_text("#secret-stored", "Stored"),
        "Stored keystore gateway-keystore (production)."
    );
    let aliases = b.run(
        "return [...document.querySelectorAll('#aliasName option')].map(o => o.value).filter(Boolean);",
    );
    assert_eq!(aliases, json!(["rsa-signing", "ec-p256", "trusted-ca"]));
    b.choose("#aliasName", "rsa-signing");
    b.choose("#useType", "SIGNATURE");
    b.fill("#algorithm", "RS256");
    b.screenshot("create-from-keystore");
    b.click("#create-jwk");
    b.wait_text("#flash", "JWK from-keystore created.");
    let rows = b.rows("#jwk-table");
    assert_eq!(rows.len(), 2);
    assert_eq!(
        rows[0][..6],
        [
            "from-keystore",
            "",
            "RSA 2048",
            "SIGNATURE",
            "RS256",
            "KEYSTORE"
        ]
    );
    b.screenshot("jwk-created");

    // Sorting and filtering the table.
    b.click("#jwk-table th[data-key='name'] button");
    assert_eq!(b.rows("#jwk-table")[0][0], "signing");
    b.fill("#jwk-table-filter", "ES256");
    assert_eq!(b.rows("#jwk-table").len(), 1);
    assert_eq!(b.text_of("#jwk-table-count"), "1 of 2");

    // The JWK's page: its public JWK, thumbprint, source, history.
    b.click("#jwk-table a[href='#/p/MyProject/jwk/signing']");
    b.find("#jwk-json");
    let shown: Value = serde_json::from_str(&b.text_of("#jwk-json")).unwrap();
    let mut public: Value = serde_json::from_str(EC).unwrap();
    public["use"] = json!("sig");
    public["alg"] = json!("ES256");
    assert_eq!(shown, public);
    assert_eq!(b.text_of("#thumbprint"), thumbprint);
    assert_eq!(b.text_of("#source"), "COPY_PASTE");
    assert_eq!(b.rows("#history").len(), 1);
    assert_eq!(
        b.rows("#history")[0][1..],
        ["admin", "jwk.create", "signing"]
    );
    assert_eq!(b.text_of("#usage"), "No credential you can see uses it.");
    b.screenshot("jwk-page");

    // Credential slots: set (a refusal shown next to its slot), used, removed.
    b.click(".crumbs a[href='#/p/MyProject']");
    b.click(".tabs a[href='#/p/MyProject/credentials']");
    b.fill("#username", "api-user");
    b.click("#create-credential");
    b.wait_text("#flash", "Credential api-user created.");
    let slot = |name: &str| format!("slot-api-user-{name}");
    b.fill(
        &format!("input[data-slot-input='{}']", slot("encryption")),
        "signing",
    );
    b.click(&format!("button[data-set='{}']", slot("encryption")));
    assert_eq!(
        b.wait_text(&format!("#{}-error", slot("encryption")), "signing"),
        "JWK (name: signing) is for signatures (use: sig): the encryption slot takes a JWK whose use is enc or not set!"
    );
    b.fill(
        &format!("input[data-slot-input='{}']", slot("validation")),
        "signing",
    );
    b.click(&format!("button[data-set='{}']", slot("validation")));
    b.wait_text(
        "#flash",
        "Credential api-user: validation slot set to signing.",
    );
    let row = &b.rows("#credential-table")[0];
    assert_eq!(row[0], "api-user");
    assert!(row[1].starts_with("signing"), "{row:?}");
    b.screenshot("credentials");
    b.open(&format!("{console}#/p/MyProject/jwk/signing"));
    assert_eq!(
        b.wait_text("#usage", "api-user"),
        "MyProject / api-user: validation"
    );
    b.open(&format!("{console}#/p/MyProject/credentials"));
    b.click(&format!("button[data-remove='{}']", slot("validation")));
    b.wait_text("#flash", "Credential api-user: validation slot emptied.");
    assert!(b.rows("#credential-table")[0][1].starts_with("empty"));

    // Environments: what each serves.
    b.click("#nav a[href='#/environments']");
    b.wait_text("#environment-table", "production");
    let environments = b.rows("#environment-table");
    assert_eq!(environments.len(), 2);
    for (row, name) in environments.iter().zip(["production", "staging"]) {
        assert_eq!(
            (row[0].as_str(), row[1].as_str(), row[3].as_str()),
            (name, "memory", "up to date")
        );
        assert_eq!(row[4], "2", "the public keys it serves: {row:?}");
    }
    assert_eq!(b.text_of("#pending"), "Nothing is waiting to be deployed.");
    b.screenshot("environments");

    // The table as it is opened, with generated keys of two more kinds (the README's
    // screenshot: docs/console-jwk-table.png, taken from this one).
    for body in [
        json!({"name": "edge-eddsa", "keyType": "OKP", "curve": "Ed25519", "useType": "SIGNATURE", "algorithm": "EdDSA"}),
        json!({"name": "hmac-internal", "keyType": "OCT", "keySize": 256, "useType": "SIGNATURE", "algorithm": "HS256"}),
    ] {
        let (status, answer) = post(&admin, "generate/", body);
        assert_eq!(status, 200, "{answer}");
    }
    b.open(&format!("{console}#/p/MyProject"));
    b.wait_text("#jwk-table-count", "4 in all");
    let kinds: Vec<String> = b.rows("#jwk-table").iter().map(|r| r[2].clone()).collect();
    assert_eq!(kinds, ["OKP Ed25519", "RSA 2048", "oct", "EC P-256"]);
    b.cmd(
        "POST",
        "/window/rect",
        Some(json!({"width": 1280, "height": 600})),
    );
    b.screenshot("jwk-table");
    b.cmd(
        "POST",
        "/window/rect",
        Some(json!({"width": 1440, "height": 1000})),
    );

    // No script or policy error in the browser's console all along.
    b.assert_no_script_errors();

    // The other sources. A URL the fetch refuses: the API's message under the URL field.
    b.click("#new-jwk");
    b.choose("#sourceType", "URL");
    b.fill("#name", "remote");
    b.fill("#url", "ftp://127.0.0.1/jwks.json");
    b.click("#create-jwk");
    let (_, refused) = post(
        &admin,
        "",
        json!({"name": "remote", "sourceType": "URL", "url": "ftp://127.0.0.1/jwks.json"}),
    );
    let message = refused["error_description"].as_str().unwrap();
    assert_eq!(b.wait_text("#url-error", "ftp"), message);
    // A certificate stored from a PEM file, then the JWK from it.
    b.choose("#sourceType", "CERTIFICATE");
    b.fill("#name", "partner");
    b.fill("#secretName", "partner-cert");
    let pem = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata/samples/p256-cert.pem");
    let file = b.find("#pemFile");
    b.cmd(
        "POST",
        &format!("/element/{file}/value"),
        Some(json!({"text": pem.to_str().unwrap()})),
    );
    b.until("#pem", |b, _| {
        b.run("return document.querySelector('#pem').value.startsWith('-----BEGIN CERTIFICATE-----');")
            == json!(true)
    });
    b.click("#upload-secret");
    assert_eq!(
        b.wait_text("#secret-stored", "Stored"),
        "Stored certificate partner-cert (production)."
    );
    b.choose("#useType", "SIGNATURE");
    b.fill("#algorithm", "ES256");
    b.click("#create-jwk");
    b.wait_text("#flash", "JWK partner created.");
    // Generated from the form.
    b.click("#new-jwk");
    b.choose("#sourceType", "GENERATE");
    b.fill("#name", "generated-p384");
    b.choose("#keyType", "EC");
    b.choose("#curve", "P-384");
    b.choose("#useType", "SIGNATURE");
    b.fill("#algorithm", "ES384");
    b.click("#create-jwk");
    b.wait_text("#flash", "JWK generated-p384 created.");
    let kinds: Vec<(String, String)> = b
        .rows("#jwk-table")
        .iter()
        .map(|r| (r[0].clone(), format!("{} {} {}", r[2], r[4], r[5])))
        .filter(|(name, _)| name == "partner" || name == "generated-p384")
        .collect();
    assert_eq!(
        kinds,
        [
            (
                "generated-p384".to_owned(),
                "EC P-384 ES384 GENERATE".to_owned()
            ),
            (
                "partner".to_owned(),
                "EC P-256 ES256 CERTIFICATE".to_owned()
            )
        ]
    );

    // Update: detaches from the source (said before saving); the history shows it.
    b.open(&format!("{console}#/p/MyProject/jwk/partner"));
    b.click("#edit-jwk");
    assert!(
        b.wait_text("#detach-warning", "detaches")
            .contains("(CERTIFICATE)")
    );
    b.fill("#description", "kept after the certificate's renewal");
    b.click("#update-jwk");
    b.wait_text("#flash", "JWK partner updated.");
    let source = b.text_of("#source");
    assert!(source.starts_with("detached since 20"), "{source}");
    let actions: Vec<String> = b.rows("#history").iter().map(|r| r[2].clone()).collect();
    assert_eq!(actions, ["jwk.update", "jwk.create"]);

    // Its state: retired, still served for verification.
    b.choose("#state", "retired");
    b.click("#set-state");
    b.wait_text("#flash", "JWK partner is retired.");
    assert_eq!(b.text_of("#jwk-state"), "retired");
    assert_eq!(b.rows("#history")[0][2], "jwk.state.retired");
    b.screenshot("jwk-retired");

    // The copy button: copied, or (without clipboard access) selected for the user.
    b.click("#copy-jwk");
    let copied = b.until("#copied", |b, e| !b.text(e).is_empty());
    assert!(
        ["Copied.", "Selected: press Ctrl+C to copy."].contains(&b.text(&copied).as_str()),
        "{}",
        b.text(&copied)
    );

    // A change saved by a user without SECRETS+DEPLOY_UNDEPLOY waits; the admin deploys it
    // from the environments page, then deletes it (a second click confirms).
    let editor = common::new_member(&s, &admin, "MyProject", "editor", &["SECRETS+MANAGE"]);
    let draft =
        json!({"name": "draft", "keyType": "EC", "useType": "SIGNATURE", "algorithm": "ES256"});
    let (status, answer) = post(&editor, "generate/", draft);
    assert_eq!(status, 200, "{answer}");
    b.click("#nav a[href='#/environments']");
    assert_eq!(
        b.wait_text("#pending", "draft"),
        "MyProject / JWK draft Deploy"
    );
    b.screenshot("pending");
    b.click("button[data-deploy='draft']");
    b.wait_text("#flash", "JWK draft deployed.");
    assert_eq!(b.text_of("#pending"), "Nothing is waiting to be deployed.");
    b.click("#redeploy");
    b.wait_text(
        "#flash",
        "Redeployed the approved versions to every environment.",
    );
    b.open(&format!("{console}#/p/MyProject/jwk/draft"));
    b.click("#delete-jwk");
    assert_eq!(b.text_of("#delete-jwk"), "Click again to delete draft");
    b.click("#delete-jwk");
    b.wait_text("#flash", "JWK draft deleted.");
    assert!(!b.text_of("#jwk-table").contains("draft"));
    b.assert_no_script_errors();
    // The policy is enforced, and the check above would see it: an inline script put in
    // the page does not run, and the browser says why.
    if kind == Kind::Chromium {
        b.run(
            "const s = document.createElement('script'); s.textContent = 'window.ran = true'; document.body.append(s);",
        );
        assert_eq!(b.run("return window.ran === true;"), json!(false));
        let log = b.cmd("POST", "/se/log", Some(json!({"type": "browser"})));
        assert!(log.to_string().contains("Content Security Policy"), "{log}");
    }

    // Sign out: the token is gone; a page of the console asks to sign in again.
    b.click("#sign-out");
    assert_eq!(
        b.wait_text("#signed-out", "signed out"),
        "You are signed out."
    );
    assert_eq!(
        b.run("return sessionStorage.getItem('jwkd.token');"),
        Value::Null
    );
    b.open(&format!("{console}#/p/MyProject"));
    b.find("#token");
    assert_eq!(b.all("#jwk-table").len(), 0);

    // A user who may only view JWKs is offered nothing else.
    let viewer = common::new_member(&s, &admin, "MyProject", "viewer", &["SECRETS+VIEW"]);
    b.fill("#token", &viewer);
    b.click("#sign-in");
    // The link opened while signed out leads where it pointed.
    b.wait_text("#jwk-table", "signing");
    assert_eq!(b.text_of("#who"), "Signed in as viewer");
    assert_eq!(b.all("#new-jwk").len(), 0);
    assert_eq!(b.all(".tabs a").len(), 1, "no Credentials tab");
    b.open(&format!("{console}#/p/MyProject/jwk/signing"));
    b.find("#jwk-json");
    assert_eq!(
        b.all("#edit-jwk").len() + b.all("#set-state").len() + b.all("#delete-jwk").len(),
        0
    );
    b.click("#nav a[href='#/environments']");
    b.wait_text("#environment-table", "production");
    assert_eq!(b.all("#redeploy").len(), 0);
    b.click("#nav a[href='#/']");
    b.wait_text("#projects", "SECRETS+VIEW");
    assert_eq!(b.rows("#projects"), [["MyProject", "SECRETS+VIEW"]]);
    b.click("#sign-out");

    // A user who may only view credentials lands on them, with nothing to change.
    let auditor = common::new_member(&s, &admin, "MyProject", "auditor", &["IDENTITY+VIEW"]);
    b.fill("#token", &auditor);
    b.click("#sign-in");
    b.click("#projects a[href='#/p/MyProject/credentials']");
    b.wait_text("#credential-table", "api-user");
    assert_eq!(b.all(".tabs a").len(), 1, "no JWKs tab");
    assert_eq!(
        b.all("#credential-form").len() + b.all("[data-set]").len(),
        0
    );
    b.open(&format!("{console}#/p/MyProject"));
    b.wait_text("#credential-table", "api-user");
    b.click("#sign-out");
    b.find("#token");
}
