//! BER to DER, for PKCS#12 files written in BER: BouncyCastle's "PKCS12" keystore type (and
//! so Java and Android code on the BC provider) uses indefinite lengths, and some writers
//! split OCTET STRINGs into constructed segments.
//!
//! Written here because the `der` crate reads DER only and no maintained BER reader shares
//! its generation. Only the encoding is rewritten: indefinite lengths become definite,
//! lengths become minimal, constructed OCTET STRINGs become primitive ones (their segments
//! joined); tags and primitive contents are copied byte for byte, and the contents of
//! primitive values (an OCTET STRING holding more DER, for instance) are not looked into.
//! One output buffer, each element's header patched in place once its contents are written;
//! nesting is capped at [`MAX_DEPTH`].

/// Deepest nesting read (PKCS#12 needs about twelve levels between OCTET STRING wrappers).
pub(crate) const MAX_DEPTH: usize = 32;

const EOC: [u8; 2] = [0, 0];
const OCTET_STRING: u8 = 0x04;
const CONSTRUCTED_OCTET_STRING: u8 = 0x24;

/// A TLV header: where the contents start and how long they are (None: indefinite).
struct Header {
    tag_len: usize,
    header_len: usize,
    length: Option<usize>,
    constructed: bool,
    /// The length is written in more bytes than it needs (allowed in BER, not in DER).
    non_minimal: bool,
}

fn header(input: &[u8]) -> Result<Header, String> {
    let first = *input.first().ok_or("a value is cut short")?;
    let constructed = first & 0x20 != 0;
    let mut tag_len = 1;
    if first & 0x1f == 0x1f {
        loop {
            let b = *input.get(tag_len).ok_or("a tag is cut short")?;
            tag_len += 1;
            if b & 0x80 == 0 {
                break;
            }
            if tag_len > 5 {
                return Err("a tag number is too large".to_owned());
            }
        }
    }
    let first_len = *input.get(tag_len).ok_or("a length is cut short")?;
    let (length, len_len, non_minimal) = match first_len {
        0x80 if constructed => (None, 1, false),
        0x80 => return Err("a primitive value has an indefinite length".to_owned()),
        b if b < 0x80 => (Some(usize::from(b)), 1, false),
        b => {
            let n = usize::from(b & 0x7f);
            if n > 4 {
                return Err("a length does not fit in 32 bits".to_owned());
            }
            let bytes = input
                .get(tag_len + 1..tag_len + 1 + n)
                .ok_or("a length is cut short")?;
            let value = bytes.iter().fold(0usize, |v, b| (v << 8) | usize::from(*b));
            let minimal = value >= 0x80 && bytes[0] != 0;
            (Some(value), 1 + n, !minimal)
        }
    };
    let header_len = tag_len + len_len;
    if let Some(length) = length
        && input.len() - header_len < length
    {
        return Err("a value is longer than what holds it".to_owned());
    }
    Ok(Header {
        tag_len,
        header_len,
        length,
        constructed,
        non_minimal,
    })
}

/// Is `input` (a sequence of TLVs) DER as far as lengths and OCTET STRINGs go? Nothing is
/// allocated; an input this module cannot read counts as DER (the DER reader then says why).
pub(crate) fn is_der(input: &[u8]) -> bool {
    fn walk(mut input: &[u8], depth: usize) -> bool {
        while !input.is_empty() {
            let Ok(h) = header(input) else {
                return true;
            };
            let Some(length) = h.length else {
                return false;
            };
            if h.non_minimal || input[0] == CONSTRUCTED_OCTET_STRING {
                return false;
            }
            let end = h.header_len + length;
            if h.constructed && depth < MAX_DEPTH && !walk(&input[h.header_len..end], depth + 1) {
                return false;
            }
            input = &input[end..];
        }
        true
    }
    walk(input, 0)
}

/// Re-encodes `input` (a sequence of TLVs) as DER.
pub(crate) fn to_der(input: &[u8]) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(input.len());
    let mut rest = input;
    while !rest.is_empty() {
        let used = element(rest, 0, &mut out)?;
        rest = &rest[used..];
    }
    Ok(out)
}

