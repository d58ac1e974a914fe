//! The raised container bound of stored records applies to arrays only: a map keeps the
//! default bound, so its quadratic duplicate-key check stays small.
#![allow(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    clippy::cast_possible_truncation
)]

use suit_cbor::{check_well_formed_with, CborErrorKind, Encoder, MAX_CONTAINER_LEN};

fn array(n: u64) -> Vec<u8> {
    let mut e = Encoder::new();
    e.array(n as usize);
    for i in 0..n {
        e.uint(i);
    }
    e.into_bytes()
}

fn map(n: u64) -> Vec<u8> {
    let mut e = Encoder::new();
    e.map(n as usize);
    for i in 0..n {
        e.uint(i);
        e.uint(0);
    }
    e.into_bytes()
}

#[test]
fn a_raised_bound_admits_long_arrays_but_not_long_maps() {
    let over = MAX_CONTAINER_LEN as u64 + 1;
    check_well_formed_with(&array(over), 100_000).unwrap();
    let e = check_well_formed_with(&map(over), 100_000).unwrap_err();
    assert_eq!(e.kind, CborErrorKind::TooLarge);
    check_well_formed_with(&map(MAX_CONTAINER_LEN as u64), 100_000).unwrap();
    // And the default bound still holds for arrays.
    let e = check_well_formed_with(&array(over), MAX_CONTAINER_LEN).unwrap_err();
    assert_eq!(e.kind, CborErrorKind::TooLarge);
}

/// Mutation review s34: the nesting bound is exact. Items at depth 0..=MAX_DEPTH (MAX_DEPTH
/// arrays around one integer) pass; one level more is `TooDeep`.
#[test]
fn nesting_is_bounded_exactly_at_max_depth() {
    let nested = |levels: usize| {
        let mut v = vec![0x81u8; levels];
        v.push(0x00);
        v
    };
    assert_eq!(
        suit_cbor::check_well_formed(&nested(suit_cbor::MAX_DEPTH)),
        Ok(())
    );
    assert_eq!(
        suit_cbor::check_well_formed(&nested(suit_cbor::MAX_DEPTH + 1))
            .unwrap_err()
            .kind,
        CborErrorKind::TooDeep
    );
}
