//! Where a JWK comes from: every sourceType of Create JWK (URL, COPY_PASTE, CERTIFICATE,
//! PUBLIC_KEY, PRIVATE_KEY, KEYSTORE) read into a key and the source record kept with it.

use std::time::Duration;

use jwk_core::{ImportOptions, Jwk, KeySpec, KidType};

use super::command::{NewJwk, Source};
use super::{Registry, non_blank};
use crate::error::{RegistryError, Result};
use crate::model::{EnvironmentRec, SecretRec, SourceRec, keys, load};

/// The public JSON view of a JWK: the public key, and for oct keys no `k` at all.
pub(crate) fn public_view(jwk: &Jwk) -> String {
    jwk.to_disclosable_json()
}

/// Applies the use and algorithm of a new JWK: required for secrets-store sources (their
/// messages name the source type) and for generated keys, optional otherwise.
fn apply_usage(jwk: &mut Jwk, new: &NewJwk, required: bool) -> Result<()> {
    let alg = new.algorithm.as_deref().and_then(non_blank);
    if required {
        let source = match new.source {
            Source::Generate { .. } => String::new(),
            ref s => format!(" for {} source type", s.type_name()),
        };
        if new.usage.is_none() {
            return Err(RegistryError::bad_request(format!(
                "Use type is required{source}!"
            )));
        }
        if alg.is_none() {
            return Err(RegistryError::bad_request(format!(
                "Algorithm is required{source}!"
            )));
        }
    }
    match (new.usage, alg) {
        (Some(u), Some(a)) => jwk.set_usage(u, a)?,
        (Some(u), None) => jwk.params_mut().key_use = Some(u.key_use()),
        (None, Some(a)) => jwk.set_algorithm(a)?,
        (None, None) => {}
    }
    Ok(())
}

impl Registry {
    /// The stored environment `name`; a missing one is a 400 here (it is named in a body).
    pub(super) fn environment(&self, name: &str) -> Result<EnvironmentRec> {
        self.environment_at(name)
            .map(|(e, _)| e)
            .map_err(|e| match e.kind() {
                crate::error::ErrorKind::NotFound => RegistryError::bad_request(e.message()),
                _ => e,
            })
    }

    pub(super) fn secret(
        &self,
        project: &str,
        kind: &str,
        env: &str,
        name: &str,
    ) -> Result<Option<SecretRec>> {
        Ok(
            load::<SecretRec>(&**self.store(), &keys::secret(project, kind, env, name))?
                .map(|(s, _)| s),
        )
    }

    pub(crate) fn secret_content(&self, s: &SecretRec) -> Result<zeroize::Zeroizing<Vec<u8>>> {
        if s.sealed {
            self.key().open(&s.content)
        } else {
            Ok(zeroize::Zeroizing::new(s.content.as_bytes().to_vec()))
        }
    }

    pub(crate) fn secret_password(
        &self,
        s: &SecretRec,
    ) -> Result<Option<zeroize::Zeroizing<String>>> {
        match &s.password {
            None => Ok(None),
            Some(sealed) => {
                let raw = self.key().open(sealed)?;
                Ok(Some(zeroize::Zeroizing::new(
                    String::from_utf8_lossy(&raw).into_owned(),
                )))
            }
        }
    }

