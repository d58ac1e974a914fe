//! Typed values as CBOR, written once for the wire messages (`suit-protocol`) and the
//! service's stored records (`suit-common`'s `service::record`).
//!
//! A struct is a map whose keys are its field names as text, in declaration order, with
//! `null` for an absent optional value; a unit enum is its variant's name as text; an enum
//! with data is a one-entry map `{name: content}`. This layout is fixed: records
//! already stored on a device and messages of older peers must still read.
//!
//! Reading is strict: [`decode`] bounds the input's length, then [`crate::check_well_formed`]
//! checks the whole item (definite lengths, nesting at most [`crate::MAX_DEPTH`], at most
//! [`crate::MAX_CONTAINER_LEN`] entries per container, no duplicate keys as encoded, UTF-8,
//! no trailing bytes) before anything is allocated; a field named twice (even in a longer
//! head) is refused by name, a missing required field is refused, unknown keys are skipped
//! (a newer writer's extra fields). What decoding allocates is bounded by the input's
//! length.

use alloc::string::String;
use alloc::vec::Vec;

use crate::{check_well_formed_with, CborError, CborErrorKind, Decoder, Encoder, Item};

/// A value written and read as one CBOR item: a message or a record.
pub trait Codec: Sized {
    /// Writes the value as one CBOR item.
    fn encode_into(&self, e: &mut Encoder);
    /// Reads one value from input already checked by [`crate::check_well_formed`].
    fn decode_from(d: &mut Decoder<'_>) -> Result<Self, CborError>;
}

/// A value that can be a field of a [`Codec`] struct.
pub trait Field: Sized {
    fn put(&self, e: &mut Encoder);
    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError>;
    /// The value of an absent key; `None`: the field is required.
    fn absent() -> Option<Self> {
        None
    }
}

/// The reading half of [`Field`], with which [`take_fields!`] reads every field: a type that
/// is only ever read ([`Span`]) implements it alone.
pub trait Take: Sized {
    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError>;
    /// The value of an absent key; `None`: the field is required.
    fn absent() -> Option<Self> {
        None
    }
}

impl<T: Field> Take for T {
    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        <T as Field>::take(d)
    }
    fn absent() -> Option<Self> {
        <T as Field>::absent()
    }
}

/// Where a byte string's content lies in the input it was read from, read without copying
/// it: the caller works on those bytes where they are (the TA decrypts a payload chunk in
/// its own copy of the request instead of copying it out again).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Span(core::ops::Range<usize>);

impl Span {
    /// The content in `input`, which must be the buffer this span was read from (`None` if
    /// `input` is too short for it).
    pub fn of_mut<'a>(&self, input: &'a mut [u8]) -> Option<&'a mut [u8]> {
        input.get_mut(self.0.clone())
    }

    /// The content's place in the input.
    pub fn range(&self) -> core::ops::Range<usize> {
        self.0.clone()
    }
}

impl Take for Span {
    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        let content = d.bytes()?.len();
        let end = d.position();
        // A definite-length string's content ends where the decoder now stands.
        let start = end
            .checked_sub(content)
            .ok_or_else(|| d.err(CborErrorKind::Truncated))?;
        Ok(Span(start..end))
    }
}

/// Encodes one value, in a buffer that wipes every allocation it outgrows (values can carry
/// secrets); the caller owns wiping the result.
pub fn encode<T: Codec>(value: &T) -> Vec<u8> {
    let mut e = Encoder::new();
    value.encode_into(&mut e);
    e.into_bytes()
}

/// Decodes exactly one value of at most `limit` bytes (longer input: [`CborErrorKind::TooLarge`]
/// at offset `limit`, before anything else is read), with at most
/// [`crate::MAX_CONTAINER_LEN`] entries per array or map.
pub fn decode<T: Codec>(bytes: &[u8], limit: usize) -> Result<T, CborError> {
    decode_with(bytes, limit, crate::MAX_CONTAINER_LEN)
}

