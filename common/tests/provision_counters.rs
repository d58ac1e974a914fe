//! Provisioning counters and rules after review s16 (R1, R2; s16-prov): the TPA root and its
//! delegated TPA anchors run on separate counters, only the root manages TPA anchors, a state
//! stored with the one earlier counter refuses every old message, and a rule naming a removed
//! anchor is met by nobody until an anchor with that id is added again.

use ciborium::Value;
use suit_common::protocol::ByteBuf;
use suit_test_support::service::Refused;

use suit_common::protocol::*;
use suit_common::service::provision::{
    apply_body, delegate_signer, CounterKind, Kek, KeyHolder, Op, ProvisionError, Signer,
    WrapBinding, TPA_ROOT_ID,
};
use suit_common::service::state::{
    AnchorRecord, Identity, RoleRecord, RuleRecord, Scope, State, STATE_OBJECT,
};
use suit_common::service::store::SecureStore;
use suit_common::service::Service;

use suit_test_support::service::{
    anchor, call, cbor, cose_key, identity, install_chunked as install, service, Mem,
};
use suit_test_support::{p256_public_from_pem, CLASS_ID, VENDOR_ID};
use suit_test_support::{
    ANCHOR_PRIV, ANCHOR_PUB, AUTHOR_PRIV, AUTHOR_PUB, OPERATOR_PRIV, OPERATOR_PUB, TPA_PRIV,
    TPA_PUB,
};

fn sealed(s: &mut Service<Mem>, signer: &str, counter: u64, ops: Vec<Op>) -> Vec<u8> {
    suit_test_support::service::provision_message_by(s, signer, counter, ops)
}

fn relay(s: &mut Service<Mem>, message: &[u8]) -> Result<ProvisionResponse, (Status, Refused)> {
    suit_test_support::service::provision(s, message)
}

/// Signs and relays; the response or the refusal's reason.
fn send(
    s: &mut Service<Mem>,
    signer: &str,
    counter: u64,
    ops: Vec<Op>,
) -> Result<ProvisionResponse, String> {
    let m = sealed(s, signer, counter, ops);
    relay(s, &m).map_err(|(_, r)| r.reason)
}

fn refused(s: &mut Service<Mem>, signer: &str, counter: u64, ops: Vec<Op>, expected: &str) {
    let before = State::load(s.backend()).unwrap();
    match send(s, signer, counter, ops) {
        Ok(r) => panic!("accepted ({r:?}); expected a refusal mentioning {expected:?}"),
        Err(reason) => assert!(
            reason.contains(expected),
            "{reason:?} does not mention {expected:?}"
        ),
    }
    assert_eq!(
        State::load(s.backend()).unwrap(),
        before,
        "a refused message changed the state"
    );
}

fn anchors(s: &mut Service<Mem>) -> AnchorsResponse {
    call(s, Command::Anchors, &Empty {}).unwrap()
}

fn tpa_anchor(id: u32, public: &str) -> Op {
    anchor(id, public, RoleRecord::Tpa, &[])
}

fn app_anchor(id: u32, public: &str, role: RoleRecord) -> Op {
    anchor(id, public, role, &[&[b"app"]])
}

fn counters(s: &mut Service<Mem>) -> (u64, Option<u64>) {
    let a = anchors(s);
    (a.provisioning_counter, a.delegate_counter)
}

// ---------------------------------------------------------------------------------------
// R2: two counters, root-only management of TPA anchors.

