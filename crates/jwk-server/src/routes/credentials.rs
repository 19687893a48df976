//! Routes of credentials: create, list, get, slots (current and next JWK), promotion,
//! rotation, deploy.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post, put};
use jwk_registry::{Command, CredentialQuery, RegistryError};
use serde::Deserialize;

use crate::answer::*;
use crate::auth::Caller;
use crate::wire::{self};
use crate::{AppState, JsonBody};

/// This area's rows of the route table.
pub(crate) fn table() -> Vec<crate::Route> {
    vec![
        (
            "POST",
            "/apiops/projects/{project}/credentials",
            post(create_credential),
        ),
        (
            "GET",
            "/apiops/projects/{project}/credentials",
            get(list_credentials),
        ),
        (
            "GET",
            "/apiops/projects/{project}/credentials/{username}",
            get(get_credential),
        ),
        (
            "POST",
            "/apiops/projects/{project}/credentials/{username}/deploy",
            post_pair(|project, username| Command::DeployCredential { project, username }),
        ),
        (
            "PUT",
            "/apiops/projects/{project}/credentials/{username}/jwk/{slot}/{jwkName}",
            put_slot_jwk(|project, username, slot, jwk| Command::SetCredentialJwk {
                project,
                username,
                slot,
                jwk: Some(jwk),
            }),
        ),
        (
            "DELETE",
            "/apiops/projects/{project}/credentials/{username}/jwk/{slot}",
            delete_slot(|project, username, slot| Command::SetCredentialJwk {
                project,
                username,
                slot,
                jwk: None,
            }),
        ),
        (
            "PUT",
            "/apiops/projects/{project}/credentials/{username}/next-jwk/{slot}/{jwkName}",
            put_slot_jwk(
                |project, username, slot, jwk| Command::SetCredentialNextJwk {
                    project,
                    username,
                    slot,
                    jwk: Some(jwk),
                },
            ),
        ),
        (
            "DELETE",
            "/apiops/projects/{project}/credentials/{username}/next-jwk/{slot}",
            delete_slot(|project, username, slot| Command::SetCredentialNextJwk {
                project,
                username,
                slot,
                jwk: None,
            }),
        ),
        (
            "POST",
            "/apiops/projects/{project}/credentials/{username}/promote/{slot}",
            post(promote_slot),
        ),
        (
            "GET",
            "/apiops/projects/{project}/credentials/{username}/rotation/{slot}",
            get(get_rotation),
        ),
        (
            "PUT",
            "/apiops/projects/{project}/credentials/{username}/rotation/{slot}",
            put(set_rotation),
        ),
        (
            "DELETE",
            "/apiops/projects/{project}/credentials/{username}/rotation/{slot}",
            delete_slot(|project, username, slot| Command::SetSlotRotation {
                project,
                username,
                slot,
                policy: None,
            }),
        ),
    ]
}

#[derive(Deserialize, Default)]
pub(crate) struct CredentialBody {
    pub(crate) username: Option<String>,
}

pub(crate) async fn create_credential(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<CredentialBody>,
) -> ApiResult {
    let username = body.username.unwrap_or_default();
    apply_and_answer(&s, &a, Command::CreateCredential { project, username }).await
}

/// What a list of credentials takes: a page (`limit`, `after`) and a username prefix.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CredentialListQuery {
    limit: Option<usize>,
    after: Option<String>,
    username_prefix: Option<String>,
}

/// The credentials of a project: a page with `limit` or `after`, else all of them, streamed.
pub(crate) async fn list_credentials(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(project): Path<String>,
    Query(q): Query<CredentialListQuery>,
) -> ApiResult {
    let paged = q.limit.is_some() || q.after.is_some();
    let query = CredentialQuery {
        username_prefix: q.username_prefix,
        after: None,
        limit: q.limit.unwrap_or(jwk_registry::DEFAULT_PAGE),
    };
    listed(&s, paged, q.after, move |reg, after| {
        let query = CredentialQuery {
            after,
            ..query.clone()
        };
        reg.list_credentials_page(&a, &project, &query)
    })
    .await
}

pub(crate) async fn get_credential(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, username)): Path<(String, String)>,
) -> ApiResult {
    item(read(&s, move |reg| reg.get_credential(&a, &project, &username)).await?)
}

pub(crate) async fn get_rotation(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, username, slot_name)): Path<(String, String, String)>,
) -> ApiResult {
    let slot = slot(&slot_name)?;
    item(read(&s, move |reg| {
            reg.slot_rotation(&a, &project, &username, slot)?
                .ok_or_else(|| {
                    RegistryError::not_found(format!(
                        "Credential (username: {username}) has no rotation for its {slot_name} slot!"
                    ))
                })
        }).await?)
}

pub(crate) async fn set_rotation(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, username, slot_name)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<wire::RotationBody>,
) -> ApiResult {
    let slot = slot(&slot_name)?;
    let command = Command::SetSlotRotation {
        project,
        username,
        slot,
        policy: Some(body.policy()?),
    };
    apply_and_answer(&s, &a, command).await
}

pub(crate) async fn promote_slot(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, username, slot_name)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<wire::PromoteBody>,
) -> ApiResult {
    let slot = slot(&slot_name)?;
    let command = Command::PromoteCredentialJwk {
        project,
        username,
        slot,
        overlap_secs: body.overlap_secs(),
    };
    apply_and_answer(&s, &a, command).await
}
