//! The SUIT abstract machine (draft-ietf-suit-manifest §6.4, trust domains §5.3–5.6).
//!
//! Runs the command sequences of an *authenticated and approved* manifest against a
//! [`Platform`]. Parameters are held per component identifier and shared with dependencies
//! (a dependent may set, e.g., the encryption info a dependency's write consumes, but only
//! for plaintext the dependency names by its own image digest:
//! [`CommandErrorKind::ForeignEncryptionInfo`]). Payload bytes stream through in
//! [`CHUNK_LEN`] chunks: hashed on the way, decrypted when the component has
//! `suit-parameter-encryption-info`, and staged; nothing is committed here.
//!
//! Staged plaintext and the outside world: streaming decryption stages plaintext before it is
//! authenticated (the AES-GCM tag comes last; AES-CTR has none, only the image digest). Each
//! [`Staged`] record therefore carries its [`Plaintext`] class, and [`Staged::disclosure`] is
//! the one gate through which anything about staged content reaches a report: a platform is
//! handed a [`Disclosure`] in every [`Record`] and never describes staged content itself.
//! Content that is not authenticated is [`Disclosure::Withheld`]; conditions other than
//! image-match (the check that authenticates CTR content) refuse to look at it; it is never
//! committed. Buffers that carry plaintext are wiped when dropped. Who vouches for staged bytes
//! is kept apart ([`Origin`]): a platform may commit content only on the signed manifest's word
//! ([`Platform::requires_vouched_content`]), not on that of the REE that served it.
//!
//! Payload encryption follows draft-ietf-suit-firmware-encryption: decryption happens on
//! `suit-directive-copy` and `suit-directive-write` only. A copy streams chunk by chunk from
//! the source component (typically the ciphertext fetched into its own component) through the
//! decryptor into the destination; no second plaintext image is made. An install session may
//! have done such a fetch and its decrypting copy as the payload arrived: the
//! platform then answers [`Platform::streamed_fetch`] / [`Platform::streamed_copy`] with the
//! counts, digests and decryptor end, and every limit, tag and size check below applies. A *fetch* whose
//! component has encryption info is refused with [`CommandErrorKind::DecryptingFetch`]: the
//! draft does not define it, and either reading (store the ciphertext where the author meant
//! plaintext, or decrypt against the draft) would make the same manifest install different
//! bytes on different processors, so this engine rejects it instead of guessing. A component
//! staged in this run and then read by a decrypting copy is a ciphertext buffer: it is dropped
//! before the commit (see [`crate::suit::process`]) and never installed as a component.

use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec;
use alloc::vec::Vec;

use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::registry::Parameter;
use crate::suit::authenticate::AuthenticatedManifest;
use crate::suit::command::{Action, Command, CommandSequence, IndexArg, Parameters};
use crate::suit::component::ComponentId;
use crate::suit::decrypt::{CopiedContent, KeySource, PayloadDecryptor};
use crate::suit::digest::{Digest, DigestStream};
use crate::suit::envelope::{Envelope, IntegratedPayload, MAX_ENVELOPE_LEN};
use crate::suit::error::{
    CommandError, CommandErrorKind, ConditionKind, Error, Location, ParameterKind, PolicyError,
    Section,
};
use crate::suit::manifest::Manifest;
use crate::suit::platform::{
    Disclosure, Event, IdentifierKind, Platform, PlatformError, Record, CHUNK_LEN,
};
use crate::suit::policy::{AnchorId, Policy};
use crate::suit::update_management::{self as um, UmError};
use crate::suit::words::Words;

/// Largest payload (per component) the engine moves, ciphertext or plaintext: 64 MiB plus 16
/// bytes, room for the AEAD tag of a 64 MiB image's ciphertext. The one payload limit: the
/// service, the agent and the tools take theirs from here.
pub const MAX_PAYLOAD_LEN: u64 = 64 * 1024 * 1024 + crate::encryption::content::GCM_TAG_LEN as u64;
/// Deepest chain of dependencies processed (root = 0).
pub const MAX_DEPENDENCY_DEPTH: u8 = 3;
/// Steps one run may take, every section, nested sequence, try-each option and dependency
/// included (`CommandErrorKind::Limit(ExecutedSteps)` beyond). A command takes one step per
/// component it starts on (at least one); reading, hashing, decrypting or staging bytes takes
/// one per [`CHUNK_LEN`] chunk; decoding a dependency envelope one plus one per chunk of it,
/// and each signature verification tried on it [`SIGNATURE_STEPS`] (its signatures are
/// verified once per fetch, see `Held`); a try-each option or run-sequence iteration one per
/// parameter set, staged component, removal and dependency its snapshot copies, and a failed
/// one the comparisons its restore makes. Without it, nested try-each / run-sequence over
/// component lists multiply: four levels over 16 components run an inner sequence 65,536
/// times, and each of its image-matches may hash a stored component of up to 64 MiB.
///
/// A manifest at the decode bounds that runs each command once per component takes at most
/// 10 sequences (5 sections of an update, the shared sequence before each) × 128 commands ×
/// 16 components = 20,480 steps; fetching, decrypting and digest-checking 16 components of
/// 64 MiB takes 3 × 16 × 1,024 = 49,152. 2^18 leaves room for dependencies of that size. The
/// worst case is 2^18 commands, each on up to 16 components and a copy of the run's
/// parameter handles (a try-each option or run-sequence iteration), or 2^18 × 64 KiB =
/// 16 GiB read and hashed, or 2^18 / [`SIGNATURE_STEPS`] = 16,384 signature verifications.
pub const MAX_STEPS: u64 = 1 << 18;
/// Steps one signature verification tried on a dependency envelope takes: as many as hashing
/// 1 MiB, more than it costs (ECDSA P-256 verify measures 1.4-1.9 ms in the TA), so that
/// re-fetching a small dependency to have it authenticated again costs its verifications.
pub const SIGNATURE_STEPS: u64 = 16;
/// Most dependency envelopes held at once in one run (each at most [`MAX_ENVELOPE_LEN`]).
pub const MAX_HELD_DEPENDENCIES: usize = 8;
/// Most bytes of dependency envelopes held at once in one run: two full-size envelopes.
pub const MAX_HELD_DEPENDENCY_BYTES: usize = 2 * MAX_ENVELOPE_LEN;

/// How a command sequence ended unsuccessfully.
enum Fail {
    /// A condition failed: absorbed by an enclosing try-each / run-sequence with soft-failure.
    Condition(Error),
    /// A directive failed or a hard rule broke: the whole procedure stops.
    Abort(Error),
}

impl Fail {
    fn into_error(self) -> Error {
        match self {
            Fail::Condition(e) | Fail::Abort(e) => e,
        }
    }
}

/// Where staged bytes came from, as far as trusting and describing them goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Plaintext {
    /// Not decrypted in this run: bytes the REE or the manifest supplied, or a copy of such
    /// bytes or of an installed component.
    Clear,
    /// Decrypted with an AEAD cipher whose tag verified (or a copy of such content, staged in
    /// this run or installed with its digest withheld).
    AeadVerified,
    /// Decrypted with a cipher that authenticates nothing (AES-CTR), or a copy of content not
    /// yet authenticated: authentic only once it matched an image digest.
    Unauthenticated,
    /// Decrypted (AES-CTR) from ciphertext authenticated *before* decryption: carried in
    /// `suit-parameter-content` of the signed manifest, or read from a component whose
    /// ciphertext matched an image digest (the firmware-encryption draft's "Payload Integrity
    /// Validation": integrity before or after decryption).
    CiphertextVerified,
}

/// Who, besides a matched image digest, vouches for staged bytes: the device policy
/// [`Platform::requires_vouched_content`] commits content inside the TEE only on the signed
/// manifest's word. Kept apart from [`Plaintext`], which says what may be disclosed and
/// counts the manifest's own bytes and the REE's alike as [`Plaintext::Clear`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    /// Served by the REE: fetched, or an integrated payload (no signature covers either).
    Served,
    /// `suit-parameter-content` of an authenticated manifest.
    Manifest,
    /// Decrypted in this run: vouched for by its tag or its verified ciphertext (its
    /// [`Plaintext`] class), or by an image digest.
    Decrypted,
    /// Copied without decryption, from content staged in this run or installed: `vouched` is
    /// whether that content was, when copied (installed content: whether the platform holds
    /// its component to this policy, under which it was then committed).
    Copy { vouched: bool },
}

/// What was staged for a component during this run.
#[derive(Debug, Clone)]
pub(crate) struct Staged {
    pub component: ComponentId,
    /// SHA-256 of the staged content; `None` while staging is under way (or broke off).
    pub digest: Option<Digest>,
    pub size: u64,
    pub plaintext: Plaintext,
    /// Who vouches for the bytes, besides a matched image digest (device policy).
    pub origin: Origin,
    /// Matched an image digest (at the directive or by a later image-match).
    pub verified: bool,
    /// Own signers of the manifest that set the matched digest (see [`Staged::matched`]).
    verified_by: Option<Arc<[AnchorId]>>,
    /// Who alone speaks for this content: the own signers of the manifest whose keys
    /// decrypted it in this run, or for a copy of installed content whose digest is withheld,
    /// that content's owners ([`KeySource::owners`]); a copy of staged content keeps its
    /// source's. Only a digest all of them signed vouches for it, and while its digest is
    /// withheld only a value all of them set is compared with it (`confided`). `None`: anyone.
    owned_by: Option<Arc<[AnchorId]>>,
    /// Read as the source of a decrypting copy: a ciphertext download buffer, dropped at
    /// commit instead of installed (see [`crate::suit::process`]).
    pub consumed: bool,
    /// Sequence number of the manifest (root or dependency) whose directive staged it.
    pub sequence_number: u64,
    /// Which staging of the run this is: a try-each restore tells content staged again from
    /// content left alone by this, never by comparing digests (that would answer whether the
    /// new bytes equal the old, which may be a secret's).
    serial: u64,
}

impl Staged {
    /// Complete, and either never encrypted, or its tag / image digest checked.
    pub(crate) fn authenticated(&self) -> bool {
        self.digest.is_some()
            && match self.plaintext {
                Plaintext::Clear | Plaintext::AeadVerified | Plaintext::CiphertextVerified => true,
                Plaintext::Unauthenticated => self.digest_vouches(),
            }
    }

    /// Matched an image digest that speaks for this content: any digest for content no one
    /// owns (`owned_by`); for decrypted or confidential content only one set by a manifest
    /// all its owners signed. A digest another party chose would let that party choose
    /// what those keys install (AES-CTR is malleable), or learn the plaintext it names.
    fn digest_vouches(&self) -> bool {
        self.verified
            && self
                .owned_by
                .as_ref()
                .is_none_or(|s| set_by_all_of(self.verified_by.as_ref(), s))
    }

    /// As ciphertext a decrypting copy by a manifest whose own signers are `signers` reads:
    /// not decrypted itself, and matched a digest all of them signed (see `digest_vouches`).
    fn verified_ciphertext_for(&self, signers: &[AnchorId]) -> bool {
        self.plaintext == Plaintext::Clear
            && self.verified
            && set_by_all_of(self.verified_by.as_ref(), signers)
    }

    /// Records a match of an image digest set by `by`. A setter already recorded is kept if
    /// it speaks for the owners (decrypted or confidential content) or signed all `by` did: a
    /// later match never takes away what an earlier one vouched for.
    fn matched(&mut self, by: Option<&Arc<[AnchorId]>>) {
        self.verified = true;
        let keep = match (&self.owned_by, &self.verified_by) {
            (_, None) => false,
            (Some(s), old) => set_by_all_of(old.as_ref(), s),
            (None, Some(old)) => !set_by_all_of(by, old),
        };
        if !keep {
            self.verified_by = by.cloned();
        }
    }

