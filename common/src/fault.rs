//! Why the TA refused, as typed values: the one wire form of every error the TA reports (a
//! refusal's body, a failure report's detail, status's state error) and, with the `explain`
//! feature, the one place that puts it back into words.
//!
//! Each error enum is the array `[code, fields...]` ([`crate::cbor::numbered_enum_codec!`]);
//! a struct is the array of its fields. The TA encodes and never renders: it is built
//! without `explain`, so no prose of these errors is linked into it (TA size), and
//! the host tools decode and print the same `Display` words the engine uses on the host. The
//! codes below are the wire contract: a variant keeps its number, a new one takes the next.
//!
//! Errors carry identifiers, indices, counts and fixed words only, never key material or
//! plaintext (see each type), so their codes are as safe to send to the REE as their text was.

use alloc::vec::Vec;

use crate::cbor::{array_struct_codec, numbered_enum_codec, CborError, Decoder, Encoder, Field};
use crate::cose::CoseError;
use crate::encryption::{DecryptError, KeyError, Location as CoseLocation, Problem};
use crate::protocol::ByteBuf;
use crate::service::components::TaImageError;
use crate::service::install::InstallError;
use crate::service::keys::KeyStoreError;
use crate::service::provision::{CounterKind, KeyHolder, OpError, ProvisionError};
use crate::service::state::StateError;
use crate::service::store::StoreError;
use crate::suit::error::{
    AuthError, CommandError, CommandErrorKind, ConditionKind, Error, Location, ParameterKind,
    PolicyError, Section, Unsupported,
};
use crate::suit::platform::PlatformError;
use crate::suit::policy::{Requirement, Role};
use crate::suit::update_management::{Comparison, UmError};
use crate::suit::ComponentId;

/// Everything the TA refuses with, each with the context its words start with.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fault {
    /// The service's own refusals.
    Service(ServiceFault),
    /// "secure storage state unusable: …"
    State(StateError),
    /// "device key store: …"
    KeyStore(KeyStoreError),
    /// An install step.
    Install(InstallError),
    /// A provisioning message.
    Provision(ProvisionError),
    /// "secure storage: …"
    Store(StoreError),
    /// "an interrupted update could not be finished: …"
    Reconcile(StateError),
    /// The TA failed to encode or sign what it answers with.
    Internal(Internal),
    /// "storing the report: …"
    ReportStore(StoreError),
}

numbered_enum_codec!(Fault {
    0 => Service(a),
    1 => State(a),
    2 => KeyStore(a),
    3 => Install(a),
    4 => Provision(a),
    5 => Store(a),
    6 => Reconcile(a),
    7 => Internal(a),
    8 => ReportStore(a),
});

/// What the TA could not produce ([`Fault::Internal`]). None of these depends on the
/// request's content, so none says more than which step failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Internal {
    /// The response did not encode.
    EncodeResponse,
    /// The state digest a receipt signs did not encode.
    StateDigest,
    /// Signing the provisioning receipt.
    SignReceipt,
    /// Signing the key statement.
    SignStatement,
    /// Encoding the report.
    EncodeReport,
    /// Signing the report.
    SignReport,
    /// The heap could not hold the TA's copy of the request (refused, never an abort).
    CopyRequest,
}

numbered_enum_codec!(Internal {
    0 => EncodeResponse,
    1 => StateDigest,
    2 => SignReceipt,
    3 => SignStatement,
    4 => EncodeReport,
    5 => SignReport,
    6 => CopyRequest,
});

