//! Trust-anchor management by signed messages from the Trust Provisioning Authority.
//!
//! The REE only relays these messages; the TA believes them because they are signed by the
//! TPA root fixed when the TA was built (or by an asymmetric anchor the TPA gave the TPA
//! role, a "delegate"). Every message names the device it is for (the device identity key's
//! id) and carries a counter. The root has one counter and the delegates share a second one;
//! a message must carry exactly its signer's stored counter plus one. So a replayed, older or
//! foreign message fails, and the REE cannot drop one message of a counter and apply a later
//! one of the same counter: a gap is refused. The REE can still withhold messages (stop after
//! any one) and choose how the root's and the delegates' messages interleave; a delegate
//! cannot consume the root's counter, so it can never keep the root from revoking it. Only
//! the root adds, removes or re-scopes anchors of role TPA. A
//! message is applied all-or-nothing: every operation is checked against a copy of the
//! state, which is saved in one atomic write only if all of them pass. The TA answers with a
//! receipt signed by its identity key naming the counter, the message and the resulting
//! state, so the TPA sees what was applied.
//!
//! Secrets (symmetric anchor keys, KEKs) travel only encrypted to the device's provisioning
//! key: COSE-HPKE integrated encryption (COSE_Encrypt0, HPKE-0: P-256, SHA-256, AES-128-GCM)
//! with `external_aad` binding the whole operation and its message ([`kek_wrap_aad`],
//! [`anchor_wrap_aad`]): the operation, the key that signed the message, the device, and the
//! operation's other fields. So a wrapped key opens only in the operation its signer wrapped
//! it for: a delegate that saw the root's message (the REE relays it; messages are not
//! confidential) cannot replay its wrapped KEK to grant it to its own anchors, nor a wrapped
//! anchor key under another id or role. A KEK's wrap also names the key each
//! of its anchors holds, not only the id: the REE orders the root's and the delegates'
//! messages, and a delegate that re-binds an id before the root's AddKek applies must not
//! receive the KEK (the other operations naming an id grant nothing a delegate
//! could not grant itself, see SECURITY.md). A symmetric key in clear is refused,
//! and a symmetric key never holds the TPA role (anyone who can verify with it could forge
//! with it).
//!
//! Wire format (CBOR):
//!
//! ```text
//! SUIT_TA_Provisioning = [ body: bstr .cbor ProvisioningBody,
//!                          auth: COSE_Sign1_Tagged (payload detached = body) ]
//!
//! ; external_aad of a wrapped secret (deterministic encoding)
//! KEK_Wrap_AAD    = [ "suit-ta add-kek", signer: bstr .size 32, device: bstr,
//!                     kid: bstr, anchors: [* [id: uint, key: bstr .size 32]] ]
//! Anchor_Wrap_AAD = [ "suit-ta add-secret-anchor", signer: bstr .size 32, device: bstr,
//!                     id: uint, role: tstr, scope: Scope ]   ; role, scope as in the body
//! ; signer = signer_key_digest(key that signed the message), device = identity key id,
//! ; key = anchor_key_digest(the key anchor `id` holds when the AddKek applies)
//! ```

use crate::protocol::ByteBuf;
use crate::suit::words::Words;
use alloc::vec::Vec;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use crate::cbor::{CborError, Decoder, Encoder, Field};
use crate::cose::{AuthBlock, CoseError, KeyMaterial, VerificationKey};
use crate::encryption::{decrypt_integrated, CoseOptions, DeviceKeys};
use crate::protocol;

use super::state::{AnchorRecord, Identity, RoleRecord, RuleRecord, Scope, State};

mod kek_store;
mod ops;
mod receipt;

pub use kek_store::{
    drop_previous_keks, load_keks, load_keks_naming_empty, save_keks, shared_keks, MAX_KEK_OBJECT,
    NO_KEKS,
};
pub use ops::apply_ops;
use ops::parse_key;
pub use receipt::{sign_receipt, state_digest, verify_receipt, Receipt, ReceiptError, MAX_RECEIPT};

/// Largest provisioning message accepted.
pub const MAX_MESSAGE: usize = 64 * 1024;
/// Most operations in one message.
pub const MAX_OPS: usize = 32;
/// Most KEKs a device keeps.
pub const MAX_KEKS: usize = 16;
// Every KEK is a candidate for an AES-KW recipient whose kid names none (kid is a hint).
const _: () = assert!(MAX_KEKS <= crate::encryption::recipient::MAX_KEY_CANDIDATES);
/// Largest wrapped secret (a symmetric COSE_Key of at most 64 bytes, encrypted).
pub const MAX_WRAPPED: usize = 512;

/// Anchor id reported when the build-time TPA root signed.
pub const TPA_ROOT_ID: u32 = 0;

/// HPKE `info` of every wrapped provisioning secret (domain separation from payloads).
pub const WRAP_INFO: &[u8] = b"SUIT TA provisioning secret";

