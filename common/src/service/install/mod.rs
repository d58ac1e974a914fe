//! Installing an envelope the REE streams in over several TA calls.
//!
//! 1. `begin` with the envelope's length, then envelope chunks (kept in TA memory, bounded).
//! 2. `prepare`: the engine's own checks ([`suit::check()`]: decode, authenticate, policy,
//!    rollback), with no side effect; answer which payload URIs the authenticated manifest
//!    may fetch, with their authenticated size bounds.
//! 3. payload chunks, only for those URIs, appended to secure-storage objects (bounded).
//! 4. `finish`: run the whole SUIT update procedure over the staged bytes. Component writes
//!    go to objects no installed component uses; one atomic state write commits them
//!    together with the sequence number; any failure drops everything staged and changes
//!    nothing.
//!
//! The session is in one phase at a time (`Phase`: idle, receiving the envelope, prepared);
//! each step matches the phases it belongs to, and a step out of its phase is refused with
//! [`InstallError::Sequence`] and changes nothing. The engine's [`suit::Platform`] over secure
//! storage is in `platform`, the journal and its recovery in `journal`.
//!
//! What leaves the TA about an attempt: before the manifest is authenticated nothing is
//! decoded beyond what authentication needs, and a refusal's report and text name the error
//! only ([`ReportBuilder::refused_before_authentication`]); afterwards, claims come from the
//! authenticated manifest ([`ManifestClaims`]), and system information about components from
//! the engine's `Disclosure` gate, never from staged plaintext that is not authenticated.
//!
//! Power cuts: every object an install creates is named in the [`Journal`] before it exists,
//! and a commit that hands a TA image to OP-TEE (irreversible) records its whole next state
//! there first. [`reconcile`] rolls such a commit forward at the next start; [`cleanup`]
//! (at `begin`) empties or deletes exactly the journal's objects the state does not use
//! (emptied: names a later install takes again, see [`free_slot`]).

use crate::suit::error::Words;
use alloc::string::String;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::report::{Failure, ManifestClaims, Report, ReportBuilder};
use crate::suit::decrypt::KeySource;
use crate::suit::platform::PlatformError;
use crate::suit::{self, ComponentId, Procedure, Refusal};

use super::components::{self, MAX_TA_IMAGE};
use super::state::{State, StateError};
use super::store::{SecureStore, StoreError};
use super::TaStore;
// The platform and journal modules name `record`, `state` and `store` by path
// (`super::store::zeroed`), as they did when all of this was one file.
use super::{record, state, store};

mod journal;
mod platform;
mod stream;

pub use journal::{
    abandon, cleanup, reconcile, Journal, PendingCommit, Reconciled, JOURNAL_OBJECT,
};
use journal::{abandoned_state, cleanup_listed};
use platform::{Delivered, StorePlatform};
use stream::{Planned, Stream};

/// Largest envelope (integrated payloads included) held in TA memory: the engine's limit, so
/// `begin` refuses at once what prepare would refuse after buffering it.
pub const MAX_ENVELOPE: usize = suit::envelope::MAX_ENVELOPE_LEN;
/// Largest detached payload staged in secure storage (the engine's payload limit).
pub const MAX_PAYLOAD: u64 = suit::interpreter::MAX_PAYLOAD_LEN;
/// Most detached payloads one envelope may fetch (the protocol's, which the agent holds the
/// TA to).
pub const MAX_PAYLOADS: usize = crate::protocol::MAX_PAYLOADS;

/// Dependency walks ([`InstallSession::delivered_dependency`]) one prepared install runs at
/// most: each re-checks the root and reads back the delivered envelopes, and the REE can
/// complete a dependency payload again at will (a restart of one byte), so an honest
/// delivery's one walk per dependency payload, twice over for retries, and no more.
const MAX_WALKS: usize = 2 * MAX_PAYLOADS;
// The prepare response lists every URI to fetch (each at most the engine's bound, as text
// with a 3-byte header), their size bounds (9 bytes each), the signers (an anchor id is at
// most 5) and its framing; a payload chunk request names one URI beside its data. Both fit
// whatever an authentic manifest holds.
const _: () = {
    use crate::protocol::{MAX_CHUNK, MAX_REQUEST, MAX_RESPONSE};
    let uri = suit::command::MAX_PARAMETER_URI_LEN + 3;
    let prepared = MAX_PAYLOADS * (uri + 9) + state::MAX_ANCHORS * 5 + 64;
    assert!(prepared <= MAX_RESPONSE);
    assert!(uri + 64 <= MAX_REQUEST - MAX_CHUNK);
};
/// Most components staged by one update, and most staging objects it may create.
const MAX_STAGED: usize = 16;
const MAX_SERIAL: usize = 64;
/// Most bytes an object is created with (the rest is appended): a `put` must fit one
/// storage segment (512 KiB in the TA), and a chunk is at most 256 KiB.
pub const MAX_CREATE_WITH_DATA: usize = 256 * 1024;

/// Why an install step was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum InstallError {
    /// The agent sent the steps out of order or inconsistent offsets/lengths.
    Sequence(Words),
    /// What exceeds the TA's limit.
    TooLarge(Words),
    /// A payload the authenticated manifest does not ask for.
    UnexpectedPayload,
    Store(StoreError),
    /// The engine refused the envelope (what and where, no secrets).
    Refused(alloc::sync::Arc<suit::Error>),
    /// The stored policy (anchors, rules) does not load.
    Policy(StateError),
    /// A component the update stages was refused when it was checked or committed.
    Commit(CommitRefusal),
    /// An envelope of length 0.
    EmptyEnvelope,
}

crate::cbor::numbered_enum_codec!(InstallError {
    0 => Sequence(what),
    1 => TooLarge(what),
    2 => UnexpectedPayload,
    3 => Store(e),
    4 => Refused(e),
    5 => Policy(e),
    6 => Commit(what),
    7 => EmptyEnvelope,
});

