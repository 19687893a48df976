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
//!
//! [`derive`] adds the index writes a transaction implies (and compares on the records it
//! read to derive them); [`ensure`] writes the indexes of a store made before them, once.

use std::collections::{BTreeMap, BTreeSet};

use super::{CredentialRec, JwkRec, component as c, decode, keys};
use crate::error::Result;
use crate::store::{Op, Store, Txn};
use crate::types::RefreshPolicy;

/// Present once the indexes exist.
pub(crate) const INDEXES: &str = "meta/indexes";

/// Every index entry of JWKs' use by credentials.
const USE: &str = "jwkuse/";
/// Every followed JWK.
pub(crate) const FOLLOWED: &str = "jwkfollowed/";
/// Every approved JWK by name.
const NAMED: &str = "jwknamed/";

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
        let policy = |v: Option<&[u8]>| -> Result<Option<RefreshPolicy>> {
            Ok(match v {
                Some(v) => decode::<JwkRec>(key, v)?.source.and_then(|s| s.follow),
                None => None,
            })
        };
        let (was, is) = (policy(before)?, policy(after)?);
        if was != is {
            *txn = match is {
                Some(p2) => std::mem::take(txn).put(followed(&p, &id), super::encode(&p2)),
                None => std::mem::take(txn).delete(followed(&p, &id)),
            };
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

/// Writes the indexes of a store made before them (once; a no-op afterwards).
pub(crate) fn ensure(store: &dyn Store) -> Result<()> {
    if store.get(INDEXES.as_bytes())?.is_some() {
        return Ok(());
    }
    let attempt = || -> Result<Option<Txn>> {
        if store.get(INDEXES.as_bytes())?.is_some() {
            return Ok(None);
        }
        let mut txn = Txn::new().absent(INDEXES).put(INDEXES, "1");
        for prefix in [keys::ALL_CREDENTIALS, keys::ALL_JWKS, keys::APPROVED_JWKS] {
            for (key, value) in store.scan(prefix.as_bytes())? {
                let key = String::from_utf8_lossy(&key).into_owned();
                txn = txn.at(key.as_str(), value.revision);
                writes(&key, None, Some(&value.value), &mut txn)?;
            }
        }
        Ok(Some(txn))
    };
    super::retry("The indexes", attempt, |txn| Ok(store.commit(txn)?))?;
    Ok(())
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
