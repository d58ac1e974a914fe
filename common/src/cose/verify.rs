//! Verification of one SUIT authentication block.

use alloc::vec::Vec;

use super::key::Prepared;
use super::wire::{
    self, Context, Headers, IntOrText, ToBeSigned, TAG_MAC, TAG_MAC0, TAG_SIGN, TAG_SIGN1,
};
use super::{Algorithm, CoseError, VerificationKey};
use crate::cbor;

/// Most CBOR data items in an authentication block, and in its protected header, checked
/// before it is parsed (a real block has about ten items).
pub const MAX_AUTH_BLOCK_ITEMS: usize = 64;

/// Most signatures in one COSE_Sign, and most recipients in one COSE_Mac, checked before any
/// cryptography runs: each signature costs a verification per candidate key.
pub const MAX_COSE_SIGNERS: usize = 4;

/// COSE "direct" key distribution (RFC 9053 §6.1.1): the recipient names the shared key.
const ALG_DIRECT: i64 = -6;

/// A parsed (not yet verified) authentication block: COSE_Sign1, COSE_Mac0, one signature of
/// a COSE_Sign, or a COSE_Mac.
///
/// Parsing first lets the caller pick candidate keys by algorithm and `kid` before spending a
/// signature verification on each. Everything is borrowed from the block, protected buckets
/// byte for byte as received (they are what was signed): the signatures of a COSE_Sign share
/// its body bucket, so no part of an unauthenticated block is copied per signature.
#[derive(Debug, Clone)]
pub struct AuthBlock<'a> {
    context: Context,
    body_protected: &'a [u8],
    /// The COSE_Signature's protected bucket (COSE_Sign only).
    sign_protected: &'a [u8],
    signature: &'a [u8],
    alg: Algorithm,
    kid: &'a [u8],
}

/// One signature of a COSE_Sign as [`AuthBlock::parse_signers`] reads it: usable, or why not
/// (for the error message if no other signature verifies).
pub type SignerEntry<'a> = Result<AuthBlock<'a>, CoseError>;

