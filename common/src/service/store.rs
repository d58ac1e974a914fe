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
#[non_exhaustive]
pub enum StoreError {
    /// The storage refused or failed (GP result code or errno where known).
    Io(u32),
    /// Out of space.
    NoSpace,
    /// The object exists but is corrupt (e.g. secure storage tampered with).
    Corrupt,
    /// A name longer than [`MAX_OBJECT_ID`] or otherwise invalid.
    BadName,
    /// The TA could not allocate a buffer for the object (an error, never a panic), or the
    /// TEE core had no memory for the storage call.
    OutOfMemory,
    /// Content the TA wrote and hashed, read back, is not what it committed: the REE-backed
    /// store answered with other bytes (an older version, another object's) ([`Verified`],
    /// [`VerifiedChunks`]).
    NotCommitted,
    /// A read of committed content out of order (not from its start, or not where the last
    /// one ended): [`Verified`] and [`VerifiedChunks`] check what they read in one pass from
    /// the start.
    Unordered,
}

/// GP TEE Internal API results (`tee_api_defines.h`) a storage system call may return that
/// [`StoreError::from_tee_result`] gives a meaning of their own. The TA checks its binding has
/// the same values.
pub mod tee_result {
    pub const OUT_OF_MEMORY: u32 = 0xffff_000c;
    pub const STORAGE_NO_SPACE: u32 = 0xffff_3041;
    pub const CORRUPT_OBJECT: u32 = 0xf010_0001;
    pub const CORRUPT_OBJECT_2: u32 = 0xf010_0002;
}

impl StoreError {
    /// A GP storage system call's result other than success: whatever the REE answered the
    /// TEE's storage requests with arrives here as some result.
    pub fn from_tee_result(code: u32) -> StoreError {
        match code {
            tee_result::STORAGE_NO_SPACE => StoreError::NoSpace,
            tee_result::CORRUPT_OBJECT | tee_result::CORRUPT_OBJECT_2 => StoreError::Corrupt,
            tee_result::OUT_OF_MEMORY => StoreError::OutOfMemory,
            other => StoreError::Io(other),
        }
    }
}

