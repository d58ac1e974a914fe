//! SUIT reports (draft-ietf-suit-report-18): what the device did with a manifest, signed by
//! the device's report key.
//!
//! * [`ReportBuilder`] is the reporting engine of draft-ietf-suit-manifest-37 §8.4.9.1 (reporting
//!   policy): the platform hands it every [`Record`] the interpreter produces; it keeps those
//!   the command's policy bits ask for (record-on-success / record-on-failure), asks the
//!   platform for system information where sysinfo-success / sysinfo-failure is set, and is
//!   finished with the outcome ([`ReportBuilder::succeed`], [`ReportBuilder::fail`]).
//!   [`ReportBuilder::failure`] covers refusals that happen before or outside the engine.
//! * [`Report::encode`] writes a SUIT_Report (report draft §4, labels §10.5-10.7);
//!   [`sign_report`] wraps it as the report draft's `SUIT_Report_COSE_Sign1_Tagged` (§8:
//!   COSE_Sign1, tag 18, the encoded SUIT_Report as the sole, attached payload) with ESP256, the
//!   algorithm of the MTI profile `suit-sha256-esp256-ecdh-a128ctr`; deterministic ECDSA
//!   (RFC 6979), so no RNG is needed.
//! * [`verify_report`] checks that signature with the device's public report key and decodes
//!   the report into a typed [`DecodedReport`].
//!
//! Implementation extensions (unregistered labels from the First-Come-First-Served range of the
//! SUIT_Report Elements registry, §10.5), ignored by any other reader: the root manifest's
//! sequence number ([`label::EXT_SEQUENCE_NUMBER`]), a human-readable failure detail
//! ([`label::EXT_DETAIL`]), the number of records dropped at the bound
//! ([`label::EXT_DROPPED_RECORDS`]), whether the attempt's manifest was authenticated
//! ([`label::EXT_AUTHENTICATED`]) and the device's state when the report was signed
//! ([`label::EXT_DEVICE_STATE`]). A SUIT_Record carries two extra elements after
//! `suit-record-properties` (the `$$SUIT_Record_Extensions` socket): the SUIT command label and
//! whether the command succeeded (a record of a command that succeeded says so; the draft's
//! fields alone cannot).
//!
//! What a report may say (the device signs it, the REE carries it):
//! * claims about the manifest (suit-reference, sequence number, records) come only from an
//!   authenticated manifest ([`ManifestClaims::of`]); an attempt refused before
//!   authentication is reported by [`ReportBuilder::refused_before_authentication`] with an
//!   empty reference, no records and `authenticated: false`, and nothing in it is decoded
//!   from the unauthenticated bytes beyond the error itself;
//! * system information about a component comes from the engine's
//!   [`Disclosure`](crate::suit::platform::Disclosure) gate, never from staged plaintext that
//!   is not authenticated;
//! * the device state ([`DeviceState`]) is what the device holds, whatever attempt the REE
//!   triggered last.
//!
//! Everything is bounded and nothing panics on input.

use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;
use core::fmt;

use coset::iana;
use coset::{CborSerializable, CoseSign1, CoseSign1Builder, HeaderBuilder, TaggedCborSerializable};
use p256::elliptic_curve::sec1::ToSec1Point;

use crate::cbor::{self, Decoder, Item};
use crate::cose::{Algorithm, CoseError, VerificationKey};
use crate::suit::component::ComponentId;
use crate::suit::digest::COSE_ALG_SHA256;
use crate::suit::error::{
    AuthError, CommandErrorKind, ConditionKind, Error, Location, PolicyError, Section, Unsupported,
};
use crate::suit::platform::{Event, Record};
use crate::suit::{AuthenticatedManifest, Envelope, Outcome};

/// Most entries (records and system-property claims) one report keeps; later ones are counted
/// in [`Report::dropped_records`].
pub const MAX_RECORDS: usize = 64;
/// Largest encoded SUIT_Report produced or accepted (the signed report must fit one TA
/// response).
pub const MAX_REPORT_LEN: usize = 48 * 1024;
/// Most installed components listed in a [`DeviceState`] (the TA's own bound).
pub const MAX_STATE_COMPONENTS: usize = 64;
/// Largest signed report accepted by [`verify_report`].
pub const MAX_SIGNED_REPORT_LEN: usize = MAX_REPORT_LEN + 512;
/// Longest nonce accepted.
pub const MAX_NONCE_LEN: usize = 64;
/// Longest manifest reference URI carried (a longer one is left out rather than truncated:
/// the draft requires an exact match).
pub const MAX_URI_LEN: usize = 256;
/// Longest failure detail text (truncated at a character boundary).
pub const MAX_DETAIL_LEN: usize = 256;
/// Most properties in one record or claim.
pub const MAX_PROPERTIES: usize = 16;
/// Longest property value (bytes or text).
pub const MAX_VALUE_LEN: usize = 256;
/// Deepest manifest walk (`suit-record-manifest-id`) accepted.
pub const MAX_WALK: usize = 8;

/// Map labels (report draft §10.5) and this implementation's extensions.
pub mod label {
    /// suit-report-nonce.
    pub const NONCE: i64 = 2;
    /// suit-report-records.
    pub const RECORDS: i64 = 3;
    /// suit-report-result.
    pub const RESULT: i64 = 4;
    /// suit-report-result-code.
    pub const RESULT_CODE: i64 = 5;
    /// suit-report-result-record.
    pub const RESULT_RECORD: i64 = 6;
    /// suit-report-result-reason.
    pub const RESULT_REASON: i64 = 7;
    /// suit-report-capability-report (read and skipped; never produced).
    pub const CAPABILITY_REPORT: i64 = 8;
    /// suit-reference.
    pub const REFERENCE: i64 = 99;
    /// system-component-id in a system-property-claims map (no registry entry in -18; 0, as
    /// other implementations use).
    pub const SYSTEM_COMPONENT_ID: i64 = 0;
    /// Extension: the root manifest's sequence number (uint).
    pub const EXT_SEQUENCE_NUMBER: i64 = -70001;
    /// Extension: what failed, in words (tstr, no secrets).
    pub const EXT_DETAIL: i64 = -70002;
    /// Extension: records dropped because [`super::MAX_RECORDS`] was reached (uint).
    pub const EXT_DROPPED_RECORDS: i64 = -70003;
    /// Extension: whether the attempt's manifest was authenticated (bool). `false`: the
    /// reference is empty and nothing in the report comes from the refused bytes.
    pub const EXT_AUTHENTICATED: i64 = -70004;
    /// Extension: the device's state when the report was signed ([`super::DeviceState`]):
    /// `{1: provisioning counter, 2: [* [component-id, sequence number, SUIT_Digest, size]]}`.
    pub const EXT_DEVICE_STATE: i64 = -70005;
}

/// Reporting-policy bits (draft-ietf-suit-manifest-37 §8.4.9.1, CDDL `suit-reporting-bits`).
pub mod policy {
    /// suit-send-record-on-success (bit 0).
    pub const RECORD_ON_SUCCESS: u64 = 1 << 0;
    /// suit-send-record-on-failure (bit 1).
    pub const RECORD_ON_FAILURE: u64 = 1 << 1;
    /// suit-send-sysinfo-success (bit 2).
    pub const SYSINFO_SUCCESS: u64 = 1 << 2;
    /// suit-send-sysinfo-failure (bit 3).
    pub const SYSINFO_FAILURE: u64 = 1 << 3;
}

/// `suit-record-manifest-section` values: the manifest member keys of the command sequences
/// (report draft §3). The shared sequence, which lives in suit-common, is reported as 3.
pub fn section_label(section: Section) -> i64 {
    match section {
        Section::Shared => 3,
        Section::Validate => 7,
        Section::Load => 8,
        Section::Invoke => 9,
        Section::DependencyResolution => 15,
        Section::PayloadFetch => 16,
        Section::CandidateVerification => 18,
        Section::Install => 20,
    }
}

/// Name of a `suit-record-manifest-section` value (0: outside any command sequence).
pub fn section_name(label: i64) -> &'static str {
    match label {
        0 => "none",
        3 => "shared-sequence",
        7 => "validate",
        8 => "load",
        9 => "invoke",
        15 => "dependency-resolution",
        16 => "payload-fetch",
        18 => "candidate-verification",
        20 => "install",
        _ => "unknown",
    }
}

/// SUIT command label of an engine event (manifest draft §8.4.10/§8.4.11, trust domains).
pub fn command_label(event: Event) -> i64 {
    match event {
        Event::Condition(kind) => condition_label(kind),
        Event::Fetch => 21,
        Event::Copy => 22,
        Event::Write => 18,
        Event::Swap => 31,
        Event::Invoke => 23,
        Event::ProcessDependency => 11,
        Event::Unlink => 33,
        Event::Wait => 29,
    }
}

