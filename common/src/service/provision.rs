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

use super::state::{
    AnchorRecord, Identity, RoleRecord, RuleRecord, Scope, State, MAX_ANCHORS, MAX_RULES,
};

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

/// Applies `ops`, signed by anchor `signer` ([`TPA_ROOT_ID`] = the root), in order to `state`
/// and `keks` (the caller works on copies and keeps them only on success). The TPA's model of
/// a device (`suit-author provision --state`) runs the same function ([`apply_body`]), so
/// both sides agree on the result. A delegate (any signer but the root) may not add, remove
/// or re-scope an anchor of role TPA: it could otherwise make more delegates, or shield
/// itself from the root. Wrapped secrets open only if bound to the signer's `binding` (and
/// their operation's fields: [`kek_wrap_aad`], [`anchor_wrap_aad`]). A key added (an
/// anchor's or a KEK) must not be one the TPA root (if known), another anchor or another KEK
/// already holds (`key_in_use`).
pub fn apply_ops(
    state: &mut State,
    keks: &mut Vec<Kek>,
    who: &Signer<'_>,
    ops: &[Op],
    unwrap: &mut Unwrap<'_>,
) -> Result<Vec<protocol::Applied>, ProvisionError> {
    let signer = who.id;
    let mut summary = Vec::new();
    for (index, op) in ops.iter().enumerate() {
        if signer != TPA_ROOT_ID {
            if let Some(anchor) = touched_tpa_anchor(state, op) {
                return Err(ProvisionError::RootOnly {
                    index,
                    anchor,
                    signer,
                });
            }
        }
        let fail = |reason: OpError| ProvisionError::Op { index, reason };
        summary.push(apply_op(state, keks, op, &who.binding, unwrap).map_err(fail)?);
        if let Some((adding, holder)) = key_in_use(state, keks, who.root, op) {
            return Err(ProvisionError::KeyInUse {
                index,
                adding,
                holder,
            });
        }
    }
    Ok(summary)
}

/// After `op` added a key (an anchor's or a KEK), who else holds it: the added holder and the
/// earlier one, if any. One key, one holder: a signature's kid is not signed, so with one
/// public key under two anchors (or the root's key as an anchor) the REE would choose which
/// scope, role and counter a signature counts for, and removing one anchor would not revoke
/// the key; a secret that is both an HMAC anchor's key and a KEK (or two KEKs) lets whoever
/// is given it for one purpose use it for the other. Public keys are compared as keys (the
/// point, not the COSE_Key bytes), secrets in constant time (`subtle`); an HMAC key and a KEK
/// as HMAC keys (zero-padded to the block: `K` and `K || 00` are one HMAC key), two KEKs
/// exactly.
fn key_in_use(
    state: &State,
    keks: &[Kek],
    root: Option<&VerificationKey>,
    op: &Op,
) -> Option<(KeyHolder, KeyHolder)> {
    let anchor_key = |a: &AnchorRecord| VerificationKey::from_cose_key(&a.cose_key).ok();
    // A KEK's bytes as an HMAC key, for `same_key`'s padded constant-time comparison.
    let as_hmac = |k: &Kek| {
        VerificationKey::from(KeyMaterial::Hmac256(Zeroizing::new(
            k.key.expose().to_vec(),
        )))
    };
    // `op` succeeded, so what it added is there.
    let id = match op {
        Op::AddAnchor(a) => a.id,
        Op::AddSecretAnchor { id, .. } => *id,
        Op::AddKek { kid, .. } => {
            let added = keks.iter().find(|k| k.kid == *kid)?;
            let secret = added.key.expose();
            let holder = keks
                .iter()
                .filter(|k| k.kid != *kid)
                .find(|k| bool::from(subtle::ConstantTimeEq::ct_eq(k.key.expose(), secret)))
                .map(|k| KeyHolder::Kek(k.kid.clone()))
                .or_else(|| {
                    let added = as_hmac(added);
                    state
                        .anchors
                        .iter()
                        .find(|a| anchor_key(a).is_some_and(|(k, _)| k.same_key(&added)))
                        .map(|a| KeyHolder::Anchor(a.id))
                })?;
            return Some((KeyHolder::Kek(kid.clone()), holder));
        }
        _ => return None,
    };
    let (key, _) = state
        .anchors
        .iter()
        .find(|a| a.id == id)
        .and_then(anchor_key)?;
    let holder = if root.is_some_and(|r| r.same_key(&key)) {
        KeyHolder::Root
    } else if let Some(other) = state
        .anchors
        .iter()
        .filter(|a| a.id != id)
        .find(|a| anchor_key(a).is_some_and(|(k, _)| k.same_key(&key)))
    {
        KeyHolder::Anchor(other.id)
    } else {
        // `same_key` is false between a public key and an HMAC one.
        let kek = keks.iter().find(|k| as_hmac(k).same_key(&key))?;
        KeyHolder::Kek(kek.kid.clone())
    };
    Some((KeyHolder::Anchor(id), holder))
}

