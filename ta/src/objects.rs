//! TA-private persistent objects through OP-TEE's storage system calls, as libutee's GP
//! object functions make them, without their panic.
//!
//! `TEE_OpenPersistentObject`, `TEE_WriteObjectData` and the rest panic the TA on any result
//! outside the short list GP allows each of them. Behind REE-FS secure storage every one of
//! these calls is answered by tee-supplicant in the normal world, which can fail it with any
//! result (`optee_install` boot 4 makes OP-TEE's files immutable mid-install: libutee
//! panicked the TA in `TEE_WriteObjectData`). Here every result comes back to the caller, so
//! the service refuses with a typed storage error and its commit rules decide what stands.

use optee_utee::raw::{
    _utee_cryp_obj_close, _utee_cryp_obj_get_info, _utee_storage_alloc_enum,
    _utee_storage_free_enum, _utee_storage_obj_create, _utee_storage_obj_del,
    _utee_storage_obj_open, _utee_storage_obj_read, _utee_storage_obj_seek,
    _utee_storage_obj_trunc, _utee_storage_obj_write, _utee_storage_start_enum, utee_object_info,
    TEE_DATA_FLAG_ACCESS_READ, TEE_DATA_FLAG_ACCESS_WRITE, TEE_DATA_FLAG_ACCESS_WRITE_META,
    TEE_DATA_FLAG_OVERWRITE, TEE_DATA_SEEK_END, TEE_DATA_SEEK_SET, TEE_STORAGE_PRIVATE,
    TEE_SUCCESS,
};

/// A system call's result other than success.
pub type Code = u32;

/// Read, write and metadata access (rename, delete): every handle the backend keeps.
const ACCESS: u32 =
    TEE_DATA_FLAG_ACCESS_READ | TEE_DATA_FLAG_ACCESS_WRITE | TEE_DATA_FLAG_ACCESS_WRITE_META;

/// `struct utee_object_info` (OP-TEE's `lib/libutee/include/utee_types.h`: seven `uint32_t`)
/// with readable fields; the binding's own keeps them private.
#[repr(C)]
#[derive(Default)]
struct ObjectInfo {
    obj_type: u32,
    obj_size: u32,
    max_obj_size: u32,
    obj_usage: u32,
    data_size: u32,
    data_pos: u32,
    handle_flags: u32,
}

fn checked(res: u32) -> Result<(), Code> {
    match res {
        TEE_SUCCESS => Ok(()),
        e => Err(e),
    }
}

/// An open handle on a TA-private persistent object; closed when dropped.
pub struct Object {
    id: u32,
}

impl Object {
    /// Opens `name` for reading and writing.
    pub fn open(name: &[u8]) -> Result<Object, Code> {
        let mut id = 0u32;
        // SAFETY: `name` is valid for `name.len()` bytes for the call and `id` is a valid
        // place for the handle the call writes; neither is kept after it returns.
        checked(unsafe {
            _utee_storage_obj_open(
                TEE_STORAGE_PRIVATE.into(),
                name.as_ptr().cast(),
                name.len(),
                ACCESS.into(),
                &mut id,
            )
        })?;
        Ok(Object { id })
    }

    /// Creates `name` holding `data`, replacing an existing object atomically when
    /// `overwrite` (GP: readers see the old object or the new one).
    pub fn create(name: &[u8], data: &[u8], overwrite: bool) -> Result<Object, Code> {
        let flags = match overwrite {
            true => ACCESS | TEE_DATA_FLAG_OVERWRITE,
            false => ACCESS,
        };
        let mut id = 0u32;
        // SAFETY: `name` and `data` are valid for their lengths for the call, no attribute
        // object is given (0, as TEE_HANDLE_NULL), and `id` is a valid place for the handle;
        // nothing is kept after the call returns.
        checked(unsafe {
            _utee_storage_obj_create(
                TEE_STORAGE_PRIVATE.into(),
                name.as_ptr().cast(),
                name.len(),
                flags.into(),
                0,
                data.as_ptr().cast(),
                data.len(),
                &mut id,
            )
        })?;
        Ok(Object { id })
    }