fn condition_label(kind: ConditionKind) -> i64 {
    match kind {
        ConditionKind::VendorIdentifier => 1,
        ConditionKind::ClassIdentifier => 2,
        ConditionKind::ImageMatch => 3,
        ConditionKind::ComponentSlot => 5,
        ConditionKind::CheckContent => 6,
        ConditionKind::DependencyIntegrity => 7,
        ConditionKind::IsDependency => 8,
        ConditionKind::Abort => 14,
        ConditionKind::DeviceIdentifier => 24,
        ConditionKind::UseBefore => 4,
        ConditionKind::ImageNotMatch => 25,
        ConditionKind::MinimumBattery => 26,
        ConditionKind::UpdateAuthorized => 27,
        ConditionKind::Version => 28,
    }
}

/// Name of a SUIT command label.
pub fn command_name(label: i64) -> &'static str {
    match label {
        1 => "condition-vendor-identifier",
        2 => "condition-class-identifier",
        3 => "condition-image-match",
        5 => "condition-component-slot",
        6 => "condition-check-content",
        7 => "condition-dependency-integrity",
        8 => "condition-is-dependency",
        11 => "directive-process-dependency",
        12 => "directive-set-component-index",
        14 => "condition-abort",
        15 => "directive-try-each",
        18 => "directive-write",
        19 => "directive-set-parameters",
        20 => "directive-override-parameters",
        21 => "directive-fetch",
        22 => "directive-copy",
        23 => "directive-invoke",
        24 => "condition-device-identifier",
        31 => "directive-swap",
        32 => "directive-run-sequence",
        33 => "directive-unlink",
        4 => "condition-use-before",
        25 => "condition-image-not-match",
        26 => "condition-minimum-battery",
        27 => "condition-update-authorized",
        28 => "condition-version",
        29 => "directive-wait",
        34 => "directive-override-multiple",
        35 => "directive-copy-params",
        _ => "unknown-command",
    }
}

/// suit-report-result-reason (report draft §4.2, registry §10.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// 0 suit-report-reason-ok.
    Ok,
    /// 1 suit-report-reason-cbor-parse.
    CborParse,
    /// 2 suit-report-reason-cose-unsupported.
    CoseUnsupported,
    /// 3 suit-report-reason-alg-unsupported.
    AlgUnsupported,
    /// 4 suit-report-reason-unauthorised.
    Unauthorised,
    /// 5 suit-report-reason-command-unsupported.
    CommandUnsupported,
    /// 6 suit-report-reason-component-unsupported.
    ComponentUnsupported,
    /// 7 suit-report-reason-component-unauthorised.
    ComponentUnauthorised,
    /// 8 suit-report-reason-parameter-unsupported.
    ParameterUnsupported,
    /// 9 suit-report-reason-severing-unsupported.
    SeveringUnsupported,
    /// 10 suit-report-reason-condition-failed.
    ConditionFailed,
    /// 11 suit-report-reason-operation-failed.
    OperationFailed,
    /// 12 suit-report-reason-invoke-pending.
    InvokePending,
    /// A value this implementation does not know (read side only).
    Unknown(i64),
}

impl Reason {
    /// The registered value.
    pub fn code(self) -> i64 {
        match self {
            Reason::Ok => 0,
            Reason::CborParse => 1,
            Reason::CoseUnsupported => 2,
            Reason::AlgUnsupported => 3,
            Reason::Unauthorised => 4,
            Reason::CommandUnsupported => 5,
            Reason::ComponentUnsupported => 6,
            Reason::ComponentUnauthorised => 7,
            Reason::ParameterUnsupported => 8,
            Reason::SeveringUnsupported => 9,
            Reason::ConditionFailed => 10,
            Reason::OperationFailed => 11,
            Reason::InvokePending => 12,
            Reason::Unknown(c) => c,
        }
    }

    /// The reason for a registered value.
    pub fn from_code(code: i64) -> Self {
        match code {
            0 => Reason::Ok,
            1 => Reason::CborParse,
            2 => Reason::CoseUnsupported,
            3 => Reason::AlgUnsupported,
            4 => Reason::Unauthorised,
            5 => Reason::CommandUnsupported,
            6 => Reason::ComponentUnsupported,
            7 => Reason::ComponentUnauthorised,
            8 => Reason::ParameterUnsupported,
            9 => Reason::SeveringUnsupported,
            10 => Reason::ConditionFailed,
            11 => Reason::OperationFailed,
            12 => Reason::InvokePending,
            c => Reason::Unknown(c),
        }
    }

    /// The draft's name without the `suit-report-reason-` prefix.
    pub fn name(self) -> &'static str {
        match self {
            Reason::Ok => "ok",
            Reason::CborParse => "cbor-parse",
            Reason::CoseUnsupported => "cose-unsupported",
            Reason::AlgUnsupported => "alg-unsupported",
            Reason::Unauthorised => "unauthorised",
            Reason::CommandUnsupported => "command-unsupported",
            Reason::ComponentUnsupported => "component-unsupported",
            Reason::ComponentUnauthorised => "component-unauthorised",
            Reason::ParameterUnsupported => "parameter-unsupported",
            Reason::SeveringUnsupported => "severing-unsupported",
            Reason::ConditionFailed => "condition-failed",
            Reason::OperationFailed => "operation-failed",
            Reason::InvokePending => "invoke-pending",
            Reason::Unknown(_) => "unknown",
        }
    }
}

/// suit-report-result-code values: this implementation's internal codes ("for debugging, not
/// for interoperability", report draft §4.2). Stable: tools print them.
pub mod code {
    /// CBOR of the envelope or manifest is malformed.
    pub const DECODE: i64 = 100;
    /// Well-formed, but breaks a SUIT rule.
    pub const INVALID: i64 = 101;
    /// Unsupported manifest version.
    pub const UNSUPPORTED_VERSION: i64 = 200;
    /// Unsupported digest algorithm.
    pub const UNSUPPORTED_DIGEST: i64 = 201;
    /// Unknown manifest / envelope member.
    pub const UNSUPPORTED_MEMBER: i64 = 202;
    /// Unknown parameter.
    pub const UNSUPPORTED_PARAMETER: i64 = 203;
    /// Unknown command.
    pub const UNSUPPORTED_COMMAND: i64 = 204;
    /// Bare (unauthenticated) manifest.
    pub const UNAUTHENTICATED_MANIFEST: i64 = 205;
    /// No authentication block.
    pub const AUTH_NO_BLOCK: i64 = 300;
    /// Manifest digest mismatch.
    pub const AUTH_DIGEST_MISMATCH: i64 = 301;
    /// No trust anchor applies.
    pub const AUTH_NO_ANCHOR: i64 = 302;
    /// A signature / MAC does not verify.
    pub const AUTH_BAD_SIGNATURE: i64 = 303;
    /// An authentication block is malformed or unsupported.
    pub const AUTH_COSE: i64 = 304;
    /// A severed member does not match its digest.
    pub const AUTH_SEVERED_MISMATCH: i64 = 305;
    /// A severable member both inline and in the envelope.
    pub const AUTH_UNEXPECTED_MEMBER: i64 = 306;
    /// Rollback: sequence number not greater than the stored one.
    pub const POLICY_ROLLBACK: i64 = 400;
    /// No signer may act on this component.
    pub const POLICY_COMPONENT: i64 = 401;
    /// A required signer is missing.
    pub const POLICY_SIGNER: i64 = 402;
    /// Vendor / class identifier not permitted to the signers.
    pub const POLICY_IDENTIFIER: i64 = 403;
    /// Decrypted or secure content not permitted in the component for these signers.
    pub const POLICY_PLAINTEXT: i64 = 404;
    /// An update-management rule of device policy (e.g. update-authorized required).
    pub const POLICY_UPDATE_MANAGEMENT: i64 = 405;
    /// A command failed: 500 + the command-error kind (see [`super::command_error_code`]).
    pub const COMMAND: i64 = 500;
    /// Decrypted payload never matched an image digest.
    pub const UNVERIFIED_PLAINTEXT: i64 = 600;
    /// A needed severed section is missing.
    pub const SEVERED_MISSING: i64 = 601;
    /// Platform failure outside commands (sequence store, commit).
    pub const PLATFORM: i64 = 602;
    /// A resource bound was exceeded.
    pub const LIMIT: i64 = 603;
    /// Service: steps out of order or inconsistent (install protocol).
    pub const SERVICE_SEQUENCE: i64 = 700;
    /// Service: something too large.
    pub const SERVICE_TOO_LARGE: i64 = 701;
    /// Service: secure storage failure.
    pub const SERVICE_STORE: i64 = 702;
    /// Service: the stored policy is unusable.
    pub const SERVICE_POLICY: i64 = 703;
    /// Service: a payload the manifest did not ask for.
    pub const SERVICE_UNEXPECTED_PAYLOAD: i64 = 704;
}