/// [`decode`] with at most `max_container` entries per array or map.
pub fn decode_with<T: Codec>(
    bytes: &[u8],
    limit: usize,
    max_container: usize,
) -> Result<T, CborError> {
    decode_by(bytes, limit, max_container, T::decode_from)
}

/// [`decode`] of a value that is only ever read ([`Take`]: a message with [`Span`] fields).
pub fn decode_take<T: Take>(bytes: &[u8], limit: usize) -> Result<T, CborError> {
    decode_by(bytes, limit, crate::MAX_CONTAINER_LEN, T::take)
}

fn decode_by<T>(
    bytes: &[u8],
    limit: usize,
    max_container: usize,
    read: fn(&mut Decoder<'_>) -> Result<T, CborError>,
) -> Result<T, CborError> {
    if bytes.len() > limit {
        return Err(CborError {
            kind: CborErrorKind::TooLarge,
            offset: limit,
        });
    }
    check_well_formed_with(bytes, max_container)?;
    let mut d = Decoder::with_max_container(bytes, max_container);
    let value = read(&mut d)?;
    d.finish()?;
    Ok(value)
}

impl Field for u64 {
    fn put(&self, e: &mut Encoder) {
        e.uint(*self);
    }
    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        d.uint()
    }
}

/// Unsigned integers narrower than the wire's u64 (or as wide, for `usize`): a value that does
/// not fit is an overflow at its offset, never truncated.
macro_rules! narrow_uint_field {
    ($($ty:ty),*) => {$(
        impl Field for $ty {
            fn put(&self, e: &mut Encoder) {
                e.uint(u64::try_from(*self).unwrap_or(u64::MAX));
            }
            fn take(d: &mut Decoder<'_>) -> Result<Self, CborError> {
                let at = d.position();
                <$ty>::try_from(d.uint()?).map_err(|_| overflow(at))
            }
        }
    )*};
}
narrow_uint_field!(u8, u16, u32, usize);

impl Field for i64 {
    fn put(&self, e: &mut Encoder) {
        e.int(*self);
    }
    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        d.int()
    }
}

impl<T: Field> Field for alloc::boxed::Box<T> {
    fn put(&self, e: &mut Encoder) {
        T::put(self, e);
    }
    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        T::take(d).map(alloc::boxed::Box::new)
    }
}

/// Shared, as a refusal and its failure report share one engine error (no deep clone).
impl<T: Field> Field for alloc::sync::Arc<T> {
    fn put(&self, e: &mut Encoder) {
        T::put(self, e);
    }
    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        T::take(d).map(alloc::sync::Arc::new)
    }
}

fn overflow(offset: usize) -> CborError {
    CborError {
        kind: CborErrorKind::IntegerOverflow,
        offset,
    }
}

impl Field for bool {
    fn put(&self, e: &mut Encoder) {
        e.bool(*self);
    }
    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        d.bool()
    }
}

impl Field for String {
    fn put(&self, e: &mut Encoder) {
        e.text(self);
    }
    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        Ok(String::from(d.text()?))
    }
}

impl<T: Field> Field for Option<T> {
    fn put(&self, e: &mut Encoder) {
        match self {
            Some(v) => v.put(e),
            None => {
                e.null();
            }
        }
    }
    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        if d.null()? {
            Ok(None)
        } else {
            T::take(d).map(Some)
        }
    }
    fn absent() -> Option<Self> {
        Some(None)
    }
}

impl<T: Field> Field for Vec<T> {
    fn put(&self, e: &mut Encoder) {
        e.array(self.len());
        for v in self {
            v.put(e);
        }
    }
    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        // At most MAX_CONTAINER_LEN (checked by the decoder); grown item by item.
        let mut out = Vec::new();
        take_array(d, &mut |d| {
            out.push(T::take(d)?);
            Ok(())
        })?;
        Ok(out)
    }
}

/// Reads an array's head, then each item with `take`: the loop once, not per item type.
fn take_array<'a>(
    d: &mut Decoder<'a>,
    take: &mut dyn FnMut(&mut Decoder<'a>) -> Result<(), CborError>,
) -> Result<(), CborError> {
    for _ in 0..d.array()? {
        take(d)?;
    }
    Ok(())
}

