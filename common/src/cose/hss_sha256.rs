//! SHA-256 for HSS-LMS verification from the `sha2` the rest of the crate uses (0.11).
//!
//! hbs-lms 0.1 ships its hasher on sha2 0.10 (the previous RustCrypto generation); using it
//! would link a second SHA-256 into the TA (~8 KB: BENCHMARKS.md, "unwind tables, one SHA-256").
//! hbs-lms takes any [`HashChain`] (its documented seam for other SHA-256 back ends), so this
//! adapts sha2 0.11 to the digest 0.10 traits that [`HashChain`] requires. Same function
//! (LMS_SHA256_M32_*, RFC 8554): the crate's HSS-LMS vectors check it.

use digest_0_10::{
    typenum::U32, FixedOutput, FixedOutputReset, Output, OutputSizeUser, Reset, Update,
};
use hbs_lms::{HashChain, MAX_HASH_SIZE};
use sha2::Digest as _;
use tinyvec::ArrayVec;

/// SHA-256 with a 32-byte output, as hbs-lms's `Sha256_256`.
#[derive(Debug, Default, Clone)]
pub(super) struct Sha256M32(sha2::Sha256);

impl Sha256M32 {
    fn take(&mut self) -> [u8; 32] {
        self.0.finalize_reset().into()
    }
}

impl HashChain for Sha256M32 {
    const OUTPUT_SIZE: u16 = 32;
    const BLOCK_SIZE: u16 = 64;

    fn finalize(mut self) -> ArrayVec<[u8; MAX_HASH_SIZE]> {
        ArrayVec::from(self.take())
    }

    fn finalize_reset(&mut self) -> ArrayVec<[u8; MAX_HASH_SIZE]> {
        ArrayVec::from(self.take())
    }
}

impl OutputSizeUser for Sha256M32 {
    type OutputSize = U32;
}

impl FixedOutput for Sha256M32 {
    fn finalize_into(mut self, out: &mut Output<Self>) {
        out.copy_from_slice(&self.take());
    }
}

impl FixedOutputReset for Sha256M32 {
    fn finalize_into_reset(&mut self, out: &mut Output<Self>) {
        out.copy_from_slice(&self.take());
    }
}

impl Reset for Sha256M32 {
    fn reset(&mut self) {
        self.0 = sha2::Sha256::new();
    }
}

impl Update for Sha256M32 {
    fn update(&mut self, data: &[u8]) {
        sha2::Digest::update(&mut self.0, data);
    }
}

/// hbs-lms asks for `PartialEq` only for its own tests; no two hashers compare equal.
impl PartialEq for Sha256M32 {
    fn eq(&self, _: &Self) -> bool {
        false
    }
}
