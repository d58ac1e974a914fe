//! Segmented secure storage (`service::segments`): logical objects longer than one physical
//! object, as the TA stores payloads (OP-TEE panics a TA whose single object outgrows the core
//! heap). Checked over the in-memory store with 16-byte segments, including power cuts.

use suit_common::service::segments::Segmented;
use suit_common::service::store::{MemoryStore, SecureStore, StoreError};

const SEG: u64 = 16;

fn bytes(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

fn store() -> Segmented<MemoryStore> {
    Segmented::new(MemoryStore::new(), SEG)
}

/// A store holding leftover segments `obj~1` and `obj~2` of no object.
fn store_with_stale_segments() -> Segmented<MemoryStore> {
    let mut s = store();
    s.inner_mut().put("obj~1", b"stale stale").unwrap();
    s.inner_mut().put("obj~2", b"more stale").unwrap();
    s
}

/// Appends `data` in pieces of the given sizes (cycled).
fn append_in<S: SecureStore>(s: &mut Segmented<S>, name: &str, data: &[u8], pieces: &[usize]) {
    let base = s.len(name).unwrap().unwrap_or(0);
    let mut at = 0;
    let mut i = 0;
    while at < data.len() {
        let n = pieces[i % pieces.len()].min(data.len() - at);
        let total = s.append(name, &data[at..at + n]).unwrap();
        at += n;
        assert_eq!(total, base + at as u64);
        i += 1;
    }
}

/// Appends `data` to "obj", which holds `before`, in pieces of `pieces`: it reads back as
/// `before` then `data`.
fn append_and_read_back(
    s: &mut Segmented<MemoryStore>,
    before: &[u8],
    data: &[u8],
    pieces: &[usize],
) {
    append_in(s, "obj", data, pieces);
    assert_eq!(read_all(s, "obj", 64), [before, data].concat());
}

fn read_all<S: SecureStore>(s: &Segmented<S>, name: &str, buf_len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = vec![0u8; buf_len];
    loop {
        let n = s.read_at(name, out.len() as u64, &mut buf).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&buf[..n]);
    }
}

/// Every physical object of `name`, in segment order; checks the chain's shape.
fn physical(s: &Segmented<MemoryStore>, name: &str) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for k in 0.. {
        let n = if k == 0 {
            name.to_string()
        } else {
            format!("{name}~{k}")
        };
        match s.inner().raw(&n) {
            Some(b) => out.push(b.to_vec()),
            None => break,
        }
    }
    for (k, seg) in out.iter().enumerate() {
        assert!(
            seg.len() as u64 <= SEG,
            "segment {k} is {} bytes",
            seg.len()
        );
        if k + 1 < out.len() {
            assert_eq!(
                seg.len() as u64,
                SEG,
                "segment {k} is not full but not last"
            );
        }
    }
    out
}

#[test]
fn a_long_object_round_trips_through_bounded_segments() {
    for (len, pieces) in [
        (150usize, &[1usize, 7, 16, 33, 5][..]),
        (48, &[16][..]),
        (47, &[100][..]),
        (0, &[3][..]),
        (16, &[15, 1][..]),
    ] {
        let mut s = store();
        let data = bytes(len, 3);
        if len == 0 {
            s.put("obj", &[]).unwrap();
        }
        append_in(&mut s, "obj", &data, pieces);
        assert_eq!(s.len("obj").unwrap(), Some(len as u64), "len {len}");
        for buf_len in [1, 5, 16, 17, 64, 1000] {
            assert_eq!(
                read_all(&s, "obj", buf_len),
                data,
                "len {len} buf {buf_len}"
            );
        }
        // Reads at every offset, including ones that start mid-segment and cross into the next.
        for off in 0..=len {
            let mut buf = [0u8; 21];
            let n = s.read_at("obj", off as u64, &mut buf).unwrap();
            let want = (len - off).min(21);
            assert_eq!(n, want, "len {len} offset {off}");
            assert_eq!(&buf[..n], &data[off..off + n]);
        }
        assert_eq!(*s.get("obj").unwrap().unwrap(), data, "len {len}");
        let segs = physical(&s, "obj");
        assert_eq!(segs.concat(), data);
        assert_eq!(
            segs.len(),
            len / SEG as usize + usize::from(len % SEG as usize != 0).max(usize::from(len == 0))
        );
        // A fresh view (no remembered length) finds the same end.
        let fresh = Segmented::new(s.inner().clone(), SEG);
        assert_eq!(fresh.len("obj").unwrap(), Some(len as u64));
        assert_eq!(read_all(&fresh, "obj", 7), data);
    }
}