/// `code::COMMAND + n` for each command-error kind.
pub fn command_error_code(kind: &CommandErrorKind) -> i64 {
    let n = match kind {
        CommandErrorKind::ConditionFailed(_) => 0,
        CommandErrorKind::MissingParameter(_) => 1,
        CommandErrorKind::ComponentIndexOutOfRange(_) => 2,
        CommandErrorKind::TryEachExhausted => 3,
        CommandErrorKind::SoftFailureOutsideTryEach => 4,
        CommandErrorKind::MissingComponentIndex => 5,
        CommandErrorKind::ImageDigestMismatch => 6,
        CommandErrorKind::ImageSizeMismatch => 7,
        CommandErrorKind::PayloadTooLarge => 8,
        CommandErrorKind::MissingIntegratedPayload => 9,
        CommandErrorKind::NotADependency => 10,
        CommandErrorKind::DependencyNotVerified => 11,
        CommandErrorKind::DependencyDigestMismatch => 12,
        CommandErrorKind::Dependency(_) => 13,
        CommandErrorKind::DependencyTooDeep => 14,
        CommandErrorKind::NotAllowedInShared => 15,
        CommandErrorKind::SourceIsDestination => 16,
        CommandErrorKind::UnsupportedCommand(_) => 17,
        CommandErrorKind::Platform(_) => 18,
        CommandErrorKind::Decrypt(_) => 19,
        CommandErrorKind::Policy(_) => 20,
        CommandErrorKind::UnauthenticatedContent => 21,
        CommandErrorKind::DecryptingFetch => 22,
        CommandErrorKind::UnorderedSourceAndTarget { .. } => 40,
        CommandErrorKind::UnorderedRunSequenceIndex => 41,
        CommandErrorKind::DependencyNotProcessed => 42,
        CommandErrorKind::UpdateManagement(_) => 23,
    };
    code::COMMAND + n
}

/// A value in `suit-record-properties` or a system-property claim (a SUIT_Parameters value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Unsigned integer.
    Uint(u64),
    /// Negative integer.
    Int(i64),
    /// Byte string (e.g. `bstr .cbor SUIT_Digest` for image-digest).
    Bytes(Vec<u8>),
    /// Text string.
    Text(String),
    /// Boolean.
    Bool(bool),
    /// Any other well-formed CBOR item, as encoded (read side; encoded verbatim if well-formed).
    Other(Vec<u8>),
}

/// SUIT parameter labels used for system information.
pub mod parameter {
    /// suit-parameter-vendor-identifier.
    pub const VENDOR_ID: i64 = 1;
    /// suit-parameter-class-identifier.
    pub const CLASS_ID: i64 = 2;
    /// suit-parameter-image-digest (`bstr .cbor SUIT_Digest`).
    pub const IMAGE_DIGEST: i64 = 3;
    /// suit-parameter-image-size.
    pub const IMAGE_SIZE: i64 = 14;
    /// suit-parameter-device-identifier.
    pub const DEVICE_ID: i64 = 24;
}

/// The system information of a component's current image: image-digest and image-size.
pub fn image_properties(sha256: &[u8; 32], size: u64) -> Vec<(i64, Value)> {
    vec![
        (
            parameter::IMAGE_DIGEST,
            Value::Bytes(crate::suit::Digest(*sha256).encode()),
        ),
        (parameter::IMAGE_SIZE, Value::Uint(size)),
    ]
}

/// A SUIT_Record (report draft §3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRecord {
    /// suit-record-manifest-id: walk from the root manifest ([] = root).
    pub manifest_id: Vec<u64>,
    /// suit-record-manifest-section ([`section_label`]; 0 = outside any command sequence).
    pub section: i64,
    /// suit-record-section-offset: bytes into the section's command sequence (0 if unknown).
    pub offset: u64,
    /// suit-record-component-index (0 if unknown).
    pub component_index: u64,
    /// suit-record-properties.
    pub properties: Vec<(i64, Value)>,
    /// Extension: the SUIT command label, when known.
    pub command: Option<i64>,
    /// Extension: whether the command succeeded (present with `command`).
    pub success: Option<bool>,
}

impl ReportRecord {
    /// A record for a failure outside any command sequence (decode, authentication, policy).
    pub fn outside_commands(component_index: Option<usize>) -> Self {
        ReportRecord {
            manifest_id: Vec::new(),
            section: 0,
            offset: 0,
            component_index: component_index.map_or(0, |i| i as u64),
            properties: Vec::new(),
            command: None,
            success: None,
        }
    }
}

/// A system-property-claims map (report draft §4, §4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SystemProperties {
    /// system-component-id.
    pub component: ComponentId,
    /// The measured parameters.
    pub properties: Vec<(i64, Value)>,
}

/// One element of suit-report-records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A SUIT_Record.
    Record(ReportRecord),
    /// A system-property-claims map.
    System(SystemProperties),
}

/// Why a procedure failed: the map form of suit-report-result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// suit-report-result-reason.
    pub reason: Reason,
    /// suit-report-result-code (see [`code`]).
    pub code: i64,
    /// suit-report-result-record: where it failed.
    pub record: ReportRecord,
    /// Extension [`label::EXT_DETAIL`]: the failure in words.
    pub detail: Option<String>,
}

impl Failure {
    /// A failure outside the engine (install protocol, storage, ...).
    pub fn new(reason: Reason, code: i64, detail: &str) -> Self {
        Failure {
            reason,
            code,
            record: ReportRecord::outside_commands(None),
            detail: Some(bounded_text(detail, MAX_DETAIL_LEN)),
        }
    }

    /// The failure an engine error describes. With `envelope` (the bytes given to the engine),
    /// a failed command of the root manifest gets its byte offset and command label.
    pub fn from_error(error: &Error, envelope: Option<&[u8]>) -> Self {
        let (reason, code) = classify(error);
        let record = failure_record(error, envelope);
        Failure {
            reason,
            code,
            record,
            detail: Some(bounded_text(&alloc::format!("{error}"), MAX_DETAIL_LEN)),
        }
    }
}

/// suit-report-result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReportResult {
    /// `true`: the procedure completed.
    Success,
    /// The map form.
    Failure(Failure),
}

/// A SUIT_Report, as built or as decoded ([`DecodedReport`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// suit-report-manifest-uri (`""` on the wire when absent).
    pub manifest_uri: Option<String>,
    /// suit-report-manifest-digest: SHA-256 digest of the root manifest as in its
    /// authentication wrapper; `None` if the envelope was too broken to have one (encoded as an
    /// empty digest).
    pub manifest_digest: Option<[u8; 32]>,
    /// suit-report-nonce.
    pub nonce: Option<Vec<u8>>,
    /// suit-report-records.
    pub entries: Vec<Entry>,
    /// suit-report-result.
    pub result: ReportResult,
    /// Extension: the root manifest's sequence number.
    pub sequence_number: Option<u64>,
    /// Extension: entries dropped at [`MAX_RECORDS`].
    pub dropped_records: u64,
    /// Whether a capability report was present (read side; never produced).
    pub has_capability_report: bool,
    /// Extension: `Some(false)` for an attempt refused before its manifest was authenticated
    /// (then the reference, sequence number and records say nothing); `Some(true)` otherwise.
    pub authenticated: Option<bool>,
    /// Extension: the device's state when the report was signed.
    pub device_state: Option<DeviceState>,
}

/// The device's state as a report carries it ([`label::EXT_DEVICE_STATE`]), so a status
/// tracker learns what is installed whichever attempt the REE made the device report on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeviceState {
    /// Counter of the last applied provisioning message.
    pub provisioning_counter: u64,
    /// Installed components (at most [`MAX_STATE_COMPONENTS`]).
    pub components: Vec<InstalledComponent>,
}

/// One installed component in a [`DeviceState`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstalledComponent {
    /// Its identifier.
    pub component: ComponentId,
    /// Sequence number of the manifest that installed it.
    pub sequence_number: u64,
    /// SHA-256 of the installed image (the manifest's image digest: installs are committed
    /// only after it matched).
    pub digest: [u8; 32],
    /// Size in bytes.
    pub size: u64,
}