/// The anchor of role TPA that `op` would add, remove or re-scope in `state`, if any.
fn touched_tpa_anchor(state: &State, op: &Op) -> Option<u32> {
    let is_tpa = |id: u32| {
        state
            .anchors
            .iter()
            .any(|a| a.id == id && a.role == RoleRecord::Tpa)
    };
    match op {
        Op::AddAnchor(a) if a.role == RoleRecord::Tpa => Some(a.id),
        Op::AddSecretAnchor { id, role, .. } if *role == RoleRecord::Tpa => Some(*id),
        Op::RemoveAnchor { id } | Op::Rescope { id, .. } if is_tpa(*id) => Some(*id),
        _ => None,
    }
}

fn parse_key(id: u32, cose_key: &[u8]) -> Result<VerificationKey, OpError> {
    VerificationKey::from_cose_key(cose_key)
        .map(|(k, _)| k)
        .map_err(|error| OpError::AnchorKey { anchor: id, error })
}

fn check_scope(scope: &Scope) -> Result<(), OpError> {
    if scope.component_prefixes.len() > 16
        || scope.vendor_ids.len() > 16
        || scope.class_ids.len() > 16
    {
        return Err(OpError::ScopeListsTooLong);
    }
    if scope.class_ids.iter().any(|c| c.len() != 16) {
        return Err(OpError::ClassIdLength);
    }
    if scope
        .vendor_ids
        .iter()
        .any(|v| v.is_empty() || v.len() > 64)
    {
        return Err(OpError::VendorIdLength);
    }
    if scope
        .component_prefixes
        .iter()
        .any(|p| p.len() > 8 || p.iter().any(|s| s.len() > 64))
    {
        return Err(OpError::ComponentPrefixTooLong);
    }
    Ok(())
}

fn add_anchor(state: &mut State, a: AnchorRecord) -> Result<protocol::Applied, OpError> {
    if a.id == TPA_ROOT_ID {
        return Err(OpError::ReservedAnchorId);
    }
    if state.anchors.iter().any(|x| x.id == a.id) {
        return Err(OpError::AnchorExists(a.id));
    }
    if state.anchors.len() >= MAX_ANCHORS {
        return Err(OpError::AnchorStoreFull);
    }
    // One key, one anchor: `apply_ops` checks the key against the root, the other anchors and
    // the KEKs once it is added (`key_in_use`).
    parse_key(a.id, &a.cose_key)?;
    check_scope(&a.scope)?;
    // The device, not the message, picks the key scope: a fresh one per addition.
    let mut a = a;
    a.key_scope = state.next_key_scope().ok_or(OpError::KeyScopesExhausted)?;
    let summary = protocol::Applied::AddedAnchor {
        id: a.id,
        role: a.role,
    };
    state.anchors.push(a);
    Ok(summary)
}

fn check_kek_id(kid: &[u8]) -> Result<(), OpError> {
    if kid.is_empty() || kid.len() > MAX_KEK_ID {
        return Err(OpError::KekIdLength);
    }
    Ok(())
}

