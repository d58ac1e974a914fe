//! Typed SUIT command sequences and parameters.
//!
//! Sequences are decoded completely (including nested try-each / run-sequence arguments)
//! before anything runs, so a malformed command deep inside an option is refused up front
//! instead of after half an update has been staged.

use crate::suit::words::Words;
use alloc::boxed::Box;
use alloc::sync::Arc;
use alloc::vec::Vec;

use crate::cbor::{Decoder, Item, SeenKeys};
use crate::registry::{Command as C, Parameter as P};
use crate::suit::digest::Digest;
use crate::suit::error::{CommandErrorKind, ConditionKind, DecodeContext, Error, Unsupported};
use crate::suit::update_management::{self as um, ComponentMetadata, VersionMatch, WaitInfo};

/// Deepest nesting of try-each / run-sequence accepted.
pub const MAX_SEQUENCE_DEPTH: usize = 4;
/// Most commands in one sequence.
pub const MAX_COMMANDS: usize = 64;
/// Most options in one try-each (a trailing nil, the empty fallback, not counted).
pub const MAX_TRY_EACH_OPTIONS: usize = 8;
/// Most commands in one top-level sequence, nested try-each options and run-sequences
/// included. Without it the per-level bounds multiply (64 commands × 8 options, four levels
/// deep); with it a decoded sequence costs at most this many `Command`s, whatever its shape.
pub const MAX_SEQUENCE_COMMANDS: usize = 128;
/// Most custom parameters (negative labels) one SUIT_Parameters map carries and one component
/// holds (device policy). Each is kept per component and merged by label, so without a bound
/// many labels set on every component would cost labels × components in heap and time.
pub const MAX_CUSTOM_PARAMETERS: usize = 16;
/// Most heap one decoded top-level sequence (nested ones included) may hold beyond the bytes
/// it copies (those are at most its encoded length), as [`CommandSequence::decode`]
/// estimates it, every block with its allocator header. A parameter set decodes to ~0.4-4
/// KiB from a few to a few hundred bytes of CBOR (wait-info, component-metadata and version
/// lists expand), so the command count alone bounded 1,152 of them per manifest at ~4.6 MiB
/// (review s33). 9 sequences make at most 288 KiB a manifest.
pub const MAX_SEQUENCE_HEAP: usize = 32 * 1024;
/// What the heap estimate adds per allocation: OP-TEE's block header and rounding.
const BLOCK: usize = 32;
/// Longest suit-parameter-uri accepted (device policy, as suit-reference-uri's bound): the
/// install session hands the REE every URI to fetch in one response
/// (`InstallPrepareResponse`, up to 8 URIs within 64 KiB) and the REE names one in each
/// payload chunk (within the 4 KiB a request has beside its data).
pub const MAX_PARAMETER_URI_LEN: usize = crate::suit::manifest::MAX_REFERENCE_URI_LEN;

/// The argument of set-component-index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IndexArg {
    /// One component.
    One(u64),
    /// Every component (`true`).
    All,
    /// The listed components, in order.
    List(Vec<u64>),
}

/// A vendor identifier: an RFC 4122 UUID or a CBOR PEN (tag 112, relative OID bytes).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VendorId {
    /// 16-byte UUID.
    Uuid([u8; 16]),
    /// IANA Private Enterprise Number as a relative OID (shared: its length is not bounded).
    Pen(Arc<[u8]>),
}

impl VendorId {
    /// The raw identifier bytes (UUID or relative OID).
    pub fn as_bytes(&self) -> &[u8] {
        match self {
            VendorId::Uuid(u) => u,
            VendorId::Pen(p) => p,
        }
    }
}