/// The typed view [`verify_report`] returns.
pub type DecodedReport = Report;

impl Report {
    /// True if suit-report-result is `true`.
    pub fn is_success(&self) -> bool {
        matches!(self.result, ReportResult::Success)
    }

    /// The SUIT_Records (system-property claims left out).
    pub fn records(&self) -> impl Iterator<Item = &ReportRecord> {
        self.entries.iter().filter_map(|e| match e {
            Entry::Record(r) => Some(r),
            Entry::System(_) => None,
        })
    }

    /// Encodes the SUIT_Report (keys in deterministic order).
    pub fn encode(&self) -> Result<Vec<u8>, ReportError> {
        let mut e = Enc(Vec::with_capacity(256));
        // records, result, reference, then the optional members.
        let mut n = 3;
        n += usize::from(self.nonce.is_some());
        n += usize::from(self.sequence_number.is_some());
        let detail = match &self.result {
            ReportResult::Failure(f) => f.detail.as_deref(),
            ReportResult::Success => None,
        };
        n += usize::from(detail.is_some());
        n += usize::from(self.dropped_records > 0);
        n += usize::from(self.authenticated.is_some());
        n += usize::from(self.device_state.is_some());
        e.map(n);
        if let Some(nonce) = &self.nonce {
            if nonce.len() > MAX_NONCE_LEN {
                return Err(ReportError::TooLarge("nonce"));
            }
            e.int(label::NONCE);
            e.bytes(nonce);
        }
        e.int(label::RECORDS);
        if self.entries.len() > MAX_RECORDS {
            return Err(ReportError::TooLarge("records"));
        }
        e.array(self.entries.len());
        for entry in &self.entries {
            match entry {
                Entry::Record(r) => encode_record(&mut e, r)?,
                Entry::System(s) => encode_system(&mut e, s)?,
            }
        }
        e.int(label::RESULT);
        match &self.result {
            ReportResult::Success => e.bool(true),
            ReportResult::Failure(f) => {
                e.map(3);
                e.int(label::RESULT_CODE);
                e.int(f.code);
                e.int(label::RESULT_RECORD);
                encode_record(&mut e, &f.record)?;
                e.int(label::RESULT_REASON);
                e.int(f.reason.code());
            }
        }
        e.int(label::REFERENCE);
        e.array(2);
        let uri = self.manifest_uri.as_deref().unwrap_or("");
        if uri.len() > MAX_URI_LEN {
            return Err(ReportError::TooLarge("manifest URI"));
        }
        e.text(uri);
        e.array(2);
        e.int(COSE_ALG_SHA256);
        match &self.manifest_digest {
            Some(d) => e.bytes(d),
            None => e.bytes(&[]),
        }
        if let Some(s) = self.sequence_number {
            e.int(label::EXT_SEQUENCE_NUMBER);
            e.uint(s);
        }
        if let Some(d) = detail {
            e.int(label::EXT_DETAIL);
            e.text(&bounded_text(d, MAX_DETAIL_LEN));
        }
        if self.dropped_records > 0 {
            e.int(label::EXT_DROPPED_RECORDS);
            e.uint(self.dropped_records);
        }
        if let Some(a) = self.authenticated {
            e.int(label::EXT_AUTHENTICATED);
            e.bool(a);
        }
        if let Some(s) = &self.device_state {
            e.int(label::EXT_DEVICE_STATE);
            encode_state(&mut e, s)?;
        }
        if e.0.len() > MAX_REPORT_LEN {
            return Err(ReportError::TooLarge("report"));
        }
        Ok(e.0)
    }

    /// Decodes an (unsigned) SUIT_Report. Use [`verify_report`] for what a device sent.
    pub fn decode(bytes: &[u8]) -> Result<Self, ReportError> {
        decode_report(bytes)
    }

    /// Encodes and signs the report ([`sign_report`]).
    pub fn sign(&self, key: &p256::SecretKey) -> Result<Vec<u8>, ReportError> {
        sign_report(&self.encode()?, key)
    }
}

/// Why a report could not be built, signed, verified or decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReportError {
    /// Not the structure the draft defines; names the element.
    Malformed(&'static str),
    /// A bound was exceeded; names what.
    TooLarge(&'static str),
    /// The COSE envelope is not a COSE_Sign1 this implementation verifies.
    Cose(CoseError),
    /// The signature does not verify with the given key.
    BadSignature,
    /// The payload is a SUIT_Report_COSE_Encrypt0 (not implemented).
    Encrypted,
    /// Signing failed.
    SigningFailed,
}

impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportError::Malformed(what) => write!(f, "malformed report: {what}"),
            ReportError::TooLarge(what) => write!(f, "report too large: {what}"),
            ReportError::Cose(e) => write!(f, "report signature envelope refused: {e}"),
            ReportError::BadSignature => f.write_str("report signature does not verify"),
            ReportError::Encrypted => f.write_str("encrypted reports are not supported"),
            ReportError::SigningFailed => f.write_str("signing the report failed"),
        }
    }
}

impl core::error::Error for ReportError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            ReportError::Cose(e) => Some(e),
            _ => None,
        }
    }
}

/// Collects one procedure's records and finishes it into a [`Report`].
///
/// Owned by whoever owns the run (the TA service): the platform's `report` hook calls
/// [`ReportBuilder::record`], and the service finishes it with [`ReportBuilder::succeed`] or
/// [`ReportBuilder::fail`] and signs the result.
#[derive(Debug, Clone, Default)]
pub struct ReportBuilder {
    authenticated: Option<bool>,
    uri: Option<String>,
    digest: Option<[u8; 32]>,
    nonce: Option<Vec<u8>>,
    sequence_number: Option<u64>,
    components: Vec<ComponentId>,
    entries: Vec<Entry>,
    dropped: u64,
}

impl ReportBuilder {
    /// An empty builder (no manifest known yet).
    pub fn new() -> Self {
        Self::default()
    }

    /// A builder for a run over an authenticated manifest: the reference (digest, URI), the
    /// sequence number and the component list that gives records their component index.
    pub fn for_manifest(claims: &ManifestClaims) -> Self {
        let mut b = Self::new();
        b.authenticated = Some(true);
        b.digest = Some(claims.digest);
        b.set_reference_uri(claims.uri.as_deref());
        b.sequence_number = Some(claims.sequence_number);
        b.components = claims.components.clone();
        b
    }

    /// The report of an attempt refused before its manifest was authenticated: the failure
    /// only. No reference, sequence number or records: the bytes are the REE's, and the
    /// device signs no claim taken from them (nor decodes more of them than it did).
    pub fn refused_before_authentication(error: &Error) -> Report {
        let mut b = Self::new();
        b.authenticated = Some(false);
        b.fail_with(Failure::from_error(error, None))
    }

    /// Sets the manifest digest.
    pub fn set_manifest_digest(&mut self, digest: Option<[u8; 32]>) {
        self.digest = digest;
    }

    /// Sets the manifest reference URI (left out if longer than [`MAX_URI_LEN`]).
    pub fn set_reference_uri(&mut self, uri: Option<&str>) {
        self.uri = uri.filter(|u| u.len() <= MAX_URI_LEN).map(String::from);
    }

    /// Sets the nonce (freshness challenge from the status tracker).
    pub fn set_nonce(&mut self, nonce: &[u8]) -> Result<(), ReportError> {
        if nonce.len() > MAX_NONCE_LEN {
            return Err(ReportError::TooLarge("nonce"));
        }
        self.nonce = Some(nonce.to_vec());
        Ok(())
    }

    /// Sets the root manifest's sequence number (extension).
    pub fn set_sequence_number(&mut self, n: Option<u64>) {
        self.sequence_number = n;
    }

    /// Whether `record`'s policy asks for a record of it.
    pub fn wants_record(record: &Record<'_>) -> bool {
        let bit = if record.success {
            policy::RECORD_ON_SUCCESS
        } else {
            policy::RECORD_ON_FAILURE
        };
        record.policy & bit != 0
    }

    /// Whether `record`'s policy asks for system information about its component.
    pub fn wants_sysinfo(record: &Record<'_>) -> bool {
        let bit = if record.success {
            policy::SYSINFO_SUCCESS
        } else {
            policy::SYSINFO_FAILURE
        };
        record.policy & bit != 0 && record.component.is_some()
    }