#[test]
fn a_delegate_cannot_add_remove_or_rescope_a_tpa_anchor() {
    let mut s = service(suit_test_support::service::backend(0));
    send(
        &mut s,
        TPA_PRIV,
        1,
        vec![tpa_anchor(2, OPERATOR_PUB), tpa_anchor(3, AUTHOR_PUB)],
    )
    .unwrap();
    let only_root = "only the TPA root adds, removes or re-scopes TPA anchors";
    // More delegates.
    refused(
        &mut s,
        OPERATOR_PRIV,
        1,
        vec![tpa_anchor(4, ANCHOR_PUB)],
        only_root,
    );
    // Removing another delegate, or itself.
    refused(
        &mut s,
        OPERATOR_PRIV,
        1,
        vec![Op::RemoveAnchor { id: 3 }],
        only_root,
    );
    refused(
        &mut s,
        OPERATOR_PRIV,
        1,
        vec![Op::RemoveAnchor { id: 2 }],
        only_root,
    );
    // Re-scoping a delegate.
    refused(
        &mut s,
        OPERATOR_PRIV,
        1,
        vec![Op::Rescope {
            id: 3,
            scope: Scope::default(),
        }],
        only_root,
    );
    // After operations it may do, in one message: refused as a whole, with the operation named.
    refused(
        &mut s,
        OPERATOR_PRIV,
        1,
        vec![identity(), Op::RemoveAnchor { id: 3 }],
        "operation 1: only the TPA root",
    );
    // An anchor of another role removed and added again as a TPA anchor: still the root's.
    refused(
        &mut s,
        OPERATOR_PRIV,
        1,
        vec![
            app_anchor(5, ANCHOR_PUB, RoleRecord::Author),
            Op::RemoveAnchor { id: 5 },
            tpa_anchor(5, ANCHOR_PUB),
        ],
        "operation 2: only the TPA root",
    );
    // None of these consumed the delegates' counter; what a delegate may do, it does.
    let r = send(&mut s, OPERATOR_PRIV, 1, vec![identity()]).unwrap();
    assert_eq!((r.signer, r.counter), (2, 1));
    assert_eq!(counters(&mut s), (1, Some(1)));
    // The root does all of it.
    send(
        &mut s,
        TPA_PRIV,
        2,
        vec![
            Op::Rescope {
                id: 3,
                scope: Scope::default(),
            },
            Op::RemoveAnchor { id: 3 },
            tpa_anchor(4, ANCHOR_PUB),
            Op::RemoveAnchor { id: 2 },
        ],
    )
    .unwrap();
    let ids: Vec<u32> = anchors(&mut s).anchors.iter().map(|a| a.id).collect();
    assert_eq!(ids, vec![4]);
}

#[test]
fn the_roots_and_the_delegates_counters_are_independent() {
    let mut s = service(suit_test_support::service::backend(0));
    assert_eq!(counters(&mut s), (0, Some(0)));
    send(&mut s, TPA_PRIV, 1, vec![tpa_anchor(2, OPERATOR_PUB)]).unwrap();
    // The delegates' counter starts at 0 whatever the root's is.
    let r = send(&mut s, OPERATOR_PRIV, 1, vec![identity()]).unwrap();
    assert_eq!((r.signer, r.counter), (2, 1));
    let r = send(&mut s, OPERATOR_PRIV, 2, vec![identity()]).unwrap();
    assert_eq!((r.signer, r.counter), (2, 2));
    assert_eq!(counters(&mut s), (1, Some(2)));
    // Each counter refuses replays and gaps on its own.
    refused(
        &mut s,
        OPERATOR_PRIV,
        2,
        vec![identity()],
        "not greater than the applied counter 2 (the delegated TPA anchors' counter",
    );
    refused(
        &mut s,
        OPERATOR_PRIV,
        4,
        vec![identity()],
        "skips message(s) 3..=3 of the delegated TPA anchors' counter",
    );
    refused(
        &mut s,
        TPA_PRIV,
        1,
        vec![identity()],
        "not greater than the applied counter 1 (the TPA root's counter",
    );
    refused(
        &mut s,
        TPA_PRIV,
        3,
        vec![identity()],
        "skips message(s) 2..=2 of the TPA root's counter",
    );
    // The root's next is 2 however far the delegates went.
    let r = send(&mut s, TPA_PRIV, 2, vec![identity()]).unwrap();
    assert_eq!((r.signer, r.counter), (TPA_ROOT_ID, 2));
    assert_eq!(counters(&mut s), (2, Some(2)));
    // The receipt names the signer, so the TPA knows which counter it reports.
    let identity_key: DeviceKeyResponse = call(&mut s, Command::DeviceKey, &Empty {}).unwrap();
    let receipt =
        suit_common::service::provision::verify_receipt(&r.receipt, &identity_key.identity_key)
            .unwrap();
    assert_eq!((receipt.signer, receipt.counter), (TPA_ROOT_ID, 2));

    // A delegate removed and added again (same key, same id) cannot have its old messages
    // replayed: the delegates' counter only increases.
    let old = sealed(&mut s, OPERATOR_PRIV, 3, vec![identity()]);
    send(&mut s, TPA_PRIV, 3, vec![Op::RemoveAnchor { id: 2 }]).unwrap();
    assert!(
        relay(&mut s, &old).is_err(),
        "a removed delegate still signs"
    );
    send(&mut s, TPA_PRIV, 4, vec![tpa_anchor(2, OPERATOR_PUB)]).unwrap();
    let r = relay(&mut s, &old).unwrap();
    assert_eq!((r.signer, r.counter), (2, 3));
    let replayed = relay(&mut s, &old).unwrap_err().1.reason;
    assert!(replayed.contains("not greater"), "{replayed}");
    let earlier = sealed(&mut s, OPERATOR_PRIV, 1, vec![identity()]);
    assert!(relay(&mut s, &earlier).is_err());
    assert_eq!(counters(&mut s), (4, Some(3)));
}

