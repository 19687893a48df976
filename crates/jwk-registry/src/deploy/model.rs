//! What the environments serve, kept in memory and brought up to date from the store's
//! change feed, so that a change costs what it changes and not what the registry holds.
//!
//! A [`Model`] is one version: every approved JWK (opened once, when its record changes),
//! every approved credential's slot references, every remote set's keys, and two indexes
//! (which credentials use a JWK; every validity bound). Its maps are persistent (`imbl`):
//! the next version shares every untouched node with the previous one, so a version handed
//! to a deployment stays as it was while later changes make new ones, and no change copies
//! the registry. The [`Journal`] remembers what each recent revision touched: a target
//! that served revision `r` is sent what changed after `r` ([`Model::delta`]), not the
//! whole state.

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use imbl::{OrdMap, OrdSet};

use super::{
    CredentialChange, DeployedCredential, DeployedJwk, EnvironmentDelta, EnvironmentSnapshot,
    JwkChange, ProjectSnapshot, RemoteSetChange, ValidityBounds,
};
use crate::types::{KeyState, ValidityStatus};

/// A (project, id) or (project, name) pair of shared texts.
pub(crate) type Pair = (Arc<str>, Arc<str>);

/// A credential's slot references: validation, encryption, validation next, encryption
/// next (each the (project, id) of a JWK).
pub(crate) type SlotRefs = [Option<Pair>; 4];

/// Something whose served form a change may have moved.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Touched {
    /// An approved JWK, by (project, id).
    Jwk(Pair),
    /// An approved credential, by (project, username).
    Credential(Pair),
    /// A remote set's keys, by (project, set name).
    RemoteSet(Pair),
}

/// One version of what the environments serve.
#[derive(Debug, Clone, Default)]
pub(crate) struct Model {
    /// The content revision it holds: every change up to it (and maybe some later ones).
    pub(crate) revision: u64,
    /// Every project's name (the one copy each other text of the project shares).
    projects: OrdSet<Arc<str>>,
    /// Every approved JWK, served or not (disabled, withdrawn, outside its validity).
    jwks: OrdMap<Pair, Arc<DeployedJwk>>,
    credentials: OrdMap<Pair, Arc<SlotRefs>>,
    remote: OrdMap<Pair, Arc<Vec<DeployedJwk>>>,
    /// The credentials whose slots (current or next) name a JWK, sorted (most JWKs have
    /// one user or none: a small list, not a set, per JWK).
    users: OrdMap<Pair, Arc<Vec<Pair>>>,
    /// Every validity bound of every JWK that is not disabled: when the served set changes
    /// with no change in the store.
    bounds: OrdMap<i64, OrdSet<Pair>>,
}

/// Whether a JWK is served at `now`: not disabled (nor withdrawn) and within its validity.
fn served(jwk: &DeployedJwk, now: i64) -> bool {
    jwk.state != KeyState::Disabled && jwk.validity.status(now) == ValidityStatus::Valid
}

impl Model {
    /// Counts, for metrics and logs: (JWKs, credentials, remote sets).
    pub(crate) fn sizes(&self) -> (usize, usize, usize) {
        (self.jwks.len(), self.credentials.len(), self.remote.len())
    }

    /// Adds or removes a project.
    pub(crate) fn set_project(&mut self, name: &str, exists: bool) {
        if exists {
            if !self.projects.contains(name) {
                self.projects.insert(Arc::from(name));
            }
        } else {
            self.projects.remove(name);
        }
    }

    /// The project's name, as the one shared copy when the model knows the project.
    pub(crate) fn project(&self, name: &str) -> Arc<str> {
        self.projects
            .get(name)
            .cloned()
            .unwrap_or_else(|| Arc::from(name))
    }

    /// Sets (or removes) the approved JWK `key` = (project, id).
    pub(crate) fn set_jwk(&mut self, key: &Pair, jwk: Option<DeployedJwk>) {
        if let Some(old) = self.jwks.remove(key) {
            for b in old.validity.bounds() {
                let emptied = self.bounds.get_mut(&b).is_some_and(|keys| {
                    keys.remove(key);
                    keys.is_empty()
                });
                if emptied {
                    self.bounds.remove(&b);
                }
            }
        }
        if let Some(jwk) = jwk {
            if jwk.state != KeyState::Disabled {
                for b in jwk.validity.bounds() {
                    self.bounds.entry(b).or_default().insert(key.clone());
                }
            }
            self.jwks.insert(key.clone(), Arc::new(jwk));
        }
    }

