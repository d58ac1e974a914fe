//! Review s17 findings S2 and S3 (s18-kekbind).
//!
//! S2: a wrapped secret's `external_aad` bound only the operation and the id, so a delegated
//! TPA anchor that saw the root's message (the REE relays everything; messages are not
//! confidential) could remove the root's KEK and add it again for its own anchor, replaying
//! the wrapped bytes: it then used a KEK it never knew. Likewise a symmetric anchor key under
//! another id or role. Now a wrap is bound to the whole operation, the key that signed the
//! message and the device.
//!
//! S3: the KEK object was chosen by comparing its counters with the state record's, so an
//! older object put back (from before a `RemoveKek`) was taken as current and a revoked KEK
//! returned. Now the state record names the KEK set it commits to by a random id.

use ciborium::Value;
use suit_common::protocol::*;
use suit_common::service::keys::KEKS_OBJECT;
use suit_common::service::provision::{self, Op};
use suit_common::service::state::{AnchorRecord, RoleRecord, State, StateError, STATE_OBJECT};
use suit_common::service::store::SecureStore;
use suit_common::service::Service;

use suit_test_support::service::{
    author_anchor, author_key, cbor, identity, kek_op, provision as relay, provision_message_by,
    scope, secret_anchor_op, secrets_to, service, snapshot, Mem, SecretsTo,
};
use suit_test_support::{cose_key, OPERATOR_PUB, TPA_PRIV};
use suit_test_support::{ec2_cose_key, symmetric_cose_key, AUTHOR_PRIV, AUTHOR_PUB, OPERATOR_PRIV};

const KEK: &[u8; 16] = b"review-s17-kek-1";
const HMAC_KEY: &[u8; 32] = b"review-s17-operator-hmac-secret!";

/// A fresh device and where its secrets go.
fn fresh() -> (Service<Mem>, SecretsTo) {
    let mut s = service(suit_test_support::service::backend(0));
    let to = secrets_to(&mut s);
    (s, to)
}

fn send(s: &mut Service<Mem>, signer: &str, counter: u64, ops: Vec<Op>) -> ProvisionResponse {
    let m = provision_message_by(s, signer, counter, ops);
    relay(s, &m).unwrap_or_else(|(_, r)| panic!("refused: {}", r.reason))
}

/// The message is refused mentioning `expected`, and nothing stored changes.
fn refused(s: &mut Service<Mem>, signer: &str, counter: u64, ops: Vec<Op>, expected: &str) {
    let before = snapshot(s);
    let m = provision_message_by(s, signer, counter, ops);
    match relay(s, &m) {
        Ok(r) => panic!(
            "accepted ({:?}); expected a refusal with {expected:?}",
            r.applied
        ),
        Err((_, r)) => assert!(
            r.reason.contains(expected),
            "{:?} does not mention {expected:?}",
            r.reason
        ),
    }
    assert_eq!(
        snapshot(s),
        before,
        "a refused message changed stored state"
    );
}

fn tpa_anchor(id: u32, public: &str) -> Op {
    Op::AddAnchor(AnchorRecord {
        id,
        cose_key: suit_test_support::cose_key(public),
        role: RoleRecord::Tpa,
        scope: Default::default(),
        key_scope: 0,
    })
}

/// A key only the delegate has (none of the shared test keys), as a COSE_Key.
fn delegates_key() -> Vec<u8> {
    use p256::elliptic_curve::sec1::ToSec1Point as _;
    let key = p256::SecretKey::from_slice(&[0x35; 32]).unwrap();
    ec2_cose_key(
        key.public_key().to_sec1_point(false).as_bytes(),
        b"delegate's author",
    )
}

/// An author anchor with [`delegates_key`].
fn delegates_author(id: u32) -> Op {
    Op::AddAnchor(AnchorRecord {
        id,
        cose_key: ByteBuf::from(delegates_key()),
        role: RoleRecord::Author,
        scope: scope(&[b"tenant-b"]),
        key_scope: 0,
    })
}

fn remove_kek(kid: &[u8]) -> Op {
    Op::RemoveKek {
        kid: ByteBuf::from(kid.to_vec()),
    }
}

