//! Indexes derived from the records, written in the same transaction as the records they
//! follow, so that no rule has to read every record of the registry:
//!
//! - `jwkuse/<p>/<id>/<cp>/<u>`: the slots of the (saved) credential `u` of project `cp`
//!   that hold the JWK `id` of project `p` (a JSON list of slot names), and the marker
//!   `jwkuse/<p>/<id>`, rewritten with every change of that JWK's entries: a change that
//!   must see no credential start using a JWK (its deletion) compares the marker.
//! - `jwkfollowed/<p>/<id>`: the refresh policy of each saved JWK that follows its URL.
//! - `jwknamed/<p>/<name>/<id>`: the approved JWK copies by name (two while a rename or a
//!   deletion waits for approval).
//! - `jwkbykid/<kid>/<p>/<id>` and `jwkbythumb/<thumbprint>/<p>/<id>`: the saved JWKs by
//!   kid and by SHA-256 thumbprint (never a symmetric key's), across projects.
//! - `jwkattached/<p>/<source type>/<env>/<secret>/<id>` → the JWK's name: the saved JWKs
//!   still attached to the stored secret they were created from.
//!
//! [`derive`] adds the index writes a transaction implies (and compares on the records it
//! read to derive them); [`ensure`] writes the indexes of a store made before them, once.

use std::collections::{BTreeMap, BTreeSet};

use super::{CredentialRec, JwkRec, component as c, decode, keys};
use crate::error::Result;
use crate::store::{Op, Store, Txn};

/// The version of the indexes the store holds (absent: none).
pub(crate) const INDEXES: &str = "meta/indexes";

/// The version this release writes: 2 added the kid and thumbprint indexes, 3 the JWKs
/// attached to each secret.
const VERSION: u32 = 3;

/// Every index entry of JWKs' use by credentials.
const USE: &str = "jwkuse/";
/// Every followed JWK.
pub(crate) const FOLLOWED: &str = "jwkfollowed/";
/// Every approved JWK by name.
const NAMED: &str = "jwknamed/";
/// Every saved JWK by kid.
const BY_KID: &str = "jwkbykid/";
/// Every saved JWK by thumbprint.
const BY_THUMBPRINT: &str = "jwkbythumb/";
/// Every saved JWK attached to a secret.
const ATTACHED: &str = "jwkattached/";

/// `jwkattached/<p>/<source type>/<env>/<secret>/`: the JWKs attached to a secret.
pub(crate) fn attached_to(p: &str, source_type: &str, env: &str, secret: &str) -> String {
    format!("{ATTACHED}{}/{source_type}/{}/{}/", c(p), c(env), c(secret))
}

/// The ids of the saved JWKs of `p` attached to the secret at `place` (source type,
/// environment, name), and their names, in id order.
pub(crate) fn attached(
    store: &dyn Store,
    p: &str,
    place: (&str, &str, &str),
) -> Result<Vec<String>> {
    Ok(attached_named(store, p, place)?
        .into_iter()
        .map(|(id, _)| id)
        .collect())
}

/// [`attached`] with each JWK's name: (id, name).
pub(crate) fn attached_named(
    store: &dyn Store,
    p: &str,
    (source_type, env, secret): (&str, &str, &str),
) -> Result<Vec<(String, String)>> {
    let prefix = attached_to(p, source_type, env, secret);
    Ok(store
        .scan(prefix.as_bytes())?
        .into_iter()
        .map(|(k, v)| {
            (
                String::from_utf8_lossy(&k[prefix.len()..]).into_owned(),
                String::from_utf8_lossy(&v.value).into_owned(),
            )
        })
        .collect())
}

/// The attachment entry of a saved JWK record (key and value: the JWK's name), if it is
/// attached to a secret.
fn attachment_entry(p: &str, id: &str, rec: &JwkRec) -> Option<(String, String)> {
    let (source_type, env, secret) = rec.attachment()?;
    Some((
        format!("{}{id}", attached_to(p, source_type, env, secret)),
        rec.name.clone(),
    ))
}

