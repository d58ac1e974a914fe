//! SUIT update-management extensions (draft-ietf-suit-update-management-14): version,
//! use-before, minimum-battery, update-priority / update-authorized, image-not-match, wait,
//! override-multiple, copy-params, component metadata, suit-set-version and suit-coswid.
//!
//! The draft's conditions ask the device about the world (time, battery, the user, installed
//! versions). The engine never guesses: every answer comes from a [`Platform`] hook whose
//! default is "unknown", and "unknown" makes the condition *fail* with a typed
//! [`UmError`] unless the device's [`UpdateManagementPolicy`] explicitly says otherwise.
//! Waiting is bounded by the policy ([`UpdateManagementPolicy::max_wait_seconds`]), so a
//! manifest cannot hang a device; an event that has not happened within the bound aborts the
//! update (the draft lets an implementation abort and retry later).

use crate::suit::words::Words;
use alloc::string::String;
use alloc::vec::Vec;
use core::cmp::Ordering;

use crate::cbor::{Decoder, Item, SeenKeys};
use crate::suit::command::{Command, CommandSequence, Parameters};
use crate::suit::component::ComponentId;
use crate::suit::error::{CommandErrorKind, ConditionKind, DecodeContext, Error, ParameterKind};
use crate::suit::platform::{Platform, PlatformError};

/// Most integers in a version (release 1-3, pre-release class and numbers: 8 is ample).
pub const MAX_VERSION_INTS: usize = 8;
/// Most SUIT_Parameter_Version_Match entries of an other-device-version wait event.
pub const MAX_OTHER_DEVICE_VERSIONS: usize = 4;
/// Longest other-device identifier, actor identifier or metadata text accepted.
pub const MAX_METADATA_BYTES: usize = 256;
/// Most actors in one permission map.
pub const MAX_PERMISSION_ENTRIES: usize = 16;
/// Most components named in one override-multiple / copy-params argument.
pub const MAX_MULTI_COMPONENTS: usize = 16;
/// Most parameter labels one copy-params entry may list.
pub const MAX_COPY_LABELS: usize = 32;

/// suit-condition-version-comparison-types (draft §4.4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Comparison {
    /// 1: the component's version is greater.
    Greater,
    /// 2: greater or equal.
    GreaterEqual,
    /// 3: equal (on the integers the manifest gives).
    Equal,
    /// 4: lesser or equal.
    LesserEqual,
    /// 5: lesser.
    Lesser,
}

impl Comparison {
    /// The draft's label.
    pub fn label(self) -> u64 {
        match self {
            Comparison::Greater => 1,
            Comparison::GreaterEqual => 2,
            Comparison::Equal => 3,
            Comparison::LesserEqual => 4,
            Comparison::Lesser => 5,
        }
    }

    /// The operator the draft's suit-text-version-required uses (`>`, `>=`, `=`, `<=`, `<`).
    pub fn symbol(self) -> &'static str {
        match self {
            Comparison::Greater => ">",
            Comparison::GreaterEqual => ">=",
            Comparison::Equal => "=",
            Comparison::LesserEqual => "<=",
            Comparison::Lesser => "<",
        }
    }

    fn from_label(l: u64) -> Option<Self> {
        Some(match l {
            1 => Comparison::Greater,
            2 => Comparison::GreaterEqual,
            3 => Comparison::Equal,
            4 => Comparison::LesserEqual,
            5 => Comparison::Lesser,
            _ => return None,
        })
    }
}

/// SUIT_Parameter_Version_Match: `[comparison-type, [+int]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionMatch {
    /// How the component's version must relate to `value`.
    pub comparison: Comparison,
    /// SUIT_Condition_Version_Comparison_Value.
    pub value: Vec<i64>,
}

/// Compares a component's `current` version with the manifest's `wanted` one, the draft's
/// way: integer by integer, stopping once every integer of `wanted` was consumed or at the
/// first difference. A current version shorter than `wanted` reads as zeros beyond its end
/// (2.0 = 2.0.0, and 2.0.0-rc1 = `[2,0,0,-1,1]` stays below 2.0.0).
pub fn compare_versions(current: &[i64], wanted: &[i64]) -> Ordering {
    for (i, w) in wanted.iter().enumerate() {
        let c = current.get(i).copied().unwrap_or(0);
        match c.cmp(w) {
            Ordering::Equal => continue,
            o => return o,
        }
    }
    Ordering::Equal
}

