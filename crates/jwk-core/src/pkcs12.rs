//! PKCS#12 keystores (the product's KEYSTORE source).
//!
//! Read here over `der`'s borrowing reader rather than with p12-keystore (used until
//! issue 7): that crate decodes the file into owned structures and decrypts every bag up
//! front, which held 5.8x a keystore's size in memory for one import. Here the MAC is computed
//! over the file's own bytes, each encrypted SafeContents is decrypted into one buffer that
//! the bags then borrow, and a shrouded key bag is decrypted only when its key is asked for.
//! The ciphers are encrypted PKCS#8's (PBES2, PBES1, PKCS#12 PBE), the KDF `pkcs12::kdf`,
//! the MAC HMAC over SHA-1 or SHA-2.
//!
//! Read: OpenSSL 3 default files (PBES2/AES, HMAC-SHA-256 MAC), `-legacy` ones (RC2/3DES, SHA-1
//! MAC), Java keytool files, files without a MAC or without encryption, nested SafeContents,
//! passwords outside the BMP (UTF-16 surrogates, as OpenSSL writes them), OpenSSL's absent
//! password, and BER encodings (BouncyCastle's keystores; re-encoded by [`crate::ber`]). Refused with their own errors: the public-key integrity and privacy modes
//! (signedData, envelopedData) and RFC 9579's PBMAC1. Alias selection, certificate chains, our
//! KDF caps and our errors are done here too.

use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
use der::{Decode, Reader, SliceReader, Tag, TagNumber, Tagged};
use hmac::{KeyInit, Mac, SimpleHmac};
use sha1::Sha1;
use sha2::digest::FixedOutputReset;
use sha2::digest::block_api::BlockSizeUser;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512, Sha512_224, Sha512_256};
use spki::AlgorithmIdentifierRef;
use zeroize::Zeroizing;

use crate::der::pkcs8_to_key;
use crate::encrypted::{
    KdfLimits, Password, check_iterations, check_pbes2, decrypt_content, decrypt_pkcs8_with,
    pkcs12_rounds,
};
use crate::error::{Error, Result};
use crate::jwk::{Jwk, Parameters};
use crate::key::Key;
use crate::keystore::{KeystoreEntry, key_type};

const PBES2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.13");
const PBMAC1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.14");
const PKCS12_PBE_ARC: &str = "1.2.840.113549.1.12.1.";
const PKCS5_PBES1_ARC: &str = "1.2.840.113549.1.5.";

const DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.1");
const SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ENVELOPED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.3");
const ENCRYPTED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.6");

const KEY_BAG: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.1");
const SHROUDED_KEY_BAG: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.2");
const CERT_BAG: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.3");
const SECRET_BAG: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.5");
const SAFE_CONTENTS_BAG: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.10.1.6");
const X509_CERTIFICATE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.22.1");
const FRIENDLY_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.20");
const LOCAL_KEY_ID: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.21");

const SHA1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.14.3.2.26");
const SHA224: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.4");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const SHA512_224: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.5");
const SHA512_256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.6");

/// Deepest nesting of SafeContents bags read (OpenSSL and Java write none).
const MAX_NESTING: usize = 8;
/// Most key, secret and certificate bags read from one keystore (a JDK's cacerts holds ~150): the
/// bag list costs memory per bag, whatever the bag's size.
const MAX_BAGS: usize = 10_000;
/// Longest chain put in `x5c`: building it looks each issuer up among all certificates.
const MAX_CHAIN: usize = 16;

fn malformed(what: &str, detail: impl std::fmt::Display) -> Error {
    Error::KeystoreMalformed {
        detail: format!("PKCS#12 {what}: {detail}"),
    }
}

/// Reads all of `der` with `f`; a DER error names `what`.
fn read_all<'a, T>(
    der: &'a [u8],
    what: &str,
    f: impl FnOnce(&mut SliceReader<'a>) -> der::Result<T>,
) -> Result<T> {
    let mut reader = SliceReader::new(der).map_err(|e| malformed(what, e))?;
    let value = f(&mut reader).map_err(|e| malformed(what, e))?;
    reader.finish().map_err(|e| malformed(what, e))?;
    Ok(value)
}

