//! Routes of JWKs: create (every source, from a certificate, generated), list, get, update,
//! delete, state, validity, rotation, re-sync, deploy, history, the credentials using one.

use axum::extract::{Path, Query, State};
use axum::routing::{get, post, put};
use jwk_registry::{Command, JwkQuery, KeyState, NewRecord, RegistryError};
use serde::Deserialize;

use crate::answer::*;
use crate::auth::Caller;
use crate::error::ApiError;
use crate::wire::{self};
use crate::{AppState, JsonBody};

/// This area's rows of the route table.
pub(crate) fn table() -> Vec<crate::Route> {
    vec![
        ("POST", "/apiops/projects/{project}/jwks", post(create_jwk)),
        ("GET", "/apiops/projects/{project}/jwks", get(list_jwks)),
        (
            "POST",
            "/apiops/projects/{project}/jwks/from-certificate",
            post(create_from_certificate),
        ),
        (
            "POST",
            "/apiops/projects/{project}/jwks/generate",
            post(generate_jwk),
        ),
        (
            "GET",
            "/apiops/projects/{project}/jwks/{name}",
            get(get_jwk),
        ),
        (
            "PUT",
            "/apiops/projects/{project}/jwks/{name}",
            put(update_jwk),
        ),
        (
            "DELETE",
            "/apiops/projects/{project}/jwks/{name}",
            axum::routing::delete(
                move |State(s): State<AppState>,
                      Caller(a): Caller,
                      Path(pair): Path<(String, String)>| {
                    pair_change(s, a, pair, |project, name| Command::DeleteJwk {
                        project,
                        name,
                    })
                },
            ),
        ),
        (
            "GET",
            "/apiops/projects/{project}/jwks/{name}/history",
            get(jwk_history),
        ),
        (
            "GET",
            "/apiops/projects/{project}/jwks/{name}/credentials",
            get(jwk_usage),
        ),
        (
            "PUT",
            "/apiops/projects/{project}/jwks/{name}/state",
            put(set_jwk_state),
        ),
        (
            "PUT",
            "/apiops/projects/{project}/jwks/{name}/validity",
            put(set_jwk_validity),
        ),
        (
            "GET",
            "/apiops/projects/{project}/jwks/{name}/rotation",
            get(get_jwk_rotation),
        ),
        (
            "PUT",
            "/apiops/projects/{project}/jwks/{name}/rotation",
            put(set_jwk_rotation),
        ),
        (
            "DELETE",
            "/apiops/projects/{project}/jwks/{name}/rotation",
            delete_pair(|project, name| Command::SetJwkRotation {
                project,
                name,
                policy: None,
            }),
        ),
        (
            "POST",
            "/apiops/projects/{project}/jwks/{name}/resync",
            post_pair(|project, name| Command::ResyncJwk { project, name }),
        ),
        (
            "POST",
            "/apiops/projects/{project}/jwks/{name}/deploy",
            post_pair(|project, name| Command::DeployJwk { project, name }),
        ),
    ]
}

pub(crate) async fn create_jwk(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<wire::CreateJwkBody>,
) -> ApiResult {
    let record = NewRecord::Jwk(body.name().to_owned());
    let jwk = read_body(&s, &a, &project, record, body.into_new_jwk()).await?;
    apply_and_answer(&s, &a, Command::CreateJwk { project, jwk }).await
}

pub(crate) async fn create_from_certificate(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<wire::CreateJwkBody>,
) -> ApiResult {
    let record = NewRecord::Jwk(body.name().to_owned());
    let read = body.into_new_jwk_from_certificate();
    let jwk = read_body(&s, &a, &project, record, read).await?;
    apply_and_answer(&s, &a, Command::CreateJwk { project, jwk }).await
}

pub(crate) async fn generate_jwk(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<wire::GenerateJwkBody>,
) -> ApiResult {
    let record = NewRecord::Jwk(body.name().to_owned());
    let jwk = read_body(&s, &a, &project, record, body.into_new_jwk()).await?;
    apply_and_answer(&s, &a, Command::CreateJwk { project, jwk }).await
}

#[derive(Deserialize, Default)]
pub(crate) struct PrivateQuery {
    pub(crate) private: Option<bool>,
}

