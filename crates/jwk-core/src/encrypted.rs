//! Password-protected private keys: PKCS#8 EncryptedPrivateKeyInfo (PBES2, PBES1, PKCS#12
//! PBE) and OpenSSL's traditional `Proc-Type: 4,ENCRYPTED` PEM.
//!
//! pkcs5 decrypts PBES2; it refuses PBES1 and the PKCS#12 PBE schemes (`openssl pkcs8 -v1`),
//! and OpenSSL's `DEK-Info` PEM encryption has no RustCrypto crate, so those three are written
//! here over the RustCrypto block ciphers, hashes and the pkcs12 KDF. Every KDF cost is
//! checked against [`KdfLimits`] before any derivation starts.

use cbc::cipher::block_padding::Pkcs7;
use cbc::cipher::{BlockModeDecrypt, KeyInit, KeyIvInit, StreamCipher};
use der::asn1::{ObjectIdentifier, OctetStringRef};
use der::{Decode, Reader, SliceReader, Tagged};
use md5::Md5;
use sha1::{Digest, Sha1};
use spki::AlgorithmIdentifierRef;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Caps on the work and memory an encrypted key may ask for. Key-derivation parameters come
/// from the (untrusted) input, so they are checked before any derivation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KdfLimits {
    /// Most PBKDF2 / PBKDF1 / PKCS#12-KDF iterations accepted. Default 2,000,000
    /// (OWASP 2023 asks 1,300,000 for PBKDF2-HMAC-SHA1; OpenSSL writes 2,048).
    pub max_iterations: u64,
    /// Most scrypt work N·r·p accepted. Default 2^22 (OpenSSL's default is 2^17).
    pub max_scrypt_work: u64,
    /// Most scrypt memory (128·N·r bytes) accepted. Default 64 MiB (OpenSSL's default uses 16).
    pub max_scrypt_memory: u64,
}

impl Default for KdfLimits {
    fn default() -> Self {
        KdfLimits {
            max_iterations: 2_000_000,
            max_scrypt_work: 1 << 22,
            max_scrypt_memory: 64 << 20,
        }
    }
}

const PBES2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.13");
const PBE_MD5_DES: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.3");
const PBE_MD5_RC2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.6");
const PBE_SHA1_DES: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.10");
const PBE_SHA1_RC2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.5.11");
const P12_RC4_128: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.1");
const P12_RC4_40: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.2");
const P12_3DES: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.3");
const P12_2DES: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.4");
const P12_RC2_128: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.5");
const P12_RC2_40: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.12.1.6");

pub(crate) fn check_iterations(count: u64, limits: &KdfLimits) -> Result<()> {
    if count > limits.max_iterations {
        return Err(Error::KdfLimit {
            detail: format!(
                "the key asks for {count} iterations, above the cap of {} (raise KdfLimits::max_iterations if you trust the file)",
                limits.max_iterations
            ),
        });
    }
    if count == 0 {
        return Err(Error::der(
            "key encryption parameters",
            "the iteration count is 0",
        ));
    }
    Ok(())
}

fn bad_password<E>(_: E) -> Error {
    Error::BadPassword
}

/// A password as the schemes take it: UTF-8 bytes for PBES1 / PBES2, and for the PKCS#12 KDF
/// a big-endian UTF-16 string with a two-byte terminator (characters outside the BMP as
/// surrogate pairs, as OpenSSL writes them).
#[derive(Clone, Copy)]
pub(crate) struct Password<'a> {
    text: &'a str,
    /// The absent password some PKCS#12 writers MAC and encrypt with: no bytes at all
    /// (OpenSSL's NULL password), which differs from the empty string's terminator.
    absent: bool,
}

impl<'a> Password<'a> {
    pub(crate) fn new(text: &'a str) -> Self {
        Password {
            text,
            absent: false,
        }
    }

    /// OpenSSL's NULL password (see [`Password::absent`]'s field).
    pub(crate) fn absent() -> Password<'static> {
        Password {
            text: "",
            absent: true,
        }
    }

    /// The PKCS#12 KDF's encoding of the password.
    pub(crate) fn bmp(&self) -> Zeroizing<Vec<u8>> {
        if self.absent {
            return Zeroizing::new(Vec::new());
        }
        let mut out = utf16_be(self.text);
        out.extend_from_slice(&[0, 0]);
        out
    }
}

