//! Strict, bounded, zero-copy CBOR reading.
//!
//! Everything the engine decodes from a manifest goes through [`Decoder`]: it reads one data
//! item header at a time (the header format comes from `ciborium-ll`), borrows byte and text
//! strings from the input instead of copying them, and refuses what SUIT never needs and an
//! attacker would love: indefinite lengths, lengths beyond the input, nesting beyond a fixed
//! depth, duplicate map keys, invalid UTF-8 and trailing bytes. No input makes it panic.
//!
//! [`Decoder::skip`] and [`check_well_formed`] also refuse `undefined`, the unassigned simple
//! values and floating-point numbers: no SUIT or report structure this crate reads has them in
//! its CDDL, and `undefined` passed for `nil` would let two parsers disagree. Where a CDDL
//! says `any` (RFC 9052's `header_map` values, COSE_Key parameters), such an item is data the
//! reader skips and never interprets: [`Decoder::skip_any`] and [`check_well_formed_any`]
//! accept floats of any width (as integers outside map keys, floats are not checked for
//! preferred serialization), `undefined` and the unassigned simple values there, never inside
//! a map key. The typed readers still refuse them wherever their structure's CDDL has a type.
//!
//! [`SeenKeys`] additionally enforces the canonical key order the manifest draft requires for
//! every SUIT map (§"Encoding Considerations"): either of RFC 8949's, §4.2.1 bytewise or
//! §4.2.3 length-first, one per map.
//!
//! [`check_well_formed`] applies the same rules to a whole opaque item (suit-text, a CoSWID
//! tag), [`check_well_formed_any`] to a whole COSE structure before its reader (or `coset`)
//! sees it, so nothing reaches a more permissive parser unchecked.
//!
//! [`Encoder`] is the one writer: definite lengths, shortest-form headers, into a buffer that
//! wipes every allocation it outgrows (messages and records can carry secrets).
//!
//! A crate of its own so the wire protocol (`suit-protocol`) and the TA-side helper crate
//! (`suit-perso`) can read and write CBOR without the SUIT engine; `suit-common` re-exports it
//! as `suit_common::cbor`.
#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;

pub mod codec;
mod encode;
pub use codec::{Codec, Field};
pub use encode::Encoder;

use alloc::vec::Vec;
use ciborium_ll::{Decoder as LlDecoder, Header};
#[cfg(feature = "explain")]
use core::fmt;

/// Deepest nesting of arrays, maps and tags accepted anywhere.
pub const MAX_DEPTH: usize = 16;
/// Largest number of entries accepted in one array or map.
pub const MAX_CONTAINER_LEN: usize = 256;

/// What went wrong while reading CBOR, and at which byte offset of the buffer being read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CborError {
    /// The kind of failure.
    pub kind: CborErrorKind,
    /// Offset of the offending item in the buffer the decoder was created on.
    pub offset: usize,
}

/// The kinds of CBOR failure.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CborErrorKind {
    /// The input ended inside an item.
    Truncated,
    /// The bytes are not a well-formed CBOR header (reserved additional-information values, a
    /// two-byte simple value below 32, stray break).
    Malformed,
    /// An item of another major type was expected.
    UnexpectedType {
        /// What the caller wanted.
        expected: &'static str,
    },
    /// Indefinite-length strings, arrays and maps are not accepted.
    IndefiniteLength,
    /// Nesting beyond [`MAX_DEPTH`].
    TooDeep,
    /// A container beyond [`MAX_CONTAINER_LEN`] entries or a length beyond the input.
    TooLarge,
    /// The same key appears twice in one map.
    DuplicateKey,
    /// A text string is not UTF-8.
    InvalidUtf8,
    /// An integer does not fit the expected range.
    IntegerOverflow,
    /// Bytes remain after the single expected item.
    TrailingBytes,
    /// `undefined`, an unassigned simple value or a float, which no structure read here allows.
    UnexpectedSimple,
    /// Map keys in neither canonical order of RFC 8949 (§4.2.1 bytewise, §4.2.3
    /// length-first), as SUIT requires (see [`SeenKeys`]).
    NonCanonicalOrder,
    /// A map key (or an item nested in one) written with a longer head than its value needs
    /// (RFC 8949 §4.2.1 preferred serialization, which canonical maps presume): keys are then
    /// one encoding per value, so a repeated key is found by comparing bytes.
    NonPreferredKey,
    /// A tag other than the expected one.
    UnexpectedTag {
        /// The tag found.
        found: u64,
    },
    /// A required field of a [`Codec`] struct is absent.
    MissingField {
        /// The field's name.
        name: &'static str,
    },
    /// An enum variant name the reader does not know.
    UnknownVariant,
}

