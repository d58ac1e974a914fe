//! Power cuts and storage faults at every write of an install (a TA, its personalization
//! data and a plain component with a detached payload) and of a provisioning message. After
//! each cut the device restarts from what storage kept, finishes or drops the interrupted
//! commit, and must be exactly in the old or exactly in the new state (state record,
//! component bytes, OP-TEE's TA store), never a mix, with no orphan object left once the
//! next install begins.

use suit_common::fault::Fault;
use suit_common::protocol::{Command, Empty, RefusalKind, StatusResponse};
use suit_common::service::install::{CommitRefusal, InstallError, Journal, JOURNAL_OBJECT};
use suit_common::service::keys::KEYS_OBJECT;
use suit_common::service::segments::SEGMENT_MARK;
use suit_common::service::state::{State, StateError, STATE_OBJECT};
use suit_common::service::store::{MemoryStore, StoreError};
use suit_common::service::{Service, REPORT_OBJECT};
use suit_common::text::uuid as uuid_string;
use suit_test_support::service::*;

/// What must be all old or all new.
#[derive(Debug, PartialEq)]
pub(crate) struct Observed {
    pub(crate) state: State,
    /// Each component's stored bytes (SHA-256), by object name.
    pub(crate) bytes: Vec<(String, String)>,
    /// The image OP-TEE would run for `TA` (SHA-256).
    pub(crate) ta: Option<String>,
}

pub(crate) fn observe(s: &Service<Mem>) -> Observed {
    let state = state(s);
    let bytes = state
        .components
        .iter()
        .filter(|c| !c.object.is_empty())
        .map(|c| {
            // As the next session reads it (all its segments, if segmented).
            let b = s
                .backend()
                .logical(&c.object)
                .unwrap()
                .unwrap_or_else(|| panic!("{} missing", c.object));
            (c.object.clone(), hex::encode(sha256(&b)))
        })
        .collect();
    Observed {
        state,
        bytes,
        ta: s
            .backend()
            .installed_tas
            .last()
            .map(|t| hex::encode(sha256(t))),
    }
}

fn sha256(b: &[u8]) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(b).to_vec()
}

/// The device after a restart: what storage (and the TA store) kept, fault plan cleared.
pub(crate) fn restart(store: &MemoryStore, tas: &[Vec<u8>]) -> Service<Mem> {
    let mut b = backend(0);
    b.set_store(store.after_reboot());
    b.installed_tas = tas.to_vec();
    service(b)
}

/// Whether an interrupted commit waits in the journal.
fn pending(s: &Service<Mem>) -> bool {
    Journal::load(s.backend().store())
        .unwrap()
        .is_some_and(|j| j.pending.is_some())
}

/// After the next begin, only the state, keys, report and the objects the state uses exist.
pub(crate) fn assert_no_orphans(s: &mut Service<Mem>, when: &str) {
    begin(s, 1).unwrap();
    let st = state(s);
    let b = s.backend();
    for name in b.store().names() {
        // Segment k > 0 of a logical object (segmented backends): known if the object
        // reaches into it; a segment at or past the end is a tail left behind.
        let (object, k) = match name.split_once(SEGMENT_MARK) {
            Some((object, k)) => (object, k.parse::<u64>().unwrap()),
            None => (name.as_str(), 0),
        };
        let in_object = k == 0
            || b.segment_len().is_some_and(|seg| {
                let len = b.logical(object).unwrap().map_or(0, |v| v.len() as u64);
                k * seg < len
            });
        // An install object kept empty for reuse has no segment past its first.
        // The KEK object only while the state commits to a set it holds.
        let keks = object == suit_common::service::keys::KEKS_OBJECT
            && st
                .kek_set
                .as_ref()
                .is_some_and(|id| id.as_slice() != suit_common::service::provision::NO_KEKS);
        let reports = [REPORT_OBJECT, suit_common::service::PRE_AUTH_REPORT_OBJECT];
        let known = [STATE_OBJECT, KEYS_OBJECT, JOURNAL_OBJECT].contains(&object)
            || reports.contains(&object)
            || keks
            || st.components.iter().any(|c| c.object == object)
            || (k == 0 && is_emptied_install_object(b.store(), object));
        assert!(
            known && in_object,
            "{when}: orphan object {name} after the next begin"
        );
    }
    // Kept once written, but listing nothing.
    assert!(
        Journal::load(s.backend().store())
            .unwrap()
            .is_none_or(|j| j.is_empty()),
        "{when}: journal left: {:?}",
        s.backend().store().raw(JOURNAL_OBJECT)
    );
}

/// Which of `old` / `new` the device is in; panics on anything else.
pub(crate) fn old_or_new(s: &Service<Mem>, old: &Observed, new: &Observed, when: &str) -> bool {
    let now = observe(s);
    if now == *old {
        false
    } else if now == *new {
        true
    } else {
        panic!("{when}: mixed state\nnow: {now:#?}\nold: {old:#?}\nnew: {new:#?}")
    }
}

struct Scenario {
    base: MemoryStore,
    base_tas: Vec<Vec<u8>>,
    v2: Release,
    old: Observed,
    new: Observed,
    /// The personalization data the TA reads in the old and in the new state.
    old_perso: Option<Vec<u8>>,
    new_perso: Option<Vec<u8>>,
}

/// A device with release 1 installed, and release 2 (TA v2, its personalization data and a
/// plain component fetched as a detached payload) with the state it leads to.
fn scenario() -> Scenario {
    scenario_of(true)
}

/// [`scenario`], with the TA (whose commit goes through a pending journal record) or
/// without it (the commit writes no journal of its own: the journal's first write named the
/// objects it replaces).
fn scenario_of(with_ta: bool) -> Scenario {
    let (ta1, ta2) = (ta_image(TA, 1), ta_image(TA, 2));
    // Segmented: both blobs span several segments, and release 2's fills its last exactly.
    let (len1, len2) = segment_len().map_or((70_000, 90_000), |seg| {
        let seg = seg as usize;
        (seg + 70_000, 2 * seg)
    });
    let (blob1, blob2) = (vec![0xb1u8; len1], vec![0xb2u8; len2]);
    let parts = |ta: &'static [u8], perso: &'static [u8], blob: &'static [u8]| {
        [
            Part {
                id: &[&TA],
                image: ta,
                uri: "#ta",
            },
            Part {
                id: &[&TA, b"perso"],
                image: perso,
                uri: "#perso",
            },
            Part {
                id: &[&TA, b"blob"],
                image: blob,
                uri: "https://u/blob",
            },
        ]
    };
    let leak = |v: Vec<u8>| -> &'static [u8] { Box::leak(v.into_boxed_slice()) };
    let skip = usize::from(!with_ta);
    let v1 = release(1, &parts(leak(ta1), b"perso one", leak(blob1))[skip..]);
    let v2 = release(
        2,
        &parts(leak(ta2), b"perso two, longer", leak(blob2))[skip..],
    );
    let sc = installed_then(&v1, v2);
    if segment_len().is_some() {
        let names = sc.base.names();
        assert!(names.iter().any(|n| n.ends_with("~1")), "{names:?}");
    }
    sc
}

/// A device with `v1` installed, and `v2` with the state it leads to (another one).
fn installed_then(v1: &Release, v2: Release) -> Scenario {
    let mut s = device();
    install(&mut s, v1).unwrap();
    let old = observe(&s);
    let (base, base_tas) = (
        s.backend().store().clone(),
        s.backend().installed_tas.clone(),
    );
    let old_perso = personalization(&mut s);
    install(&mut s, &v2).unwrap();
    let new = observe(&s);
    let new_perso = personalization(&mut s);
    assert_ne!(old, new);
    Scenario {
        base,
        base_tas,
        v2,
        old,
        new,
        old_perso,
        new_perso,
    }
}

