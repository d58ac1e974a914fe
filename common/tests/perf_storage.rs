//! How much an install reads back from secure storage (issue 14): every REE-FS read of an
//! object costs OP-TEE a hash-tree walk, so each staged byte should be read as few times as
//! the procedure needs. And a buffer the TA cannot allocate is an error, not an abort.

mod state_support;
mod support;

use state_support::*;
use suit_common::service::store::{zeroed, StoreError};

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
    let before = s.backend().store.bytes_read.get();
    install(&mut s, &r).unwrap();
    let read = s.backend().store.bytes_read.get() - before;
    assert_eq!(s.backend().installed_tas.last().unwrap(), &image);
    let n = image.len() as u64;
    assert!(
        read <= 2 * n + 64 * 1024,
        "read back {read} bytes for a {n}-byte image"
    );
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
