//! Authentication: the manifest digest, the authentication blocks, the severed members.
//!
//! Order matters and is fixed here: (1) hash the bstr-wrapped manifest and compare with the
//! wrapper's SUIT_Digest, (2) verify authentication blocks over that SUIT_Digest against the
//! trust anchors, (3) only then decode the manifest, and (4) restore severed members whose
//! digests match. Nothing of the manifest is interpreted before step 3.

use alloc::vec::Vec;

use crate::cose::{AuthBlock, CoseError};
use crate::suit::digest::Digest;
use crate::suit::envelope::{Envelope, IntegratedPayload};
use crate::suit::error::{AuthError, Error};
use crate::suit::manifest::{Manifest, Severable};
use crate::suit::policy::{AnchorId, TrustAnchor};

/// An envelope whose manifest is authentic, with the anchors that vouched for it.
#[derive(Debug, Clone)]
pub struct AuthenticatedManifest<'a> {
    /// The decoded manifest (severed members restored where the envelope carried them).
    pub manifest: Manifest,
    /// Anchors whose block verified, in block order, without duplicates.
    pub signers: Vec<AnchorId>,
    /// The manifest digest (SHA-256 over the bstr-wrapped manifest).
    pub digest: Digest,
    pub(crate) integrated: Vec<IntegratedPayload<'a>>,
}

impl<'a> AuthenticatedManifest<'a> {
    /// Integrated payloads and dependencies carried by the envelope.
    pub fn integrated_payloads(&self) -> &[IntegratedPayload<'a>] {
        &self.integrated
    }
}

/// Most signatures (and MACs) in one authentication wrapper, all blocks together, counted
/// before any cryptography; as many as the wrapper may hold Sign1 blocks.
pub const MAX_SIGNATURES: usize = crate::suit::envelope::MAX_AUTH_BLOCKS;

impl<'a> Envelope<'a> {
    /// Authenticates the envelope against `anchors` and decodes its manifest.
    ///
    /// Succeeds if at least one signature (a COSE_Sign1 / COSE_Mac0 block, one signature of a
    /// COSE_Sign, or a COSE_Mac) verifies with a trust anchor; every anchor whose signature
    /// verified is a signer, and per-component required-signer rules count them all.
    /// Signatures whose key is unknown are ignored (an envelope may be countersigned for other
    /// recipients); if none verifies, the error says whether a candidate key was tried and
    /// failed ([`AuthError::BadSignature`]) or no anchor applied at all.
    pub fn authenticate(self, anchors: &[TrustAnchor]) -> Result<AuthenticatedManifest<'a>, Error> {
        Ok(self.verify(anchors)?.decode()?)
    }

    /// Steps (1) and (2) of [`Self::authenticate`]: the manifest bytes are authentic, not yet
    /// decoded. Split so that a refusal of an authentic manifest that does not decode can
    /// still name its digest.
    pub fn verify(self, anchors: &[TrustAnchor]) -> Result<Verified<'a>, Error> {
        let computed = Digest::sha256(self.manifest_encoded);
        if !computed.ct_eq(&self.digest) {
            return Err(AuthError::ManifestDigestMismatch.into());
        }
        if self.auth_blocks.is_empty() {
            return Err(AuthError::NoAuthenticationBlock.into());
        }
        let mut signers = Vec::new();
        let mut attempts = 0u64;
        let mut first_failure: Option<AuthError> = None;
        // A COSE_Sign yields one entry per signature; every other block one entry. All are
        // parsed and counted before any verification runs.
        let mut parsed = Vec::with_capacity(self.auth_blocks.len());
        let mut total = 0usize;
        for (i, raw) in self.auth_blocks.iter().enumerate() {
            match AuthBlock::parse_signers(raw) {
                Ok(b) => {
                    total += b.len();
                    if total > MAX_SIGNATURES {
                        return Err(AuthError::Cose {
                            block: i,
                            error: CoseError::TooManySigners,
                        }
                        .into());
                    }
                    parsed.push((i, b));
                }
                Err(error) => {
                    first_failure.get_or_insert(AuthError::Cose { block: i, error });
                }
            }
        }
        for (i, entries) in &parsed {
            let i = *i;
            for entry in entries {
                // A signature this device cannot use (another algorithm, for another device)
                // is skipped; why is kept in case none verifies.
                let block = match entry {
                    Ok(b) => b,
                    Err(error) => {
                        first_failure.get_or_insert(AuthError::Cose {
                            block: i,
                            error: *error,
                        });
                        continue;
                    }
                };
                // `kid` is a hint (RFC 9052 §3.1): the anchors it names (or that have no kid,
                // or every anchor when the signature names none) first; then every other
                // anchor of the algorithm. Not capped: a signature naming no kid is tried
                // against all of them anyway, so a cap would bound nothing, and would refuse
                // a signer whose tool labels its key differently once the device holds more
                // anchors of the algorithm than the cap.
                let fits = |a: &&TrustAnchor| a.key.supports(block.algorithm());
                let named = |a: &&TrustAnchor| {
                    a.kid.is_empty() || block.key_id().is_empty() || a.kid == block.key_id()
                };
                let candidates = anchors
                    .iter()
                    .filter(fits)
                    .filter(named)
                    .chain(anchors.iter().filter(fits).filter(|a| !named(a)));
                // The signing input is prepared once, at the first candidate.
                let mut verifier = None;
                let mut tried = false;
                let mut verified = false;
                for anchor in candidates {
                    tried = true;
                    attempts += 1;
                    let v = verifier.get_or_insert_with(|| block.verifier(self.digest_encoded));
                    match v.verify(&anchor.key) {
                        Ok(()) => {
                            verified = true;
                            if !signers.contains(&anchor.id) {
                                signers.push(anchor.id);
                            }
                            break;
                        }
                        Err(CoseError::VerificationFailed) => {}
                        Err(error) => {
                            first_failure.get_or_insert(AuthError::Cose { block: i, error });
                        }
                    }
                }
                if tried && !verified {
                    first_failure.get_or_insert(AuthError::BadSignature { block: i });
                }
            }
        }
        if signers.is_empty() {
            return Err(first_failure
                .unwrap_or(AuthError::NoMatchingTrustAnchor)
                .into());
        }

        Ok(Verified {
            envelope: self,
            signers,
            digest: computed,
            attempts,
        })
    }

    /// Step (1) only, for an envelope whose manifest [`Self::verify`] already found authentic
    /// with digest `digest` and signers `signers` (the interpreter's held dependencies): the
    /// manifest must still hash to that digest, and no signature is verified again.
    pub(crate) fn verified_before(
        self,
        digest: Digest,
        signers: Vec<AnchorId>,
    ) -> Result<Verified<'a>, Error> {
        let computed = Digest::sha256(self.manifest_encoded);
        if !computed.ct_eq(&digest) || !self.digest.ct_eq(&digest) {
            return Err(AuthError::ManifestDigestMismatch.into());
        }
        Ok(Verified {
            envelope: self,
            signers,
            digest,
            attempts: 0,
        })
    }
}

