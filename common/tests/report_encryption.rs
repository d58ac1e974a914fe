//! Encrypted SUIT reports (report draft §8, SUIT_Report_COSE_Encrypt0 inside the signed
//! COSE_Sign1; COSE-HPKE integrated encryption, HPKE-0): the TPA gives an anchor a status
//! tracker key (`Scope::tracker_key`); the report of a manifest that anchor authenticated is
//! sealed to it, and only that tracker's private key opens it.

use suit_common::cose::{Algorithm, SigningKey, VerificationKey};
use suit_common::protocol::*;
use suit_common::report::{
    open_report, seal, verify_and_open, verify_report, DecodedReport, ReportError,
};
use suit_common::service::provision::Op;
use suit_common::service::state::{AnchorRecord, RoleRecord, Scope};
use suit_common::service::Service;
use suit_test_support::service::*;
use suit_test_support::{
    p256_private_from_pem, seal_esp256, seal_one, FixedRng, AUTHOR_PRIV, AUTHOR_PUB, OPERATOR_PRIV,
    OPERATOR_PUB,
};

use p256::elliptic_curve::sec1::ToSec1Point;

/// A status tracker's key pair, from a fixed scalar (test material only).
fn tracker(n: u8) -> p256::SecretKey {
    let mut d = [0x11u8; 32];
    d[31] = n;
    p256::SecretKey::from_slice(&d).unwrap()
}

fn sec1(sk: &p256::SecretKey) -> ByteBuf {
    ByteBuf::from(sk.public_key().to_sec1_point(false).as_bytes().to_vec())
}

fn scope_with(prefix: &[u8], tracker_key: Option<ByteBuf>) -> Scope {
    Scope {
        tracker_key,
        ..scope_of(&[&[prefix]], false)
    }
}

fn add(id: u32, public: &str, scope: Scope) -> Op {
    Op::AddAnchor(AnchorRecord {
        id,
        cose_key: cose_key(public),
        role: RoleRecord::Author,
        scope,
        key_scope: 0,
    })
}

/// Anchor 1 (the author key, components under `app`) with tracker key 1, anchor 2 (the
/// operator key, under `other`) with `key2`.
fn device(key2: Option<ByteBuf>) -> Service<Mem> {
    let mut s = service(backend(7));
    let _: DeviceKeyResponse = call(&mut s, Command::DeviceKey, &Empty {}).unwrap();
    let message = provision_message(
        &mut s,
        1,
        vec![
            add(1, AUTHOR_PUB, scope_with(b"app", Some(sec1(&tracker(1))))),
            add(2, OPERATOR_PUB, scope_with(b"other", key2)),
            identity(),
        ],
    );
    provision(&mut s, &message).unwrap();
    s
}

fn report_key(s: &mut Service<Mem>) -> VerificationKey {
    let keys: DeviceKeyResponse = call(s, Command::DeviceKey, &Empty {}).unwrap();
    VerificationKey::p256_from_sec1(&keys.report_key).unwrap()
}

fn signed_report(s: &mut Service<Mem>) -> Vec<u8> {
    let r: ReportResponse = call(
        s,
        Command::Report,
        &ReportRequest {
            nonce: Some(ByteBuf::from(b"tracker nonce".to_vec())),
            pre_auth: false,
        },
    )
    .unwrap();
    r.report.to_vec()
}

/// Installs an integrated image under `prefix`, signed by the author (anchor 1) or, with
/// `operator`, by the operator key (anchor 2).
fn install_under(s: &mut Service<Mem>, prefix: &'static [u8], seq: u64, operator: bool) {
    let id: &[&[u8]] = &[prefix, b"fw"];
    let parts = [part(id, b"the image of this test", "#image")];
    let m = manifest(seq, &parts);
    let envelope = if operator {
        let key: SigningKey = p256_private_from_pem(OPERATOR_PRIV);
        seal_one(
            &m,
            &key,
            Algorithm::Esp256,
            &[],
            &[("#image", parts[0].image)],
        )
    } else {
        envelope(&m, &parts)
    };
    install_with(s, &envelope, &[]).unwrap();
}

/// Installs an integrated image under `app` (sequence number 1) signed by every key in
/// `keys` (PEM private keys), in that order.
fn install_co_signed(s: &mut Service<Mem>, keys: &[&str]) {
    let id: &[&[u8]] = &[b"app", b"fw"];
    let parts = [part(id, b"the image of this test", "#image")];
    let env = seal_esp256(&manifest(1, &parts), keys, &[("#image", parts[0].image)]);
    install_with(s, &env, &[]).unwrap();
}

