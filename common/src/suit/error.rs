//! Typed errors of the manifest engine: each says what went wrong and where.
//!
//! The host prints these and the TA maps them to protocol status codes, so they carry enough
//! context (section, command path, component index, offending value) to diagnose a refused
//! manifest without a debugger, and never any secret.

use alloc::boxed::Box;
use alloc::vec::Vec;
#[cfg(feature = "explain")]
use core::fmt;

use crate::cbor::CborError;
use crate::cose::CoseError;
use crate::suit::decrypt::DecryptError;
use crate::suit::platform::PlatformError;

/// Any failure of decoding, authenticating, approving or running a SUIT envelope.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The bytes do not follow the SUIT CDDL; `at` names the structure being read.
    Decode {
        /// Structure being decoded, e.g. `"SUIT_Manifest"`.
        at: Words,
        /// The underlying CBOR failure (offset is relative to that structure's bytes).
        error: CborError,
    },
    /// Well-formed CBOR that breaks a SUIT rule (missing member, value out of range, ...).
    Invalid {
        /// Structure being decoded.
        at: Words,
        /// The rule broken.
        reason: Words,
    },
    /// A feature this engine deliberately does not implement.
    Unsupported(Unsupported),
    /// The envelope is not authentic.
    Auth(AuthError),
    /// Authentic, but not acceptable to this device's policy.
    Policy(PolicyError),
    /// A command sequence failed.
    Command(CommandError),
    /// Decrypted bytes were staged for this component but never matched an image digest, so
    /// nothing was committed.
    UnverifiedPlaintext(crate::suit::component::ComponentId),
    /// Content staged for this component, which the platform keeps inside the TEE
    /// ([`Platform::requires_vouched_content`]), is vouched for only by whoever served it: no
    /// image digest matched, no AEAD tag or verified ciphertext, not the manifest's own
    /// content (nor a copy of such content). Nothing was committed.
    ///
    /// [`Platform::requires_vouched_content`]: crate::suit::platform::Platform::requires_vouched_content
    UnvouchedContent(crate::suit::component::ComponentId),
    /// A procedure needs a section that was severed and not supplied in the envelope.
    SeveredSectionMissing(Section),
    /// The platform failed outside any command (sequence-number store, commit).
    Platform(PlatformError),
    /// A fixed resource bound was exceeded.
    Limit(Words),
}

pub use super::words::Words;

/// Things recognised but not implemented (the manifest is refused, as the draft requires).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unsupported {
    /// `suit-manifest-version` other than 1.
    ManifestVersion(u64),
    /// A SUIT_Digest algorithm other than SHA-256.
    DigestAlgorithm(i64),
    /// An unknown manifest, envelope or common member.
    Member(i64),
    /// An unknown parameter label.
    Parameter(i64),
    /// An unknown or unimplemented command.
    Command(i64),
    /// A bare SUIT_Manifest (tag 1070): it carries no authentication.
    UnauthenticatedManifest,
}

/// Why an envelope failed authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AuthError {
    /// The authentication wrapper holds a digest but no authentication block.
    NoAuthenticationBlock,
    /// The manifest does not hash to the digest in the authentication wrapper.
    ManifestDigestMismatch,
    /// No trust anchor's key could even be tried against any block (unknown signer / kid).
    NoMatchingTrustAnchor,
    /// Every applicable key was tried and no block verified; `block` is the first failing one.
    BadSignature {
        /// Index of the authentication block (0 = first after the digest).
        block: usize,
    },
    /// An authentication block could not be parsed or uses an unsupported algorithm.
    Cose {
        /// Index of the authentication block.
        block: usize,
        /// What was wrong with it.
        error: CoseError,
    },
    /// A severable member in the envelope does not match the digest in the manifest.
    SeveredMemberDigestMismatch {
        /// Member label (16 payload-fetch, 20 install, 23 text, ...).
        member: i64,
    },
    /// A severable member is in the envelope although the manifest neither holds it inline
    /// nor names it by digest (severed).
    UnexpectedEnvelopeMember {
        /// Member label.
        member: i64,
    },
    /// A dependency manifest failed authentication against its own trust anchors.
    Dependency(Box<Error>),
}

