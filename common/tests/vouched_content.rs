//! Device policy (NOTES "plaintext `[uuid, 'perso']` fetched without image-match"): content
//! committed to a component inside the TEE (a TA, its personalization data, a secure
//! component) is vouched for by the signed manifest, never by the REE's word alone. A fetch
//! or an integrated payload no image digest names is refused there (`UnvouchedContent`) and
//! changes nothing; the manifest's own content, AEAD-decrypted content, content decrypted
//! from verified ciphertext and copies of vouched content install; normal-world files keep
//! the drafts' semantics. Through the service on the in-memory backend, streamed and not.

use std::sync::Arc;

use ciborium::Value;
use sha2::{Digest as _, Sha256};

use suit_common::cose::VerificationKey;
use suit_common::fault::Fault;
use suit_common::protocol::{
    ByteBuf, Command, DeviceKeyResponse, Empty, ReportRequest, ReportResponse, StatusResponse,
};
use suit_common::registry::Reason;
use suit_common::report::{code, verify_report, ReportResult};
use suit_common::service::install::InstallError;
use suit_common::service::Service;
use suit_common::suit::error::Error;
use suit_common::suit::ComponentId;
use suit_test_support::service::*;
use suit_test_support::{
    check_vendor_class, fetch_and_decrypt, fetch_manifest, map, suit_manifest, text, CLASS_ID,
    VENDOR_ID,
};

const URI: &str = "https://vendor.example/perso.bin";
const PERSO: [&[u8]; 2] = [&TA, b"perso"];
const SECURE: [&[u8]; 2] = [b"app", b"blob"];
const REE: [&[u8]; 2] = [b"ree", b"file.bin"];
const DATA: &[u8] = b"PIN=1234; the REE must not choose this";

fn id(c: &[&[u8]]) -> ComponentId {
    ComponentId::new(c)
}

fn component(c: &[&[u8]]) -> Value {
    Value::Array(c.iter().map(|s| bytes(s)).collect())
}

/// The SUIT_Digest of `data` as suit-parameter-image-digest holds it.
fn digest_of(data: &[u8]) -> Value {
    bytes(&cbor(&Value::Array(vec![
        int(-16),
        bytes(&Sha256::digest(data)),
    ])))
}

/// Shared sequence: component 0, vendor and class checked, plus `more` parameters.
fn shared(more: Vec<(i64, Value)>) -> Value {
    Value::Array(check_vendor_class(
        vec![int(12), int(0)],
        bytes(&VENDOR_ID),
        bytes(&CLASS_ID),
        more,
        15,
    ))
}

/// A signed envelope fetching `image` from `uri` into `target` (component 0), with its
/// digest and an image-match or with neither; a `#` URI integrates `image`.
fn fetch_into(seq: u64, target: &[&[u8]], image: &[u8], uri: &str, image_match: bool) -> Vec<u8> {
    let ids = (VENDOR_ID.as_slice(), CLASS_ID.as_slice());
    let m = fetch_manifest(seq, target, image, uri, ids, image_match);
    envelope(&m, &[part(target, image, uri)])
}

/// A device whose author may install under the TA, `app` and `ree`.
fn dev() -> Service<Mem> {
    provisioned(&[&TA, b"app", b"ree"])
}

fn signed_report(s: &mut Service<Mem>) -> suit_common::report::Report {
    let keys: DeviceKeyResponse = call(s, Command::DeviceKey, &Empty {}).unwrap();
    let key = VerificationKey::p256_from_sec1(&keys.report_key).unwrap();
    let request = ReportRequest {
        nonce: Some(ByteBuf::from(b"nonce".to_vec())),
        pre_auth: false,
    };
    let r: ReportResponse = call(s, Command::Report, &request).unwrap();
    verify_report(&r.report, &key).unwrap()
}

fn status(s: &mut Service<Mem>) -> StatusResponse {
    call(s, Command::Status, &Empty {}).unwrap()
}

/// Installs `envelope` (payload `data` for `uri`, if asked) and expects the policy's refusal
/// naming `refused`, with nothing stored, the state and status unchanged.
fn refused_unchanged(s: &mut Service<Mem>, envelope: &[u8], data: &[u8], refused: &[&[u8]]) {
    let (before, state_before, status_before) = (objects(s), state(s), status(s));
    let r = refusal(install_with(s, envelope, &[(URI, data)]));
    assert_eq!(
        r.fault,
        Some(Fault::Install(InstallError::Refused(Arc::new(
            Error::UnvouchedContent(id(refused))
        )))),
        "{}",
        r.reason
    );
    assert!(r.reason.contains("inside the TEE"), "{}", r.reason);
    assert_eq!(objects(s), before);
    assert_eq!(state(s), state_before);
    assert_eq!(status(s), status_before);
}

