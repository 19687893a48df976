//! One handler per command, one file per area. A handler checks the actor's permissions (in
//! the product's order), does the command's expensive part once, and returns the [`Work`]
//! whose planner the pipeline calls (again, from fresh reads, when another writer got there
//! first). Handlers read through a [`Ctx`] and never write.

mod admin;
mod credentials;
mod jwks;
mod rotation;
mod secrets;
mod sets;
mod sources;
mod users;

pub(crate) use rotation::rotation_key;
pub(crate) use secrets::{attached_jwks, find_secret, secret_not_found, secret_preamble};
pub(crate) use sets::{fetch, fetch_plan};
pub(crate) use sources::{secret_content, secret_password};
pub(crate) use users::{bootstrap_work, reset_admin_token_work, token_hash};

use crate::actor::SystemRole;
use crate::command::{Command, NewRecord, Source};
use crate::error::{RegistryError, Result};
use crate::plan::{Ctx, Work};

/// Whether a system actor in `role` may apply `command`: each role its own commands.
pub(crate) fn allowed(role: SystemRole, command: &Command) -> bool {
    match role {
        SystemRole::Refresh => matches!(command, Command::RecordFetch { .. }),
        SystemRole::Rotation => match command {
            Command::CreateJwk { jwk, .. } => matches!(jwk.source, Source::Generate { .. }),
            Command::SetCredentialJwk { .. }
            | Command::SetCredentialNextJwk { .. }
            | Command::PromoteCredentialJwk { .. }
            | Command::PromoteJwk { .. }
            | Command::DeleteJwk { .. }
            | Command::RecordRotation { .. } => true,
            _ => false,
        },
        SystemRole::Reconcile => matches!(command, Command::Redeploy),
    }
}

/// The commands only the engine's own actors apply.
fn system_only(command: &Command) -> bool {
    matches!(
        command,
        Command::RecordFetch { .. } | Command::RecordRotation { .. } | Command::PromoteJwk { .. }
    )
}

/// Authorizes `command` and prepares its work.
pub(crate) fn prepare<'a>(ctx: &Ctx<'a>, command: Command) -> Result<Work<'a>> {
    // The approved copies and the indexes exist before any rule reads them.
    ctx.layout.ensure(ctx.store)?;
    if system_only(&command) && !ctx.actor.is_system() {
        return Err(RegistryError::forbidden(format!(
            "User (username: {}) may not apply this command: only the engine's own (system) actors do!",
            ctx.actor.username()
        )));
    }
    match command {
        Command::CreateJwk { project, jwk } => jwks::create(ctx, project, jwk),
        Command::UpdateJwk {
            project,
            name,
            update,
        } => jwks::update(ctx, project, name, update),
        Command::DeleteJwk { project, name } => jwks::delete(ctx, project, name),
        Command::SetJwkState {
            project,
            name,
            state,
        } => jwks::set_state(ctx, project, name, state),
        Command::SetJwkValidity {
            project,
            name,
            validity,
        } => jwks::set_validity(ctx, project, name, validity),
        Command::DeployJwk { project, name } => jwks::approve(ctx, project, name),
        Command::ResyncJwk { project, name } => jwks::resync(ctx, project, name),
        Command::CreateJwkSet {
            project,
            name,
            spec,
        } => sets::put(ctx, project, name, spec, false),
        Command::UpdateJwkSet {
            project,
            name,
            spec,
        } => sets::put(ctx, project, name, spec, true),
        Command::DeleteJwkSet { project, name } => sets::delete(ctx, project, name),
        Command::RefreshJwkSet { project, name } => sets::refresh(ctx, project, name),
        Command::RecordFetch {
            plan,
            lease,
            outcome,
        } => sets::record(ctx, plan, lease, outcome),
        Command::CreateCredential { project, username } => {
            credentials::create(ctx, project, username)
        }
        Command::SetCredentialJwk {
            project,
            username,
            slot,
            jwk,
        } => credentials::assign(ctx, project, username, (slot, false), jwk),
        Command::SetCredentialNextJwk {
            project,
            username,
            slot,
            jwk,
        } => credentials::assign(ctx, project, username, (slot, true), jwk),
        Command::PromoteCredentialJwk {
            project,
            username,
            slot,
            overlap_secs,
        } => credentials::promote(ctx, project, username, slot, overlap_secs),
        Command::DeployCredential { project, username } => {
            credentials::approve(ctx, project, username)
        }
        Command::SetSlotRotation {
            project,
            username,
            slot,
            policy,
        } => rotation::set_slot(ctx, project, username, slot, policy),
        Command::SetJwkRotation {
            project,
            name,
            policy,
        } => rotation::set_jwk(ctx, project, name, policy),
        Command::PromoteJwk {
            project,
            name,
            next,
            retired,
            overlap_secs,
        } => rotation::promote_jwk(ctx, project, name, next, retired, overlap_secs),
        Command::RecordRotation {
            project,
            holder,
            revision,
            progress,
        } => rotation::record(ctx, project, holder, revision, progress),
        Command::AddCertificate {
            project,
            certificate,
        } => secrets::add(
            ctx,
            project,
            secrets::SecretContent::Certificate(certificate),
        ),
        Command::AddKey { project, key } => {
            secrets::add(ctx, project, secrets::SecretContent::Key(key))
        }
        Command::AddKeystore { project, keystore } => {
            secrets::add(ctx, project, secrets::SecretContent::Keystore(keystore))
        }
        Command::ReplaceCertificate {
            project,
            certificate,
        } => secrets::replace(
            ctx,
            project,
            secrets::SecretContent::Certificate(certificate),
        ),
        Command::ReplaceKey { project, key } => {
            secrets::replace(ctx, project, secrets::SecretContent::Key(key))
        }
        Command::ReplaceKeystore { project, keystore } => {
            secrets::replace(ctx, project, secrets::SecretContent::Keystore(keystore))
        }
        Command::DeleteSecret {
            project,
            secret,
            detach,
        } => secrets::delete(ctx, project, secret, detach),
        Command::CreateProject { name } => admin::create_project(ctx, name),
        Command::CreateEnvironment { name, target } => admin::create_environment(ctx, name, target),
        Command::UpdateEnvironment { name, target } => admin::update_environment(ctx, name, target),
        Command::DeleteEnvironment { name } => admin::delete_environment(ctx, name),
        Command::Redeploy => admin::redeploy(ctx),
        Command::CreateUser { username } => users::create(ctx, username),
        Command::ResetUserToken { username } => users::reset_token(ctx, username),
        Command::DeleteUser { username } => users::delete(ctx, username),
        Command::SetMember {
            project,
            username,
            permissions,
        } => admin::set_member(ctx, project, username, permissions),
    }
}