/// Which of the device's two provisioning counters a message runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CounterKind {
    /// Messages the build-time TPA root signs.
    Root,
    /// Messages a delegated TPA anchor (an anchor of role TPA) signs: one counter for all.
    Delegate,
}

impl CounterKind {
    /// The counter messages signed by anchor `signer` ([`TPA_ROOT_ID`] = the root) run on.
    pub fn of(signer: u32) -> CounterKind {
        if signer == TPA_ROOT_ID {
            CounterKind::Root
        } else {
            CounterKind::Delegate
        }
    }

    /// The stored value of this counter.
    pub fn stored(self, state: &State) -> u64 {
        match self {
            CounterKind::Root => state.root_counter(),
            CounterKind::Delegate => state.delegate_counter(),
        }
    }

    fn set(self, state: &mut State, value: u64) {
        // Both are written, so a record from before the delegates' counter keeps its value.
        let delegate = state.delegate_counter();
        state.delegate_counter = Some(delegate);
        match self {
            CounterKind::Root => state.provisioning_counter = value,
            CounterKind::Delegate => state.delegate_counter = Some(value),
        }
    }
}

#[cfg(feature = "explain")]
impl core::fmt::Display for CounterKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            CounterKind::Root => "the TPA root's",
            CounterKind::Delegate => "the delegated TPA anchors'",
        })
    }
}

/// What a message's wrapped secrets are bound to besides their operation: the key that
/// signed the message and the device it is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WrapBinding<'a> {
    /// [`signer_key_digest`] of the key that signed the message (the root's or a delegate's).
    pub signer: [u8; 32],
    /// Key id of the device's identity key: the message's `device`.
    pub device: &'a [u8],
}

/// Who signed a message, as [`apply_body`] and [`apply_ops`] need it.
#[derive(Debug, Clone, Copy)]
pub struct Signer<'a> {
    /// Anchor id of the signer, [`TPA_ROOT_ID`] for the root.
    pub id: u32,
    /// The TPA root's key (no anchor may hold it); `None` only in a model that never saw it.
    pub root: Option<&'a VerificationKey>,
    /// What the message's wrapped secrets must be bound to.
    pub binding: WrapBinding<'a>,
}

/// Who signed, as a wrap names it: SHA-256 of the deterministic CBOR `[kty, public key]`
/// (COSE kty 2 with the 65-byte uncompressed SEC1 point of a P-256 key; 1 with the 32 bytes of
/// an Ed25519 key; 5 with the RFC 8554 encoding of an HSS-LMS key). The key itself, not an
/// anchor id (an id can be removed and added again with another key) nor a COSE_Key's bytes
/// (the same key has many encodings; the root is no COSE_Key at all). `None` for a symmetric
/// key, which never signs provisioning messages.
pub fn signer_key_digest(key: &VerificationKey) -> Option<[u8; 32]> {
    match key.material() {
        KeyMaterial::Hmac256(_) => None,
        _ => Some(anchor_key_digest(key)),
    }
}

/// Which key an anchor holds, as a KEK's wrap names it: an asymmetric key's
/// [`signer_key_digest`]; an HMAC key's SHA-256 of the deterministic CBOR `[4, key bytes]`
/// (COSE kty 4, Symmetric, keeps it apart from every public key's digest). Binding the key, not
/// the id, keeps a KEK from following an id that was re-bound. An HMAC key's digest stays in
/// the TA (the wrap's AAD is never sent); a key statement names that anchor by a keyed,
/// per-device value instead ([`anchor_key_check`](super::statement::anchor_key_check)).
pub fn anchor_key_digest(key: &VerificationKey) -> [u8; 32] {
    let mut e = Encoder::new();
    e.array(2);
    match key.material() {
        KeyMaterial::P256(k) => {
            use p256::elliptic_curve::sec1::ToSec1Point as _;
            e.uint(2)
                .bytes(p256::PublicKey::from(k).to_sec1_point(false).as_bytes());
        }
        #[cfg(feature = "ed25519")]
        KeyMaterial::Ed25519(k) => {
            e.uint(1).bytes(k.as_bytes());
        }
        #[cfg(not(feature = "ed25519"))]
        KeyMaterial::Ed25519(k) => match *k {},
        KeyMaterial::HssLms(k) => {
            e.uint(5).bytes(k);
        }
        KeyMaterial::Hmac256(k) => {
            e.uint(4).bytes(k);
        }
    }
    // Holds an HMAC anchor's key: wiped.
    let input = Zeroizing::new(e.into_bytes());
    Sha256::digest(input.as_slice()).into()
}

