//! Attacks on TPA provisioning, host-natively on the TA's service (in-memory backend), with
//! the REE as the attacker: it relays (or not) every message, in any order, and sees every
//! byte that crosses the boundary. Each attack is refused with a typed refusal and leaves
//! the stored state unchanged.

use ciborium::Value;
use sha2::{Digest as _, Sha256};

use suit_common::cose::{create_auth_block, Algorithm, SigningKey};
use suit_common::protocol::{self, *};
use suit_common::service::keys::DeviceKeyPair;
use suit_common::service::memory::MemoryBackend;
use suit_common::service::provision::{self, verify_receipt, Op};
use suit_common::service::state::{AnchorRecord, Identity, RoleRecord, State};
use suit_common::service::Service;
use suit_common::suit::author::{seal_envelope, Signer};
use suit_test_support::service::Refused;

use suit_test_support::service::{
    cbor, cose_key, int, kek_op, scope, secret_anchor_op, secrets_to, service, snapshot, Mem,
    SecretsTo,
};
use suit_test_support::{
    check_vendor_class, fetch_and_check, p256_private_from_pem, suit_manifest, symmetric_cose_key,
    AUTHOR_PUB, CLASS_ID, TPA_PRIV, TPA_PUB, VENDOR_ID,
};

fn device() -> Service<Mem> {
    service(suit_test_support::service::backend(7))
}

/// The symmetric anchor key the TPA provisions: it must never be visible to the REE.
const HMAC_SECRET: &[u8; 32] = b"attack-test-hmac-anchor-secret!!";
const KEK: &[u8; 16] = b"attack-test-kek!";

fn call<Q: Codec, R: Codec>(
    s: &mut Service<Mem>,
    cmd: Command,
    q: &Q,
) -> (Result<R, Refused>, Vec<u8>) {
    let reply = s.invoke(
        cmd as u32,
        PROTOCOL_VERSION,
        &mut protocol::encode(q).unwrap(),
    );
    let body = reply.body.clone();
    // The clients' one reply reader (slot 0 length, refusal decoding).
    let r =
        protocol::decode_reply(reply.status as u32, reply.detail, &reply.body).map_err(
            |e| match e {
                protocol::ReplyError::Refused(r) => Refused::of(&r),
                other => panic!("unexpected reply: {other}"),
            },
        );
    (r, body)
}

struct Keys {
    /// Where the TPA's secrets for this device go (and the identity kid messages name).
    to: SecretsTo,
    identity_sec1: Vec<u8>,
    report_kid: Vec<u8>,
}

fn keys(s: &mut Service<Mem>) -> Keys {
    let to = secrets_to(s);
    let k = DeviceKeyPair::load_or_create(s.backend_mut()).unwrap();
    Keys {
        to,
        identity_sec1: k.identity_public().sec1,
        report_kid: k.report_public().kid,
    }
}

/// A fresh device and its keys.
fn fresh() -> (Service<Mem>, Keys) {
    let mut s = device();
    let k = keys(&mut s);
    (s, k)
}

fn message(counter: u64, device: &[u8], ops: Vec<Op>) -> Vec<u8> {
    suit_test_support::service::tpa_message(counter, device, ops)
}

/// Relays a message; returns the response (or refusal) and every byte the REE saw back.
fn relay(s: &mut Service<Mem>, msg: &[u8]) -> (Result<ProvisionResponse, Refused>, Vec<u8>) {
    call(
        s,
        Command::Provision,
        &ProvisionRequest {
            message: ByteBuf::from(msg.to_vec()),
        },
    )
}

fn refused(s: &mut Service<Mem>, msg: &[u8], expected: &str) {
    let before = snapshot(s);
    match relay(s, msg).0 {
        Err(r) => {
            assert_eq!(r.kind, RefusalKind::Provisioning);
            assert!(
                r.reason.contains(expected),
                "{:?} lacks {expected:?}",
                r.reason
            );
        }
        Ok(r) => panic!(
            "accepted ({:?}), expected a refusal with {expected:?}",
            r.applied
        ),
    }
    assert_eq!(
        snapshot(s),
        before,
        "a refused message changed stored state"
    );
}

