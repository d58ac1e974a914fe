//! SHA-256 over secret content without leaving a hash state on the stack.
//!
//! A hash state over secret content holds up to a block of that content (its buffer, and
//! stale bytes of earlier blocks past the buffer's position). Finishing it without consuming
//! it takes a by-value copy, and a by-value copy in a frame that also builds records for
//! the heap is a leak: the compiler reuses the dead copy's stack slot for later temporaries,
//! and the uninitialized bytes of such a temporary (a `None`'s unused payload, padding) carry
//! the content into the heap when the temporary is moved there (a release build did exactly
//! that: `Staged::mirror = None` took 16 bytes of a TA image from a cloned state, and the
//! `Vec<Staged>` block was freed with them, NOTES session 43). So every such copy is made in
//! a frame of its own, which is wiped before the caller goes on: nothing of it stays for a
//! later value in the caller's frame or a later callee's to pick up. A state that takes
//! content over several calls is boxed, and only [`sha256_so_far`] finishes it.

use sha2::{Digest as _, Sha256};

/// Stack below its own frame that each function here wipes: the inner frame holds the state
/// (about 110 bytes) and `finalize` a copy, with the compression function's frame below them.
/// `heap_wipe`'s stack test finds nothing left with 2 KiB on x86-64, debug and release (the
/// TA's AArch64 frames were not measured; the TA also scrubs its stack after each command).
const SCRUB: usize = 2048;

/// SHA-256 of what `h` has taken so far; `h` stays as it is. The copy that is finished, and
/// everything `finalize` leaves on the stack, are wiped before this returns.
#[inline(never)]
pub fn sha256_so_far(h: &Sha256) -> [u8; 32] {
    let digest = finish_copy(h);
    zeroize::zeroize_stack::<SCRUB>();
    digest
}

/// The copy and its finish, in a frame of their own: below [`sha256_so_far`]'s, where the
/// wipe after it reaches.
#[inline(never)]
fn finish_copy(h: &Sha256) -> [u8; 32] {
    Sha256::clone(h).finalize().into()
}

/// SHA-256 of `data` (secret content): the state, which holds the last partial block of
/// `data`, lives and is finished in a frame of its own, wiped before this returns.
#[inline(never)]
pub fn sha256(data: &[u8]) -> [u8; 32] {
    let digest = hash(data);
    zeroize::zeroize_stack::<SCRUB>();
    digest
}

/// The state and its finish, below [`sha256`]'s frame.
#[inline(never)]
fn hash(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}
