//! The GP TEE Internal API side of the service: properties, the TEE RNG and persistent
//! objects in TA-private secure storage (OP-TEE encrypts and integrity-protects them with a
//! key derived from the hardware unique key and this TA's UUID).

use alloc::string::{String, ToString};
use alloc::vec::Vec;
use core::cell::{Cell, RefCell};
use core::sync::atomic::{AtomicBool, Ordering};
use optee_utee::raw::{
    TEE_ERROR_CORRUPT_OBJECT, TEE_ERROR_CORRUPT_OBJECT_2, TEE_ERROR_ITEM_NOT_FOUND,
    TEE_ERROR_OUT_OF_MEMORY, TEE_ERROR_OVERFLOW, TEE_ERROR_STORAGE_NO_SPACE,
};
use optee_utee::{ParamIndex, TaSessionBuilder, TeeParams, Uuid};
use suit_common::protocol::{ByteBuf, PlatformInfo, PropertyText};
use suit_common::service::install::handle_to_close;
use suit_common::service::keys::Rng;
use suit_common::service::segments::Segmented;
use suit_common::service::store::{check_name, tee_result, zeroed, SecureStore, StoreError};
use suit_common::service::{Backend, Client, TaStore};
use zeroize::Zeroizing;

use crate::objects::Object;
use crate::property;

/// The GP backend: secure storage as segmented objects ([`Segmented`]) over [`GpObjects`].
pub struct Optee {
    objects: Segmented<GpObjects>,
    client: Client,
    /// Milliseconds spent in secure-storage calls and in OP-TEE's TA-store install since the
    /// last [`Optee::take_stats`] (`TEE_GetSystemTime`, for benchmarks).
    storage_ms: Cell<u64>,
    ta_store_ms: Cell<u64>,
}

/// Longest GP persistent object (see [`suit_common::service::segments`]): with
/// [`suit_common::service::install::MAX_OPEN_INSTALL_HANDLES`] of them open, at most 2 MiB of
/// payload has its hash tree in core memory.
pub const SEGMENT_LEN: u64 = 512 * 1024;
// The install creates each payload object with up to this many bytes in one `put`, which
// `Segmented` refuses at a segment's length or beyond.
const _: () = assert!((suit_common::service::install::MAX_CREATE_WITH_DATA as u64) < SEGMENT_LEN);

/// GP persistent objects in TA-private storage. Keeps the most recently used objects open
/// (see [`GpObjects::keep`]): the engine streams payloads through storage in chunks,
/// alternating between a source and a staging object, reopening an REE-FS object costs a
/// walk of OP-TEE's hash tree and several supplicant round trips each time, and a record
/// rewritten over an open handle is written in place (see `put`).
pub struct GpObjects {
    /// Least recently used first. At most one handle per name (GP refuses a second
    /// conflicting open of the same object).
    open: RefCell<Vec<Cached>>,
    stats: Cell<StoreStats>,
}

impl StoreStats {
    /// `prefix opens=.. creates=.. ...`, the line `qemu/bench.sh` reads.
    pub fn line(&self, prefix: &str) -> String {
        crate::log::counters(
            prefix,
            &[
                ("opens", self.opens.into()),
                ("creates", self.creates.into()),
                ("writes", self.writes.into()),
                ("bytes_written", self.bytes_written),
                ("reads", self.reads.into()),
                ("bytes_read", self.bytes_read),
                ("deletes", self.deletes.into()),
                ("storage_ms", self.storage_ms),
                ("ta_store_ms", self.ta_store_ms),
            ],
        )
    }
}

/// A [`Cached::position`] that matches no offset.
const UNKNOWN_POSITION: u64 = u64::MAX;

struct Cached {
    name: String,
    object: Object,
    /// Current data position, to skip redundant seeks.
    position: u64,
}

/// Secure-storage operations since the last [`Optee::take_stats`]: what the REE's
/// tee-supplicant sees anyway (counts and sizes, no content), for benchmarks.
#[derive(Clone, Copy, Default)]
pub struct StoreStats {
    pub opens: u32,
    pub creates: u32,
    pub writes: u32,
    pub bytes_written: u64,
    pub reads: u32,
    pub bytes_read: u64,
    pub deletes: u32,
    pub storage_ms: u64,
    pub ta_store_ms: u64,
}

/// Runs `f`, adding its wall time in milliseconds to `total`. Counted per call rather than
/// per GP function, so a segmented object's several GP calls count once.
fn timed<T>(total: &Cell<u64>, f: impl FnOnce() -> T) -> T {
    let mut start = optee_utee::Time::new();
    start.system_time();
    let result = f();
    let mut end = optee_utee::Time::new();
    end.system_time();
    let ms = |t: &optee_utee::Time| u64::from(t.seconds) * 1000 + u64::from(t.millis);
    total.set(total.get() + ms(&end).saturating_sub(ms(&start)));
    result
}

