//! The fixed words an error names a structure, rule or bound with. In the TA and on the wire
//! a number (its place in this list); in words only with the `explain` feature, so none of
//! them is linked into the TA (TA size). Append only: a word keeps its number.

/// Declares [`Words`], its numbers and, with `explain`, its text.
macro_rules! words {
    ($($variant:ident => $text:literal,)*) => {
        /// One of the fixed words of an error.
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        #[non_exhaustive]
        #[repr(u16)]
        pub enum Words {
            $($variant,)*
        }

        impl Words {
            /// Every word, in wire-number order (a word's number is its place here).
            pub const ALL: &'static [Words] = &[$(Words::$variant,)*];

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
    SuitDirectiveCopyParams => "SUIT_Directive_Copy_Params",
    Rfc4122Uuid => "RFC4122_UUID",
    MustBe16Bytes => "must be 16 bytes",
    CommandSequenceOffset => "command sequence offset",
    CommandSequenceNesting => "command sequence nesting",
    CommandsPerSequence => "commands per sequence",
    TryEachOptions => "try-each options",
    SuitSharedSequence => "suit-shared-sequence",
    IndexArgShape => "must be uint, true or a non-empty array of uint",
    SuitParameters => "SUIT_Parameters",
    SuitCommandSequence => "SUIT_Command_Sequence",
    IndexArg => "IndexArg",
    SuitEncryptionInfo => "SUIT_Encryption_Info",
    NeedsAlgorithmAndBytes => "needs algorithm and bytes",
    Sha256DigestMustBe32Bytes => "SHA-256 digest must be 32 bytes",
    SuitDigest => "SUIT_Digest",
    ComponentIdentifierSegments => "component identifier segments",
    SuitComponentIdentifier => "SUIT_Component_Identifier",
    VersionMatchShape => "must be [comparison-type, comparison-value]",
    ComparisonTypeRange => "comparison type must be 1 (greater) to 5 (lesser)",
    VersionNeedsInteger => "a version needs at least one integer",
    IntegersInAVersion => "integers in a version",
    NeedsAtLeastOneWaitEvent => "needs at least one wait event",
    WaitEvents => "wait events",
    OtherDeviceVersionShape => "must be [other-device, [+ version match]]",
    NeedsAtLeastOneVersionMatch => "needs at least one version match",
    OtherDeviceVersionMatches => "other-device version matches",
    UnknownWaitEvent => "unknown wait event (labels 1 to 9 are defined)",
    TextNotDisplayable => "text outside Unicode categories L, M, N, P, S, Zs",
    ActorIntegerOutOfRange => "actor integer out of range",
    ActorIdType => "actor id must be #6.37(bstr), bstr, tstr or int",
    ActorIdentifierLength => "actor identifier length",
    NeedsAtLeastOneActor => "needs at least one actor",
    ActorsInAPermissionMap => "actors in a permission map",
    ActorKeyOrder => "actor keys repeated or in neither canonical order",
    ComponentMetadataMembers => "component metadata members",
    TimesNeedTag1 => "creation and modification times need CBOR tag 1",
    UnknownComponentMetadataMember => "unknown component metadata member",
    NeedsLabelPerSource => "needs at least one parameter label per source",
    LabelsInCopyParams => "labels in copy-params",
    SuitParameterVersionMatch => "SUIT_Parameter_Version_Match",
    SuitConditionVersionComparisonValue => "SUIT_Condition_Version_Comparison_Value",
    SuitWaitEvent => "SUIT_Wait_Event",
    SuitMetaPermissionMap => "SUIT_meta_permission_map",
    SuitComponentMetadata => "SUIT_Component_Metadata",
    SuitSetVersion => "suit-set-version",
    SuitReferenceUriLength => "suit-reference-uri length",
    MissingSuitManifestVersion => "missing suit-manifest-version",
    MissingSuitManifestSequenceNumber => "missing suit-manifest-sequence-number",
    MissingSuitCommon => "missing suit-common",
    DependencyIndex => "dependency index",
    SuitComponentsMustNotBeEmpty => "suit-components must not be empty",
    ComponentsPerManifest => "components per manifest",
    IndexNotComponentOrDependency => "component index neither a component nor a dependency",
    SuitManifest => "SUIT_Manifest",
    SuitCommon => "SUIT_Common",
    ConciseSwidTag => "concise-swid-tag",
    SuitTextMap => "SUIT_Text_Map",
    SuitDependencies => "SUIT_Dependencies",
    SuitDependencyMetadata => "SUIT_Dependency_Metadata",
    EnvelopeSize => "envelope size",
    UnexpectedTagExpected107 => "unexpected tag (expected 107)",
    IntegratedPayloads => "integrated payloads",
    EnvelopeKeyType => "envelope keys are integers or text",
    MissingSuitAuthenticationWrapper => "missing suit-authentication-wrapper",
    MissingSuitManifest => "missing suit-manifest",
    MissingSuitDigest => "missing SUIT_Digest",
    AuthenticationBlocks => "authentication blocks",
    SuitEnvelope => "SUIT_Envelope",
    NotWellFormedCbor => "not well-formed CBOR",
    NotAnArray => "not an array",
    BodyIsNotABstr => "body is not a bstr",
    Auth => "auth",
    TrailingBytes => "trailing bytes",
    BodyDoesNotDecode => "body does not decode",
    Envelope => "envelope",
    EnvelopeIncomplete => "envelope incomplete",
    Payload => "payload",
    PayloadIncomplete => "payload incomplete",
    SoftFailureNotCopyable => "soft-failure is not a component parameter and cannot be copied",
    OddCommandElements => "odd number of elements (commands come in label/argument pairs)",
    CommandsNestedIncluded => "commands per sequence, nested ones included",
    OnlyConditionsAndControl => "only conditions and parameter/control commands are allowed",
    ComponentIdentifierSegmentLength => "component identifier segment length",
    OtherDeviceIdentifierLength => "other-device identifier length",
    FileTypeRange => "file type must be 1 (regular), 2 (directory) or 3 (symlink)",
    ManifestBeforeAuthentication => "suit-manifest before suit-authentication-wrapper",
    ExpectedBodyAuth => "expected [body, auth]",
    NoInstallInProgress => "no install in progress",
    EnvelopeChunkOffset => "envelope chunk offset",
    EnvelopeExceedsItsAnnouncedLength => "envelope exceeds its announced length",
    TooManyPayloadUris => "too many payload URIs",
    PayloadBeforePrepare => "payload before prepare",
    PayloadOverImageSize => "payload larger than the manifest's image size",
    PayloadChunkOffsetOrLength => "payload chunk offset or length",
    PayloadExceedsItsAnnouncedLength => "payload exceeds its announced length",
    FinishBeforePrepare => "finish before prepare",
    SuitAuthentication => "SUIT_Authentication",
    SuitWaitEventArgumentOtherDeviceVersion => "SUIT_Wait_Event_Argument_Other_Device_Version",
    SuitOverrideMultArg => "SUIT_Override_Mult_Arg",
    ComponentsInOverrideMultiple => "components in override-multiple",
    NeedsAtLeastOneComponent => "needs at least one component",
    ComponentsInCopyParams => "components in copy-params",
    NeedsAtLeastOneSourceComponent => "needs at least one source component",
    SuitDigestSize => "SUIT_Digest size",
    ComponentIdentifierLength => "component identifier length",
    IndexRepeated => "lists a component index more than once",
    ExecutedSteps => "steps executed in one run",
    DependencyEnvelopesHeld => "dependency envelopes held",
    CustomParameters => "custom parameters per component",
    SuitParameterUriLength => "suit-parameter-uri length",
    CustomParameterInShared => "custom parameters (negative labels) are not allowed",
}

/// The word's number.
impl crate::cbor::Field for Words {
    fn put(&self, e: &mut crate::cbor::Encoder) {
        let n = Words::ALL
            .iter()
            .position(|w| w == self)
            .unwrap_or(usize::MAX);
        n.put(e);
    }
    fn take(d: &mut crate::cbor::Decoder<'_>) -> Result<Self, crate::cbor::CborError> {
        let at = d.position();
        let n = usize::take(d)?;
        Words::ALL
            .get(n)
            .copied()
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
