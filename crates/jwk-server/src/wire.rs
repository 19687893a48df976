//! The product's request bodies (camelCase, every field optional as its pages write them)
//! read into the registry's typed commands, and its success bodies.
//!
//! What a body says that is not a value of the command's types (an unknown `sourceType`, a
//! `useType` other than SIGNATURE and ENCRYPTION, a `keyType` that is no key type, base64
//! that does not decode) is refused here with the product's message; the registry checks
//! everything else (names, required values, the key itself). So that an answer is the one
//! the product gives first, a body that does not read is answered only after the registry's
//! first checks of the change (permission, project, name: [`Registry::check_new`]).

use base64ct::{Base64, Encoding};
use jwk_core::{EcCurve, KeySpec, KidType, OkpCurve, Usage};
use jwk_registry::{
    KeyKind, NewCertificate, NewJwk, NewKey, NewKeystore, NewRecord, RegistryError, Source,
    UrlOptions,
};
use serde::Deserialize;

type Read<T> = Result<T, RegistryError>;

/// A text field as given, or empty when absent.
fn text(value: Option<String>) -> String {
    value.unwrap_or_default()
}

/// A text field when present and not blank.
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

/// `useType`: `SIGNATURE`, `ENCRYPTION` or nothing.
fn use_type(value: &Option<String>) -> Read<Option<Usage>> {
    match given(value) {
        None => Ok(None),
        Some("SIGNATURE") => Ok(Some(Usage::Signature)),
        Some("ENCRYPTION") => Ok(Some(Usage::Encryption)),
        Some(other) => Err(RegistryError::bad_request(format!(
            "Use type ({other}) is not valid! Use SIGNATURE or ENCRYPTION."
        ))),
    }
}

/// `keyType`, `keySize` and `curve` of a key to generate (RSA 2048, oct 256, EC P-256 and
/// OKP Ed25519 unless given).
fn key_spec(
    key_type: &Option<String>,
    key_size: Option<usize>,
    curve: &Option<String>,
) -> Read<KeySpec> {
    let key_type =
        given(key_type).ok_or_else(|| RegistryError::bad_request("Key type is required!"))?;
    let curve = given(curve);
    let spec = match key_type.to_ascii_uppercase().as_str() {
        "RSA" => KeySpec::Rsa {
            bits: key_size.unwrap_or(2048),
        },
        "OCT" => KeySpec::Oct {
            bits: key_size.unwrap_or(256),
        },
        "EC" => KeySpec::Ec(EcCurve::from_name(curve.unwrap_or("P-256")).ok_or_else(|| {
            RegistryError::bad_request(format!(
                "Curve ({}) is not valid for EC! Use P-256, P-384, P-521 or secp256k1.",
                curve.unwrap_or_default()
            ))
        })?),
        "OKP" => KeySpec::Okp(OkpCurve::from_name(curve.unwrap_or("Ed25519")).ok_or_else(
            || {
                RegistryError::bad_request(format!(
                    "Curve ({}) is not valid for OKP! Use Ed25519, Ed448, X25519 or X448.",
                    curve.unwrap_or_default()
                ))
            },
        )?),
        other => {
            return Err(RegistryError::bad_request(format!(
                "Key type ({other}) is not valid! Use RSA, EC, OKP or OCT."
            )));
        }
    };
    Ok(spec)
}

/// The body of Create JWK (`POST …/jwks/`) and Create JWK from Certificate.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateJwkBody {
    name: Option<String>,
    description: Option<String>,
    source_type: Option<String>,
    url: Option<String>,
    url_option_connect_timeout: Option<u64>,
    url_option_read_timeout: Option<u64>,
    url_option_size_limit: Option<u64>,
    jwk_str: Option<String>,
    certificate_name: Option<String>,
    key_name: Option<String>,
    key_store_name: Option<String>,
    kid: Option<String>,
    environment_name: Option<String>,
    alias_name: Option<String>,
    use_type: Option<String>,
    algorithm: Option<String>,
    follow: Option<bool>,
    refresh: Option<RefreshBody>,
    nbf: Option<i64>,
    exp: Option<i64>,
}

