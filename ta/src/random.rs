//! The TA's random bytes: OP-TEE's RNG system call, as `TEE_GenerateRandom` makes it.
//!
//! libutee defines `TEE_GenerateRandom` in tee_api_operations.o together with the whole GP
//! crypto operation API (~22 KB; libutee has no per-function sections), so calling it links
//! all of that into a production TA, which uses none of it (only the test build's GP crypto
//! provider, crypto.rs, does). `TEE_GenerateRandom` is the system call plus a panic on
//! failure; this is the same, without the rest of the object. The object's other libc-level
//! symbol, `rand`, is defined here too: libutils's malloc (bget) names it in a self-test the
//! TA never runs, and that reference alone would pull the object back in.
//!
//! Shared by both TAs (examples/perso-consumer includes this file). A build that does link
//! the GP operation API (cfg `gp_crypto_api`: the update TA's test build, for its crypto
//! bench) gets `rand` from libutee instead; defining it twice would fail the link.

use optee_utee::raw::{_utee_cryp_random_number_generate, TEE_Panic, TEE_SUCCESS};

/// Fills `out` from the TEE core's RNG. No randomness is a fatal TEE fault, as in
/// `TEE_GenerateRandom`: the TA panics rather than continue with predictable keys.
pub fn fill(out: &mut [u8]) {
    // SAFETY: the system call writes exactly `out.len()` bytes to `out`, a valid buffer we
    // borrow exclusively for the call; it keeps no pointer after returning.
    let res = unsafe { _utee_cryp_random_number_generate(out.as_mut_ptr().cast(), out.len()) };
    if res != TEE_SUCCESS {
        // SAFETY: TEE_Panic takes a plain code and does not return.
        unsafe { TEE_Panic(res) };
        // The binding types it as returning: never hand back an unfilled buffer if it did.
        loop {
            core::hint::spin_loop();
        }
    }
}

/// libc's `rand` as libutee defines it: 31 random bits from the TEE core's RNG.
// SAFETY: exported under the C name `rand` with its signature (`int rand(void)`); it writes
// only its own local. The only definition in the image: builds that link libutee's (which
// has the same body) leave this one out (cfg `gp_crypto_api`, set by the build script).
#[cfg(not(gp_crypto_api))]
#[unsafe(no_mangle)]
pub extern "C" fn rand() -> core::ffi::c_int {
    let mut bytes = [0u8; 4];
    fill(&mut bytes);
    core::ffi::c_int::from_ne_bytes(bytes) & core::ffi::c_int::MAX
}