/// The service's own refusals. Fields name what the REE asked for (an anchor id, a path) or
/// whose data is withheld (a TA's UUID), never content.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ServiceFault {
    /// Personalization data is only for the TA it belongs to, over a TA-to-TA session.
    PersonalizationNotOwner,
    /// The TA's last install was not confirmed by OP-TEE (its UUID).
    PersonalizationUnconfirmed(ByteBuf),
    /// No personalization data for the TA (its UUID).
    NoPersonalization(ByteBuf),
    /// The personalization object is missing.
    PersonalizationMissing,
    /// The personalization object has another size than recorded.
    PersonalizationSize,
    /// The personalization object has another digest than recorded.
    PersonalizationDigest,
    /// No approved REE component at this path.
    NoReeComponent(alloc::string::String),
    /// An REE export offset beyond the component.
    OffsetBeyond,
    /// A chunk length that does not fit this device.
    ChunkLength,
    /// REE components are exported in order from offset 0.
    ExportUnordered,
    /// A chunk over the protocol's limit.
    ChunkTooLarge,
    /// No anchor with this id.
    NoAnchor(u32),
    /// No report stored yet (`true`: of an attempt refused before authentication).
    NoReport(bool),
    /// The stored report is not one kept for the current state.
    ReportNotCurrent,
    /// A report nonce longer than [`crate::report::MAX_NONCE_LEN`] (device policy: the
    /// report draft bounds none).
    NonceTooLong,
    /// A commit interrupted after it handed OP-TEE a TA image it kept in memory only awaits
    /// the same envelope (its SHA-256) to finish, or its abandonment: nothing else runs.
    AwaitingEnvelope(ByteBuf),
    /// An abandon that names no commit awaiting its envelope (none awaits, or another).
    NotAwaited,
    /// The REE component at this path holds confidential content whose release no anchor
    /// stands by any more: every anchor whose `ree_plaintext` let it out was removed or lost
    /// the flag.
    ReeReleaseRevoked(alloc::string::String),
}

numbered_enum_codec!(ServiceFault {
    0 => PersonalizationNotOwner,
    1 => PersonalizationUnconfirmed(uuid),
    2 => NoPersonalization(uuid),
    3 => PersonalizationMissing,
    4 => PersonalizationSize,
    5 => PersonalizationDigest,
    6 => NoReeComponent(path),
    7 => OffsetBeyond,
    8 => ChunkLength,
    9 => ExportUnordered,
    10 => ChunkTooLarge,
    11 => NoAnchor(id),
    12 => NoReport(pre_auth),
    13 => ReportNotCurrent,
    14 => NonceTooLong,
    15 => AwaitingEnvelope(digest),
    16 => NotAwaited,
    17 => ReeReleaseRevoked(path),
});

impl Fault {
    /// The wire form.
    pub fn encode(&self) -> Vec<u8> {
        let mut e = Encoder::new();
        self.put(&mut e);
        e.into_bytes()
    }

    /// Reads a fault the TA sent; `None` if it is not one this build knows (a newer TA).
    pub fn decode(bytes: &[u8]) -> Option<Fault> {
        crate::cbor::codec::decode::<Wire<Fault>>(bytes, MAX_FAULT)
            .ok()
            .map(|w| w.0)
    }
}

/// Longest encoded fault read back (a refusal body is bounded by the protocol anyway).
pub const MAX_FAULT: usize = 4096;

/// A [`Field`] read as a whole message.
struct Wire<T>(T);

impl<T: Field> crate::cbor::Codec for Wire<T> {
    fn encode_into(&self, e: &mut Encoder) {
        self.0.put(e);
    }
    fn decode_from(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        T::take(d).map(Wire)
    }
}

/// Reads a refusal's fault and puts it into words: the one rendering of every refusal the
/// host tools print. An empty fault is a refusal the TA could not encode; one this build
/// cannot read (a newer TA) is shown as its bytes.
#[cfg(feature = "explain")]
pub fn render(fault: &[u8]) -> alloc::string::String {
    use alloc::string::ToString;
    if fault.is_empty() {
        return "the TA gave no reason".into();
    }
    match Fault::decode(fault) {
        Some(f) => f.to_string(),
        None => {
            let mut s = alloc::string::String::from("a fault this tool cannot read: ");
            crate::text::push_hex(&mut s, fault.get(..64).unwrap_or(fault));
            s
        }
    }
}

/// A TA's UUID as a fault carries it.
pub(crate) fn uuid(uuid: &[u8; 16]) -> ByteBuf {
    ByteBuf::from(uuid.to_vec())
}