    /// May be committed. By default the firmware-encryption draft's decision tree: authentic
    /// content is enough (an AEAD tag, or a ciphertext digest / the signed manifest before
    /// decryption, or a plaintext digest after it); AES-CTR content none of these vouch for is
    /// refused. With `require_plaintext_digest` (device policy) decrypted content must also
    /// have matched a plaintext image digest.
    pub(crate) fn committable(&self, require_plaintext_digest: bool) -> bool {
        self.authenticated()
            && (self.plaintext == Plaintext::Clear
                || self.digest_vouches()
                || !require_plaintext_digest)
    }

    /// Authentic, and vouched for by the signed manifest rather than by whoever served it
    /// (see [`Origin`]): matched an image digest, or decrypted with a verified tag or from
    /// verified ciphertext, or the manifest's own content, or a copy of vouched content.
    pub(crate) fn vouched(&self) -> bool {
        self.authenticated()
            && (self.digest_vouches()
                || match self.origin {
                    Origin::Served => false,
                    Origin::Manifest => true,
                    Origin::Decrypted => matches!(
                        self.plaintext,
                        Plaintext::AeadVerified | Plaintext::CiphertextVerified
                    ),
                    Origin::Copy { vouched } => vouched,
                })
    }

    /// What may be said about this content outside the TEE: decrypted content only once it
    /// is authenticated *and* matched the manifest's image digest, so its digest and size
    /// repeat what the signed manifest already says; otherwise nothing at all.
    pub(crate) fn disclosure(&self) -> Disclosure {
        match self.digest {
            Some(digest)
                if self.authenticated()
                    && (self.plaintext == Plaintext::Clear || self.digest_vouches()) =>
            {
                Disclosure::Staged {
                    digest,
                    size: self.size,
                }
            }
            _ => Disclosure::Withheld,
        }
    }
}

/// A component's parameters as the run holds them, with who set the two that decide what a
/// decrypting copy or write may stage: parameters are shared across manifests, and a
/// dependent (or a sibling dependency) may have set them with set-parameters before the
/// manifest that decrypts runs. Each setter is that manifest's own signers, shared with its
/// frame (a reference per component, not a copy); snapshots keep them with the values.
#[derive(Debug, Clone, Default)]
struct ComponentParams {
    values: Parameters,
    /// Own signers of the manifest that set `values.encryption_info`.
    encryption_info_by: Option<Arc<[AnchorId]>>,
    /// Own signers of the manifest that set `values.image_digest`.
    image_digest_by: Option<Arc<[AnchorId]>>,
    /// Own signers of the manifest that set `values.content` (ciphertext a write decrypts).
    content_by: Option<Arc<[AnchorId]>>,
    /// Own signers of the manifest that set `values.source_component`: a copy moves what
    /// they chose, so only they speak for where its content goes.
    source_component_by: Option<Arc<[AnchorId]>>,
}

impl ComponentParams {
    /// [`Parameters::apply`] by a manifest whose own signers are `by`: a value it writes is
    /// recorded as its (override-parameters always writes, set-parameters only if unset).
    fn apply(
        &mut self,
        other: &Parameters,
        overwrite: bool,
        by: &Arc<[AnchorId]>,
    ) -> Result<(), CommandErrorKind> {
        let writes = |held: bool, offered: bool| offered && (overwrite || !held);
        let info = writes(
            self.values.encryption_info.is_some(),
            other.encryption_info.is_some(),
        );
        let digest = writes(
            self.values.image_digest.is_some(),
            other.image_digest.is_some(),
        );
        let content = writes(self.values.content.is_some(), other.content.is_some());
        let source = writes(
            self.values.source_component.is_some(),
            other.source_component.is_some(),
        );
        self.values.apply(other, overwrite)?;
        if info {
            self.encryption_info_by = Some(Arc::clone(by));
        }
        if digest {
            self.image_digest_by = Some(Arc::clone(by));
        }
        if content {
            self.content_by = Some(Arc::clone(by));
        }
        if source {
            self.source_component_by = Some(Arc::clone(by));
        }
        Ok(())
    }

    /// [`Parameters::copy_from`]: a copied value keeps who set it at the source, so copying
    /// it elsewhere does not launder it.
    fn copy_from(&mut self, src: &ComponentParams, labels: &[i64]) -> Result<(), CommandErrorKind> {
        self.values.copy_from(&src.values, labels)?;
        let copied = |p: Parameter, has: bool| has && labels.contains(&p.value());
        if copied(
            Parameter::EncryptionInfo,
            src.values.encryption_info.is_some(),
        ) {
            self.encryption_info_by = src.encryption_info_by.clone();
        }
        if copied(Parameter::ImageDigest, src.values.image_digest.is_some()) {
            self.image_digest_by = src.image_digest_by.clone();
        }
        if copied(Parameter::Content, src.values.content.is_some()) {
            self.content_by = src.content_by.clone();
        }
        if copied(
            Parameter::SourceComponent,
            src.values.source_component.is_some(),
        ) {
            self.source_component_by = src.source_component_by.clone();
        }
        Ok(())
    }
}

/// Whether a parameter set by a manifest whose own signers are `setter` speaks for a manifest
/// whose own signers are `signers`: every one of them signed the setter too (so a manifest's
/// own values, and a co-signed dependent's, do; another party's do not).
fn set_by_all_of(setter: Option<&Arc<[AnchorId]>>, signers: &[AnchorId]) -> bool {
    setter.is_some_and(|by| signers.iter().all(|s| by.contains(s)))
}

/// The manifest's own signers that also chose the source of its copy or swap
/// (`source_component_by`): parameters are shared across the manifest tree, and a dependent
/// that set source-component first would otherwise aim a dependency's copy, signed by the
/// source's owner, at content of that owner's it never meant to move.
fn source_choosers(frame: &Frame<'_, '_>, held: &ComponentParams) -> Arc<[AnchorId]> {
    frame
        .own_signers
        .iter()
        .copied()
        .filter(|s| {
            held.source_component_by
                .as_ref()
                .is_some_and(|by| by.contains(s))
        })
        .collect()
}

/// Refuses `idx`'s command unless the manifest's own signers include all of `owners` (none:
/// nothing is withheld, nothing to refuse).
fn own_signers_include(
    frame: &Frame<'_, '_>,
    idx: usize,
    owners: Option<Arc<[AnchorId]>>,
) -> Result<(), CommandErrorKind> {
    match owners {
        Some(owners) if !set_by_all_of(Some(&frame.own_signers), &owners) => Err(
            CommandErrorKind::Policy(PolicyError::PlaintextNotPermitted { component: idx }),
        ),
        _ => Ok(()),
    }
}

/// One manifest being executed (the root, or a dependency).
struct Frame<'m, 'e> {
    manifest: &'m Manifest,
    integrated: &'m [IntegratedPayload<'e>],
    /// Signers vouching for this manifest's operations: its own plus its dependents'.
    signers: Vec<AnchorId>,
    /// This manifest's own signers: they alone choose its decryption keys, so a dependent
    /// cannot lend its keys to a dependency's commands, nor borrow theirs. Shared: each
    /// parameter that decides what is decrypted keeps the signers of the manifest that set it.
    own_signers: Arc<[AnchorId]>,
    depth: u8,
    section: Section,
    /// Dependency indices processed (process-dependency succeeded) in the current section.
    processed_dependencies: Vec<usize>,
    /// suit-record-manifest-id of this manifest: dependency component indices from the root.
    walk: Vec<u64>,
    /// Byte offset of the command being run in its section (`None` between commands).
    offset: Option<u64>,
}

/// Per-sequence interpreter state.
struct SeqState {
    /// Current component indices (`None` = not set yet).
    current: Option<Vec<usize>>,
    soft_failure: bool,
    /// A directive of this sequence set soft-failure / strict-order: until then each holds
    /// its default, which is not "set" (set-parameters may still set it).
    soft_failure_set: bool,
    strict_order_set: bool,
    /// Inside try-each / run-sequence (where soft-failure may be set).
    nested: bool,
    /// suit-parameter-strict-order false: commands may run in any order (see [`Unordered`]).
    unordered: Option<Unordered>,
    /// The index was set by an integer (or is the default single component).
    single_index: bool,
    /// The index was set by `true` (trust domains: process-dependency then applies to every
    /// dependency and skips the other components); an explicit list naming every component
    /// is not `true`.
    all: bool,
    /// Every component written or read as a source in this sequence (nested ones included),
    /// so an enclosing unordered sequence can check a nested one against its other commands.
    accessed: Unordered,
}

/// suit-parameter-strict-order (manifest-37 §6.7) is a processor parameter, not a
/// component's: true by default in every sequence, set by override-parameters and
/// override-multiple, and by set-parameters while no directive of the sequence set it (see
/// [`Machine::set_processor_parameters`]). This engine always runs commands in order, which is one of the
/// schedules strict-order false allows; it enforces what the draft requires of such a
/// manifest so that it means the same on a parallel processor: between barriers
/// (override-parameters, override-multiple, set-component-index, strict-order true) no
/// component may
/// be the target of one command and the source of another, and a run-sequence issued while
/// unordered may set its component index only as its first command (integer index) or not
/// at all (index true / a list). Each run-sequence iteration runs with strict-order true.
#[derive(Debug, Clone, Default)]
struct Unordered {
    /// Components written since the last barrier.
    targets: Vec<ComponentId>,
    /// Components read as a copy / swap source since the last barrier.
    sources: Vec<ComponentId>,
}

impl SeqState {
    fn new(current: Option<Vec<usize>>, soft_failure: bool, nested: bool) -> Self {
        let single_index = current.as_ref().is_some_and(|c| c.len() == 1);
        SeqState {
            current,
            soft_failure,
            soft_failure_set: false,
            strict_order_set: false,
            nested,
            unordered: None,
            single_index,
            all: false,
            accessed: Unordered::default(),
        }
    }

    /// A barrier: everything issued before it has completed.
    fn barrier(&mut self) {
        if let Some(u) = self.unordered.as_mut() {
            *u = Unordered::default();
        }
    }
}

/// Mutable state of one procedure run.
pub(crate) struct Machine<'x, P: Platform + ?Sized> {
    platform: &'x mut P,
    policy: &'x Policy,
    keys: &'x dyn KeySource,
    /// Per component; shared with snapshots and readers, copied only when changed.
    params: Vec<(ComponentId, Arc<ComponentParams>)>,
    pub(crate) staged: Vec<Staged>,
    /// Dependency envelopes fetched in this run, by their place in the dependency tree (the
    /// dependent's walk and the index): not by identifier, which two dependencies (or a
    /// dependency and its own dependency) may share, so the one checked is the one processed.
    /// A stack: a re-fetch replaces the entry for its place at or above `dependency_floor`,
    /// and adds one otherwise (an entry below is what a snapshot's restore returns to).
    dependencies: Vec<Held>,
    /// Length of `dependencies` when the innermost live snapshot was taken.
    dependency_floor: usize,
    /// Places (see `dependency_place`) whose held envelope passed dependency-integrity: for
    /// the whole run, as the root's frame keeps them across sections, so a nested dependent
    /// processes a dependency in a later section as the root does. A re-fetch of a place
    /// clears it and the places under it; at most one per held envelope.
    verified_dependencies: Vec<Vec<u64>>,
    /// What is left of [`MAX_STEPS`].
    steps_left: u64,
    /// Bytes charged since the last whole [`CHUNK_LEN`] (see `charge_bytes`).
    byte_carry: usize,
    /// Sequence numbers to store on commit (dependencies).
    pub(crate) sequence_updates: Vec<(Vec<u8>, u64)>,
    pub(crate) invoked: Vec<ComponentId>,
    /// Update procedure: replacing a component needs a greater sequence number than the one
    /// that installed it (an invocation only needs one not lower).
    pub(crate) installing: bool,
    /// Sequence number of the manifest whose directive is staging right now.
    staging_sequence: u64,
    /// The last process-dependency failed on a condition inside the dependency (forwarded as
    /// a condition failure, not an abort).
    dependency_condition_failed: bool,
    /// Components whose removal (suit-directive-unlink) is staged, each with the highest
    /// number of the manifests whose directive removed it: its floor once removed (see
    /// [`Platform::stage_component_sequence_number`]), never a dependent's number.
    pub(crate) unlinked: Vec<(ComponentId, u64)>,
    /// Seconds suit-directive-wait may still block in this run (update-management policy).
    wait_budget: u64,
    /// Stagings so far in this run (each [`Staged`]'s serial).
    stagings: u64,
}

