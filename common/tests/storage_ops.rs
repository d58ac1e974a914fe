//! The fixed secure-storage cost of an install (issue 14): on OP-TEE every create, write,
//! delete and failed open of an REE-FS object is a round of tee-supplicant RPCs and hash-tree
//! updates, so each kind of install is held to the fewest operations that keep its commit
//! power-cut safe (see `power_cut.rs` for the safety side). Counted by the memory store the
//! way the GP backend issues them (`StoreOps`), from `InstallBegin` to the end of `Finish`.

use suit_common::protocol::{ByteBuf, ChunkRequest, Command, Empty, InstallPrepareResponse};
use suit_common::service::install::handle_to_close;
use suit_common::service::segments::Segmented;
use suit_common::service::store::{Logged, LoggedOp, MemoryStore, SecureStore, StoreOps};
use suit_common::service::Service;
use suit_test_support::service::*;

/// The operations `f` issues against the device's store.
fn ops(s: &mut Service<Mem>, f: impl FnOnce(&mut Service<Mem>)) -> StoreOps {
    let before = s.backend().store().ops.get();
    f(s);
    let after = s.backend().store().ops.get();
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
/// journal is emptied (kept, not deleted: on OP-TEE a new name and a missing one each cost a
/// scan of the whole REE-FS directory); the report is the one other write.
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
    assert_eq!(mutations(first), counts(5, 5, 0), "{first:?}");
    // Replacing costs only the emptying of the replaced object (kept for a later install to
    // take again, see `install::free_slot`): the journal's one write named it already,
    // before the staging object was created.
    assert_eq!(mutations(again), counts(6, 6, 0), "{again:?}");
}

/// A TA image as a detached payload: the payload object (named in the journal first,
/// created with its first chunk), the pending commit, the state, the report; the payload
/// object and the journal are emptied after.
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
    assert_eq!(mutations(o), counts(7, 6 + chunks, 0), "{o:?}");
    assert_eq!(s.backend().installed_tas.last().unwrap(), &image);
}

/// A plain detached component: the journal names the payload object, which becomes the
/// component's content; the state switches, the journal is emptied.
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
    assert_eq!(mutations(first), counts(5, 4 + chunks, 0), "{first:?}");
    let blob2: Vec<u8> = blob.iter().map(|b| b ^ 1).collect();
    let again = installed(&mut s, &release(2, &[part(&blob2)]));
    eprintln!("blob replace {again:?}");
    assert_eq!(mutations(again), counts(6, 5 + chunks, 0), "{again:?}");
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

/// A new session (a new `Service`, whatever the TA instance's lifetime) looks for the
/// journal once, in `reconcile` before its first command, not again at `InstallBegin`, and
/// not the KEK record this device never had (its state record names the empty set). Once an
/// install has written the journal it stays (emptied), so later sessions look up nothing
/// that is missing.
#[test]
fn a_new_session_looks_for_the_journal_once() {
    // Release `seq` of the TA, integrated, as TA version `seq + 1`.
    let ta_release = |seq: u64| {
        let image = ta_image(TA, seq as u32 + 1);
        release(
            seq,
            &[Part {
                id: &[&TA],
                image: &image,
                uri: "#ta",
            }],
        )
    };
    let s = device();
    let mut s = crate::power_cut::restart(s.backend().store(), &s.backend().installed_tas);
    let o = installed(&mut s, &ta_release(1));
    eprintln!("fresh session {o:?}");
    // Session 25: the journal is stored with the device's first keys (before them), so not
    // even the first install looks for a journal that is missing.
    assert_eq!(o.misses, 0, "{o:?}");
    let mut s = crate::power_cut::restart(s.backend().store(), &s.backend().installed_tas);
    let o = installed(&mut s, &ta_release(2));
    eprintln!("next session {o:?}");
    assert_eq!(o.misses, 0, "{o:?}");
}