/// Why the platform refused a staged component at commit time (more precise than the engine's
/// `PlatformError::Refused` it returns). UUIDs are those of TAs the authenticated manifest
/// names (or the image whose digest it matched), never content.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommitRefusal {
    /// The component was removed by a manifest with sequence number `floor`.
    Removed { component: ComponentId, floor: u64 },
    /// Not newer than the manifest that installed the current content.
    Rollback {
        component: ComponentId,
        offered: u64,
        installed: u64,
    },
    /// Not a valid normal-world path.
    NotReePath(ComponentId),
    /// A TA image over [`components::MAX_TA_IMAGE`] (its length).
    TaTooLarge(u64),
    /// More than one TA in one update.
    OneTaPerUpdate,
    /// The payload is not a signed TA image.
    NotTaImage {
        component: ComponentId,
        error: components::TaImageError,
    },
    /// Content whose digest is withheld is not an image of the TA the manifest installs,
    /// newer than the installed one: which check failed is not said (it would describe the
    /// content).
    WithheldNotInstallable(ComponentId),
    /// The image's UUID is not the one the manifest installs.
    WrongTa {
        image: crate::protocol::ByteBuf,
        manifest: crate::protocol::ByteBuf,
    },
    /// The TA version is not newer than the installed one.
    TaNotNewer { offered: u32, installed: u32 },
    /// Personalization data over [`components::MAX_PERSONALIZATION`] (its length).
    PersonalizationTooLarge(u64),
    /// Unlink of a TA (not supported).
    UnlinkTa(crate::protocol::ByteBuf),
    /// Unlink of a normal-world file (not supported).
    UnlinkRee(String),
    /// The unconfirmed-TA list is full; installing this TA needs room in it.
    TooManyUnconfirmed(crate::protocol::ByteBuf),
    /// OP-TEE could not install the TA: the update is pending and retried.
    InstallPending {
        uuid: crate::protocol::ByteBuf,
        code: u32,
    },
    /// OP-TEE did not confirm the install: the update is not applied.
    InstallNotConfirmed {
        uuid: crate::protocol::ByteBuf,
        code: u32,
    },
    /// The state write failed and may have landed all the same.
    StateWriteUncertain,
    /// OP-TEE installed the TA but the state write after it failed: the journal holds the
    /// commit, which [`reconcile`] completes before the next command (the update is applied).
    CommitPending { uuid: crate::protocol::ByteBuf },
    /// A fetch of a URI the install never listed, so the REE was never asked for it: a
    /// payload of a dependency whose envelope the TA could not read before the fetch (the REE
    /// delivered no such envelope, or one its limits kept it from reading: beyond
    /// [`MAX_PAYLOADS`] URIs, or deeper than the engine processes; see
    /// [`InstallSession::delivered_dependency`] and CONFORMANCE.md).
    UnlistedPayload(String),
    /// A fetch of a URI `prepare` listed that the REE did not send: it left the URI out (a
    /// try-each option whose condition fails never fetches it). The URI is the
    /// authenticated manifest's, so the agent can tell which of those it left out was needed.
    PayloadNotDelivered(String),
    /// OP-TEE's install of the TA, whose image the TA kept in memory only, did not finish
    /// (`code`: its TEE result), or finished but the new state could not be recorded (`code`
    /// 0): the update is pending until the same envelope is installed again, which finishes
    /// it, or abandoned; nothing else runs until then.
    AwaitingEnvelope {
        uuid: crate::protocol::ByteBuf,
        code: u32,
    },
    /// The update needs a new rollback key (a sequence-number record), and the anchor it is
    /// charged to (the manifest's signer whose scope covers the key's component most
    /// closely) already holds `limit` ([`super::state::MAX_ROLLBACK_KEYS_PER_ANCHOR`]): device policy, so that
    /// one tenant cannot fill the state record every tenant's commits need. Nothing changes.
    RollbackKeyQuota { anchor: u32, limit: u32 },
    /// The update needs a new rollback key and the device holds `limit` in all
    /// ([`super::state::MAX_ROLLBACK_KEYS`]), whoever they are charged to. Nothing changes.
    TooManyRollbackKeys { limit: u32 },
}

crate::cbor::numbered_enum_codec!(CommitRefusal {
    0 => Removed { component, floor },
    1 => Rollback { component, offered, installed },
    2 => NotReePath(component),
    3 => TaTooLarge(len),
    4 => OneTaPerUpdate,
    5 => NotTaImage { component, error },
    6 => WrongTa { image, manifest },
    7 => TaNotNewer { offered, installed },
    8 => PersonalizationTooLarge(len),
    9 => UnlinkTa(uuid),
    10 => UnlinkRee(path),
    11 => TooManyUnconfirmed(uuid),
    12 => InstallPending { uuid, code },
    13 => InstallNotConfirmed { uuid, code },
    14 => StateWriteUncertain,
    15 => CommitPending { uuid },
    16 => UnlistedPayload(uri),
    17 => PayloadNotDelivered(uri),
    18 => WithheldNotInstallable(component),
    19 => AwaitingEnvelope { uuid, code },
    20 => RollbackKeyQuota { anchor, limit },
    21 => TooManyRollbackKeys { limit },
});

#[cfg(feature = "explain")]
impl core::fmt::Display for CommitRefusal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use crate::fault::Uuid;
        use CommitRefusal as C;
        match self {
            C::Removed { component, floor } => write!(
                f,
                "Rollback of component {component}: it was removed by a manifest with sequence number {floor}; only a newer one may install it again"
            ),
            C::Rollback {
                component,
                offered,
                installed,
            } => write!(
                f,
                "Rollback of component {component}: sequence number {offered} is not greater than {installed}, that of the manifest that installed its current content"
            ),
            C::NotReePath(component) => {
                write!(f, "component {component} is not a valid REE path")
            }
            C::TaTooLarge(len) => write!(f, "TA image of {len} bytes exceeds {MAX_TA_IMAGE}"),
            C::OneTaPerUpdate => f.write_str(
                "one update may change at most one TA: OP-TEE installs each on its own and cannot undo one",
            ),
            C::NotTaImage { component, error } => {
                write!(f, "payload for {component} is not a signed TA image: {error}")
            }
            C::WithheldNotInstallable(component) => write!(
                f,
                "the content for {component}, whose digest is withheld, is not a signed image of the TA the manifest installs newer than the installed one (which check failed is not said: it would describe the content)"
            ),
            C::WrongTa { image, manifest } => write!(
                f,
                "the image is TA {} but the manifest installs TA {}",
                Uuid(image),
                Uuid(manifest)
            ),
            C::TaNotNewer { offered, installed } => write!(
                f,
                "TA version {offered} is not newer than the installed version {installed}"
            ),
            C::PersonalizationTooLarge(len) => write!(
                f,
                "personalization data of {len} bytes exceeds {}",
                components::MAX_PERSONALIZATION
            ),
            C::UnlinkTa(uuid) => write!(
                f,
                "unlink of TA {}: removing a TA is not supported (OP-TEE offers no removal from its TA store)",
                Uuid(uuid)
            ),
            C::UnlinkRee(path) => write!(
                f,
                "unlink of normal-world file {path}: not supported (the agent has no removal step)"
            ),
            C::TooManyUnconfirmed(uuid) => write!(
                f,
                "{} TAs have unconfirmed installs: update one of them before installing TA {}",
                super::state::MAX_UNCONFIRMED_TAS,
                Uuid(uuid)
            ),
            C::InstallPending { uuid, code } => write!(
                f,
                "OP-TEE could not install TA {} (TEE result {code:#010x}): the update is pending and is tried again before the next command",
                Uuid(uuid)
            ),
            C::InstallNotConfirmed { uuid, code } => write!(
                f,
                "OP-TEE did not confirm the install of TA {} (TEE result {code:#010x}): the update is not applied, and the TA's personalization data is withheld until an update that installs it succeeds",
                Uuid(uuid)
            ),
            C::StateWriteUncertain => f.write_str(
                "secure storage reported a failure writing the new state, which may have landed all the same: `status` shows whether the update is applied",
            ),
            C::CommitPending { uuid } => write!(
                f,
                "OP-TEE installed TA {}, but secure storage failed to record the new state: the update is applied, and the TA completes its commit before its next command (`status` then shows it)",
                Uuid(uuid)
            ),
            C::UnlistedPayload(uri) => write!(
                f,
                "a dependency fetches {uri}, which the TA could not ask the normal world for: it lists a dependency's payloads once it has read the dependency's envelope (integrated, or delivered as a payload), within its limits"
            ),
            C::PayloadNotDelivered(uri) => write!(
                f,
                "the manifest fetches {uri}, which the normal world did not deliver"
            ),
            C::AwaitingEnvelope { uuid, code: 0 } => write!(
                f,
                "OP-TEE installed TA {}, but secure storage reported a failure writing the new state, which may have landed all the same: `status` shows whether the update is applied or awaits this envelope again (which finishes it, or an abandon); nothing else runs while it awaits",
                Uuid(uuid)
            ),
            C::AwaitingEnvelope { uuid, code } => write!(
                f,
                "OP-TEE could not install TA {} (TEE result {code:#010x}): the update is pending until this envelope is installed again (which finishes it) or abandoned; nothing else runs until then",
                Uuid(uuid)
            ),
            C::RollbackKeyQuota { anchor, limit } => write!(
                f,
                "no space for another rollback key: the update needs a new one (a manifest-component-id or component list not used before), and trust anchor {anchor}, the signer it is charged to, already holds its {limit}; an update under a rollback key it used before still installs"
            ),
            C::TooManyRollbackKeys { limit } => write!(
                f,
                "no space for another rollback key: the update needs a new one (a manifest-component-id or component list not used before), and the device already holds {limit}, the most it keeps; an update under a rollback key used before still installs"
            ),
        }
    }
}