fn wrapped(op: &Op) -> ByteBuf {
    match op {
        Op::AddKek { wrapped_key, .. } | Op::AddSecretAnchor { wrapped_key, .. } => {
            wrapped_key.clone()
        }
        other => panic!("no wrapped key in {other:?}"),
    }
}

fn keks(s: &Service<Mem>) -> Vec<(Vec<u8>, Vec<u32>)> {
    let state = State::load(s.backend()).unwrap();
    provision::load_keks(s.backend(), &state)
        .unwrap()
        .into_iter()
        .map(|k| (k.kid.to_vec(), k.anchors))
        .collect()
}

// ---------------------------------------------------------------------------------------
// S2: wraps bound to the operation, its signer's key and the device.

#[test]
fn a_delegate_cannot_replay_the_roots_wrapped_kek_for_its_own_anchor() {
    let (mut s, to) = fresh();
    // The root provisions tenant A (anchor 1) with a KEK, and a delegate (anchor 2).
    let roots_kek = kek_op(&to, TPA_PRIV, b"kek-1", &[(1, &author_key())], KEK);
    let stolen = wrapped(&roots_kek);
    send(
        &mut s,
        TPA_PRIV,
        1,
        vec![
            author_anchor(1, &[b"tenant-a"]),
            tpa_anchor(2, OPERATOR_PUB),
            roots_kek,
        ],
    );
    let regrant = |anchors: Vec<u32>| Op::AddKek {
        kid: ByteBuf::from(b"kek-1".to_vec()),
        anchors,
        wrapped_key: stolen.clone(),
    };
    // The delegate removes the KEK and adds it again for its own author anchor (or for both,
    // or even unchanged) with the root's wrapped bytes: the wrap names the root's key and
    // anchors [1], so it does not open.
    for anchors in [vec![5], vec![1, 5], vec![1]] {
        refused(
            &mut s,
            OPERATOR_PRIV,
            1,
            vec![delegates_author(5), remove_kek(b"kek-1"), regrant(anchors)],
            "does not open",
        );
    }
    assert_eq!(keks(&s), vec![(b"kek-1".to_vec(), vec![1])]);
    // Neither can the root's own wrap move to another kid or other anchors.
    let moved = Op::AddKek {
        kid: ByteBuf::from(b"kek-2".to_vec()),
        anchors: vec![1],
        wrapped_key: stolen.clone(),
    };
    refused(&mut s, TPA_PRIV, 2, vec![moved], "does not open");
    refused(
        &mut s,
        TPA_PRIV,
        2,
        vec![remove_kek(b"kek-1"), regrant(vec![1, 2])],
        "does not open",
    );

    // What the delegate wraps itself, for its own anchor, it may add.
    let own = kek_op(
        &to,
        OPERATOR_PRIV,
        b"kek-b",
        &[(5, &delegates_key())],
        &[0x42; 32],
    );
    send(&mut s, OPERATOR_PRIV, 1, vec![delegates_author(5), own]);
    // And the root re-granting its KEK with a fresh wrap works as before.
    let fresh_wrap = kek_op(
        &to,
        TPA_PRIV,
        b"kek-1",
        &[(1, &author_key()), (5, &delegates_key())],
        KEK,
    );
    send(&mut s, TPA_PRIV, 2, vec![remove_kek(b"kek-1"), fresh_wrap]);
    assert_eq!(
        keks(&s),
        vec![
            (b"kek-b".to_vec(), vec![5]),
            (b"kek-1".to_vec(), vec![1, 5])
        ]
    );
}