impl VersionMatch {
    /// Whether `current` satisfies this match.
    pub fn matches(&self, current: &[i64]) -> bool {
        let o = compare_versions(current, &self.value);
        match self.comparison {
            Comparison::Greater => o == Ordering::Greater,
            Comparison::GreaterEqual => o != Ordering::Less,
            Comparison::Equal => o == Ordering::Equal,
            Comparison::LesserEqual => o != Ordering::Greater,
            Comparison::Lesser => o == Ordering::Less,
        }
    }

    /// Decodes the array (not its bstr wrapper).
    pub(crate) fn decode_at(dec: &mut Decoder<'_>) -> Result<Self, Error> {
        const AT: Words = Words::SuitParameterVersionMatch;
        if dec.array().at(AT)? != 2 {
            return Err(Error::Invalid {
                at: AT,
                reason: Words::VersionMatchShape,
            });
        }
        let comparison = Comparison::from_label(dec.uint().at(AT)?).ok_or(Error::Invalid {
            at: AT,
            reason: Words::ComparisonTypeRange,
        })?;
        let value = decode_version_value(dec)?;
        Ok(VersionMatch { comparison, value })
    }

    /// Decodes `bstr .cbor SUIT_Parameter_Version_Match` content.
    pub(crate) fn decode_all(bytes: &[u8]) -> Result<Self, Error> {
        let mut dec = Decoder::new(bytes);
        let m = Self::decode_at(&mut dec)?;
        dec.finish().at(Words::SuitParameterVersionMatch)?;
        Ok(m)
    }
}

/// SUIT_Condition_Version_Comparison_Value: `[+int]`, at most [`MAX_VERSION_INTS`].
pub(crate) fn decode_version_value(dec: &mut Decoder<'_>) -> Result<Vec<i64>, Error> {
    const AT: Words = Words::SuitConditionVersionComparisonValue;
    let n = dec.array().at(AT)?;
    if n == 0 {
        return Err(Error::Invalid {
            at: AT,
            reason: Words::VersionNeedsInteger,
        });
    }
    if n > MAX_VERSION_INTS {
        return Err(Error::Limit(Words::IntegersInAVersion));
    }
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(dec.int().at(AT)?);
    }
    Ok(v)
}

/// Decodes `bstr .cbor SUIT_Condition_Version_Comparison_Value` content (suit-set-version).
pub(crate) fn decode_set_version(bytes: &[u8]) -> Result<Vec<i64>, Error> {
    let mut dec = Decoder::new(bytes);
    let v = decode_version_value(&mut dec)?;
    dec.finish().at(Words::SuitSetVersion)?;
    Ok(v)
}

/// Kinds of SUIT_Wait_Events (labels of draft §4.5): the registry's entries.
pub use crate::registry::WaitEventKind;

/// One wait event with its argument.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitEvent {
    /// Authorization at this update priority (same meaning as suit-parameter-update-priority).
    Authorization(i64),
    /// A power state (deployment-defined values).
    Power(i64),
    /// A network state (deployment-defined values).
    Network(i64),
    /// Another device (deployment-defined identifier) matching every version match.
    OtherDeviceVersion {
        /// Opaque identifier of the other device.
        device: Vec<u8>,
        /// All must match.
        versions: Vec<VersionMatch>,
    },
    /// Until this POSIX time (seconds since 1970-01-01 UTC).
    Time(u64),
    /// Until this many seconds after local midnight.
    TimeOfDay(u64),
    /// Until this many days after Sunday, local time.
    DayOfWeek(u64),
    /// Until this many seconds after midnight UTC.
    TimeOfDayUtc(u64),
    /// Until this many days after Sunday, UTC.
    DayOfWeekUtc(u64),
}