/// Where payload bytes come from.
enum Source<'s> {
    Bytes(&'s [u8]),
    /// `suit-parameter-content`: inside the authenticated manifest.
    Content(&'s [u8]),
    Fetch,
    Component(ComponentId),
}

impl<'x, P: Platform + ?Sized> Machine<'x, P> {
    pub(crate) fn new(platform: &'x mut P, policy: &'x Policy, keys: &'x dyn KeySource) -> Self {
        Machine {
            platform,
            policy,
            keys,
            params: Vec::new(),
            staged: Vec::new(),
            dependencies: Vec::new(),
            dependency_floor: 0,
            verified_dependencies: Vec::new(),
            steps_left: MAX_STEPS,
            byte_carry: 0,
            sequence_updates: Vec::new(),
            invoked: Vec::new(),
            installing: true,
            staging_sequence: 0,
            dependency_condition_failed: false,
            unlinked: Vec::new(),
            wait_budget: policy.update_management.max_wait_seconds,
            stagings: 0,
        }
    }

    pub(crate) fn platform(&mut self) -> &mut P {
        self.platform
    }

    /// Steps this run has taken (see [`MAX_STEPS`]).
    pub(crate) fn steps(&self) -> u64 {
        MAX_STEPS - self.steps_left
    }

    /// Takes `n` steps of the run's budget; once it is spent, every charge fails.
    fn charge(&mut self, n: u64) -> Result<(), CommandErrorKind> {
        match self.steps_left.checked_sub(n) {
            Some(left) => {
                self.steps_left = left;
                Ok(())
            }
            None => {
                self.steps_left = 0;
                Err(CommandErrorKind::Limit(Words::ExecutedSteps))
            }
        }
    }

    /// Charges `n` bytes read, hashed or staged: a step per [`CHUNK_LEN`] in all, whatever
    /// the size of the platform's reads.
    fn charge_bytes(&mut self, n: usize) -> Result<(), CommandErrorKind> {
        self.byte_carry = self.byte_carry.saturating_add(n);
        let chunks = self.byte_carry / CHUNK_LEN;
        self.byte_carry %= CHUNK_LEN;
        self.charge(chunks as u64)
    }

    /// The charge for decoding and authenticating a dependency envelope of `len` bytes.
    fn charge_envelope(&mut self, len: usize) -> Result<(), CommandErrorKind> {
        self.charge(1 + (len / CHUNK_LEN) as u64)
    }

    /// Runs `sections` of the root manifest in order.
    pub(crate) fn run_root(
        &mut self,
        manifest: &Manifest,
        integrated: &[IntegratedPayload<'_>],
        signers: &[AnchorId],
        sections: &[Section],
    ) -> Result<(), Error> {
        let mut frame = Frame {
            manifest,
            integrated,
            signers: signers.to_vec(),
            own_signers: Arc::from(signers),
            depth: 0,
            section: Section::Shared,
            processed_dependencies: Vec::new(),
            walk: Vec::new(),
            offset: None,
        };
        for s in sections {
            self.run_section(&mut frame, *s)?;
        }
        Ok(())
    }

    /// Runs the shared sequence and then `section`, if the manifest has that section.
    fn run_section(&mut self, frame: &mut Frame<'_, '_>, section: Section) -> Result<(), Error> {
        self.run_section_keep(frame, section)
            .map_err(Fail::into_error)
    }

    /// [`Self::run_section`] keeping whether a condition failed or the section aborted.
    fn run_section_keep(
        &mut self,
        frame: &mut Frame<'_, '_>,
        section: Section,
    ) -> Result<(), Fail> {
        let Some(seq) = frame.manifest.section(section).map_err(Fail::Abort)? else {
            return Ok(());
        };
        frame.processed_dependencies.clear();
        if let Some(shared) = &frame.manifest.common.shared_sequence {
            frame.section = Section::Shared;
            self.run_top(frame, shared)?;
        }
        frame.section = section;
        self.run_top(frame, seq)?;
        frame.offset = None;
        self.check_dependencies_processed(frame, section)
            .map_err(Fail::Abort)
    }

    /// Trust domains, required checks: at the end of each section of a dependent, the
    /// corresponding section of each dependency (if it has one) has been executed. A
    /// dependency not fetched in this run cannot have been processed: that is left to the
    /// directives that need it. (The other required check, "the dependent populates every
    /// sequence its dependencies have", is not enforced: the firmware-encryption draft's
    /// dependency example has a dependency with a validate section under a dependent
    /// without one.)
    fn check_dependencies_processed(
        &mut self,
        frame: &Frame<'_, '_>,
        section: Section,
    ) -> Result<(), Error> {
        for d in &frame.manifest.common.dependencies {
            if frame.processed_dependencies.contains(&d.index) {
                continue;
            }
            component_id(frame, d.index).map_err(|k| Self::err(frame, &[], Some(d.index), k))?;
            let Some((slot, bytes)) = self.dependency_held(frame, d.index) else {
                continue;
            };
            let has_section = match self.authenticate_held(slot, &bytes) {
                Ok(a) => a.manifest.section(section).ok().flatten().is_some(),
                // Refused when processed; not processing it is the failure to report here.
                Err(CommandErrorKind::Dependency(_)) => true,
                Err(k) => return Err(Self::err(frame, &[], Some(d.index), k)),
            };
            if has_section {
                return Err(Self::err(
                    frame,
                    &[],
                    Some(d.index),
                    CommandErrorKind::DependencyNotProcessed,
                ));
            }
        }
        Ok(())
    }

    fn run_top(&mut self, frame: &mut Frame<'_, '_>, seq: &CommandSequence) -> Result<(), Fail> {
        let mut st = SeqState::new(default_index(frame.manifest), false, false);
        let mut path = Vec::new();
        self.exec(frame, seq, &mut st, &mut path)
    }

    fn exec(
        &mut self,
        frame: &mut Frame<'_, '_>,
        seq: &CommandSequence,
        st: &mut SeqState,
        path: &mut Vec<u16>,
    ) -> Result<(), Fail> {
        let outer = frame.offset;
        for (i, cmd) in seq.commands.iter().enumerate() {
            frame.offset = seq.offsets.get(i).map(|o| u64::from(*o));
            path.push(u16::try_from(i).unwrap_or(u16::MAX));
            let on = st.current.as_ref().map_or(1, |c| c.len().max(1));
            let r = match self.charge(on as u64) {
                Ok(()) => self.exec_command(frame, cmd, st, path),
                Err(k) => Err(Fail::Abort(Self::err(frame, path, None, k))),
            };
            path.pop();
            if r.is_err() {
                // An error has its offset already; the enclosing command is current again.
                frame.offset = outer;
            }
            r?;
        }
        // Back to the command that ran this sequence (try-each / run-sequence).
        frame.offset = outer;
        Ok(())
    }

    /// [`component_id`] for a command at `path`: an unknown index aborts the procedure.
    fn component_at(frame: &Frame<'_, '_>, path: &[u16], idx: usize) -> Result<ComponentId, Fail> {
        component_id(frame, idx).map_err(|k| Fail::Abort(Self::err(frame, path, Some(idx), k)))
    }

    /// strict-order and soft-failure, the processor parameters, as a parameter directive
    /// sets them: override-parameters and override-multiple (`overwrite`) always,
    /// set-parameters (trust domains: it "will skip setting" a set parameter) only while no
    /// directive of this sequence set it, the defaults at its start not counting as set. So
    /// `set-parameters{soft-failure: false}` opening a try-each option makes a failed
    /// condition abort, as the author asked (manifest-37) and as libcsuit reads it.
    /// strict-order true is a barrier (the sets start afresh).
    fn set_processor_parameters(
        frame: &Frame<'_, '_>,
        st: &mut SeqState,
        path: &[u16],
        p: &Parameters,
        overwrite: bool,
    ) -> Result<(), Fail> {
        // Soft failure only inside try-each or run-sequence (manifest-37: it "MUST NOT be
        // set outside" them): named elsewhere by either directive, it aborts.
        if p.soft_failure.is_some() && !st.nested {
            return Err(Fail::Abort(Self::err(
                frame,
                path,
                None,
                CommandErrorKind::SoftFailureOutsideTryEach,
            )));
        }
        if let Some(strict) = p.strict_order.filter(|_| overwrite || !st.strict_order_set) {
            st.strict_order_set = true;
            if strict {
                st.unordered = None;
            } else if st.unordered.is_none() {
                st.unordered = Some(Unordered::default());
            }
        }
        if let Some(soft) = p.soft_failure.filter(|_| overwrite || !st.soft_failure_set) {
            st.soft_failure_set = true;
            st.soft_failure = soft;
        }
        Ok(())
    }

    fn err(
        frame: &Frame<'_, '_>,
        path: &[u16],
        component: Option<usize>,
        kind: CommandErrorKind,
    ) -> Error {
        Error::Command(CommandError {
            location: Location {
                manifest_depth: frame.depth,
                section: frame.section,
                path: path.to_vec(),
                component,
                offset: frame.offset,
            },
            kind,
        })
    }

    fn current(frame: &Frame<'_, '_>, st: &SeqState, path: &[u16]) -> Result<Vec<usize>, Fail> {
        st.current.clone().ok_or_else(|| {
            Fail::Abort(Self::err(
                frame,
                path,
                None,
                CommandErrorKind::MissingComponentIndex,
            ))
        })
    }

    fn exec_command(
        &mut self,
        frame: &mut Frame<'_, '_>,
        cmd: &Command,
        st: &mut SeqState,
        path: &mut Vec<u16>,
    ) -> Result<(), Fail> {
        match cmd {
            Command::SetComponentIndex(arg) => {
                let count = frame.manifest.index_count();
                let list: Vec<usize> = match arg {
                    IndexArg::All => (0..count).collect(),
                    IndexArg::One(i) => vec![checked_index(*i, count).ok_or_else(|| {
                        Fail::Abort(Self::err(
                            frame,
                            path,
                            None,
                            CommandErrorKind::ComponentIndexOutOfRange(*i),
                        ))
                    })?],
                    IndexArg::List(l) => {
                        let mut v = Vec::with_capacity(l.len());
                        for i in l {
                            v.push(checked_index(*i, count).ok_or_else(|| {
                                Fail::Abort(Self::err(
                                    frame,
                                    path,
                                    None,
                                    CommandErrorKind::ComponentIndexOutOfRange(*i),
                                ))
                            })?);
                        }
                        v
                    }
                };
                st.single_index = matches!(arg, IndexArg::One(_));
                st.all = matches!(arg, IndexArg::All);
                st.current = Some(list);
                st.barrier();
                Ok(())
            }
            Command::OverrideParameters(p) | Command::SetParameters(p) => {
                let overwrite = matches!(cmd, Command::OverrideParameters(_));
                if overwrite {
                    st.barrier();
                }
                Self::set_processor_parameters(frame, st, path, p, overwrite)?;
                for idx in Self::current(frame, st, path)? {
                    let id = Self::component_at(frame, path, idx)?;
                    self.params_mut(&id)
                        .apply(p, overwrite, &frame.own_signers)
                        .map_err(|k| Fail::Abort(Self::err(frame, path, Some(idx), k)))?;
                }
                Ok(())
            }
            Command::TryEach {
                options,
                empty_fallback,
            } => {
                for idx in Self::current(frame, st, path)? {
                    let accessed = self.try_each(frame, options, *empty_fallback, idx, path)?;
                    Self::note_access(frame, st, accessed, Some(idx), path)?;
                }
                Ok(())
            }
            Command::RunSequence(seq) => {
                if st.unordered.is_some() {
                    // Issued while unordered: only a leading set-component-index, and only
                    // for an integer index (manifest-37 §6.7).
                    let allowed = usize::from(st.single_index);
                    let sets = |c: &Command| matches!(c, Command::SetComponentIndex(_));
                    let leads = seq.commands.first().is_some_and(sets);
                    if (st.single_index && !leads) || seq.commands.iter().skip(allowed).any(sets) {
                        return Err(Fail::Abort(Self::err(
                            frame,
                            path,
                            None,
                            CommandErrorKind::UnorderedRunSequenceIndex,
                        )));
                    }
                }
                for idx in Self::current(frame, st, path)? {
                    let snapshot = self.snapshot(frame, path)?;
                    // Each iteration runs with strict-order true (manifest-37 §6.7).
                    let mut inner = SeqState::new(Some(vec![idx]), false, true);
                    match self.exec(frame, seq, &mut inner, path) {
                        Ok(()) => {
                            self.keep(snapshot);
                            Self::note_access(frame, st, inner.accessed, Some(idx), path)?
                        }
                        // Soft failure: the sequence halts with no side effects.
                        Err(Fail::Condition(e)) if inner.soft_failure => {
                            self.restore(frame, snapshot, e, path)?
                        }
                        Err(f) => return Err(f),
                    }
                }
                Ok(())
            }
            Command::Condition(kind, policy) => {
                for idx in Self::condition_targets(st) {
                    let r = self.condition(frame, *kind, idx);
                    let id = idx
                        .map(|i| Self::component_at(frame, path, i))
                        .transpose()?;
                    let disclosure = self.disclosure(id.as_ref());
                    self.platform.report(&Record {
                        manifest_depth: frame.depth,
                        section: frame.section,
                        event: Event::Condition(*kind),
                        component: id.as_ref(),
                        success: r.is_ok(),
                        policy: *policy,
                        disclosure,
                        manifest_id: &frame.walk,
                        offset: frame.offset.unwrap_or(0),
                        component_index: idx,
                    });
                    match r {
                        Ok(()) => {}
                        Err(Failure::Soft(kind)) => {
                            return Err(Fail::Condition(Self::err(frame, path, idx, kind)))
                        }
                        Err(Failure::Hard(kind)) => {
                            return Err(Fail::Abort(Self::err(frame, path, idx, kind)))
                        }
                    }
                }
                Ok(())
            }
            Command::Action(action, policy) => {
                let indices = Self::current(frame, st, path)?;
                for idx in indices {
                    if *action == Action::ProcessDependency
                        && st.all
                        && frame.manifest.dependency(idx).is_none()
                    {
                        // Component index `true`: process-dependency applies to all dependencies
                        // (none, in a manifest without). Any other index must name one.
                        continue;
                    }
                    let id = Self::component_at(frame, path, idx)?;
                    let a = self.accesses(frame, *action, idx, &id);
                    Self::note_access(frame, st, a, Some(idx), path)?;
                    let r = self.action(frame, *action, idx, path);
                    let disclosure = self.disclosure(Some(&id));
                    self.platform.report(&Record {
                        manifest_depth: frame.depth,
                        section: frame.section,
                        event: event_of(*action),
                        component: Some(&id),
                        success: r.is_ok(),
                        policy: *policy,
                        disclosure,
                        manifest_id: &frame.walk,
                        offset: frame.offset.unwrap_or(0),
                        component_index: Some(idx),
                    });
                    if let Err(kind) = r {
                        let e = Self::err(frame, path, Some(idx), kind);
                        if core::mem::take(&mut self.dependency_condition_failed) {
                            return Err(Fail::Condition(e));
                        }
                        return Err(Fail::Abort(e));
                    }
                }
                Ok(())
            }
            // Custom labels are shared by conditions and directives, and the draft's only rule
            // for an unknown one is its condition rule ("If a Recipient encounters an unknown
            // condition, it MUST report a failure"): a failed condition, so try-each moves on.
            Command::Custom(label, _) => Err(Fail::Condition(Self::err(
                frame,
                path,
                None,
                CommandErrorKind::UnsupportedCommand(*label),
            ))),
            Command::OverrideMultiple(list) => self.override_multiple(frame, list, st, path),
            Command::CopyParams(list) => self.copy_params(frame, list, st, path),
        }
    }

    /// The [`Disclosure`] gate: what a record about `id` may say about its content.
    fn disclosure(&self, id: Option<&ComponentId>) -> Disclosure {
        let Some(id) = id else {
            return Disclosure::Installed;
        };
        match self.staged.iter().find(|s| &s.component == id) {
            Some(s) => s.disclosure(),
            None => Disclosure::Installed,
        }
    }

    /// The first component whose staged content will be committed (not a consumed ciphertext
    /// buffer) inside the TEE, as the platform says, without being vouched for
    /// ([`Staged::vouched`]).
    pub(crate) fn unvouched(&self) -> Option<&ComponentId> {
        self.staged
            .iter()
            .find(|s| {
                !s.consumed && !s.vouched() && self.platform.requires_vouched_content(&s.component)
            })
            .map(|s| &s.component)
    }

    /// The staged record of `id` in this run, if it holds content not yet authenticated.
    fn unauthenticated(&self, id: &ComponentId) -> bool {
        self.staged
            .iter()
            .any(|s| &s.component == id && !s.authenticated())
    }

    /// Who must all have signed before the REE learns anything of `id`'s current content
    /// (whether it matches a value, or where a copy of it goes): its owners while its digest
    /// is withheld (staged in this run and not describable, or installed so), `None`
    /// otherwise.
    /// The REE reads every outcome, so a comparison is a disclosure: without this an anchor
    /// sharing the scope could test guesses of another's low-entropy secret, one per install.
    fn confided(&self, id: &ComponentId) -> Option<Arc<[AnchorId]>> {
        match self.staged.iter().find(|s| &s.component == id) {
            Some(s) if s.disclosure() == Disclosure::Withheld => {
                // Its owners (by scope) let it out: content gets into such a component only
                // from where it could be let out too (`KeySource::may_copy`).
                self.keys.owners(id)?;
                s.owned_by.clone()
            }
            Some(_) => None,
            None if self.platform.installed_digest_withheld(id) => self.keys.owners(id),
            None => None,
        }
    }

    /// Refuses, before any content is read, to compare `id`'s content with a value set by a
    /// manifest whose own signers are `by` unless they include all its owners (`confided`):
    /// the refusal aborts, whatever the content, so neither try-each nor soft-failure turns it
    /// into an answer.
    fn may_compare(
        &self,
        idx: usize,
        id: &ComponentId,
        by: Option<&Arc<[AnchorId]>>,
    ) -> Result<(), Failure> {
        match self.confided(id) {
            Some(owners) if !set_by_all_of(by, &owners) => Err(Failure::Hard(
                CommandErrorKind::Policy(PolicyError::PlaintextNotPermitted { component: idx }),
            )),
            _ => Ok(()),
        }
    }

    /// Whether a manifest whose own signers are `signers` may move `src`'s content into
    /// `dest` (a copy, decrypting if `decrypting`, or one side of a swap), checked before
    /// anything is read: the key source's ownership rule ([`KeySource::may_copy`]), and for
    /// content whose digest is withheld, all its owners (`confided`) signed, or own `dest`
    /// too (a plain copy into a component whose commit does not read it) so that no anchor
    /// may compare it there that could not where it is.
    /// Decrypting it makes content whose comparison says what it was: that takes the owners'
    /// signatures.
    fn may_move(
        &self,
        signers: &Arc<[AnchorId]>,
        dest: &ComponentId,
        src: &ComponentId,
        idx: usize,
        decrypting: bool,
    ) -> Result<(), CommandErrorKind> {
        let refused =
            CommandErrorKind::Policy(PolicyError::PlaintextNotPermitted { component: idx });
        let content = match self.staged.iter().find(|s| &s.component == src) {
            Some(s) if s.plaintext != Plaintext::Clear => CopiedContent::Decrypted,
            Some(s) if matches!(s.origin, Origin::Served | Origin::Manifest) => {
                CopiedContent::Supplied
            }
            _ => CopiedContent::Held,
        };
        if self.keys.may_copy(signers, dest, src, content).is_err() {
            return Err(refused);
        }
        if let Some(owners) = self.confided(src) {
            let kept = !decrypting
                && !self.platform.interprets_content(dest)
                && set_by_all_of(self.keys.owners(dest).as_ref(), &owners);
            if !kept && !set_by_all_of(Some(signers), &owners) {
                return Err(refused);
            }
        }
        Ok(())
    }

    /// The components a condition runs on; with no index set it runs once without one
    /// (abort needs none; any other condition then fails for lack of a component).
    fn condition_targets(st: &SeqState) -> Vec<Option<usize>> {
        match &st.current {
            Some(l) => l.iter().map(|i| Some(*i)).collect(),
            None => vec![None],
        }
    }

    /// The components `action` on `idx` writes and reads as a source.
    fn accesses(
        &self,
        frame: &Frame<'_, '_>,
        action: Action,
        idx: usize,
        id: &ComponentId,
    ) -> Unordered {
        let id = id.clone();
        let source = match action {
            Action::Copy | Action::Swap => self
                .source_component(frame, idx, &self.params_of(&id).values)
                .ok()
                .map(|(_, c)| c),
            _ => None,
        };
        let mut a = Unordered::default();
        if !matches!(action, Action::Invoke | Action::ProcessDependency) {
            a.targets.push(id.clone());
        }
        a.sources.extend(source.clone());
        if action == Action::Swap {
            a.targets.extend(source);
            a.sources.push(id);
        }
        a
    }

    /// Records what a command (or a whole nested sequence) accessed; with strict-order false,
    /// refuses it if it writes a component an earlier command read as a source, or reads one
    /// an earlier command wrote, since the last barrier.
    fn note_access(
        frame: &Frame<'_, '_>,
        st: &mut SeqState,
        a: Unordered,
        idx: Option<usize>,
        path: &[u16],
    ) -> Result<(), Fail> {
        if let Some(u) = st.unordered.as_mut() {
            let conflict = a
                .targets
                .iter()
                .find(|t| u.sources.contains(t))
                .or_else(|| a.sources.iter().find(|s| u.targets.contains(s)));
            if let Some(c) = conflict {
                let component = (0..frame.manifest.index_count())
                    .find(|i| component_id(frame, *i).as_ref() == Ok(c))
                    .or(idx)
                    .unwrap_or_default();
                return Err(Fail::Abort(Self::err(
                    frame,
                    path,
                    idx,
                    CommandErrorKind::UnorderedSourceAndTarget { component },
                )));
            }
            add_new(&mut u.targets, a.targets.iter().cloned());
            add_new(&mut u.sources, a.sources.iter().cloned());
        }
        add_new(&mut st.accessed.targets, a.targets);
        add_new(&mut st.accessed.sources, a.sources);
        Ok(())
    }

    fn try_each(
        &mut self,
        frame: &mut Frame<'_, '_>,
        options: &[CommandSequence],
        empty_fallback: bool,
        idx: usize,
        path: &mut Vec<u16>,
    ) -> Result<Unordered, Fail> {
        for (n, option) in options.iter().enumerate() {
            self.charge(1)
                .map_err(|k| Fail::Abort(Self::err(frame, path, None, k)))?;
            let snapshot = self.snapshot(frame, path)?;
            let mut inner = SeqState::new(Some(vec![idx]), true, true);
            path.push(u16::try_from(n).unwrap_or(u16::MAX));
            let r = self.exec(frame, option, &mut inner, path);
            path.pop();
            match r {
                Ok(()) => {
                    self.keep(snapshot);
                    return Ok(inner.accessed);
                }
                Err(Fail::Condition(e)) if inner.soft_failure => {
                    self.restore(frame, snapshot, e, path)?
                }
                Err(f) => return Err(f),
            }
        }
        if empty_fallback {
            return Ok(Unordered::default());
        }
        Err(Fail::Condition(Self::err(
            frame,
            path,
            Some(idx),
            CommandErrorKind::TryEachExhausted,
        )))
    }

    /// What a try-each option or run-sequence iteration returns to if it fails softly. It
    /// copies what the run has set and staged so far, so it is charged a step per item
    /// copied: at one step each, options that fail at once would make an install take minutes
    /// within its budget.
    fn snapshot(&mut self, frame: &Frame<'_, '_>, path: &[u16]) -> Result<Snapshot, Fail> {
        let copies = self.params.len()
            + self.staged.len()
            + self.unlinked.len()
            + self.verified_dependencies.len()
            + frame.processed_dependencies.len();
        self.charge(copies as u64)
            .map_err(|k| Fail::Abort(Self::err(frame, path, None, k)))?;
        let snap = Snapshot {
            verified_dependencies: self.verified_dependencies.clone(),
            processed_dependencies: frame.processed_dependencies.clone(),
            params: self.params.clone(),
            staged: self.staged.clone(),
            dependencies: self.dependencies.len(),
            dependency_floor: self.dependency_floor,
            sequence_updates: self.sequence_updates.len(),
            unlinked: self.unlinked.clone(),
        };
        // The envelopes held now are what a restore returns to: a re-fetch adds, not replaces.
        self.dependency_floor = snap.dependencies;
        Ok(snap)
    }

    /// The sequence run under `snap` succeeded: its effects stand, and a dependency envelope
    /// it re-fetched now replaces the one fetched before it (no restore can need that one).
    fn keep(&mut self, snap: Snapshot) {
        self.dependency_floor = snap.dependency_floor;
        let mut i = self.dependency_floor;
        while let Some(held) = self.dependencies.get(i) {
            let shadowed = (self.dependencies.iter().skip(i + 1)).any(|h| h.place == held.place);
            if shadowed {
                self.dependencies.remove(i);
            } else {
                i += 1;
            }
        }
    }

    /// Undoes a failed (soft) sequence: parameters and staging return to the snapshot.
    /// A component staged before the snapshot and re-staged since cannot be restored by the
    /// platform, so that case is escalated to an abort rather than silently kept.
    /// Charged a step per comparison of what was staged or removed since with the snapshot.
    fn restore(
        &mut self,
        frame: &mut Frame<'_, '_>,
        snap: Snapshot,
        cause: Error,
        path: &[u16],
    ) -> Result<(), Fail> {
        let compares =
            self.staged.len() * snap.staged.len() + self.unlinked.len() * snap.unlinked.len();
        self.charge(compares as u64)
            .map_err(|k| Fail::Abort(Self::err(frame, path, None, k)))?;
        self.params = snap.params;
        // A dependency verified or processed inside the failed sequence is not, once its
        // effects are undone (its envelope and number go below).
        self.verified_dependencies = snap.verified_dependencies;
        frame.processed_dependencies = snap.processed_dependencies;
        // Staged since the snapshot: by staging, not by content (re-staging the same bytes
        // must abort like any other, or the outcome would tell whether they were the same).
        let newly: Vec<ComponentId> = self.staged[..]
            .iter()
            .filter(|s| {
                !snap
                    .staged
                    .iter()
                    .any(|o| o.component == s.component && o.serial == s.serial)
            })
            .map(|s| s.component.clone())
            .collect();
        for c in &newly {
            if snap.staged.iter().any(|o| &o.component == c) {
                return Err(Fail::Abort(cause));
            }
            self.platform.stage_discard(c);
        }
        // Removals staged since are cancelled; one that discarded content staged before the
        // snapshot cannot be undone, so that case aborts (as for re-staged content above).
        let cancelled: Vec<ComponentId> = self
            .unlinked
            .iter()
            .filter(|(c, _)| !snap.unlinked.iter().any(|(o, _)| o == c))
            .map(|(c, _)| c.clone())
            .collect();
        for c in &cancelled {
            if snap.staged.iter().any(|o| &o.component == c) {
                return Err(Fail::Abort(cause));
            }
            self.platform.stage_discard(c);
        }
        // Removals staged before the snapshot stand again (a write since may have cancelled one).
        for (c, _) in &snap.unlinked {
            if self.platform.unlink(c).is_err() {
                return Err(Fail::Abort(cause));
            }
        }
        self.unlinked = snap.unlinked;
        self.staged = snap.staged;
        self.dependencies.truncate(snap.dependencies);
        self.dependency_floor = snap.dependency_floor;
        // A dependency processed inside the failed sequence does not get its number stored.
        self.sequence_updates.truncate(snap.sequence_updates);
        Ok(())
    }

    /// The parameters of `id`, to change: copied first if a snapshot or reader shares them.
    fn params_mut(&mut self, id: &ComponentId) -> &mut ComponentParams {
        let pos = match self.params.iter().position(|(c, _)| c == id) {
            Some(p) => p,
            None => {
                self.params.push((id.clone(), Arc::default()));
                self.params.len() - 1
            }
        };
        // In bounds: a position just found, or the index of the entry just pushed.
        #[allow(clippy::indexing_slicing)]
        Arc::make_mut(&mut self.params[pos].1)
    }

    /// The parameters of `id` with who set them, shared (no copy).
    fn params_of(&self, id: &ComponentId) -> Arc<ComponentParams> {
        self.params
            .iter()
            .find(|(c, _)| c == id)
            .map(|(_, p)| Arc::clone(p))
            .unwrap_or_default()
    }

    fn condition(
        &mut self,
        frame: &mut Frame<'_, '_>,
        kind: ConditionKind,
        idx: Option<usize>,
    ) -> Result<(), Failure> {
        use CommandErrorKind as K;
        if kind == ConditionKind::Abort {
            return Err(Failure::Soft(K::ConditionFailed(kind)));
        }
        let Some(idx) = idx else {
            return Err(Failure::Hard(K::MissingComponentIndex));
        };
        let id = component_id(frame, idx).map_err(Failure::Hard)?;
        let held = self.params_of(&id);
        let p = &held.values;
        let failed = Err(Failure::Soft(K::ConditionFailed(kind)));
        let check = |ok: bool| {
            if ok {
                Ok(())
            } else {
                Err(Failure::Soft(K::ConditionFailed(kind)))
            }
        };
        match kind {
            ConditionKind::VendorIdentifier => {
                let v = p
                    .vendor_id
                    .as_ref()
                    .ok_or(Failure::Soft(K::MissingParameter(ParameterKind::VendorId)))?;
                check(
                    self.platform
                        .identifier_matches(IdentifierKind::Vendor, &id, v.as_bytes()),
                )
            }
            ConditionKind::ClassIdentifier => {
                let v = p
                    .class_id
                    .ok_or(Failure::Soft(K::MissingParameter(ParameterKind::ClassId)))?;
                check(
                    self.platform
                        .identifier_matches(IdentifierKind::Class, &id, &v),
                )
            }
            ConditionKind::DeviceIdentifier => {
                let v = p
                    .device_id
                    .ok_or(Failure::Soft(K::MissingParameter(ParameterKind::DeviceId)))?;
                check(
                    self.platform
                        .identifier_matches(IdentifierKind::Device, &id, &v),
                )
            }
            ConditionKind::ComponentSlot => {
                let slot = p.component_slot.ok_or(Failure::Soft(K::MissingParameter(
                    ParameterKind::ComponentSlot,
                )))?;
                match self.platform.slot_matches(&id, slot) {
                    Ok(ok) => check(ok),
                    Err(e) => Err(Failure::Hard(K::Platform(e))),
                }
            }
            ConditionKind::ImageMatch => {
                let want = p.image_digest.ok_or(Failure::Soft(K::MissingParameter(
                    ParameterKind::ImageDigest,
                )))?;
                let have = self.digest_of(frame, idx, &id, held.image_digest_by.as_ref())?;
                if want.ct_eq(&have) {
                    // The one check allowed to look at unauthenticated plaintext: it is what
                    // authenticates AES-CTR content, and says nothing beyond match / no match.
                    // A dependency's match is of its manifest, never of staged content.
                    let staged = self.staged.iter_mut().find(|s| s.component == id);
                    if let Some(s) = staged.filter(|_| frame.manifest.dependency(idx).is_none()) {
                        s.matched(held.image_digest_by.as_ref());
                    }
                    Ok(())
                } else {
                    failed
                }
            }
            ConditionKind::CheckContent => {
                let want = p
                    .content
                    .as_deref()
                    .ok_or(Failure::Soft(K::MissingParameter(ParameterKind::Content)))?;
                // Comparing unauthenticated plaintext with a known value would be an oracle.
                if self.unauthenticated(&id) {
                    return Err(Failure::Hard(K::UnauthenticatedContent));
                }
                self.may_compare(idx, &id, held.content_by.as_ref())?;
                // One byte past the value tells "longer"; never more, so `have` is never
                // reallocated (a grown Vec frees its old block unwiped). The rest is read
                // too, unkept: the platform checks stored content when a read reaches its end
                // (`Platform::read`), and the comparison relies on none of it before then.
                let limit = want.len().saturating_add(1);
                let mut have = Zeroizing::new(Vec::with_capacity(limit));
                let mut buf = Zeroizing::new(vec![0u8; CHUNK_LEN]);
                let mut offset = 0u64;
                loop {
                    let n = match self.platform.read(&id, offset, buf.as_mut_slice()) {
                        Ok(n) => n,
                        // An absent component holds no content: a failed condition (as for
                        // image-match), which try-each and soft-failure may absorb.
                        Err(crate::suit::platform::PlatformError::NotFound) => return failed,
                        Err(e) => return Err(Failure::Hard(K::Platform(e))),
                    };
                    if n == 0 {
                        break;
                    }
                    self.charge_bytes(n).map_err(Failure::Hard)?;
                    let chunk =
                        filled(buf.as_slice(), n).map_err(|e| Failure::Hard(K::Platform(e)))?;
                    let room = limit.saturating_sub(have.len()).min(n);
                    have.extend_from_slice(chunk.get(..room).unwrap_or_default());
                    offset = offset.saturating_add(n as u64);
                    if offset > MAX_PAYLOAD_LEN {
                        return Err(Failure::Hard(K::PayloadTooLarge));
                    }
                }
                // Constant time over the content: no early exit on the first differing byte.
                check(have.len() == want.len() && bool::from(have.ct_eq(want)))
            }
            ConditionKind::IsDependency => check(frame.manifest.dependency(idx).is_some()),
            ConditionKind::DependencyIntegrity => {
                if frame.manifest.dependency(idx).is_none() {
                    return Err(Failure::Hard(K::NotADependency));
                }
                let want = p.image_digest.ok_or(Failure::Hard(K::MissingParameter(
                    ParameterKind::ImageDigest,
                )))?;
                let (slot, bytes) = self
                    .dependency_held(frame, idx)
                    .ok_or(Failure::Hard(K::DependencyNotHeld))?;
                let auth = self
                    .authenticate_held(slot, &bytes)
                    .map_err(Failure::Hard)?;
                if !auth.digest.ct_eq(&want) {
                    return Err(Failure::Hard(K::DependencyDigestMismatch));
                }
                push_once(
                    &mut self.verified_dependencies,
                    dependency_place(frame, idx),
                );
                Ok(())
            }
            ConditionKind::Abort => failed,
            ConditionKind::ImageNotMatch => {
                let want = p.image_digest.ok_or(Failure::Soft(K::MissingParameter(
                    ParameterKind::ImageDigest,
                )))?;
                // Match / no match of unauthenticated plaintext authenticates nothing here.
                if self.unauthenticated(&id) {
                    return Err(Failure::Hard(K::UnauthenticatedContent));
                }
                match self.digest_of(frame, idx, &id, held.image_digest_by.as_ref()) {
                    Ok(have) if want.ct_eq(&have) => Err(Failure::Soft(K::UpdateManagement(
                        alloc::boxed::Box::new(UmError::ImageMatches),
                    ))),
                    Ok(_) => Ok(()),
                    // Absent (or incompletely staged) content matches no digest.
                    Err(Failure::Soft(K::ConditionFailed(ConditionKind::ImageMatch))) => Ok(()),
                    Err(e) => Err(e),
                }
            }
            ConditionKind::UseBefore
            | ConditionKind::MinimumBattery
            | ConditionKind::UpdateAuthorized
            | ConditionKind::Version => {
                match um::condition(self.platform, &self.policy.update_management, kind, &id, p) {
                    Ok(()) => Ok(()),
                    Err(e @ K::Platform(_)) => Err(Failure::Hard(e)),
                    Err(e) => Err(Failure::Soft(e)),
                }
            }
        }
    }

    /// The digest image-match compares with one set by `by`: of the staged bytes if this run
    /// staged the component, of the dependency's manifest for a dependency, else of the
    /// platform's current content.
    fn digest_of(
        &mut self,
        frame: &Frame<'_, '_>,
        idx: usize,
        id: &ComponentId,
        by: Option<&Arc<[AnchorId]>>,
    ) -> Result<Digest, Failure> {
        use CommandErrorKind as K;
        if frame.manifest.dependency(idx).is_some() {
            let (_, bytes) = self
                .dependency_held(frame, idx)
                .ok_or(Failure::Soft(K::ConditionFailed(ConditionKind::ImageMatch)))?;
            self.charge_envelope(bytes.len()).map_err(Failure::Hard)?;
            let env =
                Envelope::decode(&bytes).map_err(|e| Failure::Hard(K::Dependency(Box::new(e))))?;
            return Ok(Digest::sha256(env.manifest_encoded));
        }
        self.may_compare(idx, id, by)?;
        if let Some(s) = self.staged.iter().find(|s| &s.component == id) {
            // Incomplete staging never matches.
            return s
                .digest
                .ok_or(Failure::Soft(K::ConditionFailed(ConditionKind::ImageMatch)));
        }
        let mut h = DigestStream::default();
        let mut buf = Zeroizing::new(vec![0u8; CHUNK_LEN]);
        let mut offset = 0u64;
        loop {
            let n = match self.platform.read(id, offset, &mut buf) {
                Ok(n) => n,
                // An absent component simply does not match.
                Err(crate::suit::platform::PlatformError::NotFound) => {
                    return Err(Failure::Soft(K::ConditionFailed(ConditionKind::ImageMatch)))
                }
                Err(e) => return Err(Failure::Hard(K::Platform(e))),
            };
            if n == 0 {
                break;
            }
            self.charge_bytes(n).map_err(Failure::Hard)?;
            h.update(filled(buf.as_slice(), n).map_err(|e| Failure::Hard(K::Platform(e)))?);
            offset = offset.saturating_add(n as u64);
            if offset > MAX_PAYLOAD_LEN {
                return Err(Failure::Hard(K::PayloadTooLarge));
            }
        }
        Ok(h.finish())
    }

    /// The envelope last fetched for dependency `idx` of `frame`'s manifest: its place in
    /// `dependencies` and its bytes, shared.
    fn dependency_held(&self, frame: &Frame<'_, '_>, idx: usize) -> Option<(usize, Arc<Vec<u8>>)> {
        let place = dependency_place(frame, idx);
        let slot = self.dependencies.iter().rposition(|h| h.place == place)?;
        let held = self.dependencies.get(slot)?;
        Some((slot, Arc::clone(&held.bytes)))
    }

    /// Decodes and authenticates `bytes`, the envelope held at `slot` of `dependencies`,
    /// against the device's anchors. Its signatures are verified once, each one tried charged
    /// [`SIGNATURE_STEPS`]; the digest and signers found are kept with it, and later calls
    /// only check that its manifest still hashes to that digest. Every call is charged for
    /// decoding (`charge_envelope`).
    fn authenticate_held<'b>(
        &mut self,
        slot: usize,
        bytes: &'b [u8],
    ) -> Result<AuthenticatedManifest<'b>, CommandErrorKind> {
        self.charge_envelope(bytes.len())?;
        let dep = |e: Error| CommandErrorKind::Dependency(Box::new(e));
        let envelope = Envelope::decode(bytes).map_err(dep)?;
        let known = self.dependencies.get(slot).and_then(|h| h.verified.clone());
        let verified = match known {
            Some((digest, signers)) => envelope.verified_before(digest, signers).map_err(dep)?,
            None => {
                let v = envelope.verify(&self.policy.anchors).map_err(dep)?;
                self.charge(SIGNATURE_STEPS.saturating_mul(v.attempts))?;
                if let Some(h) = self.dependencies.get_mut(slot) {
                    h.verified = Some((v.digest, v.signers.clone()));
                }
                v
            }
        };
        verified.decode().map_err(|e| dep(e.into()))
    }

    fn action(
        &mut self,
        frame: &mut Frame<'_, '_>,
        action: Action,
        idx: usize,
        path: &mut Vec<u16>,
    ) -> Result<(), CommandErrorKind> {
        use CommandErrorKind as K;
        let id = component_id(frame, idx)?;
        let held = self.params_of(&id);
        let p = &held.values;
        let is_dependency = frame.manifest.dependency(idx).is_some();
        if is_dependency && matches!(action, Action::Copy | Action::Write | Action::Swap) {
            return Err(K::DependencyOverwrite);
        }
        if matches!(
            action,
            Action::Fetch | Action::Copy | Action::Write | Action::Swap | Action::Unlink
        ) && !is_dependency
        {
            self.policy
                .check_required_signers(&id, idx, &frame.signers)
                .map_err(K::Policy)?;
            self.check_component_rollback(frame, idx, &id)?;
            if action != Action::Unlink {
                self.may_replace_at_its_number(frame, idx, &id)?;
            }
            self.staging_sequence = frame.manifest.sequence_number;
        }
        if matches!(action, Action::Fetch | Action::Copy | Action::Write) && !is_dependency {
            um::apply_metadata(self.platform, &self.policy.update_management, &id, p)?;
        }
        match action {
            Action::Wait => um::wait(
                self.platform,
                &self.policy.update_management,
                &mut self.wait_budget,
                &id,
                p,
            ),
            Action::Fetch => {
                let uri = p
                    .uri
                    .clone()
                    .ok_or(K::MissingParameter(ParameterKind::Uri))?;
                // The firmware-encryption draft decrypts on copy and write only; what a fetch
                // with encryption info means is undefined (store ciphertext where plaintext was
                // meant, or decrypt against the draft), so it is refused rather than guessed,
                // before anything is asked of the platform. A dependency too: trust domains'
                // encrypted-manifest template decrypts its envelope on fetch, which this engine
                // does not implement; keeping the ciphertext would fail later, misleadingly.
                if p.encryption_info.is_some() {
                    return Err(K::DecryptingFetch);
                }
                // The envelope's payloads first, under any URI (manifest-37: an intermediary
                // may add a pre-fetched payload keyed by its URI); a fragment-only reference
                // can only be one of them.
                let integrated = match frame.integrated.iter().find(|i| *i.key == *uri) {
                    Some(i) => Some(i.bytes),
                    None if uri.starts_with('#') => return Err(K::MissingIntegratedPayload),
                    None => {
                        self.platform
                            .fetch_open(&uri, p.fetch_args.as_deref())
                            .map_err(K::Platform)?;
                        None
                    }
                };
                if is_dependency {
                    // Dependency envelopes stay in engine memory, decoded again on use (their
                    // signatures verified once, see `Held`).
                    // Their size is not compared with image-size: trust domains identify a
                    // dependency by its manifest digest alone, because countersigning or
                    // severing changes the envelope around it (MAX_ENVELOPE_LEN bounds it).
                    let place = dependency_place(frame, idx);
                    // A re-fetch replaces the envelope for its place, unless a snapshot
                    // taken since may restore that one (see `keep`).
                    let replaces = self
                        .dependencies
                        .iter()
                        .skip(self.dependency_floor)
                        .position(|h| h.place == place)
                        .map(|p| p + self.dependency_floor);
                    if replaces.is_none() && self.dependencies.len() >= MAX_HELD_DEPENDENCIES {
                        return Err(K::Limit(Words::DependencyEnvelopesHeld));
                    }
                    let bytes = match integrated {
                        Some(b) => {
                            self.charge_envelope(b.len())?;
                            b.to_vec()
                        }
                        None => self.read_fetch_to_vec()?,
                    };
                    // The one replaced is still held while its successor is read.
                    let held: usize = self.dependencies.iter().map(|h| h.bytes.len()).sum();
                    if held.saturating_add(bytes.len()) > MAX_HELD_DEPENDENCY_BYTES {
                        return Err(K::Limit(Words::DependencyEnvelopesHeld));
                    }
                    self.verified_dependencies
                        .retain(|d| !d.starts_with(&place));
                    let entry = Held {
                        place,
                        bytes: Arc::new(bytes),
                        verified: None,
                    };
                    match replaces.and_then(|p| self.dependencies.get_mut(p)) {
                        Some(slot) => *slot = entry,
                        None => self.dependencies.push(entry),
                    }
                    return Ok(());
                }
                let src = match integrated {
                    Some(b) => Source::Bytes(b),
                    None => Source::Fetch,
                };
                self.stage(&id, &held, src, &frame.own_signers, idx)
            }
            Action::Write => {
                let content = p
                    .content
                    .clone()
                    .ok_or(K::MissingParameter(ParameterKind::Content))?;
                self.stage(
                    &id,
                    &held,
                    Source::Content(&content),
                    &frame.own_signers,
                    idx,
                )
            }
            Action::Copy => {
                let (_, src) = self.source_component(frame, idx, p)?;
                let decrypting = p.encryption_info.is_some();
                let movers = source_choosers(frame, &held);
                self.may_move(&movers, &id, &src, idx, decrypting)?;
                self.may_copy_at_its_number(frame, idx, &id, &src)?;
                self.stage(&id, &held, Source::Component(src), &frame.own_signers, idx)
            }
            Action::Swap => {
                // Both components change: the source meets the destination's rules (checked
                // above), and staged content that is not authenticated moves nowhere.
                let (src_idx, src) = self.source_component(frame, idx, p)?;
                if frame.manifest.dependency(src_idx).is_some() {
                    return Err(K::DependencyOverwrite);
                }
                self.policy
                    .check_required_signers(&src, src_idx, &frame.signers)
                    .map_err(K::Policy)?;
                self.check_component_rollback(frame, src_idx, &src)?;
                self.may_replace_at_its_number(frame, src_idx, &src)?;
                if self.unauthenticated(&id) || self.unauthenticated(&src) {
                    return Err(K::UnauthenticatedContent);
                }
                // Each content moves into the other component: a copy's rules, both ways.
                let movers = source_choosers(frame, &held);
                self.may_move(&movers, &id, &src, idx, false)?;
                self.may_move(&movers, &src, &id, idx, false)?;
                self.may_copy_at_its_number(frame, idx, &id, &src)?;
                self.may_copy_at_its_number(frame, src_idx, &src, &id)?;
                self.platform.swap(&id, &src).map_err(K::Platform)?;
                // What was staged for one is now the other's.
                for s in &mut self.staged {
                    if s.component == id {
                        s.component = src.clone();
                    } else if s.component == src {
                        s.component = id.clone();
                    }
                }
                Ok(())
            }
            Action::Invoke => {
                // What runs is what commit would accept: never content staged in this run
                // that is not authenticated yet.
                if self.unauthenticated(&id) {
                    return Err(K::UnauthenticatedContent);
                }
                self.platform
                    .invoke(&id, p.invoke_args.as_deref())
                    .map_err(K::Platform)?;
                // Each component once: a loop of invocations must not grow the list.
                push_once(&mut self.invoked, id);
                Ok(())
            }
            Action::ProcessDependency => self.process_dependency(frame, idx, path),
            Action::Unlink => {
                // A dependency's manifest is held for this run only: there is no reference to
                // drop, so the directive is ignored (trust domains: "MAY choose to ignore").
                if is_dependency {
                    return Ok(());
                }
                // Content staged for it in this run goes; the removal itself is staged by the
                // platform and happens at commit (same signer and rollback rules as a write).
                self.staged.retain(|s| s.component != id);
                self.platform.stage_discard(&id);
                self.platform.unlink(&id).map_err(K::Platform)?;
                let by = frame.manifest.sequence_number;
                match self.unlinked.iter_mut().find(|(c, _)| *c == id) {
                    Some((_, floor)) => *floor = (*floor).max(by),
                    None => self.unlinked.push((id, by)),
                }
                Ok(())
            }
        }
    }

    fn source_component(
        &self,
        frame: &Frame<'_, '_>,
        idx: usize,
        p: &Parameters,
    ) -> Result<(usize, ComponentId), CommandErrorKind> {
        use CommandErrorKind as K;
        let src = p
            .source_component
            .ok_or(K::MissingParameter(ParameterKind::SourceComponent))?;
        let src_idx = checked_index(src, frame.manifest.index_count())
            .ok_or(K::ComponentIndexOutOfRange(src))?;
        if src_idx == idx {
            return Err(K::SourceIsDestination);
        }
        Ok((src_idx, component_id(frame, src_idx)?))
    }

    fn read_fetch_to_vec(&mut self) -> Result<Vec<u8>, CommandErrorKind> {
        let mut out = Vec::new();
        let mut buf = Zeroizing::new(vec![0u8; CHUNK_LEN]);
        loop {
            let n = self
                .platform
                .fetch_read(&mut buf)
                .map_err(CommandErrorKind::Platform)?;
            if n == 0 {
                return Ok(out);
            }
            self.charge_bytes(n)?;
            let chunk = buf.get(..n).ok_or(CommandErrorKind::Platform(
                crate::suit::platform::PlatformError::Io,
            ))?;
            if out.len() + n > MAX_ENVELOPE_LEN {
                return Err(CommandErrorKind::PayloadTooLarge);
            }
            out.extend_from_slice(chunk);
        }
    }

    /// Streams `src` into the staged content of `id`: decrypting if the component has
    /// encryption info, enforcing image-size, hashing what is staged. `signers` are the own
    /// signers of the manifest whose directive this is.
    fn stage(
        &mut self,
        id: &ComponentId,
        held: &ComponentParams,
        src: Source<'_>,
        signers: &Arc<[AnchorId]>,
        idx: usize,
    ) -> Result<(), CommandErrorKind> {
        use CommandErrorKind as K;
        let p = &held.values;
        // Encryption info another party set (a dependent's set-parameters, say) would have
        // this manifest's keys decrypt what that party chose, committed under this manifest's
        // authority. Allowed only into content this manifest names by its own image digest
        // (trust domains' override-encryption-info template): checked before any key is
        // chosen, and on the digest of what was staged below. Here, before the streamed
        // result is asked for, so a pre-planned copy cannot pass it by.
        let foreign = p.encryption_info.is_some()
            && !set_by_all_of(held.encryption_info_by.as_ref(), signers);
        if foreign && !set_by_all_of(held.image_digest_by.as_ref(), signers) {
            return Err(K::ForeignEncryptionInfo);
        }
        // Keys are chosen only now, from who signed this manifest (local key policy).
        let mut decryptor = match &p.encryption_info {
            Some(info) => {
                let source = self.keys;
                let keys = source.keys_for(signers, id).map_err(|_| {
                    K::Policy(PolicyError::PlaintextNotPermitted { component: idx })
                })?;
                Some(PayloadDecryptor::new(info, keys.get()).map_err(K::Decrypt)?)
            }
            None => None,
        };
        // Provenance decided before any byte moves; recorded as incomplete (Withheld) for as
        // long as staging is under way, and whatever way it ends.
        let plaintext = match (&decryptor, &src) {
            // The ciphertext itself is authentic: in this manifest (or one all its signers
            // signed), or a component staged in this run whose content matched an image
            // digest such a manifest set (another party's would have these keys decrypt
            // its choice).
            (Some(_), Source::Content(_)) if set_by_all_of(held.content_by.as_ref(), signers) => {
                Plaintext::CiphertextVerified
            }
            (Some(_), Source::Component(c))
                if self
                    .staged
                    .iter()
                    .any(|s| &s.component == c && s.verified_ciphertext_for(signers)) =>
            {
                Plaintext::CiphertextVerified
            }
            (Some(_), _) => Plaintext::Unauthenticated,
            (None, Source::Component(c)) => match self.staged.iter().find(|s| &s.component == c) {
                Some(s) if !s.authenticated() => Plaintext::Unauthenticated,
                Some(s) => s.plaintext,
                // Installed content keeps what its record says may leave the TA.
                None if self.platform.installed_digest_withheld(c) => Plaintext::AeadVerified,
                None => Plaintext::Clear,
            },
            (None, _) => Plaintext::Clear,
        };
        let origin = match (&decryptor, &src) {
            (Some(_), _) => Origin::Decrypted,
            (None, Source::Content(_)) => Origin::Manifest,
            (None, Source::Bytes(_) | Source::Fetch) => Origin::Served,
            (None, Source::Component(c)) => Origin::Copy {
                vouched: match self.staged.iter().find(|s| &s.component == c) {
                    Some(s) => s.vouched(),
                    None => self.platform.requires_vouched_content(c),
                },
            },
        };
        let owned_by = match (&decryptor, &src) {
            (Some(_), _) => Some(Arc::clone(signers)),
            (None, Source::Component(c)) => match self.staged.iter().find(|s| &s.component == c) {
                Some(s) => s.owned_by.clone(),
                None => self.confided(c),
            },
            (None, _) => None,
        };
        self.staged.retain(|s| &s.component != id);
        // New content cancels a staged removal (the platform's stage_open does the same).
        self.unlinked.retain(|(u, _)| u != id);
        self.staged.push(Staged {
            component: id.clone(),
            digest: None,
            size: 0,
            plaintext,
            origin,
            verified: false,
            verified_by: None,
            owned_by,
            consumed: false,
            sequence_number: self.staging_sequence,
            serial: self.stagings,
        });
        self.stagings = self.stagings.saturating_add(1);
        self.platform.stage_open(id).map_err(K::Platform)?;
        // image-size is what a fetch or copy must deliver. A write stages bytes the
        // authenticated manifest holds, and manifest-37 gives write no size rule: a component's
        // image-size (often set for every component at once) does not bind them.
        let exact = if matches!(src, Source::Content(_)) {
            None
        } else {
            p.image_size
        };
        let mut sink = Sink {
            hasher: DigestStream::default(),
            size: 0,
            limit: exact.unwrap_or(MAX_PAYLOAD_LEN).min(MAX_PAYLOAD_LEN),
            exact,
        };
        // Streaming install: the platform may have done this fetch, or this decrypting copy
        // (same source, encryption-info bytes and target), as the payload arrived; its answer
        // goes through the same limit, tag and size checks, in the same order, as the loop's.
        let streamed = match (&src, &decryptor, &p.encryption_info) {
            (Source::Fetch, None, _) => self
                .platform
                .streamed_fetch(id)
                .map(|f| (f.digest, f.size, Ok(()))),
            (Source::Component(c), Some(d), Some(info)) => self
                .platform
                .streamed_copy(c, info, d.key_check(), id)
                .map(|c| (c.digest, c.size, c.finish)),
            _ => None,
        };
        let mut streamed_end = None;
        let mut streamed_digest = None;
        if let Some((digest, size, end)) = streamed {
            sink.streamed(size)?;
            streamed_digest = Some(digest);
            streamed_end = Some(end);
        } else {
            // Carries plaintext when copying a decrypted component: wiped on drop.
            let mut buf = Zeroizing::new(vec![0u8; CHUNK_LEN]);
            let mut offset = 0u64;
            let mut bytes_at = 0usize;
            loop {
                let chunk: &[u8] = match &src {
                    Source::Bytes(b) | Source::Content(b) => {
                        let end = bytes_at.saturating_add(CHUNK_LEN).min(b.len());
                        let c = b.get(bytes_at..end).unwrap_or(&[]);
                        bytes_at = end;
                        c
                    }
                    Source::Fetch => {
                        let n = self.platform.fetch_read(&mut buf).map_err(K::Platform)?;
                        filled(buf.as_slice(), n).map_err(K::Platform)?
                    }
                    Source::Component(c) => {
                        let n = self
                            .platform
                            .read(c, offset, &mut buf)
                            .map_err(K::Platform)?;
                        offset = offset.saturating_add(n as u64);
                        filled(buf.as_slice(), n).map_err(K::Platform)?
                    }
                };
                if chunk.is_empty() {
                    break;
                }
                self.charge_bytes(chunk.len())?;
                match decryptor.as_mut() {
                    Some(d) => {
                        let plain = d.update(chunk).map_err(K::Decrypt)?;
                        sink.put(self.platform, id, &plain)?;
                    }
                    None => sink.put(self.platform, id, chunk)?,
                }
            }
        }
        let mut plaintext = plaintext;
        let decrypted = decryptor.is_some();
        if let Some(d) = decryptor {
            let aead = d.algorithm().is_aead();
            match streamed_end {
                Some(end) => end.map_err(K::Decrypt)?,
                None => {
                    let tail = d.finish().map_err(K::Decrypt)?;
                    sink.put(self.platform, id, &tail)?;
                }
            }
            if aead {
                // The tag verified: only now is AEAD plaintext authenticated.
                plaintext = Plaintext::AeadVerified;
            }
        }
        if let Some(exact) = sink.exact {
            if sink.size != exact {
                return Err(K::ImageSizeMismatch);
            }
        }
        let digest = match streamed_digest {
            Some(d) => d,
            None => sink.hasher.finish(),
        };
        let verified = p.image_digest.is_some_and(|d| d.ct_eq(&digest));
        if foreign && !verified {
            // Left incomplete: never committable, and the directive aborts the procedure.
            return Err(K::ForeignEncryptionInfo);
        }
        if let Some(s) = self.staged.iter_mut().find(|s| &s.component == id) {
            s.digest = Some(digest);
            s.size = sink.size;
            s.plaintext = plaintext;
            if verified {
                s.matched(held.image_digest_by.as_ref());
            }
        }
        if let (true, Source::Component(c)) = (decrypted, &src) {
            if let Some(s) = self.staged.iter_mut().find(|s| &s.component == c) {
                s.consumed = true;
            }
        }
        Ok(())
    }

    /// Per-component rollback (RFC 9124 THREAT.IMG.EXPIRED): an old but authentic manifest
    /// may not replace content a newer one installed, even under another component list. A
    /// dependency may be re-run by a newer dependent, so an equal number passes there (the
    /// platform still refuses different content at commit).
    fn check_component_rollback(
        &self,
        frame: &Frame<'_, '_>,
        idx: usize,
        id: &ComponentId,
    ) -> Result<(), CommandErrorKind> {
        let Some(installed) = self
            .platform
            .component_sequence_number(id)
            .map_err(CommandErrorKind::Platform)?
        else {
            return Ok(());
        };
        let offered = frame.manifest.sequence_number;
        let refused = if self.installing && frame.depth == 0 {
            offered <= installed
        } else {
            offered < installed
        };
        if refused {
            return Err(CommandErrorKind::Policy(
                crate::suit::error::PolicyError::ComponentRollback {
                    component: idx,
                    installed,
                    offered,
                },
            ));
        }
        Ok(())
    }

    /// Content staged by a manifest with the sequence number that installed `id`'s content
    /// (a dependency, or an invocation, may repeat it) is committed only if it is the same
    /// (the platform's per-component rollback rule), so the outcome compares the two. Where
    /// the installed content's digest is withheld, that takes all its owners among the
    /// manifest's own signers ([`KeySource::owners`]), decided before anything is staged.
    fn may_replace_at_its_number(
        &self,
        frame: &Frame<'_, '_>,
        idx: usize,
        id: &ComponentId,
    ) -> Result<(), CommandErrorKind> {
        if !self.installed_at_its_number(frame, id)? || !self.platform.installed_digest_withheld(id)
        {
            return Ok(());
        }
        own_signers_include(frame, idx, self.keys.owners(id))
    }

    /// The mirror of [`Self::may_replace_at_its_number`] for the content moved in: a copy into
    /// `dest` under the number that installed `dest`'s content commits only if the two are the
    /// same, so when `src`'s digest is withheld the outcome would say whether it equals what
    /// `dest` holds (content the copier may have chosen): that takes all `src`'s owners'
    /// signatures.
    fn may_copy_at_its_number(
        &self,
        frame: &Frame<'_, '_>,
        idx: usize,
        dest: &ComponentId,
        src: &ComponentId,
    ) -> Result<(), CommandErrorKind> {
        if !self.installed_at_its_number(frame, dest)? {
            return Ok(());
        }
        own_signers_include(frame, idx, self.confided(src))
    }

    /// Whether `id`'s installed content carries this manifest's sequence number, so that
    /// content staged there now commits only if it is the same.
    fn installed_at_its_number(
        &self,
        frame: &Frame<'_, '_>,
        id: &ComponentId,
    ) -> Result<bool, CommandErrorKind> {
        let installed = self
            .platform
            .component_sequence_number(id)
            .map_err(CommandErrorKind::Platform)?;
        Ok(installed == Some(frame.manifest.sequence_number))
    }

    fn process_dependency(
        &mut self,
        frame: &mut Frame<'_, '_>,
        idx: usize,
        _path: &mut Vec<u16>,
    ) -> Result<(), CommandErrorKind> {
        use CommandErrorKind as K;
        // Trust domains: never in the shared sequence ("Common metadata").
        if frame.section == Section::Shared {
            return Err(K::NotAllowedInShared);
        }
        if frame.manifest.dependency(idx).is_none() {
            return Err(K::NotADependency);
        }
        if !self
            .verified_dependencies
            .contains(&dependency_place(frame, idx))
        {
            return Err(K::DependencyNotVerified);
        }
        if frame.depth >= MAX_DEPENDENCY_DEPTH {
            return Err(K::DependencyTooDeep);
        }
        let (slot, bytes) = self
            .dependency_held(frame, idx)
            .ok_or(K::DependencyNotVerified)?;
        let dep = |e: Error| K::Dependency(Box::new(e));
        // Authenticated against the device's anchors on its own: a dependency signed by a
        // different party is checked against that party's key and permissions.
        let auth = self.authenticate_held(slot, &bytes)?;
        self.policy
            .check_dependency(&auth.manifest, &auth.signers)
            .map_err(|e| dep(Error::Policy(e)))?;
        // A dependency may be re-used by a newer dependent: not older than stored is enough.
        let key = auth.manifest.dependency_rollback_key();
        let stored = self.platform.sequence_number(&key).map_err(K::Platform)?;
        if let Some(s) = stored {
            if auth.manifest.sequence_number < s {
                return Err(dep(Error::Policy(
                    crate::suit::error::PolicyError::Rollback {
                        stored: s,
                        offered: auth.manifest.sequence_number,
                    },
                )));
            }
        }
        if !self.sequence_updates.iter().any(|(k, _)| *k == key) {
            self.sequence_updates
                .push((key, auth.manifest.sequence_number));
        }
        let mut signers = frame.signers.clone();
        for s in &auth.signers {
            push_once(&mut signers, *s);
        }
        let mut sub = Frame {
            walk: dependency_place(frame, idx),
            offset: None,
            manifest: &auth.manifest,
            integrated: auth.integrated_payloads(),
            signers,
            own_signers: Arc::from(auth.signers.as_slice()),
            depth: frame.depth + 1,
            section: frame.section,
            processed_dependencies: Vec::new(),
        };
        let section = frame.section;
        match self.run_section_keep(&mut sub, section) {
            Ok(()) => {
                // Once: a loop processing it again must not grow the list (nor every
                // snapshot's copy of it).
                push_once(&mut frame.processed_dependencies, idx);
                Ok(())
            }
            Err(f) => {
                // Trust domains: the dependency's last status is forwarded; an abort in it
                // aborts the dependent, a failed condition is a failed condition there
                // (a dependent's try-each / soft-failure may absorb it).
                self.dependency_condition_failed = matches!(f, Fail::Condition(_));
                Err(dep(f.into_error()))
            }
        }
    }
}