#[test]
fn a_delegate_cannot_replay_a_wrapped_anchor_key_under_another_id_role_or_scope() {
    let (mut s, to) = fresh();
    let hmac = symmetric_cose_key(b"operator-hmac", HMAC_KEY);
    let roots_anchor = secret_anchor_op(
        &to,
        TPA_PRIV,
        3,
        RoleRecord::Operator,
        scope(&[b"app"]),
        &hmac,
    );
    let stolen = wrapped(&roots_anchor);
    send(
        &mut s,
        TPA_PRIV,
        1,
        vec![tpa_anchor(2, OPERATOR_PUB), roots_anchor],
    );
    let readd = |id: u32, role: RoleRecord, prefix: &[u8]| Op::AddSecretAnchor {
        id,
        role,
        scope: scope(&[prefix]),
        wrapped_key: stolen.clone(),
    };
    // A delegate may re-scope anchor 3 (`Rescope`), but not turn its key into an author's,
    // nor move it to another id (rules name anchors by id), nor add it back at all with the
    // root's wrap: the wrap names the root's key and anchor 3's id, role and scope.
    for op in [
        readd(3, RoleRecord::Author, b"app"),
        readd(4, RoleRecord::Operator, b"app"),
        readd(3, RoleRecord::Operator, b"other"),
        readd(3, RoleRecord::Operator, b"app"),
    ] {
        refused(
            &mut s,
            OPERATOR_PRIV,
            1,
            vec![Op::RemoveAnchor { id: 3 }, op],
            "does not open",
        );
    }
    // The root's wrap does not move to another role either, in the root's own message.
    refused(
        &mut s,
        TPA_PRIV,
        2,
        vec![
            Op::RemoveAnchor { id: 3 },
            readd(3, RoleRecord::Author, b"app"),
        ],
        "does not open",
    );
    let state = State::load(s.backend()).unwrap();
    let a3 = state.anchors.iter().find(|a| a.id == 3).unwrap();
    assert_eq!(a3.role, RoleRecord::Operator);

    // A delegate adds a symmetric anchor it wrapped itself.
    let own = secret_anchor_op(
        &to,
        OPERATOR_PRIV,
        6,
        RoleRecord::Author,
        scope(&[b"tenant-b"]),
        &symmetric_cose_key(b"b-hmac", &[0x66; 32]),
    );
    let r = send(&mut s, OPERATOR_PRIV, 1, vec![own]);
    assert_eq!(
        r.applied,
        [Applied::AddedAnchor {
            id: 6,
            role: RoleRecord::Author
        }]
    );
    assert_eq!(r.applied[0].to_string(), "added anchor 6 (Author)");
}

#[test]
fn a_wrap_names_its_signer_by_key_not_by_anchor_id() {
    let (mut s, to) = fresh();
    send(&mut s, TPA_PRIV, 1, vec![tpa_anchor(2, OPERATOR_PUB)]);
    // Delegate 2 (the operator's key) wraps a KEK for itself.
    let first = kek_op(
        &to,
        OPERATOR_PRIV,
        b"kek-d",
        &[(2, &cose_key(OPERATOR_PUB))],
        KEK,
    );
    let stolen = wrapped(&first);
    send(&mut s, OPERATOR_PRIV, 1, vec![first]);
    // The root gives anchor id 2 to another key; the new delegate 2 replays the old one's wrap.
    send(
        &mut s,
        TPA_PRIV,
        2,
        vec![
            Op::RemoveAnchor { id: 2 },
            tpa_anchor(2, AUTHOR_PUB),
            remove_kek(b"kek-d"),
        ],
    );
    let replay = Op::AddKek {
        kid: ByteBuf::from(b"kek-d".to_vec()),
        anchors: vec![2],
        wrapped_key: stolen,
    };
    refused(&mut s, AUTHOR_PRIV, 2, vec![replay], "does not open");
    assert!(keks(&s).is_empty());
}

#[test]
fn a_wrap_for_another_device_with_the_same_provisioning_key_does_not_open() {
    // Defence in depth: the device's identity is in the binding too, so even a wrap for the
    // same provisioning key (a cloned key, say) made for another device id does not open.
    let (mut s, to) = fresh();
    let elsewhere = SecretsTo {
        identity_kid: vec![0xee; 16],
        ..to.clone()
    };
    send(&mut s, TPA_PRIV, 1, vec![author_anchor(1, &[b"app"])]);
    let op = kek_op(&elsewhere, TPA_PRIV, b"kek-1", &[(1, &author_key())], KEK);
    refused(&mut s, TPA_PRIV, 2, vec![op], "does not open");
    let op = kek_op(&to, TPA_PRIV, b"kek-1", &[(1, &author_key())], KEK);
    send(&mut s, TPA_PRIV, 2, vec![op]);
}