/// A TA's UUID in its usual text form (or the bytes in hex if they are not 16).
#[cfg(feature = "explain")]
pub(crate) struct Uuid<'a>(pub &'a [u8]);

#[cfg(feature = "explain")]
impl core::fmt::Display for Uuid<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match <[u8; 16]>::try_from(self.0) {
            Ok(u) => f.write_str(&crate::text::uuid(&u)),
            Err(_) => f.write_str(&crate::text::hex(self.0)),
        }
    }
}

#[cfg(feature = "explain")]
impl core::fmt::Display for Fault {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Fault::Service(s) => write!(f, "{s}"),
            Fault::State(e) => write!(f, "secure storage state unusable: {e}"),
            Fault::KeyStore(e) => write!(f, "device key store: {e}"),
            Fault::Install(e) => write!(f, "{e}"),
            Fault::Provision(e) => write!(f, "{e}"),
            Fault::Store(e) => write!(f, "secure storage: {e}"),
            Fault::Reconcile(e) => write!(f, "an interrupted update could not be finished: {e}"),
            Fault::Internal(i) => write!(f, "{i}"),
            Fault::ReportStore(e) => write!(f, "storing the report: {e}"),
        }
    }
}

#[cfg(feature = "explain")]
impl core::error::Error for Fault {
    fn source(&self) -> Option<&(dyn core::error::Error + 'static)> {
        match self {
            Fault::State(e) | Fault::Reconcile(e) => Some(e),
            Fault::KeyStore(e) => Some(e),
            Fault::Install(e) => Some(e),
            Fault::Provision(e) => Some(e),
            Fault::Store(e) | Fault::ReportStore(e) => Some(e),
            Fault::Service(_) | Fault::Internal(_) => None,
        }
    }
}

#[cfg(feature = "explain")]
impl core::fmt::Display for Internal {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Internal::EncodeResponse => "could not encode the response",
            Internal::StateDigest => "could not encode the state digest",
            Internal::SignReceipt => "signing the receipt failed",
            Internal::SignStatement => "signing the key statement failed",
            Internal::EncodeReport => "encoding the report failed",
            Internal::SignReport => "signing the report failed",
            Internal::CopyRequest => "the TA is out of memory for a copy of the request",
        })
    }
}

#[cfg(feature = "explain")]
impl core::fmt::Display for ServiceFault {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use ServiceFault as S;
        match self {
            S::PersonalizationNotOwner => f.write_str(
                "personalization data is released only to the TA it belongs to, over a TA-to-TA session",
            ),
            S::PersonalizationUnconfirmed(uuid) => write!(
                f,
                "TA {}'s last install was not confirmed by OP-TEE: its personalization data is withheld until an update that installs it succeeds",
                Uuid(uuid)
            ),
            S::NoPersonalization(uuid) => {
                write!(f, "no personalization data for TA {}", Uuid(uuid))
            }
            S::PersonalizationMissing => f.write_str("personalization object missing"),
            S::PersonalizationSize => {
                f.write_str("personalization object does not match its recorded size")
            }
            S::PersonalizationDigest => {
                f.write_str("personalization object does not match its recorded digest")
            }
            S::NoReeComponent(path) => write!(f, "no approved REE component {path}"),
            S::OffsetBeyond => f.write_str("offset beyond the component"),
            S::ChunkLength => f.write_str("chunk length does not fit this device"),
            S::ExportUnordered => {
                f.write_str("REE components are exported in order from offset 0")
            }
            S::ChunkTooLarge => write!(
                f,
                "chunk exceeds {} bytes",
                crate::protocol::MAX_CHUNK
            ),
            S::NoAnchor(id) => write!(f, "no anchor {id}"),
            S::NoReport(true) => {
                f.write_str("no attempt has been refused before authentication yet")
            }
            S::NoReport(false) => f.write_str(
                "no install attempt with an authenticated manifest has been reported yet",
            ),
            S::ReportNotCurrent => {
                f.write_str("the stored report is not one kept for the current state")
            }
            S::NonceTooLong => write!(
                f,
                "a report nonce of at most {} bytes is signed",
                crate::report::MAX_NONCE_LEN
            ),
            S::AwaitingEnvelope(digest) => write!(
                f,
                "an update was interrupted while OP-TEE installed its TA: send the same envelope again (SHA-256 {}) to finish it, or abandon it; nothing else runs until then",
                crate::text::hex(digest)
            ),
            S::NotAwaited => f.write_str("no interrupted update awaits that envelope"),
            S::ReeReleaseRevoked(path) => write!(
                f,
                "REE component {path} holds confidential content, and no anchor that let it out of the TEE has ree_plaintext any more: it is not exported again"
            ),
        }
    }
}