/// [`anchor_key_digest`] of anchor `id` of `state` (as it is now, so after the earlier
/// operations of a message).
pub fn held_key_digest(state: &State, id: u32) -> Result<[u8; 32], OpError> {
    let a = state
        .anchors
        .iter()
        .find(|a| a.id == id)
        .ok_or(OpError::KekUnknownAnchor(id))?;
    Ok(anchor_key_digest(&parse_key(id, &a.cose_key)?))
}

/// The `external_aad` a wrapped anchor key is bound to: the deterministic CBOR
/// `["suit-ta add-secret-anchor", signer, device, id, role, scope]` (`signer` and `device`
/// from `binding`; `role` and `scope` encoded as in the message). A wrap opens only in an
/// `AddSecretAnchor` with these very fields, in a message the same key signed for this device.
pub fn anchor_wrap_aad(
    binding: &WrapBinding<'_>,
    id: u32,
    role: RoleRecord,
    scope: &Scope,
) -> Vec<u8> {
    let mut e = Encoder::new();
    e.array(6)
        .text("suit-ta add-secret-anchor")
        .bytes(&binding.signer)
        .bytes(binding.device)
        .uint(u64::from(id));
    role.put(&mut e);
    scope.put(&mut e);
    e.into_bytes()
}

/// The `external_aad` a wrapped KEK is bound to: the deterministic CBOR
/// `["suit-ta add-kek", signer, device, kid, anchors]` (`signer` and `device` from `binding`,
/// `anchors` the operation's anchors in its order, each `[id, key]` with `key` the
/// [`anchor_key_digest`] of the key the anchor holds when the operation applies). A wrap opens
/// only in an `AddKek` with this kid and these anchors holding these keys, in a message the
/// same key signed for this device: the REE cannot make a KEK follow an id another TPA
/// signer re-bound in between.
pub fn kek_wrap_aad(binding: &WrapBinding<'_>, kid: &[u8], anchors: &[(u32, [u8; 32])]) -> Vec<u8> {
    let mut e = Encoder::new();
    e.array(5)
        .text("suit-ta add-kek")
        .bytes(&binding.signer)
        .bytes(binding.device)
        .bytes(kid)
        .array(anchors.len());
    for (id, key) in anchors {
        e.array(2).uint(u64::from(*id)).bytes(key);
    }
    e.into_bytes()
}

/// COSE options of a wrapped secret with `aad` as `external_aad`.
pub fn wrap_options(aad: &[u8]) -> CoseOptions<'_> {
    CoseOptions {
        external_aad: aad,
        ecdh_kdf_other: None,
        hpke_info: WRAP_INFO,
        hpke_aad: b"",
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProvisioningBody {
    /// Must be exactly the device's stored counter of the signer's kind ([`CounterKind`]) + 1.
    pub counter: u64,
    /// The device this message is for: the key id of its identity key.
    pub device: ByteBuf,
    pub ops: Vec<Op>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    /// Add a new anchor with a public key (its id must be unused; ids are never 0, the TPA
    /// root's). Symmetric keys are refused here: use `AddSecretAnchor`. Role TPA: the root only.
    AddAnchor(AnchorRecord),
    /// Add an anchor whose key is symmetric (COSE_Mac0 verification), delivered encrypted
    /// to the device's provisioning key: `wrapped_key` is a COSE_Encrypt0 (HPKE) of the
    /// symmetric COSE_Key, `external_aad` = [`anchor_wrap_aad`] (this operation's id, role
    /// and scope, the message's signer and device). Never the TPA role.
    AddSecretAnchor {
        id: u32,
        role: RoleRecord,
        scope: Scope,
        wrapped_key: ByteBuf,
    },
    /// Remove an anchor. KEKs stop naming it (a later anchor with its id does not inherit
    /// them), but rules keep naming it: ids are the TPA's stable names, so a rule naming an
    /// absent anchor is met by nobody (installs it covers are refused) until an anchor with
    /// that id is added again, e.g. a rotation (remove and add under one id) keeps the rule.
    /// An anchor of role TPA: the root only.
    RemoveAnchor { id: u32 },
    /// Replace an anchor's permissions. An anchor of role TPA: the root only.
    Rescope { id: u32, scope: Scope },
    /// Replace all component rules.
    SetRules(Vec<RuleRecord>),
    /// Set the identifiers vendor/class/device conditions compare against.
    SetIdentity(Identity),
    /// Add a key-encryption key for A128KW/A256KW recipients, found by `kid`, usable only
    /// for manifests signed by one of `anchors` (a KEK is shared with whoever wraps with it,
    /// so it belongs to named tenants): `wrapped_key` is a COSE_Encrypt0 (HPKE) of the raw
    /// 16- or 32-byte KEK, `external_aad` = [`kek_wrap_aad`] (this operation's kid and
    /// anchors, the message's signer and device).
    AddKek {
        kid: ByteBuf,
        anchors: Vec<u32>,
        wrapped_key: ByteBuf,
    },
    /// Remove a KEK.
    RemoveKek { kid: ByteBuf },
}

/// A secret inside the TA (a KEK): never printed, wiped on drop, compared in constant time
/// (only its length may show), read only through [`Secret::expose`]. A clone is a secret too
/// (the service copies its KEK list before changing it): wiped on drop like the original.
#[derive(Clone)]
pub struct Secret(ByteBuf);

impl Secret {
    /// Takes ownership of `bytes` (wiped when the secret is dropped).
    pub fn new(bytes: ByteBuf) -> Self {
        Secret(bytes)
    }

    /// The secret's bytes, for the one operation that needs them: copy them only into storage
    /// that is wiped too.
    pub fn expose(&self) -> &[u8] {
        self.0.as_slice()
    }
}

/// Constant time over the bytes (a length difference is not hidden).
impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        bool::from(subtle::ConstantTimeEq::ct_eq(self.expose(), other.expose()))
    }
}