/// A set of SUIT parameters, as carried by override-/set-parameters and as held per component.
/// Owned: parameters outlive the manifest that set them when dependencies are processed. Values
/// of unbounded size are shared (`Arc`), so setting one on every component, or a try-each or
/// run-sequence keeping the parameters to restore, costs a reference, not a copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Parameters {
    /// suit-parameter-vendor-identifier (1).
    pub vendor_id: Option<VendorId>,
    /// suit-parameter-class-identifier (2).
    pub class_id: Option<[u8; 16]>,
    /// suit-parameter-image-digest (3).
    pub image_digest: Option<Digest>,
    /// suit-parameter-component-slot (5).
    pub component_slot: Option<u64>,
    /// suit-parameter-strict-order (12).
    pub strict_order: Option<bool>,
    /// suit-parameter-soft-failure (13).
    pub soft_failure: Option<bool>,
    /// suit-parameter-image-size (14).
    pub image_size: Option<u64>,
    /// suit-parameter-content (18).
    pub content: Option<Arc<[u8]>>,
    /// suit-parameter-encryption-info (19, firmware encryption): encoded COSE_Encrypt / _Encrypt0.
    pub encryption_info: Option<Arc<[u8]>>,
    /// suit-parameter-uri (21).
    pub uri: Option<Arc<str>>,
    /// suit-parameter-source-component (22).
    pub source_component: Option<u64>,
    /// suit-parameter-invoke-args (23).
    pub invoke_args: Option<Arc<[u8]>>,
    /// suit-parameter-device-identifier (24).
    pub device_id: Option<[u8; 16]>,
    /// suit-parameter-fetch-arguments (25).
    pub fetch_args: Option<Arc<[u8]>>,
    /// suit-parameter-custom (negative labels), encoded values.
    pub custom: Vec<(i64, Arc<[u8]>)>,
    /// suit-parameter-use-before (4, update management): POSIX seconds.
    pub use_before: Option<u64>,
    /// suit-parameter-minimum-battery (26, update management): mWh.
    pub minimum_battery: Option<u64>,
    /// suit-parameter-update-priority (27, update management): smaller = more urgent.
    pub update_priority: Option<i64>,
    /// suit-parameter-version (28, update management); shared, as the lists below are, so
    /// that a component's parameter set is copied without its lists (a try-each snapshot
    /// keeps the set it replaces).
    pub version: Option<Arc<VersionMatch>>,
    /// suit-parameter-wait-info (29, update management).
    pub wait_info: Option<Arc<WaitInfo>>,
    /// suit-parameter-component-metadata (30, update management); behind a pointer so that
    /// commands (and the budget of decoded commands) stay small when it is absent, shared as
    /// the other values of unbounded size are.
    pub component_metadata: Option<Arc<ComponentMetadata>>,
}

impl Parameters {
    /// Heap this parameter set holds beyond its own size and the bytes it copied (at most
    /// their encoded length, bounded with the envelope): an upper estimate, [`BLOCK`] per
    /// allocation, of what grows faster than the CBOR (shared values' headers, custom
    /// labels, version, wait-info and metadata lists).
    pub(crate) fn heap_size(&self) -> usize {
        use core::mem::size_of;
        let shared = |_len: usize| BLOCK + 2 * size_of::<usize>();
        let version = |v: &VersionMatch| BLOCK + v.value.capacity() * size_of::<i64>();
        let arc = |inner: usize| BLOCK + 2 * size_of::<usize>() + inner;
        let actor = |a: &um::ActorId| match a {
            um::ActorId::Uuid(_) | um::ActorId::Bytes(_) | um::ActorId::Text(_) => BLOCK,
            um::ActorId::Int(_) => 0,
        };
        let mut n = [
            self.content.as_deref(),
            self.encryption_info.as_deref(),
            self.invoke_args.as_deref(),
            self.fetch_args.as_deref(),
            match &self.vendor_id {
                Some(VendorId::Pen(p)) => Some(&p[..]),
                _ => None,
            },
        ]
        .into_iter()
        .flatten()
        .fold(0usize, |n, v| n.saturating_add(shared(v.len())));
        n = n.saturating_add(self.uri.as_deref().map_or(0, |u| shared(u.len())));
        if self.custom.capacity() > 0 {
            n = self.custom.iter().fold(
                n.saturating_add(BLOCK + self.custom.capacity() * size_of::<(i64, Arc<[u8]>)>()),
                |n, (_, v)| n.saturating_add(shared(v.len())),
            );
        }
        n = n.saturating_add(
            self.version
                .as_ref()
                .map_or(0, |v| arc(size_of::<VersionMatch>()) + version(v)),
        );
        if let Some(w) = &self.wait_info {
            n = n.saturating_add(
                arc(size_of::<WaitInfo>())
                    + BLOCK
                    + w.events.capacity() * size_of::<um::WaitEvent>(),
            );
            for e in &w.events {
                if let um::WaitEvent::OtherDeviceVersion { device, versions } = e {
                    n = versions.iter().fold(
                        n.saturating_add(
                            BLOCK
                                + usize::from(device.capacity() > 0) * BLOCK
                                + versions.capacity() * size_of::<VersionMatch>(),
                        ),
                        |n, v| n.saturating_add(version(v)),
                    );
                }
            }
        }
        if let Some(m) = &self.component_metadata {
            n = n.saturating_add(shared(size_of::<um::ComponentMetadata>()));
            for list in [
                &m.user_permissions,
                &m.group_permissions,
                &m.role_permissions,
            ] {
                n = list.iter().fold(
                    n.saturating_add(BLOCK + list.capacity() * size_of::<(um::ActorId, u64)>()),
                    |n, (a, _)| n.saturating_add(actor(a)),
                );
            }
            n = n.saturating_add(m.creator.as_ref().map_or(0, actor));
        }
        n
    }