#[test]
fn the_wrap_aad_is_the_documented_cbor_array() {
    // Encoded here with ciborium, independently of the crate's encoder, from the format in
    // provision/mod.rs's module documentation (what another TPA implementation would follow).
    use sha2::{Digest as _, Sha256};
    use suit_common::service::provision::{
        anchor_key_digest, anchor_wrap_aad, kek_wrap_aad, signer_key_digest, WrapBinding,
    };
    let point = suit_test_support::sec1_from_pem(suit_test_support::TPA_PUB);
    let signer = signer_key_digest(&suit_test_support::p256_public_from_pem(
        suit_test_support::TPA_PUB,
    ))
    .unwrap();
    let expected: [u8; 32] = Sha256::digest(cbor(&Value::Array(vec![
        Value::from(2),
        Value::Bytes(point),
    ])))
    .into();
    assert_eq!(signer, expected);
    let binding = WrapBinding {
        signer,
        device: b"device-kid",
    };
    // Each anchor with the digest of the key it holds (review s27): an HMAC key's is SHA-256
    // of `[4, key]`.
    let hmac = suit_common::cose::VerificationKey::hmac256(HMAC_KEY).unwrap();
    let hmac_digest: [u8; 32] = Sha256::digest(cbor(&Value::Array(vec![
        Value::from(4),
        Value::Bytes(HMAC_KEY.to_vec()),
    ])))
    .into();
    assert_eq!(anchor_key_digest(&hmac), hmac_digest);
    assert_eq!(
        anchor_key_digest(&suit_test_support::p256_public_from_pem(
            suit_test_support::TPA_PUB
        )),
        signer
    );
    assert_eq!(
        kek_wrap_aad(&binding, b"kek-1", &[(1, signer), (70000, hmac_digest)]),
        cbor(&Value::Array(vec![
            Value::Text("suit-ta add-kek".into()),
            Value::Bytes(signer.to_vec()),
            Value::Bytes(b"device-kid".to_vec()),
            Value::Bytes(b"kek-1".to_vec()),
            Value::Array(vec![
                Value::Array(vec![Value::from(1), Value::Bytes(signer.to_vec())]),
                Value::Array(vec![Value::from(70000), Value::Bytes(hmac_digest.to_vec())]),
            ]),
        ]))
    );
    let scope = scope(&[b"app"]);
    assert_eq!(
        anchor_wrap_aad(&binding, 3, RoleRecord::Operator, &scope),
        cbor(&Value::Array(vec![
            Value::Text("suit-ta add-secret-anchor".into()),
            Value::Bytes(signer.to_vec()),
            Value::Bytes(b"device-kid".to_vec()),
            Value::from(3),
            Value::Text("Operator".into()),
            ciborium::from_reader(&suit_common::service::record::encode(&scope).unwrap()[..])
                .unwrap(),
        ]))
    );
    // A symmetric key signs no provisioning message: it has no signer digest.
    assert_eq!(signer_key_digest(&hmac), None);
}

// ---------------------------------------------------------------------------------------
// S3: the state record names the KEK set in force.

fn kek_object(s: &Service<Mem>) -> Vec<u8> {
    s.backend().store().raw(KEKS_OBJECT).unwrap()
}

fn put_back(s: &mut Service<Mem>, object: &[u8]) {
    s.backend_mut()
        .store_mut()
        .put(KEKS_OBJECT, object)
        .unwrap();
}

/// The device refuses to use its KEKs: loading them fails, and so does the next message.
fn keks_refused(s: &mut Service<Mem>, counter: u64) {
    let state = State::load(s.backend()).unwrap();
    assert_eq!(
        provision::load_keks(s.backend(), &state),
        Err(StateError::KeksNotCommitted)
    );
    let before = snapshot(s);
    let m = provision_message_by(s, TPA_PRIV, counter, vec![identity()]);
    let (_, r) = relay(s, &m).unwrap_err();
    assert_eq!(r.kind, RefusalKind::Storage, "{}", r.reason);
    assert!(r.reason.contains("KEK"), "{}", r.reason);
    assert_eq!(snapshot(s), before);
}