/// The words of the TA's refusal (kind aside, see `service::Refuse`).
#[cfg(feature = "explain")]
impl core::fmt::Display for InstallError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            InstallError::Sequence(what) => write!(f, "install steps out of order: {what}"),
            InstallError::TooLarge(what) => write!(f, "{what} exceeds the TA's limit"),
            InstallError::UnexpectedPayload => {
                f.write_str("payload not referenced by the authenticated manifest")
            }
            InstallError::Store(e) => write!(f, "secure storage: {e}"),
            InstallError::Refused(e) => write!(f, "{e}"),
            InstallError::Policy(e) => write!(f, "stored policy unusable: {e}"),
            InstallError::Commit(c) => write!(f, "{c}"),
            InstallError::EmptyEnvelope => f.write_str("the envelope is empty"),
        }
    }
}

#[cfg(feature = "explain")]
impl core::error::Error for InstallError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            InstallError::Store(e) => Some(e),
            InstallError::Refused(e) => Some(e.as_ref()),
            InstallError::Policy(e) => Some(e),
            _ => None,
        }
    }
}

struct Payload {
    uri: String,
    object: String,
    /// The authenticated image size every fetch of this URI is bound by, if known: the REE
    /// may not fill secure storage beyond what the manifest could use.
    bound: Option<u64>,
    expected: Option<u64>,
    received: u64,
    /// The manifest's static fetch-then-decrypting-copy form for this URI, if proved.
    planned: Option<Planned>,
    /// Decrypting as it arrives (started at offset 0 when the key source gave a key).
    stream: Option<Stream>,
    /// Staging a streamed chunk failed: only a restart at offset 0 is taken.
    poisoned: bool,
    /// The object holds this attempt's bytes: the first write of an attempt creates it
    /// with its data, replacing what an earlier attempt left.
    created: bool,
    /// An authenticated manifest that declares dependencies names this URI: once delivered,
    /// it may be a dependency envelope whose own detached payloads are to be listed too
    /// ([`InstallSession::delivered_dependency`]).
    dependency: bool,
}

/// Where an install session is. Each step matches the phases it belongs to and refuses the
/// others with [`InstallError::Sequence`], changing nothing.
#[derive(Default)]
enum Phase {
    /// No install in progress: none begun, or the last one finished or was abandoned.
    #[default]
    Idle,
    /// `begin` announced `expected_len` bytes; envelope chunks arrive (and `prepare` may be
    /// retried once they are all in).
    ReceivingEnvelope {
        expected_len: usize,
        envelope: Vec<u8>,
    },
    /// `prepare` accepted the envelope: payload chunks for its URIs arrive, then `finish`.
    /// The envelope is kept whole (it cannot change before `finish`; `begin` starts over),
    /// and `finish` runs the engine's whole procedure on it, checks included: the
    /// authenticated manifest borrows the envelope, so it is not kept across calls.
    Prepared {
        envelope: Vec<u8>,
        /// What `prepare` authenticated: the only source of the finish report's claims.
        claims: ManifestClaims,
        payloads: Vec<Payload>,
        /// The slot of the install's payload objects (see [`free_slot`]).
        slot: u64,
        /// Dependency walks run since `prepare` (at most [`MAX_WALKS`]).
        walks: usize,
    },
}

/// The states an install step's report is tagged for ([`InstallSession::report_states`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReportStates {
    /// The generation the report describes when nothing uncertain landed.
    pub generation: u64,
    /// The state an uncertain last write would have made: its generation and digest
    /// ([`State::digest`]).
    pub or_next: Option<(u64, [u8; 32])>,
}

impl ReportStates {
    /// Only `state`.
    pub fn of(state: &State) -> Self {
        Self {
            generation: state.generation,
            or_next: None,
        }
    }
}

/// The REE-fed staging area of one install.
#[derive(Default)]
pub struct InstallSession {
    phase: Phase,
    /// The SUIT report of the last prepare/finish, for the service to keep, with the anchors
    /// that authenticated its manifest, with their key scopes (none for one refused before or
    /// at authentication).
    report: Option<(Report, Vec<crate::report::StoredSigner>)>,
    /// The states the last `finish`'s commit may be settled at, if it was left pending or
    /// uncertain ([`Self::report_states`]).
    settles_at: Option<ReportStates>,
    /// What this install created so far (mirrors the stored journal).
    journal: Journal,
    /// The objects the state used at `prepare`: named with the first payload object (see
    /// `platform`'s `note`).
    in_use: Vec<String>,
    /// Never decrypt as payloads arrive (see `Service::store_payloads_as_received`).
    pub(super) no_streaming: bool,
    /// No journal is stored (`reconcile` found none while no install was under way, so none
    /// can be written before the next `begin`): that `begin` has nothing to clean and need
    /// not look. Set by [`InstallSession::reconciled`], cleared by `begin`.
    no_journal: bool,
    /// Payload objects this install may have written since `begin` (at most
    /// [`MAX_PAYLOADS`]). Any other payload name of the install's slot holds nothing: no
    /// installed component uses the slot ([`free_slot`]), `begin` emptied or removed every
    /// object the stored journal listed, and an install creates nothing it has not listed
    /// there first, so the first write of such a name is a [`SecureStore::create`].
    written: Vec<String>,
}

/// What `prepare` learned from the authenticated manifest.
pub struct Prepared {
    pub needed_uris: Vec<String>,
    /// Authenticated size bound of each needed URI (see [`suit::fetch_bound`]).
    pub needed_sizes: Vec<Option<u64>>,
    pub sequence_number: u64,
    pub signers: Vec<u32>,
}