#[test]
fn a_power_cut_at_any_write_of_an_install_leaves_the_old_or_the_new_state() {
    let rolled_forward = power_cuts(&scenario(), 15);
    assert!(
        rolled_forward >= 1,
        "no cut landed between the TA install and the state switch"
    );
}

/// The commit of components only: the journal is written once, before the first object
/// (naming the objects the commit replaces too); no cut may leave a replaced object behind
/// or a mix.
#[test]
fn a_power_cut_at_any_write_of_an_install_without_a_ta_leaves_the_old_or_the_new_state() {
    let rolled_forward = power_cuts(&scenario_of(false), 8);
    assert_eq!(rolled_forward, 0, "no pending commit without a TA");
}

/// A newer root re-running an unchanged dependency that installs a TA, its data and a secure
/// component (`service_flow::dependency_payloads::ta_dependent`): its commit keeps their
/// records, leaves the TA store alone (no pending commit, nothing to roll forward) and drops
/// what it staged again; no cut may leave a mix or an orphan (review s29).
#[test]
fn a_power_cut_at_any_write_of_a_newer_dependent_reusing_an_unchanged_ta_leaves_the_old_or_the_new_state(
) {
    use crate::service_flow::dependency_payloads::ta_dependent;
    let sc = installed_then(&ta_dependent(1), ta_dependent(2));
    assert_eq!(sc.new.ta, sc.old.ta);
    let rolled_forward = power_cuts(&sc, 12);
    assert_eq!(
        rolled_forward, 0,
        "no pending commit: the TA is not installed again"
    );
}

/// Cuts power at every write of `sc`'s install (at least `writes` of them); returns how many
/// cuts a roll-forward finished.
fn power_cuts(sc: &Scenario, writes: usize) -> usize {
    let (mut olds, mut news, mut rolled_forward) = (0, 0, 0);
    for n in 0.. {
        let mut s = restart(&sc.base, &sc.base_tas);
        s.backend_mut().store_mut().power_cut_after = Some(n);
        let result = install(&mut s, &sc.v2);
        let cut = s.backend().store().powered_off;
        if !cut {
            result.unwrap();
            assert!(n > writes, "only {n} writes in the install");
            break;
        }
        let when = format!("power cut at write {n}");
        let mut s = restart(s.backend().store(), &s.backend().installed_tas);
        let was_pending = pending(&s);
        // The first command of the new session finishes or drops the interrupted commit.
        let _: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
        let is_new = old_or_new(&s, &sc.old, &sc.new, &when);
        // What the cut left staged (the new data among it) is never served in its place.
        let perso = if is_new { &sc.new_perso } else { &sc.old_perso };
        assert_eq!(personalization(&mut s), *perso, "{when}: data served");
        if was_pending && is_new {
            rolled_forward += 1;
        }
        if is_new {
            news += 1;
        } else {
            olds += 1;
        }
        assert_no_orphans(&mut s, &when);
        goes_on(&mut s, sc, is_new, &when);
    }
    assert!(
        olds > writes / 2 && news >= 1,
        "cuts: {olds} old, {news} new"
    );
    rolled_forward
}

/// The device goes on from the old state (`is_new` false) or the new one: the new release
/// installs once, and only once.
fn goes_on(s: &mut Service<Mem>, sc: &Scenario, is_new: bool, when: &str) {
    if is_new {
        assert!(
            refusal(install(s, &sc.v2)).reason.contains("Rollback"),
            "{when}"
        );
    } else {
        install(s, &sc.v2).unwrap_or_else(|e| panic!("{when}: {e:?}"));
        assert_eq!(observe(s), sc.new, "{when}: the retried install");
    }
}

/// After a fault in an install: the next command sees the old or the new state (the new one
/// if the install was `reported` done), and the next begin leaves no orphan.
fn settled(s: &mut Service<Mem>, sc: &Scenario, reported: bool, when: &str) {
    let _: StatusResponse = call(s, Command::Status, &Empty {}).unwrap();
    let is_new = old_or_new(s, &sc.old, &sc.new, when);
    if reported {
        assert!(
            is_new,
            "{when}: reported installed but not in the new state"
        );
    }
    assert_no_orphans(s, when);
}

#[test]
fn a_storage_fault_at_any_write_of_an_install_leaves_the_old_or_the_new_state() {
    let sc = scenario();
    let mut faults = 0;
    for n in 0.. {
        let mut s = restart(&sc.base, &sc.base_tas);
        s.backend_mut().store_mut().fail_once_at = Some(n);
        let result = install(&mut s, &sc.v2);
        if s.backend().store().fail_once_at.is_some() {
            result.unwrap();
            break;
        }
        faults += 1;
        // Same session: the next command sees the old or the new state.
        settled(
            &mut s,
            &sc,
            result.is_ok(),
            &format!("storage fault at write {n}"),
        );
    }
    assert!(faults > 15, "only {faults} faults injected");
}

/// Secure storage full at any write of an install (payload, journal, staging, state): the
/// answer is the device's trouble, never a verdict on the envelope (review s26: a full
/// storage under `finish` read as the engine's `NoSpace`, the answer to the TA's own limits,
/// so `poll` never retried the update). Outside a commit's last steps (whose refusals say
/// what became of the commit) it is the storage's own typed fault, as for a payload chunk.
/// With and without a TA; the device is in the old or the new state after each.
#[test]
fn a_full_storage_at_any_write_of_an_install_is_the_devices_trouble() {
    for with_ta in [false, true] {
        let sc = scenario_of(with_ta);
        let (mut full, mut in_finish) = (0, 0);
        for n in 0.. {
            let mut s = restart(&sc.base, &sc.base_tas);
            s.backend_mut().store_mut().fail_once_at = Some(n);
            s.backend_mut().store_mut().fail_with = Some(StoreError::NoSpace);
            let result = install(&mut s, &sc.v2);
            if s.backend().store().fail_once_at.is_some() {
                result.unwrap();
                break;
            }
            let when = format!("storage full at write {n} (TA: {with_ta})");
            if let Err((_, r)) = &result {
                full += 1;
                let commit = |c: &CommitRefusal| {
                    matches!(
                        c,
                        CommitRefusal::InstallPending { .. }
                            | CommitRefusal::StateWriteUncertain
                            | CommitRefusal::CommitPending { .. }
                    )
                };
                match &r.fault {
                    Some(Fault::Install(InstallError::Store(StoreError::NoSpace)))
                        if r.kind == RefusalKind::Storage =>
                    {
                        in_finish += usize::from(reported_full(&s));
                    }
                    Some(Fault::Install(InstallError::Commit(c))) if commit(c) => {}
                    Some(Fault::ReportStore(StoreError::NoSpace)) => {}
                    other => panic!("{when}: {:?} {other:?} ({})", r.kind, r.reason),
                }
            }
            settled(&mut s, &sc, result.is_ok(), &when);
        }
        assert!(full > 8, "only {full} faults injected (TA: {with_ta})");
        assert!(in_finish >= 1, "no fault landed in finish (TA: {with_ta})");
    }
}

/// Whether the stored report is of a `finish` the full storage failed (a payload chunk's
/// refusal leaves the prepare's).
fn reported_full(s: &Service<Mem>) -> bool {
    use suit_common::report::{Report, ReportResult};
    let Some(stored) = s.backend().store().raw(REPORT_OBJECT) else {
        return false;
    };
    let bytes = &stored[..stored.len() - suit_common::service::STORED_REPORT_TRAILER_LEN];
    matches!(
        Report::decode(bytes).map(|r| r.result),
        Ok(ReportResult::Failure(f))
            if f.detail == Some(Fault::Install(InstallError::Store(StoreError::NoSpace)))
    )
}