    /// Applies `other` on top of `self`: with `overwrite`, every parameter in `other` replaces
    /// the current value (override-parameters); without, only unset ones are filled
    /// (set-parameters, trust domains).
    ///
    /// Refused, changing nothing, if the component would then hold more than
    /// [`MAX_CUSTOM_PARAMETERS`] custom labels.
    pub fn apply(&mut self, other: &Parameters, overwrite: bool) -> Result<(), CommandErrorKind> {
        self.custom_room(other.custom.iter().map(|(k, _)| *k))?;
        fn put<T: Clone>(dst: &mut Option<T>, src: &Option<T>, overwrite: bool) {
            if let Some(v) = src {
                if overwrite || dst.is_none() {
                    *dst = Some(v.clone());
                }
            }
        }
        put(&mut self.vendor_id, &other.vendor_id, overwrite);
        put(&mut self.class_id, &other.class_id, overwrite);
        put(&mut self.image_digest, &other.image_digest, overwrite);
        put(&mut self.component_slot, &other.component_slot, overwrite);
        put(&mut self.strict_order, &other.strict_order, overwrite);
        put(&mut self.image_size, &other.image_size, overwrite);
        put(&mut self.content, &other.content, overwrite);
        put(&mut self.encryption_info, &other.encryption_info, overwrite);
        put(&mut self.uri, &other.uri, overwrite);
        put(
            &mut self.source_component,
            &other.source_component,
            overwrite,
        );
        put(&mut self.invoke_args, &other.invoke_args, overwrite);
        put(&mut self.device_id, &other.device_id, overwrite);
        put(&mut self.fetch_args, &other.fetch_args, overwrite);
        put(&mut self.use_before, &other.use_before, overwrite);
        put(&mut self.minimum_battery, &other.minimum_battery, overwrite);
        put(&mut self.update_priority, &other.update_priority, overwrite);
        put(&mut self.version, &other.version, overwrite);
        put(&mut self.wait_info, &other.wait_info, overwrite);
        put(
            &mut self.component_metadata,
            &other.component_metadata,
            overwrite,
        );
        for (k, v) in &other.custom {
            match self.custom.iter_mut().find(|(key, _)| key == k) {
                Some(slot) if overwrite => slot.1 = Arc::clone(v),
                Some(_) => {}
                None => self.custom.push((*k, Arc::clone(v))),
            }
        }
        // soft-failure is interpreter state, not a component parameter (see interpreter).
        Ok(())
    }

    /// Refuses custom `labels` that would leave this component holding more than
    /// [`MAX_CUSTOM_PARAMETERS`]: counted before anything changes, each label once.
    fn custom_room(
        &self,
        labels: impl Iterator<Item = i64> + Clone,
    ) -> Result<(), CommandErrorKind> {
        let mut held = self.custom.len();
        for (i, l) in labels.clone().enumerate() {
            let known = self.custom.iter().any(|(k, _)| *k == l);
            if !known && !labels.clone().take(i).any(|e| e == l) {
                held = held.saturating_add(1);
            }
        }
        if held > MAX_CUSTOM_PARAMETERS {
            return Err(CommandErrorKind::Limit(Words::CustomParameters));
        }
        Ok(())
    }

