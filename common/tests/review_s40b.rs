//! Review s40 (review3, adversarial): each test here demonstrates a finding; the ones that
//! fail on the code they were written against say so in their comment.

use ciborium::Value;
use sha2::{Digest as _, Sha256};

use suit_common::protocol::ByteBuf;
use suit_common::protocol::*;
use suit_common::service::provision::Op;
use suit_common::service::state::{RoleRecord, Scope};

use suit_test_support::service::{
    anchor, identity, install_chunked as install, provision_ops, service,
};
use suit_test_support::{bytes, cbor, int, AUTHOR_PRIV, AUTHOR_PUB, OPERATOR_PRIV, OPERATOR_PUB};
use suit_test_support::{CLASS_ID, VENDOR_ID};

/// A manifest (sequence number `seq`) whose component list is `components` and which
/// installs `payload` (integrated as `#p`) into component 0 only, after the vendor and class
/// checks: the other components are listed (and so name the manifest's rollback key, the
/// encoded component list) but never touched.
fn listing_manifest(seq: u64, components: &[Vec<Vec<u8>>], payload: &[u8]) -> Vec<u8> {
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
    let components = components
        .iter()
        .map(|c| Value::Array(c.iter().map(|s| bytes(s)).collect()))
        .collect();
    suit_test_support::cbor::suit_manifest(
        seq as i64,
        components,
        &Value::Array(shared),
        &Value::Array(install),
    )
}

fn signed(manifest: &[u8], signer: &str, payload: &[u8]) -> Vec<u8> {
    suit_test_support::seal_esp256(manifest, &[signer], &[("#p", payload)])
}

/// Finding F1 (medium). One tenant's author fills the state record for everyone. Every
/// distinct rollback key a manifest uses (its manifest-component-id, or its whole component
/// list) adds an entry to `State::sequence_numbers`, which is never pruned and has no bound
/// of its own but `MAX_STATE` (256 KiB) for the whole record. An author whose scope is
/// ['app'] may list any components under ['app'] (they need not be touched), so ~35 valid
/// manifests of its own, each listing 15 long (~500-byte) unused identifiers, push the record to its
/// limit. From then on every commit of every tenant is refused (`fits()`: no space), and
/// the TPA cannot repair it: no provisioning operation removes sequence numbers, and
/// removing the offending author leaves its keys in place. Breaks "one signer can do only
/// what its scope allows" (SECURITY.md threat model) and "bound every length/count".
/// Expected: tenant 2 can still install after tenant 1's manifests (a per-anchor or global
/// cap on rollback keys refused tenant 1 instead, or keys are pruned). Fails on b654c6a.
#[test]
fn one_author_cannot_fill_the_state_with_rollback_keys_for_every_tenant() {
    let mut s = service(suit_test_support::service::backend(0));
    provision_ops(
        &mut s,
        1,
        vec![
            anchor(1, AUTHOR_PUB, RoleRecord::Author, &[&[b"app"]]),
            anchor(2, OPERATOR_PUB, RoleRecord::Author, &[&[b"other"]]),
            identity(),
        ],
    )
    .unwrap();
    // Control: tenant 2 installs its component.
    let other = |seq: u64, component: &[u8]| {
        let payload = format!("tenant 2, release {seq}").into_bytes();
        let m = listing_manifest(
            seq,
            &[vec![b"other".to_vec(), component.to_vec()]],
            &payload,
        );
        signed(&m, OPERATOR_PRIV, &payload)
    };
    install(&mut s, &other(1, b"first"), &[], 16 * 1024).expect("control: tenant 2 installs");

    // Tenant 1 (author 1, scope ['app']): valid manifests of its own, each listing
    // components under ['app'] it never touches, under a new component list each time; long
    // lists first, then shorter ones until not even a short one fits.
    let payload = b"tenant 1's one component".to_vec();
    let mut accepted = 0;
    let mut seq = 0u64;
    for (count, len) in [(15, 250), (1, 250), (1, 40), (1, 8)] {
        loop {
            seq += 1;
            let mut components = vec![vec![b"app".to_vec()]];
            for j in 0..count {
                let mut pad = vec![j; len];
                pad[..8].copy_from_slice(&seq.to_be_bytes());
                components.push(vec![b"app".to_vec(), pad, vec![j; len - 8]]);
            }
            let m = listing_manifest(seq, &components, &payload);
            match install(&mut s, &signed(&m, AUTHOR_PRIV, &payload), &[], 16 * 1024) {
                Ok(_) => accepted += 1,
                Err((_, e)) => {
                    assert!(e.reason.contains("no space"), "{e:?}");
                    break;
                }
            }
        }
    }
    assert!(
        accepted > 10,
        "tenant 1's manifests were refused early ({accepted})"
    );

    // Tenant 2's next release adds a component (and so a rollback key and a component
    // record): refused for want of space in the record tenant 1 filled.
    let r = install(&mut s, &other(2, b"second"), &[], 16 * 1024);
    assert!(
        r.is_ok(),
        "after {accepted} manifests of tenant 1, tenant 2's update is refused: {:?}",
        r.err()
    );
}