#[cfg(feature = "explain")]
impl fmt::Display for CborError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} at byte {}", self.kind, self.offset)
    }
}

#[cfg(feature = "explain")]
impl core::error::Error for CborError {}

/// On the wire as `[kind, offset]` (a refusal the host puts into words).
impl Field for CborError {
    fn put(&self, e: &mut Encoder) {
        e.array(2);
        self.kind.put(e);
        self.offset.put(e);
    }
    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        let at = d.position();
        if d.array()? != 2 {
            return Err(codec::unknown_variant(at));
        }
        Ok(CborError {
            kind: CborErrorKind::take(d)?,
            offset: usize::take(d)?,
        })
    }
}

/// A kind is its number; `UnexpectedTag` adds the tag. The names in `UnexpectedType` and
/// `MissingField` stay in the device (they are `'static` words of the decoder): read back,
/// they are "another type" and "a required field".
impl Field for CborErrorKind {
    fn put(&self, e: &mut Encoder) {
        use CborErrorKind as C;
        let code: u64 = match self {
            C::Truncated => 0,
            C::Malformed => 1,
            C::UnexpectedType { .. } => 2,
            C::IndefiniteLength => 3,
            C::TooDeep => 4,
            C::TooLarge => 5,
            C::DuplicateKey => 6,
            C::InvalidUtf8 => 7,
            C::IntegerOverflow => 8,
            C::TrailingBytes => 9,
            C::UnexpectedSimple => 10,
            C::NonCanonicalOrder => 11,
            C::UnexpectedTag { found } => {
                e.array(2).uint(12).uint(*found);
                return;
            }
            C::MissingField { .. } => 13,
            C::UnknownVariant => 14,
            C::NonPreferredKey => 15,
        };
        e.array(1).uint(code);
    }
    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        use CborErrorKind as C;
        let at = d.position();
        let len = d.array()?;
        let kind = match (len, d.uint()?) {
            (1, 0) => C::Truncated,
            (1, 1) => C::Malformed,
            (1, 2) => C::UnexpectedType {
                expected: "another type",
            },
            (1, 3) => C::IndefiniteLength,
            (1, 4) => C::TooDeep,
            (1, 5) => C::TooLarge,
            (1, 6) => C::DuplicateKey,
            (1, 7) => C::InvalidUtf8,
            (1, 8) => C::IntegerOverflow,
            (1, 9) => C::TrailingBytes,
            (1, 10) => C::UnexpectedSimple,
            (1, 11) => C::NonCanonicalOrder,
            (2, 12) => C::UnexpectedTag { found: d.uint()? },
            (1, 13) => C::MissingField {
                name: "a required field",
            },
            (1, 14) => C::UnknownVariant,
            (1, 15) => C::NonPreferredKey,
            _ => return Err(codec::unknown_variant(at)),
        };
        Ok(kind)
    }
}

/// The wording of each kind (the engine's `explain::cbor` defers to this).
#[cfg(feature = "explain")]
impl fmt::Display for CborErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use CborErrorKind as C;
        match self {
            C::Truncated => f.write_str("truncated input"),
            C::Malformed => f.write_str("not well-formed CBOR"),
            C::UnexpectedType { expected } => write!(f, "expected {expected}"),
            C::IndefiniteLength => f.write_str("indefinite length (not accepted)"),
            C::TooDeep => f.write_str("nested too deeply"),
            C::TooLarge => f.write_str("container or length too large"),
            C::DuplicateKey => f.write_str("duplicate map key"),
            C::InvalidUtf8 => f.write_str("text string is not UTF-8"),
            C::IntegerOverflow => f.write_str("integer out of range"),
            C::TrailingBytes => f.write_str("bytes after the item"),
            C::UnexpectedSimple => f.write_str("unexpected simple value or float"),
            C::NonCanonicalOrder => f.write_str("map keys not in canonical order"),
            C::UnexpectedTag { found } => write!(f, "unexpected tag {found}"),
            C::MissingField { name } => write!(f, "field `{name}` is missing"),
            C::UnknownVariant => f.write_str("unknown variant"),
            C::NonPreferredKey => f.write_str("map key in a longer form than needed"),
        }
    }
}

