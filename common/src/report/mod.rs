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
//! sequence number ([`label::EXT_SEQUENCE_NUMBER`]), the failure as a typed code
//! ([`label::EXT_FAULT`], put into words by the host tools), the number of records dropped at the bound
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
#[cfg(feature = "explain")]
use core::fmt;

use crate::cose::CoseError;
use crate::registry::Command;
use crate::suit::component::ComponentId;
use crate::suit::error::{Error, Section};
use crate::suit::platform::Event;

mod builder;
mod classify;
mod codec;

pub use crate::registry::Reason;
pub use builder::{ManifestClaims, ReportBuilder};
pub use classify::{command_error_code, command_offset};
pub use codec::{
    open_report, seal, sign_report, unverified_report_payload, verify_and_open, verify_report,
    OpenedReport, StoredSigner, MAX_STORED_SIGNERS,
};

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
/// Longest manifest reference URI carried: the manifest's own bound, so a report always
/// repeats it exactly, as the draft requires.
pub const MAX_URI_LEN: usize = crate::suit::manifest::MAX_REFERENCE_URI_LEN;
/// Most properties in one record or claim.
pub const MAX_PROPERTIES: usize = 16;
/// Longest property value (bytes or text).
pub const MAX_VALUE_LEN: usize = 256;
/// Longest suit-report-manifest-digest by another algorithm than SHA-256 a report may carry
/// ([`Report::other_manifest_digest`]): SHA-512's 64 bytes, and a SHAKE output of up to 128.
pub const MAX_OTHER_DIGEST_LEN: usize = 128;
/// Deepest manifest walk (`suit-record-manifest-id`) accepted.
pub const MAX_WALK: usize = 8;

/// Map labels (report draft §10.5) and this implementation's extensions.
pub mod label {
    use crate::registry::ReportKey;

    /// suit-report-nonce.
    pub const NONCE: i64 = ReportKey::Nonce.value();
    /// suit-report-records.
    pub const RECORDS: i64 = ReportKey::Records.value();
    /// suit-report-result.
    pub const RESULT: i64 = ReportKey::Result.value();
    /// suit-report-result-code.
    pub const RESULT_CODE: i64 = ReportKey::ResultCode.value();
    /// suit-report-result-record.
    pub const RESULT_RECORD: i64 = ReportKey::ResultRecord.value();
    /// suit-report-result-reason.
    pub const RESULT_REASON: i64 = ReportKey::ResultReason.value();
    /// suit-report-capability-report (read and skipped; never produced).
    pub const CAPABILITY_REPORT: i64 = ReportKey::CapabilityReport.value();
    /// suit-reference.
    pub const REFERENCE: i64 = ReportKey::Reference.value();
    /// system-component-id in a system-property-claims map (no registry entry in -18; 0, as
    /// other implementations use).
    pub const SYSTEM_COMPONENT_ID: i64 = 0;
    /// Extension: the root manifest's sequence number (uint).
    pub const EXT_SEQUENCE_NUMBER: i64 = -70001;
    /// Extension: what failed, as the TA's typed fault ([`crate::fault::Fault`]: an array
    /// `[code, fields...]`, no secrets). Replaces -70002, which carried the same in words.
    pub const EXT_FAULT: i64 = -70006;
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
    section.manifest_key().value()
}

/// Name of a `suit-record-manifest-section` value (0: outside any command sequence).
pub fn section_name(label: i64) -> &'static str {
    match Section::from_manifest_key(label) {
        Some(Section::Shared) => crate::registry::CommonKey::SharedSequence.short_name(),
        Some(s) => s.manifest_key().short_name(),
        None if label == 0 => "none",
        None => "unknown",
    }
}

/// SUIT command label of an engine event (manifest draft §8.4.10/§8.4.11, trust domains).
pub fn command_label(event: Event) -> i64 {
    let command = match event {
        Event::Condition(kind) => kind.command(),
        Event::Fetch => Command::Fetch,
        Event::Copy => Command::Copy,
        Event::Write => Command::Write,
        Event::Swap => Command::Swap,
        Event::Invoke => Command::Invoke,
        Event::ProcessDependency => Command::ProcessDependency,
        Event::Unlink => Command::Unlink,
        Event::Wait => Command::Wait,
    };
    command.value()
}

/// Name of a SUIT command label (the draft's name without `suit-`).
pub fn command_name(label: i64) -> &'static str {
    Command::from_value(label).map_or("unknown-command", Command::short_name)
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
    /// No signer may record a sequence number under the manifest's identifier.
    pub const POLICY_SEQUENCE_KEY: i64 = 406;
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
    /// Content for a component inside the TEE that nothing signed vouches for (device policy).
    pub const UNVOUCHED_CONTENT: i64 = 604;
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
    use crate::registry::Parameter;

    /// suit-parameter-vendor-identifier.
    pub const VENDOR_ID: i64 = Parameter::VendorIdentifier.value();
    /// suit-parameter-class-identifier.
    pub const CLASS_ID: i64 = Parameter::ClassIdentifier.value();
    /// suit-parameter-image-digest (`bstr .cbor SUIT_Digest`).
    pub const IMAGE_DIGEST: i64 = Parameter::ImageDigest.value();
    /// suit-parameter-image-size.
    pub const IMAGE_SIZE: i64 = Parameter::ImageSize.value();
    /// suit-parameter-device-identifier.
    pub const DEVICE_ID: i64 = Parameter::DeviceIdentifier.value();
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
    /// Extension [`label::EXT_FAULT`]: what failed, typed.
    pub detail: Option<crate::fault::Fault>,
}

