//! The JSON body extractor: size-capped, and a 400 in the product's shape that names the
//! field when the JSON is malformed or a field has the wrong type.

use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::Response;
use serde::de::DeserializeOwned;

/// Largest request body accepted (1 MiB).
pub const MAX_BODY: usize = 1 << 20;

/// A JSON request body.
pub struct JsonBody<T>(pub T);

fn bad_request(status: StatusCode, message: String) -> Response {
    crate::error::error_json(status, "bad_request", &message)
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    bad_request(
                        StatusCode::PAYLOAD_TOO_LARGE,
                        format!("Request body is larger than {MAX_BODY} bytes!"),
                    )
                } else {
                    bad_request(
                        StatusCode::BAD_REQUEST,
                        format!("Request body could not be read: {e}"),
                    )
                }
            })?;
        let text = match bytes.iter().find(|b| !b.is_ascii_whitespace()) {
            None => &b"{}"[..],
            // serde reads a struct from a JSON array too (its fields in order): a body is an
            // object, as the document says, or nothing.
            Some(b'{') => &bytes[..],
            Some(_) => {
                return Err(bad_request(
                    StatusCode::BAD_REQUEST,
                    "Request body is not a JSON object!".to_owned(),
                ));
            }
        };
        let mut de = serde_json::Deserializer::from_slice(text);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            let message = if path == "."
                || path == "?"
                || path.is_empty()
                || inner.is_syntax()
                || inner.is_eof()
            {
                format!("Request body is not valid JSON: {inner}")
            } else {
                format!("Request body field \"{path}\" is invalid: {inner}")
            };
            bad_request(StatusCode::BAD_REQUEST, message)
        })?;
        de.end().map_err(|e| {
            bad_request(
                StatusCode::BAD_REQUEST,
                format!("Request body is not valid JSON: {e}"),
            )
        })?;
        Ok(JsonBody(value))
    }
}
