//! Registry errors: the product's kinds (bad request, unauthorized, not found, forbidden) with
//! its exact messages.

use crate::store::StoreError;

/// The class of a failure, which the HTTP layer maps to a status and an `error` code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// 400 `bad_request`.
    BadRequest,
    /// 401 `unauthorized_client`.
    Unauthorized,
    /// 403 `access_denied`.
    Forbidden,
    /// 404 `not_found`.
    NotFound,
    /// 500 `server_error`: the store failed.
    Internal,
    /// 503 `temporarily_unavailable`: a bounded resource (URL fetches) is busy; try again.
    Unavailable,
}

impl ErrorKind {
    /// The HTTP status.
    pub fn status(self) -> u16 {
        match self {
            ErrorKind::BadRequest => 400,
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::NotFound => 404,
            ErrorKind::Internal => 500,
            ErrorKind::Unavailable => 503,
        }
    }

    /// The `error` member of the product's error body.
    pub fn code(self) -> &'static str {
        match self {
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::Unauthorized => "unauthorized_client",
            ErrorKind::Forbidden => "access_denied",
            ErrorKind::NotFound => "not_found",
            ErrorKind::Internal => "server_error",
            ErrorKind::Unavailable => "temporarily_unavailable",
        }
    }
}

/// A registry failure: its kind and the message shown as `error_description`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct RegistryError {
    /// The class.
    pub kind: ErrorKind,
    /// The product's message.
    pub message: String,
}

impl RegistryError {
    /// A 400 with this message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        RegistryError {
            kind: ErrorKind::BadRequest,
            message: message.into(),
        }
    }

    /// A 403 with this message.
    pub fn forbidden(message: impl Into<String>) -> Self {
        RegistryError {
            kind: ErrorKind::Forbidden,
            message: message.into(),
        }
    }

    /// The product's 401.
    pub fn invalid_token() -> Self {
        RegistryError {
            kind: ErrorKind::Unauthorized,
            message: "Invalid token".to_owned(),
        }
    }

    /// A 404 with this message: what a read names does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        RegistryError {
            kind: ErrorKind::NotFound,
            message: message.into(),
        }
    }

    /// The product's 404 for a project that does not exist or that the user cannot see.
    pub fn project_not_found(project: &str) -> Self {
        RegistryError {
            kind: ErrorKind::NotFound,
            message: format!(
                "Project({project}) was not found or user does not have privilege to access it!"
            ),
        }
    }

    /// The product's body: `{"error":…,"error_description":…}`.
    pub fn to_json(&self) -> String {
        serde_json::json!({"error": self.kind.code(), "error_description": self.message})
            .to_string()
    }
}

impl From<StoreError> for RegistryError {
    fn from(e: StoreError) -> Self {
        RegistryError {
            kind: ErrorKind::Internal,
            message: e.to_string(),
        }
    }
}

impl From<jwk_core::Error> for RegistryError {
    fn from(e: jwk_core::Error) -> Self {
        RegistryError::bad_request(e.to_string())
    }
}

impl From<jwk_fetch::FetchError> for RegistryError {
    fn from(e: jwk_fetch::FetchError) -> Self {
        match e {
            // Choosing from a fetched set fails like choosing from a pasted one.
            jwk_fetch::FetchError::Select(e) => e.into(),
            e => RegistryError::bad_request(format!("JWK could not be fetched from the URL: {e}")),
        }
    }
}

/// `Result` with [`RegistryError`].
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