#[test]
fn perso_fetched_in_clear_without_image_match_is_refused_and_changes_nothing() {
    let mut s = dev();
    let env = fetch_into(1, &PERSO, DATA, URI, false);
    refused_unchanged(&mut s, &env, DATA, &PERSO);
    assert_eq!(personalization(&mut s), None);
    // The signed report says why: the manifest was authentic, its content not vouched for.
    let report = signed_report(&mut s);
    let ReportResult::Failure(f) = report.result else {
        panic!("{:?}", report.result)
    };
    assert_eq!(
        (f.code, f.reason),
        (code::UNVOUCHED_CONTENT, Reason::OperationFailed)
    );
    assert_eq!(report.authenticated, Some(true));
    // The same fetch with the image digest and image-match installs it.
    let env = fetch_into(1, &PERSO, DATA, URI, true);
    install_with(&mut s, &env, &[(URI, DATA)]).unwrap();
    assert_eq!(personalization(&mut s).as_deref(), Some(DATA));
}

#[test]
fn perso_replaced_without_image_match_keeps_the_installed_data() {
    let mut s = dev();
    install_with(
        &mut s,
        &fetch_into(1, &PERSO, DATA, URI, true),
        &[(URI, DATA)],
    )
    .unwrap();
    let chosen = b"PIN=0000".as_slice();
    refused_unchanged(
        &mut s,
        &fetch_into(2, &PERSO, chosen, URI, false),
        chosen,
        &PERSO,
    );
    assert_eq!(personalization(&mut s).as_deref(), Some(DATA));
}

#[test]
fn a_secure_component_from_an_integrated_payload_without_digest_is_refused() {
    let mut s = dev();
    // No signature covers an integrated payload: the envelope's bytes are the REE's word.
    let env = fetch_into(1, &SECURE, DATA, "#blob", false);
    refused_unchanged(&mut s, &env, DATA, &SECURE);
    let env = fetch_into(1, &SECURE, DATA, "#blob", true);
    install_with(&mut s, &env, &[]).unwrap();
    assert!(state(&s).component(&id(&SECURE)).is_some());
}

#[test]
fn a_ta_image_fetched_without_digest_is_refused() {
    let mut s = dev();
    let image = ta_image(TA, 2);
    let env = fetch_into(1, &[&TA], &image, URI, false);
    refused_unchanged(&mut s, &env, &image, &[&TA]);
    assert!(s.backend().installed_tas.is_empty());
}

#[test]
fn a_write_of_the_manifests_own_content_installs() {
    let mut s = dev();
    let install = Value::Array(vec![
        int(12),
        int(0),
        int(20),
        map(vec![(18, bytes(DATA))]),
        int(18),
        int(15),
    ]);
    let m = suit_manifest(1, vec![component(&PERSO)], &shared(vec![]), &install);
    install_with(&mut s, &envelope(&m, &[]), &[]).unwrap();
    assert_eq!(personalization(&mut s).as_deref(), Some(DATA));
}

#[test]
fn a_normal_world_file_fetched_without_digest_still_installs() {
    let mut s = dev();
    install_with(
        &mut s,
        &fetch_into(1, &REE, DATA, URI, false),
        &[(URI, DATA)],
    )
    .unwrap();
    assert!(state(&s).component(&id(&REE)).is_some());
}

/// Decrypted copies need no plaintext image-match: an AES-GCM tag vouches for the plaintext,
/// and AES-CTR plaintext is vouched for by its ciphertext's digest (checked before it is
/// decrypted). The ciphertext buffer itself, fetched without digest, is dropped at commit.
/// A secure component is streamed as it arrives (personalization data never is), and the
/// ordinary path decides alike.
#[test]
fn decrypted_copies_without_image_match_install() {
    for target in [PERSO, SECURE] {
        for cipher in [Cipher::Gcm, Cipher::Ctr] {
            for streaming in [true, false] {
                let what = format!("{target:?}, {cipher:?}, streamed {streaming}");
                let mut s = dev();
                s.store_payloads_as_received(!streaming);
                // Large enough to tell the paths apart by what they write.
                let data: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
                let (info, ciphertext) = encrypt(&mut s, cipher, &data);
                let mut sh = match shared(vec![]) {
                    Value::Array(v) => v,
                    _ => unreachable!(),
                };
                if cipher == Cipher::Ctr {
                    sh.extend([
                        int(12),
                        int(1),
                        int(20),
                        map(vec![(3, digest_of(&ciphertext))]),
                    ]);
                }
                let mut buffer = target.to_vec();
                buffer.push(b"encrypted");
                let m = suit_manifest(
                    1,
                    vec![component(&target), component(&buffer)],
                    &Value::Array(sh),
                    &Value::Array(fetch_and_decrypt(URI, &info, 15)),
                );
                let before = s.backend().store().bytes_written;
                let answer = install_with(&mut s, &envelope(&m, &[]), &[(URI, &ciphertext)]);
                assert!(answer.is_ok(), "{what}: {answer:?}");
                let installed = state(&s).component(&id(&target)).cloned().unwrap();
                assert_eq!(installed.digest.to_vec(), Sha256::digest(&data).to_vec());
                assert!(state(&s).component(&id(&buffer)).is_none(), "{what}");
                // Streamed: the plaintext written once; ordinary: the ciphertext, then the
                // plaintext.
                let written = s.backend().store().bytes_written - before;
                let streamed = streaming && target == SECURE;
                assert_eq!(written < 60_000, streamed, "{what}: wrote {written}");
            }
        }
    }
}

