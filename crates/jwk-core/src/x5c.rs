//! X.509 certificates: the key they carry, `x5c`, `x5t` and `x5t#S256`.

use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::der::spki_to_key;
use crate::error::{Error, Result};
use crate::jwk::{Jwk, Parameters};

/// Parses a DER certificate and returns its SubjectPublicKeyInfo DER and the certificate's
/// own length (a `TRUSTED CERTIFICATE` carries trailing auxiliary data).
fn parse_cert(der: &[u8]) -> Result<(&[u8], usize)> {
    use x509_parser::nom::Parser;
    // Extensions are checked for structure but not decoded one by one: the key is all we
    // take from a certificate, and the deep parse doubled the memory of an import.
    let (rest, cert) = x509_parser::certificate::X509CertificateParser::new()
        .with_deep_parse_extensions(false)
        .parse(der)
        .map_err(|e| Error::der("X.509 certificate", e))?;
    Ok((cert.tbs_certificate.subject_pki.raw, der.len() - rest.len()))
}

/// The issuer and subject Names (contents octets) of a DER certificate, for chain building:
/// a walk of the TBSCertificate's first fields, nothing decoded or allocated. Certificates
/// that end up in an `x5c` are fully parsed by [`check_jwk_chain`].
pub(crate) fn issuer_and_subject(der: &[u8]) -> der::Result<(&[u8], &[u8])> {
    use der::asn1::AnyRef;
    use der::{Decode, Reader, SliceReader, Tag, TagNumber, Tagged};
    fn skip_rest<'a>(r: &mut SliceReader<'a>) -> der::Result<()> {
        while !r.is_finished() {
            AnyRef::decode(r)?;
        }
        Ok(())
    }
    let mut reader = SliceReader::new(der)?;
    let names = reader.sequence(|cert| {
        let names = cert.sequence(|tbs| {
            let mut serial = AnyRef::decode(tbs)?;
            let version = Tag::ContextSpecific {
                constructed: true,
                number: TagNumber(0),
            };
            if serial.tag() == version {
                serial = AnyRef::decode(tbs)?;
            }
            serial.tag().assert_eq(Tag::Integer)?;
            AnyRef::decode(tbs)?.tag().assert_eq(Tag::Sequence)?;
            let issuer = AnyRef::decode(tbs)?;
            issuer.tag().assert_eq(Tag::Sequence)?;
            AnyRef::decode(tbs)?.tag().assert_eq(Tag::Sequence)?;
            let subject = AnyRef::decode(tbs)?;
            subject.tag().assert_eq(Tag::Sequence)?;
            skip_rest(tbs)?;
            Ok::<_, der::Error>((issuer.value(), subject.value()))
        })?;
        skip_rest(cert)?;
        Ok::<_, der::Error>(names)
    })?;
    reader.finish()?;
    Ok(names)
}

/// The public key of a DER certificate.
pub(crate) fn certificate_key(der: &[u8]) -> Result<crate::key::Key> {
    let (spki, _) = parse_cert(der)?;
    spki_to_key(spki)
}

/// The key of a DER certificate and the certificate's length. With `allow_trailing`, bytes
/// after the certificate (OpenSSL's trusted-certificate auxiliary data) are ignored;
/// otherwise they are an error.
fn certificate_parts(der: &[u8], allow_trailing: bool) -> Result<(crate::key::Key, usize)> {
    let (spki, len) = parse_cert(der)?;
    if len != der.len() && !allow_trailing {
        return Err(Error::der(
            "X.509 certificate",
            format!("{} bytes follow the certificate", der.len() - len),
        ));
    }
    Ok((spki_to_key(spki)?, len))
}

/// The public JWK of a certificate with `x5c` (the certificate) and `x5t#S256`.
fn with_x5c(key: crate::key::Key, cert: Vec<u8>) -> Jwk {
    let params = Parameters {
        x5t_s256: Some(Sha256::digest(&cert).to_vec()),
        x5c: Some(vec![cert]),
        ..Parameters::default()
    };
    Jwk::new(key, params)
}

/// The public JWK of a DER certificate, with `x5c` (the certificate) and `x5t#S256`.
///
/// With `allow_trailing`, bytes after the certificate (OpenSSL's trusted-certificate
/// auxiliary data) are ignored; otherwise they are an error.
pub(crate) fn jwk_from_certificate(der: &[u8], allow_trailing: bool) -> Result<Jwk> {
    let (key, len) = certificate_parts(der, allow_trailing)?;
    Ok(with_x5c(key, der[..len].to_vec()))
}

/// [`jwk_from_certificate`] that keeps the DER it is given as the `x5c` entry (no copy).
pub(crate) fn jwk_from_certificate_der(der: Vec<u8>) -> Result<Jwk> {
    let (key, _) = certificate_parts(&der, false)?;
    Ok(with_x5c(key, der))
}

/// `jwk` with `chain` (leaf first) as `x5c` and the leaf's `x5t#S256`, checked by
/// [`check_jwk_chain`]. An empty chain leaves the JWK as it is.
pub(crate) fn with_chain(mut jwk: Jwk, chain: &[&[u8]]) -> Result<Jwk> {
    if let Some(leaf) = chain.first() {
        let params = jwk.params_mut();
        params.x5t_s256 = Some(Sha256::digest(leaf).to_vec());
        params.x5c = Some(chain.iter().map(|c| c.to_vec()).collect());
    }
    check_jwk_chain(&jwk)?;
    Ok(jwk)
}

