//! suit-directive-unlink (trust domains) through the TA's service on the in-memory backend:
//! secure-storage and personalization components are removed at commit (record gone, object
//! deleted, rollback floor kept); a TA or a normal-world file is refused with a typed reason
//! and nothing changes; a soft-failed option's removal is cancelled.

use ciborium::Value;
use suit_common::service::memory::MemoryBackend;
use suit_common::service::state::component_from;
use suit_common::suit::ComponentId;
use suit_test_support::service::*;
use suit_test_support::{spec_id_checks, suit_manifest};

/// A signed manifest over `components` (vendor / class checked on the first) whose install
/// sequence is `install`.
pub(crate) fn with_install(seq: u64, components: &[&[&[u8]]], install: Vec<Value>) -> Release {
    let shared = spec_id_checks();
    let components = components
        .iter()
        .map(|c| Value::Array(c.iter().map(|s| bytes(s)).collect()))
        .collect();
    let m = suit_manifest(
        seq as i64,
        components,
        &Value::Array(shared),
        &Value::Array(install),
    );
    Release {
        envelope: envelope(&m, &[]),
        payloads: vec![],
    }
}

const DATA: &[&[u8]] = &[b"app", b"data"];

fn installed(s: &suit_common::service::Service<Mem>, id: &[&[u8]]) -> bool {
    let id = ComponentId::new(id);
    state(s)
        .components
        .iter()
        .any(|c| component_from(&c.id) == id)
}

fn device_with_data() -> suit_common::service::Service<Mem> {
    let mut s = service(MemoryBackend::new(0));
    let _: suit_common::protocol::DeviceKeyResponse = call(
        &mut s,
        suit_common::protocol::Command::DeviceKey,
        &suit_common::protocol::Empty {},
    )
    .unwrap();
    let message = provision_message(
        &mut s,
        1,
        vec![author_anchor(1, &[&TA, b"app", b"ree"]), identity()],
    );
    provision(&mut s, &message).unwrap();
    let r = release(
        1,
        &[Part {
            id: DATA,
            image: b"secure data to remove later",
            uri: "#data",
        }],
    );
    install(&mut s, &r).unwrap();
    assert!(installed(&s, DATA));
    s
}

#[test]
fn unlink_removes_a_secure_component_and_keeps_its_rollback_floor() {
    let mut s = device_with_data();
    let object = state(&s).components[0].object.clone();
    assert!(objects(&s).iter().any(|(n, _, _)| *n == object));

    install(
        &mut s,
        &with_install(2, &[DATA], vec![int(12), int(0), int(33), int(15)]),
    )
    .unwrap();
    assert!(!installed(&s, DATA));
    assert!(
        !objects(&s).iter().any(|(n, _, _)| *n == object),
        "the removed component's object is deleted"
    );

    // Re-installing it needs a manifest newer than the one that removed it, whatever its
    // component list (another list has another manifest-level rollback key).
    let image: &[u8] = b"old content again";
    let parts = |seq| {
        release(
            seq,
            &[
                Part {
                    id: DATA,
                    image,
                    uri: "#d",
                },
                Part {
                    id: &[b"app", b"other"],
                    image: b"x",
                    uri: "#o",
                },
            ],
        )
    };
    let r = refusal(install(&mut s, &parts(2)));
    assert!(r.reason.to_lowercase().contains("rollback"), "{r:?}");
    assert!(!installed(&s, DATA));
    install(&mut s, &parts(3)).unwrap();
    assert!(installed(&s, DATA));
}

#[test]
fn unlink_of_a_ta_or_a_normal_world_file_is_refused_and_changes_nothing() {
    let mut s = device_with_data();
    let ta: &[&[u8]] = &[&TA];
    let ree: &[&[u8]] = &[b"ree", b"app.bin"];
    for (id, says) in [
        (ta, "removing a TA is not supported"),
        (ree, "the agent has no removal step"),
    ] {
        let (before_state, before_objects) = (state(&s), objects(&s));
        let r = refusal(install(
            &mut s,
            &with_install(5, &[id], vec![int(12), int(0), int(33), int(15)]),
        ));
        assert!(r.reason.contains(says), "{r:?}");
        assert_eq!(state(&s), before_state);
        assert_eq!(objects(&s), before_objects);
    }
}

#[test]
fn an_unlink_in_a_failed_try_each_option_is_cancelled() {
    let mut s = device_with_data();
    // try-each: option 0 unlinks, then fails a condition (abort); option 1 does nothing.
    let option0 = cbor(&Value::Array(vec![int(33), int(15), int(14), int(15)]));
    let option1 = cbor(&Value::Array(vec![int(1), int(15)]));
    let install_seq = vec![
        int(12),
        int(0),
        int(15),
        Value::Array(vec![bytes(&option0), bytes(&option1)]),
    ];
    install(&mut s, &with_install(2, &[DATA], install_seq)).unwrap();
    assert!(installed(&s, DATA), "the cancelled removal must not happen");
}
