//! Secure object storage as the service sees it: named byte objects, each replaced
//! atomically. The TA maps this onto GP persistent objects (TEE_DATA_FLAG_OVERWRITE gives
//! the atomic replace), the simulator onto files (write, fsync, rename).
//!
//! Multi-object updates are made atomic one level up (see `state`): new content goes to
//! fresh object names first, then one atomic write of the state record switches to them.

use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;
use zeroize::Zeroizing;

/// Longest object name (GP's TEE_OBJECT_ID_MAX_LEN).
pub const MAX_OBJECT_ID: usize = 64;

/// A storage failure. Carries no object content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreError {
    /// The storage refused or failed (GP result code or errno where known).
    Io(u32),
    /// Out of space.
    NoSpace,
    /// The object exists but is corrupt (e.g. secure storage tampered with).
    Corrupt,
    /// A name longer than [`MAX_OBJECT_ID`] or otherwise invalid.
    BadName,
}

/// Named objects in secure storage.
pub trait SecureStore {
    /// The whole object, or `None` if it does not exist.
    fn get(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError>;
    /// Creates or atomically replaces the object.
    fn put(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError>;
    /// Deletes the object; deleting a missing object succeeds.
    fn remove(&mut self, name: &str) -> Result<(), StoreError>;
    /// Appends to the object (creating it empty first if missing); returns the new length.
    fn append(&mut self, name: &str, data: &[u8]) -> Result<u64, StoreError>;
    /// Reads from `offset` into `buf`; returns the count, 0 at the end.
    fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StoreError>;
    /// The object's length, or `None` if it does not exist.
    fn len(&self, name: &str) -> Result<Option<u64>, StoreError>;
}

/// Checks a name before it reaches a backend.
pub fn check_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty() || name.len() > MAX_OBJECT_ID {
        return Err(StoreError::BadName);
    }
    Ok(())
}

/// In-memory store for tests; can be told to fail, to exercise storage-fault paths.
#[derive(Default)]
pub struct MemoryStore {
    objects: BTreeMap<String, Zeroizing<Vec<u8>>>,
    /// When set, the n-th mutating operation from now (0 = the next) fails with `Io`.
    pub fail_after: Option<usize>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    /// Names of all objects, for tests that check what was (not) written.
    pub fn names(&self) -> Vec<String> {
        self.objects.keys().cloned().collect()
    }

    /// Raw object bytes, for tests.
    pub fn raw(&self, name: &str) -> Option<&[u8]> {
        self.objects.get(name).map(|v| v.as_slice())
    }

    fn mutation(&mut self) -> Result<(), StoreError> {
        match self.fail_after {
            Some(0) => Err(StoreError::Io(0xffff_0000)),
            Some(n) => {
                self.fail_after = Some(n - 1);
                Ok(())
            }
            None => Ok(()),
        }
    }
}

impl SecureStore for MemoryStore {
    fn get(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        check_name(name)?;
        Ok(self.objects.get(name).cloned())
    }

    fn put(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        check_name(name)?;
        self.mutation()?;
        self.objects
            .insert(name.into(), Zeroizing::new(data.to_vec()));
        Ok(())
    }

    fn remove(&mut self, name: &str) -> Result<(), StoreError> {
        check_name(name)?;
        self.mutation()?;
        self.objects.remove(name);
        Ok(())
    }

    fn append(&mut self, name: &str, data: &[u8]) -> Result<u64, StoreError> {
        check_name(name)?;
        self.mutation()?;
        let o = self.objects.entry(name.into()).or_default();
        o.extend_from_slice(data);
        Ok(o.len() as u64)
    }

    fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StoreError> {
        check_name(name)?;
        let o = self.objects.get(name).ok_or(StoreError::Io(0xffff_0008))?;
        let start = usize::try_from(offset).map_err(|_| StoreError::BadName)?;
        let rest = o.get(start..).unwrap_or(&[]);
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }

    fn len(&self, name: &str) -> Result<Option<u64>, StoreError> {
        check_name(name)?;
        Ok(self.objects.get(name).map(|o| o.len() as u64))
    }
}