// The engine's errors.

numbered_enum_codec!(Error {
    0 => Decode { at, error },
    1 => Invalid { at, reason },
    2 => Unsupported(a),
    3 => Auth(a),
    4 => Policy(a),
    5 => Command(a),
    6 => UnverifiedPlaintext(a),
    7 => SeveredSectionMissing(a),
    8 => Platform(a),
    9 => Limit(a),
    10 => UnvouchedContent(a),
});

numbered_enum_codec!(Unsupported {
    0 => ManifestVersion(a),
    1 => DigestAlgorithm(a),
    2 => Member(a),
    3 => Parameter(a),
    4 => Command(a),
    5 => UnauthenticatedManifest,
});

numbered_enum_codec!(AuthError {
    0 => NoAuthenticationBlock,
    1 => ManifestDigestMismatch,
    2 => NoMatchingTrustAnchor,
    3 => BadSignature { block },
    4 => Cose { block, error },
    5 => SeveredMemberDigestMismatch { member },
    6 => UnexpectedEnvelopeMember { member },
    7 => Dependency(a),
});

numbered_enum_codec!(PolicyError {
    0 => Rollback { stored, offered },
    1 => ComponentNotPermitted { component },
    2 => MissingRequiredSigner { component, required },
    3 => IdentifierNotPermitted,
    4 => SequenceKeyNotPermitted,
    5 => PlaintextNotPermitted { component },
    6 => ComponentRollback { component, installed, offered },
    7 => UpdateManagement(a),
});

numbered_enum_codec!(Requirement {
    0 => Role(a),
    1 => Anchor(a),
});

numbered_enum_codec!(Role {
    0 => TrustProvisioningAuthority,
    1 => Author,
    2 => Operator,
});

array_struct_codec!(Location {
    manifest_depth,
    section,
    path,
    component,
    offset,
});

array_struct_codec!(CommandError { location, kind });

numbered_enum_codec!(Section {
    0 => Shared,
    1 => DependencyResolution,
    2 => PayloadFetch,
    3 => CandidateVerification,
    4 => Install,
    5 => Validate,
    6 => Load,
    7 => Invoke,
});

numbered_enum_codec!(ConditionKind {
    0 => VendorIdentifier,
    1 => ClassIdentifier,
    2 => ImageMatch,
    3 => ComponentSlot,
    4 => CheckContent,
    5 => DependencyIntegrity,
    6 => IsDependency,
    7 => Abort,
    8 => DeviceIdentifier,
    9 => UseBefore,
    10 => ImageNotMatch,
    11 => MinimumBattery,
    12 => UpdateAuthorized,
    13 => Version,
});

numbered_enum_codec!(ParameterKind {
    0 => VendorId,
    1 => ClassId,
    2 => ImageDigest,
    3 => ComponentSlot,
    4 => Content,
    5 => Uri,
    6 => SourceComponent,
    7 => DeviceId,
    8 => UseBefore,
    9 => MinimumBattery,
    10 => Version,
    11 => WaitInfo,
});