/// The REE answers REE-FS writes, so it can report a failure after a write landed (review
/// F3: the state write of a commit without a TA was taken as proof that nothing changed, and
/// the objects the landed state names were deleted). At every write, with and without a TA:
/// the same session, and the device after a restart, are in the old or the new state, with
/// every object the state names, and nothing orphaned after the next begin.
#[test]
fn a_failure_reported_after_any_write_of_an_install_landed_leaves_the_old_or_the_new_state() {
    for with_ta in [false, true] {
        let sc = scenario_of(with_ta);
        let mut forged = 0;
        for n in 0.. {
            let mut s = restart(&sc.base, &sc.base_tas);
            s.backend_mut().store_mut().forge_failure_at = Some(n);
            let result = install(&mut s, &sc.v2);
            if s.backend().store().forge_failure_at.is_some() {
                result.unwrap();
                break;
            }
            forged += 1;
            let when = format!("failure forged after write {n} (TA: {with_ta})");
            let mut after = restart(s.backend().store(), &s.backend().installed_tas);
            settled(&mut s, &sc, result.is_ok(), &when);
            settled(
                &mut after,
                &sc,
                result.is_ok(),
                &format!("{when}, restarted"),
            );
        }
        assert!(forged > 10, "only {forged} failures forged (TA: {with_ta})");
    }
}

/// A provisioned device's store, its state, a second message and the state it makes:
/// (base store, old state, message, new state).
fn provisioning_scenario() -> (MemoryStore, State, Vec<u8>, State) {
    let mut s = service(backend(0));
    let _: suit_common::protocol::DeviceKeyResponse =
        call(&mut s, Command::DeviceKey, &Empty {}).unwrap();
    let first = provision_message(&mut s, 1, vec![identity()]);
    provision(&mut s, &first).unwrap();
    let old = state(&s);
    let base = s.backend().store().clone();
    let message = provision_message(
        &mut s,
        2,
        vec![author_anchor(1, &[&TA, b"app"]), identity()],
    );
    provision(&mut s, &message).unwrap();
    let new = state(&s);
    assert_ne!(old, new);
    (base, old, message, new)
}

/// After an interrupted provisioning: the state is the old or the new one, and `message`
/// then applies (old) or is refused as already applied (new).
fn old_or_new_then_provisioned(
    s: &mut Service<Mem>,
    old: &State,
    new: &State,
    message: &[u8],
    when: &str,
) {
    let _: StatusResponse = call(s, Command::Status, &Empty {}).unwrap();
    let now = state(s);
    assert!(now == *old || now == *new, "{when}: mixed state {now:#?}");
    if now == *old {
        provision(s, message).unwrap();
    } else {
        refusal(provision(s, message));
    }
    assert_eq!(state(s), *new, "{when}");
}

#[test]
fn a_power_cut_at_any_write_of_provisioning_leaves_the_old_or_the_new_state() {
    let (base, old, message, new) = provisioning_scenario();
    for n in 0.. {
        let mut s = restart(&base, &[]);
        s.backend_mut().store_mut().power_cut_after = Some(n);
        let result = provision(&mut s, &message);
        if !s.backend().store().powered_off {
            result.unwrap();
            break;
        }
        let mut s = restart(s.backend().store(), &[]);
        old_or_new_then_provisioned(
            &mut s,
            &old,
            &new,
            &message,
            &format!("power cut at write {n}"),
        );
    }
}

/// Provisioning with a failure reported after a write landed, at every write: the session
/// and the restarted device hold the old or the new state, and the message then applies
/// (old) or is refused as already applied (new).
#[test]
fn a_failure_reported_after_any_write_of_provisioning_landed_leaves_the_old_or_the_new_state() {
    let (base, old, message, new) = provisioning_scenario();
    for n in 0.. {
        let mut s = restart(&base, &[]);
        s.backend_mut().store_mut().forge_failure_at = Some(n);
        let result = provision(&mut s, &message);
        if s.backend().store().forge_failure_at.is_some() {
            result.unwrap();
            break;
        }
        for (mut s, when) in [
            (restart(s.backend().store(), &[]), "restarted"),
            (s, "same session"),
        ] {
            let when = format!("failure forged after write {n}, {when}");
            old_or_new_then_provisioned(&mut s, &old, &new, &message, &when);
        }
    }
}

/// The store as a power cut right after the pending commit was recorded leaves it: the TA
/// not yet handed to OP-TEE, the state still old.
fn cut_before_the_ta_install(sc: &Scenario) -> (MemoryStore, Vec<Vec<u8>>) {
    for n in 0.. {
        let mut s = restart(&sc.base, &sc.base_tas);
        s.backend_mut().store_mut().power_cut_after = Some(n);
        let _ = install(&mut s, &sc.v2);
        assert!(
            s.backend().store().powered_off,
            "no cut point before the TA install"
        );
        let s = restart(s.backend().store(), &s.backend().installed_tas);
        if pending(&s) {
            assert_eq!(
                s.backend().installed_tas,
                sc.base_tas,
                "TA installed too early"
            );
            return (
                s.backend().store().clone(),
                s.backend().installed_tas.clone(),
            );
        }
    }
    unreachable!()
}

#[test]
fn a_failed_roll_forward_is_retried_and_a_refused_image_leaves_the_ta_unconfirmed() {
    let sc = scenario();
    let (store, tas) = cut_before_the_ta_install(&sc);

    // Storage fails under the re-install (the REE can provoke that): the commit stays
    // pending, commands other than status are refused, nothing is mixed.
    let mut s = restart(&store, &tas);
    s.backend_mut().store_mut().fail_once_at = Some(0);
    let r = refusal(call::<_, suit_common::protocol::AnchorsResponse>(
        &mut s,
        Command::Anchors,
        &Empty {},
    ));
    assert_eq!(r.kind, RefusalKind::Storage, "{r:?}");
    assert!(pending(&s) && observe(&s) == sc.old);
    // The next command retries and finishes it.
    let _: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
    assert!(!pending(&s));
    assert_eq!(observe(&s), sc.new);
    assert_no_orphans(&mut s, "after the retried roll-forward");

    // OP-TEE refuses the image itself (bad signature), or the REE forges that answer after
    // the image landed: the TA cannot tell which. The update is not applied, and the TA is
    // marked unconfirmed in the same write: its (old) personalization data is withheld.
    for forged in [false, true] {
        let mut s = restart(&store, &tas);
        fail_ta_store(&mut s, forged, 0xffff_000f);
        let status: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
        assert_eq!(
            crate::texts(&status.service.unconfirmed_tas),
            [uuid_string(&TA)]
        );
        assert!(!pending(&s));
        assert_unconfirmed_then_recovered(s, &sc, forged, "after the unconfirmed update");
    }
}

/// A commit whose TA install OP-TEE answered with an error (its own refusal, or a failure
/// the REE forged after the image landed in the TA store): the update is not applied, the
/// state records the TA as unconfirmed, and nothing serves the old state's personalization
/// data to a TA that may be the new one.
#[test]
fn an_unconfirmed_ta_install_leaves_the_old_state_and_withholds_its_data() {
    let sc = scenario();
    for forged in [false, true] {
        let (s, r) = install_failing(&sc, forged, 0xffff_0005);
        assert!(r.reason.contains("did not confirm"), "{r:?}");
        assert!(!pending(&s));
        assert_unconfirmed_old(&s, &sc, forged);
        // A restart finds the same: nothing to roll forward.
        let mut s = restart(s.backend().store(), &s.backend().installed_tas);
        let status: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
        assert_eq!(
            crate::texts(&status.service.unconfirmed_tas),
            [uuid_string(&TA)]
        );
        assert_unconfirmed_then_recovered(s, &sc, forged, "after the unconfirmed install");
    }
}

