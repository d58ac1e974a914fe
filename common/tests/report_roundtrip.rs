//! SUIT reports (draft-ietf-suit-report-18): building from engine records by reporting policy,
//! encoding, signing as COSE_Sign1 (ESP256, attached payload), verifying and decoding; the
//! failure path; and real engine runs over the manifest-spec examples.

use suit_common::cose::VerificationKey;
use suit_common::report::{
    self, image_properties, label, policy, sign_report, verify_report, Entry, Failure, Reason,
    Report, ReportBuilder, ReportError, ReportRecord, ReportResult, Value,
};
use suit_common::suit::error::{ConditionKind, Error, PolicyError, Section};
use suit_common::suit::platform::{Event, Record};
use suit_common::suit::{process, ComponentId, Digest, Procedure};
use suit_test_support::*;

fn device_key(seed: u8) -> p256::SecretKey {
    let mut b = [0u8; 32];
    b[31] = seed;
    b[0] = 0x42;
    p256::SecretKey::from_slice(&b).unwrap()
}

fn public(key: &p256::SecretKey) -> VerificationKey {
    use p256::elliptic_curve::sec1::ToSec1Point;
    VerificationKey::p256_from_sec1(key.public_key().to_sec1_point(false).as_bytes()).unwrap()
}

fn rec<'a>(event: Event, c: Option<&'a ComponentId>, success: bool, pol: u64) -> Record<'a> {
    Record {
        manifest_depth: 0,
        section: Section::Install,
        event,
        component: c,
        success,
        policy: pol,
        disclosure: suit_common::suit::platform::Disclosure::Installed,
        manifest_id: &[],
        offset: 0,
        component_index: None,
    }
}

fn sample_report() -> Report {
    let c = cid(&[b"fw"]);
    let mut b = ReportBuilder::new();
    b.set_manifest_digest(Some([7; 32]));
    b.set_reference_uri(Some("https://example.com/m.suit"));
    b.set_nonce(b"fresh-nonce").unwrap();
    b.record(&rec(
        Event::Condition(ConditionKind::VendorIdentifier),
        Some(&c),
        true,
        policy::RECORD_ON_SUCCESS,
    ));
    if b.record(&rec(Event::Write, Some(&c), true, 15)) {
        b.system_properties(&c, image_properties(&[9; 32], 1234));
    }
    b.fail_with(Failure::new(
        Reason::OperationFailed,
        report::code::SERVICE_STORE,
        suit_common::fault::Fault::Install(
            suit_common::service::install::InstallError::EmptyEnvelope,
        ),
    ))
}

#[test]
fn signed_report_round_trips() {
    let key = device_key(1);
    let r = sample_report();
    let bytes = r.encode().unwrap();
    assert_eq!(Report::decode(&bytes).unwrap(), r);
    let signed = sign_report(&bytes, &key).unwrap();
    // COSE_Sign1_Tagged with the report attached.
    assert_eq!(signed[0], 0xd2);
    assert!(signed.windows(bytes.len()).any(|w| w == bytes.as_slice()));
    let decoded = verify_report(&signed, &public(&key)).unwrap();
    assert_eq!(decoded, r);
    assert_eq!(decoded.manifest_digest, Some([7; 32]));
    assert_eq!(decoded.nonce.as_deref(), Some(&b"fresh-nonce"[..]));
    assert_eq!(
        decoded.manifest_uri.as_deref(),
        Some("https://example.com/m.suit")
    );
    // Deterministic ECDSA: same key, same report, same bytes.
    assert_eq!(sign_report(&bytes, &key).unwrap(), signed);
    assert_eq!(r.sign(&key).unwrap(), signed);
}

#[test]
fn the_encoding_follows_the_draft_cddl() {
    let bytes = sample_report().encode().unwrap();
    let v: ciborium::Value = ciborium::from_reader(bytes.as_slice()).unwrap();
    let map = v.into_map().unwrap();
    let get = |k: i64| {
        map.iter()
            .find(|(key, _)| key == &ciborium::Value::Integer(k.into()))
            .map(|(_, v)| v.clone())
    };
    // suit-reference => [ uri, SUIT_Digest ]
    let reference = get(99).unwrap().into_array().unwrap();
    assert_eq!(
        reference[0],
        ciborium::Value::Text("https://example.com/m.suit".into())
    );
    let digest = reference[1].clone().into_array().unwrap();
    assert_eq!(digest[0], ciborium::Value::Integer((-16).into()));
    assert_eq!(digest[1], ciborium::Value::Bytes(vec![7; 32]));
    assert_eq!(
        get(2),
        Some(ciborium::Value::Bytes(b"fresh-nonce".to_vec()))
    );
    // records: SUIT_Record arrays and system-property-claims maps
    let records = get(3).unwrap().into_array().unwrap();
    assert_eq!(records.len(), 3);
    let r0 = records[0].clone().into_array().unwrap();
    assert_eq!(r0[0], ciborium::Value::Array(vec![]));
    assert_eq!(r0[1], ciborium::Value::Integer(20.into())); // suit-install
    assert!(r0[4].is_map());
    assert!(records[2].is_map());
    // result map { 5: code, 6: record, 7: reason }
    let result = get(4).unwrap().into_map().unwrap();
    let keys: Vec<_> = result.iter().map(|(k, _)| k.clone()).collect();
    assert_eq!(
        keys,
        vec![
            ciborium::Value::Integer(5.into()),
            ciborium::Value::Integer(6.into()),
            ciborium::Value::Integer(7.into())
        ]
    );
    assert_eq!(result[2].1, ciborium::Value::Integer(11.into()));
    assert!(get(label::EXT_FAULT).is_some());
}

