//! Routes of remote JWK Sets: create, list, get, update, delete, refresh.

use axum::extract::{Path, State};
use axum::routing::{delete, get, post, put};
use jwk_registry::Command;

use crate::answer::*;
use crate::auth::Caller;
use crate::wire::{self};
use crate::{AppState, JsonBody};

/// This area's rows of the route table.
pub(crate) fn table() -> Vec<crate::Route> {
    vec![
        (
            "POST",
            "/apiops/projects/{project}/jwk-sets",
            post(create_jwk_set),
        ),
        (
            "GET",
            "/apiops/projects/{project}/jwk-sets",
            get(list_jwk_sets),
        ),
        (
            "GET",
            "/apiops/projects/{project}/jwk-sets/{name}",
            get(get_jwk_set),
        ),
        (
            "PUT",
            "/apiops/projects/{project}/jwk-sets/{name}",
            put(update_jwk_set),
        ),
        (
            "DELETE",
            "/apiops/projects/{project}/jwk-sets/{name}",
            delete(
                move |State(s): State<AppState>,
                      Caller(a): Caller,
                      Path(pair): Path<(String, String)>| {
                    pair_change(s, a, pair, |project, name| Command::DeleteJwkSet {
                        project,
                        name,
                    })
                },
            ),
        ),
        (
            "POST",
            "/apiops/projects/{project}/jwk-sets/{name}/refresh",
            post_pair(|project, name| Command::RefreshJwkSet { project, name }),
        ),
    ]
}

pub(crate) async fn create_jwk_set(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<wire::JwkSetBody>,
) -> ApiResult {
    let name = body.name();
    let spec = body.into_spec();
    let command = Command::CreateJwkSet {
        project,
        name,
        spec,
    };
    apply_and_answer(&s, &a, command).await
}

pub(crate) async fn update_jwk_set(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, name)): Path<(String, String)>,
    JsonBody(body): JsonBody<wire::JwkSetBody>,
) -> ApiResult {
    let spec = body.into_spec();
    let command = Command::UpdateJwkSet {
        project,
        name,
        spec,
    };
    apply_and_answer(&s, &a, command).await
}

pub(crate) async fn list_jwk_sets(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(project): Path<String>,
) -> ApiResult {
    list(read(&s, move |reg| reg.list_jwk_sets(&a, &project)).await?)
}

pub(crate) async fn get_jwk_set(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, name)): Path<(String, String)>,
) -> ApiResult {
    item(read(&s, move |reg| reg.get_jwk_set(&a, &project, &name)).await?)
}
