//! The host ↔ TA wire protocol, defined once for both sides.
//!
//! Every command uses the same parameter layout, so the TA can check it before looking at
//! anything else:
//!
//! | slot | type | direction | meaning |
//! |---|---|---|---|
//! | 0 | value | in/out | in: `a` = [`PROTOCOL_VERSION`] (see [`speaks`]); out: `a` = [`Status`] code, `b` = response length (on [`Status::ResponseTooLarge`]: the slot needed, [`MAX_RESPONSE`] when a shorter slot was refused before the command ran) |
//! | 1 | memref | in | request: one CBOR item (at most [`MAX_REQUEST`] bytes) |
//! | 2 | memref | out | response: one CBOR item, or a [`Refusal`] when `a` ≠ 0; at least [`MAX_RESPONSE`] bytes, or the command is refused before it runs |
//! | 3 | none | | |
//!
//! Application outcomes travel in slot 0 with `TEE_SUCCESS` as the GP return code, because GP
//! leaves output parameters undefined when a command fails; a GP error therefore only ever
//! means the layout itself was wrong or the TA died. No response ever carries a secret.

#![no_std]
#![forbid(unsafe_code)]

extern crate alloc;
#[cfg(test)]
extern crate std;

mod codec;
mod reply;
pub mod text;

pub use codec::{
    decode, decode_in_place, encode, encode_dyn, ByteBuf, Codec, CodecError, Encode, Field, Span,
    Take,
};
pub use reply::{decode_reply, ReplyError};
pub use suit_cbor as cbor;

use alloc::string::String;
use alloc::vec::Vec;

/// The TA's UUID (what the REE loads as `<uuid>.ta`).
pub const TA_UUID: &str = "9d5bbaf6-bb0a-4eff-9ae3-b19cb9de8665";

/// Bumped on any incompatible change to commands, layouts or message shapes.
/// 2: [`Refusal::kind`] is a [`RefusalKind`] code (an unsigned integer), no longer text.
/// 3: [`Refusal::fault`] and [`ServiceInfo::state_error`] are typed faults, no longer text.
/// 4: [`ProvisionResponse::applied`] lists typed [`Applied`] operations, no longer text.
/// 5: status, anchors and a finished install are data the agent words: component ids as
/// [`ComponentPath`], unconfirmed TAs as [`TaUuid`], an anchor's role and [`KeyType`], a
/// rule's [`Requirement`]s, and the OS version as [`PropertyText`].
/// 6: [`Command::InstallPayload`] answers [`PayloadChunkResponse`]: the URIs a dependency
/// envelope the chunk completed adds to the install (the REE delivers them too).
/// 7: a commit interrupted while its TA image (kept only in TA memory) was on its way to
/// OP-TEE awaits the same envelope again ([`ServiceInfo::awaiting_envelope`]), or its
/// abandonment ([`Command::InstallAbandon`]).
pub const PROTOCOL_VERSION: u32 = 7;

/// The oldest version whose [`Command::PersonalizationGet`] exchange (an empty request, a
/// [`PersonalizationResponse`], refusals as typed faults) is this one's: consumer TAs are
/// built and installed apart from the update TA, so they must keep getting their data when
/// it is updated. Raise it only with a change to that exchange.
pub const PERSONALIZATION_SINCE: u32 = 3;

/// Whether a client speaking `version` is served `command` (a raw command code): every
/// command needs [`PROTOCOL_VERSION`] but [`Command::PersonalizationGet`], which a consumer
/// TA may ask in any version from [`PERSONALIZATION_SINCE`] on.
pub fn speaks(command: u32, version: u32) -> bool {
    version == PROTOCOL_VERSION
        || (command == Command::PersonalizationGet as u32
            && (PERSONALIZATION_SINCE..PROTOCOL_VERSION).contains(&version))
}

/// Largest data chunk of a streamed transfer (envelope or payload).
pub const MAX_CHUNK: usize = 256 * 1024;

/// Largest request the TA copies in: a chunk plus its message framing.
pub const MAX_REQUEST: usize = MAX_CHUNK + 4096;

/// Largest response the TA produces; the host allocates this much for slot 2.
pub const MAX_RESPONSE: usize = 64 * 1024;

/// Most detached payloads one install lists, those [`PayloadChunkResponse`]s add included:
/// the TA lists no more, and the agent takes no more from it.
pub const MAX_PAYLOADS: usize = 8;

/// Command identifiers (the GP `commandID`). Each CBOR command's request type implements
/// [`Request`], which names the command and the response; [`REQUESTS`] lists the pairs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Command {
    /// Report protocol and TA versions and the platform's protections:
    /// [`StatusRequest`] → [`StatusResponse`].
    Status = 1,
    /// Export the public halves of the device keys, with a signed key statement:
    /// [`DeviceKeyRequest`] → [`DeviceKeyResponse`].
    DeviceKey = 2,
    /// Apply a TPA-signed provisioning message: [`ProvisionRequest`] → [`ProvisionResponse`].
    Provision = 3,
    /// List trust anchors, rules and identity (no secrets):
    /// [`AnchorsRequest`] → [`AnchorsResponse`].
    Anchors = 4,
    /// Start an install: [`InstallBeginRequest`] → [`Empty`].
    InstallBegin = 5,
    /// One envelope chunk: [`ChunkRequest`] → [`Empty`].
    InstallEnvelope = 6,
    /// Authenticate and check the envelope: [`InstallPrepareRequest`] →
    /// [`InstallPrepareResponse`].
    InstallPrepare = 7,
    /// One payload chunk: [`PayloadChunkRequest`] → [`PayloadChunkResponse`].
    InstallPayload = 8,
    /// Run the update and commit: [`InstallFinishRequest`] → [`InstallFinishResponse`].
    InstallFinish = 9,
    /// Personalization data of the calling TA: [`PersonalizationRequest`] →
    /// [`PersonalizationResponse`]. Only answered on a TA-to-TA session
    /// (`TEE_LOGIN_TRUSTED_APP`) whose client UUID is the TA the data was installed for;
    /// refused for everyone else, the REE included.
    PersonalizationGet = 10,
    /// A chunk of an approved REE component: [`ReeExportRequest`] → [`ReeExportResponse`].
    ReeExport = 11,
    /// The SUIT report of the latest install attempt, signed now over the caller's nonce:
    /// [`ReportRequest`] → [`ReportResponse`].
    Report = 12,
    /// Test builds only (a TA built with the insecure test TPA root; refused as an unknown
    /// command otherwise, and by the simulator): known-answer checks and timings of the TA's
    /// crypto providers on public inputs. Request and reply are text, not CBOR
    /// (`suit_common::crypto::bench`), so it has no [`Request`] type: callers invoke it with
    /// raw bytes.
    CryptoBench = 13,
    /// Test builds only, as [`Command::CryptoBench`]: how often each needle occurs anywhere in
    /// the TA's heap arena, live or freed blocks alike, and in the dead part of its stack (the
    /// test's evidence, inside OP-TEE, that no plaintext or key outlives the command that
    /// used it). Request and reply: [`heap_scan`] (not CBOR: no [`Request`] type either).
    HeapScan = 14,
    /// End a commit that awaits its envelope again ([`ServiceInfo::awaiting_envelope`])
    /// without applying it, for an envelope that cannot be sent again:
    /// [`InstallAbandonRequest`] → [`Empty`]. The state stays the old one, with the TA the
    /// commit changes marked unconfirmed (its personalization data withheld until an update
    /// installs it), as when OP-TEE refuses an install.
    InstallAbandon = 15,
}

