//! The secrets store: certificates, public keys, private keys and keystores, per environment.
//! Private keys, keystores and every password are sealed with the master key.

use base64ct::{Base64, Encoding};
use jwk_core::{ImportOptions, KdfLimits};
use serde::Deserialize;

use super::{Actor, Registry, name_in, non_blank};
use crate::error::{RegistryError, Result};
use crate::model::{FORMAT, SecretRec, encode, keys, load};
use crate::perm::SECRETS_MANAGE;
use crate::store::Txn;

/// `POST …/certificates/`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddCertificateRequest {
    /// Name.
    pub name: Option<String>,
    /// Environment.
    pub environment_name: Option<String>,
    /// PEM (or base64 DER) of the certificate.
    pub pem: Option<String>,
}

/// `POST …/keys/`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddKeyRequest {
    /// Name.
    pub name: Option<String>,
    /// Environment.
    pub environment_name: Option<String>,
    /// PUBLIC or PRIVATE.
    pub key_type: Option<String>,
    /// PEM of the key.
    pub pem: Option<String>,
    /// Password of an encrypted private key.
    pub password: Option<String>,
}

/// `POST …/keystores/`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddKeystoreRequest {
    /// Name.
    pub name: Option<String>,
    /// Environment.
    pub environment_name: Option<String>,
    /// The PKCS#12 file, base64.
    pub content_base64: Option<String>,
    /// Its password.
    pub password: Option<String>,
}

/// A secret about to be stored.
struct NewSecret<'a> {
    what: &'a str,
    kind: &'a str,
    name: &'a str,
    env: &'a str,
    content: &'a [u8],
    password: Option<&'a str>,
}

impl Registry {
    fn add_secret(&self, actor: &Actor, project: &str, new: NewSecret<'_>) -> Result<()> {
        let NewSecret {
            what,
            kind,
            name,
            env,
            content,
            password,
        } = new;
        let sealed = kind != "certificate" && kind != "public-key";
        let rec = SecretRec {
            v: FORMAT,
            kind: kind.to_owned(),
            name: name.to_owned(),
            environment: env.to_owned(),
            content: if sealed {
                self.key().seal(content)?
            } else {
                String::from_utf8_lossy(content).into_owned()
            },
            sealed,
            password: password
                .map(|p| self.key().seal(p.as_bytes()))
                .transpose()?,
        };
        let key = keys::secret(project, kind, env, name);
        let txn = Txn::new().absent(key.clone()).put(key, encode(&rec));
        let txn = self.audit(txn, actor, &format!("{kind}.create"), Some(project), name)?;
        self.commit(txn, || {
            RegistryError::bad_request(format!("{what} (name: {name}) is already exist!"))
        })?;
        Ok(())
    }

    /// The common checks: permission, name, environment. The name and environment as given.
    fn secret_preamble<'a>(
        &self,
        actor: &Actor,
        project: &str,
        what: &str,
        name: &'a Option<String>,
        env: &'a Option<String>,
    ) -> Result<(&'a str, &'a str)> {
        self.require(actor, project, SECRETS_MANAGE)?;
        let name = name_in(what, name.as_deref().unwrap_or_default())?
            .ok_or_else(|| RegistryError::bad_request(format!("{what} name can not be empty!")))?;
        let env = non_blank(env)
            .ok_or_else(|| RegistryError::bad_request("Environment name is required!"))?;
        if load::<crate::model::EnvironmentRec>(&**self.store(), &keys::environment(env))?.is_none()
        {
            return Err(RegistryError::bad_request(format!(
                "Environment (name: {env}) is not found!"
            )));
        }
        Ok((name, env))
    }

    /// Adds a certificate (checked to parse as one).
    pub fn add_certificate(
        &self,
        actor: &Actor,
        project: &str,
        req: &AddCertificateRequest,
    ) -> Result<()> {
        let (name, env) = self.secret_preamble(
            actor,
            project,
            "Certificate",
            &req.name,
            &req.environment_name,
        )?;
        let pem = non_blank(&req.pem)
            .ok_or_else(|| RegistryError::bad_request("Certificate content (pem) is required!"))?;
        let jwk = jwk_core::import(pem.as_bytes(), &ImportOptions::default())?;
        if jwk.params().x5c.is_none() {
            return Err(RegistryError::bad_request(
                "The certificate content is a key, not a certificate!",
            ));
        }
        self.add_secret(
            actor,
            project,
            NewSecret {
                what: "Certificate",
                kind: "certificate",
                name,
                env,
                content: pem.as_bytes(),
                password: None,
            },
        )
    }

    /// Adds a public or private key (checked to import with its password).
    pub fn add_key(&self, actor: &Actor, project: &str, req: &AddKeyRequest) -> Result<()> {
        let (name, env) =
            self.secret_preamble(actor, project, "Key", &req.name, &req.environment_name)?;
        let kind = match non_blank(&req.key_type) {
            Some("PUBLIC") => "public-key",
            Some("PRIVATE") => "private-key",
            Some(other) => {
                return Err(RegistryError::bad_request(format!(
                    "Key type ({other}) is not valid! Use PUBLIC or PRIVATE."
                )));
            }
            None => return Err(RegistryError::bad_request("Key type is required!")),
        };
        let pem = non_blank(&req.pem)
            .ok_or_else(|| RegistryError::bad_request("Key content (pem) is required!"))?;
        let password = req.password.as_deref().filter(|p| !p.is_empty());
        let jwk = jwk_core::import(
            pem.as_bytes(),
            &ImportOptions {
                password,
                ..ImportOptions::default()
            },
        )?;
        if kind == "public-key" && jwk.is_private() {
            return Err(RegistryError::bad_request(format!(
                "Key (name: {name}) is a private key; add it with keyType PRIVATE!"
            )));
        }
        if kind == "private-key" && !jwk.is_private() {
            return Err(RegistryError::bad_request(format!(
                "Key (name: {name}) is a public key; add it with keyType PUBLIC!"
            )));
        }
        self.add_secret(
            actor,
            project,
            NewSecret {
                what: "Key",
                kind,
                name,
                env,
                content: pem.as_bytes(),
                password,
            },
        )
    }

    /// Adds a PKCS#12 keystore (checked to open with its password).
    pub fn add_keystore(
        &self,
        actor: &Actor,
        project: &str,
        req: &AddKeystoreRequest,
    ) -> Result<()> {
        let (name, env) =
            self.secret_preamble(actor, project, "Keystore", &req.name, &req.environment_name)?;
        let content = non_blank(&req.content_base64).ok_or_else(|| {
            RegistryError::bad_request("Keystore content (contentBase64) is required!")
        })?;
        let der =
            zeroize::Zeroizing::new(Base64::decode_vec(content).map_err(|_| {
                RegistryError::bad_request("Keystore content is not valid base64!")
            })?);
        jwk_core::keystore_entries(&der, req.password.as_deref(), &KdfLimits::default())?;
        self.add_secret(
            actor,
            project,
            NewSecret {
                what: "Keystore",
                kind: "keystore",
                name,
                env,
                content: &der,
                password: Some(req.password.as_deref().unwrap_or("")),
            },
        )
    }
}
