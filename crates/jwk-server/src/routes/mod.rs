//! The routes, one file per area; each gives its rows of the route table.

pub(crate) mod admin;
pub(crate) mod credentials;
pub(crate) mod jwks;
pub(crate) mod public;
pub(crate) mod secrets;
pub(crate) mod sets;
