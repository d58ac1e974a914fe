//! The encoding of the service's own records (state, device keys, journal, KEKs) and of the
//! provisioning formats (TPA messages, receipts, key statements): serde structures through
//! ciborium, with a buffer that wipes what it outgrows.
//!
//! Interim: these moved off the wire codec (`suit-protocol`) so the protocol no longer needs
//! serde; they still use ciborium's serde layer until each gets a `suit-cbor` codec.

use alloc::vec::Vec;
use serde::{de::DeserializeOwned, Serialize};

pub use crate::protocol::CodecError;

/// Deepest CBOR nesting a record may have.
const MAX_DEPTH: usize = 16;

/// Encodes one record. Records can carry secrets (the stored key and state records), so the
/// buffer wipes every allocation it outgrows: no partial copy is left in freed heap.
pub fn encode<T: Serialize>(value: &T) -> Result<Vec<u8>, CodecError> {
    let mut out = Vec::new();
    let written = ciborium::ser::into_writer(value, WipingBuf(&mut out));
    if written.is_err() {
        zeroize::Zeroize::zeroize(&mut out);
        return Err(CodecError::Malformed);
    }
    Ok(out)
}

/// Grows a buffer by moving it by hand, zeroizing the allocation it leaves.
struct WipingBuf<'a>(&'a mut Vec<u8>);

impl ciborium_io::Write for WipingBuf<'_> {
    type Error = CodecError;

    fn write_all(&mut self, data: &[u8]) -> Result<(), CodecError> {
        let needed = self
            .0
            .len()
            .checked_add(data.len())
            .ok_or(CodecError::TooLarge)?;
        if needed > self.0.capacity() {
            let mut grown =
                Vec::with_capacity(needed.max(self.0.capacity().saturating_mul(2)).max(64));
            grown.extend_from_slice(self.0);
            zeroize::Zeroize::zeroize(&mut *self.0);
            *self.0 = grown;
        }
        self.0.extend_from_slice(data);
        Ok(())
    }

    fn flush(&mut self) -> Result<(), CodecError> {
        Ok(())
    }
}

/// Decodes exactly one record of at most `limit` bytes, with bounded nesting.
pub fn decode<T: DeserializeOwned>(bytes: &[u8], limit: usize) -> Result<T, CodecError> {
    if bytes.len() > limit {
        return Err(CodecError::TooLarge);
    }
    let mut rest = bytes;
    let value = ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_DEPTH)
        .map_err(|_| CodecError::Malformed)?;
    if !rest.is_empty() {
        return Err(CodecError::TrailingBytes);
    }
    Ok(value)
}