#[test]
fn appending_after_a_fresh_start_continues_at_the_probed_end() {
    let mut s = store();
    let data = bytes(70, 9);
    append_in(&mut s, "obj", &data[..40], &[40]);
    // Another view of the same objects (the TA after a reboot) appends the rest.
    let mut again = Segmented::new(s.inner().clone(), SEG);
    append_in(&mut again, "obj", &data[40..], &[6]);
    assert_eq!(read_all(&again, "obj", 9), data);
    physical(&again, "obj");
}

#[test]
fn put_over_a_long_object_replaces_it_and_drops_its_tail() {
    let mut s = store();
    append_in(&mut s, "obj", &bytes(100, 1), &[13]);
    s.put("obj", b"abc").unwrap();
    assert_eq!(s.inner().names(), vec!["obj".to_string()]);
    assert_eq!(s.len("obj").unwrap(), Some(3));
    assert_eq!(read_all(&s, "obj", 64), b"abc");
    // Growing it again builds a new chain.
    append_and_read_back(&mut s, b"abc", &bytes(40, 2), &[40]);
    physical(&s, "obj");
}

#[test]
fn a_whole_object_write_of_a_segment_or_more_is_refused_and_changes_nothing() {
    let mut s = store();
    s.put("obj", b"old").unwrap();
    assert_eq!(s.put("obj", &bytes(16, 0)), Err(StoreError::NoSpace));
    assert_eq!(read_all(&s, "obj", 8), b"old");
}

#[test]
fn names_that_could_alias_a_segment_are_refused() {
    let mut s = store();
    assert_eq!(s.put("obj~1", b"x"), Err(StoreError::BadName));
    assert_eq!(s.append("obj~1", b"x"), Err(StoreError::BadName));
    assert_eq!(s.remove("a~b"), Err(StoreError::BadName));
    assert!(s.inner().names().is_empty());
}

#[test]
fn a_leftover_object_under_a_new_segments_name_never_joins_the_object() {
    let mut s = store_with_stale_segments();
    // The first segment is short: the leftovers are past the end.
    s.put("obj", b"short").unwrap();
    assert_eq!(read_all(&s, "obj", 64), b"short");
    append_and_read_back(&mut s, b"short", &bytes(40, 5), &[7]);
    s.remove("obj").unwrap();
    assert!(s.inner().names().is_empty(), "{:?}", s.inner().names());
}

#[test]
fn remove_deletes_every_segment_and_a_power_cut_leaves_what_the_next_removal_finds() {
    let data = bytes(70, 4);
    let mut reference = store();
    append_in(&mut reference, "obj", &data, &[70]);
    reference.put("other", b"kept").unwrap();
    let segments = physical(&reference, "obj").len();
    assert_eq!(segments, 5);
    for cut in 0..=segments {
        let mut s = Segmented::new(reference.inner().clone(), SEG);
        s.inner_mut().power_cut_after = Some(cut);
        let first = s.remove("obj");
        assert_eq!(first.is_ok(), cut >= segments, "cut {cut}");
        let mut rebooted = Segmented::new(s.inner().after_reboot(), SEG);
        // What survived is a prefix of the chain (read as a prefix of the data).
        let left = read_all_or_none(&rebooted, "obj");
        assert!(data.starts_with(&left), "cut {cut}");
        rebooted.remove("obj").unwrap();
        assert_eq!(
            rebooted.inner().names(),
            vec!["other".to_string()],
            "cut {cut}"
        );
    }
}

fn read_all_or_none(s: &Segmented<MemoryStore>, name: &str) -> Vec<u8> {
    match s.len(name).unwrap() {
        None => Vec::new(),
        Some(_) => read_all(s, name, 16),
    }
}

#[test]
fn a_power_cut_while_replacing_a_long_object_leaves_the_old_or_the_new_never_a_mix() {
    let old = bytes(70, 8);
    let mut reference = store();
    append_in(&mut reference, "obj", &old, &[70]);
    for cut in 0..8 {
        let mut s = Segmented::new(reference.inner().clone(), SEG);
        s.inner_mut().power_cut_after = Some(cut);
        let _ = s.put("obj", b"new");
        let mut rebooted = Segmented::new(s.inner().after_reboot(), SEG);
        let seen = read_all(&rebooted, "obj", 16);
        assert!(seen == old || seen == b"new", "cut {cut}: {seen:?}");
        // Whatever is left, one removal clears it.
        rebooted.remove("obj").unwrap();
        assert!(
            rebooted.inner().names().is_empty(),
            "cut {cut}: {:?}",
            rebooted.inner().names()
        );
    }
}

