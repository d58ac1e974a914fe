//! Keeps OP-TEE's GP arithmetic API (`TEE_BigInt*`) out of the TA image.
//!
//! libutee's TA entry (user_ta_entry.o) calls `_TEE_MathAPI_Init` once per instance; that
//! function lives in tee_api_arith_mpi.o with every `TEE_BigInt*` function, and they pull in
//! mbedtls's bignum: ~30 KB of code and a 14 KiB bignum pool in `.bss`. libutee is not built
//! with per-function sections, so the linker cannot drop the unused parts. Neither TA in this
//! repository uses the GP arithmetic API (the update TA's crypto is RustCrypto, or the GP
//! operations in crypto.rs, which run in the TEE core; the perso-consumer example includes
//! this file too), so each defines the init itself and the archive member is never pulled in. Should anything start to use `TEE_BigInt*`, that member would come back with
//! its own `_TEE_MathAPI_Init` and the link fails on the duplicate: loud, not silent.

// SAFETY: exported under the C name libutee's entry calls, with its signature
// (`void _TEE_MathAPI_Init(void)`); it does nothing, touches no memory and is reentrant.
// The only definition in the TA image (see above for what happens otherwise).
#[allow(non_snake_case)]
#[unsafe(no_mangle)]
pub extern "C" fn _TEE_MathAPI_Init() {}