    /// Takes one engine record (call from `Platform::report`). Keeps a SUIT_Record if the
    /// policy bits ask for one; returns [`ReportBuilder::wants_sysinfo`], and the caller then
    /// passes the component's measured properties to [`ReportBuilder::system_properties`].
    ///
    /// The engine's [`Record`] locates the command exactly: the dependency walk
    /// (suit-record-manifest-id), the section, the byte offset in the section's command
    /// sequence and the component index in the manifest that holds the command. The command
    /// label and its success go in the record's extension elements.
    pub fn record(&mut self, record: &Record<'_>) -> bool {
        self.record_at(record, None, None)
    }

    /// As [`ReportBuilder::record`], with the offset and component index replaced by the
    /// caller's where given.
    pub fn record_at(
        &mut self,
        record: &Record<'_>,
        offset: Option<u64>,
        component_index: Option<usize>,
    ) -> bool {
        if Self::wants_record(record) {
            let component_index = component_index.or(record.component_index);
            let walk = record.manifest_id;
            let r = ReportRecord {
                manifest_id: walk.get(..walk.len().min(MAX_WALK)).unwrap_or(&[]).to_vec(),
                section: section_label(record.section),
                offset: offset.unwrap_or(record.offset),
                component_index: component_index.map_or(0, |i| i as u64),
                properties: Vec::new(),
                command: Some(command_label(record.event)),
                success: Some(record.success),
            };
            self.push(Entry::Record(r));
        }
        Self::wants_sysinfo(record)
    }

    /// Adds a system-property claim for `component` (e.g. [`image_properties`]).
    pub fn system_properties(&mut self, component: &ComponentId, properties: Vec<(i64, Value)>) {
        let mut properties = properties;
        properties.truncate(MAX_PROPERTIES);
        self.push(Entry::System(SystemProperties {
            component: component.clone(),
            properties,
        }));
    }

    /// Finishes a successful run.
    pub fn succeed(self, outcome: &Outcome) -> Report {
        let mut b = self;
        b.digest = Some(outcome.manifest_digest.0);
        b.sequence_number = Some(outcome.sequence_number);
        b.finish(ReportResult::Success)
    }

    /// Finishes a run the engine refused; `envelope` (the bytes given to the engine) lets a
    /// failed command of the root manifest be located by byte offset.
    pub fn fail(self, error: &Error, envelope: Option<&[u8]>) -> Report {
        self.fail_with(Failure::from_error(error, envelope))
    }

    /// Finishes a run with a failure described by the caller.
    pub fn fail_with(self, failure: Failure) -> Report {
        self.finish(ReportResult::Failure(failure))
    }

    /// A report for a refusal before or outside the engine (bad envelope, policy, rollback,
    /// install protocol, storage): no records, just the manifest (if known) and the failure.
    pub fn failure(manifest_digest: Option<[u8; 32]>, failure: Failure) -> Report {
        let mut b = Self::new();
        b.digest = manifest_digest;
        b.fail_with(failure)
    }

    fn finish(self, result: ReportResult) -> Report {
        Report {
            authenticated: self.authenticated,
            device_state: None,
            manifest_uri: self.uri,
            manifest_digest: self.digest,
            nonce: self.nonce,
            entries: self.entries,
            result,
            sequence_number: self.sequence_number,
            dropped_records: self.dropped,
            has_capability_report: false,
        }
    }

    fn push(&mut self, entry: Entry) -> bool {
        if self.entries.len() >= MAX_RECORDS {
            self.dropped = self.dropped.saturating_add(1);
            return false;
        }
        self.entries.push(entry);
        true
    }
}

/// What a report may claim about an attempt's manifest, taken from the authenticated manifest
/// only (kept by the install session between its steps).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ManifestClaims {
    /// SHA-256 of the bstr-wrapped manifest (verified against the authentication wrapper).
    pub digest: [u8; 32],
    /// suit-reference-uri, if the manifest has one.
    pub uri: Option<String>,
    /// The root manifest's sequence number.
    pub sequence_number: u64,
    /// The root manifest's components, for record component indices.
    pub components: Vec<ComponentId>,
}

impl ManifestClaims {
    /// The claims of an authenticated manifest.
    pub fn of(auth: &AuthenticatedManifest<'_>) -> Self {
        ManifestClaims {
            digest: auth.digest.0,
            uri: auth.manifest.reference_uri.clone(),
            sequence_number: auth.manifest.sequence_number,
            components: auth.manifest.common.components.clone(),
        }
    }
}

fn encode_state(e: &mut Enc, s: &DeviceState) -> Result<(), ReportError> {
    if s.components.len() > MAX_STATE_COMPONENTS {
        return Err(ReportError::TooLarge("device state components"));
    }
    e.map(2);
    e.uint(1);
    e.uint(s.provisioning_counter);
    e.uint(2);
    e.array(s.components.len());
    for c in &s.components {
        e.array(4);
        let segs = c.component.segments();
        e.array(segs.len());
        for seg in segs {
            e.bytes(seg);
        }
        e.uint(c.sequence_number);
        e.bytes(&crate::suit::Digest(c.digest).encode());
        e.uint(c.size);
    }
    Ok(())
}

fn decode_state(d: &mut Decoder<'_>) -> Result<DeviceState, ReportError> {
    const AT: &str = "device state";
    let n = d.map().map_err(m(AT))?;
    let mut state = DeviceState::default();
    for _ in 0..n {
        match d.int().map_err(m(AT))? {
            1 => state.provisioning_counter = d.uint().map_err(m(AT))?,
            2 => {
                let k = d.array().map_err(m(AT))?;
                if k > MAX_STATE_COMPONENTS {
                    return Err(ReportError::TooLarge("device state components"));
                }
                for _ in 0..k {
                    if d.array().map_err(m(AT))? != 4 {
                        return Err(ReportError::Malformed(AT));
                    }
                    let s = d.array().map_err(m(AT))?;
                    if s > crate::suit::component::MAX_SEGMENTS {
                        return Err(ReportError::TooLarge("system-component-id"));
                    }
                    let mut segs: Vec<&[u8]> = Vec::with_capacity(s);
                    for _ in 0..s {
                        segs.push(d.bytes().map_err(m(AT))?);
                    }
                    let sequence_number = d.uint().map_err(m(AT))?;
                    let digest = crate::suit::Digest::decode_all(d.bytes().map_err(m(AT))?)
                        .map_err(|_| ReportError::Malformed(AT))?;
                    let size = d.uint().map_err(m(AT))?;
                    state.components.push(InstalledComponent {
                        component: ComponentId::new(&segs),
                        sequence_number,
                        digest: digest.0,
                        size,
                    });
                }
            }
            _ => {
                d.skip().map_err(m(AT))?;
            }
        }
    }
    Ok(state)
}

/// Signs an encoded SUIT_Report as `SUIT_Report_COSE_Sign1_Tagged` (report draft §8): tag 18,
/// protected `{alg: ESP256}`, unprotected `{kid}` (first 16 bytes of SHA-256 over the key's
/// uncompressed SEC1 point, as the device's status reports it), the report as attached payload.
/// The bytes must be a SUIT_Report.
pub fn sign_report(report_bytes: &[u8], key: &p256::SecretKey) -> Result<Vec<u8>, ReportError> {
    decode_report(report_bytes)?;
    let signing = p256::ecdsa::SigningKey::from(key);
    let sec1 = key.public_key().to_sec1_point(false);
    let kid = crate::cose::key_id(sec1.as_bytes());
    let protected = HeaderBuilder::new()
        .algorithm(iana::Algorithm::ESP256)
        .build();
    let unprotected = HeaderBuilder::new().key_id(kid).build();
    CoseSign1Builder::new()
        .protected(protected)
        .unprotected(unprotected)
        .payload(report_bytes.to_vec())
        .try_create_signature(&[], |tbs| {
            use p256::ecdsa::signature::Signer;
            let sig: p256::ecdsa::Signature = signing
                .try_sign(tbs)
                .map_err(|_| ReportError::SigningFailed)?;
            Ok::<_, ReportError>(sig.to_bytes().to_vec())
        })?
        .build()
        .to_tagged_vec()
        .map_err(|_| ReportError::SigningFailed)
}

