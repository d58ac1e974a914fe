//! The SUIT/COSE registry (`suit_common::registry`): every entry maps integer -> entry ->
//! integer and name -> entry -> name, names and values are unique within a registry, unknown
//! integers come back as "unknown" (never a panic, never a wrong entry), and the places that
//! used to hold their own tables (report, explain, cose) now agree with it.

use std::collections::HashSet;

use suit_common::cose::Algorithm;
use suit_common::registry::{
    Command, CommonKey, ComponentTextKey, CoseAlg, DependencyMetadataKey, EnvelopeKey, ManifestKey,
    MetadataKey, Parameter, Reason, RecordElement, ReportKey, TextKey, WaitEventKind,
};
use suit_common::report::{self, Failure, Report, ReportRecord, ReportResult};
use suit_common::suit::error::{ConditionKind, Section, Unsupported};
use suit_common::suit::platform::Event;
use suit_common::suit::{explain, Envelope, Error};

/// Checks one registry: both directions for every entry, uniqueness, and that integers next
/// to every registered one (and the extremes) either map to their own entry or to none.
macro_rules! check_registry {
    ($ty:ty, $prefix:literal) => {{
        let all = <$ty>::ALL;
        assert!(!all.is_empty());
        let mut values = HashSet::new();
        let mut names = HashSet::new();
        for &e in all {
            assert_eq!(<$ty>::from_value(e.value()), Some(e), "{e:?}");
            assert_eq!(<$ty>::from_name(e.name()), Some(e), "{e:?}");
            assert!(values.insert(e.value()), "{e:?}: value used twice");
            assert!(names.insert(e.name()), "{e:?}: name used twice");
            assert!(e.name().starts_with($prefix), "{e:?}: {}", e.name());
            assert_eq!(
                format!("{}{}", $prefix, e.short_name()),
                e.name(),
                "{e:?}: short name"
            );
        }
        for &e in all {
            for probe in [e.value() - 1, e.value() + 1] {
                match <$ty>::from_value(probe) {
                    Some(other) => assert_eq!(other.value(), probe),
                    None => assert!(!values.contains(&probe)),
                }
            }
        }
        for unknown in [i64::MIN, -1_000_000, 1_000_000, i64::MAX] {
            assert_eq!(<$ty>::from_value(unknown), None, "{unknown}");
        }
        assert_eq!(<$ty>::from_name("no-such-name"), None);
        assert_eq!(<$ty>::from_name(""), None);
        all.len()
    }};
}

#[test]
fn every_registry_maps_both_ways_and_is_unique() {
    assert_eq!(check_registry!(EnvelopeKey, "suit-"), 8);
    assert_eq!(check_registry!(ManifestKey, "suit-"), 16);
    assert_eq!(check_registry!(CommonKey, "suit-"), 3);
    assert_eq!(check_registry!(DependencyMetadataKey, "suit-"), 1);
    assert_eq!(check_registry!(Command, "suit-"), 29);
    assert_eq!(check_registry!(Parameter, "suit-parameter-"), 20);
    assert_eq!(check_registry!(TextKey, "suit-text-"), 4);
    assert_eq!(check_registry!(ComponentTextKey, "suit-text-"), 8);
    assert_eq!(check_registry!(ReportKey, "suit-"), 8);
    assert_eq!(check_registry!(RecordElement, "suit-record-"), 5);
    assert_eq!(check_registry!(CoseAlg, ""), 23);
    assert_eq!(check_registry!(WaitEventKind, "suit-wait-event-"), 9);
    assert_eq!(check_registry!(MetadataKey, "suit-meta-"), 8);
}

#[test]
fn values_and_names_are_the_drafts() {
    // A sample from each registry, against the drafts' IANA sections.
    assert_eq!(EnvelopeKey::AuthenticationWrapper.value(), 2);
    assert_eq!(ManifestKey::from_value(24), Some(ManifestKey::Uninstall));
    assert_eq!(ManifestKey::Uninstall.name(), "suit-uninstall");
    assert_eq!(CommonKey::SharedSequence.value(), 4);
    assert_eq!(
        Command::from_value(35).map(Command::name),
        Some("suit-directive-copy-params")
    );
    assert_eq!(
        Command::from_value(7).map(Command::name),
        Some("suit-condition-dependency-integrity")
    );
    assert_eq!(
        Parameter::from_value(25).map(Parameter::name),
        Some("suit-parameter-fetch-arguments")
    );
    assert_eq!(Parameter::EncryptionInfo.value(), 19);
    assert_eq!(ComponentTextKey::CurrentVersion.value(), 8);
    assert_eq!(TextKey::UpdateDescription.value(), 2);
    assert_eq!(ReportKey::Reference.value(), 99);
    assert_eq!(
        ReportKey::CapabilityReport.name(),
        "suit-report-capability-report"
    );
    assert_eq!(RecordElement::SectionOffset.value(), 2);
    assert_eq!(CoseAlg::from_value(-9).map(CoseAlg::name), Some("ESP256"));
    assert_eq!(CoseAlg::from_value(-65534), Some(CoseAlg::A128Ctr));
    assert_eq!(
        CoseAlg::from_name("HPKE-7-KE").map(CoseAlg::value),
        Some(53)
    );
    assert_eq!(CoseAlg::Sha256.value(), -16);
    // Only the severable members may be severed.
    let severable: Vec<i64> = EnvelopeKey::ALL
        .iter()
        .filter(|k| k.is_severable())
        .map(|k| k.value())
        .collect();
    assert_eq!(severable, [14, 15, 16, 18, 20, 23]);
}

