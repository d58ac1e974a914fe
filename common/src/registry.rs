//! The SUIT and COSE vocabulary: every registered integer this code base reads or writes, with
//! the drafts' name for it, in one place (in the manner of coset's `iana` enums).
//!
//! Each registry is an enum: [`value`](Command::value) gives the integer, `from_value` maps an
//! integer back (`None` for one this implementation does not know: the caller decides what the
//! draft asks for, e.g. a negative command label is a custom command, an unknown report reason
//! is kept as unknown, an unknown manifest member is refused), [`name`](Command::name) the
//! draft's CDDL name and `from_name` the reverse. Decoders match on the enums, encoders write
//! `value()`, and every tool prints `name()` (or `short_name()`, the name without its registry
//! prefix), so a label and its name are written down exactly once.
//!
//! Sources: draft-ietf-suit-manifest-37 (IANA §11), draft-ietf-suit-trust-domains,
//! draft-ietf-suit-update-management-14, draft-ietf-suit-firmware-encryption,
//! draft-ietf-suit-report-18 (IANA §10.5-10.7), RFC 9053 / RFC 9459 / draft-ietf-cose-hpke
//! (COSE algorithms).

use crate::suit::error::{ConditionKind, ParameterKind, Section};

macro_rules! registry {
    (
        $(#[$meta:meta])*
        pub enum $name:ident, prefix $prefix:literal {
            $( $(#[$vmeta:meta])* $var:ident = $val:literal => $text:literal, )*
        }
    ) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum $name {
            $( $(#[$vmeta])* $var, )*
        }

        impl $name {
            /// Every entry, in registry order.
            pub const ALL: &'static [$name] = &[$($name::$var,)*];

            /// The registered integer.
            pub const fn value(self) -> i64 {
                match self {
                    $($name::$var => $val,)*
                }
            }

            /// The entry for `value`; `None` if this implementation does not know it.
            pub const fn from_value(value: i64) -> Option<Self> {
                match value {
                    $($val => Some($name::$var),)*
                    _ => None,
                }
            }

            /// The draft's name.
            pub const fn name(self) -> &'static str {
                match self {
                    $($name::$var => $text,)*
                }
            }

            /// The entry named `name` (the draft's name, exactly).
            pub fn from_name(name: &str) -> Option<Self> {
                Self::ALL.iter().copied().find(|e| e.name() == name)
            }

            /// The draft's name without the registry's common prefix (e.g. `validate` for
            /// `suit-validate`), as the tools show it.
            pub fn short_name(self) -> &'static str {
                let n = self.name();
                n.strip_prefix($prefix).unwrap_or(n)
            }
        }
    };
}

registry! {
    /// SUIT_Envelope members (manifest draft §11 "SUIT Envelope Elements", trust domains,
    /// update management): the authentication wrapper, the manifest and the severable members.
    pub enum EnvelopeKey, prefix "suit-" {
        /// suit-authentication-wrapper.
        AuthenticationWrapper = 2 => "suit-authentication-wrapper",
        /// suit-manifest.
        Manifest = 3 => "suit-manifest",
        /// suit-coswid (update management; severable).
        Coswid = 14 => "suit-coswid",
        /// suit-dependency-resolution (trust domains; severable).
        DependencyResolution = 15 => "suit-dependency-resolution",
        /// suit-payload-fetch (severable).
        PayloadFetch = 16 => "suit-payload-fetch",
        /// suit-candidate-verification (trust domains; severable).
        CandidateVerification = 18 => "suit-candidate-verification",
        /// suit-install (severable).
        Install = 20 => "suit-install",
        /// suit-text (severable).
        Text = 23 => "suit-text",
    }
}

impl EnvelopeKey {
    /// Whether the member may be severed from the manifest into the envelope.
    pub const fn is_severable(self) -> bool {
        !matches!(
            self,
            EnvelopeKey::AuthenticationWrapper | EnvelopeKey::Manifest
        )
    }
}

registry! {
    /// SUIT_Manifest members (manifest draft §11 "SUIT Manifest Elements", trust domains,
    /// update management).
    pub enum ManifestKey, prefix "suit-" {
        /// suit-manifest-version.
        Version = 1 => "suit-manifest-version",
        /// suit-manifest-sequence-number.
        SequenceNumber = 2 => "suit-manifest-sequence-number",
        /// suit-common.
        Common = 3 => "suit-common",
        /// suit-reference-uri.
        ReferenceUri = 4 => "suit-reference-uri",
        /// suit-manifest-component-id (trust domains).
        ManifestComponentId = 5 => "suit-manifest-component-id",
        /// suit-set-version (update management).
        SetVersion = 6 => "suit-set-version",
        /// suit-validate.
        Validate = 7 => "suit-validate",
        /// suit-load.
        Load = 8 => "suit-load",
        /// suit-invoke.
        Invoke = 9 => "suit-invoke",
        /// suit-coswid (update management).
        Coswid = 14 => "suit-coswid",
        /// suit-dependency-resolution (trust domains).
        DependencyResolution = 15 => "suit-dependency-resolution",
        /// suit-payload-fetch.
        PayloadFetch = 16 => "suit-payload-fetch",
        /// suit-candidate-verification (trust domains).
        CandidateVerification = 18 => "suit-candidate-verification",
        /// suit-install.
        Install = 20 => "suit-install",
        /// suit-text.
        Text = 23 => "suit-text",
        /// suit-uninstall (trust domains).
        Uninstall = 24 => "suit-uninstall",
    }
}

registry! {
    /// SUIT_Common members (manifest draft §11 "SUIT Common Elements", trust domains).
    pub enum CommonKey, prefix "suit-" {
        /// suit-dependencies (trust domains).
        Dependencies = 1 => "suit-dependencies",
        /// suit-components.
        Components = 2 => "suit-components",
        /// suit-shared-sequence.
        SharedSequence = 4 => "suit-shared-sequence",
    }
}

registry! {
    /// SUIT_Dependency_Metadata members (trust domains).
    pub enum DependencyMetadataKey, prefix "suit-" {
        /// suit-dependency-prefix.
        Prefix = 1 => "suit-dependency-prefix",
    }
}

registry! {
    /// SUIT commands: conditions and directives (manifest draft §11 "SUIT Commands", trust
    /// domains, update management).
    pub enum Command, prefix "suit-" {
        /// suit-condition-vendor-identifier.
        VendorIdentifier = 1 => "suit-condition-vendor-identifier",
        /// suit-condition-class-identifier.
        ClassIdentifier = 2 => "suit-condition-class-identifier",
        /// suit-condition-image-match.
        ImageMatch = 3 => "suit-condition-image-match",
        /// suit-condition-use-before (update management).
        UseBefore = 4 => "suit-condition-use-before",
        /// suit-condition-component-slot.
        ComponentSlot = 5 => "suit-condition-component-slot",
        /// suit-condition-check-content.
        CheckContent = 6 => "suit-condition-check-content",
        /// suit-condition-dependency-integrity (trust domains).
        DependencyIntegrity = 7 => "suit-condition-dependency-integrity",
        /// suit-condition-is-dependency (trust domains).
        IsDependency = 8 => "suit-condition-is-dependency",
        /// suit-directive-process-dependency (trust domains).
        ProcessDependency = 11 => "suit-directive-process-dependency",
        /// suit-directive-set-component-index.
        SetComponentIndex = 12 => "suit-directive-set-component-index",
        /// suit-condition-abort.
        Abort = 14 => "suit-condition-abort",
        /// suit-directive-try-each.
        TryEach = 15 => "suit-directive-try-each",
        /// suit-directive-write.
        Write = 18 => "suit-directive-write",
        /// suit-directive-set-parameters (trust domains).
        SetParameters = 19 => "suit-directive-set-parameters",
        /// suit-directive-override-parameters.
        OverrideParameters = 20 => "suit-directive-override-parameters",
        /// suit-directive-fetch.
        Fetch = 21 => "suit-directive-fetch",
        /// suit-directive-copy.
        Copy = 22 => "suit-directive-copy",
        /// suit-directive-invoke.
        Invoke = 23 => "suit-directive-invoke",
        /// suit-condition-device-identifier.
        DeviceIdentifier = 24 => "suit-condition-device-identifier",
        /// suit-condition-image-not-match (update management).
        ImageNotMatch = 25 => "suit-condition-image-not-match",
        /// suit-condition-minimum-battery (update management).
        MinimumBattery = 26 => "suit-condition-minimum-battery",
        /// suit-condition-update-authorized (update management).
        UpdateAuthorized = 27 => "suit-condition-update-authorized",
        /// suit-condition-version (update management).
        Version = 28 => "suit-condition-version",
        /// suit-directive-wait (update management).
        Wait = 29 => "suit-directive-wait",
        /// suit-directive-swap.
        Swap = 31 => "suit-directive-swap",
        /// suit-directive-run-sequence.
        RunSequence = 32 => "suit-directive-run-sequence",
        /// suit-directive-unlink (trust domains).
        Unlink = 33 => "suit-directive-unlink",
        /// suit-directive-override-multiple (update management).
        OverrideMultiple = 34 => "suit-directive-override-multiple",
        /// suit-directive-copy-params (update management).
        CopyParams = 35 => "suit-directive-copy-params",
    }
}

impl Command {
    /// The condition this command label checks, if it is a condition.
    pub const fn condition(self) -> Option<ConditionKind> {
        use ConditionKind as C;
        Some(match self {
            Command::VendorIdentifier => C::VendorIdentifier,
            Command::ClassIdentifier => C::ClassIdentifier,
            Command::ImageMatch => C::ImageMatch,
            Command::UseBefore => C::UseBefore,
            Command::ComponentSlot => C::ComponentSlot,
            Command::CheckContent => C::CheckContent,
            Command::DependencyIntegrity => C::DependencyIntegrity,
            Command::IsDependency => C::IsDependency,
            Command::Abort => C::Abort,
            Command::DeviceIdentifier => C::DeviceIdentifier,
            Command::ImageNotMatch => C::ImageNotMatch,
            Command::MinimumBattery => C::MinimumBattery,
            Command::UpdateAuthorized => C::UpdateAuthorized,
            Command::Version => C::Version,
            _ => return None,
        })
    }
}

impl ConditionKind {
    /// The command label of this condition.
    pub const fn command(self) -> Command {
        use ConditionKind as C;
        match self {
            C::VendorIdentifier => Command::VendorIdentifier,
            C::ClassIdentifier => Command::ClassIdentifier,
            C::ImageMatch => Command::ImageMatch,
            C::UseBefore => Command::UseBefore,
            C::ComponentSlot => Command::ComponentSlot,
            C::CheckContent => Command::CheckContent,
            C::DependencyIntegrity => Command::DependencyIntegrity,
            C::IsDependency => Command::IsDependency,
            C::Abort => Command::Abort,
            C::DeviceIdentifier => Command::DeviceIdentifier,
            C::ImageNotMatch => Command::ImageNotMatch,
            C::MinimumBattery => Command::MinimumBattery,
            C::UpdateAuthorized => Command::UpdateAuthorized,
            C::Version => Command::Version,
        }
    }
}

registry! {
    /// SUIT parameters (manifest draft §11 "SUIT Parameters", firmware encryption, update
    /// management). Negative labels are custom parameters.
    pub enum Parameter, prefix "suit-parameter-" {
        /// suit-parameter-vendor-identifier.
        VendorIdentifier = 1 => "suit-parameter-vendor-identifier",
        /// suit-parameter-class-identifier.
        ClassIdentifier = 2 => "suit-parameter-class-identifier",
        /// suit-parameter-image-digest.
        ImageDigest = 3 => "suit-parameter-image-digest",
        /// suit-parameter-use-before (update management).
        UseBefore = 4 => "suit-parameter-use-before",
        /// suit-parameter-component-slot.
        ComponentSlot = 5 => "suit-parameter-component-slot",
        /// suit-parameter-strict-order.
        StrictOrder = 12 => "suit-parameter-strict-order",
        /// suit-parameter-soft-failure.
        SoftFailure = 13 => "suit-parameter-soft-failure",
        /// suit-parameter-image-size.
        ImageSize = 14 => "suit-parameter-image-size",
        /// suit-parameter-content.
        Content = 18 => "suit-parameter-content",
        /// suit-parameter-encryption-info (firmware encryption; TBD19 there, 19 as its
        /// examples use).
        EncryptionInfo = 19 => "suit-parameter-encryption-info",
        /// suit-parameter-uri.
        Uri = 21 => "suit-parameter-uri",
        /// suit-parameter-source-component.
        SourceComponent = 22 => "suit-parameter-source-component",
        /// suit-parameter-invoke-args.
        InvokeArgs = 23 => "suit-parameter-invoke-args",
        /// suit-parameter-device-identifier.
        DeviceIdentifier = 24 => "suit-parameter-device-identifier",
        /// suit-parameter-fetch-arguments.
        FetchArguments = 25 => "suit-parameter-fetch-arguments",
        /// suit-parameter-minimum-battery (update management).
        MinimumBattery = 26 => "suit-parameter-minimum-battery",
        /// suit-parameter-update-priority (update management).
        UpdatePriority = 27 => "suit-parameter-update-priority",
        /// suit-parameter-version (update management).
        Version = 28 => "suit-parameter-version",
        /// suit-parameter-wait-info (update management).
        WaitInfo = 29 => "suit-parameter-wait-info",
        /// suit-parameter-component-metadata (update management).
        ComponentMetadata = 30 => "suit-parameter-component-metadata",
    }
}

impl ParameterKind {
    /// The parameter's registry entry.
    pub const fn parameter(self) -> Parameter {
        use ParameterKind as P;
        match self {
            P::VendorId => Parameter::VendorIdentifier,
            P::ClassId => Parameter::ClassIdentifier,
            P::ImageDigest => Parameter::ImageDigest,
            P::ComponentSlot => Parameter::ComponentSlot,
            P::Content => Parameter::Content,
            P::Uri => Parameter::Uri,
            P::SourceComponent => Parameter::SourceComponent,
            P::DeviceId => Parameter::DeviceIdentifier,
            P::UseBefore => Parameter::UseBefore,
            P::MinimumBattery => Parameter::MinimumBattery,
            P::Version => Parameter::Version,
            P::WaitInfo => Parameter::WaitInfo,
        }
    }
}

registry! {
    /// SUIT_Text_Map keys for the whole manifest (manifest draft §11 "SUIT Text Values").
    pub enum TextKey, prefix "suit-text-" {
        /// suit-text-manifest-description.
        ManifestDescription = 1 => "suit-text-manifest-description",
        /// suit-text-update-description.
        UpdateDescription = 2 => "suit-text-update-description",
        /// suit-text-manifest-json-source.
        ManifestJsonSource = 3 => "suit-text-manifest-json-source",
        /// suit-text-manifest-yaml-source.
        ManifestYamlSource = 4 => "suit-text-manifest-yaml-source",
    }
}

registry! {
    /// SUIT_Text_Component_Keys (manifest draft §11 "SUIT Component Text Values", update
    /// management).
    pub enum ComponentTextKey, prefix "suit-text-" {
        /// suit-text-vendor-name.
        VendorName = 1 => "suit-text-vendor-name",
        /// suit-text-model-name.
        ModelName = 2 => "suit-text-model-name",
        /// suit-text-vendor-domain.
        VendorDomain = 3 => "suit-text-vendor-domain",
        /// suit-text-model-info.
        ModelInfo = 4 => "suit-text-model-info",
        /// suit-text-component-description.
        ComponentDescription = 5 => "suit-text-component-description",
        /// suit-text-component-version.
        ComponentVersion = 6 => "suit-text-component-version",
        /// suit-text-version-required (update management).
        VersionRequired = 7 => "suit-text-version-required",
        /// suit-text-current-version (update management).
        CurrentVersion = 8 => "suit-text-current-version",
    }
}

registry! {
    /// SUIT_Wait_Event keys: the events suit-directive-wait waits for (update management
    /// §4.5). The engine's name for the kind of a decoded
    /// [`WaitEvent`](crate::suit::update_management::WaitEvent).
    pub enum WaitEventKind, prefix "suit-wait-event-" {
        /// suit-wait-event-authorization.
        Authorization = 1 => "suit-wait-event-authorization",
        /// suit-wait-event-power.
        Power = 2 => "suit-wait-event-power",
        /// suit-wait-event-network.
        Network = 3 => "suit-wait-event-network",
        /// suit-wait-event-other-device-version.
        OtherDeviceVersion = 4 => "suit-wait-event-other-device-version",
        /// suit-wait-event-time.
        Time = 5 => "suit-wait-event-time",
        /// suit-wait-event-time-of-day (local time).
        TimeOfDay = 6 => "suit-wait-event-time-of-day",
        /// suit-wait-event-day-of-week (local time).
        DayOfWeek = 7 => "suit-wait-event-day-of-week",
        /// suit-wait-event-time-of-day-utc.
        TimeOfDayUtc = 8 => "suit-wait-event-time-of-day-utc",
        /// suit-wait-event-day-of-week-utc.
        DayOfWeekUtc = 9 => "suit-wait-event-day-of-week-utc",
    }
}

registry! {
    /// SUIT_Component_Metadata members (update management §4.6).
    pub enum MetadataKey, prefix "suit-meta-" {
        /// suit-meta-default-permissions.
        DefaultPermissions = 1 => "suit-meta-default-permissions",
        /// suit-meta-user-permissions.
        UserPermissions = 2 => "suit-meta-user-permissions",
        /// suit-meta-group-permissions.
        GroupPermissions = 3 => "suit-meta-group-permissions",
        /// suit-meta-role-permissions.
        RolePermissions = 4 => "suit-meta-role-permissions",
        /// suit-meta-file-type.
        FileType = 5 => "suit-meta-file-type",
        /// suit-meta-modification-time.
        ModificationTime = 6 => "suit-meta-modification-time",
        /// suit-meta-creation-time.
        CreationTime = 7 => "suit-meta-creation-time",
        /// suit-meta-creator.
        Creator = 8 => "suit-meta-creator",
    }
}

registry! {
    /// SUIT_Report map members (report draft §10.5 "SUIT_Report Elements").
    pub enum ReportKey, prefix "suit-" {
        /// suit-report-nonce.
        Nonce = 2 => "suit-report-nonce",
        /// suit-report-records.
        Records = 3 => "suit-report-records",
        /// suit-report-result.
        Result = 4 => "suit-report-result",
        /// suit-report-result-code.
        ResultCode = 5 => "suit-report-result-code",
        /// suit-report-result-record.
        ResultRecord = 6 => "suit-report-result-record",
        /// suit-report-result-reason.
        ResultReason = 7 => "suit-report-result-reason",
        /// suit-report-capability-report.
        CapabilityReport = 8 => "suit-report-capability-report",
        /// suit-reference.
        Reference = 99 => "suit-reference",
    }
}

registry! {
    /// SUIT_Record elements, by position in the record array (report draft §10.6).
    pub enum RecordElement, prefix "suit-record-" {
        /// suit-record-manifest-id.
        ManifestId = 0 => "suit-record-manifest-id",
        /// suit-record-manifest-section.
        ManifestSection = 1 => "suit-record-manifest-section",
        /// suit-record-section-offset.
        SectionOffset = 2 => "suit-record-section-offset",
        /// suit-record-component-index.
        ComponentIndex = 3 => "suit-record-component-index",
        /// suit-record-properties.
        Properties = 4 => "suit-record-properties",
    }
}

/// suit-report-result-reason (report draft §4.2, registry §10.7). Not generated like the
/// others: a reason this implementation does not know is kept as [`Reason::Unknown`] (the
/// report is still read), so the mapping from an integer never fails.
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

/// The registered reasons with their values and names (the one table).
const REASONS: [(Reason, i64, &str); 13] = [
    (Reason::Ok, 0, "suit-report-reason-ok"),
    (Reason::CborParse, 1, "suit-report-reason-cbor-parse"),
    (
        Reason::CoseUnsupported,
        2,
        "suit-report-reason-cose-unsupported",
    ),
    (
        Reason::AlgUnsupported,
        3,
        "suit-report-reason-alg-unsupported",
    ),
    (Reason::Unauthorised, 4, "suit-report-reason-unauthorised"),
    (
        Reason::CommandUnsupported,
        5,
        "suit-report-reason-command-unsupported",
    ),
    (
        Reason::ComponentUnsupported,
        6,
        "suit-report-reason-component-unsupported",
    ),
    (
        Reason::ComponentUnauthorised,
        7,
        "suit-report-reason-component-unauthorised",
    ),
    (
        Reason::ParameterUnsupported,
        8,
        "suit-report-reason-parameter-unsupported",
    ),
    (
        Reason::SeveringUnsupported,
        9,
        "suit-report-reason-severing-unsupported",
    ),
    (
        Reason::ConditionFailed,
        10,
        "suit-report-reason-condition-failed",
    ),
    (
        Reason::OperationFailed,
        11,
        "suit-report-reason-operation-failed",
    ),
    (
        Reason::InvokePending,
        12,
        "suit-report-reason-invoke-pending",
    ),
];

impl Reason {
    /// Every registered reason, in registry order.
    pub fn all() -> impl Iterator<Item = Reason> {
        REASONS.iter().map(|(r, _, _)| *r)
    }

    /// The registered value (an unknown one as read).
    pub fn code(self) -> i64 {
        match self {
            Reason::Unknown(c) => c,
            r => REASONS
                .iter()
                .find(|(e, _, _)| *e == r)
                .map_or(-1, |(_, v, _)| *v),
        }
    }

    /// The reason for a value; one not registered is kept as [`Reason::Unknown`].
    pub fn from_code(code: i64) -> Self {
        REASONS
            .iter()
            .find(|(_, v, _)| *v == code)
            .map_or(Reason::Unknown(code), |(r, _, _)| *r)
    }

    /// The draft's full name (`suit-report-reason-...`); `unknown` for an unknown value.
    pub fn full_name(self) -> &'static str {
        REASONS
            .iter()
            .find(|(e, _, _)| *e == self)
            .map_or("unknown", |(_, _, n)| n)
    }

    /// The draft's name without the `suit-report-reason-` prefix, as the tools show it.
    pub fn name(self) -> &'static str {
        let n = self.full_name();
        n.strip_prefix("suit-report-reason-").unwrap_or(n)
    }

    /// The registered reason named `name` (full or short name).
    pub fn from_name(name: &str) -> Option<Self> {
        REASONS
            .iter()
            .find(|(_, _, n)| *n == name || n.strip_prefix("suit-report-reason-") == Some(name))
            .map(|(r, _, _)| *r)
    }
}

