//! Objects longer than one physical object may be: each logical object is a chain of
//! segments, `name`, `name~1`, `name~2`, ..., every one but the last exactly
//! [`Segmented::segment_len`] long.
//!
//! Why: OP-TEE's REE FS holds an open object's whole hash tree in TEE core memory, and
//! `TEE_WriteObjectData` panics the TA (TEE_ERROR_OUT_OF_MEMORY, which GP does not let it
//! return) once the core heap cannot hold it; on the QEMU build one object reached 5.25 MiB.
//! With segments, what a backend keeps open is bounded whatever the payload size.
//!
//! Power cuts: `put` replaces the first segment atomically (shorter than a segment, so it
//! alone ends the object: old or new, never a mix) and then deletes the old tail; `remove`
//! deletes from the highest segment down, up to the first missing one, so what an
//! interrupted `put` or `remove` leaves is found by the next `put` or `remove` of the name
//! (the service removes or restarts every object its journal names after a power cut); a new
//! segment is always created afresh, never appended to something left under its name, and an
//! append that fills its last segment exactly deletes what is left under the next name.
//!
//! An object longer than a segment in its first physical object was written by a TA from
//! before segments; it is read and grown as the one object it is.
//!
//! Cost: on OP-TEE each look for a segment that is not there is a failed open, as dear as a
//! write under emulation. A `Segmented` (one per TA session, never a static: the caches below
//! are sound only while nothing else writes the store) remembers the names it knows to have
//! no segment past the first (see [`Segmented::tail_free`]), so `put` and `remove` of a record
//! look once per session, not on every call.

use alloc::string::String;
use zeroize::Zeroizing;

use super::store::{check_name, SecureStore, StoreError};

/// Marks a segment name; refused in logical names so that none can alias a segment.
pub const SEGMENT_MARK: char = '~';

/// Highest segment index (with 512 KiB segments, 128 MiB: twice the largest payload).
pub const MAX_SEGMENT: u64 = 256;

/// A [`SecureStore`] of logical objects over a store of bounded physical objects.
pub struct Segmented<S> {
    inner: S,
    segment_len: u64,
    /// The object last appended to: payloads arrive in many chunks, and finding an object's
    /// end (and whether it is whole) otherwise means opening its segments for each.
    appended: core::cell::RefCell<Option<Appended>>,
    /// Logical names known to have no physical segment past the first: this instance removed
    /// their tails itself, or found their first segment missing (removal goes highest first,
    /// so no segment outlives the first), and has not written past the first since. Sound
    /// because this `Segmented` is its store's only writer while it lives: it lives one
    /// session, the TA's storage is private to it, and the TA serves one session at a time.
    /// At most [`MAX_KNOWN`] names.
    tail_free: core::cell::RefCell<alloc::vec::Vec<String>>,
    /// Logical names known to have no physical object at all: found missing or removed by
    /// this instance and not written since (sound as `tail_free` is). A look-up of one
    /// answers without asking the store, which on OP-TEE saves a failed open (e.g. the KEK
    /// record of a device that has none, read for the first payload chunk and at finish).
    absent: core::cell::RefCell<alloc::vec::Vec<String>>,
    /// Logical names this instance created afresh ([`SecureStore::create`]) or removed, and
    /// has grown since only by appending: no physical segment exists past their end, so an
    /// append that fills a segment exactly need not look for one under the next name.
    fresh: core::cell::RefCell<alloc::vec::Vec<String>>,
    /// The last content this instance read (`get`) or wrote (`put_record`) of small whole
    /// objects, not written since: records (state, device keys, journal) are read by several
    /// commands of one install, and each read is a supplicant round trip and a hash-tree
    /// walk. Sound as `tail_free` is; wiped when dropped (the device keys are among them).
    records: core::cell::RefCell<alloc::vec::Vec<(String, Zeroizing<alloc::vec::Vec<u8>>)>>,
}