impl CreateJwkBody {
    /// `follow` and `refresh` of a URL source: the policy to follow it with, if followed.
    fn follow(&self) -> Read<Option<jwk_registry::RefreshPolicy>> {
        match (self.follow.unwrap_or(false), &self.refresh) {
            (true, refresh) => Ok(Some(refresh.clone().unwrap_or_default().policy())),
            (false, None) => Ok(None),
            (false, Some(_)) => Err(RegistryError::bad_request(
                "refresh is only for a followed URL source: give \"follow\": true too!",
            )),
        }
    }
    /// The name as given (checked by the registry).
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or_default()
    }

    /// The JWK to create, its source chosen by `sourceType`.
    pub fn into_new_jwk(self) -> Read<NewJwk> {
        let source = match given(&self.source_type) {
            None => return Err(RegistryError::bad_request("Source type is required!")),
            Some("GENERATE") => {
                return Err(RegistryError::bad_request(
                    "For GENERATE source type, use the Generate JWK endpoint!",
                ));
            }
            Some(source_type) => self.source(source_type)?,
        };
        self.with_source(source)
    }

    /// The JWK to create from a certificate of the secrets store (Create JWK from
    /// Certificate, which has no `sourceType`).
    pub fn into_new_jwk_from_certificate(self) -> Read<NewJwk> {
        let source = self.source("CERTIFICATE")?;
        self.with_source(source)
    }

    fn source(&self, source_type: &str) -> Read<Source> {
        let other = [
            "COPY_PASTE",
            "CERTIFICATE",
            "PUBLIC_KEY",
            "PRIVATE_KEY",
            "KEYSTORE",
        ];
        if other.contains(&source_type) && (self.follow == Some(true) || self.refresh.is_some()) {
            return Err(RegistryError::bad_request(format!(
                "follow and refresh are only for URL source type, not {source_type}!"
            )));
        }
        let name = |field: &Option<String>| text(field.clone());
        let environment = name(&self.environment_name);
        Ok(match source_type {
            "URL" => Source::Url {
                url: name(&self.url),
                options: UrlOptions {
                    connect_timeout_ms: self.url_option_connect_timeout,
                    read_timeout_ms: self.url_option_read_timeout,
                    size_limit: self.url_option_size_limit,
                },
                kid: self.kid.clone(),
                follow: self.follow()?,
            },
            "COPY_PASTE" => Source::Paste {
                jwk: name(&self.jwk_str),
                kid: self.kid.clone(),
            },
            "CERTIFICATE" => Source::Certificate {
                name: name(&self.certificate_name),
                environment,
            },
            "PUBLIC_KEY" => Source::PublicKey {
                name: name(&self.key_name),
                environment,
            },
            "PRIVATE_KEY" => Source::PrivateKey {
                name: name(&self.key_name),
                environment,
            },
            "KEYSTORE" => Source::Keystore {
                name: name(&self.key_store_name),
                environment,
                alias: name(&self.alias_name),
            },
            other => {
                return Err(RegistryError::bad_request(format!(
                    "Source type ({other}) is not valid! Valid source types: URL, COPY_PASTE, CERTIFICATE, PUBLIC_KEY, PRIVATE_KEY, KEYSTORE"
                )));
            }
        })
    }

    fn with_source(self, source: Source) -> Read<NewJwk> {
        Ok(NewJwk {
            usage: use_type(&self.use_type)?,
            name: text(self.name),
            description: self.description,
            source,
            algorithm: self.algorithm,
            validity: jwk_registry::Validity {
                not_before: self.nbf,
                expires: self.exp,
            },
            state: jwk_registry::KeyState::Active,
        })
    }
}

/// The body of Generate JWK (`POST …/jwks/generate/`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GenerateJwkBody {
    name: Option<String>,
    description: Option<String>,
    key_type: Option<String>,
    key_size: Option<usize>,
    curve: Option<String>,
    use_type: Option<String>,
    algorithm: Option<String>,
    kid_type: Option<String>,
    kid: Option<String>,
    nbf: Option<i64>,
    exp: Option<i64>,
}