    /// Copies the parameters labelled `labels` from `src` (suit-directive-copy-params): like
    /// override-parameters with the source's values, so a label the source has no value for
    /// leaves the current value as it is. Refused, changing nothing, past
    /// [`MAX_CUSTOM_PARAMETERS`] as [`Self::apply`] is.
    pub(crate) fn copy_from(
        &mut self,
        src: &Parameters,
        labels: &[i64],
    ) -> Result<(), CommandErrorKind> {
        let copied = |l: &i64| src.custom.iter().any(|(k, _)| k == l);
        self.custom_room(labels.iter().copied().filter(|l| copied(l)))?;
        fn put<T: Clone>(dst: &mut Option<T>, src: &Option<T>) {
            if let Some(v) = src {
                *dst = Some(v.clone());
            }
        }
        for l in labels {
            match P::from_value(*l) {
                Some(P::VendorIdentifier) => put(&mut self.vendor_id, &src.vendor_id),
                Some(P::ClassIdentifier) => put(&mut self.class_id, &src.class_id),
                Some(P::ImageDigest) => put(&mut self.image_digest, &src.image_digest),
                Some(P::UseBefore) => put(&mut self.use_before, &src.use_before),
                Some(P::ComponentSlot) => put(&mut self.component_slot, &src.component_slot),
                Some(P::StrictOrder) => put(&mut self.strict_order, &src.strict_order),
                Some(P::ImageSize) => put(&mut self.image_size, &src.image_size),
                Some(P::Content) => put(&mut self.content, &src.content),
                Some(P::EncryptionInfo) => put(&mut self.encryption_info, &src.encryption_info),
                Some(P::Uri) => put(&mut self.uri, &src.uri),
                Some(P::SourceComponent) => put(&mut self.source_component, &src.source_component),
                Some(P::InvokeArgs) => put(&mut self.invoke_args, &src.invoke_args),
                Some(P::DeviceIdentifier) => put(&mut self.device_id, &src.device_id),
                Some(P::FetchArguments) => put(&mut self.fetch_args, &src.fetch_args),
                Some(P::MinimumBattery) => put(&mut self.minimum_battery, &src.minimum_battery),
                Some(P::UpdatePriority) => put(&mut self.update_priority, &src.update_priority),
                Some(P::Version) => put(&mut self.version, &src.version),
                Some(P::WaitInfo) => put(&mut self.wait_info, &src.wait_info),
                Some(P::ComponentMetadata) => {
                    put(&mut self.component_metadata, &src.component_metadata)
                }
                None if *l < 0 => {
                    let k = l;
                    if let Some((_, v)) = src.custom.iter().find(|(key, _)| key == k) {
                        let v = Arc::clone(v);
                        match self.custom.iter_mut().find(|(key, _)| key == k) {
                            Some(slot) => slot.1 = v,
                            None => self.custom.push((*k, v)),
                        }
                    }
                }
                // check_copyable refused every other label at decode time.
                _ => {}
            }
        }
        Ok(())
    }

    /// Whether copy-params may name `label`: a parameter this engine knows, other than
    /// soft-failure (interpreter state, not a component parameter).
    pub(crate) fn check_copyable(label: i64) -> Result<(), Error> {
        match P::from_value(label) {
            Some(P::SoftFailure) => Err(Error::Invalid {
                at: Words::SuitDirectiveCopyParams,
                reason: Words::SoftFailureNotCopyable,
            }),
            Some(_) => Ok(()),
            None if label < 0 => Ok(()),
            None => Err(Error::Unsupported(Unsupported::Parameter(label))),
        }
    }