    /// Sets (or removes) the approved credential `key` = (project, username).
    pub(crate) fn set_credential(&mut self, key: &Pair, slots: Option<SlotRefs>) {
        if let Some(old) = self.credentials.remove(key) {
            for r in old.iter().flatten() {
                let emptied = self.users.get_mut(r).is_some_and(|users| {
                    Arc::make_mut(users).retain(|u| u != key);
                    users.is_empty()
                });
                if emptied {
                    self.users.remove(r);
                }
            }
        }
        if let Some(slots) = slots {
            // The JWKs' own keys, shared rather than copied.
            let slots = slots.map(|r| r.map(|r| self.shared(r)));
            for r in slots.iter().flatten() {
                let users = Arc::make_mut(self.users.entry(r.clone()).or_default());
                if let Err(at) = users.binary_search(key) {
                    users.insert(at, key.clone());
                }
            }
            self.credentials.insert(key.clone(), Arc::new(slots));
        }
    }

    /// The model's own copy of the JWK key `r` when it holds that JWK, else `r`.
    fn shared(&self, r: Pair) -> Pair {
        self.jwks.get_key_value(&r).map_or(r, |(k, _)| k.clone())
    }

    /// Sets (or removes) the keys of the remote set `key` = (project, name).
    pub(crate) fn set_remote(&mut self, key: &Pair, keys: Option<Vec<DeployedJwk>>) {
        match keys {
            Some(keys) => {
                self.remote.insert(key.clone(), Arc::new(keys));
            }
            None => {
                self.remote.remove(key);
            }
        }
    }

    /// The JWK `key` as served at `now`, if it is.
    fn served_jwk(&self, key: &Pair, now: i64) -> Option<DeployedJwk> {
        self.jwks
            .get(key)
            .filter(|j| served(j, now))
            .map(|j| (**j).clone())
    }

    /// The credential `key` as served at `now`: its slots hold the served JWKs they name.
    fn served_credential(&self, key: &Pair, now: i64) -> Option<DeployedCredential> {
        let slots = self.credentials.get(key)?;
        let find = |i: usize| slots[i].as_ref().and_then(|r| self.served_jwk(r, now));
        Some(DeployedCredential {
            username: key.1.clone(),
            validation: find(0),
            encryption: find(1),
            validation_next: find(2),
            encryption_next: find(3),
        })
    }

    /// The validity bounds seen from `now`: the last passed and the next to come.
    pub(crate) fn validity(&self, now: i64) -> ValidityBounds {
        use std::ops::Bound;
        ValidityBounds {
            last: self
                .bounds
                .range(..=now)
                .next_back()
                .map_or(0, |(b, _)| (*b).max(0)),
            next: self
                .bounds
                .range((Bound::Excluded(now), Bound::Unbounded))
                .next()
                .map(|(b, _)| *b),
        }
    }

    /// Everything served at `now`, as one [`EnvironmentSnapshot`] (its `environment` left
    /// empty): for a target seen for the first time, a reconcile, or a target that takes
    /// whole snapshots.
    pub(crate) fn snapshot(&self, now: i64) -> EnvironmentSnapshot {
        let mut projects: Vec<ProjectSnapshot> = self
            .projects
            .iter()
            .map(|name| ProjectSnapshot {
                name: name.to_string(),
                ..ProjectSnapshot::default()
            })
            .collect();
        fn index(projects: &[ProjectSnapshot], project: &str) -> Result<usize, usize> {
            projects.binary_search_by(|p| p.name.as_str().cmp(project))
        }
        for (key, jwk) in &self.jwks {
            if served(jwk, now)
                && let Ok(i) = index(&projects, &key.0)
            {
                projects[i].jwks.push((**jwk).clone());
            }
        }
        for key in self.credentials.keys() {
            if let (Ok(i), Some(c)) = (index(&projects, &key.0), self.served_credential(key, now)) {
                projects[i].credentials.push(c);
            }
        }
        for (key, keys) in &self.remote {
            if let Ok(i) = index(&projects, &key.0) {
                projects[i].remote_keys.extend(keys.iter().cloned());
            }
        }
        let bounds = self.validity(now);
        EnvironmentSnapshot {
            environment: String::new(),
            revision: self.revision,
            projects,
            validity_epoch: bounds.last,
            next_validity_change: bounds.next,
        }
    }

