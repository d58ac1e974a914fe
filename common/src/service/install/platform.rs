//! The engine's [`Platform`] over secure storage and the state record: staging objects
//! (named in the [`Journal`] before they exist), payloads fetched from the session's objects,
//! the per-kind checks at commit, and the one atomic state switch.

use alloc::string::String;
use alloc::vec::Vec;
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::report::{image_properties, ReportBuilder};
use crate::suit::platform::{
    Disclosure, IdentifierKind, Platform, PlatformError, Record, Streamed, StreamedCopy,
};
use crate::suit::ComponentId;

use super::super::components::{self, Kind, MAX_PERSONALIZATION, MAX_TA_IMAGE};
use super::super::digests::sha256_so_far;
use super::super::state::{component_from, segments_of, ComponentRecord, State};
use super::super::store::{SecureStore, StoreError, Verified};
use super::super::TaStore;
use super::journal::{Journal, PendingCommit};
use super::stream::Finished;
use super::CommitRefusal;
use super::{MAX_SERIAL, MAX_STAGED};

/// A payload as the session hands it to the engine: stored as it came (`object`), or
/// decrypted as it arrived (`stream`), or not sent.
pub(super) struct Delivered {
    pub uri: String,
    pub object: Option<String>,
    pub stream: Option<Finished>,
    /// Whether the REE sent any of it: a stream that never ended was sent, and its fetch is
    /// the manifest's failure, not a payload left out.
    pub sent: bool,
}

struct Staged {
    component: ComponentId,
    /// This component's own staging object (created on first use).
    object: String,
    len: u64,
    /// Boxed: a `Vec<Staged>` that grows moves its elements and frees the old block unwiped,
    /// and the hash state holds up to a block of the content.
    hasher: alloc::boxed::Box<Sha256>,
    /// Whether `object` exists.
    created: bool,
    /// While every byte written so far equals the same bytes of a payload object (a fetch
    /// without change), that object holds the content and nothing is copied.
    mirror: Option<String>,
    /// A download buffer whose ciphertext was decrypted as it arrived and not kept: nothing
    /// may read it, and it is never committed.
    buffer: bool,
    /// The whole content in TA memory (a TA image decrypted as it arrived), while nothing
    /// but the streamed copy wrote it: `read_staged` then takes it instead of reading back.
    /// With neither `mirror` nor `created`, it is the only copy ([`Staged::in_memory`]).
    image: Option<zeroize::Zeroizing<Vec<u8>>>,
    /// Set by `check_kinds`: the installed content, staged again by the manifest that
    /// installed it (see there). Its record stays as it is; this staging is dropped.
    unchanged: bool,
}

impl Staged {
    /// Where the content is, if anywhere yet.
    fn stored(&self) -> Option<&str> {
        match &self.mirror {
            Some(m) => Some(m),
            None if self.created => Some(&self.object),
            None => None,
        }
    }

    /// The content, when it is in TA memory only (a TA image decrypted as it arrived, which
    /// no object holds): reads are served from it, and a write first gives it an object.
    fn in_memory(&self) -> Option<&[u8]> {
        match self.stored() {
            None => self.image.as_deref().map(|i| i.as_slice()),
            Some(_) => None,
        }
    }
}

/// The chunk `fetch_read` returned last: object, offset and bytes (wiped on drop).
struct LastFetch {
    object: String,
    offset: u64,
    bytes: zeroize::Zeroizing<Vec<u8>>,
    /// No stage write since it was read: only the write that directly follows a fetch read
    /// is compared with it, so decrypted plaintext (written after component reads, never
    /// after a fetch read: the engine refuses decrypting fetches) is never compared with
    /// REE-supplied bytes, and storage behaviour never depends on plaintext.
    fresh: bool,
}

/// The engine's [`Platform`] over secure storage and the state record.
pub(super) struct StorePlatform<'a, D: SecureStore + TaStore> {
    store: &'a mut D,
    state: &'a mut State,
    payloads: Vec<Delivered>,
    fetch: Option<(String, u64)>,
    /// The open fetch is streamed payload `payloads[i]` (see `streamed_fetch`).
    streamed_open: Option<usize>,
    last_fetch: Option<LastFetch>,
    staged: Vec<Staged>,
    staged_sequence: Vec<(Vec<u8>, u64, Vec<u32>)>,
    /// Per staged component: the sequence number of the manifest that staged it.
    staged_by: Vec<(ComponentId, u64)>,
    /// Components whose digest stays inside the TA (see `ComponentRecord::digest_withheld`).
    withheld: Vec<ComponentId>,
    journal: &'a mut Journal,
    /// The slot of this install's staging objects ([`super::free_slot`] of the state it
    /// starts from: the state changes only at commit).
    slot: u64,
    serial: usize,
    /// Why `commit` refused, in words (the engine only sees `PlatformError::Refused`).
    pub(super) refusal: Option<CommitRefusal>,
    pub(super) ree_paths: Vec<String>,
    /// The objects of the components the commit replaced or removed, with the lengths their
    /// records give: the cleanup after the commit empties each by its length
    /// ([`SecureStore::empty`]).
    pub(super) replaced: Vec<(String, u64)>,
    pub(super) report: ReportBuilder,
    /// Installed components whose removal (suit-directive-unlink) is staged.
    unlinked: Vec<ComponentId>,
    /// The commit's state write failed, which does not prove it did not land (the REE
    /// answers REE-FS writes): nothing staged may be deleted now. The stored journal lists
    /// it all, and the next `begin` cleans against whichever state is then stored.
    pub(super) unsettled: bool,
    /// The state a write whose landing is unknown would have made (`StateWriteUncertain`):
    /// its generation and digest, for the attempt's report.
    pub(super) uncertain_next: Option<(u64, [u8; 32])>,
    /// SHA-256 of the envelope being installed: a commit whose TA image is in no object
    /// journals it, as the one envelope that can finish that commit ([`PendingCommit`]).
    pub(super) envelope: [u8; 32],
    /// The pass [`Platform::read`] is making over stored content (see `read_checked`).
    checked: core::cell::Cell<Option<Verified>>,
    /// Stored content read back was not what the TA wrote ([`StoreError::NotCommitted`]): the
    /// install is refused as a storage failure, not as the manifest's.
    pub(super) not_committed: core::cell::Cell<bool>,
    /// The storage reported no space ([`StoreError::NoSpace`]). The engine sees
    /// `PlatformError::NoSpace` for this and for the TA's own limits (staged components,
    /// the state record) alike: `finish` refuses the first as the device's trouble.
    pub(super) storage_full: core::cell::Cell<bool>,
    /// Who released the confidential content of each REE component staged
    /// ([`ComponentRecord::released_by`]): the run's key source; none by default.
    pub(super) releases: &'a dyn super::super::keys::Releases,
}

