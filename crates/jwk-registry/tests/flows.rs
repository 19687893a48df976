//! The product's flows over the in-memory store: every source type, names, credentials,
//! permissions, deployment, with the product's exact messages.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use jwk_core::{KeySpec, KidType, Usage};
use jwk_registry::TargetConfig;
use jwk_registry::deploy::{BoxFuture, DeployError, EnvironmentSnapshot, Receipt};
use jwk_registry::perm::Permission;
use jwk_registry::store::{MemoryStore, Store};
use jwk_registry::{
    Actor, Command, DeployTarget, DeploymentResult, JwkUpdate, KeyKind, MasterKey, NewCertificate,
    NewJwk, NewKey, NewKeystore, Outcome, Pending, Registry, RegistryConfig, RegistryError, Slot,
    Source, UrlOptions,
};
use jwk_testkit::registry::Fixture;
use jwk_testkit::{openssl, read, temp_dir};

const P: &str = "MyProject";
const OCT: &str = r#"{"kty":"oct","kid":"k1","k":"GawgguFyGrWKav7AX4VKUg"}"#;
const EC: &str = r#"{"kty":"EC","crv":"P-256","kid":"ec1","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","d":"870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"}"#;

fn fixture() -> Fixture {
    fixture_with(RegistryConfig::default())
}

/// The project `P` and two memory environments, `production` and `staging`, on the system
/// clock (certificates are made as the tests go).
fn fixture_with(config: RegistryConfig) -> Fixture {
    Fixture::setup()
        .system_clock()
        .config(config)
        .project(P)
        .memory("production")
        .memory("staging")
        .build()
}

/// Applies a command through the registry's one entry point.
fn run(reg: &Arc<Registry>, actor: &Actor, command: Command) -> Result<Outcome, RegistryError> {
    rt().block_on(reg.apply(actor, command))
}

fn project(name: &str) -> Command {
    Command::CreateProject { name: name.into() }
}

fn environment(name: &str, target: TargetConfig) -> Command {
    Command::CreateEnvironment {
        name: name.into(),
        target,
    }
}

/// Create JWK in project `P`.
fn create(jwk: NewJwk) -> Command {
    create_in(P, jwk)
}

fn create_in(project: &str, jwk: NewJwk) -> Command {
    Command::CreateJwk {
        project: project.into(),
        jwk,
    }
}

fn paste(name: &str, jwk: &str) -> NewJwk {
    NewJwk::new(
        name,
        Source::Paste {
            jwk: jwk.into(),
            kid: None,
        },
    )
}

fn update(name: &str, update: JwkUpdate) -> Command {
    Command::UpdateJwk {
        project: P.into(),
        name: name.into(),
        update,
    }
}

fn delete(project: &str, name: &str) -> Command {
    Command::DeleteJwk {
        project: project.into(),
        name: name.into(),
    }
}

fn deploy_jwk(name: &str) -> Command {
    Command::DeployJwk {
        project: P.into(),
        name: name.into(),
    }
}

fn credential(project: &str, username: &str) -> Command {
    Command::CreateCredential {
        project: project.into(),
        username: username.into(),
    }
}

fn slot(project: &str, username: &str, slot: Slot, jwk: Option<&str>) -> Command {
    Command::SetCredentialJwk {
        project: project.into(),
        username: username.into(),
        slot,
        jwk: jwk.map(str::to_owned),
    }
}

fn user(username: &str) -> Command {
    Command::CreateUser {
        username: username.into(),
    }
}

fn member(project: &str, username: &str, permissions: Vec<Permission>) -> Command {
    Command::SetMember {
        project: project.into(),
        username: username.into(),
        permissions,
    }
}

/// The deployment of an outcome.
fn deployment(outcome: Outcome) -> DeploymentResult {
    outcome.deployment.expect("the change deploys")
}

/// The status the API answers for a class of failure (a short way to write the class).
fn status(kind: jwk_registry::ErrorKind) -> u16 {
    use jwk_registry::ErrorKind::*;
    match kind {
        BadRequest => 400,
        Unauthorized => 401,
        Forbidden => 403,
        NotFound => 404,
        Unavailable => 503,
        _ => 500,
    }
}