impl Command {
    pub const ALL: [Command; 15] = [
        Command::Status,
        Command::DeviceKey,
        Command::Provision,
        Command::Anchors,
        Command::InstallBegin,
        Command::InstallEnvelope,
        Command::InstallPrepare,
        Command::InstallPayload,
        Command::InstallFinish,
        Command::PersonalizationGet,
        Command::ReeExport,
        Command::Report,
        Command::CryptoBench,
        Command::HeapScan,
        Command::InstallAbandon,
    ];
}

impl TryFrom<u32> for Command {
    type Error = Status;
    fn try_from(id: u32) -> Result<Self, Status> {
        Command::ALL
            .into_iter()
            .find(|c| *c as u32 == id)
            .ok_or(Status::UnknownCommand)
    }
}

/// Outcome codes in slot 0 `a`. Stable numbers: they cross the trust boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
#[non_exhaustive]
pub enum Status {
    Ok = 0,
    /// The host speaks another protocol version; `b` carries the TA's.
    VersionMismatch = 1,
    UnknownCommand = 2,
    /// The request was not a well-formed CBOR message of the expected shape.
    MalformedRequest = 3,
    /// Slot 2 is smaller than [`MAX_RESPONSE`] (the command did not run), or the response
    /// would not fit it; `b` carries the size needed.
    ResponseTooLarge = 4,
    /// The request exceeded [`MAX_REQUEST`].
    RequestTooLarge = 5,
    /// The TA refused or failed; the response holds a [`Refusal`] saying why.
    Refused = 6,
}

impl Status {
    pub fn from_code(code: u32) -> Option<Status> {
        Some(match code {
            0 => Status::Ok,
            1 => Status::VersionMismatch,
            2 => Status::UnknownCommand,
            3 => Status::MalformedRequest,
            4 => Status::ResponseTooLarge,
            5 => Status::RequestTooLarge,
            6 => Status::Refused,
            _ => return None,
        })
    }

    pub fn describe(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::VersionMismatch => "protocol version mismatch between agent and TA",
            Status::UnknownCommand => "the TA does not know this command",
            Status::MalformedRequest => "the TA could not decode the request",
            Status::ResponseTooLarge => "the TA's response did not fit the agent's buffer",
            Status::RequestTooLarge => "the request exceeds the TA's size limit",
            Status::Refused => "the TA refused the request",
        }
    }
}

/// [`Status::describe`]'s words.
impl core::fmt::Display for Status {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.describe())
    }
}

impl core::error::Error for Status {}

/// Why the TA refused: a stable machine-readable kind plus the typed fault (suit-common's
/// `fault::Fault`, CBOR) that the host tools put into words; the TA itself carries no prose.
/// Faults name what failed and where, never key material or plaintext.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Refusal {
    pub kind: RefusalKind,
    pub fault: ByteBuf,
}

/// The kind of a [`Refusal`], carried as a stable code so programs can branch on it; its
/// Display is the stable kebab-case name the tools print. A code this build does not know
/// decodes to [`RefusalKind::Other`], so newer TAs stay readable by older clients.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalKind {
    /// No reason given (an empty refusal body).
    Unspecified,
    /// The TA failed internally (e.g. could not encode its answer).
    Internal,
    /// Secure storage is unusable or an interrupted update could not be finished.
    Storage,
    /// The device key store is unusable.
    DeviceKey,
    /// A provisioning message was refused.
    Provisioning,
    /// The manifest (or what it asks for) was refused.
    Manifest,
    /// Install steps out of order.
    Sequence,
    /// A chunk or item exceeds the TA's limit.
    TooLarge,
    /// A payload the authenticated manifest does not reference.
    Payload,
    /// The thing asked for does not exist.
    NotFound,
    /// The caller may not have it.
    Access,
    /// No report could be produced.
    Report,
    /// A code from another version.
    Other(u32),
}

impl RefusalKind {
    const KNOWN: [(RefusalKind, u32, &'static str); 12] = [
        (RefusalKind::Unspecified, 0, "unspecified"),
        (RefusalKind::Internal, 1, "internal"),
        (RefusalKind::Storage, 2, "storage"),
        (RefusalKind::DeviceKey, 3, "device-key"),
        (RefusalKind::Provisioning, 4, "provisioning"),
        (RefusalKind::Manifest, 5, "manifest"),
        (RefusalKind::Sequence, 6, "sequence"),
        (RefusalKind::TooLarge, 7, "too-large"),
        (RefusalKind::Payload, 8, "payload"),
        (RefusalKind::NotFound, 9, "not-found"),
        (RefusalKind::Access, 10, "access"),
        (RefusalKind::Report, 11, "report"),
    ];

    /// The stable wire code.
    pub fn code(self) -> u32 {
        match self {
            RefusalKind::Other(code) => code,
            known => Self::KNOWN
                .iter()
                .find(|(k, _, _)| *k == known)
                .map_or(0, |(_, c, _)| *c),
        }
    }

    /// The kind of `code`; unknown codes are kept as [`RefusalKind::Other`].
    pub fn from_code(code: u32) -> Self {
        Self::KNOWN
            .iter()
            .find(|(_, c, _)| *c == code)
            .map_or(RefusalKind::Other(code), |(k, _, _)| *k)
    }

    /// The stable kebab-case name (`None` for [`RefusalKind::Other`]).
    pub fn name(self) -> Option<&'static str> {
        Self::KNOWN
            .iter()
            .find(|(k, _, _)| *k == self)
            .map(|(_, _, n)| *n)
    }
}

