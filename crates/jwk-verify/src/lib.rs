//! Verifying compact JWS and JWTs against JSON Web Keys, for gateways.
//!
//! - The key is chosen by the header's `kid` (or `x5t#S256`, `jkt`), never by trying every
//!   key ([`KeySource`]).
//! - The algorithm is pinned by the key: its `alg`, or the only algorithms its type and
//!   curve allow. `none` is refused, an HMAC algorithm with a public key is refused, `crit`
//!   is refused unless understood, `b64: false` is refused, ECDSA signatures are the JWS
//!   `r || s` form of exactly the curve's length, RSA keys under 2048 bits are refused.
//! - Claims: `exp`, `nbf` with a leeway, `iat` not in the future, optional `iss`, `aud` and
//!   required claims ([`Verifier`]).
//! - Sizes are capped before anything is decoded; every refusal is a [`VerifyError`] with a
//!   stable [`VerifyError::code`].
//! - With the `tower` feature, [`VerifyLayer`] checks bearer tokens in front of any tower
//!   service (axum, hyper).

mod alg;
pub mod clock;
mod error;
mod key;
#[cfg(feature = "tower")]
mod layer;
mod source;
mod verify;

pub use alg::{Algorithm, AlgorithmSet};
pub use clock::{Clock, ManualClock, SystemClock};
pub use error::VerifyError;
pub use key::{MAX_RSA_BITS, VerificationKey};
#[cfg(feature = "tower")]
pub use layer::{VerifyLayer, VerifyService};
pub use source::{BoxFuture, KeySelector, KeySet, KeySource, pick, x5t_s256};
pub use verify::{
    DEFAULT_LEEWAY, DEFAULT_MAX_HEADER_BYTES, DEFAULT_MAX_TOKEN_BYTES, DEFAULT_MIN_RSA_BITS,
    Header, MAX_LEEWAY, MAX_TOKEN_BYTES, MIN_RSA_BITS_FLOOR, VerifiedJws, VerifiedJwt, Verifier,
};