impl GenerateJwkBody {
    /// The name as given (checked by the registry).
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or_default()
    }

    /// The JWK to generate.
    pub fn into_new_jwk(self) -> Read<NewJwk> {
        let spec = key_spec(&self.key_type, self.key_size, &self.curve)?;
        let kid = match (given(&self.kid), given(&self.kid_type)) {
            (Some(kid), _) => Some(KidType::Explicit(kid.to_owned())),
            (None, None) => None,
            (None, Some(kid_type)) => Some(match kid_type.to_ascii_uppercase().as_str() {
                "THUMBPRINT" => KidType::Thumbprint,
                "UUID" => KidType::Uuid,
                "TIMESTAMP" => KidType::Timestamp,
                "NONE" => KidType::None,
                other => {
                    return Err(RegistryError::bad_request(format!(
                        "Kid type ({other}) is not valid! Use THUMBPRINT, UUID, TIMESTAMP or NONE."
                    )));
                }
            }),
        };
        Ok(NewJwk {
            usage: use_type(&self.use_type)?,
            name: text(self.name),
            description: self.description,
            source: Source::Generate { spec, kid },
            algorithm: self.algorithm,
            validity: jwk_registry::Validity {
                not_before: self.nbf,
                expires: self.exp,
            },
            state: jwk_registry::KeyState::Active,
        })
    }
}

/// The body of Update JWK (`PUT …/jwks/{name}/`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateJwkBody {
    name: Option<String>,
    description: Option<String>,
}

impl From<UpdateJwkBody> for jwk_registry::JwkUpdate {
    fn from(body: UpdateJwkBody) -> Self {
        jwk_registry::JwkUpdate {
            name: body.name,
            description: body.description,
        }
    }
}

/// The body of Set JWK state (`PUT …/jwks/{name}/state/`).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct StateBody {
    state: Option<String>,
}

impl StateBody {
    /// The state named: `pending`, `active`, `retired` or `disabled`.
    pub fn state(&self) -> Read<jwk_registry::KeyState> {
        let name =
            given(&self.state).ok_or_else(|| RegistryError::bad_request("State is required!"))?;
        jwk_registry::KeyState::parse(name).ok_or_else(|| {
            RegistryError::bad_request(format!(
                "State ({name}) is not valid! Use pending, active, retired or disabled."
            ))
        })
    }
}

/// The body of Set JWK validity (`PUT …/jwks/{name}/validity/`): absent or `null` leaves
/// that side unbounded.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ValidityBody {
    nbf: Option<i64>,
    exp: Option<i64>,
}

impl ValidityBody {
    /// The validity given.
    pub fn validity(&self) -> jwk_registry::Validity {
        jwk_registry::Validity {
            not_before: self.nbf,
            expires: self.exp,
        }
    }
}

/// The body of Promote a credential slot's next JWK (`POST …/credentials/{username}/promote/{slot}/`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PromoteBody {
    overlap_seconds: Option<u64>,
}

/// The default overlap of a promotion: one day.
pub const DEFAULT_OVERLAP_SECS: u64 = 86_400;

impl PromoteBody {
    /// How long the replaced JWK stays published (default [`DEFAULT_OVERLAP_SECS`]).
    pub fn overlap_secs(&self) -> u64 {
        self.overlap_seconds.unwrap_or(DEFAULT_OVERLAP_SECS)
    }
}

/// The body of Set rotation (`PUT …/credentials/{username}/rotation/{slot}/`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RotationBody {
    key_type: Option<String>,
    key_size: Option<usize>,
    curve: Option<String>,
    use_type: Option<String>,
    algorithm: Option<String>,
    period_seconds: Option<u64>,
    lead_seconds: Option<u64>,
    overlap_seconds: Option<u64>,
    max_token_lifetime_seconds: Option<u64>,
    consumer_cache_seconds: Option<u64>,
}