/// One decoded data item. Containers report their length; their contents follow.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Item<'a> {
    /// Major type 0.
    Uint(u64),
    /// Major type 1, holding `n` for the value `-1 - n`.
    Nint(u64),
    /// Major type 2, borrowed.
    Bytes(&'a [u8]),
    /// Major type 3, borrowed and UTF-8 checked.
    Text(&'a str),
    /// Major type 4 with its element count.
    Array(usize),
    /// Major type 5 with its pair count.
    Map(usize),
    /// Major type 6; the tagged item follows.
    Tag(u64),
    /// `true` / `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// `undefined` and other simple values.
    Simple(u8),
    /// Floating point (never meaningful in SUIT, but well-formed).
    Float(f64),
}

/// A cursor over one CBOR buffer.
#[derive(Clone)]
pub struct Decoder<'a> {
    input: &'a [u8],
    pos: usize,
    max_container: usize,
}

impl<'a> Decoder<'a> {
    /// Starts reading at the beginning of `input`.
    pub fn new(input: &'a [u8]) -> Self {
        Self::with_max_container(input, MAX_CONTAINER_LEN)
    }

    /// [`Decoder::new`] with another bound than [`MAX_CONTAINER_LEN`] on the entries of one
    /// array (the service's own stored records, bounded by their length instead); maps never
    /// exceed [`MAX_CONTAINER_LEN`].
    pub fn with_max_container(input: &'a [u8], max_container: usize) -> Self {
        Self {
            input,
            pos: 0,
            max_container,
        }
    }

    /// Current offset into the input.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// True when every byte has been consumed.
    pub fn is_empty(&self) -> bool {
        self.pos >= self.input.len()
    }

    /// An error of `kind` at the current position.
    pub fn err(&self, kind: CborErrorKind) -> CborError {
        CborError {
            kind,
            offset: self.pos,
        }
    }

    /// Fails unless the whole input has been consumed.
    pub fn finish(&self) -> Result<(), CborError> {
        if self.is_empty() {
            Ok(())
        } else {
            Err(self.err(CborErrorKind::TrailingBytes))
        }
    }

