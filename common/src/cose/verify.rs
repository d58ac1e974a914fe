//! Verification of one SUIT authentication block.

use alloc::rc::Rc;
use alloc::vec::Vec;

use coset::iana::EnumI64;
use coset::{
    CoseMac, CoseMac0, CoseSign, CoseSign1, Header, RegisteredLabelWithPrivate,
    TaggedCborSerializable,
};

use super::{Algorithm, CoseError, VerificationKey};
use crate::cbor::{self, Decoder, Item};

const TAG_COSE_SIGN1: u64 = 18;
const TAG_COSE_MAC0: u64 = 17;
const TAG_COSE_SIGN: u64 = 98;
const TAG_COSE_MAC: u64 = 97;

/// Most CBOR data items in an authentication block, and in its protected header. A block is
/// parsed before anything is authenticated, by `coset`, which builds a tree of values: this
/// bound keeps that tree small whatever the REE sends (a real block has about ten items).
pub const MAX_AUTH_BLOCK_ITEMS: usize = 64;

/// Most signatures in one COSE_Sign, and most recipients in one COSE_Mac, checked before any
/// cryptography runs: each signature costs a verification per candidate key.
pub const MAX_COSE_SIGNERS: usize = 4;

/// COSE "direct" key distribution (RFC 9053 §6.1.1): the recipient names the shared key.
const ALG_DIRECT: i64 = -6;

#[derive(Debug, Clone)]
enum Structure {
    Sign1(CoseSign1),
    Mac0(CoseMac0),
    /// One signature (by index) of a COSE_Sign; its signatures share the structure.
    Sign(Rc<CoseSign>, usize),
    /// A COSE_Mac whose recipients all use direct key distribution.
    Mac(Rc<CoseMac>),
}

/// A parsed (not yet verified) COSE_Sign1_Tagged or COSE_Mac0_Tagged authentication block.
///
/// Parsing first lets the caller pick candidate keys by algorithm and `kid` before spending a
/// signature verification on each.
#[derive(Debug, Clone)]
pub struct AuthBlock {
    structure: Structure,
    alg: Algorithm,
    kid: Vec<u8>,
}

impl AuthBlock {
    /// Parses a tagged COSE_Sign1 or COSE_Mac0 with a detached payload.
    ///
    /// Runs before authentication: the block and its protected header are first checked to
    /// hold at most [`MAX_AUTH_BLOCK_ITEMS`] items each, so `coset` never allocates in
    /// proportion to an attacker's structure.
    pub fn parse(bytes: &[u8]) -> Result<Self, CoseError> {
        cbor::check_well_formed_within(bytes, MAX_AUTH_BLOCK_ITEMS)
            .map_err(|_| CoseError::Malformed)?;
        let mut d = Decoder::new(bytes);
        if let (Ok(Item::Tag(_)), Ok(Item::Array(_)), Ok(Item::Bytes(protected))) =
            (d.item(), d.item(), d.item())
        {
            if !protected.is_empty() {
                cbor::check_well_formed_within(protected, MAX_AUTH_BLOCK_ITEMS)
                    .map_err(|_| CoseError::Malformed)?;
            }
        }
        let tag = match Decoder::new(bytes).item() {
            Ok(Item::Tag(t)) => t,
            _ => return Err(CoseError::Malformed),
        };
        let (structure, protected, unprotected) = match tag {
            TAG_COSE_SIGN1 => {
                let s = CoseSign1::from_tagged_slice(bytes).map_err(|_| CoseError::Malformed)?;
                if s.payload.is_some() {
                    return Err(CoseError::PayloadNotDetached);
                }
                let (p, u) = (s.protected.header.clone(), s.unprotected.clone());
                (Structure::Sign1(s), p, u)
            }
            TAG_COSE_MAC0 => {
                let m = CoseMac0::from_tagged_slice(bytes).map_err(|_| CoseError::Malformed)?;
                if m.payload.is_some() {
                    return Err(CoseError::PayloadNotDetached);
                }
                let (p, u) = (m.protected.header.clone(), m.unprotected.clone());
                (Structure::Mac0(m), p, u)
            }
            TAG_COSE_SIGN | TAG_COSE_MAC => return Err(CoseError::UnsupportedStructure(tag)),
            _ => return Err(CoseError::Malformed),
        };
        check_headers(&protected, &unprotected)?;
        let alg = algorithm(&protected)?;
        if alg.is_mac() != matches!(structure, Structure::Mac0(_)) {
            return Err(CoseError::KeyAlgorithmMismatch);
        }
        Ok(Self {
            structure,
            alg,
            kid: key_id(protected, unprotected),
        })
    }