impl WaitEvent {
    /// Its kind.
    pub fn kind(&self) -> WaitEventKind {
        match self {
            WaitEvent::Authorization(_) => WaitEventKind::Authorization,
            WaitEvent::Power(_) => WaitEventKind::Power,
            WaitEvent::Network(_) => WaitEventKind::Network,
            WaitEvent::OtherDeviceVersion { .. } => WaitEventKind::OtherDeviceVersion,
            WaitEvent::Time(_) => WaitEventKind::Time,
            WaitEvent::TimeOfDay(_) => WaitEventKind::TimeOfDay,
            WaitEvent::DayOfWeek(_) => WaitEventKind::DayOfWeek,
            WaitEvent::TimeOfDayUtc(_) => WaitEventKind::TimeOfDayUtc,
            WaitEvent::DayOfWeekUtc(_) => WaitEventKind::DayOfWeekUtc,
        }
    }
}

/// suit-parameter-wait-info: SUIT_Wait_Event, every event of which must be satisfied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitInfo {
    /// In encoded (canonical) order.
    pub events: Vec<WaitEvent>,
}

impl WaitInfo {
    /// Decodes `bstr .cbor SUIT_Wait_Event` content.
    pub(crate) fn decode_all(bytes: &[u8]) -> Result<Self, Error> {
        const AT: Words = Words::SuitWaitEvent;
        let mut dec = Decoder::new(bytes);
        let n = dec.map().at(AT)?;
        if n == 0 {
            return Err(Error::Invalid {
                at: AT,
                reason: Words::NeedsAtLeastOneWaitEvent,
            });
        }
        // Nine labels exist and keys are unique: more entries cannot be valid.
        if n > 9 {
            return Err(Error::Limit(Words::WaitEvents));
        }
        let mut seen = SeenKeys::default();
        let mut events = Vec::with_capacity(n);
        for _ in 0..n {
            let off = dec.position();
            let key = dec.int().at(AT)?;
            seen.insert(key, off).at(AT)?;
            let uint_arg = |dec: &mut Decoder<'_>| dec.uint().at(AT);
            use WaitEventKind as K;
            events.push(match WaitEventKind::from_value(key) {
                Some(K::Authorization) => WaitEvent::Authorization(dec.int().at(AT)?),
                Some(K::Power) => WaitEvent::Power(dec.int().at(AT)?),
                Some(K::Network) => WaitEvent::Network(dec.int().at(AT)?),
                Some(K::OtherDeviceVersion) => {
                    const AT4: Words = Words::SuitWaitEventArgumentOtherDeviceVersion;
                    if dec.array().at(AT4)? != 2 {
                        return Err(Error::Invalid {
                            at: AT4,
                            reason: Words::OtherDeviceVersionShape,
                        });
                    }
                    let device = dec.bytes().at(AT4)?;
                    if device.len() > MAX_METADATA_BYTES {
                        return Err(Error::Limit(Words::OtherDeviceIdentifierLength));
                    }
                    let m = dec.array().at(AT4)?;
                    if m == 0 {
                        return Err(Error::Invalid {
                            at: AT4,
                            reason: Words::NeedsAtLeastOneVersionMatch,
                        });
                    }
                    if m > MAX_OTHER_DEVICE_VERSIONS {
                        return Err(Error::Limit(Words::OtherDeviceVersionMatches));
                    }
                    let mut versions = Vec::with_capacity(m);
                    for _ in 0..m {
                        versions.push(VersionMatch::decode_at(&mut dec)?);
                    }
                    WaitEvent::OtherDeviceVersion {
                        device: device.to_vec(),
                        versions,
                    }
                }
                Some(K::Time) => WaitEvent::Time(uint_arg(&mut dec)?),
                Some(K::TimeOfDay) => WaitEvent::TimeOfDay(uint_arg(&mut dec)?),
                Some(K::DayOfWeek) => WaitEvent::DayOfWeek(uint_arg(&mut dec)?),
                Some(K::TimeOfDayUtc) => WaitEvent::TimeOfDayUtc(uint_arg(&mut dec)?),
                Some(K::DayOfWeekUtc) => WaitEvent::DayOfWeekUtc(uint_arg(&mut dec)?),
                None => {
                    return Err(Error::Invalid {
                        at: AT,
                        reason: Words::UnknownWaitEvent,
                    })
                }
            });
        }
        dec.finish().at(AT)?;
        Ok(WaitInfo { events })
    }
}