/// Writes one element in DER at the end of `out`; returns the input bytes it used.
fn element(input: &[u8], depth: usize, out: &mut Vec<u8>) -> Result<usize, String> {
    if depth > MAX_DEPTH {
        return Err(format!("values nested more than {MAX_DEPTH} deep"));
    }
    let h = header(input)?;
    if !h.constructed {
        let length = h.length.unwrap_or(0);
        out.extend_from_slice(&input[..h.tag_len]);
        write_length(out, length);
        out.extend_from_slice(&input[h.header_len..h.header_len + length]);
        return Ok(h.header_len + length);
    }
    // Room for the longest header; moved down once the contents' length is known.
    const ROOM: usize = 5 + 5;
    let start = out.len();
    out.resize(start + ROOM, 0);
    let contents = start + ROOM;
    let end = h.length.map(|l| h.header_len + l);
    let mut pos = h.header_len;
    loop {
        match end {
            Some(end) if pos == end => break,
            None if input[pos..].starts_with(&EOC) => {
                pos += EOC.len();
                break;
            }
            None if pos >= input.len() => return Err("an indefinite length has no end".to_owned()),
            _ => {}
        }
        let limit = end.unwrap_or(input.len());
        pos += element(&input[pos..limit], depth + 1, out)?;
    }
    let tag = &input[..h.tag_len];
    let mut body_len = out.len() - contents;
    let mut header = Vec::with_capacity(ROOM);
    if tag == [CONSTRUCTED_OCTET_STRING] {
        body_len = join_segments(out, contents)?;
        header.push(OCTET_STRING);
    } else {
        header.extend_from_slice(tag);
    }
    write_length(&mut header, body_len);
    let header_start = contents - header.len();
    out[header_start..contents].copy_from_slice(&header);
    out.copy_within(header_start..contents + body_len, start);
    out.truncate(start + header.len() + body_len);
    Ok(pos)
}

/// Replaces the DER OCTET STRING segments from `from` to the end of `out` by their joined
/// contents; returns the joined length.
fn join_segments(out: &mut Vec<u8>, from: usize) -> Result<usize, String> {
    let mut read = from;
    let mut write = from;
    while read < out.len() {
        if out[read] != OCTET_STRING {
            return Err("a constructed OCTET STRING holds something else".to_owned());
        }
        let h = header(&out[read..])?;
        let length = h.length.unwrap_or(0);
        out.copy_within(read + h.header_len..read + h.header_len + length, write);
        write += length;
        read += h.header_len + length;
    }
    out.truncate(write);
    Ok(write - from)
}

fn write_length(out: &mut Vec<u8>, length: usize) {
    if length < 0x80 {
        out.push(length as u8);
        return;
    }
    let bytes = (length as u64).to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    out.push(0x80 | (bytes.len() - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    #[test]
    fn indefinite_lengths_become_definite() {
        // SEQUENCE (indefinite) { INTEGER 3, SEQUENCE (indefinite) { NULL } }
        let ber = hex("30 80 02 01 03 30 80 05 00 00 00 00 00");
        assert!(!is_der(&ber));
        let der = to_der(&ber).unwrap();
        assert_eq!(der, hex("30 07 02 01 03 30 02 05 00"));
        assert!(is_der(&der));
    }

    #[test]
    fn octet_string_segments_are_joined() {
        // [0] (indefinite) { OCTET STRING (constructed, indefinite) { "ab", "c" } }
        let ber = hex("a0 80 24 80 04 02 61 62 04 01 63 00 00 00 00");
        assert_eq!(to_der(&ber).unwrap(), hex("a0 05 04 03 61 62 63"));
    }

    #[test]
    fn long_and_non_minimal_lengths_are_rewritten() {
        let content = vec![0x41u8; 300];
        let mut ber = hex("30 80 04 84 00 00 01 2c");
        ber.extend_from_slice(&content);
        ber.extend_from_slice(&EOC);
        assert!(!is_der(&ber));
        let mut der = hex("30 82 01 30 04 82 01 2c");
        der.extend_from_slice(&content);
        assert_eq!(to_der(&ber).unwrap(), der);
        // A short length written long is not DER either.
        assert!(!is_der(&hex("04 81 01 41")));
        assert_eq!(to_der(&hex("04 81 01 41")).unwrap(), hex("04 01 41"));
    }

    #[test]
    fn primitive_contents_and_multi_byte_tags_are_copied() {
        // An OCTET STRING whose bytes look like BER is left alone, like a high tag number.
        let ber = hex("30 80 04 04 30 80 00 00 9f 81 00 01 07 00 00");
        assert_eq!(
            to_der(&ber).unwrap(),
            hex("30 0b 04 04 30 80 00 00 9f 81 00 01 07")
        );
    }

    #[test]
    fn bad_input_is_an_error() {
        assert_eq!(
            to_der(&hex("30 80 02 01 03")).unwrap_err(),
            "an indefinite length has no end"
        );
        assert_eq!(
            to_der(&hex("04 80 00 00")).unwrap_err(),
            "a primitive value has an indefinite length"
        );
        assert_eq!(
            to_der(&hex("30 05 02 01")).unwrap_err(),
            "a value is longer than what holds it"
        );
        assert_eq!(
            to_der(&hex("24 80 02 01 03 00 00")).unwrap_err(),
            "a constructed OCTET STRING holds something else"
        );
        assert_eq!(
            to_der(&hex("04 85 01 00 00 00 00")).unwrap_err(),
            "a length does not fit in 32 bits"
        );
        let mut deep = Vec::new();
        for _ in 0..40 {
            deep.extend_from_slice(&[0x30, 0x80]);
        }
        for _ in 0..40 {
            deep.extend_from_slice(&EOC);
        }
        assert_eq!(
            to_der(&deep).unwrap_err(),
            "values nested more than 32 deep"
        );
    }
}