/// A password as UTF-16 units, big-endian, no terminator (the JDK's JKS hashes take it so;
/// the PKCS#12 KDF adds a terminator).
pub(crate) fn utf16_be(text: &str) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() * 2 + 2));
    for unit in text.encode_utf16() {
        out.extend_from_slice(&unit.to_be_bytes());
    }
    out
}

/// Decrypts a PKCS#8 EncryptedPrivateKeyInfo and returns the PrivateKeyInfo DER.
pub(crate) fn decrypt_pkcs8(
    der: &[u8],
    password: &str,
    limits: &KdfLimits,
) -> Result<Zeroizing<Vec<u8>>> {
    decrypt_pkcs8_with(der, Password::new(password), limits)
}

/// [`decrypt_pkcs8`] with a password that may be PKCS#12's absent one.
pub(crate) fn decrypt_pkcs8_with(
    der: &[u8],
    password: Password<'_>,
    limits: &KdfLimits,
) -> Result<Zeroizing<Vec<u8>>> {
    let what = "PKCS#8 encrypted private key";
    let mut reader = SliceReader::new(der).map_err(|e| Error::der(what, e))?;
    let (alg, data) = reader
        .sequence(|r| {
            let alg = AlgorithmIdentifierRef::decode(r)?;
            let data = <&OctetStringRef>::decode(r)?;
            Ok::<_, der::Error>((alg, data))
        })
        .map_err(|e| Error::der(what, e))?;
    reader.finish().map_err(|e| Error::der(what, e))?;
    decrypt_content(
        what,
        alg,
        Zeroizing::new(data.as_bytes().to_vec()),
        password,
        limits,
    )
}

/// Decrypts `buf` in place with a password-based scheme (PBES2, PBES1 or PKCS#12 PBE) and
/// returns the plaintext; `what` names the encrypted object in errors.
pub(crate) fn decrypt_content(
    what: &'static str,
    alg: AlgorithmIdentifierRef<'_>,
    mut buf: Zeroizing<Vec<u8>>,
    password: Password<'_>,
    limits: &KdfLimits,
) -> Result<Zeroizing<Vec<u8>>> {
    let params = alg
        .parameters
        .ok_or_else(|| Error::der(what, "no parameters"))?;
    let len = match alg.oid {
        PBES2 => {
            let p: pkcs5::pbes2::Parameters =
                params
                    .decode_as()
                    .map_err(|e| Error::UnsupportedEncryption {
                        scheme: format!("PBES2 with parameters this engine cannot read ({e})"),
                    })?;
            check_pbes2(&p, limits)?;
            p.decrypt_in_place(password.text.as_bytes(), &mut buf)
                .map_err(|e| match e {
                    pkcs5::Error::DecryptFailed => Error::BadPassword,
                    other => Error::UnsupportedEncryption {
                        scheme: format!("PBES2: {other}"),
                    },
                })?
                .len()
        }
        PBE_MD5_DES | PBE_MD5_RC2 | PBE_SHA1_DES | PBE_SHA1_RC2 => {
            let (salt, count) = pbe_params(&params)?;
            check_iterations(count, limits)?;
            pbes1_decrypt(alg.oid, password.text, salt, count, &mut buf)?
        }
        P12_RC4_128 | P12_RC4_40 | P12_3DES | P12_2DES | P12_RC2_128 | P12_RC2_40 => {
            let (salt, count) = pbe_params(&params)?;
            check_iterations(count, limits)?;
            pkcs12_decrypt(alg.oid, password, salt, count, &mut buf)?
        }
        other => {
            return Err(Error::UnsupportedEncryption {
                scheme: format!("algorithm OID {other}"),
            });
        }
    };
    buf.truncate(len);
    Ok(buf)
}

