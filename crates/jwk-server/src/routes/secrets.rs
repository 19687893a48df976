//! Routes of the secrets store: certificates, keys and keystores per environment.

use axum::extract::{Path, Query, State};
use axum::routing::{MethodRouter, get, post, put};
use jwk_registry::{Actor, Command, Outcome, SecretClass, SecretName, SecretQuery};
use serde::Deserialize;

use crate::answer::*;
use crate::auth::Caller;
use crate::wire::{self, Placed};
use crate::{AppState, JsonBody};

/// This area's rows of the route table.
pub(crate) fn table() -> Vec<crate::Route> {
    vec![
        (
            "POST",
            "/apiops/projects/{project}/certificates",
            post(add_certificate),
        ),
        ("POST", "/apiops/projects/{project}/keys", post(add_key)),
        (
            "GET",
            "/apiops/projects/{project}/secrets",
            get(list_secrets),
        ),
        (
            "GET",
            "/apiops/projects/{project}/certificates/{environment}/{name}",
            secret_get(SecretClass::Certificate),
        ),
        (
            "PUT",
            "/apiops/projects/{project}/certificates/{environment}/{name}",
            put(replace_certificate),
        ),
        (
            "DELETE",
            "/apiops/projects/{project}/certificates/{environment}/{name}",
            secret_delete(SecretClass::Certificate),
        ),
        (
            "GET",
            "/apiops/projects/{project}/keys/{environment}/{name}",
            secret_get(SecretClass::Key),
        ),
        (
            "PUT",
            "/apiops/projects/{project}/keys/{environment}/{name}",
            put(replace_key),
        ),
        (
            "DELETE",
            "/apiops/projects/{project}/keys/{environment}/{name}",
            secret_delete(SecretClass::Key),
        ),
        (
            "GET",
            "/apiops/projects/{project}/keystores/{environment}/{name}",
            secret_get(SecretClass::Keystore),
        ),
        (
            "PUT",
            "/apiops/projects/{project}/keystores/{environment}/{name}",
            put(replace_keystore),
        ),
        (
            "DELETE",
            "/apiops/projects/{project}/keystores/{environment}/{name}",
            secret_delete(SecretClass::Keystore),
        ),
        (
            "POST",
            "/apiops/projects/{project}/keystores",
            post(add_keystore),
        ),
    ]
}

pub(crate) async fn add_certificate(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<wire::AddCertificateBody>,
) -> ApiResult {
    let certificate = body.into();
    apply_and_answer(
        &s,
        &a,
        Command::AddCertificate {
            project,
            certificate,
        },
    )
    .await
}

pub(crate) async fn add_key(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<wire::AddKeyBody>,
) -> ApiResult {
    let record = body.record();
    let key = read_body(&s, &a, &project, record, body.into_new_key()).await?;
    apply_and_answer(&s, &a, Command::AddKey { project, key }).await
}

pub(crate) async fn add_keystore(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(project): Path<String>,
    JsonBody(body): JsonBody<wire::AddKeystoreBody>,
) -> ApiResult {
    let record = body.record();
    let keystore = read_body(&s, &a, &project, record, body.into_new_keystore()).await?;
    apply_and_answer(&s, &a, Command::AddKeystore { project, keystore }).await
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SecretsQuery {
    pub(crate) environment_name: Option<String>,
    pub(crate) limit: Option<usize>,
    pub(crate) after: Option<String>,
}

/// The secrets of a project (of one environment with `environmentName`): a page with
/// `limit` or `after`, else all of them, streamed.
pub(crate) async fn list_secrets(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path(project): Path<String>,
    Query(q): Query<SecretsQuery>,
) -> ApiResult {
    let paged = q.limit.is_some() || q.after.is_some();
    let query = SecretQuery {
        environment: q.environment_name,
        after: None,
        limit: q.limit.unwrap_or(jwk_registry::DEFAULT_PAGE),
    };
    listed(&s, paged, q.after, move |reg, after| {
        let query = SecretQuery {
            after,
            ..query.clone()
        };
        reg.list_secrets_page(&a, &project, &query)
    })
    .await
}

/// The secret a path names.
pub(crate) fn secret_name(class: SecretClass, environment: String, name: String) -> SecretName {
    SecretName {
        class,
        environment,
        name,
    }
}

pub(crate) async fn get_secret(
    s: AppState,
    a: Actor,
    (project, environment, name): (String, String, String),
    class: SecretClass,
) -> ApiResult {
    let secret = secret_name(class, environment, name);
    item(read(&s, move |reg| reg.get_secret(&a, &project, &secret)).await?)
}

#[derive(Deserialize, Default)]
pub(crate) struct DetachQuery {
    pub(crate) detach: Option<bool>,
}

pub(crate) async fn delete_secret(
    s: AppState,
    a: Actor,
    (project, environment, name): (String, String, String),
    class: SecretClass,
    detach: bool,
) -> ApiResult {
    let secret = secret_name(class, environment, name);
    let command = Command::DeleteSecret {
        project,
        secret,
        detach,
    };
    let outcome = apply(&s, &a, command).await?;
    ok_json(&Success {
        detached_jwks: Some(&outcome.detached),
        ..Success::of(&outcome)
    })
}

/// A replaced secret's answer: the JWKs that followed it, and their deployment.
pub(crate) fn rotated(outcome: &Outcome) -> ApiResult {
    ok_json(&Success {
        rotated_jwks: Some(&outcome.rotated),
        ..Success::of(outcome)
    })
}

/// `GET …/{certificates|keys|keystores}/{environment}/{name}/` for one class of secret.
pub(crate) fn secret_get(class: SecretClass) -> MethodRouter<AppState> {
    get(
        move |State(s): State<AppState>,
              Caller(a): Caller,
              Path(place): Path<(String, String, String)>| get_secret(s, a, place, class),
    )
}

/// `DELETE …/{certificates|keys|keystores}/{environment}/{name}/[?detach=true]`.
pub(crate) fn secret_delete(class: SecretClass) -> MethodRouter<AppState> {
    axum::routing::delete(
        move |State(s): State<AppState>,
              Caller(a): Caller,
              Path(place): Path<(String, String, String)>,
              Query(q): Query<DetachQuery>| {
            delete_secret(s, a, place, class, q.detach.unwrap_or(false))
        },
    )
}

pub(crate) async fn replace_certificate(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, environment, name)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<wire::AddCertificateBody>,
) -> ApiResult {
    let certificate = body.placed(&environment, &name).into();
    rotated(
        &apply(
            &s,
            &a,
            Command::ReplaceCertificate {
                project,
                certificate,
            },
        )
        .await?,
    )
}

pub(crate) async fn replace_key(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, environment, name)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<wire::AddKeyBody>,
) -> ApiResult {
    let body = body.placed(&environment, &name);
    let record = body.record();
    let key = read_body(&s, &a, &project, record, body.into_new_key()).await?;
    rotated(&apply(&s, &a, Command::ReplaceKey { project, key }).await?)
}

pub(crate) async fn replace_keystore(
    State(s): State<AppState>,
    Caller(a): Caller,
    Path((project, environment, name)): Path<(String, String, String)>,
    JsonBody(body): JsonBody<wire::AddKeystoreBody>,
) -> ApiResult {
    let body = body.placed(&environment, &name);
    let record = body.record();
    let keystore = read_body(&s, &a, &project, record, body.into_new_keystore()).await?;
    rotated(&apply(&s, &a, Command::ReplaceKeystore { project, keystore }).await?)
}