    pub(crate) fn decode(dec: &mut Decoder<'_>) -> Result<Self, Error> {
        const AT: Words = Words::SuitParameters;
        let n = dec.map().at(AT)?;
        let mut p = Parameters::default();
        let mut seen = SeenKeys::default();
        for _ in 0..n {
            let off = dec.position();
            let key = dec.int().at(AT)?;
            seen.insert(key, off).at(AT)?;
            match P::from_value(key) {
                Some(P::VendorIdentifier) => {
                    p.vendor_id = Some(if dec.optional_tag(112).at(AT)? {
                        VendorId::Pen(dec.bytes().at(AT)?.into())
                    } else {
                        VendorId::Uuid(uuid(dec.bytes().at(AT)?)?)
                    })
                }
                Some(P::ClassIdentifier) => p.class_id = Some(uuid(dec.bytes().at(AT)?)?),
                Some(P::ImageDigest) => {
                    let inner = dec.bytes().at(AT)?;
                    p.image_digest = Some(Digest::decode_all(inner)?);
                }
                Some(P::ComponentSlot) => p.component_slot = Some(dec.uint().at(AT)?),
                Some(P::StrictOrder) => p.strict_order = Some(dec.bool().at(AT)?),
                Some(P::SoftFailure) => p.soft_failure = Some(dec.bool().at(AT)?),
                Some(P::ImageSize) => p.image_size = Some(dec.uint().at(AT)?),
                Some(P::Content) => p.content = Some(dec.bytes().at(AT)?.into()),
                Some(P::EncryptionInfo) => {
                    let inner = dec.bytes().at(AT)?;
                    // A COSE_Encrypt: its header values are `any`, floats included.
                    crate::cbor::check_well_formed_any(inner).at(Words::SuitEncryptionInfo)?;
                    p.encryption_info = Some(inner.into());
                }
                Some(P::Uri) => {
                    let uri = dec.text().at(AT)?;
                    if uri.len() > MAX_PARAMETER_URI_LEN {
                        return Err(Error::Limit(Words::SuitParameterUriLength));
                    }
                    p.uri = Some(uri.into());
                }
                Some(P::SourceComponent) => p.source_component = Some(dec.uint().at(AT)?),
                Some(P::InvokeArgs) => p.invoke_args = Some(dec.bytes().at(AT)?.into()),
                Some(P::DeviceIdentifier) => p.device_id = Some(uuid(dec.bytes().at(AT)?)?),
                Some(P::FetchArguments) => p.fetch_args = Some(dec.bytes().at(AT)?.into()),
                Some(P::UseBefore) => p.use_before = Some(dec.uint().at(AT)?),
                Some(P::MinimumBattery) => p.minimum_battery = Some(dec.uint().at(AT)?),
                Some(P::UpdatePriority) => p.update_priority = Some(dec.int().at(AT)?),
                Some(P::Version) => {
                    p.version = Some(Arc::new(VersionMatch::decode_all(dec.bytes().at(AT)?)?))
                }
                Some(P::WaitInfo) => {
                    p.wait_info = Some(Arc::new(WaitInfo::decode_all(dec.bytes().at(AT)?)?))
                }
                Some(P::ComponentMetadata) => {
                    p.component_metadata = Some(Arc::new(ComponentMetadata::decode_all(
                        dec.bytes().at(AT)?,
                    )?))
                }
                None if key < 0 => {
                    if p.custom.len() >= MAX_CUSTOM_PARAMETERS {
                        return Err(Error::Limit(Words::CustomParameters));
                    }
                    let raw = dec.skip().at(AT)?;
                    p.custom.push((key, raw.into()));
                }
                None => return Err(Error::Unsupported(Unsupported::Parameter(key))),
            }
        }
        Ok(p)
    }
}

fn uuid(b: &[u8]) -> Result<[u8; 16], Error> {
    b.try_into().map_err(|_| Error::Invalid {
        at: Words::Rfc4122Uuid,
        reason: Words::MustBe16Bytes,
    })
}

/// Directives that take a reporting policy and act on the current component(s).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// suit-directive-write (18).
    Write,
    /// suit-directive-fetch (21).
    Fetch,
    /// suit-directive-copy (22).
    Copy,
    /// suit-directive-invoke (23).
    Invoke,
    /// suit-directive-swap (31).
    Swap,
    /// suit-directive-process-dependency (11, trust domains).
    ProcessDependency,
    /// suit-directive-unlink (33, trust domains).
    Unlink,
    /// suit-directive-wait (29, update management).
    Wait,
}

/// One command of a sequence.
#[derive(Debug, Clone, PartialEq)]
pub enum Command {
    /// A condition with its reporting policy.
    Condition(ConditionKind, u64),
    /// suit-directive-set-component-index (12).
    SetComponentIndex(IndexArg),
    /// suit-directive-override-parameters (20). Boxed, as in set-parameters: a parameter set
    /// is ~360 bytes, and inline it would make every command of a decoded sequence that size.
    OverrideParameters(Box<Parameters>),
    /// suit-directive-set-parameters (19, trust domains).
    SetParameters(Box<Parameters>),
    /// suit-directive-try-each (15); `empty_fallback` is the trailing `nil`.
    TryEach {
        /// The alternatives, tried in order.
        options: Vec<CommandSequence>,
        /// A trailing nil: succeed even if every option fails.
        empty_fallback: bool,
    },
    /// suit-directive-run-sequence (32).
    RunSequence(CommandSequence),
    /// A directive acting on the current component(s), with its reporting policy.
    Action(Action, u64),
    /// suit-command-custom (negative label) with its encoded argument.
    Custom(i64, Vec<u8>),
    /// suit-directive-override-multiple (34, update management): per component index, the
    /// parameters to override, in encoded order.
    OverrideMultiple(Vec<(u64, Parameters)>),
    /// suit-directive-copy-params (35, update management): per source component index, the
    /// parameter labels to copy into the current component(s).
    CopyParams(Vec<(u64, Vec<i64>)>),
}