/// `jwkbykid/<kid>/` (with the project: `jwkbykid/<kid>/<p>/`): the JWKs with this kid.
pub(crate) fn by_kid(kid: &str, p: Option<&str>) -> String {
    match p {
        Some(p) => format!("{BY_KID}{}/{}/", c(kid), c(p)),
        None => format!("{BY_KID}{}/", c(kid)),
    }
}

/// `jwkbythumb/<thumbprint>/` (with the project: `…/<p>/`): the JWKs with this thumbprint.
pub(crate) fn by_thumbprint(thumbprint: &str, p: Option<&str>) -> String {
    match p {
        Some(p) => format!("{BY_THUMBPRINT}{}/{}/", c(thumbprint), c(p)),
        None => format!("{BY_THUMBPRINT}{}/", c(thumbprint)),
    }
}

/// The (kid, thumbprint) a saved JWK record is found by: its public JSON's `kid`, and the
/// thumbprint of its public key (none for a symmetric key: a hash of its secret).
pub(crate) fn found_by(rec: &JwkRec) -> (Option<String>, Option<String>) {
    #[derive(serde::Deserialize)]
    struct Kid {
        kid: Option<String>,
    }
    let kid = serde_json::from_str::<Kid>(&rec.public_jwk)
        .ok()
        .and_then(|k| k.kid);
    let thumbprint = jwk_core::from_sealed_json(&rec.public_jwk)
        .ok()
        .filter(|j| !matches!(j.key(), jwk_core::Key::Oct(_)))
        .map(|j| j.thumbprint(jwk_core::ThumbprintHash::Sha256));
    (kid, thumbprint)
}

/// `jwkuse/<p>/<id>`: the marker of a JWK's use.
pub(crate) fn use_marker(p: &str, id: &str) -> String {
    format!("{USE}{}/{id}", c(p))
}

/// `jwkuse/<p>/<id>/`: the credentials using a JWK.
pub(crate) fn uses_of(p: &str, id: &str) -> String {
    format!("{USE}{}/{id}/", c(p))
}

fn use_entry(p: &str, id: &str, cp: &str, u: &str) -> String {
    format!("{USE}{}/{id}/{}/{}", c(p), c(cp), c(u))
}

/// `jwkfollowed/<p>/<id>`.
pub(crate) fn followed(p: &str, id: &str) -> String {
    format!("{FOLLOWED}{}/{id}", c(p))
}

/// `jwknamed/<p>/<name>/`: the approved copies named `name`.
pub(crate) fn named(p: &str, name: &str) -> String {
    format!("{NAMED}{}/{}/", c(p), c(name))
}

/// A credential's use of JWKs: (JWK project, JWK id) → the slots holding it.
type Uses = BTreeMap<(String, String), Vec<&'static str>>;

fn uses(c: &CredentialRec) -> Uses {
    let mut out = Uses::new();
    for (slot, r) in c.slot_refs() {
        out.entry((r.project.clone(), r.id.clone()))
            .or_default()
            .push(slot);
    }
    out
}

/// The (project, id) of a JWK record's key (`jwk/<p>/<id>` under `prefix`).
fn jwk_of(key: &str, prefix: &str) -> Option<(String, String)> {
    let (p, id) = key.strip_prefix(prefix)?.split_once('/')?;
    Some((super::name_of(p), id.to_owned()))
}