/// Sequence-number key under which an unlinked component keeps its rollback floor: a removed
/// component may only come back from a manifest newer than the one that removed it.
fn unlinked_key(component: &ComponentId) -> Vec<u8> {
    let mut k = b"unlinked:".to_vec();
    k.extend_from_slice(&component.encode());
    k
}

/// The refusal of a commit whose new rollback key is over quota.
fn quota_refusal(q: super::state::RollbackKeyQuota) -> CommitRefusal {
    use super::state::{RollbackKeyQuota as Q, MAX_ROLLBACK_KEYS, MAX_ROLLBACK_KEYS_PER_ANCHOR};
    let limit = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    match q {
        Q::Anchor(anchor) => CommitRefusal::RollbackKeyQuota {
            anchor,
            limit: limit(MAX_ROLLBACK_KEYS_PER_ANCHOR),
        },
        Q::Device => CommitRefusal::TooManyRollbackKeys {
            limit: limit(MAX_ROLLBACK_KEYS),
        },
    }
}

impl<'a, D: SecureStore + TaStore> StorePlatform<'a, D> {
    pub(super) fn new(
        store: &'a mut D,
        state: &'a mut State,
        payloads: Vec<Delivered>,
        report: ReportBuilder,
        journal: &'a mut Journal,
        envelope: [u8; 32],
    ) -> Self {
        let slot = super::free_slot(state);
        StorePlatform {
            store,
            state,
            slot,
            payloads,
            fetch: None,
            streamed_open: None,
            last_fetch: None,
            staged: Vec::new(),
            staged_sequence: Vec::new(),
            staged_by: Vec::new(),
            withheld: Vec::new(),
            journal,
            serial: 0,
            refusal: None,
            ree_paths: Vec::new(),
            replaced: Vec::new(),
            report,
            unlinked: Vec::new(),
            unsettled: false,
            uncertain_next: None,
            envelope,
            checked: core::cell::Cell::new(None),
            not_committed: core::cell::Cell::new(false),
            storage_full: core::cell::Cell::new(false),
            releases: &(),
        }
    }

    fn refuse(&mut self, reason: CommitRefusal) -> PlatformError {
        self.refusal = Some(reason);
        PlatformError::Refused
    }

    /// Checks every staged component against what its kind requires, before anything
    /// irreversible happens; returns the TA images to install (at most one, read once: the
    /// heap holds one copy, bounded by [`MAX_TA_IMAGE`]).
    #[allow(clippy::type_complexity)]
    fn check_kinds(
        &mut self,
        next: &State,
    ) -> Result<Vec<(usize, components::TaHeader, zeroize::Zeroizing<Vec<u8>>)>, PlatformError>
    {
        let mut tas = Vec::new();
        for i in 0..self.staged.len() {
            let staged = self.staged.get(i).ok_or(PlatformError::NotFound)?;
            let (component, len) = (staged.component.clone(), staged.len);
            // Per-component rollback, again at the last moment: only a newer manifest, or the
            // same one re-run as a dependency with identical content, may replace content.
            let by = self.staged_by_sequence(&component)?;
            if let Some(floor) = next.sequence_number(&unlinked_key(&component)) {
                if by <= floor {
                    return Err(self.refuse(CommitRefusal::Removed { component, floor }));
                }
            }
            let mut unchanged = false;
            if let Some(current) = next.component(&component) {
                let staged = self.staged.get(i).ok_or(PlatformError::NotFound)?;
                // Not a heap clone finished by value (it would free the clone's block with
                // plaintext in its buffer), nor a copy in this frame (see `digests`).
                let digest = sha256_so_far(&staged.hasher);
                if by < current.sequence_number
                    || (by == current.sequence_number
                        && current.digest.as_slice() != digest.as_slice())
                {
                    let installed = current.sequence_number;
                    return Err(self.refuse(CommitRefusal::Rollback {
                        component,
                        offered: by,
                        installed,
                    }));
                }
                // Identical content under its own number: the dependency that installed it,
                // re-run by a newer dependent. Nothing changes, and a TA is neither installed
                // again nor refused as not newer than itself; unless OP-TEE left the TA's
                // last install unconfirmed (its store may hold another image): that one goes
                // the ordinary way.
                unchanged = by == current.sequence_number;
            }
            let kind = components::classify(&component);
            if let Ok(Kind::TrustedApp { uuid }) = &kind {
                unchanged &= !next.is_unconfirmed(uuid);
            }
            self.staged
                .get_mut(i)
                .ok_or(PlatformError::NotFound)?
                .unchanged = unchanged;
            match kind {
                Err(_) => return Err(self.refuse(CommitRefusal::NotReePath(component))),
                Ok(Kind::TrustedApp { .. }) if unchanged => {}
                Ok(Kind::TrustedApp { uuid }) => {
                    if len > MAX_TA_IMAGE {
                        return Err(self.refuse(CommitRefusal::TaTooLarge(len)));
                    }
                    // Before reading a second image: the heap holds at most one.
                    if !tas.is_empty() {
                        return Err(self.refuse(CommitRefusal::OneTaPerUpdate));
                    }
                    let image = self.read_staged(i)?;
                    let installed = next.component(&component).and_then(|c| c.ta_version);
                    let refusal = match components::parse_ta_header(&image) {
                        Err(error) => Some(CommitRefusal::NotTaImage {
                            component: component.clone(),
                            error,
                        }),
                        Ok(h) if h.uuid != uuid => Some(CommitRefusal::WrongTa {
                            image: crate::fault::uuid(&h.uuid),
                            manifest: crate::fault::uuid(&uuid),
                        }),
                        Ok(h) => match installed {
                            Some(installed) if h.ta_version <= installed => {
                                Some(CommitRefusal::TaNotNewer {
                                    offered: h.ta_version,
                                    installed,
                                })
                            }
                            _ => {
                                tas.push((i, h, image));
                                None
                            }
                        },
                    };
                    if let Some(refusal) = refusal {
                        // Each refusal names what the header says: of content whose digest is
                        // withheld, none may leave (a co-owner could copy a secret here to
                        // read its bytes through them).
                        return Err(self.refuse(if self.withheld.contains(&component) {
                            CommitRefusal::WithheldNotInstallable(component)
                        } else {
                            refusal
                        }));
                    }
                }
                Ok(Kind::Personalization { .. }) if len > MAX_PERSONALIZATION => {
                    return Err(self.refuse(CommitRefusal::PersonalizationTooLarge(len)));
                }
                Ok(Kind::Ree { path }) => self.ree_paths.push(path),
                Ok(_) => {}
            }
        }
        Ok(tas)
    }