/// What a delivered dependency envelope added ([`InstallSession::delivered_dependency`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Added {
    pub uris: Vec<String>,
    /// Authenticated size bound of each added URI, as [`Prepared::needed_sizes`].
    pub sizes: Vec<Option<u64>>,
}

/// The URIs the dependency walk asked for as possible dependency envelopes; none delivered.
/// It asks only for names it has listed, so these are at most the walk's own few URIs.
#[derive(Default)]
struct Asked(Vec<String>);

impl suit::Delivered for Asked {
    fn envelope(&mut self, uri: &str, _: usize) -> Option<Vec<u8>> {
        if !self.0.iter().any(|u| u == uri) {
            self.0.push(String::from(uri));
        }
        None
    }
}

/// The payloads the REE delivered, read back from their objects as `finish`'s fetch would
/// read them (complete, as stored: not one decrypted as it arrived, whose object holds no
/// fetched bytes), for the dependency walk; what it asks for is recorded.
struct StoredEnvelopes<'a> {
    store: &'a dyn SecureStore,
    payloads: &'a [Payload],
    asked: Asked,
}

impl suit::Delivered for StoredEnvelopes<'_> {
    fn envelope(&mut self, uri: &str, room: usize) -> Option<Vec<u8>> {
        let _ = self.asked.envelope(uri, room);
        let p = self.payloads.iter().find(|p| p.uri == uri)?;
        let complete = p.expected == Some(p.received) && !p.poisoned && p.stream.is_none();
        let len = usize::try_from(p.received)
            .ok()
            .filter(|l| complete && *l <= room)?;
        let mut bytes = Vec::new();
        bytes.try_reserve_exact(len).ok()?;
        bytes.resize(len, 0);
        let mut at = 0;
        while let Some(rest) = bytes.get_mut(at..).filter(|r| !r.is_empty()) {
            match self.store.read_at(&p.object, at as u64, rest) {
                Ok(0) | Err(_) => return None,
                Ok(n) => at += n,
            }
        }
        Some(bytes)
    }
}

/// What `finish` did.
pub struct Installed {
    /// Approved normal-world files, for the agent to export.
    pub ree_paths: Vec<String>,
    pub sequence_number: u64,
    pub signers: Vec<u32>,
    pub committed: Vec<ComponentId>,
    pub manifest_digest: [u8; 32],
}

/// Where an install's payload objects (`suit/in/{slot}/{i}`) and staging objects
/// (`suit/c/{slot}/{k}`) live.
const PAYLOAD_PREFIX: &str = "suit/in";
const STAGING_PREFIX: &str = "suit/c";

/// Highest slot [`free_slot`] picks: each installed component's object blocks at most one.
const MAX_SLOT: u64 = super::state::MAX_COMPONENTS as u64;

/// The slot of an install's object names: the lowest that no installed component's object
/// is in (a component fetched without change keeps its payload object as its content, and
/// a staging object becomes one). The names are reused from install to install, emptied
/// instead of deleted once garbage ([`journal::cleanup`]): on OP-TEE's REE FS, creating an
/// object under a name that exists reads the object directory up to its entry, under a new
/// name all of it (one entry per object of every TA: slower as the device fills).
pub(super) fn free_slot(state: &State) -> u64 {
    (0..MAX_SLOT)
        .find(|&slot| {
            !state
                .components
                .iter()
                .any(|c| slot_of(&c.object) == Some(slot))
        })
        .unwrap_or(MAX_SLOT)
}

/// Object `n` of `slot` under `prefix`.
pub(super) fn object_name(prefix: &str, slot: u64, n: usize) -> String {
    crate::text::path(prefix, &[slot, u64::try_from(n).unwrap_or(u64::MAX)])
}

/// What follows an install object's prefix and its `/`, if `name` is one.
fn install_name_rest(name: &str) -> Option<&str> {
    [PAYLOAD_PREFIX, STAGING_PREFIX]
        .iter()
        .find_map(|p| name.strip_prefix(p)?.strip_prefix('/'))
}

/// Whether `name` is an install object (payload or staging), the only objects an install's
/// cleanup ever empties or deletes.
pub fn is_install_object(name: &str) -> bool {
    install_name_rest(name).is_some()
}

/// Most persistent-object handles a backend keeps open at once, and most install objects
/// (payload and staging segments) among them: the payload being read and the object being
/// staged, each across a segment boundary; the rest are records (journal, state, device
/// keys), kept open through a payload's segments so that the commit's writes are in place.
/// The TA's GP backend follows this through [`handle_to_close`]; the host tests' model of it
/// (common/tests/storage_ops.rs) does too.
pub const MAX_OPEN_HANDLES: usize = 7;
/// See [`MAX_OPEN_HANDLES`]; also the bound on payload hash trees in OP-TEE's core memory.
pub const MAX_OPEN_INSTALL_HANDLES: usize = 4;

/// Which of the `open` handles (least recently used first) to close before `new` is kept
/// open too: beyond [`MAX_OPEN_INSTALL_HANDLES`] install objects or [`MAX_OPEN_HANDLES`]
/// handles, the least recently used install object (the least recently used handle if
/// none is one); `None` while there is room.
pub fn handle_to_close<'a>(
    open: impl Iterator<Item = &'a str> + Clone,
    new: &str,
) -> Option<usize> {
    let full = open.clone().count() >= MAX_OPEN_HANDLES
        || (is_install_object(new)
            && open.clone().filter(|n| is_install_object(n)).count() >= MAX_OPEN_INSTALL_HANDLES);
    if !full || open.clone().next().is_none() {
        return None;
    }
    Some(open.clone().position(is_install_object).unwrap_or(0))
}

/// The slot of an install object's name, if it is one (names from before slots carry a
/// generation there instead, and are read the same way).
pub(super) fn slot_of(name: &str) -> Option<u64> {
    let (slot, n) = install_name_rest(name)?.split_once('/')?;
    let number = |t: &str| {
        (!t.is_empty()).then_some(())?;
        t.bytes().try_fold(0u64, |v, b| {
            let d = b.is_ascii_digit().then(|| u64::from(b - b'0'))?;
            v.checked_mul(10)?.checked_add(d)
        })
    };
    number(n)?;
    number(slot)
}

impl InstallSession {
    /// Starts over. Whatever an abandoned or interrupted install left behind (the journal's
    /// objects the state does not use) is emptied or deleted, and nothing else.
    pub fn begin(
        &mut self,
        store: &mut dyn SecureStore,
        state: &State,
        envelope_len: u64,
    ) -> Result<(), InstallError> {
        // A refused request changes nothing: an install under way stays as it was. Past
        // these checks it is dropped first (its staged image may hold the memory the new
        // envelope needs), so a storage or memory failure below ends it too: no more than
        // the REE can do with any valid begin.
        let len =
            usize::try_from(envelope_len).map_err(|_| InstallError::TooLarge(Words::Envelope))?;
        if len == 0 {
            return Err(InstallError::EmptyEnvelope);
        }
        if len > MAX_ENVELOPE {
            return Err(InstallError::TooLarge(Words::Envelope));
        }
        self.clear(store);
        // What is stored now: empty, or a commit awaiting its envelope again, which stays
        // until this install (if it is that envelope's) replaces it.
        self.journal = match core::mem::take(&mut self.no_journal) {
            true => Journal::default(),
            false => cleanup(store, state).map_err(|e| match e {
                StateError::Store(e) => InstallError::Store(e),
                _ => InstallError::Store(StoreError::Corrupt),
            })?,
        };
        self.written.clear();
        let mut envelope = Vec::new();
        envelope
            .try_reserve_exact(len)
            .map_err(|_| InstallError::Store(StoreError::OutOfMemory))?;
        self.phase = Phase::ReceivingEnvelope {
            expected_len: len,
            envelope,
        };
        Ok(())
    }