/// Reads the key of a struct's map entry: `Some(name)` for a text key, `None` (key skipped)
/// otherwise.
#[doc(hidden)]
pub fn field_key<'a>(d: &mut Decoder<'a>) -> Result<Option<&'a str>, CborError> {
    if let Item::Text(_) = d.peek()? {
        Ok(Some(d.text()?))
    } else {
        d.skip()?;
        Ok(None)
    }
}

/// A field named twice in one map (compared by name: the encodings may differ).
#[doc(hidden)]
pub fn duplicate(offset: usize) -> CborError {
    CborError {
        kind: CborErrorKind::DuplicateKey,
        offset,
    }
}

/// A required field is absent from the map that ends at `d`'s position.
#[doc(hidden)]
pub fn missing(d: &Decoder<'_>, name: &'static str) -> CborError {
    d.err(CborErrorKind::MissingField { name })
}

/// Writes the head of an enum variant with content: a one-entry map keyed by its name.
pub fn put_variant(e: &mut Encoder, name: &str) {
    e.map(1).text(name);
}

/// Reads the head [`put_variant`] writes and returns the name; its content follows. The
/// caller refuses a name it does not know with [`unknown_variant`].
pub fn take_variant<'a>(d: &mut Decoder<'a>) -> Result<&'a str, CborError> {
    let at = d.position();
    if d.map()? != 1 {
        return Err(CborError {
            kind: CborErrorKind::UnexpectedType {
                expected: "a one-entry map naming the variant",
            },
            offset: at,
        });
    }
    d.text()
}

/// An enum variant name this reader does not know, at `offset`.
pub fn unknown_variant(offset: usize) -> CborError {
    CborError {
        kind: CborErrorKind::UnknownVariant,
        offset,
    }
}

