//! Rollback keys (sequence-number records) are bounded (session 40, review s40b F1): a new
//! record stores a long key as its SHA-256, and is charged to the anchor whose scope covers
//! the key's component most closely, up to `MAX_ROLLBACK_KEYS_PER_ANCHOR`; a commit over it
//! is refused with its own typed refusal and changes nothing, while other tenants install
//! as before. Records an earlier TA wrote with a long key in full are still found, enforced
//! and updated in place.

use sha2::{Digest as _, Sha256};

use suit_common::fault::Fault;
use suit_common::protocol::ByteBuf;
use suit_common::service::install::{CommitRefusal, InstallError};
use suit_common::service::state::{AnchorRecord, RoleRecord, State, MAX_ROLLBACK_KEYS_PER_ANCHOR};
use suit_test_support::service::{
    anchor, author_anchor, cose_key, envelope, identity, install, manifest, objects, part,
    provision, provision_message, refusal, release, scope_of, service, state,
};
use suit_test_support::{seal_esp256, OPERATOR_PRIV, OPERATOR_PUB};

/// The rollback key of a manifest without a manifest-component-id whose one component is
/// `id`: its encoded component list.
fn list_key(id: &[&[u8]]) -> Vec<u8> {
    let mut key = vec![0x81, 0x80 + id.len() as u8];
    for s in id {
        assert!(s.len() < 256);
        if s.len() < 24 {
            key.push(0x40 + s.len() as u8);
        } else {
            key.extend([0x58, s.len() as u8]);
        }
        key.extend_from_slice(s);
    }
    key
}

/// Author 1 (the manifest-spec key) for ['app'], anchor 2 (the operator key, an author too)
/// for ['other'], and the identity.
fn two_tenants() -> suit_common::service::Service<suit_test_support::service::Mem> {
    let mut s = service(suit_test_support::service::backend(0));
    let operator = anchor(2, OPERATOR_PUB, RoleRecord::Author, &[&[b"other"]]);
    let message = provision_message(
        &mut s,
        1,
        vec![author_anchor(1, &[b"app"]), operator, identity()],
    );
    provision(&mut s, &message).unwrap();
    s
}

/// Tenant 2's release `seq` of its component ['other', `name`], signed with its key.
fn tenant_2(seq: u64, name: &[u8]) -> Vec<u8> {
    let image = format!("tenant 2, release {seq}").into_bytes();
    let id: &[&[u8]] = &[b"other", name];
    let m = manifest(seq, &[part(id, &image, "#p")]);
    seal_esp256(&m, &[OPERATOR_PRIV], &[("#p", &image)])
}

/// Tenant 1's release `seq`: installs ['app'] and lists ['app', `extra`] (never touched),
/// so its rollback key is the list [['app'], ['app', extra]]: one new key per `extra`.
fn tenant_1(seq: u64, extra: &[u8]) -> Vec<u8> {
    let image = b"tenant 1's one component".to_vec();
    let app: &[&[u8]] = &[b"app"];
    let listed: &[&[u8]] = &[b"app", extra];
    let m = listing_manifest(seq, app, listed, &image);
    envelope(&m, &[part(app, &image, "#p")])
}

/// A manifest listing `installed` and `listed`, installing `image` into the first only.
fn listing_manifest(seq: u64, installed: &[&[u8]], listed: &[&[u8]], image: &[u8]) -> Vec<u8> {
    use ciborium::Value;
    use suit_test_support::{bytes, cbor, int, CLASS_ID, VENDOR_ID};
    let mut shared = suit_test_support::cbor::check_vendor_class(
        vec![int(12), Value::Bool(true)],
        bytes(&VENDOR_ID),
        bytes(&CLASS_ID),
        vec![],
        15,
    );
    let digest = cbor(&Value::Array(vec![int(-16), bytes(&Sha256::digest(image))]));
    shared.extend([
        int(12),
        int(0),
        int(20),
        Value::Map(vec![
            (int(3), bytes(&digest)),
            (int(14), int(image.len() as i64)),
        ]),
    ]);
    let install = vec![
        int(12),
        int(0),
        int(20),
        Value::Map(vec![(int(21), Value::Text("#p".into()))]),
        int(21),
        int(2),
        int(3),
        int(15),
    ];
    let id = |c: &[&[u8]]| Value::Array(c.iter().map(|s| bytes(s)).collect());
    suit_test_support::cbor::suit_manifest(
        seq as i64,
        vec![id(installed), id(listed)],
        &Value::Array(shared),
        &Value::Array(install),
    )
}

