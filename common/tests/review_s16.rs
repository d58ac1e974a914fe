//! Review s16 (adversarial): each test here demonstrates a finding and fails on main.

use suit_common::protocol::ByteBuf;
use suit_test_support::service::Refused;

use suit_common::protocol::*;
use suit_common::service::provision::Op;
use suit_common::service::state::{AnchorRecord, Identity, RoleRecord, RuleRecord, Scope};
use suit_common::service::Service;

use suit_test_support::service::{
    anchor, call, cose_key, install_chunked as install, provision_ops, service, Mem,
};
use suit_test_support::{AUTHOR_PRIV, AUTHOR_PUB, OPERATOR_PRIV, OPERATOR_PUB, TPA_PRIV};
use suit_test_support::{CLASS_ID, VENDOR_ID};

fn app_anchor(id: u32, public: &str, role: RoleRecord) -> Op {
    anchor(id, public, role, &[&[b"app"]])
}

fn manifest(seq: u64, payload: &[u8], uri: &str) -> Vec<u8> {
    suit_test_support::fetch_install_manifest(seq, &[b"app"], payload, uri, &VENDOR_ID)
}

fn sign(manifest: &[u8], signers: &[&str], integrated: &[(&str, &[u8])]) -> Vec<u8> {
    suit_test_support::seal_esp256(manifest, signers, integrated)
}

/// Finding R1. The TPA makes ['app'] need the operator anchor 2 as well as the author
/// (`SetRules` refuses a rule without any signer). It then retires the operator key
/// (`RemoveAnchor 2`, message 3), meaning to name its successor in message 4. The REE
/// relays message 3 and withholds message 4 (the counter rule stops it from skipping a
/// message, not from stopping after one). `RemoveAnchor` strips anchor 2 from the rule and
/// leaves a rule that requires nobody: the author alone now replaces ['app'].
/// Expected: a rule whose last required signer is removed stays unsatisfiable (or the
/// removal is refused while a rule names the anchor), never "no signer required".
#[test]
fn removing_the_only_required_anchor_of_a_rule_does_not_drop_the_rule() {
    let mut s = service(suit_test_support::service::backend(0));
    provision_ops(
        &mut s,
        1,
        vec![
            app_anchor(1, AUTHOR_PUB, RoleRecord::Author),
            Op::SetIdentity(Identity {
                vendor_id: Some(ByteBuf::from(VENDOR_ID.to_vec())),
                class_id: Some(ByteBuf::from(CLASS_ID.to_vec())),
                device_id: None,
            }),
        ],
    )
    .unwrap();
    provision_ops(
        &mut s,
        2,
        vec![
            app_anchor(2, OPERATOR_PUB, RoleRecord::Operator),
            Op::SetRules(vec![RuleRecord {
                prefix: vec![ByteBuf::from(b"app".to_vec())],
                required_roles: vec![],
                required_anchors: vec![2],
            }]),
        ],
    )
    .unwrap();
    let payload = b"author alone".to_vec();
    let alone = sign(
        &manifest(1, &payload, "#p"),
        &[AUTHOR_PRIV],
        &[("#p", &payload)],
    );
    assert!(
        install(&mut s, &alone, &[], 4096).is_err(),
        "control: the rule needs the operator"
    );
    // Message 3: the operator anchor is retired. Message 4 (its successor) never arrives.
    provision_ops(&mut s, 3, vec![Op::RemoveAnchor { id: 2 }]).unwrap();
    let payload = b"author alone, after the operator was retired".to_vec();
    let alone = sign(
        &manifest(2, &payload, "#p"),
        &[AUTHOR_PRIV],
        &[("#p", &payload)],
    );
    let r = install(&mut s, &alone, &[], 4096);
    assert!(
        r.is_err(),
        "the author alone installed ['app'] under a rule that required anchor 2: {r:?}"
    );
}

fn sealed(s: &mut Service<Mem>, signer: &str, counter: u64, ops: Vec<Op>) -> Vec<u8> {
    suit_test_support::service::provision_message_by(s, signer, counter, ops)
}

fn relay(s: &mut Service<Mem>, message: Vec<u8>) -> Result<ProvisionResponse, (Status, Refused)> {
    suit_test_support::service::provision(s, &message)
}

/// Finding R2. The TPA root delegates provisioning to anchor 2 (role TPA). Anchor 2's key is
/// compromised and the TPA root revokes it (`RemoveAnchor 2`). Root and delegate share one
/// counter ("exactly stored + 1"), so the REE, holding messages the compromised key signs at
/// will, applies the delegate's message for each counter first: every revocation the root
/// issues is then "replayed or older", and the root never regains the device. Here the
/// delegate's messages only re-set the identity; they could as well add more TPA anchors.
/// Expected: the build-time root can always revoke a delegated TPA anchor (e.g. its messages
/// are not consumable by a delegate's, or a delegate cannot pre-empt them).
#[test]
fn a_compromised_tpa_anchor_cannot_lock_the_tpa_root_out() {
    let mut s = service(suit_test_support::service::backend(0));
    provision_ops(
        &mut s,
        1,
        vec![Op::AddAnchor(AnchorRecord {
            id: 2,
            cose_key: cose_key(OPERATOR_PUB),
            role: RoleRecord::Tpa,
            scope: Scope::default(),
            key_scope: 0,
        })],
    )
    .unwrap();
    let keep_busy = || {
        vec![Op::SetIdentity(Identity {
            vendor_id: Some(ByteBuf::from(VENDOR_ID.to_vec())),
            class_id: None,
            device_id: None,
        })]
    };
    // (Adapted with the fix, s16-prov: the delegates' messages run on a counter of their own,
    // so the compromised delegate signs both the counter the root uses next and the one after
    // its own last; on a device with one shared counter the first is the one that applies.)
    let mut delegate_applied = 0;
    for counter in 2..=6 {
        // The compromised delegate's messages for this counter reach the TA first...
        for c in [counter, counter - 1] {
            let by_delegate = sealed(&mut s, OPERATOR_PRIV, c, keep_busy());
            if let Ok(applied) = relay(&mut s, by_delegate) {
                assert_eq!(applied.signer, 2);
                delegate_applied += 1;
            }
        }
        // ...then the root's revocation for the same counter.
        let revoke = sealed(&mut s, TPA_PRIV, counter, vec![Op::RemoveAnchor { id: 2 }]);
        let _ = relay(&mut s, revoke);
    }
    assert!(delegate_applied > 0, "control: the delegate was trusted");
    let anchors: AnchorsResponse = call(&mut s, Command::Anchors, &Empty {}).unwrap();
    assert!(
        anchors.anchors.iter().all(|a| a.id != 2),
        "after five revocations by the TPA root, the compromised TPA anchor 2 is still trusted \
         (counter {})",
        anchors.provisioning_counter
    );
}