/// Most objects [`Segmented`] keeps the content of, and the longest it keeps.
const MAX_RECORDS: usize = 4;
const MAX_RECORD_LEN: usize = 16 * 1024;

/// Most names [`Segmented`] remembers as tail-free (an install touches about ten).
const MAX_KNOWN: usize = 16;

impl<S: SecureStore> Segmented<S> {
    /// Segments of at most `segment_len` bytes (at least 1).
    pub fn new(inner: S, segment_len: u64) -> Self {
        Segmented {
            inner,
            segment_len: segment_len.max(1),
            appended: core::cell::RefCell::new(None),
            tail_free: core::cell::RefCell::new(alloc::vec::Vec::new()),
            absent: core::cell::RefCell::new(alloc::vec::Vec::new()),
            fresh: core::cell::RefCell::new(alloc::vec::Vec::new()),
            records: core::cell::RefCell::new(alloc::vec::Vec::new()),
        }
    }

    fn is_tail_free(&self, name: &str) -> bool {
        self.tail_free.borrow().iter().any(|n| n == name)
    }

    fn set_tail_free(&self, name: &str, free: bool) {
        remember_name(&self.tail_free, name, free);
    }

    fn is_absent(&self, name: &str) -> bool {
        self.absent.borrow().iter().any(|n| n == name)
    }

    fn is_fresh(&self, name: &str) -> bool {
        self.fresh.borrow().iter().any(|n| n == name)
    }

    /// Before any write of `name` (taken even if the write then fails): it may exist from
    /// now on.
    fn writing(&self, name: &str) {
        remember_name(&self.absent, name, false);
        self.forget_record(name);
    }

    /// The start of every whole-object write (`put`, `put_record`, `create`): only objects
    /// shorter than a segment, whose one write is atomic; then [`Self::writing`].
    fn whole_write(&self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        check_logical(name)?;
        if data.len() as u64 >= self.segment_len {
            return Err(StoreError::NoSpace);
        }
        self.forget_length(name);
        self.writing(name);
        Ok(())
    }

    fn forget_record(&self, name: &str) {
        self.records.borrow_mut().retain(|(n, _)| n != name);
    }

    /// The content `name` holds, as this instance last read or wrote it.
    fn recorded(&self, name: &str) -> Result<Option<Zeroizing<alloc::vec::Vec<u8>>>, StoreError> {
        let records = self.records.borrow();
        let Some((_, bytes)) = records.iter().find(|(n, _)| n == name) else {
            return Ok(None);
        };
        wiped_copy(bytes).map(Some)
    }

    /// Keeps `bytes` as `name`'s content (if small: records, not payloads).
    fn record(&self, name: &str, bytes: &[u8]) {
        if bytes.len() > MAX_RECORD_LEN {
            return;
        }
        let Ok(copy) = wiped_copy(bytes) else {
            return;
        };
        let mut records = self.records.borrow_mut();
        records.retain(|(n, _)| n != name);
        if records.len() >= MAX_RECORDS {
            records.remove(0);
        }
        records.push((String::from(name), copy));
    }

    /// `name` has no physical segment left: removed whole, or found missing.
    fn gone(&self, name: &str) {
        self.set_tail_free(name, true);
        remember_name(&self.absent, name, true);
        remember_name(&self.fresh, name, true);
    }

    /// The physical store.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The physical store, mutably (tests: fault plans).
    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Longest physical object.
    pub fn segment_len(&self) -> u64 {
        self.segment_len
    }

    fn remember(&self, name: &str, len: u64, whole: bool) {
        *self.appended.borrow_mut() = Some(Appended {
            name: String::from(name),
            len,
            whole,
        });
    }

    fn forget_length(&self, name: &str) {
        let mut appended = self.appended.borrow_mut();
        if appended.as_ref().is_some_and(|a| a.name == name) {
            *appended = None;
        }
    }