#[test]
fn an_older_kek_object_put_back_does_not_bring_a_revoked_kek_back() {
    let (mut s, to) = fresh();
    let add = kek_op(&to, TPA_PRIV, b"kek-1", &[(1, &author_key())], KEK);
    send(&mut s, TPA_PRIV, 1, vec![author_anchor(1, &[b"app"]), add]);
    let with_kek_1 = kek_object(&s);
    // The TPA revokes the KEK, then sends something else (no KEK change).
    send(&mut s, TPA_PRIV, 2, vec![remove_kek(b"kek-1")]);
    send(&mut s, TPA_PRIV, 3, vec![identity()]);
    assert!(keks(&s).is_empty());
    // The REE puts the object from before the revocation back.
    put_back(&mut s, &with_kek_1);
    keks_refused(&mut s, 4);
    // Or deletes it.
    s.backend_mut().store_mut().remove(KEKS_OBJECT).unwrap();
    keks_refused(&mut s, 4);
}

#[test]
fn a_lost_state_write_leaves_the_previous_kek_set_and_an_uncommitted_object_is_refused_later() {
    let (mut s, to) = fresh();
    let add = kek_op(&to, TPA_PRIV, b"kek-1", &[(1, &author_key())], KEK);
    send(&mut s, TPA_PRIV, 1, vec![author_anchor(1, &[b"app"]), add]);
    let state_1 = s.backend().store().raw(STATE_OBJECT).unwrap();
    let object_1 = kek_object(&s);

    // Message 2 replaces kek-1 by kek-2: the KEK object is written, the state write is lost.
    let replace = vec![
        remove_kek(b"kek-1"),
        kek_op(&to, TPA_PRIV, b"kek-2", &[(1, &author_key())], &[0x22; 32]),
    ];
    let m = provision_message_by(&mut s, TPA_PRIV, 2, replace);
    s.backend_mut().store_mut().fail_once_at = Some(1);
    assert!(relay(&mut s, &m).is_err());
    s.backend_mut().store_mut().fail_once_at = None;
    let uncommitted = kek_object(&s);
    assert_ne!(uncommitted, object_1, "the KEK object was not written");
    assert_eq!(s.backend().store().raw(STATE_OBJECT).unwrap(), state_1);
    // The previous set is in force, also after another message that changes no KEK.
    assert_eq!(keks(&s), vec![(b"kek-1".to_vec(), vec![1])]);
    send(&mut s, TPA_PRIV, 2, vec![identity()]);
    assert_eq!(keks(&s), vec![(b"kek-1".to_vec(), vec![1])]);
    assert_eq!(kek_object(&s), uncommitted, "no KEK change, no KEK write");

    // Message 3 revokes kek-1; the REE then puts back either older object: both refused,
    // though the uncommitted one's counters are not behind the message that wrote it.
    send(&mut s, TPA_PRIV, 3, vec![remove_kek(b"kek-1")]);
    assert!(keks(&s).is_empty());
    for old in [&object_1, &uncommitted] {
        put_back(&mut s, old);
        keks_refused(&mut s, 4);
    }
}

/// `object` without the KEK set ids: as written before them.
fn without_ids(object: &[u8]) -> Vec<u8> {
    let Value::Map(mut m) = ciborium::from_reader(object).unwrap() else {
        panic!("not a map")
    };
    m.retain(|(k, _)| !matches!(k, Value::Text(t) if t.ends_with("_id")));
    cbor(&Value::Map(m))
}

