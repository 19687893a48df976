//! The secrets store: certificates, public keys, private keys and keystores, per environment.
//! Private keys, keystores and every password are sealed with the master key.

use jwk_core::{ImportOptions, KdfLimits};

use super::command::{KeyKind, NewCertificate, NewKey, NewKeystore};
use super::{Actor, Registry, name_in, non_blank};
use crate::error::{RegistryError, Result};
use crate::model::{FORMAT, SecretRec, encode, keys, load};
use crate::perm::SECRETS_MANAGE;
use crate::store::Txn;

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
    fn add_secret(&self, actor: &Actor, project: &str, new: NewSecret<'_>) -> Result<u64> {
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
        })
    }

    /// The common checks: permission, name, environment. The name and environment as given.
    pub(super) fn secret_preamble<'a>(
        &self,
        actor: &Actor,
        project: &str,
        what: &str,
        name: &'a str,
        env: &'a str,
    ) -> Result<(&'a str, &'a str)> {
        self.require(actor, project, SECRETS_MANAGE)?;
        let name = name_in(what, name)?
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
    pub(super) fn add_certificate(
        &self,
        actor: &Actor,
        project: &str,
        new: &NewCertificate,
    ) -> Result<u64> {
        let (name, env) =
            self.secret_preamble(actor, project, "Certificate", &new.name, &new.environment)?;
        let pem = non_blank(&new.pem)
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
    pub(super) fn add_key(&self, actor: &Actor, project: &str, new: &NewKey) -> Result<u64> {
        let (name, env) =
            self.secret_preamble(actor, project, "Key", &new.name, &new.environment)?;
        let pem = non_blank(&new.pem)
            .ok_or_else(|| RegistryError::bad_request("Key content (pem) is required!"))?;
        let password = new.password.as_deref().filter(|p| !p.is_empty());
        let jwk = jwk_core::import(
            pem.as_bytes(),
            &ImportOptions {
                password,
                ..ImportOptions::default()
            },
        )?;
        let kind = match (new.kind, jwk.is_private()) {
            (KeyKind::Public, true) => {
                return Err(RegistryError::bad_request(format!(
                    "Key (name: {name}) is a private key; add it with keyType PRIVATE!"
                )));
            }
            (KeyKind::Private, false) => {
                return Err(RegistryError::bad_request(format!(
                    "Key (name: {name}) is a public key; add it with keyType PUBLIC!"
                )));
            }
            (KeyKind::Public, false) => "public-key",
            (KeyKind::Private, true) => "private-key",
        };
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

    /// Adds a PKCS#12 or JKS keystore (checked to open with its password).
    pub(super) fn add_keystore(
        &self,
        actor: &Actor,
        project: &str,
        new: &NewKeystore,
    ) -> Result<u64> {
        let (name, env) =
            self.secret_preamble(actor, project, "Keystore", &new.name, &new.environment)?;
        jwk_core::keystore_entries(&new.content, new.password.as_deref(), &KdfLimits::default())?;
        self.add_secret(
            actor,
            project,
            NewSecret {
                what: "Keystore",
                kind: "keystore",
                name,
                env,
                content: &new.content,
                password: Some(new.password.as_deref().unwrap_or("")),
            },
        )
    }
}
