//! Receipts: what the device applied, signed by its identity key.

use alloc::vec::Vec;
use sha2::{Digest as _, Sha256};

use crate::cbor::{Encoder, Field};
use crate::cose::{AuthBlock, CoseError, VerificationKey};
use crate::protocol;
use crate::protocol::ByteBuf;
use crate::service::state::State;

use super::Kek;
#[cfg(doc)]
use super::TPA_ROOT_ID;

/// COSE_Sign1 payload of a provisioning receipt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Receipt {
    /// The counter of the message just applied (= the device's counter of the signer's kind
    /// now: the root's if `signer` is 0, the delegates' otherwise).
    pub counter: u64,
    /// [`state_digest`] of the anchors, rules, identity and KEKs (ids) after the message.
    pub state_digest: ByteBuf,
    /// Key id of the identity key that signed.
    pub device: ByteBuf,
    /// SHA-256 of the whole provisioning message applied.
    pub message_digest: ByteBuf,
    /// Anchor id of the message's signer, [`TPA_ROOT_ID`] for the root: which counter
    /// `counter` is (absent from receipts of devices with one counter: 0).
    pub signer: u32,
}

crate::cbor::struct_codec!(Receipt {
    counter,
    state_digest,
    device,
    message_digest,
    signer = default,
});

/// SHA-256 over the canonical encoding (this crate's deterministic CBOR serialization of the
/// fields, in state order) of the identity, anchors (public key bytes; symmetric keys by kid
/// only), rules and KEKs (id and anchors).
pub fn state_digest(state: &State, keks: &[Kek]) -> Result<[u8; 32], protocol::CodecError> {
    // A fixed layout (an author tool checks receipts against it): {identity, anchors: [{id, role, scope, public_key, kid}], rules, keks: [[kid,
    // anchors]]}, with `public_key` an array of byte values and empty for a symmetric key:
    // no hash of a secret key leaves the TA (a key statement's keyed, per-device check value,
    // `statement::anchor_key_check`, is the one value computed with it that does).
    let mut e = Encoder::new();
    e.map(4).text("identity");
    state.identity.put(&mut e);
    e.text("anchors").array(state.anchors.len());
    for a in &state.anchors {
        let (symmetric, kid) = match VerificationKey::from_cose_key(&a.cose_key) {
            Ok((key, kid)) => (key.is_symmetric(), kid),
            Err(_) => (false, Vec::new()),
        };
        let public_key: &[u8] = if symmetric { &[] } else { &a.cose_key };
        e.map(5).text("id").uint(u64::from(a.id)).text("role");
        a.role.put(&mut e);
        e.text("scope");
        a.scope.put(&mut e);
        e.text("public_key").array(public_key.len());
        for byte in public_key {
            e.uint(u64::from(*byte));
        }
        e.text("kid").bytes(&kid);
    }
    e.text("rules");
    state.rules.put(&mut e);
    e.text("keks").array(keks.len());
    for k in keks {
        e.array(2);
        k.kid.put(&mut e);
        k.anchors.put(&mut e);
    }
    Ok(Sha256::digest(e.into_bytes()).into())
}

/// Largest receipt accepted when verifying.
pub const MAX_RECEIPT: usize = 1024;

/// Signs a receipt with the device identity key: a tagged COSE_Sign1, ESP256, `kid` =
/// the identity key id, the encoded [`Receipt`] as attached payload.
pub fn sign_receipt(receipt: &Receipt, identity: &p256::SecretKey) -> Result<Vec<u8>, CoseError> {
    use crate::cose::{wire, Algorithm};
    let payload = crate::service::record::encode(receipt).map_err(|_| CoseError::SigningFailed)?;
    let signing = p256::ecdsa::SigningKey::from(identity);
    let protected = wire::protected_alg(Algorithm::Esp256.cose_id(), None);
    wire::sign1_tagged(&protected, &receipt.device, &payload, |tbs| {
        use p256::ecdsa::signature::Signer;
        let sig: p256::ecdsa::Signature = signing
            .try_sign(tbs)
            .map_err(|_| CoseError::SigningFailed)?;
        Ok(sig.to_bytes().to_vec())
    })
}

/// Why a receipt does not verify.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReceiptError {
    TooLarge,
    Malformed(&'static str),
    Signature(CoseError),
}

#[cfg(feature = "explain")]
impl core::fmt::Display for ReceiptError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ReceiptError::TooLarge => write!(f, "receipt exceeds {MAX_RECEIPT} bytes"),
            ReceiptError::Malformed(what) => write!(f, "malformed receipt: {what}"),
            ReceiptError::Signature(e) => {
                write!(f, "the receipt is not signed by this identity key ({e})")
            }
        }
    }
}

#[cfg(feature = "explain")]
impl core::error::Error for ReceiptError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            ReceiptError::Signature(e) => Some(e),
            _ => None,
        }
    }
}

/// Verifies a receipt with the device's identity public key and decodes it. The kid in
/// the payload must be that key's id.
pub fn verify_receipt(bytes: &[u8], identity_sec1: &[u8]) -> Result<Receipt, ReceiptError> {
    use crate::cose::wire;
    if bytes.len() > MAX_RECEIPT {
        return Err(ReceiptError::TooLarge);
    }
    crate::cbor::check_well_formed_any_within(bytes, crate::cose::MAX_AUTH_BLOCK_ITEMS)
        .map_err(|_| ReceiptError::Malformed("not CBOR"))?;
    let sign1 = wire::single(bytes, wire::TAG_SIGN1, false)
        .map_err(|_| ReceiptError::Malformed("not a COSE_Sign1"))?;
    let payload = sign1
        .payload
        .ok_or(ReceiptError::Malformed("payload is detached"))?;
    let key = VerificationKey::p256_from_sec1(identity_sec1).map_err(ReceiptError::Signature)?;
    let block = AuthBlock::from_single(wire::Context::Signature1, &sign1)
        .map_err(ReceiptError::Signature)?;
    if block.algorithm() != crate::cose::Algorithm::Esp256 {
        return Err(ReceiptError::Malformed("receipts are signed with ESP256"));
    }
    block
        .verify(payload, &key)
        .map_err(ReceiptError::Signature)?;
    let receipt: Receipt = crate::service::record::decode(payload, MAX_RECEIPT)
        .map_err(|_| ReceiptError::Malformed("payload is not a receipt"))?;
    if receipt.device.as_slice() != crate::service::keys::key_id(identity_sec1).as_slice() {
        return Err(ReceiptError::Malformed(
            "the receipt names another device than the key that signed it",
        ));
    }
    Ok(receipt)
}
