//! Refusals as typed codes (issue 14, TA size): every fault the TA sends reads back as the same
//! value, in the same words as before, and a code this build does not know is shown as such,
//! never as something else. Also: the wire form is fixed (golden bytes), and what the service
//! refuses with on the wire is the fault that names the reason.

use suit_common::cbor::CborErrorKind;
use suit_common::cose::CoseError;
use suit_common::encryption::{DecryptError, KeyError, Location as CoseLocation, Problem};
use suit_common::fault::{self, Fault, Internal, ServiceFault};
use suit_common::protocol::{ByteBuf, Command, DeviceKeyRequest, RefusalKind};
use suit_common::registry::WaitEventKind;
use suit_common::service::components::TaImageError;
use suit_common::service::install::{CommitRefusal, InstallError};
use suit_common::service::keys::KeyStoreError;
use suit_common::service::provision::{CounterKind, KeyHolder, OpError, ProvisionError};
use suit_common::service::state::StateError;
use suit_common::service::store::StoreError;
use suit_common::suit::error::{
    AuthError, CommandError, CommandErrorKind, ConditionKind, Error, Location, ParameterKind,
    PolicyError, Section, Unsupported,
};
use suit_common::suit::platform::PlatformError;
use suit_common::suit::policy::{Requirement, Role};
use suit_common::suit::update_management::{Comparison, UmError};
use suit_common::suit::words::Words;
use suit_common::suit::ComponentId;
use suit_test_support::service::{backend, call, refusal, service};

fn command(kind: CommandErrorKind) -> Error {
    Error::Command(CommandError {
        location: Location {
            manifest_depth: 1,
            section: Section::Install,
            path: vec![3, 0, 2],
            component: Some(1),
            offset: None,
        },
        kind,
    })
}

fn install(e: Error) -> Fault {
    Fault::Install(InstallError::Refused(std::sync::Arc::new(e)))
}