impl core::fmt::Display for RefusalKind {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match (self.name(), self) {
            (Some(name), _) => f.write_str(name),
            (None, _) => write!(f, "kind {}", self.code()),
        }
    }
}

/// JSON shows the name (or `kind N` for a code from another version).
#[cfg(feature = "serde")]
impl serde::Serialize for RefusalKind {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// An empty response body (the install steps that answer nothing but success). Requests
/// without fields have a type of their own each ([`StatusRequest`], ...), so that the request
/// names its command ([`Request`]); all of them encode as this does, an empty map.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Empty {}

/// A request message and the command it is sent with: the compiler pairs each CBOR command
/// with its request and response types, for the host's calls and the service's handlers
/// alike. Implemented once per command, in [`REQUESTS`]'s one list ([`Command::CryptoBench`]
/// and [`Command::HeapScan`] carry text, not CBOR, and have none).
pub trait Request: Codec {
    /// The command this request is sent with.
    const COMMAND: Command;
    /// What the TA answers it with on success.
    type Response: Codec;
}

/// A [`Request`] without fields: it encodes as [`Empty`] does (an empty map), and reads as
/// [`Empty`] does too (unknown keys skipped), so the service decodes them all with the one
/// [`Empty`] decoder (the TA's size: no decoder per command).
pub trait BareRequest: Request + Default {}

macro_rules! bare_requests {
    ($($(#[$doc:meta])* $ty:ident,)*) => {$(
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
        #[cfg_attr(feature = "serde", derive(serde::Serialize))]
        pub struct $ty {}

        impl BareRequest for $ty {}

        impl Codec for $ty {
            fn encode_into(&self, e: &mut cbor::Encoder) {
                Empty {}.encode_into(e)
            }
            fn decode_from(d: &mut cbor::Decoder<'_>) -> Result<Self, cbor::CborError> {
                Empty::decode_from(d).map(|Empty {}| $ty {})
            }
        }
    )*};
}

bare_requests! {
    /// Request of [`Command::Status`].
    StatusRequest,
    /// Request of [`Command::Anchors`].
    AnchorsRequest,
    /// Request of [`Command::InstallPrepare`].
    InstallPrepareRequest,
    /// Request of [`Command::InstallFinish`].
    InstallFinishRequest,
    /// Request of [`Command::PersonalizationGet`].
    PersonalizationRequest,
}

macro_rules! requests {
    ($($request:ty => $command:ident, $response:ty;)*) => {
        $(
            impl Request for $request {
                const COMMAND: Command = Command::$command;
                type Response = $response;
            }
        )*

        /// Every command with a [`Request`] type, in the order of the impls (one each: a unit
        /// test checks that no command has two and that only the text commands have none).
        pub const REQUESTS: &[Command] = &[$(<$request as Request>::COMMAND),*];
    };
}

requests! {
    StatusRequest => Status, StatusResponse;
    DeviceKeyRequest => DeviceKey, DeviceKeyResponse;
    ProvisionRequest => Provision, ProvisionResponse;
    AnchorsRequest => Anchors, AnchorsResponse;
    InstallBeginRequest => InstallBegin, Empty;
    ChunkRequest => InstallEnvelope, Empty;
    InstallPrepareRequest => InstallPrepare, InstallPrepareResponse;
    PayloadChunkRequest => InstallPayload, PayloadChunkResponse;
    InstallFinishRequest => InstallFinish, InstallFinishResponse;
    PersonalizationRequest => PersonalizationGet, PersonalizationResponse;
    ReeExportRequest => ReeExport, ReeExportResponse;
    ReportRequest => Report, ReportResponse;
    InstallAbandonRequest => InstallAbandon, Empty;
}

/// Response of [`Command::Status`].
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct StatusResponse {
    pub protocol_version: u32,
    /// The TA crate version.
    pub ta_version: String,
    /// What runs the engine: `"optee"` inside OP-TEE, `"simulator"` on the host.
    pub backend: String,
    pub platform: PlatformInfo,
    pub service: ServiceInfo,
}

/// The TA's own state, as far as it is public.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ServiceInfo {
    /// Key id (SHA-256 prefix) of the TPA root compiled into the TA.
    pub tpa_root_kid: ByteBuf,
    /// True when the TPA root is the repository's public test key: anyone can provision.
    pub tpa_root_is_test_key: bool,
    /// Counter of the last provisioning message the TPA root signed (from an older TA: the
    /// one counter of the root and its delegates, and `delegate_counter` is `None`).
    pub provisioning_counter: u64,
    pub anchors: u32,
    pub installed_components: u32,
    /// Key id of the device identity key, once the device keys exist.
    pub device_key_kid: Option<ByteBuf>,
    /// Why the TA cannot use its stored state, if it cannot: a fault as in [`Refusal::fault`].
    pub state_error: Option<ByteBuf>,
    /// The inventory: every installed component (absent from older TAs).
    pub components: Vec<ComponentInfo>,
    /// TAs whose last install OP-TEE did not confirm: their personalization data is withheld
    /// until an update that installs them succeeds (absent from older TAs).
    pub unconfirmed_tas: Vec<TaUuid>,
    /// Counter of the last provisioning message a delegated TPA anchor signed (one counter
    /// for all delegates; absent from older TAs, whose one counter is `provisioning_counter`).
    pub delegate_counter: Option<u64>,
    /// SHA-256 of the envelope whose commit a power cut (or a failed storage write)
    /// interrupted after its TA image was handed to OP-TEE, an image the TA kept in memory
    /// only: OP-TEE's TA store may hold either version, so until the same envelope is
    /// installed again (which finishes the commit) or abandoned ([`Command::InstallAbandon`])
    /// every command but status and those two is refused (`ServiceFault::AwaitingEnvelope`;
    /// a report too: it would sign the old state while OP-TEE may run the new TA).
    pub awaiting_envelope: Option<ByteBuf>,
}

/// Request of [`Command::InstallAbandon`]: the awaited envelope's SHA-256, as
/// [`ServiceInfo::awaiting_envelope`] gives it (an abandon names what it gives up).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct InstallAbandonRequest {
    pub envelope: ByteBuf,
}