/// What a top-level sequence's decode may still make: commands ([`MAX_SEQUENCE_COMMANDS`])
/// and heap ([`MAX_SEQUENCE_HEAP`]), nested sequences included.
struct Budget {
    commands: usize,
    heap: usize,
}

impl Budget {
    /// Takes the component entries of an override-multiple or copy-params beyond its first
    /// (the command itself is already counted).
    fn take_entries(&mut self, entries: usize) -> Result<(), Error> {
        self.commands = self
            .commands
            .checked_sub(entries.saturating_sub(1))
            .ok_or(Error::Limit(Words::CommandsNestedIncluded))?;
        Ok(())
    }

    /// Takes `bytes` of decoded heap: at most one command's past the bound before it is
    /// refused.
    fn take_heap(&mut self, bytes: usize) -> Result<(), Error> {
        self.heap = self
            .heap
            .checked_sub(bytes)
            .ok_or(Error::Limit(Words::DecodedSequenceHeap))?;
        Ok(())
    }
}

/// Heap of a `Vec` of `capacity` `T`s.
fn vec_heap<T>(capacity: usize) -> usize {
    if capacity == 0 {
        0
    } else {
        BLOCK + capacity * core::mem::size_of::<T>()
    }
}

/// Heap one decoded command holds itself, nested sequences not included.
fn own_heap(c: &Command) -> usize {
    use core::mem::size_of;
    match c {
        Command::OverrideParameters(p) | Command::SetParameters(p) => {
            BLOCK + size_of::<Parameters>() + p.heap_size()
        }
        Command::OverrideMultiple(list) => list.iter().fold(
            vec_heap::<(u64, Parameters)>(list.capacity()),
            |n, (_, p)| n.saturating_add(p.heap_size()),
        ),
        Command::CopyParams(list) => list.iter().fold(
            vec_heap::<(u64, Vec<i64>)>(list.capacity()),
            |n, (_, labels)| n.saturating_add(vec_heap::<i64>(labels.capacity())),
        ),
        Command::SetComponentIndex(IndexArg::List(v)) => vec_heap::<u64>(v.capacity()),
        Command::Custom(_, arg) => usize::from(arg.capacity() > 0) * BLOCK,
        Command::TryEach { options, .. } => vec_heap::<CommandSequence>(options.capacity()),
        Command::Condition(..)
        | Command::SetComponentIndex(_)
        | Command::Action(..)
        | Command::RunSequence(_) => 0,
    }
}

/// A decoded SUIT_Command_Sequence.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CommandSequence {
    /// The commands, in order.
    pub commands: Vec<Command>,
    /// Byte offset of each command's label in its top-level section sequence, nested
    /// sequences included (suit-record-section-offset of the report draft).
    pub offsets: Vec<u32>,
}

impl CommandSequence {
    /// Decodes a sequence from its (bstr-unwrapped) bytes. `shared` applies the rules of the
    /// shared sequence: only conditions and parameter / control-flow commands, so it can have
    /// no side effect outside parameters.
    pub(crate) fn decode(bytes: &[u8], shared: bool) -> Result<Self, Error> {
        let mut budget = Budget {
            commands: MAX_SEQUENCE_COMMANDS,
            heap: MAX_SEQUENCE_HEAP,
        };
        Self::decode_nested(bytes, shared, 0, &mut budget, 0)
    }

    fn decode_nested(
        bytes: &[u8],
        shared: bool,
        depth: usize,
        budget: &mut Budget,
        base: u32,
    ) -> Result<Self, Error> {
        let mut dec = Decoder::new(bytes);
        let seq = Self::decode_at(&mut dec, shared, depth, budget, base)?;
        dec.finish().at(Words::SuitCommandSequence)?;
        Ok(seq)
    }

