//! A registry's settings.

use std::sync::Arc;

/// Settings of a registry.
#[derive(Debug, Clone)]
pub struct RegistryConfig {
    /// Let URL sources reach loopback and private addresses.
    pub allow_private_networks: bool,
    /// The largest `urlOptionConnectTimeout` and `urlOptionReadTimeout` a caller may ask for,
    /// in milliseconds (default [`DEFAULT_MAX_FETCH_TIMEOUT_MS`]).
    pub max_fetch_timeout_ms: u64,
    /// The largest `urlOptionSizeLimit` a caller may ask for, in bytes (default
    /// [`DEFAULT_MAX_FETCH_SIZE`]).
    pub max_fetch_size: u64,
    /// The directory `file` environments write under (`None`: file environments are refused).
    pub file_target_dir: Option<std::path::PathBuf>,
    /// Most URL fetches in progress at once (default [`DEFAULT_MAX_CONCURRENT_FETCHES`]); a
    /// fetch beyond them is refused at once (`temporarily_unavailable`, 503), so slow key
    /// servers never hold more threads than this.
    pub max_concurrent_fetches: usize,
    /// The one clock of everything time-dependent: key validity, refresh schedules and
    /// cooldowns, rotations, and the verifier of a host that takes `Registry::clock` (default
    /// [`crate::SystemClock`]; tests use a [`crate::ManualClock`]).
    pub clock: Arc<dyn crate::Clock>,
}

/// The default of [`RegistryConfig::max_concurrent_fetches`].
pub const DEFAULT_MAX_CONCURRENT_FETCHES: usize = 16;
/// The default of [`RegistryConfig::max_fetch_timeout_ms`]: 30 s.
pub const DEFAULT_MAX_FETCH_TIMEOUT_MS: u64 = 30_000;
/// The default of [`RegistryConfig::max_fetch_size`]: 10 MiB.
pub const DEFAULT_MAX_FETCH_SIZE: u64 = 10 * 1024 * 1024;

impl Default for RegistryConfig {
    fn default() -> Self {
        RegistryConfig {
            allow_private_networks: false,
            max_fetch_timeout_ms: DEFAULT_MAX_FETCH_TIMEOUT_MS,
            max_fetch_size: DEFAULT_MAX_FETCH_SIZE,
            file_target_dir: None,
            max_concurrent_fetches: DEFAULT_MAX_CONCURRENT_FETCHES,
            clock: Arc::new(crate::SystemClock),
        }
    }
}

impl RegistryConfig {
    /// The fetch options of a URL source or set with these (connect ms, read ms, size)
    /// options, held to the server's maxima (stored options too, should the maxima have been
    /// lowered since).
    pub(crate) fn fetch_options(
        &self,
        (connect, read, size): (u64, u64, u64),
    ) -> jwk_fetch::FetchOptions {
        let max_ms = self.max_fetch_timeout_ms;
        jwk_fetch::FetchOptions {
            connect_timeout: std::time::Duration::from_millis(connect.min(max_ms)),
            read_timeout: std::time::Duration::from_millis(read.min(max_ms)),
            size_limit: size.min(self.max_fetch_size),
            allow_private_networks: self.allow_private_networks,
            ..jwk_fetch::FetchOptions::default()
        }
    }
}