/// SUIT_meta_actor_id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorId {
    /// `#6.37(bstr)`.
    Uuid(Vec<u8>),
    /// bstr.
    Bytes(Vec<u8>),
    /// tstr (checked against the draft's character rule).
    Text(String),
    /// int (e.g. a POSIX user id).
    Int(i64),
}

/// SUIT_Filetype.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    /// 1 (the default when absent).
    Regular,
    /// 2.
    Directory,
    /// 3.
    Symlink,
}

/// suit-parameter-component-metadata (draft §4.6): validated, applied by the platform at
/// fetch, copy or write time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ComponentMetadata {
    /// 1 suit-meta-default-permissions (permission bits).
    pub default_permissions: Option<u64>,
    /// 2 suit-meta-user-permissions.
    pub user_permissions: Vec<(ActorId, u64)>,
    /// 3 suit-meta-group-permissions.
    pub group_permissions: Vec<(ActorId, u64)>,
    /// 4 suit-meta-role-permissions.
    pub role_permissions: Vec<(ActorId, u64)>,
    /// 5 suit-meta-file-type.
    pub file_type: Option<FileType>,
    /// 6 suit-meta-modification-time (`#6.1(uint)`).
    pub modification_time: Option<u64>,
    /// 7 suit-meta-creation-time (`#6.1(uint)`).
    pub creation_time: Option<u64>,
    /// 8 suit-meta-creator.
    pub creator: Option<ActorId>,
}

/// Whether `s` keeps to the draft's rule for display text: only Unicode general categories
/// L, M, N, P, S and Zs. Without Unicode tables this refuses what can do harm when shown
/// (controls, line/paragraph separators, bidi and other format characters, private use); it
/// may accept an unassigned code point, which displays as a replacement glyph.
pub fn is_display_text(s: &str) -> bool {
    s.chars().all(|c| {
        let u = c as u32;
        !(c.is_control()
            || matches!(u, 0x2028 | 0x2029 | 0x00AD | 0x061C | 0x180E | 0xFEFF)
            || (0x200B..=0x200F).contains(&u)
            || (0x202A..=0x202E).contains(&u)
            || (0x2060..=0x206F).contains(&u)
            || (0xFFF9..=0xFFFB).contains(&u)
            || (0xE000..=0xF8FF).contains(&u)
            || u >= 0xF0000
            || (0xE0000..=0xE007F).contains(&u))
    })
}

fn actor(dec: &mut Decoder<'_>, at: Words) -> Result<ActorId, Error> {
    let a = match dec.item().at(at)? {
        Item::Tag(37) => ActorId::Uuid(dec.bytes().at(at)?.to_vec()),
        Item::Bytes(b) => ActorId::Bytes(b.to_vec()),
        Item::Text(t) => {
            if !is_display_text(t) {
                return Err(Error::Invalid {
                    at,
                    reason: Words::TextNotDisplayable,
                });
            }
            ActorId::Text(String::from(t))
        }
        Item::Uint(u) => ActorId::Int(i64::try_from(u).map_err(|_| Error::Invalid {
            at,
            reason: Words::ActorIntegerOutOfRange,
        })?),
        Item::Nint(n) => {
            ActorId::Int(
                i64::try_from(n)
                    .map(|n| -1 - n)
                    .map_err(|_| Error::Invalid {
                        at,
                        reason: Words::ActorIntegerOutOfRange,
                    })?,
            )
        }
        _ => {
            return Err(Error::Invalid {
                at,
                reason: Words::ActorIdType,
            })
        }
    };
    let len = match &a {
        ActorId::Uuid(b) | ActorId::Bytes(b) => b.len(),
        ActorId::Text(t) => t.len(),
        ActorId::Int(_) => 0,
    };
    if len > MAX_METADATA_BYTES {
        return Err(Error::Limit(Words::ActorIdentifierLength));
    }
    Ok(a)
}