/// A TA OP-TEE left unconfirmed is not unchanged when a newer dependent re-runs the
/// dependency that installed it (OP-TEE's store may hold another image): it goes the
/// ordinary way, refused as not newer than the recorded version, and nothing changes.
#[test]
fn an_unconfirmed_ta_re_run_by_a_newer_dependent_is_refused_as_not_newer() {
    use crate::service_flow::dependency_payloads::ta_dependent;
    let mut s = device();
    install(&mut s, &ta_dependent(1)).unwrap();
    fail_ta_store(&mut s, false, 0xffff_0005);
    let v2 = ta_image(TA, 2);
    let r = refusal(install(&mut s, &release(2, &[part(&[&TA], &v2, "#ta")])));
    assert!(r.reason.contains("did not confirm"), "{r:?}");
    assert!(state(&s).is_unconfirmed(&TA));
    s.backend_mut().refuse_tas = None;
    let before = observe(&s);
    let r = refusal(install(&mut s, &ta_dependent(2)));
    let not_newer = CommitRefusal::TaNotNewer {
        offered: 1,
        installed: 1,
    };
    assert_eq!(
        r.fault,
        Some(Fault::Install(InstallError::Commit(not_newer))),
        "{}",
        r.reason
    );
    assert_eq!(observe(&s), before);
}

/// A TA-store failure that may pass (here the REE failing storage after the image landed)
/// keeps the commit pending: every command but status is refused while it fails, so no
/// personalization data is served, and the first command after it passes rolls forward.
#[test]
fn a_storage_failure_of_the_ta_store_keeps_the_commit_pending_until_it_passes() {
    let sc = scenario();
    let (mut s, r) = install_failing(&sc, true, 0xf010_0003);
    assert!(r.reason.contains("tried again"), "{r:?}");
    assert!(pending(&s));
    assert_eq!(personalization(&mut s), None, "data served while pending");
    let mut s = restart(s.backend().store(), &s.backend().installed_tas);
    s.backend_mut().forge_ta_failure = Some(0xf010_0003);
    assert_eq!(personalization(&mut s), None, "data served while pending");
    assert!(pending(&s));
    s.backend_mut().forge_ta_failure = None;
    assert_eq!(
        personalization(&mut s).as_deref(),
        Some(&b"perso two, longer"[..])
    );
    assert!(!pending(&s));
    assert_eq!(observe(&s), sc.new);
    assert_no_orphans(&mut s, "after the retried commit");
}

/// OP-TEE took the TA image and the state write after it failed (review s26): the journal
/// holds the commit and `reconcile` completes it before the next command, so the answer says
/// the update is applied (not a plain storage failure, on which the agent would send the same
/// envelope again and get a rollback refusal); its report is the one the device gives once
/// the commit is complete, and the same envelope is then a rollback.
#[test]
fn a_failed_state_write_after_the_ta_install_answers_commit_pending() {
    let sc = scenario();
    let mut found = false;
    for n in 0.. {
        let mut s = restart(&sc.base, &sc.base_tas);
        s.backend_mut().store_mut().fail_once_at = Some(n);
        let result = install(&mut s, &sc.v2);
        assert!(
            s.backend().store().fail_once_at.is_none(),
            "no write failed after the TA install"
        );
        if result.is_ok() || s.backend().installed_tas.len() == sc.base_tas.len() {
            continue;
        }
        // The first write after the image reached OP-TEE's store: the new state.
        let r = refusal(result);
        assert_eq!(
            (r.kind, r.fault),
            (
                RefusalKind::Manifest,
                Some(Fault::Install(InstallError::Commit(
                    CommitRefusal::CommitPending {
                        uuid: TA.to_vec().into()
                    }
                )))
            ),
            "write {n}: {}",
            r.reason
        );
        assert!(r.reason.contains("the update is applied"), "{}", r.reason);
        // OP-TEE holds the new image; the state is the old one until the commit completes.
        assert!(pending(&s) && state(&s) == sc.old.state);
        assert_eq!(observe(&s).ta, sc.new.ta);
        // The next command completes it.
        let report: suit_common::protocol::ReportResponse = call(
            &mut s,
            Command::Report,
            &suit_common::protocol::ReportRequest {
                nonce: Some(vec![7; 8].into()),
                pre_auth: false,
            },
        )
        .unwrap_or_else(|e| panic!("the report of the pending commit: {e:?}"));
        assert!(!report.report.is_empty());
        assert!(!pending(&s));
        assert_eq!(observe(&s), sc.new);
        assert!(refusal(install(&mut s, &sc.v2)).reason.contains("Rollback"));
        found = true;
        break;
    }
    assert!(found);
}

/// OP-TEE refused the image and the write that marks the TA unconfirmed (ending the commit
/// unapplied) failed: the commit stays pending, `reconcile` tries the install again before the
/// next command, and the answer says so (it was a plain storage failure).
#[test]
fn a_failed_write_after_a_refused_ta_install_answers_install_pending() {
    let sc = scenario();
    for n in 0..100 {
        let mut s = restart(&sc.base, &sc.base_tas);
        fail_ta_store(&mut s, false, 0xffff_000f);
        s.backend_mut().store_mut().fail_once_at = Some(n);
        let r = refusal(install(&mut s, &sc.v2));
        // The first write that leaves the commit pending: the marked state.
        if !pending(&s) {
            continue;
        }
        let uuid = TA.to_vec().into();
        assert_eq!(
            r.fault,
            Some(Fault::Install(InstallError::Commit(
                CommitRefusal::InstallPending {
                    uuid,
                    code: 0xffff_000f
                }
            ))),
            "write {n}: {}",
            r.reason
        );
        let status: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
        assert_eq!(
            crate::texts(&status.service.unconfirmed_tas),
            [uuid_string(&TA)]
        );
        assert!(!pending(&s));
        assert_unconfirmed_old(&s, &sc, false);
        return;
    }
    panic!("no write left the commit pending");
}

/// A pending commit `reconcile` cannot finish (here OP-TEE's TA store keeps failing) refuses
/// every command but status, and status says why (review s26: it loaded the old state and
/// journal and reported a healthy device on the old release).
#[test]
fn status_reports_a_commit_reconcile_cannot_finish() {
    let sc = scenario();
    let (store, tas) = cut_before_the_ta_install(&sc);
    let mut s = restart(&store, &tas);
    s.backend_mut().refuse_tas = Some(0xf010_0003);
    let expected = Fault::Reconcile(StateError::Store(StoreError::Io(0xf010_0003)));
    for _ in 0..2 {
        let status: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
        let error = status.service.state_error.expect("no state error");
        assert_eq!(Fault::decode(&error), Some(expected.clone()));
        assert!(
            suit_common::fault::render(&error).contains("interrupted update could not be finished"),
            "{}",
            suit_common::fault::render(&error)
        );
        let r = refusal(call::<_, suit_common::protocol::AnchorsResponse>(
            &mut s,
            Command::Anchors,
            &Empty {},
        ));
        assert_eq!(r.fault, Some(expected.clone()));
    }
    // Once it passes, status is clean and on the new release.
    s.backend_mut().refuse_tas = None;
    let status: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
    assert_eq!(status.service.state_error, None);
    assert_eq!(observe(&s), sc.new);
}

