//! The REE deletes one of the TA's records. OP-TEE removes an object whose REE-FS file is
//! missing or fails its hash when the TA next opens it (`remove_corrupt_obj`, consistently in
//! `dirf.db`, RPMB-backed or not), so any single object can be made to disappear. Modelled
//! here by removing it from the in-memory store between sessions. The device keys are stored
//! after the state record and the journal, so while they exist neither may be missing, and
//! missing keys are not remade while the records hold anything.

use suit_common::fault::Fault;
use suit_common::protocol::{Command, DeviceKeyRequest, DeviceKeyResponse, Empty, StatusResponse};
use suit_common::service::install::{Journal, JOURNAL_OBJECT};
use suit_common::service::keys::{DeviceKeyPair, KeyStoreError, KEYS_OBJECT};
use suit_common::service::provision::Op;
use suit_common::service::state::{State, StateError, STATE_OBJECT};
use suit_common::service::store::{MemoryStore, SecureStore};
use suit_common::service::Service;
use suit_test_support::service::*;

fn restart(store: &MemoryStore, tas: &[Vec<u8>]) -> Service<Mem> {
    let mut b = backend(0);
    b.set_store(store.after_reboot());
    b.installed_tas = tas.to_vec();
    service(b)
}

/// `s`'s storage with `names` deleted.
fn deleted(s: &Service<Mem>, names: &[&str]) -> MemoryStore {
    let mut store = s.backend().store().clone();
    for name in names {
        store.remove(name).unwrap();
    }
    store
}

fn status(s: &mut Service<Mem>) -> StatusResponse {
    call(s, Command::Status, &Empty {}).unwrap()
}

fn state_fault(st: &StatusResponse) -> Option<Fault> {
    st.service
        .state_error
        .as_ref()
        .and_then(|f| Fault::decode(f))
}

fn device_key(
    s: &mut Service<Mem>,
) -> Result<DeviceKeyResponse, (suit_common::protocol::Status, Refused)> {
    call(s, Command::DeviceKey, &DeviceKeyRequest::default())
}

/// Provisioned with author 1, a release at sequence 2, then author 1 revoked.
fn used_device() -> (Service<Mem>, Vec<u8>, Release) {
    let mut s = service(backend(0));
    device_key(&mut s).unwrap();
    let m1 = provision_message(&mut s, 1, vec![author_anchor(1, &[b"app"]), identity()]);
    provision(&mut s, &m1).unwrap();
    let id: &[&[u8]] = &[b"app", b"cfg"];
    let old = release(1, &[part(id, b"old config", "#c")]);
    install(&mut s, &release(2, &[part(id, b"new config", "#c")])).unwrap();
    let m2 = provision_message(&mut s, 2, vec![Op::RemoveAnchor { id: 1 }]);
    provision(&mut s, &m2).unwrap();
    (s, m1, old)
}

#[test]
fn a_deleted_state_record_is_refused_not_read_as_a_new_device() {
    let (s, m1, old) = used_device();
    let mut s = restart(&deleted(&s, &[STATE_OBJECT]), &[]);

    let st = status(&mut s);
    assert_eq!(state_fault(&st), Some(Fault::State(StateError::Deleted)));
    // The revoked author's message is not applied again, the older release not installed.
    assert!(provision(&mut s, &m1).is_err());
    assert!(install(&mut s, &old).is_err());
    assert_eq!(
        s.backend().store().raw(STATE_OBJECT),
        None,
        "nothing recreated"
    );
    assert!(matches!(
        State::load(s.backend().store()),
        Err(StateError::Deleted)
    ));
}

#[test]
fn a_deleted_journal_is_refused_and_stops_every_command_but_status() {
    let (s, m1, _) = used_device();
    let mut s = restart(&deleted(&s, &[JOURNAL_OBJECT]), &[]);

    let st = status(&mut s);
    assert_eq!(state_fault(&st), Some(Fault::State(StateError::Deleted)));
    let r = refusal(provision(&mut s, &m1));
    assert_eq!(r.fault, Some(Fault::Reconcile(StateError::Deleted)));
    assert!(refusal(device_key(&mut s)).fault.is_some());
    assert_eq!(
        s.backend().store().raw(JOURNAL_OBJECT),
        None,
        "nothing recreated"
    );
}

