//! Java KeyStore (JKS) files, the JDK's default keystore format before Java 9 and still
//! common where Java runs.
//!
//! Read by hand: no Rust crate reads JKS. The format is the JDK's
//! `sun.security.provider.JavaKeyStore`: big-endian, `FEEDFEED`, a version (1 or 2), then
//! private-key entries (alias, date, a protected PKCS#8 key, the certificate chain) and
//! trusted-certificate entries, then a SHA-1 integrity digest over the password (UTF-16BE),
//! the words "Mighty Aphrodite" and every byte before it. A private key is protected by the
//! JDK's own scheme (OID 1.3.6.1.4.1.42.2.17.1.1): a SHA-1 key stream from the password and a
//! 20-byte salt, then a SHA-1 check of the password and the key. The key password must be
//! the store password (keytool's default). JCEKS files are recognised and refused.

use der::asn1::{ObjectIdentifier, OctetStringRef};
use der::{Decode, Reader, SliceReader};
use sha1::{Digest, Sha1};
use spki::AlgorithmIdentifierRef;
use zeroize::Zeroizing;

use crate::der::pkcs8_to_key;
use crate::detect::{JCEKS_MAGIC, JKS_MAGIC as MAGIC};
use crate::encrypted::utf16_be;
use crate::error::{Error, Result};
use crate::jwk::{Jwk, Parameters};
use crate::keystore::{KeystoreEntry, key_type};

const KEY_PROTECTOR: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.42.2.17.1.1");
const PRIVATE_KEY_ENTRY: u32 = 1;
const TRUSTED_CERT_ENTRY: u32 = 2;
/// Most entries read (a JDK's cacerts holds ~150).
const MAX_ENTRIES: u32 = 10_000;
const DIGEST_LEN: usize = 20;

fn malformed(detail: impl std::fmt::Display) -> Error {
    Error::KeystoreMalformed {
        detail: format!("JKS: {detail}"),
    }
}

/// A big-endian reader over the file; every read is bounded by what is left.
struct Cursor<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8]> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or_else(|| malformed(format!("the file ends inside {what}")))?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn u16(&mut self, what: &str) -> Result<u16> {
        let b = self.take(2, what)?;
        Ok(u16::from_be_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        let b = self.take(4, what)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    /// A length-prefixed (u32) byte string.
    fn blob(&mut self, what: &str) -> Result<&'a [u8]> {
        let n = self.u32(what)?;
        self.take(n as usize, what)
    }

    /// Java's `DataOutput.writeUTF`: a u16 length, then modified UTF-8.
    fn utf(&mut self, what: &str) -> Result<String> {
        let n = self.u16(what)?;
        let bytes = self.take(usize::from(n), what)?;
        modified_utf8(bytes).ok_or_else(|| malformed(format!("{what} is not modified UTF-8")))
    }
}

/// Decodes Java's modified UTF-8 (U+0000 as C0 80, supplementary characters as two
/// three-byte surrogates).
fn modified_utf8(bytes: &[u8]) -> Option<String> {
    let mut units = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let cont = |k: usize| {
            bytes
                .get(i + k)
                .filter(|c| *c & 0xc0 == 0x80)
                .map(|c| u16::from(c & 0x3f))
        };
        let (unit, len) = match b {
            0x00..=0x7f => (u16::from(b), 1),
            0xc0..=0xdf => ((u16::from(b & 0x1f) << 6) | cont(1)?, 2),
            0xe0..=0xef => ((u16::from(b & 0x0f) << 12) | (cont(1)? << 6) | cont(2)?, 3),
            _ => return None,
        };
        units.push(unit);
        i += len;
    }
    String::from_utf16(&units).ok()
}

/// One entry of the file.
struct Entry<'a> {
    alias: String,
    /// The protected key (an EncryptedPrivateKeyInfo) of a private-key entry.
    key: Option<&'a [u8]>,
    /// The chain, leaf first (one certificate for a trusted-certificate entry).
    certificates: Vec<&'a [u8]>,
}

