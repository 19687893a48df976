//! Users and their tokens: bootstrap, new users, a user's new token, deletion. A token is
//! shown once; only its SHA-256 is stored.

use sha2::{Digest, Sha256};

use super::name_in;
use crate::actor::SYSTEM_PREFIX;
use crate::error::{RegistryError, Result};
use crate::plan::{Audit, Ctx, Plan, Work};
use crate::records::{FORMAT, ProjectRec, UserRec, component, encode, keys};
use crate::store::Txn;
use crate::types::{ADMIN_PROJECT, ADMIN_USER};

/// SHA-256 (hex) of a token: what is stored, and what authentication looks up.
pub(crate) fn token_hash(text: &str) -> String {
    crate::registry::hex(&Sha256::digest(text.as_bytes()))
}

fn new_token() -> Result<String> {
    let raw = crate::registry::random::<32>()?;
    Ok(format!(
        "jwk_{}",
        <base64ct::Base64UrlUnpadded as base64ct::Encoding>::encode_string(&raw)
    ))
}

/// A new user's token and the transaction that stores the user.
fn new_user(username: &str, admin: bool) -> Result<(String, Txn)> {
    let token = new_token()?;
    let hash = token_hash(&token);
    let rec = UserRec {
        v: FORMAT,
        username: username.to_owned(),
        token_sha256: hash.clone(),
        admin,
    };
    let txn = Txn::new()
        .absent(keys::user(username))
        .put(keys::user(username), encode(&rec))
        .put(keys::token(&hash), username);
    Ok((token, txn))
}

fn user_not_found(username: &str) -> RegistryError {
    RegistryError::not_found(format!("User (username: {username}) is not found!"))
}

/// Bootstrap: the admin user (its token in the answer) and the admin project, once.
pub(crate) fn bootstrap_work<'a>() -> Result<Work<'a>> {
    let (token, txn) = new_user(ADMIN_USER, true)?;
    let project = ProjectRec {
        v: FORMAT,
        name: ADMIN_PROJECT.to_owned(),
    };
    Ok(Work::new("The registry", move |ctx| {
        if ctx.store.get(keys::user(ADMIN_USER).as_bytes())?.is_some() {
            return Err(RegistryError::bad_request(
                "The registry is already bootstrapped: the admin user exists!",
            ));
        }
        let txn = txn
            .clone()
            .absent(keys::project(ADMIN_PROJECT))
            .put(keys::project(ADMIN_PROJECT), encode(&project));
        let mut plan = Plan::new(txn, Audit::of("bootstrap", None, ADMIN_USER));
        plan.answer.token = Some(token.clone());
        Ok(plan)
    }))
}

/// Replaces the admin user's token (the host's recovery, on the machine that holds the
/// data dir).
pub(crate) fn reset_admin_token_work<'a>() -> Result<Work<'a>> {
    replace_token(ADMIN_USER.to_owned(), "admin.token.reset", || {
        RegistryError::bad_request(
            "The registry is not bootstrapped: there is no admin token to reset!",
        )
    })
}

pub(super) fn create<'a>(ctx: &Ctx<'a>, username: String) -> Result<Work<'a>> {
    ctx.require_admin("create users")?;
    let username = name_in("User", &username)?
        .ok_or_else(|| RegistryError::bad_request("Username can not be empty!"))?
        .to_owned();
    if username.starts_with(SYSTEM_PREFIX) {
        return Err(RegistryError::bad_request(format!(
            "Username ({username}) is reserved: names starting with \"{SYSTEM_PREFIX}\" name the engine's own actors!"
        )));
    }
    let (token, txn) = new_user(&username, false)?;
    Ok(Work::new(
        format!("User (username: {username})"),
        move |ctx| {
            if ctx.store.get(keys::user(&username).as_bytes())?.is_some() {
                return Err(RegistryError::bad_request(format!(
                    "User (username: {username}) is already exist!"
                )));
            }
            let mut plan = Plan::new(txn.clone(), Audit::of("user.create", None, &username));
            plan.answer.token = Some(token.clone());
            Ok(plan)
        },
    ))
}

pub(super) fn reset_token<'a>(ctx: &Ctx<'a>, username: String) -> Result<Work<'a>> {
    ctx.require_admin("issue tokens")?;
    let missing = username.clone();
    replace_token(username, "user.token.reset", move || {
        user_not_found(&missing)
    })
}

fn replace_token<'a>(
    username: String,
    action: &'static str,
    missing: impl Fn() -> RegistryError + 'a,
) -> Result<Work<'a>> {
    let key = keys::user(&username);
    let token = new_token()?;
    let hash = token_hash(&token);
    Ok(Work::new(
        format!("User (username: {username})"),
        move |ctx| {
            let Some((mut user, revision)) = ctx.load::<UserRec>(&key)? else {
                return Err(missing());
            };
            let old = std::mem::replace(&mut user.token_sha256, hash.clone());
            let txn = Txn::new()
                .at(key.as_str(), revision)
                .delete(keys::token(&old))
                .put(keys::token(&hash), username.as_str())
                .put(key.as_str(), encode(&user));
            let mut plan = Plan::new(txn, Audit::of(action, None, &username));
            plan.answer.token = Some(token.clone());
            Ok(plan)
        },
    ))
}

pub(super) fn delete<'a>(ctx: &Ctx<'a>, username: String) -> Result<Work<'a>> {
    ctx.require_admin("delete users")?;
    if username == ADMIN_USER {
        return Err(RegistryError::bad_request(
            "The admin user can not be deleted!",
        ));
    }
    let key = keys::user(&username);
    let suffix = format!("/{}", component(&username));
    Ok(Work::new(
        format!("User (username: {username})"),
        move |ctx| {
            let Some((user, revision)) = ctx.load::<UserRec>(&key)? else {
                return Err(user_not_found(&username));
            };
            let mut txn = Txn::new()
                .at(key.as_str(), revision)
                .delete(key.as_str())
                .delete(keys::token(&user.token_sha256));
            for (member_key, _) in ctx.store.scan(keys::MEMBERS.as_bytes())? {
                if member_key.ends_with(suffix.as_bytes()) {
                    txn = txn.delete(member_key);
                }
            }
            Ok(Plan::new(txn, Audit::of("user.delete", None, &username)))
        },
    ))
}
