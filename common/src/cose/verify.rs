//! Verification of one SUIT authentication block.

use alloc::vec::Vec;

use coset::iana::EnumI64;
use coset::{CoseMac0, CoseSign1, Header, RegisteredLabelWithPrivate, TaggedCborSerializable};

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

#[derive(Debug, Clone)]
enum Structure {
    Sign1(CoseSign1),
    Mac0(CoseMac0),
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
        if !protected.crit.is_empty() {
            return Err(CoseError::UnknownCriticalHeader);
        }
        // RFC 9052 §3: a label must not occur in both the protected and unprotected buckets.
        if in_both(&protected, &unprotected) {
            return Err(CoseError::Malformed);
        }
        let alg = algorithm(&protected)?;
        if alg.is_mac() != matches!(structure, Structure::Mac0(_)) {
            return Err(CoseError::KeyAlgorithmMismatch);
        }
        let kid = if protected.key_id.is_empty() {
            unprotected.key_id
        } else {
            protected.key_id
        };
        Ok(Self {
            structure,
            alg,
            kid,
        })
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
        }
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