    /// The environment a secrets-store source names: given, and existing.
    fn source_environment<'a>(&self, environment: &'a str, source: &Source) -> Result<&'a str> {
        let env = non_blank(environment).ok_or_else(|| {
            RegistryError::bad_request(format!(
                "Environment name is required for {} source type!",
                source.type_name()
            ))
        })?;
        self.environment(env)?;
        Ok(env)
    }

    /// A secret a source names, opened into a key: its name given, its environment given and
    /// existing, the secret found (else `missing(name)`), and imported with its password.
    fn secret_key(
        &self,
        project: &str,
        (name, environment, kind): (&str, &str, &str),
        source: &Source,
        required: &str,
        missing: &str,
        alias: Option<&str>,
    ) -> Result<(Jwk, SourceRec)> {
        let source_type = source.type_name();
        let name = non_blank(name).ok_or_else(|| {
            RegistryError::bad_request(format!(
                "{required} is required for {source_type} source type!"
            ))
        })?;
        let env = self.source_environment(environment, source)?;
        let alias = match alias {
            Some(alias) => Some(non_blank(alias).ok_or_else(|| {
                RegistryError::bad_request(format!(
                    "Alias name is required for {source_type} source type!"
                ))
            })?),
            None => None,
        };
        let secret = self.secret(project, kind, env, name)?.ok_or_else(|| {
            RegistryError::bad_request(format!("{missing} (name: {name}) is not found!"))
        })?;
        let jwk = self.import_secret(&secret, alias)?;
        Ok((
            jwk,
            SourceRec {
                name: Some(name.to_owned()),
                environment_name: Some(env.to_owned()),
                alias_name: alias.map(str::to_owned),
                ..SourceRec::of_type(source_type)
            },
        ))
    }

    /// The key a stored secret holds (with `alias`, the keystore entry), opened with its
    /// password.
    pub(super) fn import_secret(&self, secret: &SecretRec, alias: Option<&str>) -> Result<Jwk> {
        let content = self.secret_content(secret)?;
        let password = self.secret_password(secret)?;
        let opts = ImportOptions {
            password: password.as_deref().map(String::as_str),
            alias,
            ..ImportOptions::default()
        };
        jwk_core::import(&content, &opts).map_err(|e| match (e, alias) {
            (jwk_core::Error::AliasNotFound { .. }, Some(alias)) => {
                RegistryError::bad_request(format!(
                    "Alias (name: {alias}) is not found in keystore (name: {})!",
                    secret.name
                ))
            }
            (other, _) => other.into(),
        })
    }

    /// Builds the key of a new JWK and its source record.
    pub(super) fn build_from_source(
        &self,
        project: &str,
        new: &NewJwk,
    ) -> Result<(Jwk, SourceRec)> {
        let source = &new.source;
        let (mut jwk, record, required) = match source {
            Source::Url {
                url,
                options,
                kid,
                follow,
            } => {
                let url = non_blank(url).ok_or_else(|| {
                    RegistryError::bad_request("URL is required for URL source type!")
                })?;
                let kid = kid.as_deref().and_then(non_blank);
                let max_ms = self.config.max_fetch_timeout_ms;
                let max_size = self.config.max_fetch_size;
                let options = (
                    bounded(
                        "urlOptionConnectTimeout",
                        options.connect_timeout_ms,
                        jwk_fetch::DEFAULT_CONNECT_TIMEOUT_MS,
                        max_ms,
                        "milliseconds",
                    )?,
                    bounded(
                        "urlOptionReadTimeout",
                        options.read_timeout_ms,
                        jwk_fetch::DEFAULT_READ_TIMEOUT_MS,
                        max_ms,
                        "milliseconds",
                    )?,
                    bounded(
                        "urlOptionSizeLimit",
                        options.size_limit,
                        jwk_fetch::DEFAULT_SIZE_LIMIT,
                        max_size,
                        "bytes",
                    )?,
                );
                let follow = follow
                    .as_ref()
                    .map(super::remote::checked_policy)
                    .transpose()?;
                let fetched = self.fetch_url(url, options, kid, (None, None))?;
                let etag = fetched.etag;
                let (jwk, set_kids) = fetched.fresh.ok_or_else(|| {
                    RegistryError::bad_request(
                        "The URL answered 304 Not Modified to a first fetch!",
                    )
                })?;
                let record = SourceRec {
                    url: Some(url.to_owned()),
                    url_options: Some(options),
                    kid: kid.map(str::to_owned),
                    set_kids,
                    etag,
                    follow,
                    ..SourceRec::of_type("URL")
                };
                (jwk, record, false)
            }
            Source::Paste { jwk, kid } => {
                let text = non_blank(jwk).ok_or_else(|| {
                    RegistryError::bad_request("JWK string is required for COPY_PASTE source type!")
                })?;
                let kid = kid.as_deref().and_then(non_blank);
                let record = SourceRec {
                    kid: kid.map(str::to_owned),
                    ..SourceRec::of_type("COPY_PASTE")
                };
                (jwk_core::select_from_json(text, kid)?, record, false)
            }
            Source::Certificate { name, environment } => {
                let (jwk, record) = self.secret_key(
                    project,
                    (name, environment, "certificate"),
                    source,
                    "Certificate name",
                    "Certificate",
                    None,
                )?;
                (jwk, record, true)
            }
            Source::PublicKey { name, environment } | Source::PrivateKey { name, environment } => {
                let kind = if matches!(source, Source::PublicKey { .. }) {
                    "public-key"
                } else {
                    "private-key"
                };
                let (jwk, record) = self.secret_key(
                    project,
                    (name, environment, kind),
                    source,
                    "Key name",
                    "Key",
                    None,
                )?;
                (jwk, record, true)
            }
            Source::Keystore {
                name,
                environment,
                alias,
            } => {
                let (jwk, record) = self.secret_key(
                    project,
                    (name, environment, "keystore"),
                    source,
                    "Keystore name",
                    "Keystore",
                    Some(alias),
                )?;
                (jwk, record, true)
            }
            Source::Generate { spec, kid } => {
                let jwk = generated(new, spec, kid)?;
                return Ok((jwk, SourceRec::of_type("GENERATE")));
            }
        };
        apply_usage(&mut jwk, new, required)?;
        Ok((jwk, record))
    }

    /// Fetches a URL source (conditionally with an earlier answer's validators): the selected
    /// key and the (kid, thumbprint) of every key of the set unless the server answered 304,
    /// the new validators and the max-age.
    pub(super) fn fetch_url(
        &self,
        url: &str,
        (connect, read, size): (u64, u64, u64),
        kid: Option<&str>,
        (etag, last_modified): (Option<String>, Option<String>),
    ) -> Result<UrlFetched> {
        let _slot = self.fetch_slot()?;
        let opts = jwk_fetch::FetchOptions {
            connect_timeout: Duration::from_millis(connect),
            read_timeout: Duration::from_millis(read),
            size_limit: size,
            if_none_match: etag,
            if_modified_since: last_modified,
            ..self.fetch_options()
        };
        let fetched = jwk_fetch::fetch(url, &opts)?;
        let fresh = if fetched.not_modified {
            None
        } else {
            let jwk = jwk_fetch::select(&fetched, kid)?;
            let set = jwk_fetch::parse_set(&fetched)?;
            let kids = set
                .keys()
                .map(|k| {
                    (
                        k.params().kid.clone().unwrap_or_default(),
                        crate::deploy::thumbprint(k),
                    )
                })
                .collect();
            Some((jwk, kids))
        };
        Ok(UrlFetched {
            fresh,
            etag: fetched.etag,
            last_modified: fetched.last_modified,
            max_age: fetched.max_age,
        })
    }
}