fn apply_op(
    state: &mut State,
    keks: &mut Vec<Kek>,
    op: &Op,
    binding: &WrapBinding<'_>,
    unwrap: &mut Unwrap<'_>,
) -> Result<protocol::Applied, OpError> {
    use protocol::Applied;
    match op {
        Op::AddAnchor(a) => {
            if parse_key(a.id, &a.cose_key)?.is_symmetric() {
                Err(OpError::SymmetricInClear(a.id))
            } else {
                add_anchor(state, a.clone())
            }
        }
        Op::AddSecretAnchor {
            id,
            role,
            scope,
            wrapped_key,
        } => {
            if *role == RoleRecord::Tpa {
                return Err(OpError::SymmetricTpa(*id));
            }
            let cose_key = unwrap(&anchor_wrap_aad(binding, *id, *role, scope), wrapped_key)?;
            if !parse_key(*id, &cose_key)?.is_symmetric() {
                return Err(OpError::WrappedNotSymmetric(*id));
            }
            add_anchor(
                state,
                AnchorRecord {
                    id: *id,
                    cose_key: ByteBuf::from(cose_key.to_vec()),
                    role: *role,
                    scope: scope.clone(),
                    key_scope: 0,
                },
            )
        }
        Op::RemoveAnchor { id } => {
            let before = state.anchors.len();
            state.anchors.retain(|a| a.id != *id);
            if state.anchors.len() == before {
                return Err(OpError::NoAnchor(*id));
            }
            // Rules keep naming it: nobody meets them until an anchor with this id is added
            // again (failing closed; stripping the id could leave a rule requiring nobody).
            // A later anchor with the same id must not inherit its KEKs.
            for k in keks.iter_mut() {
                k.anchors.retain(|x| x != id);
            }
            Ok(Applied::RemovedAnchor { id: *id })
        }
        Op::Rescope { id, scope } => {
            check_scope(scope)?;
            let a = state
                .anchors
                .iter_mut()
                .find(|a| a.id == *id)
                .ok_or(OpError::NoAnchor(*id))?;
            a.scope = scope.clone();
            Ok(Applied::RescopedAnchor { id: *id })
        }
        Op::SetRules(rules) => {
            if rules.len() > MAX_RULES {
                return Err(OpError::TooManyRules);
            }
            for r in rules {
                if let Some(missing) = r
                    .required_anchors
                    .iter()
                    .find(|id| !state.anchors.iter().any(|a| a.id == **id))
                {
                    return Err(OpError::RuleUnknownAnchor(*missing));
                }
                if r.required_roles.is_empty() && r.required_anchors.is_empty() {
                    return Err(OpError::RuleWithoutSigner);
                }
            }
            state.rules = rules.clone();
            Ok(Applied::SetRules {
                count: u32::try_from(rules.len()).unwrap_or(u32::MAX),
            })
        }
        Op::SetIdentity(identity) => {
            for id in [&identity.vendor_id, &identity.class_id, &identity.device_id]
                .into_iter()
                .flatten()
            {
                if id.is_empty() || id.len() > 64 {
                    return Err(OpError::IdentifierLength);
                }
            }
            state.identity = identity.clone();
            Ok(Applied::SetIdentity)
        }
        Op::AddKek {
            kid,
            anchors,
            wrapped_key,
        } => {
            check_kek_id(kid)?;
            if anchors.is_empty() || anchors.len() > MAX_ANCHORS {
                return Err(OpError::KekAnchorCount);
            }
            // Each named anchor with the key it holds now (after the earlier operations).
            let held = anchors
                .iter()
                .map(|id| Ok((*id, held_key_digest(state, *id)?)))
                .collect::<Result<Vec<_>, OpError>>()?;
            if keks.iter().any(|k| k.kid == *kid) {
                return Err(OpError::KekExists(kid.clone()));
            }
            if keks.len() >= MAX_KEKS {
                return Err(OpError::TooManyKeks);
            }
            let key = unwrap(&kek_wrap_aad(binding, kid, &held), wrapped_key)?;
            if key.len() != 16 && key.len() != 32 {
                return Err(OpError::KekLength);
            }
            keks.push(Kek {
                kid: kid.clone(),
                anchors: anchors.clone(),
                key: Secret::new(ByteBuf::from(key.to_vec())),
            });
            Ok(Applied::AddedKek { kid: kid.clone() })
        }
        Op::RemoveKek { kid } => {
            let before = keks.len();
            keks.retain(|k| k.kid != *kid);
            if keks.len() == before {
                return Err(OpError::NoKek(kid.clone()));
            }
            Ok(Applied::RemovedKek { kid: kid.clone() })
        }
    }
}

// ---------------------------------------------------------------------------------------
// Receipts: what the device applied, signed by its identity key.

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
    let payload = super::record::encode(receipt).map_err(|_| CoseError::SigningFailed)?;
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
    let receipt: Receipt = super::record::decode(payload, MAX_RECEIPT)
        .map_err(|_| ReceiptError::Malformed("payload is not a receipt"))?;
    if receipt.device.as_slice() != super::keys::key_id(identity_sec1).as_slice() {
        return Err(ReceiptError::Malformed(
            "the receipt names another device than the key that signed it",
        ));
    }
    Ok(receipt)
}