/// Stores `state` as the code before review s16 wrote it: no `delegate_counter` field.
fn store_as_before_s16(s: &mut Service<Mem>, state: &State) {
    let bytes = suit_common::service::record::encode(state).unwrap();
    let Value::Map(mut entries) = ciborium::de::from_reader(&bytes[..]).unwrap() else {
        panic!("the state record is a map")
    };
    entries.retain(|(k, _)| k != &Value::Text("delegate_counter".into()));
    s.backend_mut()
        .put(STATE_OBJECT, &cbor(&Value::Map(entries)))
        .unwrap();
}

#[test]
fn a_state_stored_with_one_counter_refuses_the_old_messages_of_root_and_delegates() {
    let mut s = service(suit_test_support::service::backend(0));
    // Before review s16 the TPA root and its delegate numbered their messages on one counter:
    // root 1 (adds the delegate), delegate 2, root 3, delegate 4.
    let old: Vec<(&str, u64, Vec<u8>)> = vec![
        (
            TPA_PRIV,
            1,
            sealed(&mut s, TPA_PRIV, 1, vec![tpa_anchor(2, OPERATOR_PUB)]),
        ),
        (
            OPERATOR_PRIV,
            2,
            sealed(&mut s, OPERATOR_PRIV, 2, vec![identity()]),
        ),
        (TPA_PRIV, 3, sealed(&mut s, TPA_PRIV, 3, vec![identity()])),
        (
            OPERATOR_PRIV,
            4,
            sealed(&mut s, OPERATOR_PRIV, 4, vec![identity()]),
        ),
    ];
    // The device as the old code left it: the delegate added, one counter at 4.
    relay(&mut s, &old[0].2).unwrap();
    let mut state = State::load(s.backend()).unwrap();
    state.identity = Identity {
        vendor_id: Some(ByteBuf::from(VENDOR_ID.to_vec())),
        class_id: Some(ByteBuf::from(CLASS_ID.to_vec())),
        device_id: None,
    };
    state.provisioning_counter = 4;
    store_as_before_s16(&mut s, &state);
    assert_eq!(
        State::load(s.backend()).unwrap().stored_delegate_counter(),
        Some(4)
    );
    assert_eq!(counters(&mut s), (4, Some(4)));
    // No old message applies again, whoever signed it, whichever counter it would now run on.
    for (signer, counter, message) in &old {
        let r = relay(&mut s, message);
        assert!(
            r.as_ref()
                .is_err_and(|(_, r)| r.reason.contains("not greater than the applied counter 4")),
            "old message {counter} ({signer}) after the migration: {r:?}"
        );
    }
    // Nor any other old counter, by either signer.
    for counter in 1..=4 {
        for signer in [TPA_PRIV, OPERATOR_PRIV] {
            assert!(send(&mut s, signer, counter, vec![identity()]).is_err());
        }
    }
    // Both continue from the old value.
    assert_eq!(
        send(&mut s, OPERATOR_PRIV, 5, vec![identity()])
            .unwrap()
            .signer,
        2
    );
    assert_eq!(
        send(&mut s, TPA_PRIV, 5, vec![identity()]).unwrap().signer,
        TPA_ROOT_ID
    );
    assert_eq!(counters(&mut s), (5, Some(5)));
}

