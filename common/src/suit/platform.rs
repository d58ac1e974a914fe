//! The seam between the engine and the world.
//!
//! The interpreter decides; a [`Platform`] does. The TA implements it with GP TEE APIs, the
//! host simulator with files, the tests with a recorder. All component writes are *staged*:
//! nothing becomes visible until [`Platform::commit`], which the engine calls once, after every
//! command, digest and policy check of the whole procedure has passed; on any failure it calls
//! [`Platform::discard`] instead.

use crate::suit::component::ComponentId;
use crate::suit::digest::Digest;
use crate::suit::error::{ConditionKind, Section};
use crate::suit::policy::AnchorId;
use crate::suit::update_management::{
    Authorization, ComponentMetadata, WaitEvent, WaitOutcome, WallClock,
};

/// Size of the chunks the engine moves payloads in.
pub const CHUNK_LEN: usize = 64 * 1024;

/// A platform failure, reported inside the command error that caused the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PlatformError {
    /// The platform does not implement the operation (e.g. swap, invoke, slots).
    Unsupported,
    /// No such component or resource (unknown URI, empty component).
    NotFound,
    /// The platform refuses the operation for this component.
    Refused,
    /// The data does not fit the component or the staging area.
    NoSpace,
    /// Storage or transport failure.
    Io,
    /// Platform-specific code (e.g. a TEE_Result), for diagnostics only.
    Other(u32),
    /// A read reported more bytes than the buffer it was given holds (a platform bug; the
    /// engine refuses rather than treat it as the end of the data).
    BadLength,
    /// Stored content read back is not what was committed (or staged): the storage answered
    /// with other bytes. Reported by the read that reaches the end (see [`Platform::read`]).
    NotCommitted,
}

/// Which device identifier a condition compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdentifierKind {
    /// Vendor identifier (UUID or PEN bytes).
    Vendor,
    /// Class identifier (UUID).
    Class,
    /// Device identifier (UUID).
    Device,
}

/// What a command did, for the reporting engine (SUIT reporting policy) and for tests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record<'a> {
    /// 0 for the root manifest, 1 for a dependency, ...
    pub manifest_depth: u8,
    /// Section being run.
    pub section: Section,
    /// The command.
    pub event: Event,
    /// Component it applied to (`None` for commands without one).
    pub component: Option<&'a ComponentId>,
    /// Whether it succeeded.
    pub success: bool,
    /// The reporting-policy bits the manifest gave the command.
    pub policy: u64,
    /// What may be said about the component's content outside the TEE (system information).
    /// The engine alone knows whether staged plaintext is authenticated, so a platform's
    /// reporting hook describes a component from this and never from its own staging area.
    pub disclosure: Disclosure,
    /// suit-record-manifest-id: the component indices of the dependencies processed from
    /// the root down to the manifest holding the command (`[]` = the root).
    pub manifest_id: &'a [u64],
    /// suit-record-section-offset: byte offset of the command in its section's sequence.
    pub offset: u64,
    /// suit-record-component-index: the component index (in that manifest) it applied to.
    pub component_index: Option<usize>,
}

/// What a [`Record`]'s component content may be described as outside the TEE.
///
/// Rule: nothing derived from plaintext that is not authenticated (AEAD tag checked, or for
/// a cipher without integrity the image digest matched) leaves the TEE: no digest, no size,
/// not even whether staging happened in this run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Disclosure {
    /// Nothing was staged for the component in this run: its installed content (if any) may
    /// be described.
    Installed,
    /// Staged in this run, complete and describable (not decrypted, or decrypted and matched
    /// the manifest's image digest, so the digest says nothing the manifest did not).
    Staged {
        /// SHA-256 of the staged image.
        digest: Digest,
        /// Its size in bytes.
        size: u64,
    },
    /// Staged (completely or partly) in this run, and nothing about it may be said.
    Withheld,
}

/// Command kinds in a [`Record`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// A condition was evaluated.
    Condition(ConditionKind),
    /// suit-directive-fetch.
    Fetch,
    /// suit-directive-copy.
    Copy,
    /// suit-directive-write.
    Write,
    /// suit-directive-swap.
    Swap,
    /// suit-directive-invoke.
    Invoke,
    /// suit-directive-process-dependency.
    ProcessDependency,
    /// suit-directive-unlink.
    Unlink,
    /// suit-directive-wait (update management).
    Wait,
}

/// Everything the engine needs from the device.
pub trait Platform {
    /// Whether `value` is this device's identifier of `kind` for `component`.
    fn identifier_matches(
        &self,
        kind: IdentifierKind,
        component: &ComponentId,
        value: &[u8],
    ) -> bool;

