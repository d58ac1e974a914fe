//! The TA's persistent state: one versioned record, replaced atomically.
//!
//! Everything that must change together lives in this single object: trust anchors,
//! component rules, the provisioning counter, the device identity, sequence numbers and the
//! list of installed components (their digests and the objects holding their bytes). An
//! update writes new component objects under fresh names, then writes the new record in one
//! atomic `put`; only after that are the objects it replaced deleted. A crash at any point
//! leaves either the old or the new record, never a mix.

use crate::protocol::ByteBuf;
use alloc::string::String;
use alloc::vec::Vec;

use crate::cose::VerificationKey;
use crate::suit::command::VendorId;
use crate::suit::policy::{ComponentRule, Permissions, Policy, Requirement, Role, TrustAnchor};
use crate::suit::ComponentId;

use super::store::{SecureStore, StoreError};

/// Object holding the state record.
pub const STATE_OBJECT: &str = "suit/state";
/// Record format; bump with a migration when the shape changes.
pub const STATE_FORMAT: u32 = 1;
/// Largest state record accepted when loading.
const MAX_STATE: usize = 256 * 1024;

/// Most anchors / rules / installed components / sequence numbers kept.
pub const MAX_ANCHORS: usize = 32;
pub const MAX_RULES: usize = 32;
pub const MAX_COMPONENTS: usize = 64;
/// Most TAs recorded as unconfirmed ([`State::unconfirmed_tas`]).
pub const MAX_UNCONFIRMED_TAS: usize = 16;
/// Length of a KEK set's id ([`State::kek_set`]).
pub const KEK_SET_ID_LEN: usize = 16;
/// Longest rollback key a new sequence-number record stores as it is; a longer one (an
/// encoded manifest-component-id or component list, up to kilobytes) is stored as its
/// SHA-256 ([`SequenceRecord::key`]), so that every new record has a bounded size.
pub const MAX_STORED_ROLLBACK_KEY: usize = 32;
/// Most sequence-number records charged to one anchor ([`SequenceRecord::owner`]): a commit
/// that would add one more is refused (`CommitRefusal::RollbackKeyQuota`), so that one
/// tenant's authors cannot fill the state record every tenant's commits need (review s40b
/// F1). Authors keep one rollback key per manifest-component-id (or component list) they
/// use: 64 is room for many products, not for a key per release.
pub const MAX_ROLLBACK_KEYS_PER_ANCHOR: usize = 64;
/// Most sequence-number records in all, whoever they are charged to (records of keys no
/// anchor covers, of removed anchors, or written before the quota): a commit that would add
/// one beyond it is refused like one over an anchor's quota. Every anchor the state can
/// hold at its quota fits (~65 bytes a record: 133 KB of the record's 256 KiB).
pub const MAX_ROLLBACK_KEYS: usize = MAX_ANCHORS * MAX_ROLLBACK_KEYS_PER_ANCHOR;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub format: u32,
    /// Bumped by every committed update; names that update's new objects.
    pub generation: u64,
    /// Counter of the last provisioning message the build-time TPA root signed (replay
    /// protection: the root's next message must carry exactly this + 1). In a record written
    /// before delegated TPA anchors had a counter of their own, the one counter root and
    /// delegates shared.
    pub provisioning_counter: u64,
    pub identity: Identity,
    pub anchors: Vec<AnchorRecord>,
    pub rules: Vec<RuleRecord>,
    pub sequence_numbers: Vec<SequenceRecord>,
    pub components: Vec<ComponentRecord>,
    /// Last anchor key scope handed out (see [`AnchorRecord::key_scope`]); only increases:
    /// read through [`State::key_scopes`], advanced only by [`State::next_key_scope`].
    pub(crate) key_scopes: u64,
    /// UUIDs of TAs whose install OP-TEE did not confirm: its TA store may hold the image of
    /// an update this state does not record (an error code from the TA store does not prove
    /// that nothing was stored: the REE answers its RPCs). Their personalization data is
    /// withheld until an update that installs them succeeds, so a newer TA is never served
    /// the older state's data.
    pub unconfirmed_tas: Vec<ByteBuf>,
    /// Counter of the last provisioning message a delegated TPA anchor (an anchor of role
    /// TPA) signed: one counter shared by every delegate, which only increases (a delegate
    /// removed and added again cannot have its old messages replayed). `None` only in a record
    /// from before this counter existed: [`State::load`] then starts it at the old shared
    /// counter, so that no message applied before (by the root or a delegate) applies again.
    /// Read it with [`State::delegate_counter`] (as stored: [`State::stored_delegate_counter`]).
    pub(crate) delegate_counter: Option<u64>,
    /// Which KEK set this record commits to: the random 16-byte id the KEK object
    /// (`provision::save_keks`) stored it under, as its `current` or (the write of this record
    /// after it did not happen) its `previous` set. `provision::load_keks` refuses an object
    /// holding neither (an older object restored: a revoked KEK must not return). All zero
    /// (`provision::NO_KEKS`): the empty set, named while no KEK object existed, so that
    /// installs need not look for one. `None` in a record from before this field, or from
    /// before `NO_KEKS` while no KEK object was ever written: the counters decide then.
    pub kek_set: Option<ByteBuf>,
}

