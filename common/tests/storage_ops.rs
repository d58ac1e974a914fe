//! The fixed secure-storage cost of an install (issue 14): on OP-TEE every create, write,
//! delete and failed open of an REE-FS object is a round of tee-supplicant RPCs and hash-tree
//! updates, so each kind of install is held to the fewest operations that keep its commit
//! power-cut safe (see `power_cut.rs` for the safety side). Counted by the memory store the
//! way the GP backend issues them (`StoreOps`), from `InstallBegin` to the end of `Finish`.

use suit_common::service::store::StoreOps;
use suit_common::service::Service;
use suit_test_support::service::*;

/// The operations `f` issues against the device's store.
fn ops(s: &mut Service<Mem>, f: impl FnOnce(&mut Service<Mem>)) -> StoreOps {
    let before = s.backend().store.ops.get();
    f(s);
    let after = s.backend().store.ops.get();
    StoreOps {
        creates: after.creates - before.creates,
        writes: after.writes - before.writes,
        deletes: after.deletes - before.deletes,
        reads: after.reads - before.reads,
        misses: after.misses - before.misses,
    }
}

fn installed(s: &mut Service<Mem>, r: &Release) -> StoreOps {
    ops(s, |s| {
        install(s, r).unwrap();
    })
}

fn counts(creates: u32, writes: u32, deletes: u32) -> (u32, u32, u32) {
    (creates, writes, deletes)
}

fn mutations(o: StoreOps) -> (u32, u32, u32) {
    (o.creates, o.writes, o.deletes)
}

/// A manifest whose one component comes from an integrated payload: the journal names the
/// staging object once, the object is created with its data, the state switches and the
/// journal goes; the report is the one other write.
#[test]
fn a_manifest_with_an_integrated_payload_costs_the_fewest_writes() {
    let mut s = device();
    let note = b"manifest-only install\n";
    let part = |image| Part {
        id: &[&TA, b"note"],
        image,
        uri: "#note",
    };
    let first = installed(&mut s, &release(1, &[part(note)]));
    eprintln!("manifest-only first {first:?}");
    let again = installed(&mut s, &release(2, &[part(b"another note\n")]));
    eprintln!("manifest-only replace {again:?}");
    assert_eq!(mutations(first), counts(4, 4, 1), "{first:?}");
    // Replacing costs only the delete of the replaced object: the journal's one write named
    // it already, before the staging object was created.
    assert_eq!(mutations(again), counts(4, 4, 2), "{again:?}");
}

/// A TA image as a detached payload: the payload object (named in the journal first,
/// created with its first chunk), the pending commit, the state, the report; the payload
/// object and the journal are deleted after.
#[test]
fn a_detached_ta_costs_the_fewest_writes() {
    let image = ta_image_with_body(TA, 2, &vec![0x5a; 40_000]);
    let r = release(
        1,
        &[Part {
            id: &[&TA],
            image: &image,
            uri: "https://u/ta",
        }],
    );
    let mut s = device();
    let o = installed(&mut s, &r);
    eprintln!("ta {o:?}");
    let chunks = image.len().div_ceil(CHUNK) as u32;
    assert_eq!(mutations(o), counts(5, 4 + chunks, 2), "{o:?}");
    assert_eq!(s.backend().installed_tas.last().unwrap(), &image);
}

/// A plain detached component: the journal names the payload object, which becomes the
/// component's content; the state switches, the journal goes.
#[test]
fn a_detached_component_costs_the_fewest_writes() {
    let blob: Vec<u8> = (0..100_000u32).map(|i| (i % 253) as u8).collect();
    let part = |image| Part {
        id: &[&TA, b"blob"],
        image,
        uri: "https://u/blob",
    };
    let mut s = device();
    let first = installed(&mut s, &release(1, &[part(&blob)]));
    eprintln!("blob first {first:?}");
    let chunks = blob.len().div_ceil(CHUNK) as u32;
    assert_eq!(mutations(first), counts(4, 3 + chunks, 1), "{first:?}");
    let blob2: Vec<u8> = blob.iter().map(|b| b ^ 1).collect();
    let again = installed(&mut s, &release(2, &[part(&blob2)]));
    eprintln!("blob replace {again:?}");
    assert_eq!(mutations(again), counts(4, 3 + chunks, 2), "{again:?}");
}

/// A record (state, journal, report, keys) is written whole and never appended to, so the
/// segmented store (the TA's) writes it without looking for an old tail: one create, no
/// failed open. A record of a segment's length is refused, as by `put`.
#[test]
fn a_record_write_looks_for_no_segment_tail() {
    use suit_common::service::segments::Segmented;
    use suit_common::service::store::{MemoryStore, SecureStore, StoreError};
    let mut s = Segmented::new(MemoryStore::new(), 16);
    s.put_record("suit/state", b"one").unwrap();
    s.put_record("suit/state", b"two").unwrap();
    let o = s.inner().ops.get();
    assert_eq!((o.creates, o.writes, o.misses), (2, 2, 0), "{o:?}");
    assert_eq!(s.get("suit/state").unwrap().unwrap().as_slice(), b"two");
    assert_eq!(
        s.put_record("suit/state", &[0; 16]),
        Err(StoreError::NoSpace)
    );
    // `put` of an object that may have grown past a segment does look (once).
    s.put("suit/in/1/0", b"x").unwrap();
    assert_eq!(s.inner().ops.get().misses, 1);
}

/// A new TA instance (OP-TEE starts one per session) looks for the journal once, in
/// `reconcile` before its first command, not again at `InstallBegin`; the other failed
/// look-up of the install is the KEK record this device never had.
#[test]
fn a_new_session_looks_for_the_journal_once() {
    let image = ta_image(TA, 2);
    let r = release(
        1,
        &[Part {
            id: &[&TA],
            image: &image,
            uri: "#ta",
        }],
    );
    let s = device();
    let mut s = crate::power_cut::restart(&s.backend().store, &s.backend().installed_tas);
    let o = installed(&mut s, &r);
    eprintln!("fresh session {o:?}");
    assert_eq!(o.misses, 2, "{o:?}");
}
