//! Key statements: the device's signed word on which public keys are its own.
//!
//! A statement is a COSE_Sign1 (tag 18, ESP256, attached payload, protected content type
//! [`CONTENT_TYPE`]) made with the device *identity* key over a CBOR [`KeyStatement`] that
//! names every exported key with its purpose and, for payload-decryption keys, the anchor
//! whose manifests they decrypt: its id, key scope and the key it holds ([`anchor_key_check`]),
//! so an author encrypting to "anchor 1" can check that anchor 1 is still its own key (ids are
//! re-bound by removing and adding). Whoever holds the identity key's public
//! half from a trusted source (factory enrolment, see SECURITY.md) can check that exported
//! keys really are the TA's, instead of trusting whatever the normal world hands over.

use alloc::string::String;
use alloc::vec::Vec;

use crate::protocol::ByteBuf;

use crate::cbor::{self, Decoder, Encoder, Item};
use crate::cose::{wire, Algorithm, KeyMaterial, Prepared, VerificationKey};

use super::keys::{key_id, PublicKeyInfo};

/// Protected-header content type of a key statement (so it is never mistaken for a report
/// or anything else the identity key signs).
pub const CONTENT_TYPE: &str = "application/vnd.suit-tee.key-statement+cbor";
/// Value of [`KeyStatement::statement`].
pub const STATEMENT_KIND: &str = "suit-tee device keys v2";
/// The kind before anchors were named by their key: refused, with a message saying so.
const STATEMENT_KIND_V1: &str = "suit-tee device keys v1";
/// Largest signed statement accepted.
pub const MAX_STATEMENT: usize = 4096;

/// What the device states about its keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyStatement {
    /// Always [`STATEMENT_KIND`].
    pub statement: String,
    /// Key id of the identity key that signs (the device's id).
    pub device: ByteBuf,
    pub keys: Vec<StatedKey>,
}

/// One public key and what it is for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StatedKey {
    /// `identity`, `report`, `provisioning`, `ecdh-es` or `hpke`.
    pub purpose: String,
    /// For `ecdh-es` / `hpke`: the anchor whose manifests this key decrypts.
    pub anchor: Option<u32>,
    /// For `ecdh-es` / `hpke`: that anchor's key scope (changes if the anchor is re-added).
    pub key_scope: Option<u64>,
    /// For `ecdh-es` / `hpke`: [`anchor_key_check`] of the key that anchor holds (absent
    /// from v1 statements, which are refused).
    pub anchor_key: Option<ByteBuf>,
    /// Uncompressed SEC1 P-256 point.
    pub key: ByteBuf,
    pub kid: ByteBuf,
}

crate::cbor::struct_codec!(KeyStatement {
    statement,
    device,
    keys
});
crate::cbor::struct_codec!(StatedKey {
    purpose,
    anchor,
    key_scope,
    key,
    kid,
    anchor_key = default,
});

/// The anchor a per-anchor key is stated for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatedAnchor {
    pub id: u32,
    pub key_scope: u64,
    /// [`anchor_key_check`] of its key.
    pub key: [u8; 32],
}

/// Label of an HMAC anchor's key check value (see [`anchor_key_check`]).
const KEY_CHECK_LABEL: &str = "suit-ta anchor key check";

/// How a statement names the key an anchor holds, for a statement of device `device` (the
/// identity key id) and the anchor's `key_scope`.
///
/// A public key: its [`anchor_key_digest`](super::provision::anchor_key_digest) (public keys
/// are not secret; the author tool and the KEK wraps name them the same way). An HMAC key: a
/// key check value, HMAC-SHA256 over the deterministic CBOR `["suit-ta anchor key check",
/// device: bstr, key_scope: uint]` under a key derived from it (HKDF-SHA256, info the label:
/// the anchor key itself keys only manifest MACs, one purpose), never an unkeyed hash of it:
/// the statement leaves the TA, and a plain digest would be the same on every device holding
/// an operator's key (devices linkable, one guess tested against the whole fleet). Keyed and
/// per device and binding, it tells only the key's holder (who computes the same from the
/// statement's `device` and `key_scope`) that the anchor holds its key. The input is a
/// 3-array starting with this label, so it is never a COSE `MAC_structure` (a 4-array
/// starting with "MAC0" or "MAC"): the TA computing it makes no tag a manifest could carry.
/// [`StatementError::SigningFailed`] only if the HMAC crate refused the key (it takes any
/// length).
pub fn anchor_key_check(
    key: &VerificationKey,
    device: &[u8],
    key_scope: u64,
) -> Result<[u8; 32], StatementError> {
    let KeyMaterial::Hmac256(secret) = key.material() else {
        return Ok(super::provision::anchor_key_digest(key));
    };
    use hmac::{KeyInit, Mac};
    let mut e = Encoder::new();
    e.array(3)
        .text(KEY_CHECK_LABEL)
        .bytes(device)
        .uint(key_scope);
    let mut check_key = zeroize::Zeroizing::new([0u8; 32]);
    hkdf::Hkdf::<sha2::Sha256>::new(None, secret)
        .expand(KEY_CHECK_LABEL.as_bytes(), &mut *check_key)
        .map_err(|_| StatementError::SigningFailed)?;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(&*check_key)
        .map_err(|_| StatementError::SigningFailed)?;
    mac.update(&e.into_bytes());
    Ok(mac.finalize().into_bytes().into())
}

impl StatedKey {
    pub fn new(purpose: &str, anchor: Option<&StatedAnchor>, k: &PublicKeyInfo) -> Self {
        StatedKey {
            purpose: purpose.into(),
            anchor: anchor.map(|a| a.id),
            key_scope: anchor.map(|a| a.key_scope),
            anchor_key: anchor.map(|a| ByteBuf::from(a.key.to_vec())),
            key: ByteBuf::from(k.sec1.clone()),
            kid: ByteBuf::from(k.kid.clone()),
        }
    }
}

