//! What the author tool's simulated device is given: its identity, and the rule mapping a
//! fetched URI to a file in the payload directory (shared with the agent). The device itself
//! is the TA's own service (see [`super::device`]); there is no second engine here.

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

/// The payload file name for a URI: its last path segment, without query or fragment.
/// `None` if that is empty, `.` or `..` (never a path outside the payload directory).
pub fn payload_file_name(uri: &str) -> Option<&str> {
    let no_fragment = uri.split('#').next().unwrap_or("");
    let path = no_fragment.split('?').next().unwrap_or("");
    let last = path.rsplit(['/', '\\']).next().unwrap_or("");
    if last.is_empty() || last == "." || last == ".." || last.contains(':') {
        return None;
    }
    Some(last)
}