fn is_encrypt0(payload: &[u8]) -> bool {
    matches!(payload.first(), Some(0x83) | Some(0xd0))
}

#[test]
fn a_report_of_an_anchor_with_a_tracker_key_opens_only_with_that_key() {
    let mut s = device(None);
    install_under(&mut s, b"app", 1, false);
    let key = report_key(&mut s);
    let signed = signed_report(&mut s);
    // The signed payload is a SUIT_Report_COSE_Encrypt0: nothing of the report in clear.
    let payload = suit_common::report::unverified_report_payload(&signed).unwrap();
    assert!(is_encrypt0(payload), "{payload:02x?}");
    assert!(!signed
        .windows(b"tracker nonce".len())
        .any(|w| w == b"tracker nonce"));
    // Without the tracker key: the signature verifies, the report stays closed.
    assert_eq!(verify_report(&signed, &key), Err(ReportError::Encrypted));
    assert_eq!(
        verify_and_open(&signed, &key, None),
        Err(ReportError::Encrypted)
    );
    // Another key (anchor 2's tracker, say) does not open it.
    assert_eq!(
        verify_and_open(&signed, &key, Some(&tracker(2))),
        Err(ReportError::Undecryptable)
    );
    let opened = verify_and_open(&signed, &key, Some(&tracker(1))).unwrap();
    assert!(opened.encrypted);
    let r: DecodedReport = opened.report;
    assert!(r.is_success(), "{r:?}");
    assert_eq!(r.nonce.as_deref(), Some(&b"tracker nonce"[..]));
    assert_eq!(r.sequence_number, Some(1));
    assert!(r.device_state.is_some());
    // A fresh ephemeral key per report: the same report twice is sealed twice.
    let again = signed_report(&mut s);
    assert_ne!(
        suit_common::report::unverified_report_payload(&again).unwrap(),
        payload
    );
    let r2 = verify_and_open(&again, &key, Some(&tracker(1)))
        .unwrap()
        .report;
    assert_eq!(r2, r);
}

#[test]
fn a_report_of_another_anchors_manifest_is_not_sealed_to_this_anchors_key() {
    // Anchor 2 has no tracker key: its manifest's report is in clear, as before.
    let mut s = device(None);
    install_under(&mut s, b"other", 1, true);
    let key = report_key(&mut s);
    let signed = signed_report(&mut s);
    let payload = suit_common::report::unverified_report_payload(&signed).unwrap();
    assert!(!is_encrypt0(payload));
    let opened = verify_and_open(&signed, &key, Some(&tracker(1))).unwrap();
    assert!(!opened.encrypted);
    assert!(verify_report(&signed, &key).unwrap().is_success());

    // Anchor 2 with a tracker key of its own: sealed to that one, never to anchor 1's.
    let mut s = device(Some(sec1(&tracker(2))));
    install_under(&mut s, b"other", 1, true);
    let key = report_key(&mut s);
    let signed = signed_report(&mut s);
    assert_eq!(
        verify_and_open(&signed, &key, Some(&tracker(1))),
        Err(ReportError::Undecryptable)
    );
    assert!(
        verify_and_open(&signed, &key, Some(&tracker(2)))
            .unwrap()
            .encrypted
    );
}

#[test]
fn the_tracker_key_in_force_when_the_report_is_signed_is_used() {
    let mut s = device(None);
    install_under(&mut s, b"app", 1, false);
    let key = report_key(&mut s);
    // The TPA re-scopes anchor 1 without a tracker key: reports in clear again; with
    // tracker 3's key: sealed to that one.
    let m = provision_message(
        &mut s,
        2,
        vec![Op::Rescope {
            id: 1,
            scope: scope_with(b"app", None),
        }],
    );
    provision(&mut s, &m).unwrap();
    let opened = verify_and_open(&signed_report(&mut s), &key, None).unwrap();
    assert!(!opened.encrypted);
    let m = provision_message(
        &mut s,
        3,
        vec![Op::Rescope {
            id: 1,
            scope: scope_with(b"app", Some(sec1(&tracker(3)))),
        }],
    );
    provision(&mut s, &m).unwrap();
    let signed = signed_report(&mut s);
    assert_eq!(
        verify_and_open(&signed, &key, Some(&tracker(1))),
        Err(ReportError::Undecryptable)
    );
    assert!(verify_and_open(&signed, &key, Some(&tracker(3))).is_ok());
    // Anchor 1 removed and added again under its id (another anchor, another key scope):
    // the report of the old anchor's manifest is not sealed to the new one's key.
    let m = provision_message(
        &mut s,
        4,
        vec![
            Op::RemoveAnchor { id: 1 },
            add(1, AUTHOR_PUB, scope_with(b"app", Some(sec1(&tracker(4))))),
        ],
    );
    provision(&mut s, &m).unwrap();
    let opened = verify_and_open(&signed_report(&mut s), &key, None).unwrap();
    assert!(!opened.encrypted);
}