    fn rest(&self) -> &'a [u8] {
        self.input.get(self.pos..).unwrap_or(&[])
    }

    fn take(&mut self, len: usize) -> Result<&'a [u8], CborError> {
        let end = self
            .pos
            .checked_add(len)
            .ok_or(self.err(CborErrorKind::TooLarge))?;
        let slice = self
            .input
            .get(self.pos..end)
            .ok_or(self.err(CborErrorKind::Truncated))?;
        self.pos = end;
        Ok(slice)
    }

    fn header(&mut self) -> Result<Header, CborError> {
        let mut rest = self.rest();
        if rest.is_empty() {
            return Err(self.err(CborErrorKind::Truncated));
        }
        let mut dec = LlDecoder::from(&mut rest);
        let header = dec.pull().map_err(|e| match e {
            ciborium_ll::Error::Io(_) => self.err(CborErrorKind::Truncated),
            ciborium_ll::Error::Syntax(_) => self.err(CborErrorKind::Malformed),
        })?;
        let used = dec.offset();
        self.pos = self.pos.saturating_add(used);
        Ok(header)
    }

    /// Reads the next item header (and the payload of a string).
    pub fn item(&mut self) -> Result<Item<'a>, CborError> {
        let start = self.pos;
        let at = |kind| CborError {
            kind,
            offset: start,
        };
        let header = self.header()?;
        let item = match header {
            Header::Positive(n) => Item::Uint(n),
            Header::Negative(n) => Item::Nint(n),
            Header::Bytes(Some(len)) => Item::Bytes(self.take(len)?),
            Header::Text(Some(len)) => {
                let raw = self.take(len)?;
                Item::Text(core::str::from_utf8(raw).map_err(|_| at(CborErrorKind::InvalidUtf8))?)
            }
            Header::Array(Some(len)) => {
                if len > self.max_container {
                    return Err(at(CborErrorKind::TooLarge));
                }
                Item::Array(len)
            }
            Header::Map(Some(len)) => {
                // Maps keep the default bound whatever `max_container` says: the duplicate-key
                // check is quadratic in a map's entries, and no record has a large map.
                if len > self.max_container.min(MAX_CONTAINER_LEN) {
                    return Err(at(CborErrorKind::TooLarge));
                }
                Item::Map(len)
            }
            Header::Bytes(None) | Header::Text(None) | Header::Array(None) | Header::Map(None) => {
                return Err(at(CborErrorKind::IndefiniteLength))
            }
            Header::Tag(t) => Item::Tag(t),
            // RFC 8949 §3.3: a simple value below 32 in the two-byte form (0xf8 nn) is not
            // well-formed.
            Header::Simple(s) if s < 32 && self.input.get(start) == Some(&0xf8) => {
                return Err(at(CborErrorKind::Malformed))
            }
            Header::Simple(20) => Item::Bool(false),
            Header::Simple(21) => Item::Bool(true),
            Header::Simple(22) => Item::Null,
            Header::Simple(s) => Item::Simple(s),
            Header::Float(f) => Item::Float(f),
            Header::Break => return Err(at(CborErrorKind::Malformed)),
        };
        Ok(item)
    }

    /// Looks at the next item without consuming it.
    pub fn peek(&self) -> Result<Item<'a>, CborError> {
        self.clone().item()
    }

    fn expect<T>(
        &mut self,
        expected: &'static str,
        f: impl FnOnce(Item<'a>) -> Option<T>,
    ) -> Result<T, CborError> {
        let start = self.pos;
        let item = self.item()?;
        f(item).ok_or(CborError {
            kind: CborErrorKind::UnexpectedType { expected },
            offset: start,
        })
    }

    /// Reads an unsigned integer.
    pub fn uint(&mut self) -> Result<u64, CborError> {
        self.expect("unsigned integer", |i| match i {
            Item::Uint(n) => Some(n),
            _ => None,
        })
    }

    /// Reads an integer of either sign that fits an `i64`.
    pub fn int(&mut self) -> Result<i64, CborError> {
        let start = self.pos;
        let overflow = CborError {
            kind: CborErrorKind::IntegerOverflow,
            offset: start,
        };
        match self.item()? {
            Item::Uint(n) => i64::try_from(n).map_err(|_| overflow),
            Item::Nint(n) => i64::try_from(n).map(|n| -1 - n).map_err(|_| overflow),
            _ => Err(CborError {
                kind: CborErrorKind::UnexpectedType {
                    expected: "integer",
                },
                offset: start,
            }),
        }
    }

    /// Reads a byte string.
    pub fn bytes(&mut self) -> Result<&'a [u8], CborError> {
        self.expect("byte string", |i| match i {
            Item::Bytes(b) => Some(b),
            _ => None,
        })
    }

    /// Reads a byte string and returns both its content and its full encoding (header included),
    /// which is what SUIT digests are computed over.
    pub fn bytes_with_encoding(&mut self) -> Result<(&'a [u8], &'a [u8]), CborError> {
        let start = self.pos;
        let content = self.bytes()?;
        let encoded = self.input.get(start..self.pos).unwrap_or(&[]);
        Ok((content, encoded))
    }

    /// Reads a text string.
    pub fn text(&mut self) -> Result<&'a str, CborError> {
        self.expect("text string", |i| match i {
            Item::Text(t) => Some(t),
            _ => None,
        })
    }

    /// Reads a boolean.
    pub fn bool(&mut self) -> Result<bool, CborError> {
        self.expect("boolean", |i| match i {
            Item::Bool(b) => Some(b),
            _ => None,
        })
    }

    /// Reads an array header and returns its length.
    pub fn array(&mut self) -> Result<usize, CborError> {
        self.expect("array", |i| match i {
            Item::Array(n) => Some(n),
            _ => None,
        })
    }

    /// Reads a map header and returns its number of pairs.
    pub fn map(&mut self) -> Result<usize, CborError> {
        self.expect("map", |i| match i {
            Item::Map(n) => Some(n),
            _ => None,
        })
    }

    /// Reads a tag number.
    pub fn tag(&mut self) -> Result<u64, CborError> {
        self.expect("tag", |i| match i {
            Item::Tag(t) => Some(t),
            _ => None,
        })
    }

    /// Consumes `tag` if it is the next item; errors on any other tag.
    /// Returns whether the tag was present.
    pub fn optional_tag(&mut self, tag: u64) -> Result<bool, CborError> {
        match self.peek()? {
            Item::Tag(t) if t == tag => {
                self.item()?;
                Ok(true)
            }
            Item::Tag(found) => Err(self.err(CborErrorKind::UnexpectedTag { found })),
            _ => Ok(false),
        }
    }

    /// Consumes `null` if it is the next item.
    pub fn null(&mut self) -> Result<bool, CborError> {
        if matches!(self.peek()?, Item::Null) {
            self.item()?;
            Ok(true)
        } else {
            Ok(false)
        }
    }

    /// Skips one complete item (with everything nested in it) and returns its encoding.
    /// Applies the same rules as [`check_well_formed`].
    pub fn skip(&mut self) -> Result<&'a [u8], CborError> {
        self.skip_with(Floats::Refused)
    }

    /// [`skip`](Self::skip) of an item its CDDL types `any` (a COSE header value or COSE_Key
    /// parameter the reader does not process): floats and simple values are accepted, outside
    /// map keys.
    pub fn skip_any(&mut self) -> Result<&'a [u8], CborError> {
        self.skip_with(Floats::Allowed)
    }

    fn skip_with(&mut self, floats: Floats) -> Result<&'a [u8], CborError> {
        let start = self.pos;
        self.skip_at_depth(0, floats)?;
        Ok(self.input.get(start..self.pos).unwrap_or(&[]))
    }

    fn skip_at_depth(&mut self, depth: usize, floats: Floats) -> Result<(), CborError> {
        if depth > MAX_DEPTH {
            return Err(self.err(CborErrorKind::TooDeep));
        }
        let start = self.pos;
        match self.item()? {
            Item::Array(n) => {
                for _ in 0..n {
                    self.skip_at_depth(depth + 1, floats)?;
                }
            }
            Item::Map(n) => {
                // Sorted, so a key is checked in log n comparisons: a linear search made a
                // 512 KiB envelope of 256-key maps cost ~32,000 comparisons per map.
                let mut keys: Vec<&'a [u8]> = Vec::new();
                for _ in 0..n {
                    let key_start = self.pos;
                    // Never a float in a key: one value has a half, single and double
                    // encoding, which the byte comparison below would take for three keys
                    // (and no COSE label is a float or simple value).
                    self.skip_at_depth(depth + 1, Floats::Refused)?;
                    let key = self.input.get(key_start..self.pos).unwrap_or(&[]);
                    if !preferred(key) {
                        return Err(CborError {
                            kind: CborErrorKind::NonPreferredKey,
                            offset: key_start,
                        });
                    }
                    match keys.binary_search(&key) {
                        Ok(_) => {
                            return Err(CborError {
                                kind: CborErrorKind::DuplicateKey,
                                offset: key_start,
                            })
                        }
                        Err(at) => keys.insert(at, key),
                    }
                    self.skip_at_depth(depth + 1, floats)?;
                }
            }
            Item::Tag(_) => self.skip_at_depth(depth + 1, floats)?,
            Item::Float(_) | Item::Simple(_) if floats == Floats::Allowed => {}
            Item::Simple(_) | Item::Float(_) => {
                return Err(CborError {
                    kind: CborErrorKind::UnexpectedSimple,
                    offset: start,
                })
            }
            _ => {}
        }
        Ok(())
    }

    /// Reads a byte string that must contain exactly one well-formed CBOR item, and returns a
    /// decoder over that content (the "bstr .cbor" pattern used throughout SUIT).
    pub fn wrapped(&mut self) -> Result<Decoder<'a>, CborError> {
        let start = self.pos;
        let inner = self.bytes()?;
        check_well_formed(inner).map_err(|e| CborError {
            kind: e.kind,
            offset: start.saturating_add(e.offset),
        })?;
        Ok(Decoder::new(inner))
    }
}

