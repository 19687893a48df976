//! The product's answer envelopes (`{"success":true,…}`, `resultItem`, `resultList`), the
//! application of a command through the registry's pipeline, and the route builders that
//! turn path parameters into commands.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{MethodRouter, post, put};
use jwk_registry::{Actor, Command, NewRecord, Outcome, Registry, RegistryError, Slot};

use crate::AppState;
use crate::auth::Caller;
use crate::error::{ApiError, json_response};

pub(crate) type ApiResult = Result<Response, ApiError>;

/// Applies `command` for `actor` through the registry's one pipeline.
pub(crate) async fn apply(
    state: &AppState,
    actor: &Actor,
    command: Command,
) -> Result<Outcome, ApiError> {
    Ok(state.registry.apply(actor, command).await?)
}

/// The product's success body for a change: `{"success":true}`, with its
/// `deploymentResult` when environments serve what changed (and a re-sync's
/// `resyncResult`).
pub(crate) fn changed(outcome: &Outcome) -> ApiResult {
    ok_json(&Success {
        resync_result: outcome.resync.as_ref(),
        ..Success::of(outcome)
    })
}

/// `{"success":true}` with what a change has to say: a re-sync's `resyncResult`, a replaced
/// secret's `rotatedJwks`, a deleted one's `detachedJwks`, the pending edits of other users
/// it approved (`approvedEdits`), and the `deploymentResult`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Success<'a> {
    pub(crate) success: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) resync_result: Option<&'a jwk_registry::ResyncReport>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) rotated_jwks: Option<&'a [jwk_registry::RotatedJwk]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) detached_jwks: Option<&'a [String]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) approved_edits: Option<&'a [jwk_registry::ApprovedEdit]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(crate) deployment_result: Option<&'a jwk_registry::DeploymentResult>,
}

impl<'a> Success<'a> {
    /// The body of a change's `outcome`: its deployment and the edits it approved.
    pub(crate) fn of(outcome: &'a Outcome) -> Success<'a> {
        Success {
            approved_edits: (!outcome.approved.is_empty()).then_some(&outcome.approved[..]),
            deployment_result: outcome.deployment.as_ref(),
            ..Success::default()
        }
    }
}

impl Default for Success<'_> {
    fn default() -> Self {
        Success {
            success: true,
            resync_result: None,
            rotated_jwks: None,
            detached_jwks: None,
            approved_edits: None,
            deployment_result: None,
        }
    }
}

/// Runs a read of the registry off the async workers ([`Registry::run_blocking`]).
pub(crate) async fn read<T: Send + 'static>(
    state: &AppState,
    read: impl FnOnce(&Registry) -> Result<T, RegistryError> + Send + 'static,
) -> Result<T, ApiError> {
    let registry = state.registry.clone();
    Ok(state.registry.run_blocking(move || read(&registry)).await?)
}

/// `{"success":true,"resultItem":…}`.
pub(crate) fn item(value: impl serde::Serialize) -> ApiResult {
    ok_json(&ResultItem {
        success: true,
        result_item: value,
    })
}

/// `{"success":true,"resultList":[…]}`.
pub(crate) fn list<T: serde::Serialize>(values: Vec<T>) -> ApiResult {
    ok_json(&ResultList {
        success: true,
        result_list: values,
    })
}

/// Applies `command` and answers the product's success body.
pub(crate) async fn apply_and_answer(
    state: &AppState,
    actor: &Actor,
    command: Command,
) -> ApiResult {
    changed(&apply(state, actor, command).await?)
}

/// A body read into a command's part, or, when it does not read, the answer the registry's
/// first checks of `record` in `project` give (permission, project, name), else why it does
/// not read: the product's order of answers.
pub(crate) async fn read_body<T>(
    state: &AppState,
    actor: &Actor,
    project: &str,
    record: NewRecord,
    read: Result<T, RegistryError>,
) -> Result<T, ApiError> {
    let unread = match read {
        Ok(value) => return Ok(value),
        Err(e) => e,
    };
    let (who, project) = (actor.clone(), project.to_owned());
    self::read(state, move |reg| reg.check_new(&who, &project, &record)).await?;
    Err(ApiError(unread))
}

/// A 200 with `value` written straight to JSON text: never through `serde_json::Value`,
/// whose map would reorder a JWK's members (answers carry JWKs in canonical order).
pub(crate) fn ok_json(value: &impl serde::Serialize) -> ApiResult {
    let body = serde_json::to_string(value).map_err(|e| {
        ApiError(RegistryError::internal(format!(
            "the answer does not write as JSON: {e}"
        )))
    })?;
    Ok(json_response(StatusCode::OK, body))
}

/// `{"success":true,"resultItem":…}`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResultItem<T> {
    pub(crate) success: bool,
    pub(crate) result_item: T,
}

/// `{"success":true,"resultList":[…]}`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ResultList<T> {
    pub(crate) success: bool,
    pub(crate) result_list: Vec<T>,
}

/// A change named by the two path parameters after the project's (`…/jwks/{name}/deploy/`,
/// …): `make` builds the command from them.
pub(crate) async fn pair_change(
    s: AppState,
    a: Actor,
    (project, name): (String, String),
    make: fn(String, String) -> Command,
) -> ApiResult {
    apply_and_answer(&s, &a, make(project, name)).await
}

/// `POST` of a [`pair_change`].
pub(crate) fn post_pair(make: fn(String, String) -> Command) -> MethodRouter<AppState> {
    post(
        move |State(s): State<AppState>, Caller(a): Caller, Path(pair): Path<(String, String)>| {
            pair_change(s, a, pair, make)
        },
    )
}

