//! Engine errors in words: what was refused, where, and the likely cause. The one place both
//! tools (and the TA's refusal texts) take their wording from; [`Error`]'s `Display` uses it.

use alloc::format;
use alloc::string::{String, ToString};
use alloc::vec::Vec;

use super::error::{
    AuthError, CommandError, CommandErrorKind, ConditionKind, Error, ParameterKind, PolicyError,
    Section, Unsupported,
};
use super::platform::PlatformError;
use crate::cose::CoseError;

/// One line explaining an engine error.
pub fn error(e: &Error) -> String {
    match e {
        Error::Auth(a) => auth(a),
        Error::Policy(p) => policy(p),
        Error::Command(c) => command_error(c),
        Error::UnverifiedPlaintext(c) => format!(
            "decrypted payload for component {c} has no matching image digest, so the engine \
             refuses to commit it (nothing was written)"
        ),
        Error::UnvouchedContent(c) => format!(
            "content for component {c}, which this device keeps inside the TEE, is vouched for by \
             no image digest, AEAD tag or content of the signed manifest, only by whoever served \
             it (fetched or integrated without condition-image-match), so the engine refuses to \
             commit it (nothing was written)"
        ),
        Error::SeveredSectionMissing(s) => format!(
            "{} was severed from the manifest and the envelope does not carry it",
            section(*s)
        ),
        Error::Decode { at, error } => format!("malformed {at}: {error}"),
        Error::Invalid { at, reason } => format!("invalid {at}: {reason}"),
        Error::Unsupported(u) => format!("not supported by this engine: {}", unsupported(u)),
        Error::Platform(p) => format!("platform failure: {}", platform(*p)),
        Error::Limit(what) => format!("engine limit exceeded: {what}"),
    }
}

/// A failed command: where (manifest, command path, section, component) and what.
pub fn command_error(c: &CommandError) -> String {
    // A check at the end of a section (a dependency left unprocessed) has no command path.
    let at = if c.location.path.is_empty() {
        "the end".to_string()
    } else {
        format!(
            "command {}",
            c.location
                .path
                .iter()
                .map(u16::to_string)
                .collect::<Vec<_>>()
                .join(".")
        )
    };
    let mut s = format!(
        "{} failed at {at} of {}{}",
        if c.location.manifest_depth == 0 {
            "the manifest".to_string()
        } else {
            format!("dependency manifest (depth {})", c.location.manifest_depth)
        },
        section(c.location.section),
        c.location
            .component
            .map(|i| format!(" on component {i}"))
            .unwrap_or_default()
    );
    s.push_str(": ");
    s.push_str(&command(&c.kind));
    s
}

/// Section name as in the draft.
pub fn section(s: Section) -> &'static str {
    s.name()
}

fn auth(a: &AuthError) -> String {
    match a {
        AuthError::NoAuthenticationBlock => {
            "not authenticated: the authentication wrapper holds only a digest, no signature \
             or MAC (unsigned envelope)"
                .into()
        }
        AuthError::ManifestDigestMismatch => {
            "not authenticated: the manifest does not match the digest in the authentication \
             wrapper (the manifest was modified)"
                .into()
        }
        AuthError::NoMatchingTrustAnchor => {
            "not authenticated: no trust anchor fits any authentication block (key type, \
             algorithm or kid differ: wrong key, or a MAC key needed?)"
                .into()
        }
        AuthError::BadSignature { block } => format!(
            "not authenticated: authentication block {block} does not verify with any given \
             trust anchor (wrong key, or the envelope was modified)"
        ),
        AuthError::Cose { block, error } => {
            format!(
                "not authenticated: authentication block {block}: {}",
                cose(error)
            )
        }
        AuthError::SeveredMemberDigestMismatch { member } => format!(
            "severed member {} does not match its digest in the manifest (modified)",
            member_name(*member)
        ),
        AuthError::UnexpectedEnvelopeMember { member } => format!(
            "the envelope carries severed member {}, which the manifest does not hold",
            member_name(*member)
        ),
        AuthError::Dependency(e) => format!("dependency manifest: {}", error(e)),
    }
}

