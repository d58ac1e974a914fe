//! The test binaries' global allocator, one copy for all of them: it measures the heap a
//! thread uses (peak, largest block; optionally as OP-TEE's allocator counts it) and, in its
//! scanning form, searches every block a thread frees for secrets' bytes.
//!
//! A test binary installs it itself (an allocator is process-wide, so only the binaries that
//! need it have it):
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOCATOR: suit_test_support::heap::TestAllocator =
//!     suit_test_support::heap::TestAllocator::scanning();
//! ```
//!
//! Both forms count only for a thread that asks ([`peak_heap`], [`largest_allocation`]) and
//! search only the frees of a thread that asks ([`scan_for`]); other test threads are not
//! counted or searched. The scanning form fills every new block with a pattern and zeroes
//! every freed block (any thread's), so that what a free finds was written by the block's own
//! owner; a `Vec` that grows frees its old block (scanned), as OP-TEE's allocator does.
//! [`scan_for`] needs the scanning form: the counting form leaves blocks as the system
//! allocator does (and grows blocks in place), for test binaries that only measure.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::{Cell, RefCell};

/// The allocator (see the module documentation).
pub struct TestAllocator {
    /// Fill new blocks, search and zero freed ones.
    scanning: bool,
}

impl TestAllocator {
    /// Counts and scans (what [`scan_for`] needs).
    pub const fn scanning() -> Self {
        TestAllocator { scanning: true }
    }

    /// Counts only; blocks are left as the system allocator leaves them.
    pub const fn counting() -> Self {
        TestAllocator { scanning: false }
    }
}

thread_local! {
    /// What this thread's frees are searched for while the code under test runs (empty
    /// otherwise).
    static NEEDLES: RefCell<Vec<Vec<u8>>> = const { RefCell::new(Vec::new()) };
    static HITS: Cell<usize> = const { Cell::new(0) };
    static TRACK: Cell<bool> = const { Cell::new(false) };
    static LIVE: Cell<isize> = const { Cell::new(0) };
    static PEAK: Cell<isize> = const { Cell::new(0) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
    /// Count blocks as OP-TEE's allocator (bget, LP64) takes them: rounded up to 16 bytes,
    /// with a 16-byte header each (see [`peak_ta_heap`]).
    static AS_BGET: Cell<bool> = const { Cell::new(false) };
}

/// `size` bytes as the thread counts them.
fn counted(size: usize) -> isize {
    let bget = AS_BGET.try_with(Cell::get).unwrap_or(false);
    (if bget {
        size.div_ceil(16) * 16 + 16
    } else {
        size
    }) as isize
}

/// `try_with` throughout: a thread being torn down is not counted or searched.
fn account(delta: isize) {
    let _ = TRACK.try_with(|t| {
        if t.get() {
            let _ = LIVE.try_with(|l| {
                let now = l.get() + delta;
                l.set(now);
                let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
            });
        }
    });
}

fn note_fresh_block(size: usize) {
    let _ = TRACK.try_with(|t| {
        if t.get() {
            let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
        }
    });
}

/// Counts a freed block of this thread that holds any of the needles.
fn count_needles(block: &[u8]) {
    // `try_borrow`: the needles being replaced (their own frees) are not searched.
    let _ = NEEDLES.try_with(|n| {
        if let Ok(needles) = n.try_borrow() {
            if needles
                .iter()
                .any(|x| !x.is_empty() && block.windows(x.len()).any(|w| w == &x[..]))
            {
                let _ = HITS.try_with(|h| h.set(h.get() + 1));
            }
        }
    });
}

impl TestAllocator {
    /// A block from the system allocator, filled in the scanning form: a new block starts as
    /// a pattern no secret contains, so what a free finds was written by its owner, not left
    /// in the memory by whatever the system allocator did with it before (a release build
    /// found marker bytes in the unwritten tail of a new `Vec`'s block otherwise).
    ///
    /// # Safety
    /// `GlobalAlloc::alloc`'s contract.
    unsafe fn system_alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `GlobalAlloc::alloc`, passed on.
        let block = unsafe { System.alloc(layout) };
        if self.scanning && !block.is_null() {
            // SAFETY: `block` was just allocated with `layout`: valid for `layout.size()` bytes.
            unsafe { std::ptr::write_bytes(block, 0xee, layout.size()) };
        }
        block
    }
}

