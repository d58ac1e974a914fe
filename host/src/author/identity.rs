//! What the author tool's simulated device is given: its identity. The device itself is the
//! TA's own service (see [`super::device`]); there is no second engine here.

/// The simulated device's identity.
#[derive(Debug, Clone, Default)]
pub struct DeviceIdentity {
    /// Vendor UUID (none: every vendor-identifier condition fails).
    pub vendor_id: Option<[u8; 16]>,
    /// Class UUID.
    pub class_id: Option<[u8; 16]>,
    /// Device UUID.
    pub device_id: Option<[u8; 16]>,
}