    fn decode_at(
        dec: &mut Decoder<'_>,
        shared: bool,
        depth: usize,
        budget: &mut Budget,
        base: u32,
    ) -> Result<Self, Error> {
        // Where a nested sequence's bytes start, relative to the top-level sequence.
        let inner_base = |dec: &Decoder<'_>, inner: &[u8]| -> Result<u32, Error> {
            dec.position()
                .checked_sub(inner.len())
                .and_then(|p| u32::try_from(p).ok())
                .and_then(|p| base.checked_add(p))
                .ok_or(Error::Limit(Words::CommandSequenceOffset))
        };
        const AT: Words = Words::SuitCommandSequence;
        if depth > MAX_SEQUENCE_DEPTH {
            return Err(Error::Limit(Words::CommandSequenceNesting));
        }
        let n = dec.array().at(AT)?;
        if n % 2 != 0 {
            return Err(Error::Invalid {
                at: AT,
                reason: Words::OddCommandElements,
            });
        }
        if n / 2 > MAX_COMMANDS {
            return Err(Error::Limit(Words::CommandsPerSequence));
        }
        // Reserve the whole budget share up front: a declared count is not yet proven.
        budget.commands = budget
            .commands
            .checked_sub(n / 2)
            .ok_or(Error::Limit(Words::CommandsNestedIncluded))?;
        budget.take_heap(vec_heap::<Command>(n / 2) + vec_heap::<u32>(n / 2))?;
        let mut commands = Vec::with_capacity(n / 2);
        let mut offsets = Vec::with_capacity(n / 2);
        for _ in 0..n / 2 {
            let at = u32::try_from(dec.position())
                .ok()
                .and_then(|p| base.checked_add(p))
                .ok_or(Error::Limit(Words::CommandSequenceOffset))?;
            let label = dec.int().at(AT)?;
            let known = C::from_value(label);
            let cmd = if let Some(kind) = known.and_then(C::condition) {
                Command::Condition(kind, dec.uint().at(AT)?)
            } else {
                match known {
                    Some(C::SetComponentIndex) => Command::SetComponentIndex(decode_index(dec)?),
                    Some(C::SetParameters) => {
                        Command::SetParameters(Box::new(Parameters::decode(dec)?))
                    }
                    Some(C::OverrideParameters) => {
                        Command::OverrideParameters(Box::new(Parameters::decode(dec)?))
                    }
                    Some(C::TryEach) => {
                        let m = dec.array().at(AT)?;
                        if m == 0 || m > MAX_TRY_EACH_OPTIONS + 1 {
                            return Err(Error::Limit(Words::TryEachOptions));
                        }
                        let mut options = Vec::with_capacity(m);
                        let mut empty_fallback = false;
                        for i in 0..m {
                            if i + 1 == m && dec.null().at(AT)? {
                                empty_fallback = true;
                                break;
                            }
                            if options.len() == MAX_TRY_EACH_OPTIONS {
                                return Err(Error::Limit(Words::TryEachOptions));
                            }
                            let inner = dec.bytes().at(AT)?;
                            let b = inner_base(dec, inner)?;
                            options.push(Self::decode_nested(inner, shared, depth + 1, budget, b)?);
                        }
                        Command::TryEach {
                            options,
                            empty_fallback,
                        }
                    }
                    Some(C::RunSequence) => {
                        let inner = dec.bytes().at(AT)?;
                        let b = inner_base(dec, inner)?;
                        Command::RunSequence(Self::decode_nested(
                            inner,
                            shared,
                            depth + 1,
                            budget,
                            b,
                        )?)
                    }
                    Some(C::Write) => Command::Action(Action::Write, dec.uint().at(AT)?),
                    Some(C::Fetch) => Command::Action(Action::Fetch, dec.uint().at(AT)?),
                    Some(C::Copy) => Command::Action(Action::Copy, dec.uint().at(AT)?),
                    Some(C::Invoke) => Command::Action(Action::Invoke, dec.uint().at(AT)?),
                    Some(C::Swap) => Command::Action(Action::Swap, dec.uint().at(AT)?),
                    Some(C::ProcessDependency) => {
                        Command::Action(Action::ProcessDependency, dec.uint().at(AT)?)
                    }
                    Some(C::Unlink) => Command::Action(Action::Unlink, dec.uint().at(AT)?),
                    Some(C::Wait) => Command::Action(Action::Wait, dec.uint().at(AT)?),
                    // Each component entry takes a command of the budget: an entry is a
                    // parameter set (or label list) made from a few bytes, like a command.
                    Some(C::OverrideMultiple) => {
                        let list = um::decode_override_multiple(dec)?;
                        budget.take_entries(list.len())?;
                        Command::OverrideMultiple(list)
                    }
                    Some(C::CopyParams) => {
                        let list = um::decode_copy_params(dec)?;
                        budget.take_entries(list.len())?;
                        Command::CopyParams(list)
                    }
                    None if label < 0 => {
                        let arg = dec.skip().at(AT)?;
                        Command::Custom(label, arg.to_vec())
                    }
                    // Unknown labels; the conditions were handled above.
                    _ => return Err(Error::Unsupported(Unsupported::Command(label))),
                }
            };
            if shared && !allowed_in_shared(&cmd) {
                return Err(Error::Invalid {
                    at: Words::SuitSharedSequence,
                    reason: Words::OnlyConditionsAndControl,
                });
            }
            if shared && sets_custom(&cmd) {
                return Err(Error::Invalid {
                    at: Words::SuitSharedSequence,
                    reason: Words::CustomParameterInShared,
                });
            }
            budget.take_heap(own_heap(&cmd))?;
            commands.push(cmd);
            offsets.push(at);
        }
        Ok(CommandSequence { commands, offsets })
    }

    /// Heap the decoded sequence holds beyond the bytes it copied, nested sequences included
    /// (the estimate [`MAX_SEQUENCE_HEAP`] bounds).
    pub(crate) fn decoded_size(&self) -> usize {
        self.commands.iter().fold(
            vec_heap::<Command>(self.commands.capacity())
                + vec_heap::<u32>(self.offsets.capacity()),
            |n, c| {
                let nested = match c {
                    Command::TryEach { options, .. } => options
                        .iter()
                        .fold(0usize, |n, o| n.saturating_add(o.decoded_size())),
                    Command::RunSequence(s) => s.decoded_size(),
                    _ => 0,
                };
                n.saturating_add(own_heap(c)).saturating_add(nested)
            },
        )
    }

    /// Calls `f` on every parameter set in this sequence and in nested sequences.
    pub(crate) fn for_each_parameters(&self, f: &mut dyn FnMut(&Parameters)) {
        for c in &self.commands {
            match c {
                Command::OverrideParameters(p) | Command::SetParameters(p) => f(p),
                Command::OverrideMultiple(list) => {
                    for (_, p) in list {
                        f(p)
                    }
                }
                Command::TryEach { options, .. } => {
                    for o in options {
                        o.for_each_parameters(f)
                    }
                }
                Command::RunSequence(s) => s.for_each_parameters(f),
                _ => {}
            }
        }
    }
}