/// The elements of a SEQUENCE OF / SET OF whose contents octets are `der`.
fn each<'a>(der: &'a [u8], what: &str, mut f: impl FnMut(AnyRef<'a>) -> Result<()>) -> Result<()> {
    let mut reader = SliceReader::new(der).map_err(|e| malformed(what, e))?;
    while !reader.is_finished() {
        f(AnyRef::decode(&mut reader).map_err(|e| malformed(what, e))?)?;
    }
    Ok(())
}

/// Decodes all of `der` as one value with the tag `tag` and returns its contents octets.
fn contents_of<'a>(der: &'a [u8], tag: Tag, what: &str) -> Result<&'a [u8]> {
    let any = read_all(der, what, AnyRef::decode)?;
    expect(any, tag, what)
}

/// The contents octets of `any` if it has the tag `tag`.
fn expect<'a>(any: AnyRef<'a>, tag: Tag, what: &str) -> Result<&'a [u8]> {
    if any.tag() == tag {
        Ok(any.value())
    } else {
        Err(malformed(
            what,
            format!("expected {tag}, found {}", any.tag()),
        ))
    }
}

/// The encoding inside a `[0] EXPLICIT` wrapper.
fn explicit0<'a>(any: AnyRef<'a>, what: &str) -> Result<&'a [u8]> {
    let tag = Tag::ContextSpecific {
        constructed: true,
        number: TagNumber(0),
    };
    expect(any, tag, what)
}

/// `ContentInfo ::= SEQUENCE { contentType OID, content [0] EXPLICIT ANY OPTIONAL }`; the
/// content is returned as the encoding inside the `[0]`.
fn content_info<'a>(
    contents: &'a [u8],
    what: &str,
) -> Result<(ObjectIdentifier, Option<&'a [u8]>)> {
    let (oid, content) = read_all(contents, what, |r| {
        let oid = ObjectIdentifier::decode(r)?;
        let content = if r.is_finished() {
            None
        } else {
            Some(AnyRef::decode(r)?)
        };
        Ok((oid, content))
    })?;
    Ok((oid, content.map(|c| explicit0(c, what)).transpose()?))
}

/// `MacData ::= SEQUENCE { mac DigestInfo, macSalt OCTET STRING, iterations INTEGER DEFAULT 1 }`
struct MacData<'a> {
    algorithm: AlgorithmIdentifierRef<'a>,
    digest: &'a [u8],
    salt: &'a [u8],
    iterations: u64,
}

/// `PFX ::= SEQUENCE { version INTEGER (3), authSafe ContentInfo, macData MacData OPTIONAL }`
struct Pfx<'a> {
    /// The AuthenticatedSafe's encoding: what the MAC covers.
    auth_safe: &'a [u8],
    mac: Option<MacData<'a>>,
}

fn parse_pfx(der: &[u8]) -> Result<Pfx<'_>> {
    let what = "PFX";
    let (version, auth_safe, mac) = read_all(der, what, |r| {
        r.sequence(|r| {
            let version = u64::decode(r)?;
            let auth_safe = AnyRef::decode(r)?;
            let mac = if r.is_finished() {
                None
            } else {
                Some(r.sequence(|r| {
                    let (algorithm, digest) = r.sequence(|r| {
                        let algorithm = AlgorithmIdentifierRef::decode(r)?;
                        let digest = <&OctetStringRef>::decode(r)?.as_bytes();
                        Ok::<_, der::Error>((algorithm, digest))
                    })?;
                    let salt = <&OctetStringRef>::decode(r)?.as_bytes();
                    let iterations = if r.is_finished() { 1 } else { u64::decode(r)? };
                    Ok::<_, der::Error>(MacData {
                        algorithm,
                        digest,
                        salt,
                        iterations,
                    })
                })?)
            };
            Ok((version, auth_safe, mac))
        })
    })?;
    if version != 3 {
        return Err(malformed(what, format!("version {version}, expected 3")));
    }
    let auth_safe = expect(auth_safe, Tag::Sequence, "authSafe")?;
    match content_info(auth_safe, "authSafe")? {
        (DATA, Some(content)) => Ok(Pfx {
            auth_safe: contents_of(content, Tag::OctetString, "authSafe content")?,
            mac,
        }),
        (DATA, None) => Err(malformed("authSafe", "no content")),
        (SIGNED_DATA, _) => Err(Error::UnsupportedEncryption {
            scheme: "PKCS#12 public-key integrity mode (a signedData authSafe)".to_owned(),
        }),
        (other, _) => Err(malformed("authSafe", format!("content type {other}"))),
    }
}