/// A sample of every variant of every type a fault can carry.
fn samples() -> Vec<Fault> {
    let uuid = ByteBuf::from(vec![0x5e; 16]);
    let id = ComponentId::new(&[b"app".as_slice(), b"0"]);
    let mut engine = vec![
        Error::Decode {
            at: Words::SuitManifest,
            error: suit_common::cbor::CborError {
                kind: CborErrorKind::UnexpectedTag { found: 24 },
                offset: 9,
            },
        },
        Error::Decode {
            at: Words::SuitDigest,
            error: suit_common::cbor::CborError {
                kind: CborErrorKind::NonCanonicalOrder,
                offset: 0,
            },
        },
        Error::Decode {
            at: Words::SuitManifest,
            error: suit_common::cbor::CborError {
                kind: CborErrorKind::NonPreferredKey,
                offset: 3,
            },
        },
        Error::Invalid {
            at: Words::Rfc4122Uuid,
            reason: Words::MustBe16Bytes,
        },
        Error::UnverifiedPlaintext(id.clone()),
        Error::UnvouchedContent(id.clone()),
        Error::SeveredSectionMissing(Section::PayloadFetch),
        Error::Platform(PlatformError::Other(0xffff_0006)),
        Error::Limit(Words::TryEachOptions),
    ];
    engine.extend(
        [
            Unsupported::ManifestVersion(2),
            Unsupported::DigestAlgorithm(-44),
            Unsupported::Member(99),
            Unsupported::Parameter(-3),
            Unsupported::Command(200),
            Unsupported::UnauthenticatedManifest,
        ]
        .map(Error::Unsupported),
    );
    engine.extend(
        [
            AuthError::NoAuthenticationBlock,
            AuthError::ManifestDigestMismatch,
            AuthError::NoMatchingTrustAnchor,
            AuthError::BadSignature { block: 2 },
            AuthError::Cose {
                block: 0,
                error: CoseError::AlgorithmNotEnabled(-19),
            },
            AuthError::SeveredMemberDigestMismatch { member: 16 },
            AuthError::UnexpectedEnvelopeMember { member: 23 },
            AuthError::Dependency(Box::new(Error::Auth(AuthError::BadSignature { block: 1 }))),
        ]
        .map(Error::Auth),
    );
    engine.extend(
        [
            PolicyError::Rollback {
                stored: 5,
                offered: 4,
            },
            PolicyError::ComponentNotPermitted { component: 3 },
            PolicyError::MissingRequiredSigner {
                component: 0,
                required: Requirement::Role(Role::Operator),
            },
            PolicyError::MissingRequiredSigner {
                component: 1,
                required: Requirement::Anchor(7),
            },
            PolicyError::IdentifierNotPermitted,
            PolicyError::SequenceKeyNotPermitted,
            PolicyError::PlaintextNotPermitted { component: 2 },
            PolicyError::ComponentRollback {
                component: 0,
                installed: 9,
                offered: 8,
            },
            PolicyError::UpdateManagement(UmError::AuthorizationRequired),
        ]
        .map(Error::Policy),
    );
    let um = [
        UmError::Expired {
            now: 10,
            use_before: 5,
        },
        UmError::TimeUnknown,
        UmError::TimeUntrusted,
        UmError::BatteryUnknown,
        UmError::BatteryLow {
            have_mwh: 1,
            need_mwh: 2,
        },
        UmError::NotAuthorized { priority: Some(-1) },
        UmError::AuthorizationUnavailable { priority: None },
        UmError::VersionUnknown,
        UmError::VersionMismatch {
            comparison: Comparison::GreaterEqual,
            wanted: vec![1, 2],
            current: vec![1, -1],
        },
        UmError::ImageMatches,
        UmError::WaitNotSatisfied(WaitEventKind::Power),
        UmError::WaitUnsupported(WaitEventKind::DayOfWeek),
        UmError::MetadataNotApplicable,
        UmError::AuthorizationRequired,
    ];
    let decrypt = [
        DecryptError::Malformed {
            at: CoseLocation::RecipientProtected(1),
            problem: Problem::WrongBucket(5),
        },
        DecryptError::Malformed {
            at: CoseLocation::Structure,
            problem: Problem::IvLength(7),
        },
        DecryptError::UnsupportedContentAlgorithm(24),
        DecryptError::UnsupportedRecipientAlgorithm(-3),
        DecryptError::Unsupported {
            at: CoseLocation::EphemeralKey(0),
            label: Some(-1),
        },
        DecryptError::Unsupported {
            at: CoseLocation::Recipients,
            label: None,
        },
        DecryptError::NoRecipientForKeys,
        DecryptError::KeyUnwrapFailed,
        DecryptError::HpkeOpenFailed,
        DecryptError::InvalidPublicKey { recipient: 1 },
        DecryptError::ContentKeyLength {
            expected: 32,
            found: 16,
        },
        DecryptError::UnknownPsk,
        DecryptError::TagMismatch,
        DecryptError::Truncated,
        DecryptError::PayloadTooLong,
        DecryptError::Poisoned,
        DecryptError::DeviceKey(KeyError::Backend),
    ];
    let mut kinds = vec![
        CommandErrorKind::ConditionFailed(ConditionKind::Version),
        CommandErrorKind::ConditionFailed(ConditionKind::IsDependency),
        CommandErrorKind::MissingParameter(ParameterKind::WaitInfo),
        CommandErrorKind::ComponentIndexOutOfRange(4),
        CommandErrorKind::TryEachExhausted,
        CommandErrorKind::SoftFailureOutsideTryEach,
        CommandErrorKind::MissingComponentIndex,
        CommandErrorKind::ImageDigestMismatch,
        CommandErrorKind::ImageSizeMismatch,
        CommandErrorKind::PayloadTooLarge,
        CommandErrorKind::MissingIntegratedPayload,
        CommandErrorKind::NotADependency,
        CommandErrorKind::DependencyNotVerified,
        CommandErrorKind::DependencyDigestMismatch,
        CommandErrorKind::Dependency(Box::new(command(CommandErrorKind::TryEachExhausted))),
        CommandErrorKind::DependencyTooDeep,
        CommandErrorKind::NotAllowedInShared,
        CommandErrorKind::SourceIsDestination,
        CommandErrorKind::UnsupportedCommand(-5),
        CommandErrorKind::Platform(PlatformError::NotCommitted),
        CommandErrorKind::Policy(PolicyError::IdentifierNotPermitted),
        CommandErrorKind::UnauthenticatedContent,
        CommandErrorKind::DecryptingFetch,
        CommandErrorKind::UnorderedSourceAndTarget { component: 2 },
        CommandErrorKind::UnorderedRunSequenceIndex,
        CommandErrorKind::DependencyNotProcessed,
        CommandErrorKind::DependencyOverwrite,
        CommandErrorKind::Limit(Words::ExecutedSteps),
        CommandErrorKind::ForeignEncryptionInfo,
        CommandErrorKind::DependencyNotHeld,
    ];
    kinds.extend(decrypt.map(CommandErrorKind::Decrypt));
    kinds.extend(um.map(|u| CommandErrorKind::UpdateManagement(Box::new(u))));
    engine.extend(kinds.into_iter().map(command));
    let mut faults: Vec<Fault> = engine.into_iter().map(install).collect();
    let ops = [
        OpError::WrappedTooLarge,
        OpError::WrappedKeyDoesNotOpen(DecryptError::HpkeOpenFailed),
        OpError::SecretNotKnown,
        OpError::AnchorKey {
            anchor: 3,
            error: CoseError::InvalidKey,
        },
        OpError::ScopeListsTooLong,
        OpError::ClassIdLength,
        OpError::VendorIdLength,
        OpError::ComponentPrefixTooLong,
        OpError::ReservedAnchorId,
        OpError::AnchorExists(4),
        OpError::AnchorStoreFull,
        OpError::KeyScopesExhausted,
        OpError::KekIdLength,
        OpError::SymmetricInClear(5),
        OpError::SymmetricTpa(6),
        OpError::WrappedNotSymmetric(7),
        OpError::NoAnchor(8),
        OpError::TooManyRules,
        OpError::RuleUnknownAnchor(9),
        OpError::RuleWithoutSigner,
        OpError::IdentifierLength,
        OpError::KekAnchorCount,
        OpError::KekUnknownAnchor(10),
        OpError::KekExists(ByteBuf::from(vec![0xab, 0x01])),
        OpError::TooManyKeks,
        OpError::KekLength,
        OpError::NoKek(ByteBuf::from(vec![0xcd])),
        OpError::TrackerKey,
    ];
    let mut provision = vec![
        ProvisionError::TooLarge,
        ProvisionError::Malformed(Words::BodyDoesNotDecode),
        ProvisionError::NotTpaSigned(CoseError::VerificationFailed),
        ProvisionError::Replayed {
            counter: CounterKind::Root,
            stored: 3,
            offered: 3,
        },
        ProvisionError::Skipped {
            counter: CounterKind::Delegate,
            stored: 3,
            offered: 6,
        },
        ProvisionError::RootOnly {
            index: 1,
            anchor: 2,
            signer: 3,
        },
        ProvisionError::KeyInUse {
            index: 0,
            adding: KeyHolder::Kek(ByteBuf::from(vec![1, 2])),
            holder: KeyHolder::Root,
        },
        ProvisionError::KeyInUse {
            index: 2,
            adding: KeyHolder::Anchor(4),
            holder: KeyHolder::Anchor(5),
        },
        ProvisionError::WrongDevice,
        ProvisionError::TooManyOps,
        ProvisionError::ListingTooLarge,
    ];
    provision.extend(
        ops.into_iter()
            .enumerate()
            .map(|(index, reason)| ProvisionError::Op { index, reason }),
    );
    faults.extend(provision.into_iter().map(Fault::Provision));
    let commit = [
        CommitRefusal::Removed {
            component: id.clone(),
            floor: 3,
        },
        CommitRefusal::Rollback {
            component: id.clone(),
            offered: 2,
            installed: 3,
        },
        CommitRefusal::NotReePath(id.clone()),
        CommitRefusal::TaTooLarge(2 << 20),
        CommitRefusal::OneTaPerUpdate,
        CommitRefusal::NotTaImage {
            component: id.clone(),
            error: TaImageError::ImageType(9),
        },
        CommitRefusal::NotTaImage {
            component: id.clone(),
            error: TaImageError::BadMagic,
        },
        CommitRefusal::WithheldNotInstallable(id),
        CommitRefusal::WrongTa {
            image: uuid.clone(),
            manifest: ByteBuf::from(vec![0x11; 16]),
        },
        CommitRefusal::TaNotNewer {
            offered: 1,
            installed: 2,
        },
        CommitRefusal::PersonalizationTooLarge(70_000),
        CommitRefusal::UnlinkTa(uuid.clone()),
        CommitRefusal::UnlinkRee("a/b".into()),
        CommitRefusal::TooManyUnconfirmed(uuid.clone()),
        CommitRefusal::InstallPending {
            uuid: uuid.clone(),
            code: 0xffff_000c,
        },
        CommitRefusal::InstallNotConfirmed {
            uuid: uuid.clone(),
            code: 0xffff_3024,
        },
        CommitRefusal::StateWriteUncertain,
        CommitRefusal::CommitPending { uuid: uuid.clone() },
        CommitRefusal::UnlistedPayload("https://example.com/d0.bin".into()),
        CommitRefusal::PayloadNotDelivered("https://example.com/delta.bin".into()),
        CommitRefusal::RollbackKeyQuota {
            anchor: 7,
            limit: 64,
        },
        CommitRefusal::TooManyRollbackKeys { limit: 2048 },
    ];
    faults.extend(commit.map(|c| Fault::Install(InstallError::Commit(c))));
    faults.extend(
        [
            InstallError::Sequence(Words::EnvelopeIncomplete),
            InstallError::TooLarge(Words::Payload),
            InstallError::UnexpectedPayload,
            InstallError::Store(StoreError::Unordered),
            InstallError::Policy(StateError::BadAnchorKey(3)),
            InstallError::EmptyEnvelope,
        ]
        .map(Fault::Install),
    );
    let stores = [
        StoreError::Io(0xffff_0000),
        StoreError::NoSpace,
        StoreError::Corrupt,
        StoreError::BadName,
        StoreError::OutOfMemory,
        StoreError::NotCommitted,
        StoreError::Unordered,
    ];
    faults.extend(stores.iter().cloned().map(Fault::Store));
    faults.extend(stores.iter().cloned().map(Fault::ReportStore));
    faults.extend(
        [
            StateError::Store(StoreError::NoSpace),
            StateError::Corrupt,
            StateError::BadAnchorKey(1),
            StateError::KeksNotCommitted,
        ]
        .into_iter()
        .flat_map(|e| [Fault::State(e), Fault::Reconcile(e)]),
    );
    faults.extend(
        [
            KeyStoreError::Store(StoreError::Corrupt),
            KeyStoreError::Corrupt,
            KeyStoreError::Rng,
            KeyStoreError::Derivation,
            KeyStoreError::NoKeyScope,
        ]
        .map(Fault::KeyStore),
    );
    faults.extend(
        [
            Internal::EncodeResponse,
            Internal::StateDigest,
            Internal::SignReceipt,
            Internal::SignStatement,
            Internal::EncodeReport,
            Internal::SignReport,
        ]
        .map(Fault::Internal),
    );
    faults.extend(
        [
            ServiceFault::PersonalizationNotOwner,
            ServiceFault::PersonalizationUnconfirmed(uuid.clone()),
            ServiceFault::NoPersonalization(uuid),
            ServiceFault::PersonalizationMissing,
            ServiceFault::PersonalizationSize,
            ServiceFault::PersonalizationDigest,
            ServiceFault::NoReeComponent("etc/x".into()),
            ServiceFault::OffsetBeyond,
            ServiceFault::ChunkLength,
            ServiceFault::ExportUnordered,
            ServiceFault::ChunkTooLarge,
            ServiceFault::NoAnchor(12),
            ServiceFault::NoReport(true),
            ServiceFault::NoReport(false),
            ServiceFault::ReportNotCurrent,
            ServiceFault::NonceTooLong,
            ServiceFault::AwaitingEnvelope(ByteBuf::from(vec![0xab; 32])),
            ServiceFault::NotAwaited,
            ServiceFault::ReeReleaseRevoked("etc/x".into()),
        ]
        .map(Fault::Service),
    );
    faults
}