/// Parses the file and checks its integrity digest with `password`.
fn open<'a>(file: &'a [u8], password: &str) -> Result<Vec<Entry<'a>>> {
    if file.starts_with(&JCEKS_MAGIC) {
        return Err(Error::UnsupportedEncryption {
            scheme: "JCEKS keystores (convert with keytool -importkeystore -deststoretype PKCS12)"
                .to_owned(),
        });
    }
    let body_len = file
        .len()
        .checked_sub(DIGEST_LEN)
        .ok_or_else(|| malformed("the file is shorter than its digest"))?;
    let mut c = Cursor {
        bytes: &file[..body_len],
        pos: 0,
    };
    if c.take(4, "the magic number")? != MAGIC {
        return Err(malformed("not a JKS file (no FEEDFEED magic number)"));
    }
    let version = c.u32("the version")?;
    if version != 1 && version != 2 {
        return Err(malformed(format!("version {version}, expected 1 or 2")));
    }
    let count = c.u32("the entry count")?;
    if count > MAX_ENTRIES {
        return Err(malformed(format!(
            "{count} entries, more than {MAX_ENTRIES}"
        )));
    }
    let mut entries = Vec::new();
    for _ in 0..count {
        let tag = c.u32("an entry tag")?;
        let alias = c.utf("an alias")?;
        c.take(8, "an entry date")?;
        let certificate = |c: &mut Cursor<'a>| -> Result<&'a [u8]> {
            if version == 2 {
                let kind = c.utf("a certificate type")?;
                if kind != "X.509" {
                    return Err(malformed(format!(
                        "certificate type {kind}, expected X.509"
                    )));
                }
            }
            c.blob("a certificate")
        };
        let entry = match tag {
            PRIVATE_KEY_ENTRY => {
                let key = c.blob("a protected key")?;
                let n = c.u32("a chain length")?;
                if n > MAX_ENTRIES {
                    return Err(malformed(format!("a chain of {n} certificates")));
                }
                let certificates = (0..n)
                    .map(|_| certificate(&mut c))
                    .collect::<Result<Vec<_>>>()?;
                Entry {
                    alias,
                    key: Some(key),
                    certificates,
                }
            }
            TRUSTED_CERT_ENTRY => Entry {
                alias,
                key: None,
                certificates: vec![certificate(&mut c)?],
            },
            3 => {
                return Err(malformed(
                    "a secret-key entry (JCEKS only; this is not a valid JKS file)",
                ));
            }
            other => return Err(malformed(format!("entry tag {other}"))),
        };
        entries.push(entry);
    }
    if c.pos != body_len {
        return Err(malformed(format!(
            "{} bytes follow the entries",
            body_len - c.pos
        )));
    }
    let digest = Sha1::new()
        .chain_update(&*utf16_be(password))
        .chain_update(b"Mighty Aphrodite")
        .chain_update(&file[..body_len])
        .finalize();
    // Not secret-dependent timing: the digest is the file's own and the password's hash.
    if digest.as_slice() != &file[body_len..] {
        return Err(Error::KeystoreBadPassword);
    }
    Ok(entries)
}

