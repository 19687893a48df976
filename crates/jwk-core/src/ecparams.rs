//! EC domain parameters written out in full (`specifiedCurve`: SEC1 v2 §C.2, RFC 3279 §2.3.5)
//! instead of a named-curve OID, as OpenSSL 0.9.8-era tools, some HSM exports and some Java
//! providers write them.
//!
//! Written by hand: RustCrypto's `sec1`/`elliptic-curve` (and `x509-parser`) read named curves
//! only, and no maintained crate matches explicit parameters against known curves. A key with
//! explicit parameters is accepted when every field equals the constants of one supported curve
//! (SEC 2 v2 §2.4.1, §2.4.2, §2.5.1, §2.6.1), and is then that named curve. The seed, which
//! only records how the constants were made, is not compared.

use der::asn1::{AnyRef, ObjectIdentifier, OctetStringRef, UintRef};
use der::{Decode, Reader, SliceReader};

use crate::error::{Error, Result};
use crate::key::EcCurve;

/// X9.62 `prime-field`.
const PRIME_FIELD: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.1.1");
/// X9.62 `characteristic-two-field`.
const CHARACTERISTIC_TWO_FIELD: ObjectIdentifier =
    ObjectIdentifier::new_unwrap("1.2.840.10045.1.2");

/// One supported curve's domain parameters, big-endian (the generator uncompressed,
/// `04 || x || y`). The cofactor of every supported curve is 1.
struct Domain {
    curve: EcCurve,
    p: &'static [u8],
    a: &'static [u8],
    b: &'static [u8],
    g: &'static [u8],
    n: &'static [u8],
}

const DOMAINS: [Domain; 4] = [
    Domain {
        curve: EcCurve::P256,
        p: &hex::<32>("ffffffff00000001000000000000000000000000ffffffffffffffffffffffff"),
        a: &hex::<32>("ffffffff00000001000000000000000000000000fffffffffffffffffffffffc"),
        b: &hex::<32>("5ac635d8aa3a93e7b3ebbd55769886bc651d06b0cc53b0f63bce3c3e27d2604b"),
        g: &hex::<65>(
            "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296\
            4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5",
        ),
        n: &hex::<32>("ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551"),
    },
    Domain {
        curve: EcCurve::P384,
        p: &hex::<48>(
            "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe\
            ffffffff0000000000000000ffffffff",
        ),
        a: &hex::<48>(
            "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffe\
            ffffffff0000000000000000fffffffc",
        ),
        b: &hex::<48>(
            "b3312fa7e23ee7e4988e056be3f82d19181d9c6efe8141120314088f5013875a\
            c656398d8a2ed19d2a85c8edd3ec2aef",
        ),
        g: &hex::<97>(
            "04aa87ca22be8b05378eb1c71ef320ad746e1d3b628ba79b9859f741e082542a38\
            5502f25dbf55296c3a545e3872760ab73617de4a96262c6f5d9e98bf9292dc29f8\
            f41dbd289a147ce9da3113b5f0b8c00a60b1ce1d7e819d7a431d7c90ea0e5f",
        ),
        n: &hex::<48>(
            "ffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf\
            581a0db248b0a77aecec196accc52973",
        ),
    },
    Domain {
        curve: EcCurve::P521,
        p: &hex::<66>(
            "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\
            ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
        ),
        a: &hex::<66>(
            "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\
            fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffc",
        ),
        b: &hex::<66>(
            "0051953eb9618e1c9a1f929a21a0b68540eea2da725b99b315f3b8b489918ef109\
            e156193951ec7e937b1652c0bd3bb1bf073573df883d2c34f1ef451fd46b503f00",
        ),
        g: &hex::<133>(
            "0400c6858e06b70404e9cd9e3ecb662395b4429c648139053fb521f828af606b4d\
            3dbaa14b5e77efe75928fe1dc127a2ffa8de3348b3c1856a429bf97e7e31c2e5bd\
            66011839296a789a3bc0045c8a5fb42c7d1bd998f54449579b446817afbd17273e\
            662c97ee72995ef42640c550b9013fad0761353c7086a272c24088be94769fd16650",
        ),
        n: &hex::<66>(
            "01ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\
            fa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409",
        ),
    },
    Domain {
        curve: EcCurve::Secp256k1,
        p: &hex::<32>("fffffffffffffffffffffffffffffffffffffffffffffffffffffffefffffc2f"),
        a: &hex::<1>("00"),
        b: &hex::<1>("07"),
        g: &hex::<65>(
            "0479be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798\
            483ada7726a3c4655da4fbfc0e1108a8fd17b448a68554199c47d08ffb10d4b8",
        ),
        n: &hex::<32>("fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141"),
    },
];