/// Request of [`Command::DeviceKey`]; an empty map asks for the device-wide keys only.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DeviceKeyRequest {
    /// Also export this anchor's payload-decryption keys.
    pub anchor: Option<u32>,
}

/// Response of [`Command::DeviceKey`]: uncompressed SEC1 P-256 points and their key ids.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct DeviceKeyResponse {
    /// Signs the device's statements about itself; enrolled once in a trusted factory step.
    pub identity_key: ByteBuf,
    pub identity_kid: ByteBuf,
    pub report_key: ByteBuf,
    pub report_kid: ByteBuf,
    /// The TPA encrypts provisioning secrets to this key.
    pub provisioning_key: ByteBuf,
    pub provisioning_kid: ByteBuf,
    /// The requested anchor's payload-decryption keys.
    pub anchor: Option<AnchorKeysInfo>,
    /// COSE_Sign1 by the identity key over a key statement naming every key above
    /// (`service::statement`).
    pub statement: ByteBuf,
    pub origin: String,
}

/// One anchor's payload-decryption keys: authors encrypt to these for manifests that anchor
/// signs (ECDH-ES+AES-KW recipients to `ecdh_es_key`, COSE-HPKE recipients to `hpke_key`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AnchorKeysInfo {
    pub id: u32,
    pub key_scope: u64,
    pub ecdh_es_key: ByteBuf,
    pub ecdh_es_kid: ByteBuf,
    pub hpke_key: ByteBuf,
    pub hpke_kid: ByteBuf,
}

/// `message`: the provisioning message where a request is built, or its place in the request
/// ([`Span`]) where the TA reads one ([`decode_in_place`]): no copy before it is authenticated.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ProvisionRequest<D = ByteBuf> {
    pub message: D,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ProvisionResponse {
    pub counter: u64,
    /// 0 = the TPA root.
    pub signer: u32,
    pub applied: Vec<Applied>,
    /// COSE_Sign1 by the device identity key over a `provision::Receipt` (the counter, the
    /// resulting state's digest, the device and the message digest), for the TPA.
    pub receipt: ByteBuf,
}

/// An anchor's role: the stored record's and the provisioning answer's one vocabulary.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleRecord {
    Tpa,
    Author,
    Operator,
}

impl RoleRecord {
    /// The role's name as the agent and the author tool spell it.
    pub fn name(self) -> &'static str {
        match self {
            RoleRecord::Tpa => "tpa",
            RoleRecord::Author => "author",
            RoleRecord::Operator => "operator",
        }
    }
}

/// JSON shows the name ([`RoleRecord::name`]).
#[cfg(feature = "serde")]
impl serde::Serialize for RoleRecord {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

/// A SUIT component identifier's segments (an array of bstr, as in the manifest), shown in
/// CBOR diagnostic notation (`['app', h'00']`, [`text::component`]); in JSON a list of hex
/// strings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ComponentPath(pub Vec<ByteBuf>);

impl core::fmt::Display for ComponentPath {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&text::component(&self.0))
    }
}

/// A TA's UUID in RFC 4122 byte order, shown as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaUuid(pub [u8; 16]);

impl core::fmt::Display for TaUuid {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&text::uuid(&self.0))
    }
}

/// The kind of key a trust anchor holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyType {
    P256,
    Ed25519,
    HssLms,
    /// An HMAC key: never shown, only its kid.
    Symmetric,
    /// A stored key this TA cannot read.
    Unparseable,
}

impl core::fmt::Display for KeyType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            KeyType::P256 => "P-256",
            KeyType::Ed25519 => "Ed25519",
            KeyType::HssLms => "HSS-LMS",
            KeyType::Symmetric => "symmetric",
            KeyType::Unparseable => "unparseable",
        })
    }
}

/// What a component rule requires of an update's signers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Requirement {
    /// A signature by an anchor of this role.
    Role(RoleRecord),
    /// A signature by this anchor.
    Anchor(u32),
}

impl core::fmt::Display for Requirement {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Requirement::Role(r) => write!(f, "role {}", r.name()),
            Requirement::Anchor(id) => write!(f, "anchor {id}"),
        }
    }
}

/// A string property of the TEE as it reported it (bytes, not checked as UTF-8 in the TA);
/// shown with anything that is not UTF-8 replaced.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PropertyText(pub ByteBuf);

impl core::fmt::Display for PropertyText {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&String::from_utf8_lossy(&self.0))
    }
}

/// JSON shows what `Display` does.
macro_rules! serialize_as_text {
    ($($ty:ty),*) => {$(
        #[cfg(feature = "serde")]
        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
    )*};
}
serialize_as_text!(TaUuid, KeyType, Requirement, PropertyText);

/// JSON shows a component identifier as the tools' one convention has it: a list of its
/// segments, each as lower-case hex (`["617070"]` for `['app']`), as reports show it.
#[cfg(feature = "serde")]
impl serde::Serialize for ComponentPath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

/// One operation a provisioning message applied, as data: the agent words it (`Display`,
/// the lines older TAs sent as text, a KEK's id shown by [`text::kid`]), so the TA links no
/// text for it.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Applied {
    AddedAnchor { id: u32, role: RoleRecord },
    RemovedAnchor { id: u32 },
    RescopedAnchor { id: u32 },
    SetRules { count: u32 },
    SetIdentity,
    AddedKek { kid: ByteBuf },
    RemovedKek { kid: ByteBuf },
}

impl core::fmt::Display for Applied {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let shown = |f: &mut core::fmt::Formatter<'_>, kid: &ByteBuf| f.write_str(&text::kid(kid));
        match self {
            Applied::AddedAnchor { id, role } => write!(f, "added anchor {id} ({role:?})"),
            Applied::RemovedAnchor { id } => write!(f, "removed anchor {id}"),
            Applied::RescopedAnchor { id } => write!(f, "re-scoped anchor {id}"),
            Applied::SetRules { count } => write!(f, "set {count} component rule(s)"),
            Applied::SetIdentity => f.write_str("set device identity"),
            Applied::AddedKek { kid } => {
                f.write_str("added KEK ")?;
                shown(f, kid)
            }
            Applied::RemovedKek { kid } => {
                f.write_str("removed KEK ")?;
                shown(f, kid)
            }
        }
    }
}