/// What the TPA's model of a device runs (no secrets here), knowing the root's key.
fn model_apply(
    state: &mut State,
    keks: &mut Vec<Kek>,
    signer: u32,
    counter: u64,
    ops: Vec<Op>,
) -> Result<Vec<suit_common::protocol::Applied>, ProvisionError> {
    let mut unwrap = |_: &[u8], _: &[u8]| {
        Err::<zeroize::Zeroizing<Vec<u8>>, _>(
            suit_common::service::provision::OpError::SecretNotKnown,
        )
    };
    let root = p256_public_from_pem(TPA_PUB);
    let who = Signer {
        id: signer,
        root: Some(&root),
        binding: WrapBinding {
            signer: [0; 32],
            device: b"model",
        },
    };
    apply_body(state, keks, &who, counter, &ops, &mut unwrap)
}

#[test]
fn the_tpa_model_of_a_device_counts_like_the_device() {
    // `apply_body` (what `suit-author provision --state` runs) on a model that was written
    // before review s16 (no delegates' counter): both counters start at the old one.
    let mut model = {
        let mut s = State::default();
        s.provisioning_counter = 3;
        s.set_stored_delegate_counter(None);
        s
    };
    let mut keks: Vec<Kek> = Vec::new();
    model_apply(
        &mut model,
        &mut keks,
        TPA_ROOT_ID,
        4,
        vec![tpa_anchor(2, OPERATOR_PUB)],
    )
    .unwrap();
    assert_eq!((model.root_counter(), model.delegate_counter()), (4, 3));
    assert!(matches!(
        model_apply(&mut model.clone(), &mut keks, 2, 3, vec![identity()]),
        Err(ProvisionError::Replayed {
            counter: CounterKind::Delegate,
            stored: 3,
            offered: 3
        })
    ));
    assert!(matches!(
        model_apply(
            &mut model.clone(),
            &mut keks,
            2,
            4,
            vec![tpa_anchor(3, ANCHOR_PUB)]
        ),
        Err(ProvisionError::RootOnly {
            index: 0,
            anchor: 3,
            signer: 2
        })
    ));
    model_apply(&mut model, &mut keks, 2, 4, vec![identity()]).unwrap();
    assert_eq!((model.root_counter(), model.delegate_counter()), (4, 4));
    // The model recognises a delegate's signature, and takes any other as the root's.
    let mut s = service(suit_test_support::service::backend(0));
    let by_delegate = sealed(&mut s, OPERATOR_PRIV, 5, vec![]);
    let by_root = sealed(&mut s, TPA_PRIV, 5, vec![]);
    let root = p256_public_from_pem(TPA_PUB);
    for known in [None, Some(&root)] {
        assert_eq!(delegate_signer(&by_delegate, &model, known), Ok(Some(2)));
        assert_eq!(delegate_signer(&by_root, &model, known), Ok(None));
    }
}

// ---------------------------------------------------------------------------------------
// R1: rules keep naming removed anchors, and fail closed.

fn manifest(seq: u64, payload: &[u8], uri: &str) -> Vec<u8> {
    suit_test_support::fetch_install_manifest(seq, &[b"app"], payload, uri, &VENDOR_ID)
}

fn sign(manifest: &[u8], signers: &[&str], integrated: &[(&str, &[u8])]) -> Vec<u8> {
    suit_test_support::seal_esp256(manifest, signers, integrated)
}

/// Installs ['app'] at `seq`, signed by `signers`.
fn install_app(s: &mut Service<Mem>, seq: u64, signers: &[&str]) -> bool {
    let payload = format!("app {seq} signed by {}", signers.len()).into_bytes();
    let envelope = sign(&manifest(seq, &payload, "#p"), signers, &[("#p", &payload)]);
    install(s, &envelope, &[], 4096).is_ok()
}

/// A device whose ['app'] needs the author (anchor 1, by scope) and anchor 2 (the operator).
fn two_party_device() -> Service<Mem> {
    let mut s = service(suit_test_support::service::backend(0));
    send(
        &mut s,
        TPA_PRIV,
        1,
        vec![
            app_anchor(1, AUTHOR_PUB, RoleRecord::Author),
            app_anchor(2, OPERATOR_PUB, RoleRecord::Operator),
            identity(),
            Op::SetRules(vec![RuleRecord {
                prefix: vec![ByteBuf::from(b"app".to_vec())],
                required_roles: vec![],
                required_anchors: vec![2],
            }]),
        ],
    )
    .unwrap();
    s
}