#[test]
fn a_device_from_before_the_ids_names_its_kek_set_on_its_next_message() {
    let (mut s, to) = fresh();
    let add = kek_op(&to, TPA_PRIV, b"kek-1", &[(1, &author_key())], KEK);
    send(&mut s, TPA_PRIV, 1, vec![author_anchor(1, &[b"app"]), add]);
    // Make it a device stored before the ids: no `kek_set`, no ids in the KEK object.
    let mut state = State::load(s.backend()).unwrap();
    state.kek_set = None;
    state.save(s.backend_mut().store_mut()).unwrap();
    let legacy = without_ids(&kek_object(&s));
    put_back(&mut s, &legacy);
    // The counters decide, as before.
    assert_eq!(keks(&s), vec![(b"kek-1".to_vec(), vec![1])]);
    // The next message, changing no KEK, names the set: the old object is refused from then on.
    send(&mut s, TPA_PRIV, 2, vec![identity()]);
    assert!(State::load(s.backend()).unwrap().kek_set.is_some());
    assert_eq!(keks(&s), vec![(b"kek-1".to_vec(), vec![1])]);
    send(&mut s, TPA_PRIV, 3, vec![remove_kek(b"kek-1")]);
    put_back(&mut s, &legacy);
    keks_refused(&mut s, 4);
}

/// A device that never had KEKs names the empty set (`provision::NO_KEKS`) and is answered
/// without a look-up; a KEK object written after it holds that set as its previous one, so a
/// lost state write leaves the device without KEKs, and once the record names the object's
/// set, deleting the object or putting the empty-set record back never brings a KEK in.
#[test]
fn the_empty_kek_set_is_named_and_an_object_after_it_commits_as_any_other() {
    let (mut s, to) = fresh();
    send(&mut s, TPA_PRIV, 1, vec![author_anchor(1, &[b"app"])]);
    let empty_state = s.backend().store().raw(STATE_OBJECT).unwrap();
    let state = State::load(s.backend()).unwrap();
    assert_eq!(
        state.kek_set.as_deref().map(|k| k.as_slice()),
        Some(&provision::NO_KEKS[..])
    );
    assert_eq!(s.backend().store().raw(KEKS_OBJECT), None);
    assert!(keks(&s).is_empty());

    // Message 2 adds a KEK; its state write is lost: the empty set stays in force.
    let add = kek_op(&to, TPA_PRIV, b"kek-1", &[(1, &author_key())], KEK);
    let m = provision_message_by(&mut s, TPA_PRIV, 2, vec![add.clone()]);
    s.backend_mut().store_mut().fail_once_at = Some(1);
    assert!(relay(&mut s, &m).is_err());
    s.backend_mut().store_mut().fail_once_at = None;
    assert!(s.backend().store().raw(KEKS_OBJECT).is_some());
    assert_eq!(s.backend().store().raw(STATE_OBJECT).unwrap(), empty_state);
    assert!(keks(&s).is_empty());

    // Sent again, it commits.
    send(&mut s, TPA_PRIV, 2, vec![add]);
    assert_eq!(keks(&s), vec![(b"kek-1".to_vec(), vec![1])]);
    assert_ne!(
        State::load(s.backend())
            .unwrap()
            .kek_set
            .as_deref()
            .map(|k| k.as_slice()),
        Some(&provision::NO_KEKS[..])
    );
    // The object deleted: refused, not taken as "no KEKs".
    let object = kek_object(&s);
    s.backend_mut().store_mut().remove(KEKS_OBJECT).unwrap();
    keks_refused(&mut s, 3);
    // The empty-set record put back with the object: no KEK.
    put_back(&mut s, &object);
    s.backend_mut()
        .store_mut()
        .put(STATE_OBJECT, &empty_state)
        .unwrap();
    assert!(keks(&s).is_empty());
}

// ---------------------------------------------------------------------------------------
// Review s27: a KEK's wrap names the key each of its anchors holds, not only the id.

/// An anchor scope a delegate would like for its own key: REE components, plaintext to the
/// REE.
fn ree_scope() -> suit_common::service::state::Scope {
    let mut wide = scope(&[b"ree"]);
    wide.ree_plaintext = true;
    wide
}

/// A device whose root message 1 made anchor 1 tenant A's author and anchor 2 a delegate.
fn tenant_and_delegate() -> (Service<Mem>, SecretsTo) {
    let (mut s, to) = fresh();
    send(
        &mut s,
        TPA_PRIV,
        1,
        vec![
            author_anchor(1, &[b"tenant-a"]),
            tpa_anchor(2, OPERATOR_PUB),
        ],
    );
    (s, to)
}