/// Verifies a signed report (COSE_Sign1, tagged or not, ESP256 or ES256, attached payload)
/// with the device's report key and decodes it.
pub fn verify_report(bytes: &[u8], key: &VerificationKey) -> Result<DecodedReport, ReportError> {
    if bytes.len() > MAX_SIGNED_REPORT_LEN {
        return Err(ReportError::TooLarge("signed report"));
    }
    cbor::check_well_formed(bytes).map_err(|_| ReportError::Cose(CoseError::Malformed))?;
    let sign1 = match Decoder::new(bytes).item() {
        Ok(Item::Tag(18)) => CoseSign1::from_tagged_slice(bytes),
        Ok(Item::Tag(t)) => return Err(ReportError::Cose(CoseError::UnsupportedStructure(t))),
        Ok(Item::Array(4)) => CoseSign1::from_slice(bytes),
        _ => return Err(ReportError::Cose(CoseError::Malformed)),
    }
    .map_err(|_| ReportError::Cose(CoseError::Malformed))?;
    if !sign1.protected.header.crit.is_empty() {
        return Err(ReportError::Cose(CoseError::UnknownCriticalHeader));
    }
    let alg = match &sign1.protected.header.alg {
        Some(coset::RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ESP256)) => {
            Algorithm::Esp256
        }
        Some(coset::RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES256)) => {
            Algorithm::Es256
        }
        Some(coset::RegisteredLabelWithPrivate::Assigned(a)) => {
            use coset::iana::EnumI64;
            return Err(ReportError::Cose(CoseError::UnsupportedAlgorithm(
                a.to_i64(),
            )));
        }
        Some(coset::RegisteredLabelWithPrivate::PrivateUse(i)) => {
            return Err(ReportError::Cose(CoseError::UnsupportedAlgorithm(*i)))
        }
        Some(coset::RegisteredLabelWithPrivate::Text(_)) => {
            return Err(ReportError::Cose(CoseError::UnsupportedAlgorithm(0)))
        }
        None => return Err(ReportError::Cose(CoseError::MissingAlgorithm)),
    };
    if !key.supports(alg) {
        return Err(ReportError::Cose(CoseError::KeyAlgorithmMismatch));
    }
    let payload = sign1
        .payload
        .as_deref()
        .ok_or(ReportError::Malformed("COSE_Sign1 payload is detached"))?;
    sign1
        .verify_signature(&[], |sig, tbs| key.check(alg, tbs, sig))
        .map_err(|_| ReportError::BadSignature)?;
    decode_report(payload)
}

// ---------------------------------------------------------------------------------------------
// Classification and location of engine failures.

fn classify(error: &Error) -> (Reason, i64) {
    match error {
        Error::Decode { .. } => (Reason::CborParse, code::DECODE),
        Error::Invalid { .. } => (Reason::CborParse, code::INVALID),
        Error::Unsupported(u) => match u {
            Unsupported::ManifestVersion(_) => (Reason::CborParse, code::UNSUPPORTED_VERSION),
            Unsupported::DigestAlgorithm(_) => (Reason::AlgUnsupported, code::UNSUPPORTED_DIGEST),
            Unsupported::Member(_) => (Reason::CborParse, code::UNSUPPORTED_MEMBER),
            Unsupported::Parameter(_) => {
                (Reason::ParameterUnsupported, code::UNSUPPORTED_PARAMETER)
            }
            Unsupported::Command(_) => (Reason::CommandUnsupported, code::UNSUPPORTED_COMMAND),
            Unsupported::UnauthenticatedManifest => {
                (Reason::Unauthorised, code::UNAUTHENTICATED_MANIFEST)
            }
        },
        Error::Auth(a) => match a {
            AuthError::NoAuthenticationBlock => (Reason::Unauthorised, code::AUTH_NO_BLOCK),
            AuthError::ManifestDigestMismatch => (Reason::Unauthorised, code::AUTH_DIGEST_MISMATCH),
            AuthError::NoMatchingTrustAnchor => (Reason::Unauthorised, code::AUTH_NO_ANCHOR),
            AuthError::BadSignature { .. } => (Reason::Unauthorised, code::AUTH_BAD_SIGNATURE),
            AuthError::Cose { error, .. } => match error {
                CoseError::UnsupportedAlgorithm(_) => (Reason::AlgUnsupported, code::AUTH_COSE),
                CoseError::VerificationFailed | CoseError::KeyAlgorithmMismatch => {
                    (Reason::Unauthorised, code::AUTH_COSE)
                }
                _ => (Reason::CoseUnsupported, code::AUTH_COSE),
            },
            AuthError::SeveredMemberDigestMismatch { .. } => {
                (Reason::Unauthorised, code::AUTH_SEVERED_MISMATCH)
            }
            AuthError::UnexpectedEnvelopeMember { .. } => {
                (Reason::CborParse, code::AUTH_UNEXPECTED_MEMBER)
            }
            AuthError::Dependency(inner) => classify(inner),
        },
        Error::Policy(p) => classify_policy(p),
        Error::Command(c) => match &c.kind {
            CommandErrorKind::Dependency(inner) => classify(inner),
            kind => (command_reason(kind), command_error_code(kind)),
        },
        Error::UnverifiedPlaintext(_) => (Reason::OperationFailed, code::UNVERIFIED_PLAINTEXT),
        Error::SeveredSectionMissing(_) => (Reason::SeveringUnsupported, code::SEVERED_MISSING),
        Error::Platform(_) => (Reason::OperationFailed, code::PLATFORM),
        Error::Limit(_) => (Reason::OperationFailed, code::LIMIT),
    }
}

fn classify_policy(p: &PolicyError) -> (Reason, i64) {
    match p {
        // No reason names rollback; the sequence-number check is a precondition that failed.
        PolicyError::Rollback { .. } | PolicyError::ComponentRollback { .. } => {
            (Reason::ConditionFailed, code::POLICY_ROLLBACK)
        }
        PolicyError::ComponentNotPermitted { .. } => {
            (Reason::ComponentUnauthorised, code::POLICY_COMPONENT)
        }
        PolicyError::MissingRequiredSigner { .. } => {
            (Reason::ComponentUnauthorised, code::POLICY_SIGNER)
        }
        PolicyError::IdentifierNotPermitted => {
            (Reason::ComponentUnauthorised, code::POLICY_IDENTIFIER)
        }
        PolicyError::PlaintextNotPermitted { .. } => {
            (Reason::ComponentUnauthorised, code::POLICY_PLAINTEXT)
        }
        PolicyError::UpdateManagement(_) => (Reason::Unauthorised, code::POLICY_UPDATE_MANAGEMENT),
    }
}

fn command_reason(kind: &CommandErrorKind) -> Reason {
    match kind {
        CommandErrorKind::ConditionFailed(_) | CommandErrorKind::TryEachExhausted => {
            Reason::ConditionFailed
        }
        CommandErrorKind::UnsupportedCommand(_) => Reason::CommandUnsupported,
        CommandErrorKind::ComponentIndexOutOfRange(_) => Reason::ComponentUnsupported,
        CommandErrorKind::Policy(_) => Reason::ComponentUnauthorised,
        // A failed update-management condition (version, use-before, battery, authorization,
        // image-not-match) is a failed condition; a wait or metadata failure an operation.
        CommandErrorKind::UpdateManagement(e) if e.is_condition() => Reason::ConditionFailed,
        _ => Reason::OperationFailed,
    }
}

fn failure_record(error: &Error, envelope: Option<&[u8]>) -> ReportRecord {
    let mut walk: Vec<u64> = Vec::new();
    let mut e = error;
    loop {
        match e {
            Error::Command(c) => match &c.kind {
                CommandErrorKind::Dependency(inner) if walk.len() < MAX_WALK => {
                    walk.push(c.location.component.map_or(0, |i| i as u64));
                    e = inner;
                }
                _ => return command_record(walk, &c.location, envelope),
            },
            Error::Auth(AuthError::Dependency(inner)) => e = inner,
            Error::Policy(PolicyError::ComponentNotPermitted { component })
            | Error::Policy(PolicyError::MissingRequiredSigner { component, .. }) => {
                let mut r = ReportRecord::outside_commands(Some(*component));
                r.manifest_id = walk;
                return r;
            }
            _ => {
                let mut r = ReportRecord::outside_commands(None);
                r.manifest_id = walk;
                return r;
            }
        }
    }
}

fn command_record(walk: Vec<u64>, loc: &Location, envelope: Option<&[u8]>) -> ReportRecord {
    // The engine gives the offset at every depth; the command label is read back from the
    // root manifest's bytes when the caller holds them (a dependency's are not kept).
    let label = match envelope {
        Some(env) if walk.is_empty() && loc.offset.is_some() => {
            command_offset(env, loc.section, &loc.path)
                .filter(|(o, _)| Some(*o) == loc.offset)
                .map(|(_, l)| l)
        }
        _ => None,
    };
    ReportRecord {
        manifest_id: walk,
        section: section_label(loc.section),
        offset: loc.offset.unwrap_or(0),
        component_index: loc.component.map_or(0, |i| i as u64),
        properties: Vec::new(),
        command: label,
        success: label.map(|_| false),
    }
}