fn anchor_for(id: u32, public: &str, role: RoleRecord, prefix: &[u8]) -> Op {
    anchor(id, public, role, &[&[prefix]])
}

/// Finding R3. ['app'] needs an author and an operator (rule: roles Author + Operator). The
/// operator's anchor covers ['app'] (it co-signs every tenant's releases); author anchor 1
/// belongs to another tenant and covers only ['other']. A manifest writing ['app'] signed by
/// the operator and by that foreign author passes: the scope check asks only that *some*
/// signer covers each component (the operator does), and the rule counts any Author-role
/// signer, in scope or not. So the two-party rule for ['app'] is "operator + any author of
/// any tenant": a compromised operator plus the weakest tenant's author key install ['app']
/// without ['app']'s own author. Expected: a signer counts for a rule only on components its
/// own scope covers.
#[test]
fn an_author_counts_for_a_rule_only_on_components_in_its_scope() {
    let mut s = service(suit_test_support::service::backend(0));
    provision_ops(
        &mut s,
        1,
        vec![
            anchor_for(1, AUTHOR_PUB, RoleRecord::Author, b"other"),
            anchor_for(2, OPERATOR_PUB, RoleRecord::Operator, b"app"),
            Op::SetIdentity(Identity {
                vendor_id: Some(ByteBuf::from(VENDOR_ID.to_vec())),
                class_id: Some(ByteBuf::from(CLASS_ID.to_vec())),
                device_id: None,
            }),
            Op::SetRules(vec![RuleRecord {
                prefix: vec![ByteBuf::from(b"app".to_vec())],
                required_roles: vec![RoleRecord::Author, RoleRecord::Operator],
                required_anchors: vec![],
            }]),
        ],
    )
    .unwrap();
    let payload = b"operator + a foreign tenant's author".to_vec();
    let m = manifest(1, &payload, "#p");
    assert!(
        install(
            &mut s,
            &sign(&m, &[OPERATOR_PRIV], &[("#p", &payload)]),
            &[],
            4096
        )
        .is_err(),
        "control: the operator alone is refused"
    );
    let r = install(
        &mut s,
        &sign(&m, &[AUTHOR_PRIV, OPERATOR_PRIV], &[("#p", &payload)]),
        &[],
        4096,
    );
    assert!(
        r.is_err(),
        "['app'] installed with the Author requirement met by an author scoped to ['other']: {r:?}"
    );
}

/// Finding R1, without the REE's help: the TPA rotates the operator's anchor in one message
/// (`RemoveAnchor 2` then `AddAnchor 2`, ids being the stable names rules use). The rule that
/// named anchor 2 lost it at the removal and does not get it back: from then on ['app'] needs
/// no operator, silently, until the TPA happens to send `SetRules` again.
#[test]
fn re_adding_an_anchor_under_its_id_leaves_its_rules_empty() {
    let mut s = service(suit_test_support::service::backend(0));
    provision_ops(
        &mut s,
        1,
        vec![
            app_anchor(1, AUTHOR_PUB, RoleRecord::Author),
            app_anchor(2, OPERATOR_PUB, RoleRecord::Operator),
            Op::SetIdentity(Identity {
                vendor_id: Some(ByteBuf::from(VENDOR_ID.to_vec())),
                class_id: Some(ByteBuf::from(CLASS_ID.to_vec())),
                device_id: None,
            }),
            Op::SetRules(vec![RuleRecord {
                prefix: vec![ByteBuf::from(b"app".to_vec())],
                required_roles: vec![],
                required_anchors: vec![2],
            }]),
        ],
    )
    .unwrap();
    provision_ops(
        &mut s,
        2,
        vec![
            Op::RemoveAnchor { id: 2 },
            app_anchor(2, OPERATOR_PUB, RoleRecord::Operator),
        ],
    )
    .unwrap();
    let anchors: AnchorsResponse = call(&mut s, Command::Anchors, &Empty {}).unwrap();
    let payload = b"author alone after a rotation".to_vec();
    let alone = sign(
        &manifest(1, &payload, "#p"),
        &[AUTHOR_PRIV],
        &[("#p", &payload)],
    );
    let r = install(&mut s, &alone, &[], 4096);
    assert!(
        r.is_err(),
        "after anchor 2 was rotated the rule on ['app'] requires {:?}, and the author alone installed: {r:?}",
        anchors.rules
    );
}