#[test]
fn a_rotation_under_one_id_keeps_the_rule() {
    let mut s = two_party_device();
    assert!(install_app(&mut s, 1, &[AUTHOR_PRIV, OPERATOR_PRIV]));
    // The operator's key is rotated under id 2 (here to the fourth test key).
    send(
        &mut s,
        TPA_PRIV,
        2,
        vec![
            Op::RemoveAnchor { id: 2 },
            app_anchor(2, ANCHOR_PUB, RoleRecord::Operator),
        ],
    )
    .unwrap();
    assert_eq!(
        crate::texts(&anchors(&mut s).rules[0].required),
        ["anchor 2"]
    );
    assert!(!install_app(&mut s, 2, &[AUTHOR_PRIV]), "the rule was lost");
    assert!(
        !install_app(&mut s, 2, &[AUTHOR_PRIV, OPERATOR_PRIV]),
        "the retired operator key still counts"
    );
    assert!(install_app(&mut s, 2, &[AUTHOR_PRIV, ANCHOR_PRIV]));
}

#[test]
fn a_rule_naming_a_removed_anchor_refuses_installs_until_it_is_added_again() {
    let mut s = two_party_device();
    send(&mut s, TPA_PRIV, 2, vec![Op::RemoveAnchor { id: 2 }]).unwrap();
    // The rule still names anchor 2, which nobody is now.
    let a = anchors(&mut s);
    assert!(a.anchors.iter().all(|x| x.id != 2));
    assert_eq!(crate::texts(&a.rules[0].required), ["anchor 2"]);
    assert!(!install_app(&mut s, 1, &[AUTHOR_PRIV]));
    assert!(!install_app(&mut s, 1, &[AUTHOR_PRIV, OPERATOR_PRIV]));
    // Setting rules naming an absent anchor is still refused (a typo guard)...
    refused(
        &mut s,
        TPA_PRIV,
        3,
        vec![Op::SetRules(vec![RuleRecord {
            prefix: vec![ByteBuf::from(b"app".to_vec())],
            required_roles: vec![],
            required_anchors: vec![2],
        }])],
        "unknown anchor 2",
    );
    // ...and the TPA ends the requirement explicitly, or names anchor 2 again.
    send(
        &mut s,
        TPA_PRIV,
        3,
        vec![app_anchor(2, OPERATOR_PUB, RoleRecord::Operator)],
    )
    .unwrap();
    assert!(!install_app(&mut s, 1, &[AUTHOR_PRIV]));
    assert!(install_app(&mut s, 1, &[AUTHOR_PRIV, OPERATOR_PRIV]));
}

#[test]
fn a_policy_rule_naming_an_absent_anchor_is_met_by_nobody() {
    use suit_common::suit::policy::{ComponentRule, Policy, Requirement};
    use suit_common::suit::ComponentId;
    let app = ComponentId::new(&[b"app".as_slice()]);
    let policy = Policy {
        anchors: vec![],
        rules: vec![ComponentRule {
            prefix: app.clone(),
            required: vec![Requirement::Anchor(2)],
        }],
        require_plaintext_digest: false,
        update_management: Default::default(),
    };
    // Even if a caller passes the id of an anchor the policy does not have.
    assert!(policy.check_required_signers(&app, 0, &[2]).is_err());
}

// ---------------------------------------------------------------------------------------
// One key, one holder (session 18): the root's key is never an anchor.

