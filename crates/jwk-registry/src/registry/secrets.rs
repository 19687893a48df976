//! The secrets store: certificates, public keys, private keys and keystores, per environment:
//! add, list, read, replace and delete. Private keys, keystores and every password are sealed
//! with the master key; nothing private is ever shown.

use jwk_core::{ImportOptions, KdfLimits};
use serde::{Deserialize, Serialize};

use super::command::{KeyKind, NewCertificate, NewKey, NewKeystore};
use super::{Actor, Change, Registry, name_in, non_blank};
use crate::error::{RegistryError, Result};
use crate::model::{FORMAT, SecretRec, encode, keys, load, load_all};
use crate::perm::{SECRETS_MANAGE, SECRETS_VIEW};
use crate::store::Txn;

/// What a secret is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum SecretKind {
    /// An X.509 certificate.
    Certificate,
    /// A public key.
    PublicKey,
    /// A private key (stored sealed).
    PrivateKey,
    /// A PKCS#12 or JKS keystore (stored sealed).
    Keystore,
}

impl SecretKind {
    const ALL: [SecretKind; 4] = [
        SecretKind::Certificate,
        SecretKind::PublicKey,
        SecretKind::PrivateKey,
        SecretKind::Keystore,
    ];

    /// The kind as store keys write it.
    pub(crate) fn stored(self) -> &'static str {
        match self {
            SecretKind::Certificate => "certificate",
            SecretKind::PublicKey => "public-key",
            SecretKind::PrivateKey => "private-key",
            SecretKind::Keystore => "keystore",
        }
    }

    fn from_stored(kind: &str) -> Option<SecretKind> {
        SecretKind::ALL.into_iter().find(|k| k.stored() == kind)
    }

    /// The product's word in messages: "Certificate", "Key" or "Keystore".
    pub fn what(self) -> &'static str {
        self.class().what()
    }

    /// The class whose names are unique per project and environment.
    pub fn class(self) -> SecretClass {
        match self {
            SecretKind::Certificate => SecretClass::Certificate,
            SecretKind::PublicKey | SecretKind::PrivateKey => SecretClass::Key,
            SecretKind::Keystore => SecretClass::Keystore,
        }
    }

    /// The JWK source type that reads this kind (`CERTIFICATE`, `PUBLIC_KEY`, …).
    pub fn source_type(self) -> &'static str {
        match self {
            SecretKind::Certificate => "CERTIFICATE",
            SecretKind::PublicKey => "PUBLIC_KEY",
            SecretKind::PrivateKey => "PRIVATE_KEY",
            SecretKind::Keystore => "KEYSTORE",
        }
    }

    fn sealed(self) -> bool {
        matches!(self, SecretKind::PrivateKey | SecretKind::Keystore)
    }
}

/// Certificates, keys (public and private share their names) and keystores: names are
/// unique per class, project and environment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SecretClass {
    /// Certificates.
    Certificate,
    /// Public and private keys.
    Key,
    /// Keystores.
    Keystore,
}

impl SecretClass {
    /// The product's word: "Certificate", "Key" or "Keystore".
    pub fn what(self) -> &'static str {
        match self {
            SecretClass::Certificate => "Certificate",
            SecretClass::Key => "Key",
            SecretClass::Keystore => "Keystore",
        }
    }

    fn kinds(self) -> &'static [SecretKind] {
        match self {
            SecretClass::Certificate => &[SecretKind::Certificate],
            SecretClass::Key => &[SecretKind::PublicKey, SecretKind::PrivateKey],
            SecretClass::Keystore => &[SecretKind::Keystore],
        }
    }
}

/// A secret named by its class, environment and name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretName {
    /// Certificate, key or keystore.
    pub class: SecretClass,
    /// The environment.
    pub environment: String,
    /// The name.
    pub name: String,
}