#[test]
fn tampered_signature_or_payload_is_refused() {
    let key = device_key(1);
    let bytes = sample_report().encode().unwrap();
    let signed = sign_report(&bytes, &key).unwrap();
    let mut bad_sig = signed.clone();
    let last = bad_sig.len() - 1;
    bad_sig[last] ^= 1;
    assert_eq!(
        verify_report(&bad_sig, &public(&key)),
        Err(ReportError::BadSignature)
    );
    // Change the result reason inside the payload (11 -> 10): still well-formed, not signed.
    let at = signed
        .windows(bytes.len())
        .position(|w| w == bytes.as_slice())
        .unwrap();
    let reason_at = at + bytes.iter().rposition(|b| *b == 0x0b).unwrap();
    let mut bad_payload = signed.clone();
    bad_payload[reason_at] = 0x0a;
    assert_eq!(
        verify_report(&bad_payload, &public(&key)),
        Err(ReportError::BadSignature)
    );
}

#[test]
fn a_report_signed_by_another_key_is_refused() {
    let signed = sign_report(&sample_report().encode().unwrap(), &device_key(1)).unwrap();
    assert_eq!(
        verify_report(&signed, &public(&device_key(2))),
        Err(ReportError::BadSignature)
    );
    let ed = VerificationKey::ed25519(
        &ed25519_dalek::SigningKey::from_bytes(&[5; 32])
            .verifying_key()
            .to_bytes(),
    )
    .unwrap();
    assert!(matches!(
        verify_report(&signed, &ed),
        Err(ReportError::Cose(_))
    ));
}

#[test]
fn failure_reports_carry_reason_code_and_detail() {
    let err = Error::Policy(PolicyError::Rollback {
        stored: 5,
        offered: 3,
    });
    let r = ReportBuilder::failure(Some([1; 32]), Failure::from_error(&err, None));
    let key = device_key(3);
    let d = verify_report(&r.sign(&key).unwrap(), &public(&key)).unwrap();
    assert!(!d.is_success());
    assert_eq!(d.manifest_digest, Some([1; 32]));
    let ReportResult::Failure(f) = &d.result else {
        panic!("failure expected")
    };
    assert_eq!(f.reason, Reason::ConditionFailed);
    assert_eq!(f.code, report::code::POLICY_ROLLBACK);
    assert!(f.detail.as_ref().unwrap().to_string().contains("Rollback"));
    assert_eq!(f.record, ReportRecord::outside_commands(None));

    // A refusal before anything decoded: no manifest digest at all.
    let r = ReportBuilder::failure(
        None,
        Failure::new(
            Reason::CborParse,
            report::code::DECODE,
            suit_common::fault::Fault::Install(
                suit_common::service::install::InstallError::EmptyEnvelope,
            ),
        ),
    );
    let d = Report::decode(&r.encode().unwrap()).unwrap();
    assert_eq!(d.manifest_digest, None);
    assert_eq!(d.manifest_uri, None);
    assert!(d.entries.is_empty());
}