#[test]
fn eight_mebibytes_in_512_kib_segments() {
    let mut s = Segmented::new(MemoryStore::new(), 512 * 1024);
    let data: Vec<u8> = (0..8u32 << 20)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    for chunk in data.chunks(256 * 1024 + 7) {
        s.append("suit/in/1/0", chunk).unwrap();
    }
    assert_eq!(s.len("suit/in/1/0").unwrap(), Some(8 << 20));
    let names = s.inner().names();
    assert_eq!(names.len(), 16, "{names:?}");
    for n in &names {
        assert!(s.inner().raw(n).unwrap().len() <= 512 * 1024);
    }
    let mut back = vec![0u8; 64 * 1024];
    let mut at = 0usize;
    while at < data.len() {
        let n = s.read_at("suit/in/1/0", at as u64, &mut back).unwrap();
        assert_eq!(&back[..n], &data[at..at + n]);
        at += n;
    }
    s.remove("suit/in/1/0").unwrap();
    assert!(s.inner().names().is_empty());
}

#[test]
fn a_leftover_segment_never_joins_an_object_that_ends_on_a_segment_boundary() {
    let mut s = store_with_stale_segments();
    s.put("obj", b"short").unwrap();
    // put removed the leftovers; plant them again behind the short first segment.
    s.inner_mut().put("obj~2", b"more stale").unwrap();
    let data = bytes(27, 6);
    append_in(&mut s, "obj", &data, &[27]);
    let mut want = b"short".to_vec();
    want.extend_from_slice(&data);
    assert_eq!(want.len(), 32, "ends exactly on the second segment's end");
    assert_eq!(s.len("obj").unwrap(), Some(32));
    let fresh = Segmented::new(s.inner().clone(), SEG);
    assert_eq!(fresh.len("obj").unwrap(), Some(32));
    assert_eq!(read_all(&fresh, "obj", 64), want);
}

#[test]
fn an_object_written_whole_before_segments_reads_and_grows_as_one() {
    let mut s = store();
    let old = bytes(40, 7);
    // As a TA from before segments stored it: one physical object longer than a segment.
    s.inner_mut().put("obj", &old).unwrap();
    assert_eq!(s.len("obj").unwrap(), Some(40));
    for buf_len in [1, 7, 16, 40, 64] {
        assert_eq!(read_all(&s, "obj", buf_len), old, "buf {buf_len}");
    }
    assert_eq!(*s.get("obj").unwrap().unwrap(), old);
    let more = bytes(9, 8);
    assert_eq!(s.append("obj", &more).unwrap(), 49);
    let mut want = old.clone();
    want.extend_from_slice(&more);
    assert_eq!(read_all(&s, "obj", 5), want);
    assert_eq!(s.inner().names(), vec!["obj".to_string()]);
    s.remove("obj").unwrap();
    assert!(s.inner().names().is_empty());
}

/// Counts the physical lookups of names that are not there: on OP-TEE each is a failed open.
#[derive(Default, Clone)]
struct Probed {
    store: MemoryStore,
    misses: std::rc::Rc<std::cell::Cell<usize>>,
}

impl SecureStore for Probed {
    fn get(&self, name: &str) -> Result<Option<zeroize::Zeroizing<Vec<u8>>>, StoreError> {
        self.store.get(name)
    }
    fn put(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        self.store.put(name, data)
    }
    fn remove(&mut self, name: &str) -> Result<(), StoreError> {
        self.store.remove(name)
    }
    fn append(&mut self, name: &str, data: &[u8]) -> Result<u64, StoreError> {
        self.store.append(name, data)
    }
    fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StoreError> {
        self.store.read_at(name, offset, buf)
    }
    fn len(&self, name: &str) -> Result<Option<u64>, StoreError> {
        let len = self.store.len(name)?;
        if len.is_none() {
            self.misses.set(self.misses.get() + 1);
        }
        Ok(len)
    }
}

