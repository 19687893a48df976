//! Secrets-store changes: add, replace (the JWKs attached to a secret follow it) and delete
//! certificates, public and private keys and keystores, per environment. Private kinds and
//! every password are sealed with the master key.

use jwk_core::{ImportOptions, KdfLimits};

use super::{name_in, non_blank};
use crate::command::{KeyKind, NewCertificate, NewKey, NewKeystore, RotatedJwk};
use crate::error::{RegistryError, Result};
use crate::perm::{Area, Permission, SECRETS_MANAGE};
use crate::plan::{Audit, Ctx, Plan, Work};
use crate::records::{EnvironmentRec, FORMAT, JwkRec, SecretRec, encode, index, keys};
use crate::rules::secrets::{SecretFacts, key_facts, keystore_facts};
use crate::store::Txn;
use crate::types::{SecretKind, SecretName};

/// New content for a secret.
pub(super) enum SecretContent {
    Certificate(NewCertificate),
    Key(NewKey),
    Keystore(NewKeystore),
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
}

/// The common checks: permission, name, environment. The name and environment as given.
pub(crate) fn secret_preamble<'n>(
    ctx: &Ctx<'_>,
    project: &str,
    what: &str,
    name: &'n str,
    env: &'n str,
) -> Result<(Vec<Permission>, &'n str, &'n str)> {
    let perms = ctx.require(project, SECRETS_MANAGE)?;
    let name = name_in(what, name)?
        .ok_or_else(|| RegistryError::bad_request(format!("{what} name can not be empty!")))?;
    let env = non_blank(env)
        .ok_or_else(|| RegistryError::bad_request("Environment name is required!"))?;
    if ctx
        .load::<EnvironmentRec>(&keys::environment(env))?
        .is_none()
    {
        return Err(RegistryError::bad_request(format!(
            "Environment (name: {env}) is not found!"
        )));
    }
    Ok((perms, name, env))
}

/// Checks new content as the add and replace of its kind require: a certificate parses as
/// one, a key imports (with its password) as the kind it is said to be, a keystore opens
/// with its password.
fn checked(ctx: &Ctx<'_>, project: &str, new: &SecretContent) -> Result<Checked> {
    let unreadable = |e: jwk_core::Error| RegistryError::from(e);
    match new {
        SecretContent::Certificate(new) => {
            let (_, name, env) =
                secret_preamble(ctx, project, "Certificate", &new.name, &new.environment)?;
            let pem = non_blank(&new.pem).ok_or_else(|| {
                RegistryError::bad_request("Certificate content (pem) is required!")
            })?;
            let jwk = jwk_core::import(pem.as_bytes(), &ImportOptions::default())?;
            if jwk.params().x5c.is_none() {
                return Err(RegistryError::bad_request(
                    "The certificate content is a key, not a certificate!",
                ));
            }
            Ok(Checked {
                facts: key_facts(SecretKind::Certificate, &jwk).map_err(unreadable)?,
                kind: SecretKind::Certificate,
                name: name.to_owned(),
                environment: env.to_owned(),
                content: pem.as_bytes().to_vec(),
                password: None,
            })
        }
        SecretContent::Key(new) => {
            let (_, name, env) = secret_preamble(ctx, project, "Key", &new.name, &new.environment)?;
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
                facts: key_facts(kind, &jwk).map_err(unreadable)?,
                kind,
                name: name.to_owned(),
                environment: env.to_owned(),
                content: pem.as_bytes().to_vec(),
                password: password.map(str::to_owned),
            })
        }
        SecretContent::Keystore(new) => {
            let (_, name, env) =
                secret_preamble(ctx, project, "Keystore", &new.name, &new.environment)?;
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
            })
        }
    }
}

/// The record of a checked secret: private kinds and passwords sealed.
fn secret_record(ctx: &Ctx<'_>, checked: &Checked) -> Result<SecretRec> {
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
            ctx.key.seal(&checked.content)?
        } else {
            String::from_utf8_lossy(&checked.content).into_owned()
        },
        sealed,
        password: checked
            .password
            .as_deref()
            .map(|p| ctx.key.seal(p.as_bytes()))
            .transpose()?,
    })
}