/// Who this device is, for vendor/class/device conditions. Set by the TPA.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    pub vendor_id: Option<ByteBuf>,
    pub class_id: Option<ByteBuf>,
    pub device_id: Option<ByteBuf>,
}

pub use crate::protocol::RoleRecord;

impl From<RoleRecord> for Role {
    fn from(r: RoleRecord) -> Role {
        match r {
            RoleRecord::Tpa => Role::TrustProvisioningAuthority,
            RoleRecord::Author => Role::Author,
            RoleRecord::Operator => Role::Operator,
        }
    }
}

/// A trust anchor with its permissions (RFC 9019 §7 / RFC 6024).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnchorRecord {
    pub id: u32,
    /// The key as a COSE_Key (P-256, Ed25519, HSS-LMS or symmetric). Symmetric anchor keys
    /// are secrets: they never leave the TA.
    pub cose_key: ByteBuf,
    pub role: RoleRecord,
    pub scope: Scope,
    /// Selects the anchor's payload-decryption keys (keys.rs). Assigned by the device when
    /// the anchor is added, from a counter that never repeats; whatever a provisioning
    /// message carries here is ignored. 0 = none (records from before per-anchor keys).
    pub key_scope: u64,
}

/// What an anchor may authorise. Component prefixes must be granted explicitly; empty
/// vendor/class lists mean any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scope {
    pub component_prefixes: Vec<Vec<ByteBuf>>,
    pub vendor_ids: Vec<ByteBuf>,
    pub class_ids: Vec<ByteBuf>,
    /// Whether payloads decrypted with this anchor's keys (or copied from secure components)
    /// may be written to `['ree', ...]` components, i.e. leave the TEE. Off unless the TPA
    /// sets it. Content owned by several anchors (every anchor whose scope covers its
    /// component) leaves only if all of them have it; a co-signer's flag does not count
    /// (`keys::AnchorKeySource`).
    pub ree_plaintext: bool,
    /// The status tracker's P-256 public key (SEC1, uncompressed: 65 bytes) this anchor's
    /// reports are encrypted to: a report whose manifest this anchor authenticated is signed
    /// as a `SUIT_Report_COSE_Encrypt0` sealed to it (HPKE-0), so only that tracker reads it.
    /// Used for nothing else. `None` (records and messages from before it): reports in clear.
    pub tracker_key: Option<ByteBuf>,
}

impl Scope {
    /// The segment count of the longest of this scope's prefixes that `c` starts with (`None`:
    /// the scope does not cover `c`).
    pub fn longest_cover(&self, c: &ComponentId) -> Option<usize> {
        let segments = c.segments();
        self.component_prefixes
            .iter()
            .filter(|p| {
                segments.len() >= p.len()
                    && segments
                        .iter()
                        .zip(p.iter())
                        .all(|(s, q)| s.as_slice() == q.as_slice())
            })
            .map(Vec::len)
            .max()
    }
}

/// "Changing components under `prefix` needs all of these signers."
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRecord {
    pub prefix: Vec<ByteBuf>,
    pub required_roles: Vec<RoleRecord>,
    pub required_anchors: Vec<u32>,
}

/// The highest sequence number accepted under one rollback key (`Manifest::rollback_key`,
/// `dependency_rollback_key`, or an unlinked component's floor).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SequenceRecord {
    /// The key as it is if at most [`MAX_STORED_ROLLBACK_KEY`] bytes, else its SHA-256
    /// ([`stored_rollback_key`]). A record a TA before session 40 wrote may hold a longer
    /// key in full: lookups match either form, so it is still found and updated in place.
    pub key: ByteBuf,
    pub value: u64,
    /// The anchor charged for the record ([`State::set_sequence_number_by`]: a signer of the
    /// manifest that set it; fixed when it was added): [`MAX_ROLLBACK_KEYS_PER_ANCHOR`] bounds each. `None` for a key no anchor's
    /// scope covers and for records written before session 40 (only [`MAX_ROLLBACK_KEYS`]
    /// bounds those).
    pub owner: Option<u32>,
}