/// Checks PBES2 KDF costs against the limits.
pub(crate) fn check_pbes2(p: &pkcs5::pbes2::Parameters, limits: &KdfLimits) -> Result<()> {
    match &p.kdf {
        pkcs5::pbes2::Kdf::Pbkdf2(k) => check_iterations(u64::from(k.iteration_count), limits),
        pkcs5::pbes2::Kdf::Scrypt(s) => {
            let (n, r, pp) = (
                s.cost_parameter,
                u64::from(s.block_size),
                u64::from(s.parallelization),
            );
            // pkcs5 0.8.1 panics on N = 0 (a log2 underflow): refuse what scrypt does not
            // define (N a power of two above 1, r and p at least 1) before handing it over.
            if n < 2 || !n.is_power_of_two() || r == 0 || pp == 0 {
                return Err(Error::der(
                    "scrypt parameters",
                    format!(
                        "N={n}, r={r}, p={pp}: N must be a power of two above 1, r and p at least 1"
                    ),
                ));
            }
            let work = n.saturating_mul(r).saturating_mul(pp);
            let memory = n.saturating_mul(r).saturating_mul(128);
            if work > limits.max_scrypt_work || memory > limits.max_scrypt_memory {
                return Err(Error::KdfLimit {
                    detail: format!(
                        "the key asks for scrypt N={n}, r={r}, p={pp} (work N·r·p = {work}, memory {memory} bytes), above the caps of {} work and {} bytes (see KdfLimits)",
                        limits.max_scrypt_work, limits.max_scrypt_memory
                    ),
                });
            }
            Ok(())
        }
        other => Err(Error::UnsupportedEncryption {
            scheme: format!("PBES2 with key derivation {}", other.oid()),
        }),
    }
}

/// PBEParameter (PKCS#5) and pkcs-12PbeParams share one shape: SEQUENCE { salt, iterations }.
fn pbe_params<'a>(params: &der::asn1::AnyRef<'a>) -> Result<(&'a [u8], u64)> {
    let what = "password-based encryption parameters";
    if params.tag() != der::Tag::Sequence {
        return Err(Error::der(what, "expected a SEQUENCE"));
    }
    let mut reader = SliceReader::new(params.value()).map_err(|e| Error::der(what, e))?;
    let salt = <&OctetStringRef>::decode(&mut reader).map_err(|e| Error::der(what, e))?;
    let count = u64::decode(&mut reader).map_err(|e| Error::der(what, e))?;
    reader.finish().map_err(|e| Error::der(what, e))?;
    Ok((salt.as_bytes(), count))
}

/// PBES1 (RFC 8018 §6.1): PBKDF1 with MD5 or SHA-1, then DES-CBC or RC2-CBC (64-bit).
fn pbes1_decrypt(
    oid: ObjectIdentifier,
    password: &str,
    salt: &[u8],
    count: u64,
    buf: &mut [u8],
) -> Result<usize> {
    fn pbkdf1<D: Digest>(password: &[u8], salt: &[u8], count: u64) -> Zeroizing<Vec<u8>> {
        let mut t = Zeroizing::new(
            D::new()
                .chain_update(password)
                .chain_update(salt)
                .finalize()
                .to_vec(),
        );
        for _ in 1..count {
            *t = D::digest(&*t).to_vec();
        }
        t
    }
    let dk = match oid {
        PBE_MD5_DES | PBE_MD5_RC2 => pbkdf1::<Md5>(password.as_bytes(), salt, count),
        _ => pbkdf1::<Sha1>(password.as_bytes(), salt, count),
    };
    let (key, iv) = (&dk[..8], &dk[8..16]);
    match oid {
        PBE_MD5_DES | PBE_SHA1_DES => cbc_decrypt::<des::Des>(key, iv, buf),
        _ => rc2_cbc_decrypt(key, 64, iv, buf),
    }
}

/// The PKCS#12 PBE schemes (RFC 7292 Appendix C) with the PKCS#12 KDF over SHA-1.
fn pkcs12_decrypt(
    oid: ObjectIdentifier,
    password: Password<'_>,
    salt: &[u8],
    count: u64,
    buf: &mut [u8],
) -> Result<usize> {
    use pkcs12::kdf::{Pkcs12KeyType, derive_key};
    let rounds = pkcs12_rounds(count)?;
    let key_len = match oid {
        P12_RC4_128 | P12_RC2_128 | P12_2DES => 16,
        P12_RC4_40 | P12_RC2_40 => 5,
        _ => 24,
    };
    let bmp = password.bmp();
    let derive = |kind, len| Zeroizing::new(derive_key::<Sha1>(&bmp, salt, kind, rounds, len));
    let key = derive(Pkcs12KeyType::EncryptionKey, key_len);
    if matches!(oid, P12_RC4_128 | P12_RC4_40) {
        // RC4 has no padding and no IV: a wrong password shows only when the DER fails.
        let mut cipher = rc4::Rc4::new_from_slice(&key).map_err(bad_password)?;
        cipher.apply_keystream(buf);
        return Ok(buf.len());
    }
    let iv = derive(Pkcs12KeyType::Iv, 8);
    match oid {
        P12_3DES => cbc_decrypt::<des::TdesEde3>(&key, &iv, buf),
        P12_2DES => cbc_decrypt::<des::TdesEde2>(&key, &iv, buf),
        P12_RC2_128 => rc2_cbc_decrypt(&key, 128, &iv, buf),
        _ => rc2_cbc_decrypt(&key, 40, &iv, buf),
    }
}

