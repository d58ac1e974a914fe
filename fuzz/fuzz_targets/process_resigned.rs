//! The interpreter past authentication: the input carries an *unsigned* manifest, which the
//! target seals into an envelope with a fixed HMAC key the policy trusts, then runs
//! `suit::process`.
//!
//! Input layout: `flags (1) | manifest length (2, big endian) | manifest | integrated payload`.
//! flags bit 0: Invoke instead of Update; bits 1-2: the integrated payload's key (none,
//! "#dependency-manifest", "#firmware", "#payload"); bits 3-7: fetch chunk size.
#![no_main]

use libfuzzer_sys::fuzz_target;
use suit_common::cose::Algorithm;
use suit_common::suit::author::{seal_envelope, Signer};
use suit_common::suit::Procedure;

fuzz_target!(|data: &[u8]| {
    let _heap = suit_fuzz::heap::arm();
    let Some((flags, manifest, payload)) = suit_fuzz::split_input(data) else {
        return;
    };
    let key = suit_fuzz::fuzz_signing_key();
    let signer = Signer {
        key: &key,
        alg: Algorithm::Hmac256,
        kid: b"",
    };
    let integrated: Vec<(&str, &[u8])> = match (flags >> 1) & 3 {
        0 => Vec::new(),
        1 => vec![("#dependency-manifest", payload)],
        2 => vec![("#firmware", payload)],
        _ => vec![("#payload", payload)],
    };
    let Ok(envelope) = seal_envelope(manifest, &[signer], &[], &integrated) else {
        return;
    };
    let procedure = if flags & 1 == 0 {
        Procedure::Update
    } else {
        Procedure::Invoke
    };
    let chunk = 1 + usize::from(flags >> 3) * 37;
    suit_fuzz::run_process(&envelope, procedure, chunk);
});