/// Review s25: the journal deleted while a TA commit is pending (OP-TEE may hold the new TA,
/// the state records the old one) must not let the old release's personalization data go to
/// the new TA: the commit is not forgotten, everything but status is refused.
#[test]
fn a_journal_deleted_while_a_ta_commit_is_pending_releases_nothing() {
    let (ta1, ta2) = (ta_image(TA, 1), ta_image(TA, 2));
    let v1 = release(
        1,
        &[
            part(&[&TA], &ta1, "#ta"),
            part(&[&TA, b"perso"], b"perso one", "#p"),
        ],
    );
    let v2 = release(
        2,
        &[
            part(&[&TA], &ta2, "#ta"),
            part(&[&TA, b"perso"], b"perso two", "#p"),
        ],
    );
    let mut s = device();
    install(&mut s, &v1).unwrap();
    let base = s.backend().store().clone();
    let base_tas = s.backend().installed_tas.clone();
    let mut seen = 0;
    for n in 0..64 {
        let mut s = restart(&base, &base_tas);
        s.backend_mut().store_mut().power_cut_after = Some(n);
        let _ = install(&mut s, &v2);
        if !s.backend().store().powered_off {
            break;
        }
        let tas = s.backend().installed_tas.clone();
        let mut store = s.backend().store().after_reboot();
        let pending = Journal::load(&store)
            .unwrap()
            .is_some_and(|j| j.pending.is_some());
        if !(pending && tas.last() == Some(&ta2)) {
            continue;
        }
        seen += 1;
        store.remove(JOURNAL_OBJECT).unwrap();
        let mut s = restart(&store, &tas);
        let st = status(&mut s);
        assert_eq!(state_fault(&st), Some(Fault::State(StateError::Deleted)));
        assert_eq!(personalization(&mut s), None, "cut after write {n}");
    }
    assert!(
        seen > 0,
        "no cut left a pending commit with the new TA installed"
    );
}

#[test]
fn deleted_device_keys_are_not_remade_while_the_records_hold_anything() {
    let (s, _, _) = used_device();
    let mut s = restart(&deleted(&s, &[KEYS_OBJECT]), &[]);
    let r = refusal(device_key(&mut s));
    assert_eq!(r.fault, Some(Fault::KeyStore(KeyStoreError::Deleted)));
    assert_eq!(
        s.backend().store().raw(KEYS_OBJECT),
        None,
        "no new master secret"
    );
}

/// A fresh device stores its records, then its keys; a cut anywhere in between is a fresh
/// device again, never a refused one.
#[test]
fn first_use_cut_at_any_write_leaves_a_device_that_starts_over() {
    for n in 0..8 {
        let mut s = service(backend(0));
        s.backend_mut().store_mut().power_cut_after = Some(n);
        let first = device_key(&mut s);
        let cut = s.backend().store().powered_off;
        let mut s = restart(&s.backend().store().after_reboot(), &[]);
        let st = status(&mut s);
        assert_eq!(state_fault(&st), None, "cut after write {n}");
        let again = device_key(&mut s).unwrap();
        if !cut {
            assert_eq!(first.unwrap().identity_kid, again.identity_kid);
            return;
        }
        assert!(s.backend().store().raw(STATE_OBJECT).is_some());
        assert!(s.backend().store().raw(JOURNAL_OBJECT).is_some());
    }
    panic!("first use never completed");
}