/// Adds a secret; a key's name may be neither a public nor a private key's yet.
pub(super) fn add<'a>(ctx: &Ctx<'a>, project: String, new: SecretContent) -> Result<Work<'a>> {
    let checked = checked(ctx, &project, &new)?;
    let rec = secret_record(ctx, &checked)?;
    let Checked {
        kind,
        name,
        environment,
        ..
    } = checked;
    Ok(Work::new(
        format!("{} (name: {name})", kind.what()),
        move |ctx| {
            let mut txn = Txn::new();
            for other in kind.class().kinds() {
                let key = keys::secret(&project, other.stored(), &environment, &name);
                if ctx.store.get(key.as_bytes())?.is_some() {
                    return Err(RegistryError::bad_request(format!(
                        "{} (name: {name}) is already exist!",
                        kind.what()
                    )));
                }
                txn = txn.absent(key);
            }
            let key = keys::secret(&project, kind.stored(), &environment, &name);
            let txn = txn.put(key, encode(&rec));
            let action = format!("{}.create", kind.stored());
            Ok(Plan::new(txn, Audit::of(action, Some(&project), &name)))
        },
    ))
}

/// The stored secret a name denotes, its store key and revision; `None` when there is none.
/// Of the two key kinds, the one that exists (keys added before names were unique across
/// both: the public one first).
pub(crate) fn find_secret(
    ctx: &Ctx<'_>,
    project: &str,
    secret: &SecretName,
) -> Result<Option<(SecretKind, SecretRec, String, u64)>> {
    for kind in secret.class.kinds() {
        let key = keys::secret(project, kind.stored(), &secret.environment, &secret.name);
        if let Some((rec, revision)) = ctx.load::<SecretRec>(&key)? {
            return Ok(Some((*kind, rec, key, revision)));
        }
    }
    Ok(None)
}

/// The product's answer for a change that names a missing secret.
pub(crate) fn secret_not_found(secret: &SecretName) -> RegistryError {
    RegistryError::bad_request(format!(
        "{} (name: {}) is not found!",
        secret.class.what(),
        secret.name
    ))
}

/// The JWKs of `project` created from the secret and still attached to it: (store key,
/// record, revision), by name.
pub(crate) fn attached_jwks(
    ctx: &Ctx<'_>,
    project: &str,
    kind: SecretKind,
    rec: &SecretRec,
) -> Result<Vec<(String, JwkRec, u64)>> {
    let place = (
        kind.source_type(),
        rec.environment.as_str(),
        rec.name.as_str(),
    );
    let mut attached = Vec::new();
    for id in index::attached(ctx.store, project, place)? {
        let key = keys::jwk(project, &id);
        // Read again: the index names it, the record decides.
        if let Some((jwk, revision)) = ctx.load::<JwkRec>(&key)?
            && jwk.attachment() == Some(place)
        {
            attached.push((key, jwk, revision));
        }
    }
    // By name: the first JWK a new key does not fit is the one a refusal names.
    attached.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    Ok(attached)
}