/// A secret as List and Get show it: never private material or a password.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SecretView {
    /// The name.
    pub name: String,
    /// CERTIFICATE, PUBLIC_KEY, PRIVATE_KEY or KEYSTORE.
    #[serde(rename = "type")]
    pub kind: SecretKind,
    /// The environment.
    pub environment_name: String,
    /// SHA-256, lower-case hex: of the DER certificate, of the keystore file, or for a key the
    /// RFC 7638 thumbprint of its public key (base64url).
    pub fingerprint: String,
    /// What a certificate says about itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateView>,
    /// A key's (or a certificate's) type and size or curve: "RSA 2048", "EC P-256", …
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_type: Option<String>,
    /// A keystore's entries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entries: Option<Vec<KeystoreEntryView>>,
    /// The JWKs created from this secret and still attached to it, sorted.
    pub attached_jwks: Vec<String>,
    /// Get only: the PEM of a certificate or a public key.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pem: Option<String>,
}

/// Subject, issuer and validity of a certificate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CertificateView {
    /// RFC 4514 subject.
    pub subject: String,
    /// RFC 4514 issuer.
    pub issuer: String,
    /// RFC 3339.
    pub not_before: String,
    /// RFC 3339.
    pub not_after: String,
    /// Lower-case hex.
    pub serial: String,
}

/// One entry of a keystore.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeystoreEntryView {
    /// Its alias (none for an entry without one).
    pub alias: Option<String>,
    /// PRIVATE_KEY, SECRET_KEY or CERTIFICATE.
    pub entry_type: String,
    /// "RSA 2048", "EC P-256", "oct 256", …
    pub key_type: String,
}

/// What listings show of a secret, worked out once when it is stored (listing never opens a
/// sealed key or runs a keystore's key derivation).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecretFacts {
    /// See [`SecretView::fingerprint`].
    pub fingerprint: String,
    /// See [`SecretView::key_type`].
    pub key_type: Option<String>,
    /// See [`SecretView::certificate`].
    pub certificate: Option<CertificateView>,
    /// See [`SecretView::entries`].
    pub entries: Option<Vec<KeystoreEntryView>>,
}

/// The facts of a keystore from its file and its entries.
fn keystore_facts(content: &[u8], entries: Vec<jwk_core::KeystoreEntry>) -> SecretFacts {
    SecretFacts {
        fingerprint: sha256_hex(content),
        key_type: None,
        certificate: None,
        entries: Some(
            entries
                .into_iter()
                .map(|e| KeystoreEntryView {
                    alias: e.alias,
                    entry_type: match (e.secret, e.private) {
                        (true, _) => "SECRET_KEY",
                        (false, true) => "PRIVATE_KEY",
                        (false, false) => "CERTIFICATE",
                    }
                    .to_owned(),
                    key_type: e.key_type,
                })
                .collect(),
        ),
    }
}

/// The facts of a certificate or key from the JWK it imports as.
fn key_facts(
    kind: SecretKind,
    jwk: &jwk_core::Jwk,
) -> std::result::Result<SecretFacts, jwk_core::Error> {
    let certificate = match jwk.params().x5c.as_ref().and_then(|c| c.first()) {
        Some(der) if kind == SecretKind::Certificate => {
            Some(jwk_core::CertificateInfo::from_der(der)?)
        }
        _ => None,
    };
    Ok(SecretFacts {
        fingerprint: match &certificate {
            Some(info) => info.sha256_fingerprint.clone(),
            None => crate::deploy::thumbprint(jwk),
        },
        key_type: Some(jwk.key().summary()),
        certificate: certificate.map(|info| CertificateView {
            subject: info.subject,
            issuer: info.issuer,
            not_before: info.not_before,
            not_after: info.not_after,
            serial: info.serial,
        }),
        entries: None,
    })
}

/// The facts of stored content (records from before the facts were stored with it).
fn facts_of(
    kind: SecretKind,
    content: &[u8],
    password: Option<&str>,
) -> std::result::Result<SecretFacts, jwk_core::Error> {
    if kind == SecretKind::Keystore {
        let entries = jwk_core::keystore_entries(content, password, &KdfLimits::default())?;
        return Ok(keystore_facts(content, entries));
    }
    let jwk = jwk_core::import(
        content,
        &ImportOptions {
            password,
            ..ImportOptions::default()
        },
    )?;
    key_facts(kind, &jwk)
}

