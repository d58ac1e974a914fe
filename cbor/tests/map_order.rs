//! `SeenKeys`: a SUIT map's integer keys must strictly increase under one of RFC 8949's two
//! canonical orders, §4.2.1 (bytewise, what this project writes) or §4.2.3 (length-first, RFC
//! 7049's, what suit-tool / cbor2 `canonical=True` writes), the same one for the whole map.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use suit_cbor::{check_well_formed, CborError, CborErrorKind, Decoder, Encoder, SeenKeys};

/// A map with these integer keys (values 0), written in the order given.
fn map(keys: &[i64]) -> Vec<u8> {
    let mut e = Encoder::new();
    e.map(keys.len());
    for k in keys {
        e.int(*k);
        e.uint(0);
    }
    e.into_bytes()
}

/// Reads `bytes` as a SUIT map of integer keys, as the engine's decoders do.
fn read(bytes: &[u8]) -> Result<Vec<i64>, CborError> {
    let mut d = Decoder::new(bytes);
    let n = d.map()?;
    let mut seen = SeenKeys::default();
    let mut keys = Vec::new();
    for _ in 0..n {
        let off = d.position();
        let k = d.int()?;
        seen.insert(k, off)?;
        keys.push(k);
        d.skip()?;
    }
    d.finish()?;
    Ok(keys)
}

#[test]
fn the_two_orders_differ_as_rfc_8949_says() {
    // {21, -1, 24}: length-first (cbor2 canonical=True) puts the one-byte -1 (0x20) before
    // the two-byte 24 (0x18 0x18); bytewise puts 0x18 0x18 before 0x20.
    assert_eq!(
        map(&[21, -1, 24]),
        [0xa3, 0x15, 0x00, 0x20, 0x00, 0x18, 0x18, 0x00]
    );
    assert_eq!(
        map(&[21, 24, -1]),
        [0xa3, 0x15, 0x00, 0x18, 0x18, 0x00, 0x20, 0x00]
    );
}

#[test]
fn a_length_first_map_decodes() {
    for keys in [
        &[21, -1, 24][..],
        &[1, 2, 3, -1, -2, 24, 25, -25, 256, -257, 70_000],
        &[23, -24, 24],
    ] {
        let m = map(keys);
        check_well_formed(&m).unwrap();
        assert_eq!(read(&m).unwrap(), keys, "{keys:?}");
    }
}

#[test]
fn a_bytewise_map_decodes() {
    for keys in [
        &[21, 24, -1][..],
        &[1, 2, 3, 24, 25, 256, 70_000, -1, -2, -25, -257],
        &[0, 23, 24, -1, -24, -25],
    ] {
        assert_eq!(read(&map(keys)).unwrap(), keys, "{keys:?}");
    }
}

/// Where both orders agree (one-byte keys, or all unsigned, or all negative).
#[test]
fn maps_in_both_orders_decode() {
    for keys in [
        &[1, 2, 3, -1, -5][..],
        &[1, 24, 300],
        &[-1, -25, -300],
        &[i64::MAX, i64::MIN],
        &[],
    ] {
        assert_eq!(read(&map(keys)).unwrap(), keys, "{keys:?}");
    }
}

#[test]
fn a_map_in_neither_order_is_refused() {
    // (keys, index of the key that is refused)
    for (keys, at) in [
        (&[2, 1, 3][..], 1),
        (&[21, 14], 1),
        (&[24, 21, -1], 1),
        (&[-1, 1], 1),
        // Each step is in one order, but the map switches: 24 → -1 only bytewise, -1 → 25
        // only length-first.
        (&[21, 24, -1, 25], 3),
        // 21 → -1 → 24 length-first, then 24 → -2 only bytewise.
        (&[21, -1, 24, -2], 3),
    ] {
        let m = map(keys);
        let err = read(&m).unwrap_err();
        assert_eq!(err.kind, CborErrorKind::NonCanonicalOrder, "{keys:?}");
        // The offset is the refused key's: header byte, then (key, 0) pairs before it.
        let offset: usize = 1 + keys[..at]
            .iter()
            .map(|k| map(&[*k]).len() - 1)
            .sum::<usize>();
        assert_eq!(err.offset, offset, "{keys:?}");
        assert_eq!(err.kind.to_string(), "map keys not in canonical order");
    }
}

#[test]
fn a_duplicate_key_is_refused() {
    for keys in [&[1, 1][..], &[21, -1, 24, -1], &[21, 24, -1, 21]] {
        let m = map(keys);
        // The whole-item check refuses it too, before any SUIT reader sees it.
        assert_eq!(
            check_well_formed(&m).unwrap_err().kind,
            CborErrorKind::DuplicateKey
        );
        assert_eq!(
            read(&m).unwrap_err().kind,
            CborErrorKind::DuplicateKey,
            "{keys:?}"
        );
    }
}