    /// Whether `component` is in slot `slot` (suit-condition-component-slot).
    fn slot_matches(&self, _component: &ComponentId, _slot: u64) -> Result<bool, PlatformError> {
        Err(PlatformError::Unsupported)
    }

    /// Starts transferring the payload named by `uri` (never called for `#` integrated
    /// payloads, which the engine serves from the envelope).
    fn fetch_open(&mut self, uri: &str, fetch_args: Option<&[u8]>) -> Result<(), PlatformError>;

    /// Reads the next chunk of the open transfer into `buf`; `Ok(0)` marks its end.
    fn fetch_read(&mut self, buf: &mut [u8]) -> Result<usize, PlatformError>;

    /// Starts new staged content for `component`, replacing any earlier staged content.
    fn stage_open(&mut self, component: &ComponentId) -> Result<(), PlatformError>;

    /// Appends to the staged content of `component`.
    fn stage_write(&mut self, component: &ComponentId, data: &[u8]) -> Result<(), PlatformError>;

    /// Drops staged content of `component` (a try-each option that staged it failed).
    fn stage_discard(&mut self, component: &ComponentId);

    /// Reads `component` from `offset` into `buf` (staged content if any, else installed);
    /// returns the number of bytes read, 0 at the end. A platform whose storage may answer
    /// with other bytes than it wrote checks what it returned when a read reaches the end and
    /// fails that read ([`PlatformError::NotCommitted`]): the engine reads content in order
    /// from offset 0 and to the end before it relies on any of it.
    fn read(
        &self,
        component: &ComponentId,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, PlatformError>;

    /// Stages exchanging the contents of two components.
    fn swap(&mut self, _a: &ComponentId, _b: &ComponentId) -> Result<(), PlatformError> {
        Err(PlatformError::Unsupported)
    }

    /// Transfers control to / launches `component` (suit-directive-invoke).
    fn invoke(
        &mut self,
        _component: &ComponentId,
        _args: Option<&[u8]>,
    ) -> Result<(), PlatformError> {
        Err(PlatformError::Unsupported)
    }

    /// The stored sequence number for the manifest identified by `key`, if any.
    fn sequence_number(&self, key: &[u8]) -> Result<Option<u64>, PlatformError>;

    /// Stages a new sequence number for `key` (made durable by `commit`), from a manifest
    /// `signers` signed: a platform that bounds rollback keys per anchor charges a new one to
    /// a signer, never to another anchor whose scope the key falls in.
    fn stage_sequence_number(
        &mut self,
        key: &[u8],
        value: u64,
        signers: &[AnchorId],
    ) -> Result<(), PlatformError>;

    /// Sequence number of the manifest that installed `component`'s current content, for
    /// per-component rollback protection (`None`: nothing installed, or not tracked).
    fn component_sequence_number(
        &self,
        _component: &ComponentId,
    ) -> Result<Option<u64>, PlatformError> {
        Ok(None)
    }

    /// Marks `component`'s staged content as one whose digest must stay inside the TEE after
    /// commit too (decrypted, authenticated only by an AEAD tag: see [`Disclosure::Withheld`]).
    fn stage_digest_withheld(&mut self, _component: &ComponentId) {}

    /// Whether `component`'s installed content was committed with its digest withheld
    /// ([`Self::stage_digest_withheld`]): a copy of that content is withheld too, or copying a
    /// secret to a second component would publish what its first record keeps inside.
    fn installed_digest_withheld(&self, _component: &ComponentId) -> bool {
        false
    }

    /// Whether committing content to `component` reads and checks it (an OP-TEE TA image's
    /// header, UUID and version), so that its outcome says something of the content: a copy
    /// of content whose digest is withheld then takes its owners' signatures even where they
    /// own the destination too.
    fn interprets_content(&self, _component: &ComponentId) -> bool {
        false
    }

    /// Device policy: whether content committed to `component` must be vouched for by the
    /// signed manifest, not only by whoever served it (the REE): it matched an image digest,
    /// was decrypted with a verified AEAD tag or from verified ciphertext, is the manifest's
    /// `suit-parameter-content`, or is a copy of such content or of installed content of a
    /// component this holds for (committed under the same rule). Otherwise the engine refuses
    /// with [`Error::UnvouchedContent`] before anything is committed. `false` (the default)
    /// keeps the drafts' semantics, under which a fetch without a digest commits what was
    /// served.
    ///
    /// [`Error::UnvouchedContent`]: crate::suit::error::Error::UnvouchedContent
    fn requires_vouched_content(&self, _component: &ComponentId) -> bool {
        false
    }

    /// Stages the sequence number of the manifest whose directive staged `component`'s
    /// content or its removal ([`Self::unlink`]; the highest, if several removed it), to be
    /// stored by `commit` with the component or as its removal floor. It is that manifest's
    /// own number, never its dependent's: whoever may process a dependency must not raise
    /// the floor of a component it may not touch.
    fn stage_component_sequence_number(
        &mut self,
        _component: &ComponentId,
        _value: u64,
    ) -> Result<(), PlatformError> {
        Ok(())
    }

    /// Makes all staged content and sequence numbers durable, atomically.
    fn commit(&mut self) -> Result<(), PlatformError>;

    /// Drops everything staged since the last commit.
    fn discard(&mut self);

    /// Receives a record of each executed condition and directive (reporting engine hook).
    fn report(&mut self, _record: &Record<'_>) {}

    /// Stages removing `component` (suit-directive-unlink, trust domains): the platform
    /// decides what removal means for the component's kind, or refuses it; nothing is
    /// removed before `commit`. `stage_discard` (and a later `stage_open`) of the component
    /// cancels a staged removal.
    fn unlink(&mut self, _component: &ComponentId) -> Result<(), PlatformError> {
        Err(PlatformError::Unsupported)
    }

    // Update management (draft-ietf-suit-update-management). Every default answers "unknown"
    // or "cannot", which fails the condition or directive unless device policy says otherwise.

    /// The wall clock, if the device has one (use-before, time waits).
    fn wall_clock(&self) -> Option<WallClock> {
        None
    }

    /// Energy left in the battery, mWh (minimum-battery); `None`: not measurable.
    fn battery_mwh(&self) -> Option<u64> {
        None
    }

    /// Asks the application / user whether the update of `component` at `priority`
    /// (smaller = more urgent) may proceed (update-authorized).
    fn authorize_update(
        &mut self,
        _component: &ComponentId,
        _priority: Option<i64>,
    ) -> Authorization {
        Authorization::Unavailable
    }

    /// The version `component` currently asserts (condition-version); `None`: unknown.
    fn component_version(
        &self,
        _component: &ComponentId,
    ) -> Result<Option<alloc::vec::Vec<i64>>, PlatformError> {
        Ok(None)
    }

    /// Waits for `event` at most `budget_seconds` (never longer: the engine relies on it to
    /// bound suit-directive-wait), returning the outcome and the seconds actually spent.
    fn wait_for(
        &mut self,
        _component: &ComponentId,
        _event: &WaitEvent,
        _budget_seconds: u64,
    ) -> (WaitOutcome, u64) {
        (WaitOutcome::Unsupported, 0)
    }

    /// Applies component metadata to the content about to be staged for `component` (called
    /// before fetch, copy and write when the parameter is set; made durable by `commit`).
    fn stage_metadata(
        &mut self,
        _component: &ComponentId,
        _metadata: &ComponentMetadata,
    ) -> Result<(), PlatformError> {
        Err(PlatformError::Unsupported)
    }

    /// Streaming install: the open fetch's bytes already arrived and were consumed
    /// as they came (see [`crate::suit::streaming`]); if so, the platform attaches them to
    /// `component`'s staging (just opened) and answers what the engine would have counted
    /// and hashed. `None` (the default): the engine reads the fetch as usual.
    fn streamed_fetch(&mut self, _component: &ComponentId) -> Option<Streamed> {
        None
    }

    /// Streaming install: whether the decrypting copy of `source` into `target` with exactly
    /// `encryption_info` was already done as the payload arrived, with the key the engine
    /// would choose; if so, the platform makes that plaintext `target`'s staged content (just
    /// opened) and answers its size, digest and how the decryptor finished. Asked only after
    /// the engine built its own decryptor for the same bytes and keys; `key_check` is that
    /// decryptor's [`PayloadDecryptor::key_check`], which the streamed one must equal.
    ///
    /// [`PayloadDecryptor::key_check`]: crate::encryption::PayloadDecryptor::key_check
    fn streamed_copy(
        &mut self,
        _source: &ComponentId,
        _encryption_info: &[u8],
        _key_check: &[u8; 32],
        _target: &ComponentId,
    ) -> Option<StreamedCopy> {
        None
    }
}

/// What a streamed fetch staged: the engine's count and hash of the fetched bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Streamed {
    pub digest: Digest,
    pub size: u64,
}

/// What a streamed decrypting copy staged. `size` counts every plaintext byte the decryptor
/// released (staging stopped past the engine's limit, which the engine then refuses as it
/// would have); `finish` is the decryptor's own end (GCM: the tag check).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamedCopy {
    pub digest: Digest,
    pub size: u64,
    pub finish: Result<(), crate::encryption::DecryptError>,
}