fn permission_map(dec: &mut Decoder<'_>) -> Result<Vec<(ActorId, u64)>, Error> {
    const AT: Words = Words::SuitMetaPermissionMap;
    let n = dec.map().at(AT)?;
    if n == 0 {
        return Err(Error::Invalid {
            at: AT,
            reason: Words::NeedsAtLeastOneActor,
        });
    }
    if n > MAX_PERMISSION_ENTRIES {
        return Err(Error::Limit(Words::ActorsInAPermissionMap));
    }
    let mut out = Vec::with_capacity(n);
    // Canonical order as in every SUIT map (see `SeenKeys`): encoded keys strictly ascending
    // under RFC 8949 §4.2.1 (bytewise) or §4.2.3 (length-first), one order for the whole map;
    // no actor twice, however its key is encoded.
    let mut last: Option<&[u8]> = None;
    let (mut not_bytewise, mut not_length_first) = (false, false);
    for _ in 0..n {
        let raw = dec.clone().skip().at(AT)?;
        if let Some(l) = last {
            not_bytewise |= l >= raw;
            not_length_first |= (l.len(), l) >= (raw.len(), raw);
        }
        last = Some(raw);
        let a = actor(dec, AT)?;
        if (not_bytewise && not_length_first) || out.iter().any(|(b, _)| *b == a) {
            return Err(Error::Invalid {
                at: AT,
                reason: Words::ActorKeyOrder,
            });
        }
        out.push((a, dec.uint().at(AT)?));
    }
    Ok(out)
}

impl ComponentMetadata {
    /// Decodes `bstr .cbor SUIT_Component_Metadata` content.
    pub(crate) fn decode_all(bytes: &[u8]) -> Result<Self, Error> {
        const AT: Words = Words::SuitComponentMetadata;
        let mut dec = Decoder::new(bytes);
        let n = dec.map().at(AT)?;
        if n > 8 {
            return Err(Error::Limit(Words::ComponentMetadataMembers));
        }
        let mut seen = SeenKeys::default();
        let mut m = ComponentMetadata::default();
        let time = |dec: &mut Decoder<'_>| -> Result<u64, Error> {
            if !dec.optional_tag(1).at(AT)? {
                return Err(Error::Invalid {
                    at: AT,
                    reason: Words::TimesNeedTag1,
                });
            }
            dec.uint().at(AT)
        };
        for _ in 0..n {
            let off = dec.position();
            let key = dec.int().at(AT)?;
            seen.insert(key, off).at(AT)?;
            use crate::registry::MetadataKey as K;
            match K::from_value(key) {
                Some(K::DefaultPermissions) => m.default_permissions = Some(dec.uint().at(AT)?),
                Some(K::UserPermissions) => m.user_permissions = permission_map(&mut dec)?,
                Some(K::GroupPermissions) => m.group_permissions = permission_map(&mut dec)?,
                Some(K::RolePermissions) => m.role_permissions = permission_map(&mut dec)?,
                Some(K::FileType) => {
                    m.file_type = Some(match dec.uint().at(AT)? {
                        1 => FileType::Regular,
                        2 => FileType::Directory,
                        3 => FileType::Symlink,
                        _ => {
                            return Err(Error::Invalid {
                                at: AT,
                                reason: Words::FileTypeRange,
                            })
                        }
                    })
                }
                Some(K::ModificationTime) => m.modification_time = Some(time(&mut dec)?),
                Some(K::CreationTime) => m.creation_time = Some(time(&mut dec)?),
                Some(K::Creator) => m.creator = Some(actor(&mut dec, AT)?),
                // An extension this engine cannot apply: refusing beats ignoring metadata.
                None => {
                    return Err(Error::Invalid {
                        at: AT,
                        reason: Words::UnknownComponentMetadataMember,
                    })
                }
            }
        }
        dec.finish().at(AT)?;
        Ok(m)
    }
}

/// A map keyed by component index, as override-multiple and copy-params take it: non-empty,
/// at most [`MAX_MULTI_COMPONENTS`] entries, no duplicate index; `value` decodes each entry.
fn decode_component_map<T>(
    dec: &mut Decoder<'_>,
    at: Words,
    what: Words,
    empty: Words,
    mut value: impl FnMut(&mut Decoder<'_>) -> Result<T, Error>,
) -> Result<Vec<(u64, T)>, Error> {
    let n = dec.map().at(at)?;
    if n == 0 {
        return Err(Error::Invalid { at, reason: empty });
    }
    if n > MAX_MULTI_COMPONENTS {
        return Err(Error::Limit(what));
    }
    let mut seen = SeenKeys::default();
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let off = dec.position();
        let i = dec.uint().at(at)?;
        seen.insert(i64::try_from(i).unwrap_or(i64::MAX), off)
            .at(at)?;
        out.push((i, value(dec)?));
    }
    Ok(out)
}

