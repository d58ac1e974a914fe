//! The one CBOR writer: shortest-form headers and definite lengths only (RFC 8949 §4.2.1
//! "preferred serialization" for everything it writes), so what it produces is what
//! [`crate::Decoder`] accepts.

use alloc::vec::Vec;
use zeroize::Zeroize;

/// Writes CBOR items one after another into a buffer that wipes every allocation it outgrows
/// and its contents on drop: messages and stored records can carry secrets, and no partial
/// copy may be left in freed heap. Take the bytes with [`Encoder::into_bytes`].
///
/// Containers are written as a header with their count, then their items: the caller writes
/// exactly that many (pairs for maps). Map keys are written in the order given; callers that
/// need canonical order write them in that order.
#[derive(Default)]
pub struct Encoder {
    buf: Vec<u8>,
}

const UINT: u8 = 0;
const NINT: u8 = 1;
const BYTES: u8 = 2;
const TEXT: u8 = 3;
const ARRAY: u8 = 4;
const MAP: u8 = 5;
const TAG: u8 = 6;
const SIMPLE: u8 = 7;

impl Encoder {
    pub fn new() -> Self {
        Self::default()
    }

    /// Starts with room for `capacity` bytes (no regrowth, hence no copy, below it).
    pub fn with_capacity(capacity: usize) -> Self {
        Encoder {
            buf: Vec::with_capacity(capacity),
        }
    }