/// Whether a skipped item may hold floats and simple values: only where its CDDL says `any`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Floats {
    Refused,
    Allowed,
}

/// Whether every head of `key` (one whole well-formed item) is as short as its argument
/// allows. Then two keys are the same value exactly when their bytes are equal (RFC 8949
/// §5.6: a map with duplicate keys is invalid), checked at memory-compare speed before
/// authentication; a value comparison item by item cost ~280x that on hostile maps of 256
/// long keys sharing prefixes. One pass over the key.
fn preferred(mut key: &[u8]) -> bool {
    while !key.is_empty() {
        let (major, arg, len) = item_head(key);
        let shortest = match arg {
            0..=23 => 1,
            24..=0xff => 2,
            0x100..=0xffff => 3,
            0x1_0000..=0xffff_ffff => 5,
            _ => 9,
        };
        // Major 7 in a well-formed key is only false, true or null (one byte).
        if major != 7 && len != shortest {
            return false;
        }
        let content = match major {
            2 | 3 => usize::try_from(arg).unwrap_or(usize::MAX),
            _ => 0,
        };
        key = len
            .checked_add(content)
            .and_then(|end| key.get(end..))
            .unwrap_or(&[]);
    }
    true
}

/// Major type, argument and head length of the well-formed item `b` starts with.
fn item_head(b: &[u8]) -> (u8, u64, usize) {
    let first = b.first().copied().unwrap_or(0);
    let len = match first & 0x1f {
        24 => 2,
        25 => 3,
        26 => 5,
        27 => 9,
        _ => 1,
    };
    let arg = match b.get(1..len) {
        Some(n) if len > 1 => n.iter().fold(0, |v, x| v << 8 | u64::from(*x)),
        _ => u64::from(first & 0x1f),
    };
    (first >> 5, arg, len)
}

