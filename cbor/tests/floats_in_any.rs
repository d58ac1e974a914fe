//! Floats where a CDDL says `any` (RFC 9052 `header_map` values): `skip_any` and the `_any`
//! whole-item checks accept a well-formed half, single or double outside map keys; `skip` and
//! `check_well_formed` (structures whose CDDL has no float) still refuse it, and a float in a
//! map key is refused everywhere (one value, several encodings).
#![allow(clippy::indexing_slicing)]

use suit_cbor::{
    check_well_formed, check_well_formed_any, check_well_formed_any_within, CborError,
    CborErrorKind, Decoder,
};

const HALF: &[u8] = &[0xf9, 0x3e, 0x00]; // 1.5
const SINGLE: &[u8] = &[0xfa, 0x3f, 0xc0, 0x00, 0x00]; // 1.5
const DOUBLE: &[u8] = &[0xfb, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0]; // 1.5

fn refused_at(offset: usize) -> Result<(), CborError> {
    Err(CborError {
        kind: CborErrorKind::UnexpectedSimple,
        offset,
    })
}

#[test]
fn a_float_of_any_width_is_skipped_as_any_and_refused_otherwise() {
    for f in [HALF, SINGLE, DOUBLE] {
        // {-65537: f} (a private-use header label), [f], and a tagged f.
        let in_map = [&[0xa1, 0x3a, 0x00, 0x01, 0x00, 0x00][..], f].concat();
        let in_array = [&[0x81][..], f].concat();
        let tagged = [&[0xc1][..], f].concat();
        for (bytes, at) in [(f.to_vec(), 0), (in_map, 6), (in_array, 1), (tagged, 1)] {
            assert_eq!(check_well_formed_any(&bytes), Ok(()), "{bytes:02x?}");
            assert_eq!(
                check_well_formed_any_within(&bytes, 3),
                Ok(()),
                "{bytes:02x?}"
            );
            let mut d = Decoder::new(&bytes);
            assert_eq!(d.skip_any(), Ok(&bytes[..]));
            assert!(d.is_empty());
            assert_eq!(check_well_formed(&bytes), refused_at(at), "{bytes:02x?}");
            assert_eq!(
                Decoder::new(&bytes).skip().map(|_| ()),
                refused_at(at),
                "{bytes:02x?}"
            );
        }
    }
}

#[test]
fn a_float_in_a_map_key_is_refused_even_as_any() {
    // {1.5: 1}, and {[1.5]: 1}: a key nested one level down.
    for (bytes, at) in [
        ([&[0xa1][..], HALF, &[0x01]].concat(), 1),
        ([&[0xa1, 0x81][..], DOUBLE, &[0x01]].concat(), 2),
    ] {
        assert_eq!(
            check_well_formed_any(&bytes),
            refused_at(at),
            "{bytes:02x?}"
        );
        assert_eq!(
            Decoder::new(&bytes).skip_any().map(|_| ()),
            refused_at(at),
            "{bytes:02x?}"
        );
    }
}

/// RFC 9052's `values = any` takes every well-formed item: `undefined` and unassigned simple
/// values are skipped there like floats (nothing reads them, so none can stand for `nil`);
/// the strict reading still refuses them, and a map key never holds one.
#[test]
fn undefined_and_other_simple_values_are_skipped_as_any() {
    for bytes in [
        &[0xf7][..],
        &[0xf0],
        &[0xf8, 0x20],
        &[0xf8, 0xff],
        &[0x81, 0xf7],
    ] {
        assert_eq!(
            check_well_formed_any(bytes).map_err(|e| e.kind),
            Ok(()),
            "{bytes:02x?}"
        );
        assert_eq!(
            check_well_formed(bytes).map_err(|e| e.kind),
            Err(CborErrorKind::UnexpectedSimple),
            "{bytes:02x?}"
        );
    }
    // A simple value below 32 in the two-byte form is not well-formed (RFC 8949 §3.3).
    assert!(check_well_formed_any(&[0xf8, 0x10]).is_err());
    // Not as a map key.
    assert_eq!(
        check_well_formed_any(&[0xa1, 0xf7, 0x00]).map_err(|e| e.kind),
        Err(CborErrorKind::UnexpectedSimple)
    );
    // A truncated float is not well-formed in either reading.
    assert_eq!(
        check_well_formed_any(&SINGLE[..3]).map_err(|e| e.kind),
        Err(CborErrorKind::Truncated)
    );
}
