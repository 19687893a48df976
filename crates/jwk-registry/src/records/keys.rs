//! The store's key layout: one function or constant per kind of record.

use super::component as c;

/// Every project: `project/`.
pub(crate) const PROJECTS: &str = "project/";
/// Every environment: `env/`.
pub(crate) const ENVIRONMENTS: &str = "env/";
/// Every project membership: `member/`.
pub(crate) const MEMBERS: &str = "member/";
/// Every JWK of every project: `jwk/`.
pub(crate) const ALL_JWKS: &str = "jwk/";
/// Every credential of every project: `cred/`.
pub(crate) const ALL_CREDENTIALS: &str = "cred/";

/// The project of a credential's key (`cred/<p>/<u>`).
pub(crate) fn credential_project(key: &str) -> Option<String> {
    let (project, _) = key.strip_prefix(ALL_CREDENTIALS)?.split_once('/')?;
    Some(super::name_of(project))
}

/// `project/<p>`.
pub(crate) fn project(p: &str) -> String {
    format!("{PROJECTS}{}", c(p))
}
/// `env/<e>`.
pub(crate) fn environment(e: &str) -> String {
    format!("{ENVIRONMENTS}{}", c(e))
}
/// `user/<u>`.
pub(crate) fn user(u: &str) -> String {
    format!("user/{}", c(u))
}
/// `token/<sha256 hex>`.
pub(crate) fn token(hash: &str) -> String {
    format!("token/{hash}")
}
/// `member/<p>/<u>`.
pub(crate) fn member(p: &str, u: &str) -> String {
    format!("{MEMBERS}{}/{}", c(p), c(u))
}
/// `jwk/<p>/<id>`: the record.
pub(crate) fn jwk(p: &str, id: &str) -> String {
    format!("{ALL_JWKS}{}/{id}", c(p))
}
/// `jwkname/<p>/`: the names of a project's JWKs, in their order.
pub(crate) fn jwk_names(p: &str) -> String {
    format!("jwkname/{}/", c(p))
}
/// `jwkname/<p>/<name>`: name → id, the uniqueness index.
pub(crate) fn jwk_name(p: &str, name: &str) -> String {
    format!("jwkname/{}/{}", c(p), c(name))
}
/// `cred/<p>/`: every credential of a project.
pub(crate) fn credentials(p: &str) -> String {
    format!("{ALL_CREDENTIALS}{}/", c(p))
}
/// `cred/<p>/<username>`.
pub(crate) fn credential(p: &str, u: &str) -> String {
    format!("{ALL_CREDENTIALS}{}/{}", c(p), c(u))
}
/// `secret/<p>/`: every secret of a project.
pub(crate) fn secrets(p: &str) -> String {
    format!("secret/{}/", c(p))
}
/// `secret/<p>/<kind>/<env>/<name>`.
pub(crate) fn secret(p: &str, kind: &str, env: &str, name: &str) -> String {
    format!("secret/{}/{kind}/{}/{}", c(p), c(env), c(name))
}
/// `sync/<p>/<id>`: when a URL-sourced JWK was last fetched, and how that went (kept apart
/// from the JWK's record, which approval compares).
pub(crate) fn sync(p: &str, id: &str) -> String {
    format!("sync/{}/{id}", c(p))
}
/// Every remote JWK Set of every project: `jwkset/`.
pub(crate) const ALL_JWK_SETS: &str = "jwkset/";
/// `jwkset/<p>/<name>`: a remote JWK Set (where and how it is followed).
pub(crate) fn jwk_set(p: &str, name: &str) -> String {
    format!("{ALL_JWK_SETS}{}/{}", c(p), c(name))
}
/// `jwkset/<p>/`: the remote JWK Sets of a project.
pub(crate) fn jwk_sets(p: &str) -> String {
    format!("{ALL_JWK_SETS}{}/", c(p))
}
/// The (project, name) of a remote JWK Set's key (`jwkset/<p>/<name>`).
pub(crate) fn jwk_set_of(key: &str) -> Option<(String, String)> {
    let (project, name) = key.strip_prefix(ALL_JWK_SETS)?.split_once('/')?;
    Some((super::name_of(project), super::name_of(name)))
}
/// `jwksetkeys/<p>/<name>`: the keys a remote JWK Set serves (content: deployed).
pub(crate) fn jwk_set_keys(p: &str, name: &str) -> String {
    format!("{ALL_SET_KEYS}{}/{}", c(p), c(name))
}
/// `jwksetstatus/<p>/<name>`: how a remote JWK Set's fetches go, and the lease of the node
/// fetching it (not content: writing it deploys nothing).
pub(crate) fn jwk_set_status(p: &str, name: &str) -> String {
    format!("jwksetstatus/{}/{}", c(p), c(name))
}
/// `jwkfollow/<p>/<id>`: how the fetches of a followed URL-sourced JWK go, and the lease
/// of the node fetching it (not content).
pub(crate) fn jwk_follow(p: &str, id: &str) -> String {
    format!("jwkfollow/{}/{id}", c(p))
}
/// `deploy/<env>`: what an environment serves.
pub(crate) fn deploy(e: &str) -> String {
    format!("deploy/{}", c(e))
}
/// `approved/<key>`: the version of a served record (`jwk/…`, `cred/…`) that a user
/// holding the deploy permission approved; deployments ship these copies only.
pub(crate) fn approved(key: &str) -> String {
    format!("{APPROVED}{key}")
}
/// The prefix of approved copies.
pub(crate) const APPROVED: &str = "approved/";
/// Every approved JWK: `approved/jwk/`.
pub(crate) const APPROVED_JWKS: &str = "approved/jwk/";
/// Every approved credential: `approved/cred/`.
pub(crate) const APPROVED_CREDENTIALS: &str = "approved/cred/";
/// The served keys of every remote set: `jwksetkeys/`.
pub(crate) const ALL_SET_KEYS: &str = "jwksetkeys/";
/// Present once the approved copies exist (written with the first copy of every record
/// stored before approval existed, all of which were served).
pub(crate) const APPROVAL_LAYOUT: &str = "meta/approval-layout";
/// Rewritten by every change of content: its revision is the content revision that
/// deployments are compared with.
pub(crate) const CONTENT: &str = "meta/content";
/// A value sealed with the master key: a node with another key refuses to start.
pub(crate) const MASTER_KEY_CHECK: &str = "meta/master-key-check";
/// The registry's identity (`Registry::id`), which a data dir records.
pub(crate) const REGISTRY_ID: &str = "meta/registry-id";
/// The audit log: `audit/`.
pub(crate) const AUDIT: &str = "audit/";
/// `audit/<unix nanos>-<random>` (the suffix from [`audit_suffix`]).
pub(crate) fn audit(suffix: &str) -> String {
    format!("{AUDIT}{suffix}")
}
/// `<unix nanos>-<random>`: the part of an audit key that orders entries by time.
pub(crate) fn audit_suffix(nanos: u128, salt: u32) -> String {
    format!("{nanos:032}-{salt:08x}")
}
/// `jwkhist/<p>/<id>/`: the audit entries of one JWK (a copy of each, written in the
/// same transaction as the global entry), which follow the JWK through renames.
pub(crate) fn jwk_history(p: &str, id: &str) -> String {
    format!("jwkhist/{}/{id}/", c(p))
}

/// Every rotation record: `rotation/`.
pub(crate) const ROTATIONS: &str = "rotation/";

/// `rotation/slot/<p>/<username>/<slot>`: a credential slot's rotation.
pub(crate) fn slot_rotation(p: &str, username: &str, slot: &str) -> String {
    format!("{ROTATIONS}slot/{}/{}/{slot}", c(p), c(username))
}

/// `rotation/jwk/<p>/<name>`: a generated JWK's rotation.
pub(crate) fn jwk_rotation(p: &str, name: &str) -> String {
    format!("{ROTATIONS}jwk/{}/{}", c(p), c(name))
}

/// `lease/<name>`: who holds a lease, until when.
pub(crate) fn lease(name: &str) -> String {
    format!("lease/{}", c(name))
}
