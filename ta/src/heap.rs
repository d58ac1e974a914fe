//! The TA heap's high-water mark, as OP-TEE's own allocator keeps it (libutils' bget malloc,
//! built with `CFG_WITH_STATS` in the TA dev kit): `qemu/bench.sh` shows what an install needed
//! at most, to check that memory does not grow with the payload.

/// `struct pta_stats_alloc` of the dev kit's `pta_stats.h` (OP-TEE 4.x).
#[repr(C)]
#[derive(Default)]
struct AllocStats {
    desc: [u8; 32],
    free2_sum: u64,
    allocated: u32,
    max_allocated: u32,
    size: u32,
    num_alloc_fail: u32,
    biggest_alloc_fail: u32,
    biggest_alloc_fail_used: u32,
}

unsafe extern "C" {
    fn malloc_get_stats(stats: *mut AllocStats);
    fn malloc_reset_stats();
}

/// The heap's use since the last [`reset`]: counts only, no content.
pub struct HeapUse {
    pub max_allocated: u32,
    pub size: u32,
    pub failures: u32,
}

impl core::fmt::Display for HeapUse {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(
            f,
            "max_allocated={} size={} alloc_failures={}",
            self.max_allocated, self.size, self.failures
        )
    }
}

/// Starts a new high-water mark.
pub fn reset() {
    // SAFETY: libutils' `malloc_reset_stats(void)` only resets the allocator's counters, under
    // the allocator's own lock; the TA is single-threaded.
    unsafe { malloc_reset_stats() }
}

/// The heap's use since the last [`reset`].
pub fn used() -> HeapUse {
    let mut stats = AllocStats::default();
    // SAFETY: `malloc_get_stats(struct pta_stats_alloc *)` writes exactly one struct of the
    // layout `AllocStats` mirrors (checked against the dev kit's header) into the valid,
    // exclusively borrowed `stats`, and keeps no pointer to it.
    unsafe { malloc_get_stats(&mut stats) };
    HeapUse {
        max_allocated: stats.max_allocated,
        size: stats.size,
        failures: stats.num_alloc_fail,
    }
}
