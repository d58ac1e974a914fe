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

/// Bytes of the arena copied out at a time (plus the longest needle less one, so a match
/// across two pieces is seen once).
const PIECE: usize = 4096;

/// How often each needle occurs in the heap arena (`ta_heap`, every byte libutils' malloc
/// manages: live blocks, freed blocks and never-used space alike). For `Command::HeapScan`,
/// which main.rs answers only in test builds. Needles are at most `MAX_NEEDLE` bytes.
pub fn occurrences(needles: &[&[u8]], counts: &mut [u32]) {
    use suit_common::protocol::heap_scan::MAX_NEEDLE;
    let base = core::ptr::addr_of!(crate::ta_heap).cast::<u8>();
    let len = crate::TA_DATA_SIZE as usize;
    let mut piece = zeroize::Zeroizing::new([0u8; PIECE + MAX_NEEDLE]);
    let mut start = 0;
    while start < len {
        let end = (start + PIECE + MAX_NEEDLE - 1).min(len);
        let Some(window) = piece.get_mut(..end - start) else {
            return;
        };
        for (i, byte) in window.iter_mut().enumerate() {
            // SAFETY: `start + i < len`, so the address is inside the TA's own heap arena
            // (`ta_heap`, TA_DATA_SIZE bytes, alive for the whole instance). The C allocator
            // writes that memory behind Rust's back, so it is read volatile, byte by byte,
            // through a raw pointer: no reference to memory other code owns is made, and the TA
            // is single-threaded, so nothing writes it meanwhile.
            *byte = unsafe { core::ptr::read_volatile(base.add(start + i)) };
        }
        let starts = PIECE.min(window.len());
        for (needle, count) in needles.iter().zip(counts.iter_mut()) {
            let hits = (0..starts)
                .filter(|&at| window.get(at..).is_some_and(|w| w.starts_with(needle)))
                .count();
            *count = count.saturating_add(u32::try_from(hits).unwrap_or(u32::MAX));
        }
        start += PIECE;
    }
}