/// Why an authentic manifest was refused by device policy.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PolicyError {
    /// The sequence number is not greater than the one stored for this manifest.
    Rollback {
        /// Stored (installed) sequence number.
        stored: u64,
        /// Sequence number of the offered manifest.
        offered: u64,
    },
    /// No signer of the manifest may act on this component.
    ComponentNotPermitted {
        /// Index into the manifest's component list.
        component: usize,
    },
    /// The component requires a signer the manifest (and its dependents) lack.
    MissingRequiredSigner {
        /// Index into the manifest's component list.
        component: usize,
        /// What was required.
        required: crate::suit::policy::Requirement,
    },
    /// The manifest sets a vendor or class identifier none of its signers may target.
    IdentifierNotPermitted,
    /// No signer may record a sequence number under the manifest's identifier: its
    /// suit-manifest-component-id is outside every signer's scope, or it has neither that
    /// nor a component.
    SequenceKeyNotPermitted,
    /// Local key policy: decrypted (or secure) content may not go to this component for
    /// these signers (e.g. a normal-world file without the anchor's permission), or its
    /// content, whose digest is withheld, may not be compared with a value not all the
    /// anchors owning it set, nor moved where others own it or rewritten at its sequence
    /// number without their signatures.
    PlaintextNotPermitted {
        /// Index into the manifest's component list.
        component: usize,
    },
    /// The component's current content was installed by a manifest with a sequence number
    /// this one does not exceed (the root being installed) or is below (a dependency, which
    /// may repeat it); checked per component, whatever component list carries it.
    ComponentRollback {
        /// Index into the manifest's component list.
        component: usize,
        /// Sequence number of the manifest that installed the current content.
        installed: u64,
        /// Sequence number of the manifest that wants to replace it.
        offered: u64,
    },
    /// An update-management rule of device policy (e.g. authorization required).
    UpdateManagement(crate::suit::update_management::UmError),
}

#[cfg(feature = "explain")]
impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PolicyError::Rollback { stored, offered } => write!(
                f,
                "Rollback: sequence number {offered} is not greater than the stored {stored}"
            ),
            PolicyError::ComponentNotPermitted { component } => {
                write!(
                    f,
                    "component {component} is not permitted for any signer of the manifest"
                )
            }
            PolicyError::MissingRequiredSigner {
                component,
                required,
            } => {
                write!(
                    f,
                    "component {component}: a required signer is missing ({required})"
                )
            }
            PolicyError::IdentifierNotPermitted => f.write_str(
                "a vendor or class identifier is not permitted for any signer of the manifest",
            ),
            PolicyError::SequenceKeyNotPermitted => f.write_str(
                "the manifest's suit-manifest-component-id (or, without one, its empty component list) is not permitted for any signer",
            ),
            PolicyError::PlaintextNotPermitted { component } => write!(
                f,
                "component {component}: no signer's anchor may put decrypted or secure content there, or not every anchor that owns the content allows it (content whose digest is withheld is compared with a value, moved where others own it or rewritten at its sequence number only if all its owners signed)"
            ),
            PolicyError::ComponentRollback {
                component,
                installed,
                offered,
            } => write!(
                f,
                "Rollback of component {component}: sequence number {offered} is not greater than {installed}, that of the manifest that installed its current content"
            ),
            PolicyError::UpdateManagement(e) => {
                f.write_str(&super::explain::update_management(e))
            }
        }
    }
}

/// Which command sequence of a manifest was running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// `suit-shared-sequence` (run before every other section).
    Shared,
    /// `suit-dependency-resolution` (15, trust domains).
    DependencyResolution,
    /// `suit-payload-fetch` (16).
    PayloadFetch,
    /// `suit-candidate-verification` (18, trust domains).
    CandidateVerification,
    /// `suit-install` (20).
    Install,
    /// `suit-validate` (7).
    Validate,
    /// `suit-load` (8).
    Load,
    /// `suit-invoke` (9).
    Invoke,
}