/// A failure that retrying cannot end (here OP-TEE without its TA-store service: the
/// session cannot be opened) marks the TA instead of locking the device out.
#[test]
fn a_persistent_ta_store_failure_marks_the_ta_instead_of_locking_the_device() {
    let sc = scenario();
    let (s, r) = install_failing(&sc, false, 0xffff_0008);
    assert!(r.reason.contains("did not confirm"), "{r:?}");
    let mut s = restart(s.backend().store(), &s.backend().installed_tas);
    s.backend_mut().refuse_tas = Some(0xffff_0008);
    begin(&mut s, 1).unwrap();
    assert_unconfirmed_old(&s, &sc, false);
}

/// With the list of unconfirmed TAs full, another TA's update is refused before anything
/// irreversible (a refusal by OP-TEE could then neither finish nor end its commit); an update
/// of a TA already on the list still goes through.
#[test]
fn a_full_unconfirmed_list_refuses_another_ta_before_its_commit_starts() {
    use suit_common::service::state::MAX_UNCONFIRMED_TAS;
    let sc = scenario();
    let mut full = sc.base.clone();
    let mut st = State::load(&full).unwrap();
    st.unconfirmed_tas = (0..MAX_UNCONFIRMED_TAS as u8)
        .map(|i| vec![i; 16].into())
        .collect();
    st.save(&mut full).unwrap();
    let mut s = restart(&full, &sc.base_tas);
    let r = refusal(install(&mut s, &sc.v2));
    assert!(r.reason.contains("unconfirmed installs"), "{r:?}");
    assert!(!pending(&s));
    assert_eq!(state(&s), st);
    assert_eq!(s.backend().installed_tas, sc.base_tas);
    // TA is on the list: its update may mark it again or clear it.
    st.unconfirmed_tas[0] = TA.to_vec().into();
    let mut again = sc.base.clone();
    st.save(&mut again).unwrap();
    let mut s = restart(&again, &sc.base_tas);
    install(&mut s, &sc.v2).unwrap();
    assert_eq!(state(&s).unconfirmed_tas.len(), MAX_UNCONFIRMED_TAS - 1);
}

/// The object the pending commit keeps its TA image in.
fn kept_image_object(store: &MemoryStore) -> String {
    Journal::load(store).unwrap().unwrap().pending.unwrap().tas[0].clone()
}

/// After a restart on `store` (OP-TEE's TA store holding `tas`), `reconcile` refuses the
/// pending commit's kept image: the first command is refused as a storage failure, nothing
/// is handed to OP-TEE, and the commit stays pending.
fn refused_by_reconcile(store: &MemoryStore, tas: &[Vec<u8>]) -> Service<Mem> {
    let mut s = restart(store, tas);
    let r = refusal(call::<_, suit_common::protocol::AnchorsResponse>(
        &mut s,
        Command::Anchors,
        &Empty {},
    ));
    assert_eq!(r.kind, RefusalKind::Storage, "{r:?}");
    assert_eq!(s.backend().installed_tas, tas, "a kept image was installed");
    assert!(pending(&s));
    s
}

/// `reconcile` installs only the image the commit recorded: a kept image whose bytes no
/// longer match the pending state's digest is not handed to OP-TEE.
#[test]
fn a_kept_image_that_changed_is_never_installed() {
    use suit_common::service::store::SecureStore;
    let sc = scenario();
    let (mut store, tas) = cut_before_the_ta_install(&sc);
    let object = kept_image_object(&store);
    let mut image = store.raw(&object).unwrap().to_vec();
    let last = image.len() - 1;
    image[last] ^= 1;
    store.put(&object, &image).unwrap();
    refused_by_reconcile(&store, &tas);
}

/// Review s35: the kept image's name held another TA's image before (install objects are
/// emptied and taken again), and the REE answers the roll-forward's read with that old
/// content. Another installed TA's image has the digest its own record holds, in the pending
/// state as in the old one: `reconcile` must not take it for the commit's TA (it chose the
/// record by the unchecked header's UUID, re-installed TA B and recorded TA A's v2 installed,
/// serving v2's data to A's v1). It is refused, nothing is handed to OP-TEE, and with the
/// right image served again the commit is rolled forward.
#[test]
fn a_kept_image_of_another_installed_ta_is_never_installed() {
    use suit_common::service::store::SecureStore;
    const TB: [u8; 16] = [0x6b; 16];
    let mut s = provisioned(&[&TA, &TB, b"app"]);
    let (a1, b1, a2) = (ta_image(TA, 1), ta_image(TB, 1), ta_image(TA, 2));
    install(&mut s, &release(1, &[part(&[&TA], &a1, "#ta")])).unwrap();
    install(&mut s, &release(2, &[part(&[&TB], &b1, "#tb")])).unwrap();
    let v3 = release(
        3,
        &[
            part(&[&TA], &a2, "#ta"),
            part(&[&TA, b"perso"], b"data for TA v2 only", "#perso"),
        ],
    );
    let before = s.backend().store().clone();
    // A retryable answer of OP-TEE's TA store (the REE can give it): the commit stays pending.
    s.backend_mut().refuse_tas = Some(0xf010_0003);
    refusal(install(&mut s, &v3));
    let object = kept_image_object(s.backend().store());
    assert!(
        is_emptied_install_object(&before, &object),
        "the kept image's name held nothing before: the test does not test the reuse"
    );
    let tas = s.backend().installed_tas.clone();
    let mut store = s.backend().store().clone();
    let kept = store.raw(&object).unwrap();
    assert_eq!(sha256(&kept), sha256(&a2));
    store.put(&object, &b1).unwrap();
    let mut s = refused_by_reconcile(&store, &tas);
    let ta_version = |s: &Service<Mem>| {
        state(s)
            .components
            .into_iter()
            .find(|c| c.id.len() == 1 && c.id[0].as_slice() == TA)
            .unwrap()
            .ta_version
    };
    assert_eq!(ta_version(&s), Some(1));
    assert_ne!(
        personalization(&mut s).as_deref(),
        Some(&b"data for TA v2 only"[..])
    );
    // The kept image served again: rolled forward.
    let mut store = s.backend().store().clone();
    store.put(&object, &kept).unwrap();
    let mut s = restart(&store, &tas);
    let _: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
    assert!(!pending(&s));
    assert_eq!(ta_version(&s), Some(2));
    assert!(s
        .backend()
        .installed_tas
        .iter()
        .any(|t| sha256(t) == sha256(&a2)));
    assert_eq!(
        personalization(&mut s).as_deref(),
        Some(&b"data for TA v2 only"[..])
    );
}

/// Review s35 (re-review): the commit also keeps the TA's image bytes in another component,
/// whose record comes first: the kept image matches both changed records' digests, and is
/// rolled forward as the TA's.
#[test]
fn a_kept_image_whose_bytes_another_changed_record_also_holds_rolls_forward() {
    let mut s = provisioned(&[&TA, b"app"]);
    let (a1, a2) = (ta_image(TA, 1), ta_image(TA, 2));
    let both = |seq, image| {
        release(
            seq,
            &[
                part(&[b"app", b"ta-copy"], image, "#copy"),
                part(&[&TA], image, "#ta"),
            ],
        )
    };
    install(&mut s, &both(1, &a1)).unwrap();
    s.backend_mut().refuse_tas = Some(0xf010_0003);
    refusal(install(&mut s, &both(2, &a2)));
    assert!(pending(&s));
    let tas = s.backend().installed_tas.clone();
    let mut s = restart(s.backend().store(), &tas);
    let _: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
    let r: Result<suit_common::protocol::AnchorsResponse, _> =
        call(&mut s, Command::Anchors, &Empty {});
    assert!(!pending(&s), "still pending: {:?}", r.err());
    assert!(s
        .backend()
        .installed_tas
        .iter()
        .any(|t| sha256(t) == sha256(&a2)));
}