/// Checks that `bytes` is exactly one well-formed CBOR item under this module's rules
/// (definite lengths, bounded depth and sizes, no duplicate map keys, UTF-8 text, no trailing
/// bytes).
pub fn check_well_formed(bytes: &[u8]) -> Result<(), CborError> {
    check_well_formed_with(bytes, MAX_CONTAINER_LEN)
}

/// [`check_well_formed`] with at most `max_container` entries per array or map.
pub fn check_well_formed_with(bytes: &[u8], max_container: usize) -> Result<(), CborError> {
    check(bytes, max_container, Floats::Refused)
}

fn check(bytes: &[u8], max_container: usize, floats: Floats) -> Result<(), CborError> {
    let mut dec = Decoder::with_max_container(bytes, max_container);
    dec.skip_with(floats)?;
    dec.finish()
}

/// [`check_well_formed`] of a COSE structure (see [`check_well_formed_any_within`]).
pub fn check_well_formed_any(bytes: &[u8]) -> Result<(), CborError> {
    check(bytes, MAX_CONTAINER_LEN, Floats::Allowed)
}

/// [`check_well_formed`], and at most `max_items` data items in all (nested ones and tags
/// included). For input handed to a parser that builds a tree of values (`coset`/`ciborium`)
/// before it is authenticated: what such a parser allocates then stays proportional to
/// `max_items` and the input's length, not to the structure an attacker chose.
pub fn check_well_formed_within(bytes: &[u8], max_items: usize) -> Result<(), CborError> {
    within(bytes, max_items, Floats::Refused)
}

/// [`check_well_formed_within`] of a COSE structure, whose items its reader does not type are
/// `any` in RFC 9052's CDDL (header values, COSE_Key parameters): floats are accepted outside
/// map keys, as [`Decoder::skip_any`] does; the reader refuses one wherever it expects a type.
pub fn check_well_formed_any_within(bytes: &[u8], max_items: usize) -> Result<(), CborError> {
    within(bytes, max_items, Floats::Allowed)
}

fn within(bytes: &[u8], max_items: usize, floats: Floats) -> Result<(), CborError> {
    check(bytes, MAX_CONTAINER_LEN, floats)?;
    let mut dec = Decoder::new(bytes);
    let mut left = max_items;
    count_items(&mut dec, &mut left)
}

fn count_items(dec: &mut Decoder<'_>, left: &mut usize) -> Result<(), CborError> {
    // Recursion is bounded: check_well_formed already refused nesting beyond MAX_DEPTH.
    *left = left
        .checked_sub(1)
        .ok_or(dec.err(CborErrorKind::TooLarge))?;
    match dec.item()? {
        Item::Array(n) => {
            for _ in 0..n {
                count_items(dec, left)?;
            }
        }
        Item::Map(n) => {
            for _ in 0..n.saturating_mul(2) {
                count_items(dec, left)?;
            }
        }
        Item::Tag(_) => count_items(dec, left)?,
        _ => {}
    }
    Ok(())
}

/// Tracks the keys of one SUIT map: a repeated key would let two readers of the same manifest
/// disagree, and the manifest draft requires "the canonical CBOR ordering as defined in
/// RFC8949", so each key must sort after the previous one.
///
/// RFC 8949 names two canonical orders, and both are accepted, one per map: the keys of a map
/// must strictly increase under §4.2.1 (bytewise lexicographic order of the encoded keys, the
/// deterministic encoding: unsigned integers ascending, then negative integers by magnitude)
/// *or* under §4.2.3 (RFC 7049's canonical order, "length-first": shorter encoded keys first,
/// then bytewise), which is what the reference generator (suit-tool, cbor2 `canonical=True`)
/// emits. The two differ once a map mixes a negative key or a key of 24 and more (two-byte
/// encoding) with small unsigned keys: `{21, -1, 24}` is length-first, `{21, 24, -1}`
/// bytewise. A map whose keys switch from one order to the other part way is in neither and
/// refused. This project's encoders write the §4.2.1 form.
///
/// Keys are ranked by value, as their shortest encoding would sort. The check keeps two flags
/// and the previous key; only the duplicate check remembers every key, as before.
#[derive(Default)]
pub struct SeenKeys {
    keys: Vec<i64>,
    last: Option<i64>,
    /// The keys so far are not in §4.2.1 bytewise order.
    not_bytewise: bool,
    /// The keys so far are not in §4.2.3 length-first order.
    not_length_first: bool,
    /// A text key was seen: integer keys may no longer follow.
    text: bool,
}