// SAFETY: every block comes from `System` with the caller's layout and goes back to it with
// the same; `alloc` fills only the block it returns, `dealloc` reads and zeroes only the block
// it is handed (each valid for `layout.size()` bytes) before that is freed, and `realloc`
// copies the smaller of the two sizes between two such blocks. Otherwise only thread-local
// counters change.
unsafe impl GlobalAlloc for TestAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract for `GlobalAlloc::alloc`, passed on.
        let block = unsafe { self.system_alloc(layout) };
        if !block.is_null() {
            account(counted(layout.size()));
            note_fresh_block(layout.size());
        }
        block
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if self.scanning {
            // SAFETY: `ptr` was allocated with `layout` and is not yet freed.
            let block = unsafe { std::slice::from_raw_parts_mut(ptr, layout.size()) };
            count_needles(block);
            // Every block is zeroed when freed, so what a later owner frees holds only what
            // that owner wrote (the test's own copies of the secret never reach the code
            // under test).
            block.fill(0);
        }
        account(-counted(layout.size()));
        // SAFETY: the caller's contract for `GlobalAlloc::dealloc`, passed on.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if !self.scanning {
            // SAFETY: the caller's contract for `GlobalAlloc::realloc`, passed on.
            let p = unsafe { System.realloc(ptr, layout, new_size) };
            if !p.is_null() {
                // As OP-TEE's allocator grows a block: a new one, then the old one freed.
                account(counted(new_size));
                account(-counted(layout.size()));
            }
            return p;
        }
        // A new block, the contents copied, the old block freed (and scanned): every grown
        // `Vec` leaves its old block to the scan, wherever the system allocator would have
        // grown it. Not a fresh allocation for `largest_allocation`.
        // SAFETY: the caller guarantees `new_size`, rounded up to `layout.align()`, does not
        // overflow `isize` (`GlobalAlloc::realloc`'s contract), and the alignment is valid.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: `new_layout` has a non-zero size (the caller's contract).
        let new = unsafe { self.system_alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: `ptr` is valid for `layout.size()` bytes, `new` for `new_size`; they are
            // two distinct live blocks.
            unsafe { std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size)) };
            account(counted(new_size));
            // SAFETY: `ptr` was allocated with `layout` and is freed once, here.
            unsafe { self.dealloc(ptr, layout) };
        }
        new
    }
}

/// Runs `f` with this thread's frees searched for any of `needles` (the scanning form): its
/// result and the number of freed blocks holding one.
pub fn scan_for<T>(needles: Vec<Vec<u8>>, f: impl FnOnce() -> T) -> (T, usize) {
    HITS.with(|h| h.set(0));
    NEEDLES.with(|n| *n.borrow_mut() = needles);
    let r = f();
    drop(NEEDLES.with(|n| std::mem::take(&mut *n.borrow_mut())));
    (r, HITS.with(Cell::get))
}

/// Runs `f` and returns its result and the most heap it held at once beyond what was live
/// when it started.
pub fn peak_heap<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LIVE.with(|l| l.set(0));
    PEAK.with(|p| p.set(0));
    TRACK.with(|t| t.set(true));
    let r = f();
    TRACK.with(|t| t.set(false));
    (r, PEAK.with(|p| p.get()).max(0) as usize)
}

/// [`peak_heap`] with every block counted as OP-TEE's allocator holds it (bget on LP64:
/// `SizeQuant` 16, a 16-byte block header), for comparisons with the TA's `TA_DATA_SIZE`.
/// Fragmentation is not modelled (review s34).
pub fn peak_ta_heap<R>(f: impl FnOnce() -> R) -> (R, usize) {
    AS_BGET.with(|b| b.set(true));
    let r = peak_heap(f);
    AS_BGET.with(|b| b.set(false));
    r
}

/// Runs `f` and returns its result and the largest buffer it allocated afresh (a buffer that
/// grows, such as an in-memory store's object, is not a fresh allocation).
pub fn largest_allocation<R>(f: impl FnOnce() -> R) -> (R, usize) {
    LARGEST.with(|l| l.set(0));
    TRACK.with(|t| t.set(true));
    let r = f();
    TRACK.with(|t| t.set(false));
    (r, LARGEST.with(|l| l.get()))
}
