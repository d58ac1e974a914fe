//! SUIT_Encryption_Info / COSE_Encrypt / COSE_Encrypt0 decoding and decryption with fixed
//! device keys (AES-KW, ECDH-ES, HPKE base and PSK).
//!
//! Input layout: `sel (1) | message length (2, big endian) | message | ciphertext`.
//! sel bits 0-1: 0 streaming `PayloadDecryptor` over a detached ciphertext (and, when it
//! succeeds, the one-shot `decrypt` must return the same plaintext), 1 `decrypt` with attached
//! ciphertext, 2 `decrypt` with detached ciphertext, 3 `decrypt_integrated`; bit 2: plain COSE
//! options instead of the SUIT profile; bits 3-7: streaming chunk size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use suit_common::encryption::{decrypt, decrypt_integrated, CoseOptions, PayloadDecryptor};

fuzz_target!(|data: &[u8]| {
    let _heap = suit_fuzz::heap::arm();
    let Some((sel, message, ciphertext)) = suit_fuzz::split_input(data) else {
        return;
    };
    let keys = suit_fuzz::device_keys();
    let options = if sel & 4 == 0 {
        CoseOptions::SUIT
    } else {
        CoseOptions::COSE
    };
    match sel & 3 {
        0 => {
            let Ok(mut d) = PayloadDecryptor::with_options(message, &keys, &options) else {
                return;
            };
            let _ = d.algorithm();
            let chunk = 1 + usize::from(sel >> 3) * 5;
            let mut plaintext = Vec::new();
            for c in ciphertext.chunks(chunk) {
                match d.update(c) {
                    Ok(p) => plaintext.extend_from_slice(&p),
                    Err(_) => {
                        // Poisoned: every later call fails too.
                        assert!(d.update(b"x").is_err(), "update after an error succeeded");
                        return;
                    }
                }
            }
            assert!(plaintext.len() <= ciphertext.len());
            if let Ok(tail) = d.finish() {
                plaintext.extend_from_slice(&tail);
                let one_shot = decrypt(message, Some(ciphertext), &keys, &options);
                // The one-shot path re-wraps the CEK; only compare when it recovers it too
                // (ECDH/HPKE are deterministic on the receiving side, so it must).
                let one_shot = one_shot.expect("streaming succeeded but one-shot failed");
                assert_eq!(
                    &one_shot[..],
                    &plaintext[..],
                    "streaming and one-shot differ"
                );
            }
        }
        1 => {
            let _ = decrypt(message, None, &keys, &options);
        }
        2 => {
            let _ = decrypt(message, Some(ciphertext), &keys, &options);
        }
        _ => {
            let detached = if ciphertext.is_empty() {
                None
            } else {
                Some(ciphertext)
            };
            let _ = decrypt_integrated(message, detached, &keys, &options);
        }
    }
});