    pub fn envelope_chunk(&mut self, offset: u64, data: &[u8]) -> Result<(), InstallError> {
        let Phase::ReceivingEnvelope {
            expected_len,
            envelope,
        } = &mut self.phase
        else {
            return Err(InstallError::Sequence(Words::NoInstallInProgress));
        };
        if offset != envelope.len() as u64 {
            return Err(InstallError::Sequence(Words::EnvelopeChunkOffset));
        }
        if envelope.len() + data.len() > *expected_len {
            return Err(InstallError::TooLarge(
                Words::EnvelopeExceedsItsAnnouncedLength,
            ));
        }
        envelope.extend_from_slice(data);
        Ok(())
    }

    /// The report of the last `prepare` or `finish`, once.
    pub fn take_report(&mut self) -> Option<(Report, Vec<crate::report::StoredSigner>)> {
        self.report.take()
    }

    /// Whether the last step left a report to keep.
    pub(super) fn has_report(&self) -> bool {
        self.report.is_some()
    }

    /// The states the last `finish`'s report is bound to: that of `state` (the stored one);
    /// that of a commit it left pending, which `reconcile` stores (rolled forward, or
    /// unapplied at the same generation) before any command can read the report; or, when
    /// the last write's landing is unknown, the old state and the one that write would have
    /// made.
    pub fn report_states(&self, state: &State) -> ReportStates {
        self.settles_at
            .map_or(ReportStates::of(state), |s| ReportStates {
                generation: s.generation.max(state.generation),
                ..s
            })
    }

    /// Runs the engine's checks ([`suit::check()`]: authentication, policy, rollback) on the
    /// whole envelope; no side effects. Again after a success, it checks anew and forgets the
    /// payloads received so far.
    pub fn prepare(&mut self, state: &State) -> Result<Prepared, InstallError> {
        let envelope = match &self.phase {
            Phase::ReceivingEnvelope {
                expected_len,
                envelope,
            } if envelope.len() == *expected_len => envelope,
            Phase::Prepared { envelope, .. } => envelope,
            _ => return Err(InstallError::Sequence(Words::EnvelopeIncomplete)),
        };
        let policy = state.policy().map_err(InstallError::Policy)?;
        let stored = |key: &[u8]| Ok(state.sequence_number(key));
        let checked = match suit::check(envelope, Procedure::Update, &policy, stored) {
            Ok(checked) => checked,
            Err(refusal) => {
                // Nothing of the envelope is interpreted before authentication, not even for
                // a report; after it, the report's claims come from the authentic manifest.
                // The report and the refusal share the one error.
                let (report, error, signers) = match refusal {
                    Refusal::Unauthenticated(e) => {
                        let e = Arc::new(e);
                        let report = ReportBuilder::refused_before_authentication(e.clone());
                        (report, e, Vec::new())
                    }
                    Refusal::Undecodable(u) => {
                        let e = Arc::new(u.error);
                        let report = ReportBuilder::refused_undecodable(u.digest.0, e.clone());
                        (report, e, Vec::new())
                    }
                    Refusal::Refused(r) => {
                        let claims = ManifestClaims::of(&r.auth, &state.anchors);
                        let e = Arc::new(r.error);
                        let report = ReportBuilder::for_manifest(&claims)
                            .fail_shared(e.clone(), Some(envelope));
                        (report, e, claims.signers)
                    }
                };
                self.report = Some((report, signers));
                return Err(InstallError::Refused(error));
            }
        };
        let claims = ManifestClaims::of(&checked.auth, &state.anchors);
        // A dependency's own detached payloads too, for those whose envelope is here; those
        // of one the REE delivers once it is there (`delivered_dependency`).
        let mut asked = Asked::default();
        let uris = checked.payload_uris_with_dependencies(&policy, &mut asked);
        // Only payloads the REE delivers stream (an integrated one is in the envelope).
        let mut plans = suit::streaming::stream_plans(&checked.auth.manifest);
        plans.retain(|p| uris.contains(&p.uri));
        if uris.len() > MAX_PAYLOADS {
            let e = InstallError::TooLarge(Words::TooManyPayloadUris);
            self.report = Some((refusal_report(&claims, &e), claims.signers.clone()));
            return Err(e);
        }
        let prepared = Prepared {
            needed_sizes: checked.fetch_bounds(&uris),
            needed_uris: uris,
            sequence_number: checked.auth.manifest.sequence_number,
            signers: checked.auth.signers.clone(),
        };
        // One update changes at most one TA (`finish` refuses more): at most one image is
        // kept in memory, so the heap holds at most MAX_TA_IMAGE of them whatever the
        // manifest lists.
        let mut keeps = 0;
        let slot = free_slot(state);
        let payloads = prepared
            .needed_uris
            .iter()
            .enumerate()
            .map(|(i, uri)| Payload {
                uri: uri.clone(),
                object: object_name(PAYLOAD_PREFIX, slot, i),
                bound: prepared.needed_sizes.get(i).copied().flatten(),
                expected: None,
                received: 0,
                planned: plans
                    .iter()
                    .position(|p| p.uri == *uri)
                    .map(|pos| plans.swap_remove(pos))
                    .and_then(|plan| planned(plan, &checked.auth.signers))
                    .map(|mut planned| {
                        keeps += usize::from(planned.keep);
                        planned.keep &= keeps == 1;
                        planned
                    }),
                stream: None,
                poisoned: false,
                created: false,
                dependency: asked.0.contains(uri),
            })
            .collect();
        self.in_use = state
            .components
            .iter()
            .filter(|c| !c.object.is_empty())
            .map(|c| c.object.clone())
            .collect();
        if let Phase::ReceivingEnvelope { envelope, .. } | Phase::Prepared { envelope, .. } =
            core::mem::take(&mut self.phase)
        {
            self.phase = Phase::Prepared {
                envelope,
                claims,
                payloads,
                slot,
                walks: 0,
            };
        }
        Ok(prepared)
    }

    /// Whether a chunk of `len` bytes at `offset` of `uri`, announced as `total_len` bytes,
    /// ends a payload that an authenticated manifest declaring dependencies names: the
    /// service then loads the state (before the chunk, so that a failure changes nothing)
    /// and calls [`Self::delivered_dependency`] once the chunk is in. Only a chunk with data
    /// completes one: an empty chunk at the end changes nothing (repeated, it would have the
    /// REE run the walk at will), and an empty payload is no envelope.
    pub fn completes_dependency(&self, uri: &str, total_len: u64, offset: u64, len: usize) -> bool {
        let Phase::Prepared {
            payloads, walks, ..
        } = &self.phase
        else {
            return false;
        };
        len > 0
            && *walks < MAX_WALKS
            && offset.saturating_add(len as u64) == total_len
            && payloads.iter().any(|p| p.uri == uri && p.dependency)
    }