/// Why a new sequence-number record was refused ([`State::set_sequence_number`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RollbackKeyQuota {
    /// The anchor it is charged to holds [`MAX_ROLLBACK_KEYS_PER_ANCHOR`] records.
    Anchor(u32),
    /// The state holds [`MAX_ROLLBACK_KEYS`] records.
    Device,
}

/// How a new record stores rollback key `key`: as it is up to [`MAX_STORED_ROLLBACK_KEY`]
/// bytes, else its SHA-256. (A short key is an encoded identifier or list, an unlinked floor's
/// `unlinked:` key, never 32 chosen bytes: finding one equal to another key's hash is a
/// preimage.)
pub fn stored_rollback_key(key: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    if key.len() <= MAX_STORED_ROLLBACK_KEY {
        key.to_vec()
    } else {
        sha2::Sha256::digest(key).to_vec()
    }
}

/// The component identifier rollback key `key` is about, read with the engine's own decoder:
/// a manifest-component-id (an encoded identifier), a component list (its first component)
/// or an unlinked component's floor (`unlinked:` and the encoded identifier). `None` for
/// anything else.
pub fn rollback_key_component(key: &[u8]) -> Option<ComponentId> {
    use crate::cbor::Decoder;
    let body = key.strip_prefix(b"unlinked:").unwrap_or(key);
    let mut d = Decoder::new(body);
    if let Ok(id) = ComponentId::decode(&mut d) {
        if d.is_empty() {
            return Some(id);
        }
    }
    if body.len() != key.len() {
        return None;
    }
    let mut d = Decoder::new(key);
    if d.array().ok()? == 0 {
        return None;
    }
    ComponentId::decode(&mut d).ok()
}

/// An installed component: what was approved and where its bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ComponentRecord {
    pub id: Vec<ByteBuf>,
    /// SHA-256 of the installed bytes.
    pub digest: ByteBuf,
    pub size: u64,
    /// Secure-storage object holding the bytes.
    pub object: String,
    /// Sequence number of the manifest that installed it.
    pub sequence_number: u64,
    /// For trusted applications: the installed `ta_version` (downgrades are refused).
    pub ta_version: Option<u32>,
    /// Decrypted content that never matched a digest of the signed manifest (an AEAD tag
    /// authenticated it): its digest stays inside the TA, or the REE could test guesses of a
    /// low-entropy secret against it. Status and reports leave it out.
    pub digest_withheld: bool,
    /// For an REE component holding confidential content (decrypted, or copied from secure
    /// or released content): the anchors whose `ree_plaintext` let it out of the TEE, at most
    /// one entry per anchor. `ReeExport`, and a copy of it into another REE component, need
    /// one of them to hold the flag still ([`Release::holds`]). Empty: the content was never
    /// confidential, or was committed before releases were recorded (session 42).
    pub released_by: Vec<Release>,
}

impl ComponentRecord {
    /// The digest that may leave the TA, if any.
    pub fn public_digest(&self) -> Option<&[u8]> {
        (!self.digest_withheld).then_some(self.digest.as_slice())
    }

    /// Whether this REE component's content may leave the TEE now: it was never released
    /// by a flag (public content), or one of the anchors that released it still holds
    /// `ree_plaintext` ([`Release::holds`]).
    pub fn still_released(&self, anchors: &[AnchorRecord]) -> bool {
        self.released_by.is_empty() || self.released_by.iter().any(|r| r.holds(anchors))
    }
}

/// An anchor whose `ree_plaintext` released confidential content into an REE component
/// ([`ComponentRecord::released_by`]): its id and the key scope the device gave it when it
/// was added, which no later anchor gets again (an id removed and added again is another
/// anchor; anchors from before key scopes all have 0, and none is added with it now).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Release {
    pub anchor: u32,
    pub key_scope: u64,
}

impl Release {
    /// A release no anchor holds (key scopes are given from 1 upwards and never reach it):
    /// what a record gets where the key source could not say who released its content.
    pub const NEVER: Release = Release {
        anchor: crate::protocol::RELEASE_UNRECORDED,
        key_scope: u64::MAX,
    };

    /// The release of `a`.
    pub fn of(a: &AnchorRecord) -> Self {
        Release {
            anchor: a.id,
            key_scope: a.key_scope,
        }
    }

    /// Whether the anchor that made this release is still present (same id, same key scope)
    /// and still lets plaintext into the REE.
    pub fn holds(&self, anchors: &[AnchorRecord]) -> bool {
        anchors
            .iter()
            .any(|a| a.id == self.anchor && a.key_scope == self.key_scope && a.scope.ree_plaintext)
    }
}