/// Major type (0 unsigned, 1 negative) and argument of an integer key's encoding.
fn head(key: i64) -> (u8, u64) {
    if key >= 0 {
        (0, key.unsigned_abs())
    } else {
        (1, (-1 - key).unsigned_abs())
    }
}

/// Length of the shortest encoding of an integer key (head only).
fn encoded_len(key: i64) -> u8 {
    match head(key).1 {
        0..=23 => 1,
        24..=0xff => 2,
        0x100..=0xffff => 3,
        0x1_0000..=0xffff_ffff => 5,
        _ => 9,
    }
}

/// RFC 8949 §4.2.1 (deterministic encoding): the bytewise order of integer keys' shortest
/// encodings is that of (major type, argument), so `-70003` sorts before `-70006`. An encoder
/// that sorts its map entries by this key writes them in deterministic order whatever the
/// labels' values, instead of relying on the order its code lists them in.
pub fn bytewise_rank(key: i64) -> (u8, u64) {
    head(key)
}

/// Sorts map entries into RFC 8949 §4.2.1 order by their integer keys ([`bytewise_rank`]),
/// keeping equal keys in place (so a caller can then refuse duplicates). Insertion sort: the
/// maps written this way hold a few dozen entries, and the standard library's sorts would add
/// ~9 KB of code to the TA.
pub fn sort_deterministic<T>(items: &mut [T], key: impl Fn(&T) -> i64) {
    for i in 1..items.len() {
        let mut j = i;
        while let (Some(a), Some(b)) = (j.checked_sub(1).and_then(|p| items.get(p)), items.get(j)) {
            if bytewise_rank(key(a)) <= bytewise_rank(key(b)) {
                break;
            }
            items.swap(j - 1, j);
            j -= 1;
        }
    }
}

/// RFC 8949 §4.2.3: the shorter encoding first, then bytewise.
fn length_first_rank(key: i64) -> (u8, u8, u64) {
    let (major, arg) = head(key);
    (encoded_len(key), major, arg)
}

impl SeenKeys {
    /// Records `key`; fails if it was seen before or if the keys so far are in neither
    /// canonical order (see the type's documentation).
    pub fn insert(&mut self, key: i64, offset: usize) -> Result<(), CborError> {
        if self.keys.contains(&key) {
            return Err(CborError {
                kind: CborErrorKind::DuplicateKey,
                offset,
            });
        }
        if let Some(prev) = self.last {
            self.not_bytewise |= bytewise_rank(prev) >= bytewise_rank(key);
            self.not_length_first |= length_first_rank(prev) >= length_first_rank(key);
        }
        if self.text || (self.not_bytewise && self.not_length_first) {
            return Err(CborError {
                kind: CborErrorKind::NonCanonicalOrder,
                offset,
            });
        }
        self.last = Some(key);
        self.keys.push(key);
        Ok(())
    }

    /// Records that a text key was read: it must come after every integer key (order among
    /// text keys is checked by the caller, which holds their encodings; both canonical orders
    /// agree there). Exact for the one SUIT map with text keys, the envelope, whose integer
    /// keys are all below 24: a one-byte integer key sorts before every text key in both
    /// orders.
    pub fn text_key(&mut self) {
        self.text = true;
    }
}

/// [`SeenKeys`] for maps whose keys are not all integers (suit-text's language tags, its
/// integer and component-identifier keys): each key's encoding as read, compared whole. Both
/// canonical orders of RFC 8949 (§4.2.1 bytewise, §4.2.3 length-first) are accepted, not a
/// switch between them part way; an equal encoding is a duplicate.
#[derive(Default)]
pub struct SeenEncodedKeys<'a> {
    keys: Vec<&'a [u8]>,
    not_bytewise: bool,
    not_length_first: bool,
}