    /// The detached payloads the dependency envelopes the REE delivered add to this install,
    /// listed from now on, each with its authenticated size bound: the envelope is checked
    /// again (`prepare`'s checks) and its dependency tree read as `prepare` reads it
    /// ([`suit::Checked::payload_uris_with_dependencies`], one walk for both), the delivered
    /// payloads now among the envelopes it may read. A delivered envelope whose manifest
    /// digest its authenticated dependent does not set as an image digest, that does not
    /// authenticate against the anchors, or that the policy refuses as a dependency, adds
    /// nothing, so the answer is then that of any other payload (nothing); so is one whose
    /// URIs would take the install beyond [`MAX_PAYLOADS`] (`finish` then refuses the fetch
    /// of one as [`CommitRefusal::UnlistedPayload`]). What is read is bounded as the engine
    /// bounds it (depth, envelopes, bytes held and decoded: a payload longer than the room
    /// left is not read at all), never by what the REE sends; at most [`MAX_WALKS`] times
    /// per prepare, then nothing is read and nothing added.
    pub fn delivered_dependency(&mut self, store: &dyn SecureStore, state: &State) -> Added {
        let Phase::Prepared {
            envelope,
            payloads,
            slot,
            walks,
            ..
        } = &mut self.phase
        else {
            return Added::default();
        };
        if *walks >= MAX_WALKS {
            return Added::default();
        }
        *walks += 1;
        let Ok(policy) = state.policy() else {
            return Added::default();
        };
        let stored = |key: &[u8]| Ok(state.sequence_number(key));
        let Ok(checked) = suit::check(envelope, Procedure::Update, &policy, stored) else {
            return Added::default();
        };
        let mut source = StoredEnvelopes {
            store,
            payloads,
            asked: Asked::default(),
        };
        let uris = checked.payload_uris_with_dependencies(&policy, &mut source);
        let asked = source.asked.0;
        for p in payloads.iter_mut() {
            p.dependency |= asked.contains(&p.uri);
        }
        let new: Vec<String> = uris
            .into_iter()
            .filter(|u| !payloads.iter().any(|p| p.uri == *u))
            .collect();
        if new.is_empty() || payloads.len().saturating_add(new.len()) > MAX_PAYLOADS {
            return Added::default();
        }
        let sizes = checked.fetch_bounds(&new);
        for (uri, bound) in new.iter().zip(&sizes) {
            payloads.push(Payload {
                uri: uri.clone(),
                object: object_name(PAYLOAD_PREFIX, *slot, payloads.len()),
                bound: *bound,
                expected: None,
                received: 0,
                planned: None,
                stream: None,
                poisoned: false,
                created: false,
                dependency: asked.contains(uri),
            });
        }
        Added { uris: new, sizes }
    }

    /// Whether the chunk at `offset` of `uri` needs the key source: the first chunk of a
    /// payload `prepare` found in the streaming form (see [`Self::payload_chunk`]).
    pub fn wants_keys(&self, uri: &str, offset: u64) -> bool {
        let Phase::Prepared { payloads, .. } = &self.phase else {
            return false;
        };
        !self.no_streaming
            && offset == 0
            && payloads.iter().any(|p| p.uri == uri && p.planned.is_some())
    }

    /// Whether the envelope received whole so far (before `prepare`, or after it) has the
    /// SHA-256 `digest`: the one envelope a commit awaiting it admits.
    pub fn envelope_is(&self, digest: &[u8; 32]) -> bool {
        use sha2::Digest as _;
        let envelope = match &self.phase {
            Phase::ReceivingEnvelope {
                expected_len,
                envelope,
            } if envelope.len() == *expected_len => envelope,
            Phase::Prepared { envelope, .. } => envelope,
            _ => return false,
        };
        let ours: [u8; 32] = sha2::Sha256::digest(envelope).into();
        bool::from(subtle::ConstantTimeEq::ct_eq(&ours[..], &digest[..]))
    }

    /// Whether `prepare` authenticated the envelope under way: a refusal of a later step is
    /// this attempt's outcome, so the report it leaves is this attempt's (or none).
    pub fn is_prepared(&self) -> bool {
        matches!(self.phase, Phase::Prepared { .. })
    }

    /// Takes a payload chunk. A payload `prepare` found in the streaming form is decrypted as
    /// it arrives, with the key `keys` gives for the manifest's signers (asked at offset 0),
    /// and written once as plaintext (see `stream`); any other is stored as it comes. A
    /// refused chunk of a prepared install leaves the report of that refusal.
    pub fn payload_chunk(
        &mut self,
        store: &mut dyn SecureStore,
        uri: &str,
        total_len: u64,
        offset: u64,
        data: &mut [u8],
        keys: Option<&dyn KeySource>,
    ) -> Result<(), InstallError> {
        let r = self.chunk(store, uri, total_len, offset, data, keys);
        if let (Err(e), Phase::Prepared { claims, .. }) = (&r, &self.phase) {
            self.report = Some((refusal_report(claims, e), claims.signers.clone()));
        }
        r
    }

