//! The GP TEE Internal API side of the service: properties, the TEE RNG and persistent
//! objects in TA-private secure storage (OP-TEE encrypts and integrity-protects them with a
//! key derived from the hardware unique key and this TA's UUID).

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;
use core::cell::RefCell;
use optee_utee::property::ClientIdentity;
use optee_utee::property::{
    PropertyKey, TeeDeviceId, TeeTrustedOsImplementationVersion,
    TeeTrustedStorageAntiRollbackProtectionLevel,
    TeeTrustedStorageRollbackDetectionProtectionLevel,
};
use optee_utee::{
    DataFlag, ErrorKind, GenericObject, LoginType, ObjectStorageConstants, ParamIndex,
    PersistentObject, Random, TaSessionBuilder, TeeParams, Uuid, Whence,
};
use suit_common::protocol::{prerequisite, PlatformInfo, Prerequisite, STUB_HUK_DEVICE_ID};
use suit_common::service::components::parse_uuid;
use suit_common::service::keys::Rng;
use suit_common::service::store::{check_name, SecureStore, StoreError};
use suit_common::service::{Backend, Client, TaStore};
use zeroize::Zeroizing;

/// The GP backend. Keeps the most recently used object open: the engine streams payloads
/// through storage in chunks, and reopening an REE-FS object per chunk costs a walk of
/// OP-TEE's hash tree and several supplicant round trips each time.
pub struct Optee {
    open: RefCell<Option<Cached>>,
    client: Client,
}

struct Cached {
    name: String,
    object: PersistentObject,
    /// Current data position, to skip redundant seeks.
    position: u64,
}

fn store_error(e: optee_utee::Error) -> StoreError {
    match e.kind() {
        ErrorKind::StorageNoSpace => StoreError::NoSpace,
        ErrorKind::CorruptObject | ErrorKind::CorruptObject2 => StoreError::Corrupt,
        _ => StoreError::Io(e.raw_code()),
    }
}

fn all_access() -> DataFlag {
    DataFlag::ACCESS_READ | DataFlag::ACCESS_WRITE | DataFlag::ACCESS_WRITE_META
}

fn data_len(o: &PersistentObject) -> Result<u64, StoreError> {
    Ok(o.info().map_err(store_error)?.data_size() as u64)
}

/// The `secstor_ta_mgmt` pseudo-TA: installs bootstrap TA images into OP-TEE's
/// secure-storage TA store after checking their signature and version.
const SECSTOR_TA_MGMT_UUID: &str = "6e256cba-fc4d-4941-ad09-2ca1860342dd";
/// OP-TEE's attestation PTA (`PTA_ATTESTATION_UUID`, CFG_ATTESTATION_PTA). Only probed, to
/// report whether hardware-rooted attestation of the device keys would be available.
const ATTESTATION_PTA_UUID: &str = "39800861-182a-4720-9b67-2bcd622bc0b5";

/// Whether the attestation PTA answers a session request.
fn attestation_pta_present() -> bool {
    Uuid::parse_str(ATTESTATION_PTA_UUID)
        .map(|uuid| TaSessionBuilder::new(uuid).build().is_ok())
        .unwrap_or(false)
}
const SECSTOR_TA_MGMT_BOOTSTRAP: u32 = 0;

impl Optee {
    /// A backend for a session opened by `client` (from `gpd.client.identity`).
    pub fn new(client: Client) -> Self {
        Optee {
            open: RefCell::new(None),
            client,
        }
    }

    /// Reads the session's client identity. Only `TEE_LOGIN_TRUSTED_APP` carries a UUID the
    /// TEE vouches for; every other login is the normal world.
    pub fn session_client() -> Client {
        match ClientIdentity.get() {
            Ok(id) if id.login_type() == LoginType::TrustedApp => {
                let text = alloc::format!("{}", id.uuid());
                parse_uuid(&text).map_or(Client::Ree, Client::TrustedApp)
            }
            _ => Client::Ree,
        }
    }

