//! `getauxval`, the only C-library symbol this TA's dependencies reach for.
//!
//! `sha2` (through `cpufeatures`) asks glibc's `getauxval(AT_HWCAP)` for the CPU's crypto
//! extensions. A TA has neither a C library nor an auxiliary vector, and linking glibc would
//! add a `NEEDED` entry that OP-TEE's loader rejects. Returning 0 ("no capabilities") selects
//! the portable software implementations.

use core::ffi::c_ulong;

// SAFETY: the C name `getauxval` with glibc's signature (`unsigned long getauxval(unsigned
// long)`); the body reads and writes no memory, so any caller on any thread is fine. It is
// the only definition in the image: qemu/build.sh rejects a TA ELF with NEEDED entries, so no
// libc copy can be linked in beside it.
#[unsafe(no_mangle)]
pub extern "C" fn getauxval(_kind: c_ulong) -> c_ulong {
    0
}