impl Eq for Secret {}

impl core::fmt::Debug for Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(self.0.as_mut_slice());
    }
}

crate::cbor::struct_codec!(ProvisioningBody {
    counter,
    device,
    ops
});

/// Each operation as a one-entry map `{name: content}`.
impl Field for Op {
    fn put(&self, e: &mut Encoder) {
        use crate::cbor::{codec::put_variant, put_fields};
        match self {
            Op::AddAnchor(anchor) => {
                put_variant(e, "AddAnchor");
                anchor.put(e);
            }
            Op::AddSecretAnchor {
                id,
                role,
                scope,
                wrapped_key,
            } => {
                put_variant(e, "AddSecretAnchor");
                put_fields!(e; id, role, scope, wrapped_key);
            }
            Op::RemoveAnchor { id } => {
                put_variant(e, "RemoveAnchor");
                put_fields!(e; id);
            }
            Op::Rescope { id, scope } => {
                put_variant(e, "Rescope");
                put_fields!(e; id, scope);
            }
            Op::SetRules(rules) => {
                put_variant(e, "SetRules");
                rules.put(e);
            }
            Op::SetIdentity(identity) => {
                put_variant(e, "SetIdentity");
                identity.put(e);
            }
            Op::AddKek {
                kid,
                anchors,
                wrapped_key,
            } => {
                put_variant(e, "AddKek");
                put_fields!(e; kid, anchors, wrapped_key);
            }
            Op::RemoveKek { kid } => {
                put_variant(e, "RemoveKek");
                put_fields!(e; kid);
            }
        }
    }

    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        use crate::cbor::{codec, take_fields};
        let at = d.position();
        match codec::take_variant(d)? {
            "AddAnchor" => Ok(Op::AddAnchor(Field::take(d)?)),
            "AddSecretAnchor" => take_fields!(d; Op::AddSecretAnchor {
                id,
                role,
                scope,
                wrapped_key
            }),
            "RemoveAnchor" => take_fields!(d; Op::RemoveAnchor { id }),
            "Rescope" => take_fields!(d; Op::Rescope { id, scope }),
            "SetRules" => Ok(Op::SetRules(Field::take(d)?)),
            "SetIdentity" => Ok(Op::SetIdentity(Field::take(d)?)),
            "AddKek" => take_fields!(d; Op::AddKek {
                kid,
                anchors,
                wrapped_key
            }),
            "RemoveKek" => take_fields!(d; Op::RemoveKek { kid }),
            _ => Err(codec::unknown_variant(at)),
        }
    }
}

/// The bytes alone, as a byte string.
impl Field for Secret {
    fn put(&self, e: &mut Encoder) {
        self.0.put(e);
    }
    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        ByteBuf::take(d).map(Secret)
    }
}

/// A key-encryption key the TPA provisioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kek {
    pub kid: ByteBuf,
    /// The anchors whose manifests may use it.
    pub anchors: Vec<u32>,
    /// Read through [`Kek::key`].
    key: Secret,
}

impl Kek {
    pub fn new(kid: ByteBuf, anchors: Vec<u32>, key: Secret) -> Self {
        Kek { kid, anchors, key }
    }

    /// The key itself.
    pub fn key(&self) -> &Secret {
        &self.key
    }
}

crate::cbor::struct_codec!(Kek { kid, anchors, key });