const CMD_TRY_EACH: i64 = 15;
const CMD_RUN_SEQUENCE: i64 = 32;

/// Byte offset (into the section's command sequence, nested sequences included) and label of
/// the command at `path` (the engine's [`Location::path`]) in the root manifest of `envelope`.
pub fn command_offset(envelope: &[u8], section: Section, path: &[u16]) -> Option<(u64, i64)> {
    let env = Envelope::decode(envelope).ok()?;
    let seq = section_bytes(&env, section)?;
    walk_sequence(seq, path, 0)
}

fn section_bytes<'a>(env: &Envelope<'a>, section: Section) -> Option<&'a [u8]> {
    let key = match section {
        Section::Shared => {
            let common = map_value(env.manifest, 3)?;
            let common = Decoder::new(common).bytes().ok()?;
            let shared = map_value(common, 4)?;
            return Decoder::new(shared).bytes().ok();
        }
        s => section_label(s),
    };
    let value = map_value(env.manifest, key)?;
    let mut d = Decoder::new(value);
    match d.peek().ok()? {
        Item::Bytes(_) => d.bytes().ok(),
        // Severed: the envelope carries it under the same key.
        _ => env
            .severed
            .iter()
            .find(|m| m.label == key)
            .map(|m| m.content),
    }
}

/// The encoded value of integer key `key` in the map `bytes`.
fn map_value(bytes: &[u8], key: i64) -> Option<&[u8]> {
    let mut d = Decoder::new(bytes);
    let n = d.map().ok()?;
    for _ in 0..n {
        let k = d.int().ok();
        let v = d.skip().ok()?;
        if k == Some(key) {
            return Some(v);
        }
    }
    None
}

fn walk_sequence(seq: &[u8], path: &[u16], base: u64) -> Option<(u64, i64)> {
    let (&target, rest) = path.split_first()?;
    let mut d = Decoder::new(seq);
    let n = d.array().ok()? / 2;
    for i in 0..n {
        let pos = d.position() as u64;
        let label = d.int().ok()?;
        if i != usize::from(target) {
            d.skip().ok()?;
            continue;
        }
        let here = base.checked_add(pos)?;
        if rest.is_empty() {
            return Some((here, label));
        }
        return match label {
            CMD_TRY_EACH => {
                let (&option, inner) = rest.split_first()?;
                let m = d.array().ok()?;
                for j in 0..m {
                    if j == usize::from(option) {
                        let content = d.bytes().ok()?;
                        let start = d.position().checked_sub(content.len())? as u64;
                        return walk_sequence(content, inner, base.checked_add(start)?);
                    }
                    d.skip().ok()?;
                }
                None
            }
            CMD_RUN_SEQUENCE => {
                let content = d.bytes().ok()?;
                let start = d.position().checked_sub(content.len())? as u64;
                walk_sequence(content, rest, base.checked_add(start)?)
            }
            _ => Some((here, label)),
        };
    }
    None
}

