//! DER structures: what a blob is, and the key inside it.

use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef};
use der::{Decode, Reader, SliceReader, Tag, Tagged};

use crate::error::{Error, Result};
use crate::key::{EcCurve, EcKey, Key, OkpCurve, OkpKey, PssHash, RsaKey};

const RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const RSA_PSS: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");
const EC: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const X25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.110");
const X448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.111");
const ED25519: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.112");
const ED448: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.101.113");
const P256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const P384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const P521: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.35");
const SECP256K1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.10");
const SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");

fn curve_from_oid(oid: &ObjectIdentifier) -> Result<EcCurve> {
    Ok(match *oid {
        P256 => EcCurve::P256,
        P384 => EcCurve::P384,
        P521 => EcCurve::P521,
        SECP256K1 => EcCurve::Secp256k1,
        other => {
            return Err(Error::UnsupportedCurve {
                curve: format!("with OID {other}"),
            });
        }
    })
}

/// The curve of an id-ecPublicKey AlgorithmIdentifier's parameters (SEC1 `ECParameters`): a
/// named curve, or explicit parameters equal to a supported curve's.
fn ec_params_curve(params: Option<&AnyRef<'_>>) -> Result<EcCurve> {
    let params = params.ok_or_else(|| Error::UnsupportedCurve {
        curve: "(the key names no curve)".to_owned(),
    })?;
    match params.tag() {
        Tag::ObjectIdentifier => {
            let oid: ObjectIdentifier = params
                .decode_as()
                .map_err(|e| Error::der("EC curve OID", e))?;
            curve_from_oid(&oid)
        }
        Tag::Sequence => crate::ecparams::explicit_curve(params),
        Tag::Null => Err(Error::UnsupportedCurve {
            curve: "inherited from the issuer's certificate (implicitCurve)".to_owned(),
        }),
        other => Err(Error::der(
            "EC parameters",
            format!("expected a curve OID or explicit parameters, found {other}"),
        )),
    }
}

fn okp_curve(oid: &ObjectIdentifier) -> Option<OkpCurve> {
    Some(match *oid {
        ED25519 => OkpCurve::Ed25519,
        ED448 => OkpCurve::Ed448,
        X25519 => OkpCurve::X25519,
        X448 => OkpCurve::X448,
        _ => return None,
    })
}

fn unsupported(oid: &ObjectIdentifier) -> Error {
    let name = match oid.to_string().as_str() {
        "1.2.840.10040.4.1" => "DSA",
        "1.2.840.10046.2.1" | "1.2.840.113549.1.3.1" => "Diffie-Hellman",
        "1.2.156.10197.1.301" => "SM2",
        "1.2.643.7.1.1.1.1" | "1.2.643.7.1.1.1.2" => "GOST R 34.10-2012",
        _ => "(unknown)",
    };
    Error::UnsupportedKeyAlgorithm {
        oid: oid.to_string(),
        name: name.to_owned(),
    }
}

/// The hash an id-RSASSA-PSS AlgorithmIdentifier pins (`None` when it has no parameters).
fn pss_hash(params: Option<&AnyRef<'_>>) -> Result<Option<PssHash>> {
    let Some(params) = params else {
        return Ok(None);
    };
    if params.tag() == Tag::Null {
        return Ok(None);
    }
    let pss = pkcs1::RsaPssParams::<pkcs1::der::asn1::Any>::from_der(
        &der::Encode::to_der(params).map_err(|e| Error::der("RSASSA-PSS parameters", e))?,
    )
    .map_err(|e| Error::der("RSASSA-PSS parameters", e))?;
    Ok(Some(match pss.hash.oid {
        SHA256 => PssHash::Sha256,
        SHA384 => PssHash::Sha384,
        SHA512 => PssHash::Sha512,
        _ => PssHash::Other,
    }))
}

fn no_params(params: Option<&AnyRef<'_>>, what: &'static str) -> Result<()> {
    match params {
        None => Ok(()),
        Some(_) => Err(Error::der(what, "the algorithm must not have parameters")),
    }
}

/// A PKCS#1 RSAPublicKey.
pub(crate) fn pkcs1_public(der: &[u8]) -> Result<RsaKey> {
    let key = pkcs1::RsaPublicKeyRef::from_der(der).map_err(|e| Error::der("RSA public key", e))?;
    RsaKey::from_public(key.modulus.as_bytes(), key.public_exponent.as_bytes())
}

/// A PKCS#1 RSAPrivateKey.
pub(crate) fn pkcs1_private(der: &[u8]) -> Result<RsaKey> {
    let key =
        pkcs1::RsaPrivateKeyRef::from_der(der).map_err(|e| Error::der("RSA private key", e))?;
    if key.other_prime_infos.is_some() {
        return Err(Error::rsa(
            "multi-prime RSA keys (more than two primes) are not supported",
        ));
    }
    RsaKey::from_private(
        key.modulus.as_bytes(),
        key.public_exponent.as_bytes(),
        key.private_exponent.as_bytes(),
        Some(crate::key::CrtInput {
            p: key.prime1.as_bytes(),
            q: key.prime2.as_bytes(),
            dp: Some(key.exponent1.as_bytes()),
            dq: Some(key.exponent2.as_bytes()),
            qi: Some(key.coefficient.as_bytes()),
        }),
    )
}