/// A device stored by a TA from before `provision::NO_KEKS` (its record names no KEK set, and
/// it has no KEK object) looks for the KEK object at its next install, which commits the
/// empty set's id with its state; installs after it, in new sessions, no longer look.
#[test]
fn an_install_names_the_empty_kek_set_so_later_installs_skip_the_look_up() {
    use suit_common::service::keys::KEKS_OBJECT;
    use suit_common::service::provision::NO_KEKS;
    use suit_common::service::state::State;
    let part = |image| Part {
        id: &[&TA, b"note"],
        image,
        uri: "#note",
    };
    let s = device();
    let mut state = State::load(s.backend()).unwrap();
    assert_eq!(
        state.kek_set.as_deref().map(|k| k.as_slice()),
        Some(&NO_KEKS[..])
    );
    state.kek_set = None;
    let mut store = s.backend().store().clone();
    state.save(&mut store).unwrap();
    assert_eq!(store.raw(KEKS_OBJECT), None);
    let mut s = crate::power_cut::restart(&store, &s.backend().installed_tas);
    let legacy = installed(&mut s, &release(1, &[part(b"one\n")]));
    assert_eq!(
        legacy.misses, 1,
        "the KEK object (the journal exists since the keys): {legacy:?}"
    );
    let state = State::load(s.backend()).unwrap();
    assert_eq!(
        state.kek_set.as_deref().map(|k| k.as_slice()),
        Some(&NO_KEKS[..])
    );
    let mut s = crate::power_cut::restart(s.backend().store(), &s.backend().installed_tas);
    let named = installed(&mut s, &release(2, &[part(b"two\n")]));
    assert_eq!(named.misses, 0, "the journal is kept: {named:?}");
}

/// What the TA's GP backend does for one physical call (`ta/src/backend.rs`: open handles
/// kept and closed as the service's `handle_to_close` picks; a failed open is a look-up of a missing
/// object; a whole write over an open object that the new data covers, or of no data, is
/// one write in place, any other a create), and its counts, named as the TA's "storage
/// install" line names them.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GpCounts {
    pub opens: u32,
    pub failed_opens: u32,
    pub creates: u32,
    /// Creates under a name that did not exist (on OP-TEE a scan of the whole object
    /// directory, as a failed open is; over an existing name it reads up to its entry).
    pub new_names: u32,
    pub writes: u32,
    pub reads: u32,
    pub deletes: u32,
}

struct GpModel {
    open: Vec<String>,
    counts: GpCounts,
}

impl GpModel {
    /// Whether `name` had to be opened (it was not among the open handles).
    fn touch(&mut self, name: &str, keep: bool) -> bool {
        let cached = self.open.iter().position(|n| n == name);
        if let Some(i) = cached {
            self.open.remove(i);
        } else {
            self.counts.opens += 1;
        }
        if keep {
            self.keep(name);
        }
        cached.is_none()
    }

    /// The backend's `keep`: the service's handle policy ([`handle_to_close`]).
    fn keep(&mut self, name: &str) {
        if let Some(i) = handle_to_close(self.open.iter().map(String::as_str), name) {
            self.open.remove(i);
        }
        self.open.push(name.into());
    }

    /// One physical call in words, for the listing.
    fn step(&mut self, c: &Logged) -> String {
        let name = &c.name;
        match c.op {
            LoggedOp::Get | LoggedOp::Len | LoggedOp::ReadAt if !c.found => {
                self.touch(name, false);
                self.counts.failed_opens += 1;
                format!("FAILED OPEN {name}")
            }
            LoggedOp::Get | LoggedOp::Len => {
                let opened = self.touch(name, true);
                let what = if c.op == LoggedOp::Get {
                    "read"
                } else {
                    "length"
                };
                format!("{}{what} {name}", if opened { "open + " } else { "" })
            }
            LoggedOp::ReadAt => {
                let opened = self.touch(name, true);
                self.counts.reads += 1;
                format!(
                    "{}read {name} [{}..+{}]",
                    if opened { "open + " } else { "" },
                    c.offset,
                    c.len
                )
            }
            LoggedOp::Put | LoggedOp::PutRecord | LoggedOp::Create | LoggedOp::Empty(_)
                if self.open.iter().any(|n| n == name) && (c.len == 0 || c.before <= c.len) =>
            {
                self.touch(name, true);
                self.counts.writes += 1;
                let what = if c.len == 0 { "truncate" } else { "write" };
                format!("{what} {name} in place ({} B)", c.len)
            }
            LoggedOp::Put | LoggedOp::PutRecord | LoggedOp::Create | LoggedOp::Empty(_) => {
                self.open.retain(|n| n != name);
                self.keep(name);
                self.counts.creates += 1;
                self.counts.writes += 1;
                self.counts.new_names += u32::from(!c.found);
                let new = if c.found { "" } else { "NEW NAME " };
                format!("create {new}{name} ({} B)", c.len)
            }
            LoggedOp::Append => {
                let opened = self.touch(name, true);
                let created = !c.found;
                if created {
                    self.counts.failed_opens += 1;
                    self.counts.creates += 1;
                    self.counts.new_names += 1;
                }
                self.counts.writes += 1;
                format!(
                    "{}{}write {name} ({} B)",
                    if opened && !created { "open + " } else { "" },
                    if created {
                        "FAILED OPEN + create + "
                    } else {
                        ""
                    },
                    c.len
                )
            }
            LoggedOp::Remove if !c.found => {
                self.touch(name, false);
                self.counts.failed_opens += 1;
                format!("FAILED OPEN {name} (remove)")
            }
            LoggedOp::Remove => {
                let opened = !self.open.iter().any(|n| n == name);
                self.open.retain(|n| n != name);
                if opened {
                    self.counts.opens += 1;
                }
                self.counts.deletes += 1;
                format!("{}delete {name}", if opened { "open + " } else { "" })
            }
        }
    }
}