/// Replaces a secret's content (the same checks as when it was added) and, in the same
/// transaction, re-derives every JWK still attached to it: same name, the kid the import
/// gives, its use and algorithm kept and checked against the new key. A JWK the new key does
/// not fit refuses the whole replacement, naming the JWK.
pub(super) fn replace<'a>(ctx: &Ctx<'a>, project: String, new: SecretContent) -> Result<Work<'a>> {
    let checked = checked(ctx, &project, &new)?;
    let rec = secret_record(ctx, &checked)?;
    let named = SecretName {
        class: checked.kind.class(),
        environment: checked.environment.clone(),
        name: checked.name.clone(),
    };
    let what = checked.kind.what();
    let kind = checked.kind;
    Ok(Work::new(
        format!("{what} (name: {})", named.name),
        move |ctx| {
            let (old_kind, _, key, revision) =
                find_secret(ctx, &project, &named)?.ok_or_else(|| secret_not_found(&named))?;
            if old_kind != kind {
                let (word, upper) = if old_kind == SecretKind::PublicKey {
                    ("public", "PUBLIC")
                } else {
                    ("private", "PRIVATE")
                };
                return Err(RegistryError::bad_request(format!(
                    "Key (name: {}) is a {word} key; replace it with keyType {upper}!",
                    named.name
                )));
            }
            let mut txn = Txn::new().at(key.clone(), revision).put(key, encode(&rec));
            let mut rotated = Vec::new();
            let mut ids = Vec::new();
            for (jwk_key, jwk_rec, jwk_revision) in attached_jwks(ctx, &project, kind, &rec)? {
                ids.push(jwk_rec.id.clone());
                let refused = |e: RegistryError| {
                    RegistryError::bad_request(format!(
                        "JWK (name: {}) can not follow the new {}: {e}",
                        jwk_rec.name,
                        what.to_lowercase()
                    ))
                };
                let old = ctx.open(&jwk_rec)?;
                let alias = jwk_rec.source.as_ref().and_then(|s| s.alias_name.clone());
                let mut jwk = ctx.import_secret(&rec, alias.as_deref()).map_err(refused)?;
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
                    old_thumbprint: crate::deploy::shown_thumbprint(&old),
                    new_thumbprint: crate::deploy::shown_thumbprint(&jwk),
                });
                let sealed = ctx.key.seal(jwk.to_json().as_bytes())?;
                (txn, _) = ctx.change_served(txn, &jwk_key, (jwk_rec, jwk_revision), |r| {
                    r.public_jwk = jwk.to_disclosable_json();
                    r.sealed_jwk = sealed.clone();
                    r.private = jwk.is_private();
                    Ok(())
                })?;
            }
            rotated.sort_by(|a, b| a.name.cmp(&b.name));
            let action = format!("{}.replace", kind.stored());
            // In the history of every JWK it changed, too.
            let mut audit = Audit::of(action, Some(&project), &named.name);
            audit.jwks = ids;
            let mut plan = Plan::new(txn, audit);
            // Deployed only when JWKs followed: nothing else a secret holds is served.
            if !rotated.is_empty() {
                plan = plan.deploys(&project, Area::Secrets);
            }
            plan.answer.rotated = rotated;
            Ok(plan)
        },
    ))
}

/// Deletes a secret. Refused while JWKs are attached to it, naming them, unless `detach`:
/// then they are detached (they keep their keys) in the same transaction.
pub(super) fn delete<'a>(
    ctx: &Ctx<'a>,
    project: String,
    secret: SecretName,
    detach: bool,
) -> Result<Work<'a>> {
    ctx.require(&project, SECRETS_MANAGE)?;
    let what = secret.class.what();
    Ok(Work::new(
        format!("{what} (name: {})", secret.name),
        move |ctx| {
            let (kind, rec, key, revision) =
                find_secret(ctx, &project, &secret)?.ok_or_else(|| secret_not_found(&secret))?;
            let attached = attached_jwks(ctx, &project, kind, &rec)?;
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
            let now = ctx.now_rfc3339();
            let ids: Vec<String> = attached.iter().map(|(_, j, _)| j.id.clone()).collect();
            for (jwk_key, jwk_rec, jwk_revision) in attached {
                (txn, _) = ctx.change_served(txn, &jwk_key, (jwk_rec, jwk_revision), |r| {
                    r.source = None;
                    r.detached_at = Some(now.clone());
                    Ok(())
                })?;
            }
            let action = format!("{}.delete", kind.stored());
            // A detaching deletion is in the history of every JWK it detached, too.
            let mut audit = Audit::of(action, Some(&project), &secret.name);
            audit.jwks = ids;
            let mut plan = Plan::new(txn, audit);
            plan.answer.detached = names;
            Ok(plan)
        },
    ))
}