/// The PKCS#12 KDF counts rounds in an `i32`.
pub(crate) fn pkcs12_rounds(count: u64) -> Result<i32> {
    i32::try_from(count).map_err(|_| Error::KdfLimit {
        detail: format!("the key asks for {count} iterations, more than the PKCS#12 KDF counts"),
    })
}

fn cbc_decrypt<C>(key: &[u8], iv: &[u8], buf: &mut [u8]) -> Result<usize>
where
    C: cbc::cipher::BlockCipherDecrypt + KeyInit,
{
    let dec = cbc::Decryptor::<C>::new_from_slices(key, iv).map_err(bad_password)?;
    dec.decrypt_padded::<Pkcs7>(buf)
        .map(<[u8]>::len)
        .map_err(bad_password)
}

fn rc2_cbc_decrypt(key: &[u8], effective_bits: usize, iv: &[u8], buf: &mut [u8]) -> Result<usize> {
    use cbc::cipher::InnerIvInit;
    let cipher = rc2::Rc2::new_with_eff_key_len(key, effective_bits);
    let dec = cbc::Decryptor::<rc2::Rc2>::inner_iv_slice_init(cipher, iv).map_err(bad_password)?;
    dec.decrypt_padded::<Pkcs7>(buf)
        .map(<[u8]>::len)
        .map_err(bad_password)
}

/// Decrypts an OpenSSL traditional encrypted PEM body (`DEK-Info: <cipher>,<iv hex>`).
///
/// The key is OpenSSL's `EVP_BytesToKey(MD5, salt = iv[..8], password, count = 1)`.
pub(crate) fn decrypt_legacy_pem(
    dek_info: &str,
    password: &str,
    body: &[u8],
) -> Result<Zeroizing<Vec<u8>>> {
    let (cipher, iv_hex) = dek_info
        .split_once(',')
        .ok_or_else(|| Error::PemMalformed {
            label: "DEK-Info".to_owned(),
            detail: "expected \"DEK-Info: <cipher>,<iv in hex>\"".to_owned(),
        })?;
    let cipher = cipher.trim().to_ascii_uppercase();
    let iv = decode_hex(iv_hex.trim()).ok_or_else(|| Error::PemMalformed {
        label: "DEK-Info".to_owned(),
        detail: "the IV is not hexadecimal".to_owned(),
    })?;
    let (key_len, iv_len) = match cipher.as_str() {
        "AES-128-CBC" => (16, 16),
        "AES-192-CBC" => (24, 16),
        "AES-256-CBC" => (32, 16),
        "DES-EDE3-CBC" => (24, 8),
        "DES-CBC" => (8, 8),
        other => {
            return Err(Error::UnsupportedEncryption {
                scheme: format!(
                    "PEM DEK-Info cipher {other} (supported: AES-128/192/256-CBC, DES-EDE3-CBC, DES-CBC)"
                ),
            });
        }
    };
    if iv.len() != iv_len {
        return Err(Error::PemMalformed {
            label: "DEK-Info".to_owned(),
            detail: format!("{cipher} needs a {iv_len}-byte IV, got {}", iv.len()),
        });
    }
    let mut key = Zeroizing::new(Vec::with_capacity(key_len + 16));
    let mut prev: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::new());
    while key.len() < key_len {
        let mut h = Md5::new();
        h.update(&*prev);
        h.update(password.as_bytes());
        h.update(&iv[..8]);
        *prev = h.finalize().to_vec();
        key.extend_from_slice(&prev);
    }
    key.truncate(key_len);
    let mut buf = Zeroizing::new(body.to_vec());
    let len = match cipher.as_str() {
        "AES-128-CBC" => cbc_decrypt::<aes::Aes128>(&key, &iv, &mut buf)?,
        "AES-192-CBC" => cbc_decrypt::<aes::Aes192>(&key, &iv, &mut buf)?,
        "AES-256-CBC" => cbc_decrypt::<aes::Aes256>(&key, &iv, &mut buf)?,
        "DES-EDE3-CBC" => cbc_decrypt::<des::TdesEde3>(&key, &iv, &mut buf)?,
        _ => cbc_decrypt::<des::Des>(&key, &iv, &mut buf)?,
    };
    buf.truncate(len);
    Ok(buf)
}

fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}
