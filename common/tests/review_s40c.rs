//! Review s40 (review4, adversarial): each test here demonstrates a finding; the ones that
//! fail on the code they were written against say so in their comment.

use ciborium::Value;
use sha2::{Digest as _, Sha256};

use suit_common::protocol::ByteBuf;
use suit_common::service::provision::Op;
use suit_common::service::state::{RoleRecord, RuleRecord};

use suit_test_support::service::{
    anchor, identity, install_chunked as install, provision_ops, service,
};
use suit_test_support::{bytes, cbor, int, AUTHOR_PRIV, AUTHOR_PUB, OPERATOR_PRIV, OPERATOR_PUB};
use suit_test_support::{CLASS_ID, VENDOR_ID};

fn segments(c: &[&[u8]]) -> Value {
    Value::Array(c.iter().map(|s| bytes(s)).collect())
}

/// A manifest (sequence number `seq`) with the one component `component`, into which it
/// installs `payload` (integrated as `#p`) after the vendor and class checks; with the
/// suit-manifest-component-id `manifest_id` when given (its rollback key).
fn manifest(
    seq: u64,
    component: &[&[u8]],
    manifest_id: Option<&[&[u8]]>,
    payload: &[u8],
) -> Vec<u8> {
    let mut shared = suit_test_support::cbor::check_vendor_class(
        vec![int(12), Value::Bool(true)],
        bytes(&VENDOR_ID),
        bytes(&CLASS_ID),
        vec![],
        15,
    );
    let digest = cbor(&Value::Array(vec![
        int(-16),
        bytes(&Sha256::digest(payload)),
    ]));
    shared.extend([
        int(12),
        int(0),
        int(20),
        Value::Map(vec![
            (int(3), bytes(&digest)),
            (int(14), int(payload.len() as i64)),
        ]),
    ]);
    let install = Value::Array(vec![
        int(12),
        int(0),
        int(20),
        Value::Map(vec![(int(21), Value::Text("#p".into()))]),
        int(21),
        int(2),
        int(3),
        int(15),
    ]);
    let common = Value::Map(vec![
        (int(2), Value::Array(vec![segments(component)])),
        (int(4), bytes(&cbor(&Value::Array(shared)))),
    ]);
    let mut fields = vec![
        (int(1), int(1)),
        (int(2), int(seq as i64)),
        (int(3), bytes(&cbor(&common))),
    ];
    if let Some(id) = manifest_id {
        fields.push((int(5), segments(id)));
    }
    fields.push((int(20), bytes(&cbor(&install))));
    cbor(&Value::Map(fields))
}

fn signed(manifest: &[u8], signer: &str, payload: &[u8]) -> Vec<u8> {
    suit_test_support::seal_esp256(manifest, &[signer], &[("#p", payload)])
}

/// Finding R4-1 (medium). The s40 rollback-key quota charges a new key to the anchor whose
/// scope prefix covering the key's component is the longest, not to the manifest's signer
/// (`State::rollback_key_owner`, state.rs:589, called from `set_sequence_number` at commit,
/// install/platform.rs `commit`). With nested scopes (an outer author ['app'], a tenant
/// ['app','b'] whose components a rule reserves to it), the outer author signs valid
/// manifests of its own, each naming a fresh suit-manifest-component-id under ['app','b']
/// (the policy only asks that one signer's scope cover it: policy.rs `check_scope`; no rule
/// applies to a name), installing only into its own ['app','a']. 64 such installs use up
/// the tenant's quota (`MAX_ROLLBACK_KEYS_PER_ANCHOR`): from then on the tenant cannot make
/// any install that needs a new rollback key, its very first included, and nothing removes
/// the records (NOTES "Left"). One signer spends another tenant's budget: what the quota was
/// added to prevent (review s40b F1), now aimed at one tenant, and past a component rule that
/// keeps the attacker off that tenant's components. Expected: the tenant still installs.
/// Fails on 35c642c.
#[test]
fn an_outer_author_cannot_spend_a_nested_tenants_rollback_key_quota() {
    let mut s = service(suit_test_support::service::backend(0));
    provision_ops(
        &mut s,
        1,
        vec![
            anchor(1, AUTHOR_PUB, RoleRecord::Author, &[&[b"app"]]),
            anchor(2, OPERATOR_PUB, RoleRecord::Author, &[&[b"app", b"b"]]),
            identity(),
            Op::SetRules(vec![RuleRecord {
                prefix: vec![ByteBuf::from(b"app".to_vec()), ByteBuf::from(b"b".to_vec())],
                required_roles: vec![],
                required_anchors: vec![2],
            }]),
        ],
    )
    .unwrap();
    // Control: the rule keeps author 1 off the tenant's components.
    let payload = b"author 1 into the tenant's component".to_vec();
    let m = manifest(1, &[b"app", b"b", b"x"], None, &payload);
    assert!(
        install(&mut s, &signed(&m, AUTHOR_PRIV, &payload), &[], 16 * 1024).is_err(),
        "control: author 1 may not write ['app','b','x']"
    );
    // Author 1 installs into its own component only, under names in the tenant's scope.
    let mut spent = 0;
    for i in 0..64u64 {
        let payload = format!("author 1, release {i}").into_bytes();
        let name = format!("k{i}").into_bytes();
        let m = manifest(
            i + 1,
            &[b"app", b"a"],
            Some(&[b"app", b"b", &name]),
            &payload,
        );
        if install(&mut s, &signed(&m, AUTHOR_PRIV, &payload), &[], 16 * 1024).is_ok() {
            spent += 1;
        }
    }
    // The tenant's first install.
    let payload = b"tenant, release 1".to_vec();
    let m = manifest(1, &[b"app", b"b", b"x"], None, &payload);
    let r = install(&mut s, &signed(&m, OPERATOR_PRIV, &payload), &[], 16 * 1024);
    assert!(
        r.is_ok(),
        "after {spent} installs of author 1 (none touching ['app','b',...]) the tenant \
         ['app','b'] cannot install its own component: {:?}",
        r.err()
    );
}