/// The index writes of the records `ops` write, given each record's stored value:
/// `(key, before, after)`.
fn writes(key: &str, before: Option<&[u8]>, after: Option<&[u8]>, txn: &mut Txn) -> Result<()> {
    let approved_jwk = keys::approved(keys::ALL_JWKS);
    if let Some(rest) = key.strip_prefix(keys::ALL_CREDENTIALS) {
        let Some((cp, u)) = rest.split_once('/') else {
            return Ok(());
        };
        let (cp, u) = (super::name_of(cp), super::name_of(u));
        let old = before
            .map(|b| decode::<CredentialRec>(key, b))
            .transpose()?;
        let new = after.map(|a| decode::<CredentialRec>(key, a)).transpose()?;
        let (old, new) = (
            old.as_ref().map(uses).unwrap_or_default(),
            new.as_ref().map(uses).unwrap_or_default(),
        );
        let jwks: BTreeSet<&(String, String)> = old.keys().chain(new.keys()).collect();
        for jwk in jwks {
            let (was, is) = (old.get(jwk), new.get(jwk));
            if was == is {
                continue;
            }
            let entry = use_entry(&jwk.0, &jwk.1, &cp, &u);
            *txn = match is {
                Some(slots) => std::mem::take(txn).put(entry, super::encode(slots)),
                None => std::mem::take(txn).delete(entry),
            }
            .put(use_marker(&jwk.0, &jwk.1), "");
        }
    } else if let Some((p, id)) = jwk_of(key, keys::ALL_JWKS) {
        let rec = |v: Option<&[u8]>| v.map(|v| decode::<JwkRec>(key, v)).transpose();
        let (old, new) = (rec(before)?, rec(after)?);
        let policy = |r: &Option<JwkRec>| r.as_ref().and_then(|r| r.source.as_ref()?.follow);
        let (was, is) = (policy(&old), policy(&new));
        if was != is {
            *txn = match is {
                Some(p2) => std::mem::take(txn).put(followed(&p, &id), super::encode(&p2)),
                None => std::mem::take(txn).delete(followed(&p, &id)),
            };
        }
        let found = |r: &Option<JwkRec>| r.as_ref().map(found_by).unwrap_or_default();
        let (was, is) = (found(&old), found(&new));
        if was != is {
            finding(&p, &id, was, false, txn);
            finding(&p, &id, is, true, txn);
        }
        let attached = |r: &Option<JwkRec>| r.as_ref().and_then(|r| attachment_entry(&p, &id, r));
        let (was, is) = (attached(&old), attached(&new));
        if was != is {
            if let Some((key, _)) = was {
                *txn = std::mem::take(txn).delete(key);
            }
            if let Some((key, name)) = is {
                *txn = std::mem::take(txn).put(key, name);
            }
        }
    } else if let Some((p, id)) = jwk_of(key, &approved_jwk) {
        let name = |v: Option<&[u8]>| -> Result<Option<String>> {
            Ok(match v {
                Some(v) => Some(decode::<JwkRec>(key, v)?.name),
                None => None,
            })
        };
        let (was, is) = (name(before)?, name(after)?);
        if was != is {
            if let Some(was) = was {
                *txn = std::mem::take(txn).delete(format!("{}{id}", named(&p, &was)));
            }
            if let Some(is) = is {
                *txn = std::mem::take(txn).put(format!("{}{id}", named(&p, &is)), "");
            }
        }
    }
    Ok(())
}

/// Adds (or removes) the kid and thumbprint entries of the JWK `id` of `p`.
fn finding(
    p: &str,
    id: &str,
    (kid, thumbprint): (Option<String>, Option<String>),
    add: bool,
    txn: &mut Txn,
) {
    let entries = [
        kid.map(|k| format!("{}{id}", by_kid(&k, Some(p)))),
        thumbprint.map(|t| format!("{}{id}", by_thumbprint(&t, Some(p)))),
    ];
    for entry in entries.into_iter().flatten() {
        *txn = if add {
            std::mem::take(txn).put(entry, "")
        } else {
            std::mem::take(txn).delete(entry)
        };
    }
}

/// Whether the indexes follow records at `key`.
fn indexed(key: &str) -> bool {
    key.starts_with(keys::ALL_CREDENTIALS)
        || key.starts_with(keys::ALL_JWKS)
        || key.starts_with(keys::APPROVED_JWKS)
}

/// `txn` with the index writes its record writes imply, and a compare on each record read
/// to derive them (a record changed meanwhile makes the transaction conflict, and it is
/// planned again).
pub(crate) fn derive(store: &dyn Store, mut txn: Txn) -> Result<Txn> {
    // The last write of each key is what the transaction leaves.
    let mut last: BTreeMap<&[u8], Option<&[u8]>> = BTreeMap::new();
    for op in &txn.ops {
        match op {
            Op::Put(k, v) => last.insert(k, Some(v)),
            Op::Delete(k) => last.insert(k, None),
        };
    }
    let mut extra = Txn::new();
    for (key, after) in last {
        let Ok(key) = std::str::from_utf8(key) else {
            continue;
        };
        if !indexed(key) {
            continue;
        }
        let before = store.get(key.as_bytes())?;
        extra = match &before {
            Some(v) => extra.at(key, v.revision),
            None => extra.absent(key),
        };
        writes(
            key,
            before.as_ref().map(|v| v.value.as_slice()),
            after,
            &mut extra,
        )?;
    }
    txn.compares.extend(extra.compares);
    txn.ops.extend(extra.ops);
    Ok(txn)
}

