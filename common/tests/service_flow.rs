//! The TA's service end to end over the wire protocol, on an in-memory backend: device keys,
//! TPA provisioning, streamed installs, policy, rollback and storage faults. The same
//! `Service` runs inside OP-TEE; these tests pin its decisions host-natively.

use sha2::{Digest as _, Sha256};
use suit_common::protocol::ByteBuf;
use suit_test_support::service::Refused;

use suit_common::cose::Algorithm;
use suit_common::protocol::{self, *};
use suit_common::service::provision::{author::seal, Op, ProvisioningBody};
use suit_common::service::state::{AnchorRecord, Identity, RoleRecord, RuleRecord, Scope};
use suit_common::service::{Client, Service};

use suit_test_support::says;
use suit_test_support::service::{
    call, cose_key, finish, install_chunked as install, is_idle, is_latest_report, refusal,
    service, Answer, Mem, TA,
};
use suit_test_support::{
    content_into_component_zero, dependency_as_target, p256_private_from_pem, release_of, CLASS_ID,
    VENDOR_ID,
};
use suit_test_support::{AUTHOR_PRIV, AUTHOR_PUB, OPERATOR_PRIV, OPERATOR_PUB, TPA_PRIV};

fn device() -> Service<Mem> {
    service(suit_test_support::service::backend(0))
}

// ---------------------------------------------------------------------------------------
// The backend: `MemoryBackend` (memory store, deterministic RNG, recording TA store).

// ---------------------------------------------------------------------------------------
// Wire helpers.

/// The id provisioning messages bind to: the device identity key's.
fn device_kid(s: &mut Service<Mem>) -> Vec<u8> {
    let k: DeviceKeyResponse = call(s, Command::DeviceKey, &Empty {}).unwrap();
    k.identity_kid.into_vec()
}

fn provision(
    s: &mut Service<Mem>,
    signer: &str,
    counter: u64,
    device: Option<Vec<u8>>,
    ops: Vec<Op>,
) -> Result<ProvisionResponse, (Status, Refused)> {
    // `None`: bound to this device.
    let device = device.unwrap_or_else(|| device_kid(s));
    let body = ProvisioningBody {
        counter,
        device: ByteBuf::from(device),
        ops,
    };
    let key = p256_private_from_pem(signer);
    let message = seal(&body, &key, Algorithm::Esp256, b"").unwrap();
    call(
        s,
        Command::Provision,
        &ProvisionRequest {
            message: ByteBuf::from(message),
        },
    )
}

fn app_anchor(id: u32, rel_pub: &str, role: RoleRecord, prefix: &[u8]) -> Op {
    Op::AddAnchor(AnchorRecord {
        id,
        cose_key: cose_key(rel_pub),
        role,
        scope: Scope {
            component_prefixes: vec![vec![ByteBuf::from(prefix.to_vec())]],
            vendor_ids: vec![],
            class_ids: vec![],
            ree_plaintext: false,
            tracker_key: None,
        },
        key_scope: 0,
    })
}

fn identity(vendor: [u8; 16]) -> Op {
    Op::SetIdentity(Identity {
        vendor_id: Some(ByteBuf::from(vendor.to_vec())),
        class_id: Some(ByteBuf::from(CLASS_ID.to_vec())),
        device_id: None,
    })
}

/// A device with an author anchor for components under ['app'] and its identity set.
fn provisioned() -> Service<Mem> {
    let mut s = device();
    let kid = device_kid(&mut s);
    provision(
        &mut s,
        TPA_PRIV,
        1,
        Some(kid),
        vec![
            app_anchor(1, AUTHOR_PUB, RoleRecord::Author, b"app"),
            identity(VENDOR_ID),
        ],
    )
    .unwrap();
    s
}

// ---------------------------------------------------------------------------------------
// Manifests.

/// Manifest installing `payload` into component [component] from `uri` with image-match.
fn manifest(seq: u64, component: &[&[u8]], payload: &[u8], uri: &str, vendor: [u8; 16]) -> Vec<u8> {
    suit_test_support::fetch_install_manifest(seq, component, payload, uri, &vendor)
}

fn sign(manifest: &[u8], signers: &[&str], integrated: &[(&str, &[u8])]) -> Vec<u8> {
    suit_test_support::seal_esp256(manifest, signers, integrated)
}

fn anchors(s: &mut Service<Mem>) -> AnchorsResponse {
    call(s, Command::Anchors, &Empty {}).unwrap()
}

/// Every stored object except the latest reports (which record every attempt) and an empty
/// journal, to prove a refused operation changed nothing.
fn snapshot(s: &Service<Mem>) -> Vec<(String, Vec<u8>)> {
    let st = s.backend().store();
    st.names()
        .into_iter()
        .filter(|n| !is_latest_report(n) && !is_idle(st, n))
        .map(|n| (n.clone(), st.raw(&n).unwrap().to_vec()))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Device keys and status.

#[test]
fn device_key_is_created_once_and_status_reports_it() {
    let mut s = device();
    let st: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
    assert_eq!(
        st.service.device_key_kid, None,
        "status alone creates no key"
    );
    assert!(st.service.tpa_root_is_test_key);
    // The TA sends facts, the host words them.
    assert!(st.platform.warnings.is_empty() && st.platform.prerequisites.is_empty());
    assert!(st
        .clone()
        .assess()
        .platform
        .warnings
        .iter()
        .any(|w| w.contains("public test key")));
    let a: DeviceKeyResponse = call(&mut s, Command::DeviceKey, &Empty {}).unwrap();
    let b: DeviceKeyResponse = call(&mut s, Command::DeviceKey, &Empty {}).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.identity_key.len(), 65);
    assert_ne!(a.identity_key, a.report_key);
    assert_ne!(a.identity_key, a.provisioning_key);
    assert_ne!(a.report_key, a.provisioning_key);
    let st: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
    assert_eq!(st.service.device_key_kid, Some(a.identity_kid));
}

