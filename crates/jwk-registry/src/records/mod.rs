//! Every stored record (our own versioned JSON format) and the store's key layout. Crate
//! private: records are never API views, and nothing outside the registry reads them.

mod admin;
pub(crate) mod index;
mod jwk;
pub(crate) mod keys;
mod rotation;
mod sets;

pub(crate) use admin::{AuditRec, DeployRec, EnvironmentRec, MemberRec, ProjectRec, UserRec};
pub(crate) use jwk::{CredentialRec, JwkRec, JwkRef, SecretRec, SourceRec, SyncRec};
pub(crate) use rotation::{LeaseRec, RotationRec};
pub(crate) use sets::{JwkSetRec, SetKeyRec, SetKeysRec, SetStatusRec};

use serde::{Serialize, de::DeserializeOwned};

use crate::error::{RegistryError, Result};
use crate::store::{Commit, Store, Txn, Versioned};

/// Record format version written in every record.
pub(crate) const FORMAT: u32 = 1;

/// Escapes a name for use as one component of a store key ('/' and '%' are encoded).
pub(crate) fn component(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        match c {
            '/' => out.push_str("%2F"),
            '%' => out.push_str("%25"),
            c => out.push(c),
        }
    }
    out
}

/// The name one component of a store key encodes (the inverse of [`component`]).
pub(crate) fn name_of(component: &str) -> String {
    let mut out = String::with_capacity(component.len());
    let mut rest = component;
    while let Some(i) = rest.find('%') {
        out.push_str(&rest[..i]);
        let escape = &rest[i..];
        rest = if let Some(after) = escape.strip_prefix("%2F") {
            out.push('/');
            after
        } else if let Some(after) = escape.strip_prefix("%25") {
            out.push('%');
            after
        } else {
            // Not written by `component`: kept as it is.
            out.push('%');
            &escape[1..]
        };
    }
    out.push_str(rest);
    out
}

/// Serialises a record (records are plain structs of strings, numbers and lists: writing
/// them cannot fail).
pub(crate) fn encode<T: Serialize>(rec: &T) -> Vec<u8> {
    serde_json::to_vec(rec).unwrap_or_default()
}

fn corrupt(key: &str, e: serde_json::Error) -> RegistryError {
    RegistryError::internal(format!("the stored record {key} is unreadable: {e}"))
}

/// Reads a record and its revision.
pub(crate) fn load<T: DeserializeOwned>(store: &dyn Store, key: &str) -> Result<Option<(T, u64)>> {
    match store.get(key.as_bytes())? {
        Some(Versioned { value, revision }) => serde_json::from_slice(&value)
            .map(|r| Some((r, revision)))
            .map_err(|e| corrupt(key, e)),
        None => Ok(None),
    }
}

/// Decodes a record read at `key`.
pub(crate) fn decode<T: DeserializeOwned>(key: &str, value: &[u8]) -> Result<T> {
    serde_json::from_slice(value).map_err(|e| corrupt(key, e))
}

/// Reads every record under a prefix, with its key and revision.
pub(crate) fn load_all<T: DeserializeOwned>(
    store: &dyn Store,
    prefix: &str,
) -> Result<Vec<(String, T, u64)>> {
    store
        .scan(prefix.as_bytes())?
        .into_iter()
        .map(|(k, v)| {
            let key = String::from_utf8_lossy(&k).into_owned();
            let rec = decode(&key, &v.value)?;
            Ok((key, rec, v.revision))
        })
        .collect()
}

/// Whether a key is a served record's (a JWK, a credential): its writes have an approved
/// copy (`approved/<key>`), which is what environments serve.
pub(crate) fn is_served(key: &[u8]) -> bool {
    key.starts_with(keys::ALL_JWKS.as_bytes()) || key.starts_with(keys::ALL_CREDENTIALS.as_bytes())
}

#[cfg(test)]
mod key_tests {
    use super::*;

    #[test]
    fn names_in_keys_come_back_as_they_were() {
        for name in ["plain", "a/b", "100%", "%2F", "a%252Fb", "/%/", ""] {
            assert_eq!(name_of(&component(name)), name);
        }
        assert_eq!(name_of("50%"), "50%");
        assert_eq!(name_of("%😀%2"), "%😀%2");
        assert_eq!(
            keys::credential_project(&keys::credential("my/project", "u")),
            Some("my/project".to_owned())
        );
        assert_eq!(keys::credential_project("jwk/p/id"), None);
    }
}

/// Most attempts of one change whose compares keep failing because other writers got there
/// first.
pub const ATTEMPTS: usize = 16;

/// The error when every attempt of a change lost to other writers: try again shortly.
pub(crate) fn kept_changing(what: &str) -> RegistryError {
    RegistryError::busy(format!(
        "{what} kept changing while this request changed it: try again in a few seconds!"
    ))
}

/// The one compare-and-retry loop of the registry: commits (with `commit`) the transaction
/// `attempt` builds from fresh reads each time until its compares hold, at most [`ATTEMPTS`]
/// times; then [`kept_changing`]. `attempt` returns `None` when, by what it read, there is
/// nothing left to write (the answer is then `None`), and stops the loop with its error.
pub(crate) fn retry(
    what: &str,
    mut attempt: impl FnMut() -> Result<Option<Txn>>,
    commit: impl Fn(Txn) -> Result<Commit>,
) -> Result<Option<u64>> {
    for _ in 0..ATTEMPTS {
        let Some(txn) = attempt()? else {
            return Ok(None);
        };
        if let Commit::Applied(revision) = commit(txn)? {
            return Ok(Some(revision));
        }
    }
    Err(kept_changing(what))
}

/// Whether the store holds the approved copies of served records: a registry from before
/// approval served every record it held, so each is copied as approved, once (guarded by
/// [`keys::APPROVAL_LAYOUT`], so racing nodes copy once between them).
#[derive(Debug, Default)]
pub(crate) struct ApprovalLayout(std::sync::atomic::AtomicBool);

impl ApprovalLayout {
    /// Makes the approved copies, then the indexes ([`index`]), on first use.
    pub(crate) fn ensure(&self, store: &dyn Store) -> Result<()> {
        use std::sync::atomic::Ordering;
        if self.0.load(Ordering::Acquire) {
            return Ok(());
        }
        let attempt = || {
            if store.get(keys::APPROVAL_LAYOUT.as_bytes())?.is_some() {
                return Ok(None);
            }
            let mut txn = Txn::new().absent(keys::APPROVAL_LAYOUT);
            for prefix in [keys::ALL_JWKS, keys::ALL_CREDENTIALS] {
                for (key, value) in store.scan(prefix.as_bytes())? {
                    txn = txn
                        .at(key.clone(), value.revision)
                        .put([keys::APPROVED.as_bytes(), &key].concat(), value.value);
                }
            }
            Ok(Some(txn.put(keys::APPROVAL_LAYOUT, "1")))
        };
        retry("The approved copies", attempt, |txn| Ok(store.commit(txn)?))?;
        // The indexes follow the approved copies: made after them.
        index::ensure(store)?;
        self.0.store(true, Ordering::Release);
        Ok(())
    }
}

/// How a saved record stands against its approved copy (`None`: the same, deployed).
pub(crate) fn pending_against<T: PartialEq>(
    approved: Option<&T>,
    saved: &T,
) -> Option<crate::types::Pending> {
    match approved {
        None => Some(crate::types::Pending::Created),
        Some(approved) if approved != saved => Some(crate::types::Pending::Changed),
        Some(_) => None,
    }
}