/// A SubjectPublicKeyInfo.
pub(crate) fn spki_to_key(der: &[u8]) -> Result<Key> {
    let spki = spki::SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|e| Error::der("SubjectPublicKeyInfo", e))?;
    let oid = spki.algorithm.oid;
    let params = spki.algorithm.parameters.as_ref();
    let bits = spki.subject_public_key.as_bytes().ok_or_else(|| {
        Error::der(
            "SubjectPublicKeyInfo",
            "the public key BIT STRING has unused bits",
        )
    })?;
    match oid {
        RSA => pkcs1_public(bits).map(Key::Rsa),
        RSA_PSS => Ok(Key::Rsa(pkcs1_public(bits)?.with_pss(pss_hash(params)?))),
        EC => EcKey::from_sec1(ec_params_curve(params)?, bits).map(Key::Ec),
        _ => match okp_curve(&oid) {
            Some(curve) => {
                no_params(params, "SubjectPublicKeyInfo")?;
                OkpKey::from_public(curve, bits).map(Key::Okp)
            }
            None => Err(unsupported(&oid)),
        },
    }
}

/// The fields of a SEC1 ECPrivateKey.
struct Sec1<'a> {
    private_key: &'a [u8],
    parameters: Option<AnyRef<'a>>,
    public_key: Option<&'a [u8]>,
}

/// Reads `ECPrivateKey ::= SEQUENCE { version INTEGER (1), privateKey OCTET STRING,
/// parameters [0] EXPLICIT ECParameters OPTIONAL, publicKey [1] EXPLICIT BIT STRING OPTIONAL }`.
/// By hand rather than with `sec1::EcPrivateKey`, which reads named-curve parameters only.
fn parse_sec1(der: &[u8]) -> der::Result<Sec1<'_>> {
    let mut reader = SliceReader::new(der)?;
    let sec1 = reader.sequence(|r| -> der::Result<Sec1<'_>> {
        let version = der::asn1::UintRef::decode(r)?;
        if version.as_bytes() != [1] {
            return Err(der::Error::from(Tag::Integer.value_error()));
        }
        let private_key = <&OctetStringRef>::decode(r)?.as_bytes();
        let parameters = explicit_field(r, 0)?;
        let public_key = match explicit_field(r, 1)? {
            Some(any) => Some(
                der::asn1::BitStringRef::try_from(any)?
                    .as_bytes()
                    .ok_or_else(|| Tag::BitString.value_error())?,
            ),
            None => None,
        };
        Ok(Sec1 {
            private_key,
            parameters,
            public_key,
        })
    })?;
    reader.finish()?;
    Ok(sec1)
}

/// An optional `[number] EXPLICIT` field: the one value it wraps.
fn explicit_field<'a>(
    reader: &mut SliceReader<'a>,
    number: u32,
) -> der::Result<Option<AnyRef<'a>>> {
    match Tag::peek(reader) {
        Ok(Tag::ContextSpecific {
            constructed: true,
            number: n,
        }) if n == der::TagNumber(number) => {
            let field = AnyRef::decode(reader)?;
            let mut inner = SliceReader::new(field.value())?;
            let value = AnyRef::decode(&mut inner)?;
            inner.finish()?;
            Ok(Some(value))
        }
        _ => Ok(None),
    }
}

/// A SEC1 ECPrivateKey; `outer` is the curve named by an enclosing PKCS#8 structure.
pub(crate) fn sec1_to_key(der: &[u8], outer: Option<EcCurve>) -> Result<Key> {
    let key = parse_sec1(der).map_err(|e| Error::der("EC private key", e))?;
    let inner = match &key.parameters {
        Some(params) => Some(ec_params_curve(Some(params))?),
        None => None,
    };
    let curve = match (outer, inner) {
        (Some(a), Some(b)) if a != b => {
            return Err(Error::der(
                "EC private key",
                format!("it names {} inside and {} outside", b.name(), a.name()),
            ));
        }
        (Some(c), _) | (None, Some(c)) => c,
        (None, None) => {
            return Err(Error::UnsupportedCurve {
                curve: "(the key names no curve)".to_owned(),
            });
        }
    };
    EcKey::from_private(curve, key.private_key, key.public_key).map(Key::Ec)
}

/// A PKCS#8 PrivateKeyInfo (v1) or OneAsymmetricKey (v2).
pub(crate) fn pkcs8_to_key(der: &[u8]) -> Result<Key> {
    let info =
        pkcs8::PrivateKeyInfoRef::from_der(der).map_err(|e| Error::der("PKCS#8 private key", e))?;
    let oid = info.algorithm.oid;
    let params = info.algorithm.parameters.as_ref();
    let private = info.private_key.as_bytes();
    let public = match &info.public_key {
        Some(bits) => Some(bits.as_bytes().ok_or_else(|| {
            Error::der(
                "PKCS#8 private key",
                "the public key BIT STRING has unused bits",
            )
        })?),
        None => None,
    };
    match oid {
        RSA => pkcs1_private(private).map(Key::Rsa),
        RSA_PSS => Ok(Key::Rsa(
            pkcs1_private(private)?.with_pss(pss_hash(params)?),
        )),
        EC => sec1_to_key(private, Some(ec_params_curve(params)?)),
        _ => match okp_curve(&oid) {
            Some(curve) => {
                no_params(params, "PKCS#8 private key")?;
                // RFC 8410 §7: the private key is an OCTET STRING inside the OCTET STRING.
                let raw = <&OctetStringRef>::from_der(private)
                    .map_err(|e| Error::der("PKCS#8 private key", e))?;
                OkpKey::from_private(curve, raw.as_bytes(), public).map(Key::Okp)
            }
            None => Err(unsupported(&oid)),
        },
    }
}