/// Relays message `counter` with `ops`, bound to `k`'s device: it must be applied.
fn apply(s: &mut Service<Mem>, k: &Keys, counter: u64, ops: Vec<Op>) -> ProvisionResponse {
    relay(s, &message(counter, &k.to.identity_kid, ops))
        .0
        .unwrap()
}

/// [`refused`] for message `counter` with `ops`, bound to `k`'s device.
fn refuse(s: &mut Service<Mem>, k: &Keys, counter: u64, ops: Vec<Op>, expected: &str) {
    refused(s, &message(counter, &k.to.identity_kid, ops), expected);
}

fn identity_op() -> Op {
    Op::SetIdentity(Identity {
        vendor_id: Some(ByteBuf::from(VENDOR_ID.to_vec())),
        class_id: Some(ByteBuf::from(CLASS_ID.to_vec())),
        device_id: None,
    })
}

/// `secret` as symmetric anchor `id` (scope `mac`), wrapped for a message the root signs.
fn secret_anchor(k: &Keys, id: u32, role: RoleRecord, secret: &[u8]) -> Op {
    let key = symmetric_cose_key(b"op-hmac", secret);
    secret_anchor_op(&k.to, TPA_PRIV, id, role, scope(&[b"mac"]), &key)
}

/// [`HMAC_SECRET`] as an anchor in clear (scope `prefix`), which the device must refuse.
fn clear_symmetric_anchor(id: u32, role: RoleRecord, prefix: &[u8]) -> Op {
    Op::AddAnchor(AnchorRecord {
        id,
        cose_key: ByteBuf::from(symmetric_cose_key(b"op-hmac", HMAC_SECRET)),
        role,
        scope: scope(&[prefix]),
        key_scope: 0,
    })
}

/// A KEK for the manifests of anchor 2 (holding [`HMAC_SECRET`]), wrapped for a message the
/// root signs.
fn add_kek(k: &Keys, kid: &[u8], kek: &[u8]) -> Op {
    let anchor = symmetric_cose_key(b"op-hmac", HMAC_SECRET);
    kek_op(&k.to, TPA_PRIV, kid, &[(2, &anchor)], kek)
}

