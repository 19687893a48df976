//! jwk-registry: the product's rules over a [`store::Store`].

pub mod store;
