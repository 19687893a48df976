//! Encryption at rest of private material (private JWK members, private keys, keystores and
//! their passwords): AES-256-GCM under a master key the host provides.

use std::path::Path;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use base64ct::{Base64, Encoding};
use zeroize::Zeroizing;

use crate::error::{RegistryError, Result};

/// The 256-bit master key. Wiped on drop; `Debug` prints `[redacted]`.
pub struct MasterKey(Zeroizing<[u8; 32]>);

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey([redacted])")
    }
}

fn internal(detail: impl Into<String>) -> RegistryError {
    RegistryError::internal(detail.into())
}

impl MasterKey {
    /// A key from 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> MasterKey {
        MasterKey(Zeroizing::new(bytes))
    }

    /// A fresh random key.
    pub fn generate() -> Result<MasterKey> {
        let mut k = Zeroizing::new([0u8; 32]);
        getrandom::fill(&mut *k).map_err(|e| internal(format!("random: {e}")))?;
        Ok(MasterKey(k))
    }

    /// Reads the key file (base64 of 32 bytes), or creates it with owner-only permissions.
    pub fn load_or_create(path: &Path) -> Result<MasterKey> {
        if path.exists() {
            return MasterKey::load(path);
        }
        let key = MasterKey::generate()?;
        let text = Zeroizing::new(Base64::encode_string(&*key.0));
        // Never replaces a key: a process that started at the same moment and created one
        // first wins, and this one reads that key.
        match crate::atomic::write_new(path, text.as_bytes(), 0o600) {
            Ok(()) => Ok(key),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => MasterKey::load(path),
            Err(e) => Err(internal(format!("cannot write {}: {e}", path.display()))),
        }
    }

    /// Reads the key file at `path`.
    fn load(path: &Path) -> Result<MasterKey> {
        let text = Zeroizing::new(
            std::fs::read_to_string(path)
                .map_err(|e| internal(format!("cannot read {}: {e}", path.display())))?,
        );
        let bytes = Zeroizing::new(
            Base64::decode_vec(text.trim())
                .map_err(|_| internal(format!("{} is not a base64 master key", path.display())))?,
        );
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| internal(format!("{} must hold 32 bytes", path.display())))?;
        Ok(MasterKey::from_bytes(key))
    }

    /// Encrypts `plain`: base64 of nonce (12 bytes) ‖ ciphertext ‖ tag.
    pub fn seal(&self, plain: &[u8]) -> Result<String> {
        let cipher = Aes256Gcm::new_from_slice(&*self.0).map_err(|e| internal(e.to_string()))?;
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).map_err(|e| internal(format!("random: {e}")))?;
        let sealed = cipher
            .encrypt(&Nonce::from(nonce), plain)
            .map_err(|_| internal("encryption failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(Base64::encode_string(&out))
    }

    /// Decrypts what [`MasterKey::seal`] wrote.
    pub fn open(&self, sealed: &str) -> Result<Zeroizing<Vec<u8>>> {
        let raw = Base64::decode_vec(sealed).map_err(|_| internal("a sealed value is corrupt"))?;
        if raw.len() < 12 + 16 {
            return Err(internal("a sealed value is too short"));
        }
        let cipher = Aes256Gcm::new_from_slice(&*self.0).map_err(|e| internal(e.to_string()))?;
        let nonce: [u8; 12] = raw[..12].try_into().expect("length checked");
        cipher
            .decrypt(&Nonce::from(nonce), &raw[12..])
            .map(Zeroizing::new)
            .map_err(|_| {
                internal(
                    "a sealed value does not open with this master key (wrong key or corrupt data)",
                )
            })
    }
}

/// Writes a file readable by its owner only (mode 0600 on Unix), atomically.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::atomic::write_atomic(path, bytes, 0o600)
        .map_err(|e| internal(format!("cannot write {}: {e}", path.display())))
}