// The stored layout (`service::record`): each a map keyed by field name in this order;
// `= default` for fields added after records were first stored.
crate::cbor::struct_codec!(State {
    format,
    generation,
    provisioning_counter,
    identity,
    anchors,
    rules,
    sequence_numbers,
    components,
    key_scopes = default,
    unconfirmed_tas = default,
    delegate_counter = default,
    kek_set = default,
});
crate::cbor::struct_codec!(Identity {
    vendor_id,
    class_id,
    device_id
});
crate::cbor::struct_codec!(AnchorRecord {
    id,
    cose_key,
    role,
    scope,
    key_scope = default,
});
crate::cbor::struct_codec!(Scope {
    component_prefixes,
    vendor_ids,
    class_ids,
    ree_plaintext = default,
    tracker_key = default,
});
crate::cbor::struct_codec!(RuleRecord {
    prefix,
    required_roles,
    required_anchors
});
crate::cbor::struct_codec!(SequenceRecord {
    key,
    value,
    owner = default,
});
crate::cbor::struct_codec!(ComponentRecord {
    id,
    digest,
    size,
    object,
    sequence_number,
    ta_version = default,
    digest_withheld = default,
    released_by = default,
});
crate::cbor::struct_codec!(Release { anchor, key_scope });

/// Why the state could not be loaded or saved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StateError {
    Store(StoreError),
    /// The record does not decode or has an unknown format: refuse rather than guess.
    Corrupt,
    /// An anchor's stored key no longer parses.
    BadAnchorKey(u32),
    /// The KEK object holds neither the KEK set the state record commits to nor the one
    /// before it ([`State::kek_set`]): it was replaced by an older copy or removed.
    KeksNotCommitted,
    /// The state record or the journal is missing while the device keys exist (they are
    /// stored after both): deleted, not a new device.
    Deleted,
}

impl From<StoreError> for StateError {
    fn from(e: StoreError) -> Self {
        StateError::Store(e)
    }
}

pub fn component_from(segments: &[ByteBuf]) -> ComponentId {
    let segs: Vec<&[u8]> = segments.iter().map(|s| s.as_slice()).collect();
    ComponentId::new(&segs)
}

pub fn segments_of(id: &ComponentId) -> Vec<ByteBuf> {
    id.segments()
        .iter()
        .map(|s| ByteBuf::from(s.clone()))
        .collect()
}

fn vendor_from(bytes: &[u8]) -> VendorId {
    match <[u8; 16]>::try_from(bytes) {
        Ok(uuid) => VendorId::Uuid(uuid),
        Err(_) => VendorId::Pen(bytes.into()),
    }
}

impl State {
    pub fn new() -> Self {
        State {
            format: STATE_FORMAT,
            delegate_counter: Some(0),
            ..Default::default()
        }
    }

    /// The TPA root's provisioning counter (see [`State::provisioning_counter`]).
    pub fn root_counter(&self) -> u64 {
        self.provisioning_counter
    }

    /// The delegated TPA anchors' provisioning counter. A record from before it existed had
    /// one counter for root and delegates: both start there, so no old message is accepted
    /// again whoever signed it.
    pub fn delegate_counter(&self) -> u64 {
        self.delegate_counter.unwrap_or(self.provisioning_counter)
    }

    /// The delegates' counter as the record holds it: `None` in a record from before it
    /// existed. What applies is [`State::delegate_counter`].
    pub fn stored_delegate_counter(&self) -> Option<u64> {
        self.delegate_counter
    }

    /// The last anchor key scope handed out (0: none yet).
    pub fn key_scopes(&self) -> u64 {
        self.key_scopes
    }

    /// Sets the stored delegates' counter, as a record of any version may hold it: for tests
    /// and for the author tool's models of a device, never for the service.
    #[cfg(feature = "author")]
    #[doc(hidden)]
    pub fn set_stored_delegate_counter(&mut self, counter: Option<u64>) {
        self.delegate_counter = counter;
    }

    /// Sets the last key scope handed out, as a record of any version may hold it: for tests
    /// and for the author tool's models of a device, never for the service.
    #[cfg(feature = "author")]
    #[doc(hidden)]
    pub fn set_key_scopes(&mut self, key_scopes: u64) {
        self.key_scopes = key_scopes;
    }