/// A GP `TEE_UUID` as OP-TEE's property system call writes it (native-endian `timeLow`,
/// `timeMid`, `timeHiAndVersion`, then `clockSeqAndNode`), in RFC 4122 byte order
/// (big-endian fields), as the service names TAs.
fn uuid_bytes(raw: &[u8; 16]) -> [u8; 16] {
    let mut out = *raw;
    if cfg!(target_endian = "little") {
        for field in [0..4, 4..6, 6..8] {
            if let Some(f) = out.get_mut(field) {
                f.reverse();
            }
        }
    }
    out
}

/// A `u32` property of the TEE implementation.
fn tee_u32(name: &core::ffi::CStr) -> Option<u32> {
    property::u32_of(optee_utee_sys::TEE_PROPSET_TEE_IMPLEMENTATION, name).ok()
}

/// A storage system call's result as the store's error: whatever the REE answered OP-TEE's
/// REE-FS requests with arrives here (`crate::objects`), never as a panic.
fn store_error(code: u32) -> StoreError {
    StoreError::from_tee_result(code)
}
// The values `from_tee_result` knows are this binding's.
const _: () = assert!(
    tee_result::OUT_OF_MEMORY == TEE_ERROR_OUT_OF_MEMORY
        && tee_result::STORAGE_NO_SPACE == TEE_ERROR_STORAGE_NO_SPACE
        && tee_result::CORRUPT_OBJECT == TEE_ERROR_CORRUPT_OBJECT
        && tee_result::CORRUPT_OBJECT_2 == TEE_ERROR_CORRUPT_OBJECT_2
);

fn data_len(o: &Object) -> Result<u64, StoreError> {
    o.data_len().map_err(store_error)
}

/// The `secstor_ta_mgmt` pseudo-TA: installs bootstrap TA images into OP-TEE's
/// secure-storage TA store after checking their signature and version.
/// 6e256cba-fc4d-4941-ad09-2ca1860342dd, as fields: no UUID string parser in the TA.
fn secstor_ta_mgmt_uuid() -> Uuid {
    Uuid::new_raw(
        0x6e25_6cba,
        0xfc4d,
        0x4941,
        [0xad, 0x09, 0x2c, 0xa1, 0x86, 0x03, 0x42, 0xdd],
    )
}

/// OP-TEE's attestation PTA (`PTA_ATTESTATION_UUID`, CFG_ATTESTATION_PTA). Only probed, to
/// report whether hardware-rooted attestation of the device keys would be available.
/// 39800861-182a-4720-9b67-2bcd622bc0b5, as fields (see [`secstor_ta_mgmt_uuid`]).
fn attestation_pta_uuid() -> Uuid {
    Uuid::new_raw(
        0x3980_0861,
        0x182a,
        0x4720,
        [0x9b, 0x67, 0x2b, 0xcd, 0x62, 0x2b, 0xc0, 0xb5],
    )
}

/// `gpd.tee.trustedos.implementation.version` as the TEE wrote it (up to its NUL): the agent
/// shows it, so the TA neither checks nor converts its UTF-8.
fn os_version() -> Option<PropertyText> {
    let mut buf = [0u8; 256];
    let value = property::get(
        optee_utee_sys::TEE_PROPSET_TEE_IMPLEMENTATION,
        c"gpd.tee.trustedos.implementation.version",
        property::STRING,
        &mut buf,
    )
    .ok()?;
    let text = value.split(|b| *b == 0).next()?;
    Some(PropertyText(ByteBuf::from(text.to_vec())))
}

/// `gpd.tee.deviceID`, a `TEE_UUID`.
fn device_id() -> Option<[u8; 16]> {
    let mut buf = [0u8; 16];
    let value = property::get(
        optee_utee_sys::TEE_PROPSET_TEE_IMPLEMENTATION,
        c"gpd.tee.deviceID",
        property::UUID,
        &mut buf,
    )
    .ok()?;
    <[u8; 16]>::try_from(&*value).ok()
}

/// Whether the attestation PTA answers a session request.
fn attestation_pta_present() -> bool {
    TaSessionBuilder::new(attestation_pta_uuid())
        .build()
        .is_ok()
}
const SECSTOR_TA_MGMT_BOOTSTRAP: u32 = 0;