/// A secret's content checked as the add and replace of its kind require.
struct Checked {
    kind: SecretKind,
    name: String,
    environment: String,
    content: Vec<u8>,
    password: Option<String>,
    /// Worked out from what the checks parsed.
    facts: SecretFacts,
    /// The actor's permissions in the project.
    perms: Vec<crate::perm::Permission>,
}

/// What a secret is after [`Registry::replace_secret`]: the JWKs that followed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RotatedJwk {
    /// The JWK's name.
    pub name: String,
    /// Its thumbprint before (none for symmetric keys, whose thumbprint is a hash of the
    /// secret).
    pub old_thumbprint: Option<String>,
    /// Its thumbprint now.
    pub new_thumbprint: Option<String>,
}

/// The thumbprint a view may show: none for a symmetric key.
pub(crate) fn shown_thumbprint(jwk: &jwk_core::Jwk) -> Option<String> {
    (!matches!(jwk.key(), jwk_core::Key::Oct(_))).then(|| crate::deploy::thumbprint(jwk))
}

impl Registry {
    /// The common checks: permission, name, environment. The name and environment as given.
    pub(super) fn secret_preamble<'a>(
        &self,
        actor: &Actor,
        project: &str,
        what: &str,
        name: &'a str,
        env: &'a str,
    ) -> Result<(Vec<crate::perm::Permission>, &'a str, &'a str)> {
        let perms = self.require(actor, project, SECRETS_MANAGE)?;
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
        Ok((perms, name, env))
    }

    /// A certificate checked to parse as one.
    fn checked_certificate(
        &self,
        actor: &Actor,
        project: &str,
        new: &NewCertificate,
    ) -> Result<Checked> {
        let (perms, name, env) =
            self.secret_preamble(actor, project, "Certificate", &new.name, &new.environment)?;
        let pem = non_blank(&new.pem)
            .ok_or_else(|| RegistryError::bad_request("Certificate content (pem) is required!"))?;
        let jwk = jwk_core::import(pem.as_bytes(), &ImportOptions::default())?;
        if jwk.params().x5c.is_none() {
            return Err(RegistryError::bad_request(
                "The certificate content is a key, not a certificate!",
            ));
        }
        Ok(Checked {
            facts: key_facts(SecretKind::Certificate, &jwk)?,
            kind: SecretKind::Certificate,
            name: name.to_owned(),
            environment: env.to_owned(),
            content: pem.as_bytes().to_vec(),
            password: None,
            perms,
        })
    }

    /// A public or private key checked to import (with its password) as the kind it is said
    /// to be.
    fn checked_key(&self, actor: &Actor, project: &str, new: &NewKey) -> Result<Checked> {
        let (perms, name, env) =
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
            (KeyKind::Public, false) => SecretKind::PublicKey,
            (KeyKind::Private, true) => SecretKind::PrivateKey,
        };
        Ok(Checked {
            facts: key_facts(kind, &jwk)?,
            kind,
            name: name.to_owned(),
            environment: env.to_owned(),
            content: pem.as_bytes().to_vec(),
            password: password.map(str::to_owned),
            perms,
        })
    }

    /// A PKCS#12 or JKS keystore checked to open with its password.
    fn checked_keystore(&self, actor: &Actor, project: &str, new: &NewKeystore) -> Result<Checked> {
        let (perms, name, env) =
            self.secret_preamble(actor, project, "Keystore", &new.name, &new.environment)?;
        let entries = jwk_core::keystore_entries(
            &new.content,
            new.password.as_deref(),
            &KdfLimits::default(),
        )?;
        Ok(Checked {
            facts: keystore_facts(&new.content, entries),
            kind: SecretKind::Keystore,
            name: name.to_owned(),
            environment: env.to_owned(),
            content: new.content.clone(),
            password: Some(new.password.clone().unwrap_or_default()),
            perms,
        })
    }

    /// The record of a checked secret: private kinds and passwords sealed.
    fn secret_record(&self, checked: &Checked) -> Result<SecretRec> {
        let sealed = checked.kind.sealed();
        Ok(SecretRec {
            facts: Some(serde_json::to_string(&checked.facts).map_err(|e| {
                RegistryError::internal(format!("the facts of a secret do not write: {e}"))
            })?),
            v: FORMAT,
            kind: checked.kind.stored().to_owned(),
            name: checked.name.clone(),
            environment: checked.environment.clone(),
            content: if sealed {
                self.key().seal(&checked.content)?
            } else {
                String::from_utf8_lossy(&checked.content).into_owned()
            },
            sealed,
            password: checked
                .password
                .as_deref()
                .map(|p| self.key().seal(p.as_bytes()))
                .transpose()?,
        })
    }

    /// Stores a new secret; a key's name may be neither a public nor a private key's yet.
    fn add_checked(&self, actor: &Actor, project: &str, checked: Checked) -> Result<u64> {
        let rec = self.secret_record(&checked)?;
        let Checked {
            kind,
            name,
            environment,
            ..
        } = checked;
        let taken = || {
            RegistryError::bad_request(format!("{} (name: {name}) is already exist!", kind.what()))
        };
        let mut txn = Txn::new();
        for other in kind.class().kinds() {
            txn = txn.absent(keys::secret(project, other.stored(), &environment, &name));
        }
        let key = keys::secret(project, kind.stored(), &environment, &name);
        let txn = txn.put(key, encode(&rec));
        let action = format!("{}.create", kind.stored());
        let txn = self.audit(txn, actor, &action, Some(project), &name)?;
        self.commit(txn, taken)
    }

    /// Checks new content as the add and replace of its kind require.
    fn checked(&self, actor: &Actor, project: &str, new: SecretContent<'_>) -> Result<Checked> {
        match new {
            SecretContent::Certificate(c) => self.checked_certificate(actor, project, c),
            SecretContent::Key(k) => self.checked_key(actor, project, k),
            SecretContent::Keystore(k) => self.checked_keystore(actor, project, k),
        }
    }

    /// Adds a certificate (checked to parse as one), a key (checked to import with its
    /// password as the kind it is said to be) or a keystore (checked to open with its
    /// password).
    pub(super) fn add_secret(
        &self,
        actor: &Actor,
        project: &str,
        new: SecretContent<'_>,
    ) -> Result<u64> {
        let checked = self.checked(actor, project, new)?;
        self.add_checked(actor, project, checked)
    }

    /// The stored secret a name denotes, its store key and revision; `None` when there is
    /// none. Of the two key kinds, the one that exists (keys added before names were unique
    /// across both: the public one first).
    pub(crate) fn find_secret(
        &self,
        project: &str,
        secret: &SecretName,
    ) -> Result<Option<(SecretKind, SecretRec, String, u64)>> {
        for kind in secret.class.kinds() {
            let key = keys::secret(project, kind.stored(), &secret.environment, &secret.name);
            if let Some((rec, revision)) = load::<SecretRec>(&**self.store(), &key)? {
                return Ok(Some((*kind, rec, key, revision)));
            }
        }
        Ok(None)
    }

    /// The product's answer for a change that names a missing secret.
    fn secret_not_found(secret: &SecretName) -> RegistryError {
        RegistryError::bad_request(format!(
            "{} (name: {}) is not found!",
            secret.class.what(),
            secret.name
        ))
    }

    /// The JWKs of `project` created from the secret and still attached to it: (store key,
    /// record, revision).
    fn attached_jwks(
        &self,
        project: &str,
        kind: SecretKind,
        rec: &SecretRec,
    ) -> Result<Vec<(String, crate::model::JwkRec, u64)>> {
        let mut attached: Vec<_> =
            load_all::<crate::model::JwkRec>(&**self.store(), &keys::jwks(project))?
                .into_iter()
                .filter(|(_, jwk, _)| {
                    attachment(jwk)
                        == Some((
                            kind.source_type(),
                            rec.environment.as_str(),
                            rec.name.as_str(),
                        ))
                })
                .collect();
        // By name: the first JWK a new key does not fit is the one a refusal names.
        attached.sort_by(|a, b| a.1.name.cmp(&b.1.name));
        Ok(attached)
    }

    /// Replaces a secret's content (the same checks as when it was added) and, in the same
    /// transaction, re-derives every JWK still attached to it: same name, the kid the import
    /// gives, its use and algorithm kept and checked against the new key. A JWK the new key
    /// does not fit refuses the whole replacement, naming the JWK.
    pub(super) fn replace_secret(
        &self,
        actor: &Actor,
        project: &str,
        new: SecretContent<'_>,
    ) -> Result<(u64, Vec<RotatedJwk>, Option<Change>)> {
        let checked = self.checked(actor, project, new)?;
        let perms = &checked.perms;
        let rec = self.secret_record(&checked)?;
        let named = SecretName {
            class: checked.kind.class(),
            environment: checked.environment.clone(),
            name: checked.name.clone(),
        };
        let what = checked.kind.what();
        let mut rotated = Vec::new();
        let committed = self.commit_always(&format!("{what} (name: {})", named.name), || {
            let (old_kind, _, key, revision) = self
                .find_secret(project, &named)?
                .ok_or_else(|| Self::secret_not_found(&named))?;
            if old_kind != checked.kind {
                return Err(RegistryError::bad_request(format!(
                    "Key (name: {}) is a {} key; replace it with keyType {}!",
                    named.name,
                    if old_kind == SecretKind::PublicKey {
                        "public"
                    } else {
                        "private"
                    },
                    if old_kind == SecretKind::PublicKey {
                        "PUBLIC"
                    } else {
                        "PRIVATE"
                    },
                )));
            }
            let mut txn = Txn::new().at(key.clone(), revision).put(key, encode(&rec));
            rotated.clear();
            for (jwk_key, mut jwk_rec, jwk_revision) in
                self.attached_jwks(project, checked.kind, &rec)?
            {
                let refused = |e: RegistryError| {
                    RegistryError::bad_request(format!(
                        "JWK (name: {}) can not follow the new {}: {e}",
                        jwk_rec.name,
                        what.to_lowercase()
                    ))
                };
                let old = self.open_jwk(&jwk_rec)?;
                let alias = jwk_rec.source.as_ref().and_then(|s| s.alias_name.clone());
                let mut jwk = self
                    .import_secret(&rec, alias.as_deref())
                    .map_err(refused)?;
                let params = old.params();
                match (&params.key_use, &params.alg) {
                    (Some(u), Some(alg)) => match jwk_core::Usage::parse(u.as_str()) {
                        Some(usage) => jwk.set_usage(usage, alg),
                        None => jwk.set_algorithm(alg),
                    },
                    (None, Some(alg)) => jwk.set_algorithm(alg),
                    (Some(u), None) => {
                        jwk.params_mut().key_use = Some(u.clone());
                        Ok(())
                    }
                    (None, None) => Ok(()),
                }
                .map_err(|e| refused(e.into()))?;
                rotated.push(RotatedJwk {
                    name: jwk_rec.name.clone(),
                    old_thumbprint: shown_thumbprint(&old),
                    new_thumbprint: shown_thumbprint(&jwk),
                });
                jwk_rec.public_jwk = super::sources::public_view(&jwk);
                jwk_rec.sealed_jwk = self.key().seal(jwk.to_json().as_bytes())?;
                jwk_rec.private = jwk.is_private();
                txn = txn
                    .at(jwk_key.clone(), jwk_revision)
                    .put(jwk_key, encode(&jwk_rec));
            }
            let txn = self.approved_if(txn, perms, crate::perm::SECRETS_DEPLOY)?;
            let action = format!("{}.replace", checked.kind.stored());
            self.audit(txn, actor, &action, Some(project), &named.name)
        })?;
        rotated.sort_by(|a, b| a.name.cmp(&b.name));
        // Deployed only when JWKs followed: nothing else a secret holds is served.
        let change = (!rotated.is_empty())
            .then(|| self.change_to_deploy(perms, crate::perm::SECRETS_DEPLOY, Some(committed)));
        Ok((committed, rotated, change))
    }

    /// Deletes a secret. Refused while JWKs are attached to it, naming them, unless `detach`:
    /// then they are detached (they keep their keys) in the same transaction.
    pub(super) fn delete_secret(
        &self,
        actor: &Actor,
        project: &str,
        secret: &SecretName,
        detach: bool,
    ) -> Result<(u64, Vec<String>)> {
        let perms = self.require(actor, project, SECRETS_MANAGE)?;
        let mut detached = Vec::new();
        let what = secret.class.what();
        let committed = self.commit_always(&format!("{what} (name: {})", secret.name), || {
            let (kind, rec, key, revision) = self
                .find_secret(project, secret)?
                .ok_or_else(|| Self::secret_not_found(secret))?;
            let attached = self.attached_jwks(project, kind, &rec)?;
            let mut names: Vec<String> = attached.iter().map(|(_, j, _)| j.name.clone()).collect();
            names.sort();
            if !attached.is_empty() && !detach {
                return Err(RegistryError::bad_request(format!(
                    "{what} (name: {}) is used by JWK ({}): delete those JWKs, or delete the {} with detach to keep them without their source!",
                    secret.name,
                    names.join(", "),
                    what.to_lowercase()
                )));
            }
            let mut txn = Txn::new().at(key.clone(), revision).delete(key);
            let now = super::now_rfc3339();
            for (jwk_key, mut jwk_rec, jwk_revision) in attached {
                jwk_rec.source = None;
                jwk_rec.detached_at = Some(now.clone());
                txn = txn
                    .at(jwk_key.clone(), jwk_revision)
                    .put(jwk_key, encode(&jwk_rec));
            }
            detached = names;
            let txn = self.approved_if(txn, &perms, crate::perm::SECRETS_DEPLOY)?;
            let action = format!("{}.delete", kind.stored());
            self.audit(txn, actor, &action, Some(project), &secret.name)
        })?;
        Ok((committed, detached))
    }

    /// The secrets of a project (of one environment, when given), sorted by environment,
    /// type and name. Needs SECRETS+VIEW.
    pub fn list_secrets(
        &self,
        actor: &Actor,
        project: &str,
        environment: Option<&str>,
    ) -> Result<Vec<SecretView>> {
        self.require(actor, project, SECRETS_VIEW)?;
        // The JWKs attached to each secret, from one scan of the project's JWKs.
        let jwks = load_all::<crate::model::JwkRec>(&**self.store(), &keys::jwks(project))?;
        let secrets = load_all::<SecretRec>(&**self.store(), &keys::secrets(project))?;
        let mut attached: std::collections::HashMap<(&str, &str, &str), Vec<String>> =
            std::collections::HashMap::new();
        for (_, jwk, _) in &jwks {
            if let Some(place) = attachment(jwk) {
                attached.entry(place).or_default().push(jwk.name.clone());
            }
        }
        let mut out = Vec::new();
        for (_, rec, _) in &secrets {
            if environment.is_some_and(|e| e != rec.environment) {
                continue;
            }
            let kind = stored_kind(rec)?;
            let place = (
                kind.source_type(),
                rec.environment.as_str(),
                rec.name.as_str(),
            );
            let mut names = attached.remove(&place).unwrap_or_default();
            names.sort();
            out.push(self.secret_view(kind, rec, names, false)?);
        }
        out.sort_by(|a, b| {
            (&a.environment_name, a.kind.stored(), &a.name).cmp(&(
                &b.environment_name,
                b.kind.stored(),
                &b.name,
            ))
        });
        Ok(out)
    }

    /// One secret, with the PEM of a certificate or a public key. Needs SECRETS+VIEW; a
    /// secret that does not exist is 404.
    pub fn get_secret(
        &self,
        actor: &Actor,
        project: &str,
        secret: &SecretName,
    ) -> Result<SecretView> {
        self.require(actor, project, SECRETS_VIEW)?;
        let (kind, rec, _, _) = self
            .find_secret(project, secret)?
            .ok_or_else(|| RegistryError::not_found(Self::secret_not_found(secret).to_string()))?;
        let attached = self.attached_names(project, kind, &rec)?;
        self.secret_view(kind, &rec, attached, true)
    }

    fn secret_view(
        &self,
        kind: SecretKind,
        rec: &SecretRec,
        attached_jwks: Vec<String>,
        with_pem: bool,
    ) -> Result<SecretView> {
        let unreadable = |e: jwk_core::Error| {
            RegistryError::internal(format!("the stored secret {} does not read: {e}", rec.name))
        };
        let stored = rec
            .facts
            .as_deref()
            .and_then(|f| serde_json::from_str::<SecretFacts>(f).ok());
        let facts = match stored {
            Some(facts) => facts,
            // Stored before facts were recorded: worked out now.
            None => {
                let content = self.secret_content(rec)?;
                let password = self.secret_password(rec)?;
                facts_of(kind, &content, password.as_deref().map(String::as_str))
                    .map_err(unreadable)?
            }
        };
        let pem = match kind {
            SecretKind::Certificate if with_pem => {
                let content = self.secret_content(rec)?;
                let jwk =
                    jwk_core::import(&content, &ImportOptions::default()).map_err(unreadable)?;
                jwk.params()
                    .x5c
                    .as_ref()
                    .and_then(|c| c.first())
                    .map(|der| pem_block("CERTIFICATE", der))
            }
            SecretKind::PublicKey if with_pem => Some(
                String::from_utf8_lossy(&self.secret_content(rec)?)
                    .trim()
                    .to_owned(),
            ),
            _ => None,
        };
        Ok(SecretView {
            name: rec.name.clone(),
            kind,
            environment_name: rec.environment.clone(),
            fingerprint: facts.fingerprint,
            certificate: facts.certificate,
            key_type: facts.key_type,
            entries: facts.entries,
            attached_jwks,
            pem,
        })
    }

    /// The names of the JWKs attached to `rec`, sorted.
    fn attached_names(
        &self,
        project: &str,
        kind: SecretKind,
        rec: &SecretRec,
    ) -> Result<Vec<String>> {
        Ok(self
            .attached_jwks(project, kind, rec)?
            .into_iter()
            .map(|(_, j, _)| j.name)
            .collect())
    }
}

