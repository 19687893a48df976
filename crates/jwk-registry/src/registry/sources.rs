//! Where a JWK comes from: every sourceType of Create JWK (URL, COPY_PASTE, CERTIFICATE,
//! PUBLIC_KEY, PRIVATE_KEY, KEYSTORE) read into a key and the source record kept with it.

use std::time::Duration;

use jwk_core::{ImportOptions, Jwk, Usage};

use super::jwks::CreateJwkRequest;
use super::{Registry, non_blank};
use crate::error::{RegistryError, Result};
use crate::model::{EnvironmentRec, SecretRec, SourceRec, keys, load};

/// The public JSON view of a JWK: the public key, and for oct keys no `k` at all.
pub(crate) fn public_view(jwk: &Jwk) -> String {
    jwk.to_disclosable_json()
}

pub(super) fn parse_usage(use_type: &str) -> Result<Usage> {
    match use_type {
        "SIGNATURE" => Ok(Usage::Signature),
        "ENCRYPTION" => Ok(Usage::Encryption),
        other => Err(RegistryError::bad_request(format!(
            "Use type ({other}) is not valid! Use SIGNATURE or ENCRYPTION."
        ))),
    }
}

/// Applies useType + algorithm: required for secrets-store sources, optional otherwise.
pub(super) fn apply_usage(
    jwk: &mut Jwk,
    req: &CreateJwkRequest,
    source: &str,
    required: bool,
) -> Result<()> {
    let use_type = non_blank(&req.use_type);
    let alg = non_blank(&req.algorithm);
    if required {
        if use_type.is_none() {
            return Err(RegistryError::bad_request(format!(
                "Use type is required for {source} source type!"
            )));
        }
        if alg.is_none() {
            return Err(RegistryError::bad_request(format!(
                "Algorithm is required for {source} source type!"
            )));
        }
    }
    match (use_type, alg) {
        (Some(u), Some(a)) => jwk.set_usage(parse_usage(u)?, a)?,
        (Some(u), None) => jwk.params_mut().key_use = Some(parse_usage(u)?.key_use()),
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

    /// The environment name required by a secrets-store source, and the environment itself.
    pub(super) fn source_environment(
        &self,
        req: &CreateJwkRequest,
        source: &str,
    ) -> Result<String> {
        let env = non_blank(&req.environment_name).ok_or_else(|| {
            RegistryError::bad_request(format!(
                "Environment name is required for {source} source type!"
            ))
        })?;
        self.environment(env)?;
        Ok(env.to_owned())
    }

    /// Builds the key of a create request and its source record.
    pub(super) fn build_from_source(
        &self,
        project: &str,
        req: &CreateJwkRequest,
    ) -> Result<(Jwk, SourceRec)> {
        let source_type = non_blank(&req.source_type)
            .ok_or_else(|| RegistryError::bad_request("Source type is required!"))?;
        let mut source = SourceRec {
            source_type: source_type.to_owned(),
            name: None,
            environment_name: None,
            alias_name: None,
            url: None,
            url_options: None,
            kid: non_blank(&req.kid).map(str::to_owned),
            set_kids: Vec::new(),
            etag: None,
        };
        let kid = non_blank(&req.kid);
        let jwk = match source_type {
            "URL" => {
                let url = non_blank(&req.url).ok_or_else(|| {
                    RegistryError::bad_request("URL is required for URL source type!")
                })?;
                let max_ms = self.config.max_fetch_timeout_ms;
                let max_size = self.config.max_fetch_size;
                let options = (
                    bounded(
                        "urlOptionConnectTimeout",
                        req.url_option_connect_timeout,
                        jwk_fetch::DEFAULT_CONNECT_TIMEOUT_MS,
                        max_ms,
                        "milliseconds",
                    )?,
                    bounded(
                        "urlOptionReadTimeout",
                        req.url_option_read_timeout,
                        jwk_fetch::DEFAULT_READ_TIMEOUT_MS,
                        max_ms,
                        "milliseconds",
                    )?,
                    bounded(
                        "urlOptionSizeLimit",
                        req.url_option_size_limit,
                        jwk_fetch::DEFAULT_SIZE_LIMIT,
                        max_size,
                        "bytes",
                    )?,
                );
                source.url = Some(url.to_owned());
                source.url_options = Some(options);
                let (jwk, set_kids, etag) =
                    self.fetch_url(url, options, kid, None)?.ok_or_else(|| {
                        RegistryError::bad_request(
                            "The URL answered 304 Not Modified to a first fetch!",
                        )
                    })?;
                source.set_kids = set_kids;
                source.etag = etag;
                let mut jwk = jwk;
                apply_usage(&mut jwk, req, "URL", false)?;
                jwk
            }
            "COPY_PASTE" => {
                let text = non_blank(&req.jwk_str).ok_or_else(|| {
                    RegistryError::bad_request("JWK string is required for COPY_PASTE source type!")
                })?;
                let mut jwk = jwk_core::select_from_json(text, kid)?;
                apply_usage(&mut jwk, req, "COPY_PASTE", false)?;
                jwk
            }
            "CERTIFICATE" => {
                let name = non_blank(&req.certificate_name).ok_or_else(|| {
                    RegistryError::bad_request(
                        "Certificate name is required for CERTIFICATE source type!",
                    )
                })?;
                let env = self.source_environment(req, "CERTIFICATE")?;
                let cert = self
                    .secret(project, "certificate", &env, name)?
                    .ok_or_else(|| {
                        RegistryError::bad_request(format!(
                            "Certificate (name: {name}) is not found!"
                        ))
                    })?;
                let content = self.secret_content(&cert)?;
                let mut jwk = jwk_core::import(&content, &ImportOptions::default())?;
                apply_usage(&mut jwk, req, "CERTIFICATE", true)?;
                source.name = Some(name.to_owned());
                source.environment_name = Some(env);
                jwk
            }
            "PUBLIC_KEY" | "PRIVATE_KEY" => {
                let kind = if source_type == "PUBLIC_KEY" {
                    "public-key"
                } else {
                    "private-key"
                };
                let name = non_blank(&req.key_name).ok_or_else(|| {
                    RegistryError::bad_request(format!(
                        "Key name is required for {source_type} source type!"
                    ))
                })?;
                let env = self.source_environment(req, source_type)?;
                let key = self.secret(project, kind, &env, name)?.ok_or_else(|| {
                    RegistryError::bad_request(format!("Key (name: {name}) is not found!"))
                })?;
                let content = self.secret_content(&key)?;
                let password = self.secret_password(&key)?;
                let opts = ImportOptions {
                    password: password.as_deref().map(String::as_str),
                    ..ImportOptions::default()
                };
                let mut jwk = jwk_core::import(&content, &opts)?;
                apply_usage(&mut jwk, req, source_type, true)?;
                source.name = Some(name.to_owned());
                source.environment_name = Some(env);
                jwk
            }
            "KEYSTORE" => {
                let name = non_blank(&req.key_store_name).ok_or_else(|| {
                    RegistryError::bad_request(
                        "Keystore name is required for KEYSTORE source type!",
                    )
                })?;
                let env = self.source_environment(req, "KEYSTORE")?;
                let alias = non_blank(&req.alias_name).ok_or_else(|| {
                    RegistryError::bad_request("Alias name is required for KEYSTORE source type!")
                })?;
                let ks = self
                    .secret(project, "keystore", &env, name)?
                    .ok_or_else(|| {
                        RegistryError::bad_request(format!("Keystore (name: {name}) is not found!"))
                    })?;
                let content = self.secret_content(&ks)?;
                let password = self.secret_password(&ks)?;
                let opts = ImportOptions {
                    password: password.as_deref().map(String::as_str),
                    alias: Some(alias),
                    ..ImportOptions::default()
                };
                let mut jwk = jwk_core::import(&content, &opts).map_err(|e| match e {
                    jwk_core::Error::AliasNotFound { .. } => RegistryError::bad_request(format!(
                        "Alias (name: {alias}) is not found in keystore (name: {name})!"
                    )),
                    other => other.into(),
                })?;
                apply_usage(&mut jwk, req, "KEYSTORE", true)?;
                source.name = Some(name.to_owned());
                source.environment_name = Some(env);
                source.alias_name = Some(alias.to_owned());
                jwk
            }
            "GENERATE" => {
                return Err(RegistryError::bad_request(
                    "For GENERATE source type, use the Generate JWK endpoint!",
                ));
            }
            other => {
                return Err(RegistryError::bad_request(format!(
                    "Source type ({other}) is not valid! Valid source types: URL, COPY_PASTE, CERTIFICATE, PUBLIC_KEY, PRIVATE_KEY, KEYSTORE"
                )));
            }
        };
        Ok((jwk, source))
    }

    /// Fetches a URL source: the selected key, (kid, thumbprint) of the set, the ETag.
    /// `None` when a conditional fetch found nothing new.
    #[allow(clippy::type_complexity)]
    pub(super) fn fetch_url(
        &self,
        url: &str,
        (connect, read, size): (u64, u64, u64),
        kid: Option<&str>,
        etag: Option<String>,
    ) -> Result<Option<(Jwk, Vec<(String, String)>, Option<String>)>> {
        let _slot = self.fetch_slot()?;
        let opts = jwk_fetch::FetchOptions {
            connect_timeout: Duration::from_millis(connect),
            read_timeout: Duration::from_millis(read),
            size_limit: size,
            if_none_match: etag,
            ..self.fetch_options()
        };
        let fetched = jwk_fetch::fetch(url, &opts)?;
        if fetched.not_modified {
            return Ok(None);
        }
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
        Ok(Some((jwk, kids, fetched.etag)))
    }
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