fn remove_kek(kid: &[u8]) -> Op {
    Op::RemoveKek {
        kid: ByteBuf::from(kid.to_vec()),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// A manifest for component ['mac'] with an integrated payload, MAC'd with `secret`.
fn mac_envelope(secret: &[u8], payload: &[u8]) -> Vec<u8> {
    let digest = cbor(&Value::Array(vec![
        int(-16),
        Value::Bytes(Sha256::digest(payload).to_vec()),
    ]));
    let shared = Value::Array(check_vendor_class(
        vec![],
        Value::Bytes(VENDOR_ID.to_vec()),
        Value::Bytes(CLASS_ID.to_vec()),
        vec![(3, Value::Bytes(digest)), (14, int(payload.len() as i64))],
        15,
    ));
    let install = Value::Array(fetch_and_check("#p", 2, 15));
    let manifest = suit_manifest(
        1,
        vec![Value::Array(vec![Value::Bytes(b"mac".to_vec())])],
        &shared,
        &install,
    );
    let key = SigningKey::hmac256(secret).unwrap();
    let signer = Signer {
        key: &key,
        alg: Algorithm::Hmac256,
        kid: b"op-hmac",
    };
    seal_envelope(&manifest, &[signer], &[], &[("#p", payload)]).unwrap()
}

fn install(s: &mut Service<Mem>, envelope: &[u8]) -> Result<InstallFinishResponse, Refused> {
    let begin = InstallBeginRequest {
        envelope_len: envelope.len() as u64,
    };
    call::<_, Empty>(s, Command::InstallBegin, &begin).0?;
    let chunk = ChunkRequest {
        offset: 0,
        data: ByteBuf::from(envelope.to_vec()),
    };
    call::<_, Empty>(s, Command::InstallEnvelope, &chunk).0?;
    call::<_, InstallPrepareResponse>(s, Command::InstallPrepare, &Empty {}).0?;
    call(s, Command::InstallFinish, &Empty {}).0
}

// ---------------------------------------------------------------------------------------
// Finding 3: symmetric anchors.

#[test]
fn a_cleartext_symmetric_anchor_is_refused() {
    let (mut s, k) = fresh();
    let clear = clear_symmetric_anchor(2, RoleRecord::Operator, b"mac");
    refuse(&mut s, &k, 1, vec![clear], "in clear is refused");
}

#[test]
fn an_encrypted_symmetric_anchor_works_and_its_key_never_leaves() {
    let (mut s, k) = fresh();
    let anchor = secret_anchor(&k, 2, RoleRecord::Author, HMAC_SECRET);
    let msg = message(1, &k.to.identity_kid, vec![identity_op(), anchor]);
    assert!(
        !contains(&msg, HMAC_SECRET),
        "the message the REE relays carries the key in clear"
    );
    let (r, mut seen) = relay(&mut s, &msg);
    assert!(r
        .unwrap()
        .applied
        .iter()
        .any(|l| l.to_string() == "added anchor 2 (Author)"));

    // The anchor authenticates COSE_Mac0 manifests inside the TA.
    let done = install(&mut s, &mac_envelope(HMAC_SECRET, b"mac'd payload")).unwrap();
    assert_eq!(done.signers, vec![2]);
    // A manifest MAC'd with another key is refused.
    let r = install(&mut s, &mac_envelope(&[0x55; 32], b"forged")).unwrap_err();
    assert!(
        r.reason.contains("authent") || r.reason.contains("sign"),
        "{}",
        r.reason
    );

    // Nothing the REE can ask for shows the key: anchors, status, device keys.
    let (a, bytes) = call::<_, AnchorsResponse>(&mut s, Command::Anchors, &Empty {});
    let a = a.unwrap();
    assert_eq!(a.anchors[0].key_type.to_string(), "symmetric");
    assert_eq!(a.anchors[0].kid.as_slice(), b"op-hmac");
    seen.extend(bytes);
    seen.extend(call::<_, StatusResponse>(&mut s, Command::Status, &Empty {}).1);
    seen.extend(call::<_, DeviceKeyResponse>(&mut s, Command::DeviceKey, &Empty {}).1);
    assert!(
        !contains(&seen, HMAC_SECRET),
        "a response carries the anchor key"
    );
}

#[test]
fn a_symmetric_key_never_holds_the_tpa_role() {
    let (mut s, k) = fresh();
    let wrapped = secret_anchor(&k, 3, RoleRecord::Tpa, HMAC_SECRET);
    refuse(&mut s, &k, 1, vec![wrapped], "cannot hold the TPA role");
    let clear = clear_symmetric_anchor(3, RoleRecord::Tpa, b"");
    refuse(&mut s, &k, 1, vec![clear], "symmetric");
}

#[test]
fn a_wrapped_key_cannot_be_moved_to_another_anchor_or_device() {
    let (mut s, k) = fresh();
    // Wrapped for anchor 2, offered as anchor 4 (external_aad binds the id).
    let Op::AddSecretAnchor { wrapped_key, .. } =
        secret_anchor(&k, 2, RoleRecord::Author, HMAC_SECRET)
    else {
        unreachable!()
    };
    let moved = Op::AddSecretAnchor {
        id: 4,
        role: RoleRecord::Author,
        scope: scope(&[b"mac"]),
        wrapped_key,
    };
    refuse(&mut s, &k, 1, vec![moved], "does not open");
    // Wrapped for another device's provisioning key.
    let mut other = device();
    *other.backend_mut() = MemoryBackend::new(99);
    let ok = keys(&mut other);
    let for_other = secret_anchor(&ok, 2, RoleRecord::Author, HMAC_SECRET);
    refuse(&mut s, &k, 1, vec![for_other], "does not open");
}

// ---------------------------------------------------------------------------------------
// Finding 7: binding, counters, receipts.

#[test]
fn a_message_for_another_device_or_bound_to_the_wrong_key_is_refused() {
    let (mut s, k) = fresh();
    refused(
        &mut s,
        &message(1, &[0xaa; 16], vec![identity_op()]),
        "bound to another device",
    );
    // Another key's id of the same device (the report key) is not its identity.
    refused(
        &mut s,
        &message(1, &k.report_kid, vec![identity_op()]),
        "another device",
    );
    // Unbound (the old format's absent/null device): does not even decode.
    struct Unbound {
        counter: u64,
        device: Option<ByteBuf>,
        ops: Vec<Op>,
    }
    suit_common::cbor::struct_codec!(Unbound {
        counter,
        device,
        ops
    });
    let body = suit_common::service::record::encode(&Unbound {
        counter: 1,
        device: None,
        ops: vec![identity_op()],
    })
    .unwrap();
    let auth = create_auth_block(
        &p256_private_from_pem(TPA_PRIV),
        Algorithm::Esp256,
        b"",
        &body,
    )
    .unwrap();
    let msg = cbor(&Value::Array(vec![
        Value::Bytes(body),
        ciborium::de::from_reader(auth.as_slice()).unwrap(),
    ]));
    refused(&mut s, &msg, "malformed");
}

#[test]
fn dropping_a_message_is_detected_and_replays_are_refused() {
    let (mut s, k) = fresh();
    let add = message(
        1,
        &k.to.identity_kid,
        vec![Op::AddAnchor(AnchorRecord {
            id: 1,
            cose_key: cose_key(AUTHOR_PUB),
            role: RoleRecord::Author,
            scope: scope(&[b"app"]),
            key_scope: 0,
        })],
    );
    let revoke = message(2, &k.to.identity_kid, vec![Op::RemoveAnchor { id: 1 }]);
    let next = message(3, &k.to.identity_kid, vec![identity_op()]);
    relay(&mut s, &add).0.unwrap();
    // The REE drops the revocation and relays the next message: refused.
    refused(&mut s, &next, "skips message(s) 2..=2");
    assert_eq!(
        call::<_, AnchorsResponse>(&mut s, Command::Anchors, &Empty {})
            .0
            .unwrap()
            .anchors
            .len(),
        1
    );
    relay(&mut s, &revoke).0.unwrap();
    relay(&mut s, &next).0.unwrap();
    // Replays of anything applied: refused.
    for m in [&add, &revoke, &next] {
        refused(&mut s, m, "replayed or older");
    }
    let a = call::<_, AnchorsResponse>(&mut s, Command::Anchors, &Empty {})
        .0
        .unwrap();
    assert_eq!((a.provisioning_counter, a.anchors.len()), (3, 0));
}

#[test]
fn the_receipt_names_the_applied_message_and_state_and_tampering_fails() {
    let (mut s, k) = fresh();
    let anchor = secret_anchor(&k, 2, RoleRecord::Operator, HMAC_SECRET);
    let ops = vec![identity_op(), anchor, add_kek(&k, b"kek-1", KEK)];
    let msg = message(1, &k.to.identity_kid, ops);
    let (r, seen) = relay(&mut s, &msg);
    let r = r.unwrap();
    assert!(!contains(&seen, KEK) && !contains(&seen, HMAC_SECRET));
    let receipt = verify_receipt(&r.receipt, &k.identity_sec1).unwrap();
    assert_eq!(receipt.counter, 1);
    assert_eq!(receipt.device.as_slice(), k.to.identity_kid.as_slice());
    assert_eq!(
        receipt.message_digest.as_slice(),
        Sha256::digest(&msg).as_slice()
    );
    // The state digest is the one of what the device now holds.
    let state = State::load(s.backend()).unwrap();
    let keks = provision::load_keks(s.backend(), &state).unwrap();
    assert_eq!(keks.len(), 1);
    let digest = provision::state_digest(&state, &keks).unwrap();
    assert_eq!(receipt.state_digest.as_slice(), digest.as_slice());
    // It changes with the state.
    let r2 = apply(&mut s, &k, 2, vec![remove_kek(b"kek-1")]);
    let receipt2 = verify_receipt(&r2.receipt, &k.identity_sec1).unwrap();
    assert_ne!(receipt2.state_digest, receipt.state_digest);
    assert_eq!(receipt2.counter, 2);

    // Any flipped byte, or another key, fails.
    for i in 0..r.receipt.len() {
        let mut t = r.receipt.to_vec();
        t[i] ^= 0x01;
        if let Ok(x) = verify_receipt(&t, &k.identity_sec1) {
            assert_eq!(
                x, receipt,
                "byte {i} changed the receipt's meaning yet it verified"
            );
        }
    }
    let other = DeviceKeyPair::load_or_create(&mut MemoryBackend::new(5)).unwrap();
    assert!(verify_receipt(&r.receipt, &other.identity_public().sec1).is_err());
}

/// A receipt is a COSE_Sign1, whose header values are `any` (RFC 9052): a float under a
/// private-use label in the unprotected bucket is skipped and the receipt verifies.
#[test]
fn a_float_in_a_private_header_of_a_receipt_is_skipped() {
    use coset::TaggedCborSerializable;
    let (mut s, k) = fresh();
    let r = apply(&mut s, &k, 1, vec![identity_op()]);
    let receipt = verify_receipt(&r.receipt, &k.identity_sec1).unwrap();
    let mut sign1 = coset::CoseSign1::from_tagged_slice(&r.receipt).unwrap();
    sign1
        .unprotected
        .rest
        .push((coset::Label::Int(-65_537), Value::Float(1.5)));
    let floated = sign1.to_tagged_vec().unwrap();
    assert_eq!(verify_receipt(&floated, &k.identity_sec1), Ok(receipt));
}

// ---------------------------------------------------------------------------------------
// KEKs.

#[test]
fn keks_are_added_removed_and_never_shown() {
    let (mut s, k) = fresh();
    let ops = vec![
        secret_anchor(&k, 2, RoleRecord::Author, HMAC_SECRET),
        add_kek(&k, b"kek-1", KEK),
    ];
    let (r, seen) = relay(&mut s, &message(1, &k.to.identity_kid, ops));
    assert_eq!(r.unwrap().applied[1].to_string(), "added KEK 'kek-1'");
    assert!(!contains(&seen, KEK));
    let stored = provision::load_keks(s.backend(), &State::load(s.backend()).unwrap()).unwrap();
    assert_eq!(
        (stored[0].kid.as_slice(), stored[0].key().expose()),
        (&b"kek-1"[..], &KEK[..])
    );
    assert_eq!(stored[0].anchors, vec![2]);
    // A KEK for an anchor the device does not have is refused.
    let Op::AddKek {
        kid, wrapped_key, ..
    } = add_kek(&k, b"kek-3", KEK)
    else {
        unreachable!()
    };
    let unknown = Op::AddKek {
        kid,
        anchors: vec![7],
        wrapped_key,
    };
    refuse(&mut s, &k, 2, vec![unknown], "unknown anchor 7");
    // A KEK in clear has no op; a wrong length is refused.
    let wrong_length = add_kek(&k, b"kek-2", &[1; 24]);
    refuse(&mut s, &k, 2, vec![wrong_length], "16 (A128KW) or 32");
    let again = add_kek(&k, b"kek-1", KEK);
    refuse(&mut s, &k, 2, vec![again], "already exists");
    apply(&mut s, &k, 2, vec![remove_kek(b"kek-1")]);
    assert!(
        provision::load_keks(s.backend(), &State::load(s.backend()).unwrap())
            .unwrap()
            .is_empty()
    );
}

#[test]
fn a_removed_anchor_takes_its_kek_access_with_it() {
    let (mut s, k) = fresh();
    let anchor = || vec![secret_anchor(&k, 2, RoleRecord::Author, HMAC_SECRET)];
    apply(&mut s, &k, 1, anchor());
    apply(&mut s, &k, 2, vec![add_kek(&k, b"kek-1", KEK)]);
    apply(&mut s, &k, 3, vec![Op::RemoveAnchor { id: 2 }]);
    // A new anchor with the same id does not inherit the KEK.
    apply(&mut s, &k, 4, anchor());
    let keks = provision::load_keks(s.backend(), &State::load(s.backend()).unwrap()).unwrap();
    assert!(keks[0].anchors.is_empty(), "{:?}", keks[0].anchors);
}

#[test]
fn a_power_cut_at_any_provisioning_write_leaves_old_or_new_never_a_mix() {
    for n in 0..8 {
        let (mut s, k) = fresh();
        let ops = vec![
            secret_anchor(&k, 2, RoleRecord::Author, HMAC_SECRET),
            add_kek(&k, b"old", KEK),
        ];
        apply(&mut s, &k, 1, ops);
        let ops = vec![
            remove_kek(b"old"),
            add_kek(&k, b"new", &[7; 32]),
            identity_op(),
        ];
        let msg = message(2, &k.to.identity_kid, ops);
        s.backend_mut().store_mut().fail_after = Some(n);
        let result = relay(&mut s, &msg).0;
        s.backend_mut().store_mut().fail_after = None;
        let state = State::load(s.backend()).unwrap();
        let keks = provision::load_keks(s.backend(), &state).unwrap();
        let ids: Vec<&[u8]> = keks.iter().map(|k| k.kid.as_slice()).collect();
        match state.provisioning_counter {
            1 => {
                assert!(result.is_err(), "cut {n}: accepted but not committed");
                assert_eq!(
                    ids,
                    vec![&b"old"[..]],
                    "cut {n}: old counter with a new KEK set"
                );
                assert!(state.identity.vendor_id.is_none());
                // The same message still applies afterwards.
                relay(&mut s, &msg).0.unwrap();
            }
            2 => {
                assert_eq!(
                    ids,
                    vec![&b"new"[..]],
                    "cut {n}: new counter with an old KEK set"
                );
                assert!(state.identity.vendor_id.is_some());
            }
            c => panic!("counter {c}"),
        }
        if result.is_ok() {
            assert!(n >= 2, "fault {n} did not hit a write");
            return;
        }
    }
    panic!("the message never went through");
}

/// The same through the TA's segment layer: its record cache lives on after each fault, in
/// the session that reads the state and KEKs back and applies the message again.
#[test]
fn a_power_cut_at_any_provisioning_write_leaves_old_or_new_never_a_mix_segmented() {
    suit_test_support::service::with_segments(
        crate::power_cut::segmented::SEG,
        a_power_cut_at_any_provisioning_write_leaves_old_or_new_never_a_mix,
    );
}

#[test]
fn one_key_is_never_two_anchors() {
    // A signature's kid is not signed: with one key under two ids the REE would choose which
    // anchor's scope, role and decryption keys a signature counts for.
    let (mut s, k) = fresh();
    let public = |id: u32, key: Vec<u8>| {
        Op::AddAnchor(AnchorRecord {
            id,
            cose_key: ByteBuf::from(key),
            role: RoleRecord::Author,
            scope: scope(&[b"app"]),
            key_scope: 0,
        })
    };
    apply(
        &mut s,
        &k,
        1,
        vec![public(1, cose_key(AUTHOR_PUB).to_vec())],
    );
    // The same key, encoded with a kid (another COSE_Key, the same key).
    let mut with_kid: Value = ciborium::from_reader(&cose_key(AUTHOR_PUB)[..]).unwrap();
    if let Value::Map(m) = &mut with_kid {
        m.insert(1, (int(2), Value::Bytes(b"other".to_vec())));
    }
    let again = public(2, cbor(&with_kid));
    refuse(&mut s, &k, 2, vec![again], "already held by anchor 1");
    // A shared secret under two ids likewise.
    apply(
        &mut s,
        &k,
        2,
        vec![secret_anchor(&k, 3, RoleRecord::Author, HMAC_SECRET)],
    );
    let twin = secret_anchor(&k, 4, RoleRecord::Author, HMAC_SECRET);
    refuse(&mut s, &k, 3, vec![twin], "already held by anchor 3");
    // HMAC pads a key with zeros to its 64-byte block: `K || 00` and `K` padded to 64 bytes
    // are the same key in other bytes.
    for len in [HMAC_SECRET.len() + 1, 64] {
        let mut padded = HMAC_SECRET.to_vec();
        padded.resize(len, 0);
        let twin = secret_anchor(&k, 4, RoleRecord::Author, &padded);
        refuse(&mut s, &k, 3, vec![twin], "already held by anchor 3");
    }
    // A key that differs in its last byte is another key.
    let mut other = HMAC_SECRET.to_vec();
    other.push(1);
    apply(
        &mut s,
        &k,
        3,
        vec![secret_anchor(&k, 4, RoleRecord::Author, &other)],
    );
}

/// An `AddAnchor` of `key` (a COSE_Key) as anchor `id` of `role`, scope ['app'].
fn public_anchor(id: u32, role: RoleRecord, key: Vec<u8>) -> Op {
    Op::AddAnchor(AnchorRecord {
        id,
        cose_key: ByteBuf::from(key),
        role,
        scope: scope(&[b"app"]),
        key_scope: 0,
    })
}

#[test]
fn the_tpa_roots_key_is_never_an_anchor() {
    // With the root's key also an anchor, one key would be the root and an anchor of another
    // role and scope at once, and removing the anchor would not take those rights away.
    let (mut s, k) = fresh();
    let root = cose_key(TPA_PUB).to_vec();
    let root_held = "operation 0: anchor 2: its key is already held by the TPA root";
    for role in [RoleRecord::Author, RoleRecord::Operator, RoleRecord::Tpa] {
        refuse(
            &mut s,
            &k,
            1,
            vec![public_anchor(2, role, root.clone())],
            root_held,
        );
    }
    // Another encoding of the root's key (with a kid), after an operation that applies.
    let mut with_kid: Value = ciborium::from_reader(&root[..]).unwrap();
    if let Value::Map(m) = &mut with_kid {
        m.insert(1, (int(2), Value::Bytes(b"not-the-root".to_vec())));
    }
    refuse(
        &mut s,
        &k,
        1,
        vec![
            identity_op(),
            public_anchor(2, RoleRecord::Author, cbor(&with_kid)),
        ],
        "operation 1: anchor 2: its key is already held by the TPA root",
    );
    // Nothing was consumed: the same number applies another key.
    let r = apply(
        &mut s,
        &k,
        1,
        vec![public_anchor(
            2,
            RoleRecord::Author,
            cose_key(AUTHOR_PUB).to_vec(),
        )],
    );
    assert_eq!(r.applied[0].to_string(), "added anchor 2 (Author)");
    assert_eq!(r.applied.len(), 1);
}

#[test]
fn a_secret_is_one_anchors_or_one_keks_never_two() {
    // A secret that is both an HMAC anchor's key and a KEK, or two KEKs, lets whoever is given
    // it for one purpose (manifests of one anchor, unwrapping for the anchors a KEK names) use
    // it for the other.
    let (mut s, k) = fresh();
    apply(
        &mut s,
        &k,
        1,
        vec![
            secret_anchor(&k, 2, RoleRecord::Author, HMAC_SECRET),
            add_kek(&k, b"kek-1", KEK),
        ],
    );
    // A KEK's bytes as a second KEK.
    refuse(
        &mut s,
        &k,
        2,
        vec![add_kek(&k, b"kek-2", KEK)],
        "operation 0: KEK 'kek-2': its key is already held by KEK 'kek-1'",
    );
    // An HMAC anchor's key as a KEK.
    refuse(
        &mut s,
        &k,
        2,
        vec![add_kek(&k, b"kek-2", HMAC_SECRET)],
        "KEK 'kek-2': its key is already held by anchor 2",
    );
    // A KEK's bytes as an HMAC anchor's key, also zero-padded (HMAC pads keys to its block:
    // `K || 00` is the same HMAC key as `K`), also within one message.
    apply(&mut s, &k, 2, vec![add_kek(&k, b"kek-3", &[0x33; 32])]);
    refuse(
        &mut s,
        &k,
        3,
        vec![secret_anchor(&k, 3, RoleRecord::Author, &[0x33; 32])],
        "anchor 3: its key is already held by KEK 'kek-3'",
    );
    let mut padded = KEK.to_vec();
    padded.resize(32, 0);
    refuse(
        &mut s,
        &k,
        3,
        vec![secret_anchor(&k, 3, RoleRecord::Operator, &padded)],
        "anchor 3: its key is already held by KEK 'kek-1'",
    );
    refuse(
        &mut s,
        &k,
        3,
        vec![
            add_kek(&k, b"kek-4", &[0x44; 32]),
            secret_anchor(&k, 3, RoleRecord::Author, &[0x44; 32]),
        ],
        "operation 1: anchor 3: its key is already held by KEK 'kek-4'",
    );
    // The refusal names holders, never key bytes.
    let (r, _) = relay(
        &mut s,
        &message(
            3,
            &k.to.identity_kid,
            vec![add_kek(&k, b"kek-2", HMAC_SECRET)],
        ),
    );
    let reason = r.unwrap_err().reason;
    for secret in [&HMAC_SECRET[..], &KEK[..]] {
        assert!(!reason.contains(&hex::encode(secret)), "{reason}");
        assert!(
            !reason.contains(&*String::from_utf8_lossy(secret)),
            "{reason}"
        );
    }
    // Other secrets apply: a KEK of other bytes, and an anchor with a key of its own.
    let r = apply(
        &mut s,
        &k,
        3,
        vec![
            add_kek(&k, b"kek-2", &[0x22; 16]),
            secret_anchor(&k, 3, RoleRecord::Author, &[0x55; 32]),
        ],
    );
    assert_eq!(r.applied.len(), 2);
}

/// Review s33: the KEK swap (KEK object, then state record, then the KEK object again
/// without the previous set) with a real restart after each power cut, and with a failure
/// forged after each write landed (same session and restarted).
mod kek_swap_cuts {
    use super::*;
    use crate::power_cut::restart;

    fn check(s: &mut Service<Mem>, msg: &[u8], when: &str) {
        let _: StatusResponse = call(s, Command::Status, &Empty {}).0.unwrap();
        let state = State::load(s.backend()).unwrap();
        let keks = provision::load_keks(s.backend(), &state)
            .unwrap_or_else(|e| panic!("{when}: KEKs do not load: {e:?}"));
        let ids: Vec<&[u8]> = keks.iter().map(|k| k.kid.as_slice()).collect();
        match state.provisioning_counter {
            1 => {
                assert_eq!(ids, vec![&b"old"[..]], "{when}");
                assert!(state.identity.vendor_id.is_none(), "{when}");
                relay(s, msg).0.unwrap_or_else(|e| panic!("{when}: {e:?}"));
            }
            2 => {
                assert_eq!(ids, vec![&b"new"[..]], "{when}");
                assert!(state.identity.vendor_id.is_some(), "{when}");
                assert!(relay(s, msg).0.is_err(), "{when}: replayed");
            }
            c => panic!("{when}: counter {c}"),
        }
        let state = State::load(s.backend()).unwrap();
        let keks = provision::load_keks(s.backend(), &state).unwrap();
        assert_eq!(state.provisioning_counter, 2, "{when}");
        assert_eq!(keks.len(), 1, "{when}");
        assert_eq!(keks[0].kid.as_slice(), b"new", "{when}");
    }

    #[test]
    fn kek_swap_cut_or_forged_at_every_write_restarted() {
        let (mut s, k) = fresh();
        let ops = vec![
            secret_anchor(&k, 2, RoleRecord::Author, HMAC_SECRET),
            add_kek(&k, b"old", KEK),
        ];
        apply(&mut s, &k, 1, ops);
        let base = s.backend().store().clone();
        let msg = message(
            2,
            &k.to.identity_kid,
            vec![
                remove_kek(b"old"),
                add_kek(&k, b"new", &[7; 32]),
                identity_op(),
            ],
        );
        let (mut cuts, mut forged) = (0, 0);
        for n in 0.. {
            let mut s = restart(&base, &[]);
            s.backend_mut().store_mut().power_cut_after = Some(n);
            let r = relay(&mut s, &msg).0;
            if !s.backend().store().powered_off {
                r.unwrap();
                break;
            }
            cuts += 1;
            check(
                &mut restart(s.backend().store(), &[]),
                &msg,
                &format!("cut {n}"),
            );
        }
        for n in 0.. {
            let mut s = restart(&base, &[]);
            s.backend_mut().store_mut().forge_failure_at = Some(n);
            let r = relay(&mut s, &msg).0;
            if s.backend().store().forge_failure_at.is_some() {
                r.unwrap();
                break;
            }
            forged += 1;
            let mut after = restart(s.backend().store(), &[]);
            check(&mut s, &msg, &format!("forged {n}, same session"));
            check(&mut after, &msg, &format!("forged {n}, restarted"));
        }
        assert!(cuts >= 3 && forged >= 3);
    }

    #[test]
    fn kek_swap_segmented() {
        suit_test_support::service::with_segments(
            crate::power_cut::segmented::SEG,
            kek_swap_cut_or_forged_at_every_write_restarted,
        );
    }
}