/// Whether this instance holds OP-TEE's REE-FS object directory open ([`hold_directory`]).
static DIRECTORY_HELD: AtomicBool = AtomicBool::new(false);

/// Keeps OP-TEE's REE-FS object directory (`dirf.db`) open for the rest of this instance,
/// which lives from session to session (`TA_FLAG_INSTANCE_KEEP_ALIVE`). OP-TEE closes the
/// directory whenever no open object or enumeration of any TA holds it, and opening it reads
/// every entry (one per object of every TA, each a supplicant round trip), so otherwise each
/// session's first storage operation pays for the whole directory. A started enumeration of
/// this TA's objects holds it; its enumerator is never freed (OP-TEE frees it with the
/// instance), and nothing is read from it. Best effort: before this TA has stored anything
/// the enumeration does not start, and the next session tries again. A failed look-up still
/// closes the directory (OP-TEE forces that); the next operation reopens it.
pub fn hold_directory() {
    if DIRECTORY_HELD.load(Ordering::Relaxed) {
        return;
    }
    if crate::objects::hold_enumeration().is_ok() {
        DIRECTORY_HELD.store(true, Ordering::Relaxed);
    }
}

impl Optee {
    /// A backend for a session opened by `client` (from `gpd.client.identity`).
    pub fn new(client: Client) -> Self {
        Optee {
            objects: Segmented::new(
                GpObjects {
                    open: RefCell::new(Vec::new()),
                    stats: Cell::new(StoreStats::default()),
                },
                SEGMENT_LEN,
            ),
            client,
            storage_ms: Cell::new(0),
            ta_store_ms: Cell::new(0),
        }
    }

    /// The counts since the last call, and starts counting again.
    pub fn take_stats(&self) -> StoreStats {
        StoreStats {
            storage_ms: self.storage_ms.take(),
            ta_store_ms: self.ta_store_ms.take(),
            ..self.objects.inner().stats.take()
        }
    }

    /// The counts so far.
    pub fn stats(&self) -> StoreStats {
        StoreStats {
            storage_ms: self.storage_ms.get(),
            ta_store_ms: self.ta_store_ms.get(),
            ..self.objects.inner().stats.get()
        }
    }
}

impl GpObjects {
    fn count(&self, f: impl FnOnce(&mut StoreStats)) {
        let mut s = self.stats.get();
        f(&mut s);
        self.stats.set(s);
    }
}

impl Optee {
    /// Reads the session's client identity. Only `TEE_LOGIN_TRUSTED_APP` carries a UUID the
    /// TEE vouches for; every other login is the normal world.
    pub fn session_client() -> Client {
        // `TEE_Identity`: the login (native-endian `u32`), then the client's `TEE_UUID`.
        let mut buf = [0u8; 20];
        let identity = property::get(
            optee_utee_sys::TEE_PROPSET_CURRENT_CLIENT,
            c"gpd.client.identity",
            property::IDENTITY,
            &mut buf,
        );
        let Some((login, uuid)) = identity.ok().and_then(|id| id.split_first_chunk::<4>()) else {
            return Client::Ree;
        };
        match <&[u8; 16]>::try_from(uuid) {
            Ok(uuid) if u32::from_ne_bytes(*login) == optee_utee_sys::TEE_LOGIN_TRUSTED_APP => {
                Client::TrustedApp(uuid_bytes(uuid))
            }
            _ => Client::Ree,
        }
    }
}

impl GpObjects {
    /// Runs `f` on the open object `name` (opening it, or creating it empty when `create`),
    /// or returns `None` if it does not exist.
    fn with_object<T>(
        &self,
        name: &str,
        create: bool,
        f: impl FnOnce(&mut Object, &mut u64) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        check_name(name)?;
        let mut open = self.open.borrow_mut();
        let cached = match open.iter().position(|c| c.name == name) {
            Some(i) => open.remove(i),
            None => {
                self.count(|s| s.opens += 1);
                let object = match Object::open(name.as_bytes()) {
                    Ok(o) => o,
                    Err(TEE_ERROR_ITEM_NOT_FOUND) if create => {
                        self.count(|s| s.creates += 1);
                        Object::create(name.as_bytes(), &[], false).map_err(store_error)?
                    }
                    Err(TEE_ERROR_ITEM_NOT_FOUND) => return Ok(None),
                    Err(e) => return Err(store_error(e)),
                };
                Cached {
                    name: name.to_string(),
                    object,
                    position: 0,
                }
            }
        };
        let mut cached = cached;
        let result = f(&mut cached.object, &mut cached.position);
        // An error drops (closes) the handle: do not keep one in an unknown state.
        if result.is_ok() {
            Self::keep(&mut open, cached);
        }
        result.map(Some)
    }