/// Replays logical calls through the TA's segmented store (one per session, as the TA
/// keeps one per instance); returns the physical calls it makes. `create`'s claim (nothing
/// under the name) is checked by the physical store.
fn physical(seg: &mut Segmented<MemoryStore>, calls: &[Logged]) -> Vec<Logged> {
    *seg.inner().log.borrow_mut() = Some(Vec::new());
    for c in calls {
        let data = vec![0u8; c.len as usize];
        let n = &c.name;
        match c.op {
            LoggedOp::Get => drop(seg.get(n).unwrap()),
            LoggedOp::Len => drop(seg.len(n).unwrap()),
            LoggedOp::Put => seg.put(n, &data).unwrap(),
            LoggedOp::PutRecord => seg.put_record(n, &data).unwrap(),
            LoggedOp::Create => seg.create(n, &data).unwrap(),
            LoggedOp::Remove => seg.remove(n).unwrap(),
            LoggedOp::Empty(claim) => seg.empty(n, claim).unwrap(),
            LoggedOp::Append => drop(seg.append(n, &data).unwrap()),
            LoggedOp::ReadAt => drop(seg.read_at(n, c.offset, &mut vec![0; c.len as usize])),
        }
    }
    let log = seg.inner().log.borrow_mut().take().unwrap();
    log
}

/// One install in a new session (a new `Service`: the agent connects per install), step
/// by step, as the TA's backend issues it (512 KiB segments, payload chunks of 256 KiB as
/// the agent sends them); prints each step's physical calls in the TA's terms.
fn listed(s: &Service<Mem>, envelope: &[u8], payloads: &[(&str, &[u8])], what: &str) -> GpCounts {
    let physical = s.backend().store().after_reboot();
    listed_on(s, physical, envelope, payloads, what).0
}

/// [`listed`] over `physical`, the segmented store earlier listings left (so that a
/// component they wrote past a segment is stored in segments, as on the TA); returns it
/// after this install too.
fn listed_on(
    s: &Service<Mem>,
    stored: MemoryStore,
    envelope: &[u8],
    payloads: &[(&str, &[u8])],
    what: &str,
) -> (GpCounts, MemoryStore) {
    let mut s = crate::power_cut::restart(s.backend().store(), &s.backend().installed_tas);
    let mut gp = GpModel {
        open: Vec::new(),
        counts: GpCounts::default(),
    };
    let mut seg = Segmented::new(stored, 512 * 1024);
    let mut step = |s: &mut Service<Mem>, label: &str, f: &mut dyn FnMut(&mut Service<Mem>)| {
        *s.backend().store().log.borrow_mut() = Some(Vec::new());
        f(s);
        let calls = s.backend().store().log.borrow_mut().take().unwrap();
        for c in physical(&mut seg, &calls) {
            eprintln!("{what} | {label} | {}", gp.step(&c));
        }
    };
    step(&mut s, "Begin", &mut |s| {
        begin(s, envelope.len() as u64).unwrap();
    });
    step(&mut s, "Envelope+Prepare", &mut |s| {
        for (i, c) in envelope.chunks(CHUNK).enumerate() {
            let _: Empty = call(
                s,
                Command::InstallEnvelope,
                &ChunkRequest {
                    offset: (i * CHUNK) as u64,
                    data: ByteBuf::from(c.to_vec()),
                },
            )
            .unwrap();
        }
        let _: InstallPrepareResponse = call(s, Command::InstallPrepare, &Empty {}).unwrap();
    });
    step(&mut s, "Payload", &mut |s| {
        for (uri, data) in payloads {
            send_payload_chunked(s, uri, data.len() as u64, data, 256 * 1024).unwrap();
        }
    });
    step(&mut s, "Finish", &mut |s| drop(finish(s).unwrap()));
    eprintln!("{what} | total | {:?}", gp.counts);
    (gp.counts, seg.inner().after_reboot())
}