#[test]
fn records_rewritten_many_times_look_for_a_tail_once_per_instance() {
    let mut s = Segmented::new(Probed::default(), SEG);
    let misses = s.inner().misses.clone();
    for round in 0..5u8 {
        s.put("journal", &[round; 5]).unwrap();
    }
    assert_eq!(
        misses.get(),
        1,
        "the first put looks for journal~1, later ones know"
    );
    s.remove("journal").unwrap();
    assert_eq!(misses.get(), 1);
    // A name found missing has no segments at all (removal goes highest first).
    assert_eq!(s.get("state").unwrap(), None);
    let before = misses.get();
    s.put("state", b"v1").unwrap();
    s.put("state", b"v2").unwrap();
    assert_eq!(misses.get(), before);
    // Growing past the first segment forgets it: the next put looks again and drops the tail.
    append_in_probed(&mut s, "state", &bytes(40, 1));
    s.put("state", b"v3").unwrap();
    assert_eq!(s.inner().store.names(), vec!["state".to_string()]);
    assert_eq!(s.get("state").unwrap().unwrap().as_slice(), b"v3");
}

#[test]
fn a_new_instance_still_finds_the_tail_a_power_cut_left() {
    let mut s = Segmented::new(Probed::default(), SEG);
    append_in_probed(&mut s, "obj", &bytes(40, 2));
    // A put whose tail removal a power cut stopped: a short first segment, the old tail.
    s.inner_mut().store.put("obj", b"new").unwrap();
    let mut rebooted = Segmented::new(s.inner().clone(), SEG);
    rebooted.remove("obj").unwrap();
    assert!(rebooted.inner().store.names().is_empty());
}

fn append_in_probed(s: &mut Segmented<Probed>, name: &str, data: &[u8]) {
    for piece in data.chunks(7) {
        s.append(name, piece).unwrap();
    }
}

/// What the TA's install relies on to skip look-ups (issue 14, session 8): a `create` looks
/// for no old tail, nor does an append that fills a segment of an object created afresh; a
/// name found missing is not looked up again until written; a record read or written is
/// served from memory until the instance writes or removes it, and never stale.
#[test]
fn an_instance_looks_up_only_what_it_cannot_know() {
    let mut s = Segmented::new(Probed::default(), SEG);
    let misses = s.inner().misses.clone();
    // A fresh object grown past two segments: no look-up for `~1` or `~2`.
    s.create("obj", &bytes(10, 1)).unwrap();
    append_in(&mut s, "obj", &bytes(22, 2), &[6, 16]);
    assert_eq!(s.len("obj").unwrap(), Some(32));
    assert_eq!(misses.get(), 0, "create and appends of a fresh object");
    // An object from before this instance, with the old tail a cut `put` left: filling its
    // first segment looks for (and drops) what is under the next name.
    s.inner_mut().store.put("old", &bytes(10, 3)).unwrap();
    s.inner_mut().store.put("old~1", &bytes(5, 4)).unwrap();
    s.append("old", &bytes(6, 5)).unwrap();
    assert_eq!(
        s.inner().store.raw("old~1"),
        None,
        "the stale tail is dropped"
    );
    assert_eq!(
        read_all(&s, "old", 7),
        bytes(10, 3)
            .into_iter()
            .chain(bytes(6, 5))
            .collect::<Vec<_>>()
    );
    // A missing name is looked up once.
    let before = misses.get();
    assert_eq!(s.get("keks").unwrap(), None);
    assert_eq!(s.get("keks").unwrap(), None);
    assert_eq!(s.len("keks").unwrap(), None);
    s.remove("keks").unwrap();
    assert_eq!(misses.get(), before + 1);
    // ... until written: then it is found.
    s.append("keks", b"k").unwrap();
    assert_eq!(s.get("keks").unwrap().unwrap().as_slice(), b"k");
    // Records: read once, then from memory; every write or removal is seen.
    s.put_record("state", b"one").unwrap();
    let r0 = s_reads(&s);
    assert_eq!(s.get("state").unwrap().unwrap().as_slice(), b"one");
    assert_eq!(s_reads(&s), r0, "written by this instance: not read back");
    s.put("state", b"two").unwrap();
    assert_eq!(s.get("state").unwrap().unwrap().as_slice(), b"two");
    assert_eq!(s.get("state").unwrap().unwrap().as_slice(), b"two");
    assert_eq!(s_reads(&s), r0 + 1, "read once after the put");
    s.append("state", b"+").unwrap();
    assert_eq!(s.get("state").unwrap().unwrap().as_slice(), b"two+");
    s.remove("state").unwrap();
    assert_eq!(s.get("state").unwrap(), None);
    s.create("state", b"three").unwrap();
    assert_eq!(s.get("state").unwrap().unwrap().as_slice(), b"three");
    // A write that fails forgets what was known: the next get asks the store.
    s.inner_mut().store.fail_once_at = Some(0);
    assert!(s.put_record("state", b"four").is_err());
    assert_eq!(s.get("state").unwrap().unwrap().as_slice(), b"three");
}