#[doc(hidden)]
#[macro_export]
macro_rules! __one {
    ($x:ident) => {
        1usize
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __absent {
    () => {
        $crate::codec::Take::absent()
    };
    (default) => {
        ::core::option::Option::Some(::core::default::Default::default())
    };
}

/// Writes a map of named fields: `put_fields!(e; a, b)` with `a`, `b` references in scope.
#[macro_export]
macro_rules! put_fields {
    ($e:ident; $($field:ident),* $(,)?) => {{
        const NAMES: &str = ::core::concat!($(::core::stringify!($field), ","),*);
        $e.map(0 $(+ $crate::__one!($field))*);
        $(
            $e.text({
                const NAME: &str = $crate::codec::name_in(NAMES, ::core::stringify!($field));
                NAME
            });
            $crate::Field::put($field, $e);
        )*
    }};
}

/// `field` as a slice of `names` (the comma-terminated list [`take_map`] reads), so that a
/// struct's encoder and decoder share one copy of its field names (TA size).
/// Evaluated at compile time; a name not in the list is returned as given.
#[doc(hidden)]
pub const fn name_in(names: &'static str, field: &'static str) -> &'static str {
    let mut rest = names;
    loop {
        let mut len = 0;
        let mut bytes = rest.as_bytes();
        while let [b, tail @ ..] = bytes {
            if *b == b',' {
                break;
            }
            len += 1;
            bytes = tail;
        }
        let Some((name, after)) = rest.split_at_checked(len) else {
            return field;
        };
        if same_bytes(name.as_bytes(), field.as_bytes()) {
            return name;
        }
        match after.split_at_checked(1) {
            Some((_, next)) if !next.is_empty() => rest = next,
            _ => return field,
        }
    }
}

const fn same_bytes(mut a: &[u8], mut b: &[u8]) -> bool {
    loop {
        match (a, b) {
            ([], []) => return true,
            ([x, ta @ ..], [y, tb @ ..]) if *x == *y => {
                a = ta;
                b = tb;
            }
            _ => return false,
        }
    }
}

/// Reads a struct's map for [`take_fields!`]: a key among `names` (each followed by `,`, at
/// most 64) is refused if named before, else `take` reads its value given the key's index;
/// other keys are skipped. Not generic, so each struct's decoder is only its fields' reads;
/// one string rather than a table of `&str`, which would cost a relocation per name in the
/// TA (TA size).
#[doc(hidden)]
pub fn take_map<'a>(
    d: &mut Decoder<'a>,
    names: &str,
    take: &mut dyn FnMut(usize, &mut Decoder<'a>) -> Result<(), CborError>,
) -> Result<(), CborError> {
    let n = d.map()?;
    let mut seen = 0u64;
    for _ in 0..n {
        let at = d.position();
        match field_key(d)?.and_then(|k| names.split_terminator(',').position(|name| name == k)) {
            Some(i) => {
                let bit = u32::try_from(i)
                    .ok()
                    .and_then(|i| 1u64.checked_shl(i))
                    .unwrap_or(0);
                if seen & bit != 0 {
                    return Err(duplicate(at));
                }
                seen |= bit;
                take(i, d)?;
            }
            None => {
                d.skip()?;
            }
        }
    }
    Ok(())
}

/// Reads the map [`put_fields!`] writes into `Path { field, .. }` (a struct or a struct-like
/// enum variant); `= default` marks fields older writers may omit. Evaluates to
/// `::core::result::Result::Ok(value)`; on error it returns from the enclosing function, which must return
/// `Result<_, CborError>`.
#[macro_export]
macro_rules! take_fields {
    ($d:ident; $($ctor:ident)::+ { $($field:ident $(= $dflt:ident)?),* $(,)? }) => {{
        const _: () = ::core::assert!(
            <[&str]>::len(&[$(::core::stringify!($field)),*]) <= 64,
            "take_map tracks at most 64 fields"
        );
        const NAMES: &str = ::core::concat!($(::core::stringify!($field), ","),*);
        $( let mut $field = ::core::option::Option::None; )*
        $crate::codec::take_map($d, NAMES, &mut |i, d| {
            let mut k = 0usize;
            $(
                if i == k {
                    $field = ::core::option::Option::Some($crate::codec::Take::take(d)?);
                }
                k += 1;
            )*
            let _ = k;
            ::core::result::Result::Ok(())
        })?;
        ::core::result::Result::Ok($($ctor)::+ {
            $(
                $field: match $field.or_else(|| $crate::__absent!($($dflt)?)) {
                    ::core::option::Option::Some(v) => v,
                    ::core::option::Option::None => {
                        return ::core::result::Result::Err(
                            $crate::codec::missing($d, {
                                const NAME: &str =
                                    $crate::codec::name_in(NAMES, ::core::stringify!($field));
                                NAME
                            }),
                        );
                    }
                },
            )*
        })
    }};
}

/// Implements [`Codec`] and [`Field`] for a struct with named fields, written in the order
/// listed (every field must be listed); `= default` marks fields older writers may omit.
#[macro_export]
macro_rules! struct_codec {
    ($ty:ident { $($field:ident $(= $dflt:ident)?),* $(,)? }) => {
        impl $crate::Codec for $ty {
            fn encode_into(&self, e: &mut $crate::Encoder) {
                let $ty { $($field),* } = self;
                $crate::put_fields!(e; $($field),*);
            }

            fn decode_from(d: &mut $crate::Decoder<'_>) -> ::core::result::Result<Self, $crate::CborError> {
                $crate::take_fields!(d; $ty { $($field $(= $dflt)?),* })
            }
        }

        impl $crate::Field for $ty {
            fn put(&self, e: &mut $crate::Encoder) {
                $crate::Codec::encode_into(self, e)
            }
            fn take(d: &mut $crate::Decoder<'_>) -> ::core::result::Result<Self, $crate::CborError> {
                <Self as $crate::Codec>::decode_from(d)
            }
        }
    };
}

/// Implements [`Field`] for an enum of unit variants: each is its name as text.
#[macro_export]
macro_rules! unit_enum_codec {
    ($ty:ident { $($variant:ident),* $(,)? }) => {
        impl $crate::Field for $ty {
            fn put(&self, e: &mut $crate::Encoder) {
                e.text(match self {
                    $( $ty::$variant => stringify!($variant), )*
                });
            }
            fn take(d: &mut $crate::Decoder<'_>) -> ::core::result::Result<Self, $crate::CborError> {
                let at = d.position();
                match d.text()? {
                    $( stringify!($variant) => ::core::result::Result::Ok($ty::$variant), )*
                    _ => ::core::result::Result::Err($crate::codec::unknown_variant(at)),
                }
            }
        }
    };
}

/// Implements [`Field`] for an enum as the array `[code, fields...]`: each variant is named by
/// a stable number, its fields follow in declaration order. The compact form of the typed
/// errors the TA sends and the host puts into words (no names or prose on the wire). A code
/// or field count this reader does not know is [`CborErrorKind::UnknownVariant`].
#[macro_export]
macro_rules! numbered_enum_codec {
    ($ty:ident { $( $n:literal => $variant:ident $( ( $($tf:ident),* ) )? $( { $($sf:ident),* } )? ),* $(,)? }) => {
        impl $crate::Field for $ty {
            fn put(&self, e: &mut $crate::Encoder) {
                match self {
                    $( $ty::$variant $( ( $($tf),* ) )? $( { $($sf),* } )? => {
                        e.array(1 $( $(+ $crate::__one!($tf))* )? $( $(+ $crate::__one!($sf))* )?);
                        e.uint($n);
                        $( $( $crate::Field::put($tf, e); )* )?
                        $( $( $crate::Field::put($sf, e); )* )?
                    } )*
                }
            }
            fn take(d: &mut $crate::Decoder<'_>) -> ::core::result::Result<Self, $crate::CborError> {
                let at = d.position();
                let len = d.array()?;
                let code = d.uint()?;
                $(
                    if code == $n {
                        if len != 1 $( $(+ $crate::__one!($tf))* )? $( $(+ $crate::__one!($sf))* )? {
                            return ::core::result::Result::Err($crate::codec::unknown_variant(at));
                        }
                        return ::core::result::Result::Ok($ty::$variant
                            $( ( $( { let $tf = $crate::Field::take(d)?; $tf } ),* ) )?
                            $( { $( $sf: $crate::Field::take(d)? ),* } )?);
                    }
                )*
                ::core::result::Result::Err($crate::codec::unknown_variant(at))
            }
        }
    };
}

/// Implements [`Field`] for a struct with named fields as the array of its fields, in the
/// order listed (every field must be listed): [`numbered_enum_codec!`]'s form for structs.
#[macro_export]
macro_rules! array_struct_codec {
    ($ty:ident { $($field:ident),* $(,)? }) => {
        impl $crate::Field for $ty {
            fn put(&self, e: &mut $crate::Encoder) {
                let $ty { $($field),* } = self;
                e.array(0 $(+ $crate::__one!($field))*);
                $( $crate::Field::put($field, e); )*
            }
            fn take(d: &mut $crate::Decoder<'_>) -> ::core::result::Result<Self, $crate::CborError> {
                let at = d.position();
                if d.array()? != 0 $(+ $crate::__one!($field))* {
                    return ::core::result::Result::Err($crate::codec::unknown_variant(at));
                }
                ::core::result::Result::Ok($ty { $( $field: $crate::Field::take(d)? ),* })
            }
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;

    #[test]
    fn name_in_slices_the_list_or_returns_the_name() {
        const NAMES: &str = "a,bb,a_b,";
        const BB: &str = name_in(NAMES, "bb");
        assert_eq!(BB, "bb");
        assert_eq!(BB.as_ptr(), NAMES.as_ptr().wrapping_add(2));
        assert_eq!(name_in(NAMES, "a_b"), "a_b");
        assert_eq!(name_in(NAMES, "a").as_ptr(), NAMES.as_ptr());
        assert_eq!(name_in(NAMES, "b"), "b");
        assert_eq!(name_in(NAMES, "a_b_c"), "a_b_c");
        assert_eq!(name_in("", "x"), "x");
    }

    #[derive(Debug, PartialEq)]
    struct Inner {
        a: u32,
        b: Option<String>,
    }
    crate::struct_codec!(Inner { a, b });

    #[derive(Debug, PartialEq, Clone, Copy)]
    enum Kind {
        One,
        Two,
    }
    crate::unit_enum_codec!(Kind { One, Two });

    #[derive(Debug, PartialEq)]
    struct Outer {
        inner: Vec<Inner>,
        kind: Kind,
        flag: bool,
    }
    crate::struct_codec!(Outer { inner, kind, flag = default });

    fn sample() -> Outer {
        Outer {
            inner: vec![
                Inner { a: 1, b: None },
                Inner {
                    a: 70000,
                    b: Some("x".into()),
                },
            ],
            kind: Kind::Two,
            flag: true,
        }
    }

    #[test]
    fn round_trip_and_layout() {
        let bytes = encode(&sample());
        // {"inner": [{"a": 1, "b": null}, ...], "kind": "Two", "flag": true}
        assert_eq!(
            &bytes[..8],
            &[0xa3, 0x65, b'i', b'n', b'n', b'e', b'r', 0x82]
        );
        assert_eq!(decode::<Outer>(&bytes, 1024).unwrap(), sample());
    }

    fn kind_of(bytes: &[u8]) -> CborErrorKind {
        decode::<Inner>(bytes, 64).unwrap_err().kind
    }

    #[test]
    fn refusals_are_typed() {
        // {"a": 1} without "b" is fine (Option), without "a" is not.
        assert_eq!(
            decode::<Inner>(&[0xa1, 0x61, b'a', 0x01], 64).unwrap(),
            Inner { a: 1, b: None }
        );
        assert_eq!(
            kind_of(&[0xa1, 0x61, b'b', 0xf6]),
            CborErrorKind::MissingField { name: "a" }
        );
        // "a" twice, and "a" once more in a longer head (one encoding per key).
        assert_eq!(
            kind_of(&[0xa2, 0x61, b'a', 0x01, 0x61, b'a', 0x02]),
            CborErrorKind::DuplicateKey
        );
        assert_eq!(
            kind_of(&[0xa2, 0x61, b'a', 0x01, 0x78, 0x01, b'a', 0x02]),
            CborErrorKind::NonPreferredKey
        );
        // Unknown keys, text or not, are skipped.
        assert_eq!(
            decode::<Inner>(&[0xa3, 0x61, b'a', 0x01, 0x61, b'z', 0x01, 0x01, 0x02], 64).unwrap(),
            Inner { a: 1, b: None }
        );
        assert_eq!(
            kind_of(&[0xa1, 0x61, b'a', 0x01, 0x00]),
            CborErrorKind::TrailingBytes
        );
        assert_eq!(
            decode::<Inner>(&[0xa1, 0x61, b'a', 0x1a, 0xff, 0xff, 0xff, 0xff], 64).unwrap(),
            Inner {
                a: u32::MAX,
                b: None
            }
        );
        assert_eq!(
            kind_of(&[0xa1, 0x61, b'a', 0x1b, 0, 0, 0, 1, 0, 0, 0, 0]),
            CborErrorKind::IntegerOverflow
        );
        assert_eq!(
            decode::<Inner>(&[0xa1, 0x61, b'a', 0x01], 3).unwrap_err(),
            CborError {
                kind: CborErrorKind::TooLarge,
                offset: 3
            }
        );
        assert_eq!(
            decode::<Kind>(&[0x65, b'T', b'h', b'r', b'e', b'e'], 64)
                .map(|_| ())
                .unwrap_err()
                .kind,
            CborErrorKind::UnknownVariant
        );
    }

    impl Codec for Kind {
        fn encode_into(&self, e: &mut Encoder) {
            self.put(e)
        }
        fn decode_from(d: &mut Decoder<'_>) -> Result<Self, CborError> {
            <Self as Field>::take(d)
        }
    }
}
