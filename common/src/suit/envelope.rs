//! SUIT_Envelope (tag 107 or untagged): authentication wrapper, manifest, severed members and
//! integrated payloads.
//!
//! Decoding an envelope only splits it into those parts; the manifest stays opaque bytes until
//! [`Envelope::authenticate`](crate::suit::authenticate) has checked digest and signatures.

use crate::suit::words::Words;
use alloc::vec::Vec;

use crate::cbor::{self, Decoder, Item, SeenKeys};
use crate::registry::EnvelopeKey;
use crate::suit::digest::Digest;
use crate::suit::error::{DecodeContext, Error, Unsupported};

/// Largest envelope accepted (manifest, severed members and integrated payloads together).
pub const MAX_ENVELOPE_LEN: usize = 512 * 1024;
/// Most authentication blocks accepted in one wrapper.
pub const MAX_AUTH_BLOCKS: usize = 8;
/// Most integrated payloads accepted in one envelope.
pub const MAX_INTEGRATED_PAYLOADS: usize = 8;

const TAG_ENVELOPE: u64 = 107;
const TAG_MANIFEST: u64 = 1070;

/// A member moved out of the manifest into the envelope.
#[derive(Debug, Clone, Copy)]
pub(crate) struct SeveredMember<'a> {
    pub label: i64,
    /// The whole bstr (header included): what the manifest's digest covers.
    pub encoded: &'a [u8],
    /// The bstr content.
    pub content: &'a [u8],
}

/// An integrated payload or integrated dependency: `"#name" => bstr`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IntegratedPayload<'a> {
    /// The key (a URI reference, conventionally starting with `#`).
    pub key: &'a str,
    /// The payload bytes.
    pub bytes: &'a [u8],
}

/// A decoded but **unauthenticated** envelope.
#[derive(Debug, Clone)]
pub struct Envelope<'a> {
    pub(crate) digest: Digest,
    /// Encoded SUIT_Digest (bstr content): the detached payload of every authentication block.
    pub(crate) digest_encoded: &'a [u8],
    pub(crate) auth_blocks: Vec<&'a [u8]>,
    /// The manifest bstr with its header: what the digest covers.
    pub(crate) manifest_encoded: &'a [u8],
    pub(crate) manifest: &'a [u8],
    pub(crate) severed: Vec<SeveredMember<'a>>,
    pub(crate) integrated: Vec<IntegratedPayload<'a>>,
}