/// The TA store answers `code`: refusing the image (`forged` false), or keeping it and then
/// failing (`forged`: the REE failing an RPC after the image landed).
fn fail_ta_store(s: &mut Service<Mem>, forged: bool, code: u32) {
    match forged {
        false => s.backend_mut().refuse_tas = Some(code),
        true => s.backend_mut().forge_ta_failure = Some(code),
    }
}

/// Release 2 installed on release 1 with the TA store failing ([`fail_ta_store`]): the
/// device and the refusal.
fn install_failing(sc: &Scenario, forged: bool, code: u32) -> (Service<Mem>, Refused) {
    let mut s = restart(&sc.base, &sc.base_tas);
    fail_ta_store(&mut s, forged, code);
    let r = refusal(install(&mut s, &sc.v2));
    (s, r)
}

/// [`assert_unconfirmed_old`], no orphan at the next begin, then
/// [`assert_recovered_by_the_same_update`].
fn assert_unconfirmed_then_recovered(mut s: Service<Mem>, sc: &Scenario, forged: bool, when: &str) {
    assert_unconfirmed_old(&s, sc, forged);
    assert_no_orphans(&mut s, when);
    assert_recovered_by_the_same_update(s, sc);
}

/// The old state's components and bytes, the TA marked unconfirmed, OP-TEE holding the new
/// image if the failure was forged (else the old), and no personalization data served.
fn assert_unconfirmed_old(s: &Service<Mem>, sc: &Scenario, forged: bool) {
    let now = observe(s);
    assert_eq!(now.state.components, sc.old.state.components);
    assert_eq!(now.state.sequence_numbers, sc.old.state.sequence_numbers);
    assert_eq!(now.bytes, sc.old.bytes);
    assert_eq!(now.state.unconfirmed_tas, [TA.to_vec().into()]);
    assert_eq!(now.ta, if forged { &sc.new.ta } else { &sc.old.ta }.clone());
    let mut s = restart(s.backend().store(), &s.backend().installed_tas);
    assert_eq!(personalization(&mut s), None, "old data served to TA");
}

/// Installing the same update again, with OP-TEE confirming it, ends in the new state with
/// nothing unconfirmed.
fn assert_recovered_by_the_same_update(mut s: Service<Mem>, sc: &Scenario) {
    s.backend_mut().refuse_tas = None;
    s.backend_mut().forge_ta_failure = None;
    install(&mut s, &sc.v2).unwrap();
    let now = observe(&s);
    // Object names aside: the second attempt's objects belong to a later generation.
    let unnamed = |st: &State| {
        let mut c = st.components.clone();
        c.iter_mut().for_each(|c| c.object.clear());
        c
    };
    assert_eq!(unnamed(&now.state), unnamed(&sc.new.state));
    let hashes = |o: &Observed| o.bytes.iter().map(|b| b.1.clone()).collect::<Vec<_>>();
    assert_eq!(hashes(&now), hashes(&sc.new));
    assert_eq!(now.ta, sc.new.ta);
    assert!(now.state.unconfirmed_tas.is_empty());
    assert_eq!(
        personalization(&mut s).as_deref(),
        Some(&b"perso two, longer"[..])
    );
}

/// The same scenarios through the TA's segment layer (`Segmented`) with short segments, each
/// restart a new instance over what storage kept: its per-session caches (records, absent
/// names, fresh and tail-free names) must hold under every cut and fault, and
/// `MemoryStore::create` (refusing an existing name) checks its fresh-name claims per segment.
pub(crate) mod segmented {
    use suit_test_support::service::with_segments;

    /// Longer than every first write of an object here (the service's 64 KiB copies, the
    /// test agent's 16 KiB chunks), far shorter than the TA's 512 KiB; a multiple of the
    /// chunks, and every other segment of the copies, so that appends fill segments exactly.
    pub(crate) const SEG: u64 = 96 * 1024;

    #[test]
    fn an_unconfirmed_ta_install_leaves_the_old_state_and_withholds_its_data() {
        with_segments(
            SEG,
            super::an_unconfirmed_ta_install_leaves_the_old_state_and_withholds_its_data,
        );
    }

    #[test]
    fn a_storage_failure_of_the_ta_store_keeps_the_commit_pending_until_it_passes() {
        with_segments(
            SEG,
            super::a_storage_failure_of_the_ta_store_keeps_the_commit_pending_until_it_passes,
        );
    }

    #[test]
    fn a_power_cut_at_any_write_of_an_install() {
        with_segments(
            SEG,
            super::a_power_cut_at_any_write_of_an_install_leaves_the_old_or_the_new_state,
        );
    }

    #[test]
    fn a_power_cut_at_any_write_of_an_install_without_a_ta() {
        with_segments(
            SEG,
            super::a_power_cut_at_any_write_of_an_install_without_a_ta_leaves_the_old_or_the_new_state,
        );
    }

    #[test]
    fn a_power_cut_at_any_write_of_a_newer_dependent_reusing_an_unchanged_ta() {
        with_segments(
            SEG,
            super::a_power_cut_at_any_write_of_a_newer_dependent_reusing_an_unchanged_ta_leaves_the_old_or_the_new_state,
        );
    }

    #[test]
    fn a_storage_fault_at_any_write_of_an_install() {
        with_segments(
            SEG,
            super::a_storage_fault_at_any_write_of_an_install_leaves_the_old_or_the_new_state,
        );
    }

    #[test]
    fn a_failure_reported_after_any_write_of_an_install_landed() {
        with_segments(
            SEG,
            super::a_failure_reported_after_any_write_of_an_install_landed_leaves_the_old_or_the_new_state,
        );
    }

    #[test]
    fn a_failure_reported_after_any_write_of_provisioning_landed() {
        with_segments(
            SEG,
            super::a_failure_reported_after_any_write_of_provisioning_landed_leaves_the_old_or_the_new_state,
        );
    }

    #[test]
    fn a_power_cut_at_any_write_of_provisioning() {
        with_segments(
            SEG,
            super::a_power_cut_at_any_write_of_provisioning_leaves_the_old_or_the_new_state,
        );
    }

    #[test]
    fn a_failed_roll_forward_is_retried_and_a_refused_image_leaves_the_ta_unconfirmed() {
        with_segments(
            SEG,
            super::a_failed_roll_forward_is_retried_and_a_refused_image_leaves_the_ta_unconfirmed,
        );
    }
}

/// Review s33 (atomicity): cuts and faults inside `reconcile` and inside the cleanup of the
/// next `begin`, which the loops above never interrupt (they run both fault-free).
pub(crate) mod reconcile_and_cleanup_cuts {
    use super::*;

    /// Every store a power cut inside the install of `sc` leaves, after the restart's
    /// reconcile ran fault-free or not at all: (cut index, store, TA store, pending?).
    fn cut_stores(sc: &Scenario) -> Vec<(usize, MemoryStore, Vec<Vec<u8>>, bool)> {
        let mut out = Vec::new();
        for n in 0.. {
            let mut s = restart(&sc.base, &sc.base_tas);
            s.backend_mut().store_mut().power_cut_after = Some(n);
            let r = install(&mut s, &sc.v2);
            if !s.backend().store().powered_off {
                r.unwrap();
                break;
            }
            let s = restart(s.backend().store(), &s.backend().installed_tas);
            let p = pending(&s);
            out.push((
                n,
                s.backend().store().clone(),
                s.backend().installed_tas.clone(),
                p,
            ));
        }
        out
    }

