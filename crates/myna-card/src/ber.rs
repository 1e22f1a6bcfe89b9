//! The small part of BER-TLV the card's EFs use: one- or two-byte tags, definite lengths up to 3 bytes.
//!
//! Input comes from the card, so nothing here panics or allocates based on an untrusted length.

use crate::CardError;

/// A parsed TLV header: tag bytes as a number (`0xDF27`), and where the value lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TlvHeader {
    pub tag: u32,
    pub header_len: usize,
    pub value_len: usize,
}

impl TlvHeader {
    pub fn total_len(&self) -> usize {
        self.header_len + self.value_len
    }
}

const BAD: CardError =
    CardError::MalformedResponse("a data object on the card has a broken TLV header");

/// Parses the header at the start of `buf` (which may be shorter than the value).
pub fn parse_header(buf: &[u8]) -> Result<TlvHeader, CardError> {
    let first = *buf.first().ok_or(BAD)?;
    let mut pos = 1;
    let mut tag = u32::from(first);
    if first & 0x1F == 0x1F {
        // multi-byte tag number: continuation bytes have bit 8 set; allow at most 3 tag bytes
        loop {
            let b = *buf.get(pos).ok_or(BAD)?;
            tag = (tag << 8) | u32::from(b);
            pos += 1;
            if b & 0x80 == 0 {
                break;
            }
            if pos >= 3 {
                return Err(BAD);
            }
        }
    }
    let l0 = *buf.get(pos).ok_or(BAD)?;
    pos += 1;
    let value_len = if l0 < 0x80 {
        usize::from(l0)
    } else {
        let n = usize::from(l0 & 0x7F);
        if n == 0 || n > 3 {
            return Err(BAD);
        }
        let mut len = 0usize;
        for _ in 0..n {
            len = (len << 8) | usize::from(*buf.get(pos).ok_or(BAD)?);
            pos += 1;
        }
        len
    };
    Ok(TlvHeader {
        tag,
        header_len: pos,
        value_len,
    })
}

/// Iterates over the TLVs laid end to end in `buf`, yielding `(tag, value)`. Stops at trailing padding
/// (`00` or `FF` bytes, which the card uses to fill a fixed-size EF).
pub fn children(buf: &[u8]) -> impl Iterator<Item = Result<(u32, &[u8]), CardError>> {
    let mut rest = buf;
    std::iter::from_fn(move || {
        if rest.is_empty() || rest.iter().all(|b| *b == 0x00 || *b == 0xFF) {
            return None;
        }
        let item = parse_header(rest).and_then(|h| {
            let end = h.header_len.checked_add(h.value_len).ok_or(BAD)?;
            let value = rest.get(h.header_len..end).ok_or(BAD)?;
            Ok((h.tag, value, end))
        });
        match item {
            Ok((tag, value, end)) => {
                rest = &rest[end..];
                Some(Ok((tag, value)))
            }
            Err(e) => {
                rest = &[];
                Some(Err(e))
            }
        }
    })
}

/// The value of the first TLV in `buf` whose tag is `tag`, checking that it is complete.
pub fn find(buf: &[u8], tag: u32) -> Result<Option<&[u8]>, CardError> {
    for item in children(buf) {
        let (t, v) = item?;
        if t == tag {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// Encodes a TLV (used by the virtual card and tests).
pub fn encode(tag: u32, value: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(value.len() + 6);
    if tag > 0xFFFF {
        out.extend_from_slice(&tag.to_be_bytes()[1..]);
    } else if tag > 0xFF {
        out.extend_from_slice(&(tag as u16).to_be_bytes());
    } else {
        out.push(tag as u8);
    }
    let n = value.len();
    if n < 0x80 {
        out.push(n as u8);
    } else if n <= 0xFF {
        out.extend_from_slice(&[0x81, n as u8]);
    } else if n <= 0xFFFF {
        out.push(0x82);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(0x83);
        out.extend_from_slice(&(n as u32).to_be_bytes()[1..]);
    }
    out.extend_from_slice(value);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn parses_certificate_and_private_tags() {
        let h = parse_header(&[0x30, 0x82, 0x04, 0x10, 0x30]).unwrap();
        assert_eq!((h.tag, h.header_len, h.value_len), (0x30, 4, 0x410));
        let h = parse_header(&[0xFF, 0x20, 0x81, 0x90]).unwrap();
        assert_eq!((h.tag, h.header_len, h.value_len), (0xFF20, 4, 0x90));
        let inner = [encode(0xDF21, b"a"), encode(0xDF27, &[9; 300])].concat();
        assert_eq!(find(&inner, 0xDF27).unwrap().unwrap().len(), 300);
        assert!(find(&inner, 0xDF22).unwrap().is_none());
        assert!(parse_header(&[0x30, 0x84, 1, 2, 3, 4]).is_err());
    }

    proptest! {
        #[test]
        fn never_panics(buf in proptest::collection::vec(any::<u8>(), 0..64)) {
            let _ = parse_header(&buf);
            for _ in children(&buf) {}
        }

        #[test]
        fn encode_parse_round_trip(tag in prop_oneof![Just(0x30u32), Just(0xDF27u32), Just(0xFF20u32)],
                                   value in proptest::collection::vec(any::<u8>(), 0..1000)) {
            let enc = encode(tag, &value);
            let h = parse_header(&enc).unwrap();
            prop_assert_eq!(h.tag, tag);
            prop_assert_eq!(h.total_len(), enc.len());
            prop_assert_eq!(find(&enc, tag).unwrap().unwrap(), &value[..]);
        }
    }
}
