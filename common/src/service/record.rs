//! The service's own storage encoding: the records it keeps (state, device keys, journal,
//! KEKs) and the provisioning formats it shares with the author tool (bodies, receipts, key
//! statements).
//!
//! Each record type implements [`Codec`] with `suit-cbor`'s typed codec
//! ([`crate::cbor::codec`], the same one the wire messages use, no serde): a struct is a map
//! keyed by field names in declaration order, a unit enum its variant's name, an enum with
//! data a one-entry map. This layout is fixed byte for byte (pinned by
//! `tests/records_codec.rs`), so records stored by earlier versions read without a migration. Decoding is strict and bounded (see [`crate::cbor::codec`]) and its
//! errors are typed ([`RecordError`]: the kind says why, the offset where).

use alloc::vec::Vec;

pub use crate::cbor::{CborError as RecordError, Codec};

/// Encodes one record. Records can carry secrets (the key, KEK and state records): the
/// encoder wipes every allocation it outgrows, so no partial copy is left in freed heap, and
/// the caller wipes the result. Infallible today; the `Result` keeps callers ready for a
/// bounded encoder.
pub fn encode<T: Codec>(value: &T) -> Result<Vec<u8>, RecordError> {
    Ok(crate::cbor::codec::encode(value))
}

/// Decodes exactly one provisioning format (body, receipt, key statement) of at most `limit`
/// bytes: input from outside, so at most [`crate::cbor::MAX_CONTAINER_LEN`] entries per
/// array or map.
pub fn decode<T: Codec>(bytes: &[u8], limit: usize) -> Result<T, RecordError> {
    crate::cbor::codec::decode(bytes, limit)
}

/// Decodes exactly one record the service stored itself, of at most `limit` bytes. Its
/// arrays and maps may have as many entries as `limit` bytes hold: the earlier decoder had no
/// other bound, and some lists grow with the device's history (the state's sequence
/// numbers), so a record it wrote must not become unreadable here. What decoding allocates
/// stays proportional to `limit`.
pub fn decode_stored<T: Codec>(bytes: &[u8], limit: usize) -> Result<T, RecordError> {
    crate::cbor::codec::decode_with(bytes, limit, limit)
}