    /// Reads content the TA wrote (`object`, committed or staged as `size` bytes hashing to
    /// `digest`) through the one checked pass [`Verified`] kept between calls: bytes past
    /// `size` (a stale tail of another state) are never read, and the read that reaches the
    /// end fails unless everything returned is that content.
    fn read_checked(
        &self,
        (object, size, digest): (&str, u64, &[u8]),
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, PlatformError> {
        let mut slot = self.checked.take();
        let read = Verified::read_in(&mut slot, &*self.store, (object, size, digest), offset, buf);
        self.checked.set(slot);
        read.map_err(|e| self.checked_io(e))
    }

    /// [`Self::io`] of a read of content the TA wrote, noting [`StoreError::NotCommitted`].
    fn checked_io(&self, e: StoreError) -> PlatformError {
        self.not_committed
            .set(self.not_committed.get() || e == StoreError::NotCommitted);
        self.store_error(e)
    }

    /// [`Self::io`] of a storage call, noting the storage's own out-of-space
    /// (`storage_full`).
    fn store_error(&self, e: StoreError) -> PlatformError {
        self.storage_full
            .set(self.storage_full.get() || e == StoreError::NoSpace);
        Self::io(e)
    }

    /// The whole staged content of component `i` (a TA image on its way to OP-TEE's TA
    /// store): the kept copy, or read back from the store and checked against its digest.
    fn read_staged(&mut self, i: usize) -> Result<zeroize::Zeroizing<Vec<u8>>, PlatformError> {
        let staged = self.staged.get_mut(i).ok_or(PlatformError::NotFound)?;
        if let Some(image) = staged.image.take() {
            if image.len() as u64 == staged.len {
                return Ok(image);
            }
        }
        // What the engine hashed and matched as it was staged: the REE-backed store must give
        // back exactly that (it may answer a read with an older or another file).
        let expected = sha256_so_far(&staged.hasher);
        let object = staged.stored().ok_or(PlatformError::NotFound)?;
        let len = usize::try_from(staged.len).map_err(|_| PlatformError::NoSpace)?;
        let mut image = super::store::zeroed(len).map_err(Self::io)?;
        let mut pass = Verified::new(object, staged.len, &expected);
        let mut at = 0;
        while let Some(rest) = image.get_mut(at..).filter(|r| !r.is_empty()) {
            match pass.read(&*self.store, at as u64, rest) {
                Ok(n) => at += n,
                Err(e) => return Err(self.checked_io(e)),
            }
        }
        Ok(image)
    }

    /// Gives staged component `i` its own object (named in the journal first), copying the
    /// mirrored payload bytes into it if it had none; else the object is created holding
    /// (a prefix of) `first`, and the count of `first`'s bytes it took is returned.
    fn materialize(&mut self, i: usize, first: &[u8]) -> Result<usize, PlatformError> {
        let staged = self.staged.get(i).ok_or(PlatformError::NotFound)?;
        if staged.created {
            return Ok(0);
        }
        let (object, mirror, len) = (staged.object.clone(), staged.mirror.clone(), staged.len);
        // What the mirrored bytes hashed to as they were staged: the copy is checked against it.
        let digest = sha256_so_far(&staged.hasher);
        let copies = mirror.is_some();
        if staged.in_memory().is_some() {
            return self.materialize_image(i);
        }
        self.note(&object)?;
        // From here the object may exist (`discard` deletes it) and holds the content.
        let staged = self.staged.get_mut(i).ok_or(PlatformError::NotFound)?;
        staged.created = true;
        staged.mirror = None;
        // Each object is created with its first bytes: one create, not an empty one and a
        // write. A staging name holds nothing (missing, or emptied by the cleanup of `begin`
        // or of an earlier finish: its slot is no installed component's), and this object
        // was just listed.
        let taken = match mirror {
            None => {
                let first = first
                    .get(..first.len().min(super::MAX_CREATE_WITH_DATA))
                    .ok_or(PlatformError::Io)?;
                if let Err(e) = self.store.create(&object, first) {
                    return Err(self.store_error(e));
                }
                first.len()
            }
            Some(source) => {
                let mut buf =
                    super::store::zeroed(crate::suit::platform::CHUNK_LEN).map_err(Self::io)?;
                let mut pass = Verified::new(&source, len, &digest);
                let mut at = 0u64;
                loop {
                    let want = usize::try_from(len - at)
                        .unwrap_or(usize::MAX)
                        .min(buf.len());
                    let dest = buf.get_mut(..want).ok_or(PlatformError::Io)?;
                    let n = match want {
                        0 => 0,
                        _ => match pass.read(&*self.store, at, dest) {
                            Ok(n) => n,
                            Err(e) => return Err(self.checked_io(e)),
                        },
                    };
                    if n == 0 && at < len {
                        return Err(PlatformError::Io);
                    }
                    let read = buf.get(..n).ok_or(PlatformError::BadLength)?;
                    let written = if at == 0 {
                        self.store.create(&object, read)
                    } else {
                        self.store.append(&object, read).map(drop)
                    };
                    if let Err(e) = written {
                        return Err(self.store_error(e));
                    }
                    at += n as u64;
                    if at >= len {
                        break;
                    }
                }
                0
            }
        };
        if !copies {
            let staged = self.staged.get_mut(i).ok_or(PlatformError::NotFound)?;
            staged.len = taken as u64;
        }
        Ok(taken)
    }

    /// Gives staged component `i`, whose content is in TA memory only, its own object holding
    /// that content (named in the journal first): before the content changes, or is read by
    /// what needs it stored. Takes none of the caller's bytes.
    fn materialize_image(&mut self, i: usize) -> Result<usize, PlatformError> {
        let staged = self.staged.get(i).ok_or(PlatformError::NotFound)?;
        let object = staged.object.clone();
        self.note(&object)?;
        let staged = self.staged.get_mut(i).ok_or(PlatformError::NotFound)?;
        let image = staged.image.take().unwrap_or_default();
        // From here the object may exist (`discard` deletes it) and holds the content.
        staged.created = true;
        let (first, rest) = image.split_at(image.len().min(super::MAX_CREATE_WITH_DATA));
        let mut written = self.store.create(&object, first);
        if written.is_ok() && !rest.is_empty() {
            written = self.store.append(&object, rest).map(drop);
        }
        written.map_err(|e| self.store_error(e))?;
        Ok(0)
    }

    /// Names `object` in the journal before it is created, with every object the current
    /// state uses: the commit may replace any of them, and naming them now, in the same
    /// write, saves the commit its own journal write (`cleanup` deletes only those the
    /// committed state no longer uses, so listing a kept one changes nothing).
    fn note(&mut self, object: &str) -> Result<(), PlatformError> {
        let state = &*self.state;
        let used = state.components.iter().map(|c| c.object.as_str());
        let names = core::iter::once(object).chain(used.filter(|o| !o.is_empty()));
        let noted = self.journal.note_all(self.store, names);
        noted.map_err(|e| self.store_error(e))
    }

    /// The sequence number of the manifest that staged `component`'s content or removal. None
    /// staged is an error: any other number (the run's highest, say a dependent's) would
    /// record a number no manifest acting on the component carried.
    fn staged_by_sequence(&self, component: &ComponentId) -> Result<u64, PlatformError> {
        self.staged_by
            .iter()
            .find(|(c, _)| c == component)
            .map(|(_, v)| *v)
            .ok_or(PlatformError::NotFound)
    }

    fn io(e: StoreError) -> PlatformError {
        match e {
            StoreError::NoSpace => PlatformError::NoSpace,
            StoreError::Io(code) => PlatformError::Other(code),
            StoreError::NotCommitted => PlatformError::NotCommitted,
            _ => PlatformError::Io,
        }
    }
}

impl<D: SecureStore + TaStore> Platform for StorePlatform<'_, D> {
    fn identifier_matches(
        &self,
        kind: IdentifierKind,
        _component: &ComponentId,
        value: &[u8],
    ) -> bool {
        let id = &self.state.identity;
        let mine = match kind {
            IdentifierKind::Vendor => &id.vendor_id,
            IdentifierKind::Class => &id.class_id,
            IdentifierKind::Device => &id.device_id,
        };
        mine.as_ref().is_some_and(|m| m.as_slice() == value)
    }