#[test]
fn a_tracker_key_that_is_not_a_p256_point_is_refused() {
    let mut s = device(None);
    let before = state(&s);
    for bad in [
        vec![4u8; 65],
        sec1(&tracker(1))[..33].to_vec(),
        tracker(1)
            .public_key()
            .to_sec1_point(true)
            .as_bytes()
            .to_vec(),
        vec![],
    ] {
        let m = provision_message(
            &mut s,
            2,
            vec![Op::Rescope {
                id: 1,
                scope: scope_with(b"app", Some(ByteBuf::from(bad))),
            }],
        );
        let refused = provision(&mut s, &m).unwrap_err().1;
        assert!(
            matches!(
                refused.fault,
                Some(suit_common::fault::Fault::Provision(
                    suit_common::service::provision::ProvisionError::Op {
                        reason: suit_common::service::provision::OpError::TrackerKey,
                        ..
                    }
                ))
            ),
            "{refused:?}"
        );
        assert_eq!(state(&s), before);
    }
}

#[test]
fn a_changed_ciphertext_or_header_does_not_open() {
    let report = suit_common::report::Report::decode(
        &suit_common::report::ReportBuilder::failure(
            Some([7; 32]),
            suit_common::report::Failure::new(
                suit_common::report::Reason::Unknown(9),
                700,
                suit_common::fault::Fault::Internal(suit_common::fault::Internal::SignReport),
            ),
        )
        .encode()
        .unwrap(),
    )
    .unwrap()
    .encode()
    .unwrap();
    let tracker1 = tracker(1);
    let sealed = seal(
        report.clone(),
        &tracker1.public_key(),
        &mut FixedRng::new(b"report seal"),
    )
    .unwrap();
    assert_eq!(&open_report(&sealed, &tracker1).unwrap()[..], &report[..]);
    for i in 0..sealed.len() {
        let mut bad = sealed.clone();
        bad[i] ^= 0x01;
        assert!(
            !matches!(open_report(&bad, &tracker1), Ok(p) if p[..] == report[..]),
            "byte {i} changed and it still opened"
        );
    }
    // The literal reading of `SUIT_Report_plaintext = bstr .cbor SUIT_Report` is read too.
    let mut wrapped = suit_common::cbor::Encoder::new();
    wrapped.bytes(&report);
    let sealed = seal(
        wrapped.into_bytes(),
        &tracker1.public_key(),
        &mut FixedRng::new(b"report seal 2"),
    )
    .unwrap();
    assert_eq!(&open_report(&sealed, &tracker1).unwrap()[..], &report[..]);
}

#[test]
fn a_state_record_and_a_message_without_the_tracker_key_still_decode() {
    use suit_common::cbor::Field;
    // A scope as encoded before the field existed (four members).
    let mut e = suit_common::cbor::Encoder::new();
    e.map(4);
    e.text("component_prefixes").array(0);
    e.text("vendor_ids").array(0);
    e.text("class_ids").array(0);
    e.text("ree_plaintext").bool(true);
    let bytes = e.into_bytes();
    let mut d = suit_common::cbor::Decoder::new(&bytes);
    let scope = <Scope as Field>::take(&mut d).unwrap();
    assert_eq!(scope.tracker_key, None);
    assert!(scope.ree_plaintext);
}