/// An envelope whose manifest digest matched and at least one authentication block verified:
/// its manifest bytes are authentic, not yet decoded.
#[derive(Debug)]
pub struct Verified<'a> {
    envelope: Envelope<'a>,
    /// Anchors whose block verified, in block order, without duplicates.
    pub signers: Vec<AnchorId>,
    /// The manifest digest (SHA-256 over the bstr-wrapped manifest).
    pub digest: Digest,
    /// Signature verifications tried (each a candidate anchor for a signature), for a caller
    /// that charges for them.
    pub(crate) attempts: u64,
}

/// Why [`Verified::decode`] failed, by whose bytes are at fault.
#[derive(Debug)]
#[non_exhaustive]
pub enum DecodeError {
    /// The authentic manifest, or a severed member matching the digest it names, does not
    /// decode: a refusal may name the manifest's digest.
    Manifest(Error),
    /// The envelope carries a severed member the manifest does not name, or one whose digest
    /// does not match: bytes no signature covers, so nothing may be said of the manifest.
    Envelope(Error),
}

#[cfg(feature = "explain")]
impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DecodeError::Manifest(e) => {
                write!(f, "the authenticated manifest does not decode: {e}")
            }
            DecodeError::Envelope(e) => write!(f, "the envelope does not match its manifest: {e}"),
        }
    }
}

#[cfg(feature = "explain")]
impl core::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            DecodeError::Manifest(e) | DecodeError::Envelope(e) => Some(e),
        }
    }
}

impl From<DecodeError> for Error {
    fn from(e: DecodeError) -> Self {
        match e {
            DecodeError::Manifest(e) | DecodeError::Envelope(e) => e,
        }
    }
}

impl<'a> Verified<'a> {
    /// Steps (3) and (4): decodes the manifest and restores the severed members.
    pub fn decode(self) -> Result<AuthenticatedManifest<'a>, DecodeError> {
        let Verified {
            envelope,
            signers,
            digest,
            ..
        } = self;
        let mut manifest = Manifest::decode(envelope.manifest).map_err(DecodeError::Manifest)?;
        for member in &envelope.severed {
            let expected = match manifest.severable(member.label) {
                Severable::Severed(digest) => digest,
                // The manifest holds the member inline (the envelope's CDDL allows a copy as
                // well): the authenticated one is used, the copy ignored, unread. It counted
                // towards the envelope's bounds when the envelope was decoded.
                Severable::Present(()) => continue,
                Severable::Absent => {
                    return Err(DecodeError::Envelope(
                        AuthError::UnexpectedEnvelopeMember {
                            member: member.label,
                        }
                        .into(),
                    ))
                }
            };
            if !Digest::sha256(member.encoded).ct_eq(&expected) {
                return Err(DecodeError::Envelope(
                    AuthError::SeveredMemberDigestMismatch {
                        member: member.label,
                    }
                    .into(),
                ));
            }
            manifest
                .restore_severed(member.label, member.content)
                .map_err(DecodeError::Manifest)?;
        }
        Ok(AuthenticatedManifest {
            manifest,
            signers,
            digest,
            integrated: envelope.integrated,
        })
    }
}