numbered_enum_codec!(CommandErrorKind {
    0 => ConditionFailed(a),
    1 => MissingParameter(a),
    2 => ComponentIndexOutOfRange(a),
    3 => TryEachExhausted,
    4 => SoftFailureOutsideTryEach,
    5 => MissingComponentIndex,
    6 => ImageDigestMismatch,
    7 => ImageSizeMismatch,
    8 => PayloadTooLarge,
    9 => MissingIntegratedPayload,
    10 => NotADependency,
    11 => DependencyNotVerified,
    12 => DependencyDigestMismatch,
    13 => Dependency(a),
    14 => DependencyTooDeep,
    15 => NotAllowedInShared,
    16 => SourceIsDestination,
    17 => UnsupportedCommand(a),
    18 => Platform(a),
    19 => Decrypt(a),
    20 => Policy(a),
    21 => UnauthenticatedContent,
    22 => DecryptingFetch,
    23 => UnorderedSourceAndTarget { component },
    24 => UnorderedRunSequenceIndex,
    25 => DependencyNotProcessed,
    26 => DependencyOverwrite,
    27 => UpdateManagement(a),
    28 => Limit(a),
    29 => ForeignEncryptionInfo,
    30 => DependencyNotHeld,
});

numbered_enum_codec!(PlatformError {
    0 => Unsupported,
    1 => NotFound,
    2 => Refused,
    3 => NoSpace,
    4 => Io,
    5 => Other(a),
    6 => BadLength,
    7 => NotCommitted,
});

numbered_enum_codec!(UmError {
    0 => Expired { now, use_before },
    1 => TimeUnknown,
    2 => TimeUntrusted,
    3 => BatteryUnknown,
    4 => BatteryLow { have_mwh, need_mwh },
    5 => NotAuthorized { priority },
    6 => AuthorizationUnavailable { priority },
    7 => VersionUnknown,
    8 => VersionMismatch { comparison, wanted, current },
    9 => ImageMatches,
    10 => WaitNotSatisfied(a),
    11 => WaitUnsupported(a),
    12 => MetadataNotApplicable,
    13 => AuthorizationRequired,
});

numbered_enum_codec!(Comparison {
    0 => Greater,
    1 => GreaterEqual,
    2 => Equal,
    3 => LesserEqual,
    4 => Lesser,
});

/// A registry entry is its registered value.
impl Field for crate::registry::WaitEventKind {
    fn put(&self, e: &mut Encoder) {
        e.int(self.value());
    }
    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        let at = d.position();
        Self::from_value(d.int()?).ok_or_else(|| crate::cbor::codec::unknown_variant(at))
    }
}

/// A component identifier is its segments, read with the engine's own bounded decoder.
impl Field for ComponentId {
    fn put(&self, e: &mut Encoder) {
        self.encode_to(e);
    }
    fn take(d: &mut Decoder<'_>) -> Result<Self, CborError> {
        let at = d.position();
        ComponentId::decode(d).map_err(|e| match e {
            Error::Decode { error, .. } => error,
            _ => CborError {
                kind: crate::cbor::CborErrorKind::TooLarge,
                offset: at,
            },
        })
    }
}

numbered_enum_codec!(CoseError {
    0 => Malformed,
    1 => UnsupportedStructure(a),
    2 => MissingAlgorithm,
    3 => UnsupportedAlgorithm(a),
    4 => KeyAlgorithmMismatch,
    5 => PayloadNotDetached,
    6 => VerificationFailed,
    7 => InvalidKey,
    8 => UnknownCriticalHeader,
    9 => SigningFailed,
    10 => TooManySigners,
    11 => UnsupportedRecipient(a),
    12 => AlgorithmNotEnabled(a),
    13 => HeaderTooLarge,
});

numbered_enum_codec!(DecryptError {
    0 => Malformed { at, problem },
    1 => UnsupportedContentAlgorithm(a),
    2 => UnsupportedRecipientAlgorithm(a),
    3 => Unsupported { at, label },
    4 => NoRecipientForKeys,
    5 => KeyUnwrapFailed,
    6 => HpkeOpenFailed,
    7 => InvalidPublicKey { recipient },
    8 => ContentKeyLength { expected, found },
    9 => UnknownPsk,
    10 => TagMismatch,
    11 => Truncated,
    12 => PayloadTooLong,
    13 => Poisoned,
    14 => DeviceKey(a),
});

