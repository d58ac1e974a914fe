//! The GP TEE Internal API side of [`suit_common::service::Backend`].

use optee_utee::property::{
    PropertyKey, TeeTrustedOsImplementationVersion, TeeTrustedStorageAntiRollbackProtectionLevel,
    TeeTrustedStorageRollbackDetectionProtectionLevel,
};
use suit_common::protocol::PlatformInfo;
use suit_common::service::Backend;

pub struct Optee;

impl Backend for Optee {
    fn name(&self) -> &'static str {
        "optee"
    }

    fn platform_info(&self) -> PlatformInfo {
        PlatformInfo {
            tee_version: TeeTrustedOsImplementationVersion.get().ok(),
            anti_rollback_level: TeeTrustedStorageAntiRollbackProtectionLevel.get().ok(),
            rollback_detection_level: TeeTrustedStorageRollbackDetectionProtectionLevel.get().ok(),
            warnings: alloc::vec::Vec::new(),
        }
    }
}
