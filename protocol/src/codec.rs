//! Encoding and decoding of every message, on `suit-cbor` (no serde in the TA).
//!
//! Each message is a CBOR map whose keys are its field names as text, in declaration order,
//! with `null` for an absent optional value: the very bytes the earlier serde/ciborium
//! encoding produced, so only [`crate::RefusalKind`] changed the wire (protocol version 2).
//!
//! Decoding is strict where it costs nothing to be and tolerant where versions differ:
//! - the whole input is first checked by [`suit_cbor::check_well_formed`]: definite lengths,
//!   nesting at most [`suit_cbor::MAX_DEPTH`], at most [`suit_cbor::MAX_CONTAINER_LEN`]
//!   entries per container, no duplicate map keys, UTF-8 text, no trailing bytes;
//! - unknown keys (of any type) are skipped, so a newer peer's extra fields are ignored;
//! - a missing field is an error unless it is optional (`Option`, or marked with a default
//!   below for fields older TAs did not send).
//!
//! Nothing is allocated before the input's size and shape have been checked; what decoding
//! allocates is bounded by the input's length and the container limit.

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;
use suit_cbor::{check_well_formed, CborError, CborErrorKind, Decoder, Encoder, Item};

use crate::*;

/// Error from encoding or decoding a protocol message.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodecError {
    /// Longer than the limit the caller set.
    TooLarge,
    /// Not well-formed CBOR, or not the expected message.
    Malformed,
    /// Bytes follow the message.
    TrailingBytes,
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CodecError::TooLarge => "the message is too large",
            CodecError::Malformed => "the message does not decode",
            CodecError::TrailingBytes => "bytes follow the message",
        })
    }
}

impl core::error::Error for CodecError {}

impl From<CborError> for CodecError {
    fn from(e: CborError) -> Self {
        match e.kind {
            CborErrorKind::TrailingBytes => CodecError::TrailingBytes,
            _ => CodecError::Malformed,
        }
    }
}

