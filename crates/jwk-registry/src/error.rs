//! Registry errors: what went wrong, with the product's exact messages and a stable code.
//!
//! Nothing here knows HTTP: `jwk-server` maps [`RegistryError::kind`] to a status and writes
//! the wire body.

use crate::store::StoreError;

/// The class of a failure: what a caller can do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request is refused by the product's rules or its input does not parse: change it.
    BadRequest,
    /// The token is missing or unknown.
    Unauthorized,
    /// The actor may not do this.
    Forbidden,
    /// What a read names does not exist (or is hidden from the actor).
    NotFound,
    /// The store or the host failed: not the caller's fault.
    Internal,
    /// A bounded resource is busy, or the record kept changing: try again shortly.
    Unavailable,
}

impl ErrorKind {
    /// The class's stable code: `bad_request`, `unauthorized_client`, `access_denied`,
    /// `not_found`, `server_error` or `temporarily_unavailable`.
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

/// A registry failure. `Display` is the product's message (the API's `error_description`);
/// [`RegistryError::code`] is stable for programs.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// Refused by the product's rules, with the product's message.
    #[error("{0}")]
    Invalid(String),
    /// Key material the core refuses; its code (e.g. `jwks.kid_required`) is kept.
    #[error("{0}")]
    Key(jwk_core::Error),
    /// A URL source could not be fetched; `code` is the fetch's (e.g. `fetch.too_large`).
    #[error("JWK could not be fetched from the URL: {message}")]
    Fetch {
        /// The fetch's stable code.
        code: &'static str,
        /// What happened.
        message: String,
    },
    /// The product's 401: no token, or one that no user holds.
    #[error("Invalid token")]
    InvalidToken,
    /// The actor lacks a permission.
    #[error("{0}")]
    Forbidden(String),
    /// What a read names does not exist or is hidden from the actor.
    #[error("{0}")]
    NotFound(String),
    /// A bounded resource is busy or the record kept changing: try again in a few seconds.
    #[error("{0}")]
    Busy(String),
    /// The store or the host failed.
    #[error("{0}")]
    Internal(String),
}

impl RegistryError {
    /// A refusal with the product's message.
    pub fn bad_request(message: impl Into<String>) -> Self {
        RegistryError::Invalid(message.into())
    }

    /// A missing permission.
    pub fn forbidden(message: impl Into<String>) -> Self {
        RegistryError::Forbidden(message.into())
    }

    /// The product's 401.
    pub fn invalid_token() -> Self {
        RegistryError::InvalidToken
    }

    /// What a read names does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        RegistryError::NotFound(message.into())
    }

    /// Busy: try again shortly.
    pub fn busy(message: impl Into<String>) -> Self {
        RegistryError::Busy(message.into())
    }

    /// The store or the host failed.
    pub fn internal(message: impl Into<String>) -> Self {
        RegistryError::Internal(message.into())
    }

    /// The product's answer for a project that does not exist or that the user cannot see.
    pub fn project_not_found(project: &str) -> Self {
        RegistryError::NotFound(format!(
            "Project({project}) was not found or user does not have privilege to access it!"
        ))
    }

    /// The class.
    pub fn kind(&self) -> ErrorKind {
        match self {
            RegistryError::Invalid(_) | RegistryError::Key(_) | RegistryError::Fetch { .. } => {
                ErrorKind::BadRequest
            }
            RegistryError::InvalidToken => ErrorKind::Unauthorized,
            RegistryError::Forbidden(_) => ErrorKind::Forbidden,
            RegistryError::NotFound(_) => ErrorKind::NotFound,
            RegistryError::Busy(_) => ErrorKind::Unavailable,
            RegistryError::Internal(_) => ErrorKind::Internal,
        }
    }

    /// The stable code: the core's for key material (`jwks.kid_required`, `pem.no_key`, …),
    /// the fetch's for URL sources (`fetch.too_large`, …), else the class's
    /// ([`ErrorKind::code`]).
    pub fn code(&self) -> &'static str {
        match self {
            RegistryError::Key(e) => e.code(),
            RegistryError::Fetch { code, .. } => code,
            other => other.kind().code(),
        }
    }

    /// The message (the same as `to_string()`).
    pub fn message(&self) -> String {
        self.to_string()
    }
}

impl From<StoreError> for RegistryError {
    fn from(e: StoreError) -> Self {
        RegistryError::Internal(e.to_string())
    }
}

impl From<jwk_core::Error> for RegistryError {
    fn from(e: jwk_core::Error) -> Self {
        RegistryError::Key(e)
    }
}

impl From<jwk_fetch::FetchError> for RegistryError {
    fn from(e: jwk_fetch::FetchError) -> Self {
        match e {
            // Choosing from a fetched set fails like choosing from a pasted one.
            jwk_fetch::FetchError::Select(e) => e.into(),
            e => RegistryError::Fetch {
                code: e.code(),
                message: e.to_string(),
            },
        }
    }
}

/// `Result` with [`RegistryError`].
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_keep_the_core_and_fetch_codes_and_messages_stay_the_products() {
        let kid = RegistryError::from(jwk_core::Error::JwksEmpty);
        assert_eq!(
            (kid.kind(), kid.code()),
            (ErrorKind::BadRequest, "jwks.empty")
        );
        assert_eq!(kid.message(), jwk_core::Error::JwksEmpty.to_string());
        let fetch = RegistryError::from(jwk_fetch::FetchError::TooLarge { limit: 10 });
        assert_eq!(
            (fetch.kind(), fetch.code(), fetch.message().as_str()),
            (
                ErrorKind::BadRequest,
                "fetch.too_large",
                "JWK could not be fetched from the URL: the response is larger than the size limit of 10 bytes"
            )
        );
        let name = RegistryError::bad_request("JWK name can not be empty!");
        assert_eq!(
            (name.code(), name.message().as_str()),
            ("bad_request", "JWK name can not be empty!")
        );
        assert_eq!(
            RegistryError::project_not_found("p").to_string(),
            "Project(p) was not found or user does not have privilege to access it!"
        );
        assert_eq!(RegistryError::invalid_token().code(), "unauthorized_client");
        assert_eq!(RegistryError::busy("x").code(), "temporarily_unavailable");
    }
}
