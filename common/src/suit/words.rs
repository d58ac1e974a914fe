//! The fixed words an error names a structure, rule or bound with. In the TA and on the wire
//! a number (given with each word below); in words only with the `explain` feature, so none of
//! them is linked into the TA (TA size). Append only: a word keeps its number.

/// Declares [`Words`], its numbers and, with `explain`, its text.
///
/// Each word's number is written next to it, and is its enum discriminant: two words given
/// one number do not compile, and [`Words::ALL`] (declaration order) must rise by one from 0
/// (checked at compile time), so a new word is appended with the next number.
macro_rules! words {
    ($($variant:ident = $number:literal => $text:literal,)*) => {
        /// One of the fixed words of an error.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[non_exhaustive]
        #[repr(u16)]
        pub enum Words {
            $($variant = $number,)*
        }

        impl Words {
            /// Every word, in wire-number order.
            pub const ALL: &'static [Words] = &[$(Words::$variant,)*];

            /// The word's wire number.
            pub const fn number(self) -> u16 {
                self as u16
            }

            /// The word numbered `number`; `None` if this build has none.
            pub const fn from_number(number: u16) -> Option<Words> {
                match number {
                    $($number => Some(Words::$variant),)*
                    _ => None,
                }
            }

            /// The words themselves.
            #[cfg(feature = "explain")]
            pub const fn text(self) -> &'static str {
                match self {
                    $(Words::$variant => $text,)*
                }
            }
        }
    };
}

