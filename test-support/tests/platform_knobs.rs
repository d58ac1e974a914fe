//! The opt-in knobs of `RecordingPlatform` (used by the fuzz targets): each one changes only
//! what it says, and the defaults keep the unit tests' device.

use suit_common::suit::platform::{Platform, PlatformError};
use suit_test_support::{cid, Effect, RecordingPlatform};

fn fetch_all(dev: &mut RecordingPlatform, buf_len: usize) -> Vec<usize> {
    dev.fetch_open("u", None).unwrap();
    let mut buf = vec![0; buf_len];
    let mut sizes = Vec::new();
    loop {
        match dev.fetch_read(&mut buf).unwrap() {
            0 => return sizes,
            n => sizes.push(n),
        }
    }
}

#[test]
fn read_chunk_bounds_fetch_reads() {
    let mut dev = RecordingPlatform::default();
    dev.remote.insert("u".into(), vec![1; 20]);
    assert_eq!(fetch_all(&mut dev, 64), [7, 7, 6], "default: 7-byte pieces");
    dev.read_chunk = Some(9);
    assert_eq!(fetch_all(&mut dev, 64), [9, 9, 2]);
    dev.read_chunk = Some(0);
    assert_eq!(
        fetch_all(&mut dev, 64).len(),
        20,
        "a zero chunk still makes progress"
    );
    dev.read_chunk = Some(usize::MAX);
    assert_eq!(
        fetch_all(&mut dev, 16),
        [16, 4],
        "whole reads fill the buffer"
    );
}

#[test]
fn max_staged_refuses_beyond_the_bound() {
    let c = cid(&[b"c"]);
    let mut dev = RecordingPlatform::default();
    dev.stage_open(&c).unwrap();
    dev.stage_write(&c, &[0; 100]).unwrap();
    dev.max_staged = Some(150);
    dev.stage_write(&c, &[0; 50]).unwrap();
    assert_eq!(dev.stage_write(&c, &[0]), Err(PlatformError::NoSpace));
    assert_eq!(dev.staged[&c].len(), 150, "a refused write stages nothing");
    assert_eq!(
        dev.stage_write(&cid(&[b"never opened"]), &[0]),
        Err(PlatformError::Io)
    );
}

#[test]
fn default_slot_applies_to_components_without_one() {
    let (a, b) = (cid(&[b"a"]), cid(&[b"b"]));
    let mut dev = RecordingPlatform::default();
    dev.slots.insert(a.clone(), 1);
    assert_eq!(dev.slot_matches(&b, 0), Ok(false), "default: in no slot");
    dev.default_slot = Some(0);
    assert_eq!(dev.slot_matches(&b, 0), Ok(true));
    assert_eq!(dev.slot_matches(&a, 0), Ok(false), "`slots` wins");
    assert_eq!(dev.slot_matches(&a, 1), Ok(true));
}

#[test]
fn log_limit_caps_the_log_but_not_the_counts() {
    let mut dev = RecordingPlatform::default();
    for _ in 0..3 {
        dev.commit().unwrap();
        dev.discard();
    }
    assert_eq!(dev.log.len(), 6, "default: every effect");
    let mut dev = RecordingPlatform::default();
    dev.log_limit = Some(2);
    for _ in 0..3 {
        dev.commit().unwrap();
        dev.discard();
    }
    assert_eq!(dev.log, [Effect::Commit, Effect::Discard]);
    assert_eq!((dev.commits, dev.discards), (3, 3));
    assert!(dev.committed() && dev.discarded());
}