    /// Loads the record; a device that never stored one starts empty, one whose key object
    /// says it did ([`super::keys::established`]) refuses: the record was deleted.
    pub fn load(store: &dyn SecureStore) -> Result<State, StateError> {
        let Some(bytes) = store.get(STATE_OBJECT)? else {
            if super::keys::established(store)? {
                return Err(StateError::Deleted);
            }
            return Ok(State::new());
        };
        let mut state: State =
            super::record::decode_stored(&bytes, MAX_STATE).map_err(|_| StateError::Corrupt)?;
        // A record from before the delegates' counter: it starts at the shared counter.
        state.delegate_counter = Some(state.delegate_counter());
        if state.format != STATE_FORMAT
            || state
                .kek_set
                .as_ref()
                .is_some_and(|id| id.len() != KEK_SET_ID_LEN)
            || state.unconfirmed_tas.len() > MAX_UNCONFIRMED_TAS
            || state.unconfirmed_tas.iter().any(|u| u.len() != 16)
        {
            return Err(StateError::Corrupt);
        }
        Ok(state)
    }

    /// Whether OP-TEE left TA `uuid`'s last install unconfirmed ([`Self::unconfirmed_tas`]).
    pub fn is_unconfirmed(&self, uuid: &[u8; 16]) -> bool {
        self.unconfirmed_tas.iter().any(|u| u.as_slice() == uuid)
    }

    /// Records that TA `uuid` may be newer in OP-TEE's store than this state says; `false`
    /// when the list is full (the caller must then keep its commit pending instead).
    pub fn mark_unconfirmed(&mut self, uuid: &[u8; 16]) -> bool {
        if !self.can_mark_unconfirmed(uuid) {
            return false;
        }
        if !self.is_unconfirmed(uuid) {
            self.unconfirmed_tas.push(ByteBuf::from(uuid.to_vec()));
        }
        true
    }

    /// Whether [`Self::mark_unconfirmed`] would succeed for `uuid`.
    pub fn can_mark_unconfirmed(&self, uuid: &[u8; 16]) -> bool {
        self.is_unconfirmed(uuid) || self.unconfirmed_tas.len() < MAX_UNCONFIRMED_TAS
    }

    /// TA `uuid` is installed as this state records it.
    pub fn confirm(&mut self, uuid: &[u8; 16]) {
        self.unconfirmed_tas.retain(|u| u.as_slice() != uuid);
    }

    /// The state that ends a pending commit of `generation` unapplied: this one with the
    /// commit's TAs marked unconfirmed (any of them may be in OP-TEE's store), at the commit's
    /// generation, so that a power cut after it is written never rolls the commit forward.
    /// `None` when the list has no room (the commit must then stay pending).
    pub fn unapplied_commit(&self, generation: u64, uuids: &[[u8; 16]]) -> Option<State> {
        let mut marked = self.clone();
        marked.generation = generation;
        uuids
            .iter()
            .all(|u| marked.mark_unconfirmed(u))
            .then_some(marked)
    }

    /// Whether the record fits what `load` accepts: checked before a commit starts, so that
    /// no journal ever holds a state that cannot be written.
    pub fn fits(&self) -> Result<(), StateError> {
        self.encode().map(drop)
    }

    /// Writes the record in one atomic replace.
    pub fn save(&self, store: &mut dyn SecureStore) -> Result<(), StateError> {
        store.put_record(STATE_OBJECT, &self.encode()?)?;
        Ok(())
    }

    /// SHA-256 of the record this state is stored as: names one state, where a generation
    /// may be reached by different commits (a report's tag for a write whose landing is
    /// unknown).
    pub fn digest(&self) -> Result<[u8; 32], StateError> {
        use sha2::Digest as _;
        Ok(sha2::Sha256::digest(&*self.encode()?).into())
    }

    /// The record, refused if `load` would refuse it (it must not replace one `load`
    /// accepts); wiped after use: symmetric anchor keys are in it.
    fn encode(&self) -> Result<zeroize::Zeroizing<Vec<u8>>, StateError> {
        let bytes =
            zeroize::Zeroizing::new(super::record::encode(self).map_err(|_| StateError::Corrupt)?);
        if bytes.len() > MAX_STATE {
            return Err(StoreError::NoSpace.into());
        }
        Ok(bytes)
    }

