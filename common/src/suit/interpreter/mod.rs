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

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::registry::Parameter;
use crate::suit::command::Parameters;
use crate::suit::component::ComponentId;
use crate::suit::decrypt::KeySource;
use crate::suit::digest::Digest;
use crate::suit::envelope::{IntegratedPayload, MAX_ENVELOPE_LEN};
use crate::suit::error::{CommandError, CommandErrorKind, Error, Location, Section};
use crate::suit::manifest::{Manifest, MAX_COMPONENTS};
use crate::suit::platform::{Disclosure, Platform, PlatformError, CHUNK_LEN};
use crate::suit::policy::{AnchorId, Policy};
use crate::suit::words::Words;

// Named by the documentation only.
#[cfg(doc)]
use crate::suit::platform::Record;

mod access;
mod condition;
mod dependency;
mod directive;
mod parameters;
mod sequence;
mod try_each;

use access::set_by_all_of;
pub(crate) use dependency::DependencyBytes;

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
/// verified once per fetch, see `Held`), as each key agreement (P-256 ECDH, HPKE open) a
/// decrypting directive's recipients cost (up to 32 recipients x 16 candidate keys each); a try-each option or run-sequence iteration one per
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
/// 16 GiB read and hashed, or 2^18 / [`SIGNATURE_STEPS`] = 16,384 signature verifications
/// or key agreements (one decrypting directive may exceed what is left by its own, at most
/// 512).
pub const MAX_STEPS: u64 = 1 << 18;
/// Steps one signature verification tried on a dependency envelope, or one key agreement
/// for a recipient, takes: as many as hashing 1 MiB, more than it costs (ECDSA P-256 verify
/// measures 1.4-1.9 ms in the TA, P-256 ECDH about as much), so that re-fetching a small
/// dependency to have it authenticated again costs its verifications, and a recipient list
/// tried in a loop its key agreements.
pub const SIGNATURE_STEPS: u64 = 16;
/// Most components one run holds parameters for, or removes: each manifest of a tree of
/// [`MAX_HELD_DEPENDENCIES`] dependencies naming [`MAX_COMPONENTS`] of its own. An entry is a
/// parameter set (~0.5 KB) a dependency makes from a few bytes, and every live snapshot
/// copies the list.
pub const MAX_RUN_COMPONENTS: usize = MAX_COMPONENTS * (1 + MAX_HELD_DEPENDENCIES);
/// Most component parameter sets alive at once in one run, the copies live try-each options
/// and run-sequence iterations hold included: a snapshot shares the sets, and a change after
/// it copies the set it changes (at most ~0.9 KiB: the set, its custom labels; values and
/// lists are shared), once per live snapshot. Nested try-each in a dependency tree would
/// otherwise hold up to 16 levels x [`MAX_RUN_COMPONENTS`] copies (review s33: 1.4 MiB from a
/// 7 KiB envelope); this keeps them under ~0.4 MiB, sized with every other bound at once
/// (`heap_budget::every_bound_at_once_fits_the_heap`: 2.6 MiB counted as OP-TEE's allocator
/// holds it; 4 x 144 sets and uncharged identifiers reached 3.0 MiB).
pub const MAX_LIVE_PARAMETER_SETS: usize = 3 * MAX_RUN_COMPONENTS;
/// Most dependency envelopes held at once in one run (each at most [`MAX_ENVELOPE_LEN`]).
pub const MAX_HELD_DEPENDENCIES: usize = 8;
/// Most bytes one run spends on dependencies: the envelopes it holds at once plus what it has
/// decoded of them, once per fetch (kept with the envelope, see `Held`; never refunded: a
/// decode's parameter values may live to the end of the run in the parameters it set, and a
/// re-fetch decodes again), the decoded commands' and parameter sets' size included. Two
/// full-size envelopes; integrated payloads, which a decode borrows, count only as held
/// bytes.
pub const MAX_DEPENDENCY_BYTES: usize = 2 * MAX_ENVELOPE_LEN;

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
    /// Counts this set among the run's live ones ([`MAX_LIVE_PARAMETER_SETS`]); a set made
    /// for a component that has none, to read, is not counted (it lives only while read).
    _tally: Option<Tally>,
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

/// One live parameter set of a run: counted while it exists, a copy included.
#[derive(Debug)]
struct Tally(Arc<AtomicUsize>);

impl Tally {
    fn new(live: &Arc<AtomicUsize>) -> Self {
        live.fetch_add(1, Ordering::Relaxed);
        Tally(Arc::clone(live))
    }
}

impl Clone for Tally {
    fn clone(&self) -> Self {
        Tally::new(&self.0)
    }
}

