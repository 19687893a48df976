//! The registry on the embedded stores: everything survives a restart, the master key file
//! is owner-only, and private material opens again with it.

use std::sync::Arc;

use jwk_engine::registry::{Command, NewJwk, RegistryConfig, Slot, Source};
use jwk_engine::{StoreKind, open_registry};

const EC: &str = r#"{"kty":"EC","crv":"P-256","kid":"ec1","x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4","y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","d":"870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"}"#;

fn survives_restart(kind: StoreKind) {
    let dir = jwk_testkit::temp_dir();
    let token = {
        let reg = Arc::new(open_registry(kind, dir.path(), RegistryConfig::default()).unwrap());
        let token = reg.bootstrap().unwrap();
        let admin = reg.authenticate(&token).unwrap();
        let paste = Source::Paste {
            jwk: EC.into(),
            kid: None,
        };
        let rt = tokio::runtime::Runtime::new().unwrap();
        for command in [
            Command::CreateProject { name: "P".into() },
            Command::CreateJwk {
                project: "P".into(),
                jwk: NewJwk::new("my-jwk", paste),
            },
            Command::CreateCredential {
                project: "P".into(),
                username: "api-user".into(),
            },
            Command::SetCredentialJwk {
                project: "P".into(),
                username: "api-user".into(),
                slot: Slot::Validation,
                jwk: Some("my-jwk".into()),
            },
        ] {
            rt.block_on(reg.apply(&admin, command)).unwrap();
        }
        token
    };
    let reg = open_registry(kind, dir.path(), RegistryConfig::default()).unwrap();
    let admin = reg.authenticate(&token).unwrap();
    let jwk = reg.get_jwk(&admin, "P", "my-jwk", true).unwrap();
    assert_eq!(
        jwk.jwk_value()["d"],
        "870MB6gfuTJ4HtUnUvYMyJpr5eUZNP4Bk43bVdj3eAE"
    );
    let cred = reg.get_credential(&admin, "P", "api-user").unwrap();
    assert_eq!(cred.validation_jwk.as_deref(), Some("P/my-jwk"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("master.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn sled_registry_survives_restart() {
    survives_restart(StoreKind::Sled);
}

#[test]
fn redb_registry_survives_restart() {
    survives_restart(StoreKind::Redb);
}