    /// Parses any SUIT_Authentication_Block (manifest-37 §8.3): COSE_Sign1 or COSE_Mac0 as
    /// [`AuthBlock::parse`], and COSE_Sign (one entry per signature) or COSE_Mac (one entry).
    ///
    /// A COSE_Sign may hold at most [`MAX_COSE_SIGNERS`] signatures and a COSE_Mac as many
    /// recipients, checked here, before any verification. COSE_Mac recipients must use
    /// direct key distribution with a pre-shared key (alg -6, empty ciphertext, no nested
    /// recipients): the device's MAC keys are provisioned anchors, so a key wrapped or
    /// agreed per message has nothing to unwrap it with; other recipient algorithms are
    /// [`CoseError::UnsupportedRecipient`]. The recipients' `kid`s are key hints.
    pub fn parse_signers(bytes: &[u8]) -> Result<Vec<Self>, CoseError> {
        let tag = match Decoder::new(bytes).item() {
            Ok(Item::Tag(t)) => t,
            _ => return Err(CoseError::Malformed),
        };
        if tag != TAG_COSE_SIGN && tag != TAG_COSE_MAC {
            return Self::parse(bytes).map(|b| alloc::vec![b]);
        }
        cbor::check_well_formed_within(bytes, MAX_AUTH_BLOCK_ITEMS)
            .map_err(|_| CoseError::Malformed)?;
        if tag == TAG_COSE_SIGN {
            let s = CoseSign::from_tagged_slice(bytes).map_err(|_| CoseError::Malformed)?;
            if s.payload.is_some() {
                return Err(CoseError::PayloadNotDetached);
            }
            if s.signatures.is_empty() {
                return Err(CoseError::Malformed);
            }
            if s.signatures.len() > MAX_COSE_SIGNERS {
                return Err(CoseError::TooManySigners);
            }
            // The body's headers carry no algorithm of their own but may still be critical.
            check_headers(&s.protected.header, &s.unprotected)?;
            let mut entries = Vec::with_capacity(s.signatures.len());
            let mut heads = Vec::with_capacity(s.signatures.len());
            for sig in &s.signatures {
                check_headers(&sig.protected.header, &sig.unprotected)?;
                let alg = algorithm(&sig.protected.header)?;
                if alg.is_mac() {
                    return Err(CoseError::KeyAlgorithmMismatch);
                }
                heads.push((
                    alg,
                    key_id(sig.protected.header.clone(), sig.unprotected.clone()),
                ));
            }
            let shared = Rc::new(s);
            for (i, (alg, kid)) in heads.into_iter().enumerate() {
                entries.push(Self {
                    structure: Structure::Sign(Rc::clone(&shared), i),
                    alg,
                    kid,
                });
            }
            return Ok(entries);
        }
        let m = CoseMac::from_tagged_slice(bytes).map_err(|_| CoseError::Malformed)?;
        if m.payload.is_some() {
            return Err(CoseError::PayloadNotDetached);
        }
        if m.recipients.is_empty() {
            return Err(CoseError::Malformed);
        }
        if m.recipients.len() > MAX_COSE_SIGNERS {
            return Err(CoseError::TooManySigners);
        }
        check_headers(&m.protected.header, &m.unprotected)?;
        let alg = algorithm(&m.protected.header)?;
        if !alg.is_mac() {
            return Err(CoseError::KeyAlgorithmMismatch);
        }
        let mut kid = Vec::new();
        for r in &m.recipients {
            check_headers(&r.protected.header, &r.unprotected)?;
            let ralg = match (&r.protected.header.alg, &r.unprotected.alg) {
                (Some(a), None) | (None, Some(a)) => label_id(a)?,
                _ => return Err(CoseError::MissingAlgorithm),
            };
            if ralg != ALG_DIRECT {
                return Err(CoseError::UnsupportedRecipient(ralg));
            }
            if !r.ciphertext.as_ref().is_some_and(|c| c.is_empty()) || !r.recipients.is_empty() {
                return Err(CoseError::Malformed);
            }
            let rkid = key_id(r.protected.header.clone(), r.unprotected.clone());
            if kid.is_empty() {
                kid = rkid;
            }
        }
        Ok(alloc::vec![Self {
            structure: Structure::Mac(Rc::new(m)),
            alg,
            kid,
        }])
    }