#[test]
fn a_roots_kek_for_an_anchor_does_not_follow_its_id_to_a_delegates_key() {
    // The root makes anchor 1 tenant A's author and anchor 2 a delegate, then signs message 2:
    // a KEK for anchor 1. The REE applies the delegate's re-binding of id 1 first.
    let (mut s, to) = tenant_and_delegate();
    let roots_kek = kek_op(&to, TPA_PRIV, b"kek-a", &[(1, &author_key())], KEK);
    let root_msg_2 = provision_message_by(&mut s, TPA_PRIV, 2, vec![roots_kek.clone()]);
    let rebind = Op::AddAnchor(AnchorRecord {
        id: 1,
        cose_key: ByteBuf::from(delegates_key()),
        role: RoleRecord::Author,
        scope: ree_scope(),
        key_scope: 0,
    });
    send(
        &mut s,
        OPERATOR_PRIV,
        1,
        vec![Op::RemoveAnchor { id: 1 }, rebind.clone()],
    );
    let before = snapshot(&s);
    let (_, r) = relay(&mut s, &root_msg_2).unwrap_err();
    assert!(r.reason.contains("does not open"), "{}", r.reason);
    assert_eq!(snapshot(&s), before);
    assert!(
        keks(&s).is_empty(),
        "the delegate's anchor 1 got tenant A's KEK"
    );

    // Applied in the order the root meant, the same message is accepted, and a later
    // re-binding of id 1 takes the KEK away from it (as before).
    let (mut s, to) = tenant_and_delegate();
    let roots_kek = kek_op(&to, TPA_PRIV, b"kek-a", &[(1, &author_key())], KEK);
    send(&mut s, TPA_PRIV, 2, vec![roots_kek]);
    assert_eq!(keks(&s), vec![(b"kek-a".to_vec(), vec![1])]);
    send(
        &mut s,
        OPERATOR_PRIV,
        1,
        vec![Op::RemoveAnchor { id: 1 }, rebind],
    );
    assert_eq!(keks(&s), vec![(b"kek-a".to_vec(), vec![])]);
}

#[test]
fn a_kek_names_the_key_its_anchor_holds_after_the_earlier_operations() {
    let (mut s, to) = fresh();
    send(&mut s, TPA_PRIV, 1, vec![author_anchor(1, &[b"app"])]);
    let rebind = || {
        vec![
            Op::RemoveAnchor { id: 1 },
            Op::AddAnchor(AnchorRecord {
                id: 1,
                cose_key: ByteBuf::from(delegates_key()),
                role: RoleRecord::Author,
                scope: scope(&[b"app"]),
                key_scope: 0,
            }),
        ]
    };
    // The key anchor 1 held before this message's re-binding: refused.
    let mut stale = rebind();
    stale.push(kek_op(&to, TPA_PRIV, b"kek-1", &[(1, &author_key())], KEK));
    refused(&mut s, TPA_PRIV, 2, stale, "does not open");
    // The key it holds once the earlier operations applied.
    let mut fresh_ops = rebind();
    fresh_ops.push(kek_op(
        &to,
        TPA_PRIV,
        b"kek-1",
        &[(1, &delegates_key())],
        KEK,
    ));
    send(&mut s, TPA_PRIV, 2, fresh_ops);
    assert_eq!(keks(&s), vec![(b"kek-1".to_vec(), vec![1])]);
    // An HMAC anchor is named by its key too.
    let hmac = symmetric_cose_key(b"operator-hmac", HMAC_KEY);
    let other = symmetric_cose_key(b"operator-hmac", b"another-operator-hmac-secret-32b");
    let add = secret_anchor_op(
        &to,
        TPA_PRIV,
        3,
        RoleRecord::Operator,
        scope(&[b"app"]),
        &hmac,
    );
    send(&mut s, TPA_PRIV, 3, vec![add]);
    let wrong = kek_op(&to, TPA_PRIV, b"kek-3", &[(3, &other)], &[0x33; 16]);
    refused(&mut s, TPA_PRIV, 4, vec![wrong], "does not open");
    let right = kek_op(&to, TPA_PRIV, b"kek-3", &[(3, &hmac)], &[0x33; 16]);
    send(&mut s, TPA_PRIV, 4, vec![right]);
}

