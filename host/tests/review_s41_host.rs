//! Review s41 of the host tools as an attacker would use them (the agent's and the author
//! tool's inputs); one test per finding, each failing without its fix.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

use std::path::Path;
use std::process::Command;

/// Runs `exe` with `args` in `dir` under a data-segment limit of `limit_kib` (heap and
/// anonymous mappings: what a value tree takes), returning its exit code (`None`: killed by
/// a signal, as an allocation failure aborts) and everything it said.
fn run_limited(exe: &str, dir: &Path, args: &[&str], limit_kib: u64) -> (Option<i32>, String) {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("ulimit -d {limit_kib} && exec \"$0\" \"$@\""))
        .arg(exe)
        .args(args)
        .current_dir(dir)
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// A file of one CBOR array holding `n` empty arrays: one byte each, tens of bytes each
/// once decoded into a value tree.
fn many_items(path: &Path, n: u32) {
    let mut bytes = vec![0x9a];
    bytes.extend_from_slice(&n.to_be_bytes());
    bytes.resize(bytes.len() + n as usize, 0x80);
    std::fs::write(path, bytes).unwrap();
}

/// Finding 1: both tools decoded a CBOR file they were given (an envelope to `install` or
/// `provision`, anything to `inspect`) into a `ciborium` value tree before anything else,
/// with no bound but the file size (64 MiB): a 60 MiB file of one-byte items held 2 GB in
/// the agent and 4 GB in `suit-author inspect`, minutes each. Now at most
/// `detect::MAX_CBOR_ITEMS` items are decoded, counted before any allocation.
#[test]
fn a_file_of_many_small_cbor_items_is_refused_within_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    // 16 Mi items: about a gigabyte as values; the tools get 256 MiB of data segment.
    many_items(&d.join("many.cbor"), 16 << 20);
    let limit = 256 * 1024;
    let (code, text) = run_limited(
        env!("CARGO_BIN_EXE_suit-author"),
        d,
        &["inspect", "many.cbor"],
        limit,
    );
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("CBOR data items"), "{text}");
    for what in ["inspect --diag", "inspect --json"] {
        let mut args: Vec<&str> = what.split(' ').collect();
        args.push("many.cbor");
        let (code, text) = run_limited(env!("CARGO_BIN_EXE_suit-author"), d, &args, limit);
        assert_eq!(code, Some(2), "{what}: {text}");
    }
    // The agent hands it to the (simulated) TA, which refuses it for its size: an orderly
    // verdict, not an allocation failure.
    let (code, text) = run_limited(
        env!("CARGO_BIN_EXE_suit-agent"),
        d,
        &["--tee", "sim", "--state", "state", "install", "many.cbor"],
        limit,
    );
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("too-large"), "{text}");
    // A key file of them is refused for its size (key files are read under 1 MiB).
    let (code, text) = run_limited(
        env!("CARGO_BIN_EXE_suit-author"),
        d,
        &["verify-report", "many.cbor", "--device-key", "many.cbor"],
        limit,
    );
    assert_eq!(code, Some(2), "{text}");
    assert!(text.contains("file too large"), "{text}");
}

/// Finding 2: a PKCS#11 URI carrying the PIN (`pin-value`, path or query attribute) was
/// refused with the whole URI in the error, the PIN with it (into a terminal's scroll-back,
/// a CI log). The refusal now names the URI with the value hidden.
#[test]
fn a_pin_in_a_pkcs11_uri_is_refused_without_repeating_it() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let run = |args: &[&str]| {
        suit_test_support::cli::run(env!("CARGO_BIN_EXE_suit-author"), d, args, None)
    };
    suit_test_support::cli::ok(run(&["keygen", "--type", "p256", "--out", "author"]));
    std::fs::write(d.join("fw.bin"), b"firmware").unwrap();
    std::fs::write(
        d.join("m.json"),
        suit_test_support::cli::app_description("b"),
    )
    .unwrap();
    suit_test_support::cli::ok(run(&["create", "m.json", "-o", "u.suit", "--unsigned"]));
    for uri in [
        "pkcs11:token=t;object=k?module-path=/nonexistent&pin-value=271828",
        "pkcs11:token=t;pin-value=271828;object=k",
        "pkcs11:token=t;object=k?pin-value=271828",
    ] {
        let r = run(&["sign", "u.suit", "-o", "x.suit", "--sign-key", uri]);
        assert_eq!(r.code, 2, "{uri}: {}", r.text());
        assert!(!r.text().contains("271828"), "{uri}: {}", r.text());
        assert!(r.text().contains("pin-value=***"), "{uri}: {}", r.text());
    }
}

/// Finding 3: `inspect --diag` built each nested level's text from copies of the levels
/// below it, each line indented two spaces per level: an item 250 levels deep was copied 250
/// times and shown after 500 spaces. A 130 KB file (250 nested arrays around 130,000 zeros,
/// under the item bound) took 54 s, 215 MB and printed 65 MB. Now one buffer, and at most
/// 32 levels of indentation.
#[test]
fn deeply_nested_cbor_is_shown_in_linear_time_and_space() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let n: u32 = 130_000;
    let mut bytes = vec![0x81; 250];
    bytes.push(0x9a);
    bytes.extend_from_slice(&n.to_be_bytes());
    bytes.resize(bytes.len() + n as usize, 0x00);
    std::fs::write(d.join("deep.cbor"), bytes).unwrap();
    let (code, text) = run_limited(
        env!("CARGO_BIN_EXE_suit-author"),
        d,
        &["inspect", "--diag", "deep.cbor"],
        96 * 1024,
    );
    assert_eq!(code, Some(0), "{}", text.get(..2000).unwrap_or(&text));
    assert!(text.len() < 16 << 20, "{} bytes shown", text.len());
    // The deepest line is indented 32 levels, not 251.
    let widest = text.lines().map(str::len).max().unwrap();
    assert_eq!(widest, 2 * 32 + 2, "{widest}: \"0,\" after 32 levels");
}

/// Finding 4: key files were read under the 64 MiB bound of payloads, and a JWK parsed whole
/// into a JSON value tree: a 60 MiB "key" of one long array held 1 GB. Key files are now
/// read under `keys::MAX_KEY_FILE_LEN` (1 MiB).
#[test]
fn an_oversized_key_file_is_refused_before_it_is_parsed() {
    let tmp = tempfile::tempdir().unwrap();
    let d = tmp.path();
    let n = 8 << 20;
    let mut jwk = String::with_capacity(2 * n + 32);
    jwk.push_str(r#"{"kty":"EC","x":["#);
    for _ in 0..n {
        jwk.push_str("0,");
    }
    jwk.push_str("0]}");
    std::fs::write(d.join("big.jwk"), jwk).unwrap();
    std::fs::write(d.join("r.cbor"), [0xd2, 0x84, 0x40, 0xa0, 0x40, 0x40]).unwrap();
    for args in [
        &["verify-report", "r.cbor", "--device-key", "big.jwk"][..],
        &["verify", "r.cbor", "--trust-anchor", "big.jwk"][..],
    ] {
        let (code, text) = run_limited(env!("CARGO_BIN_EXE_suit-author"), d, args, 128 * 1024);
        assert_eq!(code, Some(2), "{args:?}: {text}");
        assert!(text.contains("file too large"), "{args:?}: {text}");
    }
}