/// What a list of JWKs takes: `private`, a page (`limit`, `after`) and filters.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JwkListQuery {
    private: Option<bool>,
    limit: Option<usize>,
    after: Option<String>,
    name_prefix: Option<String>,
    kid: Option<String>,
    thumbprint: Option<String>,
    state: Option<String>,
}

impl JwkListQuery {
    /// The registry's query, and whether a page was asked for (`limit` or `after`).
    fn query(self) -> Result<(JwkQuery, bool), ApiError> {
        let state = match self.state.as_deref() {
            None => None,
            Some(name) => Some(KeyState::parse(name).ok_or_else(|| {
                ApiError(RegistryError::bad_request(format!(
                    "State ({name}) is not valid! Use pending, active, retired or disabled."
                )))
            })?),
        };
        let paged = self.limit.is_some() || self.after.is_some();
        let query = JwkQuery {
            name_prefix: self.name_prefix,
            kid: self.kid,
            thumbprint: self.thumbprint,
            state,
            after: self.after,
            limit: self.limit.unwrap_or(jwk_registry::DEFAULT_PAGE),
        };
        Ok((query, paged))
    }
}

/// The JWKs of a project: a page with `limit` or `after` (`next` says where the next one
/// begins), else all of them, streamed page by page.
pub(crate) async fn list_jwks(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(project): Path<String>,
    Query(q): Query<JwkListQuery>,
) -> ApiResult {
    let private = q.private.unwrap_or(false);
    let (query, paged) = q.query()?;
    listed(&s, paged, query.after.clone(), move |reg, after| {
        let query = JwkQuery {
            after,
            ..query.clone()
        };
        reg.list_jwks_page(&a, &project, private, &query)
    })
    .await
}

pub(crate) async fn get_jwk(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, name)): Path<(String, String)>,
    Query(q): Query<PrivateQuery>,
) -> ApiResult {
    item(
        read(&s, move |reg| {
            reg.get_jwk(&a, &project, &name, q.private.unwrap_or(false))
        })
        .await?,
    )
}

#[derive(Deserialize, Default)]
pub(crate) struct HistoryQuery {
    pub(crate) limit: Option<usize>,
    pub(crate) after: Option<String>,
}

/// A JWK's history from the audit log, newest first (`?limit=`, 1 to 100, default 20;
/// `?after=` an entry's id: the entries older than it).
pub(crate) async fn jwk_history(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, name)): Path<(String, String)>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult {
    let limit = q.limit.unwrap_or(jwk_registry::DEFAULT_HISTORY_PAGE);
    item(
        read(&s, move |reg| {
            reg.jwk_history_after(&a, &project, &name, q.after.as_deref(), limit)
        })
        .await?,
    )
}

/// The credentials whose slots hold a JWK.
pub(crate) async fn jwk_usage(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, name)): Path<(String, String)>,
) -> ApiResult {
    item(read(&s, move |reg| reg.jwk_usage(&a, &project, &name)).await?)
}

pub(crate) async fn update_jwk(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<wire::UpdateJwkBody>,
) -> ApiResult {
    let update = body.into();
    apply_and_answer(
        &s,
        &a,
        Command::UpdateJwk {
            project,
            name,
            update,
        },
    )
    .await
}

pub(crate) async fn set_jwk_state(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<wire::StateBody>,
) -> ApiResult {
    let state = body.state()?;
    let command = Command::SetJwkState {
        project,
        name,
        state,
    };
    apply_and_answer(&s, &a, command).await
}

pub(crate) async fn set_jwk_validity(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<wire::ValidityBody>,
) -> ApiResult {
    let command = Command::SetJwkValidity {
        project,
        name,
        validity: body.validity(),
    };
    apply_and_answer(&s, &a, command).await
}

pub(crate) async fn get_jwk_rotation(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, name)): Path<(String, String)>,
) -> ApiResult {
    item(
        read(&s, move |reg| {
            reg.jwk_rotation(&a, &project, &name)?.ok_or_else(|| {
                RegistryError::not_found(format!("JWK (name: {name}) has no rotation!"))
            })
        })
        .await?,
    )
}

pub(crate) async fn set_jwk_rotation(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<wire::RotationBody>,
) -> ApiResult {
    let command = Command::SetJwkRotation {
        project,
        name,
        policy: Some(body.policy()?),
    };
    apply_and_answer(&s, &a, command).await
}