    fn fetch_open(&mut self, uri: &str, _fetch_args: Option<&[u8]>) -> Result<(), PlatformError> {
        self.fetch = None;
        self.streamed_open = None;
        // `prepare` lists every URI of the root and of the dependencies it could read, and a
        // delivered dependency envelope adds its own (`delivered_dependency`): any other one
        // is a payload of a dependency that was never listed (the REE did not send it, or it
        // took the install beyond its limits), named as such.
        let Some(i) = self.payloads.iter().position(|d| d.uri == uri) else {
            return Err(self.refuse(CommitRefusal::UnlistedPayload(String::from(uri))));
        };
        match self.payloads.get(i) {
            Some(Delivered {
                object: Some(object),
                ..
            }) => {
                self.fetch = Some((object.clone(), 0));
                Ok(())
            }
            // Only `streamed_fetch` takes it; `fetch_read` finds nothing open.
            Some(Delivered {
                stream: Some(_), ..
            }) => {
                self.streamed_open = Some(i);
                Ok(())
            }
            // Left out by the REE (see `CommitRefusal::PayloadNotDelivered`): named, so that a
            // `NotFound` from anything else (a copy from a component the device lacks) is
            // never taken for it.
            Some(Delivered { sent: false, .. }) => {
                Err(self.refuse(CommitRefusal::PayloadNotDelivered(String::from(uri))))
            }
            _ => Err(PlatformError::NotFound),
        }
    }

    fn fetch_read(&mut self, buf: &mut [u8]) -> Result<usize, PlatformError> {
        let (object, offset) = self.fetch.as_mut().ok_or(PlatformError::NotFound)?;
        let n = self.store.read_at(object, *offset, buf).map_err(Self::io)?;
        let chunk = buf.get(..n).ok_or(PlatformError::Io)?;
        if n == 0 {
            self.last_fetch = None;
            return Ok(0);
        }
        // Remembered so that a stage write of exactly these bytes needs no copy.
        let last = match self.last_fetch.take() {
            Some(mut l) => {
                l.object.clone_from(object);
                l.bytes.clear();
                l
            }
            None => LastFetch {
                object: object.clone(),
                offset: 0,
                bytes: zeroize::Zeroizing::new(Vec::new()),
                fresh: false,
            },
        };
        let mut last = last;
        last.offset = *offset;
        last.fresh = true;
        if last.bytes.try_reserve(n).is_ok() {
            last.bytes.extend_from_slice(chunk);
            self.last_fetch = Some(last);
        }
        *offset += n as u64;
        Ok(n)
    }

    fn stage_open(&mut self, component: &ComponentId) -> Result<(), PlatformError> {
        self.stage_discard(component);
        if self.staged.len() >= MAX_STAGED || self.serial >= MAX_SERIAL {
            return Err(PlatformError::NoSpace);
        }
        let object = super::object_name(super::STAGING_PREFIX, self.slot, self.serial);
        self.serial += 1;
        // Created (and named in the journal) on the first write that is not a fetched
        // payload's own bytes, or at commit.
        self.staged.push(Staged {
            component: component.clone(),
            object,
            len: 0,
            hasher: alloc::boxed::Box::new(Sha256::new()),
            created: false,
            mirror: None,
            buffer: false,
            image: None,
            unchanged: false,
        });
        Ok(())
    }