/// Why a provisioning message was refused. Nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProvisionError {
    TooLarge,
    Malformed(Words),
    /// The signature is not from the TPA root or a TPA-role anchor.
    NotTpaSigned(CoseError),
    /// Replay or older message (on the signer's counter).
    Replayed {
        counter: CounterKind,
        stored: u64,
        offered: u64,
    },
    /// A message between the stored counter and this one was never applied.
    Skipped {
        counter: CounterKind,
        stored: u64,
        offered: u64,
    },
    /// A delegated TPA anchor tried to add, remove or re-scope an anchor of role TPA.
    RootOnly {
        index: usize,
        anchor: u32,
        signer: u32,
    },
    /// Operation `index` adds a key (`adding`: an anchor's or a KEK) that `holder` (the TPA
    /// root, another anchor or another KEK) already holds: every key has one holder and one
    /// purpose. Names only the holders, never key bytes.
    KeyInUse {
        index: usize,
        adding: KeyHolder,
        holder: KeyHolder,
    },
    /// Bound to another device.
    WrongDevice,
    TooManyOps,
    /// One operation is invalid; index and reason.
    Op {
        index: usize,
        reason: OpError,
    },
    /// The anchors, rules and identity the message would leave do not fit one answer
    /// (`protocol::MAX_RESPONSE`): every state provisioning makes can still be listed.
    ListingTooLarge,
}

/// Why one provisioning operation is invalid (identifiers and bounds only, never key bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum OpError {
    /// A wrapped key over [`MAX_WRAPPED`] bytes.
    WrappedTooLarge,
    /// The wrapped key does not open with this device's provisioning key.
    WrappedKeyDoesNotOpen(crate::encryption::DecryptError),
    /// The wrapped secret is not one the author tool's run made (its device model only).
    SecretNotKnown,
    /// The anchor's key does not parse.
    AnchorKey {
        anchor: u32,
        error: CoseError,
    },
    ScopeListsTooLong,
    ClassIdLength,
    VendorIdLength,
    ComponentPrefixTooLong,
    /// Anchor id 0 is the TPA root's.
    ReservedAnchorId,
    AnchorExists(u32),
    AnchorStoreFull,
    KeyScopesExhausted,
    KekIdLength,
    /// A symmetric anchor key in clear (it must arrive wrapped: AddSecretAnchor).
    SymmetricInClear(u32),
    /// A symmetric key cannot hold the TPA role.
    SymmetricTpa(u32),
    /// An encrypted anchor key must be symmetric.
    WrappedNotSymmetric(u32),
    NoAnchor(u32),
    TooManyRules,
    RuleUnknownAnchor(u32),
    RuleWithoutSigner,
    IdentifierLength,
    KekAnchorCount,
    KekUnknownAnchor(u32),
    KekExists(ByteBuf),
    TooManyKeks,
    KekLength,
    NoKek(ByteBuf),
    /// A status tracker key that is not an uncompressed P-256 point (`Scope::tracker_key`).
    TrackerKey,
}

#[cfg(feature = "explain")]
impl core::fmt::Display for ProvisionError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ProvisionError::TooLarge => write!(f, "provisioning message exceeds {MAX_MESSAGE} bytes"),
            ProvisionError::Malformed(what) => write!(f, "malformed provisioning message: {what}"),
            ProvisionError::NotTpaSigned(e) => {
                write!(f, "not signed by the TPA root or a TPA anchor ({e})")
            }
            ProvisionError::Replayed {
                counter,
                stored,
                offered,
            } => write!(
                f,
                "counter {offered} is not greater than the applied counter {stored} ({counter} counter: replayed or older message)"
            ),
            ProvisionError::Skipped {
                counter,
                stored,
                offered,
            } => write!(
                f,
                "counter {offered} skips message(s) {}..={} of {counter} counter (the next message must carry counter {}): an earlier message was not applied",
                stored.saturating_add(1),
                offered.saturating_sub(1),
                stored.saturating_add(1)
            ),
            ProvisionError::RootOnly {
                index,
                anchor,
                signer,
            } => write!(
                f,
                "operation {index}: only the TPA root adds, removes or re-scopes TPA anchors (anchor {anchor}); this message is signed by delegated TPA anchor {signer}"
            ),
            ProvisionError::KeyInUse {
                index,
                adding,
                holder,
            } => write!(
                f,
                "operation {index}: {adding}: its key is already held by {holder} (one key, one holder)"
            ),
            ProvisionError::WrongDevice => write!(f, "message is bound to another device"),
            ProvisionError::TooManyOps => write!(f, "more than {MAX_OPS} operations"),
            ProvisionError::Op { index, reason } => write!(f, "operation {index}: {reason}"),
            ProvisionError::ListingTooLarge => write!(
                f,
                "the anchors, rules and identity it would leave are too large to list in one \
                 answer (fewer anchors, narrower scopes or shorter rules)"
            ),
        }
    }
}