/// Named objects in secure storage.
pub trait SecureStore {
    /// The whole object, or `None` if it does not exist.
    fn get(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError>;
    /// Creates or atomically replaces the object.
    fn put(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError>;
    /// [`Self::put`] of a record: an object only ever written whole through this method,
    /// never appended to, so never longer than one segment. A store that splits objects
    /// (`segments`) then has no old tail to look for, which on OP-TEE is a failed open per
    /// record write.
    fn put_record(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        self.put(name, data)
    }
    /// [`Self::put`] of an object the caller knows to be missing or empty: nothing was stored
    /// under `name` since it was last removed whole or emptied ([`Self::empty`]; the install's
    /// payload and staging names, see `install`). A store that splits objects then has no old
    /// tail to look for.
    fn create(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        self.put(name, data)
    }
    /// Deletes the object; deleting a missing object succeeds.
    fn remove(&mut self, name: &str) -> Result<(), StoreError>;
    /// Leaves `name` an empty object: its content goes as with [`Self::remove`], its name
    /// stays, to be written again by a later [`Self::create`] (on OP-TEE, creating an object
    /// under a name that exists reads the REE-FS directory up to its entry, under a new name
    /// all of it). `len`: the length the record that named the object gives (a replaced
    /// component's content), which a store that splits objects (`segments`) uses to find the
    /// end instead of opening every segment, checking the claim on the last one.
    fn empty(&mut self, name: &str, len: Option<u64>) -> Result<(), StoreError> {
        let _ = len;
        self.put(name, &[])
    }
    /// Appends to the object (creating it empty first if missing); returns the new length.
    fn append(&mut self, name: &str, data: &[u8]) -> Result<u64, StoreError>;
    /// Reads from `offset` into `buf`; returns the count, 0 at the end.
    fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StoreError>;
    /// The object's length, or `None` if it does not exist.
    fn len(&self, name: &str) -> Result<Option<u64>, StoreError>;
}

/// A zeroed, wiped-on-drop buffer of `len` bytes, or [`StoreError::OutOfMemory`]: a failed
/// allocation must be an error the caller reports, not an abort that kills the TA.
pub fn zeroed(len: usize) -> Result<Zeroizing<Vec<u8>>, StoreError> {
    let mut v = Vec::new();
    v.try_reserve_exact(len)
        .map_err(|_| StoreError::OutOfMemory)?;
    v.resize(len, 0);
    Ok(Zeroizing::new(v))
}

/// One pass over content the TA wrote and hashed (an installed component, a staged one), read
/// back from the REE-backed store, which may answer with other bytes: everything returned is
/// hashed, and the read that reaches the end (the one returning its last bytes, and every read
/// at the end) fails with [`StoreError::NotCommitted`] unless the bytes returned since the
/// start are exactly `size` bytes hashing to `digest`. Whoever relies on content reads it to
/// the end first; reads go in order from offset 0 (another offset is
/// [`StoreError::Unordered`]; offset 0 starts over). Bytes past `size` (a stale tail) are never
/// read, and nothing is allocated in proportion to the content.
pub struct Verified {
    object: String,
    size: u64,
    digest: [u8; 32],
    at: u64,
    /// Boxed: it holds up to a block of the content, and only the pointer moves.
    hasher: alloc::boxed::Box<sha2::Sha256>,
}

impl Verified {
    /// A pass over `object`, committed as `size` bytes with SHA-256 `digest` (any other length
    /// of digest matches nothing).
    pub fn new(object: &str, size: u64, digest: &[u8]) -> Self {
        Verified {
            object: object.into(),
            size,
            digest: <[u8; 32]>::try_from(digest).unwrap_or_default(),
            at: 0,
            hasher: alloc::boxed::Box::default(),
        }
    }

    /// Reads the next bytes into `buf` (`offset`: where the previous read ended, or 0 to start
    /// over); 0 at the end, once checked (and for an empty `buf`, which reads nothing: callers
    /// pass a buffer with room).
    pub fn read(
        &mut self,
        store: &(impl SecureStore + ?Sized),
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, StoreError> {
        use sha2::Digest as _;
        if offset == 0 {
            *self.hasher = sha2::Sha256::new();
            self.at = 0;
        }
        if offset != self.at {
            return Err(StoreError::Unordered);
        }
        let left = usize::try_from(self.size.saturating_sub(self.at)).unwrap_or(usize::MAX);
        let n = match buf.get_mut(..left.min(buf.len())) {
            Some([]) => 0,
            Some(dest) => match store.read_at(&self.object, self.at, dest)? {
                // Shorter than committed.
                0 => return Err(StoreError::NotCommitted),
                n => {
                    self.hasher
                        .update(dest.get(..n).ok_or(StoreError::NotCommitted)?);
                    n
                }
            },
            None => return Err(StoreError::NotCommitted),
        };
        self.at += n as u64;
        if self.at == self.size {
            // Not the box finished by value (it would free a block holding content), nor a
            // copy in this frame (see `digests`).
            let digest = super::digests::sha256_so_far(&self.hasher);
            if !bool::from(subtle::ConstantTimeEq::ct_eq(
                digest.as_slice(),
                self.digest.as_slice(),
            )) {
                return Err(StoreError::NotCommitted);
            }
        }
        Ok(n)
    }

    /// Whether this pass is over `object` as committed with `size` and `digest`.
    pub fn is_for(&self, object: &str, size: u64, digest: &[u8]) -> bool {
        self.object == object && self.size == size && self.digest.as_slice() == digest
    }

    /// [`Self::read`] through `slot`, which keeps the pass between calls: a read of another
    /// object (or of other committed content under its name) starts a new pass. A failed read
    /// ends the pass, so nothing is served from it again without starting over.
    pub fn read_in(
        slot: &mut Option<Verified>,
        store: &(impl SecureStore + ?Sized),
        (object, size, digest): (&str, u64, &[u8]),
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, StoreError> {
        let mut pass = slot
            .take()
            .filter(|v| v.is_for(object, size, digest))
            .unwrap_or_else(|| Verified::new(object, size, digest));
        let n = pass.read(store, offset, buf)?;
        *slot = Some(pass);
        Ok(n)
    }
}

/// Content the TA wrote and hashed, served to the REE in chunks of a fixed size, read back
/// from the REE-backed store, which may answer each read with other bytes (anything the object
/// name ever held, another component's plaintext among them): the REE gets only bytes of the
/// committed content. A pass starts at offset 0: it reads the whole once, fails
/// ([`StoreError::NotCommitted`]) unless it is exactly `size` bytes hashing to `digest`, and
/// records the SHA-256 of each chunk; every chunk served, the first included, is then read
/// again and served only if it matches its record. Chunks go in order (each where the last
/// ended; another offset is [`StoreError::Unordered`]), and bytes past `size` are never read.
pub struct VerifiedChunks {
    object: String,
    size: u64,
    digest: [u8; 32],
    chunk: usize,
    /// The SHA-256 of each chunk as the pass read it: ⌈size / chunk⌉ entries, sized from the
    /// committed size (at most the engine's payload limit: ~1,040 for 64 MiB in 63 KiB
    /// chunks), never from a request.
    sums: Vec<[u8; 32]>,
    /// Where the next chunk starts.
    next: u64,
}

impl VerifiedChunks {
    /// The chunk at `offset` of `object` (committed as `size` bytes with SHA-256 `digest`), at
    /// most `chunk` bytes, through `slot`, which keeps the pass between calls: offset 0 starts
    /// a new one (and checks the whole first), any other must be where the last chunk of the
    /// pass in `slot` over this same content ended. Empty at the end. A failed read ends the
    /// pass; the bytes read for it are wiped.
    pub fn read_in(
        slot: &mut Option<VerifiedChunks>,
        store: &(impl SecureStore + ?Sized),
        (object, size, digest): (&str, u64, &[u8]),
        chunk: usize,
        offset: u64,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let mut pass = match slot.take() {
            _ if offset == 0 => Self::check_whole(store, (object, size, digest), chunk)?,
            Some(p) if p.is_for(object, size, digest, chunk) && p.next == offset => p,
            _ => return Err(StoreError::Unordered),
        };
        let data = pass.next_chunk(store)?;
        *slot = Some(pass);
        Ok(data)
    }

    fn is_for(&self, object: &str, size: u64, digest: &[u8], chunk: usize) -> bool {
        self.object == object
            && self.size == size
            && self.digest.as_slice() == digest
            && self.chunk == chunk.max(1)
    }

    /// The pass: the whole read once in chunks, checked against `digest`, each chunk's
    /// SHA-256 recorded. Nothing it read leaves it (its buffer is wiped).
    fn check_whole(
        store: &(impl SecureStore + ?Sized),
        (object, size, digest): (&str, u64, &[u8]),
        chunk: usize,
    ) -> Result<Self, StoreError> {
        use sha2::Digest as _;
        let chunk = chunk.max(1);
        let count =
            usize::try_from(size.div_ceil(chunk as u64)).map_err(|_| StoreError::OutOfMemory)?;
        let mut sums = Vec::new();
        sums.try_reserve_exact(count)
            .map_err(|_| StoreError::OutOfMemory)?;
        let mut buf = zeroed(Self::len_at(size, 0, chunk))?;
        // Boxed and finished by `sha256_so_far`, and each chunk's sum taken by `sha256`: no
        // state holding content lies in this frame (see `digests`).
        let mut whole = alloc::boxed::Box::new(sha2::Sha256::new());
        let mut at = 0u64;
        while at < size {
            let dest = buf
                .get_mut(..Self::len_at(size, at, chunk))
                .ok_or(StoreError::OutOfMemory)?;
            read_exact(store, object, at, dest)?;
            whole.update(&*dest);
            sums.push(super::digests::sha256(dest));
            at += dest.len() as u64;
        }
        let whole = super::digests::sha256_so_far(&whole);
        let matches = subtle::ConstantTimeEq::ct_eq(whole.as_slice(), digest);
        if !bool::from(matches) {
            return Err(StoreError::NotCommitted);
        }
        Ok(VerifiedChunks {
            object: object.into(),
            size,
            digest: <[u8; 32]>::try_from(digest).map_err(|_| StoreError::NotCommitted)?,
            chunk,
            sums,
            next: 0,
        })
    }

    /// The chunk at `next`, read again and served only if it is the one the pass recorded.
    fn next_chunk(
        &mut self,
        store: &(impl SecureStore + ?Sized),
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let mut data = zeroed(Self::len_at(self.size, self.next, self.chunk))?;
        if data.is_empty() {
            return Ok(data);
        }
        let index =
            usize::try_from(self.next / self.chunk as u64).map_err(|_| StoreError::NotCommitted)?;
        let sum = self.sums.get(index).ok_or(StoreError::NotCommitted)?;
        read_exact(store, &self.object, self.next, &mut data)?;
        let got = super::digests::sha256(&data);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(
            got.as_slice(),
            sum.as_slice(),
        )) {
            // `data` is wiped as it drops.
            return Err(StoreError::NotCommitted);
        }
        self.next += data.len() as u64;
        Ok(data)
    }

    /// The length of the chunk at `at` of `size` bytes: at most `chunk`, 0 at the end.
    fn len_at(size: u64, at: u64, chunk: usize) -> usize {
        usize::try_from(size.saturating_sub(at))
            .unwrap_or(usize::MAX)
            .min(chunk)
    }
}

/// Fills `dest` from `offset` of `object` (reads may come back short); fewer bytes than that
/// left in the object is [`StoreError::NotCommitted`], as the caller asks only for bytes it
/// committed.
pub(crate) fn read_exact(
    store: &(impl SecureStore + ?Sized),
    object: &str,
    offset: u64,
    dest: &mut [u8],
) -> Result<(), StoreError> {
    let mut done = 0;
    while let Some(rest) = dest.get_mut(done..).filter(|r| !r.is_empty()) {
        match store.read_at(object, offset + done as u64, rest)? {
            0 => return Err(StoreError::NotCommitted),
            n => done += n.min(rest.len()),
        }
    }
    Ok(())
}

/// Checks a name before it reaches a backend.
pub fn check_name(name: &str) -> Result<(), StoreError> {
    if name.is_empty() || name.len() > MAX_OBJECT_ID {
        return Err(StoreError::BadName);
    }
    Ok(())
}

/// An object's bytes in pieces, each allocated once and never grown: appending never moves
/// stored bytes, so no freed block holds an unwiped copy of them (a `Vec` that grows frees
/// its old block as it was; `Zeroizing` wipes only the last one), and a test that measures
/// the service's allocations does not see the store's growth as a buffer of the service's.
#[derive(Default, Clone)]
struct Object {
    pieces: Vec<Zeroizing<Vec<u8>>>,
    len: usize,
}

impl Object {
    /// The most one piece holds.
    const PIECE: usize = 16 * 1024;

    fn new(data: &[u8]) -> Self {
        let mut o = Self::default();
        o.extend(data);
        o
    }

    fn extend(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let room = self.pieces.last().map_or(0, |p| p.capacity() - p.len());
            if room == 0 {
                let capacity = data.len().clamp(4096, Self::PIECE);
                self.pieces
                    .push(Zeroizing::new(Vec::with_capacity(capacity)));
                continue;
            }
            let (now, rest) = data.split_at(room.min(data.len()));
            if let Some(last) = self.pieces.last_mut() {
                last.extend_from_slice(now);
            }
            self.len += now.len();
            data = rest;
        }
    }

    /// Copies from `start` into `buf`; the number of bytes copied (0 at or past the end).
    fn read_at(&self, start: usize, buf: &mut [u8]) -> usize {
        let mut skip = start;
        let mut n = 0;
        for piece in &self.pieces {
            let Some(from) = piece.get(skip..) else {
                skip -= piece.len();
                continue;
            };
            skip = 0;
            let Some(to) = buf.get_mut(n..) else { break };
            let k = from.len().min(to.len());
            if let (Some(d), Some(s)) = (to.get_mut(..k), from.get(..k)) {
                d.copy_from_slice(s);
            }
            n += k;
        }
        n
    }

    fn to_vec(&self) -> Zeroizing<Vec<u8>> {
        let mut v = Zeroizing::new(Vec::with_capacity(self.len));
        for piece in &self.pieces {
            v.extend_from_slice(piece);
        }
        v
    }
}

/// In-memory store for tests, with a fault plan to exercise storage faults and power cuts.
#[derive(Default, Clone)]
pub struct MemoryStore {
    objects: BTreeMap<String, Object>,
    /// When set, the n-th mutating operation from now (0 = the next) and all later ones fail
    /// with `Io` while the code keeps running its error paths.
    pub fail_after: Option<usize>,
    /// When set, only the n-th mutating operation from now fails (a transient fault).
    pub fail_once_at: Option<usize>,
    /// With `fail_once_at`: the operation after it fails as well (a write and the one that
    /// would take it back).
    pub fail_next_too: bool,
    /// What `fail_after` and `fail_once_at` fail with (unset: `Io`), e.g.
    /// [`StoreError::NoSpace`] for a full storage.
    pub fail_with: Option<StoreError>,
    /// When set, the n-th write or removal of this store from now takes effect and then
    /// reports `Io`: the REE answers REE-FS RPCs, so an error does not prove nothing landed.
    pub forge_failure_at: Option<usize>,
    /// When set, power is lost at the n-th mutating operation from now (0 = the next): it and
    /// every later one fail with `Io` and change nothing, so the store keeps exactly what was
    /// written before the cut.
    pub power_cut_after: Option<usize>,
    /// Set once the power cut happened.
    pub powered_off: bool,
    /// Mutating operations that took effect so far (to size fault-injection loops).
    pub mutations: usize,
    /// Bytes returned by `read_at` so far (tests of how often content is read back).
    pub bytes_read: core::cell::Cell<u64>,
    /// Bytes written by `put` and `append` so far.
    pub bytes_written: u64,
    /// Operations by kind, as a GP backend would issue them (tests of the per-install cost).
    pub ops: core::cell::Cell<StoreOps>,
    /// When set, every call is appended to it, in order (tests listing an install's
    /// operations).
    pub log: core::cell::RefCell<Option<Vec<Logged>>>,
    /// When set, a read (`get`, `read_at`) of an object whose name starts with `.0` is
    /// answered from `.1` instead: the REE serving another file (an older version, or a swapped one) for an
    /// object the TA wrote and hashed.
    pub substitute: Option<(String, Vec<u8>)>,
}

/// One call to [`MemoryStore`], as logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Logged {
    pub op: LoggedOp,
    pub name: String,
    /// Bytes written, or the buffer's length for `read_at`.
    pub len: u64,
    /// `read_at`'s offset.
    pub offset: u64,
    /// Whether the object existed before the call.
    pub found: bool,
    /// Its length before the call (0 if it did not exist).
    pub before: u64,
}

/// The [`SecureStore`] method a [`Logged`] call was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoggedOp {
    Get,
    Put,
    PutRecord,
    Create,
    Remove,
    /// `empty`, with the length claimed for the object (if any).
    Empty(Option<u64>),
    Append,
    ReadAt,
    Len,
}

