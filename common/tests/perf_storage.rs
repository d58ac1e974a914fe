//! How much an install reads back from secure storage (issue 14): every REE-FS read of an
//! object costs OP-TEE a hash-tree walk, so each staged byte should be read as few times as
//! the procedure needs. And a buffer the TA cannot allocate is an error, not an abort.

use suit_common::service::store::{zeroed, StoreError};
use suit_test_support::service::*;

/// A TA image fetched as a detached payload is read once from the payload object (the
/// engine's fetch, which hashes it) and once more for the checks and the TA-store install,
/// which share one read: 2 × its size, not 3 ×.
#[test]
fn a_detached_ta_image_is_read_back_twice_not_three_times() {
    let image = big_ta_image(300_000);
    let part = [Part {
        id: &[&TA],
        image: &image,
        uri: "https://u/ta",
    }];
    let r = release(1, &part);
    let mut s = device();
    let before = s.backend().store().bytes_read.get();
    install(&mut s, &r).unwrap();
    let read = s.backend().store().bytes_read.get() - before;
    assert_eq!(s.backend().installed_tas.last().unwrap(), &image);
    let n = image.len() as u64;
    assert!(
        read <= 2 * n + 64 * 1024,
        "read back {read} bytes for a {n}-byte image"
    );
}

/// A component fetched without change keeps the payload object as its content: each byte is
/// written once (the payload), not twice (payload, then a staged copy), and the state names
/// the payload object.
#[test]
fn a_plain_detached_payload_is_written_once() {
    let blob: Vec<u8> = (0..500_000u32).map(|i| (i % 253) as u8).collect();
    let part = [Part {
        id: &[&TA, b"blob"],
        image: &blob,
        uri: "https://u/blob",
    }];
    let r = release(1, &part);
    let mut s = device();
    let before = s.backend().store().bytes_written;
    install(&mut s, &r).unwrap();
    let written = s.backend().store().bytes_written - before;
    let n = blob.len() as u64;
    assert!(
        written < n + 64 * 1024,
        "wrote {written} bytes for a {n}-byte payload"
    );
    let st = state(&s);
    let c = &st.components[0];
    assert!(c.object.starts_with("suit/in/"), "{}", c.object);
    assert_eq!(s.backend().store().raw(&c.object).unwrap(), blob.as_slice());
    // The next install of the same component replaces it and leaves no orphan.
    let blob2: Vec<u8> = blob.iter().map(|b| b ^ 0xff).collect();
    let part2 = [Part {
        id: &[&TA, b"blob"],
        image: &blob2,
        uri: "https://u/blob",
    }];
    install(&mut s, &release(2, &part2)).unwrap();
    let st = state(&s);
    assert_eq!(
        s.backend().store().raw(&st.components[0].object).unwrap(),
        blob2.as_slice()
    );
    let used: Vec<&str> = st.components.iter().map(|c| c.object.as_str()).collect();
    for name in s.backend().store().names() {
        if suit_common::service::install::is_install_object(&name) {
            let kept_empty = is_emptied_install_object(s.backend().store(), &name);
            assert!(used.contains(&name.as_str()) || kept_empty, "orphan {name}");
        }
    }
}

/// `ta_image`'s layout (OP-TEE's signed header) with a `body`-byte body.
fn big_ta_image(body: usize) -> Vec<u8> {
    let mut v = Vec::new();
    for x in [0x4f54_5348u32, 1, body as u32, 0x7041_4930] {
        v.extend_from_slice(&x.to_le_bytes());
    }
    v.extend_from_slice(&32u16.to_le_bytes());
    v.extend_from_slice(&4u16.to_le_bytes());
    v.extend_from_slice(&[0xab; 36]);
    v.extend_from_slice(&TA);
    v.extend_from_slice(&1u32.to_le_bytes());
    v.extend((0..body).map(|i| (i % 251) as u8));
    v
}

/// A buffer larger than the heap can hold is refused with `OutOfMemory`.
#[test]
fn an_impossible_buffer_is_an_error() {
    assert_eq!(zeroed(usize::MAX).unwrap_err(), StoreError::OutOfMemory);
    assert_eq!(zeroed(16).unwrap().len(), 16);
}