#[test]
fn a_full_kek_set_at_every_bound_can_still_be_changed() {
    // 32 anchors with ids of the widest encoding, 16 KEKs with 64-byte kids and 32-byte keys,
    // each for all 32 anchors: the object then holds two such sets (current and previous).
    use p256::elliptic_curve::sec1::ToSec1Point as _;
    use suit_common::service::state::MAX_ANCHORS;
    let (mut s, to) = fresh();
    let ids: Vec<u32> = (0..MAX_ANCHORS as u32).map(|i| u32::MAX - i).collect();
    let cose_keys: Vec<Vec<u8>> = (0..MAX_ANCHORS)
        .map(|i| {
            let k = p256::SecretKey::from_slice(&[0x40 + i as u8; 32]).unwrap();
            ec2_cose_key(k.public_key().to_sec1_point(false).as_bytes(), b"")
        })
        .collect();
    let anchors: Vec<Op> = ids
        .iter()
        .zip(&cose_keys)
        .map(|(id, key)| {
            Op::AddAnchor(AnchorRecord {
                id: *id,
                cose_key: ByteBuf::from(key.clone()),
                role: RoleRecord::Author,
                scope: scope(&[b"x"]),
                key_scope: 0,
            })
        })
        .collect();
    send(&mut s, TPA_PRIV, 1, anchors);
    let named: Vec<(u32, &[u8])> = ids
        .iter()
        .zip(&cose_keys)
        .map(|(id, k)| (*id, k.as_slice()))
        .collect();
    let kid = |i: u8| {
        let mut k = vec![b'k', i];
        k.resize(64, b'.');
        k
    };
    let keks_ops: Vec<Op> = (0..provision::MAX_KEKS as u8)
        .map(|i| kek_op(&to, TPA_PRIV, &kid(i), &named, &[0x80 + i; 32]))
        .collect();
    send(&mut s, TPA_PRIV, 2, keks_ops);
    assert!(kek_object(&s).len() <= provision::MAX_KEK_OBJECT);
    send(
        &mut s,
        TPA_PRIV,
        3,
        vec![Op::RemoveKek {
            kid: ByteBuf::from(kid(0)),
        }],
    );
    send(&mut s, TPA_PRIV, 4, vec![Op::RemoveAnchor { id: ids[5] }]);
    let left = keks(&s);
    assert_eq!(left.len(), provision::MAX_KEKS - 1);
    assert!(left.iter().all(|(_, a)| a.len() == MAX_ANCHORS - 1));
}

/// A revoked KEK does not stay at rest: once the record names the set without it, the KEK
/// object no longer keeps the old set beside the new one (review s30).
#[test]
fn a_revoked_kek_does_not_stay_in_the_kek_object() {
    let (mut s, to) = fresh();
    let add = kek_op(&to, TPA_PRIV, b"kek-1", &[(1, &author_key())], KEK);
    send(&mut s, TPA_PRIV, 1, vec![author_anchor(1, &[b"app"]), add]);
    send(&mut s, TPA_PRIV, 2, vec![remove_kek(b"kek-1")]);
    assert!(keks(&s).is_empty(), "revoked and committed");
    let at_rest = kek_object(&s).windows(KEK.len()).any(|w| w == KEK);
    assert!(
        !at_rest,
        "the revoked KEK's bytes are still in the KEK object"
    );
    // The set in force still loads, and the next change of it works.
    send(&mut s, TPA_PRIV, 3, vec![identity()]);
    let add = kek_op(&to, TPA_PRIV, b"kek-2", &[(1, &author_key())], &[0x22; 32]);
    send(&mut s, TPA_PRIV, 4, vec![add]);
    assert_eq!(keks(&s), vec![(b"kek-2".to_vec(), vec![1])]);
}
