//! The GP TEE Internal API side of the service: properties, the TEE RNG and persistent
//! objects in TA-private secure storage (OP-TEE encrypts and integrity-protects them with a
//! key derived from the hardware unique key and this TA's UUID).

use alloc::vec;
use alloc::vec::Vec;
use optee_utee::property::{
    PropertyKey, TeeTrustedOsImplementationVersion, TeeTrustedStorageAntiRollbackProtectionLevel,
    TeeTrustedStorageRollbackDetectionProtectionLevel,
};
use optee_utee::{
    DataFlag, ErrorKind, GenericObject, ObjectStorageConstants, PersistentObject, Random, Whence,
};
use suit_common::protocol::PlatformInfo;
use suit_common::service::keys::Rng;
use suit_common::service::store::{check_name, SecureStore, StoreError};
use suit_common::service::Backend;
use zeroize::Zeroizing;

pub struct Optee;

fn store_error(e: optee_utee::Error) -> StoreError {
    match e.kind() {
        ErrorKind::StorageNoSpace => StoreError::NoSpace,
        ErrorKind::CorruptObject | ErrorKind::CorruptObject2 => StoreError::Corrupt,
        _ => StoreError::Io(e.raw_code()),
    }
}

fn open(name: &str, flags: DataFlag) -> Result<Option<PersistentObject>, StoreError> {
    check_name(name)?;
    match PersistentObject::open(ObjectStorageConstants::Private, name.as_bytes(), flags) {
        Ok(o) => Ok(Some(o)),
        Err(e) if e.kind() == ErrorKind::ItemNotFound => Ok(None),
        Err(e) => Err(store_error(e)),
    }
}

fn data_len(o: &PersistentObject) -> Result<u64, StoreError> {
    Ok(o.info().map_err(store_error)?.data_size() as u64)
}

impl SecureStore for Optee {
    fn get(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        let Some(mut o) = open(name, DataFlag::ACCESS_READ)? else {
            return Ok(None);
        };
        let len = usize::try_from(data_len(&o)?).map_err(|_| StoreError::Corrupt)?;
        let mut buf = Zeroizing::new(vec![0u8; len]);
        let n = o.read(&mut buf).map_err(store_error)? as usize;
        if n != len {
            return Err(StoreError::Corrupt);
        }
        Ok(Some(buf))
    }

    fn put(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        check_name(name)?;
        // OVERWRITE: GP guarantees readers see either the old object or the new one.
        let flags = DataFlag::ACCESS_READ
            | DataFlag::ACCESS_WRITE
            | DataFlag::ACCESS_WRITE_META
            | DataFlag::OVERWRITE;
        PersistentObject::create(
            ObjectStorageConstants::Private,
            name.as_bytes(),
            flags,
            None,
            data,
        )
        .map(drop)
        .map_err(store_error)
    }

    fn remove(&mut self, name: &str) -> Result<(), StoreError> {
        match open(name, DataFlag::ACCESS_READ | DataFlag::ACCESS_WRITE_META)? {
            Some(o) => o.close_and_delete().map_err(store_error),
            None => Ok(()),
        }
    }

    fn append(&mut self, name: &str, data: &[u8]) -> Result<u64, StoreError> {
        let flags = || DataFlag::ACCESS_READ | DataFlag::ACCESS_WRITE;
        let mut o = match open(name, flags())? {
            Some(o) => o,
            None => PersistentObject::create(
                ObjectStorageConstants::Private,
                name.as_bytes(),
                flags() | DataFlag::ACCESS_WRITE_META,
                None,
                &[],
            )
            .map_err(store_error)?,
        };
        o.seek(0, Whence::DataSeekEnd).map_err(store_error)?;
        o.write(data).map_err(store_error)?;
        data_len(&o)
    }

    fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StoreError> {
        let mut o = open(name, DataFlag::ACCESS_READ)?
            .ok_or(StoreError::Io(optee_utee::raw::TEE_ERROR_ITEM_NOT_FOUND))?;
        let offset = i32::try_from(offset).map_err(|_| StoreError::BadName)?;
        o.seek(offset, Whence::DataSeekSet).map_err(store_error)?;
        Ok(o.read(buf).map_err(store_error)? as usize)
    }

    fn len(&self, name: &str) -> Result<Option<u64>, StoreError> {
        match open(name, DataFlag::ACCESS_READ)? {
            Some(o) => Ok(Some(data_len(&o)?)),
            None => Ok(None),
        }
    }
}

impl Rng for Optee {
    fn fill(&mut self, out: &mut [u8]) {
        Random::generate(out);
    }
}

impl Backend for Optee {
    fn name(&self) -> &'static str {
        "optee"
    }

    fn platform_info(&self) -> PlatformInfo {
        PlatformInfo {
            tee_version: TeeTrustedOsImplementationVersion.get().ok(),
            anti_rollback_level: TeeTrustedStorageAntiRollbackProtectionLevel.get().ok(),
            rollback_detection_level: TeeTrustedStorageRollbackDetectionProtectionLevel.get().ok(),
            warnings: Vec::new(),
        }
    }
}
