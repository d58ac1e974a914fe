//! The update TA's heap budget, enforced on every fuzz input.
//!
//! Inside OP-TEE the TA has a fixed heap (`TA_DATA_SIZE` in ta/build.rs); an input that makes
//! the engine or the service allocate past it would kill the TA there, so it is a finding here
//! too, not a pass. Every Rust allocation goes through [`TaHeap`]; while an input is being
//! processed ([`arm`]), the bytes live above what was live when it started may not exceed the
//! budget, or the process aborts and libFuzzer keeps the input as a crash.
//!
//! The budget comes from `SUIT_FUZZ_HEAP_LIMIT` (bytes), which tests/fuzz.sh reads out of
//! ta/build.rs so there is one source of truth; without it a target refuses to run.

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::OnceLock;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static BASE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);
static ARMED: AtomicBool = AtomicBool::new(false);
static LIMIT: OnceLock<usize> = OnceLock::new();

/// Counts live heap bytes on top of the system allocator.
pub struct TaHeap;

#[global_allocator]
static HEAP: TaHeap = TaHeap;

impl TaHeap {
    fn grew(size: usize) {
        let live = LIVE.fetch_add(size, Ordering::Relaxed) + size;
        if !ARMED.load(Ordering::Relaxed) {
            return;
        }
        let used = live.saturating_sub(BASE.load(Ordering::Relaxed));
        PEAK.fetch_max(used, Ordering::Relaxed);
        if let Some(limit) = LIMIT.get() {
            if used > *limit {
                // No allocation from here on: a fixed message, then abort (libFuzzer saves
                // the input as a crash).
                let _ = std::io::stderr()
                    .write_all(b"suit-fuzz: heap use above the TA's heap (TA_DATA_SIZE)\n");
                std::process::abort();
            }
        }
    }
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds the GlobalAlloc
// contract; the wrapper only does atomic bookkeeping on the sizes.
unsafe impl GlobalAlloc for TaHeap {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        // SAFETY: forwarded with the caller's layout (non-zero size per the contract).
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            Self::grew(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: as `alloc`.
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            Self::grew(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from this allocator (i.e. from `System`) with `layout`.
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        // SAFETY: `ptr`/`layout` came from this allocator; `new_size` per the caller.
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
            Self::grew(new_size);
        }
        p
    }
}

/// Enforces the budget until the guard is dropped (one fuzz input).
pub struct Armed(());

impl Drop for Armed {
    fn drop(&mut self) {
        ARMED.store(false, Ordering::Relaxed);
    }
}

/// Starts counting one input's heap use against the TA's budget.
pub fn arm() -> Armed {
    LIMIT.get_or_init(|| {
        std::env::var("SUIT_FUZZ_HEAP_LIMIT")
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .filter(|v| *v > 0)
            .expect(
                "SUIT_FUZZ_HEAP_LIMIT (bytes) must be set: tests/fuzz.sh sets it from ta/build.rs",
            )
    });
    BASE.store(LIVE.load(Ordering::Relaxed), Ordering::Relaxed);
    PEAK.store(0, Ordering::Relaxed);
    ARMED.store(true, Ordering::Relaxed);
    Armed(())
}

/// Highest heap use above the start of the current (or last) input.
pub fn peak() -> usize {
    PEAK.load(Ordering::Relaxed)
}
