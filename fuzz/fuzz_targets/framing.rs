//! The `protocol` target's framing checks alone (`suit_fuzz::session::check_framing`), on the
//! same record inputs and seeds but without a device: every message type's decode and
//! round trip, the in-place chunk reading, forged faults and the reply reader, at the
//! decoders' speed (the `protocol` target runs a whole service per input and, with its
//! decrypting seeds, far fewer inputs per second).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _heap = suit_fuzz::heap::arm();
    for (cmd, flags, len, request) in suit_fuzz::session::records(data) {
        suit_fuzz::session::check_framing(cmd, flags, len, request);
    }
});