/// The checks a change that creates `record` in `project` makes before it reads the rest of
/// its input (see `Registry::check_new`).
pub(crate) fn check_new(ctx: &Ctx<'_>, project: &str, record: &NewRecord) -> Result<()> {
    match record {
        NewRecord::Jwk(name) => {
            ctx.require(project, crate::perm::SECRETS_MANAGE)?;
            jwks::check_new_name(ctx, project, name).map(|_| ())
        }
        NewRecord::Secret {
            what,
            name,
            environment,
        } => secret_preamble(ctx, project, what, name, environment).map(|_| ()),
    }
}

/// A required text field: not blank (surrounding white space trimmed).
pub(crate) fn non_blank(value: &str) -> Option<&str> {
    Some(value.trim()).filter(|v| !v.is_empty())
}

/// A name as given: surrounding white space trimmed (but not control characters, which are
/// refused rather than trimmed away), `None` when nothing is left (the caller answers with the
/// product's "… can not be empty!"), else refused when the name as given is over
/// [`crate::MAX_NAME`] characters or holds a control character. The same rule as the OpenAPI
/// document's `NameText`.
pub(crate) fn name_in<'a>(what: &str, raw: &'a str) -> Result<Option<&'a str>> {
    use crate::types::MAX_NAME;
    let name = raw.trim_matches(|c: char| c.is_whitespace() && !c.is_control());
    if name.is_empty() {
        return Ok(None);
    }
    // Names are path segments of the API, and clients resolve these two away.
    if name == "." || name == ".." {
        return Err(RegistryError::bad_request(format!(
            "{what} name can not be \".\" or \"..\"!"
        )));
    }
    if raw.chars().count() > MAX_NAME || raw.chars().any(char::is_control) {
        return Err(RegistryError::bad_request(format!(
            "{what} name must be at most {MAX_NAME} characters without control characters!"
        )));
    }
    // A bidirectional control makes a name display as another (U+202E turns the rest of
    // it around): refused, naming the first.
    if let Some(c) = raw.chars().find(|c| is_bidi_control(*c)) {
        return Err(RegistryError::bad_request(format!(
            "{what} name may not hold bidirectional text controls (U+{:04X})!",
            c as u32
        )));
    }
    Ok(Some(name))
}

/// The Unicode bidirectional formatting characters (UAX #9): ALM, LRM, RLM, LRE, RLE, PDF,
/// LRO, RLO, LRI, RLI, FSI, PDI.
pub(crate) fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// A new record id: 12 random bytes in hex.
pub(crate) fn new_id() -> Result<String> {
    Ok(crate::registry::hex(&crate::registry::random::<12>()?))
}

#[cfg(test)]
mod name_tests {
    use super::name_in;

    #[test]
    fn names_are_trimmed_of_white_space_but_never_of_control_characters() {
        let refused = "JWK name must be at most 256 characters without control characters!";
        assert_eq!(name_in("JWK", "  my-jwk \u{a0}"), Ok(Some("my-jwk")));
        assert_eq!(name_in("JWK", " \u{3000} "), Ok(None));
        assert_eq!(name_in("JWK", ""), Ok(None));
        for dots in [".", " .. "] {
            assert_eq!(
                name_in("Project", dots).unwrap_err().message(),
                r#"Project name can not be "." or ".."!"#
            );
        }
        assert_eq!(name_in("JWK", "..."), Ok(Some("...")));
        for bad in ["f\r\r", "\t", "a\u{85}b", "a\u{7f}"] {
            assert_eq!(
                name_in("JWK", bad).unwrap_err().message(),
                refused,
                "{bad:?}"
            );
        }
        for (bad, code) in [
            ("invoice\u{202E}gpj.exe", "202E"),
            ("\u{200F}x", "200F"),
            ("a\u{2066}b\u{2069}", "2066"),
            ("\u{061C}", "061C"),
        ] {
            assert_eq!(
                name_in("JWK", bad).unwrap_err().message(),
                format!("JWK name may not hold bidirectional text controls (U+{code})!"),
                "{bad:?}"
            );
        }
        // Other format characters stay names (a zero-width joiner in an emoji sequence).
        assert_eq!(name_in("JWK", "👩\u{200D}💻"), Ok(Some("👩\u{200D}💻")));
        // 256 characters (of 4 bytes each) are a name; 257, or 256 with white space around
        // them, are not.
        let longest = "😀".repeat(256);
        assert_eq!(name_in("JWK", &longest), Ok(Some(longest.as_str())));
        for bad in [
            format!("{longest}a"),
            format!(" {longest}"),
            format!("{}a", " ".repeat(300)),
        ] {
            assert_eq!(name_in("JWK", &bad).unwrap_err().message(), refused);
        }
    }
}