/// The parts of a `SpecifiedECDomain` that are compared (the seed is not).
struct Specified<'a> {
    prime: &'a [u8],
    a: &'a [u8],
    b: &'a [u8],
    base: &'a [u8],
    order: &'a [u8],
    cofactor: Option<&'a [u8]>,
}

/// The supported curve that explicit parameters (the contents of the `SpecifiedECDomain`
/// SEQUENCE) describe; `key.unsupported_curve` naming the first field that differs, or what is
/// malformed, otherwise.
pub(crate) fn explicit_curve(params: &AnyRef<'_>) -> Result<EcCurve> {
    let specified = parse(params.value()).map_err(|detail| no_match(&detail))?;
    let prime = strip(specified.prime);
    let domain = DOMAINS
        .iter()
        .find(|d| strip(d.p) == prime)
        .ok_or_else(|| no_match("its field prime is no supported curve's"))?;
    let name = domain.curve.name();
    let differs = |field: &str| no_match(&format!("its {field} differs from {name}'s"));
    if strip(specified.a) != strip(domain.a) {
        return Err(differs("coefficient a"));
    }
    if strip(specified.b) != strip(domain.b) {
        return Err(differs("coefficient b"));
    }
    if !same_point(specified.base, domain.g) {
        return Err(differs("generator"));
    }
    if strip(specified.order) != strip(domain.n) {
        return Err(differs("order"));
    }
    if let Some(cofactor) = specified.cofactor
        && strip(cofactor) != [1]
    {
        return Err(differs("cofactor"));
    }
    Ok(domain.curve)
}

fn no_match(reason: &str) -> Error {
    Error::UnsupportedCurve {
        curve: format!("given by explicit parameters that match no supported curve ({reason})"),
    }
}

/// Reads `SpecifiedECDomain`'s fields:
/// `SEQUENCE { version INTEGER (1), fieldID SEQUENCE { fieldType OID, parameters ANY },
///   curve SEQUENCE { a OCTET STRING, b OCTET STRING, seed BIT STRING OPTIONAL },
///   base OCTET STRING, order INTEGER, cofactor INTEGER OPTIONAL }`.
fn parse(contents: &[u8]) -> std::result::Result<Specified<'_>, String> {
    let malformed = |e: der::Error| format!("the parameters are malformed: {e}");
    let mut reader = SliceReader::new(contents).map_err(malformed)?;
    let version = UintRef::decode(&mut reader).map_err(malformed)?;
    if version.as_bytes() != [1] {
        return Err(format!(
            "the parameters have version {}, not 1",
            version
                .as_bytes()
                .iter()
                .fold(String::new(), |s, b| s + &format!("{b:02x}"))
        ));
    }
    let (field_type, prime) = reader
        .sequence(|field| {
            let field_type = ObjectIdentifier::decode(field)?;
            let parameters = AnyRef::decode(field)?;
            Ok::<_, der::Error>((field_type, parameters))
        })
        .map_err(malformed)?;
    if field_type == CHARACTERISTIC_TWO_FIELD {
        return Err("its field is a binary field; supported curves have prime fields".to_owned());
    }
    if field_type != PRIME_FIELD {
        return Err(format!("its field type {field_type} is not a prime field"));
    }
    let prime = UintRef::try_from(prime).map_err(malformed)?.as_bytes();
    let (a, b) = reader
        .sequence(|curve| {
            let a = <&OctetStringRef>::decode(curve)?.as_bytes();
            let b = <&OctetStringRef>::decode(curve)?.as_bytes();
            if !curve.is_finished() {
                der::asn1::BitStringRef::decode(curve)?;
            }
            Ok::<_, der::Error>((a, b))
        })
        .map_err(malformed)?;
    let base = <&OctetStringRef>::decode(&mut reader)
        .map_err(malformed)?
        .as_bytes();
    let order = UintRef::decode(&mut reader).map_err(malformed)?.as_bytes();
    let cofactor = if reader.is_finished() {
        None
    } else {
        Some(UintRef::decode(&mut reader).map_err(malformed)?.as_bytes())
    };
    reader.finish().map_err(malformed)?;
    Ok(Specified {
        prime,
        a,
        b,
        base,
        order,
        cofactor,
    })
}