#[test]
fn records_are_kept_by_their_policy_bits() {
    let c = cid(&[b"c"]);
    let mut b = ReportBuilder::new();
    let ev = Event::Condition(ConditionKind::ImageMatch);
    // (success, policy) -> (kept, sysinfo)
    let cases = [
        (true, 0, false, false),
        (false, 0, false, false),
        (true, policy::RECORD_ON_SUCCESS, true, false),
        (false, policy::RECORD_ON_SUCCESS, false, false),
        (true, policy::RECORD_ON_FAILURE, false, false),
        (false, policy::RECORD_ON_FAILURE, true, false),
        (true, policy::SYSINFO_SUCCESS, false, true),
        (false, policy::SYSINFO_SUCCESS, false, false),
        (true, policy::SYSINFO_FAILURE, false, false),
        (false, policy::SYSINFO_FAILURE, false, true),
        (false, 15, true, true),
    ];
    let mut kept = 0;
    for (success, pol, keep, sysinfo) in cases {
        let before = b.clone().fail_with(dummy_failure()).entries.len();
        let r = rec(ev, Some(&c), success, pol);
        assert_eq!(b.record(&r), sysinfo, "sysinfo for {success} {pol}");
        let after = b.clone().fail_with(dummy_failure()).entries.len();
        assert_eq!(
            after - before,
            usize::from(keep),
            "record for {success} {pol}"
        );
        kept += usize::from(keep);
    }
    let r = b.fail_with(dummy_failure());
    let records: Vec<_> = r.records().collect();
    assert_eq!(records.len(), kept);
    assert_eq!(
        records.iter().map(|r| r.success).collect::<Vec<_>>(),
        vec![Some(true), Some(false), Some(false)]
    );
    assert!(records.iter().all(|r| r.command == Some(3)));
    // No component: nothing to report system information about.
    assert!(!ReportBuilder::wants_sysinfo(&rec(
        Event::Condition(ConditionKind::Abort),
        None,
        false,
        15
    )));
}

fn dummy_failure() -> Failure {
    Failure::new(
        Reason::OperationFailed,
        0,
        suit_common::fault::Fault::Install(
            suit_common::service::install::InstallError::EmptyEnvelope,
        ),
    )
}

#[test]
fn records_are_bounded() {
    let c = cid(&[b"c"]);
    let mut b = ReportBuilder::new();
    for _ in 0..report::MAX_RECORDS + 10 {
        b.record(&rec(Event::Fetch, Some(&c), true, 1));
    }
    let r = b.fail_with(dummy_failure());
    assert_eq!(r.entries.len(), report::MAX_RECORDS);
    assert_eq!(r.dropped_records, 10);
    let d = Report::decode(&r.encode().unwrap()).unwrap();
    assert_eq!(d.dropped_records, 10);
    // Nonces are bounded too.
    assert!(ReportBuilder::new()
        .set_nonce(&[0; report::MAX_NONCE_LEN + 1])
        .is_err());
}

#[test]
fn mangled_input_never_panics() {
    let key = device_key(1);
    let bytes = sample_report().encode().unwrap();
    let signed = sign_report(&bytes, &key).unwrap();
    let vk = public(&key);
    let original = sample_report();
    for input in [&bytes, &signed] {
        for n in 0..input.len() {
            let _ = Report::decode(&input[..n]);
            let _ = verify_report(&input[..n], &vk);
        }
        for i in 0..input.len() {
            for x in [0x01u8, 0x20, 0x80, 0xff] {
                let mut m = input.clone();
                m[i] ^= x;
                let _ = Report::decode(&m);
                // Only the unprotected header (kid) is outside the signature.
                if let Ok(d) = verify_report(&m, &vk) {
                    assert_eq!(d, original);
                }
            }
        }
    }
    // Not a report at all; an encrypted report; a detached payload.
    assert!(sign_report(b"\xa0", &key).is_err());
    assert_eq!(
        Report::decode(&[0x83, 0x40, 0xa0, 0x40]),
        Err(ReportError::Encrypted)
    );
    let detached = {
        use coset::{CoseSign1Builder, HeaderBuilder, TaggedCborSerializable};
        CoseSign1Builder::new()
            .protected(
                HeaderBuilder::new()
                    .algorithm(coset::iana::Algorithm::ESP256)
                    .build(),
            )
            .build()
            .to_tagged_vec()
            .unwrap()
    };
    assert!(matches!(
        verify_report(&detached, &vk),
        Err(ReportError::Malformed(_))
    ));
}

#[test]
fn unknown_extensions_are_ignored_and_record_extensions_optional() {
    // A minimal report another implementation might send: plain 5-element record, an unknown
    // extension label, no URI.
    let mut e = Vec::new();
    e.extend_from_slice(&[0xa4]); // map(4)
    e.extend_from_slice(&[0x03, 0x81, 0x85, 0x80, 0x14, 0x05, 0x00, 0xa0]); // records
    e.extend_from_slice(&[0x04, 0xf5]); // result: true
    e.extend_from_slice(&[0x18, 0x63, 0x82, 0x60, 0x82, 0x2f, 0x58, 0x20]); // reference
    e.extend_from_slice(&[0xab; 32]);
    e.extend_from_slice(&[0x19, 0x01, 0x00, 0x63, b'x', b'y', b'z']); // 256: "xyz"
    let r = Report::decode(&e).unwrap();
    assert!(r.is_success());
    assert_eq!(r.manifest_digest, Some([0xab; 32]));
    let rec = r.records().next().unwrap();
    assert_eq!((rec.section, rec.offset, rec.command), (20, 5, None));
}