    /// After whatever happened: a fault-free status, old or new, no pending commit, no
    /// orphan at the next begin, and the update then installs once (old) or is a rollback.
    fn recovers(mut s: Service<Mem>, sc: &Scenario, when: &str) {
        let _: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
        assert!(!pending(&s), "{when}: still pending");
        let is_new = old_or_new(&s, &sc.old, &sc.new, when);
        assert_no_orphans(&mut s, when);
        goes_on(&mut s, sc, is_new, when);
    }

    /// A second cut at every write of `reconcile` (OP-TEE's TA store, the state record, the
    /// journal), from every first cut that left a commit pending.
    #[test]
    fn a_power_cut_at_any_write_of_reconcile_leaves_the_old_or_the_new_state() {
        let sc = scenario();
        let (mut pendings, mut inner) = (0, 0);
        for (n, store, tas, was_pending) in cut_stores(&sc) {
            if !was_pending {
                continue;
            }
            pendings += 1;
            for m in 0.. {
                let mut s = restart(&store, &tas);
                s.backend_mut().store_mut().power_cut_after = Some(m);
                let _ = call::<_, StatusResponse>(&mut s, Command::Status, &Empty {});
                let cut = s.backend().store().powered_off;
                let when = format!("install cut at {n}, reconcile cut at {m}");
                recovers(
                    restart(s.backend().store(), &s.backend().installed_tas),
                    &sc,
                    &when,
                );
                if !cut {
                    break;
                }
                inner += 1;
            }
        }
        assert!(pendings >= 1 && inner >= 3, "{pendings} {inner}");
    }

    /// A failure forged after each write of `reconcile` landed: same session, and restarted.
    #[test]
    fn a_failure_forged_at_any_write_of_reconcile_leaves_the_old_or_the_new_state() {
        let sc = scenario();
        let mut forged = 0;
        for (n, store, tas, was_pending) in cut_stores(&sc) {
            if !was_pending {
                continue;
            }
            for m in 0.. {
                let mut s = restart(&store, &tas);
                s.backend_mut().store_mut().forge_failure_at = Some(m);
                let _ = call::<_, StatusResponse>(&mut s, Command::Status, &Empty {});
                if s.backend().store().forge_failure_at.is_some() {
                    break;
                }
                forged += 1;
                let when = format!("install cut at {n}, reconcile write {m} forged");
                let after = restart(s.backend().store(), &s.backend().installed_tas);
                s.backend_mut().store_mut().forge_failure_at = None;
                recovers(s, &sc, &format!("{when}, same session"));
                recovers(after, &sc, &format!("{when}, restarted"));
            }
        }
        assert!(forged >= 2, "{forged}");
    }

    /// A second cut at every write of the next `begin`'s cleanup, from every first cut.
    fn cleanup_cuts(sc: &Scenario) {
        let mut inner = 0;
        for (n, store, tas, _) in cut_stores(sc) {
            // The restart's first command settles any pending commit, fault-free.
            let mut s = restart(&store, &tas);
            let _: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
            let (store, tas) = (
                s.backend().store().clone(),
                s.backend().installed_tas.clone(),
            );
            for m in 0.. {
                let mut s = restart(&store, &tas);
                s.backend_mut().store_mut().power_cut_after = Some(m);
                let _ = begin(&mut s, 1);
                let cut = s.backend().store().powered_off;
                let when = format!("install cut at {n}, cleanup cut at {m}");
                recovers(
                    restart(s.backend().store(), &s.backend().installed_tas),
                    sc,
                    &when,
                );
                if !cut {
                    break;
                }
                inner += 1;
            }
        }
        assert!(inner >= 3, "{inner}");
    }

    #[test]
    fn a_power_cut_at_any_write_of_cleanup_leaves_the_old_or_the_new_state() {
        cleanup_cuts(&scenario());
        cleanup_cuts(&scenario_of(false));
    }

    #[test]
    fn segmented_reconcile_cuts() {
        with_segments(
            segmented::SEG,
            a_power_cut_at_any_write_of_reconcile_leaves_the_old_or_the_new_state,
        );
    }

    #[test]
    fn segmented_reconcile_forged() {
        with_segments(
            segmented::SEG,
            a_failure_forged_at_any_write_of_reconcile_leaves_the_old_or_the_new_state,
        );
    }

    #[test]
    fn segmented_cleanup_cuts() {
        with_segments(
            segmented::SEG,
            a_power_cut_at_any_write_of_cleanup_leaves_the_old_or_the_new_state,
        );
    }

    /// How a test fails the write it aims at.
    #[derive(Debug, Clone, Copy)]
    enum WriteFault {
        /// It lands, and is reported failed (the REE answers REE-FS writes).
        Landed,
        /// It lands and is reported failed, and the write after it fails.
        LandedNextFails,
        /// It fails without landing.
        Lost,
        /// It fails without landing, and so does the write after it.
        LostNextFails,
    }

    /// Installs `sc.v2` with `fault` at the `n`th write; then, as the next command settles
    /// the commit, checks what the TA answered and that the attempt's report is signed.
    fn answered_truthfully(sc: &Scenario, n: usize, fault: WriteFault) {
        let mut s = restart(&sc.base, &sc.base_tas);
        let st = s.backend_mut().store_mut();
        match fault {
            WriteFault::Landed => st.forge_failure_at = Some(n),
            WriteFault::LandedNextFails => {
                st.forge_failure_at = Some(n);
                st.fail_once_at = Some(n + 1);
            }
            WriteFault::Lost => st.fail_once_at = Some(n),
            WriteFault::LostNextFails => {
                st.fail_once_at = Some(n);
                st.fail_next_too = true;
            }
        }
        let r = refusal(install(&mut s, &sc.v2));
        let st = s.backend().store();
        assert!(st.forge_failure_at.is_none() && st.fail_once_at.is_none());
        if matches!(fault, WriteFault::Lost | WriteFault::LostNextFails) {
            assert_eq!(s.backend().installed_tas, sc.base_tas, "TA handed over");
        }
        let uncertain = matches!(
            &r.fault,
            Some(Fault::Install(InstallError::Commit(
                CommitRefusal::InstallPending { .. }
                    | CommitRefusal::CommitPending { .. }
                    | CommitRefusal::StateWriteUncertain
            )))
        );
        let _: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
        let is_new = old_or_new(&s, &sc.old, &sc.new, "after the failed write");
        let report: Result<suit_common::protocol::ReportResponse, _> = call(
            &mut s,
            Command::Report,
            &suit_common::protocol::ReportRequest {
                nonce: Some(vec![7; 8].into()),
                pre_auth: false,
            },
        );
        assert!(
            (uncertain || !is_new) && report.is_ok(),
            "{fault:?} at write {n}; answered {:?}; settled {}; the attempt's report {}",
            r.fault,
            if is_new { "applied" } else { "not applied" },
            if report.is_ok() { "signed" } else { "refused" }
        );
    }

    /// The journal write that records a TA commit as pending fails: it landed or not, and
    /// the write that takes it back fails or not. Whatever the TA answers must be true of
    /// what the next command settles: an answer that the update failed (the agent retries:
    /// exit 3, then a rollback verdict) needs the old state; and the attempt's report must be
    /// signable for the state it is settled at, whichever that is.
    #[test]
    fn a_landed_pending_journal_write_reported_failed_is_answered_truthfully() {
        let sc = scenario();
        // The pending record's write: the first whose landing (a cut just after it) leaves
        // a pending commit on store.
        let n = (0..200)
            .find(|&n| {
                let mut s = restart(&sc.base, &sc.base_tas);
                s.backend_mut().store_mut().power_cut_after = Some(n + 1);
                let _ = install(&mut s, &sc.v2);
                pending(&restart(s.backend().store(), &s.backend().installed_tas))
            })
            .expect("no pending journal write");
        for fault in [
            WriteFault::Landed,
            WriteFault::LandedNextFails,
            WriteFault::LostNextFails,
        ] {
            answered_truthfully(&sc, n, fault);
        }
    }