fn cose(e: &CoseError) -> String {
    match e {
        CoseError::Malformed => "malformed COSE structure".into(),
        CoseError::UnsupportedStructure(t) => {
            format!(
                "COSE structure with tag {t} is not supported here (only COSE_Sign1 and COSE_Mac0)"
            )
        }
        CoseError::MissingAlgorithm => "no algorithm in the protected header".into(),
        CoseError::UnsupportedAlgorithm(a) => format!("unsupported algorithm {a}"),
        CoseError::KeyAlgorithmMismatch => {
            "the key's type, or the algorithm its COSE_Key declares, does not fit the algorithm"
                .into()
        }
        CoseError::PayloadNotDetached => "payload is not detached".into(),
        CoseError::VerificationFailed => "signature or MAC does not verify".into(),
        CoseError::InvalidKey => "invalid key".into(),
        CoseError::UnknownCriticalHeader => "unknown critical header parameter".into(),
        CoseError::SigningFailed => "signing failed".into(),
        CoseError::TooManySigners => format!(
            "more than {} signatures (COSE_Sign) or recipients (COSE_Mac) in one block",
            crate::cose::MAX_COSE_SIGNERS
        ),
        CoseError::UnsupportedRecipient(a) => format!(
            "COSE_Mac recipient algorithm {a} is not supported (only direct, -6, with a \
             provisioned MAC key)"
        ),
        CoseError::AlgorithmNotEnabled(a) => {
            format!("algorithm {a} is not enabled on this device (device policy)")
        }
        CoseError::HeaderTooLarge => format!(
            "COSE header too large: protected header over {} bytes or kid over {} bytes \
             (device policy)",
            crate::cose::MAX_PROTECTED_LEN,
            crate::cose::MAX_KID_LEN
        ),
    }
}

fn member_name(label: i64) -> String {
    match crate::registry::ManifestKey::from_value(label) {
        Some(m) => format!("{} ({label})", m.name()),
        None => format!("{label}"),
    }
}

fn policy(p: &PolicyError) -> String {
    format!("refused by policy: {p}")
}

fn platform(p: PlatformError) -> String {
    match p {
        PlatformError::Unsupported => "operation not supported by this device".into(),
        PlatformError::NotFound => "not found".into(),
        PlatformError::Refused => "refused".into(),
        PlatformError::NoSpace => "no space".into(),
        PlatformError::Io => "I/O error".into(),
        PlatformError::Other(c) => format!("error {c:#x}"),
        PlatformError::BadLength => {
            "a read reported more bytes than its buffer holds (platform bug)".into()
        }
        PlatformError::NotCommitted => NOT_COMMITTED.into(),
    }
}