/// Keys stored before the rule (format 2) still load; the records they lack are made and the
/// key object is rewritten, after which a deletion is detected.
#[test]
fn keys_from_before_the_rule_load_and_are_upgraded() {
    let mut env = backend(7);
    // A format-2 key object: the same master under the old format number.
    let pair = DeviceKeyPair::load_or_create(&mut env).unwrap();
    let stored = env.store().raw(KEYS_OBJECT).unwrap();
    let mut legacy_store = MemoryStore::new();
    let legacy = with_format(&stored, 2);
    legacy_store.put(KEYS_OBJECT, &legacy).unwrap();
    let mut old = backend(8);
    old.set_store(legacy_store);
    // Before the upgrade a missing state is a device that never stored one.
    assert_eq!(State::load(old.store()).unwrap(), State::new());
    let loaded = DeviceKeyPair::load_or_create(&mut old).unwrap();
    assert_eq!(loaded.identity_public().kid, pair.identity_public().kid);
    assert_eq!(
        old.store().raw(KEYS_OBJECT).unwrap(),
        stored,
        "rewritten as format 3"
    );
    assert!(old.store().raw(STATE_OBJECT).is_some());
    assert!(old.store().raw(JOURNAL_OBJECT).is_some());
    let mut store = old.store().clone();
    store.remove(STATE_OBJECT).unwrap();
    assert!(matches!(State::load(&store), Err(StateError::Deleted)));
}

/// The key record with its format number replaced (`{"format": n, "master": bstr}`).
fn with_format(record: &[u8], format: u8) -> Vec<u8> {
    let mut v: ciborium::Value = ciborium::from_reader(record).unwrap();
    for (k, val) in v.as_map_mut().unwrap() {
        if k.as_text() == Some("format") || k.as_integer() == Some(0.into()) {
            *val = ciborium::Value::Integer(format.into());
        }
    }
    let mut out = Vec::new();
    ciborium::into_writer(&v, &mut out).unwrap();
    out
}

/// Two deletions suffice for a reset (the journal is empty between installs): the keys and
/// the state record. The device starts over under a new identity, and does not adopt the KEK
/// object an earlier owner's anchors were given (review s25, second round).
#[test]
fn a_reset_by_deletion_starts_with_a_new_identity_and_no_old_keks() {
    use suit_common::service::keys::KEKS_OBJECT;
    use suit_test_support::TPA_PRIV;
    let mut s = service(backend(0));
    let to = secrets_to(&mut s);
    let old_kid = device_key(&mut s).unwrap().identity_kid;
    let m1 = provision_message(
        &mut s,
        1,
        vec![
            author_anchor(1, &[b"app"]),
            kek_op(&to, TPA_PRIV, b"kek-1", &[(1, &author_key())], &[0x11; 16]),
        ],
    );
    provision(&mut s, &m1).unwrap();
    assert!(s.backend().store().raw(KEKS_OBJECT).is_some());

    // Another RNG stream than the first boot's (the test backends' RNG is seeded).
    let mut b = backend(9);
    b.set_store(deleted(&s, &[KEYS_OBJECT, STATE_OBJECT]).after_reboot());
    let mut s = service(b);
    let new_kid = device_key(&mut s).unwrap().identity_kid;
    assert_ne!(new_kid, old_kid, "a new identity");
    assert_eq!(
        s.backend().store().raw(KEKS_OBJECT),
        None,
        "the old KEKs dropped"
    );
    // The old owner's message names the old identity: refused.
    assert!(provision(&mut s, &m1).is_err());
}

/// Review s33: a failure forged after each write of a fresh device's first key creation
/// landed: the same session and a restarted one see a clean device whose identity, once
/// answered, never changes.
#[test]
fn first_use_forged_at_any_write_leaves_a_device_that_starts_over() {
    for segmented in [false, true] {
        let run = || {
            for n in 0..16 {
                let mut s = service(backend(0));
                s.backend_mut().store_mut().forge_failure_at = Some(n);
                let first = device_key(&mut s);
                if s.backend().store().forge_failure_at.is_some() {
                    first.unwrap();
                    return;
                }
                let mut after = restart(&s.backend().store().after_reboot(), &[]);
                for (s, when) in [(&mut s, "same session"), (&mut after, "restarted")] {
                    let when = format!("forged at write {n}, {when}");
                    let st = status(s);
                    assert_eq!(state_fault(&st), None, "{when}");
                    let a = device_key(s).unwrap_or_else(|e| panic!("{when}: {e:?}"));
                    let b = device_key(s).unwrap();
                    assert_eq!(a.identity_kid, b.identity_kid, "{when}");
                }
            }
            panic!("first use never completed");
        };
        if segmented {
            with_segments(crate::power_cut::segmented::SEG, run);
        } else {
            run();
        }
    }
}
