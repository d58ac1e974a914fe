//! SUIT_Encryption_Info / COSE_Encrypt / COSE_Encrypt0 decoding and decryption with fixed
//! device keys (AES-KW, ECDH-ES, HPKE base and PSK): `suit_fuzz::run_encryption`, where the
//! input layout is documented.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _heap = suit_fuzz::heap::arm();
    let _ = suit_fuzz::run_encryption(data);
});