/// Where in a manifest tree a command failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// 0 for the root manifest, 1 for its dependencies, and so on.
    pub manifest_depth: u8,
    /// Section being executed.
    pub section: Section,
    /// Command indices from the section down to the failing command (nested sequences of
    /// try-each / run-sequence add a level: `[2, 1, 0]` = command 2, its option 1, command 0).
    pub path: Vec<u16>,
    /// Component index (in the failing manifest) the command was applied to, if any.
    pub component: Option<usize>,
    /// Byte offset of the failing command in its section's command sequence (nested ones
    /// included); `None` for a check at the end of a section, outside any command.
    pub offset: Option<u64>,
}

/// A failed command, with its location.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandError {
    /// Where.
    pub location: Location,
    /// What.
    pub kind: CommandErrorKind,
}

/// Conditions, for error reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConditionKind {
    /// suit-condition-vendor-identifier (1).
    VendorIdentifier,
    /// suit-condition-class-identifier (2).
    ClassIdentifier,
    /// suit-condition-image-match (3).
    ImageMatch,
    /// suit-condition-component-slot (5).
    ComponentSlot,
    /// suit-condition-check-content (6).
    CheckContent,
    /// suit-condition-dependency-integrity (7, trust domains).
    DependencyIntegrity,
    /// suit-condition-is-dependency (8, trust domains).
    IsDependency,
    /// suit-condition-abort (14).
    Abort,
    /// suit-condition-device-identifier (24).
    DeviceIdentifier,
    /// suit-condition-use-before (4, update management).
    UseBefore,
    /// suit-condition-image-not-match (25, update management).
    ImageNotMatch,
    /// suit-condition-minimum-battery (26, update management).
    MinimumBattery,
    /// suit-condition-update-authorized (27, update management).
    UpdateAuthorized,
    /// suit-condition-version (28, update management).
    Version,
}

/// Parameters, for error reporting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParameterKind {
    /// Vendor identifier (1).
    VendorId,
    /// Class identifier (2).
    ClassId,
    /// Image digest (3).
    ImageDigest,
    /// Component slot (5).
    ComponentSlot,
    /// Content (18).
    Content,
    /// URI (21).
    Uri,
    /// Source component (22).
    SourceComponent,
    /// Device identifier (24).
    DeviceId,
    /// Use before (4, update management).
    UseBefore,
    /// Minimum battery (26, update management).
    MinimumBattery,
    /// Version (28, update management).
    Version,
    /// Wait info (29, update management).
    WaitInfo,
}