    /// The same for the state write of a commit without a TA (its single atomic step), which
    /// the REE may fail after it landed or before: the report is signed either way.
    #[test]
    fn an_uncertain_state_write_keeps_the_attempts_report_for_either_state() {
        let sc = scenario_of(false);
        // The state write: the first whose landing leaves the new state.
        let n = (0..200)
            .find(|&n| {
                let mut s = restart(&sc.base, &sc.base_tas);
                s.backend_mut().store_mut().power_cut_after = Some(n + 1);
                let _ = install(&mut s, &sc.v2);
                let mut s = restart(s.backend().store(), &s.backend().installed_tas);
                let _: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
                old_or_new(&s, &sc.old, &sc.new, "finding the state write")
            })
            .expect("no state write");
        for fault in [WriteFault::Landed, WriteFault::Lost] {
            answered_truthfully(&sc, n, fault);
        }
    }

    /// The pending record's write (TA commits), or the state write (without a TA).
    fn deciding_write(sc: &Scenario, with_ta: bool) -> usize {
        (0..200)
            .find(|&n| {
                let mut s = restart(&sc.base, &sc.base_tas);
                s.backend_mut().store_mut().power_cut_after = Some(n + 1);
                let _ = install(&mut s, &sc.v2);
                let mut s = restart(s.backend().store(), &s.backend().installed_tas);
                if with_ta {
                    return pending(&s);
                }
                let _: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
                old_or_new(&s, &sc.old, &sc.new, "finding the state write")
            })
            .expect("no deciding write")
    }

    /// Review s35 (re-review): an attempt whose last write was lost but may have landed has
    /// its report tagged for the state that write would have made; a later commit of another
    /// update reaches the same generation with another state, and the REE answering the
    /// report's read with the earlier attempt's bytes must not get them signed as the latest.
    #[test]
    fn an_uncertain_attempts_report_is_not_signed_for_a_later_commits_state() {
        for with_ta in [false, true] {
            let sc = scenario_of(with_ta);
            let n = deciding_write(&sc, with_ta);
            let mut s = restart(&sc.base, &sc.base_tas);
            let st = s.backend_mut().store_mut();
            st.fail_once_at = Some(n);
            st.fail_next_too = with_ta;
            let r = refusal(install(&mut s, &sc.v2));
            assert_eq!(
                r.fault,
                Some(Fault::Install(InstallError::Commit(
                    CommitRefusal::StateWriteUncertain
                ))),
                "with a TA: {with_ta}"
            );
            let _: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
            assert!(!old_or_new(&s, &sc.old, &sc.new, "after the lost write"));
            let g = state(&s).generation;
            let earlier = s.backend().store().raw(REPORT_OBJECT).unwrap();
            let other = release(3, &[part(&[&TA, b"perso"], b"perso three", "#perso")]);
            install(&mut s, &other).unwrap();
            assert_eq!(state(&s).generation, g + 1);
            let ask = |s: &mut Service<Mem>| -> Result<suit_common::protocol::ReportResponse, _> {
                call(
                    s,
                    Command::Report,
                    &suit_common::protocol::ReportRequest {
                        nonce: Some(vec![7; 8].into()),
                        pre_auth: false,
                    },
                )
            };
            assert!(ask(&mut s).is_ok(), "the later commit's own report");
            s.backend_mut().store_mut().substitute = Some((REPORT_OBJECT.into(), earlier));
            assert!(
                ask(&mut s).is_err(),
                "with a TA: {with_ta}: the earlier attempt's report signed as the latest"
            );
        }
    }
}

/// Review s33: a refused finish (the last payload's digest does not match, after the TA and
/// its data were staged) cut or failed at every write of its discard and cleanup.
mod refused_install_cuts {
    use super::*;

    #[test]
    fn a_refused_install_cut_or_forged_at_every_write_leaves_the_old_state() {
        for with_ta in [true, false] {
            let sc = scenario_of(with_ta);
            let mut bad = Release {
                envelope: sc.v2.envelope.clone(),
                payloads: sc.v2.payloads.clone(),
            };
            for (_, data) in &mut bad.payloads {
                let last = data.len() - 1;
                data[last] ^= 1;
            }
            let mut s = restart(&sc.base, &sc.base_tas);
            refusal(install(&mut s, &bad));
            let (mut cuts, mut forged) = (0, 0);
            for mode in ["cut", "forged"] {
                for n in 0.. {
                    let mut s = restart(&sc.base, &sc.base_tas);
                    let st = s.backend_mut().store_mut();
                    match mode {
                        "cut" => st.power_cut_after = Some(n),
                        _ => st.forge_failure_at = Some(n),
                    }
                    let r = install(&mut s, &bad);
                    assert!(r.is_err());
                    let hit = match mode {
                        "cut" => s.backend().store().powered_off,
                        _ => s.backend().store().forge_failure_at.is_none(),
                    };
                    if !hit {
                        break;
                    }
                    let when = format!("{mode} at write {n} (TA: {with_ta})");
                    let mut sessions =
                        vec![restart(s.backend().store(), &s.backend().installed_tas)];
                    if mode == "forged" {
                        forged += 1;
                        sessions.push(s);
                    } else {
                        cuts += 1;
                    }
                    for mut s in sessions {
                        let _: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
                        assert_eq!(observe(&s), sc.old, "{when}");
                        assert_no_orphans(&mut s, &when);
                        goes_on(&mut s, &sc, false, &when);
                    }
                }
            }
            assert!(cuts > 5 && forged > 5);
        }
    }

    #[test]
    fn segmented() {
        with_segments(
            segmented::SEG,
            a_refused_install_cut_or_forged_at_every_write_leaves_the_old_state,
        );
    }
}

/// Review s33: a session closed mid-install (payloads staged), cut at every write of the
/// abandon's removals.
mod close_cuts {
    use super::*;

    #[test]
    fn a_close_cut_at_every_write_leaves_the_old_state_and_no_orphan() {
        let sc = scenario();
        let mut cuts = 0;
        for n in 0.. {
            let mut s = restart(&sc.base, &sc.base_tas);
            let prepared = prepare(&mut s, &sc.v2.envelope).unwrap();
            for uri in &prepared.needed_uris {
                let (_, data) = sc.v2.payloads.iter().find(|(u, _)| u == uri).unwrap();
                send_payload(&mut s, uri, data.len() as u64, data).unwrap();
            }
            s.backend_mut().store_mut().power_cut_after = Some(n);
            s.close();
            if !s.backend().store().powered_off {
                break;
            }
            cuts += 1;
            let when = format!("close cut at {n}");
            let mut s = restart(s.backend().store(), &s.backend().installed_tas);
            let _: StatusResponse = call(&mut s, Command::Status, &Empty {}).unwrap();
            assert_eq!(observe(&s), sc.old, "{when}");
            assert_no_orphans(&mut s, &when);
            goes_on(&mut s, &sc, false, &when);
        }
        assert!(cuts >= 1);
    }

    #[test]
    fn segmented() {
        with_segments(
            segmented::SEG,
            a_close_cut_at_every_write_leaves_the_old_state_and_no_orphan,
        );
    }
}
