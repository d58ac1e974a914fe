//! An in-memory [`Backend`] for tests, fuzzing and benchmarks: a [`MemoryStore`], a
//! deterministic RNG and a recording TA store. It protects nothing and is no TEE.

use alloc::vec::Vec;
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::keys::Rng;
use super::segments::Segmented;
use super::store::{MemoryStore, SecureStore, StoreError};
use super::{Backend, Client, TaStore};
use crate::protocol::PlatformInfo;
use crate::suit::platform::CHUNK_LEN;

pub struct MemoryBackend {
    /// Private: a test reading the physical store goes through [`MemoryBackend::store`],
    /// which is the same whichever way the service's calls reach it.
    storage: Storage,
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
    /// When set, the TA store keeps every image and then answers with this TEE result: the
    /// REE failing an RPC of OP-TEE's TA store after the image landed.
    pub forge_ta_failure: Option<u32>,
    /// What `platform_info` reports (1000: the TEE prevents storage rollback).
    pub anti_rollback_level: Option<u32>,
}

/// Where the service's storage calls go.
enum Storage {
    /// Straight into the store: one physical object per logical one.
    Plain(MemoryStore),
    /// Through the TA's segment layer, with its per-session caches (tests with short
    /// segments: payloads span several, and power cuts land between them).
    Segmented(Segmented<MemoryStore>),
}

impl MemoryBackend {
    pub fn new(seed: u8) -> Self {
        MemoryBackend {
            storage: Storage::Plain(MemoryStore::new()),
            seed,
            counter: 0,
            broken_rng: false,
            client: Client::Ree,
            installed_tas: Vec::new(),
            refuse_tas: None,
            forge_ta_failure: None,
            anti_rollback_level: Some(1000),
        }
    }

    /// A backend whose storage calls go through [`Segmented`] with segments of
    /// `segment_len` bytes, as the TA's do with its own. Tests choose short ones so that
    /// payloads span several; `Segmented` refuses to create an object with a segment's
    /// length or more, so `segment_len` must exceed every first write of the test's traffic:
    /// the service's copies of [`CHUNK_LEN`] (checked here) and the agent's chunks. (The
    /// TA's segments exceed the most the service ever creates an object with,
    /// `MAX_CREATE_WITH_DATA`, whatever the agent sends.)
    pub fn segmented(seed: u8, segment_len: u64) -> Self {
        assert!(
            segment_len > CHUNK_LEN as u64,
            "segments must be longer than the service's copies"
        );
        let mut b = MemoryBackend::new(seed);
        b.storage = Storage::Segmented(Segmented::new(MemoryStore::new(), segment_len));
        b
    }

    /// The segment length, if storage goes through [`Segmented`].
    pub fn segment_len(&self) -> Option<u64> {
        match &self.storage {
            Storage::Plain(_) => None,
            Storage::Segmented(s) => Some(s.segment_len()),
        }
    }

    /// The physical store (segments as separate objects).
    pub fn store(&self) -> &MemoryStore {
        match &self.storage {
            Storage::Plain(s) => s,
            Storage::Segmented(s) => s.inner(),
        }
    }

    /// The physical store, mutably (fault plans; a direct write bypasses the segment
    /// layer's caches, as nothing on a device does).
    pub fn store_mut(&mut self) -> &mut MemoryStore {
        match &mut self.storage {
            Storage::Plain(s) => s,
            Storage::Segmented(s) => s.inner_mut(),
        }
    }

    /// Replaces the physical store; the segment layer, if any, starts a new session over it
    /// (its caches empty), as after a restart.
    pub fn set_store(&mut self, store: MemoryStore) {
        self.storage = match &self.storage {
            Storage::Plain(_) => Storage::Plain(store),
            Storage::Segmented(s) => Storage::Segmented(Segmented::new(store, s.segment_len())),
        };
    }

    /// Logical object `name` as a new session would read it (all its segments), without
    /// touching this session's caches.
    pub fn logical(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        match &self.storage {
            Storage::Plain(s) => s.get(name),
            Storage::Segmented(s) => Segmented::new(s.inner().clone(), s.segment_len()).get(name),
        }
    }
}

/// Calls `$method` on whichever store the service's calls go to.
macro_rules! on_storage {
    ($self:ident.$method:ident($($arg:expr),*)) => {
        match &$self.storage {
            Storage::Plain(s) => s.$method($($arg),*),
            Storage::Segmented(s) => s.$method($($arg),*),
        }
    };
    (mut $self:ident.$method:ident($($arg:expr),*)) => {
        match &mut $self.storage {
            Storage::Plain(s) => s.$method($($arg),*),
            Storage::Segmented(s) => s.$method($($arg),*),
        }
    };
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
        on_storage!(self.get(name))
    }
    fn put(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        on_storage!(mut self.put(name, data))
    }
    fn put_record(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        on_storage!(mut self.put_record(name, data))
    }
    fn create(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        on_storage!(mut self.create(name, data))
    }
    fn remove(&mut self, name: &str) -> Result<(), StoreError> {
        on_storage!(mut self.remove(name))
    }
    fn empty(&mut self, name: &str, len: Option<u64>) -> Result<(), StoreError> {
        on_storage!(mut self.empty(name, len))
    }
    fn append(&mut self, name: &str, data: &[u8]) -> Result<u64, StoreError> {
        on_storage!(mut self.append(name, data))
    }
    fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StoreError> {
        on_storage!(self.read_at(name, offset, buf))
    }
    fn len(&self, name: &str) -> Result<Option<u64>, StoreError> {
        on_storage!(self.len(name))
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
        self.store_mut()
            .mutation()
            .map_err(|_| TEE_ERROR_STORAGE_NOT_AVAILABLE)?;
        self.installed_tas.push(image.to_vec());
        match self.forge_ta_failure {
            Some(code) => Err(code),
            None => Ok(()),
        }
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
