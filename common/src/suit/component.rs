//! SUIT_Component_Identifier: a list of byte strings naming a component.

use crate::suit::words::Words;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use crate::cbor::{Decoder, Encoder};
use crate::suit::error::{DecodeContext, Error};

/// Most segments accepted in one component identifier (device policy; the CDDL, `[* bstr]`,
/// sets none).
pub const MAX_SEGMENTS: usize = 16;
/// Longest segment accepted (device policy): a file name (NAME_MAX, 255 bytes on Linux), so
/// an `['ree', ...]` segment the TA accepts is one the agent can create, or a path in one.
pub const MAX_SEGMENT_LEN: usize = 255;
/// Most bytes in all segments together (device policy): what an installed component adds to
/// the state record, a status answer (64 components fit one response) and a normal-world path.
pub const MAX_ID_LEN: usize = 512;

/// A component identifier, e.g. `['usr', 'bin', 'env']` or `[h'00']`.
///
/// Owned, because parameters are shared by component identifier between a manifest and its
/// dependencies (trust domains), whose bytes have different lifetimes. Shared: the engine's
/// per-component lists, and each try-each snapshot of them, copy a reference, not up to 16
/// segments (review s34: 16 live snapshots of 99 long identifiers held 1.7 MiB).
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct ComponentId(Arc<[Vec<u8>]>);

impl ComponentId {
    /// Builds an identifier from its segments.
    pub fn new<S: AsRef<[u8]>>(segments: &[S]) -> Self {
        ComponentId(segments.iter().map(|s| s.as_ref().to_vec()).collect())
    }

    /// The segments.
    pub fn segments(&self) -> &[Vec<u8>] {
        &self.0
    }

    /// True if `prefix`'s segments are the first segments of `self` (the empty prefix matches
    /// everything), which is how permissions are granted for a subtree of components.
    pub fn starts_with(&self, prefix: &ComponentId) -> bool {
        self.0.len() >= prefix.0.len() && self.0.iter().zip(prefix.0.iter()).all(|(a, b)| a == b)
    }

    pub(crate) fn decode(dec: &mut Decoder<'_>) -> Result<Self, Error> {
        const AT: Words = Words::SuitComponentIdentifier;
        let n = dec.array().at(AT)?;
        if n > MAX_SEGMENTS {
            return Err(Error::Limit(Words::ComponentIdentifierSegments));
        }
        let mut segs = Vec::with_capacity(n);
        let mut total = 0usize;
        for _ in 0..n {
            let s = dec.bytes().at(AT)?;
            if s.len() > MAX_SEGMENT_LEN {
                return Err(Error::Limit(Words::ComponentIdentifierSegmentLength));
            }
            total = total.saturating_add(s.len());
            if total > MAX_ID_LEN {
                return Err(Error::Limit(Words::ComponentIdentifierLength));
            }
            segs.push(s.to_vec());
        }
        Ok(ComponentId(segs.into()))
    }

    /// Heap this identifier holds, an upper estimate at 32 bytes per block header: the shared
    /// list of segment vectors and each non-empty segment's bytes.
    pub(crate) fn heap_size(&self) -> usize {
        use core::mem::size_of;
        const BLOCK: usize = 32;
        let list = BLOCK + 2 * size_of::<usize>() + self.0.len() * size_of::<Vec<u8>>();
        self.0.iter().fold(list, |n, s| {
            n.saturating_add(if s.is_empty() { 0 } else { BLOCK + s.len() })
        })
    }

    /// Deterministic CBOR encoding (array of bstr), used as a storage key.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::new();
        self.encode_to(&mut e);
        e.into_bytes()
    }

    /// CBOR diagnostic notation, text segments quoted: `['usr', h'00']` (without `core::fmt`).
    pub fn text(&self) -> alloc::string::String {
        crate::text::component(&self.0)
    }

    /// Writes the identifier (array of bstr) into `e`: the inverse of the decoder above.
    pub fn encode_to(&self, e: &mut Encoder) {
        e.array(self.0.len());
        for s in self.0.iter() {
            e.bytes(s);
        }
    }
}

/// The same text as `Debug` (CBOR diagnostic notation, text segments quoted), for messages.
impl fmt::Display for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl fmt::Debug for ComponentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}
