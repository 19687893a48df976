//! PKCS#12 keystores (the product's KEYSTORE source), read with `p12-keystore`.
//!
//! p12-keystore decodes, checks the MAC and decrypts bags (OpenSSL 3 default PBES2/AES with
//! an HMAC-SHA-256 MAC, `-legacy` RC2/3DES with a SHA-1 MAC, Java keytool files, MAC-less
//! files). Alias selection, certificate chains, our KDF caps and our errors are done here.

use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
use der::{Decode, Reader, SliceReader, Tag, Tagged};
use p12_keystore::{CertificateBag, Pkcs12Archive, PrivateKeyBag};
use sha2::{Digest, Sha256};

use crate::der::pkcs8_to_key;
use crate::encrypted::{KdfLimits, check_iterations, check_pbes2};
use crate::error::{Error, Result};
use crate::jwk::{Jwk, Parameters};
use crate::key::Key;

const PBES2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.13");
const PKCS12_PBE_ARC: &str = "1.2.840.113549.1.12.1.";
const PKCS5_PBES1_ARC: &str = "1.2.840.113549.1.5.";

/// One entry of a keystore, as `jwk keystore list` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeystoreEntry {
    /// The alias (friendlyName), when the bag has one.
    pub alias: Option<String>,
    /// "RSA", "EC P-256", "OKP Ed25519", …
    pub key_type: String,
    /// True for a private key, false for a certificate without a key.
    pub private: bool,
    /// Number of certificates in the key's chain (1 for a certificate entry).
    pub certificates: usize,
}

fn map_error(e: p12_keystore::error::Error) -> Error {
    use p12_keystore::error::Error as P;
    match e {
        P::MacError(_) | P::UnpadError => Error::KeystoreBadPassword,
        // Without a MAC, a wrong password shows as a failed decryption.
        P::Pkcs5Error(ref m) if m.contains("decryption failed") => Error::KeystoreBadPassword,
        P::UnsupportedEncryptionScheme | P::UnsupportedMacAlgorithm => {
            Error::UnsupportedEncryption {
                scheme: format!("PKCS#12: {e}"),
            }
        }
        other => Error::KeystoreMalformed {
            detail: other.to_string(),
        },
    }
}

/// Refuses key-derivation parameters above the caps anywhere in the readable structure:
/// the MAC's iteration count, and every PBES2 / PBES1 / PKCS#12-PBE AlgorithmIdentifier
/// (OCTET STRINGs holding DER are searched too). Bags inside an encrypted SafeContents are
/// bounded by p12-keystore's own caps (10^6 iterations).
fn check_kdf_costs(der: &[u8], limits: &KdfLimits) -> Result<()> {
    let pfx = pkcs12::pfx::Pfx::from_der(der).map_err(|e| Error::KeystoreMalformed {
        detail: e.to_string(),
    })?;
    if let Some(mac) = &pfx.mac_data {
        check_iterations(u64::try_from(mac.iterations).unwrap_or(0), limits)?;
    }
    walk(der, limits, 0)
}

fn walk(der: &[u8], limits: &KdfLimits, depth: usize) -> Result<()> {
    if depth > 24 {
        return Ok(());
    }
    let Ok(mut reader) = SliceReader::new(der) else {
        return Ok(());
    };
    while !reader.is_finished() {
        let Ok(any) = AnyRef::decode(&mut reader) else {
            return Ok(());
        };
        check_value(&any, limits, depth)?;
    }
    Ok(())
}

fn check_value(any: &AnyRef<'_>, limits: &KdfLimits, depth: usize) -> Result<()> {
    let tag = any.tag();
    if tag == Tag::Sequence
        && let Ok(mut r) = SliceReader::new(any.value())
        && let Ok(oid) = ObjectIdentifier::decode(&mut r)
        && let Ok(params) = AnyRef::decode(&mut r)
    {
        let dotted = oid.to_string();
        if oid == PBES2
            && let Ok(p) = params.decode_as::<pkcs5::pbes2::Parameters>()
        {
            return check_pbes2(&p, limits);
        }
        if (dotted.starts_with(PKCS12_PBE_ARC) || dotted.starts_with(PKCS5_PBES1_ARC))
            && let Ok(mut p) = SliceReader::new(params.value())
            && <&OctetStringRef>::decode(&mut p).is_ok()
            && let Ok(count) = u64::decode(&mut p)
        {
            return check_iterations(count, limits);
        }
    }
    // Constructed values, and OCTET STRINGs that may wrap DER (PKCS#7 data), are searched.
    if tag.is_constructed() || tag == Tag::OctetString {
        walk(any.value(), limits, depth + 1)
    } else {
        Ok(())
    }
}

/// Opens a keystore: KDF caps first, then MAC and decryption.
fn open(der: &[u8], password: &str, limits: &KdfLimits) -> Result<Pkcs12Archive> {
    check_kdf_costs(der, limits)?;
    Pkcs12Archive::from_pkcs12(der, password).map_err(map_error)
}