    /// The segments `name` has from `first` on: their count and the length of the last. The
    /// object ends at its first short segment; `past_end` also counts what follows it (an old
    /// tail a power cut inside `put` left), for deletion.
    fn segments_from(
        &self,
        name: &str,
        first: u64,
        past_end: bool,
    ) -> Result<(u64, u64), StoreError> {
        let mut k = first;
        let mut last = 0;
        if self.is_absent(name) {
            return Ok((0, 0));
        }
        while k <= MAX_SEGMENT {
            if k > 0 && self.is_tail_free(name) {
                break;
            }
            match self.inner.len(&segment_name(name, k)?)? {
                None if k == 0 => {
                    self.gone(name);
                    break;
                }
                None => break,
                Some(len) => {
                    last = len;
                    k += 1;
                    if len < self.segment_len && !past_end {
                        break;
                    }
                }
            }
        }
        Ok((k - first, last))
    }

    /// Deletes segments `first..` (up to the first missing one), the highest first.
    fn remove_segments_from(&mut self, name: &str, first: u64) -> Result<(), StoreError> {
        let (count, _) = self.segments_from(name, first, true)?;
        for k in (first..first + count).rev() {
            self.inner.remove(&segment_name(name, k)?)?;
        }
        match first {
            0 => self.gone(name),
            1 => self.set_tail_free(name, true),
            _ => {}
        }
        Ok(())
    }

    /// The length this instance knows `name` to have: it grew it last.
    fn known_len(&self, name: &str) -> Option<u64> {
        self.appended
            .borrow()
            .as_ref()
            .filter(|a| a.name == name && !a.whole)
            .map(|a| a.len)
    }

    /// Deletes the segments past the first of `name`, which a record says holds `len` bytes:
    /// the length names the segments, so only the last is opened (its handle is the one its
    /// delete then takes) instead of every one to find the end, and no look-up past a short
    /// last segment fails. The claim is checked there: every segment but the last is full,
    /// so a last segment of the expected length ends an object of `len` bytes; a full one
    /// does not end it, and what follows is looked for as `remove` does (unless this
    /// instance created the object and only appended to it since). `false`, having deleted
    /// nothing, on any other answer (a prefix left by a cut removal, an object written whole
    /// by an older TA, a longer mirror): the caller walks. Not looked for: a segment past a
    /// short last one, which only a `put` cut between its two steps leaves (the service
    /// creates and appends a component's object; a restarted upload's `put` completes
    /// before anything is appended, or the upload fails).
    fn remove_tail_by_len(&mut self, name: &str, len: u64) -> Result<bool, StoreError> {
        if self.is_absent(name) {
            return Ok(true);
        }
        let last = len.saturating_sub(1) / self.segment_len;
        let in_last = len - last * self.segment_len;
        if last > MAX_SEGMENT || self.inner.len(&segment_name(name, last)?)? != Some(in_last) {
            return Ok(false);
        }
        if in_last == self.segment_len && !self.is_fresh(name) {
            self.remove_segments_from(name, last + 1)?;
        }
        for k in (1..=last).rev() {
            self.inner.remove(&segment_name(name, k)?)?;
        }
        Ok(true)
    }

    /// Whether `name` is one physical object longer than a segment: written by a TA from
    /// before segments, read and grown as it is.
    fn is_whole(&self, name: &str) -> Result<bool, StoreError> {
        Ok(self
            .inner
            .len(name)?
            .is_some_and(|len| len > self.segment_len))
    }

    fn logical_len(&self, name: &str) -> Result<Option<u64>, StoreError> {
        let (count, last) = self.segments_from(name, 0, false)?;
        Ok((count > 0).then(|| (count - 1) * self.segment_len + last))
    }
}

/// `bytes` in a buffer wiped on drop (a failed allocation is an error, not an abort).
fn wiped_copy(bytes: &[u8]) -> Result<Zeroizing<alloc::vec::Vec<u8>>, StoreError> {
    let mut copy = super::store::zeroed(bytes.len())?;
    copy.copy_from_slice(bytes);
    Ok(copy)
}

