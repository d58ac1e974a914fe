//! Power cuts and forged failures at every write of the commands that change stored state
//! besides the installs and the plain provisioning `power_cut` covers: a component's removal
//! (unlink, with its rollback floor), the device's first keys, a provisioning message that
//! changes the KEK set and removes and rescopes anchors (a symmetric one among them), and a
//! refused install that stores its failure report. After each cut the device restarts from
//! what storage kept (a new `Service` on the same store) and must be exactly in the old or
//! the new state, with no removed secret back in force, no orphan after the next begin, and
//! go on working.

use suit_common::protocol::{
    Command, DeviceKeyResponse, Empty, ReportRequest, ReportResponse, StatusResponse,
};
use suit_common::service::keys::{KEKS_OBJECT, KEYS_OBJECT};
use suit_common::service::provision::{self, Op};
use suit_common::service::state::{RoleRecord, State};
use suit_common::service::store::MemoryStore;
use suit_common::service::{Service, REPORT_OBJECT};
use suit_test_support::keys::symmetric_cose_key;
use suit_test_support::service::*;

use crate::power_cut::{assert_no_orphans, observe, old_or_new, restart, Observed};

/// How a test fails the `n`th write of a command.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fault {
    /// Power is lost at it: it and everything after it never happen.
    Cut,
    /// It lands and is reported failed (the REE answers REE-FS writes).
    Forged,
}

/// Runs `op` on a device restarted from `base` with `fault` at write n, for every n until
/// `op` runs fault-free; `check` gets each device the fault leaves (restarted after a cut;
/// after a forged failure, the same session with its fault plan spent and a restarted one)
/// and what `op` answered. Returns how many faults fired.
fn at_every_write<R>(
    base: &MemoryStore,
    fault: Fault,
    mut op: impl FnMut(&mut Service<Mem>) -> Result<R, (suit_common::protocol::Status, Refused)>,
    mut check: impl FnMut(Service<Mem>, bool, &str),
) -> usize
where
    R: std::fmt::Debug,
{
    for n in 0..500 {
        let mut s = restart(base, &[]);
        let st = s.backend_mut().store_mut();
        match fault {
            Fault::Cut => st.power_cut_after = Some(n),
            Fault::Forged => st.forge_failure_at = Some(n),
        }
        let r = op(&mut s);
        let fired = match fault {
            Fault::Cut => s.backend().store().powered_off,
            Fault::Forged => s.backend().store().forge_failure_at.is_none(),
        };
        if !fired {
            r.unwrap_or_else(|e| panic!("{fault:?}: fault-free run refused: {e:?}"));
            return n;
        }
        let when = format!("{fault:?} at write {n}");
        let restarted = restart(s.backend().store(), &s.backend().installed_tas);
        if fault == Fault::Forged {
            check(s, r.is_ok(), &format!("{when}, same session"));
        }
        check(restarted, r.is_ok(), &format!("{when}, restarted"));
    }
    panic!("{fault:?}: the command never ran fault-free");
}

fn status(s: &mut Service<Mem>) -> StatusResponse {
    call(s, Command::Status, &Empty {}).unwrap()
}

// ---- unlink: a component removed, its rollback floor kept ----

const DATA: &[&[u8]] = &[b"app", b"data"];
const KEEP: &[&[u8]] = &[b"app", b"keep"];

/// A device holding `DATA` and `KEEP` (release 1), the unlink of `DATA` (sequence 2), and the
/// states before and after it.
fn unlink_scenario() -> (MemoryStore, Release, Observed, Observed) {
    use ciborium::Value;
    let mut s = device();
    install(
        &mut s,
        &release(
            1,
            &[
                part(DATA, b"secure data to remove", "#data"),
                part(KEEP, b"secure data to keep", "#keep"),
            ],
        ),
    )
    .unwrap();
    let old = observe(&s);
    let base = s.backend().store().clone();
    let unlink = crate::service_unlink::with_install(
        2,
        &[DATA],
        vec![
            Value::from(12),
            Value::from(0),
            Value::from(33),
            Value::from(15),
        ],
    );
    install(&mut s, &unlink).unwrap();
    let new = observe(&s);
    assert_eq!(new.state.components.len(), 1, "{new:#?}");
    assert_ne!(old, new);
    (base, unlink, old, new)
}

