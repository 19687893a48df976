//! JWK Engine: the facade over the `jwk-*` crates.
//!
//! With `default-features = false` it is the conversion core alone (`jwk-core`: no HTTP, no
//! store, no async runtime); the `fetch` feature adds bounded URL fetches (`jwk-fetch`), and
//! the `registry` feature (on by default) the registry, its stores, the HTTP API and `jwkd`.
#![doc = include_str!("../README.md")]

pub use jwk_core as core;
pub use jwk_core::{Error, ImportOptions, Jwk, JwkSet, ThumbprintHash, Usage, import};
#[cfg(feature = "fetch")]
pub use jwk_fetch as fetch;
#[cfg(feature = "verify")]
pub use jwk_verify as verify;

#[cfg(feature = "registry")]
mod hosting;
#[cfg(feature = "registry")]
pub use hosting::*;

#[cfg(feature = "registry")]
pub mod datadir;