// JSON shows the line the agent prints (what older TAs sent).
serialize_as_text!(Applied);

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AnchorsResponse {
    /// Counter of the last provisioning message the TPA root signed (from an older TA: the
    /// one counter of the root and its delegates, and `delegate_counter` is `None`).
    pub provisioning_counter: u64,
    pub identity: IdentityInfo,
    pub anchors: Vec<AnchorInfo>,
    pub rules: Vec<RuleInfo>,
    /// Counter of the last provisioning message a delegated TPA anchor signed (one counter
    /// for all delegates; absent from older TAs).
    pub delegate_counter: Option<u64>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct IdentityInfo {
    pub vendor_id: Option<ByteBuf>,
    pub class_id: Option<ByteBuf>,
    pub device_id: Option<ByteBuf>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct AnchorInfo {
    pub id: u32,
    pub role: RoleRecord,
    pub kid: ByteBuf,
    /// A symmetric anchor's key is never shown.
    pub key_type: KeyType,
    pub component_prefixes: Vec<ComponentPath>,
    pub vendor_ids: Vec<ByteBuf>,
    pub class_ids: Vec<ByteBuf>,
    /// Whether content this anchor owns may be written to `['ree', ...]` components (only if
    /// every owner allows it). Absent from older TAs: unknown, not "no".
    pub ree_plaintext: Option<bool>,
    /// The status tracker's P-256 public key (uncompressed SEC1) this anchor's reports are
    /// encrypted to; `None` when it has none (or from a TA older than session 44).
    pub tracker_key: Option<ByteBuf>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RuleInfo {
    pub prefix: ComponentPath,
    pub required: Vec<Requirement>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct InstallBeginRequest {
    pub envelope_len: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ChunkRequest {
    pub offset: u64,
    pub data: ByteBuf,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct InstallPrepareResponse {
    /// Detached payloads the authenticated manifest may fetch, to be streamed in.
    pub needed_uris: Vec<String>,
    pub sequence_number: u64,
    pub signers: Vec<u32>,
    /// Per entry of `needed_uris`: the largest suit-parameter-image-size (authenticated) any
    /// fetch of it may stage, for the REE to stop a longer download early; `None` when a fetch
    /// may have none. Absent from older TAs (then no bound).
    pub needed_sizes: Vec<Option<u64>>,
}

/// `data`: the chunk's bytes where a request is built, or their place in it ([`Span`]) where
/// the TA reads one ([`decode_in_place`]) to decrypt the chunk there, in its copy of the request.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PayloadChunkRequest<D = ByteBuf> {
    pub uri: String,
    pub total_len: u64,
    pub offset: u64,
    pub data: D,
}

/// Response of [`Command::InstallPayload`]. Empty but for the chunk that completes a payload
/// the authenticated manifest tree names as a dependency's, when that payload authenticates
/// as a dependency envelope (against the anchors, accepted by the policy) whose manifest
/// fetches detached payloads not listed yet: those are added to the install, for the REE to
/// deliver as it does [`InstallPrepareResponse::needed_uris`]. Read as empty where absent (a
/// TA before version 6 answered an empty map).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PayloadChunkResponse {
    /// The detached payloads added to the install.
    pub needed_uris: Vec<String>,
    /// Per entry of `needed_uris`: its authenticated size bound, as
    /// [`InstallPrepareResponse::needed_sizes`].
    pub needed_sizes: Vec<Option<u64>>,
}

/// Response of [`Command::PersonalizationGet`]: the caller's data, exactly as installed.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PersonalizationResponse {
    pub data: ByteBuf,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ReeExportRequest {
    /// REE path as approved by the manifest (`['ree', ...]` segments joined by `/`).
    pub path: String,
    /// 0 (the TA reads the whole component first and refuses it, `Storage`, unless it is the
    /// committed content), or where the previous chunk of this session ended (served only if
    /// it reads back as it did in that check, else `Storage`); any other offset is refused
    /// (`Sequence`).
    pub offset: u64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ReeExportResponse {
    pub total_len: u64,
    /// SHA-256 of the whole approved image, for the agent to check what it wrote.
    pub digest: ByteBuf,
    pub data: ByteBuf,
}

/// Request of [`Command::Report`]: a fresh nonce from the status tracker, so an old signed
/// report cannot be replayed as the current one.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ReportRequest {
    pub nonce: Option<ByteBuf>,
    /// Ask for the report of the latest attempt refused *before* its manifest was
    /// authenticated (kept apart, so forged envelopes cannot displace the report of the latest
    /// authenticated attempt, which is what is returned otherwise).
    pub pre_auth: bool,
}

/// Response of [`Command::Report`]: a COSE_Sign1 over a SUIT report, signed by the
/// device's report key (see `suit-agent device-key --which report`).
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ReportResponse {
    pub report: ByteBuf,
}

#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct InstallFinishResponse {
    pub sequence_number: u64,
    pub signers: Vec<u32>,
    /// Components installed.
    pub components: Vec<ComponentPath>,
    pub manifest_digest: ByteBuf,
    /// REE components the manifest approved, for the agent to export and write.
    pub ree_paths: Vec<String>,
}

/// What the TA can tell about the protections of the platform it runs on: facts only. The
/// judgement of them (`warnings`, `prerequisites`) is the host's ([`StatusResponse::assess`]),
/// so the TA carries none of its words (TA size); the TA sends both empty.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PlatformInfo {
    /// `gpd.tee.trustedos.implementation.version`, e.g. OP-TEE's version string.
    pub tee_version: Option<PropertyText>,
    /// `gpd.tee.trustedStorage.antiRollback.protectionLevel`: 0 none, 100 REE-enforced,
    /// 1000 TEE hardware (RPMB). Below 1000 the REE can restore an older copy of all of
    /// secure storage, sequence numbers included.
    pub anti_rollback_level: Option<u32>,
    /// `gpd.tee.trustedStorage.rollbackDetection.protectionLevel`, same scale.
    pub rollback_detection_level: Option<u32>,
    /// Plain-language warnings about missing protections (host: [`StatusResponse::assess`]).
    pub warnings: Vec<String>,
    /// Whether OP-TEE's attestation PTA is present (`None`: not a TEE). Without it, exported
    /// keys are vouched for only by the identity key's factory enrolment.
    pub attestation_pta: Option<bool>,
    /// The production prerequisites, each as far as it can be checked where it runs (host:
    /// [`StatusResponse::assess`], and the agent's own check of the TA signing key).
    pub prerequisites: Vec<Prerequisite>,
    /// `gpd.tee.deviceID` as the TEE reports it (`None`: not available, or not a TEE). OP-TEE
    /// derives it from its hardware unique key, so it shows the all-zero stub HUK
    /// ([`STUB_HUK_DEVICE_ID`]).
    pub device_id: Option<String>,
}

/// A protection a production device needs and the QEMU development build lacks.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Prerequisite {
    /// One of the [`prerequisite`] names.
    pub name: String,
    /// `Some(false)`: detected missing. `Some(true)`: the TEE itself reports it present.
    /// `None`: it cannot be established from where it was checked (never read as "present").
    pub met: Option<bool>,
    /// What the check saw, in words.
    pub evidence: String,
}

/// [`Command::HeapScan`]'s request and reply. The request is a control string as it is,
/// then each needle as a length byte and its bytes XOR [`heap_scan::MASK`]: the TA's own copy
/// of the request is in its heap, so the control must be found there (the scan sees the live
/// heap) and a needle must not be found merely because it was asked for. The reply is text,
/// one line per needle, the control's first: its count in the heap arena and in the dead
/// part of the TA's stack (searched for the needles, then for the control after the TA leaves
/// it there), separated by a space.
pub mod heap_scan {
    use alloc::vec::Vec;

    pub const CONTROL_LEN: usize = 16;
    pub const MIN_NEEDLE: usize = 8;
    pub const MAX_NEEDLE: usize = 64;
    pub const MAX_NEEDLES: usize = 16;
    pub const MASK: u8 = 0x5a;

    /// The request; `None` if a needle's length or their number is outside the bounds.
    pub fn encode(control: &[u8; CONTROL_LEN], needles: &[&[u8]]) -> Option<Vec<u8>> {
        if needles.len() > MAX_NEEDLES {
            return None;
        }
        let mut out = control.to_vec();
        for n in needles {
            if !(MIN_NEEDLE..=MAX_NEEDLE).contains(&n.len()) {
                return None;
            }
            out.push(u8::try_from(n.len()).ok()?);
            out.extend(n.iter().map(|b| b ^ MASK));
        }
        Some(out)
    }

    /// The control and the masked needles of `request`; `None` if it is not one [`encode`]
    /// could have made.
    pub fn decode(request: &[u8]) -> Option<(&[u8], Vec<&[u8]>)> {
        let (control, mut rest) = request.split_at_checked(CONTROL_LEN)?;
        let mut needles = Vec::new();
        while let Some((&len, tail)) = rest.split_first() {
            let len = usize::from(len);
            if needles.len() == MAX_NEEDLES || !(MIN_NEEDLE..=MAX_NEEDLE).contains(&len) {
                return None;
            }
            let (needle, tail) = tail.split_at_checked(len)?;
            needles.push(needle);
            rest = tail;
        }
        Some((control, needles))
    }
}

/// Names of the production prerequisites (SECURITY.md, "Production prerequisites").
pub mod prerequisite {
    /// OP-TEE verifies TAs with a key whose private half is secret (not the public dev key).
    pub const TA_SIGNING_KEY: &str = "secret-ta-signing-key";
    /// A device-unique hardware key (HUK) behind secure storage encryption.
    pub const HARDWARE_UNIQUE_KEY: &str = "hardware-unique-key";
    /// Secure storage the normal world cannot roll back (RPMB).
    pub const ROLLBACK_PROTECTED_STORAGE: &str = "rollback-protected-storage";
    /// A hardware entropy source behind `TEE_GenerateRandom`.
    pub const HARDWARE_RNG: &str = "hardware-rng";
    /// The TA trusts the device maker's own TPA root, not the repository's test key.
    pub const OWN_TPA_ROOT: &str = "own-tpa-root";
}

/// `gpd.tee.deviceID` of every OP-TEE whose hardware unique key is the default all-zero stub
/// (`tee_otp_get_hw_unique_key` in core/kernel/otp_stubs.c): OP-TEE derives the die ID as
/// HMAC-SHA256(HUK, usage 2)[..12] and the device ID as a version-5 UUID from
/// SHA-256("OPTEE" || die ID). Seen on Debian's OP-TEE 4.10 QEMU ARMv8 build; the derivation is
/// re-checked by a unit test below.
pub const STUB_HUK_DEVICE_ID: &str = "94e9ab89-4c43-56ea-8b35-45dc07226830";

impl Prerequisite {
    pub fn new(name: &str, met: Option<bool>, evidence: impl Into<String>) -> Self {
        Prerequisite {
            name: name.into(),
            met,
            evidence: evidence.into(),
        }
    }
}

/// The protection level at which the TEE itself prevents storage rollback (GP TEE spec).
pub const PROTECTION_LEVEL_TEE_HARDWARE: u32 = 1000;

impl PlatformInfo {
    /// Replaces the entry of the same name (a later, better-placed check wins).
    pub fn set_prerequisite(&mut self, p: Prerequisite) {
        self.prerequisites.retain(|x| x.name != p.name);
        self.prerequisites.push(p);
    }
}

/// The simulator's warning, wherever it is used, so nobody mistakes it for a TEE; without a
/// "warning" prefix of its own, which each place that shows it gives (status lists it under
/// "warning:").
pub const SIMULATOR_WARNING: &str =
    "simulator backend: no TEE, no isolation; keys and state are plain files";

impl StatusResponse {
    /// The host's judgement of the facts the TA reported: the production prerequisites and
    /// the warnings, in words, for the backend that answered. The TA sends facts only.
    pub fn assess(mut self) -> Self {
        let p = &mut self.platform;
        p.warnings.clear();
        p.prerequisites.clear();
        if self.backend == "simulator" {
            p.warnings.push(SIMULATOR_WARNING.into());
            // Files on the host: none of the device's protections exist.
            for name in [
                prerequisite::TA_SIGNING_KEY,
                prerequisite::HARDWARE_UNIQUE_KEY,
                prerequisite::HARDWARE_RNG,
            ] {
                p.set_prerequisite(Prerequisite::new(
                    name,
                    Some(false),
                    "the simulator is not a TEE",
                ));
            }
        } else {
            let huk = match p.device_id.as_deref() {
                Some(id) if id == STUB_HUK_DEVICE_ID => Prerequisite::new(
                    prerequisite::HARDWARE_UNIQUE_KEY,
                    Some(false),
                    alloc::format!(
                        "device ID {id} is the one OP-TEE derives from its all-zero stub HUK"
                    ),
                ),
                Some(id) => Prerequisite::new(
                    prerequisite::HARDWARE_UNIQUE_KEY,
                    None,
                    alloc::format!(
                        "device ID {id} is not the stub HUK's; whether the HUK is secret is not visible to a TA"
                    ),
                ),
                None => Prerequisite::new(
                    prerequisite::HARDWARE_UNIQUE_KEY,
                    None,
                    "gpd.tee.deviceID is not available",
                ),
            };
            let stub_huk = huk.met == Some(false);
            p.set_prerequisite(huk);
            p.set_prerequisite(Prerequisite::new(
                prerequisite::HARDWARE_RNG,
                None,
                "GP exposes no property naming the source behind TEE_GenerateRandom; a TA cannot \
                 tell a hardware RNG from OP-TEE's software PRNG",
            ));
            p.set_prerequisite(Prerequisite::new(
                prerequisite::TA_SIGNING_KEY,
                None,
                "not visible to a TA; `suit-agent status` checks the update TA's signature",
            ));
            if stub_huk {
                p.warnings.push(
                    "the hardware unique key is OP-TEE's all-zero stub: secure storage keys can \
                     be computed by anyone who reads the REE's copy"
                        .into(),
                );
            }
        }
        let rollback = match p.anti_rollback_level {
            // OP-TEE reports 1000 whenever it has an RPMB FS, but the TA's objects
            // (`TEE_STORAGE_PRIVATE`) are on the REE FS whenever that is built in too: only
            // the OP-TEE build says which, and no TA can read it.
            Some(level) if level >= PROTECTION_LEVEL_TEE_HARDWARE => Prerequisite::new(
                prerequisite::ROLLBACK_PROTECTED_STORAGE,
                None,
                alloc::format!(
                    "the TEE reports anti-rollback level {level} (an RPMB FS exists); the TA's \
                     storage is rollback-protected only if OP-TEE is built with CFG_REE_FS=n or \
                     CFG_REE_FS_INTEGRITY_RPMB=y: check the OP-TEE build"
                ),
            ),
            Some(level) => {
                p.warnings.push(alloc::format!(
                    "secure storage anti-rollback level is {level} (< {PROTECTION_LEVEL_TEE_HARDWARE}): \
                     the normal world can roll back all of secure storage, sequence numbers included"
                ));
                Prerequisite::new(
                    prerequisite::ROLLBACK_PROTECTED_STORAGE,
                    Some(false),
                    alloc::format!(
                        "the TEE reports anti-rollback level {level} (RPMB would be {PROTECTION_LEVEL_TEE_HARDWARE})"
                    ),
                )
            }
            None => {
                p.warnings
                    .push("secure storage anti-rollback level unknown: assume none".into());
                Prerequisite::new(
                    prerequisite::ROLLBACK_PROTECTED_STORAGE,
                    None,
                    "the TEE does not report an anti-rollback level",
                )
            }
        };
        p.set_prerequisite(rollback);
        if p.attestation_pta == Some(false) {
            p.warnings.push(
                "no attestation PTA: the device's key statements are trustworthy only through \
                 the factory enrolment of its identity key"
                    .into(),
            );
        }
        let test_root = self.service.tpa_root_is_test_key;
        if test_root {
            p.warnings.push(
                "the TPA root is the repository's public test key: anyone can provision this TA"
                    .into(),
            );
        }
        p.set_prerequisite(Prerequisite::new(
            prerequisite::OWN_TPA_ROOT,
            Some(!test_root),
            if test_root {
                "built with the repository's public test TPA root (explicit test opt-in)"
            } else {
                "built with a TPA root given at build time"
            },
        ));
        self
    }
}

// Unit tests may unwrap, expect, panic and index (clippy.toml); they also narrow integers.
#[cfg(test)]
#[allow(clippy::cast_possible_truncation)]
mod tests {
    use super::*;

    #[test]
    fn heap_scan_requests_carry_masked_needles_within_bounds() {
        let control = [7u8; heap_scan::CONTROL_LEN];
        let (a, b) = (b"personalization!".as_slice(), [0x5au8; 64]);
        let req = heap_scan::encode(&control, &[a, &b]).unwrap();
        assert!(
            !req.windows(a.len()).any(|w| w == a),
            "a needle is in the request in clear"
        );
        let (c, needles) = heap_scan::decode(&req).unwrap();
        assert_eq!(c, control);
        let clear: Vec<Vec<u8>> = needles
            .iter()
            .map(|n| n.iter().map(|x| x ^ heap_scan::MASK).collect())
            .collect();
        assert_eq!(clear, [a.to_vec(), b.to_vec()]);
        assert!(heap_scan::encode(&control, &[&[1; 7]]).is_none());
        assert!(heap_scan::encode(&control, &[&[1; 65]]).is_none());
        assert!(heap_scan::encode(&control, &[a; heap_scan::MAX_NEEDLES + 1]).is_none());
        for bad in [
            &req[..10],
            &req[..req.len() - 1],
            &[&req[..], &[3, 1, 2, 3]].concat(),
        ] {
            assert!(heap_scan::decode(bad).is_none());
        }
    }

    #[test]
    fn the_stub_huk_fingerprint_is_derived_from_an_all_zero_key() {
        use hmac::{KeyInit as _, Mac as _};
        use sha2::Digest as _;
        let mut mac = hmac::Hmac::<sha2_0_11::Sha256>::new_from_slice(&[0u8; 16]).unwrap();
        mac.update(&2u32.to_le_bytes());
        let die_id = mac.finalize().into_bytes();
        let mut h = sha2::Sha256::new();
        h.update(b"OPTEE");
        h.update(&die_id[..12]);
        let d = h.finalize();
        // TEE_UUID: the first three fields are little-endian integers; RFC 4122 version 5.
        let time_low = u32::from_le_bytes([d[0], d[1], d[2], d[3]]);
        let time_mid = u16::from_le_bytes([d[4], d[5]]);
        let time_hi = (u16::from_le_bytes([d[6], d[7]]) & 0x0fff) | 0x5000;
        let clock = (d[8] & 0x3f) | 0x80;
        let mut text = alloc::format!(
            "{time_low:08x}-{time_mid:04x}-{time_hi:04x}-{clock:02x}{:02x}-",
            d[9]
        );
        for b in &d[10..16] {
            text.push_str(&alloc::format!("{b:02x}"));
        }
        assert_eq!(text, STUB_HUK_DEVICE_ID);
    }

    #[test]
    fn status_round_trip() {
        let r = StatusResponse {
            protocol_version: PROTOCOL_VERSION,
            ta_version: "0.1.0".into(),
            backend: "optee".into(),
            platform: PlatformInfo {
                anti_rollback_level: Some(100),
                device_id: Some(STUB_HUK_DEVICE_ID.into()),
                ..Default::default()
            },
            service: ServiceInfo::default(),
        };
        let bytes = encode(&r).unwrap();
        assert_eq!(decode::<StatusResponse>(&bytes, MAX_RESPONSE).unwrap(), r);
        // The facts, judged on the host: the stub HUK and the REE-enforced rollback level.
        let a = r.assess();
        assert_eq!(a.platform.warnings.len(), 2, "{:?}", a.platform.warnings);
        let met = |name: &str| {
            a.platform
                .prerequisites
                .iter()
                .find(|p| p.name == name)
                .map(|p| p.met)
        };
        assert_eq!(met(prerequisite::HARDWARE_UNIQUE_KEY), Some(Some(false)));
        assert_eq!(
            met(prerequisite::ROLLBACK_PROTECTED_STORAGE),
            Some(Some(false))
        );
        assert_eq!(met(prerequisite::OWN_TPA_ROOT), Some(Some(true)));
        assert_eq!(met(prerequisite::HARDWARE_RNG), Some(None));
    }

    #[test]
    fn decode_refuses_trailing_oversize_and_deep_input() {
        let mut bytes = encode(&StatusRequest {}).unwrap();
        bytes.push(0);
        assert_eq!(
            decode::<StatusRequest>(&bytes, 64),
            Err(CodecError::TrailingBytes)
        );
        assert_eq!(
            decode::<StatusRequest>(&[0xa0; 65], 64),
            Err(CodecError::TooLarge)
        );
        // An unknown key whose value nests 40 deep: skipped keys are bounded too.
        let mut deep = std::vec![0xa1, 0x61, b'x'];
        deep.extend([0x81u8; 40]);
        deep.push(0x00);
        assert_eq!(
            decode::<StatusRequest>(&deep, 64),
            Err(CodecError::Malformed),
            "nesting beyond the limit must be refused, not recursed into"
        );
    }

    /// Every CBOR command has exactly one request type; the text commands have none.
    #[test]
    fn every_cbor_command_has_one_request_type() {
        for c in Command::ALL {
            let n = REQUESTS.iter().filter(|r| **r == c).count();
            let text = matches!(c, Command::CryptoBench | Command::HeapScan);
            assert_eq!(n, usize::from(!text), "{c:?}");
        }
        assert_eq!(REQUESTS.len(), Command::ALL.len() - 2);
    }

    /// The field-less requests are on the wire what `Empty` is, both ways (the service reads
    /// them with `Empty`'s decoder).
    #[test]
    fn bare_requests_are_empty_maps() {
        fn check<Q: BareRequest + core::fmt::Debug + PartialEq>() {
            assert_eq!(encode(&Q::default()).unwrap(), [0xa0], "{:?}", Q::COMMAND);
            assert_eq!(encode(&Q::default()).unwrap(), encode(&Empty {}).unwrap());
            // An unknown key (a newer peer's field) is skipped by both alike.
            let extra = [0xa1, 0x61, b'x', 0x01];
            assert_eq!(decode::<Q>(&extra, 64), Ok(Q::default()));
            assert_eq!(decode::<Empty>(&extra, 64), Ok(Empty {}));
            for bad in [&[0x80][..], &[0xa0, 0x00], &[0xf6]] {
                assert!(decode::<Q>(bad, 64).is_err() && decode::<Empty>(bad, 64).is_err());
            }
        }
        check::<StatusRequest>();
        check::<AnchorsRequest>();
        check::<InstallPrepareRequest>();
        check::<InstallFinishRequest>();
        check::<PersonalizationRequest>();
    }

    #[test]
    fn command_and_status_codes_are_stable() {
        for (i, c) in Command::ALL.iter().enumerate() {
            assert_eq!(Command::try_from(i as u32 + 1), Ok(*c));
        }
        assert_eq!(Command::try_from(0), Err(Status::UnknownCommand));
        assert_eq!(Command::try_from(16), Err(Status::UnknownCommand));
        for code in 0..=6 {
            assert_eq!(Status::from_code(code).map(|s| s as u32), Some(code));
        }
        assert_eq!(Status::from_code(7), None);
    }
}

/// One installed component, as `status` lists it (public facts only: no content).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ComponentInfo {
    pub id: ComponentPath,
    /// Sequence number of the manifest that installed it.
    pub sequence_number: u64,
    pub size: u64,
    /// SHA-256 of the installed bytes.
    pub digest: ByteBuf,
    /// For a trusted application: its installed `ta_version`.
    pub ta_version: Option<u32>,
    /// For an REE component holding confidential content: the anchors whose `ree_plaintext`
    /// released it, each with whether it still does ([`ReleaseInfo`]). `ReeExport` (and a
    /// copy of the content) needs one that does. Empty: public content, a component
    /// committed before releases were recorded, or a TA older than session 43.
    pub released_by: Vec<ReleaseInfo>,
}

/// One anchor that released an REE component's confidential content ([`ComponentInfo`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct ReleaseInfo {
    /// The anchor's id when it released the content ([`RELEASE_UNRECORDED`] where the TA
    /// could not say which anchor it was: no anchor holds such a release).
    pub anchor: u32,
    /// Whether that anchor is still present (not removed, nor removed and its id given to
    /// another) and still has `ree_plaintext`.
    pub holds: bool,
}

/// [`ReleaseInfo::anchor`] of a release no anchor holds: the TA could not record who released
/// the content.
pub const RELEASE_UNRECORDED: u32 = u32::MAX;
