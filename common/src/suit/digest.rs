//! SUIT_Digest (draft-ietf-suit-manifest §10): algorithm id + digest bytes.

use crate::suit::words::Words;
use subtle::ConstantTimeEq;

use crate::cbor::Decoder;
use crate::suit::error::{DecodeContext, Error, Unsupported};

/// COSE algorithm id of SHA-256, the only digest SUIT requires and the only one accepted here.
pub const COSE_ALG_SHA256: i64 = crate::registry::CoseAlg::Sha256.value();

/// Longest encoded SUIT_Digest accepted (device policy): SHA-512 and small extensions fit.
/// The authentication wrapper's digest is every signature's detached payload, which Ed25519
/// and HSS-LMS verification copy whole before the signature is checked; this bounds that copy.
pub const MAX_DIGEST_LEN: usize = 256;

/// A SHA-256 SUIT_Digest.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Digest(pub [u8; 32]);

impl core::fmt::Debug for Digest {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "Digest(sha256:{})", crate::text::hex(&self.0))
    }
}

impl Digest {
    /// SHA-256 of `data` (with the installed [`crate::crypto`] provider).
    pub fn sha256(data: &[u8]) -> Self {
        Digest(crate::crypto::sha256(data))
    }

    /// Constant-time comparison (digests of secret plaintext must not leak through timing).
    pub fn ct_eq(&self, other: &Digest) -> bool {
        self.0.ct_eq(&other.0).into()
    }

    /// Decodes `[alg, bytes, *extensions]` from `dec`; at most [`MAX_DIGEST_LEN`] bytes.
    pub(crate) fn decode(dec: &mut Decoder<'_>) -> Result<Self, Error> {
        const AT: Words = Words::SuitDigest;
        let start = dec.position();
        let len = dec.array().at(AT)?;
        if len < 2 {
            return Err(Error::Invalid {
                at: AT,
                reason: Words::NeedsAlgorithmAndBytes,
            });
        }
        let alg = dec.int().at(AT)?;
        let bytes = dec.bytes().at(AT)?;
        // Extensions are allowed by the CDDL; none changes how SHA-256 is checked.
        for _ in 2..len {
            dec.skip().at(AT)?;
        }
        if dec.position().saturating_sub(start) > MAX_DIGEST_LEN {
            return Err(Error::Limit(Words::SuitDigestSize));
        }
        if alg != COSE_ALG_SHA256 {
            return Err(Error::Unsupported(Unsupported::DigestAlgorithm(alg)));
        }
        let value: [u8; 32] = bytes.try_into().map_err(|_| Error::Invalid {
            at: AT,
            reason: Words::Sha256DigestMustBe32Bytes,
        })?;
        Ok(Digest(value))
    }

    /// Decodes a complete SUIT_Digest occupying all of `bytes`, refusing one longer than
    /// [`MAX_DIGEST_LEN`] before reading it.
    pub(crate) fn decode_all(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_DIGEST_LEN {
            return Err(Error::Limit(Words::SuitDigestSize));
        }
        let mut dec = Decoder::new(bytes);
        let d = Self::decode(&mut dec)?;
        dec.finish().at(Words::SuitDigest)?;
        Ok(d)
    }

    /// Encodes as a SUIT_Digest array.
    pub fn encode(&self) -> alloc::vec::Vec<u8> {
        let mut out = alloc::vec::Vec::with_capacity(36);
        out.extend_from_slice(&[0x82, 0x2f, 0x58, 0x20]);
        out.extend_from_slice(&self.0);
        out
    }
}

/// Streaming SHA-256 for payloads that arrive in chunks (with the installed
/// [`crate::crypto`] provider).
pub(crate) struct DigestStream(alloc::boxed::Box<dyn crate::crypto::Sha256Hash>);

impl Default for DigestStream {
    fn default() -> Self {
        Self(crate::crypto::provider().sha256.start())
    }
}

impl DigestStream {
    pub(crate) fn update(&mut self, data: &[u8]) {
        self.0.update(data);
    }
    pub(crate) fn finish(self) -> Digest {
        Digest(self.0.finish())
    }
}