/// Does `password` produce the MAC? The key is the PKCS#12 KDF's (ID 3) over the MAC's digest.
fn hmac_matches<D>(mac: &MacData<'_>, password: &[u8], rounds: i32, data: &[u8]) -> bool
where
    D: Digest + FixedOutputReset + BlockSizeUser,
{
    let key = Zeroizing::new(pkcs12::kdf::derive_key::<D>(
        password,
        mac.salt,
        pkcs12::kdf::Pkcs12KeyType::Mac,
        rounds,
        <D as Digest>::output_size(),
    ));
    let Ok(mut hmac) = <SimpleHmac<D> as KeyInit>::new_from_slice(&key) else {
        return false;
    };
    hmac.update(data);
    hmac.verify_slice(mac.digest).is_ok()
}

fn mac_matches(mac: &MacData<'_>, password: Password<'_>, data: &[u8]) -> Result<bool> {
    let rounds = pkcs12_rounds(mac.iterations)?;
    let bmp = password.bmp();
    Ok(match mac.algorithm.oid {
        SHA1 => hmac_matches::<Sha1>(mac, &bmp, rounds, data),
        SHA224 => hmac_matches::<Sha224>(mac, &bmp, rounds, data),
        SHA256 => hmac_matches::<Sha256>(mac, &bmp, rounds, data),
        SHA384 => hmac_matches::<Sha384>(mac, &bmp, rounds, data),
        SHA512 => hmac_matches::<Sha512>(mac, &bmp, rounds, data),
        SHA512_224 => hmac_matches::<Sha512_224>(mac, &bmp, rounds, data),
        SHA512_256 => hmac_matches::<Sha512_256>(mac, &bmp, rounds, data),
        PBMAC1 => {
            return Err(Error::UnsupportedEncryption {
                scheme: "PKCS#12 MAC PBMAC1 (RFC 9579; re-export with an HMAC-SHA-256 MAC)"
                    .to_owned(),
            });
        }
        other => {
            return Err(Error::UnsupportedEncryption {
                scheme: format!("PKCS#12 MAC with digest {other}"),
            });
        }
    })
}

/// Checks the MAC (when there is one) and returns the password form that produced it: an
/// empty password is also tried as OpenSSL's absent one, as OpenSSL itself does.
fn verify_mac<'p>(pfx: &Pfx<'_>, password: &'p str) -> Result<Password<'p>> {
    let given = Password::new(password);
    let Some(mac) = &pfx.mac else {
        return Ok(given);
    };
    if mac_matches(mac, given, pfx.auth_safe)? {
        return Ok(given);
    }
    if password.is_empty() && mac_matches(mac, Password::absent(), pfx.auth_safe)? {
        return Ok(Password::absent());
    }
    Err(Error::KeystoreBadPassword)
}

/// A SafeContents encoding: borrowed from the file, decrypted from it, or re-encoded from
/// BER.
enum SafeContents<'a> {
    Plain(&'a [u8]),
    Decrypted(Zeroizing<Vec<u8>>),
    Normalized(Zeroizing<Vec<u8>>),
}

impl SafeContents<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            SafeContents::Plain(b) => b,
            SafeContents::Decrypted(b) | SafeContents::Normalized(b) => b,
        }
    }

    /// The same contents owning their bytes.
    fn detach(self) -> SafeContents<'static> {
        match self {
            SafeContents::Plain(b) => SafeContents::Normalized(Zeroizing::new(b.to_vec())),
            SafeContents::Decrypted(b) => SafeContents::Decrypted(b),
            SafeContents::Normalized(b) => SafeContents::Normalized(b),
        }
    }
}