words! {
    SuitDirectiveCopyParams = 0 => "SUIT_Directive_Copy_Params",
    Rfc4122Uuid = 1 => "RFC4122_UUID",
    MustBe16Bytes = 2 => "must be 16 bytes",
    CommandSequenceOffset = 3 => "command sequence offset",
    CommandSequenceNesting = 4 => "command sequence nesting",
    CommandsPerSequence = 5 => "commands per sequence",
    TryEachOptions = 6 => "try-each options",
    SuitSharedSequence = 7 => "suit-shared-sequence",
    IndexArgShape = 8 => "must be uint, true or a non-empty array of uint",
    SuitParameters = 9 => "SUIT_Parameters",
    SuitCommandSequence = 10 => "SUIT_Command_Sequence",
    IndexArg = 11 => "IndexArg",
    SuitEncryptionInfo = 12 => "SUIT_Encryption_Info",
    NeedsAlgorithmAndBytes = 13 => "needs algorithm and bytes",
    Sha256DigestMustBe32Bytes = 14 => "SHA-256 digest must be 32 bytes",
    SuitDigest = 15 => "SUIT_Digest",
    ComponentIdentifierSegments = 16 => "component identifier segments",
    SuitComponentIdentifier = 17 => "SUIT_Component_Identifier",
    VersionMatchShape = 18 => "must be [comparison-type, comparison-value]",
    ComparisonTypeRange = 19 => "comparison type must be 1 (greater) to 5 (lesser)",
    VersionNeedsInteger = 20 => "a version needs at least one integer",
    IntegersInAVersion = 21 => "integers in a version",
    NeedsAtLeastOneWaitEvent = 22 => "needs at least one wait event",
    WaitEvents = 23 => "wait events",
    OtherDeviceVersionShape = 24 => "must be [other-device, [+ version match]]",
    NeedsAtLeastOneVersionMatch = 25 => "needs at least one version match",
    OtherDeviceVersionMatches = 26 => "other-device version matches",
    UnknownWaitEvent = 27 => "unknown wait event (labels 1 to 9 are defined)",
    TextNotDisplayable = 28 => "text outside Unicode categories L, M, N, P, S, Zs",
    ActorIntegerOutOfRange = 29 => "actor integer out of range",
    ActorIdType = 30 => "actor id must be #6.37(bstr), bstr, tstr or int",
    ActorIdentifierLength = 31 => "actor identifier length",
    NeedsAtLeastOneActor = 32 => "needs at least one actor",
    ActorsInAPermissionMap = 33 => "actors in a permission map",
    ActorKeyOrder = 34 => "actor keys repeated or in neither canonical order",
    ComponentMetadataMembers = 35 => "component metadata members",
    TimesNeedTag1 = 36 => "creation and modification times need CBOR tag 1",
    UnknownComponentMetadataMember = 37 => "unknown component metadata member",
    NeedsLabelPerSource = 38 => "needs at least one parameter label per source",
    LabelsInCopyParams = 39 => "labels in copy-params",
    SuitParameterVersionMatch = 40 => "SUIT_Parameter_Version_Match",
    SuitConditionVersionComparisonValue = 41 => "SUIT_Condition_Version_Comparison_Value",
    SuitWaitEvent = 42 => "SUIT_Wait_Event",
    SuitMetaPermissionMap = 43 => "SUIT_meta_permission_map",
    SuitComponentMetadata = 44 => "SUIT_Component_Metadata",
    SuitSetVersion = 45 => "suit-set-version",
    SuitReferenceUriLength = 46 => "suit-reference-uri length",
    MissingSuitManifestVersion = 47 => "missing suit-manifest-version",
    MissingSuitManifestSequenceNumber = 48 => "missing suit-manifest-sequence-number",
    MissingSuitCommon = 49 => "missing suit-common",
    DependencyIndex = 50 => "dependency index",
    SuitComponentsMustNotBeEmpty = 51 => "suit-components must not be empty",
    ComponentsPerManifest = 52 => "components per manifest",
    IndexNotComponentOrDependency = 53 => "component index neither a component nor a dependency",
    SuitManifest = 54 => "SUIT_Manifest",
    SuitCommon = 55 => "SUIT_Common",
    ConciseSwidTag = 56 => "concise-swid-tag",
    SuitTextMap = 57 => "SUIT_Text_Map",
    SuitDependencies = 58 => "SUIT_Dependencies",
    SuitDependencyMetadata = 59 => "SUIT_Dependency_Metadata",
    EnvelopeSize = 60 => "envelope size",
    UnexpectedTagExpected107 = 61 => "unexpected tag (expected 107)",
    IntegratedPayloads = 62 => "integrated payloads",
    EnvelopeKeyType = 63 => "envelope keys are integers or text",
    MissingSuitAuthenticationWrapper = 64 => "missing suit-authentication-wrapper",
    MissingSuitManifest = 65 => "missing suit-manifest",
    MissingSuitDigest = 66 => "missing SUIT_Digest",
    AuthenticationBlocks = 67 => "authentication blocks",
    SuitEnvelope = 68 => "SUIT_Envelope",
    NotWellFormedCbor = 69 => "not well-formed CBOR",
    NotAnArray = 70 => "not an array",
    BodyIsNotABstr = 71 => "body is not a bstr",
    Auth = 72 => "auth",
    TrailingBytes = 73 => "trailing bytes",
    BodyDoesNotDecode = 74 => "body does not decode",
    Envelope = 75 => "envelope",
    EnvelopeIncomplete = 76 => "envelope incomplete",
    Payload = 77 => "payload",
    PayloadIncomplete = 78 => "payload incomplete",
    SoftFailureNotCopyable = 79 => "soft-failure is not a component parameter and cannot be copied",
    OddCommandElements = 80 => "odd number of elements (commands come in label/argument pairs)",
    CommandsNestedIncluded = 81 => "commands per sequence, nested ones included",
    OnlyConditionsAndControl = 82 => "only conditions and parameter/control commands are allowed",
    ComponentIdentifierSegmentLength = 83 => "component identifier segment length",
    OtherDeviceIdentifierLength = 84 => "other-device identifier length",
    FileTypeRange = 85 => "file type must be 1 (regular), 2 (directory) or 3 (symlink)",
    ManifestBeforeAuthentication = 86 => "suit-manifest before suit-authentication-wrapper",
    ExpectedBodyAuth = 87 => "expected [body, auth]",
    NoInstallInProgress = 88 => "no install in progress",
    EnvelopeChunkOffset = 89 => "envelope chunk offset",
    EnvelopeExceedsItsAnnouncedLength = 90 => "envelope exceeds its announced length",
    TooManyPayloadUris = 91 => "too many payload URIs",
    PayloadBeforePrepare = 92 => "payload before prepare",
    PayloadOverImageSize = 93 => "payload larger than the manifest's image size",
    PayloadChunkOffsetOrLength = 94 => "payload chunk offset or length",
    PayloadExceedsItsAnnouncedLength = 95 => "payload exceeds its announced length",
    FinishBeforePrepare = 96 => "finish before prepare",
    SuitAuthentication = 97 => "SUIT_Authentication",
    SuitWaitEventArgumentOtherDeviceVersion = 98 => "SUIT_Wait_Event_Argument_Other_Device_Version",
    SuitOverrideMultArg = 99 => "SUIT_Override_Mult_Arg",
    ComponentsInOverrideMultiple = 100 => "components in override-multiple",
    NeedsAtLeastOneComponent = 101 => "needs at least one component",
    ComponentsInCopyParams = 102 => "components in copy-params",
    NeedsAtLeastOneSourceComponent = 103 => "needs at least one source component",
    SuitDigestSize = 104 => "SUIT_Digest size",
    ComponentIdentifierLength = 105 => "component identifier length",
    IndexRepeated = 106 => "lists a component index more than once",
    ExecutedSteps = 107 => "steps executed in one run",
    DependencyEnvelopesHeld = 108 => "dependency envelopes held",
    CustomParameters = 109 => "custom parameters per component",
    SuitParameterUriLength = 110 => "suit-parameter-uri length",
    CustomParameterInShared = 111 => "custom parameters (negative labels) are not allowed",
    SuitTextLMap = 112 => "SUIT_Text_LMap",
    LanguageTag = 113 => "a language tag is not RFC 9290's tag38-ltag",
    ComponentNotInCommon = 114 => "names a component suit-common does not list",
    NeedsAtLeastOneLanguage = 115 => "needs at least one language",
    TextKey = 116 => "a key is neither an integer nor a component identifier",
    DependencyBytes = 117 => "bytes of dependency envelopes held and decoded in one run",
    ComponentsInRun = 118 => "components one run holds parameters for or removes",
    DecodedSequenceHeap = 119 => "memory one decoded command sequence holds",
    LiveParameterSets = 120 => "component parameter sets one run holds at once",
}

// Numbers rise by one from 0 in declaration order: appending is the only way to add a word.
const _: () = {
    let mut rest = Words::ALL;
    let mut next: u16 = 0;
    while let [word, tail @ ..] = rest {
        assert!(
            word.number() == next,
            "Words: numbers must rise by one from 0"
        );
        rest = tail;
        next += 1;
    }
};

/// The word's number.
impl crate::cbor::Field for Words {
    fn put(&self, e: &mut crate::cbor::Encoder) {
        u64::from(self.number()).put(e);
    }
    fn take(d: &mut crate::cbor::Decoder<'_>) -> Result<Self, crate::cbor::CborError> {
        let at = d.position();
        let n = u64::take(d)?;
        u16::try_from(n)
            .ok()
            .and_then(Words::from_number)
            .ok_or_else(|| crate::cbor::codec::unknown_variant(at))
    }
}

#[cfg(feature = "explain")]
impl core::fmt::Display for Words {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.text())
    }
}

/// For tests and tools that match on the words.
#[cfg(feature = "explain")]
impl PartialEq<&str> for Words {
    fn eq(&self, other: &&str) -> bool {
        self.text() == *other
    }
}