/// suit-directive-override-multiple's argument: `{+ uint => {+ $$SUIT_Parameters}}`.
pub(crate) fn decode_override_multiple(
    dec: &mut Decoder<'_>,
) -> Result<Vec<(u64, Parameters)>, Error> {
    decode_component_map(
        dec,
        Words::SuitOverrideMultArg,
        Words::ComponentsInOverrideMultiple,
        Words::NeedsAtLeastOneComponent,
        Parameters::decode,
    )
}

/// suit-directive-copy-params's argument: `{+ uint => [+ int]}`.
pub(crate) fn decode_copy_params(dec: &mut Decoder<'_>) -> Result<Vec<(u64, Vec<i64>)>, Error> {
    const AT: Words = Words::SuitDirectiveCopyParams;
    decode_component_map(
        dec,
        AT,
        Words::ComponentsInCopyParams,
        Words::NeedsAtLeastOneSourceComponent,
        |dec| {
            let m = dec.array().at(AT)?;
            if m == 0 {
                return Err(Error::Invalid {
                    at: AT,
                    reason: Words::NeedsLabelPerSource,
                });
            }
            if m > MAX_COPY_LABELS {
                return Err(Error::Limit(Words::LabelsInCopyParams));
            }
            let mut labels = Vec::with_capacity(m);
            for _ in 0..m {
                let l = dec.int().at(AT)?;
                Parameters::check_copyable(l)?;
                labels.push(l);
            }
            Ok(labels)
        },
    )
}

/// A wall-clock reading (POSIX seconds) and whether the device can trust it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WallClock {
    /// Seconds since 1970-01-01 00:00:00 UTC (64-bit, as the draft requires).
    pub seconds: u64,
    /// Whether no party outside the device's trust boundary can set it. OP-TEE's REE time is
    /// *not* trusted: the normal world sets it.
    pub trusted: bool,
}

/// The answer to suit-condition-update-authorized.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Authorization {
    /// The application / user authorized the update.
    Granted,
    /// It declined.
    Denied,
    /// Nobody can be asked on this device (policy decides).
    Unavailable,
}

/// What the platform says about a wait event after waiting at most the given budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitOutcome {
    /// The event has occurred.
    Satisfied,
    /// Not within the budget.
    NotYet,
    /// The platform cannot observe this event.
    Unsupported,
}

/// Device policy for the update-management extensions. The default is the strict one: an
/// answer the device cannot give fails the condition; nothing waits.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateManagementPolicy {
    /// Evaluate use-before and time waits against a clock the device does not trust (e.g.
    /// OP-TEE's REE time). Default `false`: with only such a clock, use-before fails
    /// ([`UmError::TimeUntrusted`]). Enabling it makes use-before a scheduling aid, not a
    /// security guarantee: whoever sets the clock decides whether a manifest expired.
    pub accept_untrusted_time: bool,
    /// Let minimum-battery pass when the platform cannot measure a battery (mains-powered
    /// devices). Default `false`: an unknown level fails the condition.
    pub battery_unknown_passes: bool,
    /// When no application can be asked (update-authorized answers [`Authorization::Unavailable`]),
    /// authorize updates whose priority is at most this value (smaller = more urgent); a
    /// manifest without a priority is then not authorized. Default `None`: never.
    pub auto_authorize_priority: Option<i64>,
    /// Refuse update manifests that do not ask for authorization (no
    /// suit-condition-update-authorized anywhere). Default `false`.
    pub require_update_authorized: bool,
    /// Longest the device lets suit-directive-wait block, in seconds, over one whole run.
    /// Default 0: a wait passes only if its events already hold.
    pub max_wait_seconds: u64,
    /// Accept component metadata the platform cannot apply (files without permissions, types
    /// or owners). Default `false`: fetch / copy / write with metadata set is refused.
    pub ignore_component_metadata: bool,
}