    /// Puts `cached` last (most recently used), closing first the handle the service's
    /// policy picks ([`handle_to_close`]).
    fn keep(open: &mut Vec<Cached>, cached: Cached) {
        let close = handle_to_close(open.iter().map(|c| c.name.as_str()), &cached.name);
        if let Some(i) = close.filter(|&i| i < open.len()) {
            open.remove(i);
        }
        open.push(cached);
    }

    fn forget(&self, name: &str) -> Option<Object> {
        let mut open = self.open.borrow_mut();
        let i = open.iter().position(|c| c.name == name)?;
        Some(open.remove(i).object)
    }
}

impl SecureStore for Optee {
    fn get(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        timed(&self.storage_ms, || self.objects.get(name))
    }

    fn put(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        timed(&self.storage_ms, || self.objects.put(name, data))
    }

    fn put_record(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        timed(&self.storage_ms, || self.objects.put_record(name, data))
    }

    fn create(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        timed(&self.storage_ms, || self.objects.create(name, data))
    }

    fn remove(&mut self, name: &str) -> Result<(), StoreError> {
        timed(&self.storage_ms, || self.objects.remove(name))
    }

    fn empty(&mut self, name: &str, len: Option<u64>) -> Result<(), StoreError> {
        timed(&self.storage_ms, || self.objects.empty(name, len))
    }

    fn append(&mut self, name: &str, data: &[u8]) -> Result<u64, StoreError> {
        timed(&self.storage_ms, || self.objects.append(name, data))
    }

    fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StoreError> {
        timed(&self.storage_ms, || self.objects.read_at(name, offset, buf))
    }

    fn len(&self, name: &str) -> Result<Option<u64>, StoreError> {
        timed(&self.storage_ms, || self.objects.len(name))
    }
}

/// One GP persistent object per name (no segments: [`Optee`] adds them).
impl SecureStore for GpObjects {
    fn get(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        self.with_object(name, false, |o, pos| {
            let len = usize::try_from(data_len(o)?).map_err(|_| StoreError::Corrupt)?;
            let mut buf = zeroed(len)?;
            o.seek_to(0).map_err(store_error)?;
            let n = o.read(&mut buf).map_err(store_error)?;
            *pos = n as u64;
            if n != len {
                return Err(StoreError::Corrupt);
            }
            Ok(buf)
        })
    }

    /// In place when the object is open and `data` covers all of its content: one
    /// `TEE_WriteObjectData` at offset 0 (or, for no data, one `TEE_TruncateObjectData`),
    /// which OP-TEE commits atomically like a create (REE FS: one hash-tree and `dirf.db`
    /// commit per call; RPMB FS writes in place only where that is atomic), at about half
    /// the cost: no new directory entry, no second file. Shorter data takes the create, as a
    /// write and a truncation would be two steps.
    fn put(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        check_name(name)?;
        if let Some(mut object) = self.forget(name) {
            // Unknown length: the create below, as for shorter data.
            let covered =
                data_len(&object).is_ok_and(|len| data.is_empty() || len <= data.len() as u64);
            if covered {
                let written = if data.is_empty() {
                    object.truncate(0)
                } else {
                    object.seek_to(0).and_then(|()| object.write(data))
                };
                // An error closes the handle; the object is as before or as after.
                written.map_err(store_error)?;
                self.count(|s| {
                    s.writes += 1;
                    s.bytes_written += data.len() as u64;
                });
                // A truncation leaves the data position where it was.
                let position = match data.len() {
                    0 => UNKNOWN_POSITION,
                    n => n as u64,
                };
                Self::keep(
                    &mut self.open.borrow_mut(),
                    Cached {
                        name: name.to_string(),
                        object,
                        position,
                    },
                );
                return Ok(());
            }
        }
        // OVERWRITE: GP guarantees readers see either the old object or the new one.
        let object = Object::create(name.as_bytes(), data, true).map_err(store_error)?;
        self.count(|s| {
            s.creates += 1;
            s.writes += 1;
            s.bytes_written += data.len() as u64;
        });
        Self::keep(
            &mut self.open.borrow_mut(),
            Cached {
                name: name.to_string(),
                object,
                // Not known: a created object's data position is not the end of its
                // initial data, so the next read or append seeks.
                position: UNKNOWN_POSITION,
            },
        );
        Ok(())
    }