/// Writes the indexes of a store made before them, or before this version of them (once; a
/// no-op afterwards).
pub(crate) fn ensure(store: &dyn Store) -> Result<()> {
    // A store's version: what a marker says (none: 0; one a later release wrote holds
    // everything this one reads).
    let version_of = |held: &Option<crate::store::Versioned>| -> u32 {
        held.as_ref().map_or(0, |v| {
            std::str::from_utf8(&v.value)
                .ok()
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        })
    };
    if version_of(&store.get(INDEXES.as_bytes())?) >= VERSION {
        return Ok(());
    }
    let attempt = || -> Result<Option<Txn>> {
        let held = store.get(INDEXES.as_bytes())?;
        let version = version_of(&held);
        if version >= VERSION {
            return Ok(None);
        }
        let mut txn = match &held {
            Some(v) => Txn::new().at(INDEXES, v.revision),
            None => Txn::new().absent(INDEXES),
        }
        .put(INDEXES, VERSION.to_string());
        if version == 0 {
            for prefix in [keys::ALL_CREDENTIALS, keys::ALL_JWKS, keys::APPROVED_JWKS] {
                for (key, value) in store.scan(prefix.as_bytes())? {
                    let key = String::from_utf8_lossy(&key).into_owned();
                    txn = txn.at(key.as_str(), value.revision);
                    writes(&key, None, Some(&value.value), &mut txn)?;
                }
            }
        } else {
            // The entries of the JWK indexes added since `version`.
            for (key, value) in store.scan(keys::ALL_JWKS.as_bytes())? {
                let key = String::from_utf8_lossy(&key).into_owned();
                let Some((p, id)) = jwk_of(&key, keys::ALL_JWKS) else {
                    continue;
                };
                txn = txn.at(key.as_str(), value.revision);
                let rec = decode::<JwkRec>(&key, &value.value)?;
                if version < 2 {
                    finding(&p, &id, found_by(&rec), true, &mut txn);
                }
                if let Some((entry, name)) = attachment_entry(&p, &id, &rec) {
                    txn = txn.put(entry, name);
                }
            }
        }
        Ok(Some(txn))
    };
    super::retry("The indexes", attempt, |txn| Ok(store.commit(txn)?))?;
    Ok(())
}

/// The ids of the saved JWKs of `project` under an index `prefix` (kid or thumbprint, with
/// the project), at most `max`.
pub(crate) fn found(store: &dyn Store, prefix: &str, max: usize) -> Result<Vec<String>> {
    Ok(store
        .scan_page(prefix.as_bytes(), None, max)?
        .into_iter()
        .map(|(k, _)| String::from_utf8_lossy(&k[prefix.len()..]).into_owned())
        .collect())
}

/// A credential using a JWK: (its project, its username, the slots holding the JWK).
pub(crate) type User = (String, String, Vec<String>);

/// The credentials (saved records) whose slots hold the JWK `id` of `project`, in
/// (project, username) order, and the marker's compare (a credential that starts using the
/// JWK meanwhile makes the transaction conflict).
pub(crate) fn users(store: &dyn Store, project: &str, id: &str) -> Result<(Vec<User>, Txn)> {
    let prefix = uses_of(project, id);
    let mut out = Vec::new();
    for (key, value) in store.scan(prefix.as_bytes())? {
        let key = String::from_utf8_lossy(&key).into_owned();
        let Some((cp, u)) = key.strip_prefix(&prefix).and_then(|r| r.split_once('/')) else {
            continue;
        };
        let slots: Vec<String> = decode(&key, &value.value)?;
        out.push((super::name_of(cp), super::name_of(u), slots));
    }
    let marker = use_marker(project, id);
    let guard = match store.get(marker.as_bytes())? {
        Some(v) => Txn::new().at(marker, v.revision),
        None => Txn::new().absent(marker),
    };
    Ok((out, guard))
}
