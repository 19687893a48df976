//! Routes of what the admin manages and every user sees of it: projects, environments,
//! users, members, redeploy, who the caller is, an environment's JWKS.

use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{delete, get, post, put};
use jwk_registry::perm::Permission;
use jwk_registry::{Command, Outcome, TargetConfig};
use serde::Deserialize;

use crate::answer::*;
use crate::auth::Caller;
use crate::{AppState, JsonBody};

/// This area's rows of the route table.
pub(crate) fn table() -> Vec<crate::Route> {
    vec![
        (
            "PUT",
            "/apiops/projects/{project}/members/{username}",
            put(set_member),
        ),
        ("POST", "/apiops/projects", post(create_project)),
        ("GET", "/apiops/projects", get(list_projects)),
        ("POST", "/apiops/environments", post(create_environment)),
        ("GET", "/apiops/environments", get(list_environments)),
        (
            "PUT",
            "/apiops/environments/{environment}",
            put(update_environment),
        ),
        (
            "DELETE",
            "/apiops/environments/{environment}",
            delete(delete_environment),
        ),
        (
            "GET",
            "/apiops/environments/{environment}/jwks",
            get(environment_jwks),
        ),
        ("POST", "/apiops/users", post(create_user)),
        ("DELETE", "/apiops/users/{username}", delete(delete_user)),
        (
            "POST",
            "/apiops/users/{username}/token",
            post(reset_user_token),
        ),
        ("POST", "/apiops/reconcile", post(reconcile)),
        ("GET", "/apiops/me", get(me)),
        ("GET", "/apiops/audit", get(audit_log)),
    ]
}

/// What the audit log takes: a page (`limit`, `after`).
#[derive(Deserialize, Default)]
pub(crate) struct AuditQuery {
    limit: Option<usize>,
    after: Option<String>,
}

/// `GET /apiops/audit/` (admin): the audit log, oldest first; a page with `limit` or `after`
/// (an entry's `id`, a page's `next`), else all of it, streamed.
pub(crate) async fn audit_log(
    State(s): State<AppState>,
    Caller(a): Caller,
    axum::extract::Query(q): axum::extract::Query<AuditQuery>,
) -> ApiResult {
    let paged = q.limit.is_some() || q.after.is_some();
    let limit = q.limit.unwrap_or(jwk_registry::DEFAULT_PAGE);
    listed(&s, paged, q.after, move |reg, after| {
        reg.audit_log(&a, after.as_deref(), limit)
    })
    .await
}

/// `GET /apiops/projects/`: the projects the caller can see, with its permissions.
pub(crate) async fn list_projects(State(s): State<AppState>, Caller(a): Caller) -> ApiResult {
    list(read(&s, move |reg| reg.list_projects(&a)).await?)
}

/// `GET /apiops/environments/`: every environment and its last deployment.
pub(crate) async fn list_environments(State(s): State<AppState>, Caller(a): Caller) -> ApiResult {
    list(read(&s, move |reg| reg.list_environments(&a)).await?)
}

#[derive(Deserialize, Default)]
pub(crate) struct NameBody {
    pub(crate) name: Option<String>,
}

pub(crate) async fn create_project(
    State(s): State<AppState>,
    Caller(a): Caller,
    JsonBody(body): JsonBody<NameBody>,
) -> ApiResult {
    let name = body.name.unwrap_or_default();
    apply_and_answer(&s, &a, Command::CreateProject { name }).await
}

#[derive(Deserialize)]
pub(crate) struct EnvironmentBody {
    pub(crate) name: Option<String>,
    pub(crate) target: TargetConfig,
}

pub(crate) async fn create_environment(
    State(s): State<AppState>,
    Caller(a): Caller,
    JsonBody(body): JsonBody<EnvironmentBody>,
) -> ApiResult {
    let command = Command::CreateEnvironment {
        name: body.name.unwrap_or_default(),
        target: body.target,
    };
    apply_and_answer(&s, &a, command).await
}

#[derive(Deserialize)]
pub(crate) struct TargetBody {
    pub(crate) target: TargetConfig,
}

/// Replaces an environment's target (admin), then deploys every key to it: the answer is the
/// deployment result.
pub(crate) async fn update_environment(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<TargetBody>,
) -> ApiResult {
    let target = body.target;
    apply_and_answer(&s, &a, Command::UpdateEnvironment { name, target }).await
}

pub(crate) async fn delete_environment(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(name): Path<String>,
) -> ApiResult {
    apply_and_answer(&s, &a, Command::DeleteEnvironment { name }).await
}

#[derive(Deserialize, Default)]
pub(crate) struct UserBody {
    pub(crate) username: Option<String>,
}

/// `{"username":…,"token":…}`: a user's new token, shown once.
pub(crate) fn user_token(username: &str, outcome: Outcome) -> ApiResult {
    ok_json(&serde_json::json!({ "username": username, "token": outcome.token }))
}

pub(crate) async fn create_user(
    State(s): State<AppState>,
    Caller(a): Caller,
    JsonBody(body): JsonBody<UserBody>,
) -> ApiResult {
    let username = body.username.unwrap_or_default();
    let shown = username.trim().to_owned();
    user_token(
        &shown,
        apply(&s, &a, Command::CreateUser { username }).await?,
    )
}

/// Issues a user a new token; the old one stops working (admin).
pub(crate) async fn reset_user_token(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(username): Path<String>,
) -> ApiResult {
    let shown = username.clone();
    user_token(
        &shown,
        apply(&s, &a, Command::ResetUserToken { username }).await?,
    )
}

pub(crate) async fn delete_user(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(username): Path<String>,
) -> ApiResult {
    apply_and_answer(&s, &a, Command::DeleteUser { username }).await
}

#[derive(Deserialize)]
pub(crate) struct MemberBody {
    pub(crate) permissions: Vec<Permission>,
}

pub(crate) async fn set_member(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, username)): Path<(String, String)>,
    JsonBody(body): JsonBody<MemberBody>,
) -> ApiResult {
    let permissions = body.permissions;
    let command = Command::SetMember {
        project,
        username,
        permissions,
    };
    apply_and_answer(&s, &a, command).await
}

/// Who the token belongs to, and whether it is the admin user's (the console offers the
/// admin's actions to the admin alone).
pub(crate) async fn me(Caller(a): Caller) -> ApiResult {
    item(serde_json::json!({"username": a.username(), "admin": a.is_admin()}))
}

pub(crate) async fn reconcile(State(s): State<AppState>, Caller(a): Caller) -> ApiResult {
    let outcome = apply(&s, &a, Command::Redeploy).await?;
    ok_json(&Success {
        deployment_result: outcome.deployment.as_ref(),
        ..Success::default()
    })
}

/// The public JWKS this node's in-process resolver serves for a `memory` environment; the
/// revision it belongs to is the ETag (any authenticated user: the keys are public).
pub(crate) async fn environment_jwks(
    State(s): State<AppState>,
    Caller(_): Caller,
    Path(environment): Path<String>,
) -> ApiResult {
    let (jwks, revision) = read(&s, move |reg| reg.served_jwks(&environment)).await?;
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/jwk-set+json".to_owned()),
            (header::ETAG, format!("\"{revision}\"")),
        ],
        jwks.to_string(),
    )
        .into_response())
}