/// Why a statement was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatementError {
    TooLarge,
    /// Not a COSE_Sign1 key statement of this format.
    Malformed(&'static str),
    /// Not signed by the given identity key.
    BadSignature,
    /// Signed, but the statement names a different identity key than the one checked with.
    IdentityMismatch,
    SigningFailed,
}

#[cfg(feature = "explain")]
impl core::fmt::Display for StatementError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            StatementError::TooLarge => write!(f, "key statement exceeds {MAX_STATEMENT} bytes"),
            StatementError::Malformed(w) => write!(f, "malformed key statement: {w}"),
            StatementError::BadSignature => {
                write!(
                    f,
                    "key statement is not signed by the enrolled identity key"
                )
            }
            StatementError::IdentityMismatch => write!(
                f,
                "key statement names another identity key than the enrolled one"
            ),
            StatementError::SigningFailed => write!(f, "signing the key statement failed"),
        }
    }
}

#[cfg(feature = "explain")]
impl core::error::Error for StatementError {}

/// Signs `statement` with the identity key.
pub fn sign(
    statement: &KeyStatement,
    identity: &p256::SecretKey,
) -> Result<Vec<u8>, StatementError> {
    let payload = super::record::encode(statement).map_err(|_| StatementError::SigningFailed)?;
    let signing = p256::ecdsa::SigningKey::from(identity);
    let protected = wire::protected_alg(Algorithm::Esp256.cose_id(), Some(CONTENT_TYPE));
    wire::sign1_tagged(&protected, &statement.device, &payload, |tbs| {
        use p256::ecdsa::signature::Signer;
        let sig: p256::ecdsa::Signature = signing
            .try_sign(tbs)
            .map_err(|_| StatementError::SigningFailed)?;
        Ok(sig.to_bytes().to_vec())
    })
}

/// Verifies a statement with the enrolled identity key (uncompressed SEC1) and returns it.
/// The statement must name that same key as `identity`.
pub fn verify(bytes: &[u8], identity_sec1: &[u8]) -> Result<KeyStatement, StatementError> {
    if bytes.len() > MAX_STATEMENT {
        return Err(StatementError::TooLarge);
    }
    let key = VerificationKey::p256_from_sec1(identity_sec1)
        .map_err(|_| StatementError::Malformed("identity key is not a P-256 point"))?;
    cbor::check_well_formed(bytes).map_err(|_| StatementError::Malformed("not CBOR"))?;
    if !matches!(Decoder::new(bytes).item(), Ok(Item::Tag(18))) {
        return Err(StatementError::Malformed("not a tagged COSE_Sign1"));
    }
    let sign1 = wire::single(bytes, wire::TAG_SIGN1, true)
        .map_err(|_| StatementError::Malformed("not a COSE_Sign1"))?;
    let h = &sign1.headers.protected;
    if h.crit {
        return Err(StatementError::Malformed("critical headers"));
    }
    if h.alg != Some(wire::IntOrText::Int(Algorithm::Esp256.cose_id())) {
        return Err(StatementError::Malformed("algorithm is not ESP256"));
    }
    if h.content_type != Some(wire::IntOrText::Text(CONTENT_TYPE)) {
        return Err(StatementError::Malformed(
            "content type is not a key statement",
        ));
    }
    // The unprotected header is not signed: its kid is a hint (RFC 9052 §3.1), never a
    // filter. The signature is checked with the given identity key whatever kid the
    // statement carries, or none, and other unprotected labels are ignored as RFC 9052 asks
    // of labels that are not critical; the kid only words the refusal when the signature
    // fails (another device's statement names another key). Review s41.
    let names_another = [&sign1.headers.protected, &sign1.headers.unprotected]
        .iter()
        .filter_map(|h| h.kid)
        .any(|kid| kid != key_id(identity_sec1).as_slice());
    let payload = sign1
        .payload
        .ok_or(StatementError::Malformed("payload is detached"))?;
    let tbs = wire::ToBeSigned {
        context: wire::Context::Signature1,
        body_protected: sign1.headers.protected_bytes,
        sign_protected: &[],
        payload,
    };
    key.check(
        Algorithm::Esp256,
        &Prepared::new(Algorithm::Esp256, tbs),
        sign1.signature,
    )
    .map_err(|_| {
        if names_another {
            StatementError::IdentityMismatch
        } else {
            StatementError::BadSignature
        }
    })?;
    let st: KeyStatement = super::record::decode(payload, MAX_STATEMENT)
        .map_err(|_| StatementError::Malformed("statement does not decode"))?;
    if st.statement == STATEMENT_KIND_V1 {
        return Err(StatementError::Malformed(
            "a v1 statement, which does not name the key each anchor holds: ask the device for a new one (suit-agent device-key)",
        ));
    }
    if st.statement != STATEMENT_KIND {
        return Err(StatementError::Malformed("unknown statement kind"));
    }
    // A per-anchor key names its anchor by id, key scope and key, all or nothing.
    if st.keys.iter().any(|k| {
        k.anchor.is_some() != k.key_scope.is_some()
            || k.anchor.is_some() != k.anchor_key.as_ref().is_some_and(|d| d.len() == 32)
    }) {
        return Err(StatementError::Malformed(
            "a per-anchor key does not name its anchor's id, key scope and key",
        ));
    }
    let named = st
        .keys
        .iter()
        .find(|k| k.purpose == "identity")
        .ok_or(StatementError::Malformed("no identity key stated"))?;
    if named.key.as_slice() != identity_sec1 || st.device.as_slice() != key_id(identity_sec1) {
        return Err(StatementError::IdentityMismatch);
    }
    Ok(st)
}
