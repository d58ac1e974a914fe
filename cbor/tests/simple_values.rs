//! RFC 8949 §3.3: a simple value below 32 has only the one-byte form; `0xf8 nn` with nn < 32
//! is not well-formed and is refused, never read as its one-byte twin.

use suit_cbor::{check_well_formed, CborError, CborErrorKind, Decoder, Item};

fn malformed_at(offset: usize) -> CborError {
    CborError {
        kind: CborErrorKind::Malformed,
        offset,
    }
}

#[test]
fn two_byte_simple_values_below_32_are_not_well_formed() {
    for s in 0..32u8 {
        let bytes = [0xf8, s];
        assert_eq!(Decoder::new(&bytes).item(), Err(malformed_at(0)), "{s}");
        assert_eq!(Decoder::new(&bytes).peek(), Err(malformed_at(0)), "{s}");
        assert_eq!(check_well_formed(&bytes), Err(malformed_at(0)), "{s}");
    }
}

fn read(bytes: &[u8]) -> Result<Item<'_>, CborError> {
    Decoder::new(bytes).item()
}

#[test]
fn one_byte_simple_values_and_two_byte_ones_from_32_still_read() {
    assert_eq!(read(&[0xf4]), Ok(Item::Bool(false)));
    assert_eq!(read(&[0xf5]), Ok(Item::Bool(true)));
    assert_eq!(read(&[0xf6]), Ok(Item::Null));
    assert_eq!(read(&[0xf0]), Ok(Item::Simple(16)));
    assert_eq!(read(&[0xf8, 0x20]), Ok(Item::Simple(32)));
    assert_eq!(read(&[0xf8, 0xff]), Ok(Item::Simple(255)));
    assert_eq!(check_well_formed(&[0x83, 0xf4, 0xf5, 0xf6]), Ok(()));
}

#[test]
fn a_two_byte_false_cannot_pose_as_a_second_key_or_a_boolean() {
    // {false: 1, 0xf8 0x14: 2}: bytewise the keys differ, by value both are false.
    assert_eq!(
        check_well_formed(&[0xa2, 0xf4, 0x01, 0xf8, 0x14, 0x02]),
        Err(malformed_at(3))
    );
    // [0xf8 0x15] where a boolean is expected.
    let bytes = [0x81, 0xf8, 0x15];
    assert_eq!(check_well_formed(&bytes), Err(malformed_at(1)));
    let mut d = Decoder::new(&bytes);
    assert_eq!(d.array(), Ok(1));
    assert_eq!(d.bool(), Err(malformed_at(1)));
}