impl Drop for Tally {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
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
    /// Parameter sets alive in `params` and every live snapshot.
    live_parameter_sets: Arc<AtomicUsize>,
    pub(crate) staged: Vec<Staged>,
    /// Dependency envelopes fetched in this run, by their place in the dependency tree (the
    /// dependent's walk and the index): not by identifier, which two dependencies (or a
    /// dependency and its own dependency) may share, so the one checked is the one processed.
    /// A stack: a re-fetch replaces the entry for its place at or above `dependency_floor`,
    /// and adds one otherwise (an entry below is what a snapshot's restore returns to).
    dependencies: Vec<Held>,
    /// Length of `dependencies` when the innermost live snapshot was taken.
    dependency_floor: usize,
    /// Bytes of dependency envelopes decoded in this run, but their integrated payloads (see
    /// [`MAX_DEPENDENCY_BYTES`]).
    dependency_bytes_decoded: usize,
    /// Places (see `dependency_place`) whose held envelope passed dependency-integrity: for
    /// the whole run, as the root's frame keeps them across sections, so a nested dependent
    /// processes a dependency in a later section as the root does. A re-fetch of a place
    /// clears it and the places under it; at most one per held envelope.
    verified_dependencies: Vec<Vec<u64>>,
    /// What is left of [`MAX_STEPS`].
    steps_left: u64,
    /// Bytes charged since the last whole [`CHUNK_LEN`] (see `charge_bytes`).
    byte_carry: usize,
    /// Sequence numbers to store on commit (dependencies), with the signers of the
    /// dependency that set each.
    pub(crate) sequence_updates: Vec<(Vec<u8>, u64, Vec<AnchorId>)>,
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

impl<'x, P: Platform + ?Sized> Machine<'x, P> {
    pub(crate) fn new(platform: &'x mut P, policy: &'x Policy, keys: &'x dyn KeySource) -> Self {
        Machine {
            platform,
            policy,
            keys,
            params: Vec::new(),
            live_parameter_sets: Arc::new(AtomicUsize::new(0)),
            staged: Vec::new(),
            dependencies: Vec::new(),
            dependency_floor: 0,
            dependency_bytes_decoded: 0,
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

    /// What the run spent of [`MAX_DEPENDENCY_BYTES`]: the envelopes held and what was
    /// decoded.
    fn dependency_bytes(&self) -> DependencyBytes {
        DependencyBytes {
            held: self
                .dependencies
                .iter()
                .fold(0, |n, h| n.saturating_add(h.bytes.len())),
            decoded: self.dependency_bytes_decoded,
        }
    }

    /// Drops what only the run's commands needed (the dependency envelopes, every
    /// component's parameters), so the commit does not hold them too.
    pub(crate) fn release_run_memory(&mut self) {
        self.dependencies = Vec::new();
        self.params = Vec::new();
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

    /// [`component_id`] for a command at `path`: an unknown index aborts the procedure.
    fn component_at(frame: &Frame<'_, '_>, path: &[u16], idx: usize) -> Result<ComponentId, Fail> {
        component_id(frame, idx).map_err(|k| Fail::Abort(Self::err(frame, path, Some(idx), k)))
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

    /// The parameters of `id`, to change: copied first if a snapshot or reader shares them.
    fn params_mut(&mut self, id: &ComponentId) -> Result<&mut ComponentParams, CommandErrorKind> {
        let room = self.live_parameter_sets.load(Ordering::Relaxed) < MAX_LIVE_PARAMETER_SETS;
        let pos = match self.params.iter().position(|(c, _)| c == id) {
            Some(p) => p,
            None if self.params.len() >= MAX_RUN_COMPONENTS => {
                return Err(CommandErrorKind::Limit(Words::ComponentsInRun));
            }
            None if !room => return Err(CommandErrorKind::Limit(Words::LiveParameterSets)),
            None => {
                let set = ComponentParams {
                    _tally: Some(Tally::new(&self.live_parameter_sets)),
                    ..ComponentParams::default()
                };
                self.params.push((id.clone(), Arc::new(set)));
                self.params.len() - 1
            }
        };
        // In bounds: a position just found, or the index of the entry just pushed.
        #[allow(clippy::indexing_slicing)]
        let set = &mut self.params[pos].1;
        if Arc::get_mut(set).is_none() && !room {
            return Err(CommandErrorKind::Limit(Words::LiveParameterSets));
        }
        Ok(Arc::make_mut(set))
    }

    /// The parameters of `id` with who set them, shared (no copy).
    fn params_of(&self, id: &ComponentId) -> Arc<ComponentParams> {
        self.params
            .iter()
            .find(|(c, _)| c == id)
            .map(|(_, p)| Arc::clone(p))
            .unwrap_or_default()
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
    /// Its manifest as first decoded after that authentication: every later check and
    /// process-dependency of this fetch uses it, so a dependency is decoded, and charged to
    /// [`MAX_DEPENDENCY_BYTES`], once per fetch however often it is used.
    decoded: Option<Arc<Manifest>>,
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