/// What [`MemoryStore`] was asked to do, counted the way OP-TEE's REE FS pays for it: a `put`
/// is one create carrying its data (TEE_CreatePersistentObject with initial data), an
/// `append` one write (and a create if the object was missing), a `remove` of an object one
/// delete, and each look-up of a missing object (`get`, `len`, `remove`) a failed open.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct StoreOps {
    pub creates: u32,
    pub writes: u32,
    pub deletes: u32,
    /// `get` of an existing object, and every `read_at`.
    pub reads: u32,
    /// Look-ups of a missing object.
    pub misses: u32,
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
    pub fn raw(&self, name: &str) -> Option<Vec<u8>> {
        self.objects
            .get(name)
            .map(|o| o.pieces.iter().flat_map(|p| p.iter().copied()).collect())
    }

    /// Consults the fault plan before a mutating operation (the backend's TA store calls it
    /// too, so a power cut can land on either side of a TA install).
    pub fn mutation(&mut self) -> Result<(), StoreError> {
        const POWER_LOST: StoreError = StoreError::Io(0xffff_3024);
        if self.powered_off {
            return Err(POWER_LOST);
        }
        match self.power_cut_after {
            Some(0) => {
                self.powered_off = true;
                return Err(POWER_LOST);
            }
            Some(n) => self.power_cut_after = Some(n - 1),
            None => {}
        }
        let failure = self.fail_with.unwrap_or(StoreError::Io(0xffff_0000));
        match self.fail_after {
            Some(0) => return Err(failure),
            Some(n) => self.fail_after = Some(n - 1),
            None => {}
        }
        match self.fail_once_at {
            Some(0) => {
                self.fail_once_at = core::mem::take(&mut self.fail_next_too).then_some(0);
                return Err(failure);
            }
            Some(n) => self.fail_once_at = Some(n - 1),
            None => {}
        }
        self.mutations += 1;
        Ok(())
    }

    /// `put`, `put_record` and `create`: one create carrying the data.
    fn write_whole(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        self.mutation()?;
        self.bytes_written += data.len() as u64;
        self.count(|o| {
            o.creates += 1;
            o.writes += 1;
        });
        self.objects.insert(name.into(), Object::new(data));
        self.landed()
    }

    /// After a write or removal took effect: the forged failure [`Self::forge_failure_at`]
    /// asks for, if this is its turn.
    fn landed(&mut self) -> Result<(), StoreError> {
        match self.forge_failure_at {
            Some(0) => {
                self.forge_failure_at = None;
                Err(StoreError::Io(0xffff_0000))
            }
            Some(n) => {
                self.forge_failure_at = Some(n - 1);
                Ok(())
            }
            None => Ok(()),
        }
    }

    fn record(&self, op: LoggedOp, name: &str, len: usize, offset: u64) {
        if let Some(log) = self.log.borrow_mut().as_mut() {
            log.push(Logged {
                op,
                name: name.into(),
                len: len as u64,
                offset,
                found: self.objects.contains_key(name),
                before: self.objects.get(name).map_or(0, |o| o.len as u64),
            });
        }
    }

    fn count(&self, f: impl FnOnce(&mut StoreOps)) {
        let mut ops = self.ops.get();
        f(&mut ops);
        self.ops.set(ops);
    }

    /// The objects that survived, with the fault plan cleared: the store after a reboot.
    pub fn after_reboot(&self) -> MemoryStore {
        MemoryStore {
            objects: self.objects.clone(),
            ..MemoryStore::default()
        }
    }
}