/// `bytes` re-encoded as DER if they are BER (see [`crate::ber`]).
fn normalized(bytes: &[u8], what: &str) -> Result<Option<Zeroizing<Vec<u8>>>> {
    if crate::ber::is_der(bytes) {
        return Ok(None);
    }
    crate::ber::to_der(bytes)
        .map(|der| Some(Zeroizing::new(der)))
        .map_err(|e| malformed(what, e))
}

/// `AuthenticatedSafe ::= SEQUENCE OF ContentInfo`, each `data` (a SafeContents in an OCTET
/// STRING) or `encryptedData` (decrypted here). BER at any of these levels is re-encoded.
fn safe_contents<'a>(
    auth_safe: &'a [u8],
    password: Password<'_>,
    limits: &KdfLimits,
    has_mac: bool,
) -> Result<Vec<SafeContents<'a>>> {
    match normalized(auth_safe, "AuthenticatedSafe")? {
        None => read_auth_safe(auth_safe, password, limits, has_mac),
        Some(der) => Ok(read_auth_safe(&der, password, limits, has_mac)?
            .into_iter()
            .map(SafeContents::detach)
            .collect()),
    }
}

fn read_auth_safe<'a>(
    auth_safe: &'a [u8],
    password: Password<'_>,
    limits: &KdfLimits,
    has_mac: bool,
) -> Result<Vec<SafeContents<'a>>> {
    let mut out = Vec::new();
    let what = "AuthenticatedSafe";
    each(contents_of(auth_safe, Tag::Sequence, what)?, what, |info| {
        match content_info(
            expect(info, Tag::Sequence, what)?,
            "SafeContents ContentInfo",
        )? {
            (_, None) => {}
            (DATA, Some(content)) => {
                let data = contents_of(content, Tag::OctetString, "SafeContents data")?;
                out.push(match normalized(data, "SafeContents")? {
                    None => SafeContents::Plain(data),
                    Some(der) => SafeContents::Normalized(der),
                });
            }
            (ENCRYPTED_DATA, Some(content)) => {
                let plain = decrypt_safe(content, password, limits)?;
                // Without a MAC, undecodable plaintext is what a wrong password gives.
                out.push(match normalized(&plain, "SafeContents") {
                    Ok(None) => SafeContents::Decrypted(plain),
                    Ok(Some(der)) => SafeContents::Decrypted(der),
                    Err(_) if !has_mac => return Err(Error::KeystoreBadPassword),
                    Err(e) => return Err(e),
                });
            }
            (ENVELOPED_DATA, _) => {
                return Err(Error::UnsupportedEncryption {
                    scheme: "PKCS#12 public-key privacy mode (envelopedData)".to_owned(),
                });
            }
            (other, _) => return Err(malformed(what, format!("content type {other}"))),
        }
        Ok(())
    })?;
    Ok(out)
}