/// What went wrong in a command.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandErrorKind {
    /// A condition failed (and soft-failure did not absorb it).
    ConditionFailed(ConditionKind),
    /// A command needed a parameter that is not set for the current component.
    MissingParameter(ParameterKind),
    /// Set-component-index (or source-component) named an index outside the component list.
    ComponentIndexOutOfRange(u64),
    /// Every option of a try-each failed.
    TryEachExhausted,
    /// soft-failure set outside try-each / run-sequence.
    SoftFailureOutsideTryEach,
    /// More than one component and the sequence does not start with set-component-index.
    MissingComponentIndex,
    /// The image written does not match the image-digest parameter.
    ImageDigestMismatch,
    /// More (or fewer) bytes than the image-size parameter allows.
    ImageSizeMismatch,
    /// A payload exceeds the engine's bound.
    PayloadTooLarge,
    /// A URI beginning with `#` names no integrated payload in the envelope.
    MissingIntegratedPayload,
    /// process-dependency / dependency-integrity on a component that is not a dependency.
    NotADependency,
    /// process-dependency before dependency-integrity succeeded for that dependency.
    DependencyNotVerified,
    /// The dependency's manifest digest differs from the image-digest parameter.
    DependencyDigestMismatch,
    /// The dependency could not be decoded or authenticated, or its own commands failed.
    Dependency(Box<Error>),
    /// Dependencies nested deeper than the engine allows.
    DependencyTooDeep,
    /// A directive that the shared sequence may not contain.
    NotAllowedInShared,
    /// A copy or swap whose source and destination are the same component.
    SourceIsDestination,
    /// A custom (negative-label) command this engine does not know; it fails as a condition
    /// does (manifest draft, SUIT_Condition: an unknown condition MUST report a failure).
    UnsupportedCommand(i64),
    /// The platform refused or failed an operation.
    Platform(PlatformError),
    /// The payload decryptor refused the encryption info or the ciphertext.
    Decrypt(DecryptError),
    /// The manifest's signers may not perform this operation on this component.
    Policy(PolicyError),
    /// A condition would look at decrypted content that is not authenticated yet (only
    /// image-match may: it is the check that authenticates it).
    UnauthenticatedContent,
    /// suit-directive-fetch with suit-parameter-encryption-info set: the firmware-encryption
    /// draft decrypts only on copy or write (fetch the ciphertext into its own component).
    /// Into a dependency too: trust domains' encrypted-manifest template is not supported.
    DecryptingFetch,
    /// With suit-parameter-strict-order false, a component is the target of one command and
    /// the source of another between two barriers (manifest-37 §6.7: MUST abort).
    UnorderedSourceAndTarget {
        /// Index of the component in the manifest's list.
        component: usize,
    },
    /// A run-sequence issued with strict-order false has a set-component-index other than as
    /// its first command (for an integer index), or at all (index true / a list), or does
    /// not begin with one for an integer index (manifest-37 §6.7: MUST abort).
    UnorderedRunSequenceIndex,
    /// A section of a dependent ended without processing a dependency that has the same
    /// section (trust domains, required checks: MUST abort).
    DependencyNotProcessed,
    /// A write, copy or swap into a component index that suit-dependencies names: a
    /// dependency manifest is taken by fetch (or from the envelope) only, and is never
    /// installed as content (device policy: such content would escape the signer rules and
    /// rollback checks that every other component meets).
    DependencyOverwrite,
    /// An update-management condition or directive failed (draft-ietf-suit-update-management).
    UpdateManagement(alloc::boxed::Box<crate::suit::update_management::UmError>),
    /// A bound of the running engine, named: the steps one run may take
    /// ([`crate::suit::interpreter::MAX_STEPS`]), the dependency envelopes it may hold, or
    /// the custom parameters a component may hold
    /// ([`crate::suit::command::MAX_CUSTOM_PARAMETERS`]).
    Limit(Words),
    /// A copy or write would decrypt with suit-parameter-encryption-info set by a manifest
    /// that not every signer of this one signed (a dependent's set-parameters, say), into
    /// content this manifest does not name by its own image digest (device policy, trust
    /// domains: which parameters a dependent may set is the device's to decide).
    ForeignEncryptionInfo,
    /// dependency-integrity on a dependency whose envelope this run has not fetched: before
    /// its fetch in the update procedure, or at all in the invocation procedure (device
    /// policy: no dependency envelope is kept past the update run that fetched it, so this
    /// device cannot invoke through dependencies).
    DependencyNotHeld,
}

/// Plain sentences (see [`super::explain`]): the same words in the agent's rendering of the
/// TA's refusals and in the author tool.
#[cfg(feature = "explain")]
impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&super::explain::error(self))
    }
}

impl From<AuthError> for Error {
    fn from(e: AuthError) -> Self {
        Error::Auth(e)
    }
}

impl From<PolicyError> for Error {
    fn from(e: PolicyError) -> Self {
        Error::Policy(e)
    }
}

/// Adds the name of the structure being decoded to a CBOR error.
pub(crate) trait DecodeContext<T> {
    fn at(self, at: Words) -> Result<T, Error>;
}

impl<T> DecodeContext<T> for Result<T, CborError> {
    fn at(self, at: Words) -> Result<T, Error> {
        self.map_err(|error| Error::Decode { at, error })
    }
}