/// The bench's three kinds of install (an encrypted 65 KB TA, a manifest with an integrated
/// payload, a 1 MiB A128GCM component), each in a new session as the agent runs them: the
/// TA's operations, listed (`--nocapture`) and pinned. Failed opens are look-ups of missing
/// objects; each create, delete and failed open is an REE-FS directory update or round trip.
#[test]
fn the_benchs_installs_cost_the_fewest_operations() {
    use crate::install_streaming::{blob, encrypt, envelope, ta, Cipher, Form, URI};
    let mut s = device();
    // A small TA, decrypted as it arrives (the bench's ta-hpke).
    let image = ta(2, 65_000);
    let (info, ciphertext) = encrypt(&mut s, Cipher::Gcm, &image);
    let env = envelope(1, &[&TA], &image, &info, Form::Static);
    let small_ta = listed(&s, &env, &[(URI, &ciphertext)], "small TA");
    install_with(&mut s, &env, &[(URI, &ciphertext)]).unwrap();
    // A manifest with an integrated payload (the bench's manifest-only).
    let note = Part {
        id: &[&TA, b"note"],
        image: b"manifest-only install\n",
        uri: "#note",
    };
    let r = release(2, &[note]);
    let manifest_only = listed(&s, &r.envelope, &[], "manifest-only");
    install(&mut s, &r).unwrap();
    // A 1 MiB secure component, A128GCM (the bench's blob1-gcm).
    let data = blob(1 << 20);
    let (info, ciphertext) = encrypt(&mut s, Cipher::Gcm, &data);
    let env = envelope(
        3,
        &crate::install_streaming::SECURE,
        &data,
        &info,
        Form::Static,
    );
    let physical = s.backend().store().after_reboot();
    let (big, physical) = listed_on(&s, physical, &env, &[(URI, &ciphertext)], "1 MiB component");
    install_with(&mut s, &env, &[(URI, &ciphertext)]).unwrap();
    // The same component replaced, twice (the bench's blob1-gcm-replace, and a replaced
    // content that ends inside a segment): the old content goes after the switch, deleted
    // by the length its record gives.
    let replace = |s: &mut Service<Mem>, physical, seq, len: usize, what| {
        let mut data = blob(len);
        data[0] ^= seq as u8;
        let (info, ciphertext) = encrypt(s, Cipher::Gcm, &data);
        let env = envelope(
            seq,
            &crate::install_streaming::SECURE,
            &data,
            &info,
            Form::Static,
        );
        let listing = listed_on(s, physical, &env, &[(URI, &ciphertext)], what);
        install_with(s, &env, &[(URI, &ciphertext)]).unwrap();
        listing
    };
    let (big_replace, physical) = replace(&mut s, physical, 4, (5 << 19) - 4096, "1 MiB replaced");
    let (long_replace, physical) =
        replace(&mut s, physical, 5, 1 << 20, "2.5 MiB less 4 KiB replaced");
    // The note replaced (the bench's manifest-only after the payloads): one short object.
    let r = release(
        6,
        &[Part {
            id: &[&TA, b"note"],
            image: b"another note\n",
            uri: "#note",
        }],
    );
    let (note_replace, physical) = listed_on(&s, physical, &r.envelope, &[], "note replace");
    install(&mut s, &r).unwrap();
    // The TA again, a new version (the bench's ta-hpke-after-payloads): its payload object
    // takes the name the first one had, kept empty since.
    let image = ta(3, 65_000);
    let (info, ciphertext) = encrypt(&mut s, Cipher::Gcm, &image);
    let env = envelope(7, &[&TA], &image, &info, Form::Static);
    let (small_ta_again, _) =
        listed_on(&s, physical, &env, &[(URI, &ciphertext)], "small TA again");
    // Session 7 (the bench's counts): opens 6 / 5 / 10 (failed 4 / 3 / 5), reads 7 / 4 / 6.
    // Session 9: the TA image is no longer read back for OP-TEE (the session kept the
    // plaintext it hashed): small TA reads 3 -> 2.
    // Session 21: no look-up of the KEK record this device never had (its state record names
    // the empty set, `provision::NO_KEKS`): opens and failed opens 4 -> 3 and 2 -> 1.
    // Also session 21: the journal is emptied, not deleted, so after the first install (a
    // device that never had one: its look-up fails) a new session reads it instead of
    // missing it, and the next journal write overwrites it instead of creating a new name
    // (on OP-TEE both of those scan the whole REE-FS directory; a failed open also closes
    // it). Per install: a delete becomes a write, a failed open a read.
    // Left: the journal look-up of a new session (`reconcile`), the state and device keys
    // read once each; the journal named before the first object, the state, the report; the
    // payload object (a TA's plaintext, kept until OP-TEE holds it) and the journal emptied.
    // Session 22: payload and staging objects are named by the lowest slot no installed
    // component uses (`install::free_slot`), and emptied instead of deleted once garbage, so
    // a later install creates over a name that exists (the TA's second install: no new name
    // at all). An object of more than one segment still has its tail deleted and created
    // anew. Per install a delete becomes a write.
    let gp = |opens, failed_opens, creates, new_names, writes, reads, deletes| GpCounts {
        opens,
        failed_opens,
        creates,
        new_names,
        writes,
        reads,
        deletes,
    };
    // Session 23: a whole write over an open object that the new data covers is a write in
    // place, an empty one a truncation (the backend's `put`; OP-TEE commits either
    // atomically, at about half a create's cost), and the empty journal is stored as no
    // bytes (so it is truncated, and a new session finds nothing to read). The journal's
    // writes, the state's and the emptied TA image are in place while their objects are
    // open: the small TA creates 7 -> 3, manifest-only 5 -> 2; a new session reads 3 -> 2.
    // And the backend keeps records open through a payload's segments (at most four install
    // objects among seven handles), so a component's commit writes in place too: 1 MiB
    // creates 6 -> 3, its replacements 10 -> 7 and 7 -> 4.
    // Session 25: the state record and the journal are stored with the device's first keys
    // (before them, so that a deleted one is detected), so the first install on a provisioned
    // device neither misses nor creates the journal: 3 creates -> 2, a failed open -> none.
    // Session 39: a streamed TA image is kept in TA memory only, never written to its
    // payload object (a cut inside OP-TEE's install leaves the commit awaiting the same
    // envelope): the small TA's payload create and its writes go, and so does the journal's
    // first write (it has nothing to name), creates 2 -> 1, writes 7 -> 4 (the journal's
    // pending record, the state, the journal emptied, the report).
    assert_eq!(small_ta, gp(3, 0, 1, 1, 4, 2, 0));
    assert_eq!(manifest_only, gp(3, 0, 2, 1, 5, 2, 0));
    // Writes: 256 KiB chunks less the 16 bytes A128GCM holds back, split at the 512 KiB
    // segment boundaries.
    assert_eq!(big, gp(3, 0, 3, 2, 10, 2, 0));
    // Also session 22: a replaced component's object goes by the length its record gives
    // (`SecureStore::empty`): only its last segment is opened, to check the
    // claim, and no look-up past a short last segment fails. Before, each segment was
    // opened to find the end, a look-up past it failed (a directory scan on OP-TEE), and the
    // lowest segments were opened again: 2.4 MiB opens 10 (1 failed) -> 7 (none), the note
    // 5 (1 failed) -> 4 (none). A full last segment (1 MiB) still looks past itself.
    assert_eq!(big_replace, gp(5, 1, 7, 5, 19, 2, 1));
    assert_eq!(long_replace, gp(7, 0, 4, 1, 11, 2, 4));
    assert_eq!(note_replace, gp(4, 0, 2, 1, 6, 2, 0));
    // Session 39: its image is in no object either (the journal still names the objects
    // the state uses first): creates 2 -> 1, writes 7 -> 5.
    assert_eq!(small_ta_again, gp(3, 0, 1, 0, 5, 2, 0));
}