/// `EncryptedData ::= SEQUENCE { version, EncryptedContentInfo, [1] attributes OPTIONAL }`,
/// `EncryptedContentInfo ::= SEQUENCE { contentType, algorithm, [0] IMPLICIT OCTET STRING }`.
fn decrypt_safe(
    der: &[u8],
    password: Password<'_>,
    limits: &KdfLimits,
) -> Result<Zeroizing<Vec<u8>>> {
    let what = "encrypted SafeContents";
    let (algorithm, encrypted) = read_all(der, what, |r| {
        r.sequence(|r| {
            u64::decode(r)?;
            let info = r.sequence(|r| {
                <ObjectIdentifier>::decode(r)?;
                let algorithm = AlgorithmIdentifierRef::decode(r)?;
                let encrypted = if r.is_finished() {
                    None
                } else {
                    Some(AnyRef::decode(r)?)
                };
                Ok::<_, der::Error>((algorithm, encrypted))
            })?;
            while !r.is_finished() {
                AnyRef::decode(r)?;
            }
            Ok(info)
        })
    })?;
    let Some(encrypted) = encrypted else {
        return Ok(Zeroizing::new(Vec::new()));
    };
    let mut buf = Zeroizing::new(Vec::new());
    match encrypted.tag() {
        Tag::ContextSpecific {
            constructed: false,
            number: TagNumber(0),
        } => buf.extend_from_slice(encrypted.value()),
        // The constructed form (BER-style segments, as some Windows exports write it).
        Tag::ContextSpecific {
            constructed: true,
            number: TagNumber(0),
        } => each(encrypted.value(), what, |segment| {
            buf.extend_from_slice(expect(segment, Tag::OctetString, what)?);
            Ok(())
        })?,
        other => return Err(malformed(what, format!("unexpected {other}"))),
    }
    decrypt_content(what, algorithm, buf, password, limits).map_err(keystore_password)
}

/// A failed decryption inside a keystore is the keystore's password.
fn keystore_password(e: Error) -> Error {
    match e {
        Error::BadPassword => Error::KeystoreBadPassword,
        other => other,
    }
}

/// A key bag: a PrivateKeyInfo, or an EncryptedPrivateKeyInfo (a "shrouded" one); for a
/// secret bag (Java's SecretKeyEntry), one whose privateKey is a symmetric key's bytes.
struct KeyBag<'a> {
    der: &'a [u8],
    shrouded: bool,
    secret: bool,
    alias: Option<String>,
    local_key_id: Option<&'a [u8]>,
}

/// An X.509 certificate bag.
struct CertBag<'a> {
    der: &'a [u8],
    issuer: &'a [u8],
    subject: &'a [u8],
    alias: Option<String>,
    local_key_id: Option<&'a [u8]>,
}

/// The bags of an opened keystore, borrowing the file and its decrypted SafeContents.
struct Bags<'a> {
    keys: Vec<KeyBag<'a>>,
    certs: Vec<CertBag<'a>>,
}

/// The friendlyName and localKeyId of a bag's `SET OF PKCS12Attribute`.
fn attributes(set: &[u8]) -> Result<(Option<String>, Option<&[u8]>)> {
    let what = "bag attributes";
    let (mut alias, mut local_key_id) = (None, None);
    each(set, what, |attribute| {
        let (oid, first) = read_all(expect(attribute, Tag::Sequence, what)?, what, |r| {
            let oid = ObjectIdentifier::decode(r)?;
            let values = AnyRef::decode(r)?;
            values.tag().assert_eq(Tag::Set)?;
            let mut values = SliceReader::new(values.value())?;
            let first = if values.is_finished() {
                None
            } else {
                Some(AnyRef::decode(&mut values)?)
            };
            Ok((oid, first))
        })?;
        match (oid, first) {
            (FRIENDLY_NAME, Some(name)) => alias = Some(friendly_name(name)?),
            (LOCAL_KEY_ID, Some(id)) => {
                local_key_id = Some(expect(id, Tag::OctetString, "localKeyId")?);
            }
            _ => {}
        }
        Ok(())
    })?;
    Ok((alias, local_key_id))
}

/// A friendlyName: a BMPString (big-endian UTF-16; OpenSSL writes surrogate pairs for
/// characters outside the BMP), or a UTF8String from some writers.
fn friendly_name(name: AnyRef<'_>) -> Result<String> {
    let what = "friendlyName";
    match name.tag() {
        Tag::BmpString if name.value().len() % 2 == 0 => {
            let units = name
                .value()
                .chunks_exact(2)
                .map(|u| u16::from_be_bytes([u[0], u[1]]));
            char::decode_utf16(units)
                .collect::<std::result::Result<String, _>>()
                .map_err(|e| malformed(what, e))
        }
        Tag::Utf8String => std::str::from_utf8(name.value())
            .map(str::to_owned)
            .map_err(|e| malformed(what, e)),
        other => Err(malformed(what, format!("unexpected {other}"))),
    }
}

