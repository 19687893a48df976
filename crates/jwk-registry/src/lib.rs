//! jwk-registry: the product's rules over a [`store::Store`].
//!
//! Projects (one of them the admin project), environments, users with per-project
//! permissions, and per project: JWKs, remote JWK Sets, a secrets store (certificates,
//! public and private keys, keystores per environment) and credentials with a validation and
//! an encryption JWK slot.
//!
//! Every change, a person's or the engine's own background work's, is a typed [`Command`]
//! applied through one pipeline ([`Registry::apply`], `pipeline.rs`): authorize, plan,
//! mirror approval, audit, commit with retry, deploy to every environment through a
//! [`DeployTarget`]. The background work (refreshes, rotations, redeploys) is a client of
//! this API acting as a system [`Actor`] (the `jwk-controllers` crate).
//!
//! Modules, each importing only those listed before it (checked by `scripts/modules.sh`):
//! - leaves: `error`, `perm`, `types` (domain types), `actor`, `crypto`, `atomic`, `clock`,
//!   `config`, `fetching`, `records` (every stored record and the key layout; crate private);
//! - `rules`: pure functions (remote-set merge and grace, backoff, promotion gate);
//! - `deploy`: snapshots, the fan-out, the resolver, the built-in targets;
//! - `registry`: the [`Registry`] and its settings; `coord`: leases over the store;
//! - `command`: what [`Registry::apply`] takes and answers;
//! - `plan`: the context handlers read from and the plan they give back;
//! - `handlers`: one file per area, planning each command;
//! - `pipeline`: the one pipeline; `read`: views and queries.

pub mod actor;
pub mod atomic;
pub mod command;
pub mod config;
pub mod coord;
pub mod crypto;
pub mod deploy;
pub mod error;
mod fetching;
mod handlers;
pub mod perm;
mod pipeline;
mod plan;
pub mod read;
mod records;
mod registry;
pub mod rules;
pub mod types;

/// The `Store` trait and its in-memory implementation (the `jwk-store` crate).
pub use jwk_store as store;
/// Token verification (the `jwk-verify` crate): the resolver and [`ProjectKeys`] are its key
/// sources.
pub use jwk_verify as verify;
/// The one clock ([`Clock`], [`SystemClock`], [`ManualClock`]): the `jwk-verify` crate's,
/// so that a verifier and the registry judge time alike.
pub use jwk_verify::clock;

pub use actor::{Actor, SystemRole};
pub use clock::{Clock, ManualClock, SystemClock};
pub use command::{
    ApprovedEdit, Command, FetchOutcome, JwkUpdate, KeyKind, NewCertificate, NewJwk, NewKey,
    NewKeystore, NewRecord, Outcome, Refreshed, RotatedJwk, Source,
};
pub use config::{
    DEFAULT_MAX_CONCURRENT_FETCHES, DEFAULT_MAX_FETCH_SIZE, DEFAULT_MAX_FETCH_TIMEOUT_MS,
    RegistryConfig,
};
pub use coord::Lease;
pub use crypto::MasterKey;
pub use deploy::{DeployTarget, DeploymentResult, ProjectKeys, Resolver};
pub use error::{ErrorKind, RegistryError};
pub use pipeline::MAX_JWK_HISTORY;
pub use read::*;
pub use registry::{Registry, run_abandonable};
pub use types::*;

/// Most attempts of one change whose compares keep failing because other writers got there
/// first.
pub use records::ATTEMPTS;