    /// The engine's view of anchors and rules.
    pub fn policy(&self) -> Result<Policy, StateError> {
        let mut anchors = Vec::with_capacity(self.anchors.len());
        for a in &self.anchors {
            let (key, kid) = VerificationKey::from_cose_key(&a.cose_key)
                .map_err(|_| StateError::BadAnchorKey(a.id))?;
            anchors.push(TrustAnchor {
                id: a.id,
                kid,
                key,
                role: a.role.into(),
                permissions: Permissions {
                    component_prefixes: a
                        .scope
                        .component_prefixes
                        .iter()
                        .map(|p| component_from(p))
                        .collect(),
                    vendor_ids: a.scope.vendor_ids.iter().map(|v| vendor_from(v)).collect(),
                    class_ids: a
                        .scope
                        .class_ids
                        .iter()
                        .filter_map(|c| <[u8; 16]>::try_from(c.as_slice()).ok())
                        .collect(),
                },
            });
        }
        let rules = self
            .rules
            .iter()
            .map(|r| ComponentRule {
                prefix: component_from(&r.prefix),
                required: r
                    .required_roles
                    .iter()
                    .map(|role| Requirement::Role((*role).into()))
                    .chain(r.required_anchors.iter().map(|id| Requirement::Anchor(*id)))
                    .collect(),
            })
            .collect();
        Ok(Policy {
            anchors,
            rules,
            require_plaintext_digest: false,
            // Update management, the strict default on purpose (SECURITY.md): the TA's only
            // wall clock is OP-TEE's REE time, which the normal world sets, so use-before
            // fails as "clock not trusted"; no battery gauge and no application to ask, so
            // minimum-battery and update-authorized fail; waits only poll; metadata cannot be
            // applied to secure-storage objects, so fetch / copy / write with it are refused.
            update_management: Default::default(),
        })
    }

    /// The record of rollback key `key`: stored as [`stored_rollback_key`] makes it, or in
    /// full (a long key in a record from before session 40).
    fn sequence_record(&self, key: &[u8]) -> Option<usize> {
        let stored = stored_rollback_key(key);
        self.sequence_numbers
            .iter()
            .position(|s| s.key.as_slice() == key || s.key.as_slice() == stored.as_slice())
    }

    pub fn sequence_number(&self, key: &[u8]) -> Option<u64> {
        self.sequence_record(key)
            .and_then(|i| self.sequence_numbers.get(i))
            .map(|s| s.value)
    }

    /// Records `value` under `key`, never lowering what is stored: one update's manifests
    /// (a root and dependencies sharing a rollback key) or an older commit must not reopen
    /// the door to a number already passed. A new key gets a record of bounded size
    /// ([`stored_rollback_key`]) charged to its owner ([`Self::rollback_key_owner`]); it is
    /// refused, changing nothing, when the owner has [`MAX_ROLLBACK_KEYS_PER_ANCHOR`] records
    /// already or the state [`MAX_ROLLBACK_KEYS`].
    pub fn set_sequence_number(&mut self, key: &[u8], value: u64) -> Result<(), RollbackKeyQuota> {
        let owner = self.rollback_key_owner(key);
        self.set_sequence_number_for(key, value, owner)
    }

    /// [`Self::set_sequence_number`] for a key a manifest signed by `signers` set: a new record
    /// is charged to one of them ([`Self::rollback_key_owner_among`]), never to another anchor
    /// whose scope the key falls in (review s40c: an outer author naming keys under a nested
    /// tenant's prefix spent that tenant's quota). Without signers, as
    /// [`Self::set_sequence_number`].
    pub fn set_sequence_number_by(
        &mut self,
        key: &[u8],
        value: u64,
        signers: &[u32],
    ) -> Result<(), RollbackKeyQuota> {
        let owner = match signers {
            [] => self.rollback_key_owner(key),
            _ => self.rollback_key_owner_among(key, signers),
        };
        self.set_sequence_number_for(key, value, owner)
    }

    fn set_sequence_number_for(
        &mut self,
        key: &[u8],
        value: u64,
        owner: Option<u32>,
    ) -> Result<(), RollbackKeyQuota> {
        if let Some(s) = self
            .sequence_record(key)
            .and_then(|i| self.sequence_numbers.get_mut(i))
        {
            s.value = s.value.max(value);
            return Ok(());
        }
        if let Some(id) = owner {
            let held = self
                .sequence_numbers
                .iter()
                .filter(|s| s.owner == Some(id))
                .count();
            if held >= MAX_ROLLBACK_KEYS_PER_ANCHOR {
                return Err(RollbackKeyQuota::Anchor(id));
            }
        }
        if self.sequence_numbers.len() >= MAX_ROLLBACK_KEYS {
            return Err(RollbackKeyQuota::Device);
        }
        self.sequence_numbers.push(SequenceRecord {
            key: ByteBuf::from(stored_rollback_key(key)),
            value,
            owner,
        });
        Ok(())
    }

    /// The anchor a new record of rollback key `key` is charged to: of the anchors whose
    /// scope covers the key's component ([`rollback_key_component`]), the one with the
    /// longest such prefix (the most specific grant; the lowest id among equals). `None`
    /// when no anchor covers it (the policy lets no such key through) or the key is no
    /// component's.
    pub fn rollback_key_owner(&self, key: &[u8]) -> Option<u32> {
        self.covering_owner(key, |_| true)
    }