/// Finding F2 (low). The bounds of what a TPA message may provision do not compose with
/// the response bound: `check_scope` bounds an anchor's scope (16 prefixes of 8 segments of
/// 64 bytes), but `SetRules` bounds only the number of rules (32), not a rule's prefix (any
/// number of segments of any length, up to the 64 KiB message) nor its requirement lists.
/// A state the TPA (or any delegate) may legally produce is then one whose `Anchors` listing
/// exceeds `MAX_RESPONSE` (64 KiB): the command fails for good (`ResponseTooLarge`) and the
/// device's anchors and rules can no longer be read. Breaks "bound every length/count" (a
/// rule's prefix longer than any component identifier can ever be, `MAX_SEGMENTS` 16,
/// `MAX_ID_LEN` 512, is accepted and stored). Expected: such a rule refused as a scope
/// prefix is, and `Anchors` answers for every state the provisioning checks accept. Fails
/// on b654c6a.
#[test]
fn every_provisionable_state_can_still_be_listed() {
    let mut s = service(suit_test_support::service::backend(0));
    provision_ops(
        &mut s,
        1,
        vec![
            anchor(1, AUTHOR_PUB, RoleRecord::Author, &[&[b"app"]]),
            identity(),
        ],
    )
    .unwrap();
    // 32 rules, each a prefix of 210 segments (no component identifier has more than 16).
    let rules = (0..32u8)
        .map(|i| suit_common::service::state::RuleRecord {
            prefix: (0..210u8)
                .map(|j| ByteBuf::from(vec![i, j, 0, 0, 0, 0, 0, 0]))
                .collect(),
            required_roles: vec![],
            required_anchors: vec![1],
        })
        .collect();
    let r = provision_ops(&mut s, 2, vec![Op::SetRules(rules)]);
    let accepted = r.is_ok();
    // And one anchor at its scope's bounds.
    let full = Scope {
        component_prefixes: (0..16u8)
            .map(|i| (0..8u8).map(|j| ByteBuf::from(vec![i ^ j; 64])).collect())
            .collect(),
        vendor_ids: (0..16u8).map(|i| ByteBuf::from(vec![i; 64])).collect(),
        class_ids: (0..16u8).map(|i| ByteBuf::from(vec![i; 16])).collect(),
        ree_plaintext: false,
        // A status tracker key too (session 44: listed with the anchor, 65 bytes more).
        tracker_key: Some(ByteBuf::from({
            use p256::elliptic_curve::sec1::ToSec1Point;
            let sk = p256::SecretKey::from_slice(&[0x40; 32]).unwrap();
            sk.public_key().to_sec1_point(false).as_bytes().to_vec()
        })),
    };
    let before: AnchorsResponse =
        suit_test_support::service::call(&mut s, Command::Anchors, &AnchorsRequest {}).unwrap();
    let rescoped = provision_ops(
        &mut s,
        2 + u64::from(accepted),
        vec![Op::Rescope { id: 1, scope: full }],
    );
    // The message whose state could not be listed is refused as such, and changes nothing.
    if let Err((_, refused)) = &rescoped {
        assert!(
            matches!(
                refused.fault,
                Some(suit_common::fault::Fault::Provision(
                    suit_common::service::provision::ProvisionError::ListingTooLarge
                ))
            ),
            "{refused:?}"
        );
        let after: AnchorsResponse =
            suit_test_support::service::call(&mut s, Command::Anchors, &AnchorsRequest {}).unwrap();
        assert_eq!(before, after);
    }
    let listed: Result<AnchorsResponse, _> =
        suit_test_support::service::call(&mut s, Command::Anchors, &AnchorsRequest {});
    assert!(
        !accepted || listed.is_ok(),
        "rules of 210-segment prefixes were accepted, and the anchors can no longer be \
         listed: {:?}",
        listed.err()
    );
}