impl Failure {
    /// A failure outside the engine (install protocol, storage, ...).
    pub fn new(reason: Reason, code: i64, detail: crate::fault::Fault) -> Self {
        Failure {
            reason,
            code,
            record: ReportRecord::outside_commands(None),
            detail: Some(detail),
        }
    }

    /// The failure an engine error describes. With `envelope` (the bytes given to the engine),
    /// a failed command of the root manifest gets its byte offset and command label.
    pub fn from_error(error: &Error, envelope: Option<&[u8]>) -> Self {
        Self::from_shared_error(alloc::sync::Arc::new(error.clone()), envelope)
    }

    /// [`Self::from_error`] keeping `error` itself as the detail: the service's refusal
    /// shares it, so the engine's error is never deep-cloned.
    pub fn from_shared_error(error: alloc::sync::Arc<Error>, envelope: Option<&[u8]>) -> Self {
        let (reason, code) = classify::classify(&error);
        let record = classify::failure_record(&error, envelope);
        Failure {
            reason,
            code,
            record,
            detail: Some(crate::fault::Fault::Install(
                crate::service::install::InstallError::Refused(error),
            )),
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
    /// suit-report-manifest-digest by another algorithm manifest-37 lists (SHAKE128 -18,
    /// SHA-384 -43, SHA-512 -44, SHAKE256 -45): `(algorithm, bytes)`, read from a third
    /// party's report (this device hashes with SHA-256 only, so it never builds one); at most
    /// [`MAX_OTHER_DIGEST_LEN`] bytes. Encoded in place of an absent `manifest_digest`.
    pub other_manifest_digest: Option<(i64, Vec<u8>)>,
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
    /// Counter of the last applied provisioning message the TPA root signed.
    pub provisioning_counter: u64,
    /// Counter of the last applied provisioning message a delegated TPA anchor signed (the
    /// delegates share one). Encoded only when not 0 (key 3), so a device no delegate message
    /// reached signs the same bytes as before it was carried; reports of TAs before session
    /// 18 never carry it (0 here).
    pub delegate_counter: u64,
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
    /// only after it matched); `None` (nil) when the device withholds it (content only its
    /// AEAD tag authenticated: SECURITY.md), so the component is still listed.
    pub digest: Option<[u8; 32]>,
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
        codec::encode_report(self)
    }

    /// Decodes an (unsigned) SUIT_Report. Use [`verify_report`] for what a device sent.
    pub fn decode(bytes: &[u8]) -> Result<Self, ReportError> {
        codec::decode_report(bytes)
    }

    /// Signs a report this device stored (its own encoding, without nonce and device state)
    /// with `nonce` and `state` put in, without decoding it: what the Report command signs.
    ///
    /// `recipient` gets the signers the stored report names ([`Report::encode_stored`]) and
    /// answers with the status tracker key to seal the report to, if any: then the signed
    /// payload is the `SUIT_Report_COSE_Encrypt0` of the report ([`seal`]), made with `rng`.
    /// Its error (a key that cannot be used) fails the report rather than sign it in clear.
    pub fn sign_stored(
        stored: &[u8],
        nonce: Option<&[u8]>,
        state: &DeviceState,
        key: &p256::SecretKey,
        recipient: impl FnOnce(&[StoredSigner]) -> Result<Option<p256::PublicKey>, ReportError>,
        rng: &mut impl rand_core::CryptoRng,
    ) -> Result<Vec<u8>, ReportError> {
        codec::sign_stored(stored, nonce, state, key, recipient, rng)
    }

    /// Encodes the report as the device stores it: [`Report::encode`] plus the anchors that
    /// authenticated its manifest (none: exactly [`Report::encode`]), which
    /// [`Report::sign_stored`] hands to its `recipient` and never signs.
    pub fn encode_stored(&self, signers: &[StoredSigner]) -> Result<Vec<u8>, ReportError> {
        codec::encode_stored(self, signers)
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
    /// The payload is a SUIT_Report_COSE_Encrypt0 and no status tracker key was given to
    /// open it.
    Encrypted,
    /// Signing failed.
    SigningFailed,
    /// Sealing the report to the status tracker's key failed.
    EncryptionFailed,
    /// The SUIT_Report_COSE_Encrypt0 does not open with the given key (another key, a changed
    /// byte, or not HPKE integrated encryption).
    Undecryptable,
}

#[cfg(feature = "explain")]
impl fmt::Display for ReportError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportError::Malformed(what) => write!(f, "malformed report: {what}"),
            ReportError::TooLarge(what) => write!(f, "report too large: {what}"),
            ReportError::Cose(e) => write!(f, "report signature envelope refused: {e}"),
            ReportError::BadSignature => f.write_str("report signature does not verify"),
            ReportError::Encrypted => f.write_str(
                "the report is encrypted (SUIT_Report_COSE_Encrypt0): the status tracker's \
                 private key is needed to read it",
            ),
            ReportError::SigningFailed => f.write_str("signing the report failed"),
            ReportError::EncryptionFailed => f.write_str("encrypting the report failed"),
            ReportError::Undecryptable => {
                f.write_str("the encrypted report does not open with the given status tracker key")
            }
        }
    }
}

#[cfg(feature = "explain")]
impl core::error::Error for ReportError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            ReportError::Cose(e) => Some(e),
            _ => None,
        }
    }
}
