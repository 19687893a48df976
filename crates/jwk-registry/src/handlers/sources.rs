//! Where a JWK comes from: every sourceType of Create JWK (URL, COPY_PASTE, CERTIFICATE,
//! PUBLIC_KEY, PRIVATE_KEY, KEYSTORE) read into a key and the source record kept with it.

use jwk_core::{ImportOptions, Jwk, KeySpec, KidType};

use super::non_blank;
use crate::command::{NewJwk, Source};
use crate::error::{RegistryError, Result};
use crate::plan::Ctx;
use crate::records::{EnvironmentRec, SecretRec, SourceRec, keys};

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

impl Ctx<'_> {
    /// The stored environment `name`; a missing one is a 400 here (it is named in a body).
    pub(crate) fn environment(&self, name: &str) -> Result<EnvironmentRec> {
        self.load::<EnvironmentRec>(&keys::environment(name))?
            .map(|(e, _)| e)
            .ok_or_else(|| {
                RegistryError::bad_request(format!("Environment (name: {name}) is not found!"))
            })
    }

    fn secret(
        &self,
        project: &str,
        kind: &str,
        env: &str,
        name: &str,
    ) -> Result<Option<SecretRec>> {
        Ok(self
            .load::<SecretRec>(&keys::secret(project, kind, env, name))?
            .map(|(s, _)| s))
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
    pub(crate) fn import_secret(&self, secret: &SecretRec, alias: Option<&str>) -> Result<Jwk> {
        let content = secret_content(self.key, secret)?;
        let password = secret_password(self.key, secret)?;
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
    pub(crate) fn build_from_source(
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
                    crate::rules::bounded(
                        "urlOptionConnectTimeout",
                        options.connect_timeout_ms,
                        jwk_fetch::DEFAULT_CONNECT_TIMEOUT_MS,
                        max_ms,
                        "milliseconds",
                    )?,
                    crate::rules::bounded(
                        "urlOptionReadTimeout",
                        options.read_timeout_ms,
                        jwk_fetch::DEFAULT_READ_TIMEOUT_MS,
                        max_ms,
                        "milliseconds",
                    )?,
                    crate::rules::bounded(
                        "urlOptionSizeLimit",
                        options.size_limit,
                        jwk_fetch::DEFAULT_SIZE_LIMIT,
                        max_size,
                        "bytes",
                    )?,
                );
                let follow = follow
                    .as_ref()
                    .map(crate::rules::remote::checked_policy)
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
    pub(crate) fn fetch_url(
        &self,
        url: &str,
        options: (u64, u64, u64),
        kid: Option<&str>,
        (etag, last_modified): (Option<String>, Option<String>),
    ) -> Result<UrlFetched> {
        let fetched = self.fetch(
            url,
            &jwk_fetch::FetchOptions {
                if_none_match: etag,
                if_modified_since: last_modified,
                ..self.config.fetch_options(options)
            },
        )?;
        url_fetched(&fetched, kid)
    }

    /// One bounded fetch, in one of the registry's fetch slots.
    pub(crate) fn fetch(
        &self,
        url: &str,
        options: &jwk_fetch::FetchOptions,
    ) -> Result<jwk_fetch::Fetched> {
        let _slot = self.fetches.slot()?;
        Ok(jwk_fetch::fetch(url, options)?)
    }
}

/// What a fetched body gives a URL source: the key `kid` selects and the (kid, thumbprint)
/// of every key of the set, unless the server answered 304; the validators and max-age.
pub(crate) fn url_fetched(fetched: &jwk_fetch::Fetched, kid: Option<&str>) -> Result<UrlFetched> {
    let fresh = if fetched.not_modified {
        None
    } else {
        let jwk = jwk_fetch::select(fetched, kid)?;
        let set = jwk_fetch::parse_set(fetched)?;
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
        etag: fetched.etag.clone(),
    })
}

/// A secret's content, opened when sealed.
pub(crate) fn secret_content(
    key: &crate::crypto::MasterKey,
    s: &SecretRec,
) -> Result<zeroize::Zeroizing<Vec<u8>>> {
    if s.sealed {
        key.open(&s.content)
    } else {
        Ok(zeroize::Zeroizing::new(s.content.as_bytes().to_vec()))
    }
}

/// A secret's password, opened.
pub(crate) fn secret_password(
    key: &crate::crypto::MasterKey,
    s: &SecretRec,
) -> Result<Option<zeroize::Zeroizing<String>>> {
    match &s.password {
        None => Ok(None),
        Some(sealed) => {
            let raw = key.open(sealed)?;
            Ok(Some(zeroize::Zeroizing::new(
                String::from_utf8_lossy(&raw).into_owned(),
            )))
        }
    }
}

/// What a fetch of a URL source gave.
pub(crate) struct UrlFetched {
    /// The selected key and (kid, thumbprint) of the set's keys; `None` for 304.
    pub(crate) fresh: Option<(Jwk, Vec<(String, String)>)>,
    pub(crate) etag: Option<String>,
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
