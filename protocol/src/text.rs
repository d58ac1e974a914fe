//! Object names, identifiers and status text written without `core::fmt`.
//!
//! The TA links no formatting machinery (its size; `qemu/size.sh` checks), so
//! everything it spells out goes through these: decimals by a loop, hex by `base16ct`
//! (constant time, which also suits key ids).

use alloc::string::String;

/// Appends `n` in decimal: digits from the last, into a buffer that holds `u64::MAX`'s 20
/// (a plain loop, no digit-pair table: smaller than `itoa` in the TA, whose numbers are
/// names and log lines).
pub fn push_decimal(out: &mut String, n: u64) {
    let mut digits = [0u8; 20];
    let mut start = digits.len();
    let mut rest = n;
    for d in digits.iter_mut().rev() {
        // `rest % 10` is below 10: it converts, and the sum is a digit.
        *d = b'0' + u8::try_from(rest % 10).unwrap_or(0);
        start -= 1;
        rest /= 10;
        if rest == 0 {
            break;
        }
    }
    for d in digits.get(start..).unwrap_or_default() {
        out.push(char::from(*d));
    }
}

/// Appends `bytes` as lower-case hex.
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    let mut buf = [0u8; 64];
    for chunk in bytes.chunks(buf.len() / 2) {
        // Cannot fail: `buf` holds two digits for every byte of a chunk.
        if let Ok(digits) = base16ct::lower::encode_str(chunk, &mut buf) {
            out.push_str(digits);
        }
    }
}

/// `bytes` as lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().saturating_mul(2));
    push_hex(&mut out, bytes);
    out
}

/// A key id (or another identifier of bytes) for people, one rule wherever the tools show
/// one: `'text'` when it is UTF-8 whose every character shows as itself (no control,
/// invisible or quoting character), else `h'hex'`, as in CBOR diagnostic notation (`kek-1`
/// shows as `'kek-1'`, a SHA-256 key id as `h'…'`).
pub fn kid(bytes: &[u8]) -> String {
    match core::str::from_utf8(bytes) {
        Ok(t) if !t.is_empty() && t.chars().all(|c| c.escape_debug().len() == 1) => {
            let mut out = String::with_capacity(t.len() + 2);
            out.push('\'');
            out.push_str(t);
            out.push('\'');
            out
        }
        _ => {
            let mut out = String::from("h'");
            push_hex(&mut out, bytes);
            out.push('\'');
            out
        }
    }
}

/// `prefix`, then each of `numbers` in decimal after a `/`: secure-storage object names.
pub fn path(prefix: &str, numbers: &[u64]) -> String {
    let mut out = String::from(prefix);
    for n in numbers {
        out.push('/');
        push_decimal(&mut out, *n);
    }
    out
}

/// 16 bytes in RFC 4122 order, as `xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`.
pub fn uuid(u: &[u8; 16]) -> String {
    let mut out = String::with_capacity(36);
    let mut rest = &u[..];
    for (i, len) in [4usize, 2, 2, 2, 6].into_iter().enumerate() {
        if i > 0 {
            out.push('-');
        }
        let (group, tail) = rest.split_at(len);
        push_hex(&mut out, group);
        rest = tail;
    }
    out
}

/// A SUIT component identifier in CBOR diagnostic notation, text segments quoted:
/// `['usr', h'00']`.
pub fn component<S: AsRef<[u8]>>(segments: &[S]) -> String {
    let mut out = String::from("[");
    for (i, s) in segments.iter().map(AsRef::as_ref).enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        match core::str::from_utf8(s) {
            Ok(t) if !t.is_empty() && t.chars().all(|c| c.is_ascii_graphic()) => {
                out.push('\'');
                out.push_str(t);
                out.push('\'');
            }
            _ => {
                out.push_str("h'");
                push_hex(&mut out, s);
                out.push('\'');
            }
        }
    }
    out.push(']');
    out
}

/// Parses a UUID (hex digits of either case, hyphens optional) into RFC 4122 byte order.
pub fn parse_uuid(s: &str) -> Option<[u8; 16]> {
    let mut digits = [0u8; 32];
    let mut n = 0usize;
    for c in s.bytes().filter(|c| *c != b'-') {
        *digits.get_mut(n)? = c;
        n += 1;
    }
    let mut out = [0u8; 16];
    let decoded = base16ct::mixed::decode(digits.get(..n)?, &mut out)
        .ok()?
        .len();
    (decoded == out.len()).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuids_round_trip_and_reject_junk() {
        let s = "8aaaf200-2450-11e4-abe2-0002a5d5c51b";
        let u = parse_uuid(s).unwrap();
        assert_eq!(uuid(&u), s);
        assert_eq!(parse_uuid("8AAAF200245011E4ABE20002A5D5C51B"), Some(u));
        for bad in [
            "zz",
            "",
            "8aaaf200-2450-11e4-abe2-0002a5d5c51",
            "+aaaf200-2450-11e4-abe2-0002a5d5c51b",
        ] {
            assert_eq!(parse_uuid(bad), None, "{bad}");
        }
        assert_eq!(parse_uuid(&[s, "00"].concat()), None);
    }

    #[test]
    fn numbers_and_hex() {
        assert_eq!(
            path("suit/in", &[0, 18_446_744_073_709_551_615]),
            "suit/in/0/18446744073709551615"
        );
        for n in [
            0,
            7,
            9,
            10,
            99,
            100,
            1_000_000_007,
            u64::MAX / 10,
            u64::MAX - 1,
            u64::MAX,
        ] {
            let mut s = String::from("x");
            push_decimal(&mut s, n);
            assert_eq!(s, alloc::format!("x{n}"));
        }
        assert_eq!(hex(&[0x00, 0xab, 0x0f]), "00ab0f");
        assert_eq!(component::<&[u8]>(&[]), "[]");
        assert_eq!(
            component(&[&b"usr"[..], b"", b"\x00", b"a b"]),
            "['usr', h'', h'00', h'612062']"
        );
        let long: alloc::vec::Vec<u8> = (0..=255u8).collect();
        let expect: String = long.iter().map(|b| alloc::format!("{b:02x}")).collect();
        assert_eq!(hex(&long), expect);
    }
}