#[test]
fn the_model_and_the_device_refuse_the_roots_key_as_an_anchor_whoever_adds_it() {
    let mut model = State::default();
    let mut keks: Vec<Kek> = Vec::new();
    // The root adding its own key, after an operation that applies.
    assert_eq!(
        model_apply(
            &mut model.clone(),
            &mut keks,
            TPA_ROOT_ID,
            1,
            vec![identity(), app_anchor(2, TPA_PUB, RoleRecord::Author)],
        ),
        Err(ProvisionError::KeyInUse {
            index: 1,
            adding: KeyHolder::Anchor(2),
            holder: KeyHolder::Root,
        })
    );
    model_apply(
        &mut model,
        &mut keks,
        TPA_ROOT_ID,
        1,
        vec![
            tpa_anchor(2, OPERATOR_PUB),
            app_anchor(3, AUTHOR_PUB, RoleRecord::Author),
        ],
    )
    .unwrap();
    // A delegate adding the root's key (it may add anchors of other roles), or another
    // anchor's key under another role.
    assert_eq!(
        model_apply(
            &mut model.clone(),
            &mut keks,
            2,
            1,
            vec![app_anchor(4, TPA_PUB, RoleRecord::Operator)],
        ),
        Err(ProvisionError::KeyInUse {
            index: 0,
            adding: KeyHolder::Anchor(4),
            holder: KeyHolder::Root,
        })
    );
    assert_eq!(
        model_apply(
            &mut model.clone(),
            &mut keks,
            2,
            1,
            vec![app_anchor(4, AUTHOR_PUB, RoleRecord::Operator)],
        ),
        Err(ProvisionError::KeyInUse {
            index: 0,
            adding: KeyHolder::Anchor(4),
            holder: KeyHolder::Anchor(3),
        })
    );
    // The device: the same refusals, nothing stored, neither counter consumed.
    let mut s = service(suit_test_support::service::backend(0));
    let root_held = "anchor 4: its key is already held by the TPA root";
    refused(
        &mut s,
        TPA_PRIV,
        1,
        vec![app_anchor(4, TPA_PUB, RoleRecord::Author)],
        root_held,
    );
    send(
        &mut s,
        TPA_PRIV,
        1,
        vec![
            tpa_anchor(2, OPERATOR_PUB),
            app_anchor(3, AUTHOR_PUB, RoleRecord::Author),
        ],
    )
    .unwrap();
    refused(
        &mut s,
        OPERATOR_PRIV,
        1,
        vec![app_anchor(4, TPA_PUB, RoleRecord::Operator)],
        root_held,
    );
    assert_eq!(counters(&mut s), (1, Some(0)));
    let r = send(
        &mut s,
        OPERATOR_PRIV,
        1,
        vec![app_anchor(4, ANCHOR_PUB, RoleRecord::Operator)],
    )
    .unwrap();
    assert_eq!((r.signer, r.counter), (2, 1));
}

#[test]
fn a_stored_anchor_holding_the_roots_key_never_signs_as_a_delegate() {
    // A state stored before such anchors were refused: anchor 2, role TPA, holds the root's
    // key; the root's counter is at 3, the delegates' at 0. The device leaves the anchor (the
    // TPA removes it), and a message the root's key signs runs on the root's counter.
    let mut s = service(suit_test_support::service::backend(0));
    // The device's keys first: a state holding anchors without them reads as deleted keys.
    suit_common::service::keys::DeviceKeyPair::load_or_create(s.backend_mut()).unwrap();
    let mut state = State::load(s.backend()).unwrap();
    state.anchors.push(AnchorRecord {
        id: 2,
        cose_key: cose_key(TPA_PUB),
        role: RoleRecord::Tpa,
        scope: Scope::default(),
        key_scope: 1,
    });
    state.provisioning_counter = 3;
    state.set_stored_delegate_counter(Some(0));
    state.save(s.backend_mut()).unwrap();
    // The delegates' next number is a replay of the root's.
    refused(
        &mut s,
        TPA_PRIV,
        1,
        vec![identity()],
        "counter 1 is not greater than the applied counter 3 (the TPA root's counter",
    );
    assert_eq!(counters(&mut s), (3, Some(0)));
    let r = send(&mut s, TPA_PRIV, 4, vec![identity()]).unwrap();
    assert_eq!((r.signer, r.counter), (TPA_ROOT_ID, 4));
    assert_eq!(counters(&mut s), (4, Some(0)));
    // The TPA's model agrees once it knows the root's key (it learns it from the root's
    // messages); without it the anchor is all it can go by.
    let root = p256_public_from_pem(TPA_PUB);
    let by_root = sealed(&mut s, TPA_PRIV, 5, vec![]);
    assert_eq!(delegate_signer(&by_root, &state, Some(&root)), Ok(None));
    assert_eq!(delegate_signer(&by_root, &state, None), Ok(Some(2)));
    // The root removes it.
    send(&mut s, TPA_PRIV, 5, vec![Op::RemoveAnchor { id: 2 }]).unwrap();
    assert!(anchors(&mut s).anchors.is_empty());
}
