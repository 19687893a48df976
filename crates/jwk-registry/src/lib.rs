//! jwk-registry: the product's rules over a [`store::Store`].
//!
//! Projects (one of them the admin project), environments, users with per-project
//! permissions, and per project: JWKs, a secrets store (certificates, public and private
//! keys, keystores per environment) and credentials with a validation and an encryption JWK
//! slot. Every change is one compare-and-put transaction with an audit entry, and deploys to
//! every environment through a [`deploy::DeployTarget`].

pub mod atomic;
pub mod clock;
pub mod crypto;
pub mod deploy;
pub mod error;
pub mod model;
pub mod perm;
mod registry;

/// The `Store` trait and its in-memory implementation (the `jwk-store` crate).
pub use jwk_store as store;

pub use clock::{Clock, ManualClock, SystemClock};
pub use crypto::MasterKey;
pub use deploy::{
    DeployTarget, DeploymentResult, KeyState, ProjectKeys, Resolver, Slot, Validity, ValidityStatus,
};
pub use error::{ErrorKind, RegistryError};
/// Token verification (the `jwk-verify` crate): the resolver, [`ProjectKeys`] and
/// [`LiveKeys::project_keys`] are its key sources.
pub use jwk_verify as verify;
pub use registry::*;