/// Why an update-management condition or directive failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum UmError {
    /// use-before: the current time is not before the limit.
    Expired {
        /// The device's time.
        now: u64,
        /// suit-parameter-use-before.
        use_before: u64,
    },
    /// use-before or a time wait: the device has no clock.
    TimeUnknown,
    /// use-before or a time wait: the device's only clock is not trusted and policy refuses it.
    TimeUntrusted,
    /// minimum-battery: the platform cannot measure the battery.
    BatteryUnknown,
    /// minimum-battery: too little energy.
    BatteryLow {
        /// What the battery holds, mWh.
        have_mwh: u64,
        /// suit-parameter-minimum-battery, mWh.
        need_mwh: u64,
    },
    /// update-authorized: the application declined (or policy did, for this priority).
    NotAuthorized {
        /// suit-parameter-update-priority, if set.
        priority: Option<i64>,
    },
    /// update-authorized: nobody can be asked on this device and policy does not authorize
    /// this priority on its own.
    AuthorizationUnavailable {
        /// suit-parameter-update-priority, if set.
        priority: Option<i64>,
    },
    /// version: the platform does not know the component's version.
    VersionUnknown,
    /// version: the component's version does not satisfy the match.
    VersionMismatch {
        /// The comparison asked for.
        comparison: Comparison,
        /// The manifest's version.
        wanted: Vec<i64>,
        /// The component's version.
        current: Vec<i64>,
    },
    /// image-not-match: the component matches the image digest.
    ImageMatches,
    /// wait: the event did not occur within the device's wait bound.
    WaitNotSatisfied(WaitEventKind),
    /// wait: the device cannot observe this event.
    WaitUnsupported(WaitEventKind),
    /// Component metadata is set and the platform cannot apply it.
    MetadataNotApplicable,
    /// Policy requires suit-condition-update-authorized and the manifest has none.
    AuthorizationRequired,
}

impl UmError {
    /// Whether this is the failure of a condition (as opposed to a wait / metadata operation
    /// or a policy rule).
    pub fn is_condition(&self) -> bool {
        !matches!(
            self,
            UmError::WaitNotSatisfied(_)
                | UmError::WaitUnsupported(_)
                | UmError::MetadataNotApplicable
                | UmError::AuthorizationRequired
        )
    }
}

/// The version of a component as the condition sees it (None = unknown).
fn current_version<P: Platform + ?Sized>(
    platform: &P,
    id: &ComponentId,
) -> Result<Option<Vec<i64>>, PlatformError> {
    platform.component_version(id).map(|v| {
        v.map(|mut v| {
            v.truncate(MAX_VERSION_INTS);
            v
        })
    })
}

fn time<P: Platform + ?Sized>(
    platform: &P,
    policy: &UpdateManagementPolicy,
) -> Result<u64, UmError> {
    match platform.wall_clock() {
        None => Err(UmError::TimeUnknown),
        Some(c) if !c.trusted && !policy.accept_untrusted_time => Err(UmError::TimeUntrusted),
        Some(c) => Ok(c.seconds),
    }
}

/// Evaluates one of this draft's conditions other than image-not-match (which needs the
/// interpreter's digest logic). Every failure is a condition failure (soft) except platform
/// errors.
pub(crate) fn condition<P: Platform + ?Sized>(
    platform: &mut P,
    policy: &UpdateManagementPolicy,
    kind: ConditionKind,
    id: &ComponentId,
    p: &Parameters,
) -> Result<(), CommandErrorKind> {
    use CommandErrorKind as K;
    let um = |e| K::UpdateManagement(alloc::boxed::Box::new(e));
    match kind {
        ConditionKind::UseBefore => {
            let limit = p
                .use_before
                .ok_or(K::MissingParameter(ParameterKind::UseBefore))?;
            let now = time(platform, policy).map_err(um)?;
            if now < limit {
                Ok(())
            } else {
                Err(um(UmError::Expired {
                    now,
                    use_before: limit,
                }))
            }
        }
        ConditionKind::MinimumBattery => {
            let need = p
                .minimum_battery
                .ok_or(K::MissingParameter(ParameterKind::MinimumBattery))?;
            match platform.battery_mwh() {
                Some(have) if have >= need => Ok(()),
                Some(have) => Err(um(UmError::BatteryLow {
                    have_mwh: have,
                    need_mwh: need,
                })),
                None if policy.battery_unknown_passes => Ok(()),
                None => Err(um(UmError::BatteryUnknown)),
            }
        }
        ConditionKind::UpdateAuthorized => {
            let priority = p.update_priority;
            match platform.authorize_update(id, priority) {
                Authorization::Granted => Ok(()),
                Authorization::Denied => Err(um(UmError::NotAuthorized { priority })),
                Authorization::Unavailable => match (policy.auto_authorize_priority, priority) {
                    (Some(max), Some(pr)) if pr <= max => Ok(()),
                    _ => Err(um(UmError::AuthorizationUnavailable { priority })),
                },
            }
        }
        ConditionKind::Version => {
            let m = p
                .version
                .as_ref()
                .ok_or(K::MissingParameter(ParameterKind::Version))?;
            let current = current_version(platform, id)
                .map_err(K::Platform)?
                .ok_or(um(UmError::VersionUnknown))?;
            if m.matches(&current) {
                Ok(())
            } else {
                Err(um(UmError::VersionMismatch {
                    comparison: m.comparison,
                    wanted: m.value.clone(),
                    current,
                }))
            }
        }
        _ => Err(K::ConditionFailed(kind)),
    }
}