#[test]
fn every_fault_reads_back_as_itself_and_in_its_own_words() {
    let faults = samples();
    assert!(faults.len() > 190, "{}", faults.len());
    for f in &faults {
        let bytes = f.encode();
        assert_eq!(Fault::decode(&bytes).as_ref(), Some(f), "{f:?}");
        let words = fault::render(&bytes);
        assert_eq!(words, f.to_string(), "{f:?}");
        assert!(!words.is_empty() && !words.contains("{") && !words.contains("Some("));
        // No Debug text: variant names never show.
        assert!(
            !words.contains("Borrowed") && !words.contains("ByteBuf"),
            "{words}"
        );
    }
}

#[test]
fn the_words_are_those_the_ta_sent_before_codes() {
    // The refusal texts the QEMU tests and users know (protocol version 2) are unchanged.
    let f = install(Error::Policy(PolicyError::Rollback {
        stored: 5,
        offered: 4,
    }));
    assert_eq!(
        fault::render(&f.encode()),
        "refused by policy: Rollback: sequence number 4 is not greater than the stored 5"
    );
    let f = Fault::Provision(ProvisionError::Op {
        index: 1,
        reason: OpError::SymmetricInClear(5),
    });
    assert_eq!(
        fault::render(&f.encode()),
        "operation 1: anchor 5: a symmetric key in clear is refused (it must arrive encrypted \
         to the device's provisioning key: AddSecretAnchor)"
    );
    let f = Fault::Install(InstallError::Commit(CommitRefusal::InstallPending {
        uuid: ByteBuf::from(vec![0x5e; 16]),
        code: 0xffff_000c,
    }));
    assert_eq!(
        fault::render(&f.encode()),
        "OP-TEE could not install TA 5e5e5e5e-5e5e-5e5e-5e5e-5e5e5e5e5e5e (TEE result \
         0xffff000c): the update is pending and is tried again before the next command"
    );
    let f = Fault::State(StateError::KeksNotCommitted);
    assert!(fault::render(&f.encode()).starts_with("secure storage state unusable: "));
}