impl RotationBody {
    /// The policy (checked by the registry).
    pub fn policy(&self) -> Read<jwk_registry::RotationPolicy> {
        let required = |name: &str, v: Option<u64>| {
            v.ok_or_else(|| RegistryError::bad_request(format!("{name} is required!")))
        };
        Ok(jwk_registry::RotationPolicy {
            spec: key_spec(&self.key_type, self.key_size, &self.curve)?,
            usage: use_type(&self.use_type)?
                .ok_or_else(|| RegistryError::bad_request("Use type is required!"))?,
            algorithm: given(&self.algorithm)
                .ok_or_else(|| RegistryError::bad_request("Algorithm is required!"))?
                .to_owned(),
            period_secs: required("periodSeconds", self.period_seconds)?,
            lead_secs: required("leadSeconds", self.lead_seconds)?,
            overlap_secs: required("overlapSeconds", self.overlap_seconds)?,
            max_token_lifetime_secs: required(
                "maxTokenLifetimeSeconds",
                self.max_token_lifetime_seconds,
            )?,
            consumer_cache_secs: required("consumerCacheSeconds", self.consumer_cache_seconds)?,
        })
    }
}

/// The body of Create JWK Set (`POST …/jwk-sets/`) and Update JWK Set (`PUT
/// …/jwk-sets/{name}/`, where the name in the path wins). Absent options and policy fields
/// take their defaults.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JwkSetBody {
    name: Option<String>,
    url: Option<String>,
    url_option_connect_timeout: Option<u64>,
    url_option_read_timeout: Option<u64>,
    url_option_size_limit: Option<u64>,
    refresh: Option<RefreshBody>,
}

/// `refresh` of a [`JwkSetBody`]: seconds, each optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RefreshBody {
    default_interval_seconds: Option<u64>,
    min_interval_seconds: Option<u64>,
    max_interval_seconds: Option<u64>,
    grace_seconds: Option<u64>,
    stale_limit_seconds: Option<u64>,
    miss_cooldown_seconds: Option<u64>,
    miss_budget_per_hour: Option<u64>,
}

impl JwkSetBody {
    /// The name as given (checked by the registry).
    pub fn name(&self) -> String {
        text(self.name.clone())
    }

    /// The set to follow.
    pub fn into_spec(self) -> jwk_registry::JwkSetSpec {
        jwk_registry::JwkSetSpec {
            url: text(self.url),
            options: UrlOptions {
                connect_timeout_ms: self.url_option_connect_timeout,
                read_timeout_ms: self.url_option_read_timeout,
                size_limit: self.url_option_size_limit,
            },
            policy: self.refresh.unwrap_or_default().policy(),
        }
    }
}

impl RefreshBody {
    /// The policy: what is given, the defaults for the rest.
    fn policy(self) -> jwk_registry::RefreshPolicy {
        let d = jwk_registry::DEFAULT_REFRESH;
        let r = self;
        jwk_registry::RefreshPolicy {
            default_interval_seconds: r
                .default_interval_seconds
                .unwrap_or(d.default_interval_seconds),
            min_interval_seconds: r.min_interval_seconds.unwrap_or(d.min_interval_seconds),
            max_interval_seconds: r.max_interval_seconds.unwrap_or(d.max_interval_seconds),
            grace_seconds: r.grace_seconds.or(d.grace_seconds),
            stale_limit_seconds: r.stale_limit_seconds.unwrap_or(d.stale_limit_seconds),
            miss_cooldown_seconds: r.miss_cooldown_seconds.unwrap_or(d.miss_cooldown_seconds),
            miss_budget_per_hour: r.miss_budget_per_hour.unwrap_or(d.miss_budget_per_hour),
        }
    }
}

/// A secret named in a body, for the registry's first checks.
fn secret_record(
    what: &'static str,
    name: &Option<String>,
    environment: &Option<String>,
) -> NewRecord {
    NewRecord::Secret {
        what,
        name: text(name.clone()),
        environment: text(environment.clone()),
    }
}

/// `POST …/certificates/`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddCertificateBody {
    name: Option<String>,
    environment_name: Option<String>,
    pem: Option<String>,
}

/// A secrets-store body for a replace: the name and environment come from the path.
pub trait Placed: Sized {
    /// The body with this name and environment.
    fn placed(self, environment: &str, name: &str) -> Self;
}

macro_rules! placed {
    ($($body:ty),*) => {$(
        impl Placed for $body {
            fn placed(mut self, environment: &str, name: &str) -> Self {
                self.name = Some(name.to_owned());
                self.environment_name = Some(environment.to_owned());
                self
            }
        }
    )*};
}

placed!(AddCertificateBody, AddKeyBody, AddKeystoreBody);