    /// The signer of `signers` a new record of `key` is charged to: of those whose scope
    /// covers the key's component, the one with the longest such prefix (the lowest id
    /// among equals); if none covers it (a key the policy let through on another signer's
    /// scope), the lowest signer id that is an anchor of this state.
    pub fn rollback_key_owner_among(&self, key: &[u8], signers: &[u32]) -> Option<u32> {
        self.covering_owner(key, |id| signers.contains(&id))
            .or_else(|| {
                signers
                    .iter()
                    .copied()
                    .filter(|id| self.anchors.iter().any(|a| a.id == *id))
                    .min()
            })
    }

    /// Of the anchors `eligible` admits, the one whose scope prefix covering `key`'s
    /// component is longest (the lowest id among equals).
    fn covering_owner(&self, key: &[u8], eligible: impl Fn(u32) -> bool) -> Option<u32> {
        let component = rollback_key_component(key)?;
        self.anchors
            .iter()
            .filter(|a| eligible(a.id))
            .filter_map(|a| {
                let longest = a.scope.longest_cover(&component)?;
                Some((longest, core::cmp::Reverse(a.id)))
            })
            .max()
            .map(|(_, core::cmp::Reverse(id))| id)
    }

    /// Hands out the next anchor key scope (`None` once the counter is exhausted: never reuse).
    pub fn next_key_scope(&mut self) -> Option<u64> {
        self.key_scopes = self.key_scopes.checked_add(1)?;
        Some(self.key_scopes)
    }

    pub fn component(&self, id: &ComponentId) -> Option<&ComponentRecord> {
        self.components
            .iter()
            .find(|c| component_from(&c.id) == *id)
    }
}

#[cfg(test)]
mod tests {
    use super::super::store::MemoryStore;
    use super::*;

    #[test]
    fn empty_store_loads_empty_state_and_round_trips() {
        let mut store = MemoryStore::new();
        let mut s = State::load(&store).unwrap();
        assert_eq!(s, State::new());
        s.provisioning_counter = 7;
        s.set_sequence_number(b"k", 3).unwrap();
        s.set_sequence_number(b"k", 4).unwrap();
        s.set_sequence_number(b"k", 2).unwrap();
        s.save(&mut store).unwrap();
        let back = State::load(&store).unwrap();
        assert_eq!(back.sequence_number(b"k"), Some(4));
        assert_eq!(back.provisioning_counter, 7);
    }

    /// A key a manifest's signers set is charged to a signer (the most specific of them),
    /// never to another anchor whose scope the key falls in, nor to a co-owner of equal
    /// prefix that did not sign (review s40c).
    #[test]
    fn a_new_rollback_key_is_charged_to_a_signer() {
        let anchor = |id: u32, prefix: &[&[u8]]| AnchorRecord {
            id,
            cose_key: ByteBuf::from(alloc::vec![]),
            role: RoleRecord::Author,
            scope: Scope {
                component_prefixes: alloc::vec![prefix
                    .iter()
                    .map(|p| ByteBuf::from(p.to_vec()))
                    .collect()],
                ..Scope::default()
            },
            key_scope: 0,
        };
        let mut s = State::new();
        s.anchors.push(anchor(1, &[b"app"]));
        s.anchors.push(anchor(2, &[b"app", b"b"]));
        s.anchors.push(anchor(3, &[b"app", b"b"]));
        let key = ComponentId::new(&[b"app".as_slice(), b"b", b"k"]).encode();
        assert_eq!(s.rollback_key_owner(&key), Some(2));
        assert_eq!(s.rollback_key_owner_among(&key, &[1]), Some(1));
        assert_eq!(s.rollback_key_owner_among(&key, &[3]), Some(3));
        assert_eq!(s.rollback_key_owner_among(&key, &[1, 3]), Some(3));
        // A signer whose scope does not cover it (another signer's did): still a signer.
        let other = ComponentId::new(&[b"fw".as_slice()]).encode();
        assert_eq!(s.rollback_key_owner_among(&other, &[3, 2]), Some(2));
        assert_eq!(s.rollback_key_owner_among(&other, &[9]), None);
        s.set_sequence_number_by(&key, 1, &[1]).unwrap();
        assert_eq!(s.sequence_numbers.last().and_then(|r| r.owner), Some(1));
    }