/// Anchor 1 removed and added again (same key, another key scope, tracker 4's key) between
/// the prepare of its manifest and the finish: the finish's report is the old anchor's, and
/// is never sealed to the new anchor's tracker (the signers are taken as they authenticated,
/// at prepare, not looked up by id when the report is stored).
#[test]
fn an_anchor_re_added_during_an_install_does_not_get_its_report() {
    let mut s = device(None);
    let key = report_key(&mut s);
    let id: &[&[u8]] = &[b"app", b"fw"];
    let parts = [part(id, b"the image of this test", "#image")];
    let m = manifest(1, &parts);
    let env = envelope(&m, &parts);
    prepare_chunked(&mut s, &env, CHUNK).unwrap();
    let message = provision_message(
        &mut s,
        2,
        vec![
            Op::RemoveAnchor { id: 1 },
            add(1, AUTHOR_PUB, scope_with(b"app", Some(sec1(&tracker(4))))),
        ],
    );
    provision(&mut s, &message).unwrap();
    let _ = finish(&mut s);
    let signed = signed_report(&mut s);
    for t in [tracker(1), tracker(4)] {
        assert!(
            !matches!(verify_and_open(&signed, &key, Some(&t)), Ok(o) if o.encrypted),
            "sealed to a tracker of another anchor than the one that authenticated it"
        );
    }
    assert!(verify_report(&signed, &key).is_ok());
}

/// A tracker key in the state that is not a P-256 point (provisioning refuses one: only a
/// broken state record could hold it) fails the report, never lets it out in clear.
#[test]
fn a_tracker_key_that_does_not_parse_fails_closed() {
    let mut s = device(None);
    install_under(&mut s, b"app", 1, false);
    let key = report_key(&mut s);
    assert!(verify_and_open(&signed_report(&mut s), &key, Some(&tracker(1))).is_ok());
    let mut st = state(&s);
    st.anchors
        .iter_mut()
        .find(|a| a.id == 1)
        .unwrap()
        .scope
        .tracker_key = Some(ByteBuf::from(vec![4u8; 65]));
    st.save(s.backend_mut().store_mut()).unwrap();
    let r: Result<ReportResponse, _> = call(
        &mut s,
        Command::Report,
        &ReportRequest {
            nonce: Some(ByteBuf::from(b"tracker nonce".to_vec())),
            pre_auth: false,
        },
    );
    let refused = r.unwrap_err().1;
    assert!(
        matches!(
            refused.fault,
            Some(suit_common::fault::Fault::Internal(
                suit_common::fault::Internal::SignReport
            ))
        ),
        "{refused:?}"
    );
}

/// A manifest of anchor 1's components, co-signed by anchor 2 (whose scope covers none of
/// it, and whose tracker key is set), in both orders of the signatures (an order no
/// signature covers: the REE may change it): the report is sealed to anchor 1's tracker.
#[test]
fn a_co_signer_that_covers_none_of_the_manifest_does_not_get_its_report() {
    for order in [[AUTHOR_PRIV, OPERATOR_PRIV], [OPERATOR_PRIV, AUTHOR_PRIV]] {
        let mut s = device(Some(sec1(&tracker(2))));
        let key = report_key(&mut s);
        install_co_signed(&mut s, &order);
        let signed = signed_report(&mut s);
        assert_eq!(
            verify_and_open(&signed, &key, Some(&tracker(2))),
            Err(ReportError::Undecryptable),
            "signed by {order:?}"
        );
        let opened = verify_and_open(&signed, &key, Some(&tracker(1))).unwrap();
        assert!(opened.encrypted && opened.report.is_success());
    }
}

/// Two anchors that each cover the whole manifest, both with tracker keys: the recipient is
/// the first of them in the device's state, whatever order the envelope lists them in.
#[test]
fn of_two_owners_the_first_in_the_state_gets_the_report_in_either_signature_order() {
    for order in [[AUTHOR_PRIV, OPERATOR_PRIV], [OPERATOR_PRIV, AUTHOR_PRIV]] {
        let mut s = device(Some(sec1(&tracker(2))));
        let m = provision_message(
            &mut s,
            2,
            vec![Op::Rescope {
                id: 2,
                scope: scope_with(b"app", Some(sec1(&tracker(2)))),
            }],
        );
        provision(&mut s, &m).unwrap();
        let key = report_key(&mut s);
        install_co_signed(&mut s, &order);
        let signed = signed_report(&mut s);
        assert_eq!(
            verify_and_open(&signed, &key, Some(&tracker(2))),
            Err(ReportError::Undecryptable),
            "signed by {order:?}"
        );
        assert!(verify_and_open(&signed, &key, Some(&tracker(1))).is_ok());
    }
}