    /// The algorithm named in the protected header.
    pub fn algorithm(&self) -> Algorithm {
        self.alg
    }

    /// The key identifier (protected header first, else unprotected); empty if absent.
    /// Only a hint for key selection: it is never trusted on its own.
    pub fn key_id(&self) -> &[u8] {
        &self.kid
    }

    /// Verifies the block over `detached_payload` (for SUIT: the bstr-wrapped SUIT_Digest).
    pub fn verify(&self, detached_payload: &[u8], key: &VerificationKey) -> Result<(), CoseError> {
        if !key.supports(self.alg) {
            return Err(CoseError::KeyAlgorithmMismatch);
        }
        match &self.structure {
            Structure::Sign1(s) => {
                s.verify_detached_signature(detached_payload, &[], |sig, tbs| {
                    key.check(self.alg, tbs, sig)
                })
            }
            Structure::Mac0(m) => {
                let tbm = coset::mac_structure_data(
                    coset::MacContext::CoseMac0,
                    m.protected.clone(),
                    &[],
                    detached_payload,
                );
                key.check(self.alg, &tbm, &m.tag)
            }
            Structure::Sign(s, i) => {
                let sig = s.signatures.get(*i).ok_or(CoseError::Malformed)?;
                let tbs = coset::sig_structure_data(
                    coset::SignatureContext::CoseSignature,
                    s.protected.clone(),
                    Some(sig.protected.clone()),
                    &[],
                    detached_payload,
                );
                key.check(self.alg, &tbs, &sig.signature)
            }
            Structure::Mac(m) => {
                let tbm = coset::mac_structure_data(
                    coset::MacContext::CoseMac,
                    m.protected.clone(),
                    &[],
                    detached_payload,
                );
                key.check(self.alg, &tbm, &m.tag)
            }
        }
    }
}

/// Header rules shared by every COSE layer: no critical parameters we would have to
/// understand, and (RFC 9052 §3) no label in both the protected and unprotected buckets.
fn check_headers(protected: &Header, unprotected: &Header) -> Result<(), CoseError> {
    if !protected.crit.is_empty() {
        return Err(CoseError::UnknownCriticalHeader);
    }
    if in_both(protected, unprotected) {
        return Err(CoseError::Malformed);
    }
    Ok(())
}

/// The key identifier: protected header first, else unprotected; empty if absent.
fn key_id(protected: Header, unprotected: Header) -> Vec<u8> {
    if protected.key_id.is_empty() {
        unprotected.key_id
    } else {
        protected.key_id
    }
}

fn label_id(l: &coset::Algorithm) -> Result<i64, CoseError> {
    match l {
        RegisteredLabelWithPrivate::Assigned(a) => Ok(a.to_i64()),
        RegisteredLabelWithPrivate::PrivateUse(i) => Ok(*i),
        RegisteredLabelWithPrivate::Text(_) => Err(CoseError::UnsupportedAlgorithm(0)),
    }
}

fn in_both(p: &Header, u: &Header) -> bool {
    (p.alg.is_some() && u.alg.is_some())
        || (!p.key_id.is_empty() && !u.key_id.is_empty())
        || (p.content_type.is_some() && u.content_type.is_some())
        || (!p.iv.is_empty() && !u.iv.is_empty())
        || (!p.partial_iv.is_empty() && !u.partial_iv.is_empty())
        || p.rest
            .iter()
            .any(|(l, _)| u.rest.iter().any(|(m, _)| m == l))
}

fn algorithm(protected: &Header) -> Result<Algorithm, CoseError> {
    let id = match &protected.alg {
        None => return Err(CoseError::MissingAlgorithm),
        Some(RegisteredLabelWithPrivate::Assigned(a)) => a.to_i64(),
        Some(RegisteredLabelWithPrivate::PrivateUse(i)) => *i,
        Some(RegisteredLabelWithPrivate::Text(_)) => {
            return Err(CoseError::UnsupportedAlgorithm(0))
        }
    };
    Algorithm::from_cose_id(id).ok_or(CoseError::UnsupportedAlgorithm(id))
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
