//! TLS to PostgreSQL over rustls (ring), verifying the server's chain and name.
//!
//! Written here rather than taken from tokio-postgres-rustls: its current release (0.14)
//! reads certificates with x509-cert 0.2, a second der/spki generation in the build. The
//! adapter is small: a connector per host name, a stream that forwards reads and writes,
//! and the `tls-server-end-point` channel binding (RFC 5929) for SCRAM-SHA-256-PLUS.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use der::asn1::AnyRef;
use der::{Decode, Reader, SliceReader};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use sha2::{Digest, Sha256, Sha384, Sha512};
use spki::AlgorithmIdentifierRef;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_postgres::tls::{ChannelBinding, MakeTlsConnect, TlsConnect, TlsStream};

use jwk_store::StoreError;

/// Reads the CA certificates of a PEM file (`--postgres-ca`), for [`crate::PgOptions::tls_roots`].
pub fn read_ca_file(path: &std::path::Path) -> Result<Vec<Vec<u8>>, StoreError> {
    let name = path.display();
    let pem = std::fs::read(path)
        .map_err(|e| StoreError(format!("cannot read the PostgreSQL CA file {name}: {e}")))?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .map(|c| c.map(|c| c.as_ref().to_vec()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| StoreError(format!("the PostgreSQL CA file {name} is not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(StoreError(format!(
            "the PostgreSQL CA file {name} holds no CERTIFICATE block"
        )));
    }
    Ok(certs)
}

/// The client configuration: `roots` (DER) when given, else the Mozilla roots.
pub(crate) fn client_config(roots: &[Vec<u8>]) -> Result<Arc<ClientConfig>, StoreError> {
    let mut store = RootCertStore::empty();
    if roots.is_empty() {
        store.add_parsable_certificates(webpki_root_certs::TLS_SERVER_ROOT_CERTS.iter().cloned());
    } else {
        for (i, der) in roots.iter().enumerate() {
            store
                .add(CertificateDer::from(der.as_slice()).into_owned())
                .map_err(|e| {
                    StoreError(format!(
                        "PostgreSQL CA certificate #{i} cannot be a trust anchor: {e}"
                    ))
                })?;
        }
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| StoreError(format!("TLS set-up: {e}")))?
        .with_root_certificates(store)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Makes a TLS connector for each host tokio-postgres connects to.
#[derive(Clone, Debug)]
pub(crate) struct MakeRustls(pub(crate) Arc<ClientConfig>);

impl<S> MakeTlsConnect<S> for MakeRustls
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type TlsConnect = RustlsConnect;
    type Error = io::Error;

    fn make_tls_connect(&mut self, host: &str) -> io::Result<RustlsConnect> {
        let name = ServerName::try_from(host.to_owned()).map_err(|e| {
            io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("{host} is not a name a TLS certificate can hold: {e}"),
            )
        })?;
        Ok(RustlsConnect {
            config: self.0.clone(),
            name,
        })
    }
}

/// Connects one stream to one host.
pub(crate) struct RustlsConnect {
    config: Arc<ClientConfig>,
    name: ServerName<'static>,
}

impl<S> TlsConnect<S> for RustlsConnect
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Stream = RustlsStream<S>;
    type Error = io::Error;
    type Future = Pin<Box<dyn Future<Output = io::Result<RustlsStream<S>>> + Send>>;

    fn connect(self, stream: S) -> Self::Future {
        Box::pin(async move {
            let connector = tokio_rustls::TlsConnector::from(self.config);
            Ok(RustlsStream(connector.connect(self.name, stream).await?))
        })
    }
}

/// A TLS stream to the server.
pub(crate) struct RustlsStream<S>(tokio_rustls::client::TlsStream<S>);

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for RustlsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for RustlsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> TlsStream for RustlsStream<S> {
    fn channel_binding(&self) -> ChannelBinding {
        let (_, session) = self.0.get_ref();
        match session.peer_certificates().and_then(|c| c.first()) {
            Some(cert) => server_end_point(cert.as_ref())
                .map_or_else(ChannelBinding::none, ChannelBinding::tls_server_end_point),
            None => ChannelBinding::none(),
        }
    }
}

/// RFC 5929 `tls-server-end-point`: the server certificate's hash with the hash of its
/// signature algorithm, SHA-256 for MD5 and SHA-1; none for algorithms without one (EdDSA,
/// RSASSA-PSS), as PostgreSQL itself does.
fn server_end_point(cert: &[u8]) -> Option<Vec<u8>> {
    const SHA256: &[&str] = &[
        "1.2.840.113549.1.1.4",  // md5WithRSAEncryption
        "1.2.840.113549.1.1.5",  // sha1WithRSAEncryption
        "1.2.840.113549.1.1.11", // sha256WithRSAEncryption
        "1.2.840.10045.4.1",     // ecdsa-with-SHA1
        "1.2.840.10045.4.3.2",   // ecdsa-with-SHA256
    ];
    const SHA384: &[&str] = &["1.2.840.113549.1.1.12", "1.2.840.10045.4.3.3"];
    const SHA512: &[&str] = &["1.2.840.113549.1.1.13", "1.2.840.10045.4.3.4"];
    let mut reader = SliceReader::new(cert).ok()?;
    let oid = reader
        .sequence(|r| {
            AnyRef::decode(r)?;
            let algorithm = AlgorithmIdentifierRef::decode(r)?;
            AnyRef::decode(r)?;
            Ok::<_, der::Error>(algorithm.oid)
        })
        .ok()?
        .to_string();
    if SHA256.contains(&oid.as_str()) {
        Some(Sha256::digest(cert).to_vec())
    } else if SHA384.contains(&oid.as_str()) {
        Some(Sha384::digest(cert).to_vec())
    } else if SHA512.contains(&oid.as_str()) {
        Some(Sha512::digest(cert).to_vec())
    } else {
        None
    }
}