#[test]
fn every_fixed_word_is_its_number_and_reads_back() {
    for (n, w) in Words::ALL.iter().enumerate() {
        let f = Fault::Install(InstallError::Sequence(*w));
        let bytes = f.encode();
        // [3 (install), [0 (sequence), n]]
        assert_eq!(bytes.get(..4), Some(&[0x82, 0x03, 0x82, 0x00][..]));
        assert_eq!(Fault::decode(&bytes), Some(f), "{w:?}");
        assert_eq!(
            fault::render(&bytes),
            format!("install steps out of order: {}", w.text())
        );
        assert!(n < 0x10000);
    }
    // Appended words never renumber these (every number: `every_word_keeps_its_wire_number`).
    assert_eq!(Words::ALL.first(), Some(&Words::SuitDirectiveCopyParams));
    assert_eq!(
        Fault::Install(InstallError::Sequence(Words::NoInstallInProgress)).encode(),
        [0x82, 0x03, 0x82, 0x00, 0x18, 0x58]
    );
}

/// Every word's wire number, written out here independently of the declaration: a word
/// renumbered (or removed) fails this, a word appended must be added.
#[test]
fn every_word_keeps_its_wire_number() {
    let pinned: &[(Words, u16)] = &[
        (Words::SuitDirectiveCopyParams, 0),
        (Words::Rfc4122Uuid, 1),
        (Words::MustBe16Bytes, 2),
        (Words::CommandSequenceOffset, 3),
        (Words::CommandSequenceNesting, 4),
        (Words::CommandsPerSequence, 5),
        (Words::TryEachOptions, 6),
        (Words::SuitSharedSequence, 7),
        (Words::IndexArgShape, 8),
        (Words::SuitParameters, 9),
        (Words::SuitCommandSequence, 10),
        (Words::IndexArg, 11),
        (Words::SuitEncryptionInfo, 12),
        (Words::NeedsAlgorithmAndBytes, 13),
        (Words::Sha256DigestMustBe32Bytes, 14),
        (Words::SuitDigest, 15),
        (Words::ComponentIdentifierSegments, 16),
        (Words::SuitComponentIdentifier, 17),
        (Words::VersionMatchShape, 18),
        (Words::ComparisonTypeRange, 19),
        (Words::VersionNeedsInteger, 20),
        (Words::IntegersInAVersion, 21),
        (Words::NeedsAtLeastOneWaitEvent, 22),
        (Words::WaitEvents, 23),
        (Words::OtherDeviceVersionShape, 24),
        (Words::NeedsAtLeastOneVersionMatch, 25),
        (Words::OtherDeviceVersionMatches, 26),
        (Words::UnknownWaitEvent, 27),
        (Words::TextNotDisplayable, 28),
        (Words::ActorIntegerOutOfRange, 29),
        (Words::ActorIdType, 30),
        (Words::ActorIdentifierLength, 31),
        (Words::NeedsAtLeastOneActor, 32),
        (Words::ActorsInAPermissionMap, 33),
        (Words::ActorKeyOrder, 34),
        (Words::ComponentMetadataMembers, 35),
        (Words::TimesNeedTag1, 36),
        (Words::UnknownComponentMetadataMember, 37),
        (Words::NeedsLabelPerSource, 38),
        (Words::LabelsInCopyParams, 39),
        (Words::SuitParameterVersionMatch, 40),
        (Words::SuitConditionVersionComparisonValue, 41),
        (Words::SuitWaitEvent, 42),
        (Words::SuitMetaPermissionMap, 43),
        (Words::SuitComponentMetadata, 44),
        (Words::SuitSetVersion, 45),
        (Words::SuitReferenceUriLength, 46),
        (Words::MissingSuitManifestVersion, 47),
        (Words::MissingSuitManifestSequenceNumber, 48),
        (Words::MissingSuitCommon, 49),
        (Words::DependencyIndex, 50),
        (Words::SuitComponentsMustNotBeEmpty, 51),
        (Words::ComponentsPerManifest, 52),
        (Words::IndexNotComponentOrDependency, 53),
        (Words::SuitManifest, 54),
        (Words::SuitCommon, 55),
        (Words::ConciseSwidTag, 56),
        (Words::SuitTextMap, 57),
        (Words::SuitDependencies, 58),
        (Words::SuitDependencyMetadata, 59),
        (Words::EnvelopeSize, 60),
        (Words::UnexpectedTagExpected107, 61),
        (Words::IntegratedPayloads, 62),
        (Words::EnvelopeKeyType, 63),
        (Words::MissingSuitAuthenticationWrapper, 64),
        (Words::MissingSuitManifest, 65),
        (Words::MissingSuitDigest, 66),
        (Words::AuthenticationBlocks, 67),
        (Words::SuitEnvelope, 68),
        (Words::NotWellFormedCbor, 69),
        (Words::NotAnArray, 70),
        (Words::BodyIsNotABstr, 71),
        (Words::Auth, 72),
        (Words::TrailingBytes, 73),
        (Words::BodyDoesNotDecode, 74),
        (Words::Envelope, 75),
        (Words::EnvelopeIncomplete, 76),
        (Words::Payload, 77),
        (Words::PayloadIncomplete, 78),
        (Words::SoftFailureNotCopyable, 79),
        (Words::OddCommandElements, 80),
        (Words::CommandsNestedIncluded, 81),
        (Words::OnlyConditionsAndControl, 82),
        (Words::ComponentIdentifierSegmentLength, 83),
        (Words::OtherDeviceIdentifierLength, 84),
        (Words::FileTypeRange, 85),
        (Words::ManifestBeforeAuthentication, 86),
        (Words::ExpectedBodyAuth, 87),
        (Words::NoInstallInProgress, 88),
        (Words::EnvelopeChunkOffset, 89),
        (Words::EnvelopeExceedsItsAnnouncedLength, 90),
        (Words::TooManyPayloadUris, 91),
        (Words::PayloadBeforePrepare, 92),
        (Words::PayloadOverImageSize, 93),
        (Words::PayloadChunkOffsetOrLength, 94),
        (Words::PayloadExceedsItsAnnouncedLength, 95),
        (Words::FinishBeforePrepare, 96),
        (Words::SuitAuthentication, 97),
        (Words::SuitWaitEventArgumentOtherDeviceVersion, 98),
        (Words::SuitOverrideMultArg, 99),
        (Words::ComponentsInOverrideMultiple, 100),
        (Words::NeedsAtLeastOneComponent, 101),
        (Words::ComponentsInCopyParams, 102),
        (Words::NeedsAtLeastOneSourceComponent, 103),
        (Words::SuitDigestSize, 104),
        (Words::ComponentIdentifierLength, 105),
        (Words::IndexRepeated, 106),
        (Words::ExecutedSteps, 107),
        (Words::DependencyEnvelopesHeld, 108),
        (Words::CustomParameters, 109),
        (Words::SuitParameterUriLength, 110),
        (Words::CustomParameterInShared, 111),
        (Words::SuitTextLMap, 112),
        (Words::LanguageTag, 113),
        (Words::ComponentNotInCommon, 114),
        (Words::NeedsAtLeastOneLanguage, 115),
        (Words::TextKey, 116),
        (Words::DependencyBytes, 117),
        (Words::ComponentsInRun, 118),
        (Words::DecodedSequenceHeap, 119),
        (Words::LiveParameterSets, 120),
    ];
    assert_eq!(
        pinned.len(),
        Words::ALL.len(),
        "a new word must be pinned here"
    );
    for &(w, n) in pinned {
        assert_eq!(w.number(), n, "{w:?}");
        assert_eq!(Words::from_number(n), Some(w));
        // On the wire: [3 (install), [0 (sequence), n]].
        let mut expected = vec![0x82, 0x03, 0x82, 0x00];
        match n {
            0..=23 => expected.push(n as u8),
            24..=255 => expected.extend([0x18, n as u8]),
            _ => expected.extend([0x19, (n >> 8) as u8, n as u8]),
        }
        assert_eq!(Fault::Install(InstallError::Sequence(w)).encode(), expected);
    }
    assert_eq!(Words::from_number(pinned.len() as u16), None);
}