/// Adds `name` to (`known`) or drops it from a bounded list of names (the oldest goes
/// first beyond [`MAX_KNOWN`]: forgetting only costs a look-up).
fn remember_name(list: &core::cell::RefCell<alloc::vec::Vec<String>>, name: &str, known: bool) {
    let mut list = list.borrow_mut();
    let at = list.iter().position(|n| n == name);
    match (at, known) {
        (Some(i), false) => {
            list.remove(i);
        }
        (None, true) => {
            if list.len() >= MAX_KNOWN {
                list.remove(0);
            }
            list.push(String::from(name));
        }
        _ => {}
    }
}

/// What [`Segmented::append`] remembers of the object it last grew.
struct Appended {
    name: String,
    len: u64,
    /// Written whole by a TA from before segments: grown as the one object it is.
    whole: bool,
}

/// The physical name of segment `k` of `name`.
pub fn segment_name(name: &str, k: u64) -> Result<String, StoreError> {
    let physical = if k == 0 {
        String::from(name)
    } else {
        let mut s = String::from(name);
        s.push(SEGMENT_MARK);
        crate::text::push_decimal(&mut s, k);
        s
    };
    check_name(&physical)?;
    Ok(physical)
}

fn check_logical(name: &str) -> Result<(), StoreError> {
    check_name(name)?;
    if name.contains(SEGMENT_MARK) {
        return Err(StoreError::BadName);
    }
    Ok(())
}

impl<S: SecureStore> SecureStore for Segmented<S> {
    fn get(
        &self,
        name: &str,
    ) -> Result<Option<zeroize::Zeroizing<alloc::vec::Vec<u8>>>, StoreError> {
        check_logical(name)?;
        if let Some(bytes) = self.recorded(name)? {
            return Ok(Some(bytes));
        }
        let Some(total) = self.logical_len(name)? else {
            return Ok(None);
        };
        let len = usize::try_from(total).map_err(|_| StoreError::Corrupt)?;
        let mut buf = super::store::zeroed(len)?;
        if self.read_at(name, 0, &mut buf)? != len {
            return Err(StoreError::Corrupt);
        }
        self.record(name, &buf);
        Ok(Some(buf))
    }

    /// Atomic within one segment, so a whole-object write of a segment or more is refused
    /// (records are far smaller; payloads grow by `append`).
    fn put(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        self.whole_write(name, data)?;
        remember_name(&self.fresh, name, false);
        self.inner.put(name, data)?;
        // The short first segment already ends the new object; an older, longer one's tail
        // (a payload upload started over) only takes space.
        self.remove_segments_from(name, 1)
    }

    /// A record never had segments past the first (it is never appended to, and refused at
    /// a segment's length), so nothing is looked for after the atomic write.
    fn put_record(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        self.whole_write(name, data)?;
        self.inner.put(name, data)?;
        // Never longer than a segment: no tail for a later `remove` to look for either.
        self.set_tail_free(name, true);
        self.record(name, data);
        Ok(())
    }

    /// The caller knows nothing is stored under `name`, so no segment of it either (a
    /// segment never outlives the first, see the module's notes): nothing is looked for.
    fn create(&mut self, name: &str, data: &[u8]) -> Result<(), StoreError> {
        self.whole_write(name, data)?;
        self.inner.create(name, data)?;
        self.set_tail_free(name, true);
        remember_name(&self.fresh, name, true);
        Ok(())
    }

    fn remove(&mut self, name: &str) -> Result<(), StoreError> {
        check_logical(name)?;
        self.forget_length(name);
        // Its content is gone (a removal that fails part way leaves some of it).
        self.forget_record(name);
        self.remove_segments_from(name, 0)
    }

