//! Known answers from the specifications, and the refusals.
#![allow(clippy::unwrap_used, clippy::indexing_slicing)]

use suit_bulk::{Counter, Ghash, KernelError, Keystream};

fn h(s: &str) -> Vec<u8> {
    hex::decode(s).unwrap()
}

/// NIST SP 800-38A F.5.1 (CTR-AES128.Encrypt), blocks 1 and 2; the second block's counter
/// carries out of its last byte.
const SP800_38A_KEY: &str = "2b7e151628aed2a6abf7158809cf4f3c";
const SP800_38A_COUNTER: &str = "f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
const SP800_38A_PLAIN: &str = "6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51";
const SP800_38A_CIPHER: &str = "874d6191b620e3261bef6864990db6ce9806f66b7970fdff8617187bb9fffdff";

#[test]
fn counter_mode_matches_sp800_38a_in_any_split() {
    for counter in [Counter::Inc128, Counter::Inc32] {
        for split in [0, 1, 15, 16, 17, 31, 32] {
            let mut ks = Keystream::new(&h(SP800_38A_KEY), &h(SP800_38A_COUNTER), counter).unwrap();
            let mut buf = h(SP800_38A_PLAIN);
            let (a, b) = buf.split_at_mut(split);
            ks.apply(a).unwrap();
            ks.apply(b).unwrap();
            assert_eq!(
                hex::encode(&buf),
                SP800_38A_CIPHER,
                "{counter:?} split at {split}"
            );
        }
    }
}

/// The keystream block for one counter block.
fn block_at(key: &[u8], counter_block: &[u8; 16]) -> [u8; 16] {
    let mut b = [0u8; 16];
    Keystream::new(key, counter_block, Counter::Inc128)
        .unwrap()
        .apply(&mut b)
        .unwrap();
    b
}

/// GCM's `inc32` works modulo 2^32 on the last four bytes (SP 800-38D §6.2; the text limit
/// is the caller's); RFC 9459's counter carries into the rest of the block.
#[test]
fn gcm_counter_wraps_in_32_bits_and_rfc9459_counter_carries() {
    let key = [7u8; 16];
    let mut last = [0xffu8; 16];
    last[..12].copy_from_slice(&[1; 12]);
    let mut wrapped = last;
    wrapped[12..].copy_from_slice(&[0; 4]);
    let mut carried = wrapped;
    carried[11] = 2;
    for (counter, second) in [(Counter::Inc32, wrapped), (Counter::Inc128, carried)] {
        let mut two = [0u8; 32];
        Keystream::new(&key, &last, counter)
            .unwrap()
            .apply(&mut two)
            .unwrap();
        assert_eq!(two[..16], block_at(&key, &last), "{counter:?}");
        assert_eq!(two[16..], block_at(&key, &second), "{counter:?}");
    }
}

#[test]
fn lengths_are_checked() {
    let block = [0u8; 16];
    for n in [0, 15, 17, 24, 33] {
        assert_eq!(
            Keystream::new(&vec![0; n], &block, Counter::Inc128).unwrap_err(),
            KernelError::KeyLength(n)
        );
    }
    assert!(Keystream::new(&[0; 32], &block, Counter::Inc32).is_ok());
    assert_eq!(
        Keystream::new(&[0; 16], &[0; 12], Counter::Inc32).unwrap_err(),
        KernelError::CounterBlockLength(12)
    );
}

/// The GCM specification's (McGrew and Viega) test case 2: K = 0, P = 0^128, IV = 0^96:
/// H = E_K(0^128), and GHASH over C and the lengths block (no AAD).
#[test]
fn ghash_matches_gcm_test_case_2_in_any_split() {
    let mut hkey = [0u8; 16];
    hkey.copy_from_slice(&h("66e94bd4ef8a2c3b884cfa59ca342b2e"));
    let c = h("0388dace60b6a392f328c2b971b2fe78");
    let mut lengths = [0u8; 16];
    lengths[15] = 0x80;
    let mut one = Ghash::new(&hkey.into());
    let mut input = c.clone();
    input.extend_from_slice(&lengths);
    one.update_padded(&input);
    let mut two = Ghash::new(&hkey.into());
    two.update_padded(&c);
    two.update_padded(&lengths);
    for g in [one, two] {
        assert_eq!(
            hex::encode(g.finalize()),
            "f38cbb1ad69223dcc3457ae5b6b0f885"
        );
    }
}

#[test]
fn ghash_pads_a_partial_block_with_zeros() {
    let hkey = [3u8; 16];
    let mut short = Ghash::new(&hkey.into());
    short.update_padded(&[9; 5]);
    let mut padded = Ghash::new(&hkey.into());
    let mut block = [0u8; 16];
    block[..5].copy_from_slice(&[9; 5]);
    padded.update_padded(&block);
    assert_eq!(short.finalize(), padded.finalize());
}