    /// The object's data length.
    pub fn data_len(&self) -> Result<u64, Code> {
        let mut info = ObjectInfo::default();
        // SAFETY: `info` has the layout of `struct utee_object_info`, which the call fills
        // and does not keep; `self.id` is an open handle.
        checked(unsafe {
            _utee_cryp_obj_get_info(
                self.id.into(),
                (&mut info as *mut ObjectInfo).cast::<utee_object_info>(),
            )
        })?;
        Ok(info.data_size.into())
    }

    /// Moves the data position to `offset` from the start.
    pub fn seek_to(&mut self, offset: i32) -> Result<(), Code> {
        // SAFETY: plain values on an open handle.
        checked(unsafe { _utee_storage_obj_seek(self.id.into(), offset, TEE_DATA_SEEK_SET.into()) })
    }

    /// Moves the data position to the end of the data.
    pub fn seek_to_end(&mut self) -> Result<(), Code> {
        // SAFETY: plain values on an open handle.
        checked(unsafe { _utee_storage_obj_seek(self.id.into(), 0, TEE_DATA_SEEK_END.into()) })
    }

    /// Reads from the data position into `buf`; the number of bytes read (fewer at the end).
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Code> {
        let mut count = 0u64;
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes and `count` for the count,
        // both borrowed exclusively for the call and not kept after it.
        checked(unsafe {
            _utee_storage_obj_read(
                self.id.into(),
                buf.as_mut_ptr().cast(),
                buf.len(),
                &mut count,
            )
        })?;
        usize::try_from(count)
            .ok()
            .filter(|n| *n <= buf.len())
            .ok_or(optee_utee::raw::TEE_ERROR_BAD_STATE)
    }

    /// Writes `data` at the data position.
    pub fn write(&mut self, data: &[u8]) -> Result<(), Code> {
        // SAFETY: `data` is valid for `data.len()` bytes for the call and not kept after it.
        checked(unsafe {
            _utee_storage_obj_write(self.id.into(), data.as_ptr().cast(), data.len())
        })
    }

    /// Cuts (or extends with zeros) the data to `len` bytes.
    pub fn truncate(&mut self, len: usize) -> Result<(), Code> {
        // SAFETY: plain values on an open handle.
        checked(unsafe { _utee_storage_obj_trunc(self.id.into(), len) })
    }

    /// Deletes the object and closes its handle.
    pub fn delete(self) -> Result<(), Code> {
        let id = self.id;
        // The system call closes the handle whatever its result (OP-TEE's
        // `syscall_storage_obj_del`, reached with write-meta access): not closed again.
        core::mem::forget(self);
        // SAFETY: `id` is an open handle with write-meta access, owned here and not used again.
        checked(unsafe { _utee_storage_obj_del(id.into()) })
    }
}

impl Drop for Object {
    fn drop(&mut self) {
        // SAFETY: `self.id` is an open handle this value owns; it is not used again. A
        // failure to close leaves nothing the TA can do (libutee panics there).
        let res = unsafe { _utee_cryp_obj_close(self.id.into()) };
        if res != TEE_SUCCESS {
            crate::log::code("[suit-ta] storage handle close failed", res);
        }
    }
}

/// Starts an enumeration of this TA's objects and keeps it for the rest of the instance
/// (OP-TEE frees it with the instance): it holds OP-TEE's REE-FS directory open.
pub fn hold_enumeration() -> Result<(), Code> {
    let mut e = 0u32;
    // SAFETY: `e` is a valid place for the enumerator handle the call writes.
    checked(unsafe { _utee_storage_alloc_enum(&mut e) })?;
    // SAFETY: `e` is the enumerator just allocated.
    let started =
        checked(unsafe { _utee_storage_start_enum(e.into(), TEE_STORAGE_PRIVATE.into()) });
    if started.is_err() {
        // SAFETY: `e` is the enumerator allocated above, not used again.
        let _ = unsafe { _utee_storage_free_enum(e.into()) };
    }
    started
}