impl<'a> AuthBlock<'a> {
    /// Parses a tagged COSE_Sign1 or COSE_Mac0 with a detached payload.
    ///
    /// Runs before authentication: the block and its protected header are first checked to
    /// hold at most [`MAX_AUTH_BLOCK_ITEMS`] items each.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, CoseError> {
        cbor::check_well_formed_any_within(bytes, MAX_AUTH_BLOCK_ITEMS)
            .map_err(|_| CoseError::Malformed)?;
        let (tag, context) = match wire::leading_tag(bytes) {
            Some(TAG_SIGN1) => (TAG_SIGN1, Context::Signature1),
            Some(TAG_MAC0) => (TAG_MAC0, Context::Mac0),
            Some(t @ (TAG_SIGN | TAG_MAC)) => return Err(CoseError::UnsupportedStructure(t)),
            _ => return Err(CoseError::Malformed),
        };
        let s = wire::single(bytes, tag, true)?;
        if s.payload.is_some() {
            return Err(CoseError::PayloadNotDetached);
        }
        Self::from_single(context, &s)
    }

    /// A COSE_Sign1 or COSE_Mac0 already read (its payload is the caller's business).
    pub(crate) fn from_single(context: Context, s: &wire::Single<'a>) -> Result<Self, CoseError> {
        s.headers.check()?;
        let alg = algorithm(&s.headers)?;
        if alg.is_mac() != (context == Context::Mac0) {
            return Err(CoseError::KeyAlgorithmMismatch);
        }
        Ok(Self {
            context,
            body_protected: s.headers.protected_bytes,
            sign_protected: &[],
            signature: s.signature,
            alg,
            kid: s.headers.kid(),
        })
    }

    /// Parses any SUIT_Authentication_Block (manifest-37 §8.3): COSE_Sign1 or COSE_Mac0 as
    /// [`AuthBlock::parse`], and COSE_Sign (one entry per signature) or COSE_Mac (one entry).
    ///
    /// The outer error is the block's (structure, body headers). A COSE_Sign's signatures are
    /// judged one by one: one with an algorithm this device lacks, or headers it cannot
    /// honour, is an `Err` entry and the others stay usable, because several signatures are
    /// how authors migrate algorithms (manifest-37 §8.3) and countersign for other devices.
    ///
    /// A COSE_Sign may hold at most [`MAX_COSE_SIGNERS`] signatures and a COSE_Mac as many
    /// recipients, checked here, before any verification. COSE_Mac recipients must use
    /// direct key distribution with a pre-shared key (alg -6 unprotected, no protected
    /// parameter, empty ciphertext, no nested recipients): the device's MAC keys are
    /// provisioned anchors, so a key wrapped or agreed per message has nothing to unwrap it
    /// with; other recipient algorithms are [`CoseError::UnsupportedRecipient`]. The
    /// recipients' `kid`s are key hints.
    pub fn parse_signers(bytes: &'a [u8]) -> Result<Vec<SignerEntry<'a>>, CoseError> {
        let tag = wire::leading_tag(bytes).ok_or(CoseError::Malformed)?;
        if tag != TAG_SIGN && tag != TAG_MAC {
            return Self::parse(bytes).map(|b| alloc::vec![Ok(b)]);
        }
        cbor::check_well_formed_any_within(bytes, MAX_AUTH_BLOCK_ITEMS)
            .map_err(|_| CoseError::Malformed)?;
        if tag == TAG_SIGN {
            let s = wire::sign(bytes, MAX_COSE_SIGNERS)?;
            if s.payload.is_some() {
                return Err(CoseError::PayloadNotDetached);
            }
            // The body's headers carry no algorithm of their own but may still be critical.
            s.headers.check()?;
            let body_protected = s.headers.protected_bytes;
            let signer = |sig: &wire::Signature<'a>| {
                let headers = sig.headers.as_ref().map_err(|e| *e)?;
                headers.check()?;
                let alg = algorithm(headers)?;
                if alg.is_mac() {
                    return Err(CoseError::KeyAlgorithmMismatch);
                }
                Ok(Self {
                    context: Context::Signature,
                    body_protected,
                    sign_protected: headers.protected_bytes,
                    signature: sig.signature,
                    alg,
                    kid: headers.kid(),
                })
            };
            return Ok(s.signatures.iter().map(signer).collect());
        }
        let m = wire::mac(bytes, MAX_COSE_SIGNERS)?;
        if m.payload.is_some() {
            return Err(CoseError::PayloadNotDetached);
        }
        m.headers.check()?;
        let alg = algorithm(&m.headers)?;
        if !alg.is_mac() {
            return Err(CoseError::KeyAlgorithmMismatch);
        }
        let mut kid: &[u8] = &[];
        for r in &m.recipients {
            r.headers.check()?;
            let ralg = match (r.headers.protected.alg, r.headers.unprotected.alg) {
                (Some(a), None) | (None, Some(a)) => alg_id(a)?,
                _ => return Err(CoseError::MissingAlgorithm),
            };
            if ralg != ALG_DIRECT {
                return Err(CoseError::UnsupportedRecipient(ralg));
            }
            // RFC 9053 §6.1.1: with direct, "the 'protected' field MUST be zero length". An
            // empty map in it (h'a0') is read as empty, as RFC 9052 §3 asks of recipients.
            if !r.ciphertext.is_some_and(|c| c.is_empty())
                || r.nested
                || !r.headers.protected.labels.is_empty()
            {
                return Err(CoseError::Malformed);
            }
            if kid.is_empty() {
                kid = r.headers.kid();
            }
        }
        Ok(alloc::vec![Ok(Self {
            context: Context::Mac,
            body_protected: m.headers.protected_bytes,
            sign_protected: &[],
            signature: m.tag,
            alg,
            kid,
        })])
    }

    /// The algorithm named in the protected header.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key identifier (protected header first, else unprotected); empty if absent.
    /// Only a hint for key selection: it is never trusted on its own.
    pub fn key_id(&self) -> &'a [u8] {
        self.kid
    }

    /// Verifies the block over `detached_payload` (for SUIT: the bstr-wrapped SUIT_Digest).
    pub fn verify(&self, detached_payload: &[u8], key: &VerificationKey) -> Result<(), CoseError> {
        self.verifier(detached_payload).verify(key)
    }

    /// Prepares the signing input over `detached_payload` once, for trying several keys:
    /// hashed for ECDSA, built for Ed25519 and HSS-LMS (see [`Verifier`]).
    pub fn verifier<'v>(&'v self, detached_payload: &'v [u8]) -> Verifier<'v> {
        let tbs = ToBeSigned {
            context: self.context,
            body_protected: self.body_protected,
            sign_protected: self.sign_protected,
            payload: detached_payload,
        };
        Verifier {
            alg: self.alg,
            signature: self.signature,
            input: Prepared::new(self.alg, tbs),
        }
    }
}

/// One block's signing input, prepared once, checked against candidate keys: the keys tried
/// for one signature cost a verification each, not a signing input each.
pub struct Verifier<'v> {
    alg: Algorithm,
    signature: &'v [u8],
    input: Prepared<'v>,
}

impl Verifier<'_> {
    /// Verifies the signature (or MAC tag) with `key`.
    pub fn verify(&self, key: &VerificationKey) -> Result<(), CoseError> {
        if !key.supports(self.alg) {
            return Err(CoseError::KeyAlgorithmMismatch);
        }
        key.check(self.alg, &self.input, self.signature)
    }
}

/// An `alg` value as an integer; text algorithm names are not implemented.
fn alg_id(a: IntOrText<'_>) -> Result<i64, CoseError> {
    match a {
        IntOrText::Int(i) => Ok(i),
        IntOrText::Text(_) => Err(CoseError::UnsupportedAlgorithm(0)),
    }
}

/// The algorithm, from the protected bucket only (an unprotected `alg` is not signed).
fn algorithm(h: &Headers<'_>) -> Result<Algorithm, CoseError> {
    let id = alg_id(h.protected.alg.ok_or(CoseError::MissingAlgorithm)?)?;
    let alg = Algorithm::from_cose_id(id).ok_or(CoseError::UnsupportedAlgorithm(id))?;
    if !alg.enabled() {
        return Err(CoseError::AlgorithmNotEnabled(id));
    }
    Ok(alg)
}

/// Parses and verifies one authentication block in one step; returns its algorithm.
pub fn verify_auth_block(
    block: &[u8],
    detached_payload: &[u8],
    key: &VerificationKey,
) -> Result<Algorithm, CoseError> {
    let parsed = AuthBlock::parse(block)?;
    parsed.verify(detached_payload, key)?;
    Ok(parsed.alg)
}