    fn chunk(
        &mut self,
        store: &mut dyn SecureStore,
        uri: &str,
        total_len: u64,
        offset: u64,
        data: &mut [u8],
        keys: Option<&dyn KeySource>,
    ) -> Result<(), InstallError> {
        let Phase::Prepared { payloads, .. } = &mut self.phase else {
            return Err(InstallError::Sequence(Words::PayloadBeforePrepare));
        };
        let at = payloads
            .iter()
            .position(|p| p.uri == uri)
            .ok_or(InstallError::UnexpectedPayload)?;
        let p = payloads.get(at).ok_or(InstallError::UnexpectedPayload)?;
        if total_len > MAX_PAYLOAD {
            return Err(InstallError::TooLarge(Words::Payload));
        }
        if p.bound.is_some_and(|bound| total_len > bound) {
            return Err(InstallError::TooLarge(Words::PayloadOverImageSize));
        }
        // Validate fully before touching anything: a refused chunk changes nothing.
        let start_over = offset == 0;
        if !start_over && (p.poisoned || p.expected != Some(total_len) || offset != p.received) {
            return Err(InstallError::Sequence(Words::PayloadChunkOffsetOrLength));
        }
        if offset.saturating_add(data.len() as u64) > total_len {
            return Err(InstallError::TooLarge(
                Words::PayloadExceedsItsAnnouncedLength,
            ));
        }
        if start_over {
            // One journal write names every payload object of this install and the objects
            // the state uses (which the commit may replace: it then writes no journal of its
            // own), before the first of them is created. A TA image kept in memory only is
            // written to no object: its name is listed only if it takes the ordinary path.
            let names = payloads
                .iter()
                .filter(|p| !p.planned.as_ref().is_some_and(|planned| planned.keep))
                .map(|p| p.object.as_str());
            let used = self.in_use.iter().map(String::as_str);
            self.journal
                .note_all(store, names.chain(used))
                .map_err(InstallError::Store)?;
        }
        let p = payloads
            .get_mut(at)
            .ok_or(InstallError::UnexpectedPayload)?;
        if start_over {
            // The earlier attempt's stream (and its kept image) goes first: never two images.
            p.stream = None;
            p.stream = p
                .planned
                .as_ref()
                .zip(keys)
                .and_then(|(planned, keys)| Stream::start(planned, keys));
            if p.stream.as_ref().is_none_or(|s| !s.image_only()) {
                self.journal
                    .note_all(store, [p.object.as_str()])
                    .map_err(InstallError::Store)?;
            }
            // Not written yet: the attempt's first write creates (or replaces) the object.
            p.created = false;
            p.expected = Some(total_len);
            p.received = 0;
            p.poisoned = false;
        }
        let end = offset.saturating_add(data.len() as u64);
        let last = end == total_len;
        let mut out = Writer {
            store,
            object: &p.object,
            created: &mut p.created,
            written: &mut self.written,
        };
        match (p.stream.as_mut(), p.planned.as_ref()) {
            (Some(stream), Some(planned)) if !data.is_empty() || last => {
                let mut r = stream.chunk(&mut out, planned.limit, data, last);
                if r.is_ok() && last && !stream.image_only() {
                    // Exists once complete, even if nothing was released into it.
                    r = out.write(&[]).map(|_| ());
                }
                if let Err(e) = r {
                    // Nothing half-decrypted stays usable: this payload starts over.
                    p.stream = None;
                    p.poisoned = true;
                    return Err(InstallError::Store(e));
                }
                p.received = end;
            }
            (Some(_), Some(_)) => {}
            _ if !data.is_empty() || start_over => match out.write(&*data) {
                Ok(len) => p.received = len,
                Err(e) => {
                    // The object may still hold an earlier attempt's bytes (plaintext, if
                    // that one was decrypted as it arrived): only a restart is taken.
                    p.poisoned = true;
                    return Err(InstallError::Store(e));
                }
            },
            _ => {}
        }
        Ok(())
    }

    /// Runs the update procedure and commits; on failure nothing changes.
    pub fn finish<D: SecureStore + TaStore>(
        &mut self,
        store: &mut D,
        state: &mut State,
        keys: &dyn KeySource,
        releases: &dyn super::keys::Releases,
    ) -> Result<Installed, InstallError> {
        self.settles_at = None;
        let (envelope, claims, payloads, slot, walks) = match core::mem::take(&mut self.phase) {
            Phase::Prepared {
                envelope,
                claims,
                payloads,
                slot,
                walks,
            } => (envelope, claims, payloads, slot, walks),
            other => {
                self.phase = other;
                return Err(InstallError::Sequence(Words::FinishBeforePrepare));
            }
        };
        // A poisoned payload's last write failed: its object may hold anything an earlier
        // attempt left (decrypted bytes included), so it is as incomplete as a short one.
        if payloads
            .iter()
            .any(|p| p.poisoned || p.expected.is_some_and(|t| t != p.received))
        {
            // Finish ends the session either way: nothing half-sent stays in storage.
            remove_payloads(store, &payloads);
            if let Ok(left) = cleanup_listed(store, state, &self.journal, &[]) {
                self.journal = left;
            }
            let e = InstallError::Sequence(Words::PayloadIncomplete);
            self.report = Some((refusal_report(&claims, &e), claims.signers.clone()));
            return Err(e);
        }
        let policy = match state.policy() {
            Ok(policy) => policy,
            Err(e) => {
                let e = InstallError::Policy(e);
                self.report = Some((refusal_report(&claims, &e), claims.signers.clone()));
                self.phase = Phase::Prepared {
                    envelope,
                    claims,
                    payloads,
                    slot,
                    walks,
                };
                return Err(e);
            }
        };
        let payloads: Vec<Delivered> = payloads
            .into_iter()
            .map(|p| match (p.stream, p.planned) {
                // Plaintext is never served as the fetched bytes: a stream the engine cannot
                // take has no object to fetch.
                (Some(stream), Some(planned)) => Delivered {
                    uri: p.uri,
                    object: None,
                    stream: stream.finished(planned.plan, &p.object),
                    sent: true,
                },
                _ => Delivered {
                    object: p.expected.map(|_| p.object.clone()),
                    uri: p.uri,
                    stream: None,
                    sent: p.expected.is_some(),
                },
            })
            .collect();
        let unsettled;
        let uncertain_next;
        let not_committed;
        let storage_full;
        let replaced;
        // Names this envelope should its commit await it again (see `PendingCommit`).
        let digest: [u8; 32] = {
            use sha2::Digest as _;
            sha2::Sha256::digest(&envelope).into()
        };
        let (result, report) = {
            let builder = ReportBuilder::for_manifest(&claims);
            let mut platform =
                StorePlatform::new(store, state, payloads, builder, &mut self.journal, digest);
            platform.releases = releases;
            let r = suit::process(&envelope, Procedure::Update, &policy, keys, &mut platform);
            let builder = core::mem::take(&mut platform.report);
            unsettled = platform.unsettled;
            uncertain_next = platform.uncertain_next;
            not_committed = platform.not_committed.get();
            storage_full = platform.storage_full.get();
            replaced = core::mem::take(&mut platform.replaced);
            match r {
                Ok(o) => {
                    let report = builder.succeed(&o);
                    (Ok((o, core::mem::take(&mut platform.ree_paths))), report)
                }
                Err(e) => {
                    // A refusal at commit time has a more precise reason than the engine's.
                    let e = Arc::new(e);
                    let mut failure = Failure::from_shared_error(e.clone(), Some(&envelope));
                    // The failure's detail is the engine's error unless the commit refusal
                    // replaces it.
                    let refused = match platform.refusal.take() {
                        Some(r) => {
                            let commit = InstallError::Commit(r);
                            failure.detail = Some(crate::fault::Fault::Install(commit.clone()));
                            commit
                        }
                        // The storage ran out of space, not one of the TA's own limits (the
                        // engine sees `NoSpace` for both): the device's trouble, as when a
                        // payload chunk finds the storage full, never a verdict on the envelope.
                        None if storage_full
                            && platform_cause(&e) == Some(PlatformError::NoSpace) =>
                        {
                            let full = InstallError::Store(StoreError::NoSpace);
                            failure.detail = Some(crate::fault::Fault::Install(full.clone()));
                            full
                        }
                        None => InstallError::Refused(e),
                    };
                    (Err(refused), builder.fail_with(failure))
                }
            }
        };
        // Payload objects are left to `cleanup`: a committed (or pending) state may use one as
        // a component's content. The session is idle again (taken above).
        self.report = Some((report, claims.signers));
        // A commit whose pending record was stored (the TA store reached) is settled at its
        // generation; one whose pending record or state write may or may not have landed,
        // at the old state or the one that write would have made (by its digest: a later
        // commit of another update reaches the same generation).
        self.settles_at = match &result {
            Err(InstallError::Commit(
                CommitRefusal::InstallPending { .. } | CommitRefusal::CommitPending { .. },
            )) => self.journal.pending.as_ref().map(|p| ReportStates {
                generation: p.state.generation,
                or_next: None,
            }),
            // A commit awaiting this envelope ends by the same envelope's commit, which
            // reaches the same generation with a report of its own, or by an abandonment:
            // bound to the abandoned state by its digest (not to the generation alone, or the
            // REE could serve this report's bytes again after the re-sent envelope committed).
            Err(InstallError::Commit(CommitRefusal::AwaitingEnvelope { .. })) => {
                self.journal.pending.as_ref().map(|p| ReportStates {
                    generation: state.generation,
                    or_next: abandoned_state(state, p)
                        .and_then(|s| s.digest())
                        .ok()
                        .map(|d| (p.state.generation, d)),
                })
            }
            Err(InstallError::Commit(CommitRefusal::StateWriteUncertain)) => Some(ReportStates {
                generation: state.generation,
                or_next: uncertain_next,
            }),
            _ => None,
        };
        // Success or not, drop what the journal lists and the (new or old) state does not use.
        // A failure here leaves the journal for the next `begin`; it never undoes a commit.
        // The journal is the one in memory, as stored: not read back. After a state write
        // that may have landed, `state` may not be the stored one: the next `begin` cleans.
        if !unsettled {
            if let Ok(left) = cleanup_listed(store, state, &self.journal, &replaced) {
                self.journal = left;
            }
        }
        let (outcome, ree_paths) = result.map_err(|refused| {
            if not_committed {
                // The storage's answer, not the manifest, failed the install.
                InstallError::Store(StoreError::NotCommitted)
            } else {
                refused
            }
        })?;
        Ok(Installed {
            ree_paths,
            sequence_number: outcome.sequence_number,
            signers: outcome.signers,
            committed: outcome.committed,
            manifest_digest: outcome.manifest_digest.0,
        })
    }

