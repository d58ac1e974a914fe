//! Encoding and decoding of every message, on `suit-cbor`'s typed codec ([`suit_cbor::codec`],
//! shared with the service's stored records; no serde in the TA).
//!
//! Each message is a CBOR map whose keys are its field names as text, in declaration order,
//! with `null` for an absent optional value. This layout is fixed; a change of it is a new
//! [`crate::PROTOCOL_VERSION`] (as [`crate::RefusalKind`]'s code was, version 2).
//!
//! Decoding is strict where it costs nothing to be and tolerant where versions differ (see
//! [`suit_cbor::codec`]): the whole input is checked first (definite lengths, bounded depth
//! and container sizes, no duplicate keys, UTF-8, no trailing bytes); unknown keys are
//! skipped, so a newer peer's extra fields are ignored; a missing field is an error unless it
//! is optional (`Option`, or marked with a default below for fields older TAs did not send).
//! Nothing is allocated before the input's size and shape have been checked.

use alloc::vec::Vec;
use core::fmt;
pub use suit_cbor::codec::{Span, Take};
use suit_cbor::{CborError, CborErrorKind, Decoder, Encoder};
pub use suit_cbor::{Codec, Field};

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

/// Encodes one protocol message. Messages can carry secrets (personalization data), so the
/// buffer wipes every allocation it outgrows. Infallible today; the `Result` keeps callers
/// ready for a bounded encoder.
pub fn encode<T: Codec>(value: &T) -> Result<Vec<u8>, CodecError> {
    encode_dyn(value)
}

/// The encoding half of [`Codec`] as a trait object, so that one non-generic function encodes
/// every response (the TA's size: one copy of the framing instead of one per message type).
pub trait Encode {
    fn encode_to(&self, e: &mut Encoder);
}

impl<T: Codec> Encode for T {
    fn encode_to(&self, e: &mut Encoder) {
        self.encode_into(e)
    }
}

/// [`encode`] for a message behind `&dyn Encode`.
pub fn encode_dyn(value: &dyn Encode) -> Result<Vec<u8>, CodecError> {
    let mut e = Encoder::new();
    value.encode_to(&mut e);
    Ok(e.into_bytes())
}

/// Decodes exactly one protocol message of at most `limit` bytes.
pub fn decode<T: Codec>(bytes: &[u8], limit: usize) -> Result<T, CodecError> {
    if bytes.len() > limit {
        return Err(CodecError::TooLarge);
    }
    Ok(suit_cbor::codec::decode(bytes, limit)?)
}

/// [`decode`] of a message whose [`Span`] fields are left in `bytes`: the TA decodes a payload
/// chunk so and decrypts it where it lies, in its one copy of the request.
pub fn decode_in_place<T: Take>(bytes: &[u8], limit: usize) -> Result<T, CodecError> {
    if bytes.len() > limit {
        return Err(CodecError::TooLarge);
    }
    Ok(suit_cbor::codec::decode_take(bytes, limit)?)
}

impl Field for RefusalKind {
    fn put(&self, e: &mut Encoder) {
        e.uint(u64::from(self.code()));
    }
    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        <u32 as Field>::take(d).map(RefusalKind::from_code)
    }
}

// The stored state's form of a role (its name as text), unchanged since it lived there.
suit_cbor::unit_enum_codec!(RoleRecord {
    Tpa,
    Author,
    Operator
});
suit_cbor::numbered_enum_codec!(KeyType {
    0 => P256,
    1 => Ed25519,
    2 => HssLms,
    3 => Symmetric,
    4 => Unparseable,
});
suit_cbor::numbered_enum_codec!(Requirement {
    0 => Role(role),
    1 => Anchor(id),
});

impl Field for ComponentPath {
    fn put(&self, e: &mut Encoder) {
        self.0.put(e);
    }
    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        <Vec<ByteBuf> as Field>::take(d).map(ComponentPath)
    }
}

impl Field for PropertyText {
    fn put(&self, e: &mut Encoder) {
        self.0.put(e);
    }
    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        <ByteBuf as Field>::take(d).map(PropertyText)
    }
}

impl Field for TaUuid {
    fn put(&self, e: &mut Encoder) {
        e.bytes(&self.0);
    }
    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        let at = d.position();
        <[u8; 16]>::try_from(d.bytes()?)
            .map(TaUuid)
            .map_err(|_| CborError {
                kind: CborErrorKind::UnexpectedType {
                    expected: "a 16-byte UUID",
                },
                offset: at,
            })
    }
}

suit_cbor::numbered_enum_codec!(Applied {
    0 => AddedAnchor { id, role },
    1 => RemovedAnchor { id },
    2 => RescopedAnchor { id },
    3 => SetRules { count },
    4 => SetIdentity,
    5 => AddedKek { kid },
    6 => RemovedKek { kid },
});

/// Owned bytes of a message field (encoded as a CBOR byte string; hex in JSON).
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

impl Field for ByteBuf {
    fn put(&self, e: &mut Encoder) {
        e.bytes(self);
    }
    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        Ok(ByteBuf::from(d.bytes()?.to_vec()))
    }
}

/// Lower-case hex in human-readable formats (the tools' JSON: every byte field one string,
/// so a list of them is a list of strings, `[]` when empty), bytes in binary ones.
#[cfg(feature = "serde")]
impl serde::Serialize for ByteBuf {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&crate::text::hex(&self.0))
        } else {
            s.serialize_bytes(&self.0)
        }
    }
}

/// Every message below: a map of its named fields (`suit_cbor::struct_codec!`, the same
/// codec as the service's stored records); `= default` marks fields older peers may omit.
use suit_cbor::struct_codec as message;

message!(Refusal { kind, fault });
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
    unconfirmed_tas = default,
    delegate_counter = default,
    awaiting_envelope = default,
});
message!(InstallAbandonRequest { envelope });
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
// Generic over its message (bytes, or their place in the request: `Span`), as
// `PayloadChunkRequest` below.
impl<D: Field> Codec for ProvisionRequest<D> {
    fn encode_into(&self, e: &mut Encoder) {
        let ProvisionRequest { message } = self;
        suit_cbor::put_fields!(e; message);
    }
    fn decode_from(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        Take::take(d)
    }
}

impl<D: Take> Take for ProvisionRequest<D> {
    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        suit_cbor::take_fields!(d; ProvisionRequest { message })
    }
}
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
    rules,
    delegate_counter = default,
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
    ree_plaintext = default,
    tracker_key = default,
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

// Generic over its data (bytes, or their place in the request: `Span`); a message, never a
// field, so not `Field`, which leaves `Take` free for the in-place reading below.
impl<D: Field> Codec for PayloadChunkRequest<D> {
    fn encode_into(&self, e: &mut Encoder) {
        let PayloadChunkRequest {
            uri,
            total_len,
            offset,
            data,
        } = self;
        suit_cbor::put_fields!(e; uri, total_len, offset, data);
    }
    fn decode_from(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        Take::take(d)
    }
}

impl<D: Take> Take for PayloadChunkRequest<D> {
    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        suit_cbor::take_fields!(d; PayloadChunkRequest { uri, total_len, offset, data })
    }
}

message!(PayloadChunkResponse {
    needed_uris = default,
    needed_sizes = default,
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
    device_id = default,
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
    released_by = default,
});
// As the array `[anchor, holds]`, not a map of named fields (20 bytes an entry): a full
// device's status (64 components, each released by up to 32 anchors) stays in one response.
suit_cbor::array_struct_codec!(ReleaseInfo { anchor, holds });