    /// Bytes written so far.
    pub fn len(&self) -> usize {
        self.buf.len()
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The encoding, handed over without a copy (the caller now owns wiping it).
    pub fn into_bytes(mut self) -> Vec<u8> {
        core::mem::take(&mut self.buf)
    }

    fn put(&mut self, data: &[u8]) {
        let needed = self.buf.len().saturating_add(data.len());
        if needed > self.buf.capacity() {
            let mut grown =
                Vec::with_capacity(needed.max(self.buf.capacity().saturating_mul(2)).max(64));
            grown.extend_from_slice(&self.buf);
            self.buf.zeroize();
            self.buf = grown;
        }
        self.buf.extend_from_slice(data);
    }

    /// A header of major type `major` with argument `arg`, in its shortest form.
    fn header(&mut self, major: u8, arg: u64) {
        let mt = major << 5;
        let be = arg.to_be_bytes();
        // `be` holds 8 bytes; each arm writes its low-order tail.
        let (info, tail): (u8, &[u8]) = match arg {
            0..=23 => (u8::try_from(arg).unwrap_or(0), &[]),
            24..=0xff => (24, be.get(7..).unwrap_or(&[])),
            0x100..=0xffff => (25, be.get(6..).unwrap_or(&[])),
            0x1_0000..=0xffff_ffff => (26, be.get(4..).unwrap_or(&[])),
            _ => (27, &be),
        };
        self.put(&[mt | info]);
        self.put(tail);
    }

    /// A bare header: major type `major` (its low three bits) with argument `arg`, in its
    /// shortest form. For the cases the typed methods do not cover, e.g. the header of a byte
    /// string whose content is then written item by item ([`Encoder::bytes_header`]).
    pub fn head(&mut self, major: u8, arg: u64) -> &mut Self {
        self.header(major & 7, arg);
        self
    }

    /// The header of a byte string of `len` bytes; exactly `len` bytes must follow (through
    /// [`Encoder::raw`] or as encoded items: bstr-wrapped CBOR, as SUIT nests its structures).
    pub fn bytes_header(&mut self, len: usize) -> &mut Self {
        self.count(BYTES, len);
        self
    }

    fn count(&mut self, major: u8, len: usize) {
        self.header(major, u64::try_from(len).unwrap_or(u64::MAX));
    }

    /// An unsigned integer.
    pub fn uint(&mut self, n: u64) -> &mut Self {
        self.header(UINT, n);
        self
    }

    /// An integer of either sign.
    pub fn int(&mut self, n: i64) -> &mut Self {
        if n >= 0 {
            self.header(UINT, n.unsigned_abs());
        } else {
            // -1 - n, without overflow for i64::MIN.
            self.header(NINT, (n.unsigned_abs()).saturating_sub(1));
        }
        self
    }

    /// A byte string.
    pub fn bytes(&mut self, b: &[u8]) -> &mut Self {
        self.count(BYTES, b.len());
        self.put(b);
        self
    }

    /// A text string.
    pub fn text(&mut self, t: &str) -> &mut Self {
        self.count(TEXT, t.len());
        self.put(t.as_bytes());
        self
    }

    /// An array header; `len` items must follow.
    pub fn array(&mut self, len: usize) -> &mut Self {
        self.count(ARRAY, len);
        self
    }

    /// A map header; `len` key/value pairs must follow.
    pub fn map(&mut self, len: usize) -> &mut Self {
        self.count(MAP, len);
        self
    }

    /// A tag; the tagged item must follow.
    pub fn tag(&mut self, tag: u64) -> &mut Self {
        self.header(TAG, tag);
        self
    }

    pub fn bool(&mut self, b: bool) -> &mut Self {
        self.header(SIMPLE, if b { 21 } else { 20 });
        self
    }

    pub fn null(&mut self) -> &mut Self {
        self.header(SIMPLE, 22);
        self
    }

    /// An already encoded item (or several), copied as is. The caller vouches that it is
    /// well-formed.
    pub fn raw(&mut self, encoded: &[u8]) -> &mut Self {
        self.put(encoded);
        self
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        self.buf.zeroize();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{check_well_formed, Decoder, Item};
    use alloc::vec;

    fn one(f: impl FnOnce(&mut Encoder) -> &mut Encoder) -> Vec<u8> {
        let mut e = Encoder::new();
        f(&mut e);
        e.into_bytes()
    }

    #[test]
    fn headers_take_their_shortest_form() {
        // RFC 8949 Appendix A examples.
        assert_eq!(one(|e| e.uint(0)), [0x00]);
        assert_eq!(one(|e| e.uint(23)), [0x17]);
        assert_eq!(one(|e| e.uint(24)), [0x18, 0x18]);
        assert_eq!(one(|e| e.uint(1000)), [0x19, 0x03, 0xe8]);
        assert_eq!(one(|e| e.uint(1_000_000)), [0x1a, 0x00, 0x0f, 0x42, 0x40]);
        assert_eq!(
            one(|e| e.uint(u64::MAX)),
            [0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(one(|e| e.int(-1)), [0x20]);
        assert_eq!(one(|e| e.int(-1000)), [0x39, 0x03, 0xe7]);
        assert_eq!(
            one(|e| e.int(i64::MIN)),
            [0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
        assert_eq!(one(|e| e.bytes(&[1, 2, 3, 4])), [0x44, 1, 2, 3, 4]);
        assert_eq!(one(|e| e.text("IETF")), [0x64, b'I', b'E', b'T', b'F']);
        assert_eq!(one(|e| e.bool(false).bool(true).null()), [0xf4, 0xf5, 0xf6]);
        assert_eq!(one(|e| e.tag(1).uint(1)), [0xc1, 0x01]);
    }

    #[test]
    fn what_it_writes_the_strict_decoder_reads_back() {
        let long = vec![0xa5u8; 300];
        let bytes = one(|e| {
            e.map(3).text("a").int(-29).text("b").bytes(&long);
            e.text("c").array(2).null().bool(true)
        });
        check_well_formed(&bytes).unwrap();
        let mut d = Decoder::new(&bytes);
        assert_eq!(d.map().unwrap(), 3);
        assert_eq!(d.text().unwrap(), "a");
        assert_eq!(d.int().unwrap(), -29);
        assert_eq!(d.text().unwrap(), "b");
        assert_eq!(d.bytes().unwrap(), long.as_slice());
        assert_eq!(d.text().unwrap(), "c");
        assert_eq!(d.item().unwrap(), Item::Array(2));
        assert_eq!(d.item().unwrap(), Item::Null);
        assert!(d.bool().unwrap());
        d.finish().unwrap();
    }
}