/// Install objects take the lowest slot no installed component's object is in, and names
/// come back: a component fetched without change keeps its payload object as content (its
/// slot is skipped), a TA's payload object is emptied after OP-TEE holds the image, and the
/// next install of the component creates over that emptied name.
#[test]
fn install_objects_reuse_emptied_names_and_skip_installed_ones() {
    let blob = |seed: u8| -> Vec<u8> { (0..3000u32).map(|i| (i as u8) ^ seed).collect() };
    let part = |image: &'static [u8]| Part {
        id: &[&TA, b"blob"],
        image,
        uri: "https://u/blob",
    };
    let leak = |v: Vec<u8>| -> &'static [u8] { Box::leak(v.into_boxed_slice()) };
    let mut s = device();
    let first = leak(blob(1));
    install(&mut s, &release(1, &[part(first)])).unwrap();
    let objects = |s: &Service<Mem>| -> Vec<String> {
        state(s)
            .components
            .iter()
            .map(|c| c.object.clone())
            .collect()
    };
    assert_eq!(objects(&s), ["suit/in/0/0"]);
    // A TA: slot 0 is the component's, so its payload object is in slot 1, emptied after.
    let image = ta_image_with_body(TA, 2, &[0x5a; 5000]);
    let ta = Part {
        id: &[&TA],
        image: leak(image),
        uri: "https://u/ta",
    };
    install(&mut s, &release(2, &[ta])).unwrap();
    let st = s.backend().store();
    assert_eq!(st.raw("suit/in/1/0").as_deref(), Some(&[][..]));
    assert_eq!(st.raw("suit/in/0/0").as_deref(), Some(first));
    // The component again: slot 1 is free (its name exists, empty) and is taken; the old
    // content is emptied in turn.
    let second = leak(blob(2));
    install(&mut s, &release(3, &[part(second)])).unwrap();
    let components = objects(&s);
    assert!(
        components.contains(&"suit/in/1/0".to_string()),
        "{components:?}"
    );
    let st = s.backend().store();
    assert_eq!(st.raw("suit/in/1/0").as_deref(), Some(second));
    assert_eq!(st.raw("suit/in/0/0").as_deref(), Some(&[][..]));
}