#[test]
fn a_tenant_over_its_rollback_key_quota_is_refused_and_others_still_install() {
    let mut s = two_tenants();
    let payloads: &[(&str, &[u8])] = &[];
    let extra = |i: u64| format!("listed only {i:03}").into_bytes();
    for i in 0..MAX_ROLLBACK_KEYS_PER_ANCHOR as u64 {
        suit_test_support::service::install_with(&mut s, &tenant_1(i + 1, &extra(i)), payloads)
            .unwrap_or_else(|e| panic!("tenant 1's manifest {i}: {e:?}"));
    }
    let held = state(&s)
        .sequence_numbers
        .iter()
        .filter(|r| r.owner == Some(1))
        .count();
    assert_eq!(held, MAX_ROLLBACK_KEYS_PER_ANCHOR);

    // One key more: refused with its own refusal, nothing stored changes.
    let before = objects(&s);
    let seq = MAX_ROLLBACK_KEYS_PER_ANCHOR as u64 + 1;
    let r = refusal(suit_test_support::service::install_with(
        &mut s,
        &tenant_1(seq, b"one too many"),
        payloads,
    ));
    assert_eq!(
        r.fault,
        Some(Fault::Install(InstallError::Commit(
            CommitRefusal::RollbackKeyQuota {
                anchor: 1,
                limit: MAX_ROLLBACK_KEYS_PER_ANCHOR as u32,
            }
        ))),
        "{r:?}"
    );
    assert!(r.reason.contains("trust anchor 1"), "{}", r.reason);
    assert_eq!(objects(&s), before);

    // A key it holds already still takes a newer number.
    suit_test_support::service::install_with(&mut s, &tenant_1(seq, &extra(0)), payloads)
        .expect("tenant 1 updates under a key it holds");

    // Tenant 2 is not charged for tenant 1's keys.
    suit_test_support::service::install_with(&mut s, &tenant_2(1, b"first"), &[])
        .expect("tenant 2 installs");
    assert_eq!(
        state(&s)
            .sequence_numbers
            .iter()
            .filter(|r| r.owner == Some(2))
            .count(),
        1
    );
}

/// The most specific grant owns a key: an anchor for ['app', 'sub'] is charged for keys
/// under it, not the one for ['app'].
#[test]
fn a_rollback_key_is_charged_to_the_anchor_with_the_longest_covering_prefix() {
    let mut st = State::new();
    let anchor = |id: u32, prefix: &[&[u8]]| AnchorRecord {
        id,
        cose_key: cose_key(OPERATOR_PUB),
        role: RoleRecord::Author,
        scope: scope_of(&[prefix], false),
        key_scope: 0,
    };
    st.anchors = vec![
        anchor(1, &[b"app"]),
        anchor(7, &[b"app", b"sub"]),
        anchor(3, &[]),
    ];
    let sub: &[&[u8]] = &[b"app", b"sub", b"x"];
    assert_eq!(st.rollback_key_owner(&list_key(sub)), Some(7));
    assert_eq!(st.rollback_key_owner(&list_key(&[b"app", b"x"])), Some(1));
    assert_eq!(st.rollback_key_owner(&list_key(&[b"else"])), Some(3));
    // A manifest-component-id's key (the identifier itself) and an unlinked floor's.
    let id_key = list_key(sub)[1..].to_vec();
    assert_eq!(st.rollback_key_owner(&id_key), Some(7));
    let mut unlinked = b"unlinked:".to_vec();
    unlinked.extend_from_slice(&id_key);
    assert_eq!(st.rollback_key_owner(&unlinked), Some(7));
    assert_eq!(st.rollback_key_owner(b"not a key"), None);
}

/// A long rollback key is stored as its SHA-256 (32 bytes). One a TA before session 40
/// stored in full is still found: its number is enforced, and a newer one updates that
/// record in place (no second record, so no rollback through the format change).
#[test]
fn a_long_rollback_key_is_stored_as_32_bytes_and_an_old_full_key_still_counts() {
    let mut s = suit_test_support::service::provisioned(&[b"app"]);
    let long = [b'x'; 60];
    let id: &[&[u8]] = &[b"app", &long];
    let key = list_key(id);
    assert!(key.len() > 32);
    install(&mut s, &release(5, &[part(id, b"five", "#p")])).unwrap();
    let st = state(&s);
    assert_eq!(st.sequence_numbers.len(), 1);
    let record = &st.sequence_numbers[0];
    assert_eq!(record.key.as_slice(), Sha256::digest(&key).as_slice());
    assert_eq!(record.owner, Some(1));
    assert_eq!(st.sequence_number(&key), Some(5));

    // As an earlier TA stored it: the key in full, no owner.
    let mut old = st.clone();
    old.sequence_numbers[0].key = ByteBuf::from(key.clone());
    old.sequence_numbers[0].owner = None;
    // And the component's own number lowered, so that only the key's record stands against
    // an older manifest.
    old.components[0].sequence_number = 1;
    old.save(s.backend_mut().store_mut()).unwrap();

    // Enforced: an older manifest is refused by the engine's check of the key's number.
    let before = objects(&s);
    let r = refusal(install(&mut s, &release(4, &[part(id, b"four", "#p")])));
    assert!(
        matches!(r.fault, Some(Fault::Install(InstallError::Refused(_)))),
        "{r:?}"
    );
    assert!(r.reason.contains("sequence number"), "{}", r.reason);
    assert_eq!(objects(&s), before);

    // Updated in place.
    install(&mut s, &release(6, &[part(id, b"six", "#p")])).unwrap();
    let st = state(&s);
    assert_eq!(st.sequence_numbers.len(), 1, "{:?}", st.sequence_numbers);
    assert_eq!(st.sequence_numbers[0].key.as_slice(), key.as_slice());
    assert_eq!(st.sequence_numbers[0].value, 6);
}