enum Failure {
    Soft(CommandErrorKind),
    Hard(CommandErrorKind),
}

/// A dependency envelope held for the run.
struct Held {
    /// Its place in the dependency tree (see `dependency_place`).
    place: Vec<u64>,
    bytes: Arc<Vec<u8>>,
    /// Manifest digest and signers of the first authentication of `bytes` that succeeded:
    /// checks after it reuse them instead of verifying every signature again (a loop of
    /// dependency-integrity or process-dependency would otherwise verify up to 8 signatures,
    /// each against several anchors, per step). A re-fetch replaces bytes and result together.
    verified: Option<(Digest, Vec<AnchorId>)>,
}

struct Snapshot {
    verified_dependencies: Vec<Vec<u64>>,
    processed_dependencies: Vec<usize>,
    params: Vec<(ComponentId, Arc<ComponentParams>)>,
    staged: Vec<Staged>,
    dependencies: usize,
    dependency_floor: usize,
    sequence_updates: usize,
    unlinked: Vec<(ComponentId, u64)>,
}

struct Sink {
    hasher: DigestStream,
    size: u64,
    limit: u64,
    exact: Option<u64>,
}

impl Sink {
    fn put<P: Platform + ?Sized>(
        &mut self,
        platform: &mut P,
        id: &ComponentId,
        data: &[u8],
    ) -> Result<(), CommandErrorKind> {
        if data.is_empty() {
            return Ok(());
        }
        self.size = self.size.saturating_add(data.len() as u64);
        if self.size > self.limit {
            return Err(if self.exact.is_some() {
                CommandErrorKind::ImageSizeMismatch
            } else {
                CommandErrorKind::PayloadTooLarge
            });
        }
        self.hasher.update(data);
        platform
            .stage_write(id, data)
            .map_err(CommandErrorKind::Platform)
    }