/// A protocol message: how it is written and read, in one place.
pub trait Codec: Sized {
    /// Writes the message as one CBOR item.
    fn encode_into(&self, e: &mut Encoder);
    /// Reads one message from input already checked by [`check_well_formed`].
    fn decode_from(d: &mut Decoder<'_>) -> Result<Self, CodecError>;
}

/// Encodes one protocol message. Messages can carry secrets (personalization data), so the
/// buffer wipes every allocation it outgrows. Infallible today; the `Result` keeps callers
/// ready for a bounded encoder.
pub fn encode<T: Codec>(value: &T) -> Result<Vec<u8>, CodecError> {
    let mut e = Encoder::new();
    value.encode_into(&mut e);
    Ok(e.into_bytes())
}

/// Decodes exactly one protocol message of at most `limit` bytes.
pub fn decode<T: Codec>(bytes: &[u8], limit: usize) -> Result<T, CodecError> {
    if bytes.len() > limit {
        return Err(CodecError::TooLarge);
    }
    check_well_formed(bytes)?;
    let mut d = Decoder::new(bytes);
    let value = T::decode_from(&mut d)?;
    d.finish()?;
    Ok(value)
}

/// A value that can be a message field.
pub trait Field: Sized {
    fn put(&self, e: &mut Encoder);
    fn take(d: &mut Decoder<'_>) -> Result<Self, CodecError>;
    /// The value of an absent key; `None`: the field is required.
    fn absent() -> Option<Self> {
        None
    }
}

impl Field for u64 {
    fn put(&self, e: &mut Encoder) {
        e.uint(*self);
    }
    fn take(d: &mut Decoder<'_>) -> Result<Self, CodecError> {
        Ok(d.uint()?)
    }
}

impl Field for u32 {
    fn put(&self, e: &mut Encoder) {
        e.uint(u64::from(*self));
    }
    fn take(d: &mut Decoder<'_>) -> Result<Self, CodecError> {
        u32::try_from(d.uint()?).map_err(|_| CodecError::Malformed)
    }
}

impl Field for bool {
    fn put(&self, e: &mut Encoder) {
        e.bool(*self);
    }
    fn take(d: &mut Decoder<'_>) -> Result<Self, CodecError> {
        Ok(d.bool()?)
    }
}

impl Field for String {
    fn put(&self, e: &mut Encoder) {
        e.text(self);
    }
    fn take(d: &mut Decoder<'_>) -> Result<Self, CodecError> {
        Ok(String::from(d.text()?))
    }
}

impl Field for ByteBuf {
    fn put(&self, e: &mut Encoder) {
        e.bytes(self);
    }
    fn take(d: &mut Decoder<'_>) -> Result<Self, CodecError> {
        Ok(ByteBuf::from(d.bytes()?.to_vec()))
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
    fn take(d: &mut Decoder<'_>) -> Result<Self, CodecError> {
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
    fn take(d: &mut Decoder<'_>) -> Result<Self, CodecError> {
        // At most MAX_CONTAINER_LEN (checked by the decoder); grown item by item.
        let n = d.array()?;
        let mut out = Vec::new();
        for _ in 0..n {
            out.push(T::take(d)?);
        }
        Ok(out)
    }
}

impl Field for RefusalKind {
    fn put(&self, e: &mut Encoder) {
        e.uint(u64::from(self.code()));
    }
    fn take(d: &mut Decoder<'_>) -> Result<Self, CodecError> {
        u32::take(d).map(RefusalKind::from_code)
    }
}

/// Owned bytes of a message field (encoded as a CBOR byte string; as bytes in JSON too).
#[derive(Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteBuf(Vec<u8>);

impl ByteBuf {
    pub fn new() -> Self {
        ByteBuf(Vec::new())
    }

    /// The bytes, moved out (no copy left behind).
    pub fn into_vec(mut self) -> Vec<u8> {
        core::mem::take(&mut self.0)
    }
}

/// Decoded fields can be secrets or plaintext (chunks, personalization data, provisioning
/// messages): a buffer dropped without being moved out is wiped.
impl Drop for ByteBuf {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

impl fmt::Debug for ByteBuf {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl From<Vec<u8>> for ByteBuf {
    fn from(v: Vec<u8>) -> Self {
        ByteBuf(v)
    }
}

impl From<ByteBuf> for Vec<u8> {
    fn from(b: ByteBuf) -> Self {
        b.into_vec()
    }
}

impl core::ops::Deref for ByteBuf {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl core::ops::DerefMut for ByteBuf {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl AsRef<[u8]> for ByteBuf {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for ByteBuf {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(&self.0)
    }
}

/// For `suit-common`'s records, which share this type with the messages while they are still
/// serde structures: a byte string (or, as `serde_bytes` accepted, a sequence of bytes).
#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for ByteBuf {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl<'de> serde::de::Visitor<'de> for Visitor {
            type Value = ByteBuf;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a byte string")
            }
            fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v.to_vec()))
            }
            fn visit_byte_buf<E: serde::de::Error>(self, v: Vec<u8>) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<ByteBuf, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(ByteBuf(out))
            }
        }
        d.deserialize_byte_buf(Visitor)
    }
}

/// Reads the key of a map entry: `Some(name)` for a text key, `None` (key skipped) otherwise.
fn key<'a>(d: &mut Decoder<'a>) -> Result<Option<&'a str>, CodecError> {
    if let Item::Text(_) = d.peek()? {
        Ok(Some(d.text()?))
    } else {
        d.skip()?;
        Ok(None)
    }
}

macro_rules! absent {
    () => {
        Field::absent()
    };
    (default) => {
        Some(Default::default())
    };
}

macro_rules! one {
    ($x:ident) => {
        1usize
    };
}

