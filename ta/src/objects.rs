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
    TEE_DATA_FLAG_OVERWRITE, TEE_DATA_SEEK_END, TEE_DATA_SEEK_SET, TEE_ERROR_BAD_STATE,
    TEE_ERROR_CORRUPT_OBJECT, TEE_STORAGE_PRIVATE, TEE_SUCCESS,
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
const _: () = assert!(
    core::mem::size_of::<ObjectInfo>() == 28
        && core::mem::size_of::<ObjectInfo>() == core::mem::size_of::<utee_object_info>()
        && core::mem::align_of::<ObjectInfo>() == core::mem::align_of::<utee_object_info>()
);

fn checked(res: u32) -> Result<(), Code> {
    match res {
        TEE_SUCCESS => Ok(()),
        e => Err(e),
    }
}

/// A handle on a TA-private persistent object, closed when dropped unless OP-TEE closed it.
pub struct Object {
    /// `None` once OP-TEE closed the handle itself ([`Object::settle`]): from then on no
    /// system call is made with it, so none can reach another object that OP-TEE gave the
    /// freed id.
    id: Option<u32>,
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
        Ok(Object { id: Some(id) })
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
        Ok(Object { id: Some(id) })
    }

    /// The open handle; `TEE_ERROR_BAD_STATE` once OP-TEE closed it.
    fn id(&self) -> Result<u32, Code> {
        self.id.ok_or(TEE_ERROR_BAD_STATE)
    }

    /// The result of a read, write or truncation. One that finds the object corrupt (a data
    /// block failing its check: the REE changed the file) makes OP-TEE delete the object
    /// and, unless the TA header sets `TA_FLAG_DONT_CLOSE_HANDLE_ON_CORRUPT_OBJECT`, close
    /// the handle too (`remove_corrupt_obj`, OP-TEE 4.10): it is then no longer this value's
    /// to use or close. The flag is not set (ta/build.rs says why).
    fn settle(&mut self, res: u32) -> Result<(), Code> {
        if res == TEE_ERROR_CORRUPT_OBJECT && !crate::ta_header::KEEPS_HANDLE_ON_CORRUPT_OBJECT {
            self.id = None;
        }
        checked(res)
    }

    /// The object's data length.
    pub fn data_len(&self) -> Result<u64, Code> {
        Ok(info(self.id()?)?.data_size.into())
    }

    /// Moves the data position to `offset` from the start.
    pub fn seek_to(&mut self, offset: i32) -> Result<(), Code> {
        let id = self.id()?;
        // SAFETY: plain values on an open handle.
        checked(unsafe { _utee_storage_obj_seek(id.into(), offset, TEE_DATA_SEEK_SET.into()) })
    }

    /// Moves the data position to the end of the data.
    pub fn seek_to_end(&mut self) -> Result<(), Code> {
        let id = self.id()?;
        // SAFETY: plain values on an open handle.
        checked(unsafe { _utee_storage_obj_seek(id.into(), 0, TEE_DATA_SEEK_END.into()) })
    }

    /// Reads from the data position into `buf`; the number of bytes read (fewer at the end).
    pub fn read(&mut self, buf: &mut [u8]) -> Result<usize, Code> {
        let id = self.id()?;
        let mut count = 0u64;
        // SAFETY: `buf` is valid for writes of `buf.len()` bytes and `count` for the count,
        // both borrowed exclusively for the call and not kept after it; `id` is open.
        let res = unsafe {
            _utee_storage_obj_read(id.into(), buf.as_mut_ptr().cast(), buf.len(), &mut count)
        };
        self.settle(res)?;
        usize::try_from(count)
            .ok()
            .filter(|n| *n <= buf.len())
            .ok_or(TEE_ERROR_BAD_STATE)
    }

    /// Writes `data` at the data position.
    pub fn write(&mut self, data: &[u8]) -> Result<(), Code> {
        let id = self.id()?;
        // SAFETY: `data` is valid for `data.len()` bytes for the call and not kept after it;
        // `id` is open.
        let res = unsafe { _utee_storage_obj_write(id.into(), data.as_ptr().cast(), data.len()) };
        self.settle(res)
    }

    /// Cuts (or extends with zeros) the data to `len` bytes.
    pub fn truncate(&mut self, len: usize) -> Result<(), Code> {
        let id = self.id()?;
        // SAFETY: plain values on an open handle.
        let res = unsafe { _utee_storage_obj_trunc(id.into(), len) };
        self.settle(res)
    }

    /// Deletes the object and closes its handle.
    pub fn delete(mut self) -> Result<(), Code> {
        // Taken: whatever happens below, dropping `self` closes nothing.
        let id = self.id.take().ok_or(TEE_ERROR_BAD_STATE)?;
        // SAFETY: `id` is an open handle with write-meta access, owned here.
        let res = unsafe { _utee_storage_obj_del(id.into()) };
        // OP-TEE closes the handle once it gets to removing the object, whether that works
        // or not (`syscall_storage_obj_del`), but returns before then on some failures (with
        // CFG_NXP_SE05X, a failed `crypto_storage_obj_del`): a handle it still knows (its
        // info answers) is open, and closed here. The id cannot meanwhile name another
        // object: this single-threaded TA makes no other system call in between.
        if res != TEE_SUCCESS && info(id).is_ok() {
            close(id);
        }
        checked(res)
    }
}

/// The object information of handle `id`; an error for an id that names no handle of this
/// TA OP-TEE has open.
fn info(id: u32) -> Result<ObjectInfo, Code> {
    let mut info = ObjectInfo::default();
    // SAFETY: `info` has the layout of `struct utee_object_info` (checked above), which the
    // call fills and does not keep; a handle OP-TEE does not know is refused, not used.
    checked(unsafe {
        _utee_cryp_obj_get_info(
            id.into(),
            (&mut info as *mut ObjectInfo).cast::<utee_object_info>(),
        )
    })?;
    Ok(info)
}

/// Closes the open handle `id`. A failure leaves nothing the TA can do (libutee panics
/// there) but means its bookkeeping of handles is wrong: logged.
fn close(id: u32) {
    // SAFETY: a plain value; the caller owns the handle and does not use it again.
    let res = unsafe { _utee_cryp_obj_close(id.into()) };
    if res != TEE_SUCCESS {
        crate::log::code("[suit-ta] storage handle close failed", res);
    }
}

impl Drop for Object {
    fn drop(&mut self) {
        // `None`: OP-TEE closed it (`settle`) or `delete` took it.
        if let Some(id) = self.id {
            close(id);
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