/// The certificates of `key`'s chain, leaf first: the certificate with the key's local key
/// id (or, without one, the certificate holding the key's public key), then its issuers.
fn chain_for<'a>(key: &Jwk, bag: &PrivateKeyBag, certs: &'a [CertificateBag]) -> Vec<&'a [u8]> {
    let public = key.to_public().thumbprint_input();
    let leaf = certs
        .iter()
        .find(|c| matches!((&bag.local_key_id, &c.local_key_id), (Some(k), Some(c)) if k.0 == *c))
        .or_else(|| {
            certs.iter().find(|c| {
                crate::x5c::certificate_key(c.cert.as_der())
                    .is_ok_and(|k| Jwk::new(k, Parameters::default()).thumbprint_input() == public)
            })
        });
    let Some(mut current) = leaf else {
        return Vec::new();
    };
    let mut chain = vec![current.cert.as_der()];
    while current.cert.issuer() != current.cert.subject() {
        let Some(issuer) = certs
            .iter()
            .find(|c| c.cert.subject() == current.cert.issuer())
        else {
            break;
        };
        if chain.contains(&issuer.cert.as_der()) {
            break;
        }
        chain.push(issuer.cert.as_der());
        current = issuer;
    }
    chain
}

fn key_jwk(bag: &PrivateKeyBag, certs: &[CertificateBag]) -> Result<Jwk> {
    let key = pkcs8_to_key(bag.key.as_der())?;
    let mut jwk = Jwk::new(key, Parameters::default());
    let chain = chain_for(&jwk, bag, certs);
    if let Some(leaf) = chain.first() {
        let params = jwk.params_mut();
        params.x5t_s256 = Some(Sha256::digest(leaf).to_vec());
        params.x5c = Some(chain.iter().map(|c| c.to_vec()).collect());
    }
    crate::x5c::check_jwk_chain(&jwk)?;
    Ok(jwk)
}

fn aliases(archive: &Pkcs12Archive) -> Vec<String> {
    let mut out: Vec<String> = archive
        .keys
        .iter()
        .filter_map(|k| k.friendly_name.clone())
        .collect();
    out.extend(
        archive
            .certs
            .iter()
            .filter(|c| c.local_key_id.is_none())
            .filter_map(|c| c.friendly_name.clone()),
    );
    out
}

/// The JWK of one keystore entry: a private key (with its chain as `x5c`) or, for a
/// certificate-only entry, the certificate's public key.
pub(crate) fn import_keystore(
    der: &[u8],
    password: &str,
    alias: Option<&str>,
    limits: &KdfLimits,
) -> Result<Jwk> {
    let archive = open(der, password, limits)?;
    let Some(alias) = alias else {
        return match archive.keys.as_slice() {
            [one] => key_jwk(one, &archive.certs),
            [] => Err(Error::KeystoreNoKey),
            _ => Err(Error::AliasRequired {
                aliases: aliases(&archive),
            }),
        };
    };
    let keys: Vec<&PrivateKeyBag> = archive
        .keys
        .iter()
        .filter(|k| k.friendly_name.as_deref() == Some(alias))
        .collect();
    match keys.as_slice() {
        [one] => return key_jwk(one, &archive.certs),
        [] => {}
        _ => {
            return Err(Error::KeystoreMalformed {
                detail: format!("{} private keys share the alias \"{alias}\"", keys.len()),
            });
        }
    }
    let cert = archive
        .certs
        .iter()
        .find(|c| c.local_key_id.is_none() && c.friendly_name.as_deref() == Some(alias));
    match cert {
        Some(c) => crate::x5c::jwk_from_certificate(c.cert.as_der(), false),
        None => Err(Error::AliasNotFound {
            alias: alias.to_owned(),
            aliases: aliases(&archive),
        }),
    }
}

fn describe(key: &Key) -> String {
    match key {
        Key::Rsa(k) => format!("RSA {}", k.bits()),
        Key::Ec(k) => format!("EC {}", k.curve().name()),
        Key::Okp(k) => format!("OKP {}", k.curve().name()),
        Key::Oct(_) => "oct".to_owned(),
    }
}

/// Lists the entries of a keystore: private keys first, then certificates without a key.
pub fn keystore_entries(
    der: &[u8],
    password: &str,
    limits: &KdfLimits,
) -> Result<Vec<KeystoreEntry>> {
    let archive = open(der, password, limits)?;
    let mut out = Vec::new();
    for bag in &archive.keys {
        let jwk = key_jwk(bag, &archive.certs)?;
        out.push(KeystoreEntry {
            alias: bag.friendly_name.clone(),
            key_type: describe(jwk.key()),
            private: true,
            certificates: jwk.params().x5c.as_ref().map_or(0, Vec::len),
        });
    }
    for cert in archive.certs.iter().filter(|c| c.local_key_id.is_none()) {
        let key = crate::x5c::certificate_key(cert.cert.as_der())?;
        out.push(KeystoreEntry {
            alias: cert.friendly_name.clone(),
            key_type: describe(&key),
            private: false,
            certificates: 1,
        });
    }
    Ok(out)
}
