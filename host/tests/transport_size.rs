//! Payload downloads bounded by the authenticated size (issue 12): after authenticating the
//! manifest the TA names, with each URI, the largest suit-parameter-image-size a fetch of it
//! may stage; the agent stops a download at min(that size, --max-payload-bytes), and at the
//! cap alone when the manifest gives no image size. Host-native: the real `suit-agent` with
//! `--tee sim` against the test server of support/http.rs on 127.0.0.1.

// Test code: a panic is a failed test, so the workspace's no-panic lints do not apply.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![allow(clippy::indexing_slicing, clippy::cast_possible_truncation)]

mod support;

use std::path::Path;
use std::process::Output;

use ciborium::value::Value;
use support::device::{
    agent, author, device_and_server, envelope, fails, installed_components, status,
    unsigned_envelope,
};
use support::http::{Behaviour, Server};

/// Answers `/fw.bin` with `Content-Length: announce` (chunked with `None`) and `send` bytes.
fn answer(server: &Server, announce: Option<u64>, send: usize) {
    server.route("/fw.bin", Behaviour::Oversize { announce, send });
}

// ---------------------------------------------------------------- device and tools

fn map_get(m: &mut [(Value, Value)], key: i64) -> &mut Value {
    &mut m
        .iter_mut()
        .find(|(k, _)| k.as_integer() == Some(key.into()))
        .unwrap()
        .1
}

fn decode(b: &[u8]) -> Value {
    ciborium::from_reader(b).unwrap()
}

fn encode(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(v, &mut out).unwrap();
    out
}

/// Rewrites the unsigned envelope `from` without any suit-parameter-image-size (14) in its
/// shared sequence, then signs it with the author's key into `to`.
fn without_image_size(d: &Path, from: &str, to: &str) {
    let Value::Tag(107, env) = decode(&std::fs::read(d.join(from)).unwrap()) else {
        panic!("not an envelope")
    };
    let Value::Map(mut env) = *env else { panic!() };
    let Value::Bytes(m) = map_get(&mut env, 3).clone() else {
        panic!()
    };
    let Value::Map(mut manifest) = decode(&m) else {
        panic!()
    };
    let Value::Bytes(c) = map_get(&mut manifest, 3).clone() else {
        panic!()
    };
    let Value::Map(mut common) = decode(&c) else {
        panic!()
    };
    let Value::Bytes(s) = map_get(&mut common, 4).clone() else {
        panic!()
    };
    let Value::Array(mut shared) = decode(&s) else {
        panic!()
    };
    let mut removed = 0;
    for cmd in &mut shared {
        if let Value::Map(params) = cmd {
            let before = params.len();
            params.retain(|(k, _)| k.as_integer() != Some(14.into()));
            removed += before - params.len();
        }
    }
    assert_eq!(removed, 1, "the shared sequence sets image-size once");
    *map_get(&mut common, 4) = Value::Bytes(encode(&Value::Array(shared)));
    *map_get(&mut manifest, 3) = Value::Bytes(encode(&Value::Map(common)));
    let manifest = encode(&Value::Map(manifest));
    let unsigned = suit_common::suit::author::seal_envelope(&manifest, &[], &[], &[]).unwrap();
    std::fs::write(d.join("unsigned.tmp"), unsigned).unwrap();
    author(
        d,
        &[
            "sign",
            "unsigned.tmp",
            "-o",
            to,
            "--sign-key",
            "author.priv.pem",
        ],
    );
}

/// `install NAME --net`, fetching from the test server at `base` (`--allow-url-prefix`).
fn install(d: &Path, base: &str, name: &str, cap: Option<&str>) -> Output {
    // No retry: the refusals under test are not transient (and must not be retried).
    let mut args = vec![
        "install",
        name,
        "--net",
        "--allow-url-prefix",
        base,
        "--retries",
        "0",
    ];
    if let Some(c) = cap {
        args.extend_from_slice(&["--max-payload-bytes", c]);
    }
    agent(d, &args)
}