// ---------------------------------------------------------------------------------------
// The KEK store (`suit/keks`), committed to by the state record (`State::kek_set`).

struct StoredKeks {
    /// The root's counter after the message that wrote `current`.
    counter: u64,
    current: Vec<Kek>,
    /// The set before that message, in force while the state record still commits to it
    /// (the state write after this object failed or was cut).
    previous: Vec<Kek>,
    /// The delegates' counter after that message (absent from objects written before it
    /// existed: 0, i.e. only `counter` decides, as it did then).
    delegate_counter: u64,
    /// The id `current` is stored under: the [`State::kek_set`] of the record written after
    /// this object (absent from objects written before ids existed).
    current_id: Option<ByteBuf>,
    /// The id `previous` was committed under (`None`: none yet, or before ids existed).
    previous_id: Option<ByteBuf>,
}

crate::cbor::struct_codec!(StoredKeks {
    counter,
    current,
    previous,
    delegate_counter = default,
    current_id = default,
    previous_id = default,
});

/// Longest KEK id.
const MAX_KEK_ID: usize = 64;
/// Most bytes one [`Kek`] encodes to: `{"kid": bstr .size (1..MAX_KEK_ID), "anchors": [*
/// uint32] (at most MAX_ANCHORS), "key": bstr .size 32}`, every header at its widest.
const MAX_KEK_ENCODED: usize =
    1 + (1 + 3) + (2 + MAX_KEK_ID) + (1 + 7) + (3 + 5 * MAX_ANCHORS) + (1 + 3) + (2 + 32);
/// The KEK object at its largest: the current and the previous set, each of [`MAX_KEKS`] at
/// [`MAX_KEK_ENCODED`], and the counters and set ids (under 128 bytes with their names). A
/// set within every bound must still be replaceable: a smaller bound refused any change to a
/// full set.
pub const MAX_KEK_OBJECT: usize = 2 * (3 + MAX_KEKS * MAX_KEK_ENCODED) + 128;

/// The KEKs in force for a device whose state record is `state`. The record names the set it
/// commits to ([`State::kek_set`]): the object's `current` set if its id is that, else its
/// `previous` one (the state write after the object did not happen); an object holding
/// neither (an older copy restored, which could bring back a revoked KEK), or none at all, is
/// refused ([`StateError::KeksNotCommitted`](super::state::StateError::KeksNotCommitted)). A
/// record from before these ids (`kek_set` absent) decides by counters, as it did: each
/// message advances exactly one of the two counters by one, so the object's message is
/// committed iff neither of its counters is ahead of the record's.
pub fn load_keks(
    store: &dyn super::store::SecureStore,
    state: &State,
) -> Result<Vec<Kek>, super::state::StateError> {
    // The empty set, committed to before any KEK object existed: any object is newer and
    // holds it as `previous` until a record names the object's own set.
    if names_no_keks(state) {
        return Ok(Vec::new());
    }
    keks_in(store.get(super::keys::KEKS_OBJECT)?, state)
}

/// [`load_keks`], and names the empty set ([`NO_KEKS`]) in `state` when it names none and no
/// KEK object exists, so that loading from the records written from `state` needs no look-up
/// of the object (on OP-TEE a failed open per install, each as dear as a write). A record
/// from before `kek_set` with an object keeps deciding by counters.
pub fn load_keks_naming_empty(
    store: &dyn super::store::SecureStore,
    state: &mut State,
) -> Result<Vec<Kek>, super::state::StateError> {
    if names_no_keks(state) {
        return Ok(Vec::new());
    }
    let bytes = store.get(super::keys::KEKS_OBJECT)?;
    let absent = bytes.is_none();
    let keks = keks_in(bytes, state)?;
    if absent && state.kek_set.is_none() {
        state.kek_set = Some(ByteBuf::from(NO_KEKS.to_vec()));
    }
    Ok(keks)
}