#[cfg(feature = "explain")]
impl core::fmt::Display for OpError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use OpError as O;
        match self {
            O::WrappedTooLarge => write!(f, "wrapped key exceeds {MAX_WRAPPED} bytes"),
            O::WrappedKeyDoesNotOpen(e) => write!(
                f,
                "the wrapped key does not open with this device's provisioning key ({e})"
            ),
            O::SecretNotKnown => f.write_str("secret not made by this run"),
            O::AnchorKey { anchor, error } => {
                write!(f, "anchor {anchor} key does not parse ({error})")
            }
            O::ScopeListsTooLong => f.write_str("scope lists too long"),
            O::ClassIdLength => f.write_str("class ids must be 16-byte UUIDs"),
            O::VendorIdLength => f.write_str("vendor ids must be 1..64 bytes"),
            O::ComponentPrefixTooLong => f.write_str("component prefix too long"),
            O::TrackerKey => {
                f.write_str("status tracker key is not an uncompressed P-256 public key")
            }
            O::ReservedAnchorId => f.write_str("anchor id 0 is reserved for the TPA root"),
            O::AnchorExists(id) => write!(f, "anchor {id} already exists (use Rescope)"),
            O::AnchorStoreFull => f.write_str("anchor store is full"),
            O::KeyScopesExhausted => f.write_str("anchor key scopes exhausted"),
            O::KekIdLength => f.write_str("KEK ids must be 1..64 bytes"),
            O::SymmetricInClear(id) => write!(
                f,
                "anchor {id}: a symmetric key in clear is refused (it must arrive encrypted to the device's provisioning key: AddSecretAnchor)"
            ),
            O::SymmetricTpa(id) => {
                write!(f, "anchor {id}: a symmetric key cannot hold the TPA role")
            }
            O::WrappedNotSymmetric(id) => write!(
                f,
                "anchor {id}: an encrypted anchor key must be symmetric (public keys go in AddAnchor)"
            ),
            O::NoAnchor(id) => write!(f, "no anchor {id}"),
            O::TooManyRules => f.write_str("too many rules"),
            O::RuleUnknownAnchor(id) => write!(f, "rule names unknown anchor {id}"),
            O::RuleWithoutSigner => f.write_str("a rule must require at least one signer"),
            O::IdentifierLength => f.write_str("identifiers must be 1..64 bytes"),
            O::KekAnchorCount => f.write_str("a KEK must name 1..32 anchors that may use it"),
            O::KekUnknownAnchor(id) => write!(f, "KEK names unknown anchor {id}"),
            O::KekExists(kid) => write!(f, "KEK {} already exists (remove it first)", crate::text::kid(kid)),
            O::TooManyKeks => write!(f, "the device keeps at most {MAX_KEKS} KEKs"),
            O::KekLength => f.write_str("a KEK must be 16 (A128KW) or 32 (A256KW) bytes"),
            O::NoKek(kid) => write!(f, "no KEK {}", crate::text::kid(kid)),
        }
    }
}

/// Who holds a key on the device ([`ProvisionError::KeyInUse`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyHolder {
    /// The build-time TPA root.
    Root,
    /// The anchor with this id.
    Anchor(u32),
    /// The KEK with this id.
    Kek(ByteBuf),
}

#[cfg(feature = "explain")]
impl core::fmt::Display for KeyHolder {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            KeyHolder::Root => f.write_str("the TPA root"),
            KeyHolder::Anchor(id) => write!(f, "anchor {id}"),
            KeyHolder::Kek(kid) => write!(f, "KEK {}", crate::text::kid(kid)),
        }
    }
}

#[cfg(feature = "explain")]
impl core::error::Error for ProvisionError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            ProvisionError::NotTpaSigned(e) => Some(e),
            _ => None,
        }
    }
}

/// What an accepted message did, for the agent to print and the receipt to sign.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub counter: u64,
    /// Anchor id of the signer (0 = TPA root).
    pub signer: u32,
    pub summary: Vec<protocol::Applied>,
    /// Whether the KEK set changed (the caller then stores it).
    pub keks_changed: bool,
    /// SHA-256 of the whole message, for the receipt.
    pub message_digest: [u8; 32],
}

/// The device side of a message: who the device is and how it opens wrapped secrets.
pub struct Device<'a> {
    /// Key id of the device identity key: what a message must name.
    pub identity_kid: &'a [u8],
    /// The provisioning key, for wrapped secrets (COSE-HPKE recipient).
    pub provisioning: &'a dyn DeviceKeys,
}

fn split(message: &[u8]) -> Result<(&[u8], &[u8]), ProvisionError> {
    if message.len() > MAX_MESSAGE {
        return Err(ProvisionError::TooLarge);
    }
    crate::cbor::check_well_formed(message)
        .map_err(|_| ProvisionError::Malformed(Words::NotWellFormedCbor))?;
    let mut dec = Decoder::new(message);
    let n = dec
        .array()
        .map_err(|_| ProvisionError::Malformed(Words::NotAnArray))?;
    if n != 2 {
        return Err(ProvisionError::Malformed(Words::ExpectedBodyAuth));
    }
    let body = dec
        .bytes()
        .map_err(|_| ProvisionError::Malformed(Words::BodyIsNotABstr))?;
    let auth = dec
        .skip()
        .map_err(|_| ProvisionError::Malformed(Words::Auth))?;
    if !dec.is_empty() {
        return Err(ProvisionError::Malformed(Words::TrailingBytes));
    }
    Ok((body, auth))
}