#[test]
fn stored_objects_hold_no_private_key_bytes_in_responses() {
    let mut s = device();
    let k: DeviceKeyResponse = call(&mut s, Command::DeviceKey, &Empty {}).unwrap();
    let raw = s
        .backend()
        .store()
        .raw(suit_common::service::keys::KEYS_OBJECT)
        .unwrap()
        .to_vec();
    // The stored object holds two 32-byte scalars; neither may appear in any response.
    let st: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
    let responses = [
        protocol::encode(&k).unwrap(),
        protocol::encode(&st).unwrap(),
        protocol::encode(&anchors(&mut s)).unwrap(),
    ];
    for window in raw.windows(32).filter(|w| w.iter().any(|b| *b != 0)) {
        for r in &responses {
            assert!(
                !r.windows(32).any(|x| x == window),
                "a response contains stored key bytes"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------
// Provisioning.

#[test]
fn tpa_adds_rescopes_and_removes_anchors() {
    let mut s = provisioned();
    let a = anchors(&mut s);
    assert_eq!(a.provisioning_counter, 1);
    assert_eq!(a.anchors.len(), 1);
    assert_eq!(
        (
            a.anchors[0].id,
            a.anchors[0].role.name(),
            a.anchors[0].key_type.to_string().as_str()
        ),
        (1, "author", "P-256")
    );
    assert_eq!(crate::texts(&a.anchors[0].component_prefixes), ["['app']"]);
    assert_eq!(
        a.identity.vendor_id.as_deref().map(|v| v.as_slice()),
        Some(&VENDOR_ID[..])
    );

    provision(
        &mut s,
        TPA_PRIV,
        2,
        None,
        vec![Op::Rescope {
            id: 1,
            scope: Scope {
                component_prefixes: vec![vec![ByteBuf::from(b"other".to_vec())]],
                vendor_ids: vec![],
                class_ids: vec![],
                ree_plaintext: false,
                tracker_key: None,
            },
        }],
    )
    .unwrap();
    assert_eq!(
        crate::texts(&anchors(&mut s).anchors[0].component_prefixes),
        ["['other']"]
    );
    let r = provision(&mut s, TPA_PRIV, 3, None, vec![Op::RemoveAnchor { id: 1 }]).unwrap();
    assert_eq!(r.applied, [Applied::RemovedAnchor { id: 1 }]);
    assert_eq!(r.applied[0].to_string(), "removed anchor 1");
    assert!(anchors(&mut s).anchors.is_empty());
}

#[test]
fn bad_provisioning_is_refused_and_changes_nothing() {
    let mut s = provisioned();
    let kid = device_kid(&mut s);
    let before = snapshot(&s);
    let cases: Vec<(Answer<ProvisionResponse>, &str)> = vec![
        (
            provision(&mut s, AUTHOR_PRIV, 5, None, vec![identity([0; 16])]),
            "not signed by the TPA root",
        ),
        (
            provision(&mut s, TPA_PRIV, 1, None, vec![identity([0; 16])]),
            "counter 1 is not greater than the applied counter 1",
        ),
        (
            provision(&mut s, TPA_PRIV, 0, None, vec![identity([0; 16])]),
            "replayed or older",
        ),
        (
            provision(
                &mut s,
                TPA_PRIV,
                5,
                Some(vec![0xaa; 16]),
                vec![identity([0; 16])],
            ),
            "bound to another device",
        ),
        (
            provision(
                &mut s,
                TPA_PRIV,
                2,
                Some(kid.clone()),
                vec![identity([0; 16]), Op::RemoveAnchor { id: 9 }],
            ),
            "operation 1: no anchor 9",
        ),
        (
            provision(
                &mut s,
                TPA_PRIV,
                2,
                None,
                vec![app_anchor(1, AUTHOR_PUB, RoleRecord::Author, b"x")],
            ),
            "anchor 1 already exists",
        ),
        (
            provision(
                &mut s,
                TPA_PRIV,
                2,
                None,
                vec![app_anchor(0, AUTHOR_PUB, RoleRecord::Author, b"x")],
            ),
            "reserved for the TPA root",
        ),
        (
            provision(
                &mut s,
                TPA_PRIV,
                2,
                None,
                vec![Op::SetRules(vec![RuleRecord {
                    prefix: vec![],
                    required_roles: vec![],
                    required_anchors: vec![7],
                }])],
            ),
            "unknown anchor 7",
        ),
    ];
    for (result, expected) in cases {
        let r = refusal(result);
        assert_eq!(r.kind, RefusalKind::Provisioning);
        assert!(
            r.reason.contains(expected),
            "{:?} does not mention {expected:?}",
            r.reason
        );
    }
    // A tampered message (body changed after signing) and garbage are refused too.
    let body = ProvisioningBody {
        counter: 2,
        device: ByteBuf::from(kid.clone()),
        ops: vec![identity([0; 16])],
    };
    let mut msg = seal(
        &body,
        &p256_private_from_pem(TPA_PRIV),
        Algorithm::Esp256,
        b"",
    )
    .unwrap();
    let pos = msg.len() / 3;
    msg[pos] ^= 1;
    let r = refusal(call::<_, ProvisionResponse>(
        &mut s,
        Command::Provision,
        &ProvisionRequest {
            message: ByteBuf::from(msg),
        },
    ));
    assert_eq!(r.kind, RefusalKind::Provisioning);
    let r = refusal(call::<_, ProvisionResponse>(
        &mut s,
        Command::Provision,
        &ProvisionRequest {
            message: ByteBuf::from(vec![0x82, 0x40]),
        },
    ));
    says(&r.reason, "malformed");
    assert_eq!(
        snapshot(&s),
        before,
        "a refused provisioning message changed stored state"
    );
}

// ---------------------------------------------------------------------------------------
// Installing.

#[test]
fn install_streams_payload_commits_and_blocks_rollback() {
    let mut s = provisioned();
    let v1 = vec![0x5au8; 700_000];
    let env = sign(
        &manifest(1, &[b"app"], &v1, "https://example.com/app.bin", VENDOR_ID),
        &[AUTHOR_PRIV],
        &[],
    );
    // Release 1, its payload sent in 100 000-byte chunks.
    let install_v1 =
        |s: &mut Service<Mem>| install(s, &env, &[("https://example.com/app.bin", &v1)], 100_000);
    let done = install_v1(&mut s).unwrap();
    assert_eq!(done.sequence_number, 1);
    assert_eq!(done.signers, vec![1]);
    assert_eq!(crate::texts(&done.components), ["['app']"]);
    let st: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
    assert_eq!(st.service.installed_components, 1);
    // A payload fetched without change is the component's content (no copy); any other
    // staged payload object is cleaned up.
    let state = suit_common::service::state::State::load(s.backend().store()).unwrap();
    let orphans: Vec<String> = s
        .backend()
        .store()
        .names()
        .into_iter()
        .filter(|n| suit_common::service::install::is_install_object(n))
        .filter(|n| !state.components.iter().any(|c| &c.object == n))
        .filter(|n| !is_idle(s.backend().store(), n))
        .collect();
    assert!(
        orphans.is_empty(),
        "staged objects left behind: {orphans:?}"
    );

    // Same sequence number again: rollback, refused before any payload is taken.
    let r = refusal(install_v1(&mut s));
    assert_eq!(r.kind, RefusalKind::Manifest);
    assert!(
        r.reason.to_lowercase().contains("rollback") || r.reason.contains("sequence"),
        "{}",
        r.reason
    );

    // A newer one replaces the component; the old object is deleted.
    let v2 = b"version two".to_vec();
    let env2 = sign(
        &manifest(2, &[b"app"], &v2, "#app", VENDOR_ID),
        &[AUTHOR_PRIV],
        &[("#app", &v2)],
    );
    let held = |s: &Service<Mem>| {
        let st = s.backend().store();
        st.names().into_iter().filter(|n| !is_idle(st, n)).count()
    };
    let objects_before = held(&s);
    install(&mut s, &env2, &[], 4096).unwrap();
    assert_eq!(
        held(&s),
        objects_before,
        "replaced component's content kept"
    );
    let r = refusal(install_v1(&mut s));
    assert!(
        r.reason.contains('1') && r.reason.contains('2'),
        "rollback error names both numbers: {}",
        r.reason
    );
}

#[test]
fn wrong_device_wrong_signer_and_out_of_scope_change_nothing() {
    let mut s = provisioned();
    let payload = b"firmware".to_vec();
    let before = snapshot(&s);
    // Another vendor's manifest: authentic, but the vendor condition fails.
    let other_vendor = sign(
        &manifest(1, &[b"app"], &payload, "#p", [0x11; 16]),
        &[AUTHOR_PRIV],
        &[("#p", &payload)],
    );
    let r = refusal(install(&mut s, &other_vendor, &[], 4096));
    assert!(
        r.reason.contains("vendor") || r.reason.contains("Vendor"),
        "{}",
        r.reason
    );
    // Signed by a key the device does not trust.
    let stranger = sign(
        &manifest(1, &[b"app"], &payload, "#p", VENDOR_ID),
        &[OPERATOR_PRIV],
        &[("#p", &payload)],
    );
    let r = refusal(install(&mut s, &stranger, &[], 4096));
    assert_eq!(r.kind, RefusalKind::Manifest);
    // Trusted author, but component outside its scope.
    let out_of_scope = sign(
        &manifest(1, &[b"boot"], &payload, "#p", VENDOR_ID),
        &[AUTHOR_PRIV],
        &[("#p", &payload)],
    );
    let r = refusal(install(&mut s, &out_of_scope, &[], 4096));
    assert!(r.reason.to_lowercase().contains("permit"), "{}", r.reason);
    // Payload that does not match the digest.
    let tampered = sign(
        &manifest(1, &[b"app"], &payload, "#p", VENDOR_ID),
        &[AUTHOR_PRIV],
        &[("#p", b"firmwarX")],
    );
    refusal(install(&mut s, &tampered, &[], 4096));
    assert_eq!(
        snapshot(&s),
        before,
        "a refused install changed stored state"
    );
}

/// The provisioned device plus an operator anchor for `['app']`, whose content then needs
/// both an author's and an operator's signature.
fn two_signer_device() -> Service<Mem> {
    let mut s = provisioned();
    provision(
        &mut s,
        TPA_PRIV,
        2,
        None,
        vec![
            app_anchor(2, OPERATOR_PUB, RoleRecord::Operator, b"app"),
            Op::SetRules(vec![RuleRecord {
                prefix: vec![ByteBuf::from(b"app".to_vec())],
                required_roles: vec![RoleRecord::Author, RoleRecord::Operator],
                required_anchors: vec![],
            }]),
        ],
    )
    .unwrap();
    s
}

#[test]
fn required_signer_policy_needs_author_and_operator() {
    let mut s = two_signer_device();
    let payload = b"needs two signatures".to_vec();
    let m = manifest(1, &[b"app"], &payload, "#p", VENDOR_ID);
    let r = refusal(install(
        &mut s,
        &sign(&m, &[AUTHOR_PRIV], &[("#p", &payload)]),
        &[],
        4096,
    ));
    assert!(r.reason.to_lowercase().contains("required"), "{}", r.reason);
    let done = install(
        &mut s,
        &sign(&m, &[AUTHOR_PRIV, OPERATOR_PRIV], &[("#p", &payload)]),
        &[],
        4096,
    )
    .unwrap();
    assert_eq!(done.signers.len(), 2);
}

#[test]
fn content_never_goes_into_a_component_declared_a_dependency() {
    // Author and operator must both sign for ['app']; the author alone declares ['app'] a
    // dependency and writes (copies, swaps) into it: the rule and the rollback check applied to
    // components only, so this replaced ['app'] with one signature.
    let mut s = two_signer_device();
    let before = snapshot(&s);
    for (n, how) in ["write", "copy", "swap"].into_iter().enumerate() {
        let install_seq = content_into_component_zero(how, b"one signature", 0);
        let m = dependency_as_target(
            1 + n as i64,
            &VENDOR_ID,
            &CLASS_ID,
            &[&[b"app"]],
            install_seq,
        );
        let r = refusal(install(&mut s, &sign(&m, &[AUTHOR_PRIV], &[]), &[], 4096));
        says(&r.reason, "into a dependency's component are refused");
        assert_eq!(snapshot(&s), before, "nothing was committed");
    }
}

/// [`release_of`] for `['app']` on the test vectors' identity.
fn app_release(seq: i64, payload: &[u8], dependency: Option<&[u8]>) -> Vec<u8> {
    release_of(seq, &VENDOR_ID, &CLASS_ID, &[b"app"], payload, dependency)
}

#[test]
fn a_dependency_never_lowers_its_dependents_rollback_number() {
    let mut s = provisioned();
    let r9 = sign(&app_release(9, b"release 9", None), &[AUTHOR_PRIV], &[]);
    let d8 = app_release(8, b"release 10", None);
    let d8_envelope = sign(&d8, &[AUTHOR_PRIV], &[]);
    let r10 = app_release(10, b"", Some(&d8));
    let r10 = sign(&r10, &[AUTHOR_PRIV], &[("#dep", &d8_envelope)]);
    install(&mut s, &r10, &[], 4096).unwrap();
    let before = snapshot(&s);
    // R9 is older than R10 under the same rollback key: a replay must not install it.
    let r = refusal(install(&mut s, &r9, &[], 4096));
    says(&r.reason, "Rollback");
    assert_eq!(snapshot(&s), before);
}

#[test]
fn a_payload_the_envelope_carries_under_its_full_uri_is_used() {
    // manifest-37: an intermediary may pre-fetch a payload and add it to the envelope under
    // its URI; the device then asks the REE for nothing.
    let mut s = provisioned();
    let payload = b"pre-fetched by an intermediary".to_vec();
    let uri = "https://example.com/fw.bin";
    let m = manifest(1, &[b"app"], &payload, uri, VENDOR_ID);
    let envelope = sign(&m, &[AUTHOR_PRIV], &[(uri, &payload)]);
    let prepared = suit_test_support::service::prepare_chunked(&mut s, &envelope, 4096).unwrap();
    assert!(prepared.needed_uris.is_empty(), "{prepared:?}");
    let done = finish(&mut s).unwrap();
    assert_eq!(done.components.len(), 1);
    // Without it, the same manifest asks the REE for that URI.
    let m2 = manifest(2, &[b"app"], &payload, uri, VENDOR_ID);
    let envelope = sign(&m2, &[AUTHOR_PRIV], &[]);
    let prepared = suit_test_support::service::prepare_chunked(&mut s, &envelope, 4096).unwrap();
    assert_eq!(prepared.needed_uris, vec![uri.to_string()]);
}

#[test]
fn protocol_misuse_is_refused() {
    let mut s = provisioned();
    let payload = b"abc".to_vec();
    let env = sign(
        &manifest(1, &[b"app"], &payload, "https://h/p", VENDOR_ID),
        &[AUTHOR_PRIV],
        &[],
    );
    // Finish before anything, payload before prepare, wrong offsets, unknown URIs, oversize.
    assert_eq!(refusal(finish(&mut s)).kind, RefusalKind::Sequence);
    call::<_, Empty>(
        &mut s,
        Command::InstallBegin,
        &InstallBeginRequest {
            envelope_len: env.len() as u64,
        },
    )
    .unwrap();
    let r = refusal(call::<_, Empty>(
        &mut s,
        Command::InstallEnvelope,
        &ChunkRequest {
            offset: 5,
            data: ByteBuf::from(env.clone()),
        },
    ));
    assert_eq!(r.kind, RefusalKind::Sequence);
    call::<_, Empty>(
        &mut s,
        Command::InstallEnvelope,
        &ChunkRequest {
            offset: 0,
            data: ByteBuf::from(env.clone()),
        },
    )
    .unwrap();
    let prepared: InstallPrepareResponse =
        call(&mut s, Command::InstallPrepare, &Empty {}).unwrap();
    assert_eq!(prepared.needed_uris, vec!["https://h/p".to_string()]);
    // The first chunk (offset 0) of a payload for `uri` announced as `total` bytes long.
    let first_chunk = |s: &mut Service<Mem>, uri: &str, total, data: &[u8]| {
        let chunk = PayloadChunkRequest {
            uri: uri.into(),
            total_len: total,
            offset: 0,
            data: ByteBuf::from(data.to_vec()),
        };
        call::<_, Empty>(s, Command::InstallPayload, &chunk)
    };
    let r = refusal(first_chunk(&mut s, "https://evil/x", 3, b"abc"));
    assert_eq!(r.kind, RefusalKind::Payload);
    let r = refusal(first_chunk(&mut s, "https://h/p", 2, b"abc"));
    assert_eq!(r.kind, RefusalKind::TooLarge);
    let r = refusal(first_chunk(&mut s, "https://h/p", u64::MAX, b"abc"));
    assert_eq!(r.kind, RefusalKind::TooLarge);
    first_chunk(&mut s, "https://h/p", 3, b"ab").unwrap();
    let r = refusal(finish(&mut s));
    assert_eq!(r.kind, RefusalKind::Sequence, "incomplete payload");
    let r = call::<_, InstallBeginRequest>(
        &mut s,
        Command::InstallBegin,
        &InstallBeginRequest { envelope_len: 0 },
    );
    // An empty envelope is named as such, not as a size limit.
    let r = refusal(r);
    assert_eq!(
        (r.kind, r.reason.as_str()),
        (RefusalKind::Manifest, "the envelope is empty")
    );
    // A request that is not the message it claims to be.
    let reply = s.invoke(
        Command::InstallBegin as u32,
        PROTOCOL_VERSION,
        &mut protocol::encode(&Empty {}).unwrap(),
    );
    assert_eq!(reply.status, Status::MalformedRequest);
}

/// A response slot smaller than `MAX_RESPONSE` is refused before the command runs: a
/// provisioning message answered into it applied nothing, so it still applies (and its
/// receipt is given) once the slot is large enough. Run after the commit, the receipt would
/// be lost and the message refused as a replay.
#[test]
fn a_short_response_slot_is_refused_before_anything_is_applied() {
    let mut s = provisioned();
    let kid = device_kid(&mut s);
    let before = snapshot(&s);
    let message = seal(
        &ProvisioningBody {
            counter: 2,
            device: ByteBuf::from(kid),
            ops: vec![identity([7; 16])],
        },
        &p256_private_from_pem(TPA_PRIV),
        Algorithm::Esp256,
        b"",
    )
    .unwrap();
    let request = protocol::encode(&ProvisionRequest {
        message: ByteBuf::from(message),
    })
    .unwrap();
    for slot in [0, 1, protocol::MAX_RESPONSE - 1] {
        let reply = s.invoke_for_slot(
            Command::Provision as u32,
            PROTOCOL_VERSION,
            &mut request.clone(),
            slot,
        );
        assert_eq!(
            (reply.status, reply.detail, reply.body.len()),
            (Status::ResponseTooLarge, protocol::MAX_RESPONSE as u32, 0)
        );
        assert_eq!(snapshot(&s), before, "a {slot}-byte slot changed the state");
    }
    let reply = s.invoke_for_slot(
        Command::Provision as u32,
        PROTOCOL_VERSION,
        &mut request.clone(),
        protocol::MAX_RESPONSE,
    );
    let applied: ProvisionResponse =
        protocol::decode_reply(reply.status as u32, reply.detail, &reply.body).unwrap();
    assert_eq!(applied.counter, 2);
    assert!(!applied.receipt.is_empty());
}

#[test]
fn a_storage_fault_during_install_commits_nothing() {
    let payload = b"fault injection".to_vec();
    let env = sign(
        &manifest(1, &[b"app"], &payload, "#p", VENDOR_ID),
        &[AUTHOR_PRIV],
        &[("#p", &payload)],
    );
    // Fail each mutating storage operation of the install in turn.
    let mut failures = 0;
    for n in 0..32 {
        let mut s = provisioned();
        let before = snapshot(&s);
        s.backend_mut().store_mut().fail_after = Some(n);
        let result = install(&mut s, &env, &[], 4096);
        s.backend_mut().store_mut().fail_after = None;
        match result {
            Ok(_) => break,
            Err(_) => {
                failures += 1;
                let state_now = snapshot(&s).into_iter().find(|(n, _)| n == "suit/state");
                let state_before = before.iter().find(|(n, _)| n == "suit/state").cloned();
                assert_eq!(
                    state_now, state_before,
                    "state changed after a storage fault at operation {n}"
                );
                // And the device still installs afterwards.
                install(&mut s, &env, &[], 4096).unwrap();
            }
        }
    }
    assert!(
        failures >= 3,
        "fault injection hit only {failures} operations"
    );
}

/// The same through the TA's segment layer: its caches live on after each fault, in the
/// session that goes on to install.
#[test]
fn a_storage_fault_during_install_commits_nothing_segmented() {
    suit_test_support::service::with_segments(
        crate::power_cut::segmented::SEG,
        a_storage_fault_during_install_commits_nothing,
    );
}

// ---------------------------------------------------------------------------------------
// Component kinds: trusted applications, personalization data, REE files.

/// A bootstrap TA image header as sign_encrypt.py writes it (signature not checked here:
/// that is OP-TEE's job when the image reaches its TA store).
fn ta_image(uuid: [u8; 16], version: u32) -> Vec<u8> {
    suit_test_support::service::ta_image_with_body(uuid, version, b"\x7fELF pretend TA body")
}

/// A device whose author may act on everything about TA `TA` and on REE files.
fn ta_device() -> Service<Mem> {
    let mut s = device();
    let author = Op::AddAnchor(AnchorRecord {
        id: 1,
        cose_key: cose_key(AUTHOR_PUB),
        role: RoleRecord::Author,
        scope: Scope {
            component_prefixes: vec![
                vec![ByteBuf::from(TA.to_vec())],
                vec![ByteBuf::from(b"ree".to_vec())],
            ],
            vendor_ids: vec![],
            class_ids: vec![],
            ree_plaintext: false,
            tracker_key: None,
        },
        key_scope: 0,
    });
    provision(&mut s, TPA_PRIV, 1, None, vec![author, identity(VENDOR_ID)]).unwrap();
    s
}

fn deliver(
    s: &mut Service<Mem>,
    seq: u64,
    component: &[&[u8]],
    payload: &[u8],
) -> Answer<InstallFinishResponse> {
    let m = manifest(seq, component, payload, "#p", VENDOR_ID);
    install(s, &sign(&m, &[AUTHOR_PRIV], &[("#p", payload)]), &[], 4096)
}

#[test]
fn a_trusted_application_installs_once_per_version_and_only_for_its_uuid() {
    let mut s = ta_device();
    let done = deliver(&mut s, 1, &[&TA], &ta_image(TA, 1)).unwrap();
    assert_eq!(done.components.len(), 1);
    assert_eq!(
        s.backend().installed_tas,
        vec![ta_image(TA, 1)],
        "the image went to the TA store"
    );
    // No plaintext copy stays in our storage (a staging name may stay, empty).
    let st = s.backend().store();
    assert!(
        !st.names()
            .iter()
            .any(|n| n.starts_with("suit/c/") && !is_idle(st, n)),
        "{:?}",
        st.names()
    );

    let r = refusal(deliver(&mut s, 2, &[&TA], &ta_image(TA, 1)));
    says(
        &r.reason,
        "TA version 1 is not newer than the installed version 1",
    );
    let r = refusal(deliver(&mut s, 3, &[&TA], &ta_image([0x11; 16], 9)));
    says(&r.reason, "but the manifest installs TA");
    let r = refusal(deliver(&mut s, 4, &[&TA], b"not a TA image"));
    says(&r.reason, "not a signed TA image");
    assert_eq!(
        s.backend().installed_tas.len(),
        1,
        "refused images never reach the TA store"
    );
    deliver(&mut s, 5, &[&TA], &ta_image(TA, 2)).unwrap();
    assert_eq!(s.backend().installed_tas.len(), 2);
}

#[test]
fn a_refused_install_begin_leaves_the_install_under_way() {
    let mut s = ta_device();
    let payload = b"config v1";
    let m = manifest(1, &[b"ree", b"etc", b"a.conf"], payload, "#p", VENDOR_ID);
    let envelope = sign(&m, &[AUTHOR_PRIV], &[("#p", payload)]);
    suit_test_support::service::send_envelope(&mut s, &envelope, 4096).unwrap();
    let before = suit_test_support::service::objects(&s);
    for len in [0, u64::MAX] {
        suit_test_support::service::begin(&mut s, len).unwrap_err();
    }
    assert_eq!(suit_test_support::service::objects(&s), before);
    let prepared: InstallPrepareResponse =
        call(&mut s, Command::InstallPrepare, &Empty {}).unwrap();
    assert!(prepared.needed_uris.is_empty(), "{prepared:?}");
    suit_test_support::service::finish(&mut s).unwrap();
}

#[test]
fn a_ta_image_read_back_other_than_it_was_staged_is_not_installed() {
    let mut s = ta_device();
    let before = suit_test_support::service::objects(&s);
    // The REE answers the read of the staged image with another image for the same TA, of
    // the same length (e.g. an older file version it kept), after the engine matched the real
    // one's digest.
    s.backend_mut().store_mut().substitute = Some(("suit/c/".into(), ta_image(TA, 7)));
    let r = refusal(deliver(&mut s, 1, &[&TA], &ta_image(TA, 1)));
    assert_eq!(r.kind, RefusalKind::Storage, "{r:?}");
    says(&r.reason, "not what was committed");
    assert!(
        s.backend().installed_tas.is_empty(),
        "nothing reached the TA store"
    );
    s.backend_mut().store_mut().substitute = None;
    assert_eq!(
        suit_test_support::service::objects(&s),
        before,
        "nothing changed"
    );
    // Served faithfully, the same update installs.
    deliver(&mut s, 1, &[&TA], &ta_image(TA, 1)).unwrap();
    assert_eq!(s.backend().installed_tas, vec![ta_image(TA, 1)]);
}

#[test]
fn personalization_data_goes_only_to_its_ta() {
    let mut s = ta_device();
    deliver(
        &mut s,
        1,
        &[&TA, b"perso"],
        b"per-device secret configuration",
    )
    .unwrap();
    let get = |s: &mut Service<Mem>| {
        call::<_, PersonalizationResponse>(s, Command::PersonalizationGet, &Empty {})
    };
    let r = refusal(get(&mut s));
    assert_eq!(r.kind, RefusalKind::Access, "the REE is refused");
    s.backend_mut().client = Client::TrustedApp([0x11; 16]);
    assert_eq!(
        refusal(get(&mut s)).kind,
        RefusalKind::NotFound,
        "another TA gets nothing"
    );
    s.backend_mut().client = Client::TrustedApp(TA);
    assert_eq!(
        get(&mut s).unwrap().data.as_slice(),
        b"per-device secret configuration"
    );
    // Other bytes of the same length from the REE-backed store are not handed over.
    let other = b"per-device secret configuratioN".to_vec();
    s.backend_mut().store_mut().substitute = Some(("suit/c/".into(), other));
    says(
        &refusal(get(&mut s)).reason,
        "does not match its recorded digest",
    );
    s.backend_mut().store_mut().substitute = None;
    // Oversize personalization data is refused at install.
    let big = vec![7u8; 61 * 1024];
    s.backend_mut().client = Client::Ree;
    let r = refusal(deliver(&mut s, 2, &[&TA, b"perso"], &big));
    says(&r.reason, "exceeds");
}

/// A consumer TA is built and installed apart from the update TA: one built against an older
/// protocol version whose personalization exchange is this one's still gets its data, while
/// every other command, and versions before that exchange, are refused as a version mismatch.
#[test]
fn consumer_tas_of_older_protocol_versions_still_get_their_data() {
    use suit_common::protocol::{PERSONALIZATION_SINCE, PROTOCOL_VERSION};
    let mut s = ta_device();
    deliver(&mut s, 1, &[&TA, b"perso"], b"per-device secret").unwrap();
    s.backend_mut().client = Client::TrustedApp(TA);
    let ask = |s: &mut Service<Mem>, command: Command, version: u32| {
        let reply = s.invoke(
            command as u32,
            version,
            &mut protocol::encode(&Empty {}).unwrap(),
        );
        let answer = protocol::decode_reply::<PersonalizationResponse>(
            reply.status as u32,
            reply.detail,
            &reply.body,
        );
        (reply.status, answer.ok().map(|r| r.data.into_vec()))
    };
    assert_eq!(PERSONALIZATION_SINCE, 3);
    for version in PERSONALIZATION_SINCE..=PROTOCOL_VERSION {
        assert_eq!(
            ask(&mut s, Command::PersonalizationGet, version),
            (Status::Ok, Some(b"per-device secret".to_vec())),
            "version {version}"
        );
    }
    for version in [0, 1, PERSONALIZATION_SINCE - 1, PROTOCOL_VERSION + 1] {
        assert_eq!(
            ask(&mut s, Command::PersonalizationGet, version),
            (Status::VersionMismatch, None),
            "version {version}"
        );
    }
    s.backend_mut().client = Client::Ree;
    for command in [Command::Status, Command::InstallBegin, Command::Report] {
        assert_eq!(
            ask(&mut s, command, PROTOCOL_VERSION - 1).0,
            Status::VersionMismatch,
            "{command:?}"
        );
    }
}

#[test]
fn ree_files_are_approved_then_exported_exactly() {
    let mut s = ta_device();
    let content: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let done = deliver(&mut s, 1, &[b"ree", b"etc", b"app.conf"], &content).unwrap();
    assert_eq!(done.ree_paths, vec!["etc/app.conf".to_string()]);
    let mut out = Vec::new();
    loop {
        let r: ReeExportResponse = call(
            &mut s,
            Command::ReeExport,
            &ReeExportRequest {
                path: "etc/app.conf".into(),
                offset: out.len() as u64,
            },
        )
        .unwrap();
        assert_eq!(r.digest.as_slice(), &Sha256::digest(&content)[..]);
        if r.data.is_empty() {
            break;
        }
        out.extend_from_slice(&r.data);
    }
    assert_eq!(out, content);
    let r = refusal(call::<_, ReeExportResponse>(
        &mut s,
        Command::ReeExport,
        &ReeExportRequest {
            path: "etc/other".into(),
            offset: 0,
        },
    ));
    assert_eq!(r.kind, RefusalKind::NotFound);
    let r = refusal(deliver(&mut s, 2, &[b"ree", b"..", b"passwd"], b"x"));
    says(&r.reason, "not a valid REE path");
}

/// Review s43-rev: a component identifier bounds its segments' bytes (`MAX_ID_LEN`), not the
/// `/` between them, so an REE path a valid component names is up to `MAX_ID_LEN + MAX_SEGMENTS`
/// long. `ReeExport`'s bound on the REE's path (s43) was `MAX_ID_LEN`: such a component was
/// installed, named in `ree_paths`, and then its export refused `NotFound`.
#[test]
fn an_ree_path_longer_than_an_identifier_s_bytes_is_still_exported() {
    use suit_common::suit::component::MAX_ID_LEN;
    let mut s = ta_device();
    // 3 + 255 + 250 + 4 x 1 = 512 bytes of segments: the most an identifier holds.
    let (long, longer) = (vec![b'a'; 255], vec![b'b'; 250]);
    let component: &[&[u8]] = &[b"ree", &long, &longer, b"c", b"d", b"e", b"f"];
    assert_eq!(component.iter().map(|s| s.len()).sum::<usize>(), MAX_ID_LEN);
    let done = deliver(&mut s, 1, component, b"long path").unwrap();
    let [path] = done.ree_paths.as_slice() else {
        panic!("{:?}", done.ree_paths)
    };
    assert!(path.len() > MAX_ID_LEN, "{}", path.len());
    let r: ReeExportResponse = call(
        &mut s,
        Command::ReeExport,
        &ReeExportRequest {
            path: path.clone(),
            offset: 0,
        },
    )
    .unwrap();
    assert_eq!(r.data.as_slice(), b"long path");
}

// ---------------------------------------------------------------------------------------
// Reports.

#[test]
fn every_install_attempt_leaves_a_signed_report_over_a_fresh_nonce() {
    use suit_common::cose::VerificationKey;
    use suit_common::report::verify_report;
    let mut s = provisioned();
    let none = refusal(call::<_, ReportResponse>(
        &mut s,
        Command::Report,
        &ReportRequest::default(),
    ));
    assert_eq!(none.kind, RefusalKind::NotFound);
    let keys: DeviceKeyResponse = call(&mut s, Command::DeviceKey, &Empty {}).unwrap();
    let report_key = VerificationKey::p256_from_sec1(&keys.report_key).unwrap();
    let get = |s: &mut Service<Mem>, nonce: &[u8]| {
        let r: ReportResponse = call(
            s,
            Command::Report,
            &ReportRequest {
                nonce: Some(ByteBuf::from(nonce.to_vec())),
                pre_auth: false,
            },
        )
        .unwrap();
        r.report.into_vec()
    };

    let payload = b"reported firmware".to_vec();
    let env = sign(
        &manifest(1, &[b"app"], &payload, "#p", VENDOR_ID),
        &[AUTHOR_PRIV],
        &[("#p", &payload)],
    );
    install(&mut s, &env, &[], 4096).unwrap();
    let signed = get(&mut s, b"nonce-1");
    let report = verify_report(&signed, &report_key).unwrap();
    assert!(report.is_success());
    assert_eq!(report.nonce.as_deref(), Some(&b"nonce-1"[..]));
    assert_eq!(report.sequence_number, Some(1));
    // The report key signs; the identity key does not verify it.
    let identity_key = VerificationKey::p256_from_sec1(&keys.identity_key).unwrap();
    assert!(verify_report(&signed, &identity_key).is_err());

    // A refused attempt (rollback) is reported too, with its reason.
    refusal(install(&mut s, &env, &[], 4096));
    let report = verify_report(&get(&mut s, b"nonce-2"), &report_key).unwrap();
    assert!(!report.is_success());
    assert_eq!(report.nonce.as_deref(), Some(&b"nonce-2"[..]));
    assert_eq!(report.sequence_number, Some(1));

    // A nonce at the device's bound is signed; a longer one is the caller's error, typed, not
    // a failure to sign (review s27).
    let bound = suit_common::report::MAX_NONCE_LEN;
    let report = verify_report(&get(&mut s, &vec![7; bound]), &report_key).unwrap();
    assert_eq!(report.nonce.map(|n| n.len()), Some(bound));
    let long = refusal(call::<_, ReportResponse>(
        &mut s,
        Command::Report,
        &ReportRequest {
            nonce: Some(ByteBuf::from(vec![7; bound + 1])),
            pre_auth: false,
        },
    ));
    assert_eq!(
        (long.kind, long.fault),
        (
            RefusalKind::TooLarge,
            Some(suit_common::fault::Fault::Service(
                suit_common::fault::ServiceFault::NonceTooLong
            ))
        ),
        "{}",
        long.reason
    );
}

// ---------------------------------------------------------------------------------------
// A dependency's own detached payloads: trust domains' templates, where the root fetches and
// processes a dependency whose install fetches its image by its own URI.

pub(crate) mod dependency_payloads {
    use super::*;
    use ciborium::Value;
    use suit_common::fault::Fault;
    use suit_common::service::install::{CommitRefusal, InstallError};
    use suit_test_support::service as svc;
    use suit_test_support::{
        bytes, cbor, fetch_check_process, fetch_check_process_with, fetch_checked, int,
        manifest_digest, map, seal_one, suit_digest, text, tree_manifest as manifest,
    };

    /// `manifest` signed (ESP256) with the P-256 key in `pem`, with `integrated` payloads.
    fn sealed(manifest: &[u8], pem: &str, integrated: &[(&str, &[u8])]) -> Vec<u8> {
        seal_one(
            manifest,
            &p256_private_from_pem(pem),
            Algorithm::Esp256,
            &[],
            integrated,
        )
    }

    /// A leaf manifest numbered `seq` (id `name`) whose install fetches `image` from `uri` into `["app",
    /// name]` and checks its digest.
    fn leaf(seq: i64, name: &[u8], image: &[u8], uri: &str) -> Vec<u8> {
        let mut install = vec![int(12), int(0)];
        install.extend(fetch_checked(image, uri));
        manifest(
            seq,
            &[&[b"app", name]],
            &[],
            &[b"app", name],
            vec![(20, install)],
        )
    }

    /// A manifest numbered `seq` (id `name`) that fetches its dependency `dep` (a manifest)
    /// from `uri` and processes it, all in install.
    fn dependent(seq: i64, name: &[u8], dep: &[u8], uri: &str) -> Vec<u8> {
        manifest(
            seq,
            &[&[b"app", name], &[b"app", name, b"dep"]],
            &[1],
            &[b"app", name],
            vec![(
                20,
                fetch_check_process(1, &manifest_digest(dep), uri).to_vec(),
            )],
        )
    }

    const IMAGE: &[u8] = b"the image a dependency fetches itself";
    const URI: &str = "https://example.com/d0.bin";

    #[test]
    fn an_integrated_dependency_gets_its_detached_payload_listed_and_installed() {
        let d = leaf(1, b"d0", IMAGE, URI);
        let d_env = sealed(&d, AUTHOR_PRIV, &[]);
        let r = dependent(1, b"root", &d, "#dep");
        let env = sealed(&r, AUTHOR_PRIV, &[("#dep", &d_env)]);
        let mut s = svc::provisioned(&[b"app"]);
        let prepared = svc::prepare(&mut s, &env).unwrap();
        assert_eq!(prepared.needed_uris, vec![URI.to_string()]);
        // The dependency checks the bytes against its digest before installing them.
        let done = install(&mut s, &env, &[(URI, IMAGE)], 1000).unwrap();
        assert_eq!(crate::texts(&done.components), ["['app', 'd0']"]);
    }

    #[test]
    fn a_nested_integrated_dependency_gets_its_detached_payload_listed() {
        // root -> b -> c, each envelope integrated in its dependent's; c fetches its image.
        let c = leaf(1, b"c", IMAGE, URI);
        let c_env = sealed(&c, AUTHOR_PRIV, &[]);
        let b = dependent(1, b"b", &c, "#c");
        let b_env = sealed(&b, AUTHOR_PRIV, &[("#c", &c_env)]);
        let r = dependent(1, b"root", &b, "#b");
        let env = sealed(&r, AUTHOR_PRIV, &[("#b", &b_env)]);
        let mut s = svc::provisioned(&[b"app"]);
        let prepared = svc::prepare(&mut s, &env).unwrap();
        assert_eq!(prepared.needed_uris, vec![URI.to_string()]);
        let done = install(&mut s, &env, &[(URI, IMAGE)], 1000).unwrap();
        assert_eq!(crate::texts(&done.components), ["['app', 'c']"]);
    }

    #[test]
    fn a_dependency_no_anchor_signed_gets_nothing_listed() {
        // Its URIs are unauthenticated bytes: the REE is not asked for them (and the engine
        // refuses the dependency).
        let d = leaf(1, b"d0", IMAGE, URI);
        let d_env = sealed(&d, OPERATOR_PRIV, &[]);
        let r = dependent(1, b"root", &d, "#dep");
        let env = sealed(&r, AUTHOR_PRIV, &[("#dep", &d_env)]);
        let mut s = svc::provisioned(&[b"app"]);
        let prepared = svc::prepare(&mut s, &env).unwrap();
        assert!(
            prepared.needed_uris.is_empty(),
            "{:?}",
            prepared.needed_uris
        );
        // Nor one the policy would refuse as a dependency (a component outside its scope).
        let d = manifest(
            1,
            &[&[b"other", b"d0"]],
            &[],
            &[b"app", b"d0"],
            vec![(
                20,
                vec![int(20), map(vec![(21, text(URI))]), int(21), int(15)],
            )],
        );
        let d_env = sealed(&d, AUTHOR_PRIV, &[]);
        let r = dependent(1, b"root", &d, "#dep");
        let env = sealed(&r, AUTHOR_PRIV, &[("#dep", &d_env)]);
        let prepared = svc::prepare(&mut s, &env).unwrap();
        assert!(
            prepared.needed_uris.is_empty(),
            "{:?}",
            prepared.needed_uris
        );
    }

    /// Integrated payloads no manifest names are bytes nothing authenticates (anyone relaying
    /// the envelope can add them): they neither spend the walk's envelope budget (decoys
    /// signed by no anchor starved a nested dependency of its listing) nor add URIs (signed
    /// but unreferenced envelopes made prepare refuse too many URIs). Review s27.
    #[test]
    fn integrated_payloads_no_manifest_names_change_nothing_prepare_lists() {
        let c = leaf(1, b"c", IMAGE, URI);
        let c_env = sealed(&c, AUTHOR_PRIV, &[]);
        let b = dependent(1, b"b", &c, "#c");
        let b_env = sealed(&b, AUTHOR_PRIV, &[("#c", &c_env)]);
        let r = dependent(1, b"root", &b, "#b");
        let decoy = |pem: &str, i: usize| {
            let uri = format!("https://other.example/{i}");
            sealed(&leaf(1, format!("x{i}").as_bytes(), IMAGE, &uri), pem, &[])
        };
        // Signed by no anchor of the device (the operator key is none here), then by the author.
        for signer in [OPERATOR_PRIV, AUTHOR_PRIV] {
            let extra: Vec<(String, Vec<u8>)> = (0..7)
                .map(|i| (format!("#a{i}"), decoy(signer, i)))
                .collect();
            let mut integrated: Vec<(&str, &[u8])> = extra
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_slice()))
                .collect();
            integrated.push(("#b", &b_env));
            let env = sealed(&r, AUTHOR_PRIV, &integrated);
            let mut s = svc::provisioned(&[b"app"]);
            let prepared = svc::prepare(&mut s, &env).unwrap();
            assert_eq!(prepared.needed_uris, vec![URI.to_string()]);
        }
    }

    // -----------------------------------------------------------------------------------
    // A dependency the REE delivers (the root fetches it by URI): prepare cannot read it, so
    // the chunk that completes it answers with the detached payloads it fetches, once it
    // authenticated as a dependency (the TA's `delivered_dependency`, one walk with prepare's).

    const DEP_URI: &str = "https://example.com/d0.suit";

    /// Sends `data` for `uri` in `chunk`-byte pieces, returning each chunk's answer.
    fn answers(
        s: &mut Service<Mem>,
        uri: &str,
        data: &[u8],
        chunk: usize,
    ) -> Vec<PayloadChunkResponse> {
        data.chunks(chunk)
            .enumerate()
            .map(|(i, c)| {
                svc::payload_chunk(s, uri, data.len() as u64, (i * chunk) as u64, c).unwrap()
            })
            .collect()
    }

    /// Sends the image the dependencies fetch (its answer adds nothing), finishes, and gives
    /// the installed components' names.
    fn image_then_finish(s: &mut Service<Mem>) -> Vec<String> {
        assert_eq!(
            answers(s, URI, IMAGE, 1 << 16),
            [PayloadChunkResponse::default()]
        );
        crate::texts(&finish(s).unwrap().components)
    }

    /// The answer of a chunk that adds `uris` (no size bound: the analysis does not follow
    /// dependencies).
    fn adds(uris: &[&str]) -> PayloadChunkResponse {
        PayloadChunkResponse {
            needed_uris: uris.iter().map(|u| u.to_string()).collect(),
            needed_sizes: vec![None; uris.len()],
        }
    }

    /// Root -fetches-> dependency -fetches-> image (trust domains' layout): the dependency's
    /// last chunk lists the image's URI, the earlier ones nothing, and the install commits
    /// the dependency's component. Review s37 (it was refused `UnlistedPayload`).
    #[test]
    fn a_dependency_the_ree_delivers_gets_its_detached_payload_listed_and_installed() {
        let d = leaf(1, b"d0", IMAGE, URI);
        let d_env = sealed(&d, AUTHOR_PRIV, &[]);
        let r = dependent(1, b"root", &d, DEP_URI);
        let env = sealed(&r, AUTHOR_PRIV, &[]);
        let mut s = svc::provisioned(&[b"app"]);
        let prepared = svc::prepare(&mut s, &env).unwrap();
        assert_eq!(prepared.needed_uris, vec![DEP_URI.to_string()]);
        let got = answers(&mut s, DEP_URI, &d_env, 100);
        assert!(got.len() > 1, "{}", d_env.len());
        let (last, earlier) = got.split_last().unwrap();
        assert!(earlier
            .iter()
            .all(|a| *a == PayloadChunkResponse::default()));
        assert_eq!(*last, adds(&[URI]));
        // Sent again whole: nothing new (it is listed already).
        assert_eq!(
            answers(&mut s, DEP_URI, &d_env, 1 << 16),
            [PayloadChunkResponse::default()]
        );
        assert_eq!(
            svc::payload_chunk(&mut s, URI, IMAGE.len() as u64, 0, IMAGE).unwrap(),
            PayloadChunkResponse::default()
        );
        let done = finish(&mut s).unwrap();
        assert_eq!(crate::texts(&done.components), ["['app', 'd0']"]);
        // Root 2 integrating the same dependency installs it again (as the QEMU test does).
        let r2 = sealed(
            &dependent(2, b"root", &d, "#dep"),
            AUTHOR_PRIV,
            &[("#dep", &d_env)],
        );
        let done = install(&mut s, &r2, &[(URI, IMAGE)], 1000).unwrap();
        assert_eq!(crate::texts(&done.components), ["['app', 'd0']"]);
        // The work list of the test client (as the agent's) does the same from the start.
        let mut s = svc::provisioned(&[b"app"]);
        let done = install(&mut s, &env, &[(DEP_URI, &d_env), (URI, IMAGE)], 1000).unwrap();
        assert_eq!(crate::texts(&done.components), ["['app', 'd0']"]);
    }

    /// root -fetches-> b -fetches-> c -fetches-> image: each delivered dependency lists the
    /// next URI as it completes.
    #[test]
    fn a_chain_of_delivered_dependencies_lists_each_next_uri() {
        const C_URI: &str = "https://example.com/c.suit";
        let c = leaf(1, b"c", IMAGE, URI);
        let c_env = sealed(&c, AUTHOR_PRIV, &[]);
        let b = dependent(1, b"b", &c, C_URI);
        let b_env = sealed(&b, AUTHOR_PRIV, &[]);
        let r = dependent(1, b"root", &b, DEP_URI);
        let env = sealed(&r, AUTHOR_PRIV, &[]);
        let mut s = svc::provisioned(&[b"app"]);
        let prepared = svc::prepare(&mut s, &env).unwrap();
        assert_eq!(prepared.needed_uris, vec![DEP_URI.to_string()]);
        assert_eq!(answers(&mut s, DEP_URI, &b_env, 1 << 16), [adds(&[C_URI])]);
        assert_eq!(answers(&mut s, C_URI, &c_env, 1 << 16), [adds(&[URI])]);
        assert_eq!(image_then_finish(&mut s), ["['app', 'c']"]);
    }

    /// A delivered dependency no anchor signed, or one the policy refuses as a dependency
    /// (a component outside its signer's scope), adds nothing: its answer is that of any
    /// other payload, and the engine refuses it at finish (nothing installed).
    #[test]
    fn a_delivered_dependency_that_does_not_authenticate_adds_nothing() {
        let out_of_scope = manifest(
            1,
            &[&[b"other", b"d0"]],
            &[],
            &[b"app", b"d0"],
            vec![(
                20,
                vec![int(20), map(vec![(21, text(URI))]), int(21), int(15)],
            )],
        );
        for (d, pem) in [
            (leaf(1, b"d0", IMAGE, URI), OPERATOR_PRIV),
            (out_of_scope, AUTHOR_PRIV),
        ] {
            let d_env = sealed(&d, pem, &[]);
            let env = sealed(&dependent(1, b"root", &d, DEP_URI), AUTHOR_PRIV, &[]);
            let mut s = svc::provisioned(&[b"app"]);
            svc::prepare(&mut s, &env).unwrap();
            assert_eq!(
                answers(&mut s, DEP_URI, &d_env, 1 << 16),
                [PayloadChunkResponse::default()]
            );
            let r = refusal(finish(&mut s));
            assert!(
                matches!(r.fault, Some(Fault::Install(InstallError::Refused(_)))),
                "{:?}",
                r.fault
            );
            assert!(svc::state(&s).components.is_empty());
        }
    }

    /// The TA listed the delivered dependency's URI and the REE did not send it: refused as
    /// not delivered, naming it. A dependency the REE never sent at all leaves its payload
    /// unlisted: that fetch is never reached (the dependency's own fetch is refused first).
    #[test]
    fn a_uri_a_delivered_dependency_added_and_the_ree_left_out_is_not_delivered() {
        let d = leaf(1, b"d0", IMAGE, URI);
        let d_env = sealed(&d, AUTHOR_PRIV, &[]);
        let env = sealed(&dependent(1, b"root", &d, DEP_URI), AUTHOR_PRIV, &[]);
        let mut s = svc::provisioned(&[b"app"]);
        svc::prepare(&mut s, &env).unwrap();
        assert_eq!(answers(&mut s, DEP_URI, &d_env, 1 << 16), [adds(&[URI])]);
        let r = refusal(finish(&mut s));
        assert_eq!(r.kind, RefusalKind::Manifest);
        assert_eq!(
            r.fault,
            Some(Fault::Install(InstallError::Commit(
                CommitRefusal::PayloadNotDelivered(URI.into())
            ))),
            "{}",
            r.reason
        );
        says(&r.reason, URI);
        let mut s = svc::provisioned(&[b"app"]);
        svc::prepare(&mut s, &env).unwrap();
        let r = refusal(finish(&mut s));
        assert_eq!(
            r.fault,
            Some(Fault::Install(InstallError::Commit(
                CommitRefusal::PayloadNotDelivered(DEP_URI.into())
            ))),
            "{}",
            r.reason
        );
    }

    /// Beyond the TA's limits nothing is added, and the fetch of what stays unlisted is
    /// refused `UnlistedPayload`: a delivered dependency whose URIs would take the install past
    /// `MAX_PAYLOADS` (8), and one deeper than `MAX_DEPENDENCY_DEPTH` (root -> d1 -> d2 -> d3
    /// -> d4: d4 is never read, as the engine never fetches it).
    #[test]
    fn a_delivered_dependency_beyond_the_limits_adds_nothing() {
        use suit_common::service::install::MAX_PAYLOADS;
        // Eight URIs set in turn, the last fetched: with the dependency's own, nine.
        let many: Vec<String> = (0..MAX_PAYLOADS)
            .map(|i| format!("https://example.com/p{i}.bin"))
            .collect();
        // A device prepared with a root whose delivered dependency sets `uris` in turn and
        // fetches the last; the dependency's envelope.
        let prepared = |uris: &[String]| {
            let mut install_seq = vec![int(12), int(0)];
            for u in uris {
                install_seq.extend([int(20), map(vec![(21, text(u))])]);
            }
            install_seq.extend([int(21), int(15)]);
            let d = manifest(
                1,
                &[&[b"app", b"d0"]],
                &[],
                &[b"app", b"d0"],
                vec![(20, install_seq)],
            );
            let env = sealed(&dependent(1, b"root", &d, DEP_URI), AUTHOR_PRIV, &[]);
            let mut s = svc::provisioned(&[b"app"]);
            svc::prepare(&mut s, &env).unwrap();
            (s, sealed(&d, AUTHOR_PRIV, &[]))
        };
        let (mut s, d_env) = prepared(&many);
        assert_eq!(
            answers(&mut s, DEP_URI, &d_env, 1 << 16),
            [PayloadChunkResponse::default()]
        );
        let last = many.last().unwrap();
        let r = refusal(finish(&mut s));
        assert_eq!(
            r.fault,
            Some(Fault::Install(InstallError::Commit(
                CommitRefusal::UnlistedPayload(last.clone())
            ))),
            "{}",
            r.reason
        );
        says(&r.reason, last);
        // One fewer fits, and is listed.
        let (mut s, d_env) = prepared(&many[1..]);
        let fit: Vec<&str> = many[1..].iter().map(String::as_str).collect();
        assert_eq!(answers(&mut s, DEP_URI, &d_env, 1 << 16), [adds(&fit)]);

        // Depth: d1..d3 each list the next dependency's URI; d4 (depth 4) lists nothing.
        let uris = [
            "https://example.com/1.suit",
            "https://example.com/2.suit",
            "https://example.com/3.suit",
            "https://example.com/4.suit",
        ];
        let mut chain = vec![leaf(1, b"d4", IMAGE, URI)];
        for (i, u) in uris[1..].iter().enumerate().rev() {
            let next = chain.last().unwrap().clone();
            chain.push(dependent(1, format!("d{}", i + 1).as_bytes(), &next, u));
        }
        // chain: d4, d3, d2, d1
        let root = dependent(1, b"root", chain.last().unwrap(), uris[0]);
        let env = sealed(&root, AUTHOR_PRIV, &[]);
        let mut s = svc::provisioned(&[b"app"]);
        let prepared = svc::prepare(&mut s, &env).unwrap();
        assert_eq!(prepared.needed_uris, vec![uris[0].to_string()]);
        for (k, m) in chain.iter().rev().enumerate() {
            let m_env = sealed(m, AUTHOR_PRIV, &[]);
            let expected = match uris.get(k + 1) {
                Some(next) => adds(&[next]),
                None => PayloadChunkResponse::default(),
            };
            assert_eq!(
                answers(&mut s, uris[k], &m_env, 1 << 16),
                [expected],
                "d{}",
                k + 1
            );
        }
        let r = refusal(finish(&mut s));
        assert!(
            matches!(r.fault, Some(Fault::Install(InstallError::Refused(_)))),
            "{:?}",
            r.fault
        );
        assert!(svc::state(&s).components.is_empty());
    }

    /// Review s38: the walk read whatever envelope the REE delivered (or the envelope
    /// integrated) for a dependency's URI, so any other envelope an accepted author signed
    /// got its URIs listed (uploads accepted for them, `MAX_PAYLOADS` spent). Now only one
    /// whose manifest digest the authenticated dependent sets is read: another one adds
    /// nothing, delivered or integrated, and the right one still does.
    #[test]
    fn an_envelope_whose_manifest_the_dependent_names_no_digest_of_adds_nothing() {
        const OTHER: &str = "https://example.com/other.bin";
        let d = leaf(1, b"d0", IMAGE, URI);
        let d_env = sealed(&d, AUTHOR_PRIV, &[]);
        let other_env = sealed(&leaf(1, b"d0", IMAGE, OTHER), AUTHOR_PRIV, &[]);
        let env = sealed(&dependent(1, b"root", &d, DEP_URI), AUTHOR_PRIV, &[]);
        let mut s = svc::provisioned(&[b"app"]);
        svc::prepare(&mut s, &env).unwrap();
        assert_eq!(
            answers(&mut s, DEP_URI, &other_env, 1 << 16),
            [PayloadChunkResponse::default()]
        );
        assert_eq!(answers(&mut s, DEP_URI, &d_env, 1 << 16), [adds(&[URI])]);
        // Integrated under the name the root fetches, in place of the one it names.
        let r = dependent(1, b"root", &d, "#dep");
        let env = sealed(&r, AUTHOR_PRIV, &[("#dep", &other_env)]);
        let mut s = svc::provisioned(&[b"app"]);
        let prepared = svc::prepare(&mut s, &env).unwrap();
        assert!(
            prepared.needed_uris.is_empty(),
            "{:?}",
            prepared.needed_uris
        );
        let env = sealed(&r, AUTHOR_PRIV, &[("#dep", &d_env)]);
        let prepared = svc::prepare(&mut s, &env).unwrap();
        assert_eq!(prepared.needed_uris, [URI]);
    }

    /// Review s38: the walk spent an envelope of its budget on every delivered payload that
    /// decoded as an envelope, authenticated or not, so what the REE sent for other URIs
    /// decided how deep a real dependency was read. Root -fetches-> d1 (integrating d2,
    /// integrating d3, which fetches the image), the root also naming six other URIs: the
    /// image is listed when d1 arrives whether the REE sent garbage for the six or envelopes
    /// no anchor signed (the latter took six of the eight envelopes, and d3 went unread).
    #[test]
    fn what_the_ree_sends_for_other_uris_changes_nothing_a_dependency_lists() {
        let d3 = leaf(1, b"d3", IMAGE, URI);
        let d2 = dependent(1, b"d2", &d3, "#d3");
        let d2_env = sealed(&d2, AUTHOR_PRIV, &[("#d3", &sealed(&d3, AUTHOR_PRIV, &[]))]);
        let d1 = dependent(1, b"d1", &d2, "#d2");
        let d1_env = sealed(&d1, AUTHOR_PRIV, &[("#d2", &d2_env)]);
        let others: Vec<String> = (0..6)
            .map(|i| format!("https://example.com/o{i}.bin"))
            .collect();
        let mut install_seq = vec![int(12), int(0)];
        for o in &others {
            install_seq.extend([int(20), map(vec![(21, text(o))])]);
        }
        install_seq.extend(fetch_check_process(1, &manifest_digest(&d1), DEP_URI));
        let root = manifest(
            1,
            &[&[b"app", b"root"], &[b"app", b"d1"]],
            &[1],
            &[b"app", b"root"],
            vec![(20, install_seq)],
        );
        let env = sealed(&root, AUTHOR_PRIV, &[]);
        let garbage = vec![0xd8; 300];
        let unsigned = sealed(&leaf(1, b"x", IMAGE, URI), OPERATOR_PRIV, &[]);
        for decoy in [&garbage, &unsigned] {
            let mut s = svc::provisioned(&[b"app"]);
            let prepared = svc::prepare(&mut s, &env).unwrap();
            assert_eq!(prepared.needed_uris.len(), 7);
            for o in &others {
                assert_eq!(
                    answers(&mut s, o, decoy, 1 << 16),
                    [PayloadChunkResponse::default()]
                );
            }
            assert_eq!(answers(&mut s, DEP_URI, &d1_env, 1 << 16), [adds(&[URI])]);
        }
    }

    /// Review s38: an empty chunk at the end of a complete dependency payload passed the
    /// chunk checks unchanged and had the service run the whole walk again (the state
    /// loaded, the root's signature checked, every delivered envelope read back), as often
    /// as the REE sent it. Only the chunk that brings the last bytes runs it: the repeats
    /// read nothing from storage.
    #[test]
    fn an_empty_chunk_after_a_complete_dependency_reads_nothing() {
        let d = leaf(1, b"d0", IMAGE, URI);
        let d_env = sealed(&d, AUTHOR_PRIV, &[]);
        let env = sealed(&dependent(1, b"root", &d, DEP_URI), AUTHOR_PRIV, &[]);
        let mut s = svc::provisioned(&[b"app"]);
        svc::prepare(&mut s, &env).unwrap();
        let reads = |s: &Service<Mem>| s.backend().store().ops.get().reads;
        let before = reads(&s);
        assert_eq!(answers(&mut s, DEP_URI, &d_env, 1 << 16), [adds(&[URI])]);
        assert!(reads(&s) > before, "the completing chunk reads the state");
        let total = d_env.len() as u64;
        for _ in 0..3 {
            let before = reads(&s);
            let answer = svc::payload_chunk(&mut s, DEP_URI, total, total, &[]).unwrap();
            assert_eq!(answer, PayloadChunkResponse::default());
            assert_eq!(reads(&s), before);
        }
        // The install is as it was: the image still goes in and the dependency installs.
        assert_eq!(image_then_finish(&mut s), ["['app', 'd0']"]);
    }

    /// Review s38 (re-review): a restart of one byte completes the dependency payload again
    /// (its total is whatever the REE announces), and each completion ran the whole walk (the
    /// root's signature, every other delivered envelope read back). One prepared install
    /// walks at most twice per payload it may have; later completions read nothing.
    #[test]
    fn one_byte_restarts_of_a_dependency_walk_a_bounded_number_of_times() {
        let d = leaf(1, b"d0", IMAGE, URI);
        let d_env = sealed(&d, AUTHOR_PRIV, &[]);
        let env = sealed(&dependent(1, b"root", &d, DEP_URI), AUTHOR_PRIV, &[]);
        let mut s = svc::provisioned(&[b"app"]);
        svc::prepare(&mut s, &env).unwrap();
        assert_eq!(answers(&mut s, DEP_URI, &d_env, 1 << 16), [adds(&[URI])]);
        let reads = |s: &Service<Mem>| s.backend().store().ops.get().reads;
        let walks = (0..40)
            .filter(|_| {
                let before = reads(&s);
                let answer = svc::payload_chunk(&mut s, DEP_URI, 1, 0, &[0]).unwrap();
                assert_eq!(answer, PayloadChunkResponse::default());
                reads(&s) > before
            })
            .count();
        // The first delivery walked once.
        assert_eq!(walks, 2 * suit_common::protocol::MAX_PAYLOADS - 1);
    }

    /// Parameters are shared across the manifest tree, so the root may set the image digest
    /// of a dependency that its own dependency names by URI only: the engine accepts the
    /// tree, and the walk admits the delivered envelope by the digests of every
    /// authenticated ancestor, not only of the manifest naming it (re-review s38: session
    /// 38's digest rule left it unlisted, `finish` then refused `UnlistedPayload`).
    #[test]
    fn a_dependency_whose_digest_an_ancestor_sets_is_walked() {
        const D1_URI: &str = "https://example.com/d1.suit";
        const D2_URI: &str = "https://example.com/d2.suit";
        let d2 = leaf(1, b"d2", IMAGE, URI);
        // d1 names d2 by URI only, on component [app, d1, dep].
        let d1 = manifest(
            1,
            &[&[b"app", b"d1"], &[b"app", b"d1", b"dep"]],
            &[1],
            &[b"app", b"d1"],
            vec![(
                20,
                fetch_check_process_with(1, vec![(21, text(D2_URI))]).to_vec(),
            )],
        );
        // The root sets d2's digest on that component, then fetches and processes d1.
        let mut install = vec![
            int(12),
            int(2),
            int(20),
            map(vec![(3, bytes(&manifest_digest(&d2)))]),
        ];
        install.extend(fetch_check_process(1, &manifest_digest(&d1), D1_URI));
        let root = manifest(
            1,
            &[
                &[b"app", b"root"],
                &[b"app", b"root", b"dep"],
                &[b"app", b"d1", b"dep"],
            ],
            &[1],
            &[b"app", b"root"],
            vec![(20, install)],
        );
        let env = sealed(&root, AUTHOR_PRIV, &[]);
        let mut s = svc::provisioned(&[b"app"]);
        svc::prepare(&mut s, &env).unwrap();
        let d1_env = sealed(&d1, AUTHOR_PRIV, &[]);
        assert_eq!(answers(&mut s, D1_URI, &d1_env, 1 << 16), [adds(&[D2_URI])]);
        let d2_env = sealed(&d2, AUTHOR_PRIV, &[]);
        assert_eq!(answers(&mut s, D2_URI, &d2_env, 1 << 16), [adds(&[URI])]);
        assert_eq!(image_then_finish(&mut s), ["['app', 'd2']"]);
    }

    /// Review s38 (re-review): the walk kept every URI a dependency names (copies of up to
    /// 2 KiB each, in its answer and in the names it looked up), uncharged, however many
    /// siblings named hundreds: the TA's heap could run out before `finish`. It stops at one
    /// more than an install takes, which both callers refuse.
    #[test]
    fn the_walk_lists_at_most_one_uri_more_than_an_install_takes() {
        use suit_common::suit::{check, Delivered, Procedure};
        let cap = suit_common::protocol::MAX_PAYLOADS + 1;
        // Twelve: more than an install takes, within the engine's decode bounds.
        let mut install = vec![int(12), int(0)];
        for k in 0..12 {
            install.extend(fetch_checked(
                IMAGE,
                &format!("https://example.com/p{k}.bin"),
            ));
        }
        let d = manifest(
            1,
            &[&[b"app", b"d0"]],
            &[],
            &[b"app", b"d0"],
            vec![(20, install)],
        );
        let d_env = sealed(&d, AUTHOR_PRIV, &[]);
        let env = sealed(&dependent(1, b"root", &d, DEP_URI), AUTHOR_PRIV, &[]);
        struct One(Vec<u8>);
        impl Delivered for One {
            fn envelope(&mut self, uri: &str, room: usize) -> Option<Vec<u8>> {
                (uri == DEP_URI && self.0.len() <= room).then(|| self.0.clone())
            }
        }
        let policy = suit_test_support::keys::policy_of(vec![suit_test_support::keys::anchor(
            1,
            suit_test_support::keys::p256_public_from_pem(AUTHOR_PUB),
            suit_common::suit::policy::Role::Author,
        )]);
        let checked = check(&env, Procedure::Update, &policy, |_| Ok(None)).unwrap();
        let uris = checked.payload_uris_with_dependencies(&policy, &mut One(d_env));
        assert_eq!(uris.len(), cap, "{uris:?}");
        assert_eq!(uris[0], DEP_URI);
        // The service answers it as too many: nothing added.
        let mut s = svc::provisioned(&[b"app"]);
        svc::prepare(&mut s, &env).unwrap();
        let d_env = sealed(&d, AUTHOR_PRIV, &[]);
        assert!(answers(&mut s, DEP_URI, &d_env, 1 << 16)
            .iter()
            .all(|a| *a == PayloadChunkResponse::default()));
    }

    /// install of `[app, name]`: a try-each whose first option fetches `delta` only if the
    /// component holds an older image (it fails on a fresh device: `delta` is never fetched),
    /// the second fetches `image` from `uri`; then a copy into it from `[app, name, spare]`,
    /// which no device has.
    fn try_each_then_copy(name: &[u8], image: &[u8], uri: &str, delta: &str) -> Vec<u8> {
        let older = vec![
            int(20),
            map(vec![
                (3, bytes(&suit_digest(b"an older image"))),
                (14, int(14)),
            ]),
            int(3),
            int(15),
            int(20),
            map(vec![(21, text(delta))]),
            int(21),
            int(15),
        ];
        let whole = fetch_checked(image, uri);
        let install = vec![
            int(12),
            int(0),
            int(15),
            Value::Array(vec![
                bytes(&cbor(&Value::Array(older))),
                bytes(&cbor(&Value::Array(whole))),
            ]),
            int(12),
            int(0),
            int(20),
            map(vec![(22, int(1))]),
            int(22),
            int(15),
        ];
        manifest(
            1,
            &[&[b"app", name], &[b"app", name, b"spare"]],
            &[],
            &[b"app", name],
            vec![(20, install)],
        )
    }

    /// A fetch of a URI prepare listed and the REE did not send is refused naming that URI
    /// (the agent then knows which URI it left out was needed), in the root and in a
    /// dependency; a `NotFound` for anything else (a copy from a component the device lacks,
    /// after a try-each skipped the option whose URI the REE left out) stays the engine's
    /// refusal and names no URI. Nothing is installed either way. Review s28 (rr3).
    #[test]
    fn only_a_listed_payload_the_ree_did_not_send_is_refused_as_not_delivered() {
        const DELTA: &str = "https://example.com/delta.bin";
        let not_delivered = |uri: &str| {
            Some(Fault::Install(InstallError::Commit(
                CommitRefusal::PayloadNotDelivered(uri.into()),
            )))
        };
        let leaf_env = sealed(&leaf(1, b"d0", IMAGE, URI), AUTHOR_PRIV, &[]);
        let with_dependency = {
            let r = dependent(1, b"root", &leaf(1, b"d0", IMAGE, URI), "#dep");
            sealed(&r, AUTHOR_PRIV, &[("#dep", &leaf_env)])
        };
        for env in [&leaf_env, &with_dependency] {
            let mut s = svc::provisioned(&[b"app"]);
            let prepared = svc::prepare(&mut s, env).unwrap();
            assert_eq!(prepared.needed_uris, vec![URI.to_string()]);
            let r = refusal(finish(&mut s));
            assert_eq!(r.kind, RefusalKind::Manifest);
            assert_eq!(r.fault, not_delivered(URI), "{}", r.reason);
            says(
                &r.reason,
                &format!("the manifest fetches {URI}, which the normal world did not deliver"),
            );
            assert!(svc::state(&s).components.is_empty());
        }

        let copy = try_each_then_copy(b"d0", IMAGE, URI, DELTA);
        let copy_env = sealed(&copy, AUTHOR_PRIV, &[]);
        let in_dependency = {
            let r = dependent(1, b"root", &copy, "#dep");
            sealed(&r, AUTHOR_PRIV, &[("#dep", &copy_env)])
        };
        for env in [&copy_env, &in_dependency] {
            let mut s = svc::provisioned(&[b"app"]);
            let prepared = svc::prepare(&mut s, env).unwrap();
            let mut listed = prepared.needed_uris.clone();
            listed.sort();
            assert_eq!(listed, [URI, DELTA]);
            // The image sent, the skipped option's delta left out, as the agent does.
            svc::send_payload(&mut s, URI, IMAGE.len() as u64, IMAGE).unwrap();
            let r = refusal(finish(&mut s));
            assert_eq!(r.kind, RefusalKind::Manifest);
            assert!(
                matches!(r.fault, Some(Fault::Install(InstallError::Refused(_)))),
                "{:?}",
                r.fault
            );
            says(&r.reason, "not found");
            assert!(!r.reason.contains(DELTA), "{}", r.reason);
            assert!(svc::state(&s).components.is_empty());
        }
    }

    // -----------------------------------------------------------------------------------
    // What a dependency does to a component is recorded under the dependency's own number,
    // never its dependent's or the run's highest (review s29).

    /// Manifest `seq` (id `id`) removing its one component `id` (suit-directive-unlink).
    fn removal(seq: i64, id: &[&[u8]]) -> Vec<u8> {
        let install = vec![int(12), int(0), int(33), int(15)];
        manifest(seq, &[id], &[], id, vec![(20, install)])
    }

    /// Root `root` processing dependency `dep`, both signed by the author, installed on `s`.
    fn run_dependency(s: &mut Service<Mem>, root: i64, dep: &[u8]) -> Result<(), Refused> {
        let dep_env = sealed(dep, AUTHOR_PRIV, &[]);
        let r = dependent(root, b"root", dep, "#dep");
        let env = sealed(&r, AUTHOR_PRIV, &[("#dep", &dep_env)]);
        install(s, &env, &[(URI, IMAGE)], 1000)
            .map(drop)
            .map_err(|(_, r)| r)
    }

    /// The number `id`'s record holds, if it is installed.
    fn installed_by(s: &Service<Mem>, id: &[&[u8]]) -> Option<u64> {
        let id = suit_common::suit::ComponentId::new(id);
        svc::state(s).component(&id).map(|c| c.sequence_number)
    }

    /// A removal a dependency (number 3) made under root 100 floors the component at 3: the
    /// author's release 3 of it is refused as removed, release 4 installs it (the floor was
    /// the run's highest number, 100, which held the author's own releases off).
    #[test]
    fn a_removal_by_a_dependency_floors_the_component_at_the_dependencys_number() {
        let mut s = svc::provisioned(&[b"app"]);
        let x: &[&[u8]] = &[b"app", b"x"];
        run_dependency(&mut s, 1, &leaf(2, b"x", IMAGE, URI)).unwrap();
        run_dependency(&mut s, 100, &removal(3, x)).unwrap();
        assert_eq!(installed_by(&s, x), None);
        assert_floor(&mut s, 101, x, 3);
    }

    /// `run_dependency` refuses the author's release `floor` of `id` as removed by a manifest
    /// numbered `floor`, and installs release `floor + 1` (root numbers from `root`).
    fn assert_floor(s: &mut Service<Mem>, root: i64, id: &[&[u8]], floor: i64) {
        let name = id[1];
        let r = run_dependency(s, root, &leaf(floor, name, IMAGE, URI)).unwrap_err();
        let removed = CommitRefusal::Removed {
            component: suit_common::suit::ComponentId::new(id),
            floor: floor as u64,
        };
        assert_eq!(
            r.fault,
            Some(Fault::Install(InstallError::Commit(removed))),
            "{}",
            r.reason
        );
        run_dependency(s, root, &leaf(floor + 1, name, IMAGE, URI)).unwrap();
        assert_eq!(installed_by(s, id), Some(floor as u64 + 1));
    }

    /// Two dependencies of root 100 remove `x`: A (number 5) inside a try-each option, B
    /// (number 3) plainly. The floor is the higher number of the removals that stand: 5, or
    /// B's 3 when A's option fails and its removal is cancelled.
    #[test]
    fn the_floor_of_a_removal_is_the_highest_number_of_the_removals_that_stand() {
        let x: &[&[u8]] = &[b"app", b"x"];
        for (cancelled, floor) in [(false, 5), (true, 3)] {
            let mut s = svc::provisioned(&[b"app"]);
            run_dependency(&mut s, 1, &leaf(2, b"x", IMAGE, URI)).unwrap();
            let mut unlink = vec![int(33), int(15)];
            if cancelled {
                // suit-condition-abort
                unlink.extend([int(14), int(15)]);
            }
            let vendor = vec![int(1), int(15)];
            let options = [unlink, vendor].map(|o| bytes(&cbor(&Value::Array(o))));
            let try_each = vec![int(12), int(0), int(15), Value::Array(options.to_vec())];
            // Each with a component list of its own (a dependency's rollback key), so that
            // neither holds `leaf`'s releases of `x` back.
            let a = manifest(5, &[x, &[b"app", b"a"]], &[], x, vec![(20, try_each)]);
            let remove = vec![int(12), int(0), int(33), int(15)];
            let b = manifest(3, &[x, &[b"app", b"b"]], &[], x, vec![(20, remove)]);
            let mut both = fetch_check_process(1, &manifest_digest(&a), "#a").to_vec();
            both.extend(fetch_check_process(2, &manifest_digest(&b), "#b"));
            let root = manifest(
                100,
                &[
                    &[b"app", b"root"],
                    &[b"app", b"root", b"a"],
                    &[b"app", b"root", b"b"],
                ],
                &[1, 2],
                &[b"app", b"root"],
                vec![(20, both)],
            );
            let (a, b) = (sealed(&a, AUTHOR_PRIV, &[]), sealed(&b, AUTHOR_PRIV, &[]));
            let env = sealed(&root, AUTHOR_PRIV, &[("#a", &a), ("#b", &b)]);
            install(&mut s, &env, &[], 1000).unwrap();
            assert_eq!(installed_by(&s, x), None);
            assert_floor(&mut s, 101, x, floor);
        }
    }

    /// Tenant B's signed removal of its component, processed by tenant A's root numbered
    /// 2^62, floors the component at the removal's number: B's next release installs it
    /// again (A's number held B off its own component for good).
    #[test]
    fn a_tenant_processing_another_tenants_removal_sets_no_floor_of_its_own() {
        let mut s = device();
        let tenants = vec![
            app_anchor(1, AUTHOR_PUB, RoleRecord::Author, b"app-a"),
            app_anchor(2, OPERATOR_PUB, RoleRecord::Author, b"app-b"),
            identity(VENDOR_ID),
        ];
        provision(&mut s, TPA_PRIV, 1, None, tenants).unwrap();
        let x: &[&[u8]] = &[b"app-b", b"x"];
        let release = |seq| {
            let mut install = vec![int(12), int(0)];
            install.extend(fetch_checked(IMAGE, "#x"));
            let m = manifest(seq, &[x], &[], x, vec![(20, install)]);
            sealed(&m, OPERATOR_PRIV, &[("#x", IMAGE)])
        };
        install(&mut s, &release(1), &[], 1000).unwrap();
        let unlink = removal(2, x);
        let root = manifest(
            1 << 62,
            &[&[b"app-a", b"r"], &[b"app-a", b"r", b"dep"]],
            &[1],
            &[b"app-a", b"r"],
            vec![(
                20,
                fetch_check_process(1, &manifest_digest(&unlink), "#dep").to_vec(),
            )],
        );
        let unlink_env = sealed(&unlink, OPERATOR_PRIV, &[]);
        let env = sealed(&root, AUTHOR_PRIV, &[("#dep", &unlink_env)]);
        install(&mut s, &env, &[], 1000).unwrap();
        assert_eq!(installed_by(&s, x), None);
        install(&mut s, &release(3), &[], 1000).unwrap();
        assert_eq!(installed_by(&s, x), Some(3));
    }

    // -----------------------------------------------------------------------------------
    // A dependency re-run unchanged by a newer dependent (review s29).

    /// Release `seq` of root `['app', 'root']`: it installs its own component (new content
    /// each release) and processes one unchanged dependency (number 1) that installs TA `TA`
    /// (version 1), its personalization data and a secure component.
    pub(crate) fn ta_dependent(seq: i64) -> svc::Release {
        let ta = svc::ta_image(TA, 1);
        let ids: [&[&[u8]]; 3] = [&[&TA], &[&TA, b"perso"], &[&TA, b"blob"]];
        let parts = [
            svc::part(ids[0], &ta, "#ta"),
            svc::part(ids[1], b"personalization data", "#perso"),
            svc::part(ids[2], b"a secure component", "#blob"),
        ];
        let mut install = vec![];
        for (i, p) in parts.iter().enumerate() {
            install.extend([int(12), int(i as i64)]);
            install.extend(fetch_checked(p.image, p.uri));
        }
        let dep = manifest(1, &ids, &[], &[&TA], vec![(20, install)]);
        let integrated: Vec<(&str, &[u8])> = parts.iter().map(|p| (p.uri, p.image)).collect();
        let dep_env = sealed(&dep, AUTHOR_PRIV, &integrated);
        let own = format!("root release {seq}").into_bytes();
        let mut install = fetch_check_process(1, &manifest_digest(&dep), "#dep").to_vec();
        install.extend([int(12), int(0)]);
        install.extend(fetch_checked(&own, "#own"));
        let root = manifest(
            seq,
            &[&[b"app", b"root"], &[b"app", b"root", b"dep"]],
            &[1],
            &[b"app", b"root"],
            vec![(20, install)],
        );
        let envelope = sealed(&root, AUTHOR_PRIV, &[("#dep", &dep_env), ("#own", &own)]);
        svc::Release {
            envelope,
            payloads: vec![],
        }
    }

    /// The dependency's unchanged TA (version 1, not newer than itself), its data and its
    /// secure component, re-run by the root's release 2: accepted (the TA was refused as not
    /// newer, and the envelope taken as decided), OP-TEE not asked to install the TA again,
    /// every record of the dependency's kept as it was (object included), nothing left over.
    #[test]
    fn a_newer_dependent_reuses_an_unchanged_dependency_that_installs_a_ta() {
        let mut s = svc::device();
        svc::install(&mut s, &ta_dependent(1)).unwrap();
        let dependency = |s: &Service<Mem>| {
            let mut st = svc::state(s);
            st.components.retain(|c| c.id[0].as_slice() == TA);
            st.components
        };
        let before = dependency(&s);
        assert_eq!(before.len(), 3);
        svc::install(&mut s, &ta_dependent(2)).unwrap();
        assert_eq!(s.backend().installed_tas.len(), 1, "the TA installed once");
        assert_eq!(dependency(&s), before);
        assert_eq!(installed_by(&s, &[b"app", b"root"]), Some(2));
        crate::power_cut::assert_no_orphans(&mut s, "after release 2");
        assert_eq!(
            svc::personalization(&mut s).as_deref(),
            Some(&b"personalization data"[..])
        );
    }
}

/// Every CBOR command, asked with its request type (`protocol::Request`, the pairing the
/// agent's calls use), is answered with that request's response: each answer below decodes
/// as the response type the protocol pairs with the request, so no handler answers with
/// another command's message.
#[test]
fn every_command_is_answered_with_its_requests_response() {
    fn ask<Q: Request>(s: &mut Service<Mem>, asked: &mut Vec<u32>, q: &Q) -> Q::Response {
        asked.push(Q::COMMAND as u32);
        match suit_test_support::service::ask(s, q) {
            Ok(r) => r,
            Err((status, r)) => panic!("{:?}: {status:?} {}", Q::COMMAND, r.reason),
        }
    }
    let mut asked = Vec::new();
    let a = &mut asked;
    let mut s = device();
    let s = &mut s;
    let st = ask(s, a, &StatusRequest {});
    assert_eq!(st.protocol_version, PROTOCOL_VERSION);
    let kid = ask(s, a, &DeviceKeyRequest { anchor: None }).identity_kid;
    let author = Op::AddAnchor(AnchorRecord {
        id: 1,
        cose_key: cose_key(AUTHOR_PUB),
        role: RoleRecord::Author,
        scope: Scope {
            component_prefixes: vec![
                vec![ByteBuf::from(TA.to_vec())],
                vec![ByteBuf::from(b"ree".to_vec())],
            ],
            vendor_ids: vec![],
            class_ids: vec![],
            ree_plaintext: false,
            tracker_key: None,
        },
        key_scope: 0,
    });
    let body = ProvisioningBody {
        counter: 1,
        device: kid,
        ops: vec![author, identity(VENDOR_ID)],
    };
    let message = seal(
        &body,
        &p256_private_from_pem(TPA_PRIV),
        Algorithm::Esp256,
        b"",
    )
    .unwrap();
    let provisioned = ask(
        s,
        a,
        &ProvisionRequest {
            message: ByteBuf::from(message),
        },
    );
    assert_eq!(provisioned.counter, 1);
    assert_eq!(ask(s, a, &AnchorsRequest {}).anchors.len(), 1);
    deliver(s, 1, &[&TA, b"perso"], b"perso data").unwrap();

    // An REE file, its payload detached: every install step asked with its own type.
    let content = vec![0x3c; 5000];
    let uri = "https://example.com/app.conf";
    let m = manifest(2, &[b"ree", b"etc", b"app.conf"], &content, uri, VENDOR_ID);
    let envelope = sign(&m, &[AUTHOR_PRIV], &[]);
    let len = envelope.len() as u64;
    let Empty {} = ask(s, a, &InstallBeginRequest { envelope_len: len });
    let data = ByteBuf::from(envelope);
    let Empty {} = ask(s, a, &ChunkRequest { offset: 0, data });
    let prepared = ask(s, a, &InstallPrepareRequest {});
    assert_eq!(prepared.needed_uris, [uri]);
    let chunk = PayloadChunkRequest {
        uri: uri.into(),
        total_len: content.len() as u64,
        offset: 0,
        data: ByteBuf::from(content.clone()),
    };
    assert_eq!(ask(s, a, &chunk), PayloadChunkResponse::default());
    let done = ask(s, a, &InstallFinishRequest {});
    assert_eq!(done.ree_paths, ["etc/app.conf"]);

    let nonce = Some(ByteBuf::from(vec![9; 16]));
    let signed = ask(
        s,
        a,
        &ReportRequest {
            nonce,
            pre_auth: false,
        },
    )
    .report;
    assert!(!signed.is_empty());
    let path = "etc/app.conf".to_string();
    let exported = ask(s, a, &ReeExportRequest { path, offset: 0 });
    assert_eq!(exported.data.as_slice(), content);
    s.backend_mut().client = Client::TrustedApp(TA);
    let perso = ask(s, a, &PersonalizationRequest {});
    assert_eq!(perso.data.as_slice(), b"perso data");

    // Nothing awaits its envelope: the abandon names none and is refused, but answered.
    asked.push(Command::InstallAbandon as u32);
    let abandon = suit_test_support::service::ask(
        s,
        &InstallAbandonRequest {
            envelope: ByteBuf::from(vec![0; 32]),
        },
    );
    assert!(
        matches!(&abandon, Err((_, r)) if matches!(r.fault, Some(suit_common::fault::Fault::Service(suit_common::fault::ServiceFault::NotAwaited)))),
        "{abandon:?}"
    );

    let mut paired: Vec<u32> = REQUESTS.iter().map(|c| *c as u32).collect();
    paired.sort_unstable();
    asked.sort_unstable();
    assert_eq!(asked, paired, "every command with a request type, once");
}