impl<'a> Envelope<'a> {
    /// Splits an envelope into its parts, checking structure and bounds only.
    pub fn decode(bytes: &'a [u8]) -> Result<Self, Error> {
        const AT: Words = Words::SuitEnvelope;
        if bytes.len() > MAX_ENVELOPE_LEN {
            return Err(Error::Limit(Words::EnvelopeSize));
        }
        cbor::check_well_formed(bytes).at(AT)?;
        let mut dec = Decoder::new(bytes);
        if let Item::Tag(t) = dec.peek().at(AT)? {
            match t {
                TAG_ENVELOPE => {
                    dec.tag().at(AT)?;
                }
                TAG_MANIFEST => {
                    return Err(Error::Unsupported(Unsupported::UnauthenticatedManifest))
                }
                _ => {
                    return Err(Error::Invalid {
                        at: AT,
                        reason: Words::UnexpectedTagExpected107,
                    })
                }
            }
        }
        let n = dec.map().at(AT)?;
        let mut seen = SeenKeys::default();
        let mut wrapper = None;
        let mut manifest = None;
        let mut severed = Vec::new();
        let mut integrated: Vec<IntegratedPayload<'a>> = Vec::new();
        for _ in 0..n {
            let off = dec.position();
            match dec.item().at(AT)? {
                Item::Uint(l) => {
                    let label = i64::try_from(l).unwrap_or(i64::MAX);
                    match EnvelopeKey::from_value(label) {
                        Some(EnvelopeKey::AuthenticationWrapper) => {
                            // "SUIT_Authentication MUST come before the suit-manifest element."
                            // Named here, where a wrapper follows the manifest: an envelope
                            // with no wrapper at all is refused below as missing one.
                            if manifest.is_some() {
                                return Err(Error::Invalid {
                                    at: AT,
                                    reason: Words::ManifestBeforeAuthentication,
                                });
                            }
                            seen.insert(label, off).at(AT)?;
                            wrapper = Some(dec.bytes().at(AT)?);
                        }
                        Some(EnvelopeKey::Manifest) => {
                            seen.insert(label, off).at(AT)?;
                            manifest = Some(dec.bytes_with_encoding().at(AT)?);
                        }
                        Some(member) if member.is_severable() => {
                            seen.insert(label, off).at(AT)?;
                            let (content, encoded) = dec.bytes_with_encoding().at(AT)?;
                            severed.push(SeveredMember {
                                label,
                                encoded,
                                content,
                            });
                        }
                        _ => return Err(Error::Unsupported(Unsupported::Member(label))),
                    }
                }
                Item::Text(key) => {
                    // check_well_formed already refused duplicate keys; canonical order puts
                    // shorter keys first, then bytewise.
                    seen.text_key();
                    if integrated.last().is_some_and(|p| {
                        (p.key.len(), p.key.as_bytes()) >= (key.len(), key.as_bytes())
                    }) {
                        return Err(Error::Decode {
                            at: AT,
                            error: cbor::CborError {
                                kind: cbor::CborErrorKind::NonCanonicalOrder,
                                offset: off,
                            },
                        });
                    }
                    if integrated.len() >= MAX_INTEGRATED_PAYLOADS {
                        return Err(Error::Limit(Words::IntegratedPayloads));
                    }
                    let bytes = dec.bytes().at(AT)?;
                    integrated.push(IntegratedPayload { key, bytes });
                }
                // A private-use label is a member like any other this engine does not know.
                Item::Nint(l) => {
                    let label = i64::try_from(l).map_or(i64::MIN, |l| -1 - l);
                    return Err(Error::Unsupported(Unsupported::Member(label)));
                }
                _ => {
                    return Err(Error::Invalid {
                        at: AT,
                        reason: Words::EnvelopeKeyType,
                    })
                }
            }
        }
        dec.finish().at(AT)?;
        let wrapper = wrapper.ok_or(Error::Invalid {
            at: AT,
            reason: Words::MissingSuitAuthenticationWrapper,
        })?;
        let (manifest, manifest_encoded) = manifest.ok_or(Error::Invalid {
            at: AT,
            reason: Words::MissingSuitManifest,
        })?;

        const AW: Words = Words::SuitAuthentication;
        let mut w = Decoder::new(wrapper);
        let count = w.array().at(AW)?;
        if count == 0 {
            return Err(Error::Invalid {
                at: AW,
                reason: Words::MissingSuitDigest,
            });
        }
        if count - 1 > MAX_AUTH_BLOCKS {
            return Err(Error::Limit(Words::AuthenticationBlocks));
        }
        let digest_encoded = w.bytes().at(AW)?;
        let digest = Digest::decode_all(digest_encoded)?;
        let mut auth_blocks = Vec::with_capacity(count - 1);
        for _ in 1..count {
            auth_blocks.push(w.bytes().at(AW)?);
        }
        w.finish().at(AW)?;

        Ok(Envelope {
            digest,
            digest_encoded,
            auth_blocks,
            manifest_encoded,
            manifest,
            severed,
            integrated,
        })
    }

    /// Integrated payloads and dependencies carried by the envelope.
    pub fn integrated_payloads(&self) -> &[IntegratedPayload<'a>] {
        &self.integrated
    }

    /// The digest of the manifest claimed by the authentication wrapper (not yet checked).
    pub fn claimed_digest(&self) -> Digest {
        self.digest
    }

    /// Number of authentication blocks (signatures / MACs).
    pub fn auth_block_count(&self) -> usize {
        self.auth_blocks.len()
    }

    /// The raw (unverified) authentication blocks, e.g. for a tool that reports which
    /// algorithm and key id each one names (parse them with `cose::AuthBlock::parse`).
    pub fn auth_blocks(&self) -> &[&'a [u8]] {
        &self.auth_blocks
    }
}