/// Verifies `message` against the TPA root and the state's TPA anchors, checks device
/// binding and counter, and applies its operations to `state` and `keks` (in memory; the
/// caller saves). On error neither is changed.
pub fn apply(
    message: &[u8],
    tpa_root: &VerificationKey,
    device: &Device<'_>,
    state: &mut State,
    keks: &mut Vec<Kek>,
) -> Result<Applied, ProvisionError> {
    let (body_bytes, auth) = split(message)?;
    let block = AuthBlock::parse(auth).map_err(ProvisionError::NotTpaSigned)?;
    // Authenticate before interpreting the body.
    let (signer, signer_key) = authenticate(&block, body_bytes, tpa_root, state)?;
    let body: ProvisioningBody = super::record::decode(body_bytes, MAX_MESSAGE)
        .map_err(|_| ProvisionError::Malformed(Words::BodyDoesNotDecode))?;
    if body.device.as_slice() != device.identity_kid {
        return Err(ProvisionError::WrongDevice);
    }
    // Refuse a replay or a gap before copying the state (`apply_body` checks again).
    let kind = CounterKind::of(signer);
    check_counter(kind, kind.stored(state), body.counter)?;
    let mut next = state.clone();
    let mut next_keks = keks.clone();
    let mut unwrap = |aad: &[u8], wrapped: &[u8]| unwrap_secret(device.provisioning, aad, wrapped);
    let who = Signer {
        id: signer,
        root: Some(tpa_root),
        binding: WrapBinding {
            signer: signer_key,
            device: device.identity_kid,
        },
    };
    let summary = apply_body(
        &mut next,
        &mut next_keks,
        &who,
        body.counter,
        &body.ops,
        &mut unwrap,
    )?;
    let keks_changed = next_keks != *keks;
    *state = next;
    *keks = next_keks;
    Ok(Applied {
        counter: body.counter,
        signer,
        summary,
        keks_changed,
        message_digest: Sha256::digest(message).into(),
    })
}

/// The counter rule: exactly the next one on the signer's counter (`kind`, stored value
/// `stored`).
pub fn check_counter(kind: CounterKind, stored: u64, offered: u64) -> Result<(), ProvisionError> {
    if offered <= stored {
        return Err(ProvisionError::Replayed {
            counter: kind,
            stored,
            offered,
        });
    }
    if Some(offered) != stored.checked_add(1) {
        return Err(ProvisionError::Skipped {
            counter: kind,
            stored,
            offered,
        });
    }
    Ok(())
}

/// Applies an authenticated message body signed by `signer` to `state` and `keks`: checks
/// `counter` against the signer's counter, applies `ops` ([`apply_ops`]) and advances that
/// counter. The TA and the TPA's model of a device both run it. On error `state` and `keks`
/// may be partly changed: callers work on copies.
pub fn apply_body(
    state: &mut State,
    keks: &mut Vec<Kek>,
    signer: &Signer<'_>,
    counter: u64,
    ops: &[Op],
    unwrap: &mut Unwrap<'_>,
) -> Result<Vec<protocol::Applied>, ProvisionError> {
    let kind = CounterKind::of(signer.id);
    check_counter(kind, kind.stored(state), counter)?;
    if ops.len() > MAX_OPS {
        return Err(ProvisionError::TooManyOps);
    }
    let summary = apply_ops(state, keks, signer, ops, unwrap)?;
    // Every state provisioning leaves can still be listed: each operation's bounds allow more
    // than one answer holds (32 anchors at their scopes' bounds, 32 rules).
    let listing = protocol::encode_dyn(&super::anchors_of(state)).map(|b| b.len());
    if !listing.is_ok_and(|len| len <= protocol::MAX_RESPONSE) {
        return Err(ProvisionError::ListingTooLarge);
    }
    kind.set(state, counter);
    Ok(summary)
}

/// Which anchor of `state` (of role TPA, asymmetric) signed `message`, if one did; `None`
/// when none did or the TPA root `root` (if known) did (the TPA's model of a device then takes
/// the message as the root's). The device tries the root first, so an anchor an older state
/// holds with the root's key never counts as the signer.
pub fn delegate_signer(
    message: &[u8],
    state: &State,
    root: Option<&VerificationKey>,
) -> Result<Option<u32>, ProvisionError> {
    let (body, auth) = split(message)?;
    let block = AuthBlock::parse(auth).map_err(ProvisionError::NotTpaSigned)?;
    if !any_signer_takes(&block, root, state) {
        return Ok(None);
    }
    let verifier = block.verifier(body);
    if root.is_some_and(|r| verifier.verify(r).is_ok()) {
        return Ok(None);
    }
    Ok(tpa_anchors(state).find_map(|(id, key)| verifier.verify(&key).is_ok().then_some(id)))
}