/// A copy is as vouched for as its source: a normal-world file fetched without digest does
/// not become personalization data by being copied, an installed secure component does.
#[test]
fn a_copy_is_vouched_for_only_if_its_source_is() {
    let copy = |seq: u64, source: &[&[u8]]| {
        let install = Value::Array(vec![
            int(12),
            int(0),
            int(20),
            map(vec![(22, int(1))]),
            int(22),
            int(15),
        ]);
        let m = suit_manifest(
            seq as i64,
            vec![component(&PERSO), component(source)],
            &shared(vec![]),
            &install,
        );
        envelope(&m, &[])
    };
    let mut s = dev();
    // Staged in the same run.
    let mut install = vec![
        int(12),
        int(1),
        int(20),
        map(vec![(21, text(URI))]),
        int(21),
        int(15),
    ];
    install.extend([
        int(12),
        int(0),
        int(20),
        map(vec![(22, int(1))]),
        int(22),
        int(15),
    ]);
    let m = suit_manifest(
        1,
        vec![component(&PERSO), component(&REE)],
        &shared(vec![]),
        &Value::Array(install),
    );
    refused_unchanged(&mut s, &envelope(&m, &[]), DATA, &PERSO);
    // Installed: a normal-world file is the REE's data; a secure component was committed
    // under this policy.
    install_with(
        &mut s,
        &fetch_into(1, &REE, DATA, URI, false),
        &[(URI, DATA)],
    )
    .unwrap();
    refused_unchanged(&mut s, &copy(2, &REE), DATA, &PERSO);
    install_with(&mut s, &fetch_into(3, &SECURE, DATA, "#blob", true), &[]).unwrap();
    install_with(&mut s, &copy(4, &SECURE), &[]).unwrap();
    assert_eq!(personalization(&mut s).as_deref(), Some(DATA));
}

/// The engine decides, on any platform that asks for the policy: the in-memory device with
/// the knob set refuses an integrated payload no digest names (inside a try-each too), and
/// commits nothing; with it unset (the drafts' semantics) the same envelope installs. A write
/// of the manifest's content installs either way.
#[test]
fn the_engine_applies_the_policy_where_the_platform_asks() {
    use suit_common::cose::Algorithm;
    use suit_common::suit::Procedure;
    use suit_test_support::{seal_one, spec_id_checks, spec_process, RecordingPlatform};

    let fetch = vec![
        int(12),
        int(0),
        int(20),
        map(vec![(21, text("#a"))]),
        int(21),
        int(15),
    ];
    let in_try_each = vec![
        int(15),
        Value::Array(vec![bytes(&cbor(&Value::Array(fetch.clone())))]),
    ];
    let write = vec![
        int(12),
        int(0),
        int(20),
        map(vec![(18, bytes(DATA))]),
        int(18),
        int(15),
    ];
    for (install, refused) in [(fetch, true), (in_try_each, true), (write, false)] {
        for require in [true, false] {
            let m = suit_manifest(
                1,
                vec![component(&[b"a"])],
                &Value::Array(spec_id_checks()),
                &Value::Array(install.clone()),
            );
            let key = crate::engine_gaps::author_key();
            let env = seal_one(&m, &key, Algorithm::Esp256, &[], &[("#a", DATA)]);
            let mut dev = RecordingPlatform::spec_device();
            dev.require_vouched = require;
            let r = spec_process(&env, Procedure::Update, &mut dev);
            if refused && require {
                assert_eq!(r.unwrap_err(), Error::UnvouchedContent(id(&[b"a"])));
                assert_eq!((dev.commits, dev.installed.len()), (0, 0));
            } else {
                r.unwrap();
                assert_eq!(
                    dev.installed.get(&id(&[b"a"])).map(Vec::as_slice),
                    Some(DATA)
                );
            }
        }
    }
}