impl SecureStore for MemoryStore {
    fn get(&self, name: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        check_name(name)?;
        self.record(LoggedOp::Get, name, 0, 0);
        let found = self.objects.get(name).map(|o| match &self.substitute {
            Some((prefix, other)) if name.starts_with(prefix.as_str()) => {
                Zeroizing::new(other.clone())
            }
            _ => o.to_vec(),
        });
        self.count(|o| match found {
            Some(_) => o.reads += 1,
            None => o.misses += 1,
        });
        Ok(found)
    }

    fn put(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        check_name(name)?;
        self.record(LoggedOp::Put, name, data.len(), 0);
        self.write_whole(name, data)
    }

    fn put_record(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        check_name(name)?;
        self.record(LoggedOp::PutRecord, name, data.len(), 0);
        self.write_whole(name, data)
    }

    /// Checks the caller's claim in test and debug builds: a `create` of an object that
    /// holds something is a bug in the caller's reasoning (over segments it could leave an old
    /// tail readable). A release build (the host tool's simulated device) overwrites, as
    /// OP-TEE's `TEE_DATA_FLAG_OVERWRITE` create does, rather than abort on a logic error.
    fn create(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        check_name(name)?;
        self.record(LoggedOp::Create, name, data.len(), 0);
        debug_assert!(
            self.objects.get(name).is_none_or(|o| o.len == 0),
            "create of {name}, which holds something"
        );
        self.write_whole(name, data)
    }