    /// Takes `size` bytes staged by the platform as they arrived (see
    /// [`Platform::streamed_copy`]): the limit [`Sink::put`] would have enforced on the way.
    fn streamed(&mut self, size: u64) -> Result<(), CommandErrorKind> {
        self.size = size;
        if size > self.limit {
            return Err(if self.exact.is_some() {
                CommandErrorKind::ImageSizeMismatch
            } else {
                CommandErrorKind::PayloadTooLarge
            });
        }
        Ok(())
    }
}

/// Adds each of `ids` that `to` lacks: the access sets grow per component (at most a
/// manifest's 16), not per command run, however often a loop runs one.
fn add_new(to: &mut Vec<ComponentId>, ids: impl IntoIterator<Item = ComponentId>) {
    for id in ids {
        push_once(to, id);
    }
}

/// Adds `item` to `to` unless it is there already: the run's lists hold each entry once.
fn push_once<T: PartialEq>(to: &mut Vec<T>, item: T) {
    if !to.contains(&item) {
        to.push(item);
    }
}

fn checked_index(i: u64, count: usize) -> Option<usize> {
    usize::try_from(i).ok().filter(|i| *i < count)
}

fn default_index(m: &Manifest) -> Option<Vec<usize>> {
    (m.index_count() == 1).then(|| vec![0])
}

