//! The interpreter past authentication: the input carries an *unsigned* manifest, which the
//! target seals into an envelope with a fixed HMAC key the policy trusts, then runs
//! `suit::process` (`suit_fuzz::run_resigned`, where the input layout is documented).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _heap = suit_fuzz::heap::arm();
    let _ = suit_fuzz::run_resigned(data);
});