/// suit-directive-wait: every event of the component's wait-info must hold. The platform may
/// block for at most `budget` seconds in total (decremented by what it reports waiting);
/// an absolute time already reached is satisfied without asking it.
pub(crate) fn wait<P: Platform + ?Sized>(
    platform: &mut P,
    policy: &UpdateManagementPolicy,
    budget: &mut u64,
    id: &ComponentId,
    p: &Parameters,
) -> Result<(), CommandErrorKind> {
    use CommandErrorKind as K;
    let info = p
        .wait_info
        .as_ref()
        .ok_or(K::MissingParameter(ParameterKind::WaitInfo))?;
    for event in &info.events {
        if let WaitEvent::Time(t) = event {
            match time(platform, policy) {
                Ok(now) if now >= *t => continue,
                Ok(_) => {}
                Err(e) => return Err(K::UpdateManagement(alloc::boxed::Box::new(e))),
            }
        }
        let (outcome, spent) = platform.wait_for(id, event, *budget);
        *budget = budget.saturating_sub(spent);
        match outcome {
            WaitOutcome::Satisfied => {}
            WaitOutcome::NotYet => {
                return Err(K::UpdateManagement(alloc::boxed::Box::new(
                    UmError::WaitNotSatisfied(event.kind()),
                )))
            }
            WaitOutcome::Unsupported => {
                return Err(K::UpdateManagement(alloc::boxed::Box::new(
                    UmError::WaitUnsupported(event.kind()),
                )))
            }
        }
    }
    Ok(())
}

/// Hands component metadata to the platform before fetch / copy / write.
pub(crate) fn apply_metadata<P: Platform + ?Sized>(
    platform: &mut P,
    policy: &UpdateManagementPolicy,
    id: &ComponentId,
    p: &Parameters,
) -> Result<(), CommandErrorKind> {
    let Some(meta) = &p.component_metadata else {
        return Ok(());
    };
    match platform.stage_metadata(id, meta) {
        Ok(()) => Ok(()),
        Err(PlatformError::Unsupported) if policy.ignore_component_metadata => Ok(()),
        Err(PlatformError::Unsupported) => Err(CommandErrorKind::UpdateManagement(
            alloc::boxed::Box::new(UmError::MetadataNotApplicable),
        )),
        Err(e) => Err(CommandErrorKind::Platform(e)),
    }
}

fn asks_authorization(seq: &CommandSequence) -> bool {
    seq.commands.iter().any(|c| match c {
        Command::Condition(ConditionKind::UpdateAuthorized, _) => true,
        Command::TryEach { options, .. } => options.iter().any(asks_authorization),
        Command::RunSequence(s) => asks_authorization(s),
        _ => false,
    })
}

/// Device policy checked before an update runs: [`UpdateManagementPolicy::require_update_authorized`].
pub(crate) fn check_update(
    policy: &UpdateManagementPolicy,
    manifest: &crate::suit::manifest::Manifest,
) -> Result<(), Error> {
    if policy.require_update_authorized && !manifest.sequences().any(asks_authorization) {
        return Err(Error::Policy(
            crate::suit::error::PolicyError::UpdateManagement(UmError::AuthorizationRequired),
        ));
    }
    Ok(())
}