fn allowed_in_shared(cmd: &Command) -> bool {
    matches!(
        cmd,
        Command::Condition(..)
            | Command::SetComponentIndex(_)
            | Command::OverrideParameters(_)
            | Command::SetParameters(_)
            | Command::TryEach { .. }
            | Command::RunSequence(_)
            | Command::OverrideMultiple(_)
            | Command::CopyParams(_)
    )
}

/// Whether `cmd` sets or copies a custom parameter, which "MUST NOT be used in the shared
/// sequence" (manifest-37 suit-parameter-custom): there it would reach devices of any vendor
/// and class before their identifiers are checked. Nested sequences are checked as decoded.
fn sets_custom(cmd: &Command) -> bool {
    match cmd {
        Command::OverrideParameters(p) | Command::SetParameters(p) => !p.custom.is_empty(),
        Command::OverrideMultiple(list) => list.iter().any(|(_, p)| !p.custom.is_empty()),
        Command::CopyParams(list) => list.iter().any(|(_, l)| l.iter().any(|l| *l < 0)),
        _ => false,
    }
}

fn decode_index(dec: &mut Decoder<'_>) -> Result<IndexArg, Error> {
    const AT: Words = Words::IndexArg;
    match dec.item().at(AT)? {
        Item::Uint(i) => Ok(IndexArg::One(i)),
        Item::Bool(true) => Ok(IndexArg::All),
        Item::Array(n) if n > 0 => {
            let mut v: Vec<u64> = Vec::with_capacity(n);
            for _ in 0..n {
                let i = dec.uint().at(AT)?;
                // Device policy: each listed component once. A repeat would run try-each and
                // run-sequence again on the same component, and nested lists multiply the runs.
                if v.contains(&i) {
                    return Err(Error::Invalid {
                        at: AT,
                        reason: Words::IndexRepeated,
                    });
                }
                v.push(i);
            }
            Ok(IndexArg::List(v))
        }
        _ => Err(Error::Invalid {
            at: AT,
            reason: Words::IndexArgShape,
        }),
    }
}