fn err<T: std::fmt::Debug>(r: Result<T, jwk_registry::RegistryError>) -> (u16, String) {
    let e = r.unwrap_err();
    (status(e.kind()), e.message())
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn create_deploys_to_every_environment_with_the_products_body() {
    let f = fixture();
    let outcome = f.admin(create(paste("my-jwk", OCT))).unwrap();
    // The outcome names the revision its own commit made.
    assert_eq!(outcome.revision, Some(f.reg.content_revision().unwrap()));
    let deployed = |environment: &str| jwk_registry::deploy::EnvironmentResult {
        environment_name: environment.into(),
        success: true,
        message: "Deployed successfully".into(),
    };
    assert_eq!(
        outcome.deployment,
        Some(DeploymentResult {
            success: true,
            message: "Deployment completed successfully".into(),
            environment_results: vec![deployed("production"), deployed("staging")],
        })
    );
    assert_eq!((outcome.resync, outcome.token), (None, None));
    let resolver = f.reg.resolver("production");
    let by_name = resolver.by_name(P, "my-jwk").unwrap();
    assert_eq!(
        by_name.to_json(),
        r#"{"kty":"oct","k":"GawgguFyGrWKav7AX4VKUg","kid":"k1"}"#
    );
    assert!(Arc::ptr_eq(&by_name, &resolver.by_kid("k1").unwrap()));
    let t = by_name.thumbprint(jwk_core::ThumbprintHash::Sha256);
    assert!(resolver.by_thumbprint(&t).is_some());
    // The stored receipt never counts a symmetric key (never published).
    assert_eq!(f.reg.deployment_state("staging").unwrap().unwrap().keys, 0);
    assert_eq!(resolver.public_key_count(), 0);
    f.admin(create(paste("ec", EC))).unwrap();
    assert_eq!(f.reg.deployment_state("staging").unwrap().unwrap().keys, 1);
    assert_eq!(resolver.public_key_count(), 1);
}

#[test]
fn create_checks_in_the_products_order_with_its_messages() {
    let f = fixture();
    f.admin(create(paste("my-jwk", OCT))).unwrap();
    let r = |jwk: NewJwk| err(f.admin(create(jwk)));
    let url = |name: &str| {
        NewJwk::new(
            name,
            Source::Url {
                url: String::new(),
                options: UrlOptions::default(),
                kid: None,
                follow: None,
            },
        )
    };
    let secret = |name: &str, environment: &str| (name.to_owned(), environment.to_owned());
    let certificate = |(name, environment): (String, String)| {
        NewJwk::new("other", Source::Certificate { name, environment })
    };
    let keystore = |(name, environment): (String, String), alias: &str| {
        NewJwk::new(
            "other",
            Source::Keystore {
                name,
                environment,
                alias: alias.into(),
            },
        )
    };
    let cases = [
        (url(""), "JWK name can not be empty!"),
        (url("  "), "JWK name can not be empty!"),
        (
            url("my-jwk"),
            "JWK (name: my-jwk) is already exist! Try update operation if want to change its value.",
        ),
        (url("other"), "URL is required for URL source type!"),
        (
            paste("other", " "),
            "JWK string is required for COPY_PASTE source type!",
        ),
        (
            certificate(secret("", "")),
            "Certificate name is required for CERTIFICATE source type!",
        ),
        (
            certificate(secret("my-certificate", "")),
            "Environment name is required for CERTIFICATE source type!",
        ),
        (
            certificate(secret("my-certificate", "qa")),
            "Environment (name: qa) is not found!",
        ),
        (
            certificate(secret("my-certificate", "production")),
            "Certificate (name: my-certificate) is not found!",
        ),
        (
            NewJwk::new(
                "other",
                Source::PublicKey {
                    name: String::new(),
                    environment: String::new(),
                },
            ),
            "Key name is required for PUBLIC_KEY source type!",
        ),
        (
            NewJwk::new(
                "other",
                Source::PrivateKey {
                    name: "k".into(),
                    environment: "production".into(),
                },
            ),
            "Key (name: k) is not found!",
        ),
        (
            keystore(secret("", ""), ""),
            "Keystore name is required for KEYSTORE source type!",
        ),
        (
            keystore(secret("ks", "production"), " "),
            "Alias name is required for KEYSTORE source type!",
        ),
        (
            keystore(secret("ks", "production"), "a"),
            "Keystore (name: ks) is not found!",
        ),
        (
            paste("other", OCT).usage(Usage::Signature, "RSA"),
            "algorithm must be a valid algorithm name, not a key type",
        ),
        (paste("other", r#"{"keys":[]}"#), "the JWK Set has no keys"),
    ];
    for (jwk, message) in cases {
        assert_eq!(r(jwk), (400, message.to_owned()));
    }
    // Key material keeps the core's stable code.
    let e = f
        .admin(create(paste("other", r#"{"keys":[]}"#)))
        .unwrap_err();
    assert_eq!(
        (e.code(), e.kind()),
        ("jwks.empty", jwk_registry::ErrorKind::BadRequest)
    );
}

/// Writes a self-signed RSA certificate, its key (plain and encrypted) and a PKCS#12.
fn secrets_fixture(d: &std::path::Path) {
    openssl(
        d,
        &[
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "k.pem", "-subj",
            "/CN=api", "-days", "2", "-out", "c.pem",
        ],
    );
    openssl(
        d,
        &[
            "pkcs8", "-topk8", "-in", "k.pem", "-passout", "pass:kpw", "-out", "ek.pem",
        ],
    );
    openssl(d, &["pkey", "-in", "k.pem", "-pubout", "-out", "p.pem"]);
    openssl(
        d,
        &[
            "pkcs12",
            "-export",
            "-inkey",
            "k.pem",
            "-in",
            "c.pem",
            "-name",
            "signing",
            "-passout",
            "pass:kspw",
            "-out",
            "ks.p12",
        ],
    );
}

/// genpkey arguments of a 2048-bit RSA key and of a P-256 key.
const RSA2048: &[&str] = &["-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"];
const P256: &[&str] = &["-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256"];

/// A new key pair and a self-signed certificate for it: `<name>.key`, `<name>.crt` in `d`.
fn new_certificate(d: &std::path::Path, name: &str, key: &[&str], subject: &str) {
    jwk_testkit::openssl_key_pair(d, name, key);
    jwk_testkit::openssl_self_signed(d, name, subject);
}

fn text(d: &std::path::Path, n: &str) -> String {
    String::from_utf8(read(d, n)).unwrap()
}

#[test]
fn every_secrets_store_source() {
    let f = fixture();
    let dir = temp_dir();
    let d = dir.path();
    secrets_fixture(d);
    let env = "production".to_owned();
    let certificate = || Command::AddCertificate {
        project: P.into(),
        certificate: NewCertificate {
            name: "my-certificate".into(),
            environment: env.clone(),
            pem: text(d, "c.pem"),
        },
    };
    let outcome = f.admin(certificate()).unwrap();
    // The secrets store is not served: nothing is deployed.
    assert_eq!(
        (outcome.revision, outcome.deployment),
        (Some(f.reg.content_revision().unwrap()), None)
    );
    assert_eq!(
        err(f.admin(certificate())),
        (
            400,
            "Certificate (name: my-certificate) is already exist!".to_owned()
        )
    );
    let key = |name: &str, kind: KeyKind, pem: &str, password: Option<&str>| Command::AddKey {
        project: P.into(),
        key: NewKey {
            name: name.into(),
            environment: env.clone(),
            kind,
            pem: text(d, pem),
            password: password.map(str::to_owned),
        },
    };
    f.admin(key("pub", KeyKind::Public, "p.pem", None)).unwrap();
    f.admin(key("priv", KeyKind::Private, "ek.pem", Some("kpw")))
        .unwrap();
    assert_eq!(
        err(f.admin(key("x", KeyKind::Public, "k.pem", None))),
        (
            400,
            "Key (name: x) is a private key; add it with keyType PRIVATE!".to_owned()
        )
    );
    f.admin(Command::AddKeystore {
        project: P.into(),
        keystore: NewKeystore {
            name: "ks".into(),
            environment: env.clone(),
            content: read(d, "ks.p12"),
            password: Some("kspw".into()),
        },
    })
    .unwrap();

    let with = |name: &str, source: Source| {
        create(NewJwk::new(name, source).usage(Usage::Signature, "RS256"))
    };
    let cert = || Source::Certificate {
        name: "my-certificate".into(),
        environment: env.clone(),
    };
    let keystore = |alias: &str| Source::Keystore {
        name: "ks".into(),
        environment: env.clone(),
        alias: alias.into(),
    };
    f.admin(with("from-cert", cert())).unwrap();
    f.admin(with("from-cert-2", cert())).unwrap();
    let pubkey = Source::PublicKey {
        name: "pub".into(),
        environment: env.clone(),
    };
    f.admin(with("from-pub", pubkey)).unwrap();
    let privkey = Source::PrivateKey {
        name: "priv".into(),
        environment: env.clone(),
    };
    f.admin(with("from-priv", privkey)).unwrap();
    f.admin(with("from-ks", keystore("signing"))).unwrap();
    assert_eq!(
        err(f.admin(with("x", keystore("nope")))),
        (
            400,
            "Alias (name: nope) is not found in keystore (name: ks)!".to_owned()
        )
    );
    let no_algorithm = NewJwk {
        algorithm: None,
        ..NewJwk::new("x", cert()).usage(Usage::Signature, "")
    };
    assert_eq!(
        err(f.admin(create(no_algorithm))),
        (
            400,
            "Algorithm is required for CERTIFICATE source type!".to_owned()
        )
    );
    let no_use = NewJwk {
        usage: None,
        ..NewJwk::new("x", cert()).usage(Usage::Signature, "RS256")
    };
    assert_eq!(
        err(f.admin(create(no_use))),
        (
            400,
            "Use type is required for CERTIFICATE source type!".to_owned()
        )
    );
    assert_eq!(
        err(f.admin(create(NewJwk::new("x", cert()).usage(Usage::Signature, "ES256")))),
        (400, "algorithm ES256 cannot be used with an RSA key for SIGNATURE: ES256 needs an EC P-256 key; valid are RS256, RS384, RS512, PS256, PS384, PS512".to_owned())
    );

    let views = f.reg.list_jwks(&f.admin, P, false).unwrap();
    let names: Vec<&str> = views.iter().map(|v| v.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "from-cert",
            "from-cert-2",
            "from-ks",
            "from-priv",
            "from-pub"
        ]
    );
    // One key behind all five, public parts only, the certificate ones with x5c.
    let t = &views[0].thumbprint;
    assert!(views.iter().all(|v| &v.thumbprint == t));
    assert!(views.iter().all(|v| v.jwk_value().get("d").is_none()
        && v.jwk_value()["alg"] == "RS256"
        && v.jwk_value()["use"] == "sig"));
    assert!(views[0].jwk_value().get("x5c").is_some());
    let private = f.reg.get_jwk(&f.admin, P, "from-priv", true).unwrap();
    assert!(private.jwk_value().get("d").is_some());
    assert_eq!(private.source_type.as_deref(), Some("PRIVATE_KEY"));
}

/// A Java SecretKeyEntry in a keystore is a KEYSTORE source for an `oct` JWK (HS256 here).
#[test]
fn a_keystore_secret_key_entry_is_an_oct_jwk() {
    let f = fixture();
    let p12 =
        std::fs::read(jwk_testkit::workspace_root().join("testdata/keystores/keytool-secret.p12"))
            .unwrap();
    f.admin(Command::AddKeystore {
        project: P.into(),
        keystore: NewKeystore {
            name: "java".into(),
            environment: "production".into(),
            content: p12,
            password: Some("changeit".into()),
        },
    })
    .unwrap();
    let request = |alias: &str, algorithm: &str| {
        let source = Source::Keystore {
            name: "java".into(),
            environment: "production".into(),
            alias: alias.into(),
        };
        create(NewJwk::new(alias, source).usage(Usage::Signature, algorithm))
    };
    f.admin(request("hmac-sha256", "HS256")).unwrap();
    let jwk = f.reg.get_jwk(&f.admin, P, "hmac-sha256", true).unwrap();
    assert_eq!(jwk.jwk_value()["kty"], "oct");
    assert_eq!(
        jwk.jwk_value()["k"],
        "oZlL72C5Bi7Sfa3YRxlJMYR7ONgNHI85EcwOPGZdhwo"
    );
    assert_eq!(jwk.jwk_value()["alg"], "HS256");
    assert_eq!(jwk.source_type.as_deref(), Some("KEYSTORE"));
    assert_eq!(
        err(f.admin(request("aes-128", "RS256"))),
        (
            400,
            // HMAC keys must be as long as the hash (RFC 7518 §3.2): 128 bits fit no HS*.
            "algorithm RS256 cannot be used with a 128-bit oct key for SIGNATURE: RS256 needs an RSA key; valid are none"
                .to_owned()
        )
    );
}

/// A Java KeyStore (JKS) is a keystore like a PKCS#12 file: uploaded, then a KEYSTORE source.
#[test]
fn a_jks_keystore_is_a_keystore_source() {
    let f = fixture();
    let jks = std::fs::read(jwk_testkit::workspace_root().join("testdata/keystores/keytool.jks"))
        .unwrap();
    let upload = |password: &str| Command::AddKeystore {
        project: P.into(),
        keystore: NewKeystore {
            name: "jks".into(),
            environment: "production".into(),
            content: jks.clone(),
            password: Some(password.to_owned()),
        },
    };
    assert_eq!(err(f.admin(upload("wrong"))).0, 400);
    f.admin(upload("changeit")).unwrap();
    let source = Source::Keystore {
        name: "jks".into(),
        environment: "production".into(),
        alias: "ec-p384".into(),
    };
    f.admin(create(
        NewJwk::new("from-jks", source).usage(Usage::Signature, "ES384"),
    ))
    .unwrap();
    let jwk = f.reg.get_jwk(&f.admin, P, "from-jks", false).unwrap();
    assert_eq!(jwk.jwk_value()["crv"], "P-384");
    assert!(jwk.jwk_value().get("d").is_none());
    assert_eq!(jwk.jwk_value()["x5c"].as_array().map(Vec::len), Some(1));
}

#[test]
fn generate_every_key_type() {
    let f = fixture();
    use jwk_core::{EcCurve, OkpCurve};
    let g = |name: &str, spec: KeySpec, usage: Usage, alg: &str| {
        NewJwk::new(name, Source::Generate { spec, kid: None }).usage(usage, alg)
    };
    let generate = |jwk: NewJwk| f.admin(create(jwk));
    let rsa = KeySpec::Rsa { bits: 2048 };
    generate(g("rsa", rsa, Usage::Signature, "PS256")).unwrap();
    let p384 = KeySpec::Ec(EcCurve::P384);
    generate(g("ec", p384, Usage::Signature, "ES384")).unwrap();
    let x25519 = KeySpec::Okp(OkpCurve::X25519);
    generate(g("okp", x25519, Usage::Encryption, "ECDH-ES")).unwrap();
    let oct128 = || KeySpec::Oct { bits: 128 };
    generate(g("oct", oct128(), Usage::Encryption, "A128KW")).unwrap();
    let oct = f.reg.get_jwk(&f.admin, P, "oct", false).unwrap();
    assert!(
        oct.jwk_value().get("k").is_none(),
        "a symmetric key is never shown without asking: {}",
        oct.jwk
    );
    // An oct key's thumbprint is a hash of its secret: not shown, and not its default kid.
    assert_eq!(oct.thumbprint, None);
    assert!(
        !serde_json::to_string(&oct).unwrap().contains("thumbprint"),
        "{}",
        oct.jwk
    );
    let kid = oct.jwk_value()["kid"].as_str().unwrap().to_owned();
    assert_eq!(
        (kid.len(), kid.matches('-').count(), &kid[14..15]),
        (36, 4, "4"),
        "a UUID v4 kid: {kid}"
    );
    let listed = f.reg.list_jwks(&f.admin, P, false).unwrap();
    let listed_oct = listed.iter().find(|v| v.name == "oct").unwrap();
    assert_eq!(listed_oct.thumbprint, None);
    let thumbprint_kid = NewJwk {
        source: Source::Generate {
            spec: oct128(),
            kid: Some(KidType::Thumbprint),
        },
        ..g("oct2", oct128(), Usage::Encryption, "A128KW")
    };
    assert_eq!(
        err(generate(thumbprint_kid)),
        (
            400,
            "Kid type (THUMBPRINT) is not valid for an OCT key: its thumbprint is a hash of the \
             secret. Use UUID, TIMESTAMP or NONE, or give a kid."
                .to_owned()
        )
    );
    for (jwk, message) in [
        (
            NewJwk::new(
                "x",
                Source::Generate {
                    spec: oct128(),
                    kid: None,
                },
            ),
            "Use type is required!",
        ),
        (
            NewJwk {
                algorithm: Some(" ".into()),
                ..g("x", oct128(), Usage::Encryption, "")
            },
            "Algorithm is required!",
        ),
    ] {
        assert_eq!(err(generate(jwk)), (400, message.to_owned()));
    }
    assert_eq!(
        err(generate(g("bad", p384, Usage::Signature, "ES256"))),
        (
            400,
            "algorithm ES256 cannot be used with an EC P-384 key for SIGNATURE: ES256 needs an EC P-256 key; valid are ES384"
                .to_owned()
        )
    );
}

#[test]
fn update_renames_detaches_and_keeps_credential_references() {
    let f = fixture();
    f.admin(create(paste("my-jwk", EC))).unwrap();
    f.admin(create(paste("taken", OCT))).unwrap();
    f.admin(credential(P, "api-user")).unwrap();
    f.admin(slot(P, "api-user", Slot::Encryption, Some("my-jwk")))
        .unwrap();
    assert_eq!(
        err(f.admin(update("nope", JwkUpdate::default()))),
        (
            400,
            "JWK (name: nope) is not found! Try create operation.".to_owned()
        )
    );
    assert_eq!(
        err(f.admin(update(
            "my-jwk",
            JwkUpdate {
                name: Some("taken".into()),
                description: None
            }
        ))),
        (400, "JWK (name: taken) is already exist!".to_owned())
    );
    assert_eq!(
        f.reg
            .get_jwk(&f.admin, P, "my-jwk", false)
            .unwrap()
            .source_type
            .as_deref(),
        Some("COPY_PASTE")
    );
    f.admin(update(
        "my-jwk",
        JwkUpdate {
            name: Some("updated-jwk".into()),
            description: Some("Updated JWK description".into()),
        },
    ))
    .unwrap();
    let v = f.reg.get_jwk(&f.admin, P, "updated-jwk", false).unwrap();
    assert_eq!(
        (v.description.as_str(), v.source_type),
        ("Updated JWK description", None)
    );
    assert_eq!(
        err(f.reg.get_jwk(&f.admin, P, "my-jwk", false)),
        (404, "JWK (name: my-jwk) is not found!".to_owned())
    );
    let cred = f.reg.get_credential(&f.admin, P, "api-user").unwrap();
    assert_eq!(
        cred.encryption_jwk.as_deref(),
        Some("MyProject/updated-jwk")
    );
    f.admin(update("updated-jwk", JwkUpdate::default()))
        .unwrap();
    let resolved = f
        .reg
        .resolver("production")
        .credential(P, "api-user", Slot::Encryption)
        .unwrap();
    assert_eq!(resolved.params().kid.as_deref(), Some("ec1"));
}

#[test]
fn credential_slots_from_the_project_and_the_admin_project() {
    let f = fixture();
    f.admin(create(paste("mine", EC))).unwrap();
    f.admin(create_in("admin", paste("shared", OCT))).unwrap();
    assert_eq!(
        err(f.admin(slot(P, "api-user", Slot::Encryption, Some("mine")))),
        (
            400,
            "Credential (username: api-user) was not found!".to_owned()
        )
    );
    f.admin(credential(P, "api-user")).unwrap();
    assert_eq!(
        err(f.admin(credential(P, "api-user"))),
        (
            400,
            "Credential (username: api-user) is already exist!".to_owned()
        )
    );
    assert_eq!(
        err(f.admin(slot(P, "api-user", Slot::Encryption, Some("my-jwk")))),
        (400, "JWK (name: my-jwk) is not found!".to_owned())
    );
    assert_eq!(
        err(f.admin(slot(P, "api-user", Slot::Encryption, Some("MINE")))),
        (400, "JWK (name: MINE) is not found!".to_owned()),
        "names are case-sensitive"
    );
    f.admin(slot(P, "api-user", Slot::Encryption, Some("mine")))
        .unwrap();
    f.admin(slot(P, "api-user", Slot::Encryption, Some("shared")))
        .unwrap();
    f.admin(slot(P, "api-user", Slot::Validation, Some("mine")))
        .unwrap();
    let c = f.reg.get_credential(&f.admin, P, "api-user").unwrap();
    assert_eq!(
        c.encryption_jwk.as_deref(),
        Some("admin/shared"),
        "assigning replaces"
    );
    assert_eq!(c.validation_jwk.as_deref(), Some("MyProject/mine"));
    assert_eq!(
        err(f.admin(delete("admin", "shared"))),
        (400, "JWK (name: shared) is used by credential (username: api-user) in project (MyProject)! Remove it from the credential first.".to_owned())
    );
    f.admin(slot(P, "api-user", Slot::Encryption, None))
        .unwrap();
    f.admin(delete("admin", "shared")).unwrap();
    assert_eq!(
        f.reg
            .get_credential(&f.admin, P, "api-user")
            .unwrap()
            .encryption_jwk,
        None
    );
}

#[test]
fn racing_creates_and_slot_assignments() {
    let f = fixture();
    for round in 0..10 {
        let name = format!("race-{round}");
        let handles: Vec<_> = (0..6)
            .map(|_| {
                let reg = f.reg.clone();
                let admin = f.admin.clone();
                let name = name.clone();
                std::thread::spawn(move || run(&reg, &admin, create(paste(&name, OCT))).is_ok())
            })
            .collect();
        let wins = handles
            .into_iter()
            .filter(|_| true)
            .map(|h| h.join().unwrap())
            .filter(|ok| *ok)
            .count();
        assert_eq!(wins, 1, "round {round}");
    }
    f.admin(credential(P, "u")).unwrap();
    let handles: Vec<_> = (0..10)
        .map(|i| {
            let reg = f.reg.clone();
            let admin = f.admin.clone();
            std::thread::spawn(move || {
                run(
                    &reg,
                    &admin,
                    slot(P, "u", Slot::Validation, Some(&format!("race-{i}"))),
                )
                .unwrap();
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    let slot = f
        .reg
        .get_credential(&f.admin, P, "u")
        .unwrap()
        .validation_jwk
        .unwrap();
    assert!(slot.starts_with("MyProject/race-"), "{slot}");
}

#[test]
fn permissions_and_the_products_404() {
    let f = fixture();
    let bob_token = f.admin(user("bob")).unwrap().token.unwrap();
    let bob = f.reg.authenticate(&bob_token).unwrap();
    assert_eq!(
        err(f.reg.authenticate("wrong")),
        (401, "Invalid token".to_owned())
    );
    let no_access = (
        404,
        "Project(MyProject) was not found or user does not have privilege to access it!".to_owned(),
    );
    assert_eq!(err(f.reg.list_jwks(&bob, P, false)), no_access);
    assert_eq!(
        err(f.reg.list_jwks(&bob, "Nope", false)),
        (
            404,
            "Project(Nope) was not found or user does not have privilege to access it!".to_owned()
        )
    );
    f.admin(member(
        P,
        "bob",
        vec![Permission::parse("SECRETS+VIEW").unwrap()],
    ))
    .unwrap();
    assert_eq!(
        err(f.run(&bob, create(paste("b", OCT)))),
        (
            403,
            "User (username: bob) does not have SECRETS+MANAGE permission in project (MyProject)!"
                .to_owned()
        )
    );
    assert_eq!(
        err(f.reg.get_jwk(&bob, P, "x", true)),
        (
            403,
            "Private key material needs SECRETS+MANAGE permission!".to_owned()
        )
    );
    assert_eq!(
        err(f.run(&bob, project("mine"))),
        (403, "Only the admin user can create projects!".to_owned())
    );

    // MANAGE without DEPLOY_UNDEPLOY: saved, deployment skipped and pending.
    f.admin(member(
        P,
        "bob",
        vec![Permission::parse("SECRETS+MANAGE").unwrap()],
    ))
    .unwrap();
    let result = deployment(f.run(&bob, create(paste("b", OCT))).unwrap());
    assert_eq!(
        serde_json::to_string(&result).unwrap(),
        r#"{"success":false,"message":"Deployment skipped: user does not have SECRETS+DEPLOY_UNDEPLOY permission; the change is saved and pending","environmentResults":[]}"#
    );
    assert!(
        f.reg
            .list_jwks(&bob, P, false)
            .unwrap()
            .iter()
            .any(|v| v.name == "b")
    );
    assert!(f.reg.resolver("production").by_name(P, "b").is_none());
    // Nothing else ships it: neither reconcile nor another user's deployment.
    let result = rt().block_on(f.reg.reconcile()).unwrap();
    assert!(result.success);
    assert!(f.reg.resolver("production").by_name(P, "b").is_none());
}

/// What environments serve is what a user holding the deploy permission approved: changes by
/// a user without it are saved, shown as pending, and served nowhere until approved.
#[test]
fn changes_by_users_who_may_not_deploy_are_served_only_once_approved() {
    let f = fixture();
    let bob_token = f.admin(user("bob")).unwrap().token.unwrap();
    let bob = f.reg.authenticate(&bob_token).unwrap();
    f.admin(member(
        P,
        "bob",
        vec![
            Permission::parse("SECRETS+MANAGE").unwrap(),
            Permission::parse("IDENTITY+MANAGE").unwrap(),
        ],
    ))
    .unwrap();
    let deploy = deployment;
    let served = |name: &str| f.reg.resolver("production").by_name(P, name).is_some();
    let state = |name: &str| {
        let v = f.reg.get_jwk(&f.admin, P, name, false).unwrap();
        (v.deployed, v.pending)
    };

    deploy(f.run(&bob, create(paste("b", EC))).unwrap());
    assert_eq!(state("b"), (false, Some(Pending::Created)));
    // Another user's deployment and a reconcile ship what is approved, not bob's key.
    deploy(f.admin(create(paste("c", OCT))).unwrap());
    rt().block_on(f.reg.reconcile()).unwrap();
    assert!(served("c") && !served("b"));
    assert_eq!(
        err(f.run(&bob, deploy_jwk("b"))),
        (
            403,
            "User (username: bob) does not have SECRETS+DEPLOY_UNDEPLOY permission in project (MyProject)!"
                .to_owned()
        )
    );
    let result = deploy(f.admin(deploy_jwk("b")).unwrap());
    assert!(result.success);
    assert!(served("b"));
    assert_eq!(state("b"), (true, None));

    // A rename by bob: still served under the old name until approved under the new one.
    let rename = JwkUpdate {
        name: Some("b2".into()),
        ..JwkUpdate::default()
    };
    deploy(f.run(&bob, update("b", rename)).unwrap());
    assert_eq!(state("b2"), (false, Some(Pending::Changed)));
    assert!(served("b") && !served("b2"));
    deploy(f.admin(deploy_jwk("b2")).unwrap());
    assert!(!served("b") && served("b2"));

    // A delete by bob: served until approved.
    deploy(f.run(&bob, delete(P, "b2")).unwrap());
    assert!(served("b2"));
    deploy(f.admin(deploy_jwk("b2")).unwrap());
    assert!(!served("b2"));
    assert_eq!(
        err(f.admin(deploy_jwk("b2"))),
        (400, "JWK (name: b2) is not found!".to_owned())
    );

    // A credential slot set by bob: served once approved, or once changed by a permitted user.
    let slot_served = |u: &str| {
        f.reg
            .resolver("production")
            .credential(P, u, Slot::Encryption)
            .is_some()
    };
    deploy(f.run(&bob, credential(P, "api-user")).unwrap());
    deploy(
        f.run(&bob, slot(P, "api-user", Slot::Encryption, Some("c")))
            .unwrap(),
    );
    let cred = f.reg.get_credential(&f.admin, P, "api-user").unwrap();
    assert_eq!(
        (cred.deployed, cred.pending),
        (false, Some(Pending::Created))
    );
    assert!(!slot_served("api-user"));
    deploy(
        f.admin(Command::DeployCredential {
            project: P.into(),
            username: "api-user".into(),
        })
        .unwrap(),
    );
    assert!(slot_served("api-user"));
    deploy(
        f.run(&bob, slot(P, "api-user", Slot::Encryption, None))
            .unwrap(),
    );
    assert!(slot_served("api-user"), "the removal waits for approval");
    deploy(
        f.admin(slot(P, "api-user", Slot::Encryption, None))
            .unwrap(),
    );
    assert!(!slot_served("api-user"));
    assert!(
        f.reg
            .get_credential(&f.admin, P, "api-user")
            .unwrap()
            .deployed
    );
}

/// Fails its first `failures` deployments.
struct Flaky {
    failures: AtomicUsize,
}

impl DeployTarget for Flaky {
    fn deploy<'a>(
        &'a self,
        snapshot: &'a EnvironmentSnapshot,
    ) -> BoxFuture<'a, Result<Receipt, DeployError>> {
        Box::pin(async move {
            if self.failures.load(Ordering::SeqCst) > 0 {
                self.failures.fetch_sub(1, Ordering::SeqCst);
                return Err(DeployError("gateway unreachable".to_owned()));
            }
            Ok(Receipt::of(snapshot))
        })
    }
}

#[test]
fn a_failed_environment_keeps_the_change_and_is_reconciled() {
    let f = fixture();
    f.reg.register_target(
        "edge",
        Arc::new(Flaky {
            failures: AtomicUsize::new(1),
        }),
    );
    f.admin(environment("edge", TargetConfig::Custom)).unwrap();
    let result = deployment(f.admin(create(paste("my-jwk", EC))).unwrap());
    assert_eq!(
        serde_json::to_string(&result).unwrap(),
        r#"{"success":false,"message":"Deployment failed for 1 of 3 environments; the change is saved and will be redeployed","environmentResults":[{"environmentName":"edge","success":false,"message":"Deployment failed: gateway unreachable"},{"environmentName":"production","success":true,"message":"Deployed successfully"},{"environmentName":"staging","success":true,"message":"Deployed successfully"}]}"#
    );
    assert!(
        f.reg.get_jwk(&f.admin, P, "my-jwk", false).is_ok(),
        "the change stays"
    );
    let edge = f.reg.deployment_state("edge").unwrap().unwrap();
    assert_eq!(
        (edge.pending, edge.error.as_deref()),
        (true, Some("gateway unreachable"))
    );
    let again = rt().block_on(f.reg.reconcile()).unwrap();
    assert_eq!(
        again.environment_results.len(),
        1,
        "only the behind environment"
    );
    assert!(again.success);
    // Every environment now serves the same revision, with its one key.
    let served: Vec<(u64, usize)> = ["edge", "production", "staging"]
        .iter()
        .map(|e| {
            let d = f.reg.deployment_state(e).unwrap().unwrap();
            (d.revision, d.keys)
        })
        .collect();
    assert!(
        served.iter().all(|d| *d == served[0] && d.1 == 1),
        "{served:?}"
    );
}

#[test]
fn the_file_target_holds_public_keys_only() {
    let dir = temp_dir();
    let f = fixture_with(RegistryConfig {
        file_target_dir: Some(dir.path().to_owned()),
        ..RegistryConfig::default()
    });
    let path = dir.path().join("gateway/jwks.json");
    f.admin(environment(
        "files",
        TargetConfig::File {
            path: "gateway/jwks.json".into(),
        },
    ))
    .unwrap();
    f.admin(create(paste("ec", EC))).unwrap();
    assert!(deployment(f.admin(create(paste("oct", OCT))).unwrap()).success);
    assert_eq!(
        std::fs::read_to_string(&path).unwrap(),
        r#"{"keys":[{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","kid":"ec1"}]}"#
    );
}

#[test]
fn private_material_is_encrypted_at_rest_and_never_audited() {
    let f = fixture();
    f.admin(create(paste("ec", EC))).unwrap();
    f.admin(create(paste("oct", OCT))).unwrap();
    let everything: Vec<u8> = f
        .store
        .scan(b"")
        .unwrap()
        .into_iter()
        .flat_map(|(k, v)| [k, v.value].concat())
        .collect();
    let text = String::from_utf8_lossy(&everything);
    assert!(
        !text.contains("870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"),
        "EC d in clear"
    );
    assert!(!text.contains("GawgguFyGrWKav7AX4VKUg"), "oct k in clear");
    let audit: Vec<serde_json::Value> = f
        .store
        .scan(b"audit/")
        .unwrap()
        .into_iter()
        .map(|(_, v)| serde_json::from_slice(&v.value).unwrap())
        .collect();
    let actions: Vec<&str> = audit
        .iter()
        .map(|a| a["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "bootstrap",
            "project.create",
            "environment.create",
            "environment.create",
            "jwk.create",
            "jwk.create"
        ]
    );
    assert!(audit.iter().all(|a| a["actor"] == "admin"));
}

#[test]
fn a_second_bootstrap_fails_and_changes_nothing() {
    let f = fixture();
    let before = f.store.revision().unwrap();
    assert_eq!(
        err(f.reg.bootstrap()),
        (
            400,
            "The registry is already bootstrapped: the admin user exists!".to_owned()
        )
    );
    assert_eq!(f.store.revision().unwrap(), before);
}

#[test]
fn reset_admin_token_revokes_the_old_token_and_is_audited() {
    let store = Arc::new(MemoryStore::new());
    let reg = Registry::new(
        store.clone(),
        MasterKey::generate().unwrap(),
        RegistryConfig::default(),
    );
    assert!(!reg.is_bootstrapped().unwrap());
    assert_eq!(
        err(reg.reset_admin_token()),
        (
            400,
            "The registry is not bootstrapped: there is no admin token to reset!".to_owned()
        )
    );
    let old = reg.bootstrap().unwrap();
    assert!(reg.is_bootstrapped().unwrap());
    let new = reg.reset_admin_token().unwrap();
    assert_ne!(new, old);
    assert_eq!(
        err(reg.authenticate(&old)),
        (401, "Invalid token".to_owned())
    );
    let admin = reg.authenticate(&new).unwrap();
    assert!(admin.is_admin());
    assert_eq!(
        store.scan(b"token/").unwrap().len(),
        1,
        "the old hash is gone"
    );
    let last = store.scan(b"audit/").unwrap().pop().unwrap();
    let last: serde_json::Value = serde_json::from_slice(&last.1.value).unwrap();
    assert_eq!(
        (&last["action"], &last["actor"], &last["target"]),
        (
            &serde_json::json!("admin.token.reset"),
            &serde_json::json!("admin"),
            &serde_json::json!("admin")
        )
    );
}

#[test]
fn the_registry_id_is_recorded_once() {
    let store = Arc::new(MemoryStore::new());
    let reg = Registry::new(
        store.clone(),
        MasterKey::generate().unwrap(),
        RegistryConfig::default(),
    );
    let id = reg.id().unwrap();
    assert_eq!(id.len(), 32);
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()));
    let other = Registry::new(
        store,
        MasterKey::generate().unwrap(),
        RegistryConfig::default(),
    );
    assert_eq!(
        other.id().unwrap(),
        id,
        "a second handle reads the recorded id"
    );
}

#[test]
fn url_sources_fetch_and_resync_with_a_kid_report() {
    let f = fixture_with(RegistryConfig {
        allow_private_networks: true,
        ..RegistryConfig::default()
    });
    let version = Arc::new(AtomicUsize::new(0));
    let v2 = version.clone();
    let stub = jwk_testkit::HttpStub::start(move |_, s| {
        let body = if v2.load(Ordering::SeqCst) == 0 {
            r#"{"keys":[{"kty":"oct","kid":"a","k":"AAAA"},{"kty":"oct","kid":"b","k":"AQID"}]}"#
        } else {
            r#"{"keys":[{"kty":"oct","kid":"a","k":"BBBB"},{"kty":"oct","kid":"c","k":"AQID"}]}"#
        };
        jwk_testkit::respond(s, "200 OK", &[], body.as_bytes());
    });
    let req = NewJwk::new(
        "remote",
        Source::Url {
            url: stub.url("/jwks"),
            options: UrlOptions::default(),
            kid: Some("a".into()),
            follow: None,
        },
    );
    f.admin(create(req.clone())).unwrap();
    let before = f.reg.get_jwk(&f.admin, P, "remote", true).unwrap();
    assert_eq!(before.jwk_value()["k"], "AAAA");
    version.store(1, Ordering::SeqCst);
    let outcome = f
        .admin(Command::ResyncJwk {
            project: P.into(),
            name: "remote".into(),
        })
        .unwrap();
    let report = outcome.resync.unwrap();
    assert!(outcome.deployment.unwrap().success);
    assert_eq!(
        serde_json::to_string(&report).unwrap(),
        r#"{"added":["c"],"removed":["b"],"changed":["a"],"notModified":false}"#
    );
    assert_eq!(
        f.reg
            .get_jwk(&f.admin, P, "remote", true)
            .unwrap()
            .jwk_value()["k"],
        "BBBB"
    );
    // The guard stays on unless the registry allows private networks.
    let guarded = fixture();
    let refused = guarded.admin(create(req)).unwrap_err();
    assert_eq!(refused.code(), "fetch.blocked_address");
    let (code, message) = (status(refused.kind()), refused.message());
    assert_eq!(code, 400);
    assert!(
        message
            .starts_with("JWK could not be fetched from the URL: refused to connect to 127.0.0.1"),
        "{message}"
    );
}

#[test]
fn the_webhook_target_posts_public_keys_and_fails_on_non_2xx() {
    let f = fixture_with(RegistryConfig {
        allow_private_networks: true,
        ..RegistryConfig::default()
    });
    let ok = jwk_testkit::HttpStub::start(|req, s| {
        let status = if req.path == "/hook" {
            "204 No Content"
        } else {
            "503 Service Unavailable"
        };
        jwk_testkit::respond(s, status, &[], b"");
    });
    f.admin(environment(
        "hooked",
        TargetConfig::Webhook {
            url: ok.url("/hook"),
        },
    ))
    .unwrap();
    f.admin(environment(
        "broken",
        TargetConfig::Webhook {
            url: ok.url("/down"),
        },
    ))
    .unwrap();
    let result = deployment(f.admin(create(paste("ec", EC))).unwrap());
    let by_env: Vec<(String, bool, String)> = result
        .environment_results
        .iter()
        .map(|r| (r.environment_name.clone(), r.success, r.message.clone()))
        .collect();
    assert_eq!(
        by_env[0],
        (
            "broken".to_owned(),
            false,
            "Deployment failed: webhook answered HTTP 503".to_owned()
        )
    );
    assert_eq!(
        by_env[1],
        (
            "hooked".to_owned(),
            true,
            "Deployed successfully".to_owned()
        )
    );
    let requests = ok.requests();
    let head = requests
        .iter()
        .find(|h| h.starts_with("POST /hook "))
        .expect("the hook was called");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    assert!(!head.contains("870MB6"), "no private material");
}

#[test]
fn webhooks_go_through_the_ssrf_guard_and_take_http_urls_only() {
    let f = fixture();
    let stub =
        jwk_testkit::HttpStub::start(|_, s| jwk_testkit::respond(s, "204 No Content", &[], b""));
    let port = stub.port();
    for (name, url, why) in [
        (
            "ftp",
            "ftp://example.com/hook",
            "the scheme must be http or https, not ftp",
        ),
        (
            "gopher",
            "gopher://example.com/",
            "the scheme must be http or https, not gopher",
        ),
        (
            "file",
            "file:///etc/passwd",
            "the scheme must be http or https, not file",
        ),
        ("relative", "/hook", "the URL needs a scheme (https://…)"),
    ] {
        assert_eq!(
            err(f.admin(environment(
                name,
                TargetConfig::Webhook {
                    url: url.to_owned()
                }
            ))),
            (
                400,
                format!(
                    "Environment (name: {name}) has a webhook URL that is not valid: invalid URL: {why}"
                )
            ),
            "{url}"
        );
    }
    // Loopback in every spelling is refused before any connection; the answer names the
    // class of address, not the address.
    let hosts = [
        "127.0.0.1",
        "localhost",
        "[::1]",
        "2130706433",
        "0x7f000001",
        "127.1",
        "[::ffff:127.0.0.1]",
    ];
    for (i, host) in hosts.iter().enumerate() {
        f.admin(environment(
            &format!("hook{i}"),
            TargetConfig::Webhook {
                url: format!("http://{host}:{port}/hook"),
            },
        ))
        .unwrap();
    }
    let result = deployment(f.admin(create(paste("ec", EC))).unwrap());
    let hooks: Vec<_> = result
        .environment_results
        .iter()
        .filter(|r| r.environment_name.starts_with("hook"))
        .collect();
    assert_eq!(hooks.len(), hosts.len());
    for r in hooks {
        assert!(!r.success, "{}", r.environment_name);
        assert!(
            r.message
                .starts_with("Deployment failed: webhook call failed: refused to connect to ")
                && r.message.contains("(it resolves to a loopback address): "),
            "{}: {}",
            r.environment_name,
            r.message
        );
        assert!(!r.message.contains("127.0.0.1,"), "{}", r.message);
    }
    assert!(stub.requests().is_empty(), "no delivery reached loopback");
}

#[test]
fn url_options_are_bounded_by_the_server_whatever_the_request_says() {
    let f = fixture_with(RegistryConfig {
        allow_private_networks: true,
        max_fetch_timeout_ms: 2000,
        ..RegistryConfig::default()
    });
    let stub = jwk_testkit::HttpStub::start(|_, s| {
        jwk_testkit::respond(s, "200 OK", &[], br#"{"kty":"oct","kid":"a","k":"AAAA"}"#)
    });
    let req = |name: &str, connect: Option<u64>, read: Option<u64>, size: Option<u64>| {
        let options = UrlOptions {
            connect_timeout_ms: connect,
            read_timeout_ms: read,
            size_limit: size,
        };
        NewJwk::new(
            name,
            Source::Url {
                url: stub.url("/jwks"),
                options,
                kid: None,
                follow: None,
            },
        )
    };
    for (connect, read, size, message) in [
        (
            None,
            Some(u64::MAX),
            None,
            "urlOptionReadTimeout (18446744073709551615) is not valid! It must be between 1 and 2000 milliseconds.",
        ),
        (
            Some(0),
            None,
            None,
            "urlOptionConnectTimeout (0) is not valid! It must be between 1 and 2000 milliseconds.",
        ),
        (
            None,
            None,
            Some(10_000_000_000),
            "urlOptionSizeLimit (10000000000) is not valid! It must be between 1 and 10485760 bytes.",
        ),
    ] {
        assert_eq!(
            err(f.admin(create(req("r", connect, read, size)))),
            (400, message.to_owned())
        );
    }
    assert!(
        stub.requests().is_empty(),
        "nothing fetched for a refused request"
    );
    // The defaults (5 s connect, 10 s read) are held to the server's maximum.
    f.admin(create(req("ok", None, None, Some(10_485_760))))
        .unwrap();
    assert_eq!(stub.requests().len(), 1);
}

#[test]
fn file_targets_stay_in_their_directory() {
    let outside = temp_dir();
    let root_dir = temp_dir();
    let root = root_dir.path();
    let file = |path: &str| TargetConfig::File {
        path: path.to_owned(),
    };
    // No directory given: file targets are refused.
    let f = fixture();
    assert_eq!(
        err(f.admin(environment("files", file("jwks.json")))),
        (
            400,
            "Environment (name: files) is a file target, but no directory is given for file \
             targets (jwkd --file-target-dir DIR)!"
                .to_owned()
        )
    );
    let f = fixture_with(RegistryConfig {
        file_target_dir: Some(root.to_owned()),
        ..RegistryConfig::default()
    });
    let master = outside.path().join("master.key");
    std::fs::write(&master, b"sealed").unwrap();
    let refused = [
        (
            master.to_string_lossy().into_owned(),
            format!(
                "the path {} is outside the file target directory {}: give a path relative to it",
                master.display(),
                root.display()
            ),
        ),
        (
            "../master.key".to_owned(),
            "the path ../master.key may not leave the file target directory (no \"..\")".to_owned(),
        ),
        (
            "a/../../master.key".to_owned(),
            "the path a/../../master.key may not leave the file target directory (no \"..\")"
                .to_owned(),
        ),
        (".".to_owned(), "the path names no file".to_owned()),
    ];
    for (path, why) in refused {
        assert_eq!(
            err(f.admin(environment("files", file(&path)))),
            (
                400,
                format!("Environment (name: files) has a file path that is not valid: {why}")
            ),
            "{path}"
        );
    }
    // An absolute path inside the directory is its relative path.
    let inside = root.join("in/jwks.json");
    f.admin(environment("inside", file(&inside.to_string_lossy())))
        .unwrap();
    // A symbolic link inside the directory that leads out of it: the write is refused.
    std::os::unix::fs::symlink(outside.path(), root.join("link")).unwrap();
    f.admin(environment("linked", file("link/master.key")))
        .unwrap();
    let result = deployment(f.admin(create(paste("ec", EC))).unwrap());
    let by_env: Vec<(String, bool, String)> = result
        .environment_results
        .iter()
        .filter(|r| r.environment_name != "production" && r.environment_name != "staging")
        .map(|r| (r.environment_name.clone(), r.success, r.message.clone()))
        .collect();
    let real_root = std::fs::canonicalize(root).unwrap();
    assert_eq!(
        by_env,
        [
            (
                "inside".to_owned(),
                true,
                "Deployed successfully".to_owned()
            ),
            (
                "linked".to_owned(),
                false,
                format!(
                    "Deployment failed: cannot write {}: its directory leads out of the file \
                     target directory {} (a symbolic link)",
                    root.join("link/master.key").display(),
                    real_root.display()
                )
            ),
        ]
    );
    assert_eq!(std::fs::read(&master).unwrap(), b"sealed", "untouched");
    assert!(
        std::fs::read_to_string(&inside)
            .unwrap()
            .starts_with(r#"{"keys":[{"kty":"EC""#)
    );
}

#[test]
fn url_fetches_beyond_the_cap_are_refused_at_once_and_other_work_goes_on() {
    use std::sync::{Mutex, mpsc};
    use std::time::Duration;
    let f = fixture_with(RegistryConfig {
        allow_private_networks: true,
        max_concurrent_fetches: 1,
        ..RegistryConfig::default()
    });
    let (entered_tx, entered) = mpsc::channel::<()>();
    let (release, release_rx) = mpsc::channel::<()>();
    let (entered_tx, release_rx) = (Mutex::new(entered_tx), Mutex::new(release_rx));
    let stub = jwk_testkit::HttpStub::start(move |_, s| {
        let _ = entered_tx.lock().unwrap().send(());
        let _ = release_rx
            .lock()
            .unwrap()
            .recv_timeout(Duration::from_secs(10));
        jwk_testkit::respond(s, "200 OK", &[], br#"{"kty":"oct","kid":"a","k":"AAAA"}"#);
    });
    let req = |name: &str| {
        NewJwk::new(
            name,
            Source::Url {
                url: stub.url("/jwks"),
                options: UrlOptions::default(),
                kid: None,
                follow: None,
            },
        )
    };
    let (reg, admin, slow) = (f.reg.clone(), f.admin.clone(), req("slow"));
    let first = std::thread::spawn(move || run(&reg, &admin, create(slow)).map(|_| ()));
    entered
        .recv_timeout(Duration::from_secs(10))
        .expect("the first fetch reached the server");
    let e = f.admin(create(req("second"))).unwrap_err();
    assert_eq!(
        (status(e.kind()), e.code(), e.message().as_str()),
        (
            503,
            "temporarily_unavailable",
            "Too many URL fetches are in progress (1): try again in a few seconds!"
        )
    );
    // Work that fetches nothing goes on meanwhile.
    f.admin(create(paste("ec", EC))).unwrap();
    release.send(()).unwrap();
    first.join().unwrap().unwrap();
    // The slot is free again.
    release.send(()).unwrap();
    f.admin(create(req("third"))).unwrap();
}

/// A registry stored before approval existed served every record it held: on first use the
/// approved copies are made from them, so an upgrade changes nothing that is served.
#[test]
fn records_stored_before_approval_existed_stay_served() {
    let store = Arc::new(MemoryStore::new());
    let key = || MasterKey::from_bytes([7; 32]);
    let reg = Arc::new(Registry::new(
        store.clone(),
        key(),
        RegistryConfig::default(),
    ));
    let admin = reg.authenticate(&reg.bootstrap().unwrap()).unwrap();
    run(&reg, &admin, project(P)).unwrap();
    run(&reg, &admin, create(paste("old", EC))).unwrap();
    run(&reg, &admin, credential(P, "api-user")).unwrap();
    // What a registry from before approval holds: the records, no approved copies.
    let mut txn = jwk_registry::store::Txn::new().delete("meta/approval-layout");
    for (key, _) in store.scan(b"approved/").unwrap() {
        txn = txn.delete(key);
    }
    store.commit(txn).unwrap();
    assert!(store.scan(b"approved/").unwrap().is_empty());

    let upgraded = Registry::new(store.clone(), key(), RegistryConfig::default());
    let snapshot = upgraded.snapshot().unwrap();
    let names: Vec<(&str, &str)> = snapshot
        .projects
        .iter()
        .flat_map(|p| {
            p.jwks
                .iter()
                .map(|j| &*j.name)
                .chain(p.credentials.iter().map(|c| &*c.username))
                .map(move |n| (p.name.as_str(), n))
        })
        .collect();
    assert_eq!(names, [(P, "old"), (P, "api-user")]);
    assert_eq!(
        store.get(b"meta/approval-layout").unwrap().map(|v| v.value),
        Some(b"1".to_vec())
    );
    let v = upgraded.get_jwk(&admin, P, "old", false).unwrap();
    assert_eq!((v.deployed, v.pending), (true, None));
}

/// `openssl x509` fields of a PEM certificate in `d`: (subject, issuer, notBefore, notAfter,
/// serial, sha256 fingerprint), as the registry writes them.
fn openssl_certificate(d: &std::path::Path, file: &str) -> [String; 6] {
    let field = |flag: &str| {
        let mut args = vec!["x509", "-in", file, "-noout", "-nameopt", "RFC2253"];
        args.extend(flag.split(' '));
        let out = String::from_utf8(openssl(d, &args)).unwrap();
        out.trim()
            .split_once('=')
            .map(|(_, v)| v.to_owned())
            .unwrap()
    };
    // OpenSSL writes dates as "Nov 30 23:20:00 2026 GMT".
    let date = |flag: &str| {
        let text = field(flag);
        let parts: Vec<&str> = text.split_whitespace().collect();
        let months = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        let month = months.iter().position(|m| *m == parts[0]).unwrap() + 1;
        let day: u32 = parts[1].parse().unwrap();
        format!("{}-{month:02}-{day:02}T{}Z", parts[3], parts[2])
    };
    [
        field("-subject"),
        field("-issuer"),
        date("-startdate"),
        date("-enddate"),
        field("-serial").to_lowercase(),
        field("-fingerprint -sha256")
            .replace(':', "")
            .to_lowercase(),
    ]
}

/// The secrets store is listed, read, replaced and deleted; the JWKs attached to a secret
/// follow its replacement in one transaction, and keep their keys when it is deleted.
#[test]
fn secrets_are_listed_read_replaced_and_deleted_and_attached_jwks_follow() {
    use jwk_registry::{SecretClass, SecretKind, SecretName};
    let f = fixture();
    let dir = temp_dir();
    let d = dir.path();
    secrets_fixture(d);
    let env = || "production".to_owned();
    let certificate = |pem: &str| NewCertificate {
        name: "my-certificate".into(),
        environment: env(),
        pem: text(d, pem),
    };
    f.admin(Command::AddCertificate {
        project: P.into(),
        certificate: certificate("c.pem"),
    })
    .unwrap();
    let key = |name: &str, kind: KeyKind, pem: &str| NewKey {
        name: name.into(),
        environment: env(),
        kind,
        pem: text(d, pem),
        password: None,
    };
    f.admin(Command::AddKey {
        project: P.into(),
        key: key("pub", KeyKind::Public, "p.pem"),
    })
    .unwrap();
    // Public and private keys share their names.
    assert_eq!(
        err(f.admin(Command::AddKey {
            project: P.into(),
            key: key("pub", KeyKind::Private, "k.pem"),
        })),
        (400, "Key (name: pub) is already exist!".to_owned())
    );
    f.admin(Command::AddKeystore {
        project: P.into(),
        keystore: NewKeystore {
            name: "ks".into(),
            environment: env(),
            content: read(d, "ks.p12"),
            password: Some("kspw".into()),
        },
    })
    .unwrap();
    let cert_source = || Source::Certificate {
        name: "my-certificate".into(),
        environment: env(),
    };
    f.admin(create(
        NewJwk::new("from-cert", cert_source()).usage(Usage::Signature, "RS256"),
    ))
    .unwrap();
    f.admin(create(
        NewJwk::new("also-from-cert", cert_source()).usage(Usage::Signature, "PS256"),
    ))
    .unwrap();

    // List: every secret, its facts, no PEM and nothing private.
    let listed = f.reg.list_secrets(&f.admin, P, None).unwrap();
    let summary: Vec<(&str, SecretKind, Option<&str>, &[String])> = listed
        .iter()
        .map(|s| {
            (
                s.name.as_str(),
                s.kind,
                s.key_type.as_deref(),
                s.attached_jwks.as_slice(),
            )
        })
        .collect();
    let attached = ["also-from-cert".to_owned(), "from-cert".to_owned()];
    assert_eq!(
        summary,
        [
            (
                "my-certificate",
                SecretKind::Certificate,
                Some("RSA 2048"),
                &attached[..]
            ),
            ("ks", SecretKind::Keystore, None, &[][..]),
            ("pub", SecretKind::PublicKey, Some("RSA 2048"), &[][..]),
        ]
    );
    assert!(listed.iter().all(|s| s.pem.is_none()));
    let [subject, issuer, not_before, not_after, serial, fingerprint] =
        openssl_certificate(d, "c.pem");
    let cert = &listed[0];
    assert_eq!(cert.fingerprint, fingerprint);
    let facts = cert.certificate.as_ref().unwrap();
    assert_eq!(
        [
            &facts.subject,
            &facts.issuer,
            &facts.not_before,
            &facts.not_after,
            &facts.serial
        ],
        [&subject, &issuer, &not_before, &not_after, &serial]
    );
    assert_eq!(subject, "CN=api");
    let entries = listed[1].entries.as_ref().unwrap();
    assert_eq!(
        (
            entries[0].alias.as_deref(),
            entries[0].entry_type.as_str(),
            entries[0].key_type.as_str()
        ),
        (Some("signing"), "PRIVATE_KEY", "RSA 2048")
    );
    let json = serde_json::to_string(&listed).unwrap();
    assert!(
        !json.contains("kspw") && !json.contains("PRIVATE KEY"),
        "{json}"
    );
    assert_eq!(
        f.reg
            .list_secrets(&f.admin, P, Some("staging"))
            .unwrap()
            .len(),
        0
    );
    // Records from before the listing facts were stored are listed the same.
    let mut txn = jwk_registry::store::Txn::new();
    for (key, value) in f.store.scan(b"secret/").unwrap() {
        let mut record: serde_json::Value = serde_json::from_slice(&value.value).unwrap();
        assert!(record.as_object_mut().unwrap().remove("facts").is_some());
        txn = txn.put(key, serde_json::to_vec(&record).unwrap());
    }
    f.store.commit(txn).unwrap();
    assert_eq!(f.reg.list_secrets(&f.admin, P, None).unwrap(), listed);

    // Get: the PEM of a certificate or a public key; 404 for what does not exist.
    let named = |class: SecretClass, name: &str| SecretName {
        class,
        environment: env(),
        name: name.into(),
    };
    let got = f
        .reg
        .get_secret(
            &f.admin,
            P,
            &named(SecretClass::Certificate, "my-certificate"),
        )
        .unwrap();
    let pem = got.pem.unwrap();
    assert_eq!(
        jwk_core::import(pem.as_bytes(), &Default::default())
            .unwrap()
            .params()
            .x5c,
        jwk_core::import(text(d, "c.pem").as_bytes(), &Default::default())
            .unwrap()
            .params()
            .x5c
    );
    let public = f
        .reg
        .get_secret(&f.admin, P, &named(SecretClass::Key, "pub"))
        .unwrap();
    assert_eq!(public.pem.as_deref(), Some(text(d, "p.pem").trim()));
    assert_eq!(
        err(f
            .reg
            .get_secret(&f.admin, P, &named(SecretClass::Keystore, "nope"))),
        (404, "Keystore (name: nope) is not found!".to_owned())
    );

    // Replace: the attached JWKs follow, use and algorithm kept, and are served at once.
    let served = |name: &str| {
        f.reg
            .resolver("production")
            .by_name(P, name)
            .unwrap()
            .thumbprint(jwk_core::ThumbprintHash::Sha256)
    };
    let before = served("from-cert");
    new_certificate(d, "c2", RSA2048, "/CN=api-2");
    let outcome = f
        .admin(Command::ReplaceCertificate {
            project: P.into(),
            certificate: certificate("c2.crt"),
        })
        .unwrap();
    let after = served("from-cert");
    assert_ne!(before, after);
    assert_eq!(
        outcome.rotated,
        [
            jwk_registry::RotatedJwk {
                name: "also-from-cert".into(),
                old_thumbprint: Some(before.clone()),
                new_thumbprint: Some(after.clone()),
            },
            jwk_registry::RotatedJwk {
                name: "from-cert".into(),
                old_thumbprint: Some(before.clone()),
                new_thumbprint: Some(after.clone()),
            },
        ]
    );
    assert!(outcome.deployment.unwrap().success);
    let view = f.reg.get_jwk(&f.admin, P, "also-from-cert", false).unwrap();
    assert_eq!(
        (view.jwk_value()["alg"].as_str(), view.deployed),
        (Some("PS256"), true)
    );
    // A key the JWKs' algorithm does not fit refuses the whole replacement, naming the JWK.
    new_certificate(d, "c3", P256, "/CN=api-3");
    assert_eq!(
        err(f.admin(Command::ReplaceCertificate {
            project: P.into(),
            certificate: certificate("c3.crt"),
        })),
        (
            400,
            "JWK (name: also-from-cert) can not follow the new certificate: algorithm PS256 cannot be used with an EC P-256 key for SIGNATURE: PS256 needs an RSA key; valid are ES256"
                .to_owned()
        )
    );
    assert_eq!(served("from-cert"), after, "nothing changed");
    // Without anything attached, a replacement deploys nothing.
    let outcome = f
        .admin(Command::ReplaceKey {
            project: P.into(),
            key: key("pub", KeyKind::Public, "p.pem"),
        })
        .unwrap();
    assert_eq!((outcome.rotated, outcome.deployment), (vec![], None));
    assert_eq!(
        err(f.admin(Command::ReplaceKey {
            project: P.into(),
            key: key("nope", KeyKind::Public, "p.pem"),
        })),
        (400, "Key (name: nope) is not found!".to_owned())
    );

    // Delete: refused while JWKs are attached, unless they are detached.
    let delete_cert = |detach: bool| Command::DeleteSecret {
        project: P.into(),
        secret: named(SecretClass::Certificate, "my-certificate"),
        detach,
    };
    assert_eq!(
        err(f.admin(delete_cert(false))),
        (
            400,
            "Certificate (name: my-certificate) is used by JWK (also-from-cert, from-cert): delete those JWKs, or delete the certificate with detach to keep them without their source!"
                .to_owned()
        )
    );
    let outcome = f.admin(delete_cert(true)).unwrap();
    assert_eq!(outcome.detached, ["also-from-cert", "from-cert"]);
    let view = f.reg.get_jwk(&f.admin, P, "from-cert", false).unwrap();
    assert_eq!(view.source_type, None);
    assert_eq!(served("from-cert"), after, "a detached JWK keeps its key");
    assert_eq!(
        err(f.admin(delete_cert(false))),
        (
            400,
            "Certificate (name: my-certificate) is not found!".to_owned()
        )
    );

    // Reading needs SECRETS+VIEW, changing SECRETS+MANAGE.
    let token = f.admin(user("viewer")).unwrap().token.unwrap();
    let viewer = f.reg.authenticate(&token).unwrap();
    assert_eq!(
        err(f.reg.list_secrets(&viewer, P, None)).0,
        404,
        "a project the user cannot see"
    );
    f.admin(member(
        P,
        "viewer",
        vec![Permission::parse("SECRETS+VIEW").unwrap()],
    ))
    .unwrap();
    assert_eq!(f.reg.list_secrets(&viewer, P, None).unwrap().len(), 2);
    assert_eq!(
        err(f.run(
            &viewer,
            Command::DeleteSecret {
                project: P.into(),
                secret: named(SecretClass::Key, "pub"),
                detach: false,
            }
        )),
        (
            403,
            "User (username: viewer) does not have SECRETS+MANAGE permission in project (MyProject)!"
                .to_owned()
        )
    );
}

/// Get and List show where a JWK comes from (and the last fetch of a URL source), its use and
/// algorithm, and whether and when it was detached; credentials are listed with their slots;
/// a slot refuses a JWK whose `use` is the other one.
#[test]
fn views_show_sources_and_credentials_list_their_slots() {
    let f = fixture_with(RegistryConfig {
        allow_private_networks: true,
        ..RegistryConfig::default()
    });
    let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let serving = up.clone();
    let stub = jwk_testkit::HttpStub::start(move |_, s| {
        if serving.load(Ordering::SeqCst) {
            jwk_testkit::respond(s, "200 OK", &["ETag: \"v1\""], OCT.as_bytes());
        } else {
            jwk_testkit::respond(s, "500 Internal Server Error", &[], b"down");
        }
    });
    let url = stub.url("/jwks");
    let remote = NewJwk::new(
        "remote",
        Source::Url {
            url: url.clone(),
            options: UrlOptions {
                connect_timeout_ms: Some(1000),
                read_timeout_ms: None,
                size_limit: None,
            },
            kid: None,
            follow: None,
        },
    )
    .usage(Usage::Encryption, "A128KW");
    f.admin(create(remote)).unwrap();
    let view = f.reg.get_jwk(&f.admin, P, "remote", false).unwrap();
    let source = view.source.clone().unwrap();
    assert_eq!(
        (
            view.use_type.as_deref(),
            view.algorithm.as_deref(),
            view.detached,
            source.source_type.as_str(),
            source.url.as_deref(),
            source.url_options,
        ),
        (
            Some("ENCRYPTION"),
            Some("A128KW"),
            false,
            "URL",
            Some(url.as_str()),
            Some(jwk_registry::UrlOptionsView {
                connect_timeout: 1000,
                read_timeout: 10_000,
                size_limit: 1_048_576,
            }),
        )
    );
    let last = |f: &Fixture| {
        let view = f.reg.get_jwk(&f.admin, P, "remote", false).unwrap();
        view.source.unwrap().last_sync.unwrap()
    };
    assert_eq!(last(&f).result, "fetched");
    let resync = || Command::ResyncJwk {
        project: P.into(),
        name: "remote".into(),
    };
    up.store(false, Ordering::SeqCst);
    let failed = err(f.admin(resync()));
    assert_eq!(
        failed,
        (
            400,
            "JWK could not be fetched from the URL: the server answered HTTP 500".to_owned()
        )
    );
    assert_eq!(
        last(&f).result,
        "failed: JWK could not be fetched from the URL: the server answered HTTP 500"
    );
    // The record the approval compares did not change: still deployed.
    assert!(
        f.reg
            .get_jwk(&f.admin, P, "remote", false)
            .unwrap()
            .deployed
    );
    up.store(true, Ordering::SeqCst);
    f.admin(resync()).unwrap();
    assert_eq!(last(&f).result, "fetched");
    let listed = f.reg.list_jwks(&f.admin, P, false).unwrap();
    assert_eq!(
        listed[0]
            .source
            .as_ref()
            .unwrap()
            .last_sync
            .as_ref()
            .unwrap()
            .result,
        "fetched"
    );

    // An update detaches the JWK and says when.
    f.admin(update("remote", JwkUpdate::default())).unwrap();
    let view = f.reg.get_jwk(&f.admin, P, "remote", false).unwrap();
    assert!(view.detached && view.source.is_none() && view.source_type.is_none());
    let at = view.detached_at.unwrap();
    assert!(at.starts_with("20") && at.ends_with('Z'), "{at}");

    // Slots: a JWK for signatures cannot decrypt, one for encryption cannot validate.
    let sig = paste("sig", EC).usage(Usage::Signature, "ES256");
    f.admin(create(sig)).unwrap();
    let enc = paste("enc", EC).usage(Usage::Encryption, "ECDH-ES");
    f.admin(create(enc)).unwrap();
    f.admin(credential(P, "b-user")).unwrap();
    f.admin(credential(P, "a-user")).unwrap();
    assert_eq!(
        err(f.admin(slot(P, "a-user", Slot::Encryption, Some("sig")))),
        (
            400,
            "JWK (name: sig) is for signatures (use: sig): the encryption slot takes a JWK whose use is enc or not set!"
                .to_owned()
        )
    );
    assert_eq!(
        err(f.admin(slot(P, "a-user", Slot::Validation, Some("enc")))),
        (
            400,
            "JWK (name: enc) is for encryption (use: enc): the validation slot takes a JWK whose use is sig or not set!"
                .to_owned()
        )
    );
    f.admin(slot(P, "a-user", Slot::Validation, Some("sig")))
        .unwrap();
    f.admin(slot(P, "a-user", Slot::Encryption, Some("enc")))
        .unwrap();
    f.admin(slot(P, "b-user", Slot::Encryption, Some("remote")))
        .unwrap();
    // Without `use`, either slot.
    f.admin(create(paste("plain", EC))).unwrap();
    f.admin(slot(P, "b-user", Slot::Validation, Some("plain")))
        .unwrap();
    let listed = f.reg.list_credentials(&f.admin, P).unwrap();
    let ec_thumbprint = f.reg.get_jwk(&f.admin, P, "sig", false).unwrap().thumbprint;
    let slots: Vec<_> = listed
        .iter()
        .map(|c| {
            (
                c.username.as_str(),
                c.validation
                    .as_ref()
                    .map(|s| (s.name.as_str(), s.kid.as_deref(), &s.thumbprint)),
                c.encryption
                    .as_ref()
                    .map(|s| (s.name.as_str(), s.kid.as_deref(), &s.thumbprint)),
                c.deployed,
            )
        })
        .collect();
    assert_eq!(
        slots,
        [
            (
                "a-user",
                Some(("sig", Some("ec1"), &ec_thumbprint)),
                Some(("enc", Some("ec1"), &ec_thumbprint)),
                true
            ),
            (
                "b-user",
                Some(("plain", Some("ec1"), &ec_thumbprint)),
                Some(("remote", Some("k1"), &None)),
                true
            ),
        ]
    );
}

/// A secret replaced by a user who may not deploy: the JWKs that follow it are saved and
/// pending, and served only once a user holding the permission approves them.
#[test]
fn a_rotation_by_a_user_who_may_not_deploy_waits_for_approval() {
    let f = fixture();
    let dir = temp_dir();
    let d = dir.path();
    secrets_fixture(d);
    new_certificate(d, "c2", RSA2048, "/CN=next");
    let certificate = |pem: &str| NewCertificate {
        name: "c".into(),
        environment: "production".into(),
        pem: text(d, pem),
    };
    f.admin(Command::AddCertificate {
        project: P.into(),
        certificate: certificate("c.pem"),
    })
    .unwrap();
    let source = Source::Certificate {
        name: "c".into(),
        environment: "production".into(),
    };
    f.admin(create(
        NewJwk::new("signing", source).usage(Usage::Signature, "RS256"),
    ))
    .unwrap();
    let served = || {
        f.reg
            .resolver("production")
            .by_name(P, "signing")
            .unwrap()
            .thumbprint(jwk_core::ThumbprintHash::Sha256)
    };
    let before = served();
    let token = f.admin(user("bob")).unwrap().token.unwrap();
    let bob = f.reg.authenticate(&token).unwrap();
    f.admin(member(
        P,
        "bob",
        vec![Permission::parse("SECRETS+MANAGE").unwrap()],
    ))
    .unwrap();
    let outcome = f
        .run(
            &bob,
            Command::ReplaceCertificate {
                project: P.into(),
                certificate: certificate("c2.crt"),
            },
        )
        .unwrap();
    let skipped = outcome.deployment.unwrap();
    assert_eq!(
        (skipped.success, skipped.message.as_str()),
        (
            false,
            "Deployment skipped: user does not have SECRETS+DEPLOY_UNDEPLOY permission; the change is saved and pending"
        )
    );
    let after = outcome.rotated[0].new_thumbprint.clone().unwrap();
    assert_ne!(after, before);
    rt().block_on(f.reg.reconcile()).unwrap();
    assert_eq!(served(), before, "served as approved");
    let view = f.reg.get_jwk(&f.admin, P, "signing", false).unwrap();
    assert_eq!(
        (view.deployed, view.pending),
        (false, Some(Pending::Changed))
    );
    f.admin(deploy_jwk("signing")).unwrap();
    assert_eq!(served(), after);
}

/// A webhook gets the whole public set, guarded by its ETag: once per change of the set
/// (a credential or a symmetric key changes nothing it shows), with `If-Match` naming the
/// set it acknowledged last; after a refusal the next delivery is unconditional.
#[test]
fn a_webhook_gets_the_public_set_once_per_change_of_it_guarded_by_its_etag() {
    use base64ct::{Base64UrlUnpadded, Encoding};
    use sha2::Digest;
    let f = fixture_with(RegistryConfig {
        allow_private_networks: true,
        ..RegistryConfig::default()
    });
    let refuse = Arc::new(AtomicUsize::new(0));
    let refusing = refuse.clone();
    let stub = jwk_testkit::HttpStub::start(move |_, s| {
        let status = if refusing.swap(0, Ordering::SeqCst) > 0 {
            "412 Precondition Failed"
        } else {
            "204 No Content"
        };
        jwk_testkit::respond(s, status, &[], b"");
    });
    let header = |head: &str, name: &str| -> Option<String> {
        head.lines().find_map(|line| {
            let (n, v) = line.split_once(':')?;
            n.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
    };
    let posts = || -> Vec<(Option<String>, Option<String>)> {
        stub.requests()
            .iter()
            .filter(|h| h.starts_with("POST /hook "))
            .map(|h| (header(h, "etag"), header(h, "if-match")))
            .collect()
    };
    let etag_of = |keys: &str| {
        format!(
            "\"{}\"",
            Base64UrlUnpadded::encode_string(&sha2::Sha256::digest(keys.as_bytes()))
        )
    };
    f.admin(environment(
        "hooked",
        TargetConfig::Webhook {
            url: stub.url("/hook"),
        },
    ))
    .unwrap();
    assert_eq!(posts(), []);

    // A public key: the first delivery, unconditional; then the set after it.
    f.admin(create(paste("ec", EC))).unwrap();
    let public = r#"[{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","kid":"ec1"}]"#;
    let with_ec = etag_of(public);
    assert_eq!(posts(), [(Some(with_ec.clone()), None)]);
    // RFC 7515 A.3's P-256 key.
    let ec2 = r#"{"kty":"EC","crv":"P-256","kid":"ec2","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"}"#;
    f.admin(create(paste("ec2", ec2))).unwrap();
    let both = posts()[1].0.clone().unwrap();
    assert_ne!(both, with_ec);
    assert_eq!(posts()[1..], [(Some(both.clone()), Some(with_ec.clone()))]);

    // A credential and a symmetric key change nothing the set shows: no call.
    f.admin(Command::CreateCredential {
        project: P.into(),
        username: "api-user".into(),
    })
    .unwrap();
    f.admin(create(paste("oct", OCT))).unwrap();
    assert_eq!(posts().len(), 2);

    // The receiver refuses: the deployment fails, and the next delivery is unconditional.
    refuse.store(1, Ordering::SeqCst);
    let failed = deployment(
        f.admin(Command::DeleteJwk {
            project: P.into(),
            name: "ec2".into(),
        })
        .unwrap(),
    );
    let hooked: Vec<(bool, &str)> = failed
        .environment_results
        .iter()
        .filter(|r| r.environment_name == "hooked")
        .map(|r| (r.success, r.message.as_str()))
        .collect();
    assert_eq!(
        hooked,
        [(false, "Deployment failed: webhook answered HTTP 412")]
    );
    assert_eq!(posts()[2..], [(Some(with_ec.clone()), Some(both.clone()))]);
    rt().block_on(f.reg.reconcile()).unwrap();
    assert_eq!(posts()[3..], [(Some(with_ec.clone()), None)]);
    // Everything deleted: the empty set.
    f.admin(Command::DeleteJwk {
        project: P.into(),
        name: "ec".into(),
    })
    .unwrap();
    assert_eq!(posts()[4..], [(Some(etag_of("[]")), Some(with_ec.clone()))]);
}

/// A file target does not rewrite a JWKS it wrote last while the file is still there.
#[test]
fn a_file_target_rewrites_only_a_changed_jwks() {
    let dir = temp_dir();
    let f = fixture_with(RegistryConfig {
        file_target_dir: Some(dir.path().to_owned()),
        ..RegistryConfig::default()
    });
    f.admin(environment(
        "files",
        TargetConfig::File {
            path: "jwks.json".into(),
        },
    ))
    .unwrap();
    let file = dir.path().join("jwks.json");
    f.admin(create(paste("ec", EC))).unwrap();
    let written = std::fs::metadata(&file).unwrap().modified().unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    // Nothing the JWKS shows changes: the file is left as it is.
    f.admin(create(paste("oct", OCT))).unwrap();
    assert_eq!(
        std::fs::metadata(&file).unwrap().modified().unwrap(),
        written
    );
    // Gone: the next deployment writes it again.
    std::fs::remove_file(&file).unwrap();
    f.admin(Command::CreateCredential {
        project: P.into(),
        username: "api-user".into(),
    })
    .unwrap();
    let text = std::fs::read_to_string(&file).unwrap();
    assert_eq!(
        text,
        r#"{"keys":[{"kty":"EC","crv":"P-256","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","kid":"ec1"}]}"#
    );
}

/// Why an environment failed names its target (a webhook's host, whether it answers): a user
/// who is not the admin reads that it failed, the admin reads why.
#[test]
fn why_a_deployment_failed_is_the_admins_to_read() {
    use jwk_registry::deploy::FAILURE_SHOWN_TO_MEMBERS;
    let f = fixture_with(RegistryConfig {
        allow_private_networks: true,
        ..RegistryConfig::default()
    });
    let down = jwk_testkit::HttpStub::start(|_, s| {
        jwk_testkit::respond(s, "503 Service Unavailable", &[], b"");
    });
    f.admin(environment(
        "hooked",
        TargetConfig::Webhook {
            url: down.url("/hook"),
        },
    ))
    .unwrap();
    let member = f.user(
        "member",
        P,
        &[
            Permission::parse("SECRETS+MANAGE").unwrap(),
            Permission::parse("SECRETS+DEPLOY_UNDEPLOY").unwrap(),
        ],
    );
    let hooked = |result: DeploymentResult| -> Vec<(bool, String)> {
        result
            .environment_results
            .into_iter()
            .filter(|r| r.environment_name == "hooked")
            .map(|r| (r.success, r.message))
            .collect()
    };
    let by_member = deployment(f.run(&member, create(paste("ec", EC))).unwrap());
    assert_eq!(
        hooked(by_member),
        [(false, FAILURE_SHOWN_TO_MEMBERS.to_owned())]
    );
    assert_eq!(
        FAILURE_SHOWN_TO_MEMBERS,
        "Deployment failed (the admin user sees why)"
    );
    let by_admin = deployment(f.admin(create(paste("oct", OCT))).unwrap());
    assert_eq!(
        hooked(by_admin),
        [(
            false,
            "Deployment failed: webhook answered HTTP 503".to_owned()
        )]
    );
    let error = |actor: &jwk_registry::Actor| {
        f.reg
            .list_environments(actor)
            .unwrap()
            .into_iter()
            .find(|e| e.name == "hooked")
            .and_then(|e| e.deployment)
            .and_then(|d| d.error)
    };
    assert_eq!(error(&member).as_deref(), Some(FAILURE_SHOWN_TO_MEMBERS));
    assert_eq!(
        error(&f.admin).as_deref(),
        Some("webhook answered HTTP 503")
    );
}