impl From<AddCertificateBody> for NewCertificate {
    fn from(body: AddCertificateBody) -> Self {
        NewCertificate {
            name: text(body.name),
            environment: text(body.environment_name),
            pem: text(body.pem),
        }
    }
}

/// `POST …/keys/`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddKeyBody {
    name: Option<String>,
    environment_name: Option<String>,
    key_type: Option<String>,
    pem: Option<String>,
    password: Option<String>,
}

impl AddKeyBody {
    /// What the registry checks before the rest of the body.
    pub fn record(&self) -> NewRecord {
        secret_record("Key", &self.name, &self.environment_name)
    }

    /// The key to add: `keyType` PUBLIC or PRIVATE.
    pub fn into_new_key(self) -> Read<NewKey> {
        let kind = match given(&self.key_type) {
            Some("PUBLIC") => KeyKind::Public,
            Some("PRIVATE") => KeyKind::Private,
            Some(other) => {
                return Err(RegistryError::bad_request(format!(
                    "Key type ({other}) is not valid! Use PUBLIC or PRIVATE."
                )));
            }
            None => return Err(RegistryError::bad_request("Key type is required!")),
        };
        Ok(NewKey {
            name: text(self.name),
            environment: text(self.environment_name),
            kind,
            pem: text(self.pem),
            password: self.password,
        })
    }
}

/// `POST …/keystores/`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddKeystoreBody {
    name: Option<String>,
    environment_name: Option<String>,
    content_base64: Option<String>,
    password: Option<String>,
}

impl AddKeystoreBody {
    /// What the registry checks before the rest of the body.
    pub fn record(&self) -> NewRecord {
        secret_record("Keystore", &self.name, &self.environment_name)
    }

