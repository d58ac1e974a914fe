//! The whole pipeline (`suit::process`) on a signed envelope with a fixed policy, device keys
//! and an in-memory platform that checks the commit/discard contract. Only envelopes signed
//! by a vector key get past authentication: see `process_resigned` for the interpreter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use suit_common::suit::Procedure;

fuzz_target!(|data: &[u8]| {
    let _heap = suit_fuzz::heap::arm();
    if suit_fuzz::run_process(data, Procedure::Update, 61) {
        suit_fuzz::run_process(data, Procedure::Invoke, 4096);
    }
});