fn command(k: &CommandErrorKind) -> String {
    use ConditionKind as C;
    match k {
        CommandErrorKind::ConditionFailed(c) => match c {
            C::VendorIdentifier => "vendor identifier does not match this device".into(),
            C::ClassIdentifier => "class identifier does not match this device".into(),
            C::DeviceIdentifier => "device identifier does not match this device".into(),
            C::ImageMatch => "image digest does not match the component's content".into(),
            C::UseBefore => "suit-condition-use-before failed".into(),
            C::ImageNotMatch => "suit-condition-image-not-match failed".into(),
            C::MinimumBattery => "suit-condition-minimum-battery failed".into(),
            C::UpdateAuthorized => "suit-condition-update-authorized failed".into(),
            C::Version => "suit-condition-version failed".into(),
            other => format!("{} failed", condition(*other)),
        },
        CommandErrorKind::MissingParameter(p) => format!("parameter {} is not set", parameter(*p)),
        CommandErrorKind::ImageDigestMismatch => "image digest mismatch".into(),
        CommandErrorKind::ImageSizeMismatch => "payload size differs from image-size".into(),
        CommandErrorKind::MissingIntegratedPayload => {
            "the URI names an integrated payload the envelope does not carry".into()
        }
        CommandErrorKind::Dependency(e) => format!("dependency: {}", error(e)),
        CommandErrorKind::Platform(p) => format!("platform: {}", platform(*p)),
        CommandErrorKind::Decrypt(d) => format!("payload decryption failed: {d}"),
        CommandErrorKind::Policy(p) => policy(p),
        CommandErrorKind::ComponentIndexOutOfRange(i) => {
            format!("component index {i} is beyond the manifest's components")
        }
        CommandErrorKind::TryEachExhausted => "no alternative of try-each succeeded".into(),
        CommandErrorKind::SoftFailureOutsideTryEach => {
            "soft-failure is set outside try-each".into()
        }
        CommandErrorKind::MissingComponentIndex => "no component index is set".into(),
        CommandErrorKind::PayloadTooLarge => "the payload exceeds the device's limit".into(),
        CommandErrorKind::NotADependency => "the component is not a dependency".into(),
        CommandErrorKind::DependencyNotVerified => {
            "the dependency was not verified before use".into()
        }
        CommandErrorKind::DependencyDigestMismatch => {
            "the dependency manifest does not match its digest".into()
        }
        CommandErrorKind::DependencyTooDeep => "dependencies are nested too deeply".into(),
        CommandErrorKind::NotAllowedInShared => {
            "the command is not allowed in the shared sequence".into()
        }
        CommandErrorKind::SourceIsDestination => {
            "source and destination component are the same".into()
        }
        CommandErrorKind::UnsupportedCommand(c) => format!("command {c} is not supported"),
        CommandErrorKind::UnauthenticatedContent => {
            "a condition would read decrypted content that is not authenticated yet (only \
             image-match may)"
                .into()
        }
        CommandErrorKind::UpdateManagement(e) => update_management(e),
        CommandErrorKind::DecryptingFetch => {
            "fetch with encryption-info: decryption happens only on copy or write (fetch the \
             ciphertext into its own component); an encrypted dependency manifest is not \
             supported"
                .into()
        }
        CommandErrorKind::UnorderedSourceAndTarget { component } => format!(
            "with strict-order false, component {component} is both written by one command \
             and read by another that may run in parallel (set strict-order true between them)"
        ),
        CommandErrorKind::UnorderedRunSequenceIndex => {
            "with strict-order false, a run-sequence may set the component index only as its \
             first command (integer index) and not at all for index true or a list"
                .into()
        }
        CommandErrorKind::DependencyNotProcessed => {
            "the section ended without process-dependency for a dependency that has this \
             section (a dependent must process its dependencies in every section)"
                .into()
        }
        CommandErrorKind::DependencyOverwrite => {
            "write, copy and swap into a dependency's component are refused: a dependency \
             manifest is taken by fetch only (device policy)"
                .into()
        }
        CommandErrorKind::Limit(w) => format!("engine limit exceeded: {w}"),
        CommandErrorKind::ForeignEncryptionInfo => {
            "decryption with encryption-info set by a manifest this one's signers did not all \
             sign is refused unless the plaintext matches this manifest's own image digest \
             (device policy: set it with override-parameters, or name the plaintext by digest)"
                .into()
        }
        CommandErrorKind::DependencyNotHeld => {
            "dependency-integrity on a dependency this run has not fetched (the device keeps \
             no dependency envelope past an update, so invocation cannot process dependencies)"
                .into()
        }
    }
}

fn unsupported(u: &Unsupported) -> String {
    use Unsupported as U;
    match u {
        U::ManifestVersion(v) => format!("manifest version {v} (only 1)"),
        U::DigestAlgorithm(a) => format!("digest algorithm {a} (only SHA-256, -16)"),
        U::Member(m) => format!("unknown member {m}"),
        U::Parameter(p) => format!("unknown parameter {p}"),
        U::Command(c) => format!("unknown command {c}"),
        U::UnauthenticatedManifest => {
            "a bare manifest (tag 1070) carries no authentication; send an envelope".into()
        }
    }
}

/// Stored content that is not what was committed ([`PlatformError::NotCommitted`] and
/// [`crate::service::store::StoreError::NotCommitted`]).
const NOT_COMMITTED: &str = "content read back from storage is not what was committed";

// Service-side failures in words, so refusals never show Rust's Debug text.

/// A secure-storage failure.
pub fn store(e: &crate::service::store::StoreError) -> String {
    use crate::service::store::StoreError as S;
    match e {
        S::Io(code) => format!("the storage failed (code {code:#x})"),
        S::NoSpace => "the storage is full".into(),
        S::OutOfMemory => "out of memory for this object (the TA or the TEE)".into(),
        S::Corrupt => "a stored object is corrupt (secure storage tampered with?)".into(),
        S::BadName => "an object name is invalid".into(),
        S::NotCommitted => NOT_COMMITTED.into(),
        S::Unordered => "committed content is read in order from its start only".into(),
    }
}