    fn remove(&mut self, name: &str) -> Result<(), StoreError> {
        check_name(name)?;
        self.record(LoggedOp::Remove, name, 0, 0);
        self.mutation()?;
        let found = self.objects.remove(name).is_some();
        self.count(|o| match found {
            true => o.deletes += 1,
            false => o.misses += 1,
        });
        self.landed()
    }

    fn empty(&mut self, name: &str, len: Option<u64>) -> Result<(), StoreError> {
        check_name(name)?;
        self.record(LoggedOp::Empty(len), name, 0, 0);
        self.write_whole(name, &[])
    }

    fn append(&mut self, name: &str, data: &[u8]) -> Result<u64, StoreError> {
        check_name(name)?;
        self.record(LoggedOp::Append, name, data.len(), 0);
        self.mutation()?;
        self.bytes_written += data.len() as u64;
        let found = self.objects.contains_key(name);
        self.count(|o| {
            o.creates += u32::from(!found);
            o.writes += 1;
        });
        let o = self.objects.entry(name.into()).or_default();
        o.extend(data);
        let len = o.len as u64;
        self.landed().map(|()| len)
    }

    fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StoreError> {
        check_name(name)?;
        self.record(LoggedOp::ReadAt, name, buf.len(), offset);
        let o = self.objects.get(name).ok_or(StoreError::Io(0xffff_0008))?;
        let start = usize::try_from(offset).map_err(|_| StoreError::BadName)?;
        // An offset at or past the end reads nothing (end of object), as GP's TEE_ReadObjectData.
        let n = match &self.substitute {
            Some((prefix, other)) if name.starts_with(prefix.as_str()) => {
                let from = other.get(start..).unwrap_or_default();
                buf.iter_mut().zip(from).map(|(b, s)| *b = *s).count()
            }
            _ => o.read_at(start, buf),
        };
        self.bytes_read.set(self.bytes_read.get() + n as u64);
        self.count(|o| o.reads += 1);
        Ok(n)
    }

    fn len(&self, name: &str) -> Result<Option<u64>, StoreError> {
        check_name(name)?;
        self.record(LoggedOp::Len, name, 0, 0);
        let len = self.objects.get(name).map(|o| o.len as u64);
        if len.is_none() {
            self.count(|o| o.misses += 1);
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The TEE core's out-of-memory is the store's, not an I/O failure (review s38).
    #[test]
    fn tee_results_of_storage_calls_are_typed() {
        let cases = [
            (0xffff_000c, StoreError::OutOfMemory),
            (0xffff_3041, StoreError::NoSpace),
            (0xf010_0001, StoreError::Corrupt),
            (0xf010_0002, StoreError::Corrupt),
            (0xffff_0000, StoreError::Io(0xffff_0000)),
            (0xffff_0003, StoreError::Io(0xffff_0003)),
        ];
        for (code, error) in cases {
            assert_eq!(StoreError::from_tee_result(code), error, "{code:#x}");
        }
    }
}