// ---------------------------------------------------------------------------------------------
// Real engine runs: the platform feeds the builder, as the TA's StorePlatform will.

struct Reporting {
    dev: RecordingPlatform,
    report: ReportBuilder,
}

suit_test_support::recording_platform_via!(Reporting, dev, {
    fn report(&mut self, r: &Record<'_>) {
        self.dev.report(r);
        if self.report.record(r) {
            if let Some(c) = r.component {
                // System information: the component's current image, if any.
                let mut data = Vec::new();
                let mut buf = [0u8; 4096];
                while let Ok(n) = self.dev.read(c, data.len() as u64, &mut buf) {
                    if n == 0 {
                        break;
                    }
                    data.extend_from_slice(&buf[..n]);
                }
                let props = image_properties(&Digest::sha256(&data).0, data.len() as u64);
                self.report.system_properties(c, props);
            }
        }
    }
});

impl Reporting {
    /// The spec device, reporting into a builder with the claims of `env`'s authenticated
    /// manifest (what the service keeps).
    fn for_envelope(env: &[u8]) -> Self {
        let auth = suit_common::suit::Envelope::decode(env)
            .unwrap()
            .authenticate(&spec_policy().anchors)
            .unwrap();
        Reporting {
            dev: RecordingPlatform::spec_device(),
            report: ReportBuilder::for_manifest(&suit_common::report::ManifestClaims::of(
                &auth,
                &[],
            )),
        }
    }
}

fn example(name: &str) -> Vec<u8> {
    hex_file(&format!("suit-manifest-spec/{name}"))
}

