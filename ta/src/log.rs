//! The TA's secure log without `core::fmt` (the TA links no formatting code;
//! `qemu/size.sh` checks). Counts and names only: never a secret or request content.

use alloc::string::String;
use suit_common::text::push_decimal;

/// Writes `text` and a newline to OP-TEE's TA log (what `trace_println!` writes to).
pub fn line(text: &str) {
    for part in [text, "\n"] {
        // SAFETY: `_utee_log(const void *buf, size_t len)` reads `len` bytes from `buf`, here
        // the valid, borrowed `part`, and keeps no pointer to it.
        unsafe { optee_utee_sys::_utee_log(part.as_ptr().cast(), part.len()) }
    }
}

/// `prefix` then ` name=value` for each pair: the benchmark's counter lines.
pub fn counters(prefix: &str, pairs: &[(&str, u64)]) -> String {
    let mut out = String::from(prefix);
    for (name, value) in pairs {
        out.push(' ');
        out.push_str(name);
        out.push('=');
        push_decimal(&mut out, *value);
    }
    out
}

/// Writes `text`, ` code=0x` and `code` in hex, and a newline, allocating nothing (for a
/// `Drop`, which may run when the heap is short).
pub fn code(text: &str, code: u32) {
    let mut tail = *b" code=0x00000000\n";
    for (i, digit) in tail.iter_mut().skip(8).take(8).enumerate() {
        let nibble = usize::try_from((code >> (28 - 4 * i)) & 0xf).unwrap_or(0);
        *digit = b"0123456789abcdef".get(nibble).copied().unwrap_or(b'0');
    }
    for part in [text.as_bytes(), &tail] {
        // SAFETY: as in `line`: `part` is valid for `part.len()` bytes and not kept.
        unsafe { optee_utee_sys::_utee_log(part.as_ptr().cast(), part.len()) }
    }
}