/// Checks a JWK's `x5c`: every entry a certificate, the leaf's key equal to the JWK's key,
/// and `x5t` / `x5t#S256` (when present) the digests of the leaf.
pub(crate) fn check_jwk_chain(jwk: &Jwk) -> Result<()> {
    let p = jwk.params();
    let Some(chain) = &p.x5c else {
        return Ok(());
    };
    for (i, cert) in chain.iter().enumerate() {
        let (_, len) = parse_cert(cert).map_err(|e| Error::BadX5c {
            detail: format!("certificate #{i} does not parse: {e}"),
        })?;
        if len != cert.len() {
            return Err(Error::BadX5c {
                detail: format!("certificate #{i} has trailing bytes"),
            });
        }
    }
    let leaf = &chain[0];
    let (spki, _) = parse_cert(leaf)?;
    let leaf_key = spki_to_key(spki).map_err(|e| Error::BadX5c {
        detail: format!("the key of certificate #0 is unusable: {e}"),
    })?;
    let leaf_jwk = Jwk::new(leaf_key, Parameters::default());
    if leaf_jwk.thumbprint_input() != jwk.thumbprint_input() {
        return Err(Error::BadX5c {
            detail: "the key of certificate #0 is not the key of this JWK".to_owned(),
        });
    }
    if let Some(t) = &p.x5t
        && Sha1::digest(leaf).as_slice() != t.as_slice()
    {
        return Err(Error::BadX5c {
            detail: "\"x5t\" is not the SHA-1 digest of certificate #0".to_owned(),
        });
    }
    if let Some(t) = &p.x5t_s256
        && Sha256::digest(leaf).as_slice() != t.as_slice()
    {
        return Err(Error::BadX5c {
            detail: "\"x5t#S256\" is not the SHA-256 digest of certificate #0".to_owned(),
        });
    }
    Ok(())
}

/// What a certificate says about itself, for listings: never its key material beyond what
/// every holder of the certificate sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertificateInfo {
    /// The subject, as RFC 4514 text (`CN=example,O=Example`).
    pub subject: String,
    /// The issuer, as RFC 4514 text.
    pub issuer: String,
    /// Start of validity, RFC 3339 (UTC).
    pub not_before: String,
    /// Start of validity, Unix seconds.
    pub not_before_unix: i64,
    /// End of validity, RFC 3339 (UTC).
    pub not_after: String,
    /// End of validity, Unix seconds.
    pub not_after_unix: i64,
    /// The serial number, lower-case hex, two digits per byte, without the sign byte (as
    /// `openssl x509 -serial` shows it).
    pub serial: String,
    /// SHA-256 of the DER certificate, lower-case hex (what `openssl x509 -fingerprint
    /// -sha256` shows, without colons).
    pub sha256_fingerprint: String,
}

impl CertificateInfo {
    /// Reads a DER certificate (trailing bytes refused).
    pub fn from_der(der: &[u8]) -> Result<CertificateInfo> {
        use x509_parser::nom::Parser;
        let (rest, cert) = x509_parser::certificate::X509CertificateParser::new()
            .with_deep_parse_extensions(false)
            .parse(der)
            .map_err(|e| Error::der("X.509 certificate", e))?;
        if !rest.is_empty() {
            return Err(Error::der(
                "X.509 certificate",
                format!("{} bytes follow the certificate", rest.len()),
            ));
        }
        let rfc3339 = |t: x509_parser::time::ASN1Time| {
            t.to_datetime()
                .format(&time::format_description::well_known::Rfc3339)
                .unwrap_or_default()
        };
        let validity = &cert.tbs_certificate.validity;
        Ok(CertificateInfo {
            subject: cert.tbs_certificate.subject.to_string(),
            issuer: cert.tbs_certificate.issuer.to_string(),
            not_before: rfc3339(validity.not_before),
            not_before_unix: validity.not_before.timestamp(),
            not_after: rfc3339(validity.not_after),
            not_after_unix: validity.not_after.timestamp(),
            serial: serial_hex(cert.tbs_certificate.raw_serial()),
            sha256_fingerprint: Sha256::digest(der)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        })
    }
}

/// A DER INTEGER's content as `openssl x509 -serial` writes it: two hex digits per byte,
/// leading zero bytes (the sign byte) left out.
fn serial_hex(raw: &[u8]) -> String {
    let start = raw
        .iter()
        .position(|b| *b != 0)
        .unwrap_or(raw.len().saturating_sub(1));
    raw.get(start..)
        .unwrap_or_default()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod serial_tests {
    #[test]
    fn serials_are_written_as_openssl_writes_them() {
        assert_eq!(super::serial_hex(&[0x00, 0x8f, 0x01]), "8f01");
        assert_eq!(super::serial_hex(&[0x0a, 0xbc]), "0abc");
        assert_eq!(super::serial_hex(&[0x00]), "00");
        assert_eq!(super::serial_hex(&[]), "");
    }
}