/// A failure of the device's state record.
pub fn state(e: &crate::service::state::StateError) -> String {
    use crate::service::state::StateError as S;
    match e {
        S::Store(s) => store(s),
        S::Corrupt => "the state record does not decode (corrupt or an unknown format)".into(),
        S::BadAnchorKey(id) => format!("the stored key of anchor {id} no longer parses"),
        S::KeksNotCommitted => "the stored KEK object is not the KEK set the state record commits to (an older copy restored, or removed)".into(),
        S::Deleted => "the state record or the journal was deleted (the device keys exist, and are stored after both): refused rather than read as a new device".into(),
    }
}

/// A failure of the device-key store.
pub fn key_store(e: &crate::service::keys::KeyStoreError) -> String {
    use crate::service::keys::KeyStoreError as K;
    match e {
        K::Store(s) => store(s),
        K::Corrupt => "the stored device key object does not decode (not replaced)".into(),
        K::Rng => "the random number generator repeated itself".into(),
        K::Derivation => "key derivation produced no valid key".into(),
        K::NoKeyScope => {
            "the anchor predates per-anchor keys and has none until the TPA adds it again".into()
        }
        K::Deleted => "the device key object was deleted while the state record or the journal holds what only a device with keys writes (no new key is made)".into(),
    }
}

/// A CBOR decoding failure (the kind; the offset is added by `CborError`'s Display).
pub fn cbor(k: &crate::cbor::CborErrorKind) -> String {
    // The wording lives with the type, in suit-cbor (a crate of its own).
    k.to_string()
}

impl core::fmt::Display for CoseError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&cose(self))
    }
}

impl core::fmt::Display for crate::service::store::StoreError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&store(self))
    }
}

impl core::fmt::Display for crate::service::state::StateError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&state(self))
    }
}

impl core::fmt::Display for crate::service::keys::KeyStoreError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&key_store(self))
    }
}

fn version_text(v: &[i64]) -> String {
    v.iter().map(i64::to_string).collect::<Vec<_>>().join(".")
}

fn priority_text(p: Option<i64>) -> String {
    p.map_or_else(
        || "no update priority".into(),
        |p| format!("update priority {p}"),
    )
}

/// An update-management failure (draft-ietf-suit-update-management) in words, naming the
/// condition or directive.
pub fn update_management(e: &super::update_management::UmError) -> String {
    use super::update_management::UmError as U;
    match e {
        U::Expired { now, use_before } => format!(
            "suit-condition-use-before failed: the manifest may be used only before {use_before} \
             (POSIX seconds) and the device's time is {now}"
        ),
        U::TimeUnknown => "suit-condition-use-before / time wait: the device has no clock, so \
             the time limit cannot be checked (refused, never assumed)"
            .into(),
        U::TimeUntrusted => "suit-condition-use-before / time wait: the device's only clock is \
             not trusted (e.g. OP-TEE REE time, set by the normal world) and device policy \
             refuses to check a time limit against it"
            .into(),
        U::BatteryUnknown => "suit-condition-minimum-battery failed: the device cannot measure \
             its battery and device policy does not assume enough energy"
            .into(),
        U::BatteryLow { have_mwh, need_mwh } => format!(
            "suit-condition-minimum-battery failed: the battery holds {have_mwh} mWh, the \
             manifest needs at least {need_mwh} mWh"
        ),
        U::NotAuthorized { priority } => format!(
            "suit-condition-update-authorized failed: the update ({}) was not authorized",
            priority_text(*priority)
        ),
        U::AuthorizationUnavailable { priority } => format!(
            "suit-condition-update-authorized failed: nobody on this device can authorize the \
             update ({}) and device policy does not authorize it on its own",
            priority_text(*priority)
        ),
        U::VersionUnknown => "suit-condition-version failed: the device does not know the \
             component's current version"
            .into(),
        U::VersionMismatch {
            comparison,
            wanted,
            current,
        } => format!(
            "suit-condition-version failed: the component's version {} is not {} {}",
            version_text(current),
            comparison.symbol(),
            version_text(wanted)
        ),
        U::ImageMatches => "suit-condition-image-not-match failed: the component already \
             matches the image digest"
            .into(),
        U::WaitNotSatisfied(k) => format!(
            "suit-directive-wait: {} did not occur within the device's wait limit (the update \
             stops; retry later)",
            k.name()
        ),
        U::WaitUnsupported(k) => format!(
            "suit-directive-wait: this device cannot observe {}",
            k.name()
        ),
        U::MetadataNotApplicable => "suit-parameter-component-metadata is set and this device \
             cannot apply component metadata (permissions, owner, file type), so it refuses \
             the fetch / copy / write rather than ignore it"
            .into(),
        U::AuthorizationRequired => "device policy requires update manifests to ask for \
             authorization (suit-condition-update-authorized) and this one does not"
            .into(),
    }
}