fn s_reads(s: &Segmented<Probed>) -> u32 {
    s.inner().store.ops.get().reads
}

/// `empty` (a garbage install object whose name a later install takes again) leaves one
/// empty first segment and nothing past it, whatever the claimed length (right, short,
/// long, none) and shape (ending inside a segment or on a boundary, a leftover segment past
/// a full last one, written whole by an older TA, a prefix a cut removal left, missing); a
/// right claim looks up nothing missing unless the last segment is full; a new object
/// created over it and grown past several segments reads back as exactly itself; a cut at
/// any step leaves what the next `empty` finishes.
#[test]
fn empty_keeps_the_name_and_nothing_else() {
    let chain = |len: usize| {
        let mut s = store();
        s.create("obj", &[]).unwrap();
        append_in(&mut s, "obj", &bytes(len, 5), &[len.max(1)]);
        s.put("other", b"kept").unwrap();
        s
    };
    let with_leftover = {
        let mut s = chain(64);
        s.inner_mut().put("obj~4", b"left").unwrap();
        s
    };
    let whole = {
        let mut s = store();
        s.inner_mut().put("obj", &bytes(40, 5)).unwrap();
        s
    };
    let prefix = {
        let mut s = chain(70);
        s.inner_mut().remove("obj~4").unwrap();
        s.inner_mut().remove("obj~3").unwrap();
        s
    };
    let shapes = [
        ("70 bytes", chain(70), 70u64),
        ("64 bytes", chain(64), 64),
        ("5 bytes", chain(5), 5),
        ("empty", chain(0), 0),
        ("a leftover past a full last segment", with_leftover, 64),
        ("written whole", whole, 40),
        ("a prefix a cut removal left", prefix, 70),
        ("missing", store(), 0),
    ];
    let emptied = |s: &Segmented<MemoryStore>, what: &str| {
        assert_eq!(s.inner().raw("obj").as_deref(), Some(&[][..]), "{what}");
        assert!(
            !s.inner().names().iter().any(|n| n.starts_with("obj~")),
            "{what}: {:?}",
            s.inner().names()
        );
    };
    for (what, reference, len) in &shapes {
        let claims = [
            *len,
            len + 1,
            len.saturating_sub(1),
            len + 16,
            0,
            16,
            1 << 40,
        ];
        for claim in claims.map(Some).into_iter().chain([None]) {
            let misses = std::rc::Rc::new(std::cell::Cell::new(0));
            let probed = Probed {
                store: reference.inner().clone(),
                misses: misses.clone(),
            };
            let mut s = Segmented::new(probed, SEG);
            s.empty("obj", claim).unwrap();
            if claim == Some(*len) && ["70 bytes", "5 bytes", "empty"].contains(what) {
                assert_eq!(misses.get(), 0, "{what}: looked past its end");
            }
            let s = Segmented::new(s.inner().store.clone(), SEG);
            emptied(&s, &format!("{what}, claim {claim:?}"));
            // A later session takes the name again.
            let mut later = Segmented::new(s.inner().after_reboot(), SEG);
            let data = bytes(50, 9);
            later.create("obj", &data[..7]).unwrap();
            append_in(&mut later, "obj", &data[7..], &[9]);
            assert_eq!(read_all(&later, "obj", 16), data, "{what}, claim {claim:?}");
        }
        for cut in 0..8 {
            let mut s = Segmented::new(reference.inner().clone(), SEG);
            s.inner_mut().power_cut_after = Some(cut);
            let _ = s.empty("obj", Some(*len));
            let mut rebooted = Segmented::new(s.inner().after_reboot(), SEG);
            rebooted.empty("obj", None).unwrap();
            emptied(&rebooted, &format!("{what}, cut {cut}"));
        }
    }
}