    /// New rollback keys stop at the owner's quota and at the device's total; keys held
    /// already still take newer numbers at either.
    #[test]
    fn new_rollback_keys_stop_at_the_owners_quota_and_the_devices_total() {
        let mut s = State::new();
        s.anchors.push(AnchorRecord {
            id: 4,
            cose_key: ByteBuf::from(alloc::vec![]),
            role: RoleRecord::Author,
            scope: Scope {
                component_prefixes: alloc::vec![alloc::vec![ByteBuf::from(b"app".to_vec())]],
                ..Scope::default()
            },
            key_scope: 0,
        });
        let owned = |i: usize| ComponentId::new(&[b"app".as_slice(), &i.to_be_bytes()]).encode();
        for i in 0..MAX_ROLLBACK_KEYS_PER_ANCHOR {
            s.set_sequence_number(&owned(i), 1).unwrap();
        }
        let before = s.clone();
        assert_eq!(
            s.set_sequence_number(&owned(MAX_ROLLBACK_KEYS_PER_ANCHOR), 1),
            Err(RollbackKeyQuota::Anchor(4))
        );
        assert_eq!(s, before);
        s.set_sequence_number(&owned(0), 2).unwrap();
        assert_eq!(s.sequence_number(&owned(0)), Some(2));
        // Keys no anchor covers: charged to no one, bounded by the total.
        let mut i = 0u32;
        while s.sequence_numbers.len() < MAX_ROLLBACK_KEYS {
            s.set_sequence_number(&i.to_be_bytes(), 1).unwrap();
            i += 1;
        }
        assert!(s
            .sequence_numbers
            .iter()
            .skip(MAX_ROLLBACK_KEYS_PER_ANCHOR)
            .all(|r| r.owner.is_none()));
        assert_eq!(
            s.set_sequence_number(b"one more", 1),
            Err(RollbackKeyQuota::Device)
        );
        s.set_sequence_number(&0u32.to_be_bytes(), 5).unwrap();
    }

    /// A stored Ed25519 anchor on a TA built without `ed25519` (a TA updated to such a build;
    /// README "Algorithm features"): the policy cannot be read, so every install is refused,
    /// until the TPA removes the anchor, which applies without reading its key. With the
    /// feature the policy reads.
    #[test]
    fn a_stored_ed25519_anchor_blocks_the_policy_without_the_feature_until_removed() {
        use crate::service::provision::{apply_ops, Op, Signer, WrapBinding, TPA_ROOT_ID};
        // {1: 1 (OKP), -1: 6 (Ed25519), -2: RFC 8032 test 1's public key}.
        let mut cose_key = alloc::vec![0xa3, 0x01, 0x01, 0x20, 0x06, 0x21, 0x58, 0x20];
        cose_key.extend([
            0xd7, 0x5a, 0x98, 0x01, 0x82, 0xb1, 0x0a, 0xb7, 0xd5, 0x4b, 0xfe, 0xd3, 0xc9, 0x64,
            0x07, 0x3a, 0x0e, 0xe1, 0x72, 0xf3, 0xda, 0xa6, 0x23, 0x25, 0xaf, 0x02, 0x1a, 0x68,
            0xf7, 0x07, 0x51, 0x1a,
        ]);
        let mut state = State::new();
        state.anchors.push(AnchorRecord {
            id: 3,
            cose_key: ByteBuf::from(cose_key),
            role: RoleRecord::Author,
            scope: Scope::default(),
            key_scope: 1,
        });
        if cfg!(feature = "ed25519") {
            assert!(state.policy().is_ok());
            return;
        }
        assert_eq!(state.policy().err(), Some(StateError::BadAnchorKey(3)));
        let signer = Signer {
            id: TPA_ROOT_ID,
            root: None,
            binding: WrapBinding {
                signer: [0; 32],
                device: b"",
            },
        };
        let mut keks = Vec::new();
        let mut unwrap =
            |_: &[u8], _: &[u8]| Err(crate::service::provision::OpError::SecretNotKnown);
        apply_ops(
            &mut state,
            &mut keks,
            &signer,
            &[Op::RemoveAnchor { id: 3 }],
            &mut unwrap,
        )
        .map_err(|_| "the removal was refused")
        .unwrap();
        assert!(state.anchors.is_empty());
        assert!(state.policy().is_ok());
    }

    #[test]
    fn corrupt_or_foreign_records_are_refused() {
        let mut store = MemoryStore::new();
        store.put(STATE_OBJECT, &[0xff, 0x00]).unwrap();
        assert_eq!(State::load(&store), Err(StateError::Corrupt));
        let future = State {
            format: STATE_FORMAT + 1,
            ..State::new()
        };
        store
            .put(
                STATE_OBJECT,
                &crate::service::record::encode(&future).unwrap(),
            )
            .unwrap();
        assert_eq!(State::load(&store), Err(StateError::Corrupt));
    }
}
