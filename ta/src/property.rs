//! GP properties read with OP-TEE's two property system calls, and libutee's
//! `TEE_GetPropertyAsU32` defined here, so that libutee's property object stays out of the TA.
//!
//! libutee's `TEE_GetPropertyAs*` live in tee_api_property.o, which also formats every type of
//! value as text (`snprintk`'s UUID and identity forms, base64) and enumerates property sets:
//! ~5 KB of the TA (one 4 KiB page of the signed file, NOTES "Session 41 (s41-size)"), and
//! libutee has no per-function sections. The TA reads four properties of the TEE
//! implementation and the client's identity ([`get`], used by backend.rs); libutee's own TA
//! entry (user_ta_entry.o) calls `TEE_GetPropertyAsU32` once per instance (whether the CPU
//! tags memory), and that reference alone would pull the object in, so it is defined below,
//! on [`get`] too. As with `_TEE_MathAPI_Init` (math_api.rs): should anything start to use
//! another `TEE_GetPropertyAs*`, the object would come back with its own
//! `TEE_GetPropertyAsU32` and the link fails on the duplicate: loud, not silent.

use core::ffi::{c_char, c_ulong, CStr};
use optee_utee_sys::{
    TEE_PropSetHandle, TEE_Result, TEE_ERROR_BAD_FORMAT, TEE_ERROR_BAD_PARAMETERS, TEE_SUCCESS,
};

// `enum user_ta_prop_type` (OP-TEE's user_ta_header.h): the type the core reports with a value.
pub const U32: u32 = 1;
pub const UUID: u32 = 2;
pub const IDENTITY: u32 = 3;
pub const STRING: u32 = 4;

/// The value of property `name` of `set` (a `TEE_PROPSET_*` pseudo handle), written into
/// `buf` as the core holds it, if it has type `kind` and fits: the system calls libutee makes
/// for these sets (`name_to_index`, then `get_property`). A value of another type is
/// `TEE_ERROR_BAD_FORMAT` (libutee's `TEE_GetPropertyAsString` would have converted it to
/// text; the TA asks for each property in its own type). Properties of the TA's own header
/// (`TEE_PROPSET_CURRENT_TA`'s `gpd.ta.*`, which libutee answers from the TA's `ta_props`
/// without the core) are not found here: nothing in the TA asks for them. Errors are the
/// core's codes, returned, never a panic.
pub fn get<'a>(
    set: TEE_PropSetHandle,
    name: &CStr,
    kind: u32,
    buf: &'a mut [u8],
) -> Result<&'a mut [u8], TEE_Result> {
    // The pseudo handle is a number the core recognises, passed as libutee passes it.
    let set = set.addr() as c_ulong;
    let name = name.to_bytes_with_nul();
    let name_len = c_ulong::try_from(name.len()).map_err(|_| TEE_ERROR_BAD_PARAMETERS)?;
    let mut index = 0u32;
    // SAFETY: `name` is valid for `name_len` bytes, its NUL included (the core copies that
    // many bytes and terminates them itself); `index` is a valid, writable `u32`. The core
    // keeps no pointer after the call.
    let res = unsafe {
        optee_utee_sys::_utee_get_property_name_to_index(
            set,
            name.as_ptr().cast(),
            name_len,
            &mut index,
        )
    };
    if res != TEE_SUCCESS {
        return Err(res);
    }
    let mut len = u32::try_from(buf.len()).map_err(|_| TEE_ERROR_BAD_PARAMETERS)?;
    let mut found = u32::MAX;
    // SAFETY: `buf` is writable for `len` bytes, the bound the core checks before writing
    // there (it answers TEE_ERROR_SHORT_BUFFER otherwise); `len` and `found` are valid,
    // writable `u32`s; no name is asked for (null pointers, as libutee passes them). Nothing
    // is kept after the call.
    let res = unsafe {
        optee_utee_sys::_utee_get_property(
            set,
            c_ulong::from(index),
            core::ptr::null_mut(),
            core::ptr::null_mut(),
            buf.as_mut_ptr().cast(),
            &mut len,
            &mut found,
        )
    };
    if res != TEE_SUCCESS {
        return Err(res);
    }
    if found != kind {
        return Err(TEE_ERROR_BAD_FORMAT);
    }
    let len = usize::try_from(len).map_err(|_| TEE_ERROR_BAD_FORMAT)?;
    buf.get_mut(..len).ok_or(TEE_ERROR_BAD_FORMAT)
}

/// A `u32` property (four bytes in the core's byte order).
pub fn u32_of(set: TEE_PropSetHandle, name: &CStr) -> Result<u32, TEE_Result> {
    let mut buf = [0u8; 4];
    let value = get(set, name, U32, &mut buf)?;
    let value = <[u8; 4]>::try_from(&*value).map_err(|_| TEE_ERROR_BAD_FORMAT)?;
    Ok(u32::from_ne_bytes(value))
}

/// libutee's `TEE_GetPropertyAsU32` (GP TEE Internal Core API), on [`u32_of`]: its only
/// caller in the TA is libutee's instance set-up (see the module's comment). Differences from
/// libutee's, none of which that caller sees: an error is returned, never a TA panic, and the
/// TA header's own `gpd.ta.*` properties are not answered (see [`get`]).
///
/// # Safety
///
/// As the GP API requires of its caller: `name` is null or a NUL-terminated string, and
/// `value` is null or valid for writing a `u32`; neither is kept.
// SAFETY: exported under the C name libutee's entry calls, with its signature
// (`TEE_Result TEE_GetPropertyAsU32(TEE_PropSetHandle, const char *, uint32_t *)`); it reads
// `name` and writes `value` only as the contract above allows, and nothing else. The only
// definition in the TA image (see the module's comment for what happens otherwise).
#[allow(non_snake_case)]
#[unsafe(no_mangle)]
pub unsafe extern "C" fn TEE_GetPropertyAsU32(
    set: TEE_PropSetHandle,
    name: *const c_char,
    value: *mut u32,
) -> TEE_Result {
    if name.is_null() || value.is_null() {
        return TEE_ERROR_BAD_PARAMETERS;
    }
    // SAFETY: `name` is not null, and a NUL-terminated string by the caller's contract; it is
    // only read, within this call.
    let name = unsafe { CStr::from_ptr(name) };
    match u32_of(set, name) {
        Ok(v) => {
            // SAFETY: `value` is not null, and valid for writing a `u32` by the caller's
            // contract.
            unsafe { value.write(v) };
            TEE_SUCCESS
        }
        Err(code) => code,
    }
}