/// After a fault in the unlink: old or new (new if it was answered done), no orphan (the
/// removed component's object gone with its record), and the device goes on: from the old
/// state the unlink applies once, from the new one it is a rollback, and `DATA` comes back
/// only with a manifest newer than the unlink.
fn unlink_settles(
    mut s: Service<Mem>,
    unlink: &Release,
    old: &Observed,
    new: &Observed,
    done: bool,
    when: &str,
) {
    let _ = status(&mut s);
    let is_new = old_or_new(&s, old, new, when);
    assert!(is_new || !done, "{when}: answered done, old state");
    assert_no_orphans(&mut s, when);
    if is_new {
        let r = refusal(install(&mut s, unlink));
        assert!(r.reason.contains("Rollback"), "{when}: {r:?}");
    } else {
        install(&mut s, unlink).unwrap_or_else(|e| panic!("{when}: {e:?}"));
        assert_eq!(observe(&s), *new, "{when}: the retried unlink");
    }
    let again = |seq| release(seq, &[part(DATA, b"back again", "#data")]);
    let r = refusal(install(&mut s, &again(2)));
    assert!(
        r.reason.contains("Rollback"),
        "{when}: the floor lost: {r:?}"
    );
    install(&mut s, &again(3)).unwrap_or_else(|e| panic!("{when}: {e:?}"));
}

#[test]
fn a_power_cut_or_forged_failure_at_any_write_of_an_unlink_leaves_the_old_or_the_new_state() {
    let (base, unlink, old, new) = unlink_scenario();
    for fault in [Fault::Cut, Fault::Forged] {
        let writes = at_every_write(
            &base,
            fault,
            |s| install(s, &unlink),
            |s, done, when| unlink_settles(s, &unlink, &old, &new, done, when),
        );
        assert!(writes >= 2, "{fault:?}: only {writes} writes");
    }
}

// ---- the first DeviceKey: the master secret and the records it needs ----

/// The identity key a device exports.
fn identity_key(s: &mut Service<Mem>) -> Vec<u8> {
    let k: DeviceKeyResponse = call(s, Command::DeviceKey, &Empty {}).unwrap();
    k.identity_key.into_vec()
}

/// The device after a restart on `store` with an RNG that makes other keys than seed 0's.
fn restart_other_rng(store: &MemoryStore) -> Service<Mem> {
    let mut b = backend(7);
    b.set_store(store.after_reboot());
    service(b)
}

/// Cuts and forged failures at every write of the first DeviceKey: a key once exported never
/// changes (the next boot, with an RNG that would make another, exports the same), the store
/// holds one key object, and the device then provisions and installs. A cut before the key
/// object landed exported nothing: the next boot may make its own.
#[test]
fn a_power_cut_or_forged_failure_at_any_write_of_the_first_device_key_never_changes_an_exported_key(
) {
    let fresh = MemoryStore::new();
    let mut s = restart(&fresh, &[]);
    let generated = identity_key(&mut s);
    for fault in [Fault::Cut, Fault::Forged] {
        let writes = at_every_write(
            &fresh,
            fault,
            |s| call::<_, DeviceKeyResponse>(s, Command::DeviceKey, &Empty {}),
            |s, done, when| {
                // A restarted device draws other keys than the interrupted one would have.
                let mut s = if when.ends_with("restarted") {
                    restart_other_rng(s.backend().store())
                } else {
                    s
                };
                let landed = s.backend().store().raw(KEYS_OBJECT).is_some();
                let key = identity_key(&mut s);
                if done || landed {
                    assert_eq!(key, generated, "{when}: the stored key was not kept");
                }
                // Stable from now on, whatever the next boot's RNG makes.
                let mut again = restart_other_rng(s.backend().store());
                assert_eq!(
                    identity_key(&mut again),
                    key,
                    "{when}: changed at the next boot"
                );
                let message = provision_message(
                    &mut s,
                    1,
                    vec![author_anchor(1, &[&TA, b"app"]), identity()],
                );
                provision(&mut s, &message).unwrap_or_else(|e| panic!("{when}: {e:?}"));
                install(&mut s, &release(1, &[part(DATA, b"data", "#d")]))
                    .unwrap_or_else(|e| panic!("{when}: {e:?}"));
                assert_no_orphans(&mut s, when);
                assert_eq!(identity_key(&mut s), key, "{when}");
            },
        );
        assert!(writes >= 2, "{fault:?}: only {writes} writes");
    }
}