/// Recovers a private key protected by the JDK's key protector; returns its PKCS#8 DER.
fn recover_key(protected: &[u8], password: &str) -> Result<Zeroizing<Vec<u8>>> {
    let what = "a protected key";
    let mut reader = SliceReader::new(protected).map_err(|e| malformed(format!("{what}: {e}")))?;
    let (algorithm, data) = reader
        .sequence(|r| {
            let algorithm = AlgorithmIdentifierRef::decode(r)?;
            let data = <&OctetStringRef>::decode(r)?.as_bytes();
            Ok::<_, der::Error>((algorithm, data))
        })
        .map_err(|e| malformed(format!("{what}: {e}")))?;
    if algorithm.oid != KEY_PROTECTOR {
        return Err(Error::UnsupportedEncryption {
            scheme: format!("JKS key protection {}", algorithm.oid),
        });
    }
    if data.len() < 2 * DIGEST_LEN {
        return Err(malformed(format!("{what} is too short")));
    }
    let (salt, rest) = data.split_at(DIGEST_LEN);
    let (encrypted, check) = rest.split_at(rest.len() - DIGEST_LEN);
    let pw = utf16_be(password);
    let mut key = Zeroizing::new(encrypted.to_vec());
    let mut digest = Zeroizing::new(salt.to_vec());
    for chunk in key.chunks_mut(DIGEST_LEN) {
        *digest = Sha1::new()
            .chain_update(&*pw)
            .chain_update(&*digest)
            .finalize()
            .to_vec();
        chunk
            .iter_mut()
            .zip(digest.iter())
            .for_each(|(k, d)| *k ^= d);
    }
    let expected = Sha1::new()
        .chain_update(&*pw)
        .chain_update(&*key)
        .finalize();
    if expected.as_slice() != check {
        return Err(Error::KeystoreBadPassword);
    }
    Ok(key)
}

/// The entries in listing order: private keys first, then trusted certificates.
fn keys_then_certificates<'e, 'a>(entries: &'e [Entry<'a>]) -> impl Iterator<Item = &'e Entry<'a>> {
    let keys = entries.iter().filter(|e| e.key.is_some());
    keys.chain(entries.iter().filter(|e| e.key.is_none()))
}

fn aliases(entries: &[Entry<'_>]) -> Vec<String> {
    keys_then_certificates(entries)
        .map(|e| e.alias.clone())
        .collect()
}

fn entry_jwk(entry: &Entry<'_>, password: &str) -> Result<Jwk> {
    match entry.key {
        Some(protected) => {
            let der = recover_key(protected, password)?;
            let jwk = Jwk::new(pkcs8_to_key(&der)?, Parameters::default());
            crate::x5c::with_chain(jwk, &entry.certificates)
        }
        None => crate::x5c::jwk_from_certificate(entry.certificates[0], false),
    }
}

/// The JWK of one entry (aliases match as the JDK matches them: without regard to ASCII
/// case). Without an alias, the one private key.
pub(crate) fn import_keystore(file: &[u8], password: &str, alias: Option<&str>) -> Result<Jwk> {
    let entries = open(file, password)?;
    let chosen: Vec<&Entry<'_>> = match alias {
        Some(alias) => entries
            .iter()
            .filter(|e| e.alias.eq_ignore_ascii_case(alias))
            .collect(),
        None => entries.iter().filter(|e| e.key.is_some()).collect(),
    };
    match (chosen.as_slice(), alias) {
        ([one], _) => entry_jwk(one, password),
        ([], None) => Err(Error::KeystoreNoKey),
        ([], Some(alias)) => Err(Error::AliasNotFound {
            alias: alias.to_owned(),
            aliases: aliases(&entries),
        }),
        (_, None) => Err(Error::AliasRequired {
            aliases: aliases(&entries),
        }),
        (several, Some(alias)) => Err(malformed(format!(
            "{} entries share the alias \"{alias}\"",
            several.len()
        ))),
    }
}

/// Lists the entries: private keys first, then trusted certificates.
pub(crate) fn keystore_entries(file: &[u8], password: &str) -> Result<Vec<KeystoreEntry>> {
    let entries = open(file, password)?;
    keys_then_certificates(&entries)
        .map(|e| {
            let jwk = entry_jwk(e, password)?;
            Ok(KeystoreEntry {
                alias: Some(e.alias.clone()),
                key_type: key_type(jwk.key()),
                private: e.key.is_some(),
                secret: false,
                certificates: e.certificates.len(),
            })
        })
        .collect()
}