/// `SafeContents ::= SEQUENCE OF SafeBag`,
/// `SafeBag ::= SEQUENCE { bagId OID, bagValue [0] EXPLICIT ANY, bagAttributes SET OPTIONAL }`.
/// Key, shrouded key, secret (a symmetric key in a PrivateKeyInfo, as Java writes it) and
/// X.509 certificate bags are kept, nested SafeContents are read, CRL bags and other
/// certificate and secret types are passed over.
fn collect_bags<'a>(der: &'a [u8], depth: usize, bags: &mut Bags<'a>) -> Result<()> {
    let what = "SafeContents";
    if depth > MAX_NESTING {
        return Err(malformed(
            what,
            format!("nested more than {MAX_NESTING} deep"),
        ));
    }
    each(contents_of(der, Tag::Sequence, what)?, what, |bag| {
        let (id, value, attrs) =
            read_all(expect(bag, Tag::Sequence, "SafeBag")?, "SafeBag", |r| {
                let id = ObjectIdentifier::decode(r)?;
                let value = AnyRef::decode(r)?;
                let attrs = if r.is_finished() {
                    None
                } else {
                    let attrs = AnyRef::decode(r)?;
                    attrs.tag().assert_eq(Tag::Set)?;
                    Some(attrs.value())
                };
                Ok((id, value, attrs))
            })?;
        let value = explicit0(value, "SafeBag value")?;
        if bags.keys.len() + bags.certs.len() >= MAX_BAGS
            && matches!(id, KEY_BAG | SHROUDED_KEY_BAG | CERT_BAG | SECRET_BAG)
        {
            return Err(malformed(
                what,
                format!("more than {MAX_BAGS} key and certificate bags"),
            ));
        }
        let (alias, local_key_id) = match attrs {
            Some(set) => attributes(set)?,
            None => (None, None),
        };
        match id {
            KEY_BAG | SHROUDED_KEY_BAG => bags.keys.push(KeyBag {
                der: value,
                shrouded: id == SHROUDED_KEY_BAG,
                secret: false,
                alias,
                local_key_id,
            }),
            SECRET_BAG => {
                // SecretBag ::= SEQUENCE { secretTypeId OID, secretValue [0] EXPLICIT ANY }
                let what = "secret bag";
                let (kind, inner) =
                    read_all(contents_of(value, Tag::Sequence, what)?, what, |r| {
                        let kind = <ObjectIdentifier>::decode(r)?;
                        let inner = AnyRef::decode(r)?;
                        Ok((kind, inner))
                    })?;
                if matches!(kind, KEY_BAG | SHROUDED_KEY_BAG) {
                    bags.keys.push(KeyBag {
                        der: contents_of(explicit0(inner, what)?, Tag::OctetString, what)?,
                        shrouded: kind == SHROUDED_KEY_BAG,
                        secret: true,
                        alias,
                        local_key_id,
                    });
                }
            }
            CERT_BAG => {
                let what = "certificate bag";
                let (kind, cert) = read_all(contents_of(value, Tag::Sequence, what)?, what, |r| {
                    let kind = ObjectIdentifier::decode(r)?;
                    let cert = AnyRef::decode(r)?;
                    Ok((kind, cert))
                })?;
                if kind == X509_CERTIFICATE {
                    let der = contents_of(explicit0(cert, what)?, Tag::OctetString, what)?;
                    let (issuer, subject) = crate::x5c::issuer_and_subject(der)
                        .map_err(|e| malformed("X.509 certificate in a bag", e))?;
                    bags.certs.push(CertBag {
                        der,
                        issuer,
                        subject,
                        alias,
                        local_key_id,
                    });
                }
            }
            SAFE_CONTENTS_BAG => collect_bags(value, depth + 1, bags)?,
            _ => {}
        }
        Ok(())
    })
}