// ---- provisioning that changes the KEK set and removes a symmetric anchor ----

const KEK_A: &[u8] = &[0xa1; 16];
const KEK_B: &[u8] = &[0xb2; 32];
const HMAC_SECRET: &[u8] = &[0x3c; 32];

/// What a provisioning commit must switch all at once: the state record and the KEKs it
/// commits to (kid and key).
#[derive(Debug, PartialEq)]
struct Provisioned {
    state: State,
    keks: Vec<(Vec<u8>, Vec<u8>, Vec<u32>)>,
}

fn provisioned_now(s: &Service<Mem>) -> Provisioned {
    let mut state = state(s);
    let keks = provision::load_keks(s.backend(), &state)
        .unwrap()
        .iter()
        .map(|k| (k.kid.to_vec(), k.key().expose().to_vec(), k.anchors.clone()))
        .collect();
    // The set's id is drawn afresh by each message that writes the set (a retry too): what
    // it names is compared instead.
    state.kek_set = None;
    Provisioned { state, keks }
}

/// A device whose message 1 added author anchor 1, symmetric anchor 3 and KEK `kek-a`; its
/// message 2 adds `kek-b`, removes `kek-a` and anchor 3 and rescopes anchor 1.
fn kek_scenario() -> (MemoryStore, Vec<u8>, Provisioned, Provisioned) {
    let mut s = service(backend(0));
    let _: DeviceKeyResponse = call(&mut s, Command::DeviceKey, &Empty {}).unwrap();
    let to = secrets_to(&mut s);
    let author = author_key();
    let hmac = symmetric_cose_key(b"op-hmac", HMAC_SECRET);
    let first = provision_message(
        &mut s,
        1,
        vec![
            author_anchor(1, &[&TA, b"app"]),
            identity(),
            secret_anchor_op(
                &to,
                TPA_PRIV,
                3,
                RoleRecord::Author,
                scope(&[b"mac"]),
                &hmac,
            ),
            kek_op(&to, TPA_PRIV, b"kek-a", &[(1, &author)], KEK_A),
        ],
    );
    provision(&mut s, &first).unwrap();
    let old = provisioned_now(&s);
    assert_eq!(old.keks.len(), 1);
    assert!(old.state.anchors.iter().any(|a| a.id == 3));
    let base = s.backend().store().clone();
    let second = provision_message(
        &mut s,
        2,
        vec![
            kek_op(&to, TPA_PRIV, b"kek-b", &[(1, &author)], KEK_B),
            Op::RemoveKek {
                kid: b"kek-a".to_vec().into(),
            },
            Op::RemoveAnchor { id: 3 },
            Op::Rescope {
                id: 1,
                scope: scope(&[&TA[..], b"app", b"more"]),
            },
        ],
    );
    provision(&mut s, &second).unwrap();
    let new = provisioned_now(&s);
    assert_eq!(new.keks.len(), 1);
    assert_eq!(new.keks[0].0, b"kek-b");
    assert!(!new.state.anchors.iter().any(|a| a.id == 3));
    (base, second, old, new)
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Cuts and forged failures at every write of a message changing the KEK set: the state and
/// the KEKs in force are both old or both new (never the new record with the old KEKs, nor
/// a removed KEK or symmetric anchor back in force), the message then applies once (old) or
/// is refused as applied (new), and the KEK object keeps no removed KEK at rest once the
/// device goes on.
#[test]
fn a_power_cut_or_forged_failure_at_any_write_of_a_kek_message_leaves_the_old_or_the_new_set() {
    let (base, message, old, new) = kek_scenario();
    for fault in [Fault::Cut, Fault::Forged] {
        let writes = at_every_write(
            &base,
            fault,
            |s| provision(s, &message),
            |mut s, done, when| {
                let _ = status(&mut s);
                let now = provisioned_now(&s);
                assert!(now == old || now == new, "{when}: mixed: {now:#?}");
                assert!(now == new || !done, "{when}: answered applied, old state");
                if now == old {
                    provision(&mut s, &message).unwrap_or_else(|e| panic!("{when}: {e:?}"));
                } else {
                    refusal(provision(&mut s, &message));
                }
                assert_eq!(provisioned_now(&s), new, "{when}");
                // The next message, whatever it changes, leaves no removed secret at rest.
                let next = provision_message(&mut s, 3, vec![identity()]);
                provision(&mut s, &next).unwrap_or_else(|e| panic!("{when}: {e:?}"));
                let stored = s.backend().store().raw(KEKS_OBJECT).unwrap_or_default();
                assert!(
                    !contains(&stored, KEK_A),
                    "{when}: the removed KEK kept at rest"
                );
                for name in s.backend().store().names() {
                    let raw = s.backend().store().raw(&name).unwrap();
                    assert!(
                        !contains(&raw, HMAC_SECRET),
                        "{when}: the removed anchor's key kept in {name}"
                    );
                }
                install(&mut s, &release(1, &[part(DATA, b"data", "#d")]))
                    .unwrap_or_else(|e| panic!("{when}: {e:?}"));
                assert_no_orphans(&mut s, when);
            },
        );
        assert!(writes >= 2, "{fault:?}: only {writes} writes");
    }
}

// ---- a refused install (after authentication) and its stored report ----

/// A refused finish (the detached payload's digest does not match) cut or failed at every
/// write: the state is the old one, the stored report is the earlier one or this attempt's
/// (never a mix or none), the Report command signs it, and the device goes on.
#[test]
fn a_power_cut_or_forged_failure_at_any_write_of_a_refused_install_keeps_a_signable_report() {
    let mut s = device();
    let blob = |b: u8| vec![b; 20_000];
    let (b1, b2) = (blob(1), blob(2));
    install(&mut s, &release(1, &[part(DATA, &b1, "https://u/blob")])).unwrap();
    let old = observe(&s);
    let base = s.backend().store().clone();
    let earlier = base.raw(REPORT_OBJECT).unwrap();
    let good = release(2, &[part(DATA, &b2, "https://u/blob")]);
    let mut bad = Release {
        envelope: good.envelope.clone(),
        payloads: good.payloads.clone(),
    };
    bad.payloads[0].1[7] ^= 1;
    let mut t = restart(&base, &[]);
    refusal(install(&mut t, &bad));
    let refused_report = t.backend().store().raw(REPORT_OBJECT).unwrap();
    assert_ne!(refused_report, earlier);
    for fault in [Fault::Cut, Fault::Forged] {
        let mut stored = [0, 0];
        for n in 0..200 {
            let mut s = restart(&base, &[]);
            let st = s.backend_mut().store_mut();
            match fault {
                Fault::Cut => st.power_cut_after = Some(n),
                Fault::Forged => st.forge_failure_at = Some(n),
            }
            refusal(install(&mut s, &bad));
            let fired = match fault {
                Fault::Cut => s.backend().store().powered_off,
                Fault::Forged => s.backend().store().forge_failure_at.is_none(),
            };
            if !fired {
                break;
            }
            let when = format!("{fault:?} at write {n}");
            let mut s = restart(s.backend().store(), &[]);
            let _ = status(&mut s);
            assert_eq!(observe(&s), old, "{when}");
            match s.backend().store().raw(REPORT_OBJECT) {
                Some(r) if r == earlier => stored[0] += 1,
                Some(r) if r == refused_report => stored[1] += 1,
                // A forged failure is the attempt's outcome (its own report, signed below),
                // or takes the earlier report with it when the report cannot be stored.
                _ if fault == Fault::Forged => {}
                other => panic!("{when}: report {:?}", other.map(|r| r.len())),
            }
            if s.backend().store().raw(REPORT_OBJECT).is_some() {
                let r: Result<ReportResponse, _> = call(
                    &mut s,
                    Command::Report,
                    &ReportRequest {
                        nonce: Some(vec![9; 8].into()),
                        pre_auth: false,
                    },
                );
                r.unwrap_or_else(|e| panic!("{when}: the stored report not signed: {e:?}"));
            }
            assert_no_orphans(&mut s, &when);
            install(&mut s, &good).unwrap_or_else(|e| panic!("{when}: {e:?}"));
        }
        // The report is the attempt's last write: a cut keeps the earlier one, a forged
        // failure lands this attempt's (or its own refusal's).
        assert!(
            stored[usize::from(fault == Fault::Forged)] >= 1,
            "{fault:?}: {stored:?}"
        );
    }
}