/// The kind a stored secret says it is.
fn stored_kind(rec: &SecretRec) -> Result<SecretKind> {
    SecretKind::from_stored(&rec.kind).ok_or_else(|| {
        RegistryError::internal(format!("the stored secret {} has no known kind", rec.name))
    })
}

/// The secret a JWK is attached to: (source type, environment, name); `None` for a detached
/// JWK or one from a URL, a paste or generation.
fn attachment(jwk: &crate::model::JwkRec) -> Option<(&str, &str, &str)> {
    let source = jwk.source.as_ref()?;
    Some((
        source.source_type.as_str(),
        source.environment_name.as_deref()?,
        source.name.as_deref()?,
    ))
}

/// New content for a secret ([`Registry::add_secret`], [`Registry::replace_secret`]).
pub(super) enum SecretContent<'a> {
    Certificate(&'a NewCertificate),
    Key(&'a NewKey),
    Keystore(&'a NewKeystore),
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A PEM block of `der`, lines of 64 characters.
fn pem_block(label: &str, der: &[u8]) -> String {
    use base64ct::{Base64, Encoding};
    let body = Base64::encode_string(der);
    let mut out = format!("-----BEGIN {label}-----\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push('\n');
    }
    out.push_str(&format!("-----END {label}-----\n"));
    out
}