/// Where dependency `idx` of `frame`'s manifest sits in the dependency tree: its walk.
fn dependency_place(frame: &Frame<'_, '_>, idx: usize) -> Vec<u64> {
    let mut at = frame.walk.clone();
    at.push(idx as u64);
    at
}

/// The identifier behind component index `idx`; an index outside the manifest's components
/// and dependencies is an error, never an empty identifier.
fn component_id(frame: &Frame<'_, '_>, idx: usize) -> Result<ComponentId, CommandErrorKind> {
    frame
        .manifest
        .component_id(idx)
        .ok_or(CommandErrorKind::ComponentIndexOutOfRange(idx as u64))
}

/// The first `n` bytes of `buf`, which a platform read said it filled; a count beyond the
/// buffer is a platform error, never the end of the data.
fn filled(buf: &[u8], n: usize) -> Result<&[u8], PlatformError> {
    buf.get(..n).ok_or(PlatformError::BadLength)
}

fn event_of(a: Action) -> Event {
    match a {
        Action::Write => Event::Write,
        Action::Fetch => Event::Fetch,
        Action::Copy => Event::Copy,
        Action::Invoke => Event::Invoke,
        Action::Swap => Event::Swap,
        Action::ProcessDependency => Event::ProcessDependency,
        Action::Unlink => Event::Unlink,
        Action::Wait => Event::Wait,
    }
}

