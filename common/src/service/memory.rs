//! An in-memory [`Backend`] for tests, fuzzing and benchmarks: a [`MemoryStore`], a
//! deterministic RNG and a recording TA store. It protects nothing and is no TEE.

use alloc::vec::Vec;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::keys::Rng;
use super::store::{MemoryStore, SecureStore, StoreError};
use super::{Backend, Client, TaStore};
use crate::protocol::PlatformInfo;

pub struct MemoryBackend {
    pub store: MemoryStore,
    /// Selects the RNG stream: backends with different seeds make different keys.
    pub seed: u8,
    counter: u64,
    /// When set, the RNG returns zeros (to exercise key-generation failure).
    pub broken_rng: bool,
    /// Who the session's client is; tests switch it to act as a TA.
    pub client: Client,
    /// Every TA image handed to the TA store, in order.
    pub installed_tas: Vec<Vec<u8>>,
    /// When set, the TA store refuses every image with this TEE result (as OP-TEE does for
    /// a bad signature).
    pub refuse_tas: Option<u32>,
    /// What `platform_info` reports (1000: the TEE prevents storage rollback).
    pub anti_rollback_level: Option<u32>,
}

impl MemoryBackend {
    pub fn new(seed: u8) -> Self {
        MemoryBackend {
            store: MemoryStore::new(),
            seed,
            counter: 0,
            broken_rng: false,
            client: Client::Ree,
            installed_tas: Vec::new(),
            refuse_tas: None,
            anti_rollback_level: Some(1000),
        }
    }
}

impl Rng for MemoryBackend {
    /// Deterministic, non-repeating stream: SHA-256(seed || counter) blocks.
    fn fill(&mut self, out: &mut [u8]) {
        for chunk in out.chunks_mut(32) {
            self.counter += 1;
            let block = Sha256::new()
                .chain_update([self.seed])
                .chain_update(self.counter.to_be_bytes())
                .finalize();
            for (b, r) in chunk.iter_mut().zip(block) {
                *b = if self.broken_rng { 0 } else { r };
            }
        }
    }
}

impl SecureStore for MemoryBackend {
    fn get(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        self.store.get(name)
    }
    fn put(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        self.store.put(name, data)
    }
    fn put_record(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        self.store.put_record(name, data)
    }
    fn create(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        self.store.create(name, data)
    }
    fn remove(&mut self, name: &str) -> Result<(), StoreError> {
        self.store.remove(name)
    }
    fn append(&mut self, name: &str, data: &[u8]) -> Result<u64, StoreError> {
        self.store.append(name, data)
    }
    fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StoreError> {
        self.store.read_at(name, offset, buf)
    }
    fn len(&self, name: &str) -> Result<Option<u64>, StoreError> {
        self.store.len(name)
    }
}

impl TaStore for MemoryBackend {
    /// Records the image. Like OP-TEE, refuses an empty one; signatures are not checked. The
    /// store's fault plan applies: a TA install is one more write that a power cut can stop.
    fn install_ta(&mut self, image: &[u8]) -> Result<(), u32> {
        const TEE_ERROR_BAD_PARAMETERS: u32 = 0xffff_0006;
        const TEE_ERROR_STORAGE_NOT_AVAILABLE: u32 = 0xf010_0003;
        if image.is_empty() {
            return Err(TEE_ERROR_BAD_PARAMETERS);
        }
        if let Some(code) = self.refuse_tas {
            return Err(code);
        }
        self.store
            .mutation()
            .map_err(|_| TEE_ERROR_STORAGE_NOT_AVAILABLE)?;
        self.installed_tas.push(image.to_vec());
        Ok(())
    }
}

impl Backend for MemoryBackend {
    fn name(&self) -> &'static str {
        "memory"
    }
    fn platform_info(&self) -> PlatformInfo {
        PlatformInfo {
            anti_rollback_level: self.anti_rollback_level,
            ..Default::default()
        }
    }
    fn client(&self) -> Client {
        self.client
    }
}