#[test]
fn an_integer_key_after_a_text_key_is_refused() {
    let mut seen = SeenKeys::default();
    seen.insert(2, 1).unwrap();
    seen.text_key();
    assert_eq!(
        seen.insert(3, 9).unwrap_err().kind,
        CborErrorKind::NonCanonicalOrder
    );
}

#[test]
fn sort_deterministic_orders_by_encoded_key_and_keeps_equal_keys_in_place() {
    // Report keys as they were once written: the fault (-70006) before -70003..-70005.
    let mut keys = vec![
        (-70006, 'f'),
        (99, 'r'),
        (-70003, 'a'),
        (2, 'n'),
        (-70003, 'b'),
        (3, 'c'),
        (-1, 'm'),
        (24, 'x'),
    ];
    suit_cbor::sort_deterministic(&mut keys, |(k, _)| *k);
    assert_eq!(
        keys,
        [
            (2, 'n'),
            (3, 'c'),
            (24, 'x'),
            (99, 'r'),
            (-1, 'm'),
            (-70003, 'a'),
            (-70003, 'b'),
            (-70006, 'f')
        ]
    );
    let mut sorted: Vec<(i64, char)> = keys.clone();
    suit_cbor::sort_deterministic(&mut sorted, |(k, _)| *k);
    assert_eq!(sorted, keys, "sorting sorted entries changes nothing");
    let mut none: [(i64, char); 0] = [];
    suit_cbor::sort_deterministic(&mut none, |(k, _)| *k);
}

/// A map key has one encoding per value: a key written with a longer head than it needs
/// (itself or an item nested in it) is refused, so a repeated key is always byte-equal to its
/// first copy and found at memory-compare speed. Values keep any head length.
#[test]
fn map_keys_have_one_encoding_so_duplicates_are_found_by_their_bytes() {
    for (map, kind) in [
        (
            &[0xa2, 0x01, 0x00, 0x01, 0x00][..],
            CborErrorKind::DuplicateKey,
        ),
        (&[0xa2, 0xf4, 0x00, 0xf4, 0x01], CborErrorKind::DuplicateKey), // false twice
        (
            &[0xa2, 0x01, 0x00, 0x18, 0x01, 0x00],
            CborErrorKind::NonPreferredKey,
        ), // 1 in two bytes
        (
            &[0xa2, 0x20, 0x00, 0x38, 0x00, 0x00],
            CborErrorKind::NonPreferredKey,
        ), // -1
        (
            &[0xa2, 0x61, b'a', 0x00, 0x78, 0x01, b'a', 0x00],
            CborErrorKind::NonPreferredKey,
        ),
        (
            &[0xa2, 0x41, 0x00, 0x00, 0x59, 0x00, 0x01, 0x00, 0x00],
            CborErrorKind::NonPreferredKey,
        ),
        (
            &[0xa2, 0x81, 0x01, 0x00, 0x81, 0x18, 0x01, 0x00],
            CborErrorKind::NonPreferredKey,
        ), // [1]
        (
            &[0xa2, 0xc1, 0x00, 0x00, 0xd8, 0x01, 0x00, 0x00],
            CborErrorKind::NonPreferredKey,
        ), // 1(0)
        (
            &[0xa1, 0x19, 0x00, 0x18, 0x00],
            CborErrorKind::NonPreferredKey,
        ), // one key, no twin
    ] {
        assert_eq!(check_well_formed(map).unwrap_err().kind, kind, "{map:02x?}");
    }
    // Nested deeper, found too.
    let nested = [0x81, 0xa2, 0x01, 0x00, 0x01, 0x01];
    assert_eq!(
        check_well_formed(&nested).unwrap_err().kind,
        CborErrorKind::DuplicateKey
    );
    for distinct in [
        &[0xa2, 0x00, 0x00, 0x20, 0x00][..], // 0 and -1 (same argument)
        &[0xa2, 0x41, b'a', 0x00, 0x61, b'a', 0x00], // h'61' and "a"
        &[0xa2, 0x81, 0x01, 0x00, 0x82, 0x01, 0x01, 0x00], // [1] and [1, 1]
        &[0xa2, 0xc1, 0x00, 0x00, 0xc2, 0x00, 0x00], // 1(0) and 2(0)
        &[0xa2, 0x18, 0x18, 0x00, 0x19, 0x01, 0x00, 0x00], // 24 and 256
        &[0xa1, 0x01, 0x18, 0x01],           // a value in a longer head
        &[0xa1, 0x1a, 0x00, 0x01, 0x00, 0x00, 0x00], // 65536 in four bytes: shortest
    ] {
        check_well_formed(distinct).unwrap_or_else(|e| panic!("{distinct:02x?}: {e:?}"));
    }
}