registry! {
    /// COSE algorithms this code base names (IANA "COSE Algorithms": RFC 9053, RFC 9459,
    /// RFC 9864 (ESP256, Ed25519), draft-ietf-cose-hpke). The COSE-HPKE values are still
    /// provisional: the ones the draft and its test vectors assume.
    pub enum CoseAlg, prefix "" {
        /// ECDSA P-256 with SHA-256.
        Es256 = -7 => "ES256",
        /// ECDSA P-256 with SHA-256, fully specified (the SUIT MTI choice).
        Esp256 = -9 => "ESP256",
        /// EdDSA (only Ed25519 keys are accepted).
        EdDsa = -8 => "EdDSA",
        /// Ed25519, fully specified.
        Ed25519 = -19 => "Ed25519",
        /// HSS-LMS with SHA-256/256.
        HssLms = -46 => "HSS-LMS",
        /// HMAC with SHA-256, 256-bit tag.
        Hmac256 = 5 => "HMAC 256/256",
        /// SHA-256 (the SUIT digest algorithm).
        Sha256 = -16 => "SHA-256",
        /// Direct use of a shared key (COSE recipients).
        Direct = -6 => "direct",
        /// AES-GCM, 128-bit key.
        A128Gcm = 1 => "A128GCM",
        /// AES-GCM, 256-bit key.
        A256Gcm = 3 => "A256GCM",
        /// AES-CTR, 128-bit key (RFC 9459).
        A128Ctr = -65534 => "A128CTR",
        /// AES-CTR, 256-bit key (RFC 9459).
        A256Ctr = -65532 => "A256CTR",
        /// ChaCha20/Poly1305 AEAD, 256-bit key, 128-bit tag (RFC 9053 §4.3).
        ChaCha20Poly1305 = 24 => "ChaCha20/Poly1305",
        /// AES key wrap, 128-bit KEK.
        A128Kw = -3 => "A128KW",
        /// AES key wrap, 192-bit KEK.
        A192Kw = -4 => "A192KW",
        /// AES key wrap, 256-bit KEK.
        A256Kw = -5 => "A256KW",
        /// ECDH ephemeral-static + HKDF-SHA256 + A128KW.
        EcdhEsA128Kw = -29 => "ECDH-ES+A128KW",
        /// ECDH ephemeral-static + HKDF-SHA256 + A192KW.
        EcdhEsA192Kw = -30 => "ECDH-ES+A192KW",
        /// ECDH ephemeral-static + HKDF-SHA256 + A256KW.
        EcdhEsA256Kw = -31 => "ECDH-ES+A256KW",
        /// HPKE-0 integrated encryption (provisional).
        Hpke0 = 35 => "HPKE-0",
        /// HPKE-7 integrated encryption (provisional).
        Hpke7 = 45 => "HPKE-7",
        /// HPKE-0-KE key encryption (provisional).
        Hpke0Ke = 46 => "HPKE-0-KE",
        /// HPKE-7-KE key encryption (provisional).
        Hpke7Ke = 53 => "HPKE-7-KE",
    }
}