/// A PUT naming a credential slot and a JWK (`…/credentials/{username}/…/{slot}/{jwkName}`):
/// `make` builds the change from the project, username, slot and JWK name.
pub(crate) fn put_slot_jwk(
    make: fn(String, String, Slot, String) -> Command,
) -> MethodRouter<AppState> {
    put(
        move |State(s): State<AppState>,
              Caller(a): Caller,
              Path((project, username, slot_name, jwk)): Path<(String, String, String, String)>| async move {
            let slot = slot(&slot_name)?;
            apply_and_answer(&s, &a, make(project, username, slot, jwk)).await
        },
    )
}

/// A DELETE naming a credential slot (`…/credentials/{username}/…/{slot}`).
pub(crate) fn delete_slot(make: fn(String, String, Slot) -> Command) -> MethodRouter<AppState> {
    axum::routing::delete(
        move |State(s): State<AppState>,
              Caller(a): Caller,
              Path((project, username, slot_name)): Path<(String, String, String)>| async move {
            let slot = slot(&slot_name)?;
            apply_and_answer(&s, &a, make(project, username, slot)).await
        },
    )
}

/// A DELETE whose change is named by the two path parameters after the project's.
pub(crate) fn delete_pair(make: fn(String, String) -> Command) -> MethodRouter<AppState> {
    axum::routing::delete(
        move |State(s): State<AppState>, Caller(a): Caller, Path(pair): Path<(String, String)>| {
            pair_change(s, a, pair, make)
        },
    )
}

/// The slot a path names; 404 for any other name.
pub(crate) fn slot(name: &str) -> Result<Slot, ApiError> {
    Slot::parse(name).ok_or_else(|| {
        ApiError(RegistryError::not_found(format!(
            "JWK slot ({name}) is not valid! Use encryption or validation."
        )))
    })
}

/// `{"success":true,"resultList":[…],"next":…}`: one page of a list, and the `after` of the
/// next page (`null` on the last).
pub(crate) fn page<T: serde::Serialize>(page: jwk_registry::Page<T>) -> ApiResult {
    #[derive(serde::Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Paged<T> {
        success: bool,
        result_list: Vec<T>,
        next: Option<String>,
    }
    ok_json(&Paged {
        success: true,
        result_list: page.items,
        next: page.next,
    })
}

/// A list's answer: the page from `after` when a page was asked for (`paged`: the caller gave
/// `limit` or `after`), else every page, streamed ([`streamed_list`]). `page_of` reads the
/// page after a cursor (`None`: the first).
pub(crate) async fn listed<T, F>(
    state: &AppState,
    paged: bool,
    after: Option<String>,
    page_of: F,
) -> ApiResult
where
    T: serde::Serialize + Send + 'static,
    F: Fn(&Registry, Option<String>) -> Result<jwk_registry::Page<T>, RegistryError>
        + Send
        + Sync
        + 'static,
{
    let page_of = std::sync::Arc::new(page_of);
    let first_of = page_of.clone();
    let first = read(state, move |reg| first_of(reg, after)).await?;
    if paged {
        return page(first);
    }
    streamed_list(state, first, move |reg, after| page_of(reg, Some(after)))
}

/// How many written pages a streamed list holds for a client that reads slowly.
const STREAM_PAGES: usize = 2;

/// `{"success":true,"resultList":[…]}` of a whole list, written page by page as the client
/// reads it: `first` (read before answering, so that a refusal is still an error answer),
/// then each page `next` reads from the previous page's cursor. Memory stays bounded by a
/// few pages whatever the list's length; the reads run as [`read`]s, one page each, so a
/// slow client holds no worker. A page that fails to read after the answer began cuts the
/// body short (the JSON does not close; the server logs why).
pub(crate) fn streamed_list<T, F>(
    state: &AppState,
    first: jwk_registry::Page<T>,
    next: F,
) -> ApiResult
where
    T: serde::Serialize + Send + 'static,
    F: Fn(&Registry, String) -> Result<jwk_registry::Page<T>, RegistryError>
        + Send
        + Sync
        + 'static,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<bytes::Bytes, std::io::Error>>(STREAM_PAGES);
    let state = state.clone();
    let next = std::sync::Arc::new(next);
    tokio::spawn(async move {
        let mut page = first;
        let mut chunk = String::from(r#"{"success":true,"resultList":["#);
        let mut first_item = true;
        loop {
            let written = page.items.drain(..).try_for_each(|item| {
                if !first_item {
                    chunk.push(',');
                }
                first_item = false;
                chunk.push_str(&serde_json::to_string(&item)?);
                Ok::<(), serde_json::Error>(())
            });
            if let Err(e) = written {
                tracing::error!(error = %e, "a listed item does not write as JSON");
                let _ = tx.send(Err(std::io::Error::other("cut short"))).await;
                return;
            }
            let Some(after) = page.next.take() else {
                chunk.push_str("]}");
                let _ = tx.send(Ok(chunk.into())).await;
                return;
            };
            if tx
                .send(Ok(std::mem::take(&mut chunk).into()))
                .await
                .is_err()
            {
                return; // the client is gone
            }
            let next = next.clone();
            match read(&state, move |reg| next(reg, after)).await {
                Ok(p) => page = p,
                Err(e) => {
                    tracing::warn!(error = %e.0, "a streamed list was cut short");
                    let _ = tx.send(Err(std::io::Error::other("cut short"))).await;
                    return;
                }
            }
        }
    });
    let mut response = Response::new(axum::body::Body::new(ChannelBody(rx)));
    response.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

/// A response body fed by a channel of chunks.
struct ChannelBody(tokio::sync::mpsc::Receiver<Result<bytes::Bytes, std::io::Error>>);

impl http_body::Body for ChannelBody {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, std::io::Error>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| c.map(http_body::Frame::data)))
    }
}