#[test]
fn unknown_report_reasons_are_kept_not_refused() {
    // Report draft §4.2: a reason is a registered value; one this reader does not know is
    // kept as unknown (the report still decodes), with its value.
    let mut codes = HashSet::new();
    for r in Reason::all() {
        assert_eq!(Reason::from_code(r.code()), r);
        assert_eq!(Reason::from_name(r.full_name()), Some(r));
        assert_eq!(Reason::from_name(r.name()), Some(r));
        assert!(r.full_name().starts_with("suit-report-reason-"));
        assert!(codes.insert(r.code()));
    }
    assert_eq!(codes.len(), 13);
    assert_eq!(codes, (0..=12).collect());
    for unknown in [13, 99, -1, i64::MIN, i64::MAX] {
        let r = Reason::from_code(unknown);
        assert_eq!(r, Reason::Unknown(unknown));
        assert_eq!(r.code(), unknown);
        assert_eq!(r.name(), "unknown");
    }
    assert_eq!(Reason::from_name("unknown"), None);

    // Through the codec: an unknown reason survives encode -> decode.
    let report = Report {
        manifest_uri: None,
        manifest_digest: Some([7; 32]),
        nonce: None,
        entries: Vec::new(),
        result: ReportResult::Failure(Failure {
            reason: Reason::Unknown(77),
            code: 1234,
            record: ReportRecord::outside_commands(None),
            detail: None,
        }),
        sequence_number: None,
        dropped_records: 0,
        has_capability_report: false,
        other_manifest_digest: None,
        authenticated: None,
        device_state: None,
    };
    let decoded = Report::decode(&report.encode().unwrap()).unwrap();
    match decoded.result {
        ReportResult::Failure(f) => assert_eq!(f.reason, Reason::Unknown(77)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn report_and_explain_names_come_from_the_registry() {
    for &c in Command::ALL {
        assert_eq!(report::command_name(c.value()), c.short_name());
    }
    assert_eq!(report::command_name(13), "unknown-command");
    assert_eq!(report::command_name(-5), "unknown-command");
    for kind in [
        ConditionKind::VendorIdentifier,
        ConditionKind::ClassIdentifier,
        ConditionKind::ImageMatch,
        ConditionKind::ComponentSlot,
        ConditionKind::CheckContent,
        ConditionKind::DependencyIntegrity,
        ConditionKind::IsDependency,
        ConditionKind::Abort,
        ConditionKind::DeviceIdentifier,
        ConditionKind::UseBefore,
        ConditionKind::ImageNotMatch,
        ConditionKind::MinimumBattery,
        ConditionKind::UpdateAuthorized,
        ConditionKind::Version,
    ] {
        let label = report::command_label(Event::Condition(kind));
        let command = Command::from_value(label).unwrap();
        assert_eq!(command.condition(), Some(kind));
        assert_eq!(explain::condition(kind), command.name());
        assert!(command.name().starts_with("suit-condition-"));
    }
    for (event, label) in [
        (Event::Fetch, 21),
        (Event::Copy, 22),
        (Event::Write, 18),
        (Event::Swap, 31),
        (Event::Invoke, 23),
        (Event::ProcessDependency, 11),
        (Event::Unlink, 33),
        (Event::Wait, 29),
    ] {
        assert_eq!(report::command_label(event), label);
        assert_eq!(Command::from_value(label).unwrap().condition(), None);
    }
    for (section, label, name) in [
        (Section::Shared, 3, "shared-sequence"),
        (Section::DependencyResolution, 15, "dependency-resolution"),
        (Section::PayloadFetch, 16, "payload-fetch"),
        (Section::CandidateVerification, 18, "candidate-verification"),
        (Section::Install, 20, "install"),
        (Section::Validate, 7, "validate"),
        (Section::Load, 8, "load"),
        (Section::Invoke, 9, "invoke"),
    ] {
        assert_eq!(report::section_label(section), label);
        assert_eq!(report::section_name(label), name);
        assert_eq!(Section::from_manifest_key(label), Some(section));
        assert_eq!(explain::section(section), format!("suit-{name}"));
    }
    assert_eq!(report::section_name(0), "none");
    for not_a_section in [1, 2, 23, 24, -1, 1000] {
        assert_eq!(report::section_name(not_a_section), "unknown");
    }
}

#[test]
fn cose_algorithms_map_through_the_registry() {
    for alg in [
        Algorithm::Es256,
        Algorithm::Esp256,
        Algorithm::EdDsa,
        Algorithm::Ed25519,
        Algorithm::HssLms,
        Algorithm::Hmac256,
    ] {
        assert_eq!(Algorithm::from_cose_id(alg.cose_id()), Some(alg));
        assert_eq!(CoseAlg::from_value(alg.cose_id()), Some(alg.cose_alg()));
        assert_eq!(alg.name(), alg.cose_alg().name());
    }
    // Registered, but not an authentication algorithm: not mapped.
    for other in [
        CoseAlg::Sha256,
        CoseAlg::A128Gcm,
        CoseAlg::Hpke0,
        CoseAlg::Direct,
    ] {
        assert_eq!(Algorithm::from_cose_id(other.value()), None);
    }
    assert_eq!(Algorithm::from_cose_id(-1_000), None);
    use suit_common::encryption::algorithms::id;
    assert_eq!(id::A128CTR, CoseAlg::A128Ctr.value());
    assert_eq!(id::HPKE_7_KE, CoseAlg::Hpke7Ke.value());
    assert_eq!(suit_common::suit::digest::COSE_ALG_SHA256, -16);
}

#[test]
fn unknown_envelope_members_are_refused_by_label_not_a_panic() {
    // {2: h'', 3: h'', 99: h''}: manifest draft §8.2 defines no member 99; the engine refuses
    // it as an unsupported member, naming the label.
    let bytes = [0xa3, 0x02, 0x40, 0x03, 0x40, 0x18, 99, 0x40];
    match Envelope::decode(&bytes) {
        Err(Error::Unsupported(Unsupported::Member(99))) => {}
        other => panic!("{other:?}"),
    }
    // A label beyond i64 is refused the same way, saturated.
    let big = [
        0xa3, 0x02, 0x40, 0x03, 0x40, 0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x40,
    ];
    match Envelope::decode(&big) {
        Err(Error::Unsupported(Unsupported::Member(i64::MAX))) => {}
        other => panic!("{other:?}"),
    }
}

fn decode_signed(env: &[u8]) -> Result<suit_common::suit::Manifest, Error> {
    Envelope::decode(env)?
        .authenticate(&suit_test_support::spec_policy().anchors)
        .map(|a| a.manifest)
}

#[test]
fn unknown_labels_in_an_authenticated_manifest_are_refused_or_kept_as_the_drafts_say() {
    use suit_common::suit::command::Command as Cmd;
    use suit_test_support::{bytes, int, spec_signed_with};
    let install = |seq: &[u8]| spec_signed_with(&[&[0]], ManifestKey::Install.value(), bytes(seq));
    // Command 13 is unassigned: refused, naming it.
    match decode_signed(&install(&[0x82, 0x0d, 0x00])) {
        Err(Error::Unsupported(Unsupported::Command(13))) => {}
        other => panic!("{other:?}"),
    }
    // A negative label is a custom command (suit-command-custom): kept with its argument.
    let m = decode_signed(&install(&[0x82, 0x24, 0x41, 0x07])).unwrap();
    assert_eq!(
        m.install.get().unwrap().commands,
        [Cmd::Custom(-5, vec![0x41, 0x07])]
    );
    // Parameter 6 is unassigned: refused, naming it; a negative one is kept as custom.
    match decode_signed(&install(&[0x82, 0x14, 0xa1, 0x06, 0x00])) {
        Err(Error::Unsupported(Unsupported::Parameter(6))) => {}
        other => panic!("{other:?}"),
    }
    let m = decode_signed(&install(&[0x82, 0x14, 0xa1, 0x20, 0xf5])).unwrap();
    match &m.install.get().unwrap().commands[..] {
        [Cmd::OverrideParameters(p)] => assert_eq!(p.custom, [(-1, vec![0xf5].into())]),
        other => panic!("{other:?}"),
    }
    // Manifest member 10 is unassigned: refused, naming it.
    match decode_signed(&spec_signed_with(&[&[0]], 10, int(0))) {
        Err(Error::Unsupported(Unsupported::Member(10))) => {}
        other => panic!("{other:?}"),
    }
}