numbered_enum_codec!(CoseLocation {
    0 => Structure,
    1 => Protected,
    2 => Unprotected,
    3 => Ciphertext,
    4 => Recipients,
    5 => Recipient(n),
    6 => RecipientProtected(n),
    7 => RecipientUnprotected(n),
    8 => EphemeralKey(n),
});

numbered_enum_codec!(Problem {
    0 => Cbor,
    1 => TrailingBytes,
    2 => Tag,
    3 => Shape,
    4 => DuplicateLabel,
    5 => HeaderType(l),
    6 => MissingHeader(l),
    7 => WrongBucket(l),
    8 => UnexpectedHeader(l),
    9 => IvLength(n),
    10 => TooManyRecipients,
    11 => NoRecipients,
    12 => CiphertextPlacement,
    13 => ProtectedNotEmpty,
});

numbered_enum_codec!(KeyError {
    0 => UnknownKey,
    1 => WrongKeyType,
    2 => InvalidPeerKey,
    3 => UnknownPsk,
    4 => OperationFailed,
    5 => InvalidKeyMaterial,
    6 => Backend,
});

// The service's storage and key errors.

numbered_enum_codec!(StoreError {
    0 => Io(code),
    1 => NoSpace,
    2 => Corrupt,
    3 => BadName,
    4 => OutOfMemory,
    5 => NotCommitted,
    6 => Unordered,
});

numbered_enum_codec!(StateError {
    0 => Store(a),
    1 => Corrupt,
    2 => BadAnchorKey(id),
    3 => KeksNotCommitted,
    4 => Deleted,
});

numbered_enum_codec!(KeyStoreError {
    0 => Store(a),
    1 => Corrupt,
    2 => Rng,
    3 => Derivation,
    4 => NoKeyScope,
    5 => Deleted,
});

numbered_enum_codec!(ProvisionError {
    0 => TooLarge,
    1 => Malformed(what),
    2 => NotTpaSigned(e),
    3 => Replayed { counter, stored, offered },
    4 => Skipped { counter, stored, offered },
    5 => RootOnly { index, anchor, signer },
    6 => KeyInUse { index, adding, holder },
    7 => WrongDevice,
    8 => TooManyOps,
    9 => Op { index, reason },
    10 => ListingTooLarge,
});

numbered_enum_codec!(TaImageError {
    0 => Truncated,
    1 => BadMagic,
    2 => ImageType(t),
    3 => Length,
});

numbered_enum_codec!(OpError {
    0 => WrappedTooLarge,
    1 => WrappedKeyDoesNotOpen(e),
    2 => SecretNotKnown,
    3 => AnchorKey { anchor, error },
    4 => ScopeListsTooLong,
    5 => ClassIdLength,
    6 => VendorIdLength,
    7 => ComponentPrefixTooLong,
    8 => ReservedAnchorId,
    9 => AnchorExists(id),
    10 => AnchorStoreFull,
    11 => KeyScopesExhausted,
    12 => KekIdLength,
    13 => SymmetricInClear(id),
    14 => SymmetricTpa(id),
    15 => WrappedNotSymmetric(id),
    16 => NoAnchor(id),
    17 => TooManyRules,
    18 => RuleUnknownAnchor(id),
    19 => RuleWithoutSigner,
    20 => IdentifierLength,
    21 => KekAnchorCount,
    22 => KekUnknownAnchor(id),
    23 => KekExists(kid),
    24 => TooManyKeks,
    25 => KekLength,
    26 => NoKek(kid),
    27 => TrackerKey,
});

numbered_enum_codec!(CounterKind {
    0 => Root,
    1 => Delegate,
});

numbered_enum_codec!(KeyHolder {
    0 => Root,
    1 => Anchor(id),
    2 => Kek(kid),
});
