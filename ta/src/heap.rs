//! The TA heap's high-water mark, as OP-TEE's own allocator keeps it (libutils' bget malloc,
//! built with `CFG_WITH_STATS` in the TA dev kit): `qemu/bench.sh` shows what an install needed
//! at most, to check that memory does not grow with the payload. Also the wipe of the stack
//! after each entry point ([`scrub_stack`]), next to the memory search that checks it.

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

impl HeapUse {
    /// `prefix max_allocated=.. size=.. alloc_failures=..`, the line `qemu/bench.sh` reads.
    pub fn line(&self, prefix: &str) -> alloc::string::String {
        crate::log::counters(
            prefix,
            &[
                ("max_allocated", self.max_allocated.into()),
                ("size", self.size.into()),
                ("alloc_failures", self.failures.into()),
            ],
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

/// Adds to `counts` how often each needle starts in `[start, end)` and lies wholly inside it.
/// Read volatile, byte by byte, straight from memory: no copy of what is searched is made,
/// which on the stack would land inside the region being searched. Inlined into both callers
/// so that it has no frame of its own there either.
///
/// # Safety
///
/// Every byte of `[start, end)` must be mapped and readable for the whole call, and nothing
/// may write it meanwhile.
#[cfg(test_commands)]
#[inline(always)]
unsafe fn count_in(start: usize, end: usize, needles: &[&[u8]], counts: &mut [u32]) {
    for at in start..end {
        // SAFETY: `start <= at < end`, readable by the caller's contract.
        let first = unsafe { core::ptr::read_volatile(at as *const u8) };
        for (needle, count) in needles.iter().zip(counts.iter_mut()) {
            let fits = at.checked_add(needle.len()).is_some_and(|e| e <= end);
            let found = fits
                && needle.first() == Some(&first)
                && needle.iter().enumerate().skip(1).all(|(i, &b)| {
                    // SAFETY: `at + i < at + needle.len() <= end` (`fits`): readable by the
                    // caller's contract.
                    unsafe { core::ptr::read_volatile((at + i) as *const u8) == b }
                });
            if found {
                *count = count.saturating_add(1);
            }
        }
    }
}

/// How often each needle occurs in the heap arena (`ta_heap`, every byte libutils' malloc
/// manages: live blocks, freed blocks and never-used space alike). For `Command::HeapScan`,
/// which main.rs answers only in test builds.
#[cfg(test_commands)]
pub fn occurrences(needles: &[&[u8]], counts: &mut [u32]) {
    let start = core::ptr::addr_of!(crate::ta_header::ta_heap) as usize;
    // SAFETY: the TA's own heap arena (`ta_heap`, TA_DATA_SIZE bytes, alive for the whole
    // instance). The C allocator writes it behind Rust's back, which is why it is read
    // volatile through addresses, never through a reference; the TA is single-threaded and
    // the search allocates nothing, so nothing writes it meanwhile.
    unsafe {
        count_in(
            start,
            start + crate::ta_header::DATA_SIZE as usize,
            needles,
            counts,
        )
    }
}

/// Leaves `control` deep in the stack (the far end of a 4 KiB frame, below where
/// [`dead_stack_occurrences`]' own frame will lie), as a stack copy of a secret would be: the
/// positive control of the stack search. Deeper than what the scan and its reply call
/// (malloc, formatting) reach, so that without [`scrub_stack`] it would still lie there for
/// the next scan.
#[cfg(test_commands)]
#[inline(never)]
pub fn leave_on_stack(control: &[u8]) {
    let mut frame = [0u8; 4096];
    for (f, c) in frame.iter_mut().zip(control) {
        *f = *c;
    }
    core::hint::black_box(&mut frame);
}

/// Stack that OP-TEE's entry frames may take above the hint `dead_stack_occurrences` gets
/// (generous: libutee's entry and the macro's wrapper take well under 2 KiB).
const ENTRY_FRAMES: usize = 8 * 1024;

/// Stack under the entry frames that [`scrub_stack`] leaves alone: the rest of the entry
/// function's frame and the scrub's own frame around its array.
const SCRUB_MARGIN: usize = 4 * 1024;

/// What [`scrub_stack`] wipes: the stack OP-TEE maps (TA_STACK_SIZE, the entry frames at its
/// top) less [`ENTRY_FRAMES`] and [`SCRUB_MARGIN`] (100 KiB; the deepest path takes 80-88 KiB
/// in all, ta/build.rs). A stack too small for it is a compile-time overflow error, never a
/// wrapped size.
const SCRUB_LEN: usize = crate::ta_header::STACK_SIZE as usize - ENTRY_FRAMES - SCRUB_MARGIN;

/// Zeroes the [`SCRUB_LEN`] bytes right below the caller's frame (`zeroize::zeroize_stack`:
/// a zeroed array on a never-inlined frame, behind an optimization barrier). The TA instance
/// outlives sessions, so its dead stack does too, and crates leave secrets there that no
/// wipe of ours reaches: hkdf's PRK and output blocks, moved-from key slots, hash and cipher
/// temporaries. Called by each entry point after an `#[inline(never)]` handler returns, so
/// every frame the handler and its callees used lies in the wiped range.
#[inline(always)]
pub fn scrub_stack() {
    zeroize::zeroize_stack::<SCRUB_LEN>();
}

/// How often each needle occurs in the dead part of the TA's stack: below this function's
/// frame, down to `TA_STACK_SIZE` under `entry_hint` (an address in the command's entry
/// frame) plus [`ENTRY_FRAMES`], so it stays inside the stack OP-TEE mapped. What deeper calls
/// of this and earlier commands left there is what a stack copy of a secret would be.
#[cfg(test_commands)]
#[inline(never)]
pub fn dead_stack_occurrences(entry_hint: usize, needles: &[&[u8]], counts: &mut [u32]) {
    let here = 0u8;
    let below_frame = (core::ptr::addr_of!(here) as usize).saturating_sub(256);
    let start = (entry_hint + ENTRY_FRAMES).saturating_sub(crate::ta_header::STACK_SIZE as usize);
    // SAFETY: `[start, below_frame)` is inside the TA's stack (or empty), between its lowest
    // mapped byte and this function's frame: ldelf maps exactly TA_STACK_SIZE bytes ending at
    // the initial stack pointer, the entry frames are the top of that, and those above
    // `entry_hint` take less than ENTRY_FRAMES, so `start` (TA_STACK_SIZE below `entry_hint`
    // plus ENTRY_FRAMES) is above the lowest byte. `count_in` is inlined and keeps no copy,
    // so nothing writes that region meanwhile.
    unsafe { count_in(start, below_frame, needles, counts) }
}