/// A condition's name as in the drafts.
pub fn condition(c: ConditionKind) -> &'static str {
    c.command().name()
}

/// A parameter's name as in the drafts.
pub fn parameter(p: ParameterKind) -> &'static str {
    p.parameter().name()
}

/// A signer requirement of a component rule.
pub fn requirement(r: &crate::suit::policy::Requirement) -> String {
    use crate::suit::policy::{Requirement, Role};
    match r {
        Requirement::Role(Role::TrustProvisioningAuthority) => "a TPA-role anchor".into(),
        Requirement::Role(Role::Author) => "an author-role anchor".into(),
        Requirement::Role(Role::Operator) => "an operator-role anchor".into(),
        Requirement::Anchor(id) => format!("anchor {id}"),
    }
}

// `Display` (and `core::error::Error`) of the engine's errors and the kinds they carry: all
// text comes from the functions above, so there is one wording.

macro_rules! display_with {
    ($($ty:ty => $f:expr;)*) => {$(
        impl core::fmt::Display for $ty {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                #[allow(clippy::redundant_closure_call)]
                f.write_str(&($f)(self))
            }
        }
    )*};
}

display_with! {
    AuthError => auth;
    CommandError => command_error;
    CommandErrorKind => command;
    Unsupported => |u: &Unsupported| format!("not supported by this engine: {}", unsupported(u));
    Section => |s: &Section| section(*s);
    ConditionKind => |c: &ConditionKind| condition(*c);
    ParameterKind => |p: &ParameterKind| parameter(*p);
    PlatformError => |p: &PlatformError| platform(*p);
    super::update_management::UmError => update_management;
    super::update_management::WaitEventKind => |k: &super::update_management::WaitEventKind| k.name();
    crate::suit::policy::Requirement => requirement;
}

impl core::error::Error for Error {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Error::Decode { error, .. } => Some(error),
            Error::Unsupported(u) => Some(u),
            Error::Auth(a) => Some(a),
            Error::Policy(p) => Some(p),
            Error::Command(c) => Some(c),
            Error::Platform(p) => Some(p),
            _ => None,
        }
    }
}

impl core::error::Error for AuthError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            AuthError::Cose { error, .. } => Some(error),
            AuthError::Dependency(e) => Some(e.as_ref()),
            _ => None,
        }
    }
}

impl core::error::Error for PolicyError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            PolicyError::UpdateManagement(e) => Some(e),
            _ => None,
        }
    }
}

impl core::error::Error for CommandError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        Some(&self.kind)
    }
}

impl core::error::Error for CommandErrorKind {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            CommandErrorKind::Dependency(e) => Some(e.as_ref()),
            CommandErrorKind::Platform(p) => Some(p),
            CommandErrorKind::Decrypt(d) => Some(d),
            CommandErrorKind::Policy(p) => Some(p),
            CommandErrorKind::UpdateManagement(u) => Some(u.as_ref()),
            _ => None,
        }
    }
}

impl core::error::Error for Unsupported {}
impl core::error::Error for PlatformError {}
impl core::error::Error for super::update_management::UmError {}
impl core::error::Error for CoseError {}

impl core::error::Error for crate::service::store::StoreError {}

impl core::error::Error for crate::service::state::StateError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            crate::service::state::StateError::Store(s) => Some(s),
            _ => None,
        }
    }
}

impl core::error::Error for crate::service::keys::KeyStoreError {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            crate::service::keys::KeyStoreError::Store(s) => Some(s),
            _ => None,
        }
    }
}
