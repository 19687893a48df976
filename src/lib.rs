//! JWK Engine: the facade over the `jwk-*` crates.
#![doc = include_str!("../README.md")]

pub use jwk_core as core;
pub use jwk_core::{Error, ImportOptions, Jwk, JwkSet, ThumbprintHash, Usage, import};
pub use jwk_fetch as fetch;
