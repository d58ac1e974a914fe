//! The host ↔ TA wire protocol and the TA's dispatcher: `protocol::decode` of several message
//! types (with a re-encode round trip), `protocol::decode_reply` over the same bytes, and a
//! *session* of commands fed to one `service::Service` over an in-memory secure store,
//! checking the reply invariants the TA glue relies on (a refusal's fault among them: it reads
//! back), and the host's reading of a forged fault (`fault::render`). The session and the
//! input layout (records, and the harness's own `PROVISION` and `CLOSE`): `suit_fuzz::session`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _heap = suit_fuzz::heap::arm();
    suit_fuzz::session::run_session(data, |_, _| {});
});
