//! The one C-library symbol the TA's dependencies reach for.
//!
//! `cpufeatures` (used by aes, polyval, sha2, keccak) asks glibc's `getauxval(AT_HWCAP)`
//! which hardware crypto instructions exist. A TA has no C library and no auxiliary vector;
//! linking glibc's would add `NEEDED libc.so.6`, which OP-TEE's loader refuses. Answering
//! "no capabilities" makes every crate use its constant-time software backend.

use core::ffi::c_ulong;

// SAFETY: exported under the C name `getauxval` with glibc's signature
// (`unsigned long getauxval(unsigned long)`); it touches no memory and is reentrant. No other
// definition exists in the TA image (the build refuses an ELF with NEEDED entries).
#[unsafe(no_mangle)]
pub extern "C" fn getauxval(_kind: c_ulong) -> c_ulong {
    0
}