/// The signed payload is exactly the report draft's `SUIT_Report_COSE_Encrypt0` as COSE-HPKE
/// integrated encryption writes it: an untagged COSE_Encrypt0 `[h'A1011823' ({1: 35},
/// HPKE-0), {-4: ek (an uncompressed P-256 point)}, ciphertext]`, nothing else in either
/// header (no kid), the ciphertext the encoded SUIT_Report (a map, not a bstr around it) and
/// the 16-byte AES-GCM tag.
#[test]
fn the_sealed_report_is_an_untagged_hpke0_encrypt0_of_the_report() {
    let mut s = device(None);
    install_under(&mut s, b"app", 1, false);
    let signed = signed_report(&mut s);
    let payload = suit_common::report::unverified_report_payload(&signed).unwrap();
    let mut d = suit_common::cbor::Decoder::new(payload);
    assert_eq!(d.array().unwrap(), 3);
    assert_eq!(d.bytes().unwrap(), &[0xa1, 0x01, 0x18, 0x23]);
    assert_eq!(d.map().unwrap(), 1);
    assert_eq!(d.int().unwrap(), -4);
    let ek = d.bytes().unwrap();
    assert_eq!(ek.len(), 65);
    assert!(p256::PublicKey::from_sec1_bytes(ek).is_ok());
    let ct = d.bytes().unwrap().to_vec();
    d.finish().unwrap();
    let plaintext = open_report(payload, &tracker(1)).unwrap();
    assert_eq!(ct.len(), plaintext.len() + 16);
    assert_eq!(
        plaintext[0] >> 5,
        5,
        "the plaintext is the SUIT_Report map itself"
    );
    assert!(suit_common::report::Report::decode(&plaintext).is_ok());
}

/// A report near the largest the device signs (`MAX_REPORT_LEN`) sealed to a tracker: the
/// COSE_Encrypt0 is larger than the report by its headers and tag, and is still read as
/// one (opened, not refused as a report too large).
#[test]
fn a_sealed_report_near_the_size_bound_opens() {
    use suit_common::report::{Report, MAX_REPORT_LEN};
    let report = suit_common::report::ReportBuilder::failure(
        Some([7; 32]),
        suit_common::report::Failure::new(
            suit_common::report::Reason::Unknown(9),
            700,
            suit_common::fault::Fault::Internal(suit_common::fault::Internal::SignReport),
        ),
    )
    .encode()
    .unwrap();
    // The same report with an extension member this reader skips, padded so that the
    // signed report (nonce and device state added) is a few bytes short of the bound.
    let mut d = suit_common::cbor::Decoder::new(&report);
    let n = d.map().unwrap();
    let members = &report[d.position()..];
    let stored = |pad: usize| {
        let mut e = suit_common::cbor::Encoder::new();
        e.map(n + 1);
        e.raw(members);
        e.int(-70050).bytes(&vec![0x5a; pad]);
        e.into_bytes()
    };
    let device = tracker(9);
    let sign = |stored: &[u8]| {
        Report::sign_stored(
            stored,
            None,
            &suit_common::report::DeviceState::default(),
            &device,
            |_| Ok(Some(tracker(1).public_key())),
            &mut FixedRng::new(b"near the bound"),
        )
    };
    let probe = stored(MAX_REPORT_LEN / 2);
    let unsealed = Report::sign_stored(
        &probe,
        None,
        &suit_common::report::DeviceState::default(),
        &device,
        |_| Ok(None),
        &mut FixedRng::new(b"probe"),
    )
    .unwrap();
    let plain_len = suit_common::report::unverified_report_payload(&unsealed)
        .unwrap()
        .len();
    let pad = MAX_REPORT_LEN / 2 + (MAX_REPORT_LEN - plain_len) - 8;
    let signed = sign(&stored(pad)).unwrap();
    let payload = suit_common::report::unverified_report_payload(&signed).unwrap();
    assert!(payload.len() > MAX_REPORT_LEN, "{}", payload.len());
    let key = VerificationKey::p256_from_sec1(device.public_key().to_sec1_point(false).as_bytes())
        .unwrap();
    assert_eq!(verify_report(&signed, &key), Err(ReportError::Encrypted));
    let opened = verify_and_open(&signed, &key, Some(&tracker(1))).unwrap();
    assert!(opened.encrypted);
    assert_eq!(opened.report.sequence_number, None);
}