/// A device and a server (and its base URL), and the envelope `m.suit` (sequence 1) for
/// `image` (encrypted or not) fetched from the server's `/fw.bin`.
fn served_envelope(image: &[u8], encrypted: bool) -> (tempfile::TempDir, Server, String) {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    std::fs::write(d.join("fw.bin"), image).unwrap();
    envelope(d, "m", 1, "fw.bin", &format!("{base}/fw.bin"), encrypted);
    (tmp, server, base)
}

/// Installing `name` (with `cap`) is stopped by the agent (exit 4) saying `expected`, and the
/// TA state is still `before`; returns what the agent said.
fn stopped(
    d: &Path,
    base: &str,
    name: &str,
    cap: Option<&str>,
    before: &serde_json::Value,
    expected: &str,
) -> String {
    let t = fails(install(d, base, name, cap), 4);
    assert!(t.contains(expected), "{t}");
    assert_eq!(status(d), *before, "the TA state changed");
    t
}

// ---------------------------------------------------------------- tests

#[test]
fn a_download_beyond_the_authenticated_size_is_stopped_there() {
    let (tmp, server, base) = served_envelope(&[7u8; 4096], false);
    let d = tmp.path();
    let before = status(d);

    // Announced one byte more than the manifest's image size; the cap (default 64 MiB, and
    // 1 MB here) would allow it. Refused before a byte reaches the TA.
    answer(&server, Some(4097), 4097);
    let t = stopped(d, &base, "m.suit", Some("1000000"), &before, "announces 4097 bytes, more than the 4096 allowed (the manifest's authenticated image size); nothing was sent to the TA");
    assert_eq!(server.requests_to("/fw.bin").len(), 1, "not retried: {t}");

    // Not announced (chunked) and longer: stopped at the authenticated size.
    answer(&server, None, 300_000);
    let expected =
        "sent more than 4096 bytes (the manifest's authenticated image size); transfer stopped";
    stopped(d, &base, "m.suit", None, &before, expected);
}

#[test]
fn the_encrypted_form_is_bounded_by_the_fetched_ciphertext_size() {
    let (tmp, server, base) = served_envelope(&[9u8; 3000], true);
    let d = tmp.path();
    // The fetched buffer component's image-size is that of the ciphertext (the detached
    // payload), not of the plaintext.
    let ct: Vec<_> = std::fs::read_dir(d.join("payloads"))
        .unwrap()
        .map(|e| e.unwrap().metadata().unwrap().len())
        .collect();
    assert_eq!(ct.len(), 1);
    let ct = ct[0];
    assert_ne!(ct, 3000);
    let before = status(d);
    answer(&server, Some(ct + 1), 0);
    let expected = format!(
        "announces {} bytes, more than the {ct} allowed (the manifest's authenticated image size)",
        ct + 1
    );
    stopped(d, &base, "m.suit", None, &before, &expected);
}

#[test]
fn without_an_image_size_the_configured_cap_bounds_the_download() {
    let (tmp, server, base) = device_and_server();
    let d = tmp.path();
    std::fs::write(d.join("fw.bin"), vec![7u8; 4096]).unwrap();
    unsigned_envelope(d, "u", 1, "fw.bin", &format!("{base}/fw.bin"));
    without_image_size(d, "u.suit", "n.suit");
    let before = status(d);

    // Above the cap: refused, naming the cap.
    answer(&server, Some(10_000), 0);
    let expected = "announces 10000 bytes, more than the 8000 allowed (the configured cap, --max-payload-bytes)";
    stopped(d, &base, "n.suit", Some("8000"), &before, expected);

    // Below the cap but not the manifest's bytes: the agent has no size to hold it to and
    // streams it in; the TA refuses it (digest), changing nothing.
    answer(&server, Some(6000), 6000);
    let t = fails(install(d, &base, "n.suit", Some("8000")), 1);
    assert!(t.contains("refused by the TA"), "{t}");
    assert!(!t.contains("allowed"), "{t}");
    assert_eq!(installed_components(d), 0);
}