/// Refuses key-derivation parameters above the caps anywhere in the readable structure:
/// the MAC's iteration count, and every PBES2 / PBES1 / PKCS#12-PBE AlgorithmIdentifier
/// (OCTET STRINGs holding DER are searched too), before anything is derived. Parameters
/// inside encrypted content are checked when that content is decrypted.
fn check_kdf_costs(der: &[u8], pfx: &Pfx<'_>, limits: &KdfLimits) -> Result<()> {
    if let Some(mac) = &pfx.mac {
        check_iterations(mac.iterations, limits)?;
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

/// An opened keystore: MAC checked, encrypted SafeContents decrypted, bags listed.
struct Keystore<'f> {
    contents: Vec<SafeContents<'f>>,
    password: Password<'f>,
    /// Without a MAC, a wrong password shows only as undecodable plaintext.
    has_mac: bool,
    limits: KdfLimits,
}

impl<'f> Keystore<'f> {
    /// Opens a keystore: KDF caps first, then the MAC, then decryption of the SafeContents.
    fn open(der: &'f [u8], password: &'f str, limits: &KdfLimits) -> Result<Self> {
        let pfx = parse_pfx(der)?;
        check_kdf_costs(der, &pfx, limits)?;
        let password = verify_mac(&pfx, password)?;
        let contents = safe_contents(pfx.auth_safe, password, limits, pfx.mac.is_some())?;
        Ok(Keystore {
            contents,
            password,
            has_mac: pfx.mac.is_some(),
            limits: *limits,
        })
    }

    fn bags(&self) -> Result<Bags<'_>> {
        let mut bags = Bags {
            keys: Vec::new(),
            certs: Vec::new(),
        };
        for contents in &self.contents {
            collect_bags(contents.bytes(), 0, &mut bags).map_err(|e| {
                match (e, contents, self.has_mac) {
                    (Error::KeystoreMalformed { .. }, SafeContents::Decrypted(_), false) => {
                        Error::KeystoreBadPassword
                    }
                    (e, ..) => e,
                }
            })?;
        }
        Ok(bags)
    }

    /// The key of a key bag, decrypting a shrouded one.
    fn key(&self, bag: &KeyBag<'_>) -> Result<Key> {
        let to_key = |der: &[u8]| {
            if bag.secret {
                secret_key(der)
            } else {
                pkcs8_to_key(der)
            }
        };
        if !bag.shrouded {
            return to_key(bag.der);
        }
        let plain =
            decrypt_pkcs8_with(bag.der, self.password, &self.limits).map_err(keystore_password)?;
        to_key(&plain).map_err(|e| match e {
            Error::DerMalformed { .. } if !self.has_mac => Error::KeystoreBadPassword,
            other => other,
        })
    }
}

/// The symmetric key of a secret bag: the privateKey octets of its PrivateKeyInfo, whatever
/// the algorithm (Java writes AES, HmacSHA256, PBE… there).
fn secret_key(der: &[u8]) -> Result<Key> {
    let info = pkcs8::PrivateKeyInfoRef::from_der(der)
        .map_err(|e| Error::der("secret key (PKCS#8 PrivateKeyInfo)", e))?;
    let k = crate::secret::Secret::from_slice(info.private_key.as_bytes());
    Ok(Key::Oct(crate::key::OctKey::new(k)?))
}

/// The certificates of `key`'s chain, leaf first: the certificate with the key's local key
/// id (or, without one, the certificate holding the key's public key), then its issuers.
fn chain_for<'a>(key: &Jwk, bag: &KeyBag<'_>, certs: &'a [CertBag<'a>]) -> Vec<&'a [u8]> {
    // The thumbprint input holds the public members only, of a private key too.
    let public = key.thumbprint_input();
    let leaf = certs
        .iter()
        .find(|c| bag.local_key_id.is_some() && c.local_key_id == bag.local_key_id)
        .or_else(|| {
            certs.iter().find(|c| {
                crate::x5c::certificate_key(c.der)
                    .is_ok_and(|k| Jwk::new(k, Parameters::default()).thumbprint_input() == public)
            })
        });
    let Some(mut current) = leaf else {
        return Vec::new();
    };
    let mut chain = vec![current.der];
    while current.issuer != current.subject && chain.len() < MAX_CHAIN {
        let Some(issuer) = certs.iter().find(|c| c.subject == current.issuer) else {
            break;
        };
        if chain.contains(&issuer.der) {
            break;
        }
        chain.push(issuer.der);
        current = issuer;
    }
    chain
}