    fn remove(&mut self, name: &str) -> Result<(), StoreError> {
        check_name(name)?;
        let object = match self.forget(name) {
            Some(o) => o,
            None => {
                self.count(|s| s.opens += 1);
                match Object::open(name.as_bytes()) {
                    Ok(o) => o,
                    Err(TEE_ERROR_ITEM_NOT_FOUND) => return Ok(()),
                    Err(e) => return Err(store_error(e)),
                }
            }
        };
        self.count(|s| s.deletes += 1);
        object.delete().map_err(store_error)
    }

    fn append(&mut self, name: &str, data: &[u8]) -> Result<u64, StoreError> {
        self.with_object(name, true, |o, pos| {
            let len = data_len(o)?;
            if *pos != len {
                o.seek_to_end().map_err(store_error)?;
            }
            o.write(data).map_err(store_error)?;
            self.count(|s| {
                s.writes += 1;
                s.bytes_written += data.len() as u64;
            });
            *pos = len + data.len() as u64;
            Ok(*pos)
        })?
        .ok_or(StoreError::Io(TEE_ERROR_ITEM_NOT_FOUND))
    }

    fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StoreError> {
        self.with_object(name, false, |o, pos| {
            if *pos != offset {
                // Past what the seek call takes (unreachable: no object here nears 2 GiB):
                // GP's result for a data position out of range.
                let to = i32::try_from(offset).map_err(|_| StoreError::Io(TEE_ERROR_OVERFLOW))?;
                o.seek_to(to).map_err(store_error)?;
            }
            let n = o.read(buf).map_err(store_error)?;
            self.count(|s| {
                s.reads += 1;
                s.bytes_read += n as u64;
            });
            *pos = offset + n as u64;
            Ok(n)
        })?
        .ok_or(StoreError::Io(TEE_ERROR_ITEM_NOT_FOUND))
    }

    fn len(&self, name: &str) -> Result<Option<u64>, StoreError> {
        self.with_object(name, false, |o, _| data_len(o))
    }
}

impl Rng for Optee {
    fn fill(&mut self, out: &mut [u8]) {
        crate::random::fill(out);
    }
}

/// Hands a signed TA image to OP-TEE's TA store (the `secstor_ta_mgmt` PTA).
fn bootstrap_ta(image: &[u8]) -> Result<(), u32> {
    let mut session = TaSessionBuilder::new(secstor_ta_mgmt_uuid())
        .build()
        .map_err(|e| e.raw_code())?;
    let mut params = TeeParams::new().with_memref_in(ParamIndex::Arg0, image);
    session
        .invoke_command(SECSTOR_TA_MGMT_BOOTSTRAP, &mut params)
        .map_err(|e| e.raw_code())
}

impl TaStore for Optee {
    fn install_ta(&mut self, image: &[u8]) -> Result<(), u32> {
        timed(&self.ta_store_ms, || bootstrap_ta(image))
    }

    /// OP-TEE's REE time: the normal world sets it, so it is marked not trusted and a
    /// use-before check against it is no security guarantee (SECURITY.md). The normal world
    /// answers OP-TEE's request for it and may fail it: no time then (`TimeUnknown`), where
    /// libutee's `TEE_GetREETime` would panic the TA.
    fn wall_clock(&self) -> Option<suit_common::suit::update_management::WallClock> {
        use optee_utee::raw::{_utee_get_time, utee_time_category, TEE_Time, TEE_SUCCESS};
        let mut t = TEE_Time {
            seconds: 0,
            millis: 0,
        };
        // SAFETY: `t` is a valid `TEE_Time` the call fills and does not keep.
        let res = unsafe {
            _utee_get_time(
                utee_time_category::UTEE_TIME_CAT_REE as core::ffi::c_ulong,
                &mut t,
            )
        };
        (res == TEE_SUCCESS).then(|| suit_common::suit::update_management::WallClock {
            seconds: u64::from(t.seconds),
            trusted: false,
        })
    }
}

impl Backend for Optee {
    fn client(&self) -> Client {
        self.client
    }

    fn name(&self) -> &'static str {
        "optee"
    }

    /// Facts only; the host puts them into words and judges them (`StatusResponse::assess`).
    fn platform_info(&self) -> PlatformInfo {
        PlatformInfo {
            tee_version: os_version(),
            anti_rollback_level: tee_u32(c"gpd.tee.trustedStorage.antiRollback.protectionLevel"),
            rollback_detection_level: tee_u32(
                c"gpd.tee.trustedStorage.rollbackDetection.protectionLevel",
            ),
            attestation_pta: Some(attestation_pta_present()),
            warnings: Vec::new(),
            prerequisites: Vec::new(),
            device_id: device_id().map(|id| suit_common::text::uuid(&uuid_bytes(&id))),
        }
    }
}