fn bounded_text(s: &str, max: usize) -> String {
    if s.len() <= max {
        return String::from(s);
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    String::from(s.get(..end).unwrap_or(""))
}

// ---------------------------------------------------------------------------------------------
// Encoding.

struct Enc(Vec<u8>);

impl Enc {
    fn head(&mut self, major: u8, n: u64) {
        crate::suit::component::push_header(&mut self.0, major, n);
    }
    fn uint(&mut self, n: u64) {
        self.head(0, n);
    }
    fn int(&mut self, i: i64) {
        if i >= 0 {
            self.head(0, i as u64);
        } else {
            // -1 - i cannot overflow for a negative i64.
            self.head(1, (-1 - i) as u64);
        }
    }
    fn bytes(&mut self, b: &[u8]) {
        self.head(2, b.len() as u64);
        self.0.extend_from_slice(b);
    }
    fn text(&mut self, t: &str) {
        self.head(3, t.len() as u64);
        self.0.extend_from_slice(t.as_bytes());
    }
    fn array(&mut self, n: usize) {
        self.head(4, n as u64);
    }
    fn map(&mut self, n: usize) {
        self.head(5, n as u64);
    }
    fn bool(&mut self, b: bool) {
        self.0.push(if b { 0xf5 } else { 0xf4 });
    }
    fn value(&mut self, v: &Value) -> Result<(), ReportError> {
        match v {
            Value::Uint(n) => self.uint(*n),
            Value::Int(i) => self.int(*i),
            Value::Bytes(b) if b.len() <= MAX_VALUE_LEN => self.bytes(b),
            Value::Text(t) if t.len() <= MAX_VALUE_LEN => self.text(t),
            Value::Bool(b) => self.bool(*b),
            Value::Other(raw) if raw.len() <= MAX_VALUE_LEN => {
                cbor::check_well_formed(raw).map_err(|_| ReportError::Malformed("property"))?;
                self.0.extend_from_slice(raw);
            }
            _ => return Err(ReportError::TooLarge("property value")),
        }
        Ok(())
    }
    fn properties(&mut self, props: &[(i64, Value)], extra: usize) -> Result<(), ReportError> {
        if props.len() > MAX_PROPERTIES {
            return Err(ReportError::TooLarge("properties"));
        }
        for (i, (k, _)) in props.iter().enumerate() {
            if props.iter().take(i).any(|(k2, _)| k2 == k) {
                return Err(ReportError::Malformed("duplicate property"));
            }
        }
        self.map(props.len() + extra);
        for (k, v) in props {
            self.int(*k);
            self.value(v)?;
        }
        Ok(())
    }
}

fn encode_record(e: &mut Enc, r: &ReportRecord) -> Result<(), ReportError> {
    if r.manifest_id.len() > MAX_WALK {
        return Err(ReportError::TooLarge("manifest walk"));
    }
    e.array(if r.command.is_some() { 7 } else { 5 });
    e.array(r.manifest_id.len());
    for i in &r.manifest_id {
        e.uint(*i);
    }
    e.int(r.section);
    e.uint(r.offset);
    e.uint(r.component_index);
    e.properties(&r.properties, 0)?;
    if let Some(c) = r.command {
        e.int(c);
        e.bool(r.success.unwrap_or(false));
    }
    Ok(())
}

fn encode_system(e: &mut Enc, s: &SystemProperties) -> Result<(), ReportError> {
    if s.properties.len() > MAX_PROPERTIES {
        return Err(ReportError::TooLarge("properties"));
    }
    if s.properties
        .iter()
        .any(|(k, _)| *k == label::SYSTEM_COMPONENT_ID)
    {
        return Err(ReportError::Malformed(
            "property uses the component-id label",
        ));
    }
    let mut id = Enc(Vec::new());
    let segs = s.component.segments();
    id.array(segs.len());
    for seg in segs {
        id.bytes(seg);
    }
    // Keys in order: 0 (component id) first, then the parameters as given.
    e.map(s.properties.len() + 1);
    e.int(label::SYSTEM_COMPONENT_ID);
    e.0.extend_from_slice(&id.0);
    for (k, v) in &s.properties {
        e.int(*k);
        e.value(v)?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Decoding.

fn m(what: &'static str) -> impl Fn(cbor::CborError) -> ReportError {
    move |_| ReportError::Malformed(what)
}

fn decode_report(bytes: &[u8]) -> Result<Report, ReportError> {
    if bytes.len() > MAX_REPORT_LEN {
        return Err(ReportError::TooLarge("report"));
    }
    cbor::check_well_formed(bytes).map_err(m("SUIT_Report is not well-formed CBOR"))?;
    let mut d = Decoder::new(bytes);
    match d.peek() {
        // SUIT_Report_COSE_Encrypt0 (tagged or a 3-element array).
        Ok(Item::Tag(16)) | Ok(Item::Array(3)) => return Err(ReportError::Encrypted),
        _ => {}
    }
    let n = d.map().map_err(m("SUIT_Report is not a map"))?;
    let mut reference = None;
    let mut records = None;
    let mut result = None;
    let mut report = Report {
        manifest_uri: None,
        manifest_digest: None,
        nonce: None,
        entries: Vec::new(),
        result: ReportResult::Success,
        sequence_number: None,
        dropped_records: 0,
        has_capability_report: false,
        authenticated: None,
        device_state: None,
    };
    let mut detail = None;
    for _ in 0..n {
        let key = d.int().map_err(m("SUIT_Report key"))?;
        match key {
            label::REFERENCE => reference = Some(decode_reference(&mut d)?),
            label::NONCE => {
                let nonce = d.bytes().map_err(m("suit-report-nonce"))?;
                if nonce.len() > MAX_NONCE_LEN {
                    return Err(ReportError::TooLarge("nonce"));
                }
                report.nonce = Some(nonce.to_vec());
            }
            label::RECORDS => {
                let k = d.array().map_err(m("suit-report-records"))?;
                if k > MAX_RECORDS {
                    return Err(ReportError::TooLarge("records"));
                }
                let mut entries = Vec::with_capacity(k);
                for _ in 0..k {
                    entries.push(match d.peek().map_err(m("suit-report-records"))? {
                        Item::Map(_) => Entry::System(decode_system(&mut d)?),
                        _ => Entry::Record(decode_record(&mut d)?),
                    });
                }
                records = Some(entries);
            }
            label::RESULT => result = Some(decode_result(&mut d)?),
            label::CAPABILITY_REPORT => {
                d.skip().map_err(m("capability report"))?;
                report.has_capability_report = true;
            }
            label::EXT_SEQUENCE_NUMBER => {
                report.sequence_number = Some(d.uint().map_err(m("sequence number"))?);
            }
            label::EXT_DETAIL => {
                let t = d.text().map_err(m("detail"))?;
                detail = Some(bounded_text(t, MAX_DETAIL_LEN));
            }
            label::EXT_DROPPED_RECORDS => {
                report.dropped_records = d.uint().map_err(m("dropped records"))?;
            }
            label::EXT_AUTHENTICATED => {
                report.authenticated = Some(d.bool().map_err(m("authenticated"))?);
            }
            label::EXT_DEVICE_STATE => report.device_state = Some(decode_state(&mut d)?),
            _ => {
                d.skip().map_err(m("extension"))?;
            }
        }
    }
    d.finish().map_err(m("bytes after SUIT_Report"))?;
    let (uri, digest) = reference.ok_or(ReportError::Malformed("suit-reference missing"))?;
    report.manifest_uri = uri;
    report.manifest_digest = digest;
    report.entries = records.ok_or(ReportError::Malformed("suit-report-records missing"))?;
    report.result = result.ok_or(ReportError::Malformed("suit-report-result missing"))?;
    if let ReportResult::Failure(f) = &mut report.result {
        f.detail = detail;
    }
    Ok(report)
}

type Reference = (Option<String>, Option<[u8; 32]>);

fn decode_reference(d: &mut Decoder<'_>) -> Result<Reference, ReportError> {
    const AT: &str = "suit-reference";
    if d.array().map_err(m(AT))? != 2 {
        return Err(ReportError::Malformed(AT));
    }
    let uri = d.text().map_err(m("suit-report-manifest-uri"))?;
    if uri.len() > MAX_URI_LEN {
        return Err(ReportError::TooLarge("manifest URI"));
    }
    const DIG: &str = "suit-report-manifest-digest";
    let k = d.array().map_err(m(DIG))?;
    if k < 2 {
        return Err(ReportError::Malformed(DIG));
    }
    let alg = d.int().map_err(m(DIG))?;
    let bytes = d.bytes().map_err(m(DIG))?;
    for _ in 2..k {
        d.skip().map_err(m(DIG))?;
    }
    let digest = match (alg, bytes.len()) {
        (_, 0) => None,
        (COSE_ALG_SHA256, 32) => {
            let mut out = [0u8; 32];
            out.copy_from_slice(bytes);
            Some(out)
        }
        _ => return Err(ReportError::Malformed(DIG)),
    };
    let uri = (!uri.is_empty()).then(|| String::from(uri));
    Ok((uri, digest))
}

fn decode_record(d: &mut Decoder<'_>) -> Result<ReportRecord, ReportError> {
    const AT: &str = "SUIT_Record";
    let n = d.array().map_err(m(AT))?;
    if n < 5 {
        return Err(ReportError::Malformed(AT));
    }
    let w = d.array().map_err(m("suit-record-manifest-id"))?;
    if w > MAX_WALK {
        return Err(ReportError::TooLarge("manifest walk"));
    }
    let mut manifest_id = Vec::with_capacity(w);
    for _ in 0..w {
        manifest_id.push(d.uint().map_err(m("suit-record-manifest-id"))?);
    }
    let section = d.int().map_err(m("suit-record-manifest-section"))?;
    let offset = d.uint().map_err(m("suit-record-section-offset"))?;
    let component_index = d.uint().map_err(m("suit-record-component-index"))?;
    let k = d.map().map_err(m("suit-record-properties"))?;
    if k > MAX_PROPERTIES {
        return Err(ReportError::TooLarge("properties"));
    }
    let mut properties = Vec::with_capacity(k);
    for _ in 0..k {
        let key = d.int().map_err(m("suit-record-properties"))?;
        properties.push((key, decode_value(d)?));
    }
    let mut r = ReportRecord {
        manifest_id,
        section,
        offset,
        component_index,
        properties,
        command: None,
        success: None,
    };
    let mut extra = n - 5;
    if extra >= 2 {
        // This implementation's extension: [command label, success]; anything else is skipped.
        let mut probe = d.clone();
        if let (Ok(c), Ok(s)) = (probe.int(), probe.bool()) {
            r.command = Some(c);
            r.success = Some(s);
            *d = probe;
            extra -= 2;
        }
    }
    for _ in 0..extra {
        d.skip().map_err(m(AT))?;
    }
    Ok(r)
}

fn decode_system(d: &mut Decoder<'_>) -> Result<SystemProperties, ReportError> {
    const AT: &str = "system-property-claims";
    let n = d.map().map_err(m(AT))?;
    if n > MAX_PROPERTIES + 1 {
        return Err(ReportError::TooLarge("properties"));
    }
    let mut component = None;
    let mut properties = Vec::with_capacity(n);
    for _ in 0..n {
        let key = d.int().map_err(m(AT))?;
        if key == label::SYSTEM_COMPONENT_ID {
            let k = d.array().map_err(m("system-component-id"))?;
            if k > crate::suit::component::MAX_SEGMENTS {
                return Err(ReportError::TooLarge("system-component-id"));
            }
            let mut segs: Vec<&[u8]> = Vec::with_capacity(k);
            for _ in 0..k {
                segs.push(d.bytes().map_err(m("system-component-id"))?);
            }
            component = Some(ComponentId::new(&segs));
        } else {
            properties.push((key, decode_value(d)?));
        }
    }
    Ok(SystemProperties {
        component: component.ok_or(ReportError::Malformed("system-component-id missing"))?,
        properties,
    })
}

fn decode_value(d: &mut Decoder<'_>) -> Result<Value, ReportError> {
    const AT: &str = "property value";
    let raw = d.clone().skip().map_err(m(AT))?;
    if raw.len() > MAX_VALUE_LEN + 9 {
        return Err(ReportError::TooLarge(AT));
    }
    let v = match d.peek().map_err(m(AT))? {
        Item::Uint(n) => Value::Uint(n),
        Item::Nint(n) => match i64::try_from(n) {
            Ok(n) => Value::Int(-1 - n),
            Err(_) => Value::Other(raw.to_vec()),
        },
        Item::Bytes(b) => Value::Bytes(b.to_vec()),
        Item::Text(t) => Value::Text(String::from(t)),
        Item::Bool(b) => Value::Bool(b),
        // Containers, tags, other simple values: kept whole, as encoded.
        _ => Value::Other(raw.to_vec()),
    };
    d.skip().map_err(m(AT))?;
    Ok(v)
}

fn decode_result(d: &mut Decoder<'_>) -> Result<ReportResult, ReportError> {
    const AT: &str = "suit-report-result";
    match d.peek().map_err(m(AT))? {
        Item::Bool(true) => {
            d.item().map_err(m(AT))?;
            Ok(ReportResult::Success)
        }
        Item::Map(_) => {
            let n = d.map().map_err(m(AT))?;
            let (mut code, mut record, mut reason) = (None, None, None);
            for _ in 0..n {
                match d.int().map_err(m(AT))? {
                    label::RESULT_CODE => code = Some(d.int().map_err(m("result code"))?),
                    label::RESULT_RECORD => record = Some(decode_record(d)?),
                    label::RESULT_REASON => {
                        reason = Some(Reason::from_code(d.int().map_err(m("result reason"))?))
                    }
                    _ => {
                        d.skip().map_err(m(AT))?;
                    }
                }
            }
            Ok(ReportResult::Failure(Failure {
                reason: reason.ok_or(ReportError::Malformed("result reason missing"))?,
                code: code.ok_or(ReportError::Malformed("result code missing"))?,
                record: record.ok_or(ReportError::Malformed("result record missing"))?,
                detail: None,
            }))
        }
        _ => Err(ReportError::Malformed(AT)),
    }
}