impl<'a> SeenEncodedKeys<'a> {
    /// Records the key encoded as `key` (read at `offset`).
    pub fn insert(&mut self, key: &'a [u8], offset: usize) -> Result<(), CborError> {
        if self.keys.contains(&key) {
            return Err(CborError {
                kind: CborErrorKind::DuplicateKey,
                offset,
            });
        }
        if let Some(prev) = self.keys.last() {
            self.not_bytewise |= *prev >= key;
            self.not_length_first |= (prev.len(), *prev) >= (key.len(), key);
        }
        if self.not_bytewise && self.not_length_first {
            return Err(CborError {
                kind: CborErrorKind::NonCanonicalOrder,
                offset,
            });
        }
        self.keys.push(key);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encoded_keys_in_either_canonical_order_only() {
        // 0x18 0x18 (24) and 0x81 0x41 0x61 (["a"]): bytewise, and length-first too.
        let (int24, id) = ([0x18u8, 0x18], [0x81u8, 0x41, 0x61]);
        let mut seen = SeenEncodedKeys::default();
        seen.insert(&int24, 0).unwrap();
        seen.insert(&id, 2).unwrap();
        // 24 then -1 (0x20): bytewise only; -1 then 24: length-first only.
        let minus1 = [0x20u8];
        let mut seen = SeenEncodedKeys::default();
        seen.insert(&int24, 0).unwrap();
        seen.insert(&minus1, 2).unwrap();
        let mut seen = SeenEncodedKeys::default();
        seen.insert(&minus1, 0).unwrap();
        seen.insert(&int24, 1).unwrap();
        // A switch between the two part way is in neither.
        assert_eq!(
            seen.insert(&minus1, 3).unwrap_err().kind,
            CborErrorKind::DuplicateKey
        );
        let mut seen = SeenEncodedKeys::default();
        seen.insert(&int24, 0).unwrap();
        seen.insert(&minus1, 2).unwrap();
        assert_eq!(
            seen.insert(&[0x18, 0x19], 3).unwrap_err().kind,
            CborErrorKind::NonCanonicalOrder
        );
        let b = [0x61u8, b'b'];
        // Out of both orders, and a repeat.
        let mut seen = SeenEncodedKeys::default();
        seen.insert(&id, 0).unwrap();
        assert_eq!(
            seen.insert(&int24, 3).unwrap_err().kind,
            CborErrorKind::NonCanonicalOrder
        );
        let mut seen = SeenEncodedKeys::default();
        seen.insert(&b, 0).unwrap();
        assert_eq!(
            seen.insert(&b, 2).unwrap_err().kind,
            CborErrorKind::DuplicateKey
        );
    }

    #[test]
    fn rejects_indefinite_and_trailing() {
        assert_eq!(
            check_well_formed(&[0x9f, 0x01, 0xff]).unwrap_err().kind,
            CborErrorKind::IndefiniteLength
        );
        assert_eq!(
            check_well_formed(&[0x01, 0x02]).unwrap_err().kind,
            CborErrorKind::TrailingBytes
        );
        assert_eq!(
            check_well_formed(&[0xa2, 0x01, 0x01, 0x01, 0x02])
                .unwrap_err()
                .kind,
            CborErrorKind::DuplicateKey
        );
        assert_eq!(
            check_well_formed(&[0x5a, 0xff, 0xff, 0xff, 0xff, 0x00])
                .unwrap_err()
                .kind,
            CborErrorKind::Truncated
        );
    }

    #[test]
    fn rejects_deep_nesting() {
        let deep = [0x81u8; 64];
        let mut v = deep.to_vec();
        v.push(0x00);
        assert_eq!(
            check_well_formed(&v).unwrap_err().kind,
            CborErrorKind::TooDeep
        );
    }

    #[test]
    fn never_panics_on_prefixes() {
        let sample = [
            0xd8, 0x6b, 0xa2, 0x02, 0x43, 0x81, 0x41, 0x00, 0x03, 0x5f, 0xff, 0x7f, 0xff, 0xfb,
        ];
        for i in 0..sample.len() {
            let _ = check_well_formed(&sample[..i]);
            let _ = check_well_formed(&sample[i..]);
        }
        // every single-byte header value
        for b in 0..=255u8 {
            let _ = check_well_formed(&[b]);
            let _ = check_well_formed(&[b, 0, 0, 0, 0, 0, 0, 0, 0]);
        }
    }

    #[test]
    fn ints() {
        let mut d = Decoder::new(&[0x38, 0x1c]);
        assert_eq!(d.int().unwrap(), -29);
        let mut d = Decoder::new(&[0x3b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
        assert_eq!(d.int().unwrap_err().kind, CborErrorKind::IntegerOverflow);
    }
}