#[test]
fn the_wire_form_is_fixed() {
    // [0 (service), [11 (no anchor), 7]]
    assert_eq!(
        Fault::Service(ServiceFault::NoAnchor(7)).encode(),
        [0x82, 0x00, 0x82, 0x0b, 0x07]
    );
    // [3 (install), [4 (refused), [2 (unsupported), [0 (manifest version), 2]]]]
    assert_eq!(
        install(Error::Unsupported(Unsupported::ManifestVersion(2))).encode(),
        [0x82, 0x03, 0x82, 0x04, 0x82, 0x02, 0x82, 0x00, 0x02]
    );
    // [3 (install), [4 (refused), [10 (unvouched content), ...]]]
    let e = install(Error::UnvouchedContent(ComponentId::new(
        &[b"x".as_slice()],
    )))
    .encode();
    assert_eq!(e.get(..6), Some(&[0x82, 0x03, 0x82, 0x04, 0x82, 0x0a][..]));
}

#[test]
fn a_fault_this_build_cannot_read_is_shown_as_such() {
    assert_eq!(fault::render(&[]), "the TA gave no reason");
    for unknown in [
        &[0x82, 0x00, 0x81, 0x18, 0x63][..],   // service fault 99
        &[0x81, 0x18, 0x63],                   // fault 99
        &[0x82, 0x00, 0x82, 0x0b],             // a field short
        &[0xff],                               // not CBOR
        &[0x82, 0x00, 0x82, 0x0b, 0x07, 0x00], // trailing bytes
    ] {
        assert_eq!(Fault::decode(unknown), None, "{unknown:02x?}");
        let words = fault::render(unknown);
        assert!(
            words.starts_with("a fault this tool cannot read: "),
            "{words}"
        );
    }
    // Nesting is bounded by the decoder's depth limit, not the stack.
    let mut deep = Vec::new();
    for _ in 0..64 {
        deep.extend_from_slice(&[0x82, 0x03, 0x82, 0x04, 0x82, 0x03, 0x81, 0x07]);
    }
    assert_eq!(Fault::decode(&deep), None);
}