// Update management (draft-ietf-suit-update-management): parameter directives.
impl<'x, P: Platform + ?Sized> Machine<'x, P> {
    /// suit-directive-override-multiple: an encoding alias for set-component-index +
    /// override-parameters per listed component; the component index ends on the last one.
    fn override_multiple(
        &mut self,
        frame: &mut Frame<'_, '_>,
        list: &[(u64, Parameters)],
        st: &mut SeqState,
        path: &[u16],
    ) -> Result<(), Fail> {
        let count = frame.manifest.index_count();
        for (i, p) in list {
            let idx = checked_index(*i, count).ok_or_else(|| {
                Fail::Abort(Self::err(
                    frame,
                    path,
                    None,
                    CommandErrorKind::ComponentIndexOutOfRange(*i),
                ))
            })?;
            // set-component-index and override-parameters: each a barrier.
            st.barrier();
            Self::set_processor_parameters(frame, st, path, p, true)?;
            let id = Self::component_at(frame, path, idx)?;
            self.params_mut(&id)
                .apply(p, true, &frame.own_signers)
                .map_err(|k| Fail::Abort(Self::err(frame, path, Some(idx), k)))?;
            st.current = Some(vec![idx]);
            st.single_index = true;
            st.all = false;
        }
        Ok(())
    }

    /// suit-directive-copy-params: for each source component, copy the listed parameters
    /// into the current component(s).
    fn copy_params(
        &mut self,
        frame: &mut Frame<'_, '_>,
        list: &[(u64, Vec<i64>)],
        st: &mut SeqState,
        path: &[u16],
    ) -> Result<(), Fail> {
        let count = frame.manifest.index_count();
        let targets = Self::current(frame, st, path)?;
        for (i, labels) in list {
            let src = checked_index(*i, count).ok_or_else(|| {
                Fail::Abort(Self::err(
                    frame,
                    path,
                    None,
                    CommandErrorKind::ComponentIndexOutOfRange(*i),
                ))
            })?;
            let from = self.params_of(&Self::component_at(frame, path, src)?);
            for idx in &targets {
                let id = Self::component_at(frame, path, *idx)?;
                self.params_mut(&id)
                    .copy_from(&from, labels)
                    .map_err(|k| Fail::Abort(Self::err(frame, path, Some(*idx), k)))?;
            }
        }
        Ok(())
    }
}