fn key_jwk(keystore: &Keystore<'_>, bag: &KeyBag<'_>, certs: &[CertBag<'_>]) -> Result<Jwk> {
    let key = keystore.key(bag)?;
    let jwk = Jwk::new(key, Parameters::default());
    if bag.secret {
        return Ok(jwk);
    }
    let chain = chain_for(&jwk, bag, certs);
    crate::x5c::with_chain(jwk, &chain)
}

fn aliases(bags: &Bags<'_>) -> Vec<String> {
    let keys = bags.keys.iter().filter_map(|k| k.alias.clone());
    let certs = bags
        .certs
        .iter()
        .filter(|c| c.local_key_id.is_none())
        .filter_map(|c| c.alias.clone());
    keys.chain(certs).collect()
}

/// The JWK of one keystore entry: a private key (with its chain as `x5c`) or, for a
/// certificate-only entry, the certificate's public key.
pub(crate) fn import_keystore(
    der: &[u8],
    password: &str,
    alias: Option<&str>,
    limits: &KdfLimits,
) -> Result<Jwk> {
    let file = normalized(der, "PFX")?;
    let keystore = Keystore::open(file.as_deref().map_or(der, |v| v), password, limits)?;
    let bags = keystore.bags()?;
    let Some(alias) = alias else {
        return match bags.keys.as_slice() {
            [one] => key_jwk(&keystore, one, &bags.certs),
            [] => Err(Error::KeystoreNoKey),
            _ => Err(Error::AliasRequired {
                aliases: aliases(&bags),
            }),
        };
    };
    let keys: Vec<&KeyBag<'_>> = bags
        .keys
        .iter()
        .filter(|k| k.alias.as_deref() == Some(alias))
        .collect();
    match keys.as_slice() {
        [one] => return key_jwk(&keystore, one, &bags.certs),
        [] => {}
        _ => {
            return Err(Error::KeystoreMalformed {
                detail: format!(
                    "PKCS#12: {} private keys share the alias \"{alias}\"",
                    keys.len()
                ),
            });
        }
    }
    let cert = bags
        .certs
        .iter()
        .find(|c| c.local_key_id.is_none() && c.alias.as_deref() == Some(alias));
    match cert {
        Some(c) => crate::x5c::jwk_from_certificate(c.der, false),
        None => Err(Error::AliasNotFound {
            alias: alias.to_owned(),
            aliases: aliases(&bags),
        }),
    }
}

/// Lists the entries of a keystore: private keys first, then certificates without a key.
pub(crate) fn keystore_entries(
    der: &[u8],
    password: &str,
    limits: &KdfLimits,
) -> Result<Vec<KeystoreEntry>> {
    let file = normalized(der, "PFX")?;
    let keystore = Keystore::open(file.as_deref().map_or(der, |v| v), password, limits)?;
    let bags = keystore.bags()?;
    let mut out = Vec::new();
    for bag in &bags.keys {
        let jwk = key_jwk(&keystore, bag, &bags.certs)?;
        out.push(KeystoreEntry {
            alias: bag.alias.clone(),
            key_type: key_type(jwk.key()),
            private: true,
            secret: bag.secret,
            certificates: jwk.params().x5c.as_ref().map_or(0, Vec::len),
        });
    }
    for cert in bags.certs.iter().filter(|c| c.local_key_id.is_none()) {
        let key = crate::x5c::certificate_key(cert.der)?;
        out.push(KeystoreEntry {
            alias: cert.alias.clone(),
            key_type: key_type(&key),
            private: false,
            secret: false,
            certificates: 1,
        });
    }
    Ok(out)
}