/// Implements [`Codec`] (and [`Field`], to nest) for a message with these fields, in
/// declaration order; `= default` marks fields older peers may omit.
macro_rules! message {
    ($ty:ident { $($field:ident $(= $dflt:ident)?),* $(,)? }) => {
        impl Codec for $ty {
            fn encode_into(&self, e: &mut Encoder) {
                e.map(0 $(+ one!($field))*);
                $(
                    e.text(stringify!($field));
                    Field::put(&self.$field, e);
                )*
            }

            #[allow(unused_mut)]
            fn decode_from(d: &mut Decoder<'_>) -> Result<Self, CodecError> {
                let n = d.map()?;
                $( let mut $field = None; )*
                for _ in 0..n {
                    match key(d)? {
                        $(
                            // check_well_formed compares keys as encoded; the same name in
                            // a longer head is caught here, by field.
                            Some(stringify!($field)) => {
                                if $field.is_some() {
                                    return Err(CodecError::Malformed);
                                }
                                $field = Some(Field::take(d)?);
                            }
                        )*
                        _ => {
                            d.skip()?;
                        }
                    }
                }
                Ok($ty {
                    $(
                        $field: $field
                            .or_else(|| absent!($($dflt)?))
                            .ok_or(CodecError::Malformed)?,
                    )*
                })
            }
        }

        impl Field for $ty {
            fn put(&self, e: &mut Encoder) {
                self.encode_into(e)
            }
            fn take(d: &mut Decoder<'_>) -> Result<Self, CodecError> {
                Self::decode_from(d)
            }
        }
    };
}

message!(Refusal { kind, reason });
message!(Empty {});
message!(StatusResponse {
    protocol_version,
    ta_version,
    backend,
    platform,
    service
});
message!(ServiceInfo {
    tpa_root_kid,
    tpa_root_is_test_key,
    provisioning_counter,
    anchors,
    installed_components,
    device_key_kid,
    state_error,
    components = default,
});
message!(DeviceKeyRequest { anchor });
message!(DeviceKeyResponse {
    identity_key,
    identity_kid,
    report_key,
    report_kid,
    provisioning_key,
    provisioning_kid,
    anchor,
    statement,
    origin,
});
message!(AnchorKeysInfo {
    id,
    key_scope,
    ecdh_es_key,
    ecdh_es_kid,
    hpke_key,
    hpke_kid,
});
message!(ProvisionRequest { message });
message!(ProvisionResponse {
    counter,
    signer,
    applied,
    receipt
});
message!(AnchorsResponse {
    provisioning_counter,
    identity,
    anchors,
    rules
});
message!(IdentityInfo {
    vendor_id,
    class_id,
    device_id
});
message!(AnchorInfo {
    id,
    role,
    kid,
    key_type,
    component_prefixes,
    vendor_ids,
    class_ids,
});
message!(RuleInfo { prefix, required });
message!(InstallBeginRequest { envelope_len });
message!(ChunkRequest { offset, data });
message!(InstallPrepareResponse {
    needed_uris,
    sequence_number,
    signers,
    needed_sizes = default,
});
message!(PayloadChunkRequest {
    uri,
    total_len,
    offset,
    data
});
message!(PersonalizationResponse { data });
message!(ReeExportRequest { path, offset });
message!(ReeExportResponse {
    total_len,
    digest,
    data
});
message!(ReportRequest {
    nonce,
    pre_auth = default
});
message!(ReportResponse { report });
message!(InstallFinishResponse {
    sequence_number,
    signers,
    components,
    manifest_digest,
    ree_paths = default,
});
message!(PlatformInfo {
    tee_version,
    anti_rollback_level,
    rollback_detection_level,
    warnings,
    attestation_pta,
    prerequisites = default,
});
message!(Prerequisite {
    name,
    met,
    evidence
});
message!(ComponentInfo {
    id,
    sequence_number,
    size,
    digest,
    ta_version,
});
