//! Format detection: what a blob is (a certificate, a public or private key in one of its DER
//! forms, a keystore), judged from its first bytes and the tags of its outer SEQUENCE, without
//! decoding it. Below every format module: it imports none of them.

use der::asn1::AnyRef;
use der::{Decode, Reader, SliceReader, Tag, Tagged};

/// A Java KeyStore's magic number (not DER).
pub(crate) const JKS_MAGIC: [u8; 4] = [0xfe, 0xed, 0xfe, 0xed];
/// A JCEKS keystore's magic number (refused with its own message).
pub(crate) const JCEKS_MAGIC: [u8; 4] = [0xce, 0xce, 0xce, 0xce];

/// What a DER blob is, judged from the tags of its outer SEQUENCE's elements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DerKind {
    /// X.509 Certificate.
    Certificate,
    /// SubjectPublicKeyInfo.
    Spki,
    /// PKCS#8 PrivateKeyInfo / OneAsymmetricKey.
    Pkcs8,
    /// PKCS#8 EncryptedPrivateKeyInfo.
    EncryptedPkcs8,
    /// PKCS#1 RSAPrivateKey.
    Pkcs1Private,
    /// PKCS#1 RSAPublicKey.
    Pkcs1Public,
    /// SEC1 ECPrivateKey.
    Sec1,
    /// PKCS#12 PFX.
    Pkcs12,
    /// A Java KeyStore (JKS, or JCEKS to refuse): not DER, recognised by its magic number.
    Jks,
}

/// Classifies a DER blob without decoding it fully. `None` when it is not a DER SEQUENCE of
/// a known shape. Bytes after the outer SEQUENCE are ignored here.
pub(crate) fn classify(der: &[u8]) -> Option<DerKind> {
    if der.starts_with(&JKS_MAGIC) || der.starts_with(&JCEKS_MAGIC) {
        return Some(DerKind::Jks);
    }
    classify_der(der).or_else(|| is_ber_pfx(der).then_some(DerKind::Pkcs12))
}

/// A PFX in BER (BouncyCastle writes them so): a SEQUENCE of any length form opening with
/// INTEGER 3 and then a SEQUENCE. Only PKCS#12 is read in BER.
fn is_ber_pfx(input: &[u8]) -> bool {
    let after_length = match input {
        [0x30, 0x80, rest @ ..] => rest,
        [0x30, n, rest @ ..] if *n > 0x80 && *n <= 0x84 => {
            match rest.get(usize::from(*n & 0x7f)..) {
                Some(rest) => rest,
                None => return false,
            }
        }
        [0x30, n, rest @ ..] if *n < 0x80 => rest,
        _ => return false,
    };
    after_length.starts_with(&[0x02, 0x01, 0x03, 0x30])
}

fn classify_der(der: &[u8]) -> Option<DerKind> {
    let mut reader = SliceReader::new(der).ok()?;
    let outer = AnyRef::decode(&mut reader).ok()?;
    if outer.tag() != Tag::Sequence {
        return None;
    }
    let mut inner = SliceReader::new(outer.value()).ok()?;
    let mut tags = Vec::new();
    let mut version = None;
    while !inner.is_finished() {
        let element = AnyRef::decode(&mut inner).ok()?;
        if tags.is_empty() && element.tag() == Tag::Integer {
            version = Some(element.value().to_vec());
        }
        tags.push(element.tag());
        if tags.len() > 12 {
            break;
        }
    }
    let int = |v: u8| version.as_deref() == Some(&[v][..]);
    use Tag::{BitString, Integer, OctetString, Sequence};
    Some(match tags.as_slice() {
        [Sequence, Sequence, BitString, ..] => DerKind::Certificate,
        [Sequence, BitString] => DerKind::Spki,
        [Sequence, OctetString] => DerKind::EncryptedPkcs8,
        [Integer, Sequence, ..] if int(3) => DerKind::Pkcs12,
        [Integer, Sequence, OctetString, ..] if int(0) || int(1) => DerKind::Pkcs8,
        [Integer, OctetString, ..] if int(1) => DerKind::Sec1,
        [Integer, Integer] => DerKind::Pkcs1Public,
        [
            Integer,
            Integer,
            Integer,
            Integer,
            Integer,
            Integer,
            Integer,
            Integer,
            Integer,
            ..,
        ] if int(0) || int(1) => DerKind::Pkcs1Private,
        _ => return None,
    })
}