    /// What changed for a target that served (`base_revision`, `base_epoch`): the served
    /// form at `now` of everything `touched` (changed in the store since), of every JWK a
    /// validity bound after `base_epoch` and up to `now` moved, and of every credential
    /// using one of those JWKs.
    pub(crate) fn delta(
        &self,
        mut touched: BTreeSet<Touched>,
        (base_revision, base_epoch): (u64, i64),
        now: i64,
    ) -> EnvironmentDelta {
        use std::ops::Bound;
        if base_epoch < now {
            for (_, keys) in self
                .bounds
                .range((Bound::Excluded(base_epoch), Bound::Included(now)))
            {
                touched.extend(keys.iter().map(|k| Touched::Jwk(k.clone())));
            }
        }
        let mut credentials = BTreeSet::new();
        let mut delta = EnvironmentDelta {
            base_revision,
            base_validity_epoch: base_epoch,
            revision: self.revision,
            ..EnvironmentDelta::default()
        };
        for t in &touched {
            match t {
                Touched::Jwk(key) => {
                    if let Some(users) = self.users.get(key) {
                        credentials.extend(users.iter().cloned());
                    }
                    delta.jwks.push(JwkChange {
                        project: key.0.clone(),
                        id: key.1.clone(),
                        jwk: self.served_jwk(key, now),
                    });
                }
                Touched::Credential(key) => {
                    credentials.insert(key.clone());
                }
                Touched::RemoteSet(key) => delta.remote_sets.push(RemoteSetChange {
                    project: key.0.clone(),
                    name: key.1.clone(),
                    keys: self
                        .remote
                        .get(key)
                        .map(|k| (**k).clone())
                        .unwrap_or_default(),
                }),
            }
        }
        for key in credentials {
            delta.credentials.push(CredentialChange {
                project: key.0.clone(),
                username: key.1.clone(),
                credential: self.served_credential(&key, now),
            });
        }
        let bounds = self.validity(now);
        delta.validity_epoch = bounds.last;
        delta.next_validity_change = bounds.next;
        delta
    }
}

/// What each recent content revision touched, oldest first, within a bound: a target
/// whose last deployment is older than what the journal holds gets a whole snapshot.
#[derive(Debug, Default)]
pub(crate) struct Journal {
    entries: VecDeque<(u64, Touched)>,
    /// Changes up to this revision are not (or no longer) in the journal.
    floor: u64,
    /// The most entries kept.
    limit: usize,
}

impl Journal {
    /// An empty journal: nothing before `floor` is known.
    pub(crate) fn new(floor: u64, limit: usize) -> Journal {
        Journal {
            entries: VecDeque::new(),
            floor,
            limit,
        }
    }

    /// Notes that `revision` touched `what`.
    pub(crate) fn note(&mut self, revision: u64, what: Touched) {
        self.entries.push_back((revision, what));
        while self.entries.len() > self.limit {
            if let Some((r, _)) = self.entries.pop_front() {
                self.floor = self.floor.max(r);
            }
        }
        // Drop the rest of a revision whose first entries went: it is no longer whole.
        while self.entries.front().is_some_and(|(r, _)| *r <= self.floor) {
            self.entries.pop_front();
        }
    }

    /// Everything touched after `revision`, when the journal reaches back that far.
    pub(crate) fn since(&self, revision: u64) -> Option<BTreeSet<Touched>> {
        if revision < self.floor {
            return None;
        }
        let start = self.entries.partition_point(|(r, _)| *r <= revision);
        Some(
            self.entries
                .range(start..)
                .map(|(_, t)| t.clone())
                .collect(),
        )
    }
}