#[test]
fn engine_failure_report_locates_the_failed_condition() {
    // Example 0, secure boot: every command has policy 15; image-match fails on the dummy
    // digest at validate (7), command 0, which is byte 1 of `[3, 15]`.
    let env = example("example0.signed.hex");
    let mut p = Reporting::for_envelope(&env);
    let image: Vec<u8> = (0..34768u32).map(|i| i as u8).collect();
    p.dev.installed.insert(cid(&[&[0]]), image.clone());
    let err = process(&env, Procedure::Invoke, &spec_policy(), &no_keys(), &mut p).unwrap_err();
    let report = std::mem::take(&mut p.report).fail(&err, Some(&env));
    let key = device_key(9);
    let d = verify_report(&report.sign(&key).unwrap(), &public(&key)).unwrap();

    let claimed = suit_common::suit::Envelope::decode(&env)
        .unwrap()
        .claimed_digest();
    assert_eq!(d.manifest_digest, Some(claimed.0));
    assert_eq!(d.sequence_number, Some(0));
    let ReportResult::Failure(f) = &d.result else {
        panic!("failure expected")
    };
    assert_eq!(f.reason, Reason::ConditionFailed);
    assert_eq!(
        (f.record.section, f.record.offset, f.record.command),
        (7, 1, Some(3))
    );
    assert_eq!(f.record.component_index, 0);
    assert!(f.record.manifest_id.is_empty());

    // vendor ok, class ok, image-match failed: three records, each with system information.
    let records: Vec<_> = d
        .records()
        .map(|r| (r.section, r.command, r.success))
        .collect();
    assert_eq!(
        records,
        vec![
            (3, Some(1), Some(true)),
            (3, Some(2), Some(true)),
            (7, Some(3), Some(false)),
        ]
    );
    let claims: Vec<_> = d
        .entries
        .iter()
        .filter_map(|e| match e {
            Entry::System(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(claims.len(), 3);
    assert_eq!(claims[0].component, cid(&[&[0]]));
    assert_eq!(
        claims[0].properties,
        image_properties(&Digest::sha256(&image).0, image.len() as u64)
    );
    assert!(matches!(claims[0].properties[0].1, Value::Bytes(_)));
}

#[test]
fn engine_success_report_and_nested_failure_offsets() {
    // Example 1 (update) with the dummy digest: fetch goes through, install's image-match
    // (command 2 of the install sequence) fails.
    let env = example("example1.signed.hex");
    let mut p = Reporting::for_envelope(&env);
    let payload: Vec<u8> = (0..34768u32).map(|i| (i * 7) as u8).collect();
    p.dev
        .remote
        .insert("http://example.com/file.bin".into(), payload.clone());
    let err = process(&env, Procedure::Update, &spec_policy(), &no_keys(), &mut p).unwrap_err();
    let r = std::mem::take(&mut p.report).fail(&err, Some(&env));
    let ReportResult::Failure(f) = &r.result else {
        panic!()
    };
    assert_eq!(f.record.section, 20);
    assert_eq!(f.record.command, Some(3));
    assert!(f.record.offset > 0);
    assert_eq!(
        report::command_offset(&env, Section::Install, &[2]),
        Some((f.record.offset, 3))
    );
    // The fetch has policy 2 (record-on-failure) and succeeded: no record of it.
    assert!(r.records().all(|x| x.command != Some(21)));
    assert!(r
        .records()
        .any(|x| x.command == Some(3) && x.success == Some(false)));

    // The same manifest with the real digest: success, digest and sequence number from the
    // outcome.
    let manifest = replace_all(
        &manifest_of(&env),
        &DUMMY_DIGEST,
        &Digest::sha256(&payload).0,
    );
    let key = p256_private_from_pem("suit-manifest-spec/private_key.pem");
    let env = suit_common::suit::author::seal_envelope(
        &manifest,
        &[suit_common::suit::author::Signer {
            key: &key,
            alg: suit_common::cose::Algorithm::Es256,
            kid: b"",
        }],
        &[],
        &[],
    )
    .unwrap();
    let mut p = Reporting::for_envelope(&env);
    p.dev
        .remote
        .insert("http://example.com/file.bin".into(), payload);
    let outcome = process(&env, Procedure::Update, &spec_policy(), &no_keys(), &mut p).unwrap();
    let r = std::mem::take(&mut p.report).succeed(&outcome);
    let dk = device_key(4);
    let d = verify_report(&r.sign(&dk).unwrap(), &public(&dk)).unwrap();
    assert!(d.is_success());
    assert_eq!(d.manifest_digest, Some(outcome.manifest_digest.0));
    assert_eq!(d.sequence_number, Some(outcome.sequence_number));
    assert!(d.records().all(|x| x.success == Some(true)));
}

#[test]
fn every_engine_error_kind_maps_to_a_reason() {
    use suit_common::suit::error::{AuthError, Unsupported};
    let cases = [
        (
            Error::Auth(AuthError::BadSignature { block: 0 }),
            Reason::Unauthorised,
        ),
        (
            Error::Auth(AuthError::NoMatchingTrustAnchor),
            Reason::Unauthorised,
        ),
        (
            Error::Unsupported(Unsupported::Command(99)),
            Reason::CommandUnsupported,
        ),
        (
            Error::Unsupported(Unsupported::Parameter(99)),
            Reason::ParameterUnsupported,
        ),
        (
            Error::Policy(PolicyError::ComponentNotPermitted { component: 2 }),
            Reason::ComponentUnauthorised,
        ),
        (
            Error::SeveredSectionMissing(Section::Install),
            Reason::SeveringUnsupported,
        ),
        // Reason 4 is for signatures and MACs only (session 31): a required update-management
        // condition the manifest lacks failed as a condition, content no digest vouches for
        // failed its command.
        (
            Error::Policy(PolicyError::UpdateManagement(
                suit_common::suit::update_management::UmError::AuthorizationRequired,
            )),
            Reason::ConditionFailed,
        ),
        (
            Error::UnvouchedContent(suit_common::suit::component::ComponentId::default()),
            Reason::OperationFailed,
        ),
    ];
    for (e, reason) in cases {
        let f = Failure::from_error(&e, None);
        assert_eq!(f.reason, reason, "{e:?}");
        let r = ReportBuilder::failure(None, f.clone());
        let ReportResult::Failure(g) = Report::decode(&r.encode().unwrap()).unwrap().result else {
            panic!()
        };
        assert_eq!(g, f);
    }
    let f = Failure::from_error(
        &Error::Policy(PolicyError::ComponentNotPermitted { component: 2 }),
        None,
    );
    assert_eq!(f.record.component_index, 2);
}

/// A signed report is a COSE_Sign1, whose header values are `any` (RFC 9052): a float under a
/// private-use label in the unprotected bucket is skipped and the report verifies.
#[test]
fn a_float_in_a_private_header_of_a_signed_report_is_skipped() {
    use coset::TaggedCborSerializable;
    let key = device_key(1);
    let r = sample_report();
    let mut s = coset::CoseSign1::from_tagged_slice(&r.sign(&key).unwrap()).unwrap();
    s.unprotected
        .rest
        .push((coset::Label::Int(-65_537), ciborium::Value::Float(1.5)));
    let signed = s.to_tagged_vec().unwrap();
    assert_eq!(verify_report(&signed, &public(&key)).unwrap(), r);
}

/// draft-ietf-suit-report §4.2: "suit-report-reason-alg-unsupported: an unsupported COSE
/// algorithm was encountered": a signature algorithm this engine lacks or this build leaves
/// out, a COSE_Mac recipient's, an encryption info's content or recipient algorithm. A key
/// that cannot serve a supported algorithm (another type, or a COSE_Key declaring another
/// `alg`) is no unsupported algorithm: unauthorised.
#[test]
fn unsupported_algorithms_are_reported_as_alg_unsupported() {
    use suit_common::cose::CoseError;
    use suit_common::encryption::DecryptError;
    use suit_common::suit::error::{AuthError, CommandError, CommandErrorKind, Location};
    let cose = |error| Error::Auth(AuthError::Cose { block: 0, error });
    let decrypt = |e| {
        Error::Command(CommandError {
            location: Location {
                manifest_depth: 0,
                section: Section::Install,
                path: vec![0],
                component: Some(0),
                offset: Some(0),
            },
            kind: CommandErrorKind::Decrypt(e),
        })
    };
    let cases = [
        (
            cose(CoseError::UnsupportedAlgorithm(-35)),
            Reason::AlgUnsupported,
        ),
        (
            cose(CoseError::AlgorithmNotEnabled(-46)),
            Reason::AlgUnsupported,
        ),
        (
            cose(CoseError::AlgorithmNotEnabled(-19)),
            Reason::AlgUnsupported,
        ),
        (
            cose(CoseError::UnsupportedRecipient(-3)),
            Reason::AlgUnsupported,
        ),
        (
            decrypt(DecryptError::UnsupportedContentAlgorithm(24)),
            Reason::AlgUnsupported,
        ),
        (
            decrypt(DecryptError::UnsupportedRecipientAlgorithm(-4)),
            Reason::AlgUnsupported,
        ),
        (cose(CoseError::KeyAlgorithmMismatch), Reason::Unauthorised),
        (cose(CoseError::VerificationFailed), Reason::Unauthorised),
        (cose(CoseError::Malformed), Reason::CoseUnsupported),
        (decrypt(DecryptError::TagMismatch), Reason::OperationFailed),
    ];
    for (e, reason) in cases {
        let f = Failure::from_error(&e, None);
        assert_eq!(f.reason, reason, "{e:?}");
        // The result code is the error's, whatever the reason.
        let code = match &e {
            Error::Command(c) => report::command_error_code(&c.kind),
            _ => report::code::AUTH_COSE,
        };
        assert_eq!(f.code, code, "{e:?}");
    }
}

/// A device state: root counter 3, delegates' `delegate_counter`, one component ['fw'].
fn sample_state(delegate_counter: u64) -> suit_common::report::DeviceState {
    suit_common::report::DeviceState {
        provisioning_counter: 3,
        delegate_counter,
        components: vec![suit_common::report::InstalledComponent {
            component: cid(&[b"fw"]),
            sequence_number: 7,
            digest: Some([5; 32]),
            size: 1234,
        }],
    }
}

/// A component whose digest the device withholds is still listed in the signed device state,
/// with nil for its digest (review s27: it was left out, unlike status).
#[test]
fn a_withheld_digest_is_nil_in_the_device_state() {
    let mut state = sample_state(0);
    state
        .components
        .push(suit_common::report::InstalledComponent {
            component: cid(&[b"secret"]),
            sequence_number: 2,
            digest: None,
            size: 48,
        });
    let mut r = sample_report();
    r.device_state = Some(state.clone());
    let bytes = r.encode().unwrap();
    // [[h'736563726574'], 2, null, 48]
    let entry = [
        0x84, 0x81, 0x46, b's', b'e', b'c', b'r', b'e', b't', 0x02, 0xf6, 0x18, 0x30,
    ];
    assert!(
        bytes.windows(entry.len()).any(|w| w == entry),
        "{}",
        hex::encode(&bytes)
    );
    let key = device_key(6);
    let back = verify_report(&r.sign(&key).unwrap(), &public(&key)).unwrap();
    assert_eq!(back.device_state, Some(state));
}

/// The Report command signs the stored report with the nonce and device state put in by
/// splicing, without the decoder: the same bytes as decode, set, encode and sign.
#[test]
fn a_stored_report_is_signed_as_decoding_and_encoding_it_would() {
    use suit_common::report::DeviceState;
    let key = device_key(4);
    let state = sample_state(2);
    let mut pre_auth = ReportBuilder::failure(
        None,
        Failure::new(
            Reason::CborParse,
            report::code::DECODE,
            suit_common::fault::Fault::Install(
                suit_common::service::install::InstallError::EmptyEnvelope,
            ),
        ),
    );
    pre_auth.authenticated = Some(false);
    let mut with_nonce = sample_report();
    with_nonce.nonce = None;
    for stored in [with_nonce, pre_auth] {
        let bytes = stored.encode().unwrap();
        for nonce in [None, Some(&b"n"[..]), Some(&[0xa5; 64][..])] {
            for state in [DeviceState::default(), state.clone()] {
                let mut expected = stored.clone();
                expected.nonce = nonce.map(<[u8]>::to_vec);
                expected.device_state = Some(state.clone());
                let signed =
                    Report::sign_stored(&bytes, nonce, &state, &key, |_| Ok(None), &mut rng())
                        .unwrap();
                assert_eq!(signed, expected.sign(&key).unwrap());
                assert_eq!(verify_report(&signed, &public(&key)).unwrap(), expected);
            }
        }
    }

    // What the device never stores is refused, not signed: a nonce or a device state already
    // in it (a duplicate key), trailing bytes, a non-map, an oversized nonce.
    let mut bad = sample_report();
    let with_stored_nonce = bad.encode().unwrap();
    bad.nonce = None;
    bad.device_state = Some(state.clone());
    let with_stored_state = bad.encode().unwrap();
    bad.device_state = None;
    let mut trailing = bad.encode().unwrap();
    trailing.push(0);
    for stored in [
        with_stored_nonce,
        with_stored_state,
        trailing,
        vec![0x80],
        vec![0xa1, 0x01],
        vec![],
    ] {
        assert!(matches!(
            Report::sign_stored(&stored, None, &state, &key, |_| Ok(None), &mut rng()),
            Err(ReportError::Malformed(_))
        ));
    }
    assert!(matches!(
        Report::sign_stored(
            &bad.encode().unwrap(),
            Some(&[0; 4096]),
            &state,
            &key,
            |_| Ok(None),
            &mut rng(),
        ),
        Err(ReportError::TooLarge(_))
    ));
}

/// The delegated TPA anchors' counter (session 18) is key 3 of the device state, only when not
/// 0: a device no delegate message reached signs the bytes it signed before (pinned here,
/// written out by hand from the CDDL), and a decoder of either reads both.
#[test]
fn the_device_state_carries_the_delegates_counter_only_when_it_is_not_0() {
    use suit_common::report::DeviceState;
    let mut state = sample_state(0);
    // -70005 => {1: 3, 2: [[[h'6677'], 7, << [-16, h'0505..05'] >>, 1234]]}
    let digest = [&[0x58, 0x24, 0x82, 0x2f, 0x58, 0x20][..], &[5; 32]].concat();
    let old = [
        &[
            0x3a, 0x00, 0x01, 0x11, 0x74, 0xa2, 0x01, 0x03, 0x02, 0x81, 0x84,
        ][..],
        &[0x81, 0x42, 0x66, 0x77, 0x07],
        &digest,
        &[0x19, 0x04, 0xd2],
    ]
    .concat();
    let key = device_key(5);
    // The report with `state` holds `tail` and round-trips through signing.
    let check = |state: &DeviceState, tail: &[u8]| {
        let mut r = sample_report();
        r.device_state = Some(state.clone());
        let bytes = r.encode().unwrap();
        assert!(
            bytes.windows(tail.len()).any(|w| w == tail),
            "{} does not hold {}",
            hex::encode(&bytes),
            hex::encode(tail)
        );
        let back = verify_report(&r.sign(&key).unwrap(), &public(&key)).unwrap();
        assert_eq!(back.device_state.as_ref(), Some(state));
    };
    check(&state, &old);
    // With a delegate counter: a third member, after the components.
    state.delegate_counter = 4;
    let mut new = old.clone();
    new[5] = 0xa3;
    new.extend_from_slice(&[0x03, 0x04]);
    check(&state, &new);
}

/// The COSE_Sign1 of a signed report and its payload, the SUIT_Report.
fn sign1_and_payload(signed: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let v: ciborium::Value = ciborium::from_reader(signed).unwrap();
    let ciborium::Value::Tag(18, inner) = v else {
        panic!("not a COSE_Sign1_Tagged")
    };
    let a = inner.into_array().unwrap();
    (
        a[0].as_bytes().unwrap().clone(),
        a[2].as_bytes().unwrap().clone(),
    )
}

/// Every map of every report the device encodes or signs is in RFC 8949 §4.2.1 deterministic
/// order: the report's own (the extensions' labels sort -70001, -70003, -70004, -70005,
/// -70006 by their encodings, not by when they were added), the failure, records'
/// properties and system-property claims given out of order, the device state; the same for a
/// stored report signed with a nonce and the device state, including one stored by the
/// earlier encoder, which wrote -70006 before -70003.
#[test]
fn every_map_of_a_report_is_in_deterministic_order() {
    use std::sync::Arc;
    use suit_common::report::SystemProperties;
    use suit_common::suit::error::AuthError;
    let key = device_key(6);
    let check = |what: &str, bytes: &[u8]| {
        if let Err(e) = deterministic_order(bytes) {
            panic!("{what}: {e}\n{}", hex::encode(bytes));
        }
    };
    let mut failure = sample_report();
    failure.sequence_number = Some(9);
    failure.dropped_records = 2;
    failure.authenticated = Some(true);
    failure.device_state = Some(sample_state(1));
    let mut record = ReportRecord {
        manifest_id: vec![],
        section: 20,
        offset: 3,
        component_index: 0,
        properties: vec![
            (-5, Value::Bool(true)),
            (14, Value::Uint(1)),
            (3, Value::Uint(2)),
        ],
        command: Some(1),
        success: Some(false),
    };
    failure.entries.push(Entry::Record(record.clone()));
    failure.entries.push(Entry::System(SystemProperties {
        component: cid(&[b"fw"]),
        properties: vec![
            (-1, Value::Bool(true)),
            (24, Value::Uint(4)),
            (14, Value::Uint(1)),
        ],
    }));
    if let ReportResult::Failure(f) = &mut failure.result {
        record.properties.reverse();
        f.record = record;
    }
    let mut success = failure.clone();
    success.result = ReportResult::Success;
    let mut refused = ReportBuilder::refused_before_authentication(Arc::new(Error::Auth(
        AuthError::NoAuthenticationBlock,
    )));
    refused.device_state = Some(sample_state(0));
    // No authenticated manifest: suit-reference is ["", [-16, h'']] (CONFORMANCE.md, Reports).
    let no_manifest = [0x18, 0x63, 0x82, 0x60, 0x82, 0x2f, 0x40];
    assert!(refused
        .encode()
        .unwrap()
        .windows(7)
        .any(|w| w == no_manifest));
    for (what, r) in [
        ("failure", failure),
        ("success", success),
        ("refused", refused),
    ] {
        let bytes = r.encode().unwrap();
        check(what, &bytes);
        let signed = r.sign(&key).unwrap();
        check(what, &signed);
        let (protected, payload) = sign1_and_payload(&signed);
        check(what, &protected);
        assert_eq!(payload, bytes);
        verify_report(&signed, &public(&key)).unwrap();

        let mut stored = r.clone();
        stored.nonce = None;
        stored.device_state = None;
        let stored = stored.encode().unwrap();
        // The members in the earlier encoder's order: -70006 right after -70001.
        let ciborium::Value::Map(mut members) = ciborium::from_reader(stored.as_slice()).unwrap()
        else {
            panic!("a report is a map")
        };
        const EARLIER: [i64; 8] = [3, 4, 99, -70001, -70006, -70003, -70004, -70005];
        let place = |k: &ciborium::Value| {
            EARLIER
                .iter()
                .position(|l| ciborium::Value::from(*l) == *k)
                .unwrap()
        };
        members.sort_by_key(|(k, _)| place(k));
        let legacy = cbor(&ciborium::Value::Map(members));
        if what != "success" {
            assert!(deterministic_order(&legacy).is_err(), "{what}");
        }
        for stored in [stored, legacy] {
            for nonce in [None, Some(&b"nonce"[..])] {
                let signed = Report::sign_stored(
                    &stored,
                    nonce,
                    &sample_state(2),
                    &key,
                    |_| Ok(None),
                    &mut rng(),
                )
                .unwrap();
                let (_, payload) = sign1_and_payload(&signed);
                check(what, &payload);
                let back = verify_report(&signed, &public(&key)).unwrap();
                assert_eq!(back.nonce.as_deref(), nonce);
                assert_eq!(back.device_state, Some(sample_state(2)));
            }
        }
    }
}

/// A repeated map key is well-formed CBOR that no SUIT_Report may hold (RFC 8949 §5.6): the
/// refusal says so rather than calling the bytes malformed.
#[test]
fn a_repeated_key_is_named_as_such() {
    let good = sample_report().encode().unwrap();
    // The first member again at the end of the top-level map.
    assert_eq!(good[0] & 0xe0, 0xa0);
    let count = usize::from(good[0] & 0x1f);
    assert!(count < 23);
    let first = {
        let mut d = suit_common::cbor::Decoder::new(&good[1..]);
        d.skip().unwrap();
        d.skip().unwrap();
        1 + d.position()
    };
    let mut repeated = vec![0xa0 | u8::try_from(count + 1).unwrap()];
    repeated.extend_from_slice(&good[1..]);
    repeated.extend_from_slice(&good[1..first]);
    assert_eq!(
        Report::decode(&repeated),
        Err(ReportError::Malformed("SUIT_Report repeats a map key"))
    );
    let mut truncated = good.clone();
    truncated.pop();
    assert_eq!(
        Report::decode(&truncated),
        Err(ReportError::Malformed(
            "SUIT_Report is not well-formed CBOR"
        ))
    );
}

/// The generator `sign_stored` seals with (never used here: no tracker key).
fn rng() -> suit_test_support::FixedRng {
    suit_test_support::FixedRng::new(b"report_roundtrip")
}