    /// Ends an install the REE abandoned (its session closed before `finish`): staged
    /// payloads, plaintext decrypted as it arrived among them, are deleted now rather than
    /// at the next `begin`.
    pub fn abandon(&mut self, store: &mut dyn SecureStore) {
        self.clear(store);
    }

    /// Deletes staged payloads and ends the session (a pending report survives).
    /// What `reconcile` found: whether a journal is stored. Only an idle session may skip
    /// the next `begin`'s cleanup: in any other phase a payload chunk or `finish` may still
    /// write one.
    pub(super) fn reconciled(&mut self, journal_stored: bool) {
        self.no_journal = !journal_stored && matches!(self.phase, Phase::Idle);
    }

    fn clear<S: SecureStore + ?Sized>(&mut self, store: &mut S) {
        if let Phase::Prepared { payloads, .. } = core::mem::take(&mut self.phase) {
            remove_payloads(store, &payloads);
        }
    }
}

/// Where a payload's bytes go: the first write of an attempt creates the object with them
/// (one create carrying data, where an empty create and a write cost two REE-FS updates),
/// later ones append. Returns the object's length.
pub(super) struct Writer<'a> {
    store: &'a mut dyn SecureStore,
    object: &'a str,
    created: &'a mut bool,
    /// The session's [`InstallSession::written`]: `object` holds nothing (missing, or
    /// emptied by a cleanup) unless listed.
    written: &'a mut Vec<String>,
}

impl Writer<'_> {
    pub(super) fn write(&mut self, data: &[u8]) -> Result<u64, StoreError> {
        if *self.created {
            if data.is_empty() {
                return Ok(0);
            }
            return self.store.append(self.object, data);
        }
        let (first, rest) = data.split_at(data.len().min(MAX_CREATE_WITH_DATA));
        let fresh = !self.written.iter().any(|w| w == self.object);
        if fresh {
            // Listed before the write: one that fails part way may leave something.
            self.written.push(self.object.into());
            self.store.create(self.object, first)?;
        } else {
            self.store.put(self.object, first)?;
        }
        *self.created = true;
        if rest.is_empty() {
            return Ok(first.len() as u64);
        }
        self.store.append(self.object, rest)
    }
}

/// The platform failure at the root of an engine refusal (through the commands and
/// dependencies it failed in), if it is one.
fn platform_cause(mut e: &suit::Error) -> Option<PlatformError> {
    use suit::error::CommandErrorKind;
    loop {
        match e {
            suit::Error::Platform(p) => return Some(*p),
            suit::Error::Command(c) => match &c.kind {
                CommandErrorKind::Platform(p) => return Some(*p),
                CommandErrorKind::Dependency(inner) => e = inner,
                _ => return None,
            },
            _ => return None,
        }
    }
}

/// The report of an install step refused outside the engine after `prepare` authenticated
/// the manifest (`claims`): it replaces the earlier attempt's, which would otherwise be
/// signed as this one's outcome.
fn refusal_report(claims: &ManifestClaims, e: &InstallError) -> Report {
    use crate::report::{code, Reason};
    let code = match e {
        InstallError::Refused(error) => {
            return ReportBuilder::for_manifest(claims)
                .fail_with(Failure::from_shared_error(error.clone(), None))
        }
        InstallError::Sequence(_) | InstallError::EmptyEnvelope => code::SERVICE_SEQUENCE,
        InstallError::TooLarge(_) => code::SERVICE_TOO_LARGE,
        InstallError::UnexpectedPayload => code::SERVICE_UNEXPECTED_PAYLOAD,
        InstallError::Store(_) => code::SERVICE_STORE,
        InstallError::Policy(_) => code::SERVICE_POLICY,
        InstallError::Commit(_) => code::PLATFORM,
    };
    let detail = crate::fault::Fault::Install(e.clone());
    ReportBuilder::for_manifest(claims).fail_with(Failure::new(
        Reason::OperationFailed,
        code,
        detail,
    ))
}

fn remove_payloads<S: SecureStore + ?Sized>(store: &mut S, payloads: &[Payload]) {
    for p in payloads {
        let _ = store.remove(&p.object);
    }
}

/// The streaming decision for a proved plan: a TA image whose authenticated image size fits
/// the TA limit, or a secure component, is decrypted into its payload object; anything else
/// (other kinds, a TA without a size bound) keeps the ordinary path.
fn planned(plan: suit::streaming::StreamPlan, signers: &[suit::AnchorId]) -> Option<Planned> {
    use super::components::{classify, Kind};
    let engine_limit = suit::interpreter::MAX_PAYLOAD_LEN;
    let (limit, keep) = match classify(&plan.target).ok()? {
        Kind::TrustedApp { .. } => {
            // Written once into the payload object, not kept in TA memory only: OP-TEE's
            // TA-store install takes seconds, and a power cut inside it must leave the image
            // where `reconcile` can install it again. Kept in memory too (at most
            // MAX_TA_IMAGE, the buffer `finish` would read it back into), so `finish` hands
            // OP-TEE the bytes it hashed without reading the object back.
            (plan.target_size.filter(|n| *n <= MAX_TA_IMAGE)?, true)
        }
        Kind::Secure => (
            plan.target_size.unwrap_or(engine_limit).min(engine_limit),
            false,
        ),
        _ => return None,
    };
    Some(Planned {
        plan,
        signers: signers.to_vec(),
        limit,
        keep,
    })
}