    fn stage_write(&mut self, component: &ComponentId, data: &[u8]) -> Result<(), PlatformError> {
        let i = self
            .staged
            .iter()
            .position(|s| s.component == *component)
            .ok_or(PlatformError::NotFound)?;
        let fresh = self.last_fetch.as_mut().is_some_and(|l| {
            let f = l.fresh;
            l.fresh = false;
            f
        });
        // Content in TA memory only is stored first: the write changes it.
        if self.staged.get(i).is_some_and(|s| s.in_memory().is_some()) {
            self.materialize_image(i)?;
        }
        let s = self.staged.get_mut(i).ok_or(PlatformError::NotFound)?;
        // The content changes: a kept image no longer is all of it.
        s.image = None;
        // The same bytes at the same offset of the payload object the fetch just read:
        // that object already holds them.
        let mirrors = fresh
            && !s.created
            && self.last_fetch.as_ref().is_some_and(|l| {
                l.offset == s.len
                    && l.bytes.as_slice() == data
                    && s.mirror.as_ref().is_none_or(|m| *m == l.object)
                    && (s.mirror.is_some() || s.len == 0)
            });
        if mirrors {
            let object = self.last_fetch.as_ref().map(|l| l.object.clone());
            let s = self.staged.get_mut(i).ok_or(PlatformError::NotFound)?;
            s.mirror = object;
            s.len += data.len() as u64;
        } else {
            let taken = self.materialize(i, data)?;
            let rest = data.get(taken..).ok_or(PlatformError::Io)?;
            if !rest.is_empty() {
                let s = self.staged.get_mut(i).ok_or(PlatformError::NotFound)?;
                match self.store.append(&s.object, rest) {
                    Ok(len) => s.len = len,
                    Err(e) => return Err(self.store_error(e)),
                }
            }
        }
        self.staged
            .get_mut(i)
            .ok_or(PlatformError::NotFound)?
            .hasher
            .update(data);
        Ok(())
    }

    fn stage_discard(&mut self, component: &ComponentId) {
        self.unlinked.retain(|u| u != component);
        if let Some(pos) = self.staged.iter().position(|s| s.component == *component) {
            let s = self.staged.remove(pos);
            if s.created {
                let _ = self.store.remove(&s.object);
            }
        }
    }