fn keks_in(
    bytes: Option<Zeroizing<Vec<u8>>>,
    state: &State,
) -> Result<Vec<Kek>, super::state::StateError> {
    use super::state::StateError;
    let Some(bytes) = bytes else {
        return match state.kek_set {
            Some(_) => Err(StateError::KeksNotCommitted),
            None => Ok(Vec::new()),
        };
    };
    let mut stored: StoredKeks =
        super::record::decode_stored(&bytes, MAX_KEK_OBJECT).map_err(|_| StateError::Corrupt)?;
    let Some(committed) = &state.kek_set else {
        return Ok(
            if stored.counter <= state.root_counter()
                && stored.delegate_counter <= state.delegate_counter()
            {
                core::mem::take(&mut stored.current)
            } else {
                core::mem::take(&mut stored.previous)
            },
        );
    };
    if stored.current_id.as_ref() == Some(committed) {
        Ok(core::mem::take(&mut stored.current))
    } else if stored.previous_id.as_ref() == Some(committed) {
        Ok(core::mem::take(&mut stored.previous))
    } else {
        Err(StateError::KeksNotCommitted)
    }
}

/// The KEK set id of a record written while no KEK object existed
/// ([`load_keks_naming_empty`]): the empty set. [`save_keks`]'s ids are SHA-256 output, never
/// all zero in practice.
pub const NO_KEKS: [u8; super::state::KEK_SET_ID_LEN] = [0; super::state::KEK_SET_ID_LEN];

fn names_no_keks(state: &State) -> bool {
    state
        .kek_set
        .as_ref()
        .is_some_and(|id| id.as_slice() == NO_KEKS)
}

/// Writes `current`, the KEK set of the message that produced `state` (its counters), under a
/// fresh id, keeping `previous` (the set `state.kek_set` commits to on entry) until that state
/// record is written; then sets `state.kek_set` to the new id. Call this first, then save the
/// state. The id is SHA-256 over the previous id, the counters and `random` (16 bytes from the
/// TEE's RNG), cut to 16 bytes: it names no key, and a message's id differs from every
/// earlier one even with a failing RNG (the counters), and from another message on the same
/// counters (a retry after a lost state write) by `random`.
pub fn save_keks(
    store: &mut dyn super::store::SecureStore,
    state: &mut State,
    previous: &[Kek],
    current: &[Kek],
    random: &[u8; 16],
) -> Result<(), super::state::StateError> {
    let mut seed = Encoder::new();
    seed.array(5)
        .text("suit-ta KEK set")
        .bytes(state.kek_set.as_ref().map_or(&[][..], |id| id.as_slice()))
        .uint(state.root_counter())
        .uint(state.delegate_counter())
        .bytes(random);
    let digest = Sha256::digest(seed.into_bytes());
    let id = ByteBuf::from(
        digest
            .get(..super::state::KEK_SET_ID_LEN)
            .unwrap_or_default()
            .to_vec(),
    );
    let stored = StoredKeks {
        counter: state.root_counter(),
        current: current.to_vec(),
        previous: previous.to_vec(),
        delegate_counter: state.delegate_counter(),
        current_id: Some(id.clone()),
        previous_id: state.kek_set.clone(),
    };
    put_keks(store, &stored)?;
    state.kek_set = Some(id);
    Ok(())
}

/// Writes `stored` as the KEK object.
fn put_keks(
    store: &mut dyn super::store::SecureStore,
    stored: &StoredKeks,
) -> Result<(), super::state::StateError> {
    let bytes = Zeroizing::new(
        super::record::encode(stored).map_err(|_| super::state::StateError::Corrupt)?,
    );
    // A record `load_keks` would refuse must not replace one it accepts.
    if bytes.len() > MAX_KEK_OBJECT {
        return Err(super::store::StoreError::NoSpace.into());
    }
    store.put_record(super::keys::KEKS_OBJECT, &bytes)?;
    Ok(())
}

/// Rewrites the KEK object with `current` alone, once `state` (saved) names its set: the
/// previous set, kept so that a cut before the state write left it in force, is not needed
/// any more.
pub fn drop_previous_keks(
    store: &mut dyn super::store::SecureStore,
    state: &State,
    current: &[Kek],
) -> Result<(), super::state::StateError> {
    let stored = StoredKeks {
        counter: state.root_counter(),
        current: current.to_vec(),
        previous: Vec::new(),
        delegate_counter: state.delegate_counter(),
        current_id: state.kek_set.clone(),
        previous_id: None,
    };
    put_keks(store, &stored)
}

/// The KEKs as the engine's key source takes them (each with the anchors that may use it).
pub fn shared_keks(keks: &[Kek]) -> Vec<super::keys::SharedKek> {
    keks.iter()
        .map(|k| super::keys::SharedKek {
            kid: k.kid.to_vec(),
            key: Zeroizing::new(k.key.expose().to_vec()),
            anchors: k.anchors.clone(),
        })
        .collect()
}

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
