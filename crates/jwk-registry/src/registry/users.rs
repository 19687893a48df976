//! Users and their tokens: bootstrap, authentication, the admin token's reset, new users.

use sha2::{Digest, Sha256};

use super::{ADMIN_PROJECT, ADMIN_USER, Actor, Registry, name_in};
use crate::error::{RegistryError, Result};
use crate::model::{FORMAT, ProjectRec, UserRec, encode, keys, load};
use crate::store::Txn;

fn sha256_hex(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn new_token() -> Result<String> {
    let raw = super::random::<32>()?;
    Ok(format!(
        "jwk_{}",
        <base64ct::Base64UrlUnpadded as base64ct::Encoding>::encode_string(&raw)
    ))
}

/// A new token for `username`, and the transaction that creates the user with it (only the
/// token's hash is stored) if the user does not exist yet.
fn new_user(username: &str, admin: bool) -> Result<(String, Txn)> {
    let token = new_token()?;
    let hash = sha256_hex(&token);
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

impl Registry {
    /// Creates the admin user and the admin project; returns the admin token (shown once).
    /// A second call fails and changes nothing.
    pub fn bootstrap(&self) -> Result<String> {
        let (token, txn) = new_user(ADMIN_USER, true)?;
        let project = ProjectRec {
            v: FORMAT,
            name: ADMIN_PROJECT.to_owned(),
        };
        let actor = Actor {
            username: ADMIN_USER.to_owned(),
            admin: true,
        };
        let txn = txn
            .absent(keys::project(ADMIN_PROJECT))
            .put(keys::project(ADMIN_PROJECT), encode(&project));
        let txn = self.audit(txn, &actor, "bootstrap", None, ADMIN_USER)?;
        self.commit(txn, || {
            RegistryError::bad_request(
                "The registry is already bootstrapped: the admin user exists!",
            )
        })?;
        Ok(token)
    }

    /// Whether [`Registry::bootstrap`] has run: the admin user exists.
    pub fn is_bootstrapped(&self) -> Result<bool> {
        Ok(self.store.get(keys::user(ADMIN_USER).as_bytes())?.is_some())
    }

    /// Gives the admin user a new token and revokes the old one; returns the new token
    /// (shown once). For the owner of the registry's files (`jwkd admin-token --reset`), who
    /// has lost the token: nothing in the HTTP API calls it.
    pub fn reset_admin_token(&self) -> Result<String> {
        let actor = Actor {
            username: ADMIN_USER.to_owned(),
            admin: true,
        };
        self.replace_token(&actor, ADMIN_USER, "admin.token.reset", || {
            RegistryError::bad_request(
                "The registry is not bootstrapped: there is no admin token to reset!",
            )
        })
        .map(|(token, _)| token)
    }

    /// Gives a user a new token and revokes the old one at once; returns the new token
    /// (shown once). Admin only.
    pub(super) fn reset_user_token(&self, actor: &Actor, username: &str) -> Result<(String, u64)> {
        Self::require_admin(actor, "issue tokens")?;
        self.replace_token(actor, username, "user.token.reset", || {
            user_not_found(username)
        })
    }

    /// Replaces `username`'s token in one transaction (the old token's index entry is
    /// deleted, so it stops working when the new one starts).
    fn replace_token(
        &self,
        actor: &Actor,
        username: &str,
        action: &str,
        missing: impl Fn() -> RegistryError,
    ) -> Result<(String, u64)> {
        let key = keys::user(username);
        let token = new_token()?;
        let hash = sha256_hex(&token);
        let revision = self.commit_always(&format!("User (username: {username})"), || {
            let Some((mut user, revision)) = load::<UserRec>(&*self.store, &key)? else {
                return Err(missing());
            };
            let old = std::mem::replace(&mut user.token_sha256, hash.clone());
            let txn = Txn::new()
                .at(key.as_str(), revision)
                .delete(keys::token(&old))
                .put(keys::token(&hash), username)
                .put(key.as_str(), encode(&user));
            self.audit(txn, actor, action, None, username)
        })?;
        Ok((token, revision))
    }

    /// Deletes a user: its token stops working and its project memberships go. Admin only;
    /// the admin user cannot be deleted.
    pub(super) fn delete_user(&self, actor: &Actor, username: &str) -> Result<u64> {
        Self::require_admin(actor, "delete users")?;
        if username == ADMIN_USER {
            return Err(RegistryError::bad_request(
                "The admin user can not be deleted!",
            ));
        }
        let key = keys::user(username);
        let suffix = format!("/{}", crate::model::component(username));
        self.commit_always(&format!("User (username: {username})"), || {
            let Some((user, revision)) = load::<UserRec>(&*self.store, &key)? else {
                return Err(user_not_found(username));
            };
            let mut txn = Txn::new()
                .at(key.as_str(), revision)
                .delete(key.as_str())
                .delete(keys::token(&user.token_sha256));
            for (member_key, _) in self.store.scan(keys::MEMBERS.as_bytes())? {
                if member_key.ends_with(suffix.as_bytes()) {
                    txn = txn.delete(member_key);
                }
            }
            self.audit(txn, actor, "user.delete", None, username)
        })
    }

    /// The user a token belongs to, or the product's 401.
    pub fn authenticate(&self, token: &str) -> Result<Actor> {
        let hash = sha256_hex(token);
        let Some(v) = self.store.get(keys::token(&hash).as_bytes())? else {
            return Err(RegistryError::invalid_token());
        };
        let username = String::from_utf8_lossy(&v.value).into_owned();
        match load::<UserRec>(&*self.store, &keys::user(&username))? {
            Some((u, _)) if u.token_sha256 == hash => Ok(Actor {
                username: u.username,
                admin: u.admin,
            }),
            _ => Err(RegistryError::invalid_token()),
        }
    }

    pub(super) fn require_admin(actor: &Actor, what: &str) -> Result<()> {
        if actor.admin {
            Ok(())
        } else {
            Err(RegistryError::forbidden(format!(
                "Only the admin user can {what}!"
            )))
        }
    }

    /// Creates a user and returns its token (shown once; only its hash is stored). Admin only.
    pub(super) fn create_user(&self, actor: &Actor, username: &str) -> Result<(String, u64)> {
        Self::require_admin(actor, "create users")?;
        let username = name_in("User", username)?
            .ok_or_else(|| RegistryError::bad_request("Username can not be empty!"))?;
        let (token, txn) = new_user(username, false)?;
        let txn = self.audit(txn, actor, "user.create", None, username)?;
        let revision = self.commit(txn, || {
            RegistryError::bad_request(format!("User (username: {username}) is already exist!"))
        })?;
        Ok((token, revision))
    }
}

fn user_not_found(username: &str) -> RegistryError {
    RegistryError::not_found(format!("User (username: {username}) is not found!"))
}