    fn read(
        &self,
        component: &ComponentId,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<usize, PlatformError> {
        if let Some(s) = self.staged.iter().find(|s| s.component == *component) {
            if s.buffer {
                return Err(PlatformError::NotFound);
            }
            if let Some(image) = s.in_memory() {
                let rest = usize::try_from(offset)
                    .ok()
                    .and_then(|at| image.get(at..))
                    .unwrap_or_default();
                let n = rest.len().min(buf.len());
                let (to, from) = buf
                    .get_mut(..n)
                    .zip(rest.get(..n))
                    .ok_or(PlatformError::Io)?;
                to.copy_from_slice(from);
                return Ok(n);
            }
            // Checked against the digest taken as it was staged, as installed content is
            // against its record's.
            let digest = sha256_so_far(&s.hasher);
            return match s.stored() {
                Some(object) => self.read_checked((object, s.len, &digest), offset, buf),
                None => Ok(0),
            };
        }
        match self.state.component(component) {
            Some(c) => self.read_checked((&c.object, c.size, &c.digest), offset, buf),
            None => Err(PlatformError::NotFound),
        }
    }

    fn sequence_number(&self, key: &[u8]) -> Result<Option<u64>, PlatformError> {
        Ok(self.state.sequence_number(key))
    }

    /// Keeps the highest number staged for `key` (a root and its dependencies may share one),
    /// with every signer of the manifests that staged it.
    fn stage_sequence_number(
        &mut self,
        key: &[u8],
        value: u64,
        signers: &[u32],
    ) -> Result<(), PlatformError> {
        let mut highest = value;
        let mut by: Vec<u32> = signers.to_vec();
        for (_, v, s) in self.staged_sequence.iter().filter(|(k, _, _)| k == key) {
            highest = highest.max(*v);
            for id in s {
                if !by.contains(id) {
                    by.push(*id);
                }
            }
        }
        self.staged_sequence.retain(|(k, _, _)| k != key);
        self.staged_sequence.push((key.to_vec(), highest, by));
        Ok(())
    }

    fn component_sequence_number(
        &self,
        component: &ComponentId,
    ) -> Result<Option<u64>, PlatformError> {
        Ok(self
            .state
            .component(component)
            .map(|c| c.sequence_number)
            .or_else(|| self.state.sequence_number(&unlinked_key(component))))
    }

    /// Trusted applications assert their version through the signed TA header's
    /// `ta_version`, recorded at install: `[ta_version]`. Other components have no version
    /// the TA knows, so suit-condition-version fails on them.
    fn component_version(
        &self,
        component: &ComponentId,
    ) -> Result<Option<alloc::vec::Vec<i64>>, PlatformError> {
        Ok(self
            .state
            .component(component)
            .and_then(|c| c.ta_version)
            .map(|v| alloc::vec![i64::from(v)]))
    }

    fn wall_clock(&self) -> Option<crate::suit::update_management::WallClock> {
        self.store.wall_clock()
    }

    fn stage_digest_withheld(&mut self, component: &ComponentId) {
        if !self.withheld.contains(component) {
            self.withheld.push(component.clone());
        }
    }

    fn installed_digest_withheld(&self, component: &ComponentId) -> bool {
        self.state
            .component(component)
            .is_some_and(|c| c.digest_withheld)
    }

    /// A TA's image is parsed (header, UUID, version) and handed to OP-TEE at commit.
    fn interprets_content(&self, component: &ComponentId) -> bool {
        matches!(components::classify(component), Ok(Kind::TrustedApp { .. }))
    }

    /// Everything but a normal-world file lives inside the TEE: a TA, its personalization
    /// data, a secure component. Its content is committed only on the signed manifest's word,
    /// never on the REE's (an `['ree', ...]` file is REE data whatever was committed).
    fn requires_vouched_content(&self, component: &ComponentId) -> bool {
        !matches!(components::classify(component), Ok(Kind::Ree { .. }))
    }

    fn stage_component_sequence_number(
        &mut self,
        component: &ComponentId,
        value: u64,
    ) -> Result<(), PlatformError> {
        self.staged_by.retain(|(c, _)| c != component);
        self.staged_by.push((component.clone(), value));
        Ok(())
    }

    /// What removal means per kind: personalization data and other secure-storage
    /// components are deleted at commit; a TA is refused (OP-TEE gives a TA no call to
    /// delete another TA from its store); an `['ree', ...]` file is refused (the agent has
    /// no removal step the TA could approve). Removing what is not installed does nothing.
    fn unlink(&mut self, component: &ComponentId) -> Result<(), PlatformError> {
        match components::classify(component) {
            Err(_) => Err(self.refuse(CommitRefusal::NotReePath(component.clone()))),
            Ok(Kind::TrustedApp { uuid }) => {
                Err(self.refuse(CommitRefusal::UnlinkTa(crate::fault::uuid(&uuid))))
            }
            Ok(Kind::Ree { path }) => Err(self.refuse(CommitRefusal::UnlinkRee(path))),
            Ok(Kind::Personalization { .. }) | Ok(Kind::Secure) => {
                if self.state.component(component).is_some() && !self.unlinked.contains(component) {
                    self.unlinked.push(component.clone());
                }
                Ok(())
            }
        }
    }

    fn commit(&mut self) -> Result<(), PlatformError> {
        let mut next = self.state.clone();
        next.generation += 1;
        // A new rollback key over its owner's quota (or the device's) is refused before
        // anything is written.
        let quota = self
            .staged_sequence
            .iter()
            .find_map(|(k, v, signers)| next.set_sequence_number_by(k, *v, signers).err());
        if let Some(q) = quota {
            return Err(self.refuse(quota_refusal(q)));
        }
        self.ree_paths.clear();
        // A streamed download buffer is never committed (the engine drops it once copied).
        if self.staged.iter().any(|s| s.buffer) {
            return Err(PlatformError::Refused);
        }
        // Every component needs an object to name in the state; empty ones get theirs now.
        // A TA image in TA memory only needs none: it goes to OP-TEE's TA store from there.
        for i in 0..self.staged.len() {
            let needs = self.staged.get(i).is_some_and(|s| {
                s.stored().is_none()
                    && (s.in_memory().is_none()
                        || !matches!(
                            components::classify(&s.component),
                            Ok(Kind::TrustedApp { .. })
                        ))
            });
            if needs {
                self.materialize(i, &[])?;
            }
        }
        let tas = self.check_kinds(&next)?;
        // What the new state no longer uses, with the length its record gives (none for a
        // TA's staged image, which no record names).
        let mut replaced: Vec<(String, Option<u64>)> = Vec::new();
        for (i, s) in self.staged.iter().enumerate() {
            let ta_version = tas
                .iter()
                .find(|(j, _, _)| *j == i)
                .map(|(_, h, _)| h.ta_version);
            // No record names a TA's staged image, nor content staged again unchanged.
            if ta_version.is_some() || s.unchanged {
                if let Some(object) = s.stored() {
                    replaced.push((object.into(), None));
                }
            }
            if s.unchanged {
                continue;
            }
            let record = ComponentRecord {
                id: segments_of(&s.component),
                digest: crate::protocol::ByteBuf::from(sha256_so_far(&s.hasher).to_vec()),
                size: s.len,
                // An installed TA lives in OP-TEE's TA store; we keep no plaintext copy.
                object: if ta_version.is_some() {
                    String::new()
                } else {
                    s.stored().unwrap_or_default().into()
                },
                sequence_number: self.staged_by_sequence(&s.component)?,
                ta_version,
                digest_withheld: self.withheld.contains(&s.component),
                released_by: self.releases.released_by(&s.component),
            };
            match next
                .components
                .iter_mut()
                .find(|c| component_from(&c.id) == s.component)
            {
                Some(existing) => {
                    let old = core::mem::replace(existing, record);
                    if !old.object.is_empty() {
                        replaced.push((old.object, Some(old.size)));
                    }
                }
                None => next.components.push(record),
            }
        }
        // Removals: the record goes, its object becomes garbage after the switch (journaled
        // below like a replaced one), and the rollback floor stays as a sequence number.
        let mut quota = None;
        for c in &self.unlinked {
            if let Some(pos) = next
                .components
                .iter()
                .position(|r| component_from(&r.id) == *c)
            {
                let old = next.components.remove(pos);
                if !old.object.is_empty() {
                    replaced.push((old.object, Some(old.size)));
                }
                // The removing manifest's own number (the engine stages it, see
                // `Platform::stage_component_sequence_number`), not the run's highest: a
                // dependent's number must not floor a component it may not touch.
                let floor = self.staged_by_sequence(c)?;
                if let Err(q) =
                    next.set_sequence_number(&unlinked_key(c), old.sequence_number.max(floor))
                {
                    quota = Some(q);
                    break;
                }
            }
        }
        if let Some(q) = quota {
            return Err(self.refuse(quota_refusal(q)));
        }
        if next.components.len() > super::state::MAX_COMPONENTS {
            return Err(PlatformError::NoSpace);
        }
        // What the new state no longer uses becomes garbage the moment it is durable: list it
        // first, so a power cut after the switch leaves nothing unaccounted for. Usually the
        // journal's first write listed it already (see `note`): then nothing is written here.
        let listed = self.journal.objects.len();
        for (name, _) in &replaced {
            if !self.journal.objects.contains(name) {
                self.journal.objects.push(name.clone());
            }
        }
        let unlisted = self.journal.objects.len() > listed;
        if let Some((_, header, _)) = tas.first() {
            // Room to mark it should OP-TEE not confirm it: checked before anything
            // irreversible, or a refusal could neither finish nor end the commit.
            if !self.state.can_mark_unconfirmed(&header.uuid) {
                return Err(
                    self.refuse(CommitRefusal::TooManyUnconfirmed(crate::fault::uuid(
                        &header.uuid,
                    ))),
                );
            }
            // Installed as recorded once OP-TEE confirms it (the next state is written only
            // then).
            next.confirm(&header.uuid);
        }
        // Before anything irreversible: a state `load` would refuse is never journaled.
        next.fits().map_err(|_| PlatformError::NoSpace)?;
        if let Some((i, header, image)) = tas.first() {
            // OP-TEE's TA store is outside our state and cannot be undone: record the whole
            // next state before touching it, and where the image is found again: its staged
            // object (kept until installed), which `reconcile` installs again after a power
            // cut; or, for an image decrypted as it arrived and kept in TA memory only, this
            // envelope, which must then be installed again (the same manifest over the same
            // state: this commit) before anything else runs. It replaces the commit an
            // earlier install of this envelope left awaiting it.
            let staged = self.staged.get(*i).ok_or(PlatformError::NotFound)?;
            let (tas, envelope) = match staged.stored() {
                Some(object) => (alloc::vec![String::from(object)], None),
                None => (Vec::new(), Some(self.envelope.to_vec().into())),
            };
            let awaits = envelope.is_some();
            let earlier = self.journal.pending.replace(PendingCommit {
                state: next.clone(),
                tas,
                envelope,
            });
            // An install that did not finish is pending: retried from the kept object before
            // the next command, or awaiting this envelope again.
            let pending = |code| match awaits {
                true => CommitRefusal::AwaitingEnvelope {
                    uuid: crate::fault::uuid(&header.uuid),
                    code,
                },
                false => CommitRefusal::InstallPending {
                    uuid: crate::fault::uuid(&header.uuid),
                    code,
                },
            };
            if let Err(e) = self.journal.save(self.store) {
                // The write may have landed all the same (the REE answers REE-FS RPCs). OP-TEE
                // has not been asked yet: take the record back, so that "not applied" is true
                // (an earlier commit awaiting this envelope stays as it was).
                let pending = core::mem::replace(&mut self.journal.pending, earlier);
                if self.journal.save(self.store).is_ok() {
                    return Err(self.store_error(e));
                }
                // Unknown: the commit stays pending, so nothing it needs is deleted, and
                // `reconcile` settles it before the next command from what is stored.
                self.journal.pending = pending;
                self.uncertain_next = next.digest().ok().map(|d| (next.generation, d));
                return Err(self.refuse(CommitRefusal::StateWriteUncertain));
            }
            // The image checked above, not re-read: what OP-TEE gets is what was checked.
            // OP-TEE's verdict on content whose digest is withheld says what it is (a bad
            // signature or format): only that it was refused leaves the TA, by any path.
            let withheld = self.withheld.contains(&staged.component);
            if let Err(code) = self.store.install_ta(image) {
                let shown = if withheld && !super::journal::RETRIED.contains(&code) {
                    0xffff_0000 // TEE_ERROR_GENERIC
                } else {
                    code
                };
                // An error does not prove that OP-TEE stored nothing (the REE answers the TA
                // store's RPCs, and may fail one after the image landed). A failure to store
                // keeps the commit pending: `reconcile` tries again before the next command.
                if super::journal::RETRIED.contains(&code) {
                    return Err(self.refuse(pending(code)));
                }
                // A refusal of the image, or a failure that will not pass: the update is not
                // applied, and the state says so of this TA in the same atomic write that ends
                // the pending commit (see `State::unconfirmed_tas`).
                let marked = self
                    .state
                    .unapplied_commit(next.generation, &[header.uuid])
                    .filter(|m| m.save(self.store).is_ok());
                // Not written: still pending, and `reconcile` tries the install again (and marks
                // the TA if OP-TEE refuses it again).
                let Some(marked) = marked else {
                    return Err(self.refuse(pending(shown)));
                };
                *self.state = marked;
                // The pending commit is over (its generation is the state's): cleaning it
                // from the journal may fail without consequence (`reconcile` skips it).
                let pending = self.journal.pending.take();
                if self.journal.save(self.store).is_err() {
                    self.journal.pending = pending;
                }
                return Err(self.refuse(CommitRefusal::InstallNotConfirmed {
                    uuid: crate::fault::uuid(&header.uuid),
                    code: shown,
                }));
            }
            // The TA is in OP-TEE's store and the journal holds the commit: if the state write
            // fails, `reconcile` finishes it before the next command (installing the kept image
            // again), so the update is applied either way; the answer says so, and that the
            // same envelope is not to be sent again.
            if next.save(self.store).is_err() {
                // The write may have landed all the same: nothing staged may be deleted
                // against the old state (the next `begin` cleans against whichever is stored).
                self.unsettled = true;
                return Err(self.refuse(match awaits {
                    true => pending(0),
                    false => CommitRefusal::CommitPending {
                        uuid: crate::fault::uuid(&header.uuid),
                    },
                }));
            }
            self.journal.pending = None;
            // The stored journal still holds the commit: the cleanup after it writes the
            // journal if it lists objects, else this does (a failure leaves a commit the
            // state has reached, which `reconcile` drops).
            if self.journal.objects.is_empty() {
                let _ = self.journal.save(self.store);
            }
        } else {
            if unlisted {
                if let Err(e) = self.journal.save(self.store) {
                    return Err(self.store_error(e));
                }
            }
            // The single atomic step: before it the old state holds, after it the new one.
            if next.save(self.store).is_err() {
                self.unsettled = true;
                self.uncertain_next = next.digest().ok().map(|d| (next.generation, d));
                self.refusal = Some(CommitRefusal::StateWriteUncertain);
                return Err(PlatformError::Io);
            }
        }
        *self.state = next;
        self.replaced = replaced
            .into_iter()
            .filter_map(|(name, len)| Some((name, len?)))
            .collect();
        self.staged.clear();
        self.staged_sequence.clear();
        Ok(())
    }

    fn discard(&mut self) {
        let staged = core::mem::take(&mut self.staged);
        // A commit whose TA already reached OP-TEE is finished by `reconcile`, which needs
        // the staged objects (the kept image, and the content its state names); the journal
        // lists them all for the cleanup after.
        if self.journal.pending.is_none() && !self.unsettled {
            for s in staged.into_iter().filter(|s| s.created) {
                let _ = self.store.remove(&s.object);
            }
        }
        self.staged_sequence.clear();
    }

    /// Keeps what the manifest's reporting policy asks for; system information for a
    /// component is its image digest and size, as the engine's [`Disclosure`] allows: staged
    /// content only when the engine vouches for it, else the installed image. This platform's
    /// own staging area (which may hold unauthenticated plaintext) is never described.
    fn report(&mut self, record: &Record<'_>) {
        if !self.report.record(record) {
            return;
        }
        let Some(c) = record.component else {
            return;
        };
        let properties = match record.disclosure {
            Disclosure::Staged { digest, size } => Some(image_properties(&digest.0, size)),
            Disclosure::Withheld => None,
            Disclosure::Installed => self.state.component(c).and_then(|x| {
                <[u8; 32]>::try_from(x.public_digest()?)
                    .ok()
                    .map(|d| image_properties(&d, x.size))
            }),
        };
        if let Some(p) = properties {
            self.report.system_properties(c, p);
        }
    }

    /// The open fetch is a payload decrypted as it arrived, planned into `component`: the
    /// buffer stays empty (nothing may read it) and the engine gets the ciphertext's count
    /// and digest, taken as it arrived.
    fn streamed_fetch(&mut self, component: &ComponentId) -> Option<Streamed> {
        let i = self.streamed_open.take()?;
        let stream = self.payloads.get_mut(i)?.stream.as_mut()?;
        if stream.fetched || stream.plan.buffer != *component {
            return None;
        }
        stream.fetched = true;
        let answer = Streamed {
            digest: crate::suit::Digest(stream.cipher_digest),
            size: stream.cipher_len,
        };
        let staged = self.staged.iter_mut().find(|s| s.component == *component)?;
        staged.buffer = true;
        staged.len = answer.size;
        Some(answer)
    }

    /// The decrypting copy the session did as the payload arrived, if it is exactly this
    /// one: same buffer (fetched in this run), target, encryption-info bytes and content key
    /// (keys may have changed since the first chunk: a provisioning message in between).
    fn streamed_copy(
        &mut self,
        source: &ComponentId,
        encryption_info: &[u8],
        key_check: &[u8; 32],
        target: &ComponentId,
    ) -> Option<StreamedCopy> {
        let stream = self.payloads.iter_mut().find_map(|d| {
            d.stream.as_mut().filter(|s| {
                s.fetched
                    && !s.copied
                    && s.plan.buffer == *source
                    && s.plan.target == *target
                    && s.plan.encryption_info == encryption_info
                    && bool::from(s.key_check.ct_eq(key_check))
            })
        })?;
        if stream.over {
            // Only a prefix was staged: nothing of it becomes the target's content. Past the
            // engine's limit (equal to the plan's today) `size` alone makes the engine refuse,
            // in the words of its ordinary path; the end refuses in any other case.
            return Some(StreamedCopy {
                digest: crate::suit::Digest(sha256_so_far(&stream.plain)),
                size: stream.plain_len,
                finish: Err(crate::encryption::DecryptError::PayloadTooLong),
            });
        }
        let image = stream
            .image
            .take()
            .filter(|image| image.len() as u64 == stream.plain_len);
        if stream.image_only && image.is_none() {
            // Not every released byte is in the image, and no object holds any: nothing of
            // it becomes the target's content (the image is reserved whole, so this does not
            // happen; it is refused as a decryption that did not end).
            return Some(StreamedCopy {
                digest: crate::suit::Digest(sha256_so_far(&stream.plain)),
                size: stream.plain_len,
                finish: Err(crate::encryption::DecryptError::Poisoned),
            });
        }
        let staged = self.staged.iter_mut().find(|s| s.component == *target)?;
        stream.copied = true;
        staged.len = stream.plain_len;
        // The stream's state itself, not a copy: a by-value clone (`clone_from` is one) left
        // the state, with plaintext in its buffer, in this frame, where the `None` written to
        // `mirror` below took 16 bytes of it into the heap (see `digests`). The stream is
        // copied once, and nothing reads its state after.
        core::mem::swap(&mut staged.hasher, &mut stream.plain);
        // The payload object holds the plaintext: the component's content, as for a fetch
        // without change (journaled at its creation; `cleanup` removes it unless the
        // committed state names it). A TA image kept in TA memory only is in no object.
        staged.mirror = (!stream.image_only).then(|| stream.object.clone());
        staged.image = image;
        Some(StreamedCopy {
            digest: crate::suit::Digest(sha256_so_far(&staged.hasher)),
            size: stream.plain_len,
            finish: stream.end,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::memory::MemoryBackend;

    /// Content or a removal no manifest's number was staged for is never committed under
    /// another number (the run's highest, say a dependent's): the commit fails, and nothing
    /// is stored.
    #[test]
    fn nothing_is_committed_without_the_number_of_the_manifest_that_acted() {
        let x = ComponentId::new(&[&b"app"[..], b"x"]);
        let mut installed = State::new();
        installed.components.push(ComponentRecord {
            id: segments_of(&x),
            digest: crate::protocol::ByteBuf::from(Sha256::digest(b"x").to_vec()),
            size: 1,
            object: "suit/c/0/0".into(),
            sequence_number: 2,
            ta_version: None,
            digest_withheld: false,
            released_by: Vec::new(),
        });
        let y = ComponentId::new(&[&b"app"[..], b"y"]);
        type Act = fn(&mut StorePlatform<'_, MemoryBackend>, &ComponentId, &ComponentId);
        let stage: Act = |p, _, y| {
            p.stage_open(y).unwrap();
            p.stage_write(y, b"content").unwrap();
        };
        let remove: Act = |p, x, _| p.unlink(x).unwrap();
        for act in [stage, remove] {
            let mut backend = MemoryBackend::new(0);
            let mut state = installed.clone();
            let mut journal = Journal::default();
            let report = ReportBuilder::new();
            let mut p = StorePlatform::new(
                &mut backend,
                &mut state,
                Vec::new(),
                report,
                &mut journal,
                [0; 32],
            );
            p.stage_sequence_number(b"root", 100, &[]).unwrap();
            act(&mut p, &x, &y);
            assert_eq!(p.commit(), Err(PlatformError::NotFound));
            drop(p);
            assert_eq!(state, installed);
            assert_eq!(State::load(backend.store()).unwrap(), State::new());
        }
    }
}