/// What a fetch of a URL source gave.
pub(super) struct UrlFetched {
    /// The selected key and (kid, thumbprint) of the set's keys; `None` for 304.
    pub(super) fresh: Option<(Jwk, Vec<(String, String)>)>,
    pub(super) etag: Option<String>,
    pub(super) last_modified: Option<String>,
    pub(super) max_age: Option<u64>,
}

/// A URL option as given (or its default), refused outside 1 ..= `max` (the server's bound,
/// whatever the request says).
pub(super) fn bounded(
    field: &str,
    given: Option<u64>,
    default: u64,
    max: u64,
    unit: &str,
) -> Result<u64> {
    let value = given.unwrap_or(default.min(max));
    if value == 0 || value > max {
        return Err(RegistryError::bad_request(format!(
            "{field} ({value}) is not valid! It must be between 1 and {max} {unit}."
        )));
    }
    Ok(value)
}

/// A new key for Generate JWK: its use and algorithm required, and no thumbprint kid for an
/// `oct` key (its thumbprint is a hash of the secret).
fn generated(new: &NewJwk, spec: &KeySpec, kid: &Option<KidType>) -> Result<Jwk> {
    let usage = new
        .usage
        .ok_or_else(|| RegistryError::bad_request("Use type is required!"))?;
    let alg = new
        .algorithm
        .as_deref()
        .and_then(non_blank)
        .ok_or_else(|| RegistryError::bad_request("Algorithm is required!"))?;
    let oct = matches!(spec, KeySpec::Oct { .. });
    let kid = match kid {
        Some(KidType::Thumbprint) if oct => {
            return Err(RegistryError::bad_request(
                "Kid type (THUMBPRINT) is not valid for an OCT key: its thumbprint is a hash of \
                 the secret. Use UUID, TIMESTAMP or NONE, or give a kid.",
            ));
        }
        Some(kid) => kid.clone(),
        None if oct => KidType::Uuid,
        None => KidType::Thumbprint,
    };
    Ok(jwk_core::generate(&jwk_core::GenerateOptions {
        spec: *spec,
        usage,
        alg: alg.to_owned(),
        kid,
    })?)
}
