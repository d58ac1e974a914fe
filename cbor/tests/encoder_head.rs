//! `Encoder::head` and `Encoder::bytes_header`, the two writers added so every hand-written
//! CBOR header in the code base (report, component identifiers, envelope sealing, inspect)
//! could go through the one encoder: they write exactly what the typed methods write, in the
//! shortest form, and what they produce the strict decoder reads back.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use suit_cbor::{check_well_formed, Decoder, Encoder};

fn bytes_of(f: impl FnOnce(&mut Encoder) -> &mut Encoder) -> Vec<u8> {
    let mut e = Encoder::new();
    f(&mut e);
    e.into_bytes()
}

#[test]
fn head_writes_what_the_typed_methods_write() {
    // Arguments at every width boundary of RFC 8949 §3.
    for arg in [
        0u64,
        23,
        24,
        255,
        256,
        65_535,
        65_536,
        u64::from(u32::MAX),
        u64::from(u32::MAX) + 1,
        u64::MAX,
    ] {
        let n = usize::try_from(arg).unwrap_or(usize::MAX);
        assert_eq!(bytes_of(|e| e.head(0, arg)), bytes_of(|e| e.uint(arg)));
        assert_eq!(bytes_of(|e| e.head(4, arg)), bytes_of(|e| e.array(n)));
        assert_eq!(bytes_of(|e| e.head(5, arg)), bytes_of(|e| e.map(n)));
        assert_eq!(bytes_of(|e| e.head(6, arg)), bytes_of(|e| e.tag(arg)));
        assert_eq!(
            bytes_of(|e| e.head(2, arg)),
            bytes_of(|e| e.bytes_header(n))
        );
    }
    // Shortest forms, spelled out.
    assert_eq!(bytes_of(|e| e.head(2, 23)), [0x57]);
    assert_eq!(bytes_of(|e| e.head(2, 24)), [0x58, 24]);
    assert_eq!(bytes_of(|e| e.head(3, 256)), [0x79, 0x01, 0x00]);
    assert_eq!(
        bytes_of(|e| e.head(1, 65_536)),
        [0x3a, 0x00, 0x01, 0x00, 0x00]
    );
    // Only the major type's three bits count: no overflow, no panic.
    assert_eq!(bytes_of(|e| e.head(0xff, 0)), [0xe0]);
    assert_eq!(bytes_of(|e| e.head(8 + 4, 1)), [0x81]);
}

#[test]
fn bytes_header_then_content_is_a_byte_string() {
    for len in [0usize, 1, 23, 24, 255, 256, 1000, 70_000] {
        let content: Vec<u8> = (0..len).map(|i| u8::try_from(i % 251).unwrap()).collect();
        let split = bytes_of(|e| e.bytes_header(content.len()).raw(&content));
        assert_eq!(split, bytes_of(|e| e.bytes(&content)), "{len}");
        check_well_formed(&split).unwrap();
        let mut d = Decoder::new(&split);
        assert_eq!(d.bytes().unwrap(), content.as_slice());
        d.finish().unwrap();
    }
}

#[test]
fn bstr_wrapped_items_decode_as_nested_cbor() {
    // SUIT's `bstr .cbor`: write an item, wrap it, read the wrapper and then the item.
    let inner = bytes_of(|e| e.array(2).int(-16).bytes(&[0xab; 32]));
    let outer = bytes_of(|e| e.map(1).uint(3).bytes_header(inner.len()).raw(&inner));
    check_well_formed(&outer).unwrap();
    let mut d = Decoder::new(&outer);
    assert_eq!(d.map().unwrap(), 1);
    assert_eq!(d.uint().unwrap(), 3);
    let mut i = Decoder::new(d.bytes().unwrap());
    assert_eq!(i.array().unwrap(), 2);
    assert_eq!(i.int().unwrap(), -16);
    assert_eq!(i.bytes().unwrap(), [0xab; 32].as_slice());
    i.finish().unwrap();
    d.finish().unwrap();
}