#[test]
fn the_service_refuses_with_the_fault_that_names_the_reason() {
    let mut s = service(backend(0));
    let r = refusal(call::<_, suit_common::protocol::DeviceKeyResponse>(
        &mut s,
        Command::DeviceKey,
        &DeviceKeyRequest { anchor: Some(77) },
    ));
    assert_eq!(r.kind, RefusalKind::NotFound);
    assert_eq!(r.fault, Some(Fault::Service(ServiceFault::NoAnchor(77))));
    assert_eq!(r.reason, "no anchor 77");
}

#[test]
fn the_deepest_engine_fault_reads_back_as_a_refusal_and_in_a_report() {
    use suit_common::report::{code, Failure, Reason, ReportBuilder};
    // Two dependency levels (the engine's limit, `MAX_DEPENDENCY_DEPTH`), each a failed
    // command, and a malformed recipient at the bottom: the deepest nesting a refusal has.
    let bottom = command(CommandErrorKind::Decrypt(DecryptError::Malformed {
        at: CoseLocation::RecipientProtected(1),
        problem: Problem::WrongBucket(5),
    }));
    let middle = command(CommandErrorKind::Dependency(Box::new(bottom)));
    let top = install(command(CommandErrorKind::Dependency(Box::new(middle))));
    assert_eq!(Fault::decode(&top.encode()), Some(top.clone()));
    // Inside a failure report (one level deeper): the report still reads back.
    let report = ReportBuilder::failure(
        None,
        Failure::new(Reason::OperationFailed, code::DECODE, top.clone()),
    );
    let bytes = report.encode().unwrap();
    let back = suit_common::report::Report::decode(&bytes).unwrap();
    match back.result {
        suit_common::report::ReportResult::Failure(f) => assert_eq!(f.detail, Some(top)),
        other => panic!("{other:?}"),
    }
}