    /// The tail goes first (highest segment first, as `remove`), then the first segment is
    /// rewritten empty: a cut in between leaves the start of the object, still listed by
    /// the journal that named it. Known to have nothing past its first segment afterwards.
    fn empty(&mut self, name: &str, len: Option<u64>) -> Result<(), StoreError> {
        check_logical(name)?;
        let len = len.or_else(|| self.known_len(name));
        let by_len = match len {
            Some(len) => self.remove_tail_by_len(name, len)?,
            None => false,
        };
        if !by_len {
            self.remove_segments_from(name, 1)?;
        }
        self.whole_write(name, &[])?;
        self.inner.put(name, &[])?;
        self.set_tail_free(name, true);
        remember_name(&self.fresh, name, true);
        Ok(())
    }

    fn append(&mut self, name: &str, data: &[u8]) -> Result<u64, StoreError> {
        check_logical(name)?;
        // Taken: an append that fails part way leaves the length to be found again.
        let known = self.appended.take().filter(|a| a.name == name);
        let (mut total, whole) = match known {
            Some(a) => (a.len, a.whole),
            None => {
                let len = self.logical_len(name)?.unwrap_or(0);
                (len, len > self.segment_len && self.is_whole(name)?)
            }
        };
        // After the look-up above, which may find the object missing.
        self.writing(name);
        if whole {
            let len = self.inner.append(name, data)?;
            self.remember(name, len, true);
            return Ok(len);
        }
        let mut rest = data;
        loop {
            let (k, within) = (total / self.segment_len, total % self.segment_len);
            if k > MAX_SEGMENT {
                return Err(StoreError::NoSpace);
            }
            let room = usize::try_from(self.segment_len - within).unwrap_or(usize::MAX);
            let (piece, after) = rest.split_at(rest.len().min(room));
            let physical = segment_name(name, k)?;
            if k > 0 {
                self.set_tail_free(name, false);
            }
            if within == 0 && k > 0 {
                // A new segment: anything left under its name is dropped first.
                self.inner.put(&physical, piece)?;
            } else if self.inner.append(&physical, piece)? != within + piece.len() as u64 {
                return Err(StoreError::Corrupt);
            }
            total += piece.len() as u64;
            rest = after;
            if rest.is_empty() {
                break;
            }
        }
        if total % self.segment_len == 0 && total > 0 && !self.is_fresh(name) {
            // A full last segment: whatever is left under the next name would be read as
            // part of the object.
            self.remove_segments_from(name, total / self.segment_len)?;
        }
        self.remember(name, total, false);
        Ok(total)
    }

    fn read_at(&self, name: &str, offset: u64, buf: &mut [u8]) -> Result<usize, StoreError> {
        check_logical(name)?;
        let mut done = 0usize;
        while let Some(rest) = buf.get_mut(done..).filter(|r| !r.is_empty()) {
            let at = offset.saturating_add(done as u64);
            let (k, within) = (at / self.segment_len, at % self.segment_len);
            if k > MAX_SEGMENT {
                break;
            }
            let want = rest
                .len()
                .min(usize::try_from(self.segment_len - within).unwrap_or(usize::MAX));
            let dest = rest.get_mut(..want).ok_or(StoreError::Corrupt)?;
            let physical = segment_name(name, k)?;
            if k > 0 && self.inner.len(&physical)?.is_none() {
                // Past the last segment: the end of the object, unless it is whole.
                if self.is_whole(name)? {
                    done += self.inner.read_at(name, at, rest)?;
                }
                break;
            }
            let n = self.inner.read_at(&physical, within, dest)?;
            done += n;
            if n < want {
                break;
            }
        }
        Ok(done)
    }

    fn len(&self, name: &str) -> Result<Option<u64>, StoreError> {
        check_logical(name)?;
        let known = self
            .appended
            .borrow()
            .as_ref()
            .filter(|a| a.name == name)
            .map(|a| a.len);
        match known {
            Some(len) => Ok(Some(len)),
            None => self.logical_len(name),
        }
    }
}