/// Whether the root (if known) or a TPA anchor of `state` takes the block's algorithm. Only
/// then is its signing input built: for Ed25519 and HSS-LMS that is a copy of the whole body,
/// which an unauthenticated `alg` must not make the device allocate for nothing.
fn any_signer_takes(block: &AuthBlock, root: Option<&VerificationKey>, state: &State) -> bool {
    let alg = block.algorithm();
    root.is_some_and(|r| r.supports(alg)) || tpa_anchors(state).any(|(_, k)| k.supports(alg))
}

/// The state's anchors that may sign provisioning messages: role TPA, asymmetric key.
fn tpa_anchors(state: &State) -> impl Iterator<Item = (u32, VerificationKey)> + '_ {
    state
        .anchors
        .iter()
        .filter(|a| a.role == RoleRecord::Tpa)
        .filter_map(|a| match VerificationKey::from_cose_key(&a.cose_key) {
            // A symmetric key never speaks for the TPA, even if an old state says so.
            Ok((key, _)) if !key.is_symmetric() => Some((a.id, key)),
            _ => None,
        })
}

fn unwrap_secret(
    keys: &dyn DeviceKeys,
    aad: &[u8],
    wrapped: &[u8],
) -> Result<Zeroizing<Vec<u8>>, OpError> {
    if wrapped.len() > MAX_WRAPPED {
        return Err(OpError::WrappedTooLarge);
    }
    decrypt_integrated(wrapped, None, keys, &wrap_options(aad))
        .map_err(OpError::WrappedKeyDoesNotOpen)
}

/// Who signed: the root ([`TPA_ROOT_ID`]) or a TPA anchor's id, and the
/// [`signer_key_digest`] of the key that verified.
fn authenticate(
    block: &AuthBlock,
    body: &[u8],
    root: &VerificationKey,
    state: &State,
) -> Result<(u32, [u8; 32]), ProvisionError> {
    // One signing input for the root and every TPA anchor tried. The root first: a state
    // stored before anchors were refused the root's key may hold it as an anchor (role TPA
    // too), and a message the root's key signed must run on the root's counter, never the
    // delegates'.
    if !any_signer_takes(block, Some(root), state) {
        return Err(ProvisionError::NotTpaSigned(
            CoseError::KeyAlgorithmMismatch,
        ));
    }
    let verifier = block.verifier(body);
    let signed_by = |id: u32, key: &VerificationKey| {
        signer_key_digest(key)
            .map(|digest| (id, digest))
            .ok_or(ProvisionError::NotTpaSigned(CoseError::InvalidKey))
    };
    let mut last = match verifier.verify(root) {
        Ok(()) => return signed_by(TPA_ROOT_ID, root),
        Err(e) => e,
    };
    for (id, key) in tpa_anchors(state) {
        match verifier.verify(&key) {
            Ok(()) => return signed_by(id, &key),
            Err(e) => last = e,
        }
    }
    Err(ProvisionError::NotTpaSigned(last))
}

/// Opens a wrapped secret: `(external_aad, wrapped) -> plaintext`.
pub type Unwrap<'a> = dyn FnMut(&[u8], &[u8]) -> Result<Zeroizing<Vec<u8>>, OpError> + 'a;

/// Creates provisioning messages (the author tool's `provision` command and tests).
#[cfg(feature = "author")]
pub mod author {
    use super::*;
    use crate::cose::{create_auth_block, Algorithm, SigningKey};

    /// Signs `body` with the TPA key (ESP256 for P-256, EdDSA for Ed25519).
    pub fn seal(
        body: &ProvisioningBody,
        key: &SigningKey,
        alg: Algorithm,
        kid: &[u8],
    ) -> Result<Vec<u8>, CoseError> {
        let body_bytes =
            crate::service::record::encode(body).map_err(|_| CoseError::SigningFailed)?;
        let auth = create_auth_block(key, alg, kid, &body_bytes)?;
        let mut out = Encoder::with_capacity(body_bytes.len() + auth.len() + 8);
        out.array(2).bytes(&body_bytes).raw(&auth);
        Ok(out.into_bytes())
    }

    /// Encrypts a secret to the device's provisioning key (COSE-HPKE integrated, HPKE-0),
    /// bound to `aad` ([`anchor_wrap_aad`] or [`kek_wrap_aad`]).
    pub fn wrap_secret(
        secret: &[u8],
        provisioning_key: &p256::PublicKey,
        provisioning_kid: &[u8],
        aad: &[u8],
        rng: &mut impl rand_core::CryptoRng,
    ) -> Result<Vec<u8>, crate::encryption::EncryptError> {
        crate::encryption::encrypt_integrated(
            secret,
            crate::encryption::algorithms::HpkeSuite::Hpke0,
            provisioning_key,
            Some(provisioning_kid),
            None,
            &wrap_options(aad),
            rng,
        )
    }
}