impl Section {
    /// The manifest member that holds this command sequence (the shared sequence lives in
    /// [`ManifestKey::Common`]); the report draft's `suit-record-manifest-section` value.
    pub const fn manifest_key(self) -> ManifestKey {
        match self {
            Section::Shared => ManifestKey::Common,
            Section::DependencyResolution => ManifestKey::DependencyResolution,
            Section::PayloadFetch => ManifestKey::PayloadFetch,
            Section::CandidateVerification => ManifestKey::CandidateVerification,
            Section::Install => ManifestKey::Install,
            Section::Validate => ManifestKey::Validate,
            Section::Load => ManifestKey::Load,
            Section::Invoke => ManifestKey::Invoke,
        }
    }

    /// The section reported under `label` (`suit-record-manifest-section`), if any.
    pub fn from_manifest_key(label: i64) -> Option<Self> {
        const ALL: [Section; 8] = [
            Section::Shared,
            Section::DependencyResolution,
            Section::PayloadFetch,
            Section::CandidateVerification,
            Section::Install,
            Section::Validate,
            Section::Load,
            Section::Invoke,
        ];
        ALL.into_iter().find(|s| s.manifest_key().value() == label)
    }

    /// The draft's name of the sequence (`suit-shared-sequence`, `suit-install`, ...).
    pub const fn name(self) -> &'static str {
        match self {
            Section::Shared => CommonKey::SharedSequence.name(),
            s => s.manifest_key().name(),
        }
    }
}
