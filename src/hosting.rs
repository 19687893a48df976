//! The registry side of the facade (the `registry` feature): stores chosen by kind, data
//! dirs, and the registry over them.

use std::path::Path;
use std::sync::Arc;

pub use jwk_controllers as controllers;
pub use jwk_registry as registry;
pub use jwk_server as server;
pub use jwk_store_postgres as postgres;

use crate::datadir;
use jwk_registry::store::{MemoryStore, Store, StoreError};

/// Which `Store` backend holds the registry: the one setting that chooses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum StoreKind {
    /// sled 0.34 in `<data dir>/sled` (the default).
    #[default]
    Sled,
    /// redb 4 in `<data dir>/registry.redb`.
    Redb,
    /// In memory: nothing survives the process.
    Memory,
}

impl StoreKind {
    /// Parses `sled`, `redb` or `memory`.
    pub fn parse(name: &str) -> Option<StoreKind> {
        match name {
            "sled" => Some(StoreKind::Sled),
            "redb" => Some(StoreKind::Redb),
            "memory" => Some(StoreKind::Memory),
            _ => None,
        }
    }

    /// `sled`, `redb` or `memory`: the name [`StoreKind::parse`] reads.
    pub fn name(self) -> &'static str {
        match self {
            StoreKind::Sled => "sled",
            StoreKind::Redb => "redb",
            StoreKind::Memory => "memory",
        }
    }
}

/// Opens the chosen store in `data_dir` (created if missing).
pub fn open_store(kind: StoreKind, data_dir: &Path) -> Result<Arc<dyn Store>, StoreError> {
    if kind != StoreKind::Memory {
        std::fs::create_dir_all(data_dir).map_err(StoreError::from_display)?;
    }
    Ok(match kind {
        StoreKind::Sled => Arc::new(jwk_store_sled::SledStore::open(&data_dir.join("sled"))?),
        StoreKind::Redb => Arc::new(jwk_store_redb::RedbStore::open(
            &data_dir.join("registry.redb"),
        )?),
        StoreKind::Memory => Arc::new(MemoryStore::new()),
    })
}

/// Opens a registry in `data_dir`: the chosen store, and the master key from
/// `<data dir>/master.key` (created with owner-only permissions on first use). The data dir
/// records which store holds its registry ([`datadir`]): opening it with another store is
/// refused before anything is created.
pub fn open_registry(
    kind: StoreKind,
    data_dir: &Path,
    config: jwk_registry::RegistryConfig,
) -> Result<jwk_registry::Registry, jwk_registry::RegistryError> {
    if kind == StoreKind::Memory {
        return registry_on(open_store(kind, data_dir)?, data_dir, config);
    }
    datadir::check_store(data_dir, kind.name())?;
    let registry = registry_on(open_store(kind, data_dir)?, data_dir, config)?;
    datadir::record(data_dir, kind.name(), &registry.id()?)?;
    Ok(registry)
}

/// Opens a registry shared with other nodes in PostgreSQL (`url`: a `postgres://` URL or a
/// key=value connection string; `sslmode=require` for verified TLS, with the CA in
/// `options.tls_roots` for a private one), with the master key from `<data dir>/master.key`.
/// Every node must use the same master key: copy the first node's `master.key` to the others
/// (a node with another key is refused).
pub fn open_postgres_registry(
    url: &str,
    options: jwk_store_postgres::PgOptions,
    data_dir: &Path,
    config: jwk_registry::RegistryConfig,
) -> Result<jwk_registry::Registry, jwk_registry::RegistryError> {
    datadir::check_store(data_dir, "postgres")?;
    let store: Arc<dyn Store> = Arc::new(jwk_store_postgres::PgStore::connect_with(url, options)?);
    let registry = registry_on(store, data_dir, config)?;
    datadir::record(data_dir, "postgres", &registry.id()?)?;
    Ok(registry)
}

/// A registry over `store` with the master key of `data_dir`, checked against the store.
pub fn registry_on(
    store: Arc<dyn Store>,
    data_dir: &Path,
    config: jwk_registry::RegistryConfig,
) -> Result<jwk_registry::Registry, jwk_registry::RegistryError> {
    std::fs::create_dir_all(data_dir).map_err(|e| {
        jwk_registry::RegistryError::internal(format!("cannot create {}: {e}", data_dir.display()))
    })?;
    let key = jwk_registry::MasterKey::load_or_create(&data_dir.join("master.key"))?;
    let registry = jwk_registry::Registry::new(store, key, config);
    registry.verify_master_key()?;
    Ok(registry)
}