/// The backend's handle policy: seven handles, four of them install objects, the least
/// recently used install object closed first.
#[test]
fn the_handle_policy_closes_the_least_recently_used_install_object() {
    let records = ["suit/journal", "suit/state", "suit/device-keys"];
    let installs = ["suit/in/0/0", "suit/c/0/0", "suit/in/0/0~1", "suit/c/0/0~1"];
    let names = |r: usize, i: usize| -> Vec<&str> {
        records[..r].iter().chain(&installs[..i]).copied().collect()
    };
    assert_eq!(handle_to_close([].into_iter(), "suit/in/1/0"), None);
    assert_eq!(
        handle_to_close(names(3, 3).into_iter(), "suit/in/1/0"),
        None
    );
    // A fifth install object: the oldest install object goes, not a record.
    assert_eq!(
        handle_to_close(names(2, 4).into_iter(), "suit/in/1/0"),
        Some(2)
    );
    // A record while four are open: there is room for it.
    assert_eq!(
        handle_to_close(names(2, 4).into_iter(), "suit/report"),
        None
    );
    // Seven open: a record too closes the oldest install object.
    assert_eq!(
        handle_to_close(names(3, 4).into_iter(), "suit/report"),
        Some(3)
    );
    // Seven records (no install object open): the least recently used handle.
    let seven = ["a", "b", "c", "d", "e", "f", "g"];
    assert_eq!(handle_to_close(seven.into_iter(), "suit/in/1/0"), Some(0));
}
