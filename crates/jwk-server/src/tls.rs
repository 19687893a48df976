//! HTTPS for `jwkd`: a rustls (ring) listener for `axum::serve`.
//!
//! TCP connections are accepted in a task of their own and each handshake runs in its own
//! task, bounded in time ([`HANDSHAKE_TIMEOUT`]) and in number ([`MAX_HANDSHAKES`] at once),
//! so a client that connects and says nothing delays nobody else. Finished handshakes queue
//! for `axum::serve`. The certificate and key are read again when either file changes
//! (checked at most every [`RELOAD_CHECK`]), so a renewed certificate needs no restart; a
//! renewal that does not load is logged and the previous pair stays in use.

use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

pub use rustls::ServerConfig;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, mpsc};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;

/// Longest time a client may take to finish its TLS handshake.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Most handshakes in progress at once; further connections wait to be accepted.
pub const MAX_HANDSHAKES: usize = 256;
/// How often, at most, the certificate and key files are checked for changes.
pub const RELOAD_CHECK: Duration = Duration::from_secs(10);

/// Reads a certificate chain (PEM, leaf first) and its private key (PEM: PKCS#8, PKCS#1 or
/// SEC1), and checks that they belong together.
pub fn load_certified_key(cert: &Path, key: &Path) -> Result<CertifiedKey, String> {
    let chain = CertificateDer::pem_file_iter(cert)
        .map_err(|e| format!("cannot read the TLS certificate {}: {e}", cert.display()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("the TLS certificate {} is not PEM: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "the TLS certificate file {} holds no CERTIFICATE block",
            cert.display()
        ));
    }
    let private = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot read a private key from {}: {e}", key.display()))?;
    let provider = rustls::crypto::ring::default_provider();
    CertifiedKey::from_der(chain, private, &provider).map_err(|e| match e {
        rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch) => format!(
            "the TLS key {} is not the key of the certificate {}",
            key.display(),
            cert.display()
        ),
        other => format!("the TLS key {} cannot be used: {other}", key.display()),
    })
}

/// The files' modification times, to notice a renewal.
fn stamps(cert: &Path, key: &Path) -> Option<(SystemTime, SystemTime)> {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    Some((modified(cert)?, modified(key)?))
}

/// Serves the current certificate, reloading it when its files change.
#[derive(Debug)]
struct Reloading {
    cert: PathBuf,
    key: PathBuf,
    reload_check: Duration,
    state: Mutex<ReloadState>,
}

#[derive(Debug)]
struct ReloadState {
    current: Arc<CertifiedKey>,
    stamps: Option<(SystemTime, SystemTime)>,
    checked: Instant,
}

impl Reloading {
    fn current(&self) -> Arc<CertifiedKey> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if state.checked.elapsed() >= self.reload_check {
            state.checked = Instant::now();
            let now = stamps(&self.cert, &self.key);
            if now.is_some() && now != state.stamps {
                match load_certified_key(&self.cert, &self.key) {
                    Ok(fresh) => {
                        tracing::info!(cert = %self.cert.display(), "TLS certificate reloaded");
                        state.current = Arc::new(fresh);
                        state.stamps = now;
                    }
                    // Half-written renewals land here too; the next check tries again.
                    Err(e) => tracing::warn!(error = %e, "TLS certificate not reloaded"),
                }
            }
        }
        state.current.clone()
    }
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// The server configuration for a certificate and key file (TLS 1.2 and 1.3, HTTP/1.1),
/// reloading them when they change ([`RELOAD_CHECK`]).
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, String> {
    server_config_with(cert, key, RELOAD_CHECK)
}

/// [`server_config`] checking the files for changes at most every `reload_check`.
pub fn server_config_with(
    cert: &Path,
    key: &Path,
    reload_check: Duration,
) -> Result<Arc<ServerConfig>, String> {
    let first = load_certified_key(cert, key)?;
    let resolver = Reloading {
        cert: cert.to_owned(),
        key: key.to_owned(),
        reload_check,
        state: Mutex::new(ReloadState {
            current: Arc::new(first),
            stamps: stamps(cert, key),
            checked: Instant::now(),
        }),
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS set-up: {e}"))?
        .with_no_client_auth()
        .with_cert_resolver(Arc::new(resolver));
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// A TLS listener for `axum::serve`.
pub struct TlsListener {
    ready: mpsc::Receiver<(TlsStream<TcpStream>, SocketAddr)>,
    local: SocketAddr,
}

impl TlsListener {
    /// Starts accepting on `tcp` (on the current tokio runtime) with `config`.
    pub fn new(tcp: TcpListener, config: Arc<ServerConfig>) -> io::Result<TlsListener> {
        let local = tcp.local_addr()?;
        let (tx, ready) = mpsc::channel(MAX_HANDSHAKES);
        tokio::spawn(accept_loop(tcp, TlsAcceptor::from(config), tx));
        Ok(TlsListener { ready, local })
    }
}

async fn accept_loop(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    tx: mpsc::Sender<(TlsStream<TcpStream>, SocketAddr)>,
) {
    let slots = Arc::new(Semaphore::new(MAX_HANDSHAKES));
    loop {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            return;
        };
        let (stream, peer) = match tcp.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // As axum's own listener does: out of descriptors and the like pass.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        if tx.is_closed() {
            return;
        }
        let (acceptor, tx) = (acceptor.clone(), tx.clone());
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(stream));
            match handshake.await {
                Ok(Ok(tls)) => {
                    drop(slot);
                    let _ = tx.send((tls, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!(%peer, error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!(%peer, "TLS handshake timed out"),
            }
        });
    }
}

impl axum::serve::Listener for TlsListener {
    type Io = TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.ready.recv().await {
            Some(connection) => connection,
            // The accept loop only ends when this listener is dropped.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        Ok(self.local)
    }
}