    /// Runs `f` on the open object `name` (opening it, or creating it empty when `create`),
    /// or returns `None` if it does not exist.
    fn with_object<T>(
        &self,
        name: &str,
        create: bool,
        f: impl FnOnce(&mut PersistentObject, &mut u64) -> Result<T, StoreError>,
    ) -> Result<Option<T>, StoreError> {
        check_name(name)?;
        let mut slot = self.open.borrow_mut();
        if slot.as_ref().is_some_and(|c| c.name != name) {
            *slot = None; // closes the other object
        }
        if slot.is_none() {
            let object = match PersistentObject::open(
                ObjectStorageConstants::Private,
                name.as_bytes(),
                all_access(),
            ) {
                Ok(o) => o,
                Err(e) if e.kind() == ErrorKind::ItemNotFound && create => {
                    PersistentObject::create(
                        ObjectStorageConstants::Private,
                        name.as_bytes(),
                        all_access(),
                        None,
                        &[],
                    )
                    .map_err(store_error)?
                }
                Err(e) if e.kind() == ErrorKind::ItemNotFound => return Ok(None),
                Err(e) => return Err(store_error(e)),
            };
            *slot = Some(Cached {
                name: name.to_string(),
                object,
                position: 0,
            });
        }
        let Some(c) = slot.as_mut() else {
            return Ok(None);
        };
        let result = f(&mut c.object, &mut c.position);
        if result.is_err() {
            *slot = None; // do not keep a handle in an unknown state
        }
        result.map(Some)
    }

    fn forget(&self, name: &str) -> Option<PersistentObject> {
        let mut slot = self.open.borrow_mut();
        if slot.as_ref().is_some_and(|c| c.name == name) {
            return slot.take().map(|c| c.object);
        }
        None
    }
}

impl SecureStore for Optee {
    fn get(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        self.with_object(name, false, |o, pos| {
            let len = usize::try_from(data_len(o)?).map_err(|_| StoreError::Corrupt)?;
            let mut buf = Zeroizing::new(vec![0u8; len]);
            o.seek(0, Whence::DataSeekSet).map_err(store_error)?;
            let n = o.read(&mut buf).map_err(store_error)? as usize;
            *pos = n as u64;
            if n != len {
                return Err(StoreError::Corrupt);
            }
            Ok(buf)
        })
    }

    fn put(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        check_name(name)?;
        drop(self.forget(name));
        // OVERWRITE: GP guarantees readers see either the old object or the new one.
        let object = PersistentObject::create(
            ObjectStorageConstants::Private,
            name.as_bytes(),
            all_access() | DataFlag::OVERWRITE,
            None,
            data,
        )
        .map_err(store_error)?;
        *self.open.borrow_mut() = Some(Cached {
            name: name.to_string(),
            object,
            position: data.len() as u64,
        });
        Ok(())
    }

    fn remove(&mut self, name: &str) -> Result<(), StoreError> {
        check_name(name)?;
        let object = match self.forget(name) {
            Some(o) => o,
            None => {
                *self.open.borrow_mut() = None;
                match PersistentObject::open(
                    ObjectStorageConstants::Private,
                    name.as_bytes(),
                    all_access(),
                ) {
                    Ok(o) => o,
                    Err(e) if e.kind() == ErrorKind::ItemNotFound => return Ok(()),
                    Err(e) => return Err(store_error(e)),
                }
            }
        };
        object.close_and_delete().map_err(store_error)
    }

    fn append(&mut self, name: &str, data: &[u8]) -> Result<u64, StoreError> {
        self.with_object(name, true, |o, pos| {
            let len = data_len(o)?;
            if *pos != len {
                o.seek(0, Whence::DataSeekEnd).map_err(store_error)?;
            }
            o.write(data).map_err(store_error)?;
            *pos = len + data.len() as u64;
            Ok(*pos)
        })?
        .ok_or(StoreError::Io(optee_utee::raw::TEE_ERROR_ITEM_NOT_FOUND))
    }

    fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StoreError> {
        self.with_object(name, false, |o, pos| {
            if *pos != offset {
                let to = i32::try_from(offset).map_err(|_| StoreError::BadName)?;
                o.seek(to, Whence::DataSeekSet).map_err(store_error)?;
            }
            let n = o.read(buf).map_err(store_error)? as usize;
            *pos = offset + n as u64;
            Ok(n)
        })?
        .ok_or(StoreError::Io(optee_utee::raw::TEE_ERROR_ITEM_NOT_FOUND))
    }

    fn len(&self, name: &str) -> Result<Option<u64>, StoreError> {
        self.with_object(name, false, |o, _| data_len(o))
    }
}

impl Rng for Optee {
    fn fill(&mut self, out: &mut [u8]) {
        Random::generate(out);
    }
}

impl TaStore for Optee {
    fn install_ta(&mut self, image: &[u8]) -> Result<(), u32> {
        let uuid = Uuid::parse_str(SECSTOR_TA_MGMT_UUID).map_err(|e| e.raw_code())?;
        let mut session = TaSessionBuilder::new(uuid)
            .build()
            .map_err(|e| e.raw_code())?;
        let mut params = TeeParams::new().with_memref_in(ParamIndex::Arg0, image);
        session
            .invoke_command(SECSTOR_TA_MGMT_BOOTSTRAP, &mut params)
            .map_err(|e| e.raw_code())
    }

    /// OP-TEE's REE time (TEE_GetREETime): the normal world sets it, so it is marked not
    /// trusted and a use-before check against it is no security guarantee (SECURITY.md).
    fn wall_clock(&self) -> Option<suit_common::suit::update_management::WallClock> {
        let mut t = optee_utee::Time::new();
        t.ree_time();
        Some(suit_common::suit::update_management::WallClock {
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

    fn platform_info(&self) -> PlatformInfo {
        let mut info = PlatformInfo {
            tee_version: TeeTrustedOsImplementationVersion.get().ok(),
            anti_rollback_level: TeeTrustedStorageAntiRollbackProtectionLevel.get().ok(),
            rollback_detection_level: TeeTrustedStorageRollbackDetectionProtectionLevel.get().ok(),
            attestation_pta: Some(attestation_pta_present()),
            warnings: Vec::new(),
            prerequisites: Vec::new(),
        };
        info.set_prerequisite(hardware_unique_key());
        info.set_prerequisite(Prerequisite::new(
            prerequisite::HARDWARE_RNG,
            None,
            "GP exposes no property naming the source behind TEE_GenerateRandom; a TA cannot \
             tell a hardware RNG from OP-TEE's software PRNG",
        ));
        info.set_prerequisite(Prerequisite::new(
            prerequisite::TA_SIGNING_KEY,
            None,
            "not visible to a TA; `suit-agent status` checks the update TA's signature",
        ));
        if info
            .prerequisites
            .iter()
            .any(|p| p.name == prerequisite::HARDWARE_UNIQUE_KEY && p.met == Some(false))
        {
            info.warnings.push(
                "the hardware unique key is OP-TEE's all-zero stub: secure storage keys can be \
                 computed by anyone who reads the REE's copy"
                    .to_string(),
            );
        }
        info
    }
}

/// Detects OP-TEE's all-zero stub HUK by its fingerprint. A different device ID shows the stub
/// is not in use, not that the HUK is secret, so that case stays "unknown".
fn hardware_unique_key() -> Prerequisite {
    match TeeDeviceId.get() {
        Ok(id) if id.to_string() == STUB_HUK_DEVICE_ID => Prerequisite::new(
            prerequisite::HARDWARE_UNIQUE_KEY,
            Some(false),
            alloc::format!("device ID {id} is the one OP-TEE derives from its all-zero stub HUK"),
        ),
        Ok(id) => Prerequisite::new(
            prerequisite::HARDWARE_UNIQUE_KEY,
            None,
            alloc::format!("device ID {id} is not the stub HUK's; whether the HUK is secret is not visible to a TA"),
        ),
        Err(_) => Prerequisite::new(
            prerequisite::HARDWARE_UNIQUE_KEY,
            None,
            "gpd.tee.deviceID is not available",
        ),
    }
}
