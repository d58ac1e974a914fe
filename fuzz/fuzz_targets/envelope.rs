//! Envelope decoding and authentication against a fixed set of trust anchors, then the
//! policy's manifest check.
#![no_main]

use libfuzzer_sys::fuzz_target;
use suit_common::suit::Envelope;

fuzz_target!(|data: &[u8]| {
    let _heap = suit_fuzz::heap::arm();
    let Ok(envelope) = Envelope::decode(data) else {
        return;
    };
    let _ = envelope.claimed_digest();
    let _ = envelope.auth_block_count();
    let policy = suit_fuzz::policy();
    if let Ok(auth) = envelope.authenticate(&policy.anchors) {
        assert!(!auth.signers.is_empty(), "authenticated without a signer");
        let _ = policy.check_manifest(&auth.manifest, &auth.signers);
    }
});