/// Whether a SEC1-encoded point (uncompressed, or compressed with the parity of y in its
/// prefix) is the uncompressed point `expected`.
fn same_point(given: &[u8], expected: &[u8]) -> bool {
    let len = (expected.len() - 1) / 2;
    let (x, y) = expected[1..].split_at(len);
    match given {
        [0x04, rest @ ..] => rest.len() == 2 * len && rest[..len] == *x && rest[len..] == *y,
        [prefix @ (0x02 | 0x03), rest @ ..] => {
            let odd = y.last().is_some_and(|last| last & 1 == 1);
            rest == x && (*prefix == 0x03) == odd
        }
        _ => false,
    }
}

/// A big-endian number without its leading zero bytes.
fn strip(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

/// Big-endian hex as `N` bytes, at compile time: a bad digit or
/// length in the constants above stops the build.
const fn hex<const N: usize>(text: &str) -> [u8; N] {
    const fn digit(c: u8) -> u8 {
        match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            _ => panic!("not a lowercase hex digit"),
        }
    }
    let bytes = text.as_bytes();
    assert!(bytes.len() == 2 * N, "the hex is not N bytes long");
    let mut out = [0u8; N];
    let mut i = 0;
    while i < N {
        out[i] = (digit(bytes[2 * i]) << 4) | digit(bytes[2 * i + 1]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The generator and order are the curve crates' own (the constants' hex is checked when
    /// they are built):
    /// 1·G is the generator, (n−1)·G is −G (same x, y = p − Gy).
    #[test]
    fn the_constants_are_the_curve_crates_generator_and_order() {
        for d in &DOMAINS {
            let len = d.curve.field_len();
            let g = d.g;
            assert_eq!(g.len(), 1 + 2 * len, "{}", d.curve.name());
            let mut one = vec![0u8; len];
            one[len - 1] = 1;
            let key = crate::key::EcKey::from_private(d.curve, &one, None).unwrap();
            assert_eq!([&[4u8][..], key.x(), key.y()].concat(), g);

            let mut n_minus_1 = [&vec![0u8; len - d.n.len()][..], d.n].concat();
            *n_minus_1.last_mut().unwrap() -= 1;
            let minus_g = crate::key::EcKey::from_private(d.curve, &n_minus_1, None).unwrap();
            assert_eq!(minus_g.x(), &g[1..=len]);
            let p = [&vec![0u8; len - d.p.len()][..], d.p].concat();
            assert_eq!(sub(&p, &g[1 + len..]), minus_g.y(), "{}", d.curve.name());
        }
    }

    /// a − b for big-endian numbers of one length, a ≥ b.
    fn sub(a: &[u8], b: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; a.len()];
        let mut borrow = 0i16;
        for i in (0..a.len()).rev() {
            let mut v = i16::from(a[i]) - i16::from(b[i]) - borrow;
            borrow = i16::from(v < 0);
            if v < 0 {
                v += 256;
            }
            out[i] = v as u8;
        }
        out
    }

    #[test]
    fn a_compressed_generator_carries_the_parity_of_y() {
        let g = DOMAINS[0].g;
        let odd = g.last().unwrap() & 1 == 1;
        let x = &g[1..33];
        let right = [&[if odd { 3u8 } else { 2 }][..], x].concat();
        let wrong = [&[if odd { 2u8 } else { 3 }][..], x].concat();
        assert!(same_point(&right, g));
        assert!(!same_point(&wrong, g));
        assert!(!same_point(&[], g));
        assert!(!same_point(&g[..64], g));
    }
}