    /// The keystore to add, its content decoded from base64.
    pub fn into_new_keystore(self) -> Read<NewKeystore> {
        let content = given(&self.content_base64).ok_or_else(|| {
            RegistryError::bad_request("Keystore content (contentBase64) is required!")
        })?;
        let content = Base64::decode_vec(content)
            .map_err(|_| RegistryError::bad_request("Keystore content is not valid base64!"))?;
        Ok(NewKeystore {
            name: text(self.name),
            environment: text(self.environment_name),
            content,
            password: self.password,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn create(body: serde_json::Value) -> Read<NewJwk> {
        serde_json::from_value::<CreateJwkBody>(body)
            .unwrap()
            .into_new_jwk()
    }

    fn refused(r: Read<NewJwk>) -> String {
        r.unwrap_err().to_string()
    }

    #[test]
    fn create_bodies_read_into_typed_sources() {
        use serde_json::json;
        assert_eq!(
            create(
                json!({"name": " a ", "sourceType": "URL", "url": "https://x/", "kid": "k", "urlOptionSizeLimit": 10, "useType": "ENCRYPTION", "exp": 1900000000})
            ),
            Ok(NewJwk {
                name: " a ".into(),
                description: None,
                source: Source::Url {
                    url: "https://x/".into(),
                    options: UrlOptions {
                        connect_timeout_ms: None,
                        read_timeout_ms: None,
                        size_limit: Some(10),
                    },
                    kid: Some("k".into()),
                    follow: None,
                },
                usage: Some(Usage::Encryption),
                algorithm: None,
                validity: jwk_registry::Validity {
                    not_before: None,
                    expires: Some(1_900_000_000),
                },
                state: jwk_registry::KeyState::Active,
            })
        );
        assert_eq!(
            create(json!({"name": "a", "sourceType": "KEYSTORE", "keyStoreName": "ks", "environmentName": "e", "aliasName": "al", "useType": "SIGNATURE", "algorithm": "RS256"}))
                .unwrap()
                .source,
            Source::Keystore {
                name: "ks".into(),
                environment: "e".into(),
                alias: "al".into()
            }
        );
        // Missing fields read as empty: the registry answers with the product's message.
        assert_eq!(
            create(json!({"sourceType": "PRIVATE_KEY"})).unwrap().source,
            Source::PrivateKey {
                name: String::new(),
                environment: String::new()
            }
        );
        assert_eq!(
            refused(create(json!({"name": "a"}))),
            "Source type is required!"
        );
        assert_eq!(
            refused(create(json!({"name": "a", "sourceType": " "}))),
            "Source type is required!"
        );
        assert_eq!(
            refused(create(json!({"sourceType": "GENERATE"}))),
            "For GENERATE source type, use the Generate JWK endpoint!"
        );
        assert_eq!(
            refused(create(json!({"sourceType": "FILE"}))),
            "Source type (FILE) is not valid! Valid source types: URL, COPY_PASTE, CERTIFICATE, PUBLIC_KEY, PRIVATE_KEY, KEYSTORE"
        );
        assert_eq!(
            refused(create(
                json!({"sourceType": "COPY_PASTE", "useType": "SIGNING"})
            )),
            "Use type (SIGNING) is not valid! Use SIGNATURE or ENCRYPTION."
        );
    }

    #[test]
    fn generate_bodies_read_into_key_specs() {
        use serde_json::json;
        let generate = |body: serde_json::Value| {
            serde_json::from_value::<GenerateJwkBody>(body)
                .unwrap()
                .into_new_jwk()
        };
        assert_eq!(
            generate(json!({"name": "g", "keyType": "ec", "curve": "P-384", "kidType": "uuid", "useType": "SIGNATURE", "algorithm": "ES384"}))
                .unwrap(),
            NewJwk::new(
                "g",
                Source::Generate {
                    spec: KeySpec::Ec(EcCurve::P384),
                    kid: Some(KidType::Uuid)
                }
            )
            .usage(Usage::Signature, "ES384")
        );
        assert_eq!(
            generate(json!({"keyType": "RSA", "kid": "mine", "kidType": "NONE"}))
                .unwrap()
                .source,
            Source::Generate {
                spec: KeySpec::Rsa { bits: 2048 },
                kid: Some(KidType::Explicit("mine".into()))
            }
        );
        for (body, message) in [
            (json!({}), "Key type is required!"),
            (
                json!({"keyType": "DSA"}),
                "Key type (DSA) is not valid! Use RSA, EC, OKP or OCT.",
            ),
            (
                json!({"keyType": "EC", "curve": "P-192"}),
                "Curve (P-192) is not valid for EC! Use P-256, P-384, P-521 or secp256k1.",
            ),
            (
                json!({"keyType": "OKP", "curve": "P-256"}),
                "Curve (P-256) is not valid for OKP! Use Ed25519, Ed448, X25519 or X448.",
            ),
            (
                json!({"keyType": "OCT", "kidType": "serial"}),
                "Kid type (SERIAL) is not valid! Use THUMBPRINT, UUID, TIMESTAMP or NONE.",
            ),
        ] {
            assert_eq!(generate(body).unwrap_err().to_string(), message);
        }
    }

    #[test]
    fn secrets_bodies_read_their_kinds_and_content() {
        use serde_json::json;
        let key = |body: serde_json::Value| {
            serde_json::from_value::<AddKeyBody>(body)
                .unwrap()
                .into_new_key()
        };
        assert_eq!(
            key(
                json!({"name": "k", "environmentName": "e", "keyType": "PRIVATE", "pem": "p", "password": "pw"})
            ),
            Ok(NewKey {
                name: "k".into(),
                environment: "e".into(),
                kind: KeyKind::Private,
                pem: "p".into(),
                password: Some("pw".into())
            })
        );
        assert_eq!(
            key(json!({})).unwrap_err().to_string(),
            "Key type is required!"
        );
        assert_eq!(
            key(json!({"keyType": "SECRET"})).unwrap_err().to_string(),
            "Key type (SECRET) is not valid! Use PUBLIC or PRIVATE."
        );
        let keystore = |body: serde_json::Value| {
            serde_json::from_value::<AddKeystoreBody>(body)
                .unwrap()
                .into_new_keystore()
        };
        assert_eq!(
            keystore(json!({"name": "ks", "contentBase64": "AAEC"}))
                .unwrap()
                .content,
            [0, 1, 2]
        );
        assert_eq!(
            keystore(json!({})).unwrap_err().to_string(),
            "Keystore content (contentBase64) is required!"
        );
        assert_eq!(
            keystore(json!({"contentBase64": "%%"}))
                .unwrap_err()
                .to_string(),
            "Keystore content is not valid base64!"
        );
    }
}
